import Foundation
import XCTest
import VocabKitGGUF
@testable import VocabKitInference

/// The AVX2 kernels (CKernels) against the portable Swift kernels in Quantization.swift, on random blocks.
///
/// Both compute the same integer dot product per block exactly; they differ only in how the float block
/// results are summed (the SIMD kernels keep 8 float lanes and fuse multiply-adds, as ggml does). Each float
/// operation rounds with relative error at most 2^-24 of a partial sum bounded by M = Σ (|w_i| + |w0_i|)·|a_i|
/// (w0: the block's offset term, e.g. Q4_K's −dmin·m), and a row here takes fewer than 40 such operations per
/// implementation, so the two may differ by at most 2 · 40 · 2^-24 · M < 5e-6 · M.
final class KernelSIMDTests: XCTestCase {
    static let types: [GGMLType] = [.q8_0, .q5_0, .q4_K, .q6_K]

    override func setUpWithError() throws {
        try XCTSkipUnless(simdKernelsEnabled, "this CPU has no AVX2/FMA/F16C (or VOCABKIT_NO_SIMD is set)")
    }

    // MARK: helpers

    func blockBytes(_ t: GGMLType) -> (elements: Int, bytes: Int) {
        switch t {
        case .q8_0: return (32, 34)
        case .q5_0: return (32, 22)
        case .q4_K: return (256, 144)
        case .q6_K: return (256, 210)
        default: fatalError()
        }
    }

    /// `rows` rows of `cols` random elements: random quant bits, sane F16 scales.
    func randomMatrix(_ t: GGMLType, rows: Int, cols: Int, _ g: inout SplitMix) -> [UInt8] {
        let (per, size) = blockBytes(t)
        var bytes = (0..<rows * cols / per * size).map { _ in UInt8.random(in: 0...255, using: &g) }
        func setHalf(_ at: Int, _ x: Float) {
            let b = Float16(x).bitPattern
            bytes[at] = UInt8(b & 0xFF); bytes[at + 1] = UInt8(b >> 8)
        }
        for b in 0..<rows * cols / per {
            let o = b * size
            let d = Float.random(in: 0.0005...0.05, using: &g) * (Bool.random(using: &g) ? 1 : -1)
            switch t {
            case .q8_0, .q5_0: setHalf(o, d)
            case .q4_K: setHalf(o, abs(d)); setHalf(o + 2, Float.random(in: 0...0.02, using: &g))
            case .q6_K: setHalf(o + 208, d)
            default: break
            }
        }
        return bytes
    }

    func randomVectors(_ n: Int, _ cols: Int, _ g: inout SplitMix) -> [Float] {
        (0..<n * cols).map { i in
            // Mostly small values with a few outliers (as in real activations); one vector of zeros.
            if i / cols == 1 { return 0 }
            let x = Float.random(in: -1...1, using: &g)
            return Int.random(in: 0..<50, using: &g) == 0 ? x * 20 : x
        }
    }

    func withMatrix<R>(_ t: GGMLType, _ bytes: [UInt8], rows: Int, cols: Int, _ body: (Matrix) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes { raw in
            try body(Matrix(name: "w", base: raw.baseAddress!, traits: TensorTypeTraits.of(t)!, cols: cols, rows: rows, rowBytes: bytes.count / rows))
        }
    }

    /// Σ (|w_i| + |w0_i|)·|a_i| for one row and the activation as quantized (values scale · q).
    func magnitude(_ m: Matrix, row r: Int, _ a: QuantizedActivation, vector v: Int) -> Double {
        let n = m.cols
        var w = [Float](repeating: 0, count: n), w0 = [Float](repeating: 0, count: n)
        dequantizeRow(m.type, m.row(r), &w, n)
        // The offset term: the same block with all quant bits cleared.
        var zeroed = [UInt8](UnsafeRawBufferPointer(start: m.row(r), count: m.rowBytes))
        let (per, size) = blockBytes(m.type)
        for b in 0..<n / per {
            let o = b * size
            switch m.type {
            case .q8_0: for i in 2..<34 { zeroed[o + i] = 0 }
            case .q5_0: for i in 2..<22 { zeroed[o + i] = 0 }
            case .q4_K: for i in 16..<144 { zeroed[o + i] = 0 }
            case .q6_K: for i in 0..<192 { zeroed[o + i] = 0 }
            default: break
            }
        }
        dequantizeRow(m.type, zeroed, &w0, n)
        var total: Double = 0
        for i in 0..<n {
            let scale = m.type.activationFormat == .q8_K ? a.scales[(v * n + i) / 256] : a.scales[(v * n + i) / 32]
            let ai = Double(scale) * Double(a.qs[v * n + i])
            total += (Double(abs(w[i])) + Double(abs(w0[i]))) * abs(ai)
        }
        return total
    }

