import ArgumentParser
import Foundation
import VocabKitIO
import VocabKitPrune
import VocabKitTokenizer

struct CountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "count",
        abstract: "Count how often each token occurs in a corpus (the input to `vocabkit prune`).",
        discussion: """
        PATHs are files, folders (searched recursively, hidden entries skipped) or glob patterns. Writes \
        usage.tsv (# header lines, then id<TAB>count<TAB>piece, most used first) and prints how many tokens \
        cover 90, 99, 99.9 and 99.99 % of all occurrences. Count with --vocab MODEL.gguf for the model you \
        will prune. With --merge, PATHs are usage files counted separately, summed into one.
        """
    )

    @Argument(help: "Files, folders or globs to count (usage files with --merge).")
    var paths: [String]

    @Option(name: .shortAndLong, help: "Write the usage table here.")
    var output: String?

    @OptionGroup var corpus: CorpusOptions

    @Flag(help: "Sum usage files (PATHs) instead of counting text.")
    var merge = false

    @Option(help: "Write the coverage curve as an SVG image.")
    var svg: String?

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @OptionGroup var vocabulary: VocabularyOptions

    func run() throws {
        try runReportingErrors {
            // The tables or corpus files read, and the vocabulary: no output may replace one of them.
            let files = merge ? paths : try corpus.files(paths)
            let published = try OutputSet(outputs: [output, svg].compactMap { $0 }, inputs: files + [vocabulary.vocab].compactMap { $0 })
            let usage: TokenUsage
            var tokenizerVocabulary: Vocabulary?
            if merge {
                usage = try TokenUsage.merging(paths.map { ($0, try TokenUsage.read(path: $0)) })
            } else {
                let tokenizer = try vocabulary.tokenizer()
                tokenizerVocabulary = tokenizer.vocabulary
                var counter = UsageCounter(tokenizer: tokenizer, threads: corpus.threads, skipInvalid: corpus.skipInvalid)
                counter.recordPieces = false  // the table is written with the vocabulary itself
                usage = try counter.count(files: files, progress: stderrIsTerminal ? terminalProgress("counting") : nil)
                if stderrIsTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            }
            let ranked = usage.rankedIds  // once, for the table and the summary
            if let output { try published.create(output).write(usage.tsvBytes(vocabulary: tokenizerVocabulary, ranked: ranked)) }
            if let svg { try published.create(svg).write(usage.coverageSVG()) }
            try published.commit()
            printSummary(usage, ranked: ranked)
        }
    }

    func printSummary(_ usage: TokenUsage, ranked: [Int]) {
        let points = Array(zip(TokenUsage.coverageKeyPoints.map(TokenUsage.percent),
                               usage.tokensCovering(TokenUsage.coverageKeyPoints, ranked: ranked)))
        let used = ranked.count
        if json {
            var fields = ["\"files\":\(usage.files)", "\"bytes\":\(usage.bytes)", "\"tokens\":\(usage.tokens)",
                          "\"distinct_tokens\":\(used)", "\"vocabulary\":\(jsonString(usage.vocabularySource))"]
            fields.append("\"coverage\":{" + points.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
            fields.append("\"skipped\":[" + usage.skippedFiles.map { "{\"path\":\(jsonString($0.path)),\"offset\":\($0.offset)}" }
                .joined(separator: ",") + "]")
            print("{" + fields.joined(separator: ",") + "}")
            return
        }
        for skipped in usage.skippedFiles {
            FileHandle.standardError.write(Data("skipped \(skipped.path): invalid UTF-8 at byte offset \(skipped.offset)\n".utf8))
        }
        print("\(usage.files) files, \(usage.bytes) bytes, \(usage.tokens) tokens, \(used) distinct tokens")
        for (percent, tokens) in points { print("\(percent)% of occurrences: \(tokens) tokens") }
    }
}

/// A progress line on stderr, "\r"-rewritten; only used when stderr is a terminal.
func terminalProgress(_ label: String) -> @Sendable (Int, Int) -> Void {
    { done, total in
        let percent = total > 0 ? Double(done) * 100 / Double(total) : 100
        let line = String(format: "\r%@ %.0f%% (%d / %d MB)", label, percent, done >> 20, total >> 20)
        FileHandle.standardError.write(Data(line.utf8))
    }
}
