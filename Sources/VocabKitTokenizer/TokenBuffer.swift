/// A growable buffer of token ids without bounds checks or copy-on-write in the encoder's inner loop.
///
/// With a `drain`, the buffer does not grow past its capacity: when full it hands its ids to the drain (in
/// order) and starts again, so encoding a huge input holds a bounded number of ids rather than all of them.
package struct TokenBuffer: ~Copyable {
    package private(set) var base: UnsafeMutablePointer<TokenID>
    package var count: Int
    package private(set) var capacity: Int
    /// Where a full buffer's ids go instead of growing it; nil keeps every id.
    package var drain: TokenDrain?
    /// How many ids the drain has taken so far.
    package private(set) var handedOn = 0

    package init(capacity: Int = 4096, drain: TokenDrain? = nil) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
        count = 0
        self.drain = drain
    }

    deinit { base.deallocate() }

    @inline(__always)
    package mutating func append(_ id: TokenID) {
        if count == capacity { makeRoom(1) }
        base[count] = id
        count += 1
    }

    /// Makes room for `n` more ids, so that callers may write them directly at `base + count`.
    @inline(__always)
    package mutating func reserve(_ n: Int) {
        if count + n > capacity { makeRoom(n) }
    }

    /// Appends `n` ids from `ids`.
    @inline(__always)
    package mutating func append(_ ids: UnsafePointer<TokenID>, count n: Int) {
        reserve(n)
        (base + count).update(from: ids, count: n)
        count += n
    }

    /// Room for `n` more ids: drained (when there is a drain) or grown.
    @inline(never)
    mutating func makeRoom(_ n: Int) {
        if let drain, count > 0 {
            drain.take(UnsafeBufferPointer(start: base, count: count))
            handedOn += count
            count = 0
            if n <= capacity { return }
        }
        let newCapacity = max(capacity * 2, count + n)
        let bigger = UnsafeMutablePointer<TokenID>.allocate(capacity: newCapacity)
        bigger.update(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = newCapacity
    }

    /// Hands the ids still held to the drain (if any).
    package mutating func flush() {
        guard let drain, count > 0 else { return }
        drain.take(UnsafeBufferPointer(start: base, count: count))
        handedOn += count
        count = 0
    }

    package subscript(i: Int) -> TokenID { base[i] }

    /// Hands the ids' memory (count ids; the caller deallocates it) over without copying.
    consuming func takeStorage() -> (ids: UnsafeMutablePointer<TokenID>, count: Int) {
        let result = (base, count)
        base = .allocate(capacity: 1)  // for deinit (a type with a class reference cannot `discard self`)
        count = 0
        return result
    }
}

/// The receiver of a draining `TokenBuffer`'s ids. The encoder does not throw, so the first error the body
/// throws is kept (and later ids dropped) for the caller to rethrow once encoding returns.
package final class TokenDrain {
    private let body: (UnsafeBufferPointer<TokenID>) throws -> Void
    package private(set) var error: (any Error)?

    package init(_ body: @escaping (UnsafeBufferPointer<TokenID>) throws -> Void) { self.body = body }

    func take(_ ids: UnsafeBufferPointer<TokenID>) {
        guard error == nil else { return }
        do { try body(ids) } catch { self.error = error }
    }

    /// Rethrows the body's error, if it threw.
    package func check() throws { if let error { throw error } }
}
