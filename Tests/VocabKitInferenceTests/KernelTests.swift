import XCTest
import VocabKitGGUF
import VocabKitInference
import VocabKitModels
import VocabKitIO

/// The shared deterministic generator, so failures reproduce.
typealias SplitMix = SplitMix64

extension SplitMix64 {
    init(state: UInt64) { self.init(seed: state) }
}

func f16Bits(_ x: Float) -> [UInt8] {
    let b = Float16(x).bitPattern
    return [UInt8(b & 0xFF), UInt8(b >> 8)]
}
func f16(_ x: Float) -> Float { Float(Float16(x)) }

func dequantize(_ type: GGMLType, _ bytes: [UInt8], _ n: Int) -> [Float] {
    var out = [Float](repeating: .nan, count: n)
    bytes.withUnsafeBytes { src in out.withUnsafeMutableBufferPointer { dequantizeRow(type, src.baseAddress!, $0.baseAddress!, n) } }
    return out
}

// Reference quantizers written for the tests (simple, not ggml's search for the best scales).

/// Q8_0: d = amax/127, q = round(x/d).
func quantizeQ8_0(_ x: [Float]) -> [UInt8] {
    var out: [UInt8] = []
    for b in 0..<x.count / 32 {
        let blk = x[32 * b..<32 * b + 32]
        let d = f16((blk.map(abs).max() ?? 0) / 127)
        out += f16Bits(d)
        for v in blk { out.append(UInt8(bitPattern: Int8(d == 0 ? 0 : max(-127, min(127, (v / d).rounded()))))) }
    }
    return out
}

/// Q5_0: d = amax/15, q = round(x/d) in -16...15 stored as q+16 (low nibble in qs, bit 4 in qh).
func quantizeQ5_0(_ x: [Float]) -> (bytes: [UInt8], expected: [Float]) {
    var out: [UInt8] = [], expected: [Float] = []
    for b in 0..<x.count / 32 {
        let blk = Array(x[32 * b..<32 * b + 32])
        let d = f16((blk.map(abs).max() ?? 0) / 15)
        let q = blk.map { d == 0 ? 0 : Int(max(-16, min(15, ($0 / d).rounded()))) + 16 }
        var qh: UInt32 = 0
        var qs = [UInt8](repeating: 0, count: 16)
        for j in 0..<16 {
            qs[j] = UInt8(q[j] & 15) | UInt8(q[j + 16] & 15) << 4
            qh |= UInt32(q[j] >> 4) << UInt32(j) | UInt32(q[j + 16] >> 4) << UInt32(j + 16)
        }
        out += f16Bits(d) + withUnsafeBytes(of: qh.littleEndian) { Array($0) } + qs
        expected += q.map { d * Float($0 - 16) }
    }
    return (out, expected)
}

/// A Q4_K block from explicit parts: x = d·sc_j·q − dmin·m_j on sub-block j (32 elements).
func packQ4_K(d: Float, dmin: Float, sc: [Int], m: [Int], q: [Int]) -> (bytes: [UInt8], expected: [Float]) {
    var scales = [UInt8](repeating: 0, count: 12)
    for j in 0..<4 {
        scales[j] = UInt8(sc[j] & 63) | UInt8(sc[j + 4] >> 4) << 6
        scales[j + 4] = UInt8(m[j] & 63) | UInt8(m[j + 4] >> 4) << 6
        scales[j + 8] = UInt8(sc[j + 4] & 15) | UInt8(m[j + 4] & 15) << 4
    }
    var qs = [UInt8](repeating: 0, count: 128)
    for e in 0..<256 {
        let j = e / 32, chunk = j / 2, l = e % 32
        qs[32 * chunk + l] |= j % 2 == 0 ? UInt8(q[e]) : UInt8(q[e]) << 4
    }
    let expected = (0..<256).map { f16(d) * Float(sc[$0 / 32]) * Float(q[$0]) - f16(dmin) * Float(m[$0 / 32]) }
    return (f16Bits(d) + f16Bits(dmin) + scales + qs, expected)
}

/// A Q6_K block from explicit parts: x = d·scales_g·(q − 32) on group g (16 elements).
func packQ6_K(d: Float, scales: [Int8], q: [Int]) -> (bytes: [UInt8], expected: [Float]) {
    var ql = [UInt8](repeating: 0, count: 128), qh = [UInt8](repeating: 0, count: 64)
    var expected = [Float](repeating: 0, count: 256)
    for e in 0..<256 {
        let half = e / 128, r = e % 128, k = r / 32, l = r % 32
        let lowIndex = 64 * half + l + (k % 2 == 1 ? 32 : 0)
        ql[lowIndex] |= k < 2 ? UInt8(q[e] & 15) : UInt8(q[e] & 15) << 4
        qh[32 * half + l] |= UInt8(q[e] >> 4) << UInt8(2 * k)
        let g = 8 * half + l / 16 + 2 * k
        expected[e] = f16(d) * Float(scales[g]) * Float(q[e] - 32)
    }
    return (ql + qh + scales.map { UInt8(bitPattern: $0) } + f16Bits(d), expected)
}

