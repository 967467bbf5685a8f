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
    public func pieces(of text: String) -> [[UInt8]] {
        let bytes = normalizesNFC ? NFCNormalizer.normalize(Array(text.utf8)) : Array(text.utf8)
        var result = [[UInt8]]()
        bytes.withUnsafeBufferPointer { b in
            guard let p = b.baseAddress else { return }
            scanner.split(p, b.count) { start, end in result.append(Array(b[start..<end])) }
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

    static func split(_ p: UnsafePointer<UInt8>, _ n: Int, _ body: (Int, Int) -> Void) {
        var i = 0
        while i < n {
            let e = pieceEnd(p, n, at: i)
            body(i, e)
            i = e
        }
    }
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
