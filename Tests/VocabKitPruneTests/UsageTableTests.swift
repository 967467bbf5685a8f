import Foundation
import VocabKitTokenizer
import XCTest
@testable import VocabKitPrune

/// The usage table's header (totals, vocabulary fingerprint, shards, columns), merging across shards, and
/// choosing a shard's files.
final class UsageTableTests: XCTestCase {
    let tokenizer = Tokenizer(vocabulary: bundledVocabulary)

    func table(_ text: String) throws -> TokenUsage { try TokenUsage.parse(text, path: "t.tsv") }

    /// Tables written before the header grew documents, a fingerprint and `# columns` still read.
    func testOlderTablesRead() throws {
        let old = try table("# vocabkit token usage\n# files 3\n# bytes 40\n# tokens 7\n# vocabulary v.gguf\n# id\tcount\tpiece\n11\t5\t,\n12\t2\t-\n")
        XCTAssertEqual(old.files, 3)
        XCTAssertEqual(old.documents, 3, "documents default to files")
        XCTAssertEqual(old.counts[11], 5)
        XCTAssertEqual(old.pieces[12], "-")
        XCTAssertNil(old.vocabularyFingerprint)
        XCTAssertEqual(old.extraColumns, [])
    }

    /// A further count column (as a model-aware count would add) is read, written, checked and summed.
    func testExtraColumnsRoundTripAndSum() throws {
        let text = "# files 1\n# documents 4\n# tokens 7\n# total predicted 9\n# columns id count predicted piece\n11\t5\t1\t,\n12\t2\t0\t-\n13\t0\t8\t.\n"
        let usage = try table(text)
        XCTAssertEqual(usage.extraColumns.map(\.name), ["predicted"])
        XCTAssertEqual(usage.extraColumns[0].values[13], 8)
        XCTAssertEqual(usage.counts.count, 13, "id 13 has no count")
        XCTAssertEqual(usage.documents, 4)
        let written = usage.tsv()
        XCTAssertTrue(written.contains("# columns id count predicted piece\n"), written)
        XCTAssertTrue(written.contains("# total predicted 9\n"), written)
        XCTAssertTrue(written.hasSuffix("11\t5\t1\t,\n12\t2\t0\t-\n13\t0\t8\t.\n"), written)
        XCTAssertEqual(try table(written), usage)
        // Columns in another order read the same.
        XCTAssertEqual(try table("# files 1\n# documents 4\n# columns piece predicted id count\n,\t1\t11\t5\n-\t0\t12\t2\n.\t8\t13\t0\n"), usage)
        let merged = try TokenUsage.merging([("a", usage), ("b", usage)])
        XCTAssertEqual(merged.counts[11], 10)
        XCTAssertEqual(merged.extraColumns[0].values[13], 16)
        XCTAssertEqual(merged.extraColumns[0].total, 18)
        XCTAssertEqual(merged.documents, 8)
        // A corpus count without the column sums with one that has it, in either order: it counted nothing there.
        let plain = try table("# files 1\n11\t5\t,\n14\t3\t;\n")
        for pair in [[("a", usage), ("b", plain)], [("b", plain), ("a", usage)]] {
            let sum = try TokenUsage.merging(pair)
            XCTAssertEqual(sum.extraColumns.map(\.name), ["predicted"])
            XCTAssertEqual(sum.counts[11], 10)
            XCTAssertEqual(sum.counts[14], 3)
            XCTAssertEqual(sum.extraColumns[0].values[13], 8)
            XCTAssertEqual(sum.extraColumns[0].total, 9)
            XCTAssertEqual(try table(sum.tsv()), sum)
        }
        for (bad, needle) in [
            ("# files 1\n# columns id count predicted piece\n# total predicted 5\n11\t5\t1\t,\n", "rows add up to 1"),
            ("# files 1\n11\t5\t,\n# columns id count piece\n", "comes after the first row"),
            ("# files 1\n# columns id piece\n", "must name id and count"),
            ("# files 1\n# columns id count count\n", "named twice"),
            ("# files 1\n# columns id count Predicted\n", "not a column name"),
            ("# files 1\n# columns id count predicted piece\n11\t5\n", "expected id<TAB>count<TAB>predicted<TAB>piece"),
            ("# files 1\n# columns id count predicted\n11\t5\t1\t2\n", "more than 3 columns"),
            ("# files 1\n# total predicted\n", "expected '# total COLUMN N'"),
            ("# files 1\n# vocabulary-sha256 abc\n", "not 64 lowercase hex digits"),
            ("# files 1\n# shards 0/4\n", "is not like '1,3/4'"),
            ("# files 1\n# shards 2,2/4\n", "is not like '1,3/4'"),
            ("# files 99999999999999999999\n", "not a count"),
            ("# files 1\n# documents 9223372036854775808\n", "past 2^63"),
        ] {
            XCTAssertThrowsError(try table(bad), bad.debugDescription) { error in
                XCTAssertTrue("\(error)".contains(needle), "\(bad.debugDescription): \(error)")
            }
        }
    }