final class DequantizeTests: XCTestCase {
    func testQ8_0HandBlock() {
        let bytes: [UInt8] = [0x00, 0x38] + (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) }  // d = 0.5
        XCTAssertEqual(dequantize(.q8_0, bytes, 32), (0..<32).map { Float($0 - 16) * 0.5 })
    }

    func testQ5_0HandBlock() {
        // d = 1; element 0: nibble 0, high bit 0 → -16; element 16: nibble 15, high bit 1 → 15; element 1: nibble 1, bit 1 → 1.
        var qs = [UInt8](repeating: 0, count: 16)
        qs[0] = 0xF0
        qs[1] = 0x01
        let qh: UInt32 = (1 << 16) | (1 << 1)
        let bytes: [UInt8] = [0x00, 0x3C] + withUnsafeBytes(of: qh.littleEndian) { Array($0) } + qs
        let y = dequantize(.q5_0, bytes, 32)
        XCTAssertEqual(y[0], -16)
        XCTAssertEqual(y[16], 15)
        XCTAssertEqual(y[1], 1)
        XCTAssertEqual(y[17], -16)
    }

    func testRoundTrips() {
        var rng = SplitMix(state: 1)
        let x = (0..<512).map { _ in Float.random(in: -2...2, using: &rng) }
        let q8 = dequantize(.q8_0, quantizeQ8_0(x), 512)
        for (a, b) in zip(q8, x) { XCTAssertEqual(a, b, accuracy: 2.0 / 127) }
        let (q5bytes, q5expected) = quantizeQ5_0(x)
        let q5 = dequantize(.q5_0, q5bytes, 512)
        XCTAssertEqual(q5, q5expected)
        for (a, b) in zip(q5, x) { XCTAssertEqual(a, b, accuracy: 2.0 / 15) }
    }

    func testQ4_KPacking() {
        var rng = SplitMix(state: 2)
        let sc = (0..<8).map { _ in Int.random(in: 0...63, using: &rng) }
        let m = (0..<8).map { _ in Int.random(in: 0...63, using: &rng) }
        let q = (0..<256).map { _ in Int.random(in: 0...15, using: &rng) }
        let (bytes, expected) = packQ4_K(d: 0.013, dmin: 0.007, sc: sc, m: m, q: q)
        XCTAssertEqual(bytes.count, 144)
        XCTAssertEqual(dequantize(.q4_K, bytes, 256), expected)
    }

    func testQ6_KPacking() {
        var rng = SplitMix(state: 3)
        let scales = (0..<16).map { _ in Int8.random(in: -128...127, using: &rng) }
        let q = (0..<256).map { _ in Int.random(in: 0...63, using: &rng) }
        let (bytes, expected) = packQ6_K(d: 0.002, scales: scales, q: q)
        XCTAssertEqual(bytes.count, 210)
        XCTAssertEqual(dequantize(.q6_K, bytes, 256), expected)
    }

    func testEveryHalfConverts() {
        let bytes = (0..<65536).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let got = dequantize(.f16, bytes, 65536)
        for i in 0..<65536 {
            let want = Float(Float16(bitPattern: UInt16(i)))
            if want.isNaN { XCTAssertTrue(got[i].isNaN, "\(i)") } else { XCTAssertEqual(got[i].bitPattern, want.bitPattern, "\(i)") }
        }
    }

    func testFloatTypes() {
        XCTAssertEqual(dequantize(.f16, f16Bits(1.5) + f16Bits(-0.25), 2), [1.5, -0.25])
        XCTAssertEqual(dequantize(.bf16, [0xC0, 0x3F, 0x80, 0xBE], 2), [1.5, -0.25])
        XCTAssertEqual(dequantize(.f32, withUnsafeBytes(of: Float(3.25)) { Array($0) }, 1), [3.25])
    }

    /// The integer dot kernels (quantized activation) agree with dequantize-then-dot.
    func testDotKernelsMatchDequantizedRows() {
        var rng = SplitMix(state: 4)
        let n = 512
        let x = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
        var rows: [(GGMLType, [UInt8])] = [(.q8_0, quantizeQ8_0((0..<n).map { _ in Float.random(in: -1...1, using: &rng) })),
                                           (.q5_0, quantizeQ5_0((0..<n).map { _ in Float.random(in: -1...1, using: &rng) }).bytes)]
        var q4: [UInt8] = [], q6: [UInt8] = []
        for _ in 0..<2 {
            q4 += packQ4_K(d: 0.01, dmin: 0.02, sc: (0..<8).map { _ in Int.random(in: 0...63, using: &rng) },
                           m: (0..<8).map { _ in Int.random(in: 0...63, using: &rng) },
                           q: (0..<256).map { _ in Int.random(in: 0...15, using: &rng) }).bytes
            q6 += packQ6_K(d: 0.001, scales: (0..<16).map { _ in Int8.random(in: -128...127, using: &rng) },
                           q: (0..<256).map { _ in Int.random(in: 0...63, using: &rng) }).bytes
        }
        rows += [(.q4_K, q4), (.q6_K, q6)]
        for (type, bytes) in rows {
            let w = dequantize(type, bytes, n)
            let exact = zip(w, x).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            let magnitude = zip(w, x).reduce(Float(0)) { $0 + abs($1.0 * $1.1) }
            let got = x.withUnsafeBufferPointer { xp in bytes.withUnsafeBytes { rowDot(type, $0.baseAddress!, xp.baseAddress!, n) } }
            XCTAssertEqual(got, exact, accuracy: magnitude * 0.02, "\(type)")
        }
    }
}

