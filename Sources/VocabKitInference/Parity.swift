import Foundation
import VocabKitGGUF
import VocabKitTokenizer
import VocabKitIO

/// Why two models cannot be compared; `description` is one line.
public enum ParityError: VocabKitError, Equatable, Sendable {
    case noTokenList(model: String)
    case tokenNotInOriginal(id: Int, spelling: String)
    case shapeMismatch(what: String, original: Int, pruned: Int)
    case emptyText(label: String)
    case contextTooSmall(context: Int, greedyTokens: Int)
    case architectureMismatch(original: String, pruned: String)

    public var description: String {
        switch self {
        case let .noTokenList(model): return "\(model): no tokenizer.ggml.tokens, so its ids cannot be matched"
        case let .tokenNotInOriginal(id, spelling):
            return "the pruned model's token \(id) '\(spelling)' is not in the original's vocabulary: not a pruned copy of it"
        case let .shapeMismatch(what, original, pruned):
            return "the models differ in \(what) (\(original) vs \(pruned)): not an original and its pruned copy"
        case let .emptyText(label): return "\(label) has no tokens"
        case let .contextTooSmall(context, n): return "a context of \(context) leaves no room for a text and \(n) generated tokens"
        case let .architectureMismatch(original, pruned):
            return "the models have different architectures (\(original) vs \(pruned)): not an original and its pruned copy"
        }
    }
}

/// How the pruned model's ids relate to the original's: matched by token spelling (`tokenizer.ggml.tokens`),
/// which pruning never changes, so it works for any pruned copy, with or without VocabKit's provenance keys.
public struct VocabularyMap: Sendable {
    /// The original id of every pruned id.
    public let originalOfPruned: [Int]
    /// For every original id, whether the pruned model has it.
    public let kept: [Bool]

    public init(originalOfPruned: [Int], originalCount: Int) {
        self.originalOfPruned = originalOfPruned
        var kept = [Bool](repeating: false, count: originalCount)
        for id in originalOfPruned { kept[id] = true }
        self.kept = kept
    }

    public init(original: GGUFFile, pruned: GGUFFile) throws {
        guard let a = original.stringArray("tokenizer.ggml.tokens") else { throw ParityError.noTokenList(model: "original") }
        guard let b = pruned.stringArray("tokenizer.ggml.tokens") else { throw ParityError.noTokenList(model: "pruned") }
        var idOf = [String: Int](minimumCapacity: a.count)
        for (id, s) in a.enumerated() where idOf[s] == nil { idOf[s] = id }
        let map = try b.enumerated().map { id, s in
            guard let o = idOf[s] else { throw ParityError.tokenNotInOriginal(id: id, spelling: s) }
            return o
        }
        self.init(originalOfPruned: map, originalCount: a.count)
    }
}

/// What one text showed. Positions are the logits after each token; "compared" positions are those whose
/// whole prefix is the same token sequence in both models (every position when the tokenization is unchanged).
public struct TextParity: Sendable {
    public var label: String
    public var originalTokens: Int
    public var prunedTokens: Int
    /// The pruned tokenization, mapped to original ids, equals the original tokenization.
    public var tokenizationUnchanged: Bool
    public var comparedPositions = 0
    /// Largest |original − pruned| logit over kept tokens at compared positions (0 when nothing was compared).
    public var maxLogitDifference: Float = 0
    /// Compared positions where the pruned model's top token is the original's top token over its full vocabulary.
    public var top1Agreements = 0
    /// KL(original renormalized over kept tokens ‖ pruned), nats: sum and largest over compared positions.
    public var klSum: Double = 0
    public var klMax: Double = 0
    /// Positions of the original's evaluation, and how many of them have a pruned token as the original's top-1.
    public var originalPositions = 0
    public var originalTop1Pruned = 0
    /// Tokens of the original tokenization that the pruned model lacks.
    public var originalTokensPruned = 0
    /// Greedy continuations, both as original ids.
    public var greedyOriginal: [Int] = []
    public var greedyPruned: [Int] = []
    /// The continuations first differ where the original chose a token the pruned model lacks.
    public var greedyDivergedOnPrunedToken = false
    /// NLL of each model over its own tokenization (every token after the first), for bits per byte.
    public var originalTotals = LikelihoodTotals()
    public var prunedTotals = LikelihoodTotals()

    public var greedyAgrees: Bool { greedyOriginal == greedyPruned }

    /// Parity for this text: identical logits wherever the prefixes are identical and, for an unchanged
    /// tokenization, the same greedy continuation unless the original chose a token that was pruned.
    public var holds: Bool {
        maxLogitDifference == 0 && (!tokenizationUnchanged || greedyAgrees || greedyDivergedOnPrunedToken)
    }
}

/// The totals over all texts.
public struct ParityReport: Sendable {
    public var texts: [TextParity]

