import Foundation
import VocabKitGGUF
import VocabKitIO
import VocabKitModels
import VocabKitTokenizer
#if canImport(Glibc)
import Glibc
#endif

/// Rewrites a GGUF model with a smaller vocabulary: the tokenizer arrays, the token-id keys, and the rows of
/// `token_embd.weight` (and of an untied `output.weight`) are cut down to the kept ids; every other value and
/// tensor is copied byte for byte. Tensor data is streamed from the mapping and its pages are handed back as
/// they are written, so memory stays far below the model's size.
public final class ModelPruner {
    public let path: String
    public let file: GGUFFile
    public let vocabulary: Vocabulary

    /// Tensors whose rows are token ids.
    public static let rowTensorNames = ["token_embd.weight", "output.weight"]
    static let tokenArrayKeys = ["tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.scores"]
    static let provenancePrefix = "vocabkit.pruned."

    public init(modelPath: String) throws {
        path = modelPath
        do {
            file = try GGUFFile(path: modelPath)
        } catch let error as GGUFError {
            throw PruneError.unsupportedModel(path: modelPath, reason: "\(error)")
        }
        vocabulary = try Vocabulary.load(gguf: file, source: modelPath)
        guard let tokenCount = file.arrayInfo("tokenizer.ggml.tokens")?.count, tokenCount == vocabulary.idCount else {
            throw PruneError.unsupportedModel(path: modelPath, reason: "special token ids lie past tokenizer.ggml.tokens")
        }
        for name in Self.rowTensorNames {
            guard let tensor = file.tensor(named: name) else {
                // A vocabulary-only GGUF (no tensors at all, as llama.cpp's ggml-vocab-*.gguf) prunes to one too.
                if name == "token_embd.weight" && !file.tensors.isEmpty {
                    throw PruneError.unsupportedModel(path: modelPath, reason: "no token_embd.weight tensor")
                }
                continue
            }
            guard tensor.dimensions.count == 2, tensor.rowCount == tokenCount else {
                throw PruneError.unsupportedModel(path: modelPath, reason: "tensor '\(name)' has shape \(tensor.shapeDescription), expected [n_embd, \(tokenCount)]")
            }
        }
    }

    /// `tokenizer.ggml.*_token_id` keys and the ids they name.
    public var tokenIdKeys: [(key: String, id: Int)] {
        file.metadataForWriting.compactMap { entry in
            guard entry.key.hasPrefix("tokenizer.ggml."), entry.key.hasSuffix("_token_id"),
                  let id = file.integer(entry.key) else { return nil }
            return (entry.key, id)
        }
    }

    /// A selector that drops padding rows and keeps every id a `*_token_id` key names and, unless
    /// `keepChatTemplate` is false, the tokens of the model's chat templates.
    public func selector(keepChatTemplate: Bool = true) -> TokenSelector {
        let referenced = Set(tokenIdKeys.map(\.id).filter { $0 >= 0 && $0 < vocabulary.idCount })
        return TokenSelector(vocabulary: vocabulary,
                             paddingIds: TokenSelector.defaultPaddingIds(of: vocabulary).subtracting(referenced),
                             referencedIds: referenced,
                             chatTemplateIds: keepChatTemplate ? chatTemplateIds : [])
    }

    /// `tokenizer.chat_template` and named templates (`tokenizer.chat_template.NAME`).
    public var chatTemplates: [String] {
        file.metadataForWriting.compactMap { entry in
            guard entry.key == "tokenizer.chat_template" || entry.key.hasPrefix("tokenizer.chat_template.") else { return nil }
            return file.string(entry.key)
        }
    }

    /// The tokens of the chat templates' own text, as this model's tokenizer encodes it.
    public var chatTemplateIds: Set<Int> {
        TokenSelector.chatTemplateIds(templates: chatTemplates, vocabulary: vocabulary)
    }

    public struct Summary: Sendable {
        public let originalIdCount: Int
        public let keptIdCount: Int
        public let originalMergeCount: Int
        public let keptMergeCount: Int
        public let inputBytes: Int
        public let outputBytes: Int
    }

    /// Writes the pruned model to `outputPath` through `OutputFile` (a unique temporary beside it, renamed when
    /// complete; never the model itself or any of `inputs`). `selection` must come from this model's
    /// `selector()`. `progress` gets (bytes written, bytes to write).
    @discardableResult
    public func write(_ selection: VerifiedSelection, to outputPath: String, inputs: [String] = [],
                      progress: ((Int, Int) -> Void)? = nil) throws -> Summary {
        var summary: Summary?
        try OutputFile.write(to: outputPath, inputs: [path] + inputs) { output in
            summary = try write(selection, into: output, progress: progress)
        }
        return summary!
    }

