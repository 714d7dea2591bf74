/* Sampling family: argmax, top-k and the seeded draw. The validated arguments a backend
 * receives, and the arithmetic every backend must do identically so that all of them pick
 * the same token: f32 steps written one rounding at a time (C: -ffp-contract=off; CUDA: the
 * _rn intrinsics, so nothing is fused), integer mass, a counter-based RNG. C and CUDA. */
#ifndef MLXN_OPS_SAMPLE_H
#define MLXN_OPS_SAMPLE_H

#include <math.h>
#include <stdint.h>
#include <string.h>
#include "mlxn.h"

typedef enum mlxn_sample_mode {
    MLXN_SAMPLE_ARGMAX = 0,
    MLXN_SAMPLE_TOP_K = 1,
    MLXN_SAMPLE_DRAW = 2,
} mlxn_sample_mode;

#define MLXN_SAMPLE_MAX_K 1024      /* mlxn_top_k: the largest k (the CUDA sort's size) */
#define MLXN_SAMPLE_MAX_RECENT 4096 /* recent ids per row */

typedef struct mlxn_sample_args {
    mlxn_sample_mode mode;
    mlxn_type tl;           /* logits: F32, F16, BF16 */
    mlxn_type tv;           /* TOP_K values, when values != NULL */
    const void *logits;     /* [rows][v] */
    const int32_t *recent;  /* DRAW: NULL or [rows or 1][w] */
    int64_t *rng;           /* DRAW: {seed, step} */
    int32_t *out;           /* ARGMAX, DRAW: [rows]; TOP_K: [rows][k] */
    void *values;           /* TOP_K: NULL or [rows][k] */
    int64_t rows, v;        /* > 0; v < 2^31 */
    int64_t w;              /* recent ids per row, 0..MLXN_SAMPLE_MAX_RECENT */
    int recent_per_row;     /* recent is [rows][w]; else one [w] for every row */
    int32_t k;              /* TOP_K: 1..min(v, MAX_K); DRAW: the top-k filter, 0 when off (k < v) */
    int greedy;             /* DRAW: temperature <= 0 */
    int penalize;           /* DRAW: recent given and a penalty on */
    float inv_temp;         /* DRAW: 1 / temperature, rounded to f32 */
    float rep, presence, freq;
    float log_min_p;        /* DRAW: logf(min_p), -inf when off */
    float top_p;            /* DRAW: < 1 when on */
    int advance;            /* DRAW: rng[1] += 1 afterwards */
} mlxn_sample_args;

#if defined(__CUDACC__)
#define MLXN_SMP_FN static __host__ __device__ __forceinline__
#else
#define MLXN_SMP_FN static inline
#endif

#if defined(__CUDA_ARCH__)
#define MLXN_SMP_MUL(a, b) __fmul_rn((a), (b))
#define MLXN_SMP_ADD(a, b) __fadd_rn((a), (b))
#define MLXN_SMP_SUB(a, b) __fsub_rn((a), (b))
#define MLXN_SMP_DIV(a, b) __fdiv_rn((a), (b))
#else
#define MLXN_SMP_MUL(a, b) ((a) * (b))
#define MLXN_SMP_ADD(a, b) ((a) + (b))
#define MLXN_SMP_SUB(a, b) ((a) - (b))
#define MLXN_SMP_DIV(a, b) ((a) / (b))
#endif

