#if canImport(Glibc)
import Glibc
#endif
import CUnicodeData

/// The hash and first eight bytes of a piece, computed once and used by both the vocabulary table and the
/// per-thread cache. Pieces of up to eight bytes (most of them) then compare as one integer.
struct PieceKey {
    let hash: UInt64
    /// The first min(count, 8) bytes, little-endian, zero-padded.
    let word: UInt64
    /// Bytes 8..<min(count, 16), zero-padded (zero for pieces of eight bytes or fewer): with `word`, pieces of
    /// up to sixteen bytes compare as two integers in the encoder's hot cache.
    let word2: UInt64
    let count: Int

    /// `readable` is how many bytes may be read from `p` (at least `count`); with sixteen or more the two
    /// words are plain unaligned loads.
    @inline(__always)
    init(_ p: UnsafePointer<UInt8>, _ n: Int, readable: Int) {
        count = n
        let raw = UnsafeRawPointer(p)
        var w: UInt64, w2: UInt64 = 0
        if readable >= 16 {
            w = raw.loadUnaligned(as: UInt64.self)
            if n < 8 {
                w &= (1 &<< UInt64(n &* 8)) &- 1
            } else if n > 8 {
                w2 = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                if n < 16 { w2 &= (1 &<< UInt64((n &- 8) &* 8)) &- 1 }
            }
        } else {
            w = 0
            for k in 0..<min(n, 8) { w |= UInt64(p[k]) &<< UInt64(k &* 8) }
            if n > 8 { for k in 8..<min(n, 16) { w2 |= UInt64(p[k]) &<< UInt64((k &- 8) &* 8) } }
        }
        word = w
        word2 = w2
        var h = (w ^ (UInt64(truncatingIfNeeded: n) &* 0x9E37_79B9_7F4A_7C15)) &* 0xBF58_476D_1CE4_E5B9
        if n > 8 {
            // Eight bytes at a time after the first word; the last partial word zero-padded.
            h ^= h >> 29
            h = (h ^ w2) &* 0x94D0_49BB_1331_11EB
            var i = 16
            while i + 8 <= n {
                h ^= h >> 29
                h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x94D0_49BB_1331_11EB
                i += 8
            }
            if i < n {
                var tail: UInt64 = 0
                var shift: UInt64 = 0
                while i < n {
                    tail |= UInt64(p[i]) &<< shift
                    shift &+= 8
                    i += 1
                }
                h ^= h >> 29
                h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
            }
        }
        h ^= h >> 32
        hash = h
    }

    /// High 32 bits of a slot: 24 bits of hash and the length (capped at 255).
    @inline(__always)
    var tag: UInt64 { (hash >> 40) << 8 | UInt64(min(count, 255)) }
}

/// Open-addressing table from token bytes to id. A slot holds the token's first sixteen bytes as two words and
/// its length, keyed like the encoder's hot table, so a piece of up to sixteen bytes (most of them) resolves
/// with the two words the encoder already holds: one probe of one cache line, no hash of the bytes, and no
/// visit to the token text (which cost two more cache misses for tokens of 9 to 16 bytes). Longer tokens
/// compare the rest of their bytes with the token text.
final class PieceTable: @unchecked Sendable {
    /// Buckets of two 32-byte slots, one cache line each: the first eight bytes, the next eight (zero-padded),
    /// length | id << 32 (zero = empty: a token has at least one byte), and an unused word. A full bucket
    /// continues in the next one.
    let slots: UnsafeMutablePointer<UInt64>
    let bucketBits: Int
    let bucketMask: Int
    private let memory: LargeTable

    init(capacity: Int) {
        var bits = 3
        while (1 << bits) * 2 * 5 < capacity * 8 { bits += 1 }  // at most 5/8 of the slots used: 8 MB for Qwen
        bucketBits = bits
        bucketMask = (1 << bits) - 1
        // Zeroed memory is empty, so fresh pages need no initialising pass.
        memory = LargeTable(bytes: 64 << bits)
        slots = memory.base.bindMemory(to: UInt64.self, capacity: 8 << bits)
    }

    deinit { memory.release() }

