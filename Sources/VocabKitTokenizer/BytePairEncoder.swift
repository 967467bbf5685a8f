/// Byte-level BPE by merge rank with Hugging Face semantics: repeatedly apply the lowest-ranked merge among
/// adjacent symbols; equal ranks mean the same pair, and the leftmost occurrence merges first.
/// Short pieces use a linear scan per merge, longer ones a heap, and very long ones a heap over windows whose
/// joins are proven exact (see `encodeWindowed`), so that memory stays bounded and time linear.
struct BytePairEncoder: ~Copyable {
    let merges: MergeTable
    let byteTokens: UnsafeMutablePointer<UInt32>
    /// Token bytes, as in `Vocabulary` (token lengths for the windowed variant).
    let tokenBytes: UnsafeMutablePointer<UInt8>
    let tokenOffsets: UnsafeMutablePointer<UInt32>
    let idCount: Int
    /// The merge of each pair of byte tokens, as `lookup` gives it, by the bytes (first in the low 8 bits).
    let bytePairMerges: UnsafeMutablePointer<UInt64>
    private var ids: UnsafeMutablePointer<UInt32>
    private var pairs: UnsafeMutablePointer<UInt64>
    private var capacity: Int
    /// Pieces up to this many bytes use the quadratic scan, which is faster for them.
    static let linearLimit = 48
    /// A direct-mapped cache of merge lookups: the merge table is megabytes, so its probes mostly miss the CPU
    /// caches, while the pairs a text needs repeat (CJK text is mostly the same few thousand characters).
    private let hot: UnsafeMutablePointer<UInt64>  // key, value pairs
    static let hotBits = 15
    static let hotSlots = 1 << hotBits
    /// Pieces longer than a window and its margin merge window by window (`encodeWindowed`); tests shrink
    /// these to exercise the joins on short text.
    package var windowBytes = 1 << 14
    package var windowMargin = 1 << 10
    /// The windowed variant's state, made on the first piece that needs it.
    private var windows: WindowState?
    /// Threads that may encode a long piece's windows at once (the caller's, when nothing else runs).
    package var longPieceThreads = 1
    /// For the encoders of those threads.
    let vocabulary: Vocabulary

    /// Joins the windowed variant found invalid and repaired (tests check that path too).
    var windowRepairs: Int { windows?.repairs ?? 0 }
    /// Windows taken from those encoded ahead on other threads (tests check that path too).
    var windowsTakenAhead: Int { windows?.takenAhead ?? 0 }

    mutating func windowState() -> WindowState {
        if let windows { return windows }
        let made = WindowState(tokenBytes: tokenBytes, tokenOffsets: tokenOffsets, idCount: idCount)
        windows = made
        return made
    }
    /// Scratch for the heap variant, kept between pieces.
    private var longSymbols: UnsafeMutablePointer<UInt32>
    private var longLinks: UnsafeMutablePointer<Int32>
    private var longCapacity = 1024
    private var heap = MergeHeap(capacity: 1024)

    /// Per-character results (see `premergedCharacter`), direct-mapped by scalar: the scalar and token count,
    /// then up to two tokens.
    private let characters: UnsafeMutablePointer<UInt64>
    static let characterSlots = 1 << 15
    let premerge: Bool
    let lowestRankAsLeft: UnsafeMutablePointer<UInt32>
    let lowestRankAsRight: UnsafeMutablePointer<UInt32>

    init(vocabulary: Vocabulary) {
        self.vocabulary = vocabulary
        merges = vocabulary.mergeTable
        premerge = vocabulary.mergesAreMonotone
        lowestRankAsLeft = vocabulary.lowestRankAsLeft
        lowestRankAsRight = vocabulary.lowestRankAsRight
        characters = .allocate(capacity: 2 * BytePairEncoder.characterSlots)
        characters.initialize(repeating: UInt64.max, count: 2 * BytePairEncoder.characterSlots)
        byteTokens = vocabulary.byteTokens
        tokenBytes = vocabulary.tokenBytes
        tokenOffsets = vocabulary.tokenOffsets
        idCount = vocabulary.idCount
        bytePairMerges = vocabulary.bytePairMerges
        capacity = 256
        ids = .allocate(capacity: capacity)
        pairs = .allocate(capacity: capacity)
        hot = .allocate(capacity: 2 * BytePairEncoder.hotSlots)
        hot.initialize(repeating: UInt64.max, count: 2 * BytePairEncoder.hotSlots)
        longSymbols = .allocate(capacity: longCapacity)
        longLinks = .allocate(capacity: 2 * longCapacity)
    }

