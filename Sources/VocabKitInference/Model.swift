import CKernels
import Dispatch
import Foundation
import VocabKitGGUF
import VocabKitModels
import VocabKitTokenizer

// A llama-style decoder in the manner of llama2.c: hyperparameters (`ModelConfig`), weights as views into the
// memory-mapped GGUF (`ModelWeights`), and activation buffers (`RunState`). What differs between architectures
// (RoPE style, optional tensors, key names) is read from their `Architecture` descriptor.

/// The shape of one transformer block; blocks may differ where a file gives per-layer arrays.
public struct BlockShape: Hashable, Sendable {
    public var headCount: Int      // attention.head_count
    public var kvHeadCount: Int    // attention.head_count_kv
    public var hiddenDim: Int      // feed_forward_length

    public init(headCount: Int, kvHeadCount: Int, hiddenDim: Int) {
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.hiddenDim = hiddenDim
    }
}

/// Hyperparameters read from the GGUF metadata (`<arch>.*` keys).
public struct ModelConfig: Equatable, Sendable {
    public var architecture: Architecture
    public var dim: Int            // embedding_length
    /// One shape per block (block_count of them).
    public var blocks: [BlockShape]
    public var headDim: Int        // attention.key_length, else dim / head_count of block 0
    public var vocabularySize: Int // token_embd rows
    public var contextLength: Int  // context_length
    public var ropeBase: Float     // rope.freq_base
    public var rmsEpsilon: Float   // attention.layer_norm_rms_epsilon

    public var layerCount: Int { blocks.count }
    // The widest block's values (every block's when they agree), which size the buffers.
    public var headCount: Int { blocks.map(\.headCount).max() ?? 0 }
    public var kvHeadCount: Int { blocks.map(\.kvHeadCount).max() ?? 0 }
    public var hiddenDim: Int { blocks.map(\.hiddenDim).max() ?? 0 }
    public var qDim: Int { headCount * headDim }
    public var kvDim: Int { kvHeadCount * headDim }

    public init(file: GGUFFile) throws {
        guard let name = file.string("general.architecture") else {
            throw InferenceError.missingHyperparameter("general.architecture")
        }
        guard let arch = Architecture.named(name) else { throw InferenceError.unsupportedArchitecture(name) }
        func check(_ key: String, _ v: Int) throws -> Int {
            guard v > 0, v < 1 << 24 else { throw InferenceError.invalidHyperparameter(key: key, reason: "\(v) is out of range") }
            return v
        }
        func int(_ h: Hyperparameter) throws -> Int {
            let key = arch.key(h)
            guard let v = file.integer(key) else {
                if file.integerArray(key) != nil {
                    throw InferenceError.invalidHyperparameter(key: key, reason: "is an array; \(name) takes one value here")
                }
                throw InferenceError.missingHyperparameter(key)
            }
            return try check(key, v)
        }
        /// A scalar for every block, or (where llama.cpp allows it) an array with one value per block.
        func perBlock(_ h: Hyperparameter, count: Int) throws -> [Int]? {
            let key = arch.key(h)
            if let v = file.integer(key) { return Array(repeating: try check(key, v), count: count) }
            guard let values = file.integerArray(key) else {
                if file.contains(key) { throw InferenceError.invalidHyperparameter(key: key, reason: "is neither an integer nor an array of integers") }
                return nil
            }
            guard arch.perLayerHyperparameters.contains(h) else {
                throw InferenceError.invalidHyperparameter(key: key, reason: "is an array; \(name) takes one value here")
            }
            guard values.count == count else {
                throw InferenceError.invalidHyperparameter(key: key, reason: "has \(values.count) values for \(count) blocks")
            }
            for (block, v) in values.enumerated() where v <= 0 || v >= 1 << 24 {
                let why = v == 0 ? "block \(block) has 0 (attention-free and FFN-free blocks are not supported)" : "block \(block) has \(v), out of range"
                throw InferenceError.invalidHyperparameter(key: key, reason: why)
            }
            return values
        }
        architecture = arch
        dim = try int(.embeddingLength)
        let layers = try int(.blockCount)
        guard let ffn = try perBlock(.feedForwardLength, count: layers) else {
            throw InferenceError.missingHyperparameter(arch.key(.feedForwardLength))
        }
        guard let heads = try perBlock(.headCount, count: layers) else {
            throw InferenceError.missingHyperparameter(arch.key(.headCount))
        }
        let kvHeads = try perBlock(.headCountKV, count: layers) ?? heads
        blocks = (0..<layers).map { BlockShape(headCount: heads[$0], kvHeadCount: kvHeads[$0], hiddenDim: ffn[$0]) }
        if file.contains(arch.key(.keyLength)) {
            headDim = try int(.keyLength)
        } else {
            guard dim % heads[0] == 0 else {
                throw InferenceError.invalidHyperparameter(key: arch.key(.headCount),
                                                           reason: "\(heads[0]) does not divide embedding_length \(dim)")
            }
            headDim = dim / heads[0]
        }
        for (i, b) in blocks.enumerated() where b.headCount % b.kvHeadCount != 0 {
            let at = Set(blocks).count > 1 ? " in block \(i)" : ""
            throw InferenceError.invalidHyperparameter(key: arch.key(.headCountKV),
                                                       reason: "\(b.kvHeadCount) does not divide head_count \(b.headCount)\(at)")
        }
        guard headDim % 2 == 0 else {
            throw InferenceError.invalidHyperparameter(key: arch.key(.keyLength), reason: "head size \(headDim) is odd")
        }
        if file.contains(arch.key(.valueLength)), try int(.valueLength) != headDim {
            throw InferenceError.invalidHyperparameter(key: arch.key(.valueLength), reason: "differs from the key length \(headDim), which is not supported")
        }
        if file.contains(arch.key(.ropeDimensionCount)), try int(.ropeDimensionCount) != headDim {
            throw InferenceError.invalidHyperparameter(key: arch.key(.ropeDimensionCount),
                                                       reason: "rotating part of a head (not all \(headDim) values) is not supported")
        }
        if let scaling = file.string("\(name).rope.scaling.type"), scaling != "none", scaling != "linear" {
            throw InferenceError.invalidHyperparameter(key: "\(name).rope.scaling.type", reason: "'\(scaling)' rope scaling is not supported")
        }
        if let factor = file.double("\(name).rope.scaling.factor"), factor != 0, factor != 1 {
            throw InferenceError.invalidHyperparameter(key: "\(name).rope.scaling.factor", reason: "\(factor) (rope scaling) is not supported")
        }
        contextLength = try int(.contextLength)
        ropeBase = Float(file.double(arch.key(.ropeFrequencyBase)) ?? 10000)
        guard ropeBase.isFinite, ropeBase > 1 else {
            throw InferenceError.invalidHyperparameter(key: arch.key(.ropeFrequencyBase), reason: "\(ropeBase) is not a usable RoPE base (above 1)")
        }
        guard let eps = file.double(arch.key(.rmsEpsilon)) else {
            throw InferenceError.missingHyperparameter(arch.key(.rmsEpsilon))
        }
        // A zero, negative or NaN epsilon turns the normalization into NaN for some inputs: every score after
        // it would be NaN, reported as numbers.
        guard eps.isFinite, eps > 0, eps < 1 else {
            throw InferenceError.invalidHyperparameter(key: arch.key(.rmsEpsilon), reason: "\(eps) is not a small positive number")
        }
        rmsEpsilon = Float(eps)
        let embedding = arch.tensorNames.tokenEmbedding
        guard let embd = file.tensor(named: embedding) else { throw InferenceError.missingTensor(embedding) }
        vocabularySize = embd.rowCount
    }
}

