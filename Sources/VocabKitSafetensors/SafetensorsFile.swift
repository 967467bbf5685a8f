import VocabKitIO

/// One tensor of a safetensors file.
public struct SafetensorsTensor: Equatable, Sendable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// Byte range inside the data section (after the 8-byte length and the header).
    public let dataRange: Range<Int>

    public var byteCount: Int { dataRange.count }
    /// Product of the dimensions (1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
    /// Bytes of one row of a matrix (the last dimension), for tensors whose rows are whole bytes.
    public var rowByteCount: Int? {
        guard shape.count == 2 else { return nil }
        return dtype.byteCount(elements: shape[1])
    }
}

/// A safetensors file read through `InputFile` (memory-mapped above 1 MiB), its header fully validated before
/// anything else happens: the 8-byte length within bounds (at most 100 MB, as the reference library allows,
/// and inside the file), the header a strict JSON object, every dtype known, every shape's byte size computed
/// without overflow and equal to its offsets, and the tensors tiling the data section exactly (no gap, no
/// overlap, nothing outside the file, nothing left over), as the reference library requires.
public final class SafetensorsFile: @unchecked Sendable {
    /// The reference implementation's limit on the header length.
    public static let maximumHeaderBytes = 100_000_000

    public let path: String
    /// Tensors in header order.
    public let tensors: [SafetensorsTensor]
    /// `__metadata__` (string to string), in file order; nil when absent.
    public let metadata: [(key: String, value: String)]?
    /// Offset of the data section: 8 + header length.
    public let dataOffset: Int
    public let fileSize: Int

    private let input: InputFile?
    private let owned: [UInt8]?
    private let indexByName: [String: Int]

    public convenience init(path: String) throws {
        let input = try InputFile(path: path)
        try self.init(path: path, input: input, owned: nil)
    }

    /// A file held in memory (tests and fuzzing).
    public convenience init(bytes: [UInt8], path: String = "<memory>") throws {
        try self.init(path: path, input: nil, owned: bytes)
    }

    private init(path: String, input: InputFile?, owned: [UInt8]?) throws {
        self.path = path
        self.input = input
        self.owned = owned
        let parsed: (tensors: [SafetensorsTensor], metadata: [(String, String)]?, dataOffset: Int, size: Int)
        if let input {
            parsed = try Self.parse(input.bytes, path: path)
        } else {
            parsed = try owned!.withUnsafeBytes { try Self.parse($0, path: path) }
        }
        tensors = parsed.tensors
        metadata = parsed.metadata
        dataOffset = parsed.dataOffset
        fileSize = parsed.size
        var index: [String: Int] = [:]
        for (position, tensor) in tensors.enumerated() { index[tensor.name] = position }
        indexByName = index
    }

    public func tensor(named name: String) -> SafetensorsTensor? { indexByName[name].map { tensors[$0] } }

