import Foundation
import XCTest
import VocabKitSafetensors
import VocabKitIO
import VocabKitTokenizer

/// A toy Qwen-style checkpoint written file by file: 256 byte tokens, five merges building "hello" and
/// "Ġw", two added tokens, one padding row; embedding rows whose values name their id.
struct ToyCheckpoint {
    var tied = false
    var mergesAsStrings = false
    var sharded = false
    var vocabSize = 264
    var modelType = "qwen3"
    var embeddingRows: Int?
    var headRows: Int?
    var withVocabFiles = true

    static let hidden = 4
    static func spelling(_ byte: UInt8) -> String { ByteLevel.encode([byte]) }
    /// (left, right) spellings; results get ids 256...
    static let merges = [("h", "e"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("Ġ", "w")]
    static let specials = [("<|endoftext|>", 261, true), ("<think>", 262, false)]

    static func vocab() -> [(String, Int)] {
        var entries = (0..<256).map { (spelling(UInt8($0)), $0) }
        for (index, merge) in merges.enumerated() { entries.append((merge.0 + merge.1, 256 + index)) }
        return entries
    }

    static func row(_ id: Int, head: Bool = false) -> [UInt8] {
        var bytes: [UInt8] = []
        for k in 0..<hidden {
            withUnsafeBytes(of: (Float(id) + Float(k) / 8 + (head ? 1000 : 0)).bitPattern.littleEndian) { bytes += $0 }
        }
        return bytes
    }

    func tokenizerJSON() -> String {
        let vocab = Self.vocab().map { "\(quote($0.0)): \($0.1)" }.joined(separator: ", ")
        let merges = Self.merges.map { mergesAsStrings ? quote($0.0 + " " + $0.1) : "[\(quote($0.0)), \(quote($0.1))]" }.joined(separator: ", ")
        let added = Self.specials.map {
            "{\"id\": \($0.1), \"content\": \(quote($0.0)), \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": \($0.2)}"
        }.joined(separator: ", ")
        return """
        {"version": "1.0", "truncation": null, "padding": null, "added_tokens": [\(added)],
         "normalizer": {"type": "NFC"},
         "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": \(quote(#"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#))}, "behavior": "Isolated", "invert": false}, {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}]},
         "post_processor": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
         "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
         "model": {"type": "BPE", "dropout": null, "unk_token": null, "vocab": {\(vocab)}, "merges": [\(merges)]}}
        """
    }

    func quote(_ text: String) -> String {
        var out = ""
        JSONWriter.quote(text, into: &out)
        return out
    }

    func write(to folder: String) throws {
        func put(_ name: String, _ text: String) throws { try text.write(toFile: folder + "/" + name, atomically: false, encoding: .utf8) }
        try put("config.json", """
        {"architectures": ["Qwen3ForCausalLM"], "bos_token_id": 261, "eos_token_id": 261, "hidden_size": 4, "model_type": "\(modelType)",
         "pad_token_id": null, "rms_norm_eps": 1e-06, "tie_word_embeddings": \(tied), "vocab_size": \(vocabSize)}
        """)
        try put("generation_config.json", #"{"bos_token_id": 261, "eos_token_id": [261, 262], "pad_token_id": 261, "temperature": 0.6}"#)
        try put("tokenizer.json", tokenizerJSON())
        try put("tokenizer_config.json", """
        {"added_tokens_decoder": {"261": {"content": "<|endoftext|>", "special": true}, "262": {"content": "<think>", "special": false}},
         "chat_template": "{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}", "eos_token": "<|endoftext|>"}
        """)
        if withVocabFiles {
            try put("vocab.json", "{" + Self.vocab().map { "\(quote($0.0)):\($0.1)" }.joined(separator: ",") + "}")
            try put("merges.txt", "#version: 0.2\n" + Self.merges.map { "\($0.0) \($0.1)\n" }.joined())
        }
        try put("LICENSE", "licence text\n")
        let embedRows = embeddingRows ?? vocabSize
        let embedding = SafetensorsOutputTensor(name: "model.embed_tokens.weight", dtype: .f32, shape: [embedRows, Self.hidden]) { sink in
            for id in 0..<embedRows { try sink.write(Self.row(id)) }
        }
        let norm = SafetensorsOutputTensor(name: "model.norm.weight", dtype: .f32, shape: [Self.hidden]) { try $0.write(Self.row(7)) }
        var tensors = [embedding, norm]
        if !tied || headRows != nil {
            let rows = headRows ?? vocabSize
            tensors.append(SafetensorsOutputTensor(name: "lm_head.weight", dtype: .f32, shape: [rows, Self.hidden]) { sink in
                for id in 0..<rows { try sink.write(Self.row(id, head: true)) }
            })
        }
        if sharded {
            let names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
            try SafetensorsWriter.write(to: folder + "/" + names[0], metadata: [("format", "pt")], tensors: [tensors[0]])
            try SafetensorsWriter.write(to: folder + "/" + names[1], metadata: [("format", "pt")], tensors: Array(tensors[1...]))
            let map = tensors.enumerated().map { "\"\($0.element.name)\": \"\(names[$0.offset == 0 ? 0 : 1])\"" }.joined(separator: ", ")
            try put("model.safetensors.index.json", "{\"metadata\": {\"total_size\": 1}, \"weight_map\": {\(map)}}")
        } else {
            try SafetensorsWriter.write(to: folder + "/model.safetensors", metadata: [("format", "pt")], tensors: tensors)
        }
    }
}

class HFTestCase: XCTestCase {
    var folder: String!

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "vocabkit-hf-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder + "/in", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    var input: String { folder + "/in" }
    var output: String { folder + "/out" }

    func json(_ path: String) throws -> JSONValue { try JSONParser.parse([UInt8](FileManager.default.contents(atPath: path)!)) }
    func entries(_ path: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
}
