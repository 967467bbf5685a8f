import ArgumentParser
import Foundation
import VocabKitGGUF
import VocabKitModels

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a GGUF model: hyperparameters, tokenizer, tensors, and what the vocabulary costs.",
        discussion: """
        Reads only the header (metadata and tensor table) through a memory mapping, so it is instant even on \
        multi-gigabyte models. Vocabulary rows are token_embd.weight plus output.weight when the model is untied.
        """
    )

    @Argument(help: "The GGUF model, or a Hugging Face checkpoint directory, to inspect.")
    var model: String

    @Flag(help: "Print JSON with exact byte and parameter counts.")
    var json = false

    func run() throws {
        try runReportingErrors {
            if CheckpointReport.isDirectory(model) { return try CheckpointReport.inspect(model, json: json) }
            let file = try GGUFFile(path: model)
            let report = InspectReport(file: file, path: model)
            if json {
                try ReportText.printJSON(report)
            } else {
                print(report.text, terminator: "")
            }
        }
    }
}

/// The inspect output; its Codable form is the `--json` schema.
struct InspectReport: Encodable {
    struct Tensor: Encodable {
        let name: String
        let type: String
        let shape: [Int]
        let bytes: Int
        let parameters: Int
    }

    struct VocabularyTensor: Encodable {
        let name: String
        let type: String
        let rows: Int
        let rowBytes: Int
        let bytes: Int
        let parameters: Int
    }

    let path: String
    let ggufVersion: UInt32
    let fileBytes: Int
    let alignment: Int
    let metadataKeys: Int
    let architecture: String?
    let name: String?
    let embeddingLength: Int?
    let layers: Int?
    let heads: Int?
    let kvHeads: Int?
    let feedForwardLength: Int?
    let contextLength: Int?
    let ropeFrequencyBase: Double?
    /// What VocabKit's inference knows of the architecture (its descriptor's summary), nil when it does not run it.
    let inference: String?
    /// Keys given as per-layer arrays, by their short names (heads, kv_heads, feed_forward_length).
    let perLayer: [String: [Int]]
    let tokenizerModel: String?
    let vocabularySize: Int?
    let specialTokenIds: [String: Int]
    let chatTemplateBytes: Int?
    let tensorBytes: Int
    let parameters: Int
    let tiedEmbeddings: Bool
    let vocabularyTensors: [VocabularyTensor]
    let vocabularyBytes: Int
    let vocabularyParameters: Int
    let tensors: [Tensor]

    /// Key order of `special_token_ids` in the text output follows the file.
    private let specialTokenOrder: [String]

    init(file: GGUFFile, path: String) {
        let summary = GGUFModelSummary(file)
        self.path = path
        ggufVersion = file.version
        fileBytes = file.fileSize
        alignment = file.alignment
        metadataKeys = file.metadataKeys.count
        architecture = summary.architecture
        name = file.string("general.name")
        embeddingLength = summary.embeddingLength
        layers = summary.blockCount
        heads = summary.headCount
        kvHeads = summary.headCountKV
        feedForwardLength = summary.feedForwardLength
        contextLength = summary.contextLength
        ropeFrequencyBase = summary.ropeFrequencyBase
        let descriptor = summary.architecture.flatMap(Architecture.named)
        inference = descriptor?.summary
        var perLayer: [String: [Int]] = [:]
        if let descriptor {
            for (label, key) in [("heads", Hyperparameter.headCount), ("kv_heads", .headCountKV), ("feed_forward_length", .feedForwardLength)] {
                if let values = file.integerArray(descriptor.key(key)) { perLayer[label] = values }
            }
        }
        self.perLayer = perLayer
        tokenizerModel = file.string("tokenizer.ggml.model")
        vocabularySize = summary.vocabularySize
        specialTokenIds = Dictionary(summary.specialTokens.map { ($0.name, $0.id) }, uniquingKeysWith: { first, _ in first })
        specialTokenOrder = summary.specialTokens.map(\.name)
        chatTemplateBytes = summary.chatTemplateByteCount
        tensorBytes = summary.tensorByteCount
        parameters = summary.parameterCount
        tiedEmbeddings = summary.tiedEmbeddings
        vocabularyTensors = summary.vocabularyTensors.map {
            VocabularyTensor(name: $0.name, type: $0.type.name, rows: $0.rowCount, rowBytes: $0.rowByteCount,
                             bytes: $0.byteCount, parameters: $0.elementCount)
        }
        vocabularyBytes = summary.vocabularyByteCount
        vocabularyParameters = summary.vocabularyParameterCount
        tensors = file.tensors.map {
            Tensor(name: $0.name, type: $0.type.name, shape: $0.dimensions, bytes: $0.byteCount, parameters: $0.elementCount)
        }
    }

    private enum CodingKeys: String, CodingKey {
        case path, ggufVersion = "gguf_version", fileBytes = "file_bytes", alignment, metadataKeys = "metadata_keys"
        case architecture, name, embeddingLength = "embedding_length", layers, heads, kvHeads = "kv_heads"
        case feedForwardLength = "feed_forward_length", contextLength = "context_length"
        case ropeFrequencyBase = "rope_freq_base", inference, perLayer = "per_layer", tokenizerModel = "tokenizer_model", vocabularySize = "vocabulary_size"
        case specialTokenIds = "special_token_ids", chatTemplateBytes = "chat_template_bytes"
        case tensorBytes = "tensor_bytes", parameters, tiedEmbeddings = "tied_embeddings"
        case vocabularyTensors = "vocabulary_tensors", vocabularyBytes = "vocabulary_bytes"
        case vocabularyParameters = "vocabulary_parameters", tensors
    }

