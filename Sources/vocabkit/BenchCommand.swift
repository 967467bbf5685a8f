import ArgumentParser
import Dispatch
import Foundation
import VocabKitTokenizer

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure VocabKit's own speed (Benchmarks/ compares it with peers in the same run).",
        subcommands: [BenchTokenizeCommand.self]
    )
}

struct BenchTokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Vocabulary load time, and cold, steady-state and warm encode speed per file.",
        discussion: """
        cold: the first encode with empty caches. warm: the best of --iterations further encodes of the same \
        file (the encoders' caches, kept between calls, have seen this very text). With --warm-up FILE…: the \
        encode of each file right after encoding only the warm-up files (other text of the same kind), the \
        steady state of a long-running process on unseen text. Each figure is also given by the process's CPU \
        time (JSON keys *_cpu_*), which other jobs on a shared machine disturb less than the clock.
        """
    )

    @Argument(help: "Files to encode.")
    var files: [String]

    @Option(parsing: .unconditional, help: "Threads for encoding.")
    var threads: Int = 1

    @Option(parsing: .unconditional, help: "Warm repetitions; the best is reported.")
    var iterations: Int = 5

    func validate() throws {
        try requireRange(threads, "--threads", 1...maximumThreads)
        try requireRange(iterations, "--iterations", 1...1_000_000)
    }

    @Option(name: .customLong("warm-up"), help: "Other files to encode first for the steady-state figure (repeatable).")
    var warmUp: [String] = []

    @Flag(help: "Print JSON.")
    var json = false

    @OptionGroup var vocabulary: VocabularyOptions

    func run() throws {
        try runReportingErrors {
            let loadStart = DispatchTime.now()
            let tokenizer = try vocabulary.tokenizer()
            let loadSeconds = seconds(since: loadStart)
            var rows: [[String: Any]] = []
            for file in files {
                let input = try InputText(path: file)
                let mb = Double(input.bytes.count) / 1e6
                var tokens = 0
                // A tokenizer of its own per measurement: encoders and their caches live in the tokenizer.
                let fresh = Tokenizer(vocabulary: tokenizer.vocabulary)
                let coldStart = DispatchTime.now(), coldCPU = processCPUSeconds()
                try fresh.encode(utf8: input.bytes, threads: threads) { tokens += $0.count }
                let cold = seconds(since: coldStart), coldCPUTime = processCPUSeconds() - coldCPU
                var best = Double.infinity, bestCPU = Double.infinity
                for _ in 0..<max(iterations, 1) {
                    let t = DispatchTime.now(), c = processCPUSeconds()
                    try fresh.encode(utf8: input.bytes, threads: threads) { _ in }
                    best = min(best, seconds(since: t))
                    bestCPU = min(bestCPU, processCPUSeconds() - c)
                }
                var row: [String: Any] = ["file": file, "bytes": input.bytes.count, "tokens": tokens, "threads": threads,
                                          "cold_seconds": cold, "warm_seconds": best,
                                          "cold_mb_per_s": mb / cold, "mb_per_s": mb / best,
                                          "cold_cpu_mb_per_s": mb / coldCPUTime, "cpu_mb_per_s": mb / bestCPU]
                let others = warmUp.filter { $0 != file }
                if !others.isEmpty {
                    let steady = Tokenizer(vocabulary: tokenizer.vocabulary)
                    for other in others {
                        let text = try InputText(path: other)  // kept alive: its bytes are a mapping it owns
                        try steady.encode(utf8: text.bytes, threads: threads) { _ in }
                    }
                    let t = DispatchTime.now(), c = processCPUSeconds()
                    try steady.encode(utf8: input.bytes, threads: threads) { _ in }
                    let s = seconds(since: t), cpu = processCPUSeconds() - c
                    row["steady_seconds"] = s
                    row["steady_mb_per_s"] = mb / s
                    row["steady_cpu_mb_per_s"] = mb / cpu
                }
                rows.append(row)
            }
            if json {
                let object: [String: Any] = ["load_seconds": loadSeconds, "files": rows,
                                             "mb_per_s": rows.first?["mb_per_s"] ?? 0]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(String(format: "vocabulary ready in %.1f ms", loadSeconds * 1000))
                for r in rows {
                    var line = String(format: "%@: %d bytes, %d tokens, %d thread(s): cold %.1f MB/s",
                                      r["file"] as! String, r["bytes"] as! Int, r["tokens"] as! Int, threads,
                                      r["cold_mb_per_s"] as! Double)
                    if let steady = r["steady_mb_per_s"] as? Double { line += String(format: ", after warm-up %.1f MB/s", steady) }
                    line += String(format: ", warm %.1f MB/s", r["mb_per_s"] as! Double)
                    print(line)
                }
            }
        }
    }
}

/// CPU time of the whole process (every thread), in seconds.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

func seconds(since start: DispatchTime) -> Double {
    Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
}
