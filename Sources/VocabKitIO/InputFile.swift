#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The one way VocabKit reads a file: the whole input as read-only bytes, memory-mapped (large files), read
/// into memory (small files, standard input), or read into a caller's reusable buffer.
///
/// Only regular files are opened. The path is opened non-blocking and checked before anything is read, so a
/// FIFO, a device such as /dev/zero or /dev/urandom, or a socket is refused at once instead of blocking in
/// `open` or reading forever. `bytes` stays valid as long as the object lives.
public final class InputFile: @unchecked Sendable {
    /// The path as given, or "stdin".
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    private let storage: Storage

    private enum Storage {
        case none
        case mapped
        case owned(UnsafeMutableRawPointer)
        case borrowed
    }

    /// Reads `path`, refusing anything but a regular file, and files larger than `limit` bytes.
    /// - Parameter mapAbove: files larger than this are memory-mapped, smaller ones read into memory.
    public convenience init(path: String, limit: Int = Int.max, mapAbove: Int = 1 << 20) throws {
        try self.init(path: path, limit: limit, mapAbove: mapAbove, buffer: nil)
    }

    /// Reads `path` into `buffer` when it fits `buffer.readLimit` (the bytes are then valid until the buffer's
    /// next use), and maps it otherwise. Mapping and unmapping thousands of small files from several threads
    /// is slow (each unmap interrupts the other cores to flush their address translations); reading is cheap.
    public convenience init(path: String, buffer: ReadBuffer) throws {
        try self.init(path: path, limit: Int.max, mapAbove: buffer.readLimit, buffer: buffer)
    }

