import Foundation
import VocabKitInference
import VocabKitModels
import VocabKitTokenizer

/// An instruct model's greedy answer to one chat prompt.
public struct ChatAnswer: Sendable, Equatable {
    public var prompt: String
    /// Tokens of the whole chat text (template and prompt).
    public var promptTokens: Int
    /// The answer's tokens (an end-of-generation token is not included).
    public var tokens: [Int]
    /// Whether the answer ended on an end-of-generation token rather than the token limit.
    public var stopped: Bool
}

/// Lets an instruct model answer chat prompts, for counting what the assistant writes: each prompt becomes a
/// user message in the model's chat format (`ChatFormat`, as llama.cpp applies the GGUF's
/// `tokenizer.chat_template`), special-token text in it is matched, and the model answers greedily for up to
/// `maxTokens` tokens, stopping at an end-of-generation token.
public struct ChatAnswerer {
    public let model: LanguageModel
    public let tokenizer: Tokenizer
    public let format: ChatFormat
    public var maxTokens: Int

    public init(model: LanguageModel, tokenizer: Tokenizer, format: ChatFormat, maxTokens: Int) {
        self.model = model
        self.tokenizer = tokenizer
        self.format = format
        self.maxTokens = maxTokens
    }

    /// The tokens the model sees for `prompt`: the chat text with the assistant's turn opened.
    public func chatTokens(_ prompt: String) -> [Int] {
        tokenizer.encode(format.apply([.user(prompt)]), specialTokens: true).map(Int.init)
    }

    /// The context a model needs for these prompts' answers: the longest chat text plus `maxTokens`.
    public static func contextNeeded(for prompts: [String], tokenizer: Tokenizer, format: ChatFormat, maxTokens: Int) -> Int {
        let longest = prompts.map { tokenizer.encode(format.apply([.user($0)]), specialTokens: true).count }.max() ?? 0
        return longest + maxTokens
    }

    /// Answers each prompt in turn; `progress` gets (prompts done, prompts in all) after each one.
    public func answer(_ prompts: [String], progress: ((Int, Int) -> Void)? = nil) throws -> [ChatAnswer] {
        let stops = model.stopTokens()
        var answers: [ChatAnswer] = []
        for prompt in prompts {
            let tokens = chatTokens(prompt)
            guard tokens.count + maxTokens <= model.maxContext else {
                throw InferenceError.contextFull(contextLength: model.maxContext)
            }
            let result = try model.generateGreedy(prompt: tokens, maxTokens: maxTokens, stopTokens: stops)
            answers.append(ChatAnswer(prompt: prompt, promptTokens: tokens.count, tokens: result.tokens, stopped: result.stopped))
            progress?(answers.count, prompts.count)
        }
        return answers
    }

    /// The answers' tokens counted per id: what the assistant writes, not what the user typed.
    public static func counts(of answers: [ChatAnswer], vocabularySize: Int, seconds: Double = 0) -> PredictedCounts {
        var result = PredictedCounts(vocabularySize: vocabularySize)
        for answer in answers {
            for id in answer.tokens { result.counts[id] += 1 }
            result.positions += answer.tokens.count
        }
        result.windows = answers.count
        result.corpusPositions = result.positions
        result.seconds = seconds
        return result
    }
}
