import Foundation
import VocabKitTestSupport
@testable import VocabKitGGUF

/// Encodes GGUF files byte by byte, independently of `GGUFWriter`, so reader and writer are each checked
/// against a second implementation of the format.
final class TestGGUFBuilder {
    struct Tensor {
        var name: String
        var dimensions: [Int]
        var type: GGMLType
        /// nil: placed after the previous tensor, aligned.
        var offset: UInt64? = nil
        var typeID: UInt32? = nil
        /// Leave the data out of the file (for tensors placed deliberately past its end).
        var omitData = false
    }

    var version: UInt32 = 3
    var metadata: [(String, GGUFValue)] = []
    var tensors: [Tensor] = []
    var alignment = 32
    /// Set by `build()`: where each tensor's info record and the data section start.
    private(set) var tensorInfoOffsets: [Int] = []

    func build(seed: UInt64 = 1) -> [UInt8] {
        var out: [UInt8] = Array("GGUF".utf8)
        Self.append(version, to: &out)
        Self.append(UInt64(tensors.count), to: &out)
        Self.append(UInt64(metadata.count), to: &out)
        for (key, value) in metadata {
            Self.append(string: key, to: &out)
            Self.append(value.type.rawValue, to: &out)
            Self.append(value: value, to: &out)
        }
        var next: UInt64 = 0
        var placed: [(offset: UInt64, size: Int)] = []
        tensorInfoOffsets = []
        for tensor in tensors {
            tensorInfoOffsets.append(out.count)
            Self.append(string: tensor.name, to: &out)
            Self.append(UInt32(tensor.dimensions.count), to: &out)
            for dimension in tensor.dimensions { Self.append(Int64(dimension), to: &out) }
            Self.append(tensor.typeID ?? tensor.type.rawValue, to: &out)
            let offset = tensor.offset ?? next
            Self.append(offset, to: &out)
            // Wrapping arithmetic: hostile shapes are built on purpose, and only sane ones get data.
            let elements = tensor.dimensions.reduce(1, &*)
            let size = elements / tensor.type.blockElements &* tensor.type.blockBytes
            guard !tensor.omitData, size >= 0, size < 1 << 24, offset < 1 << 24 else { continue }
            placed.append((offset, size))
            next = (offset + UInt64(size) + UInt64(alignment) - 1) / UInt64(alignment) * UInt64(alignment)
        }
        guard !tensors.isEmpty else { return out }
        let dataStart = (out.count + alignment - 1) / alignment * alignment
        let end = placed.map { Int($0.offset) + $0.size }.max() ?? 0
        out += [UInt8](repeating: 0, count: dataStart - out.count + (end + alignment - 1) / alignment * alignment)
        var random = SplitMix64(seed: seed)
        for (offset, size) in placed {
            for index in 0..<size { out[dataStart + Int(offset) + index] = UInt8(truncatingIfNeeded: random.next()) }
        }
        return out
    }

    static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    static func append(string: String, to out: inout [UInt8]) {
        append(UInt64(string.utf8.count), to: &out)
        out.append(contentsOf: string.utf8)
    }

    static func append(value: GGUFValue, to out: inout [UInt8]) {
        switch value {
        case let .uint8(v): append(v, to: &out)
        case let .int8(v): append(v, to: &out)
        case let .uint16(v): append(v, to: &out)
        case let .int16(v): append(v, to: &out)
        case let .uint32(v): append(v, to: &out)
        case let .int32(v): append(v, to: &out)
        case let .uint64(v): append(v, to: &out)
        case let .int64(v): append(v, to: &out)
        case let .float32(v): append(v.bitPattern, to: &out)
        case let .float64(v): append(v.bitPattern, to: &out)
        case let .bool(v): out.append(v ? 1 : 0)
        case let .string(v): append(string: v, to: &out)
        case let .array(elements):
            append((elements.first?.type ?? .uint8).rawValue, to: &out)
            append(UInt64(elements.count), to: &out)
            for element in elements { append(value: element, to: &out) }
        }
    }

