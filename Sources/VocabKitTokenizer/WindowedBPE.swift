import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Exact BPE of very long pieces (megabytes of one letter, of spaces, of text without whitespace) in bounded
/// time per byte and without a heap over the whole piece.
///
/// Call an encoding of a text *valid* when BPE of its bytes gives it back; BPE's output is the one valid
/// encoding of its input. For BPE that merges the lowest-ranked adjacent pair, leftmost first (Docs/tokenizer.md,
/// "Long pieces", has the proofs):
/// 1. Consecutive tokens of a valid encoding are a valid encoding of their bytes.
/// 2. If X is a valid encoding ending with token x, Y a valid encoding of the text right after it starting
///    with token y, and [x, y] is valid, then X followed by Y is valid.
/// So the piece is encoded a window at a time: each window starts where the tokens kept from the previous
/// one end, keeps its own tokens up to a margin before its end (the last window keeps all), and the pair of
/// tokens at each join is checked with fact 2. When every join checks, the kept tokens are the piece's BPE.
///
/// A join that fails (not seen with real vocabularies; possible in principle) is repaired from the last
/// *hard boundary*: a position where no vocabulary token contains the two bytes around it, so no merge can
/// cross it and every encoding splits there. One heap encodes from there to the next hard boundary. Tokens
/// are therefore held until a hard boundary proves them (a piece with none, such as one letter repeated,
/// holds its ids: four bytes per token, against twenty-odd bytes per byte for one heap over the piece).
/// Windows whose bytes equal an earlier window's of the same piece reuse its tokens, so a repeated pattern
/// costs one merge per distinct window.
///
/// With more than one thread (`longPieceThreads`), windows are encoded ahead in batches, on all threads at
/// once, from where the piece stands and then every `aheadStride` bytes. By fact 1 a window's tokens from
/// any of their boundaries on are the BPE of the rest of the window, so when the sequential walk reaches a
/// position that is a token boundary of a window encoded ahead, it takes that window's tokens from there:
/// the same tokens that encoding from there would give, with joins, hard boundaries and repairs as before.
/// Where the walk lands on no such boundary (the window's start cut its tokens differently there), a new
/// batch starts from the walk's position.
final class WindowState {
    /// The current window's tokens, and the tokens kept but not yet proven.
    var window = TokenBuffer(capacity: 1 << 12)
    var pending = TokenBuffer(capacity: 1 << 12)
    /// Windows already encoded in this piece: their start, length and tokens (in `cachedTokens`).
    var cached: [(start: Int, count: Int, tokens: Range<Int>)] = []
    var cachedTokens: [TokenID] = []
    static let cachedWindows = 16
    /// Join checks: (x << 32 | y) and whether [x, y] is valid, direct-mapped.
    let joinKeys: UnsafeMutablePointer<UInt64>
    let joinValid: UnsafeMutablePointer<Bool>
    static let joinSlots = 1 << 12
    /// Bit (a << 8 | b) is set when some token holds byte a followed by byte b.
    let innerPairs: UnsafeMutablePointer<UInt64>
    var bytes: [UInt8] = []
    /// Repairs made (for tests: a vocabulary built to fail joins must take this path and stay exact).
    var repairs = 0
    /// Each window's merges (the heap only repairs).
    let buckets = RankBuckets()
    /// Windows encoded ahead (the first `aheadCount`), the other threads' encoders, and how many windows
    /// were taken from ahead (tests check that the path is taken).
    var ahead: [AheadWindow] = []
    var aheadCount = 0
    var workers: [WindowWorker] = []
    var takenAhead = 0

    init(tokenBytes: UnsafePointer<UInt8>, tokenOffsets: UnsafePointer<UInt32>, idCount: Int) {
        joinKeys = .allocate(capacity: WindowState.joinSlots)
        joinKeys.initialize(repeating: UInt64.max, count: WindowState.joinSlots)
        joinValid = .allocate(capacity: WindowState.joinSlots)
        joinValid.initialize(repeating: false, count: WindowState.joinSlots)
        innerPairs = .allocate(capacity: 1024)
        innerPairs.initialize(repeating: 0, count: 1024)
        for id in 0..<idCount {
            let start = Int(tokenOffsets[id]), end = Int(tokenOffsets[id + 1])
            guard end - start >= 2 else { continue }
            for k in start..<(end - 1) {
                let pair = Int(tokenBytes[k]) << 8 | Int(tokenBytes[k + 1])
                innerPairs[pair >> 6] |= 1 << UInt64(pair & 63)
            }
        }
    }

    deinit {
        joinKeys.deallocate()
        joinValid.deallocate()
        innerPairs.deallocate()
    }

    /// Whether no token holds `p[i - 1]` followed by `p[i]`: no merge can cross position i.
    @inline(__always)
    func isHardBoundary(_ p: UnsafePointer<UInt8>, _ i: Int) -> Bool {
        let pair = Int(p[i - 1]) << 8 | Int(p[i])
        return innerPairs[pair >> 6] & (1 << UInt64(pair & 63)) == 0
    }

