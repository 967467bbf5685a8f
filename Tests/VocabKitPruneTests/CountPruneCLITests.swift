import Foundation
import VocabKitGGUF
import VocabKitTokenizer
import XCTest
import VocabKitTestSupport
@testable import VocabKitPrune

/// `vocabkit count` and `vocabkit prune` as scripts run them: the files they write, quiet output when piped,
/// and one `error:` line with exit status 1 for bad input.
final class CountPruneCLITests: XCTestCase {
    func run(_ args: [String]) throws -> CLI.Result { try CLI.run(args) }

    /// One line on stderr, starting with "error:", and exit status 1.
    func assertOneErrorLine(_ r: CLI.Result, mentioning needle: String, file: StaticString = #filePath, line: UInt = #line) {
        CLI.assertOneErrorLine(r, mentioning: needle, file: file, line: line)
    }

    func testCountWritesTheLibrarysTableAndStaysQuietWhenPiped() throws {
        let folder = try temporaryFolder()
        let usagePath = folder + "/usage.tsv"
        let r = try run(["count"] + sampleFiles + ["-o", usagePath, "--threads", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")  // no progress line when stderr is not a terminal
        let expected = try UsageCounter(tokenizer: Tokenizer(vocabulary: bundledVocabulary)).count(files: sampleFiles)
        XCTAssertEqual(try String(contentsOfFile: usagePath, encoding: .utf8), expected.tsv(vocabulary: bundledVocabulary))
        XCTAssertTrue(r.stdout.hasPrefix("2 files, \(expected.bytes) bytes, \(expected.tokens) tokens"), r.stdout)
        XCTAssertTrue(r.stdout.contains("99.99% of occurrences: \(expected.tokensCovering(0.9999)) tokens"), r.stdout)
        let json = try run(["count"] + sampleFiles + ["--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(object["tokens"] as? Int, Int(expected.tokens))
    }

    func testCountErrors() throws {
        let folder = try temporaryFolder()
        assertOneErrorLine(try run(["count", folder + "/missing"]), mentioning: "missing")
        let bad = folder + "/bad.txt"
        try Data(Array("fine text\n".utf8) + [0xC3, 0x28] + Array(" more".utf8)).write(to: URL(fileURLWithPath: bad))
        assertOneErrorLine(try run(["count", bad, "-o", folder + "/u.tsv"]), mentioning: "bad.txt: invalid UTF-8 at byte offset 10")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/u.tsv"), "no table for a failed count")
        let skipping = try run(["count", bad, sampleFiles[0], "--skip-invalid"])
        XCTAssertEqual(skipping.status, 0, skipping.stderr)
        XCTAssertTrue(skipping.stderr.contains("skipped \(bad): invalid UTF-8 at byte offset 10"), skipping.stderr)
        let empty = folder + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: empty + "/nothing.txt", contents: Data())
        assertOneErrorLine(try run(["count", empty]), mentioning: "empty corpus")
    }

    func testPruneWritesAModelAndRemapAndLeavesTheInputAlone() throws {
        let folder = try temporaryFolder()
        let model = folder + "/model.gguf", pruned = folder + "/pruned.gguf", remap = folder + "/remap.tsv"
        try TinyModel.write(to: model)
        let before = try Data(contentsOf: URL(fileURLWithPath: model))
        let usage = folder + "/usage.tsv"
        XCTAssertEqual(try run(["count", "--vocab", model] + sampleFiles + ["-o", usage]).status, 0)
        let r = try run(["prune", model, "--usage", usage, "--coverage", "0.99", "-o", pruned, "--remap", remap])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("wrote \(pruned)"), r.stdout)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: model)), before, "the input is never modified")
        let kept = try String(contentsOfFile: remap, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
        let written = try GGUFFile(path: pruned)
        XCTAssertEqual(written.stringArray("tokenizer.ggml.tokens")?.count, kept.count)
        XCTAssertEqual(written.tensor(named: "token_embd.weight")?.rowCount, kept.count)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".tmp") }
        XCTAssertEqual(leftovers, [], "no temporary file left behind")
    }

    func testPruneErrors() throws {
        let folder = try temporaryFolder()
        let model = folder + "/model.gguf"
        try TinyModel.write(to: model)
        let usage = folder + "/usage.tsv"
        XCTAssertEqual(try run(["count", "--vocab", model] + sampleFiles + ["-o", usage]).status, 0)
        assertOneErrorLine(try run(["prune", folder + "/none.gguf", "--usage", usage, "--top", "10", "-o", folder + "/o.gguf"]),
                           mentioning: "none.gguf")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: model))
        let truncated = folder + "/truncated.gguf"
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: truncated))
        assertOneErrorLine(try run(["prune", truncated, "--usage", usage, "--top", "10", "-o", folder + "/o.gguf"]),
                           mentioning: "truncated.gguf")
        let notGGUF = folder + "/text.gguf"
        try Data("just text, not a model\n".utf8).write(to: URL(fileURLWithPath: notGGUF))
        assertOneErrorLine(try run(["prune", notGGUF, "--usage", usage, "--top", "10", "-o", folder + "/o.gguf"]),
                           mentioning: "text.gguf")
        let overwrite = try run(["prune", model, "--usage", usage, "--top", "10", "-o", model])
        XCTAssertEqual(overwrite.status, 1, overwrite.stderr)
        XCTAssertTrue(overwrite.stderr.hasPrefix("error:"), overwrite.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: model)), bytes, "refusing to overwrite the input leaves it intact")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/o.gguf"), "nothing written for a failed prune")
    }
}
