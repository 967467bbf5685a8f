#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import VocabKitIO

/// A parsed GGUF file (v2 or v3) over a memory mapping.
///
/// Opening only walks the header, metadata and tensor-info table; tensor data is never touched until asked
/// for, so inspecting a multi-gigabyte model costs about as much as reading its header. Metadata values are
/// kept as byte ranges and decoded on demand, which keeps the 150k-entry tokenizer arrays cheap.
public final class GGUFFile: @unchecked Sendable {
    public let path: String?
    public let version: UInt32
    /// `general.alignment`, or 32 when absent.
    public let alignment: Int
    /// End of the tensor-info table (before the padding up to the data section).
    public let headerByteCount: Int
    /// Absolute offset where the data section starts; tensor offsets are relative to it.
    public let dataSectionOffset: Int
    public let fileSize: Int
    public let tensors: [GGUFTensorInfo]

    private let storage: ByteStorage
    private let entries: [MetadataEntry]
    private let entryIndexByKey: [String: Int]
    private let tensorIndexByName: [String: Int]

    /// Maps the file read-only and parses it; throws `GGUFError` for anything malformed.
    public convenience init(path: String) throws {
        try self.init(storage: ByteStorage(mapping: path), path: path)
    }

    /// Parses a GGUF held in memory (tests, fuzzing, headers cut out of larger files).
    public convenience init(bytes: [UInt8]) throws {
        try self.init(storage: ByteStorage(copying: bytes), path: nil)
    }

    private init(storage: ByteStorage, path: String?) throws {
        self.storage = storage
        self.path = path
        let bytes = storage.buffer
        fileSize = bytes.count
        var cursor = GGUFByteCursor(bytes)

        // A short file that does not even start like GGUF is "not GGUF" rather than "truncated GGUF".
        let magic = Array(bytes.prefix(4))
        guard magic == Array("GGUF".utf8.prefix(magic.count)) else { throw GGUFError.notGGUF(foundMagic: magic) }
        try cursor.require(4, "magic")
        cursor.position = 4
        version = try cursor.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(version) }

        let tensorCountOffset = cursor.position
        let tensorCount = try cursor.read(UInt64.self, "tensor count")
        let metadataCountOffset = cursor.position
        let metadataCount = try cursor.read(UInt64.self, "metadata count")
        // Each metadata entry needs at least a key length, a type and one value byte; each tensor info
        // at least a name length, a dimension count, a type and an offset.
        guard metadataCount <= UInt64(cursor.remaining / 13) else {
            throw GGUFError.countTooLarge(what: "metadata count", count: metadataCount, offset: metadataCountOffset)
        }
        guard tensorCount <= UInt64(cursor.remaining / 24) else {
            throw GGUFError.countTooLarge(what: "tensor count", count: tensorCount, offset: tensorCountOffset)
        }

        // No reserveCapacity from the counts: memory grows only with entries actually present.
        var parsedEntries: [MetadataEntry] = []
        var index: [String: Int] = [:]
        for entryNumber in 0..<Int(metadataCount) {
            let entry = try MetadataEntry.parse(&cursor, entryNumber: entryNumber)
            guard index[entry.key] == nil else { throw GGUFError.duplicateKey(entry.key, offset: entry.keyOffset) }
            index[entry.key] = parsedEntries.count
            parsedEntries.append(entry)
        }
        entries = parsedEntries
        entryIndexByKey = index

