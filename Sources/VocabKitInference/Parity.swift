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
    case noPrunedCopy

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
        case .noPrunedCopy: return "no pruned copy to compare with the original"
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
public struct TextParity: Sendable, Equatable {
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
    /// The original's top-1 at those positions (original ids, in position order): what the cut costs.
    public var originalTop1PrunedIds: [Int] = []
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

/// One pruned copy in a `ParityChecker`: its model, its own tokenizer, and how its ids map to the original's.
public struct PrunedCopy {
    public let model: LanguageModel
    public let tokenizer: Tokenizer
    public let map: VocabularyMap
    let stops: Set<Int>

    public init(model: LanguageModel, tokenizer: Tokenizer, map: VocabularyMap) {
        self.model = model
        self.tokenizer = tokenizer
        self.map = map
        stops = model.stopTokens()
    }

    /// Ids the pruned copy keeps.
    public var keptTokens: Int { map.originalOfPruned.count }
}

/// Runs an original model and one or more pruned copies (selections) side by side on texts (the output-parity
/// check). The original is evaluated once per text for all of them, so comparing selections in one run costs
/// one original evaluation, not one per selection.
public final class ParityChecker {
    public let original: LanguageModel
    public let originalTokenizer: Tokenizer
    /// The pruned copies, in the order given.
    public let copies: [PrunedCopy]
    let originalStops: Set<Int>
    /// Per copy: whether it computes exactly what the original computes on the same tokens — the same
    /// hyperparameters but for the vocabulary size, every tensor but `token_embd` and `output` byte for byte
    /// the same, and each kept token's rows of those two the original's bytes. Checked once, so that positions
    /// whose token prefix both models share are evaluated once (see `compare(_:label:...)`). Compared on first
    /// use (a few hundred MB of memory per copy), so a run that does not share prefixes never pays for it.
    public private(set) lazy var copiesShareComputation: [Bool] = copies.map {
        Self.computesIdentically(original, $0.model, map: $0.map)
    }
    /// Whether the first (with one selection, the only) copy shares the original's computation.
    public var sharesComputation: Bool { copiesShareComputation[0] }
    /// Evaluate shared token prefixes once where a copy shares the original's computation (the reported numbers
    /// are the same either way; false evaluates every position in every model, e.g. to show that).
    public var reusesSharedPrefixes = true

    /// The first (with one selection, the only) pruned copy.
    public var pruned: LanguageModel { copies[0].model }
    public var prunedTokenizer: Tokenizer { copies[0].tokenizer }
    public var map: VocabularyMap { copies[0].map }

    public convenience init(original: LanguageModel, originalTokenizer: Tokenizer, pruned: LanguageModel, prunedTokenizer: Tokenizer,
                            map: VocabularyMap) throws {
        try self.init(original: original, originalTokenizer: originalTokenizer,
                      copies: [PrunedCopy(model: pruned, tokenizer: prunedTokenizer, map: map)])
    }

    /// Checks that every copy has the original's shape and a token list that matches its rows.
    public init(original: LanguageModel, originalTokenizer: Tokenizer, copies: [PrunedCopy]) throws {
        guard !copies.isEmpty else { throw ParityError.noPrunedCopy }
        let a = original.config
        for copy in copies {
            let pruned = copy.model, map = copy.map, b = pruned.config
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
        }
        self.original = original
        self.originalTokenizer = originalTokenizer
        self.copies = copies
        originalStops = original.stopTokens()
    }

