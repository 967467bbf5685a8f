import Foundation
import VocabKitTokenizer
import XCTest

/// llama.cpp's Qwen2 tokenizer vectors (Tests/Fixtures/llama-vocab, from the llama-cpp-python 0.3.36 sdist).
final class LlamaVectorTests: XCTestCase {
    static func vectors() throws -> [(String, [Int])] {
        let dir = repositoryRoot.appendingPathComponent("Tests/Fixtures/llama-vocab")
        let inp = try String(contentsOf: dir.appendingPathComponent("ggml-vocab-qwen2.gguf.inp"), encoding: .utf8)
        let out = try String(contentsOf: dir.appendingPathComponent("ggml-vocab-qwen2.gguf.out"), encoding: .utf8)
        var texts = inp.components(separatedBy: "\n__ggml_vocab_test__\n")
        if texts.last == "" { texts.removeLast() }
        var lines = out.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        let ids = lines.map { $0.split(separator: " ").map { Int($0)! } }
        return Array(zip(texts, ids))
    }

    func testAllVectorsWithBundledVocabulary() throws {
        let vectors = try Self.vectors()
        XCTAssertEqual(vectors.count, 46)
        for (text, ids) in vectors {
            // llama.cpp encodes these with parse_special = false.
            XCTAssertEqual(bundledTokenizer.encode(text, specialTokens: false), ids, text.debugDescription)
        }
    }

    func testAllVectorsWithGGUFVocabulary() throws {
        let path = try requireTestData(".build-testdata/ggml-vocab-qwen2.gguf")
        let tokenizer = Tokenizer(vocabulary: try Vocabulary.load(path: path))
        for (text, ids) in try Self.vectors() {
            XCTAssertEqual(tokenizer.encode(text, specialTokens: false), ids, text.debugDescription)
        }
    }
}
