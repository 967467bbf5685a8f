import CKernels
import VocabKitGGUF

// Block formats (ggml's layouts, all little-endian), read one block at a time:
//   Q8_0  (32 elements, 34 bytes):  f16 d, int8 qs[32];                           x = d * q
//   Q4_0  (32 elements, 18 bytes):  f16 d, u8 qs[16] (low nibbles: 0-15, high: 16-31); x = d * (q - 8)
//   Q4_1  (32 elements, 20 bytes):  f16 d, f16 m, u8 qs[16] (as Q4_0);            x = d * q + m
//   Q5_1  (32 elements, 24 bytes):  f16 d, f16 m, u32 qh, u8 qs[16] (as Q5_0);    x = d * q + m
//   Q5_0  (32 elements, 22 bytes):  f16 d, u32 qh, u8 qs[16] (low nibbles: 0-15, high: 16-31);
//                                   x = d * ((nibble | bit << 4) - 16), bit j of qh belongs to element j
//   Q4_K (256 elements, 144 bytes): f16 d, f16 dmin, u8 scales[12] (8 six-bit scales and mins), u8 qs[128];
//                                   sub-block j (32 elements): x = d * sc_j * q - dmin * m_j
//   Q6_K (256 elements, 210 bytes): u8 ql[128], u8 qh[64], int8 scales[16], f16 d;
//                                   sub-block j (16 elements): x = d * scales_j * (q6 - 32)
//   Q2_K (256 elements, 84 bytes):  u8 scales[16] (low nibble scale, high nibble min), u8 qs[64], f16 d, f16 dmin;
//                                   sub-block j (16 elements): x = d * sc_j * q2 - dmin * m_j
//   Q3_K (256 elements, 110 bytes): u8 hmask[32], u8 qs[64], u8 scales[12] (16 six-bit scales), f16 d;
//                                   sub-block j (16 elements): x = d * (sc_j - 32) * (q2 - (high bit ? 0 : 4))
//   Q5_K (256 elements, 176 bytes): f16 d, f16 dmin, u8 scales[12] (as Q4_K), u8 qh[32], u8 qs[128];
//                                   sub-block j (32 elements): x = d * sc_j * q5 - dmin * m_j
// Q2_K and Q3_K keep each 128-element half's low bits in 32 bytes of qs: element e of the half is 2-bit
// field e / 32 (low bits first) of byte e % 32; Q3_K's third bit is bit 4·half + e / 32 of hmask[e % 32].

/// IEEE half to float with integer and float arithmetic only (the baseline x86-64 target has no F16C, and
/// `Float(Float16)` there is a library call): the exponent and mantissa shifted into float position and
/// scaled by 2^112 are exact for normal and subnormal halves; infinities and NaNs are handled apart.
@inline(__always) func halfToFloat(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let magnitude = UInt32(bits & 0x7FFF)
    if magnitude >= 0x7C00 { return Float(bitPattern: sign | 0x7F80_0000 | (magnitude & 0x3FF) << 13) }
    let scaled = Float(bitPattern: magnitude << 13) * Float(bitPattern: 0x7780_0000)
    return Float(bitPattern: sign | scaled.bitPattern)
}
@inline(__always) func floatToHalfRounded(_ x: Float) -> Float { Float(Float16(x)) }
@inline(__always) func bf16ToFloat(_ bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

@inline(__always) private func u16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt16 {
    UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
}
@inline(__always) private func u32(_ p: UnsafeRawPointer, _ offset: Int) -> UInt32 {
    UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
}

/// The six-bit scale and min of sub-block `j` (0..<8) of a Q4_K block's 12 packed bytes.
@inline(__always) func q4KScaleMin(_ j: Int, _ s: UnsafePointer<UInt8>) -> (scale: UInt8, min: UInt8) {
    if j < 4 { return (s[j] & 63, s[j + 4] & 63) }
    return ((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4))
}

/// The signed scale (-32...31) of sub-block `k` (0..<16) of a Q3_K block's 12 packed bytes: the low four
/// bits are nibbles of bytes 0-7 (low nibbles first), the high two are 2-bit fields of bytes 8-11.
@inline(__always) func q3KScale(_ k: Int, _ s: UnsafePointer<UInt8>) -> Int32 {
    let low = k < 8 ? s[k] & 0x0F : s[k - 8] >> 4
    let high = (s[8 + k % 4] >> UInt8(2 * (k / 4))) & 3
    return Int32(low | high << 4) - 32
}

// MARK: Dequantization (ggml's `to_float`), one function per type, named by TensorTypeTraits

func dequantizeF32(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { dst[i] = src.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
}

func dequantizeF16(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { dst[i] = halfToFloat(u16(src, 2 * i)) }
}

func dequantizeBF16(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { dst[i] = bf16ToFloat(u16(src, 2 * i)) }
}

func dequantizeQ8_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    for b in 0..<n / 32 {
        let block = src + b * 34
        let d = halfToFloat(u16(block, 0))
        let q = (block + 2).assumingMemoryBound(to: Int8.self)
        for i in 0..<32 { dst[b * 32 + i] = d * Float(q[i]) }
    }
}

func dequantizeQ5_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    for b in 0..<n / 32 {
        let block = src + b * 22
        let d = halfToFloat(u16(block, 0))
        let qh = u32(block, 2)
        let qs = (block + 6).assumingMemoryBound(to: UInt8.self)
        let y = dst + b * 32
        for j in 0..<16 {
            let lo = Int32((qs[j] & 0x0F) | UInt8(truncatingIfNeeded: ((qh >> UInt32(j)) & 1) << 4)) - 16
            let hi = Int32((qs[j] >> 4) | UInt8(truncatingIfNeeded: ((qh >> UInt32(j + 16)) & 1) << 4)) - 16
            y[j] = d * Float(lo)
            y[j + 16] = d * Float(hi)
        }
    }
}

