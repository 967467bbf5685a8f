import Foundation
import VocabKitIO
import VocabKitTokenizer

/// How often each token id occurred in a corpus, with what was counted. Saved as `usage.tsv`: comment lines
/// (`# files N`, `# bytes N`, `# tokens N`, `# vocabulary SOURCE`), then `id<TAB>count<TAB>piece` for every
/// used token, most used first (ties by id). Pieces are in the byte-level spelling GGUF uses, so the file
/// can be checked against a model's vocabulary before it is trusted.
public struct TokenUsage: Equatable, Sendable {
    /// Occurrences per id; ids past the end were not seen.
    public var counts: [UInt64]
    /// Byte-level spelling of each used id, as written in the file (empty for ids never seen).
    public var pieces: [Int: String]
    public var files: Int
    public var bytes: Int
    public var vocabularySource: String
    /// Files skipped because they were not valid UTF-8 (path and offset), reported rather than counted.
    public var skippedFiles: [(path: String, offset: Int)] = []

    public init(counts: [UInt64], pieces: [Int: String], files: Int, bytes: Int, vocabularySource: String) {
        self.counts = counts
        self.pieces = pieces
        self.files = files
        self.bytes = bytes
        self.vocabularySource = vocabularySource
    }

    public static func == (a: TokenUsage, b: TokenUsage) -> Bool {
        a.counts == b.counts && a.pieces == b.pieces && a.files == b.files && a.bytes == b.bytes
            && a.vocabularySource == b.vocabularySource
    }

    /// Total token occurrences.
    public var tokens: UInt64 { counts.reduce(0, &+) }

    /// Ids with a non-zero count, most used first, ties by id.
    public var rankedIds: [Int] {
        // Sorting (count, id) values rather than ids looked up through `counts` keeps this quick on 150k ids.
        var used: [(count: UInt64, id: Int32)] = []
        used.reserveCapacity(counts.count)
        for (id, count) in counts.enumerated() where count > 0 { used.append((count, Int32(id))) }
        used.sort { $0.count != $1.count ? $0.count > $1.count : $0.id < $1.id }
        return used.map { Int($0.id) }
    }

    // MARK: Coverage

    /// How many of the most used tokens it takes to cover `fraction` of all occurrences.
    public func tokensCovering(_ fraction: Double) -> Int { tokensCovering([fraction])[0] }

    /// `tokensCovering` for several fractions, ranking the ids once.
    public func tokensCovering(_ fractions: [Double], ranked: [Int]? = nil) -> [Int] {
        let ranked = ranked ?? rankedIds
        let total = tokens
        return fractions.map { fraction in
            guard total > 0 else { return 0 }
            let needed = UInt64((Double(total) * min(max(fraction, 0), 1)).rounded(.up))
            var sum: UInt64 = 0
            for (index, id) in ranked.enumerated() {
                sum += counts[id]
                if sum >= needed { return index + 1 }
            }
            return ranked.count
        }
    }

    /// The key points printed after counting.
    public static let coverageKeyPoints: [Double] = [0.9, 0.99, 0.999, 0.9999]

