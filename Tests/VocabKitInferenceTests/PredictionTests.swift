import Foundation
import XCTest
import VocabKitGGUF
import VocabKitInference
import VocabKitModels
import VocabKitPrediction
import VocabKitPrune
import VocabKitTestSupport
import VocabKitTokenizer

/// Model-aware counting (`count --model`, `--answers`) and comparing selections (`check` with several pruned
/// copies) on a tiny model with the real vocabulary; the chat answers against llama.cpp on the real model.
final class PredictionTests: XCTestCase {
    struct Models {
        let folder: String, original: String, chat: String, pruned: String, prunedAll: String
        let text: String
    }

    nonisolated(unsafe) static var shared: Models?

    static let chatML = "{% for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}"

    static func models() throws -> Models {
        if let shared { return shared }
        let folder = NSTemporaryDirectory() + "vk-prediction-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let text = try String(contentsOf: TestData.repositoryRoot.appendingPathComponent("Corpora/sample/bisect.py"), encoding: .utf8)
        let ids = Tokenizer(vocabulary: try Vocabulary.bundled()).encode(text, specialTokens: false).map(Int.init)
        let m = Models(folder: folder, original: folder + "/original.gguf", chat: folder + "/chat.gguf", pruned: folder + "/pruned.gguf",
                       prunedAll: folder + "/pruned-all.gguf", text: text)
        try VocabModel.write(to: m.original, seed: 61, favored: Set(ids))
        try VocabModel.write(to: m.chat, seed: 61, favored: Set(ids), chatTemplate: chatML)
        // Two selections: tokens used twice (some windows change tokenization) and every used token (none do).
        _ = try VocabModel.prune(m.original, keepingTokensOf: text, to: m.pruned, minCount: 2)
        _ = try VocabModel.prune(m.original, keepingTokensOf: text, to: m.prunedAll, minCount: 1)
        shared = m
        return m
    }

    override class func tearDown() {
        if let shared { try? FileManager.default.removeItem(atPath: shared.folder) }
        shared = nil
        super.tearDown()
    }

    // MARK: Top-k predictions

    func testTopProbabilitiesAreTheSoftmaxHead() {
        var rng = SplitMix64(seed: 7)
        for trial in 0..<40 {
            let n = 1 + Int(rng.next() % 3000)
            // Few distinct values, so ties are common.
            let logits = (0..<n).map { _ in Float(Int(rng.next() % 64) - 32) / 4 }
            let m = Double(logits.max()!)
            let z = logits.reduce(0.0) { $0 + exp(Double($1) - m) }
            let order = logits.indices.sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
            for k in [1, 2, 5, 50, n + 3] {
                let minimum = [0, 0.01, 0.2][trial % 3]
                let top = logits.withUnsafeBufferPointer { topProbabilities($0, k: k, minProbability: minimum) }
                let expected = order.prefix(k).map { (id: $0, p: exp(Double(logits[$0]) - m) / z) }.filter { $0.p >= minimum - 1e-6 }
                XCTAssertEqual(top.map(\.id), Array(expected.map(\.id).prefix(top.count)), "trial \(trial) k \(k)")
                XCTAssertLessThanOrEqual(abs(top.count - expected.count), 1, "only a probability within rounding of the minimum may differ")
                for (t, e) in zip(top, expected) { XCTAssertEqual(t.probability, e.p, accuracy: 1e-6 * max(e.p, 1e-3)) }
                if k == 1 && minimum == 0 {
                    XCTAssertEqual(top.first?.id, logits.withUnsafeBufferPointer { argmaxIndex($0) }, "the first on ties, as argmax")
                }
            }
        }
        XCTAssertEqual([Float]().withUnsafeBufferPointer { topProbabilities($0, k: 3) }, [])
        XCTAssertEqual([Float(1)].withUnsafeBufferPointer { topProbabilities($0, k: 0) }, [])
    }

    private func argmaxIndex(_ x: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for i in x.indices where x[i] > x[best] { best = i }
        return best
    }

