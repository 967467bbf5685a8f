import Foundation
import VocabKitGGUF
import VocabKitIO
import VocabKitInference
import VocabKitTestSupport
import XCTest
@testable import VocabKitSurgery

final class BlockOrderTests: XCTestCase {
    /// The seed model's recipe: delete block 10, then swap 11 and 12 counted after the deletion.
    func testEditsApplyLeftToRightInTheOrderAtThatPoint() throws {
        var order = BlockOrder(originalBlockCount: 28)
        try order.apply(.delete(10))
        try order.apply(.swap(11, 12))
        XCTAssertEqual(order.blocks, Array(0...9) + [11, 13, 12] + Array(14...27))
        XCTAssertEqual(order.spec, "0-9,11,13,12,14-27")
        XCTAssertEqual(try BlockOrder(spec: order.spec, originalBlockCount: 28), order)
        var dup = BlockOrder(originalBlockCount: 3)
        try dup.apply(.duplicate(1))
        try dup.apply(.duplicate(0))
        XCTAssertEqual(dup.blocks, [0, 0, 1, 1, 2])
    }

    func testSpecsAndRefusals() throws {
        XCTAssertEqual(try BlockOrder(spec: "0-9,11,10,12-27", originalBlockCount: 28).blocks, Array(0...9) + [11, 10] + Array(12...27))
        XCTAssertEqual(try BlockOrder(spec: "3,3,3", originalBlockCount: 4).blocks, [3, 3, 3])
        for bad in ["", "1,,2", "a", "-1", "5-2", "0-28", "28", "1-2-3"] {
            XCTAssertThrowsError(try BlockOrder(spec: bad, originalBlockCount: 28), bad)
        }
        XCTAssertThrowsError(try BlockOrder(spec: "0-27,0-27,0-27,0-27,0-27,0-27,0-27,0-27,0-27,0-27,0-27,0-27,0-27,0-27,0-27,0-27,0-27,0-27,0-27",
                                            originalBlockCount: 28)) { error in
            guard case .tooManyBlocks? = error as? SurgeryError else { return XCTFail("\(error)") }
        }
        var order = BlockOrder(originalBlockCount: 2)
        XCTAssertThrowsError(try order.apply(.delete(2))) { error in
            XCTAssertEqual("\(error)", "delete 2: block 2 does not exist (the model has 2 blocks at this point, 0-1)")
        }
        try order.apply(.delete(0))
        XCTAssertThrowsError(try order.apply(.delete(0))) { XCTAssertEqual($0 as? SurgeryError, .emptyResult) }
        XCTAssertThrowsError(try SurgeryOperation.parse(kind: "swap", argument: "1"))
        XCTAssertThrowsError(try SurgeryOperation.parse(kind: "swap", argument: "1,-2"))
        XCTAssertEqual(try SurgeryOperation.parse(kind: "swap", argument: "11,12"), .swap(11, 12))
    }

    func testComposition() throws {
        var first = BlockOrder(originalBlockCount: 6)
        try first.apply(.delete(2))           // 0,1,3,4,5
        var second = BlockOrder(originalBlockCount: 5)
        try second.apply(.swap(0, 4))         // 5,1,3,4,0 in the original's indices
        try second.apply(.duplicate(2))
        XCTAssertEqual(second.composed(after: first).blocks, [5, 1, 3, 3, 4, 0])
    }
}

