import ArgumentParser
import Foundation
import VocabKitGGUF
import VocabKitIO
import VocabKitInference
import VocabKitTokenizer

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Perplexity and bits per byte of a GGUF model (Qwen2/Qwen3) on a text, computed as llama-perplexity does.",
        discussion: """
        Same rule as llama.cpp's `llama-perplexity -m MODEL -f FILE -c CTX [--chunks K]`, so the numbers compare \
        directly: the file is read whole (one final line feed dropped), tokenized with the model's vocabulary \
        without parsing special-token text (a BOS is prepended only if the GGUF says tokenizer.ggml.add_bos_token; \
        Qwen's do not), and cut into floor(tokens / CTX) chunks of CTX tokens (at most K; the rest is ignored; the \
        text must have at least 2·CTX tokens). Each chunk is evaluated from an empty cache and the tokens at \
        positions CTX/2+1 … CTX−1 are scored from the logits one position earlier, so each has at least CTX/2 tokens \
        of context. Perplexity = exp(mean NLL); its ± is the standard error of the mean NLL times the perplexity.

        Bits per byte covers the whole evaluated text: (sum of the NLL in bits of every token predicted inside the \
        chunks, positions 1 … CTX−1 of each, from the same evaluations) / (UTF-8 bytes of those tokens), so that \
        models with different vocabularies compare. Only each chunk's first token and the tail after the last \
        chunk are left out.

        Progress (chunk i/K and the running perplexity) goes to stderr when it is a terminal.
        """
    )

    @Argument(help: "A GGUF model.")
    var model: String

    @Option(name: .long, help: "The text to evaluate (UTF-8).")
    var file: String

    @Option(name: .long, parsing: .unconditional, help: "Tokens per chunk (llama-perplexity's -c).")
    var ctx: Int = 512

    @Option(name: .long, parsing: .unconditional, help: "Tokens per evaluate call (default: the chunk size); batched kernels may round differently per batch size, nothing else changes.")
    var batch: Int?

    @Option(name: .long, parsing: .unconditional, help: "Evaluate at most this many chunks (llama-perplexity's --chunks).")
    var chunks: Int?

    @Flag(name: .customLong("f32-attention"), help: "Keep attention in F32 instead of rounding through F16 as llama.cpp's default does.")
    var f32Attention = false

    @Flag(help: "Print a JSON object: perplexity, perplexity_error, bits_per_byte, nll, tokens, scored_tokens, scored_bytes, bpb_tokens, bpb_bytes, chunks, ctx, seconds.")
    var json = false

    func validate() throws {
        try requireRange(ctx, "--ctx", 4...maximumTokens)
        try requireRange(batch, "--batch", 1...maximumTokens)
        try requireRange(chunks, "--chunks", 1...maximumTokens)
    }

    func run() throws {
        try runReportingErrors {
            do {
                try evaluate()
            } catch let error as InferenceError {
                throw ReportInputError("\(model): \(error.description)")
            } catch let error as EvaluationError {
                throw ReportInputError(error.description)
            }
        }
    }

    private func evaluate() throws {
        let start = DispatchTime.now().uptimeNanoseconds
        let text = try readText(file)
        let lm = try LanguageModel(file: try openModel(model), maxContext: ctx)
        lm.roundAttentionToHalf = !f32Attention
        let showProgress = stderrIsTerminal
        let result: PerplexityResult
        do {
            // llama-perplexity's input rules live in the library (LanguageModel.perplexity(ofUTF8:)).
            result = try lm.perplexity(ofUTF8: text, contextLength: ctx, chunks: chunks, batchSize: batch) { done, total, totals in
                guard showProgress else { return }
                let line = String(format: "\rchunk %d/%d  ppl %.4f\u{1B}[K", done, total, totals.perplexity)
                FileHandle.standardError.write(Data(line.utf8))
            }
        } catch TokenizerError.invalidUTF8(let offset, _) {
            throw ReportInputError("\(file): invalid UTF-8 at byte offset \(offset)")
        }
        if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        // A NaN or infinite result is a broken model (a negative rms_epsilon, overflowing weights), not a score.
        guard result.perplexity.isFinite, result.bitsPerByte.isFinite else {
            throw ReportInputError("\(model): perplexity is \(result.perplexity): the forward pass produced NaN or infinity; "
                                   + "the model's weights or hyperparameters (rms_epsilon \(lm.config.rmsEpsilon)) are not usable")
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let out = OutputWriter()
        if json {
            out.flush()
            try writeJSON(EvalReport(perplexity: result.perplexity, perplexity_error: result.perplexityError,
                                     bits_per_byte: result.bitsPerByte, nll: result.totals.sum, tokens: result.textTokens,
                                     scored_tokens: result.totals.count, scored_bytes: result.totals.bytes,
                                     bpb_tokens: result.wholeText.count, bpb_bytes: result.wholeText.bytes,
                                     chunks: result.chunks, ctx: ctx, seconds: seconds), pretty: false)
        } else {
            let error = result.perplexityError.map { String(format: " +/- %.5f", $0) } ?? ""
            out.write(String(format: "perplexity %.4f", result.perplexity) + error
                      + " over \(result.textTokens) tokens (\(result.chunks) chunks of \(ctx), \(result.totals.count) scored)\n")
            out.write(String(format: "bits per byte %.4f over %d bytes (every token after each chunk's first)\n",
                             result.bitsPerByte, result.wholeText.bytes))
            out.write(String(format: "%.2f s\n", seconds))
        }
        out.flush()
    }
}

/// The whole file as bytes, with one-line errors for missing or unreadable paths.
func readText(_ path: String) throws -> [UInt8] {
    try InputFile(path: path).array
}

/// Opens a GGUF model; errors that do not name the file get its path in front (check opens two).
func openModel(_ path: String) throws -> GGUFFile {
    do {
        return try GGUFFile(path: path)
    } catch let error as GGUFError {
        throw ReportInputError("\(path): \(error)")
    }
}

/// `eval --json`.
struct EvalReport: Encodable {
    let perplexity: Double
    let perplexity_error: Double?
    let bits_per_byte: Double
    let nll: Double
    let tokens: Int
    let scored_tokens: Int
    let scored_bytes: Int
    let bpb_tokens: Int
    let bpb_bytes: Int
    let chunks: Int
    let ctx: Int
    let seconds: Double

    /// Written out even when absent (null), so a script can rely on the key.
    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(perplexity, forKey: .perplexity)
        try c.encode(perplexity_error, forKey: .perplexity_error)
        try c.encode(bits_per_byte, forKey: .bits_per_byte)
        try c.encode(nll, forKey: .nll)
        try c.encode(tokens, forKey: .tokens)
        try c.encode(scored_tokens, forKey: .scored_tokens)
        try c.encode(scored_bytes, forKey: .scored_bytes)
        try c.encode(bpb_tokens, forKey: .bpb_tokens)
        try c.encode(bpb_bytes, forKey: .bpb_bytes)
        try c.encode(chunks, forKey: .chunks)
        try c.encode(ctx, forKey: .ctx)
        try c.encode(seconds, forKey: .seconds)
    }

    enum CodingKeys: CodingKey {
        case perplexity, perplexity_error, bits_per_byte, nll, tokens, scored_tokens, scored_bytes, bpb_tokens, bpb_bytes, chunks, ctx, seconds
    }
}
