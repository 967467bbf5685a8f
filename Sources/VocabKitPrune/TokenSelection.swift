import HeapModule
import VocabKitModels
import VocabKitTokenizer

/// The rules that choose which tokens a pruned vocabulary keeps. Positive rules (coverage, top, min-count,
/// predicted coverage, keep-list) are united; with none given every token is a candidate. The drop-list then
/// removes tokens and everything built from them, and `targetSize` trims merge-tree leaves down to an exact size.
///
/// With a predicted column (a model-aware count: what the model would emit on the corpus), `coverage` applies
/// to both columns and unites the two sets, unless `predictedCoverage` gives the predicted column its own share
/// (0: leave it out).
public struct SelectionRules: Sendable {
    /// Keep the most used tokens that together cover this share of all occurrences (0...1).
    public var coverage: Double?
    /// Keep the K most used tokens.
    public var top: Int?
    /// Keep tokens used at least N times.
    public var minCount: UInt64?
    public var keepList: [Int] = []
    public var dropList: [Int] = []
    /// Trim to exactly this many ids (padding rows excluded) by removing unused-by-merges tokens, rarest first.
    public var targetSize: Int?
    /// Keep the most predicted tokens that together cover this share of the predicted column (0...1; 0 uses
    /// none of it); nil: `coverage`'s share, when there is a predicted column.
    public var predictedCoverage: Double?

    public init(coverage: Double? = nil, top: Int? = nil, minCount: UInt64? = nil, keepList: [Int] = [],
                dropList: [Int] = [], targetSize: Int? = nil, predictedCoverage: Double? = nil) {
        self.predictedCoverage = predictedCoverage
        self.coverage = coverage
        self.top = top
        self.minCount = minCount
        self.keepList = keepList
        self.dropList = dropList
        self.targetSize = targetSize
    }

    var hasPositiveRule: Bool {
        coverage != nil || top != nil || minCount != nil || !keepList.isEmpty || (predictedCoverage ?? 0) > 0
    }

    /// The share of the predicted column to keep, when a predicted column is given: its own, else coverage's.
    var effectivePredictedCoverage: Double? {
        let share = predictedCoverage ?? coverage
        return share.flatMap { $0 > 0 ? $0 : nil }
    }
}

/// What a selection kept: old ids ascending (the new id of `keptIds[k]` is k) and how each rule contributed.
public struct TokenSelection: Sendable {
    public let keptIds: [Int]
    public let originalIdCount: Int
    /// One line per rule, e.g. ("coverage 99.99%", 20123): how many tokens the rule selected on its own.
    public let report: [(rule: String, tokens: Int)]

    /// New id for each old id, -1 where the token is dropped.
    public var newIdOfOldId: [Int] {
        var map = [Int](repeating: -1, count: originalIdCount)
        for (newId, oldId) in keptIds.enumerated() { map[oldId] = newId }
        return map
    }

    /// `old_id<TAB>new_id` lines for `--remap`.
    public var remapTSV: String {
        var out = "# old_id\tnew_id\n"
        out.reserveCapacity(keptIds.count * 14)
        for (newId, oldId) in keptIds.enumerated() { out += "\(oldId)\t\(newId)\n" }
        return out
    }
}

/// A selection that passed `TokenSelector.verify`, with the pruned vocabulary it was checked against: the
/// only kind of selection a model is written with.
public struct VerifiedSelection: Sendable {
    public let selection: TokenSelection
    /// The kept tokens renumbered, as the written model's tokenizer will load them.
    public let prunedVocabulary: Vocabulary

    public var keptIds: [Int] { selection.keptIds }
    public var originalIdCount: Int { selection.originalIdCount }
    public var report: [(rule: String, tokens: Int)] { selection.report }
}

