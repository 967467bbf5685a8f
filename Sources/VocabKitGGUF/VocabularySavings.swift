/// How much a vocabulary-pruned model saves, tensor by tensor.
public struct VocabularyTensorSavings: Equatable, Sendable {
    public let name: String
    public let type: GGMLType
    public let rowElements: Int
    public let rowsBefore: Int
    public let rowsAfter: Int
    public var rowByteCount: Int { rowElements / type.blockElements * type.blockBytes }
    public var bytesBefore: Int { rowsBefore * rowByteCount }
    public var bytesAfter: Int { rowsAfter * rowByteCount }
    public var bytesSaved: Int { bytesBefore - bytesAfter }
    public var parametersSaved: Int { (rowsBefore - rowsAfter) * rowElements }

    public init(name: String, type: GGMLType, rowElements: Int, rowsBefore: Int, rowsAfter: Int) {
        self.name = name
        self.type = type
        self.rowElements = rowElements
        self.rowsBefore = rowsBefore
        self.rowsAfter = rowsAfter
    }
}

public struct VocabularySavings: Sendable {
    public let tensors: [VocabularyTensorSavings]
    public let fileSizeBefore: Int
    /// Tensor data re-laid out with the same alignment; metadata (token strings, merges) is not counted.
    public let fileSizeAfter: Int
    public let parametersBefore: Int

    public var bytesSaved: Int { tensors.reduce(0) { $0 + $1.bytesSaved } }
    public var parametersSaved: Int { tensors.reduce(0) { $0 + $1.parametersSaved } }
    public var parametersAfter: Int { parametersBefore - parametersSaved }
    public var fileShareSaved: Double { fileSizeBefore == 0 ? 0 : Double(fileSizeBefore - fileSizeAfter) / Double(fileSizeBefore) }
    public var parameterShareSaved: Double { parametersBefore == 0 ? 0 : Double(parametersSaved) / Double(parametersBefore) }

    public init(tensors: [VocabularyTensorSavings], fileSizeBefore: Int, fileSizeAfter: Int, parametersBefore: Int) {
        self.tensors = tensors
        self.fileSizeBefore = fileSizeBefore
        self.fileSizeAfter = fileSizeAfter
        self.parametersBefore = parametersBefore
    }

    /// Savings from keeping `keptRows` rows of every vocabulary tensor of `file`.
    public init(file: GGUFFile, keptRows: Int) throws {
        let summary = GGUFModelSummary(file)
        guard let embedding = file.tensor(named: GGUFModelSummary.tokenEmbeddingName) else {
            throw GGUFError.invalidMetadata(key: GGUFModelSummary.tokenEmbeddingName,
                                            reason: "no token embedding tensor in this file", offset: file.headerByteCount)
        }
        guard keptRows >= 1, keptRows <= embedding.rowCount else {
            throw GGUFError.invalidWriterInput("cannot keep \(keptRows) rows: \(embedding.name) has \(embedding.rowCount)")
        }
        tensors = summary.vocabularyTensors.map { tensor in
            VocabularyTensorSavings(name: tensor.name, type: tensor.type, rowElements: tensor.rowElements,
                                    rowsBefore: tensor.rowCount, rowsAfter: min(keptRows, tensor.rowCount))
        }
        let alignment = file.alignment
        func padded(_ bytes: Int) -> Int { (bytes + alignment - 1) / alignment * alignment }
        let shrink = tensors.reduce(0) { $0 + padded($1.bytesBefore) - padded($1.bytesAfter) }
        fileSizeBefore = file.fileSize
        fileSizeAfter = file.fileSize - shrink
        parametersBefore = summary.parameterCount
    }
}

/// Weight formats the Qwen3 projection covers.
public enum ProjectedQuantization: String, CaseIterable, Sendable {
    case bf16 = "BF16", q8_0 = "Q8_0", q4_K_M = "Q4_K_M"

    /// Type of `token_embd` (and of the untied `output`) under this scheme.
    public var embeddingType: GGMLType {
        switch self {
        case .bf16: return .bf16
        case .q8_0: return .q8_0
        case .q4_K_M: return .q4_K
        }
    }

    public var outputType: GGMLType {
        switch self {
        case .bf16: return .bf16
        case .q8_0: return .q8_0
        case .q4_K_M: return .q6_K
        }
    }
}

/// A dense Qwen3 model described by its published config, for projecting savings without a file.
public struct Qwen3Shape: Sendable {
    public let name: String
    public let hiddenSize: Int
    public let layers: Int
    public let headCount: Int
    public let kvHeadCount: Int
    public let feedForwardSize: Int
    public let tiedEmbeddings: Bool
    public let vocabularyRows = 151_936
    public let headDimension = 128

    public static let family: [Qwen3Shape] = [
        Qwen3Shape(name: "Qwen3-0.6B", hiddenSize: 1024, layers: 28, headCount: 16, kvHeadCount: 8, feedForwardSize: 3072, tiedEmbeddings: true),
        Qwen3Shape(name: "Qwen3-1.7B", hiddenSize: 2048, layers: 28, headCount: 16, kvHeadCount: 8, feedForwardSize: 6144, tiedEmbeddings: true),
        Qwen3Shape(name: "Qwen3-4B", hiddenSize: 2560, layers: 36, headCount: 32, kvHeadCount: 8, feedForwardSize: 9728, tiedEmbeddings: true),
        Qwen3Shape(name: "Qwen3-8B", hiddenSize: 4096, layers: 36, headCount: 32, kvHeadCount: 8, feedForwardSize: 12288, tiedEmbeddings: false),
    ]

    /// Every tensor as (rows, row length, role), mirroring llama.cpp's qwen3 GGUF layout.
    private enum Role { case embedding, output, norm, attentionV, feedForwardDown, otherMatrix }
    private func tensorShapes() -> [(rows: Int, rowElements: Int, role: Role, layer: Int)] {
        let queryWidth = headCount * headDimension, keyValueWidth = kvHeadCount * headDimension
        var shapes: [(rows: Int, rowElements: Int, role: Role, layer: Int)] = [(vocabularyRows, hiddenSize, .embedding, -1)]
        for layer in 0..<layers {
            shapes += [
                (1, hiddenSize, .norm, layer), (1, hiddenSize, .norm, layer),                 // attn_norm, ffn_norm
                (1, headDimension, .norm, layer), (1, headDimension, .norm, layer),           // q_norm, k_norm
                (queryWidth, hiddenSize, .otherMatrix, layer),                                // attn_q
                (keyValueWidth, hiddenSize, .otherMatrix, layer),                             // attn_k
                (keyValueWidth, hiddenSize, .attentionV, layer),                              // attn_v
                (hiddenSize, queryWidth, .otherMatrix, layer),                                // attn_output
                (feedForwardSize, hiddenSize, .otherMatrix, layer),                           // ffn_gate
                (feedForwardSize, hiddenSize, .otherMatrix, layer),                           // ffn_up
                (hiddenSize, feedForwardSize, .feedForwardDown, layer),                       // ffn_down
            ]
        }
        shapes.append((1, hiddenSize, .norm, -1))                                             // output_norm
        if !tiedEmbeddings { shapes.append((vocabularyRows, hiddenSize, .output, -1)) }
        return shapes
    }

    public var parameterCount: Int { tensorShapes().reduce(0) { $0 + $1.rows * $1.rowElements } }

    /// llama.cpp gives a layer's attn_v and ffn_down more bits in Q4_K_M on the first and last eighth of the
    /// layers and every third layer between.
    private func usesMoreBits(_ layer: Int) -> Bool {
        layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2
    }

    private func type(of role: Role, layer: Int, in quantization: ProjectedQuantization) -> GGMLType {
        switch role {
        case .norm: return .f32
        case .embedding: return quantization.embeddingType
        case .output: return quantization.outputType
        case .attentionV, .feedForwardDown:
            if quantization == .q4_K_M { return usesMoreBits(layer) ? .q6_K : .q4_K }
            return quantization.embeddingType
        case .otherMatrix: return quantization.embeddingType
        }
    }

    /// Estimated tensor bytes of the whole model (the GGUF header adds a few MB of tokenizer metadata).
    public func tensorByteCount(_ quantization: ProjectedQuantization) -> Int {
        tensorShapes().reduce(0) { total, shape in
            let type = type(of: shape.role, layer: shape.layer, in: quantization)
            return total + shape.rows * (type.rowByteCount(elements: shape.rowElements) ?? 0)
        }
    }

    public func savings(_ quantization: ProjectedQuantization, keptRows: Int) -> VocabularySavings {
        var tensors = [VocabularyTensorSavings(name: GGUFModelSummary.tokenEmbeddingName, type: quantization.embeddingType,
                                               rowElements: hiddenSize, rowsBefore: vocabularyRows, rowsAfter: keptRows)]
        if !tiedEmbeddings {
            tensors.append(VocabularyTensorSavings(name: GGUFModelSummary.outputName, type: quantization.outputType,
                                                   rowElements: hiddenSize, rowsBefore: vocabularyRows, rowsAfter: keptRows))
        }
        let before = tensorByteCount(quantization)
        let saved = tensors.reduce(0) { $0 + $1.bytesSaved }
        return VocabularySavings(tensors: tensors, fileSizeBefore: before, fileSizeAfter: before - saved,
                                 parametersBefore: parameterCount)
    }
}