    func testPredictionsAreTheTopOfEveryPositionsLogits() throws {
        let m = try Self.models()
        let lm = try LanguageModel(path: m.original, maxContext: 128)
        let tokens = Tokenizer(vocabulary: try Vocabulary.load(path: m.original)).encode(String(m.text.prefix(300)), specialTokens: false).map(Int.init)
        var expected: [[TokenProbability]] = []
        lm.reset()
        try lm.evaluate(tokens, logits: .all) { _, logits in expected.append(topProbabilities(logits, k: 3)) }
        var got: [[TokenProbability]] = []
        try lm.predictions(after: tokens, k: 3) { i, top in
            XCTAssertEqual(i, got.count)
            got.append(top)
        }
        XCTAssertEqual(got, expected)
        XCTAssertEqual(got.count, tokens.count)
        XCTAssertTrue(got.allSatisfy { $0.count == 3 && $0[0].probability >= $0[1].probability })
    }

    // MARK: PredictionCounter

    private func corpusFiles(_ m: Models) throws -> [String] {
        let a = evalScratchPath("a.py"), b = evalScratchPath("b.py")
        try Data(m.text.utf8).write(to: URL(fileURLWithPath: a))
        let colorsys = try String(contentsOf: TestData.repositoryRoot.appendingPathComponent("Corpora/sample/colorsys.py"), encoding: .utf8)
        try Data(colorsys.utf8).write(to: URL(fileURLWithPath: b))
        return [a, b]
    }

    func testWindowsAreCheckWindowsAndTheSampleIsExactAndSpread() throws {
        let m = try Self.models()
        let files = try corpusFiles(m)
        let tokenizer = Tokenizer(vocabulary: try Vocabulary.load(path: m.original))
        let lm = try LanguageModel(path: m.original, maxContext: 64)
        var counter = PredictionCounter(model: lm, tokenizer: tokenizer, windowTokens: 48)
        counter.threads = 2
        let windows = try counter.windows(of: files)
        var expected: [PredictionCounter.Window] = []
        for file in files {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            expected += parityWindows(text, tokenizer: tokenizer, maxTokens: 48, count: .max).map {
                PredictionCounter.Window(file: file, tokens: tokenizer.encode($0, specialTokens: false).prefix(48).map(Int.init))
            }
        }
        XCTAssertEqual(windows, expected, "each file cut as check --file cuts a text, in file order")
        XCTAssertTrue(windows.allSatisfy { $0.tokens.count <= 48 })
        let total = windows.reduce(0) { $0 + $1.tokens.count }

        XCTAssertEqual(PredictionCounter.sampled(windows, positions: nil), windows)
        XCTAssertEqual(PredictionCounter.sampled(windows, positions: total + 5), windows)
        for n in [1, 47, 300, total / 2, total - 1] {
            let sample = PredictionCounter.sampled(windows, positions: n)
            XCTAssertEqual(sample.reduce(0) { $0 + $1.tokens.count }, n, "exactly \(n) positions")
            // Whole windows of the corpus in order, evenly spread; only the last may be cut short.
            // (Matched front to back: two windows can hold the same tokens.)
            var indices: [Int] = []
            for w in sample {
                let from = (indices.last ?? -1) + 1
                guard let i = windows[from...].firstIndex(where: { $0.file == w.file && Array($0.tokens.prefix(w.tokens.count)) == w.tokens }) else {
                    return XCTFail("sample of \(n): a window out of order or not in the corpus")
                }
                indices.append(i)
            }
            XCTAssertEqual(indices.first, 0)
            for w in sample.dropLast() { XCTAssertTrue(windows.contains(w)) }
            if sample.count > 3 {
                let last = indices.last!
                XCTAssertGreaterThan(last, windows.count / 2, "the sample reaches into the corpus's second half")
            }
        }

        let bad = evalScratchPath("bad.py")
        try Data([0x61, 0x0A, 0xFF, 0x62]).write(to: URL(fileURLWithPath: bad))
        XCTAssertThrowsError(try counter.windows(of: files + [bad])) { error in
            XCTAssertEqual(error as? PruneError, .invalidUTF8(path: bad, offset: 2))
        }
    }