/// A 2-D weight inside the mapping: `rows` rows of `cols` elements of `type`, each `rowBytes` long.
/// ggml's shape is [cols, rows]; y = W x maps a [cols] vector to a [rows] one.
struct Matrix: @unchecked Sendable {
    let name: String
    let base: UnsafeRawPointer
    let traits: TensorTypeTraits
    let cols: Int
    let rows: Int
    let rowBytes: Int

    var type: GGMLType { traits.type }

    func row(_ r: Int) -> UnsafeRawPointer { base + r * rowBytes }
}

struct LayerWeights {
    let shape: BlockShape
    let attnNorm: [Float]    // [dim]
    let wq: Matrix           // [dim, qDim]
    let bq: [Float]?         // [qDim]   (optional biases: qwen2)
    let wk: Matrix           // [dim, kvDim]
    let bk: [Float]?         // [kvDim]
    let wv: Matrix           // [dim, kvDim]
    let bv: [Float]?         // [kvDim]
    let qNorm: [Float]?      // [headDim] (qwen3)
    let kNorm: [Float]?      // [headDim] (qwen3)
    let wo: Matrix           // [qDim, dim]
    let ffnNorm: [Float]     // [dim]
    let gate: Matrix         // [dim, hiddenDim]
    let up: Matrix           // [dim, hiddenDim]
    let down: Matrix         // [hiddenDim, dim]
}

/// Weights: matrices are views into the mapped file (kept alive by `file`); small vectors are copied to F32.
struct ModelWeights {
    let file: GGUFFile
    let tokenEmbedding: Matrix  // [dim, vocab]
    let layers: [LayerWeights]
    let outputNorm: [Float]     // [dim]
    let output: Matrix          // [dim, vocab]: output.weight, or token_embd.weight when tied
    /// rope_freqs.weight: each rotation frequency divided by its factor (Llama 3.1+).
    let ropeFactors: [Float]?

