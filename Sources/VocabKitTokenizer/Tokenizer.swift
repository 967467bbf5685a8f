import Dispatch
import VocabKitIO
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A token id. Every id the tokenizer takes or gives has this type; it is what llama.cpp and GGUF store.
public typealias TokenID = UInt32

/// A byte-level BPE tokenizer: special tokens matched whole in the raw text, then the vocabulary's
/// pre-tokenizer (NFC where it normalizes, and its split), then BPE. Thread-safe; encoding state lives in
/// per-call encoders.
///
///     let tokenizer = try Tokenizer.qwen3()
///     let ids = tokenizer.encode("Hello, world")
///     let text = try tokenizer.decode(ids)
public final class Tokenizer: Sendable {
    public let vocabulary: Vocabulary
    let specials: SpecialTokenMatcher
    /// Chunked parallel encoding splits at spaces and line breaks, which must not occur inside special tokens.
    let canSplitForThreads: Bool
    /// Encoders kept between calls, so their caches (frequent pieces, BPE results) stay warm.
    private let pool = EncoderPool()

    public init(vocabulary: Vocabulary) {
        self.vocabulary = vocabulary
        specials = SpecialTokenMatcher(vocabulary.specialTokens)
        canSplitForThreads = !vocabulary.specialTokens.contains { $0.text.utf8.contains(0x0A) || $0.text.utf8.contains(0x20) }
    }

    /// The tokenizer of a vocabulary file (see `Vocabulary.load(path:preTokenizer:)` for the formats).
    public convenience init(contentsOf path: String, preTokenizer: PreTokenizer? = nil) throws {
        self.init(vocabulary: try Vocabulary.load(path: path, preTokenizer: preTokenizer))
    }

    /// Qwen3's tokenizer, from the vocabulary bundled with VocabKit (loaded once per process).
    public static func qwen3() throws -> Tokenizer { try bundledQwen3.get() }

    private static let bundledQwen3 = Result { Tokenizer(vocabulary: try Vocabulary.bundled()) }

    /// How this tokenizer cuts text before BPE.
    public var preTokenizer: PreTokenizer { vocabulary.preTokenizer }

    /// Runs `body` with an encoder from the pool (or a new one), returned to the pool afterwards.
    func withEncoder<R>(_ body: (inout Encoder) throws -> R) rethrows -> R {
        let box = pool.take() ?? EncoderBox(Encoder(self))
        defer { pool.put(box) }
        return try body(&box.encoder)
    }

    /// Encodes a string; special tokens are matched unless `specialTokens` is false.
    public func encode(_ text: String, specialTokens: Bool = true) -> [TokenID] {
        var copy = text
        return copy.withUTF8 { buf in
            guard let base = buf.baseAddress else { return [] }
            var out = TokenBuffer()
            withEncoder { $0.encode(base, buf.count, specialTokens: specialTokens, into: &out) }
            return Array(UnsafeBufferPointer(start: out.base, count: out.count))
        }
    }

    /// Encodes UTF-8 bytes with up to `threads` threads. Throws `invalidUTF8` for ill-formed input.
    public func encode(utf8 bytes: UnsafeRawBufferPointer, specialTokens: Bool = true, threads: Int = 1) throws -> [TokenID] {
        var all = [TokenID]()
        try encode(utf8: bytes, specialTokens: specialTokens, threads: threads) { chunk in all.append(contentsOf: chunk) }
        return all
    }

