import Foundation
import XCTest
import VocabKitTestSupport
import VocabKitGGUF
import VocabKitInference
import VocabKitTokenizer

/// `LanguageModel.perplexity` against llama-perplexity's rule computed independently from TinyModel's Double
/// reference, and `vocabkit eval` against llama-perplexity itself on the real model.
final class EvaluationTests: XCTestCase {
    private func tinyModel(seed: UInt64) throws -> (TinyModel, LanguageModel) {
        let model = TinyModel(seed: seed, tied: false)
        let path = evalScratchPath("eval-tiny.gguf")
        try model.write(to: path)
        let lm = try LanguageModel(path: path)
        lm.roundAttentionToHalf = false
        return (model, lm)
    }

    /// Per-token NLLs of llama-perplexity's scored positions: chunks of n, logits at n/2 ..< n−1 predicting the
    /// next token, from the Double reference.
    private func referenceNLLs(_ model: TinyModel, _ tokens: [Int], n: Int, chunks: Int, bos: Int? = nil,
                               from: Int? = nil) -> [(nll: Double, token: Int)] {
        var out: [(Double, Int)] = []
        for c in 0..<chunks {
            var chunk = Array(tokens[(c * n)..<(c * n + n)])
            if let bos { chunk[0] = bos }
            let logits = model.referenceLogits(chunk)
            for i in (from ?? n / 2)..<(n - 1) {
                let l = logits[i], m = l.max()!
                let logSumExp = m + log(l.reduce(0) { $0 + exp($1 - m) })
                out.append((logSumExp - l[chunk[i + 1]], chunk[i + 1]))
            }
        }
        return out
    }

    private func randomTokens(_ count: Int, seed: UInt64) -> [Int] {
        var rng = SplitMix(state: seed)
        return (0..<count).map { _ in Int.random(in: 0..<11, using: &rng) }
    }

    func testPerplexityIsExpMeanNLLOverTheSecondHalfOfEachChunk() throws {
        let (model, lm) = try tinyModel(seed: 21)
        let tokens = randomTokens(45, seed: 5)  // 2 chunks of 16; the last 13 tokens are not evaluated
        let result = try lm.perplexity(of: tokens, contextLength: 16, byteCount: { $0 + 1 })
        let expected = referenceNLLs(model, tokens, n: 16, chunks: 2)
        XCTAssertEqual(result.chunks, 2)
        XCTAssertEqual(result.totals.count, 14)  // 2 × (16 − 8 − 1)
        XCTAssertEqual(result.totals.bytes, expected.reduce(0) { $0 + $1.token + 1 })
        // Bits per byte covers every token predicted inside the chunks, not only the scored halves.
        let everyToken = referenceNLLs(model, tokens, n: 16, chunks: 2, from: 0)
        XCTAssertEqual(result.wholeText.count, 30)  // 2 × (16 − 1)
        XCTAssertEqual(result.wholeText.bytes, everyToken.reduce(0) { $0 + $1.token + 1 })
        let mean = expected.reduce(0) { $0 + $1.nll } / Double(expected.count)
        XCTAssertEqual(result.perplexity, exp(mean), accuracy: 1e-4 * exp(mean))
        let variance = expected.reduce(0) { $0 + $1.nll * $1.nll } / Double(expected.count) - mean * mean
        let error = (variance / Double(expected.count - 1)).squareRoot() * exp(mean)
        XCTAssertEqual(try XCTUnwrap(result.perplexityError), error, accuracy: 1e-3 * error)
        let bits = everyToken.reduce(0) { $0 + $1.nll } / log(2)
        XCTAssertEqual(result.bitsPerByte, bits / Double(result.wholeText.bytes), accuracy: 1e-4)
    }

