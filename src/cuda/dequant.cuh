/* Device dequantization of the GGML block formats. mlxn_dq<T> holds, for each block format
 * T, its block struct, elements per block, and load8(block, c, v): elements 8c .. 8c+7 of the
 * block as f32, bit-exact with the reference rows in src/quant (each product and sum rounded
 * once, in the reference's order: _rn intrinsics, so nothing is fused into an FMA).
 * Include it before anything else includes quant/blocks.h: it makes the tables device copies. */
#pragma once

#if defined(MLXN_QUANT_BLOCKS_H) && !defined(MLXN_DQ_DEVICE_TABLES)
#error "cuda/dequant.cuh must come before quant/blocks.h (its tables must be device copies)"
#endif
#define MLXN_DQ_DEVICE_TABLES
#undef MLXN_QUANT_TABLE
#define MLXN_QUANT_TABLE static const __device__
#include "quant/blocks.h"
#include "quant/iq_tables.h"
#include "quant/iq1_tables.h"

#include "cuda/cuda_common.cuh"

#define MLXN_DQ_CHUNK 8 /* elements one load8 yields: every block is a whole number of them */

static __device__ __forceinline__ float mlxn_dq_f16(uint16_t h) { return __half2float(__ushort_as_half(h)); }
static __device__ __forceinline__ float mlxn_dq_mul(float a, float b) { return __fmul_rn(a, b); }
static __device__ __forceinline__ float mlxn_dq_add(float a, float b) { return __fadd_rn(a, b); }
static __device__ __forceinline__ float mlxn_dq_sub(float a, float b) { return __fsub_rn(a, b); }
/* A little-endian u16 / u32 from bytes (block fields are only 2-byte aligned, some less). */
static __device__ __forceinline__ uint32_t mlxn_dq_u16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static __device__ __forceinline__ uint32_t mlxn_dq_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
/* -1 or +1: bit j of a sign byte. */
static __device__ __forceinline__ float mlxn_dq_sign(uint32_t signs, int j) { return (signs >> j) & 1 ? -1.f : 1.f; }
/* Byte j of a grid point (little-endian). */
static __device__ __forceinline__ float mlxn_dq_grid8(uint64_t g, int j) { return (float)(uint8_t)(g >> (8 * j)); }

/* Float rows: v[0..8) = p[0..valid) widened (zeros past valid); vec: 16-byte accesses (p
 * 16-byte aligned, valid == 8). */
template <typename T>
static __device__ __forceinline__ void mlxn_ld8(const T *p, int valid, bool vec, float (&v)[8]) {
    if (vec && valid == 8) {
        if constexpr (sizeof(T) == 4) {
            const float4 a = __ldg(reinterpret_cast<const float4 *>(p)), b = __ldg(reinterpret_cast<const float4 *>(p) + 1);
            v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
        } else {
            const uint4 raw = __ldg(reinterpret_cast<const uint4 *>(p));
            const T *h = reinterpret_cast<const T *>(&raw);
#pragma unroll
            for (int k = 0; k < 8; k++) v[k] = mlxn_to_f32(h[k]);
        }
    } else {
#pragma unroll
        for (int k = 0; k < 8; k++) v[k] = k < valid ? mlxn_to_f32(p[k]) : 0.0f;
    }
}

/* p[0..valid) = v rounded to T (nearest even). */
template <typename T>
static __device__ __forceinline__ void mlxn_st8(T *p, int valid, bool vec, const float (&v)[8]) {
    if (vec && valid == 8) {
        if constexpr (sizeof(T) == 4) {
            reinterpret_cast<float4 *>(p)[0] = make_float4(v[0], v[1], v[2], v[3]);
            reinterpret_cast<float4 *>(p)[1] = make_float4(v[4], v[5], v[6], v[7]);
        } else {
            uint4 raw;
            T *h = reinterpret_cast<T *>(&raw);
#pragma unroll
            for (int k = 0; k < 8; k++) h[k] = mlxn_from_f32<T>(v[k]);
            *reinterpret_cast<uint4 *>(p) = raw;
        }
    } else {
#pragma unroll
        for (int k = 0; k < 8; k++)
            if (k < valid) p[k] = mlxn_from_f32<T>(v[k]);
    }
}

