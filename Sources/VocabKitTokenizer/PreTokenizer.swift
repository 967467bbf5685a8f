import CUnicodeData

/// How one tokenizer family cuts text before BPE: whether NFC applies first, the split regex (as its
/// `tokenizer.json` and llama.cpp write it), whether a piece that is itself a token skips the merges, and the
/// hand-written scanner that has the regex's exact semantics. A vocabulary carries one of these, and the
/// encoder, the loaders and the thread splitter all read it; adding a family is adding a value here (see
/// Docs/architecture.md, "How to add a pre-tokenizer").
public struct PreTokenizer: Sendable, Hashable, CustomStringConvertible {
    /// The canonical name: llama.cpp's `tokenizer.ggml.pre` for this family.
    public let name: String
    /// Every `tokenizer.ggml.pre` value that means this pre-tokenizer, the canonical name first.
    public let ggufNames: [String]
    /// The split regex exactly as the family's `tokenizer.json` holds it (Hugging Face `tokenizers`, run by
    /// Oniguruma; `Split` with behaviour `Isolated`). `tokenizer.json` files are recognised by this text.
    public let pattern: String
    /// The same split as llama.cpp's `llm_tokenizer_bpe` writes it (it spells the case-insensitive
    /// contractions out, because its regex engine lacks `(?i:)`).
    public let llamaCppPattern: String
    /// NFC before splitting (`"normalizer": {"type": "NFC"}`), or no normalizer at all.
    public let normalizesNFC: Bool
    /// A piece that is itself a token is that token, even where merging its bytes would give other tokens
    /// (the BPE model's `ignore_merges`; llama.cpp sets it by pre-tokenizer).
    public let ignoresMerges: Bool
    /// The hand-written scanner with `pattern`'s semantics.
    let scanner: any PieceScanner.Type

    public var description: String { name }

    public static func == (a: PreTokenizer, b: PreTokenizer) -> Bool { a.name == b.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}

extension PreTokenizer {
    /// Qwen2, Qwen2.5 and Qwen3: one digit per piece, letters alone, NFC.
    public static let qwen2 = PreTokenizer(
        name: "qwen2",
        ggufNames: ["qwen2"],
        pattern: #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
        llamaCppPattern: #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
        normalizesNFC: true, ignoresMerges: false, scanner: Qwen2Scanner.self)

    /// Qwen3.5: like Qwen2, but combining marks stay with letters (`[\p{L}\p{M}]+`), and no NFC.
    public static let qwen35 = PreTokenizer(
        name: "qwen35",
        ggufNames: ["qwen35"],
        pattern: #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
        llamaCppPattern: #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
        normalizesNFC: false, ignoresMerges: false, scanner: Qwen35Scanner.self)

    /// Llama 3 (llama.cpp's `llama-bpe`): digits in runs of one to three, no NFC, whole-token pieces first.
    public static let llama3 = PreTokenizer(
        name: "llama-bpe",
        ggufNames: ["llama-bpe", "llama3", "llama-v3"],
        pattern: #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
        llamaCppPattern: #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
        normalizesNFC: false, ignoresMerges: true, scanner: Llama3Scanner.self)

    /// Every pre-tokenizer VocabKit knows.
    public static let all: [PreTokenizer] = [.qwen2, .qwen35, .llama3]

    /// The pre-tokenizer a GGUF `tokenizer.ggml.pre` value (or a canonical name) stands for.
    public static func named(_ name: String) -> PreTokenizer? {
        all.first { $0.name == name || $0.ggufNames.contains(name) }
    }

    /// Every name `named` accepts, for messages.
    public static var knownNames: String { all.flatMap(\.ggufNames).joined(separator: ", ") }

    /// The pieces of `text` (NFC first where this pre-tokenizer normalizes), with no special-token matching.
    public func pieces(of text: String) -> [[UInt8]] { pieces(of: text, byteByByte: false) }

