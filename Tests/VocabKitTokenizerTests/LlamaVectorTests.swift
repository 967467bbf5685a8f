import Foundation
import VocabKitTokenizer
import XCTest

/// llama.cpp's tokenizer vectors for each pre-tokenizer VocabKit knows (Tests/Fixtures/llama-vocab, from the
/// llama-cpp-python 0.3.36 sdist; the vocabulary GGUFs come from Tests/Fixtures/llama-vocab/fetch.sh --gguf).
final class LlamaVectorTests: XCTestCase {
    /// The cases of `ggml-vocab-<family>.gguf.inp/.out`, parsed as llama.cpp's test-tokenizer-0 does.
    static func vectors(_ family: String) throws -> [(String, [TokenID])] {
        let dir = repositoryRoot.appendingPathComponent("Tests/Fixtures/llama-vocab")
        let inp = try String(contentsOf: dir.appendingPathComponent("ggml-vocab-\(family).gguf.inp"), encoding: .utf8)
        let out = try String(contentsOf: dir.appendingPathComponent("ggml-vocab-\(family).gguf.out"), encoding: .utf8)
        var texts = inp.components(separatedBy: "\n__ggml_vocab_test__\n")
        if texts.last == "" { texts.removeLast() }
        var lines = out.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        let ids = lines.map { $0.split(separator: " ").map { TokenID($0)! } }
        XCTAssertEqual(texts.count, ids.count, family)
        return Array(zip(texts, ids))
    }

    static let expectedCounts = ["qwen2": 46, "qwen35": 50, "llama-bpe": 46]

    func testQwen2VectorsWithBundledVocabulary() throws {
        let vectors = try Self.vectors("qwen2")
        XCTAssertEqual(vectors.count, 46)
        for (text, ids) in vectors {
            // llama.cpp encodes these with parse_special = false.
            XCTAssertEqual(bundledTokenizer.encode(text, specialTokens: false), ids, text.debugDescription)
        }
    }

    /// Each family's vectors through its own vocabulary GGUF, whose `tokenizer.ggml.pre` picks the pre-tokenizer.
    func testEveryFamilyWithItsGGUFVocabulary() throws {
        for (family, count) in Self.expectedCounts.sorted(by: { $0.key < $1.key }) {
            let path = try requireTestData(".build-testdata/ggml-vocab-\(family).gguf")
            let tokenizer = try Tokenizer(contentsOf: path)
            XCTAssertEqual(tokenizer.preTokenizer.name, family)
            let vectors = try Self.vectors(family)
            XCTAssertEqual(vectors.count, count, family)
            var failed = 0
            for (text, ids) in vectors where tokenizer.encode(text, specialTokens: false) != ids {
                failed += 1
                XCTFail("\(family): \(text.debugDescription.prefix(80)): got \(tokenizer.encode(text, specialTokens: false).prefix(20)), want \(ids.prefix(20))")
            }
            XCTAssertEqual(failed, 0, family)
        }
    }

    /// The families differ where their descriptions say: Qwen3.5 keeps a decomposed accent apart from NFC and
    /// with its letters, Llama 3 groups digits by three and takes whole-word tokens before merging. The same
    /// Qwen vocabulary under qwen2 and qwen35 gives different ids for the same text.
    func testFamiliesDifferWhereTheirRulesDo() throws {
        let qwen35 = try Tokenizer(contentsOf: try requireTestData(".build-testdata/ggml-vocab-qwen35.gguf"))
        let qwen2 = try Tokenizer(contentsOf: try requireTestData(".build-testdata/ggml-vocab-qwen2.gguf"))
        let llama = try Tokenizer(contentsOf: try requireTestData(".build-testdata/ggml-vocab-llama-bpe.gguf"))
        let decomposed = "re\u{301}sume\u{301}"
        XCTAssertEqual(qwen35.preTokenizer.pieces(of: decomposed), [Array(decomposed.utf8)])
        XCTAssertEqual(qwen2.preTokenizer.pieces(of: decomposed), [Array("résumé".utf8)])
        XCTAssertNotEqual(qwen35.encode(decomposed), qwen2.encode(decomposed))
        XCTAssertEqual(llama.preTokenizer.pieces(of: "1234567"), ["123", "456", "7"].map { Array($0.utf8) })
        XCTAssertEqual(qwen2.preTokenizer.pieces(of: "123"), ["1", "2", "3"].map { Array($0.utf8) })
        // A mark after a space starts a word in Qwen3.5 and is punctuation in Qwen2.
        XCTAssertEqual(qwen35.preTokenizer.pieces(of: " \u{301}x"), [Array(" \u{301}x".utf8)])
        XCTAssertEqual(PreTokenizer.qwen2.pieces(of: "a \u{301}x").count, 3)
    }

    /// A file that says one pre-tokenizer cannot be read as another.
    func testRequestedPreTokenizerMustAgreeWithTheFile() throws {
        let path = try requireTestData(".build-testdata/ggml-vocab-qwen35.gguf")
        XCTAssertThrowsError(try Vocabulary.load(path: path, preTokenizer: .qwen2)) { error in
            XCTAssertTrue("\(error)".contains("qwen35's, but the qwen2 pre-tokenizer was asked for"), "\(error)")
        }
        XCTAssertEqual(try Vocabulary.load(path: path, preTokenizer: .qwen35).preTokenizer, .qwen35)
    }
}
