import Dispatch
import Foundation
import Synchronization
import VocabKitIO
import VocabKitTokenizer
#if canImport(Glibc)
import Glibc
#endif

/// Which files a corpus is made of: files, folders (recursive, hidden entries skipped) and glob patterns,
/// filtered by `--include` / `--exclude` globs matched against the whole path and the file name.
public struct CorpusFiles: Sendable {
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
            // A path that exists is taken as it is, even with glob characters in its name.
            let isPattern = argument.contains(where: { "*?[".contains($0) }) && !FileManager.default.fileExists(atPath: argument)
            let expanded = isPattern ? Self.glob(argument) : [argument]
            if expanded.isEmpty { throw PruneError.unreadable(path: argument, reason: "the pattern matches no file") }
            for path in expanded {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                    throw PruneError.unreadable(path: path, reason: "no such file or folder")
                }
                if isDirectory.boolValue {
                    for file in try regularFiles(under: path, accepting: true) where seen.insert(file).inserted {
                        result.append(file)
                    }
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
    /// sorted; with `accepting`, only those it accepts. Folders that an `--exclude` glob ending in `*` already
    /// covers are not entered at all. Folders are read by several threads at once (a tree of thousands of
    /// folders is mostly system calls, which would otherwise leave the counting threads waiting).
    func regularFiles(under folder: String, accepting: Bool = false) throws -> [String] {
        let root = folder.hasSuffix("/") ? String(folder.dropLast()) : folder
        guard let stream = opendir(root) else {
            throw PruneError.unreadable(path: folder, reason: String(cString: strerror(errno)))
        }
        closedir(stream)
        let walk = FolderWalk(root: root)
        let threads = max(1, min(8, ProcessInfo.processInfo.activeProcessorCount))
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            var found: [String] = []
            while let directory = walk.nextFolder() {
                var subfolders: [String] = []
                if let stream = opendir(directory) {  // an unreadable subfolder is skipped, as `find` would go on
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
                            if !excludesWholeFolder(path) { subfolders.append(path) }
                        } else if kind == Int32(DT_REG), !accepting || accepts(path) {
                            found.append(path)
                        }
                    }
                    closedir(stream)
                }
                walk.finished(adding: subfolders)
            }
            walk.collect(found)
        }
        return walk.files.sorted()
    }

    /// True when an exclude glob ending in `*` matches "folder/": it then matches every path inside too.
    func excludesWholeFolder(_ folder: String) -> Bool {
        excludes.contains { $0.hasSuffix("*") && fnmatch($0, folder + "/", 0) == 0 }
    }
}

/// The folders still to read and the files found, shared by the threads of a walk. A thread waits while the
/// queue is empty but others are still reading (they may add folders); the walk ends when nobody is.
final class FolderWalk: @unchecked Sendable {
    private var pending: [String]
    private var reading = 0
    private(set) var files: [String] = []
    private let condition = NSCondition()

    init(root: String) { pending = [root] }

    func nextFolder() -> String? {
        condition.lock()
        defer { condition.unlock() }
        while pending.isEmpty && reading > 0 { condition.wait() }
        guard let folder = pending.popLast() else { return nil }
        reading += 1
        return folder
    }

    func finished(adding subfolders: [String]) {
        condition.lock()
        pending += subfolders
        reading -= 1
        condition.broadcast()
        condition.unlock()
    }

    func collect(_ found: [String]) {
        condition.lock()
        files += found
        condition.unlock()
    }
}

/// Counts token usage over many files on all cores with bounded memory. The work is handed out in slices of
/// about `sliceBytes` (a large file is many slices, shared by all threads, so one big or slow file at the end
/// does not leave the other threads idle), each thread with its own counts array. Slices are cut only where
/// Qwen's pre-tokenizer always breaks, so slicing never changes a token.
public struct UsageCounter {
    public let tokenizer: Tokenizer
    public var threads: Int
    public var skipInvalid: Bool
    /// Bytes per unit of work; files are cut at the tokenizer's safe split points near multiples of it.
    public var sliceBytes: Int = 1 << 18
    /// Whether the result spells each used token (`TokenUsage.pieces`); a caller that writes the table with the
    /// vocabulary at hand can skip building tens of thousands of strings.
    public var recordPieces = true
    /// An empty file list or a corpus without tokens gives an empty table instead of an error (a shard of a
    /// split with more shards than files).
    public var allowEmpty = false

