import Foundation
import XCTest
import VocabKitIO
@testable import VocabKitSafetensors

/// Every malformed file gives a `SafetensorsError` that names what is wrong and where; none crashes.
final class SafetensorsHostileTests: TemporaryFolderTestCase {
    typealias B = SafetensorsBytes

    func testValidBaseParses() throws {
        let file = try SafetensorsFile(bytes: B.valid)
        XCTAssertEqual(file.tensors.map(\.name), ["a", "b"])
        XCTAssertEqual(file.tensors.map(\.dataRange), [0..<16, 16..<22])
    }

    func testTruncatedAtEveryPoint() {
        let bytes = B.valid
        for length in 0..<bytes.count {
            XCTAssertNotNil(B.parseError(Array(bytes[0..<length])), "prefix of \(length) bytes accepted")
        }
    }

    func testEveryBitFlipIsAnErrorOrAConsistentFile() {
        let bytes = B.valid
        let dataStart = bytes.count - B.validData.count
        var refused = 0
        for offset in 0..<bytes.count {
            for bit in 0..<8 {
                var mutated = bytes
                mutated[offset] ^= UInt8(1 << bit)
                do {
                    let file = try SafetensorsFile(bytes: mutated)
                    // What parses must still tile the data exactly.
                    let total = file.tensors.reduce(0) { $0 + $1.byteCount }
                    XCTAssertEqual(total, mutated.count - file.dataOffset)
                } catch let error as SafetensorsError {
                    refused += 1
                    XCTAssertFalse(error.description.isEmpty)
                    XCTAssertLessThan(offset, dataStart, "a flip in tensor data (byte \(offset)) must not matter")
                    if offset < 8 { continue }
                } catch {
                    XCTFail("unexpected \(error)")
                }
                if offset < 8 {
                    XCTFail("a flip in the header length (byte \(offset) bit \(bit)) was accepted")
                }
            }
        }
        XCTAssertGreaterThan(refused, 8 * 8)
    }

