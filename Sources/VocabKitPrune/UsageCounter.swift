import Dispatch
import Foundation
import Synchronization
import VocabKitTokenizer
#if canImport(Glibc)
import Glibc
#endif

/// Which files a corpus is made of: files, folders (recursive, hidden entries skipped) and glob patterns,
/// filtered by `--include` / `--exclude` globs matched against the whole path and the file name.
public struct CorpusFiles {
    public var paths: [String]
    public var includes: [String]
    public var excludes: [String]

    public init(paths: [String], includes: [String] = [], excludes: [String] = []) {
        self.paths = paths
        self.includes = includes
        self.excludes = excludes
    }

    /// Every matching regular file once, in a stable order (sorted within each argument).
    public func resolve() throws -> [String] {
        var result: [String] = []
        var seen = Set<String>()
        func add(_ path: String) {
            guard accepts(path), seen.insert(path).inserted else { return }
            result.append(path)
        }
        for argument in paths {
            let expanded = argument.contains(where: { "*?[".contains($0) }) ? Self.glob(argument) : [argument]
            if expanded.isEmpty { throw PruneError.unreadable(path: argument, reason: "the pattern matches no file") }
            for path in expanded {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                    throw PruneError.unreadable(path: path, reason: "no such file or folder")
                }
                if isDirectory.boolValue {
                    for file in try regularFiles(under: path) { add(file) }
                } else {
                    add(path)
                }
            }
        }
        return result
    }

    func accepts(_ path: String) -> Bool {
        let name = (path as NSString).lastPathComponent
        func matches(_ pattern: String) -> Bool { fnmatch(pattern, path, 0) == 0 || fnmatch(pattern, name, 0) == 0 }
        if !includes.isEmpty && !includes.contains(where: matches) { return false }
        return !excludes.contains(where: matches)
    }

    static func glob(_ pattern: String) -> [String] {
        var matches = glob_t()
        defer { globfree(&matches) }
        guard Glibc.glob(pattern, 0, nil, &matches) == 0 else { return [] }
        return (0..<Int(matches.gl_pathc)).compactMap { matches.gl_pathv[$0].map { String(cString: $0) } }
    }

    /// Regular files below `folder` (symlinks followed for files, not for folders), hidden entries skipped,
    /// sorted. Folders that an `--exclude` glob ending in `*` already covers are not entered at all.
    func regularFiles(under folder: String) throws -> [String] {
        var files: [String] = []
        var pending = [folder.hasSuffix("/") ? String(folder.dropLast()) : folder]
        var first = true
        while let directory = pending.popLast() {
            guard let stream = opendir(directory) else {
                if first { throw PruneError.unreadable(path: folder, reason: String(cString: strerror(errno))) }
                continue  // an unreadable subfolder is skipped, as `find` would report and go on
            }
            first = false
            defer { closedir(stream) }
            while let entry = readdir(stream) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
                }
                if name.hasPrefix(".") { continue }
                let path = directory + "/" + name
                var kind = Int32(entry.pointee.d_type)
                if kind == Int32(DT_UNKNOWN) || kind == Int32(DT_LNK) {
                    var status = stat()
                    guard stat(path, &status) == 0 else { continue }
                    let format = status.st_mode & S_IFMT
                    kind = format == S_IFDIR ? (entry.pointee.d_type == UInt8(DT_LNK) ? -1 : Int32(DT_DIR))
                        : format == S_IFREG ? Int32(DT_REG) : -1
                }
                if kind == Int32(DT_DIR) {
                    if !excludesWholeFolder(path) { pending.append(path) }
                } else if kind == Int32(DT_REG) {
                    files.append(path)
                }
            }
        }
        return files.sorted()
    }

    /// True when an exclude glob ending in `*` matches "folder/": it then matches every path inside too.
    func excludesWholeFolder(_ folder: String) -> Bool {
        excludes.contains { $0.hasSuffix("*") && fnmatch($0, folder + "/", 0) == 0 }
    }
}