    /// A file exercising every value type, nested arrays, a tokenizer-like string array and several tensor types.
    static func richExample(tokenCount: Int = 2_000) -> TestGGUFBuilder {
        let builder = TestGGUFBuilder()
        builder.metadata = [
            ("general.architecture", .string("qwen2")),
            ("general.name", .string("Tiny ünïcödé 模型")),
            ("qwen2.embedding_length", .uint32(64)),
            ("qwen2.block_count", .uint32(2)),
            ("qwen2.attention.head_count", .uint32(4)),
            ("qwen2.attention.head_count_kv", .uint32(2)),
            ("qwen2.feed_forward_length", .uint32(256)),
            ("qwen2.context_length", .uint32(4096)),
            ("qwen2.rope.freq_base", .float32(1_000_000)),
            ("test.uint8", .uint8(200)), ("test.int8", .int8(-100)),
            ("test.uint16", .uint16(60_000)), ("test.int16", .int16(-30_000)),
            ("test.uint32", .uint32(4_000_000_000)), ("test.int32", .int32(-2_000_000_000)),
            ("test.float32", .float32(3.25)), ("test.bool", .bool(true)),
            ("test.uint64", .uint64(18_000_000_000_000_000_000)), ("test.int64", .int64(-9_000_000_000_000_000_000)),
            ("test.float64", .float64(-2.5e300)),
            ("test.empty_string", .string("")),
            ("test.nested", .array([.array([.int32(1), .int32(2)]), .array([.int32(3)])])),
            ("test.float_array", .array([.float32(0.5), .float32(-1)])),
            ("test.bool_array", .array([.bool(false), .bool(true)])),
            ("test.uint64_array", .array([.uint64(1), .uint64(UInt64.max)])),
            ("test.int16_array", .array([.int16(-5), .int16(7)])),
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.tokens", .array((0..<tokenCount).map { .string("tok\($0)" + ($0 % 7 == 0 ? "Ġé" : "")) })),
            ("tokenizer.ggml.token_type", .array((0..<tokenCount).map { .int32(Int32($0 % 3 == 0 ? 3 : 1)) })),
            ("tokenizer.ggml.bos_token_id", .uint32(11)),
            ("tokenizer.ggml.eos_token_id", .uint32(12)),
            ("tokenizer.chat_template", .string("{% for m in messages %}{{ m }}{% endfor %}")),
        ]
        builder.tensors = [
            Tensor(name: "token_embd.weight", dimensions: [64, tokenCount], type: .q5_0),
            Tensor(name: "blk.0.attn_norm.weight", dimensions: [64], type: .f32),
            Tensor(name: "blk.0.ffn_up.weight", dimensions: [256, 3], type: .q4_K),
            Tensor(name: "blk.0.ffn_down.weight", dimensions: [256, 2], type: .q6_K),
            Tensor(name: "blk.0.attn_q.weight", dimensions: [64, 5], type: .q8_0),
            Tensor(name: "blk.0.attn_k.weight", dimensions: [64, 3], type: .bf16),
            Tensor(name: "blk.0.attn_v.weight", dimensions: [64, 3], type: .f16),
            Tensor(name: "blk.0.iq.weight", dimensions: [256, 1], type: .iq4_XS),
            Tensor(name: "output.weight", dimensions: [64, tokenCount], type: .q8_0),
        ]
        return builder
    }
}


enum TestFiles {

    static func temporaryPath(_ name: String) -> String {
        NSTemporaryDirectory() + "vocabkit-gguf-\(getpid())-\(name)"
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
}

/// Runs `body` expecting a `GGUFError`, returning it (nil, recorded as a failure by the caller, otherwise).
func parseError(_ bytes: [UInt8]) -> GGUFError? {
    do {
        _ = try GGUFFile(bytes: bytes)
        return nil
    } catch let error as GGUFError {
        return error
    } catch {
        return nil
    }
}
