/// The blocks of a model after surgery, as indices into the original's blocks: `[0, 1, 3, 2]` deletes nothing,
/// swaps the last two; `[0, 0, 1]` duplicates block 0. Edits are applied one after another, each index meaning the
/// order at that point, the way layer-surgery recipes are written ("delete 10, then swap 11 and 12").
public struct BlockOrder: Equatable, Sendable, CustomStringConvertible {
    public let originalBlockCount: Int
    public private(set) var blocks: [Int]

    /// llama.cpp refuses models with more blocks than this (LLAMA_MAX_LAYERS).
    public static let maximumBlocks = 512

    /// The original order.
    public init(originalBlockCount: Int) {
        self.originalBlockCount = originalBlockCount
        blocks = Array(0..<originalBlockCount)
    }

    /// An order named directly by original indices, as chatllm.cpp's `--layers` spec does:
    /// "0-9,11,10,12-27" (ranges inclusive, repeats allowed).
    public init(spec: String, originalBlockCount: Int) throws {
        self.originalBlockCount = originalBlockCount
        blocks = []
        for part in spec.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            func index(_ text: Substring) throws -> Int {
                guard let value = Int(text), value >= 0 else {
                    throw SurgeryError.badSpec(spec: spec, reason: "'\(part)' is not a block index or an a-b range")
                }
                guard value < originalBlockCount else {
                    throw SurgeryError.indexOutOfRange(index: value, blockCount: originalBlockCount, step: "layers \(spec)")
                }
                return value
            }
            switch bounds.count {
            case 1: blocks.append(try index(bounds[0]))
            default:
                let low = try index(bounds[0]), high = try index(bounds[1])
                guard low <= high else { throw SurgeryError.badSpec(spec: spec, reason: "range '\(part)' runs backwards") }
                guard blocks.count + (high - low + 1) <= Self.maximumBlocks else {
                    throw SurgeryError.tooManyBlocks(count: blocks.count + (high - low + 1), maximum: Self.maximumBlocks)
                }
                blocks.append(contentsOf: low...high)
            }
            guard blocks.count <= Self.maximumBlocks else {
                throw SurgeryError.tooManyBlocks(count: blocks.count, maximum: Self.maximumBlocks)
            }
        }
        guard !blocks.isEmpty else { throw SurgeryError.emptyResult }
    }

    /// Applies one edit to the current order.
    public mutating func apply(_ operation: SurgeryOperation) throws {
        func check(_ index: Int) throws {
            guard index >= 0, index < blocks.count else {
                throw SurgeryError.indexOutOfRange(index: index, blockCount: blocks.count, step: operation.description)
            }
        }
        switch operation {
        case let .delete(index):
            try check(index)
            guard blocks.count > 1 else { throw SurgeryError.emptyResult }
            blocks.remove(at: index)
        case let .swap(a, b):
            try check(a)
            try check(b)
            blocks.swapAt(a, b)
        case let .duplicate(index):
            try check(index)
            guard blocks.count < Self.maximumBlocks else {
                throw SurgeryError.tooManyBlocks(count: blocks.count + 1, maximum: Self.maximumBlocks)
            }
            blocks.insert(blocks[index], at: index + 1)
        }
    }

    /// This order applied on top of an earlier surgery's: indices become the earlier model's original ones.
    public func composed(after earlier: BlockOrder) -> BlockOrder {
        var result = BlockOrder(originalBlockCount: earlier.originalBlockCount)
        result.blocks = blocks.map { earlier.blocks[$0] }
        return result
    }

    public var isIdentity: Bool { blocks == Array(0..<originalBlockCount) }

    /// The order in `--layers` form, with runs collapsed: "0-9,11,10,12-27".
    public var spec: String {
        var parts: [String] = []
        var start = 0
        while start < blocks.count {
            var end = start
            while end + 1 < blocks.count && blocks[end + 1] == blocks[end] + 1 { end += 1 }
            parts.append(end > start ? "\(blocks[start])-\(blocks[end])" : "\(blocks[start])")
            start = end + 1
        }
        return parts.joined(separator: ",")
    }

    public var description: String { spec }
}

/// One edit of the block order.
public enum SurgeryOperation: Equatable, Sendable, CustomStringConvertible {
    /// Removes the block at this index.
    case delete(Int)
    /// Exchanges two blocks.
    case swap(Int, Int)
    /// Inserts a copy of the block right after it.
    case duplicate(Int)

    /// Reads `--delete 10`, `--swap 11,12`, `--duplicate 5` arguments.
    public static func parse(kind: String, argument: String) throws -> SurgeryOperation {
        func index(_ text: Substring) throws -> Int {
            guard let value = Int(text), value >= 0 else {
                throw SurgeryError.badSpec(spec: "\(kind) \(argument)", reason: "'\(text)' is not a block index")
            }
            return value
        }
        switch kind {
        case "delete": return .delete(try index(Substring(argument)))
        case "duplicate": return .duplicate(try index(Substring(argument)))
        case "swap":
            let parts = argument.split(separator: ",", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw SurgeryError.badSpec(spec: "swap \(argument)", reason: "expected two block indices, A,B")
            }
            return .swap(try index(parts[0]), try index(parts[1]))
        default:
            throw SurgeryError.badSpec(spec: kind, reason: "unknown edit; use delete, swap or duplicate")
        }
    }

    public var description: String {
        switch self {
        case let .delete(i): return "delete \(i)"
        case let .swap(a, b): return "swap \(a),\(b)"
        case let .duplicate(i): return "duplicate \(i)"
        }
    }
}
