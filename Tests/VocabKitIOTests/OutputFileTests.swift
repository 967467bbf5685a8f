import Foundation
import XCTest
@testable import VocabKitIO
#if canImport(Glibc)
import Glibc
#endif

final class OutputFileTests: XCTestCase {
    var folder: String!

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "vocabkit-io-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    func contents(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { [UInt8]($0) } }
    func entries() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted() }

    func testCommitPublishesCompleteFileAndLeavesNoTemporary() throws {
        let path = folder + "/out.bin"
        let payload = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try OutputFile.write(to: path) { out in
            try out.write(Array(payload[0..<10]))
            XCTAssertNil(self.contents(path), "nothing at the destination before commit")
            try out.write(Array(payload[10...]))
        }
        XCTAssertEqual(contents(path), payload)
        XCTAssertEqual(entries(), ["out.bin"])
        var status = stat()
        XCTAssertEqual(stat(path, &status), 0)
        XCTAssertEqual(status.st_mode & 0o777, 0o666 & ~OutputFileTests.umaskValue)
    }

    static var umaskValue: mode_t { let m = umask(0o022); umask(m); return m }

    func testFailureLeavesDestinationUntouchedAndNothingBehind() throws {
        let path = folder + "/model.gguf"
        try Array("old".utf8).write(toFile: path)
        struct Boom: Error {}
        XCTAssertThrowsError(try OutputFile.write(to: path) { out in
            try out.write(Array(repeating: 7, count: 2_000_000))
            throw Boom()
        })
        XCTAssertEqual(contents(path), Array("old".utf8))
        XCTAssertEqual(entries(), ["model.gguf"])
    }

    func testNeverTouchesPredictableTemporaryNamesOrFollowsLinks() throws {
        let path = folder + "/out.gguf"
        let victim = folder + "/victim.txt"
        try Array("precious".utf8).write(toFile: victim)
        try Array("user file".utf8).write(toFile: path + ".tmp")
        try FileManager.default.createSymbolicLink(atPath: folder + "/out.gguf.tmp2", withDestinationPath: victim)
        try FileManager.default.createSymbolicLink(atPath: folder + "/.out.gguf.tmp", withDestinationPath: victim)
        try OutputFile.write(Array("model".utf8), to: path)
        XCTAssertEqual(contents(victim), Array("precious".utf8))
        XCTAssertEqual(contents(path + ".tmp"), Array("user file".utf8))
        XCTAssertEqual(contents(path), Array("model".utf8))
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: folder + "/out.gguf.tmp2"), victim)
    }

    func testDestinationSymlinkIsReplacedNotWrittenThrough() throws {
        let victim = folder + "/victim.txt"
        try Array("precious".utf8).write(toFile: victim)
        let path = folder + "/out.tsv"
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: folder + "/elsewhere.tsv")
        try OutputFile.write(Array("table".utf8), to: path)
        XCTAssertEqual(contents(victim), Array("precious".utf8))
        XCTAssertNil(try? FileManager.default.destinationOfSymbolicLink(atPath: path), "the link itself was replaced")
        XCTAssertEqual(contents(path), Array("table".utf8))
    }

    func testOutputThatIsAnInputIsRefusedUnderEverySpelling() throws {
        let input = folder + "/model.gguf"
        try Array("GGUF model".utf8).write(toFile: input)
        try FileManager.default.createSymbolicLink(atPath: folder + "/link.gguf", withDestinationPath: input)
        XCTAssertEqual(link(input, folder + "/hard.gguf"), 0)
        let cwd = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(folder)
        defer { FileManager.default.changeCurrentDirectoryPath(cwd) }
        let last: String = (folder as NSString).lastPathComponent
        let dir: String = folder
        let spellings: [String] = [input, dir + "/./model.gguf", dir + "/../" + last + "/model.gguf",
                                   "model.gguf", "./model.gguf", dir + "/link.gguf", dir + "/hard.gguf"]
        for spelling in spellings {
            XCTAssertThrowsError(try OutputFile(path: spelling, inputs: [input]), spelling) { error in
                guard case .outputIsInput? = error as? FileError else { return XCTFail("\(spelling): \(error)") }
            }
        }
        XCTAssertEqual(contents(input), Array("GGUF model".utf8))
        XCTAssertEqual(entries(), ["hard.gguf", "link.gguf", "model.gguf"])
    }

    func testTwoOutputsNamingOneFileAreRefused() throws {
        XCTAssertThrowsError(try OutputSafety.check(outputs: [folder + "/a.tsv", folder + "/./a.tsv"], inputs: [])) { error in
            guard case .outputsCollide? = error as? FileError else { return XCTFail("\(error)") }
        }
        XCTAssertNoThrow(try OutputSafety.check(outputs: [folder + "/a.tsv", folder + "/b.tsv"], inputs: [folder + "/c"]))
    }

    func testOutputSetPublishesAllOrNothing() throws {
        let a = folder + "/a.gguf", b = folder + "/b.tsv"
        struct Boom: Error {}
        do {
            let set = try OutputSet(outputs: [a, b], inputs: [])
            try set.create(a).write(Array("model".utf8))
            _ = try set.create(b)
            throw Boom()
        } catch is Boom {}
        XCTAssertEqual(entries(), [])
        let set = try OutputSet(outputs: [a, b], inputs: [])
        try set.create(a).write(Array("model".utf8))
        try set.create(b).write(Array("remap".utf8))
        XCTAssertEqual(entries().filter { !$0.hasPrefix(".") }, [], "nothing published before commit")
        try set.commit()
        XCTAssertEqual(entries(), ["a.gguf", "b.tsv"])
    }

    func testMissingFolderAndDirectoryDestinationAreClearErrors() {
        XCTAssertThrowsError(try OutputFile(path: folder + "/no/such/out.gguf")) { error in
            XCTAssertEqual("\(error)", "\(folder!)/no/such/out.gguf: cannot write: its folder \(folder!)/no/such does not exist")
        }
        XCTAssertThrowsError(try OutputFile(path: folder)) { error in
            XCTAssertEqual(error as? FileError, .writeFailed(path: folder, reason: "is a directory"))
        }
    }

    /// Writers racing to one destination each publish a whole file; the survivor is exactly one of them.
    func testConcurrentWritersNeverInterleave() throws {
        let path = folder + "/out.bin"
        let writers = 6, size = 3 << 20
        let errors = ErrorBox()
        DispatchQueue.concurrentPerform(iterations: writers) { w in
            do {
                try OutputFile.write(to: path) { out in
                    let chunk = [UInt8](repeating: UInt8(w + 1), count: 1 << 16)
                    for _ in 0..<(size / chunk.count) { try out.write(chunk) }
                }
            } catch { errors.add(error) }
        }
        XCTAssertTrue(errors.all.isEmpty, "\(errors.all)")
        let result = try XCTUnwrap(contents(path))
        XCTAssertEqual(result.count, size)
        XCTAssertTrue((1...writers).contains(Int(result[0])))
        XCTAssertTrue(result.allSatisfy { $0 == result[0] }, "bytes from two writers in one file")
        XCTAssertEqual(entries(), ["out.bin"])
    }
}

final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [Error] = []
    func add(_ e: Error) { lock.lock(); errors.append(e); lock.unlock() }
    var all: [Error] { lock.lock(); defer { lock.unlock() }; return errors }
}

extension Array where Element == UInt8 {
    func write(toFile path: String) throws { try Data(self).write(to: URL(fileURLWithPath: path)) }
}
