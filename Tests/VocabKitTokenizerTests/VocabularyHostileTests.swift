import Foundation
import VocabKitIO
import VocabKitTokenizer
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Every vocabulary format against hostile input, in the spirit of GGUFHostileTests: each mutant (truncated at
/// every byte, bits flipped at every byte, absurd numbers, CRLF, FIFOs, directories) gives one error line that
/// names the file, or loads; nothing traps, hangs or allocates what the file merely claims.
final class VocabularyHostileTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vk-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    func write(_ text: String, _ name: String) throws -> String { try write(Array(text.utf8), name) }

    /// Loads `path`; an error must be one line naming `named` (the file at fault). Returns the error text.
    @discardableResult
    func loadError(_ path: String, named: String? = nil, _ context: String = "",
                   file: StaticString = #filePath, line: UInt = #line) -> String? {
        do {
            _ = try Vocabulary.load(path: path)
            return nil
        } catch {
            let text = "\(error)"
            XCTAssertFalse(text.contains("\n"), "\(context): not one line: \(text)", file: file, line: line)
            XCTAssertTrue(text.contains(named ?? path), "\(context): does not name the file: \(text)", file: file, line: line)
            XCTAssertTrue(error is TokenizerError || error is FileError, "\(context): \(type(of: error)): \(text)", file: file, line: line)
            return text
        }
    }

    func assertRefused(_ path: String, saying part: String, named: String? = nil, file: StaticString = #filePath, line: UInt = #line) {
        guard let text = loadError(path, named: named, file: file, line: line) else {
            return XCTFail("loaded, expected an error saying \(part)", file: file, line: line)
        }
        XCTAssertTrue(text.contains(part), "expected \(part.debugDescription) in: \(text)", file: file, line: line)
    }

    // MARK: every format reads the same vocabulary

    func testEveryFormatGivesTheSameTokenizer() throws {
        let plain = "abc the in"
        let plainIds: [TokenID] = [257, 260, 32, 261]
        var withSpecials = [
            try write(TinyVocabulary.vkv, "tiny.vkv"),
            try write(TinyVocabulary.tokenizerJSON(), "tokenizer.json"),
            try write(TinyVocabulary.tokenizerJSON(mergesAsPairs: true), "pairs.json"),
        ]
        let gguf = directory.appendingPathComponent("tiny.gguf").path
        try TinyVocabulary.gguf(to: gguf)
        withSpecials.append(gguf)
        for path in withSpecials {
            let tokenizer = try Tokenizer(contentsOf: path)
            XCTAssertEqual(tokenizer.encode(TinyVocabulary.sample), TinyVocabulary.sampleIds, path)
            XCTAssertEqual(tokenizer.encode(plain), plainIds, path)
        }
        // Text formats read CRLF and a last line without a line feed like LF.
        for (lineEnd, final) in [("\n", true), ("\r\n", true), ("\n", false), ("\r\n", false)] {
            let tiktoken = try write(TinyVocabulary.tiktoken(lineEnd: lineEnd, finalLineEnd: final), "r.tiktoken")
            XCTAssertEqual(try Tokenizer(contentsOf: tiktoken).encode(plain), plainIds, "tiktoken \(lineEnd.debugDescription) \(final)")
            let dir = directory.appendingPathComponent("vm-\(lineEnd.count)-\(final)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            var merges = TinyVocabulary.mergesTXT.replacingOccurrences(of: "\n", with: lineEnd)
            if !final { merges.removeLast(lineEnd.count) }
            try Data(merges.utf8).write(to: dir.appendingPathComponent("merges.txt"))
            try Data(TinyVocabulary.vocabJSON.utf8).write(to: dir.appendingPathComponent("vocab.json"))
            let loaded = try Vocabulary.load(path: dir.path)
            XCTAssertEqual(loaded.merges.count, 6)
            XCTAssertEqual(Tokenizer(vocabulary: loaded).encode(plain), plainIds, "merges.txt \(lineEnd.debugDescription) \(final)")
        }
    }

    // MARK: mutants of every format

    /// Every prefix of every format (every third of the line-based ones, whose prefixes mostly end alike): an
    /// error line or a vocabulary, never a trap.
    func testTruncationAtEveryByte() throws {
        let gguf = directory.appendingPathComponent("full.gguf").path
        try TinyVocabulary.gguf(to: gguf)
        let files: [(String, [UInt8], Int)] = [
            ("t.vkv", TinyVocabulary.vkv, 1), ("t.json", Array(TinyVocabulary.tokenizerJSON().utf8), 1),
            ("t.gguf", Array(try Data(contentsOf: URL(fileURLWithPath: gguf))), 1), ("t.tiktoken", Array(TinyVocabulary.tiktoken().utf8), 3),
        ]
        for (name, bytes, step) in files {
            var refused = 0, tried = 0
            for length in stride(from: 0, to: bytes.count, by: step) {
                let path = try write(Array(bytes[..<length]), name)
                tried += 1
                if loadError(path, "\(name) cut to \(length) bytes") != nil { refused += 1 }
            }
            XCTAssertGreaterThan(refused, tried / 2, name)
        }
        // vocab.json and merges.txt, cut in turn.
        let dir = directory.appendingPathComponent("pair")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let vocab = Array(TinyVocabulary.vocabJSON.utf8), merges = Array(TinyVocabulary.mergesTXT.utf8)
        try Data(merges).write(to: dir.appendingPathComponent("merges.txt"))
        for length in stride(from: 0, to: vocab.count, by: 3) {
            try Data(vocab[..<length]).write(to: dir.appendingPathComponent("vocab.json"))
            loadError(dir.path, named: dir.path + "/vocab.json", "vocab.json cut to \(length)")
        }
        try Data(vocab).write(to: dir.appendingPathComponent("vocab.json"))
        for length in 0..<merges.count {
            try Data(merges[..<length]).write(to: dir.appendingPathComponent("merges.txt"))
            loadError(dir.path, named: dir.path, "merges.txt cut to \(length)")
        }
    }

    /// A bit pattern flipped at every byte of the binary formats and every eighth byte of the text formats.
    func testBitFlipsAtEveryByte() throws {
        let gguf = directory.appendingPathComponent("full.gguf").path
        try TinyVocabulary.gguf(to: gguf)
        let files: [(String, [UInt8], Int)] = [
            ("f.vkv", TinyVocabulary.vkv, 1), ("f.gguf", Array(try Data(contentsOf: URL(fileURLWithPath: gguf))), 1),
            ("f.json", Array(TinyVocabulary.tokenizerJSON().utf8), 8), ("f.tiktoken", Array(TinyVocabulary.tiktoken().utf8), 8),
        ]
        let masks: [UInt8] = [0xFF, 0x01, 0x80, 0x10]
        for (name, bytes, step) in files {
            for at in stride(from: 0, to: bytes.count, by: step) {
                var mutant = bytes
                let mask = masks[(at / step) % masks.count]
                mutant[at] ^= mask
                let path = try write(mutant, name)
                loadError(path, "\(name) byte \(at) ^ 0x\(String(mask, radix: 16))")
            }
        }
    }

    // MARK: .vkv

    func overwrite(_ bytes: inout [UInt8], at offset: Int, with value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { for (k, b) in $0.enumerated() { bytes[offset + k] = b } }
    }

    func testVKVOffsetsThatDecreaseAreRefused() throws {
        var bytes = TinyVocabulary.vkv
        overwrite(&bytes, at: 32 + 4 * 100, with: 5)   // offset of token 100 goes back to 5
        assertRefused(try write(bytes, "a.vkv"), saying: "token offsets decrease at id")
        bytes = TinyVocabulary.vkv
        overwrite(&bytes, at: 32 + 4 * 10, with: UInt32.max)
        assertRefused(try write(bytes, "b.vkv"), saying: "token offsets decrease at id 11")
    }

    func testVKVAbsurdCountsAreRefusedBeforeAllocating() throws {
        for (field, what) in [(12, "tokens"), (16, "merges"), (20, "special tokens"), (28, "token text")] {
            var bytes = TinyVocabulary.vkv
            overwrite(&bytes, at: field, with: UInt32.max)
            let text = loadError(try write(bytes, "c\(field).vkv"))
            XCTAssertNotNil(text, "field \(field)")
            XCTAssertTrue(text?.contains("byte ") == true, "\(what): \(text ?? "")")
        }
        var bytes = TinyVocabulary.vkv
        overwrite(&bytes, at: 8, with: 7)
        assertRefused(try write(bytes, "v.vkv"), saying: "byte 8: unknown version 7")
        bytes = TinyVocabulary.vkv + [0, 0, 0, 0]
        assertRefused(try write(bytes, "t.vkv"), saying: "4 bytes after the last special token")
    }

    func testVKVBadMergesAndSpecialsAreRefused() throws {
        let blobBytes: Int = TinyVocabulary.tokens.reduce(0) { $0 + $1.count }
        let mergesAt: Int = 32 + 4 * 263 + ((blobBytes + 3) & ~3)
        var bytes = TinyVocabulary.vkv
        overwrite(&bytes, at: mergesAt + 8, with: 258)   // merge 0 (a + b) claims to make " t"
        assertRefused(try write(bytes, "m.vkv"), saying: "merge 0: tokens 97 and 98 joined are not token 258")
        bytes = TinyVocabulary.vkv
        overwrite(&bytes, at: mergesAt, with: 1_000_000)
        assertRefused(try write(bytes, "n.vkv"), saying: "merge 0 names a token that does not exist")
        let specialAt = mergesAt + 6 * 12 + 4
        bytes = TinyVocabulary.vkv
        overwrite(&bytes, at: specialAt, with: 3_000_000_000)
        assertRefused(try write(bytes, "s.vkv"), saying: "has id 3000000000, outside 0...")
        bytes = TinyVocabulary.vkv
        overwrite(&bytes, at: specialAt + 8, with: 1 << 30)
        assertRefused(try write(bytes, "l.vkv"), saying: "do not fit")
    }

    // MARK: tokenizer.json

    func testTokenizerJSONSpecialIdsAreCheckedBeforeAllocating() throws {
        for (id, part) in [("-1", "is -1, outside 0..."), ("1000000000000", "is 1000000000000, outside 0..."),
                           ("1.5", "is the number 1.5, not an integer id"), ("1e3", "is the number 1e3, not an integer id"),
                           ("\"262\"", "is a string, not an integer id"), ("true", "is a boolean, not an integer id"),
                           ("null", "is null, not an integer id"), ("99999999999999999999999", "not an integer id")] {
            let path = try write(TinyVocabulary.tokenizerJSON(specialId: id), "s.json")
            assertRefused(path, saying: part)
            XCTAssertTrue(loadError(path)?.contains("byte ") == true)
        }
    }

    func testTokenizerJSONSyntaxErrorsNameTheByte() throws {
        let good = TinyVocabulary.tokenizerJSON()
        let cases: [(String, String)] = [
            (good + "x", "text after the JSON value"),
            (String(repeating: "[", count: 100_000), "nested deeper than 64 levels"),
            ("{\"a\": \"\\ud800\"}", "a lone surrogate"),
            ("{\"a\": \"\u{01}\"}", "a raw control character"),
            ("{\"a\": 01}", "may not start with 0"),
            ("{\"a\" 1}", "expected ':'"),
            ("", "the text ends where a value should start"),
        ]
        for (text, part) in cases {
            assertRefused(try write(text, "x.json"), saying: part)
        }
        var bytes = Array(good.utf8)
        let at = bytes.firstIndex(of: UInt8(ascii: "<"))!
        bytes[at] = 0xFF
        assertRefused(try write(bytes, "u.json"), saying: "byte \(at): invalid UTF-8 in a string")
    }

    func testTokenizerJSONMergesInBothFormsAndBadOnes() throws {
        let strings = try Vocabulary.load(path: try write(TinyVocabulary.tokenizerJSON(), "a.json"))
        let pairs = try Vocabulary.load(path: try write(TinyVocabulary.tokenizerJSON(mergesAsPairs: true), "b.json"))
        XCTAssertEqual(strings.merges, pairs.merges)
        XCTAssertEqual(strings.merges.count, 6)
        let twoSpaces = TinyVocabulary.tokenizerJSON().replacingOccurrences(of: "\"a b\"", with: "\"a  b\"")
        assertRefused(try write(twoSpaces, "c.json"), saying: "merge 0 'a  b' is not two spellings separated by one space")
        let triple = TinyVocabulary.tokenizerJSON(mergesAsPairs: true).replacingOccurrences(of: "[\"a\", \"b\"]", with: "[\"a\", \"b\", \"c\"]")
        assertRefused(try write(triple, "d.json"), saying: "merge 0 is not a pair of strings")
        let missing = TinyVocabulary.tokenizerJSON().replacingOccurrences(of: "\"a b\"", with: "\"a zz\"")
        assertRefused(try write(missing, "e.json"), saying: "names 'zz', which is not in the vocabulary")
        let twice = TinyVocabulary.tokenizerJSON().replacingOccurrences(of: "\"vocab\": {", with: "\"vocab\": {\"a\": 300, ")
        assertRefused(try write(twice, "f.json"), saying: "token 'a' appears twice")
    }

    /// A tokenizer.json is accepted only when its normalizer and pre-tokenizer are exactly one VocabKit knows.
    func testTokenizerJSONPreTokenizerIsRecognisedExactly() throws {
        for pre in PreTokenizer.all {
            let v = try Vocabulary.load(path: try write(TinyVocabulary.tokenizerJSON(pre), "\(pre.name).json"))
            XCTAssertEqual(v.preTokenizer, pre)
        }
        // GPT-2's byte-level split, whose regex contains \p{N}: refused, not split with Qwen's rule.
        let gpt2 = #"{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}"#
        assertRefused(try write(TinyVocabulary.tokenizerJSON(preTokenizer: gpt2), "gpt2.json"), saying: "is not a Sequence of Split and ByteLevel")
        let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
        let split = TinyVocabulary.tokenizerJSON().replacingOccurrences(of: TinyVocabulary.json(PreTokenizer.qwen2.pattern),
                                                                        with: TinyVocabulary.json(gpt2Regex))
        assertRefused(try write(split, "split.json"), saying: "is not one VocabKit knows")
        // The right regex with the wrong normalizer or ignore_merges is a different tokenizer.
        assertRefused(try write(TinyVocabulary.tokenizerJSON(.qwen35, normalizer: #"{"type": "NFC"}"#), "n.json"),
                      saying: "the qwen35 regex with NFC; qwen35 ships with none")
        assertRefused(try write(TinyVocabulary.tokenizerJSON(.qwen2, normalizer: #"{"type": "NFKC"}"#), "k.json"),
                      saying: "is not NFC or none")
        let ignoring = TinyVocabulary.tokenizerJSON(.qwen2).replacingOccurrences(of: "\"ignore_merges\": false", with: "\"ignore_merges\": true")
        assertRefused(try write(ignoring, "i.json"), saying: "model.ignore_merges is true; qwen2 ships with false")
        let inverted = TinyVocabulary.tokenizerJSON().replacingOccurrences(of: "\"invert\": false", with: "\"invert\": true")
        assertRefused(try write(inverted, "v.json"), saying: "is not Split(Regex, Isolated, invert false)")
        let dropout = TinyVocabulary.tokenizerJSON().replacingOccurrences(of: "\"dropout\": null", with: "\"dropout\": 0.1")
        assertRefused(try write(dropout, "o.json"), saying: "model.dropout is set")
    }

    // MARK: vocab.json + merges.txt, .tiktoken

    func pairDirectory(vocab: String, merges: String) throws -> URL {
        let dir = directory.appendingPathComponent("pair-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(vocab.utf8).write(to: dir.appendingPathComponent("vocab.json"))
        try Data(merges.utf8).write(to: dir.appendingPathComponent("merges.txt"))
        return dir
    }

    func testMergesTXTErrorsNameTheLine() throws {
        let bad = TinyVocabulary.mergesTXT.replacingOccurrences(of: "h e\n", with: "h e x\n")
        let dir = try pairDirectory(vocab: TinyVocabulary.vocabJSON, merges: bad.replacingOccurrences(of: "\n", with: "\r\n"))
        assertRefused(dir.path, saying: "merges.txt:5: expected two spellings separated by one space", named: dir.path + "/merges.txt")
        let negative = try pairDirectory(vocab: TinyVocabulary.vocabJSON.replacingOccurrences(of: ": 97,", with: ": -97,"),
                                         merges: TinyVocabulary.mergesTXT)
        assertRefused(negative.path, saying: "is -97, outside 0...", named: negative.path + "/vocab.json")
    }

    func testTiktokenErrorsNameTheLine() throws {
        var lines = TinyVocabulary.tiktoken().split(separator: "\n").map(String.init)
        lines[4] = "!!!notbase64 4"
        assertRefused(try write(lines.joined(separator: "\r\n"), "a.tiktoken"), saying: "a.tiktoken:5: the token is not base64")
        lines = TinyVocabulary.tiktoken().split(separator: "\n").map(String.init)
        lines[9] = lines[9].replacingOccurrences(of: " 9", with: " 99")
        assertRefused(try write(lines.joined(separator: "\n"), "b.tiktoken"), saying: "b.tiktoken:10: rank 99 out of order (rank 9 expected)")
        lines = TinyVocabulary.tiktoken().split(separator: "\n").map(String.init)
        lines[3] = lines[3] + " 7"
        assertRefused(try write(lines.joined(separator: "\n"), "c.tiktoken"), saying: "c.tiktoken:4: expected 'base64 rank' (one space)")
        lines = TinyVocabulary.tiktoken().split(separator: "\n").map(String.init)
        lines[3] = lines[3].replacingOccurrences(of: " 3", with: " 18446744073709551616")
        assertRefused(try write(lines.joined(separator: "\n"), "d.tiktoken"), saying: "d.tiktoken:4: the rank is not a decimal number")
        lines = TinyVocabulary.tiktoken().split(separator: "\n").map(String.init)
        lines.append(lines[97].replacingOccurrences(of: " 97", with: " 262"))
        assertRefused(try write(lines.joined(separator: "\n"), "e.tiktoken"), saying: "e.tiktoken:263: the same bytes as rank 97 (line 98)")
    }

    // MARK: directories, FIFOs

    func testDirectoryThatLacksTheFilesSaysWhat() throws {
        let empty = directory.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        assertRefused(empty.path, saying: "needs tokenizer.json, or vocab.json and merges.txt; it has none of them")
        try Data(TinyVocabulary.vocabJSON.utf8).write(to: empty.appendingPathComponent("vocab.json"))
        assertRefused(empty.path, saying: "it has vocab.json but no merges.txt")
        try FileManager.default.removeItem(at: empty.appendingPathComponent("vocab.json"))
        try Data(TinyVocabulary.mergesTXT.utf8).write(to: empty.appendingPathComponent("merges.txt"))
        assertRefused(empty.path, saying: "it has merges.txt but no vocab.json")
    }

    /// A FIFO is refused at once, whatever its name says, instead of blocking in open().
    func testFIFOsAreRefusedWithoutBlocking() throws {
        let fifoDir = directory.appendingPathComponent("fifo-dir")
        try FileManager.default.createDirectory(at: fifoDir, withIntermediateDirectories: true)
        var paths = ["v.vkv", "v.tiktoken", "v.json", "v.gguf", "v"].map { directory.appendingPathComponent($0).path }
        paths.append(fifoDir.appendingPathComponent("tokenizer.json").path)
        for path in paths { XCTAssertEqual(mkfifo(path, 0o600), 0, path) }
        final class Messages: @unchecked Sendable { var all: [String] = [] }
        let done = DispatchSemaphore(value: 0)
        let messages = Messages()
        let targets = Array(paths.dropLast()) + [fifoDir.path]
        Thread.detachNewThread {
            for path in targets {
                do { _ = try Vocabulary.load(path: path); messages.all.append("loaded \(path)") } catch { messages.all.append("\(error)") }
            }
            done.signal()
        }
        // A blocked open would never signal; the semaphore's wait orders the thread's writes before the reads.
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success, "loading a FIFO blocked")
        XCTAssertEqual(messages.all.count, targets.count)
        for text in messages.all { XCTAssertTrue(text.contains("is a FIFO, not a regular file"), text) }
    }

    // MARK: GGUF vocabularies

    func gguf(_ name: String, pre: String? = "qwen2", types: [Int]? = nil, extraMerges: [String] = []) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try TinyVocabulary.gguf(to: path, pre: pre, types: types, extraMerges: extraMerges)
        return path
    }

    func testGGUFTokenTypesAreChecked() throws {
        let n = TinyVocabulary.tokens.count + 1
        assertRefused(try gguf("unused.gguf", types: Array(repeating: 5, count: n)),
                      saying: "tokenizer.ggml.token_type marks no token normal (1) or byte (6)")
        assertRefused(try gguf("seven.gguf", types: Array(repeating: 1, count: n - 1) + [7]),
                      saying: "tokenizer.ggml.token_type[262] is 7, not a llama.cpp token type (0-6)")
        var controlA = Array(repeating: 1, count: n - 1) + [3]
        controlA[97] = 3
        assertRefused(try gguf("control.gguf", types: controlA), saying: "'a' is token 97, of type control, not normal or byte")
        assertRefused(try gguf("short.gguf", types: [1, 1, 1]), saying: "token_type has 3 entries for 263 tokens")
    }

    func testGGUFPreTokenizerIsRequiredAndKnown() throws {
        assertRefused(try gguf("none.gguf", pre: nil), saying: "no tokenizer.ggml.pre key")
        assertRefused(try gguf("gpt2.gguf", pre: "gpt-2"), saying: "tokenizer.ggml.pre is 'gpt-2', a pre-tokenizer VocabKit does not know")
        assertRefused(try gguf("nl.gguf", pre: "qwen2\nfake"), saying: "tokenizer.ggml.pre is 'qwen2\\u{A}fake'")
        for pre in PreTokenizer.all {
            for name in pre.ggufNames { XCTAssertEqual(try Vocabulary.load(path: try gguf("\(name).gguf", pre: name)).preTokenizer, pre) }
        }
        assertRefused(try gguf("bad-merge.gguf", extraMerges: ["a"]), saying: "tokenizer.ggml.merges[6] 'a' is not two spellings")
    }
}
