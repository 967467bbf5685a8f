import Foundation

// What each transformer block contributes, measured on a text: the scores that layer-pruning papers rank blocks by
// (ShortGPT's Block Influence, Gromov et al.'s angular distance) and the direct measure they stand in for, the
// model's bits per byte with the block taken out. The text is cut as `eval` cuts it (llama-perplexity's chunks), so
// an ablation's numbers are exactly what `eval` reports for the file with that block deleted.

/// What a block-analysis run measures.
public struct BlockAnalysisOptions: Sendable {
    /// Tokens per chunk (llama-perplexity's -c); the model must have room for them.
    public var contextLength: Int
    /// Evaluate at most this many chunks (llama-perplexity's --chunks); nil: all of them.
    public var chunks: Int?
    /// Blocks per run for the span angular distance (`span` = 1 gives the single-block distance).
    public var span: Int
    /// Blocks to measure with the block removed; empty: scores only.
    public var ablate: [Int]
    /// Tokens per `evaluate` call (default the chunk size, as `eval`).
    public var batchSize: Int?

    public init(contextLength: Int = 512, chunks: Int? = nil, span: Int = 1, ablate: [Int] = [], batchSize: Int? = nil) {
        self.contextLength = contextLength
        self.chunks = chunks
        self.span = span
        self.ablate = ablate
        self.batchSize = batchSize
    }
}

/// One block's measures.
public struct BlockScore: Sendable, Equatable {
    public var block: Int
    /// ShortGPT's Block Influence: 1 − mean over tokens of cos(stream into the block, stream out of it).
    public var blockInfluence: Double
    /// Gromov et al.'s angular distance for one block: mean over tokens of arccos(cos(into, out of)) / π.
    public var angularDistance: Double
    /// The model with this block skipped, evaluated as `eval` evaluates the file with it deleted.
    public var ablation: PerplexityResult?
}

/// The outcome of `LanguageModel.analyzeBlocks`.
public struct BlockAnalysis: Sendable {
    /// The whole model on the same chunks (what `eval` reports).
    public var full: PerplexityResult
    public var blocks: [BlockScore]
    public var span: Int
    /// For each first block l (0 … blocks − span): the mean angular distance between the stream entering block l
    /// and the one entering block l + span, the cost PruneMe estimates for dropping blocks l ..< l + span.
    public var spanDistances: [Double]
    /// Token positions the scores average over (every evaluated position of every chunk).
    public var positions: Int

    /// The first block of the span-block run with the smallest angular distance (ties: the earliest).
    public var bestSpanStart: Int? {
        spanDistances.indices.min { spanDistances[$0] < spanDistances[$1] }
    }

    /// Change in bits per byte from the whole model when `block` is removed; nil when it was not ablated.
    public func bitsPerByteChange(of block: Int) -> Double? {
        blocks[block].ablation.map { $0.bitsPerByte - full.bitsPerByte }
    }

    /// Blocks from the cheapest to remove to the dearest: by the ablation's bits per byte where every block was
    /// ablated, else by Block Influence (ties: the lower index).
    public var ranking: [Int] {
        let ablatedAll = blocks.allSatisfy { $0.ablation != nil }
        func key(_ b: BlockScore) -> Double { ablatedAll ? b.ablation!.bitsPerByte : b.blockInfluence }
        return blocks.sorted { key($0) < key($1) || (key($0) == key($1) && $0.block < $1.block) }.map(\.block)
    }
}

/// Where a block analysis is: `chunk` (1-based) of `chunks`, and within it the full pass (`ablation` nil) or the
/// ablation of `ablation`.
public struct BlockAnalysisProgress: Sendable {
    public var chunk: Int
    public var chunks: Int
    public var ablation: Int?
    public var ablations: Int
}

