import Foundation
import VocabKitGGUF

/// The outcome of a greedy generation.
public struct GenerationResult: Sendable {
    /// Generated token ids (the prompt excluded; a stop token is not included).
    public var tokens: [Int]
    public var promptTokenCount: Int
    public var promptSeconds: Double
    public var decodeSeconds: Double
    /// Whether generation ended on a stop token rather than the token limit.
    public var stopped: Bool
    /// For each chosen token, how far its logit was above the runner-up (small values are near-ties, where
    /// tiny numeric differences between implementations can change the choice).
    public var margins: [Float] = []

    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokenCount) / promptSeconds : 0 }
    /// Tokens per second of the steps after the prompt (each step evaluates the previously chosen token).
    public var tokensPerSecond: Double { decodeSeconds > 0 ? Double(max(tokens.count - 1, 0)) / decodeSeconds : 0 }
}

extension LanguageModel {
    /// Greedy decoding: evaluates `prompt`, then repeatedly picks the most likely token, up to `maxTokens`
    /// tokens or a token in `stopTokens`. Starts from an empty cache.
    public func generateGreedy(prompt: [Int], maxTokens: Int, stopTokens: Set<Int> = [],
                               onToken: (Int) -> Void = { _ in }) throws -> GenerationResult {
        try generate(prompt: prompt, maxTokens: maxTokens, stopTokens: stopTokens, sampling: .greedy, onToken: onToken)
    }

    /// Evaluates `prompt`, then draws each next token with `sampling` (greedy when its temperature is 0), up to
    /// `maxTokens` tokens or a token in `stopTokens`. Starts from an empty cache. `margins` are always the lead
    /// of the most likely token over the runner-up, whichever token was drawn.
    public func generate(prompt: [Int], maxTokens: Int, stopTokens: Set<Int> = [], sampling: SamplingParameters,
                         onToken: (Int) -> Void = { _ in }) throws -> GenerationResult {
        guard !prompt.isEmpty else { throw InferenceError.emptyPrompt }
        reset()
        var sampler = Sampler(sampling)
        let start = DispatchTime.now().uptimeNanoseconds
        var first = (0, Float(0))
        try evaluate(prompt, logits: .last) { _, logits in first = (sampler.sample(logits), top2(logits).1) }
        let promptEnd = DispatchTime.now().uptimeNanoseconds
        var result = GenerationResult(tokens: [], promptTokenCount: prompt.count,
                                      promptSeconds: Double(promptEnd - start) / 1e9, decodeSeconds: 0, stopped: false)
        var (next, margin) = first
        while result.tokens.count < maxTokens {
            if stopTokens.contains(next) { result.stopped = true; break }
            result.tokens.append(next)
            result.margins.append(margin)
            onToken(next)
            if result.tokens.count == maxTokens { break }
            let logits = try forward(token: next)
            (next, margin) = (sampler.sample(logits), top2(logits).1)
        }
        result.decodeSeconds = Double(DispatchTime.now().uptimeNanoseconds - promptEnd) / 1e9
        return result
    }

    /// End-of-generation ids as llama.cpp counts them: the eos/eot/eom ids in the metadata plus every token
    /// spelled as one of the architecture's end-of-generation texts (`Architecture.endOfGeneration`).
    public func stopTokens() -> Set<Int> {
        let file = weights.file
        var ids = Set<Int>()
        for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"] {
            if let id = file.integer(key) { ids.insert(id) }
        }
        // The architecture's end-of-generation spellings count whatever the token's type (llama.cpp's rule).
        let names = config.architecture.endOfGeneration
        if let tokens = file.stringArray("tokenizer.ggml.tokens") {
            for (i, t) in tokens.enumerated() where names.contains(t) { ids.insert(i) }
        }
        return ids
    }
}

/// The index of the largest value and its lead over the second largest.
func top2(_ x: UnsafeBufferPointer<Float>) -> (Int, Float) {
    var best = 0, second = -Float.infinity
    for i in x.indices.dropFirst() {
        if x[i] > x[best] { second = x[best]; best = i } else if x[i] > second { second = x[i] }
    }
    return (best, x[best] - second)
}
