/// One entry of the tensor-info table, validated against the file it came from.
public struct GGUFTensorInfo: Equatable, Sendable {
    public let name: String
    /// ggml order: `dimensions[0]` (ne0) is the row length, the contiguous dimension.
    public let dimensions: [Int]
    public let type: GGMLType
    /// Relative to the start of the data section, as stored in the file.
    public let offset: UInt64
    public let elementCount: Int
    public let byteCount: Int
    /// Where this tensor's info record starts in the file, for error messages and tools.
    public let infoOffset: Int

    public init(name: String, dimensions: [Int], type: GGMLType, offset: UInt64, infoOffset: Int = 0) throws {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.offset = offset
        self.infoOffset = infoOffset
        var elements = 1
        for (index, dimension) in dimensions.enumerated() {
            guard dimension >= 0 else {
                throw GGUFError.invalidDimension(tensor: name, index: index, value: Int64(dimension), offset: infoOffset)
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw GGUFError.tensorSizeOverflow(tensor: name, offset: infoOffset) }
            elements = product
        }
        let rowElements = dimensions.first ?? 1
        guard rowElements % type.blockElements == 0 else {
            throw GGUFError.rowNotWholeBlocks(tensor: name, rowElements: rowElements, type: type.name,
                                              blockElements: type.blockElements)
        }
        guard let bytes = type.rowByteCount(elements: elements) else {
            throw GGUFError.tensorSizeOverflow(tensor: name, offset: infoOffset)
        }
        self.elementCount = elements
        self.byteCount = bytes
    }

    /// Elements in one row (ne0).
    public var rowElements: Int { dimensions.first ?? 1 }

    /// Rows are everything past the first dimension; for `token_embd` that is the vocabulary size.
    public var rowCount: Int { rowElements == 0 ? 0 : elementCount / rowElements }

    /// Bytes of one row: whole blocks, so rows can be copied without dequantizing.
    public var rowByteCount: Int { rowElements / type.blockElements * type.blockBytes }

    /// The byte range of `row` within this tensor's data, nil when the row does not exist.
    public func byteRange(ofRow row: Int) -> Range<Int>? {
        guard row >= 0, row < rowCount else { return nil }
        return row * rowByteCount..<(row + 1) * rowByteCount
    }

    /// A shape such as `[896, 151936]` as users of llama.cpp see it.
    public var shapeDescription: String { "[" + dimensions.map(String.init).joined(separator: ", ") + "]" }
}
