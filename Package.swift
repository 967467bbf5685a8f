// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "VocabKit",
    products: [
        .library(name: "VocabKit", targets: ["VocabKitIO", "VocabKitTokenizer", "VocabKitGGUF", "VocabKitPrune", "VocabKitInference"]),
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
        // Temporary-output cleanup on SIGINT/SIGTERM, in C because a signal handler may only touch
        // async-signal-safe state.
        .target(name: "CFileSupport"),
        // The one way every module reads and writes files: regular files only, exclusive temporary outputs
        // renamed when complete, no output that is an input, line reading that takes CRLF.
        .target(name: "VocabKitIO", dependencies: ["CFileSupport"]),
        .target(name: "VocabKitGGUF", dependencies: ["VocabKitIO"]),
        .target(
            name: "VocabKitTokenizer",
            dependencies: ["CICU", "CUnicodeData", "VocabKitVocab", "VocabKitGGUF", "VocabKitIO"]
        ),
        // Token usage counting, kept-set selection and GGUF vocabulary rewriting.
        .target(name: "VocabKitPrune", dependencies: ["VocabKitTokenizer", "VocabKitGGUF", "VocabKitIO"]),
        // A CPU forward pass for Qwen2/Qwen3 over GGUF weights, used to check pruned models.
        // AVX2/FMA/F16C kernels for it, chosen at run time (each function carries its own target attribute).
        .target(name: "CKernels"),
        .target(name: "VocabKitInference", dependencies: ["VocabKitGGUF", "VocabKitTokenizer", "CKernels"]),
        .executableTarget(
            name: "vocabkit",
            dependencies: [
                "VocabKitTokenizer", "VocabKitGGUF", "VocabKitPrune", "VocabKitInference", "VocabKitIO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "VocabKitTokenizerTests", dependencies: ["VocabKitTokenizer", "CICU", "VocabKitIO", "VocabKitGGUF"]),
        .testTarget(name: "VocabKitGGUFTests", dependencies: ["VocabKitGGUF", "VocabKitIO"]),
        .testTarget(name: "VocabKitIOTests", dependencies: ["VocabKitIO"]),
        .testTarget(name: "VocabKitInferenceTests", dependencies: ["VocabKitInference", "VocabKitGGUF", "VocabKitTokenizer", "VocabKitPrune"]),
        .testTarget(name: "VocabKitPruneTests", dependencies: ["VocabKitPrune", "VocabKitTokenizer", "VocabKitGGUF"]),
    ]
)
