import Foundation
import HeapModule
import VocabKitIO
import VocabKitVocab

/// Vocabulary files, read with the GGUF reader's discipline: every count and offset is checked against the
/// file before anything is allocated from it, numbers are parsed without overflow, CRLF and a last line
/// without a line feed read like LF, and every error is one line that names the file and the byte offset or
/// line where it went wrong.
extension Vocabulary {
    /// The most bytes a text vocabulary file (`tokenizer.json`, `vocab.json`, `merges.txt`, `.tiktoken`) may
    /// have: the largest real ones are tens of megabytes.
    static let textFileLimit = 1 << 28
    /// The longest token a `.tiktoken` file may hold (real ones stop at 128 bytes); bounds the work of
    /// deriving merges from ranks.
    static let longestRankedToken = 1024

    /// The Qwen3 vocabulary that ships with VocabKit (Vocab/qwen3.vkv).
    public static func bundled() throws -> Vocabulary {
        guard let url = BundledVocabulary.url else {
            throw FileError.notFound(path: "VocabKit_VocabKitVocab.resources/qwen3.vkv")
        }
        return try load(vkv: url.path, source: "bundled Qwen3 vocabulary (Vocab/qwen3.vkv)")
    }

    /// Loads a vocabulary by file kind: a GGUF model, a Hugging Face `tokenizer.json`, a directory holding
    /// `tokenizer.json` or `vocab.json` + `merges.txt`, a `.tiktoken` rank file, or a `.vkv` file.
    ///
    /// GGUF (`tokenizer.ggml.pre`) and `tokenizer.json` (its normalizer and pre-tokenizer) say which
    /// pre-tokenizer they use, and `preTokenizer`, if given, must agree. The other formats do not record one:
    /// they use `preTokenizer`, Qwen2's by default.
    public static func load(path: String, preTokenizer: PreTokenizer? = nil) throws -> Vocabulary {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FileError.notFound(path: path)
        }
        if isDirectory.boolValue {
            let dir = URL(fileURLWithPath: path)
            let has = { (name: String) in FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path) }
            if has("tokenizer.json") {
                return try load(tokenizerJSON: dir.appendingPathComponent("tokenizer.json").path, preTokenizer: preTokenizer)
            }
            guard has("vocab.json"), has("merges.txt") else {
                let holds = has("vocab.json") ? "vocab.json but no merges.txt"
                    : has("merges.txt") ? "merges.txt but no vocab.json" : "none of them"
                throw TokenizerError.unsupportedVocabulary(
                    path: path, reason: "a vocabulary directory needs tokenizer.json, or vocab.json and merges.txt; it has \(holds)")
            }
            return try load(vocabJSON: dir.appendingPathComponent("vocab.json").path,
                            mergesTXT: dir.appendingPathComponent("merges.txt").path, preTokenizer: preTokenizer ?? .qwen2)
        }
        let lower = path.lowercased()
        if lower.hasSuffix(".vkv") { return try load(vkv: path, preTokenizer: preTokenizer ?? .qwen2) }
        if lower.hasSuffix(".tiktoken") { return try load(tiktoken: path, preTokenizer: preTokenizer ?? .qwen2) }
        if lower.hasSuffix(".json") { return try load(tokenizerJSON: path, preTokenizer: preTokenizer) }
        let head = try InputFile.head(of: path, count: 4)
        if head == Array("GGUF".utf8) { return try load(gguf: path, preTokenizer: preTokenizer) }
        throw TokenizerError.unsupportedVocabulary(
            path: path, reason: "expected a .gguf, tokenizer.json, vocab.json+merges.txt directory, .tiktoken or .vkv")
    }

    /// The pre-tokenizer a file names, checked against the one the caller asked for.
    static func agreeing(_ found: PreTokenizer, requested: PreTokenizer?, path: String, how: String) throws -> PreTokenizer {
        if let requested, requested != found {
            throw TokenizerError.unsupportedVocabulary(
                path: path, reason: "\(how) is \(found.name)'s, but the \(requested.name) pre-tokenizer was asked for")
        }
        return found
    }

    // MARK: .vkv

    /// VocabKit's own format, written by Vocab/make_vocab.py (layout in Vocab/README.md).
    public static func load(vkv path: String, source: String? = nil, preTokenizer: PreTokenizer = .qwen2) throws -> Vocabulary {
        let file = try InputFile(path: path, limit: 1 << 30)
        let raw = file.bytes
        func bad(_ at: Int, _ why: String) -> TokenizerError { .malformedVocabulary(path: path, reason: "byte \(at): \(why)") }
        guard raw.count >= 32, raw.starts(with: Array("VKVOCAB\0".utf8)) else {
            throw TokenizerError.malformedVocabulary(path: path, reason: "not a .vkv file (no VKVOCAB header)")
        }
        func u32(_ at: Int) throws -> UInt32 {
            guard at >= 0, at <= raw.count - 4 else { throw bad(at, "the file ends inside a 4-byte value") }
            return raw.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian
        }
        /// `count` items of `size` bytes from `at`, or an error naming what is cut off.
        func span(_ at: Int, _ count: Int, _ size: Int, _ what: String) throws -> Int {
            let (bytes, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, bytes <= raw.count - at else {
                throw bad(at, "\(count) \(what) do not fit in the \(raw.count - at) bytes left")
            }
            return at + bytes
        }
        let version = try u32(8)
        guard version == 1 else { throw bad(8, "unknown version \(version)") }
        let tokens = Int(try u32(12)), mergeCount = Int(try u32(16)), specialCount = Int(try u32(20))
        let blobSize = Int(try u32(28))
        guard tokens <= MergeTable.maximumId + 1 else {
            throw bad(12, "\(tokens) tokens; at most \(MergeTable.maximumId + 1) are supported")
        }
        let offsetsAt = 32
        let blobAt = try span(offsetsAt, tokens + 1, 4, "token offsets")
        var at = try span(blobAt, (blobSize + 3) & ~3, 1, "bytes of token text")
        let offsets = UnsafeBufferPointer(
            start: (raw.baseAddress! + offsetsAt).assumingMemoryBound(to: UInt32.self), count: tokens + 1)
        guard Int(offsets[tokens]) == blobSize else {
            throw bad(offsetsAt + 4 * tokens, "the last token offset is \(offsets[tokens]), not the text size \(blobSize)")
        }
        let mergesEnd = try span(at, mergeCount, 12, "merges")
        var merges = [Merge]()
        merges.reserveCapacity(mergeCount)
        while at < mergesEnd {
            merges.append(Merge(left: try u32(at), right: try u32(at + 4), result: try u32(at + 8)))
            at += 12
        }
        let notSelfCount = Int(try u32(at))
        let notSelfEnd = try span(at + 4, notSelfCount, 4, "ids that do not encode to themselves")
        var notSelf = Set<UInt32>()
        at += 4
        while at < notSelfEnd {
            notSelf.insert(try u32(at))
            at += 4
        }
        var specials = [SpecialToken]()
        for _ in 0..<min(specialCount, raw.count / 12) {
            let id = try u32(at), flag = try u32(at + 4), length = Int(try u32(at + 8))
            guard flag <= 1 else { throw bad(at + 4, "special token flags \(flag) (0 or 1 expected)") }
            let textEnd = try span(at + 12, (length + 3) & ~3, 1, "bytes of special token text")
            let textBytes = UnsafeRawBufferPointer(rebasing: raw[(at + 12)..<(at + 12 + length)])
            guard let text = String(validating: textBytes, as: UTF8.self), !text.isEmpty else {
                throw bad(at + 12, "a special token's text is empty or not UTF-8")
            }
            specials.append(SpecialToken(id: Int(id), text: text, isControl: flag == 1))
            at = textEnd
        }
        guard specials.count == specialCount else { throw bad(20, "\(specialCount) special tokens do not fit in the file") }
        guard at == raw.count else { throw bad(at, "\(raw.count - at) bytes after the last special token") }
        return try Vocabulary(blob: UnsafeRawBufferPointer(rebasing: raw[blobAt..<(blobAt + blobSize)]),
                              offsets: offsets, present: { _ in true }, merges: merges, specialTokens: specials,
                              source: source ?? path, preTokenizer: preTokenizer, notSelfEncoding: notSelf)
    }

    // MARK: .tiktoken

    /// A tiktoken rank file (`base64 rank` per line, ranks 0, 1, 2, … in order). Merges are derived from the
    /// ranks: each token's merge is where rank-BPE over its bytes, using only lower ranks, ends in two parts.
    public static func load(tiktoken path: String, preTokenizer: PreTokenizer = .qwen2) throws -> Vocabulary {
        let file = try InputFile(path: path, limit: textFileLimit)
        func bad(_ line: Int, _ why: String) -> FileError { .malformedLine(path: path, line: line, reason: why) }
        var tokens = [[UInt8]]()
        var lineOf = [Int]()
        var rankOf = [[UInt8]: Int]()
        for line in TextLines(file.bytes) where !line.isBlank {
            let b = line.bytes
            guard let space = b.firstIndex(of: 0x20), b.lastIndex(of: 0x20) == space else {
                throw bad(line.number, "expected 'base64 rank' (one space)")
            }
            guard let rank = DecimalParser.int(b[(space + 1)...]) else {
                throw bad(line.number, "the rank is not a decimal number")
            }
            guard rank == tokens.count else {
                throw bad(line.number, "rank \(rank) out of order (rank \(tokens.count) expected)")
            }
            guard rank <= MergeTable.maximumId else { throw bad(line.number, "more than \(MergeTable.maximumId + 1) ranks") }
            guard let data = Data(base64Encoded: Data(b[..<space])), !data.isEmpty else {
                throw bad(line.number, "the token is not base64 of one or more bytes")
            }
            let bytes = [UInt8](data)
            guard bytes.count <= longestRankedToken else {
                throw bad(line.number, "a token of \(bytes.count) bytes (at most \(longestRankedToken) are supported)")
            }
            if let earlier = rankOf[bytes] { throw bad(line.number, "the same bytes as rank \(earlier) (line \(lineOf[earlier]))") }
            rankOf[bytes] = rank
            tokens.append(bytes)
            lineOf.append(line.number)
        }
        var deriver = RankedMergeDeriver(tokens: tokens)
        var merges = [Merge]()
        merges.reserveCapacity(tokens.count)
        for (rank, t) in tokens.enumerated() where t.count > 1 {
            guard let (l, r) = deriver.merge(ofRank: rank) else {
                throw bad(lineOf[rank], "rank-BPE over the token's bytes with lower ranks does not end in two parts")
            }
            merges.append(Merge(left: l, right: r, result: UInt32(rank)))
        }
        return try Vocabulary(tokens: tokens, merges: merges, specialTokens: [], source: path, preTokenizer: preTokenizer)
    }

    // MARK: tokenizer.json, vocab.json, merges.txt

    /// Hugging Face `tokenizer.json`: a BPE model (vocab, merges as "a b" strings or [a, b] pairs), added tokens,
    /// and a normalizer and pre-tokenizer that must be exactly one of VocabKit's pre-tokenizers.
    public static func load(tokenizerJSON path: String, preTokenizer requested: PreTokenizer? = nil) throws -> Vocabulary {
        let file = try InputFile(path: path, limit: textFileLimit)
        let root = try parseJSON(file.bytes, path: path)
        func bad(_ node: JSONNode?, _ why: String) -> TokenizerError {
            .malformedVocabulary(path: path, reason: "byte \(node?.offset ?? 0): \(why)")
        }
        guard case .object = root.value else { throw bad(root, "the top level is \(root.value.kind), not an object") }
        guard let model = root["model"], case .object = model.value else { throw bad(root, "no \"model\" object") }
        if let type = model["type"] {
            guard case .string(let name) = type.value else { throw bad(type, "model.type is \(type.value.kind)") }
            guard name == "BPE" else {
                throw TokenizerError.unsupportedVocabulary(path: path, reason: "model type \(quoted(name)), expected BPE")
            }
        }
        try requireDefaultBPEOptions(model, path: path)
        let found = try TokenizerJSONShape.preTokenizer(of: root, model: model, path: path)
        let preTokenizer = try agreeing(found, requested: requested, path: path, how: "its pre-tokenizer")
        guard let vocab = model["vocab"] else { throw bad(model, "no model.vocab") }
        var merges = [(String, String)]()
        if let list = model["merges"] {
            guard case .array(let items) = list.value else { throw bad(list, "model.merges is \(list.value.kind), not an array") }
            merges.reserveCapacity(items.count)
            for (rank, item) in items.enumerated() {
                switch item.value {
                case .string(let s):
                    guard let pair = splitMerge(s) else { throw bad(item, "merge \(rank) \(quoted(s)) is not two spellings separated by one space") }
                    merges.append(pair)
                case .array(let parts):
                    guard parts.count == 2, case .string(let a) = parts[0].value, case .string(let b) = parts[1].value else {
                        throw bad(item, "merge \(rank) is not a pair of strings")
                    }
                    merges.append((a, b))
                default:
                    throw bad(item, "merge \(rank) is \(item.value.kind), not \"a b\" or [a, b]")
                }
            }
        }
        var specials = [SpecialToken]()
        if let added = root["added_tokens"] {
            guard case .array(let items) = added.value else { throw bad(added, "added_tokens is \(added.value.kind), not an array") }
            for (k, item) in items.enumerated() {
                guard case .object = item.value else { throw bad(item, "added_tokens[\(k)] is \(item.value.kind)") }
                let id = try tokenID(item["id"], what: "added_tokens[\(k)].id", path: path)
                guard let content = item["content"], case .string(let text) = content.value, !text.isEmpty else {
                    throw bad(item, "added_tokens[\(k)].content is missing, empty or not a string")
                }
                var control = false
                if let special = item["special"] {
                    guard case .bool(let flag) = special.value else { throw bad(special, "added_tokens[\(k)].special is \(special.value.kind)") }
                    control = flag
                }
                specials.append(SpecialToken(id: id, text: text, isControl: control))
            }
        }
        return try assemble(vocab: vocab, merges: merges, specials: specials, source: path, preTokenizer: preTokenizer)
    }

    /// `vocab.json` + `merges.txt` (`#version` lines and blank lines skipped).
    public static func load(vocabJSON: String, mergesTXT: String, preTokenizer: PreTokenizer = .qwen2) throws -> Vocabulary {
        let vocabFile = try InputFile(path: vocabJSON, limit: textFileLimit)
        let vocab = try parseJSON(vocabFile.bytes, path: vocabJSON)
        let mergesFile = try InputFile(path: mergesTXT, limit: textFileLimit)
        var merges = [(String, String)]()
        for line in TextLines(mergesFile.bytes) where !line.isBlank && !line.bytes.starts(with: Array("#version".utf8)) {
            guard let text = String(validating: line.bytes, as: UTF8.self) else {
                throw FileError.malformedLine(path: mergesTXT, line: line.number, reason: "not UTF-8")
            }
            guard let pair = splitMerge(text) else {
                throw FileError.malformedLine(path: mergesTXT, line: line.number, reason: "expected two spellings separated by one space")
            }
            merges.append(pair)
        }
        return try assemble(vocab: vocab, merges: merges, specials: [], source: vocabJSON, preTokenizer: preTokenizer,
                            mergesSource: mergesTXT)
    }

    static func parseJSON(_ bytes: UnsafeRawBufferPointer, path: String) throws -> JSONNode {
        do {
            return try JSONParser.parseNode(bytes, duplicateKeys: .keep)
        } catch {
            throw TokenizerError.malformedVocabulary(path: path, reason: "byte \(error.offset): \(error.reason)")
        }
    }

    /// "a b" as (a, b): exactly one space, both sides non-empty (byte-level spellings never hold a space).
    static func splitMerge(_ s: String) -> (String, String)? {
        guard let space = s.utf8.firstIndex(of: 0x20), s.utf8.lastIndex(of: 0x20) == space,
              space != s.utf8.startIndex, s.utf8.index(after: space) != s.utf8.endIndex else { return nil }
        return (String(s[..<space]), String(s[s.index(after: space)...]))
    }

    /// Merges given as pairs of byte-level spellings (`spelling(rank)`), resolved to ids by their bytes:
    /// left, right, and the two joined. `missing(rank, spelling)` makes the error for a spelling that is not
    /// a token.
    static func resolveMerges(_ count: Int, index: borrowing TokenIndex, spelling: (Int) throws -> (String, String),
                              missing: (Int, String) -> TokenizerError) throws -> [Merge] {
        var merges = [Merge]()
        merges.reserveCapacity(count)
        for rank in 0..<count {
            let (a, b) = try spelling(rank)
            guard let left = ByteLevel.decode(a), let l = index.id(of: left) else { throw missing(rank, a) }
            guard let right = ByteLevel.decode(b), let r = index.id(of: right) else { throw missing(rank, b) }
            guard let m = index.id(of: left + right) else { throw missing(rank, a + b) }
            merges.append(Merge(left: UInt32(l), right: UInt32(r), result: UInt32(m)))
        }
        return merges
    }

    /// A token id from JSON: an integer in 0...MergeTable.maximumId, checked before anything is sized by it.
    static func tokenID(_ node: JSONNode?, what: String, path: String) throws -> Int {
        guard let node else { throw TokenizerError.malformedVocabulary(path: path, reason: "\(what) is missing") }
        guard case .integer(let id) = node.value else {
            throw TokenizerError.malformedVocabulary(path: path, reason: "byte \(node.offset): \(what) is \(node.value.kind), not an integer id")
        }
        guard id >= 0 && id <= MergeTable.maximumId else {
            throw TokenizerError.malformedVocabulary(
                path: path, reason: "byte \(node.offset): \(what) is \(id), outside 0...\(MergeTable.maximumId)")
        }
        return id
    }

    /// BPE options that change ids and that VocabKit does not implement must be off.
    static func requireDefaultBPEOptions(_ model: JSONNode, path: String) throws {
        for key in ["dropout", "continuing_subword_prefix", "end_of_word_suffix"] {
            guard let v = model[key] else { continue }
            switch v.value {
            case .null: continue
            case .string(let s) where s.isEmpty: continue
            default:
                throw TokenizerError.unsupportedVocabulary(path: path, reason: "byte \(v.offset): model.\(key) is set; VocabKit's BPE has none")
            }
        }
        if let v = model["byte_fallback"], case .bool(true) = v.value {
            throw TokenizerError.unsupportedVocabulary(path: path, reason: "byte \(v.offset): model.byte_fallback is true; VocabKit's BPE is byte-level")
        }
    }

    /// Builds a vocabulary from byte-level token spellings (a JSON object of spelling → id) and merge spellings.
    static func assemble(vocab: JSONNode, merges: [(String, String)], specials: [SpecialToken], source: String,
                         preTokenizer: PreTokenizer, mergesSource: String? = nil) throws -> Vocabulary {
        guard case .object(let entries) = vocab.value else {
            throw TokenizerError.malformedVocabulary(path: source, reason: "byte \(vocab.offset): the vocabulary is \(vocab.value.kind), not an object of token → id")
        }
        var highest = -1
        for entry in entries {
            let (spelling, value) = (entry.key, entry.value)
            let id = try tokenID(value, what: "the id of token \(quoted(spelling))", path: source)
            highest = max(highest, id)
        }
        var tokens = [[UInt8]?](repeating: nil, count: highest + 1)
        let specialIds = Set(specials.map(\.id))
        for entry in entries {
            let (spelling, value) = (entry.key, entry.value)
            guard case .integer(let id) = value.value else { continue }
            if specialIds.contains(id) { continue }
            guard let bytes = ByteLevel.decode(spelling), !bytes.isEmpty else {
                throw TokenizerError.malformedVocabulary(path: source, reason: "byte \(value.offset): token \(quoted(spelling)) is not byte-level text")
            }
            guard tokens[id] == nil else {
                // Spellings decode one-to-one, so equal bytes mean the same key twice or two keys for one id.
                throw TokenizerError.malformedVocabulary(path: source, reason: "byte \(value.offset): id \(id) is given to two tokens, or token \(quoted(spelling)) appears twice")
            }
            tokens[id] = bytes
        }
        let index = TokenIndex(tokens)
        if let duplicate = index.firstDuplicate, let spelling = tokens[duplicate].map({ ByteLevel.encode($0) }) {
            throw TokenizerError.malformedVocabulary(path: source, reason: "token \(quoted(spelling)) appears twice (the second time as id \(duplicate))")
        }
        let list = try resolveMerges(merges.count, index: index) { merges[$0] } missing: { rank, missing in
            let place = mergesSource.map { "\($0): merge \(rank)" } ?? "merge \(rank)"
            let (a, b) = merges[rank]
            return .malformedVocabulary(path: source, reason: "\(place) \(quoted(a + " " + b)) names \(quoted(missing)), which is not in the vocabulary")
        }
        return try Vocabulary(tokens: tokens, merges: list, specialTokens: specials, source: source, preTokenizer: preTokenizer)
    }
}

