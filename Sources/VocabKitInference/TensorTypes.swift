import CKernels
import VocabKitGGUF

/// Everything the forward pass and `synth` need to know about one weight type, in one entry per type (as
/// ggml's `type_traits` and `type_traits_cpu`). The block geometry itself (elements and bytes per block) is
/// the file format's, on `GGMLType`; this adds how to compute with a row. Supporting a new type means one
/// entry in `TensorTypeTraits.all` (and its dequantize/dot functions), nothing else. A class, so that a
/// `Matrix` carries one reference to it (copying the closures one by one into every parallel job costs
/// reference counting).
package final class TensorTypeTraits: Sendable {
    /// Dequantizes `n` elements (whole blocks) of a row into floats (ggml's `to_float`).
    package typealias Dequantize = @Sendable (_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) -> Void
    /// Dot product of a row of `n` elements with an activation: the F32 vector `x` and its prepared form in
    /// `activationFormat` (ggml's `vec_dot`).
    typealias Dot = @Sendable (_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ a: QuantizedActivation, _ n: Int) -> Float

    package let type: GGMLType
    package let dequantize: Dequantize
    /// The form an activation takes before meeting a row of this type (ggml's `vec_dot_type`).
    let activationFormat: ActivationFormat
    /// The portable dot product, summed in integers per block for quantized types.
    let dot: Dot
    /// The batched AVX2 kernel of CKernels, where there is one; nil runs the portable `dot` row by row.
    let simdKernel: SIMDKernel?
    /// How `synth` writes random weights of this type.
    let synthetic: SyntheticEncoding
    /// llama.cpp's `llama_ftype` for a model whose matrices are all this type (the "_S" mix for K-quants).
    let fileType: Int

    init(type: GGMLType, dequantize: @escaping Dequantize, activationFormat: ActivationFormat, dot: @escaping Dot,
         simdKernel: SIMDKernel?, synthetic: SyntheticEncoding, fileType: Int) {
        self.type = type
        self.dequantize = dequantize
        self.activationFormat = activationFormat
        self.dot = dot
        self.simdKernel = simdKernel
        self.synthetic = synthetic
        self.fileType = fileType
    }

    package var blockElements: Int { type.blockElements }
    package var blockBytes: Int { type.blockBytes }
    package var hasSIMDKernel: Bool { simdKernel != nil }

    /// The traits of `type`, or nil when inference cannot read it (IQ*, TQ*, MXFP4, ...).
    package static func of(_ type: GGMLType) -> TensorTypeTraits? {
        let index = Int(type.rawValue)
        return index < byRawValue.count ? byRawValue[index] : nil
    }

    /// Every type inference reads, in ggml's id order.
    package static var supported: [GGMLType] { all.map(\.type) }

    private static let byRawValue: [TensorTypeTraits?] = {
        var table = [TensorTypeTraits?](repeating: nil, count: Int(GGMLType.allCases.map(\.rawValue).max() ?? 0) + 1)
        for traits in all { table[Int(traits.type.rawValue)] = traits }
        return table
    }()

    // MARK: The table

    static let all: [TensorTypeTraits] = [
        TensorTypeTraits(type: .f32, dequantize: dequantizeF32, activationFormat: .f32, dot: dotF32, simdKernel: nil,
                         synthetic: .elements { v, p in p.storeBytes(of: v.bitPattern.littleEndian, as: UInt32.self) }, fileType: 0),
        TensorTypeTraits(type: .f16, dequantize: dequantizeF16, activationFormat: .f16, dot: dotF16, simdKernel: nil,
                         synthetic: .elements { v, p in p.storeBytes(of: Float16(v).bitPattern.littleEndian, as: UInt16.self) }, fileType: 1),
        TensorTypeTraits(type: .q4_0, dequantize: dequantizeQ4_0, activationFormat: .q8_0, dot: dotQ4_0, simdKernel: nil,
                         synthetic: .blocks([ScaleField(offset: 0, multiple: 1)]), fileType: 2),
        TensorTypeTraits(type: .q4_1, dequantize: dequantizeQ4_1, activationFormat: .q8_1, dot: dotQ4_1, simdKernel: nil,
                         synthetic: .blocks([ScaleField(offset: 0, multiple: 1), ScaleField(offset: 2, multiple: -7.5)]), // q in 0...15
                         fileType: 3),
        TensorTypeTraits(type: .q5_0, dequantize: dequantizeQ5_0, activationFormat: .q8_0, dot: dotQ5_0, simdKernel: { p in
                             vk_gemm_q5_0(p.weights, p.rowBytes, p.rows, p.blocks(32), p.quants, p.quantStride, p.scales, p.scaleStride,
                                          p.vectors, p.out, p.outStride)
                         }, synthetic: .blocks([ScaleField(offset: 0, multiple: 1)]), fileType: 8),
        TensorTypeTraits(type: .q5_1, dequantize: dequantizeQ5_1, activationFormat: .q8_1, dot: dotQ5_1, simdKernel: nil,
                         synthetic: .blocks([ScaleField(offset: 0, multiple: 1), ScaleField(offset: 2, multiple: -15.5)]), // q in 0...31
                         fileType: 9),
        TensorTypeTraits(type: .q8_0, dequantize: dequantizeQ8_0, activationFormat: .q8_0, dot: dotQ8_0, simdKernel: { p in
                             vk_gemm_q8_0(p.weights, p.rowBytes, p.rows, p.blocks(32), p.quants, p.quantStride, p.scales, p.scaleStride,
                                          p.vectors, p.out, p.outStride)
                         }, synthetic: .blocks([ScaleField(offset: 0, multiple: 1)]), fileType: 7),
        // Mean sc·q = 7.5·1.5, mean min = 7.5.
        TensorTypeTraits(type: .q2_K, dequantize: dequantizeQ2_K, activationFormat: .q8_K, dot: dotQ2_K, simdKernel: nil,
                         synthetic: .blocks([ScaleField(offset: 80, multiple: 1), ScaleField(offset: 82, multiple: 1.5)]), fileType: 10),
        // Signed scales and quants.
        TensorTypeTraits(type: .q3_K, dequantize: dequantizeQ3_K, activationFormat: .q8_K, dot: dotQ3_K, simdKernel: nil,
                         synthetic: .blocks([ScaleField(offset: 108, multiple: 1)]), fileType: 11),
        // Mean sc·q = 31.5·7.5, mean min = 31.5.
        TensorTypeTraits(type: .q4_K, dequantize: dequantizeQ4_K, activationFormat: .q8_K, dot: dotQ4_K, simdKernel: { p in
                             // ggml takes a micro-batch's vectors in fours (its gemm) and the rest one by one (its gemv).
                             let grouped = Int32(max(0, min(Int(p.vectors), p.batchSize - p.batchSize % 4 - p.batchIndex)))
                             vk_gemm_q4_K(p.weights, p.rowBytes, p.rows, p.blocks(256), p.quants, p.quantStride, p.scales, p.scaleStride,
                                          p.sums, p.sumStride, p.vectors, grouped, p.out, p.outStride)
                         }, synthetic: .blocks([ScaleField(offset: 0, multiple: 1), ScaleField(offset: 2, multiple: 7.5)]), fileType: 14),
        TensorTypeTraits(type: .q5_K, dequantize: dequantizeQ5_K, activationFormat: .q8_K, dot: dotQ5_K, simdKernel: nil,
                         synthetic: .blocks([ScaleField(offset: 0, multiple: 1), ScaleField(offset: 2, multiple: 15.5)]), fileType: 16),
        TensorTypeTraits(type: .q6_K, dequantize: dequantizeQ6_K, activationFormat: .q8_K, dot: dotQ6_K, simdKernel: { p in
                             // ggml switches to its tiled K-quant matmul for micro-batches of 8 or more.
                             vk_gemm_q6_K(p.weights, p.rowBytes, p.rows, p.blocks(256), p.quants, p.quantStride, p.scales, p.scaleStride,
                                          p.sums, p.sumStride, p.vectors, p.batchSize >= 8 ? 1 : 0, p.out, p.outStride)
                         }, synthetic: .blocks([ScaleField(offset: 208, multiple: 1)]), fileType: 18),
        TensorTypeTraits(type: .bf16, dequantize: dequantizeBF16, activationFormat: .bf16, dot: dotBF16, simdKernel: nil,
                         synthetic: .elements { v, p in
                             // Round to nearest even on the upper 16 bits (values are finite).
                             let bits = v.bitPattern
                             let rounded = UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16)
                             p.storeBytes(of: rounded.littleEndian, as: UInt16.self)
                         }, fileType: 32),
    ]
}

