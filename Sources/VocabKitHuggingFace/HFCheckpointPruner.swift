import Foundation
import VocabKitIO
import VocabKitPrune
import VocabKitSafetensors
import VocabKitTokenizer
#if canImport(Glibc)
import Glibc
#endif

/// Writes a Hugging Face checkpoint with a smaller vocabulary into a new directory: the embedding (and the
/// untied head) keep the kept rows byte for byte, every other tensor is copied unchanged with the same
/// sharding, `vocab_size` and every token id in config.json and generation_config.json are remapped, the
/// tokenizer files are rewritten for the new ids, other files are copied, and `vocabkit_prune.json` records
/// what was done. All files are published together through one `OutputSet`: all or nothing.
public final class HFCheckpointPruner {
    public static let provenanceName = "vocabkit_prune.json"
    /// Files that are weights VocabKit cannot rewrite: copying them would leave a checkpoint whose parts disagree.
    static let foreignWeightExtensions = [".safetensors", ".gguf", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx"]

    public let checkpoint: HFCheckpoint

    public init(directory: String) throws {
        checkpoint = try HFCheckpoint(directory: directory)
    }

    public var vocabulary: Vocabulary { checkpoint.vocabulary }

    /// A selector that drops padding ids and keeps every id the configs and the tokenizer name and, unless
    /// `keepChatTemplate` is false, the tokens of the checkpoint's chat templates.
    public func selector(keepChatTemplate: Bool = true) throws -> TokenSelector {
        var referenced = Set<Int>()
        for (key, id) in try checkpoint.referencedIds() {
            guard id < vocabulary.idCount else {
                throw HFError.inconsistent(directory: checkpoint.directory, reason: "\(key) names id \(id), which no token of tokenizer.json has")
            }
            referenced.insert(id)
        }
        let templateIds = keepChatTemplate ? TokenSelector.chatTemplateIds(templates: try checkpoint.chatTemplates(), vocabulary: vocabulary) : []
        return TokenSelector(vocabulary: vocabulary,
                             paddingIds: TokenSelector.defaultPaddingIds(of: vocabulary).subtracting(referenced),
                             referencedIds: referenced,
                             chatTemplateIds: templateIds)
    }

    public struct Summary: Sendable {
        public let originalRows: Int
        public let originalTokenIds: Int
        public let keptIds: Int
        /// Rows written: the kept ids, rounded up by `padTo`.
        public let outputRows: Int
        public let originalMerges: Int
        public let keptMerges: Int
        public let parametersBefore: Int
        public let parametersAfter: Int
        /// Bytes of the weight files.
        public let weightBytesBefore: Int
        public let weightBytesAfter: Int
        /// Every file written, relative to the output directory (and the remap path when given).
        public let files: [String]
    }

    /// Writes the pruned checkpoint to `outputDirectory` (created if missing). `verified` must come from this
    /// checkpoint's `selector()`. `padTo` rounds the row count up with rows no token
    /// reaches (the original's own unreachable rows first, then zero rows). `remapPath` adds the
    /// old_id<TAB>new_id table to the same all-or-nothing publication.
    @discardableResult
    public func write(_ verified: VerifiedSelection, to outputDirectory: String, padTo: Int = 1, remapPath: String? = nil,
                      selector: TokenSelector? = nil) throws -> Summary {
        let selection = verified.selection
        guard selection.originalIdCount == vocabulary.idCount else {
            throw HFError.badOutput(path: outputDirectory, reason: "the selection was made for \(selection.originalIdCount) ids, the tokenizer has \(vocabulary.idCount)")
        }
        guard padTo >= 1, padTo <= 1 << 20 else { throw HFError.badOutput(path: outputDirectory, reason: "the padding multiple must be between 1 and 1048576") }
        let source = checkpoint.directory
        let kept = selection.keptIds
        let newIdOf = selection.newIdOfOldId
        let (rounded, overflow) = kept.count.addingReportingOverflow(padTo - 1)
        guard !overflow else { throw HFError.badOutput(path: outputDirectory, reason: "padding to a multiple of \(padTo) is too large") }
        let outputRows = rounded / padTo * padTo
        let padRows = try paddingRowSources(count: outputRows - kept.count, selector: selector ?? self.selector())

        // Decide every output before writing any.
        let inputNames = try FileManager.default.contentsOfDirectory(atPath: source).sorted()
        let rewritten: Set<String> = [HFCheckpoint.configName, HFCheckpoint.generationConfigName, HFCheckpoint.tokenizerName,
                                      HFCheckpoint.tokenizerConfigName, HFCheckpoint.addedTokensName, HFCheckpoint.vocabName,
                                      HFCheckpoint.mergesName, Self.provenanceName]
        let weightNames = Set(checkpoint.weights.shardNames + (checkpoint.weights.index != nil ? [SafetensorsIndex.fileName] : []))
        var copied: [String] = []
        for name in inputNames where !rewritten.contains(name) && !weightNames.contains(name) {
            var status = stat()
            guard stat(source + "/" + name, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { continue }  // folders stay behind
            let lower = name.lowercased()
            if Self.foreignWeightExtensions.contains(where: { lower.hasSuffix($0) }) || (lower.hasPrefix("pytorch_model") && lower.contains(".bin")) {
                throw HFError.unsupported(path: source + "/" + name,
                    reason: "weights VocabKit cannot rewrite (only the safetensors checkpoint is pruned); move the file out of the directory")
            }
            copied.append(name)
        }
        var outputNames = [HFCheckpoint.configName, HFCheckpoint.tokenizerName]
        for name in [HFCheckpoint.generationConfigName, HFCheckpoint.tokenizerConfigName, HFCheckpoint.addedTokensName,
                     HFCheckpoint.vocabName, HFCheckpoint.mergesName] where inputNames.contains(name) {
            outputNames.append(name)
        }
        outputNames += checkpoint.weights.shardNames + (checkpoint.weights.index != nil ? [SafetensorsIndex.fileName] : [])
        outputNames += copied + [Self.provenanceName]
        let inputs = inputNames.map { source + "/" + $0 }

        let created = try prepareDirectory(outputDirectory, outputNames: outputNames)
        let outputs = outputNames.map { outputDirectory + "/" + $0 } + (remapPath.map { [$0] } ?? [])
        do {
            let set = try OutputSet(outputs: outputs, inputs: inputs)
            func emit(_ name: String, _ text: String) throws {
                let file = try set.create(outputDirectory + "/" + name)
                try file.write(text)
            }
            let rewriter = HFTokenizerRewriter(newIdOf: newIdOf)
            func remapped(_ key: String, _ id: Int, _ file: String) throws -> Int {
                try rewriter.newId(id, key, file: file)
            }

            var config = checkpoint.config
            config.set("vocab_size", .integer(outputRows))
            try emit(HFCheckpoint.configName, HFJSONFile.text(try HFTokenIds.rewrite(.object(config), file: checkpoint.path(HFCheckpoint.configName)) {
                try remapped("config.json " + $0, $1, checkpoint.path(HFCheckpoint.configName))
            }))
            if let generation = checkpoint.generationConfig {
                let path = checkpoint.path(HFCheckpoint.generationConfigName)
                try emit(HFCheckpoint.generationConfigName, HFJSONFile.text(try HFTokenIds.rewrite(.object(generation), file: path) {
                    try remapped("generation_config.json " + $0, $1, path)
                }))
            }
            let tokenizer = try rewriter.tokenizerJSON(checkpoint.tokenizerJSON, path: checkpoint.path(HFCheckpoint.tokenizerName))
            try emit(HFCheckpoint.tokenizerName, HFJSONFile.text(tokenizer))
            let keptMerges = tokenizer["model"]?["merges"]?.arrayValue?.count ?? 0
            if let tokenizerConfig = checkpoint.tokenizerConfig {
                try emit(HFCheckpoint.tokenizerConfigName, HFJSONFile.text(try rewriter.tokenizerConfig(tokenizerConfig, path: checkpoint.path(HFCheckpoint.tokenizerConfigName))))
            }
            if let addedTokens = checkpoint.addedTokens {
                try emit(HFCheckpoint.addedTokensName, HFJSONFile.text(try rewriter.tokenMap(addedTokens, path: checkpoint.path(HFCheckpoint.addedTokensName))))
            }
            if outputNames.contains(HFCheckpoint.vocabName) {
                let vocab = try HFJSONFile.readObject(checkpoint.path(HFCheckpoint.vocabName))
                var idOf: [String: Int] = [:]
                for entry in vocab { if let id = entry.value.int { idOf[entry.key] = id } }
                try emit(HFCheckpoint.vocabName, JSONWriter(pretty: false).text(try rewriter.tokenMap(vocab, path: checkpoint.path(HFCheckpoint.vocabName))))
                let merges = try InputFile(path: checkpoint.path(HFCheckpoint.mergesName), limit: HFJSONFile.sizeLimit)
                try emit(HFCheckpoint.mergesName, try rewriter.mergesText(merges.bytes, path: checkpoint.path(HFCheckpoint.mergesName), idOf: idOf))
            }

            // Weights: same shards, same tensor order, the vocabulary tensors cut to the kept rows.
            let rowSources = kept.map { Optional($0) } + padRows
            let vocabularyNames = Set(checkpoint.vocabularyTensors.map(\.name))
            var tensorBytes = 0, tensorParameters = 0
            var weightBytes = 0
            for (number, shard) in checkpoint.weights.shards.enumerated() {
                let tensors = shard.tensors.sorted { $0.dataRange.lowerBound < $1.dataRange.lowerBound }.map { tensor in
                    vocabularyNames.contains(tensor.name) ? Self.selectingRows(rowSources, of: tensor, from: shard) : .copying(tensor, from: shard)
                }
                tensorBytes += tensors.reduce(0) { $0 + ($1.byteCount ?? 0) }
                tensorParameters += tensors.reduce(0) { $0 + $1.shape.reduce(1, *) }
                let file = try set.create(outputDirectory + "/" + checkpoint.weights.shardNames[number])
                weightBytes += try SafetensorsWriter.write(to: file, metadata: shard.metadata, tensors: tensors)
            }
            if let index = checkpoint.weights.index {
                try emit(SafetensorsIndex.fileName, HFJSONFile.text(index.rewritten(totalSize: tensorBytes, totalParameters: tensorParameters)))
            }

            for name in copied {
                let input = try InputFile(path: source + "/" + name)
                let file = try set.create(outputDirectory + "/" + name)
                try file.write(input.bytes)
            }
            let removedRows = checkpoint.vocabSize - outputRows
            let parametersAfter = checkpoint.parameterCount - removedRows * checkpoint.hiddenSize * checkpoint.vocabularyTensors.count
            let provenance: JSONValue = .object([
                JSONMember("tool", .string("vocabkit prune")),
                JSONMember("source", .string((source as NSString).lastPathComponent)),
                JSONMember("model_type", .string(checkpoint.architecture.modelType)),
                JSONMember("original_vocab_size", .integer(checkpoint.vocabSize)),
                JSONMember("original_tokenizer_ids", .integer(vocabulary.idCount)),
                JSONMember("kept_ids", .integer(kept.count)),
                JSONMember("vocab_size", .integer(outputRows)),
                JSONMember("pad_to", .integer(padTo)),
                JSONMember("tie_word_embeddings", .bool(checkpoint.tied)),
                JSONMember("parameters_before", .integer(checkpoint.parameterCount)),
                JSONMember("parameters_after", .integer(parametersAfter)),
                JSONMember("selection", .array(selection.report.map {
                    .object([JSONMember("rule", .string($0.rule)), JSONMember("tokens", .integer($0.tokens))])
                })),
            ])
            try emit(Self.provenanceName, HFJSONFile.text(provenance))
            if let remapPath {
                let file = try set.create(remapPath)
                try file.write(selection.remapTSV)
            }
            try set.commit()
            let mergeCount = checkpoint.tokenizerJSON[key: "model"]?["merges"]?.arrayValue?.count ?? 0
            return Summary(originalRows: checkpoint.vocabSize, originalTokenIds: vocabulary.idCount, keptIds: kept.count,
                           outputRows: outputRows, originalMerges: mergeCount, keptMerges: keptMerges,
                           parametersBefore: checkpoint.parameterCount, parametersAfter: parametersAfter,
                           weightBytesBefore: checkpoint.fileByteCount, weightBytesAfter: weightBytes,
                           files: outputNames + (remapPath.map { [$0] } ?? []))
        } catch {
            if created { rmdir(outputDirectory) }
            throw error
        }
    }

    /// Old rows that fill the padding: the original's rows no token reaches (its own padding), then zeros (nil).
    func paddingRowSources(count: Int, selector: TokenSelector) throws -> [Int?] {
        guard count > 0 else { return [] }
        let unreachable = selector.paddingIds.sorted() + Array(vocabulary.idCount..<checkpoint.vocabSize)
        return (0..<count).map { $0 < unreachable.count ? unreachable[$0] : nil }
    }

    /// Refuses, before any work, an output directory that is the checkpoint's own.
    public static func refuseOwnDirectory(_ output: String, checkpoint directory: String) throws {
        var out = stat(), source = stat()
        if stat(output, &out) == 0, stat(directory, &source) == 0, out.st_dev == source.st_dev, out.st_ino == source.st_ino {
            throw HFError.badOutput(path: output, reason: "is the checkpoint being pruned; write to another directory")
        }
    }

    /// Creates the output directory if needed (reporting whether it did), and refuses one that is the
    /// checkpoint's own or that holds files this run would not replace.
    func prepareDirectory(_ path: String, outputNames: [String]) throws -> Bool {
        var status = stat()
        if stat(path, &status) != 0 {
            guard mkdir(path, 0o777) == 0 else {
                throw FileError.writeFailed(path: path, reason: "cannot create the directory: " + String(cString: strerror(errno)))
            }
            return true
        }
        guard status.st_mode & S_IFMT == S_IFDIR else { throw HFError.badOutput(path: path, reason: "exists and is not a directory") }
        try Self.refuseOwnDirectory(path, checkpoint: checkpoint.directory)
        let wanted = Set(outputNames)
        if let stray = try FileManager.default.contentsOfDirectory(atPath: path).sorted().first(where: { !wanted.contains($0) }) {
            throw HFError.badOutput(path: path, reason: "holds \(stray), which this prune would not replace; use an empty or new directory")
        }
        return false
    }

    /// The tensor with only the listed rows (nil: a zero row), consecutive rows copied in one write.
    static func selectingRows(_ rows: [Int?], of tensor: SafetensorsTensor, from file: SafetensorsFile) -> SafetensorsOutputTensor {
        SafetensorsOutputTensor(name: tensor.name, dtype: tensor.dtype, shape: [rows.count] + tensor.shape.dropFirst()) { sink in
            let rowBytes = tensor.rowByteCount ?? 0
            try file.withBytes(of: tensor) { bytes in
                var index = 0
                while index < rows.count {
                    guard let first = rows[index] else {
                        try sink.write([UInt8](repeating: 0, count: rowBytes))
                        index += 1
                        continue
                    }
                    var end = index + 1
                    while end < rows.count, let next = rows[end], next == first + (end - index), (end - index) * rowBytes < SafetensorsWriter.streamChunk { end += 1 }
                    let count = end - index
                    guard first >= 0, first + count <= tensor.shape[0] else {
                        throw HFError.badOutput(path: file.path, reason: "row \(first + count - 1) of \(tensor.name) does not exist")
                    }
                    try sink.write(UnsafeRawBufferPointer(rebasing: bytes[(first * rowBytes)..<((first + count) * rowBytes)]))
                    index = end
                }
            }
            file.release(tensor, bytes: 0..<tensor.byteCount)
        }
    }
}
