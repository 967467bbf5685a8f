/// A growable buffer of token ids without bounds checks or copy-on-write in the encoder's inner loop.
public struct TokenBuffer: ~Copyable {
    public private(set) var base: UnsafeMutablePointer<UInt32>
    public var count: Int
    public private(set) var capacity: Int

    public init(capacity: Int = 4096) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
        count = 0
    }

    deinit { base.deallocate() }

    @inline(__always)
    public mutating func append(_ id: UInt32) {
        if count == capacity { grow(to: capacity * 2) }
        base[count] = id
        count += 1
    }

    /// Makes room for `n` more ids, so that callers may write them directly.
    @inline(__always)
    public mutating func reserve(_ n: Int) {
        if count + n > capacity { grow(to: max(capacity * 2, count + n)) }
    }

    mutating func grow(to newCapacity: Int) {
        let bigger = UnsafeMutablePointer<UInt32>.allocate(capacity: newCapacity)
        bigger.update(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = newCapacity
    }

    public subscript(i: Int) -> UInt32 { base[i] }

    /// Hands the ids' memory (count ids; the caller deallocates it) over without copying.
    consuming func takeStorage() -> (ids: UnsafeMutablePointer<UInt32>, count: Int) {
        let result = (base, count)
        discard self
        return result
    }
}