    /// Encodes UTF-8 bytes and hands the ids to `sink` in order, a chunk at a time, so that callers that only
    /// count or stream need not hold every id: at most a few chunks' ids are held at once, whatever the input's
    /// size. The whole input is validated before `sink` sees any id.
    public func encode(utf8 bytes: UnsafeRawBufferPointer, specialTokens: Bool = true, threads: Int = 1,
                       sink: (UnsafeBufferPointer<TokenID>) throws -> Void) throws {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count > 0 else { return }
        // More threads than 64 KiB chunks are never used; this also keeps `threads * 4` from overflowing.
        let threads = min(max(threads, 1), bytes.count >> 16 + 1)
        let chunks = threads > 1 ? chunkBounds(base, bytes.count, pieces: threads * 4) : [0, bytes.count]
        if chunks.count <= 2 {
            if let bad = UTF8Validation.firstInvalidOffset(base, bytes.count) {
                throw TokenizerError.invalidUTF8(offset: bad, path: nil)
            }
            try withEncoder { encoder in
                // One chunk (no split point): the other threads are free for a long piece's windows.
                encoder.bpe.longPieceThreads = threads
                defer { encoder.bpe.longPieceThreads = 1 }
                try encoder.encode(base, bytes.count, specialTokens: specialTokens, sink: sink)
            }
            return
        }
        // Chunks start at ASCII bytes, so the text is valid UTF-8 exactly when every chunk is; the chunks
        // validate in parallel first, so that an invalid byte anywhere is reported before any id is handed on.
        let chunkCount = chunks.count - 1
        let invalid = ChunkValidation(chunks: chunks, base: base, threads: threads)
        if let bad = invalid.firstInvalidOffset { throw TokenizerError.invalidUTF8(offset: bad, path: nil) }
        let pipeline = ChunkPipeline(count: chunkCount, window: 4 * threads)
        nonisolated(unsafe) let start = base
        try withoutActuallyEscaping(sink) { sink in
            nonisolated(unsafe) let sink = sink
            DispatchQueue.concurrentPerform(iterations: min(threads, chunkCount)) { _ in
                withEncoder { encoder in
                    while let c = pipeline.claim() {
                        let chunkStart = chunks[c], count = chunks[c + 1] - chunks[c]
                        var out = TokenBuffer(capacity: count / 3 + 16)
                        encoder.encode(start + chunkStart, count, specialTokens: specialTokens, into: &out)
                        pipeline.finish(c, out, sink: sink)
                    }
                }
            }
        }
        try pipeline.check()
    }

    /// The first split point in `from..<limit` (limit < n) where the pre-tokenizer's split rule says pieces
    /// always break whatever the context, so the two sides encode independently: neither NFC nor any regex
    /// branch crosses it. Nil if there is none, or if a special token contains a space or line feed (it could
    /// straddle the point).
    package func safeSplitPoint(_ p: UnsafePointer<UInt8>, _ n: Int, from: Int, limit: Int) -> Int? {
        guard canSplitForThreads else { return nil }
        return vocabulary.preTokenizer.scanner.firstSafeSplit(p, n, from: from, limit: limit)
    }

    /// Chunk boundaries for parallel encoding, about `pieces` chunks of 64 KiB to 1 MiB (more chunks for
    /// large inputs, so that the ids held while chunks wait for their turn stay bounded), at safe split points.
    func chunkBounds(_ p: UnsafePointer<UInt8>, _ n: Int, pieces: Int) -> [Int] {
        let minimum = 1 << 16
        guard n >= 2 * minimum else { return [0, n] }
        let target = min(max(n / pieces, minimum), 1 << 20)
        var bounds = [0]
        var at = target
        while at < n - minimum {
            let limit = min(n - 1, at + (1 << 20))
            guard let found = safeSplitPoint(p, n, from: at, limit: limit) else {
                at = limit
                continue
            }
            bounds.append(found)
            at = found + target
        }
        bounds.append(n)
        return bounds
    }

    /// The pre-tokenized pieces of `text` (after NFC where the pre-tokenizer normalizes), with no
    /// special-token matching (for inspection and tests).
    package func pieces(of text: String) -> [[UInt8]] { vocabulary.preTokenizer.pieces(of: text) }

    /// NFC as the tokenizer applies it.
    package static func nfc(_ bytes: [UInt8], window: Int = 1 << 16) -> [UInt8] {
        NFCNormalizer.normalize(bytes, window: window)
    }

    /// The bytes the ids stand for (special tokens give their text). Ids outside the vocabulary throw.
    public func decode(_ ids: some Sequence<TokenID>) throws -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(ids.underestimatedCount * 4)
        for id in ids { try vocabulary.appendBytes(of: id, to: &out) }
        return out
    }
}

