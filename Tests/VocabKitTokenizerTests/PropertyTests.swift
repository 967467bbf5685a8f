import CICU
import Foundation
import VocabKitTokenizer
import XCTest

final class PropertyTests: XCTestCase {
    /// Random strings over a mix of ranges that exercise every branch: ASCII, Latin-1, combining marks,
    /// Hangul jamo, CJK, Indic, emoji, unassigned and private-use code points, and odd whitespace.
    static func randomString(_ rng: inout SeededGenerator, length: Int) -> String {
        let ranges: [ClosedRange<UInt32>] = [
            0x20...0x7E, 0x20...0x7E, 0x20...0x7E, 0x09...0x0D, 0x80...0xFF, 0x300...0x36F, 0x1100...0x11FF,
            0x4E00...0x4E80, 0x900...0x97F, 0x600...0x6FF, 0x1F300...0x1F6FF, 0x2000...0x206F, 0x3000...0x303F,
            0xE000...0xE010, 0xFFF0...0xFFFF, 0x10FFF0...0x10FFFF, 0xAC00...0xAC40, 0x2028...0x2029, 0x85...0x85,
            0x27...0x27, 0x17F...0x17F,
        ]
        var s = String.UnicodeScalarView()
        for _ in 0..<length {
            let r = ranges[Int(rng.next() % UInt64(ranges.count))]
            let v = r.lowerBound + UInt32(rng.next() % UInt64(r.upperBound - r.lowerBound + 1))
            if let scalar = Unicode.Scalar(v) { s.append(scalar) }
        }
        return String(s)
    }

    func testDecodeOfEncodeIsNFC() throws {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<3000 {
            let s = Self.randomString(&rng, length: Int(rng.next() % 40))
            let ids = bundledTokenizer.encode(s, specialTokens: false)
            XCTAssertEqual(try bundledTokenizer.decode(ids), Tokenizer.nfc(Array(s.utf8)), s.debugDescription)
        }
    }

    /// Encoders (and their piece caches) are kept between calls and shared by threads through a pool: a
    /// tokenizer that has seen other text, on any thread, must give what a fresh one gives.
    func testReusedEncodersMatchFreshOnesAcrossCallsAndThreads() throws {
        var rng = SeededGenerator(seed: 23)
        let texts = (0..<400).map { _ in Self.randomString(&rng, length: 1 + Int(rng.next() % 60)) }
            + [String(repeating: "configuration ", count: 50), String(repeating: "数字化转型", count: 30)]
        let fresh = texts.map { Tokenizer(vocabulary: bundledTokenizer.vocabulary).encode($0) }
        let shared = Tokenizer(vocabulary: bundledTokenizer.vocabulary)
        for round in 0..<2 {
            for (i, t) in texts.enumerated() { XCTAssertEqual(shared.encode(t), fresh[i], "round \(round): \(t.debugDescription)") }
        }
        let results = ResultBox(count: texts.count)
        DispatchQueue.concurrentPerform(iterations: 4) { w in
            for i in stride(from: w, to: texts.count, by: 4) { results.set(i, shared.encode(texts[i])) }
        }
        for i in texts.indices { XCTAssertEqual(results.values[i], fresh[i]) }
    }

    func testHeapAndLinearBPEAgree() {
        var rng = SeededGenerator(seed: 11)
        let v = bundledTokenizer.vocabulary
        // Up to 60 characters: both sides of the linear scan's limit (BytePairEncoder.linearLimit, 48 bytes).
        for _ in 0..<2000 {
            let s = Self.randomString(&rng, length: 1 + Int(rng.next() % 60))
            let bytes = Array(s.utf8)
            XCTAssertEqual(v.bytePairEncode(bytes), v.bytePairEncode(bytes, forceHeap: true), s.debugDescription)
        }
        for word in ["aaaaaaaaaaaaa", "abababababab", "                ", "hello_world_hello", "ThisIsCamelCase",
                     String(repeating: "a", count: 48), String(repeating: "-", count: 47),
                     "self.assertEqual(result_of_the_long_call_here)", "__init_subclass_with_a_long_name_for_tests__"] {
            let bytes = Array(word.utf8)
            XCTAssertEqual(v.bytePairEncode(bytes), v.bytePairEncode(bytes, forceHeap: true), word)
        }
    }