    public init(tokenizer: Tokenizer, threads: Int = ProcessInfo.processInfo.activeProcessorCount, skipInvalid: Bool = false) {
        self.tokenizer = tokenizer
        self.threads = max(1, threads)
        self.skipInvalid = skipInvalid
    }

    /// Counts `files`; `progress` (bytes done, bytes total) is called from worker threads, at most once per MiB.
    public func count(files: [String], progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> TokenUsage {
        let idCount = tokenizer.vocabulary.idCount
        guard !files.isEmpty else {
            guard allowEmpty else { throw PruneError.emptyCorpus(reason: "no input files (check the paths and the include/exclude patterns)") }
            return TokenUsage(counts: Array(repeating: 0, count: idCount), pieces: [:], files: 0, bytes: 0,
                              vocabularySource: tokenizer.vocabulary.source, vocabularyFingerprint: tokenizer.vocabulary.fingerprint)
        }
        // Sizes by `stat`, spread over the threads (thousands of small files make this a serial cost otherwise).
        let statted = FileSizes(count: files.count)
        let statChunk = 256
        DispatchQueue.concurrentPerform(iterations: (files.count + statChunk - 1) / statChunk) { chunk in
            for index in chunk * statChunk..<min(files.count, (chunk + 1) * statChunk) {
                var status = stat()
                if stat(files[index], &status) == 0 { statted.set(index, Int(status.st_size)) } else { statted.set(index, -Int(errno) - 1) }
            }
        }
        var sizes = statted.values
        for (index, size) in sizes.enumerated() where size < 0 {
            throw PruneError.unreadable(path: files[index], reason: String(cString: strerror(Int32(-size - 1))))
        }
        sizes = sizes.map { max($0, 0) }
        let totalBytes = sizes.reduce(0, +)
        let sliceBytes = max(1, self.sliceBytes)
        // Largest files first, so that the small ones at the end even out the threads' finishing times.
        let order = files.indices.sorted { sizes[$0] != sizes[$1] ? sizes[$0] > sizes[$1] : $0 < $1 }
        let grid = SliceGrid(order: order, sizes: sizes, sliceBytes: sliceBytes)
        let workers = min(threads, grid.itemCount)
        let dispatcher = SliceDispatcher(order: order, slicesPerFile: grid.sliceCount)
        let bytesDone = Atomic<Int>(0)
        let results = WorkerResults(workers: workers, slicesPerFile: grid.sliceCount)
        let tokenizer = self.tokenizer, skipInvalid = self.skipInvalid, threads = self.threads
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var counts = [UInt64](repeating: 0, count: idCount)
            let encoder = ReusableEncoder(tokenizer)
            // A file without split points is one slice, and one piece if it has no whitespace: its windows may
            // use every thread (the others have nothing to do; normal text has no piece that long).
            encoder.longPieceThreads = threads
            var mapped: (index: Int, file: InputFile)? = nil
            let readBuffer = ReadBuffer(readLimit: 4 * sliceBytes)
            var current: Int? = nil
            while !results.stopped, let (fileIndex, slice) = dispatcher.claim(continuing: &current) {
                guard !results.hasProblem(file: fileIndex) else { results.record(file: fileIndex, sliceDone: nil); continue }
                do {
                    if mapped?.index != fileIndex {
                        mapped = nil  // before reading the next file into the buffer it may share
                        mapped = (fileIndex, try InputFile(path: files[fileIndex], buffer: readBuffer))
                    }
                    let file = mapped!.file
                    let range = grid.bounds(of: slice, in: file.bytes, tokenizer: tokenizer)
                    if !range.isEmpty {
                        let bytes = UnsafeRawBufferPointer(rebasing: file.bytes[range])
                        try encoder.encode(utf8: bytes) { ids in
                            counts.withUnsafeMutableBufferPointer { table in
                                for id in ids { table[Int(id)] &+= 1 }
                            }
                        }
                        file.release(range)
                        let done = bytesDone.wrappingAdd(range.count, ordering: .relaxed).newValue
                        // At most one report per MiB, so thousands of small files do not flood the terminal.
                        if done >> 20 != (done - range.count) >> 20 || done == totalBytes { progress?(done, totalBytes) }
                    }
                    results.record(file: fileIndex, sliceDone: range)
                } catch TokenizerError.invalidUTF8(let offset, _) {
                    let at = grid.bounds(of: slice, in: mapped!.file.bytes, tokenizer: tokenizer).lowerBound + offset
                    results.record(file: fileIndex, invalidAt: at)
                    if !skipInvalid { results.stop() }
                } catch {
                    results.record(file: fileIndex, error: error)
                }
            }
            results.store(worker: worker, counts: counts)
        }
        var skipped: [(String, Int)] = []
        var countedFiles = 0, countedBytes = 0
        var total = [UInt64](repeating: 0, count: idCount)
        for counts in results.counts {
            for id in 0..<min(idCount, counts.count) { total[id] &+= counts[id] }
        }
        for fileIndex in files.indices {
            switch results.outcome(fileIndex) {
            case let .failure(error): throw error
            case let .invalid(offset, countedSlices):
                guard skipInvalid else { throw PruneError.invalidUTF8(path: files[fileIndex], offset: offset) }
                skipped.append((files[fileIndex], offset))
                // Other threads may have counted valid slices of this file: take them back out.
                let file = try InputFile(path: files[fileIndex])
                let encoder = ReusableEncoder(tokenizer)
                for range in countedSlices where !range.isEmpty {
                    try encoder.encode(utf8: UnsafeRawBufferPointer(rebasing: file.bytes[range])) { ids in
                        for id in ids { total[Int(id)] &-= 1 }
                    }
                }
            case .counted:
                countedFiles += 1
                countedBytes += sizes[fileIndex]
            case .none:
                break  // not finished: a problem stopped the workers, and it is thrown below or above
            }
        }
        var usage = TokenUsage(counts: total, pieces: [:], files: countedFiles, bytes: countedBytes,
                               vocabularySource: tokenizer.vocabulary.source, vocabularyFingerprint: tokenizer.vocabulary.fingerprint)
        usage.skippedFiles = skipped
        usage.skipped = skipped.count
        guard usage.tokens > 0 || allowEmpty else {
            throw PruneError.emptyCorpus(reason: "\(files.count) file(s) with \(countedBytes) bytes of text gave no tokens"
                                             + (skipped.isEmpty ? "" : " (\(skipped.count) skipped as invalid UTF-8)"))
        }
        if recordPieces {
            for (id, count) in total.enumerated() where count > 0 {
                usage.pieces[id] = ByteLevel.encode(tokenizer.vocabulary.bytes(of: id))
            }
        }
        return usage
    }
}

