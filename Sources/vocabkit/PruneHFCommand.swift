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
    func pruneCheckpoint(started: DispatchTime, corpusFiles: [String], inputs: [String]) throws {
        if let output { try HFCheckpointPruner.refuseOwnDirectory(output, checkpoint: model) }
        let pruner = try HFCheckpointPruner(directory: model)
        let checkpoint = pruner.checkpoint
        let selector = try pruner.selector(keepChatTemplate: !noChatTemplate)
        let columns = try counts(for: pruner.vocabulary, corpusFiles: corpusFiles)
        let verified = try select(with: selector, counts: columns.counts, predicted: columns.predicted)
        guard let output, !dryRun else { return }
        let summary = try pruner.write(verified, to: output, padTo: padTo ?? 1, remapPath: remap, selector: selector)
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
}