    /// Writes the pruned model into `output` without committing it (see `OutputSet`).
    @discardableResult
    public func write(_ verified: VerifiedSelection, into output: OutputFile,
                      progress: ((Int, Int) -> Void)? = nil) throws -> Summary {
        try OutputSafety.check(outputs: [output.path], inputs: [path])
        let selection = verified.selection
        guard selection.originalIdCount == vocabulary.idCount else {
            throw PruneError.invalidSelection("the selection was made for \(selection.originalIdCount) ids, the model has \(vocabulary.idCount)")
        }
        let kept = selection.keptIds
        let newIdOf = selection.newIdOfOldId
        let keptSet = Set(kept)

        var metadata: [(key: String, value: GGUFOutputValue)] = []
        var keptMergeCount = 0
        let originalMerges = file.stringArray("tokenizer.ggml.merges") ?? []
        var previousOriginalSize: GGUFOutputValue?
        for entry in file.metadataForWriting {
            let key = entry.key
            if key.hasPrefix(Self.provenancePrefix) {
                if key == Self.provenancePrefix + "original_vocab_size" { previousOriginalSize = entry.value }
                continue
            }
            switch key {
            case "tokenizer.ggml.tokens":
                let spellings = file.stringArray(key) ?? []
                metadata.append((key, .strings(kept.map { spellings[$0] })))
            case "tokenizer.ggml.token_type", "tokenizer.ggml.scores":
                guard let (elementType, count) = file.arrayInfo(key), count == vocabulary.idCount else {
                    throw PruneError.unsupportedModel(path: path, reason: "\(key) does not have one entry per token")
                }
                if elementType == .float32 || elementType == .float64, let scores = file.floatArray(key) {
                    metadata.append((key, .floats(kept.map { scores[$0] })))
                } else if let values = file.integerArray(key) {
                    metadata.append((key, .integers(kept.map { values[$0] }, type: elementType)))
                } else {
                    throw PruneError.unsupportedModel(path: path, reason: "\(key) holds \(elementType.name) values")
                }
            case "tokenizer.ggml.merges":
                // The vocabulary parsed these strings one merge each, in order, so index k is merge k.
                guard originalMerges.count == vocabulary.merges.count else {
                    throw PruneError.unsupportedModel(path: path, reason: "tokenizer.ggml.merges does not match the parsed merges")
                }
                var keptMerges: [String] = []
                for (index, merge) in vocabulary.merges.enumerated()
                where keptSet.contains(Int(merge.left)) && keptSet.contains(Int(merge.right)) && keptSet.contains(Int(merge.result)) {
                    keptMerges.append(originalMerges[index])
                }
                keptMergeCount = keptMerges.count
                metadata.append((key, .strings(keptMerges)))
            default:
                if key.hasPrefix("tokenizer.ggml."), key.hasSuffix("_token_id"), let oldId = file.integer(key),
                   oldId >= 0, oldId < newIdOf.count, let type = file.valueType(key) {
                    // Ids outside the vocabulary (e.g. -1 for "none") fall through and are copied unchanged.
                    guard newIdOf[oldId] >= 0 else {
                        throw PruneError.unsupportedModel(path: path, reason: "\(key) names id \(oldId), which is not kept")
                    }
                    metadata.append((key, .integers([newIdOf[oldId]], type: type).single))
                } else if key.hasSuffix(".vocab_size"), let type = file.valueType(key), file.integer(key) != nil {
                    metadata.append((key, .integers([kept.count], type: type).single))
                } else {
                    metadata.append(entry)
                }
            }
        }
        let fileName = (path as NSString).lastPathComponent
        metadata.append((Self.provenancePrefix + "original_vocab_size", previousOriginalSize ?? .value(.uint32(UInt32(vocabulary.idCount)))))
        metadata.append((Self.provenancePrefix + "source_vocab_size", .value(.uint32(UInt32(vocabulary.idCount)))))
        metadata.append((Self.provenancePrefix + "source_file", .value(.string(fileName))))
        metadata.append((Self.provenancePrefix + "source_bytes", .value(.uint64(UInt64(file.fileSize)))))
        metadata.append((Self.provenancePrefix + "kept", .value(.uint32(UInt32(kept.count)))))
        metadata.append((Self.provenancePrefix + "rules", .value(.string(selection.report.map { "\($0.rule): \($0.tokens)" }.joined(separator: "; ")))))

        var tensors: [GGUFOutputTensor] = []
        var totalBytes = 0
        let written = ProgressCounter(progress: progress)
        for tensor in file.tensors {
            if Self.rowTensorNames.contains(tensor.name) {
                tensors.append(selectingRows(kept, of: tensor, progress: written))
                totalBytes += kept.count * tensor.rowByteCount
            } else {
                tensors.append(copying(tensor, progress: written))
                totalBytes += tensor.byteCount
            }
        }
        written.total = totalBytes
        try GGUFWriter.write(into: output, version: file.version, metadata: metadata, tensors: tensors)
        return Summary(originalIdCount: vocabulary.idCount, keptIdCount: kept.count,
                       originalMergeCount: vocabulary.merges.count, keptMergeCount: keptMergeCount,
                       inputBytes: file.fileSize, outputBytes: output.position)
    }