    deinit {
        ids.deallocate()
        pairs.deallocate()
        hot.deallocate()
        characters.deallocate()
        longSymbols.deallocate()
        longLinks.deallocate()
    }

    /// The merge of a pair (rank << 32 | result, or UInt64.max), through the hot cache.
    @inline(__always)
    func lookup(_ left: UInt32, _ right: UInt32) -> UInt64 {
        // The table's slot is asked for with the cache's, so that a miss in the cache waits once, not twice.
        merges.prefetch(left, right)
        let key = UInt64(left) << 32 | UInt64(right)
        let slot = 2 &* Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - BytePairEncoder.hotBits))
        if hot[slot] == key { return hot[slot &+ 1] }
        let value = merges.lookup(left, right)
        hot[slot] = key
        hot[slot &+ 1] = value
        return value
    }

    /// BPE of `p[0..<n]`. `forceHeap` takes the heap (and, for pieces longer than a window, the windowed heap)
    /// even for short pieces; `windowed: false` keeps very long pieces on one heap (tests compare the two).
    mutating func encodeWithMerges(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout TokenBuffer, forceHeap: Bool = false,
                                   windowed: Bool = true) {
        if n > BytePairEncoder.linearLimit || (forceHeap && n > 1) {
            if windowed && n > windowBytes + windowMargin {
                encodeWindowed(p, n, into: &out)
            } else {
                encodeLong(p, n, into: &out)
            }
            return
        }
        let ids = self.ids, pairs = self.pairs
        var m = initialSymbols(p, n, into: ids)
        if m == n {
            // Every symbol is still its byte: the first pairs come from the byte-pair table, which stays cached.
            for i in 0..<(m - 1) { pairs[i] = bytePairMerges[Int(p[i]) | Int(p[i + 1]) &<< 8] }
        } else if m > 1 {
            for i in 0..<(m - 1) { pairs[i] = lookup(ids[i], ids[i + 1]) }
        }
        while m > 1 {
            var best = UInt64.max
            var at = -1
            for i in 0..<(m - 1) where pairs[i] < best {
                best = pairs[i]
                at = i
            }
            if at < 0 { break }
            ids[at] = UInt32(truncatingIfNeeded: best)
            // A few symbols at most: a plain loop, not a memmove call.
            var k = at &+ 1
            while k < m &- 1 {
                ids[k] = ids[k &+ 1]
                pairs[k] = pairs[k &+ 1]
                k &+= 1
            }
            m -= 1
            if at > 0 { pairs[at - 1] = lookup(ids[at - 1], ids[at]) }
            if at < m - 1 { pairs[at] = lookup(ids[at], ids[at + 1]) }
        }
        out.reserve(m)
        (out.base + out.count).update(from: ids, count: m)
        out.count += m
    }

    /// The starting symbols of BPE: one byte token per byte, except that a multi-byte character between
    /// non-ASCII characters (or the ends of the piece) whose own merges all rank before any merge that could
    /// join one of its symbols to such a neighbour starts as the tokens it merges into alone. With merges
    /// applied in rank order (`mergesAreMonotone`), nothing outside can touch such a character until it is
    /// complete, so the result is the same; CJK text needs a third of the merge lookups.
    @inline(__always)
    mutating func initialSymbols(_ p: UnsafePointer<UInt8>, _ n: Int, into out: UnsafeMutablePointer<UInt32>) -> Int {
        var m = 0
        var i = 0
        while i < n {
            let b = p[i]
            if b < 0x80 || !premerge {
                out[m] = byteTokens[Int(b)]
                m += 1
                i += 1
                continue
            }
            // Pieces are whole characters, but BPE also runs on arbitrary token bytes: start an incomplete
            // sequence as bytes.
            let length = BytePairEncoder.completeCharacterLength(p, i, n)
            guard length > 1, (i == 0 || p[i - 1] >= 0x80) && (i + length == n || p[i + length] >= 0x80) else {
                out[m] = byteTokens[Int(b)]
                m += 1
                i += 1
                continue
            }
            let (scalar, _) = UTF8Scalar.decode(p, i)
            let entry = premergedEntry(p + i, length, scalar)
            let count = entry.count
            if count == 0 {
                for k in 0..<length { out[m + k] = byteTokens[Int(p[i + k])] }
                m += length
            } else {
                let tokens = entry.tokens
                out[m] = UInt32(truncatingIfNeeded: tokens) & 0x3FFF_FFFF
                if count == 2 { out[m + 1] = UInt32(truncatingIfNeeded: tokens >> 31) & 0x7FFF_FFFF }
                m += count
            }
            i += length
        }
        return m
    }

    /// The length of the UTF-8 character starting at `i` if it is complete and well formed within n, else 0.
    @inline(__always)
    static func completeCharacterLength(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        let b = p[i]
        let length = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0
        guard length > 0, i + length <= n else { return 0 }
        for k in 1..<length where p[i + k] & 0xC0 != 0x80 { return 0 }
        return length
    }

    /// The cached result of `premergedCharacter` for the character at `p` (context already checked).
    @inline(__always)
    func premergedEntry(_ p: UnsafePointer<UInt8>, _ length: Int, _ scalar: UInt32) -> (count: Int, tokens: UInt64) {
        let slot = 2 &* (Int(scalar) & (BytePairEncoder.characterSlots &- 1))
        if UInt32(truncatingIfNeeded: characters[slot]) == scalar {
            return (Int(characters[slot] >> 32), characters[slot + 1])
        }
        let packed = premergedCharacter(p, length)
        characters[slot + 1] = packed
        characters[slot] = UInt64(scalar) | (packed >> 62) << 32
        return (Int(packed >> 62), packed)
    }

    /// The end of the next segment of a piece, where segments are the parts between which no merge can
    /// happen, so that each encodes on its own (and most are single tokens or cached). A boundary lies
    /// between two adjacent characters that each start as one token (see `initialSymbols`) when no vocabulary
    /// token contains the two together: neither character's parts can merge outward before it is whole, and
    /// once whole no token spans both. Start with `i` and `previous` zero; each call returns the next segment's
    /// end (n after the last) and leaves them where the scan goes on, so a piece of any length needs no
    /// memory for its segments.
    @inline(__always)
    func nextSegmentEnd(_ p: UnsafePointer<UInt8>, _ n: Int, at i: inout Int, previous: inout UInt32,
                        pairs: CharacterPairSet) -> Int {
        // `previous` is the scalar of the previous character when it started as one token, else 0.
        while i < n {
            let b = p[i]
            if b < 0x80 {
                previous = 0
                i += 1
                continue
            }
            let length = BytePairEncoder.completeCharacterLength(p, i, n)
            guard length > 1 else {
                previous = 0
                i += 1
                continue
            }
            let (scalar, _) = UTF8Scalar.decode(p, i)
            var single: UInt32 = 0
            if (i == 0 || p[i - 1] >= 0x80) && (i + length == n || p[i + length] >= 0x80),
               premergedEntry(p + i, length, scalar).count == 1 {
                single = scalar
            }
            let boundary = single != 0 && previous != 0 && !pairs.contains(previous, single)
            previous = single
            i += length
            if boundary { return i - length }
        }
        return n
    }

    /// The tokens a character merges into on its own, packed with their count (1 or 2) in the top two bits,
    /// or 0 when merging it first would not be provably identical (or it needs more than two tokens).
    func premergedCharacter(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var sym: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        var start: (Int, Int, Int, Int) = (0, 0, 0, 0)
        return withUnsafeMutableBytes(of: &sym) { symRaw in
            withUnsafeMutableBytes(of: &start) { startRaw in
                let s = symRaw.bindMemory(to: UInt32.self), st = startRaw.bindMemory(to: Int.self)
                var m = n
                var crossing = UInt32.max
                for k in 0..<n {
                    s[k] = byteTokens[Int(p[k])]
                    st[k] = k
                }
                crossing = min(lowestRankAsRight[Int(s[0])], lowestRankAsLeft[Int(s[n - 1])])
                var highestOwn: UInt32 = 0
                while m > 1 {
                    var best = UInt64.max, at = -1
                    for k in 0..<(m - 1) {
                        let v = merges.lookup(s[k], s[k + 1])
                        if v < best { best = v; at = k }
                    }
                    if at < 0 { break }
                    highestOwn = max(highestOwn, UInt32(best >> 32))
                    s[at] = UInt32(truncatingIfNeeded: best)
                    for k in (at + 1)..<(m - 1) { s[k] = s[k + 1]; st[k] = st[k + 1] }
                    m -= 1
                    if at == 0 { crossing = min(crossing, lowestRankAsRight[Int(s[0])]) }
                    if at == m - 1 { crossing = min(crossing, lowestRankAsLeft[Int(s[m - 1])]) }
                }
                guard m <= 2, m < n, crossing > highestOwn else { return 0 }
                var packed = UInt64(s[0]) | UInt64(m) << 62
                if m == 2 { packed |= UInt64(s[1]) << 31 }
                return packed
            }
        }
    }

    /// The heap variant: symbols in a linked list, candidate merges keyed by (rank, position).
    mutating func encodeLong(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout TokenBuffer) {
        if n > longCapacity {
            longSymbols.deallocate()
            longLinks.deallocate()
            longCapacity = max(n, 2 * longCapacity)
            longSymbols = .allocate(capacity: longCapacity)
            longLinks = .allocate(capacity: 2 * longCapacity)
        }
        let sym = longSymbols, next = longLinks, prev = longLinks + longCapacity
        let count = initialSymbols(p, n, into: sym)
        for i in 0..<count {
            next[i] = i + 1 < count ? Int32(i + 1) : -1
            prev[i] = Int32(i - 1)
        }
        heap.removeAll()
        for i in 0..<(count - 1) {
            let v = lookup(sym[i], sym[i + 1])
            if v != UInt64.max { heap.push(rank: UInt32(v >> 32), position: Int32(i)) }
        }
        while let (rank, pos) = heap.pop() {
            let i = Int(pos)
            let j = Int(next[i])
            // Stale entries: the symbol was merged away, or its pair changed since it was queued.
            guard sym[i] != UInt32.max, j >= 0 else { continue }
            let v = lookup(sym[i], sym[j])
            guard v != UInt64.max, UInt32(v >> 32) == rank else { continue }
            sym[i] = UInt32(truncatingIfNeeded: v)
            sym[j] = UInt32.max
            let k = next[j]
            next[i] = k
            if k >= 0 { prev[Int(k)] = Int32(i) }
            let h = Int(prev[i])
            if h >= 0 {
                let left = lookup(sym[h], sym[i])
                if left != UInt64.max { heap.push(rank: UInt32(left >> 32), position: Int32(h)) }
            }
            if k >= 0 {
                let right = lookup(sym[i], sym[Int(k)])
                if right != UInt64.max { heap.push(rank: UInt32(right >> 32), position: Int32(i)) }
            }
        }
        var i = 0
        while i >= 0 {
            out.append(sym[i])
            i = Int(next[i])
        }
    }
}