    func testHeaderLengthBounds() {
        var bytes = B.valid
        bytes.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64.max.littleEndian) { Array($0) })
        guard case let .malformedHeader(_, offset, reason)? = B.parseError(bytes) else { return XCTFail("2^64-1") }
        XCTAssertEqual(offset, 0)
        XCTAssertTrue(reason.contains("more than 100000000"), reason)
        bytes.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(100_000_001).littleEndian) { Array($0) })
        guard case .malformedHeader? = B.parseError(bytes) else { return XCTFail("100 MB + 1") }
        bytes.replaceSubrange(0..<8, with: withUnsafeBytes(of: UInt64(bytes.count - 7).littleEndian) { Array($0) })
        guard case let .truncated(_, reason)? = B.parseError(bytes) else { return XCTFail("past the end") }
        XCTAssertTrue(reason.contains("only"), reason)
        guard case .truncated? = B.parseError([1, 2, 3]) else { return XCTFail("3 bytes") }
        guard case .malformedHeader? = B.parseError(B.file(header: "", data: [], pad: false)) else { return XCTFail("empty header") }
    }

    func testHeaderMustBeAStrictJSONObject() {
        for header in ["[]", "null", "1", #""x""#, "{", #"{"a":1,}"#, "{}x", #"{"a":{"dtype":"F32"}"#] {
            guard case .malformedHeader? = B.parseError(B.file(header: header, data: [])) else {
                XCTFail("accepted header \(header)"); continue
            }
        }
        // Invalid UTF-8 and deep nesting in the header.
        var bytes = B.file(header: #"{"\#u{FF}":1}"#, data: [])
        bytes[10] = 0xFF
        XCTAssertNotNil(B.parseError(bytes))
        XCTAssertNotNil(B.parseError(B.file(header: String(repeating: "[", count: 100_000), data: [])))
        // The offset points into the file (8 + offset in the header).
        guard case let .malformedHeader(_, offset, _)? = B.parseError(B.file(header: #"{"a" 1}"#, data: [])) else { return XCTFail() }
        XCTAssertEqual(offset, 8 + 5)
    }

    func testDuplicateTensorNamesAreRefused() {
        let header = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}"#
        guard case let .malformedHeader(_, _, reason)? = B.parseError(B.file(header: header, data: [1, 2, 3, 4])) else { return XCTFail() }
        XCTAssertTrue(reason.contains("duplicate key"), reason)
    }

    func expectTensorError(_ entry: String, data: [UInt8], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        let bytes = B.file(header: "{\"t\":\(entry)}", data: data)
        guard case let .invalidTensor(_, name, reason)? = B.parseError(bytes) else {
            return XCTFail("accepted or wrong error for \(entry): \(String(describing: B.parseError(bytes)))", file: file, line: line)
        }
        XCTAssertEqual(name, "t", file: file, line: line)
        XCTAssertTrue(reason.contains(fragment), "\(reason) lacks \(fragment)", file: file, line: line)
    }

    func testDTypeShapeAndOffsetValidation() {
        expectTensorError(#"{"dtype":"F31","shape":[1],"data_offsets":[0,4]}"#, data: [0, 0, 0, 0], "unknown dtype 'F31'")
        expectTensorError(#"{"dtype":3,"shape":[1],"data_offsets":[0,4]}"#, data: [0, 0, 0, 0], "no dtype")
        expectTensorError(#"{"shape":[1],"data_offsets":[0,4]}"#, data: [0, 0, 0, 0], "no dtype")
        expectTensorError(#"{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}"#, data: [0, 0, 0, 0], "not a non-negative integer")
        expectTensorError(#"{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}"#, data: [0, 0, 0, 0], "not a non-negative integer")
        expectTensorError(#"{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}"#, data: [0, 0, 0, 0], "not a non-negative integer")
        expectTensorError(#"{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}"#, data: [0, 0, 0, 0], "not a non-negative integer")
        expectTensorError(#"{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}"#, data: [0, 0, 0, 0], "more elements than can be addressed")
        expectTensorError(#"{"dtype":"F64","shape":[2305843009213693952],"data_offsets":[0,4]}"#, data: [0, 0, 0, 0], "do not fill whole bytes")
        expectTensorError(#"{"dtype":"F32","shape":{},"data_offsets":[0,4]}"#, data: [0, 0, 0, 0], "no shape")
        expectTensorError(#"{"dtype":"F4","shape":[3],"data_offsets":[0,2]}"#, data: [0, 0], "do not fill whole bytes")
        expectTensorError(#"{"dtype":"F32","shape":[1],"data_offsets":[0]}"#, data: [0, 0, 0, 0], "not a pair")
        expectTensorError(#"{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}"#, data: [0, 0, 0, 0], "not a pair")
        expectTensorError(#"{"dtype":"F32","shape":[1],"data_offsets":[4,0]}"#, data: [0, 0, 0, 0], "ascending pair")
        expectTensorError(#"{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}"#, data: [0, 0, 0, 0], "ascending pair")
        expectTensorError(#"{"dtype":"F32","shape":[1],"data_offsets":[0,8]}"#, data: Array(repeating: 0, count: 8), "needs 4 bytes but data_offsets span 8")
        expectTensorError(#"{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#, data: [0, 0, 0, 0], "past the 4 bytes")
        expectTensorError(#"{"dtype":"F32","shape":[1],"data_offsets":[4,8]}"#, data: Array(repeating: 0, count: 8), "gap")
        expectTensorError(#"[1]"#, data: [], "not an object")
    }

    func testOverlapGapAndLeftoverData() {
        let overlap = #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}"#
        guard case let .invalidTensor(_, name, reason)? = B.parseError(B.file(header: overlap, data: [1, 2, 3, 4])) else { return XCTFail() }
        XCTAssertEqual(name, "b")
        XCTAssertTrue(reason.contains("overlaps"), reason)
        let gap = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}}"#
        guard case .invalidTensor(_, "b", _)? = B.parseError(B.file(header: gap, data: [1, 2, 3, 4, 5])) else { return XCTFail() }
        let leftover = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#
        guard case let .malformedHeader(_, _, reason2)? = B.parseError(B.file(header: leftover, data: [1, 2, 3])) else { return XCTFail() }
        XCTAssertTrue(reason2.contains("belong to no tensor"), reason2)
        let same = #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#
        XCTAssertNotNil(B.parseError(B.file(header: same, data: [1, 2])))
    }

    func testMetadataMustMapStringsToStrings() {
        for metadata in [#""x""#, #"{"format":1}"#, #"{"a":{"b":"c"}}"#, "[]"] {
            let header = #"{"__metadata__":"# + metadata + "}"
            guard case .malformedHeader? = B.parseError(B.file(header: header, data: [])) else { XCTFail(metadata); continue }
        }
        XCTAssertNoThrow(try SafetensorsFile(bytes: B.file(header: #"{"__metadata__":{}}"#, data: [])))
    }

    func testFIFOAndDirectoryAreRefusedWithoutBlocking() throws {
        let fifo = folder + "/model.safetensors"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertThrowsError(try SafetensorsFile(path: fifo)) { error in
            guard case .notRegularFile? = error as? FileError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try SafetensorsFile(path: folder))
        XCTAssertThrowsError(try SafetensorsFile(path: folder + "/missing.safetensors")) { error in
            XCTAssertEqual(error as? FileError, .notFound(path: self.folder + "/missing.safetensors"))
        }
    }
}
