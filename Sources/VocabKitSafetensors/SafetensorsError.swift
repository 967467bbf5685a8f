import VocabKitIO
/// What is wrong with a safetensors file or a sharded checkpoint's index, with the file and the byte offset,
/// tensor or key concerned, so one line says what to fix.
public enum SafetensorsError: VocabKitError, Equatable, Sendable {
    /// The file is too short for the 8-byte header length, or for the header it announces.
    case truncated(path: String, reason: String)
    /// The header is not a JSON object of the expected shape.
    case malformedHeader(path: String, offset: Int, reason: String)
    /// A tensor entry is inconsistent (dtype, shape, offsets, placement).
    case invalidTensor(path: String, name: String, reason: String)
    /// `model.safetensors.index.json` disagrees with itself or with the shards.
    case invalidIndex(path: String, reason: String)
    /// A request the writer cannot satisfy (a tensor producing the wrong number of bytes...).
    case invalidWriterInput(String)

    public var description: String {
        switch self {
        case let .truncated(path, reason): return "\(path): truncated safetensors file: \(reason)"
        case let .malformedHeader(path, offset, reason): return "\(path): bad safetensors header at byte \(offset): \(reason)"
        case let .invalidTensor(path, name, reason): return "\(path): tensor '\(name)': \(reason)"
        case let .invalidIndex(path, reason): return "\(path): \(reason)"
        case let .invalidWriterInput(reason): return "cannot write safetensors: \(reason)"
        }
    }
}