    /// The coverage curve (share of occurrences covered by the k most used tokens) as a small standalone SVG,
    /// with a logarithmic token axis so both the head and the long tail are visible.
    public func coverageSVG(title: String = "Token coverage") -> String {
        let ranked = rankedIds
        let total = Double(max(tokens, 1))
        let width = 640.0, height = 400.0, left = 60.0, right = 20.0, top = 40.0, bottom = 50.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let maxRank = Double(max(ranked.count, 2))
        func x(_ rank: Double) -> Double { left + log10(rank) / log10(maxRank) * plotWidth }
        func y(_ share: Double) -> Double { top + (1 - share) * plotHeight }
        var points: [String] = []
        var sum: UInt64 = 0
        var lastX = -1.0
        for (index, id) in ranked.enumerated() {
            sum += counts[id]
            let px = x(Double(index + 1))
            if px - lastX >= 0.5 || index == ranked.count - 1 {
                points.append(String(format: "%.1f,%.1f", px, y(Double(sum) / total)))
                lastX = px
            }
        }
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(Int(width / 2))" y="24" text-anchor="middle" font-size="15">\(Self.xmlEscaped(title))</text>
        <line x1="\(left)" y1="\(top + plotHeight)" x2="\(left + plotWidth)" y2="\(top + plotHeight)" stroke="black"/>
        <line x1="\(left)" y1="\(top)" x2="\(left)" y2="\(top + plotHeight)" stroke="black"/>

        """
        for share in [0.0, 0.25, 0.5, 0.75, 0.9, 1.0] {
            svg += String(format: "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.0f%%</text>\n", left - 6, y(share) + 4, share * 100)
            svg += String(format: "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", left, y(share), left + plotWidth, y(share))
        }
        var decade = 1.0
        while decade <= maxRank {
            svg += String(format: "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.0f</text>\n", x(decade), top + plotHeight + 18, decade)
            decade *= 10
        }
        svg += "<text x=\"\(Int(left + plotWidth / 2))\" y=\"\(Int(height - 10))\" text-anchor=\"middle\">tokens, most used first (log scale)</text>\n"
        svg += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>\n"
        for (fraction, k) in zip(Self.coverageKeyPoints, tokensCovering(Self.coverageKeyPoints, ranked: ranked)) {
            guard k > 0 else { continue }
            svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#d62728\"/>", x(Double(k)), y(fraction))
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" fill=\"#d62728\">%@%%: %d</text>\n",
                          x(Double(k)) + 5, y(fraction) + 14, Self.percent(fraction), k)
        }
        return svg + "</svg>\n"
    }

    /// "99.99" for 0.9999, without float noise.
    public static func percent(_ fraction: Double) -> String {
        var text = String(format: "%.4f", fraction * 100)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    private static func xmlEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    // MARK: usage.tsv

    /// The file's text; pieces come from `vocabulary` when given, else from `pieces`.
    public func tsv(vocabulary: Vocabulary? = nil) -> String { String(decoding: tsvBytes(vocabulary: vocabulary), as: UTF8.self) }

    /// The file's bytes, built without intermediate strings (a usage table can have 150k rows); `ranked` is
    /// `rankedIds` when the caller already has it.
    public func tsvBytes(vocabulary: Vocabulary? = nil, ranked: [Int]? = nil) -> [UInt8] {
        var out = Array("# vocabkit token usage\n# files \(files)\n# bytes \(bytes)\n# tokens \(tokens)\n".utf8)
        out += "# vocabulary \(vocabularySource)\n# id\tcount\tpiece\n".utf8
        out.reserveCapacity(out.count + counts.count * 24)
        func appendDecimal(_ value: UInt64) {
            var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // 32 bytes: room for 20 digits
            withUnsafeMutableBytes(of: &digits) { buffer in
                var v = value, i = buffer.count
                repeat { i -= 1; buffer[i] = UInt8(ascii: "0") + UInt8(v % 10); v /= 10 } while v > 0
                out.append(contentsOf: buffer[i...])
            }
        }
        for id in ranked ?? rankedIds {
            appendDecimal(UInt64(id))
            out.append(UInt8(ascii: "\t"))
            appendDecimal(counts[id])
            out.append(UInt8(ascii: "\t"))
            if let vocabulary {
                ByteLevel.appendEncoded(vocabulary.bytes(of: id), to: &out)
            } else if let piece = pieces[id] {
                out += piece.utf8
            }
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    /// Writes the table through `OutputFile` (never over one of `inputs`).
    public func write(to path: String, vocabulary: Vocabulary? = nil, ranked: [Int]? = nil, inputs: [String] = []) throws {
        try OutputFile.write(tsvBytes(vocabulary: vocabulary, ranked: ranked), to: path, inputs: inputs)
    }

    /// Tables are small (a line per used token): a file past this size is not one.
    public static let maximumFileBytes = 1 << 30

    public static func read(path: String) throws -> TokenUsage {
        let file = try InputFile(path: path, limit: maximumFileBytes)
        return try parse(file.bytes, path: path)
    }

    public static func parse(_ text: String, path: String) throws -> TokenUsage {
        var text = text
        return try text.withUTF8 { try parse(UnsafeRawBufferPointer($0), path: path) }
    }

    /// Reads a table line by line (LF or CRLF). Every number is checked: ids below 2^21, counts and their sum
    /// within 64 bits, header values that are numbers.
    public static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> TokenUsage {
        var usage = TokenUsage(counts: [], pieces: [:], files: 0, bytes: 0, vocabularySource: "")
        var sawHeader = false
        var declaredTokens: UInt64?
        var total: UInt64 = 0
        for line in TextLines(bytes) {
            let fields = line.bytes
            if fields.isEmpty { continue }
            func bad(_ reason: String) -> PruneError { .malformedUsage(path: path, line: line.number, reason: reason) }
            if fields[0] == UInt8(ascii: "#") {
                let body = fields.dropFirst().drop(while: { $0 == 0x20 })
                guard let space = body.firstIndex(of: 0x20) else { continue }
                let key = String(decoding: body[..<space], as: UTF8.self)
                let value = body[(space + 1)...]
                func number() throws -> UInt64 {
                    guard let n = DecimalParser.unsigned(value) else {
                        throw bad("'# \(key)' is followed by '\(String(decoding: value, as: UTF8.self))', not a count")
                    }
                    return n
                }
                switch key {
                case "files":
                    usage.files = Int(clamping: try number())
                    sawHeader = true
                case "bytes": usage.bytes = Int(clamping: try number())
                case "tokens": declaredTokens = try number()
                case "vocabulary": usage.vocabularySource = String(decoding: value, as: UTF8.self)
                default: break
                }
                continue
            }
            let tab1 = fields.firstIndex(of: 0x09)
            let idField = fields[..<(tab1 ?? fields.endIndex)]
            guard let tab1 else { throw bad("expected id<TAB>count<TAB>piece") }
            let rest = fields[(tab1 + 1)...]
            let tab2 = rest.firstIndex(of: 0x09)
            let countField = rest[..<(tab2 ?? rest.endIndex)]
            guard let id = DecimalParser.int(idField), id < 1 << 21 else {
                throw bad("'\(String(decoding: idField, as: UTF8.self))' is not a token id (0 ..< 2097152)")
            }
            guard let count = DecimalParser.unsigned(countField) else {
                throw bad("'\(String(decoding: countField, as: UTF8.self))' is not a count (0 ..< 2^64)")
            }
            if id >= usage.counts.count { usage.counts += Array(repeating: 0, count: id + 1 - usage.counts.count) }
            guard usage.counts[id] == 0 else { throw bad("id \(id) is listed twice") }
            let (sum, overflow) = total.addingReportingOverflow(count)
            guard !overflow else {
                throw PruneError.countOverflow(path: path, reason: "line \(line.number): the counts add up to more than 2^64 - 1")
            }
            total = sum
            usage.counts[id] = count
            if let tab2 {
                let piece = rest[(tab2 + 1)...]
                guard let text = String(validating: piece, as: UTF8.self) else { throw bad("the piece is not UTF-8") }
                usage.pieces[id] = text
            }
        }
        guard sawHeader || !usage.counts.isEmpty else {
            throw PruneError.malformedUsage(path: path, line: 1, reason: "no '# files' header and no counts")
        }
        if let declaredTokens, declaredTokens != total {
            throw PruneError.malformedUsage(path: path, line: 1,
                                            reason: "header says \(declaredTokens) tokens but the rows add up to \(total)")
        }
        return usage
    }

    /// Sums shards counted separately (e.g. one per machine); their pieces must agree id by id.
    public static func merging(_ shards: [(path: String, usage: TokenUsage)]) throws -> TokenUsage {
        var total = TokenUsage(counts: [], pieces: [:], files: 0, bytes: 0, vocabularySource: shards.first?.usage.vocabularySource ?? "")
        var occurrences: UInt64 = 0
        for (path, shard) in shards {
            if shard.counts.count > total.counts.count {
                total.counts += Array(repeating: 0, count: shard.counts.count - total.counts.count)
            }
            for (id, count) in shard.counts.enumerated() where count > 0 {
                let (sum, overflow) = total.counts[id].addingReportingOverflow(count)
                let (all, allOverflow) = occurrences.addingReportingOverflow(count)
                guard !overflow, !allOverflow else {
                    throw PruneError.countOverflow(path: path, reason: "the summed counts pass 2^64 - 1 at id \(id)")
                }
                total.counts[id] = sum
                occurrences = all
                if let piece = shard.pieces[id] {
                    if let known = total.pieces[id], known != piece {
                        throw PruneError.usageMismatch(path: path, line: 0,
                                                       reason: "id \(id) is '\(piece)' here but '\(known)' in an earlier shard")
                    }
                    total.pieces[id] = piece
                }
            }
            total.files = total.files.addingReportingOverflow(shard.files).overflow ? Int.max : total.files + shard.files
            total.bytes = total.bytes.addingReportingOverflow(shard.bytes).overflow ? Int.max : total.bytes + shard.bytes
        }
        return total
    }

    /// Checks that every counted id means the same token in `vocabulary`, and returns counts sized to it.
    public func counts(for vocabulary: Vocabulary, path: String) throws -> [UInt64] {
        var result = [UInt64](repeating: 0, count: vocabulary.idCount)
        for (id, count) in counts.enumerated() where count > 0 {
            guard id < vocabulary.idCount else {
                throw PruneError.usageMismatch(path: path, line: 0, reason: "id \(id) is past the vocabulary's \(vocabulary.idCount) ids")
            }
            if let piece = pieces[id], !piece.isEmpty {
                let expected = ByteLevel.encode(vocabulary.bytes(of: id))
                guard piece == expected else {
                    throw PruneError.usageMismatch(path: path, line: 0, reason: "id \(id) is '\(piece)' here but '\(expected)' in \(vocabulary.source)")
                }
            }
            result[id] = count
        }
        return result
    }
}
