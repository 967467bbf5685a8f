import ArgumentParser
import Dispatch
import Foundation
import VocabKitHuggingFace
import VocabKitIO
import VocabKitPrune
import VocabKitTokenizer

/// The Hugging Face side of `vocabkit prune`: a checkpoint directory as MODEL, and `--hf-tokenizer` for GGUF.
extension PruneCommand {
    var isCheckpointDirectory: Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    func validateHuggingFaceOptions() throws {
        if let padTo, padTo < 1 || padTo > 1 << 20 { throw ValidationError("--pad-to must be between 1 and 1048576") }
        if isCheckpointDirectory {
            if hfTokenizer != nil { throw ValidationError("--hf-tokenizer is for a GGUF model; a checkpoint's own tokenizer files are rewritten in -o") }
        } else if padTo != nil {
            throw ValidationError("--pad-to applies to a Hugging Face checkpoint directory")
        }
    }

    /// Prunes a checkpoint directory into the directory `-o` names.
    func pruneCheckpoint(started: DispatchTime) throws {
        if let output { try HFCheckpointPruner.refuseOwnDirectory(output, checkpoint: model) }
        let pruner = try HFCheckpointPruner(directory: model)
        let checkpoint = pruner.checkpoint
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
        let selector = try pruner.selector()
        let selection = try selector.select(counts: counts, rules: rules)
        for line in selection.report { print("\(line.rule): \(line.tokens)") }
        _ = try selector.verify(selection)
        print("verified: every kept token that encoded to itself still does")
        guard let output, !dryRun else { return }
        let summary = try pruner.write(selection, to: output, padTo: padTo ?? 1, remapPath: remap, selector: selector)
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        let padded = summary.outputRows > summary.keptIds ? " + \(summary.outputRows - summary.keptIds) padding rows" : ""
        print("vocabulary \(summary.originalRows) -> \(summary.outputRows) rows (tokenizer \(summary.originalTokenIds) -> \(summary.keptIds) ids\(padded)), "
              + "merges \(summary.originalMerges) -> \(summary.keptMerges), \(checkpoint.tied ? "tied" : "untied") embeddings")
        print("parameters \(summary.parametersBefore) -> \(summary.parametersAfter) ("
              + String(format: "%.1f", Double(summary.parametersBefore - summary.parametersAfter) * 100 / Double(max(summary.parametersBefore, 1)))
              + "% fewer)")
        print("weights \(summary.weightBytesBefore) -> \(summary.weightBytesAfter) bytes in \(checkpoint.weights.shardNames.count) file"
              + (checkpoint.weights.shardNames.count == 1 ? "" : "s") + ", " + String(format: "%.2f", elapsed) + " s")
        print("wrote \(output)/ (\(summary.files.count - (remap == nil ? 0 : 1)) files)" + (remap.map { " and \($0)" } ?? ""))
    }

    /// With --hf-tokenizer: the pruned GGUF's tokenizer files, written to temporaries and published only after
    /// the pruned model is (`commitHFTokenizer`); nil without the option or in a dry run.
    func stageHFTokenizer(pruner: ModelPruner, selection: TokenSelection) throws -> StagedHFTokenizer? {
        guard let hfTokenizer, !dryRun else { return nil }
        let export = try HFTokenizerExport(gguf: pruner.file, source: model, keeping: selection)
        var isDirectory: ObjCBool = false
        var created = false
        if !FileManager.default.fileExists(atPath: hfTokenizer, isDirectory: &isDirectory) {
            do {
                try FileManager.default.createDirectory(atPath: hfTokenizer, withIntermediateDirectories: false)
            } catch {
                throw FileError.writeFailed(path: hfTokenizer, reason: "cannot create the directory")
            }
            created = true
        } else if !isDirectory.boolValue {
            throw FileError.writeFailed(path: hfTokenizer, reason: "exists and is not a directory")
        }
        let staged = StagedHFTokenizer(directory: hfTokenizer, created: created)
        let inputs = [model] + [usage, keepList, dropList].compactMap { $0 }
        let outputs = HFTokenizerExport.paths(in: hfTokenizer) + [output, remap].compactMap { $0 }
        staged.set = try OutputSet(outputs: outputs, inputs: inputs)
        try export.stage(into: hfTokenizer, set: staged.set!)
        return staged
    }

    func commitHFTokenizer(_ staged: StagedHFTokenizer?) throws {
        guard let staged else { return }
        try staged.commit()
        print("wrote \(staged.directory)/ (" + HFTokenizerExport.fileNames.joined(separator: ", ") + ")")
    }
}

/// The --hf-tokenizer files between staging and publication: if the run fails before `commit`, they are
/// removed, and so is the directory when this run created it.
final class StagedHFTokenizer {
    let directory: String
    let created: Bool
    var set: OutputSet?
    private var committed = false

    init(directory: String, created: Bool) {
        self.directory = directory
        self.created = created
    }

    func commit() throws {
        try set?.commit()
        committed = true
    }

    deinit {
        guard !committed else { return }
        set?.abandon()
        if created { try? FileManager.default.removeItem(atPath: directory) }
    }
}
