import Foundation
import VocabKitGGUF
import VocabKitTokenizer
import VocabKitIO

/// Problems with an evaluation request (as opposed to the model); `description` is one line.
public enum EvaluationError: VocabKitError, Equatable, Sendable {
    case textTooShort(tokens: Int, contextLength: Int)
    case contextTooSmall(Int)
    case contextTooLarge(requested: Int, available: Int)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .textTooShort(tokens, n):
            return "the text has \(tokens) tokens; perplexity with a context of \(n) needs at least \(2 * n) (two chunks), as llama-perplexity requires"
        case let .contextTooSmall(n): return "a context of \(n) leaves no scored positions (use at least 4)"
        case let .contextTooLarge(requested, available): return "a context of \(requested) exceeds the model's \(available) positions"
        case let .invalidArgument(message): return message
        }
    }
}

/// `-log p(token)` from one position's logits, computed as llama-perplexity does (the float maximum subtracted,
/// `expf` of each difference summed in Double), so the two agree to the last digits on the same logits.
public func negativeLogLikelihood(_ logits: UnsafeBufferPointer<Float>, token: Int) -> Double {
    var maxLogit = logits[0]
    for v in logits { maxLogit = max(maxLogit, v) }
    var sum: Double = 0
    for v in logits { sum += Double(expf(v - maxLogit)) }
    return -(Double(logits[token] - maxLogit) - log(sum))
}

/// Running sums of per-token negative log-likelihoods (nats) and the UTF-8 bytes of the scored tokens.
public struct LikelihoodTotals: Sendable, Equatable {
    public private(set) var sum: Double = 0
    public private(set) var sumOfSquares: Double = 0
    public private(set) var count = 0
    public private(set) var bytes = 0

    public init() {}

    public mutating func add(_ nll: Double, bytes: Int) {
        sum += nll
        sumOfSquares += nll * nll
        count += 1
        self.bytes += bytes
    }

    public mutating func add(_ other: LikelihoodTotals) {
        sum += other.sum
        sumOfSquares += other.sumOfSquares
        count += other.count
        bytes += other.bytes
    }

    /// exp(mean NLL).
    public var perplexity: Double { count > 0 ? exp(sum / Double(count)) : .nan }

    /// llama-perplexity's "±": the standard error of the mean NLL, sqrt(var / (count − 1)), times the
    /// perplexity (first-order propagation through exp). Nil when the variance is not positive.
    public var perplexityError: Double? {
        guard count > 1 else { return nil }
        let mean = sum / Double(count)
        let variance = sumOfSquares / Double(count) - mean * mean
        guard variance > 0 else { return nil }
        return (variance / Double(count - 1)).squareRoot() * perplexity
    }

    /// Total NLL in bits divided by the UTF-8 bytes of the scored tokens: the text's cost per byte, which
    /// (unlike perplexity) compares models whose tokenizers cut the same text differently.
    public var bitsPerByte: Double { bytes > 0 ? sum / M_LN2 / Double(bytes) : .nan }
}

/// The outcome of a perplexity run.
public struct PerplexityResult: Sendable, Equatable {
    public var totals: LikelihoodTotals
    public var chunks: Int
    public var contextLength: Int
    /// Tokens in the whole text (a BOS included when the vocabulary adds one).
    public var textTokens: Int

    /// Every token predicted inside the chunks (positions 1 … n−1 of each chunk, each from the logits one position
    /// earlier): the whole evaluated text, not only the scored halves, for bits per byte.
    public var wholeText: LikelihoodTotals

    public var perplexity: Double { totals.perplexity }
    public var perplexityError: Double? { totals.perplexityError }
    /// Bits per byte over the whole evaluated text (`wholeText`).
    public var bitsPerByte: Double { wholeText.bitsPerByte }
}

/// llama-perplexity's scoring plan (tools/perplexity, the default non-strided mode): the token sequence is
/// cut into `tokens / n_ctx` chunks of `n_ctx` tokens (the rest is ignored), each chunk is evaluated from an
/// empty cache, and within a chunk the tokens at positions `n_ctx/2 + 1 ... n_ctx − 1` are scored (each from
/// the logits one position earlier), so every scored token has at least `n_ctx/2` tokens of context.
/// With a BOS-adding vocabulary, the first token of every chunk is replaced by BOS for the evaluation.
public enum PerplexityPlan {
    /// The first position whose logits are used.
    public static func firstScoredLogit(contextLength n: Int) -> Int { n / 2 }