/// One thread's encoder kept across calls, so that code encoding many small inputs (a corpus of files) builds
/// its caches once instead of per input. Not for sharing between threads: make one per thread.
public final class ReusableEncoder {
    public let tokenizer: Tokenizer
    private var encoder: Encoder
    private var out = TokenBuffer(capacity: 1 << 16)

    public init(_ tokenizer: Tokenizer) {
        self.tokenizer = tokenizer
        encoder = Encoder(tokenizer)
    }

    /// Threads that may encode the windows of a piece longer than 17 KiB at once (text without whitespace;
    /// see WindowedBPE.swift). 1 by default; other threads may be idle while one encodes such a piece.
    public var longPieceThreads: Int {
        get { encoder.bpe.longPieceThreads }
        set { encoder.bpe.longPieceThreads = max(1, newValue) }
    }

    /// Encodes valid UTF-8 (throws `invalidUTF8` otherwise) on this thread and hands the ids to `sink`, a
    /// bounded number at a time.
    public func encode(utf8 bytes: UnsafeRawBufferPointer, specialTokens: Bool = true,
                       sink: (UnsafeBufferPointer<TokenID>) throws -> Void) throws {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count > 0 else { return }
        if let bad = UTF8Validation.firstInvalidOffset(base, bytes.count) {
            throw TokenizerError.invalidUTF8(offset: bad, path: nil)
        }
        out.count = 0
        try withoutActuallyEscaping(sink) { body in
            let drain = TokenDrain(body)
            out.drain = drain
            defer { out.drain = nil }
            encoder.encode(base, bytes.count, specialTokens: specialTokens, into: &out)
            out.flush()
            try drain.check()
        }
    }
}

/// UTF-8 validation of the chunks of a parallel encode, spread over the threads.
struct ChunkValidation {
    /// The first bad byte of the text, or nil.
    let firstInvalidOffset: Int?

    init(chunks: [Int], base: UnsafePointer<UInt8>, threads: Int) {
        let chunkCount = chunks.count - 1
        let firstBad = Atomic<Int>(Int.max)
        let next = Atomic<Int>(0)
        nonisolated(unsafe) let start = base
        DispatchQueue.concurrentPerform(iterations: min(threads, chunkCount)) { _ in
            while true {
                let c = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard c < chunkCount else { break }
                guard chunks[c] < firstBad.load(ordering: .relaxed) else { continue }
                if let bad = UTF8Validation.firstInvalidOffset(start + chunks[c], chunks[c + 1] - chunks[c]) {
                    _ = firstBad.min(chunks[c] + bad, ordering: .relaxed)
                }
            }
        }
        let bad = firstBad.load(ordering: .relaxed)
        firstInvalidOffset = bad == Int.max ? nil : bad
    }
}

/// The hand-over of a parallel encode's chunks to the sink, in order, as they finish. Workers claim chunks
/// in order, but no further than `window` chunks past the first one not yet handed on, so the ids held at
/// once stay bounded (a permit per chunk in flight); whichever worker finishes the chunk the sink waits for
/// hands it, and every finished chunk after it, to the sink. Results and the sink's calls are serialised by
/// one lock, so the sink is never called concurrently and ThreadSanitizer sees every hand-over.
final class ChunkPipeline: @unchecked Sendable {
    private let count: Int
    private let permits: DispatchSemaphore
    private let window: Int
    private let lock = Lock()
    private var nextClaim = 0
    /// Ids of finished chunks not yet handed on, by chunk.
    private var finished: [Int: (ids: UnsafeMutablePointer<TokenID>, count: Int)] = [:]
    /// The next chunk to hand on.
    private var nextOut = 0
    /// Whether a worker is calling the sink now.
    private var sinking = false
    private var error: (any Error)?

    init(count: Int, window: Int) {
        self.count = count
        self.window = window
        permits = DispatchSemaphore(value: window)
    }

    deinit {
        for (_, chunk) in finished { chunk.ids.deallocate() }
    }

