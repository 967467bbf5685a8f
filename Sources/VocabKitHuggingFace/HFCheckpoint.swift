import Foundation
import VocabKitIO
import VocabKitSafetensors
import VocabKitTokenizer

/// A Hugging Face checkpoint directory as VocabKit reads it: config.json, the safetensors weights (one file
/// or shards), tokenizer.json (its vocabulary loaded by `Vocabulary.load(tokenizerJSON:)`), and the optional
/// generation_config.json, tokenizer_config.json, added_tokens.json, vocab.json + merges.txt. Opening it
/// checks that the parts agree: the embedding has `vocab_size` rows, the tokenizer's ids fit in them, the
/// head is there exactly when the model is untied and has the embedding's shape.
public final class HFCheckpoint: @unchecked Sendable {
    public static let configName = "config.json"
    public static let generationConfigName = "generation_config.json"
    public static let tokenizerName = "tokenizer.json"
    public static let tokenizerConfigName = "tokenizer_config.json"
    public static let addedTokensName = "added_tokens.json"
    public static let vocabName = "vocab.json"
    public static let mergesName = "merges.txt"

    public let directory: String
    public let architecture: HFArchitecture
    public let config: [JSONMember]
    public let generationConfig: [JSONMember]?
    public let tokenizerJSON: [JSONMember]
    public let tokenizerConfig: [JSONMember]?
    public let addedTokens: [JSONMember]?
    public let weights: SafetensorsCheckpoint
    public let vocabulary: Vocabulary
    /// `vocab_size`: rows of the embedding (and head).
    public let vocabSize: Int
    public let hiddenSize: Int
    /// Whether the output head reuses the embedding (no head tensor of its own).
    public let tied: Bool
    public let embedding: SafetensorsTensor
    /// The head tensor, when the checkpoint has one (untied models; a tied model's stray copy is kept in step).
    public let head: SafetensorsTensor?

    public func path(_ name: String) -> String { directory + "/" + name }

    /// The file newer transformers versions keep the chat template in, instead of tokenizer_config.json.
    public static let chatTemplateFileName = "chat_template.jinja"

    /// The chat templates: tokenizer_config.json's `chat_template` (one string, or a list of named
    /// templates) and chat_template.jinja when the checkpoint has one.
    public func chatTemplates() throws -> [String] {
        var templates: [String] = []
        if let value = tokenizerConfig?[key: "chat_template"] {
            if let template = value.stringValue {
                templates.append(template)
            } else if let list = value.arrayValue {
                templates += list.compactMap { $0["template"]?.stringValue }
            }
        }
        let file = path(Self.chatTemplateFileName)
        if FileManager.default.fileExists(atPath: file) {
            let input = try InputFile(path: file, limit: 1 << 24)
            guard let text = String(validating: input.bytes, as: UTF8.self) else {
                throw HFError.unsupported(path: file, reason: "is not valid UTF-8")
            }
            templates.append(text)
        }
        return templates
    }

    public init(directory: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else { throw FileError.notFound(path: directory) }
        guard isDirectory.boolValue else { throw HFError.unsupported(path: directory, reason: "not a directory") }
        self.directory = directory
        let configPath = directory + "/" + Self.configName
        config = try HFJSONFile.readObject(configPath)
        guard let modelType = config[key: "model_type"]?.stringValue else {
            throw HFError.invalidFile(path: configPath, reason: "no model_type string")
        }
        guard let architecture = HFArchitecture.named(modelType) else {
            throw HFError.unsupported(path: configPath, reason: "model_type '\(modelType)' (supported: \(HFArchitecture.supported.map(\.modelType).joined(separator: ", ")))")
        }
        self.architecture = architecture
        guard let vocabSize = config[key: "vocab_size"]?.int, vocabSize > 0 else {
            throw HFError.invalidFile(path: configPath, reason: "vocab_size is missing or not a positive integer")
        }
        self.vocabSize = vocabSize
        let tieValue = config[key: "tie_word_embeddings"]
        if let tieValue, tieValue.boolValue == nil {
            throw HFError.invalidFile(path: configPath, reason: "tie_word_embeddings is \(tieValue.kind), not true or false")
        }

        func optionalObject(_ name: String) throws -> [JSONMember]? {
            let path = directory + "/" + name
            return FileManager.default.fileExists(atPath: path) ? try HFJSONFile.readObject(path) : nil
        }
        generationConfig = try optionalObject(Self.generationConfigName)
        tokenizerConfig = try optionalObject(Self.tokenizerConfigName)
        addedTokens = try optionalObject(Self.addedTokensName)
        let tokenizerPath = directory + "/" + Self.tokenizerName
        guard FileManager.default.fileExists(atPath: tokenizerPath) else {
            throw HFError.unsupported(path: directory, reason: "no \(Self.tokenizerName) (the vocabulary is read from it)")
        }
        tokenizerJSON = try HFJSONFile.readObject(tokenizerPath)
        vocabulary = try Vocabulary.load(tokenizerJSON: tokenizerPath)

        weights = try SafetensorsCheckpoint(directory: directory)
        guard let embedding = weights.locate(architecture.embeddingTensor)?.tensor else {
            throw HFError.inconsistent(directory: directory, reason: "no \(architecture.embeddingTensor) tensor")
        }
        guard embedding.shape.count == 2, embedding.rowByteCount != nil else {
            throw HFError.inconsistent(directory: directory, reason: "\(architecture.embeddingTensor) has shape \(embedding.shape), not [vocab_size, hidden_size]")
        }
        guard embedding.shape[0] == vocabSize else {
            throw HFError.inconsistent(directory: directory, reason: "\(architecture.embeddingTensor) has \(embedding.shape[0]) rows but config.json vocab_size is \(vocabSize)")
        }
        if let hidden = config[key: "hidden_size"]?.int, hidden != embedding.shape[1] {
            throw HFError.inconsistent(directory: directory, reason: "\(architecture.embeddingTensor) rows have \(embedding.shape[1]) values but config.json hidden_size is \(hidden)")
        }
        self.embedding = embedding
        hiddenSize = embedding.shape[1]
        guard vocabulary.idCount <= vocabSize else {
            throw HFError.inconsistent(directory: directory, reason: "\(Self.tokenizerName) has ids up to \(vocabulary.idCount - 1) but config.json vocab_size is \(vocabSize)")
        }
        head = weights.locate(architecture.headTensor)?.tensor
        // transformers' Qwen2/Qwen3 configs default to untied; the tensors present decide when the key is absent.
        tied = tieValue?.boolValue ?? (head == nil)
        if let head {
            guard head.shape == embedding.shape, head.dtype == embedding.dtype else {
                throw HFError.inconsistent(directory: directory, reason: "\(architecture.headTensor) is \(head.dtype.rawValue) \(head.shape), the embedding \(embedding.dtype.rawValue) \(embedding.shape)")
            }
        } else if !tied {
            throw HFError.inconsistent(directory: directory, reason: "tie_word_embeddings is false but there is no \(architecture.headTensor)")
        }
        try checkTokenizerFilesAgree()
    }

