import CKernels
import Dispatch
import Foundation
import VocabKitGGUF

// Matrix products for the forward pass: the AVX2 kernels of CKernels where the CPU has them and the weight
// type has one, else the portable per-row `dotRow`. Both take the same quantized activations.

/// Whether the CKernels AVX2 path is in use: the CPU has AVX2, FMA and F16C, and VOCABKIT_NO_SIMD is unset
/// (set it to compare against the portable path).
public let simdKernelsEnabled: Bool = vk_cpu_has_avx2() != 0 && ProcessInfo.processInfo.environment["VOCABKIT_NO_SIMD"] == nil

/// Threads the forward pass spreads matrix rows over (VOCABKIT_THREADS, else all cores).
let inferenceThreads: Int = {
    if let s = ProcessInfo.processInfo.environment["VOCABKIT_THREADS"], let n = Int(s), n > 0 { return n }
    return max(1, ProcessInfo.processInfo.activeProcessorCount)
}()

struct UnsafeSendable<T>: @unchecked Sendable { let value: T }

/// Calls `body(chunk)` for chunk in 0..<count on the inference threads (inline when count is 1). With fewer
/// threads than cores, each thread takes every threads-th chunk.
@inline(__always)
func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count == 1 || inferenceThreads == 1 {
        for i in 0..<count { body(i) }
        return
    }
    let threads = inferenceThreads
    withoutActuallyEscaping(body) { body in
        let shared = UnsafeSendable(value: body)
        if threads >= ProcessInfo.processInfo.activeProcessorCount {
            DispatchQueue.concurrentPerform(iterations: count) { shared.value($0) }
        } else {
            DispatchQueue.concurrentPerform(iterations: min(threads, count)) { t in
                for i in stride(from: t, to: count, by: threads) { shared.value(i) }
            }
        }
    }
}

/// Rows per chunk of work: enough chunks to balance the threads (4 each), at least 16 rows so that a chunk
/// is worth a dispatch, a multiple of 8.
func rowChunk(_ rows: Int) -> Int {
    let target = (rows + inferenceThreads * 4 - 1) / (inferenceThreads * 4)
    return max(16, (target + 7) / 8 * 8)
}

/// Activations quantized for the SIMD kernels (`nvec` vectors back to back, `cols` each): the strides of
/// the quants, block scales and Q8_K sums.
struct ActivationLayout {
    let quantStride: Int
    let scaleStride: Int
    let sumStride: Int

    init(cols: Int, format: ActivationFormat) {
        quantStride = cols
        scaleStride = format == .q8_K ? cols / 256 : cols / 32
        sumStride = cols / 16
    }
}

/// out[v·outStride + r] = W[r] · x[v·cols ..< (v+1)·cols] for rows r0..<r1 of `m` and vectors 0..<nvec,
/// with `a` holding all vectors quantized in the type's activation format, through the type's SIMD kernel.
/// Some of ggml's kernels depend on the batch a vector is part of: by default these vectors are the whole
/// batch; `batchSize` and `batchIndex` (the position of vector 0 in it) say otherwise.
func simdRows(_ m: Matrix, _ r0: Int, _ r1: Int, _ a: QuantizedActivation, nvec: Int,
              _ out: UnsafeMutablePointer<Float>, outStride: Int, batchSize: Int? = nil, batchIndex: Int = 0) {
    guard let kernel = m.traits.simdKernel else { preconditionFailure("no SIMD kernel for \(m.type.name)") }
    let batch = batchSize ?? nvec
    let layout = ActivationLayout(cols: m.cols, format: m.traits.activationFormat)
    let rows = Int32(r1 - r0), w = m.row(r0), o = out + r0
    // Vectors in groups that stay in L1/L2 while a chunk of rows meets them.
    let group = 16
    var v0 = 0
    while v0 < nvec {
        kernel(SIMDProduct(weights: w, rowBytes: m.rowBytes, rows: rows, cols: m.cols,
                           quants: a.qs + v0 * layout.quantStride, quantStride: layout.quantStride,
                           scales: a.scales + v0 * layout.scaleStride, scaleStride: layout.scaleStride,
                           sums: a.sums + v0 * layout.sumStride, sumStride: layout.sumStride,
                           vectors: Int32(min(group, nvec - v0)), batchSize: batch, batchIndex: batchIndex + v0,
                           out: o + v0 * outStride, outStride: outStride))
        v0 += group
    }
}

/// out[v·outStride + r] = W[r] · x[v·cols ..< (v+1)·cols] for every row of `m` and the `nvec` vectors at
/// `x` (contiguous, `m.cols` apart). With a SIMD kernel, each weight row is read once for all vectors (the
/// activations are quantized together into `batch`); otherwise one portable matrix-vector product per
/// vector through `single`.
func matmul(_ m: Matrix, _ x: UnsafePointer<Float>, nvec: Int, _ out: UnsafeMutablePointer<Float>, outStride: Int,
            batch: QuantizedActivation, single: QuantizedActivation, simd: Bool = simdKernelsEnabled,
            batchSize: Int? = nil, batchIndex: Int = 0) {
    if simd && m.traits.hasSIMDKernel {
        batch.quantize(x, m.cols * nvec, as: m.traits.activationFormat)
        let chunk = rowChunk(m.rows)
        let chunks = (m.rows + chunk - 1) / chunk
        parallelFor(chunks) { c in
            simdRows(m, c * chunk, min(m.rows, (c + 1) * chunk), batch, nvec: nvec, out, outStride: outStride,
                     batchSize: batchSize, batchIndex: batchIndex)
        }
        return
    }
    for v in 0..<nvec { matvec(m, x + v * m.cols, out + v * outStride, single) }
}

/// out[r] = W[r] · x for every row with the portable kernels, spread over the cores in chunks of rows.
func matvec(_ m: Matrix, _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ act: QuantizedActivation) {
    act.quantize(x, m.cols, as: m.traits.activationFormat)
    let chunk = rowChunk(m.rows)
    let chunks = (m.rows + chunk - 1) / chunk
    let dot = m.traits.dot
    parallelFor(chunks) { c in
        for r in c * chunk..<min(m.rows, (c + 1) * chunk) { out[r] = dot(m.row(r), x, act, m.cols) }
    }
}

/// out[i] = silu(gate[i]) · up[i]; with the SIMD kernels, exp is evaluated as ggml's AVX2 code does.
func swiglu(_ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int,
            simd: Bool = simdKernelsEnabled) {
    if simd {
        vk_swiglu(gate, up, out, Int32(n))
    } else {
        for i in 0..<n { out[i] = silu(gate[i]) * up[i] }
    }
}

// Entry points for tests of the C kernels (the test target reaches C through this module).

func simdExpApprox(_ x: Float) -> Float { vk_expf_approx(x) }

func simdDotHalfValues(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
    vk_dot_f16_values(x, y, Int32(n))
}

func simdAttention(_ q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride: Int,
                   positions: Int, headDim: Int, scale: Float, _ out: UnsafeMutablePointer<Float>) {
    vk_attention_f16(q, keys, values, stride, Int32(positions), Int32(headDim), scale, out)
}
