import Dispatch
import Foundation
import Synchronization
import VocabKitIO
import VocabKitTokenizer

/// Counts token usage over documents given as JSON Lines — one JSON object per line, the document being the
/// string at `field` — from files or standard input, the form datasets take when Spark, Ray or a shell
/// pipeline hands them over. Each document is counted exactly as a file holding its text would be: it is
/// NFC-normalized, pre-tokenized and encoded on its own, so no token spans two documents.
///
/// Streamed in constant memory: one thread reads each input front to back in batches of whole lines (about
/// `batchBytes`), a few batches in flight at most; `threads` workers each take a batch, parse its lines and
/// count into their own array, summed at the end. Batches are handed out in input order, so when a line is
/// bad every line before it is still read, and the error names the first bad line (file and line number)
/// whatever the thread count.
public struct DocumentCounter {
    public let tokenizer: Tokenizer
    public var field: JSONFieldPath
    public var threads: Int
    /// Skip lines that are not objects with a string at `field` (counted in `TokenUsage.skipped`, the first
    /// `reportLimit` reported) instead of failing.
    public var skipInvalid: Bool
    /// A corpus with no tokens gives an empty table instead of an error (an empty partition of a larger job).
    public var allowEmpty = false
    public var batchBytes = 1 << 20
    public var recordPieces = true
    public var reportLimit = 20
    /// A longer line is an error: it would have to be held whole.
    public var maximumLineBytes = 1 << 30

    public init(tokenizer: Tokenizer, field: JSONFieldPath, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                skipInvalid: Bool = false) {
        self.tokenizer = tokenizer
        self.field = field
        self.threads = max(1, threads)
        self.skipInvalid = skipInvalid
    }

    /// Counts the documents of `inputs` (paths of regular files, or "-" for standard input), in order.
    /// `progress` gets the bytes read so far, from the reading thread, about once per MiB.
    public func count(inputs: [String], progress: (@Sendable (Int) -> Void)? = nil) throws -> TokenUsage {
        let workers = threads
        let queue = BatchQueue(batches: 2 * workers + 2, batchBytes: batchBytes)
        let results = DocumentResults(workers: workers, reportLimit: reportLimit)
        let readerDone = DispatchSemaphore(value: 0)
        let batchBytes = self.batchBytes, maximumLineBytes = self.maximumLineBytes
        let reader = Thread {
            defer { queue.finish(); readerDone.signal() }
            var sequence = 0, bytesBefore = 0
            for (input, path) in inputs.enumerated() {
                var first = true
                var source: LineBatchReader?
                do {
                    let lines = try LineBatchReader(path: path, maximumLineBytes: maximumLineBytes)
                    source = lines
                    while !results.stopped, let batch = queue.takeFree() {
                        guard try lines.next(into: batch, batchBytes: batchBytes) else {
                            queue.recycle(batch)
                            break
                        }
                        queue.push(BatchJob(input: input, sequence: sequence, firstOfInput: first, batch: batch))
                        results.registerBatch(sequence: sequence, input: input)
                        sequence += 1
                        first = false
                        progress?(bytesBefore + lines.bytesRead)
                    }
                } catch {
                    results.fail(ReadFailure(input: input, sequence: sequence, error: error))
                }
                bytesBefore += source?.bytesRead ?? 0
                if results.stopped { break }
            }
        }
        reader.stackSize = 1 << 20
        reader.start()
        let tokenizer = self.tokenizer, field = self.field, skipInvalid = self.skipInvalid
        let idCount = tokenizer.vocabulary.idCount
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var tally = WorkerTally(idCount: idCount)
            let encoder = ReusableEncoder(tokenizer)
            let fields = JSONFieldReader(path: field)
            while let job = queue.pop() {
                var lineIndex = 0
                var start = 0
                let bytes = job.batch.bytes
                // After an error, batches later than it only need their line count (for the message).
                let wanted = job.sequence <= results.firstFailedSequence
                while start < bytes.count {
                    var end = start
                    if let base = bytes.baseAddress {
                        let from = base + start
                        end = memchr(from, 0x0A, bytes.count - start).map { UnsafeRawPointer($0) - base } ?? bytes.count
                    }
                    if wanted {
                        var line = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                        if job.firstOfInput && lineIndex == 0 && line.starts(with: [0xEF, 0xBB, 0xBF]) {
                            line = UnsafeRawBufferPointer(rebasing: line[3...])  // a UTF-8 byte order mark
                        }
                        do {
                            try Self.countLine(line, fields: fields, encoder: encoder, tally: &tally)
                        } catch let problem as JSONLineProblem {
                            let position = LinePosition(sequence: job.sequence, index: lineIndex)
                            if skipInvalid {
                                tally.skipped += 1
                                results.recordSkip(position, input: job.input, problem: problem)
                            } else {
                                results.fail(LineFailure(input: job.input, position: position, problem: problem))
                            }
                        } catch {
                            results.fail(LineFailure(input: job.input, position: LinePosition(sequence: job.sequence, index: lineIndex),
                                                     problem: JSONLineProblem(reason: "\(error)", column: 1)))
                        }
                    }
                    lineIndex += 1
                    start = end + 1
                }
                results.finishBatch(sequence: job.sequence, lines: lineIndex)
                queue.recycle(job.batch)
            }
            results.store(worker: worker, tally: tally)
        }
        readerDone.wait()
        if let failure = results.firstFailure(inputs: inputs) { throw failure }