template <mlxn_type T> struct mlxn_dq;

/* ── 32-element blocks: element j < 16 in the low nibble of qs[j], j + 16 in the high one ── */

template <> struct mlxn_dq<MLXN_TYPE_Q4_0> {
    typedef mlxn_block_q4_0 block;
    static constexpr int qk = MLXN_QK4_0;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const float d = mlxn_dq_f16(b->d);
        const int sh = c >= 2 ? 4 : 0, o = (c & 1) * 8;
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = mlxn_dq_mul((float)(((b->qs[o + j] >> sh) & 0xf) - 8), d);
    }
};

template <> struct mlxn_dq<MLXN_TYPE_Q4_1> {
    typedef mlxn_block_q4_1 block;
    static constexpr int qk = MLXN_QK4_1;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const float d = mlxn_dq_f16(b->d), m = mlxn_dq_f16(b->m);
        const int sh = c >= 2 ? 4 : 0, o = (c & 1) * 8;
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = mlxn_dq_add(mlxn_dq_mul((float)((b->qs[o + j] >> sh) & 0xf), d), m);
    }
};

template <> struct mlxn_dq<MLXN_TYPE_Q5_0> {
    typedef mlxn_block_q5_0 block;
    static constexpr int qk = MLXN_QK5_0;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const float d = mlxn_dq_f16(b->d);
        const uint32_t qh = mlxn_dq_u32(b->qh);
        const int sh = c >= 2 ? 4 : 0, o = (c & 1) * 8;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const int q = ((b->qs[o + j] >> sh) & 0xf) | (int)(((qh >> (8 * c + j)) & 1u) << 4);
            v[j] = mlxn_dq_mul((float)(q - 16), d);
        }
    }
};

template <> struct mlxn_dq<MLXN_TYPE_Q5_1> {
    typedef mlxn_block_q5_1 block;
    static constexpr int qk = MLXN_QK5_1;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const float d = mlxn_dq_f16(b->d), m = mlxn_dq_f16(b->m);
        const uint32_t qh = mlxn_dq_u32(b->qh);
        const int sh = c >= 2 ? 4 : 0, o = (c & 1) * 8;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const int q = ((b->qs[o + j] >> sh) & 0xf) | (int)(((qh >> (8 * c + j)) & 1u) << 4);
            v[j] = mlxn_dq_add(mlxn_dq_mul((float)q, d), m);
        }
    }
};

/* Q8_0 and Q8_1: d·q (Q8_1's sum field plays no part in dequantization). */
template <typename B, int QK> struct mlxn_dq_q8 {
    typedef B block;
    static constexpr int qk = QK;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const float d = mlxn_dq_f16(b->d);
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = mlxn_dq_mul((float)b->qs[8 * c + j], d);
    }
};
template <> struct mlxn_dq<MLXN_TYPE_Q8_0> : mlxn_dq_q8<mlxn_block_q8_0, MLXN_QK8_0> {};
template <> struct mlxn_dq<MLXN_TYPE_Q8_1> : mlxn_dq_q8<mlxn_block_q8_1, MLXN_QK8_1> {};

template <> struct mlxn_dq<MLXN_TYPE_IQ4_NL> {
    typedef mlxn_block_iq4_nl block;
    static constexpr int qk = MLXN_QK4_NL;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const float d = mlxn_dq_f16(b->d);
        const int sh = c >= 2 ? 4 : 0, o = (c & 1) * 8;
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = mlxn_dq_mul(d, (float)mlxn_kvalues_iq4nl[(b->qs[o + j] >> sh) & 0xf]);
    }
};

/* 2^(e - 128): half the E8M0 scale e, as MXFP4's doubled E2M1 levels want; e < 2 is subnormal. */
static __device__ __forceinline__ float mlxn_e8m0_half(uint32_t e) {
    return __uint_as_float(e < 2 ? 0x00200000u << e : (e - 1) << 23);
}

template <> struct mlxn_dq<MLXN_TYPE_MXFP4> {
    typedef mlxn_block_mxfp4 block;
    static constexpr int qk = MLXN_QK_MXFP4;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const float d = mlxn_e8m0_half(b->e);
        const int sh = c >= 2 ? 4 : 0, o = (c & 1) * 8;
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = mlxn_dq_mul((float)mlxn_kvalues_mxfp4[(b->qs[o + j] >> sh) & 0xf], d);
    }
};

