/// A dotted path to a field of a JSON object: "text", or "meta.content" for `{"meta": {"content": …}}`. Every
/// dot separates two keys (a key that itself contains a dot cannot be named).
public struct JSONFieldPath: Sendable, Equatable, CustomStringConvertible {
    /// The keys from the outermost object inwards, as UTF-8.
    public let keys: [[UInt8]]

    /// Nil when a key is empty ("", "a..b", ".a").
    public init?(_ dotted: String) {
        let keys = dotted.split(separator: ".", omittingEmptySubsequences: false).map { Array($0.utf8) }
        guard !keys.contains(where: \.isEmpty) else { return nil }
        self.keys = keys
    }

    public var description: String { keys.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".") }
}

/// Why a line is not a document, with the byte column (from 1) where that was found, for messages.
public struct JSONLineProblem: Error, Equatable, Sendable, CustomStringConvertible {
    public let reason: String
    public let column: Int

    public init(reason: String, column: Int) {
        self.reason = reason
        self.column = column
    }

    public var description: String { "\(reason) (column \(column))" }
}

/// Reads one line of JSON Lines and extracts one string field, decoding its escapes. The whole line is checked
/// to be one JSON object by the grammar Python's `json.loads` accepts (its C scanner: whitespace is space, tab,
/// CR and LF; `NaN`, `Infinity` and `-Infinity` are values; raw control characters in strings are refused;
/// duplicate keys keep the last value), so that a line is accepted or refused exactly as a Python pipeline
/// would read it. The bytes must be valid UTF-8 (the caller checks; the scanner itself only looks at ASCII).
///
/// Written by hand rather than with JSONSerialization: a counting pass over gigabytes of JSON Lines spends most
/// of its time here, and building a dictionary per line for one string is several times slower. Nesting is
/// skipped with an explicit stack, so a line of a million `[` costs memory, never the call stack.
/// One reader per thread: it keeps its buffers from line to line.
public final class JSONFieldReader {
    public let path: JSONFieldPath
    /// The decoded text of the last extracted field, valid until the next `read`.
    public private(set) var text: UnsafeRawBufferPointer
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private var keyScratch: [UInt8] = []
    private var stack: [UInt8] = []

    public init(path: JSONFieldPath) {
        self.path = path
        capacity = 1 << 12
        storage = .allocate(byteCount: capacity, alignment: 16)
        text = UnsafeRawBufferPointer(start: storage, count: 0)
    }

    deinit { storage.deallocate() }

    /// What one line holds.
    public enum Line: Equatable {
        /// A line of spaces, tabs and CRs only: no document.
        case blank
        /// The field's text, decoded, is in `text`.
        case document
    }

    /// Reads `line` (without its line feed). Throws a `JSONLineProblem` when the line is not a JSON object,
    /// lacks the field, or the field is not a string (or is one with an unpaired surrogate escape, which
    /// UTF-8 cannot carry).
    public func read(_ line: UnsafeRawBufferPointer) throws -> Line {
        // Decoded text is never longer than its JSON spelling.
        if line.count > capacity {
            storage.deallocate()
            capacity = max(line.count, capacity * 2)
            storage = .allocate(byteCount: capacity, alignment: 16)
        }
        text = UnsafeRawBufferPointer(start: storage, count: 0)
        guard let base = line.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return .blank }
        var scanner = Scanner(p: base, n: line.count, out: storage.assumingMemoryBound(to: UInt8.self))
        scanner.skipWhitespace()
        if scanner.i == scanner.n { return .blank }
        guard scanner.peek == UInt8(ascii: "{") else {
            // Tell a JSON value that is not an object from text that is not JSON at all.
            let start = scanner.i
            var isValue = (try? scanner.skipValue(stack: &stack)) != nil
            scanner.skipWhitespace()
            isValue = isValue && scanner.i == scanner.n
            throw JSONLineProblem(reason: isValue ? "not a JSON object" : "not JSON: expected an object", column: start + 1)
        }
        let found = try scanner.object(path: path.keys, depth: 0, keyScratch: &keyScratch, stack: &stack)
        scanner.skipWhitespace()
        guard scanner.i == scanner.n else { throw scanner.problem("not JSON: text after the object") }
        switch found {
        case let .text(count):
            text = UnsafeRawBufferPointer(start: storage, count: count)
            return .document
        case let .absent(depth):
            let name = JSONFieldPath.describe(path.keys[...depth])
            throw JSONLineProblem(reason: "no field '\(name)'", column: 1)
        case let .wrongKind(depth, kind, column):
            let name = JSONFieldPath.describe(path.keys[...depth])
            let wanted = depth == path.keys.count - 1 ? "a string" : "an object"
            throw JSONLineProblem(reason: "field '\(name)' is \(kind), not \(wanted)", column: column)
        case let .loneSurrogate(column):
            throw JSONLineProblem(reason: "field '\(path)' has an unpaired surrogate escape, which is not text", column: column)
        }
    }
}