final class OperatorTests: XCTestCase {
    func testRMSNorm() {
        let x: [Float] = [1, -2, 3, -4]
        let w: [Float] = [1, 0.5, 2, 1]
        var out = [Float](repeating: 0, count: 4)
        rmsNorm(&out, x, w, 4, 1e-6)
        let rms = ((1 + 4 + 9 + 16) / 4 + 1e-6 as Float).squareRoot()
        for i in 0..<4 { XCTAssertEqual(out[i], x[i] / rms * w[i], accuracy: 1e-6) }
    }

    func testSoftmax() {
        var x: [Float] = [1, 2, 3, 1000]
        x.withUnsafeMutableBufferPointer { softmax($0.baseAddress!, 3) }
        let e = [exp(-2.0), exp(-1.0), 1.0]
        let s = e.reduce(0, +)
        for i in 0..<3 { XCTAssertEqual(Double(x[i]), e[i] / s, accuracy: 1e-6) }
        XCTAssertEqual(x[3], 1000)  // untouched
    }

    func testRoPENeoXAgainstFormula() {
        let headDim = 8, heads = 2, pos = 7
        let base: Float = 10000
        var rng = SplitMix(state: 5)
        let x = (0..<heads * headDim).map { _ in Float.random(in: -1...1, using: &rng) }
        var y = x
        y.withUnsafeMutableBufferPointer { ropeNeoX($0.baseAddress!, heads: heads, headDim: headDim, pos: pos, base: base) }
        for h in 0..<heads {
            for i in 0..<headDim / 2 {
                let theta = Double(pos) * pow(Double(base), -2 * Double(i) / Double(headDim))
                let a = Double(x[h * headDim + i]), b = Double(x[h * headDim + i + headDim / 2])
                XCTAssertEqual(Double(y[h * headDim + i]), a * cos(theta) - b * sin(theta), accuracy: 1e-5)
                XCTAssertEqual(Double(y[h * headDim + i + headDim / 2]), a * sin(theta) + b * cos(theta), accuracy: 1e-5)
            }
        }
    }

    /// llama's rope (type NORM) rotates adjacent pairs (2i, 2i+1); rope_freqs divides pair i's angle.
    func testRoPENormalWithFactorsAgainstFormula() {
        let headDim = 8, heads = 3, pos = 11
        let base: Float = 500_000
        let factors: [Float] = [1, 2, 4, 8]
        var rng = SplitMix(state: 6)
        let x = (0..<heads * headDim).map { _ in Float.random(in: -1...1, using: &rng) }
        for withFactors in [false, true] {
            var y = x
            y.withUnsafeMutableBufferPointer { p in
                factors.withUnsafeBufferPointer { f in
                    rope(p.baseAddress!, heads: heads, headDim: headDim, pos: pos, base: base, style: .normal,
                         factors: withFactors ? f.baseAddress : nil)
                }
            }
            for h in 0..<heads {
                for i in 0..<headDim / 2 {
                    let theta = Double(pos) * pow(Double(base), -2 * Double(i) / Double(headDim)) / (withFactors ? Double(factors[i]) : 1)
                    let a = Double(x[h * headDim + 2 * i]), b = Double(x[h * headDim + 2 * i + 1])
                    XCTAssertEqual(Double(y[h * headDim + 2 * i]), a * cos(theta) - b * sin(theta), accuracy: 1e-5)
                    XCTAssertEqual(Double(y[h * headDim + 2 * i + 1]), a * sin(theta) + b * cos(theta), accuracy: 1e-5)
                }
            }
        }
        // The NeoX wrapper is `rope` with `.neox`, bit for bit.
        var a = x, b = x
        a.withUnsafeMutableBufferPointer { ropeNeoX($0.baseAddress!, heads: heads, headDim: headDim, pos: pos, base: base) }
        b.withUnsafeMutableBufferPointer { rope($0.baseAddress!, heads: heads, headDim: headDim, pos: pos, base: base, style: .neox) }
        XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern))
    }

    func testArgmaxTakesFirstOnTies() {
        let v: [Float] = [1, 3, 3, 2]
        XCTAssertEqual(v.withUnsafeBufferPointer { argmax($0) }, 1)
    }
}