/* ── K-quants (256 per super-block) ── */

/* Q2_K and Q3_K: element n = 128·half + 32·(shift/2) + 16·k + l sits in bits `shift` of
 * qs[32·half + 16·k + l]; its scale is number n / 16. */
template <> struct mlxn_dq<MLXN_TYPE_Q2_K> {
    typedef mlxn_block_q2_K block;
    static constexpr int qk = MLXN_QK_K;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const int n = 8 * c, half = n >> 7, r = n & 127, shift = 2 * (r >> 5), q0 = 32 * half + (r & 31);
        const uint8_t sc = b->scales[n >> 4];
        const float dl = mlxn_dq_mul(mlxn_dq_f16(b->d), (float)(sc & 0xf));
        const float ml = mlxn_dq_mul(mlxn_dq_f16(b->dmin), (float)(sc >> 4));
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = mlxn_dq_sub(mlxn_dq_mul(dl, (float)((b->qs[q0 + j] >> shift) & 3)), ml);
    }
};

template <> struct mlxn_dq<MLXN_TYPE_Q3_K> {
    typedef mlxn_block_q3_K block;
    static constexpr int qk = MLXN_QK_K;
    /* The 6-bit scale j (biased by 32): low 4 bits in bytes 0..7, high 2 in bytes 8..11. */
    static __device__ __forceinline__ int scale(const uint8_t *s, int j) {
        const int lo = j < 8 ? s[j] & 0xf : s[j - 8] >> 4;
        return (lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
    }
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const int n = 8 * c, half = n >> 7, r = n & 127, shift = 2 * (r >> 5), l0 = r & 31;
        const uint32_t m = 1u << (4 * half + (r >> 5));
        const float dl = mlxn_dq_mul(mlxn_dq_f16(b->d), (float)scale(b->scales, n >> 4));
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const int q = ((b->qs[32 * half + l0 + j] >> shift) & 3) - ((b->hmask[l0 + j] & m) ? 0 : 4);
            v[j] = mlxn_dq_mul(dl, (float)q);
        }
    }
};

/* Q4_K and Q5_K: the 6-bit scale and min j of 8, packed in 12 bytes. */
static __device__ __forceinline__ void mlxn_dq_scale_min_k4(int j, const uint8_t *q, int &sc, int &m) {
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* Element n = 64·p + 32·hi + l: nibble hi of qs[32·p + l], group 2p + hi. */
template <> struct mlxn_dq<MLXN_TYPE_Q4_K> {
    typedef mlxn_block_q4_K block;
    static constexpr int qk = MLXN_QK_K;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const int n = 8 * c, p = n >> 6, hi = (n >> 5) & 1, l0 = n & 31;
        int sc, m;
        mlxn_dq_scale_min_k4(2 * p + hi, b->scales, sc, m);
        const float d1 = mlxn_dq_mul(mlxn_dq_f16(b->d), (float)sc), m1 = mlxn_dq_mul(mlxn_dq_f16(b->dmin), (float)m);
#pragma unroll
        for (int j = 0; j < 8; j++)
            v[j] = mlxn_dq_sub(mlxn_dq_mul(d1, (float)((b->qs[32 * p + l0 + j] >> (4 * hi)) & 0xf)), m1);
    }
};

/* As Q4_K, bit 4 of element (p, hi, l) in bit 2p + hi of qh[l]. */
template <> struct mlxn_dq<MLXN_TYPE_Q5_K> {
    typedef mlxn_block_q5_K block;
    static constexpr int qk = MLXN_QK_K;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const int n = 8 * c, p = n >> 6, hi = (n >> 5) & 1, l0 = n & 31;
        int sc, m;
        mlxn_dq_scale_min_k4(2 * p + hi, b->scales, sc, m);
        const float d1 = mlxn_dq_mul(mlxn_dq_f16(b->d), (float)sc), m1 = mlxn_dq_mul(mlxn_dq_f16(b->dmin), (float)m);
        const uint32_t u = 1u << (2 * p + hi);
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const int q = ((b->qs[32 * p + l0 + j] >> (4 * hi)) & 0xf) + ((b->qh[l0 + j] & u) ? 16 : 0);
            v[j] = mlxn_dq_sub(mlxn_dq_mul(d1, (float)q), m1);
        }
    }
};

