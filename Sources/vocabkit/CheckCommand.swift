import ArgumentParser
import Foundation
import VocabKitGGUF
import VocabKitInference
import VocabKitModels
import VocabKitTokenizer

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check that a pruned GGUF gives the original's outputs, and measure what pruning costs.",
        discussion: """
        Runs both models (VocabKit's CPU inference) on each prompt of --prompts or each window of --file. Pruned ids \
        are matched to the original's by token spelling (tokenizer.ggml.tokens).

        --prompts FILE: one prompt per line; in a line, \\n is a line feed, \\t a tab, \\\\ a backslash; empty lines \
        are skipped; special-token text such as <|im_start|> is matched (as generate does). --file F: F cut into \
        windows of whole lines, each at most CTX − N tokens with the original vocabulary, of which --windows spread \
        evenly over F are checked; special-token text is plain text (as eval does).

        For each text: (a) whether the pruned tokenization, mapped to original ids, equals the original's; (b) the \
        largest |logit difference| over kept tokens at every position whose token prefix is the same in both models \
        (rows are copied byte for byte, so it must be exactly 0); (c) whether greedy continuations of N tokens \
        agree; (d) top-1 agreement (the pruned model's top token is the original's top token over its whole \
        vocabulary) and KL(original renormalized over kept tokens ‖ pruned) at those positions; (e) the cost: how \
        often the original's top-1 at any position is a pruned token; (f) bits per byte of each model over its own \
        tokenization of the texts (NLL in bits of every token after a text's first, over those tokens' UTF-8 bytes).

        Parity holds (exit status 0) when every compared logit is identical, every text whose tokenization is \
        unchanged gets the same greedy continuation (or one that parts only where the original chose a pruned \
        token), and at least one position was compared. Otherwise the exit status is 1. A progress line goes to \
        stderr when it is a terminal.

        When a pruned copy's blocks are byte for byte the original's and each kept token's rows of token_embd and \
        output are the original's bytes, it computes exactly what the original computes on the same tokens: token \
        prefixes both share are then evaluated once and the copy's logits there are the original's kept rows \
        (--evaluate-both evaluates them in every model; the report is the same).

        Several pruned copies (selections) are checked in one run against one evaluation of the original and \
        reported side by side in one table (--json: one object per copy under "selections"); parity must hold for \
        each. --chat wraps each --prompts line in the original's chat template as a user message (as llama.cpp \
        applies tokenizer.chat_template), so the greedy continuation is the instruct model's answer.
        """
    )

    @Argument(help: "The original GGUF model.")
    var original: String

    @Argument(help: "The pruned GGUF model, or several pruned copies to compare in one table.")
    var pruned: [String] = []

    @Option(name: .long, help: "Prompts, one per line (\\n, \\t, \\\\ escapes).")
    var prompts: String?

    @Option(name: .long, help: "A text to cut into windows.")
    var file: String?

    @Option(name: .long, parsing: .unconditional, help: "Context positions: each text plus its continuation fits in it.")
    var ctx: Int = 256

    @Option(name: .long, parsing: .unconditional, help: "Windows of --file to check.")
    var windows: Int = 8

    @Option(name: .short, parsing: .unconditional, help: "Greedy tokens to generate after each text.")
    var n: Int = 16

    @Flag(name: .customLong("cost-only"), help: "Run only the original: report each selection's cost (how often the original's top-1 is a token it lacks) and tokenization, not parity.")
    var costOnly = false

    @Flag(help: "With --prompts: wrap each prompt in the original's chat template (a user message, the assistant's turn opened).")
    var chat = false

    @Flag(name: .customLong("evaluate-both"), help: "Evaluate every position in every model even when a pruned copy computes exactly what the original does (slower; the same report).")
    var evaluateBoth = false

    @Flag(help: "Print a JSON object with the totals (parity, texts, unchanged_tokenization, max_logit_diff, greedy_agree, top1_agreement, mean_kl, max_kl, original_top1_pruned, positions, bits_per_byte_original, bits_per_byte_pruned, shared_computation, seconds) and per-text results.")
    var json = false

    func validate() throws {
        guard !pruned.isEmpty else { throw ValidationError("give the pruned model after the original") }
        guard (prompts == nil) != (file == nil) else { throw ValidationError("give exactly one of --prompts FILE or --file F") }
        if chat && prompts == nil { throw ValidationError("--chat wraps --prompts lines; give --prompts FILE") }
        try requireRange(n, "-n", 0...maximumTokens)
        try requireRange(ctx, "--ctx", 1...maximumTokens)
        try requireRange(windows, "--windows", 1...maximumTokens)
        guard ctx > n else { throw ValidationError("--ctx must be larger than -n") }
    }

    func run() throws {
        var holds = false
        try runReportingErrors {
            do {
                holds = try check()
            } catch let error as InferenceError {
                throw ReportInputError(error.description)
            } catch let error as ParityError {
                throw ReportInputError(error.description)
            }
        }
        if !holds { throw ExitCode(1) }
    }

    private func check() throws -> Bool {
        let start = DispatchTime.now().uptimeNanoseconds
        let input = try readText(prompts ?? file!)
        guard let text = String(validating: input, as: UTF8.self) else {
            throw ReportInputError("\(prompts ?? file!): not valid UTF-8")
        }
        let originalFile = try openModel(original)
        let checker = try ParityChecker(original: originalFile, originalSource: original,
                                        copies: try pruned.map { (try openModel($0), $0) }, contextLength: ctx)
        checker.reusesSharedPrefixes = !evaluateBoth
        // Whether each copy's shared prefixes were evaluated once (compared only when they may be).
        let shared = evaluateBoth || costOnly ? [Bool](repeating: false, count: pruned.count) : checker.copiesShareComputation
        let showProgress = stderrIsTerminal
        func progress(_ i: Int, _ count: Int) {
            guard showProgress else { return }
            FileHandle.standardError.write(Data("\rchecking text \(i + 1)/\(count)\u{1B}[K".utf8))
        }
        let reports: [ParityReport]
        if prompts != nil {
            var texts = promptLines(text).map { (label: "prompt \($0.line)", text: $0.text) }
            guard !texts.isEmpty else { throw ReportInputError("\(prompts!): no prompts") }
            if chat {
                let format = try ChatFormat.of(originalFile, path: original)
                texts = texts.map { ($0.label, format.apply([.user($0.text)])) }
            }
            reports = try checker.compare(texts, specialTokens: true, greedyTokens: n, contextLength: ctx, originalOnly: costOnly, progress: progress)
        } else {
            do {
                reports = try checker.compare(text: text, windows: windows, greedyTokens: n, contextLength: ctx, originalOnly: costOnly,
                                              progress: progress)
            } catch ParityError.emptyText(label: "the text") {
                throw ReportInputError("\(file!): no text to check")
            }
        }
        if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let out = OutputWriter()
        if costOnly {
            if json {
                try writeJSON(reports, checker: checker, shared: shared, seconds: seconds, out: out)
            } else {
                writeTable(reports, checker: checker, seconds: seconds, out: out)
            }
            out.flush()
            return true
        } else if reports.count == 1 {
            if json {
                try out.write(bytes: jsonData(selectionObject(reports[0], copy: checker.copies[0], path: pruned[0], shared: shared[0], full: true, seconds: seconds)))
                out.write("\n")
            } else {
                writeText(reports[0], seconds: seconds, shared: shared[0], out: out)
            }
        } else if json {
            try writeJSON(reports, checker: checker, shared: shared, seconds: seconds, out: out)
        } else {
            writeTable(reports, checker: checker, seconds: seconds, out: out)
        }
        out.flush()
        return reports.allSatisfy(\.holds)
    }

    /// The selections side by side: one column per pruned copy, the cost of each in one table.
    private func writeTable(_ reports: [ParityReport], checker: ParityChecker, seconds: Double, out: OutputWriter) {
        func pct(_ a: Int, _ b: Int) -> String { b > 0 ? String(format: "%.2f%%", 100 * Double(a) / Double(b)) : "n/a" }
        let first = reports[0]
        var rows: [(String, [String])] = []
        rows.append(("kept ids", checker.copies.map { "\($0.keptTokens)" }))
        rows.append(("tokens (original \(first.originalTokens))", reports.map { "\($0.prunedTokens)" }))
        rows.append(("original tokens pruned", reports.map { "\($0.originalTokensPruned) (\(pct($0.originalTokensPruned, $0.originalTokens)))" }))
        rows.append(("tokenization unchanged", reports.map { "\($0.unchangedTexts)/\($0.texts.count)" }))
        rows.append(("original top-1 was pruned", reports.map { "\($0.originalTop1Pruned) (\(pct($0.originalTop1Pruned, $0.originalPositions)))" }))
        if !costOnly { rows += comparisonRows(reports) }
        let names = pruned.map { URL(fileURLWithPath: $0).lastPathComponent }
        let labelWidth = rows.map { $0.0.count }.max() ?? 0
        let widths = names.indices.map { k in max(names[k].count, rows.map { $0.1[k].count }.max() ?? 0) }
        func line(_ label: String, _ cells: [String]) -> String {
            label.padding(toLength: labelWidth, withPad: " ", startingAt: 0)
                + zip(cells, widths).map { "  " + String(repeating: " ", count: max(0, $1 - $0.count)) + $0 }.joined() + "\n"
        }
        out.write("\(first.texts.count) texts, \(first.originalPositions) positions of the original"
                  + (costOnly ? " (cost only: the pruned copies were not run)\n" : "\n"))
        out.write(line("", names))
        for (label, cells) in rows { out.write(line(label, cells)) }
        if costOnly {
            out.write(String(format: "(%.1f s)\n", seconds))
            return
        }
        for (k, r) in reports.enumerated() {
            for t in r.texts where !t.holds {
                out.write("FAIL \(names[k]) \(t.label): max |logit difference| \(t.maxLogitDifference), greedy \(t.greedyAgrees ? "identical" : "differs")\n")
            }
        }
        let holds = reports.allSatisfy(\.holds)
        out.write(holds ? "parity holds for every selection" : "parity FAILS")
        out.write(String(format: " (%.1f s)\n", seconds))
    }

    /// The rows that need the pruned copies run.
    private func comparisonRows(_ reports: [ParityReport]) -> [(String, [String])] {
        let first = reports[0]
        var rows: [(String, [String])] = []
        rows.append(("compared positions", reports.map { "\($0.comparedPositions)" }))
        rows.append(("max |logit difference|", reports.map { "\($0.maxLogitDifference)" }))
        rows.append(("top-1 agreement", reports.map { String(format: "%.2f%%", 100 * $0.top1Agreement) }))
        rows.append(("greedy (-n \(n)) identical, unchanged", reports.map { "\($0.greedyAgreementsUnchanged)/\($0.unchangedTexts)" }))
        rows.append(("greedy (-n \(n)) identical, all", reports.map { "\($0.greedyAgreements)/\($0.texts.count)" }))
        rows.append(("parted on a pruned token", reports.map { r in "\(r.texts.filter { !$0.greedyAgrees && $0.greedyDivergedOnPrunedToken }.count)" }))
        rows.append((String(format: "bits per byte (original %.4f)", first.originalTotals.bitsPerByte),
                     reports.map { String(format: "%.4f", $0.prunedTotals.bitsPerByte) }))
        rows.append(("parity", reports.map { $0.holds ? "holds" : ($0.comparedPositions == 0 ? "not shown" : "FAILS") }))
        return rows
    }

    private func writeText(_ r: ParityReport, seconds: Double, shared: Bool, out: OutputWriter) {
        func pct(_ a: Int, _ b: Int) -> String { b > 0 ? String(format: "%.2f%%", 100 * Double(a) / Double(b)) : "n/a" }
        let unchanged = r.unchangedTexts
        out.write("texts                       \(r.texts.count) (\(r.originalTokens) tokens original, \(r.prunedTokens) pruned)\n")
        out.write("tokenization unchanged      \(unchanged)/\(r.texts.count) texts; \(r.originalTokensPruned) original tokens were pruned\n")
        out.write("compared positions          \(r.comparedPositions) (same token prefix in both)\n")
        out.write("max |logit difference|      \(r.maxLogitDifference)\n")
        out.write("greedy (-n \(n)) identical".padding(toLength: 28, withPad: " ", startingAt: 0) + "\(r.greedyAgreementsUnchanged)/\(unchanged) unchanged texts")
        out.write(r.greedyDivergedOnPrunedToken > 0 ? " (+\(r.greedyDivergedOnPrunedToken) parted where the original chose a pruned token)" : "")
        out.write("; \(r.greedyAgreements)/\(r.texts.count) of all texts\n")
        out.write(String(format: "top-1 agreement             %.4f%%\n", 100 * r.top1Agreement))
        out.write(String(format: "KL(original‖pruned)         mean %.3g, max %.3g nats\n", r.meanKL, r.maxKL))
        out.write("original top-1 was pruned   \(r.originalTop1Pruned)/\(r.originalPositions) positions (\(pct(r.originalTop1Pruned, r.originalPositions)))\n")
        out.write(String(format: "bits per byte               original %.4f, pruned %.4f\n", r.originalTotals.bitsPerByte, r.prunedTotals.bitsPerByte))
        out.write("shared prefixes             " + (shared ? "evaluated once (blocks and kept rows byte for byte the original's)\n" : "evaluated in both models\n"))
        for t in r.texts where !t.holds {
            out.write("FAIL \(t.label): max |logit difference| \(t.maxLogitDifference), greedy \(t.greedyAgrees ? "identical" : "differs")\n")
        }
        out.write(r.holds ? "parity holds" : (r.comparedPositions == 0 ? "parity not shown: no position had the same tokens in both models" : "parity FAILS"))
        out.write(String(format: " (%.1f s)\n", seconds))
    }

    /// Several selections: what the original did once, and one object per pruned copy.
    private func writeJSON(_ reports: [ParityReport], checker: ParityChecker, shared: [Bool], seconds: Double, out: OutputWriter) throws {
        let first = reports[0]
        let object: [String: Any] = [
            "parity": costOnly ? NSNull() : reports.allSatisfy(\.holds),
            "cost_only": costOnly,
            "texts": first.texts.count,
            "original_tokens": first.originalTokens,
            "positions": first.originalPositions,
            "bits_per_byte_original": jsonNumber(first.originalTotals.bitsPerByte),
            "n": n,
            "ctx": ctx,
            "seconds": seconds,
            "selections": reports.indices.map {
                selectionObject(reports[$0], copy: checker.copies[$0], path: pruned[$0], shared: shared[$0], full: false, seconds: seconds)
            },
        ]
        out.write(bytes: try jsonData(object))
        out.write("\n")
    }

    private func jsonData(_ object: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// One selection's totals and per-text results (`full`: with the run's n, ctx and time, as a whole report).
    private func selectionObject(_ r: ParityReport, copy: PrunedCopy, path: String, shared: Bool, full: Bool, seconds: Double) -> [String: Any] {
        let number = jsonNumber
        let texts: [[String: Any]] = r.texts.map { t in [
            "label": t.label,
            "original_tokens": t.originalTokens,
            "pruned_tokens": t.prunedTokens,
            "tokenization_unchanged": t.tokenizationUnchanged,
            "compared_positions": t.comparedPositions,
            "max_logit_diff": Double(t.maxLogitDifference),
            "top1_agreements": t.top1Agreements,
            "max_kl": t.klMax,
            "original_top1_pruned": t.originalTop1Pruned,
            "original_top1_pruned_ids": t.originalTop1PrunedIds,
            "greedy_original": t.greedyOriginal,
            "greedy_pruned": t.greedyPruned,
            "greedy_agree": t.greedyAgrees,
            "greedy_diverged_on_pruned_token": t.greedyDivergedOnPrunedToken,
            "holds": t.holds,
        ] }
        var object: [String: Any] = [
            "model": path,
            "kept_tokens": copy.keptTokens,
            "parity": costOnly ? NSNull() : r.holds,
            "texts": r.texts.count,
            "unchanged_tokenization": r.unchangedTexts,
            "original_tokens": r.originalTokens,
            "pruned_tokens": r.prunedTokens,
            "original_tokens_pruned": r.originalTokensPruned,
            "compared_positions": r.comparedPositions,
            "max_logit_diff": Double(r.maxLogitDifference),
            "greedy_agree": r.greedyAgreements,
            "greedy_agree_unchanged": r.greedyAgreementsUnchanged,
            "greedy_diverged_on_pruned_token": r.greedyDivergedOnPrunedToken,
            "top1_agreement": number(r.top1Agreement),
            "mean_kl": number(r.meanKL),
            "max_kl": r.maxKL,
            "positions": r.originalPositions,
            "original_top1_pruned": r.originalTop1Pruned,
            "bits_per_byte_original": number(r.originalTotals.bitsPerByte),
            "bits_per_byte_pruned": number(r.prunedTotals.bitsPerByte),
            "shared_computation": shared,
            "results": texts,
        ]
        if full {
            object["n"] = n
            object["ctx"] = ctx
            object["seconds"] = seconds
        }
        return object
    }
}

/// A JSON number, or null for NaN and infinities (a ratio of nothing).
func jsonNumber(_ v: Double) -> Any { v.isFinite ? v : NSNull() }

/// Prompts from a --prompts file: one per line, `\n`, `\t` and `\\` unescaped (any other backslash is kept);
/// empty lines skipped. Line numbers are 1-based.
func promptLines(_ text: String) -> [(line: Int, text: String)] {
    var out: [(Int, String)] = []
    // Split on the byte: "\r\n" is one Character in Swift and would hide the line feed.
    for (i, raw) in text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
        var line = String(decoding: raw, as: UTF8.self)
        if line.hasSuffix("\r") { line.removeLast() }
        guard !line.isEmpty else { continue }
        var s = "", escaped = false
        for c in line {
            if escaped {
                switch c {
                case "n": s.append("\n")
                case "t": s.append("\t")
                case "\\": s.append("\\")
                default: s.append("\\"); s.append(c)
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                s.append(c)
            }
        }
        if escaped { s.append("\\") }
        out.append((i + 1, s))
    }
    return out
}
