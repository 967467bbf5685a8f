// AVX2/FMA/F16C kernels, compiled for that target per function and only called after vk_cpu_has_avx2().
// See include/ckernels.h for what each computes and why the accumulation order is what it is.
// On other CPUs (arm64: Apple Silicon, Linux aarch64) only stubs are compiled: vk_cpu_has_avx2() is 0 there,
// so the Swift side never calls the others and runs its portable kernels.
#include "ckernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define VK_AVX2 __attribute__((target("avx2,fma,f16c")))

int vk_cpu_has_avx2(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    }
    return cached;
}

// MARK: helpers

VK_AVX2 static inline float vk_half(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

/// Sum of 8 float lanes: (l0+l4, l1+l5, l2+l6, l3+l7), then the pairs (0,2) and (1,3), then those two.
VK_AVX2 static inline float vk_hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

VK_AVX2 static inline int32_t vk_hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 1));
    return _mm_cvtsi128_si32(s);
}

/// Products of 32 signed bytes summed in fours: lane i = sum of x[j]*y[j] for j in 4i..<4i+4, as float.
/// maddubs needs an unsigned operand, so x's sign moves onto y; no pair sum can saturate (|x|, |y| <= 128,
/// and y is never -128 here).
VK_AVX2 static inline __m256 vk_dot32(__m256i x, __m256i y) {
    const __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

/// A Q5_0 block's 32 values (-16...15) as signed bytes.
VK_AVX2 static inline __m256i vk_unpack_q5_0(const uint8_t *blk) {
    const __m128i qs = _mm_loadu_si128((const __m128i *)(blk + 6));
    const __m256i nibbles = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(qs, 4), qs), _mm256_set1_epi8(0x0F));
    uint32_t qh;
    memcpy(&qh, blk + 2, 4);
    // Byte j gets qh's byte j / 8, then keeps bit j % 8.
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh),
        _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
    return _mm256_sub_epi8(nibbles, _mm256_andnot_si256(set, _mm256_set1_epi8(16)));
}

// MARK: activation quantization

VK_AVX2 static inline __m256 vk_abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

/// Rounds 32 floats (already scaled) to the nearest integers, ties to even, as signed bytes in order.
VK_AVX2 static inline __m256i vk_round_pack32(__m256 v0, __m256 v1, __m256 v2, __m256 v3) {
    const __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(v0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(v1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(v2, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(v3, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    // The packs work within 128-bit halves; the permutation puts the 4-byte groups back in order.
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

VK_AVX2 void vk_quantize_q8_0(const float *x, int n, int8_t *qs, float *scales) {
    for (int b = 0; b < n / 32; b++) {
        const float *xb = x + 32 * (size_t)b;
        const __m256 v0 = _mm256_loadu_ps(xb), v1 = _mm256_loadu_ps(xb + 8), v2 = _mm256_loadu_ps(xb + 16), v3 = _mm256_loadu_ps(xb + 24);
        const __m256 m = _mm256_max_ps(_mm256_max_ps(vk_abs_ps(v0), vk_abs_ps(v1)), _mm256_max_ps(vk_abs_ps(v2), vk_abs_ps(v3)));
        __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(m, 1), _mm256_castps256_ps128(m));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        scales[b] = _cvtsh_ss(_cvtss_sh(amax / 127.0f, _MM_FROUND_TO_NEAREST_INT));
        const __m256 id = _mm256_set1_ps(amax != 0 ? 127.0f / amax : 0.0f);
        _mm256_storeu_si256((__m256i *)(qs + 32 * (size_t)b),
                            vk_round_pack32(_mm256_mul_ps(v0, id), _mm256_mul_ps(v1, id), _mm256_mul_ps(v2, id), _mm256_mul_ps(v3, id)));
    }
}

VK_AVX2 void vk_quantize_q8_K(const float *x, int n, int8_t *qs, float *scales, int32_t *sums) {
    for (int b = 0; b < n / 256; b++) {
        const float *xb = x + 256 * (size_t)b;
        int8_t *q = qs + 256 * (size_t)b;
        __m256 m = _mm256_setzero_ps();
        for (int i = 0; i < 256; i += 8) m = _mm256_max_ps(m, vk_abs_ps(_mm256_loadu_ps(xb + i)));
        __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(m, 1), _mm256_castps256_ps128(m));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        const float amax = _mm_cvtss_f32(m4);
        if (amax == 0) {
            scales[b] = 0;
            memset(q, 0, 256);
            memset(sums + 16 * (size_t)b, 0, 16 * sizeof(int32_t));
            continue;
        }
        // The first element of largest magnitude gives the scale its sign.
        float peak = 0;
        for (int i = 0; i < 256; i++) if (fabsf(xb[i]) == amax) { peak = xb[i]; break; }
        const float iscale = -127.0f / peak;
        const __m256 is = _mm256_set1_ps(iscale);
        for (int i = 0; i < 256; i += 32) {
            // Values are within ±127 (±127.5 before rounding at most), so saturating packs never clip.
            const __m256i p = vk_round_pack32(_mm256_mul_ps(_mm256_loadu_ps(xb + i), is), _mm256_mul_ps(_mm256_loadu_ps(xb + i + 8), is),
                                              _mm256_mul_ps(_mm256_loadu_ps(xb + i + 16), is), _mm256_mul_ps(_mm256_loadu_ps(xb + i + 24), is));
            _mm256_storeu_si256((__m256i *)(q + i), _mm256_min_epi8(p, _mm256_set1_epi8(127)));
        }
        for (int g = 0; g < 16; g++) {
            const __m128i v = _mm_loadu_si128((const __m128i *)(q + 16 * g));
            const __m256i w = _mm256_cvtepi8_epi16(v);
            const __m256i s = _mm256_madd_epi16(w, _mm256_set1_epi16(1));
            sums[16 * (size_t)b + g] = vk_hsum_i32(s);
        }
        scales[b] = 1 / iscale;
    }
}

// MARK: Q8_0 and Q5_0 (32-element blocks, Q8_0 activations)

/// Micro-kernel: NR weight rows against NV activation vectors (constants after inlining, so that the
/// accumulators stay in registers); each unpacked weight block and each loaded activation block serve several
/// products. `UNPACK` turns block `blk` into 32 signed bytes. Decoding is bound by reading the weights, so each
/// block also prefetches the same block two rows on (measured: ~17 -> ~23 tokens/s on one thread here).
#define VK_GEMM_Q0(NAME, BLOCK_BYTES, UNPACK)                                                                    \
__attribute__((always_inline)) VK_AVX2 static inline void NAME##_tile(                                          \
        const int NR, const int NV, const uint8_t *w, size_t row_bytes, int nb,                                 \
        const int8_t *aq, size_t aq_stride, const float *ad, size_t ad_stride, float *out, size_t out_stride) { \
    __m256 acc[2][4];                                                                                           \
    for (int i = 0; i < NR; i++) for (int v = 0; v < NV; v++) acc[i][v] = _mm256_setzero_ps();                 \
    for (int b = 0; b < nb; b++) {                                                                              \
        __m256i qx[2], ax[2];                                                                                   \
        __m256 dw[2];                                                                                           \
        for (int i = 0; i < NR; i++) {                                                                          \
            const uint8_t *blk = w + (size_t)i * row_bytes + (size_t)b * (BLOCK_BYTES);                         \
            _mm_prefetch((const char *)blk + 2 * row_bytes, _MM_HINT_T0);                                       \
            dw[i] = _mm256_set1_ps(vk_half(blk));                                                               \
            qx[i] = UNPACK;                                                                                     \
            ax[i] = _mm256_sign_epi8(qx[i], qx[i]);                                                             \
        }                                                                                                       \
        for (int v = 0; v < NV; v++) {                                                                          \
            const __m256i qy = _mm256_loadu_si256((const __m256i *)(aq + (size_t)v * aq_stride + 32 * (size_t)b)); \
            const __m256 dy = _mm256_broadcast_ss(ad + (size_t)v * ad_stride + b);                              \
            for (int i = 0; i < NR; i++) {                                                                      \
                const __m256i p16 = _mm256_maddubs_epi16(ax[i], _mm256_sign_epi8(qy, qx[i]));                   \
                const __m256 p = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));              \
                acc[i][v] = _mm256_fmadd_ps(_mm256_mul_ps(dw[i], dy), p, acc[i][v]);                            \
            }                                                                                                   \
        }                                                                                                       \
    }                                                                                                           \
    for (int v = 0; v < NV; v++)                                                                                \
        for (int i = 0; i < NR; i++) out[(size_t)v * out_stride + i] = vk_hsum8(acc[i][v]);                    \
}                                                                                                               \
VK_AVX2 void NAME(const void *w, size_t row_bytes, int rows, int nb,                                            \
                  const int8_t *aq, size_t aq_stride, const float *ad, size_t ad_stride,                        \
                  int nvec, float *out, size_t out_stride) {                                                    \
    for (int v0 = 0; v0 < nvec; v0 += 4) {                                                                      \
        const int nv = nvec - v0 < 4 ? nvec - v0 : 4;                                                           \
        const int8_t *q = aq + (size_t)v0 * aq_stride;                                                          \
        const float *d = ad + (size_t)v0 * ad_stride;                                                           \
        float *o = out + (size_t)v0 * out_stride;                                                               \
        for (int r0 = 0; r0 < rows; r0 += 2) {                                                                  \
            const uint8_t *wr = (const uint8_t *)w + (size_t)r0 * row_bytes;                                   \
            const int nr = rows - r0 < 2 ? rows - r0 : 2;                                                       \
            switch (nr * 8 + nv) {                                                                              \
            case 2 * 8 + 4: NAME##_tile(2, 4, wr, row_bytes, nb, q, aq_stride, d, ad_stride, o + r0, out_stride); break; \
            case 2 * 8 + 3: NAME##_tile(2, 3, wr, row_bytes, nb, q, aq_stride, d, ad_stride, o + r0, out_stride); break; \
            case 2 * 8 + 2: NAME##_tile(2, 2, wr, row_bytes, nb, q, aq_stride, d, ad_stride, o + r0, out_stride); break; \
            case 2 * 8 + 1: NAME##_tile(2, 1, wr, row_bytes, nb, q, aq_stride, d, ad_stride, o + r0, out_stride); break; \
            case 1 * 8 + 4: NAME##_tile(1, 4, wr, row_bytes, nb, q, aq_stride, d, ad_stride, o + r0, out_stride); break; \
            case 1 * 8 + 3: NAME##_tile(1, 3, wr, row_bytes, nb, q, aq_stride, d, ad_stride, o + r0, out_stride); break; \
            case 1 * 8 + 2: NAME##_tile(1, 2, wr, row_bytes, nb, q, aq_stride, d, ad_stride, o + r0, out_stride); break; \
            default:        NAME##_tile(1, 1, wr, row_bytes, nb, q, aq_stride, d, ad_stride, o + r0, out_stride); break; \
            }                                                                                                   \
        }                                                                                                       \
    }                                                                                                           \
}

