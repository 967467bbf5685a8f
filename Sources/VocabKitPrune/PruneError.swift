import VocabKitIO
/// Everything that can go wrong while counting usage, choosing the kept tokens or rewriting a model; each
/// case names the file, line, offset, key or token it is about, so one line is enough to act on.
public enum PruneError: VocabKitError, Equatable, Sendable {
    case invalidUTF8(path: String, offset: Int)
    case emptyCorpus(reason: String)
    case unreadable(path: String, reason: String)
    case malformedUsage(path: String, line: Int, reason: String)
    case usageMismatch(path: String, line: Int, reason: String)
    case invalidSelection(String)
    case unreachableToken(id: Int, piece: String, reason: String)
    case unsupportedModel(path: String, reason: String)
    case countOverflow(path: String, reason: String)
    /// A JSON Lines line that is not a document (not an object, no string at the field).
    case invalidDocument(path: String, line: Int, column: Int, reason: String)

    public var description: String {
        switch self {
        case let .invalidUTF8(path, offset):
            return "\(path): invalid UTF-8 at byte offset \(offset)"
        case let .emptyCorpus(reason): return "empty corpus: \(reason)"
        case let .unreadable(path, reason): return "\(path): cannot read: \(reason)"
        case let .malformedUsage(path, line, reason): return "\(path):\(line): not a usage file: \(reason)"
        case let .usageMismatch(path, line, reason):
            return "\(path)\(line > 0 ? ":\(line)" : ""): counted with another vocabulary: \(reason)"
        case let .invalidSelection(reason): return "cannot select tokens: \(reason)"
        case let .unreachableToken(id, piece, reason):
            return "kept token \(id) '\(piece)' would no longer be produced: \(reason)"
        case let .unsupportedModel(path, reason): return "\(path): cannot prune: \(reason)"
        case let .countOverflow(path, reason): return "\(path): \(reason)"
        case let .invalidDocument(path, line, column, reason):
            return "\(path):\(line):\(column): \(reason)"
        }
    }
}