    /// `sharesComputation`: every input of the forward pass compared byte for byte (a few hundred MB of
    /// memory comparison, once).
    static func computesIdentically(_ a: LanguageModel, _ b: LanguageModel, map: VocabularyMap) -> Bool {
        var config = a.config
        config.vocabularySize = b.config.vocabularySize
        guard config == b.config, a.maxContext == b.maxContext else { return false }
        func same(_ x: Matrix, _ y: Matrix) -> Bool {
            x.type == y.type && x.rows == y.rows && x.cols == y.cols && x.rowBytes == y.rowBytes
                && memcmp(x.base, y.base, x.rows * x.rowBytes) == 0
        }
        func same(_ x: [Float]?, _ y: [Float]?) -> Bool {
            guard let x, let y else { return x == nil && y == nil }
            return x.count == y.count && x.withUnsafeBytes { p in y.withUnsafeBytes { q in memcmp(p.baseAddress!, q.baseAddress!, p.count) == 0 } }
        }
        /// Each kept token's row of `y` (pruned ids) is the original's row of `x`.
        func sameKeptRows(_ x: Matrix, _ y: Matrix) -> Bool {
            guard x.type == y.type, x.cols == y.cols, x.rowBytes == y.rowBytes, y.rows == map.originalOfPruned.count else { return false }
            for (j, i) in map.originalOfPruned.enumerated() where i >= x.rows || memcmp(x.row(i), y.row(j), x.rowBytes) != 0 {
                return false
            }
            return true
        }
        let wa = a.weights, wb = b.weights
        guard wa.layers.count == wb.layers.count, same(wa.outputNorm, wb.outputNorm), same(wa.ropeFactors, wb.ropeFactors),
              sameKeptRows(wa.tokenEmbedding, wb.tokenEmbedding), sameKeptRows(wa.output, wb.output) else { return false }
        for (x, y) in zip(wa.layers, wb.layers) {
            guard x.shape == y.shape, same(x.attnNorm, y.attnNorm), same(x.ffnNorm, y.ffnNorm),
                  same(x.bq, y.bq), same(x.bk, y.bk), same(x.bv, y.bv), same(x.qNorm, y.qNorm), same(x.kNorm, y.kNorm),
                  same(x.wq, y.wq), same(x.wk, y.wk), same(x.wv, y.wv), same(x.wo, y.wo),
                  same(x.gate, y.gate), same(x.up, y.up), same(x.down, y.down) else { return false }
        }
        return true
    }

    /// Opens an original model and its pruned copy for `check`: each with its own vocabulary, ids matched by
    /// spelling, both with room for `contextLength` positions.
    public convenience init(originalPath: String, prunedPath: String, contextLength: Int = 256) throws {
        try self.init(originalPath: originalPath, prunedPaths: [prunedPath], contextLength: contextLength)
    }

    /// Opens an original model and several pruned copies of it (selections to compare).
    public convenience init(originalPath: String, prunedPaths: [String], contextLength: Int = 256) throws {
        try self.init(original: try GGUFFile(path: originalPath), originalSource: originalPath,
                      copies: try prunedPaths.map { (try GGUFFile(path: $0), $0) }, contextLength: contextLength)
    }

    /// `init(originalPath:prunedPath:)` for files already open; the sources name them in errors.
    public convenience init(original: GGUFFile, originalSource: String, pruned: GGUFFile, prunedSource: String,
                            contextLength: Int = 256) throws {
        try self.init(original: original, originalSource: originalSource, copies: [(pruned, prunedSource)], contextLength: contextLength)
    }

    /// `init(originalPath:prunedPaths:)` for files already open; the sources name them in errors.
    public convenience init(original: GGUFFile, originalSource: String, copies: [(file: GGUFFile, source: String)],
                            contextLength: Int = 256) throws {
        let originalTokenizer = Tokenizer(vocabulary: try Vocabulary.load(gguf: original, source: originalSource))
        let pruned = try copies.map { file, source in
            PrunedCopy(model: try LanguageModel(file: file, maxContext: contextLength),
                       tokenizer: Tokenizer(vocabulary: try Vocabulary.load(gguf: file, source: source)),
                       map: try VocabularyMap(original: original, pruned: file))
        }
        try self.init(original: try LanguageModel(file: original, maxContext: contextLength), originalTokenizer: originalTokenizer,
                      copies: pruned)
    }

    /// Checks `text` the way `vocabkit check --file` does: cut into windows of whole lines (`parityWindows`,
    /// each at most contextLength − greedyTokens tokens), `windows` of them spread over the text, special-token
    /// text not matched. `progress` is called before each window with (its index, the window count).
    public func check(text: String, windows: Int = 8, greedyTokens: Int = 16, contextLength: Int? = nil,
                      progress: (Int, Int) -> Void = { _, _ in }) throws -> ParityReport {
        try compare(text: text, windows: windows, greedyTokens: greedyTokens, contextLength: contextLength, progress: progress)[0]
    }

    /// `check(text:…)` for every pruned copy: one report per copy, in order. With `originalOnly` only the
    /// original runs (no greedy continuation): each report has the cost (how often the original's top-1 is a
    /// token the copy lacks) and the tokenization, but nothing compared, so it does not show parity.
    public func compare(text: String, windows: Int = 8, greedyTokens: Int = 16, contextLength: Int? = nil, originalOnly: Bool = false,
                        progress: (Int, Int) -> Void = { _, _ in }) throws -> [ParityReport] {
        let context = contextLength ?? original.maxContext
        let parts = parityWindows(text, tokenizer: originalTokenizer, maxTokens: min(context, original.maxContext) - greedyTokens, count: windows)
        guard !parts.isEmpty else { throw ParityError.emptyText(label: "the text") }
        return try compare(parts.enumerated().map { ("window \($0.offset + 1)", $0.element) }, specialTokens: false,
                           greedyTokens: greedyTokens, contextLength: context, originalOnly: originalOnly, progress: progress)
    }