VK_GEMM_Q0(vk_gemm_q8_0, 34, _mm256_loadu_si256((const __m256i *)(blk + 2)))
VK_GEMM_Q0(vk_gemm_q5_0, 22, vk_unpack_q5_0(blk))

// MARK: Q8_0 and Q5_0 with AVX-512 VNNI (same results, fewer instructions)

// On CPUs with AVX-512 (F, BW, VL, DQ) and VNNI the same products take about a third of the instructions:
// vpdpbusd sums four byte products into each int32 lane in one step, a 512-bit register holds two rows'
// block products for the same activation, and a row group's weights are unpacked once for all vectors.
// Every (row, vector) pair still gets exactly the eight int32 lanes of the AVX2 kernel (integer sums are
// exact whatever the instructions), converted, scaled by the same d_w · d_a product and fused-multiply-added
// into eight float lanes block after block, then summed by vk_hsum8: bit for bit the AVX2 kernel's result.
//
// vpdpbusd multiplies unsigned by signed bytes, so the weights are made unsigned (Q5_0: its 5-bit value
// 0...31 before the offset of 16; Q8_0: the value + 128) and the offset's share, -K · (sum of the four
// activation quants of a lane), K = 16 or 128, starts each lane's sum: vk_q0_offsets computes it once per
// activation block.

#define VK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

int vk_cpu_has_avx512(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = vk_cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")
            && __builtin_cpu_supports("avx512vnni");
    }
    return cached;
}

VK_AVX512 void vk_q0_offsets(const int8_t *aq, int blocks, int k, int32_t *out) {
    const __m256i kk = _mm256_set1_epi8((char)k);
    for (int b = 0; b < blocks; b++) {
        const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), kk, _mm256_loadu_si256((const __m256i *)(aq + 32 * (size_t)b)));
        _mm256_storeu_si256((__m256i *)(out + 8 * (size_t)b), _mm256_sub_epi32(_mm256_setzero_si256(), s));
    }
}

/// One block of two weight rows, unpacked: 64 unsigned bytes (row r's 32 in the low half, row r + 1's in the
/// high half) and the rows' scales, eight lanes each.
typedef struct { __m512i q; __m512 d; } vk_pair_block;

VK_AVX512 static inline __m512 vk512_pair_scales(const uint8_t *b0, const uint8_t *b1) {
    uint16_t h0, h1;
    memcpy(&h0, b0, 2);
    memcpy(&h1, b1, 2);
    const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128((int)((uint32_t)h0 | (uint32_t)h1 << 16)));
    return _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), _mm512_castps128_ps512(f));
}

VK_AVX512 static inline void vk512_unpack_q8_0(const uint8_t *b0, const uint8_t *b1, vk_pair_block *out) {
    const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(b0 + 2))),
                                         _mm256_loadu_si256((const __m256i *)(b1 + 2)), 1);
    out->q = _mm512_xor_si512(q, _mm512_set1_epi8((char)0x80));
    out->d = vk512_pair_scales(b0, b1);
}

VK_AVX512 static inline void vk512_unpack_q5_0(const uint8_t *b0, const uint8_t *b1, vk_pair_block *out) {
    const __m256i a = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(b0 + 6))),
                                              _mm_loadu_si128((const __m128i *)(b1 + 6)), 1);
    // [row 0 low nibbles | row 0 high nibbles | row 1 low | row 1 high], 16 bytes each.
    const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(a), _mm256_srli_epi16(a, 4), 1);
    const __m512i nibbles = _mm512_and_si512(_mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0)), _mm512_set1_epi8(0x0F));
    uint32_t h0, h1;
    memcpy(&h0, b0 + 2, 4);
    memcpy(&h1, b1 + 2, 4);
    const __mmask64 high = (__mmask64)h0 | (__mmask64)h1 << 32;
    out->q = _mm512_mask_add_epi8(nibbles, high, nibbles, _mm512_set1_epi8(16));
    out->d = vk512_pair_scales(b0, b1);
}

/// NP row pairs (unpacked in `pb`, NP per block) against NV activation vectors.
__attribute__((always_inline)) VK_AVX512 static inline void vk512_q0_tile(
        const int NP, const int NV, const vk_pair_block *pb, int nb,
        const int8_t *aq, size_t aq_stride, const float *ad, size_t ad_stride, const int32_t *ao, size_t ao_stride,
        float *out, size_t out_stride, int rows) {
    __m512 acc[2][8];
    for (int p = 0; p < NP; p++) for (int v = 0; v < NV; v++) acc[p][v] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        __m512i w[2];
        for (int p = 0; p < NP; p++) w[p] = pb[(size_t)b * NP + p].q;
        for (int v = 0; v < NV; v++) {
            const __m512i y = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(aq + (size_t)v * aq_stride + 32 * (size_t)b)));
            const __m512i o = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(ao + (size_t)v * ao_stride + 8 * (size_t)b)));
            const __m512 dy = _mm512_set1_ps(ad[(size_t)v * ad_stride + b]);
            for (int p = 0; p < NP; p++) {
                const __m512i lanes = _mm512_dpbusd_epi32(o, w[p], y);
                const __m512 d = _mm512_mul_ps(pb[(size_t)b * NP + p].d, dy);
                acc[p][v] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(lanes), acc[p][v]);
            }
        }
    }
    for (int p = 0; p < NP; p++) {
        for (int v = 0; v < NV; v++) {
            out[(size_t)v * out_stride + 2 * p] = vk_hsum8(_mm512_castps512_ps256(acc[p][v]));
            if (2 * p + 1 < rows) out[(size_t)v * out_stride + 2 * p + 1] = vk_hsum8(_mm512_extractf32x8_ps(acc[p][v], 1));
        }
    }
}

/// Few vectors (decoding): NP row pairs unpacked in registers block by block and used at once.
__attribute__((always_inline)) VK_AVX512 static inline void vk512_q0_direct(
        const int NP, const int NV, const uint8_t *w, size_t row_bytes, int block_bytes, int nb, int rows,
        void (*unpack)(const uint8_t *, const uint8_t *, vk_pair_block *),
        const int8_t *aq, size_t aq_stride, const float *ad, size_t ad_stride, const int32_t *ao, size_t ao_stride,
        float *out, size_t out_stride) {
    __m512 acc[4][3];
    for (int p = 0; p < NP; p++) for (int v = 0; v < NV; v++) acc[p][v] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        vk_pair_block pb[4];
        for (int p = 0; p < NP; p++) {
            const uint8_t *b0 = w + (size_t)(2 * p) * row_bytes + (size_t)b * block_bytes;
            _mm_prefetch((const char *)b0 + 2 * NP * row_bytes, _MM_HINT_T0);
            _mm_prefetch((const char *)b0 + (2 * NP + 1) * row_bytes, _MM_HINT_T0);
            unpack(b0, 2 * p + 1 < rows ? b0 + row_bytes : b0, &pb[p]);
        }
        for (int v = 0; v < NV; v++) {
            const __m512i y = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(aq + (size_t)v * aq_stride + 32 * (size_t)b)));
            const __m512i o = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(ao + (size_t)v * ao_stride + 8 * (size_t)b)));
            const __m512 dy = _mm512_set1_ps(ad[(size_t)v * ad_stride + b]);
            for (int p = 0; p < NP; p++) {
                const __m512i lanes = _mm512_dpbusd_epi32(o, pb[p].q, y);
                acc[p][v] = _mm512_fmadd_ps(_mm512_mul_ps(pb[p].d, dy), _mm512_cvtepi32_ps(lanes), acc[p][v]);
            }
        }
    }
    for (int p = 0; p < NP; p++) {
        for (int v = 0; v < NV; v++) {
            out[(size_t)v * out_stride + 2 * p] = vk_hsum8(_mm512_castps512_ps256(acc[p][v]));
            if (2 * p + 1 < rows) out[(size_t)v * out_stride + 2 * p + 1] = vk_hsum8(_mm512_extractf32x8_ps(acc[p][v], 1));
        }
    }
}

