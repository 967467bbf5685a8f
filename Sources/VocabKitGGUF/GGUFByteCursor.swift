/// Bounds-checked little-endian reads over the mapped file.
///
/// Every read checks the bytes left first and reports the offset, so a hostile file turns into a
/// `GGUFError` rather than an out-of-bounds access. `what` is an autoclosure so the happy path builds no
/// strings.
struct GGUFByteCursor {
    let bytes: UnsafeRawBufferPointer
    var position: Int

    init(_ bytes: UnsafeRawBufferPointer, position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    var remaining: Int { bytes.count - position }

    @inline(__always)
    func require(_ count: UInt64, _ what: @autoclosure () -> String) throws {
        guard count <= UInt64(remaining) else {
            throw GGUFError.truncated(what: what(), offset: position, needed: count, available: remaining)
        }
    }

    @inline(__always)
    mutating func skip(_ count: Int, _ what: @autoclosure () -> String) throws {
        try require(UInt64(count), what())
        position += count
    }

    @inline(__always)
    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try require(UInt64(MemoryLayout<T>.size), what())
        let value = bytes.loadUnaligned(fromByteOffset: position, as: T.self)
        position += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    /// Reads a GGUF string (u64 length + bytes) and returns the byte range of its text.
    @inline(__always)
    mutating func readStringRange(_ what: @autoclosure () -> String) throws -> Range<Int> {
        let start = position
        let length = try read(UInt64.self, "length of " + what())
        guard length <= UInt64(remaining) else {
            position = start
            throw GGUFError.truncated(what: what() + " (length \(length))", offset: start,
                                      needed: length &+ 8, available: remaining + 8)
        }
        let textStart = position
        position += Int(length)
        return textStart..<position
    }

    /// Reads a string that must be valid UTF-8 (keys and tensor names are looked up by text, so lossy
    /// decoding would make two different names collide).
    mutating func readStrictString(_ what: @autoclosure () -> String) throws -> String {
        let start = position
        let range = try readStringRange(what())
        let slice = UnsafeRawBufferPointer(rebasing: bytes[range])
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw GGUFError.invalidUTF8(what: what(), offset: start)
        }
        return text
    }

    func string(in range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }
}
