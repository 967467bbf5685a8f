import Foundation
import XCTest
import VocabKitTestSupport
import VocabKitGGUF
import VocabKitInference
import VocabKitPrune
import VocabKitTokenizer

/// TinyModel's random transformer with the real Qwen3 vocabulary (the bundled one, padded to 151,936 rows as
/// Qwen's GGUFs are) and its tokenizer metadata, so that it tokenizes text, can be pruned with VocabKitPrune and
/// run by `eval` and `check`. The vocabulary tables are random F32 rows of width 8.
enum VocabModel {
    static let rows = 151_936
    static let context = 128

    /// Writes the model; `layers` below TinyModel's 2 drops the later blocks (a differently shaped model).
    /// The output rows of `favored` ids are scaled up so that those tokens, not any of the 151k, win the argmax
    /// (random rows would make every top-1 a token outside a small test text).
    /// `chatTemplate` adds `tokenizer.chat_template` (an instruct model).
    static func write(to path: String, seed: UInt64, layers: Int = 2, favored: Set<Int> = [], chatTemplate: String? = nil) throws {
        var model = TinyModel(seed: seed, tied: false)
        var rng = SplitMix(state: seed &+ 1000)
        func table() -> [Float] { (0..<(model.dim * rows)).map { _ in Float.random(in: -1...1, using: &rng) } }
        model.tensors = model.tensors.compactMap { t in
            if let block = t.name.split(separator: ".").dropFirst().first.flatMap({ Int($0) }), t.name.hasPrefix("blk."), block >= layers { return nil }
            if t.name == "token_embd.weight" { return (t.name, [model.dim, rows], table()) }
            if t.name == "output.weight" {
                var data = table()
                for id in favored { for k in 0..<model.dim { data[id * model.dim + k] *= 6 } }
                return (t.name, [model.dim, rows], data)
            }
            return t
        }
        let vocabulary = try Vocabulary.bundled()
        let metadata: [(key: String, value: GGUFOutputValue)] = [
            ("general.architecture", .value(.string("qwen2"))),
            ("qwen2.embedding_length", .value(.uint32(UInt32(model.dim)))),
            ("qwen2.feed_forward_length", .value(.uint32(UInt32(model.hidden)))),
            ("qwen2.block_count", .value(.uint32(UInt32(layers)))),
            ("qwen2.attention.head_count", .value(.uint32(UInt32(model.heads)))),
            ("qwen2.attention.head_count_kv", .value(.uint32(UInt32(model.kvHeads)))),
            ("qwen2.context_length", .value(.uint32(UInt32(context)))),
            ("qwen2.rope.freq_base", .value(.float32(Float(model.base)))),
            ("qwen2.attention.layer_norm_rms_epsilon", .value(.float32(Float(model.eps)))),
        ] + SyntheticModel.tokenizerMetadata(vocabulary, rows: rows)  // as real Qwen GGUFs carry it
            + (chatTemplate.map { [(key: "tokenizer.chat_template", value: GGUFOutputValue.value(.string($0)))] } ?? [])
        let tensors = model.tensors.map { t in
            GGUFOutputTensor(name: t.name, dimensions: t.dims, type: .f32) { sink in try t.data.withUnsafeBytes { try sink.write($0) } }
        }
        try GGUFWriter.write(to: path, metadata: metadata, tensors: tensors)
    }

    /// Prunes `original` to the tokens used at least twice in `text` (plus what pruning always keeps), so that
    /// some lines keep their tokenization and some lose a token.
    static func prune(_ original: String, keepingTokensOf text: String, to path: String, minCount: UInt64 = 2) throws -> TokenSelection {
        let pruner = try ModelPruner(modelPath: original)
        var counts = [UInt64](repeating: 0, count: pruner.vocabulary.idCount)
        for id in Tokenizer(vocabulary: pruner.vocabulary).encode(text, specialTokens: false) { counts[Int(id)] += 1 }
        let selector = pruner.selector()
        let selection = try selector.select(counts: counts, rules: SelectionRules(minCount: minCount))
        _ = try pruner.write(try selector.verify(selection), to: path)
        return selection
    }

    /// A copy of `path` with one float of `tensor`'s row `row` changed by `delta` (F32 tensors only).
    static func corrupt(_ path: String, to output: String, tensor name: String, row: Int, delta: Float) throws {
        try? FileManager.default.removeItem(atPath: output)
        try FileManager.default.copyItem(atPath: path, toPath: output)
        let file = try GGUFFile(path: path)
        let info = try XCTUnwrap(file.tensor(named: name))
        let offset = file.absoluteOffset(of: info) + row * info.dimensions[0] * 4
        var value: Float = 0
        file.withFileBytes { bytes in withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + 4)])) } }
        value += delta
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: withUnsafeBytes(of: value) { Data($0) })
        try handle.close()
    }
}

/// Temporary files for one test, removed when it ends.
extension XCTestCase {
    func evalScratchPath(_ name: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vk-h3-\(getpid())-\(UUID().uuidString.prefix(8))-\(name)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }
}

/// The shared runner of the built `vocabkit` binary (VocabKitTestSupport).
enum VocabKitBinary {
    static func run(_ args: [String]) throws -> CLI.Result { try CLI.run(args) }
}
