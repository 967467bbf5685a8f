/// BPE of a long piece's windows without a heap: candidate merges wait in one bucket per priority, and a
/// two-level bitmap finds the lowest non-empty bucket. A 16 KiB window keeps some 20,000 candidates, so a
/// binary heap spends most of the window's time in its mispredicted sift-down; here a merge costs two pair
/// lookups and two bucket pushes.
///
/// The heap pops (rank, position) in order: lowest rank first, leftmost first among equal ranks. A bucket's
/// entries are taken in any order, which gives the same merges as long as no pair that either order forms
/// while a bucket is taken ranks at or below it (so buckets are taken in rising order):
/// - every entry of rank r is then in the bucket when it is taken;
/// - two places where the same pair (a, b) with a != b occurs share no symbol, so the bucket ends in the
///   same state whatever the order; on the way, the heap forms the pairs (x, t) and (t, y) with the
///   neighbours, where t is the merged token and a neighbour may be t already (to the left) or still a (to
///   the right, where the next place starts): a merge whose right neighbour is already t also looks up
///   (t, a), the pair the heap formed there;
/// - where a == b, the places overlap only inside a run of a's, and the heap merges such a run in pairs
///   from its left end: so does `encodeByBuckets`, from whichever of its places it is first reached.
/// Monotone merges (each ranks after the merges that produce its parts) never break the condition, but a
/// token produced again by a later merge can, so it is checked as the window goes, as is that a bucket holds
/// one pair (two merges that make the same token share a priority): a window that breaks either is encoded
/// again with the heap.
final class RankBuckets {
    /// Symbols of the window as a linked list, and the merge of each symbol with the next (UInt64.max: none,
    /// or the symbol was merged away), which tells a queued entry whether it is still current.
    private(set) var symbols: UnsafeMutablePointer<UInt32>
    private(set) var next: UnsafeMutablePointer<Int32>
    private(set) var previous: UnsafeMutablePointer<Int32>
    private(set) var pairMerge: UnsafeMutablePointer<UInt64>
    private(set) var capacity = 0
    /// Queued entries (a position and the next entry of its bucket); at most three per symbol: one for
    /// each first pair, two for each merge.
    private var entryPosition: UnsafeMutablePointer<Int32>
    private var entryNext: UnsafeMutablePointer<Int32>
    private var entryCount = 0
    /// Per priority: the bucket's first entry, or -1; bit set in `level0` when non-empty, and in `level1`
    /// for each non-zero word of `level0`. Empty again after every window, so nothing is cleared between.
    private var heads: UnsafeMutablePointer<Int32>
    private var level0: UnsafeMutablePointer<UInt64>
    private var level1: UnsafeMutablePointer<UInt64>
    private var bucketCount = 0
    /// No bucket below this one is non-empty.
    private var cursor = 0
    /// The priority of the bucket being taken (-1 before the first), and whether a merge queued a pair at
    /// or below it.
    private var taking = -1
    private(set) var outOfOrder = false

    init() {
        symbols = .allocate(capacity: 1)
        next = .allocate(capacity: 1)
        previous = .allocate(capacity: 1)
        pairMerge = .allocate(capacity: 1)
        entryPosition = .allocate(capacity: 1)
        entryNext = .allocate(capacity: 1)
        heads = .allocate(capacity: 1)
        level0 = .allocate(capacity: 1)
        level1 = .allocate(capacity: 1)
    }

    deinit {
        symbols.deallocate()
        next.deallocate()
        previous.deallocate()
        pairMerge.deallocate()
        entryPosition.deallocate()
        entryNext.deallocate()
        heads.deallocate()
        level0.deallocate()
        level1.deallocate()
    }