    public init(texts: [TextParity]) { self.texts = texts }

    public var unchangedTexts: Int { texts.filter(\.tokenizationUnchanged).count }
    public var comparedPositions: Int { texts.reduce(0) { $0 + $1.comparedPositions } }
    public var maxLogitDifference: Float { texts.map(\.maxLogitDifference).max() ?? 0 }
    public var top1Agreement: Double { ratio(texts.reduce(0) { $0 + $1.top1Agreements }, comparedPositions) }
    public var meanKL: Double { ratio(texts.reduce(0) { $0 + $1.klSum }, comparedPositions) }
    public var maxKL: Double { texts.map(\.klMax).max() ?? 0 }
    public var originalPositions: Int { texts.reduce(0) { $0 + $1.originalPositions } }
    public var originalTop1Pruned: Int { texts.reduce(0) { $0 + $1.originalTop1Pruned } }
    public var originalTokens: Int { texts.reduce(0) { $0 + $1.originalTokens } }
    public var prunedTokens: Int { texts.reduce(0) { $0 + $1.prunedTokens } }
    public var originalTokensPruned: Int { texts.reduce(0) { $0 + $1.originalTokensPruned } }
    public var greedyAgreements: Int { texts.filter(\.greedyAgrees).count }
    public var greedyAgreementsUnchanged: Int { texts.filter { $0.tokenizationUnchanged && $0.greedyAgrees }.count }
    public var greedyDivergedOnPrunedToken: Int { texts.filter { $0.tokenizationUnchanged && !$0.greedyAgrees && $0.greedyDivergedOnPrunedToken }.count }
    public var originalTotals: LikelihoodTotals { texts.reduce(into: LikelihoodTotals()) { $0.add($1.originalTotals) } }
    public var prunedTotals: LikelihoodTotals { texts.reduce(into: LikelihoodTotals()) { $0.add($1.prunedTotals) } }

    /// Parity holds when every text holds and something was actually compared.
    public var holds: Bool { comparedPositions > 0 && texts.allSatisfy(\.holds) }

    private func ratio(_ a: Double, _ b: Int) -> Double { b > 0 ? a / Double(b) : .nan }
    private func ratio(_ a: Int, _ b: Int) -> Double { b > 0 ? Double(a) / Double(b) : .nan }
}

/// Runs an original model and its pruned copy side by side on texts (the output-parity check).
public final class ParityChecker {
    public let original: LanguageModel
    public let pruned: LanguageModel
    public let originalTokenizer: Tokenizer
    public let prunedTokenizer: Tokenizer
    public let map: VocabularyMap
    let originalStops: Set<Int>
    let prunedStops: Set<Int>

    public init(original: LanguageModel, originalTokenizer: Tokenizer, pruned: LanguageModel, prunedTokenizer: Tokenizer,
                map: VocabularyMap) throws {
        let a = original.config, b = pruned.config
        for (what, x, y) in [("embedding_length", a.dim, b.dim), ("block_count", a.layerCount, b.layerCount),
                             ("key_length", a.headDim, b.headDim), ("context positions", original.maxContext, pruned.maxContext)]
            where x != y {
            throw ParityError.shapeMismatch(what: what, original: x, pruned: y)
        }
        for (block, (x, y)) in zip(a.blocks, b.blocks).enumerated() {
            let at = a.blocks.count > 1 && Set(a.blocks).count > 1 ? " of block \(block)" : ""
            for (what, u, v) in [("feed_forward_length", x.hiddenDim, y.hiddenDim), ("attention.head_count", x.headCount, y.headCount),
                                 ("attention.head_count_kv", x.kvHeadCount, y.kvHeadCount)] where u != v {
                throw ParityError.shapeMismatch(what: what + at, original: u, pruned: v)
            }
        }
        guard a.architecture == b.architecture else {
            throw ParityError.architectureMismatch(original: a.architecture.name, pruned: b.architecture.name)
        }
        guard map.kept.count == a.vocabularySize else {
            throw ParityError.shapeMismatch(what: "original vocabulary rows vs its token list", original: a.vocabularySize, pruned: map.kept.count)
        }
        guard map.originalOfPruned.count == b.vocabularySize else {
            throw ParityError.shapeMismatch(what: "pruned vocabulary rows vs its token list", original: b.vocabularySize, pruned: map.originalOfPruned.count)
        }
        self.original = original
        self.pruned = pruned
        self.originalTokenizer = originalTokenizer
        self.prunedTokenizer = prunedTokenizer
        self.map = map
        originalStops = original.stopTokens()
        prunedStops = pruned.stopTokens()
    }

    /// Opens an original model and its pruned copy for `check`: each with its own vocabulary, ids matched by
    /// spelling, both with room for `contextLength` positions.
    public convenience init(originalPath: String, prunedPath: String, contextLength: Int = 256) throws {
        try self.init(original: try GGUFFile(path: originalPath), originalSource: originalPath,
                      pruned: try GGUFFile(path: prunedPath), prunedSource: prunedPath, contextLength: contextLength)
    }

