import Foundation
import VocabKitGGUF
import VocabKitIO
import VocabKitPrune
import VocabKitSafetensors
import VocabKitTokenizer

/// The pre-tokenizer a GGUF's `tokenizer.ggml.pre` names, in tokenizer.json form. Only Qwen's is known (the
/// same split the tokenizer module implements for these names).
public struct HFPreTokenizer: Sendable {
    public let ggmlNames: Set<String>
    public let splitPattern: String

    public static let qwen2 = HFPreTokenizer(
        ggmlNames: ["qwen2", "qwen3", "qwen35"],
        splitPattern: #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#)

    public static let known: [HFPreTokenizer] = [.qwen2]

    static func byteLevel() -> JSONValue {
        .object([JSONMember("type", .string("ByteLevel")), JSONMember("add_prefix_space", .bool(false)),
                 JSONMember("trim_offsets", .bool(false)), JSONMember("use_regex", .bool(false))])
    }

    /// `pre_tokenizer` as Qwen's tokenizer.json has it: the split, isolated, then ByteLevel without its regex.
    var json: JSONValue {
        .object([
            JSONMember("type", .string("Sequence")),
            JSONMember("pretokenizers", .array([
                .object([JSONMember("type", .string("Split")), JSONMember("pattern", .object([JSONMember("Regex", .string(splitPattern))])),
                         JSONMember("behavior", .string("Isolated")), JSONMember("invert", .bool(false))]),
                Self.byteLevel(),
            ])),
        ])
    }
}

/// A GGUF's tokenizer written as Hugging Face files (tokenizer.json, tokenizer_config.json with the GGUF's
/// chat template, vocab.json, merges.txt), optionally for the pruned vocabulary a selection keeps: the same
/// tokens, types and merges the pruned GGUF gets, in the same order, so both tokenize alike.
public struct HFTokenizerExport {
    public static let fileNames = [HFCheckpoint.tokenizerName, HFCheckpoint.tokenizerConfigName, HFCheckpoint.vocabName, HFCheckpoint.mergesName]

    /// File name → contents.
    public let files: [(name: String, text: String)]
    public let tokenCount: Int
    public let mergeCount: Int

    /// llama.cpp token types.
    enum TokenType: Int {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    public init(gguf file: GGUFFile, source: String, keeping selection: TokenSelection? = nil) throws {
        func bad(_ reason: String) -> HFError { .unsupported(path: source, reason: "cannot write Hugging Face tokenizer files: \(reason)") }
        guard file.string("tokenizer.ggml.model") == "gpt2" else { throw bad("tokenizer.ggml.model is not gpt2 (byte-level BPE)") }
        let preName = file.string("tokenizer.ggml.pre") ?? "default"
        guard let pre = HFPreTokenizer.known.first(where: { $0.ggmlNames.contains(preName) }) else {
            throw bad("tokenizer.ggml.pre '\(preName)' has no known Hugging Face form")
        }
        guard let spellings = file.stringArray("tokenizer.ggml.tokens") else { throw bad("no tokenizer.ggml.tokens") }
        let types = file.integerArray("tokenizer.ggml.token_type") ?? Array(repeating: TokenType.normal.rawValue, count: spellings.count)
        guard types.count == spellings.count else { throw bad("tokenizer.ggml.token_type does not have one entry per token") }
        let merges = file.stringArray("tokenizer.ggml.merges") ?? []
        let kept = selection?.keptIds ?? Array(0..<spellings.count)
        guard (selection?.originalIdCount ?? spellings.count) == spellings.count else { throw bad("the selection was made for another vocabulary") }
        var newIdOf = [Int](repeating: -1, count: spellings.count)
        for (new, old) in kept.enumerated() { newIdOf[old] = new }

