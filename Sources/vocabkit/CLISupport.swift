import ArgumentParser
import Foundation
import VocabKitGGUF
import VocabKitHuggingFace
import VocabKitIO
import VocabKitPrune
import VocabKitSafetensors
import VocabKitTokenizer
#if canImport(Glibc)
import Glibc
#endif

/// Options shared by commands that tokenize.
struct VocabularyOptions: ParsableArguments {
    @Option(name: .long, help: "A GGUF model, tokenizer.json, vocab.json+merges.txt directory, .tiktoken or .vkv (default: the bundled Qwen3 vocabulary).")
    var vocab: String?

    @Option(name: .customLong("pre-tokenizer"),
            help: "The pre-tokenizer for a .tiktoken, .vkv or vocab.json+merges.txt vocabulary (\(PreTokenizer.all.map(\.name).joined(separator: ", ")); default qwen2). GGUF and tokenizer.json files name their own.")
    var preTokenizer: String?

    func tokenizer() throws -> Tokenizer {
        var requested: PreTokenizer?
        if let preTokenizer {
            guard let named = PreTokenizer.named(preTokenizer) else {
                throw ReportInputError("unknown pre-tokenizer '\(preTokenizer)' (known: \(PreTokenizer.knownNames))")
            }
            requested = named
        }
        guard let vocab else {
            if let requested, requested != .qwen2 {
                throw ReportInputError("the bundled vocabulary is Qwen3's (qwen2 pre-tokenizer); give --vocab for \(requested.name)")
            }
            return try Tokenizer.qwen3()
        }
        return try Tokenizer(contentsOf: vocab, preTokenizer: requested)
    }
}

extension Int {
    /// The id as a `TokenID`; a value outside UInt32 becomes `TokenID.max`, which no vocabulary has (ids stop
    /// below 2^21), so decoding it fails with the usual error.
    var tokenID: TokenID { TokenID(exactly: self) ?? .max }
}

/// A whole text input (a file, or stdin for "-") with the --replace-invalid behaviour.
final class InputText {
    let path: String
    private var file: InputFile
    var bytes: UnsafeRawBufferPointer { file.bytes }

    /// Standard input is refused past this size: it may be an endless stream.
    static let standardInputLimit = 1 << 34

    init(path: String) throws {
        self.path = path
        file = try InputFile.open(path, limit: path == "-" ? InputText.standardInputLimit : Int.max)
    }

    /// Replaces ill-formed UTF-8 with U+FFFD (the --replace-invalid behaviour).
    func replaceInvalidUTF8() {
        guard let base = bytes.baseAddress,
              UTF8Validation.firstInvalidOffset(base.assumingMemoryBound(to: UInt8.self), bytes.count) != nil else { return }
        file = InputFile(copying: UTF8Validation.replacingInvalid(bytes), path: path)
    }
}

/// Buffered writing to stdout without going through `print` for every id.
final class OutputWriter {
    private var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(1 << 16) }

    func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    func write(bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 16 { flush() }
    }

    /// Decimal digits of `v`, without allocating a String.
    func write(_ v: UInt32) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = v
        var len = 0
        withUnsafeMutableBytes(of: &digits) { d in
            repeat {
                d[len] = UInt8(48 + n % 10)
                n /= 10
                len += 1
            } while n > 0
            for k in stride(from: len - 1, through: 0, by: -1) { buffer.append(d[k]) }
        }
        if buffer.count >= 1 << 16 { flush() }
    }

    func flush() {
        buffer.withUnsafeBytes { b in
            var done = 0
            while done < b.count {
                let r = Glibc.write(1, b.baseAddress! + done, b.count - done)
                if r <= 0 { if errno == EINTR { continue }; return }
                done += r
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    deinit { flush() }
}

/// The one way commands print JSON: sorted keys, and numbers that JSON cannot hold (a NaN or infinite float
/// read from a model) written as the strings "nan", "inf" and "-inf" rather than failing.
func writeJSON<Value: Encodable>(_ value: Value, pretty: Bool = true) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    let data = try encoder.encode(value)
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

/// Whether stderr is a terminal: progress is shown there and nowhere else.
var stderrIsTerminal: Bool { isatty(2) != 0 }

/// A problem with the user's input found while running (not while parsing arguments), worded by the CLI.
struct ReportInputError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Maps every module's errors to one `error:` line on stderr and exit status 1, without a usage dump.
func runReportingErrors(hint: (any Error) -> String? = { _ in nil }, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as VocabKitError {
        let extra = hint(error) ?? commonHint(error)
        FileHandle.standardError.write(Data("error: \(error)\(extra.map { " (\($0))" } ?? "")\n".utf8))
        throw ExitCode(1)
    } catch let error as ReportInputError {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(1)
    }
}

/// What a user of the command line can do about an error, in terms of its options (the library's messages
/// name none).
private func commonHint(_ error: any Error) -> String? {
    switch error {
    case PruneError.invalidUTF8: return "use --skip-invalid to skip such files"
    case PruneError.invalidDocument: return "use --skip-invalid to skip such lines"
    case PruneError.usageMismatch: return "count again with --vocab MODEL.gguf"
    default: return nil
    }
}

/// A token's bytes as readable text: escapes for control characters and bytes that are not valid UTF-8.
func visible(_ bytes: [UInt8]) -> String {
    var out = ""
    var i = 0
    while i < bytes.count {
        let b = bytes[i]
        switch b {
        case 0x0A: out += "\\n"; i += 1; continue
        case 0x0D: out += "\\r"; i += 1; continue
        case 0x09: out += "\\t"; i += 1; continue
        case 0x20: out += "␣"; i += 1; continue
        default: break
        }
        let len = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC2 ? 2 : 0
        if len > 0, i + len <= bytes.count,
           let s = String(validating: bytes[i..<(i + len)], as: UTF8.self),
           let scalar = s.unicodeScalars.first, !(scalar.properties.generalCategory == .control) {
            out += s
            i += len
        } else {
            out += String(format: "\\x%02X", b)
            i += 1
        }
    }
    return out
}