    /// Checks each labelled text (`check(_:label:...)`) and totals the results.
    public func check(_ texts: [(label: String, text: String)], specialTokens: Bool, greedyTokens: Int = 16, contextLength: Int? = nil,
                      progress: (Int, Int) -> Void = { _, _ in }) throws -> ParityReport {
        try compare(texts, specialTokens: specialTokens, greedyTokens: greedyTokens, contextLength: contextLength, progress: progress)[0]
    }

    /// `check(_:specialTokens:…)` for every pruned copy: one report per copy, in order (`originalOnly`: as for
    /// `compare(text:…)`).
    public func compare(_ texts: [(label: String, text: String)], specialTokens: Bool, greedyTokens: Int = 16, contextLength: Int? = nil,
                        originalOnly: Bool = false, progress: (Int, Int) -> Void = { _, _ in }) throws -> [ParityReport] {
        var results = [[TextParity]](repeating: [], count: copies.count)
        for (i, t) in texts.enumerated() {
            progress(i, texts.count)
            let parities = try compare(t.text, label: t.label, specialTokens: specialTokens, greedyTokens: greedyTokens,
                                       contextLength: contextLength ?? original.maxContext, originalOnly: originalOnly)
            for (k, parity) in parities.enumerated() { results[k].append(parity) }
        }
        return results.map { ParityReport(texts: $0) }
    }

    /// Checks one text against the first pruned copy: `compare(_:label:…)[0]`.
    public func check(_ text: String, label: String, specialTokens: Bool, greedyTokens: Int, contextLength: Int) throws -> TextParity {
        try compare(text, label: label, specialTokens: specialTokens, greedyTokens: greedyTokens, contextLength: contextLength)[0]
    }

