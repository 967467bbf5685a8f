import CUnicodeData
import VocabKitIO
#if canImport(Glibc)
import Glibc
#endif

/// A token matched whole in raw text before normalization and pre-tokenization (`<|im_start|>`).
public struct SpecialToken: Sendable, Hashable {
    public let id: Int
    public let text: String
    /// Control tokens (`<|endoftext|>`) versus added tokens (`<think>`); both are matched whole.
    public let isControl: Bool

    public init(id: Int, text: String, isControl: Bool) {
        self.id = id
        self.text = text
        self.isControl = isControl
    }
}

/// A BPE merge: `left` and `right` join into `result`. A merge's position in the list is its rank.
public struct Merge: Sendable, Hashable {
    public let left: UInt32
    public let right: UInt32
    public let result: UInt32

    public init(left: UInt32, right: UInt32, result: UInt32) {
        self.left = left
        self.right = right
        self.result = result
    }
}

/// An immutable byte-level BPE vocabulary: the bytes of each token id, the ranked merges, special tokens,
/// and the lookup tables the encoder needs. Token ids are dense, `0..<idCount`; an id may have no BPE bytes
/// (special tokens, padding rows).
public final class Vocabulary: @unchecked Sendable {
    /// Number of ids (BPE tokens, special tokens and named padding rows).
    public let idCount: Int
    public let specialTokens: [SpecialToken]
    public let merges: [Merge]
    /// Where the vocabulary came from, for messages.
    public let source: String
    /// How text is cut before BPE with this vocabulary.
    public let preTokenizer: PreTokenizer

    // Token bytes: id i spans tokenBytes[tokenOffsets[i] ..< tokenOffsets[i + 1]]; empty for non-BPE ids.
    let tokenBytes: UnsafeMutablePointer<UInt8>
    let tokenOffsets: UnsafeMutablePointer<UInt32>
    /// True for ids whose bytes are a BPE token the encoder may produce.
    let isBPEToken: UnsafeMutablePointer<Bool>
    /// The single-byte token for each byte value.
    let byteTokens: UnsafeMutablePointer<UInt32>
    /// The two-byte token for each pair of bytes (first byte in the low 8 bits), UInt32.max if none: a third
    /// of all pieces are one or two bytes, and these resolve without hashing from a table that stays cached.
    let pairTokens: UnsafeMutablePointer<UInt32>
    let pieceTable: PieceTable
    let mergeTable: MergeTable
    /// The merge of each pair of single-byte tokens (priority << 32 | result, as `MergeTable.lookup` gives it,
    /// or UInt64.max), by their bytes with the first in the low 8 bits: BPE's first round of pair lookups on
    /// text it has not seen, from 512 KB that stay in cache instead of the merge table's megabytes.
    let bytePairMerges: UnsafeMutablePointer<UInt64>
    /// For each token, the lowest rank of a merge with it on the left whose right part starts with a byte
    /// >= 0x80 (resp. on the right, after a part ending with such a byte); UInt32.max if none. These bound
    /// what can join a character to a neighbouring non-ASCII character.
    let lowestRankAsLeft: UnsafeMutablePointer<UInt32>
    let lowestRankAsRight: UnsafeMutablePointer<UInt32>
    /// Every merge ranks after the merges that produce its two parts, so BPE applies merges in rank order.
    /// This lets the encoder merge characters on their own first where that is provably the same.
    package private(set) var mergesAreMonotone = false
    /// Built on first use (by whichever thread gets there first): text without non-ASCII never pays for it.
    private var characterPairStorage: CharacterPairSet?
    private let characterPairLock = Lock()
    var characterPairs: CharacterPairSet {
        characterPairLock.withLock {
            if let stored = characterPairStorage { return stored }
            let built = CharacterPairSet(vocabulary: self)
            characterPairStorage = built
            return built
        }
    }
    /// Tokens whose own bytes do not BPE-encode to themselves; the piece table may not shortcut them.
    private(set) var notSelfEncoding: Set<UInt32>
    /// The same, a bit per id.
    let notSelfEncodingBits: UnsafeMutablePointer<UInt64>