    func testChunkLimitBatchSizeAndBOS() throws {
        let (model, lm) = try tinyModel(seed: 22)
        let tokens = randomTokens(40, seed: 6)
        let one = try lm.perplexity(of: tokens, contextLength: 12, chunks: 1, byteCount: { _ in 1 })
        XCTAssertEqual(one.chunks, 1)
        let first = referenceNLLs(model, tokens, n: 12, chunks: 1)
        XCTAssertEqual(one.totals.count, 5)
        XCTAssertEqual(one.perplexity, exp(first.reduce(0) { $0 + $1.nll } / 5), accuracy: 1e-4 * one.perplexity)
        // The chunk size sets the answer; how the chunk is fed to `evaluate` must not.
        let whole = try lm.perplexity(of: tokens, contextLength: 12, byteCount: { _ in 1 })
        XCTAssertEqual(whole.chunks, 3)
        for batch in [1, 5, 7, 100] {
            let r = try lm.perplexity(of: tokens, contextLength: 12, batchSize: batch, byteCount: { _ in 1 })
            XCTAssertEqual(r.perplexity, whole.perplexity, accuracy: 1e-5 * whole.perplexity, "batch \(batch)")
        }
        // A BOS-adding vocabulary: each chunk's first token becomes BOS.
        let withBOS = try lm.perplexity(of: tokens, contextLength: 12, bos: 7, byteCount: { _ in 1 })
        let expected = referenceNLLs(model, tokens, n: 12, chunks: 3, bos: 7)
        XCTAssertEqual(withBOS.perplexity, exp(expected.reduce(0) { $0 + $1.nll } / Double(expected.count)), accuracy: 1e-4 * withBOS.perplexity)
        XCTAssertNotEqual(withBOS.perplexity, whole.perplexity)
    }

    func testRefusals() throws {
        let (_, lm) = try tinyModel(seed: 23)
        XCTAssertThrowsError(try lm.perplexity(of: randomTokens(31, seed: 1), contextLength: 16, byteCount: { _ in 1 })) {
            XCTAssertEqual($0 as? EvaluationError, .textTooShort(tokens: 31, contextLength: 16))
        }
        XCTAssertThrowsError(try lm.perplexity(of: randomTokens(40, seed: 1), contextLength: 3, byteCount: { _ in 1 })) {
            XCTAssertEqual($0 as? EvaluationError, .contextTooSmall(3))
        }
        XCTAssertThrowsError(try lm.perplexity(of: randomTokens(200, seed: 1), contextLength: 64, byteCount: { _ in 1 })) {
            XCTAssertEqual($0 as? EvaluationError, .contextTooLarge(requested: 64, available: 32))
        }
    }

    func testNegativeLogLikelihoodMatchesDoubleLogSoftmax() {
        var rng = SplitMix(state: 9)
        let logits = (0..<5000).map { _ in Float.random(in: -20...20, using: &rng) }
        let m = Double(logits.max()!)
        let logSumExp = m + log(logits.reduce(0) { $0 + exp(Double($1) - m) })
        logits.withUnsafeBufferPointer { buf in
            for token in [0, 17, 4999] {
                XCTAssertEqual(negativeLogLikelihood(buf, token: token), logSumExp - Double(logits[token]), accuracy: 1e-4)
            }
        }
    }

    func testLikelihoodTotalsError() {
        var t = LikelihoodTotals()
        XCTAssertNil(t.perplexityError)
        for (v, b) in [(1.0, 2), (2.0, 3), (4.0, 1)] { t.add(v, bytes: b) }
        XCTAssertEqual(t.perplexity, exp(7.0 / 3), accuracy: 1e-12)
        // Population variance 14/9, divided by n − 1 = 2.
        XCTAssertEqual(t.perplexityError!, (14.0 / 9 / 2).squareRoot() * exp(7.0 / 3), accuracy: 1e-9)
        XCTAssertEqual(t.bitsPerByte, 7 / log(2) / 6, accuracy: 1e-12)
    }

