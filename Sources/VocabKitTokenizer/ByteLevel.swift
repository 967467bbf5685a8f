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

    /// The UTF-8 of each byte's scalar (every one is below U+0800): up to two bytes, first byte lowest,
    /// the length in bits 16-23. Spelling usage tables of 100k tokens goes through here.
    static let utf8ForByte: [UInt32] = scalarForByte.map { scalar in
        let v = scalar.value
        return v < 0x80 ? v | 1 << 16 : (0xC0 | v >> 6) | (0x80 | v & 0x3F) << 8 | 2 << 16
    }

    /// Spells bytes in the byte-level alphabet ("Ġhello" for " hello").
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        appendEncoded(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the byte-level spelling of `bytes`, as UTF-8, to `out`.
    public static func appendEncoded<S: Sequence>(_ bytes: S, to out: inout [UInt8]) where S.Element == UInt8 {
        if let done: Void = bytes.withContiguousStorageIfAvailable({ appendEncoded($0, to: &out) }) { return done }
        appendEncoded(Array(bytes), to: &out)
    }

    public static func appendEncoded(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        utf8ForByte.withUnsafeBufferPointer { table in
            for b in bytes {
                let code = table[Int(b)]
                out.append(UInt8(truncatingIfNeeded: code))
                if code >> 16 == 2 { out.append(UInt8(truncatingIfNeeded: code >> 8)) }
            }
        }
    }

    /// Recovers the bytes of a byte-level spelling, or nil if it uses a character outside the alphabet.
    public static func decode(_ text: String) -> [UInt8]? {
        var copy = text
        return copy.withUTF8 { decode(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// `decode` of UTF-8 text: every scalar of the alphabet is one or two bytes (below U+0800).
    static func decode(utf8 text: UnsafeRawBufferPointer) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(text.count)
        return byteForScalar.withUnsafeBufferPointer { table -> [UInt8]? in
            var i = 0
            while i < text.count {
                let b0 = text[i]
                var scalar: Int
                if b0 < 0x80 {
                    scalar = Int(b0)
                    i += 1
                } else if b0 >= 0xC2 && b0 < 0xE0 && i + 1 < text.count && text[i + 1] & 0xC0 == 0x80 {
                    scalar = Int(b0 & 0x1F) << 6 | Int(text[i + 1] & 0x3F)
                    i += 2
                } else {
                    return nil
                }
                guard scalar < table.count, table[scalar] >= 0 else { return nil }
                out.append(UInt8(table[scalar]))
            }
            return out
        }
    }
}

/// Token bytes to the first id that has them, for resolving merges given as spellings while a vocabulary
/// loads: byte keys through the vocabulary's own hash table, not Swift strings (whose hashing normalizes).
struct TokenIndex: ~Copyable {
    private let blob: UnsafeMutablePointer<UInt8>
    private let offsets: UnsafeMutablePointer<UInt32>
    private let table: PieceTable
    /// The first id whose bytes an earlier id already has, if any.
    let firstDuplicate: Int?

    /// `tokens` must hold less than 4 GiB of bytes (callers check).
    init(_ tokens: [[UInt8]?]) {
        let total = tokens.reduce(0) { $0 + ($1?.count ?? 0) }
        blob = .allocate(capacity: max(total, 1))
        offsets = .allocate(capacity: tokens.count + 1)
        table = PieceTable(capacity: tokens.count)
        var at = 0
        for (id, bytes) in tokens.enumerated() {
            offsets[id] = UInt32(at)
            if let bytes { (blob + at).update(from: bytes, count: bytes.count); at += bytes.count }
        }
        offsets[tokens.count] = UInt32(at)
        var duplicate: Int?
        for (id, bytes) in tokens.enumerated() {
            guard let bytes, !bytes.isEmpty else { continue }
            if !table.insert(id: UInt32(id), bytes: blob + Int(offsets[id]), count: bytes.count, blob: blob, offsets: offsets),
               duplicate == nil {
                duplicate = id
            }
        }
        firstDuplicate = duplicate
    }

    deinit {
        blob.deallocate()
        offsets.deallocate()
    }

    func id(of bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { b -> Int? in
            guard let base = b.baseAddress else { return nil }
            let id = table.find(PieceKey(base, b.count, readable: b.count), base, blob: blob, offsets: offsets)
            return id == UInt32.max ? nil : Int(id)
        }
    }
}
