import Foundation
import VocabKitTokenizer
import XCTest

/// SHA-256 against digests made by Python's hashlib, and the vocabulary fingerprint a usage table records.
final class FingerprintTests: XCTestCase {
    func digest(_ bytes: [UInt8], pieces: Int = 1) -> String {
        var hash = SHA256()
        // Feed in uneven pieces: the result may not depend on how the input was cut.
        var start = 0
        for k in 0..<pieces {
            let end = k == pieces - 1 ? bytes.count : min(bytes.count, start + (k * 7 + 3))
            hash.update(bytes[start..<end])
            start = end
        }
        return hash.hexDigest()
    }

    func testSHA256MatchesHashlib() {
        // python3 -c "import hashlib; print(hashlib.sha256(m).hexdigest())"
        XCTAssertEqual(digest([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(digest(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(digest(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8), pieces: 4),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(digest(Array(repeating: UInt8(ascii: "a"), count: 1_000_000), pieces: 9),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // Lengths around the padding boundaries; bytes (i * 7 + 3) & 255.
        let expected: [Int: String] = [
            55: "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b",
            56: "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27",
            63: "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055",
            64: "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241",
            65: "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e",
            119: "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e",
            120: "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5",
            127: "a8d23e75d936f303d248888d9b165ee543f4cbafcad3c9dd2a79bd84faa11d07",
            128: "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6",
            1000: "1e9bc38cbf860b9ec31918b065f9b52476c549a782e0e7990bed8ce3868d2371",
        ]
        for (length, hex) in expected {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
            XCTAssertEqual(digest(bytes), hex, "\(length) bytes")
            XCTAssertEqual(digest(bytes, pieces: 5), hex, "\(length) bytes in pieces")
        }
    }

    /// The fingerprint follows what decides tokenization: the same for two loads, different when one token's
    /// bytes, one merge or one special token differ.
    func testFingerprintFollowsTheVocabulary() throws {
        func vocabulary(tokens: [[UInt8]?], merges: [Merge], specials: [SpecialToken], source: String = "toy") throws -> Vocabulary {
            try Vocabulary(tokens: tokens, merges: merges, specialTokens: specials, source: source)
        }
        var tokens: [[UInt8]?] = (0..<256).map { [UInt8($0)] }
        tokens.append(Array("ab".utf8))
        tokens.append(nil)  // a padding row
        let merges = [Merge(left: 97, right: 98, result: 256)]
        let specials = [SpecialToken(id: 258, text: "<|end|>", isControl: true)]
        let base = try vocabulary(tokens: tokens, merges: merges, specials: specials).fingerprint
        XCTAssertEqual(base.count, 64)
        XCTAssertEqual(try vocabulary(tokens: tokens, merges: merges, specials: specials, source: "elsewhere").fingerprint, base,
                       "the source path is not part of the fingerprint")
        XCTAssertEqual(try vocabulary(tokens: tokens + [nil, nil], merges: merges, specials: specials).fingerprint, base,
                       "padding rows without text are not part of it")
        var changed = tokens
        changed[256] = Array("ba".utf8)
        XCTAssertNotEqual(try vocabulary(tokens: changed, merges: [Merge(left: 98, right: 97, result: 256)], specials: specials).fingerprint, base)
        XCTAssertNotEqual(try vocabulary(tokens: tokens, merges: [], specials: specials).fingerprint, base)
        XCTAssertNotEqual(try vocabulary(tokens: tokens, merges: merges, specials: [SpecialToken(id: 258, text: "<|eot|>", isControl: true)]).fingerprint, base)
        XCTAssertEqual(bundledTokenizer.vocabulary.fingerprint, try Vocabulary.bundled().fingerprint)
        XCTAssertNotEqual(bundledTokenizer.vocabulary.fingerprint, base)
    }
}
