import ArgumentParser
import Foundation
import VocabKitInference
import VocabKitTokenizer

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt with a GGUF model (Qwen2/Qwen3) on the CPU, greedily or by sampling.",
        discussion: """
        The prompt is tokenized with the model's own vocabulary (no BOS is added, as llama.cpp does for Qwen). \
        Only the continuation is printed. Generation stops after -n tokens or at an end-of-generation token.

        Sampling (--temperature above 0): logits divided by the temperature, softmax, the --top-k most likely \
        tokens kept, then the smallest most-likely set reaching --top-p, renormalized, one token drawn with a \
        SplitMix64 generator seeded by --seed (the same seed gives the same text). Temperature 0 is greedy.
        """
    )

    @Argument(help: "A GGUF model.")
    var model: String

    @Option(name: .long, help: "The text to continue.")
    var prompt: String

    @Option(name: .short, parsing: .unconditional, help: "Tokens to generate.")
    var n: Int = 32

    @Option(name: .long, parsing: .unconditional, help: "Context positions to allocate (default: prompt + n).")
    var context: Int?

    @Option(name: .long, parsing: .unconditional, help: "Sampling temperature; 0 picks the most likely token.")
    var temperature: Double = 0

    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "Sample only among the K most likely tokens (0: all).")
    var topK: Int = 0

    @Option(name: .customLong("top-p"), parsing: .unconditional, help: "Sample only within the smallest most-likely set whose probability reaches P.")
    var topP: Double = 1

    @Option(name: .long, parsing: .unconditional, help: "Random seed for sampling (default: a random one, reported with --json).")
    var seed: UInt64?

    @Flag(name: .customLong("f32-attention"), help: "Keep attention in F32 instead of rounding Q, K, V and the weighted sum through F16 as llama.cpp's CPU flash attention does.")
    var f32Attention = false

    @Flag(help: "Print a JSON object: text, tokens, prompt_tokens, prompt_tokens_per_second, tokens_per_second, margins, and seed when sampling.")
    var json = false

    func validate() throws {
        try requireRange(n, "-n", 0...maximumTokens)
        try requireRange(context, "--context", 1...maximumTokens)
        if let problem = sampling(seed: 0).problem { throw ValidationError("--" + problem) }
    }

    func run() throws {
        try runReportingErrors {
            do {
                try generate()
            } catch let error as InferenceError {
                throw ReportInputError(error.description)
            }
        }
    }

    private func sampling(seed: UInt64) -> SamplingParameters {
        SamplingParameters(temperature: temperature, topK: topK, topP: topP, seed: seed)
    }

    private func generate() throws {
        // A random seed below 2^53 so the JSON number reads back exactly anywhere.
        let parameters = sampling(seed: seed ?? UInt64.random(in: 0..<(1 << 53)))
        let tokenizer = Tokenizer(vocabulary: try Vocabulary.load(path: model))
        let promptTokens = tokenizer.encode(prompt).map(Int.init)
        guard !promptTokens.isEmpty else { throw InferenceError.emptyPrompt }
        let lm = try LanguageModel(path: model, maxContext: context ?? (promptTokens.count + n + 1))
        lm.roundAttentionToHalf = !f32Attention
        let out = OutputWriter()
        // Whole UTF-8 characters are written as they complete; the work per token is that token's bytes.
        var stream = StreamingDecoder(tokenizer)
        let result = try lm.generate(prompt: promptTokens, maxTokens: n, stopTokens: lm.stopTokens(), sampling: parameters) { token in
            guard !json, let bytes = try? stream.append(token.tokenID), !bytes.isEmpty else { return }
            out.write(bytes: bytes)
            out.flush()
        }
        if json {
            let bytes = try tokenizer.decode(result.tokens.map(\.tokenID))
            out.flush()
            try writeJSON(GenerateReport(text: String(decoding: bytes, as: UTF8.self), tokens: result.tokens,
                                         prompt_tokens: promptTokens.count,
                                         prompt_tokens_per_second: result.promptTokensPerSecond,
                                         tokens_per_second: result.tokensPerSecond, margins: result.margins.map(Double.init),
                                         seed: parameters.isGreedy ? nil : parameters.seed), pretty: false)
        } else {
            out.write(bytes: stream.finish())
            out.write("\n")
        }
        out.flush()
    }
}

/// `generate --json`; `seed` only when sampling.
struct GenerateReport: Encodable {
    let text: String
    let tokens: [Int]
    let prompt_tokens: Int
    let prompt_tokens_per_second: Double
    let tokens_per_second: Double
    let margins: [Double]
    let seed: UInt64?
}
