import Foundation
import XCTest
import VocabKitGGUF
import VocabKitInference
import VocabKitPrune
import VocabKitTokenizer

/// `ParityChecker` and `vocabkit check` on a tiny model with the real vocabulary and a copy pruned by
/// VocabKitPrune to the tokens a real source file (Corpora/sample/bisect.py) uses at least twice.
final class ParityTests: XCTestCase {
    struct Models {
        let folder: String, original: String, pruned: String, broken: String, oneLayer: String
        let text: String
        let selection: TokenSelection
    }

    /// Built once for the class (writing and pruning a 151,936-row model takes a few seconds in debug).
    nonisolated(unsafe) static var shared: Models?

    static func models() throws -> Models {
        if let shared { return shared }
        let folder = NSTemporaryDirectory() + "vk-parity-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("Corpora/sample/bisect.py"), encoding: .utf8)
        let ids = Tokenizer(vocabulary: try Vocabulary.bundled()).encode(text, specialTokens: false).map(Int.init)
        let original = folder + "/original.gguf", pruned = folder + "/pruned.gguf"
        try VocabModel.write(to: original, seed: 51, favored: Set(ids))
        let selection = try VocabModel.prune(original, keepingTokensOf: text, to: pruned)
        let m = Models(folder: folder, original: original, pruned: pruned, broken: folder + "/broken.gguf",
                       oneLayer: folder + "/one-layer.gguf", text: text, selection: selection)
        // The output row of the text's most frequent token (kept, often predicted) changed in a pruned copy.
        let counts = Dictionary(ids.map { ($0, 1) }, uniquingKeysWith: +)
        let common = counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }!.key
        let newId = try XCTUnwrap(selection.keptIds.firstIndex(of: common))
        try VocabModel.corrupt(pruned, to: m.broken, tensor: "output.weight", row: newId, delta: 0.25)
        try VocabModel.write(to: m.oneLayer, seed: 52, layers: 1)
        shared = m
        return m
    }

    override class func tearDown() {
        if let shared { try? FileManager.default.removeItem(atPath: shared.folder) }
        shared = nil
        super.tearDown()
    }

    private func checker(_ m: Models, pruned: String) throws -> ParityChecker {
        let a = try GGUFFile(path: m.original), b = try GGUFFile(path: pruned)
        return try ParityChecker(
            original: try LanguageModel(file: a, maxContext: 64), originalTokenizer: Tokenizer(vocabulary: try Vocabulary.load(gguf: a, source: m.original)),
            pruned: try LanguageModel(file: b, maxContext: 64), prunedTokenizer: Tokenizer(vocabulary: try Vocabulary.load(gguf: b, source: pruned)),
            map: try VocabularyMap(original: a, pruned: b))
    }

    /// Lines of the counted text: some use a token counted once (pruned), others only kept tokens.
    private func lines(_ m: Models) -> [String] {
        m.text.split(separator: "\n").map(String.init).filter { $0.count > 12 }.prefix(20).map { $0 }
    }

    func testVocabularyMapFollowsSpellings() throws {
        let m = try Self.models()
        let map = try VocabularyMap(original: try GGUFFile(path: m.original), pruned: try GGUFFile(path: m.pruned))
        XCTAssertEqual(map.originalOfPruned, m.selection.keptIds)  // prune keeps ids in ascending order
        XCTAssertEqual(map.kept.filter { $0 }.count, m.selection.keptIds.count)
    }

    func testPrunedCopyHasParity() throws {
        let m = try Self.models()
        let c = try checker(m, pruned: m.pruned)
        let results = try lines(m).enumerated().map { try c.check($0.element, label: "line \($0.offset)", specialTokens: false, greedyTokens: 6, contextLength: 64) }
        let report = ParityReport(texts: results)
        XCTAssertGreaterThan(report.unchangedTexts, 3, "some lines use only kept tokens")
        XCTAssertLessThan(report.unchangedTexts, results.count, "some lines use a pruned token")
        XCTAssertEqual(report.maxLogitDifference, 0, "rows are copied byte for byte: logits over kept tokens are identical")
        XCTAssertEqual(report.maxKL, 0)
        XCTAssertTrue(report.holds)
        for r in results {
            if r.tokenizationUnchanged {
                XCTAssertEqual(r.comparedPositions, r.originalTokens)
                // Identical logits: the pruned top-1 is the original's exactly when the original's is kept.
                XCTAssertEqual(r.top1Agreements + r.originalTop1Pruned, r.comparedPositions, r.label)
                XCTAssertTrue(r.greedyAgrees || r.greedyDivergedOnPrunedToken, r.label)
                // Same tokens and logits, but the pruned softmax spreads over kept tokens only: each kept token's
                // probability is the original's divided by the kept share, so the NLL can only drop.
                XCTAssertEqual(r.originalTotals.count, r.prunedTotals.count)
                XCTAssertEqual(r.originalTotals.bytes, r.prunedTotals.bytes)
                XCTAssertLessThanOrEqual(r.prunedTotals.sum, r.originalTotals.sum + 1e-9, r.label)
                XCTAssertEqual(r.originalTokensPruned, 0)
            } else {
                XCTAssertLessThan(r.comparedPositions, r.originalTokens, r.label)
                XCTAssertGreaterThan(r.originalTokensPruned, 0, r.label)
                XCTAssertGreaterThan(r.prunedTokens, r.originalTokens, "a pruned token is spelled with more, smaller tokens")
            }
        }
        XCTAssertGreaterThan(report.greedyAgreementsUnchanged, 0, "the favored kept tokens make some greedy runs agree")
        XCTAssertGreaterThan(report.originalTop1Pruned, 0, "the original sometimes prefers a token used once")
        XCTAssertLessThan(report.top1Agreement, 1)
    }

    func testChangedRowBreaksParity() throws {
        let m = try Self.models()
        let c = try checker(m, pruned: m.broken)
        let results = try lines(m).prefix(6).map { try c.check($0, label: "", specialTokens: false, greedyTokens: 4, contextLength: 64) }
        let report = ParityReport(texts: results)
        XCTAssertFalse(report.holds)
        XCTAssertGreaterThan(report.maxLogitDifference, 0)
        XCTAssertGreaterThan(report.maxKL, 0)
    }

    func testModelsThatDoNotBelongTogetherAreRefused() throws {
        let m = try Self.models()
        let a = try GGUFFile(path: m.original), b = try GGUFFile(path: m.oneLayer)
        XCTAssertThrowsError(try ParityChecker(
            original: try LanguageModel(file: a), originalTokenizer: Tokenizer(vocabulary: try Vocabulary.load(gguf: a, source: "a")),
            pruned: try LanguageModel(file: b), prunedTokenizer: Tokenizer(vocabulary: try Vocabulary.load(gguf: b, source: "b")),
            map: try VocabularyMap(original: a, pruned: b))) {
            XCTAssertEqual($0 as? ParityError, .shapeMismatch(what: "block_count", original: 2, pruned: 1))
        }
        // Ids match by spelling: the pruned model's tokens must all exist in the original.
        XCTAssertThrowsError(try VocabularyMap(original: try GGUFFile(path: m.pruned), pruned: a)) {
            guard case .tokenNotInOriginal? = $0 as? ParityError else { return XCTFail("\($0)") }
        }
    }

    func testParityWindowsAreWholeLinesWithinBudget() throws {
        let m = try Self.models()
        let tokenizer = Tokenizer(vocabulary: try Vocabulary.bundled())
        let all = parityWindows(m.text, tokenizer: tokenizer, maxTokens: 40, count: 1000)
        XCTAssertEqual(all.joined().filter { !$0.isWhitespace }, m.text.filter { !$0.isWhitespace }, "windows cover the text in order")
        for w in all where w.split(separator: "\n").count > 1 {
            XCTAssertLessThanOrEqual(tokenizer.encode(w, specialTokens: false).count, 40)
        }
        let spread = parityWindows(m.text, tokenizer: tokenizer, maxTokens: 40, count: 3)
        XCTAssertEqual(spread, [all[0], all[all.count / 3], all[2 * all.count / 3]])
    }

    // MARK: vocabkit check

    private func promptsFile(_ m: Models) throws -> String {
        let path = evalScratchPath("prompts.txt")
        let prompts = lines(m).prefix(8).joined(separator: "\n") + "\n\nimport math\\n\\ndef f(x):\\n\n"
        try Data(prompts.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func testCheckCommandExitStatusFollowsParity() throws {
        let m = try Self.models()
        let prompts = try promptsFile(m)
        let good = try VocabKitBinary.run(["check", m.original, m.pruned, "--prompts", prompts, "--ctx", "64", "-n", "4", "--json"])
        XCTAssertEqual(good.status, 0, good.stderr)
        XCTAssertEqual(good.stderr, "")
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(good.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["parity"] as? Bool, true)
        XCTAssertEqual(object["max_logit_diff"] as? Double, 0)
        XCTAssertEqual(object["texts"] as? Int, 9, "8 lines and one escaped prompt; the empty line is skipped")
        let results = try XCTUnwrap(object["results"] as? [[String: Any]])
        let escaped = Tokenizer(vocabulary: try Vocabulary.bundled()).encode("import math\n\ndef f(x):\n")
        XCTAssertEqual(results.last?["original_tokens"] as? Int, escaped.count, "\\n in a prompt line is a line feed")
        for key in ["top1_agreement", "mean_kl", "original_top1_pruned", "bits_per_byte_original", "bits_per_byte_pruned", "greedy_agree"] {
            XCTAssertNotNil(object[key], key)
        }

        let bad = try VocabKitBinary.run(["check", m.original, m.broken, "--prompts", prompts, "--ctx", "64", "-n", "4"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stdout.contains("parity FAILS"), bad.stdout)

        let file = try VocabKitBinary.run(["check", m.original, m.pruned, "--file", prompts, "--ctx", "64", "-n", "4", "--windows", "2"])
        XCTAssertEqual(file.status, 0, file.stdout + file.stderr)
        XCTAssertTrue(file.stdout.contains("parity holds"), file.stdout)
    }

    /// Parity from two paths in a few lines: the library does what `check --file` does, with the same numbers.
    func testParityFromTwoPaths() throws {
        let m = try Self.models()
        let checker = try ParityChecker(originalPath: m.original, prunedPath: m.pruned, contextLength: 64)
        let report = try checker.check(text: m.text, windows: 3, greedyTokens: 4)
        XCTAssertTrue(report.holds)
        XCTAssertEqual(report.texts.count, 3)
        XCTAssertEqual(report.texts.map(\.label), ["window 1", "window 2", "window 3"])

        let textFile = evalScratchPath("bisect.py")
        try Data(m.text.utf8).write(to: URL(fileURLWithPath: textFile))
        let cli = try VocabKitBinary.run(["check", m.original, m.pruned, "--file", textFile, "--ctx", "64", "-n", "4", "--windows", "3", "--json"])
        XCTAssertEqual(cli.status, 0, cli.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(cli.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["compared_positions"] as? Int, report.comparedPositions)
        XCTAssertEqual(object["original_top1_pruned"] as? Int, report.originalTop1Pruned)
        XCTAssertEqual(object["bits_per_byte_original"] as? Double, report.originalTotals.bitsPerByte)
        XCTAssertEqual(object["greedy_agree"] as? Int, report.greedyAgreements)

        let broken = try ParityChecker(originalPath: m.original, prunedPath: m.broken, contextLength: 64)
        XCTAssertFalse(try broken.check(text: m.text, windows: 2, greedyTokens: 4).holds)
        XCTAssertThrowsError(try ParityChecker(originalPath: m.original, prunedPath: m.oneLayer, contextLength: 64)) {
            XCTAssertEqual($0 as? ParityError, .shapeMismatch(what: "block_count", original: 2, pruned: 1))
        }
        XCTAssertThrowsError(try checker.check(text: "\n  \n", windows: 2)) {
            XCTAssertEqual($0 as? ParityError, .emptyText(label: "the text"))
        }
    }

    func testCheckCommandErrorsAreOneLine() throws {
        let m = try Self.models()
        let prompts = try promptsFile(m)
        func expectOneErrorLine(_ args: [String], containing needle: String) throws {
            let r = try VocabKitBinary.run(args)
            XCTAssertEqual(r.status, 1, "\(args): \(r.stdout)")
            XCTAssertTrue(r.stderr.hasPrefix("error: ") && r.stderr.filter { $0 == "\n" }.count == 1, r.stderr)
            XCTAssertTrue(r.stderr.contains(needle), "\(r.stderr) should mention \(needle)")
        }
        try expectOneErrorLine(["check", m.original + ".missing", m.pruned, "--prompts", prompts], containing: ".missing")
        try expectOneErrorLine(["check", m.original, prompts, "--prompts", prompts], containing: prompts)
        try expectOneErrorLine(["check", m.original, m.pruned, "--prompts", prompts + ".missing"], containing: "no such file")
        try expectOneErrorLine(["check", m.original, m.oneLayer, "--prompts", prompts, "--ctx", "64"], containing: "block_count")
    }
}