    /// The pieces as the encoder finds them (block-wide bit operations), or with the byte-by-byte scanner
    /// that falls back for long runs (tests compare the two).
    package func pieces(of text: String, byteByByte: Bool) -> [[UInt8]] {
        let bytes = normalizesNFC ? NFCNormalizer.normalize(Array(text.utf8)) : Array(text.utf8)
        var result = [[UInt8]]()
        bytes.withUnsafeBufferPointer { b in
            guard let p = b.baseAddress else { return }
            let add = { (start: Int, end: Int) in result.append(Array(b[start..<end])) }
            if byteByByte { scanner.splitByteByByte(p, b.count, add) } else { scanner.split(p, b.count, add) }
        }
        return result
    }
}

/// A hand-written scanner with the exact semantics of one split regex. The encoder calls the `encodeText`
/// and `firstSafeSplit` entry points once per stretch of text through the pre-tokenizer's `scanner`; their
/// default implementations are generic over `Self`, so each scanner's `pieceEnd` is inlined into its own
/// copy of the encoding loop and the per-piece path has no dynamic dispatch.
protocol PieceScanner: Sendable {
    /// The end of the piece that starts at `i` (< n) of valid UTF-8 `p[0..<n]`.
    static func pieceEnd(_ p: UnsafePointer<UInt8>, _ n: Int, at i: Int) -> Int

    /// The split rule, part one: whether `j` (0 < j < n), just after a line feed, is a point where a piece
    /// always ends whatever the rest of the text, scanning from `j` gives the pieces the whole text has there,
    /// and no NFC composition reaches across. Text is cut at such points for threads and around the lines NFC
    /// rewrites.
    static func alwaysBreaksAfterLineFeed(_ p: UnsafePointer<UInt8>, at j: Int) -> Bool

    /// The split rule, part two (threads only): whether a space between two ASCII letters is such a point too.
    static var breaksBeforeSpaceBetweenLetters: Bool { get }

    /// Encodes text between special tokens with this scanner (NFC first when `normalizesNFC`).
    static func encodeText(_ encoder: inout Encoder, _ p: UnsafePointer<UInt8>, _ n: Int, normalizesNFC: Bool,
                           into out: inout TokenBuffer)

    /// The first safe split point in `from..<limit` (limit < n), or nil.
    static func firstSafeSplit(_ p: UnsafePointer<UInt8>, _ n: Int, from: Int, limit: Int) -> Int?

    /// Calls `body` with the bounds of each piece of `p[0..<n]`.
    static func split(_ p: UnsafePointer<UInt8>, _ n: Int, _ body: (Int, Int) -> Void)

    /// Calls `body` with the bounds of each piece of `p[0..<n]`, using (and overwriting) `masks`.
    static func forEachPiece(_ masks: inout ClassMasks, _ p: UnsafePointer<UInt8>, _ n: Int, _ body: (Int, Int) -> Void)

    /// Marks in `masks.starts` the piece starts of the block whose first piece starts at `i`, with a bit at
    /// the text's end or the block's limit, and returns the offset up to which they are decided (pieces that
    /// end later go through `pieceEnd`). The encoder's loop reads pieces off these bits.
    static func markBlock(_ masks: inout ClassMasks, _ p: UnsafePointer<UInt8>, _ n: Int, from i: Int) -> Int
}

extension PieceScanner {
    static func encodeText(_ encoder: inout Encoder, _ p: UnsafePointer<UInt8>, _ n: Int, normalizesNFC: Bool,
                           into out: inout TokenBuffer) {
        encoder.encodeText(Self.self, p, n, normalizesNFC: normalizesNFC, into: &out)
    }

    static func firstSafeSplit(_ p: UnsafePointer<UInt8>, _ n: Int, from: Int, limit: Int) -> Int? {
        var i = max(from, 1)
        let end = min(limit, n - 1)
        while i < end {
            if alwaysBreaksAfterLineFeed(p, at: i + 1) { return i + 1 }
            if breaksBeforeSpaceBetweenLetters && p[i] == 0x20 && ScannerSupport.isASCIILetter(p[i + 1])
                && ScannerSupport.isASCIILetter(p[i - 1]) { return i }
            i += 1
        }
        return nil
    }

    static func splitByteByByte(_ p: UnsafePointer<UInt8>, _ n: Int, _ body: (Int, Int) -> Void) {
        var i = 0
        while i < n {
            let e = pieceEnd(p, n, at: i)
            body(i, e)
            i = e
        }
    }

    static func split(_ p: UnsafePointer<UInt8>, _ n: Int, _ body: (Int, Int) -> Void) {
        var masks = ClassMasks()
        defer { masks.deallocate() }
        forEachPiece(&masks, p, n, body)
    }

