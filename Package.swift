// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "VocabKit",
    products: [
        .library(name: "VocabKit", targets: ["VocabKit"]),
        .executable(name: "vocabkit", targets: ["vocabkit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
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
        // What distinguishes architectures (hyperparameter keys, tensor names, RoPE style, optional tensors) and
        // the published shapes of model families, read by inference, synth, inspect and savings.
        .target(name: "VocabKitModels", dependencies: ["VocabKitGGUF", "VocabKitIO"]),
        // safetensors files and sharded checkpoints: a validating reader and a streaming writer.
        .target(name: "VocabKitSafetensors", dependencies: ["VocabKitIO"]),
        .target(
            name: "VocabKitTokenizer",
            dependencies: ["CICU", "CUnicodeData", "VocabKitVocab", "VocabKitGGUF", "VocabKitIO",
                           .product(name: "HeapModule", package: "swift-collections")]
        ),
        // Token usage counting, kept-set selection and GGUF vocabulary rewriting.
        .target(name: "VocabKitPrune", dependencies: ["VocabKitTokenizer", "VocabKitGGUF", "VocabKitModels", "VocabKitIO",
                                                .product(name: "HeapModule", package: "swift-collections")]),
        // A CPU forward pass for Qwen2/Qwen3 over GGUF weights, used to check pruned models.
        // AVX2/FMA/F16C kernels for it, chosen at run time (each function carries its own target attribute).
        // Hugging Face checkpoints: pruning a safetensors checkpoint's vocabulary with its config and tokenizer
        // files, and writing a pruned GGUF's tokenizer in Hugging Face form.
        .target(
            name: "VocabKitHuggingFace",
            dependencies: ["VocabKitSafetensors", "VocabKitPrune", "VocabKitTokenizer", "VocabKitGGUF", "VocabKitIO"]
        ),
        .target(name: "CKernels"),
        .target(name: "VocabKitInference", dependencies: ["VocabKitGGUF", "VocabKitModels", "VocabKitTokenizer", "VocabKitIO", "CKernels"]),
        // Model-aware usage: what a model predicts over a corpus and what an instruct model answers to chat
        // prompts, counted as a usage table's `predicted` column.
        .target(name: "VocabKitPrediction", dependencies: ["VocabKitInference", "VocabKitPrune", "VocabKitModels", "VocabKitTokenizer", "VocabKitIO"]),
        // Block surgery on GGUF files: delete, swap, duplicate, reorder transformer blocks.
        .target(name: "VocabKitSurgery", dependencies: ["VocabKitGGUF", "VocabKitIO"]),
        // `import VocabKit`: every module above, re-exported.
        .target(
            name: "VocabKit",
            dependencies: ["VocabKitIO", "VocabKitGGUF", "VocabKitModels", "VocabKitTokenizer", "VocabKitPrune", "VocabKitInference", "VocabKitSurgery",
                           "VocabKitSafetensors", "VocabKitHuggingFace", "VocabKitPrediction"]
        ),
        .executableTarget(
            name: "vocabkit",
            dependencies: [
                "VocabKitTokenizer", "VocabKitGGUF", "VocabKitModels", "VocabKitPrune", "VocabKitInference", "VocabKitIO", "VocabKitSurgery",
                "VocabKitSafetensors", "VocabKitHuggingFace", "VocabKitPrediction",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The README's library example, built and run by a test so the README cannot drift from the API.
        .executableTarget(name: "vocabkit-quickstart", dependencies: ["VocabKit"], path: "Examples/QuickStart"),
        // What every test target shares: test data paths (skip, or fail when VOCABKIT_REQUIRE_TEST_DATA=1),
        // the CLI runner, temporary folders, a seeded generator.
        .target(name: "VocabKitTestSupport", dependencies: ["VocabKitIO"], path: "Tests/VocabKitTestSupport"),
        .testTarget(name: "VocabKitTokenizerTests", dependencies: ["VocabKitTestSupport", "VocabKitTokenizer", "CICU", "VocabKitIO", "VocabKitGGUF"]),
        .testTarget(name: "VocabKitGGUFTests", dependencies: ["VocabKitTestSupport", "VocabKitGGUF", "VocabKitIO"]),
        .testTarget(name: "VocabKitSurgeryTests", dependencies: ["VocabKitTestSupport", "VocabKitSurgery", "VocabKitGGUF", "VocabKitIO", "VocabKitInference", "VocabKitTokenizer"]),
        .testTarget(name: "VocabKitIOTests", dependencies: ["VocabKitTestSupport", "VocabKitIO"]),
        .testTarget(name: "VocabKitModelsTests", dependencies: ["VocabKitTestSupport", "VocabKitModels", "VocabKitGGUF"]),
        .testTarget(name: "VocabKitInferenceTests", dependencies: ["VocabKitTestSupport", "VocabKitInference", "VocabKitModels", "VocabKitGGUF", "VocabKitTokenizer", "VocabKitPrune", "VocabKitIO",
                                                                  "VocabKitPrediction"]),
        .testTarget(name: "VocabKitSafetensorsTests", dependencies: ["VocabKitTestSupport", "VocabKitSafetensors", "VocabKitIO"]),
        .testTarget(
            name: "VocabKitHuggingFaceTests",
            dependencies: ["VocabKitTestSupport", "VocabKitHuggingFace", "VocabKitSafetensors", "VocabKitPrune", "VocabKitTokenizer", "VocabKitGGUF", "VocabKitIO"]
        ),
        .testTarget(name: "VocabKitPruneTests", dependencies: ["VocabKitTestSupport", "VocabKitPrune", "VocabKitTokenizer", "VocabKitGGUF", "VocabKitIO"]),
    ]
)