    /// Tokens scored per chunk: `n − n/2 − 1`.
    public static func scoredPerChunk(contextLength n: Int) -> Int { n - n / 2 - 1 }

    /// How many chunks are evaluated: `tokens / n`, at most `limit`; llama-perplexity refuses texts of fewer
    /// than `2n` tokens.
    public static func chunkCount(tokens: Int, contextLength n: Int, limit: Int? = nil) throws -> Int {
        guard n >= 4 else { throw EvaluationError.contextTooSmall(n) }
        guard tokens >= 2 * n else { throw EvaluationError.textTooShort(tokens: tokens, contextLength: n) }
        if let limit, limit < 1 { throw EvaluationError.invalidArgument("the chunk limit must be at least 1") }
        return min(tokens / n, limit ?? Int.max)
    }

    /// Chunk `index`: `n` tokens from `index · n`, the first replaced by `bos` when the vocabulary adds one.
    public static func chunk(_ index: Int, of tokens: [Int], contextLength n: Int, bos: Int?) -> [Int] {
        var chunk = Array(tokens[(index * n)..<(index * n + n)])
        if let bos { chunk[0] = bos }
        return chunk
    }

    /// llama.cpp's `add_bos` for a GGUF vocabulary: `tokenizer.ggml.add_bos_token` when present; Qwen's
    /// `gpt2` BPE vocabularies default to no BOS.
    public static func beginningOfSequence(file: GGUFFile) -> Int? {
        guard case .bool(true)? = file.value("tokenizer.ggml.add_bos_token") else { return nil }
        return file.integer("tokenizer.ggml.bos_token_id")
    }
}

extension LanguageModel {
    /// Perplexity of `tokens` (the whole text, already tokenized as llama-perplexity does: BOS prepended
    /// when the vocabulary adds one, special-token text not parsed) under `PerplexityPlan`.
    /// - Parameters:
    ///   - bos: the BOS id when the vocabulary adds one; it replaces each chunk's first token.
    ///   - batchSize: tokens handed to `evaluate` per call (at most `contextLength`).
    ///   - byteCount: UTF-8 bytes of a token id, for bits per byte.
    ///   - progress: called after each chunk with (chunks done, chunks, totals so far).
    public func perplexity(of tokens: [Int], contextLength n: Int, chunks limit: Int? = nil, batchSize: Int? = nil,
                           bos: Int? = nil, byteCount: (Int) -> Int,
                           progress: (Int, Int, LikelihoodTotals) -> Void = { _, _, _ in }) throws -> PerplexityResult {
        let chunkCount = try PerplexityPlan.chunkCount(tokens: tokens.count, contextLength: n, limit: limit)
        guard n <= maxContext else { throw EvaluationError.contextTooLarge(requested: n, available: maxContext) }
        let batch = min(batchSize ?? n, n)
        guard batch >= 1 else { throw EvaluationError.invalidArgument("the batch size must be at least 1") }
        var totals = LikelihoodTotals(), whole = LikelihoodTotals()
        for c in 0..<chunkCount {
            try evaluateChunk(PerplexityPlan.chunk(c, of: tokens, contextLength: n, bos: bos), batchSize: batch,
                              scored: &totals, whole: &whole, byteCount: byteCount)
            progress(c + 1, chunkCount, totals)
        }
        return PerplexityResult(totals: totals, chunks: chunkCount, contextLength: n, textTokens: tokens.count, wholeText: whole)
    }
}