    /// - Parameters:
    ///   - tokens: the bytes of each id, nil for ids that are not BPE tokens.
    ///   - notSelfEncoding: ids whose bytes BPE-encode to something else; nil computes them.
    public convenience init(tokens: [[UInt8]?], merges: [Merge], specialTokens: [SpecialToken], source: String,
                            preTokenizer: PreTokenizer = .qwen2, notSelfEncoding: Set<UInt32>? = nil) throws {
        let total = tokens.reduce(0) { $0 + ($1?.count ?? 0) }
        guard total < Int(UInt32.max) else {
            throw TokenizerError.malformedVocabulary(path: source, reason: "token bytes exceed 4 GiB")
        }
        guard tokens.count <= MergeTable.maximumId + 1 else {
            throw TokenizerError.unsupportedVocabulary(path: source, reason: "\(tokens.count) ids; at most \(MergeTable.maximumId + 1) are supported")
        }
        let blob = UnsafeMutablePointer<UInt8>.allocate(capacity: max(total, 1))
        let offsets = UnsafeMutablePointer<UInt32>.allocate(capacity: tokens.count + 1)
        defer { blob.deallocate(); offsets.deallocate() }
        var at = 0
        for (id, bytes) in tokens.enumerated() {
            offsets[id] = UInt32(at)
            if let bytes {
                for b in bytes { blob[at] = b; at += 1 }
            }
        }
        offsets[tokens.count] = UInt32(at)
        try self.init(blob: UnsafeRawBufferPointer(start: blob, count: total),
                      offsets: UnsafeBufferPointer(start: offsets, count: tokens.count + 1),
                      present: { tokens[$0] != nil }, merges: merges, specialTokens: specialTokens, source: source,
                      preTokenizer: preTokenizer, notSelfEncoding: notSelfEncoding)
    }

