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
        }
        var sides: [Side] = try copies.map { copy in
            let p = copy.tokenizer.encode(text, specialTokens: specialTokens).prefix(budget).map(Int.init)
            guard !p.isEmpty else { throw ParityError.emptyText(label: label) }
            let mapped = p.map { copy.map.originalOfPruned[$0] }
            var common = 0
            while common < min(o.count, p.count), o[common] == mapped[common] { common += 1 }
            var r = TextParity(label: label, originalTokens: o.count, prunedTokens: p.count, tokenizationUnchanged: mapped == o)
            r.originalTokensPruned = o.filter { !copy.map.kept[$0] }.count
            r.originalPositions = o.count
            return Side(copy: copy, tokens: p, common: originalOnly ? 0 : common, result: r,
                        keptLogits: [Float](repeating: 0, count: originalOnly ? 0 : common * copy.keptTokens))
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
        let greedyOriginal = try continueGreedily(original, from: originalTop1[o.count - 1], tokens: greedyTokens, stops: originalStops)

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
            copy.model.reset()
            try evaluate(copy.model, p, breakingAt: ownBreaks) { i, logits in
                let top = argmax(logits)
                if i == p.count - 1 { prunedLast = top }
                if i + 1 < p.count { r.prunedTotals.add(negativeLogLikelihood(logits, token: p[i + 1]), bytes: prunedVocabulary.bytes(of: p[i + 1]).count) }
                guard i < common else { return }
                r.comparedPositions += 1
                if copy.map.originalOfPruned[top] == originalTop1[i] { r.top1Agreements += 1 }
                stored.withUnsafeBufferPointer { stored in
                    let x = UnsafeBufferPointer(rebasing: stored[(i * keptCount)..<((i + 1) * keptCount)])
                    for j in 0..<keptCount { r.maxLogitDifference = max(r.maxLogitDifference, abs(x[j] - logits[j])) }
                    let kl = klDivergence(x, logits)
                    r.klSum += kl
                    r.klMax = max(r.klMax, kl)
                }
            }
            r.greedyPruned = try continueGreedily(copy.model, from: prunedLast, tokens: greedyTokens, stops: copy.stops)
                .map { copy.map.originalOfPruned[$0] }
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
