/// Turns token ids into text as they arrive, as a generation loop needs: each `append` returns the bytes
/// that end on a whole UTF-8 character, and holds back the start of a character whose remaining bytes are
/// still to come in later tokens (byte-level BPE often splits one character over two or three tokens).
/// The work per id is its own bytes, not everything decoded so far.
///
///     var stream = StreamingDecoder(tokenizer)
///     for id in generated { print(String(decoding: try stream.append(id), as: UTF8.self), terminator: "") }
///     let rest = stream.finish()   // an incomplete character at the very end, if any
///
/// The bytes returned by every `append` and by `finish`, concatenated, are exactly `decode` of all the ids.
/// Bytes that can never become valid UTF-8 are not held back (they are returned as they come), so one bad
/// byte cannot stall the stream.
public struct StreamingDecoder {
    public let tokenizer: Tokenizer
    /// The start of an incomplete character (at most three bytes).
    private var pending: [UInt8] = []

    public init(_ tokenizer: Tokenizer) { self.tokenizer = tokenizer }

    /// The bytes completed by `id`. Throws for an id outside the vocabulary (nothing is consumed then).
    public mutating func append(_ id: TokenID) throws -> [UInt8] {
        var bytes = pending
        try tokenizer.vocabulary.appendBytes(of: id, to: &bytes)
        let keep = StreamingDecoder.incompleteSuffixLength(bytes)
        pending = Array(bytes[(bytes.count - keep)...])
        bytes.removeLast(keep)
        return bytes
    }

    /// `append`, as text (bytes that are not valid UTF-8 become U+FFFD).
    public mutating func appendText(_ id: TokenID) throws -> String {
        String(decoding: try append(id), as: UTF8.self)
    }

    /// Whatever is held back (the start of a character the ids never finished), and a fresh start.
    public mutating func finish() -> [UInt8] {
        defer { pending = [] }
        return pending
    }

    /// Whether bytes are held back waiting for the rest of a character.
    public var isWaiting: Bool { !pending.isEmpty }

    /// The length of the longest suffix of `bytes` that is a proper prefix of a well-formed UTF-8 sequence
    /// (a lead byte and fewer continuation bytes than it needs, each in its allowed range), or 0.
    static func incompleteSuffixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        var k = 1
        while k <= min(3, n) {
            let lead = bytes[n - k]
            if lead & 0xC0 != 0x80 {
                // The last lead byte: how long its sequence must be, and the range of its second byte.
                let need: Int
                var low: UInt8 = 0x80, high: UInt8 = 0xBF
                switch lead {
                case 0xC2...0xDF: need = 2
                case 0xE0: need = 3; low = 0xA0
                case 0xE1...0xEC, 0xEE...0xEF: need = 3
                case 0xED: need = 3; high = 0x9F
                case 0xF0: need = 4; low = 0x90
                case 0xF1...0xF3: need = 4
                case 0xF4: need = 4; high = 0x8F
                default: return 0  // ASCII or a byte that never starts a sequence
                }
                guard k < need else { return 0 }  // complete (or over-long, hence invalid): nothing to wait for
                if k >= 2 && !(bytes[n - k + 1] >= low && bytes[n - k + 1] <= high) { return 0 }
                return k
            }
            k += 1
        }
        return 0
    }
}