    /// vocab.json and merges.txt, when present beside tokenizer.json, must say the same thing, or the pruned
    /// copies would disagree with each other.
    private func checkTokenizerFilesAgree() throws {
        let vocabPath = path(Self.vocabName), mergesPath = path(Self.mergesName)
        let hasVocab = FileManager.default.fileExists(atPath: vocabPath), hasMerges = FileManager.default.fileExists(atPath: mergesPath)
        guard hasVocab || hasMerges else { return }
        guard hasVocab && hasMerges else {
            throw HFError.inconsistent(directory: directory, reason: "\(hasVocab ? Self.vocabName : Self.mergesName) without \(hasVocab ? Self.mergesName : Self.vocabName)")
        }
        guard let model = tokenizerJSON[key: "model"] else { throw HFError.invalidFile(path: path(Self.tokenizerName), reason: "no model") }
        let fromTokenizer = try HFTokenizerRewriter.vocabularyIds(model, path: path(Self.tokenizerName))
        let vocab = try HFJSONFile.readObject(vocabPath)
        guard vocab.count == fromTokenizer.count else {
            throw HFError.inconsistent(directory: directory, reason: "\(Self.vocabName) has \(vocab.count) tokens, \(Self.tokenizerName) \(fromTokenizer.count)")
        }
        var idOf: [String: Int] = [:]
        for entry in fromTokenizer { idOf[entry.spelling] = entry.id }
        for entry in vocab where entry.value.int != idOf[entry.key] {
            throw HFError.inconsistent(directory: directory, reason: "\(Self.vocabName) gives '\(entry.key)' another id than \(Self.tokenizerName)")
        }
        guard case let .array(merges)? = model["merges"] else { throw HFError.invalidFile(path: path(Self.tokenizerName), reason: "model.merges is not an array") }
        let input = try InputFile(path: mergesPath, limit: HFJSONFile.sizeLimit)
        var index = 0
        for line in TextLines(input.bytes) where !HFTokenizerRewriter.isMergesHeader(line) && !line.isBlank {
            guard index < merges.count else {
                throw HFError.inconsistent(directory: directory, reason: "\(Self.mergesName) has more merges than \(Self.tokenizerName)")
            }
            let (a, b, _) = try HFTokenizerRewriter.mergeParts(merges[index], index: index, path: path(Self.tokenizerName))
            guard line.text == a + " " + b else {
                throw HFError.inconsistent(directory: directory, reason: "\(Self.mergesName) line \(line.number) is not merge \(index) of \(Self.tokenizerName)")
            }
            index += 1
        }
        guard index == merges.count else {
            throw HFError.inconsistent(directory: directory, reason: "\(Self.mergesName) has \(index) merges, \(Self.tokenizerName) \(merges.count)")
        }
    }

    /// Every token id the configs and the tokenizer name outside the vocabulary proper, with where.
    public func referencedIds() throws -> [(key: String, id: Int)] {
        var ids = try HFTokenIds.collect(.object(config), path: "", file: path(Self.configName)).map { ("config.json " + $0.key, $0.id) }
        if let generationConfig {
            ids += try HFTokenIds.collect(.object(generationConfig), path: "", file: path(Self.generationConfigName))
                .map { ("generation_config.json " + $0.key, $0.id) }
        }
        ids += try HFTokenizerRewriter.referencedIds(tokenizerJSON, path: path(Self.tokenizerName)).map { ("tokenizer.json " + $0.key, $0.id) }
        return ids.filter { $0.1 >= 0 }
    }

    /// Every parameter of the weights.
    public var parameterCount: Int { weights.shards.reduce(0) { $0 + $1.tensors.reduce(0) { $0 + $1.elementCount } } }
    public var tensorByteCount: Int { weights.shards.reduce(0) { $0 + $1.tensors.reduce(0) { $0 + $1.byteCount } } }
    public var fileByteCount: Int { weights.shards.reduce(0) { $0 + $1.fileSize } }
    /// The tensors with one row per token id: the embedding, and the head when present.
    public var vocabularyTensors: [SafetensorsTensor] { [embedding] + (head.map { [$0] } ?? []) }
}