    /// The bucket where a piece's probe starts, from its words (the first sixteen bytes) and length.
    @inline(__always)
    func bucket(_ w0: UInt64, _ w1: UInt64, _ n: Int) -> Int {
        let h = (w0 ^ (w1 &* 0x94D0_49BB_1331_11EB) ^ UInt64(truncatingIfNeeded: n) &* 0x9E37_79B9_7F4A_7C15) &* 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: h &>> UInt64(64 &- bucketBits))
    }

    /// Adds `id` unless an earlier id has the same bytes (the first wins); returns whether it was added.
    @discardableResult
    func insert(id: UInt32, bytes: UnsafePointer<UInt8>, count: Int, blob: UnsafePointer<UInt8>, offsets: UnsafePointer<UInt32>) -> Bool {
        let (w0, w1) = HotPieces.words(bytes, min(count, HotPieces.maxBytes), readable: count)
        let meta = UInt64(truncatingIfNeeded: count) | UInt64(id) << 32
        var b = bucket(w0, w1, count)
        while true {
            let s = slots + 8 &* b
            for k in 0..<2 {
                let slot = s + 4 &* k
                if slot[2] == 0 {
                    slot[0] = w0
                    slot[1] = w1
                    slot[2] = meta
                    return true
                }
                if slot[0] == w0 && slot[1] == w1 && UInt32(truncatingIfNeeded: slot[2]) == UInt32(truncatingIfNeeded: count) {
                    if count <= HotPieces.maxBytes { return false }  // first id wins
                    let other = Int(slot[2] >> 32), start = Int(offsets[other])
                    if memcmp(blob + start + HotPieces.maxBytes, bytes + HotPieces.maxBytes, count - HotPieces.maxBytes) == 0 { return false }
                }
            }
            b = (b &+ 1) & bucketMask
        }
    }

    /// The id whose bytes equal `p[0..<key.count]`, or UInt32.max.
    @inline(__always)
    func find(_ key: PieceKey, _ p: UnsafePointer<UInt8>, blob: UnsafePointer<UInt8>, offsets: UnsafePointer<UInt32>) -> UInt32 {
        find(key.word, key.word2, key.count, p, blob: blob, offsets: offsets)
    }

    /// Starts loading the bucket where `find(w0, w1, n, ...)` probes first.
    @inline(__always)
    func prefetch(_ w0: UInt64, _ w1: UInt64, _ n: Int) {
        vk_prefetch(slots + 8 &* bucket(w0, w1, n))
    }

    /// The id whose bytes equal `p[0..<n]`, given the piece's first sixteen bytes as two zero-padded words
    /// (`HotPieces.words`), or UInt32.max.
    @inline(__always)
    func find(_ w0: UInt64, _ w1: UInt64, _ n: Int, _ p: UnsafePointer<UInt8>, blob: UnsafePointer<UInt8>,
              offsets: UnsafePointer<UInt32>) -> UInt32 {
        let length = UInt32(truncatingIfNeeded: n)
        var b = bucket(w0, w1, n)
        while true {
            let s = slots + 8 &* b
            for k in 0..<2 {
                let slot = s + 4 &* k
                let meta = slot[2]
                if meta == 0 { return UInt32.max }
                if slot[0] == w0 && slot[1] == w1 && UInt32(truncatingIfNeeded: meta) == length {
                    let id = UInt32(truncatingIfNeeded: meta &>> 32)
                    if n <= HotPieces.maxBytes { return id }
                    let start = Int(offsets[Int(id)])
                    if memcmp(blob + start + HotPieces.maxBytes, p + HotPieces.maxBytes, n - HotPieces.maxBytes) == 0 { return id }
                }
            }
            b = (b &+ 1) & bucketMask
        }
    }
}

/// A per-thread cache of pieces and their ids: pieces that are not single tokens (a repeated identifier is
/// merged once) and every piece of more than 16 bytes (a CJK run is looked up once instead of segmented and
/// looked up part by part). Cleared when full, which bounds its memory (20 MB at most; zeroed memory is
/// empty, so pages are only touched as entries arrive).
struct MissCache: ~Copyable {
    static let slotCount = 1 << 18
    static let maxPieceBytes = 256
    private let slots: UnsafeMutablePointer<UInt64>      // tag << 32 | arena offset + 1; 0 = empty
    private let words: UnsafeMutablePointer<UInt64>
    /// Entries: piece length, id count, piece bytes (padded to 4), ids.
    private let arena: UnsafeMutablePointer<UInt32>
    private let arenaCapacity = 1 << 22
    private var arenaUsed = 0
    private var used = 0

    private let memory: (slots: LargeTable, words: LargeTable, arena: LargeTable)

    init() {
        memory = (LargeTable(bytes: MissCache.slotCount * 8), LargeTable(bytes: MissCache.slotCount * 8),
                  LargeTable(bytes: (1 << 22) * 4))
        slots = memory.slots.base.bindMemory(to: UInt64.self, capacity: MissCache.slotCount)
        words = memory.words.base.bindMemory(to: UInt64.self, capacity: MissCache.slotCount)
        arena = memory.arena.base.bindMemory(to: UInt32.self, capacity: arenaCapacity)
    }

    deinit {
        memory.slots.release()
        memory.words.release()
        memory.arena.release()
    }

