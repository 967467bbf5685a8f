import ArgumentParser
import Foundation
import VocabKitGGUF
import VocabKitInference
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
        """
    )

    @Argument(help: "The original GGUF model.")
    var original: String

    @Argument(help: "The pruned GGUF model.")
    var pruned: String

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

    @Flag(help: "Print a JSON object with the totals (parity, texts, unchanged_tokenization, max_logit_diff, greedy_agree, top1_agreement, mean_kl, max_kl, original_top1_pruned, positions, bits_per_byte_original, bits_per_byte_pruned, seconds) and per-text results.")
    var json = false

    func validate() throws {
        guard (prompts == nil) != (file == nil) else { throw ValidationError("give exactly one of --prompts FILE or --file F") }
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
        let checker = try ParityChecker(original: try openModel(original), originalSource: original,
                                        pruned: try openModel(pruned), prunedSource: pruned, contextLength: ctx)
        let showProgress = stderrIsTerminal
        func progress(_ i: Int, _ count: Int) {
            guard showProgress else { return }
            FileHandle.standardError.write(Data("\rchecking text \(i + 1)/\(count)\u{1B}[K".utf8))
        }
        let report: ParityReport
        if prompts != nil {
            let texts = promptLines(text).map { (label: "prompt \($0.line)", text: $0.text) }
            guard !texts.isEmpty else { throw ReportInputError("\(prompts!): no prompts") }
            report = try checker.check(texts, specialTokens: true, greedyTokens: n, contextLength: ctx, progress: progress)
        } else {
            do {
                report = try checker.check(text: text, windows: windows, greedyTokens: n, contextLength: ctx, progress: progress)
            } catch ParityError.emptyText(label: "the text") {
                throw ReportInputError("\(file!): no text to check")
            }
        }
        if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let out = OutputWriter()
        if json {
            try writeJSON(report, seconds: seconds, out: out)
        } else {
            writeText(report, seconds: seconds, out: out)
        }
        out.flush()
        return report.holds
    }

    private func writeText(_ r: ParityReport, seconds: Double, out: OutputWriter) {
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
        for t in r.texts where !t.holds {
            out.write("FAIL \(t.label): max |logit difference| \(t.maxLogitDifference), greedy \(t.greedyAgrees ? "identical" : "differs")\n")
        }
        out.write(r.holds ? "parity holds" : (r.comparedPositions == 0 ? "parity not shown: no position had the same tokens in both models" : "parity FAILS"))
        out.write(String(format: " (%.1f s)\n", seconds))
    }

    private func writeJSON(_ r: ParityReport, seconds: Double, out: OutputWriter) throws {
        func number(_ v: Double) -> Any { v.isFinite ? v : NSNull() }
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
            "greedy_original": t.greedyOriginal,
            "greedy_pruned": t.greedyPruned,
            "greedy_agree": t.greedyAgrees,
            "greedy_diverged_on_pruned_token": t.greedyDivergedOnPrunedToken,
            "holds": t.holds,
        ] }
        let object: [String: Any] = [
            "parity": r.holds,
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
            "n": n,
            "ctx": ctx,
            "seconds": seconds,
            "results": texts,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        out.write(bytes: data)
        out.write("\n")
    }
}

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
