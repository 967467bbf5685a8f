import ArgumentParser
import Foundation
import VocabKitIO
import VocabKitTokenizer
#if canImport(Glibc)
import Glibc
#endif

struct DecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Turn token ids back into text.",
        discussion: """
        Bytes that do not form valid UTF-8 (for example a sequence cut off after its first tokens) are shown as \
        \\xNN escapes and reported on stderr; --raw writes the exact bytes instead.
        """
    )

    @Argument(parsing: .captureForPassthrough,
              help: "Token ids (separated by spaces or commas), or '-' to read them from stdin.")
    var ids: [String] = []

    /// The ids without a leading "--" (which only separates options from arguments).
    var idArguments: [String] { ids.first == "--" ? Array(ids.dropFirst()) : ids }

    @Flag(help: "Write the decoded bytes exactly, with no escaping.")
    var raw = false

    @OptionGroup var vocabulary: VocabularyOptions

    func validate() throws {
        if idArguments.isEmpty { throw ValidationError("give token ids, or '-' to read them from stdin") }
        // Ids are taken raw (the argument parser is quadratic in their number), so options must come first.
        if ids.first != "--", let option = ids.first(where: { $0.hasPrefix("-") && $0 != "-" }) {
            throw ValidationError("'\(option)' after the ids: put options first (vocabkit decode [--raw] [--vocab V] IDS…)")
        }
    }

    func run() throws {
        try runReportingErrors {
            let tokenizer = try vocabulary.tokenizer()
            let out = OutputWriter()
            // Ids stream through in pieces: constant memory and linear time for any count. A character cut
            // between two pieces is carried over, so escaping sees whole characters.
            var display = DisplayText(raw: raw)
            var reader = IdListReader(source: idArguments == ["-"] ? "stdin" : "arguments", maximum: tokenizer.vocabulary.idCount - 1)
            var pending: [UInt8] = []
            func emit(_ id: Int) throws {
                pending.append(contentsOf: tokenizer.vocabulary.bytes(of: id))
                if pending.count >= 1 << 16 { display.write(&pending, to: out, final: false) }
            }
            do {
                if idArguments == ["-"] {
                    var chunk = [UInt8](repeating: 0, count: 1 << 16)
                    while true {
                        let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress!, $0.count) }
                        if n < 0 && errno == EINTR { continue }
                        guard n >= 0 else { throw FileError.unreadable(path: "stdin", reason: String(cString: strerror(errno))) }
                        if n == 0 { break }
                        try chunk.withUnsafeBytes { try reader.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n]), emit) }
                    }
                } else {
                    for argument in idArguments {
                        var text = argument + " "
                        try text.withUTF8 { try reader.feed(UnsafeRawBufferPointer($0), emit) }
                    }
                }
                try reader.finish(emit)
            } catch let error as FileError {
                // An id past the vocabulary reads better as such than as a malformed line.
                if case let .malformedLine(_, _, reason) = error, reason.hasPrefix("token id out of range") {
                    throw ReportInputError("\(error) (the vocabulary has \(tokenizer.vocabulary.idCount) ids)")
                }
                throw error
            }
            display.write(&pending, to: out, final: true)
            if !raw { out.write("\n") }
            out.flush()
            if let note = display.note { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        }
    }
}

/// Decoded bytes for display, written as they come: valid UTF-8 as is, other bytes as \xNN escapes (unless
/// raw), with a note at the end saying what was escaped.
struct DisplayText {
    let raw: Bool
    private var escaped = 0
    private var endsInsideCharacter = 0

    init(raw: Bool) { self.raw = raw }

    /// Writes what of `bytes` is complete; an unfinished character at the end stays in `bytes` unless `final`.
    mutating func write(_ bytes: inout [UInt8], to out: OutputWriter, final: Bool) {
        if raw {
            out.write(bytes: bytes)
            bytes.removeAll(keepingCapacity: true)
            return
        }
        var i = 0
        var text = ""
        while i < bytes.count {
            let b = bytes[i]
            let len = b < 0x80 ? 1 : b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 && b < 0xF0 ? 3 : b >= 0xC2 && b < 0xE0 ? 2 : 0
            if len > 1, i + len > bytes.count, !final, String(validating: bytes[i...], as: UTF8.self) == nil,
               bytes[(i + 1)...].allSatisfy({ $0 & 0xC0 == 0x80 }) {
                break  // the rest of this character may come with the next ids
            }
            if len > 0, i + len <= bytes.count, let s = String(validating: bytes[i..<(i + len)], as: UTF8.self) {
                text += s
                i += len
            } else {
                if final && len > 1 && i + len > bytes.count && bytes[(i + 1)...].allSatisfy({ $0 & 0xC0 == 0x80 }) {
                    endsInsideCharacter = bytes.count - i
                }
                text += String(format: "\\x%02X", b)
                escaped += 1
                i += 1
            }
        }
        out.write(text)
        bytes.removeFirst(i)
    }

    var note: String? {
        guard escaped > 0 else { return nil }
        if endsInsideCharacter > 0 && escaped == endsInsideCharacter {
            let tail = endsInsideCharacter
            return "the text ends inside a UTF-8 sequence (\(tail) byte\(tail == 1 ? "" : "s") of an incomplete character, shown as \\xNN)"
        }
        return "\(escaped) byte\(escaped == 1 ? " is" : "s are") not valid UTF-8 (shown as \\xNN)"
    }
}
