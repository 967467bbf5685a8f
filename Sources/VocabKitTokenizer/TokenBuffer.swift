/// A growable buffer of token ids without bounds checks or copy-on-write in the encoder's inner loop.
package struct TokenBuffer: ~Copyable {
    package private(set) var base: UnsafeMutablePointer<TokenID>
    package var count: Int
    package private(set) var capacity: Int

    package init(capacity: Int = 4096) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
        count = 0
    }

    deinit { base.deallocate() }

    @inline(__always)
    package mutating func append(_ id: TokenID) {
        if count == capacity { grow(to: capacity * 2) }
        base[count] = id
        count += 1
    }

    /// Makes room for `n` more ids, so that callers may write them directly.
    @inline(__always)
    package mutating func reserve(_ n: Int) {
        if count + n > capacity { grow(to: max(capacity * 2, count + n)) }
    }

    mutating func grow(to newCapacity: Int) {
        let bigger = UnsafeMutablePointer<TokenID>.allocate(capacity: newCapacity)
        bigger.update(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = newCapacity
    }

    package subscript(i: Int) -> TokenID { base[i] }

    /// Hands the ids' memory (count ids; the caller deallocates it) over without copying.
    consuming func takeStorage() -> (ids: UnsafeMutablePointer<TokenID>, count: Int) {
        let result = (base, count)
        discard self
        return result
    }
}
