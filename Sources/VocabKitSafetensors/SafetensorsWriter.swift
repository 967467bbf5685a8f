import VocabKitIO

/// Where a tensor's bytes go; counts them so a tensor that produces the wrong amount is caught.
public final class SafetensorsDataSink {
    let output: OutputFile
    public private(set) var bytesWritten = 0

    init(output: OutputFile) { self.output = output }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        try output.write(bytes)
        bytesWritten += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }
}

/// A tensor to write: its header entry and a closure that streams exactly its bytes.
public struct SafetensorsOutputTensor {
    public var name: String
    public var dtype: SafetensorsDType
    public var shape: [Int]
    public var writeData: (SafetensorsDataSink) throws -> Void

    public init(name: String, dtype: SafetensorsDType, shape: [Int], writeData: @escaping (SafetensorsDataSink) throws -> Void) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.writeData = writeData
    }

    /// Bytes the shape and dtype call for, or nil if they cannot be stored.
    public var byteCount: Int? {
        var elements = 1
        for size in shape {
            guard size >= 0 else { return nil }
            let (product, overflow) = elements.multipliedReportingOverflow(by: size)
            guard !overflow else { return nil }
            elements = product
        }
        return dtype.byteCount(elements: elements)
    }

    /// A tensor of `file` copied byte for byte, streamed in chunks whose mapped pages are handed back.
    public static func copying(_ tensor: SafetensorsTensor, from file: SafetensorsFile) -> SafetensorsOutputTensor {
        SafetensorsOutputTensor(name: tensor.name, dtype: tensor.dtype, shape: tensor.shape) { sink in
            try file.withBytes(of: tensor) { bytes in
                var start = 0
                while start < bytes.count {
                    let end = min(bytes.count, start + SafetensorsWriter.streamChunk)
                    try sink.write(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                    file.release(tensor, bytes: start..<end)
                    start = end
                }
            }
        }
    }
}

/// Writes safetensors files in one streaming pass: the header (tensors in the given order, data laid out in
/// that order, the JSON padded with spaces to a multiple of 8 bytes as the reference library does), then
/// each tensor's bytes, checked against its shape.
public enum SafetensorsWriter {
    /// Bytes copied per write when streaming a tensor.
    public static let streamChunk = 8 << 20

    /// The header bytes (length prefix included) for these tensors.
    public static func header(metadata: [(key: String, value: String)]?, tensors: [SafetensorsOutputTensor]) throws -> [UInt8] {
        var members: [JSONMember] = []
        if let metadata {
            members.append(JSONMember("__metadata__", .object(metadata.map { JSONMember($0.key, .string($0.value)) })))
        }
        var offset = 0
        var names = Set<String>()
        for tensor in tensors {
            guard tensor.name != "__metadata__", names.insert(tensor.name).inserted else {
                throw SafetensorsError.invalidWriterInput("tensor name '\(tensor.name)' is reserved or used twice")
            }
            guard let bytes = tensor.byteCount else {
                throw SafetensorsError.invalidWriterInput("tensor '\(tensor.name)': shape \(tensor.shape) of \(tensor.dtype.rawValue) cannot be stored")
            }
            let (end, overflow) = offset.addingReportingOverflow(bytes)
            guard !overflow else { throw SafetensorsError.invalidWriterInput("tensor data exceeds the addressable size") }
            members.append(JSONMember(tensor.name, .object([
                JSONMember("dtype", .string(tensor.dtype.rawValue)),
                JSONMember("shape", .array(tensor.shape.map { .integer($0) })),
                JSONMember("data_offsets", .array([.integer(offset), .integer(end)])),
            ])))
            offset = end
        }
        var json = Array(JSONWriter(pretty: false).text(.object(members)).utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        guard json.count <= SafetensorsFile.maximumHeaderBytes else {
            throw SafetensorsError.invalidWriterInput("the header would be \(json.count) bytes, more than readers accept")
        }
        var out: [UInt8] = []
        out.reserveCapacity(8 + json.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        return out
    }

    /// Streams the file into `output` (not committed: the caller commits it, alone or with an `OutputSet`).
    /// Returns the file's size.
    @discardableResult
    public static func write(to output: OutputFile, metadata: [(key: String, value: String)]?,
                             tensors: [SafetensorsOutputTensor]) throws -> Int {
        let header = try header(metadata: metadata, tensors: tensors)
        try output.write(header)
        var total = header.count
        for tensor in tensors {
            let sink = SafetensorsDataSink(output: output)
            try tensor.writeData(sink)
            let expected = tensor.byteCount ?? -1
            guard sink.bytesWritten == expected else {
                throw SafetensorsError.invalidWriterInput("tensor '\(tensor.name)' produced \(sink.bytesWritten) bytes, expected \(expected)")
            }
            total += expected
        }
        return total
    }

    /// Writes a whole file at `path` through a temporary file renamed when complete.
    public static func write(to path: String, inputs: [String] = [], metadata: [(key: String, value: String)]?,
                             tensors: [SafetensorsOutputTensor]) throws {
        try OutputFile.write(to: path, inputs: inputs) { output in
            try write(to: output, metadata: metadata, tensors: tensors)
        }
    }
}
