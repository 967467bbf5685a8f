#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What went wrong reading or writing a file, with the path it concerns. Every module reads and writes
/// through VocabKitIO, so these are the only file errors a caller sees.
public enum FileError: Error, CustomStringConvertible, Equatable, Sendable {
    case notFound(path: String)
    /// A FIFO, device, socket or directory where a regular file was needed: reading one could block forever
    /// or never end.
    case notRegularFile(path: String, kind: String)
    case unreadable(path: String, reason: String)
    case tooLarge(path: String, size: Int, limit: Int)
    case writeFailed(path: String, reason: String)
    /// An output would replace one of the inputs of the same run.
    case outputIsInput(output: String, input: String)
    /// Two outputs of the same run name one file.
    case outputsCollide(first: String, second: String)
    /// Text that should be a line-based table or list has a bad line.
    case malformedLine(path: String, line: Int, reason: String)
    /// A line longer than a streaming reader will hold (its number is known to the caller, who counts lines).
    case lineTooLong(path: String, limit: Int)

    public var description: String {
        switch self {
        case let .notFound(path): return "\(path): no such file"
        case let .notRegularFile(path, kind): return "\(path): is \(kind), not a regular file"
        case let .unreadable(path, reason): return "\(path): cannot read: \(reason)"
        case let .tooLarge(path, size, limit): return "\(path): \(size) bytes is more than the \(limit) this input may have"
        case let .writeFailed(path, reason): return "\(path): cannot write: \(reason)"
        case let .outputIsInput(output, input):
            return output == input ? "\(output): would overwrite an input; write to another path"
                : "\(output): would overwrite the input \(input) (same file); write to another path"
        case let .outputsCollide(first, second):
            return first == second ? "\(first) is named as two outputs" : "\(first) and \(second) are the same file; give two outputs two paths"
        case let .malformedLine(path, line, reason): return "\(path):\(line): \(reason)"
        case let .lineTooLong(path, limit): return "\(path): a line is longer than \(limit) bytes"
        }
    }

    static func fromErrno(_ code: Int32, path: String) -> FileError {
        code == ENOENT ? .notFound(path: path) : .unreadable(path: path, reason: String(cString: strerror(code)))
    }
}

/// Describes a file type from `st_mode` for messages.
func fileKind(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFDIR: return "a directory"
    case S_IFIFO: return "a FIFO"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFSOCK: return "a socket"
    case S_IFLNK: return "a symbolic link"
    default: return "not a regular file"
    }
}

/// The C library's `open`, reachable from types that have an `open` of their own.
func posixOpen(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Int32 { open(path, flags, mode) }

/// The C library's `write`, reachable from types that have a `write` of their own.
func posixWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int { write(descriptor, bytes, count) }
