import VocabKitIO
import VocabKitSafetensors

/// Reading and writing the checkpoint's JSON files: strict parsing with the byte offset of any error, and
/// output in the layout `transformers` and `tokenizers` write (two-space indent), keys in input order.
enum HFJSONFile {
    /// JSON inputs larger than this are refused (a Qwen tokenizer.json is 11 MB).
    static let sizeLimit = 512 << 20

    static func read(_ path: String) throws -> JSONValue {
        let input = try InputFile(path: path, limit: sizeLimit)
        do {
            return try JSONParser.parse(input.bytes)
        } catch let error as JSONSyntaxError {
            throw HFError.invalidFile(path: path, reason: "not valid JSON: \(error)")
        }
    }

    static func readObject(_ path: String) throws -> [JSONMember] {
        let value = try read(path)
        guard case let .object(members) = value else { throw HFError.invalidFile(path: path, reason: "is \(value.kind), not a JSON object") }
        return members
    }

    static func text(_ value: JSONValue) -> String { JSONWriter(pretty: true).text(value) + "\n" }
}
