import CKernels
import Dispatch
import Foundation
import VocabKitGGUF

// A Qwen2 (and Qwen3) decoder in the manner of llama2.c: hyperparameters (`ModelConfig`), weights as views
// into the memory-mapped GGUF (`ModelWeights`), and activation buffers (`RunState`). One token at a time.

/// Hyperparameters read from the GGUF metadata (`<arch>.*` keys).
public struct ModelConfig: Equatable, Sendable {
    public var architecture: String
    public var dim: Int            // embedding_length
    public var hiddenDim: Int      // feed_forward_length
    public var layerCount: Int     // block_count
    public var headCount: Int      // attention.head_count
    public var kvHeadCount: Int    // attention.head_count_kv
    public var headDim: Int        // attention.key_length, else dim / headCount
    public var vocabularySize: Int // token_embd rows
    public var contextLength: Int  // context_length
    public var ropeBase: Float     // rope.freq_base
    public var rmsEpsilon: Float   // attention.layer_norm_rms_epsilon

    public var qDim: Int { headCount * headDim }
    public var kvDim: Int { kvHeadCount * headDim }

    public init(file: GGUFFile) throws {
        guard let arch = file.string("general.architecture") else {
            throw InferenceError.missingHyperparameter("general.architecture")
        }
        guard arch == "qwen2" || arch == "qwen3" else { throw InferenceError.unsupportedArchitecture(arch) }
        func int(_ key: String) throws -> Int {
            guard let v = file.integer("\(arch).\(key)") else { throw InferenceError.missingHyperparameter("\(arch).\(key)") }
            guard v > 0, v < 1 << 24 else {
                throw InferenceError.invalidHyperparameter(key: "\(arch).\(key)", reason: "\(v) is out of range")
            }
            return v
        }
        architecture = arch
        dim = try int("embedding_length")
        hiddenDim = try int("feed_forward_length")
        layerCount = try int("block_count")
        headCount = try int("attention.head_count")
        kvHeadCount = file.contains("\(arch).attention.head_count_kv") ? try int("attention.head_count_kv") : headCount
        if file.contains("\(arch).attention.key_length") {
            headDim = try int("attention.key_length")
        } else {
            guard dim % headCount == 0 else {
                throw InferenceError.invalidHyperparameter(key: "\(arch).attention.head_count",
                                                           reason: "\(headCount) does not divide embedding_length \(dim)")
            }
            headDim = dim / headCount
        }
        guard headCount % kvHeadCount == 0 else {
            throw InferenceError.invalidHyperparameter(key: "\(arch).attention.head_count_kv",
                                                       reason: "\(kvHeadCount) does not divide head_count \(headCount)")
        }
        guard headDim % 2 == 0 else {
            throw InferenceError.invalidHyperparameter(key: "\(arch).attention.key_length", reason: "head size \(headDim) is odd")
        }
        contextLength = try int("context_length")
        ropeBase = Float(file.double("\(arch).rope.freq_base") ?? 10000)
        guard let eps = file.double("\(arch).attention.layer_norm_rms_epsilon") else {
            throw InferenceError.missingHyperparameter("\(arch).attention.layer_norm_rms_epsilon")
        }
        rmsEpsilon = Float(eps)
        guard let embd = file.tensor(named: "token_embd.weight") else { throw InferenceError.missingTensor("token_embd.weight") }
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
    let attnNorm: [Float]    // [dim]
    let wq: Matrix           // [dim, qDim]
    let bq: [Float]?         // [qDim]   (qwen2)
    let wk: Matrix           // [dim, kvDim]
    let bk: [Float]?         // [kvDim]  (qwen2)
    let wv: Matrix           // [dim, kvDim]
    let bv: [Float]?         // [kvDim]  (qwen2)
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

    init(file: GGUFFile, config c: ModelConfig) throws {
        self.file = file
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
        tokenEmbedding = try matrix("token_embd.weight", cols: c.dim, rows: nil)
        var layers: [LayerWeights] = []
        for l in 0..<c.layerCount {
            let p = "blk.\(l)."
            layers.append(LayerWeights(
                attnNorm: try vector(p + "attn_norm.weight", c.dim)!,
                wq: try matrix(p + "attn_q.weight", cols: c.dim, rows: c.qDim),
                bq: try vector(p + "attn_q.bias", c.qDim, optional: true),
                wk: try matrix(p + "attn_k.weight", cols: c.dim, rows: c.kvDim),
                bk: try vector(p + "attn_k.bias", c.kvDim, optional: true),
                wv: try matrix(p + "attn_v.weight", cols: c.dim, rows: c.kvDim),
                bv: try vector(p + "attn_v.bias", c.kvDim, optional: true),
                qNorm: try vector(p + "attn_q_norm.weight", c.headDim, optional: true),
                kNorm: try vector(p + "attn_k_norm.weight", c.headDim, optional: true),
                wo: try matrix(p + "attn_output.weight", cols: c.qDim, rows: c.dim),
                ffnNorm: try vector(p + "ffn_norm.weight", c.dim)!,
                gate: try matrix(p + "ffn_gate.weight", cols: c.dim, rows: c.hiddenDim),
                up: try matrix(p + "ffn_up.weight", cols: c.dim, rows: c.hiddenDim),
                down: try matrix(p + "ffn_down.weight", cols: c.hiddenDim, rows: c.dim)))
        }
        self.layers = layers
        outputNorm = try vector("output_norm.weight", c.dim)!
        output = file.tensor(named: "output.weight") != nil
            ? try matrix("output.weight", cols: c.dim, rows: c.vocabularySize)
            : tokenEmbedding
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
    let keyCache: UnsafeMutablePointer<Float>   // [layers, maxContext, kvDim]
    let valueCache: UnsafeMutablePointer<Float> // [layers, maxContext, kvDim]
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
        keyCache = buffer(c.layerCount * maxContext * c.kvDim)
        valueCache = buffer(c.layerCount * maxContext * c.kvDim)
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

/// NeoX-style rotary embedding (llama.cpp rope type 2) of `heads` heads of `headDim` values at `pos`:
/// element i pairs with i + headDim/2, rotated by pos · base^(-2i/headDim). The angle is built by repeated
/// multiplication in Float, as ggml does, and the rotation is fused the way llama.cpp's build computes it.
package func ropeNeoX(_ x: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, pos: Int, base: Float) {
    let half = headDim / 2
    let thetaScale = powf(base, -2 / Float(headDim))
    var theta = Float(pos)
    for i in 0..<half {
        let c = cosf(theta), s = sinf(theta)
        for h in 0..<heads {
            let p = x + h * headDim
            let x0 = p[i], x1 = p[i + half]
            // Fused as GCC contracts ggml's `x0*cos - x1*sin` and `x0*sin + x1*cos` (-O3 -march=native).
            p[i] = (-(x1 * s)).addingProduct(x0, c)
            p[i + half] = (x1 * c).addingProduct(x0, s)
        }
        theta *= thetaScale
    }
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

    /// Round K, V and Q through F16 as llama.cpp's default F16 KV cache does (closer agreement with it).
    public var roundAttentionToHalf = true

    /// Whether this model uses the AVX2 kernels (where the CPU has them); false selects the portable path.
    public var useSIMDKernels = simdKernelsEnabled

    /// Tokens evaluated together by `evaluate`: each weight row is then read once per batch.
    public static let maxBatch = 64

    /// llama.cpp's default micro-batch (n_ubatch); a multiple of `maxBatch`.
    static let llamaMicroBatch = 512

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
        let dim = c.dim, qDim = c.qDim, kvDim = c.kvDim, headDim = c.headDim, hidden = c.hiddenDim
        let groupSize = c.headCount / c.kvHeadCount

        let embed = w.tokenEmbedding.traits.dequantize
        for i in 0..<n { embed(w.tokenEmbedding.row(tokens[i]), s.x + i * dim, dim) }

        for (l, layer) in w.layers.enumerated() {
            layer.attnNorm.withUnsafeBufferPointer { wn in
                for i in 0..<n { rmsNorm(s.xb + i * dim, s.x + i * dim, wn.baseAddress!, dim, c.rmsEpsilon) }
            }
            mm(layer.wq, s.xb, n, s.q, ubatch: ubatch)
            mm(layer.wk, s.xb, n, s.k, ubatch: ubatch)
            mm(layer.wv, s.xb, n, s.v, ubatch: ubatch)

            let layerCache = l * s.maxContext * kvDim
            for i in 0..<n {
                let q = s.q + i * qDim, k = s.k + i * kvDim, v = s.v + i * kvDim, pos = p0 + i
                if let b = layer.bq { for j in 0..<qDim { q[j] += b[j] } }
                if let b = layer.bk { for j in 0..<kvDim { k[j] += b[j] } }
                if let b = layer.bv { for j in 0..<kvDim { v[j] += b[j] } }
                if let nw = layer.qNorm {
                    nw.withUnsafeBufferPointer { wn in
                        for h in 0..<c.headCount { rmsNorm(q + h * headDim, q + h * headDim, wn.baseAddress!, headDim, c.rmsEpsilon) }
                    }
                }
                if let nw = layer.kNorm {
                    nw.withUnsafeBufferPointer { wn in
                        for h in 0..<c.kvHeadCount { rmsNorm(k + h * headDim, k + h * headDim, wn.baseAddress!, headDim, c.rmsEpsilon) }
                    }
                }
                ropeNeoX(q, heads: c.headCount, headDim: headDim, pos: pos, base: c.ropeBase)
                ropeNeoX(k, heads: c.kvHeadCount, headDim: headDim, pos: pos, base: c.ropeBase)
                let kRow = s.keyCache + layerCache + pos * kvDim
                let vRow = s.valueCache + layerCache + pos * kvDim
                if roundAttentionToHalf {
                    for j in 0..<kvDim { kRow[j] = floatToHalfRounded(k[j]); vRow[j] = floatToHalfRounded(v[j]) }
                    for j in 0..<qDim { q[j] = floatToHalfRounded(q[j]) }
                } else {
                    kRow.update(from: k, count: kvDim)
                    vRow.update(from: v, count: kvDim)
                }
            }

            // Causal grouped-query attention: token i sees positions 0...p0 + i. Its output goes to xb[i].
            let scale = 1 / Float(headDim).squareRoot()
            if roundAttentionToHalf {
                let heads = c.headCount
                parallelFor(n * heads) { job in
                    let i = job / heads, h = job % heads
                    self.halfPrecisionAttention(s.q + i * qDim + h * headDim, s.xb + i * qDim + h * headDim, cache: layerCache,
                                                kvOffset: (h / groupSize) * headDim, positions: p0 + i + 1, scale: scale)
                }
            } else {
                for i in 0..<n {
                    let pos = p0 + i
                    for h in 0..<c.headCount {
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
    /// KV cache: scores in F32 from F16 inputs, an online softmax, and the weighted sum of V kept in F16
    /// (rounded after every update), divided by the softmax sum at the end. The SIMD path does it all in C
    /// (vk_attention_f16, scores summed in ggml's order; F16C makes the roundings cheap).
    func halfPrecisionAttention(_ q: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, cache: Int, kvOffset: Int,
                                positions: Int, scale: Float) {
        let s = state, headDim = config.headDim, kvDim = config.kvDim, simd = useSIMDKernels
        if simd {
            vk_attention_f16(q, s.keyCache + cache + kvOffset, s.valueCache + cache + kvOffset, kvDim, Int32(positions),
                             Int32(headDim), scale, out)
            return
        }
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
}

/// Index of the largest value (the first one on ties).
package func argmax(_ x: UnsafeBufferPointer<Float>) -> Int {
    var best = 0
    for i in x.indices where x[i] > x[best] { best = i }
    return best
}