extension JSONFieldPath {
    static func describe(_ keys: ArraySlice<[UInt8]>) -> String {
        keys.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".")
    }
}

/// What the object held at the path.
enum FieldOutcome {
    case text(count: Int)
    /// The key at `depth` was not there.
    case absent(depth: Int)
    /// The value at `depth` was of the wrong kind ("a number", "null", …).
    case wrongKind(depth: Int, kind: String, column: Int)
    case loneSurrogate(column: Int)
}

private let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")

/// The cursor over one line. `out` has room for the whole line.
struct Scanner {
    let p: UnsafePointer<UInt8>
    let n: Int
    let out: UnsafeMutablePointer<UInt8>
    var i = 0

    /// The byte at the cursor, 0 past the end (0 is valid nowhere outside a string, and strings check the end).
    var peek: UInt8 { i < n ? p[i] : 0 }

    func problem(_ reason: String) -> JSONLineProblem {
        JSONLineProblem(reason: i < n ? reason : reason + ", found the end of the line", column: i + 1)
    }

    mutating func skipWhitespace() {
        while i < n {
            let b = p[i]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            i += 1
        }
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws {
        guard peek == byte else { throw problem("not JSON: expected \(what)") }
        i += 1
    }

    /// Reads an object (cursor on `{`), looking for `path[depth...]`; the last value of a repeated key wins.
    mutating func object(path: [[UInt8]], depth: Int, keyScratch: inout [UInt8], stack: inout [UInt8]) throws -> FieldOutcome {
        i += 1
        var outcome = FieldOutcome.absent(depth: depth)
        skipWhitespace()
        if peek == UInt8(ascii: "}") { i += 1; return outcome }
        while true {
            guard peek == quote else { throw problem("not JSON: expected a key in quotes") }
            let matches = try key(equals: path[depth], scratch: &keyScratch)
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after a key")
            skipWhitespace()
            if matches {
                let column = i + 1
                if depth == path.count - 1 {
                    if peek == quote {
                        outcome = try decodeString()
                    } else {
                        outcome = .wrongKind(depth: depth, kind: try skipValue(stack: &stack), column: column)
                    }
                } else if peek == UInt8(ascii: "{") {
                    outcome = try object(path: path, depth: depth + 1, keyScratch: &keyScratch, stack: &stack)
                } else {
                    outcome = .wrongKind(depth: depth, kind: try skipValue(stack: &stack), column: column)
                }
            } else {
                _ = try skipValue(stack: &stack)
            }
            skipWhitespace()
            if peek == UInt8(ascii: ",") {
                i += 1
                skipWhitespace()
                continue
            }
            try expect(UInt8(ascii: "}"), "',' or '}' in an object")
            return outcome
        }
    }

    /// Reads a key (cursor on its quote) and tells whether it decodes to `name`.
    mutating func key(equals name: [UInt8], scratch: inout [UInt8]) throws -> Bool {
        let start = i + 1
        let hasEscape = try skipString()
        let raw = UnsafeBufferPointer(start: p + start, count: i - 1 - start)
        if !hasEscape { return raw.elementsEqual(name) }
        // Rare: decode the key into scratch space (lone surrogates never match a name given as text).
        scratch.removeAll(keepingCapacity: true)
        var j = 0
        while j < raw.count {
            let b = raw[j]
            if b != backslash { scratch.append(b); j += 1; continue }
            let e = raw[j + 1]
            j += 2
            if e == UInt8(ascii: "u") {
                var scalar = Scanner.hex4(raw, j)!
                j += 4
                if (0xD800...0xDBFF).contains(scalar), j + 6 <= raw.count, raw[j] == backslash, raw[j + 1] == UInt8(ascii: "u"),
                   let low = Scanner.hex4(raw, j + 2), (0xDC00...0xDFFF).contains(low) {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    j += 6
                }
                guard let unicode = Unicode.Scalar(scalar) else { return false }
                scratch.append(contentsOf: Array(String(Character(unicode)).utf8))
            } else {
                scratch.append(Scanner.simpleEscape(e)!)
            }
        }
        return scratch == name
    }

    static func simpleEscape(_ e: UInt8) -> UInt8? {
        switch e {
        case quote, backslash, UInt8(ascii: "/"): return e
        case UInt8(ascii: "b"): return 0x08
        case UInt8(ascii: "f"): return 0x0C
        case UInt8(ascii: "n"): return 0x0A
        case UInt8(ascii: "r"): return 0x0D
        case UInt8(ascii: "t"): return 0x09
        default: return nil
        }
    }

    @inline(__always)
    static func hexValue(_ b: UInt8) -> UInt32? {
        switch b {
        case 0x30...0x39: return UInt32(b - 0x30)
        case 0x41...0x46: return UInt32(b - 0x41 + 10)
        case 0x61...0x66: return UInt32(b - 0x61 + 10)
        default: return nil
        }
    }

    static func hex4<C: Collection>(_ bytes: C, _ at: C.Index) -> UInt32? where C.Element == UInt8, C.Index == Int {
        guard at + 4 <= bytes.endIndex else { return nil }
        var value: UInt32 = 0
        for k in 0..<4 {
            guard let digit = hexValue(bytes[at + k]) else { return nil }
            value = value << 4 | digit
        }
        return value
    }

    /// Moves past bytes that need no attention inside a string: anything but `"`, `\` and control characters.
    /// Eight bytes at a time (a word has none of them when no byte equals 0x22 or 0x5C and none is below 0x20).
    @inline(__always)
    mutating func skipPlain() {
        let raw = UnsafeRawPointer(p)
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        while i + 8 <= n {
            let w = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let q = w ^ (ones &* 0x22), s = w ^ (ones &* 0x5C)
            // Bytes that are zero in q or s, or below 0x20 in w (only for bytes without the top bit).
            let special = ((q &- ones) & ~q) | ((s &- ones) & ~s) | ((w &- ones &* 0x20) & ~w)
            if special & highs != 0 { break }
            i += 8
        }
        while i < n {
            let b = p[i]
            if b == quote || b == backslash || b < 0x20 { return }
            i += 1
        }
    }

    /// Skips a string (cursor on its opening quote), checking every escape; returns whether it had any.
    @discardableResult
    mutating func skipString() throws -> Bool {
        let start = i
        i += 1
        return try skipStringBody(start: start)
    }

    /// Skips the rest of a string (opened at `start`) from inside it, up to and including the closing quote.
    @discardableResult
    mutating func skipStringBody(start: Int) throws -> Bool {
        var escaped = false
        while true {
            skipPlain()
            guard i < n else { throw Scanner.unterminated(start) }
            let b = p[i]
            if b == quote { i += 1; return escaped }
            if b < 0x20 { throw problem("not JSON: raw control character U+00\(Scanner.hexByte(b)) in a string") }
            escaped = true
            guard i + 1 < n else { throw Scanner.unterminated(start) }
            let e = p[i + 1]
            if e == UInt8(ascii: "u") {
                guard Scanner.hex4(UnsafeBufferPointer(start: p, count: n), i + 2) != nil else {
                    throw problem("not JSON: invalid \\uXXXX escape")
                }
                i += 6
            } else {
                guard Scanner.simpleEscape(e) != nil else { throw problem("not JSON: invalid escape") }
                i += 2
            }
        }
    }

    /// Decodes a string (cursor on its opening quote) into `out`.
    static func unterminated(_ start: Int) -> JSONLineProblem {
        JSONLineProblem(reason: "not JSON: unterminated string", column: start + 1)
    }

    mutating func decodeString() throws -> FieldOutcome {
        let opening = i
        i += 1
        var count = 0
        while true {
            let start = i
            skipPlain()
            if i > start {
                (out + count).update(from: p + start, count: i - start)
                count += i - start
            }
            guard i < n else { throw Scanner.unterminated(opening) }
            let b = p[i]
            if b == quote { i += 1; return .text(count: count) }
            if b < 0x20 { throw problem("not JSON: raw control character U+00\(Scanner.hexByte(b)) in a string") }
            guard i + 1 < n else { throw Scanner.unterminated(opening) }
            let e = p[i + 1]
            guard e == UInt8(ascii: "u") else {
                guard let decoded = Scanner.simpleEscape(e) else { throw problem("not JSON: invalid escape") }
                out[count] = decoded
                count += 1
                i += 2
                continue
            }
            let line = UnsafeBufferPointer(start: p, count: n)
            guard var scalar = Scanner.hex4(line, i + 2) else { throw problem("not JSON: invalid \\uXXXX escape") }
            let column = i + 1
            i += 6
            if (0xD800...0xDBFF).contains(scalar) {
                // A high surrogate pairs with an immediately following \u low surrogate (as Python pairs them).
                if i + 1 < n, p[i] == backslash, p[i + 1] == UInt8(ascii: "u") {
                    guard let low = Scanner.hex4(line, i + 2) else { throw problem("not JSON: invalid \\uXXXX escape") }
                    if (0xDC00...0xDFFF).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                }
            }
            if (0xD800...0xDFFF).contains(scalar) {
                // Not text: finish checking the line's syntax first, so a broken line is reported as such.
                try skipStringBody(start: opening)
                return .loneSurrogate(column: column)
            }
            count += Scanner.appendUTF8(scalar, to: out + count)
        }
    }

    static func appendUTF8(_ scalar: UInt32, to out: UnsafeMutablePointer<UInt8>) -> Int {
        switch scalar {
        case 0..<0x80:
            out[0] = UInt8(scalar)
            return 1
        case 0x80..<0x800:
            out[0] = 0xC0 | UInt8(scalar >> 6)
            out[1] = 0x80 | UInt8(scalar & 0x3F)
            return 2
        case 0x800..<0x10000:
            out[0] = 0xE0 | UInt8(scalar >> 12)
            out[1] = 0x80 | UInt8((scalar >> 6) & 0x3F)
            out[2] = 0x80 | UInt8(scalar & 0x3F)
            return 3
        default:
            out[0] = 0xF0 | UInt8(scalar >> 18)
            out[1] = 0x80 | UInt8((scalar >> 12) & 0x3F)
            out[2] = 0x80 | UInt8((scalar >> 6) & 0x3F)
            out[3] = 0x80 | UInt8(scalar & 0x3F)
            return 4
        }
    }

    static func hexByte(_ b: UInt8) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        return String(decoding: [digits[Int(b >> 4)], digits[Int(b & 15)]], as: UTF8.self)
    }

