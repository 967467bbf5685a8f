import Foundation
import VocabKitTokenizer
import XCTest

/// The repository root, found from this file's path, so tests read committed fixtures without a bundle.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// One shared tokenizer: loading the bundled vocabulary once keeps the suite fast.
let bundledTokenizer: Tokenizer = {
    do { return Tokenizer(vocabulary: try Vocabulary.bundled()) } catch { fatalError("bundled vocabulary: \(error)") }
}()

/// A deterministic generator (SplitMix64) so that random tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

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
