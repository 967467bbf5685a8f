/// The lines of a text file as byte ranges, read the same whatever the file's line ends: LF, CRLF, and a
/// last line without a line feed. Line numbers count from 1, for messages.
public struct TextLines: Sequence {
    public let bytes: UnsafeRawBufferPointer

    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    public struct Line {
        /// 1-based.
        public let number: Int
        /// The line without its line end.
        public let bytes: UnsafeRawBufferPointer

        public var text: String { String(decoding: bytes, as: UTF8.self) }
        public var isBlank: Bool { bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 } }
    }

    public struct Iterator: IteratorProtocol {
        let bytes: UnsafeRawBufferPointer
        var start = 0
        var number = 0

        public mutating func next() -> Line? {
            guard start < bytes.count else { return nil }
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            let next = end + 1
            if end > start && bytes[end - 1] == 0x0D { end -= 1 }
            number += 1
            let line = Line(number: number, bytes: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            start = next
            return line
        }
    }

    public func makeIterator() -> Iterator { Iterator(bytes: bytes) }
}

/// Strict decimal parsing for numbers in user files and options: digits only (an optional sign where
/// allowed), no overflow, no surrounding space.
public enum DecimalParser {
    /// A non-negative integer that fits UInt64, or nil.
    @inlinable
    public static func unsigned<Bytes: Collection>(_ bytes: Bytes) -> UInt64? where Bytes.Element == UInt8 {
        guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
        var value: UInt64 = 0
        for b in bytes {
            guard b >= 0x30 && b <= 0x39 else { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (plus, o2) = times.addingReportingOverflow(UInt64(b - 0x30))
            guard !o1 && !o2 else { return nil }
            value = plus
        }
        return value
    }

    /// A non-negative integer that fits Int, or nil.
    @inlinable
    public static func int<Bytes: Collection>(_ bytes: Bytes) -> Int? where Bytes.Element == UInt8 {
        guard let v = unsigned(bytes), v <= UInt64(Int.max) else { return nil }
        return Int(v)
    }
}
