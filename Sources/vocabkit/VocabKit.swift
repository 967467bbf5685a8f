import ArgumentParser
import Foundation
import VocabKitIO

@main
struct VocabKitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vocabkit",
        abstract: "Tokenize like Qwen, count token usage, prune a GGUF's vocabulary, and check the result.",
        subcommands: [
            TokenizeCommand.self, DecodeCommand.self, CountCommand.self, PruneCommand.self, InspectCommand.self,
            SavingsCommand.self, GenerateCommand.self, EvalCommand.self, CheckCommand.self, BenchCommand.self, SynthCommand.self,
            SurgeryCommand.self, LayersCommand.self, CompareCommand.self,
        ]
    )

    /// Parses and runs a command. Every failure ends as one `error:` line on stderr and a non-zero status
    /// (64 for a bad command line, 1 for bad input found while running); an interrupt removes any half-written
    /// output (exit 130 for SIGINT, 143 for SIGTERM).
    static func main() {
        OutputFile.installInterruptCleanup()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            let status = exitCode(for: error)
            if status == .success {
                print(fullMessage(for: error))  // --help, --version
                Foundation.exit(0)
            }
            let message = self.message(for: error).trimmingCharacters(in: .whitespacesAndNewlines)
            let firstLine = message.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? "\(error)"
            let usageError = status == .validationFailure
            FileHandle.standardError.write(Data(("error: " + firstLine + (usageError ? " (see vocabkit help)" : "") + "\n").utf8))
            Foundation.exit(usageError ? 64 : (status.rawValue == 0 ? 1 : status.rawValue))
        }
    }
}
