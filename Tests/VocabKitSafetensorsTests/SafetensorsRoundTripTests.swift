import Foundation
import XCTest
import VocabKitIO
@testable import VocabKitSafetensors

final class SafetensorsRoundTripTests: TemporaryFolderTestCase {
    /// A shape of 8 elements for byte-wide types and a whole number of bytes for sub-byte ones.
    func shape(for dtype: SafetensorsDType) -> [Int] { dtype.bits % 8 == 0 ? [2, 4] : dtype.bits == 4 ? [2, 4] : [4, 4] }

    func testEveryDTypeRoundTripsByteForByte() throws {
        var originals: [String: [UInt8]] = [:]
        var tensors: [SafetensorsOutputTensor] = []
        for (index, dtype) in SafetensorsDType.allCases.enumerated() {
            let bytes = SafetensorsOutputTensor(name: "", dtype: dtype, shape: shape(for: dtype)) { _ in }.byteCount!
            let data = (0..<bytes).map { UInt8(truncatingIfNeeded: index * 31 + $0 * 17 + 3) }
            let name = "layer.\(index).\(dtype.rawValue)"
            originals[name] = data
            tensors.append(SafetensorsOutputTensor(name: name, dtype: dtype, shape: shape(for: dtype)) { try $0.write(data) })
        }
        let path = folder + "/all.safetensors"
        try SafetensorsWriter.write(to: path, metadata: [("format", "pt"), ("note", "é \"quoted\"")], tensors: tensors)
        XCTAssertEqual(entries(), ["all.safetensors"], "no temporary file left")

        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.metadata?.map(\.key), ["format", "note"])
        XCTAssertEqual(file.metadata?.last?.value, "é \"quoted\"")
        XCTAssertEqual(file.tensors.map(\.name), tensors.map(\.name), "header order is the written order")
        XCTAssertEqual(file.dataOffset % 8, 0, "header padded to 8 bytes")
        for (tensor, dtype) in zip(file.tensors, SafetensorsDType.allCases) {
            XCTAssertEqual(tensor.dtype, dtype)
            XCTAssertEqual(tensor.shape, shape(for: dtype))
            file.withBytes(of: tensor) { XCTAssertEqual(Array($0), originals[tensor.name], tensor.name) }
        }

