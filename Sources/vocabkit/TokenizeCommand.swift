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
            var ids: [UInt32] = []
            var total = 0
            if let file {
                let input = try InputText(path: file)
                if replaceInvalid { input.replaceInvalidUTF8() }
                do {
                    try tokenizer.encode(utf8: input.bytes, specialTokens: !noSpecial, threads: threads) { chunk in
                        total += chunk.count
                        if !count { ids.append(contentsOf: chunk) }
                    }
                } catch TokenizerError.invalidUTF8(let offset, _) {
                    throw TokenizerError.invalidUTF8(offset: offset, path: file)
                }
            } else {
                ids = tokenizer.encode(text!, specialTokens: !noSpecial).map { UInt32($0) }
                total = ids.count
            }
            let out = OutputWriter()
            if count {
                out.write("\(total)\n")
                return
            }
            let v = tokenizer.vocabulary
            switch format {
            case .ids:
                for (k, id) in ids.enumerated() {
                    if k > 0 { out.write(bytes: CollectionOfOne(0x20)) }
                    out.write(id)
                }
                out.write("\n")
            case .pieces:
                for (k, id) in ids.enumerated() {
                    if k > 0 { out.write(" ") }
                    out.write(ByteLevel.encode(v.bytes(of: Int(id))))
                }
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
