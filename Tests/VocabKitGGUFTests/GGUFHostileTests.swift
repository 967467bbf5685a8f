import XCTest
import VocabKitIO
@testable import VocabKitGGUF

/// Each malformed input must produce the specific `GGUFError` naming what and where.
final class GGUFHostileTests: XCTestCase {
    private func minimal(metadata: [(String, GGUFValue)] = [("general.architecture", .string("qwen2"))],
                         tensors: [TestGGUFBuilder.Tensor] = []) -> TestGGUFBuilder {
        let builder = TestGGUFBuilder()
        builder.metadata = metadata
        builder.tensors = tensors
        return builder
    }

    private func overwrite<T: FixedWidthInteger>(_ bytes: inout [UInt8], at offset: Int, with value: T) {
        withUnsafeBytes(of: value.littleEndian) { for (index, byte) in $0.enumerated() { bytes[offset + index] = byte } }
    }

    func testWrongMagic() {
        var bytes = minimal().build()
        bytes[0] = UInt8(ascii: "X")
        guard case .notGGUF? = parseError(bytes) else { return XCTFail("expected notGGUF") }
        XCTAssertTrue(parseError(bytes)!.description.contains("XGUF"))
    }

    func testEmptyAndTinyFiles() {
        guard case .truncated? = parseError([]) else { return XCTFail("empty file") }
        guard case .truncated? = parseError(Array("GGUF".utf8)) else { return XCTFail("magic only") }
        guard case .truncated? = parseError(Array("GG".utf8)) else { return XCTFail("half the magic") }
        XCTAssertEqual(parseError(Array("{}".utf8)), .notGGUF(foundMagic: Array("{}".utf8)))
    }

    func testUnknownVersions() {
        for version: UInt32 in [0, 1, 4, 0x0300_0000] {
            var bytes = minimal().build()
            overwrite(&bytes, at: 4, with: version)
            XCTAssertEqual(parseError(bytes), .unsupportedVersion(version))
        }
        XCTAssertTrue(GGUFError.unsupportedVersion(0x0300_0000).description.contains("big-endian"))
    }

    func testTruncatedAtEveryPointOfTheHeader() {
        let builder = minimal(metadata: [("general.architecture", .string("qwen2")), ("a.list", .array([.uint16(1), .uint16(2)]))],
                              tensors: [.init(name: "t", dimensions: [32, 2], type: .q8_0)])
        let bytes = builder.build()
        for length in 0..<bytes.count - 28 {   // the last 28 bytes are padding after the data
            let error = parseError(Array(bytes[0..<length]))
            XCTAssertNotNil(error, "length \(length)")
        }
        XCTAssertNoThrow(try GGUFFile(bytes: bytes))
    }

    func testTruncatedKeyNamesTheEntry() {
        var bytes = minimal().build()
        bytes.removeLast(3)
        guard case let .truncated(what, offset, _, _)? = parseError(bytes) else { return XCTFail("expected truncated") }
        XCTAssertTrue(what.contains("general.architecture"), what)
        XCTAssertEqual(offset, 24 + 8 + 20 + 4)
    }

    func testAbsurdCounts() {
        var bytes = minimal().build()
        overwrite(&bytes, at: 16, with: UInt64.max)
        XCTAssertEqual(parseError(bytes), .countTooLarge(what: "metadata count", count: UInt64.max, offset: 16))
        bytes = minimal().build()
        overwrite(&bytes, at: 8, with: UInt64(1) << 40)
        XCTAssertEqual(parseError(bytes), .countTooLarge(what: "tensor count", count: 1 << 40, offset: 8))
    }

    func testAbsurdStringLength() {
        var bytes = minimal().build()
        overwrite(&bytes, at: 24 + 8 + 20 + 4, with: UInt64(1) << 62)   // length of the value "qwen2"
        guard case let .truncated(what, _, needed, _)? = parseError(bytes) else { return XCTFail("expected truncated") }
        XCTAssertTrue(what.contains("general.architecture"), what)
        XCTAssertEqual(needed, (1 << 62) + 8)
        bytes = minimal().build()
        overwrite(&bytes, at: 24, with: UInt64.max)   // key length
        XCTAssertNotNil(parseError(bytes))
    }