    /// `init(originalPath:prunedPath:)` for files already open; the sources name them in errors.
    public convenience init(original: GGUFFile, originalSource: String, pruned: GGUFFile, prunedSource: String,
                            contextLength: Int = 256) throws {
        let originalTokenizer = Tokenizer(vocabulary: try Vocabulary.load(gguf: original, source: originalSource))
        let prunedTokenizer = Tokenizer(vocabulary: try Vocabulary.load(gguf: pruned, source: prunedSource))
        let map = try VocabularyMap(original: original, pruned: pruned)
        try self.init(original: try LanguageModel(file: original, maxContext: contextLength), originalTokenizer: originalTokenizer,
                      pruned: try LanguageModel(file: pruned, maxContext: contextLength), prunedTokenizer: prunedTokenizer, map: map)
    }

    /// Checks `text` the way `vocabkit check --file` does: cut into windows of whole lines (`parityWindows`,
    /// each at most contextLength − greedyTokens tokens), `windows` of them spread over the text, special-token
    /// text not matched. `progress` is called before each window with (its index, the window count).
    public func check(text: String, windows: Int = 8, greedyTokens: Int = 16, contextLength: Int? = nil,
                      progress: (Int, Int) -> Void = { _, _ in }) throws -> ParityReport {
        let context = contextLength ?? original.maxContext
        let parts = parityWindows(text, tokenizer: originalTokenizer, maxTokens: min(context, original.maxContext) - greedyTokens, count: windows)
        guard !parts.isEmpty else { throw ParityError.emptyText(label: "the text") }
        return try check(parts.enumerated().map { ("window \($0.offset + 1)", $0.element) }, specialTokens: false,
                         greedyTokens: greedyTokens, contextLength: context, progress: progress)
    }

    /// Checks each labelled text (`check(_:label:...)`) and totals the results.
    public func check(_ texts: [(label: String, text: String)], specialTokens: Bool, greedyTokens: Int = 16, contextLength: Int? = nil,
                      progress: (Int, Int) -> Void = { _, _ in }) throws -> ParityReport {
        var results: [TextParity] = []
        for (i, t) in texts.enumerated() {
            progress(i, texts.count)
            results.append(try check(t.text, label: t.label, specialTokens: specialTokens, greedyTokens: greedyTokens,
                                     contextLength: contextLength ?? original.maxContext))
        }
        return ParityReport(texts: results)
    }