    var text: String {
        var out = "\(path): GGUF v\(ggufVersion), \(ReportText.grouped(fileBytes)) bytes, \(tensors.count) tensors, "
            + "\(metadataKeys) metadata keys, alignment \(alignment)\n"
        func line(_ label: String, _ value: String?) {
            out += label.padding(toLength: 16, withPad: " ", startingAt: 0) + (value ?? "unknown") + "\n"
        }
        line("architecture", architecture.map { arch in name.map { "\(arch) (\($0))" } ?? arch })
        line("embedding", embeddingLength.map(ReportText.grouped))
        line("layers", layers.map(ReportText.grouped))
        // Per-layer arrays are listed whole.
        func list(_ label: String) -> String? { perLayer[label].map { $0.map(ReportText.grouped).joined(separator: ", ") } }
        let keyValue: String? = list("kv_heads") ?? kvHeads.map { "\($0)" }
        let headsPerLayer = perLayer["heads"] != nil || perLayer["kv_heads"] != nil ? " (per layer)" : ""
        line("heads", heads.map { heads in (list("heads") ?? "\(heads)") + " query, "
             + (keyValue.map { "\($0) key/value" } ?? "key/value unknown") + headsPerLayer })
        line("feed-forward", list("feed_forward_length").map { $0 + " (per layer)" } ?? feedForwardLength.map(ReportText.grouped))
        line("context", contextLength.map(ReportText.grouped))
        line("inference", inference.map { "supported: \($0)" }
             ?? "not supported (VocabKit runs \(Architecture.all.map(\.name).joined(separator: ", ")))")
        line("rope base", ropeFrequencyBase.map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : String($0) })
        line("vocabulary", vocabularySize.map { "\(ReportText.grouped($0)) tokens" + (tokenizerModel.map { " (\($0) tokenizer)" } ?? "") })
        line("special tokens", specialTokenOrder.isEmpty ? "none"
             : specialTokenOrder.map { "\($0) \(specialTokenIds[$0] ?? -1)" }.joined(separator: ", "))
        line("chat template", chatTemplateBytes.map { "yes (\(ReportText.grouped($0)) bytes)" } ?? "no")
        line("parameters", ReportText.grouped(parameters))
        line("tensor data", "\(ReportText.grouped(tensorBytes)) bytes")

        out += "\ntensors:" + (tensors.isEmpty ? " none (a vocabulary-only file)\n" : "\n")
        let nameWidth = max(4, tensors.map(\.name.count).max() ?? 0)
        let shapeWidth = max(5, tensors.map { ReportText.shapeText($0.shape).count }.max() ?? 0)
        if !tensors.isEmpty {
            out += "  " + "name".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  type     "
                + "shape".padding(toLength: shapeWidth, withPad: " ", startingAt: 0) + "  bytes\n"
        }
        for tensor in tensors {
            out += "  " + tensor.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "  "
                + tensor.type.padding(toLength: 7, withPad: " ", startingAt: 0) + "  "
                + ReportText.shapeText(tensor.shape).padding(toLength: shapeWidth, withPad: " ", startingAt: 0) + "  "
                + ReportText.leftPadded(ReportText.grouped(tensor.bytes), 15) + "\n"
        }

        if vocabularyTensors.isEmpty {
            out += "\nvocabulary rows: no token_embd.weight in this file\n"
            return out
        }
        out += "\nvocabulary rows (" + (tiedEmbeddings ? "tied: output reuses token_embd" : "untied: token_embd and output") + "):\n"
        for tensor in vocabularyTensors {
            out += "  \(tensor.name) \(tensor.type), \(ReportText.grouped(tensor.rows)) rows × \(ReportText.grouped(tensor.rowBytes)) bytes = "
                + "\(ReportText.grouped(tensor.bytes)) bytes (\(ReportText.percent(tensor.bytes, fileBytes)) of the file), "
                + "\(ReportText.grouped(tensor.parameters)) parameters (\(ReportText.percent(tensor.parameters, parameters)))\n"
        }
        out += "  total: \(ReportText.grouped(vocabularyBytes)) bytes = \(ReportText.percent(vocabularyBytes, fileBytes)) of the file; "
            + "\(ReportText.grouped(vocabularyParameters)) parameters = \(ReportText.percent(vocabularyParameters, parameters)) of the parameters\n"
        return out
    }
}

// MARK: Formatting shared by inspect and savings

/// Number and table formatting for the GGUF reports (a namespace, to stay clear of other commands' helpers).
enum ReportText {
    static func printJSON<Value: Encodable>(_ value: Value) throws { try writeJSON(value) }

    /// 491400064 → "491,400,064", so byte counts stay exact but readable.
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return value < 0 ? "-" + out : out
    }

    static func percent(_ part: Int, _ whole: Int) -> String {
        whole == 0 ? "n/a" : String(format: "%.2f%%", Double(part) / Double(whole) * 100)
    }

    static func shapeText(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }

    static func leftPadded(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }

    static func rightPadded(_ text: String, _ width: Int) -> String {
        text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0)
    }
}
