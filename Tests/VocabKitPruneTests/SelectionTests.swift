import Foundation
import VocabKitTokenizer
import XCTest
@testable import VocabKitPrune

final class TokenSelectionTests: XCTestCase {
    let vocabulary = bundledVocabulary
    lazy var selector = TokenSelector(vocabulary: vocabulary, paddingIds: TokenSelector.defaultPaddingIds(of: vocabulary))
    lazy var sampleCounts: [UInt64] = {
        let tokenizer = Tokenizer(vocabulary: vocabulary)
        var counts = [UInt64](repeating: 0, count: vocabulary.idCount)
        for file in sampleFiles { for id in tokenizer.encode(try! readText(file)) { counts[Int(id)] += 1 } }
        return counts
    }()

    /// Every part of every kept token is kept, and bytes and specials are.
    func assertClosed(_ selection: TokenSelection, file: StaticString = #filePath, line: UInt = #line) {
        let kept = Set(selection.keptIds)
        for merge in vocabulary.merges where kept.contains(Int(merge.result)) {
            XCTAssertTrue(kept.contains(Int(merge.left)) && kept.contains(Int(merge.right)),
                          "merge for \(merge.result) lost a part", file: file, line: line)
        }
        for byte in 0..<256 { XCTAssertTrue(kept.contains(vocabulary.id(of: [UInt8(byte)])!), file: file, line: line) }
        for special in vocabulary.specialTokens { XCTAssertTrue(kept.contains(special.id), file: file, line: line) }
        XCTAssertEqual(selection.keptIds, selection.keptIds.sorted(), file: file, line: line)
    }

    func testTopKeepsMostUsedPlusClosure() throws {
        let selection = try selector.select(counts: sampleCounts, rules: SelectionRules(top: 200))
        assertClosed(selection)
        let kept = Set(selection.keptIds)
        let ranked = (0..<sampleCounts.count).filter { sampleCounts[$0] > 0 }
            .sorted { sampleCounts[$0] != sampleCounts[$1] ? sampleCounts[$0] > sampleCounts[$1] : $0 < $1 }
        for id in ranked.prefix(200) { XCTAssertTrue(kept.contains(id)) }
        XCTAssertFalse(kept.contains(ranked[ranked.count - 1]) && ranked.count > 2000)
        XCTAssertEqual(selection.report.first { $0.rule == "top 200" }?.tokens, 200)
        XCTAssertEqual(selection.report.first { $0.rule == "byte tokens" }?.tokens, 256)
        XCTAssertLessThan(selection.keptIds.count, 2000)
        XCTAssertEqual(selection.report.last?.tokens, selection.keptIds.count)
        _ = try selector.verify(selection)
    }

    func testCoverageAndMinCountAndKeepListUnite() throws {
        let total = sampleCounts.reduce(0, +)
        let selection = try selector.select(counts: sampleCounts, rules: SelectionRules(coverage: 0.9, minCount: 20, keepList: [151_000]))
        assertClosed(selection)
        let kept = Set(selection.keptIds)
        XCTAssertTrue(kept.contains(151_000))
        for id in sampleCounts.indices where sampleCounts[id] >= 20 { XCTAssertTrue(kept.contains(id)) }
        let covered = selection.keptIds.reduce(UInt64(0)) { $0 + sampleCounts[$1] }
        XCTAssertGreaterThanOrEqual(Double(covered), 0.9 * Double(total))
    }

    func testDropListTakesDescendantsAndRefusesBytes() throws {
        let tokenizer = Tokenizer(vocabulary: vocabulary)
        let def = Int(tokenizer.encode("def")[0])     // a common token
        let selection = try selector.select(counts: sampleCounts, rules: SelectionRules(top: 500, dropList: [def]))
        assertClosed(selection)
        let kept = Set(selection.keptIds)
        XCTAssertFalse(kept.contains(def))
        let defWithSpace = tokenizer.encode(" def").map(Int.init)
        XCTAssertEqual(defWithSpace.count, 1)
        XCTAssertFalse(kept.contains(defWithSpace[0]) && vocabulary.merges.contains { Int($0.result) == defWithSpace[0] && (Int($0.left) == def || Int($0.right) == def) })
        let byteA = vocabulary.id(of: [0x61])!
        XCTAssertThrowsError(try selector.select(counts: sampleCounts, rules: SelectionRules(dropList: [byteA]))) { error in
            guard case .invalidSelection = error as? PruneError else { return XCTFail("\(error)") }
        }
    }

    func testTargetSizeIsExactAndClosed() throws {
        for target in [3000, 20_000] {
            let selection = try selector.select(counts: sampleCounts, rules: SelectionRules(targetSize: target))
            XCTAssertEqual(selection.keptIds.count, target)
            assertClosed(selection)
        }
        // Used tokens survive a mild trim: unused leaves go first.
        let mild = try selector.select(counts: sampleCounts, rules: SelectionRules(targetSize: 100_000))
        let kept = Set(mild.keptIds)
        for id in sampleCounts.indices where sampleCounts[id] > 0 { XCTAssertTrue(kept.contains(id), "used token \(id) trimmed") }
        XCTAssertThrowsError(try selector.select(counts: sampleCounts, rules: SelectionRules(targetSize: 100)))
        XCTAssertThrowsError(try selector.select(counts: sampleCounts, rules: SelectionRules(top: 10, targetSize: 5000)))
    }

    func testVerifyRefusesASetMissingAParent() throws {
        let tokenizer = Tokenizer(vocabulary: vocabulary)
        let word = tokenizer.encode(" function").map(Int.init)
        XCTAssertEqual(word.count, 1)
        let good = try selector.select(counts: sampleCounts, rules: SelectionRules(top: 100, keepList: word))
        _ = try selector.verify(good)
        // Remove one part of " function" but keep " function" itself: it can no longer be built.
        let merge = vocabulary.merges.first { Int($0.result) == word[0] }!
        let part = vocabulary.bytes(of: Int(merge.left)).count > 1 ? Int(merge.left) : Int(merge.right)
        let broken = TokenSelection(keptIds: good.keptIds.filter { $0 != part }, originalIdCount: good.originalIdCount, report: [])
        XCTAssertThrowsError(try selector.verify(broken)) { error in
            guard case .unreachableToken = error as? PruneError else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("would no longer be produced"), "\(error)")
        }
    }

    func testPrunedTokenizerGivesRemappedIdsForKeptText() throws {
        let selection = try selector.select(counts: sampleCounts, rules: SelectionRules(coverage: 0.99, keepList: [7000, 23000, 100_000, 140_000]))
        let pruned = try selector.verify(selection).prunedVocabulary
        let newIdOf = selection.newIdOfOldId
        let original = Tokenizer(vocabulary: vocabulary), small = Tokenizer(vocabulary: pruned)
        var exact = 0, fallback = 0
        let lines = try sampleFiles.flatMap { try readText($0).split(separator: "\n").map(String.init) }
            + ["naïve café 数字 😀 <|im_start|>user\nhi<|im_end|>", "zzqqxx_unseen_identifier_42 = 0x7f3a"]
        for line in lines {
            let ids = original.encode(line)
            let prunedIds = small.encode(line)
            XCTAssertEqual(try small.decode(prunedIds), Array(line.utf8), "round trip of \(line)")
            if ids.allSatisfy({ newIdOf[Int($0)] >= 0 }) {
                XCTAssertEqual(prunedIds.map(Int.init), ids.map { newIdOf[Int($0)] }, line)
                exact += 1
            } else {
                fallback += 1
            }
        }
        XCTAssertGreaterThan(exact, 100)
        XCTAssertGreaterThan(fallback, 0)
    }
}