/// Chooses the kept set over a vocabulary and proves it keeps every kept token reachable.
public struct TokenSelector {
    public let vocabulary: Vocabulary
    /// Ids that are rows of the model but not tokens at all (`[PAD…]`, empty text): always dropped.
    public let paddingIds: Set<Int>
    /// Ids the model refers to elsewhere (`tokenizer.ggml.*_token_id`): always kept.
    public let referencedIds: Set<Int>
    /// The tokens of the model's chat template text (`ChatTemplateText`): always kept, so that every
    /// conversation keeps its tokenization around what the user and the assistant write.
    public let chatTemplateIds: Set<Int>

    public init(vocabulary: Vocabulary, paddingIds: Set<Int> = [], referencedIds: Set<Int> = [], chatTemplateIds: Set<Int> = []) {
        self.vocabulary = vocabulary
        self.paddingIds = paddingIds
        self.referencedIds = referencedIds
        self.chatTemplateIds = chatTemplateIds.subtracting(paddingIds)
    }

    /// The tokens of `templates`' own text (`ChatTemplateText.pieces`), each piece encoded on its own with
    /// special tokens recognised.
    public static func chatTemplateIds(templates: [String], vocabulary: Vocabulary) -> Set<Int> {
        let pieces = templates.flatMap(ChatTemplateText.pieces(of:))
        guard !pieces.isEmpty else { return [] }
        let tokenizer = Tokenizer(vocabulary: vocabulary)
        var ids = Set<Int>()
        for piece in pieces { for id in tokenizer.encode(piece, specialTokens: true) { ids.insert(Int(id)) } }
        return ids
    }

    /// The ids with no BPE bytes that are not special tokens, plus `[PAD…]` specials: padding rows.
    public static func defaultPaddingIds(of vocabulary: Vocabulary) -> Set<Int> {
        var padding = Set<Int>()
        let specialIds = Set(vocabulary.specialTokens.map(\.id))
        for id in 0..<vocabulary.idCount where !vocabulary.isToken(id) && !specialIds.contains(id) { padding.insert(id) }
        for special in vocabulary.specialTokens where special.text.hasPrefix("[PAD") || special.text.isEmpty {
            padding.insert(special.id)
        }
        return padding
    }