        // The id of each BPE spelling (first occurrence), over the whole vocabulary: merges name dropped tokens too.
        var idOf: [String: Int] = [:]
        for (id, spelling) in spellings.enumerated() where types[id] == TokenType.normal.rawValue || types[id] == TokenType.byte.rawValue {
            if idOf[spelling] == nil { idOf[spelling] = id }
        }
        var vocab: [JSONMember] = []
        var added: [JSONValue] = []
        var addedDecoder: [JSONMember] = []
        for (new, old) in kept.enumerated() {
            let spelling = spellings[old]
            switch TokenType(rawValue: types[old]) {
            case .normal?, .byte?:
                if idOf[spelling] == old { vocab.append(JSONMember(spelling, .integer(new))) }
            case .control?, .userDefined?:
                let special = types[old] == TokenType.control.rawValue
                let fields: [JSONMember] = [
                    JSONMember("content", .string(spelling)), JSONMember("single_word", .bool(false)), JSONMember("lstrip", .bool(false)),
                    JSONMember("rstrip", .bool(false)), JSONMember("normalized", .bool(false)), JSONMember("special", .bool(special)),
                ]
                added.append(.object([JSONMember("id", .integer(new))] + fields))
                addedDecoder.append(JSONMember(String(new), .object(fields)))
            default:
                break  // unused rows have no text
            }
        }
        // Merges whose three tokens are all kept, as the GGUF pruner keeps them.
        var keptMerges: [JSONValue] = []
        var mergesText = "#version: 0.2\n"
        for (index, merge) in merges.enumerated() {
            guard let space = merge.firstIndex(of: " ") else { throw bad("merge \(index) '\(merge)' has no space") }
            let a = String(merge[..<space]), b = String(merge[merge.index(after: space)...])
            guard let left = idOf[a], let right = idOf[b], let result = idOf[a + b] else {
                throw bad("merge \(index) '\(merge)' names a token that is not in the vocabulary")
            }
            guard newIdOf[left] >= 0, newIdOf[right] >= 0, newIdOf[result] >= 0 else { continue }
            keptMerges.append(.array([.string(a), .string(b)]))
            mergesText += merge + "\n"
        }

        let tokenizer: JSONValue = .object([
            JSONMember("version", .string("1.0")),
            JSONMember("truncation", .null),
            JSONMember("padding", .null),
            JSONMember("added_tokens", .array(added)),
            JSONMember("normalizer", .object([JSONMember("type", .string("NFC"))])),
            JSONMember("pre_tokenizer", pre.json),
            JSONMember("post_processor", HFPreTokenizer.byteLevel()),
            JSONMember("decoder", HFPreTokenizer.byteLevel()),
            JSONMember("model", .object([
                JSONMember("type", .string("BPE")), JSONMember("dropout", .null), JSONMember("unk_token", .null),
                JSONMember("continuing_subword_prefix", .string("")), JSONMember("end_of_word_suffix", .string("")),
                JSONMember("fuse_unk", .bool(false)), JSONMember("byte_fallback", .bool(false)), JSONMember("ignore_merges", .bool(false)),
                JSONMember("vocab", .object(vocab)), JSONMember("merges", .array(keptMerges)),
            ])),
        ])

        // tokenizer_config.json in the key order transformers writes (sorted).
        func tokenText(_ key: String) -> JSONValue {
            guard let old = file.integer("tokenizer.ggml.\(key)_token_id"), old >= 0, old < spellings.count, newIdOf[old] >= 0 else { return .null }
            return .string(spellings[old])
        }
        var addBOS = false
        if case let .bool(flag)? = file.value("tokenizer.ggml.add_bos_token") { addBOS = flag }
        let architecture = file.string("general.architecture") ?? ""
        let context = file.integer("\(architecture).context_length") ?? 32768
        var config: [JSONMember] = [
            JSONMember("add_bos_token", .bool(addBOS)),
            JSONMember("add_prefix_space", .bool(false)),
            JSONMember("added_tokens_decoder", .object(addedDecoder)),
            JSONMember("bos_token", addBOS ? tokenText("bos") : .null),
        ]
        if let template = file.string("tokenizer.chat_template") { config.append(JSONMember("chat_template", .string(template))) }
        config += [
            JSONMember("clean_up_tokenization_spaces", .bool(false)),
            JSONMember("eos_token", tokenText("eos")),
            JSONMember("errors", .string("replace")),
            JSONMember("model_max_length", .integer(context)),
            JSONMember("pad_token", tokenText("padding")),
            JSONMember("split_special_tokens", .bool(false)),
            JSONMember("tokenizer_class", .string("Qwen2Tokenizer")),
            JSONMember("unk_token", .null),
        ]
        files = [
            (HFCheckpoint.tokenizerName, HFJSONFile.text(tokenizer)),
            (HFCheckpoint.tokenizerConfigName, HFJSONFile.text(.object(config))),
            (HFCheckpoint.vocabName, JSONWriter(pretty: false).text(.object(vocab))),
            (HFCheckpoint.mergesName, mergesText),
        ]
        tokenCount = kept.count
        mergeCount = keptMerges.count
    }

    /// Starts writing the files into `directory` through `set`; the caller commits.
    public func stage(into directory: String, set: OutputSet) throws {
        for (name, text) in files {
            let output = try set.create(directory + "/" + name)
            try output.write(text)
        }
    }

    /// The paths the files will have in `directory`.
    public static func paths(in directory: String) -> [String] { fileNames.map { directory + "/" + $0 } }
}
