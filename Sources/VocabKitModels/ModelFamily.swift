import VocabKitGGUF

/// A published model described by its config (no file needed): enough to list the tensors its GGUF has and
/// project what pruning its vocabulary saves.
public struct ModelShape: Sendable, Hashable {
    public let name: String
    public let architecture: Architecture
    public let hiddenSize: Int
    public let layers: Int
    public let headCount: Int
    public let kvHeadCount: Int
    public let headDimension: Int
    public let feedForwardSize: Int
    public let vocabularyRows: Int
    public let tiedEmbeddings: Bool
    /// The GGUF carries `rope_freqs.weight` (Llama 3.1+'s rope scaling, headDimension/2 floats).
    public let ropeFrequencyFactors: Bool

    public init(name: String, architecture: Architecture, hiddenSize: Int, layers: Int, headCount: Int, kvHeadCount: Int,
                headDimension: Int, feedForwardSize: Int, vocabularyRows: Int, tiedEmbeddings: Bool, ropeFrequencyFactors: Bool = false) {
        self.name = name
        self.architecture = architecture
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDimension = headDimension
        self.feedForwardSize = feedForwardSize
        self.vocabularyRows = vocabularyRows
        self.tiedEmbeddings = tiedEmbeddings
        self.ropeFrequencyFactors = ropeFrequencyFactors
    }

    /// A tensor of the model's GGUF: its name, rows and row length, what it does, and its block (-1 outside).
    public struct Tensor: Sendable, Hashable {
        public let name: String
        public let rows: Int
        public let rowElements: Int
        public let role: TensorRole
        public let layer: Int
    }

    /// Every tensor, as llama.cpp's converter lays out a GGUF of this architecture.
    public func tensors() -> [Tensor] {
        let names = architecture.tensorNames
        let queryWidth = headCount * headDimension, keyValueWidth = kvHeadCount * headDimension
        var out = [Tensor(name: names.tokenEmbedding, rows: vocabularyRows, rowElements: hiddenSize, role: .embedding, layer: -1)]
        if ropeFrequencyFactors {
            out.append(Tensor(name: names.ropeFrequencies, rows: 1, rowElements: headDimension / 2, role: .vector, layer: -1))
        }
        for layer in 0..<layers {
            func add(_ block: TensorNames.Block, _ rows: Int, _ rowElements: Int, _ role: TensorRole) {
                out.append(Tensor(name: names.block(layer, block), rows: rows, rowElements: rowElements, role: role, layer: layer))
            }
            add(.attentionNorm, 1, hiddenSize, .vector)
            add(.query, queryWidth, hiddenSize, .matrix)
            add(.key, keyValueWidth, hiddenSize, .matrix)
            add(.value, keyValueWidth, hiddenSize, .attentionValue)
            if architecture.synthetic.attentionBiases {
                add(.queryBias, 1, queryWidth, .vector)
                add(.keyBias, 1, keyValueWidth, .vector)
                add(.valueBias, 1, keyValueWidth, .vector)
            }
            if architecture.queryKeyNorms == .required {
                add(.queryNorm, 1, headDimension, .vector)
                add(.keyNorm, 1, headDimension, .vector)
            }
            add(.attentionOutput, hiddenSize, queryWidth, .matrix)
            add(.feedForwardNorm, 1, hiddenSize, .vector)
            add(.gate, feedForwardSize, hiddenSize, .matrix)
            add(.up, feedForwardSize, hiddenSize, .matrix)
            add(.down, hiddenSize, feedForwardSize, .feedForwardDown)
        }
        out.append(Tensor(name: names.outputNorm, rows: 1, rowElements: hiddenSize, role: .vector, layer: -1))
        if !tiedEmbeddings {
            out.append(Tensor(name: names.output, rows: vocabularyRows, rowElements: hiddenSize, role: .output, layer: -1))
        }
        return out
    }

    public var parameterCount: Int { tensors().reduce(0) { $0 + $1.rows * $1.rowElements } }

    /// The type llama.cpp gives `tensor` in `quantization`.
    public func type(of tensor: Tensor, in quantization: ProjectedQuantization) -> GGMLType {
        quantization.type(of: tensor.role, layer: tensor.layer, layers: layers, tiedEmbeddings: tiedEmbeddings)
    }

    /// Estimated tensor bytes of the whole model (the GGUF header adds a few MB of tokenizer metadata).
    public func tensorByteCount(_ quantization: ProjectedQuantization) -> Int {
        tensors().reduce(0) { total, tensor in
            total + tensor.rows * (type(of: tensor, in: quantization).rowByteCount(elements: tensor.rowElements) ?? 0)
        }
    }

    /// What keeping `keptRows` vocabulary rows saves in `quantization`.
    public func savings(_ quantization: ProjectedQuantization, keptRows: Int) -> VocabularySavings {
        let vocabulary = tensors().filter { $0.role == .embedding || $0.role == .output }
        let saved = vocabulary.map {
            VocabularyTensorSavings(name: $0.name, type: type(of: $0, in: quantization), rowElements: $0.rowElements,
                                    rowsBefore: $0.rows, rowsAfter: keptRows)
        }
        let before = tensorByteCount(quantization)
        return VocabularySavings(tensors: saved, fileSizeBefore: before, fileSizeAfter: before - saved.reduce(0) { $0 + $1.bytesSaved },
                                 parametersBefore: parameterCount)
    }
}

