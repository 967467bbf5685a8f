/// Byte-level BPE by merge rank with Hugging Face semantics: repeatedly apply the lowest-ranked merge among
/// adjacent symbols; equal ranks mean the same pair, and the leftmost occurrence merges first.
/// Short pieces use a linear scan per merge; long ones a heap, so a megabyte-long piece stays O(n log n).
struct BytePairEncoder: ~Copyable {
    let merges: MergeTable
    let byteTokens: UnsafeMutablePointer<UInt32>
    private var ids: UnsafeMutablePointer<UInt32>
    private var pairs: UnsafeMutablePointer<UInt64>
    private var capacity: Int
    /// Pieces up to this many bytes use the quadratic scan, which is faster for them.
    static let linearLimit = 96

    init(vocabulary: Vocabulary) {
        merges = vocabulary.mergeTable
        byteTokens = vocabulary.byteTokens
        capacity = 256
        ids = .allocate(capacity: capacity)
        pairs = .allocate(capacity: capacity)
    }

    deinit {
        ids.deallocate()
        pairs.deallocate()
    }

    mutating func encodeWithMerges(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout TokenBuffer, forceHeap: Bool = false) {
        if n > BytePairEncoder.linearLimit || (forceHeap && n > 1) {
            encodeLong(p, n, into: &out)
            return
        }
        let ids = self.ids, pairs = self.pairs, merges = self.merges
        for i in 0..<n { ids[i] = byteTokens[Int(p[i])] }
        var m = n
        if m > 1 {
            for i in 0..<(m - 1) { pairs[i] = merges.lookup(ids[i], ids[i + 1]) }
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
            let tail = m - at - 2
            if tail > 0 {
                (ids + at + 1).update(from: ids + at + 2, count: tail)
                (pairs + at + 1).update(from: pairs + at + 2, count: tail - 1 > 0 ? tail - 1 : 0)
            }
            m -= 1
            if at > 0 { pairs[at - 1] = merges.lookup(ids[at - 1], ids[at]) }
            if at < m - 1 { pairs[at] = merges.lookup(ids[at], ids[at + 1]) }
        }
        out.reserve(m)
        (out.base + out.count).update(from: ids, count: m)
        out.count += m
    }

    /// The heap variant: symbols in a linked list, candidate merges keyed by (rank, position).
    private mutating func encodeLong(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout TokenBuffer) {
        let sym = UnsafeMutablePointer<UInt32>.allocate(capacity: n)
        let next = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        let prev = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        defer { sym.deallocate(); next.deallocate(); prev.deallocate() }
        for i in 0..<n {
            sym[i] = byteTokens[Int(p[i])]
            next[i] = i + 1 < n ? Int32(i + 1) : -1
            prev[i] = Int32(i - 1)
        }
        var heap = MergeHeap(capacity: n)
        for i in 0..<(n - 1) {
            let v = merges.lookup(sym[i], sym[i + 1])
            if v != UInt64.max { heap.push(rank: UInt32(v >> 32), position: Int32(i)) }
        }
        while let (rank, pos) = heap.pop() {
            let i = Int(pos)
            let j = Int(next[i])
            // Stale entries: the symbol was merged away, or its pair changed since it was queued.
            guard sym[i] != UInt32.max, j >= 0 else { continue }
            let v = merges.lookup(sym[i], sym[j])
            guard v != UInt64.max, UInt32(v >> 32) == rank else { continue }
            sym[i] = UInt32(truncatingIfNeeded: v)
            sym[j] = UInt32.max
            let k = next[j]
            next[i] = k
            if k >= 0 { prev[Int(k)] = Int32(i) }
            let h = Int(prev[i])
            if h >= 0 {
                let left = merges.lookup(sym[h], sym[i])
                if left != UInt64.max { heap.push(rank: UInt32(left >> 32), position: Int32(h)) }
            }
            if k >= 0 {
                let right = merges.lookup(sym[i], sym[Int(k)])
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
