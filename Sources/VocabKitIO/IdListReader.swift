/// Reads lists of token ids: decimal numbers separated by whitespace (spaces, tabs, LF, CRLF) or commas,
/// with `#` comments to the end of a line. Keep and drop lists, and `decode -`, all read this format.
/// Input may arrive in pieces (a stream on stdin): a number cut between two pieces is joined, so memory
/// stays constant and time linear however long the list is.
public struct IdListReader {
    public let source: String
    /// Largest id accepted; larger numbers are an error naming their line.
    public let maximum: Int
    private var line = 1
    private var pending: Int?
    private var pendingDigits = 0
    private var inComment = false

    public init(source: String, maximum: Int = (1 << 21) - 1) {
        self.source = source
        self.maximum = maximum
    }

    /// Reads the ids in `bytes`, handing each to `body` in order.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ body: (Int) throws -> Void) throws {
        for b in bytes {
            if inComment {
                if b == 0x0A { inComment = false; line += 1 }
                continue
            }
            switch b {
            case 0x30...0x39:
                let digit = Int(b - 0x30)
                let value = (pending ?? 0) * 10 + digit
                pendingDigits += 1
                guard pendingDigits <= 19, value <= maximum else {
                    throw FileError.malformedLine(path: source, line: line, reason: "token id out of range (at most \(maximum))")
                }
                pending = value
            case 0x20, 0x09, 0x0D, 0x0A, 0x2C, 0x23:
                try finishNumber(body)
                if b == 0x0A { line += 1 }
                if b == 0x23 { inComment = true }
            default:
                let shown = b >= 0x21 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x" + String(b, radix: 16)
                let hint = b == 0x2D ? " (ids are not negative)" : ""
                throw FileError.malformedLine(path: source, line: line, reason: "\(shown) in a list of token ids\(hint)")
            }
        }
    }

    /// Ends the input: a number at the very end counts too.
    public mutating func finish(_ body: (Int) throws -> Void) throws { try finishNumber(body) }

    private mutating func finishNumber(_ body: (Int) throws -> Void) throws {
        if let value = pending { try body(value) }
        pending = nil
        pendingDigits = 0
    }

    /// Every id in a list file.
    public static func read(path: String, maximum: Int = (1 << 21) - 1) throws -> [Int] {
        let file = try InputFile(path: path, limit: 1 << 30)
        var reader = IdListReader(source: path, maximum: maximum)
        var ids: [Int] = []
        try reader.feed(file.bytes) { ids.append($0) }
        try reader.finish { ids.append($0) }
        return ids
    }
}