#define VK512_TILE_CASES(NP)                                                                                      \
    switch (nv) {                                                                                                 \
    case 8: vk512_q0_tile(NP, 8, pb, nb, q, aq_stride, d, ad_stride, o, ao_stride, dst, out_stride, nr); break;    \
    case 7: vk512_q0_tile(NP, 7, pb, nb, q, aq_stride, d, ad_stride, o, ao_stride, dst, out_stride, nr); break;    \
    case 6: vk512_q0_tile(NP, 6, pb, nb, q, aq_stride, d, ad_stride, o, ao_stride, dst, out_stride, nr); break;    \
    case 5: vk512_q0_tile(NP, 5, pb, nb, q, aq_stride, d, ad_stride, o, ao_stride, dst, out_stride, nr); break;    \
    case 4: vk512_q0_tile(NP, 4, pb, nb, q, aq_stride, d, ad_stride, o, ao_stride, dst, out_stride, nr); break;    \
    case 3: vk512_q0_tile(NP, 3, pb, nb, q, aq_stride, d, ad_stride, o, ao_stride, dst, out_stride, nr); break;    \
    case 2: vk512_q0_tile(NP, 2, pb, nb, q, aq_stride, d, ad_stride, o, ao_stride, dst, out_stride, nr); break;    \
    default: vk512_q0_tile(NP, 1, pb, nb, q, aq_stride, d, ad_stride, o, ao_stride, dst, out_stride, nr); break;   \
    }

/// Rows in groups of four (two pairs), each group unpacked once into `pb` and then met by the vectors in
/// eights; an odd last row is paired with itself and its upper half dropped.
#define VK512_GEMM_Q0(NAME, BLOCK_BYTES, UNPACK)                                                                  \
VK_AVX512 void NAME(const void *w, size_t row_bytes, int rows, int nb,                                            \
                    const int8_t *aq, size_t aq_stride, const float *ad, size_t ad_stride,                        \
                    const int32_t *ao, size_t ao_stride, int nvec, float *out, size_t out_stride) {               \
    if (nvec <= 3) {                                                                                              \
        for (int r0 = 0; r0 < rows; r0 += 8) {                                                                    \
            const int nr = rows - r0 < 8 ? rows - r0 : 8;                                                        \
            const uint8_t *wr = (const uint8_t *)w + (size_t)r0 * row_bytes;                                     \
            float *dst = out + r0;                                                                                \
            switch ((nr + 1) / 2 * 4 + nvec) {                                                                    \
            case 4 * 4 + 1: vk512_q0_direct(4, 1, wr, row_bytes, BLOCK_BYTES, nb, nr, UNPACK, aq, aq_stride, ad, ad_stride, ao, ao_stride, dst, out_stride); break; \
            case 4 * 4 + 2: vk512_q0_direct(4, 2, wr, row_bytes, BLOCK_BYTES, nb, nr, UNPACK, aq, aq_stride, ad, ad_stride, ao, ao_stride, dst, out_stride); break; \
            case 4 * 4 + 3: vk512_q0_direct(4, 3, wr, row_bytes, BLOCK_BYTES, nb, nr, UNPACK, aq, aq_stride, ad, ad_stride, ao, ao_stride, dst, out_stride); break; \
            case 3 * 4 + 1: vk512_q0_direct(3, 1, wr, row_bytes, BLOCK_BYTES, nb, nr, UNPACK, aq, aq_stride, ad, ad_stride, ao, ao_stride, dst, out_stride); break; \
            case 3 * 4 + 2: vk512_q0_direct(3, 2, wr, row_bytes, BLOCK_BYTES, nb, nr, UNPACK, aq, aq_stride, ad, ad_stride, ao, ao_stride, dst, out_stride); break; \
            case 3 * 4 + 3: vk512_q0_direct(3, 3, wr, row_bytes, BLOCK_BYTES, nb, nr, UNPACK, aq, aq_stride, ad, ad_stride, ao, ao_stride, dst, out_stride); break; \
            case 2 * 4 + 1: vk512_q0_direct(2, 1, wr, row_bytes, BLOCK_BYTES, nb, nr, UNPACK, aq, aq_stride, ad, ad_stride, ao, ao_stride, dst, out_stride); break; \
            case 2 * 4 + 2: vk512_q0_direct(2, 2, wr, row_bytes, BLOCK_BYTES, nb, nr, UNPACK, aq, aq_stride, ad, ad_stride, ao, ao_stride, dst, out_stride); break; \
            case 2 * 4 + 3: vk512_q0_direct(2, 3, wr, row_bytes, BLOCK_BYTES, nb, nr, UNPACK, aq, aq_stride, ad, ad_stride, ao, ao_stride, dst, out_stride); break; \
            case 1 * 4 + 1: vk512_q0_direct(1, 1, wr, row_bytes, BLOCK_BYTES, nb, nr, UNPACK, aq, aq_stride, ad, ad_stride, ao, ao_stride, dst, out_stride); break; \
            case 1 * 4 + 2: vk512_q0_direct(1, 2, wr, row_bytes, BLOCK_BYTES, nb, nr, UNPACK, aq, aq_stride, ad, ad_stride, ao, ao_stride, dst, out_stride); break; \
            default:        vk512_q0_direct(1, 3, wr, row_bytes, BLOCK_BYTES, nb, nr, UNPACK, aq, aq_stride, ad, ad_stride, ao, ao_stride, dst, out_stride); break; \
            }                                                                                                     \
        }                                                                                                         \
        return;                                                                                                   \
    }                                                                                                             \
    vk_pair_block *pb = aligned_alloc(64, sizeof(vk_pair_block) * 2 * (size_t)(nb > 0 ? nb : 1));                 \
    if (!pb) abort();                                                                                             \
    for (int r0 = 0; r0 < rows; r0 += 4) {                                                                        \
        const int nr = rows - r0 < 4 ? rows - r0 : 4;                                                            \
        const int np = (nr + 1) / 2;                                                                              \
        for (int b = 0; b < nb; b++) {                                                                            \
            for (int p = 0; p < np; p++) {                                                                        \
                const uint8_t *b0 = (const uint8_t *)w + (size_t)(r0 + 2 * p) * row_bytes + (size_t)b * (BLOCK_BYTES); \
                const uint8_t *b1 = 2 * p + 1 < nr ? b0 + row_bytes : b0;                                         \
                UNPACK(b0, b1, &pb[(size_t)b * np + p]);                                                          \
            }                                                                                                     \
        }                                                                                                         \
        for (int v0 = 0; v0 < nvec; v0 += 8) {                                                                    \
            const int nv = nvec - v0 < 8 ? nvec - v0 : 8;                                                         \
            const int8_t *q = aq + (size_t)v0 * aq_stride;                                                        \
            const float *d = ad + (size_t)v0 * ad_stride;                                                         \
            const int32_t *o = ao + (size_t)v0 * ao_stride;                                                       \
            float *dst = out + (size_t)v0 * out_stride + r0;                                                      \
            if (np == 2) { VK512_TILE_CASES(2) } else { VK512_TILE_CASES(1) }                                     \
        }                                                                                                         \
    }                                                                                                             \
    free(pb);                                                                                                     \
}

VK512_GEMM_Q0(vk512_gemm_q8_0, 34, vk512_unpack_q8_0)
VK512_GEMM_Q0(vk512_gemm_q5_0, 22, vk512_unpack_q5_0)

VK_AVX2 static inline void vk_q6_K_unpack(const uint8_t *blk, __m256i q[8], __m256i scale[8]);

// MARK: Q4_K and Q6_K with AVX-512 VNNI (same results as the AVX2 kernels below)