func dequantizeQ4_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    for b in 0..<n / 256 {
        let block = src + b * 144
        let d = halfToFloat(u16(block, 0))
        let dmin = halfToFloat(u16(block, 2))
        let scales = (block + 4).assumingMemoryBound(to: UInt8.self)
        let qs = (block + 16).assumingMemoryBound(to: UInt8.self)
        let y = dst + b * 256
        // Each 32 bytes of qs hold two sub-blocks: low nibbles, then high nibbles.
        for chunk in 0..<4 {
            let (s0, m0) = q4KScaleMin(2 * chunk, scales)
            let (s1, m1) = q4KScaleMin(2 * chunk + 1, scales)
            let d0 = d * Float(s0), min0 = dmin * Float(m0)
            let d1 = d * Float(s1), min1 = dmin * Float(m1)
            let q = qs + 32 * chunk
            for l in 0..<32 {
                y[64 * chunk + l] = d0 * Float(q[l] & 0x0F) - min0
                y[64 * chunk + 32 + l] = d1 * Float(q[l] >> 4) - min1
            }
        }
    }
}

func dequantizeQ6_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    for b in 0..<n / 256 {
        let block = src + b * 210
        let ql0 = block.assumingMemoryBound(to: UInt8.self)
        let qh0 = (block + 128).assumingMemoryBound(to: UInt8.self)
        let sc0 = (block + 192).assumingMemoryBound(to: Int8.self)
        let d = halfToFloat(u16(block, 208))
        for half in 0..<2 {
            let ql = ql0 + 64 * half, qh = qh0 + 32 * half, sc = sc0 + 8 * half
            let y = dst + b * 256 + 128 * half
            for l in 0..<32 {
                let g = l / 16
                let q1 = Int32((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32
                let q2 = Int32((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32
                let q3 = Int32((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32
                let q4 = Int32((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32
                y[l] = d * Float(sc[g]) * Float(q1)
                y[l + 32] = d * Float(sc[g + 2]) * Float(q2)
                y[l + 64] = d * Float(sc[g + 4]) * Float(q3)
                y[l + 96] = d * Float(sc[g + 6]) * Float(q4)
            }
        }
    }
}

func dequantizeQ4_0(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    for b in 0..<n / 32 {
        let block = src + b * 18
        let d = halfToFloat(u16(block, 0))
        let qs = (block + 2).assumingMemoryBound(to: UInt8.self)
        let y = dst + b * 32
        for j in 0..<16 {
            y[j] = d * Float(Int32(qs[j] & 0x0F) - 8)
            y[j + 16] = d * Float(Int32(qs[j] >> 4) - 8)
        }
    }
}

func dequantizeQ4_1(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    for b in 0..<n / 32 {
        let block = src + b * 20
        let d = halfToFloat(u16(block, 0)), m = halfToFloat(u16(block, 2))
        let qs = (block + 4).assumingMemoryBound(to: UInt8.self)
        let y = dst + b * 32
        for j in 0..<16 {
            y[j] = d * Float(qs[j] & 0x0F) + m
            y[j + 16] = d * Float(qs[j] >> 4) + m
        }
    }
}

func dequantizeQ5_1(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    for b in 0..<n / 32 {
        let block = src + b * 24
        let d = halfToFloat(u16(block, 0)), m = halfToFloat(u16(block, 2))
        let qh = u32(block, 4)
        let qs = (block + 8).assumingMemoryBound(to: UInt8.self)
        let y = dst + b * 32
        for j in 0..<16 {
            let lo = UInt32(qs[j] & 0x0F) | ((qh >> UInt32(j)) & 1) << 4
            let hi = UInt32(qs[j] >> 4) | ((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = d * Float(lo) + m
            y[j + 16] = d * Float(hi) + m
        }
    }
}

func dequantizeQ2_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    for b in 0..<n / 256 {
        let block = src + b * 84
        let scales = block.assumingMemoryBound(to: UInt8.self)
        let qs = (block + 16).assumingMemoryBound(to: UInt8.self)
        let d = halfToFloat(u16(block, 80)), dmin = halfToFloat(u16(block, 82))
        for half in 0..<2 {
            for j in 0..<4 {
                for part in 0..<2 {
                    let sc = scales[8 * half + 2 * j + part]
                    let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                    let q = qs + 32 * half + 16 * part
                    let y = dst + b * 256 + 128 * half + 32 * j + 16 * part
                    for l in 0..<16 { y[l] = dl * Float((q[l] >> UInt8(2 * j)) & 3) - ml }
                }
            }
        }
    }
}

func dequantizeQ3_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    for b in 0..<n / 256 {
        let block = src + b * 110
        let hmask = block.assumingMemoryBound(to: UInt8.self)
        let qs = (block + 32).assumingMemoryBound(to: UInt8.self)
        let scales = (block + 96).assumingMemoryBound(to: UInt8.self)
        let d = halfToFloat(u16(block, 108))
        for half in 0..<2 {
            for j in 0..<4 {
                // The third bit of every element of run (half, j) is bit 4·half + j of its hmask byte;
                // a clear bit means the value is 4 lower.
                let bit = UInt8(1) << UInt8(4 * half + j)
                for part in 0..<2 {
                    let dl = d * Float(q3KScale(8 * half + 2 * j + part, scales))
                    let y = dst + b * 256 + 128 * half + 32 * j + 16 * part
                    for l in 0..<16 {
                        let i = 16 * part + l
                        let low = Int32((qs[32 * half + i] >> UInt8(2 * j)) & 3)
                        y[l] = dl * Float(hmask[i] & bit != 0 ? low : low - 4)
                    }
                }
            }
        }
    }
}

func dequantizeQ5_K(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    for b in 0..<n / 256 {
        let block = src + b * 176
        let d = halfToFloat(u16(block, 0)), dmin = halfToFloat(u16(block, 2))
        let scales = (block + 4).assumingMemoryBound(to: UInt8.self)
        let qh = (block + 16).assumingMemoryBound(to: UInt8.self)
        let qs = (block + 48).assumingMemoryBound(to: UInt8.self)
        let y = dst + b * 256
        for chunk in 0..<4 {
            let (s0, m0) = q4KScaleMin(2 * chunk, scales)
            let (s1, m1) = q4KScaleMin(2 * chunk + 1, scales)
            let d0 = d * Float(s0), min0 = dmin * Float(m0)
            let d1 = d * Float(s1), min1 = dmin * Float(m1)
            let q = qs + 32 * chunk
            // The fifth bit of sub-block j's element l is bit j of qh[l].
            let bit0 = UInt8(1) << UInt8(2 * chunk), bit1 = bit0 << 1
            for l in 0..<32 {
                y[64 * chunk + l] = d0 * Float((q[l] & 0x0F) | (qh[l] & bit0 != 0 ? 16 : 0)) - min0
                y[64 * chunk + 32 + l] = d1 * Float((q[l] >> 4) | (qh[l] & bit1 != 0 ? 16 : 0)) - min1
            }
        }
    }
}

/// How an activation vector is prepared before a dot product with a row of a given weight type. Like ggml's
/// CPU backend, quantized weights meet a quantized activation (Q8_0 blocks of 32, Q8_1 blocks of 32 that
/// also carry d·Σq for the weights' min term, or Q8_K blocks of 256) and the products are summed in
/// integers, which keeps results close to llama.cpp's. F16 and BF16 weights meet the activation rounded to
/// their own type (`rounded`), as ggml converts it before its F16/BF16 dot products.
enum ActivationFormat { case f32, f16, bf16, q8_0, q8_1, q8_K }

/// An activation vector quantized for integer dot products; buffers are sized once for the largest input.
final class QuantizedActivation: @unchecked Sendable {
    let capacity: Int
    let qs: UnsafeMutablePointer<Int8>       // [capacity]
    let scales: UnsafeMutablePointer<Float>  // [capacity / 32]: per Q8_0 block, or per Q8_K super-block
    let sums: UnsafeMutablePointer<Int32>    // [capacity / 16]: Q8_K sums of 16 quants
    /// [capacity / 32]: per Q8_1 block, d·Σq rounded through F16 (computed with d before its F16 rounding,
    /// as ggml's x86 quantizer does).
    let blockSums: UnsafeMutablePointer<Float>
    let rounded: UnsafeMutablePointer<Float>  // [capacity]: F16/BF16 formats, the values after rounding
    /// [capacity / 4]: for the AVX-512 Q8_0/Q5_0 kernels, eight int32 lanes per Q8_0 block (`vk_q0_offsets`).
    let offsets: UnsafeMutablePointer<Int32>
    /// For the AVX-512 K-quant kernels, the Q8_K activations in groups of 4 vectors (`vk512_prepare_q8_K`):
    /// 1024 quant bytes, 64 int16 sums and 4 scales per group and super-block; grown on demand.
    private(set) var groupQuants = UnsafeMutablePointer<Int8>.allocate(capacity: 1)
    private(set) var groupSums = UnsafeMutablePointer<Int16>.allocate(capacity: 1)
    private(set) var groupScales = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var groupBlocks = 0
    var format: ActivationFormat = .f32
    var count = 0
    /// What `prepareWide` prepared after the last `quantize`, if anything.
    private(set) var widePrepared: WidePreparation?

    init(capacity: Int) {
        self.capacity = capacity
        qs = .allocate(capacity: capacity)
        scales = .allocate(capacity: capacity / 32 + 1)
        sums = .allocate(capacity: capacity / 16 + 1)
        blockSums = .allocate(capacity: capacity / 32 + 1)
        rounded = .allocate(capacity: capacity)
        offsets = .allocate(capacity: capacity / 4 + 8)
    }

    deinit {
        qs.deallocate()
        scales.deallocate()
        sums.deallocate()
        blockSums.deallocate()
        rounded.deallocate()
        offsets.deallocate()
        groupQuants.deallocate()
        groupSums.deallocate()
        groupScales.deallocate()
    }

    /// Prepares what a type's AVX-512 kernel needs (`WidePreparation`) for the `vectors` vectors of `cols`
    /// values just quantized; the kernels then run only when this matches their type's preparation.
    func prepareWide(_ preparation: WidePreparation, vectors: Int, cols: Int) {
        switch preparation {
        case .offsets(let k):
            guard format == .q8_0, count == vectors * cols else { return }
            vk_q0_offsets(qs, Int32(count / 32), k, offsets)
        case .groups:
            guard format == .q8_K, count == vectors * cols else { return }
            let nb = cols / 256, blocks = (vectors + 3) / 4 * nb
            if blocks > groupBlocks {
                groupQuants.deallocate(); groupSums.deallocate(); groupScales.deallocate()
                groupQuants = .allocate(capacity: blocks * 1024)
                groupSums = .allocate(capacity: blocks * 64)
                groupScales = .allocate(capacity: blocks * 4)
                groupBlocks = blocks
            }
            vk512_prepare_q8_K(qs, cols, scales, nb, sums, cols / 16, Int32(vectors), Int32(nb), groupQuants, groupSums, groupScales)
        }
        widePrepared = preparation
    }

    /// Quantizes `x[0..<n]` (n a multiple of the block size) into `format`. With the SIMD kernels the Q8_0 and
    /// Q8_K quantizers run in C (the same values).
    func quantize(_ x: UnsafePointer<Float>, _ n: Int, as format: ActivationFormat) {
        self.format = format
        count = n
        widePrepared = nil
        if simdKernelsEnabled && format == .q8_0 {
            vk_quantize_q8_0(x, Int32(n), qs, scales)
        } else if simdKernelsEnabled && format == .q8_K {
            vk_quantize_q8_K(x, Int32(n), qs, scales, sums)
        } else {
            quantizePortably(x, n, as: format)
        }
    }

    /// The Swift quantizers (the portable path, and the reference the C ones are tested against).
    func quantizePortably(_ x: UnsafePointer<Float>, _ n: Int, as format: ActivationFormat) {
        self.format = format
        count = n
        widePrepared = nil
        switch format {
        case .f32:
            break
        case .f16:
            for i in 0..<n { rounded[i] = floatToHalfRounded(x[i]) }
        case .bf16:
            // Round to nearest even on the upper 16 bits, as ggml_compute_fp32_to_bf16 (NaN stays NaN).
            for i in 0..<n {
                let bits = x[i].bitPattern
                rounded[i] = x[i].isNaN ? x[i] : Float(bitPattern: (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000)
            }
        case .q8_0, .q8_1:
            for b in 0..<n / 32 {
                var amax: Float = 0
                for i in 0..<32 { amax = max(amax, abs(x[32 * b + i])) }
                let d = amax / 127
                let id: Float = amax != 0 ? 127 / amax : 0
                scales[b] = floatToHalfRounded(d)
                var sum: Int32 = 0
                for i in 0..<32 {
                    let q = Int8((x[32 * b + i] * id).rounded(.toNearestOrEven))
                    qs[32 * b + i] = q
                    sum += Int32(q)
                }
                if format == .q8_1 { blockSums[b] = floatToHalfRounded(d * Float(sum)) }
            }
        case .q8_K:
            for b in 0..<n / 256 {
                var amax: Float = 0, peak: Float = 0
                for i in 0..<256 {
                    let v = x[256 * b + i]
                    if abs(v) > amax { amax = abs(v); peak = v }
                }
                if amax == 0 {
                    scales[b] = 0
                    for i in 0..<256 { qs[256 * b + i] = 0 }
                    for g in 0..<16 { sums[16 * b + g] = 0 }
                    continue
                }
                let iscale = -127 / peak
                for i in 0..<256 {
                    let v = (iscale * x[256 * b + i]).rounded(.toNearestOrEven)
                    qs[256 * b + i] = Int8(min(127, max(-128, v)))
                }
                for g in 0..<16 {
                    var s: Int32 = 0
                    for i in 0..<16 { s += Int32(qs[256 * b + 16 * g + i]) }
                    sums[16 * b + g] = s
                }
                scales[b] = 1 / iscale
            }
        }
    }
}

// MARK: Dot products (ggml's `vec_dot`), one function per type, named by TensorTypeTraits. Each takes a row of
// `n` elements and the activation prepared in the type's `activationFormat` (`x` itself for F32).

func dotF32(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ a: QuantizedActivation, _ n: Int) -> Float {
    var s: Float = 0
    for i in 0..<n { s += row.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) * x[i] }
    return s
}

/// F16 weights against activations rounded to F16, summed as llama.cpp's x86 CPU backend sums them: llamafile's
/// `tinyBLAS` (AVX2, F16C) keeps one 8-lane accumulator per output, fused-multiply-adds 8 products at a time into
/// it, and adds the lanes as `hsum` does, ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)). Lengths that are not a multiple
/// of 8 (tinyBLAS refuses them) sum in order.
func dotF16(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ a: QuantizedActivation, _ n: Int) -> Float {
    let y = a.rounded
    guard n % 8 == 0 else {
        var s: Float = 0
        for i in 0..<n { s += halfToFloat(u16(row, 2 * i)) * y[i] }
        return s
    }
    var lanes = SIMD8<Float>(repeating: 0)
    for k in stride(from: 0, to: n, by: 8) {
        for l in 0..<8 { lanes[l] = lanes[l].addingProduct(halfToFloat(u16(row, 2 * (k + l))), y[k + l]) }
    }
    let r0 = lanes[0] + lanes[4], r1 = lanes[1] + lanes[5], r2 = lanes[2] + lanes[6], r3 = lanes[3] + lanes[7]
    return (r0 + r2) + (r1 + r3)
}

func dotBF16(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ a: QuantizedActivation, _ n: Int) -> Float {
    var s: Float = 0
    let y = a.rounded
    for i in 0..<n { s += bf16ToFloat(u16(row, 2 * i)) * y[i] }
    return s
}

func dotQ8_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ a: QuantizedActivation, _ n: Int) -> Float {
    var sum: Float = 0
    for b in 0..<n / 32 {
        let block = row + 34 * b
        let q = (block + 2).assumingMemoryBound(to: Int8.self)
        let y = a.qs + 32 * b
        var s: Int32 = 0
        for i in 0..<32 { s &+= Int32(q[i]) &* Int32(y[i]) }
        sum += halfToFloat(u16(block, 0)) * a.scales[b] * Float(s)
    }
    return sum
}

/// For each byte of Q5_0's qh, the fifth bits of 8 elements spread to one byte each (0x10 or 0).
nonisolated(unsafe) private let q5HighBits: UnsafeMutablePointer<UInt64> = {
    let table = UnsafeMutablePointer<UInt64>.allocate(capacity: 256)
    for b in 0..<256 {
        var v: UInt64 = 0
        for i in 0..<8 where b & (1 << i) != 0 { v |= 0x10 << (8 * UInt64(i)) }
        table[b] = v
    }
    return table
}()

/// The 32 five-bit values (0...31) of a Q5_0/Q5_1 block, assembled eight at a time with 64-bit operations
/// from the 16 nibble bytes at `qs` and the 32 high bits at `qh` (byte offsets into the block).
@inline(__always)
private func q5Values(_ block: UnsafeRawPointer, qh qhOffset: Int, qs qsOffset: Int) -> (UInt64, UInt64, UInt64, UInt64) {
    let high = q5HighBits
    let mask: UInt64 = 0x0F0F_0F0F_0F0F_0F0F
    let qh = u32(block, qhOffset)
    let qs0 = UInt64(littleEndian: block.loadUnaligned(fromByteOffset: qsOffset, as: UInt64.self))
    let qs1 = UInt64(littleEndian: block.loadUnaligned(fromByteOffset: qsOffset + 8, as: UInt64.self))
    return ((qs0 & mask) | high[Int(qh & 0xFF)], (qs1 & mask) | high[Int((qh >> 8) & 0xFF)],
            ((qs0 >> 4) & mask) | high[Int((qh >> 16) & 0xFF)], ((qs1 >> 4) & mask) | high[Int(qh >> 24)])
}

func dotQ5_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ a: QuantizedActivation, _ n: Int) -> Float {
    var sum: Float = 0
    for b in 0..<n / 32 {
        let block = row + 22 * b
        var w = q5Values(block, qh: 2, qs: 6)
        let y = a.qs + 32 * b
        var s: Int32 = 0, ysum: Int32 = 0
        withUnsafeBytes(of: &w) { wb in
            for i in 0..<32 {
                s &+= Int32(wb[i]) &* Int32(y[i])
                ysum &+= Int32(y[i])
            }
        }
        sum += halfToFloat(u16(block, 0)) * a.scales[b] * Float(s &- 16 &* ysum)
    }
    return sum
}

func dotQ4_K(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ a: QuantizedActivation, _ n: Int) -> Float {
    var sum: Float = 0
    for b in 0..<n / 256 {
        let block = row + 144 * b
        let scales = (block + 4).assumingMemoryBound(to: UInt8.self)
        let qs = (block + 16).assumingMemoryBound(to: UInt8.self)
        let y = a.qs + 256 * b
        let bsums = a.sums + 16 * b
        var sumi: Int32 = 0, summ: Int32 = 0
        for chunk in 0..<4 {
            let (s0, m0) = q4KScaleMin(2 * chunk, scales)
            let (s1, m1) = q4KScaleMin(2 * chunk + 1, scales)
            let q = qs + 32 * chunk
            let y0 = y + 64 * chunk, y1 = y0 + 32
            var p0: Int32 = 0, p1: Int32 = 0
            for l in 0..<32 {
                p0 &+= Int32(q[l] & 0x0F) &* Int32(y0[l])
                p1 &+= Int32(q[l] >> 4) &* Int32(y1[l])
            }
            sumi &+= Int32(s0) &* p0 &+ Int32(s1) &* p1
            summ &+= Int32(m0) &* (bsums[4 * chunk] &+ bsums[4 * chunk + 1])
                &+ Int32(m1) &* (bsums[4 * chunk + 2] &+ bsums[4 * chunk + 3])
        }
        let d = halfToFloat(u16(block, 0)) * a.scales[b]
        let dmin = halfToFloat(u16(block, 2)) * a.scales[b]
        sum += d * Float(sumi) - dmin * Float(summ)
    }
    return sum
}

func dotQ6_K(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ a: QuantizedActivation, _ n: Int) -> Float {
    var sum: Float = 0
    for b in 0..<n / 256 {
        let block = row + 210 * b
        let ql0 = block.assumingMemoryBound(to: UInt8.self)
        let qh0 = (block + 128).assumingMemoryBound(to: UInt8.self)
        let sc0 = (block + 192).assumingMemoryBound(to: Int8.self)
        var sumi: Int32 = 0
        for half in 0..<2 {
            let ql = ql0 + 64 * half, qh = qh0 + 32 * half, sc = sc0 + 8 * half
            let y = a.qs + 256 * b + 128 * half
            for g in 0..<2 {
                var p1: Int32 = 0, p2: Int32 = 0, p3: Int32 = 0, p4: Int32 = 0
                for k in 0..<16 {
                    let l = 16 * g + k
                    let h = qh[l]
                    p1 &+= (Int32((ql[l] & 0x0F) | ((h & 3) << 4)) &- 32) &* Int32(y[l])
                    p2 &+= (Int32((ql[l + 32] & 0x0F) | (((h >> 2) & 3) << 4)) &- 32) &* Int32(y[l + 32])
                    p3 &+= (Int32((ql[l] >> 4) | (((h >> 4) & 3) << 4)) &- 32) &* Int32(y[l + 64])
                    p4 &+= (Int32((ql[l + 32] >> 4) | (((h >> 6) & 3) << 4)) &- 32) &* Int32(y[l + 96])
                }
                sumi &+= Int32(sc[g]) &* p1 &+ Int32(sc[g + 2]) &* p2 &+ Int32(sc[g + 4]) &* p3 &+ Int32(sc[g + 6]) &* p4
            }
        }
        sum += halfToFloat(u16(block, 208)) * a.scales[b] * Float(sumi)
    }
    return sum
}


func dotQ4_0(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ a: QuantizedActivation, _ n: Int) -> Float {
    var sum: Float = 0
    for b in 0..<n / 32 {
        let block = row + 18 * b
        let qs = (block + 2).assumingMemoryBound(to: UInt8.self)
        let y = a.qs + 32 * b
        var s: Int32 = 0, ysum: Int32 = 0
        for j in 0..<16 {
            s &+= Int32(qs[j] & 0x0F) &* Int32(y[j]) &+ Int32(qs[j] >> 4) &* Int32(y[j + 16])
            ysum &+= Int32(y[j]) &+ Int32(y[j + 16])
        }
        // Σ (q - 8)·y, with the offset taken out of the loop.
        sum += halfToFloat(u16(block, 0)) * a.scales[b] * Float(s &- 8 &* ysum)
    }
    return sum
}

/// Σ (d·q + m)·(dy·y) = d·dy·Σ q·y + m·(dy·Σ y): the activation's Q8_1 blocks carry dy·Σ y.
func dotQ4_1(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ a: QuantizedActivation, _ n: Int) -> Float {
    var sum: Float = 0
    for b in 0..<n / 32 {
        let block = row + 20 * b
        let qs = (block + 4).assumingMemoryBound(to: UInt8.self)
        let y = a.qs + 32 * b
        var s: Int32 = 0
        for j in 0..<16 { s &+= Int32(qs[j] & 0x0F) &* Int32(y[j]) &+ Int32(qs[j] >> 4) &* Int32(y[j + 16]) }
        sum += halfToFloat(u16(block, 0)) * a.scales[b] * Float(s) + halfToFloat(u16(block, 2)) * a.blockSums[b]
    }
    return sum
}

func dotQ5_1(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ a: QuantizedActivation, _ n: Int) -> Float {
    var sum: Float = 0
    for b in 0..<n / 32 {
        let block = row + 24 * b
        var w = q5Values(block, qh: 4, qs: 8)
        let y = a.qs + 32 * b
        var s: Int32 = 0
        withUnsafeBytes(of: &w) { wb in
            for i in 0..<32 { s &+= Int32(wb[i]) &* Int32(y[i]) }
        }
        sum += halfToFloat(u16(block, 0)) * a.scales[b] * Float(s) + halfToFloat(u16(block, 2)) * a.blockSums[b]
    }
    return sum
}

/// Σ (d·sc·q − dmin·m)·(dy·y): the min term uses the activation's sums of 16 quants.
func dotQ2_K(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ a: QuantizedActivation, _ n: Int) -> Float {
    var sum: Float = 0
    for b in 0..<n / 256 {
        let block = row + 84 * b
        let scales = block.assumingMemoryBound(to: UInt8.self)
        let qs = (block + 16).assumingMemoryBound(to: UInt8.self)
        let bsums = a.sums + 16 * b
        var sumi: Int32 = 0, summ: Int32 = 0
        for g in 0..<16 { summ &+= Int32(scales[g] >> 4) &* bsums[g] }
        for half in 0..<2 {
            for j in 0..<4 {
                let shift = UInt8(2 * j)
                for part in 0..<2 {
                    let q = qs + 32 * half + 16 * part
                    let y = a.qs + 256 * b + 128 * half + 32 * j + 16 * part
                    var p: Int32 = 0
                    for l in 0..<16 { p &+= Int32((q[l] >> shift) & 3) &* Int32(y[l]) }
                    sumi &+= Int32(scales[8 * half + 2 * j + part] & 0x0F) &* p
                }
            }
        }
        let d = halfToFloat(u16(block, 80)) * a.scales[b]
        let dmin = halfToFloat(u16(block, 82)) * a.scales[b]
        sum += d * Float(sumi) - dmin * Float(summ)
    }
    return sum
}

func dotQ3_K(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ a: QuantizedActivation, _ n: Int) -> Float {
    var sum: Float = 0
    for b in 0..<n / 256 {
        let block = row + 110 * b
        let hmask = block.assumingMemoryBound(to: UInt8.self)
        let qs = (block + 32).assumingMemoryBound(to: UInt8.self)
        let scales = (block + 96).assumingMemoryBound(to: UInt8.self)
        var sumi: Int32 = 0
        for half in 0..<2 {
            for j in 0..<4 {
                let shift = UInt8(2 * j), bit = UInt8(1) << UInt8(4 * half + j)
                for part in 0..<2 {
                    let y = a.qs + 256 * b + 128 * half + 32 * j + 16 * part
                    var p: Int32 = 0
                    for l in 0..<16 {
                        let i = 16 * part + l
                        let low = Int32((qs[32 * half + i] >> shift) & 3)
                        p &+= (hmask[i] & bit != 0 ? low : low &- 4) &* Int32(y[l])
                    }
                    sumi &+= q3KScale(8 * half + 2 * j + part, scales) &* p
                }
            }
        }
        sum += halfToFloat(u16(block, 108)) * a.scales[b] * Float(sumi)
    }
    return sum
}

func dotQ5_K(_ row: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ a: QuantizedActivation, _ n: Int) -> Float {
    var sum: Float = 0
    for b in 0..<n / 256 {
        let block = row + 176 * b
        let scales = (block + 4).assumingMemoryBound(to: UInt8.self)
        let qh = (block + 16).assumingMemoryBound(to: UInt8.self)
        let qs = (block + 48).assumingMemoryBound(to: UInt8.self)
        let y = a.qs + 256 * b
        let bsums = a.sums + 16 * b
        var sumi: Int32 = 0, summ: Int32 = 0
        for chunk in 0..<4 {
            let (s0, m0) = q4KScaleMin(2 * chunk, scales)
            let (s1, m1) = q4KScaleMin(2 * chunk + 1, scales)
            let q = qs + 32 * chunk
            let bit0 = UInt8(1) << UInt8(2 * chunk), bit1 = bit0 << 1
            let y0 = y + 64 * chunk, y1 = y0 + 32
            var p0: Int32 = 0, p1: Int32 = 0
            for l in 0..<32 {
                p0 &+= Int32((q[l] & 0x0F) | (qh[l] & bit0 != 0 ? 16 : 0)) &* Int32(y0[l])
                p1 &+= Int32((q[l] >> 4) | (qh[l] & bit1 != 0 ? 16 : 0)) &* Int32(y1[l])
            }
            sumi &+= Int32(s0) &* p0 &+ Int32(s1) &* p1
            summ &+= Int32(m0) &* (bsums[4 * chunk] &+ bsums[4 * chunk + 1])
                &+ Int32(m1) &* (bsums[4 * chunk + 2] &+ bsums[4 * chunk + 3])
        }
        let d = halfToFloat(u16(block, 0)) * a.scales[b]
        let dmin = halfToFloat(u16(block, 2)) * a.scales[b]
        sum += d * Float(sumi) - dmin * Float(summ)
    }
    return sum
}
