#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import VocabKitIO

/// A metadata value to write. Beyond plain `GGUFValue`s it offers typed arrays (so an empty array keeps its
/// element type), unboxed fast paths for tokenizer-sized arrays, and raw bytes copied from a source file
/// (so untouched values come out byte-identical).
public enum GGUFOutputValue {
    /// Arrays infer their element type from the first element; an empty one is written as uint8[].
    case value(GGUFValue)
    case array(elementType: GGUFValueType, [GGUFValue])
    case strings([String])
    /// Integers written as `type` (any integer type); values that do not fit are an error.
    case integers([Int], type: GGUFValueType)
    case floats([Float])
    case raw(GGUFRawValue)

    var type: GGUFValueType {
        switch self {
        case let .value(value): return value.type
        case .array, .strings, .integers, .floats: return .array
        case let .raw(raw): return raw.type
        }
    }
}

/// Receives a tensor's bytes as the writer streams them to disk.
public final class GGUFDataSink {
    fileprivate let output: OutputFile
    fileprivate var bytesWritten = 0

    fileprivate init(output: OutputFile) { self.output = output }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try output.write(bytes)
        bytesWritten += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// A tensor to write: its info-table entry and a closure producing exactly `byteCount` bytes.
public struct GGUFOutputTensor {
    public var name: String
    public var dimensions: [Int]
    public var type: GGMLType
    /// Data offset relative to the data section; nil places it at the next aligned position.
    public var offset: UInt64?
    public var writeData: (GGUFDataSink) throws -> Void

    public init(name: String, dimensions: [Int], type: GGMLType, offset: UInt64? = nil,
                writeData: @escaping (GGUFDataSink) throws -> Void) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.offset = offset
        self.writeData = writeData
    }

    /// Copies a tensor unchanged from `file`, at the same offset.
    public static func copying(_ tensor: GGUFTensorInfo, from file: GGUFFile) -> GGUFOutputTensor {
        GGUFOutputTensor(name: tensor.name, dimensions: tensor.dimensions, type: tensor.type, offset: tensor.offset) { sink in
            try file.withTensorBytes(tensor) { try sink.write($0) }
        }
    }
}

extension GGUFOutputTensor {
    /// Keeps only `rows` (in that order) of a 2-D tensor such as `token_embd.weight`, copying each row's
    /// quantization blocks unchanged. Out-of-range rows fail when the data is written.
    public static func selectingRows(_ rows: [Int], of tensor: GGUFTensorInfo, from file: GGUFFile) -> GGUFOutputTensor {
        // Rows are everything past the first dimension, so the result is always [row length, rows].
        GGUFOutputTensor(name: tensor.name, dimensions: [tensor.rowElements, rows.count], type: tensor.type) { sink in
            for row in rows {
                let copied: Void? = try file.withRowBytes(tensor, row: row) { try sink.write($0) }
                guard copied != nil else {
                    throw GGUFError.invalidWriterInput("row \(row) of tensor '\(tensor.name)' does not exist (it has \(tensor.rowCount))")
                }
            }
        }
    }
}

/// Writes GGUF files in one streaming pass through `OutputFile`: a unique temporary file in the destination's
/// folder, renamed over the destination only once complete, so a crash, an error or an interrupt never leaves
/// a half-written model behind and never touches the source.
public enum GGUFWriter {
    /// - Parameters:
    ///   - alignment: data alignment; taken from `general.alignment` in `metadata` when present, else 32.
    ///   - bytesAfterHeader: total bytes after the tensor-info table (padding, data, trailing padding). nil
    ///     lays the file out as llama.cpp does; a source file's value reproduces its exact length.
    ///   - inputs: files this run reads (the source model above all): the destination may be none of them.
    public static func write(to path: String, inputs: [String] = [], version: UInt32 = 3,
                             metadata: [(key: String, value: GGUFOutputValue)],
                             tensors: [GGUFOutputTensor], bytesAfterHeader: Int? = nil) throws {
        try OutputFile.write(to: path, inputs: inputs) { output in
            try write(into: output, version: version, metadata: metadata, tensors: tensors, bytesAfterHeader: bytesAfterHeader)
        }
    }

