import Foundation
import VocabKitTestSupport
import VocabKitTokenizer
import XCTest
@testable import VocabKitPrune

/// The predicted column of a model-aware table: its header lines, merging, and how `coverage`,
/// `predictedCoverage` and `targetSize` read it.
final class PredictedSelectionTests: XCTestCase {
    let vocabulary = bundledVocabulary
    lazy var selector = TokenSelector(vocabulary: vocabulary, paddingIds: TokenSelector.defaultPaddingIds(of: vocabulary))

    /// Counts of the sample corpus, and a predicted column that prefers other tokens: words the corpus never
    /// spells with a leading space, and a markdown fence.
    lazy var columns: (counts: [UInt64], predicted: [UInt64], predictedOnly: [Int]) = {
        let tokenizer = Tokenizer(vocabulary: vocabulary)
        var counts = [UInt64](repeating: 0, count: vocabulary.idCount)
        for file in sampleFiles { for id in tokenizer.encode(try! readText(file)) { counts[Int(id)] += 1 } }
        var predicted = [UInt64](repeating: 0, count: vocabulary.idCount)
        // Half the predictions are the corpus's own most used tokens, half are tokens it never uses.
        let ranked = TokenSelector.ranked(counts, excluding: [])
        for (rank, id) in ranked.prefix(50).enumerated() { predicted[id] = UInt64(100 - rank) }
        var predictedOnly: [Int] = []
        for word in ["```", " Fibonacci", " palindrome", " explanation", " Here", " snippet"] {
            let ids = tokenizer.encode(word, specialTokens: false)
            guard ids.count == 1, counts[Int(ids[0])] == 0 else { continue }
            predicted[Int(ids[0])] = 400
            predictedOnly.append(Int(ids[0]))
        }
        return (counts, predicted, predictedOnly)
    }()

    func testHeaderLinesRoundTripAndMerge() throws {
        var usage = TokenUsage(counts: [0, 5, 2], pieces: [1: "a", 2: "b"], files: 1, bytes: 3, vocabularySource: "v")
        usage.vocabularySize = 151_936
        usage.predicted = UsageColumn(name: TokenUsage.predictedColumnName, values: [0, 1, 0, 7])
        usage.predictedPositions = 8
        usage.prediction = "m.gguf top-k 1"
        let text = usage.tsv()
        for line in ["# vocabulary-size 151936\n", "# predicted-positions 8\n", "# prediction m.gguf top-k 1\n", "# total predicted 8\n",
                     "# columns id count predicted piece\n"] {
            XCTAssertTrue(text.contains(line), line)
        }
        let read = try TokenUsage.parse(text, path: "t.tsv")
        XCTAssertEqual(read.vocabularySize, 151_936)
        XCTAssertEqual(read.predictedPositions, 8)
        XCTAssertEqual(read.prediction, "m.gguf top-k 1")
        XCTAssertEqual(read.predicted?.values[3], 7)

        var answers = read
        answers.prediction = "m.gguf answers"
        let merged = try TokenUsage.merging([("a", read), ("b", read), ("c", answers)])
        XCTAssertEqual(merged.predictedPositions, 24)
        XCTAssertEqual(merged.prediction, "m.gguf top-k 1 + m.gguf answers", "each distinct way of predicting once")
        XCTAssertEqual(merged.predicted?.values[3], 21)
        XCTAssertEqual(merged.vocabularySize, 151_936)

        var other = read
        other.vocabularySize = 151_669
        XCTAssertThrowsError(try TokenUsage.merging([("a", read), ("b", other)])) { error in
            XCTAssertTrue("\(error)".contains("vocabulary of 151669 ids"), "\(error)")
        }
        XCTAssertThrowsError(try TokenUsage.parse("# files 1\n# vocabulary-size 0\n", path: "t")) { error in
            XCTAssertTrue("\(error)".contains("not a vocabulary size"), "\(error)")
        }
        // A table without a predicted column writes no prediction lines.
        XCTAssertFalse(TokenUsage(counts: [1], pieces: [:], files: 1, bytes: 1, vocabularySource: "v").tsv().contains("predicted"))
    }

