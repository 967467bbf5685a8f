/// VocabKit's one JSON parser, for every JSON file it reads whole (`tokenizer.json`, `vocab.json`,
/// `config.json`, safetensors headers). Foundation's parser gives no byte offsets, turns `true` into 1 and `1.0`
/// into an integer, and recurses without limit; this one is strict RFC 8259 (UTF-8 only, no trailing commas or
/// comments, no lone surrogates), keeps integers apart from other numbers, records where every value starts so
/// that a reader's complaint can name the byte, and refuses nesting deeper than `maximumDepth` so hostile input
/// cannot exhaust the stack. (`JSONField` is the other reader: a streaming field extractor for JSON Lines.)
public struct JSONParser {
    /// Deeper nesting than any configuration, header or tokenizer needs.
    public static let maximumDepth = 64

    /// Whether an object may name a key twice.
    public enum DuplicateKeys: Sendable {
        /// Refused: a file that names a key twice means two things to two readers.
        case refuse
        /// Kept in order, for a reader that reports duplicates in its own terms (a token spelled twice).
        case keep
    }

    private let bytes: UnsafeRawBufferPointer
    private let duplicateKeys: DuplicateKeys
    private var at = 0

    private init(_ bytes: UnsafeRawBufferPointer, duplicateKeys: DuplicateKeys) {
        self.bytes = bytes
        self.duplicateKeys = duplicateKeys
    }

    /// Parses one value surrounded only by whitespace, keeping where each value starts.
    public static func parseNode(_ bytes: UnsafeRawBufferPointer, duplicateKeys: DuplicateKeys = .refuse) throws(JSONSyntaxError) -> JSONNode {
        var parser = JSONParser(bytes, duplicateKeys: duplicateKeys)
        parser.skipSpace()
        let node = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.at == bytes.count else { throw parser.fail("text after the JSON value") }
        return node
    }

