import ArgumentParser
import Foundation
import VocabKitIO
import VocabKitPrune
import VocabKitTokenizer

/// The most threads any command starts: more than this is a typo, not a machine.
let maximumThreads = 4096

/// The most tokens a count, a context or a generation may name: far beyond any model's context, far below
/// where arithmetic on it could overflow.
let maximumTokens = 1 << 24

/// The default thread count: one per core.
let defaultThreads = ProcessInfo.processInfo.activeProcessorCount

/// Refuses a number option outside the range that makes sense, in one message form for every command.
func requireRange<T: Comparable>(_ value: T?, _ name: String, _ range: ClosedRange<T>) throws {
    guard let value, !range.contains(value) else { return }
    throw ValidationError("\(name) must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
}

/// Refuses a fraction option outside (0, 1] (or NaN).
func requireFraction(_ value: Double?, _ name: String) throws {
    guard let value else { return }
    guard value > 0, value <= 1 else { throw ValidationError("\(name) must be a fraction above 0 and at most 1, got \(value)") }
}

/// The corpus a count reads, as `count` and `prune --corpus` take it: files, folders and globs (from the
/// command line and `--files-from`), filtered, optionally one shard of them, read as plain text files or as
/// JSON Lines documents.
struct CorpusOptions: ParsableArguments {
    @Option(help: "Only count files whose path or name matches this glob (repeatable).")
    var include: [String] = []

    @Option(help: "Skip files whose path or name matches this glob (repeatable).")
    var exclude: [String] = []

    @Option(parsing: .unconditional, help: "Threads to count with (default: all cores).")
    var threads: Int = defaultThreads

    @Flag(help: "Skip files that are not valid UTF-8, or JSON Lines lines that are not documents (and report them) instead of failing.")
    var skipInvalid = false

    @Option(help: ArgumentHelp("Also read PATHs from this file, one per line ('-': standard input).", valueName: "file"))
    var filesFrom: String?

    @Option(help: ArgumentHelp("Count only shard I of N of the sorted file list (1 <= I <= N; every N-th file from the I-th), for one task of an array job; sum the tables with `count --merge`.", valueName: "I/N"))
    var shard: String?

    @Option(help: ArgumentHelp("Read the inputs as JSON Lines: each line an object whose string at FIELD (dotted for nested fields: meta.text) is one document; '-' as a PATH reads standard input.", valueName: "field"))
    var jsonl: String?

    @Flag(help: "An empty corpus gives an empty table instead of an error (a shard or partition that may hold nothing).")
    var allowEmpty = false

    func validate() throws {
        try requireRange(threads, "--threads", 1...maximumThreads)
        if let shard, Shard(shard) == nil {
            throw ValidationError("--shard must be I/N with 1 <= I <= N <= \(ShardSet.maximumCount), got '\(shard)' "
                                  + "(shards count from 1: 1/4 ... 4/4; a Kubernetes pod passes $((JOB_COMPLETION_INDEX + 1))/N)")
        }
        if let jsonl, JSONFieldPath(jsonl) == nil {
            throw ValidationError("--jsonl needs a field name (dotted for nested fields, no empty parts), got '\(jsonl)'")
        }
    }

    var selectedShard: Shard? { shard.flatMap(Shard.init) }
    var field: JSONFieldPath? { jsonl.flatMap(JSONFieldPath.init) }

    /// The PATHs given on the command line and in --files-from, as given.
    func listedPaths(_ paths: [String]) throws -> [String] {
        guard let filesFrom else { return paths }
        if filesFrom == "-" && paths.contains("-") {
            throw ValidationError("standard input cannot be both --files-from - and a PATH")
        }
        let list = try InputFile.open(filesFrom, limit: 1 << 30)
        var listed = paths
        for line in TextLines(list.bytes) where !line.bytes.isEmpty {
            guard let path = String(validating: line.bytes, as: UTF8.self) else {
                throw ReportInputError("\(filesFrom == "-" ? "stdin" : filesFrom):\(line.number): the path is not UTF-8")
            }
            listed.append(path)
        }
        return listed
    }

    /// The inputs a count reads: files resolved from `paths` (folders walked, globs expanded, --include and
    /// --exclude applied), "-" kept for --jsonl, and with --shard only this shard's files.
    func inputs(_ paths: [String]) throws -> [String] {
        let listed = try listedPaths(paths)
        let readsStandardInput = listed.contains("-")
        if readsStandardInput && jsonl == nil {
            throw ValidationError("'-' (standard input) is read as JSON Lines only: add --jsonl FIELD")
        }
        if readsStandardInput && shard != nil {
            throw ValidationError("--shard splits a list of files; standard input cannot be split")
        }
        if listed.filter({ $0 == "-" }).count > 1 { throw ValidationError("'-' (standard input) is named twice") }
        var files = try CorpusFiles(paths: listed.filter { $0 != "-" }, includes: include, excludes: exclude).resolve()
        if let shard = selectedShard { files = shard.files(of: files) }
        return (readsStandardInput ? ["-"] : []) + files
    }

    /// Counts `inputs` (from `inputs(_:)`) with `tokenizer`: as files, or as JSON Lines documents with --jsonl.
    func count(_ inputs: [String], tokenizer: Tokenizer, recordPieces: Bool = true) throws -> TokenUsage {
        var usage: TokenUsage
        if let field {
            var counter = DocumentCounter(tokenizer: tokenizer, field: field, threads: threads, skipInvalid: skipInvalid)
            counter.allowEmpty = allowEmpty
            counter.recordPieces = recordPieces
            usage = try counter.count(inputs: inputs, progress: stderrIsTerminal ? terminalReadProgress("reading") : nil)
        } else {
            var counter = UsageCounter(tokenizer: tokenizer, threads: threads, skipInvalid: skipInvalid)
            counter.allowEmpty = allowEmpty
            counter.recordPieces = recordPieces
            usage = try counter.count(files: inputs, progress: stderrIsTerminal ? terminalProgress("counting") : nil)
        }
        if stderrIsTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        usage.shards = selectedShard.map(ShardSet.init)
        return usage
    }
}

/// Which tokens to keep, as `prune` takes them.
struct SelectionOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Keep the most used tokens covering this share of occurrences, e.g. 0.9999.")
    var coverage: Double?

    @Option(parsing: .unconditional, help: "Keep the K most used tokens.")
    var top: Int?

    @Option(parsing: .unconditional, help: "Keep tokens used at least N times.")
    var minCount: UInt64?

    @Option(help: "Also keep the token ids in this file (whitespace, comma or line separated; # comments).")
    var keepList: String?

    @Option(help: "Drop the token ids in this file, with every token built from them.")
    var dropList: String?

    @Option(parsing: .unconditional, help: "Trim to exactly N ids, removing merge-tree leaves with the lowest counts first.")
    var targetSize: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("With a model-aware table (count --model): keep the most predicted tokens covering this share of the predicted column (0: none of it). Without it, --coverage covers both columns.", valueName: "fraction"))
    var predictedCoverage: Double?

    func validate() throws {
        try requireFraction(coverage, "--coverage")
        if let predictedCoverage, !(predictedCoverage >= 0 && predictedCoverage <= 1) {
            throw ValidationError("--predicted-coverage must be a fraction from 0 to 1, got \(predictedCoverage)")
        }
        try requireRange(top, "--top", 1...Int(UInt32.max))
        try requireRange(targetSize, "--target-size", 1...Int(UInt32.max))
    }

    /// The list files this selection reads.
    var inputs: [String] { [keepList, dropList].compactMap { $0 } }

    func rules() throws -> SelectionRules {
        var rules = SelectionRules(coverage: coverage, top: top, minCount: minCount, targetSize: targetSize,
                                   predictedCoverage: predictedCoverage)
        if let keepList { rules.keepList = try IdListReader.read(path: keepList) }
        if let dropList { rules.dropList = try IdListReader.read(path: dropList) }
        return rules
    }
}
