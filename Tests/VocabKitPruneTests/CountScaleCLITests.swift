import Foundation
import VocabKitIO
import VocabKitTestSupport
import VocabKitTokenizer
import XCTest
@testable import VocabKitPrune

/// `vocabkit count` as a scheduler drives it: documents on stdin and the table on stdout, file lists on stdin,
/// one shard per task, and `--merge` at the end, equal to one count of everything.
final class CountScaleCLITests: XCTestCase {
    let tokenizer = Tokenizer(vocabulary: bundledVocabulary)

    func jsonLines(_ texts: [String]) throws -> Data {
        var data = Data()
        for text in texts {
            data += try JSONSerialization.data(withJSONObject: ["text": text])
            data += Data("\n".utf8)
        }
        return data
    }

    func sampleDocuments() throws -> [String] {
        try sampleFiles.map(readText).flatMap { $0.components(separatedBy: "\n\n\n") }
    }

    /// `count --jsonl text - -o -`: the table on stdout is the library's, the summary on stderr (or nothing
    /// with --quiet), and it equals counting each document as a file.
    func testDocumentsOnStandardInputTableOnStandardOutput() throws {
        let documents = try sampleDocuments()
        let input = try jsonLines(documents)
        let r = try CLI.run(["count", "--jsonl", "text", "-", "-o", "-"], stdin: input)
        XCTAssertEqual(r.status, 0, r.stderr)
        let expected = try DocumentCounter(tokenizer: tokenizer, field: JSONFieldPath("text")!).count(inputs: [try write(input)])
        var fromStdin = expected
        fromStdin.files = 0  // standard input is not a file
        XCTAssertEqual(r.stdout, fromStdin.tsv(vocabulary: bundledVocabulary))
        XCTAssertTrue(r.stderr.hasPrefix("0 files, \(documents.count) documents, \(expected.bytes) bytes, \(expected.tokens) tokens"), r.stderr)
        let quiet = try CLI.run(["count", "--jsonl", "text", "-", "-o", "-", "--quiet", "--threads", "1"], stdin: input)
        XCTAssertEqual(quiet.stderr, "")
        XCTAssertEqual(quiet.stdout, r.stdout, "the thread count changes nothing")
        // The same documents as files count the same.
        let folder = try temporaryFolder()
        var files: [String] = []
        for (k, document) in documents.enumerated() {
            files.append(folder + "/\(k).txt")
            try Data(document.utf8).write(to: URL(fileURLWithPath: files.last!))
        }
        let asFiles = try TokenUsage.parse(try CLI.run(["count"] + files + ["-o", "-", "--quiet"]).stdout, path: "files")
        let asDocuments = try TokenUsage.parse(r.stdout, path: "stdin")
        XCTAssertEqual(asFiles.counts, asDocuments.counts)
        XCTAssertEqual(asFiles.bytes, asDocuments.bytes)
        XCTAssertEqual(asFiles.documents, asDocuments.documents)
    }

    func write(_ data: Data) throws -> String {
        let path = try temporaryFolder() + "/input.jsonl"
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// `--files-from -` reads the paths from stdin; `--shard I/N` counts every N-th of the sorted list; the
    /// merged shard tables equal one count of everything, header totals included.
    func testFilesFromShardsAndMerge() throws {
        let folder = try temporaryFolder()
        var files: [String] = []
        for (k, document) in try sampleDocuments().enumerated() {
            let path = folder + "/doc-\(k).py"
            try Data(document.utf8).write(to: URL(fileURLWithPath: path))
            files.append(path)
        }
        let whole = try CLI.run(["count", folder, "-o", folder + "/../whole.tsv", "--json"])
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let list = Data(files.reversed().joined(separator: "\r\n").utf8)
        let fromList = try CLI.run(["count", "--files-from", "-", "-o", "-", "--quiet"], stdin: list)
        XCTAssertEqual(fromList.status, 0, fromList.stderr)
        XCTAssertEqual(try TokenUsage.parse(fromList.stdout, path: "list"), try TokenUsage.read(path: folder + "/../whole.tsv"))

        var tables: [String] = []
        for index in 1...3 {
            let table = folder + "/../shard-\(index).tsv"
            let r = try CLI.run(["count", "--files-from", "-", "--shard", "\(index)/3", "-o", table], stdin: list)
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.hasPrefix("shard \(index)/3: "), r.stdout)
            XCTAssertTrue(try String(contentsOfFile: table, encoding: .utf8).contains("# shards \(index)/3\n"))
            tables.append(table)
        }
        let merged = try CLI.run(["count", "--merge"] + tables + ["-o", "-", "--quiet"])
        XCTAssertEqual(merged.status, 0, merged.stderr)
        XCTAssertEqual(merged.stderr, "")
        let all = try TokenUsage.read(path: folder + "/../whole.tsv")
        XCTAssertEqual(try TokenUsage.parse(merged.stdout, path: "merged"), all)
        XCTAssertEqual(all.files, files.count)

        let partial = try CLI.run(["count", "--merge", tables[0], tables[2], "-o", "-", "--quiet"])
        XCTAssertEqual(partial.status, 0, partial.stderr)
        XCTAssertTrue(partial.stdout.contains("# shards 1,3/3\n"))
        XCTAssertTrue(partial.stderr.contains("note: the merged table holds shards 1,3/3 only; missing: 2/3"), partial.stderr)
        CLI.assertOneErrorLine(try CLI.run(["count", "--merge", tables[0], tables[1], tables[0]]), mentioning: "counted twice")
    }

