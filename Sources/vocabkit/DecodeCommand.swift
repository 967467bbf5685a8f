import ArgumentParser
import Foundation
import VocabKitTokenizer

struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Turn token ids back into text.",
        discussion: """
        Bytes that do not form valid UTF-8 (for example a sequence cut off after its first tokens) are shown as \
        \\xNN escapes and reported on stderr; --raw writes the exact bytes instead.
        """
    )

    @Argument(help: "Token ids.")
    var ids: [Int]

    @Flag(help: "Write the decoded bytes exactly, with no escaping.")
    var raw = false

    @OptionGroup var vocabulary: VocabularyOptions

    func run() throws {
        try runReportingErrors {
            let tokenizer = try vocabulary.tokenizer()
            let tokenIDs = try ids.map { id -> TokenID in
                guard let tokenID = TokenID(exactly: id) else { throw TokenizerError.unknownTokenId(id) }
                return tokenID
            }
            let bytes = try tokenizer.decode(tokenIDs)
            let out = OutputWriter()
            if raw {
                out.write(bytes: bytes)
                return
            }
            let (text, invalid) = honestText(bytes)
            out.write(text)
            out.write("\n")
            out.flush()
            if let invalid {
                FileHandle.standardError.write(Data("note: \(invalid)\n".utf8))
            }
        }
    }
}

/// Text for display: valid UTF-8 as is, other bytes as \xNN escapes, with a note saying what was escaped.
func honestText(_ bytes: [UInt8]) -> (String, String?) {
    if let s = String(validating: bytes, as: UTF8.self) { return (s, nil) }
    var out = ""
    var i = 0
    var escaped = 0
    var lastValidEnd = 0
    while i < bytes.count {
        let b = bytes[i]
        let len = b < 0x80 ? 1 : b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 && b < 0xF0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 0
        if len > 0, i + len <= bytes.count, let s = String(validating: bytes[i..<(i + len)], as: UTF8.self) {
            out += s
            i += len
            lastValidEnd = i
        } else {
            out += String(format: "\\x%02X", b)
            escaped += 1
            i += 1
        }
    }
    let tail = bytes.count - lastValidEnd
    let note = lastValidEnd < bytes.count && tail < 4 && bytes[lastValidEnd] >= 0xC2
        ? "the text ends inside a UTF-8 sequence (\(tail) byte\(tail == 1 ? "" : "s") of an incomplete character, shown as \\xNN)"
        : "\(escaped) byte\(escaped == 1 ? " is" : "s are") not valid UTF-8 (shown as \\xNN)"
    return (out, note)
}
