import ArgumentParser

@main
struct VocabKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vocabkit",
        abstract: "Tokenize like Qwen, count token usage, prune a GGUF's vocabulary, and check the result.",
        subcommands: [
            TokenizeCommand.self, DecodeCommand.self, CountCommand.self, PruneCommand.self, InspectCommand.self,
            SavingsCommand.self, GenerateCommand.self, EvalCommand.self, CheckCommand.self, BenchCommand.self, SynthCommand.self,
        ]
    )
}