/// Counts token usage over many files on all cores with bounded memory: files are handed out one at a time to
/// worker threads, each with its own counts array, and a file is encoded in slices of at most
/// `sliceBytes` cut where Qwen's pre-tokenizer always breaks, so no thread holds more than one slice's ids.
public struct UsageCounter {
    public let tokenizer: Tokenizer
    public var threads: Int
    public var skipInvalid: Bool
    /// Bytes encoded at a time; larger files are cut at the tokenizer's safe split points.
    public var sliceBytes: Int = 8 << 20

    public init(tokenizer: Tokenizer, threads: Int = ProcessInfo.processInfo.activeProcessorCount, skipInvalid: Bool = false) {
        self.tokenizer = tokenizer
        self.threads = max(1, threads)
        self.skipInvalid = skipInvalid
    }

    /// Counts `files`; `progress` (bytes done, bytes total) is called from worker threads, at most once per MiB.
    public func count(files: [String], progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> TokenUsage {
        guard !files.isEmpty else { throw PruneError.emptyCorpus(reason: "no input files (check the paths and --include/--exclude)") }
        let idCount = tokenizer.vocabulary.idCount
        var sizes = [Int](repeating: 0, count: files.count)
        for (index, path) in files.enumerated() {
            var status = stat()
            guard stat(path, &status) == 0 else { throw PruneError.unreadable(path: path, reason: String(cString: strerror(errno))) }
            sizes[index] = Int(status.st_size)
        }
        let totalBytes = sizes.reduce(0, +)
        // Largest files first, so a big file started last does not leave the other threads idle.
        let order = files.indices.sorted { sizes[$0] != sizes[$1] ? sizes[$0] > sizes[$1] : $0 < $1 }
        let workers = min(threads, files.count)
        let next = Atomic<Int>(0)
        let bytesDone = Atomic<Int>(0)
        let results = WorkerResults(workers: workers, files: files.count)
        let tokenizer = self.tokenizer, sliceBytes = self.sliceBytes, skipInvalid = self.skipInvalid
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var counts = [UInt64](repeating: 0, count: idCount)
            let encoder = ReusableEncoder(tokenizer)
            while true {
                let slot = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard slot < order.count, !results.stopped else { break }
                let fileIndex = order[slot]
                do {
                    let outcome = try Self.countFile(files[fileIndex], encoder: encoder, sliceBytes: sliceBytes, into: &counts) { bytes in
                        let done = bytesDone.wrappingAdd(bytes, ordering: .relaxed).newValue
                        // At most one report per MiB, so thousands of small files do not flood the terminal.
                        if done >> 20 != (done - bytes) >> 20 || done == totalBytes { progress?(done, totalBytes) }
                    }
                    results.record(file: fileIndex, outcome: outcome)
                    if case .invalid = outcome, !skipInvalid { results.stop() }
                } catch {
                    results.record(file: fileIndex, error: error)
                }
            }
            results.store(worker: worker, counts: counts)
        }
        var skipped: [(String, Int)] = []
        var countedFiles = 0, countedBytes = 0
        for fileIndex in files.indices {
            switch results.outcomes[fileIndex] {
            case let .failure(error): throw error
            case let .invalid(offset):
                guard skipInvalid else { throw PruneError.invalidUTF8(path: files[fileIndex], offset: offset) }
                skipped.append((files[fileIndex], offset))
            case .counted:
                countedFiles += 1
                countedBytes += sizes[fileIndex]
            case .none:
                break  // never started: a failure stopped the workers, and it is thrown below or above
            }
        }
        var total = [UInt64](repeating: 0, count: idCount)
        for counts in results.counts {
            for id in 0..<min(idCount, counts.count) { total[id] &+= counts[id] }
        }
        var usage = TokenUsage(counts: total, pieces: [:], files: countedFiles, bytes: countedBytes,
                               vocabularySource: tokenizer.vocabulary.source)
        usage.skippedFiles = skipped
        guard usage.tokens > 0 else {
            throw PruneError.emptyCorpus(reason: "\(files.count) file(s) with \(countedBytes) bytes of text gave no tokens"
                                             + (skipped.isEmpty ? "" : " (\(skipped.count) skipped as invalid UTF-8)"))
        }
        for (id, count) in total.enumerated() where count > 0 {
            usage.pieces[id] = ByteLevel.encode(tokenizer.vocabulary.bytes(of: id))
        }
        return usage
    }

