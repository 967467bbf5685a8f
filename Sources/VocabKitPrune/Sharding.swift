import VocabKitIO

/// One of N parts of a corpus's file list, for running the count on many machines (a Slurm array task, a
/// Kubernetes Indexed Job pod, a GNU parallel job) and summing the tables with `TokenUsage.merging`. Shards
/// are numbered from 1: `--shard 1/4` … `--shard 4/4`.
public struct Shard: Equatable, Sendable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init?(index: Int, count: Int) {
        guard count >= 1, count <= ShardSet.maximumCount, (1...count).contains(index) else { return nil }
        self.index = index
        self.count = count
    }

    /// "I/N" with 1 ≤ I ≤ N.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = DecimalParser.int(parts[0].utf8), let n = DecimalParser.int(parts[1].utf8) else { return nil }
        self.init(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// This shard's files: the list sorted by its UTF-8 bytes (so every machine that resolves the same paths
    /// agrees, whatever order they were listed in), then every N-th from position I. Dealing files round-robin
    /// spreads a folder of similar files evenly.
    public func files(of all: [String]) -> [String] {
        let sorted = all.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return stride(from: index - 1, to: sorted.count, by: count).map { sorted[$0] }
    }
}

/// Which shards of one split a table holds: "2/4" for one shard's count, "1,2/4" after merging two of them.
public struct ShardSet: Equatable, Sendable, CustomStringConvertible {
    public static let maximumCount = 1 << 20
    public let count: Int
    /// Sorted, without repeats, each in 1...count.
    public let indices: [Int]

    public init(count: Int, indices: [Int]) {
        self.count = count
        self.indices = Array(Set(indices)).sorted()
    }

    public init(_ shard: Shard) { self.init(count: shard.count, indices: [shard.index]) }

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let n = DecimalParser.int(parts[1].utf8), n >= 1, n <= ShardSet.maximumCount else { return nil }
        var indices: [Int] = [], seen = Set<Int>()
        for item in parts[0].split(separator: ",", omittingEmptySubsequences: false) {
            guard let i = DecimalParser.int(item.utf8), (1...n).contains(i), seen.insert(i).inserted else { return nil }
            indices.append(i)
        }
        self.init(count: n, indices: indices)
    }

    public var isComplete: Bool { indices.count == count }

    /// The shards not held, for messages.
    public var missing: [Int] {
        let held = Set(indices)
        return (1...count).filter { !held.contains($0) }
    }

    public var description: String { indices.map(String.init).joined(separator: ",") + "/\(count)" }
}
