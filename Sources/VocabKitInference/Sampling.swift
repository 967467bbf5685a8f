import Foundation
import VocabKitIO

/// How the next token is chosen from the logits.
///
/// Order of operations (as Hugging Face `generate` applies them): logits divided by `temperature`, softmax,
/// the `topK` most likely tokens kept, then the smallest most-likely prefix of those whose probability sums to
/// at least `topP` kept, renormalized, and one token drawn. (llama.cpp's default chain applies top-p before
/// temperature, so the same settings can give it a slightly different nucleus.) Temperature 0 is greedy.
public struct SamplingParameters: Sendable, Equatable {
    /// 0 picks the most likely token (the first on ties), with no randomness.
    public var temperature: Double
    /// Keep only the K most likely tokens; 0 keeps all.
    public var topK: Int
    /// Keep the nucleus whose probability reaches P; 1 keeps all.
    public var topP: Double
    /// Seeds the generator: the same seed, settings and model give the same tokens.
    public var seed: UInt64

    public init(temperature: Double = 0, topK: Int = 0, topP: Double = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.seed = seed
    }

    public static let greedy = SamplingParameters()

    public var isGreedy: Bool { temperature <= 0 }

    /// One line for bad settings, nil when they are usable.
    public var problem: String? {
        if !(temperature >= 0) || !temperature.isFinite { return "temperature must be zero or more" }
        if topK < 0 { return "top-k must be zero (off) or more" }
        if !(topP > 0 && topP <= 1) { return "top-p must be in (0, 1]" }
        return nil
    }
}

/// A seeded sampler; keeps its random state between calls so a run is reproducible token by token.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var random: SplitMix64

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        random = SplitMix64(seed: parameters.seed)
    }

    mutating func nextUInt64() -> UInt64 { random.next() }

    /// Uniform in [0, 1) with 53 random bits.
    mutating func nextUnit() -> Double { Double(nextUInt64() >> 11) * 0x1p-53 }

    /// The tokens that can be drawn and their probabilities (summing to 1), most likely first (ties: lower id
    /// first). Greedy settings give the single argmax with probability 1.
    public func candidates(_ logits: UnsafeBufferPointer<Float>) -> [(id: Int, probability: Double)] {
        precondition(!logits.isEmpty)
        let p = parameters
        if p.isGreedy { return [(argmax(logits), 1)] }
        var order = Array(logits.indices)
        let byLogit: (Int, Int) -> Bool = { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        if p.topK > 0 && p.topK < order.count {
            // Only the top K need sorting: select them first.
            order = selectTop(p.topK, of: order, by: byLogit)
        }
        order.sort(by: byLogit)
        let maxLogit = Double(logits[order[0]])
        var weights = order.map { exp((Double(logits[$0]) - maxLogit) / p.temperature) }
        var total = weights.reduce(0, +)
        if p.topP < 1 {
            var cumulative = 0.0, keep = 0
            while keep < weights.count {
                cumulative += weights[keep] / total
                keep += 1
                if cumulative >= p.topP { break }
            }
            order.removeSubrange(keep...)
            weights.removeSubrange(keep...)
            total = weights.reduce(0, +)
        }
        return zip(order, weights).map { ($0, $1 / total) }
    }

    /// Draws the next token.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int {
        if parameters.isGreedy { return argmax(logits) }
        let c = candidates(logits)
        let u = nextUnit()
        var cumulative = 0.0
        for (id, probability) in c {
            cumulative += probability
            if u < cumulative { return id }
        }
        return c[c.count - 1].id  // u within rounding of 1
    }
}

/// The `k` best of `items` under `better` (unordered), in O(n log k) with a small heap.
private func selectTop(_ k: Int, of items: [Int], by better: (Int, Int) -> Bool) -> [Int] {
    // Min-heap of the best k so far: the root is the worst kept item.
    var heap: [Int] = []
    heap.reserveCapacity(k)
    func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var worst = i
            if l < heap.count, better(heap[worst], heap[l]) { worst = l }
            if r < heap.count, better(heap[worst], heap[r]) { worst = r }
            if worst == i { return }
            heap.swapAt(i, worst)
            i = worst
        }
    }
    for item in items {
        if heap.count < k {
            heap.append(item)
            var i = heap.count - 1
            while i > 0, better(heap[(i - 1) / 2], heap[i]) { heap.swapAt(i, (i - 1) / 2); i = (i - 1) / 2 }
        } else if better(item, heap[0]) {
            heap[0] = item
            siftDown(0)
        }
    }
    return heap
}
