import CICU
import CUnicodeData

/// NFC normalization as the Qwen tokenizer applies it. ICU does the work, but only for lines that contain a
/// scalar that NFC might change (quick check not Yes, or a nonzero combining class); a line break never
/// composes with its neighbours, so lines normalize independently and most text is never copied.
enum NFCNormalizer {
    /// Offset of the first scalar that may change under NFC, or nil if the text is already NFC.
    static func firstUnsafeOffset(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
        let offset = vk_first_nfc_unsafe(p, n)
        return offset < n ? offset : nil
    }

    /// The NFC form of `p[0..<n]`, or nil when the text is already NFC.
    static func normalizeIfNeeded(_ p: UnsafePointer<UInt8>, _ n: Int, window: Int = 1 << 16) -> [UInt8]? {
        guard let first = firstUnsafeOffset(p, n) else { return nil }
        var lineStart = first
        while lineStart > 0 && p[lineStart - 1] != 0x0A { lineStart -= 1 }
        var out = [UInt8]()
        out.reserveCapacity(n + n / 8 + 16)
        out.append(contentsOf: UnsafeBufferPointer(start: p, count: lineStart))
        var i = lineStart
        while i < n {
            var end = i
            while end < n && p[end] != 0x0A { end += 1 }
            if end < n { end += 1 }
            if firstUnsafeOffset(p + i, end - i) != nil {
                appendNFC(p + i, end - i, to: &out, window: window)
            } else {
                out.append(contentsOf: UnsafeBufferPointer(start: p + i, count: end - i))
            }
            i = end
        }
        return out
    }

    /// NFC of `p[0..<n]` appended to `out`, through ICU a window of about `window` bytes at a time: a line
    /// without line feeds can be the whole input (200 MB of text without whitespace), and ICU's UTF-16 copies
    /// of it cost several times its size. Windows end before a scalar NFC leaves alone and that never
    /// combines with what precedes it (quick check Yes and combining class 0: an ASCII byte, a CJK
    /// ideograph), so NFC of the whole is the windows' NFC put together.
    static func appendNFC(_ p: UnsafePointer<UInt8>, _ n: Int, to out: inout [UInt8], window: Int = 1 << 16) {
        var start = 0
        while start < n {
            var cut = n - start > window ? start + window : n
            while cut < n && !startsStableScalar(p, n, at: cut) { cut += 1 }
            appendNFCWhole(p + start, cut - start, to: &out)
            start = cut
        }
    }

    /// Whether `p[i]` starts a scalar that NFC does not change and that never combines with its predecessor.
    @inline(__always)
    static func startsStableScalar(_ p: UnsafePointer<UInt8>, _ n: Int, at i: Int) -> Bool {
        let lead = p[i]
        if lead < 0x80 { return true }
        if lead < 0xC0 { return false }  // a continuation byte: not a scalar's start
        let length = lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
        guard i + length <= n else { return false }
        return firstUnsafeOffset(p + i, length) == nil
    }

    private static func appendNFCWhole(_ p: UnsafePointer<UInt8>, _ n: Int, to out: inout [UInt8]) {
        var capacity = n * 3 + 16
        while true {
            var buffer = [UInt8](repeating: 0, count: capacity)
            let written = buffer.withUnsafeMutableBufferPointer { vk_nfc_utf8(p, Int64(n), $0.baseAddress, Int64(capacity)) }
            if written < 0 {
                // ICU refuses only invalid UTF-8, which validation has already excluded; keep the text as is.
                out.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
                return
            }
            if Int(written) <= capacity {
                out.append(contentsOf: buffer[0..<Int(written)])
                return
            }
            capacity = Int(written) + 16
        }
    }

    /// NFC of a whole string (for tests and small inputs).
    static func normalize(_ bytes: [UInt8], window: Int = 1 << 16) -> [UInt8] {
        bytes.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else { return [] }
            return normalizeIfNeeded(base, b.count, window: window) ?? bytes
        }
    }
}

/// UTF-8 validation that reports where the first bad byte is, with an ASCII fast path.
public enum UTF8Validation {
    /// Byte offset of the first byte that does not start or continue a well-formed sequence, or nil.
    /// Rejects overlong forms, surrogates (ED A0..BF) and scalars above U+10FFFF, as the standard requires.
    /// (`vk_utf8_first_invalid`: ASCII 32 bytes at a time, three-byte characters on a short path.)
    public static func firstInvalidOffset(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
        let offset = vk_utf8_first_invalid(p, n)
        return offset < n ? offset : nil
    }

    /// The text with each ill-formed subsequence replaced by U+FFFD, as `String(decoding:as:)` does.
    public static func replacingInvalid(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        Array(String(decoding: bytes, as: UTF8.self).utf8)
    }
}
