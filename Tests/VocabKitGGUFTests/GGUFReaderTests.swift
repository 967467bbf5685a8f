import XCTest
import VocabKitTestSupport
@testable import VocabKitGGUF

final class GGUFReaderTests: XCTestCase {
    func testEveryValueTypeDecodes() throws {
        let builder = TestGGUFBuilder.richExample(tokenCount: 50)
        let file = try GGUFFile(bytes: builder.build())
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.metadata.map(\.key), builder.metadata.map(\.0), "file order")
        for (key, value) in builder.metadata {
            XCTAssertEqual(file.value(key), value, key)
        }
        XCTAssertEqual(file.integer("test.uint32"), 4_000_000_000)
        XCTAssertEqual(file.integer("test.int8"), -100)
        XCTAssertNil(file.integer("test.float32"), "floats are not integers")
        XCTAssertNil(file.integer("test.uint64"), "does not fit Int")
        XCTAssertEqual(file.string("general.name"), "Tiny ünïcödé 模型")
        XCTAssertNil(file.string("test.uint8"))
        XCTAssertEqual(file.double("qwen2.rope.freq_base"), 1_000_000)
        XCTAssertEqual(file.stringArray("tokenizer.ggml.tokens")?.count, 50)
        XCTAssertEqual(file.stringArray("tokenizer.ggml.tokens")?[7], "tok7Ġé")
        XCTAssertEqual(file.integerArray("tokenizer.ggml.token_type")?.prefix(4), [3, 1, 1, 3])
        XCTAssertEqual(file.integerArray("test.int16_array"), [-5, 7])
        XCTAssertNil(file.integerArray("test.uint64_array"), "UInt64.max does not fit Int")
        XCTAssertEqual(file.floatArray("test.float_array"), [0.5, -1])
        XCTAssertNil(file.stringArray("test.float_array"))
        XCTAssertNil(file.value("missing.key"))
        XCTAssertEqual(file.arrayInfo("test.nested")?.elementType, .array)
    }

    func testTensorInfosAndData() throws {
        let builder = TestGGUFBuilder.richExample(tokenCount: 10)
        let bytes = builder.build(seed: 7)
        let file = try GGUFFile(bytes: bytes)
        XCTAssertEqual(file.tensors.map(\.name), builder.tensors.map(\.name))
        XCTAssertEqual(file.alignment, 32)
        XCTAssertEqual(file.dataSectionOffset % 32, 0)
        let embedding = try XCTUnwrap(file.tensor(named: "token_embd.weight"))
        XCTAssertEqual(embedding.dimensions, [64, 10])
        XCTAssertEqual(embedding.type, .q5_0)
        XCTAssertEqual(embedding.byteCount, 10 * 44)
        let ffn = try XCTUnwrap(file.tensor(named: "blk.0.ffn_up.weight"))
        XCTAssertEqual(ffn.offset % 32, 0)
        XCTAssertEqual(ffn.byteCount, 3 * 144)
        // Row 3 of the embedding is bytes 132..<176 of its data.
        let row = file.withRowBytes(embedding, row: 3) { Array($0) }
        let start = file.dataSectionOffset + Int(embedding.offset) + 132
        XCTAssertEqual(row, Array(bytes[start..<start + 44]))
        XCTAssertNil(file.withRowBytes(embedding, row: 10) { Array($0) })
    }

    func testCustomAlignmentAndVersion2() throws {
        let builder = TestGGUFBuilder.richExample(tokenCount: 5)
        builder.version = 2
        builder.alignment = 64
        builder.metadata.insert(("general.alignment", .uint32(64)), at: 0)
        let file = try GGUFFile(bytes: builder.build())
        XCTAssertEqual(file.version, 2)
        XCTAssertEqual(file.alignment, 64)
        XCTAssertEqual(file.dataSectionOffset % 64, 0)
        XCTAssertTrue(file.tensors.allSatisfy { $0.offset % 64 == 0 })
    }

    func testMappedFileMatchesInMemoryParse() throws {
        let builder = TestGGUFBuilder.richExample(tokenCount: 20)
        let bytes = builder.build()
        let path = TestFiles.temporaryPath("mapped.gguf")
        defer { unlink(path) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let mapped = try GGUFFile(path: path)
        let inMemory = try GGUFFile(bytes: bytes)
        XCTAssertEqual(mapped.tensors, inMemory.tensors)
        XCTAssertEqual(mapped.metadata.map(\.value), inMemory.metadata.map(\.value))
        XCTAssertEqual(mapped.fileSize, bytes.count)
    }

    func testVocabOnlyQwen2File() throws {
        let file = try GGUFFile(path: try TestData.qwen2VocabularyGGUF())
        XCTAssertEqual(file.version, 3)
        XCTAssertTrue(file.tensors.isEmpty)
        XCTAssertEqual(file.string("tokenizer.ggml.model"), "gpt2")
        let clock = ContinuousClock()
        var tokens: [String]?
        let elapsed = clock.measure { tokens = file.stringArray("tokenizer.ggml.tokens") }
        XCTAssertEqual(tokens?.count, 151_936)
        XCTAssertEqual(tokens?[0], "!")
        XCTAssertEqual(tokens?[151_643], "<|endoftext|>")
        XCTAssertEqual(file.integerArray("tokenizer.ggml.token_type")?.count, 151_936)
        XCTAssertLessThan(elapsed, .milliseconds(500), "stringArray must decode straight from the mapping")
    }

    func testRealModelHeader() throws {
        let file = try GGUFFile(path: try TestData.realModel())
        XCTAssertEqual(file.fileSize, 491_400_064)
        XCTAssertEqual(file.string("general.architecture"), "qwen2")
        let embedding = try XCTUnwrap(file.tensor(named: "token_embd.weight"))
        XCTAssertEqual(embedding.type, .q5_0)
        XCTAssertEqual(embedding.dimensions, [896, 151_936])
        XCTAssertEqual(file.tensor(named: "output.weight")?.type, .q8_0)
        XCTAssertEqual(file.tensors.count, 291)
        XCTAssertEqual(file.dataSectionOffset, 5_947_776, "as the Python gguf package reports")
        let summary = GGUFModelSummary(file)
        XCTAssertEqual(summary.embeddingLength, 896)
        XCTAssertEqual(summary.blockCount, 24)
        XCTAssertEqual(summary.vocabularySize, 151_936)
        XCTAssertFalse(summary.tiedEmbeddings)
        XCTAssertNotNil(summary.chatTemplateByteCount)
        XCTAssertTrue(summary.specialTokens.contains { $0.name == "eos" })
        // The last tensor ends within one alignment unit of the end of the file.
        let end = file.tensors.map { file.absoluteOffset(of: $0) + $0.byteCount }.max() ?? 0
        XCTAssertLessThanOrEqual(file.fileSize - end, file.alignment)
    }
}

final class GGUFMappingTests: XCTestCase {
    /// A 16 GiB sparse file opens instantly only if tensor data is mapped, not read.
    func testOpeningDoesNotReadTensorData() throws {
        let builder = TestGGUFBuilder()
        builder.metadata = [("general.architecture", .string("qwen3"))]
        builder.tensors = [.init(name: "token_embd.weight", dimensions: [1 << 16, 1 << 16], type: .f32, omitData: true)]
        let header = builder.build()
        let dataStart = (header.count + 31) / 32 * 32
        let path = TestFiles.temporaryPath("sparse.gguf")
        defer { unlink(path) }
        try Data(header).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(truncate(path, off_t(dataStart + (1 << 34))), 0)

        let clock = ContinuousClock()
        var summary: GGUFModelSummary?
        let elapsed = try clock.measure {
            let file = try GGUFFile(path: path)
            summary = GGUFModelSummary(file)
        }
        XCTAssertEqual(summary?.vocabularyByteCount, 1 << 34)
        XCTAssertEqual(summary?.tiedEmbeddings, true)
        XCTAssertLessThan(elapsed, .milliseconds(500))
    }
}
