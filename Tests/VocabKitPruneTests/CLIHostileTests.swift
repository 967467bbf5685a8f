import Foundation
import VocabKitGGUF
import VocabKitTestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The CLI as a careless or hostile user drives it: outputs that name inputs, racing writers, interrupts,
/// FIFOs and devices, CRLF tables, absurd numbers. Every case ends in one `error:` line (or works) within
/// seconds, leaves every input byte-identical and no file behind.
final class CLIHostileTests: XCTestCase {
    var folder = ""
    var model = ""
    var usage = ""

    override func setUpWithError() throws {
        folder = try VocabKitTestSupport.temporaryFolder(name, testCase: self)
        model = folder + "/model.gguf"
        try FileManager.default.copyItem(atPath: TinyModel.sharedPath, toPath: model)
        usage = folder + "/usage.tsv"
        XCTAssertEqual(try CLI.run(["count", "--vocab", model] + sampleFiles + ["-o", usage]).status, 0)
    }

    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }
    func entries() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted() }

    /// Runs a command that must not touch any existing file, and returns its result.
    func runLeavingFilesAlone(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CLI.Result {
        let before = Dictionary(uniqueKeysWithValues: entries().map { ($0, bytes(folder + "/" + $0)) })
        let result = try CLI.run(args, currentDirectory: folder)
        XCTAssertEqual(entries(), before.keys.sorted(), "files appeared or vanished: \(args)", file: file, line: line)
        for (name, data) in before { XCTAssertEqual(bytes(folder + "/" + name), data, "\(name) changed: \(args)", file: file, line: line) }
        return result
    }

    func testNoOutputMayNameAnInputOrAnotherOutput() throws {
        let keep = folder + "/keep.txt"
        try Data("100\n200\n".utf8).write(to: URL(fileURLWithPath: keep))
        try FileManager.default.createSymbolicLink(atPath: folder + "/alias.gguf", withDestinationPath: model)
        let prune = ["prune", model, "--usage", usage, "--coverage", "0.9"]
        let cases: [([String], String)] = [
            (prune + ["-o", model], "would overwrite"),
            (prune + ["-o", folder + "/./model.gguf"], "would overwrite"),
            (prune + ["-o", folder + "/alias.gguf"], "would overwrite"),
            (prune + ["-o", folder + "/out.gguf", "--remap", model], "would overwrite"),
            (prune + ["-o", folder + "/out.gguf", "--remap", usage], "would overwrite"),
            (prune + ["-o", folder + "/out.gguf", "--remap", folder + "/out.gguf"], "named as two outputs"),
            (prune + ["--keep-list", keep, "-o", keep], "would overwrite"),
            (["count", sampleFiles[0], "-o", sampleFiles[0]], "would overwrite"),
            (["count", sampleFiles[0], "--svg", sampleFiles[0]], "would overwrite"),
            (["count", "--merge", usage, "-o", usage], "would overwrite"),
            (["count", sampleFiles[0], "-o", folder + "/t.tsv", "--svg", folder + "/t.tsv"], "named as two outputs"),
            (["count", "--vocab", model, sampleFiles[0], "-o", model], "would overwrite"),
        ]
        let corpusCopy = try String(contentsOfFile: sampleFiles[0], encoding: .utf8)
        for (args, needle) in cases {
            CLI.assertOneErrorLine(try runLeavingFilesAlone(args), mentioning: needle)
        }
        XCTAssertEqual(try String(contentsOfFile: sampleFiles[0], encoding: .utf8), corpusCopy)
    }

    /// A failing prune (an unknown keep-list id) publishes neither the model nor the remap table.
    func testFailedPruneWritesNothing() throws {
        let keep = folder + "/keep.txt"
        try Data("100\nbanana\n".utf8).write(to: URL(fileURLWithPath: keep))
        let r = try runLeavingFilesAlone(["prune", model, "--usage", usage, "--keep-list", keep,
                                          "-o", folder + "/out.gguf", "--remap", folder + "/remap.tsv"])
        CLI.assertOneErrorLine(r, mentioning: "keep.txt:2")
        let missingFolder = try runLeavingFilesAlone(["prune", model, "--usage", usage, "--coverage", "0.9",
                                                      "-o", folder + "/no/such/out.gguf", "--remap", folder + "/remap.tsv"])
        CLI.assertOneErrorLine(missingFolder, mentioning: "cannot write")
    }

    /// Two prunes writing one path at once: each publishes a whole file, so the survivor is one of them.
    func testRacingPrunesNeverInterleave() throws {
        let shared = folder + "/shared.gguf"
        var expected: [Data] = []
        for (k, coverage) in ["0.9", "0.999"].enumerated() {
            let solo = folder + "/solo\(k).gguf"
            XCTAssertEqual(try CLI.run(["prune", model, "--usage", usage, "--coverage", coverage, "-o", solo]).status, 0)
            expected.append(try XCTUnwrap(bytes(solo)))
        }
        XCTAssertNotEqual(expected[0], expected[1])
        for trial in 0..<3 {
            let runs = try ["0.9", "0.999"].map { try CLI.start(["prune", model, "--usage", usage, "--coverage", $0, "-o", shared]) }
            let results = runs.map { $0.finish() }
            for r in results { XCTAssertEqual(r.status, 0, r.stderr) }
            let survivor = try XCTUnwrap(bytes(shared))
            XCTAssertTrue(expected.contains(survivor), "trial \(trial): the published model matches neither run")
            XCTAssertFalse(entries().contains { $0.hasPrefix(".") }, "temporary files left: \(entries())")
        }
    }

    /// SIGINT and SIGTERM while the model is being written remove the temporary file and exit 130 / 143.
    func testInterruptRemovesTheTemporaryFile() throws {
        for (signal, status) in [(SIGINT, Int32(130)), (SIGTERM, Int32(143))] {
            let out = folder + "/out.gguf"
            setenv("VOCABKIT_TEST_HOLD_BEFORE_RENAME", "30", 1)
            defer { unsetenv("VOCABKIT_TEST_HOLD_BEFORE_RENAME") }
            let before = try XCTUnwrap(bytes(model))
            let run = try CLI.start(["prune", model, "--usage", usage, "--coverage", "0.99", "-o", out, "--remap", folder + "/remap.tsv"])
            let deadline = Date().addingTimeInterval(60)
            while !entries().contains(where: { $0.hasPrefix(".out.gguf.") }) && Date() < deadline { usleep(20_000) }
            XCTAssertTrue(entries().contains { $0.hasPrefix(".out.gguf.") }, "no temporary file seen: \(entries())")
            run.signal(signal)
            let r = run.finish()
            XCTAssertEqual(r.status, status, "signal \(signal): \(r.stderr)")
            XCTAssertEqual(entries().filter { !["model.gguf", "usage.tsv"].contains($0) }, [], "left behind after signal \(signal)")
            XCTAssertEqual(bytes(model), before)
        }
    }

    /// CRLF usage tables and keep lists give the same model as LF ones.
    func testCRLFTablesReadLikeLF() throws {
        let keep = folder + "/keep.txt", keepCRLF = folder + "/keep-crlf.txt", usageCRLF = folder + "/usage-crlf.tsv"
        try Data("# ids\n7000\n23000\n100000".utf8).write(to: URL(fileURLWithPath: keep))
        try Data("# ids\r\n7000\r\n23000\r\n100000\r\n".utf8).write(to: URL(fileURLWithPath: keepCRLF))
        let table = try String(contentsOfFile: usage, encoding: .utf8)
        try Data(table.replacingOccurrences(of: "\n", with: "\r\n").utf8).write(to: URL(fileURLWithPath: usageCRLF))
        let lf = try CLI.run(["prune", model, "--usage", usage, "--coverage", "0.99", "--keep-list", keep, "-o", folder + "/lf.gguf"])
        let crlf = try CLI.run(["prune", model, "--usage", usageCRLF, "--coverage", "0.99", "--keep-list", keepCRLF, "-o", folder + "/crlf.gguf"])
        XCTAssertEqual(lf.status, 0, lf.stderr)
        XCTAssertEqual(crlf.status, 0, crlf.stderr)
        XCTAssertEqual(lf.stdout.split(separator: "\n").filter { !$0.contains(" s") && !$0.hasPrefix("wrote") },
                       crlf.stdout.split(separator: "\n").filter { !$0.contains(" s") && !$0.hasPrefix("wrote") })
        XCTAssertGreaterThan(try GGUFFile(path: folder + "/crlf.gguf").stringArray("tokenizer.ggml.tokens")?.count ?? 0, 500)
        XCTAssertEqual(bytes(folder + "/lf.gguf"), bytes(folder + "/crlf.gguf"))
        let merged = try CLI.run(["count", "--merge", usageCRLF, "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(merged.stdout.utf8)) as? [String: Any]
        let plain = try JSONSerialization.jsonObject(with: Data(try CLI.run(["count", "--merge", usage, "--json"]).stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["tokens"] as? Int, plain?["tokens"] as? Int)
        XCTAssertGreaterThan(object?["tokens"] as? Int ?? 0, 0)
    }

    /// FIFOs and devices are refused at once (a FIFO would block open() forever, /dev/zero never ends).
    func testFIFOsAndDevicesAreRefusedWithoutHanging() throws {
        let fifo = folder + "/fifo"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let cases: [[String]] = [
            ["inspect", fifo], ["tokenize", "--file", fifo], ["tokenize", "--vocab", fifo, "x"], ["count", fifo],
            ["prune", fifo, "--usage", usage, "--coverage", "0.9", "-o", folder + "/o.gguf"],
            ["prune", model, "--usage", fifo, "--coverage", "0.9", "-o", folder + "/o.gguf"],
            ["tokenize", "--file", "/dev/zero"], ["tokenize", "--file", "/dev/urandom"], ["count", "/dev/zero"],
            ["generate", fifo, "--prompt", "x"], ["eval", model, "--file", "/dev/urandom"],
        ]
        for args in cases {
            let started = Date()
            let run = try CLI.start(args)
            let watchdog = DispatchWorkItem { run.signal(SIGKILL) }
            DispatchQueue.global().asyncAfter(deadline: .now() + 20, execute: watchdog)
            let r = run.finish()
            watchdog.cancel()
            XCTAssertLessThan(Date().timeIntervalSince(started), 20, "\(args) hung")
            CLI.assertOneErrorLine(r, mentioning: "not a regular file")
        }
    }

    /// Absurd numbers are refused before anything runs; negative ones are read as numbers, not missing values.
    func testAbsurdNumbersAreUsageErrors() throws {
        let huge = "9223372036854775807"
        let cases: [([String], String)] = [
            (["tokenize", "--threads", huge, "x"], "--threads"), (["tokenize", "--threads", "0", "x"], "--threads"),
            (["count", "--threads", "-3", sampleFiles[0]], "--threads"),
            (["generate", model, "-n", huge, "--prompt", "x"], "-n"),
            (["eval", model, "--ctx", huge, "--file", sampleFiles[0]], "--ctx"),
            (["check", model, model, "--file", sampleFiles[0], "--windows", "-1"], "--windows"),
            (["prune", model, "--usage", usage, "--coverage", "-0.5", "-o", folder + "/o.gguf"], "--coverage"),
            (["prune", model, "--usage", usage, "--coverage", "nan", "-o", folder + "/o.gguf"], "--coverage"),
            (["prune", model, "--usage", usage, "--top", "-5", "-o", folder + "/o.gguf"], "--top"),
            (["prune", model, "--usage", usage, "--target-size", huge, "-o", folder + "/o.gguf"], "--target-size"),
            (["savings", model, "--keep", "-1"], "--keep"),
        ]
        for (args, needle) in cases {
            CLI.assertOneErrorLine(try runLeavingFilesAlone(args), mentioning: needle, status: 64)
        }
    }

    /// A NaN in a model's metadata is reported in JSON as "nan", not as an encoder crash.
    func testInspectJSONWithANaNFloat() throws {
        let path = folder + "/nan.gguf"
        let metadata: [(key: String, value: GGUFOutputValue)] = [
            ("general.architecture", .value(.string("qwen2"))), ("qwen2.rope.freq_base", .value(.float32(.nan))),
            ("qwen2.block_count", .value(.uint32(1))),
        ]
        try GGUFWriter.write(to: path, metadata: metadata, tensors: [])
        let r = try CLI.run(["inspect", path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["rope_freq_base"] as? String, "nan", r.stdout)
    }

    /// `decode -` streams any number of ids from stdin in linear time and agrees with the argument form.
    func testDecodeReadsIdsFromStandardInput() throws {
        let ids = [750, 40786, 3675, 1269, 2262, 13, 220, 108386]
        let args = try CLI.run(["decode"] + ids.map(String.init))
        XCTAssertEqual(args.status, 0, args.stderr)
        let piped = try CLI.run(["decode", "-"], stdin: Data((ids.map(String.init).joined(separator: ",") + "\r\n").utf8))
        XCTAssertEqual(piped.stdout, args.stdout)
        var rng = SplitMix64(seed: 7)
        let many = (0..<1_000_000).map { _ in Int.random(in: 0..<151_643, using: &rng) }
        let started = Date()
        let big = try CLI.run(["decode", "--raw", "-"], stdin: Data(many.map(String.init).joined(separator: " ").utf8))
        XCTAssertEqual(big.status, 0, big.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 60, "a million ids should decode in seconds")
        let expected = many.reduce(into: [UInt8]()) { $0 += bundledVocabulary.bytes(of: $1) }
        XCTAssertEqual([UInt8](big.stdoutBytes), expected)
        CLI.assertOneErrorLine(try CLI.run(["decode", "-"], stdin: Data("1 2 banana".utf8)), mentioning: "stdin:1")
        CLI.assertOneErrorLine(try CLI.run(["decode", "1", "999999999"]), mentioning: "out of range")
        CLI.assertOneErrorLine(try CLI.run(["decode", "1", "--raw"]), mentioning: "put options first", status: 64)
    }
}