    init(file: GGUFFile, config c: ModelConfig) throws {
        self.file = file
        let arch = c.architecture, names = arch.tensorNames
        let base = file.withFileBytes { $0.baseAddress! }
        func matrix(_ name: String, cols: Int, rows: Int?) throws -> Matrix {
            guard let t = file.tensor(named: name) else { throw InferenceError.missingTensor(name) }
            guard t.dimensions.count == 2, t.dimensions[0] == cols, rows == nil || t.dimensions[1] == rows else {
                throw InferenceError.unexpectedShape(tensor: name, expected: [cols, rows ?? -1], found: t.dimensions)
            }
            guard let traits = TensorTypeTraits.of(t.type) else { throw InferenceError.unsupportedTensorType(tensor: name, type: t.type.name) }
            return Matrix(name: name, base: base + file.absoluteOffset(of: t), traits: traits,
                          cols: cols, rows: t.dimensions[1], rowBytes: t.rowByteCount)
        }
        func vector(_ name: String, _ n: Int, optional: Bool = false) throws -> [Float]? {
            guard let t = file.tensor(named: name) else {
                if optional { return nil }
                throw InferenceError.missingTensor(name)
            }
            guard t.elementCount == n else { throw InferenceError.unexpectedShape(tensor: name, expected: [n], found: t.dimensions) }
            guard let traits = TensorTypeTraits.of(t.type) else { throw InferenceError.unsupportedTensorType(tensor: name, type: t.type.name) }
            var out = [Float](repeating: 0, count: n)
            file.withTensorBytes(t) { bytes in
                out.withUnsafeMutableBufferPointer { traits.dequantize(bytes.baseAddress!, $0.baseAddress!, n) }
            }
            return out
        }
        func optionalVector(_ name: String, _ n: Int, _ presence: Architecture.Presence) throws -> [Float]? {
            guard presence.allowed || file.tensor(named: name) == nil else {
                throw InferenceError.unexpectedTensor(tensor: name, architecture: arch.name)
            }
            return try vector(name, n, optional: presence != .required)
        }
        tokenEmbedding = try matrix(names.tokenEmbedding, cols: c.dim, rows: nil)
        var layers: [LayerWeights] = []
        for (l, shape) in c.blocks.enumerated() {
            func name(_ t: TensorNames.Block) -> String { names.block(l, t) }
            for t in TensorNames.Block.unsupported where file.tensor(named: name(t)) != nil {
                throw InferenceError.unexpectedTensor(tensor: name(t), architecture: arch.name)
            }
            let qDim = shape.headCount * c.headDim, kvDim = shape.kvHeadCount * c.headDim
            layers.append(LayerWeights(
                shape: shape,
                attnNorm: try vector(name(.attentionNorm), c.dim)!,
                wq: try matrix(name(.query), cols: c.dim, rows: qDim),
                bq: try optionalVector(name(.queryBias), qDim, arch.attentionBiases),
                wk: try matrix(name(.key), cols: c.dim, rows: kvDim),
                bk: try optionalVector(name(.keyBias), kvDim, arch.attentionBiases),
                wv: try matrix(name(.value), cols: c.dim, rows: kvDim),
                bv: try optionalVector(name(.valueBias), kvDim, arch.attentionBiases),
                qNorm: try optionalVector(name(.queryNorm), c.headDim, arch.queryKeyNorms),
                kNorm: try optionalVector(name(.keyNorm), c.headDim, arch.queryKeyNorms),
                wo: try matrix(name(.attentionOutput), cols: qDim, rows: c.dim),
                ffnNorm: try vector(name(.feedForwardNorm), c.dim)!,
                gate: try matrix(name(.gate), cols: c.dim, rows: shape.hiddenDim),
                up: try matrix(name(.up), cols: c.dim, rows: shape.hiddenDim),
                down: try matrix(name(.down), cols: shape.hiddenDim, rows: c.dim)))
        }
        self.layers = layers
        outputNorm = try vector(names.outputNorm, c.dim)!
        output = file.tensor(named: names.output) != nil
            ? try matrix(names.output, cols: c.dim, rows: c.vocabularySize)
            : tokenEmbedding
        ropeFactors = try optionalVector(names.ropeFrequencies, c.headDim / 2, arch.ropeFrequencyFactors)
    }
}

/// Activation buffers for a batch of up to `maxBatch` tokens (token i's vector at i · width) and the KV
/// cache, allocated once.
final class RunState {
    let x: UnsafeMutablePointer<Float>        // [maxBatch, dim] residual stream
    let xb: UnsafeMutablePointer<Float>       // [maxBatch, max(dim, qDim)] normed input / attention output
    let xb2: UnsafeMutablePointer<Float>      // [maxBatch, dim]
    let q: UnsafeMutablePointer<Float>        // [maxBatch, qDim]
    let k: UnsafeMutablePointer<Float>        // [maxBatch, kvDim]
    let v: UnsafeMutablePointer<Float>        // [maxBatch, kvDim]
    let hb: UnsafeMutablePointer<Float>       // [maxBatch, hiddenDim] gate
    let hb2: UnsafeMutablePointer<Float>      // [maxBatch, hiddenDim] up
    let att: UnsafeMutablePointer<Float>      // [headCount, maxContext] scores (F32 attention)
    let logits: UnsafeMutablePointer<Float>   // [vocab]
    let keyCache: UnsafeMutablePointer<Float>   // per layer [maxContext, that layer's kvDim]
    let valueCache: UnsafeMutablePointer<Float> // per layer [maxContext, that layer's kvDim]
    /// Where each layer's part of the caches starts.
    let cacheOffsets: [Int]
    /// One vector quantized for the portable kernels.
    let activation: QuantizedActivation
    /// A whole batch quantized for the SIMD kernels.
    let batchActivation: QuantizedActivation
    let maxContext: Int
    let maxBatch: Int
    let vocabularySize: Int
    /// [maxBatch, vocab], allocated when more than one token's logits are wanted at once.
    private(set) var batchLogits: UnsafeMutablePointer<Float>?
    private var all: [UnsafeMutablePointer<Float>] = []

