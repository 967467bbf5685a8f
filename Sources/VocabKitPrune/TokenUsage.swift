import Foundation
import VocabKitIO
import VocabKitTokenizer

/// How often each token id occurred in a corpus, with what was counted. Saved as `usage.tsv`: comment lines
/// for the totals (`# files N`, `# documents N`, `# bytes N`, `# tokens N`, `# skipped N`), the vocabulary
/// (`# vocabulary SOURCE`, `# vocabulary-sha256 FINGERPRINT`), the shards held (`# shards 1,3/4`, only for
/// `--shard` counts) and the row layout (`# columns id count piece`), then one row per used token, most used
/// first (ties by id). Pieces are in the byte-level spelling GGUF uses, so the file can be checked against a
/// model's vocabulary before it is trusted.
///
/// Columns other than `id` and `piece` are counts: `count` (occurrences in the corpus) and any further ones a
/// later counter adds, each with a `# total NAME N` line; readers honour `# columns` (tables written before it
/// existed read as `id count piece`), and `merging` sums every count column. A model-aware count adds the
/// `predicted` column (what the model would emit: its top choices over the corpus, its answers to prompts),
/// with `# predicted-positions N` (the positions whose predictions were counted) and `# prediction TEXT` (how).
public struct TokenUsage: Equatable, Sendable {
    /// Occurrences per id (the `count` column); ids past the end were not seen.
    public var counts: [UInt64]
    /// Byte-level spelling of each used id, as written in the file (empty for ids never seen).
    public var pieces: [Int: String]
    /// Files read (standard input is not a file).
    public var files: Int
    /// Units counted on their own: files, or JSON Lines documents.
    public var documents: Int
    /// Bytes of counted text (for JSON Lines, of the decoded field).
    public var bytes: Int
    /// Files or documents skipped as invalid (`--skip-invalid`).
    public var skipped: Int = 0
    public var vocabularySource: String
    /// `Vocabulary.fingerprint` of the vocabulary counted with; nil in tables written before it was recorded.
    public var vocabularyFingerprint: String?
    /// The shards of a `--shard` split this table holds; nil for a whole corpus.
    public var shards: ShardSet?
    /// Count columns after `count`, in file order.
    public var extraColumns: [UsageColumn] = []
    /// Ids of the vocabulary counted with (padding rows included), so a picture can show what a cut leaves;
    /// nil in tables written before it was recorded.
    public var vocabularySize: Int?
    /// Positions whose predictions the `predicted` column counts (evaluated positions plus answer tokens).
    public var predictedPositions = 0
    /// How the `predicted` column was made (model, top-k, minimum probability, answers), one line; merged
    /// tables list each distinct one, joined by " + ".
    public var prediction: String?
    /// Files skipped because they were not valid UTF-8 (path and offset), reported rather than counted.
    public var skippedFiles: [(path: String, offset: Int)] = []
    /// The first documents skipped as invalid (where and why), reported rather than counted.
    public var skippedDocuments: [SkippedDocument] = []

    public init(counts: [UInt64], pieces: [Int: String], files: Int, documents: Int? = nil, bytes: Int,
                vocabularySource: String, vocabularyFingerprint: String? = nil) {
        self.counts = counts
        self.pieces = pieces
        self.files = files
        self.documents = documents ?? files
        self.bytes = bytes
        self.vocabularySource = vocabularySource
        self.vocabularyFingerprint = vocabularyFingerprint
    }

    /// Everything the table file holds (not the skip reports).
    public static func == (a: TokenUsage, b: TokenUsage) -> Bool {
        a.counts == b.counts && a.pieces == b.pieces && a.files == b.files && a.documents == b.documents && a.bytes == b.bytes
            && a.skipped == b.skipped && a.vocabularySource == b.vocabularySource
            && a.vocabularyFingerprint == b.vocabularyFingerprint && a.shards == b.shards && a.extraColumns == b.extraColumns
            && a.vocabularySize == b.vocabularySize && a.predictedPositions == b.predictedPositions && a.prediction == b.prediction
    }

