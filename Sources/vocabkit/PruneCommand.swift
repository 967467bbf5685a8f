import ArgumentParser
import Dispatch
import Foundation
import VocabKitPrune
import VocabKitTokenizer

struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Write a copy of a GGUF model that keeps only the tokens a corpus needs.",
        discussion: """
        Selection rules (combinable): --coverage, --top, --min-count and --keep-list are united (with none, \
        every token is a candidate); --drop-list removes tokens and everything built from them; --target-size \
        then removes merge-tree leaves, rarest first, down to an exact size. The 256 byte tokens, the special \
        tokens and every part of a kept token are always kept, so any text still tokenizes, and text made of \
        kept tokens tokenizes to the same (renumbered) ids. Padding rows ([PAD…]) are dropped. See \
        Docs/pruning.md.
        """
    )

    @Argument(help: "The GGUF model, or a Hugging Face checkpoint directory (-o then names a directory), to prune (never modified).")
    var model: String

    @Option(name: .shortAndLong, help: "Where to write the pruned model.")
    var output: String?

    @Option(help: "A usage table from `vocabkit count --vocab MODEL`.")
    var usage: String?

    @Option(parsing: .upToNextOption, help: "Count these files, folders or globs with the model's vocabulary instead of --usage.")
    var corpus: [String] = []

    @Option(help: "With --corpus: only files matching this glob (repeatable).")
    var include: [String] = []

    @Option(help: "With --corpus: skip files matching this glob (repeatable).")
    var exclude: [String] = []

    @Option(help: "With --corpus: threads to count with (default: all cores).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Keep the most used tokens covering this share of occurrences, e.g. 0.9999.")
    var coverage: Double?

    @Option(help: "Keep the K most used tokens.")
    var top: Int?

    @Option(help: "Keep tokens used at least N times.")
    var minCount: UInt64?

    @Option(help: "Also keep the token ids in this file (one per line, # comments).")
    var keepList: String?

    @Option(help: "Drop the token ids in this file, with every token built from them.")
    var dropList: String?

    @Option(help: "Trim to exactly N ids, removing merge-tree leaves with the lowest counts first.")
    var targetSize: Int?

    @Option(help: "Write old_id<TAB>new_id for every kept token.")
    var remap: String?

    @Flag(help: "Select and verify, print the report, but write no model.")
    var dryRun = false

    @Option(help: "With a Hugging Face checkpoint: round vocab_size up to a multiple of N with rows no token reaches.")
    var padTo: Int?

    @Option(help: "With a GGUF model: also write its pruned tokenizer as Hugging Face files into this directory.")
    var hfTokenizer: String?

    func validate() throws {
        if (usage == nil) == corpus.isEmpty { throw ValidationError("give either --usage FILE or --corpus PATH…") }
        if output == nil && !dryRun { throw ValidationError("give -o OUT.gguf (or --dry-run)") }
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        try validateHuggingFaceOptions()
    }

    func run() throws {
        try runReportingErrors { try prune() }
    }

    func prune() throws {
            let started = DispatchTime.now()
            if isCheckpointDirectory { return try pruneCheckpoint(started: started) }
            if let output { try ModelPruner.refuseOverwritingInput(input: model, output: output) }
            let pruner = try ModelPruner(modelPath: model)
            let counts: [UInt64]
            if let usage {
                counts = try TokenUsage.read(path: usage).counts(for: pruner.vocabulary, path: usage)
            } else {
                let files = try CorpusFiles(paths: corpus, includes: include, excludes: exclude).resolve()
                let counter = UsageCounter(tokenizer: Tokenizer(vocabulary: pruner.vocabulary), threads: threads)
                let counted = try counter.count(files: files, progress: stderrIsTerminal ? terminalProgress("counting") : nil)
                if stderrIsTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                print("counted \(counted.files) files, \(counted.tokens) tokens")
                counts = counted.counts
            }
            var rules = SelectionRules(coverage: coverage, top: top, minCount: minCount, targetSize: targetSize)
            if let keepList { rules.keepList = try readIdList(keepList) }
            if let dropList { rules.dropList = try readIdList(dropList) }
            let selector = pruner.selector()
            let selection = try selector.select(counts: counts, rules: rules)
            for line in selection.report { print("\(line.rule): \(line.tokens)") }
            _ = try selector.verify(selection)
            print("verified: every kept token that encoded to itself still does")
            let hfTokenizerFiles = try stageHFTokenizer(pruner: pruner, selection: selection)
            if let remap {
                do {
                    try selection.remapTSV.write(toFile: remap, atomically: true, encoding: .utf8)
                } catch {
                    throw PruneError.unreadable(path: remap, reason: "cannot write: \(error.localizedDescription)")
                }
            }
            guard let output, !dryRun else { return }
            var progress: ((Int, Int) -> Void)?
            if stderrIsTerminal { progress = terminalProgress("writing") }
            let summary = try pruner.write(selection, to: output, progress: progress)
            try commitHFTokenizer(hfTokenizerFiles)
            if stderrIsTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
            print("vocabulary \(summary.originalIdCount) -> \(summary.keptIdCount) ids, merges \(summary.originalMergeCount) -> \(summary.keptMergeCount)")
            let saved = Double(summary.inputBytes - summary.outputBytes) * 100 / Double(max(summary.inputBytes, 1))
            print("file \(summary.inputBytes) -> \(summary.outputBytes) bytes (" + String(format: "%.1f", saved) + "% smaller), "
                  + String(format: "%.2f", elapsed) + " s")
            print("wrote \(output)")
    }
}

/// Token ids, one per line; blank lines and `#` comments ignored.
func readIdList(_ path: String) throws -> [Int] {
    guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
        throw PruneError.unreadable(path: path, reason: "no such file, or not UTF-8 text")
    }
    var ids: [Int] = []
    for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let trimmed = content.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { continue }
        guard let id = Int(trimmed), id >= 0 else {
            throw PruneError.malformedIdList(path: path, line: index + 1, reason: "'\(trimmed)' is not a token id")
        }
        ids.append(id)
    }
    return ids
}