    enum FileOutcome { case counted, invalid(offset: Int), failure(Error) }

    /// Counts one file into `counts`, slice by slice; an invalid file leaves `counts` untouched.
    static func countFile(_ path: String, encoder: ReusableEncoder, sliceBytes: Int, into counts: inout [UInt64],
                          progress: (Int) -> Void) throws -> FileOutcome {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count > 0 else { return .counted }
        // Validating first keeps a bad file from counting half its tokens before being rejected or skipped.
        if let offset = UTF8Validation.firstInvalidOffset(base, bytes.count) { return .invalid(offset: offset) }
        var start = 0
        while start < bytes.count {
            // Cut only where the tokenizer says nothing can cross; with no such point the slice runs on (to the
            // end if need be): cutting elsewhere could change tokens.
            let end = bytes.count - start > 2 * sliceBytes
                ? encoder.tokenizer.safeSplitPoint(base, bytes.count, from: start + sliceBytes, limit: bytes.count) ?? bytes.count
                : bytes.count
            try encoder.encode(utf8: UnsafeRawBufferPointer(rebasing: bytes[start..<end])) { ids in
                counts.withUnsafeMutableBufferPointer { table in
                    for id in ids { table[Int(id)] &+= 1 }
                }
            }
            file.release(start..<end)
            progress(end - start)
            start = end
        }
        return .counted
    }

}

/// Per-file outcomes and per-worker counts, each slot written by one thread only.
final class WorkerResults: @unchecked Sendable {
    private(set) var outcomes: [UsageCounter.FileOutcome?]
    private(set) var counts: [[UInt64]]
    private let failed = Atomic<Bool>(false)
    private let lock = Mutex<Void>(())

    init(workers: Int, files: Int) {
        outcomes = Array(repeating: nil, count: files)
        counts = Array(repeating: [], count: workers)
    }

    var stopped: Bool { failed.load(ordering: .relaxed) }

    func record(file: Int, outcome: UsageCounter.FileOutcome) {
        lock.withLock { _ in outcomes[file] = outcome }
    }

    /// Later files are not started; the first problem in file order is reported.
    func stop() { failed.store(true, ordering: .relaxed) }

    func record(file: Int, error: Error) {
        lock.withLock { _ in outcomes[file] = .failure(error) }
        failed.store(true, ordering: .relaxed)
    }

    func store(worker: Int, counts workerCounts: [UInt64]) {
        lock.withLock { _ in counts[worker] = workerCounts }
    }
}

/// A file mapped read-only, whose pages can be handed back once read so a large corpus never piles up in
/// memory.
final class MappedFile {
    let bytes: UnsafeRawBufferPointer

    init(path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw PruneError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw PruneError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw PruneError.unreadable(path: path, reason: "not a regular file") }
        let size = Int(status.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), address != MAP_FAILED else {
            throw PruneError.unreadable(path: path, reason: "mmap failed: " + String(cString: strerror(errno)))
        }
        madvise(address, size, MADV_SEQUENTIAL)
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    /// Drops the mapped pages wholly inside `range` from this process (they are re-read if touched again).
    func release(_ range: Range<Int>) {
        guard let base = bytes.baseAddress else { return }
        releasePages(base + range.lowerBound, range.count)
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}

/// Hands back the pages wholly inside a read-only mapping's byte range, keeping resident memory flat while
/// streaming through files larger than memory.
func releasePages(_ start: UnsafeRawPointer, _ count: Int) {
    let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    let first = (Int(bitPattern: start) + page - 1) / page * page
    let last = (Int(bitPattern: start) + count) / page * page
    guard last > first, let address = UnsafeMutableRawPointer(bitPattern: first) else { return }
    madvise(address, last - first, MADV_DONTNEED)
}