    /// Room for n symbols.
    func reserve(_ n: Int) {
        guard n > capacity else { return }
        let size = max(n, 2 * capacity, 1024)
        for pointer in [next, previous, entryPosition, entryNext] { pointer.deallocate() }
        symbols.deallocate()
        pairMerge.deallocate()
        symbols = .allocate(capacity: size)
        next = .allocate(capacity: size)
        previous = .allocate(capacity: size)
        pairMerge = .allocate(capacity: size)
        entryPosition = .allocate(capacity: 3 * size)
        entryNext = .allocate(capacity: 3 * size)
        capacity = size
    }

    /// Room for priorities below `priority + 1` (merge ranks or result ids: at most 2^21).
    private func growBuckets(toHold priority: Int) {
        let count = max((priority | 4095) + 1, 2 * bucketCount)
        let words = count >> 6, oldWords = bucketCount >> 6
        let newHeads = UnsafeMutablePointer<Int32>.allocate(capacity: count)
        newHeads.initialize(repeating: -1, count: count)
        newHeads.update(from: heads, count: bucketCount)
        let new0 = UnsafeMutablePointer<UInt64>.allocate(capacity: words)
        new0.initialize(repeating: 0, count: words)
        new0.update(from: level0, count: oldWords)
        let new1 = UnsafeMutablePointer<UInt64>.allocate(capacity: words >> 6)
        new1.initialize(repeating: 0, count: words >> 6)
        new1.update(from: level1, count: oldWords >> 6)
        heads.deallocate()
        level0.deallocate()
        level1.deallocate()
        heads = newHeads
        level0 = new0
        level1 = new1
        bucketCount = count
    }

    func startWindow() {
        entryCount = 0
        cursor = bucketCount
        taking = -1
        outOfOrder = false
    }

    @inline(__always)
    func push(_ merge: UInt64, at position: Int) {
        let priority = Int(truncatingIfNeeded: merge >> 32)
        if priority >= bucketCount { growBuckets(toHold: priority) }
        let e = entryCount
        entryCount = e &+ 1
        entryPosition[e] = Int32(truncatingIfNeeded: position)
        let head = heads[priority]
        if head < 0 {
            let word = priority >> 6
            level0[word] |= 1 << UInt64(priority & 63)
            level1[word >> 6] |= 1 << UInt64(word & 63)
        }
        entryNext[e] = head
        heads[priority] = Int32(truncatingIfNeeded: e)
        if priority < cursor { cursor = priority }
        if priority <= taking { outOfOrder = true }
    }

    /// Empties the lowest non-empty bucket and returns its first entry, or -1 when all are empty.
    @inline(__always)
    func takeLowestBucket() -> (priority: Int, entry: Int32) {
        guard cursor < bucketCount else { return (0, -1) }
        var word = cursor >> 6
        var bits = level0[word] & (UInt64.max << UInt64(cursor & 63))
        if bits == 0 {
            var upper = (word + 1) >> 6
            let upperCount = bucketCount >> 12
            guard upper < upperCount else { cursor = bucketCount; return (0, -1) }
            var upperBits = level1[upper] & (UInt64.max << UInt64((word + 1) & 63))
            while upperBits == 0 {
                upper += 1
                guard upper < upperCount else { cursor = bucketCount; return (0, -1) }
                upperBits = level1[upper]
            }
            word = upper << 6 | upperBits.trailingZeroBitCount
            bits = level0[word]
        }
        let priority = word << 6 | bits.trailingZeroBitCount
        cursor = priority
        taking = priority
        let entry = heads[priority]
        heads[priority] = -1
        level0[word] &= ~(1 << UInt64(priority & 63))
        if level0[word] == 0 { level1[word >> 6] &= ~(1 << UInt64(word & 63)) }
        return (priority, entry)
    }

    /// Notes a pair that the heap's order would have formed here but this order did not.
    @inline(__always)
    func formedElsewhere(_ merge: UInt64) {
        if merge != UInt64.max && Int(truncatingIfNeeded: merge >> 32) <= taking { outOfOrder = true }
    }

