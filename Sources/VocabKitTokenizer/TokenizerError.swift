/// Everything that can go wrong while loading a vocabulary or encoding text, each with where it happened
/// (file-system problems are VocabKitIO's `FileError`).
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case invalidUTF8(offset: Int, path: String?)
    case malformedVocabulary(path: String, reason: String)
    case unsupportedVocabulary(path: String, reason: String)
    case unknownTokenId(Int)

    public var description: String {
        switch self {
        case .invalidUTF8(let offset, let path):
            return "\(path.map { "\($0): " } ?? "")invalid UTF-8 at byte offset \(offset)"
                + " (use --replace-invalid to substitute U+FFFD)"
        case .malformedVocabulary(let path, let reason): return "\(path): malformed vocabulary: \(reason)"
        case .unsupportedVocabulary(let path, let reason): return "\(path): unsupported vocabulary: \(reason)"
        case .unknownTokenId(let id): return "token id \(id) is not in the vocabulary"
        }
    }
}
