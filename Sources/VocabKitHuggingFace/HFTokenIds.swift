import VocabKitSafetensors
import VocabKitIO

/// The token ids a config file names (`bos_token_id`, `eos_token_id` as a number or a list, `pad_token_id`,
/// `decoder_start_token_id`, ... any key ending in `_token_id` or `_token_ids`, at any depth), found and
/// rewritten in one place so config.json and generation_config.json are treated alike.
enum HFTokenIds {
    static func isTokenIdKey(_ key: String) -> Bool { key.hasSuffix("_token_id") || key.hasSuffix("_token_ids") }

    /// Every id named, with the key path, for the selector and for messages.
    static func collect(_ value: JSONValue, path: String, file: String) throws -> [(key: String, id: Int)] {
        var found: [(String, Int)] = []
        try visit(value, path: path, file: file) { key, id in found.append((key, id)); return id }
        return found
    }

    /// The same document with each id replaced by `map(id)`.
    static func rewrite(_ value: JSONValue, file: String, map: (String, Int) throws -> Int) throws -> JSONValue {
        try visit(value, path: "", file: file, map)
    }

    @discardableResult
    private static func visit(_ value: JSONValue, path: String, file: String, _ map: (String, Int) throws -> Int) throws -> JSONValue {
        guard case let .object(members) = value else { return value }
        var out: [JSONMember] = []
        for member in members {
            let key = path.isEmpty ? member.key : path + "." + member.key
            if isTokenIdKey(member.key) {
                out.append(JSONMember(member.key, try mapIds(member.value, key: key, file: file, map)))
            } else if case .object = member.value {
                out.append(JSONMember(member.key, try visit(member.value, path: key, file: file, map)))
            } else {
                out.append(member)
            }
        }
        return .object(out)
    }

    private static func mapIds(_ value: JSONValue, key: String, file: String, _ map: (String, Int) throws -> Int) throws -> JSONValue {
        switch value {
        case .null: return .null
        case .number:
            guard let id = value.int else { throw HFError.invalidFile(path: file, reason: "\(key) is not a token id") }
            return id < 0 ? value : .integer(try map(key, id))  // a negative id means "none"
        case let .array(elements):
            return .array(try elements.map { element in
                guard let id = element.int else { throw HFError.invalidFile(path: file, reason: "\(key) holds something that is not a token id") }
                return id < 0 ? element : .integer(try map(key, id))
            })
        default:
            throw HFError.invalidFile(path: file, reason: "\(key) is \(value.kind), not a token id or a list of them")
        }
    }
}
