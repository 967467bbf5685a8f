import VocabKitIO
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `model.safetensors.index.json`: which shard holds each tensor, plus its `metadata` (total_size).
public struct SafetensorsIndex: Sendable {
    public static let fileName = "model.safetensors.index.json"

    public let path: String
    /// The whole document, for rewriting with everything else kept.
    public let root: [JSONMember]
    /// Tensor name → shard file name, in file order.
    public let weightMap: [(tensor: String, shard: String)]
    /// Shard file names in order of first appearance.
    public let shardNames: [String]

    public static func read(path: String) throws -> SafetensorsIndex {
        let input = try InputFile(path: path, limit: 256 << 20)
        let value: JSONValue
        do {
            value = try JSONParser.parse(input.bytes)
        } catch let error as JSONSyntaxError {
            throw SafetensorsError.invalidIndex(path: path, reason: "not valid JSON: \(error)")
        }
        guard case let .object(root) = value else { throw SafetensorsError.invalidIndex(path: path, reason: "not a JSON object") }
        guard case let .object(map)? = root[key: "weight_map"] else {
            throw SafetensorsError.invalidIndex(path: path, reason: "no weight_map object")
        }
        if let metadata = root[key: "metadata"], metadata.members == nil {
            throw SafetensorsError.invalidIndex(path: path, reason: "metadata is \(metadata.kind), not an object")
        }
        var weightMap: [(String, String)] = []
        var shardNames: [String] = []
        var seenShards = Set<String>()
        for member in map {
            guard case let .string(shard) = member.value else {
                throw SafetensorsError.invalidIndex(path: path, reason: "weight_map entry '\(member.key)' is \(member.value.kind), not a file name")
            }
            guard isPlainFileName(shard) else {
                throw SafetensorsError.invalidIndex(path: path, reason: "weight_map entry '\(member.key)' names '\(shard)', which is not a file in the checkpoint's folder")
            }
            weightMap.append((member.key, shard))
            if seenShards.insert(shard).inserted { shardNames.append(shard) }
        }
        guard !weightMap.isEmpty else { throw SafetensorsError.invalidIndex(path: path, reason: "weight_map is empty") }
        return SafetensorsIndex(path: path, root: root, weightMap: weightMap, shardNames: shardNames)
    }

    /// A name with no folder part, not hidden, not `.`/`..`: shards must sit beside the index.
    static func isPlainFileName(_ name: String) -> Bool {
        !name.isEmpty && !name.contains("/") && !name.contains("\0") && !name.hasPrefix(".")
    }

    /// The index with `metadata.total_size` (tensor bytes) and `total_parameters` set, where the input had
    /// them, and the same map.
    public func rewritten(totalSize: Int, totalParameters: Int) -> JSONValue {
        var root = self.root
        if case var .object(metadata)? = root[key: "metadata"] {
            if metadata[key: "total_size"] != nil { metadata.set("total_size", .integer(totalSize)) }
            if metadata[key: "total_parameters"] != nil { metadata.set("total_parameters", .integer(totalParameters)) }
            root.set("metadata", .object(metadata))
        }
        return .object(root)
    }
}

/// A checkpoint's weights: `model.safetensors`, or the shards a `model.safetensors.index.json` lists, each
/// validated, with the index checked against the shards (every tensor in exactly the shard the index names).
public final class SafetensorsCheckpoint: @unchecked Sendable {
    public static let singleFileName = "model.safetensors"

    public let directory: String
    public let index: SafetensorsIndex?
    /// File names of the shards (one for a single-file checkpoint), in order.
    public let shardNames: [String]
    public let shards: [SafetensorsFile]
    private let locations: [String: (shard: Int, tensor: SafetensorsTensor)]

    public init(directory: String) throws {
        self.directory = directory
        let single = directory + "/" + Self.singleFileName
        let indexPath = directory + "/" + SafetensorsIndex.fileName
        let hasSingle = Self.exists(single), hasIndex = Self.exists(indexPath)
        if hasSingle && hasIndex {
            throw SafetensorsError.invalidIndex(path: directory, reason: "holds both \(Self.singleFileName) and \(SafetensorsIndex.fileName); keep one")
        }
        if hasSingle {
            index = nil
            shardNames = [Self.singleFileName]
            shards = [try SafetensorsFile(path: single)]
        } else if hasIndex {
            let index = try SafetensorsIndex.read(path: indexPath)
            self.index = index
            shardNames = index.shardNames
            shards = try index.shardNames.map { try SafetensorsFile(path: directory + "/" + $0) }
        } else {
            throw FileError.notFound(path: single)
        }
        var locations: [String: (Int, SafetensorsTensor)] = [:]
        for (shardNumber, shard) in shards.enumerated() {
            for tensor in shard.tensors {
                if let earlier = locations[tensor.name] {
                    throw SafetensorsError.invalidIndex(path: indexPath,
                        reason: "tensor '\(tensor.name)' is in both \(shardNames[earlier.0]) and \(shardNames[shardNumber])")
                }
                locations[tensor.name] = (shardNumber, tensor)
            }
        }
        if let index {
            var mapped = Set<String>()
            for (tensor, shard) in index.weightMap {
                mapped.insert(tensor)
                guard let location = locations[tensor] else {
                    throw SafetensorsError.invalidIndex(path: indexPath, reason: "tensor '\(tensor)' is not in \(shard)")
                }
                guard shardNames[location.0] == shard else {
                    throw SafetensorsError.invalidIndex(path: indexPath, reason: "tensor '\(tensor)' is in \(shardNames[location.0]), not in \(shard) as the index says")
                }
            }
            if let stray = locations.keys.sorted().first(where: { !mapped.contains($0) }) {
                throw SafetensorsError.invalidIndex(path: indexPath,
                    reason: "tensor '\(stray)' in \(shardNames[locations[stray]!.0]) is not in the weight_map")
            }
        }
        self.locations = locations
    }

    public func locate(_ name: String) -> (shard: SafetensorsFile, tensor: SafetensorsTensor)? {
        locations[name].map { (shards[$0.shard], $0.tensor) }
    }

    /// Every tensor with its shard, shard by shard in data order.
    public var allTensors: [(shard: Int, tensor: SafetensorsTensor)] {
        shards.enumerated().flatMap { number, shard in
            shard.tensors.sorted { $0.dataRange.lowerBound < $1.dataRange.lowerBound }.map { (number, $0) }
        }
    }

    /// Paths of every file the checkpoint's weights were read from.
    public var inputPaths: [String] {
        shardNames.map { directory + "/" + $0 } + (index.map { [$0.path] } ?? [])
    }

    /// Whether anything is at `path` (what it is, the reader checks).
    static func exists(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0
    }
}
