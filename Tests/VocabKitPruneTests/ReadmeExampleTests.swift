import Foundation
import VocabKitTestSupport
import XCTest

/// The README's library example is Examples/QuickStart/main.swift, word for word, and it runs.
final class ReadmeExampleTests: XCTestCase {
    func testReadmeShowsTheExampleThatRuns() throws {
        let root = TestData.repositoryRoot
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let source = try String(contentsOf: root.appendingPathComponent("Examples/QuickStart/main.swift"), encoding: .utf8)
        let marker = "<!-- quickstart: Examples/QuickStart/main.swift -->\n```swift\n"
        let start = try XCTUnwrap(readme.range(of: marker), "the README has no quickstart block")
        let end = try XCTUnwrap(readme.range(of: "```\n", range: start.upperBound..<readme.endIndex))
        XCTAssertEqual(String(readme[start.upperBound..<end.lowerBound]), source, "README.md and Examples/QuickStart/main.swift differ")

        let binary = CLI.binary.deletingLastPathComponent().appendingPathComponent("vocabkit-quickstart")
        let process = Process()
        process.executableURL = binary
        process.currentDirectoryURL = root
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, output)
        XCTAssertTrue(output.contains("ids: [750, 40786, 3153, 1648] -> def greet(name):"), output)
        XCTAssertTrue(output.contains("vocabulary: 151936 -> "), output)
        XCTAssertTrue(output.contains("parity holds: true"), output)
    }
}