    /// The tensor's bytes, valid inside `body`.
    public func withBytes<R>(of tensor: SafetensorsTensor, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let range = (dataOffset + tensor.dataRange.lowerBound)..<(dataOffset + tensor.dataRange.upperBound)
        if let input { return try body(UnsafeRawBufferPointer(rebasing: input.bytes[range])) }
        return try owned!.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    /// Hands back mapped pages of a tensor already streamed out, keeping memory flat on large checkpoints.
    public func release(_ tensor: SafetensorsTensor, bytes range: Range<Int>) {
        input?.release((dataOffset + tensor.dataRange.lowerBound + range.lowerBound)..<(dataOffset + tensor.dataRange.lowerBound + range.upperBound))
    }

    static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> ([SafetensorsTensor], [(String, String)]?, Int, Int) {
        guard bytes.count >= 8 else {
            throw SafetensorsError.truncated(path: path, reason: "\(bytes.count) bytes, fewer than the 8-byte header length")
        }
        let announced = bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        guard announced <= UInt64(maximumHeaderBytes) else {
            throw SafetensorsError.malformedHeader(path: path, offset: 0, reason: "header length \(announced) is more than \(maximumHeaderBytes) bytes")
        }
        let headerLength = Int(announced)
        guard headerLength <= bytes.count - 8 else {
            throw SafetensorsError.truncated(path: path, reason: "the header length is \(headerLength) bytes but only \(bytes.count - 8) follow")
        }
        guard headerLength >= 2 else {
            throw SafetensorsError.malformedHeader(path: path, offset: 8, reason: "a header of \(headerLength) bytes cannot hold a JSON object")
        }
        let header = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerLength)])
        let root: JSONValue
        do {
            root = try JSONParser.parse(header)
        } catch let error as JSONSyntaxError {
            throw SafetensorsError.malformedHeader(path: path, offset: 8 + error.offset, reason: error.reason)
        }
        guard case let .object(members) = root else {
            throw SafetensorsError.malformedHeader(path: path, offset: 8, reason: "the header is \(root.kind), not a JSON object")
        }
        let dataOffset = 8 + headerLength
        let dataLength = bytes.count - dataOffset
        var tensors: [SafetensorsTensor] = []
        var metadata: [(String, String)]?
        for member in members {
            if member.key == "__metadata__" {
                guard case let .object(entries) = member.value else {
                    throw SafetensorsError.malformedHeader(path: path, offset: 8, reason: "__metadata__ is \(member.value.kind), not an object")
                }
                metadata = try entries.map { entry in
                    guard case let .string(text) = entry.value else {
                        throw SafetensorsError.malformedHeader(path: path, offset: 8, reason: "__metadata__ value '\(entry.key)' is \(entry.value.kind), not a string")
                    }
                    return (entry.key, text)
                }
                continue
            }
            tensors.append(try parseTensor(member.key, member.value, path: path))
        }
        // The tensors must tile the data section exactly, in offset order.
        let ordered = tensors.sorted { ($0.dataRange.lowerBound, $0.dataRange.upperBound) < ($1.dataRange.lowerBound, $1.dataRange.upperBound) }
        var covered = 0
        for tensor in ordered {
            guard tensor.dataRange.lowerBound == covered else {
                let reason = tensor.dataRange.lowerBound < covered
                    ? "its data \(tensor.dataRange.lowerBound)..<\(tensor.dataRange.upperBound) overlaps another tensor's (which ends at \(covered))"
                    : "its data starts at \(tensor.dataRange.lowerBound), leaving a gap after byte \(covered)"
                throw SafetensorsError.invalidTensor(path: path, name: tensor.name, reason: reason)
            }
            guard tensor.dataRange.upperBound <= dataLength else {
                throw SafetensorsError.invalidTensor(path: path, name: tensor.name,
                    reason: "its data ends at \(tensor.dataRange.upperBound), past the \(dataLength) bytes of data in the file (truncated?)")
            }
            covered = tensor.dataRange.upperBound
        }
        guard covered == dataLength else {
            throw SafetensorsError.malformedHeader(path: path, offset: dataOffset + covered,
                reason: "\(dataLength - covered) bytes after the last tensor's data belong to no tensor")
        }
        return (tensors, metadata, dataOffset, bytes.count)
    }

    private static func parseTensor(_ name: String, _ value: JSONValue, path: String) throws -> SafetensorsTensor {
        func bad(_ reason: String) -> SafetensorsError { .invalidTensor(path: path, name: name, reason: reason) }
        guard case .object = value else { throw bad("its entry is \(value.kind), not an object") }
        guard let dtypeName = value["dtype"]?.stringValue else { throw bad("no dtype string") }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else { throw bad("unknown dtype '\(dtypeName)'") }
        guard let shapeValues = value["shape"]?.arrayValue else { throw bad("no shape array") }
        var shape: [Int] = []
        var elements = 1
        for dimension in shapeValues {
            guard let size = dimension.int, size >= 0 else { throw bad("shape entry \(dimensionText(dimension)) is not a non-negative integer") }
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow else { throw bad("shape \(shapeValues.map(dimensionText)) has more elements than can be addressed") }
            elements = product
            shape.append(size)
        }
        guard let byteCount = dtype.byteCount(elements: elements) else {
            throw bad("\(elements) \(dtypeName) elements do not fill whole bytes")
        }
        guard let offsets = value["data_offsets"]?.arrayValue, offsets.count == 2 else { throw bad("data_offsets is not a pair") }
        guard let begin = offsets[0].int, let end = offsets[1].int, begin >= 0, end >= begin else {
            throw bad("data_offsets [\(dimensionText(offsets[0])), \(dimensionText(offsets[1]))] are not an ascending pair of byte offsets")
        }
        guard end - begin == byteCount else {
            throw bad("shape \(shape) of \(dtypeName) needs \(byteCount) bytes but data_offsets span \(end - begin)")
        }
        return SafetensorsTensor(name: name, dtype: dtype, shape: shape, dataRange: begin..<end)
    }

    private static func dimensionText(_ value: JSONValue) -> String {
        if case let .number(text) = value { return text }
        return value.kind
    }
}
