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

VK_AVX2 void vk_swiglu(const float *gate, const float *up, float *out, int n) {
    const int nv = n & ~7;
    for (int i = 0; i < nv; i++) {
        const float x = gate[i];
        out[i] = x / (1.0f + vk_expf_approx(0.0f - x)) * up[i];
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
    for (int i = 0; i < head_dim; i++) out[i] = 0;
    for (int t = 0; t < positions; t++) {
        const float *kt = k + (size_t)t * stride, *vt = v + (size_t)t * stride;
        const float score = vk_dot_f16_values(q, kt, head_dim) * scale;
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
float vk_expf_approx(float x) { VK_UNSUPPORTED; }

#endif