    // MARK: tests

    /// Every SIMD matrix product against the portable per-row dot products, for odd row counts and batch sizes
    /// on both sides of ggml's mode switches (Q6_K tiled from 8 vectors, Q4_K in fours).
    func testProductsMatchPortableKernels() {
        var g = SplitMix(state: 42)
        for t in Self.types {
            let cols = t.activationFormat == .q8_K ? 512 : 160
            let rows = 7
            let bytes = randomMatrix(t, rows: rows, cols: cols, &g)
            withMatrix(t, bytes, rows: rows, cols: cols) { m in
                for nvec in [1, 2, 3, 5, 8, 9, 17, 20] {
                    let x = randomVectors(nvec, cols, &g)
                    let batch = QuantizedActivation(capacity: nvec * cols + 256)
                    batch.quantize(x, nvec * cols, as: t.activationFormat)
                    var out = [Float](repeating: .nan, count: nvec * rows)
                    simdRows(m, 0, rows, batch, nvec: nvec, &out, outStride: rows)
                    let single = QuantizedActivation(capacity: cols + 256)
                    x.withUnsafeBufferPointer { xp in
                        for v in 0..<nvec {
                            single.quantize(xp.baseAddress! + v * cols, cols, as: t.activationFormat)
                            for r in 0..<rows {
                                let expected = dotRow(t, m.row(r), xp.baseAddress! + v * cols, single, cols)
                                let tolerance = Float(5e-6 * magnitude(m, row: r, batch, vector: v))
                                XCTAssertEqual(out[v * rows + r], expected, accuracy: tolerance,
                                               "\(t.name) nvec \(nvec) vector \(v) row \(r)")
                            }
                        }
                    }
                }
            }
        }
    }