MLXN_SMP_FN uint32_t mlxn_smp_bits(float f) {
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

MLXN_SMP_FN float mlxn_smp_float(uint32_t b) {
    float f;
    memcpy(&f, &b, 4);
    return f;
}

/* Order-preserving key: a larger float has a larger key; NaN ranks with -inf, -0 with +0. */
MLXN_SMP_FN uint32_t mlxn_smp_key(float z) {
    uint32_t b = mlxn_smp_bits(z);
    if ((b & 0x7fffffffu) > 0x7f800000u) b = 0xff800000u;
    if (b == 0x80000000u) b = 0;
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

MLXN_SMP_FN float mlxn_smp_unkey(uint32_t k) {
    return mlxn_smp_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

/* A unique rank key: the value's key, then the smaller index first. */
MLXN_SMP_FN uint64_t mlxn_smp_ck(uint32_t key, int64_t idx) {
    return ((uint64_t)key << 32) | (uint64_t)(0xffffffffu - (uint32_t)idx);
}

MLXN_SMP_FN int64_t mlxn_smp_ck_index(uint64_t ck) { return (int64_t)(0xffffffffu - (uint32_t)ck); }

/* Step 1 of the draw for a token seen c > 0 times. */
MLXN_SMP_FN float mlxn_smp_penalize(float l, int32_t c, float rep, float freq, float presence) {
    l = l > 0.0f ? MLXN_SMP_DIV(l, rep) : MLXN_SMP_MUL(l, rep);
    float t = MLXN_SMP_ADD(MLXN_SMP_MUL((float)c, freq), presence);
    return MLXN_SMP_SUB(l, t);
}

/* e^x for x <= 0 from + - · and exact scalings only, so every backend gets the same bits:
 * x = n·ln2 + r (Cody-Waite, |r| <= ln2/2), e^r by its Taylor series to r^7 (relative error
 * below 2^-22), times 2^n. Below -28, where e^x < 2^-40 (a mass of 0), it returns 0. */
MLXN_SMP_FN float mlxn_smp_exp(float x) {
    if (!(x >= -28.0f)) return 0.0f;
    if (x > 0.0f) x = 0.0f;
    const float n = floorf(MLXN_SMP_ADD(MLXN_SMP_MUL(x, 0x1.715476p+0f), 0.5f));
    const float r = MLXN_SMP_SUB(MLXN_SMP_SUB(x, MLXN_SMP_MUL(n, 0x1.62e4p-1f)), MLXN_SMP_MUL(n, 0x1.7f7d1cp-20f));
    float p = 0x1.a01a02p-13f;
    p = MLXN_SMP_ADD(MLXN_SMP_MUL(p, r), 0x1.6c16c2p-10f);
    p = MLXN_SMP_ADD(MLXN_SMP_MUL(p, r), 0x1.111112p-7f);
    p = MLXN_SMP_ADD(MLXN_SMP_MUL(p, r), 0x1.555556p-5f);
    p = MLXN_SMP_ADD(MLXN_SMP_MUL(p, r), 0x1.555556p-3f);
    p = MLXN_SMP_ADD(MLXN_SMP_MUL(p, r), 0.5f);
    p = MLXN_SMP_ADD(MLXN_SMP_MUL(p, r), 1.0f);
    p = MLXN_SMP_ADD(MLXN_SMP_MUL(p, r), 1.0f);
    const int ni = (int)n; /* -41 .. 0 */
    return MLXN_SMP_MUL(p, mlxn_smp_float((uint32_t)(ni + 127) << 23));
}

/* Mass of an exp value e in [0, 1] in units of 2^-40, truncated; e < 0 (excluded) gives 0. */
MLXN_SMP_FN uint64_t mlxn_smp_mass(float e) {
    return e > 0.0f ? (uint64_t)MLXN_SMP_MUL(e, 0x1p40f) : 0;
}

/* top-p: the mass the kept tokens must reach, ceil(top_p · total) in [1, total]. */
MLXN_SMP_FN uint64_t mlxn_smp_top_p_need(uint64_t total, float top_p) {
    double t = ceil((double)total * (double)top_p);
    uint64_t need = t >= (double)total ? total : (uint64_t)t;
    return need < 1 ? 1 : need;
}

/* Philox4x32-10 (Salmon et al., Random123) of counter (step, row, 0) under key seed: the
 * first two output words as one 64-bit number. */
MLXN_SMP_FN uint64_t mlxn_smp_philox(uint64_t seed, uint64_t step, uint32_t row) {
    uint32_t c0 = (uint32_t)step, c1 = (uint32_t)(step >> 32), c2 = row, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int i = 0; i < 10; i++) {
        const uint64_t p0 = (uint64_t)0xD2511F53u * c0, p1 = (uint64_t)0xCD9E8D57u * c2;
        const uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return ((uint64_t)c0 << 32) | c1;
}

/* The high 64 bits of a · b: a uniform draw u scaled to [0, total). */
MLXN_SMP_FN uint64_t mlxn_smp_mulhi64(uint64_t a, uint64_t b) {
#if defined(__CUDA_ARCH__)
    return __umul64hi(a, b);
#else
    return (uint64_t)(((unsigned __int128)a * b) >> 64);
#endif
}

#endif
