import XCTest
import VocabKitTestSupport
@testable import VocabKitGGUF

/// Mutated and truncated headers must parse or throw `GGUFError`: never crash, hang or throw anything else.
final class GGUFFuzzTests: XCTestCase {
    /// Values that tend to hit boundaries when written over counts, lengths, types and offsets.
    private let interesting: [UInt64] = [0, 1, 2, 3, 4, 9, 12, 13, 31, 32, 33, 255, 256, 0x7fff_ffff, 0xffff_ffff,
                                         1 << 32, 1 << 40, 1 << 62, UInt64(Int64.max), UInt64.max, UInt64.max - 31]

    private func mutate(_ base: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = base
        for _ in 0..<Int.random(in: 1...6, using: &random) where !bytes.isEmpty {
            // Most structure lives near the start, so favour early offsets.
            let limit = Bool.random(using: &random) ? min(bytes.count, 512) : bytes.count
            let at = Int.random(in: 0..<limit, using: &random)
            switch Int.random(in: 0..<4, using: &random) {
            case 0: bytes[at] ^= 1 << UInt8.random(in: 0..<8, using: &random)
            case 1: bytes[at] = UInt8.random(in: 0...255, using: &random)
            case 2:
                let value = interesting.randomElement(using: &random)!
                let width = [1, 2, 4, 8].randomElement(using: &random)!
                for index in 0..<width where at + index < bytes.count {
                    bytes[at + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))
                }
            default:
                bytes.removeLast(Int.random(in: 0...(bytes.count - at), using: &random))
            }
        }
        return bytes
    }

    /// Parses and, when that succeeds, touches everything a caller could reach.
    private func exercise(_ bytes: [UInt8]) -> Bool {
        do {
            let file = try GGUFFile(bytes: bytes)
            _ = file.metadata
            for key in file.metadataKeys {
                _ = file.stringArray(key)
                _ = file.integerArray(key)
                _ = file.floatArray(key)
                _ = file.string(key)
            }
            for tensor in file.tensors {
                _ = file.withTensorBytes(tensor) { $0.reduce(0, &+) }
                _ = file.withRowBytes(tensor, row: tensor.rowCount - 1) { $0.count }
            }
            _ = GGUFModelSummary(file)
            return true
        } catch is GGUFError {
            return false
        } catch {
            XCTFail("non-GGUFError thrown: \(error)")
            return false
        }
    }

    func testMutatedGeneratedFiles() {
        let builder = TestGGUFBuilder.richExample(tokenCount: 200)
        let base = builder.build(seed: 11)
        var random = SplitMix64(seed: 0x5eed)
        var parsed = 0
        let attempts = 4_000
        for _ in 0..<attempts where exercise(mutate(base, &random)) { parsed += 1 }
        // Both outcomes must occur, or the mutations are not reaching the interesting paths.
        XCTAssertGreaterThan(parsed, 0)
        XCTAssertLessThan(parsed, attempts)
    }

    func testMutatedRealHeader() throws {
        let source = try TestData.realModel()
        guard TestFiles.exists(source) else {
            throw XCTSkip("no model at \(source)")
        }
        let file = try GGUFFile(path: source)
        let prefix = file.withFileBytes { Array($0.prefix(256 * 1024)) }
        var random = SplitMix64(seed: 42)
        for _ in 0..<2_000 { _ = exercise(mutate(prefix, &random)) }
        // The whole header (metadata and tensor infos, no data) reaches the tensor-info checks too.
        let header = file.withFileBytes { Array($0.prefix(file.headerByteCount)) }
        for _ in 0..<100 { _ = exercise(mutate(header, &random)) }
        // An unmutated prefix cannot hold the 151,936-entry token array that its count announces.
        guard case .countTooLarge(let what, _, _)? = parseError(prefix) else { return XCTFail("a 256 KiB prefix must fail") }
        XCTAssertTrue(what.contains("tokenizer.ggml.tokens"), what)
        if !file.tensors.isEmpty {
            guard case .tensorPastEnd? = parseError(header) else { return XCTFail("a header without data must fail") }
        }
    }
}
