import ArgumentParser
import Foundation
import VocabKitTokenizer
import VocabKitIO

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize text exactly as Qwen does.",
        discussion: """
        Formats: table (readable pieces and ids), ids (space-separated on one line), pieces (byte-level \
        spellings, space-separated), json ({"count", "ids", "pieces"}).
        """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, ids, pieces, json }

    @Argument(help: "Text to tokenize (or use --file).")
    var text: String?

    @Option(name: .shortAndLong, help: "Read the text from a file; '-' reads stdin.")
    var file: String?

    @Option(help: "Output format: table, ids, pieces or json.")
    var format: Format = .table

    @Flag(help: "Print only the number of tokens.")
    var count = false

    @Option(parsing: .unconditional, help: "Threads to use (default: all cores).")
    var threads: Int = defaultThreads

    @Flag(name: .customLong("no-special"), help: "Treat special-token text such as <|im_start|> as plain text.")
    var noSpecial = false

    @Flag(help: "Replace invalid UTF-8 with U+FFFD instead of failing.")
    var replaceInvalid = false

    @OptionGroup var vocabulary: VocabularyOptions

    func validate() throws {
        if (text == nil) == (file == nil) { throw ValidationError("give either TEXT or --file PATH") }
        try requireRange(threads, "--threads", 1...maximumThreads)
    }

    func run() throws {
        try runReportingErrors(hint: replaceInvalidHint) {
            let tokenizer = try vocabulary.tokenizer()
            let v = tokenizer.vocabulary
            let out = OutputWriter()
            // ids and pieces are written as the chunks arrive, so nothing but a few chunks' ids is held whatever
            // the input's size; json and table print the count first, so they keep every id.
            var ids: [UInt32] = []
            var total = 0
            let handle = { (chunk: UnsafeBufferPointer<TokenID>) in
                defer { total += chunk.count }
                if count { return }
                switch format {
                case .ids:
                    DecimalIDs.write(chunk, separatedBy: 0x20, leadingSeparator: total > 0, to: out)
                case .pieces:
                    for (k, id) in chunk.enumerated() {
                        if total + k > 0 { out.write(" ") }
                        out.write(ByteLevel.encode(v.bytes(of: Int(id))))
                    }
                case .json, .table:
                    ids.append(contentsOf: chunk)
                }
            }
            if let file {
                let input = try InputText(path: file)
                if replaceInvalid { input.replaceInvalidUTF8() }
                do {
                    try tokenizer.encode(utf8: input.bytes, specialTokens: !noSpecial, threads: threads, sink: handle)
                } catch TokenizerError.invalidUTF8(let offset, _) {
                    throw TokenizerError.invalidUTF8(offset: offset, path: file)
                }
            } else {
                tokenizer.encode(text!, specialTokens: !noSpecial).withUnsafeBufferPointer { handle($0) }
            }
            if count {
                out.write("\(total)\n")
                return
            }
            switch format {
            case .ids, .pieces:
                out.write("\n")
            case .json:
                out.write("{\"count\":\(ids.count),\"ids\":[")
                for (k, id) in ids.enumerated() {
                    if k > 0 { out.write(",") }
                    out.write(id)
                }
                out.write("],\"pieces\":[")
                for (k, id) in ids.enumerated() {
                    if k > 0 { out.write(",") }
                    out.write(jsonString(ByteLevel.encode(v.bytes(of: Int(id)))))
                }
                out.write("]}\n")
            case .table:
                let width = max(String(ids.count).count, 1)
                out.write("\("#".padding(toLength: width, withPad: " ", startingAt: 0))  \("id".leftPad(6))  text\n")
                for (k, id) in ids.enumerated() {
                    let bytes = v.bytes(of: Int(id))
                    out.write("\(String(k).leftPad(width))  \(String(id).leftPad(6))  \(visible(bytes))\n")
                }
                out.write("\(ids.count) tokens\n")
            }
        }
    }
}

/// Ids as decimal text, formatted a block at a time into one buffer (`tokenize --format ids` writes tens of
/// millions of them; one `write` per digit made formatting cost twice the encoding).
enum DecimalIDs {
    /// "00", "01", … "99".
    private static let pairs: [UInt8] = {
        var digits = [UInt8]()
        for v in 0..<100 {
            digits.append(UInt8(48 + v / 10))
            digits.append(UInt8(48 + v % 10))
        }
        return digits
    }()

    static func write(_ ids: UnsafeBufferPointer<TokenID>, separatedBy separator: UInt8, leadingSeparator: Bool,
                      to out: OutputWriter) {
        let block = 4096
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: block * 11) { text in
            pairs.withUnsafeBufferPointer { pairs in
                var start = 0
                while start < ids.count {
                    let end = min(ids.count, start + block)
                    var n = 0
                    for k in start..<end {
                        if k > 0 || leadingSeparator {
                            text[n] = separator
                            n += 1
                        }
                        n += format(ids[k], into: text.baseAddress! + n, pairs: pairs.baseAddress!)
                    }
                    out.write(bytes: UnsafeBufferPointer(start: text.baseAddress, count: n))
                    start = end
                }
            }
        }
    }

    /// Writes the digits of `v` at `p`; returns how many.
    @inline(__always)
    static func format(_ v: UInt32, into p: UnsafeMutablePointer<UInt8>, pairs: UnsafePointer<UInt8>) -> Int {
        var length = 1
        var limit: UInt32 = 10
        while length < 10 && v >= limit {
            length += 1
            limit = limit &* 10
        }
        var rest = v
        var at = length
        while rest >= 100 {
            let pair = Int(rest % 100) * 2
            rest /= 100
            at -= 2
            p[at] = pairs[pair]
            p[at + 1] = pairs[pair + 1]
        }
        if rest >= 10 {
            p[at - 2] = pairs[Int(rest) * 2]
            p[at - 1] = pairs[Int(rest) * 2 + 1]
        } else {
            p[at - 1] = UInt8(48 + rest)
        }
        return length
    }
}

extension String {
    func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

/// A JSON string literal.
func jsonString(_ s: String) -> String {
    var out = ""
    JSONWriter.quote(s, into: &out)
    return out
}

/// For ill-formed text: the option that substitutes U+FFFD instead of stopping.
func replaceInvalidHint(_ error: any Error) -> String? {
    if case TokenizerError.invalidUTF8 = error { return "use --replace-invalid to substitute U+FFFD" }
    return nil
}