    /// `vocabkit eval` on a tiny model with a vocabulary: the JSON fields and the library's numbers.
    func testEvalCommandJSONAndErrors() throws {
        let model = evalScratchPath("eval-vocab.gguf")
        try VocabModel.write(to: model, seed: 31)
        let text = evalScratchPath("eval.txt")
        let source = String(decoding: try Data(contentsOf: URL(fileURLWithPath: #filePath)), as: UTF8.self)
        try Data(source.utf8).write(to: URL(fileURLWithPath: text))
        let r = try VocabKitBinary.run(["eval", model, "--file", text, "--ctx", "32", "--chunks", "2", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")  // no progress when stderr is a pipe
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        for key in ["perplexity", "perplexity_error", "bits_per_byte", "tokens", "chunks", "ctx", "seconds"] {
            XCTAssertNotNil(object[key], key)
        }
        XCTAssertEqual(object["chunks"] as? Int, 2)
        XCTAssertEqual(object["scored_tokens"] as? Int, 2 * 15)
        // The same through the library: tokenized without special tokens, the final line feed dropped.
        let vocabulary = try Vocabulary.load(path: model)
        var bytes = Array(source.utf8)
        if bytes.last == 0x0A { bytes.removeLast() }
        let tokens = Tokenizer(vocabulary: vocabulary).encode(String(decoding: bytes, as: UTF8.self), specialTokens: false).map(Int.init)
        XCTAssertEqual(object["tokens"] as? Int, tokens.count)
        let lm = try LanguageModel(path: model, maxContext: 32)
        let expected = try lm.perplexity(of: tokens, contextLength: 32, chunks: 2, byteCount: { vocabulary.bytes(of: $0).count })
        XCTAssertEqual(try XCTUnwrap(object["perplexity"] as? Double), expected.perplexity, accuracy: 1e-9 * expected.perplexity)
        XCTAssertEqual(try XCTUnwrap(object["bits_per_byte"] as? Double), expected.bitsPerByte, accuracy: 1e-9)

        func expectOneErrorLine(_ args: [String], containing needle: String) throws {
            let r = try VocabKitBinary.run(args)
            XCTAssertEqual(r.status, 1, "\(args)")
            XCTAssertEqual(r.stdout, "")
            XCTAssertTrue(r.stderr.hasPrefix("error: ") && r.stderr.filter { $0 == "\n" }.count == 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(needle), "\(r.stderr) should mention \(needle)")
        }
        try expectOneErrorLine(["eval", model, "--file", text + ".missing", "--ctx", "32"], containing: "no such file")
        try expectOneErrorLine(["eval", text, "--file", text, "--ctx", "32"], containing: text)
        try expectOneErrorLine(["eval", model + ".missing", "--file", text, "--ctx", "32"], containing: "missing")
        try expectOneErrorLine(["eval", model, "--file", text, "--ctx", "100000"], containing: "needs at least")
    }

    /// The llama-perplexity golden (Tests/Oracle/make_perplexity_golden.sh, llama.cpp built for AVX2): on the
    /// SIMD path equal to the digits it prints (its chunks of 128 tokens are one batch that takes llama.cpp's
    /// tiled flash attention, which VocabKit mirrors); the portable path sums in its own order (bar: 1 %).
    func testPerplexityMatchesLlamaPerplexity() throws {
        let modelPath = try realModelPath()
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let golden = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("Tests/Fixtures/perplexity-goldens/qwen2.5-coder-0.5b.json"))) as! [String: Any]
        let textURL = root.appendingPathComponent(golden["text"] as! String)
        var bytes = [UInt8](try Data(contentsOf: textURL))
        XCTAssertEqual(try sha256(ofFile: textURL.path), golden["text_sha256"] as? String, "the golden's text changed: rerun the maker script")
        if bytes.last == 0x0A { bytes.removeLast() }
        let ctx = golden["ctx"] as! Int, chunks = golden["chunks"] as! Int
        let vocabulary = try Vocabulary.load(path: modelPath)
        let tokens = Tokenizer(vocabulary: vocabulary).encode(String(decoding: bytes, as: UTF8.self), specialTokens: false).map(Int.init)
        let lm = try LanguageModel(path: modelPath, maxContext: ctx)
        let result = try lm.perplexity(of: tokens, contextLength: ctx, chunks: chunks, byteCount: { vocabulary.bytes(of: $0).count })
        let expected = golden["perplexity"] as! Double
        print("perplexity \(result.perplexity) vs llama-perplexity \(expected): \(100 * (result.perplexity / expected - 1)) %")
        XCTAssertEqual(result.chunks, chunks)
        let expectedError = golden["perplexity_error"] as! Double
        if lm.useSIMDKernels {
            // Printed as 5.2462 ± 0.82327: equal when rounded to those places.
            XCTAssertEqual(result.perplexity, expected, accuracy: 0.5e-4)
            XCTAssertEqual(try XCTUnwrap(result.perplexityError), expectedError, accuracy: 0.5e-5)
        } else {
            XCTAssertEqual(result.perplexity, expected, accuracy: 0.01 * expected)
            XCTAssertEqual(try XCTUnwrap(result.perplexityError), expectedError, accuracy: 0.02 * expectedError)
        }
    }

    /// `vocabkit eval`'s numbers for synthetic qwen3, llama (rope_freqs, untied head) and deci (blocks of
    /// different shapes) models against llama-perplexity's (Tests/Oracle/make_perplexity_golden.sh), through the
    /// library's `perplexity(ofText:)` (llama-perplexity's input rules). Chunks of 32 tokens keep llama.cpp on the
    /// attention path VocabKit mirrors, and the types have mirrored SIMD kernels, so the SIMD path agrees to
    /// the digits llama-perplexity prints; the portable path sums in its own order (seen: within 1 %).
    func testSyntheticPerplexityMatchesLlamaPerplexity() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let golden = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("Tests/Fixtures/perplexity-goldens/synthetic.json"))) as! [String: Any]
        XCTAssertEqual(golden["generator"] as? String, SyntheticModel.generator)
        let textURL = root.appendingPathComponent(golden["text"] as! String)
        XCTAssertEqual(try sha256(ofFile: textURL.path), golden["text_sha256"] as? String, "the golden's text changed: rerun the maker script")
        let text = try String(contentsOf: textURL, encoding: .utf8)
        let ctx = golden["ctx"] as! Int, chunks = golden["chunks"] as! Int
        var architectures = Set<String>()
        for c in golden["cases"] as! [[String: Any]] {
            let name = c["name"] as! String
            let spec = SynthTests.spec(fromGolden: c["synth"] as! [String: Any])
            architectures.insert(spec.architecture.name)
            let path = evalScratchPath(name + ".gguf")
            try SyntheticModel.write(spec, vocabulary: try SynthTests.vocabulary(), to: path)
            let (bytes, sum) = try SynthTests.checksum(path)
            XCTAssertEqual(bytes, c["file_bytes"] as? Int, "\(name): not the model llama.cpp ran")
            XCTAssertEqual(String(sum), c["file_checksum"] as? String, "\(name): not the model llama.cpp ran")
            let lm = try LanguageModel(path: path, maxContext: ctx)
            let result = try lm.perplexity(ofText: text, contextLength: ctx, chunks: chunks)
            let expected = c["perplexity"] as! Double, expectedError = c["perplexity_error"] as! Double
            let tolerance = lm.useSIMDKernels ? 1e-9 : 0.02
            print("\(name): perplexity \(result.perplexity) vs llama-perplexity \(expected) (\(result.perplexity / expected - 1))")
            XCTAssertEqual(result.chunks, chunks)
            XCTAssertEqual(result.perplexity, expected, accuracy: tolerance * expected, name)
            XCTAssertEqual(try XCTUnwrap(result.perplexityError), expectedError, accuracy: tolerance * expectedError, name)
            try? FileManager.default.removeItem(atPath: path)
        }
        XCTAssertEqual(architectures, ["qwen3", "llama", "deci"])
    }

