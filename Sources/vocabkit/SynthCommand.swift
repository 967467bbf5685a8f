import ArgumentParser
import Foundation
import VocabKitGGUF
import VocabKitInference
import VocabKitTokenizer

struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a small random-weight Qwen3/Qwen2 model with the real Qwen vocabulary.",
        discussion: """
        The model has the bundled Qwen3 vocabulary and tokenizer metadata as real GGUFs carry it, 151,936 \
        embedding rows, and random weights of the chosen type, so llama.cpp and `vocabkit generate` can be \
        compared on it in seconds. The same options give the same file. Every matrix row must be whole blocks \
        of the type (32 elements for Q4_0-Q8_0, 256 for the K-quants).
        """
    )

    @Option(name: .customLong("arch"), help: "qwen3 (tied embeddings, Q/K norms) or qwen2 (QKV biases).")
    var architecture: String = "qwen3"

    @Option(name: .short, help: "Where to write the model.")
    var output: String

    @Option(name: .customLong("type"), help: "Matrix type: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.")
    var typeName: String = "F32"

    @Option(help: "Embedding size.")
    var dim: Int = 64

    @Option(help: "Transformer blocks.")
    var layers: Int = 2

    @Option(help: "Attention heads.")
    var heads: Int = 4

    @Option(name: .customLong("kv-heads"), help: "Key/value heads (must divide --heads).")
    var kvHeads: Int = 2

    @Option(help: "Feed-forward size.")
    var ffn: Int = 128

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    @Option(help: "Context length written to the metadata.")
    var context: Int = 4096

    @Flag(name: .customLong("untied-output"), help: "qwen2 only: a separate output matrix instead of the token embedding.")
    var untiedOutput = false

    func run() throws {
        try runReportingErrors {
            guard let arch = SyntheticModelSpec.Architecture(rawValue: architecture.lowercased()) else {
                throw ReportInputError("--arch must be qwen3 or qwen2, not '\(architecture)'")
            }
            guard let type = GGMLType(name: typeName) else { throw ReportInputError("unknown --type '\(typeName)'") }
            let spec = SyntheticModelSpec(architecture: arch, type: type, dim: dim, layers: layers, heads: heads,
                                          kvHeads: kvHeads, ffn: ffn, seed: seed, untiedOutput: untiedOutput,
                                          contextLength: context)
            do {
                try SyntheticModel.write(spec, vocabulary: try Vocabulary.bundled(), to: output)
            } catch let error as SyntheticModelError {
                throw ReportInputError(error.description)
            }
            let size = (try? FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? 0
            print("wrote \(output): \(arch.rawValue) \(type.name), dim \(dim), \(layers) layers, \(heads) heads (\(kvHeads) KV), "
                  + "ffn \(ffn), \(SyntheticModel.embeddingRows) embedding rows, seed \(seed), \(size) bytes")
        }
    }
}
