// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "VocabKit",
    products: [
        .library(name: "VocabKit", targets: ["VocabKitTokenizer", "VocabKitGGUF", "VocabKitModels", "VocabKitPrune", "VocabKitInference"]),
        .executable(name: "vocabkit", targets: ["vocabkit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // ICU behind plain C functions: Debian renames ICU's entry points with version-suffix macros
        // that Swift cannot import, so a module map alone cannot reach them.
        .target(
            name: "CICU",
            linkerSettings: [.linkedLibrary("icuuc"), .linkedLibrary("icui18n")]
        ),
        // Unicode character classes for the pre-tokenizer, generated from ICU by gen/make_tables.c.
        .target(name: "CUnicodeData", exclude: ["gen"]),
        // The bundled Qwen3 vocabulary (Vocab/qwen3.vkv) and its provenance.
        .target(
            name: "VocabKitVocab",
            path: "Vocab",
            exclude: ["README.md", "make_vocab.py", "qwen3.vkv.sha256"],
            resources: [.copy("qwen3.vkv")]
        ),
        .target(name: "VocabKitGGUF"),
        // What distinguishes architectures (hyperparameter keys, tensor names, RoPE style, optional tensors) and
        // the published shapes of model families, read by inference, synth, inspect and savings.
        .target(name: "VocabKitModels", dependencies: ["VocabKitGGUF"]),
        .target(
            name: "VocabKitTokenizer",
            dependencies: ["CICU", "CUnicodeData", "VocabKitVocab", "VocabKitGGUF"]
        ),
        // Token usage counting, kept-set selection and GGUF vocabulary rewriting.
        .target(name: "VocabKitPrune", dependencies: ["VocabKitTokenizer", "VocabKitGGUF"]),
        // A CPU forward pass for Qwen2/Qwen3 over GGUF weights, used to check pruned models.
        // AVX2/FMA/F16C kernels for it, chosen at run time (each function carries its own target attribute).
        .target(name: "CKernels"),
        .target(name: "VocabKitInference", dependencies: ["VocabKitGGUF", "VocabKitModels", "VocabKitTokenizer", "CKernels"]),
        .executableTarget(
            name: "vocabkit",
            dependencies: [
                "VocabKitTokenizer", "VocabKitGGUF", "VocabKitModels", "VocabKitPrune", "VocabKitInference",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "VocabKitTokenizerTests", dependencies: ["VocabKitTokenizer", "CICU"]),
        .testTarget(name: "VocabKitGGUFTests", dependencies: ["VocabKitGGUF"]),
        .testTarget(name: "VocabKitModelsTests", dependencies: ["VocabKitModels", "VocabKitGGUF"]),
        .testTarget(name: "VocabKitInferenceTests", dependencies: ["VocabKitInference", "VocabKitModels", "VocabKitGGUF", "VocabKitTokenizer", "VocabKitPrune"]),
        .testTarget(name: "VocabKitPruneTests", dependencies: ["VocabKitPrune", "VocabKitTokenizer", "VocabKitGGUF"]),
    ]
)