/// An F16 scale field of a quantized block: its byte offset and the multiple of the block's base scale that
/// `synth` writes there (mins are chosen so that a block's values average about zero).
struct ScaleField: Sendable {
    let offset: Int
    let multiple: Float
}

/// How `synth` writes random weights of a type.
enum SyntheticEncoding: Sendable {
    /// Float types: each value rounded to the type and stored little-endian at the pointer.
    case elements(@Sendable (Float, UnsafeMutableRawPointer) -> Void)
    /// Block types: random quant bytes, with these F16 scale fields set from a base scale.
    case blocks([ScaleField])
}

/// One call of a batched SIMD kernel: rows of a weight matrix against `vectors` activations quantized
/// together (vector v's quants at `quants + v · quantStride`, and likewise its block scales and Q8_K sums),
/// results to `out[v · outStride + r]`. Some of ggml's kernels depend on the micro-batch a vector is part
/// of: `batchSize` is its size and `batchIndex` the position of vector 0 in it.
struct SIMDProduct {
    let weights: UnsafeRawPointer
    let rowBytes: Int
    let rows: Int32
    let cols: Int
    let quants: UnsafePointer<Int8>
    let quantStride: Int
    let scales: UnsafePointer<Float>
    let scaleStride: Int
    let sums: UnsafePointer<Int32>
    let sumStride: Int
    let vectors: Int32
    let batchSize: Int
    let batchIndex: Int
    let out: UnsafeMutablePointer<Float>
    let outStride: Int

