import VocabKitIO

/// A strict JSON reader for vocabulary files (`tokenizer.json`, `vocab.json`) that says where a problem is.
/// Foundation's parser gives no byte offsets, turns `true` into 1 and `1.0` into an integer, and recurses
/// without limit; this one keeps integers apart from other numbers, records the byte offset of every value,
/// and refuses nesting deeper than `maximumDepth`.
struct JSONReader {
    /// A value and the byte offset where it starts.
    struct Node {
        let offset: Int
        let value: Value

        /// The member `key` of an object, or nil.
        subscript(key: String) -> Node? {
            guard case .object(let members) = value else { return nil }
            return members.first { $0.key == key }?.value
        }
    }

    enum Value {
        case null
        case bool(Bool)
        /// A number written without fraction or exponent that fits Int.
        case integer(Int)
        /// Any other number, as written.
        case number(String)
        case string(String)
        case array([Node])
        case object([(key: String, value: Node)])

        /// What the value is, for messages.
        var kind: String {
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

    struct Failure: Error {
        let offset: Int
        let reason: String
    }

    static let maximumDepth = 64

    /// Parses a whole document (one value, surrounded by whitespace at most).
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(Failure) -> Node {
        var reader = JSONReader(bytes: bytes)
        reader.skipSpace()
        let node = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.at == bytes.count else { throw Failure(offset: reader.at, reason: "text after the JSON value") }
        return node
    }

    private let bytes: UnsafeRawBufferPointer
    private var at = 0

    private init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private mutating func skipSpace() {
        while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
    }

    private func fail(_ reason: String, at offset: Int? = nil) -> Failure { Failure(offset: offset ?? at, reason: reason) }

    private mutating func value(depth: Int) throws(Failure) -> Node {
        guard depth < JSONReader.maximumDepth else { throw fail("nested deeper than \(JSONReader.maximumDepth) levels") }
        guard at < bytes.count else { throw fail("the text ends where a value should start") }
        let start = at
        switch bytes[at] {
        case UInt8(ascii: "{"):
            at += 1
            var members: [(key: String, value: Node)] = []
            skipSpace()
            if at < bytes.count && bytes[at] == UInt8(ascii: "}") { at += 1; return Node(offset: start, value: .object(members)) }
            while true {
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
                let key = try string()
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw fail("expected ':' after an object key") }
                at += 1
                skipSpace()
                members.append((key, try value(depth: depth + 1)))
                skipSpace()
                guard at < bytes.count else { throw fail("the text ends inside an object") }
                if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                guard bytes[at] == UInt8(ascii: "}") else { throw fail("expected ',' or '}' in an object") }
                at += 1
                return Node(offset: start, value: .object(members))
            }
        case UInt8(ascii: "["):
            at += 1
            var elements: [Node] = []
            skipSpace()
            if at < bytes.count && bytes[at] == UInt8(ascii: "]") { at += 1; return Node(offset: start, value: .array(elements)) }
            while true {
                skipSpace()
                elements.append(try value(depth: depth + 1))
                skipSpace()
                guard at < bytes.count else { throw fail("the text ends inside an array") }
                if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
                guard bytes[at] == UInt8(ascii: "]") else { throw fail("expected ',' or ']' in an array") }
                at += 1
                return Node(offset: start, value: .array(elements))
            }
        case UInt8(ascii: "\""):
            return Node(offset: start, value: .string(try string()))
        case UInt8(ascii: "t"):
            try literal("true")
            return Node(offset: start, value: .bool(true))
        case UInt8(ascii: "f"):
            try literal("false")
            return Node(offset: start, value: .bool(false))
        case UInt8(ascii: "n"):
            try literal("null")
            return Node(offset: start, value: .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return Node(offset: start, value: try number())
        default:
            throw fail("unexpected byte 0x\(String(bytes[at], radix: 16)) where a value should start")
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let n = word.utf8CodeUnitCount
        guard at + n <= bytes.count,
              (0..<n).allSatisfy({ bytes[at + $0] == word.utf8Start[$0] }) else { throw fail("not a JSON value") }
        at += n
    }

    private mutating func number() throws(Failure) -> Value {
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
        if integral, let magnitude = DecimalParser.int(UnsafeRawBufferPointer(rebasing: bytes[digitsStart..<at])) {
            if digitsStart == start { return .integer(magnitude) }
            return .integer(-magnitude)
        }
        return .number(text)
    }

    /// A string starting at the opening quote; escapes decoded, UTF-8 checked, raw control characters refused.
    private mutating func string() throws(Failure) -> String {
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
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[plainStart..<at]))
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
        let plain = UnsafeRawBufferPointer(rebasing: bytes[plainStart..<at])
        at += 1
        if out.isEmpty {
            guard let base = plain.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return "" }
            if let bad = UTF8Validation.firstInvalidOffset(base, plain.count) {
                throw fail("invalid UTF-8 in a string", at: plainStart + bad)
            }
            return String(decoding: plain, as: UTF8.self)
        }
        out.append(contentsOf: plain)
        guard let text = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8 in a string", at: open) }
        return text
    }

    /// Four hex digits after `\u` (the escape starts at `escapeStart`); advances past them.
    private mutating func hex4(at escapeStart: Int) throws(Failure) -> UInt32 {
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