    /// Writes the whole file into `output` without committing it, so that a caller can publish it together
    /// with other outputs (`OutputSet`).
    public static func write(into output: OutputFile, version: UInt32 = 3,
                             metadata: [(key: String, value: GGUFOutputValue)],
                             tensors: [GGUFOutputTensor], bytesAfterHeader: Int? = nil) throws {
        guard version == 2 || version == 3 else {
            throw GGUFError.invalidWriterInput("version \(version); only 2 and 3 can be written")
        }
        let alignment = try alignmentOf(metadata)
        let header = try encodeHeader(version: version, metadata: metadata, tensors: tensors, alignment: alignment)
        let layout = header.layout
        let dataStart = (header.bytes.count + alignment - 1) / alignment * alignment
        let dataEnd = layout.map { Int($0.offset) + $0.byteCount }.max() ?? 0
        var totalSize = tensors.isEmpty ? header.bytes.count : dataStart + (dataEnd + alignment - 1) / alignment * alignment
        if let bytesAfterHeader {
            let requested = header.bytes.count + bytesAfterHeader
            guard bytesAfterHeader >= 0, tensors.isEmpty || requested >= dataStart + dataEnd else {
                throw GGUFError.invalidWriterInput("\(bytesAfterHeader) bytes after the header cannot hold the tensor data")
            }
            totalSize = requested
        }

        try header.bytes.withUnsafeBytes { try output.write($0) }
        // Data goes out in offset order even if the info table lists tensors in another order.
        let order = layout.indices.sorted { layout[$0].offset < layout[$1].offset }
        for index in order {
            try output.writeZeros(upTo: dataStart + Int(layout[index].offset))
            let sink = GGUFDataSink(output: output)
            try tensors[index].writeData(sink)
            guard sink.bytesWritten == layout[index].byteCount else {
                throw GGUFError.invalidWriterInput("tensor '\(tensors[index].name)' produced \(sink.bytesWritten) bytes, expected \(layout[index].byteCount)")
            }
        }
        try output.writeZeros(upTo: totalSize)
    }

    /// Rewrites `file` unchanged: same version, key order, value encodings, tensor order, offsets and length.
    public static func copy(_ file: GGUFFile, to path: String) throws {
        try write(to: path, inputs: file.path.map { [$0] } ?? [], version: file.version, metadata: file.metadataForWriting,
                  tensors: file.tensors.map { GGUFOutputTensor.copying($0, from: file) },
                  bytesAfterHeader: file.fileSize - file.headerByteCount)
    }

    private static func alignmentOf(_ metadata: [(key: String, value: GGUFOutputValue)]) throws -> Int {
        guard let entry = metadata.first(where: { $0.key == "general.alignment" }) else { return 32 }
        let value: GGUFValue
        switch entry.value {
        case let .value(plain): value = plain
        case let .raw(raw): value = raw.value
        default: value = .array([])
        }
        guard case let .uint32(alignment) = value, alignment > 0, alignment & (alignment - 1) == 0 else {
            throw GGUFError.invalidWriterInput("general.alignment must be a uint32 power of two")
        }
        return Int(alignment)
    }

    private struct PlacedTensor { let offset: UInt64; let byteCount: Int }

    private static func encodeHeader(version: UInt32, metadata: [(key: String, value: GGUFOutputValue)],
                                     tensors: [GGUFOutputTensor],
                                     alignment: Int) throws -> (bytes: [UInt8], layout: [PlacedTensor]) {
        var encoder = ByteEncoder()
        encoder.bytes.append(contentsOf: Array("GGUF".utf8))
        encoder.append(version)
        encoder.append(UInt64(tensors.count))
        encoder.append(UInt64(metadata.count))
        var seenKeys = Set<String>()
        for (key, value) in metadata {
            guard seenKeys.insert(key).inserted else { throw GGUFError.invalidWriterInput("duplicate key '\(key)'") }
            encoder.append(string: key)
            encoder.append(value.type.rawValue)
            try encoder.append(value, key: key)
        }

        var layout: [PlacedTensor] = []
        var nextOffset: UInt64 = 0
        var seenNames = Set<String>()
        for tensor in tensors {
            guard seenNames.insert(tensor.name).inserted else {
                throw GGUFError.invalidWriterInput("duplicate tensor '\(tensor.name)'")
            }
            guard tensor.dimensions.count <= 4 else {
                throw GGUFError.tooManyDimensions(tensor: tensor.name, count: UInt32(tensor.dimensions.count), offset: encoder.bytes.count)
            }
            let offset = tensor.offset ?? nextOffset
            let info = try GGUFTensorInfo(name: tensor.name, dimensions: tensor.dimensions, type: tensor.type, offset: offset)
            guard offset % UInt64(alignment) == 0 else {
                throw GGUFError.misalignedTensor(tensor: tensor.name, dataOffset: offset, alignment: alignment)
            }
            // Keeps every later sum of offsets and sizes far from overflowing.
            guard offset <= UInt64(Int.max / 4), info.byteCount <= Int.max / 4 else {
                throw GGUFError.invalidWriterInput("tensor '\(tensor.name)' at data offset \(offset) with \(info.byteCount) bytes is too large")
            }
            encoder.append(string: tensor.name)
            encoder.append(UInt32(tensor.dimensions.count))
            for dimension in tensor.dimensions { encoder.append(UInt64(dimension)) }
            encoder.append(tensor.type.rawValue)
            encoder.append(offset)
            layout.append(PlacedTensor(offset: offset, byteCount: info.byteCount))
            let end = offset + UInt64(info.byteCount)
            nextOffset = max(nextOffset, (end + UInt64(alignment) - 1) / UInt64(alignment) * UInt64(alignment))
        }
        let byOffset = layout.enumerated().sorted { $0.element.offset < $1.element.offset }
        for (previous, next) in zip(byOffset, byOffset.dropFirst())
        where previous.element.byteCount > 0 && next.element.byteCount > 0
            && previous.element.offset + UInt64(previous.element.byteCount) > next.element.offset {
            throw GGUFError.overlappingTensors(first: tensors[previous.offset].name, second: tensors[next.offset].name,
                                               at: next.element.offset)
        }
        return (encoder.bytes, layout)
    }
}

