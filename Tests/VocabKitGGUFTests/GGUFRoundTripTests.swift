import XCTest
import VocabKitTestSupport
import VocabKitIO
@testable import VocabKitGGUF

final class GGUFRoundTripTests: XCTestCase {
    private func readBytes(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    private func roundTrip(_ bytes: [UInt8], name: String) throws -> [UInt8] {
        let source = TestFiles.temporaryPath(name + "-in.gguf"), copy = TestFiles.temporaryPath(name + "-out.gguf")
        defer { unlink(source); unlink(copy) }
        try Data(bytes).write(to: URL(fileURLWithPath: source))
        try GGUFWriter.copy(try GGUFFile(path: source), to: copy)
        XCTAssertFalse(TestFiles.exists(copy + ".tmp"), "temporary file renamed away")
        return try readBytes(copy)
    }

    func testGeneratedFilesRoundTripByteIdentical() throws {
        let rich = TestGGUFBuilder.richExample(tokenCount: 300)
        let richBytes = rich.build(seed: 3)
        XCTAssertEqual(try roundTrip(richBytes, name: "rich"), richBytes)

        let version2 = TestGGUFBuilder.richExample(tokenCount: 40)
        version2.version = 2
        version2.alignment = 128
        version2.metadata.append(("general.alignment", .uint32(128)))
        let version2Bytes = version2.build(seed: 4)
        XCTAssertEqual(try roundTrip(version2Bytes, name: "v2"), version2Bytes)

        let metadataOnly = TestGGUFBuilder()
        metadataOnly.metadata = [("general.architecture", .string("x")), ("empty.array", .array([]))]
        let metadataOnlyBytes = metadataOnly.build()
        XCTAssertEqual(try roundTrip(metadataOnlyBytes, name: "meta"), metadataOnlyBytes)
    }

    /// The writer's own encoding of decoded values must match the independent test encoder exactly.
    func testWriterEncodesValuesLikeTheFormat() throws {
        let builder = TestGGUFBuilder.richExample(tokenCount: 30)
        let expected = builder.build(seed: 5)
        let source = try GGUFFile(bytes: expected)
        let path = TestFiles.temporaryPath("values.gguf")
        defer { unlink(path) }
        let metadata: [(key: String, value: GGUFOutputValue)] = source.metadata.map { entry in
            switch entry.key {
            case "tokenizer.ggml.tokens": return (entry.key, .strings(source.stringArray(entry.key)!))
            case "tokenizer.ggml.token_type": return (entry.key, .integers(source.integerArray(entry.key)!, type: .int32))
            case "test.float_array": return (entry.key, .floats(source.floatArray(entry.key)!))
            default: return (entry.key, .value(entry.value))
            }
        }
        // Tensors without explicit offsets: the writer must place them as llama.cpp does.
        let tensors = source.tensors.map { tensor in
            GGUFOutputTensor(name: tensor.name, dimensions: tensor.dimensions, type: tensor.type) { sink in
                try source.withTensorBytes(tensor) { try sink.write($0) }
            }
        }
        try GGUFWriter.write(to: path, metadata: metadata, tensors: tensors)
        XCTAssertEqual(try readBytes(path), expected)
    }

    func testPrunedEmbeddingRowsAreCopiedWithoutDequantizing() throws {
        let builder = TestGGUFBuilder.richExample(tokenCount: 100)
        let source = try GGUFFile(bytes: builder.build(seed: 9))
        let keptRows = [0, 5, 99]
        let path = TestFiles.temporaryPath("pruned.gguf")
        defer { unlink(path) }
        let tensors = source.tensors.map { tensor -> GGUFOutputTensor in
            guard tensor.name == "token_embd.weight" || tensor.name == "output.weight" else {
                return GGUFOutputTensor(name: tensor.name, dimensions: tensor.dimensions, type: tensor.type) { sink in
                    try source.withTensorBytes(tensor) { try sink.write($0) }
                }
            }
            return GGUFOutputTensor(name: tensor.name, dimensions: [tensor.rowElements, keptRows.count], type: tensor.type) { sink in
                for row in keptRows { try source.withRowBytes(tensor, row: row) { try sink.write($0) } }
            }
        }
        try GGUFWriter.write(to: path, metadata: source.metadataForWriting, tensors: tensors)
        let pruned = try GGUFFile(path: path)
        for name in ["token_embd.weight", "output.weight"] {
            let before = try XCTUnwrap(source.tensor(named: name)), after = try XCTUnwrap(pruned.tensor(named: name))
            XCTAssertEqual(after.rowCount, 3)
            for (newRow, oldRow) in keptRows.enumerated() {
                XCTAssertEqual(pruned.withRowBytes(after, row: newRow) { Array($0) },
                               source.withRowBytes(before, row: oldRow) { Array($0) }, "\(name) row \(oldRow)")
            }
        }
        XCTAssertEqual(pruned.stringArray("tokenizer.ggml.tokens"), source.stringArray("tokenizer.ggml.tokens"))
    }

    func testSelectingRowsHelper() throws {
        let builder = TestGGUFBuilder.richExample(tokenCount: 64)
        let source = try GGUFFile(bytes: builder.build(seed: 13))
        let embedding = try XCTUnwrap(source.tensor(named: "token_embd.weight"))
        let path = TestFiles.temporaryPath("rows.gguf")
        defer { unlink(path) }
        try GGUFWriter.write(to: path, metadata: [], tensors: [.selectingRows([63, 1], of: embedding, from: source)])
        let result = try GGUFFile(path: path)
        let selected = try XCTUnwrap(result.tensor(named: "token_embd.weight"))
        XCTAssertEqual(selected.dimensions, [64, 2])
        XCTAssertEqual(result.withRowBytes(selected, row: 0) { Array($0) }, source.withRowBytes(embedding, row: 63) { Array($0) })
        XCTAssertEqual(result.withRowBytes(selected, row: 1) { Array($0) }, source.withRowBytes(embedding, row: 1) { Array($0) })
        XCTAssertThrowsError(try GGUFWriter.write(to: path + "-bad", metadata: [],
                                                  tensors: [.selectingRows([64], of: embedding, from: source)]))
        XCTAssertFalse(TestFiles.exists(path + "-bad"))
    }

    func testWriterRejectsBadInputAndLeavesNoFile() throws {
        let path = TestFiles.temporaryPath("bad.gguf")
        defer { unlink(path) }
        let shortTensor = GGUFOutputTensor(name: "w", dimensions: [8], type: .f32) { try $0.write([1, 2, 3]) }
        XCTAssertThrowsError(try GGUFWriter.write(to: path, metadata: [], tensors: [shortTensor])) { error in
            guard case .invalidWriterInput? = error as? GGUFError else { return XCTFail("\(error)") }
        }
        XCTAssertFalse(TestFiles.exists(path))
        XCTAssertFalse(TestFiles.exists(path + ".tmp"))

        let mixed: [(key: String, value: GGUFOutputValue)] = [("m", .value(.array([.uint8(1), .int8(1)])))]
        XCTAssertThrowsError(try GGUFWriter.write(to: path, metadata: mixed, tensors: []))
        let duplicate: [(key: String, value: GGUFOutputValue)] = [("k", .value(.bool(true))), ("k", .value(.bool(false)))]
        XCTAssertThrowsError(try GGUFWriter.write(to: path, metadata: duplicate, tensors: []))
        let tooBig: [(key: String, value: GGUFOutputValue)] = [("t", .integers([300], type: .uint8))]
        XCTAssertThrowsError(try GGUFWriter.write(to: path, metadata: tooBig, tensors: []))
        let hugeOffset = GGUFOutputTensor(name: "w", dimensions: [8], type: .f32, offset: UInt64.max - 31) { _ in }
        XCTAssertThrowsError(try GGUFWriter.write(to: path, metadata: [], tensors: [hugeOffset]))
        let misplaced = GGUFOutputTensor(name: "w", dimensions: [8], type: .f32, offset: 8) { try $0.write([UInt8](repeating: 0, count: 32)) }
        XCTAssertThrowsError(try GGUFWriter.write(to: path, metadata: [], tensors: [misplaced]))
        let first = GGUFOutputTensor(name: "a", dimensions: [16], type: .f32, offset: 0) { try $0.write([UInt8](repeating: 0, count: 64)) }
        let overlapping = GGUFOutputTensor(name: "b", dimensions: [8], type: .f32, offset: 32) { try $0.write([UInt8](repeating: 0, count: 32)) }
        XCTAssertThrowsError(try GGUFWriter.write(to: path, metadata: [], tensors: [first, overlapping]))
        XCTAssertFalse(TestFiles.exists(path))
        XCTAssertThrowsError(try GGUFWriter.write(to: "/nonexistent-dir/x.gguf", metadata: [], tensors: [])) { error in
            guard case .writeFailed? = error as? FileError else { return XCTFail("\(error)") }
        }
    }

    func testRealModelRoundTripIsByteIdentical() throws {
        let realModel = try TestData.realModel()
        let source = try GGUFFile(path: realModel)
        let copyPath = "/tmp/vocabkit-gguf-roundtrip-\(getpid()).gguf"
        defer { unlink(copyPath) }
        try GGUFWriter.copy(source, to: copyPath)
        let copy = try GGUFFile(path: copyPath)
        XCTAssertEqual(copy.fileSize, source.fileSize)
        let identical = source.withFileBytes { original in
            copy.withFileBytes { rewritten in
                original.count == rewritten.count && memcmp(original.baseAddress!, rewritten.baseAddress!, original.count) == 0
            }
        }
        XCTAssertTrue(identical, "rewritten model differs from \(realModel)")
    }

    func testVocabOnlyFileRoundTrip() throws {
        let original = try readBytes(try TestData.qwen2VocabularyGGUF())
        XCTAssertEqual(try roundTrip(original, name: "vocab"), original)
    }
}
