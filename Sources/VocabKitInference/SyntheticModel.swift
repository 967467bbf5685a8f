import Foundation
import VocabKitGGUF
import VocabKitModels
import VocabKitTokenizer
import VocabKitIO

/// A small model of any supported architecture with random weights and the real Qwen vocabulary (151,936
/// embedding rows, tokenizer metadata as real Qwen GGUFs carry it), so that the loader, tokenizer and forward
/// pass can be compared with llama.cpp on models that run in seconds. The same spec always gives the same file.
public struct SyntheticModelSpec: Sendable, Equatable {
    /// What the file is: its keys, optional tensors and RoPE style come from the descriptor.
    public var architecture: Architecture
    /// The type of every matrix, the token embedding included; norms and biases stay F32 as in real GGUFs.
    public var type: GGMLType
    public var dim: Int
    public var layers: Int
    /// Query heads, K/V heads and feed-forward size of every block, written as one number each; the
    /// per-layer arrays below replace them where set.
    public var heads: Int
    public var kvHeads: Int
    public var ffn: Int
    /// One value per block, written as an array (llama.cpp reads these keys as a number or an array).
    public var headsPerLayer: [Int]?
    public var kvHeadsPerLayer: [Int]?
    public var ffnPerLayer: [Int]?
    public var seed: UInt64
    /// Write a separate `output.weight` instead of sharing `token_embd.weight`.
    public var untiedOutput: Bool
    /// Write `rope_freqs.weight` (frequency divisors, as Llama 3.1+ files carry), where the architecture has it.
    public var ropeFrequencyFactors: Bool
    public var contextLength: Int

    public init(architecture: Architecture = .qwen3, type: GGMLType = .f32, dim: Int = 64, layers: Int = 2,
                heads: Int = 4, kvHeads: Int = 2, ffn: Int = 128, headsPerLayer: [Int]? = nil, kvHeadsPerLayer: [Int]? = nil,
                ffnPerLayer: [Int]? = nil, seed: UInt64 = 1, untiedOutput: Bool = false, ropeFrequencyFactors: Bool = false,
                contextLength: Int = 4096) {
        self.architecture = architecture
        self.type = type
        self.dim = dim
        self.layers = layers
        self.heads = heads
        self.kvHeads = kvHeads
        self.ffn = ffn
        self.headsPerLayer = headsPerLayer
        self.kvHeadsPerLayer = kvHeadsPerLayer
        self.ffnPerLayer = ffnPerLayer
        self.seed = seed
        self.untiedOutput = untiedOutput
        self.ropeFrequencyFactors = ropeFrequencyFactors
        self.contextLength = contextLength
    }

    /// The head size: `dim` over block 0's query heads, as llama.cpp derives it without attention.key_length.
    public var headDim: Int { dim / heads }

    /// Every block's (heads, K/V heads, feed-forward size).
    public var blockShapes: [BlockShape] {
        (0..<layers).map { l in
            func value(_ list: [Int]?, _ scalar: Int) -> Int { list.flatMap { l < $0.count ? $0[l] : nil } ?? scalar }
            return BlockShape(headCount: value(headsPerLayer, heads), kvHeadCount: value(kvHeadsPerLayer, kvHeads),
                              hiddenDim: value(ffnPerLayer, ffn))
        }
    }

    /// Checks the shape: every matrix row must be whole blocks of `type`, heads must split `dim` into even
    /// head sizes, and K/V heads must divide the query heads. Sizes are capped to keep files small.
    public func validate() throws { _ = try checked() }