    private init(path: String, limit: Int, mapAbove: Int, buffer: ReadBuffer?) throws {
        self.path = path
        let (descriptor, size) = try InputFile.openRegular(path)
        defer { close(descriptor) }
        guard size <= limit else { throw FileError.tooLarge(path: path, size: size, limit: limit) }
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            storage = .none
            return
        }
        if size <= mapAbove {
            let target: UnsafeMutableRawPointer
            if let buffer {
                target = buffer.storage(for: size)
            } else {
                target = .allocate(byteCount: size, alignment: 64)
            }
            let done: Int
            do {
                done = try InputFile.readFully(descriptor, into: target, count: size, path: path)
            } catch {
                if buffer == nil { target.deallocate() }
                throw error
            }
            // A file that shrank since fstat: what is there is the input.
            bytes = UnsafeRawBufferPointer(start: target, count: done)
            storage = buffer == nil ? .owned(target) : .borrowed
            return
        }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), address != MAP_FAILED else {
            throw FileError.unreadable(path: path, reason: "mmap failed: " + String(cString: strerror(errno)))
        }
        madvise(address, size, MADV_SEQUENTIAL)
        bytes = UnsafeRawBufferPointer(start: address, count: size)
        storage = .mapped
    }

    /// Reads all of standard input (a pipe, a terminal or a redirected file), refusing more than `limit`
    /// bytes so that an endless stream ends in an error rather than in exhausted memory.
    public init(standardInputLimit limit: Int) throws {
        path = "stdin"
        var capacity = 1 << 16
        var base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        var count = 0
        while true {
            if count == capacity {
                guard capacity < limit else {
                    base.deallocate()
                    throw FileError.tooLarge(path: "stdin", size: count, limit: limit)
                }
                let grown = UnsafeMutableRawPointer.allocate(byteCount: min(capacity * 2, limit &+ 1), alignment: 64)
                grown.copyMemory(from: base, byteCount: count)
                base.deallocate()
                base = grown
                capacity = min(capacity * 2, limit &+ 1)
            }
            let r = read(0, base + count, capacity - count)
            if r < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                base.deallocate()
                throw FileError.unreadable(path: "stdin", reason: reason)
            }
            if r == 0 { break }
            count += r
            if count > limit {
                base.deallocate()
                throw FileError.tooLarge(path: "stdin", size: count, limit: limit)
            }
        }
        bytes = UnsafeRawBufferPointer(start: base, count: count)
        storage = .owned(base)
    }

    /// Bytes already in memory (a transformed input), owned like a file's.
    public init(copying source: [UInt8], path: String) {
        self.path = path
        let base = UnsafeMutableRawPointer.allocate(byteCount: max(source.count, 1), alignment: 64)
        source.withUnsafeBytes { if let from = $0.baseAddress { base.copyMemory(from: from, byteCount: $0.count) } }
        bytes = UnsafeRawBufferPointer(start: base, count: source.count)
        storage = .owned(base)
    }

    /// `path`, or standard input for "-".
    public static func open(_ path: String, limit: Int = Int.max) throws -> InputFile {
        path == "-" ? try InputFile(standardInputLimit: limit) : try InputFile(path: path, limit: limit)
    }

    /// The first `count` bytes of a regular file (fewer if it is shorter), to tell its format by its magic.
    public static func head(of path: String, count: Int) throws -> [UInt8] {
        let (descriptor, size) = try openRegular(path)
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: min(count, size))
        let done = try bytes.withUnsafeMutableBytes { try readFully(descriptor, into: $0.baseAddress!, count: $0.count, path: path) }
        return Array(bytes.prefix(done))
    }

    /// A copy of the bytes.
    public var array: [UInt8] { Array(bytes) }

    /// Drops the mapped pages wholly inside `range` from this process (they are read again if touched), so a
    /// file larger than memory streams through with flat resident memory.
    public func release(_ range: Range<Int>) {
        guard case .mapped = storage, let base = bytes.baseAddress else { return }
        releaseMappedPages(base + range.lowerBound, range.count)
    }

    deinit {
        switch storage {
        case .mapped: munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
        case let .owned(base): base.deallocate()
        case .none, .borrowed: break
        }
    }

    /// Opens `path` for reading without blocking and returns the descriptor and size of a regular file;
    /// anything else is refused before a byte is read.
    public static func openRegular(_ path: String) throws -> (descriptor: Int32, size: Int) {
        let descriptor = posixOpen(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard descriptor >= 0 else { throw FileError.fromErrno(errno, path: path) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let code = errno
            close(descriptor)
            throw FileError.fromErrno(code, path: path)
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw FileError.notRegularFile(path: path, kind: fileKind(status.st_mode))
        }
        // Regular files never block; clear the flag so reads behave plainly.
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        return (descriptor, Int(status.st_size))
    }

    /// Reads up to `count` bytes; fewer only at end of file.
    static func readFully(_ descriptor: Int32, into target: UnsafeMutableRawPointer, count: Int, path: String) throws -> Int {
        var done = 0
        while done < count {
            let n = read(descriptor, target + done, count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }
}

/// One thread's buffer for reading small files whole, reused from file to file.
public final class ReadBuffer: @unchecked Sendable {
    public let readLimit: Int
    private var base: UnsafeMutableRawPointer
    private var capacity: Int

    public init(readLimit: Int) {
        self.readLimit = readLimit
        capacity = 1 << 16
        base = .allocate(byteCount: capacity, alignment: 64)
    }

    /// Room for `size` bytes; what an earlier file read there is gone.
    func storage(for size: Int) -> UnsafeMutableRawPointer {
        if size > capacity {
            base.deallocate()
            capacity = max(size, capacity * 2)
            base = .allocate(byteCount: capacity, alignment: 64)
        }
        return base
    }

    deinit { base.deallocate() }
}

/// Hands back the pages wholly inside a read-only mapping's byte range, keeping resident memory flat while
/// streaming through files larger than memory.
public func releaseMappedPages(_ start: UnsafeRawPointer, _ count: Int) {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let first = (Int(bitPattern: start) + page - 1) / page * page
    let last = (Int(bitPattern: start) + count) / page * page
    guard last > first, let address = UnsafeMutableRawPointer(bitPattern: first) else { return }
    madvise(address, last - first, MADV_DONTNEED)
}
