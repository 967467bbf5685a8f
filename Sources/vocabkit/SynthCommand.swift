import ArgumentParser
import Foundation
import VocabKitGGUF
import VocabKitInference
import VocabKitModels
import VocabKitTokenizer

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a small random-weight model (qwen3, qwen2, llama or deci) with the real Qwen vocabulary.",
        discussion: """
        The model has the bundled Qwen3 vocabulary and tokenizer metadata as real GGUFs carry it, 151,936 \
        embedding rows, and random weights of the chosen type, so llama.cpp and `vocabkit generate` can be \
        compared on it in seconds. The same options give the same file. Every matrix row must be whole blocks \
        of the type (32 elements for Q4_0-Q8_0, 256 for the K-quants).

        --heads, --kv-heads and --ffn take one number, or a comma-separated list with one value per layer, \
        written as a per-layer array (as llama.cpp reads these keys). Blocks may only differ for deci; a \
        uniform list writes an array whose values agree.
        """
    )

    @Option(name: .customLong("arch"), help: "qwen3 (Q/K norms), qwen2 (QKV biases), llama (normal RoPE) or deci (llama with per-layer shapes).")
    var architecture: String = "qwen3"

    @Option(name: .short, help: "Where to write the model.")
    var output: String

    @Option(name: .customLong("type"), help: "Matrix type: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.")
    var typeName: String = "F32"

    @Option(help: "Embedding size.")
    var dim: Int = 64

    @Option(help: "Transformer blocks.")
    var layers: Int = 2

    @Option(help: "Attention heads (one number, or one per layer: 4,2,4).")
    var heads: String = "4"

    @Option(name: .customLong("kv-heads"), help: "Key/value heads, dividing the heads (one number, or one per layer).")
    var kvHeads: String = "2"

    @Option(help: "Feed-forward size (one number, or one per layer).")
    var ffn: String = "128"

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    @Option(help: "Context length written to the metadata.")
    var context: Int = 4096

    @Flag(name: .customLong("untied-output"), help: "A separate output matrix instead of the token embedding.")
    var untiedOutput = false

    @Flag(name: .customLong("rope-freqs"), help: "llama/deci: write rope_freqs.weight (frequency divisors, as Llama 3.1+ files carry).")
    var ropeFrequencyFactors = false

    func run() throws {
        try runReportingErrors {
            guard let arch = Architecture.named(architecture.lowercased()) else {
                let names = Architecture.all.map(\.name).joined(separator: ", ")
                throw ReportInputError("--arch must be one of \(names), not '\(architecture)'")
            }
            guard let type = GGMLType(name: typeName) else { throw ReportInputError("unknown --type '\(typeName)'") }
            let (heads, headsPerLayer) = try Self.values(self.heads, option: "--heads")
            let (kvHeads, kvHeadsPerLayer) = try Self.values(self.kvHeads, option: "--kv-heads")
            let (ffn, ffnPerLayer) = try Self.values(self.ffn, option: "--ffn")
            let spec = SyntheticModelSpec(architecture: arch, type: type, dim: dim, layers: layers, heads: heads, kvHeads: kvHeads,
                                          ffn: ffn, headsPerLayer: headsPerLayer, kvHeadsPerLayer: kvHeadsPerLayer,
                                          ffnPerLayer: ffnPerLayer, seed: seed, untiedOutput: untiedOutput,
                                          ropeFrequencyFactors: ropeFrequencyFactors, contextLength: context)
            do {
                try SyntheticModel.write(spec, vocabulary: try Vocabulary.bundled(), to: output)
            } catch let error as SyntheticModelError {
                throw ReportInputError(error.description)
            }
            let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
            print("wrote \(output): \(arch.name) \(type.name), dim \(dim), \(layers) layers, \(self.heads) heads (\(self.kvHeads) KV), "
                  + "ffn \(self.ffn), \(SyntheticModel.embeddingRows) embedding rows, seed \(seed), \(size) bytes")
        }
    }

    /// "4" → (4, nil); "4,2,4" → (4, [4, 2, 4]): the first value, and the per-layer list when there is one.
    static func values(_ text: String, option: String) throws -> (Int, [Int]?) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        let values = try parts.map { part -> Int in
            guard let v = Int(part.trimmingCharacters(in: .whitespaces)) else {
                throw ReportInputError("\(option) takes a number or a comma-separated list of numbers, not '\(text)'")
            }
            return v
        }
        return (values[0], values.count > 1 ? values : nil)
    }
}
