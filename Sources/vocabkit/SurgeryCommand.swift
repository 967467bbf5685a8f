import ArgumentParser
import Foundation
import VocabKitIO
import VocabKitSurgery

struct SurgeryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "surgery",
        abstract: "Write a copy of a GGUF model with transformer blocks deleted, swapped, duplicated or reordered.",
        discussion: """
        Edits apply left to right, each index meaning the block order at that point: \
        `--delete 10 --swap 11,12` deletes block 10 and then swaps what are now blocks 11 and 12 (the recipe of the \
        27-block Qwen3 variant). `--layers 0-9,11,10,12-27` names the new order directly from the original indices \
        (ranges inclusive, repeats allowed). Tensors are renamed and copied byte for byte in any type; \
        block_count and every per-layer metadata array follow the new order; vocabkit.surgery.* records the \
        original block count and the order. llama.cpp and `vocabkit generate/eval/check/layers` run the result.
        """
    )

    @Argument(help: "The GGUF model (never modified).")
    var model: String

    @Option(name: .shortAndLong, help: "Where to write the edited model.")
    var output: String?

    @Option(parsing: .unconditionalSingleValue, help: "Delete the block at this index (repeatable; order matters).")
    var delete: [String] = []

    @Option(parsing: .unconditionalSingleValue, help: "Swap two blocks: A,B (repeatable; order matters).")
    var swap: [String] = []

    @Option(parsing: .unconditionalSingleValue, help: "Insert a copy of this block right after it (repeatable; order matters).")
    var duplicate: [String] = []

    @Option(help: "The new order from the original's indices, e.g. 0-9,11,10,12-27 (instead of edits).")
    var layers: String?

    @Flag(help: "Print the resulting order and write nothing.")
    var dryRun = false

    @Flag(help: "Print a JSON object: blocks_before, blocks_after, order, operations.")
    var json = false

    func validate() throws {
        let edits = delete.count + swap.count + duplicate.count
        if edits == 0 && layers == nil { throw ValidationError("give edits (--delete, --swap, --duplicate) or --layers SPEC") }
        if edits > 0 && layers != nil { throw ValidationError("give edits or --layers, not both") }
        if output == nil && !dryRun { throw ValidationError("give -o OUT.gguf (or --dry-run)") }
    }

    /// The edits in the order they were typed: the argument parser keeps each option's values in order but
    /// not the order between options, so it is read again from the command line.
    func orderedEdits(arguments: [String] = CommandLine.arguments) throws -> [SurgeryOperation] {
        var edits: [SurgeryOperation] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            for kind in ["delete", "swap", "duplicate"] {
                if argument == "--\(kind)", index + 1 < arguments.count {
                    edits.append(try SurgeryOperation.parse(kind: kind, argument: arguments[index + 1]))
                    index += 1
                } else if argument.hasPrefix("--\(kind)=") {
                    edits.append(try SurgeryOperation.parse(kind: kind, argument: String(argument.dropFirst(kind.count + 3))))
                }
            }
            index += 1
        }
        // What was read again must be what the parser saw.
        let parsed = try delete.map { try SurgeryOperation.parse(kind: "delete", argument: $0) }
            + swap.map { try SurgeryOperation.parse(kind: "swap", argument: $0) }
            + duplicate.map { try SurgeryOperation.parse(kind: "duplicate", argument: $0) }
        guard edits.count == parsed.count, parsed.allSatisfy({ edits.contains($0) }) else {
            throw ValidationError("could not read the order of the edits; write each as --delete N, --swap A,B or --duplicate N")
        }
        return edits
    }

    func run() throws {
        try runReportingErrors {
            let surgery = try LayerSurgery(modelPath: model)
            var order: BlockOrder
            let described: String
            if let layers {
                order = try BlockOrder(spec: layers, originalBlockCount: surgery.blockCount)
                described = "layers \(layers)"
            } else {
                order = BlockOrder(originalBlockCount: surgery.blockCount)
                let edits = try orderedEdits()
                for edit in edits { try order.apply(edit) }
                described = edits.map(\.description).joined(separator: "; ")
            }
            if dryRun {
                let fromOriginal = surgery.earlierOrder.map { order.composed(after: $0) } ?? order
                report(blocksBefore: surgery.blockCount, order: fromOriginal, operations: described, wrote: nil)
                return
            }
            guard let output else { return }
            var progress: ((Int, Int) -> Void)?
            if stderrIsTerminal { progress = terminalProgress("writing") }
            let summary = try surgery.write(order, operations: described, to: output, progress: progress)
            if stderrIsTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            report(blocksBefore: summary.blocksBefore, order: summary.orderFromOriginal, operations: described, wrote: output)
        }
    }

    private struct Report: Encodable {
        let blocks_before: Int
        let blocks_after: Int
        let order: String
        let operations: String
        let output: String?
    }

    private func report(blocksBefore: Int, order: BlockOrder, operations: String, wrote: String?) {
        if json {
            try? writeJSON(Report(blocks_before: blocksBefore, blocks_after: order.blocks.count, order: order.spec,
                                  operations: operations, output: wrote), pretty: false)
            return
        }
        print("\(operations): \(blocksBefore) -> \(order.blocks.count) blocks")
        print("order (original indices): \(order.spec)")
        if let wrote { print("wrote \(wrote)") }
    }
}