    /// Selects by `rules` from `counts` (the corpus) and, when given, `predicted` (a model-aware count).
    public func select(counts: [UInt64], predicted: [UInt64]? = nil, rules: SelectionRules) throws -> TokenSelection {
        let idCount = vocabulary.idCount
        for (name, column) in [("usage", counts), ("predicted column", predicted ?? [])] where column.count > idCount {
            throw PruneError.invalidSelection("the \(name) has \(column.count) ids but the vocabulary only \(idCount)")
        }
        let counts = counts + Array(repeating: 0, count: idCount - counts.count)
        let predicted = predicted.map { $0 + Array(repeating: 0, count: idCount - $0.count) }
        if let share = rules.predictedCoverage, share > 0, predicted == nil {
            throw PruneError.invalidSelection("the usage has no predicted column for a predicted coverage (count with a model to make one)")
        }
        // Only a column the rules read must count something; a predicted column that only joins `coverage` may be
        // empty when the rules ask for none of it.
        let predictedShare = predicted == nil ? nil : rules.effectivePredictedCoverage
        // A table of an empty corpus (count --allow-empty) would select nothing by counts, silently.
        let countRules = (rules.coverage != nil && (predictedShare == nil || rules.predictedCoverage != nil)) || rules.top != nil || rules.minCount != nil
        if countRules, !counts.contains(where: { $0 > 0 }) {
            throw PruneError.invalidSelection("the usage counts no tokens (an empty corpus), so coverage, top and minimum-count rules select nothing")
        }
        if predictedShare != nil, let predicted, !predicted.contains(where: { $0 > 0 }) {
            throw PruneError.invalidSelection("the predicted column counts no tokens, so a predicted coverage selects nothing")
        }
        var report: [(String, Int)] = []
        let ranked = Self.ranked(counts, excluding: paddingIds)

        // Positive rules, united.
        var candidate = [Bool](repeating: !rules.hasPositiveRule, count: idCount)
        func mark(_ ids: some Sequence<Int>) -> Int {
            var selected = 0
            for id in ids { candidate[id] = true; selected += 1 }
            return selected
        }
        if let coverage = rules.coverage {
            guard coverage > 0, coverage <= 1 else { throw PruneError.invalidSelection("coverage must be in (0, 1], got \(coverage)") }
            if counts.contains(where: { $0 > 0 }) {
                report.append(("coverage \(TokenUsage.percent(coverage))%", mark(Self.covering(coverage, of: counts, ranked: ranked))))
            }
        }
        if let top = rules.top {
            guard top >= 0 else { throw PruneError.invalidSelection("top must not be negative") }
            report.append(("top \(top)", mark(ranked.prefix(top))))
        }
        if let minCount = rules.minCount {
            report.append(("min-count \(minCount)", mark(ranked.filter { counts[$0] >= minCount })))
        }
        if let share = rules.predictedCoverage, !(0...1).contains(share) {
            throw PruneError.invalidSelection("predicted coverage must be in [0, 1], got \(share)")
        }
        if let share = predictedShare, let predicted {
            let covering = Self.covering(share, of: predicted, ranked: Self.ranked(predicted, excluding: paddingIds))
            let before = candidate.reduce(0) { $0 + ($1 ? 1 : 0) }
            report.append(("predicted coverage \(TokenUsage.percent(share))%", mark(covering)))
            report.append(("predicted only (not selected by the counts)", candidate.reduce(0) { $0 + ($1 ? 1 : 0) } - before))
        }
        if !rules.keepList.isEmpty {
            for id in rules.keepList where id < 0 || id >= idCount || paddingIds.contains(id) {
                throw PruneError.invalidSelection("keep-list id \(id) is not a token of \(vocabulary.source)")
            }
            report.append(("keep-list", mark(rules.keepList)))
        }
        if !rules.hasPositiveRule { report.append(("all tokens (no selection rule)", idCount - paddingIds.count)) }
        for id in paddingIds { candidate[id] = false }

        // Required tokens: every byte, the special tokens, ids the model names.
        var required = [Bool](repeating: false, count: idCount)
        var byteIds = [Int]()
        for byte in 0..<256 {
            guard let id = vocabulary.id(of: [UInt8(byte)]) else {
                throw PruneError.invalidSelection("the vocabulary has no token for byte 0x\(String(byte, radix: 16))")
            }
            byteIds.append(id)
        }
        let specialIds = vocabulary.specialTokens.map(\.id).filter { !paddingIds.contains($0) }
        for id in byteIds + specialIds + referencedIds + chatTemplateIds { required[id] = true }
        report.append(("byte tokens", byteIds.count))
        report.append(("special tokens", specialIds.count))
        if !referencedIds.isEmpty { report.append(("token ids named in metadata", referencedIds.count)) }
        if !chatTemplateIds.isEmpty { report.append(("chat template tokens", chatTemplateIds.count)) }

        // Drop-list: a dropped token takes every token built from it along (nothing could produce those).
        let merges = vocabulary.merges
        if !rules.dropList.isEmpty {
            var dropped = [Bool](repeating: false, count: idCount)
            for id in rules.dropList {
                guard id >= 0, id < idCount else { throw PruneError.invalidSelection("drop-list id \(id) is not in the vocabulary") }
                guard !required[id] else {
                    throw PruneError.invalidSelection("drop-list id \(id) '\(piece(id))' is a byte, special, referenced or chat-template token and must stay")
                }
                dropped[id] = true
            }
            // Merges are rank-ordered and a part is built before what it builds, but repeat until stable to
            // stay correct for any order.
            var changed = true
            while changed {
                changed = false
                for merge in merges where !dropped[Int(merge.result)] && (dropped[Int(merge.left)] || dropped[Int(merge.right)]) {
                    guard !required[Int(merge.result)] else {
                        throw PruneError.invalidSelection("drop-list removes a part of required token \(merge.result) '\(piece(Int(merge.result)))'")
                    }
                    dropped[Int(merge.result)] = true
                    changed = true
                }
            }
            var removed = 0
            for id in 0..<idCount where dropped[id] {
                if candidate[id] { removed += 1 }
                candidate[id] = false
            }
            report.append(("drop-list (with tokens built from them) removed", removed))
        }

        // Closure: every part of a kept token is kept, so every kept token can still be built.
        var kept = candidate
        for id in 0..<idCount where required[id] { kept[id] = true }
        let mergesByResult = Self.mergesByResult(merges, idCount: idCount)
        var stack = (0..<idCount).filter { kept[$0] }
        var addedByClosure = 0
        while let id = stack.popLast() {
            for mergeIndex in mergesByResult[id] {
                for part in [Int(merges[mergeIndex].left), Int(merges[mergeIndex].right)] where !kept[part] {
                    kept[part] = true
                    addedByClosure += 1
                    stack.append(part)
                }
            }
        }
        report.append(("parts of kept tokens (closure)", addedByClosure))

        if let target = rules.targetSize {
            // Both columns weigh the same in total: a token the model predicts but the corpus never spells is
            // not trimmed first for its count of 0.
            let countTotal = Double(counts.reduce(0, &+)), predictedTotal = Double(predicted?.reduce(0, &+) ?? 0)
            let weights: [Double]
            if predictedShare != nil, let predicted, predictedTotal > 0 {
                weights = (0..<idCount).map { (countTotal > 0 ? Double(counts[$0]) / countTotal : 0) + Double(predicted[$0]) / predictedTotal }
            } else {
                weights = counts.map(Double.init)
            }
            let removed = try trim(&kept, to: target, weights: weights, required: required, mergesByResult: mergesByResult)
            report.append(("target-size \(target) removed", removed))
        }

        let keptIds = (0..<idCount).filter { kept[$0] }
        report.append(("kept in total", keptIds.count))
        return TokenSelection(keptIds: keptIds, originalIdCount: idCount, report: report)
    }