// A super-block's 256 values are 16 parts of 16 (part t: elements 16t ..< 16t + 16, one Q6_K scale, half of a
// Q4_K sub-block). vk512_prepare_q8_K lays a batch's activations out in groups of 4 vectors with part t of the
// four side by side (64 bytes), so that one 512-bit vpmaddubsw + vpdpwssd multiplies a weight part (broadcast
// to the four 128-bit lanes) with four vectors at once; each 128-bit lane then holds four int32 partial sums of
// one vector. The integer sums are exact in any order, and the float steps are the AVX2 kernels' lane by lane.

VK_AVX512 void vk512_prepare_q8_K(const int8_t *aq, size_t aq_stride, const float *ad, size_t ad_stride,
                                  const int32_t *as, size_t as_stride, int nvec, int nb,
                                  int8_t *parts, int16_t *sums, float *scales) {
    const int groups = (nvec + 3) / 4;
    for (int g = 0; g < groups; g++) {
        for (int b = 0; b < nb; b++) {
            const size_t gb = (size_t)g * nb + b;
            int8_t *pd = parts + gb * 1024;
            int16_t *sd = sums + gb * 64;
            float *dd = scales + gb * 4;
            for (int u = 0; u < 4; u++) {
                const int v = 4 * g + u;
                if (v < nvec) {
                    const int8_t *y = aq + (size_t)v * aq_stride + 256 * (size_t)b;
                    for (int t = 0; t < 16; t++) memcpy(pd + 64 * t + 16 * u, y + 16 * t, 16);
                    const int32_t *bs = as + (size_t)v * as_stride + 16 * (size_t)b;
                    for (int j = 0; j < 8; j++) {
                        sd[8 * u + j] = (int16_t)bs[j];
                        sd[32 + 8 * u + j] = (int16_t)bs[8 + j];
                    }
                    dd[u] = ad[(size_t)v * ad_stride + b];
                } else {
                    for (int t = 0; t < 16; t++) memset(pd + 64 * t + 16 * u, 0, 16);
                    for (int j = 0; j < 8; j++) sd[8 * u + j] = sd[32 + 8 * u + j] = 0;
                    dd[u] = 0;
                }
            }
        }
    }
}

/// acc + vpdpwssd(a, b), kept one instruction: compilers otherwise split it into vpmaddwd and vpaddd.
VK_AVX512 static inline __m512i vk512_dpwssd(__m512i acc, __m512i a, __m512i b) {
    __asm__("vpdpwssd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}

/// Sums the four int32 lanes of every 128-bit lane of a, b, c and d: lane i of 128-bit lane v of the result
/// is the sum of 128-bit lane v of the i-th input.
VK_AVX512 static inline __m512i vk512_sum4x4(__m512i a, __m512i b, __m512i c, __m512i d) {
    const __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    const __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
}

/// [v][i] (128-bit lane v, int32 i) to [i][v].
VK_AVX512 static inline __m512i vk512_transpose4x4(__m512i x) {
    return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), x);
}

/// One Q4_K super-block unpacked: part t's 16 values, its scale twice as int16 (for a broadcast vpdpwssd),
/// the mins as int16 pairs for the activation sums (m0 m0 m1 m1 m2 m2 m3 m3, then m4 ... m7).
typedef struct {
    uint8_t q[16][16];
    int32_t sc[16];
    int16_t mins[2][8];
    float d, dmin;
} vk_q4_K_unpacked;

VK_AVX512 static inline void vk512_unpack_q4_K(const uint8_t *blk, vk_q4_K_unpacked *u) {
    const uint8_t *s = blk + 4, *qs = blk + 16;
    uint8_t scale[8], min[8];
    for (int j = 0; j < 4; j++) {
        scale[j] = s[j] & 63;
        min[j] = s[j + 4] & 63;
        scale[j + 4] = (s[j + 8] & 0x0F) | ((s[j] >> 6) << 4);
        min[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4);
    }
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int c = 0; c < 4; c++) {
        const __m256i raw = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
        // Parts 4c, 4c + 1: low nibbles of the 32 bytes; 4c + 2, 4c + 3: high nibbles.
        _mm256_storeu_si256((__m256i *)u->q[4 * c], _mm256_and_si256(raw, m4));
        _mm256_storeu_si256((__m256i *)u->q[4 * c + 2], _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4));
    }
    for (int t = 0; t < 16; t++) u->sc[t] = (int32_t)((uint32_t)scale[t / 2] * 0x00010001u);
    for (int j = 0; j < 8; j++) u->mins[j / 4][2 * (j % 4)] = u->mins[j / 4][2 * (j % 4) + 1] = min[j];
    u->d = vk_half(blk);
    u->dmin = vk_half(blk + 2);
}

/// R rows' Q4_K super-blocks against a group of 4 vectors: for each row, the four chunk sums (64 values each,
/// sub-block scales applied) and the four min terms, as [chunk][vector] int32. Each activation part is loaded
/// once for the R rows.
__attribute__((always_inline)) VK_AVX512 static inline void vk512_q4_K_group(
        const int R, const vk_q4_K_unpacked *u, const int8_t *parts, const int16_t *sums, __m512i *chunks, __m512i *mins) {
    __m512i acc[4][4];
    for (int r = 0; r < R; r++) for (int c = 0; c < 4; c++) acc[r][c] = _mm512_setzero_si512();
#pragma clang loop unroll(full)
    for (int t = 0; t < 16; t++) {
        const __m512i y = _mm512_loadu_si512((const void *)(parts + 64 * t));
        for (int r = 0; r < R; r++) {
            const __m512i p = _mm512_maddubs_epi16(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)u[r].q[t])), y);
            acc[r][t / 4] = vk512_dpwssd(acc[r][t / 4], p, _mm512_set1_epi32(u[r].sc[t]));
        }
    }
    const __m512i bs0 = _mm512_loadu_si512((const void *)sums), bs1 = _mm512_loadu_si512((const void *)(sums + 32));
    for (int r = 0; r < R; r++) {
        chunks[r] = vk512_transpose4x4(vk512_sum4x4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
        // Lane j of x: min_j · (bsum 2j + bsum 2j+1) for j < 4, of y likewise for min 4 + j; chunk c's min term is
        // the sum of two neighbouring lanes.
        const __m512i x = _mm512_madd_epi16(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)u[r].mins[0])), bs0);
        const __m512i y = _mm512_madd_epi16(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)u[r].mins[1])), bs1);
        const __m512i xs = _mm512_add_epi32(x, _mm512_shuffle_epi32(x, _MM_PERM_CDAB));
        const __m512i ys = _mm512_add_epi32(y, _mm512_shuffle_epi32(y, _MM_PERM_CDAB));
        mins[r] = vk512_transpose4x4(_mm512_castps_si512(_mm512_shuffle_ps(_mm512_castsi512_ps(xs), _mm512_castsi512_ps(ys),
                                                                           _MM_SHUFFLE(2, 0, 2, 0))));
    }
}

/// Running sums of one row against one group of 4 vectors: ggml's gemm form (per chunk) and gemv form (per
/// super-block), each with its min part.
typedef struct { __m128 acc, acc_min, acc1, acc1_min; } vk_q4_K_sums;

enum { VK512_GROUPS = 4 };  // groups of 4 vectors per pass over the rows (the 16 vectors of a call)

