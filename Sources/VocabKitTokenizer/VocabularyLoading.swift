import Foundation
import VocabKitIO
import VocabKitVocab
#if canImport(Glibc)
import Glibc
#endif

extension Vocabulary {
    /// The Qwen3 vocabulary that ships with VocabKit (Vocab/qwen3.vkv).
    public static func bundled() throws -> Vocabulary {
        guard let url = BundledVocabulary.url else {
            throw FileError.notFound(path: "VocabKit_VocabKitVocab.resources/qwen3.vkv")
        }
        return try load(vkv: url.path, source: "bundled Qwen3 vocabulary (Vocab/qwen3.vkv)")
    }

    /// Loads a vocabulary by file kind: a GGUF model, a Hugging Face `tokenizer.json`, a directory holding
    /// `tokenizer.json` or `vocab.json` + `merges.txt`, a `.tiktoken` rank file, or a `.vkv` file.
    public static func load(path: String) throws -> Vocabulary {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FileError.notFound(path: path)
        }
        if isDirectory.boolValue {
            let dir = URL(fileURLWithPath: path)
            let json = dir.appendingPathComponent("tokenizer.json").path
            if FileManager.default.fileExists(atPath: json) { return try load(tokenizerJSON: json) }
            return try load(vocabJSON: dir.appendingPathComponent("vocab.json").path,
                            mergesTXT: dir.appendingPathComponent("merges.txt").path)
        }
        let lower = path.lowercased()
        if lower.hasSuffix(".vkv") { return try load(vkv: path) }
        if lower.hasSuffix(".tiktoken") { return try load(tiktoken: path) }
        if lower.hasSuffix(".json") { return try load(tokenizerJSON: path) }
        let head = try InputFile.head(of: path, count: 4)
        if head == Array("GGUF".utf8) { return try load(gguf: path) }
        throw TokenizerError.unsupportedVocabulary(
            path: path, reason: "expected a .gguf, tokenizer.json, vocab.json+merges.txt directory, .tiktoken or .vkv")
    }

    /// The bytes of a vocabulary file (regular files only; see `InputFile`).
    static func readFile(_ path: String, limit: Int = Int.max) throws -> [UInt8] {
        try InputFile(path: path, limit: limit).array
    }

    /// VocabKit's own format, written by Vocab/make_vocab.py (layout in Vocab/README.md).
    public static func load(vkv path: String, source: String? = nil) throws -> Vocabulary {
        let data = try readFile(path)
        return try data.withUnsafeBytes { raw -> Vocabulary in
            func bad(_ why: String) -> TokenizerError { .malformedVocabulary(path: path, reason: why) }
            guard raw.count >= 32, raw.starts(with: Array("VKVOCAB\0".utf8)) else { throw bad("not a .vkv file") }
            func u32(_ at: Int) throws -> UInt32 {
                guard at >= 0, at + 4 <= raw.count else { throw bad("truncated at byte \(at)") }
                return raw.loadUnaligned(fromByteOffset: at, as: UInt32.self).littleEndian
            }
            guard try u32(8) == 1 else { throw bad("unknown version \(try u32(8))") }
            let tokens = Int(try u32(12)), mergeCount = Int(try u32(16)), specialCount = Int(try u32(20))
            let blobSize = Int(try u32(28))
            var at = 32
            let offsetsAt = at
            at += (tokens + 1) * 4
            let blobAt = at
            at += (blobSize + 3) & ~3
            guard at + mergeCount * 12 <= raw.count else { throw bad("truncated token table") }
            let offsets = UnsafeBufferPointer(
                start: (raw.baseAddress! + offsetsAt).assumingMemoryBound(to: UInt32.self), count: tokens + 1)
            guard offsets.last.map({ Int($0) }) == blobSize else { throw bad("token offsets do not match the byte table") }
            var merges = [Merge]()
            merges.reserveCapacity(mergeCount)
            for k in 0..<mergeCount {
                let m = at + k * 12
                merges.append(Merge(left: try u32(m), right: try u32(m + 4), result: try u32(m + 8)))
            }
            at += mergeCount * 12
            let notSelfCount = Int(try u32(at))
            at += 4
            var notSelf = Set<UInt32>()
            for k in 0..<notSelfCount { notSelf.insert(try u32(at + 4 * k)) }
            at += 4 * notSelfCount
            var specials = [SpecialToken]()
            for _ in 0..<specialCount {
                let id = Int(try u32(at)), flag = try u32(at + 4), len = Int(try u32(at + 8))
                guard at + 12 + len <= raw.count else { throw bad("truncated special tokens") }
                let text = String(decoding: UnsafeRawBufferPointer(rebasing: raw[(at + 12)..<(at + 12 + len)]), as: UTF8.self)
                specials.append(SpecialToken(id: id, text: text, isControl: flag == 1))
                at += 12 + ((len + 3) & ~3)
            }
            return try Vocabulary(blob: UnsafeRawBufferPointer(rebasing: raw[blobAt..<(blobAt + blobSize)]),
                                  offsets: offsets, present: { _ in true }, merges: merges, specialTokens: specials,
                                  source: source ?? path, notSelfEncoding: notSelf)
        }
    }

    /// A tiktoken rank file (base64 token, rank per line). Merges are derived from the ranks: each token's
    /// merge is where rank-BPE over its bytes, using only lower ranks, ends in two parts.
    public static func load(tiktoken path: String) throws -> Vocabulary {
        let text = String(decoding: try readFile(path), as: UTF8.self)
        var tokens = [[UInt8]?]()
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let rank = Int(parts[1]), rank == tokens.count,
                  let bytes = Data(base64Encoded: String(parts[0])) else {
                throw TokenizerError.malformedVocabulary(path: path, reason: "line \(n + 1) is not 'base64 rank' in order")
            }
            tokens.append([UInt8](bytes))
        }
        var rankOf = [[UInt8]: UInt32]()
        for (i, t) in tokens.enumerated() { rankOf[t!] = UInt32(i) }
        var merges = [Merge]()
        for (rank, t) in tokens.enumerated() where t!.count > 1 {
            var parts = t!.map { [$0] }
            while parts.count > 2 {
                var best = UInt32.max, at = -1
                for i in 0..<(parts.count - 1) {
                    if let r = rankOf[parts[i] + parts[i + 1]], r < rank, r < best { best = r; at = i }
                }
                if at < 0 { break }
                parts[at...at + 1] = [parts[at] + parts[at + 1]]
            }
            guard parts.count == 2, let l = rankOf[parts[0]], let r = rankOf[parts[1]] else {
                throw TokenizerError.malformedVocabulary(path: path, reason: "token \(rank) has no two-part merge")
            }
            merges.append(Merge(left: l, right: r, result: UInt32(rank)))
        }
        return try Vocabulary(tokens: tokens, merges: merges, specialTokens: [], source: path)
    }

    /// Hugging Face `tokenizer.json`: model.vocab, model.merges, added_tokens. The pre-tokenizer must be Qwen's.
    public static func load(tokenizerJSON path: String) throws -> Vocabulary {
        let data = Data(try readFile(path))
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let model = root["model"] as? [String: Any],
              let vocab = model["vocab"] as? [String: Any] else {
            throw TokenizerError.malformedVocabulary(path: path, reason: "no model.vocab object")
        }
        if let type = model["type"] as? String, type != "BPE" {
            throw TokenizerError.unsupportedVocabulary(path: path, reason: "model type \(type), expected BPE")
        }
        if let pre = root["pre_tokenizer"], !(pre is NSNull) {
            let dump = String(describing: pre)
            guard dump.contains("\\p{N}") || dump.contains("p{N}") else {
                throw TokenizerError.unsupportedVocabulary(path: path, reason: "pre-tokenizer is not Qwen's split pattern")
            }
        }
        var mergeStrings = [(String, String)]()
        for m in model["merges"] as? [Any] ?? [] {
            if let s = m as? String {
                let parts = s.split(separator: " ", maxSplits: 1)
                guard parts.count == 2 else { throw TokenizerError.malformedVocabulary(path: path, reason: "merge '\(s)'") }
                mergeStrings.append((String(parts[0]), String(parts[1])))
            } else if let pair = m as? [String], pair.count == 2 {
                mergeStrings.append((pair[0], pair[1]))
            } else {
                throw TokenizerError.malformedVocabulary(path: path, reason: "unreadable merge entry")
            }
        }
        var specials = [SpecialToken]()
        for case let added as [String: Any] in root["added_tokens"] as? [Any] ?? [] {
            guard let id = added["id"] as? Int, let content = added["content"] as? String else { continue }
            specials.append(SpecialToken(id: id, text: content, isControl: added["special"] as? Bool ?? false))
        }
        return try assemble(vocab: vocab, merges: mergeStrings, specials: specials, source: path)
    }

    /// `vocab.json` + `merges.txt` (with `#version` header lines skipped).
    public static func load(vocabJSON: String, mergesTXT: String) throws -> Vocabulary {
        guard let vocab = try? JSONSerialization.jsonObject(with: Data(try readFile(vocabJSON))) as? [String: Any] else {
            throw TokenizerError.malformedVocabulary(path: vocabJSON, reason: "not a JSON object of token → id")
        }
        let text = String(decoding: try readFile(mergesTXT), as: UTF8.self)
        var merges = [(String, String)]()
        for line in text.split(separator: "\n") where !line.hasPrefix("#version") {
            let parts = line.split(separator: " ")
            guard parts.count == 2 else { throw TokenizerError.malformedVocabulary(path: mergesTXT, reason: "merge '\(line)'") }
            merges.append((String(parts[0]), String(parts[1])))
        }
        return try assemble(vocab: vocab, merges: merges, specials: [], source: vocabJSON)
    }

    /// Builds a vocabulary from byte-level token spellings and merge spellings.
    static func assemble(vocab: [String: Any], merges: [(String, String)], specials: [SpecialToken], source: String) throws -> Vocabulary {
        var tokens = [[UInt8]?]()
        var idOf = [String: Int]()
        let specialIds = Set(specials.map(\.id))
        for (spelling, value) in vocab {
            guard let id = value as? Int, id >= 0, id < 10_000_000 else {
                throw TokenizerError.malformedVocabulary(path: source, reason: "token '\(spelling)' has no valid id")
            }
            if id >= tokens.count { tokens += Array(repeating: nil, count: id + 1 - tokens.count) }
            idOf[spelling] = id
            if specialIds.contains(id) { continue }
            guard let bytes = ByteLevel.decode(spelling) else {
                throw TokenizerError.malformedVocabulary(path: source, reason: "token '\(spelling)' is not byte-level text")
            }
            tokens[id] = bytes
        }
        var list = [Merge]()
        list.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let l = idOf[a], let r = idOf[b], let m = idOf[a + b] else {
                throw TokenizerError.malformedVocabulary(path: source, reason: "merge \(rank) '\(a) \(b)' names a missing token")
            }
            list.append(Merge(left: UInt32(l), right: UInt32(r), result: UInt32(m)))
        }
        return try Vocabulary(tokens: tokens, merges: list, specialTokens: specials, source: source)
    }
}
