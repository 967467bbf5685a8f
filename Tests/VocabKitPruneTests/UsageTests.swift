import Foundation
import VocabKitTokenizer
import XCTest
@testable import VocabKitPrune

final class UsageCountingTests: XCTestCase {
    let tokenizer = Tokenizer(vocabulary: bundledVocabulary)

    /// Counts computed the plain way: encode each whole file.
    func referenceCounts(_ files: [String]) throws -> [UInt64] {
        var counts = [UInt64](repeating: 0, count: bundledVocabulary.idCount)
        for file in files { for id in tokenizer.encode(try readText(file)) { counts[Int(id)] += 1 } }
        return counts
    }

    func testCountsMatchEncodingEachFile() throws {
        let usage = try UsageCounter(tokenizer: tokenizer, threads: 2).count(files: sampleFiles)
        XCTAssertEqual(usage.counts, try referenceCounts(sampleFiles))
        XCTAssertEqual(usage.files, 2)
        let bytes = try sampleFiles.map { try Data(contentsOf: URL(fileURLWithPath: $0)).count }.reduce(0, +)
        XCTAssertEqual(usage.bytes, bytes)
        XCTAssertGreaterThan(usage.tokens, 1000)
        XCTAssertEqual(usage.pieces[Int(tokenizer.encode("def")[0])], "def")
    }

    func testSlicedLargeFileCountsTheSameAsWhole() throws {
        let folder = try temporaryFolder()
        // ~60 KB with many line starts; 1 KB slices force dozens of cuts.
        let text = String(repeating: try readText(sampleFiles[0]), count: 6)
        let path = folder + "/big.py"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        var counter = UsageCounter(tokenizer: tokenizer, threads: 1)
        counter.sliceBytes = 1024
        let sliced = try counter.count(files: [path])
        XCTAssertEqual(sliced.counts, try referenceCounts([path]))
    }

    /// A large file with no line feed before an ASCII letter has nowhere safe to cut: it must not be cut at
    /// an arbitrary byte (which could split a character or a piece), so it counts exactly as a whole.
    func testFileWithoutSafeCutPointsCountsTheSameAsWhole() throws {
        let folder = try temporaryFolder()
        let text = String(repeating: "数字化转型的关键在于数据，我们需要更好的工具。\n", count: 400)
        let path = folder + "/cjk.txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        var counter = UsageCounter(tokenizer: tokenizer, threads: 1)
        counter.sliceBytes = 1000
        XCTAssertEqual(try counter.count(files: [path]).counts, try referenceCounts([path]))
    }

    func testThreadCountDoesNotChangeCounts() throws {
        let folder = try temporaryFolder()
        var files: [String] = []
        for k in 0..<9 {
            let path = folder + "/f\(k).txt"
            try (String(repeating: "line \(k) héllo wörld 数字 \(k * 37)\n", count: 50 + k * 13)).write(toFile: path, atomically: true, encoding: .utf8)
            files.append(path)
        }
        let one = try UsageCounter(tokenizer: tokenizer, threads: 1).count(files: files)
        let four = try UsageCounter(tokenizer: tokenizer, threads: 4).count(files: files)
        XCTAssertEqual(one.counts, four.counts)
        XCTAssertEqual(one.counts, try referenceCounts(files))
    }

    func testInvalidUTF8NamesFileAndOffset() throws {
        let folder = try temporaryFolder()
        let bad = folder + "/bad.txt"
        try Data([0x61, 0x62, 0x63, 0xFF, 0x64]).write(to: URL(fileURLWithPath: bad))
        XCTAssertThrowsError(try UsageCounter(tokenizer: tokenizer).count(files: sampleFiles + [bad])) { error in
            XCTAssertEqual(error as? PruneError, .invalidUTF8(path: bad, offset: 3))
            XCTAssertTrue("\(error)".contains("bad.txt: invalid UTF-8 at byte offset 3"), "\(error)")
        }
        let skipping = try UsageCounter(tokenizer: tokenizer, skipInvalid: true).count(files: sampleFiles + [bad])
        XCTAssertEqual(skipping.files, 2)
        XCTAssertEqual(skipping.skippedFiles.map(\.path), [bad])
        XCTAssertEqual(skipping.skippedFiles.map(\.offset), [3])
        XCTAssertEqual(skipping.counts, try referenceCounts(sampleFiles))
    }