    /// Checks one text against every pruned copy: each model tokenizes it (special-token text matched only if
    /// `specialTokens`), keeps at most `contextLength − greedyTokens` tokens, evaluates them with logits at every
    /// position, then continues greedily for `greedyTokens` tokens (stopping at an end-of-generation token).
    ///
    /// The original runs once. Where a copy's tokens agree with the original's (its common prefix), both must be
    /// computed in the same calls for their logits to compare bit for bit (batched kernels sum in another order
    /// for another batch size): the original is evaluated in calls that break at every copy's common length, and
    /// each copy in the same calls up to its own, then in one call for the rest.
    public func compare(_ text: String, label: String, specialTokens: Bool, greedyTokens: Int, contextLength: Int,
                        originalOnly: Bool = false) throws -> [TextParity] {
        let budget = min(contextLength, original.maxContext) - greedyTokens
        guard budget >= 1 else { throw ParityError.contextTooSmall(context: contextLength, greedyTokens: greedyTokens) }
        let o = originalTokenizer.encode(text, specialTokens: specialTokens).prefix(budget).map(Int.init)
        guard !o.isEmpty else { throw ParityError.emptyText(label: label) }
        struct Side {
            let copy: PrunedCopy
            let tokens: [Int]
            let common: Int
            var result: TextParity
            /// The original's logits over this copy's kept tokens (in its order) at the compared positions.
            var keptLogits: [Float]
            /// The copy computes what the original does: its logits at the common prefix are the original's at
            /// kept rows and its cache there is the original's (same bytes in, same arithmetic, same calls).
            let reuse: Bool
            /// With an unchanged tokenization too: for each greedy step of the original, the token its logits
            /// favour among this copy's kept ones (pruned ids), the copy's own choice while it feeds the same tokens.
            var keptChoices: [Int] = []
            var sharedContext: Bool { reuse && result.tokenizationUnchanged }
        }
        var sides: [Side] = try copies.enumerated().map { index, copy in
            let p = copy.tokenizer.encode(text, specialTokens: specialTokens).prefix(budget).map(Int.init)
            guard !p.isEmpty else { throw ParityError.emptyText(label: label) }
            let mapped = p.map { copy.map.originalOfPruned[$0] }
            var common = 0
            while common < min(o.count, p.count), o[common] == mapped[common] { common += 1 }
            var r = TextParity(label: label, originalTokens: o.count, prunedTokens: p.count, tokenizationUnchanged: mapped == o)
            r.originalTokensPruned = o.filter { !copy.map.kept[$0] }.count
            r.originalPositions = o.count
            return Side(copy: copy, tokens: p, common: originalOnly ? 0 : common, result: r,
                        keptLogits: [Float](repeating: 0, count: originalOnly ? 0 : common * copy.keptTokens),
                        reuse: !originalOnly && reusesSharedPrefixes && copiesShareComputation[index]
                            && original.useSIMDKernels == copy.model.useSIMDKernels
                            && original.roundAttentionToHalf == copy.model.roundAttentionToHalf)
        }
        let originalVocabulary = originalTokenizer.vocabulary
        let breaks = Set(sides.map(\.common).filter { $0 > 0 && $0 < o.count }).sorted()

        // The original: top-1 everywhere, NLL, and its logits over each copy's kept tokens where compared.
        var originalTop1 = [Int](repeating: 0, count: o.count)
        var originalTotals = LikelihoodTotals()
        original.reset()
        try evaluate(original, o, breakingAt: breaks) { i, logits in
            let top = argmax(logits)
            originalTop1[i] = top
            if i + 1 < o.count { originalTotals.add(negativeLogLikelihood(logits, token: o[i + 1]), bytes: originalVocabulary.bytes(of: o[i + 1]).count) }
            for k in sides.indices {
                if !sides[k].copy.map.kept[top] {
                    sides[k].result.originalTop1Pruned += 1
                    sides[k].result.originalTop1PrunedIds.append(top)
                }
                guard i < sides[k].common else { continue }
                let keptCount = sides[k].copy.keptTokens, originalOfPruned = sides[k].copy.map.originalOfPruned
                sides[k].keptLogits.withUnsafeMutableBufferPointer { out in
                    let base = i * keptCount
                    for j in 0..<keptCount { out[base + j] = logits[originalOfPruned[j]] }
                }
            }
        }
        guard !originalOnly else {
            return sides.map { side in
                var r = side.result
                r.originalTotals = originalTotals
                return r
            }
        }
        for k in sides.indices where sides[k].sharedContext {
            let keptCount = sides[k].copy.keptTokens
            sides[k].keptChoices.append(sides[k].keptLogits.withUnsafeBufferPointer {
                argmax(UnsafeBufferPointer(rebasing: $0[((o.count - 1) * keptCount)...]))
            })
        }
        let greedyOriginal = try continueGreedily(original, from: originalTop1[o.count - 1], tokens: greedyTokens, stops: originalStops) { logits in
            for k in sides.indices where sides[k].sharedContext {
                var best = 0, bestValue = -Float.infinity
                for (j, i) in sides[k].copy.map.originalOfPruned.enumerated() where logits[i] > bestValue || j == 0 {
                    best = j
                    bestValue = logits[i]
                }
                sides[k].keptChoices.append(best)
            }
        }

        for k in sides.indices {
            let copy = sides[k].copy, p = sides[k].tokens, common = sides[k].common, keptCount = copy.keptTokens
            let stored = sides[k].keptLogits
            sides[k].keptLogits = []  // `stored` holds the only reference now: freed after this copy
            let prunedVocabulary = copy.tokenizer.vocabulary
            var r = sides[k].result
            r.originalTotals = originalTotals
            r.greedyOriginal = greedyOriginal
            // The original's calls up to this copy's common length (its own end included), then one for the rest.
            let ownBreaks = (breaks + [o.count]).filter { $0 <= common && $0 < p.count }
            var prunedLast = 0
            func visit(_ i: Int, _ logits: UnsafeBufferPointer<Float>, sharedWithOriginal: Bool) {
                let top = argmax(logits)
                if i == p.count - 1 { prunedLast = top }
                if i + 1 < p.count { r.prunedTotals.add(negativeLogLikelihood(logits, token: p[i + 1]), bytes: prunedVocabulary.bytes(of: p[i + 1]).count) }
                guard i < common else { return }
                r.comparedPositions += 1
                if copy.map.originalOfPruned[top] == originalTop1[i] { r.top1Agreements += 1 }
                // The same logits: difference and KL are exactly 0, nothing to compare.
                guard !sharedWithOriginal else { return }
                stored.withUnsafeBufferPointer { stored in
                    let x = UnsafeBufferPointer(rebasing: stored[(i * keptCount)..<((i + 1) * keptCount)])
                    for j in 0..<keptCount { r.maxLogitDifference = max(r.maxLogitDifference, abs(x[j] - logits[j])) }
                    let kl = klDivergence(x, logits)
                    r.klSum += kl
                    r.klMax = max(r.klMax, kl)
                }
            }
            copy.model.reset()
            if sides[k].reuse && common > 0 {
                copy.model.adoptCache(of: original, positions: common)
                stored.withUnsafeBufferPointer { stored in
                    for i in 0..<common {
                        visit(i, UnsafeBufferPointer(rebasing: stored[(i * keptCount)..<((i + 1) * keptCount)]), sharedWithOriginal: true)
                    }
                }
                if common < p.count {
                    try copy.model.evaluate(Array(p[common...]), logits: .all) { j, logits in visit(common + j, logits, sharedWithOriginal: false) }
                }
            } else {
                try evaluate(copy.model, p, breakingAt: ownBreaks) { i, logits in visit(i, logits, sharedWithOriginal: false) }
            }
            if sides[k].sharedContext {
                r.greedyPruned = try continueGreedilyAfterOriginal(copy, from: prunedLast, keptChoices: sides[k].keptChoices,
                                                                   greedyOriginal: greedyOriginal, context: o.count, tokens: greedyTokens)
                    .map { copy.map.originalOfPruned[$0] }
            } else {
                r.greedyPruned = try continueGreedily(copy.model, from: prunedLast, tokens: greedyTokens, stops: copy.stops)
                    .map { copy.map.originalOfPruned[$0] }
            }
            if let d = zip(r.greedyOriginal, r.greedyPruned).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
                r.greedyDivergedOnPrunedToken = !copy.map.kept[r.greedyOriginal[d]]
            } else if r.greedyOriginal.count > r.greedyPruned.count {
                r.greedyDivergedOnPrunedToken = !copy.map.kept[r.greedyOriginal[r.greedyPruned.count]]
            }
            sides[k].result = r
        }
        return sides.map(\.result)
    }

