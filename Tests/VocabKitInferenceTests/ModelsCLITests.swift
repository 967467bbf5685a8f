import Foundation
import XCTest
import VocabKitGGUF
import VocabKitInference
import VocabKitModels
import VocabKitTokenizer

/// `savings --family` and `inspect` read the model descriptions (VocabKitModels): the numbers are the
/// library's, families and architectures come from the registries.
final class ModelsCLITests: XCTestCase {
    func testSavingsFamilies() throws {
        for family in ModelFamily.all {
            let r = try VocabKitBinary.run(["savings", "--family", family.name, "--keep", "32000", "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            XCTAssertEqual(object["family"] as? String, family.name)
            let projections = try XCTUnwrap(object["projections"] as? [[String: Any]])
            XCTAssertEqual(projections.count, family.members.count * ProjectedQuantization.allCases.count)
            for p in projections {
                let shape = try XCTUnwrap(family.members.first { $0.name == p["model"] as? String })
                let quantization = try XCTUnwrap(ProjectedQuantization(rawValue: p["format"] as? String ?? ""))
                let expected = shape.savings(quantization, keptRows: 32000)
                XCTAssertEqual(p["parameters"] as? Int, shape.parameterCount)
                XCTAssertEqual(p["bytes_saved"] as? Int, expected.bytesSaved)
                XCTAssertEqual(p["model_bytes"] as? Int, expected.fileSizeBefore)
            }
        }
        let text = try VocabKitBinary.run(["savings", "--family", "llama3", "--keep", "1000"])
        XCTAssertTrue(text.stdout.hasPrefix("Llama 3.2 family: keeping 1,000 of 128,256 vocabulary rows"), text.stdout)
        XCTAssertTrue(text.stdout.contains("Llama-3.2-3B  Q4_K_M    3,212,749,888"), text.stdout)
        XCTAssertTrue(text.stdout.contains("token_embd Q6_K (tied)"), text.stdout)

        let bad = try VocabKitBinary.run(["savings", "--family", "gpt2", "--keep", "10"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("unknown family 'gpt2'; supported: qwen3, llama3"), bad.stderr)
        let tooMany = try VocabKitBinary.run(["savings", "--family", "llama3", "--keep", "130000"])
        XCTAssertEqual(tooMany.status, 1)
        XCTAssertEqual(tooMany.stderr, "error: --keep 130000 is more than the 128256 vocabulary rows\n")
    }

    /// inspect says whether inference runs the architecture and lists per-layer arrays whole.
    func testInspectShowsDescriptorAndPerLayerArrays() throws {
        let path = evalScratchPath("inspect-deci.gguf")
        try SyntheticModel.write(SyntheticModelSpec(architecture: .deci, type: .f32, dim: 32, layers: 3, heads: 4, kvHeads: 2, ffn: 32,
                                                    kvHeadsPerLayer: [2, 1, 4], ffnPerLayer: [32, 96, 64], seed: 2),
                                 vocabulary: try Vocabulary.bundled(), to: path)
        let r = try VocabKitBinary.run(["inspect", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\nheads           4 query, 2, 1, 4 key/value (per layer)\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("\nfeed-forward    32, 96, 64 (per layer)\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("\ninference       supported: \(Architecture.deci.summary)\n"), r.stdout)
        let json = try VocabKitBinary.run(["inspect", path, "--json"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let perLayer = try XCTUnwrap(object["per_layer"] as? [String: [Int]])
        XCTAssertEqual(perLayer, ["kv_heads": [2, 1, 4], "feed_forward_length": [32, 96, 64]])
        XCTAssertEqual(object["inference"] as? String, Architecture.deci.summary)
    }
}