final class LayerSurgeryTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws { folder = try temporaryFolder(name, testCase: self) }

    /// A small synthetic model written by the CLI (random weights, the real vocabulary).
    func synth(_ arch: String, type: String = "Q8_0", layers: Int = 4, extra: [String] = []) throws -> String {
        let path = folder + "/\(arch)-\(type)-\(layers).gguf"
        let kQuant = type.hasSuffix("_K")  // K-quant rows are 256-element super-blocks
        let r = try CLI.run(["synth", "--arch", arch, "--type", type, "--dim", kQuant ? "256" : "64", "--layers", "\(layers)",
                             "--heads", "4", "--kv-heads", "2", "--ffn", kQuant ? "512" : "128", "-o", path] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        return path
    }

    /// The same model with per-layer arrays in place of scalar hyperparameters (values that differ per block).
    func withPerLayerArrays(_ source: String, blocks: Int) throws -> String {
        let file = try GGUFFile(path: source)
        let arch = try XCTUnwrap(file.string("general.architecture"))
        var metadata = file.metadataForWriting
        metadata.append(("\(arch).attention.sliding_window_pattern", .array(elementType: .bool, (0..<blocks).map { .bool($0 % 2 == 0) })))
        metadata.append(("\(arch).test_per_layer", .array(elementType: .uint32, (0..<blocks).map { .uint32(UInt32(100 + $0)) })))
        metadata.append(("\(arch).not_per_layer", .array(elementType: .uint32, [.uint32(1), .uint32(2)])))
        let path = source + ".arrays.gguf"
        try GGUFWriter.write(to: path, metadata: metadata, tensors: file.tensors.map { GGUFOutputTensor.copying($0, from: file) })
        return path
    }

    func tensorBytes(_ file: GGUFFile, _ name: String) throws -> [UInt8] {
        let tensor = try XCTUnwrap(file.tensor(named: name), name)
        return file.withTensorBytes(tensor) { Array($0) }
    }

    func testBlocksAreRenamedAndCopiedByteForByte() throws {
        for (arch, type) in [("qwen3", "Q8_0"), ("qwen2", "Q4_K"), ("qwen2", "F16")] {
            let source = try withPerLayerArrays(try synth(arch, type: type, extra: arch == "qwen2" ? ["--untied-output"] : []), blocks: 4)
            let surgery = try LayerSurgery(modelPath: source)
            XCTAssertEqual(surgery.blockCount, 4)
            XCTAssertEqual(Set(surgery.perLayerKeys), ["\(arch).attention.sliding_window_pattern", "\(arch).test_per_layer"])
            var order = BlockOrder(originalBlockCount: 4)
            try order.apply(.delete(1))
            try order.apply(.duplicate(2))
            try order.apply(.swap(0, 1))       // original indices: 2,0,3,3
            XCTAssertEqual(order.blocks, [2, 0, 3, 3])
            let out = folder + "/out-\(arch)-\(type).gguf"
            let summary = try surgery.write(order, operations: "test", to: out)
            XCTAssertEqual(summary.blocksAfter, 4)
            let original = try GGUFFile(path: source), edited = try GGUFFile(path: out)
            XCTAssertEqual(edited.integer("\(arch).block_count"), 4)
            XCTAssertEqual(edited.integerArray("\(arch).test_per_layer"), [102, 100, 103, 103])
            XCTAssertEqual(edited.value("\(arch).attention.sliding_window_pattern"), .array([.bool(true), .bool(true), .bool(false), .bool(false)]))
            XCTAssertEqual(edited.integerArray("\(arch).not_per_layer"), [1, 2])
            XCTAssertEqual(edited.integer("vocabkit.surgery.original_block_count"), 4)
            XCTAssertEqual(edited.string("vocabkit.surgery.order"), "2,0,3,3")
            XCTAssertEqual(edited.stringArray("tokenizer.ggml.tokens"), original.stringArray("tokenizer.ggml.tokens"))
            let blockNames = original.tensors.map(\.name).filter { $0.hasPrefix("blk.0.") }.map { String($0.dropFirst(6)) }
            XCTAssertGreaterThanOrEqual(blockNames.count, 9)
            for (newIndex, old) in order.blocks.enumerated() {
                for suffix in blockNames {
                    XCTAssertEqual(try tensorBytes(edited, "blk.\(newIndex).\(suffix)"), try tensorBytes(original, "blk.\(old).\(suffix)"))
                }
            }
            for tensor in original.tensors where !tensor.name.hasPrefix("blk.") {
                XCTAssertEqual(try tensorBytes(edited, tensor.name), try tensorBytes(original, tensor.name))
            }
            XCTAssertEqual(edited.tensors.count, original.tensors.count)
        }
    }

    /// Swapping two blocks and swapping them back gives the original's tensor data byte for byte, and a second
    /// surgery records its order in the first model's indices.
    func testSwapThenSwapBackIsByteIdenticalAndProvenanceComposes() throws {
        let source = try synth("qwen3", type: "Q4_K", layers: 5)
        let once = folder + "/once.gguf", twice = folder + "/twice.gguf"
        var swap = BlockOrder(originalBlockCount: 5)
        try swap.apply(.swap(1, 3))
        try LayerSurgery(modelPath: source).write(swap, operations: "swap 1,3", to: once)
        let second = try LayerSurgery(modelPath: once)
        XCTAssertEqual(second.earlierOrder?.blocks, [0, 3, 2, 1, 4])
        try second.write(swap, operations: "swap 1,3", to: twice)
        let original = try GGUFFile(path: source), back = try GGUFFile(path: twice)
        XCTAssertEqual(back.string("vocabkit.surgery.order"), "0-4")
        XCTAssertEqual(back.tensors.map(\.name), original.tensors.map(\.name))
        XCTAssertEqual(back.tensors.map(\.offset), original.tensors.map(\.offset))
        let data = { (file: GGUFFile) in file.withFileBytes { Array($0[file.dataSectionOffset...]) } }
        XCTAssertEqual(data(back), data(original), "tensor data differs after swap and swap back")
        var delete = BlockOrder(originalBlockCount: 5)
        try delete.apply(.delete(0))
        let third = folder + "/third.gguf"
        try LayerSurgery(modelPath: once).write(delete, operations: "delete 0", to: third)
        XCTAssertEqual(try GGUFFile(path: third).string("vocabkit.surgery.order"), "3,2,1,4")
    }

    /// Deleting block 0 of a deci model whose blocks have different head counts: llama.cpp (and VocabKit) would
    /// take the head size from the new first block's head count, so the implied size is written out.
    func testMovingAFirstBlockWithOtherHeadCountsKeepsTheHeadSize() throws {
        let source = folder + "/deci.gguf"
        let r = try CLI.run(["synth", "--arch", "deci", "--type", "F16", "--dim", "64", "--layers", "3", "--heads", "4,2,4",
                             "--kv-heads", "2,1,4", "--ffn", "64,128,96", "-o", source])
        XCTAssertEqual(r.status, 0, r.stderr)
        let before = try LanguageModel(path: source).config
        XCTAssertEqual(before.headDim, 16)
        for (edit, pinned) in [(SurgeryOperation.delete(0), true), (.swap(0, 1), true), (.swap(0, 2), false), (.delete(1), false)] {
            var order = BlockOrder(originalBlockCount: 3)
            try order.apply(edit)
            let out = folder + "/deci-\(edit.description.filter(\.isLetter))-\(order.spec).gguf"
            try LayerSurgery(modelPath: source).write(order, operations: edit.description, to: out)
            let edited = try GGUFFile(path: out)
            XCTAssertEqual(edited.integer("deci.attention.key_length"), pinned ? 16 : nil, "\(edit)")
            XCTAssertEqual(edited.integer("deci.attention.value_length"), pinned ? 16 : nil, "\(edit)")
            let config = try LanguageModel(path: out).config
            XCTAssertEqual(config.headDim, 16, "\(edit)")
            XCTAssertEqual(config.blocks, order.blocks.map { before.blocks[$0] }, "\(edit)")
        }
    }

    func testRefusesModelsWhoseBlocksCannotBeNamed() throws {
        let bare = folder + "/bare.gguf"
        try GGUFWriter.write(to: bare, metadata: [("general.architecture", .value(.string("qwen3")))], tensors: [])
        XCTAssertThrowsError(try LayerSurgery(modelPath: bare)) { XCTAssertTrue("\($0)".contains("no qwen3.block_count")) }
        let stray = folder + "/stray.gguf"
        let tensor = GGUFOutputTensor(name: "blk.x.attn_q.weight", dimensions: [8], type: .f32) { try $0.write([UInt8](repeating: 0, count: 32)) }
        try GGUFWriter.write(to: stray, metadata: [("general.architecture", .value(.string("qwen3"))), ("qwen3.block_count", .value(.uint32(1)))],
                             tensors: [tensor])
        XCTAssertThrowsError(try LayerSurgery(modelPath: stray)) { XCTAssertTrue("\($0)".contains("blk.N"), "\($0)") }
        let gap = folder + "/gap.gguf"
        let only = GGUFOutputTensor(name: "blk.1.attn_q.weight", dimensions: [8], type: .f32) { try $0.write([UInt8](repeating: 0, count: 32)) }
        try GGUFWriter.write(to: gap, metadata: [("general.architecture", .value(.string("qwen3"))), ("qwen3.block_count", .value(.uint32(2)))],
                             tensors: [only])
        XCTAssertThrowsError(try LayerSurgery(modelPath: gap)) { XCTAssertTrue("\($0)".contains("block 0 has no tensors"), "\($0)") }
    }

    func testCLIEditsInTypedOrderAndRefusesBadRequests() throws {
        let source = try synth("qwen3", layers: 6)
        let out = folder + "/cli.gguf"
        let r = try CLI.run(["surgery", source, "--delete", "1", "--swap", "1,2", "--duplicate=0", "-o", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\"order\":\"0,0,3,2,4-5\""), r.stdout)
        let reversed = try CLI.run(["surgery", source, "--swap", "1,2", "--delete", "1", "--dry-run", "--json"])
        XCTAssertTrue(reversed.stdout.contains("\"order\":\"0-1,3-5\""), reversed.stdout)
        let layers = try CLI.run(["surgery", source, "--layers", "0,0,3,2,4-5", "-o", folder + "/layers.gguf"])
        XCTAssertEqual(layers.status, 0, layers.stderr)
        let a = try GGUFFile(path: out), b = try GGUFFile(path: folder + "/layers.gguf")
        XCTAssertEqual(a.withFileBytes { Array($0[a.dataSectionOffset...]) }, b.withFileBytes { Array($0[b.dataSectionOffset...]) })
        CLI.assertOneErrorLine(try CLI.run(["surgery", source, "--delete", "6", "-o", folder + "/x.gguf"]), mentioning: "block 6 does not exist")
        CLI.assertOneErrorLine(try CLI.run(["surgery", source, "--swap", "1", "-o", folder + "/x.gguf"]), mentioning: "two block indices")
        CLI.assertOneErrorLine(try CLI.run(["surgery", source, "--layers", "0-9", "-o", folder + "/x.gguf"]), mentioning: "block 9 does not exist")
        CLI.assertOneErrorLine(try CLI.run(["surgery", source, "--delete", "0", "-o", source]), mentioning: "would overwrite")
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/x.gguf"))
    }
}