    /// The next chunk to encode, or nil when none is left (or the sink failed). May wait for the sink.
    func claim() -> Int? {
        permits.wait()
        return lock.withLock {
            guard error == nil, nextClaim < count else {
                permits.signal()  // pass the wake-up on to the next waiting worker
                return nil
            }
            nextClaim += 1
            return nextClaim - 1
        }
    }

    /// Stores chunk `c`'s ids; hands on every chunk now ready, in order, unless another worker is doing so.
    func finish(_ c: Int, _ buffer: consuming TokenBuffer, sink: (UnsafeBufferPointer<TokenID>) throws -> Void) {
        let chunk = buffer.takeStorage()
        var ready: (ids: UnsafeMutablePointer<TokenID>, count: Int)? = nil
        lock.withLock {
            finished[c] = chunk
            if !sinking, let next = finished.removeValue(forKey: nextOut) {
                sinking = true
                ready = next
            }
        }
        while let (ids, n) = ready {
            if error == nil {
                do { try sink(UnsafeBufferPointer(start: ids, count: n)) } catch { lock.withLock { self.error = error } }
            }
            ids.deallocate()
            permits.signal()
            ready = lock.withLock {
                nextOut += 1
                if let next = finished.removeValue(forKey: nextOut) { return next }
                sinking = false
                return nil
            }
        }
    }

    /// Rethrows the sink's error, if it threw.
    func check() throws {
        if let error = lock.withLock({ error }) { throw error }
    }
}

/// An encoder in a box, so the pool can hold it.
final class EncoderBox {
    var encoder: Encoder
    init(_ encoder: consuming Encoder) { self.encoder = encoder }
}

/// A few idle encoders (several MB each, mostly caches on 2 MB pages), at most one per core.
final class EncoderPool: @unchecked Sendable {
    private var idle: [EncoderBox] = []
    private let lock = Lock()
    private let limit = max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1)

    func take() -> EncoderBox? { lock.withLock { idle.popLast() } }
    func put(_ box: EncoderBox) { lock.withLock { if idle.count < limit { idle.append(box) } } }
}

/// One thread's encoding state: BPE scratch space and caches over a shared vocabulary. Unowned: the pool that
/// keeps encoders lives in the tokenizer, and every other holder keeps the tokenizer alive itself.
struct Encoder: ~Copyable {
    unowned(unsafe) let tokenizer: Tokenizer
    let pieceTable: PieceTable
    let offsets: UnsafeMutablePointer<UInt32>
    let blob: UnsafeMutablePointer<UInt8>
    let hasNotSelfEncoding: Bool
    /// Whether a whole piece found in the vocabulary must also be a token BPE reproduces (it need not when
    /// the pre-tokenizer ignores merges for whole pieces).
    let checksWholePieces: Bool
    /// Bit per id: the token's bytes BPE to something else (`Vocabulary.notSelfEncoding`, as bits: a Set's
    /// hashing cost as much as the rest of a first-seen piece).
    let notSelfEncoding: UnsafePointer<UInt64>
    let scanner: any PieceScanner.Type
    let normalizesNFC: Bool
    let byteTokens: UnsafeMutablePointer<UInt32>
    let pairTokens: UnsafeMutablePointer<UInt32>
    var bpe: BytePairEncoder
    var cache = MissCache()
    /// Fetched on the first non-ASCII piece that needs it (building it takes a few milliseconds).
    var characterPairs: CharacterPairSet?
    let splitsCharacters: Bool
    /// Pieces of 3 to 16 bytes already encoded (or found in the vocabulary), with their ids: one probe of
    /// one cache line, where the vocabulary's table (8 MB) mostly misses the CPU caches.
    let hot = HotPieces()
    var scratch = TokenBuffer(capacity: 256)
    /// The scanner's class masks for the block being encoded.
    let classMasks = ClassMasks()

