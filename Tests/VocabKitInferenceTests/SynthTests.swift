import Foundation
import XCTest
import VocabKitGGUF
import VocabKitInference
import VocabKitModels
import VocabKitTokenizer

/// Synthetic models (`SyntheticModel`, `vocabkit synth`): their metadata is a real Qwen GGUF's, and the
/// forward pass continues prompts exactly as llama.cpp does on them (Tests/Oracle/make_synth_goldens.sh), for
/// every architecture: NeoX and normal RoPE, tied and untied heads, rope_freqs, per-layer arrays and blocks of
/// different shapes (deci).
final class SynthTests: XCTestCase {
    nonisolated(unsafe) static var bundled: Vocabulary?

    static func vocabulary() throws -> Vocabulary {
        if let v = bundled { return v }
        let v = try Vocabulary.bundled()
        bundled = v
        return v
    }

    func temporaryPath(_ name: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vk-synth-\(getpid())-\(name).gguf").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// The golden file's checksum: Σ word_i · (2i + 1) mod 2^64 over little-endian 64-bit words, zero-padded.
    static func checksum(_ path: String) throws -> (bytes: Int, sum: UInt64) {
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        var sum: UInt64 = 0
        data.withUnsafeBytes { raw in
            let words = raw.count / 8
            for i in 0..<words {
                let w = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                sum &+= w &* (2 &* UInt64(i) &+ 1)
            }
            if raw.count % 8 != 0 {
                var tail: UInt64 = 0
                for (k, b) in raw[(8 * words)...].enumerated() { tail |= UInt64(b) << (8 * UInt64(k)) }
                sum &+= tail &* (2 &* UInt64(words) &+ 1)
            }
        }
        return (data.count, sum)
    }

    /// The spec of a golden's "synth" object (make_synth_goldens.sh, make_perplexity_golden.sh): heads,
    /// kv_heads and ffn are a number, or a list with one value per layer (a per-layer array).
    static func spec(fromGolden s: [String: Any]) -> SyntheticModelSpec {
        func shape(_ key: String) -> (Int, [Int]?) {
            if let list = s[key] as? [Int] { return (list[0], list) }
            return (s[key] as! Int, nil)
        }
        let (heads, headsPerLayer) = shape("heads"), (kvHeads, kvHeadsPerLayer) = shape("kv_heads"), (ffn, ffnPerLayer) = shape("ffn")
        return SyntheticModelSpec(
            architecture: Architecture.named(s["arch"] as! String)!,
            type: GGMLType(name: s["type"] as! String)!, dim: s["dim"] as! Int, layers: s["layers"] as! Int,
            heads: heads, kvHeads: kvHeads, ffn: ffn, headsPerLayer: headsPerLayer, kvHeadsPerLayer: kvHeadsPerLayer,
            ffnPerLayer: ffnPerLayer, seed: UInt64(s["seed"] as! Int), untiedOutput: s["untied_output"] as! Bool,
            ropeFrequencyFactors: s["rope_freqs"] as? Bool ?? false)
    }

    /// Every synthetic model of the golden file, regenerated from its parameters, is the same file llama.cpp
    /// ran (size and checksum), and its greedy continuations (prompt tokenized with the model's own vocabulary,
    /// as `vocabkit generate` does) are byte-identical to llama-simple's.
    func testContinuationsMatchLlamaCpp() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/llama-goldens/synthetic.json")
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        XCTAssertEqual(doc["generator"] as? String, SyntheticModel.generator, "the goldens were made with another weight scheme")
        let n = doc["n_predict"] as! Int
        let cases = doc["cases"] as! [[String: Any]]
        var identical = 0, total = 0
        var tokenizer: Tokenizer?
        var types = Set<String>(), architectures = Set<String>(), differingBlocks = 0, ropeFactors = 0
        for c in cases {
            let name = c["name"] as! String
            let s = c["synth"] as! [String: Any]
            let spec = Self.spec(fromGolden: s)
            if Set(spec.blockShapes).count > 1 { differingBlocks += 1 }
            if spec.ropeFrequencyFactors { ropeFactors += 1 }
            types.insert(spec.type.name)
            architectures.insert(spec.architecture.name)
            let path = temporaryPath(name)
            try SyntheticModel.write(spec, vocabulary: try Self.vocabulary(), to: path)
            defer { try? FileManager.default.removeItem(atPath: path) }  // one model on disk at a time
            let (bytes, sum) = try Self.checksum(path)
            XCTAssertEqual(bytes, c["file_bytes"] as? Int, "\(name): size differs from the model llama.cpp ran")
            XCTAssertEqual(String(sum), c["file_checksum"] as? String, "\(name): bytes differ from the model llama.cpp ran")

            // The model's own vocabulary, read from the first file (every case carries the same tokenizer keys,
            // and the checksums above pin each file's bytes).
            if tokenizer == nil { tokenizer = Tokenizer(vocabulary: try Vocabulary.load(path: path)) }
            let tokenizer = tokenizer!
            let lm = try LanguageModel(path: path, maxContext: 256)
            XCTAssertEqual(lm.config.blocks, spec.blockShapes, "\(name): the per-layer shapes as written")
            let stop = lm.stopTokens()
            for r in c["results"] as! [[String: Any]] {
                total += 1
                let prompt = r["prompt"] as! String
                let golden = Array(Data(base64Encoded: r["continuation_base64"] as! String)!)
                let result = try lm.generateGreedy(prompt: tokenizer.encode(prompt).map(Int.init), maxTokens: n, stopTokens: stop)
                let got = try tokenizer.decode(result.tokens.map(TokenID.init))
                if got == golden { identical += 1; continue }
                // Say where it parts and how close the decision there was, to tell a near-tie from a bug.
                var first = result.tokens.count
                for i in result.tokens.indices {
                    let prefix = try tokenizer.decode(result.tokens[...i].map(TokenID.init))
                    if prefix.count > golden.count || Array(golden[..<prefix.count]) != prefix { first = i; break }
                }
                let margin = first < result.margins.count ? result.margins[...first].min()! : .nan
                XCTFail("\(name), prompt \(prompt.debugDescription): parts from llama.cpp at token \(first) (closest decision up to it: \(margin)); "
                        + "got \(String(decoding: got, as: UTF8.self).debugDescription), llama.cpp \(String(decoding: golden, as: UTF8.self).debugDescription)")
            }
        }
        print("synthetic models: \(identical)/\(total) continuations identical to llama.cpp")
        XCTAssertEqual(identical, total)
        XCTAssertGreaterThanOrEqual(total, 15)
        XCTAssertEqual(architectures, Set(Architecture.all.map(\.name)), "every architecture has goldens")
        XCTAssertGreaterThanOrEqual(differingBlocks, 2, "models whose blocks differ (per-layer arrays)")
        XCTAssertGreaterThanOrEqual(ropeFactors, 2, "models with rope_freqs")
        XCTAssertTrue(types.isSuperset(of: ["F32", "F16", "Q8_0"]) && types.contains { $0.hasSuffix("_K") }, "\(types)")
    }