    /// Everything is checked before anything is allocated from it: offsets that do not increase or run past
    /// the bytes, ids out of range (a special id of -1 or 10^12 in a file is an error, not a trap or a 4 TB
    /// allocation), merges whose result is not their two parts joined.
    /// - Parameters:
    ///   - blob, offsets: token bytes, id i spanning blob[offsets[i] ..< offsets[i + 1]].
    ///   - present: which ids in `offsets` are BPE tokens.
    init(blob: UnsafeRawBufferPointer, offsets: UnsafeBufferPointer<UInt32>, present: (Int) -> Bool, merges: [Merge],
         specialTokens: [SpecialToken], source: String, preTokenizer: PreTokenizer, notSelfEncoding: Set<UInt32>?) throws {
        func malformed(_ reason: String) -> TokenizerError { .malformedVocabulary(path: source, reason: reason) }
        guard offsets.count >= 1 else { throw malformed("no token offsets") }
        let tokenIds = offsets.count - 1
        guard tokenIds <= MergeTable.maximumId + 1 else {
            throw TokenizerError.unsupportedVocabulary(path: source, reason: "\(tokenIds) ids; at most \(MergeTable.maximumId + 1) are supported")
        }
        for id in 0..<tokenIds where offsets[id] > offsets[id + 1] {
            throw malformed("token offsets decrease at id \(id + 1) (\(offsets[id]) then \(offsets[id + 1]))")
        }
        guard Int(offsets[tokenIds]) <= blob.count else {
            throw malformed("token offsets end at \(offsets[tokenIds]), past the \(blob.count) bytes of token text")
        }
        for special in specialTokens where special.id < 0 || special.id > MergeTable.maximumId {
            throw malformed("special token \(quoted(special.text)) has id \(special.id), outside 0...\(MergeTable.maximumId)")
        }
        idCount = max(tokenIds, (specialTokens.map(\.id).max() ?? -1) + 1)
        self.merges = merges
        self.specialTokens = specialTokens
        self.source = source
        self.preTokenizer = preTokenizer
        tokenBytes = .allocate(capacity: max(blob.count, 1))
        if let base = blob.baseAddress { tokenBytes.update(from: base.assumingMemoryBound(to: UInt8.self), count: blob.count) }
        tokenOffsets = .allocate(capacity: idCount + 1)
        isBPEToken = .allocate(capacity: idCount)
        isBPEToken.initialize(repeating: false, count: idCount)
        for id in 0..<idCount {
            if id < tokenIds {
                tokenOffsets[id] = offsets[id]
                isBPEToken[id] = present(id) && offsets[id + 1] > offsets[id]
            } else {
                tokenOffsets[id] = offsets[tokenIds]
            }
        }
        tokenOffsets[idCount] = offsets[tokenIds]
        for special in specialTokens { isBPEToken[special.id] = false }
        byteTokens = .allocate(capacity: 256)
        byteTokens.initialize(repeating: UInt32.max, count: 256)
        pairTokens = .allocate(capacity: 1 << 16)
        pairTokens.initialize(repeating: UInt32.max, count: 1 << 16)
        pieceTable = PieceTable(capacity: idCount)
        for id in 0..<idCount where isBPEToken[id] {
            let start = Int(tokenOffsets[id]), end = Int(tokenOffsets[id + 1])
            if end - start == 1 { byteTokens[Int(tokenBytes[start])] = UInt32(id) }
            if end - start == 2 {
                let pair = Int(tokenBytes[start]) | Int(tokenBytes[start + 1]) << 8
                if pairTokens[pair] == UInt32.max { pairTokens[pair] = UInt32(id) }  // first id wins, as in the piece table
            }
            pieceTable.insert(id: UInt32(id), bytes: tokenBytes + start, count: end - start, blob: tokenBytes, offsets: tokenOffsets)
        }
        let rankFollowsResult = zip(merges, merges.dropFirst()).allSatisfy { $0.result < $1.result }
        mergeTable = MergeTable(capacity: merges.count, idCount: idCount, rankFollowsResult: rankFollowsResult)
        bytePairMerges = .allocate(capacity: 1 << 16)
        bytePairMerges.initialize(repeating: UInt64.max, count: 1 << 16)
        lowestRankAsLeft = .allocate(capacity: idCount)
        lowestRankAsLeft.initialize(repeating: UInt32.max, count: idCount)
        lowestRankAsRight = .allocate(capacity: idCount)
        lowestRankAsRight.initialize(repeating: UInt32.max, count: idCount)
        self.notSelfEncoding = []
        notSelfEncodingBits = .allocate(capacity: idCount / 64 + 1)
        notSelfEncodingBits.initialize(repeating: 0, count: idCount / 64 + 1)
        guard idCount <= MergeTable.maximumId else {
            throw TokenizerError.unsupportedVocabulary(path: source, reason: "\(idCount) ids; at most \(MergeTable.maximumId) are supported")
        }
        if let missing = (0..<256).first(where: { byteTokens[$0] == UInt32.max }) {
            throw TokenizerError.unsupportedVocabulary(
                path: source, reason: "no token for byte 0x\(String(missing, radix: 16)); every byte needs one")
        }
        for (rank, m) in merges.enumerated() {
            guard Int(m.left) < idCount, Int(m.right) < idCount, Int(m.result) < idCount,
                  isBPEToken[Int(m.left)], isBPEToken[Int(m.right)], isBPEToken[Int(m.result)] else {
                throw TokenizerError.malformedVocabulary(path: source, reason: "merge \(rank) names a token that does not exist")
            }
            let l = Int(tokenOffsets[Int(m.left)]), lc = Int(tokenOffsets[Int(m.left) + 1]) - l
            let r = Int(tokenOffsets[Int(m.right)]), rc = Int(tokenOffsets[Int(m.right) + 1]) - r
            let j = Int(tokenOffsets[Int(m.result)]), jc = Int(tokenOffsets[Int(m.result) + 1]) - j
            guard jc == lc + rc, memcmp(tokenBytes + j, tokenBytes + l, lc) == 0, memcmp(tokenBytes + j + lc, tokenBytes + r, rc) == 0 else {
                throw TokenizerError.malformedVocabulary(
                    path: source, reason: "merge \(rank): tokens \(m.left) and \(m.right) joined are not token \(m.result)")
            }
            mergeTable.insert(left: m.left, right: m.right, rank: UInt32(rank), result: m.result)
            if lc == 1 && rc == 1 {
                let pair = Int(tokenBytes[l]) | Int(tokenBytes[r]) << 8
                // As the merge table does: a repeated pair keeps its first rank; the byte must map to this token.
                if bytePairMerges[pair] == UInt64.max && byteTokens[Int(tokenBytes[l])] == m.left && byteTokens[Int(tokenBytes[r])] == m.right {
                    bytePairMerges[pair] = UInt64(rankFollowsResult ? m.result : UInt32(rank)) << 32 | UInt64(m.result)
                }
            }
        }
        var producedAt = [Int32](repeating: -1, count: idCount)
        var monotone = true
        for (rank, m) in merges.enumerated() {
            // In the merge table's priority units (result ids when those follow ranks), as the encoder compares.
            let r = rankFollowsResult ? m.result : UInt32(rank)
            let rightStartsHigh = tokenBytes[Int(tokenOffsets[Int(m.right)])] >= 0x80
            let leftEndsHigh = tokenBytes[Int(tokenOffsets[Int(m.left) + 1]) - 1] >= 0x80
            if rightStartsHigh && r < lowestRankAsLeft[Int(m.left)] { lowestRankAsLeft[Int(m.left)] = r }
            if leftEndsHigh && r < lowestRankAsRight[Int(m.right)] { lowestRankAsRight[Int(m.right)] = r }
            if producedAt[Int(m.left)] >= Int32(rank) || producedAt[Int(m.right)] >= Int32(rank) { monotone = false }
            if producedAt[Int(m.result)] < 0 { producedAt[Int(m.result)] = Int32(rank) }
        }
        mergesAreMonotone = monotone
        if let given = notSelfEncoding, let bad = given.first(where: { Int($0) >= idCount || !isBPEToken[Int($0)] }) {
            throw malformed("id \(bad), listed as not encoding to itself, is not a token")
        }
        self.notSelfEncoding = notSelfEncoding ?? computeNotSelfEncoding()
        for id in self.notSelfEncoding { notSelfEncodingBits[Int(id) >> 6] |= 1 << UInt64(id & 63) }
        // Whole two-byte pieces resolve through `pairTokens`; a token BPE does not reproduce must not, unless
        // whole pieces skip the merges.
        if !preTokenizer.ignoresMerges {
            for id in self.notSelfEncoding {
                let start = Int(tokenOffsets[Int(id)])
                if tokenOffsets[Int(id) + 1] - tokenOffsets[Int(id)] == 2 {
                    pairTokens[Int(tokenBytes[start]) | Int(tokenBytes[start + 1]) << 8] = UInt32.max
                }
            }
        }
    }