    /// Evaluates `tokens` with logits everywhere in one call per stretch between `breaks` (ascending, inside the
    /// tokens): batched kernels may sum in a different order for a different batch size, and a shared prefix must
    /// be computed the same way in both models for its logits to be comparable bit for bit (seen: 0.3 logits
    /// apart otherwise).
    private func evaluate(_ lm: LanguageModel, _ tokens: [Int], breakingAt breaks: [Int],
                          _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) throws {
        let bounds = [0] + breaks.filter { $0 > 0 && $0 < tokens.count } + [tokens.count]
        for (start, end) in zip(bounds, bounds.dropFirst()) {
            try lm.evaluate(Array(tokens[start..<end]), logits: .all) { j, logits in try body(start + j, logits) }
        }
    }

    /// A copy's greedy continuation (pruned ids) when it shares the original's context and computation: while
    /// it has fed the tokens the original fed, its logits are the original's at kept rows, so its choice at step
    /// k is `keptChoices[k]`; from the first step where that no longer holds it decodes itself, starting from the
    /// original's cache of the context and the steps they share.
    private func continueGreedilyAfterOriginal(_ copy: PrunedCopy, from first: Int, keptChoices: [Int], greedyOriginal: [Int],
                                               context: Int, tokens n: Int) throws -> [Int] {
        var out: [Int] = [], next = first
        var shared = true, decoding = false
        while out.count < n, !copy.stops.contains(next) {
            out.append(next)
            if out.count == n { break }
            let k = out.count
            shared = shared && k - 1 < greedyOriginal.count && copy.map.originalOfPruned[out[k - 1]] == greedyOriginal[k - 1]
            if shared && k < keptChoices.count {
                next = keptChoices[k]
            } else {
                if !decoding {
                    copy.model.adoptCache(of: original, positions: context + k - 1)
                    decoding = true
                }
                next = argmax(try copy.model.forward(token: out[k - 1]))
            }
        }
        return out
    }

    /// Greedy steps after an evaluated text whose last logits chose `first`; the model's ids, stop token excluded.
    /// `onLogits` sees the logits of every step after the first.
    private func continueGreedily(_ lm: LanguageModel, from first: Int, tokens n: Int, stops: Set<Int>,
                                  onLogits: (UnsafeBufferPointer<Float>) -> Void = { _ in }) throws -> [Int] {
        var out: [Int] = [], next = first
        while out.count < n, !stops.contains(next) {
            out.append(next)
            if out.count == n { break }
            let logits = try lm.forward(token: next)
            onLogits(logits)
            next = argmax(logits)
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
