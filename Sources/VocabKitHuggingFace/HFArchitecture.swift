/// What VocabKit needs to know about a model family's Hugging Face checkpoint: which tensors have one row per
/// token id. Every other tensor is copied unchanged, so this is the whole description.
public struct HFArchitecture: Sendable, Equatable {
    /// `model_type` in config.json.
    public let modelType: String
    /// The input embedding, `[vocab_size, hidden_size]`.
    public let embeddingTensor: String
    /// The output head, `[vocab_size, hidden_size]`; absent when the embedding is tied.
    public let headTensor: String

    public static let qwen2 = HFArchitecture(modelType: "qwen2", embeddingTensor: "model.embed_tokens.weight", headTensor: "lm_head.weight")
    public static let qwen3 = HFArchitecture(modelType: "qwen3", embeddingTensor: "model.embed_tokens.weight", headTensor: "lm_head.weight")

    public static let supported: [HFArchitecture] = [.qwen2, .qwen3]

    public static func named(_ modelType: String) -> HFArchitecture? { supported.first { $0.modelType == modelType } }
}
