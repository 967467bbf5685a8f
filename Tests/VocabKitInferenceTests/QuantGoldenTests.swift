import Foundation
import XCTest
import VocabKitGGUF
import VocabKitInference

/// One case of Tests/Fixtures/quant-goldens/dequantize.json (made by Tests/Oracle/make_quant_goldens.py):
/// random blocks of a type and gguf-py's dequantization of them.
struct QuantGolden {
    let type: GGMLType
    let elements: Int
    let blocks: [UInt8]
    let expected: [Float]

    static func load() throws -> (cases: [QuantGolden], ggufVersion: String) {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/quant-goldens/dequantize.json")
        let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let cases = try (doc["cases"] as! [[String: Any]]).map { c -> QuantGolden in
            let name = c["type"] as! String
            guard let type = GGMLType(name: name),
                  let blocks = Data(base64Encoded: c["blocks_base64"] as! String),
                  let floats = Data(base64Encoded: c["expected_f32le_base64"] as! String) else {
                throw XCTSkip("unreadable golden case \(name)")
            }
            let expected = floats.withUnsafeBytes { raw in
                (0..<floats.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
            }
            return QuantGolden(type: type, elements: c["elements"] as! Int, blocks: Array(blocks), expected: expected)
        }
        return (cases, doc["gguf_version"] as! String)
    }
}

/// The activation as the kernels see it, recomputed here from ggml's definitions: per block, the integer
/// quants, the scale they are multiplied by, and (Q8_1) the F16-rounded d·Σq the min term uses.
struct TestActivation {
    var q: [Int]
    var scale: [Double]        // per element: the scale of its block
    var blockSums: [Double]    // Q8_1 only, per 32-element block
    var dequantized: [Double] { zip(q, scale).map { Double($0) * $1 } }

    init(_ x: [Float], pairedWith type: GGMLType) {
        q = []; scale = []; blockSums = []
        switch type {
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K:
            // Q8_K: the element of largest magnitude maps to exactly -127; d = 1/iscale, kept in F32.
            for b in 0..<x.count / 256 {
                let blk = x[256 * b..<256 * b + 256]
                let peak = blk.max { abs($0) < abs($1) }!
                let iscale = -127 / peak
                for v in blk { q.append(Int(min(127, (iscale * v).rounded(.toNearestOrEven)))) }
                scale += Array(repeating: Double(1 / iscale), count: 256)
            }
        default:
            // Q8_0 / Q8_1: d = amax/127 stored as F16, quants round(x·127/amax) (ties to even, as the AVX path).
            for b in 0..<x.count / 32 {
                let blk = x[32 * b..<32 * b + 32]
                let amax = blk.map(abs).max()!
                let d = amax / 127
                let qs = blk.map { Int(($0 * (amax != 0 ? 127 / amax : 0)).rounded(.toNearestOrEven)) }
                q += qs
                scale += Array(repeating: Double(Float(Float16(d))), count: 32)
                blockSums.append(Double(Float(Float16(d * Float(qs.reduce(0, +))))))
            }
        }
    }
}

final class QuantGoldenTests: XCTestCase {
    static let weightTypes: [GGMLType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]

    /// The forward pass reads exactly these types; others (IQ*, TQ*, MXFP4, ...) are refused when a model loads.
    func testSupportedTypes() {
        XCTAssertEqual(Set(GGMLType.allCases.filter(isSupportedWeightType)), Set(Self.weightTypes))
    }