    init(_ tokenizer: Tokenizer) {
        self.tokenizer = tokenizer
        let v = tokenizer.vocabulary
        pieceTable = v.pieceTable
        offsets = v.tokenOffsets
        blob = v.tokenBytes
        notSelfEncoding = UnsafePointer(v.notSelfEncodingBits)
        hasNotSelfEncoding = !v.notSelfEncoding.isEmpty
        checksWholePieces = hasNotSelfEncoding && !v.preTokenizer.ignoresMerges
        scanner = v.preTokenizer.scanner
        normalizesNFC = v.preTokenizer.normalizesNFC
        byteTokens = v.byteTokens
        pairTokens = v.pairTokens
        bpe = BytePairEncoder(vocabulary: v)
        characterPairs = nil
        splitsCharacters = v.mergesAreMonotone
    }

    deinit {
        classMasks.deallocate()
    }

    /// Encodes into a bounded buffer that hands its ids to `sink` whenever it fills, and at the end.
    mutating func encode(_ p: UnsafePointer<UInt8>, _ n: Int, specialTokens: Bool,
                         sink: (UnsafeBufferPointer<TokenID>) throws -> Void) throws {
        try withoutActuallyEscaping(sink) { body in
            let drain = TokenDrain(body)
            var out = TokenBuffer(capacity: 1 << 16, drain: drain)
            encode(p, n, specialTokens: specialTokens, into: &out)
            out.flush()
            try drain.check()
        }
    }

    mutating func encode(_ p: UnsafePointer<UInt8>, _ n: Int, specialTokens: Bool, into out: inout TokenBuffer) {
        guard specialTokens else {
            encodeText(p, n, into: &out)
            return
        }
        var i = 0
        while i < n, let m = tokenizer.specials.next(in: p, from: i, count: n) {
            if m.start > i { encodeText(p + i, m.start - i, into: &out) }
            out.append(m.id)
            i = m.end
        }
        if i < n { encodeText(p + i, n - i, into: &out) }
    }

    /// Text between special tokens, through the pre-tokenizer's scanner (one dynamic call per stretch; the
    /// scanner's entry point runs `encodeText(_:...)` specialised for it).
    mutating func encodeText(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout TokenBuffer) {
        let scanner = self.scanner
        scanner.encodeText(&self, p, n, normalizesNFC: normalizesNFC, into: &out)
    }

    /// NFC (where the pre-tokenizer normalizes), then pre-tokenize and BPE each piece. Only the stretch around
    /// text that NFC may change is copied and normalized; it is cut out at the scanner's split points, where
    /// neither NFC nor the pre-tokenizer can reach across, so the rest encodes in place.
    mutating func encodeText<S: PieceScanner>(_ scanner: S.Type, _ p: UnsafePointer<UInt8>, _ n: Int,
                                              normalizesNFC: Bool, into out: inout TokenBuffer) {
        guard normalizesNFC else {
            encodePieces(S.self, p, n, into: &out)
            return
        }
        var i = 0
        while i < n {
            guard let offset = NFCNormalizer.firstUnsafeOffset(p + i, n - i) else {
                encodePieces(S.self, p + i, n - i, into: &out)
                return
            }
            let unsafe = i + offset
            var start = unsafe
            while start > i && !S.alwaysBreaksAfterLineFeed(p, at: start) { start -= 1 }
            var end = unsafe
            while end < n && p[end] != 0x0A { end += 1 }
            while end < n - 1 && !S.alwaysBreaksAfterLineFeed(p, at: end + 1) { end += 1 }
            end = end < n - 1 ? end + 1 : n
            if start > i { encodePieces(S.self, p + i, start - i, into: &out) }
            if let normalized = NFCNormalizer.normalizeIfNeeded(p + start, end - start) {
                normalized.withUnsafeBufferPointer { encodePieces(S.self, $0.baseAddress!, $0.count, into: &out) }
            } else {
                encodePieces(S.self, p + start, end - start, into: &out)
            }
            i = end
        }
    }

