import ArgumentParser
import Foundation
import VocabKitGGUF
import VocabKitIO
import VocabKitModels

struct SavingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "savings",
        abstract: "How many bytes and parameters pruning the vocabulary to N tokens saves.",
        discussion: """
        With a model: exact savings per vocabulary tensor (token_embd.weight, and output.weight when untied), \
        computed from the header alone. With --family and no model: projections from published shapes at BF16, \
        Q8_0 and Q4_K_M (llama.cpp's type mix) for qwen3 (Qwen3-0.6B, 1.7B, 4B, 8B; 151,936 rows) or llama3 \
        (Llama-3.2-1B, 3B; 128,256 rows). Sizes count tensor data; the token strings and merges in the header \
        shrink too and are not included.
        """
    )

    @Argument(help: "The GGUF model or Hugging Face checkpoint directory (omit with --family).")
    var model: String?

    @Option(parsing: .unconditional, help: "Number of vocabulary rows kept.")
    var keep: Int?

    @Option(name: .customLong("keep-list"), help: "A file with the kept token ids (whitespace, comma or line separated; # comments).")
    var keepList: String?

    @Option(help: "Project savings for a model family without a file: qwen3 or llama3.")
    var family: String?

    @Flag(help: "Print JSON with exact byte and parameter counts.")
    var json = false

    func validate() throws {
        guard (keep == nil) != (keepList == nil) else {
            throw ValidationError("give exactly one of --keep N and --keep-list FILE")
        }
        guard (model == nil) != (family == nil) else {
            throw ValidationError("give either a MODEL.gguf or --family NAME, not both or neither")
        }
        if let family, ModelFamily.named(family) == nil {
            throw ValidationError("unknown family '\(family)'; supported: \(ModelFamily.all.map(\.name).joined(separator: ", "))")
        }
        if let keep, keep < 1 {
            throw ValidationError("--keep must be at least 1, got \(keep)")
        }
    }

    func run() throws {
        try runReportingErrors {
            if let model, CheckpointReport.isDirectory(model) {
                return try CheckpointReport.savings(model, json: json, keptRows: keptRowCount)
            }
            if let model {
                let file = try GGUFFile(path: model)
                guard let embedding = file.tensor(named: GGUFModelSummary.tokenEmbeddingName) else {
                    throw ReportInputError("\(model) has no token_embd.weight tensor, so there are no vocabulary rows to prune")
                }
                let kept = try keptRowCount(vocabularyRows: embedding.rowCount)
                let savings = try VocabularySavings(file: file, keptRows: kept)
                if json {
                    try ReportText.printJSON(FileSavingsJSON(path: model, keptRows: kept, savings: savings))
                } else {
                    print(fileText(path: model, kept: kept, savings: savings), terminator: "")
                }
            } else if let family = family.flatMap(ModelFamily.named) {
                let rows = family.members.map(\.vocabularyRows).min() ?? 0
                let kept = try keptRowCount(vocabularyRows: rows)
                let projections = family.members.flatMap { shape in
                    ProjectedQuantization.allCases.map { (shape, $0, shape.savings($0, keptRows: kept)) }
                }
                if json {
                    try ReportText.printJSON(FamilySavingsJSON(family: family, keptRows: kept, projections: projections))
                } else {
                    print(familyText(family: family, kept: kept, rows: rows, projections: projections), terminator: "")
                }
            }
        }
    }

    /// `--keep N`, or the number of distinct ids in `--keep-list`, checked against the vocabulary.
    func keptRowCount(vocabularyRows: Int) throws -> Int {
        if let keep {
            guard keep <= vocabularyRows else {
                throw ReportInputError("--keep \(keep) is more than the \(vocabularyRows) vocabulary rows")
            }
            return keep
        }
        guard let keepList else { throw ReportInputError("give --keep N or --keep-list FILE") }
        let ids = Set(try IdListReader.read(path: keepList, maximum: vocabularyRows - 1))
        guard !ids.isEmpty else { throw ReportInputError("\(keepList) lists no token ids") }
        return ids.count
    }

    private func fileText(path: String, kept: Int, savings: VocabularySavings) -> String {
        let rowsBefore = savings.tensors.first?.rowsBefore ?? 0
        var out = "\(path): keeping \(ReportText.grouped(kept)) of \(ReportText.grouped(rowsBefore)) vocabulary rows\n"
        if savings.tensors.count == 1 { out += "tied embeddings: output reuses token_embd, so only one tensor shrinks\n" }
        out += tensorTable(savings)
        out += "total saved     \(ReportText.grouped(savings.bytesSaved)) bytes "
            + "(\(ReportText.percent(savings.fileSizeBefore - savings.fileSizeAfter, savings.fileSizeBefore)) of the file), "
            + "\(ReportText.grouped(savings.parametersSaved)) parameters "
            + "(\(ReportText.percent(savings.parametersSaved, savings.parametersBefore)) of \(ReportText.grouped(savings.parametersBefore)))\n"
        out += "file size       \(ReportText.grouped(savings.fileSizeBefore)) → \(ReportText.grouped(savings.fileSizeAfter)) bytes "
            + "(tensor data re-aligned; the token strings and merges in the header shrink further)\n"
        return out
    }

    private func tensorTable(_ savings: VocabularySavings, indent: String = "") -> String {
        var out = indent + ReportText.rightPadded("tensor", 18) + ReportText.rightPadded("type", 6)
            + ReportText.leftPadded("row bytes", 10) + ReportText.leftPadded("rows after", 12)
            + ReportText.leftPadded("bytes saved", 16) + ReportText.leftPadded("params saved", 16) + "\n"
        for tensor in savings.tensors {
            out += indent + ReportText.rightPadded(tensor.name, 18) + ReportText.rightPadded(tensor.type.name, 6)
                + ReportText.leftPadded(ReportText.grouped(tensor.rowByteCount), 10)
                + ReportText.leftPadded(ReportText.grouped(tensor.rowsAfter), 12)
                + ReportText.leftPadded(ReportText.grouped(tensor.bytesSaved), 16)
                + ReportText.leftPadded(ReportText.grouped(tensor.parametersSaved), 16) + "\n"
        }
        return out
    }

    private func familyText(family: ModelFamily, kept: Int, rows: Int,
                            projections: [(ModelShape, ProjectedQuantization, VocabularySavings)]) -> String {
        var out = "\(family.displayName) family: keeping \(ReportText.grouped(kept)) of \(ReportText.grouped(rows)) vocabulary rows "
            + "(published shapes, hidden × \(ReportText.grouped(rows)) embeddings)\n"
        out += "Q4_K_M is taken as llama.cpp's mix: output Q6_K (and so a tied token_embd), untied token_embd Q4_K, "
            + "attn_v/ffn_down Q6_K on the layers it favours, other matrices Q4_K, norms F32.\n"
        out += "Model sizes are estimated tensor data.\n\n"
        let nameWidth = max(12, (family.members.map(\.name.count).max() ?? 0) + 2)
        out += ReportText.rightPadded("model", nameWidth) + ReportText.rightPadded("format", 8)
            + ReportText.leftPadded("parameters", 15) + ReportText.leftPadded("params saved", 15) + ReportText.leftPadded("share", 8)
            + ReportText.leftPadded("model bytes", 16) + ReportText.leftPadded("bytes saved", 15) + ReportText.leftPadded("share", 8)
            + "  vocabulary tensors\n"
        for (shape, quantization, savings) in projections {
            let tensors = savings.tensors.map { "\($0.name.replacingOccurrences(of: ".weight", with: "")) \($0.type.name)" }
            out += ReportText.rightPadded(shape.name, nameWidth) + ReportText.rightPadded(quantization.rawValue, 8)
                + ReportText.leftPadded(ReportText.grouped(savings.parametersBefore), 15)
                + ReportText.leftPadded(ReportText.grouped(savings.parametersSaved), 15)
                + ReportText.leftPadded(ReportText.percent(savings.parametersSaved, savings.parametersBefore), 8)
                + ReportText.leftPadded(ReportText.grouped(savings.fileSizeBefore), 16)
                + ReportText.leftPadded(ReportText.grouped(savings.bytesSaved), 15)
                + ReportText.leftPadded(ReportText.percent(savings.bytesSaved, savings.fileSizeBefore), 8)
                + "  " + tensors.joined(separator: ", ") + (shape.tiedEmbeddings ? " (tied)" : "") + "\n"
        }
        return out
    }
}

