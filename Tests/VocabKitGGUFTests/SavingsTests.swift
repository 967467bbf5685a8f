import XCTest
@testable import VocabKitGGUF

final class SavingsTests: XCTestCase {
    func testQwen3ParameterCountsMatchPublishedSizes() {
        let counts = Dictionary(uniqueKeysWithValues: Qwen3Shape.family.map { ($0.name, $0.parameterCount) })
        // Published totals: 0.6B (0.44B non-embedding), 1.7B, 4.0B, 8.2B.
        XCTAssertEqual(counts["Qwen3-0.6B"], 596_049_920)
        XCTAssertEqual(Double(counts["Qwen3-1.7B"]!) / 1e9, 1.72, accuracy: 0.01)
        XCTAssertEqual(Double(counts["Qwen3-4B"]!) / 1e9, 4.02, accuracy: 0.01)
        XCTAssertEqual(Double(counts["Qwen3-8B"]!) / 1e9, 8.19, accuracy: 0.01)
    }

    func testQwen3ProjectedSavings() {
        let small = Qwen3Shape.family[0]
        let savings = small.savings(.bf16, keptRows: 151_936 - 1000)
        XCTAssertEqual(savings.tensors.map(\.name), ["token_embd.weight"])
        XCTAssertEqual(savings.bytesSaved, 1000 * 1024 * 2)
        XCTAssertEqual(savings.parametersSaved, 1000 * 1024)

        let big = Qwen3Shape.family[3]
        let quantized = big.savings(.q4_K_M, keptRows: 151_936 - 256)
        XCTAssertEqual(quantized.tensors.map(\.type), [.q4_K, .q6_K])
        XCTAssertEqual(quantized.bytesSaved, 256 * (16 * 144 + 16 * 210))
        XCTAssertEqual(quantized.fileSizeBefore - quantized.fileSizeAfter, quantized.bytesSaved)
    }

    func testSavingsOnGeneratedFile() throws {
        let builder = TestGGUFBuilder.richExample(tokenCount: 100)
        let file = try GGUFFile(bytes: builder.build())
        let savings = try VocabularySavings(file: file, keptRows: 40)
        XCTAssertEqual(savings.tensors.map(\.name), ["token_embd.weight", "output.weight"])
        XCTAssertEqual(savings.tensors[0].bytesSaved, 60 * 44)
        XCTAssertEqual(savings.tensors[1].bytesSaved, 60 * 68)
        XCTAssertEqual(savings.parametersSaved, 2 * 60 * 64)
        // Sizes are rounded to the 32-byte alignment per tensor: 4400 → 1760 and 6816 → 2720.
        XCTAssertEqual(savings.fileSizeBefore - savings.fileSizeAfter, (4416 - 1760) + (6816 - 2720))
        XCTAssertThrowsError(try VocabularySavings(file: file, keptRows: 101))
        XCTAssertThrowsError(try VocabularySavings(file: file, keptRows: 0))
    }
}
