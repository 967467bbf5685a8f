import VocabKitGGUF

extension Vocabulary {
    /// Pre-tokenizer names (GGUF `tokenizer.ggml.pre`) whose split pattern is Qwen's.
    static let qwenPreTokenizers: Set<String> = ["qwen2", "qwen3", "qwen35"]

    /// The vocabulary stored in a GGUF model: `tokenizer.ggml.tokens`, `.token_type` and `.merges`. Control and
    /// user-defined tokens are matched whole, as llama.cpp does.
    public static func load(gguf path: String) throws -> Vocabulary {
        let file: GGUFFile
        do {
            file = try GGUFFile(path: path)
        } catch {
            throw TokenizerError.malformedVocabulary(path: path, reason: "\(error)")
        }
        return try load(gguf: file, source: path)
    }

    public static func load(gguf file: GGUFFile, source: String) throws -> Vocabulary {
        guard let model = file.string("tokenizer.ggml.model") else {
            throw TokenizerError.unsupportedVocabulary(path: source, reason: "no tokenizer.ggml.model key (no vocabulary in this GGUF)")
        }
        guard model == "gpt2" else {
            throw TokenizerError.unsupportedVocabulary(path: source, reason: "tokenizer.ggml.model is '\(model)', expected 'gpt2' (byte-level BPE)")
        }
        let pre = file.string("tokenizer.ggml.pre") ?? "default"
        guard qwenPreTokenizers.contains(pre) else {
            throw TokenizerError.unsupportedVocabulary(path: source, reason: "tokenizer.ggml.pre is '\(pre)'; only Qwen's pre-tokenizer is supported")
        }
        guard let spellings = file.stringArray("tokenizer.ggml.tokens") else {
            throw TokenizerError.malformedVocabulary(path: source, reason: "tokenizer.ggml.tokens is missing or not a string array")
        }
        let types = file.integerArray("tokenizer.ggml.token_type") ?? Array(repeating: 1, count: spellings.count)
        guard types.count == spellings.count else {
            throw TokenizerError.malformedVocabulary(path: source, reason: "tokenizer.ggml.token_type has \(types.count) entries for \(spellings.count) tokens")
        }
        var tokens = [[UInt8]?](repeating: nil, count: spellings.count)
        var specials = [SpecialToken]()
        var idOf = [String: Int](minimumCapacity: spellings.count)
        for (id, spelling) in spellings.enumerated() {
            switch types[id] {
            case 3, 4:
                specials.append(SpecialToken(id: id, text: spelling, isControl: types[id] == 3))
            case 1, 6:
                guard let bytes = ByteLevel.decode(spelling) else {
                    throw TokenizerError.malformedVocabulary(path: source, reason: "token \(id) '\(spelling)' is not byte-level text")
                }
                tokens[id] = bytes
                if idOf[spelling] == nil { idOf[spelling] = id }
            default:
                break  // unknown or unused rows have no text
            }
        }
        let mergeSpellings = file.stringArray("tokenizer.ggml.merges") ?? []
        var merges = [Merge]()
        merges.reserveCapacity(mergeSpellings.count)
        for (rank, m) in mergeSpellings.enumerated() {
            guard let space = m.firstIndex(of: " ") else {
                throw TokenizerError.malformedVocabulary(path: source, reason: "merge \(rank) '\(m)' has no space")
            }
            let a = String(m[..<space]), b = String(m[m.index(after: space)...])
            guard let l = idOf[a], let r = idOf[b], let res = idOf[a + b] else {
                throw TokenizerError.malformedVocabulary(path: source, reason: "merge \(rank) '\(m)' names a token that is not in the vocabulary")
            }
            merges.append(Merge(left: UInt32(l), right: UInt32(r), result: UInt32(res)))
        }
        return try Vocabulary(tokens: tokens, merges: merges, specialTokens: specials, source: source)
    }
}