// MARK: JSON schemas

private struct TensorSavingsJSON: Encodable {
    let name: String
    let type: String
    let row_bytes: Int
    let rows_before: Int
    let rows_after: Int
    let bytes_before: Int
    let bytes_after: Int
    let bytes_saved: Int
    let parameters_saved: Int

    init(_ tensor: VocabularyTensorSavings) {
        name = tensor.name
        type = tensor.type.name
        row_bytes = tensor.rowByteCount
        rows_before = tensor.rowsBefore
        rows_after = tensor.rowsAfter
        bytes_before = tensor.bytesBefore
        bytes_after = tensor.bytesAfter
        bytes_saved = tensor.bytesSaved
        parameters_saved = tensor.parametersSaved
    }
}

private struct FileSavingsJSON: Encodable {
    let path: String
    let kept_rows: Int
    let tensors: [TensorSavingsJSON]
    let bytes_saved: Int
    let parameters_saved: Int
    let parameters_before: Int
    let parameters_after: Int
    let file_bytes_before: Int
    /// Tensor data re-laid out; header metadata changes are not included.
    let file_bytes_after: Int
    let file_share_saved: Double
    let parameter_share_saved: Double

    init(path: String, keptRows: Int, savings: VocabularySavings) {
        self.path = path
        kept_rows = keptRows
        tensors = savings.tensors.map(TensorSavingsJSON.init)
        bytes_saved = savings.bytesSaved
        parameters_saved = savings.parametersSaved
        parameters_before = savings.parametersBefore
        parameters_after = savings.parametersAfter
        file_bytes_before = savings.fileSizeBefore
        file_bytes_after = savings.fileSizeAfter
        file_share_saved = savings.fileShareSaved
        parameter_share_saved = savings.parameterShareSaved
    }
}