__attribute__((always_inline)) VK_AVX512 static inline void vk512_q4_K_rows(
        const int R, const uint8_t *w, size_t row_bytes, int nb, const int8_t *parts, const int16_t *sums,
        const float *scales, int g0, int ng, int nvec, int grouped, float *out, size_t out_stride) {
    vk_q4_K_sums acc[4][VK512_GROUPS];
    for (int r = 0; r < R; r++) for (int g = 0; g < ng; g++) acc[r][g].acc = acc[r][g].acc_min = acc[r][g].acc1 = acc[r][g].acc1_min = _mm_setzero_ps();
    for (int b = 0; b < nb; b++) {
        vk_q4_K_unpacked u[4];
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = w + (size_t)r * row_bytes + (size_t)b * 144;
            for (int o = 0; o < 144; o += 64) _mm_prefetch((const char *)blk + R * row_bytes + o, _MM_HINT_T0);
            vk512_unpack_q4_K(blk, &u[r]);
        }
        for (int g = 0; g < ng; g++) {
            const size_t gb = (size_t)(g0 + g) * nb + b;
            __m512i ci[4], mi[4];
            vk512_q4_K_group(R, u, parts + gb * 1024, sums + gb * 64, ci, mi);
            const __m128 dy = _mm_loadu_ps(scales + gb * 4);
            const int first = 4 * (g0 + g);
            for (int r = 0; r < R; r++) {
                vk_q4_K_sums *a = &acc[r][g];
                const __m128 dd = _mm_mul_ps(_mm_set1_ps(u[r].d), dy), dm = _mm_mul_ps(_mm_set1_ps(u[r].dmin), dy);
                // ggml's gemm (groups of four) adds every chunk to the running sums, its gemv whole super-blocks.
                if (first < grouped) {
                    const __m512 cf = _mm512_cvtepi32_ps(ci[r]), mf = _mm512_cvtepi32_ps(mi[r]);
                    a->acc = _mm_fmadd_ps(_mm512_castps512_ps128(cf), dd, a->acc);
                    a->acc = _mm_fmadd_ps(_mm512_extractf32x4_ps(cf, 1), dd, a->acc);
                    a->acc = _mm_fmadd_ps(_mm512_extractf32x4_ps(cf, 2), dd, a->acc);
                    a->acc = _mm_fmadd_ps(_mm512_extractf32x4_ps(cf, 3), dd, a->acc);
                    a->acc_min = _mm_fmadd_ps(_mm512_castps512_ps128(mf), dm, a->acc_min);
                    a->acc_min = _mm_fmadd_ps(_mm512_extractf32x4_ps(mf, 1), dm, a->acc_min);
                    a->acc_min = _mm_fmadd_ps(_mm512_extractf32x4_ps(mf, 2), dm, a->acc_min);
                    a->acc_min = _mm_fmadd_ps(_mm512_extractf32x4_ps(mf, 3), dm, a->acc_min);
                }
                if (first + 4 > grouped) {
                    const __m128i c4 = _mm_add_epi32(_mm_add_epi32(_mm512_castsi512_si128(ci[r]), _mm512_extracti32x4_epi32(ci[r], 1)),
                                                     _mm_add_epi32(_mm512_extracti32x4_epi32(ci[r], 2), _mm512_extracti32x4_epi32(ci[r], 3)));
                    const __m128i m4 = _mm_add_epi32(_mm_add_epi32(_mm512_castsi512_si128(mi[r]), _mm512_extracti32x4_epi32(mi[r], 1)),
                                                     _mm_add_epi32(_mm512_extracti32x4_epi32(mi[r], 2), _mm512_extracti32x4_epi32(mi[r], 3)));
                    a->acc1 = _mm_fmadd_ps(_mm_cvtepi32_ps(c4), dd, a->acc1);
                    a->acc1_min = _mm_fmadd_ps(_mm_cvtepi32_ps(m4), dm, a->acc1_min);
                }
            }
        }
    }
    for (int r = 0; r < R; r++) {
        for (int g = 0; g < ng; g++) {
            float o[4], o1[4];
            _mm_storeu_ps(o, _mm_sub_ps(acc[r][g].acc, acc[r][g].acc_min));
            _mm_storeu_ps(o1, _mm_sub_ps(acc[r][g].acc1, acc[r][g].acc1_min));
            for (int k = 0; k < 4; k++) {
                const int v = 4 * (g0 + g) + k;
                if (v < nvec) out[(size_t)v * out_stride + r] = v < grouped ? o[k] : o1[k];
            }
        }
    }
}

VK_AVX512 void vk512_gemm_q4_K(const void *w, size_t row_bytes, int rows, int nb,
                               const int8_t *parts, const int16_t *sums, const float *scales,
                               int nvec, int grouped, float *out, size_t out_stride) {
    const int groups = (nvec + 3) / 4;
    for (int g0 = 0; g0 < groups; g0 += VK512_GROUPS) {
        const int ng = groups - g0 < VK512_GROUPS ? groups - g0 : VK512_GROUPS;
        for (int r0 = 0; r0 < rows; r0 += 4) {
            const uint8_t *wr = (const uint8_t *)w + (size_t)r0 * row_bytes;
            float *o = out + r0;
            switch (rows - r0 < 4 ? rows - r0 : 4) {
            case 4: vk512_q4_K_rows(4, wr, row_bytes, nb, parts, sums, scales, g0, ng, nvec, grouped, o, out_stride); break;
            case 3: vk512_q4_K_rows(3, wr, row_bytes, nb, parts, sums, scales, g0, ng, nvec, grouped, o, out_stride); break;
            case 2: vk512_q4_K_rows(2, wr, row_bytes, nb, parts, sums, scales, g0, ng, nvec, grouped, o, out_stride); break;
            default: vk512_q4_K_rows(1, wr, row_bytes, nb, parts, sums, scales, g0, ng, nvec, grouped, o, out_stride); break;
            }
        }
    }
}

/// One Q6_K super-block unpacked: part t's 16 values (0 ... 63, the value + 32), its scale twice as int16, and
/// -32 · scales as int16 (0-7, then 8-15) for the offset, which the activation sums of 16 remove.
typedef struct {
    uint8_t q[16][16];
    int32_t sc[16];
    int16_t nsc[2][8];
    float d;
} vk_q6_K_unpacked;

VK_AVX512 static inline void vk512_unpack_q6_K(const uint8_t *blk, vk_q6_K_unpacked *u) {
    __m256i q[8], scale[8];
    vk_q6_K_unpack(blk, q, scale);
    // Run k holds parts 2k and 2k + 1.
    for (int k = 0; k < 8; k++) _mm256_storeu_si256((__m256i *)u->q[2 * k], q[k]);
    const int8_t *sc = (const int8_t *)(blk + 192);
    for (int t = 0; t < 16; t++) {
        u->sc[t] = (int32_t)(((uint32_t)(uint16_t)(int16_t)sc[t]) * 0x00010001u);
        u->nsc[t / 8][t % 8] = (int16_t)(-32 * sc[t]);
    }
    u->d = vk_half(blk + 208);
}

/// R rows' Q6_K super-blocks against a group of 4 vectors: per row, the products of the even parts in
/// `even`, of the odd parts in `odd` (128-bit lane v: vector v), each minus its share of the offset, so that
/// lanes 0-3 of `even` and of `odd` are lanes 0-3 and 4-7 of the AVX2 kernel's vk_q6_K_lanes.
__attribute__((always_inline)) VK_AVX512 static inline void vk512_q6_K_group(
        const int R, const vk_q6_K_unpacked *u, const int8_t *parts, const int16_t *sums, __m512i *even, __m512i *odd) {
    __m512i e[4], o[4];
    for (int r = 0; r < R; r++) e[r] = o[r] = _mm512_setzero_si512();
#pragma clang loop unroll(full)
    for (int t = 0; t < 16; t += 2) {
        const __m512i ye = _mm512_loadu_si512((const void *)(parts + 64 * t));
        const __m512i yo = _mm512_loadu_si512((const void *)(parts + 64 * t + 64));
        for (int r = 0; r < R; r++) {
            const __m512i pe = _mm512_maddubs_epi16(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)u[r].q[t])), ye);
            const __m512i po = _mm512_maddubs_epi16(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)u[r].q[t + 1])), yo);
            e[r] = vk512_dpwssd(e[r], pe, _mm512_set1_epi32(u[r].sc[t]));
            o[r] = vk512_dpwssd(o[r], po, _mm512_set1_epi32(u[r].sc[t + 1]));
        }
    }
    const __m512i bs0 = _mm512_loadu_si512((const void *)sums), bs1 = _mm512_loadu_si512((const void *)(sums + 32));
    for (int r = 0; r < R; r++) {
        even[r] = vk512_dpwssd(e[r], _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)u[r].nsc[0])), bs0);
        odd[r] = vk512_dpwssd(o[r], _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)u[r].nsc[1])), bs1);
    }
}

/// Running sums of one row against one group of 4 vectors: tiled (one per vector) or lanes (eight per
/// vector, vectors 0 and 1 in `lanes[0]`, 2 and 3 in `lanes[1]`).
typedef struct { __m128 acc; __m512 lanes[2]; } vk_q6_K_sums;