/// The units of work: every file split on a grid of `sliceBytes`. Slice k of a file runs from the first safe
/// split point in [k·S, (k+1)·S) to the next slice's start. That is a pure function of the file's bytes, so
/// any thread finds a slice's bounds on its own; a grid cell with no safe point joins the slice before it.
struct SliceGrid: Sendable {
    let sliceBytes: Int
    let sliceCount: [Int]      // by file index (at least 1, so empty files are counted too)
    let itemCount: Int

    init(order: [Int], sizes: [Int], sliceBytes: Int) {
        self.sliceBytes = sliceBytes
        sliceCount = sizes.map { max(1, ($0 + sliceBytes - 1) / sliceBytes) }
        itemCount = sliceCount.reduce(0, +)
    }

    /// Byte range of slice `k` of `bytes` (empty when another slice took its bytes). The file's size as mapped
    /// decides, should it differ from the size seen when the grid was made: the last slice runs to the end.
    func bounds(of k: Int, in bytes: UnsafeRawBufferPointer, tokenizer: Tokenizer) -> Range<Int> {
        let n = bytes.count
        guard n > 0, let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return 0..<0 }
        func cut(_ j: Int) -> Int? {
            let from = j * sliceBytes
            guard from < n else { return nil }
            return tokenizer.safeSplitPoint(base, n, from: from, limit: min(n, from + sliceBytes))
        }
        let start: Int
        if k == 0 { start = 0 } else {
            guard let c = cut(k) else { return 0..<0 }
            start = c
        }
        var j = k + 1
        while j * sliceBytes < n {
            if let c = cut(j) { return start..<c }
            j += 1
        }
        return start..<n
    }
}

