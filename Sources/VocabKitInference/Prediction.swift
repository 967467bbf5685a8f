import Foundation

/// One of the tokens a model finds most likely at a position, with its softmax probability.
public struct TokenProbability: Equatable, Sendable {
    public var id: Int
    public var probability: Double

    public init(id: Int, probability: Double) {
        self.id = id
        self.probability = probability
    }
}

/// The `k` most likely tokens of one position's logits, most likely first (ties: the lower id first, so the
/// first is `argmax`'s choice), keeping only those whose probability is at least `minProbability`.
/// Probabilities are `exp(l − max) / Σ exp(l − max)`, the exponentials in F32 summed in Double as
/// `negativeLogLikelihood` (and llama-perplexity) computes them.
public func topProbabilities(_ logits: UnsafeBufferPointer<Float>, k: Int, minProbability: Double = 0) -> [TokenProbability] {
    guard k > 0, !logits.isEmpty else { return [] }
    // The k largest logits, kept sorted (largest first); a later id enters only with a strictly larger logit.
    var best: [(logit: Float, id: Int)] = []
    best.reserveCapacity(k + 1)
    var maxLogit = logits[0]
    for (id, logit) in logits.enumerated() {
        maxLogit = max(maxLogit, logit)
        if best.count == k, let last = best.last, !(logit > last.logit) { continue }
        var slot = best.count
        while slot > 0, logit > best[slot - 1].logit { slot -= 1 }
        best.insert((logit, id), at: slot)
        if best.count > k { best.removeLast() }
    }
    var sum: Double = 0
    for v in logits { sum += Double(expf(v - maxLogit)) }
    var out: [TokenProbability] = []
    for (logit, id) in best {
        let p = Double(expf(logit - maxLogit)) / sum
        guard p >= minProbability else { break }
        out.append(TokenProbability(id: id, probability: p))
    }
    return out
}

extension LanguageModel {
    /// Evaluates `tokens` from an empty cache (in batches, as `evaluate` does) and hands `body` each position's
    /// `k` most likely next tokens with probability at least `minProbability`: at index i, what the model would
    /// write after tokens 0...i.
    public func predictions(after tokens: [Int], k: Int, minProbability: Double = 0,
                            _ body: (Int, [TokenProbability]) throws -> Void) throws {
        reset()
        try evaluate(tokens, logits: .all) { i, logits in
            try body(i, topProbabilities(logits, k: k, minProbability: minProbability))
        }
    }
}