__attribute__((always_inline)) VK_AVX512 static inline void vk512_q6_K_rows(
        const int R, const uint8_t *w, size_t row_bytes, int nb, const int8_t *parts, const int16_t *sums,
        const float *scales, int g0, int ng, int nvec, int tiled, float *out, size_t out_stride) {
    vk_q6_K_sums acc[4][VK512_GROUPS];
    for (int r = 0; r < R; r++) {
        for (int g = 0; g < ng; g++) {
            acc[r][g].acc = _mm_setzero_ps();
            acc[r][g].lanes[0] = acc[r][g].lanes[1] = _mm512_setzero_ps();
        }
    }
    for (int b = 0; b < nb; b++) {
        vk_q6_K_unpacked u[4];
        for (int r = 0; r < R; r++) {
            const uint8_t *blk = w + (size_t)r * row_bytes + (size_t)b * 210;
            for (int o = 0; o < 210; o += 64) _mm_prefetch((const char *)blk + R * row_bytes + o, _MM_HINT_T0);
            vk512_unpack_q6_K(blk, &u[r]);
        }
        for (int g = 0; g < ng; g++) {
            const size_t gb = (size_t)(g0 + g) * nb + b;
            __m512i even[4], odd[4];
            vk512_q6_K_group(R, u, parts + gb * 1024, sums + gb * 64, even, odd);
            const __m128 dy = _mm_loadu_ps(scales + gb * 4);
            if (tiled) {
                // ggml's tiled K-quant matmul: the whole integer sum times d_w, fused with d_a.
                __m512i t[4];
                for (int r = 0; r < 4; r++) t[r] = r < R ? _mm512_add_epi32(even[r], odd[r]) : _mm512_setzero_si512();
                const __m512i totals = vk512_transpose4x4(vk512_sum4x4(t[0], t[1], t[2], t[3]));
                float tf[16];
                _mm512_storeu_ps(tf, _mm512_cvtepi32_ps(totals));
                for (int r = 0; r < R; r++) {
                    acc[r][g].acc = _mm_fmadd_ps(_mm_mul_ps(_mm_set1_ps(u[r].d), _mm_loadu_ps(tf + 4 * r)), dy, acc[r][g].acc);
                }
            } else {
                for (int r = 0; r < R; r++) {
                    // Vector v's eight lanes: its 128-bit lane of `even`, then of `odd`.
                    const __m512i l01 = _mm512_permutex2var_epi64(even[r], _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), odd[r]);
                    const __m512i l23 = _mm512_permutex2var_epi64(even[r], _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15), odd[r]);
                    const __m512 d = _mm512_castps128_ps512(_mm_mul_ps(dy, _mm_set1_ps(u[r].d)));
                    const __m512 d01 = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1), d);
                    const __m512 d23 = _mm512_permutexvar_ps(_mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3), d);
                    acc[r][g].lanes[0] = _mm512_fmadd_ps(d01, _mm512_cvtepi32_ps(l01), acc[r][g].lanes[0]);
                    acc[r][g].lanes[1] = _mm512_fmadd_ps(d23, _mm512_cvtepi32_ps(l23), acc[r][g].lanes[1]);
                }
            }
        }
    }
    for (int r = 0; r < R; r++) {
        for (int g = 0; g < ng; g++) {
            float o[4];
            if (tiled) {
                _mm_storeu_ps(o, acc[r][g].acc);
            } else {
                o[0] = vk_hsum8(_mm512_castps512_ps256(acc[r][g].lanes[0]));
                o[1] = vk_hsum8(_mm512_extractf32x8_ps(acc[r][g].lanes[0], 1));
                o[2] = vk_hsum8(_mm512_castps512_ps256(acc[r][g].lanes[1]));
                o[3] = vk_hsum8(_mm512_extractf32x8_ps(acc[r][g].lanes[1], 1));
            }
            for (int k = 0; k < 4; k++) {
                const int v = 4 * (g0 + g) + k;
                if (v < nvec) out[(size_t)v * out_stride + r] = o[k];
            }
        }
    }
}

VK_AVX512 void vk512_gemm_q6_K(const void *w, size_t row_bytes, int rows, int nb,
                               const int8_t *parts, const int16_t *sums, const float *scales,
                               int nvec, int tiled, float *out, size_t out_stride) {
    const int groups = (nvec + 3) / 4;
    for (int g0 = 0; g0 < groups; g0 += VK512_GROUPS) {
        const int ng = groups - g0 < VK512_GROUPS ? groups - g0 : VK512_GROUPS;
        for (int r0 = 0; r0 < rows; r0 += 4) {
            const uint8_t *wr = (const uint8_t *)w + (size_t)r0 * row_bytes;
            float *o = out + r0;
            switch (rows - r0 < 4 ? rows - r0 : 4) {
            case 4: vk512_q6_K_rows(4, wr, row_bytes, nb, parts, sums, scales, g0, ng, nvec, tiled, o, out_stride); break;
            case 3: vk512_q6_K_rows(3, wr, row_bytes, nb, parts, sums, scales, g0, ng, nvec, tiled, o, out_stride); break;
            case 2: vk512_q6_K_rows(2, wr, row_bytes, nb, parts, sums, scales, g0, ng, nvec, tiled, o, out_stride); break;
            default: vk512_q6_K_rows(1, wr, row_bytes, nb, parts, sums, scales, g0, ng, nvec, tiled, o, out_stride); break;
            }
        }
    }
}

// MARK: Q6_K (256-element super-blocks, Q8_K activations)

/// A Q6_K super-block's 256 unsigned 6-bit values as 8 runs of 32 bytes (run 4h + j holds elements
/// 128h + 32j ..< 128h + 32j + 32), and each run's scales as 16-bit lanes (sc[2k] for its first 16 elements,
/// sc[2k + 1] for the rest, k = 4h + j).
VK_AVX2 static inline void vk_q6_K_unpack(const uint8_t *blk, __m256i q[8], __m256i scale[8]) {
    const int8_t *sc = (const int8_t *)(blk + 192);
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = blk + 64 * h, *qh = blk + 128 + 32 * h;
        const __m256i l0 = _mm256_loadu_si256((const __m256i *)ql);
        const __m256i l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
        const __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
        q[4 * h + 0] = _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_slli_epi16(_mm256_and_si256(hb, _mm256_set1_epi8(0x03)), 4));
        q[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_slli_epi16(_mm256_and_si256(hb, _mm256_set1_epi8(0x0C)), 2));
        q[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(hb, _mm256_set1_epi8(0x30)));
        q[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                       _mm256_srli_epi16(_mm256_and_si256(hb, _mm256_set1_epi8((char)0xC0)), 2));
    }
    for (int k = 0; k < 8; k++) scale[k] = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
}

/// One super-block against one activation: 8 int32 lanes, lane i holding the scaled products of bytes
/// 4i..<4i+4 of every run minus 32 · (sc[2i]·bsum[2i] + sc[2i+1]·bsum[2i+1]), which removes the offset of 32.
VK_AVX2 static inline __m256i vk_q6_K_lanes(const __m256i q[8], const __m256i scale[8], const int8_t *sc,
                                            const int8_t *y, const int32_t *bsums) {
    __m256i sumi = _mm256_setzero_si256();
    for (int k = 0; k < 8; k++) {
        const __m256i yv = _mm256_loadu_si256((const __m256i *)(y + 32 * k));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(_mm256_maddubs_epi16(q[k], yv), scale[k]));
    }
    int32_t off[8];
    for (int i = 0; i < 8; i++) off[i] = 32 * (sc[2 * i] * bsums[2 * i] + sc[2 * i + 1] * bsums[2 * i + 1]);
    return _mm256_sub_epi32(sumi, _mm256_loadu_si256((const __m256i *)off));
}

VK_AVX2 void vk_gemm_q6_K(const void *w, size_t row_bytes, int rows, int nb,
                          const int8_t *aq, size_t aq_stride, const float *ad, size_t ad_stride,
                          const int32_t *as, size_t as_stride,
                          int nvec, int tiled, float *out, size_t out_stride) {
    enum { G = 16 };
    for (int v0 = 0; v0 < nvec; v0 += G) {
        const int nv = nvec - v0 < G ? nvec - v0 : G;
        for (int r = 0; r < rows; r++) {
            const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
            __m256 acc[G];
            float acc_tiled[G];
            for (int v = 0; v < nv; v++) { acc[v] = _mm256_setzero_ps(); acc_tiled[v] = 0; }
            for (int b = 0; b < nb; b++) {
                const uint8_t *blk = row + (size_t)b * 210;
                for (int o = 0; o < 210; o += 64) _mm_prefetch((const char *)blk + row_bytes + o, _MM_HINT_T0);
                const int8_t *sc = (const int8_t *)(blk + 192);
                const float dw = vk_half(blk + 208);
                __m256i q[8], scale[8];
                vk_q6_K_unpack(blk, q, scale);
                for (int v = 0; v < nv; v++) {
                    const size_t vi = (size_t)(v0 + v);
                    const __m256i lanes = vk_q6_K_lanes(q, scale, sc, aq + vi * aq_stride + 256 * (size_t)b,
                                                        as + vi * as_stride + 16 * (size_t)b);
                    const float dy = ad[vi * ad_stride + b];
                    if (tiled) {
                        // ggml's tiled K-quant matmul (batches of 8 or more): the super-block's whole integer
                        // sum, scaled by the weight's d, meets the activation's d in one running FMA.
                        acc_tiled[v] = fmaf(dw * (float)vk_hsum_i32(lanes), dy, acc_tiled[v]);
                    } else {
                        acc[v] = _mm256_fmadd_ps(_mm256_set1_ps(dy * dw), _mm256_cvtepi32_ps(lanes), acc[v]);
                    }
                }
            }
            for (int v = 0; v < nv; v++) out[(size_t)(v0 + v) * out_stride + r] = tiled ? acc_tiled[v] : vk_hsum8(acc[v]);
        }
    }
}

// MARK: Q4_K (256-element super-blocks, Q8_K activations)

