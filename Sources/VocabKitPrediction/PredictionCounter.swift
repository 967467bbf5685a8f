import Dispatch
import Foundation
import VocabKitInference
import VocabKitIO
import VocabKitPrune
import VocabKitTokenizer

/// What a model would write over a corpus, counted per token: each file is cut into windows of whole lines as
/// `vocabkit check --file` cuts a text (`parityWindows`), every window is evaluated from an empty cache (in
/// batches, on all cores), and at every position the `topK` most likely next tokens with probability at least
/// `minProbability` are counted. `sample` bounds the positions evaluated: windows spread evenly over the
/// corpus, the last one cut short so that exactly that many positions are evaluated.
public struct PredictionCounter {
    public let model: LanguageModel
    public let tokenizer: Tokenizer
    public var topK = 1
    public var minProbability = 0.0
    /// The longest window, in tokens (at most the model's context).
    public var windowTokens: Int
    /// At most this many positions are evaluated; nil: every window of every file.
    public var sample: Int?
    /// Threads that cut files into windows (the model uses all cores by itself).
    public var threads = ProcessInfo.processInfo.activeProcessorCount

    public init(model: LanguageModel, tokenizer: Tokenizer, windowTokens: Int? = nil) {
        self.model = model
        self.tokenizer = tokenizer
        self.windowTokens = min(windowTokens ?? model.maxContext, model.maxContext)
    }

    /// A window of a file, with its tokens.
    public struct Window: Sendable, Equatable {
        public let file: String
        public var tokens: [Int]

        public init(file: String, tokens: [Int]) {
            self.file = file
            self.tokens = tokens
        }
    }

    /// The windows of `files`, in file order, each file cut as `parityWindows` cuts a text (special-token text
    /// is plain text). A file that is not UTF-8 is an error naming it and the first bad byte.
    public func windows(of files: [String]) throws -> [Window] {
        let perFile = PerIndexResults<Result<[Window], Error>>(count: files.count)
        let tokenizer = self.tokenizer, limit = windowTokens
        let next = Counter()
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, files.count))) { _ in
            while let index = next.take(below: files.count) {
                perFile.set(index, Result {
                    let file = try InputFile.open(files[index])
                    guard let text = String(validating: file.bytes, as: UTF8.self) else {
                        let base = file.bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
                        let offset = base.flatMap { UTF8Validation.firstInvalidOffset($0, file.bytes.count) } ?? 0
                        throw PruneError.invalidUTF8(path: files[index], offset: offset)
                    }
                    return parityWindows(text, tokenizer: tokenizer, maxTokens: limit, count: Int.max).map {
                        Window(file: files[index], tokens: tokenizer.encode($0, specialTokens: false).prefix(limit).map(Int.init))
                    }.filter { !$0.tokens.isEmpty }
                })
            }
        }
        return try perFile.values.flatMap { try $0!.get() }
    }

    /// All of `windows` when they hold at most `positions` tokens; otherwise windows spread evenly over them
    /// (the k-th of c at index k·n/c, c the fewest that reach `positions`), in order, the last cut short so that
    /// they hold exactly `positions`.
    public static func sampled(_ windows: [Window], positions: Int?) -> [Window] {
        guard let positions else { return windows }
        let total = windows.reduce(0) { $0 + $1.tokens.count }
        guard total > positions else { return windows }
        guard positions > 0 else { return [] }
        func picks(_ c: Int) -> [Int] { (0..<c).map { $0 * windows.count / c } }
        func sum(_ c: Int) -> Int { picks(c).reduce(0) { $0 + windows[$1].tokens.count } }
        // The fewest evenly spread windows that reach the sample (the sum grows with c, if not strictly).
        var low = 1, high = windows.count
        while low < high {
            let mid = (low + high) / 2
            if sum(mid) >= positions { high = mid } else { low = mid + 1 }
        }
        var chosen: [Window] = []
        var left = positions
        for index in picks(low) where left > 0 {
            var window = windows[index]
            if window.tokens.count > left { window.tokens.removeLast(window.tokens.count - left) }
            left -= window.tokens.count
            chosen.append(window)
        }
        return chosen
    }

    /// Cuts `files` into windows, samples them, and counts the model's predictions over them.
    public func count(files: [String], progress: ((_ positions: Int, _ total: Int) -> Void)? = nil) throws -> PredictedCounts {
        let all = try windows(of: files)
        var counts = try count(windows: Self.sampled(all, positions: sample), progress: progress)
        counts.corpusPositions = all.reduce(0) { $0 + $1.tokens.count }
        return counts
    }

    /// Counts the model's predictions at every position of `windows`; `progress` gets (positions done, positions
    /// in all) after each window.
    public func count(windows: [Window], progress: ((_ positions: Int, _ total: Int) -> Void)? = nil) throws -> PredictedCounts {
        let start = DispatchTime.now().uptimeNanoseconds
        var result = PredictedCounts(vocabularySize: model.vocabularySize)
        let total = windows.reduce(0) { $0 + $1.tokens.count }
        for window in windows {
            try model.predictions(after: window.tokens, k: topK, minProbability: minProbability) { _, top in
                for prediction in top { result.counts[prediction.id] += 1 }
            }
            result.positions += window.tokens.count
            result.windows += 1
            progress?(result.positions, total)
        }
        result.corpusPositions = total
        result.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return result
    }

    /// How the counts were made, for the table's `# prediction` line.
    public func note(model name: String) -> String {
        "\(name) top-k \(topK) min-prob \(minProbability) windows of \(windowTokens) tokens"
            + (sample.map { ", sample \($0) positions" } ?? "")
    }
}