    /// A qwen3 file carries what real Qwen3 GGUFs carry: the tokenizer keys, the 151,936 token rows with
    /// padding named [PAD<id>], tied embeddings, Q/K norms, no biases; and it reads back as the same vocabulary.
    /// A qwen2 file has biases and, when asked, its own output matrix.
    func testMetadataAndTensorsLikeRealGGUFs() throws {
        let vocabulary = try Self.vocabulary()
        let q3 = temporaryPath("meta-q3")
        try SyntheticModel.write(SyntheticModelSpec(architecture: .qwen3, type: .q4_0, dim: 32, layers: 1, heads: 2,
                                                    kvHeads: 1, ffn: 64, seed: 9), vocabulary: vocabulary, to: q3)
        let file = try GGUFFile(path: q3)
        XCTAssertEqual(file.string("general.architecture"), "qwen3")
        XCTAssertEqual(file.string("tokenizer.ggml.model"), "gpt2")
        XCTAssertEqual(file.string("tokenizer.ggml.pre"), "qwen2")
        let tokens = try XCTUnwrap(file.stringArray("tokenizer.ggml.tokens"))
        let types = try XCTUnwrap(file.integerArray("tokenizer.ggml.token_type"))
        XCTAssertEqual(tokens.count, 151_936)
        XCTAssertEqual(types.count, 151_936)
        XCTAssertEqual(tokens[0], "!")
        XCTAssertEqual(tokens[220], "Ġ")                 // byte-level spelling of " "
        XCTAssertEqual(tokens[151_643], "<|endoftext|>")
        XCTAssertEqual(types[151_643], 3)
        XCTAssertEqual(types[151_657], 4)                // <tool_call>: an added, not a control, token
        // End of generation as llama.cpp decides it: eos and Qwen's end-of-turn specials, and also the plain-text
        // "</s>" token, which llama.cpp counts whatever its type.
        let stop = try LanguageModel(path: q3, maxContext: 8).stopTokens()
        let closeS = try XCTUnwrap(tokens.firstIndex(of: "</s>"))
        XCTAssertEqual(stop, Set([151_643, 151_645, 151_662, 151_663, 151_664, closeS]))
        XCTAssertEqual(tokens[151_669], "[PAD151669]")
        XCTAssertEqual(types[151_669], 5)
        XCTAssertEqual(tokens[151_935], "[PAD151935]")
        XCTAssertEqual(tokens[file.integer("tokenizer.ggml.eos_token_id")!], "<|im_end|>")
        XCTAssertEqual(tokens[file.integer("tokenizer.ggml.bos_token_id")!], "<|endoftext|>")
        XCTAssertEqual(file.value("tokenizer.ggml.add_bos_token"), .bool(false))
        XCTAssertEqual(file.stringArray("tokenizer.ggml.merges")?.count, vocabulary.merges.count)
        XCTAssertEqual(file.stringArray("tokenizer.ggml.merges")?.first, "Ġ Ġ")
        XCTAssertEqual(file.integer("qwen3.attention.key_length"), 16)
        XCTAssertNil(file.tensor(named: "output.weight"))
        XCTAssertNotNil(file.tensor(named: "blk.0.attn_q_norm.weight"))
        XCTAssertNil(file.tensor(named: "blk.0.attn_q.bias"))
        XCTAssertEqual(file.tensor(named: "token_embd.weight")?.dimensions, [32, 151_936])
        for t in file.tensors { XCTAssertEqual(t.type, t.dimensions.count == 2 ? .q4_0 : .f32, t.name) }
        // The file's own vocabulary encodes like the bundled one.
        let text = "def greet(name):\n    return f\"Hello, {name}! 你好\" <|im_start|>"
        XCTAssertEqual(Tokenizer(vocabulary: try Vocabulary.load(path: q3)).encode(text), Tokenizer(vocabulary: vocabulary).encode(text))

        let q2 = temporaryPath("meta-q2")
        try SyntheticModel.write(SyntheticModelSpec(architecture: .qwen2, type: .bf16, dim: 32, layers: 1, heads: 2,
                                                    kvHeads: 2, ffn: 48, seed: 9, untiedOutput: true), vocabulary: vocabulary, to: q2)
        let file2 = try GGUFFile(path: q2)
        XCTAssertNotNil(file2.tensor(named: "output.weight"))
        XCTAssertNotNil(file2.tensor(named: "blk.0.attn_k.bias"))
        XCTAssertNil(file2.tensor(named: "blk.0.attn_k_norm.weight"))
        let lm = try LanguageModel(path: q2, maxContext: 8)
        XCTAssertEqual(lm.config.architecture, .qwen2)
        XCTAssertEqual(lm.vocabularySize, 151_936)
        // Padding rows are zero, so their logits are exactly 0 whatever the input.
        let logits = try lm.forward(token: 1000)
        XCTAssertEqual(logits[151_700], 0)
        XCTAssertNotEqual(logits[1000], 0)
    }