    /// `coverage` alone covers both columns; the union keeps what the model predicts although the corpus never
    /// spells it.
    func testCoverageCoversBothColumns() throws {
        let (counts, predicted, predictedOnly) = columns
        XCTAssertGreaterThan(predictedOnly.count, 2, "the test needs tokens the corpus does not use")
        let corpusOnly = try selector.select(counts: counts, rules: SelectionRules(coverage: 0.99))
        let union = try selector.select(counts: counts, predicted: predicted, rules: SelectionRules(coverage: 0.99))
        let keptCorpus = Set(corpusOnly.keptIds), keptUnion = Set(union.keptIds)
        XCTAssertTrue(keptCorpus.isSubset(of: keptUnion))
        for id in predictedOnly {
            XCTAssertFalse(keptCorpus.contains(id))
            XCTAssertTrue(keptUnion.contains(id), "predicted token \(id) is kept")
        }
        let rules = Dictionary(union.report.map { ($0.rule, $0.tokens) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(rules["coverage 99%"], corpusOnly.report.first { $0.rule == "coverage 99%" }?.tokens)
        XCTAssertEqual(rules["predicted only (not selected by the counts)"], predictedOnly.count)
        _ = try selector.verify(union)

        // Its own share for the predicted column, and 0 for none of it.
        // The predicted-only tokens are the head of the predicted column: a share just under theirs keeps them all.
        let share = Double(predictedOnly.count * 400) / Double(predicted.reduce(0, +))
        let small = try selector.select(counts: counts, predicted: predicted, rules: SelectionRules(coverage: 0.99, predictedCoverage: share * 0.95))
        XCTAssertTrue(predictedOnly.allSatisfy(Set(small.keptIds).contains))
        XCTAssertEqual(small.report.first { $0.rule.hasPrefix("predicted coverage") }?.tokens, predictedOnly.count)
        let none = try selector.select(counts: counts, predicted: predicted, rules: SelectionRules(coverage: 0.99, predictedCoverage: 0))
        XCTAssertEqual(none.keptIds, corpusOnly.keptIds)
        // The predicted column alone (a table of answers: no corpus counts).
        let answersOnly = try selector.select(counts: [], predicted: predicted, rules: SelectionRules(coverage: 1))
        XCTAssertTrue(predictedOnly.allSatisfy(Set(answersOnly.keptIds).contains))
    }

    func testPredictedRulesNeedAPredictedColumn() throws {
        let (counts, predicted, _) = columns
        XCTAssertThrowsError(try selector.select(counts: counts, rules: SelectionRules(predictedCoverage: 0.9))) { error in
            XCTAssertTrue("\(error)".contains("no predicted column"), "\(error)")
        }
        XCTAssertThrowsError(try selector.select(counts: counts, predicted: [UInt64](repeating: 0, count: 10), rules: SelectionRules(coverage: 0.9))) { error in
            XCTAssertTrue("\(error)".contains("predicted column counts no tokens"), "\(error)")
        }
        XCTAssertThrowsError(try selector.select(counts: [], predicted: predicted, rules: SelectionRules(coverage: 0.9, predictedCoverage: 0.9))) { error in
            XCTAssertTrue("\(error)".contains("counts no tokens"), "\(error)")
        }
        XCTAssertThrowsError(try selector.select(counts: counts, predicted: predicted, rules: SelectionRules(predictedCoverage: 1.5))) { error in
            XCTAssertTrue("\(error)".contains("predicted coverage must be in [0, 1]"), "\(error)")
        }
    }

    /// Trimming to a size weighs both columns equally in total, so tokens the model predicts outrank tokens the
    /// corpus used once.
    func testTargetSizeWeighsPredictions() throws {
        let (counts, predicted, predictedOnly) = columns
        let union = try selector.select(counts: counts, predicted: predicted, rules: SelectionRules(coverage: 1))
        let target = union.keptIds.count - 40
        let trimmed = try selector.select(counts: counts, predicted: predicted, rules: SelectionRules(coverage: 1, targetSize: target))
        XCTAssertEqual(trimmed.keptIds.count, target)
        XCTAssertTrue(predictedOnly.allSatisfy(Set(trimmed.keptIds).contains), "predicted tokens survive the trim")
        // Without the predicted column's weight they would be the first to go (count 0).
        let countsOnly = try selector.select(counts: counts, rules: SelectionRules(coverage: 1, keepList: predictedOnly, targetSize: target))
        XCTAssertFalse(predictedOnly.allSatisfy(Set(countsOnly.keptIds).contains))
        _ = try selector.verify(trimmed)
    }

    /// `prune --usage` reads the predicted column of a table; `--predicted-coverage` is refused for a table
    /// without one, with one error line.
    func testPruneCommandReadsThePredictedColumn() throws {
        let folder = try temporaryFolder()
        let model = folder + "/model.gguf"
        try TinyModel.write(to: model)
        let (counts, predicted, predictedOnly) = columns
        var usage = TokenUsage(counts: counts, pieces: [:], files: 2, bytes: 1, vocabularySource: model,
                               vocabularyFingerprint: vocabulary.fingerprint)
        usage.predicted = UsageColumn(name: TokenUsage.predictedColumnName, values: predicted)
        usage.predictedPositions = Int(predicted.reduce(0, +))
        let table = folder + "/usage.tsv", plain = folder + "/plain.tsv"
        try usage.write(to: table, vocabulary: vocabulary)
        usage.predicted = nil
        try usage.write(to: plain, vocabulary: vocabulary)

        let pruned = folder + "/pruned.gguf", remap = folder + "/remap.tsv"
        let run = try CLI.run(["prune", model, "--usage", table, "--coverage", "0.99", "-o", pruned, "--remap", remap])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("predicted coverage 99%:"), run.stdout)
        let kept = Set(try String(contentsOfFile: remap, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
            .compactMap { Int($0.split(separator: "\t")[0]) })
        XCTAssertTrue(predictedOnly.allSatisfy(kept.contains))

        let none = try CLI.run(["prune", model, "--usage", table, "--coverage", "0.99", "--predicted-coverage", "0", "--dry-run"])
        XCTAssertEqual(none.status, 0, none.stderr)
        XCTAssertFalse(none.stdout.contains("predicted coverage"), none.stdout)

        let refused = try CLI.run(["prune", model, "--usage", plain, "--predicted-coverage", "0.9", "--dry-run"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.hasPrefix("error: ") && refused.stderr.contains("no predicted column"), refused.stderr)
        XCTAssertEqual(refused.stderr.filter { $0 == "\n" }.count, 1, refused.stderr)
        let bad = try CLI.run(["prune", model, "--usage", table, "--predicted-coverage", "2", "--dry-run"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--predicted-coverage must be a fraction from 0 to 1"), bad.stderr)
    }

    /// Model-aware options without --model are refused before anything is read.
    func testModelOptionsNeedAModel() throws {
        for (args, needle) in [(["--top-k", "3"], "--top-k needs --model"), (["--answers", "p.txt"], "--answers needs --model"),
                               (["--sample", "10"], "--sample needs --model")] {
            let run = try CLI.run(["count", sampleFiles[0]] + args)
            XCTAssertNotEqual(run.status, 0)
            XCTAssertTrue(run.stderr.contains(needle), run.stderr)
        }
    }
}