        var total = WorkerTally(idCount: idCount)
        for tally in results.tallies {
            for id in 0..<idCount { total.counts[id] &+= tally.counts[id] }
            total.documents += tally.documents
            total.bytes += tally.bytes
            total.skipped += tally.skipped
        }
        var usage = TokenUsage(counts: total.counts, pieces: [:], files: inputs.filter { $0 != "-" }.count, documents: total.documents,
                               bytes: total.bytes, vocabularySource: tokenizer.vocabulary.source,
                               vocabularyFingerprint: tokenizer.vocabulary.fingerprint)
        usage.skipped = total.skipped
        usage.skippedDocuments = results.skips(inputs: inputs)
        guard usage.tokens > 0 || allowEmpty else {
            throw PruneError.emptyCorpus(reason: "\(usage.documents) document(s) with \(usage.bytes) bytes of text gave no tokens"
                                             + (usage.skipped == 0 ? "" : " (\(usage.skipped) lines skipped as invalid)"))
        }
        if recordPieces {
            for (id, count) in total.counts.enumerated() where count > 0 {
                usage.pieces[id] = ByteLevel.encode(tokenizer.vocabulary.bytes(of: id))
            }
        }
        return usage
    }

    /// One line: blank lines are no document; anything else must be an object with a string at the field.
    static func countLine(_ line: UnsafeRawBufferPointer, fields: JSONFieldReader, encoder: ReusableEncoder,
                          tally: inout WorkerTally) throws {
        guard let base = line.baseAddress else { return }
        if let bad = UTF8Validation.firstInvalidOffset(base.assumingMemoryBound(to: UInt8.self), line.count) {
            throw JSONLineProblem(reason: "invalid UTF-8", column: bad + 1)
        }
        guard try fields.read(line) == .document else { return }
        let text = fields.text
        try encoder.encode(utf8: text) { ids in
            tally.counts.withUnsafeMutableBufferPointer { table in
                for id in ids { table[Int(id)] &+= 1 }
            }
        }
        tally.documents += 1
        tally.bytes += text.count
    }
}

/// One worker's counts.
struct WorkerTally {
    var counts: [UInt64]
    var documents = 0
    var bytes = 0
    var skipped = 0

    init(idCount: Int) { counts = Array(repeating: 0, count: idCount) }
}

struct BatchJob {
    let input: Int
    /// Position among all batches of all inputs, in reading order.
    let sequence: Int
    let firstOfInput: Bool
    let batch: LineBatch
}

/// A line's place: its batch and its index among the batch's lines. Ordered as the input is.
struct LinePosition: Comparable {
    let sequence: Int
    let index: Int

    static func < (a: LinePosition, b: LinePosition) -> Bool { (a.sequence, a.index) < (b.sequence, b.index) }
}

struct LineFailure {
    let input: Int
    let position: LinePosition
    let problem: JSONLineProblem
}

/// An input that could not be opened or read (or had a line too long to hold), before batch `sequence`.
struct ReadFailure {
    let input: Int
    let sequence: Int
    let error: Error
}

/// Batches in flight: a fixed set of buffers that cycle from the reader to the workers and back, so memory
/// stays at `batches` × `batchBytes` whatever the input size (a line longer than a batch grows its buffer).
final class BatchQueue: @unchecked Sendable {
    private var free: [LineBatch]
    private var ready: [BatchJob] = []
    private var readyHead = 0
    private var finished = false
    private let condition = NSCondition()

    init(batches: Int, batchBytes: Int) {
        free = (0..<batches).map { _ in LineBatch(capacity: batchBytes) }
    }

    /// A buffer to fill; waits until a worker hands one back.
    func takeFree() -> LineBatch? {
        condition.lock()
        defer { condition.unlock() }
        while free.isEmpty { condition.wait() }
        return free.popLast()
    }

    func recycle(_ batch: LineBatch) {
        condition.lock()
        free.append(batch)
        condition.broadcast()
        condition.unlock()
    }

    func push(_ job: BatchJob) {
        condition.lock()
        ready.append(job)
        condition.broadcast()
        condition.unlock()
    }