    /// Slices of one file are shared out between threads; a bad byte far into a big file must still be found
    /// at its exact offset, and with --skip-invalid none of that file's slices (counted by any thread) remain.
    func testInvalidByteDeepInASlicedFileOnManyThreads() throws {
        let folder = try temporaryFolder()
        var bytes = Array(String(repeating: try readText(sampleFiles[0]), count: 8).utf8)
        let badOffset = bytes.count * 3 / 4
        bytes.insert(contentsOf: [0xE2, 0x28], at: badOffset)  // a lead byte followed by ASCII
        let bad = folder + "/big-bad.py"
        try Data(bytes).write(to: URL(fileURLWithPath: bad))
        for threads in [1, 2, 4] {
            var counter = UsageCounter(tokenizer: tokenizer, threads: threads)
            counter.sliceBytes = 2048
            XCTAssertThrowsError(try counter.count(files: sampleFiles + [bad])) { error in
                XCTAssertEqual(error as? PruneError, .invalidUTF8(path: bad, offset: badOffset), "\(threads) threads")
            }
            counter.skipInvalid = true
            let usage = try counter.count(files: [bad] + sampleFiles)
            XCTAssertEqual(usage.skippedFiles.map(\.offset), [badOffset])
            XCTAssertEqual(usage.counts, try referenceCounts(sampleFiles), "\(threads) threads")
            XCTAssertEqual(usage.files, 2)
        }
    }

    func testSlicesSharedByThreadsCountTheSameAsWhole() throws {
        let folder = try temporaryFolder()
        var files: [String] = []
        for (k, sample) in sampleFiles.enumerated() {
            let path = folder + "/big\(k).txt"
            try String(repeating: try readText(sample) + "数字化转型\n", count: 5 + 3 * k).write(toFile: path, atomically: true, encoding: .utf8)
            files.append(path)
        }
        for (threads, slice) in [(2, 1000), (3, 4096), (4, 777)] {
            var counter = UsageCounter(tokenizer: tokenizer, threads: threads)
            counter.sliceBytes = slice
            let usage = try counter.count(files: files)
            XCTAssertEqual(usage.counts, try referenceCounts(files), "\(threads) threads, \(slice)-byte slices")
            XCTAssertEqual(usage.files, files.count)
        }
    }

    func testEmptyCorpusIsAnError() throws {
        let folder = try temporaryFolder()
        let empty = folder + "/empty.txt"
        FileManager.default.createFile(atPath: empty, contents: Data())
        XCTAssertThrowsError(try UsageCounter(tokenizer: tokenizer).count(files: [empty])) { error in
            guard case .emptyCorpus = error as? PruneError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try UsageCounter(tokenizer: tokenizer).count(files: [])) { error in
            guard case .emptyCorpus = error as? PruneError else { return XCTFail("\(error)") }
        }
    }

    func testCorpusFilesFoldersGlobsIncludeExclude() throws {
        let folder = try temporaryFolder()
        try FileManager.default.createDirectory(atPath: folder + "/src/deep", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder + "/.git", withIntermediateDirectories: true)
        for name in ["src/a.py", "src/deep/b.py", "src/c.md", ".git/config", "top.py"] {
            FileManager.default.createFile(atPath: folder + "/" + name, contents: Data("x = 1\n".utf8))
        }
        XCTAssertEqual(try CorpusFiles(paths: [folder]).resolve(),
                       ["src/a.py", "src/c.md", "src/deep/b.py", "top.py"].map { folder + "/" + $0 })
        XCTAssertEqual(try CorpusFiles(paths: [folder], includes: ["*.py"], excludes: ["*/deep/*"]).resolve(),
                       ["src/a.py", "top.py"].map { folder + "/" + $0 })
        XCTAssertEqual(try CorpusFiles(paths: [folder + "/src/*.md", folder + "/top.py"]).resolve(),
                       [folder + "/src/c.md", folder + "/top.py"])
        XCTAssertThrowsError(try CorpusFiles(paths: [folder + "/missing"]).resolve())
        XCTAssertThrowsError(try CorpusFiles(paths: [folder + "/*.nothing"]).resolve())
    }