    /// Parses one value surrounded only by whitespace, as a document to read and write again.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws -> JSONValue {
        JSONValue(try parseNode(bytes))
    }

    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        try bytes.withUnsafeBytes { try parse($0) }
    }

    private mutating func skipSpace() {
        while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
    }

    private func fail(_ reason: String, at offset: Int? = nil) -> JSONSyntaxError {
        JSONSyntaxError(offset: offset ?? at, reason: reason)
    }

    private mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONNode {
        guard depth < JSONParser.maximumDepth else { throw fail("nested deeper than \(JSONParser.maximumDepth) levels") }
        guard at < bytes.count else { throw fail("the text ends where a value should start") }
        let start = at
        switch bytes[at] {
        case UInt8(ascii: "{"):
            at += 1
            var members: [JSONNode.Member] = []
            var seen = Set<String>()
            skipSpace()
            if at < bytes.count && bytes[at] == UInt8(ascii: "}") { at += 1; return JSONNode(offset: start, value: .object(members)) }
            while true {
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let keyStart = at
                let key = try string()
                if duplicateKeys == .refuse, !seen.insert(key).inserted { throw fail("duplicate key \"\(key)\"", at: keyStart) }
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw fail("expected ':' after an object key") }
                at += 1
                skipSpace()
                members.append(JSONNode.Member(key: key, value: try value(depth: depth + 1)))
                skipSpace()
                guard at < bytes.count else { throw fail("the text ends inside an object") }
                if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                guard bytes[at] == UInt8(ascii: "}") else { throw fail("expected ',' or '}' in an object") }
                at += 1
                return JSONNode(offset: start, value: .object(members))
            }
        case UInt8(ascii: "["):
            at += 1
            var elements: [JSONNode] = []
            skipSpace()
            if at < bytes.count && bytes[at] == UInt8(ascii: "]") { at += 1; return JSONNode(offset: start, value: .array(elements)) }
            while true {
                skipSpace()
                elements.append(try value(depth: depth + 1))
                skipSpace()
                guard at < bytes.count else { throw fail("the text ends inside an array") }
                if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                guard bytes[at] == UInt8(ascii: "]") else { throw fail("expected ',' or ']' in an array") }
                at += 1
                return JSONNode(offset: start, value: .array(elements))
            }
        case UInt8(ascii: "\""):
            return JSONNode(offset: start, value: .string(try string()))
        case UInt8(ascii: "t"):
            try literal("true")
            return JSONNode(offset: start, value: .bool(true))
        case UInt8(ascii: "f"):
            try literal("false")
            return JSONNode(offset: start, value: .bool(false))
        case UInt8(ascii: "n"):
            try literal("null")
            return JSONNode(offset: start, value: .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return JSONNode(offset: start, value: try number())
        default:
            throw fail("unexpected byte 0x\(String(bytes[at], radix: 16)) where a value should start")
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let n = word.utf8CodeUnitCount
        guard at + n <= bytes.count,
              (0..<n).allSatisfy({ bytes[at + $0] == word.utf8Start[$0] }) else { throw fail("not a JSON value") }
        at += n
    }

    private mutating func number() throws(JSONSyntaxError) -> JSONNode.Value {
        let start = at
        if bytes[at] == UInt8(ascii: "-") { at += 1 }
        let digitsStart = at
        while at < bytes.count, bytes[at] >= 0x30, bytes[at] <= 0x39 { at += 1 }
        guard at > digitsStart else { throw fail("a number needs digits", at: start) }
        guard bytes[digitsStart] != 0x30 || at - digitsStart == 1 else { throw fail("a number may not start with 0", at: start) }
        var integral = true
        if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
            integral = false
            at += 1
            let fraction = at
            while at < bytes.count, bytes[at] >= 0x30, bytes[at] <= 0x39 { at += 1 }
            guard at > fraction else { throw fail("a number needs digits after '.'", at: start) }
        }
        if at < bytes.count, bytes[at] | 0x20 == UInt8(ascii: "e") {
            integral = false
            at += 1
            if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
            let exponent = at
            while at < bytes.count, bytes[at] >= 0x30, bytes[at] <= 0x39 { at += 1 }
            guard at > exponent else { throw fail("a number needs digits in its exponent", at: start) }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
        // An integer's text is its value written back, so nothing is lost; `-0` keeps its sign as text.
        if integral, let value = Int(text), String(value) == text { return .integer(value) }
        return .number(text)
    }

    /// A string starting at the opening quote; escapes decoded, UTF-8 checked, raw control characters refused.
    private mutating func string() throws(JSONSyntaxError) -> String {
        let open = at
        at += 1
        var out: [UInt8] = []
        var plainStart = at
        while true {
            guard at < bytes.count else { throw fail("a string is not closed", at: open) }
            let b = bytes[at]
            if b == UInt8(ascii: "\"") { break }
            if b < 0x20 { throw fail("a raw control character (0x\(String(b, radix: 16))) inside a string") }
            if b != UInt8(ascii: "\\") { at += 1; continue }
            try appendValidated(plainStart..<at, to: &out)
            guard at + 1 < bytes.count else { throw fail("a string is not closed", at: open) }
            let escape = bytes[at + 1]
            at += 2
            switch escape {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4(at: at - 2)
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    guard at + 1 < bytes.count, bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") else {
                        throw fail("a lone surrogate \\u escape", at: at - 6)
                    }
                    at += 2
                    let low = try hex4(at: at - 2)
                    guard low >= 0xDC00 && low < 0xE000 else { throw fail("a lone surrogate \\u escape", at: at - 12) }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw fail("a lone surrogate \\u escape", at: at - 6)
                }
                guard let s = Unicode.Scalar(scalar) else { throw fail("an invalid \\u escape", at: at - 6) }
                out.append(contentsOf: Array(String(Character(s)).utf8))
            default:
                throw fail("an unknown escape '\\\(Character(Unicode.Scalar(escape)))'", at: at - 2)
            }
            plainStart = at
        }
        let plainEnd = at
        at += 1
        if out.isEmpty {
            let plain = UnsafeRawBufferPointer(rebasing: bytes[plainStart..<plainEnd])
            if let text = String(validating: plain, as: UTF8.self) { return text }
            throw fail("invalid UTF-8 in a string", at: plainStart + Self.firstInvalidUTF8(plain))
        }
        try appendValidated(plainStart..<plainEnd, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends raw string bytes after checking they are UTF-8 by themselves (escapes cannot complete them).
    private func appendValidated(_ range: Range<Int>, to out: inout [UInt8]) throws(JSONSyntaxError) {
        let run = UnsafeRawBufferPointer(rebasing: bytes[range])
        guard String(validating: run, as: UTF8.self) != nil else {
            throw fail("invalid UTF-8 in a string", at: range.lowerBound + Self.firstInvalidUTF8(run))
        }
        out.append(contentsOf: run)
    }

    /// The offset of the first byte that does not start a well-formed UTF-8 sequence (only on the error path).
    private static func firstInvalidUTF8(_ run: UnsafeRawBufferPointer) -> Int {
        var iterator = run.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while case .scalarValue(let scalar) = decoder.decode(&iterator) { offset += UTF8.width(scalar) }
        return offset
    }

    /// Four hex digits after `\u` (the escape starts at `escapeStart`); advances past them.
    private mutating func hex4(at escapeStart: Int) throws(JSONSyntaxError) -> UInt32 {
        guard at + 4 <= bytes.count else { throw fail("a \\u escape needs four hex digits", at: escapeStart) }
        var v: UInt32 = 0
        for k in 0..<4 {
            let b = bytes[at + k]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            default: throw fail("a \\u escape needs four hex digits", at: escapeStart)
            }
            v = v << 4 | d
        }
        at += 4
        return v
    }
}

