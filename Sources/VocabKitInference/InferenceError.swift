import VocabKitGGUF
import VocabKitModels
import VocabKitIO

/// Everything that can go wrong loading a model or running it; `description` is one line.
public enum InferenceError: VocabKitError, Equatable, Sendable {
    case unsupportedArchitecture(String)
    case missingHyperparameter(String)
    case invalidHyperparameter(key: String, reason: String)
    case missingTensor(String)
    case unexpectedShape(tensor: String, expected: [Int], found: [Int])
    case unsupportedTensorType(tensor: String, type: String)
    case unexpectedTensor(tensor: String, architecture: String)
    case tokenOutOfRange(token: Int, vocabularySize: Int)
    case contextFull(contextLength: Int)
    case emptyPrompt

    public var description: String {
        switch self {
        case let .unsupportedArchitecture(arch):
            return "unsupported model architecture '\(arch)' (supported: \(Architecture.all.map(\.name).joined(separator: ", ")))"
        case let .missingHyperparameter(key): return "the model has no '\(key)' metadata"
        case let .invalidHyperparameter(key, reason): return "metadata '\(key)' is invalid: \(reason)"
        case let .missingTensor(name): return "the model has no tensor '\(name)'"
        case let .unexpectedShape(tensor, expected, found): return "tensor '\(tensor)' has shape \(found), expected \(expected)"
        case let .unsupportedTensorType(tensor, type): return "tensor '\(tensor)' has type \(type), which inference does not support"
        case let .unexpectedTensor(tensor, arch): return "tensor '\(tensor)' is not part of a \(arch) model that inference runs"
        case let .tokenOutOfRange(token, size): return "token \(token) is outside the model's \(size) embedding rows"
        case let .contextFull(n): return "the context is full (\(n) positions)"
        case .emptyPrompt: return "the prompt has no tokens"
        }
    }
}
