/// What `inspect` reports about a model, gathered from the header alone (no tensor data is read).
public struct GGUFModelSummary: Sendable {
    public struct SpecialToken: Equatable, Sendable {
        /// The part of `tokenizer.ggml.<name>_token_id` between the prefix and suffix, e.g. "eos".
        public let name: String
        public let id: Int
    }

    public let architecture: String?
    public let embeddingLength: Int?
    public let blockCount: Int?
    public let headCount: Int?
    public let headCountKV: Int?
    public let feedForwardLength: Int?
    public let contextLength: Int?
    public let ropeFrequencyBase: Double?
    /// Entries of `tokenizer.ggml.tokens`, which llama.cpp takes as the vocabulary size.
    public let vocabularySize: Int?
    public let specialTokens: [SpecialToken]
    /// Byte length of `tokenizer.chat_template`, nil when absent.
    public let chatTemplateByteCount: Int?
    public let fileSize: Int
    public let tensorByteCount: Int
    public let parameterCount: Int
    /// `token_embd.weight` and, when untied, `output.weight`: the tensors with one row per token.
    public let vocabularyTensors: [GGUFTensorInfo]
    /// True when there is a `token_embd.weight` but no `output.weight`, so the output projection reuses it.
    public let tiedEmbeddings: Bool

    public static let tokenEmbeddingName = "token_embd.weight"
    public static let outputName = "output.weight"

    public init(_ file: GGUFFile) {
        let architecture = file.string("general.architecture")
        self.architecture = architecture
        // Hyperparameters are namespaced by architecture ("qwen2.embedding_length").
        func hyper(_ suffix: String) -> String { (architecture ?? "") + "." + suffix }
        embeddingLength = file.integer(hyper("embedding_length"))
        blockCount = file.integer(hyper("block_count"))
        headCount = Self.firstInteger(file, hyper("attention.head_count"))
        headCountKV = Self.firstInteger(file, hyper("attention.head_count_kv"))
        feedForwardLength = Self.firstInteger(file, hyper("feed_forward_length"))
        contextLength = file.integer(hyper("context_length"))
        ropeFrequencyBase = file.double(hyper("rope.freq_base"))
        vocabularySize = file.arrayInfo("tokenizer.ggml.tokens")?.count

        let prefix = "tokenizer.ggml.", suffix = "_token_id"
        specialTokens = file.metadataKeys.compactMap { key in
            guard key.hasPrefix(prefix), key.hasSuffix(suffix), let id = file.integer(key) else { return nil }
            return SpecialToken(name: String(key.dropFirst(prefix.count).dropLast(suffix.count)), id: id)
        }
        if let template = file.rawValue("tokenizer.chat_template"), template.type == .string {
            chatTemplateByteCount = template.withBytes { $0.count } - 8
        } else {
            chatTemplateByteCount = nil
        }
        fileSize = file.fileSize
        tensorByteCount = file.tensors.reduce(0) { $0 + $1.byteCount }
        parameterCount = file.tensors.reduce(0) { $0 + $1.elementCount }
        vocabularyTensors = [Self.tokenEmbeddingName, Self.outputName].compactMap { file.tensor(named: $0) }
        tiedEmbeddings = file.tensor(named: Self.tokenEmbeddingName) != nil && file.tensor(named: Self.outputName) == nil
    }

    /// Some architectures store per-layer arrays for head counts; the first layer is representative.
    private static func firstInteger(_ file: GGUFFile, _ key: String) -> Int? {
        file.integer(key) ?? file.integerArray(key)?.first
    }

    public var vocabularyByteCount: Int { vocabularyTensors.reduce(0) { $0 + $1.byteCount } }
    public var vocabularyParameterCount: Int { vocabularyTensors.reduce(0) { $0 + $1.elementCount } }
}
