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
/// ggml's CPU flash attention computes it with an F16 KV cache: scores by vk_dot_f16_values times `scale`,
/// an online softmax, the weighted sum of V rounded to F16 after every update, divided by the sum at the end.
void vk_attention_f16(const float *q, const float *k, const float *v, size_t stride, int positions,
                      int head_dim, float scale, float *out);

/// out[i] = silu(gate[i]) * up[i], with silu(x) = x / (1 + exp(-x)) and exp evaluated like ggml's AVX2
/// ggml_v_expf (a degree-5 polynomial after range reduction) for whole groups of 8, libm expf for the rest.
void vk_swiglu(const float *gate, const float *up, float *out, int n);

/// The AVX2 exp approximation on its own (for tests).
float vk_expf_approx(float x);

#endif
