import Foundation
import VocabKitGGUF
import VocabKitIO
import VocabKitTokenizer
import XCTest
import VocabKitTestSupport
@testable import VocabKitPrune

final class ModelPrunerTests: XCTestCase {
    override class func tearDown() {
        try? FileManager.default.removeItem(atPath: TinyModel.sharedPath)
        super.tearDown()
    }

    func sampleUsage(_ vocabulary: Vocabulary) throws -> [UInt64] {
        try UsageCounter(tokenizer: Tokenizer(vocabulary: vocabulary)).count(files: sampleFiles).counts
    }

    func testPrunedModelKeepsRowsMetadataAndTokenization() throws {
        let folder = try temporaryFolder()
        let input = TinyModel.sharedPath
        let inputBytes = try Data(contentsOf: URL(fileURLWithPath: input))
        let pruner = try ModelPruner(modelPath: input)
        XCTAssertEqual(pruner.vocabulary.idCount, TinyModel.rows)
        let selector = pruner.selector()
        let selection = try selector.select(counts: try sampleUsage(pruner.vocabulary), rules: SelectionRules(top: 1500))
        let verified = try selector.verify(selection)
        let output = folder + "/pruned.gguf"
        let summary = try pruner.write(verified, to: output)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: input)), inputBytes, "input modified")
        XCTAssertFalse(FileManager.default.fileExists(atPath: output + ".tmp"))

        let kept = selection.keptIds
        let out = try GGUFFile(path: output)
        XCTAssertEqual(summary.keptIdCount, kept.count)
        XCTAssertLessThan(summary.outputBytes, summary.inputBytes)
        XCTAssertEqual(out.stringArray("tokenizer.ggml.tokens")?.count, kept.count)
        XCTAssertFalse(out.stringArray("tokenizer.ggml.tokens")!.contains { $0.hasPrefix("[PAD") }, "padding rows kept")
        XCTAssertEqual(out.integerArray("tokenizer.ggml.token_type")?.count, kept.count)
        XCTAssertEqual(out.integer("vocabkit.pruned.original_vocab_size"), TinyModel.rows)
        XCTAssertEqual(out.integer("vocabkit.pruned.kept"), kept.count)
        XCTAssertEqual(out.string("general.name"), "tiny test model")
        XCTAssertEqual(out.value("tokenizer.ggml.add_bos_token"), .bool(false))

        // Token-id keys point at the same tokens.
        let original = try GGUFFile(path: input)
        let tokensBefore = original.stringArray("tokenizer.ggml.tokens")!, tokensAfter = out.stringArray("tokenizer.ggml.tokens")!
        for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.padding_token_id"] {
            XCTAssertEqual(tokensAfter[out.integer(key)!], tokensBefore[original.integer(key)!], key)
            XCTAssertEqual(out.valueType(key), .uint32)
        }
        XCTAssertEqual(tokensAfter[out.integer("tokenizer.ggml.eos_token_id")!], "<|im_end|>")

        // Rows copied byte for byte, dims updated; other tensors unchanged.
        let embedding = out.tensor(named: "token_embd.weight")!
        XCTAssertEqual(embedding.dimensions, [TinyModel.embeddingWidth, kept.count])
        XCTAssertEqual(embedding.type, .q8_0)
        let outputWeight = out.tensor(named: "output.weight")!
        XCTAssertEqual(outputWeight.dimensions, [4, kept.count])
        for (newId, oldId) in kept.enumerated() {
            XCTAssertEqual(out.withRowBytes(embedding, row: newId) { Array($0) }, TinyModel.embeddingRow(oldId))
            XCTAssertEqual(out.withRowBytes(outputWeight, row: newId) { Array($0) }, TinyModel.outputRow(oldId))
        }
        XCTAssertEqual(out.withTensorBytes(out.tensor(named: "blk.0.attn_norm.weight")!) { Array($0) }, TinyModel.normBytes)

        // Merges: only those whose three tokens are kept, in the original order.
        let mergesAfter = out.stringArray("tokenizer.ggml.merges")!
        XCTAssertEqual(mergesAfter.count, summary.keptMergeCount)
        let mergesBefore = original.stringArray("tokenizer.ggml.merges")!
        var position = 0
        for merge in mergesAfter {
            while position < mergesBefore.count && mergesBefore[position] != merge { position += 1 }
            XCTAssertLessThan(position, mergesBefore.count, "merge \(merge) out of order or new")
        }

        // The pruned model loads as a vocabulary and tokenizes kept text to the remapped ids.
        let prunedVocabulary = try Vocabulary.load(path: output)
        XCTAssertEqual(prunedVocabulary.idCount, kept.count)
        let before = Tokenizer(vocabulary: pruner.vocabulary), after = Tokenizer(vocabulary: prunedVocabulary)
        let newIdOf = selection.newIdOfOldId
        var exact = 0
        for file in sampleFiles {
            for line in try readText(file).split(separator: "\n").map(String.init) {
                let ids = before.encode(line), prunedIds = after.encode(line)
                XCTAssertEqual(try after.decode(prunedIds), Array(line.utf8))
                if ids.allSatisfy({ newIdOf[Int($0)] >= 0 }) {
                    XCTAssertEqual(prunedIds.map(Int.init), ids.map { newIdOf[Int($0)] }, line)
                    exact += 1
                }
            }
        }
        XCTAssertGreaterThan(exact, 200)
        let chat = "<|im_start|>user\nnaïve 😀 zzqq<|im_end|>"
        XCTAssertEqual(try after.decode(after.encode(chat)), Array(chat.utf8))
        XCTAssertEqual(after.encode("<|im_end|>").map(Int.init), [out.integer("tokenizer.ggml.eos_token_id")!])
    }

    func testTiedModelAndRemapAndPruningTwice() throws {
        let folder = try temporaryFolder()
        let input = folder + "/tied.gguf"
        try TinyModel.write(to: input, untiedOutput: false)
        let pruner = try ModelPruner(modelPath: input)
        let selection = try pruner.selector().select(counts: try sampleUsage(pruner.vocabulary), rules: SelectionRules(targetSize: 5000))
        XCTAssertEqual(selection.keptIds.count, 5000)
        try pruner.write(try pruner.selector().verify(selection), to: folder + "/once.gguf")
        let once = try GGUFFile(path: folder + "/once.gguf")
        XCTAssertNil(once.tensor(named: "output.weight"))
        XCTAssertEqual(once.tensor(named: "token_embd.weight")?.dimensions, [32, 5000])
        let remap = selection.remapTSV.split(separator: "\n").dropFirst()
        XCTAssertEqual(remap.count, 5000)
        XCTAssertEqual(remap.first, "0\t0")

        // Pruning a pruned model again keeps the first original size in the provenance.
        let again = try ModelPruner(modelPath: folder + "/once.gguf")
        let second = try again.selector().select(counts: try sampleUsage(again.vocabulary), rules: SelectionRules(targetSize: 4000))
        try again.write(try again.selector().verify(second), to: folder + "/twice.gguf")
        let twice = try GGUFFile(path: folder + "/twice.gguf")
        XCTAssertEqual(twice.integer("vocabkit.pruned.original_vocab_size"), TinyModel.rows)
        XCTAssertEqual(twice.integer("vocabkit.pruned.source_vocab_size"), 5000)
        XCTAssertEqual(twice.stringArray("tokenizer.ggml.tokens")?.count, 4000)
    }

    func testRefusesToOverwriteTheInput() throws {
        let folder = try temporaryFolder()
        let input = folder + "/model.gguf"
        try FileManager.default.copyItem(atPath: TinyModel.sharedPath, toPath: input)
        let pruner = try ModelPruner(modelPath: input)
        let selection = try pruner.selector().verify(try pruner.selector().select(counts: [], rules: SelectionRules(targetSize: 1000)))
        for target in [input, folder + "/./model.gguf"] {
            XCTAssertThrowsError(try pruner.write(selection, to: target)) { error in
                XCTAssertEqual(error as? FileError, .outputIsInput(output: target, input: input))
            }
        }
        try FileManager.default.createSymbolicLink(atPath: folder + "/link.gguf", withDestinationPath: input)
        XCTAssertThrowsError(try pruner.write(selection, to: folder + "/link.gguf"))
    }

    /// An instruct model's chat template writes tokens no corpus may spell (Qwen's `assistant`): they are kept,
    /// so a conversation tokenizes to the same tokens after the prune; --no-chat-template leaves them to the rules.
    func testChatTemplateTokensAreKept() throws {
        let folder = try temporaryFolder()
        let input = folder + "/chat.gguf"
        let template = #"{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"#
            + #"{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %}"#
            + #"{# never written: Zanzibar #}{%- if not messages %}You are Quokka, a marsupial assistant.{% endif %}"#
        try TinyModel.write(to: input, chatTemplate: template)
        let pruner = try ModelPruner(modelPath: input)
        let tokenizer = Tokenizer(vocabulary: pruner.vocabulary)
        let counts = try sampleUsage(pruner.vocabulary)
        let rules = SelectionRules(top: 400)
        let withTemplate = try pruner.selector().select(counts: counts, rules: rules)
        let without = try pruner.selector(keepChatTemplate: false).select(counts: counts, rules: rules)
        let kept = Set(withTemplate.keptIds), keptWithout = Set(without.keptIds)
        XCTAssertTrue(withTemplate.report.contains { $0.rule == "chat template tokens" && $0.tokens == pruner.chatTemplateIds.count })
        XCTAssertFalse(without.report.contains { $0.rule == "chat template tokens" })

        let written = ["<|im_start|>assistant\n", "You are Quokka, a marsupial assistant."].flatMap { tokenizer.encode($0).map(Int.init) }
        let assistant = try XCTUnwrap(pruner.vocabulary.id(of: Array("assistant".utf8)))
        XCTAssertFalse(counts[assistant] > 0, "the sample corpus spells 'assistant'; pick another token for this test")
        for id in written { XCTAssertTrue(kept.contains(id), "template token \(id) dropped") }
        XCTAssertFalse(keptWithout.contains(assistant), "kept without the template")
        // A comment is not text the template writes.
        let comment = Set(tokenizer.encode(" Zanzibar").map(Int.init))
        XCTAssertTrue(pruner.chatTemplateIds.isDisjoint(with: comment.subtracting(keptWithout)))

        // The pruned model tokenizes a conversation to the same tokens (renumbered).
        let conversation = "<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\nYou are Quokka, a marsupial assistant.<|im_end|>\n"
        let output = folder + "/pruned.gguf"
        try pruner.write(try pruner.selector().verify(withTemplate), to: output)
        let pruned = try Vocabulary.load(gguf: GGUFFile(path: output), source: output)
        let newIdOf = withTemplate.newIdOfOldId
        XCTAssertEqual(Tokenizer(vocabulary: pruned).encode(conversation).map(Int.init),
                       tokenizer.encode(conversation).map { newIdOf[Int($0)] })

        // The template's tokens are required: a drop-list cannot remove them.
        XCTAssertThrowsError(try pruner.selector().select(counts: counts, rules: SelectionRules(top: 400, dropList: [assistant]))) { error in
            XCTAssertTrue("\(error)".contains("chat-template token and must stay"), "\(error)")
        }
        XCTAssertNoThrow(try pruner.selector(keepChatTemplate: false).select(counts: counts, rules: SelectionRules(top: 400, dropList: [assistant])))
    }

    /// Qwen2.5-Coder's own template: its default system prompt and the tool-call scaffolding are kept.
    func testRealModelChatTemplateWhenPresent() throws {
        let pruner = try ModelPruner(modelPath: try TestData.realModel())
        let tokenizer = Tokenizer(vocabulary: pruner.vocabulary)
        let ids = pruner.chatTemplateIds
        for text in ["<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n",
                     "<|im_start|>user\n", "<|im_end|>\n<|im_start|>assistant\n", "<tool_call>\n"] {
            for id in tokenizer.encode(text) { XCTAssertTrue(ids.contains(Int(id)), "\(text.debugDescription): id \(id)") }
        }
        XCTAssertLessThan(ids.count, 400, "the template's text is a few dozen tokens, not the vocabulary")
    }

    func testRealModelWhenPresent() throws {
        let model = try TestData.realModel()
        let folder = try temporaryFolder()
        let pruner = try ModelPruner(modelPath: model)
        let selector = pruner.selector()
        let selection = try selector.select(counts: try sampleUsage(pruner.vocabulary), rules: SelectionRules(top: 3000))
        let verified = try selector.verify(selection)
        let output = folder + "/pruned.gguf"
        let summary = try pruner.write(verified, to: output)
        defer { try? FileManager.default.removeItem(atPath: output) }
        XCTAssertLessThan(summary.outputBytes, summary.inputBytes)
        let out = try GGUFFile(path: output)
        XCTAssertEqual(out.tensors.count, pruner.file.tensors.count)
        for tensor in pruner.file.tensors where !ModelPruner.rowTensorNames.contains(tensor.name) {
            XCTAssertEqual(out.tensor(named: tensor.name)?.byteCount, tensor.byteCount)
        }
        // Quantized rows (Q5_0 embeddings, Q8_0 output in Qwen2.5-Coder-0.5B) copied byte for byte.
        for name in ModelPruner.rowTensorNames {
            guard let source = pruner.file.tensor(named: name) else { continue }
            let pruned = try XCTUnwrap(out.tensor(named: name))
            XCTAssertEqual(pruned.dimensions, [source.rowElements, selection.keptIds.count])
            XCTAssertEqual(pruned.type, source.type)
            for newId in stride(from: 0, to: selection.keptIds.count, by: 97) {
                XCTAssertEqual(out.withRowBytes(pruned, row: newId) { Array($0) },
                               pruner.file.withRowBytes(source, row: selection.keptIds[newId]) { Array($0) }, "\(name) row \(newId)")
            }
        }
        let after = Tokenizer(vocabulary: try Vocabulary.load(path: output))
        let before = Tokenizer(vocabulary: pruner.vocabulary)
        let newIdOf = selection.newIdOfOldId
        let text = try readText(sampleFiles[0])
        XCTAssertEqual(after.encode(text).map(Int.init), before.encode(text).map { newIdOf[Int($0)] })
    }
}
