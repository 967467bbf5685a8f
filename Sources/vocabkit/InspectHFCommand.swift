import Foundation
import VocabKitHuggingFace

/// `inspect` and `savings` on a Hugging Face checkpoint directory.
enum CheckpointReport {
    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    static func inspect(_ path: String, json: Bool) throws {
        let summary = HFCheckpointSummary(try HFCheckpoint(directory: path))
        if json { return try ReportText.printJSON(summary) }
        var out = "\(path): Hugging Face checkpoint, \(summary.weightFiles.count) safetensors file"
            + (summary.weightFiles.count == 1 ? "" : "s") + ", \(ReportText.grouped(summary.fileBytes)) bytes, \(summary.tensors) tensors\n"
        func line(_ label: String, _ value: String?) {
            out += label.padding(toLength: 16, withPad: " ", startingAt: 0) + (value ?? "unknown") + "\n"
        }
        line("architecture", summary.modelType)
        line("hidden size", ReportText.grouped(summary.hiddenSize))
        line("layers", summary.layers.map(ReportText.grouped))
        line("heads", summary.heads.map { "\($0) query, " + (summary.kvHeads.map { "\($0) key/value" } ?? "key/value unknown") })
        line("feed-forward", summary.intermediateSize.map(ReportText.grouped))
        line("vocabulary", "\(ReportText.grouped(summary.vocabSize)) rows, \(ReportText.grouped(summary.tokenizerIds)) tokenizer ids, "
             + "\(ReportText.grouped(summary.merges)) merges (\(summary.mergesForm))")
        line("chat template", summary.chatTemplateBytes.map { "yes (\(ReportText.grouped($0)) bytes)" } ?? "no")
        line("parameters", ReportText.grouped(summary.parameters))
        line("tensor data", "\(ReportText.grouped(summary.tensorBytes)) bytes")
        if let original = summary.prunedFromVocabSize { line("pruned", "by vocabkit, from \(ReportText.grouped(original)) rows") }
        out += "\nvocabulary rows (" + (summary.tiedEmbeddings ? "tied: the head reuses the embedding" : "untied: embedding and head") + "):\n"
        for tensor in summary.vocabularyTensors {
            out += "  \(tensor.name) \(tensor.dtype), \(ReportText.grouped(tensor.rows)) rows × \(ReportText.grouped(tensor.rowBytes)) bytes = "
                + "\(ReportText.grouped(tensor.bytes)) bytes (\(ReportText.percent(tensor.bytes, summary.tensorBytes)) of the tensor data), "
                + "\(ReportText.grouped(tensor.parameters)) parameters (\(ReportText.percent(tensor.parameters, summary.parameters)))\n"
        }
        out += "  total: \(ReportText.grouped(summary.vocabularyBytes)) bytes = \(ReportText.percent(summary.vocabularyBytes, summary.tensorBytes)) of the tensor data; "
            + "\(ReportText.grouped(summary.vocabularyParameters)) parameters = \(ReportText.percent(summary.vocabularyParameters, summary.parameters)) of the parameters\n"
        print(out, terminator: "")
    }

    private struct SavingsJSON: Encodable {
        let directory: String
        let kept_rows: Int
        let rows_before: Int
        let bytes_saved: Int
        let parameters_saved: Int
        let parameters_before: Int
        let parameters_after: Int
        let file_bytes_before: Int
        let file_bytes_after: Int
    }

    static func savings(_ path: String, json: Bool, keptRows: (Int) throws -> Int) throws {
        let summary = HFCheckpointSummary(try HFCheckpoint(directory: path))
        let kept = try keptRows(summary.vocabSize)
        let (bytes, parameters) = summary.savings(keepingRows: kept)
        if json {
            return try ReportText.printJSON(SavingsJSON(directory: path, kept_rows: kept, rows_before: summary.vocabSize, bytes_saved: bytes,
                                                        parameters_saved: parameters, parameters_before: summary.parameters,
                                                        parameters_after: summary.parameters - parameters, file_bytes_before: summary.fileBytes,
                                                        file_bytes_after: summary.fileBytes - bytes))
        }
        var out = "\(path): keeping \(ReportText.grouped(kept)) of \(ReportText.grouped(summary.vocabSize)) vocabulary rows\n"
        if summary.tiedEmbeddings { out += "tied embeddings: the head reuses the embedding, so only one tensor shrinks\n" }
        for tensor in summary.vocabularyTensors {
            let removed = tensor.rows - min(kept, tensor.rows)
            out += "  \(tensor.name) \(tensor.dtype): \(ReportText.grouped(removed * tensor.rowBytes)) bytes, "
                + "\(ReportText.grouped(removed * summary.hiddenSize)) parameters saved\n"
        }
        out += "total saved     \(ReportText.grouped(bytes)) bytes (\(ReportText.percent(bytes, summary.fileBytes)) of the weight files), "
            + "\(ReportText.grouped(parameters)) parameters (\(ReportText.percent(parameters, summary.parameters)) of \(ReportText.grouped(summary.parameters)))\n"
        out += "weight files    \(ReportText.grouped(summary.fileBytes)) → \(ReportText.grouped(summary.fileBytes - bytes)) bytes\n"
        print(out, terminator: "")
    }
}
