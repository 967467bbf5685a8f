import Foundation
import VocabKitTokenizer
import XCTest
import VocabKitTestSupport

/// `count` and `prune` on the Qwen3.5 and Llama-3 vocabularies (llama.cpp's vocabulary-only GGUFs, from
/// Tests/Fixtures/llama-vocab/fetch.sh --gguf): the pruned file is the one llama.cpp read when
/// Tests/Oracle/make_pruned_vocab_goldens.sh made Tests/Fixtures/llama-goldens/pruned-vocab.json, VocabKit
/// tokenizes it as llama-tokenize does, and a line whose tokens were all kept gets the remapped ids.
final class FamilyPruneTests: XCTestCase {
    struct Golden: Decodable {
        struct Family: Decodable {
            let file_bytes: Int
            let file_checksum: String
            let cases: [Case]
        }
        struct Case: Decodable {
            let text: String
            let ids: [TokenID]
        }
        let corpus: [String]
        let families: [String: Family]
    }

    func run(_ args: [String]) throws -> CLI.Result { try CLI.run(args) }

    /// The word checksum of Tests/Oracle/make_pruned_vocab_goldens.sh: Σ word_i · (2i + 1) mod 2^64.
    static func checksum(_ path: String) throws -> UInt64 {
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data.append(contentsOf: [UInt8](repeating: 0, count: (8 - data.count % 8) % 8))
        return data.withUnsafeBytes { raw in
            var sum: UInt64 = 0
            for i in 0..<(raw.count / 8) {
                sum &+= UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)) &* (2 &* UInt64(i) &+ 1)
            }
            return sum
        }
    }

    func source(_ family: String) throws -> String {
        let path = repositoryRoot.appendingPathComponent(".build-testdata/ggml-vocab-\(family).gguf").path
        if FileManager.default.fileExists(atPath: path) { return path }
        if ProcessInfo.processInfo.environment["VOCABKIT_REQUIRE_TEST_DATA"] == "1" {
            XCTFail("\(path) is missing; run Tests/Scripts/fetch-test-data.sh")
        }
        throw XCTSkip("\(path) not fetched; run Tests/Scripts/fetch-test-data.sh")
    }

    func testPrunedQwen35AndLlama3VocabulariesTokenizeAsLlamaCpp() throws {
        let url = repositoryRoot.appendingPathComponent("Tests/Fixtures/llama-goldens/pruned-vocab.json")
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
        let corpus = golden.corpus.map { repositoryRoot.appendingPathComponent($0).path }
        for family in ["qwen35", "llama-bpe"] {
            let expected = try XCTUnwrap(golden.families[family])
            let original = try source(family)
            let folder = NSTemporaryDirectory() + "vk-family-prune-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let usage = folder + "/usage.tsv", pruned = folder + "/ggml-vocab-\(family).gguf"
            let count = try run(["count", "--vocab", original] + corpus + ["-o", usage])
            XCTAssertEqual(count.status, 0, count.stderr)
            let prune = try run(["prune", original, "--usage", usage, "--coverage", "0.99", "-o", pruned])
            XCTAssertEqual(prune.status, 0, prune.stderr)
            let attributes = try FileManager.default.attributesOfItem(atPath: pruned)
            XCTAssertEqual(attributes[.size] as? Int, expected.file_bytes, "\(family): not the file llama.cpp read")
            XCTAssertEqual(String(try Self.checksum(pruned)), expected.file_checksum, "\(family): not the file llama.cpp read")

            let before = try Tokenizer(contentsOf: original), after = try Tokenizer(contentsOf: pruned)
            XCTAssertEqual(after.preTokenizer.name, family)
            var remapped = 0
            for c in expected.cases {
                XCTAssertEqual(after.encode(c.text), c.ids, "\(family): \(c.text.debugDescription)")
                // The same token's bytes in the pruned vocabulary: its new id, if it was kept.
                let newIds = before.encode(c.text).map { id in after.vocabulary.id(of: before.vocabulary.bytes(of: Int(id))) }
                if newIds.allSatisfy({ $0 != nil }) {
                    XCTAssertEqual(newIds.compactMap { $0.map { TokenID($0) } }, c.ids, "\(family) remapped: \(c.text.debugDescription)")
                    remapped += 1
                }
            }
            XCTAssertGreaterThan(remapped, expected.cases.count * 3 / 4, family)
            XCTAssertLessThan(remapped, expected.cases.count, "\(family): some golden text should use pruned tokens")
        }
    }
}