/// Recognises a `tokenizer.json`'s pre-tokenizer by its exact structure: the normalizer and the
/// pre-tokenizer must be what one of VocabKit's pre-tokenizers ships with, field for field, and the BPE
/// model's `ignore_merges` must match. Anything else (another regex, another normalizer, a GPT-2 byte-level
/// split) is refused with a line that says what was found, so no file is split with the wrong rule.
enum TokenizerJSONShape {
    static func preTokenizer(of root: JSONNode, model: JSONNode, path: String) throws -> PreTokenizer {
        func refuse(_ node: JSONNode?, _ why: String) -> TokenizerError {
            .unsupportedVocabulary(path: path, reason: "byte \(node?.offset ?? 0): \(why)")
        }
        let normalizesNFC: Bool
        switch root["normalizer"]?.value {
        case nil, .null?:
            normalizesNFC = false
        case .object?:
            let node = root["normalizer"]!
            guard string(node["type"]) == "NFC", members(node) == ["type"] else {
                throw refuse(node, "normalizer \(summary(node)) is not NFC or none")
            }
            normalizesNFC = true
        default:
            throw refuse(root["normalizer"], "the normalizer is not an object")
        }
        guard let pre = root["pre_tokenizer"], case .object = pre.value else {
            throw refuse(root, "no pre_tokenizer: VocabKit needs a Split regex followed by ByteLevel")
        }
        guard string(pre["type"]) == "Sequence", let list = pre["pretokenizers"], case .array(let steps) = list.value,
              steps.count == 2 else {
            throw refuse(pre, "pre_tokenizer \(summary(pre)) is not a Sequence of Split and ByteLevel")
        }
        let split = steps[0], byteLevel = steps[1]
        guard string(split["type"]) == "Split", let pattern = split["pattern"], string(pattern["Regex"]) != nil,
              members(pattern) == ["Regex"], string(split["behavior"]) == "Isolated",
              bool(split["invert"]) == false, members(split) == ["behavior", "invert", "pattern", "type"] else {
            throw refuse(split, "the first pre-tokenizer step \(summary(split)) is not Split(Regex, Isolated, invert false)")
        }
        guard string(byteLevel["type"]) == "ByteLevel", bool(byteLevel["add_prefix_space"]) == false,
              bool(byteLevel["use_regex"]) == false,
              Set(members(byteLevel)).isSubset(of: ["type", "add_prefix_space", "trim_offsets", "use_regex"]) else {
            throw refuse(byteLevel, "the second pre-tokenizer step \(summary(byteLevel)) is not ByteLevel(add_prefix_space false, use_regex false)")
        }
        let regex = string(pattern["Regex"])!
        guard let family = PreTokenizer.all.first(where: { $0.pattern == regex }) else {
            throw refuse(pattern, "the split regex \(quoted(regex, limit: 200)) is not one VocabKit knows (\(PreTokenizer.all.map(\.name).joined(separator: ", ")))")
        }
        guard family.normalizesNFC == normalizesNFC else {
            throw refuse(root["normalizer"] ?? root, "the \(family.name) regex with \(normalizesNFC ? "NFC" : "no normalizer"); \(family.name) ships with \(family.normalizesNFC ? "NFC" : "none")")
        }
        let ignoresMerges = bool(model["ignore_merges"]) ?? false
        guard family.ignoresMerges == ignoresMerges else {
            throw refuse(model["ignore_merges"] ?? model, "model.ignore_merges is \(ignoresMerges); \(family.name) ships with \(family.ignoresMerges)")
        }
        return family
    }