    /// The hot loop: the scanner marks a block's piece starts (`PieceScanner.markBlock`), and each piece is
    /// resolved from the direct tables (1 and 2 bytes) or the hot table (3 to 16 bytes) with its ids written
    /// straight into `out`; everything else goes to `encodePiece`. Room for a block's ids is made once: a
    /// piece has at most as many ids as bytes.
    @inline(__always)
    mutating func encodePieces<S: PieceScanner>(_ scanner: S.Type, _ p: UnsafePointer<UInt8>, _ n: Int,
                                                into out: inout TokenBuffer) {
        var masks = classMasks
        let byteTokens = self.byteTokens, pairTokens = self.pairTokens
        let hot = self.hot.view
        let wordMasks = UnsafePointer(HotPieces.wordMasks)
        let room = ClassMasks.blockBytes + 256
        var i = 0
        while i < n {
            let trusted = S.markBlock(&masks, p, n, from: i)
            let base = masks.base
            let starts = UnsafePointer(masks.starts)
            let stop = min(i &+ ClassMasks.blockBytes, n) &- base, last = trusted &- base
            var at = i &- base
            let first = at
            if trusted == i {
                // Nothing decided ahead (no block-wide rules, or a run longer than the block): the slow way.
                let end = S.pieceEnd(p, n, at: i)
                encodePiece(p + i, end - i, readable: n - i, into: &out)
                i = end
                continue
            }
            var w = at &>> 6
            var bits = starts[w] & (~1 &<< UInt64(truncatingIfNeeded: at & 63))
            out.reserve(room)
            var ids = out.base + out.count
            while at < stop {
                while bits == 0 {
                    w &+= 1
                    bits = starts[w]
                }
                let end = w &<< 6 | bits.trailingZeroBitCount
                guard end <= last else { break }
                bits &= bits &- 1
                let start = base &+ at, length = end &- at
                at = end
                let q = p + start
                var probed = false
                if length <= 2 {
                    let id = length == 1 ? byteTokens[Int(q[0])] : pairTokens[Int(q[0]) | Int(q[1]) &<< 8]
                    if id != UInt32.max {
                        ids.pointee = id
                        ids += 1
                        continue
                    }
                } else if length <= HotPieces.maxBytes && n &- start >= 16 {
                    let (w0, w1) = HotPieces.words(q, length, readable: 16, masks: wordMasks)
                    let found = hot.lookup(w0, w1, length, into: ids)
                    if found > 0 {
                        ids += found
                        continue
                    }
                    probed = true
                }
                out.count = ids - out.base
                encodePiece(q, length, readable: n &- start, hotProbed: probed, into: &out)
                out.reserve(room)
                ids = out.base + out.count
            }
            out.count = ids - out.base
            i = base &+ at
            if at == first {
                // Not even the first piece is decided within the block: one piece the slow way.
                let end = S.pieceEnd(p, n, at: i)
                encodePiece(p + i, end - i, readable: n - i, into: &out)
                i = end
            }
        }
    }

