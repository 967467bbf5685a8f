import ArgumentParser
import Dispatch
import Foundation
import VocabKitIO
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

    @Argument(help: "The GGUF model to prune (never modified).")
    var model: String

    @Option(name: .shortAndLong, help: "Where to write the pruned model.")
    var output: String?

    @Option(help: "A usage table from `vocabkit count --vocab MODEL`.")
    var usage: String?

    @Option(parsing: .upToNextOption, help: "Count these files, folders or globs with the model's vocabulary instead of --usage.")
    var corpus: [String] = []

    @OptionGroup var corpusOptions: CorpusOptions

    @OptionGroup var selectionOptions: SelectionOptions

    @Option(help: "Write old_id<TAB>new_id for every kept token.")
    var remap: String?

    @Flag(help: "Select and verify, print the report, but write no model.")
    var dryRun = false

    func validate() throws {
        let countsCorpus = !corpus.isEmpty || corpusOptions.filesFrom != nil
        if (usage == nil) != countsCorpus { throw ValidationError("give either --usage FILE or --corpus PATH… (or --files-from FILE)") }
        if output == nil && !dryRun { throw ValidationError("give -o OUT.gguf (or --dry-run)") }
        if corpusOptions.shard != nil { throw ValidationError("--shard is for `count`; prune from the merged table with --usage") }
    }

    func run() throws {
        try runReportingErrors { try prune() }
    }

    func prune() throws {
        let started = DispatchTime.now()
        // Every file this run reads; no output may be one of them, and the outputs may not collide.
        let corpusFiles = usage != nil ? [] : try corpusOptions.inputs(corpus)
        let inputs = [model] + [usage, corpusOptions.filesFrom].compactMap { $0 } + selectionOptions.inputs + corpusFiles.filter { $0 != "-" }
        let outputs = dryRun ? [] : [output, remap].compactMap { $0 }
        let published = try OutputSet(outputs: outputs, inputs: inputs)

        let pruner = try ModelPruner(modelPath: model)
        let counts: [UInt64]
        if let usage {
            counts = try TokenUsage.read(path: usage).counts(for: pruner.vocabulary, path: usage)
        } else {
            let counted = try corpusOptions.count(corpusFiles, tokenizer: Tokenizer(vocabulary: pruner.vocabulary), recordPieces: false)
            print("counted \(counted.files) files, " + (counted.documents == counted.files ? "" : "\(counted.documents) documents, ")
                  + "\(counted.tokens) tokens")
            counts = counted.counts
        }
        let selector = pruner.selector()
        let selection = try selector.select(counts: counts, rules: try selectionOptions.rules())
        for line in selection.report { print("\(line.rule): \(line.tokens)") }
        let verified = try selector.verify(selection)
        print("verified: every kept token that encoded to itself still does")
        guard !dryRun else {
            if let remap { print("(dry run: \(remap) not written)") }
            return
        }
        // Both outputs go to temporary files and are published together, only once the model is complete.
        if let remap { try published.create(remap).write(selection.remapTSV) }
        guard let output else { return }
        var progress: ((Int, Int) -> Void)?
        if stderrIsTerminal { progress = terminalProgress("writing") }
        let summary = try pruner.write(verified, into: published.create(output), progress: progress)
        try published.commit()
        if stderrIsTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        print("vocabulary \(summary.originalIdCount) -> \(summary.keptIdCount) ids, merges \(summary.originalMergeCount) -> \(summary.keptMergeCount)")
        let saved = Double(summary.inputBytes - summary.outputBytes) * 100 / Double(max(summary.inputBytes, 1))
        print("file \(summary.inputBytes) -> \(summary.outputBytes) bytes (" + String(format: "%.1f", saved) + "% smaller), "
              + String(format: "%.2f", elapsed) + " s")
        print("wrote \(output)" + (remap.map { " and \($0)" } ?? ""))
    }
}