    func testAbsurdArrayCount() {
        var bytes = minimal(metadata: [("a.list", .array([.uint32(1)]))]).build()
        overwrite(&bytes, at: 24 + 8 + 6 + 4 + 4, with: UInt64(1) << 61)
        guard case let .countTooLarge(what, count, _)? = parseError(bytes) else { return XCTFail("expected countTooLarge") }
        XCTAssertTrue(what.contains("a.list"))
        XCTAssertEqual(count, 1 << 61)
    }

    func testUnknownValueType() {
        var bytes = minimal().build()
        overwrite(&bytes, at: 24 + 8 + 20, with: UInt32(13))
        XCTAssertEqual(parseError(bytes), .unknownValueType(what: "key 'general.architecture'", typeID: 13, offset: 52))
    }

    func testArraysNestedTooDeeply() {
        var value = GGUFValue.array([.uint8(1)])
        for _ in 0..<20 { value = .array([value]) }
        guard case .nestingTooDeep(key: "deep", _)? = parseError(minimal(metadata: [("deep", value)]).build()) else {
            return XCTFail("expected nestingTooDeep")
        }
    }

    func testDuplicateKeyAndInvalidUTF8Key() {
        let duplicate = minimal(metadata: [("k", .uint8(1)), ("k", .uint8(2))])
        guard case .duplicateKey("k", _)? = parseError(duplicate.build()) else { return XCTFail("duplicate key") }
        var bytes = minimal(metadata: [("kk", .uint8(1))]).build()
        bytes[32] = 0xff
        guard case .invalidUTF8? = parseError(bytes) else { return XCTFail("invalid UTF-8") }
    }

    func testBadAlignment() {
        let notPowerOfTwo = minimal(metadata: [("general.alignment", .uint32(48))])
        guard case .invalidMetadata(key: "general.alignment", _, _)? = parseError(notPowerOfTwo.build()) else {
            return XCTFail("alignment 48")
        }
        let wrongType = minimal(metadata: [("general.alignment", .uint64(32))])
        guard case .invalidMetadata(key: "general.alignment", _, _)? = parseError(wrongType.build()) else {
            return XCTFail("uint64 alignment")
        }
    }

    func testUnknownTensorType() {
        let builder = minimal(tensors: [.init(name: "w", dimensions: [4], type: .f32, typeID: 31)])
        let bytes = builder.build()
        XCTAssertEqual(parseError(bytes), .unknownTensorType(tensor: "w", typeID: 31, offset: builder.tensorInfoOffsets[0] + 8 + 1 + 4 + 8))
    }

    func testDimensionProblems() {
        let overflow = minimal(tensors: [.init(name: "big", dimensions: [1 << 32, 1 << 32], type: .f32)])
        // Built with a wrapping product; the reader must see the overflow.
        XCTAssertEqual(parseError(overflow.build()), .tensorSizeOverflow(tensor: "big", offset: overflow.tensorInfoOffsets[0]))
        let bytesOverflow = minimal(tensors: [.init(name: "bytes", dimensions: [1 << 61, 1], type: .f32)])
        guard case .tensorSizeOverflow(tensor: "bytes", _)? = parseError(bytesOverflow.build()) else { return XCTFail("byte overflow") }
        let negative = minimal(tensors: [.init(name: "neg", dimensions: [4, 1], type: .f32)])
        var bytes = negative.build()
        overwrite(&bytes, at: negative.tensorInfoOffsets[0] + 8 + 3 + 4 + 8, with: Int64(-1))
        guard case .invalidDimension(tensor: "neg", index: 1, value: -1, _)? = parseError(bytes) else { return XCTFail("negative") }
        let tooMany = minimal(tensors: [.init(name: "five", dimensions: [1, 1, 1, 1, 1], type: .f32)])
        guard case .tooManyDimensions(tensor: "five", count: 5, _)? = parseError(tooMany.build()) else { return XCTFail("5 dims") }
        let partialBlock = minimal(tensors: [.init(name: "q", dimensions: [100, 2], type: .q4_K)])
        guard case .rowNotWholeBlocks(tensor: "q", rowElements: 100, _, blockElements: 256)? = parseError(partialBlock.build()) else {
            return XCTFail("partial block")
        }
    }

