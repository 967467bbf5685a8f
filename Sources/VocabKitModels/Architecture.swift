/// What distinguishes one model architecture (a value of `general.architecture`) from another, for the code
/// that loads, runs, writes and describes models: inference, `synth`, `inspect` and `savings` read these
/// fields and never switch on the architecture's name. Adding an architecture is one value in
/// `Architecture.all` (and its tests), as long as its blocks are the llama-style decoder block VocabKit
/// runs: RMS norm, grouped-query attention with rotary embeddings, SwiGLU feed-forward.
public struct Architecture: Sendable, Hashable, CustomStringConvertible {
    /// How rotary embeddings pair a head's values (llama.cpp's rope type).
    public enum RoPEStyle: String, Sendable, Hashable {
        /// LLAMA_ROPE_TYPE_NORM: adjacent values (2i, 2i+1) rotate together.
        case normal
        /// LLAMA_ROPE_TYPE_NEOX: value i rotates with value i + headDim/2.
        case neox
    }

    /// Whether a tensor (or key) must, may or must not be in a file of this architecture.
    public enum Presence: String, Sendable, Hashable {
        case required, optional, absent

        public var allowed: Bool { self != .absent }
    }

    /// What `vocabkit synth` writes for this architecture beyond the common tensors and keys, so that its
    /// files carry what real converted GGUFs of the architecture carry.
    public struct SyntheticLayout: Sendable, Hashable {
        /// Q, K and V biases (Qwen2's converter writes them).
        public var attentionBiases: Bool
        /// Head-size keys written besides the common ones (key_length, value_length, rope.dimension_count).
        public var headSizeKeys: [Hyperparameter]

        public init(attentionBiases: Bool = false, headSizeKeys: [Hyperparameter] = []) {
            self.attentionBiases = attentionBiases
            self.headSizeKeys = headSizeKeys
        }
    }

    /// The `general.architecture` value and the prefix of the architecture's keys (`qwen3.block_count`).
    public let name: String
    /// One line for `inspect` and error messages.
    public let summary: String
    public let ropeStyle: RoPEStyle
    /// `blk.N.attn_q.bias`, `attn_k.bias`, `attn_v.bias`.
    public let attentionBiases: Presence
    /// Per-head RMS norms on Q and K (`blk.N.attn_q_norm.weight`, `attn_k_norm.weight`).
    public let queryKeyNorms: Presence
    /// `rope_freqs.weight`: a divisor for each rotation frequency (Llama 3's long-context rope scaling).
    public let ropeFrequencyFactors: Presence
    /// Keys that llama.cpp reads either as one number or as an array with one value per block.
    public let perLayerHyperparameters: Set<Hyperparameter>
    /// Whether llama.cpp builds this architecture's blocks with their own shapes. Where it does not, it takes
    /// every block's shape from block 0 and refuses a file whose blocks differ; VocabKit runs either.
    public let blocksMayDiffer: Bool
    /// Spellings of the tokens that end generation, whatever their id (llama.cpp's list).
    public let endOfGeneration: Set<String>
    public let tensorNames: TensorNames
    public let synthetic: SyntheticLayout

    public init(name: String, summary: String, ropeStyle: RoPEStyle, attentionBiases: Presence, queryKeyNorms: Presence,
                ropeFrequencyFactors: Presence, perLayerHyperparameters: Set<Hyperparameter> = Architecture.llamaCppPerLayer,
                blocksMayDiffer: Bool = false, endOfGeneration: Set<String> = Architecture.llamaCppEndOfGeneration,
                tensorNames: TensorNames = TensorNames(), synthetic: SyntheticLayout = SyntheticLayout()) {
        self.name = name
        self.summary = summary
        self.ropeStyle = ropeStyle
        self.attentionBiases = attentionBiases
        self.queryKeyNorms = queryKeyNorms
        self.ropeFrequencyFactors = ropeFrequencyFactors
        self.perLayerHyperparameters = perLayerHyperparameters
        self.blocksMayDiffer = blocksMayDiffer
        self.endOfGeneration = endOfGeneration
        self.tensorNames = tensorNames
        self.synthetic = synthetic
    }

    /// The full metadata key of a hyperparameter (`qwen3.attention.head_count`).
    public func key(_ hyperparameter: Hyperparameter) -> String { "\(name).\(hyperparameter.rawValue)" }

    public var description: String { name }
}

/// Hyperparameter keys, without the architecture prefix (llama.cpp's LLM_KV names).
public enum Hyperparameter: String, CaseIterable, Sendable, Hashable {
    case contextLength = "context_length"
    case embeddingLength = "embedding_length"
    case blockCount = "block_count"
    case feedForwardLength = "feed_forward_length"
    case headCount = "attention.head_count"
    case headCountKV = "attention.head_count_kv"
    case keyLength = "attention.key_length"
    case valueLength = "attention.value_length"
    case rmsEpsilon = "attention.layer_norm_rms_epsilon"
    case ropeFrequencyBase = "rope.freq_base"
    case ropeDimensionCount = "rope.dimension_count"
}

