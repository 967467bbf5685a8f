import Foundation
import XCTest
@testable import VocabKitIO
#if canImport(Glibc)
import Glibc
#endif

final class InputFileTests: XCTestCase {
    var folder: String!

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "vocabkit-io-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    func testReadsSmallMappedAndEmptyFilesAlike() throws {
        for size in [0, 1, 4095, 1 << 20, (1 << 20) + 1, 3 << 20] {
            let path = folder + "/f\(size)"
            let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
            try payload.write(toFile: path)
            XCTAssertEqual(try InputFile(path: path).array, payload, "size \(size)")
            let buffer = ReadBuffer(readLimit: 2 << 20)
            XCTAssertEqual(try InputFile(path: path, buffer: buffer).array, payload, "size \(size), buffered")
            XCTAssertEqual(try InputFile.head(of: path, count: 4), Array(payload.prefix(4)))
        }
    }

    /// A FIFO would block `open` forever and a device would never end: both are refused at once.
    func testFIFOsDevicesAndDirectoriesAreRefusedWithoutBlocking() throws {
        let fifo = folder + "/fifo"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let cases: [(String, String)] = [(fifo, "a FIFO"), ("/dev/zero", "a character device"),
                                         ("/dev/urandom", "a character device"), (folder!, "a directory")]
        for (path, kind) in cases {
            XCTAssertThrowsError(try InputFile(path: path)) { error in
                XCTAssertEqual(error as? FileError, .notRegularFile(path: path, kind: kind))
            }
            XCTAssertThrowsError(try InputFile.head(of: path, count: 4)) { error in
                XCTAssertEqual(error as? FileError, .notRegularFile(path: path, kind: kind))
            }
        }
        XCTAssertThrowsError(try InputFile(path: folder + "/missing")) { error in
            XCTAssertEqual(error as? FileError, .notFound(path: folder + "/missing"))
        }
    }

    func testLimitIsCheckedBeforeReading() throws {
        let path = folder + "/big"
        try [UInt8](repeating: 1, count: 5000).write(toFile: path)
        XCTAssertThrowsError(try InputFile(path: path, limit: 4999)) { error in
            XCTAssertEqual(error as? FileError, .tooLarge(path: path, size: 5000, limit: 4999))
        }
        XCTAssertEqual(try InputFile(path: path, limit: 5000).bytes.count, 5000)
    }

    func testLinesReadAlikeWhateverTheLineEnds() {
        let variants = ["a\tb\nc\n\nd", "a\tb\r\nc\r\n\r\nd", "a\tb\nc\r\n\nd\n", "a\tb\r\nc\n\r\nd\r\n"]
        for text in variants {
            let bytes = Array(text.utf8)
            let lines = bytes.withUnsafeBytes { raw in TextLines(raw).map { "\($0.number):\($0.text)" } }
            XCTAssertEqual(lines, ["1:a\tb", "2:c", "3:", "4:d"], text.debugDescription)
        }
        let inner = Array("x\ry\n".utf8)
        XCTAssertEqual(inner.withUnsafeBytes { TextLines($0).map(\.text) }, ["x\ry"], "a lone CR inside a line stays")
        XCTAssertEqual([UInt8]().withUnsafeBytes { TextLines($0).map(\.text) }, [])
    }

    func testDecimalParsingRefusesOverflowSignsAndSpace() {
        XCTAssertEqual(DecimalParser.unsigned(Array("18446744073709551615".utf8)), UInt64.max)
        XCTAssertNil(DecimalParser.unsigned(Array("18446744073709551616".utf8)))
        XCTAssertNil(DecimalParser.unsigned(Array("99999999999999999999999".utf8)))
        XCTAssertEqual(DecimalParser.int(Array("9223372036854775807".utf8)), Int.max)
        XCTAssertNil(DecimalParser.int(Array("9223372036854775808".utf8)))
        for bad in ["", "-1", "+1", " 1", "1 ", "1e3", "0x10", "１"] {
            XCTAssertNil(DecimalParser.unsigned(Array(bad.utf8)), bad)
        }
        XCTAssertEqual(DecimalParser.unsigned(Array("000123".utf8)), 123)
    }
}