    /// dequantizeRow equals gguf-py's numpy dequantization bit for bit on random blocks of every supported type.
    /// Both compute each value as the same F32 products in the same order (scale·sub-scale first, then
    /// ·quant, then ± min), and IEEE F32 multiplication and addition are exactly rounded, so no tolerance.
    func testDequantizeMatchesGGUFPy() throws {
        let (cases, version) = try QuantGolden.load()
        XCTAssertEqual(Set(cases.map(\.type)), Set(Self.weightTypes), "the goldens cover every supported type")
        for c in cases {
            XCTAssertTrue(isSupportedWeightType(c.type), c.type.name)
            XCTAssertEqual(c.blocks.count, c.type.rowByteCount(elements: c.elements), c.type.name)
            let got = dequantize(c.type, c.blocks, c.elements)
            var mismatches = 0
            for i in 0..<c.elements where got[i].bitPattern != c.expected[i].bitPattern {
                if mismatches < 5 { XCTFail("\(c.type.name)[\(i)]: \(got[i]) != gguf-py \(version) \(c.expected[i])") }
                mismatches += 1
            }
            XCTAssertEqual(mismatches, 0, "\(c.type.name): values differing from gguf-py \(version)")
        }
    }

    /// Each dot kernel (weights: the golden blocks, whose dequantization gguf-py confirms; activation: random)
    /// equals the Double dot of the dequantized weights with the dequantized activation, up to F32 rounding of
    /// the per-block scale products; for Q8_1 also up to the F16 rounding of d·Σq, which ggml stores instead of
    /// the exact product. And it is within the activation's quantization error of the unquantized dot: each
    /// activation element moves by at most half its block's step (plus the step's own F16 rounding).
    func testDotKernelsAgainstDoubleReference() throws {
        let (cases, _) = try QuantGolden.load()
        var rng = SplitMix(state: 77)
        // Float types are plain F32 products, and their golden values span the whole exponent range.
        for c in cases where c.type.blockElements > 1 {
            let n = c.elements
            // Blocks of very different magnitudes, so per-block scales matter.
            let x = (0..<n).map { i -> Float in
                Float.random(in: -1...1, using: &rng) * Float(1 << ((i / 32) % 5)) / 4
            }
            let got = Double(x.withUnsafeBufferPointer { xp in c.blocks.withUnsafeBytes { rowDot(c.type, $0.baseAddress!, xp.baseAddress!, n) } })
            let w = c.expected.map(Double.init)
            let exact = zip(w, x).reduce(0.0) { $0 + $1.0 * Double($1.1) }
            let magnitude = zip(w, x).reduce(0.0) { $0 + abs($1.0 * Double($1.1)) }
            let a = TestActivation(x, pairedWith: c.type)
            let xq = a.dequantized
            var reference = zip(w, xq).reduce(0.0) { $0 + $1.0 * $1.1 }
            // F32 rounding: a few roundings per block product, then one per block summed.
            let blockCount = Double(n / c.type.blockElements)
            var tolerance = (blockCount + 4) * 0x1p-24 * zip(w, xq).reduce(0.0) { $0 + abs($1.0 * $1.1) }
            if c.type == .q4_1 || c.type == .q5_1 {
                // The min term m·(d·Σq) uses the stored F16 d·Σq: swap it in and allow for its rounding.
                for b in 0..<n / 32 {
                    let m = Double(c.blocks.withUnsafeBytes { halfValue($0, at: (c.type == .q4_1 ? 20 : 24) * b + 2) })
                    let exactSum = xq[32 * b..<32 * b + 32].reduce(0, +)
                    reference += m * (a.blockSums[b] - exactSum)
                    tolerance += abs(m * a.blockSums[b]) * 0x1p-22
                }
            }
            XCTAssertEqual(got, reference, accuracy: tolerance, "\(c.type.name): kernel vs Double dot of dequantized values")
            // Against the unquantized activation: |Σ w·(x − xq)| ≤ Σ |w|·(step/2 + |x|·2^-10).
            var bound = tolerance
            for i in 0..<n { bound += abs(w[i]) * (a.scale[i] / 2 + abs(Double(x[i])) / 1024) }
            XCTAssertEqual(got, exact, accuracy: bound, "\(c.type.name): kernel vs unquantized dot")
            XCTAssertLessThan(bound, 0.05 * magnitude + 1e-6, "\(c.type.name): the bound itself should be tight")
        }
    }
}

/// The F16 at byte `offset` of `bytes`, as a Float.
func halfValue(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Float {
    Float(Float16(bitPattern: UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8))
}
