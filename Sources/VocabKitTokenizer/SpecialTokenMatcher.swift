/// Finds special tokens in raw text, leftmost-longest like the reference's added-vocabulary matcher. Only
/// positions whose byte can start a special token are examined (`<` for Qwen), so ordinary text is skipped
/// quickly.
struct SpecialTokenMatcher: Sendable {
    private let startsWith: [Bool]
    /// Candidates for each first byte, longest first.
    private let candidates: [[(bytes: [UInt8], id: UInt32)]]
    let isEmpty: Bool
    /// The first byte shared by every special token (`<` for Qwen), found with memchr; -1 if they differ.
    private let commonFirstByte: Int32

    init(_ specials: [SpecialToken]) {
        var starts = [Bool](repeating: false, count: 256)
        var byFirst = [[(bytes: [UInt8], id: UInt32)]](repeating: [], count: 256)
        for s in specials {
            let b = Array(s.text.utf8)
            guard let first = b.first else { continue }
            starts[Int(first)] = true
            byFirst[Int(first)].append((b, UInt32(s.id)))
        }
        for i in 0..<256 { byFirst[i].sort { $0.bytes.count > $1.bytes.count } }
        startsWith = starts
        candidates = byFirst
        isEmpty = specials.isEmpty
        let firsts = Set(specials.compactMap { $0.text.utf8.first })
        commonFirstByte = firsts.count == 1 ? Int32(firsts.first!) : -1
    }

    /// The next special token at or after `from`: its start, end and id.
    func next(in p: UnsafePointer<UInt8>, from: Int, count n: Int) -> (start: Int, end: Int, id: UInt32)? {
        if isEmpty { return nil }
        return startsWith.withUnsafeBufferPointer { starts -> (Int, Int, UInt32)? in
            var i = from
            while i < n {
                if commonFirstByte >= 0 {
                    guard let hit = memchr(p + i, commonFirstByte, n - i) else { return nil }
                    i = UnsafeRawPointer(hit).assumingMemoryBound(to: UInt8.self) - p
                }
                if starts[Int(p[i])] {
                    for (bytes, id) in candidates[Int(p[i])] where bytes.count <= n - i {
                        if bytes.withUnsafeBufferPointer({ memcmp($0.baseAddress!, p + i, $0.count) == 0 }) {
                            return (i, i + bytes.count, id)
                        }
                    }
                }
                i += 1
            }
            return nil
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
