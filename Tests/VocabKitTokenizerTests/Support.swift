import Foundation
import VocabKitTokenizer
import XCTest
import VocabKitTestSupport

/// The repository root, found from this file's path, so tests read committed fixtures without a bundle.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// One shared tokenizer: loading the bundled vocabulary once keeps the suite fast.
let bundledTokenizer: Tokenizer = {
    do { return Tokenizer(vocabulary: try Vocabulary.bundled()) } catch { fatalError("bundled vocabulary: \(error)") }
}()

/// The shared deterministic generator, so that random tests are reproducible.
typealias SeededGenerator = SplitMix64

/// Test data that scripts fetch (Tests/Fixtures/llama-vocab/fetch.sh, Tests/Scripts/setup-oracle.sh).
func fetchedTestData(_ relative: String) -> String? {
    let path = repositoryRoot.appendingPathComponent(relative).path
    return FileManager.default.fileExists(atPath: path) ? path : nil
}

/// Fails rather than skips when CI promised the data (VOCABKIT_REQUIRE_TEST_DATA=1).
func requireTestData(_ relative: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
    if let p = fetchedTestData(relative) { return p }
    if ProcessInfo.processInfo.environment["VOCABKIT_REQUIRE_TEST_DATA"] == "1" {
        XCTFail("\(relative) is missing; run Tests/Scripts/fetch-test-data.sh", file: file, line: line)
    }
    throw XCTSkip("\(relative) not fetched; run Tests/Scripts/fetch-test-data.sh")
}
