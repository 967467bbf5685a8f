/// SHA-256 (FIPS 180-4), for fingerprints that name a vocabulary in a usage table: Foundation on Linux has
/// no digest, and a dependency for one function is not worth it. Fed in pieces; `hexDigest` finishes.
public struct SHA256 {
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)
    private var block = [UInt8](repeating: 0, count: 64)
    private var blockCount = 0
    private var length: UInt64 = 0

    public init() {}

    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress else { return }
        length &+= UInt64(bytes.count)
        var offset = 0
        while offset < bytes.count {
            if blockCount == 0 && bytes.count - offset >= 64 {
                compress(base + offset)
                offset += 64
                continue
            }
            let take = min(64 - blockCount, bytes.count - offset)
            block.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: blockCount).copyMemory(from: base + offset, byteCount: take) }
            blockCount += take
            offset += take
            if blockCount == 64 {
                let full = block
                full.withUnsafeBytes { compress($0.baseAddress!) }
                blockCount = 0
            }
        }
    }

    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let array = Array(bytes)
        array.withUnsafeBytes { update($0) }
    }

    /// A 32-bit value, little-endian.
    public mutating func update(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { update($0) }
    }

    /// The digest of everything fed, as 64 lowercase hex digits.
    public mutating func hexDigest() -> String {
        let bits = length &* 8
        var padding: [UInt8] = [0x80]
        padding += [UInt8](repeating: 0, count: (64 + 56 - (blockCount + 1) % 64) % 64)
        for shift in stride(from: 56, through: 0, by: -8) { padding.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        let saved = length
        update(padding)
        length = saved
        let words = [state.0, state.1, state.2, state.3, state.4, state.5, state.6, state.7]
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for word in words {
            for shift in stride(from: 28, through: 0, by: -4) { out.append(digits[Int((word >> UInt32(shift)) & 15)]) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// One 64-byte block at `p`.
    private mutating func compress(_ p: UnsafeRawPointer) {
        @inline(__always) func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        var (a, b, c, d, e, f, g, h) = state
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            SHA256.k.withUnsafeBufferPointer { k in
                for t in 0..<16 { w[t] = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 4 * t, as: UInt32.self)) }
                for t in 16..<64 {
                    let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
                    let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
                    w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
                }
                for t in 0..<64 {
                    let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                    let choice = (e & f) ^ (~e & g)
                    let t1 = h &+ s1 &+ choice &+ k[t] &+ w[t]
                    let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                    let majority = (a & b) ^ (a & c) ^ (b & c)
                    let t2 = s0 &+ majority
                    h = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ t2
                }
            }
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d, state.4 &+ e, state.5 &+ f, state.6 &+ g, state.7 &+ h)
    }
}

extension Vocabulary {
    /// SHA-256 over what decides how text tokenizes: every id's bytes (ids without text left out, so a GGUF's
    /// padding rows do not matter), the merges in rank order, and the special tokens' ids and text. Two
    /// vocabularies with the same fingerprint count any text to the same ids; a usage table records it so that
    /// tables counted with different vocabularies are never summed.
    public var fingerprint: String {
        var bytes = Array("vocabkit vocabulary fingerprint v1\n".utf8)
        bytes.reserveCapacity(Int(tokenOffsets[idCount]) + 8 * idCount + 12 * merges.count + 64)
        func append(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        for id in 0..<idCount where isToken(id) {
            let start = Int(tokenOffsets[id]), end = Int(tokenOffsets[id + 1])
            append(UInt32(id))
            append(UInt32(end - start))
            bytes += UnsafeBufferPointer(start: tokenBytes + start, count: end - start)
        }
        append(UInt32.max)
        for merge in merges {
            append(merge.left)
            append(merge.right)
            append(merge.result)
        }
        append(UInt32.max)
        for special in specialTokens.sorted(by: { $0.id < $1.id }) {
            append(UInt32(special.id))
            append(UInt32(special.text.utf8.count))
            bytes += special.text.utf8
        }
        var hash = SHA256()
        bytes.withUnsafeBytes { hash.update($0) }
        return hash.hexDigest()
    }
}
