import CUnicodeData

/// Qwen's pre-tokenizer, written as a byte scanner with the exact semantics of
/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
/// as Oniguruma runs it (leftmost alternative wins, greedy with backtracking). Character classes come from a
/// generated table rather than a regex engine or `Character` (which is a grapheme cluster, not a scalar).
/// Input must be valid UTF-8.
enum QwenPreTokenizer {
    /// Decodes the scalar at `i`; returns it and its byte length.
    @inline(__always)
    static func scalar(_ p: UnsafePointer<UInt8>, _ i: Int) -> (UInt32, Int) {
        let b0 = UInt32(p[i])
        if b0 < 0x80 { return (b0, 1) }
        if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F), 2) }
        if b0 < 0xF0 {
            return ((b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F), 3)
        }
        return ((b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6
                | UInt32(p[i + 3] & 0x3F), 4)
    }

    @inline(__always)
    static func kind(_ c: UInt32) -> UInt8 {
        c < 0x80 ? vk_ascii_class(UInt8(truncatingIfNeeded: c)) & 3 : vk_unicode_class(c) & 3
    }

    static let letter = UInt8(VK_LETTER), number = UInt8(VK_NUMBER), space = UInt8(VK_SPACE), other = UInt8(VK_OTHER)

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
                let (c, l) = scalar(p, i)
                if kind(c) != k { return i }
                i += l
            }
        }
        return i
    }

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

    @inline(__always)
    static func isASCIILetter(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }

    /// Whether a piece always ends at `j` (0 < j < count) because `p[j - 1]` is a line feed and `p[j]` an ASCII
    /// letter: no regex branch runs from a line feed into a letter, and NFC composes nothing across it. Used
    /// to cut text for threads and around the lines NFC must rewrite.
    @inline(__always)
    static func alwaysBreaksAfterLineFeed(_ p: UnsafePointer<UInt8>, at j: Int) -> Bool {
        p[j - 1] == 0x0A && isASCIILetter(p[j])
    }

    /// The end of the piece that starts at `i` (< n).
    @inline(__always)
    static func pieceEnd(_ p: UnsafePointer<UInt8>, _ n: Int, at i: Int) -> Int {
        let (c, l) = scalar(p, i)
        let k = kind(c)
        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if c == 0x27 {
            let len = contraction(p, n, i)
            if len > 0 { return i + len }
        }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if k == letter { return run(p, n, from: i + l, of: letter) }
        if k != number && c != 0x0A && c != 0x0D && i + l < n {
            let (c2, l2) = scalar(p, i + l)
            if kind(c2) == letter { return run(p, n, from: i + l + l2, of: letter) }
        }
        // \p{N}
        if k == number { return i + l }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        var start = -1
        if k == other {
            start = i
        } else if c == 0x20 && i + 1 < n {
            let (c2, _) = scalar(p, i + 1)
            if kind(c2) == other { start = i + 1 }
        }
        if start >= 0 {
            var j = run(p, n, from: start, of: other)
            while j < n && (p[j] == 0x0A || p[j] == 0x0D) { j += 1 }
            return j
        }
        // k is whitespace: \s*[\r\n]+ | \s+(?!\S) | \s+
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
                let (c2, l2) = scalar(p, j)
                if kind(c2) != space { break }
                lastStart = j
                j += l2
            }
        }
        if lastNewline >= 0 { return lastNewline + 1 }
        if j == n { return j }
        return lastStart > i ? lastStart : j
    }

    /// Calls `body` with the bounds of each piece of `p[0..<n]`.
    @inline(__always)
    static func split(_ p: UnsafePointer<UInt8>, _ n: Int, _ body: (Int, Int) -> Void) {
        var i = 0
        while i < n {
            let e = pieceEnd(p, n, at: i)
            body(i, e)
            i = e
        }
    }
}
