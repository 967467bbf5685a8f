import XCTest
@testable import VocabKitModels

final class ArchitectureTests: XCTestCase {
    /// The registry finds each architecture by its `general.architecture` value, and only those.
    func testRegistry() {
        XCTAssertEqual(Architecture.all.map(\.name), ["qwen2", "qwen3", "llama", "deci"])
        for arch in Architecture.all { XCTAssertEqual(Architecture.named(arch.name), arch) }
        XCTAssertNil(Architecture.named("gpt2"))
        XCTAssertNil(Architecture.named("Qwen3"), "names are matched exactly, as llama.cpp does")
    }

    /// What llama.cpp's builders do for each (models/qwen2.cpp, qwen3.cpp, llama.cpp, deci.cpp and
    /// llama_model_rope_type).
    func testDescriptorsFollowLlamaCpp() {
        XCTAssertEqual(Architecture.qwen2.ropeStyle, .neox)
        XCTAssertEqual(Architecture.qwen3.ropeStyle, .neox)
        XCTAssertEqual(Architecture.llama.ropeStyle, .normal)
        XCTAssertEqual(Architecture.deci.ropeStyle, .normal)
        XCTAssertEqual(Architecture.qwen3.queryKeyNorms, .required)
        XCTAssertEqual(Architecture.llama.queryKeyNorms, .absent)
        XCTAssertTrue(Architecture.llama.ropeFrequencyFactors.allowed)
        XCTAssertFalse(Architecture.qwen2.ropeFrequencyFactors.allowed)
        XCTAssertTrue(Architecture.deci.blocksMayDiffer)
        XCTAssertFalse(Architecture.llama.blocksMayDiffer)
        for arch in Architecture.all {
            XCTAssertEqual(arch.perLayerHyperparameters, [.headCount, .headCountKV, .feedForwardLength])
            XCTAssertTrue(arch.endOfGeneration.isSuperset(of: ["<|endoftext|>", "<|im_end|>", "<|eot_id|>", "</s>"]))
        }
    }

    func testKeysAndTensorNames() {
        XCTAssertEqual(Architecture.qwen3.key(.headCountKV), "qwen3.attention.head_count_kv")
        XCTAssertEqual(Architecture.llama.key(.ropeDimensionCount), "llama.rope.dimension_count")
        let names = Architecture.llama.tensorNames
        XCTAssertEqual(names.block(11, .down), "blk.11.ffn_down.weight")
        XCTAssertEqual(names.block(0, .queryNorm), "blk.0.attn_q_norm.weight")
        XCTAssertEqual(names.ropeFrequencies, "rope_freqs.weight")
        XCTAssertEqual(names.output, "output.weight")
    }
}