    /// Header totals stay exact, the fingerprint must agree, and shards of a split are summed once each.
    func testMergeTotalsFingerprintsAndShards() throws {
        let fingerprint = bundledVocabulary.fingerprint
        func shard(_ index: Int?, of count: Int = 3, files: Int, documents: Int, bytes: Int, skipped: Int = 0,
                   counts: [Int: UInt64], fingerprint: String? = fingerprint) throws -> TokenUsage {
            var usage = TokenUsage(counts: [], pieces: [:], files: files, documents: documents, bytes: bytes,
                                   vocabularySource: "v", vocabularyFingerprint: fingerprint)
            usage.counts = Array(repeating: 0, count: 200)
            for (id, n) in counts { usage.counts[id] = n }
            usage.skipped = skipped
            usage.shards = index.map { ShardSet(Shard(index: $0, count: count)!) }
            return try table(usage.tsv(vocabulary: bundledVocabulary))  // through the file form
        }
        let a = try shard(1, files: 2, documents: 100, bytes: 5000, skipped: 1, counts: [10: 7, 11: 1])
        let b = try shard(2, files: 0, documents: 40, bytes: 1 << 40, counts: [10: 3])
        let c = try shard(3, files: 5, documents: 5, bytes: 10, skipped: 2, counts: [199: UInt64(1) << 62])
        let all = try TokenUsage.merging([("a", a), ("b", b), ("c", c)])
        XCTAssertEqual(all.files, 7)
        XCTAssertEqual(all.documents, 145)
        XCTAssertEqual(all.bytes, 5010 + (1 << 40))
        XCTAssertEqual(all.skipped, 3)
        XCTAssertEqual(all.tokens, 11 + (UInt64(1) << 62))
        XCTAssertEqual(all.counts[10], 10)
        XCTAssertNil(all.shards, "a complete split is a whole corpus")
        XCTAssertEqual(all.vocabularyFingerprint, fingerprint)
        let reread = try table(all.tsv())
        XCTAssertEqual(reread, all)

        let partial = try TokenUsage.merging([("a", a), ("c", c)])
        XCTAssertEqual(partial.shards?.description, "1,3/3")
        XCTAssertEqual(partial.shards?.missing, [2])
        XCTAssertTrue(partial.tsv().contains("# shards 1,3/3\n"))
        XCTAssertNil(try TokenUsage.merging([("ac", try table(partial.tsv())), ("b", b)]).shards, "merging the rest completes it")

        XCTAssertThrowsError(try TokenUsage.merging([("a", a), ("b", b), ("a again", a)])) { error in
            XCTAssertTrue("\(error)".contains("shard 1/3 is also in a: it would be counted twice"), "\(error)")
        }
        XCTAssertThrowsError(try TokenUsage.merging([("a", a), ("other split", try shard(1, of: 4, files: 1, documents: 1, bytes: 1, counts: [1: 1]))])) { error in
            XCTAssertTrue("\(error)".contains("split into 4"), "\(error)")
        }
        let other = try shard(nil, files: 1, documents: 1, bytes: 1, counts: [10: 1], fingerprint: String(repeating: "0", count: 64))
        XCTAssertThrowsError(try TokenUsage.merging([("a", a), ("other.tsv", other)])) { error in
            guard case .usageMismatch(let path, _, let reason)? = error as? PruneError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "other.tsv")
            XCTAssertTrue(reason.contains("fingerprint 000000000000… differs from \(fingerprint.prefix(12))… in a"), reason)
        }
        // A table without a fingerprint (written before it was recorded) merges when its pieces agree.
        let unmarked = try shard(nil, files: 1, documents: 1, bytes: 1, counts: [10: 1], fingerprint: nil)
        XCTAssertEqual(try TokenUsage.merging([("a", a), ("old", unmarked)]).counts[10], 8)
        var huge = try shard(nil, files: Int.max, documents: 1, bytes: 1, counts: [10: 1])
        huge.vocabularyFingerprint = fingerprint
        XCTAssertThrowsError(try TokenUsage.merging([("a", a), ("huge", huge)])) { error in
            guard case .countOverflow? = error as? PruneError else { return XCTFail("\(error)") }
        }
    }

    /// Shards deal the sorted file list round-robin: together they hold every file once, in any input order.
    func testShardsPartitionTheSortedFileList() throws {
        let files = (0..<23).map { "/data/part-\(String(format: "%03d", ($0 * 7) % 23)).jsonl" } + ["/data/Zeta", "/data/éclair", "/data/a b"]
        for count in [1, 2, 5, 26, 40] {
            var seen: [String] = []
            for index in 1...count {
                let mine = Shard(index: index, count: count)!.files(of: files)
                XCTAssertEqual(mine, Shard(index: index, count: count)!.files(of: files.reversed()), "order of the list does not matter")
                seen += mine
            }
            XCTAssertEqual(seen.sorted(), files.sorted(), "\(count) shards")
        }
        XCTAssertEqual(Shard(index: 1, count: 2)!.files(of: ["b", "a", "c"]), ["a", "c"])
        XCTAssertEqual(Shard("3/4"), Shard(index: 3, count: 4))
        for bad in ["0/4", "5/4", "1/0", "-1/4", "1/", "/4", "1/4/5", "a/b", " 1/4"] { XCTAssertNil(Shard(bad), bad) }
        XCTAssertEqual(ShardSet("3,1/4")?.description, "1,3/4")
    }

    /// A file whose name has glob characters is counted as itself.
    func testLiteralPathsWithGlobCharacters() throws {
        let folder = try temporaryFolder()
        let odd = folder + "/notes[1]*.txt"
        FileManager.default.createFile(atPath: odd, contents: Data("x\n".utf8))
        XCTAssertEqual(try CorpusFiles(paths: [odd]).resolve(), [odd])
        XCTAssertEqual(try CorpusFiles(paths: [folder + "/notes*"]).resolve(), [odd])
    }

    /// A table counted with --allow-empty has no rows and reads back.
    func testEmptyTableReadsBack() throws {
        var counter = UsageCounter(tokenizer: tokenizer)
        counter.allowEmpty = true
        let empty = try counter.count(files: [])
        XCTAssertEqual(empty.tokens, 0)
        let reread = try table(empty.tsv(vocabulary: bundledVocabulary))
        XCTAssertEqual(reread.files, 0)
        XCTAssertEqual(reread.vocabularyFingerprint, bundledVocabulary.fingerprint)
        XCTAssertEqual(try TokenUsage.merging([("e", reread), ("e2", reread)]).tokens, 0)
        // Selecting by counts from it is refused rather than keeping only the bytes and specials.
        let selector = TokenSelector(vocabulary: bundledVocabulary)
        XCTAssertThrowsError(try selector.select(counts: reread.counts, rules: SelectionRules(coverage: 0.99))) { error in
            XCTAssertTrue("\(error)".contains("counts no tokens"), "\(error)")
        }
    }

    /// The tiny GGUF written from the bundled vocabulary (padded with rows that have no text) tokenizes the
    /// same, so it has the same fingerprint: tables counted with either merge.
    func testGGUFWithPaddingRowsHasTheBundledFingerprint() throws {
        let folder = try temporaryFolder()
        let model = folder + "/tiny.gguf"
        try TinyModel.write(to: model)
        XCTAssertEqual(try Vocabulary.load(path: model).fingerprint, bundledVocabulary.fingerprint)
    }
}