    init(_ c: ModelConfig, maxContext: Int, maxBatch: Int) {
        self.maxContext = maxContext
        self.maxBatch = maxBatch
        vocabularySize = c.vocabularySize
        var all: [UnsafeMutablePointer<Float>] = []
        func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            all.append(p)
            return p
        }
        let b = maxBatch
        x = buffer(b * c.dim); xb = buffer(b * max(c.dim, c.qDim)); xb2 = buffer(b * c.dim)
        q = buffer(b * c.qDim); k = buffer(b * c.kvDim); v = buffer(b * c.kvDim)
        hb = buffer(b * c.hiddenDim); hb2 = buffer(b * c.hiddenDim)
        att = buffer(c.headCount * maxContext); logits = buffer(c.vocabularySize)
        var offsets: [Int] = [], total = 0
        for block in c.blocks {
            offsets.append(total)
            total += maxContext * block.kvHeadCount * c.headDim
        }
        cacheOffsets = offsets
        keyCache = buffer(total)
        valueCache = buffer(total)
        let widest = max(c.dim, c.qDim, c.hiddenDim)
        activation = QuantizedActivation(capacity: widest + 256)
        batchActivation = QuantizedActivation(capacity: b * widest + 256)
        self.all = all
    }

    /// Room for `n` tokens' logits.
    func logitsBuffer(_ n: Int) -> UnsafeMutablePointer<Float> {
        if n <= 1 { return logits }
        if let p = batchLogits { return p }
        let p = UnsafeMutablePointer<Float>.allocate(capacity: maxBatch * vocabularySize)
        all.append(p)
        batchLogits = p
        return p
    }

    deinit { for p in all { p.deallocate() } }
}

// MARK: Kernels

/// out = x / sqrt(mean(x²) + eps) * weight, with the sum of squares in Double like ggml.
package func rmsNorm(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ n: Int, _ eps: Float) {
    var ss: Double = 0
    for i in 0..<n { ss += Double(x[i] * x[i]) }
    let scale = 1 / (Float(ss / Double(n)) + eps).squareRoot()
    for i in 0..<n { out[i] = x[i] * scale * weight[i] }
}

/// In-place softmax of x[0..<n].
package func softmax(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
    guard n > 0 else { return }
    var m = x[0]
    for i in 1..<n { m = max(m, x[i]) }
    var sum: Double = 0
    for i in 0..<n {
        x[i] = expf(x[i] - m)
        sum += Double(x[i])
    }
    let inv = Float(1 / sum)
    for i in 0..<n { x[i] *= inv }
}

/// Rotary embedding of `heads` heads of `headDim` values at `pos`, as ggml's rope computes it: pair i is
/// rotated by pos · base^(-2i/headDim) (divided by `factors[i]` when the model has rope_freqs), the angle
/// built by repeated multiplication in Float. `.neox` pairs value i with i + headDim/2 (llama.cpp rope type
/// 2), `.normal` pairs 2i with 2i + 1 (type 0). The rotation is fused the way llama.cpp's build computes it.
package func rope(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, pos: Int, base: Float,
                  style: Architecture.RoPEStyle, factors: UnsafePointer<Float>? = nil) {
    let half = headDim / 2
    let thetaScale = powf(base, -2 / Float(headDim))
    // Where pair i's two values sit in a head.
    let (stride, offset) = style == .neox ? (1, half) : (2, 1)
    var theta = Float(pos)
    for i in 0..<half {
        let angle = factors.map { theta / $0[i] } ?? theta
        let c = cosf(angle), s = sinf(angle)
        for h in 0..<heads {
            let p = x + h * headDim + i * stride
            let x0 = p[0], x1 = p[offset]
            // Fused as GCC contracts ggml's `x0*cos - x1*sin` and `x0*sin + x1*cos` (-O3 -march=native).
            p[0] = (-(x1 * s)).addingProduct(x0, c)
            p[offset] = (x1 * c).addingProduct(x0, s)
        }
        theta *= thetaScale
    }
}

/// NeoX-style rotary embedding (llama.cpp rope type 2): `rope` with `.neox` and no frequency factors.
package func ropeNeoX(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, pos: Int, base: Float) {
    rope(x, heads: heads, headDim: headDim, pos: pos, base: base, style: .neox)
}

@inline(__always) func silu(_ x: Float) -> Float { x / (1 + expf(-x)) }

// MARK: Model

/// A loaded model with its run state; not thread-safe (one sequence at a time).
public final class LanguageModel {
    public let config: ModelConfig
    let weights: ModelWeights
    let state: RunState
    /// Tokens evaluated so far (the next position).
    public private(set) var position = 0
    /// The GGUF's own vocabulary as a tokenizer, read on first use.
    private var cachedTokenizer: Tokenizer?

