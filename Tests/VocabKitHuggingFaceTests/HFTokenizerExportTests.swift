import Foundation
import XCTest
import VocabKitGGUF
import VocabKitIO
import VocabKitPrune
import VocabKitSafetensors
import VocabKitTokenizer
@testable import VocabKitHuggingFace

final class HFTokenizerExportTests: HFTestCase {
    /// A GGUF with the toy vocabulary (types: normal, control, user-defined, unused) and a chat template.
    func writeGGUF() throws -> String {
        let path = folder + "/toy.gguf"
        let vocab = ToyCheckpoint.vocab()
        let spellings = vocab.map(\.0) + ["<|endoftext|>", "<think>", "[PAD263]"]
        let types = Array(repeating: 1, count: vocab.count) + [3, 4, 5]
        let merges = ToyCheckpoint.merges.map { "\($0.0) \($0.1)" }
        try GGUFWriter.write(to: path, metadata: [
            ("general.architecture", .value(.string("qwen3"))),
            ("qwen3.context_length", .value(.uint32(4096))),
            ("tokenizer.ggml.model", .value(.string("gpt2"))),
            ("tokenizer.ggml.pre", .value(.string("qwen2"))),
            ("tokenizer.ggml.tokens", .strings(spellings)),
            ("tokenizer.ggml.token_type", .integers(types, type: .int32)),
            ("tokenizer.ggml.merges", .strings(merges)),
            ("tokenizer.ggml.eos_token_id", .value(.uint32(261))),
            ("tokenizer.ggml.padding_token_id", .value(.uint32(261))),
            ("tokenizer.chat_template", .value(.string("{{ messages }}"))),
        ], tensors: [])
        return path
    }

    func testExportOfAPrunedVocabularyTokenizesLikeThePrunedGGUFVocabulary() throws {
        let path = try writeGGUF()
        let file = try GGUFFile(path: path)
        let vocabulary = try Vocabulary.load(gguf: file, source: path)
        let selector = TokenSelector(vocabulary: vocabulary, paddingIds: TokenSelector.defaultPaddingIds(of: vocabulary))
        let selection = try selector.select(counts: [], rules: SelectionRules(keepList: [259]))
        let pruned = try selector.verify(selection).prunedVocabulary
        let export = try HFTokenizerExport(gguf: file, source: path, keeping: selection)
        XCTAssertEqual(export.files.map(\.name), HFTokenizerExport.fileNames)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let set = try OutputSet(outputs: HFTokenizerExport.paths(in: output), inputs: [path])
        try export.stage(into: output, set: set)
        try set.commit()

        let exported = try Vocabulary.load(tokenizerJSON: output + "/tokenizer.json")
        XCTAssertEqual(exported.idCount, pruned.idCount)
        for id in 0..<pruned.idCount {
            XCTAssertEqual(exported.bytes(of: id), pruned.bytes(of: id), "id \(id)")
        }
        XCTAssertEqual(exported.merges, pruned.merges)
        XCTAssertEqual(exported.specialTokens, pruned.specialTokens)
        for text in ["hello world<think>hello", "hell o w", "\u{00FF}\u{1F999}"] {
            XCTAssertEqual(Tokenizer(vocabulary: exported).encode(text), Tokenizer(vocabulary: pruned).encode(text), text)
        }
        let config = try json(output + "/tokenizer_config.json")
        XCTAssertEqual(config["chat_template"]?.stringValue, "{{ messages }}")
        XCTAssertEqual(config["eos_token"]?.stringValue, "<|endoftext|>")
        XCTAssertEqual(config["model_max_length"]?.int, 4096)
        XCTAssertEqual(config["added_tokens_decoder"]?.members?.count, 2)
        let tokenizer = try json(output + "/tokenizer.json")
        XCTAssertEqual(tokenizer["pre_tokenizer"]?["pretokenizers"]?.arrayValue?.first?["pattern"]?["Regex"]?.stringValue,
                       HFPreTokenizer.qwen2.splitPattern)
        XCTAssertEqual(String(decoding: FileManager.default.contents(atPath: output + "/merges.txt")!, as: UTF8.self),
                       "#version: 0.2\nh e\nl l\nhe ll\nhell o\n")
    }

    func testUnknownPreTokenizerIsRefused() throws {
        let path = folder + "/other.gguf"
        try GGUFWriter.write(to: path, metadata: [
            ("tokenizer.ggml.model", .value(.string("gpt2"))), ("tokenizer.ggml.pre", .value(.string("llama-bpe"))),
            ("tokenizer.ggml.tokens", .strings(["a"])),
        ], tensors: [])
        XCTAssertThrowsError(try HFTokenizerExport(gguf: try GGUFFile(path: path), source: path)) {
            XCTAssertTrue("\($0)".contains("'llama-bpe' has no known Hugging Face form"), "\($0)")
        }
    }
}