    func testCountsAreThePredictionsAtEveryPosition() throws {
        let m = try Self.models()
        let files = try corpusFiles(m)
        let tokenizer = Tokenizer(vocabulary: try Vocabulary.load(path: m.original))
        let lm = try LanguageModel(path: m.original, maxContext: 64)
        var counter = PredictionCounter(model: lm, tokenizer: tokenizer, windowTokens: 40)
        counter.topK = 2
        counter.sample = 200
        var seen: [(Int, Int)] = []
        let counted = try counter.count(files: files) { seen.append(($0, $1)) }
        XCTAssertEqual(counted.positions, 200)
        XCTAssertEqual(seen.last?.0, 200)
        XCTAssertEqual(seen.map(\.0), seen.map(\.0).sorted())
        XCTAssertEqual(counted.corpusPositions, try counter.windows(of: files).reduce(0) { $0 + $1.tokens.count })
        XCTAssertEqual(counted.predictions, 400, "two predictions at each of 200 positions")
        // The same windows evaluated by hand.
        var expected = [UInt64](repeating: 0, count: lm.vocabularySize)
        for window in PredictionCounter.sampled(try counter.windows(of: files), positions: 200) {
            lm.reset()
            try lm.evaluate(window.tokens, logits: .all) { _, logits in
                for p in topProbabilities(logits, k: 2) { expected[p.id] += 1 }
            }
        }
        XCTAssertEqual(counted.counts, expected)
        counter.topK = 5
        counter.minProbability = 0.5
        let confident = try counter.count(files: files)
        XCTAssertLessThanOrEqual(confident.predictions, UInt64(confident.positions), "at most one token has probability 0.5 or more")

        var usage = TokenUsage(counts: [1], pieces: [:], files: 1, bytes: 1, vocabularySource: "v")
        usage.addPredictions(counted, note: "a")
        usage.addPredictions(counted, note: "b")
        XCTAssertEqual(usage.predicted?.total, 800)
        XCTAssertEqual(usage.predictedPositions, 400)
        XCTAssertEqual(usage.prediction, "a + b")
    }

    // MARK: Chat answers

    func testAnswersAreGreedyContinuationsOfTheChatText() throws {
        let m = try Self.models()
        let file = try GGUFFile(path: m.chat)
        let tokenizer = Tokenizer(vocabulary: try Vocabulary.load(gguf: file, source: m.chat))
        let format = try ChatFormat.of(file, path: m.chat)
        XCTAssertEqual(format, .chatml)
        let prompts = ["def bisect(a, x):", "Write a function that returns the middle of a list."]
        let context = ChatAnswerer.contextNeeded(for: prompts, tokenizer: tokenizer, format: format, maxTokens: 12)
        let lm = try LanguageModel(file: file, maxContext: context)
        let answerer = ChatAnswerer(model: lm, tokenizer: tokenizer, format: format, maxTokens: 12)
        let answers = try answerer.answer(prompts)
        for (prompt, answer) in zip(prompts, answers) {
            let chat = tokenizer.encode("<|im_start|>user\n\(prompt)<|im_end|>\n<|im_start|>assistant\n", specialTokens: true).map(Int.init)
            XCTAssertEqual(answer.promptTokens, chat.count)
            let greedy = try lm.generateGreedy(prompt: chat, maxTokens: 12, stopTokens: lm.stopTokens())
            XCTAssertEqual(answer.tokens, greedy.tokens)
            XCTAssertEqual(answer.stopped, greedy.stopped)
        }
        let counts = ChatAnswerer.counts(of: answers, vocabularySize: lm.vocabularySize)
        XCTAssertEqual(counts.positions, answers.reduce(0) { $0 + $1.tokens.count })
        XCTAssertEqual(counts.predictions, UInt64(counts.positions), "the answers' tokens, not the prompts'")
        XCTAssertEqual(counts.windows, 2)
    }

