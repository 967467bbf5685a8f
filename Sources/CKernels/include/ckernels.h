#ifndef VOCABKIT_CKERNELS_H
#define VOCABKIT_CKERNELS_H
#include <stddef.h>
#include <stdint.h>

// AVX2/FMA/F16C kernels for VocabKitInference's forward pass. Every function here requires
// vk_cpu_has_avx2() to be true; the Swift side keeps its portable path for other CPUs. Only x86-64 builds
// compile the kernels; elsewhere vk_cpu_has_avx2() is 0 and the others are stubs that are never called.
//
// The arithmetic mirrors ggml's x86 CPU backend so that greedy decoding agrees with llama.cpp: integer dot
// products per block (exact), each block's int32 lanes converted to float and fused-multiply-added into
// float lanes with the product of the two block scales, and the lanes summed in ggml's order at the end.

/// Whether this CPU has AVX2, FMA and F16C (checked once); always 0 on a CPU that is not x86-64.
int vk_cpu_has_avx2(void);

/// Quantizes n floats (a multiple of 32) to Q8_0 as ggml's x86 quantize_row_q8_0 does: per block of 32, the
/// scale d = max|x| / 127 rounded through F16 (to `scales`), quants round(x · 127 / max|x|), ties to even.
void vk_quantize_q8_0(const float *x, int n, int8_t *qs, float *scales);
/// Quantizes n floats (a multiple of 256) to Q8_K as ggml's quantize_row_q8_K_ref: per super-block, the
/// first element of largest magnitude p gives iscale = -127 / p, quants min(127, round(iscale · x)) ties to
/// even, scale 1 / iscale (0 and zero quants for an all-zero block), and the sums of each 16 quants.
void vk_quantize_q8_K(const float *x, int n, int8_t *qs, float *scales, int32_t *sums);

// Matrix products. `w` points at the first of `rows` weight rows, `row_bytes` apart, each `nb` blocks long.
// The `nvec` activations are quantized rows: `aq` int8 quants (vector v at aq + v * aq_stride), `ad` block
// scales (ad + v * ad_stride), for Q8_K also `as` sums of 16 quants (as + v * as_stride). Results go to
// out[v * out_stride + r] for r in 0..<rows. A weight row is reused across the vectors while it is in cache.

/// Q8_0 weights with Q8_0 activations (ad already rounded through F16).
void vk_gemm_q8_0(const void *w, size_t row_bytes, int rows, int nb,
                  const int8_t *aq, size_t aq_stride, const float *ad, size_t ad_stride,
                  int nvec, float *out, size_t out_stride);
/// Q5_0 weights with Q8_0 activations.
void vk_gemm_q5_0(const void *w, size_t row_bytes, int rows, int nb,
                  const int8_t *aq, size_t aq_stride, const float *ad, size_t ad_stride,
                  int nvec, float *out, size_t out_stride);
/// Whether this CPU also has AVX-512 F/BW/VL/DQ and VNNI (checked once), for the vk512_ kernels.
int vk_cpu_has_avx512(void);
/// For each of `blocks` Q8_0 activation blocks (32 quants at aq + 32 b), eight int32 lanes
/// -k · (sum of quants 4i ..< 4i + 4): what the vk512_ kernels' unsigned weights (value + k) add to a lane.
/// k is 16 for Q5_0 weights and 128 for Q8_0.
void vk_q0_offsets(const int8_t *aq, int blocks, int k, int32_t *out);
/// vk_gemm_q8_0 and vk_gemm_q5_0 with AVX-512 VNNI, bit for bit the same results; `ao` holds the
/// activations' vk_q0_offsets (k = 128 and 16), vector v's at ao + v * ao_stride.
void vk512_gemm_q8_0(const void *w, size_t row_bytes, int rows, int nb,
                     const int8_t *aq, size_t aq_stride, const float *ad, size_t ad_stride,
                     const int32_t *ao, size_t ao_stride, int nvec, float *out, size_t out_stride);
void vk512_gemm_q5_0(const void *w, size_t row_bytes, int rows, int nb,
                     const int8_t *aq, size_t aq_stride, const float *ad, size_t ad_stride,
                     const int32_t *ao, size_t ao_stride, int nvec, float *out, size_t out_stride);