    static func string(_ node: JSONNode?) -> String? {
        if case .string(let s)? = node?.value { return s }
        return nil
    }

    static func bool(_ node: JSONNode?) -> Bool? {
        if case .bool(let b)? = node?.value { return b }
        return nil
    }

    static func members(_ node: JSONNode) -> [String] {
        if case .object(let m) = node.value { return m.map(\.key).sorted() }
        return []
    }

    /// A short description of a JSON object for messages: its type and keys.
    static func summary(_ node: JSONNode) -> String {
        "(\(string(node["type"]).map { quoted($0) } ?? "no type"); \(members(node).map { quoted($0) }.joined(separator: ", ")))"
    }
}

/// Derives each ranked token's merge as tiktoken's BPE would split it: repeatedly join the adjacent pair whose
/// joined bytes are the lowest-ranked token below the token's own rank (leftmost on ties), until no pair
/// joins; a token with a merge ends in exactly two parts. Pairs are found by a polynomial hash of their bytes,
/// combined in constant time from the parts' hashes, and candidates are kept in a heap, so a token of n bytes
/// costs O(n log n) whatever the file holds. (A hash collision could only produce a merge whose parts do not
/// join to the token, which `Vocabulary` refuses.)
struct RankedMergeDeriver {
    private let tokens: [[UInt8]]
    private var rankOfKey: [UInt64: UInt32]
    private var powers: [UInt64]
    private let hashes: [UInt64]
    private static let base: UInt64 = 0x100_0000_01B3

