import VocabKitSafetensors

/// What `vocabkit inspect DIR` and `savings DIR` report about a checkpoint: its shape, tokenizer, weights,
/// and what the vocabulary rows cost. Exact integers; the Codable form is the `--json` schema.
public struct HFCheckpointSummary: Encodable, Sendable {
    public struct VocabularyTensor: Encodable, Sendable {
        public let name: String
        public let dtype: String
        public let rows: Int
        public let rowBytes: Int
        public let bytes: Int
        public let parameters: Int
    }

    public let directory: String
    public let modelType: String
    public let hiddenSize: Int
    public let layers: Int?
    public let heads: Int?
    public let kvHeads: Int?
    public let intermediateSize: Int?
    public let vocabSize: Int
    public let tokenizerIds: Int
    public let merges: Int
    public let mergesForm: String
    public let chatTemplateBytes: Int?
    public let tiedEmbeddings: Bool
    public let weightFiles: [String]
    public let tensors: Int
    public let parameters: Int
    public let tensorBytes: Int
    public let fileBytes: Int
    public let vocabularyTensors: [VocabularyTensor]
    public let vocabularyBytes: Int
    public let vocabularyParameters: Int
    /// `vocabkit_prune.json`'s original vocab_size, when the checkpoint was pruned by VocabKit.
    public let prunedFromVocabSize: Int?

    public init(_ checkpoint: HFCheckpoint) {
        directory = checkpoint.directory
        modelType = checkpoint.architecture.modelType
        hiddenSize = checkpoint.hiddenSize
        layers = checkpoint.config[key: "num_hidden_layers"]?.int
        heads = checkpoint.config[key: "num_attention_heads"]?.int
        kvHeads = checkpoint.config[key: "num_key_value_heads"]?.int
        intermediateSize = checkpoint.config[key: "intermediate_size"]?.int
        vocabSize = checkpoint.vocabSize
        tokenizerIds = checkpoint.vocabulary.idCount
        let mergeList = checkpoint.tokenizerJSON[key: "model"]?["merges"]?.arrayValue ?? []
        merges = mergeList.count
        mergesForm = mergeList.first.map { $0.stringValue != nil ? "\"a b\" strings" : "[a, b] pairs" } ?? "none"
        chatTemplateBytes = checkpoint.tokenizerConfig?[key: "chat_template"]?.stringValue?.utf8.count
        tiedEmbeddings = checkpoint.tied
        weightFiles = checkpoint.weights.shardNames
        tensors = checkpoint.weights.shards.reduce(0) { $0 + $1.tensors.count }
        parameters = checkpoint.parameterCount
        tensorBytes = checkpoint.tensorByteCount
        fileBytes = checkpoint.fileByteCount
        vocabularyTensors = checkpoint.vocabularyTensors.map {
            VocabularyTensor(name: $0.name, dtype: $0.dtype.rawValue, rows: $0.shape[0], rowBytes: $0.rowByteCount ?? 0,
                             bytes: $0.byteCount, parameters: $0.elementCount)
        }
        vocabularyBytes = vocabularyTensors.reduce(0) { $0 + $1.bytes }
        vocabularyParameters = vocabularyTensors.reduce(0) { $0 + $1.parameters }
        prunedFromVocabSize = (try? HFJSONFile.read(checkpoint.path(HFCheckpointPruner.provenanceName)))?["original_vocab_size"]?.int
    }

    /// Bytes and parameters saved by keeping `rows` rows of every vocabulary tensor.
    public func savings(keepingRows rows: Int) -> (bytes: Int, parameters: Int) {
        let removed = max(0, vocabSize - rows)
        return (vocabularyTensors.reduce(0) { $0 + removed * $1.rowBytes }, removed * hiddenSize * vocabularyTensors.count)
    }

    private enum CodingKeys: String, CodingKey {
        case directory, modelType = "model_type", hiddenSize = "hidden_size", layers, heads, kvHeads = "kv_heads"
        case intermediateSize = "intermediate_size", vocabSize = "vocab_size", tokenizerIds = "tokenizer_ids", merges
        case mergesForm = "merges_form", chatTemplateBytes = "chat_template_bytes", tiedEmbeddings = "tied_embeddings"
        case weightFiles = "weight_files", tensors, parameters, tensorBytes = "tensor_bytes", fileBytes = "file_bytes"
        case vocabularyTensors = "vocabulary_tensors", vocabularyBytes = "vocabulary_bytes"
        case vocabularyParameters = "vocabulary_parameters", prunedFromVocabSize = "pruned_from_vocab_size"
    }
}

extension HFCheckpointSummary.VocabularyTensor {
    private enum CodingKeys: String, CodingKey {
        case name, dtype, rows, rowBytes = "row_bytes", bytes, parameters
    }
}
