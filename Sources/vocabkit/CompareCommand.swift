import ArgumentParser
import Foundation
import VocabKitGGUF
import VocabKitInference
import VocabKitTokenizer

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Score GGUF models side by side on the same inputs: perplexity, bits per byte, factual accuracy, repetition, speed.",
        discussion: """
        One row per model, each measured on the same inputs, one model in memory at a time:

        perplexity, bits/byte: on --file, exactly as `eval --ctx N [--chunks K]` computes them. accuracy: each \
        question of --questions (question TAB answers separated by |; # comments) asked as a user message in the \
        model's chat format (chosen from tokenizer.chat_template as llama.cpp's built-in formatter chooses it), \
        answered greedily (--answer-tokens, or an end-of-generation token); right when the reply contains any \
        accepted answer, ignoring case. repetition: each line of --prompts (\\n, \\t, \\\\ escapes) continued \
        greedily for -n tokens; the share of word 4-grams (whitespace-separated words) that repeat an earlier one in \
        the same continuation, over all continuations. prompt tok/s: tokens evaluated in batches (the text's chunks \
        and every prompt) per second; decode tok/s: greedy steps per second.

        Corpora/scorecard/ in the repository holds a question set and prompts written for this. Progress goes to \
        stderr when it is a terminal.
        """
    )

    @Argument(help: "GGUF models to compare.")
    var models: [String]

    @Option(name: .long, help: "A text for perplexity and bits per byte (UTF-8).")
    var file: String

    @Option(name: .long, help: "Questions: question<TAB>answer|answer… per line.")
    var questions: String?

    @Option(name: .long, help: "Continuation prompts, one per line.")
    var prompts: String?

    @Option(name: .long, parsing: .unconditional, help: "Tokens per perplexity chunk (llama-perplexity's -c).")
    var ctx: Int = 512

    @Option(name: .long, parsing: .unconditional, help: "Evaluate at most this many chunks of --file.")
    var chunks: Int?

    @Option(name: .customLong("answer-tokens"), parsing: .unconditional, help: "Greedy tokens per answer at most.")
    var answerTokens: Int = 32

    @Option(name: .short, parsing: .unconditional, help: "Greedy tokens per continuation of a prompt.")
    var n: Int = 64

    @Flag(help: "Print a JSON object: models (model, blocks, perplexity, perplexity_error, bits_per_byte, correct, questions, accuracy, repeated_4grams, total_4grams, repetition_ratio, prompt_tokens_per_second, decode_tokens_per_second, answers, continuations), file, ctx.")
    var json = false

    func validate() throws {
        guard !models.isEmpty else { throw ValidationError("give at least one model") }
        try requireRange(ctx, "--ctx", 4...maximumTokens)
        try requireRange(chunks, "--chunks", 1...maximumTokens)
        try requireRange(answerTokens, "--answer-tokens", 1...maximumTokens)
        try requireRange(n, "-n", 1...maximumTokens)
    }

    func run() throws {
        try runReportingErrors {
            do {
                try compare()
            } catch let error as InferenceError {
                throw ReportInputError(error.description)
            } catch let error as EvaluationError {
                throw ReportInputError(error.description)
            } catch TokenizerError.invalidUTF8(let offset, _) {
                throw ReportInputError("\(file): invalid UTF-8 at byte offset \(offset)")
            }
        }
    }

    private func text(_ path: String) throws -> String {
        guard let text = String(validating: try readText(path), as: UTF8.self) else { throw ReportInputError("\(path): not valid UTF-8") }
        return text
    }

    private func compare() throws {
        let questionSet = try questions.map { try ScorecardQuestion.parse(tsv: try text($0), source: $0) } ?? []
        let promptSet: [String] = try prompts.map { path in
            let lines = promptLines(try text(path)).map(\.text)
            guard !lines.isEmpty else { throw ReportInputError("\(path): no prompts") }
            return lines
        } ?? []
        let inputs = ScorecardInputs(text: try readText(file), questions: questionSet, prompts: promptSet, contextLength: ctx,
                                     chunks: chunks, answerTokens: answerTokens, continuationTokens: n)
        let showProgress = stderrIsTerminal
        var results: [ScorecardResult] = []
        for (i, model) in models.enumerated() {
            let file = try openModel(model)
            let result: ScorecardResult
            do {
                result = try Scorecard.measure(file, source: model, inputs: inputs) { done, total in
                    guard showProgress else { return }
                    FileHandle.standardError.write(Data("\rmodel \(i + 1)/\(models.count): \(done)/\(total)\u{1B}[K".utf8))
                }
            } catch let error as InferenceError {
                throw ReportInputError("\(model): \(error.description)")
            }
            if let p = result.perplexity, !p.perplexity.isFinite || !p.bitsPerByte.isFinite {
                throw ReportInputError("\(model): perplexity is \(p.perplexity): the forward pass produced NaN or infinity")
            }
            results.append(result)
        }
        if showProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        let out = OutputWriter()
        if json {
            try writeJSON(results, out: out)
        } else {
            writeTable(results, out: out)
        }
        out.flush()
    }

    private func writeTable(_ results: [ScorecardResult], out: OutputWriter) {
        let names = models.map { $0.split(separator: "/").last.map(String.init) ?? $0 }
        let width = max(5, names.map(\.count).max() ?? 0)
        func pad(_ s: String, _ w: Int) -> String { s.count >= w ? s : s + String(repeating: " ", count: w - s.count) }
        func left(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }
        out.write(pad("model", width) + "  blocks  perplexity  bits/byte      accuracy  repetition  prompt tok/s  decode tok/s\n")
        for (name, r) in zip(names, results) {
            var line = pad(name, width) + left("\(r.blocks)", 8)
            line += left(r.perplexity.map { String(format: "%.4f", $0.perplexity) } ?? "-", 12)
            line += left(r.perplexity.map { String(format: "%.4f", $0.bitsPerByte) } ?? "-", 11)
            line += left(r.accuracy.map { String(format: "%d/%d %5.1f%%", r.correctAnswers, r.answers.count, 100 * $0) } ?? "-", 14)
            line += left(r.continuations.isEmpty ? "-" : String(format: "%.4f", r.repetition.ratio), 12)
            line += left(String(format: "%.1f", r.promptTokensPerSecond), 14)
            line += left(r.decodeTokens > 0 ? String(format: "%.1f", r.decodeTokensPerSecond) : "-", 14)
            out.write(line + "\n")
        }
        var notes = ["\(file): chunks of \(ctx) tokens"]
        if let questions { notes.append("\(questions): greedy answers of up to \(answerTokens) tokens in each model's chat format") }
        if let prompts { notes.append("\(prompts): repeated word 4-grams in greedy continuations of \(n) tokens") }
        out.write(notes.joined(separator: "; ") + "\n")
    }

    private func writeJSON(_ results: [ScorecardResult], out: OutputWriter) throws {
        func number(_ v: Double) -> Any { v.isFinite ? v : NSNull() }
        let rows: [[String: Any]] = zip(models, results).map { model, r in
            var o: [String: Any] = [
                "model": model,
                "blocks": r.blocks,
                "questions": r.answers.count,
                "correct": r.correctAnswers,
                "accuracy": r.accuracy.map(number) ?? NSNull(),
                "repeated_4grams": r.repetition.repeated,
                "total_4grams": r.repetition.total,
                "repetition_ratio": r.continuations.isEmpty ? NSNull() : number(r.repetition.ratio),
                "prompt_tokens_per_second": number(r.promptTokensPerSecond),
                "decode_tokens_per_second": r.decodeTokens > 0 ? number(r.decodeTokensPerSecond) : NSNull(),
                "answers": r.answers.map { ["question": $0.question, "reply": $0.reply, "correct": $0.correct] as [String: Any] },
                "continuations": r.continuations.map {
                    ["prompt": $0.prompt, "text": $0.text, "repeated_4grams": $0.repetition.repeated, "total_4grams": $0.repetition.total] as [String: Any]
                },
            ]
            if let p = r.perplexity {
                o["perplexity"] = number(p.perplexity)
                o["perplexity_error"] = p.perplexityError.map(number) ?? NSNull()
                o["bits_per_byte"] = number(p.bitsPerByte)
                o["chunks"] = p.chunks
            }
            if let format = r.chatFormat { o["chat_format"] = format }
            return o
        }
        let object: [String: Any] = ["models": rows, "file": file, "ctx": ctx, "answer_tokens": answerTokens, "n": n]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        out.write(bytes: data)
        out.write("\n")
    }
}