    /// `validate()`, returning the traits of `type`.
    func checked() throws -> TensorTypeTraits {
        func fail(_ message: String) -> SyntheticModelError { SyntheticModelError(message) }
        guard let traits = TensorTypeTraits.of(type) else {
            let names = TensorTypeTraits.supported.map(\.name).joined(separator: ", ")
            throw fail("type \(type.name) is not supported; use one of \(names)")
        }
        for (name, value, limit) in [("dim", dim, 8192), ("layers", layers, 64), ("heads", heads, 256),
                                     ("kv-heads", kvHeads, 256), ("ffn", ffn, 32768), ("context", contextLength, 1 << 20)] {
            guard value >= 1, value <= limit else { throw fail("\(name) must be between 1 and \(limit), not \(value)") }
        }
        for (name, list, scalar, limit) in [("heads", headsPerLayer, heads, 256), ("kv-heads", kvHeadsPerLayer, kvHeads, 256),
                                            ("ffn", ffnPerLayer, ffn, 32768)] {
            guard let list else { continue }
            guard list.count == layers else { throw fail("\(name) lists \(list.count) values for \(layers) layers") }
            guard list[0] == scalar else { throw fail("\(name) is \(scalar) but its per-layer list starts with \(list[0])") }
            for v in list where v < 1 || v > limit { throw fail("\(name) must be between 1 and \(limit), not \(v)") }
        }
        guard dim % heads == 0 else { throw fail("dim \(dim) is not a multiple of heads \(heads)") }
        guard headDim % 2 == 0 else { throw fail("head size dim/heads = \(headDim) must be even (rotary embedding)") }
        let block = type.blockElements
        guard dim % block == 0 else { throw fail("dim \(dim) is not a multiple of \(type.name)'s block size \(block)") }
        let shapes = blockShapes
        for (l, shape) in shapes.enumerated() {
            let at = shapes.count > 1 && Set(shapes).count > 1 ? " (layer \(l))" : ""
            guard shape.headCount % shape.kvHeadCount == 0 else {
                throw fail("heads \(shape.headCount) is not a multiple of kv-heads \(shape.kvHeadCount)\(at)")
            }
            guard shape.hiddenDim % block == 0 else {
                throw fail("ffn \(shape.hiddenDim) is not a multiple of \(type.name)'s block size \(block)\(at)")
            }
            guard (shape.headCount * headDim) % block == 0 else {
                throw fail("heads × head size = \(shape.headCount * headDim) is not a multiple of \(type.name)'s block size \(block)\(at)")
            }
        }
        guard architecture.blocksMayDiffer || Set(shapes).count == 1 else {
            throw fail("\(architecture.name) blocks must all have the same shape (llama.cpp builds every block like block 0); "
                       + "deci allows them to differ")
        }
        guard !ropeFrequencyFactors || architecture.ropeFrequencyFactors.allowed else {
            throw fail("\(architecture.name) has no rope_freqs tensor")
        }
        return traits
    }
}

public struct SyntheticModelError: VocabKitError, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

public enum SyntheticModel {
    /// Rows of a real Qwen3 embedding: 151,669 ids (151,643 BPE tokens and 26 special tokens) padded to a
    /// multiple of 128.
    public static let embeddingRows = 151_936
    /// Names the weight-generation scheme in the file; change it whenever the weights a seed gives change.
    public static let generator = "vocabkit synth v1"

    /// Writes `spec` with `vocabulary` (normally `Vocabulary.bundled()`) to `path`, through a temporary
    /// name that is renamed when complete (GGUFWriter).
    public static func write(_ spec: SyntheticModelSpec, vocabulary: Vocabulary, to path: String) throws {
        let traits = try spec.checked()
        guard vocabulary.idCount <= embeddingRows else {
            throw SyntheticModelError("the vocabulary has \(vocabulary.idCount) ids, more than \(embeddingRows) rows")
        }
        try GGUFWriter.write(to: path, metadata: metadata(spec, traits, vocabulary: vocabulary),
                             tensors: tensors(spec, traits, vocabulary: vocabulary))
    }

    // MARK: Metadata

    static func metadata(_ spec: SyntheticModelSpec, _ traits: TensorTypeTraits, vocabulary: Vocabulary) -> [(key: String, value: GGUFOutputValue)] {
        let arch = spec.architecture
        func u32(_ v: Int) -> GGUFOutputValue { .value(.uint32(UInt32(v))) }
        /// One number, or (where the spec has a list) an int32 array as gguf-py writes Python lists.
        func perLayer(_ list: [Int]?, _ scalar: Int) -> GGUFOutputValue { list.map { .integers($0, type: .int32) } ?? u32(scalar) }
        var m: [(key: String, value: GGUFOutputValue)] = [
            ("general.architecture", .value(.string(arch.name))),
            ("general.type", .value(.string("model"))),
            ("general.name", .value(.string("VocabKit synthetic \(arch.name) \(spec.type.name) seed \(spec.seed)"))),
            (arch.key(.blockCount), u32(spec.layers)),
            (arch.key(.contextLength), u32(spec.contextLength)),
            (arch.key(.embeddingLength), u32(spec.dim)),
            (arch.key(.feedForwardLength), perLayer(spec.ffnPerLayer, spec.ffn)),
            (arch.key(.headCount), perLayer(spec.headsPerLayer, spec.heads)),
            (arch.key(.headCountKV), perLayer(spec.kvHeadsPerLayer, spec.kvHeads)),
            (arch.key(.ropeFrequencyBase), .value(.float32(1_000_000))),
            (arch.key(.rmsEpsilon), .value(.float32(1e-6))),
        ]
        m += arch.synthetic.headSizeKeys.map { (arch.key($0), u32(spec.headDim)) }
        m.append(("general.file_type", u32(traits.fileType)))
        if spec.type.blockElements > 1 { m.append(("general.quantization_version", u32(2))) }
        m += tokenizerMetadata(vocabulary, rows: embeddingRows)
        m += [
            ("vocabkit.synthetic.generator", .value(.string(generator))),
            ("vocabkit.synthetic.seed", .value(.uint64(spec.seed))),
        ]
        return m
    }

