#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole lines of a file or of standard input, read front to back in batches of about `batchBytes`, so that
/// an input of any size (a pipe from Spark, a terabyte shard) streams through in constant memory. A batch
/// always ends at a line end (or at the end of the input), so its lines can be handed to any thread.
///
/// Files are opened as `InputFile` opens them (regular files only: a FIFO or device path is refused);
/// standard input ("-") may be anything, as the caller chose to pipe it.
public final class LineBatchReader {
    public let path: String
    private let descriptor: Int32
    private let ownsDescriptor: Bool
    /// A line longer than this is refused: it would have to be held whole.
    public let maximumLineBytes: Int
    /// The start of a line that the last batch could not end with.
    private var carry: [UInt8] = []
    private var atEnd = false
    /// Bytes read so far.
    public private(set) var bytesRead = 0

    /// - Parameter path: a regular file, or "-" for standard input.
    public init(path: String, maximumLineBytes: Int = 1 << 30) throws {
        self.path = path
        self.maximumLineBytes = maximumLineBytes
        if path == "-" {
            descriptor = 0
            ownsDescriptor = false
        } else {
            descriptor = try InputFile.openRegular(path).descriptor
            ownsDescriptor = true
        }
    }

    deinit { if ownsDescriptor { close(descriptor) } }

    /// Fills `batch` with the next whole lines: at least `batchBytes` when the input has that many, more when
    /// a single line is longer. Returns false, with `batch` empty, once the input is exhausted.
    public func next(into batch: LineBatch, batchBytes: Int) throws -> Bool {
        batch.count = 0
        guard !atEnd || !carry.isEmpty else { return false }
        batch.reserve(max(batchBytes, carry.count + 1))
        if !carry.isEmpty {
            carry.withUnsafeBytes { batch.base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            batch.count = carry.count
            carry.removeAll(keepingCapacity: true)
        }
        var searchedUpTo = batch.count  // no line feed before this offset of the batch (the carry has none)
        while true {
            // Read until the batch is full or the input ends.
            while !atEnd && batch.count < batch.capacity {
                let r = read(descriptor, batch.base + batch.count, batch.capacity - batch.count)
                if r < 0 {
                    if errno == EINTR { continue }
                    throw FileError.unreadable(path: path == "-" ? "stdin" : path, reason: String(cString: strerror(errno)))
                }
                if r == 0 { atEnd = true } else { batch.count += r; bytesRead += r }
            }
            if atEnd { return batch.count > 0 }
            // Cut after the last line feed; what follows starts the next batch.
            let bytes = batch.base.assumingMemoryBound(to: UInt8.self)
            var end = batch.count
            while end > searchedUpTo && bytes[end - 1] != 0x0A { end -= 1 }
            if end > searchedUpTo {
                carry.append(contentsOf: UnsafeBufferPointer(start: bytes + end, count: batch.count - end))
                batch.count = end
                return true
            }
            // One line fills the whole batch: grow it and read on.
            searchedUpTo = batch.count
            guard batch.capacity < maximumLineBytes else {
                throw FileError.lineTooLong(path: path == "-" ? "stdin" : path, limit: maximumLineBytes)
            }
            batch.reserve(min(batch.capacity * 2, maximumLineBytes))
        }
    }
}

/// A reusable buffer holding whole lines, filled by `LineBatchReader` and read by any thread.
public final class LineBatch: @unchecked Sendable {
    public private(set) var base: UnsafeMutableRawPointer
    public private(set) var capacity: Int
    public internal(set) var count = 0

    public init(capacity: Int = 1 << 20) {
        self.capacity = max(capacity, 16)
        base = .allocate(byteCount: self.capacity, alignment: 64)
    }

    deinit { base.deallocate() }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Room for at least `size` bytes, keeping the bytes already there.
    func reserve(_ size: Int) {
        guard size > capacity else { return }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        grown.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = grown
        capacity = size
    }
}