    /// Ids whose own bytes BPE-encode to other tokens; such a token is never produced whole.
    private func computeNotSelfEncoding() -> Set<UInt32> {
        var result = Set<UInt32>()
        var bpe = BytePairEncoder(vocabulary: self)
        var out = TokenBuffer()
        for id in 0..<idCount where isBPEToken[id] {
            let start = Int(tokenOffsets[id]), end = Int(tokenOffsets[id + 1])
            guard end - start > 1 else { continue }
            out.count = 0
            bpe.encodeWithMerges(tokenBytes + start, end - start, into: &out)
            if out.count != 1 || out[0] != UInt32(id) { result.insert(UInt32(id)) }
        }
        return result
    }

    deinit {
        tokenBytes.deallocate()
        tokenOffsets.deallocate()
        isBPEToken.deallocate()
        byteTokens.deallocate()
        pairTokens.deallocate()
        bytePairMerges.deallocate()
        notSelfEncodingBits.deallocate()
        lowestRankAsLeft.deallocate()
        lowestRankAsRight.deallocate()
    }

    /// The bytes of a token id (empty for ids with no bytes); special tokens give their text.
    public func bytes(of id: Int) -> [UInt8] {
        guard id >= 0, id < idCount else { return [] }
        if !isBPEToken[id], let special = specialTokens.first(where: { $0.id == id }) { return Array(special.text.utf8) }
        let start = Int(tokenOffsets[id]), end = Int(tokenOffsets[id + 1])
        return Array(UnsafeBufferPointer(start: tokenBytes + start, count: end - start))
    }

    /// Appends the bytes of `id` (a special token's text) to `out`; throws for an id outside the vocabulary.
    func appendBytes(of id: TokenID, to out: inout [UInt8]) throws {
        let i = Int(id)
        guard i < idCount else { throw TokenizerError.unknownTokenId(i) }
        if isBPEToken[i] {
            let start = Int(tokenOffsets[i]), end = Int(tokenOffsets[i + 1])
            out.append(contentsOf: UnsafeBufferPointer(start: tokenBytes + start, count: end - start))
        } else {
            out.append(contentsOf: bytes(of: i))
        }
    }