/// Tensor names (llama.cpp's LLM_TENSOR names, which the llama-style architectures share).
public struct TensorNames: Sendable, Hashable {
    /// The tensors of block `index`: `blk.{index}.{suffix}`.
    public enum Block: String, CaseIterable, Sendable {
        case attentionNorm = "attn_norm.weight"
        case query = "attn_q.weight"
        case queryBias = "attn_q.bias"
        case key = "attn_k.weight"
        case keyBias = "attn_k.bias"
        case value = "attn_v.weight"
        case valueBias = "attn_v.bias"
        case queryNorm = "attn_q_norm.weight"
        case keyNorm = "attn_k_norm.weight"
        case attentionOutput = "attn_output.weight"
        case feedForwardNorm = "ffn_norm.weight"
        case gate = "ffn_gate.weight"
        case up = "ffn_up.weight"
        case down = "ffn_down.weight"
        // Biases llama.cpp reads for llama but VocabKit does not run: a file with them is refused.
        case attentionOutputBias = "attn_output.bias"
        case gateBias = "ffn_gate.bias"
        case upBias = "ffn_up.bias"
        case downBias = "ffn_down.bias"

        /// Tensors a block may carry that inference does not support.
        public static let unsupported: [Block] = [.attentionOutputBias, .gateBias, .upBias, .downBias]
    }

    public var tokenEmbedding = "token_embd.weight"
    /// The LM head; absent in a file whose head is the token embedding (tied).
    public var output = "output.weight"
    public var outputNorm = "output_norm.weight"
    public var ropeFrequencies = "rope_freqs.weight"

    public init() {}

    public func block(_ index: Int, _ tensor: Block) -> String { "blk.\(index).\(tensor.rawValue)" }
}

extension Architecture {
    /// The keys llama.cpp reads with `get_key_or_arr` for every architecture.
    public static let llamaCppPerLayer: Set<Hyperparameter> = [.headCount, .headCountKV, .feedForwardLength]

    /// llama.cpp (llama-vocab.cpp) ends generation on any token spelled as one of these, whatever its type
    /// and the architecture: Qwen's vocabulary has a plain-text "</s>" (id 128247) that counts too.
    public static let llamaCppEndOfGeneration: Set<String> = [
        "<|endoftext|>", "<|im_end|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<|eot_id|>", "<|end_of_text|>",
        "<end_of_turn>", "<|end|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|return|>", "<|call|>",
        "<|flush|>", "<|calls|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>",
        "[e~[",
    ]

    /// Qwen2 and Qwen2.5: NeoX RoPE, Q/K/V biases.
    public static let qwen2 = Architecture(
        name: "qwen2", summary: "NeoX RoPE, Q/K/V biases",
        ropeStyle: .neox, attentionBiases: .optional, queryKeyNorms: .absent, ropeFrequencyFactors: .absent,
        synthetic: SyntheticLayout(attentionBiases: true))

    /// Qwen3 (dense): NeoX RoPE, per-head RMS norms on Q and K; its converter writes no biases (llama.cpp
    /// would read them, as for every architecture here).
    public static let qwen3 = Architecture(
        name: "qwen3", summary: "NeoX RoPE, Q/K norms",
        ropeStyle: .neox, attentionBiases: .optional, queryKeyNorms: .required, ropeFrequencyFactors: .absent,
        synthetic: SyntheticLayout(headSizeKeys: [.keyLength, .valueLength]))

    /// Llama 2/3: normal (adjacent-pair) RoPE, optional biases, optional rope_freqs (Llama 3.1+).
    public static let llama = Architecture(
        name: "llama", summary: "normal RoPE (adjacent pairs), optional Q/K/V biases and rope_freqs",
        ropeStyle: .normal, attentionBiases: .optional, queryKeyNorms: .absent, ropeFrequencyFactors: .optional,
        synthetic: SyntheticLayout(headSizeKeys: [.ropeDimensionCount]))

    /// DeciLM / Llama-Nemotron: a llama whose blocks have their own head counts and feed-forward lengths
    /// (llama.cpp builds each block with its own shape). Attention-free and FFN-free blocks (a head count or
    /// feed-forward length of 0) are not supported.
    public static let deci = Architecture(
        name: "deci", summary: "llama with per-block head counts and feed-forward lengths",
        ropeStyle: .normal, attentionBiases: .optional, queryKeyNorms: .absent, ropeFrequencyFactors: .optional,
        blocksMayDiffer: true, synthetic: SyntheticLayout(headSizeKeys: [.ropeDimensionCount]))

    /// Every architecture VocabKit runs.
    public static let all: [Architecture] = [.qwen2, .qwen3, .llama, .deci]

    /// The architecture a file names in `general.architecture`, or nil when VocabKit does not run it.
    public static func named(_ name: String) -> Architecture? { all.first { $0.name == name } }
}