    @inline(__always)
    static func forEachPiece(_ masks: inout ClassMasks, _ p: UnsafePointer<UInt8>, _ n: Int, _ body: (Int, Int) -> Void) {
        var i = 0
        while i < n {
            let e = pieceEnd(p, n, at: i)
            body(i, e)
            i = e
        }
    }

    /// Scanners without block-wide rules decide nothing ahead: every piece goes through `pieceEnd`.
    static func markBlock(_ masks: inout ClassMasks, _ p: UnsafePointer<UInt8>, _ n: Int, from i: Int) -> Int {
        masks.classify(p, n, from: i, marksJoinLetters: false)
        return i
    }
}

/// Class bits of a block of text, one bit per byte (`vk_class_masks`: 32 or 64 ASCII bytes at a time, the class
/// table for the rest), and the block's piece starts computed from them (`GPT4StyleScanner.markPieceStarts`).
/// Covers text offsets `base..<limit`: a block of up to `blockBytes` of piece starts, 128 bytes after it for
/// their ends, and up to 7 bytes before it (base is rounded down to a multiple of 8).
struct ClassMasks {
    static let letters = 0, numbers = 1, spaces = 2, breaks = 3, others = 4, blanks = 5, apostrophes = 6, charStarts = 7
    static let classes = 8
    /// Arrays after the classes: the piece starts, then four of scratch for `markPieceStarts`.
    static let arrays = classes + 5
    static let blockBytes = 4096
    /// Words per array: the block, its lookahead and lookbehind, and one zero word, so that any bit has a
    /// following word to read.
    static let words = (blockBytes + 128 + 7 + 63) / 64 + 1
    /// The eight class arrays, the piece starts, scratch.
    let storage: UnsafeMutablePointer<UInt64>
    private(set) var base = 0
    private(set) var limit = 0

    init() {
        storage = .allocate(capacity: ClassMasks.arrays * ClassMasks.words)
        storage.initialize(repeating: 0, count: ClassMasks.arrays * ClassMasks.words)
    }

    func deallocate() { storage.deallocate() }

    @inline(__always)
    func array(_ k: Int) -> UnsafeMutablePointer<UInt64> { storage + k &* ClassMasks.words }

    var starts: UnsafeMutablePointer<UInt64> { array(ClassMasks.classes) }

    /// Classifies the block whose first piece starts at `i`, in valid UTF-8 `p[0..<n]`.
    @inline(__always)
    mutating func classify(_ p: UnsafePointer<UInt8>, _ n: Int, from i: Int, marksJoinLetters: Bool) {
        base = i & ~7
        limit = min(n, i &+ ClassMasks.blockBytes &+ 128)
        vk_class_masks(p + base, limit &- base, n &- base, marksJoinLetters ? 1 : 0, storage, ClassMasks.words)
    }