    init(tokens: [[UInt8]]) {
        self.tokens = tokens
        let longest = tokens.map(\.count).max() ?? 0
        var powers = [UInt64](repeating: 1, count: longest + 1)
        for k in stride(from: 1, through: longest, by: 1) { powers[k] = powers[k - 1] &* Self.base }
        self.powers = powers
        hashes = tokens.map { Self.hash($0) }
        rankOfKey = [:]
        rankOfKey.reserveCapacity(tokens.count)
        for (rank, t) in tokens.enumerated() {
            let key = Self.key(hashes[rank], t.count)
            if rankOfKey[key] == nil { rankOfKey[key] = UInt32(rank) }
        }
    }

    static func hash(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0
        for b in bytes { h = h &* base &+ UInt64(b) &+ 1 }
        return h
    }

    static func key(_ hash: UInt64, _ length: Int) -> UInt64 { hash ^ (UInt64(truncatingIfNeeded: length) &* 0x9E37_79B9_7F4A_7C15) }

    /// The two ranks the token of `rank` splits into, or nil.
    mutating func merge(ofRank rank: Int) -> (UInt32, UInt32)? {
        let bytes = tokens[rank]
        let n = bytes.count
        var partRank = [UInt32](repeating: 0, count: n)
        var partHash = [UInt64](repeating: 0, count: n)
        var partLength = [Int](repeating: 1, count: n)
        var next = [Int](repeating: -1, count: n)
        var previous = [Int](repeating: -1, count: n)
        for i in 0..<n {
            guard let r = rankOfKey[Self.key(UInt64(bytes[i]) &+ 1, 1)], tokens[Int(r)] == [bytes[i]] else { return nil }
            partRank[i] = r
            partHash[i] = UInt64(bytes[i]) &+ 1
            next[i] = i + 1 < n ? i + 1 : -1
            previous[i] = i - 1
        }
        func joined(_ i: Int, _ j: Int) -> (rank: UInt32, hash: UInt64)? {
            let h = partHash[i] &* powers[partLength[j]] &+ partHash[j]
            guard let r = rankOfKey[Self.key(h, partLength[i] + partLength[j])], Int(r) < rank else { return nil }
            return (r, h)
        }
        var heap = Heap<UInt64>()  // rank << 32 | position: lowest rank first, leftmost on ties
        func push(_ r: UInt32, _ i: Int) { heap.insert(UInt64(r) << 32 | UInt64(i)) }
        for i in 0..<(n - 1) { if let j = joined(i, i + 1) { push(j.rank, i) } }
        var parts = n
        while let top = heap.popMin() {
            let i = Int(top & 0xFFFF_FFFF), r = UInt32(top >> 32)
            let j = next[i]
            // Stale: the part was merged away, or its right neighbour changed since it was queued.
            guard partLength[i] > 0, j >= 0, let now = joined(i, j), now.rank == r else { continue }
            partRank[i] = r
            partHash[i] = now.hash
            partLength[i] += partLength[j]
            partLength[j] = 0
            next[i] = next[j]
            if next[i] >= 0 { previous[next[i]] = i }
            parts -= 1
            if previous[i] >= 0, let left = joined(previous[i], i) { push(left.rank, previous[i]) }
            if next[i] >= 0, let right = joined(i, next[i]) { push(right.rank, i) }
        }
        let second = next[0]
        guard parts == 2, second >= 0 else { return nil }
        return (partRank[0], partRank[second])
    }
}
