import VocabKitIO
/// What is wrong with a Hugging Face checkpoint directory or a request on it: the file and key or tensor
/// concerned, in one line.
public enum HFError: VocabKitError, Equatable, Sendable {
    /// A JSON file that is not what a checkpoint needs (missing key, wrong type, unreadable JSON).
    case invalidFile(path: String, reason: String)
    /// The checkpoint's parts disagree (embedding rows, config, tokenizer, tied or not).
    case inconsistent(directory: String, reason: String)
    /// Something this checkpoint has that VocabKit cannot prune (another architecture, pickle weights...).
    case unsupported(path: String, reason: String)
    /// The output directory cannot be used.
    case badOutput(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidFile(path, reason): return "\(path): \(reason)"
        case let .inconsistent(directory, reason): return "\(directory): inconsistent checkpoint: \(reason)"
        case let .unsupported(path, reason): return "\(path): cannot prune: \(reason)"
        case let .badOutput(path, reason): return "\(path): \(reason)"
        }
    }
}
