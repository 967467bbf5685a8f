import Foundation
import VocabKitIO
import VocabKitTestSupport
import VocabKitTokenizer
import XCTest
@testable import VocabKitPrune

/// `count --jsonl`: documents from JSON Lines count exactly as files holding their text, whatever the batch
/// size and thread count; lines are read as Python's json reads them; bad lines are named by file and line.
final class DocumentCountTests: XCTestCase {
    let tokenizer = Tokenizer(vocabulary: bundledVocabulary)
    let text = JSONFieldPath("text")!

    /// A JSON Lines line holding `text` at "text" (JSONSerialization escapes as a JSON writer would).
    func jsonLine(_ text: String, extra: [String: Any] = [:]) throws -> String {
        var object = extra
        object["text"] = text
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// Documents cut from real text at places where a token would form across the cut if the documents ran
    /// together: inside words, between "e" and a combining accent (NFC would compose them), inside "\r\n",
    /// before spaces; plus empty documents and one with only whitespace.
    func documents() throws -> [String] {
        let source = try sampleFiles.map(readText).joined(separator: "\n")
        var rng = SplitMix64(seed: 13)
        var documents: [String] = []
        var rest = Substring(source)
        while !rest.isEmpty {
            let length = min(rest.count, Int(rng.next() % 700) + 1)
            documents.append(String(rest.prefix(length)))
            rest = rest.dropFirst(length)
        }
        documents += ["cafe", "\u{301} au lait", "", "line\r", "\nnext", "   ", "数字化", "转型", "<|im_", "start|>", "emoji 😀", ""]
        return documents
    }

    func testDocumentsCountExactlyAsFiles() throws {
        let folder = try temporaryFolder()
        let documents = try documents()
        var files: [String] = []
        for (k, document) in documents.enumerated() {
            let path = folder + "/doc\(k).txt"
            try write(document, to: path)
            files.append(path)
        }
        let asFiles = try UsageCounter(tokenizer: tokenizer, threads: 2, skipInvalid: false).count(files: files)
        let jsonl = folder + "/docs.jsonl"
        try write(try documents.map { try jsonLine($0, extra: ["id": 1]) }.joined(separator: "\n") + "\n", to: jsonl)
        for (threads, batch) in [(1, 1 << 20), (2, 64), (4, 1000), (3, 7)] {
            var counter = DocumentCounter(tokenizer: tokenizer, field: text, threads: threads)
            counter.batchBytes = batch
            let usage = try counter.count(inputs: [jsonl])
            XCTAssertEqual(usage.counts, asFiles.counts, "\(threads) threads, \(batch)-byte batches")
            XCTAssertEqual(usage.documents, documents.count)
            XCTAssertEqual(usage.bytes, asFiles.bytes)
            XCTAssertEqual(usage.files, 1)
            XCTAssertEqual(usage.vocabularyFingerprint, bundledVocabulary.fingerprint)
        }
        // Run together, the same text tokenizes differently: the boundaries above are real ones.
        let together = folder + "/together.txt"
        try write(documents.joined(), to: together)
        XCTAssertNotEqual(try UsageCounter(tokenizer: tokenizer).count(files: [together]).counts, asFiles.counts)
    }

    /// Python's json module decides what a line is: the committed goldens (Tests/Oracle/make_jsonl_goldens.py)
    /// give its verdict on hand-made and fuzzed lines, and the reader must agree on every one, text included.
    func testLinesReadAsPythonsJSONReadsThem() throws {
        let golden = try readText(repositoryRoot.appendingPathComponent("Tests/Fixtures/jsonl-goldens/lines.tsv").path)
        var checked = 0
        var kinds: [String: Int] = [:]
        for row in golden.split(separator: "\n") where !row.hasPrefix("#") {
            let columns = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            let (name, path, line, expected, expectedText) = (columns[0], columns[1], hexBytes(columns[2]), columns[3], hexBytes(columns[4]))
            let reader = JSONFieldReader(path: JSONFieldPath(path)!)
            let verdict: String
            var textBytes: [UInt8] = []
            if line.withUnsafeBufferPointer({ UTF8Validation.firstInvalidOffset($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }) != nil {
                verdict = "invalid-utf8"
            } else {
                do {
                    switch try line.withUnsafeBytes({ try reader.read($0) }) {
                    case .blank: verdict = "blank"
                    case .document:
                        verdict = "document"
                        textBytes = Array(reader.text)
                    }
                } catch let problem as JSONLineProblem {
                    XCTAssertGreaterThan(problem.column, 0, name)
                    XCTAssertLessThanOrEqual(problem.column, line.count + 1, name)
                    switch problem.reason {
                    case let r where r.hasPrefix("not JSON"): verdict = "not-json"
                    case "not a JSON object": verdict = "not-object"
                    case let r where r.hasPrefix("no field"): verdict = "missing"
                    case let r where r.contains("unpaired surrogate"): verdict = "surrogate"
                    case let r where r.hasPrefix("field"): verdict = "wrong-kind"
                    default: verdict = "unexpected: \(problem.reason)"
                    }
                }
            }
            XCTAssertEqual(verdict, expected, "\(name): \(String(decoding: line, as: UTF8.self).prefix(200).debugDescription)")
            if expected == "document" { XCTAssertEqual(textBytes, expectedText, name) }
            kinds[expected, default: 0] += 1
            checked += 1
        }
        XCTAssertGreaterThan(checked, 1000)
        for kind in ["document", "blank", "invalid-utf8", "not-json", "not-object", "missing", "wrong-kind", "surrogate"] {
            XCTAssertGreaterThan(kinds[kind] ?? 0, 3, "the goldens cover \(kind)")
        }
    }

    /// The same goldens through the whole counter: every document counted, every invalid line skipped and
    /// reported at its line, blank lines neither.
    func testGoldenLinesThroughTheCounter() throws {
        let golden = try readText(repositoryRoot.appendingPathComponent("Tests/Fixtures/jsonl-goldens/lines.tsv").path)
        var bytes: [UInt8] = [], expected = [UInt64](repeating: 0, count: bundledVocabulary.idCount)
        var documents = 0, invalid: [Int] = [], textBytes = 0
        var lineNumber = 0
        for row in golden.split(separator: "\n") where !row.hasPrefix("#") {
            let columns = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard columns[1] == "text" else { continue }
            lineNumber += 1
            bytes += hexBytes(columns[2]) + [0x0A]
            switch columns[3] {
            case "document":
                documents += 1
                let text = hexBytes(columns[4])
                textBytes += text.count
                for id in try text.withUnsafeBytes({ try tokenizer.encode(utf8: $0) }) { expected[Int(id)] += 1 }
            case "blank": break
            default: invalid.append(lineNumber)
            }
        }
        let folder = try temporaryFolder()
        let path = folder + "/golden.jsonl"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        var counter = DocumentCounter(tokenizer: tokenizer, field: text, threads: 3, skipInvalid: true)
        counter.batchBytes = 4096
        counter.reportLimit = 5
        let usage = try counter.count(inputs: [path])
        XCTAssertEqual(usage.counts, expected)
        XCTAssertEqual(usage.documents, documents)
        XCTAssertEqual(usage.bytes, textBytes)
        XCTAssertEqual(usage.skipped, invalid.count)
        XCTAssertEqual(usage.skippedDocuments.map(\.line), Array(invalid.prefix(5)))
        counter.skipInvalid = false
        XCTAssertThrowsError(try counter.count(inputs: [path])) { error in
            guard case let .invalidDocument(p, line, _, _)? = error as? PruneError else { return XCTFail("\(error)") }
            XCTAssertEqual(p, path)
            XCTAssertEqual(line, invalid.first)
        }
    }

    /// A bad line deep in a large input is the one reported, with its line number, whatever the threads.
    func testFirstBadLineIsNamedWhateverTheThreads() throws {
        let folder = try temporaryFolder()
        let good = try jsonLine("def f(x):\n    return x * 2  # ok")
        var lines = Array(repeating: good, count: 6000)
        lines[4321] = #"{"text": "unterminated}"#
        lines[5000] = #"{"text": 5}"#
        let path = folder + "/big.jsonl"
        try write(lines.joined(separator: "\n"), to: path)
        for threads in [1, 2, 4] {
            var counter = DocumentCounter(tokenizer: tokenizer, field: text, threads: threads)
            counter.batchBytes = 2000
            XCTAssertThrowsError(try counter.count(inputs: [sampleJSONL(folder), path])) { error in
                XCTAssertEqual(error as? PruneError, .invalidDocument(path: path, line: 4322, column: 10,
                                                                     reason: "not JSON: unterminated string"), "\(threads) threads")
            }
            counter.skipInvalid = true
            let usage = try counter.count(inputs: [path])
            XCTAssertEqual(usage.documents, 5998)
            XCTAssertEqual(usage.skipped, 2)
            XCTAssertEqual(usage.skippedDocuments.map(\.line), [4322, 5001])
            XCTAssertEqual(usage.skippedDocuments.last?.reason, "field 'text' is a number, not a string")
        }
    }

    func sampleJSONL(_ folder: String) throws -> String {
        let path = folder + "/sample.jsonl"
        try write(try sampleFiles.map { try jsonLine(readText($0)) }.joined(separator: "\n"), to: path)
        return path
    }

    /// A document far larger than a batch, a byte order mark, CRLF line ends, a nested field, no final line
    /// feed, and an input of several files.
    func testHugeLinesNestedFieldsBOMAndCRLF() throws {
        let folder = try temporaryFolder()
        let huge = String(repeating: try readText(sampleFiles[0]), count: 40)  // ~1 MB
        let path = folder + "/nested.jsonl"
        let lines = [#"{"meta": {"content": "first"}, "content": "not this"}"#,
                     "{\"meta\": {\"content\": \(try jsonString(huge)), \"n\": [1, {\"content\": 2}]}}",
                     "",
                     #"{"meta": {"content": "caf\u00e9 \ud83d\ude00"}}"#]
        try Data([0xEF, 0xBB, 0xBF] + Array(lines.joined(separator: "\r\n").utf8)).write(to: URL(fileURLWithPath: path))
        var counter = DocumentCounter(tokenizer: tokenizer, field: JSONFieldPath("meta.content")!, threads: 2)
        counter.batchBytes = 4096
        let usage = try counter.count(inputs: [path, path])
        var expected = [UInt64](repeating: 0, count: bundledVocabulary.idCount)
        for document in ["first", huge, "café 😀"] { for id in tokenizer.encode(document) { expected[Int(id)] += 2 } }
        XCTAssertEqual(usage.counts, expected)
        XCTAssertEqual(usage.documents, 6)
        XCTAssertEqual(usage.files, 2)
        counter.maximumLineBytes = 1 << 16
        XCTAssertThrowsError(try counter.count(inputs: [path])) { error in
            XCTAssertEqual(error as? PruneError, .invalidDocument(path: path, line: 2, column: 1, reason: "the line is longer than 65536 bytes"))
        }
    }

    func jsonString(_ text: String) throws -> String {
        let line = try jsonLine(text)
        return String(line.dropFirst(#"{"text":"#.count).dropLast())
    }

    func testEmptyInputsAndAllowEmpty() throws {
        let folder = try temporaryFolder()
        let empty = folder + "/empty.jsonl"
        try write("\n\n", to: empty)
        XCTAssertThrowsError(try DocumentCounter(tokenizer: tokenizer, field: text).count(inputs: [empty])) { error in
            guard case .emptyCorpus? = error as? PruneError else { return XCTFail("\(error)") }
        }
        var counter = DocumentCounter(tokenizer: tokenizer, field: text)
        counter.allowEmpty = true
        let usage = try counter.count(inputs: [empty])
        XCTAssertEqual(usage.tokens, 0)
        XCTAssertEqual(usage.documents, 0)
        XCTAssertThrowsError(try counter.count(inputs: [folder + "/missing.jsonl"])) { error in
            XCTAssertEqual(error as? FileError, .notFound(path: folder + "/missing.jsonl"))
        }
        XCTAssertThrowsError(try counter.count(inputs: [folder])) { error in
            guard case .notRegularFile? = error as? FileError else { return XCTFail("\(error)") }
        }
    }

    /// Batches end at line ends, a line longer than a batch grows it, and nothing is lost or repeated.
    func testLineBatchesHoldWholeLines() throws {
        let folder = try temporaryFolder()
        var rng = SplitMix64(seed: 7)
        var text = ""
        for _ in 0..<300 {
            let length = Int(rng.next() % 3000)
            text += String(repeating: "x", count: length) + (rng.next() % 5 == 0 ? "\r\n" : "\n")
        }
        text += "last line without a line feed"
        let path = folder + "/lines.txt"
        try write(text, to: path)
        for batchBytes in [1, 100, 4096, 1 << 20] {
            let reader = try LineBatchReader(path: path)
            let batch = LineBatch(capacity: batchBytes)
            var joined: [UInt8] = []
            while try reader.next(into: batch, batchBytes: batchBytes) {
                let bytes = Array(batch.bytes)
                joined += bytes
                if joined.count < text.utf8.count { XCTAssertEqual(bytes.last, 0x0A, "a batch ends at a line end") }
            }
            XCTAssertEqual(joined, Array(text.utf8), "\(batchBytes)-byte batches")
            XCTAssertEqual(reader.bytesRead, text.utf8.count)
        }
    }
}

func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var iterator = hex.utf8.makeIterator()
    func nibble(_ c: UInt8) -> UInt8 { c <= 0x39 ? c - 0x30 : c - 0x61 + 10 }
    while let high = iterator.next(), let low = iterator.next() { out.append(nibble(high) << 4 | nibble(low)) }
    return out
}