    /// Round K, V and Q through F16 as llama.cpp's default F16 KV cache does (closer agreement with it).
    public var roundAttentionToHalf = true

    /// Whether this model uses the AVX2 kernels (where the CPU has them); false selects the portable path.
    public var useSIMDKernels = simdKernelsEnabled

    /// Blocks the forward pass goes around: the residual stream passes them unchanged, so the model computes what
    /// the same file with those blocks deleted computes (`vocabkit layers --ablate`, without writing a file).
    public var skippedBlocks: Set<Int> = []

    /// Called at every block boundary of every step with the residual stream of the step's tokens: boundary b is
    /// the stream entering block b (b = `config.layerCount`: leaving the last block, before the output norm),
    /// `firstPosition` the position of the step's first token, token i's vector at i · dim. Only valid during the
    /// call. Layer scores (Block Influence, angular distance) are read here.
    public var residualObserver: ((_ boundary: Int, _ firstPosition: Int, _ residuals: UnsafeBufferPointer<Float>) -> Void)?

    /// Set while re-running only the blocks after a stored boundary (`BlockAnalysis`'s ablations): each step
    /// starts at `block` with the residual stream that `read(firstPosition, count, into)` supplies instead of the
    /// token embeddings; everything else (batches, positions, KV caches of the blocks run) is as usual.
    var resumption: (block: Int, read: (_ firstPosition: Int, _ count: Int, _ into: UnsafeMutablePointer<Float>) -> Void)?

    /// Tokens evaluated together by `evaluate`: each weight row is then read once per batch.
    public static let maxBatch = 64

    /// llama.cpp's default micro-batch (n_ubatch); a multiple of `maxBatch`.
    static let llamaMicroBatch = 512

    /// From this many queries in a micro-batch, llama.cpp's CPU flash attention switches to its tiled form
    /// (GGML_FA_TILE_Q), which sums differently; `step` mirrors both.
    static let tiledAttentionQueries = 64

    public convenience init(path: String, maxContext: Int = 4096) throws {
        try self.init(file: try GGUFFile(path: path), maxContext: maxContext)
    }

    public init(file: GGUFFile, maxContext: Int = 4096) throws {
        config = try ModelConfig(file: file)
        weights = try ModelWeights(file: file, config: config)
        let context = max(1, min(maxContext, config.contextLength))
        state = RunState(config, maxContext: context, maxBatch: min(Self.maxBatch, context))
    }

    public var vocabularySize: Int { config.vocabularySize }

    /// The tokenizer of the model's own vocabulary (`tokenizer.ggml.*`), loaded once.
    public func tokenizer() throws -> Tokenizer {
        if let cachedTokenizer { return cachedTokenizer }
        let loaded = Tokenizer(vocabulary: try Vocabulary.load(gguf: weights.file, source: weights.file.path ?? "the model"))
        cachedTokenizer = loaded
        return loaded
    }
    public var maxContext: Int { state.maxContext }

    /// Forgets the cached sequence.
    public func reset() { position = 0 }

    /// Evaluates `token` at the next position and returns the logits over the vocabulary.
    @discardableResult
    public func forward(token: Int) throws -> UnsafeBufferPointer<Float> {
        try forward(token: token, computeLogits: true)
    }

    /// Which logits `evaluate` reports: the LM head is a large share of each step's work, so a prompt only
    /// needs it for its last token.
    public enum LogitOutput: Sendable { case none, last, all }

    /// Evaluates `tokens` at the next positions (a prompt, or a window of text) and hands logits to `body`
    /// as (index into `tokens`, logits) for every token (`.all`) or the last one (`.last`). The buffer is only
    /// valid during the call. Tokens go through the layers in batches of up to `maxBatch`, so that every
    /// weight row is read once per batch rather than once per token; each token's arithmetic is the same as
    /// in `forward(token:)`.
    public func evaluate(_ tokens: [Int], logits: LogitOutput = .last,
                         _ body: (Int, UnsafeBufferPointer<Float>) throws -> Void = { _, _ in }) throws {
        var start = 0
        while start < tokens.count {
            let room = state.maxContext - position
            guard room > 0 else { throw InferenceError.contextFull(contextLength: state.maxContext) }
            let end = min(tokens.count, start + state.maxBatch, start + room)
            for t in tokens[start..<end] { try checkToken(t) }
            var rows: [Int] = []
            switch logits {
            case .none: break
            case .last: if end == tokens.count { rows = [end - 1 - start] }
            case .all: rows = Array(0..<end - start)
            }
            // llama.cpp evaluates a prompt in micro-batches of up to 512 tokens, and some of ggml's kernels
            // depend on the micro-batch's size (our batches of 64 never straddle one).
            let ubatchStart = start / Self.llamaMicroBatch * Self.llamaMicroBatch
            let ubatch = (size: min(Self.llamaMicroBatch, tokens.count - ubatchStart), index: start - ubatchStart)
            let out = tokens.withUnsafeBufferPointer {
                step(UnsafeBufferPointer(rebasing: $0[start..<end]), logitRows: rows, ubatch: ubatch)
            }
            for (j, r) in rows.enumerated() {
                try body(start + r, UnsafeBufferPointer(start: out + j * config.vocabularySize, count: config.vocabularySize))
            }
            start = end
        }
    }

