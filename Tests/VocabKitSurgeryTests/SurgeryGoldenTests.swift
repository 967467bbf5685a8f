import Foundation
import VocabKitInference
import VocabKitTestSupport
import VocabKitTokenizer
import XCTest

/// Models edited by `vocabkit surgery` against llama.cpp's answers on the same files (Tests/Oracle/
/// make_surgery_goldens.sh): each edited model is made again through the command line and must be the file
/// llama.cpp ran (sha256); VocabKit's greedy continuations must equal llama-simple's and its perplexity
/// llama-perplexity's (`tolerance`). llama.cpp ran with its CPU backend built for AVX2 (the kernels VocabKit's
/// are ports of).
final class SurgeryGoldenTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws { folder = try temporaryFolder(name, testCase: self) }

    static func golden() throws -> [String: Any] {
        let url = TestData.repositoryRoot.appendingPathComponent("Tests/Fixtures/llama-goldens/surgery.json")
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    var text: String { TestData.repositoryRoot.appendingPathComponent("Corpora/sample/colorsys.py").path }

    /// The golden's text is the one in the repository, and llama.cpp ran its AVX2 CPU backend.
    func checkText(_ doc: [String: Any]) throws {
        let info = try XCTUnwrap(doc["system_info"] as? String, "the golden does not say which CPU backend ran")
        XCTAssertTrue(info.contains("AVX2 = 1") && !info.contains("AVX512"), "not llama.cpp's AVX2 CPU backend: \(info)")
        XCTAssertEqual(doc["text"] as? String, "Corpora/sample/colorsys.py")
        XCTAssertEqual(try sha256(ofFile: text), doc["text_sha256"] as? String, "the golden's text changed: rerun the maker script")
    }

    /// Writes the variant with `vocabkit surgery` (as the maker script did) and checks it is llama.cpp's file.
    func remake(_ variant: [String: Any], from source: String, label: String) throws -> String {
        let edit = try XCTUnwrap(variant["edit"] as? [String])
        let path = folder + "/\((variant["name"] as? String ?? "variant").replacingOccurrences(of: " ", with: "-")).gguf"
        let r = try CLI.run(["surgery", source] + edit + ["-o", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try sha256(ofFile: path), variant["sha256"] as? String, "\(label): not the file llama.cpp ran")
        return path
    }

    /// Greedy continuations and perplexity of one edited model against llama.cpp's; returns how many continuations
    /// were identical and, for those that were not, the closest greedy decision up to where they part.
    func compare(_ path: String, _ variant: [String: Any], n: Int, ctx: Int, chunks: Int,
                 label: String) throws -> (identical: Int, partings: [Float]) {
        let lm = try LanguageModel(path: path, maxContext: max(ctx, 256))
        let tokenizer = try lm.tokenizer()
        let stops = lm.stopTokens()
        var identical = 0, partings: [Float] = []
        for c in try XCTUnwrap(variant["greedy"] as? [[String: Any]]) {
            let prompt = try XCTUnwrap(c["prompt"] as? String)
            let expected = Array(try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(c["continuation_base64"] as? String))))
            let result = try lm.generateGreedy(prompt: tokenizer.encode(prompt).map(Int.init), maxTokens: n, stopTokens: stops)
            let got = try tokenizer.decode(result.tokens.map(TokenID.init))
            if got == expected { identical += 1; continue }
            var first = result.tokens.count
            for i in result.tokens.indices {
                let prefix = try tokenizer.decode(result.tokens[...i].map(TokenID.init))
                if prefix.count > expected.count || Array(expected[..<prefix.count]) != prefix { first = i; break }
            }
            let closest = first < result.margins.count ? result.margins[...first].min()! : .nan
            partings.append(closest)
            print("\(label), \(prompt.debugDescription): parts from llama-simple at token \(first), closest decision up to it \(closest); "
                  + "got \(String(decoding: got, as: UTF8.self).debugDescription)")
        }
        try comparePerplexity(path, expected: try XCTUnwrap(variant["perplexity"] as? Double), ctx: ctx, chunks: chunks, label: label)
        return (identical, partings)
    }

    /// How close VocabKit's perplexity must be to llama-perplexity's, relative. Q8_0 and F16 models run the same
    /// sums as llama.cpp's AVX2 backend (measured: 1e-14; F16 was 0.14 % away until its products were summed in
    /// tinyBLAS's eight lanes); Q4_K within 8e-6; the edited real model (Q5_0, Q8_0, Q6_K) within 4e-6 (llama-
    /// perplexity prints four decimals) since chunks are fed whole as llama-perplexity feeds them. Docs/surgery.md.
    func tolerance(_ label: String) -> Double {
        if label.hasPrefix("real") { return 1e-4 }
        if label.contains("q4_k") { return 2e-5 }
        return 1e-9
    }

    /// VocabKit's perplexity against llama-perplexity's, within `tolerance(label)`.
    func comparePerplexity(_ path: String, expected theirs: Double, ctx: Int, chunks: Int, label: String) throws {
        let evaluator = try LanguageModel(path: path, maxContext: ctx)
        let ours = try evaluator.perplexity(ofText: try String(contentsOfFile: text, encoding: .utf8), contextLength: ctx, chunks: chunks).perplexity
        XCTAssertEqual(ours, theirs, accuracy: tolerance(label) * theirs, "\(label): perplexity vs llama-perplexity")
        print("\(label): perplexity \(ours) vs llama-perplexity \(theirs) (\(100 * (ours / theirs - 1)) %)")
    }

    /// qwen3 and qwen2 with scalar and per-layer-array hyperparameters, and deci with blocks of different shapes:
    /// delete, swap, duplicate and a --layers reorder with a repeat. The prompts were chosen by VocabKit's margins,
    /// so every continuation must be identical.
    func testSyntheticEditsMatchLlamaCpp() throws {
        try skipSlowInDebug()
        let doc = try Self.golden()
        try checkText(doc)
        let synthetic = try XCTUnwrap(doc["synthetic"] as? [String: Any])
        let n = try XCTUnwrap(synthetic["n_predict"] as? Int), ctx = try XCTUnwrap(synthetic["ctx"] as? Int)
        let chunks = try XCTUnwrap(doc["chunks"] as? Int)
        var variants = 0, continuations = 0, identical = 0
        for model in try XCTUnwrap(synthetic["models"] as? [[String: Any]]) {
            let name = try XCTUnwrap(model["name"] as? String)
            let source = folder + "/\(name).gguf"  // the name is part of the edited files (vocabkit.surgery.source_file)
            let r = try CLI.run(["synth"] + (model["synth"] as! [String]) + ["-o", source])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(try sha256(ofFile: source), model["source_sha256"] as? String, "\(name): synth made another model")
            try comparePerplexity(source, expected: try XCTUnwrap(model["source_perplexity"] as? Double), ctx: ctx, chunks: chunks,
                                  label: "\(name) unedited")
            for variant in try XCTUnwrap(model["variants"] as? [[String: Any]]) {
                let label = variant["name"] as? String ?? name
                let path = try remake(variant, from: source, label: label)
                let (same, partings) = try compare(path, variant, n: n, ctx: ctx, chunks: chunks, label: label)
                XCTAssertTrue(partings.isEmpty, "\(label): greedy continuations differ from llama-simple's")
                identical += same
                continuations += (variant["greedy"] as? [Any])?.count ?? 0
                variants += 1
                try FileManager.default.removeItem(atPath: path)
            }
        }
        print("surgery goldens, synthetic: \(identical)/\(continuations) continuations identical over \(variants) edited models")
        XCTAssertGreaterThanOrEqual(variants, 20)
    }

    /// The real Qwen2.5-Coder-0.5B-Instruct: delete 12, swap 11,12, duplicate 5, --layers 0-9,11,10,12-23. The
    /// deletion also equals llama-quantize --prune-layers 12 (COPY) in llama-perplexity, and `layers --ablate`'s
    /// number for block 12 equals eval of the deleted file, to the bit.
    func testRealModelEditsMatchLlamaCpp() throws {
        let model = try TestData.realModel()
        try TestData.requireOptimizedBuild()
        let doc = try Self.golden()
        try checkText(doc)
        let real = try XCTUnwrap(doc["real"] as? [String: Any], "the golden has no real-model part: rerun the maker script with the model")
        XCTAssertEqual(try sha256(ofFile: model), real["source_sha256"] as? String, "not the model the goldens were made from")
        let n = try XCTUnwrap(real["n_predict"] as? Int), ctx = try XCTUnwrap(real["ctx"] as? Int)
        let chunks = try XCTUnwrap(real["chunks"] as? Int)
        // The edited files name their source file; the maker script read it under this name.
        let source = folder + "/qwen2.5-coder-0.5b-instruct.gguf"
        try FileManager.default.createSymbolicLink(atPath: source, withDestinationPath: model)
        var identical = 0, continuations = 0
        for variant in try XCTUnwrap(real["variants"] as? [[String: Any]]) {
            let label = variant["name"] as? String ?? "real"
            let path = try remake(variant, from: source, label: label)
            let (same, partings) = try compare(path, variant, n: n, ctx: ctx, chunks: chunks, label: label)
            // Prompts of under 64 tokens: VocabKit mirrors llama.cpp's arithmetic there, and the unedited model's
            // goldens are all identical; a parting is only acceptable after a near-tie.
            for closest in partings { XCTAssertLessThan(closest, 0.25, "\(label): parts from llama-simple with no near-tie before it") }
            identical += same
            continuations += (variant["greedy"] as? [Any])?.count ?? 0
            if let pruned = variant["llama_quantize_prune_layers_perplexity"] as? Double {
                XCTAssertEqual(pruned, variant["perplexity"] as? Double, "llama-quantize --prune-layers and vocabkit surgery files")
                try checkAblationEqualsEval(original: model, deleted: path, block: 12, ctx: ctx)
            }
            try FileManager.default.removeItem(atPath: path)
        }
        print("surgery goldens, real model: \(identical)/\(continuations) continuations identical")
        XCTAssertGreaterThanOrEqual(identical, continuations - 1)
    }

    /// The ablation of `block` on the original's first two chunks has exactly the sums of eval's first two chunks
    /// on the file with the block deleted.
    func checkAblationEqualsEval(original: String, deleted: String, block: Int, ctx: Int) throws {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: text)))
        let lm = try LanguageModel(path: original, maxContext: ctx)
        let analysis = try lm.analyzeBlocks(try lm.perplexityInput(ofUTF8: bytes),
                                            options: BlockAnalysisOptions(contextLength: ctx, chunks: 2, ablate: [block]))
        let evaluator = try LanguageModel(path: deleted, maxContext: ctx)
        let expected = try evaluator.perplexity(ofUTF8: bytes, contextLength: ctx, chunks: 2)
        XCTAssertEqual(analysis.blocks[block].ablation, expected, "layers --ablate vs eval of surgery --delete \(block)")
    }
}
