import VocabKitGGUF
import VocabKitIO

/// What can be wrong with a surgery request or the model it is applied to.
public enum SurgeryError: VocabKitError, Equatable, Sendable {
    case badSpec(spec: String, reason: String)
    case indexOutOfRange(index: Int, blockCount: Int, step: String)
    case emptyResult
    case tooManyBlocks(count: Int, maximum: Int)
    /// The model's blocks cannot be told apart or counted (no architecture, no block count, stray `blk.N`).
    case unsupportedModel(path: String, reason: String)

    public var description: String {
        switch self {
        case let .badSpec(spec, reason): return "\(spec): \(reason)"
        case let .indexOutOfRange(index, count, step):
            return "\(step): block \(index) does not exist (the model has \(count) blocks at this point, 0-\(count - 1))"
        case .emptyResult: return "the edits leave no block"
        case let .tooManyBlocks(count, maximum): return "\(count) blocks is more than llama.cpp loads (\(maximum))"
        case let .unsupportedModel(path, reason): return "\(path): cannot edit blocks: \(reason)"
        }
    }
}

/// Rewrites a GGUF with its transformer blocks deleted, swapped, duplicated or reordered. Every `blk.N.*`
/// tensor is renamed to its new position and copied byte for byte (a duplicate is a physical copy: GGUF wants
/// unique names), `{arch}.block_count` and every per-layer metadata array (any `{arch}.*` array with one entry
/// per block: head counts, feed-forward lengths, sliding-window patterns) follow the new order, and the
/// vocabulary and all other metadata are kept. `vocabkit.surgery.*` records the original block count and the
/// order, composed with any earlier surgery's.
public final class LayerSurgery {
    public let path: String
    public let file: GGUFFile
    public let architecture: String
    public let blockCount: Int
    /// The order this model already has relative to its ancestor, if it was made by surgery.
    public let earlierOrder: BlockOrder?
    /// Tensors of each block, in file order, and their names without the `blk.N.` prefix.
    let blockTensors: [[(tensor: GGUFTensorInfo, suffix: String)]]
    /// Per-layer array keys.
    public let perLayerKeys: [String]

    static let provenancePrefix = "vocabkit.surgery."

    public init(modelPath: String) throws {
        path = modelPath
        do {
            file = try GGUFFile(path: modelPath)
        } catch let error as GGUFError {
            throw SurgeryError.unsupportedModel(path: modelPath, reason: "\(error)")
        }
        func refuse(_ reason: String) -> SurgeryError { .unsupportedModel(path: modelPath, reason: reason) }
        guard let arch = file.string("general.architecture") else { throw refuse("no general.architecture key") }
        architecture = arch
        guard let count = file.integer("\(arch).block_count") else { throw refuse("no \(arch).block_count key") }
        guard count > 0, count <= BlockOrder.maximumBlocks else { throw refuse("\(arch).block_count is \(count)") }
        blockCount = count
        var tensorsOfBlock = [[(tensor: GGUFTensorInfo, suffix: String)]](repeating: [], count: count)
        for tensor in file.tensors where tensor.name.hasPrefix("blk.") {
            let rest = tensor.name.dropFirst(4)
            guard let dot = rest.firstIndex(of: "."), let index = Int(rest[..<dot]), index >= 0 else {
                throw refuse("tensor '\(tensor.name)' does not name its block as blk.N.")
            }
            guard index < count else { throw refuse("tensor '\(tensor.name)' is past \(arch).block_count \(count)") }
            tensorsOfBlock[index].append((tensor, String(rest[rest.index(after: dot)...])))
        }
        if let empty = tensorsOfBlock.firstIndex(where: \.isEmpty) { throw refuse("block \(empty) has no tensors") }
        for (index, tensors) in tensorsOfBlock.enumerated() where Set(tensors.map(\.suffix)).count != tensors.count {
            throw refuse("block \(index) names a tensor twice")
        }
        blockTensors = tensorsOfBlock
        let opened = file
        perLayerKeys = opened.metadataKeys.filter { key in
            key.hasPrefix(arch + ".") && opened.arrayInfo(key)?.count == count
        }
        if let original = opened.integer(Self.provenancePrefix + "original_block_count"),
           let spec = opened.string(Self.provenancePrefix + "order"),
           let order = try? BlockOrder(spec: spec, originalBlockCount: original), order.blocks.count == count {
            earlierOrder = order
        } else {
            earlierOrder = nil
        }
    }

    public struct Summary: Sendable {
        public let blocksBefore: Int
        public let blocksAfter: Int
        /// The new order in the original model's block indices (composed with any earlier surgery).
        public let orderFromOriginal: BlockOrder
        public let bytesWritten: Int
    }

    /// Writes the model with blocks in `order` (indices into this model's blocks) to `outputPath`, never over
    /// the model or one of `inputs`. `operations` is recorded as written by the user.
    @discardableResult
    public func write(_ order: BlockOrder, operations: String, to outputPath: String, inputs: [String] = [],
                      progress: ((Int, Int) -> Void)? = nil) throws -> Summary {
        var summary: Summary?
        try OutputFile.write(to: outputPath, inputs: [path] + inputs) { output in
            summary = try write(order, operations: operations, into: output, progress: progress)
        }
        return summary!
    }

