import Foundation
import VocabKitGGUF
import VocabKitInference
import VocabKitIO
import VocabKitTestSupport
import XCTest
@testable import VocabKitSurgery

/// Skips a test that runs many forward passes (the 151,936-row output head dominates) in a debug build, unless
/// VOCABKIT_SLOW_TESTS=1; CI runs the suite in release.
func skipSlowInDebug() throws {
    guard !TestData.isOptimizedBuild, ProcessInfo.processInfo.environment["VOCABKIT_SLOW_TESTS"] != "1" else { return }
    throw XCTSkip("too slow in a debug build: swift test -c release, or set VOCABKIT_SLOW_TESTS=1")
}

/// `layers`: the ablation of block k is what `eval` reports for the file with block k deleted, to the bit, and the
/// scores read the residual stream at the right boundaries.
final class BlockAnalysisTests: XCTestCase {
    var folder = ""
    let text = TestData.repositoryRoot.appendingPathComponent("Corpora/sample/colorsys.py").path

    override func setUpWithError() throws { folder = try temporaryFolder(name, testCase: self) }

    func synth(_ name: String, _ args: [String]) throws -> String {
        let path = folder + "/\(name).gguf"
        let r = try CLI.run(["synth"] + args + ["-o", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        return path
    }

    func deleting(_ k: Int, from source: String) throws -> String {
        var order = BlockOrder(originalBlockCount: try LayerSurgery(modelPath: source).blockCount)
        try order.apply(.delete(k))
        let out = folder + "/" + (source as NSString).lastPathComponent + "-without-\(k).gguf"
        try LayerSurgery(modelPath: source).write(order, operations: "delete \(k)", to: out)
        return out
    }

    /// For every block of qwen3 (Q/K norms), qwen2 (biases, K-quant, untied head) and deci (blocks of different
    /// shapes) models, on the SIMD and the portable kernels: the ablation's sums equal those of `perplexity` on the
    /// file with the block deleted, and those of the whole model told to skip the block. Chunks of 160 tokens are
    /// fed as eval feeds them: 80 tokens (a batch of 64 and one of 16 inside one micro-batch), then 79.
    func testAblationEqualsEvalOfTheDeletedFile() throws {
        try skipSlowInDebug()
        let models = [
            try synth("qwen3", ["--arch", "qwen3", "--type", "Q8_0", "--dim", "64", "--layers", "3", "--heads", "4", "--kv-heads", "2", "--ffn", "128"]),
            try synth("qwen2", ["--arch", "qwen2", "--type", "Q4_K", "--dim", "256", "--layers", "3", "--heads", "4", "--kv-heads", "2",
                                "--ffn", "256", "--untied-output"]),
            try synth("deci", ["--arch", "deci", "--type", "F16", "--dim", "64", "--layers", "3", "--heads", "4,2,4",
                               "--kv-heads", "2,1,4", "--ffn", "64,128,96"]),
        ]
        let bytes = try InputFile(path: text).array
        let ctx = 160, chunks = 1
        for path in models {
            for simd in simdKernelsEnabled ? [true, false] : [false] {
                let lm = try LanguageModel(path: path, maxContext: ctx)
                lm.useSIMDKernels = simd
                let input = try lm.perplexityInput(ofUTF8: bytes)
                let analysis = try lm.analyzeBlocks(input, options: BlockAnalysisOptions(contextLength: ctx, chunks: chunks, ablate: [0, 1, 2]))
                let whole = try lm.perplexity(ofUTF8: bytes, contextLength: ctx, chunks: chunks)
                XCTAssertEqual(analysis.full, whole, "\(path): the whole model as eval measures it")
                for k in 0..<3 {
                    let deleted = try LanguageModel(path: try deleting(k, from: path), maxContext: ctx)
                    deleted.useSIMDKernels = simd
                    let expected = try deleted.perplexity(ofUTF8: bytes, contextLength: ctx, chunks: chunks)
                    let got = try XCTUnwrap(analysis.blocks[k].ablation)
                    XCTAssertEqual(got, expected, "\(path), block \(k), simd \(simd): ablation vs eval of the deleted file")
                    XCTAssertEqual(got.bitsPerByte.bitPattern, expected.bitsPerByte.bitPattern)
                    XCTAssertNotEqual(got.bitsPerByte, whole.bitsPerByte, "removing a block must change something")
                    lm.skippedBlocks = [k]
                    XCTAssertEqual(try lm.perplexity(ofUTF8: bytes, contextLength: ctx, chunks: chunks), expected, "\(path): skippedBlocks [\(k)]")
                    lm.skippedBlocks = []
                }
            }
        }
    }

    /// A block whose output matrices are zero adds nothing to the stream: its Block Influence and angular distance
    /// are 0, removing it changes nothing, and the span distance over it equals the one over its neighbour alone.
    func testABlockThatAddsNothingScoresZero() throws {
        let source = try synth("plain", ["--arch", "qwen3", "--type", "Q8_0", "--dim", "64", "--layers", "3", "--heads", "4",
                                         "--kv-heads", "2", "--ffn", "128"])
        let file = try GGUFFile(path: source)
        let zeroed: Set<String> = ["blk.1.attn_output.weight", "blk.1.ffn_down.weight"]
        let path = folder + "/zeroed.gguf"
        try GGUFWriter.write(to: path, metadata: file.metadataForWriting, tensors: file.tensors.map { t in
            guard zeroed.contains(t.name) else { return GGUFOutputTensor.copying(t, from: file) }
            // All-zero bytes are zero weights in every type (Q8_0: scale 0).
            return GGUFOutputTensor(name: t.name, dimensions: t.dimensions, type: t.type) { try $0.write([UInt8](repeating: 0, count: t.byteCount)) }
        })
        let lm = try LanguageModel(path: path, maxContext: 64)
        let input = try lm.perplexityInput(ofUTF8: try InputFile(path: text).array)
        let a = try lm.analyzeBlocks(input, options: BlockAnalysisOptions(contextLength: 64, chunks: 3, span: 2, ablate: [1]))
        XCTAssertEqual(a.blocks[1].blockInfluence, 0, accuracy: 1e-12)
        XCTAssertEqual(a.blocks[1].angularDistance, 0, accuracy: 1e-6)
        XCTAssertGreaterThan(a.blocks[0].blockInfluence, 0.01)
        XCTAssertGreaterThan(a.blocks[2].blockInfluence, 0.01)
        XCTAssertEqual(a.blocks[1].ablation, a.full)
        XCTAssertEqual(a.bitsPerByteChange(of: 1), 0)
        XCTAssertNil(a.bitsPerByteChange(of: 0))
        // Streams 1 and 2 are the same, so the 2-block run from 0 ends where block 0's does.
        XCTAssertEqual(a.spanDistances.count, 2)
        XCTAssertEqual(a.spanDistances[0], a.blocks[0].angularDistance)
        XCTAssertEqual(a.spanDistances[1], a.blocks[2].angularDistance)
        XCTAssertEqual(a.positions, 3 * 64, "every position of a chunk is evaluated (the chunk is fed whole)")
        XCTAssertEqual(a.ranking.first, 1, "the block that adds nothing ranks first (lowest Block Influence)")
    }

    /// The scores from the streams as the observer hands them out, computed here the plain way: every evaluated
    /// position of every chunk, cosines in Double.
    func testScoresAreMeansOverEveryEvaluatedPosition() throws {
        try skipSlowInDebug()
        let path = try synth("scores", ["--arch", "qwen2", "--type", "F16", "--dim", "64", "--layers", "4", "--heads", "4",
                                         "--kv-heads", "1", "--ffn", "128"])
        let ctx = 100, chunks = 3
        let lm = try LanguageModel(path: path, maxContext: ctx)
        let input = try lm.perplexityInput(ofUTF8: try InputFile(path: text).array)
        // [chunk][boundary][position] -> vector
        var streams = [[[[Float]]]]()
        lm.residualObserver = { boundary, p0, x in
            if boundary == 0 && p0 == 0 { streams.append(Array(repeating: [], count: 5)) }
            for i in 0..<(x.count / 64) {
                XCTAssertEqual(streams[streams.count - 1][boundary].count, p0 + i, "positions arrive in order")
                streams[streams.count - 1][boundary].append(Array(x[(i * 64)..<((i + 1) * 64)]))
            }
        }
        _ = try lm.perplexity(of: input.tokens, contextLength: ctx, chunks: chunks, bos: input.bos, byteCount: input.byteCount)
        lm.residualObserver = nil
        XCTAssertEqual(streams.count, chunks)
        func cos(_ a: [Float], _ b: [Float]) -> Double {
            var d = 0.0, x = 0.0, y = 0.0
            for i in a.indices { d += Double(a[i]) * Double(b[i]); x += Double(a[i]) * Double(a[i]); y += Double(b[i]) * Double(b[i]) }
            return d / (x.squareRoot() * y.squareRoot())
        }
        let a = try lm.analyzeBlocks(input, options: BlockAnalysisOptions(contextLength: ctx, chunks: chunks, span: 3))
        XCTAssertEqual(a.positions, chunks * ctx)
        for block in 0..<4 {
            var bi = 0.0, angle = 0.0, n = 0
            for chunk in streams {
                XCTAssertEqual(chunk[block].count, ctx)
                for (x, y) in zip(chunk[block], chunk[block + 1]) {
                    let c = cos(x, y)
                    bi += c
                    angle += acos(min(1, max(-1, c))) / Double.pi
                    n += 1
                }
            }
            XCTAssertEqual(a.blocks[block].blockInfluence, 1 - bi / Double(n), accuracy: 1e-12)
            XCTAssertEqual(a.blocks[block].angularDistance, angle / Double(n), accuracy: 1e-12)
        }
        for start in 0..<2 {
            var angle = 0.0
            for chunk in streams { for (x, y) in zip(chunk[start], chunk[start + 3]) { angle += acos(min(1, max(-1, cos(x, y)))) / Double.pi } }
            XCTAssertEqual(a.spanDistances[start], angle / Double(a.positions), accuracy: 1e-12)
        }
        XCTAssertEqual(a.bestSpanStart, a.spanDistances[0] <= a.spanDistances[1] ? 0 : 1)
        XCTAssertThrowsError(try lm.analyzeBlocks(input, options: BlockAnalysisOptions(contextLength: ctx, span: 5)))
        XCTAssertThrowsError(try lm.analyzeBlocks(input, options: BlockAnalysisOptions(contextLength: ctx, ablate: [4])))
    }

    /// `vocabkit layers --ablate` prints, for block k, the numbers `vocabkit eval` prints for `surgery --delete k`.
    func testLayersCommandAgreesWithSurgeryThenEval() throws {
        try skipSlowInDebug()
        let path = try synth("cli", ["--arch", "qwen3", "--type", "Q8_0", "--dim", "64", "--layers", "3", "--heads", "4", "--kv-heads", "2", "--ffn", "128"])
        let r = try CLI.run(["layers", path, "--file", text, "--ctx", "64", "--windows", "3", "--ablate", "--span", "2", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdoutBytes) as? [String: Any])
        let blocks = try XCTUnwrap(doc["blocks"] as? [[String: Any]])
        XCTAssertEqual(blocks.count, 3)
        XCTAssertEqual(doc["windows"] as? Int, 3)
        XCTAssertEqual(Set(blocks.compactMap { $0["rank"] as? Int }), [1, 2, 3])
        XCTAssertNotNil(doc["best_span"] as? [String: Any])
        let full = try XCTUnwrap(doc["full"] as? [String: Any])
        let eval = try CLI.run(["eval", path, "--file", text, "--ctx", "64", "--chunks", "3", "--json"])
        let evalDoc = try XCTUnwrap(try JSONSerialization.jsonObject(with: eval.stdoutBytes) as? [String: Any])
        XCTAssertEqual(full["bits_per_byte"] as? Double, evalDoc["bits_per_byte"] as? Double)
        for k in 0..<3 {
            let deleted = folder + "/cli-\(k).gguf"
            XCTAssertEqual(try CLI.run(["surgery", path, "--delete", "\(k)", "-o", deleted]).status, 0)
            let e = try CLI.run(["eval", deleted, "--file", text, "--ctx", "64", "--chunks", "3", "--json"])
            let d = try XCTUnwrap(try JSONSerialization.jsonObject(with: e.stdoutBytes) as? [String: Any])
            XCTAssertEqual(blocks[k]["bits_per_byte"] as? Double, d["bits_per_byte"] as? Double, "block \(k)")
            XCTAssertEqual(blocks[k]["perplexity"] as? Double, d["perplexity"] as? Double, "block \(k)")
            let delta = try XCTUnwrap(blocks[k]["delta_bits_per_byte"] as? Double)
            // JSON carries 16 significant digits here, so the difference of two printed numbers is close, not equal.
            XCTAssertEqual(delta, (d["bits_per_byte"] as! Double) - (full["bits_per_byte"] as! Double), accuracy: 1e-12)
        }
        let table = try CLI.run(["layers", path, "--file", text, "--ctx", "64", "--windows", "2"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(table.stdout.contains("block      BI  angular  rank"), table.stdout)
        XCTAssertEqual(table.stdout.split(separator: "\n").filter { $0.hasPrefix("    ") }.count, 3, table.stdout)
        XCTAssertTrue(table.stdout.contains("by Block Influence"), table.stdout)

        CLI.assertOneErrorLine(try CLI.run(["layers", path, "--file", text, "--span", "4", "--ctx", "64"]), mentioning: "--span 4")
        CLI.assertOneErrorLine(try CLI.run(["layers", path, "--file", text, "--ctx", "4096"]), mentioning: "needs at least")
        CLI.assertOneErrorLine(try CLI.run(["layers", path, "--file", text + ".missing"]), mentioning: "missing")
        CLI.assertOneErrorLine(try CLI.run(["layers", text, "--file", text]), mentioning: text)
        CLI.assertOneErrorLine(try CLI.run(["layers", path, "--file", text, "--ctx", "2"]), mentioning: "--ctx", status: 64)
    }
}
