import Foundation
import XCTest
import VocabKitGGUF
@testable import VocabKitModels

final class ModelFamilyTests: XCTestCase {
    func testQwen3ParameterCountsMatchPublishedSizes() {
        let counts = Dictionary(uniqueKeysWithValues: ModelFamily.qwen3.members.map { ($0.name, $0.parameterCount) })
        // Published totals: 0.6B (0.44B non-embedding), 1.7B, 4.0B, 8.2B.
        XCTAssertEqual(counts["Qwen3-0.6B"], 596_049_920)
        XCTAssertEqual(Double(counts["Qwen3-1.7B"]!) / 1e9, 1.72, accuracy: 0.01)
        XCTAssertEqual(Double(counts["Qwen3-4B"]!) / 1e9, 4.02, accuracy: 0.01)
        XCTAssertEqual(Double(counts["Qwen3-8B"]!) / 1e9, 8.19, accuracy: 0.01)
    }

    /// Llama 3.2's published parameter counts (1,235,814,400 and 3,212,749,824: embedding, 16/28 blocks, final
    /// norm) plus the headDim/2 floats of the rope_freqs tensor that its GGUFs carry.
    func testLlama3ParameterCountsMatchPublishedSizes() throws {
        let family = try XCTUnwrap(ModelFamily.named("llama3"))
        XCTAssertEqual(family.members.map(\.name), ["Llama-3.2-1B", "Llama-3.2-3B"])
        XCTAssertEqual(family.members[0].parameterCount, 1_235_814_400 + 32)
        XCTAssertEqual(family.members[1].parameterCount, 3_212_749_824 + 64)
        for shape in family.members {
            XCTAssertEqual(shape.vocabularyRows, 128_256)
            XCTAssertTrue(shape.tiedEmbeddings)
            XCTAssertEqual(shape.architecture, .llama)
            let names = Set(shape.tensors().map(\.name))
            XCTAssertTrue(names.contains("rope_freqs.weight"))
            XCTAssertFalse(names.contains("output.weight"))
            XCTAssertFalse(names.contains("blk.0.attn_q_norm.weight"), "llama has no Q/K norms")
            XCTAssertEqual(names.count, 2 + 9 * shape.layers + 1)
        }
        XCTAssertEqual(family.members[0].tensors().first { $0.name == "blk.3.attn_k.weight" }?.rows, 8 * 64)
    }

    func testQwen3ProjectedSavings() {
        let small = ModelFamily.qwen3.members[0]
        let savings = small.savings(.bf16, keptRows: 151_936 - 1000)
        XCTAssertEqual(savings.tensors.map(\.name), ["token_embd.weight"])
        XCTAssertEqual(savings.bytesSaved, 1000 * 1024 * 2)
        XCTAssertEqual(savings.parametersSaved, 1000 * 1024)

        let big = ModelFamily.qwen3.members[3]
        let quantized = big.savings(.q4_K_M, keptRows: 151_936 - 256)
        XCTAssertEqual(quantized.tensors.map(\.type), [.q4_K, .q6_K])
        XCTAssertEqual(quantized.bytesSaved, 256 * (16 * 144 + 16 * 210))
        XCTAssertEqual(quantized.fileSizeBefore - quantized.fileSizeAfter, quantized.bytesSaved)
    }

    /// llama.cpp quantizes a tied token embedding as the output it doubles as (Q6_K in Q4_K_M), an untied one
    /// as the other matrices; attn_v and ffn_down get Q6_K on its favoured layers.
    func testQ4KMTypeMix() {
        let tied = ModelFamily.llama3.members[0]
        let types = Dictionary(uniqueKeysWithValues: tied.tensors().map { ($0.name, tied.type(of: $0, in: .q4_K_M)) })
        XCTAssertEqual(types["token_embd.weight"], .q6_K)
        XCTAssertEqual(types["rope_freqs.weight"], .f32)
        XCTAssertEqual(types["blk.5.attn_norm.weight"], .f32)
        XCTAssertEqual(types["blk.5.attn_q.weight"], .q4_K)
        // 16 layers: layers 0-1 and 14-15, then every third from 2: 4, 7, 10, 13.
        let favoured = (0..<16).filter { types["blk.\($0).attn_v.weight"] == .q6_K }
        XCTAssertEqual(favoured, [0, 1, 4, 7, 10, 13, 14, 15])
        XCTAssertEqual((0..<16).filter { types["blk.\($0).ffn_down.weight"] == .q6_K }, favoured)
        let untied = ModelFamily.qwen3.members[3]
        XCTAssertEqual(untied.type(of: untied.tensors()[0], in: .q4_K_M), .q4_K)
        XCTAssertEqual(tied.savings(.q8_0, keptRows: 1000).tensors.map(\.type), [.q8_0])
        XCTAssertEqual(tied.savings(.bf16, keptRows: 1000).tensors.map(\.type), [.bf16])
    }

    func testFamilyLookup() {
        XCTAssertEqual(ModelFamily.named("QWEN3")?.name, "qwen3")
        XCTAssertNil(ModelFamily.named("gpt2"))
        XCTAssertEqual(ModelFamily.all.map(\.name), ["qwen3", "llama3"])
    }
}

/// ProjectedQuantization against llama-quantize itself (Tests/Oracle/make_quant_mix_golden.sh): models of the
/// same shapes quantized by llama.cpp to each format have, tensor for tensor, the types the projection gives,
/// and exactly the tensors ModelShape lists.
final class QuantMixGoldenTests: XCTestCase {
    func testTypesEqualLlamaQuantize() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/quant-mix/llama-quantize.json")
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var checked = 0
        for c in doc["cases"] as! [[String: Any]] {
            let s = c["synth"] as! [String: Any]
            let arch = try XCTUnwrap(Architecture.named(s["arch"] as! String))
            let dim = s["dim"] as! Int, heads = s["heads"] as! Int
            let shape = ModelShape(name: c["name"] as! String, architecture: arch, hiddenSize: dim, layers: s["layers"] as! Int,
                                   headCount: heads, kvHeadCount: s["kv_heads"] as! Int, headDimension: dim / heads,
                                   feedForwardSize: s["ffn"] as! Int, vocabularyRows: 151_936,
                                   tiedEmbeddings: !(s["untied_output"] as! Bool))
            let formats = c["types"] as! [String: [String: String]]
            XCTAssertEqual(Set(formats.keys), Set(ProjectedQuantization.allCases.map(\.rawValue)))
            for (format, types) in formats {
                let quantization = try XCTUnwrap(ProjectedQuantization(rawValue: format))
                XCTAssertEqual(Set(shape.tensors().map(\.name)), Set(types.keys), "\(shape.name): the tensors llama.cpp's file has")
                for tensor in shape.tensors() {
                    XCTAssertEqual(shape.type(of: tensor, in: quantization).name, types[tensor.name], "\(shape.name) \(format) \(tensor.name)")
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 300)
    }
}