    @inline(__always)
    func position(of entry: Int32) -> Int { Int(entryPosition[Int(entry)]) }

    @inline(__always)
    func entry(after entry: Int32) -> Int32 { entryNext[Int(entry)] }
}

extension BytePairEncoder {
    /// BPE of `p[0..<n]` with `RankBuckets`; the same tokens as `encodeLong` (LongPieceTests). A window
    /// whose merges come out of rank order is drained (so the buckets are empty again) and encoded by the heap.
    mutating func encodeByBuckets(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout TokenBuffer, _ q: RankBuckets) {
        guard n > 0 else { return }
        q.reserve(n)
        let sym = q.symbols, next = q.next, prev = q.previous, pairMerge = q.pairMerge
        let m = initialSymbols(p, n, into: sym)
        for i in 0..<m {
            next[i] = Int32(truncatingIfNeeded: i &+ 1)
            prev[i] = Int32(truncatingIfNeeded: i &- 1)
        }
        next[m - 1] = -1
        pairMerge[m - 1] = UInt64.max
        q.startWindow()
        let allBytes = m == n
        for i in 0..<(m - 1) {
            // Symbols that are still their bytes take their first merges from the byte-pair table.
            let v = allBytes ? bytePairMerges[Int(p[i]) | Int(p[i + 1]) &<< 8] : lookup(sym[i], sym[i + 1])
            pairMerge[i] = v
            if v != UInt64.max { q.push(v, at: i) }
        }
        while true {
            let (priority, first) = q.takeLowestBucket()
            if first < 0 { break }
            var entry = first
            var pair: (UInt32, UInt32)? = nil
            while entry >= 0 {
                var i = q.position(of: entry)
                entry = q.entry(after: entry)
                let v = pairMerge[i]
                guard Int(truncatingIfNeeded: v >> 32) == priority, v != UInt64.max else { continue }
                let left = sym[i], right = sym[Int(next[i])]
                // Two pairs that make the same token share a priority, and their places may overlap.
                if let pair, pair != (left, right) { q.formedElsewhere(v) }
                pair = (left, right)
                if left != right {
                    merge(at: i, v, q)
                    continue
                }
                // A run of equal symbols merges in pairs from its left end.
                while prev[i] >= 0 && sym[Int(prev[i])] == left { i = Int(prev[i]) }
                while true {
                    let j = Int(next[i])
                    guard j >= 0, sym[j] == left else { break }
                    merge(at: i, v, q)
                    let after = Int(next[i])
                    guard after >= 0, sym[after] == left else { break }
                    i = after
                }
            }
        }
        if q.outOfOrder {
            encodeLong(p, n, into: &out)
            return
        }
        out.reserve(m)
        var i = 0
        while i >= 0 {
            out.append(sym[i])
            i = Int(next[i])
        }
    }

    /// Merges the symbol at i with the next one by `merge` and queues the two pairs this makes.
    @inline(__always)
    private mutating func merge(at i: Int, _ merge: UInt64, _ q: RankBuckets) {
        let sym = q.symbols, next = q.next, prev = q.previous, pairMerge = q.pairMerge
        let j = Int(next[i])
        let k = next[j]
        let t = UInt32(truncatingIfNeeded: merge)
        let left = sym[i]
        sym[i] = t
        pairMerge[j] = UInt64.max
        next[i] = k
        let h = Int(prev[i])
        if h >= 0 {
            let v = lookup(sym[h], t)
            pairMerge[h] = v
            if v != UInt64.max { q.push(v, at: h) }
        }
        if k >= 0 {
            prev[Int(k)] = Int32(truncatingIfNeeded: i)
            let right = sym[Int(k)]
            if right == t { q.formedElsewhere(lookup(t, left)) }
            let v = lookup(t, right)
            pairMerge[i] = v
            if v != UInt64.max { q.push(v, at: i) }
        } else {
            pairMerge[i] = UInt64.max
        }
    }
}