    /// Tables counted with different vocabularies are refused by --merge, by the fingerprint in the header.
    func testMergeRefusesAnotherVocabulary() throws {
        let folder = try temporaryFolder()
        let a = folder + "/a.tsv", b = folder + "/b.tsv"
        XCTAssertEqual(try CLI.run(["count", sampleFiles[0], "-o", a]).status, 0)
        XCTAssertEqual(try CLI.run(["count", sampleFiles[1], "-o", b]).status, 0)
        XCTAssertEqual(try CLI.run(["count", "--merge", a, b, "-o", folder + "/ab.tsv"]).status, 0)
        // The same count with another vocabulary: one special token renamed, every other token the same.
        let table = try String(contentsOfFile: b, encoding: .utf8)
        let vocabulary = bundledVocabulary
        let specials = vocabulary.specialTokens.map { $0.text == "</think>" ? SpecialToken(id: $0.id, text: "</thinking>", isControl: $0.isControl) : $0 }
        let other = try Vocabulary(tokens: (0..<vocabulary.idCount).map { vocabulary.isToken($0) ? vocabulary.bytes(of: $0) : nil },
                                   merges: vocabulary.merges, specialTokens: specials, source: "other")
        try table.replacingOccurrences(of: vocabulary.fingerprint, with: other.fingerprint).write(toFile: b, atomically: true, encoding: .utf8)
        let r = try CLI.run(["count", "--merge", a, b, "-o", folder + "/ab2.tsv"])
        CLI.assertOneErrorLine(r, mentioning: "b.tsv: counted with another vocabulary: its vocabulary fingerprint")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/ab2.tsv"))
    }

    func testUsageErrors() throws {
        let folder = try temporaryFolder()
        CLI.assertOneErrorLine(try CLI.run(["count", "-"], stdin: Data("x".utf8)), mentioning: "add --jsonl FIELD", status: 64)
        CLI.assertOneErrorLine(try CLI.run(["count", "--shard", "0/4", folder]), mentioning: "shards count from 1", status: 64)
        CLI.assertOneErrorLine(try CLI.run(["count", "--jsonl", "a..b", "-"]), mentioning: "--jsonl needs a field name", status: 64)
        CLI.assertOneErrorLine(try CLI.run(["count", "--merge", "--shard", "1/2", folder]), mentioning: "--merge sums usage tables", status: 64)
        CLI.assertOneErrorLine(try CLI.run(["count", "--jsonl", "text", "-", "--shard", "1/2"]), mentioning: "standard input cannot be split", status: 64)
        let bad = try CLI.run(["count", "--jsonl", "text", "-", "-o", folder + "/u.tsv"], stdin: Data("{\"text\": \"ok\"}\n{\"text\": \"a\" \"b\"}\n".utf8))
        CLI.assertOneErrorLine(bad, mentioning: "stdin:2:14: not JSON: expected ',' or '}' in an object")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/u.tsv"), "no table for a failed count")
        let skipping = try CLI.run(["count", "--jsonl", "text", "-", "--skip-invalid", "-o", "-"],
                                   stdin: Data("{\"text\": \"ok\"}\n[1]\n{\"text\": \"b\"}\n".utf8))
        XCTAssertEqual(skipping.status, 0, skipping.stderr)
        XCTAssertTrue(skipping.stderr.contains("skipped stdin:2:1: not a JSON object"), skipping.stderr)
        XCTAssertTrue(skipping.stdout.contains("# skipped 1\n"), skipping.stdout)
        CLI.assertOneErrorLine(try CLI.run(["count", "--jsonl", "text", "-"], stdin: Data()), mentioning: "empty corpus")
        let empty = try CLI.run(["count", "--jsonl", "text", "-", "--allow-empty", "-o", "-", "--quiet"], stdin: Data())
        XCTAssertEqual(empty.status, 0, empty.stderr)
        XCTAssertTrue(empty.stdout.contains("# documents 0\n# bytes 0\n# tokens 0\n"), empty.stdout)
    }
}