    /// Skips a literal word if the line has it here.
    mutating func skipWord(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard i + count <= n else { return false }
        let w = word.utf8Start
        for k in 0..<count where p[i + k] != w[k] { return false }
        i += count
        return true
    }

    /// Skips a number by JSON's grammar, `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`; an incomplete
    /// fraction or exponent ends the number before it (and the caller then finds the stray byte).
    mutating func skipNumber() throws {
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        if peek == UInt8(ascii: "-") { i += 1 }
        guard isDigit(peek) else { throw problem("not JSON: expected a value") }
        if peek == 0x30 { i += 1 } else { while isDigit(peek) { i += 1 } }
        if peek == UInt8(ascii: "."), i + 1 < n, isDigit(p[i + 1]) {
            i += 1
            while isDigit(peek) { i += 1 }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            var j = i + 1
            if j < n, p[j] == UInt8(ascii: "+") || p[j] == UInt8(ascii: "-") { j += 1 }
            if j < n, isDigit(p[j]) {
                i = j
                while isDigit(peek) { i += 1 }
            }
        }
    }

    /// Skips a value that is not an object or array; returns what it was, for messages.
    mutating func skipScalar() throws -> String {
        switch peek {
        case quote: try skipString(); return "a string"
        case UInt8(ascii: "t") where skipWord("true"): return "true"
        case UInt8(ascii: "f") where skipWord("false"): return "false"
        case UInt8(ascii: "n") where skipWord("null"): return "null"
        case UInt8(ascii: "N") where skipWord("NaN"): return "a number"
        case UInt8(ascii: "I") where skipWord("Infinity"): return "a number"
        case UInt8(ascii: "-") where skipWord("-Infinity"): return "a number"
        case UInt8(ascii: "-"), 0x30...0x39: try skipNumber(); return "a number"
        default: throw problem("not JSON: expected a value")
        }
    }

