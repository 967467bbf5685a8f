import VocabKitIO
import VocabKitSafetensors

/// A checkpoint's tokenizer files rewritten for a pruned vocabulary, given the new id of every old id (-1 for
/// a dropped one). Only ids and the entries of dropped tokens change: the normalizer, pre-tokenizer, decoder,
/// chat template and every other field are written back as they were read, in the same order, and merges
/// keep the form the input used ("a b" strings or [a, b] pairs).
struct HFTokenizerRewriter {
    let newIdOf: [Int]

    func newId(_ id: Int, _ what: @autoclosure () -> String, file: String) throws -> Int {
        guard id >= 0, id < newIdOf.count else { throw HFError.invalidFile(path: file, reason: "\(what()) names id \(id), which the tokenizer does not have") }
        guard newIdOf[id] >= 0 else { throw HFError.invalidFile(path: file, reason: "\(what()) names id \(id), which is not kept") }
        return newIdOf[id]
    }

    func isKept(_ id: Int) -> Bool { id >= 0 && id < newIdOf.count && newIdOf[id] >= 0 }

    // MARK: tokenizer.json

    /// The pruned tokenizer.json.
    func tokenizerJSON(_ root: [JSONMember], path: String) throws -> JSONValue {
        var out: [JSONMember] = []
        for member in root {
            switch member.key {
            case "model": out.append(JSONMember("model", try model(member.value, path: path)))
            case "added_tokens": out.append(JSONMember("added_tokens", try addedTokens(member.value, path: path)))
            case "post_processor": out.append(JSONMember("post_processor", try Self.mapPostProcessor(member.value, path: path) { id, what in try newId(id, what, file: path) }))
            case "padding": out.append(JSONMember("padding", try padding(member.value, path: path)))
            default: out.append(member)
            }
        }
        return .object(out)
    }

    /// Spelling → old id of `model.vocab`.
    static func vocabularyIds(_ model: JSONValue, path: String) throws -> [(spelling: String, id: Int)] {
        guard case let .object(vocab)? = model["vocab"] else { throw HFError.invalidFile(path: path, reason: "model.vocab is not an object") }
        return try vocab.map { entry in
            guard let id = entry.value.int, id >= 0 else { throw HFError.invalidFile(path: path, reason: "model.vocab entry '\(entry.key)' has no valid id") }
            return (entry.key, id)
        }
    }

