#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks, before anything is written, that no output of a run is one of its inputs or another output.
/// Paths are compared as the files they resolve to: the same device and inode when the file exists (which
/// catches symbolic and hard links and `./` spellings), else the canonical folder plus the name.
public enum OutputSafety {
    public static func check(outputs: [String], inputs: [String]) throws {
        let inputIdentities = inputs.map { (path: $0, identity: FileIdentity($0)) }
        var seen: [(path: String, identity: FileIdentity)] = []
        for output in outputs {
            let identity = FileIdentity(output)
            if let input = inputIdentities.first(where: { $0.identity.sameFile(as: identity) }) {
                throw FileError.outputIsInput(output: output, input: input.path)
            }
            if let earlier = seen.first(where: { $0.identity.sameFile(as: identity) }) {
                throw FileError.outputsCollide(first: earlier.path, second: output)
            }
            seen.append((output, identity))
        }
    }
}

/// What a path resolves to, for telling whether two paths name one file.
struct FileIdentity {
    /// Device and inode of the file the path leads to (following links), when it exists.
    let inode: (device: UInt64, inode: UInt64)?
    /// The canonical folder and the name, when the folder exists.
    let canonicalPath: String?

    init(_ path: String) {
        var status = stat()
        inode = stat(path, &status) == 0 ? (UInt64(status.st_dev), UInt64(status.st_ino)) : nil
        let (folder, name) = splitPath(path)
        if let resolved = realpath(folder, nil) {
            let base = String(cString: resolved)
            free(resolved)
            canonicalPath = (base == "/" ? "" : base) + "/" + name
        } else {
            canonicalPath = nil
        }
    }

    func sameFile(as other: FileIdentity) -> Bool {
        if let a = inode, let b = other.inode { return a == b }
        if let a = canonicalPath, let b = other.canonicalPath { return a == b }
        return false
    }
}
