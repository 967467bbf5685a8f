import VocabKitIO
/// Everything that can go wrong while loading a vocabulary or encoding text, each with where it happened
/// (file-system problems are VocabKitIO's `FileError`).
public enum TokenizerError: VocabKitError, Equatable {
    case invalidUTF8(offset: Int, path: String?)
    case malformedVocabulary(path: String, reason: String)
    case unsupportedVocabulary(path: String, reason: String)
    case unknownTokenId(Int)

    public var description: String {
        switch self {
        case .invalidUTF8(let offset, let path):
            return "\(path.map { "\($0): " } ?? "")invalid UTF-8 at byte offset \(offset)"
        case .malformedVocabulary(let path, let reason): return "\(path): malformed vocabulary: \(reason)"
        case .unsupportedVocabulary(let path, let reason): return "\(path): unsupported vocabulary: \(reason)"
        case .unknownTokenId(let id): return "token id \(id) is not in the vocabulary"
        }
    }
}

/// Text taken from a file, quoted for a one-line message: line breaks, other control characters and
/// invisible or unassigned scalars escaped as \u{…}, and long text cut short.
func quoted(_ text: String, limit: Int = 60) -> String {
    var out = "'"
    var count = 0
    for scalar in text.unicodeScalars {
        if count == limit {
            out += "…"
            break
        }
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned:
            out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
        default:
            out.unicodeScalars.append(scalar)
        }
        count += 1
    }
    return out + "'"
}