/* Element n = 128·h + 32·t + l: low 4 bits from ql[64·h + l + 32·(t & 1)] (nibble t >> 1),
 * high 2 from bits 2t of qh[32·h + l]; scale 8·h + l / 16 + 2·t. */
template <> struct mlxn_dq<MLXN_TYPE_Q6_K> {
    typedef mlxn_block_q6_K block;
    static constexpr int qk = MLXN_QK_K;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const int n = 8 * c, h = n >> 7, t = (n >> 5) & 3, l0 = n & 31;
        const float ds = mlxn_dq_mul(mlxn_dq_f16(b->d), (float)b->scales[8 * h + (l0 >> 4) + 2 * t]);
        const uint8_t *ql = b->ql + 64 * h + 32 * (t & 1), *qh = b->qh + 32 * h;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const int q = (((ql[l0 + j] >> (4 * (t >> 1))) & 0xf) | (((qh[l0 + j] >> (2 * t)) & 3) << 4)) - 32;
            v[j] = mlxn_dq_mul(ds, (float)q);
        }
    }
};

template <> struct mlxn_dq<MLXN_TYPE_Q8_K> {
    typedef mlxn_block_q8_K block;
    static constexpr int qk = MLXN_QK_K;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = mlxn_dq_mul(b->d, (float)b->qs[8 * c + j]);
    }
};

/* ── IQ formats: 8 consecutive elements are one grid point (two for IQ3) ── */

/* Per 32 (ib = c / 4): u32 a = 4 grid indices, u32 b = 4 × 7 sign bits + a 4-bit scale. */
template <> struct mlxn_dq<MLXN_TYPE_IQ2_XXS> {
    typedef mlxn_block_iq2_xxs block;
    static constexpr int qk = MLXN_QK_K;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const int ib = c >> 2, l = c & 3;
        const uint32_t a = (uint32_t)b->qs[4 * ib] | ((uint32_t)b->qs[4 * ib + 1] << 16);
        const uint32_t s = (uint32_t)b->qs[4 * ib + 2] | ((uint32_t)b->qs[4 * ib + 3] << 16);
        const float db = mlxn_dq_mul(mlxn_dq_mul(mlxn_dq_f16(b->d), mlxn_dq_add(0.5f, (float)(s >> 28))), 0.25f);
        const uint64_t g = mlxn_iq2xxs_grid[(a >> (8 * l)) & 255];
        const uint32_t sg = mlxn_ksigns_iq2xs[(s >> (7 * l)) & 127];
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = mlxn_dq_mul(mlxn_dq_mul(db, mlxn_dq_grid8(g, j)), mlxn_dq_sign(sg, j));
    }
};

/* Per 8: u16 = 9-bit grid index | 7 sign bits << 9; a 4-bit scale per 16. */
template <> struct mlxn_dq<MLXN_TYPE_IQ2_XS> {
    typedef mlxn_block_iq2_xs block;
    static constexpr int qk = MLXN_QK_K;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const int ib = c >> 2, l = c & 3;
        const uint32_t sc = (b->scales[ib] >> (4 * (l >> 1))) & 0xf;
        const float db = mlxn_dq_mul(mlxn_dq_mul(mlxn_dq_f16(b->d), mlxn_dq_add(0.5f, (float)sc)), 0.25f);
        const uint32_t q = b->qs[4 * ib + l];
        const uint64_t g = mlxn_iq2xs_grid[q & 511];
        const uint32_t sg = mlxn_ksigns_iq2xs[q >> 9];
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = mlxn_dq_mul(mlxn_dq_mul(db, mlxn_dq_grid8(g, j)), mlxn_dq_sign(sg, j));
    }
};