    /// One step; without `computeLogits` the LM head is skipped and the returned buffer is stale.
    func forward(token: Int, computeLogits: Bool) throws -> UnsafeBufferPointer<Float> {
        try checkToken(token)
        guard position < state.maxContext else { throw InferenceError.contextFull(contextLength: state.maxContext) }
        let out = withUnsafePointer(to: token) { step(UnsafeBufferPointer(start: $0, count: 1), logitRows: computeLogits ? [0] : []) }
        return UnsafeBufferPointer(start: out, count: config.vocabularySize)
    }

    private func checkToken(_ token: Int) throws {
        guard token >= 0, token < config.vocabularySize else {
            throw InferenceError.tokenOutOfRange(token: token, vocabularySize: config.vocabularySize)
        }
    }

    /// y[i] = W x[i] for the batch's vectors (x and y contiguous, `m.cols` and `m.rows` apart).
    private func mm(_ m: Matrix, _ x: UnsafePointer<Float>, _ n: Int, _ y: UnsafeMutablePointer<Float>,
                    ubatch: (size: Int, index: Int)? = nil) {
        matmul(m, x, nvec: n, y, outStride: m.rows, batch: state.batchActivation, single: state.activation,
               simd: useSIMDKernels, batchSize: ubatch?.size, batchIndex: ubatch?.index ?? 0)
    }