/// Little-endian GGUF encoding of header values.
private struct ByteEncoder {
    var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(string: String) {
        var text = string
        text.withUTF8 { utf8 in
            append(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func append(_ value: GGUFOutputValue, key: String) throws {
        switch value {
        case let .value(plain):
            try append(plain, key: key)
        case let .array(elementType, elements):
            try appendArray(elementType: elementType, elements, key: key)
        case let .strings(strings):
            append(GGUFValueType.string.rawValue)
            append(UInt64(strings.count))
            for string in strings { append(string: string) }
        case let .integers(integers, type):
            guard type.isInteger else { throw GGUFError.invalidWriterInput("key '\(key)': \(type.name) is not an integer type") }
            append(type.rawValue)
            append(UInt64(integers.count))
            for integer in integers { try append(integer: integer, as: type, key: key) }
        case let .floats(floats):
            append(GGUFValueType.float32.rawValue)
            append(UInt64(floats.count))
            for float in floats { append(float.bitPattern) }
        case let .raw(raw):
            raw.withBytes { bytes.append(contentsOf: $0) }
        }
    }

    mutating func append(_ value: GGUFValue, key: String) throws {
        switch value {
        case let .uint8(v): append(v)
        case let .int8(v): append(v)
        case let .uint16(v): append(v)
        case let .int16(v): append(v)
        case let .uint32(v): append(v)
        case let .int32(v): append(v)
        case let .uint64(v): append(v)
        case let .int64(v): append(v)
        case let .float32(v): append(v.bitPattern)
        case let .float64(v): append(v.bitPattern)
        case let .bool(v): append(UInt8(v ? 1 : 0))
        case let .string(v): append(string: v)
        case let .array(elements): try appendArray(elementType: elements.first?.type ?? .uint8, elements, key: key)
        }
    }

    mutating func appendArray(elementType: GGUFValueType, _ elements: [GGUFValue], key: String) throws {
        append(elementType.rawValue)
        append(UInt64(elements.count))
        for element in elements {
            // GGUF arrays are homogeneous: one type tag covers every element.
            guard element.type == elementType else {
                throw GGUFError.invalidWriterInput("array '\(key)' mixes \(elementType.name) and \(element.type.name)")
            }
            try append(element, key: key)
        }
    }

    mutating func append(integer: Int, as type: GGUFValueType, key: String) throws {
        func fits<T: FixedWidthInteger>(_: T.Type) throws -> T {
            guard let value = T(exactly: integer) else {
                throw GGUFError.invalidWriterInput("key '\(key)': \(integer) does not fit \(type.name)")
            }
            return value
        }
        switch type {
        case .uint8: append(try fits(UInt8.self))
        case .int8: append(try fits(Int8.self))
        case .uint16: append(try fits(UInt16.self))
        case .int16: append(try fits(Int16.self))
        case .uint32: append(try fits(UInt32.self))
        case .int32: append(try fits(Int32.self))
        case .uint64: append(try fits(UInt64.self))
        case .int64: append(try fits(Int64.self))
        default: throw GGUFError.invalidWriterInput("key '\(key)': \(type.name) is not an integer type")
        }
    }
}
