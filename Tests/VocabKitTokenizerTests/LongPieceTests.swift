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
        var repairs = 0
        for round in 0..<400 {
            let letters: [UInt8] = round % 4 == 0 ? Array("abcd".utf8) : Array("abc".utf8)
            let bytes = (0..<(20 + Int(rng.next() % 600))).map { _ in letters[Int(rng.next() % UInt64(letters.count))] }
            let window = 2 + Int(rng.next() % 40), margin = 1 + Int(rng.next() % 8)
            let plain = v.bytePairEncode(bytes, windowed: false).ids
            let windowed = v.bytePairEncode(bytes, windowed: true, windowBytes: window, windowMargin: margin)
            XCTAssertEqual(windowed.ids, plain, "round \(round), window \(window), margin \(margin): \(String(decoding: bytes, as: UTF8.self))")
            repairs += windowed.repairs
        }
        XCTAssertGreaterThan(repairs, 0, "no join failed: the repair path went untested")
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