/* Per 8: 10-bit index (qs[c] + 2 bits of qh), 8 explicit sign bits in qs[32 + c]. */
template <> struct mlxn_dq<MLXN_TYPE_IQ2_S> {
    typedef mlxn_block_iq2_s block;
    static constexpr int qk = MLXN_QK_K;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const int ib = c >> 2, l = c & 3;
        const uint32_t sc = (b->scales[ib] >> (4 * (l >> 1))) & 0xf;
        const float db = mlxn_dq_mul(mlxn_dq_mul(mlxn_dq_f16(b->d), mlxn_dq_add(0.5f, (float)sc)), 0.25f);
        const int idx = b->qs[c] | ((b->qh[ib] << (8 - 2 * l)) & 0x300);
        const uint64_t g = mlxn_iq2s_grid[idx];
        const uint32_t sg = b->qs[MLXN_QK_K / 8 + c];
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = mlxn_dq_mul(mlxn_dq_mul(db, mlxn_dq_grid8(g, j)), mlxn_dq_sign(sg, j));
    }
};

/* Per 4: 8-bit grid index (qs[0..63]); per 32 a u32 of 4 × 7 sign bits + a 4-bit scale. */
template <> struct mlxn_dq<MLXN_TYPE_IQ3_XXS> {
    typedef mlxn_block_iq3_xxs block;
    static constexpr int qk = MLXN_QK_K;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const int ib = c >> 2, l = c & 3;
        const uint32_t aux = mlxn_dq_u32(b->qs + MLXN_QK_K / 4 + 4 * ib);
        const float db = mlxn_dq_mul(mlxn_dq_mul(mlxn_dq_f16(b->d), mlxn_dq_add(0.5f, (float)(aux >> 28))), 0.5f);
        const uint32_t sg = mlxn_ksigns_iq2xs[(aux >> (7 * l)) & 127];
        const uint32_t g1 = mlxn_iq3xxs_grid[b->qs[8 * ib + 2 * l]], g2 = mlxn_iq3xxs_grid[b->qs[8 * ib + 2 * l + 1]];
#pragma unroll
        for (int j = 0; j < 4; j++) {
            v[j] = mlxn_dq_mul(mlxn_dq_mul(db, (float)(uint8_t)(g1 >> (8 * j))), mlxn_dq_sign(sg, j));
            v[j + 4] = mlxn_dq_mul(mlxn_dq_mul(db, (float)(uint8_t)(g2 >> (8 * j))), mlxn_dq_sign(sg, j + 4));
        }
    }
};

/* Per 4: 9-bit grid index (qs + 1 bit of qh); 8 explicit sign bits per 8; odd 4-bit scales. */
template <> struct mlxn_dq<MLXN_TYPE_IQ3_S> {
    typedef mlxn_block_iq3_s block;
    static constexpr int qk = MLXN_QK_K;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const int ib = c >> 2, l = c & 3;
        const uint32_t sc = b->scales[ib / 2];
        const float db = mlxn_dq_mul(mlxn_dq_f16(b->d), (float)(1 + 2 * (int)(ib % 2 ? sc >> 4 : sc & 0xf)));
        const int h = b->qh[ib];
        const uint32_t g1 = mlxn_iq3s_grid[b->qs[8 * ib + 2 * l] | ((h << (8 - 2 * l)) & 256)];
        const uint32_t g2 = mlxn_iq3s_grid[b->qs[8 * ib + 2 * l + 1] | ((h << (7 - 2 * l)) & 256)];
        const uint32_t sg = b->signs[c];
#pragma unroll
        for (int j = 0; j < 4; j++) {
            v[j] = mlxn_dq_mul(mlxn_dq_mul(db, (float)(uint8_t)(g1 >> (8 * j))), mlxn_dq_sign(sg, j));
            v[j + 4] = mlxn_dq_mul(mlxn_dq_mul(db, (float)(uint8_t)(g2 >> (8 * j))), mlxn_dq_sign(sg, j + 4));
        }
    }
};

/* x = d · (2s + 1) · (grid ± 0.125); per 32 a u16 qh = 4 × 3 index bits, 3-bit s, delta sign. */
template <> struct mlxn_dq<MLXN_TYPE_IQ1_S> {
    typedef mlxn_block_iq1_s block;
    static constexpr int qk = MLXN_QK_K;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const int ib = c >> 2, l = c & 3;
        const uint32_t qh = b->qh[ib];
        const float dl = mlxn_dq_mul(mlxn_dq_f16(b->d), (float)(2 * ((qh >> 12) & 7) + 1));
        const float delta = qh & 0x8000 ? -MLXN_IQ1S_DELTA : MLXN_IQ1S_DELTA;
        const uint64_t g = mlxn_iq1s_grid[b->qs[c] | (((qh >> (3 * l)) & 7) << 8)];
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = mlxn_dq_mul(dl, mlxn_dq_add((float)(int8_t)(uint8_t)(g >> (8 * j)), delta));
    }
};