extension LanguageModel {
    /// One chunk of `PerplexityPlan` from an empty cache: its first half fed in steps of `batchSize` tokens, then
    /// the scored half, each token's NLL from the logits one position earlier added to `whole` and, in the scored
    /// half, to `scored`. Every measure that must equal `eval`'s to the bit (`layers --ablate`) goes through here,
    /// so that the batches, and with them the batched kernels' rounding, are the same.
    func evaluateChunk(_ chunk: [Int], batchSize batch: Int, scored totals: inout LikelihoodTotals,
                       whole: inout LikelihoodTotals, byteCount: (Int) -> Int) throws {
        let n = chunk.count
        let first = PerplexityPlan.firstScoredLogit(contextLength: n)
        reset()
        // The whole chunk in batches as llama-perplexity feeds it (its kernels' summation depends on the batch a
        // token is in): positions before `first` count for bits per byte only, and the last position's logits,
        // which would predict a token outside the chunk, are not used.
        for s in stride(from: 0, to: n, by: batch) {
            try evaluate(Array(chunk[s..<min(s + batch, n)]), logits: .all) { i, logits in
                let position = s + i
                guard position < n - 1 else { return }
                let target = chunk[position + 1]
                let nll = negativeLogLikelihood(logits, token: target)
                if position >= first { totals.add(nll, bytes: byteCount(target)) }
                whole.add(nll, bytes: byteCount(target))
            }
        }
    }
}

/// A text as llama-perplexity reads it: its tokens (BOS first when the vocabulary adds one), the BOS id, and the
/// UTF-8 length of every id (for bits per byte).
public struct PerplexityInput: Sendable {
    public var tokens: [Int]
    public var bos: Int?
    public var byteCounts: [Int]

    public func byteCount(_ id: Int) -> Int { id >= 0 && id < byteCounts.count ? byteCounts[id] : 0 }
}

extension LanguageModel {
    /// The bytes of a text read by llama-perplexity's rules (see `perplexity(ofText:)`); ill-formed UTF-8 throws
    /// `TokenizerError.invalidUTF8`.
    public func perplexityInput(ofUTF8 bytes: [UInt8]) throws -> PerplexityInput {
        var text = bytes
        if text.last == 0x0A { text.removeLast() }
        let tokenizer = try self.tokenizer()
        var tokens = try text.withUnsafeBytes { buf in
            try tokenizer.encode(utf8: buf, specialTokens: false, threads: ProcessInfo.processInfo.activeProcessorCount).map(Int.init)
        }
        let bos = PerplexityPlan.beginningOfSequence(file: weights.file)
        if let bos { tokens.insert(bos, at: 0) }
        let vocabulary = tokenizer.vocabulary
        return PerplexityInput(tokens: tokens, bos: bos, byteCounts: (0..<vocabulary.idCount).map { vocabulary.bytes(of: $0).count })
    }

    /// Perplexity and bits per byte of a text, by llama-perplexity's rules so that the numbers compare with
    /// `llama-perplexity -m MODEL -f FILE -c CONTEXT [--chunks N]`: one final line feed is dropped (as its -f
    /// does), the text is tokenized with the model's own vocabulary without matching special-token text, a BOS
    /// is prepended when the GGUF says `tokenizer.ggml.add_bos_token`, and the tokens are scored by
    /// `PerplexityPlan` (at least 2 × `contextLength` of them). `contextLength` must fit the model's
    /// `maxContext`; `batchSize` only changes how chunks are fed to `evaluate`.
    public func perplexity(ofText text: String, contextLength: Int = 512, chunks: Int? = nil, batchSize: Int? = nil,
                           progress: (Int, Int, LikelihoodTotals) -> Void = { _, _, _ in }) throws -> PerplexityResult {
        try perplexity(ofUTF8: Array(text.utf8), contextLength: contextLength, chunks: chunks, batchSize: batchSize, progress: progress)
    }

    /// `perplexity(ofText:)` for the bytes of a file; ill-formed UTF-8 throws `TokenizerError.invalidUTF8`.
    public func perplexity(ofUTF8 bytes: [UInt8], contextLength: Int = 512, chunks: Int? = nil, batchSize: Int? = nil,
                           progress: (Int, Int, LikelihoodTotals) -> Void = { _, _, _ in }) throws -> PerplexityResult {
        let input = try perplexityInput(ofUTF8: bytes)
        return try perplexity(of: input.tokens, contextLength: contextLength, chunks: chunks, batchSize: batchSize, bos: input.bos,
                              byteCount: input.byteCount, progress: progress)
    }
}
