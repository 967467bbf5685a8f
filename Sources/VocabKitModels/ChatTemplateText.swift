/// The text a chat template writes by itself, whatever the conversation: its role markers, default system
/// prompt and tool-call scaffolding. Every prompt an instruct model sees is wrapped in it, so a pruned vocabulary
/// that dropped one of its tokens would tokenize every conversation differently (Qwen's `assistant`, which no
/// source file spells, is the one that did). The template's Jinja is not run: its literal text is read instead
/// (the text between tags and the quoted strings inside them), which holds every piece it can emit, plus the
/// scaffold of the format llama.cpp's built-in formatter applies, which is how llama.cpp and Ollama render it.
public enum ChatTemplateText {
    /// The literal pieces of `template` and, when llama.cpp would recognise its format, that format's scaffold
    /// (every role's markers around empty content, and the opened assistant turn). Empty pieces are left out.
    public static func pieces(of template: String) -> [String] {
        var pieces = literals(ofJinja: template)
        if let format = ChatFormat.detect(template: template) { pieces.append(format.scaffold) }
        return pieces.filter { !$0.isEmpty }
    }

    /// The text outside `{{ }}`, `{% %}` and `{# #}` (trimmed where a `-` asks Jinja to trim it) and the
    /// string literals inside `{{ }}` and `{% %}`, escapes resolved. An unclosed tag or string ends the text
    /// (a malformed template still yields what it holds rather than an error: this only widens a selection).
    public static func literals(ofJinja template: String) -> [String] {
        let bytes = Array(template.utf8)
        var pieces: [String] = []
        var text: [UInt8] = []
        var trimNextText = false
        var i = 0

        func flushText(trimTrailing: Bool) {
            var slice = text[...]
            if trimNextText { slice = slice.drop(while: isJinjaWhitespace) }
            if trimTrailing { while let last = slice.last, isJinjaWhitespace(last) { slice = slice.dropLast() } }
            if !slice.isEmpty { pieces.append(String(decoding: slice, as: UTF8.self)) }
            text.removeAll(keepingCapacity: true)
        }

        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "{"), i + 1 < bytes.count,
                  let close = closer(of: bytes[i + 1]) else {
                text.append(bytes[i])
                i += 1
                continue
            }
            let isComment = bytes[i + 1] == UInt8(ascii: "#")
            let trimsBefore = i + 2 < bytes.count && bytes[i + 2] == UInt8(ascii: "-")
            flushText(trimTrailing: trimsBefore)
            i += trimsBefore ? 3 : 2
            // Inside the tag: collect string literals until the closer.
            var trimsAfter = false
            var closed = false
            while i < bytes.count {
                let b = bytes[i]
                if !isComment, b == UInt8(ascii: "'") || b == UInt8(ascii: "\"") {
                    var literal: [UInt8] = []
                    i = readString(bytes, from: i + 1, quote: b, into: &literal)
                    pieces.append(String(decoding: literal, as: UTF8.self))
                    continue
                }
                if b == close, i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "}") {
                    trimsAfter = i > 0 && bytes[i - 1] == UInt8(ascii: "-")
                    i += 2
                    closed = true
                    break
                }
                i += 1
            }
            trimNextText = closed && trimsAfter
        }
        flushText(trimTrailing: false)
        return pieces
    }

    /// The byte that, followed by `}`, closes a tag opened by `{` and `open`.
    private static func closer(of open: UInt8) -> UInt8? {
        switch open {
        case UInt8(ascii: "{"): return UInt8(ascii: "}")
        case UInt8(ascii: "%"): return UInt8(ascii: "%")
        case UInt8(ascii: "#"): return UInt8(ascii: "#")
        default: return nil
        }
    }

    private static func isJinjaWhitespace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D
    }

    /// Reads a Jinja (Python-style) string body after its opening quote; returns the index after the closing
    /// quote (or the end).
    private static func readString(_ bytes: [UInt8], from start: Int, quote: UInt8, into out: inout [UInt8]) -> Int {
        var i = start
        while i < bytes.count {
            let b = bytes[i]
            if b == quote { return i + 1 }
            if b == UInt8(ascii: "\\"), i + 1 < bytes.count {
                let next = bytes[i + 1]
                switch next {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): out.append(next)
                default: out.append(b); out.append(next)
                }
                i += 2
                continue
            }
            out.append(b)
            i += 1
        }
        return i
    }
}

extension ChatFormat {
    /// What the format writes around a system, a user and an assistant message with no content, then the
    /// opened assistant turn: the markers every conversation carries.
    public var scaffold: String {
        apply([.system(""), .user(""), ChatMessage(role: "assistant", content: "")], addAssistantPrompt: true)
    }
}