    /// The number of words holding classified bytes.
    var usedWords: Int { (limit &- base &+ 63) &>> 6 }
}

/// The regexes of the GPT-4 style these families share,
/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?W+|\p{N}{1,D}| ?[^\s W \p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
/// where W is `\p{L}` or `[\p{L}\p{M}]` and D is 1 or 3, as Oniguruma runs them (leftmost alternative wins,
/// greedy with backtracking). One scanner for all of them, specialised per family by two constants.
protocol GPT4StyleScanner: PieceScanner {
    /// Marks (`\p{M}`) belong to words, as in `[\p{L}\p{M}]+`, instead of to punctuation.
    static var marksJoinLetters: Bool { get }
    /// The most digits in one piece (`\p{N}` is 1, `\p{N}{1,3}` is 3).
    static var digitsPerPiece: Int { get }
}

/// Qwen2's `...|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|...`.
enum Qwen2Scanner: GPT4StyleScanner {
    static var marksJoinLetters: Bool { false }
    static var digitsPerPiece: Int { 1 }
}

/// Qwen3.5's `...|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|...`.
enum Qwen35Scanner: GPT4StyleScanner {
    static var marksJoinLetters: Bool { true }
    static var digitsPerPiece: Int { 1 }
}

/// Llama 3's `...|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|...`.
enum Llama3Scanner: GPT4StyleScanner {
    static var marksJoinLetters: Bool { false }
    static var digitsPerPiece: Int { 3 }
}

extension GPT4StyleScanner {
    /// No branch runs from a line feed into a letter (the optional prefix before a word excludes `\r\n`, and
    /// the branches that take line feeds end with them), and a line feed composes with nothing under NFC.
    @inline(__always)
    static func alwaysBreaksAfterLineFeed(_ p: UnsafePointer<UInt8>, at j: Int) -> Bool {
        p[j - 1] == 0x0A && ScannerSupport.isASCIILetter(p[j])
    }

    /// A word ends before the space, and " b" starts the next piece whatever precedes it.
    static var breaksBeforeSpaceBetweenLetters: Bool { true }

    /// The class (letter/word, number, space, other) of a scalar; with `marksJoinLetters`, marks are words.
    @inline(__always)
    static func kind(_ c: UInt32) -> UInt8 {
        if c < 0x80 { return vk_ascii_class(UInt8(truncatingIfNeeded: c)) & 3 }
        let bits = vk_unicode_class(c)
        // A mark's class bits are "other" (0), so or-ing in the mark bit makes it a letter (1).
        return marksJoinLetters ? (bits & 3) | ((bits >> 3) & 1) : bits & 3
    }

    /// End of the run of scalars of class `k` starting at `i`.
    @inline(__always)
    static func run(_ p: UnsafePointer<UInt8>, _ n: Int, from start: Int, of k: UInt8) -> Int {
        var i = start
        while i < n {
            let b = p[i]
            if b < 0x80 {
                if vk_ascii_class(b) & 3 != k { return i }
                i += 1
            } else {
                let (c, l) = UTF8Scalar.decode(p, i)
                if kind(c) != k { return i }
                i += l
            }
        }
        return i
    }

    @inline(__always)
    static func pieceEnd(_ p: UnsafePointer<UInt8>, _ n: Int, at i: Int) -> Int {
        let letter = ScannerSupport.letter, number = ScannerSupport.number, other = ScannerSupport.other
        let (c, l) = UTF8Scalar.decode(p, i)
        let k = kind(c)
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if c == 0x27 {
            let len = ScannerSupport.contraction(p, n, i)
            if len > 0 { return i + len }
        }
        // [^\r\n\p{L}\p{N}]?W+ (with W = [\p{L}\p{M}] a leading mark is either the optional prefix or the first
        // of W+; the piece ends at the same place)
        if k == letter { return run(p, n, from: i + l, of: letter) }
        if k != number && c != 0x0A && c != 0x0D && i + l < n {
            let (c2, l2) = UTF8Scalar.decode(p, i + l)
            if kind(c2) == letter { return run(p, n, from: i + l + l2, of: letter) }
        }
        // \p{N}{1,D}
        if k == number {
            var j = i + l
            var digits = 1
            while digits < digitsPerPiece && j < n {
                let (c2, l2) = UTF8Scalar.decode(p, j)
                guard kind(c2) == number else { break }
                j += l2
                digits += 1
            }
            return j
        }
        // ' ?[^\s W \p{N}]+[\r\n]*'
        var start = -1
        if k == other {
            start = i
        } else if c == 0x20 && i + 1 < n {
            let (c2, _) = UTF8Scalar.decode(p, i + 1)
            if kind(c2) == other { start = i + 1 }
        }
        if start >= 0 {
            var j = run(p, n, from: start, of: other)
            while j < n && (p[j] == 0x0A || p[j] == 0x0D) { j += 1 }
            return j
        }
        // k is whitespace: \s*[\r\n]+ | \s+(?!\S) | \s+
        return ScannerSupport.whitespaceEnd(p, n, at: i)
    }
}

extension GPT4StyleScanner {
    /// The scanner's loop: a block at a time, the piece starts of the whole block are computed from its class
    /// masks with word-wide bit operations (`markPieceStarts`), and the pieces are read off as the gaps between
    /// set bits. A piece that reaches past what the block can decide (a run longer than the block's lookahead)
    /// goes through `pieceEnd`.
    @inline(__always)
    static func markBlock(_ masks: inout ClassMasks, _ p: UnsafePointer<UInt8>, _ n: Int, from i: Int) -> Int {
        masks.classify(p, n, from: i, marksJoinLetters: marksJoinLetters)
        return markPieceStarts(masks, p, n, from: i)
    }

    @inline(__always)
    static func forEachPiece(_ masks: inout ClassMasks, _ p: UnsafePointer<UInt8>, _ n: Int, _ body: (Int, Int) -> Void) {
        var i = 0
        while i < n {
            masks.classify(p, n, from: i, marksJoinLetters: marksJoinLetters)
            let base = masks.base
            let trusted = markPieceStarts(masks, p, n, from: i) &- base
            let starts = UnsafePointer(masks.starts)
            let stop = min(i &+ ClassMasks.blockBytes, n) &- base
            var at = i &- base
            let first = at
            // The set bits after `at`, a word at a time; a bit marks the text's end (or the block's limit).
            var w = at &>> 6
            var bits = starts[w] & (~1 &<< UInt64(truncatingIfNeeded: at & 63))
            while at < stop {
                while bits == 0 {
                    w &+= 1
                    bits = starts[w]
                }
                let end = w &<< 6 | bits.trailingZeroBitCount
                bits &= bits &- 1
                guard end <= trusted else { break }
                body(base &+ at, base &+ end)
                at = end
            }
            i = base &+ at
            if at == first {
                // Not even the first piece is decided within the block: one piece the slow way.
                let end = pieceEnd(p, n, at: i)
                body(i, end)
                i = end
            }
        }
    }

    /// Sets the bits of the block's piece starts in `masks.starts` (bit k: text offset base + k), for pieces
    /// from `start` (a piece start) on, with one more bit at the text's end or the block's limit; returns the
    /// text offset up to which they are decided: `n` when the block reaches the end of the text, else the
    /// start of the last run of one class (a piece that ends at or before it is exact; bytes past the block
    /// could change what follows).
    ///
    /// The rules, at byte level with every byte of a character carrying its class (Docs/tokenizer.md, "The
    /// scanner", derives them from the regex): a piece starts at
    /// - a word's first letter, unless the character before it joins the word: a blank (whitespace other than
    ///   a line break), or an "other" character standing alone (not after another "other" or a space);
    /// - every digit (Qwen) or the first of a run (Llama 3: runs of over three digits are cut by hand);
    /// - the first "other" character of a run, unless a space precedes it, and a space before an "other";
    /// - the first whitespace of a run, unless it is a line break right after "other" (`[\r\n]*` took it);
    /// - the first blank after the line breaks taken by "other";
    /// - the first blank after a whitespace run's last line break (`\s*[\r\n]+` ends there);
    /// - the last character of a whitespace run of two or more before a non-space (`\s+(?!\S)` gives it
    ///   back);
    /// - after a contraction (`'s`, `'ll`…) that starts a piece and is followed by more letters (by hand).
    static func markPieceStarts(_ masks: ClassMasks, _ p: UnsafePointer<UInt8>, _ n: Int, from start: Int) -> Int {
        let base = masks.base
        let words = masks.usedWords
        let L = UnsafePointer(masks.array(ClassMasks.letters)), D = UnsafePointer(masks.array(ClassMasks.numbers))
        let W = UnsafePointer(masks.array(ClassMasks.spaces)), N = UnsafePointer(masks.array(ClassMasks.breaks))
        let O = UnsafePointer(masks.array(ClassMasks.others)), SP = UnsafePointer(masks.array(ClassMasks.blanks))
        let A = UnsafePointer(masks.array(ClassMasks.apostrophes)), CS = UnsafePointer(masks.array(ClassMasks.charStarts))
        let B = masks.starts
        let validBytes = masks.limit &- base
        @inline(__always) func valid(_ w: Int) -> UInt64 {
            let left = validBytes &- w &<< 6
            return left >= 64 ? UInt64.max : left <= 0 ? 0 : (1 &<< UInt64(truncatingIfNeeded: left)) &- 1
        }
        // Every array has a zero word after the used ones, and the word before the first counts as zero.
        @inline(__always) func prev(_ m: UnsafePointer<UInt64>, _ w: Int) -> UInt64 {
            m[w] &<< 1 | (w > 0 ? m[w &- 1] &>> 63 : 0)
        }
        @inline(__always) func next(_ m: UnsafePointer<UInt64>, _ w: Int) -> UInt64 { m[w] &>> 1 | m[w &+ 1] &<< 63 }

        let digitsAlone = digitsPerPiece == 1
        var byHand = false
        var carryTaken: UInt64 = 0    // line breaks taken by "other" go on into the next word
        var lenderTop: UInt64 = 0     // the previous word's last bit of `lender`
        var takenTop: UInt64 = 0      // and of `taken`
        for w in 0..<words {
            let l = L[w], d = D[w], o = O[w], nl = N[w], sp = SP[w], ws = W[w], cs = CS[w], v = valid(w)
            let x = ws & ~nl
            let pL = prev(L, w), pO = prev(O, w), pSP = prev(SP, w), pW = prev(W, w), pN = prev(N, w)
            let pX = pW & ~pN
            // "Other" characters that can join a following word: the first of an "other" run not after a space
            // (only a run of that one character ends right before a letter).
            var lender = o & ~pO & ~pSP
            let continuation = ~cs & v
            if continuation != 0 {
                let c = continuation
                lender |= (lender &<< 1 | lenderTop) & c
                lender |= (lender &<< 1) & c
                lender |= (lender &<< 1) & c
            }
            let pLender = lender &<< 1 | lenderTop
            lenderTop = lender &>> 63
            var b = l & ~pL & ~(pX | pLender)
            b |= digitsAlone ? d & cs : d & cs & ~prev(D, w)
            b |= o & ~pO & ~pSP
            b |= sp & next(O, w)
            b |= ws & ~pW & ~(nl & pO)
            // Line breaks right after "other" (whole runs, by carry propagation from each run's first).
            let seeds = nl & ~pN & pO
            let (sum, overflow) = nl.addingReportingOverflow(seeds)
            let (sum2, overflow2) = sum.addingReportingOverflow(carryTaken)
            let taken = (sum2 ^ nl) & nl
            carryTaken = overflow || overflow2 ? 1 : 0
            b |= x & (taken &<< 1 | takenTop)
            takenTop = taken &>> 63
            // The last character of a whitespace run of two or more, before a non-space (one byte; longer
            // characters by hand).
            let nextReal = (~ws & v) &>> 1 | (~W[w &+ 1] & valid(w &+ 1)) &<< 63
            b |= x & pX & nextReal & cs
            if x & nextReal & ~cs != 0 { byHand = true }
            // Blanks right after a line break: a start when their run ends at a non-space (or the text's end),
            // not at another line break of the same whitespace run.
            var afterBreak = x & pN
            while afterBreak != 0 {
                let k = w &<< 6 | afterBreak.trailingZeroBitCount
                afterBreak &= afterBreak &- 1
                var e = k, ew = w
                var rest = ~(W[ew] & ~N[ew]) &>> UInt64(truncatingIfNeeded: k & 63)
                while rest == 0 {
                    ew &+= 1
                    e = ew &<< 6
                    rest = ~(W[ew] & ~N[ew])
                }
                e &+= rest.trailingZeroBitCount
                if e < validBytes ? W[e &>> 6] &>> UInt64(truncatingIfNeeded: e & 63) & 1 == 0 : masks.limit == n {
                    b |= 1 &<< UInt64(truncatingIfNeeded: k & 63)
                }
            }
            if A[w] & next(L, w) & ~pO & ~pSP != 0 { byHand = true }
            if !digitsAlone && d & prev(D, w) != 0 { byHand = true }
            B[w] = b & v
        }
        B[words] = 0
        // The block's first piece starts at `start`; nothing before it is ours.
        let first = start &- base
        if byHand { markByHand(masks, p, n, words: words, first: first) }
        for k in 0..<(first &>> 6) { B[k] = 0 }
        B[first &>> 6] = (B[first &>> 6] | 1 &<< UInt64(truncatingIfNeeded: first & 63)) & UInt64.max &<< UInt64(truncatingIfNeeded: first & 63)
        // A bit at the limit: the text's end, or where the block stops knowing.
        B[validBytes &>> 6] |= 1 &<< UInt64(truncatingIfNeeded: validBytes & 63)
        if masks.limit == n { return n }
        // The start of the run of one class that holds the last byte: nothing before it depends on later bytes.
        let lastByte = validBytes &- 1
        let lw = lastByte &>> 6, lb = UInt64(truncatingIfNeeded: lastByte & 63)
        let run = L[lw] &>> lb & 1 != 0 ? L : D[lw] &>> lb & 1 != 0 ? D : O[lw] &>> lb & 1 != 0 ? O : W
        var k = lw
        var outside = ~run[k] & (UInt64.max &>> (63 &- lb))
        while outside == 0 && k > 0 {
            k &-= 1
            outside = ~run[k]
        }
        let runStart = outside == 0 ? 0 : k &<< 6 | (64 &- outside.leadingZeroBitCount)
        return base &+ runStart
    }

    /// The starts the word-wide rules leave to code: the last character of a whitespace run when it is longer
    /// than a byte, after a contraction followed by more letters (`'sa` is `'s`, `a`), and every third digit
    /// of a run of more than three (Llama 3).
    @inline(never)
    static func markByHand(_ masks: ClassMasks, _ p: UnsafePointer<UInt8>, _ n: Int, words: Int, first: Int) {
        let base = masks.base
        let L = masks.array(ClassMasks.letters), D = masks.array(ClassMasks.numbers), O = masks.array(ClassMasks.others)
        let W = masks.array(ClassMasks.spaces), N = masks.array(ClassMasks.breaks), CS = masks.array(ClassMasks.charStarts)
        let SP = masks.array(ClassMasks.blanks), A = masks.array(ClassMasks.apostrophes), B = masks.starts
        let validBytes = masks.limit &- base
        @inline(__always) func bit(_ m: UnsafeMutablePointer<UInt64>, _ k: Int) -> Bool {
            k >= 0 && k < validBytes && m[k &>> 6] &>> UInt64(truncatingIfNeeded: k & 63) & 1 != 0
        }
        @inline(__always) func set(_ k: Int) {
            if k < validBytes { B[k &>> 6] |= 1 &<< UInt64(truncatingIfNeeded: k & 63) }
        }
        @inline(__always) func blank(_ k: Int) -> Bool { bit(W, k) && !bit(N, k) }
        for w in 0..<words {
            let x = W[w] & ~N[w]
            // The last character of a whitespace run of two or more, when it is longer than a byte.
            var lastBytes = x & ~CS[w]
            while lastBytes != 0 {
                let k = w &<< 6 | lastBytes.trailingZeroBitCount
                lastBytes &= lastBytes &- 1
                guard k &+ 1 < validBytes, !bit(W, k &+ 1) else { continue }
                var lead = k
                while lead > 0 && !bit(CS, lead) { lead &-= 1 }
                if blank(lead &- 1) { set(lead) }
            }
            // Contractions. A piece starts at the apostrophe: the block's first piece does; otherwise nothing
            // before it takes it (an "other" run, or a space's punctuation piece). Before `first` the bytes
            // belong to earlier pieces.
            var apostrophes = A[w]
            while apostrophes != 0 {
                let k = w &<< 6 | apostrophes.trailingZeroBitCount
                apostrophes &= apostrophes &- 1
                guard k >= first, bit(L, k &+ 1), k == first || (!bit(O, k &- 1) && !bit(SP, k &- 1)) else { continue }
                let length = ScannerSupport.contraction(p, n, base &+ k)
                if length > 0 && bit(L, k &+ length) { set(k &+ length) }
            }
        }
        guard digitsPerPiece > 1 else { return }
        // Runs of digits with two or more bytes: a start every `digitsPerPiece` characters.
        var covered = 0
        for w in 0..<words {
            var candidates = D[w] & (D[w] &<< 1 | (w > 0 ? D[w &- 1] &>> 63 : 0))
            while candidates != 0 {
                var k = w &<< 6 | candidates.trailingZeroBitCount
                candidates &= candidates &- 1
                guard k >= covered, k > first else { continue }
                while k > first && bit(D, k &- 1) { k &-= 1 }  // a piece starts at `first`, so digits count from it
                var digits = 0
                while bit(D, k) {
                    if digits > 0 && digits % digitsPerPiece == 0 { set(k) }
                    let c = p[base &+ k]
                    k &+= c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4
                    digits &+= 1
                }
                covered = k
            }
        }
    }
}

/// Within each run of ones of `run`, the bits at or after a bit of `seeds` (bit 0 also when `carry` is 1
/// and the run goes on from the word before).
@inline(__always)
func fillForward(_ seeds: UInt64, through run: UInt64, carry: UInt64) -> UInt64 {
    var f = seeds | (carry & run & 1)
    var q = run
    f |= (f &<< 1) & q; q &= q &<< 1
    f |= (f &<< 2) & q; q &= q &<< 2
    f |= (f &<< 4) & q; q &= q &<< 4
    f |= (f &<< 8) & q; q &= q &<< 8
    f |= (f &<< 16) & q; q &= q &<< 16
    f |= (f &<< 32) & q
    return f
}

/// Within each run of ones of `run`, the bits at or before a bit of `seeds` (bit 63 also when `carry` has
/// bit 63 set and the run goes on into the next word).
@inline(__always)
func fillBackward(_ seeds: UInt64, through run: UInt64, carry: UInt64) -> UInt64 {
    var f = seeds | (carry & run & (1 &<< 63))
    var q = run
    f |= (f &>> 1) & q; q &= q &>> 1
    f |= (f &>> 2) & q; q &= q &>> 2
    f |= (f &>> 4) & q; q &= q &>> 4
    f |= (f &>> 8) & q; q &= q &>> 8
    f |= (f &>> 16) & q; q &= q &>> 16
    f |= (f &>> 32) & q
    return f
}

/// Pieces of the scanners that do not depend on the family.
enum ScannerSupport {
    static let letter = UInt8(VK_LETTER), number = UInt8(VK_NUMBER), space = UInt8(VK_SPACE), other = UInt8(VK_OTHER)

    @inline(__always)
    static func isASCIILetter(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }

    /// Length of a case-insensitive contraction (`'s`, `'LL`, `'ſ`) starting at the apostrophe at `i`, or 0.
    @inline(__always)
    static func contraction(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: Int) -> Int {
        guard i + 1 < n else { return 0 }
        let c1 = p[i + 1] | 0x20  // ASCII lower case; non-letters are ruled out below
        switch c1 {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
            return isASCIILetter(p[i + 1]) ? 2 : 0
        case UInt8(ascii: "r"), UInt8(ascii: "v"):
            return isASCIILetter(p[i + 1]) && i + 2 < n && p[i + 2] | 0x20 == UInt8(ascii: "e") && isASCIILetter(p[i + 2]) ? 3 : 0
        case UInt8(ascii: "l"):
            return isASCIILetter(p[i + 1]) && i + 2 < n && p[i + 2] | 0x20 == UInt8(ascii: "l") && isASCIILetter(p[i + 2]) ? 3 : 0
        default:
            // U+017F LATIN SMALL LETTER LONG S case-folds to "s".
            return p[i + 1] == 0xC5 && i + 2 < n && p[i + 2] == 0xBF ? 3 : 0
        }
    }

    /// The end of a whitespace piece starting at `i`: `\s*[\r\n]+` ends after the last line break of the run,
    /// `\s+(?!\S)` gives back the last whitespace scalar before a non-space, `\s+` takes the run otherwise.
    @inline(__always)
    static func whitespaceEnd(_ p: UnsafePointer<UInt8>, _ n: Int, at i: Int) -> Int {
        var j = i
        var lastNewline = -1
        var lastStart = i
        while j < n {
            let b = p[j]
            if b < 0x80 {
                if vk_ascii_class(b) & 3 != space { break }
                if b == 0x0A || b == 0x0D { lastNewline = j }
                lastStart = j
                j += 1
            } else {
                let (c2, l2) = UTF8Scalar.decode(p, j)
                // Marks are never whitespace, so the plain class decides for every family.
                if vk_unicode_class(c2) & 3 != space { break }
                lastStart = j
                j += l2
            }
        }
        if lastNewline >= 0 { return lastNewline + 1 }
        if j == n { return j }
        return lastStart > i ? lastStart : j
    }
}

/// UTF-8 decoding for text already known to be valid.
enum UTF8Scalar {
    /// The scalar at `i` and its byte length.
    @inline(__always)
    static func decode(_ p: UnsafePointer<UInt8>, _ i: Int) -> (UInt32, Int) {
        let b0 = UInt32(p[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F), 2) }
        if b0 < 0xF0 {
            return ((b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F), 3)
        }
        return ((b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6
                | UInt32(p[i + 3] & 0x3F), 4)
    }
}