/// What a tensor does, as far as llama.cpp's choice of quantized type goes.
public enum TensorRole: Sendable, Hashable {
    case embedding, output
    /// Norms, biases and rope factors: one-dimensional, never quantized.
    case vector
    case attentionValue, feedForwardDown
    case matrix
}

/// Weight formats the projections cover.
public enum ProjectedQuantization: String, CaseIterable, Sendable {
    case bf16 = "BF16", q8_0 = "Q8_0", q4_K_M = "Q4_K_M"

    /// The type of the matrices llama.cpp does not single out.
    public var baseType: GGMLType {
        switch self {
        case .bf16: return .bf16
        case .q8_0: return .q8_0
        case .q4_K_M: return .q4_K
        }
    }

    /// The LM head's type, which llama.cpp also gives a tied token embedding (it serves as the head).
    public var outputType: GGMLType { self == .q4_K_M ? .q6_K : baseType }

    /// llama.cpp's choice (llama-quant.cpp, llama_tensor_get_type): 1-D tensors stay F32; the output, and the
    /// token embedding when tied, take `outputType`; in Q4_K_M, attn_v and ffn_down get Q6_K on the first and
    /// last eighth of the layers and every third layer between.
    public func type(of role: TensorRole, layer: Int, layers: Int, tiedEmbeddings: Bool) -> GGMLType {
        func usesMoreBits(_ i: Int) -> Bool { i < layers / 8 || i >= 7 * layers / 8 || (i - layers / 8) % 3 == 2 }
        switch role {
        case .vector: return .f32
        case .output: return outputType
        case .embedding: return tiedEmbeddings ? outputType : baseType
        case .attentionValue, .feedForwardDown: return self == .q4_K_M && usesMoreBits(layer) ? .q6_K : baseType
        case .matrix: return baseType
        }
    }
}

/// Published models of one family, for `savings --family`.
public struct ModelFamily: Sendable {
    /// The `--family` value.
    public let name: String
    public let displayName: String
    public let members: [ModelShape]

    public init(name: String, displayName: String, members: [ModelShape]) {
        self.name = name
        self.displayName = displayName
        self.members = members
    }

    /// Dense Qwen3 models (config.json of Qwen/Qwen3-0.6B ... 8B): 151,936 embedding rows, head size 128.
    public static let qwen3 = ModelFamily(name: "qwen3", displayName: "Qwen3", members: [
        ModelShape(name: "Qwen3-0.6B", architecture: .qwen3, hiddenSize: 1024, layers: 28, headCount: 16, kvHeadCount: 8,
                   headDimension: 128, feedForwardSize: 3072, vocabularyRows: 151_936, tiedEmbeddings: true),
        ModelShape(name: "Qwen3-1.7B", architecture: .qwen3, hiddenSize: 2048, layers: 28, headCount: 16, kvHeadCount: 8,
                   headDimension: 128, feedForwardSize: 6144, vocabularyRows: 151_936, tiedEmbeddings: true),
        ModelShape(name: "Qwen3-4B", architecture: .qwen3, hiddenSize: 2560, layers: 36, headCount: 32, kvHeadCount: 8,
                   headDimension: 128, feedForwardSize: 9728, vocabularyRows: 151_936, tiedEmbeddings: true),
        ModelShape(name: "Qwen3-8B", architecture: .qwen3, hiddenSize: 4096, layers: 36, headCount: 32, kvHeadCount: 8,
                   headDimension: 128, feedForwardSize: 12288, vocabularyRows: 151_936, tiedEmbeddings: false),
    ])

    /// Llama 3.2 text models (config.json of meta-llama/Llama-3.2-1B and -3B): 128,256 embedding rows, tied,
    /// and the rope_freqs tensor llama.cpp's converter writes for their llama3 rope scaling.
    public static let llama3 = ModelFamily(name: "llama3", displayName: "Llama 3.2", members: [
        ModelShape(name: "Llama-3.2-1B", architecture: .llama, hiddenSize: 2048, layers: 16, headCount: 32, kvHeadCount: 8,
                   headDimension: 64, feedForwardSize: 8192, vocabularyRows: 128_256, tiedEmbeddings: true, ropeFrequencyFactors: true),
        ModelShape(name: "Llama-3.2-3B", architecture: .llama, hiddenSize: 3072, layers: 28, headCount: 24, kvHeadCount: 8,
                   headDimension: 128, feedForwardSize: 8192, vocabularyRows: 128_256, tiedEmbeddings: true, ropeFrequencyFactors: true),
    ])

    public static let all: [ModelFamily] = [.qwen3, .llama3]

    public static func named(_ name: String) -> ModelFamily? { all.first { $0.name == name.lowercased() } }
}