    // MARK: vocabkit count --model

    func testCountCommandWithAModel() throws {
        let m = try Self.models()
        let files = try corpusFiles(m)
        let table = evalScratchPath("usage.tsv"), svg = evalScratchPath("usage.svg")
        let run = try VocabKitBinary.run(["count", "--model", m.original] + files
                                         + ["--sample", "120", "--ctx", "40", "--top-k", "2", "-o", table, "--svg", svg, "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let predicted = try XCTUnwrap(object["predicted"] as? [String: Any])
        XCTAssertEqual(predicted["positions"] as? Int, 120)
        XCTAssertEqual(predicted["predictions"] as? Int, 240)
        let corpus = try XCTUnwrap(predicted["corpus"] as? [String: Any])
        XCTAssertEqual(corpus["positions"] as? Int, 120)
        XCTAssertGreaterThan(corpus["positions_per_second"] as? Double ?? 0, 0)
        let usage = try TokenUsage.read(path: table)
        XCTAssertEqual(usage.predictedPositions, 120)
        XCTAssertEqual(usage.predicted?.total, 240)
        XCTAssertEqual(usage.vocabularySize, 151_936)
        XCTAssertEqual(usage.files, 2)
        XCTAssertTrue(try XCTUnwrap(usage.prediction).hasPrefix("original.gguf top-k 2 min-prob 0.0 windows of 40 tokens, sample 120"))
        // The corpus column is the plain count's.
        let plain = evalScratchPath("plain.tsv")
        XCTAssertEqual(try VocabKitBinary.run(["count", "--vocab", m.original] + files + ["-o", plain]).status, 0)
        XCTAssertEqual(usage.counts, try TokenUsage.read(path: plain).counts)
        let picture = try String(contentsOfFile: svg, encoding: .utf8)
        XCTAssertTrue(picture.contains("predicted: 240 predictions") && picture.contains("vocabulary: 151,936"), picture)

        // Model-aware tables merge, and prune keeps what the predicted column covers.
        let merged = evalScratchPath("merged.tsv")
        let merge = try VocabKitBinary.run(["count", "--merge", table, table, "-o", merged])
        XCTAssertEqual(merge.status, 0, merge.stderr)
        XCTAssertEqual(try TokenUsage.read(path: merged).predictedPositions, 240)
        let remap = evalScratchPath("remap.tsv")
        let prune = try VocabKitBinary.run(["prune", m.original, "--usage", table, "--coverage", "1", "--dry-run"])
        XCTAssertEqual(prune.status, 0, prune.stderr)
        XCTAssertTrue(prune.stdout.contains("predicted coverage 100%:"), prune.stdout)
        _ = remap

        for (args, needle) in [(["--model", m.original, "--vocab", m.original, files[0]], "drop --vocab"),
                               (["--model", m.original, "--jsonl", "text", files[0]], "JSON Lines"),
                               (["--model", m.original, "--top-k", "0", files[0]], "--top-k must be between 1 and 1000"),
                               (["--model", m.original, "--answers-output", table, files[0]], "--answers-output needs --answers"),
                               (["--model", m.original], "give the PATHs")] {
            let r = try VocabKitBinary.run(["count"] + args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.stderr.contains(needle), "\(args): \(r.stderr)")
        }
        let missing = try VocabKitBinary.run(["count", "--model", m.folder + "/none.gguf", files[0]])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.hasPrefix("error: ") && missing.stderr.filter { $0 == "\n" }.count == 1, missing.stderr)
    }

    func testCountCommandAnswers() throws {
        let m = try Self.models()
        let prompts = evalScratchPath("prompts.txt"), table = evalScratchPath("answers.tsv"), log = evalScratchPath("answers.jsonl")
        try Data("Write a function that adds two numbers.\n\ndef bisect(a, x):\\n    \"\"\"Find x.\n".utf8).write(to: URL(fileURLWithPath: prompts))
        let run = try VocabKitBinary.run(["count", "--model", m.chat, "--answers", prompts, "-n", "10", "-o", table, "--answers-output", log])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("answers: 2 prompts"), run.stdout)
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let file = try GGUFFile(path: m.chat)
        let tokenizer = Tokenizer(vocabulary: try Vocabulary.load(gguf: file, source: m.chat))
        let lm = try LanguageModel(file: file, maxContext: 128)
        var expected = [UInt64](repeating: 0, count: lm.vocabularySize)
        for (line, prompt) in zip(lines, ["Write a function that adds two numbers.", "def bisect(a, x):\n    \"\"\"Find x."]) {
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            XCTAssertEqual(object["prompt"] as? String, prompt, "\\n in a prompt line is a line feed")
            let chat = tokenizer.encode(ChatFormat.chatml.apply([.user(prompt)]), specialTokens: true).map(Int.init)
            let greedy = try lm.generateGreedy(prompt: chat, maxTokens: 10, stopTokens: lm.stopTokens())
            XCTAssertEqual(object["tokens"] as? [Int], greedy.tokens)
            XCTAssertEqual(object["answer"] as? String, String(decoding: try tokenizer.decode(greedy.tokens.map { TokenID($0) }), as: UTF8.self))
            for id in greedy.tokens { expected[id] += 1 }
        }
        let usage = try TokenUsage.read(path: table)
        XCTAssertEqual(usage.tokens, 0, "what the user typed is not counted")
        XCTAssertEqual(usage.predicted.map { $0.values + Array(repeating: 0, count: max(0, expected.count - $0.values.count)) }, expected)
        XCTAssertTrue(try XCTUnwrap(usage.prediction).contains("answers to"), usage.prediction ?? "")

        let noTemplate = try VocabKitBinary.run(["count", "--model", m.original, "--answers", prompts])
        XCTAssertEqual(noTemplate.status, 1)
        XCTAssertTrue(noTemplate.stderr.hasPrefix("error: ") && noTemplate.stderr.contains("tokenizer.chat_template"), noTemplate.stderr)
        XCTAssertEqual(noTemplate.stderr.filter { $0 == "\n" }.count, 1, noTemplate.stderr)
    }

