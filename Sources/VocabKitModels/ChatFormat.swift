import VocabKitGGUF
import VocabKitIO

/// A chat format as llama.cpp's built-in formatter applies it (`llama_chat_apply_template`, the path
/// llama-simple-chat and llama-server without --jinja take): the GGUF's `tokenizer.chat_template` only
/// selects the format, by the markers it contains; the Jinja template itself is not run.
public struct ChatFormat: Sendable, Equatable {
    public let name: String
    /// Markers whose presence in a template selects this format (all must be present).
    let markers: [String]
    /// Markers that select another format instead (llama.cpp checks these first).
    let excluded: [String]
    let render: @Sendable (_ messages: [ChatMessage], _ addAssistantPrompt: Bool) -> String

    public static func == (a: ChatFormat, b: ChatFormat) -> Bool { a.name == b.name }

    /// `<|im_start|>role\ncontent<|im_end|>\n` per message (Qwen, and every other ChatML model).
    public static let chatml = ChatFormat(name: "chatml", markers: ["<|im_start|>"],
                                          excluded: ["<|im_sep|>", "<end_of_utterance>"]) { messages, addAssistant in
        var out = ""
        for message in messages { out += "<|im_start|>\(message.role)\n\(message.content)<|im_end|>\n" }
        if addAssistant { out += "<|im_start|>assistant\n" }
        return out
    }

    /// Llama 3's headers, the content trimmed as llama.cpp trims it.
    public static let llama3 = ChatFormat(name: "llama3", markers: ["<|start_header_id|>", "<|end_header_id|>"],
                                          excluded: []) { messages, addAssistant in
        var out = ""
        for message in messages {
            out += "<|start_header_id|>\(message.role)<|end_header_id|>\n\n\(trimmed(message.content))<|eot_id|>"
        }
        if addAssistant { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        return out
    }

    public static let all: [ChatFormat] = [.chatml, .llama3]

    /// The format a chat template (or a format name such as "chatml") selects, as llama.cpp detects it.
    public static func detect(template: String) -> ChatFormat? {
        if let named = all.first(where: { $0.name == template }) { return named }
        return all.first { format in
            format.markers.allSatisfy(template.contains) && !format.excluded.contains(where: template.contains)
        }
    }

    /// The format of a model's `tokenizer.chat_template`.
    public static func of(_ file: GGUFFile, path: String) throws -> ChatFormat {
        guard let template = file.string("tokenizer.chat_template") else {
            throw ChatFormatError(path: path, reason: "has no tokenizer.chat_template, so it is not a chat model")
        }
        guard let format = detect(template: template) else {
            throw ChatFormatError(path: path, reason: "its chat template is none of the formats VocabKit applies as llama.cpp does ("
                                  + all.map(\.name).joined(separator: ", ") + ")")
        }
        return format
    }

    /// The prompt text for `messages`, ending with the assistant's turn opened when `addAssistantPrompt`.
    public func apply(_ messages: [ChatMessage], addAssistantPrompt: Bool = true) -> String {
        render(messages, addAssistantPrompt)
    }
}

public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: "user", content: content) }
    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: "system", content: content) }
}

public struct ChatFormatError: VocabKitError, Equatable, Sendable {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Whitespace removed from both ends, as llama.cpp's `trim` does (space, tab, CR, LF, VT, FF).
func trimmed(_ text: String) -> String {
    let isSpace: (Unicode.Scalar) -> Bool = { " \t\n\r\u{0B}\u{0C}".unicodeScalars.contains($0) }
    var scalars = Substring(text).unicodeScalars[...]
    while let first = scalars.first, isSpace(first) { scalars = scalars.dropFirst() }
    while let last = scalars.last, isSpace(last) { scalars = scalars.dropLast() }
    return String(String.UnicodeScalarView(scalars))
}