    /// Ids with a non-zero count, most used first (ties by id).
    static func ranked(_ counts: [UInt64], excluding padding: Set<Int>) -> [Int] {
        (0..<counts.count).filter { counts[$0] > 0 && !padding.contains($0) }
            .sorted { counts[$0] != counts[$1] ? counts[$0] > counts[$1] : $0 < $1 }
    }

    /// The shortest prefix of `ranked` whose counts reach `share` of their total.
    static func covering(_ share: Double, of counts: [UInt64], ranked: [Int]) -> ArraySlice<Int> {
        let total = ranked.reduce(UInt64(0)) { $0 + counts[$1] }
        let needed = UInt64((Double(total) * share).rounded(.up))
        var sum: UInt64 = 0, taken = 0
        while taken < ranked.count && sum < needed { sum += counts[ranked[taken]]; taken += 1 }
        return ranked.prefix(taken)
    }

    static func mergesByResult(_ merges: [Merge], idCount: Int) -> [[Int]] {
        var byResult = [[Int]](repeating: [], count: idCount)
        for (index, merge) in merges.enumerated() { byResult[Int(merge.result)].append(index) }
        return byResult
    }

    /// Removes leaves of the merge tree (kept tokens that no kept merge uses as a part) until `target` remain,
    /// lowest weight first (ties: highest id, the latest merge, first). A removed token's weight goes to its two
    /// parts, since text that used it will now use them.
    func trim(_ kept: inout [Bool], to target: Int, weights: [Double], required: [Bool], mergesByResult: [[Int]]) throws -> Int {
        let merges = vocabulary.merges
        var keptCount = kept.reduce(0) { $0 + ($1 ? 1 : 0) }
        let requiredCount = required.reduce(0) { $0 + ($1 ? 1 : 0) }
        guard target >= requiredCount else {
            throw PruneError.invalidSelection("target size \(target) is below the \(requiredCount) byte, special, referenced and chat-template tokens that must stay")
        }
        guard keptCount >= target else {
            throw PruneError.invalidSelection("the other rules keep only \(keptCount) tokens, fewer than the target size \(target)")
        }
        var weight = weights
        // How many kept merges use each token as a part.
        var uses = [Int](repeating: 0, count: kept.count)
        for merge in merges where kept[Int(merge.left)] && kept[Int(merge.right)] && kept[Int(merge.result)] {
            uses[Int(merge.left)] += 1
            uses[Int(merge.right)] += 1
        }
        var leaves = Heap<Leaf>()
        for id in kept.indices where kept[id] && uses[id] == 0 && !required[id] { leaves.insert(Leaf(count: weight[id], id: id)) }
        var removed = 0
        while keptCount > target, let id = leaves.popMin()?.id {
            kept[id] = false
            keptCount -= 1
            removed += 1
            var handedOn = false
            for mergeIndex in mergesByResult[id] {
                let merge = merges[mergeIndex]
                let left = Int(merge.left), right = Int(merge.right)
                guard kept[left] && kept[right] else { continue }
                if !handedOn {
                    weight[left] += weight[id]
                    weight[right] += weight[id]
                    handedOn = true
                }
                for part in [left, right] {
                    uses[part] -= 1
                    if uses[part] == 0 && !required[part] { leaves.insert(Leaf(count: weight[part], id: part)) }
                }
            }
        }
        guard keptCount == target else {
            throw PruneError.invalidSelection("cannot reach the target size \(target): \(keptCount) tokens are needed to build the required ones")
        }
        return removed
    }

