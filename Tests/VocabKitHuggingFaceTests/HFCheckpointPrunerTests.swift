import Foundation
import XCTest
import VocabKitIO
import VocabKitPrune
import VocabKitSafetensors
import VocabKitTokenizer
@testable import VocabKitHuggingFace

final class HFCheckpointPrunerTests: HFTestCase {
    /// Keeps "hello" (and by closure he, ll, hell), the bytes and the specials; drops "Ġw" and the padding row.
    func prune(_ toy: ToyCheckpoint, padTo: Int = 1, remap: String? = nil) throws -> (TokenSelection, HFCheckpointPruner.Summary) {
        try toy.write(to: input)
        let pruner = try HFCheckpointPruner(directory: input)
        let selector = try pruner.selector()
        let selection = try selector.verify(try selector.select(counts: [], rules: SelectionRules(keepList: [259])))
        let summary = try pruner.write(selection, to: output, padTo: padTo, remapPath: remap, selector: selector)
        return (selection.selection, summary)
    }

    func testPrunedCheckpointRemapsEveryIdAndKeepsRowsByteForByte() throws {
        for mergesAsStrings in [false, true] {
            try? FileManager.default.removeItem(atPath: output)
            let (selection, summary) = try prune(ToyCheckpoint(mergesAsStrings: mergesAsStrings), remap: folder + "/remap.tsv")
            let kept = selection.keptIds
            XCTAssertEqual(kept.count, 256 + 4 + 2)
            XCTAssertFalse(kept.contains(260), "Ġw was not selected")
            XCTAssertEqual(summary.outputRows, kept.count)
            let newId = selection.newIdOfOldId

            let config = try json(output + "/config.json")
            XCTAssertEqual(config["vocab_size"]?.int, kept.count)
            XCTAssertEqual(config["bos_token_id"]?.int, newId[261])
            XCTAssertEqual(config["rms_norm_eps"], .number("1e-06"), "numbers are written as they were")
            XCTAssertEqual(config["pad_token_id"], .null)
            XCTAssertEqual(config.members?.map(\.key).last, "vocab_size", "key order kept")
            let generation = try json(output + "/generation_config.json")
            XCTAssertEqual(generation["eos_token_id"], .array([.integer(newId[261]), .integer(newId[262])]))

            let tokenizer = try json(output + "/tokenizer.json")
            XCTAssertEqual(tokenizer["model"]?["vocab"]?["hello"]?.int, newId[259])
            XCTAssertNil(tokenizer["model"]?["vocab"]?["Ġw"])
            let merges = tokenizer["model"]?["merges"]?.arrayValue ?? []
            XCTAssertEqual(merges.count, 4)
            XCTAssertEqual(merges.first, mergesAsStrings ? .string("h e") : .array([.string("h"), .string("e")]))
            XCTAssertEqual(tokenizer["added_tokens"]?.arrayValue?.map { $0["id"]?.int }, [newId[261], newId[262]])
            let original = try json(input + "/tokenizer.json")
            for key in ["normalizer", "pre_tokenizer", "decoder", "post_processor"] { XCTAssertEqual(tokenizer[key], original[key], key) }

            let tokenizerConfig = try json(output + "/tokenizer_config.json")
            XCTAssertEqual(tokenizerConfig["added_tokens_decoder"]?.members?.map(\.key), [String(newId[261]), String(newId[262])])
            XCTAssertEqual(tokenizerConfig["chat_template"], try json(input + "/tokenizer_config.json")["chat_template"])
            let vocabJSON = try json(output + "/vocab.json")
            XCTAssertEqual(vocabJSON.members?.count, kept.count - 2)
            let mergesText = String(decoding: FileManager.default.contents(atPath: output + "/merges.txt")!, as: UTF8.self)
            XCTAssertEqual(mergesText, "#version: 0.2\nh e\nl l\nhe ll\nhell o\n")
            XCTAssertEqual(FileManager.default.contents(atPath: output + "/LICENSE"), FileManager.default.contents(atPath: input + "/LICENSE"))
            XCTAssertEqual(try json(output + "/vocabkit_prune.json")["kept_ids"]?.int, kept.count)
            XCTAssertEqual(String(decoding: FileManager.default.contents(atPath: folder + "/remap.tsv")!, as: UTF8.self), selection.remapTSV)

            // The pruned tokenizer reads back and tokenizes with the new ids.
            let vocabulary = try Vocabulary.load(tokenizerJSON: output + "/tokenizer.json")
            XCTAssertEqual(Tokenizer(vocabulary: vocabulary).encode("hello<think>"), [newId[259], newId[262]].map { TokenID($0) })

            let weights = try SafetensorsFile(path: output + "/model.safetensors")
            let embedding = weights.tensor(named: "model.embed_tokens.weight")!
            XCTAssertEqual(embedding.shape, [kept.count, 4])
            weights.withBytes(of: embedding) { bytes in
                XCTAssertEqual(Array(bytes), kept.flatMap { ToyCheckpoint.row($0) })
            }
            let head = weights.tensor(named: "lm_head.weight")!
            weights.withBytes(of: head) { XCTAssertEqual(Array($0), kept.flatMap { ToyCheckpoint.row($0, head: true) }) }
            weights.withBytes(of: weights.tensor(named: "model.norm.weight")!) { XCTAssertEqual(Array($0), ToyCheckpoint.row(7)) }
            XCTAssertEqual(weights.metadata?.first?.value, "pt")
        }
    }