    /// Starts loading the slot where `lookup(key, ...)` probes first.
    @inline(__always)
    func prefetch(_ key: PieceKey) {
        vk_prefetch(slots + (Int(truncatingIfNeeded: key.hash) & (MissCache.slotCount - 1)))
    }

    /// Appends the cached ids for the piece to `out` and returns true, or returns false.
    @inline(__always)
    func lookup(_ key: PieceKey, _ p: UnsafePointer<UInt8>, into out: inout TokenBuffer) -> Bool {
        let mask = MissCache.slotCount - 1
        var i = Int(truncatingIfNeeded: key.hash) & mask
        let tag = key.tag
        while true {
            let slot = slots[i]
            if slot == 0 { return false }
            if slot >> 32 == tag && words[i] == key.word {
                let at = Int(UInt32(truncatingIfNeeded: slot)) - 1
                let n = Int(arena[at]), idCount = Int(arena[at + 1])
                let bytes = UnsafeRawPointer(arena + at + 2).assumingMemoryBound(to: UInt8.self)
                if n == key.count && (n <= 8 || memcmp(bytes + 8, p + 8, n - 8) == 0) {
                    out.append(arena + at + 2 + (n + 3) / 4, count: idCount)
                    return true
                }
            }
            i = (i + 1) & mask
        }
    }

    mutating func insert(_ key: PieceKey, _ p: UnsafePointer<UInt8>, ids: UnsafePointer<UInt32>, count idCount: Int) {
        guard key.count <= MissCache.maxPieceBytes else { return }
        let need = 2 + (key.count + 3) / 4 + idCount
        guard need <= arenaCapacity / 4 else { return }
        if arenaUsed + need > arenaCapacity || used * 2 >= MissCache.slotCount {
            slots.update(repeating: 0, count: MissCache.slotCount)
            arenaUsed = 0
            used = 0
        }
        let at = arenaUsed
        arena[at] = UInt32(key.count)
        arena[at + 1] = UInt32(idCount)
        UnsafeMutableRawPointer(arena + at + 2).copyMemory(from: p, byteCount: key.count)
        (arena + at + 2 + (key.count + 3) / 4).update(from: ids, count: idCount)
        arenaUsed += need
        let mask = MissCache.slotCount - 1
        var i = Int(truncatingIfNeeded: key.hash) & mask
        while slots[i] != 0 { i = (i + 1) & mask }
        slots[i] = key.tag << 32 | UInt64(at + 1)
        words[i] = key.word
        used += 1
    }
}

/// The pairs of adjacent whole characters that occur inside some token (as "中国" does), as an open-addressing
/// set of (first scalar << 32 | second scalar).
final class CharacterPairSet: @unchecked Sendable {
    private let keys: UnsafeMutablePointer<UInt64>
    private let mask: Int

    init(vocabulary v: Vocabulary) {
        var pairs = [UInt64]()
        for id in 0..<v.idCount where v.isBPEToken[id] {
            let start = Int(v.tokenOffsets[id]), end = Int(v.tokenOffsets[id + 1])
            guard end - start >= 4 else { continue }
            var i = start
            var previous: UInt32 = 0
            while i < end {
                let b = v.tokenBytes[i]
                let length = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0
                guard length > 1, i + length <= end,
                      (1..<length).allSatisfy({ v.tokenBytes[i + $0] & 0xC0 == 0x80 }) else {
                    previous = 0
                    i += 1
                    continue
                }
                let (scalar, _) = UTF8Scalar.decode(UnsafePointer(v.tokenBytes), i)
                if previous != 0 { pairs.append(UInt64(previous) << 32 | UInt64(scalar)) }
                previous = scalar
                i += length
            }
        }
        var size = 16
        while size < pairs.count * 2 { size <<= 1 }
        keys = .allocate(capacity: size)
        keys.initialize(repeating: 0, count: size)
        mask = size - 1
        for key in pairs {
            var slot = CharacterPairSet.slot(key, mask)
            while keys[slot] != 0 && keys[slot] != key { slot = (slot + 1) & mask }
            keys[slot] = key
        }
    }

    deinit { keys.deallocate() }

    @inline(__always)
    static func slot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 32) & mask
    }

    @inline(__always)
    func contains(_ first: UInt32, _ second: UInt32) -> Bool {
        let key = UInt64(first) << 32 | UInt64(second)
        var slot = CharacterPairSet.slot(key, mask)
        while true {
            let k = keys[slot]
            if k == key { return true }
            if k == 0 { return false }
            slot = (slot + 1) & mask
        }
    }
}

