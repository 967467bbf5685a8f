import CFileSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The one way VocabKit writes a file. Bytes go to a temporary file with a unique name, created exclusively
/// (`mkstemp`: it never opens, follows or truncates anything already there) in the destination's folder;
/// `commit` syncs it and renames it over the destination. Until then the destination is untouched, and a
/// failure, an `abandon`, or SIGINT/SIGTERM (once `installInterruptCleanup` ran) removes the temporary file.
public final class OutputFile {
    /// The destination.
    public let path: String
    /// Where the bytes are until `commit`.
    public let temporaryPath: String
    public private(set) var position = 0
    private var descriptor: Int32
    private let buffer: UnsafeMutableRawPointer
    private let bufferCapacity = 1 << 20
    private var buffered = 0
    private var cleanupSlot: Int32 = -1

    /// Creates the temporary file beside `path`, after checking that `path` is none of `inputs`.
    public init(path: String, inputs: [String] = []) throws {
        try OutputSafety.check(outputs: [path], inputs: inputs)
        self.path = path
        var status = stat()
        if stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFDIR {
            throw FileError.writeFailed(path: path, reason: "is a directory")
        }
        let (folder, name) = splitPath(path)
        var template = Array((folder + "/." + name + ".vocabkit-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { vk_make_temporary($0.baseAddress!) }
        guard fd >= 0 else {
            let reason = errno == ENOENT ? "its folder \(folder) does not exist" : String(cString: strerror(errno))
            throw FileError.writeFailed(path: path, reason: reason)
        }
        descriptor = fd
        temporaryPath = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        cleanupSlot = vk_cleanup_register(temporaryPath)
        buffer = .allocate(byteCount: bufferCapacity, alignment: 64)
    }

    deinit {
        abandon()
        buffer.deallocate()
    }

    /// Makes SIGINT, SIGTERM and SIGHUP delete every temporary output and exit with 128 + the signal.
    public static func installInterruptCleanup() { vk_cleanup_install_handlers() }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard descriptor >= 0 else { throw FileError.writeFailed(path: path, reason: "already committed or abandoned") }
        guard bytes.count > 0 else { return }
        if buffered + bytes.count > bufferCapacity { try flush() }
        if bytes.count >= bufferCapacity {
            try writeFully(bytes)
        } else {
            (buffer + buffered).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
            buffered += bytes.count
        }
        position += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    public func write(_ text: String) throws {
        var text = text
        try text.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Zero bytes up to `target` (padding between aligned blocks).
    public func writeZeros(upTo target: Int) throws {
        guard target > position else { return }
        let zeros = [UInt8](repeating: 0, count: min(target - position, 1 << 16))
        while position < target {
            try zeros.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<min($0.count, target - position)])) }
        }
    }

    /// Flushes, syncs and closes the temporary file, then renames it over the destination.
    public func commit() throws {
        guard descriptor >= 0 else { throw FileError.writeFailed(path: path, reason: "already committed or abandoned") }
        do {
            try flush()
            // mkstemp creates 0600; give the file the mode a plain create would.
            guard fchmod(descriptor, 0o666 & ~OutputFile.processUmask) == 0, fsync(descriptor) == 0 else {
                throw FileError.writeFailed(path: path, reason: String(cString: strerror(errno)))
            }
            if let hold = getenv("VOCABKIT_TEST_HOLD_BEFORE_RENAME"), let seconds = UInt32(String(cString: hold)) {
                sleep(seconds)  // test hook: lets the interrupt tests catch a run with its temporary file in place
            }
            let closed = close(descriptor)
            descriptor = -1
            guard closed == 0 else { throw FileError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
            guard rename(temporaryPath, path) == 0 else {
                throw FileError.writeFailed(path: path, reason: String(cString: strerror(errno)))
            }
        } catch {
            abandon()
            throw error
        }
        vk_cleanup_release(cleanupSlot)
        cleanupSlot = -1
        // The rename is durable once the folder is synced too.
        let folder = posixOpen(splitPath(path).folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            _ = fsync(folder)
            close(folder)
        }
    }

    /// Closes and removes the temporary file; the destination stays as it was. Safe to call twice.
    public func abandon() {
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
            unlink(temporaryPath)
        }
        if cleanupSlot >= 0 {
            vk_cleanup_release(cleanupSlot)
            cleanupSlot = -1
        }
    }

    private func flush() throws {
        guard buffered > 0 else { return }
        try writeFully(UnsafeRawBufferPointer(start: buffer, count: buffered))
        buffered = 0
    }

    private func writeFully(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let written = posixWrite(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if written < 0 {
                if errno == EINTR { continue }
                throw FileError.writeFailed(path: path, reason: String(cString: strerror(errno)))
            }
            done += written
        }
    }

    private static let processUmask: mode_t = {
        let mask = umask(0o022)
        umask(mask)
        return mask
    }()

    /// Writes a whole file through `body` and commits it; on any error nothing is left behind.
    public static func write(to path: String, inputs: [String] = [], _ body: (OutputFile) throws -> Void) throws {
        let output = try OutputFile(path: path, inputs: inputs)
        do {
            try body(output)
            try output.commit()
        } catch {
            output.abandon()
            throw error
        }
    }

    public static func write(_ bytes: [UInt8], to path: String, inputs: [String] = []) throws {
        try write(to: path, inputs: inputs) { try $0.write(bytes) }
    }

    public static func write(_ text: String, to path: String, inputs: [String] = []) throws {
        try write(to: path, inputs: inputs) { try $0.write(text) }
    }
}

/// Several outputs of one run, published together: each is written to its temporary file, and only when all
/// are complete are they renamed into place, so a failure in any of them leaves none behind.
public final class OutputSet {
    private var files: [OutputFile] = []
    private let inputs: [String]

    /// Checks now that no two of `outputs` name one file and that none is an input.
    public init(outputs: [String], inputs: [String]) throws {
        try OutputSafety.check(outputs: outputs, inputs: inputs)
        self.inputs = inputs
    }

    /// Starts the output at `path` (one of those named at init).
    public func create(_ path: String) throws -> OutputFile {
        let file = try OutputFile(path: path, inputs: inputs)
        files.append(file)
        return file
    }

    /// Renames every output into place, in the order they were created.
    public func commit() throws {
        defer { files.removeAll() }
        for (index, file) in files.enumerated() {
            do {
                try file.commit()
            } catch {
                for later in files[(index + 1)...] { later.abandon() }
                throw error
            }
        }
    }

    public func abandon() {
        for file in files { file.abandon() }
        files.removeAll()
    }

    deinit { abandon() }
}

/// The folder (without a trailing slash; "." for a bare name) and the last component of a path.
func splitPath(_ path: String) -> (folder: String, name: String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let folder = String(path[..<slash])
    return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
}
