import ArgumentParser
import Dispatch
import Foundation
import VocabKitHuggingFace
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
        tokens, the tokens of the chat template's own text (unless --no-chat-template) and every part of a \
        kept token are always kept, so any text still tokenizes, and text made of kept tokens tokenizes to the \
        same (renumbered) ids. Padding rows ([PAD…]) are dropped. See \
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

    @OptionGroup var corpusOptions: CorpusOptions

    @OptionGroup var selectionOptions: SelectionOptions

    @Option(help: "Write old_id<TAB>new_id for every kept token.")
    var remap: String?

    @Flag(help: "Select and verify, print the report, but write no model.")
    var dryRun = false

    @Flag(help: "Do not keep the tokens of the model's chat template text (role markers, default system prompt), which are kept by default so that every conversation tokenizes as before.")
    var noChatTemplate = false

    @Option(help: "With a Hugging Face checkpoint: round vocab_size up to a multiple of N with rows no token reaches.")
    var padTo: Int?

    @Option(help: "With a GGUF model: also write its pruned tokenizer as Hugging Face files into this directory.")
    var hfTokenizer: String?

    func validate() throws {
        let countsCorpus = !corpus.isEmpty || corpusOptions.filesFrom != nil
        if (usage == nil) != countsCorpus { throw ValidationError("give either --usage FILE or --corpus PATH… (or --files-from FILE)") }
        if output == nil && !dryRun { throw ValidationError("give -o OUT.gguf (or --dry-run)") }
        try validateHuggingFaceOptions()
        if corpusOptions.shard != nil { throw ValidationError("--shard is for `count`; prune from the merged table with --usage") }
    }

    func run() throws {
        try runReportingErrors { try prune() }
    }

    func prune() throws {
        let started = DispatchTime.now()
        // Every file this run reads; no output may be one of them, and the outputs may not collide.
        let corpusFiles = usage != nil ? [] : try corpusOptions.inputs(corpus)
        let inputs = [model] + [usage, corpusOptions.filesFrom].compactMap { $0 } + selectionOptions.inputs
            + corpusFiles.filter { $0 != "-" }
        if isCheckpointDirectory { return try pruneCheckpoint(started: started, corpusFiles: corpusFiles, inputs: inputs) }
        let tokenizerFiles = hfTokenizer.map(HFTokenizerExport.paths(in:)) ?? []
        let outputs = dryRun ? [] : [output, remap].compactMap { $0 } + tokenizerFiles
        let published = try OutputSet(outputs: outputs, inputs: inputs)

        let pruner = try ModelPruner(modelPath: model)
        let selector = pruner.selector(keepChatTemplate: !noChatTemplate)
        let columns = try counts(for: pruner.vocabulary, corpusFiles: corpusFiles)
        let verified = try select(with: selector, counts: columns.counts, predicted: columns.predicted)
        let selection = verified.selection
        guard !dryRun else {
            if let remap { print("(dry run: \(remap) not written)") }
            return
        }
        // Every output goes to a temporary file; all are published together once the model is complete.
        let tokenizerDirectory = try hfTokenizer.map { try CreatedDirectory(path: $0) }
        if let hfTokenizer {
            try HFTokenizerExport(gguf: pruner.file, source: model, keeping: selection).stage(into: hfTokenizer, set: published)
        }
        if let remap { try published.create(remap).write(selection.remapTSV) }
        guard let output else { return }
        var progress: ((Int, Int) -> Void)?
        if stderrIsTerminal { progress = terminalProgress("writing") }
        let summary = try pruner.write(verified, into: published.create(output), progress: progress)
        try published.commit()
        tokenizerDirectory?.keep()
        if stderrIsTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        print("vocabulary \(summary.originalIdCount) -> \(summary.keptIdCount) ids, merges \(summary.originalMergeCount) -> \(summary.keptMergeCount)")
        let saved = Double(summary.inputBytes - summary.outputBytes) * 100 / Double(max(summary.inputBytes, 1))
        print("file \(summary.inputBytes) -> \(summary.outputBytes) bytes (" + String(format: "%.1f", saved) + "% smaller), "
              + String(format: "%.2f", elapsed) + " s")
        print("wrote \(output)" + (remap.map { " and \($0)" } ?? "")
              + (hfTokenizer.map { " and \($0)/ (" + HFTokenizerExport.fileNames.joined(separator: ", ") + ")" } ?? ""))
    }

    /// Counts (and the predicted column of a model-aware table) from --usage, or from counting --corpus with
    /// `vocabulary`.
    func counts(for vocabulary: Vocabulary, corpusFiles: [String]) throws -> (counts: [UInt64], predicted: [UInt64]?) {
        if let usage {
            let table = try TokenUsage.read(path: usage)
            return (try table.counts(for: vocabulary, path: usage), try table.predictedCounts(for: vocabulary, path: usage))
        }
        let counted = try corpusOptions.count(corpusFiles, tokenizer: Tokenizer(vocabulary: vocabulary), recordPieces: false)
        print("counted \(counted.files) files, " + (counted.documents == counted.files ? "" : "\(counted.documents) documents, ")
              + "\(counted.tokens) tokens")
        return (counted.counts, nil)
    }

    /// Selects by the rules, prints what each rule kept, and verifies the kept set.
    func select(with selector: TokenSelector, counts: [UInt64], predicted: [UInt64]? = nil) throws -> VerifiedSelection {
        let selection = try selector.select(counts: counts, predicted: predicted, rules: try selectionOptions.rules())
        for line in selection.report { print("\(line.rule): \(line.tokens)") }
        let verified = try selector.verify(selection)
        print("verified: every kept token that encoded to itself still does")
        return verified
    }
}

/// A directory an output goes into: created if missing, and removed again unless `keep` is called (a failed
/// run leaves nothing behind, not even an empty folder).
final class CreatedDirectory {
    let path: String
    private var created = false

    init(path: String) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw FileError.writeFailed(path: path, reason: "exists and is not a directory") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        } catch {
            throw FileError.writeFailed(path: path, reason: "cannot create the directory")
        }
        created = true
    }

    func keep() { created = false }

    deinit { if created { try? FileManager.default.removeItem(atPath: path) } }
}