    func testUsageFileRoundTripAndOrder() throws {
        let usage = try UsageCounter(tokenizer: tokenizer).count(files: sampleFiles)
        let text = usage.tsv(vocabulary: bundledVocabulary)
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines[1], "# files 2")
        XCTAssertTrue(lines.contains("# tokens \(usage.tokens)"))
        // Rows most used first.
        let rows = lines.filter { !$0.hasPrefix("#") }.map { $0.split(separator: "\t", omittingEmptySubsequences: false) }
        let counts = rows.map { UInt64($0[1])! }
        XCTAssertEqual(counts, counts.sorted(by: >))
        XCTAssertEqual(rows.count, usage.counts.filter { $0 > 0 }.count)
        let parsed = try TokenUsage.parse(text, path: "usage.tsv")
        // The parsed array ends at the last used id.
        XCTAssertEqual(parsed.counts, Array(usage.counts.prefix(parsed.counts.count)))
        XCTAssertEqual(try parsed.counts(for: bundledVocabulary, path: "usage.tsv"), usage.counts)
        XCTAssertEqual(parsed.files, 2)
        XCTAssertEqual(parsed.bytes, usage.bytes)
    }

    func testUsageFileErrors() throws {
        XCTAssertThrowsError(try TokenUsage.parse("# files 1\n12\tabc\tx\n", path: "u.tsv")) { error in
            XCTAssertEqual(error as? PruneError, .malformedUsage(path: "u.tsv", line: 2, reason: "'abc' is not a count (0 ..< 2^64)"))
        }
        XCTAssertThrowsError(try TokenUsage.parse("# files 1\n# tokens 5\n12\t4\tx\n", path: "u.tsv"))
        // A piece that does not match the vocabulary: counted with another vocabulary.
        let wrong = try TokenUsage.parse("# files 1\n# tokens 3\n100\t3\tnot-token-100\n", path: "u.tsv")
        XCTAssertThrowsError(try wrong.counts(for: bundledVocabulary, path: "u.tsv")) { error in
            guard case .usageMismatch = error as? PruneError else { return XCTFail("\(error)") }
        }
    }

    /// CRLF line ends and a last line without a line feed read exactly like LF.
    func testUsageFileLineEndsDoNotMatter() throws {
        let table = try UsageCounter(tokenizer: tokenizer).count(files: sampleFiles).tsv(vocabulary: bundledVocabulary)
        let lf = try TokenUsage.parse(table, path: "u.tsv")
        XCTAssertGreaterThan(lf.tokens, 1000)
        XCTAssertEqual(try TokenUsage.parse(table.replacingOccurrences(of: "\n", with: "\r\n"), path: "u.tsv"), lf)
        XCTAssertEqual(try TokenUsage.parse(String(table.dropLast()), path: "u.tsv"), lf)
    }

    /// Hostile tables: every number checked, one error naming the line, never a trap.
    func testHostileUsageFiles() throws {
        let cases: [(String, String)] = [
            ("# files 1\n2097152\t1\tx\n", "is not a token id"),
            ("# files 1\n-1\t1\tx\n", "is not a token id"),
            ("# files 1\n99999999999999999999999\t1\n", "is not a token id"),
            ("# files 1\n5\t18446744073709551616\n", "is not a count"),
            ("# files 1\n5\t-3\n", "is not a count"),
            ("# files 1\n5\t1\n5\t2\n", "listed twice"),
            ("# files x\n5\t1\n", "not a count"),
            ("# files 1\n# tokens 99999999999999999999\n5\t1\n", "not a count"),
            ("# files 1\n5 1\n", "expected id<TAB>count<TAB>piece"),
            ("", "no '# files' header"),
        ]
        for (text, needle) in cases {
            XCTAssertThrowsError(try TokenUsage.parse(text, path: "u.tsv"), text.debugDescription) { error in
                XCTAssertTrue("\(error)".contains(needle), "\(text.debugDescription): \(error)")
                XCTAssertFalse("\(error)".contains("\n"))
            }
        }
        XCTAssertThrowsError(try TokenUsage.parse("# files 1\n5\t18446744073709551615\n6\t1\n", path: "u.tsv")) { error in
            guard case .countOverflow? = error as? PruneError else { return XCTFail("\(error)") }
        }
        let bytes: [UInt8] = Array("# files 1\n5\t3\t".utf8) + [0xFF, 0x0A]
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try TokenUsage.parse($0, path: "u.tsv") }) { error in
            XCTAssertEqual(error as? PruneError, .malformedUsage(path: "u.tsv", line: 2, reason: "the piece is not UTF-8"))
        }
        // Every prefix of a real table either parses or fails with a usage error.
        let table = Array(try UsageCounter(tokenizer: tokenizer).count(files: [sampleFiles[0]]).tsv(vocabulary: bundledVocabulary).utf8.prefix(3000))
        for cut in 0...table.count {
            do {
                _ = try table[0..<cut].withUnsafeBytes { try TokenUsage.parse($0, path: "u.tsv") }
            } catch let error as PruneError {
                switch error {
                case .malformedUsage, .countOverflow: break
                default: XCTFail("cut at \(cut): \(error)")
                }
            }
        }
        // Shards whose counts sum past 2^64 are refused, not wrapped.
        let big = try TokenUsage.parse("# files 1\n5\t18446744073709551615\n", path: "big")
        XCTAssertThrowsError(try TokenUsage.merging([("a", big), ("b", big)])) { error in
            guard case .countOverflow? = error as? PruneError else { return XCTFail("\(error)") }
        }
    }

    func testMergeSumsShards() throws {
        let a = try UsageCounter(tokenizer: tokenizer).count(files: [sampleFiles[0]])
        let b = try UsageCounter(tokenizer: tokenizer).count(files: [sampleFiles[1]])
        let both = try UsageCounter(tokenizer: tokenizer).count(files: sampleFiles)
        let merged = try TokenUsage.merging([
            ("a", try TokenUsage.parse(a.tsv(vocabulary: bundledVocabulary), path: "a")),
            ("b", try TokenUsage.parse(b.tsv(vocabulary: bundledVocabulary), path: "b")),
        ])
        XCTAssertEqual(try merged.counts(for: bundledVocabulary, path: "m"), both.counts)
        XCTAssertEqual(merged.files, 2)
        XCTAssertEqual(merged.bytes, both.bytes)
    }

    func testCoverageKeyPointsAndSVG() throws {
        // 10 tokens: counts 100, 50, 25, 10, 5, 4, 3, 2, 1, 0 (total 200).
        var counts = [UInt64](repeating: 0, count: 20)
        for (id, count) in zip([7, 3, 9, 1, 2, 4, 5, 6, 8, 0], [100, 50, 25, 10, 5, 4, 3, 2, 1, 0] as [UInt64]) { counts[id] = count }
        let usage = TokenUsage(counts: counts, pieces: [:], files: 1, bytes: 1, vocabularySource: "test")
        XCTAssertEqual(usage.tokensCovering(0.5), 1)     // 100 of 200
        XCTAssertEqual(usage.tokensCovering(0.75), 2)    // 150
        XCTAssertEqual(usage.tokensCovering(0.9), 4)     // 185 >= 180
        XCTAssertEqual(usage.tokensCovering(0.99), 8)    // 7 reach 197 < 198, 8 reach 199
        XCTAssertEqual(usage.tokensCovering(1.0), 9)
        XCTAssertEqual(usage.rankedIds, [7, 3, 9, 1, 2, 4, 5, 6, 8])
        let svg = usage.coverageSVG()
        XCTAssertTrue(svg.hasPrefix("<svg"))
        XCTAssertTrue(svg.contains("<polyline"))
        XCTAssertTrue(svg.contains("99.99%"))
        XCTAssertEqual(TokenUsage.percent(0.9999), "99.99")
    }
}