    /// Whether `id` is a BPE token (not special, not padding).
    public func isToken(_ id: Int) -> Bool { id >= 0 && id < idCount && isBPEToken[id] }

    /// Whether BPE over the token's own bytes gives the token back (computed at load, or shipped in .vkv);
    /// a token that does not is never produced.
    public func encodesToItself(_ id: Int) -> Bool { isToken(id) && !notSelfEncoding.contains(UInt32(id)) }

    /// The id whose bytes are exactly `bytes`, if any.
    public func id(of bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { buf -> Int? in
            guard let base = buf.baseAddress else { return nil }
            let id = pieceTable.find(PieceKey(base, buf.count, readable: buf.count), base, blob: tokenBytes, offsets: tokenOffsets)
            return id == UInt32.max ? nil : Int(id)
        }
    }

    /// Number of BPE tokens (ids with bytes).
    public var bpeTokenCount: Int { (0..<idCount).reduce(0) { $0 + (isBPEToken[$1] ? 1 : 0) } }
}

/// Open-addressing table from a token pair to its merge, one 64-bit word per slot (left, right and result
/// ids of 21 bits each) so that a probe touches one cache line: BPE speed is bound by these probes.
final class MergeTable: @unchecked Sendable {
    let slots: UnsafeMutablePointer<UInt64>
    let mask: Int
    /// Rank of the merge producing each result, when ranks do not simply follow result ids.
    private let rankOfResult: UnsafeMutablePointer<UInt32>?
    /// Per token: bit 0 if it is the left part of some merge, bit 1 if the right part. A 150 KB array that
    /// stays in cache answers most failed lookups (CJK word tokens rarely merge further) without a probe.
    private let roles: UnsafeMutablePointer<UInt8>
    private let slotMemory: LargeTable
    static let idBits: UInt64 = 21
    static let idMask: UInt64 = (1 << 21) - 1
    static let maximumId = (1 << 21) - 2

    /// - Parameter rankFollowsResult: merges' results increase with rank (as in Qwen's vocabulary), so
    ///   comparing result ids compares ranks.
    init(capacity: Int, idCount: Int, rankFollowsResult: Bool) {
        var size = 16
        while size * 5 < capacity * 8 { size <<= 1 }  // load factor at most 5/8
        slotMemory = LargeTable(bytes: size * 8)
        slots = slotMemory.base.bindMemory(to: UInt64.self, capacity: size)
        slots.update(repeating: UInt64.max, count: size)
        mask = size - 1
        roles = .allocate(capacity: idCount)
        roles.initialize(repeating: 0, count: idCount)
        if rankFollowsResult {
            rankOfResult = nil
        } else {
            rankOfResult = .allocate(capacity: idCount)
            rankOfResult!.initialize(repeating: UInt32.max, count: idCount)
        }
    }

    deinit {
        slotMemory.release()
        roles.deallocate()
        rankOfResult?.deallocate()
    }

    @inline(__always)
    func slot(_ key: UInt64) -> Int {
        var h = key &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        return Int(truncatingIfNeeded: h) & mask
    }

    func insert(left: UInt32, right: UInt32, rank: UInt32, result: UInt32) {
        let key = UInt64(left) << MergeTable.idBits | UInt64(right)
        var i = slot(key)
        while slots[i] != UInt64.max {
            if slots[i] >> MergeTable.idBits == key { return }  // a repeated pair keeps its best (first) rank
            i = (i + 1) & mask
        }
        slots[i] = key << MergeTable.idBits | UInt64(result)
        roles[Int(left)] |= 1
        roles[Int(right)] |= 2
        if let rankOfResult, rankOfResult[Int(result)] == UInt32.max { rankOfResult[Int(result)] = rank }
    }