        var alignment = 32
        if let alignmentIndex = index["general.alignment"] {
            let entry = parsedEntries[alignmentIndex]
            guard entry.type == .uint32 else {
                throw GGUFError.invalidMetadata(key: entry.key, reason: "must be uint32, found \(entry.type.name)",
                                                offset: entry.keyOffset)
            }
            let value = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: entry.valueRange.lowerBound,
                                                                     as: UInt32.self)))
            guard value > 0, value & (value - 1) == 0 else {
                throw GGUFError.invalidMetadata(key: entry.key, reason: "alignment \(value) is not a power of two",
                                                offset: entry.keyOffset)
            }
            alignment = value
        }
        self.alignment = alignment

        var parsedTensors: [GGUFTensorInfo] = []
        var tensorIndex: [String: Int] = [:]
        for tensorNumber in 0..<Int(tensorCount) {
            let info = try Self.parseTensorInfo(&cursor, tensorNumber: tensorNumber)
            guard tensorIndex[info.name] == nil else {
                throw GGUFError.duplicateTensor(info.name, offset: info.infoOffset)
            }
            tensorIndex[info.name] = parsedTensors.count
            parsedTensors.append(info)
        }
        tensors = parsedTensors
        tensorIndexByName = tensorIndex
        headerByteCount = cursor.position
        // `alignment` is at most 2^31 and `position` at most the file size, so this cannot overflow.
        dataSectionOffset = (cursor.position + alignment - 1) / alignment * alignment
        try Self.validateTensorPlacement(parsedTensors, dataSectionOffset: dataSectionOffset,
                                         alignment: alignment, fileSize: fileSize)
    }

    private static func parseTensorInfo(_ cursor: inout GGUFByteCursor, tensorNumber: Int) throws -> GGUFTensorInfo {
        let infoOffset = cursor.position
        let name = try cursor.readStrictString("name of tensor #\(tensorNumber)")
        let dimensionCountOffset = cursor.position
        let dimensionCount = try cursor.read(UInt32.self, "dimension count of tensor '\(name)'")
        guard dimensionCount <= 4 else {
            throw GGUFError.tooManyDimensions(tensor: name, count: dimensionCount, offset: dimensionCountOffset)
        }
        var dimensions: [Int] = []
        dimensions.reserveCapacity(Int(dimensionCount))
        for dimensionIndex in 0..<Int(dimensionCount) {
            let dimensionOffset = cursor.position
            let dimension = try cursor.read(Int64.self, "dimension \(dimensionIndex) of tensor '\(name)'")
            guard dimension >= 0 else {
                throw GGUFError.invalidDimension(tensor: name, index: dimensionIndex, value: dimension,
                                                 offset: dimensionOffset)
            }
            dimensions.append(Int(dimension))
        }
        let typeOffset = cursor.position
        let typeID = try cursor.read(UInt32.self, "type of tensor '\(name)'")
        guard let type = GGMLType(rawValue: typeID) else {
            throw GGUFError.unknownTensorType(tensor: name, typeID: typeID, offset: typeOffset)
        }
        let offset = try cursor.read(UInt64.self, "data offset of tensor '\(name)'")
        return try GGUFTensorInfo(name: name, dimensions: dimensions, type: type, offset: offset,
                                  infoOffset: infoOffset)
    }

    /// Every tensor must be aligned, inside the file and disjoint from the others: a pruner copies rows by
    /// byte range and must never read outside the mapping or alias two tensors.
    private static func validateTensorPlacement(_ tensors: [GGUFTensorInfo], dataSectionOffset: Int,
                                                alignment: Int, fileSize: Int) throws {
        for tensor in tensors {
            guard tensor.offset % UInt64(alignment) == 0 else {
                throw GGUFError.misalignedTensor(tensor: tensor.name, dataOffset: tensor.offset, alignment: alignment)
            }
            let (start, startOverflow) = UInt64(dataSectionOffset).addingReportingOverflow(tensor.offset)
            let (end, endOverflow) = start.addingReportingOverflow(UInt64(tensor.byteCount))
            guard !startOverflow, !endOverflow, end <= UInt64(fileSize) else {
                throw GGUFError.tensorPastEnd(tensor: tensor.name, start: start, end: end, fileSize: fileSize)
            }
        }
        let byStart = tensors.sorted { $0.offset < $1.offset }
        for (previous, next) in zip(byStart, byStart.dropFirst()) {
            // Empty tensors occupy no bytes, so they cannot overlap anything.
            if previous.byteCount > 0, next.byteCount > 0, previous.offset + UInt64(previous.byteCount) > next.offset {
                throw GGUFError.overlappingTensors(first: previous.name, second: next.name,
                                                   at: UInt64(dataSectionOffset) + next.offset)
            }
        }
    }

    // MARK: Metadata

    /// All keys in file order, without decoding any value.
    public var metadataKeys: [String] { entries.map(\.key) }

    /// Every key and decoded value, in file order. Decodes everything: prefer `value(_:)` and the typed
    /// accessors when only a few keys are needed.
    public var metadata: [(key: String, value: GGUFValue)] {
        entries.map { entry in (key: entry.key, value: decode(entry)) }
    }

    public func contains(_ key: String) -> Bool { entryIndexByKey[key] != nil }

    public func valueType(_ key: String) -> GGUFValueType? { entry(key)?.type }

    public func value(_ key: String) -> GGUFValue? { entry(key).map(decode) }

    public func string(_ key: String) -> String? {
        guard let entry = entry(key), entry.type == .string else { return nil }
        return GGUFByteCursor(storage.buffer).string(in: entry.valueRange.lowerBound + 8..<entry.valueRange.upperBound)
    }

    public func integer(_ key: String) -> Int? {
        guard let entry = entry(key), entry.type.isInteger else { return nil }
        return value(key)?.integerValue
    }

    /// Float or integer values as Double (e.g. `qwen2.rope.freq_base`).
    public func double(_ key: String) -> Double? {
        guard let entry = entry(key), entry.type != .string, entry.type != .array else { return nil }
        return decode(entry).doubleValue
    }

    /// Element type and count of an array value, without decoding it.
    public func arrayInfo(_ key: String) -> (elementType: GGUFValueType, count: Int)? {
        guard let entry = entry(key), entry.type == .array else { return nil }
        var cursor = GGUFByteCursor(storage.buffer, position: entry.valueRange.lowerBound)
        guard let typeID = try? cursor.read(UInt32.self, ""), let elementType = GGUFValueType(rawValue: typeID),
              let count = try? cursor.read(UInt64.self, "") else { return nil }
        return (elementType, Int(count))   // validated against the file size while parsing
    }

    /// Decodes an array of strings straight from the mapped bytes, with no per-element enum boxing.
    public func stringArray(_ key: String) -> [String]? {
        guard let (elementType, count) = arrayInfo(key), elementType == .string, let entry = entry(key) else {
            return nil
        }
        guard count > 0, let base = storage.buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return [] }
        var strings: [String] = []
        strings.reserveCapacity(count)
        // Parsing validated every length against the mapping, so the loop needs no further checks; typed
        // pointers keep String(decoding:) on its fastest path (about 60 ns per token).
        var position = entry.valueRange.lowerBound + 12
        for _ in 0..<count {
            let length = Int(UInt64(littleEndian: UnsafeRawPointer(base + position).loadUnaligned(as: UInt64.self)))
            position += 8
            strings.append(String(decoding: UnsafeBufferPointer(start: base + position, count: length), as: UTF8.self))
            position += length
        }
        return strings
    }

    /// Decodes an array of any integer type (e.g. `tokenizer.ggml.token_type`); nil if a value does not fit Int.
    public func integerArray(_ key: String) -> [Int]? {
        guard let (elementType, count) = arrayInfo(key), elementType.isInteger,
              let width = elementType.fixedByteCount, let entry = entry(key) else { return nil }
        let bytes = storage.buffer
        let start = entry.valueRange.lowerBound + 12
        var result = [Int](repeating: 0, count: count)
        for index in 0..<count {
            let at = start + index * width
            switch elementType {
            case .uint8: result[index] = Int(bytes[at])
            case .int8: result[index] = Int(Int8(bitPattern: bytes[at]))
            case .uint16: result[index] = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
            case .int16: result[index] = Int(Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: Int16.self)))
            case .uint32: result[index] = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
            case .int32: result[index] = Int(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: Int32.self)))
            case .int64: result[index] = Int(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: Int64.self)))
            case .uint64:
                guard let value = Int(exactly: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)))
                else { return nil }
                result[index] = value
            default: return nil
            }
        }
        return result
    }

    /// Decodes an array of float32 or float64 values (e.g. `tokenizer.ggml.scores`).
    public func floatArray(_ key: String) -> [Float]? {
        guard let (elementType, count) = arrayInfo(key), let entry = entry(key) else { return nil }
        let bytes = storage.buffer
        let start = entry.valueRange.lowerBound + 12
        switch elementType {
        case .float32:
            return (0..<count).map { index in
                Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: start + index * 4, as: UInt32.self)))
            }
        case .float64:
            return (0..<count).map { index in
                Float(Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: start + index * 8, as: UInt64.self))))
            }
        default:
            return nil
        }
    }

    /// The value's encoded bytes, for copying it unchanged into a new file.
    public func rawValue(_ key: String) -> GGUFRawValue? {
        entry(key).map { GGUFRawValue(type: $0.type, file: self, range: $0.valueRange) }
    }

    /// Every entry as raw bytes in file order: the starting point for writing a modified copy.
    public var metadataForWriting: [(key: String, value: GGUFOutputValue)] {
        entries.map { (key: $0.key, value: .raw(GGUFRawValue(type: $0.type, file: self, range: $0.valueRange))) }
    }

    /// Byte offset of a key's record, for error messages in higher layers.
    public func offset(ofKey key: String) -> Int? { entry(key)?.keyOffset }

    private func entry(_ key: String) -> MetadataEntry? {
        entryIndexByKey[key].map { entries[$0] }
    }

    private func decode(_ entry: MetadataEntry) -> GGUFValue {
        var cursor = GGUFByteCursor(storage.buffer, position: entry.valueRange.lowerBound)
        // Parsing already walked this value with the same checks, so decoding cannot fail.
        return (try? MetadataEntry.decodeValue(entry.type, &cursor, key: entry.key, depth: 0)) ?? .array([])
    }

    // MARK: Tensors

    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndexByName[name].map { tensors[$0] }
    }

    /// Absolute file offset of a tensor's first byte.
    public func absoluteOffset(of tensor: GGUFTensorInfo) -> Int { dataSectionOffset + Int(tensor.offset) }

    /// Calls `body` with the tensor's bytes inside the mapping; valid only during the call.
    public func withTensorBytes<Result>(_ tensor: GGUFTensorInfo,
                                        _ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        let start = absoluteOffset(of: tensor)
        return try body(UnsafeRawBufferPointer(rebasing: storage.buffer[start..<start + tensor.byteCount]))
    }

    /// Calls `body` with the raw bytes of one row (whole quantization blocks); nil when the row is out of range.
    public func withRowBytes<Result>(_ tensor: GGUFTensorInfo, row: Int,
                                     _ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result? {
        guard let range = tensor.byteRange(ofRow: row) else { return nil }
        let start = absoluteOffset(of: tensor) + range.lowerBound
        return try body(UnsafeRawBufferPointer(rebasing: storage.buffer[start..<start + range.count]))
    }

    /// The whole file's bytes; valid while this object lives.
    public func withFileBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(storage.buffer)
    }
}