    /// A piece the hot loop did not resolve: the hot table, the miss cache (pieces that are not one token, and
    /// every piece of more than 16 bytes), the vocabulary, the piece's segments, or BPE. Remembers the result:
    /// pieces of up to 16 bytes and 3 ids in the hot table, the others in the miss cache.
    /// `hotProbed`: the caller already looked the piece up in the hot table and missed.
    mutating func encodePiece(_ p: UnsafePointer<UInt8>, _ n: Int, readable: Int, hotProbed: Bool = false,
                              into out: inout TokenBuffer) {
        if n <= 2 {
            let id = n == 1 ? byteTokens[Int(p[0])] : pairTokens[Int(p[0]) | Int(p[1]) &<< 8]
            if id != UInt32.max {
                out.append(id)
                return
            }
        }
        let short = n <= HotPieces.maxBytes
        let (w0, w1) = short ? HotPieces.words(p, n, readable: readable) : (0, 0)
        if short {
            if !hotProbed {
                out.reserve(3)
                let found = hot.view.lookup(w0, w1, n, into: out.base + out.count)
                if found > 0 {
                    out.count += found
                    return
                }
            }
        }
        let key = PieceKey(p, n, readable: readable)
        if short {
            // Short pieces the hot table does not hold are mostly tokens seen for the first time: the
            // vocabulary first, by the words already at hand, with the miss cache's slot asked for meanwhile
            // (one wait for memory instead of two when the piece is not a token). Long ones (CJK runs) are
            // mostly not tokens: the cache first.
            cache.prefetch(key)
            let id = pieceTable.find(w0, w1, n, p, blob: blob, offsets: offsets)
            if id != UInt32.max && !(checksWholePieces && notSelfEncoding[Int(id) &>> 6] &>> UInt64(id & 63) & 1 != 0) {
                out.append(id)
                withUnsafePointer(to: id) { hot.view.insert(w0, w1, n, ids: $0, count: 1) }
                return
            }
        }
        let cacheable = n <= MissCache.maxPieceBytes
        if cacheable && cache.lookup(key, p, into: &out) { return }
        let before = out.count, handedOn = out.handedOn
        encodeUncached(key, p, n, readable: readable, lookedUp: short, into: &out)
        // Remembered only when no drain handed part of the ids on meanwhile.
        guard out.handedOn == handedOn else { return }
        let added = out.count - before
        if short && added <= 3 {
            hot.view.insert(w0, w1, n, ids: out.base + before, count: added)
        } else if cacheable {
            cache.insert(key, p, ids: out.base + before, count: added)
        }
    }

    /// The vocabulary (unless `lookedUp` already), the piece's segments, or BPE.
    mutating func encodeUncached(_ key: PieceKey, _ p: UnsafePointer<UInt8>, _ n: Int, readable: Int, lookedUp: Bool,
                                 into out: inout TokenBuffer) {
        if !lookedUp {
            let id = pieceTable.find(key, p, blob: blob, offsets: offsets)
            if id != UInt32.max && !(checksWholePieces && notSelfEncoding[Int(id) &>> 6] &>> UInt64(id & 63) & 1 != 0) {
                out.append(id)
                return
            }
        }
        if splitsCharacters, n > 6, p[n - 1] >= 0x80 || p[0] >= 0x80 {
            if characterPairs == nil { characterPairs = tokenizer.vocabulary.characterPairs }
            let pairs = characterPairs!
            var i = 0, previous: UInt32 = 0
            var end = bpe.nextSegmentEnd(p, n, at: &i, previous: &previous, pairs: pairs)
            if end < n {
                var start = 0
                while true {
                    encodeSegment(p + start, end - start, readable: readable - start, into: &out)
                    if end == n { return }
                    start = end
                    end = bpe.nextSegmentEnd(p, n, at: &i, previous: &previous, pairs: pairs)
                }
            }
        }
        bpe.encodeWithMerges(p, n, into: &out)
    }

    /// A part of a piece that no merge crosses: a token, a cached result, or BPE.
    @inline(__always)
    mutating func encodeSegment(_ p: UnsafePointer<UInt8>, _ n: Int, readable: Int, into out: inout TokenBuffer) {
        let key = PieceKey(p, n, readable: readable)
        let id = pieceTable.find(key, p, blob: blob, offsets: offsets)
        if id != UInt32.max && !(hasNotSelfEncoding && notSelfEncoding[Int(id) &>> 6] &>> UInt64(id & 63) & 1 != 0) {
            out.append(id)
            return
        }
        encodeMiss(key, p, n, into: &out)
    }

    @inline(__always)
    mutating func encodeMiss(_ key: PieceKey, _ p: UnsafePointer<UInt8>, _ n: Int, into out: inout TokenBuffer) {
        if n > MissCache.maxPieceBytes {
            bpe.encodeWithMerges(p, n, into: &out)
            return
        }
        if cache.lookup(key, p, into: &out) { return }
        scratch.count = 0
        bpe.encodeWithMerges(p, n, into: &scratch)
        cache.insert(key, p, ids: scratch.base, count: scratch.count)
        out.reserve(scratch.count)
        (out.base + out.count).update(from: scratch.base, count: scratch.count)
        out.count += scratch.count
    }
}