    /// Every piece that is itself a vocabulary token must come out as that token (the shortcut the piece
    /// table takes), which holds when BPE reproduces each token from its bytes.
    func testEveryTokenEncodesToItself() {
        let v = bundledTokenizer.vocabulary
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<5000 {
            let id = Int(rng.next() % 151_643)
            XCTAssertEqual(v.bytePairEncode(v.bytes(of: id)), [TokenID(id)], "token \(id)")
        }
        // Tokens that are not whole characters (partial UTF-8 sequences) too.
        var partial = 0
        for id in 0..<151_643 where String(validating: v.bytes(of: id), as: UTF8.self) == nil {
            XCTAssertEqual(v.bytePairEncode(v.bytes(of: id)), [TokenID(id)], "token \(id)")
            partial += 1
        }
        XCTAssertGreaterThan(partial, 1000)
    }

    func testUTF8ValidationAgreesWithStandardLibrary() {
        var rng = SeededGenerator(seed: 5)
        let interesting: [[UInt8]] = [[0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xE0, 0x80, 0x80], [0xF4, 0x90, 0x80, 0x80],
                                      [0xF5], [0xFF], [0x80], [0xE2, 0x82], [0xF0, 0x9F, 0x98], [0xC2]]
        for _ in 0..<20000 {
            var bytes = Array(Self.randomString(&rng, length: Int(rng.next() % 12)).utf8)
            if rng.next() % 2 == 0 {
                let at = bytes.isEmpty ? 0 : Int(rng.next() % UInt64(bytes.count + 1))
                bytes.insert(contentsOf: interesting[Int(rng.next() % UInt64(interesting.count))], at: at)
            }
            if rng.next() % 4 == 0, !bytes.isEmpty { bytes[Int(rng.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            let ours = bytes.withUnsafeBufferPointer { UTF8Validation.firstInvalidOffset($0.baseAddress ?? UnsafePointer(bitPattern: 1)!, $0.count) }
            let valid = String(validating: bytes, as: UTF8.self) != nil
            XCTAssertEqual(ours == nil, valid, "\(bytes)")
            if let offset = ours {
                // Everything before the reported offset is valid UTF-8 on its own.
                XCTAssertNotNil(String(validating: bytes[0..<offset], as: UTF8.self), "\(bytes) at \(offset)")
            }
        }
    }

    /// The validator checks 64 bytes at a time: characters and bad bytes at every position around the groups'
    /// edges, and sequences cut by the end.
    func testUTF8ValidationAcrossGroupEdges() {
        var rng = SeededGenerator(seed: 9)
        let characters = ["a", "é", "中", "😀", "\u{10FFFF}", "\u{800}", "\u{D7FF}", "\u{E000}", "\u{10000}", "\u{FFFF}"]
        let bad: [[UInt8]] = [[0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x9F, 0xBF], [0xF0, 0x8F, 0xBF, 0xBF],
                              [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80], [0xFF], [0x80], [0xBF], [0xE2, 0x82], [0xF0, 0x9F, 0x98],
                              [0xC2], [0xE4, 0xB8, 0xC0]]
        for round in 0..<4000 {
            var bytes = [UInt8]()
            let length = 60 + Int(rng.next() % 200)
            while bytes.count < length { bytes += Array(characters[Int(rng.next() % UInt64(characters.count))].utf8) }
            if round % 3 != 0 {
                let edge = 64 * (1 + Int(rng.next() % 3)) - 4 + Int(rng.next() % 8)
                bytes.insert(contentsOf: bad[Int(rng.next() % UInt64(bad.count))], at: min(edge, bytes.count))
            } else if round % 6 == 0 {
                bytes.removeLast(Int(rng.next() % 3))  // may cut the last character
            }
            let ours = bytes.withUnsafeBufferPointer { UTF8Validation.firstInvalidOffset($0.baseAddress!, $0.count) }
            XCTAssertEqual(ours == nil, String(validating: bytes, as: UTF8.self) != nil, "\(bytes)")
            if let offset = ours {
                XCTAssertNotNil(String(validating: bytes[0..<offset], as: UTF8.self), "\(bytes) at \(offset)")
                XCTAssertNil(String(validating: bytes[0..<min(bytes.count, offset + 4)], as: UTF8.self), "\(bytes) at \(offset)")
            }
        }
    }

    /// The NFC pre-check looks at 64 bytes at a time and decodes only characters whose first byte does not
    /// make them stable: on long mixed text, what it leaves alone must already be NFC (ICU over the whole text
    /// is the reference).
    func testNFCPreCheckOnLongText() {
        var rng = SeededGenerator(seed: 13)
        let units = ["a", " ", "\n", "中", "文", "é", "e\u{301}", "\u{301}", "\u{0627}\u{0653}", "한", "\u{1100}\u{1161}",
                     "😀", "\u{212B}", "\u{F900}", "Å", "\u{0958}", "Ω", "\u{2126}", "\u{1E0A}\u{0323}", "\u{0CCA}"]
        for _ in 0..<1500 {
            var text = ""
            for _ in 0..<(20 + Int(rng.next() % 150)) { text += units[Int(rng.next() % UInt64(units.count))] }
            let bytes = Array(text.utf8)
            var reference = [UInt8](repeating: 0, count: bytes.count * 3 + 16)
            let written = bytes.withUnsafeBufferPointer { b in
                reference.withUnsafeMutableBufferPointer { vk_nfc_utf8(b.baseAddress, Int64(b.count), $0.baseAddress, Int64($0.count)) }
            }
            XCTAssertGreaterThanOrEqual(written, 0)
            XCTAssertEqual(Tokenizer.nfc(bytes), Array(reference.prefix(Int(written))), text.debugDescription)
        }
    }

    /// A line without line feeds goes through ICU a window at a time, cut before a scalar that NFC leaves alone
    /// and that never combines backwards: tiny windows (a cut at nearly every allowed place) must give ICU's NFC
    /// of the whole text.
    func testWindowedNFCEqualsWholeText() {
        var rng = SeededGenerator(seed: 17)
        let units = ["a", "中", "é", "e\u{301}", "\u{301}", "\u{327}", "\u{0627}\u{0653}", "한", "\u{1100}", "\u{1161}",
                     "\u{11A8}", "😀", "\u{212B}", "\u{F900}", "\u{0958}", "\u{1E0A}\u{0323}", "\u{0CC6}", "\u{0CD5}",
                     "\u{0F73}", "\u{3099}", "か", "\u{0344}", ".", "Å"]
        for round in 0..<600 {
            var text = ""
            for _ in 0..<(20 + Int(rng.next() % 300)) { text += units[Int(rng.next() % UInt64(units.count))] }
            let bytes = Array(text.utf8)
            var reference = [UInt8](repeating: 0, count: bytes.count * 3 + 16)
            let written = bytes.withUnsafeBufferPointer { b in
                reference.withUnsafeMutableBufferPointer { vk_nfc_utf8(b.baseAddress, Int64(b.count), $0.baseAddress, Int64($0.count)) }
            }
            XCTAssertGreaterThanOrEqual(written, 0)
            let window = 1 + round % 16
            XCTAssertEqual(Tokenizer.nfc(bytes, window: window), Array(reference.prefix(Int(written))),
                           "window \(window): \(text.debugDescription)")
        }
    }

    func testInvalidUTF8IsReportedWithOffset() {
        let bytes: [UInt8] = Array("hello wörld ".utf8) + [0xED, 0xA0, 0x80] + Array(" tail".utf8)
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try bundledTokenizer.encode(utf8: $0) }) { error in
            XCTAssertEqual(error as? TokenizerError, .invalidUTF8(offset: 13, path: nil))
        }
        // With threads, chunks validate themselves: the first bad byte of the whole text is still the one named,
        // wherever the chunks fall and however many are bad.
        var big = Array(String(repeating: "line of text with words\n", count: 40_000).utf8)
        for (k, at) in [700_000, 300_001, 900_000].enumerated() { big[at] = k == 1 ? 0xC3 : 0xFF }
        for threads in [1, 2, 4] {
            XCTAssertThrowsError(try big.withUnsafeBytes { try bundledTokenizer.encode(utf8: $0, threads: threads) }) { error in
                XCTAssertEqual(error as? TokenizerError, .invalidUTF8(offset: 300_001, path: nil), "\(threads) threads")
            }
        }
    }

    /// Parallel encoding splits the input into chunks; the result must not depend on where.
    func testChunkedParallelEncodingEqualsSequential() throws {
        var rng = SeededGenerator(seed: 9)
        var text = ""
        let goldenTexts = GoldenTests.cases.compactMap(\.text)
        while text.utf8.count < 1_500_000 {
            switch rng.next() % 4 {
            case 0: text += goldenTexts[Int(rng.next() % UInt64(goldenTexts.count))]
            case 1: text += Self.randomString(&rng, length: 30)
            case 2: text += "\n    def function_\(rng.next() % 1000)(self, value):\n        return value\n"
            default: text += " The quick brown fox jumps over the lazy dog. Ça va? Привет мир. 你好，世界。\n"
            }
        }
        let bytes = Array(text.utf8)
        let one = try bytes.withUnsafeBytes { try bundledTokenizer.encode(utf8: $0, threads: 1) }
        for threads in [2, 3, 8] {
            let many = try bytes.withUnsafeBytes { try bundledTokenizer.encode(utf8: $0, threads: threads) }
            XCTAssertEqual(many.count, one.count, "threads \(threads)")
            XCTAssertTrue(many == one, "threads \(threads): ids differ")
        }
        XCTAssertEqual(one, bundledTokenizer.encode(text))
    }

    /// Long runs go through the heap BPE and the whitespace branches; they must round-trip.
    func testMegabyteRuns() throws {
        for unit in ["a", " ", "\n", "\r\n", " \t", "ab", "1", "中", "🦙", "\u{0301}"] {
            let text = String(repeating: unit, count: 1_000_000 / unit.utf8.count)
            let ids = bundledTokenizer.encode(text, specialTokens: false)
            XCTAssertEqual(try bundledTokenizer.decode(ids), Tokenizer.nfc(Array(text.utf8)), "run of \(unit.debugDescription)")
            XCTAssertLessThan(ids.count, text.utf8.count + 1)
        }
    }

    /// An independent implementation of the split: ICU's regex engine with the same pattern (`\s` spelled out as
    /// Oniguruma's Unicode \s, which ICU's differs from), on the goldens and random strings.
    func testPreTokenizerAgreesWithICURegex() throws {
        let space = #"[\t\n\u000B\f\r\u0085\p{Z}]"#, notSpace = #"[^\t\n\u000B\f\r\u0085\p{Z}]"#
        let pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^SPACE\p{L}\p{N}]+[\r\n]*|SPACE*[\r\n]+|SPACE+(?!NOTSPACE)|SPACE+"#
            .replacingOccurrences(of: "[^SPACE", with: #"[^\t\n\u000B\f\r\u0085\p{Z}"#)
            .replacingOccurrences(of: "NOTSPACE", with: notSpace)
            .replacingOccurrences(of: "SPACE", with: space)
        var error = [CChar](repeating: 0, count: 64)
        guard let re = vk_regex_open(pattern, &error, 64) else { return XCTFail("ICU: \(String(cString: error))") }
        defer { vk_regex_close(re) }
        var rng = SeededGenerator(seed: 13)
        // Debian's ICU is Unicode 15; the reference (and so VocabKit's class table) is Unicode 16.
        var inputs = GoldenTests.cases.filter { !$0.name.hasPrefix("unicode16/") && $0.unicode_version_sensitive != true }.compactMap(\.text)
        for _ in 0..<3000 { inputs.append(Self.randomString(&rng, length: Int(rng.next() % 30))) }
        var checked = 0
        for text in inputs where text.unicodeScalars.allSatisfy({ vk_icu_is_assigned($0.value) != 0 }) {
            let normalized = Tokenizer.nfc(Array(text.utf8))
            var ends = [Int64](repeating: 0, count: normalized.count + 1)
            let n = normalized.withUnsafeBufferPointer { vk_regex_split_utf8(re, $0.baseAddress, Int64($0.count), &ends, Int64(ends.count)) }
            XCTAssertGreaterThanOrEqual(n, 0)
            var icuPieces = [[UInt8]]()
            var start = 0
            for k in 0..<max(Int(n), 0) {
                icuPieces.append(Array(normalized[start..<Int(ends[k])]))
                start = Int(ends[k])
            }
            XCTAssertEqual(bundledTokenizer.pieces(of: text), icuPieces, text.debugDescription)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 2000)
    }
}

extension PropertyTests {
    /// `encodesToItself` is what BPE over the token's own bytes says, on a vocabulary where some tokens
    /// cannot be produced (one merge removed).
    /// The encoder normalizes only the stretch around text NFC may change, cut at line starts: documents of
    /// mixed lines (decomposed accents, Hangul jamo, marks after spaces, blank and CRLF lines) must encode as
    /// BPE over the ICU regex's pieces of the NFC of the whole document.
    func testPartialNormalizationMatchesWholeDocumentNFC() throws {
        let pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        var error = [CChar](repeating: 0, count: 64)
        guard let re = vk_regex_open(pattern, &error, 64) else { return XCTFail("ICU: \(String(cString: error))") }
        defer { vk_regex_close(re) }
        let lines = ["plain ascii line", "cafe\u{301} au lait", "\u{1100}\u{1161}\u{11A8} jamo", " \u{301}mark after space",
                     "", "   ", "x\r", "Ångström \u{212B}", "e\u{301}\u{327} reordered", "\u{301}", "tail words here",
                     "\t\u{0308}umlaut", "数字\u{3099}", "Line2 ok"]
        var rng = SeededGenerator(seed: 31)
        for _ in 0..<400 {
            let count = 1 + Int(rng.next() % 12)
            let text = (0..<count).map { _ in lines[Int(rng.next() % UInt64(lines.count))] }
                .joined(separator: rng.next() % 5 == 0 ? "\r\n" : "\n") + (rng.next() % 2 == 0 ? "\n" : "")
            let normalized = Tokenizer.nfc(Array(text.utf8))
            var ends = [Int64](repeating: 0, count: normalized.count + 1)
            let n = normalized.withUnsafeBufferPointer { vk_regex_split_utf8(re, $0.baseAddress, Int64($0.count), &ends, Int64(ends.count)) }
            XCTAssertGreaterThanOrEqual(n, 0)
            var expected: [TokenID] = []
            var start = 0
            for k in 0..<max(Int(n), 0) {
                expected += bundledTokenizer.vocabulary.bytePairEncode(Array(normalized[start..<Int(ends[k])]))
                start = Int(ends[k])
            }
            XCTAssertEqual(bundledTokenizer.encode(text, specialTokens: false), expected, text.debugDescription)
        }
    }

    func testEncodesToItselfMatchesBPE() throws {
        let v = bundledTokenizer.vocabulary
        let target = v.merges.first { v.bytes(of: Int($0.result)) == Array(" function".utf8) }!
        let merges = v.merges.filter { $0 != target }
        let tokens: [[UInt8]?] = (0..<151_643).map { v.bytes(of: $0) }
        let broken = try Vocabulary(tokens: tokens, merges: merges, specialTokens: [], source: "test")
        XCTAssertFalse(broken.encodesToItself(Int(target.result)))
        var rng = SeededGenerator(seed: 17)
        for _ in 0..<3000 {
            let id = Int(rng.next() % 151_643)
            XCTAssertEqual(broken.encodesToItself(id), broken.bytePairEncode(v.bytes(of: id)) == [TokenID(id)], "token \(id)")
        }
        XCTAssertTrue(v.encodesToItself(Int(target.result)))
    }
}

/// Per-index results written by concurrent workers, each index by one worker.
final class ResultBox: @unchecked Sendable {
    private(set) var values: [[TokenID]]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: [], count: count) }
    func set(_ i: Int, _ v: [TokenID]) { lock.lock(); values[i] = v; lock.unlock() }
}