    /// Runs `tokens` (already checked, fitting the context and the batch) at the next positions and returns
    /// the logits of the tokens at `logitRows`, one after the other. `ubatch` places them in llama.cpp's
    /// micro-batch (its size and their offset in it; by default they are the whole micro-batch).
    private func step(_ tokens: UnsafeBufferPointer<Int>, logitRows: [Int],
                      ubatch: (size: Int, index: Int)? = nil) -> UnsafeMutablePointer<Float> {
        let c = config, s = state, w = weights
        let n = tokens.count, p0 = position
        let dim = c.dim, headDim = c.headDim
        let ropeStyle = c.architecture.ropeStyle

        // The residual stream entering the first block run: the token embeddings, or a stored stream.
        let firstBlock = resumption?.block ?? 0
        if let resumption {
            resumption.read(p0, n, s.x)
        } else {
            let embed = w.tokenEmbedding.traits.dequantize
            for i in 0..<n { embed(w.tokenEmbedding.row(tokens[i]), s.x + i * dim, dim) }
        }
        let observer = residualObserver
        observer?(firstBlock, p0, UnsafeBufferPointer(start: s.x, count: n * dim))

        for (l, layer) in w.layers.enumerated() where l >= firstBlock {
            if skippedBlocks.contains(l) {
                observer?(l + 1, p0, UnsafeBufferPointer(start: s.x, count: n * dim))
                continue
            }
            let heads = layer.shape.headCount, kvHeads = layer.shape.kvHeadCount, hidden = layer.shape.hiddenDim
            let qDim = heads * headDim, kvDim = kvHeads * headDim
            let groupSize = heads / kvHeads
            layer.attnNorm.withUnsafeBufferPointer { wn in
                for i in 0..<n { rmsNorm(s.xb + i * dim, s.x + i * dim, wn.baseAddress!, dim, c.rmsEpsilon) }
            }
            mm(layer.wq, s.xb, n, s.q, ubatch: ubatch)
            mm(layer.wk, s.xb, n, s.k, ubatch: ubatch)
            mm(layer.wv, s.xb, n, s.v, ubatch: ubatch)

            let layerCache = s.cacheOffsets[l]
            for i in 0..<n {
                let q = s.q + i * qDim, k = s.k + i * kvDim, v = s.v + i * kvDim, pos = p0 + i
                if let b = layer.bq { for j in 0..<qDim { q[j] += b[j] } }
                if let b = layer.bk { for j in 0..<kvDim { k[j] += b[j] } }
                if let b = layer.bv { for j in 0..<kvDim { v[j] += b[j] } }
                if let nw = layer.qNorm {
                    nw.withUnsafeBufferPointer { wn in
                        for h in 0..<heads { rmsNorm(q + h * headDim, q + h * headDim, wn.baseAddress!, headDim, c.rmsEpsilon) }
                    }
                }
                if let nw = layer.kNorm {
                    nw.withUnsafeBufferPointer { wn in
                        for h in 0..<kvHeads { rmsNorm(k + h * headDim, k + h * headDim, wn.baseAddress!, headDim, c.rmsEpsilon) }
                    }
                }
                if let factors = w.ropeFactors {
                    factors.withUnsafeBufferPointer { f in
                        rope(q, heads: heads, headDim: headDim, pos: pos, base: c.ropeBase, style: ropeStyle, factors: f.baseAddress)
                        rope(k, heads: kvHeads, headDim: headDim, pos: pos, base: c.ropeBase, style: ropeStyle, factors: f.baseAddress)
                    }
                } else {
                    rope(q, heads: heads, headDim: headDim, pos: pos, base: c.ropeBase, style: ropeStyle)
                    rope(k, heads: kvHeads, headDim: headDim, pos: pos, base: c.ropeBase, style: ropeStyle)
                }
                let kRow = s.keyCache + layerCache + pos * kvDim
                let vRow = s.valueCache + layerCache + pos * kvDim
                if roundAttentionToHalf {
                    for j in 0..<kvDim { kRow[j] = floatToHalfRounded(k[j]); vRow[j] = floatToHalfRounded(v[j]) }
                } else {
                    kRow.update(from: k, count: kvDim)
                    vRow.update(from: v, count: kvDim)
                }
            }

            // Causal grouped-query attention: token i sees positions 0...p0 + i. Its output goes to xb[i].
            let scale = 1 / Float(headDim).squareRoot()
            if roundAttentionToHalf && (ubatch?.size ?? n) >= Self.tiledAttentionQueries {
                tiledAttention(queries: s.q, n: n, first: p0, heads: heads, groupSize: groupSize, cache: layerCache, kvDim: kvDim,
                               scale: scale, out: s.xb)
            } else if roundAttentionToHalf {
                parallelFor(n * heads) { job in
                    let i = job / heads, h = job % heads
                    self.halfPrecisionAttention(s.q + i * qDim + h * headDim, s.xb + i * qDim + h * headDim, cache: layerCache,
                                                kvDim: kvDim, kvOffset: (h / groupSize) * headDim, positions: p0 + i + 1, scale: scale)
                }
            } else {
                for i in 0..<n {
                    let pos = p0 + i
                    for h in 0..<heads {
                        let qh = s.q + i * qDim + h * headDim
                        let kvOffset = (h / groupSize) * headDim
                        let out = s.xb + i * qDim + h * headDim
                        let att = s.att + h * s.maxContext
                        for t in 0...pos {
                            let kt = s.keyCache + layerCache + t * kvDim + kvOffset
                            var score: Float = 0
                            for j in 0..<headDim { score += qh[j] * kt[j] }
                            att[t] = score * scale
                        }
                        softmax(att, pos + 1)
                        out.update(repeating: 0, count: headDim)
                        for t in 0...pos {
                            let vt = s.valueCache + layerCache + t * kvDim + kvOffset
                            let a = att[t]
                            for j in 0..<headDim { out[j] += a * vt[j] }
                        }
                    }
                }
            }
            mm(layer.wo, s.xb, n, s.xb2, ubatch: ubatch)
            for j in 0..<n * dim { s.x[j] += s.xb2[j] }

            layer.ffnNorm.withUnsafeBufferPointer { wn in
                for i in 0..<n { rmsNorm(s.xb + i * dim, s.x + i * dim, wn.baseAddress!, dim, c.rmsEpsilon) }
            }
            mm(layer.gate, s.xb, n, s.hb, ubatch: ubatch)
            mm(layer.up, s.xb, n, s.hb2, ubatch: ubatch)
            let simd = useSIMDKernels
            parallelFor(n) { i in swiglu(s.hb + i * hidden, s.hb2 + i * hidden, s.hb + i * hidden, hidden, simd: simd) }
            mm(layer.down, s.hb, n, s.xb2, ubatch: ubatch)
            for j in 0..<n * dim { s.x[j] += s.xb2[j] }
            observer?(l + 1, p0, UnsafeBufferPointer(start: s.x, count: n * dim))
        }

        position += n
        let out = s.logitsBuffer(logitRows.count)
        guard !logitRows.isEmpty else { return out }
        w.outputNorm.withUnsafeBufferPointer { wn in
            for (j, r) in logitRows.enumerated() { rmsNorm(s.xb + j * dim, s.x + r * dim, wn.baseAddress!, dim, c.rmsEpsilon) }
        }
        mm(w.output, s.xb, logitRows.count, out)
        return out
    }
}

extension LanguageModel {
    /// One head's attention the way ggml's CPU flash-attention kernel computes it for one query with an F16
    /// KV cache: Q rounded to F16, scores in F32 from F16 inputs, an online softmax, and the weighted sum of
    /// V kept in F16 (rounded after every update), divided by the softmax sum at the end. The SIMD path does
    /// it all in C (vk_attention_f16, scores summed in ggml's order; F16C makes the roundings cheap).
    func halfPrecisionAttention(_ q: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, cache: Int, kvDim: Int,
                                kvOffset: Int, positions: Int, scale: Float) {
        let s = state, headDim = config.headDim, simd = useSIMDKernels
        if simd {
            vk_attention_f16(q, s.keyCache + cache + kvOffset, s.valueCache + cache + kvOffset, kvDim, Int32(positions),
                             Int32(headDim), scale, out)
            return
        }
        let q = (0..<headDim).map { floatToHalfRounded(q[$0]) }
        var maxScore = -Float.infinity, sum: Float = 0
        out.update(repeating: 0, count: headDim)
        for t in 0..<positions {
            let kt = s.keyCache + cache + t * kvDim + kvOffset
            var score: Float = 0
            for i in 0..<headDim { score += q[i] * kt[i] }
            score *= scale
            var ms: Float = 1, vs: Float = 1
            if score > maxScore {
                let old = maxScore
                maxScore = score
                ms = expf(old - maxScore)
                for i in 0..<headDim { out[i] = floatToHalfRounded(out[i] * ms) }
            } else {
                vs = expf(score - maxScore)
            }
            let vt = s.valueCache + cache + t * kvDim + kvOffset
            for i in 0..<headDim { out[i] = floatToHalfRounded(out[i].addingProduct(vt[i], vs)) }
            sum = vs.addingProduct(sum, ms)  // ggml's `S = S*ms + vs`, contracted to one FMA by its compiler
        }
        let inv: Float = sum == 0 ? 0 : 1 / sum
        for i in 0..<headDim { out[i] *= inv }
    }

