/// GPT-2's byte-to-character mapping, which GGUF `tokenizer.ggml.tokens`, `vocab.json` and `merges.txt` use to
/// spell token bytes as printable text: printable Latin-1 bytes stand for themselves, the other 68 bytes are
/// shifted to U+0100 and up, in byte order.
public enum ByteLevel {
    /// Unicode scalar for each byte.
    public static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// Byte for each scalar below U+0144, or -1 for scalars the mapping does not produce.
    static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for (b, s) in scalarForByte.enumerated() { table[Int(s.value)] = Int16(b) }
        return table
    }()

    /// Spells bytes in the byte-level alphabet ("Ġhello" for " hello").
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(scalarForByte[Int(b)]) }
        return String(s)
    }

    /// Recovers the bytes of a byte-level spelling, or nil if it uses a character outside the alphabet.
    public static func decode(_ text: String) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count)
        for s in text.unicodeScalars {
            guard s.value < 0x144 else { return nil }
            let b = byteForScalar[Int(s.value)]
            guard b >= 0 else { return nil }
            out.append(UInt8(b))
        }
        return out
    }
}
