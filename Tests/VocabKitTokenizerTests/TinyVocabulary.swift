import Foundation
import VocabKitGGUF
import VocabKitTokenizer

/// A small byte-level vocabulary written in every format VocabKit reads, for hostile-input tests: the 256
/// byte tokens (id = byte), six merged tokens and one special token.
enum TinyVocabulary {
    /// Merges in rank order (left, right, result); the results are ids 256...261.
    static let mergeParts: [([UInt8], [UInt8])] = [
        (Array("a".utf8), Array("b".utf8)), (Array("ab".utf8), Array("c".utf8)), (Array(" ".utf8), Array("t".utf8)),
        (Array("h".utf8), Array("e".utf8)), (Array(" t".utf8), Array("he".utf8)), (Array("i".utf8), Array("n".utf8)),
    ]
    static let tokens: [[UInt8]] = (0..<256).map { [UInt8($0)] } + mergeParts.map { $0.0 + $0.1 }
    static let special = "<|end|>"
    static let specialId = 262
    static let sample = "abc the<|end|>in"
    /// The ids of `sample` with the special token matched (qwen2 pre-tokenizer: "abc", " the", special, "in").
    static let sampleIds: [TokenID] = [257, 260, 262, 261]

    static func spelling(_ id: Int) -> String { ByteLevel.encode(tokens[id]) }
    static func id(of bytes: [UInt8]) -> Int { tokens.firstIndex(of: bytes)! }
    static var mergeSpellings: [String] { mergeParts.map { ByteLevel.encode($0.0) + " " + ByteLevel.encode($0.1) } }

    /// A JSON string literal.
    static func json(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    static var vocabJSON: String {
        "{" + tokens.indices.map { "\(json(spelling($0))): \($0)" }.joined(separator: ", ") + "}"
    }

    static var mergesTXT: String { "#version: 0.2\n" + mergeSpellings.joined(separator: "\n") + "\n" }

    /// tokenizer.json as Hugging Face writes it, with the given pre-tokenizer's normalizer, split and
    /// ignore_merges; merges as "a b" strings or as [a, b] pairs.
    static func tokenizerJSON(_ pre: PreTokenizer = .qwen2, mergesAsPairs: Bool = false, specialId: String = "262",
                              normalizer: String? = nil, preTokenizer: String? = nil, model: String = "") -> String {
        let merges = mergesAsPairs
            ? mergeParts.map { "[\(json(ByteLevel.encode($0.0))), \(json(ByteLevel.encode($0.1)))]" }
            : mergeSpellings.map { json($0) }
        let normalizerJSON = normalizer ?? (pre.normalizesNFC ? #"{"type": "NFC"}"# : "null")
        let preJSON = preTokenizer ?? """
            {"type": "Sequence", "pretokenizers": [
              {"type": "Split", "pattern": {"Regex": \(json(pre.pattern))}, "behavior": "Isolated", "invert": false},
              {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false}]}
            """
        return """
        {"version": "1.0", "truncation": null, "padding": null,
         "added_tokens": [{"id": \(specialId), "content": \(json(special)), "single_word": false, "lstrip": false,
                           "rstrip": false, "normalized": false, "special": true}],
         "normalizer": \(normalizerJSON),
         "pre_tokenizer": \(preJSON),
         "post_processor": null, "decoder": {"type": "ByteLevel"},
         "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                   "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                   "ignore_merges": \(pre.ignoresMerges)\(model),
                   "vocab": \(vocabJSON), "merges": [\(merges.joined(separator: ", "))]}}
        """
    }

    /// A tiktoken rank file: base64 token and rank per line.
    static func tiktoken(lineEnd: String = "\n", finalLineEnd: Bool = true) -> String {
        let lines = tokens.enumerated().map { "\(Data($0.element).base64EncodedString()) \($0.offset)" }
        return lines.joined(separator: lineEnd) + (finalLineEnd ? lineEnd : "")
    }

    /// VocabKit's .vkv layout (Vocab/README.md).
    static var vkv: [UInt8] {
        var out = Array("VKVOCAB\0".utf8)
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out += $0 } }
        let blob = tokens.flatMap { $0 }
        for v in [1, tokens.count, mergeParts.count, 1, 300, blob.count] { u32(v) }
        var offset = 0
        u32(0)
        for t in tokens { offset += t.count; u32(offset) }
        out += blob + [UInt8](repeating: 0, count: (4 - blob.count % 4) % 4)
        for (k, (l, r)) in mergeParts.enumerated() { u32(id(of: l)); u32(id(of: r)); u32(256 + k) }
        u32(0)  // no ids that fail to encode to themselves
        let text = Array(special.utf8)
        u32(specialId); u32(1); u32(text.count)
        out += text + [UInt8](repeating: 0, count: (4 - text.count % 4) % 4)
        return out
    }

    /// A vocabulary-only GGUF; `types` overrides `tokenizer.ggml.token_type`, `pre` the pre-tokenizer name.
    static func gguf(to path: String, pre: String? = "qwen2", types: [Int]? = nil, extraMerges: [String] = []) throws {
        let spellings = tokens.indices.map(spelling) + [special]
        var metadata: [(key: String, value: GGUFOutputValue)] = [
            ("general.architecture", .value(.string("qwen2"))),
            ("tokenizer.ggml.model", .value(.string("gpt2"))),
            ("tokenizer.ggml.tokens", .strings(spellings)),
            ("tokenizer.ggml.token_type", .integers(types ?? (Array(repeating: 1, count: tokens.count) + [3]), type: .int32)),
            ("tokenizer.ggml.merges", .strings(mergeSpellings + extraMerges)),
        ]
        if let pre { metadata.append(("tokenizer.ggml.pre", .value(.string(pre)))) }
        try GGUFWriter.write(to: path, metadata: metadata, tensors: [])
    }
}