/// Where and why a JSON text is not valid.
public struct JSONSyntaxError: VocabKitError, Equatable, Sendable {
    /// Byte offset into the parsed text.
    public let offset: Int
    public let reason: String

    public var description: String { "\(reason) at byte \(offset)" }
}

/// A parsed value and the byte offset where it starts, for readers that say where a file is wrong.
public struct JSONNode: Sendable {
    public struct Member: Sendable {
        public let key: String
        public let value: JSONNode
    }

    public enum Value: Sendable {
        case null
        case bool(Bool)
        /// A number written without fraction or exponent that fits Int.
        case integer(Int)
        /// Any other number, as written.
        case number(String)
        case string(String)
        case array([JSONNode])
        case object([Member])

        /// What the value is, for messages.
        public var kind: String {
            switch self {
            case .null: return "null"
            case .bool: return "a boolean"
            case .integer: return "an integer"
            case .number(let text): return "the number \(text)"
            case .string: return "a string"
            case .array: return "an array"
            case .object: return "an object"
            }
        }
    }

    public let offset: Int
    public let value: Value

    /// The first member named `key` of an object, or nil.
    public subscript(key: String) -> JSONNode? {
        guard case .object(let members) = value else { return nil }
        return members.first { $0.key == key }?.value
    }
}

/// A JSON document as written: object members keep their order and numbers keep their text, so a file that
/// is read and written again changes only where a caller changed it (`1e-06` stays `1e-06`, key order stays).
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number exactly as it appeared (validated against JSON's number grammar).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// The document a parsed node holds, offsets dropped.
    public init(_ node: JSONNode) {
        switch node.value {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .integer(let i): self = .number(String(i))
        case .number(let text): self = .number(text)
        case .string(let s): self = .string(s)
        case .array(let elements): self = .array(elements.map(JSONValue.init))
        case .object(let members): self = .object(members.map { JSONMember($0.key, JSONValue($0.value)) })
        }
    }

    /// A number from an integer.
    public static func integer(_ value: Int) -> JSONValue { .number(String(value)) }

    /// The value of an integer written without fraction or exponent that fits Int.
    public var int: Int? {
        guard case let .number(text) = self, !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else { return nil }
        return Int(text)
    }

    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case let .array(a) = self { return a }
        return nil
    }

    public var members: [JSONMember]? {
        if case let .object(m) = self { return m }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// The first member named `key` of an object.
    public subscript(key: String) -> JSONValue? {
        guard case let .object(members) = self else { return nil }
        return members.first(where: { $0.key == key })?.value
    }

    /// Describes the kind of value, for messages.
    public var kind: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

public struct JSONMember: Equatable, Sendable {
    public var key: String
    public var value: JSONValue

    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}

extension Array where Element == JSONMember {
    /// The value of the first member named `key`.
    public subscript(key key: String) -> JSONValue? { first(where: { $0.key == key })?.value }

    /// Replaces the value of every member named `key`, or appends one.
    public mutating func set(_ key: String, _ value: JSONValue) {
        var found = false
        for index in indices where self[index].key == key {
            self[index].value = value
            found = true
        }
        if !found { append(JSONMember(key, value)) }
    }
}

/// Writes JSON: `pretty` is the layout Python's `json.dumps(indent=2)` and the `tokenizers` library use
/// (two-space indent, `"key": value`, `[]`/`{}` when empty); non-ASCII text is written as UTF-8.
public struct JSONWriter {
    public var pretty: Bool

    public init(pretty: Bool = true) { self.pretty = pretty }

    public func text(_ value: JSONValue) -> String {
        var out = ""
        write(value, indent: 0, into: &out)
        return out
    }

    private func write(_ value: JSONValue, indent: Int, into out: inout String) {
        switch value {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .number(n): out += n
        case let .string(s): Self.quote(s, into: &out)
        case let .array(elements):
            if elements.isEmpty { out += "[]"; return }
            out += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { out += "," }
                newline(indent + 1, &out)
                write(element, indent: indent + 1, into: &out)
            }
            newline(indent, &out)
            out += "]"
        case let .object(members):
            if members.isEmpty { out += "{}"; return }
            out += "{"
            for (index, member) in members.enumerated() {
                if index > 0 { out += "," }
                newline(indent + 1, &out)
                Self.quote(member.key, into: &out)
                out += pretty ? ": " : ":"
                write(member.value, indent: indent + 1, into: &out)
            }
            newline(indent, &out)
            out += "}"
        }
    }

    private func newline(_ indent: Int, _ out: inout String) {
        guard pretty else { return }
        out += "\n"
        out += String(repeating: " ", count: indent * 2)
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped, everything else as is.
    public static func quote(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