/// A metadata value's encoded bytes inside a source file, kept alive with it.
public struct GGUFRawValue: @unchecked Sendable {
    public let type: GGUFValueType
    let file: GGUFFile
    /// Bytes after the type tag: the value itself (for arrays: element type, count and elements).
    let range: Range<Int>

    func withBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try file.withFileBytes { try body(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    public var value: GGUFValue {
        return withBytes { bytes in
            var local = GGUFByteCursor(bytes)
            return (try? MetadataEntry.decodeValue(type, &local, key: "", depth: 0)) ?? .array([])
        }
    }
}

extension GGUFValueType {
    var isInteger: Bool {
        switch self {
        case .uint8, .int8, .uint16, .int16, .uint32, .int32, .uint64, .int64: return true
        default: return false
        }
    }
}

/// A key and where its value lies; values are decoded only when asked for.
struct MetadataEntry {
    let key: String
    let keyOffset: Int
    let type: GGUFValueType
    let valueRange: Range<Int>

    /// Deep enough for any real file, shallow enough that hostile nesting cannot exhaust the stack.
    static let maximumNesting = 8

    static func parse(_ cursor: inout GGUFByteCursor, entryNumber: Int) throws -> MetadataEntry {
        let keyOffset = cursor.position
        let key = try cursor.readStrictString("key of metadata entry #\(entryNumber)")
        let typeOffset = cursor.position
        let typeID = try cursor.read(UInt32.self, "value type of key '\(key)'")
        guard let type = GGUFValueType(rawValue: typeID) else {
            throw GGUFError.unknownValueType(what: "key '\(key)'", typeID: typeID, offset: typeOffset)
        }
        let valueStart = cursor.position
        try skipValue(type, &cursor, key: key, depth: 0)
        return MetadataEntry(key: key, keyOffset: keyOffset, type: type, valueRange: valueStart..<cursor.position)
    }

    /// Walks a value with every bounds check, without materializing it.
    static func skipValue(_ type: GGUFValueType, _ cursor: inout GGUFByteCursor, key: String, depth: Int) throws {
        if let width = type.fixedByteCount {
            try cursor.skip(width, "value of key '\(key)'")
            return
        }
        if type == .string {
            _ = try cursor.readStringRange("string value of key '\(key)'")
            return
        }
        guard depth < maximumNesting else { throw GGUFError.nestingTooDeep(key: key, offset: cursor.position) }
        let (elementType, count) = try readArrayHeader(&cursor, key: key)
        if let width = elementType.fixedByteCount {
            try cursor.skip(width * count, "elements of array '\(key)'")
        } else if elementType == .string {
            for _ in 0..<count { _ = try cursor.readStringRange("string element of array '\(key)'") }
        } else {
            for _ in 0..<count { try skipValue(.array, &cursor, key: key, depth: depth + 1) }
        }
    }

    /// Reads element type and count, rejecting counts the remaining bytes cannot possibly hold.
    static func readArrayHeader(_ cursor: inout GGUFByteCursor, key: String) throws -> (GGUFValueType, Int) {
        let typeOffset = cursor.position
        let typeID = try cursor.read(UInt32.self, "element type of array '\(key)'")
        guard let elementType = GGUFValueType(rawValue: typeID) else {
            throw GGUFError.unknownValueType(what: "elements of array '\(key)'", typeID: typeID, offset: typeOffset)
        }
        let countOffset = cursor.position
        let count = try cursor.read(UInt64.self, "element count of array '\(key)'")
        guard count <= UInt64(cursor.remaining / elementType.minimumByteCount) else {
            throw GGUFError.countTooLarge(what: "element count of array '\(key)'", count: count, offset: countOffset)
        }
        return (elementType, Int(count))
    }

    static func decodeValue(_ type: GGUFValueType, _ cursor: inout GGUFByteCursor, key: String,
                            depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try cursor.read(UInt8.self, "value of key '\(key)'"))
        case .int8: return .int8(try cursor.read(Int8.self, "value of key '\(key)'"))
        case .uint16: return .uint16(try cursor.read(UInt16.self, "value of key '\(key)'"))
        case .int16: return .int16(try cursor.read(Int16.self, "value of key '\(key)'"))
        case .uint32: return .uint32(try cursor.read(UInt32.self, "value of key '\(key)'"))
        case .int32: return .int32(try cursor.read(Int32.self, "value of key '\(key)'"))
        case .uint64: return .uint64(try cursor.read(UInt64.self, "value of key '\(key)'"))
        case .int64: return .int64(try cursor.read(Int64.self, "value of key '\(key)'"))
        case .float32: return .float32(Float(bitPattern: try cursor.read(UInt32.self, "value of key '\(key)'")))
        case .float64: return .float64(Double(bitPattern: try cursor.read(UInt64.self, "value of key '\(key)'")))
        case .bool: return .bool(try cursor.read(UInt8.self, "value of key '\(key)'") != 0)
        case .string: return .string(cursor.string(in: try cursor.readStringRange("value of key '\(key)'")))
        case .array:
            guard depth < maximumNesting else { throw GGUFError.nestingTooDeep(key: key, offset: cursor.position) }
            let (elementType, count) = try readArrayHeader(&cursor, key: key)
            var elements: [GGUFValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count { elements.append(try decodeValue(elementType, &cursor, key: key, depth: depth + 1)) }
            return .array(elements)
        }
    }
}

/// The file's bytes: a read-only mapping (through VocabKitIO, which refuses FIFOs and devices), or an owned
/// copy for in-memory parsing.
final class ByteStorage {
    let buffer: UnsafeRawBufferPointer
    private let mapped: InputFile?

    init(mapping path: String) throws {
        // Always mapped: opening a model must stay as cheap as reading its header.
        let file = try InputFile(path: path, mapAbove: 0)
        mapped = file
        buffer = file.bytes
    }

    init(copying bytes: [UInt8]) {
        mapped = nil
        let owned = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        owned.copyBytes(from: bytes)
        buffer = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(owned)[0..<bytes.count])
    }

    deinit {
        if mapped == nil, let base = buffer.baseAddress { base.deallocate() }
    }
}
