import Foundation
import VocabKitGGUF
import VocabKitTokenizer
import XCTest

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

extension XCTestCase {
    /// A fresh empty folder for one test, removed when the test ends.
    func temporaryFolder(_ name: String = #function) throws -> String {
        let folder = NSTemporaryDirectory() + "vocabkit-prune-\(getpid())-\(name.filter(\.isLetter))-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: folder) }
        return folder
    }
}

/// The bundled Qwen3 vocabulary, loaded once.
let bundledVocabulary: Vocabulary = try! Vocabulary.bundled()

/// Small models built around the bundled vocabulary: the real 151k tokens and merges, padded to 151,936 rows
/// like Qwen's GGUFs, with tiny embedding tensors whose rows say which id they belong to.
enum TinyModel {
    static let rows = 151_936
    static let embeddingWidth = 32

    /// Row bytes that identify the row: a Q8_0 block (f16 scale + 32 int8) per row of token_embd.
    static func embeddingRow(_ id: Int) -> [UInt8] {
        var row = [UInt8](repeating: 0, count: 34)
        row[0] = UInt8(id & 0xFF); row[1] = UInt8((id >> 8) & 0xFF)
        for k in 2..<34 { row[k] = UInt8((id >> 16) & 0xFF) &+ UInt8(truncatingIfNeeded: k &* 7 &+ id) }
        return row
    }

    /// output.weight rows: 4 float32 values derived from the id.
    static func outputRow(_ id: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        for k in 0..<4 { withUnsafeBytes(of: Float(id * 4 + k).bitPattern.littleEndian) { bytes += $0 } }
        return bytes
    }

    static let normBytes: [UInt8] = (0..<(32 * 4)).map { UInt8($0 % 251) }

    /// Writes the model; `untiedOutput` adds output.weight (F32, 4 wide), `chatTemplate` tokenizer.chat_template.
    static func write(to path: String, untiedOutput: Bool = true, chatTemplate: String? = nil) throws {
        let vocabulary = bundledVocabulary
        var spellings: [String] = [], types: [Int] = []
        for id in 0..<rows {
            if id < vocabulary.idCount, vocabulary.isToken(id) {
                spellings.append(ByteLevel.encode(vocabulary.bytes(of: id))); types.append(1)
            } else if id < vocabulary.idCount, let special = vocabulary.specialTokens.first(where: { $0.id == id }) {
                spellings.append(special.text); types.append(special.isControl ? 3 : 4)
            } else {
                spellings.append("[PAD\(id)]"); types.append(5)
            }
        }
        let merges = vocabulary.merges.map {
            ByteLevel.encode(vocabulary.bytes(of: Int($0.left))) + " " + ByteLevel.encode(vocabulary.bytes(of: Int($0.right)))
        }
        let imEnd = vocabulary.specialTokens.first { $0.text == "<|im_end|>" }!.id
        let endOfText = vocabulary.specialTokens.first { $0.text == "<|endoftext|>" }!.id
        var metadata: [(key: String, value: GGUFOutputValue)] = [
            ("general.architecture", .value(.string("qwen2"))),
            ("general.name", .value(.string("tiny test model"))),
            ("qwen2.embedding_length", .value(.uint32(UInt32(embeddingWidth)))),
            ("tokenizer.ggml.model", .value(.string("gpt2"))),
            ("tokenizer.ggml.pre", .value(.string("qwen2"))),
            ("tokenizer.ggml.tokens", .strings(spellings)),
            ("tokenizer.ggml.token_type", .integers(types, type: .int32)),
            ("tokenizer.ggml.merges", .strings(merges)),
            ("tokenizer.ggml.eos_token_id", .value(.uint32(UInt32(imEnd)))),
            ("tokenizer.ggml.padding_token_id", .value(.uint32(UInt32(endOfText)))),
            ("tokenizer.ggml.bos_token_id", .value(.uint32(UInt32(endOfText)))),
            ("tokenizer.ggml.add_bos_token", .value(.bool(false))),
        ]
        if let chatTemplate { metadata.append(("tokenizer.chat_template", .value(.string(chatTemplate)))) }
        var tensors = [
            GGUFOutputTensor(name: "token_embd.weight", dimensions: [embeddingWidth, rows], type: .q8_0) { sink in
                var buffer: [UInt8] = []
                buffer.reserveCapacity(rows * 34)
                for id in 0..<rows { buffer += embeddingRow(id) }
                try sink.write(buffer)
            },
            GGUFOutputTensor(name: "blk.0.attn_norm.weight", dimensions: [32], type: .f32) { try $0.write(normBytes) },
        ]
        if untiedOutput {
            tensors.append(GGUFOutputTensor(name: "output.weight", dimensions: [4, rows], type: .f32) { sink in
                var buffer: [UInt8] = []
                buffer.reserveCapacity(rows * 16)
                for id in 0..<rows { buffer += outputRow(id) }
                try sink.write(buffer)
            })
        }
        try GGUFWriter.write(to: path, metadata: metadata, tensors: tensors)
    }

    /// One shared model file for the tests that only read it.
    static let sharedPath: String = {
        let path = NSTemporaryDirectory() + "vocabkit-prune-tiny-\(getpid()).gguf"
        try! write(to: path)
        return path
    }()
}

/// The two sample source files in Corpora/sample.
let sampleFiles = ["bisect.py", "colorsys.py"].map { repositoryRoot.appendingPathComponent("Corpora/sample/\($0)").path }

func readText(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }
