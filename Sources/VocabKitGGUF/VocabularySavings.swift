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