/// The encoder's first stop for pieces of 3 to 16 bytes (the direct tables take 1 and 2): each piece's bytes
/// and its ids (up to three, so most identifiers and words that are not one token resolve here too), in a
/// two-way set-associative table of 65,536 slots (2 MB: two slots per cache line, so a probe touches one
/// line). A piece's ids depend on its bytes alone, so an entry stays right forever; a full set replaces its
/// second slot. Zeroed memory is empty (a piece has at least one byte), so the table costs nothing until
/// used. Slot: the first eight bytes and the next eight (zero-padded), length | id count << 8 | first id
/// << 32, then the second and third ids.
struct HotPieces: ~Copyable {
    let slots: UnsafeMutablePointer<UInt64>
    static let setBits = 15
    static let maxBytes = 16

    private let memory: LargeTable

    init() {
        let bytes = (1 << HotPieces.setBits) * 2 * 4 * 8
        memory = LargeTable(bytes: bytes)
        slots = memory.base.bindMemory(to: UInt64.self, capacity: bytes / 8)
    }

    deinit { memory.release() }

    /// The piece's words: its first eight bytes and the next eight, zero-padded. Reads 16 bytes when
    /// `readable` allows.
    @inline(__always)
    static func words(_ p: UnsafePointer<UInt8>, _ n: Int, readable: Int,
                      masks table: UnsafePointer<UInt64> = UnsafePointer(HotPieces.wordMasks)) -> (UInt64, UInt64) {
        if readable >= 16 {
            let raw = UnsafeRawPointer(p)
            let masks = table + 2 &* n
            return (raw.loadUnaligned(as: UInt64.self) & masks[0], raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self) & masks[1])
        }
        var w0: UInt64 = 0, w1: UInt64 = 0
        for k in 0..<min(n, 8) { w0 |= UInt64(p[k]) &<< UInt64(k &* 8) }
        if n > 8 { for k in 8..<n { w1 |= UInt64(p[k]) &<< UInt64((k &- 8) &* 8) } }
        return (w0, w1)
    }

    /// For each length 0...16, the masks that keep that many bytes of the two words.
    nonisolated(unsafe) static let wordMasks: UnsafeMutablePointer<UInt64> = {
        let masks = UnsafeMutablePointer<UInt64>.allocate(capacity: 34)
        for n in 0...16 {
            masks[2 * n] = n >= 8 ? UInt64.max : (1 << UInt64(8 * n)) - 1
            masks[2 * n + 1] = n <= 8 ? 0 : n == 16 ? UInt64.max : (1 << UInt64(8 * (n - 8))) - 1
        }
        return masks
    }()

    /// The table's memory, for loops that cannot borrow the table itself.
    var view: HotPiecesView { HotPiecesView(slots: slots) }
}

/// Probes and inserts over `HotPieces`' memory.
struct HotPiecesView {
    let slots: UnsafeMutablePointer<UInt64>

    /// The first slot of the piece's set.
    @inline(__always)
    func set(_ w0: UInt64, _ w1: UInt64, _ n: Int) -> UnsafeMutablePointer<UInt64> {
        let h = (w0 ^ (w1 &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(truncatingIfNeeded: n)) &* 0xBF58_476D_1CE4_E5B9
        return slots + 8 &* Int(truncatingIfNeeded: h &>> UInt64(64 - HotPieces.setBits))
    }

    /// Writes the piece's ids at `out` (three slots, whatever the count) and returns how many, or 0 if the piece
    /// is not here.
    @inline(__always)
    func lookup(_ w0: UInt64, _ w1: UInt64, _ n: Int, into out: UnsafeMutablePointer<TokenID>) -> Int {
        var slot = set(w0, w1, n)
        let length = UInt64(truncatingIfNeeded: n)
        if (slot[0] ^ w0) | (slot[1] ^ w1) | ((slot[2] ^ length) & 0xFF) != 0 {
            slot += 4
            if (slot[0] ^ w0) | (slot[1] ^ w1) | ((slot[2] ^ length) & 0xFF) != 0 { return 0 }
        }
        let meta = slot[2]
        out[0] = TokenID(truncatingIfNeeded: meta &>> 32)
        UnsafeMutableRawPointer(out + 1).storeBytes(of: slot[3], as: UInt64.self)
        return Int(truncatingIfNeeded: (meta &>> 8) & 3)
    }

    /// Remembers the piece's ids (1 to 3 of them).
    @inline(__always)
    func insert(_ w0: UInt64, _ w1: UInt64, _ n: Int, ids: UnsafePointer<TokenID>, count: Int) {
        var slot = set(w0, w1, n)
        if slot[2] != 0 { slot += 4 }
        slot[0] = w0
        slot[1] = w1
        slot[2] = UInt64(truncatingIfNeeded: n) | UInt64(truncatingIfNeeded: count) &<< 8 | UInt64(ids[0]) &<< 32
        slot[3] = (count > 1 ? UInt64(ids[1]) : 0) | (count > 2 ? UInt64(ids[2]) &<< 32 : 0)
    }
}