    /// Skips any value; containers are walked with `stack` (1 = object, 0 = array) instead of recursion.
    mutating func skipValue(stack: inout [UInt8]) throws -> String {
        let kind: String
        switch peek {
        case UInt8(ascii: "{"): kind = "an object"
        case UInt8(ascii: "["): kind = "an array"
        default: return try skipScalar()
        }
        stack.removeAll(keepingCapacity: true)
        while true {
            // A value starts here.
            switch peek {
            case UInt8(ascii: "{"):
                i += 1
                skipWhitespace()
                if peek == UInt8(ascii: "}") {
                    i += 1
                } else {
                    stack.append(1)
                    try skipKeyAndColon()
                    continue
                }
            case UInt8(ascii: "["):
                i += 1
                skipWhitespace()
                if peek == UInt8(ascii: "]") {
                    i += 1
                } else {
                    stack.append(0)
                    continue
                }
            default:
                _ = try skipScalar()
            }
            // After a value: close containers until one has another value to come.
            while true {
                guard let inObject = stack.last else { return kind }
                skipWhitespace()
                if peek == UInt8(ascii: ",") {
                    i += 1
                    skipWhitespace()
                    if inObject == 1 { try skipKeyAndColon() }
                    break
                }
                if inObject == 1 {
                    try expect(UInt8(ascii: "}"), "',' or '}' in an object")
                } else {
                    try expect(UInt8(ascii: "]"), "',' or ']' in an array")
                }
                stack.removeLast()
            }
        }
    }

    mutating func skipKeyAndColon() throws {
        guard peek == quote else { throw problem("not JSON: expected a key in quotes") }
        try skipString()
        skipWhitespace()
        try expect(UInt8(ascii: ":"), "':' after a key")
        skipWhitespace()
    }
}