/* 3-bit scales per 16; the fp16 super-scale in the top nibbles of the four u16 scales. */
template <> struct mlxn_dq<MLXN_TYPE_IQ1_M> {
    typedef mlxn_block_iq1_m block;
    static constexpr int qk = MLXN_QK_K;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const int ib = c >> 2, l = c & 3;
        const uint32_t s0 = mlxn_dq_u16(b->scales), s1 = mlxn_dq_u16(b->scales + 2), s2 = mlxn_dq_u16(b->scales + 4),
                       s3 = mlxn_dq_u16(b->scales + 6);
        const uint16_t dbits = (uint16_t)((s0 >> 12) | ((s1 >> 8) & 0x00f0) | ((s2 >> 4) & 0x0f00) | (s3 & 0xf000));
        const uint32_t sc = mlxn_dq_u16(b->scales + 2 * (ib / 2));
        const int shift = 6 * (ib % 2) + 3 * (l >> 1);
        const float dl = mlxn_dq_mul(mlxn_dq_f16(dbits), (float)(2 * ((sc >> shift) & 7) + 1));
        const int h = b->qh[2 * ib + l / 2] >> (4 * (l % 2)); /* index bits 8..10 and the delta sign */
        const uint64_t g = mlxn_iq1s_grid[b->qs[c] | ((h & 7) << 8)];
        const float delta = h & 0x08 ? -MLXN_IQ1S_DELTA : MLXN_IQ1S_DELTA;
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = mlxn_dq_mul(dl, mlxn_dq_add((float)(int8_t)(uint8_t)(g >> (8 * j)), delta));
    }
};

/* 8 groups of 32: x = d · (ls - 32) · kvalues_iq4nl[q], nibbles per 32 as Q4_0. */
template <> struct mlxn_dq<MLXN_TYPE_IQ4_XS> {
    typedef mlxn_block_iq4_xs block;
    static constexpr int qk = MLXN_QK_K;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const int ib = c >> 2, sub = c & 3, sh = sub >= 2 ? 4 : 0, o = 16 * ib + (sub & 1) * 8;
        const int ls = ((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((b->scales_h >> (2 * ib)) & 3) << 4);
        const float dl = mlxn_dq_mul(mlxn_dq_f16(b->d), (float)(ls - 32));
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = mlxn_dq_mul(dl, (float)mlxn_kvalues_iq4nl[(b->qs[o + j] >> sh) & 0xf]);
    }
};

/* ── ternary formats: x = d · t, t in {-1, 0, 1} ── */

/* Trit n of a packed byte: times 3^n mod 256 brings it to the top, then (· 3) >> 8. */
static __device__ __forceinline__ float mlxn_dq_trit(uint32_t byte, int n, float d) {
    const uint32_t pow3 = n == 0 ? 1 : n == 1 ? 3 : n == 2 ? 9 : n == 3 ? 27 : 81;
    const uint32_t q = (byte * pow3) & 255;
    return mlxn_dq_mul((float)((int)((q * 3) >> 8) - 1), d);
}

/* Elements [32t + m] (t < 5) from qs[m], then [160 + 16t + m] from qs[32 + m], then
 * [240 + 4t + j] from qh[j]. */
template <> struct mlxn_dq<MLXN_TYPE_TQ1_0> {
    typedef mlxn_block_tq1_0 block;
    static constexpr int qk = MLXN_QK_K;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const float d = mlxn_dq_f16(b->d);
        const int n = 8 * c;
        if (n < 160) {
#pragma unroll
            for (int j = 0; j < 8; j++) v[j] = mlxn_dq_trit(b->qs[(n & 31) + j], n >> 5, d);
        } else if (n < 240) {
            const int r = n - 160;
#pragma unroll
            for (int j = 0; j < 8; j++) v[j] = mlxn_dq_trit(b->qs[32 + (r & 15) + j], r >> 4, d);
        } else {
            const int t0 = (n - 240) >> 2;
#pragma unroll
            for (int j = 0; j < 8; j++) v[j] = mlxn_dq_trit(b->qh[j & 3], t0 + (j >> 2), d);
        }
    }
};