    /// Checks one text: each model tokenizes it (special-token text matched only if `specialTokens`), keeps at
    /// most `contextLength − greedyTokens` tokens, evaluates them with logits at every position, then continues
    /// greedily for `greedyTokens` tokens (stopping at an end-of-generation token).
    public func check(_ text: String, label: String, specialTokens: Bool, greedyTokens: Int, contextLength: Int) throws -> TextParity {
        let budget = min(contextLength, original.maxContext) - greedyTokens
        guard budget >= 1 else { throw ParityError.contextTooSmall(context: contextLength, greedyTokens: greedyTokens) }
        let o = originalTokenizer.encode(text, specialTokens: specialTokens).prefix(budget).map(Int.init)
        let p = prunedTokenizer.encode(text, specialTokens: specialTokens).prefix(budget).map(Int.init)
        guard !o.isEmpty, !p.isEmpty else { throw ParityError.emptyText(label: label) }
        let mapped = p.map { map.originalOfPruned[$0] }
        var common = 0
        while common < min(o.count, p.count), o[common] == mapped[common] { common += 1 }
        var r = TextParity(label: label, originalTokens: o.count, prunedTokens: p.count, tokenizationUnchanged: mapped == o)
        r.originalTokensPruned = o.filter { !map.kept[$0] }.count
        let keptCount = map.originalOfPruned.count
        let originalVocabulary = originalTokenizer.vocabulary, prunedVocabulary = prunedTokenizer.vocabulary

        // The original: top-1 everywhere, NLL, and its logits over kept tokens (in pruned order) where compared.
        var originalTop1 = [Int](repeating: 0, count: o.count)
        var keptLogits = [Float](repeating: 0, count: common * keptCount)
        original.reset()
        try evaluateInParts(original, o, common: common) { i, logits in
            let top = argmax(logits)
            originalTop1[i] = top
            if !map.kept[top] { r.originalTop1Pruned += 1 }
            if i + 1 < o.count { r.originalTotals.add(negativeLogLikelihood(logits, token: o[i + 1]), bytes: originalVocabulary.bytes(of: o[i + 1]).count) }
            if i < common {
                keptLogits.withUnsafeMutableBufferPointer { out in
                    let base = i * keptCount
                    for j in 0..<keptCount { out[base + j] = logits[map.originalOfPruned[j]] }
                }
            }
        }
        r.originalPositions = o.count
        r.greedyOriginal = try continueGreedily(original, from: originalTop1[o.count - 1], tokens: greedyTokens, stops: originalStops)

        var prunedLast = 0
        pruned.reset()
        try evaluateInParts(pruned, p, common: common) { i, logits in
            let top = argmax(logits)
            if i == p.count - 1 { prunedLast = top }
            if i + 1 < p.count { r.prunedTotals.add(negativeLogLikelihood(logits, token: p[i + 1]), bytes: prunedVocabulary.bytes(of: p[i + 1]).count) }
            guard i < common else { return }
            r.comparedPositions += 1
            if map.originalOfPruned[top] == originalTop1[i] { r.top1Agreements += 1 }
            keptLogits.withUnsafeBufferPointer { stored in
                let x = UnsafeBufferPointer(rebasing: stored[(i * keptCount)..<((i + 1) * keptCount)])
                for j in 0..<keptCount { r.maxLogitDifference = max(r.maxLogitDifference, abs(x[j] - logits[j])) }
                let kl = klDivergence(x, logits)
                r.klSum += kl
                r.klMax = max(r.klMax, kl)
            }
        }
        r.greedyPruned = try continueGreedily(pruned, from: prunedLast, tokens: greedyTokens, stops: prunedStops)
            .map { map.originalOfPruned[$0] }
        if let d = zip(r.greedyOriginal, r.greedyPruned).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            r.greedyDivergedOnPrunedToken = !map.kept[r.greedyOriginal[d]]
        } else if r.greedyOriginal.count > r.greedyPruned.count {
            r.greedyDivergedOnPrunedToken = !map.kept[r.greedyOriginal[r.greedyPruned.count]]
        }
        return r
    }

    /// Evaluates `tokens` with logits everywhere, the shared prefix `0..<common` in a call of its own: batched
    /// kernels may sum in a different order for a different batch size, and the prefix must be computed the same
    /// way in both models for its logits to be comparable bit for bit (seen: 0.3 logits apart otherwise).
    private func evaluateInParts(_ lm: LanguageModel, _ tokens: [Int], common: Int,
                                 _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) throws {
        let parts = common > 0 && common < tokens.count ? [0..<common, common..<tokens.count] : [0..<tokens.count]
        for part in parts {
            try lm.evaluate(Array(tokens[part]), logits: .all) { j, logits in try body(part.lowerBound + j, logits) }
        }
    }

    /// Greedy steps after an evaluated text whose last logits chose `first`; the model's ids, stop token excluded.
    private func continueGreedily(_ lm: LanguageModel, from first: Int, tokens n: Int, stops: Set<Int>) throws -> [Int] {
        var out: [Int] = [], next = first
        while out.count < n, !stops.contains(next) {
            out.append(next)
            if out.count == n { break }
            next = argmax(try lm.forward(token: next))
        }
        return out
    }
}

/// KL(softmax(x) ‖ softmax(y)) in nats, in Double; exactly 0 when x and y are equal element for element.
public func klDivergence(_ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>) -> Double {
    func logSumExp(_ v: UnsafeBufferPointer<Float>) -> Double {
        let m = Double(v.max() ?? 0)
        var s = 0.0
        for e in v { s += exp(Double(e) - m) }
        return m + log(s)
    }
    let zx = logSumExp(x), zy = logSumExp(y)
    var kl = 0.0
    for j in x.indices {
        let lp = Double(x[j]) - zx
        kl += exp(lp) * (lp - (Double(y[j]) - zy))
    }
    return max(kl, 0)
}

/// Splits a text into windows of whole lines, each tokenizing (with `tokenizer`, special-token text not
/// matched) to at most `maxTokens` tokens where lines allow (a single longer line is a window of its own), and
/// returns `count` of them spread evenly over the text (all of them when there are fewer). Windows that are
/// only whitespace are skipped.
public func parityWindows(_ text: String, tokenizer: Tokenizer, maxTokens: Int, count: Int) -> [String] {
    var windows: [String] = []
    var current = ""
    func flush() {
        if !current.allSatisfy(\.isWhitespace) { windows.append(current) }
        current = ""
    }
    // Split on the byte: "\r\n" is one Character in Swift and would hide the line feed.
    var lines = text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) + "\n" }
    if text.last != "\n", !lines.isEmpty { lines[lines.count - 1].removeLast() }
    for line in lines {
        let candidate = current + line
        if current.isEmpty || tokenizer.encode(candidate, specialTokens: false).count <= maxTokens {
            current = candidate
        } else {
            flush()
            current = line
        }
    }
    flush()
    guard windows.count > count, count > 0 else { return windows }
    return (0..<count).map { windows[$0 * windows.count / count] }
}