/// Hands out slices. A thread keeps to one file at a time (the next unclaimed one, largest first), taking its
/// slices in order, and only when every file has been claimed helps with the file that has the most slices
/// left. Threads thus mostly see different text, so their piece caches warm up on different pieces instead of
/// all of them learning the same file; a big file at the end is still shared.
final class SliceDispatcher: @unchecked Sendable {
    private let order: [Int]
    private let slicesPerFile: [Int]
    private var nextSlice: [Int]      // by position in `order`
    private var nextFile = 0
    private let lock = Lock()

    init(order: [Int], slicesPerFile: [Int]) {
        self.order = order
        self.slicesPerFile = slicesPerFile
        nextSlice = Array(repeating: 0, count: order.count)
    }

    /// The next (file index, slice) for a thread whose current file (a position in `order`) is `current`.
    func claim(continuing current: inout Int?) -> (Int, Int)? {
        lock.withLock {
            func take(_ position: Int) -> (Int, Int) {
                let slice = nextSlice[position]
                nextSlice[position] += 1
                current = position
                return (order[position], slice)
            }
            func left(_ position: Int) -> Int { slicesPerFile[order[position]] - nextSlice[position] }
            if let c = current, left(c) > 0 { return take(c) }
            while nextFile < order.count {
                let position = nextFile
                nextFile += 1
                if left(position) > 0 { return take(position) }
            }
            var best: Int? = nil
            for position in order.indices where left(position) > 0 && left(position) > (best.map(left) ?? 0) { best = position }
            return best.map(take)
        }
    }
}

/// File sizes (or −errno−1) written by concurrent `stat` workers, each index by one worker.
final class FileSizes: @unchecked Sendable {
    private(set) var values: [Int]
    init(count: Int) { values = Array(repeating: 0, count: count) }
    func set(_ i: Int, _ v: Int) { values.withUnsafeMutableBufferPointer { $0[i] = v } }
}

/// Per-file outcomes and per-worker counts; workers record each slice as they finish it.
final class WorkerResults: @unchecked Sendable {
    enum Outcome { case counted, invalid(offset: Int, countedSlices: [Range<Int>]), failure(Error) }

    private let slicesTotal: [Int]
    private var slicesDone: [Int]
    private var countedSlices: [[Range<Int>]]
    private var invalidAt: [Int?]
    private var errors: [Error?]
    private(set) var counts: [[UInt64]]
    private let failed = Atomic<Bool>(false)
    private let lock = Lock()

    init(workers: Int, slicesPerFile: [Int]) {
        slicesTotal = slicesPerFile
        slicesDone = Array(repeating: 0, count: slicesPerFile.count)
        countedSlices = Array(repeating: [], count: slicesPerFile.count)
        invalidAt = Array(repeating: nil, count: slicesPerFile.count)
        errors = Array(repeating: nil, count: slicesPerFile.count)
        counts = Array(repeating: [], count: workers)
    }

    var stopped: Bool { failed.load(ordering: .relaxed) }

    /// Slices not yet handed out are not started; the first problem in file order is reported.
    func stop() { failed.store(true, ordering: .relaxed) }

    /// A file's slices are handed out in order, so once one is bad every earlier slice of that file is already
    /// under way: skipping the later ones still finds the file's first invalid byte.
    func hasProblem(file: Int) -> Bool { lock.withLock { invalidAt[file] != nil || errors[file] != nil } }

    func record(file: Int, sliceDone range: Range<Int>?) {
        lock.withLock {
            slicesDone[file] += 1
            if let range { countedSlices[file].append(range) }
        }
    }

    func record(file: Int, invalidAt offset: Int) {
        lock.withLock {
            slicesDone[file] += 1
            invalidAt[file] = min(invalidAt[file] ?? offset, offset)
        }
    }

    func record(file: Int, error: Error) {
        lock.withLock {
            slicesDone[file] += 1
            if errors[file] == nil { errors[file] = error }
        }
        failed.store(true, ordering: .relaxed)
    }

    func store(worker: Int, counts workerCounts: [UInt64]) {
        lock.withLock { counts[worker] = workerCounts }
    }

    /// Read after the workers have finished.
    func outcome(_ file: Int) -> Outcome? {
        if let error = errors[file] { return .failure(error) }
        if let offset = invalidAt[file] { return .invalid(offset: offset, countedSlices: countedSlices[file]) }
        return slicesDone[file] == slicesTotal[file] ? .counted : nil
    }
}