    /// Attention for the `n` queries of a batch at positions first ..< first + n (query i of head h at
    /// queries + i · qDim + h · headDim, its output likewise in `out`) as llama.cpp's tiled flash attention
    /// computes it for micro-batches of 64+ queries (`vk_attention_tiled`): Q in F32, keys in tiles of 64
    /// positions, F32 sums. Work is split by head and by runs of queries.
    func tiledAttention(queries: UnsafeMutablePointer<Float>, n: Int, first: Int, heads: Int, groupSize: Int, cache: Int,
                        kvDim: Int, scale: Float, out: UnsafeMutablePointer<Float>) {
        let s = state, headDim = config.headDim, qDim = heads * headDim, simd = useSIMDKernels
        let run = 16, runs = (n + run - 1) / run
        parallelFor(heads * runs) { job in
            let h = job / runs, i0 = job % runs * run, count = min(run, n - i0)
            let kvOffset = (h / groupSize) * headDim
            let q = queries + i0 * qDim + h * headDim, o = out + i0 * qDim + h * headDim
            let keys = s.keyCache + cache + kvOffset, values = s.valueCache + cache + kvOffset
            if simd {
                vk_attention_tiled(q, qDim, Int32(count), Int32(first + i0), keys, values, kvDim, Int32(headDim), scale, o, qDim)
            } else {
                for i in 0..<count {
                    portableTiledAttention(q + i * qDim, keys: keys, values: values, stride: kvDim, position: first + i0 + i,
                                           headDim: headDim, scale: scale, out: o + i * qDim)
                }
            }
        }
    }

    /// `vk_attention_tiled` for one query with ggml's generic softmax: libm expf for every score, the
    /// exponentials summed one by one in Double.
    func portableTiledAttention(_ q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int,
                                position: Int, headDim: Int, scale: Float, out: UnsafeMutablePointer<Float>) {
        let tile = Self.tiledAttentionQueries
        var acc = [Float](repeating: 0, count: headDim), weights = [Float](repeating: 0, count: tile)
        var maxScore = -Float.infinity, sum: Float = 0
        var start = 0
        while start <= position {
            let visible = min(tile, position - start + 1)
            var tileMax = -Float.infinity
            for j in 0..<visible {
                let k = keys + (start + j) * stride
                var score: Float = 0
                for d in 0..<headDim { score = score.addingProduct(k[d], q[d]) }
                weights[j] = score * scale
                tileMax = max(tileMax, weights[j])
            }
            let newMax = max(maxScore, tileMax)
            if newMax > maxScore {
                let ms = expf(maxScore - newMax)
                for d in 0..<headDim { acc[d] *= ms }
                sum *= ms
            }
            maxScore = newMax
            var tileSum: Double = 0
            for j in 0..<visible {
                weights[j] = expf(weights[j] - newMax)
                tileSum += Double(weights[j])
            }
            sum = Float(Double(sum) + tileSum)
            for d in 0..<headDim {
                var a = acc[d]
                for j in 0..<visible { a = a.addingProduct(values[(start + j) * stride + d], weights[j]) }
                acc[d] = a
            }
            start += tile
        }
        let inv: Float = sum == 0 ? 0 : 1 / sum
        for d in 0..<headDim { out[d] = acc[d] * inv }
    }
}

extension LanguageModel {
    /// Continues after the first `positions` positions of `other`'s cached sequence, its keys and values
    /// copied: for a model whose every block computes what `other`'s does (same shapes, same bytes), this is
    /// the cache that evaluating the same tokens would leave.
    func adoptCache(of other: LanguageModel, positions: Int) {
        for (l, block) in config.blocks.enumerated() {
            let n = positions * block.kvHeadCount * config.headDim
            let mine = state.cacheOffsets[l], theirs = other.state.cacheOffsets[l]
            (state.keyCache + mine).update(from: other.state.keyCache + theirs, count: n)
            (state.valueCache + mine).update(from: other.state.valueCache + theirs, count: n)
        }
        position = positions
    }
}

/// Index of the largest value (the first one on ties).
package func argmax(_ x: UnsafeBufferPointer<Float>) -> Int {
    var best = 0
    for i in x.indices where x[i] > x[best] { best = i }
    return best
}