extension LanguageModel {
    /// Scores every block on `input` (a text read by `perplexityInput(ofUTF8:)`), cut into `PerplexityPlan`'s
    /// chunks. Each chunk is evaluated once with the whole model, recording the residual stream at every block
    /// boundary; the scores come from those streams. Removing block k leaves blocks 0 ..< k unchanged, so each
    /// ablation re-runs only blocks k + 1 … from the stored stream entering block k, in the same batches as the
    /// whole model (and as `eval` of the file with block k deleted: the numbers are equal to the bit).
    /// Memory: the streams of one chunk, blocks × contextLength × embedding floats, when ablating.
    public func analyzeBlocks(_ input: PerplexityInput, options: BlockAnalysisOptions,
                              progress: (BlockAnalysisProgress) -> Void = { _ in }) throws -> BlockAnalysis {
        let n = options.contextLength, blockCount = config.layerCount, dim = config.dim
        let chunkCount = try PerplexityPlan.chunkCount(tokens: input.tokens.count, contextLength: n, limit: options.chunks)
        guard n <= maxContext else { throw EvaluationError.contextTooLarge(requested: n, available: maxContext) }
        let batch = min(options.batchSize ?? n, n)
        guard batch >= 1 else { throw EvaluationError.invalidArgument("the batch size must be at least 1") }
        guard options.span >= 1, options.span <= blockCount else {
            throw EvaluationError.invalidArgument("a span of \(options.span) blocks does not fit the model's \(blockCount) blocks")
        }
        for k in options.ablate where k < 0 || k >= blockCount {
            throw EvaluationError.invalidArgument("block \(k) does not exist (the model has \(blockCount) blocks, 0-\(blockCount - 1))")
        }
        let ablated = Array(Set(options.ablate)).sorted()
        let span = options.span

        // The streams of the step being run, one per boundary (0 … blocks), for the scores.
        let step = UnsafeMutableBufferPointer<Float>.allocate(capacity: (blockCount + 1) * state.maxBatch * dim)
        defer { step.deallocate() }
        // The streams entering each block at every evaluated position of the chunk (all n: the chunk is fed
        // whole, as llama-perplexity feeds it), for the ablations.
        let positionsPerChunk = n
        let stored = UnsafeMutableBufferPointer<Float>.allocate(capacity: ablated.isEmpty ? 0 : blockCount * positionsPerChunk * dim)
        defer { stored.deallocate() }
        var cosineSums = [Double](repeating: 0, count: blockCount)
        var angleSums = [Double](repeating: 0, count: blockCount)
        var spanSums = [Double](repeating: 0, count: blockCount - span + 1)
        var positions = 0

        let storing = !ablated.isEmpty
        let observer: (Int, Int, UnsafeBufferPointer<Float>) -> Void = { boundary, p0, x in
            let count = x.count / dim
            let here = step.baseAddress! + boundary * self.state.maxBatch * dim
            here.update(from: x.baseAddress!, count: x.count)
            if storing, boundary < blockCount {
                (stored.baseAddress! + (boundary * positionsPerChunk + p0) * dim).update(from: x.baseAddress!, count: x.count)
            }
            if boundary == 0 { positions += count }
            func stream(_ b: Int, _ token: Int) -> UnsafePointer<Float> {
                UnsafePointer(step.baseAddress! + b * self.state.maxBatch * dim + token * dim)
            }
            for token in 0..<count {
                if boundary >= 1 {
                    let c = cosine(stream(boundary - 1, token), stream(boundary, token), dim)
                    cosineSums[boundary - 1] += c
                    angleSums[boundary - 1] += acos(c) / Double.pi
                }
                if boundary >= span {
                    spanSums[boundary - span] += acos(cosine(stream(boundary - span, token), stream(boundary, token), dim)) / Double.pi
                }
            }
        }

        var full = (scored: LikelihoodTotals(), whole: LikelihoodTotals())
        var removed = [(scored: LikelihoodTotals, whole: LikelihoodTotals)](repeating: (LikelihoodTotals(), LikelihoodTotals()), count: ablated.count)
        let savedObserver = residualObserver
        defer {
            residualObserver = savedObserver
            resumption = nil
        }
        for c in 0..<chunkCount {
            let chunk = PerplexityPlan.chunk(c, of: input.tokens, contextLength: n, bos: input.bos)
            progress(BlockAnalysisProgress(chunk: c + 1, chunks: chunkCount, ablation: nil, ablations: ablated.count))
            residualObserver = observer
            try evaluateChunk(chunk, batchSize: batch, scored: &full.scored, whole: &full.whole, byteCount: input.byteCount)
            residualObserver = savedObserver
            for (i, k) in ablated.enumerated() {
                progress(BlockAnalysisProgress(chunk: c + 1, chunks: chunkCount, ablation: k, ablations: ablated.count))
                let entering = UnsafePointer(stored.baseAddress! + k * positionsPerChunk * dim)
                resumption = (block: k + 1, read: { p0, count, into in into.update(from: entering + p0 * dim, count: count * dim) })
                var (scored, whole) = removed[i]
                try evaluateChunk(chunk, batchSize: batch, scored: &scored, whole: &whole, byteCount: input.byteCount)
                removed[i] = (scored, whole)
                resumption = nil
            }
        }

        func result(_ t: (scored: LikelihoodTotals, whole: LikelihoodTotals)) -> PerplexityResult {
            PerplexityResult(totals: t.scored, chunks: chunkCount, contextLength: n, textTokens: input.tokens.count, wholeText: t.whole)
        }
        let mean = { (sum: Double) in positions > 0 ? sum / Double(positions) : .nan }
        var blocks = (0..<blockCount).map { b in
            BlockScore(block: b, blockInfluence: 1 - mean(cosineSums[b]), angularDistance: mean(angleSums[b]), ablation: nil)
        }
        for (i, k) in ablated.enumerated() { blocks[k].ablation = result(removed[i]) }
        return BlockAnalysis(full: result(full), blocks: blocks, span: span, spanDistances: spanSums.map(mean), positions: positions)
    }
}

/// cos(a, b) over `n` values, in Double, clamped to [−1, 1]; two zero vectors count as the same direction.
func cosine(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Double {
    var dot = 0.0, aa = 0.0, bb = 0.0
    for i in 0..<n {
        let x = Double(a[i]), y = Double(b[i])
        dot += x * y
        aa += x * x
        bb += y * y
    }
    guard aa > 0, bb > 0 else { return aa == bb ? 1 : 0 }
    return min(1, max(-1, dot / (aa.squareRoot() * bb.squareRoot())))
}
