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

    // Token bytes: id i spans tokenBytes[tokenOffsets[i] ..< tokenOffsets[i + 1]]; empty for non-BPE ids.
    let tokenBytes: UnsafeMutablePointer<UInt8>
    let tokenOffsets: UnsafeMutablePointer<UInt32>
    /// True for ids whose bytes are a BPE token the encoder may produce.
    let isBPEToken: UnsafeMutablePointer<Bool>
    /// The single-byte token for each byte value.
    let byteTokens: UnsafeMutablePointer<UInt32>
    let pieceTable: PieceTable
    let mergeTable: MergeTable
    /// Tokens whose own bytes do not BPE-encode to themselves; the piece table may not shortcut them.
    private(set) var notSelfEncoding: Set<UInt32>

    /// - Parameters:
    ///   - tokens: the bytes of each id, nil for ids that are not BPE tokens.
    ///   - notSelfEncoding: ids whose bytes BPE-encode to something else; nil computes them.
    public convenience init(tokens: [[UInt8]?], merges: [Merge], specialTokens: [SpecialToken], source: String,
                            notSelfEncoding: Set<UInt32>? = nil) throws {
        let total = tokens.reduce(0) { $0 + ($1?.count ?? 0) }
        guard total < Int(UInt32.max) else {
            throw TokenizerError.malformedVocabulary(path: source, reason: "token bytes exceed 4 GiB")
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
                      notSelfEncoding: notSelfEncoding)
    }

    /// - Parameters:
    ///   - blob, offsets: token bytes, id i spanning blob[offsets[i] ..< offsets[i + 1]].
    ///   - present: which ids in `offsets` are BPE tokens.
    init(blob: UnsafeRawBufferPointer, offsets: UnsafeBufferPointer<UInt32>, present: (Int) -> Bool, merges: [Merge],
         specialTokens: [SpecialToken], source: String, notSelfEncoding: Set<UInt32>?) throws {
        let tokenIds = offsets.count - 1
        idCount = max(tokenIds, (specialTokens.map(\.id).max() ?? -1) + 1)
        self.merges = merges
        self.specialTokens = specialTokens
        self.source = source
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
        pieceTable = PieceTable(capacity: idCount)
        for id in 0..<idCount where isBPEToken[id] {
            let start = Int(tokenOffsets[id]), end = Int(tokenOffsets[id + 1])
            if end - start == 1 { byteTokens[Int(tokenBytes[start])] = UInt32(id) }
            pieceTable.insert(id: UInt32(id), bytes: tokenBytes + start, count: end - start, blob: tokenBytes, offsets: tokenOffsets)
        }
        mergeTable = MergeTable(capacity: merges.count)
        self.notSelfEncoding = []
        if let missing = (0..<256).first(where: { byteTokens[$0] == UInt32.max }) {
            throw TokenizerError.unsupportedVocabulary(
                path: source, reason: "no token for byte 0x\(String(missing, radix: 16)); every byte needs one")
        }
        for (rank, m) in merges.enumerated() {
            guard Int(m.left) < idCount, Int(m.right) < idCount, Int(m.result) < idCount,
                  isBPEToken[Int(m.left)], isBPEToken[Int(m.right)], isBPEToken[Int(m.result)] else {
                throw TokenizerError.malformedVocabulary(path: source, reason: "merge \(rank) names a token that does not exist")
            }
            mergeTable.insert(left: m.left, right: m.right, rank: UInt32(rank), result: m.result)
        }
        self.notSelfEncoding = notSelfEncoding ?? computeNotSelfEncoding()
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
    }

    /// The bytes of a token id (empty for ids with no bytes); special tokens give their text.
    public func bytes(of id: Int) -> [UInt8] {
        guard id >= 0, id < idCount else { return [] }
        if !isBPEToken[id], let special = specialTokens.first(where: { $0.id == id }) { return Array(special.text.utf8) }
        let start = Int(tokenOffsets[id]), end = Int(tokenOffsets[id + 1])
        return Array(UnsafeBufferPointer(start: tokenBytes + start, count: end - start))
    }

    /// Whether `id` is a BPE token (not special, not padding).
    public func isToken(_ id: Int) -> Bool { id >= 0 && id < idCount && isBPEToken[id] }

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

/// Open-addressing table from a token pair to its merge (rank and result).
final class MergeTable: @unchecked Sendable {
    let keys: UnsafeMutablePointer<UInt64>
    /// High 32 bits rank, low 32 bits result id.
    let values: UnsafeMutablePointer<UInt64>
    let mask: Int
    static let empty = UInt64.max

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        keys = .allocate(capacity: size)
        keys.initialize(repeating: MergeTable.empty, count: size)
        values = .allocate(capacity: size)
        values.initialize(repeating: 0, count: size)
        mask = size - 1
    }

    deinit {
        keys.deallocate()
        values.deallocate()
    }

    @inline(__always)
    func slot(_ key: UInt64) -> Int {
        var h = key &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 32
        return Int(truncatingIfNeeded: h) & mask
    }

    func insert(left: UInt32, right: UInt32, rank: UInt32, result: UInt32) {
        let key = UInt64(left) << 32 | UInt64(right)
        var i = slot(key)
        while keys[i] != MergeTable.empty {
            if keys[i] == key { return }  // a repeated pair keeps its best (first) rank
            i = (i + 1) & mask
        }
        keys[i] = key
        values[i] = UInt64(rank) << 32 | UInt64(result)
    }

    /// Rank in the high half and result in the low half, or UInt64.max if the pair does not merge.
    @inline(__always)
    func lookup(_ left: UInt32, _ right: UInt32) -> UInt64 {
        let key = UInt64(left) << 32 | UInt64(right)
        var i = slot(key)
        while true {
            let k = keys[i]
            if k == key { return values[i] }
            if k == MergeTable.empty { return UInt64.max }
            i = (i + 1) & mask
        }
    }
}

extension Vocabulary {
    /// Merge-rank BPE of raw bytes, bypassing the whole-piece lookup. `forceHeap` selects the algorithm used
    /// for long pieces, so tests can check that both agree.
    public func bytePairEncode(_ bytes: [UInt8], forceHeap: Bool = false) -> [Int] {
        var bpe = BytePairEncoder(vocabulary: self)
        var out = TokenBuffer()
        bytes.withUnsafeBufferPointer { b in
            if let base = b.baseAddress { bpe.encodeWithMerges(base, b.count, into: &out, forceHeap: forceHeap) }
        }
        return (0..<out.count).map { Int(out[$0]) }
    }
}
