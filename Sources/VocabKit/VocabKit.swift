// The umbrella module: `import VocabKit` gives a program the whole library — tokenizing, GGUF files, counting
// and pruning, inference, model-aware counting — without naming its parts.
@_exported import VocabKitGGUF
@_exported import VocabKitHuggingFace
@_exported import VocabKitIO
@_exported import VocabKitInference
@_exported import VocabKitModels
@_exported import VocabKitPrediction
@_exported import VocabKitPrune
@_exported import VocabKitSafetensors
@_exported import VocabKitSurgery
@_exported import VocabKitTokenizer