    func piece(_ id: Int) -> String { ByteLevel.encode(vocabulary.bytes(of: id)) }

    /// Builds the pruned vocabulary (new ids) and checks that every kept token that encodes to itself with the
    /// original vocabulary still does, so that text made of kept tokens tokenizes the same; throws the first
    /// token that would not. Both vocabularies work out which tokens encode to themselves when they load.
    public func verify(_ selection: TokenSelection) throws -> VerifiedSelection {
        let pruned = try prunedVocabulary(selection)
        let newIdOf = selection.newIdOfOldId
        for id in selection.keptIds where vocabulary.encodesToItself(id) && !pruned.encodesToItself(newIdOf[id]) {
            let spelled = pruned.bytePairEncode(vocabulary.bytes(of: id)).map { piece(selection.keptIds[Int($0)]) }.joined(separator: " ")
            throw PruneError.unreachableToken(id: id, piece: piece(id), reason: "the pruned vocabulary encodes it as '\(spelled)'")
        }
        return VerifiedSelection(selection: selection, prunedVocabulary: pruned)
    }

    /// The vocabulary with only the kept ids, renumbered in original order; merges keep their order.
    public func prunedVocabulary(_ selection: TokenSelection) throws -> Vocabulary {
        let newIdOf = selection.newIdOfOldId
        let tokens: [[UInt8]?] = selection.keptIds.map { vocabulary.isToken($0) ? vocabulary.bytes(of: $0) : nil }
        let merges = vocabulary.merges.compactMap { merge -> Merge? in
            let l = newIdOf[Int(merge.left)], r = newIdOf[Int(merge.right)], m = newIdOf[Int(merge.result)]
            return l >= 0 && r >= 0 && m >= 0 ? Merge(left: UInt32(l), right: UInt32(r), result: UInt32(m)) : nil
        }
        let specials = vocabulary.specialTokens.compactMap { special -> SpecialToken? in
            let newId = newIdOf[special.id]
            return newId >= 0 ? SpecialToken(id: newId, text: special.text, isControl: special.isControl) : nil
        }
        do {
            return try Vocabulary(tokens: tokens, merges: merges, specialTokens: specials, source: vocabulary.source + " (pruned)",
                                  preTokenizer: vocabulary.preTokenizer)
        } catch {
            throw PruneError.invalidSelection("the kept tokens do not form a usable vocabulary: \(error)")
        }
    }
}

/// A merge-tree leaf waiting to be trimmed: the lowest weight goes first, the highest id first among equal
/// weights (the newest token of a tie).
struct Leaf: Comparable {
    let count: Double
    let id: Int

    static func < (a: Leaf, b: Leaf) -> Bool { a.count != b.count ? a.count < b.count : a.id > b.id }
}