    /// Bytes copied per write; pages behind them are released right after.
    static let streamChunk = 8 << 20

    /// A tensor copied unchanged, placed at the next free offset (earlier tensors may have shrunk).
    func copying(_ tensor: GGUFTensorInfo, progress: ProgressCounter) -> GGUFOutputTensor {
        let file = self.file
        return GGUFOutputTensor(name: tensor.name, dimensions: tensor.dimensions, type: tensor.type) { sink in
            try file.withTensorBytes(tensor) { bytes in
                var start = 0
                while start < bytes.count {
                    let end = min(bytes.count, start + Self.streamChunk)
                    let chunk = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                    try sink.write(chunk)
                    if let base = chunk.baseAddress { releaseMappedPages(base, chunk.count) }
                    progress.add(chunk.count)
                    start = end
                }
            }
        }
    }

    /// Only the kept rows, each a whole number of quantization blocks copied as is; runs of consecutive
    /// rows go out as one write.
    func selectingRows(_ rows: [Int], of tensor: GGUFTensorInfo, progress: ProgressCounter) -> GGUFOutputTensor {
        let file = self.file
        return GGUFOutputTensor(name: tensor.name, dimensions: [tensor.rowElements, rows.count], type: tensor.type) { sink in
            try file.withTensorBytes(tensor) { bytes in
                let rowBytes = tensor.rowByteCount
                var index = 0
                var releasedUpTo = 0
                while index < rows.count {
                    var runEnd = index + 1
                    while runEnd < rows.count && rows[runEnd] == rows[runEnd - 1] + 1
                        && (runEnd - index) * rowBytes < Self.streamChunk { runEnd += 1 }
                    let first = rows[index], count = runEnd - index
                    guard first >= 0, first + count <= tensor.rowCount else {
                        throw PruneError.invalidSelection("row \(first + count - 1) of tensor '\(tensor.name)' does not exist")
                    }
                    try sink.write(UnsafeRawBufferPointer(rebasing: bytes[first * rowBytes..<(first + count) * rowBytes]))
                    progress.add(count * rowBytes)
                    // Rows are ascending, so everything before this run's end has been read for good.
                    let readEnd = (first + count) * rowBytes
                    if readEnd - releasedUpTo >= Self.streamChunk, let base = bytes.baseAddress {
                        releaseMappedPages(base + releasedUpTo, readEnd - releasedUpTo)
                        releasedUpTo = readEnd
                    }
                    index = runEnd
                }
                if let base = bytes.baseAddress, bytes.count > releasedUpTo {
                    releaseMappedPages(base + releasedUpTo, bytes.count - releasedUpTo)
                }
            }
        }
    }
}

extension GGUFOutputValue {
    /// A one-element `.integers` turned into a scalar of the same type.
    var single: GGUFOutputValue {
        guard case let .integers(values, type) = self, let value = values.first else { return self }
        switch type {
        case .uint8: return .value(.uint8(UInt8(truncatingIfNeeded: value)))
        case .int8: return .value(.int8(Int8(truncatingIfNeeded: value)))
        case .uint16: return .value(.uint16(UInt16(truncatingIfNeeded: value)))
        case .int16: return .value(.int16(Int16(truncatingIfNeeded: value)))
        case .uint32: return .value(.uint32(UInt32(truncatingIfNeeded: value)))
        case .int32: return .value(.int32(Int32(truncatingIfNeeded: value)))
        case .uint64: return .value(.uint64(UInt64(truncatingIfNeeded: value)))
        default: return .value(.int64(Int64(value)))
        }
    }
}

/// Bytes written so far, reported to an optional callback at most every 16 MiB.
final class ProgressCounter {
    private let progress: ((Int, Int) -> Void)?
    var total = 0
    private var done = 0
    private var lastReported = 0

    init(progress: ((Int, Int) -> Void)?) { self.progress = progress }

    func add(_ bytes: Int) {
        done += bytes
        if done - lastReported >= 16 << 20 || done == total {
            lastReported = done
            progress?(done, total)
        }
    }
}
