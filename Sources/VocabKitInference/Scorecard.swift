import Foundation
import VocabKitGGUF
import VocabKitIO
import VocabKitModels
import VocabKitTokenizer

// The scorecard `vocabkit compare` prints for each model, the measures the layer-surgery variant this project
// started from was chosen by: perplexity and bits per byte on a text, factual accuracy on short questions asked in
// the model's chat format, how repetitive its greedy continuations are, and speed.

/// A factual question and the answers that count: a reply is right when it contains any of them, ignoring case.
public struct ScorecardQuestion: Sendable, Equatable {
    public var question: String
    public var answers: [String]

    public init(question: String, answers: [String]) {
        self.question = question
        self.answers = answers
    }

    /// Whether `reply` contains one of the answers, case-insensitively.
    public func accepts(_ reply: String) -> Bool {
        answers.contains { reply.range(of: $0, options: [.caseInsensitive]) != nil }
    }

    /// Questions from a TSV text: one `question<TAB>answer|answer…` per line; empty lines and lines starting with
    /// `#` are skipped. `source` names the text in errors.
    public static func parse(tsv text: String, source: String) throws -> [ScorecardQuestion] {
        var out: [ScorecardQuestion] = []
        for (i, raw) in text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            var line = String(decoding: raw, as: UTF8.self)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.allSatisfy(\.isWhitespace) || line.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            let question = fields[0].trimmingCharacters(in: .whitespaces)
            let answers = fields.count == 2
                ? fields[1].split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } : []
            guard !question.isEmpty, !answers.isEmpty else {
                throw ScorecardError(source: source, line: i + 1, reason: "expected a question, a tab, and answers separated by |")
            }
            out.append(ScorecardQuestion(question: question, answers: answers))
        }
        guard !out.isEmpty else { throw ScorecardError(source: source, line: nil, reason: "no questions") }
        return out
    }
}

public struct ScorecardError: VocabKitError, Equatable, Sendable {
    public let source: String
    public let line: Int?
    public let reason: String
    public var description: String { "\(source)\(line.map { ":\($0)" } ?? ""): \(reason)" }
}

/// Repeated word n-grams of a text: `total` n-grams of whitespace-separated words, `repeated` of them a repeat of
/// an earlier one (total − distinct). Words, not tokens, so that models with different vocabularies compare.
public struct Repetition: Sendable, Equatable {
    public var repeated = 0
    public var total = 0

    public init() {}

    public init(_ text: String, n: Int = 4) {
        let words = text.split(whereSeparator: \.isWhitespace)
        guard n >= 1, words.count >= n else { return }
        var seen = Set<ArraySlice<Substring>>()
        for i in 0...(words.count - n) where !seen.insert(words[i..<(i + n)]).inserted { repeated += 1 }
        total = words.count - n + 1
    }

    public mutating func add(_ other: Repetition) {
        repeated += other.repeated
        total += other.total
    }

    /// Share of repeated n-grams (0 when there are none).
    public var ratio: Double { total > 0 ? Double(repeated) / Double(total) : 0 }
}

/// What one model is measured on; every model of a comparison gets the same.
public struct ScorecardInputs: Sendable {
    /// A text for perplexity and bits per byte (read by llama-perplexity's rules), or nil.
    public var text: [UInt8]?
    public var questions: [ScorecardQuestion]
    /// Continuation prompts (plain text, special-token text matched).
    public var prompts: [String]
    public var contextLength: Int
    public var chunks: Int?
    /// Greedy tokens per answer and per continuation.
    public var answerTokens: Int
    public var continuationTokens: Int

    public init(text: [UInt8]?, questions: [ScorecardQuestion] = [], prompts: [String] = [], contextLength: Int = 512,
                chunks: Int? = nil, answerTokens: Int = 32, continuationTokens: Int = 64) {
        self.text = text
        self.questions = questions
        self.prompts = prompts
        self.contextLength = contextLength
        self.chunks = chunks
        self.answerTokens = answerTokens
        self.continuationTokens = continuationTokens
    }
}

/// One model's scorecard.
public struct ScorecardResult: Sendable {
    public struct Answer: Sendable {
        public var question: String
        public var reply: String
        public var correct: Bool
    }

    public struct Continuation: Sendable {
        public var prompt: String
        public var text: String
        public var repetition: Repetition
    }

