import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VocabKitIO
import VocabKitPrune
import VocabKitTokenizer

struct CountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "count",
        abstract: "Count how often each token occurs in a corpus (the input to `vocabkit prune`).",
        discussion: """
        PATHs are files, folders (searched recursively, hidden entries skipped) or glob patterns; with --jsonl \
        FIELD they hold JSON Lines whose FIELD strings are the documents, and '-' reads them from standard input. \
        Writes usage.tsv (# header lines, then id<TAB>count<TAB>piece, most used first) and prints how many \
        tokens cover 90, 99, 99.9 and 99.99 % of all occurrences (on stderr when the table goes to stdout with \
        -o -). Count with --vocab MODEL.gguf for the model you will prune. With --merge, PATHs are usage tables \
        counted separately (shards, partitions, machines), summed into one. See Docs/scale.md.
        """
    )

    @Argument(help: "Files, folders or globs to count ('-': standard input, with --jsonl; usage tables with --merge).")
    var paths: [String] = []

    @Option(name: .shortAndLong, help: "Write the usage table here ('-': standard output, and the summary goes to stderr).")
    var output: String?

    @OptionGroup var corpus: CorpusOptions

    @Flag(help: "Sum usage tables (PATHs, '-' for one on standard input) instead of counting text.")
    var merge = false

    @Option(help: "Write the coverage curve as an SVG image.")
    var svg: String?

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @Flag(help: "Print no summary (errors and skipped inputs are still reported on stderr).")
    var quiet = false

    @OptionGroup var vocabulary: VocabularyOptions

    func validate() throws {
        if paths.isEmpty && corpus.filesFrom == nil { throw ValidationError("give the PATHs to count (or --files-from FILE)") }
        if merge && (corpus.jsonl != nil || corpus.shard != nil) {
            throw ValidationError("--merge sums usage tables; --jsonl and --shard belong to the counts that made them")
        }
        if svg == "-" { throw ValidationError("--svg needs a file name") }
    }

    func run() throws {
        try runReportingErrors {
            let tablePaths = merge ? try corpus.listedPaths(paths) : []
            let inputs = merge ? tablePaths : try corpus.inputs(paths)
            // Every file read, and the vocabulary: no output may replace one of them.
            let read = inputs + [corpus.filesFrom, vocabulary.vocab].compactMap { $0 }
            let files = [output, svg].compactMap { $0 }.filter { $0 != "-" }
            let published = try OutputSet(outputs: files, inputs: read.filter { $0 != "-" })
            let usage: TokenUsage
            var tokenizerVocabulary: Vocabulary?
            if merge {
                if tablePaths.filter({ $0 == "-" }).count > 1 { throw ValidationError("'-' (standard input) is named twice") }
                // One table in memory at a time, however many shards there are.
                var merger = UsageMerger()
                for path in tablePaths { try merger.add(try TokenUsage.read(path: path), path: path == "-" ? "stdin" : path) }
                usage = merger.total
            } else {
                let tokenizer = try vocabulary.tokenizer()
                tokenizerVocabulary = tokenizer.vocabulary
                // The table is written with the vocabulary itself, so the counter need not spell pieces.
                usage = try corpus.count(inputs, tokenizer: tokenizer, recordPieces: false)
            }
            let ranked = usage.rankedIds  // once, for the table and the summary
            let table = usage.tsvBytes(vocabulary: tokenizerVocabulary, ranked: ranked)
            if let output, output != "-" { try published.create(output).write(table) }
            if let svg { try published.create(svg).write(usage.coverageSVG()) }
            try published.commit()
            if output == "-" { try writeToStandardOutput(table) }
            reportSkipped(usage)
            if merge, let shards = usage.shards {
                let missing = shards.missing.map { "\($0)/\(shards.count)" }.joined(separator: ", ")
                FileHandle.standardError.write(Data("note: the merged table holds shards \(shards) only; missing: \(missing)\n".utf8))
            }
            if !quiet {
                let summary = self.summary(usage, ranked: ranked)
                if output == "-" { FileHandle.standardError.write(Data(summary.utf8)) } else { print(summary, terminator: "") }
            }
        }
    }

    func reportSkipped(_ usage: TokenUsage) {
        var lines = ""
        for skipped in usage.skippedFiles {
            lines += "skipped \(skipped.path): invalid UTF-8 at byte offset \(skipped.offset)\n"
        }
        for skipped in usage.skippedDocuments {
            lines += "skipped \(skipped.path):\(skipped.line):\(skipped.column): \(skipped.reason)\n"
        }
        let unreported = usage.skipped - usage.skippedFiles.count - usage.skippedDocuments.count
        if !usage.skippedDocuments.isEmpty && unreported > 0 { lines += "skipped \(unreported) more lines\n" }
        if !lines.isEmpty { FileHandle.standardError.write(Data(lines.utf8)) }
    }

    func summary(_ usage: TokenUsage, ranked: [Int]) -> String {
        let points = Array(zip(TokenUsage.coverageKeyPoints.map(TokenUsage.percent),
                               usage.tokensCovering(TokenUsage.coverageKeyPoints, ranked: ranked)))
        let used = ranked.count
        if json {
            var fields = ["\"files\":\(usage.files)", "\"documents\":\(usage.documents)", "\"bytes\":\(usage.bytes)",
                          "\"tokens\":\(usage.tokens)", "\"distinct_tokens\":\(used)", "\"vocabulary\":\(jsonString(usage.vocabularySource))"]
            fields.append("\"vocabulary_sha256\":" + (usage.vocabularyFingerprint.map(jsonString) ?? "null"))
            fields.append("\"shards\":" + (usage.shards.map { jsonString($0.description) } ?? "null"))
            fields.append("\"coverage\":{" + points.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
            fields.append("\"skipped_total\":\(usage.skipped)")
            fields.append("\"skipped\":[" + usage.skippedFiles.map { "{\"path\":\(jsonString($0.path)),\"offset\":\($0.offset)}" }
                .joined(separator: ",") + "]")
            fields.append("\"skipped_documents\":[" + usage.skippedDocuments.map {
                "{\"path\":\(jsonString($0.path)),\"line\":\($0.line),\"column\":\($0.column),\"reason\":\(jsonString($0.reason))}"
            }.joined(separator: ",") + "]")
            return "{" + fields.joined(separator: ",") + "}\n"
        }
        let documents = usage.documents == usage.files ? "" : "\(usage.documents) documents, "
        let skipped = usage.skipped == 0 ? "" : ", \(usage.skipped) skipped"
        var text = "\(usage.files) files, \(documents)\(usage.bytes) bytes, \(usage.tokens) tokens, \(used) distinct tokens\(skipped)\n"
        if let shards = usage.shards, !merge { text = "shard \(shards): " + text }
        for (percent, tokens) in points { text += "\(percent)% of occurrences: \(tokens) tokens\n" }
        return text
    }
}