    /// A llama file has what converted llama GGUFs have (rope.dimension_count, no Q/K norms, rope_freqs when
    /// asked); a deci file writes per-layer lists as int32 arrays and loads with each block's own shape.
    func testLlamaAndDeciLayout() throws {
        let vocabulary = try Self.vocabulary()
        let llama = temporaryPath("meta-llama")
        try SyntheticModel.write(SyntheticModelSpec(architecture: .llama, type: .q8_0, dim: 64, layers: 2, heads: 4, kvHeads: 2,
                                                    ffn: 64, ffnPerLayer: [64, 64], seed: 4, ropeFrequencyFactors: true),
                                 vocabulary: vocabulary, to: llama)
        let file = try GGUFFile(path: llama)
        XCTAssertEqual(file.string("general.architecture"), "llama")
        XCTAssertEqual(file.integer("llama.rope.dimension_count"), 16)
        XCTAssertNil(file.integer("llama.attention.key_length"))
        XCTAssertEqual(file.integerArray("llama.feed_forward_length"), [64, 64], "a uniform list is still an array")
        XCTAssertEqual(file.valueType("llama.feed_forward_length"), .array)
        XCTAssertEqual(file.integer("llama.attention.head_count"), 4)
        XCTAssertNil(file.tensor(named: "blk.0.attn_q_norm.weight"))
        XCTAssertNil(file.tensor(named: "blk.0.attn_q.bias"))
        XCTAssertEqual(file.tensor(named: "rope_freqs.weight")?.dimensions, [8])
        XCTAssertEqual(file.tensor(named: "rope_freqs.weight")?.type, .f32)
        let lm = try LanguageModel(path: llama, maxContext: 8)
        XCTAssertEqual(lm.config.architecture, .llama)
        XCTAssertEqual(lm.config.blocks, [BlockShape(headCount: 4, kvHeadCount: 2, hiddenDim: 64), BlockShape(headCount: 4, kvHeadCount: 2, hiddenDim: 64)])

        let deci = temporaryPath("meta-deci")
        try SyntheticModel.write(SyntheticModelSpec(architecture: .deci, type: .f32, dim: 32, layers: 3, heads: 4, kvHeads: 2, ffn: 32,
                                                    headsPerLayer: [4, 2, 4], kvHeadsPerLayer: [2, 1, 4], ffnPerLayer: [32, 96, 64], seed: 5),
                                 vocabulary: vocabulary, to: deci)
        let file2 = try GGUFFile(path: deci)
        XCTAssertEqual(file2.arrayInfo("deci.attention.head_count_kv")?.elementType, .int32)
        XCTAssertEqual(file2.integerArray("deci.attention.head_count"), [4, 2, 4])
        XCTAssertEqual(file2.tensor(named: "blk.1.attn_q.weight")?.dimensions, [32, 16])
        XCTAssertEqual(file2.tensor(named: "blk.1.attn_output.weight")?.dimensions, [16, 32])
        XCTAssertEqual(file2.tensor(named: "blk.2.attn_v.weight")?.dimensions, [32, 32])
        XCTAssertEqual(file2.tensor(named: "blk.1.ffn_down.weight")?.dimensions, [96, 32])
        let lm2 = try LanguageModel(path: deci, maxContext: 8)
        XCTAssertEqual(lm2.config.blocks.map(\.hiddenDim), [32, 96, 64])
        XCTAssertEqual(lm2.config.hiddenDim, 96, "buffers are sized for the widest block")
        XCTAssertEqual(lm2.config.kvHeadCount, 4)
        let logits = try lm2.forward(token: 1000)
        XCTAssertTrue(logits.allSatisfy(\.isFinite))
    }

