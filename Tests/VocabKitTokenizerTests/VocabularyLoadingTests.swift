import Foundation
import VocabKitTokenizer
import XCTest
import VocabKitIO

final class VocabularyLoadingTests: XCTestCase {
    let sample = "def main():\n    print(\"Hello, 世界! naïve café\")  # <|im_start|>user\n\treturn 42\n"

    func testBundledVocabularyShape() {
        let v = bundledTokenizer.vocabulary
        XCTAssertEqual(v.bpeTokenCount, 151_643)
        XCTAssertEqual(v.merges.count, 151_387)
        XCTAssertEqual(v.specialTokens.count, 26)
        XCTAssertEqual(v.specialTokens.first?.text, "<|endoftext|>")
        XCTAssertEqual(v.specialTokens.first?.id, 151_643)
        XCTAssertEqual(v.specialTokens.last?.text, "</think>")
        XCTAssertEqual(v.specialTokens.last?.id, 151_668)
        XCTAssertEqual(v.id(of: Array(" world".utf8)), 1879)
        XCTAssertEqual(bundledTokenizer.encode("<|im_start|>"), [151_644])
        XCTAssertEqual(bundledTokenizer.encode("<think>x</think>"), [151_667, 87, 151_668])
    }

    /// llama.cpp's vocabulary-only Qwen2 GGUF carries the real merges.txt of Qwen2; ours are derived from the
    /// ranks and must be the same list.
    func testGGUFVocabularyEqualsBundled() throws {
        let path = try requireTestData(".build-testdata/ggml-vocab-qwen2.gguf")
        let gguf = try Vocabulary.load(path: path)
        let bundled = bundledTokenizer.vocabulary
        XCTAssertEqual(gguf.merges, bundled.merges)
        for id in stride(from: 0, to: 151_643, by: 1) where gguf.bytes(of: id) != bundled.bytes(of: id) {
            XCTFail("token \(id) differs")
            break
        }
        XCTAssertEqual(gguf.idCount, 151_936)
        let tokenizer = Tokenizer(vocabulary: gguf)
        XCTAssertEqual(tokenizer.encode(sample), bundledTokenizer.encode(sample))
        XCTAssertTrue(gguf.specialTokens.contains(SpecialToken(id: 151_644, text: "<|im_start|>", isControl: true)))
    }

    /// The reference's own tokenizer.json (saved by Tests/Scripts/fetch-test-data.sh).
    func testHuggingFaceTokenizerJSON() throws {
        let path = try requireTestData(".build-testdata/qwen-tokenizer.json")
        let v = try Vocabulary.load(path: path)
        XCTAssertEqual(v.preTokenizer, .qwen2)
        XCTAssertEqual(v.merges, bundledTokenizer.vocabulary.merges)
        // The reference registers every added token as special, so compare ids and texts only.
        XCTAssertEqual(Set(v.specialTokens.map { "\($0.id) \($0.text)" }),
                       Set(bundledTokenizer.vocabulary.specialTokens.map { "\($0.id) \($0.text)" }))
        XCTAssertEqual(Tokenizer(vocabulary: v).encode(sample), bundledTokenizer.encode(sample))
    }

    /// tokenizer.json files that Hugging Face tokenizers wrote for the Qwen3.5 and Llama-3 references
    /// (Tests/Scripts/fetch-test-data.sh) are recognised as those families, carry the GGUFs' merges, and give
    /// llama.cpp's vectors.
    func testFamilyTokenizerJSONFilesAreRecognised() throws {
        for family in ["qwen35", "llama-bpe"] {
            let json = try Vocabulary.load(path: try requireTestData(".build-testdata/\(family)-tokenizer.json"))
            XCTAssertEqual(json.preTokenizer.name, family)
            let gguf = try Vocabulary.load(path: try requireTestData(".build-testdata/ggml-vocab-\(family).gguf"))
            XCTAssertEqual(json.merges, gguf.merges, family)
            XCTAssertEqual(Set(json.specialTokens.map(\.text)), Set(gguf.specialTokens.map(\.text)), family)
            let tokenizer = Tokenizer(vocabulary: json)
            for (text, ids) in try LlamaVectorTests.vectors(family) {
                XCTAssertEqual(tokenizer.encode(text, specialTokens: false), ids, "\(family): \(text.debugDescription)")
            }
        }
    }

    func testVocabJSONAndMergesTXTRoundTrip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vk-vocab-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bundled = bundledTokenizer.vocabulary
        var vocab = [String: Int]()
        for id in 0..<151_643 { vocab[ByteLevel.encode(bundled.bytes(of: id))] = id }
        try JSONSerialization.data(withJSONObject: vocab).write(to: dir.appendingPathComponent("vocab.json"))
        var merges = "#version: 0.2\n"
        for m in bundled.merges {
            merges += ByteLevel.encode(bundled.bytes(of: Int(m.left))) + " " + ByteLevel.encode(bundled.bytes(of: Int(m.right))) + "\n"
        }
        try merges.write(to: dir.appendingPathComponent("merges.txt"), atomically: true, encoding: .utf8)
        let loaded = try Vocabulary.load(path: dir.path)
        XCTAssertEqual(loaded.merges, bundled.merges)
        XCTAssertEqual(Tokenizer(vocabulary: loaded).encode(sample, specialTokens: false), bundledTokenizer.encode(sample, specialTokens: false))
    }

    func testTiktokenRanksDeriveTheBundledMerges() throws {
        let path = try requireTestData(".build-oracle/qwen.tiktoken")
        let v = try Vocabulary.load(path: path)
        XCTAssertEqual(v.merges, bundledTokenizer.vocabulary.merges)
    }

    func testClearErrors() throws {
        XCTAssertThrowsError(try Vocabulary.load(path: "/nonexistent/model.gguf")) { error in
            XCTAssertEqual(error as? FileError, .notFound(path: "/nonexistent/model.gguf"))
        }
        let dir = FileManager.default.temporaryDirectory
        let bogus = dir.appendingPathComponent("vk-bogus-\(getpid()).bin")
        try Data("not a vocabulary".utf8).write(to: bogus)
        defer { try? FileManager.default.removeItem(at: bogus) }
        XCTAssertThrowsError(try Vocabulary.load(path: bogus.path)) { error in
            XCTAssertTrue("\(error)".contains("unsupported vocabulary"), "\(error)")
        }
        let truncated = dir.appendingPathComponent("vk-truncated-\(getpid()).vkv")
        let real = try Data(contentsOf: repositoryRoot.appendingPathComponent("Vocab/qwen3.vkv"))
        try real.prefix(100_000).write(to: truncated)
        defer { try? FileManager.default.removeItem(at: truncated) }
        XCTAssertThrowsError(try Vocabulary.load(path: truncated.path)) { error in
            XCTAssertTrue("\(error)".contains("malformed vocabulary"), "\(error)")
        }
    }

    /// A vocabulary without a token for some byte cannot encode every text and is refused.
    func testVocabularyMissingAByteIsRefused() {
        var tokens: [[UInt8]?] = (0..<256).map { [UInt8($0)] }
        tokens[0x41] = nil
        XCTAssertThrowsError(try Vocabulary(tokens: tokens, merges: [], specialTokens: [], source: "test")) { error in
            XCTAssertTrue("\(error)".contains("no token for byte 0x41"), "\(error)")
        }
    }
}
