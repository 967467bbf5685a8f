import VocabKitIO
import VocabKitTokenizer

/// Pruning in one call, for programs: select the tokens a usage table and rules ask for, prove the selection
/// keeps every kept token reachable, and write the smaller model.
///
///     let summary = try VocabularyPruner.prune(model: "model.gguf", usage: "usage.tsv",
///                                              rules: SelectionRules(coverage: 0.9999), to: "small.gguf")
public enum VocabularyPruner {
    /// Prunes the GGUF at `model` to what `usage` (a table from `UsageCounter`/`vocabkit count`, counted with
    /// this model's vocabulary) and `rules` select, and writes `output` (never over an input).
    @discardableResult
    public static func prune(model: String, usage: String, rules: SelectionRules, to output: String) throws -> ModelPruner.Summary {
        let pruner = try ModelPruner(modelPath: model)
        let table = try TokenUsage.read(path: usage)
        return try prune(pruner, counts: try table.counts(for: pruner.vocabulary, path: usage),
                         predicted: try table.predictedCounts(for: pruner.vocabulary, path: usage), rules: rules, to: output, inputs: [usage])
    }

    /// Prunes to what `usage` (counts indexed by this model's ids) and `rules` select.
    @discardableResult
    public static func prune(model: String, usage: TokenUsage, rules: SelectionRules, to output: String) throws -> ModelPruner.Summary {
        let pruner = try ModelPruner(modelPath: model)
        return try prune(pruner, counts: try usage.counts(for: pruner.vocabulary, path: model),
                         predicted: try usage.predictedCounts(for: pruner.vocabulary, path: model), rules: rules, to: output, inputs: [])
    }

    private static func prune(_ pruner: ModelPruner, counts: [UInt64], predicted: [UInt64]?, rules: SelectionRules, to output: String,
                              inputs: [String]) throws -> ModelPruner.Summary {
        let selector = pruner.selector()
        let verified = try selector.verify(try selector.select(counts: counts, predicted: predicted, rules: rules))
        return try pruner.write(verified, to: output, inputs: inputs)
    }
}