    /// Blocks per row for a block size.
    func blocks(_ elements: Int) -> Int32 { Int32(cols / elements) }
}

typealias SIMDKernel = @Sendable (SIMDProduct) -> Void

// MARK: Entry points by type (for callers holding a GGMLType rather than its traits)

/// Types the forward pass can read.
package func isSupportedWeightType(_ type: GGMLType) -> Bool { TensorTypeTraits.of(type) != nil }

/// Dequantizes `n` elements (whole blocks) of a row starting at `src` into `dst`; zeros for a type inference
/// does not read (callers check `isSupportedWeightType` first).
package func dequantizeRow(_ type: GGMLType, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    guard let traits = TensorTypeTraits.of(type) else {
        dst.update(repeating: 0, count: n)
        return
    }
    traits.dequantize(src, dst, n)
}

extension GGMLType {
    /// The activation format of the type's dot product (F32 for types inference does not read).
    var activationFormat: ActivationFormat { TensorTypeTraits.of(self)?.activationFormat ?? .f32 }
}

/// Dot product of one row of `type` with `x` as the forward pass computes it (quantized activation for
/// quantized types); allocates, so meant for tests and one-off checks. 0 for a type inference does not read.
package func rowDot(_ type: GGMLType, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    guard let traits = TensorTypeTraits.of(type) else { return 0 }
    let a = QuantizedActivation(capacity: n + 256)
    a.quantize(x, n, as: traits.activationFormat)
    return traits.dot(row, x, a, n)
}

/// Dot product of one weight row with an activation already prepared in `type.activationFormat` (tests).
func dotRow(_ type: GGMLType, _ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ a: QuantizedActivation, _ n: Int) -> Float {
    TensorTypeTraits.of(type)?.dot(row, x, a, n) ?? 0
}