    /// Tokenizer keys as a converted Qwen GGUF has them: byte-level spellings of the BPE tokens (type 1),
    /// special tokens as text (3 control, 4 user-defined), rows past the vocabulary as `[PAD<id>]` (5, unused),
    /// merges as "left right" spellings, and `<|endoftext|>` as bos/padding, `<|im_end|>` as eos.
    public static func tokenizerMetadata(_ vocabulary: Vocabulary, rows: Int) -> [(key: String, value: GGUFOutputValue)] {
        var spellings = [String](), types = [Int]()
        spellings.reserveCapacity(rows)
        types.reserveCapacity(rows)
        let specials = Dictionary(vocabulary.specialTokens.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for id in 0..<rows {
            if let special = specials[id] {
                spellings.append(special.text)
                types.append(special.isControl ? 3 : 4)
            } else if vocabulary.isToken(id) {
                spellings.append(ByteLevel.encode(vocabulary.bytes(of: id)))
                types.append(1)
            } else {
                spellings.append("[PAD\(id)]")
                types.append(5)
            }
        }
        let merges = vocabulary.merges.map { spellings[Int($0.left)] + " " + spellings[Int($0.right)] }
        var m: [(key: String, value: GGUFOutputValue)] = [
            ("tokenizer.ggml.model", .value(.string("gpt2"))),
            ("tokenizer.ggml.pre", .value(.string("qwen2"))),
            ("tokenizer.ggml.tokens", .strings(spellings)),
            ("tokenizer.ggml.token_type", .integers(types, type: .int32)),
            ("tokenizer.ggml.merges", .strings(merges)),
        ]
        func id(_ text: String) -> Int? { vocabulary.specialTokens.first { $0.text == text }?.id }
        if let eos = id("<|im_end|>") { m.append(("tokenizer.ggml.eos_token_id", .value(.uint32(UInt32(eos))))) }
        if let end = id("<|endoftext|>") {
            m.append(("tokenizer.ggml.padding_token_id", .value(.uint32(UInt32(end)))))
            m.append(("tokenizer.ggml.bos_token_id", .value(.uint32(UInt32(end)))))
        }
        m.append(("tokenizer.ggml.add_bos_token", .value(.bool(false))))
        return m
    }

    // MARK: Tensors

    /// How one tensor's values are drawn.
    enum Fill {
        /// A matrix in the spec's type: row r uniform with standard deviation `std · rowScale(r)`.
        case matrix(std: Float, rowScale: @Sendable (Int, inout SyntheticRandom) -> Float)
        /// An F32 vector uniform in center ± spread.
        case vector(center: Float, spread: Float)
        /// An F32 vector rising evenly from one value to another.
        case ramp(from: Float, to: Float)
    }

    static func tensors(_ spec: SyntheticModelSpec, _ traits: TensorTypeTraits, vocabulary: Vocabulary) -> [GGUFOutputTensor] {
        let arch = spec.architecture, names = arch.tensorNames
        let dim = spec.dim, headDim = spec.headDim
        let vocabularyIds = vocabulary.idCount
        let specialIds = Set(vocabulary.specialTokens.map(\.id))
        // Output rows: a heavy-tailed (Pareto, α = 4) scale per token, so that the largest logits stand well
        // apart and greedy choices are not near-ties. Special tokens get a small scale (they would end
        // generation); padding rows are zero, as they are never produced.
        let tokenRowScale: @Sendable (Int, inout SyntheticRandom) -> Float = { row, rng in
            if row >= vocabularyIds { return 0 }
            if specialIds.contains(row) { return 0.5 }
            return 1 / rng.unitInterval().squareRoot().squareRoot()
        }
        let unit: @Sendable (Int, inout SyntheticRandom) -> Float = { _, _ in 1 }
        func gain(_ cols: Int) -> Float { 1 / Float(cols).squareRoot() }
        // The blocks' outputs (attn_output, ffn_down) are made large against the token embedding in the residual
        // stream: with tied embeddings, an input embedding that survives to the output makes every token
        // predict itself, and the continuations collapse into one repeated token.
        let residualGain: Float = 40

        var list: [(String, [Int], Fill)] = [(names.tokenEmbedding, [dim, embeddingRows], .matrix(std: gain(dim), rowScale: tokenRowScale))]
        if spec.untiedOutput {
            list.append((names.output, [dim, embeddingRows], .matrix(std: gain(dim), rowScale: tokenRowScale)))
        }
        list.append((names.outputNorm, [dim], .vector(center: 1, spread: 0.2)))
        if spec.ropeFrequencyFactors {
            // Divisors from 1 (fastest rotation) to 8 (slowest), like Llama 3's scaling of its low frequencies.
            list.append((names.ropeFrequencies, [headDim / 2], .ramp(from: 1, to: 8)))
        }
        for (l, shape) in spec.blockShapes.enumerated() {
            let qDim = shape.headCount * headDim, kvDim = shape.kvHeadCount * headDim, ffn = shape.hiddenDim
            func name(_ t: TensorNames.Block) -> String { names.block(l, t) }
            let biases = arch.synthetic.attentionBiases
            list.append((name(.attentionNorm), [dim], .vector(center: 1, spread: 0.2)))
            list.append((name(.query), [dim, qDim], .matrix(std: gain(dim), rowScale: unit)))
            if biases { list.append((name(.queryBias), [qDim], .vector(center: 0, spread: 0.3))) }
            list.append((name(.key), [dim, kvDim], .matrix(std: gain(dim), rowScale: unit)))
            if biases { list.append((name(.keyBias), [kvDim], .vector(center: 0, spread: 0.3))) }
            list.append((name(.value), [dim, kvDim], .matrix(std: gain(dim), rowScale: unit)))
            if biases { list.append((name(.valueBias), [kvDim], .vector(center: 0, spread: 0.3))) }
            list.append((name(.attentionOutput), [qDim, dim], .matrix(std: residualGain * gain(qDim), rowScale: unit)))
            if arch.queryKeyNorms == .required {
                list.append((name(.queryNorm), [headDim], .vector(center: 1, spread: 0.2)))
                list.append((name(.keyNorm), [headDim], .vector(center: 1, spread: 0.2)))
            }
            list.append((name(.feedForwardNorm), [dim], .vector(center: 1, spread: 0.2)))
            list.append((name(.gate), [dim, ffn], .matrix(std: gain(dim), rowScale: unit)))
            list.append((name(.up), [dim, ffn], .matrix(std: gain(dim), rowScale: unit)))
            list.append((name(.down), [ffn, dim], .matrix(std: residualGain * gain(ffn), rowScale: unit)))
        }
        let type = spec.type, seed = spec.seed
        let unitRMS: Float
        if case let .blocks(fields) = traits.synthetic { unitRMS = unitBlockRMS(traits, scaleFields: fields) } else { unitRMS = 1 }
        return list.enumerated().map { index, entry in
            let (name, dims, fill) = entry
            switch fill {
            case let .vector(center, spread):
                return GGUFOutputTensor(name: name, dimensions: dims, type: .f32) { sink in
                    var rng = SyntheticRandom(seed: seed, stream: UInt64(index), row: 0)
                    let values = (0..<dims[0]).map { _ in center + spread * rng.symmetric() }
                    try values.withUnsafeBytes { try sink.write($0) }
                }
            case let .ramp(first, last):
                return GGUFOutputTensor(name: name, dimensions: dims, type: .f32) { sink in
                    let n = dims[0]
                    let values = (0..<n).map { first + (last - first) * Float($0) / Float(max(1, n - 1)) }
                    try values.withUnsafeBytes { try sink.write($0) }
                }
            case let .matrix(std, rowScale):
                return GGUFOutputTensor(name: name, dimensions: dims, type: type) { sink in
                    let cols = dims[0], rows = dims[1]
                    let rowBytes = type.rowByteCount(elements: cols)!
                    // Rows go out in chunks; each row has its own random stream, so the chunking is invisible.
                    let chunkRows = max(1, (1 << 20) / rowBytes)
                    var buffer = [UInt8](repeating: 0, count: chunkRows * rowBytes)
                    var start = 0
                    while start < rows {
                        let count = min(chunkRows, rows - start)
                        buffer.withUnsafeMutableBytes { out in
                            for i in 0..<count {
                                var rng = SyntheticRandom(seed: seed, stream: UInt64(index), row: UInt64(start + i))
                                let scale = std * rowScale(start + i, &rng)
                                fillRow(traits, out.baseAddress! + i * rowBytes, cols: cols, std: scale, unitRMS: unitRMS, rng: &rng)
                            }
                        }
                        try buffer.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[0..<count * rowBytes])) }
                        start += count
                    }
                }
            }
        }
    }

    /// Root mean square of values of random blocks whose base scale is 1, measured with `dequantizeRow` on a
    /// fixed sample, so that any block layout can be scaled to a wanted deviation.
    static func unitBlockRMS(_ traits: TensorTypeTraits, scaleFields: [ScaleField]) -> Float {
        let blocks = max(1, 4096 / traits.blockElements)
        let n = blocks * traits.blockElements
        var bytes = [UInt8](repeating: 0, count: blocks * traits.blockBytes)
        var rng = SyntheticRandom(seed: 0x5EED, stream: 0, row: 0)
        bytes.withUnsafeMutableBytes { raw in
            for b in 0..<blocks {
                randomBlock(raw.baseAddress! + b * traits.blockBytes, bytes: traits.blockBytes, scaleFields: scaleFields, baseScale: 1, rng: &rng)
            }
        }
        var values = [Float](repeating: 0, count: n)
        bytes.withUnsafeBytes { src in values.withUnsafeMutableBufferPointer { traits.dequantize(src.baseAddress!, $0.baseAddress!, n) } }
        let meanSquare = values.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(n)
        return Float(meanSquare.squareRoot())
    }

    /// Random quant bytes with the scale fields set from `baseScale`.
    static func randomBlock(_ block: UnsafeMutableRawPointer, bytes: Int, scaleFields: [ScaleField], baseScale: Float,
                            rng: inout SyntheticRandom) {
        var i = 0
        while i < bytes {
            var word = rng.next()
            for _ in 0..<8 where i < bytes {
                block.storeBytes(of: UInt8(truncatingIfNeeded: word), toByteOffset: i, as: UInt8.self)
                word >>= 8
                i += 1
            }
        }
        for field in scaleFields {
            let bits = Float16(baseScale * field.multiple).bitPattern.littleEndian
            block.storeBytes(of: bits, toByteOffset: field.offset, as: UInt16.self)
        }
    }

    /// One row of `cols` values with standard deviation about `std`, in the type of `traits`.
    static func fillRow(_ traits: TensorTypeTraits, _ out: UnsafeMutableRawPointer, cols: Int, std: Float, unitRMS: Float,
                        rng: inout SyntheticRandom) {
        switch traits.synthetic {
        case let .elements(store):
            // Uniform on ±a has deviation a/√3.
            let a = std * Float(3).squareRoot()
            let size = traits.blockBytes
            for i in 0..<cols { store(a * rng.symmetric(), out + size * i) }
        case let .blocks(scaleFields):
            let base = std / unitRMS
            for b in 0..<cols / traits.blockElements {
                randomBlock(out + b * traits.blockBytes, bytes: traits.blockBytes, scaleFields: scaleFields, baseScale: base, rng: &rng)
            }
        }
    }
}

/// SplitMix64 keyed by (seed, tensor, row): every row has its own stream, so rows can be generated in any
/// order. Only integer arithmetic and exactly rounded float operations are used, so the weights do not
/// depend on the platform's math library.
struct SyntheticRandom: RandomNumberGenerator {
    private var generator: SplitMix64

    init(seed: UInt64, stream: UInt64, row: UInt64) {
        let keyed = SplitMix64.mix(SplitMix64.mix(seed ^ (stream &* 0xD1B5_4A32_D192_ED03)) ^ (row &* 0x8CB9_2BA7_2F3D_8DD7))
        generator = SplitMix64(seed: keyed)
    }

    mutating func next() -> UInt64 { generator.next() }

    /// Uniform in [-1, 1), exactly (24 random bits).
    mutating func symmetric() -> Float { Float(next() >> 40) * 0x1p-23 - 1 }

    /// Uniform in (0, 1].
    mutating func unitInterval() -> Float { Float((next() >> 40) + 1) * 0x1p-24 }
}