    /// The library entry point applies llama-perplexity's input rules: one final line feed dropped, no
    /// special-token matching, the model's own vocabulary; so it equals the token-level call on those tokens.
    func testPerplexityOfTextAppliesLlamaPerplexityRules() throws {
        let model = evalScratchPath("eval-text.gguf")
        try VocabModel.write(to: model, seed: 33)
        let lm = try LanguageModel(path: model, maxContext: 32)
        let body = String(decoding: try Data(contentsOf: URL(fileURLWithPath: #filePath)), as: UTF8.self)
        // Ends with a letter, so that a line feed after it is a token of its own.
        let text = body + "end"
        let withFeed = try lm.perplexity(ofText: text + "\n", contextLength: 32, chunks: 2)
        let without = try lm.perplexity(ofText: text, contextLength: 32, chunks: 2)
        XCTAssertEqual(withFeed, without, "one final line feed is dropped")
        XCTAssertEqual(try lm.perplexity(ofText: text + "\n\n", contextLength: 32, chunks: 1).textTokens, without.textTokens + 1, "only one")
        let vocabulary = try Vocabulary.load(path: model)
        let tokens = Tokenizer(vocabulary: vocabulary).encode(text, specialTokens: false).map(Int.init)
        XCTAssertEqual(without.textTokens, tokens.count)
        let direct = try lm.perplexity(of: tokens, contextLength: 32, chunks: 2, byteCount: { vocabulary.bytes(of: $0).count })
        XCTAssertEqual(without, direct)
        // Special-token text is plain text here, as llama-perplexity tokenizes it.
        let special = try lm.perplexity(ofText: String(repeating: "<|im_start|>", count: 40), contextLength: 32, chunks: 1)
        XCTAssertGreaterThan(special.textTokens, 40)
        XCTAssertThrowsError(try lm.perplexity(ofUTF8: Array("abc".utf8) + [0xFF] + Array(repeating: 0x61, count: 200), contextLength: 32)) {
            guard case TokenizerError.invalidUTF8(let offset, _)? = $0 as? TokenizerError else { return XCTFail("\($0)") }
            XCTAssertEqual(offset, 3)
        }
    }
}
