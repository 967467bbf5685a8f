import Foundation
import VocabKit

// Tokenize exactly as Qwen does (the bundled Qwen3 vocabulary; Tokenizer(contentsOf:) reads a GGUF,
// tokenizer.json, vocab.json + merges.txt, .tiktoken or .vkv).
let tokenizer = try Tokenizer.qwen3()
let ids = tokenizer.encode("def greet(name):")
print("ids:", ids, "->", String(decoding: try tokenizer.decode(ids), as: UTF8.self))

// A model to prune: here a small random Qwen3 with the real 151,936-row vocabulary; use your own GGUF.
let work = NSTemporaryDirectory() + "vocabkit-quickstart-\(getpid())"
try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: work) }
let model = work + "/model.gguf", pruned = work + "/pruned.gguf"
try SyntheticModel.write(SyntheticModelSpec(architecture: .qwen3, type: .q8_0, dim: 64, layers: 2, heads: 4, kvHeads: 2, ffn: 128),
                         vocabulary: try Vocabulary.bundled(), to: model)

// Count which tokens a corpus uses, then keep those covering 99.9 % of it (plus bytes, specials and every
// part of a kept token); the kept set is verified before anything is written.
let corpus = try CorpusFiles(paths: [CommandLine.arguments.dropFirst().first ?? "Corpora/sample"]).resolve()
let usage = try UsageCounter(tokenizer: tokenizer).count(files: corpus)
let summary = try VocabularyPruner.prune(model: model, usage: usage, rules: SelectionRules(coverage: 0.999), to: pruned)
print("vocabulary:", summary.originalIdCount, "->", summary.keptIdCount, "ids;", summary.inputBytes, "->", summary.outputBytes, "bytes")

// Measure perplexity as llama-perplexity does, and check that the pruned model answers as the original.
let text = try String(contentsOfFile: corpus[0], encoding: .utf8)
let perplexity = try LanguageModel(path: pruned, maxContext: 128).perplexity(ofText: text, contextLength: 64, chunks: 2)
let parity = try ParityChecker(originalPath: model, prunedPath: pruned, contextLength: 128).check(text: text, windows: 2)
print("perplexity:", perplexity.perplexity, "parity holds:", parity.holds)