    public var blocks: Int
    public var perplexity: PerplexityResult?
    public var chatFormat: String?
    public var answers: [Answer] = []
    public var continuations: [Continuation] = []
    /// Tokens evaluated in batches (the text's chunks and every prompt) and the seconds they took.
    public var promptTokens = 0
    public var promptSeconds = 0.0
    /// Greedy steps after each prompt's first token and the seconds they took.
    public var decodeTokens = 0
    public var decodeSeconds = 0.0

    public var correctAnswers: Int { answers.filter(\.correct).count }
    public var accuracy: Double? { answers.isEmpty ? nil : Double(correctAnswers) / Double(answers.count) }
    public var repetition: Repetition { continuations.reduce(into: Repetition()) { $0.add($1.repetition) } }
    public var promptTokensPerSecond: Double { promptSeconds > 0 ? Double(promptTokens) / promptSeconds : 0 }
    public var decodeTokensPerSecond: Double { decodeSeconds > 0 ? Double(decodeTokens) / decodeSeconds : 0 }
}

/// Where a scorecard run is: `done` of `total` steps (the text, each question, each prompt).
public typealias ScorecardProgress = (_ done: Int, _ total: Int) -> Void

public enum Scorecard {
    /// Measures one model (`source` names it in errors) on `inputs`: perplexity as `eval` computes it; each question
    /// asked in the model's chat format (`ChatFormat`, as llama.cpp's built-in formatter writes it; BOS first when
    /// the vocabulary adds one) and answered greedily up to `answerTokens` or an end-of-generation token; each
    /// prompt continued greedily for `continuationTokens`, its word 4-grams counted.
    public static func measure(_ file: GGUFFile, source: String, inputs: ScorecardInputs,
                               progress: ScorecardProgress = { _, _ in }) throws -> ScorecardResult {
        let total = (inputs.text == nil ? 0 : 1) + inputs.questions.count + inputs.prompts.count
        var done = 0
        func step() { done += 1; progress(done, total) }
        progress(0, total)
        // Perplexity in a model sized as `eval` sizes it (its batches, and so its numbers, depend on that).
        let evaluator = try LanguageModel(file: file, maxContext: inputs.contextLength)
        var result = ScorecardResult(blocks: evaluator.config.layerCount)
        if let text = inputs.text {
            let start = DispatchTime.now().uptimeNanoseconds
            let p = try evaluator.perplexity(ofUTF8: text, contextLength: inputs.contextLength, chunks: inputs.chunks)
            result.promptSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            result.promptTokens += p.chunks * (p.contextLength - 1)
            result.perplexity = p
            step()
        }
        guard !inputs.questions.isEmpty || !inputs.prompts.isEmpty else { return result }

        let tokenizer = try evaluator.tokenizer()
        let bos = PerplexityPlan.beginningOfSequence(file: file)
        func tokens(_ text: String) -> [Int] { (bos.map { [$0] } ?? []) + tokenizer.encode(text, specialTokens: true).map(Int.init) }
        var format: ChatFormat?
        if !inputs.questions.isEmpty {
            format = try ChatFormat.of(file, path: source)
            result.chatFormat = format?.name
        }
        let asked = inputs.questions.map { tokens(format!.apply([.user($0.question)])) }
        let continued = inputs.prompts.map(tokens)
        let longest = (asked.map { $0.count + inputs.answerTokens } + continued.map { $0.count + inputs.continuationTokens }).max() ?? 1
        let generator = try LanguageModel(file: file, maxContext: longest + 1)
        let stops = generator.stopTokens()
        func greedy(_ prompt: [Int], _ n: Int) throws -> String {
            let r = try generator.generateGreedy(prompt: prompt, maxTokens: n, stopTokens: stops)
            result.promptTokens += r.promptTokenCount
            result.promptSeconds += r.promptSeconds
            result.decodeTokens += max(r.tokens.count - 1, 0)
            result.decodeSeconds += r.decodeSeconds
            return String(decoding: try tokenizer.decode(r.tokens.map(TokenID.init)), as: UTF8.self)
        }
        for (q, prompt) in zip(inputs.questions, asked) {
            let reply = try greedy(prompt, inputs.answerTokens)
            result.answers.append(.init(question: q.question, reply: reply, correct: q.accepts(reply)))
            step()
        }
        for (text, prompt) in zip(inputs.prompts, continued) {
            let continuation = try greedy(prompt, inputs.continuationTokens)
            result.continuations.append(.init(prompt: text, text: continuation, repetition: Repetition(continuation)))
            step()
        }
        return result
    }
}