VK_AVX2 void vk_gemm_q4_K(const void *w, size_t row_bytes, int rows, int nb,
                          const int8_t *aq, size_t aq_stride, const float *ad, size_t ad_stride,
                          const int32_t *as, size_t as_stride,
                          int nvec, int grouped, float *out, size_t out_stride) {
    enum { G = 16 };
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    for (int v0 = 0; v0 < nvec; v0 += G) {
        const int nv = nvec - v0 < G ? nvec - v0 : G;
        for (int r = 0; r < rows; r++) {
            const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
            float acc[G], acc_min[G];
            for (int v = 0; v < nv; v++) acc[v] = acc_min[v] = 0;
            for (int b = 0; b < nb; b++) {
                const uint8_t *blk = row + (size_t)b * 144;
                for (int o = 0; o < 144; o += 64) _mm_prefetch((const char *)blk + row_bytes + o, _MM_HINT_T0);
                const uint8_t *s = blk + 4, *qs = blk + 16;
                const float dw = vk_half(blk), dminw = vk_half(blk + 2);
                uint8_t scale[8], min[8];
                for (int j = 0; j < 4; j++) {
                    scale[j] = s[j] & 63;
                    min[j] = s[j + 4] & 63;
                    scale[j + 4] = (s[j + 8] & 0x0F) | ((s[j] >> 6) << 4);
                    min[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4);
                }
                __m256i q[8], sc[8];  // sub-block j: elements 32j ..< 32j + 32
                for (int c = 0; c < 4; c++) {
                    const __m256i raw = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
                    q[2 * c] = _mm256_and_si256(raw, m4);
                    q[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
                }
                for (int j = 0; j < 8; j++) sc[j] = _mm256_set1_epi16(scale[j]);
                for (int v = 0; v < nv; v++) {
                    const size_t vi = (size_t)(v0 + v);
                    const int8_t *yb = aq + vi * aq_stride + 256 * (size_t)b;
                    const int32_t *bs = as + vi * as_stride + 16 * (size_t)b;
                    const float dd = dw * ad[vi * ad_stride + b], dm = dminw * ad[vi * ad_stride + b];
                    // ggml's gemm (four activation rows at once) adds each 64-element chunk's sums to the
                    // running sums; its gemv (the rows left over) adds whole super-blocks.
                    const int per_chunk = v0 + v < grouped;
                    __m256i part[4];
                    int32_t mins[4];
                    for (int c = 0; c < 4; c++) {
                        const __m256i ylo = _mm256_loadu_si256((const __m256i *)(yb + 64 * c));
                        const __m256i yhi = _mm256_loadu_si256((const __m256i *)(yb + 64 * c + 32));
                        part[c] = _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(q[2 * c], ylo), sc[2 * c]),
                                                   _mm256_madd_epi16(_mm256_maddubs_epi16(q[2 * c + 1], yhi), sc[2 * c + 1]));
                        mins[c] = min[2 * c] * (bs[4 * c] + bs[4 * c + 1]) + min[2 * c + 1] * (bs[4 * c + 2] + bs[4 * c + 3]);
                    }
                    // The four chunks' integer sums at once (exact, so any order of additions will do).
                    const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(part[0], part[1]), _mm256_hadd_epi32(part[2], part[3]));
                    int32_t chunk[4];
                    _mm_storeu_si128((__m128i *)chunk, _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1)));
                    if (per_chunk) {
                        for (int c = 0; c < 4; c++) {
                            acc[v] = fmaf((float)chunk[c], dd, acc[v]);
                            acc_min[v] = fmaf((float)mins[c], dm, acc_min[v]);
                        }
                    } else {
                        acc[v] = fmaf((float)(chunk[0] + chunk[1] + chunk[2] + chunk[3]), dd, acc[v]);
                        acc_min[v] = fmaf((float)(mins[0] + mins[1] + mins[2] + mins[3]), dm, acc_min[v]);
                    }
                }
            }
            for (int v = 0; v < nv; v++) out[(size_t)(v0 + v) * out_stride + r] = acc[v] - acc_min[v];
        }
    }
}

// MARK: attention and feed-forward helpers

VK_AVX2 float vk_dot_f16_values(const float *x, const float *y, int n) {
    const int np = n & ~31;
    __m256 sum[4] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
    for (int i = 0; i < np; i += 32) {
        for (int j = 0; j < 4; j++) {
            sum[j] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8 * j), _mm256_loadu_ps(y + i + 8 * j), sum[j]);
        }
    }
    // (0 + 2) + (1 + 3), then the two 128-bit halves, then two horizontal adds.
    const __m256 s = _mm256_add_ps(_mm256_add_ps(sum[0], sum[2]), _mm256_add_ps(sum[1], sum[3]));
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    double total = _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
    for (int i = np; i < n; i++) total += (double)(x[i] * y[i]);
    return (float)total;
}

static inline float vk_bits_to_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline uint32_t vk_float_to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

/// exp(x) as 2^n · p(b): n = x·log2(e) rounded (by adding and removing 1.5·2^23), b = x − n·ln2 in two
/// fused steps, p a degree-5 polynomial; the scale 2^n is built in the exponent bits, split in two factors
/// when |n| > 126 so that large and tiny results still over- or underflow correctly.
VK_AVX2 float vk_expf_approx(float x) {
    const float shifter = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, shifter);
    const float n = z - shifter;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    const uint32_t e = vk_float_to_bits(z) << 23;
    const float k = vk_bits_to_float(e + vk_float_to_bits(1.0f));
    const float u = b * b;
    const float p = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                         u, 0x1.ffffecp-1f * b);
    const float an = fabsf(n);
    if (!(an > 126)) return fmaf(k, p, k);
    const uint32_t g = n <= 0 ? 0x82000000u : 0;
    const float s1 = vk_bits_to_float(g + 0x7f000000u);
    const float s2 = vk_bits_to_float(e - g);
    if (an > 192) return s1 * s1;
    return fmaf(s2, p, s2) * s1;
}

/// vk_expf_approx on 8 lanes at once (the same operations lane by lane, so the same values).
VK_AVX2 static inline __m256 vk_expf8(__m256 x) {
    const __m256 shifter = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shifter);
    const __m256 n = _mm256_sub_ps(z, shifter);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f), _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    const __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1.0f))));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 p = _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                                                     _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
                                     u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
    const __m256 an = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
    const __m256 far = _mm256_cmp_ps(an, _mm256_set1_ps(126), _CMP_GT_OQ);
    const __m256 near = _mm256_fmadd_ps(p, k, k);
    if (!_mm256_movemask_ps(far)) return near;
    const __m256i g = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                                       _mm256_set1_epi32((int)0x82000000u));
    const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    const __m256 huge = _mm256_cmp_ps(an, _mm256_set1_ps(192), _CMP_GT_OQ);
    const __m256 scaled = _mm256_blendv_ps(_mm256_mul_ps(_mm256_fmadd_ps(s2, p, s2), s1), _mm256_mul_ps(s1, s1), huge);
    return _mm256_blendv_ps(near, scaled, far);
}

VK_AVX2 void vk_swiglu(const float *gate, const float *up, float *out, int n) {
    const int nv = n & ~7;
    for (int i = 0; i < nv; i += 8) {
        const __m256 x = _mm256_loadu_ps(gate + i);
        const __m256 e = vk_expf8(_mm256_sub_ps(_mm256_setzero_ps(), x));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), _mm256_loadu_ps(up + i)));
    }
    for (int i = nv; i < n; i++) {
        const float x = gate[i];
        out[i] = x / (1.0f + expf(-x)) * up[i];
    }
}

VK_AVX2 static inline float vk_round_half(float x) { return _cvtsh_ss(_cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT)); }

VK_AVX2 void vk_attention_f16(const float *q, const float *k, const float *v, size_t stride, int positions,
                              int head_dim, float scale, float *out) {
    const int nv = head_dim & ~7;
    float m = -INFINITY, sum = 0;
    float qh[head_dim];
    for (int i = 0; i < head_dim; i++) { qh[i] = vk_round_half(q[i]); out[i] = 0; }
    for (int t = 0; t < positions; t++) {
        const float *kt = k + (size_t)t * stride, *vt = v + (size_t)t * stride;
        const float score = vk_dot_f16_values(qh, kt, head_dim) * scale;
        float ms = 1, vs = 1;
        if (score > m) {
            const float old = m;
            m = score;
            ms = expf(old - m);
            const __m256 f = _mm256_set1_ps(ms);
            for (int i = 0; i < nv; i += 8) {
                const __m256 x = _mm256_mul_ps(_mm256_loadu_ps(out + i), f);
                _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT)));
            }
            for (int i = nv; i < head_dim; i++) out[i] = vk_round_half(out[i] * ms);
        } else {
            vs = expf(score - m);
        }
        const __m256 f = _mm256_set1_ps(vs);
        for (int i = 0; i < nv; i += 8) {
            const __m256 x = _mm256_fmadd_ps(_mm256_loadu_ps(vt + i), f, _mm256_loadu_ps(out + i));
            _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT)));
        }
        for (int i = nv; i < head_dim; i++) out[i] = vk_round_half(fmaf(vt[i], vs, out[i]));
        sum = fmaf(sum, ms, vs);
    }
    const float inv = sum == 0 ? 0 : 1 / sum;
    for (int i = 0; i < head_dim; i++) out[i] *= inv;
}