    /// The same spec gives the same bytes; another seed gives other weights.
    func testDeterministicForASeed() throws {
        let vocabulary = try Self.vocabulary()
        let spec = SyntheticModelSpec(architecture: .qwen3, type: .q2_K, dim: 256, layers: 1, heads: 2, kvHeads: 1, ffn: 256, seed: 7)
        let a = temporaryPath("det-a"), b = temporaryPath("det-b"), c = temporaryPath("det-c")
        try SyntheticModel.write(spec, vocabulary: vocabulary, to: a)
        try SyntheticModel.write(spec, vocabulary: vocabulary, to: b)
        var other = spec
        other.seed = 8
        try SyntheticModel.write(other, vocabulary: vocabulary, to: c)
        XCTAssertEqual(try Self.checksum(a).sum, try Self.checksum(b).sum)
        XCTAssertNotEqual(try Self.checksum(a).sum, try Self.checksum(c).sum)
        XCTAssertEqual(try Self.checksum(a).bytes, try Self.checksum(c).bytes)
        XCTAssertFalse(FileManager.default.fileExists(atPath: a + ".tmp"), "written through a temporary name")
    }

    /// `vocabkit synth`: a model on success; one `error:` line and status 1 for a bad option, with no file left.
    func testCommand() throws {
        let path = temporaryPath("cli")
        let ok = try VocabKitBinary.run(["synth", "--arch", "qwen2", "--type", "Q5_0", "--dim", "32", "--ffn", "32",
                                         "--layers", "1", "--heads", "2", "--kv-heads", "1", "--seed", "3", "-o", path])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.hasPrefix("wrote \(path): qwen2 Q5_0, dim 32, 1 layers"), ok.stdout)
        XCTAssertEqual(try GGUFFile(path: path).tensor(named: "blk.0.ffn_up.weight")?.type, .q5_0)
        for (args, message) in [(["--type", "Q4_K", "--dim", "64"], "error: dim 64 is not a multiple of Q4_K's block size 256\n"),
                                (["--arch", "gpt2"], "error: --arch must be one of qwen2, qwen3, llama, deci, not 'gpt2'\n"),
                                (["--type", "Q9"], "error: unknown --type 'Q9'\n"),
                                (["--ffn", "64,x"], "error: --ffn takes a number or a comma-separated list of numbers, not '64,x'\n"),
                                (["--arch", "llama", "--ffn", "64,128"], "error: llama blocks must all have the same shape (llama.cpp builds every block like block 0); deci allows them to differ\n")] {
            let bad = temporaryPath("cli-bad")
            let r = try VocabKitBinary.run(["synth", "-o", bad] + args)
            XCTAssertEqual(r.status, 1, "\(args)")
            XCTAssertEqual(r.stderr, message)
            XCTAssertFalse(FileManager.default.fileExists(atPath: bad))
        }
    }

    /// Bad shapes are refused with one clear sentence, before anything is written.
    func testValidation() throws {
        func message(_ spec: SyntheticModelSpec) -> String? {
            do { try spec.validate(); return nil } catch { return "\(error)" }
        }
        XCTAssertNil(message(SyntheticModelSpec()))
        XCTAssertEqual(message(SyntheticModelSpec(type: .q4_K, dim: 64)), "dim 64 is not a multiple of Q4_K's block size 256")
        XCTAssertEqual(message(SyntheticModelSpec(type: .q8_0, dim: 64, ffn: 100)), "ffn 100 is not a multiple of Q8_0's block size 32")
        XCTAssertEqual(message(SyntheticModelSpec(heads: 3)), "dim 64 is not a multiple of heads 3")
        XCTAssertEqual(message(SyntheticModelSpec(heads: 4, kvHeads: 3)), "heads 4 is not a multiple of kv-heads 3")
        XCTAssertEqual(message(SyntheticModelSpec(dim: 12, heads: 4)), "head size dim/heads = 3 must be even (rotary embedding)")
        XCTAssertEqual(message(SyntheticModelSpec(layers: 0)), "layers must be between 1 and 64, not 0")
        XCTAssertTrue(message(SyntheticModelSpec(type: .iq2_XS))?.hasPrefix("type IQ2_XS is not supported") ?? false)
        // Per-layer lists: one value per layer, starting with the scalar; blocks may only differ for deci.
        XCTAssertEqual(message(SyntheticModelSpec(layers: 2, ffnPerLayer: [128])), "ffn lists 1 values for 2 layers")
        XCTAssertEqual(message(SyntheticModelSpec(layers: 2, kvHeads: 2, kvHeadsPerLayer: [1, 2])), "kv-heads is 2 but its per-layer list starts with 1")
        XCTAssertEqual(message(SyntheticModelSpec(architecture: .llama, layers: 2, ffn: 64, ffnPerLayer: [64, 96])),
                       "llama blocks must all have the same shape (llama.cpp builds every block like block 0); deci allows them to differ")
        XCTAssertNil(message(SyntheticModelSpec(architecture: .deci, layers: 2, ffn: 64, ffnPerLayer: [64, 96])))
        XCTAssertEqual(message(SyntheticModelSpec(architecture: .deci, layers: 2, heads: 4, kvHeads: 2, kvHeadsPerLayer: [2, 3])),
                       "heads 4 is not a multiple of kv-heads 3 (layer 1)")
        XCTAssertEqual(message(SyntheticModelSpec(architecture: .deci, type: .q8_0, layers: 2, ffn: 64, ffnPerLayer: [64, 48])),
                       "ffn 48 is not a multiple of Q8_0's block size 32 (layer 1)")
        XCTAssertEqual(message(SyntheticModelSpec(architecture: .qwen3, ropeFrequencyFactors: true)), "qwen3 has no rope_freqs tensor")
        XCTAssertNil(message(SyntheticModelSpec(architecture: .qwen3, untiedOutput: true)), "untied qwen3 exists (Qwen3-8B)")
        let path = temporaryPath("invalid")
        XCTAssertThrowsError(try SyntheticModel.write(SyntheticModelSpec(type: .q6_K, dim: 64), vocabulary: try Self.vocabulary(), to: path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }
}
