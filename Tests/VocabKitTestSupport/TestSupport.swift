import Foundation
import XCTest
import VocabKitIO

/// Where the repository and its test data are, and what a test does when data is missing: skip with the
/// script that fetches it, or fail when CI sets VOCABKIT_REQUIRE_TEST_DATA=1 (so a real-model check can never
/// silently stop running).
public enum TestData {
    public static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static var required: Bool { ProcessInfo.processInfo.environment["VOCABKIT_REQUIRE_TEST_DATA"] == "1" }

    /// A path under the repository (e.g. ".build-testdata/x.gguf") that `script` fetches.
    public static func path(_ relative: String, fetchedBy script: String,
                            file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try existing(repositoryRoot.appendingPathComponent(relative).path, fetchedBy: script, file: file, line: line)
    }

    /// `path` if it exists; otherwise a skip naming `script`, or a failure when data is required.
    public static func existing(_ path: String, fetchedBy script: String,
                                file: StaticString = #filePath, line: UInt = #line) throws -> String {
        if FileManager.default.fileExists(atPath: path) { return path }
        let message = "\(path) is missing; run \(script)"
        if required {
            XCTFail(message + " (VOCABKIT_REQUIRE_TEST_DATA=1)", file: file, line: line)
            throw MissingTestData(message: message)
        }
        throw XCTSkip(message)
    }

    /// Qwen2.5-Coder-0.5B-Instruct (491 MB), or the file VOCABKIT_MODEL names.
    public static func realModel(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        if let override = ProcessInfo.processInfo.environment["VOCABKIT_MODEL"] {
            return try existing(override, fetchedBy: "Tests/Scripts/fetch-model.sh (or unset VOCABKIT_MODEL)", file: file, line: line)
        }
        return try path(".build-testdata/qwen2.5-coder-0.5b-instruct.gguf", fetchedBy: "Tests/Scripts/fetch-model.sh",
                        file: file, line: line)
    }

    /// llama.cpp's vocabulary-only Qwen2 GGUF (its tokenizer test vectors' model).
    public static func qwen2VocabularyGGUF(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try path(".build-testdata/ggml-vocab-qwen2.gguf", fetchedBy: "Tests/Scripts/fetch-test-data.sh", file: file, line: line)
    }

    /// Whether this test binary was built with optimization: the real model's forward pass is ~50x slower
    /// without it.
    public static var isOptimizedBuild: Bool {
        #if DEBUG
        return false
        #else
        return true
        #endif
    }

    /// Skips a test that runs the real model in a debug build (CI runs the suite in release), unless
    /// VOCABKIT_SLOW_TESTS=1.
    public static func requireOptimizedBuild() throws {
        guard !isOptimizedBuild, ProcessInfo.processInfo.environment["VOCABKIT_SLOW_TESTS"] != "1" else { return }
        throw XCTSkip("a debug build runs the real model too slowly: swift test -c release, or set VOCABKIT_SLOW_TESTS=1")
    }
}

public struct MissingTestData: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// The sha256 of a file, by coreutils' sha256sum (fast in debug builds too).
public func sha256(ofFile path: String) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    p.arguments = [path]
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw MissingTestData(message: "sha256sum \(path) failed") }
    return String(String(decoding: data, as: UTF8.self).prefix(64))
}

/// A fresh folder under the system's temporary directory, removed when the test ends.
public func temporaryFolder(_ name: String = #function, testCase: XCTestCase? = nil) throws -> String {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let path = NSTemporaryDirectory() + "vocabkit-\(safe)-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    testCase?.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// Runs the `vocabkit` binary built beside the tests, as a script would.
public enum CLI {
    public struct Result {
        public let status: Int32
        public let stdout: String
        public let stderr: String
        public let stdoutBytes: Data
    }

    public static var binary: URL {
        let candidates = [Bundle.main.bundleURL] + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for dir in candidates {
            let url = dir.appendingPathComponent("vocabkit")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return TestData.repositoryRoot.appendingPathComponent(".build/debug/vocabkit")
    }

    /// Runs `vocabkit args…`, feeding `stdin` (or nothing) and collecting both outputs.
    @discardableResult
    public static func run(_ args: [String], stdin: Data? = nil, currentDirectory: String? = nil) throws -> Result {
        let process = try start(args, stdin: stdin, currentDirectory: currentDirectory)
        return process.finish()
    }

    public final class Running: @unchecked Sendable {
        public let process: Process
        let out: Pipe, err: Pipe
        private var stdoutData = Data(), stderrData = Data()
        private let group = DispatchGroup()

        init(process: Process, out: Pipe, err: Pipe) {
            self.process = process
            self.out = out
            self.err = err
            // Drain both pipes while the process runs, so a large output never blocks it.
            group.enter()
            DispatchQueue.global().async { self.stdoutData = out.fileHandleForReading.readDataToEndOfFile(); self.group.leave() }
            group.enter()
            DispatchQueue.global().async { self.stderrData = err.fileHandleForReading.readDataToEndOfFile(); self.group.leave() }
        }

        public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

        public func finish() -> Result {
            process.waitUntilExit()
            group.wait()
            return Result(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
                          stderr: String(decoding: stderrData, as: UTF8.self), stdoutBytes: stdoutData)
        }
    }

    /// Starts `vocabkit args…` without waiting for it (to signal it, or to race two runs).
    public static func start(_ args: [String], stdin: Data? = nil, currentDirectory: String? = nil) throws -> Running {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        if let currentDirectory { p.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        let input = Pipe()
        p.standardInput = stdin == nil ? FileHandle.nullDevice : input
        try p.run()
        if let stdin {
            DispatchQueue.global().async {
                input.fileHandleForWriting.write(stdin)
                try? input.fileHandleForWriting.close()
            }
        }
        return Running(process: p, out: out, err: err)
    }

    /// One line on stderr starting with "error:" that mentions `needle`, and exit status `status`.
    public static func assertOneErrorLine(_ r: Result, mentioning needle: String, status: Int32 = 1,
                                          file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, status, r.stderr, file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(lines.first?.hasPrefix("error:") ?? false, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(needle), "\(r.stderr) should mention \(needle)", file: file, line: line)
    }
}

/// The library's generator, so random tests repeat exactly for a seed.
public typealias SplitMix64 = VocabKitIO.SplitMix64
