import VocabKitGGUF

extension Vocabulary {
    /// llama.cpp's token types (`tokenizer.ggml.token_type`).
    enum GGUFTokenType: Int {
        case undefined = 0, normal, unknown, control, userDefined, unused, byte

        var name: String {
            switch self {
            case .undefined: return "undefined"
            case .normal: return "normal"
            case .unknown: return "unknown"
            case .control: return "control"
            case .userDefined: return "user-defined"
            case .unused: return "unused"
            case .byte: return "byte"
            }
        }

        /// Spelled as byte-level text and merged by BPE.
        var isBPE: Bool { self == .normal || self == .byte }
        /// Matched whole in raw text, as llama.cpp does.
        var isSpecial: Bool { self == .control || self == .userDefined }
    }

    /// The vocabulary stored in a GGUF model: `tokenizer.ggml.tokens`, `.token_type` and `.merges`, with the
    /// pre-tokenizer `tokenizer.ggml.pre` names. Control and user-defined tokens are matched whole, as
    /// llama.cpp does.
    public static func load(gguf path: String, preTokenizer: PreTokenizer? = nil) throws -> Vocabulary {
        let file: GGUFFile
        do {
            file = try GGUFFile(path: path)
        } catch {
            throw TokenizerError.malformedVocabulary(path: path, reason: "\(error)")
        }
        return try load(gguf: file, source: path, preTokenizer: preTokenizer)
    }

    public static func load(gguf file: GGUFFile, source: String, preTokenizer requested: PreTokenizer? = nil) throws -> Vocabulary {
        guard let model = file.string("tokenizer.ggml.model") else {
            throw TokenizerError.unsupportedVocabulary(path: source, reason: "no tokenizer.ggml.model key (no vocabulary in this GGUF)")
        }
        guard model == "gpt2" else {
            throw TokenizerError.unsupportedVocabulary(path: source, reason: "tokenizer.ggml.model is \(quoted(model)), expected 'gpt2' (byte-level BPE)")
        }
        guard let pre = file.string("tokenizer.ggml.pre") else {
            throw TokenizerError.unsupportedVocabulary(
                path: source, reason: "no tokenizer.ggml.pre key: the pre-tokenizer is unknown (VocabKit knows \(PreTokenizer.knownNames))")
        }
        guard let found = PreTokenizer.named(pre) else {
            throw TokenizerError.unsupportedVocabulary(
                path: source, reason: "tokenizer.ggml.pre is \(quoted(pre)), a pre-tokenizer VocabKit does not know (it knows \(PreTokenizer.knownNames))")
        }
        let preTokenizer = try agreeing(found, requested: requested, path: source, how: "tokenizer.ggml.pre \(quoted(pre))")
        guard let spellings = file.stringArray("tokenizer.ggml.tokens") else {
            throw TokenizerError.malformedVocabulary(path: source, reason: "tokenizer.ggml.tokens is missing or not a string array")
        }
        guard spellings.count <= MergeTable.maximumId + 1 else {
            throw TokenizerError.unsupportedVocabulary(path: source, reason: "\(spellings.count) tokens; at most \(MergeTable.maximumId + 1) are supported")
        }
        let rawTypes = file.integerArray("tokenizer.ggml.token_type") ?? Array(repeating: 1, count: spellings.count)
        guard rawTypes.count == spellings.count else {
            throw TokenizerError.malformedVocabulary(path: source, reason: "tokenizer.ggml.token_type has \(rawTypes.count) entries for \(spellings.count) tokens")
        }
        var types = [GGUFTokenType]()
        types.reserveCapacity(rawTypes.count)
        for (id, raw) in rawTypes.enumerated() {
            guard let type = GGUFTokenType(rawValue: raw) else {
                throw TokenizerError.malformedVocabulary(
                    path: source, reason: "tokenizer.ggml.token_type[\(id)] is \(raw), not a llama.cpp token type (0-6)")
            }
            types.append(type)
        }
        guard types.contains(where: \.isBPE) else {
            throw TokenizerError.malformedVocabulary(
                path: source, reason: "tokenizer.ggml.token_type marks no token normal (1) or byte (6): the vocabulary has no BPE tokens")
        }
        var tokens = [[UInt8]?](repeating: nil, count: spellings.count)
        var specials = [SpecialToken]()
        for (id, spelling) in spellings.enumerated() {
            if types[id].isSpecial {
                guard !spelling.isEmpty else {
                    throw TokenizerError.malformedVocabulary(path: source, reason: "token \(id) is \(types[id].name) with empty text")
                }
                specials.append(SpecialToken(id: id, text: spelling, isControl: types[id] == .control))
            } else if types[id].isBPE {
                guard let bytes = ByteLevel.decode(spelling), !bytes.isEmpty else {
                    throw TokenizerError.malformedVocabulary(path: source, reason: "token \(id) \(quoted(spelling)) is not byte-level text")
                }
                tokens[id] = bytes
            }
            // Unknown, unused and undefined rows have no text.
        }
        /// Why a spelling in a merge is not a BPE token, for the message.
        func whyNot(_ spelling: String) -> String {
            guard let id = spellings.firstIndex(of: spelling) else { return "\(quoted(spelling)) is not in tokenizer.ggml.tokens" }
            return "\(quoted(spelling)) is token \(id), of type \(types[id].name), not normal or byte"
        }
        let mergeSpellings = file.stringArray("tokenizer.ggml.merges") ?? []
        let merges = try resolveMerges(mergeSpellings.count, index: TokenIndex(tokens)) { rank in
            let m = mergeSpellings[rank]
            guard let (a, b) = splitMerge(m) else {
                throw TokenizerError.malformedVocabulary(path: source, reason: "tokenizer.ggml.merges[\(rank)] \(quoted(m)) is not two spellings separated by one space")
            }
            return (a, b)
        } missing: { rank, spelling in
            TokenizerError.malformedVocabulary(path: source, reason: "tokenizer.ggml.merges[\(rank)] \(quoted(mergeSpellings[rank])): \(whyNot(spelling))")
        }
        return try Vocabulary(tokens: tokens, merges: merges, specialTokens: specials, source: source, preTokenizer: preTokenizer)
    }
}
