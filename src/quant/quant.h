/* The reference row conversions behind the traits table (private to src/quant): for each
 * type, mlxn_<type>_to_float (dequantize) and mlxn_<type>_from_float (quantize) of n elements,
 * n a multiple of the block (the public wrappers check it), block pointers aligned for the
 * struct. Bit-exact with ggml's reference only when compiled with -ffp-contract=off: a fused
 * multiply-add changes the scale searches' choices (measured: Q4_K, Q5_K, IQ4_NL rows differ). */
#ifndef MLXN_QUANT_QUANT_H
#define MLXN_QUANT_QUANT_H

#include <stdint.h>
#include <string.h>

/* Round to nearest, ties to even, for |x| <= 2^22 - 1: adding 1.5 · 2^23 puts the integer in
 * the low mantissa bits (ggml's nearest_int; the FPU's rounding does the work, so the result
 * must come from exactly this float sum). */
static inline int mlxn_nearest_int(float x) {
    float v = x + 12582912.0f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* (int32_t)x, truncating, defined for every float: NaN and out-of-range values give
 * INT32_MIN, which is what x86's cvttss2si gives ggml's plain casts (undefined behaviour in C).
 * Finite in-range values convert as a cast would. */
static inline int32_t mlxn_trunc_int(float x) {
    return x >= -2147483648.0f && x < 2147483648.0f ? (int32_t)x : INT32_MIN;
}

#define MLXN_DECLARE_ROW_FNS(t)                                  \
    void mlxn_##t##_to_float(const void *src, float *dst, int64_t n); \
    void mlxn_##t##_from_float(const float *src, void *dst, int64_t n);

/* quant_float.c */
MLXN_DECLARE_ROW_FNS(f32)
MLXN_DECLARE_ROW_FNS(f16)
MLXN_DECLARE_ROW_FNS(bf16)
MLXN_DECLARE_ROW_FNS(f64)
/* quant_legacy.c */
MLXN_DECLARE_ROW_FNS(q4_0)
MLXN_DECLARE_ROW_FNS(q4_1)
MLXN_DECLARE_ROW_FNS(q5_0)
MLXN_DECLARE_ROW_FNS(q5_1)
MLXN_DECLARE_ROW_FNS(q8_0)
MLXN_DECLARE_ROW_FNS(q8_1)
MLXN_DECLARE_ROW_FNS(iq4_nl)
MLXN_DECLARE_ROW_FNS(mxfp4)
/* quant_k.c */
MLXN_DECLARE_ROW_FNS(q2_K)
MLXN_DECLARE_ROW_FNS(q3_K)
MLXN_DECLARE_ROW_FNS(q4_K)
MLXN_DECLARE_ROW_FNS(q5_K)
MLXN_DECLARE_ROW_FNS(q6_K)
MLXN_DECLARE_ROW_FNS(q8_K)
/* quant_iq.c: the grid formats dequantize only (their quantizers need an importance
 * matrix); IQ4_XS both ways. */
void mlxn_iq2_xxs_to_float(const void *src, float *dst, int64_t n);
void mlxn_iq2_xs_to_float(const void *src, float *dst, int64_t n);
void mlxn_iq2_s_to_float(const void *src, float *dst, int64_t n);
void mlxn_iq3_xxs_to_float(const void *src, float *dst, int64_t n);
void mlxn_iq3_s_to_float(const void *src, float *dst, int64_t n);
void mlxn_iq1_s_to_float(const void *src, float *dst, int64_t n);
void mlxn_iq1_m_to_float(const void *src, float *dst, int64_t n);
MLXN_DECLARE_ROW_FNS(iq4_xs)
/* The IQ4 quantizer shared by IQ4_NL (one block of 32: n_elems 32, no scales_h/scales_l)
 * and IQ4_XS (a super-block of 256 = 8 blocks of 32): writes *d, qs[n_elems / 2] and, for
 * IQ4_XS, the 6-bit block scales. ntry: scale candidates tried on each side. */
void mlxn_iq4_quantize(int n_elems, const float *x, uint16_t *d, uint8_t *qs,
                       uint16_t *scales_h, uint8_t *scales_l, int ntry);
/* quant_ternary.c */
MLXN_DECLARE_ROW_FNS(tq1_0)
MLXN_DECLARE_ROW_FNS(tq2_0)

#undef MLXN_DECLARE_ROW_FNS

#endif