/// Writes all of `bytes` to standard output (the table of `-o -`); a closed pipe is an error, not a hang.
func writeToStandardOutput(_ bytes: [UInt8]) throws {
    try bytes.withUnsafeBytes { buffer in
        var done = 0
        while done < buffer.count {
            let written = Glibc.write(1, buffer.baseAddress! + done, buffer.count - done)
            if written < 0 {
                if errno == EINTR { continue }
                throw ReportInputError("stdout: cannot write the table: " + String(cString: strerror(errno)))
            }
            done += written
        }
    }
}

/// A progress line on stderr for a stream of unknown size, "\r"-rewritten; only used when stderr is a terminal.
func terminalReadProgress(_ label: String) -> @Sendable (Int) -> Void {
    { done in FileHandle.standardError.write(Data("\r\(label) \(done >> 20) MB".utf8)) }
}

/// A progress line on stderr, "\r"-rewritten; only used when stderr is a terminal.
func terminalProgress(_ label: String) -> @Sendable (Int, Int) -> Void {
    { done, total in
        let percent = total > 0 ? Double(done) * 100 / Double(total) : 100
        let line = String(format: "\r%@ %.0f%% (%d / %d MB)", label, percent, done >> 20, total >> 20)
        FileHandle.standardError.write(Data(line.utf8))
    }
}
