import VocabKitTokenizer
import XCTest

/// Very long pieces merge window by window, with every join proven (WindowedBPE.swift): the result must be
/// plain BPE over the whole piece, for real text, for text built to have no position where an encoding must
/// split, and for a vocabulary built so that joins fail and must be repaired.
final class LongPieceTests: XCTestCase {
    /// Random runs over small alphabets (one letter, spaces, CJK patterns, digits and punctuation, mixed
    /// scripts), with windows from a few bytes to a few hundred so that every piece crosses many joins.
    func testWindowedBPEEqualsOneHeapOnQwen() {
        let v = bundledTokenizer.vocabulary
        var rng = SeededGenerator(seed: 41)
        let alphabets: [[String]] = [
            ["a"], ["a", "b"], [" "], [" ", "\n"], ["=", "-"], ["中", "文", "测", "试"], ["的", "一", "是"],
            ["😀"], ["😀", "👍", "a"], ["ab", "ba", "abc"], ["e", "\u{301}"], ["한", "국", "어"],
            ["0", "1", "2", ".", ","], ["th", "e", " ", "in", "g"], ["\u{0}", "\u{7F}", "é", "ß"],
        ]
        var checked = 0
        for round in 0..<240 {
            let alphabet = alphabets[round % alphabets.count]
            let units = 200 + Int(rng.next() % 3000)
            var text = ""
            if round % 3 == 0 {
                // A repeated pattern: windows of equal bytes reuse earlier ones.
                let pattern = (0..<(1 + Int(rng.next() % 7))).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined()
                text = String(repeating: pattern, count: units / max(pattern.count, 1) + 1)
            } else {
                for _ in 0..<units { text += alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            }
            let bytes = Array(text.utf8)
            let window = 8 + Int(rng.next() % 400), margin = 1 + Int(rng.next() % 64)
            let plain = v.bytePairEncode(bytes, windowed: false).ids
            let windowed = v.bytePairEncode(bytes, windowed: true, windowBytes: window, windowMargin: margin)
            XCTAssertEqual(windowed.ids, plain, "round \(round), window \(window), margin \(margin): \(text.prefix(40).debugDescription)")
            checked += 1
        }
        XCTAssertEqual(checked, 240)
    }

    /// The bucket queue that windows merge with (RankBuckets.swift) against the heap, with Qwen's merges on
    /// random and repeated runs over small alphabets (runs of one symbol take the pairing-from-the-left path).
    func testBucketQueueEqualsHeapOnQwen() {
        let v = bundledTokenizer.vocabulary
        var rng = SeededGenerator(seed: 77)
        let alphabets: [[String]] = [
            ["a"], ["a", "b"], [" "], ["=", "-"], ["中", "文", "测", "试"], ["😀", "👍", "a"], ["e", "\u{301}"],
            ["0", "1", "2"], ["th", "e", " ", "in", "g"], ["\u{0}", "\u{7F}", "é", "ß"], Array("abcdefghijklmnopqrstuvwxyz").map { String($0) },
        ]
        for round in 0..<300 {
            let alphabet = alphabets[round % alphabets.count]
            let units = 1 + Int(rng.next() % 2000)
            var text = ""
            if round % 4 == 0 {
                let pattern = (0..<(1 + Int(rng.next() % 5))).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined()
                text = String(repeating: pattern, count: units / max(pattern.count, 1) + 1)
            } else {
                for _ in 0..<units { text += alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            }
            let bytes = Array(text.utf8)
            let buckets = v.bytePairEncodeByBuckets(bytes)
            XCTAssertEqual(buckets.ids, v.bytePairEncode(bytes, windowed: false).ids, "round \(round): \(text.prefix(40).debugDescription)")
            XCTAssertFalse(buckets.byHeap, "Qwen's merges are monotone: the buckets never fall back to the heap")
        }
    }

    /// Random vocabularies over a few letters, with tokens that several merges produce and merges listed out
    /// of order, so that buckets are taken out of rank order and the window falls back to the heap: the
    /// buckets (or their fallback) must equal the heap every time, and both paths must be taken.
    func testBucketQueueEqualsHeapOnRandomVocabularies() throws {
        var rng = SeededGenerator(seed: 2015)
        var byBuckets = 0, byHeap = 0
        for round in 0..<600 {
            let letters = Array("abcd".utf8.prefix(2 + round % 3))
            var tokens: [[UInt8]] = (0..<256).map { [UInt8($0)] }
            var merges: [Merge] = []
            var pairs = Set<[UInt32]>()
            var alphabetTokens = letters.map { UInt32($0) }
            for _ in 0..<(5 + Int(rng.next() % 40)) {
                let left = alphabetTokens[Int(rng.next() % UInt64(alphabetTokens.count))]
                let right = alphabetTokens[Int(rng.next() % UInt64(alphabetTokens.count))]
                guard pairs.insert([left, right]).inserted else { continue }
                let joined = tokens[Int(left)] + tokens[Int(right)]
                guard joined.count <= 8 else { continue }
                let result: UInt32
                if let existing = tokens.firstIndex(of: joined) {
                    result = UInt32(existing)
                } else {
                    tokens.append(joined)
                    result = UInt32(tokens.count - 1)
                    alphabetTokens.append(result)
                }
                merges.append(Merge(left: left, right: right, result: result))
            }
            // Move a few merges earlier than the merges that make their parts.
            for _ in 0..<Int(rng.next() % 4) where merges.count > 1 {
                let from = Int(rng.next() % UInt64(merges.count)), to = Int(rng.next() % UInt64(merges.count))
                merges.insert(merges.remove(at: from), at: to)
            }
            let v = try Vocabulary(tokens: tokens, merges: merges, specialTokens: [], source: "random \(round)")
            for _ in 0..<20 {
                let bytes = (0..<(2 + Int(rng.next() % 300))).map { _ in letters[Int(rng.next() % UInt64(letters.count))] }
                let buckets = v.bytePairEncodeByBuckets(bytes)
                XCTAssertEqual(buckets.ids, v.bytePairEncode(bytes, windowed: false).ids,
                               "round \(round): \(String(decoding: bytes, as: UTF8.self)) with merges \(merges)")
                if buckets.byHeap { byHeap += 1 } else { byBuckets += 1 }
            }
        }
        XCTAssertGreaterThan(byHeap, 0, "no window came out of rank order: the heap fallback went untested")
        XCTAssertGreaterThan(byBuckets, 3000)
    }

    /// Windows encoded ahead on other threads (WindowedBPE.swift) against the walk on one thread and one heap,
    /// on random and repeated runs over small alphabets with tiny windows (so each piece crosses many windows
    /// and many batches), and with the vocabulary built to fail joins.
    func testWindowsEncodedAheadEqualOneThread() throws {
        let v = bundledTokenizer.vocabulary
        var rng = SeededGenerator(seed: 1515)
        let alphabets: [[String]] = [
            ["a", "b"], Array("abcdefghijklmnopqrstuvwxyz").map { String($0) }, ["中", "文", "测", "试"], ["😀", "👍", "a"],
            ["0", "1", "2", ".", ","], ["th", "e", "in", "g", "on"], ["e", "\u{301}", "é"], ["=", "-", "a"],
        ]
        var taken = 0
        for round in 0..<160 {
            let alphabet = alphabets[round % alphabets.count]
            var text = ""
            if round % 5 == 0 {
                let pattern = (0..<(1 + Int(rng.next() % 7))).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.joined()
                text = String(repeating: pattern, count: 300 + Int(rng.next() % 2000))
            } else {
                for _ in 0..<(500 + Int(rng.next() % 5000)) { text += alphabet[Int(rng.next() % UInt64(alphabet.count))] }
            }
            let bytes = Array(text.utf8)
            let window = 16 + Int(rng.next() % 600), margin = 1 + Int(rng.next() % 80), threads = 2 + round % 3
            let plain = v.bytePairEncode(bytes, windowed: false).ids
            let one = v.bytePairEncode(bytes, windowed: true, windowBytes: window, windowMargin: margin)
            let many = v.bytePairEncode(bytes, windowed: true, windowBytes: window, windowMargin: margin, threads: threads)
            XCTAssertEqual(one.ids, plain, "round \(round), window \(window), margin \(margin)")
            XCTAssertEqual(many.ids, plain, "round \(round), window \(window), margin \(margin), \(threads) threads: \(text.prefix(40).debugDescription)")
            XCTAssertEqual(one.takenAhead, 0)
            taken += many.takenAhead
        }
        XCTAssertGreaterThan(taken, 1000, "windows encoded ahead were seldom or never taken")
    }

    /// Merges built so that a window's last tokens depend on what follows it (b+c ranks before a+b, so
    /// "ab" followed by "c" is "a bc"): joins fail, the repair re-encodes, and the result stays exact.
    func testFailedJoinsAreRepaired() throws {
        let parts: [(String, String)] = [("b", "c"), ("a", "b"), ("c", "a"), ("ab", "ca"), ("bc", "a"), ("a", "a"),
                                         ("aa", "aa"), ("c", "c"), ("cc", "b")]
        var tokens: [[UInt8]] = (0..<256).map { [UInt8($0)] }
        var merges: [Merge] = []
        for (l, r) in parts {
            let left = UInt32(tokens.firstIndex(of: Array(l.utf8))!), right = UInt32(tokens.firstIndex(of: Array(r.utf8))!)
            tokens.append(Array((l + r).utf8))
            merges.append(Merge(left: left, right: right, result: UInt32(tokens.count - 1)))
        }
        let v = try Vocabulary(tokens: tokens, merges: merges, specialTokens: [], source: "test")
        var rng = SeededGenerator(seed: 5)
        var repairs = 0, repairsAhead = 0
        for round in 0..<400 {
            let letters: [UInt8] = round % 4 == 0 ? Array("abcd".utf8) : Array("abc".utf8)
            let bytes = (0..<(20 + Int(rng.next() % 600))).map { _ in letters[Int(rng.next() % UInt64(letters.count))] }
            let window = 2 + Int(rng.next() % 40), margin = 1 + Int(rng.next() % 8)
            let plain = v.bytePairEncode(bytes, windowed: false).ids
            let windowed = v.bytePairEncode(bytes, windowed: true, windowBytes: window, windowMargin: margin)
            XCTAssertEqual(windowed.ids, plain, "round \(round), window \(window), margin \(margin): \(String(decoding: bytes, as: UTF8.self))")
            repairs += windowed.repairs
            let ahead = v.bytePairEncode(bytes, windowed: true, windowBytes: window, windowMargin: margin, threads: 2)
            XCTAssertEqual(ahead.ids, plain, "round \(round), window \(window), margin \(margin), 2 threads: \(String(decoding: bytes, as: UTF8.self))")
            repairsAhead += ahead.repairs
        }
        XCTAssertGreaterThan(repairs, 0, "no join failed: the repair path went untested")
        XCTAssertGreaterThan(repairsAhead, 0, "no join failed with windows encoded ahead")
    }

    /// Whole-encoder pieces of hundreds of kilobytes (past the default window) against plain BPE, and the
    /// chunked API with a bounded buffer gives the same ids.
    func testLongPiecesThroughTheEncoder() throws {
        let v = bundledTokenizer.vocabulary
        for unit in ["a", " ", "中文测试分词器", "😀", "==", "ab", "\u{3000}"] {
            let text = String(repeating: unit, count: 150_000 / unit.utf8.count)
            let plain = v.bytePairEncode(Array(text.utf8), windowed: false).ids
            let pieces = bundledTokenizer.pieces(of: text)
            XCTAssertEqual(pieces.count, 1, unit)
            XCTAssertEqual(Tokenizer(vocabulary: v).encode(text, specialTokens: false), plain, unit)
            var streamed: [TokenID] = []
            var calls = 0
            try Array(text.utf8).withUnsafeBytes { b in
                try Tokenizer(vocabulary: v).encode(utf8: b, specialTokens: false, threads: 2) { streamed += $0; calls += 1 }
            }
            XCTAssertEqual(streamed, plain, unit)
        }
    }
}
