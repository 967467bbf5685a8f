import VocabKitTokenizer
import XCTest

/// The encoder finds piece starts for a whole block at once with word-wide bit operations over class masks
/// (PreTokenizer.swift, `markPieceStarts`); the byte-by-byte scanner, which the ICU and reference tests pin to
/// the regex, is the specification. These compare the two on text built from the characters every rule turns
/// on, for every family, across block boundaries.
final class ScannerTests: XCTestCase {
    static let units: [String] = [
        "a", "b", "s", "S", "t", "T", "m", "d", "D", "l", "ll", "LL", "re", "Ve", "x", "abc", "ſ", "é", "中", "文",
        "'", "''", " '", "'s", "'S", "'ll", "'re", "'ſ", "’",
        " ", "  ", "    ", "\t", "\u{0B}", "\u{0C}", "\n", "\n\n", "\r\n", "\r", " \n", "\u{3000}", "\u{A0}", "\u{85}",
        "\u{2028}", "\u{2009}",
        ".", ",", "(", ")", "...", "-", "=", "，", "。", "「", "😀", "©",
        "1", "2", "12", "123", "1234", "٣", "٤٥", "３", "Ⅻ", "½",
        "\u{301}", "\u{300}", "e\u{301}", "\u{94D}", "क", "ि",
    ]

    static func randomText(_ rng: inout SeededGenerator, units count: Int) -> String {
        var s = ""
        for _ in 0..<count { s += units[Int(rng.next() % UInt64(units.count))] }
        return s
    }

    func testBlockWideStartsEqualByteByByteScanner() {
        var rng = SeededGenerator(seed: 77)
        for family in PreTokenizer.all {
            var checked = 0
            for round in 0..<(Int(ProcessInfo.processInfo.environment["VOCABKIT_SCANNER_ROUNDS"] ?? "") ?? 6000) {
                // Mostly short texts; some cross several 4 KiB blocks, some are long runs of one unit.
                let text: String
                switch round % 50 {
                case 0: text = Self.randomText(&rng, units: 3000 + Int(rng.next() % 4000))
                case 1: text = String(repeating: Self.units[Int(rng.next() % UInt64(Self.units.count))], count: 100 + Int(rng.next() % 6000))
                    + Self.randomText(&rng, units: 20)
                default: text = Self.randomText(&rng, units: 1 + Int(rng.next() % 120))
                }
                let fast = family.pieces(of: text, byteByByte: false)
                let slow = family.pieces(of: text, byteByByte: true)
                if fast != slow {
                    let i = (0..<min(fast.count, slow.count)).first { fast[$0] != slow[$0] } ?? min(fast.count, slow.count)
                    XCTFail("\(family) round \(round): piece \(i) differs: \(fast.dropFirst(i).prefix(3).map { String(decoding: $0, as: UTF8.self).debugDescription }) vs \(slow.dropFirst(i).prefix(3).map { String(decoding: $0, as: UTF8.self).debugDescription }) in \(text.prefix(200).debugDescription)")
                    break
                }
                checked += 1
            }
            XCTAssertGreaterThan(checked, 0, "\(family)")
        }
    }

    /// The encoder reads pieces off the block's start bits itself: its ids must be those of the byte-by-byte
    /// scanner's pieces, each a token or merged on its own.
    func testEncoderMatchesPieceByPieceEncoding() {
        var rng = SeededGenerator(seed: 91)
        let v = bundledTokenizer.vocabulary
        for round in 0..<300 {
            let text = round % 10 == 0 ? Self.randomText(&rng, units: 2000 + Int(rng.next() % 3000))
                                       : Self.randomText(&rng, units: 1 + Int(rng.next() % 200))
            var expected: [TokenID] = []
            for piece in PreTokenizer.qwen2.pieces(of: text, byteByByte: true) {
                if let id = v.id(of: piece), v.encodesToItself(id) { expected.append(TokenID(id)) } else { expected += v.bytePairEncode(piece, forceHeap: true) }
            }
            XCTAssertEqual(Tokenizer(vocabulary: v).encode(text, specialTokens: false), expected, "round \(round): \(text.prefix(100).debugDescription)")
        }
    }

    /// Every ASCII byte pair and triple in context: the SIMD classification of ASCII must agree with the class
    /// table, and every rule sees each neighbour.
    func testEveryASCIITripleEqualsByteByByteScanner() {
        let bytes = (0x01...0x7F).map { UInt8($0) }
        for family in PreTokenizer.all {
            var text = [UInt8]()
            for a in bytes { for b in bytes { text += [a, b, 0x61, a, 0x20, b, 0x27, a, b, 0x0A] } }
            let s = String(decoding: text, as: UTF8.self)
            XCTAssertEqual(family.pieces(of: s, byteByByte: false), family.pieces(of: s, byteByByte: true), "\(family)")
        }
    }
}