/// Lays out Q8_K activations (quants, scales and sums of 16 as for vk_gemm_q6_K) for the vk512_ K-quant
/// kernels: vectors in groups of 4 (the last padded with zeros); per group and super-block, 16 parts of 16
/// quants with the 4 vectors' part side by side (1024 bytes), the sums as int16 (sums 0-7 of the 4 vectors,
/// then sums 8-15: 64), and the 4 scales.
void vk512_prepare_q8_K(const int8_t *aq, size_t aq_stride, const float *ad, size_t ad_stride,
                        const int32_t *as, size_t as_stride, int nvec, int nb,
                        int8_t *parts, int16_t *sums, float *scales);
/// vk_gemm_q4_K and vk_gemm_q6_K with AVX-512 VNNI on activations laid out by vk512_prepare_q8_K (starting at
/// vector 0's group), bit for bit the same results.
void vk512_gemm_q4_K(const void *w, size_t row_bytes, int rows, int nb,
                     const int8_t *parts, const int16_t *sums, const float *scales,
                     int nvec, int grouped, float *out, size_t out_stride);
void vk512_gemm_q6_K(const void *w, size_t row_bytes, int rows, int nb,
                     const int8_t *parts, const int16_t *sums, const float *scales,
                     int nvec, int tiled, float *out, size_t out_stride);
/// Q6_K weights with Q8_K activations: ggml's vec_dot_q6_K_q8_K lane structure, or with `tiled` set the
/// accumulation of ggml's tiled K-quant matmul, which it uses for batches of 8 or more tokens.
void vk_gemm_q6_K(const void *w, size_t row_bytes, int rows, int nb,
                  const int8_t *aq, size_t aq_stride, const float *ad, size_t ad_stride,
                  const int32_t *as, size_t as_stride,
                  int nvec, int tiled, float *out, size_t out_stride);
/// Q4_K weights with Q8_K activations, accumulated as ggml's repacked Q4_K x8 kernels do on AVX2 (which it
/// uses whenever the row count is a multiple of 8): the first `grouped` vectors as its gemm (a batch's
/// activations in fours) adds every 64-element chunk to the running sums, the others as its gemv does, once
/// per super-block.
void vk_gemm_q4_K(const void *w, size_t row_bytes, int rows, int nb,
                  const int8_t *aq, size_t aq_stride, const float *ad, size_t ad_stride,
                  const int32_t *as, size_t as_stride,
                  int nvec, int grouped, float *out, size_t out_stride);

/// Dot product of two F32 vectors whose values are F16-representable, summed as ggml_vec_dot_f16 does on
/// AVX (four 8-lane FMA accumulators over steps of 32, then a fixed reduction; a tail in double).
float vk_dot_f16_values(const float *x, const float *y, int n);

/// One query's attention over `positions` cached keys and values (`stride` floats apart, all F16 values) as
/// ggml's CPU flash attention computes it with an F16 KV cache: Q rounded to F16, scores by vk_dot_f16_values times `scale`,
/// an online softmax, the weighted sum of V rounded to F16 after every update, divided by the sum at the end.
void vk_attention_f16(const float *q, const float *k, const float *v, size_t stride, int positions,
                      int head_dim, float scale, float *out);

/// llama.cpp's tiled flash attention (from 64 queries in a micro-batch) for `nq` queries of one head, query i
/// (F32, at q + i * q_stride) at position first + i seeing cached positions 0 ... first + i (keys and values
/// `stride` floats apart, F16 values): keys in tiles of 64 positions, scores and the weighted sum of V as
/// F32 FMA chains, a softmax per tile with ggml_v_expf and its sums, rescaling by expf when the maximum
/// grows. Results to out + i * out_stride.
void vk_attention_tiled(const float *q, size_t q_stride, int nq, int first, const float *k, const float *v,
                        size_t stride, int head_dim, float scale, float *out, size_t out_stride);

/// out[i] = silu(gate[i]) * up[i], with silu(x) = x / (1 + exp(-x)) and exp evaluated like ggml's AVX2
/// ggml_v_expf (a degree-5 polynomial after range reduction) for whole groups of 8, libm expf for the rest.
void vk_swiglu(const float *gate, const float *up, float *out, int n);

/// The AVX2 exp approximation on its own (for tests).
float vk_expf_approx(float x);

#endif