private struct FamilySavingsJSON: Encodable {
    struct Projection: Encodable {
        let model: String
        let format: String
        let tied_embeddings: Bool
        let parameters: Int
        let parameters_saved: Int
        let parameter_share_saved: Double
        /// Estimated tensor data of the whole model in this format.
        let model_bytes: Int
        let bytes_saved: Int
        let byte_share_saved: Double
        let tensors: [TensorSavingsJSON]
    }

    let family: String
    let kept_rows: Int
    let note = "Q4_K_M: output (and a tied token_embd) as Q6_K, an untied token_embd as Q4_K, attn_v/ffn_down Q6_K on llama.cpp's favoured layers; model_bytes is estimated tensor data"
    let projections: [Projection]

    init(family: ModelFamily, keptRows: Int, projections: [(ModelShape, ProjectedQuantization, VocabularySavings)]) {
        self.family = family.name
        kept_rows = keptRows
        self.projections = projections.map { shape, quantization, savings in
            Projection(model: shape.name, format: quantization.rawValue, tied_embeddings: shape.tiedEmbeddings,
                       parameters: savings.parametersBefore, parameters_saved: savings.parametersSaved,
                       parameter_share_saved: savings.parameterShareSaved, model_bytes: savings.fileSizeBefore,
                       bytes_saved: savings.bytesSaved, byte_share_saved: savings.fileShareSaved,
                       tensors: savings.tensors.map(TensorSavingsJSON.init))
        }
    }
}
