import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VocabKitGGUF
import VocabKitInference
import VocabKitIO
import VocabKitModels
import VocabKitPrediction
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

        Model-aware counting (--model MODEL.gguf, which is also the vocabulary): besides the corpus's own tokens, \
        the model runs over the files, cut into windows of whole lines of at most --ctx tokens as `check --file` \
        cuts them, and at every position the --top-k tokens it finds most likely with probability at least \
        --min-prob are counted in a `predicted` column; --sample N evaluates N positions, from windows spread \
        evenly over the corpus. --answers PROMPTS.txt (one prompt per line, \\n escapes) lets an instruct model \
        answer each prompt, wrapped in its chat template as llama.cpp applies it, greedily for up to -n tokens, \
        and counts the answers' tokens in the same column. `prune --coverage` then keeps what covers that share \
        of both columns (--predicted-coverage gives the predicted column its own). See Docs/evaluation.md.
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

    @Option(help: ArgumentHelp("Also count what this GGUF model would write over the corpus (a `predicted` column); its vocabulary counts the corpus.", valueName: "model.gguf"))
    var model: String?

    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "With --model: count the K most likely next tokens at every position.")
    var topK: Int = 1

    @Option(name: .customLong("min-prob"), parsing: .unconditional, help: "With --model: count only predictions with at least this probability.")
    var minProb: Double = 0

    @Option(parsing: .unconditional, help: "With --model: evaluate this many positions, from windows spread evenly over the corpus (default: every window).")
    var sample: Int?

    @Option(parsing: .unconditional, help: "With --model: the longest window, in tokens.")
    var ctx: Int = 256

    @Option(help: ArgumentHelp("With --model (an instruct model): answer each prompt of this file (one per line, \\n escapes) in the model's chat format and count the answers.", valueName: "prompts.txt"))
    var answers: String?

    @Option(name: .short, parsing: .unconditional, help: "With --answers: the longest answer, in tokens.")
    var n: Int = 256

    @Option(name: .customLong("answers-output"), help: ArgumentHelp("With --answers: write the answers here as JSON Lines (prompt, answer, tokens, stopped).", valueName: "file"))
    var answersOutput: String?

    /// Whether PATHs (or a list of them) name a corpus to count; with --answers alone there is none.
    var countsCorpus: Bool { !paths.isEmpty || corpus.filesFrom != nil }

    func validate() throws {
        if model == nil {
            for (given, name) in [(answers != nil, "--answers"), (topK != 1, "--top-k"), (minProb != 0, "--min-prob"), (sample != nil, "--sample"),
                                  (ctx != 256, "--ctx"), (answersOutput != nil, "--answers-output")] where given {
                throw ValidationError("\(name) needs --model MODEL.gguf")
            }
        } else {
            if merge { throw ValidationError("--merge sums tables; --model belongs to the counts that made them") }
            if corpus.jsonl != nil { throw ValidationError("--model counts files; JSON Lines documents are not supported with it") }
            if vocabulary.vocab != nil || vocabulary.preTokenizer != nil {
                throw ValidationError("--model counts with the model's own vocabulary; drop --vocab and --pre-tokenizer")
            }
            try requireRange(topK, "--top-k", 1...1000)
            guard minProb >= 0, minProb <= 1 else { throw ValidationError("--min-prob must be a probability from 0 to 1, got \(minProb)") }
            try requireRange(sample, "--sample", 1...Int(Int32.max))
            try requireRange(ctx, "--ctx", 1...maximumTokens)
            try requireRange(n, "-n", 1...maximumTokens)
            if answersOutput != nil && answers == nil { throw ValidationError("--answers-output needs --answers PROMPTS.txt") }
            if answersOutput == "-" { throw ValidationError("--answers-output needs a file name") }
            if answers == nil && !countsCorpus { throw ValidationError("give the PATHs to count (or --files-from FILE, or --answers PROMPTS.txt)") }
            if answers != nil && !countsCorpus && corpus.allowEmpty { throw ValidationError("--allow-empty applies to a corpus; --answers alone counts none") }
        }
        if model == nil && paths.isEmpty && corpus.filesFrom == nil { throw ValidationError("give the PATHs to count (or --files-from FILE)") }
        if merge && (corpus.jsonl != nil || corpus.shard != nil) {
            throw ValidationError("--merge sums usage tables; --jsonl and --shard belong to the counts that made them")
        }
        if svg == "-" { throw ValidationError("--svg needs a file name") }
    }

    func run() throws {
        try runReportingErrors {
            do {
                try count()
            } catch let error as InferenceError {
                throw ReportInputError((model.map { "\($0): " } ?? "") + error.description)
            }
        }
    }

    private func count() throws {
        let tablePaths = merge ? try corpus.listedPaths(paths) : []
        let inputs = merge ? tablePaths : (countsCorpus ? try corpus.inputs(paths) : [])
        // Every file read, and the vocabulary: no output may replace one of them.
        let read = inputs + [corpus.filesFrom, vocabulary.vocab, model, answers].compactMap { $0 }
        let files = [output, svg, answersOutput].compactMap { $0 }.filter { $0 != "-" }
        let published = try OutputSet(outputs: files, inputs: read.filter { $0 != "-" })
        var usage: TokenUsage
        var tokenizerVocabulary: Vocabulary?
        var modelAware: ModelAwareReport?
        if let model {
            let counted = try countWithModel(model, inputs: inputs, published: published)
            usage = counted.usage
            tokenizerVocabulary = counted.vocabulary
            modelAware = counted.report
        } else if merge {
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
        if let svg { try published.create(svg).write(usage.coverageSVG(vocabularySizeHint: tokenizerVocabulary?.idCount)) }
        try published.commit()
        if output == "-" { try writeToStandardOutput(table) }
        reportSkipped(usage)
        if merge, let shards = usage.shards {
            let missing = shards.missing.map { "\($0)/\(shards.count)" }.joined(separator: ", ")
            FileHandle.standardError.write(Data("note: the merged table holds shards \(shards) only; missing: \(missing)\n".utf8))
        }
        if !quiet {
            let summary = self.summary(usage, ranked: ranked, modelAware: modelAware)
            if output == "-" { FileHandle.standardError.write(Data(summary.utf8)) } else { print(summary, terminator: "") }
        }
    }

    /// What the model-aware part of a count did, for the summary.
    struct ModelAwareReport {
        var corpus: PredictedCounts?
        var answers: PredictedCounts?
        var answersStopped = 0
    }

    /// Counts the corpus (if any) with the model's vocabulary, then the model's predictions over it and its
    /// answers to --answers, into the predicted column.
    private func countWithModel(_ path: String, inputs: [String], published: OutputSet)
        throws -> (usage: TokenUsage, vocabulary: Vocabulary, report: ModelAwareReport) {
        let file = try openModel(path)
        let tokenizer = Tokenizer(vocabulary: try Vocabulary.load(gguf: file, source: path))
        var usage: TokenUsage
        if countsCorpus {
            usage = try corpus.count(inputs, tokenizer: tokenizer, recordPieces: false)
        } else {
            usage = TokenUsage(counts: [], pieces: [:], files: 0, documents: 0, bytes: 0, vocabularySource: path,
                               vocabularyFingerprint: tokenizer.vocabulary.fingerprint)
        }
        usage.vocabularySize = tokenizer.vocabulary.idCount
        var prompts: [String] = []
        var format: ChatFormat?
        if let answers {
            guard let text = String(validating: try readText(answers), as: UTF8.self) else { throw ReportInputError("\(answers): not valid UTF-8") }
            prompts = promptLines(text).map(\.text)
            guard !prompts.isEmpty else { throw ReportInputError("\(answers): no prompts") }
            format = try ChatFormat.of(file, path: path)
        }
        let answerContext = format.map { ChatAnswerer.contextNeeded(for: prompts, tokenizer: tokenizer, format: $0, maxTokens: n) } ?? 0
        let lm = try LanguageModel(file: file, maxContext: max(countsCorpus ? ctx : 1, answerContext))
        let name = URL(fileURLWithPath: path).lastPathComponent
        var report = ModelAwareReport()
        // An empty predicted column still marks the table as model-aware.
        usage.predicted = UsageColumn(name: TokenUsage.predictedColumnName, values: [])
        usage.prediction = nil
        if countsCorpus {
            var counter = PredictionCounter(model: lm, tokenizer: tokenizer, windowTokens: ctx)
            counter.topK = topK
            counter.minProbability = minProb
            counter.sample = sample
            counter.threads = corpus.threads
            let skipped = Set(usage.skippedFiles.map(\.path))
            let progress = stderrIsTerminal ? terminalPositionProgress("predicting") : nil
            let predicted = try counter.count(files: inputs.filter { !skipped.contains($0) }, progress: progress)
            if stderrIsTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            usage.addPredictions(predicted, note: counter.note(model: name))
            report.corpus = predicted
        }
        if let answers, let format {
            let start = DispatchTime.now().uptimeNanoseconds
            let answerer = ChatAnswerer(model: lm, tokenizer: tokenizer, format: format, maxTokens: n)
            let progress: ((Int, Int) -> Void)? = stderrIsTerminal ? { done, total in
                FileHandle.standardError.write(Data("\ranswering \(done)/\(total) prompts\u{1B}[K".utf8))
            } : nil
            let answered = try answerer.answer(prompts, progress: progress)
            if stderrIsTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let counts = ChatAnswerer.counts(of: answered, vocabularySize: tokenizer.vocabulary.idCount, seconds: seconds)
            usage.addPredictions(counts, note: "\(name) answers to \(URL(fileURLWithPath: answers).lastPathComponent) (\(format.name), greedy, -n \(n))")
            report.answers = counts
            report.answersStopped = answered.filter(\.stopped).count
            if let answersOutput {
                var lines = ""
                for answer in answered {
                    let text = String(decoding: try tokenizer.decode(answer.tokens.map(\.tokenID)), as: UTF8.self)
                    lines += "{\"prompt\":\(jsonString(answer.prompt)),\"answer\":\(jsonString(text)),\"prompt_tokens\":\(answer.promptTokens),"
                        + "\"tokens\":[\(answer.tokens.map(String.init).joined(separator: ","))],\"stopped\":\(answer.stopped)}\n"
                }
                try published.create(answersOutput).write(Array(lines.utf8))
            }
        }
        return (usage, tokenizer.vocabulary, report)
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

    func summary(_ usage: TokenUsage, ranked: [Int], modelAware: ModelAwareReport? = nil) -> String {
        let points = Array(zip(TokenUsage.coverageKeyPoints.map(TokenUsage.percent),
                               usage.tokensCovering(TokenUsage.coverageKeyPoints, ranked: ranked)))
        let used = ranked.count
        // The predicted column's own coverage points, ranked by its counts.
        let predictedTable = usage.predicted.map {
            TokenUsage(counts: $0.values, pieces: [:], files: 0, bytes: 0, vocabularySource: "")
        }
        let predictedRanked = predictedTable?.rankedIds ?? []
        let predictedPoints = predictedTable.map {
            Array(zip(TokenUsage.coverageKeyPoints.map(TokenUsage.percent), $0.tokensCovering(TokenUsage.coverageKeyPoints, ranked: predictedRanked)))
        }
        if json {
            var fields = ["\"files\":\(usage.files)", "\"documents\":\(usage.documents)", "\"bytes\":\(usage.bytes)",
                          "\"tokens\":\(usage.tokens)", "\"distinct_tokens\":\(used)", "\"vocabulary\":\(jsonString(usage.vocabularySource))"]
            fields.append("\"vocabulary_sha256\":" + (usage.vocabularyFingerprint.map(jsonString) ?? "null"))
            fields.append("\"shards\":" + (usage.shards.map { jsonString($0.description) } ?? "null"))
            fields.append("\"coverage\":{" + points.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
            if let predictedPoints, let predictedTable {
                var predicted = ["\"positions\":\(usage.predictedPositions)", "\"predictions\":\(predictedTable.tokens)",
                                 "\"distinct_tokens\":\(predictedRanked.count)"]
                predicted.append("\"coverage\":{" + predictedPoints.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
                if let corpus = modelAware?.corpus {
                    predicted.append("\"corpus\":{\"positions\":\(corpus.positions),\"windows\":\(corpus.windows),"
                                     + "\"corpus_positions\":\(corpus.corpusPositions),\"predictions\":\(corpus.predictions),"
                                     + "\"seconds\":\(corpus.seconds),\"positions_per_second\":\(corpus.positionsPerSecond)}")
                }
                if let answers = modelAware?.answers {
                    predicted.append("\"answers\":{\"prompts\":\(answers.windows),\"tokens\":\(answers.positions),"
                                     + "\"stopped\":\(modelAware?.answersStopped ?? 0),\"seconds\":\(answers.seconds),"
                                     + "\"tokens_per_second\":\(answers.positionsPerSecond)}")
                }
                fields.append("\"predicted\":{" + predicted.joined(separator: ",") + "}")
            }
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
        if usage.tokens > 0 || predictedPoints == nil {
            for (percent, tokens) in points { text += "\(percent)% of occurrences: \(tokens) tokens\n" }
        }
        if let corpus = modelAware?.corpus {
            let share = corpus.positions < corpus.corpusPositions ? " (sampled from \(corpus.corpusPositions))" : ""
            text += "predicted: \(corpus.positions) positions\(share) in \(corpus.windows) windows, top-k \(topK), min-prob \(minProb): "
                + "\(corpus.predictions) predictions, " + String(format: "%.1f s, %.1f positions/s\n", corpus.seconds, corpus.positionsPerSecond)
        }
        if let answers = modelAware?.answers {
            text += "answers: \(answers.windows) prompts, \(answers.positions) tokens (\(modelAware?.answersStopped ?? 0) ended by the model), "
                + String(format: "%.1f s, %.1f tokens/s\n", answers.seconds, answers.positionsPerSecond)
        }
        if let predictedPoints, let predictedTable {
            text += "predicted column: \(predictedTable.tokens) predictions at \(usage.predictedPositions) positions, \(predictedRanked.count) distinct tokens\n"
            for (percent, tokens) in predictedPoints { text += "\(percent)% of predictions: \(tokens) tokens\n" }
        }
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

/// A progress line on stderr for positions evaluated by a model, "\r"-rewritten; only used when stderr is a terminal.
func terminalPositionProgress(_ label: String) -> @Sendable (Int, Int) -> Void {
    let start = DispatchTime.now().uptimeNanoseconds
    return { done, total in
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let line = String(format: "\r%@ %d / %d positions (%.1f positions/s)\u{1B}[K", label, done, total, seconds > 0 ? Double(done) / seconds : 0)
        FileHandle.standardError.write(Data(line.utf8))
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