    /// A priority (the rank, or the result id when that orders the same) in the high half and the result in
    /// the low half, or UInt64.max if the pair does not merge.
    @inline(__always)
    func lookup(_ left: UInt32, _ right: UInt32) -> UInt64 {
        if roles[Int(left)] & 1 == 0 || roles[Int(right)] & 2 == 0 { return UInt64.max }
        let key = UInt64(left) << MergeTable.idBits | UInt64(right)
        var i = slot(key)
        while true {
            let s = slots[i]
            if s >> MergeTable.idBits == key {
                let result = s & MergeTable.idMask
                let priority = rankOfResult.map { UInt64($0[Int(result)]) } ?? result
                return priority << 32 | result
            }
            if s == UInt64.max { return UInt64.max }
            i = (i + 1) & mask
        }
    }

    /// Starts loading the slot where `lookup(left, right)` probes first.
    @inline(__always)
    func prefetch(_ left: UInt32, _ right: UInt32) {
        vk_prefetch(slots + slot(UInt64(left) << MergeTable.idBits | UInt64(right)))
    }
}

extension Vocabulary {
    /// Merge-rank BPE of raw bytes, bypassing the whole-piece lookup. `forceHeap` selects the algorithm used
    /// for long pieces, so tests can check that both agree.
    package func bytePairEncode(_ bytes: [UInt8], forceHeap: Bool = false) -> [TokenID] {
        var bpe = BytePairEncoder(vocabulary: self)
        var out = TokenBuffer()
        bytes.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { bpe.encodeWithMerges(base, b.count, into: &out, forceHeap: forceHeap) }
        }
        return Array(UnsafeBufferPointer(start: out.base, count: out.count))
    }

    /// Merge-rank BPE of raw bytes on one heap however long they are (`windowed` false), or window by window
    /// with the given window and margin (see `WindowState`), encoding windows ahead on `threads` threads; with
    /// the number of joins that failed and were repaired, and of windows taken from those encoded ahead.
    package func bytePairEncode(_ bytes: [UInt8], windowed: Bool, windowBytes: Int = 1 << 14,
                                windowMargin: Int = 1 << 10, threads: Int = 1) -> (ids: [TokenID], repairs: Int, takenAhead: Int) {
        var bpe = BytePairEncoder(vocabulary: self)
        bpe.windowBytes = windowBytes
        bpe.windowMargin = windowMargin
        bpe.longPieceThreads = threads
        var out = TokenBuffer()
        bytes.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { bpe.encodeWithMerges(base, b.count, into: &out, forceHeap: true, windowed: windowed) }
        }
        return (Array(UnsafeBufferPointer(start: out.base, count: out.count)), bpe.windowRepairs, bpe.windowsTakenAhead)
    }
}

extension Vocabulary {
    /// Merge-rank BPE of raw bytes by the bucket queue that long pieces' windows use (`RankBuckets`), however
    /// long they are; tests compare it with the heap (`bytePairEncode(_:windowed: false)`). `byHeap`: the merges
    /// came out of rank order and the heap encoded the bytes instead.
    package func bytePairEncodeByBuckets(_ bytes: [UInt8]) -> (ids: [TokenID], byHeap: Bool) {
        var bpe = BytePairEncoder(vocabulary: self)
        var out = TokenBuffer()
        let buckets = RankBuckets()
        bytes.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { bpe.encodeByBuckets(base, b.count, into: &out, buckets) }
        }
        return (Array(UnsafeBufferPointer(start: out.base, count: out.count)), buckets.outOfOrder)
    }
}

extension Vocabulary {
    /// The tokens `character` starts BPE as when the encoder may merge it on its own first, or nil when it
    /// starts as bytes (see BytePairEncoder.initialSymbols).
    package func premergedTokens(of character: Unicode.Scalar) -> [Int]? {
        guard mergesAreMonotone else { return nil }
        let bpe = BytePairEncoder(vocabulary: self)
        let bytes = Array(String(character).utf8)
        guard bytes.count > 1 else { return nil }
        let packed = bytes.withUnsafeBufferPointer { bpe.premergedCharacter($0.baseAddress!, $0.count) }
        let count = Int(packed >> 62)
        if count == 0 { return nil }
        return count == 1 ? [Int(packed & 0x3FFF_FFFF)] : [Int(packed & 0x7FFF_FFFF), Int((packed >> 31) & 0x7FFF_FFFF)]
    }
}
