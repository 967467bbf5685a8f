import Foundation
import XCTest
import VocabKitInference

final class SamplingTests: XCTestCase {
    private func candidates(_ logits: [Float], _ p: SamplingParameters) -> [(id: Int, probability: Double)] {
        logits.withUnsafeBufferPointer { Sampler(p).candidates($0) }
    }

    func testTopKKeepsTheKMostLikelyRenormalized() {
        let logits: [Float] = [1, 5, 3, 4, 2, 4]
        let c = candidates(logits, SamplingParameters(temperature: 1, topK: 3))
        XCTAssertEqual(c.map(\.id), [1, 3, 5])  // ties (ids 3 and 5) in id order
        let z = exp(5.0) + 2 * exp(4.0)
        XCTAssertEqual(c[0].probability, exp(5.0) / z, accuracy: 1e-12)
        XCTAssertEqual(c[1].probability, exp(4.0) / z, accuracy: 1e-12)
        XCTAssertEqual(c.reduce(0) { $0 + $1.probability }, 1, accuracy: 1e-12)
        // Without top-k every token stays, most likely first.
        XCTAssertEqual(candidates(logits, SamplingParameters(temperature: 1)).map(\.id), [1, 3, 5, 2, 4, 0])
        // A large vocabulary goes through the heap selection: the same top 50 as a full sort.
        var rng = SplitMix(state: 3)
        let big = (0..<20000).map { _ in Float.random(in: -10...10, using: &rng) }
        let expected = big.indices.sorted { big[$0] > big[$1] || (big[$0] == big[$1] && $0 < $1) }.prefix(50)
        XCTAssertEqual(candidates(big, SamplingParameters(temperature: 0.7, topK: 50)).map(\.id), Array(expected))
    }

    func testTopPKeepsTheSmallestNucleusReachingP() {
        // Probabilities 1/2, 1/4, 1/8, 1/16, 1/16.
        let logits: [Float] = [1.0, 8, 2, 4, 1].map { Float(Foundation.log($0)) }
        func kept(_ p: Double) -> [Int] { candidates(logits, SamplingParameters(temperature: 1, topP: p)).map(\.id) }
        XCTAssertEqual(kept(0.3), [1])
        XCTAssertEqual(kept(0.49), [1])
        XCTAssertEqual(kept(0.51), [1, 3])
        XCTAssertEqual(kept(0.74), [1, 3])
        XCTAssertEqual(kept(0.76), [1, 3, 2])
        XCTAssertEqual(kept(0.9), [1, 3, 2, 0])
        XCTAssertEqual(kept(1), [1, 3, 2, 0, 4])
        let nucleus = candidates(logits, SamplingParameters(temperature: 1, topP: 0.76))
        XCTAssertEqual(nucleus.count, 3)
        for (c, e) in zip(nucleus, [4.0 / 7, 2.0 / 7, 1.0 / 7]) { XCTAssertEqual(c.probability, e, accuracy: 1e-6) }
        // Top-k first, then top-p within what is left.
        XCTAssertEqual(candidates(logits, SamplingParameters(temperature: 1, topK: 2, topP: 0.9)).map(\.id), [1, 3])
    }

    func testTemperatureTowardsZeroIsArgmax() {
        let logits: [Float] = [0.5, 2.0, 1.99, -1]
        let greedy = candidates(logits, .greedy)
        XCTAssertEqual(greedy.map(\.id), [1])
        XCTAssertEqual(greedy[0].probability, 1)
        let cold = candidates(logits, SamplingParameters(temperature: 1e-4))
        XCTAssertEqual(cold[0].id, 1)
        XCTAssertGreaterThan(cold[0].probability, 0.99999)
        for seed in 0..<50 as Range<UInt64> {
            var s = Sampler(SamplingParameters(temperature: 1e-4, seed: seed))
            XCTAssertEqual(logits.withUnsafeBufferPointer { s.sample($0) }, 1)
        }
        // Ties at temperature 0 go to the first index, like argmax.
        XCTAssertEqual(candidates([3, 7, 7], .greedy).map(\.id), [1])
        // Higher temperature flattens: p ∝ exp(logit / T).
        let warm = candidates([0, Float(Foundation.log(4.0))], SamplingParameters(temperature: 2))
        XCTAssertEqual(warm[0].probability, 2.0 / 3, accuracy: 1e-6)
    }

    func testDrawsFollowTheDistributionAndTheSeed() {
        let logits: [Float] = [1.0, 2, 3, 1e-13].map { Float(Foundation.log($0)) }  // ≈ 1/6, 2/6, 3/6, 0
        func draws(seed: UInt64, count: Int, topK: Int = 0) -> [Int] {
            var s = Sampler(SamplingParameters(temperature: 1, topK: topK, seed: seed))
            return logits.withUnsafeBufferPointer { buf in (0..<count).map { _ in s.sample(buf) } }
        }
        let n = 30000
        let d = draws(seed: 42, count: n)
        for (id, p) in [(0, 1.0 / 6), (1, 2.0 / 6), (2, 3.0 / 6)] {
            let freq = Double(d.filter { $0 == id }.count) / Double(n)
            XCTAssertEqual(freq, p, accuracy: 0.015, "token \(id)")  // ≈ 5 standard errors
        }
        XCTAssertEqual(draws(seed: 42, count: 500), Array(d.prefix(500)), "same seed, same draws")
        XCTAssertNotEqual(draws(seed: 43, count: 500), Array(d.prefix(500)))
        XCTAssertFalse(draws(seed: 7, count: 3000, topK: 2).contains { $0 != 2 && $0 != 1 }, "top-k 2 only draws the two best")
    }

    func testProblems() {
        XCTAssertNil(SamplingParameters(temperature: 0.8, topK: 40, topP: 0.95).problem)
        XCTAssertNotNil(SamplingParameters(temperature: -1).problem)
        XCTAssertNotNil(SamplingParameters(temperature: .nan).problem)
        XCTAssertNotNil(SamplingParameters(topK: -1).problem)
        XCTAssertNotNil(SamplingParameters(topP: 0).problem)
        XCTAssertNotNil(SamplingParameters(topP: 1.5).problem)
    }

    /// Generation with a sampler: the seed fixes the tokens; temperature 0 is the greedy path.
    func testGenerateWithSamplingOnTinyModel() throws {
        let model = TinyModel(seed: 41, tied: true)
        let path = evalScratchPath("sampling-tiny.gguf")
        try model.write(to: path)
        let lm = try LanguageModel(path: path)
        let p = SamplingParameters(temperature: 1.5, topK: 8, topP: 0.95, seed: 1234)
        let a = try lm.generate(prompt: [1, 2, 3], maxTokens: 20, sampling: p)
        let b = try lm.generate(prompt: [1, 2, 3], maxTokens: 20, sampling: p)
        XCTAssertEqual(a.tokens, b.tokens)
        XCTAssertEqual(a.tokens.count, 20)
        var other = p
        other.seed = 99
        let seeds = try (0..<5 as Range<UInt64>).map { s -> [Int] in other.seed = s; return try lm.generate(prompt: [1, 2, 3], maxTokens: 20, sampling: other).tokens }
        XCTAssertGreaterThan(Set(seeds + [a.tokens]).count, 1, "different seeds should give different continuations")
        let greedy = try lm.generateGreedy(prompt: [1, 2, 3], maxTokens: 20)
        XCTAssertEqual(try lm.generate(prompt: [1, 2, 3], maxTokens: 20, sampling: SamplingParameters(temperature: 0, seed: 5)).tokens, greedy.tokens)
    }
}