/// Predictions counted per token id, with what was evaluated.
public struct PredictedCounts: Sendable, Equatable {
    /// Predictions per id (one per position per token among the top-k that passed the minimum probability).
    public var counts: [UInt64]
    /// Positions whose predictions were counted.
    public var positions = 0
    /// Windows (or answers) evaluated.
    public var windows = 0
    /// Positions the corpus's windows hold in all (what `sample` chose from).
    public var corpusPositions = 0
    public var seconds = 0.0

    public init(vocabularySize: Int) { counts = Array(repeating: 0, count: vocabularySize) }

    public var predictions: UInt64 { counts.reduce(0, &+) }
    public var positionsPerSecond: Double { seconds > 0 ? Double(positions) / seconds : 0 }
}

extension TokenUsage {
    /// Adds `predicted` to the table's predicted column (made if missing), its positions to
    /// `predictedPositions`, and `note` to `prediction`.
    public mutating func addPredictions(_ predicted: PredictedCounts, note: String) {
        var column = self.predicted ?? UsageColumn(name: TokenUsage.predictedColumnName, values: [])
        if column.values.count < predicted.counts.count {
            column.values += Array(repeating: 0, count: predicted.counts.count - column.values.count)
        }
        for (id, n) in predicted.counts.enumerated() where n > 0 { column.values[id] += n }
        self.predicted = column
        predictedPositions += predicted.positions
        prediction = prediction.map { $0 + " + " + note } ?? note
    }
}

/// One slot per index, filled by concurrent workers.
final class PerIndexResults<Value>: @unchecked Sendable {
    private var storage: [Value?]
    private let lock = Lock()

    init(count: Int) { storage = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: Value) { lock.withLock { storage[index] = value } }

    var values: [Value?] { lock.withLock { storage } }
}

/// Hands out 0, 1, 2, … to concurrent workers.
final class Counter: @unchecked Sendable {
    private var next = 0
    private let lock = Lock()

    func take(below limit: Int) -> Int? {
        lock.withLock {
            guard next < limit else { return nil }
            defer { next += 1 }
            return next
        }
    }
}