        // Copying every tensor reproduces the file exactly.
        let copy = folder + "/copy.safetensors"
        try SafetensorsWriter.write(to: copy, inputs: [path], metadata: file.metadata,
                                    tensors: file.tensors.map { .copying($0, from: file) })
        XCTAssertEqual(contents(copy), contents(path))
    }

    /// The reference library's own output (Tests/Fixtures/safetensors/make_golden.py) reads with the values
    /// it was given, and rewriting it in the same order gives back the same bytes.
    func testReferenceGoldenReadsAndRewritesIdentically() throws {
        let golden = Self.fixtures + "/safetensors/all-dtypes.safetensors"
        let file = try SafetensorsFile(path: golden)
        XCTAssertEqual(file.tensors.count, 20)
        XCTAssertEqual(file.metadata?.map(\.key), ["format"])
        let names = ["bool", "uint8", "int8", "float8_e5m2", "float8_e4m3fn", "float8_e8m0fnu", "float8_e4m3fnuz",
                     "float8_e5m2fnuz", "int16", "uint16", "float16", "bfloat16", "int32", "uint32", "float32",
                     "complex64", "float64", "int64", "uint64", "float4_e2m1fn_x2"]
        let dtypes: [SafetensorsDType] = [.bool, .u8, .i8, .f8E5M2, .f8E4M3, .f8E8M0, .f8E4M3FNUZ, .f8E5M2FNUZ, .i16, .u16,
                                          .f16, .bf16, .i32, .u32, .f32, .c64, .f64, .i64, .u64, .f4]
        for (index, name) in names.enumerated() {
            let tensorName = String(format: "t%02d.", names.count - index) + name
            guard let tensor = file.tensor(named: tensorName) else { XCTFail("missing \(tensorName)"); continue }
            XCTAssertEqual(tensor.dtype, dtypes[index], name)
            XCTAssertEqual(tensor.shape, [2, 4], name)
            let expected = (0..<tensor.byteCount).map { name == "bool" ? UInt8($0 & 1) : UInt8((index * 37 + $0 * 11) & 0xFF) }
            file.withBytes(of: tensor) { XCTAssertEqual(Array($0), expected, name) }
        }
        let ordered = file.tensors.sorted { $0.dataRange.lowerBound < $1.dataRange.lowerBound }
        let copy = folder + "/copy.safetensors"
        try SafetensorsWriter.write(to: copy, metadata: file.metadata, tensors: ordered.map { .copying($0, from: file) })
        XCTAssertEqual(contents(copy), contents(golden))
    }

    func testScalarsAndEmptyTensors() throws {
        let path = folder + "/s.safetensors"
        try SafetensorsWriter.write(to: path, metadata: nil, tensors: [
            SafetensorsOutputTensor(name: "empty", dtype: .f32, shape: [0, 7]) { _ in },
            SafetensorsOutputTensor(name: "scalar", dtype: .i64, shape: []) { try $0.write([1, 0, 0, 0, 0, 0, 0, 0]) },
            SafetensorsOutputTensor(name: "empty2", dtype: .bf16, shape: [0]) { _ in },
        ])
        let file = try SafetensorsFile(path: path)
        XCTAssertNil(file.metadata)
        XCTAssertEqual(file.tensors.map(\.byteCount), [0, 8, 0])
        XCTAssertEqual(file.tensor(named: "scalar")?.elementCount, 1)
    }

    func testLargeFileIsMappedAndStreams() throws {
        // Above InputFile's 1 MiB read limit, so the reader maps it and the copy releases pages as it goes.
        let rows = 600, columns = 1024
        let data = (0..<(rows * columns * 2)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }
        let path = folder + "/big.safetensors"
        try SafetensorsWriter.write(to: path, metadata: [("format", "pt")], tensors: [
            SafetensorsOutputTensor(name: "model.embed_tokens.weight", dtype: .bf16, shape: [rows, columns]) { try $0.write(data) },
        ])
        let file = try SafetensorsFile(path: path)
        XCTAssertEqual(file.tensors.first?.rowByteCount, columns * 2)
        let copy = folder + "/copy.safetensors"
        try SafetensorsWriter.write(to: copy, metadata: file.metadata, tensors: file.tensors.map { .copying($0, from: file) })
        XCTAssertEqual(contents(copy), contents(path))
    }

    func testWriterRefusesWrongByteCountsAndLeavesNothing() throws {
        let path = folder + "/bad.safetensors"
        XCTAssertThrowsError(try SafetensorsWriter.write(to: path, metadata: nil, tensors: [
            SafetensorsOutputTensor(name: "t", dtype: .f32, shape: [2]) { try $0.write([1, 2, 3]) },
        ])) { XCTAssertTrue("\($0)".contains("produced 3 bytes, expected 8"), "\($0)") }
        XCTAssertThrowsError(try SafetensorsWriter.write(to: path, metadata: nil, tensors: [
            SafetensorsOutputTensor(name: "t", dtype: .f4, shape: [3]) { _ in },
        ]))
        XCTAssertThrowsError(try SafetensorsWriter.write(to: path, metadata: nil, tensors: [
            SafetensorsOutputTensor(name: "t", dtype: .u8, shape: [1]) { try $0.write([1]) },
            SafetensorsOutputTensor(name: "t", dtype: .u8, shape: [1]) { try $0.write([1]) },
        ]))
        XCTAssertThrowsError(try SafetensorsWriter.write(to: path, metadata: nil, tensors: [
            SafetensorsOutputTensor(name: "t", dtype: .u8, shape: [Int.max, 2]) { _ in },
        ]))
        XCTAssertEqual(entries(), [])
    }

    func testWriterRefusesToOverwriteItsInput() throws {
        let path = folder + "/m.safetensors"
        try write(SafetensorsBytes.valid, "m.safetensors")
        let file = try SafetensorsFile(path: path)
        XCTAssertThrowsError(try SafetensorsWriter.write(to: path, inputs: [path], metadata: nil,
                                                         tensors: file.tensors.map { .copying($0, from: file) }))
        XCTAssertEqual(contents(path), SafetensorsBytes.valid)
    }
}