    /// The reader is done: workers finish what is queued, then stop.
    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch in reading order, or nil once the reader is done and nothing is left.
    func pop() -> BatchJob? {
        condition.lock()
        defer { condition.unlock() }
        while readyHead == ready.count && !finished { condition.wait() }
        guard readyHead < ready.count else { return nil }
        let job = ready[readyHead]
        readyHead += 1
        if readyHead > 64 && readyHead * 2 > ready.count {
            ready.removeFirst(readyHead)
            readyHead = 0
        }
        return job
    }
}

/// What the workers found: failures, skipped lines (the first few), line counts per batch (to turn a
/// position into a line number at the end) and each worker's tally.
final class DocumentResults: @unchecked Sendable {
    /// A pthread lock rather than Synchronization's Mutex: ThreadSanitizer sees this one.
    private let lock = Lock()
    private let failedSequence = Atomic<Int>(Int.max)
    private var lineFailure: LineFailure?
    private var readFailure: ReadFailure?
    private var skipped: [(input: Int, position: LinePosition, problem: JSONLineProblem)] = []
    private let reportLimit: Int
    /// Lines and input of every batch, by sequence.
    private var batchLines: [Int] = []
    private var batchInput: [Int] = []
    private(set) var tallies: [WorkerTally]

    init(workers: Int, reportLimit: Int) {
        self.reportLimit = reportLimit
        tallies = []
        tallies.reserveCapacity(workers)
    }

    var stopped: Bool { failedSequence.load(ordering: .relaxed) != Int.max }

    /// The earliest batch with a failure so far (Int.max if none).
    var firstFailedSequence: Int { failedSequence.load(ordering: .relaxed) }

    func registerBatch(sequence: Int, input: Int) {
        lock.withLock {
            while batchLines.count <= sequence { batchLines.append(0); batchInput.append(input) }
            batchInput[sequence] = input
        }
    }

    func finishBatch(sequence: Int, lines: Int) {
        lock.withLock {
            while batchLines.count <= sequence { batchLines.append(0); batchInput.append(-1) }
            batchLines[sequence] = lines
        }
    }

    func fail(_ failure: LineFailure) {
        lock.withLock {
            if lineFailure.map({ failure.position < $0.position }) ?? true { lineFailure = failure }
            failedSequence.store(min(failedSequence.load(ordering: .relaxed), failure.position.sequence), ordering: .relaxed)
        }
    }

    func fail(_ failure: ReadFailure) {
        lock.withLock {
            readFailure = failure
            failedSequence.store(min(failedSequence.load(ordering: .relaxed), failure.sequence), ordering: .relaxed)
        }
    }

    func recordSkip(_ position: LinePosition, input: Int, problem: JSONLineProblem) {
        lock.withLock {
            guard skipped.count < reportLimit || position < skipped[skipped.count - 1].position else { return }
            skipped.append((input, position, problem))
            skipped.sort { $0.position < $1.position }
            if skipped.count > reportLimit { skipped.removeLast() }
        }
    }

    func store(worker: Int, tally: WorkerTally) {
        lock.withLock { tallies.append(tally) }
    }

    /// The 1-based line number of `position` within its input (read after the workers have finished).
    private func lineNumber(_ position: LinePosition, input: Int) -> Int {
        var line = position.index + 1
        for sequence in 0..<min(position.sequence, batchLines.count) where batchInput[sequence] == input {
            line += batchLines[sequence]
        }
        return line
    }

    /// The failure that comes first in the input, as the error to report.
    func firstFailure(inputs: [String]) -> Error? {
        func name(_ input: Int) -> String { inputs[input] == "-" ? "stdin" : inputs[input] }
        if let line = lineFailure, readFailure.map({ line.position.sequence < $0.sequence }) ?? true {
            return PruneError.invalidDocument(path: name(line.input), line: lineNumber(line.position, input: line.input),
                                              column: line.problem.column, reason: line.problem.reason)
        }
        guard let read = readFailure else { return nil }
        if case let FileError.lineTooLong(_, limit) = read.error {
            // The line starts the batch the reader was filling.
            return PruneError.invalidDocument(path: name(read.input), line: lineNumber(LinePosition(sequence: read.sequence, index: 0), input: read.input),
                                              column: 1, reason: "the line is longer than \(limit) bytes")
        }
        if read.error is FileError { return read.error }  // it names the path already
        return PruneError.unreadable(path: name(read.input), reason: "\(read.error)")
    }

    func skips(inputs: [String]) -> [SkippedDocument] {
        skipped.map { SkippedDocument(path: inputs[$0.input] == "-" ? "stdin" : inputs[$0.input],
                                      line: lineNumber($0.position, input: $0.input), column: $0.problem.column,
                                      reason: $0.problem.reason) }
    }
}
