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

/// The files a corpus is read from, as `count` and `prune --corpus` take them.
struct CorpusOptions: ParsableArguments {
    @Option(help: "Only count files whose path or name matches this glob (repeatable).")
    var include: [String] = []

    @Option(help: "Skip files whose path or name matches this glob (repeatable).")
    var exclude: [String] = []

    @Option(parsing: .unconditional, help: "Threads to count with (default: all cores).")
    var threads: Int = defaultThreads

    @Flag(help: "Skip files that are not valid UTF-8 (and list them) instead of failing.")
    var skipInvalid = false

    func validate() throws { try requireRange(threads, "--threads", 1...maximumThreads) }

    func files(_ paths: [String]) throws -> [String] {
        try CorpusFiles(paths: paths, includes: include, excludes: exclude).resolve()
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

    func validate() throws {
        try requireFraction(coverage, "--coverage")
        try requireRange(top, "--top", 1...Int(UInt32.max))
        try requireRange(targetSize, "--target-size", 1...Int(UInt32.max))
    }

    /// The list files this selection reads.
    var inputs: [String] { [keepList, dropList].compactMap { $0 } }

    func rules() throws -> SelectionRules {
        var rules = SelectionRules(coverage: coverage, top: top, minCount: minCount, targetSize: targetSize)
        if let keepList { rules.keepList = try IdListReader.read(path: keepList) }
        if let dropList { rules.dropList = try IdListReader.read(path: dropList) }
        return rules
    }
}