    /// Copies the tokens of an earlier window of this piece with the same bytes into `window`, if there is one.
    func reuse(_ p: UnsafePointer<UInt8>, start: Int, count: Int) -> Bool {
        for entry in cached where entry.count == count && memcmp(p + start, p + entry.start, count) == 0 {
            window.count = 0
            cachedTokens.withUnsafeBufferPointer { t in
                window.append(t.baseAddress! + entry.tokens.lowerBound, count: entry.tokens.count)
            }
            return true
        }
        return false
    }

    func remember(start: Int, count: Int) {
        if cached.count == WindowState.cachedWindows {
            cached.removeAll(keepingCapacity: true)
            cachedTokens.removeAll(keepingCapacity: true)
        }
        let from = cachedTokens.count
        cachedTokens.append(contentsOf: UnsafeBufferPointer(start: window.base, count: window.count))
        cached.append((start, count, from..<cachedTokens.count))
    }
}

extension BytePairEncoder {
    /// The byte length of a token.
    @inline(__always)
    func length(of id: TokenID) -> Int { Int(tokenOffsets[Int(id) + 1] &- tokenOffsets[Int(id)]) }

    /// Whether [x, y] is the BPE of x's bytes followed by y's (fact 2's condition), cached.
    mutating func joins(_ x: TokenID, _ y: TokenID, _ state: WindowState) -> Bool {
        let key = UInt64(x) << 32 | UInt64(y)
        let slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 52)
        if state.joinKeys[slot] == key { return state.joinValid[slot] }
        state.bytes.removeAll(keepingCapacity: true)
        for id in [x, y] {
            let start = Int(tokenOffsets[Int(id)])
            state.bytes.append(contentsOf: UnsafeBufferPointer(start: tokenBytes + start, count: length(of: id)))
        }
        var pair = TokenBuffer(capacity: 16)
        state.bytes.withUnsafeBufferPointer { encodeWithMerges($0.baseAddress!, $0.count, into: &pair, windowed: false) }
        let valid = pair.count == 2 && pair[0] == x && pair[1] == y
        state.joinKeys[slot] = key
        state.joinValid[slot] = valid
        return valid
    }

    /// See `WindowState`.
    mutating func encodeWindowed(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout TokenBuffer) {
        let state = windowState()
        state.cached.removeAll(keepingCapacity: true)
        state.cachedTokens.removeAll(keepingCapacity: true)
        state.pending.count = 0
        var proven = 0          // `out` holds the piece's tokens before this position, a boundary of its encoding
        var s = 0               // `pending` holds tokens for proven..<s, every join checked
        var last = UInt32.max   // the token that ends at s (none at the piece's start)
        var scanned = 1         // positions below this were looked at for hard boundaries
        while s < n {
            var e = n
            if n - s > windowBytes + windowMargin {
                e = s + windowBytes
                while e > s + 1 && p[e] & 0xC0 == 0x80 { e -= 1 }  // windows end on a character boundary
            }
            if !state.reuse(p, start: s, count: e - s) {
                if e < n && longPieceThreads > 1, let end = takeAhead(p, n, at: s, state) {
                    e = end
                } else {
                    state.window.count = 0
                    encodeByBuckets(p + s, e - s, into: &state.window, state.buckets)
                }
                state.remember(start: s, count: e - s)
            }
            // Keep the tokens that end at least a margin before the window's end (at least one of them).
            var keep = state.window.count, q = e
            if e < n {
                while keep > 1 && q > e - windowMargin {
                    keep -= 1
                    q -= length(of: state.window[keep])
                }
            }
            if last != UInt32.max && !joins(last, state.window[0], state) {
                (last, proven) = repair(p, n, from: proven, after: s, state, into: &out)
                s = proven
                scanned = s + 1
                continue
            }
            state.pending.append(state.window.base, count: keep)
            last = state.window[keep - 1]
            s = q
            // Hand on the tokens before the last hard boundary found in (proven, s].
            var hard = 0
            if s < n {
                var i = max(scanned, proven + 1)
                while i <= s {
                    if state.isHardBoundary(p, i) { hard = i }
                    i += 1
                }
                scanned = s + 1
            }
            if hard > proven {
                var covered = proven, k = 0
                while covered < hard && k < state.pending.count {
                    covered += length(of: state.pending[k])
                    k += 1
                }
                guard covered == hard else {
                    // Facts 1 and 2 rule this out; re-encode from the last proven point rather than trust it.
                    (last, proven) = repair(p, n, from: proven, after: hard - 1, state, into: &out)
                    s = proven
                    scanned = s + 1
                    continue
                }
                out.append(state.pending.base, count: k)
                let rest = state.pending.count - k
                state.pending.base.update(from: state.pending.base + k, count: rest)
                state.pending.count = rest
                proven = hard
            }
        }
        out.append(state.pending.base, count: state.pending.count)
        state.pending.count = 0
    }

    /// Puts the tokens of `p[s..<end]` into `state.window` from a window encoded ahead that has a token
    /// boundary at s and room after it (encoding a new batch from s if none has), and returns `end`; nil when
    /// too little of the piece is left to encode ahead.
    private mutating func takeAhead(_ p: UnsafePointer<UInt8>, _ n: Int, at s: Int, _ state: WindowState) -> Int? {
        for attempt in 0..<2 {
            var k = state.aheadCount - 1
            while k >= 0 {
                let w = state.ahead[k]
                k -= 1
                guard w.start <= s && s + 2 * windowMargin <= w.end else { continue }
                // The window's tokens up to s.
                var at = w.start, i = 0
                while at < s && i < w.tokens.count {
                    at += length(of: w.tokens[i])
                    i += 1
                }
                guard at == s && i < w.tokens.count else { continue }
                state.window.count = 0
                state.window.append(w.tokens.base + i, count: w.tokens.count - i)
                state.takenAhead += 1
                return w.end
            }
            if attempt == 0 && !encodeAhead(p, n, from: s, state) { return nil }
        }
        return nil
    }

    /// Bytes between the starts of windows encoded ahead: the walk keeps a window's tokens up to a margin
    /// before its end, so the next window starts half a margin (and a quarter for the last token's length)
    /// before that, far enough back for its own start not to change its tokens there.
    var aheadStride: Int { max(1, windowBytes - windowMargin - windowMargin / 2 - windowMargin / 4) }

    /// Encodes windows from s and every `aheadStride` bytes after it on `longPieceThreads` threads, up to
    /// four per thread, as long as a window and its margin fit before the piece's end; false if none fits.
    private mutating func encodeAhead(_ p: UnsafePointer<UInt8>, _ n: Int, from s: Int, _ state: WindowState) -> Bool {
        let threads = longPieceThreads
        var count = 0, a = s
        while count < 4 * threads && n - a > windowBytes + windowMargin {
            if state.ahead.count == count { state.ahead.append(AheadWindow()) }
            var e = a + windowBytes
            while e > a + 1 && p[e] & 0xC0 == 0x80 { e -= 1 }  // as the walk cuts windows
            state.ahead[count].start = a
            state.ahead[count].end = e
            count += 1
            a += aheadStride
            while a < n && p[a] & 0xC0 == 0x80 { a += 1 }
        }
        state.aheadCount = count
        guard count > 0 else { return false }
        while state.workers.count < threads { state.workers.append(WindowWorker(vocabulary: vocabulary)) }
        let ahead = state.ahead, workers = state.workers, windows = count, used = min(threads, count)
        nonisolated(unsafe) let text = p
        let encode: @Sendable (Int) -> Void = { t in
            let worker = workers[t]
            var k = t
            while k < windows {
                let w = ahead[k]
                w.tokens.count = 0
                worker.bpe.encodeByBuckets(text + w.start, w.end - w.start, into: &w.tokens, worker.buckets)
                k += used
            }
        }
        // Not concurrentPerform: inside another one (the counter's workers) it runs on one thread.
        let group = DispatchGroup()
        for t in 1..<used { DispatchQueue.global().async(group: group) { encode(t) } }
        encode(0)
        group.wait()
        return true
    }

    /// One heap from `proven` to the first hard boundary after `after` (or the piece's end), into `out`, with
    /// the tokens held since `proven` dropped; returns the last token and where it ends.
    private mutating func repair(_ p: UnsafePointer<UInt8>, _ n: Int, from proven: Int, after: Int, _ state: WindowState,
                                 into out: inout TokenBuffer) -> (TokenID, Int) {
        state.pending.count = 0
        let end = nextHardBoundary(p, n, after: after, state)
        state.window.count = 0
        encodeLong(p + proven, end - proven, into: &state.window)
        out.append(state.window.base, count: state.window.count)
        state.repairs += 1
        return (state.window[state.window.count - 1], end)
    }

    /// The first hard boundary after `after`, or n.
    private func nextHardBoundary(_ p: UnsafePointer<UInt8>, _ n: Int, after: Int, _ state: WindowState) -> Int {
        var i = after + 1
        while i < n && !state.isHardBoundary(p, i) { i += 1 }
        return min(i, n)
    }
}

/// A window encoded ahead: the BPE of `start..<end` of the piece.
final class AheadWindow: @unchecked Sendable {
    var start = 0
    var end = 0
    var tokens = TokenBuffer(capacity: 1 << 12)
}

/// The encoder of one thread that encodes windows ahead (its own caches, the same tables).
final class WindowWorker: @unchecked Sendable {
    var bpe: BytePairEncoder
    let buckets = RankBuckets()

    init(vocabulary: Vocabulary) { bpe = BytePairEncoder(vocabulary: vocabulary) }
}