    /// A batch computes exactly what the same vectors compute one at a time in the same ggml mode, whatever
    /// the register tiling (2 rows x 4 vectors for Q8_0/Q5_0, groups of 16 vectors) and row range.
    func testBatchesEqualSingleVectorsExactly() {
        var g = SplitMix(state: 7)
        for t in Self.types {
            let cols = t.activationFormat == .q8_K ? 256 : 96
            let rows = 9
            let bytes = randomMatrix(t, rows: rows, cols: cols, &g)
            withMatrix(t, bytes, rows: rows, cols: cols) { m in
                for nvec in [6, 11, 19] {
                    let x = randomVectors(nvec, cols, &g)
                    let batch = QuantizedActivation(capacity: nvec * cols + 256)
                    batch.quantize(x, nvec * cols, as: t.activationFormat)
                    var all = [Float](repeating: .nan, count: nvec * rows)
                    simdRows(m, 0, rows, batch, nvec: nvec, &all, outStride: rows)
                    var part = [Float](repeating: .nan, count: nvec * rows)
                    simdRows(m, 3, rows, batch, nvec: nvec, &part, outStride: rows)
                    let single = QuantizedActivation(capacity: cols + 256)
                    x.withUnsafeBufferPointer { xp in
                        for v in 0..<nvec {
                            single.quantize(xp.baseAddress! + v * cols, cols, as: t.activationFormat)
                            var one = [Float](repeating: .nan, count: rows)
                            simdRows(m, 0, rows, single, nvec: 1, &one, outStride: rows, batchSize: nvec, batchIndex: v)
                            for r in 0..<rows {
                                XCTAssertEqual(all[v * rows + r].bitPattern, one[r].bitPattern, "\(t.name) nvec \(nvec) vector \(v) row \(r)")
                                if r >= 3 { XCTAssertEqual(part[v * rows + r].bitPattern, one[r].bitPattern) }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The modes differ where ggml's kernels differ: a Q6_K batch of 8+ sums super-blocks differently than
    /// one of 7 (so the mode switch is real), yet both stay within the bound of the portable result above.
    func testQ6KModeSwitchChangesOnlyRounding() {
        var g = SplitMix(state: 99)
        let cols = 4864, rows = 16
        let bytes = randomMatrix(.q6_K, rows: rows, cols: cols, &g)
        withMatrix(.q6_K, bytes, rows: rows, cols: cols) { m in
            let x = randomVectors(1, cols, &g)
            let a = QuantizedActivation(capacity: cols + 256)
            a.quantize(x, cols, as: .q8_K)
            var lanes = [Float](repeating: 0, count: rows), tiled = [Float](repeating: 0, count: rows)
            simdRows(m, 0, rows, a, nvec: 1, &lanes, outStride: rows, batchSize: 7)
            simdRows(m, 0, rows, a, nvec: 1, &tiled, outStride: rows, batchSize: 8)
            XCTAssertNotEqual(lanes, tiled, "19 super-blocks summed in two orders should round differently somewhere")
            for r in 0..<rows {
                XCTAssertEqual(lanes[r], tiled[r], accuracy: Float(1e-5 * magnitude(m, row: r, a, vector: 0)))
            }
        }
    }

    /// ggml's AVX2 exp approximation: within 2 ulp of exp over the float range, 0 and infinity beyond it.
    func testExpApproximation() {
        var x: Float = -87
        while x < 88 {
            let e = simdExpApprox(x), exact = Foundation.exp(Double(x))
            XCTAssertLessThanOrEqual(abs(Double(e) - exact), 2 * Double(Float(exact).ulp), "exp(\(x))")
            x += 0.0137
        }
        XCTAssertEqual(simdExpApprox(0), 1)
        XCTAssertEqual(simdExpApprox(-200), 0)
        XCTAssertEqual(simdExpApprox(200), .infinity)
        // Between 126 and 192 halvings the scale is split in two factors; results (subnormal here) are still
        // the nearest floats but one.
        XCTAssertEqual(Double(simdExpApprox(-95)), Foundation.exp(-95.0), accuracy: 2 * Double(Float.leastNonzeroMagnitude))
        XCTAssertGreaterThan(simdExpApprox(-95), 0)
    }

    /// SwiGLU with the approximate exp for groups of 8 and libm's for the tail (13 = 8 + 5 elements).
    func testSwiGLU() {
        var g = SplitMix(state: 5)
        let n = 13
        let gate = (0..<n).map { _ in Float.random(in: -12...12, using: &g) }
        let up = (0..<n).map { _ in Float.random(in: -3...3, using: &g) }
        var fast = [Float](repeating: 0, count: n), portable = [Float](repeating: 0, count: n)
        swiglu(gate, up, &fast, n, simd: true)
        swiglu(gate, up, &portable, n, simd: false)
        for i in 0..<n {
            // exp within 2 ulp moves 1 + exp(-x) by at most that, then a division and a product round once each.
            XCTAssertEqual(fast[i], portable[i], accuracy: 4 * portable[i].magnitude.ulp + .leastNormalMagnitude, "element \(i)")
        }
        for i in 8..<n { XCTAssertEqual(fast[i], portable[i], "the tail uses expf like the portable path") }
    }

    /// The F16 dot product (scores) against a Double sum: half values multiply exactly in float, so only the
    /// additions round (about n/8 + 5 of them on partial sums bounded by Σ|x·y|).
    func testHalfValueDot() {
        var g = SplitMix(state: 11)
        for n in [64, 70, 128, 7] {
            let x = (0..<n).map { _ in Float(Float16(Float.random(in: -4...4, using: &g))) }
            let y = (0..<n).map { _ in Float(Float16(Float.random(in: -4...4, using: &g))) }
            let exact = zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let bound = zip(x, y).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
            XCTAssertEqual(Double(simdDotHalfValues(x, y, n)), exact, accuracy: Double(n / 8 + 6) * 0x1p-24 * bound, "n \(n)")
        }
    }

    /// The C attention against the algorithm written out in Swift with the same score function: equal bits.
    func testAttentionMatchesReferenceExactly() {
        var g = SplitMix(state: 3)
        let headDim = 64, stride = 128
        for positions in [1, 5, 37] {
            let half = { (r: ClosedRange<Float>) in Float(Float16(Float.random(in: r, using: &g))) }
            let q = (0..<headDim).map { _ in half(-2...2) }
            let k = (0..<positions * stride).map { _ in half(-2...2) }
            let v = (0..<positions * stride).map { _ in half(-1...1) }
            let scale = 1 / Float(headDim).squareRoot()
            var out = [Float](repeating: .nan, count: headDim)
            simdAttention(q, keys: k, values: v, stride: stride, positions: positions, headDim: headDim, scale: scale, &out)

            var ref = [Float](repeating: 0, count: headDim)
            var m = -Float.infinity, sum: Float = 0
            k.withUnsafeBufferPointer { kp in
                for t in 0..<positions {
                    let score = simdDotHalfValues(q, kp.baseAddress! + t * stride, headDim) * scale
                    var ms: Float = 1, vs: Float = 1
                    if score > m {
                        ms = expf(m - score); m = score
                        for i in 0..<headDim { ref[i] = Float(Float16(ref[i] * ms)) }
                    } else {
                        vs = expf(score - m)
                    }
                    for i in 0..<headDim { ref[i] = Float(Float16(ref[i].addingProduct(v[t * stride + i], vs))) }
                    sum = vs.addingProduct(sum, ms)
                }
            }
            for i in 0..<headDim { ref[i] *= 1 / sum }
            XCTAssertEqual(out.map(\.bitPattern), ref.map(\.bitPattern), "positions \(positions)")
        }
    }
}
