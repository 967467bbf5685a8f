import Foundation
import XCTest
import VocabKitTestSupport
import VocabKitTokenizer

/// End-to-end runs of the built `vocabkit` binary: the contract scripts rely on.
final class CLITests: XCTestCase {
    func run(_ args: [String], stdin: Data? = nil) throws -> CLI.Result { try CLI.run(args, stdin: stdin) }

    func temporaryFile(_ bytes: [UInt8]) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vk-cli-\(UUID().uuidString).txt")
        try Data(bytes).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    func testIdsFormatIsOneLineOfSpaceSeparatedIds() throws {
        let text = "Hello world<|im_end|>\n  x\t\n"
        let path = try temporaryFile(Array(text.utf8))
        let r = try run(["tokenize", "--file", path, "--format", "ids"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, bundledTokenizer.encode(text).map(String.init).joined(separator: " ") + "\n")
        let count = try run(["tokenize", "--file", path, "--count"])
        XCTAssertEqual(count.stdout, "\(bundledTokenizer.encode(text).count)\n")
        let stdin = try run(["tokenize", "--file", "-", "--format", "ids", "--threads", "1"], stdin: Data(text.utf8))
        XCTAssertEqual(stdin.stdout, r.stdout)
        let plain = try run(["tokenize", "--file", path, "--format", "ids", "--no-special"])
        XCTAssertEqual(plain.stdout, bundledTokenizer.encode(text, specialTokens: false).map(String.init).joined(separator: " ") + "\n")
    }

    func testJSONAndPiecesAndTable() throws {
        let r = try run(["tokenize", "--format", "json", "Hello world"])
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["ids"] as? [Int], [9707, 1879])
        XCTAssertEqual(object?["pieces"] as? [String], ["Hello", "Ġworld"])
        XCTAssertEqual(try run(["tokenize", "--format", "pieces", "Hello world"]).stdout, "Hello Ġworld\n")
        let table = try run(["tokenize", "Hello world"])
        XCTAssertTrue(table.stdout.contains("9707") && table.stdout.contains("␣world") && table.stdout.contains("2 tokens"), table.stdout)
    }

    func testMissingFileIsOneErrorLine() throws {
        let r = try run(["tokenize", "--file", "/nonexistent/input.txt", "--format", "ids"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, "error: /nonexistent/input.txt: no such file\n")
    }

    func testInvalidUTF8NamesTheOffsetAndCanBeReplaced() throws {
        let path = try temporaryFile(Array("abc".utf8) + [0xC3, 0x28] + Array("def".utf8))
        let r = try run(["tokenize", "--file", path, "--count"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("invalid UTF-8 at byte offset 3"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1)
        let replaced = try run(["tokenize", "--file", path, "--format", "ids", "--replace-invalid"])
        XCTAssertEqual(replaced.status, 0)
        XCTAssertEqual(replaced.stdout, bundledTokenizer.encode("abc\u{FFFD}(def").map(String.init).joined(separator: " ") + "\n")
    }

    func testEmptyFileHasNoTokens() throws {
        let path = try temporaryFile([])
        XCTAssertEqual(try run(["tokenize", "--file", path, "--count"]).stdout, "0\n")
        XCTAssertEqual(try run(["tokenize", "--file", path, "--format", "ids"]).stdout, "\n")
    }

    func testDecodeShowsIncompleteUTF8Honestly() throws {
        let ids = bundledTokenizer.encode("你好")
        let whole = try run(["decode"] + ids.map(String.init))
        XCTAssertEqual(whole.stdout, "你好\n")
        XCTAssertEqual(whole.stderr, "")
        // A rare character is several byte tokens; the first alone is an incomplete character.
        let rare = ["\u{10FFFD}", "\u{E0F0}", "𓀀", "🦙"].map { bundledTokenizer.encode($0) }.first { $0.count > 1 } ?? []
        XCTAssertGreaterThan(rare.count, 1)
        let partial = try run(["decode", String(rare.first ?? 0)])
        XCTAssertTrue(partial.stdout.contains("\\x"), partial.stdout)
        XCTAssertTrue(partial.stderr.contains("incomplete"), partial.stderr)
        let bad = try run(["decode", "999999999"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("out of range") && bad.stderr.contains("151669 ids"), bad.stderr)
    }

    func testVocabFromGGUF() throws {
        let path = try requireTestData(".build-testdata/ggml-vocab-qwen2.gguf")
        let r = try run(["tokenize", "--vocab", path, "--format", "ids", "Hello world"])
        XCTAssertEqual(r.stdout, "9707 1879\n")
    }
}

extension CLITests {
    /// The CLI reads each family's vocabulary GGUF with that family's pre-tokenizer, and takes an explicit one
    /// for formats that do not record it.
    func testFamiliesThroughTheCLI() throws {
        let text = "Ça coûte 1234567 €, n'est-ce pas? re\u{301}sume\u{301}"
        for family in ["qwen35", "llama-bpe"] {
            let path = try requireTestData(".build-testdata/ggml-vocab-\(family).gguf")
            let tokenizer = try Tokenizer(contentsOf: path)
            let r = try run(["tokenize", "--vocab", path, "--format", "ids", text])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout, tokenizer.encode(text).map(String.init).joined(separator: " ") + "\n", family)
            let refused = try run(["tokenize", "--vocab", path, "--pre-tokenizer", "qwen2", "x"])
            XCTAssertEqual(refused.status, 1)
            XCTAssertTrue(refused.stderr.hasPrefix("error: ") && refused.stderr.contains("was asked for"), refused.stderr)
        }
        let vkv = repositoryRoot.appendingPathComponent("Vocab/qwen3.vkv").path
        let llama = try run(["tokenize", "--vocab", vkv, "--pre-tokenizer", "llama-bpe", "--format", "ids", "12345"])
        XCTAssertEqual(llama.stdout, try Tokenizer(contentsOf: vkv, preTokenizer: .llama3).encode("12345").map(String.init).joined(separator: " ") + "\n")
        let unknown = try run(["tokenize", "--pre-tokenizer", "gpt-2", "x"])
        XCTAssertEqual(unknown.status, 1)
        XCTAssertEqual(unknown.stderr.split(separator: "\n").count, 1)
        XCTAssertTrue(unknown.stderr.contains("unknown pre-tokenizer 'gpt-2'"), unknown.stderr)
    }

    func testDecodeRefusesIdsOutsideTheVocabulary() throws {
        for (id, message) in [("-1", "'-' in a list of token ids (ids are not negative)"),
                              ("4294967296", "token id out of range (at most 151668) (the vocabulary has 151669 ids)"),
                              ("151936", "token id out of range (at most 151668) (the vocabulary has 151669 ids)")] {
            let r = try run(["decode", "--", id])
            XCTAssertEqual(r.status, 1, id)
            XCTAssertEqual(r.stderr, "error: arguments:1: \(message)\n")
        }
    }
}