    /// Writes into `output` without committing it.
    @discardableResult
    public func write(_ order: BlockOrder, operations: String, into output: OutputFile,
                      progress: ((Int, Int) -> Void)? = nil) throws -> Summary {
        try OutputSafety.check(outputs: [output.path], inputs: [path])
        guard order.originalBlockCount == blockCount else {
            throw SurgeryError.badSpec(spec: order.spec, reason: "made for \(order.originalBlockCount) blocks, the model has \(blockCount)")
        }
        guard !order.blocks.isEmpty else { throw SurgeryError.emptyResult }
        let fromOriginal = earlierOrder.map { order.composed(after: $0) } ?? order
        let newCount = order.blocks.count

        var metadata: [(key: String, value: GGUFOutputValue)] = []
        for entry in file.metadataForWriting where !entry.key.hasPrefix(Self.provenancePrefix) {
            if entry.key == "\(architecture).block_count", let type = file.valueType(entry.key) {
                metadata.append((entry.key, try Self.integer(newCount, as: type, key: entry.key)))
            } else if perLayerKeys.contains(entry.key), case let .array(values)? = file.value(entry.key),
                      let (elementType, _) = file.arrayInfo(entry.key) {
                metadata.append((entry.key, .array(elementType: elementType, order.blocks.map { values[$0] })))
            } else {
                metadata.append(entry)
            }
        }
        metadata += pinnedHeadSizes(firstBlock: order.blocks[0])
        let sourceName = path.split(separator: "/").last.map(String.init) ?? path
        metadata.append((Self.provenancePrefix + "original_block_count", .value(.uint32(UInt32(fromOriginal.originalBlockCount)))))
        metadata.append((Self.provenancePrefix + "order", .value(.string(fromOriginal.spec))))
        metadata.append((Self.provenancePrefix + "source_file", .value(.string(sourceName))))
        metadata.append((Self.provenancePrefix + "source_block_count", .value(.uint32(UInt32(blockCount)))))
        metadata.append((Self.provenancePrefix + "operations", .value(.string(operations))))

        // Tensors in the original's layout: what came before the blocks, the blocks in their new order, what
        // came after.
        let firstBlockIndex = file.tensors.firstIndex { $0.name.hasPrefix("blk.") } ?? file.tensors.count
        let file = self.file
        var total = 0
        var tensors: [GGUFOutputTensor] = []
        func copy(_ tensor: GGUFTensorInfo, as name: String) {
            total += tensor.byteCount
            tensors.append(GGUFOutputTensor(name: name, dimensions: tensor.dimensions, type: tensor.type) { sink in
                try file.withTensorBytes(tensor) { try sink.write($0) }
            })
        }
        for tensor in file.tensors[..<firstBlockIndex] { copy(tensor, as: tensor.name) }
        for (newIndex, original) in order.blocks.enumerated() {
            for (tensor, suffix) in blockTensors[original] { copy(tensor, as: "blk.\(newIndex).\(suffix)") }
        }
        for tensor in file.tensors[firstBlockIndex...] where !tensor.name.hasPrefix("blk.") { copy(tensor, as: tensor.name) }

        let counter = WrittenBytes(total: total, progress: progress)
        let reporting = tensors.map { tensor in
            GGUFOutputTensor(name: tensor.name, dimensions: tensor.dimensions, type: tensor.type) { sink in
                try tensor.writeData(sink)
                counter.add(tensor.byteCount)
            }
        }
        try GGUFWriter.write(into: output, version: file.version, metadata: metadata, tensors: reporting)
        return Summary(blocksBefore: blockCount, blocksAfter: newCount, orderFromOriginal: fromOriginal, bytesWritten: output.position)
    }

    /// llama.cpp takes a head's size from embedding_length / the first block's head count unless
    /// `attention.key_length` and `attention.value_length` say otherwise. When a per-layer head count puts a block
    /// with another head count first (deleting or moving block 0 of a deci model), the sizes the file implied are
    /// written out, so that every block keeps its head size (and llama.cpp its rope dimension check).
    func pinnedHeadSizes(firstBlock: Int) -> [(key: String, value: GGUFOutputValue)] {
        let prefix = "\(architecture).attention."
        guard let heads = file.integerArray(prefix + "head_count"), heads.count == blockCount, heads[firstBlock] != heads[0],
              heads[0] > 0, let dim = file.integer("\(architecture).embedding_length"), dim % heads[0] == 0 else { return [] }
        return ["key_length", "value_length"].filter { !file.contains(prefix + $0) }
            .map { (prefix + $0, .value(.uint32(UInt32(dim / heads[0])))) }
    }

    static func integer(_ value: Int, as type: GGUFValueType, key: String) throws -> GGUFOutputValue {
        switch type {
        case .uint32: return .value(.uint32(UInt32(value)))
        case .int32: return .value(.int32(Int32(value)))
        case .uint64: return .value(.uint64(UInt64(value)))
        case .int64: return .value(.int64(Int64(value)))
        case .uint16: return .value(.uint16(UInt16(value)))
        case .int16: return .value(.int16(Int16(value)))
        default: throw SurgeryError.badSpec(spec: key, reason: "is a \(type.name), not an integer")
        }
    }
}

/// Bytes written so far, reported at most every 16 MiB.
final class WrittenBytes {
    let total: Int
    let progress: ((Int, Int) -> Void)?
    private var done = 0
    private var reported = 0

    init(total: Int, progress: ((Int, Int) -> Void)?) {
        self.total = total
        self.progress = progress
    }

    func add(_ count: Int) {
        done += count
        if done - reported >= 16 << 20 || done == total {
            reported = done
            progress?(done, total)
        }
    }
}

extension GGUFOutputTensor {
    /// Bytes the tensor's data takes.
    var byteCount: Int { (try? GGUFTensorInfo(name: name, dimensions: dimensions, type: type, offset: 0).byteCount) ?? 0 }
}