    /// The two parts of a merge entry, and whether it was an "a b" string.
    static func mergeParts(_ entry: JSONValue, index: Int, path: String) throws -> (String, String, isString: Bool) {
        if case let .string(text) = entry {
            let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw HFError.invalidFile(path: path, reason: "merge \(index) '\(text)' is not two parts separated by a space")
            }
            return (String(parts[0]), String(parts[1]), true)
        }
        if case let .array(pair) = entry, pair.count == 2, let a = pair[0].stringValue, let b = pair[1].stringValue {
            return (a, b, false)
        }
        throw HFError.invalidFile(path: path, reason: "merge \(index) is neither \"a b\" nor [\"a\", \"b\"]")
    }

    private func model(_ model: JSONValue, path: String) throws -> JSONValue {
        guard case let .object(members) = model else { throw HFError.invalidFile(path: path, reason: "model is not an object") }
        let vocabulary = try Self.vocabularyIds(model, path: path)
        var idOf: [String: Int] = [:]
        for entry in vocabulary { idOf[entry.spelling] = entry.id }
        var out: [JSONMember] = []
        for member in members {
            switch member.key {
            case "vocab":
                out.append(JSONMember("vocab", .object(vocabulary.compactMap { entry in
                    isKept(entry.id) ? JSONMember(entry.spelling, .integer(newIdOf[entry.id])) : nil
                })))
            case "merges":
                guard case let .array(merges) = member.value else { throw HFError.invalidFile(path: path, reason: "model.merges is not an array") }
                var kept: [JSONValue] = []
                for (index, merge) in merges.enumerated() {
                    let (a, b, _) = try Self.mergeParts(merge, index: index, path: path)
                    guard let left = idOf[a], let right = idOf[b], let result = idOf[a + b] else {
                        throw HFError.invalidFile(path: path, reason: "merge \(index) '\(a) \(b)' names a token that is not in model.vocab")
                    }
                    if isKept(left) && isKept(right) && isKept(result) { kept.append(merge) }
                }
                out.append(JSONMember("merges", .array(kept)))
            default:
                out.append(member)
            }
        }
        return .object(out)
    }

    private func addedTokens(_ value: JSONValue, path: String) throws -> JSONValue {
        guard case let .array(tokens) = value else { throw HFError.invalidFile(path: path, reason: "added_tokens is not an array") }
        return .array(try tokens.compactMap { token -> JSONValue? in
            guard case var .object(members) = token, let id = token["id"]?.int else {
                throw HFError.invalidFile(path: path, reason: "an added_tokens entry has no id")
            }
            guard isKept(id) else { return nil }
            members.set("id", .integer(newIdOf[id]))
            return .object(members)
        })
    }

    private func padding(_ value: JSONValue, path: String) throws -> JSONValue {
        guard case var .object(members) = value, let id = value["pad_id"]?.int else { return value }
        members.set("pad_id", .integer(try newId(id, "padding.pad_id", file: path)))
        return .object(members)
    }

    /// Ids inside a post-processor (TemplateProcessing's special_tokens, Bert/Roberta's sep and cls), mapped;
    /// a Sequence maps each of its processors. With `map` returning the id, this collects them.
    static func mapPostProcessor(_ value: JSONValue, path: String, _ map: (Int, String) throws -> Int) throws -> JSONValue {
        guard case let .object(members) = value else { return value }
        var out: [JSONMember] = []
        for member in members {
            switch member.key {
            case "processors":
                guard case let .array(list) = member.value else { out.append(member); continue }
                out.append(JSONMember(member.key, .array(try list.map { try mapPostProcessor($0, path: path, map) })))
            case "special_tokens":
                guard case let .object(specials) = member.value else { out.append(member); continue }
                out.append(JSONMember(member.key, .object(try specials.map { special in
                    guard case var .object(fields) = special.value, case let .array(ids)? = special.value["ids"] else { return special }
                    fields.set("ids", .array(try ids.map { element in
                        guard let id = element.int else { throw HFError.invalidFile(path: path, reason: "post_processor special token '\(special.key)' has an id that is not a number") }
                        return .integer(try map(id, "post_processor special token '\(special.key)'"))
                    }))
                    return JSONMember(special.key, .object(fields))
                })))
            case "sep", "cls":
                guard case let .array(pair) = member.value, pair.count == 2, let id = pair[1].int else { out.append(member); continue }
                out.append(JSONMember(member.key, .array([pair[0], .integer(try map(id, "post_processor \(member.key)"))])))
            default:
                out.append(member)
            }
        }
        return .object(out)
    }

    /// Ids a tokenizer.json names outside its vocabulary: they must be kept.
    static func referencedIds(_ root: [JSONMember], path: String) throws -> [(key: String, id: Int)] {
        var ids: [(String, Int)] = []
        if let processor = root[key: "post_processor"] {
            _ = try mapPostProcessor(processor, path: path) { id, what in ids.append((what, id)); return id }
        }
        if let id = root[key: "padding"]?["pad_id"]?.int { ids.append(("padding.pad_id", id)) }
        return ids
    }

    // MARK: tokenizer_config.json, added_tokens.json, vocab.json, merges.txt

    func tokenizerConfig(_ root: [JSONMember], path: String) throws -> JSONValue {
        var out = root
        if let decoder = root[key: "added_tokens_decoder"] {
            guard case let .object(entries) = decoder else { throw HFError.invalidFile(path: path, reason: "added_tokens_decoder is not an object") }
            var mapped: [JSONMember] = []
            for entry in entries {
                guard let id = Int(entry.key), id >= 0 else { throw HFError.invalidFile(path: path, reason: "added_tokens_decoder key '\(entry.key)' is not a token id") }
                if isKept(id) { mapped.append(JSONMember(String(newIdOf[id]), entry.value)) }
            }
            out.set("added_tokens_decoder", .object(mapped))
        }
        return try HFTokenIds.rewrite(.object(out), file: path) { key, id in try newId(id, key, file: path) }
    }

    /// `added_tokens.json` (content → id) and `vocab.json` (spelling → id): kept entries, new ids, same order.
    func tokenMap(_ root: [JSONMember], path: String) throws -> JSONValue {
        .object(try root.compactMap { entry in
            guard let id = entry.value.int, id >= 0 else { throw HFError.invalidFile(path: path, reason: "'\(entry.key)' has no valid id") }
            return isKept(id) ? JSONMember(entry.key, .integer(newIdOf[id])) : nil
        })
    }

    /// The `#version: …` first line of merges.txt (a merge may itself start with `#`, as `# #` does).
    static func isMergesHeader(_ line: TextLines.Line) -> Bool { line.number == 1 && line.text.hasPrefix("#version") }

    /// `merges.txt`: the version line kept, then the kept merges; `idOf` maps spellings to old ids.
    func mergesText(_ bytes: UnsafeRawBufferPointer, path: String, idOf: [String: Int]) throws -> String {
        var out = ""
        for line in TextLines(bytes) {
            let text = line.text
            if Self.isMergesHeader(line) { out += text + "\n"; continue }
            if line.isBlank { continue }
            let parts = text.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, let left = idOf[String(parts[0])], let right = idOf[String(parts[1])],
                  let result = idOf[String(parts[0]) + String(parts[1])] else {
                throw HFError.invalidFile(path: path, reason: "line \(line.number) '\(text)' is not a merge of two tokens of the vocabulary")
            }
            if isKept(left) && isKept(right) && isKept(result) { out += text + "\n" }
        }
        return out
    }
}
