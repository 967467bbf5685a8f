import ArgumentParser
import Foundation
import VocabKitInference
import VocabKitTokenizer

struct LayersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "layers",
        abstract: "Score each transformer block of a GGUF model on a text: Block Influence, angular distance, and the cost of removing it.",
        discussion: """
        The text is read and cut as `eval` cuts it (llama-perplexity's chunks of --ctx tokens, at most --windows of \
        them), and each chunk is run once through the whole model, recording the residual stream entering and \
        leaving every block at every evaluated position. Per block:

        BI: ShortGPT's Block Influence, 1 − mean cos(stream into the block, stream out of it). angular: Gromov et \
        al.'s angular distance, mean arccos(cos(into, out of)) / π. With --span N, the angular distance from the \
        stream entering block l to the one entering block l + N for every l, and the N-block run with the smallest \
        one (the run PruneMe would drop).

        --ablate: the model with each block skipped in turn (no file written) is evaluated on the same chunks: \
        bits per byte, perplexity, and the change in bits per byte from the whole model. The numbers equal, to the \
        last bit, what `eval --ctx N --chunks K` prints for `surgery --delete k` of the model. Blocks before the \
        skipped one are not run again (their output is stored), so all ablations cost about blocks/2 + the output \
        head's share of whole-model passes.

        rank: 1 is the block cheapest to remove, by Δ bits/byte with --ablate, else by BI. Progress goes to stderr \
        when it is a terminal.
        """
    )

    @Argument(help: "A GGUF model.")
    var model: String

    @Option(name: .long, help: "The text to measure on (UTF-8).")
    var file: String

    @Option(name: .long, parsing: .unconditional, help: "Tokens per window (llama-perplexity's -c).")
    var ctx: Int = 512

    @Option(name: .long, parsing: .unconditional, help: "Measure at most this many windows, from the start (eval's --chunks).")
    var windows: Int?

    @Option(name: .long, parsing: .unconditional, help: "Blocks per run for the span angular distance.")
    var span: Int = 1

    @Flag(help: "Also evaluate the model with each block skipped.")
    var ablate = false

    @Flag(help: "Print a JSON object: blocks (block, block_influence, angular_distance, span_angular_distance, bits_per_byte, perplexity, delta_bits_per_byte, rank), full, span, best_span, positions, windows, ctx, tokens, seconds.")
    var json = false

    func validate() throws {
        try requireRange(ctx, "--ctx", 4...maximumTokens)
        try requireRange(windows, "--windows", 1...maximumTokens)
        try requireRange(span, "--span", 1...maximumTokens)
    }

    func run() throws {
        try runReportingErrors {
            do {
                try measure()
            } catch let error as InferenceError {
                throw ReportInputError("\(model): \(error.description)")
            } catch let error as EvaluationError {
                throw ReportInputError(error.description)
            } catch TokenizerError.invalidUTF8(let offset, _) {
                throw ReportInputError("\(file): invalid UTF-8 at byte offset \(offset)")
            }
        }
    }

    private func measure() throws {
        let start = DispatchTime.now().uptimeNanoseconds
        let text = try readText(file)
        let lm = try LanguageModel(file: try openModel(model), maxContext: ctx)
        let blockCount = lm.config.layerCount
        guard span <= blockCount else { throw ReportInputError("--span \(span) is more than the model's \(blockCount) blocks") }
        let input = try lm.perplexityInput(ofUTF8: text)
        let options = BlockAnalysisOptions(contextLength: ctx, chunks: windows, span: span, ablate: ablate ? Array(0..<blockCount) : [])
        let showProgress = stderrIsTerminal
        let analysis = try lm.analyzeBlocks(input, options: options) { p in
            guard showProgress else { return }
            let what = p.ablation.map { "without block \($0) (\($0 + 1)/\(p.ablations))" } ?? "whole model"
            FileHandle.standardError.write(Data("\rwindow \(p.chunk)/\(p.chunks): \(what)\u{1B}[K".utf8))
        }
        if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        guard analysis.full.bitsPerByte.isFinite else {
            throw ReportInputError("\(model): the forward pass produced NaN or infinity; the model's weights or hyperparameters are not usable")
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let out = OutputWriter()
        if json {
            try writeJSON(analysis, tokens: input.tokens.count, seconds: seconds, out: out)
        } else {
            writeTable(analysis, tokens: input.tokens.count, seconds: seconds, out: out)
        }
        out.flush()
    }

    private func ranks(_ a: BlockAnalysis) -> [Int] {
        var rank = [Int](repeating: 0, count: a.blocks.count)
        for (i, block) in a.ranking.enumerated() { rank[block] = i + 1 }
        return rank
    }

    private func writeTable(_ a: BlockAnalysis, tokens: Int, seconds: Double, out: OutputWriter) {
        let name = model.split(separator: "/").last.map(String.init) ?? model
        out.write("\(name): \(a.blocks.count) blocks; \(a.full.chunks) windows of \(ctx) tokens (\(a.positions) positions) from \(tokens) tokens of \(file)\n")
        out.write(String(format: "whole model: perplexity %.4f, %.4f bits per byte\n", a.full.perplexity, a.full.bitsPerByte))
        let rank = ranks(a)
        var header = "block      BI  angular"
        if span > 1 { header += "  angular+\(span)" }
        if ablate { header += "  bits/byte  Δ bits/byte  perplexity" }
        out.write(header + "  rank\n")
        for b in a.blocks {
            var line = String(format: "%5d  %6.4f   %6.4f", b.block, b.blockInfluence, b.angularDistance)
            if span > 1 {
                line += b.block < a.spanDistances.count ? String(format: "     %6.4f", a.spanDistances[b.block]) : "          -"
            }
            if let r = b.ablation {
                line += String(format: "     %6.4f     %+8.4f  %10.4f", r.bitsPerByte, r.bitsPerByte - a.full.bitsPerByte, r.perplexity)
            }
            out.write(line + String(format: "  %4d\n", rank[b.block]))
        }
        if let best = a.blocks.indices.min(by: { a.blocks[$0].angularDistance < a.blocks[$1].angularDistance }) {
            out.write(String(format: "smallest angular distance: block %d (%.4f)\n", best, a.blocks[best].angularDistance))
        }
        if span > 1, let first = a.bestSpanStart {
            out.write(String(format: "best %d-block run to drop: blocks %d-%d (angular distance %.4f)\n",
                             span, first, first + span - 1, a.spanDistances[first]))
        }
        out.write("rank 1 = cheapest to remove, by \(ablate ? "bits per byte without the block" : "Block Influence")\n")
        out.write(String(format: "%.2f s\n", seconds))
    }

    private func writeJSON(_ a: BlockAnalysis, tokens: Int, seconds: Double, out: OutputWriter) throws {
        func number(_ v: Double) -> Any { v.isFinite ? v : NSNull() }
        let rank = ranks(a)
        let blocks: [[String: Any]] = a.blocks.map { b in
            var o: [String: Any] = [
                "block": b.block,
                "block_influence": number(b.blockInfluence),
                "angular_distance": number(b.angularDistance),
                "span_angular_distance": b.block < a.spanDistances.count ? number(a.spanDistances[b.block]) : NSNull(),
                "rank": rank[b.block],
            ]
            if let r = b.ablation {
                o["bits_per_byte"] = number(r.bitsPerByte)
                o["perplexity"] = number(r.perplexity)
                o["delta_bits_per_byte"] = number(r.bitsPerByte - a.full.bitsPerByte)
            }
            return o
        }
        var object: [String: Any] = [
            "model": model,
            "blocks": blocks,
            "full": ["perplexity": number(a.full.perplexity), "bits_per_byte": number(a.full.bitsPerByte)],
            "span": span,
            "positions": a.positions,
            "windows": a.full.chunks,
            "ctx": ctx,
            "tokens": tokens,
            "ranked_by": ablate ? "bits_per_byte" : "block_influence",
            "seconds": seconds,
        ]
        if let first = a.bestSpanStart {
            object["best_span"] = ["first": first, "last": first + span - 1, "angular_distance": number(a.spanDistances[first])]
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        out.write(bytes: data)
        out.write("\n")
    }
}