    /// The chat template's own text is kept, from tokenizer_config.json (one template, or a list of named ones)
    /// and from chat_template.jinja, unless the caller opts out.
    func testChatTemplateTokensAreKept() throws {
        try ToyCheckpoint().write(to: input)
        let configPath = input + "/tokenizer_config.json"
        let config = try String(contentsOfFile: configPath, encoding: .utf8)
        let original = #""chat_template": "{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}""#
        XCTAssertTrue(config.contains(original))
        func withTemplate(_ value: String) throws {
            try config.replacingOccurrences(of: original, with: #""chat_template": "# + value).write(toFile: configPath, atomically: false, encoding: .utf8)
        }
        func kept(_ keepChatTemplate: Bool = true) throws -> Set<Int> {
            let selector = try HFCheckpointPruner(directory: input).selector(keepChatTemplate: keepChatTemplate)
            return Set(try selector.select(counts: [], rules: SelectionRules(keepList: [97])).keptIds)
        }
        XCTAssertFalse(try kept().contains(259))
        try withTemplate(#""{{ 'hello' }}""#)
        XCTAssertTrue(try kept().contains(259), "hello, written by the template")
        XCTAssertFalse(try kept(false).contains(259))
        try withTemplate(#"[{"name": "default", "template": "x"}, {"name": "tool_use", "template": "{{ ' w' }}hello"}]"#)
        XCTAssertTrue(try kept().isSuperset(of: [259, 260]), "both named templates")
        try withTemplate(#""""#)
        try "say hello".write(toFile: input + "/chat_template.jinja", atomically: false, encoding: .utf8)
        XCTAssertTrue(try kept().contains(259), "chat_template.jinja")
        try Data([0x73, 0xFF, 0xFE]).write(to: URL(fileURLWithPath: input + "/chat_template.jinja"))
        XCTAssertThrowsError(try HFCheckpointPruner(directory: input).selector()) { error in
            XCTAssertTrue("\(error)".contains("chat_template.jinja") && "\(error)".contains("UTF-8"), "\(error)")
        }
    }

    func testTiedShardedAndPadded() throws {
        let (selection, summary) = try prune(ToyCheckpoint(tied: true, sharded: true), padTo: 8)
        let kept = selection.keptIds
        XCTAssertEqual(summary.outputRows, 264)  // 262 kept, rounded up to a multiple of 8
        XCTAssertEqual(entries(output), ["LICENSE", "config.json", "generation_config.json", "merges.txt", "model-00001-of-00002.safetensors",
                                         "model-00002-of-00002.safetensors", "model.safetensors.index.json", "tokenizer.json",
                                         "tokenizer_config.json", "vocab.json", "vocabkit_prune.json"])
        let checkpoint = try SafetensorsCheckpoint(directory: output)
        let (shard, embedding) = checkpoint.locate("model.embed_tokens.weight")!
        XCTAssertNil(checkpoint.locate("lm_head.weight"))
        XCTAssertEqual(embedding.shape, [264, 4])
        // Padding rows: the original's rows no token reaches (263), then zeros.
        shard.withBytes(of: embedding) { bytes in
            XCTAssertEqual(Array(bytes), kept.flatMap { ToyCheckpoint.row($0) } + ToyCheckpoint.row(263) + [UInt8](repeating: 0, count: 16))
        }
        let index = try json(output + "/model.safetensors.index.json")
        XCTAssertEqual(index["metadata"]?["total_size"]?.int, (264 * 4 + 4) * 4)
        XCTAssertEqual(try json(output + "/config.json")["vocab_size"]?.int, 264)
    }

    func expectRefusal(_ toy: ToyCheckpoint, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try? FileManager.default.removeItem(atPath: input)
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        try toy.write(to: input)
        XCTAssertThrowsError(try HFCheckpointPruner(directory: input), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(fragment), "\(error) lacks '\(fragment)'", file: file, line: line)
            XCTAssertFalse("\(error)".contains("\n"), "one line", file: file, line: line)
        }
    }

    func testInconsistentCheckpointsAreRefusedInOneLine() throws {
        try expectRefusal(ToyCheckpoint(embeddingRows: 300), "has 300 rows but config.json vocab_size is 264")
        try expectRefusal(ToyCheckpoint(vocabSize: 200, embeddingRows: 200, headRows: 200), "has ids up to 262 but config.json vocab_size is 200")
        try expectRefusal(ToyCheckpoint(headRows: 100), "lm_head.weight is F32 [100, 4], the embedding F32 [264, 4]")
        try expectRefusal(ToyCheckpoint(modelType: "llama"), "model_type 'llama' (supported: qwen2, qwen3)")
        var untiedWithoutHead = ToyCheckpoint(tied: true)
        untiedWithoutHead.tied = true
        try untiedWithoutHead.write(to: input)
        let config = try String(contentsOfFile: input + "/config.json").replacingOccurrences(of: "\"tie_word_embeddings\": true", with: "\"tie_word_embeddings\": false")
        try config.write(toFile: input + "/config.json", atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try HFCheckpointPruner(directory: input)) { XCTAssertTrue("\($0)".contains("no lm_head.weight"), "\($0)") }
    }

    func testDisagreeingTokenizerFilesAndForeignWeightsAreRefused() throws {
        try ToyCheckpoint().write(to: input)
        try "#version: 0.2\nh e\nl l\n".write(toFile: input + "/merges.txt", atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try HFCheckpointPruner(directory: input)) { XCTAssertTrue("\($0)".contains("merges.txt has 2 merges"), "\($0)") }
        try ToyCheckpoint().write(to: input)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: input + "/pytorch_model.bin"))
        let pruner = try HFCheckpointPruner(directory: input)
        let selection = try pruner.selector().verify(try pruner.selector().select(counts: [], rules: SelectionRules(keepList: [259])))
        XCTAssertThrowsError(try pruner.write(selection, to: output)) { XCTAssertTrue("\($0)".contains("pytorch_model.bin: cannot prune"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: output), "nothing created")
    }

    func testConfigIdsMustBeTokens() throws {
        try ToyCheckpoint().write(to: input)
        try #"{"bos_token_id": 263, "eos_token_id": [261]}"#.write(toFile: input + "/generation_config.json", atomically: false, encoding: .utf8)
        let pruner = try HFCheckpointPruner(directory: input)
        XCTAssertThrowsError(try pruner.selector()) { XCTAssertTrue("\($0)".contains("generation_config.json bos_token_id names id 263"), "\($0)") }
        try #"{"eos_token_id": "x"}"#.write(toFile: input + "/generation_config.json", atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try HFCheckpointPruner(directory: input).selector()) { XCTAssertTrue("\($0)".contains("eos_token_id is a string"), "\($0)") }
        try #"{"eos_token_id": 261,"#.write(toFile: input + "/generation_config.json", atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try HFCheckpointPruner(directory: input)) { XCTAssertTrue("\($0)".contains("not valid JSON"), "\($0)") }
    }

    func testOutputDirectoryRules() throws {
        try ToyCheckpoint().write(to: input)
        let pruner = try HFCheckpointPruner(directory: input)
        let selection = try pruner.selector().verify(try pruner.selector().select(counts: [], rules: SelectionRules(keepList: [259])))
        let before = entries(input).map { FileManager.default.contents(atPath: input + "/" + $0) }
        XCTAssertThrowsError(try pruner.write(selection, to: input)) { XCTAssertTrue("\($0)".contains("is the checkpoint being pruned"), "\($0)") }
        XCTAssertThrowsError(try pruner.write(selection, to: input + "/")) { XCTAssertTrue("\($0)".contains("is the checkpoint being pruned"), "\($0)") }
        // The remap may not replace an input; the directory the run created is removed again.
        XCTAssertThrowsError(try pruner.write(selection, to: output, remapPath: input + "/config.json")) { error in
            XCTAssertEqual(error as? FileError, .outputIsInput(output: self.input + "/config.json", input: self.input + "/config.json"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: output))
        XCTAssertEqual(entries(input).map { FileManager.default.contents(atPath: input + "/" + $0) }, before, "inputs untouched")
        // A directory holding other files is refused; one holding only this run's outputs is rewritten.
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: false)
        try "x".write(toFile: output + "/stale-shard.safetensors", atomically: false, encoding: .utf8)
        XCTAssertThrowsError(try pruner.write(selection, to: output)) { XCTAssertTrue("\($0)".contains("holds stale-shard.safetensors"), "\($0)") }
        try FileManager.default.removeItem(atPath: output + "/stale-shard.safetensors")
        try pruner.write(selection, to: output)
        try pruner.write(selection, to: output)
        XCTAssertEqual(entries(output).filter { $0.hasPrefix(".") }, [], "no temporary files left")
        XCTAssertThrowsError(try pruner.write(selection, to: input + "/LICENSE")) { XCTAssertTrue("\($0)".contains("not a directory"), "\($0)") }
    }
}
