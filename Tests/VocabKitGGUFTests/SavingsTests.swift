import XCTest
@testable import VocabKitGGUF

final class SavingsTests: XCTestCase {
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
