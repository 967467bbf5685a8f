import Foundation
import VocabKitTokenizer
import XCTest

/// Cases whose answers the reference (HF tokenizers configured as Qwen) produced: Tests/Oracle/make_goldens.py.
final class GoldenTests: XCTestCase {
    struct Case: Decodable {
        let name: String
        let text: String?
        let prefix: String?
        let suffix: String?
        let `repeat`: String?
        let count: Int?
        let ids: [TokenID]
        let ids_no_special: [TokenID]
        let decoded: String?
        let nfc: String?
        /// Holds code points whose class or normalization depends on the Unicode version.
        let unicode_version_sensitive: Bool?

        var input: String { text ?? (prefix ?? "") + String(repeating: self.repeat ?? "", count: count ?? 0) + (suffix ?? "") }
    }

    static let cases: [Case] = {
        let url = repositoryRoot.appendingPathComponent("Tests/Fixtures/goldens/adversarial.json")
        return (try? JSONDecoder().decode([Case].self, from: Data(contentsOf: url))) ?? []
    }()

    func testGoldensLoaded() {
        XCTAssertGreaterThan(Self.cases.count, 300, "adversarial.json missing or unreadable")
    }

    func testIdsMatchReference() {
        var failures = 0
        for c in Self.cases {
            let got = bundledTokenizer.encode(c.input)
            if got != c.ids {
                failures += 1
                if failures <= 20 { XCTFail("\(c.name): \(c.input.debugDescription.prefix(120))\n got \(got.prefix(40))\nwant \(c.ids.prefix(40))") }
            }
        }
        XCTAssertEqual(failures, 0)
    }

    func testIdsWithSpecialTokensAsText() {
        for c in Self.cases {
            XCTAssertEqual(bundledTokenizer.encode(c.input, specialTokens: false), c.ids_no_special, c.name)
        }
    }

    func testDecodeMatchesReference() throws {
        for c in Self.cases {
            let bytes = try bundledTokenizer.decode(c.ids)
            let expected = c.decoded ?? c.nfc ?? c.input
            XCTAssertEqual(String(decoding: bytes, as: UTF8.self), expected, c.name)
        }
    }
}