    /// The name of the column a model-aware count adds.
    public static let predictedColumnName = "predicted"

    /// The model-aware count (`predictedColumnName`), if the table has one.
    public var predicted: UsageColumn? {
        get { extraColumns.first { $0.name == Self.predictedColumnName } }
        set {
            extraColumns.removeAll { $0.name == Self.predictedColumnName }
            if let newValue { extraColumns.append(UsageColumn(name: Self.predictedColumnName, values: newValue.values)) }
        }
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

    /// The coverage curves (share of occurrences covered by the k most used tokens) of the `count` column and,
    /// when the table has one, the `predicted` column, as a standalone SVG with a logarithmic token axis that runs
    /// to the vocabulary's size (`vocabularySize`, else `vocabularySizeHint`), which it marks.
    public func coverageSVG(title: String = "Token coverage", vocabularySizeHint: Int? = nil) -> String {
        var series = [CoverageChart.Series(name: "corpus", counts: counts, unit: "tokens", color: "#1f77b4")]
        if let predicted, predicted.total > 0 {
            series.append(CoverageChart.Series(name: "predicted", counts: predicted.values, unit: "predictions", color: "#d95f02"))
        }
        return CoverageChart(title: title, series: series, vocabularySize: vocabularySize ?? vocabularySizeHint).svg()
    }

    /// "99.99" for 0.9999, without float noise.
    public static func percent(_ fraction: Double) -> String {
        var text = String(format: "%.4f", fraction * 100)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    // MARK: usage.tsv

    /// The file's text; pieces come from `vocabulary` when given, else from `pieces`.
    public func tsv(vocabulary: Vocabulary? = nil) -> String { String(decoding: tsvBytes(vocabulary: vocabulary), as: UTF8.self) }

    /// The column names in the order rows are written.
    public var columnNames: [String] { ["id", "count"] + extraColumns.map(\.name) + ["piece"] }

    /// Rows in file order: the used ids most used first (`ranked`), then ids counted only in other columns.
    func rowIds(ranked: [Int]) -> [Int] {
        guard !extraColumns.isEmpty else { return ranked }
        let length = extraColumns.map(\.values.count).max() ?? 0
        let others = (0..<length).filter { id in
            (id >= counts.count || counts[id] == 0) && extraColumns.contains { id < $0.values.count && $0.values[id] > 0 }
        }
        return ranked + others
    }

    /// The file's bytes, built without intermediate strings (a usage table can have 150k rows); `ranked` is
    /// `rankedIds` when the caller already has it.
    public func tsvBytes(vocabulary: Vocabulary? = nil, ranked: [Int]? = nil) -> [UInt8] {
        var header = "# vocabkit token usage\n# files \(files)\n# documents \(documents)\n# bytes \(bytes)\n# tokens \(tokens)\n"
        header += "# skipped \(skipped)\n"
        for column in extraColumns { header += "# total \(column.name) \(column.total)\n" }
        header += "# vocabulary \(vocabularySource)\n"
        if let fingerprint = vocabularyFingerprint ?? vocabulary?.fingerprint { header += "# vocabulary-sha256 \(fingerprint)\n" }
        if let size = vocabularySize ?? vocabulary?.idCount { header += "# vocabulary-size \(size)\n" }
        if predicted != nil {
            header += "# predicted-positions \(predictedPositions)\n"
            if let prediction { header += "# prediction \(prediction)\n" }
        }
        if let shards { header += "# shards \(shards)\n" }
        header += "# columns " + columnNames.joined(separator: " ") + "\n"
        var out = Array(header.utf8)
        out.reserveCapacity(out.count + counts.count * 24)
        func appendDecimal(_ value: UInt64) {
            var digits: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // 32 bytes: room for 20 digits
            withUnsafeMutableBytes(of: &digits) { buffer in
                var v = value, i = buffer.count
                repeat { i -= 1; buffer[i] = UInt8(ascii: "0") + UInt8(v % 10); v /= 10 } while v > 0
                out.append(contentsOf: buffer[i...])
            }
        }
        for id in rowIds(ranked: ranked ?? rankedIds) {
            appendDecimal(UInt64(id))
            out.append(UInt8(ascii: "\t"))
            appendDecimal(id < counts.count ? counts[id] : 0)
            for column in extraColumns {
                out.append(UInt8(ascii: "\t"))
                appendDecimal(id < column.values.count ? column.values[id] : 0)
            }
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

    /// Reads a table from a file, or from standard input for "-".
    public static func read(path: String) throws -> TokenUsage {
        let file = try InputFile.open(path, limit: maximumFileBytes)
        return try parse(file.bytes, path: path == "-" ? "stdin" : path)
    }

    public static func parse(_ text: String, path: String) throws -> TokenUsage {
        var text = text
        return try text.withUTF8 { try parse(UnsafeRawBufferPointer($0), path: path) }
    }

    /// Reads a table line by line (LF or CRLF). Every number is checked: ids below 2^21, counts and their sums
    /// within 64 bits, header values that are numbers, totals that match the rows.
    public static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> TokenUsage {
        var usage = TokenUsage(counts: [], pieces: [:], files: 0, bytes: 0, vocabularySource: "")
        var sawHeader = false
        var declaredDocuments: Int?
        var declaredTokens: UInt64?
        var declaredTotals: [String: UInt64] = [:]
        var layout = UsageLayout.standard
        var sawRow = false
        var listed: [Bool] = []
        var sums: [UInt64] = [0]
        var values: [UInt64] = [0]  // this row's counts, reused from row to row
        for line in TextLines(bytes) {
            let fields = line.bytes
            if fields.isEmpty { continue }
            func bad(_ reason: String) -> PruneError { .malformedUsage(path: path, line: line.number, reason: reason) }
            if fields[0] == UInt8(ascii: "#") {
                let body = fields.dropFirst().drop(while: { $0 == 0x20 })
                guard let space = body.firstIndex(of: 0x20) else { continue }
                let key = String(decoding: body[..<space], as: UTF8.self)
                let value = body[(space + 1)...]
                let valueText = String(decoding: value, as: UTF8.self)
                func number(_ bytes: Slice<UnsafeRawBufferPointer>? = nil) throws -> UInt64 {
                    guard let n = DecimalParser.unsigned(bytes ?? value) else {
                        throw bad("'# \(key)' is followed by '\(valueText)', not a count")
                    }
                    return n
                }
                func size() throws -> Int {
                    guard let n = Int(exactly: try number()) else { throw bad("'# \(key) \(valueText)' is past 2^63") }
                    return n
                }
                switch key {
                case "files":
                    usage.files = try size()
                    sawHeader = true
                case "documents": declaredDocuments = try size()
                case "bytes": usage.bytes = try size()
                case "skipped": usage.skipped = try size()
                case "tokens": declaredTokens = try number()
                case "total":
                    guard let gap = value.firstIndex(of: 0x20) else { throw bad("expected '# total COLUMN N'") }
                    declaredTotals[String(decoding: value[..<gap], as: UTF8.self)] = try number(value[(gap + 1)...])
                case "vocabulary": usage.vocabularySource = valueText
                case "vocabulary-size":
                    let n = try size()
                    guard n > 0, n < 1 << 21 else { throw bad("'# vocabulary-size \(valueText)' is not a vocabulary size (1 ..< 2097152)") }
                    usage.vocabularySize = n
                case "predicted-positions": usage.predictedPositions = try size()
                case "prediction": usage.prediction = valueText
                case "vocabulary-sha256":
                    guard value.count == 64, value.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
                        throw bad("'# vocabulary-sha256' is followed by '\(valueText)', not 64 lowercase hex digits")
                    }
                    usage.vocabularyFingerprint = valueText
                case "shards":
                    guard let shards = ShardSet(valueText) else { throw bad("'# shards \(valueText)' is not like '1,3/4'") }
                    usage.shards = shards
                case "columns":
                    guard !sawRow else { throw bad("'# columns' comes after the first row") }
                    layout = try UsageLayout(valueText) { bad($0) }
                    usage.extraColumns = layout.extraNames.map { UsageColumn(name: $0, values: []) }
                    sums = Array(repeating: 0, count: 1 + layout.extraNames.count)
                default: break
                }
                continue
            }
            sawRow = true
            if values.count != 1 + layout.extraNames.count { values = Array(repeating: 0, count: 1 + layout.extraNames.count) }
            for slot in values.indices { values[slot] = 0 }
            var id = -1
            var piece: Slice<UnsafeRawBufferPointer>?
            var rest = fields[...]
            var fieldsLeft = true
            for (index, column) in layout.columns.enumerated() {
                let isLast = index == layout.columns.count - 1
                guard fieldsLeft else { break }  // only a last piece column gets here (checked below)
                let tab = isLast && column == .piece ? nil : rest.firstIndex(of: 0x09)
                if tab == nil && !isLast && !(index == layout.columns.count - 2 && layout.columns[index + 1] == .piece) {
                    throw bad("expected " + layout.names.joined(separator: "<TAB>"))
                }
                let field = rest[..<(tab ?? rest.endIndex)]
                switch column {
                case .id:
                    guard let value = DecimalParser.int(field), value < 1 << 21 else {
                        throw bad("'\(String(decoding: field, as: UTF8.self))' is not a token id (0 ..< 2097152)")
                    }
                    id = value
                case let .count(slot):
                    guard let value = DecimalParser.unsigned(field) else {
                        throw bad("'\(String(decoding: field, as: UTF8.self))' is not a count (0 ..< 2^64)")
                    }
                    values[slot] = value
                case .piece: piece = field
                }
                if let tab {
                    if isLast { throw bad("more than \(layout.columns.count) columns (" + layout.names.joined(separator: " ") + ")") }
                    rest = rest[(tab + 1)...]
                } else {
                    fieldsLeft = false
                }
            }
            if id >= listed.count { listed += Array(repeating: false, count: id + 1 - listed.count) }
            guard !listed[id] else { throw bad("id \(id) is listed twice") }
            listed[id] = true
            for (slot, value) in values.enumerated() {
                let (sum, overflow) = sums[slot].addingReportingOverflow(value)
                guard !overflow else {
                    throw PruneError.countOverflow(path: path, reason: "line \(line.number): the counts add up to more than 2^64 - 1")
                }
                sums[slot] = sum
                guard value > 0 else { continue }
                if slot == 0 {
                    if id >= usage.counts.count { usage.counts += Array(repeating: 0, count: id + 1 - usage.counts.count) }
                    usage.counts[id] = value
                } else {
                    usage.extraColumns[slot - 1].set(id, value)
                }
            }
            if let piece {
                guard let text = String(validating: piece, as: UTF8.self) else { throw bad("the piece is not UTF-8") }
                usage.pieces[id] = text
            }
        }
        guard sawHeader || sawRow else {
            throw PruneError.malformedUsage(path: path, line: 1, reason: "no '# files' header and no counts")
        }
        if let declaredTokens, declaredTokens != sums[0] {
            throw PruneError.malformedUsage(path: path, line: 1,
                                            reason: "header says \(declaredTokens) tokens but the rows add up to \(sums[0])")
        }
        for (slot, column) in usage.extraColumns.enumerated() {
            guard let declared = declaredTotals[column.name] else { continue }
            guard declared == sums[slot + 1] else {
                throw PruneError.malformedUsage(path: path, line: 1,
                                                reason: "header says \(declared) in total for \(column.name) but the rows add up to \(sums[slot + 1])")
            }
        }
        usage.documents = declaredDocuments ?? usage.files
        return usage
    }

    /// Sums tables counted separately (shards, machines, partitions): `UsageMerger` over all of them.
    public static func merging(_ shards: [(path: String, usage: TokenUsage)]) throws -> TokenUsage {
        guard !shards.isEmpty else { throw PruneError.emptyCorpus(reason: "no usage tables to merge") }
        var merger = UsageMerger()
        for (path, usage) in shards { try merger.add(usage, path: path) }
        return merger.total
    }

    /// Checks that every counted id means the same token in `vocabulary`, and returns counts sized to it.
    public func counts(for vocabulary: Vocabulary, path: String) throws -> [UInt64] {
        try column(counts, for: vocabulary, path: path)
    }

    /// The predicted column checked and sized like `counts(for:path:)`; nil when the table has none.
    public func predictedCounts(for vocabulary: Vocabulary, path: String) throws -> [UInt64]? {
        try predicted.map { try column($0.values, for: vocabulary, path: path) }
    }

    private func column(_ values: [UInt64], for vocabulary: Vocabulary, path: String) throws -> [UInt64] {
        var result = [UInt64](repeating: 0, count: vocabulary.idCount)
        for (id, count) in values.enumerated() where count > 0 {
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

/// Sums tables one at a time, so that a thousand shards' tables need memory for two, not a thousand. Every
/// count column and header total is summed exactly (past 2^64 - 1, or 2^63 - 1 for the totals, is an error,
/// not a wrap). Refused: a table whose vocabulary fingerprint differs, whose pieces disagree for an id, whose
/// count columns differ, or that holds a shard of a split already added.
public struct UsageMerger {
    private var sum: TokenUsage?
    private var first = ""
    private var fingerprintPath: String?
    private var shardPaths: [Int: String] = [:]
    private var occurrences: UInt64 = 0

    public init() {}

    /// The sum so far; a complete split of shards reads as a whole corpus (no `shards`).
    public var total: TokenUsage {
        var result = sum ?? TokenUsage(counts: [], pieces: [:], files: 0, documents: 0, bytes: 0, vocabularySource: "")
        if let split = result.shards, split.isComplete { result.shards = nil }
        return result
    }

    public mutating func add(_ shard: TokenUsage, path: String) throws {
        if sum == nil {
            var empty = TokenUsage(counts: [], pieces: [:], files: 0, documents: 0, bytes: 0, vocabularySource: shard.vocabularySource)
            empty.extraColumns = shard.extraColumns.map { UsageColumn(name: $0.name, values: []) }
            sum = empty
            first = path
        }
        var total = sum!
        sum = nil  // uniquely referenced while it grows
        defer { sum = total }
        if let fingerprint = shard.vocabularyFingerprint {
            if let known = total.vocabularyFingerprint, known != fingerprint {
                throw PruneError.usageMismatch(path: path, line: 0, reason: "its vocabulary fingerprint \(fingerprint.prefix(12))… "
                    + "differs from \(known.prefix(12))… in \(fingerprintPath ?? "")")
            }
            if total.vocabularyFingerprint == nil { fingerprintPath = path }
            total.vocabularyFingerprint = fingerprint
        }
        if let size = shard.vocabularySize {
            if let known = total.vocabularySize, known != size {
                throw PruneError.usageMismatch(path: path, line: 0, reason: "it was counted with a vocabulary of \(size) ids but \(first) with \(known)")
            }
            total.vocabularySize = size
        }
        if let split = shard.shards {
            if let known = total.shards, known.count != split.count {
                throw PruneError.malformedUsage(path: path, line: 0, reason: "it holds shards of a split into \(split.count) "
                    + "but an earlier table of a split into \(known.count); merge each split on its own")
            }
            for index in split.indices {
                if let earlier = shardPaths[index] {
                    throw PruneError.malformedUsage(path: path, line: 0, reason: "shard \(index)/\(split.count) is also in \(earlier): "
                        + "it would be counted twice (merge each split's shards once)")
                }
                shardPaths[index] = path
            }
            total.shards = ShardSet(count: split.count, indices: (total.shards?.indices ?? []) + split.indices)
        }
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
        }
        // A table without a column counted nothing there: a corpus count sums with a model-aware one.
        for column in shard.extraColumns {
            if let slot = total.extraColumns.firstIndex(where: { $0.name == column.name }) {
                try total.extraColumns[slot].add(column, path: path)
            } else {
                total.extraColumns.append(column)
            }
        }
        for (id, piece) in shard.pieces {
            if let known = total.pieces.updateValue(piece, forKey: id), known != piece {
                throw PruneError.usageMismatch(path: path, line: 0,
                                               reason: "id \(id) is '\(piece)' here but '\(known)' in an earlier table")
            }
        }
        func add(_ a: Int, _ b: Int, _ what: String) throws -> Int {
            let (sum, overflow) = a.addingReportingOverflow(b)
            guard !overflow else { throw PruneError.countOverflow(path: path, reason: "the summed \(what) pass 2^63 - 1") }
            return sum
        }
        total.files = try add(total.files, shard.files, "files")
        total.documents = try add(total.documents, shard.documents, "documents")
        total.bytes = try add(total.bytes, shard.bytes, "bytes")
        total.skipped = try add(total.skipped, shard.skipped, "skipped counts")
        total.predictedPositions = try add(total.predictedPositions, shard.predictedPositions, "predicted positions")
        if let prediction = shard.prediction {
            let known = total.prediction.map { $0.components(separatedBy: " + ") } ?? []
            if !known.contains(prediction) { total.prediction = (known + [prediction]).joined(separator: " + ") }
        }
    }
}

/// A count column besides `count` (e.g. a later counter's predicted counts), summed by `merging`.
public struct UsageColumn: Equatable, Sendable {
    public var name: String
    /// Per id; ids past the end are 0.
    public var values: [UInt64]

    public init(name: String, values: [UInt64]) {
        self.name = name
        self.values = values
    }

    public var total: UInt64 { values.reduce(0, &+) }

    mutating func set(_ id: Int, _ value: UInt64) {
        if id >= values.count { values += Array(repeating: 0, count: id + 1 - values.count) }
        values[id] = value
    }

    mutating func add(_ other: UsageColumn, path: String) throws {
        if other.values.count > values.count { values += Array(repeating: 0, count: other.values.count - values.count) }
        for (id, value) in other.values.enumerated() where value > 0 {
            let (sum, overflow) = values[id].addingReportingOverflow(value)
            guard !overflow else { throw PruneError.countOverflow(path: path, reason: "the summed \(name) pass 2^64 - 1 at id \(id)") }
            values[id] = sum
        }
    }
}

/// Where a document that was skipped as invalid is, and why.
public struct SkippedDocument: Equatable, Sendable {
    public let path: String
    public let line: Int
    public let column: Int
    public let reason: String
}

/// The row layout a table's `# columns` line gives: `id` and `count` once each, `piece` at most once, and
/// further count columns named with lowercase letters, digits, `_` and `-`.
struct UsageLayout {
    enum Column: Equatable {
        case id
        /// Slot 0 is `count`, slot k the k-th extra column.
        case count(slot: Int)
        case piece
    }

    let names: [String]
    let columns: [Column]
    let extraNames: [String]

    /// The layout of tables written before `# columns` existed.
    static let standard = UsageLayout(names: ["id", "count", "piece"], columns: [.id, .count(slot: 0), .piece], extraNames: [])

    private init(names: [String], columns: [Column], extraNames: [String]) {
        self.names = names
        self.columns = columns
        self.extraNames = extraNames
    }

    init(_ text: String, problem: (String) -> Error) throws {
        names = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var columns: [Column] = [], extras: [String] = []
        for name in names {
            guard names.filter({ $0 == name }).count == 1 else { throw problem("column '\(name)' is named twice") }
            switch name {
            case "id": columns.append(.id)
            case "count": columns.append(.count(slot: 0))
            case "piece": columns.append(.piece)
            default:
                guard name.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F || $0 == 0x2D }) else {
                    throw problem("'\(name)' is not a column name (lowercase letters, digits, _ and -)")
                }
                extras.append(name)
                columns.append(.count(slot: extras.count))
            }
        }
        guard names.contains("id"), names.contains("count") else { throw problem("'# columns' must name id and count") }
        self.columns = columns
        extraNames = extras
    }
}