/* Element 128h + 32k + m in bits 2k of qs[32h + m], as t + 1. */
template <> struct mlxn_dq<MLXN_TYPE_TQ2_0> {
    typedef mlxn_block_tq2_0 block;
    static constexpr int qk = MLXN_QK_K;
    static __device__ __forceinline__ void load8(const block *b, int c, float (&v)[8]) {
        const float d = mlxn_dq_f16(b->d);
        const int n = 8 * c, h = n >> 7, k = (n >> 5) & 3, m0 = n & 31;
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = mlxn_dq_mul((float)((int)((b->qs[32 * h + m0 + j] >> (2 * k)) & 3) - 1), d);
    }
};

/* Calls f(mlxn_dq<T>{}) for a block format T; UNSUPPORTED for anything else. The one switch
 * that maps a run-time type to its device decoder. */
template <typename F>
static inline mlxn_status mlxn_dispatch_block(mlxn_type t, F &&f) {
    switch (t) {
    case MLXN_TYPE_Q4_0: return f(mlxn_dq<MLXN_TYPE_Q4_0>{});
    case MLXN_TYPE_Q4_1: return f(mlxn_dq<MLXN_TYPE_Q4_1>{});
    case MLXN_TYPE_Q5_0: return f(mlxn_dq<MLXN_TYPE_Q5_0>{});
    case MLXN_TYPE_Q5_1: return f(mlxn_dq<MLXN_TYPE_Q5_1>{});
    case MLXN_TYPE_Q8_0: return f(mlxn_dq<MLXN_TYPE_Q8_0>{});
    case MLXN_TYPE_Q8_1: return f(mlxn_dq<MLXN_TYPE_Q8_1>{});
    case MLXN_TYPE_IQ4_NL: return f(mlxn_dq<MLXN_TYPE_IQ4_NL>{});
    case MLXN_TYPE_MXFP4: return f(mlxn_dq<MLXN_TYPE_MXFP4>{});
    case MLXN_TYPE_Q2_K: return f(mlxn_dq<MLXN_TYPE_Q2_K>{});
    case MLXN_TYPE_Q3_K: return f(mlxn_dq<MLXN_TYPE_Q3_K>{});
    case MLXN_TYPE_Q4_K: return f(mlxn_dq<MLXN_TYPE_Q4_K>{});
    case MLXN_TYPE_Q5_K: return f(mlxn_dq<MLXN_TYPE_Q5_K>{});
    case MLXN_TYPE_Q6_K: return f(mlxn_dq<MLXN_TYPE_Q6_K>{});
    case MLXN_TYPE_Q8_K: return f(mlxn_dq<MLXN_TYPE_Q8_K>{});
    case MLXN_TYPE_IQ2_XXS: return f(mlxn_dq<MLXN_TYPE_IQ2_XXS>{});
    case MLXN_TYPE_IQ2_XS: return f(mlxn_dq<MLXN_TYPE_IQ2_XS>{});
    case MLXN_TYPE_IQ2_S: return f(mlxn_dq<MLXN_TYPE_IQ2_S>{});
    case MLXN_TYPE_IQ3_XXS: return f(mlxn_dq<MLXN_TYPE_IQ3_XXS>{});
    case MLXN_TYPE_IQ3_S: return f(mlxn_dq<MLXN_TYPE_IQ3_S>{});
    case MLXN_TYPE_IQ1_S: return f(mlxn_dq<MLXN_TYPE_IQ1_S>{});
    case MLXN_TYPE_IQ1_M: return f(mlxn_dq<MLXN_TYPE_IQ1_M>{});
    case MLXN_TYPE_IQ4_XS: return f(mlxn_dq<MLXN_TYPE_IQ4_XS>{});
    case MLXN_TYPE_TQ1_0: return f(mlxn_dq<MLXN_TYPE_TQ1_0>{});
    case MLXN_TYPE_TQ2_0: return f(mlxn_dq<MLXN_TYPE_TQ2_0>{});
    default: return mlxn_err(MLXN_ERR_UNSUPPORTED, "cuda: %s has no device decoder", mlxn_type_name(t));
    }
}