    // MARK: check with several selections

    /// One run of the original for two copies gives what two separate checks give, and logits over kept tokens
    /// stay identical where the prefixes agree (the original is cut where either copy's prefix ends).
    func testComparingSelectionsEqualsCheckingEachAlone() throws {
        let m = try Self.models()
        let both = try ParityChecker(originalPath: m.original, prunedPaths: [m.pruned, m.prunedAll], contextLength: 64)
        let reports = try both.compare(text: m.text, windows: 6, greedyTokens: 4)
        XCTAssertEqual(reports.count, 2)
        XCTAssertEqual(both.copies.map(\.keptTokens), [try ParityChecker(originalPath: m.original, prunedPath: m.pruned).map.originalOfPruned.count,
                                                       try ParityChecker(originalPath: m.original, prunedPath: m.prunedAll).map.originalOfPruned.count])
        for (report, path) in zip(reports, [m.pruned, m.prunedAll]) {
            let alone = try ParityChecker(originalPath: m.original, prunedPath: path, contextLength: 64).check(text: m.text, windows: 6, greedyTokens: 4)
            XCTAssertEqual(report.maxLogitDifference, 0, path)
            XCTAssertTrue(report.holds, path)
            for (a, b) in zip(report.texts, alone.texts) {
                XCTAssertEqual(a.label, b.label)
                XCTAssertEqual(a.tokenizationUnchanged, b.tokenizationUnchanged)
                XCTAssertEqual(a.comparedPositions, b.comparedPositions)
                XCTAssertEqual(a.top1Agreements, b.top1Agreements)
                XCTAssertEqual(a.originalTop1Pruned, b.originalTop1Pruned)
                XCTAssertEqual(a.originalTokensPruned, b.originalTokensPruned)
                XCTAssertEqual(a.greedyOriginal, b.greedyOriginal)
                XCTAssertEqual(a.greedyPruned, b.greedyPruned)
                XCTAssertEqual(a.originalTotals.sum, b.originalTotals.sum, accuracy: 1e-6 * b.originalTotals.sum)
                XCTAssertEqual(a.prunedTotals.sum, b.prunedTotals.sum, accuracy: 1e-6 * b.prunedTotals.sum)
            }
        }
        XCTAssertLessThan(reports[0].unchangedTexts, reports[0].texts.count, "the smaller selection changes some windows")
        XCTAssertEqual(reports[1].unchangedTexts, reports[1].texts.count, "the selection of every used token changes none")
        XCTAssertGreaterThanOrEqual(reports[0].originalTop1Pruned, reports[1].originalTop1Pruned)
    }