/// A binary min-heap of (rank, position) packed into one UInt64, so ties on rank go to the leftmost position.
struct MergeHeap: ~Copyable {
    private var items: UnsafeMutablePointer<UInt64>
    private var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        items = .allocate(capacity: self.capacity)
    }

    deinit { items.deallocate() }

    mutating func removeAll() { count = 0 }

    mutating func push(rank: UInt32, position: Int32) {
        if count == capacity {
            let bigger = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity * 2)
            bigger.update(from: items, count: count)
            items.deallocate()
            items = bigger
            capacity *= 2
        }
        var i = count
        let item = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: position))
        count += 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent] <= item { break }
            items[i] = items[parent]
            i = parent
        }
        items[i] = item
    }

    mutating func pop() -> (UInt32, Int32)? {
        guard count > 0 else { return nil }
        let top = items[0]
        count -= 1
        let last = items[count]
        var i = 0
        while true {
            let l = 2 * i + 1
            if l >= count { break }
            let r = l + 1
            let c = r < count && items[r] < items[l] ? r : l
            if last <= items[c] { break }
            items[i] = items[c]
            i = c
        }
        if count > 0 { items[i] = last }
        return (UInt32(top >> 32), Int32(bitPattern: UInt32(truncatingIfNeeded: top)))
    }
}