/// llama.cpp's tiled flash attention (ggml_compute_forward_flash_attn_ext_tiled), which it uses when a
/// micro-batch has 64 or more queries, for `nq` queries of one head at positions first ..< first + nq.
/// Per query, over tiles of 64 cached positions from position 0 (positions after the query's own masked):
/// scores as FMA chains over the head (Q in F32, K as cached), times `scale`; the tile's maximum M; when M
/// grows, the output and the sum S are scaled by expf(old − new); each score becomes vk_expf8(score − M),
/// summed in groups of 8 by vk_hsum8 into a double and that added to S; the output accumulates V as FMA
/// chains over the tile's positions; at the end it is multiplied by 1 / S. Every output element is one
/// sequential chain, so vectorizing across positions or head elements leaves the values as ggml's.
VK_AVX2 void vk_attention_tiled(const float *q, size_t q_stride, int nq, int first, const float *k, const float *v,
                                size_t stride, int head_dim, float scale, float *out, size_t out_stride) {
    enum { T = 64 };
    const int positions = first + nq;
    const int tiles = (positions + T - 1) / T;
    // Keys transposed per tile: kt[(tile · head_dim + d) · T + position in tile].
    float *kt = aligned_alloc(32, sizeof(float) * (size_t)tiles * (size_t)head_dim * T);
    float *acc = aligned_alloc(32, sizeof(float) * (size_t)((head_dim + 7) & ~7));
    if (!kt || !acc) abort();
    for (int t = 0; t < tiles; t++) {
        float *dst = kt + (size_t)t * head_dim * T;
        for (int j = 0; j < T; j++) {
            const int pos = t * T + j;
            for (int d = 0; d < head_dim; d++) dst[(size_t)d * T + j] = pos < positions ? k[(size_t)pos * stride + d] : 0.0f;
        }
    }
    const int hv = head_dim & ~7;
    for (int i = 0; i < nq; i++) {
        const float *qi = q + (size_t)i * q_stride;
        const int pos = first + i;
        float m = -INFINITY, sum = 0;
        for (int d = 0; d < head_dim; d++) acc[d] = 0;
        for (int t = 0; t * T <= pos; t++) {
            const float *kb = kt + (size_t)t * head_dim * T;
            __m256 sc[T / 8];
            for (int j = 0; j < T / 8; j++) sc[j] = _mm256_setzero_ps();
            for (int d = 0; d < head_dim; d++) {
                const __m256 qd = _mm256_set1_ps(qi[d]);
                for (int j = 0; j < T / 8; j++) sc[j] = _mm256_fmadd_ps(_mm256_load_ps(kb + (size_t)d * T + 8 * j), qd, sc[j]);
            }
            const int visible = pos - t * T + 1 < T ? pos - t * T + 1 : T;
            __m256 mx = _mm256_set1_ps(-INFINITY);
            for (int j = 0; j < T / 8; j++) {
                const __m256 lane = _mm256_add_ps(_mm256_set1_ps((float)(8 * j)), _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7));
                const __m256 hidden = _mm256_cmp_ps(lane, _mm256_set1_ps((float)visible), _CMP_GE_OQ);
                sc[j] = _mm256_blendv_ps(_mm256_mul_ps(sc[j], _mm256_set1_ps(scale)), _mm256_set1_ps(-INFINITY), hidden);
                mx = _mm256_max_ps(mx, sc[j]);
            }
            __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(mx, 1), _mm256_castps256_ps128(mx));
            m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
            const float tile_max = _mm_cvtss_f32(m4);
            const float mnew = fmaxf(m, tile_max);
            if (mnew > m) {
                const float ms = expf(m - mnew);
                for (int d = 0; d < head_dim; d++) acc[d] *= ms;
                sum *= ms;
            }
            m = mnew;
            double tile_sum = 0;
            float e[T];
            for (int j = 0; j < T / 8; j++) {
                const __m256 x = vk_expf8(_mm256_sub_ps(sc[j], _mm256_set1_ps(mnew)));
                _mm256_storeu_ps(e + 8 * j, x);
                tile_sum += (double)vk_hsum8(x);
            }
            sum = (float)((double)sum + tile_sum);
            // Hidden positions have weight 0 and leave the output as it is; only the visible ones are added.
            for (int d = 0; d < hv; d += 8) {
                __m256 a = _mm256_load_ps(acc + d);
                for (int j = 0; j < visible; j++) {
                    a = _mm256_fmadd_ps(_mm256_loadu_ps(v + (size_t)(t * T + j) * stride + d), _mm256_set1_ps(e[j]), a);
                }
                _mm256_store_ps(acc + d, a);
            }
            for (int d = hv; d < head_dim; d++) {
                float a = acc[d];
                for (int j = 0; j < visible; j++) a = fmaf(v[(size_t)(t * T + j) * stride + d], e[j], a);
                acc[d] = a;
            }
        }
        const float inv = sum == 0 ? 0 : 1 / sum;
        float *o = out + (size_t)i * out_stride;
        for (int d = 0; d < head_dim; d++) o[d] = acc[d] * inv;
    }
    free(kt);
    free(acc);
}

#else  // not x86-64

int vk_cpu_has_avx2(void) { return 0; }

// Never called (vk_cpu_has_avx2() is 0); they exist so that the Swift module links on every CPU.
#define VK_UNSUPPORTED abort()
void vk_gemm_q8_0(const void *w, size_t row_bytes, int rows, int nb, const int8_t *aq, size_t aq_stride, const float *ad,
                  size_t ad_stride, int nvec, float *out, size_t out_stride) { VK_UNSUPPORTED; }
void vk_gemm_q5_0(const void *w, size_t row_bytes, int rows, int nb, const int8_t *aq, size_t aq_stride, const float *ad,
                  size_t ad_stride, int nvec, float *out, size_t out_stride) { VK_UNSUPPORTED; }
void vk_gemm_q6_K(const void *w, size_t row_bytes, int rows, int nb, const int8_t *aq, size_t aq_stride, const float *ad,
                  size_t ad_stride, const int32_t *as, size_t as_stride, int nvec, int tiled, float *out, size_t out_stride) {
    VK_UNSUPPORTED;
}
void vk_gemm_q4_K(const void *w, size_t row_bytes, int rows, int nb, const int8_t *aq, size_t aq_stride, const float *ad,
                  size_t ad_stride, const int32_t *as, size_t as_stride, int nvec, int grouped, float *out, size_t out_stride) {
    VK_UNSUPPORTED;
}
float vk_dot_f16_values(const float *x, const float *y, int n) { VK_UNSUPPORTED; }
void vk_attention_f16(const float *q, const float *k, const float *v, size_t stride, int positions, int head_dim, float scale,
                      float *out) { VK_UNSUPPORTED; }
void vk_swiglu(const float *gate, const float *up, float *out, int n) { VK_UNSUPPORTED; }
void vk_attention_tiled(const float *q, size_t q_stride, int nq, int first, const float *k, const float *v, size_t stride,
                        int head_dim, float scale, float *out, size_t out_stride) { VK_UNSUPPORTED; }
int vk_cpu_has_avx512(void) { return 0; }
void vk512_prepare_q8_K(const int8_t *aq, size_t aq_stride, const float *ad, size_t ad_stride, const int32_t *as, size_t as_stride,
                        int nvec, int nb, int8_t *parts, int16_t *sums, float *scales) { VK_UNSUPPORTED; }
void vk512_gemm_q4_K(const void *w, size_t row_bytes, int rows, int nb, const int8_t *parts, const int16_t *sums, const float *scales,
                     int nvec, int grouped, float *out, size_t out_stride) { VK_UNSUPPORTED; }
void vk512_gemm_q6_K(const void *w, size_t row_bytes, int rows, int nb, const int8_t *parts, const int16_t *sums, const float *scales,
                     int nvec, int tiled, float *out, size_t out_stride) { VK_UNSUPPORTED; }
void vk_q0_offsets(const int8_t *aq, int blocks, int k, int32_t *out) { VK_UNSUPPORTED; }
void vk512_gemm_q8_0(const void *w, size_t row_bytes, int rows, int nb, const int8_t *aq, size_t aq_stride, const float *ad,
                     size_t ad_stride, const int32_t *ao, size_t ao_stride, int nvec, float *out, size_t out_stride) { VK_UNSUPPORTED; }
void vk512_gemm_q5_0(const void *w, size_t row_bytes, int rows, int nb, const int8_t *aq, size_t aq_stride, const float *ad,
                     size_t ad_stride, const int32_t *ao, size_t ao_stride, int nvec, float *out, size_t out_stride) { VK_UNSUPPORTED; }
void vk_quantize_q8_0(const float *x, int n, int8_t *qs, float *scales) { VK_UNSUPPORTED; }
void vk_quantize_q8_K(const float *x, int n, int8_t *qs, float *scales, int32_t *sums) { VK_UNSUPPORTED; }
float vk_expf_approx(float x) { VK_UNSUPPORTED; }

#endif