    func testCheckCommandComparesSelectionsInOneTable() throws {
        let m = try Self.models()
        let text = evalScratchPath("bisect.py")
        try Data(m.text.utf8).write(to: URL(fileURLWithPath: text))
        let args = ["check", m.original, m.pruned, m.prunedAll, "--file", text, "--ctx", "64", "-n", "4", "--windows", "3"]
        let table = try VocabKitBinary.run(args)
        XCTAssertEqual(table.status, 0, table.stdout + table.stderr)
        for needle in ["pruned.gguf", "pruned-all.gguf", "original top-1 was pruned", "kept ids", "parity holds for every selection"] {
            XCTAssertTrue(table.stdout.contains(needle), "\(needle): \(table.stdout)")
        }
        let json = try VocabKitBinary.run(args + ["--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let selections = try XCTUnwrap(object["selections"] as? [[String: Any]])
        XCTAssertEqual(selections.map { $0["model"] as? String }, [m.pruned, m.prunedAll])
        XCTAssertEqual(object["texts"] as? Int, 3)
        let one = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try VocabKitBinary.run(
            ["check", m.original, m.pruned, "--file", text, "--ctx", "64", "-n", "4", "--windows", "3", "--json"]).stdout.utf8)) as? [String: Any])
        XCTAssertEqual(selections[0]["original_top1_pruned"] as? Int, one["original_top1_pruned"] as? Int)
        XCTAssertEqual(selections[0]["kept_tokens"] as? Int, one["kept_tokens"] as? Int)
        XCTAssertNotNil(one["seconds"], "one selection keeps the single-report form")
        XCTAssertNil(one["selections"])
        // Which tokens cost: the original's top-1 where the copy lacks it, none of them kept.
        let kept = try ParityChecker(originalPath: m.original, prunedPath: m.pruned).map.kept
        for result in try XCTUnwrap(one["results"] as? [[String: Any]]) {
            let ids = try XCTUnwrap(result["original_top1_pruned_ids"] as? [Int])
            XCTAssertEqual(ids.count, result["original_top1_pruned"] as? Int)
            XCTAssertTrue(ids.allSatisfy { !kept[$0] })
        }