    func testTensorPlacement() {
        let pastEnd = minimal(tensors: [.init(name: "w", dimensions: [8], type: .f32, offset: 1 << 20, omitData: true)])
        guard case .tensorPastEnd(tensor: "w", _, _, _)? = parseError(pastEnd.build()) else { return XCTFail("past end") }

        let truncatedData = minimal(tensors: [.init(name: "w", dimensions: [64], type: .f32)])
        let bytes = truncatedData.build()
        guard case .tensorPastEnd(tensor: "w", _, _, _)? = parseError(Array(bytes.dropLast(8))) else {
            return XCTFail("truncated data")
        }

        let misaligned = minimal(tensors: [.init(name: "w", dimensions: [8], type: .f32, offset: 4)])
        XCTAssertEqual(parseError(misaligned.build()), .misalignedTensor(tensor: "w", dataOffset: 4, alignment: 32))

        let overlapping = minimal(tensors: [.init(name: "a", dimensions: [64], type: .f32, offset: 0),
                                            .init(name: "b", dimensions: [8], type: .f32, offset: 128)])
        guard case .overlappingTensors(first: "a", second: "b", _)? = parseError(overlapping.build()) else {
            return XCTFail("overlap")
        }

        let duplicate = minimal(tensors: [.init(name: "a", dimensions: [8], type: .f32), .init(name: "a", dimensions: [8], type: .f32)])
        guard case .duplicateTensor("a", _)? = parseError(duplicate.build()) else { return XCTFail("duplicate tensor") }

        let hugeOffset = minimal(tensors: [.init(name: "w", dimensions: [8], type: .f32, offset: UInt64.max - 31)])
        guard case .tensorPastEnd? = parseError(hugeOffset.build()) else { return XCTFail("offset overflow") }
    }

    func testMissingAndIrregularPaths() {
        XCTAssertThrowsError(try GGUFFile(path: "/nonexistent/model.gguf")) { error in
            XCTAssertEqual(error as? FileError, .notFound(path: "/nonexistent/model.gguf"))
        }
        XCTAssertThrowsError(try GGUFFile(path: "/tmp")) { error in
            XCTAssertEqual(error as? FileError, .notRegularFile(path: "/tmp", kind: "a directory"))
        }
        // A FIFO would block open() forever; a device would never end.
        let fifo = TestFiles.temporaryPath("fifo.gguf")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        defer { unlink(fifo) }
        for (path, kind) in [(fifo, "a FIFO"), ("/dev/zero", "a character device")] {
            XCTAssertThrowsError(try GGUFFile(path: path)) { error in
                XCTAssertEqual(error as? FileError, .notRegularFile(path: path, kind: kind))
            }
        }
        let empty = TestFiles.temporaryPath("empty.gguf")
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
        defer { unlink(empty) }
        XCTAssertThrowsError(try GGUFFile(path: empty)) { error in
            guard case .truncated? = error as? GGUFError else { return XCTFail("\(error)") }
        }
    }

    func testDescriptionsAreSingleLines() {
        let errors: [GGUFError] = [
            .notGGUF(foundMagic: [0, 1, 2, 3]), .unsupportedVersion(9),
            .truncated(what: "x", offset: 1, needed: 2, available: 1),
            .overlappingTensors(first: "a", second: "b", at: 5), .tensorPastEnd(tensor: "t", start: 1, end: 2, fileSize: 1),
        ]
        for error in errors {
            XCTAssertFalse(error.description.contains("\n"))
            XCTAssertFalse(error.description.isEmpty)
        }
    }
}
