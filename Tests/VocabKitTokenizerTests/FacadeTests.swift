import Foundation
import VocabKitTokenizer
import XCTest

/// The library as a program uses it: a few lines to tokenize, detokenize and stream.
final class FacadeTests: XCTestCase {
    /// The README's example, as written there.
    func testReadmeExample() throws {
        let tokenizer = try Tokenizer.qwen3()
        let ids = tokenizer.encode("Hello, world")
        let text = try tokenizer.decode(ids)
        XCTAssertEqual(ids, [9707, 11, 1879])
        XCTAssertEqual(String(decoding: text, as: UTF8.self), "Hello, world")
        XCTAssertTrue(try Tokenizer.qwen3() === tokenizer, "the bundled tokenizer loads once")
    }

    func testTokenizerFromAFile() throws {
        let path = repositoryRoot.appendingPathComponent("Vocab/qwen3.vkv").path
        let tokenizer = try Tokenizer(contentsOf: path)
        XCTAssertEqual(tokenizer.preTokenizer, .qwen2)
        XCTAssertEqual(tokenizer.encode("Hello, world"), try Tokenizer.qwen3().encode("Hello, world"))
        XCTAssertEqual(try Tokenizer(contentsOf: path, preTokenizer: .llama3).preTokenizer.pieces(of: "12345"), [Array("123".utf8), Array("45".utf8)])
        XCTAssertThrowsError(try Tokenizer(contentsOf: "/nonexistent/tokenizer.json"))
    }

    /// Streaming gives exactly `decode`'s bytes, a whole character at a time: nothing returned ends inside a
    /// character, nothing is held back longer than the rest of its character takes to arrive.
    func testStreamingDecoderEqualsDecode() throws {
        let tokenizer = try Tokenizer.qwen3()
        var rng = SeededGenerator(seed: 41)
        var split = 0
        for _ in 0..<500 {
            let text = PropertyTests.randomString(&rng, length: 1 + Int(rng.next() % 40))
            let ids = tokenizer.encode(text, specialTokens: false)
            var stream = StreamingDecoder(tokenizer)
            var streamed = [UInt8]()
            for id in ids {
                let bytes = try stream.append(id)
                XCTAssertNotNil(String(validating: bytes, as: UTF8.self), "chunk of \(text.debugDescription) is not whole UTF-8")
                streamed += bytes
                if stream.isWaiting { split += 1 }
            }
            XCTAssertFalse(stream.isWaiting, "held back bytes at the end of valid text")
            streamed += stream.finish()
            XCTAssertEqual(streamed, try tokenizer.decode(ids), text.debugDescription)
        }
        XCTAssertGreaterThan(split, 20, "some characters should span tokens")
    }

    func testStreamingDecoderHoldsOnlyWhatCanStillComplete() throws {
        let tokenizer = try Tokenizer.qwen3()
        let v = tokenizer.vocabulary
        let byte = { (b: UInt8) in TokenID(v.id(of: [b])!) }
        var stream = StreamingDecoder(tokenizer)
        // 🦙 is F0 9F A6 99: held until the fourth byte arrives.
        XCTAssertEqual(try stream.append(byte(0xF0)), [])
        XCTAssertEqual(try stream.append(byte(0x9F)), [])
        XCTAssertEqual(try stream.append(byte(0xA6)), [])
        XCTAssertEqual(try stream.append(byte(0x99)), Array("🦙".utf8))
        // A lone continuation byte can never complete: it comes back at once.
        XCTAssertEqual(try stream.append(byte(0x80)), [0x80])
        // E0 80 is never valid (overlong): not held.
        XCTAssertEqual(try stream.append(byte(0xE0)), [])
        XCTAssertEqual(try stream.append(byte(0x80)), [0xE0, 0x80])
        // An unfinished character at the end comes out of finish().
        XCTAssertEqual(try stream.append(byte(0xE4)), [])
        XCTAssertEqual(stream.finish(), [0xE4])
        XCTAssertFalse(stream.isWaiting)
        // An unknown id throws and consumes nothing.
        XCTAssertEqual(try stream.append(byte(0xE4)), [])
        XCTAssertThrowsError(try stream.append(4_000_000)) { error in
            XCTAssertEqual(error as? TokenizerError, .unknownTokenId(4_000_000))
        }
        XCTAssertEqual(try stream.append(byte(0xB8)), [])
        XCTAssertEqual(try stream.appendText(byte(0xAD)), "中")
    }

    /// Pre-tokenizers by name, as GGUF files and the CLI give them.
    func testPreTokenizerRegistry() {
        XCTAssertEqual(PreTokenizer.named("qwen2"), .qwen2)
        XCTAssertEqual(PreTokenizer.named("qwen35"), .qwen35)
        XCTAssertEqual(PreTokenizer.named("llama-bpe"), .llama3)
        XCTAssertEqual(PreTokenizer.named("llama3"), .llama3)
        XCTAssertNil(PreTokenizer.named("qwen3"))
        XCTAssertNil(PreTokenizer.named("gpt-2"))
        XCTAssertEqual(Set(PreTokenizer.all.map(\.name)).count, PreTokenizer.all.count)
        for pre in PreTokenizer.all { XCTAssertEqual(PreTokenizer.named(pre.name), pre) }
    }
}