        // The cost alone: only the original runs, and the cost is the full run's.
        let cost = try VocabKitBinary.run(args + ["--cost-only", "--json"])
        XCTAssertEqual(cost.status, 0, cost.stderr)
        let costObject = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(cost.stdout.utf8)) as? [String: Any])
        XCTAssertTrue(costObject["parity"] is NSNull, "cost alone shows no parity")
        let costSelections = try XCTUnwrap(costObject["selections"] as? [[String: Any]])
        for (a, b) in zip(costSelections, selections) {
            for key in ["original_top1_pruned", "original_tokens_pruned", "unchanged_tokenization", "pruned_tokens", "kept_tokens"] {
                XCTAssertEqual(a[key] as? Int, b[key] as? Int, key)
            }
            XCTAssertEqual(a["compared_positions"] as? Int, 0)
        }
        let costTable = try VocabKitBinary.run(args + ["--cost-only"])
        XCTAssertTrue(costTable.stdout.contains("cost only") && !costTable.stdout.contains("parity"), costTable.stdout)
    }

    func testCheckChatWrapsPromptsInTheTemplate() throws {
        let m = try Self.models()
        let prompts = evalScratchPath("chat.txt")
        try Data("Write a function that adds two numbers.\n".utf8).write(to: URL(fileURLWithPath: prompts))
        let run = try VocabKitBinary.run(["check", m.chat, m.chat, "--prompts", prompts, "--chat", "--ctx", "64", "-n", "4", "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let tokenizer = Tokenizer(vocabulary: try Vocabulary.load(path: m.chat))
        let chat = tokenizer.encode("<|im_start|>user\nWrite a function that adds two numbers.<|im_end|>\n<|im_start|>assistant\n", specialTokens: true)
        XCTAssertEqual(object["original_tokens"] as? Int, chat.count)
        let refused = try VocabKitBinary.run(["check", m.original, m.pruned, "--prompts", prompts, "--chat", "--ctx", "64"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("tokenizer.chat_template"), refused.stderr)
        let noPrompts = try VocabKitBinary.run(["check", m.original, m.pruned, "--file", prompts, "--chat"])
        XCTAssertNotEqual(noPrompts.status, 0)
        XCTAssertTrue(noPrompts.stderr.contains("--chat wraps --prompts lines"), noPrompts.stderr)
    }

    // MARK: The real model against llama.cpp

    /// `count --answers` on Qwen2.5-Coder-0.5B-Instruct gives llama-simple's greedy answers to the chat text
    /// llama.cpp's ChatML formatter makes (Tests/Oracle/make_chat_answer_goldens.sh), up to a near-tie.
    func testChatAnswersMatchLlamaCpp() throws {
        try TestData.requireOptimizedBuild()
        let modelPath = try TestData.realModel()
        let fixture = TestData.repositoryRoot.appendingPathComponent("Tests/Fixtures/llama-goldens/chat-answers.json")
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: fixture)) as? [String: Any])
        let n = try XCTUnwrap(doc["n_predict"] as? Int)
        let cases = try XCTUnwrap(doc["cases"] as? [[String: String]])
        let file = try GGUFFile(path: modelPath)
        let tokenizer = Tokenizer(vocabulary: try Vocabulary.load(gguf: file, source: modelPath))
        let format = try ChatFormat.of(file, path: modelPath)
        let lm = try LanguageModel(file: file, maxContext: 256)
        let answerer = ChatAnswerer(model: lm, tokenizer: tokenizer, format: format, maxTokens: n)
        var identical = 0
        for c in cases {
            let prompt = try XCTUnwrap(c["prompt"]), golden = Array(try XCTUnwrap(c["answer"]).utf8)
            XCTAssertEqual(format.apply([.user(prompt)]), c["chat"], "the chat text is llama.cpp's")
            // (ChatAnswerer.answer is this call: testAnswersAreGreedyContinuationsOfTheChatText.)
            let result = try lm.generateGreedy(prompt: answerer.chatTokens(prompt), maxTokens: n, stopTokens: lm.stopTokens())
            let bytes = try tokenizer.decode(result.tokens.map { TokenID($0) })
            if bytes == golden { identical += 1; continue }
            // As for the plain continuations (ModelTests): a departure only after a near-tie.
            var first = result.tokens.count
            for i in result.tokens.indices {
                let prefix = try tokenizer.decode(result.tokens[...i].map { TokenID($0) })
                if prefix.count > golden.count || Array(golden[..<prefix.count]) != prefix { first = i; break }
            }
            guard first < result.tokens.count else { XCTFail("\(prompt): ran short of llama.cpp's answer"); continue }
            XCTAssertLessThan(result.margins[...first].min()!, 0.25, "\(prompt): leaves llama.cpp's answer at token \(first) with no near-tie")
        }
        XCTAssertGreaterThan(identical, 0)
        print("llama.cpp chat answers: \(identical)/\(cases.count) identical")
        XCTAssertTrue(cases.allSatisfy { ($0["answer"] ?? "").contains("```python") || ($0["answer"] ?? "").contains("`") },
                      "the instruct model answers in markdown, which no source file contains")
    }
}
