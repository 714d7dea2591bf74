/* CUDA mat-mat on Hopper's warpgroup tensor cores (wgmma, sm_90a): Yᵀ = W·Xᵀ, a tile of 128 W
 * rows × BM X rows per block (BM 64, 128 or 256, the wgmma N). Three warpgroups: one producer
 * thread stages KS elements of K per stage with TMA (X: bf16 boxes of 64 × BM, 128-byte
 * swizzle, the B operand; W: its raw bytes, 128 rows a box, unswizzled, once per block where a
 * stage holds part of a block) on full/empty mbarriers; two consumer warpgroups of 64 W rows
 * each. A consumer dequantizes its rows of W from the staged raw blocks straight into wgmma A
 * fragments (registers: elements 2t, 2t+1, 2t+8, 2t+9 of each 16 of K, rows g and g + 8 of its
 * warp's 16), one k64 chunk ahead of the tensor cores (two register sets, wait_group 1). A tile
 * of 64 W rows × 256 X rows (BN = 64, for grids of few tiles) has both consumers on the same 64
 * rows, each taking one of a stage's two k64 chunks, their sums added through shared memory at
 * the end: the decode per flop of the 128 × 256 tile on twice as many blocks. Grids whose last
 * round of 128 × 256 tiles would leave SMs idle share that round's K out over the SMs
 * (stream-K: qmw_sk_each; the pieces of a tile summed through a workspace). A block stores its
 * tile by X rows through shared memory (out_rows). BF16 weights (prepared copies included) skip
 * the decode: W is staged swizzled like X and read by descriptor (ss form). W rows that are not
 * 16-byte multiples (Q6_K at K 3584, 32-element blocks at K 576; TMA takes none) are staged by
 * the producer warpgroup's 128 threads instead (qmw_gen_copy).
 *
 * Numerics: each weight is the reference dequantization in f32 (one FFMA computes the exact
 * product or the reference's single rounding), rounded to bf16; X bf16; f32 accumulation —
 * the same values the mma.sync path produces. */
#pragma once

#include <cooperative_groups.h>
#include <type_traits>
#include <utility>

#include "cuda/hopper.cuh"
#include "cuda/qmatmul.cuh"

/* ── the formats this kernel decodes. A stage holds KS elements of K (qmw_cfg): X's, and the
 * W blocks that hold them (at BM = 256 a stage of 128 holds half a K-quant block and reads
 * the whole block). WB: bytes of a W row per stage box. TMA reads from 16-byte aligned
 * addresses only, so a box starts at its first block rounded down to 16 bytes: WB >= the
 * blocks' bytes + 14 where that rounding can move it, a multiple of 16, chosen so that the
 * 8 rows of a warp's reads fall in distinct banks (WB/4 an odd multiple of 4) ── */
template <mlxn_type T> struct qmw_fmt;
template <> struct qmw_fmt<MLXN_TYPE_Q4_0> { static constexpr int QK = 32, BB = 18, WB = 112; };
template <> struct qmw_fmt<MLXN_TYPE_Q8_0> { static constexpr int QK = 32, BB = 34, WB = 176; };
template <> struct qmw_fmt<MLXN_TYPE_Q4_K> { static constexpr int QK = 256, BB = 144, WB = 144; };
template <> struct qmw_fmt<MLXN_TYPE_Q6_K> { static constexpr int QK = 256, BB = 210, WB = 240; };
template <> struct qmw_fmt<MLXN_TYPE_Q4_1> { static constexpr int QK = 32, BB = 20, WB = 112; };
template <> struct qmw_fmt<MLXN_TYPE_Q5_0> { static constexpr int QK = 32, BB = 22, WB = 112; };
template <> struct qmw_fmt<MLXN_TYPE_Q5_1> { static constexpr int QK = 32, BB = 24, WB = 112; };
template <> struct qmw_fmt<MLXN_TYPE_IQ4_NL> { static constexpr int QK = 32, BB = 18, WB = 112; };
template <> struct qmw_fmt<MLXN_TYPE_MXFP4> { static constexpr int QK = 32, BB = 17, WB = 112; };
template <> struct qmw_fmt<MLXN_TYPE_Q2_K> { static constexpr int QK = 256, BB = 84, WB = 112; };
template <> struct qmw_fmt<MLXN_TYPE_Q3_K> { static constexpr int QK = 256, BB = 110, WB = 144; };
template <> struct qmw_fmt<MLXN_TYPE_Q5_K> { static constexpr int QK = 256, BB = 176, WB = 176; };
template <> struct qmw_fmt<MLXN_TYPE_IQ4_XS> { static constexpr int QK = 256, BB = 136, WB = 176; };
/* F16 weights: 64-element "blocks" of 128 bytes, rounded to bf16 as the mma.sync path does */
template <> struct qmw_fmt<MLXN_TYPE_F16> { static constexpr int QK = 64, BB = 128, WB = 272; };
template <> struct qmw_fmt<MLXN_TYPE_BF16> { static constexpr int QK = 1, BB = 2, WB = 0; };

static __device__ __forceinline__ uint32_t qmw_u16(const uint8_t *p) { return *reinterpret_cast<const uint16_t *>(p); }
/* bytes p[0], p[1], p[8], p[9] (p 2-byte aligned) */
static __device__ __forceinline__ uint32_t qmw_quad(const uint8_t *p) { return qmw_u16(p) | (qmw_u16(p + 8) << 16); }
static __device__ __forceinline__ float qmw_f16(const uint8_t *p) { return __half2float(__ushort_as_half((unsigned short)qmw_u16(p))); }
/* byte k (< 128) of v as the float 0.5 + v_k / 256 */
#define QMW_HALF(v, k) __uint_as_float(qmm_prmt((v), 0x3F000000u, 0x7054u | ((k) << 8)))
/* byte k of v as the float 2^23 + 256 v_k */
#define QMW_BIG(v, k) __uint_as_float(qmm_prmt((v), 0x4B000000u, 0x7604u | ((k) << 4)))

/* Fragments of one row for the 4 k16 steps of k64 chunk cb + c of the row's staged blocks
 * (cb even, c from an unrolled loop): f[j][0] = elements 16j + 2t, +1; f[j][1] = 16j + 2t + 8,
 * +9 (bf16x2, low half first). */
template <mlxn_type T> struct qmw_dec;

template <> struct qmw_dec<MLXN_TYPE_Q4_0> {
    /* y = d·(q - 8): FFMA(0.5 + q/256, 256d, -136d) is exact (136d fits in 16 bits) */
    static __device__ __forceinline__ void chunk(const uint8_t *row, int cb, int c, int t, uint32_t (&f)[4][2]) {
#pragma unroll
        for (int bl = 0; bl < 2; bl++) {
            const uint8_t *b = row + (2 * (cb + c) + bl) * 18;
            const float d = qmw_f16(b), s = 256.0f * d, z = -136.0f * d;
            const uint32_t w = qmw_quad(b + 2 + 2 * t), lo = w & 0x0F0F0F0Fu, hi = (w >> 4) & 0x0F0F0F0Fu;
            f[2 * bl][0] = qmm_bf2(fmaf(QMW_HALF(lo, 0), s, z), fmaf(QMW_HALF(lo, 1), s, z));
            f[2 * bl][1] = qmm_bf2(fmaf(QMW_HALF(lo, 2), s, z), fmaf(QMW_HALF(lo, 3), s, z));
            f[2 * bl + 1][0] = qmm_bf2(fmaf(QMW_HALF(hi, 0), s, z), fmaf(QMW_HALF(hi, 1), s, z));
            f[2 * bl + 1][1] = qmm_bf2(fmaf(QMW_HALF(hi, 2), s, z), fmaf(QMW_HALF(hi, 3), s, z));
        }
    }
};

template <> struct qmw_dec<MLXN_TYPE_Q8_0> {
    /* y = d·q: u = q + 128; FFMA(2^23 + 256u, d/256, -32896d) (32896d fits in 20 bits) */
    static __device__ __forceinline__ void chunk(const uint8_t *row, int cb, int c, int t, uint32_t (&f)[4][2]) {
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const uint8_t *b = row + (2 * (cb + c) + (j >> 1)) * 34;
            const float d = qmw_f16(b), s = d * (1.0f / 256.0f), z = -32896.0f * d;
            const uint32_t u = qmw_quad(b + 2 + 16 * (j & 1) + 2 * t) ^ 0x80808080u;
            f[j][0] = qmm_bf2(fmaf(QMW_BIG(u, 0), s, z), fmaf(QMW_BIG(u, 1), s, z));
            f[j][1] = qmm_bf2(fmaf(QMW_BIG(u, 2), s, z), fmaf(QMW_BIG(u, 3), s, z));
        }
    }
};

/* Q4_K and Q5_K: y = d1·q - m1 (d1 = d·sc, m1 = dmin·m, both exact): q/256 exactly, then one
 * FFMA. Q5_K: bit 4 of element (c, h, l) from bit 2c + h of qh[l]. */
template <bool QH> struct qmw_dec_k45 {
    static __device__ __forceinline__ void chunk(const uint8_t *row, int cb, int cc, int t, uint32_t (&f)[4][2]) {
        constexpr int QS = QH ? 48 : 16;
        const int c = cb + cc;
        const float d = qmw_f16(row), dmin = qmw_f16(row + 2);
#pragma unroll
        for (int h = 0; h < 2; h++) {
            int sc, m;
            mlxn_dq_scale_min_k4(2 * c + h, row + 4, sc, m);
            const float d1 = __fmul_rn(d, (float)sc), m1 = __fmul_rn(dmin, (float)m), s = 256.0f * d1;
#pragma unroll
            for (int jj = 0; jj < 2; jj++) {
                const uint32_t w = qmw_quad(row + QS + 32 * c + 16 * jj + 2 * t);
                uint32_t v = h ? (w >> 4) & 0x0F0F0F0Fu : w & 0x0F0F0F0Fu;
                if (QH) v |= ((qmw_quad(row + 16 + 16 * jj + 2 * t) >> (2 * c + h)) & 0x01010101u) << 4;
                float e[4];
#pragma unroll
                for (int k = 0; k < 4; k++) e[k] = fmaf(QMW_HALF(v, k) - 0.5f, s, -m1);
                f[2 * h + jj][0] = qmm_bf2(e[0], e[1]);
                f[2 * h + jj][1] = qmm_bf2(e[2], e[3]);
            }
        }
    }
};
template <> struct qmw_dec<MLXN_TYPE_Q4_K> : qmw_dec_k45<false> {};
template <> struct qmw_dec<MLXN_TYPE_Q5_K> : qmw_dec_k45<true> {};

template <> struct qmw_dec<MLXN_TYPE_Q6_K> {
    /* y = ds·(u - 32), ds = d·sc exact: FFMA(0.5 + u/256, 256ds, -160ds) (160ds fits in 22 bits),
     * 256ds and -160ds as (256d)·sc and (-160d)·sc (each product exact, so the same values) */
    static __device__ __forceinline__ void chunk(const uint8_t *row, int cb, int c, int t, uint32_t (&f)[4][2]) {
        const int h = (cb >> 1) + (c >> 1), cp = c & 1;
        const float d = qmw_f16(row + 208), d256 = 256.0f * d, d160 = -160.0f * d;
        const int8_t *scales = reinterpret_cast<const int8_t *>(row + 192);
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const float sc = (float)scales[8 * h + 4 * cp + j], s = __fmul_rn(d256, sc), z = __fmul_rn(d160, sc);
            const uint32_t wl = qmw_quad(row + 64 * h + 32 * (j >> 1) + 16 * (j & 1) + 2 * t);
            const uint32_t wh = qmw_quad(row + 128 + 32 * h + 16 * (j & 1) + 2 * t);
            const uint32_t u = ((wl >> (4 * cp)) & 0x0F0F0F0Fu) | (((wh >> (4 * cp + 2 * (j >> 1))) & 0x03030303u) << 4);
            f[j][0] = qmm_bf2(fmaf(QMW_HALF(u, 0), s, z), fmaf(QMW_HALF(u, 1), s, z));
            f[j][1] = qmm_bf2(fmaf(QMW_HALF(u, 2), s, z), fmaf(QMW_HALF(u, 3), s, z));
        }
    }
};

/* byte k of v as the float 2^23 + v_k */
#define QMW_INT(v, k) __uint_as_float(qmm_prmt((v), 0x4B000000u, 0x7440u | (k)))
/* bytes p[0], p[1], p[8], p[9] at any alignment (17-byte MXFP4 blocks) */
static __device__ __forceinline__ uint32_t qmw_quad8(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[8] << 16) | ((uint32_t)p[9] << 24);
}
/* Four 4-bit indices (one a byte) looked up in a 16-entry byte table held as four words
 * (entries 0..7 in l0, l1; 8..15 in h0, h1). */
static __device__ __forceinline__ uint32_t qmw_lut16(uint32_t idx, uint32_t l0, uint32_t l1, uint32_t h0, uint32_t h1) {
    const uint32_t two = idx | (idx >> 4);                      /* bytes 0 and 2 hold two indices each */
    const uint32_t sel = __byte_perm(two, 0, 0x4420) & 0x7777u; /* their low 3 bits, a nibble each */
    const uint32_t m = qmm_prmt(idx << 4, 0, 0xBA98u); /* bit 3 of each index over its byte (sign mode) */
    return (__byte_perm(l0, l1, sel) & ~m) | (__byte_perm(h0, h1, sel) & m);
}
/* mlxn_kvalues_iq4nl and mlxn_kvalues_mxfp4 (src/quant/blocks.h) plus 128, as unsigned bytes */
#define QMW_IQ4NL_LUT 0x3F2D1801u, 0x766A5D4Fu, 0xA6998D81u, 0xF1D9C5B5u
#define QMW_MXFP4_LUT 0x83828180u, 0x8C888684u, 0x7D7E7F80u, 0x74787A7Cu
/* bits 0, 1, 8, 9 of x into bit 4 of bytes 0, 1, 2, 3 */
static __device__ __forceinline__ uint32_t qmw_bit4(uint32_t x) {
    return (((x & 3u) * 0x810u) & 0x1010u) | (((((x >> 8) & 3u) * 0x810u) & 0x1010u) << 16);
}

template <> struct qmw_dec<MLXN_TYPE_Q4_1> {
    /* y = d·q + m: q·d is exact, so FFMA(q/256, 256d, m) rounds once as the reference does */
    static __device__ __forceinline__ void chunk(const uint8_t *row, int cb, int c, int t, uint32_t (&f)[4][2]) {
#pragma unroll
        for (int bl = 0; bl < 2; bl++) {
            const uint8_t *b = row + (2 * (cb + c) + bl) * 20;
            const float s = 256.0f * qmw_f16(b), m = qmw_f16(b + 2);
            const uint32_t w = qmw_quad(b + 4 + 2 * t), v[2] = {w & 0x0F0F0F0Fu, (w >> 4) & 0x0F0F0F0Fu};
#pragma unroll
            for (int hh = 0; hh < 2; hh++) {
                f[2 * bl + hh][0] = qmm_bf2(fmaf(QMW_HALF(v[hh], 0) - 0.5f, s, m), fmaf(QMW_HALF(v[hh], 1) - 0.5f, s, m));
                f[2 * bl + hh][1] = qmm_bf2(fmaf(QMW_HALF(v[hh], 2) - 0.5f, s, m), fmaf(QMW_HALF(v[hh], 3) - 0.5f, s, m));
            }
        }
    }
};

/* Q5_0 and Q5_1: bit 4 of element e in bit e of qh; y = d·(q - 16) (Q5_0: FFMA(0.5 + q/256,
 * 256d, -144d), 144d exact) or d·q + m (Q5_1, as Q4_1) */
template <bool MIN> struct qmw_dec_q5 {
    static __device__ __forceinline__ void chunk(const uint8_t *row, int cb, int c, int t, uint32_t (&f)[4][2]) {
        constexpr int BB = MIN ? 24 : 22, QH = MIN ? 4 : 2;
#pragma unroll
        for (int bl = 0; bl < 2; bl++) {
            const uint8_t *b = row + (2 * (cb + c) + bl) * BB;
            const float d = qmw_f16(b), s = 256.0f * d, z = MIN ? qmw_f16(b + 2) : -144.0f * d, o = MIN ? 0.5f : 0.0f;
            const uint32_t qh = (qmw_u16(b + QH) | (qmw_u16(b + QH + 2) << 16)) >> (2 * t);
            const uint32_t w = qmw_quad(b + QH + 4 + 2 * t);
            const uint32_t v[2] = {(w & 0x0F0F0F0Fu) | qmw_bit4(qh), ((w >> 4) & 0x0F0F0F0Fu) | qmw_bit4(qh >> 16)};
#pragma unroll
            for (int hh = 0; hh < 2; hh++) {
                f[2 * bl + hh][0] = qmm_bf2(fmaf(QMW_HALF(v[hh], 0) - o, s, z), fmaf(QMW_HALF(v[hh], 1) - o, s, z));
                f[2 * bl + hh][1] = qmm_bf2(fmaf(QMW_HALF(v[hh], 2) - o, s, z), fmaf(QMW_HALF(v[hh], 3) - o, s, z));
            }
        }
    }
};
template <> struct qmw_dec<MLXN_TYPE_Q5_0> : qmw_dec_q5<false> {};
template <> struct qmw_dec<MLXN_TYPE_Q5_1> : qmw_dec_q5<true> {};

template <> struct qmw_dec<MLXN_TYPE_IQ4_NL> {
    /* y = d·kv[q]: the level plus 128 by table, then Q8_0's FFMA */
    static __device__ __forceinline__ void chunk(const uint8_t *row, int cb, int c, int t, uint32_t (&f)[4][2]) {
#pragma unroll
        for (int bl = 0; bl < 2; bl++) {
            const uint8_t *b = row + (2 * (cb + c) + bl) * 18;
            const float d = qmw_f16(b), s = d * (1.0f / 256.0f), z = -32896.0f * d;
            const uint32_t w = qmw_quad(b + 2 + 2 * t);
            const uint32_t u[2] = {qmw_lut16(w & 0x0F0F0F0Fu, QMW_IQ4NL_LUT), qmw_lut16((w >> 4) & 0x0F0F0F0Fu, QMW_IQ4NL_LUT)};
#pragma unroll
            for (int hh = 0; hh < 2; hh++) {
                f[2 * bl + hh][0] = qmm_bf2(fmaf(QMW_BIG(u[hh], 0), s, z), fmaf(QMW_BIG(u[hh], 1), s, z));
                f[2 * bl + hh][1] = qmm_bf2(fmaf(QMW_BIG(u[hh], 2), s, z), fmaf(QMW_BIG(u[hh], 3), s, z));
            }
        }
    }
};

template <> struct qmw_dec<MLXN_TYPE_MXFP4> {
    /* y = 2^(e - 128)·kv[q]: the level as an exact float, times the power of two (the reference's
     * product, subnormal scales included) */
    static __device__ __forceinline__ void chunk(const uint8_t *row, int cb, int c, int t, uint32_t (&f)[4][2]) {
#pragma unroll
        for (int bl = 0; bl < 2; bl++) {
            const uint8_t *b = row + (2 * (cb + c) + bl) * 17;
            const uint32_t e = b[0];
            const float d = mlxn_e8m0_half(e);
            const uint32_t w = qmw_quad8(b + 1 + 2 * t);
            const uint32_t u[2] = {qmw_lut16(w & 0x0F0F0F0Fu, QMW_MXFP4_LUT), qmw_lut16((w >> 4) & 0x0F0F0F0Fu, QMW_MXFP4_LUT)};
#pragma unroll
            for (int hh = 0; hh < 2; hh++) {
                float y[4];
#pragma unroll
                for (int k = 0; k < 4; k++) y[k] = __fmul_rn(QMW_INT(u[hh], k) - 8388736.0f, d);
                f[2 * bl + hh][0] = qmm_bf2(y[0], y[1]);
                f[2 * bl + hh][1] = qmm_bf2(y[2], y[3]);
            }
        }
    }
};

template <> struct qmw_dec<MLXN_TYPE_Q2_K> {
    /* element 64c + 16j + i (c the k64 chunk of the super-block): bits 2(2(c & 1) + j / 2) of
     * qs[32(c / 2) + 16(j & 1) + i], scale byte 4c + j; y = dl·q - ml as FFMA(q/256, 256dl, -ml)
     * (dl·q exact) */
    static __device__ __forceinline__ void chunk(const uint8_t *row, int cb, int cc, int t, uint32_t (&f)[4][2]) {
        const int c = cb + cc;
        const float d = qmw_f16(row + 80), dmin = qmw_f16(row + 82);
        const uint32_t sc4 = *reinterpret_cast<const uint32_t *>(row + 4 * c);
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const uint32_t sc = (sc4 >> (8 * j)) & 0xFFu;
            const float dl = __fmul_rn(d, (float)(sc & 15)), ml = __fmul_rn(dmin, (float)(sc >> 4)), s = 256.0f * dl;
            const uint32_t w = qmw_quad(row + 16 + 32 * (c >> 1) + 16 * (j & 1) + 2 * t);
            const uint32_t v = (w >> (2 * (2 * (c & 1) + (j >> 1)))) & 0x03030303u;
            f[j][0] = qmm_bf2(fmaf(QMW_HALF(v, 0) - 0.5f, s, -ml), fmaf(QMW_HALF(v, 1) - 0.5f, s, -ml));
            f[j][1] = qmm_bf2(fmaf(QMW_HALF(v, 2) - 0.5f, s, -ml), fmaf(QMW_HALF(v, 3) - 0.5f, s, -ml));
        }
    }
};

template <> struct qmw_dec<MLXN_TYPE_Q3_K> {
    /* As Q2_K's positions; u = q + 4 = low 2 bits | the hmask bit (4(c / 2) + 2(c & 1) + j / 2
     * of hmask[16(j & 1) + i]) << 2; y = dl·(u - 4) as FFMA(0.5 + u/256, 256dl, -132dl), 132dl exact */
    static __device__ __forceinline__ void chunk(const uint8_t *row, int cb, int cc, int t, uint32_t (&f)[4][2]) {
        const int c = cb + cc, sh = 2 * (c & 1);
        const float d = qmw_f16(row + 108);
        const uint8_t *sc = row + 96;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int lo = (sc[4 * (c & 1) + j] >> (4 * (c >> 1))) & 15, hi = (sc[8 + j] >> (2 * c)) & 3;
            const float dl = __fmul_rn(d, (float)((lo | (hi << 4)) - 32)), s = 256.0f * dl, z = -132.0f * dl;
            const uint32_t w = qmw_quad(row + 32 + 32 * (c >> 1) + 16 * (j & 1) + 2 * t);
            const uint32_t hm = qmw_quad(row + 16 * (j & 1) + 2 * t);
            const uint32_t u = ((w >> (2 * (sh + (j >> 1)))) & 0x03030303u) |
                               (((hm >> (4 * (c >> 1) + sh + (j >> 1))) & 0x01010101u) << 2);
            f[j][0] = qmm_bf2(fmaf(QMW_HALF(u, 0), s, z), fmaf(QMW_HALF(u, 1), s, z));
            f[j][1] = qmm_bf2(fmaf(QMW_HALF(u, 2), s, z), fmaf(QMW_HALF(u, 3), s, z));
        }
    }
};

template <> struct qmw_dec<MLXN_TYPE_IQ4_XS> {
    /* sub-block ib = 2c + j / 2 of 32: nibble j & 1 of qs[16ib + i], 6-bit scale ls; y = dl·kv[q],
     * dl = d·(ls - 32) exact; the product rounded once (an exact float level, FMUL) */
    static __device__ __forceinline__ void chunk(const uint8_t *row, int cb, int cc, int t, uint32_t (&f)[4][2]) {
        const int c = cb + cc;
        const float d = qmw_f16(row);
        const uint32_t sh = qmw_u16(row + 2), sl = row[4 + c];
#pragma unroll
        for (int bl = 0; bl < 2; bl++) {
            const int ib = 2 * c + bl, ls = ((sl >> (4 * bl)) & 15) | (((sh >> (2 * ib)) & 3) << 4);
            const float dl = __fmul_rn(d, (float)(ls - 32));
            const uint32_t w = qmw_quad(row + 8 + 16 * ib + 2 * t);
            const uint32_t u[2] = {qmw_lut16(w & 0x0F0F0F0Fu, QMW_IQ4NL_LUT), qmw_lut16((w >> 4) & 0x0F0F0F0Fu, QMW_IQ4NL_LUT)};
#pragma unroll
            for (int hh = 0; hh < 2; hh++) {
                float y[4];
#pragma unroll
                for (int k = 0; k < 4; k++) y[k] = __fmul_rn(dl, QMW_INT(u[hh], k) - 8388736.0f);
                f[2 * bl + hh][0] = qmm_bf2(y[0], y[1]);
                f[2 * bl + hh][1] = qmm_bf2(y[2], y[3]);
            }
        }
    }
};

template <> struct qmw_dec<MLXN_TYPE_F16> {
    static __device__ __forceinline__ void chunk(const uint8_t *row, int cb, int c, int t, uint32_t (&f)[4][2]) {
        const __half2 *b = reinterpret_cast<const __half2 *>(row + (cb + c) * 128);
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const float2 lo = __half22float2(b[8 * j + t]), hi = __half22float2(b[8 * j + t + 4]);
            f[j][0] = qmm_bf2(lo.x, lo.y);
            f[j][1] = qmm_bf2(hi.x, hi.y);
        }
    }
};

/* ── barriers, TMA, descriptors ── */

/* K-major operand in 128-byte swizzled rows (8-row atoms of 1024 bytes) */
static __device__ __forceinline__ uint64_t qmw_desc(uint32_t addr) { return wg_desc(addr, 16, 1024); }

template <mlxn_type T, int BM_, int BN_ = 128> struct qmw_cfg {
    typedef qmw_fmt<T> F;
    static constexpr bool SS = T == MLXN_TYPE_BF16;
    /* K per stage: 64 for bf16 W; 256 for the K-quants at BM <= 128 (measured ahead of 128 by
     * 10-15% at BM 128: no block read twice); else 128 (at BM = 256, stages of 64 KB of X: two fit) */
    static constexpr int BM = BM_, BN = BN_, KS = SS ? 64 : F::QK == 256 && BM <= 128 ? 256 : 128, CPS = KS / 64;
    /* BN = 64: both consumer warpgroups hold the same 64 W rows, warpgroup w taking k64 chunk
     * w of every stage (K split inside the block), their sums added at the end */
    static constexpr bool KSPLIT = BN == 64;
    static constexpr int XB = KS / 64 * BM * 128;          /* X bytes per stage */
    static constexpr int WBY = SS ? KS / 64 * BN * 128 : BN * F::WB; /* W bytes per stage box */
    /* WBLK: stages of part of a block (KS < QK) share their block's W box, so it is staged
     * once per block, with the block's first stage, into a ring of 2 W slots beside the X
     * stages: half the W bytes, and more stages where the box is large (Q6_K at 64 × 256:
     * 3 stages of 64 KB of X + 2 W slots of 15 KB, where X and W per stage fit 2). A W slot
     * is rewritten at stage i = SPB·B once stage i - ST is consumed, so that holds block B - 2
     * whole only if ST <= SPB + 1 (SPB stages per block). */
    static constexpr bool WBLK = !SS && KS < F::QK;
    /* rows of this format can miss 16-byte multiples (blocks of 210, 110, 84, 18, 34 ... bytes;
     * a row of 144-, 176- or 128-byte blocks is one whenever K % 64 == 0) */
    static constexpr bool GEN = !SS && F::BB % 16 != 0;
    /* what such rows' starts must be a multiple of: the decoders read 2-byte words, Q2_K's
     * scales a 4-byte word */
    static constexpr int GRA = T == MLXN_TYPE_Q2_K ? 4 : 2;
    static constexpr int SPB = WBLK ? F::QK / KS : 1, NWS = WBLK ? 2 : 0;
    static constexpr int SB = WBLK ? XB : (XB + WBY + 1023) / 1024 * 1024; /* ring bytes per stage */
    static constexpr int WOFF = WBLK ? 0 : XB;                             /* W in a stage's slot */
    /* as many stages as fit in the 227 KB a block may hold, at most 8 (WBLK: SPB + 1) */
    static constexpr int STF = (227 * 1024 - 1024 - NWS * WBY) / (SB + 16), STM = WBLK ? SPB + 1 : 8;
    static constexpr int ST = STF < STM ? STF : STM;
    static constexpr size_t smem() { return 1024 + (size_t)ST * SB + (size_t)NWS * WBY + 16 * ST; }
    /* the tile's f32 sums by X row, rows BN + 4 floats apart, fit in the ring and the W slots
     * (out_rows; the cluster sum of a split grid) */
    static constexpr bool ROWS = !KSPLIT && BN == 128 && (size_t)BM * (BN + 4) * 4 <= (size_t)ST * SB + (size_t)NWS * WBY;
    static constexpr int WDATA = (KS > F::QK ? KS / F::QK : 1) * F::BB; /* raw bytes a stage decodes */
    static_assert(SS || (F::WB % 16 == 0 && F::WB <= 512 && F::WB >= WDATA + (F::BB % 16 ? 14 : 0)),
                  "a stage's raw bytes fit its TMA box");
    static_assert(ST >= 2 && (SS || CPS % 2 == 0), "two stages; an even number of k64 chunks per decoded stage");
    static_assert(BN == 128 || (BN == 64 && !SS && BM == 256 && CPS == 2), "the K-split block: one chunk per warpgroup");
    static_assert(256 % KS == 0, "a split (a multiple of 256 elements, qmm_mm_chunk) holds whole stages");
};

/* f(std::integral_constant<int, j>{}) for j = 0 .. N - 1 */
template <typename Fn, int... J> static __device__ __forceinline__ void qmw_each_(Fn &&f, std::integer_sequence<int, J...>) {
    (f(std::integral_constant<int, J>{}), ...);
}
template <int N, typename Fn> static __device__ __forceinline__ void qmw_each(Fn &&f) {
    qmw_each_(f, std::make_integer_sequence<int, N>{});
}

/* General rows (qmw_kernel's GR): producer thread pt copies row pt % BN of the tile at every
 * stage (at BN = 64 two threads a row, pieces pt / 64, pt / 64 + 2, ...); its address, NULL
 * past N (those outputs are dropped). Measured on H200 (dev/qmatmul/NOTES_matmat.md, session
 * 21), Q4_0 at 3584 × 3648, M 512: 29.3 µs this way, 1.15× the TMA kernel's time per flop at
 * K 3584; 38.6 with the tile's pieces dealt out over the threads, each addressed on its own;
 * 64 with one arrival a warp after a wait for the warp's copies. */
template <typename C> static __device__ __forceinline__ const uint8_t *qmw_grow(const qmm_kp &p, int pt, int n0, int wz) {
    const int n = n0 + pt % C::BN;
    return n < p.n ? p.w + (long long)wz * p.w_batch + (long long)n * p.w_row : nullptr;
}
/* The stage's bytes of the thread's row (bb bytes into it) into its place in the W box at ws,
 * as the 16-byte pieces that cover them from the one at or below their start, so that a
 * byte's offset in the row's box is its address mod 16 plus its offset from the row's first
 * stage byte (qmw_kernel's rl). A piece across the row's end is stored a byte at a time, zeros
 * past the end, and pieces past it as zeros: the last stage of a K that is not a multiple of
 * KS decodes zero weights there (X is zero there too), and no byte past W's last row is read.
 * Returns whether this thread stored bytes itself (it must then wait for its copies before it
 * arrives). */
template <typename C>
static __device__ __forceinline__ bool qmw_gen_copy(const qmm_kp &p, const uint8_t *row, int pt, uint32_t ws, int bb) {
    typedef typename C::F F;
    constexpr int NPC = F::WB / 16, JS = 128 / C::BN;
    if (!row) return false;
    const uint8_t *a = row + bb, *end = row + p.w_row;
    const int lo = (int)((uintptr_t)a & 15), np = (lo + C::WDATA + 15) / 16, j0 = pt / C::BN; /* np: pieces of the stage */
    const uint8_t *src = a - lo;
    const uint32_t dst = ws + (pt % C::BN) * F::WB;
    if (src + 16 * np <= end) { /* one address pair, the pieces at immediate offsets */
        const uint8_t *s0 = src + 16 * j0;
        const uint32_t d0 = dst + 16 * j0;
        qmw_each<(NPC + JS - 1) / JS>([&](auto jv) {
            constexpr int o = 16 * JS * decltype(jv)::value;
            if (JS * decltype(jv)::value + j0 < np)
                asm volatile("cp.async.ca.shared.global [%0+%2], [%1+%2], 16;\n" ::"r"(d0), "l"(s0), "n"(o) : "memory");
        });
        return false;
    }
    for (int j = j0; j < np; j += JS) {
        const uint8_t *s = src + 16 * j;
        if (s + 16 <= end) {
            asm volatile("cp.async.ca.shared.global [%0], [%1], 16;\n" ::"r"(dst + 16 * j), "l"(s) : "memory");
        } else {
#pragma unroll
            for (int e = 0; e < 16; e++)
                asm volatile("st.shared.u8 [%0], %1;\n" ::"r"(dst + 16 * j + e), "r"(s + e < end ? (unsigned)s[e] : 0u) : "memory");
        }
    }
    return true;
}

/* a compile-time int carried into a generic lambda */
template <int V> using qmw_c = std::integral_constant<int, V>;

/* ── stream-K: the last round of tiles shared out over the SMs ──
 * A grid of T tiles on S SMs runs ⌊T / S⌋ rounds of one tile a block and a last round of
 * R = T mod S tiles that leaves S - R SMs idle. The stream-K grid keeps the first D = T - R
 * tiles one a block (blocks 0 .. D - 1, the tiles in the order of the one-tile grid) and
 * shares the last R tiles' K among G more blocks (G <= S, the launcher's qmw_sk_plan): its
 * last round takes R / G of a tile's time instead of a whole one. K is counted in units of
 * QMW_SKU elements (whole stages, whole K-quant blocks); unit u of the shared part is unit
 * u % ku of tile D + u / ku. Block D + j owns units [⌊jU/G⌋, ⌊(j + 1)U/G⌋) of its U = R·ku
 * and takes them from its last backwards, one segment (tile, units u0 .. u1 - 1) per tile it
 * touches:
 * - a whole tile (u0 = 0, u1 = ku) it stores;
 * - a segment that ends before the tile does (u1 < ku: only a block's last segment can) it
 *   writes to slot j of the workspace and counts flag j up;
 * - a segment that ends the tile but does not start it (the block's first) it finishes: it
 *   waits for the flags of the blocks below it that touch the tile (their last segments),
 *   counts each down (a launch leaves the flags as it found them: zero), and stores its own
 *   sums plus their slots, added in the order of their blocks, highest first: the same values
 *   every run of the same grid, eager or replayed.
 * Waits end: a block writes its slot before it waits for any, and waits only for blocks of
 * lower index, which started before it (the hardware dispatches a grid's blocks in index
 * order, and a block keeps its SM until done: launch_bounds(384, 1), 193-227 KB of shared
 * memory, one block an SM). Counting (not setting) the flags keeps that true if two launches
 * share a stream's flags (a graph replayed on another stream while its recording stream runs
 * the same op): each launch adds one to a flag for each it takes away, so no wait outlasts the
 * writers of both (their results are then undefined, as they are for the workspace the two
 * share). */
#define QMW_SKU 256

/* the shared part of a stream-K grid: blocks D .. D + G - 1 own units from base + ⌊jU/G⌋ */
struct qmw_skp {
    int d, base;
    unsigned u, g;
    __device__ int beg(int j) const { return base + (int)((unsigned)j * u / g); } /* U·G < 2^31 (launcher) */
};
static __device__ __forceinline__ qmw_skp qmw_sk_make(int tiles, int ku, int d) {
    return {d, d * ku, (unsigned)(tiles - d) * ku, gridDim.x - (unsigned)d};
}
/* calls f(tile, u0, u1) for this block's segments, last first */
template <typename F> static __device__ __forceinline__ void qmw_sk_each(const qmw_skp &sk, int ku, F &&f) {
    if ((int)blockIdx.x < sk.d) {
        f((int)blockIdx.x, 0, ku);
        return;
    }
    const int j = (int)blockIdx.x - sk.d, beg = sk.beg(j), end = sk.beg(j + 1);
    for (int hi = end; hi > beg;) {
        const int t = (hi - 1) / ku, lo = max(beg, t * ku);
        f(t, lo - t * ku, hi - t * ku);
        hi = lo;
    }
}
/* release: the block's prior stores (ordered before this thread by a block barrier) are
 * visible to a thread that acquires the count */
static __device__ __forceinline__ void qmw_flag_up(unsigned *f) {
    asm volatile("red.release.gpu.global.add.u32 [%0], 1;\n" ::"l"(f) : "memory");
}
static __device__ __forceinline__ void qmw_flag_down(unsigned *f) {
    while (true) {
        unsigned v;
        asm volatile("ld.acquire.gpu.global.u32 %0, [%1];\n" : "=r"(v) : "l"(f) : "memory");
        if (v) break;
        __nanosleep(64);
    }
    asm volatile("red.relaxed.gpu.global.add.u32 [%0], %1;\n" ::"l"(f), "r"(~0u) : "memory");
}

/* grid: (N tiles · M tiles, batch · splits), or (D + G) for stream-K (SK: skd = D, skp holds G
 * slots of BM·BN f32 sums, skf G zeroed counts); clk > 1: the splits of a tile are one cluster
 * of clk = splits blocks along z that sum their tiles through distributed shared memory and
 * store y (C::ROWS; p.part unused); tx: X as [batch·m][k] bf16; tw: W's raw bytes as
 * [batch][n][row bytes / 2] u16 (decoded formats) or [batch][n][k] bf16 (SS). Tile order,
 * measured on H100 (dev/qmatmul/NOTES_matmat.md, v3): bf16 W in groups of 8 M tiles, M
 * fastest, so that blocks sharing a W tile run together (W read from memory about once:
 * 14336×4096 at M = 2048 0.81 -> 0.88 of cuBLASLt); decoded W, N fastest, so that blocks
 * sharing an X tile run together (its W is small; M fastest cost it 10-20% at M = 2048). */
template <mlxn_type T, int BM, int BN, bool SK, bool GR>
static __global__ void __launch_bounds__(384, 1)
qmw_kernel(qmm_kp p, int splits, const __grid_constant__ CUtensorMap tx, const __grid_constant__ CUtensorMap tw,
           float *skp, unsigned *skf, int skd, int clk) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    typedef qmw_cfg<T, BM, BN> C;
    typedef qmw_fmt<T> F;
    constexpr int ST = C::ST, KS = C::KS, CPS = C::CPS, NA = BM / 2, SPU = QMW_SKU / KS;
    static_assert(!SK || (!C::KSPLIT && QMW_SKU % F::QK == 0 && QMW_SKU % KS == 0),
                  "stream-K: 128-row tiles, whole stages a unit");
    extern __shared__ unsigned char smem_raw[];
    const uint32_t sraw = (uint32_t)__cvta_generic_to_shared(smem_raw), sbase = (sraw + 1023) & ~1023u;
    unsigned char *sptr = smem_raw + (sbase - sraw);
    const uint32_t bars = sbase + ST * C::SB + C::NWS * C::WBY;
    /* the W box of stage i: in its slot, or (WBLK) in W slot (i / SPB) & 1 after the X stages */
    auto wbox = [&](int i) {
        return C::WBLK ? sbase + ST * C::SB + ((i / C::SPB) & 1) * C::WBY : sbase + (i % ST) * C::SB + C::WOFF;
    };
    auto full = [&](int s) { return bars + 8 * s; };
    auto empty = [&](int s) { return bars + 8 * (ST + s); };
    /* the warpgroup by shuffle, so that the compiler sees it warp-uniform (descriptors and
     * stage addresses on the uniform datapath inside branches on it) */
    const int tid = threadIdx.x, wg = __shfl_sync(0xffffffffu, tid >> 7, 0);
    const int mt = (p.m + BM - 1) / BM, nt = SK ? (p.n + C::BN - 1) / C::BN : gridDim.x / mt;
    const int grp = blockIdx.x / (8 * nt), gs = min(8, mt - 8 * grp);
    const int local = blockIdx.x - grp * 8 * nt;
    const int n0 = C::SS && !SK ? local / gs * C::BN : blockIdx.x % nt * C::BN; /* one tile a block (SK: tile_n0) */
    const int m0 = C::SS && !SK ? (8 * grp + local % gs) * BM : blockIdx.x / nt * BM;
    const int b = blockIdx.z / splits, split = blockIdx.z % splits;
    const int k0 = split * p.k_split, k1 = min(p.k, k0 + p.k_split), nst = (k1 - k0 + KS - 1) / KS;
    /* stream-K tile t: batch t / (nt·mt), then the one-tile grid's order within the batch */
    const int tiles = nt * mt * p.batch, ku = p.k / QMW_SKU;
    const qmw_skp sk = SK ? qmw_sk_make(tiles, ku, skd) : qmw_skp{};
    auto tile_b = [&](int t) { return t / (nt * mt); };
    auto tile_n0 = [&](int t) {
        const int l = t % (nt * mt), gr = l / (8 * nt);
        return C::SS ? (l - gr * 8 * nt) / min(8, mt - 8 * gr) * C::BN : l % nt * C::BN;
    };
    auto tile_m0 = [&](int t) {
        const int l = t % (nt * mt), gr = l / (8 * nt);
        return C::SS ? (8 * gr + (l - gr * 8 * nt) % min(8, mt - 8 * gr)) * BM : l / nt * BM;
    };
    /* GR (general rows): W copied by the producer warpgroup, whose 128 threads arrive on each
     * full barrier besides the thread that expects X's bytes */
    static_assert(!GR || C::GEN, "general rows: a decoded format");
    if (tid == 0)
        for (int s = 0; s < ST; s++) mbar_init(full(s), GR ? 129 : 1), mbar_init(empty(s), 256);
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    __syncthreads();

    if (wg == 2) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
        if (tid == 256 || GR) {
            /* stage i: X rows xrow.., W rows n0.. of batch wz (GR: the thread's row at gr), K from kx */
            const uint8_t *gr = nullptr;
            auto load = [&](int i, int kx, int xrow, int n0, int wz) {
                const int s = i % ST;
                if (i >= ST) mbar_wait(empty(s), (unsigned)((i / ST) - 1) & 1);
                const uint32_t xs = sbase + s * C::SB, ws = wbox(i);
                const bool wload = !C::WBLK || i % C::SPB == 0; /* splits and segments start on block boundaries */
                if (tid == 256) {
                    mbar_expect(full(s), C::XB + (wload && !GR ? C::WBY : 0));
#pragma unroll
                    for (int c = 0; c < CPS; c++) {
                        tma_2d(xs + c * BM * 128, &tx, kx + 64 * c, xrow, full(s));
                        if constexpr (C::SS) tma_3d(ws + c * C::BN * 128, &tw, kx + 64 * c, n0, wz, full(s));
                    }
                    if constexpr (!C::SS)
                        if (wload && !GR) tma_3d(ws, &tw, (kx / F::QK * F::BB & ~15) / 2, n0, wz, full(s));
                }
                if constexpr (GR) {
                    if (wload && qmw_gen_copy<C>(p, gr, tid - 256, ws, kx / F::QK * F::BB)) {
                        asm volatile("cp.async.wait_all;\n" ::: "memory");
                        mbar_arrive(full(s));
                    } else {
                        asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(full(s)) : "memory");
                    }
                }
            };
            if constexpr (SK) {
                int i = 0;
                qmw_sk_each(sk, ku, [&](int t, int u0, int u1) {
                    const int tb = tile_b(t), xrow = tb * p.m + tile_m0(t), tn0 = tile_n0(t), wz = p.w_batch ? tb : 0;
                    if constexpr (GR) gr = qmw_grow<C>(p, tid - 256, tn0, wz);
                    for (int j = 0; j < (u1 - u0) * SPU; j++, i++) load(i, u0 * QMW_SKU + j * KS, xrow, tn0, wz);
                });
            } else {
                const int xrow = b * p.m + m0, wz = p.w_batch ? b : 0;
                if constexpr (GR) gr = qmw_grow<C>(p, tid - 256, n0, wz);
                for (int i = 0; i < nst; i++) load(i, k0 + i * KS, xrow, n0, wz);
            }
        }
        if constexpr (!SK && C::ROWS)
            if (clk > 1) { /* the two cluster syncs of the consumers' cluster sum (C::ROWS && clk > 1) */
                cooperative_groups::this_cluster().sync();
                cooperative_groups::this_cluster().sync();
            }
    } else {
        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
        const int lane = tid & 31, w = (tid >> 5) & 3, g = lane >> 2, t = lane & 3;
        float acc[NA];
#pragma unroll
        for (int i = 0; i < NA; i++) acc[i] = 0.0f;
        wg_pin(acc);
        /* acc[4i + e]: W row 64wg + 16w + g + 8(e >> 1) (16w + g + 8(e >> 1) in the K-split
         * block), X row 8i + 2t + (e & 1) */
        auto out = [&](int n0, int m0, int b) {
#pragma unroll
            for (int i = 0; i < NA / 4; i++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int n = n0 + wg * 64 + w * 16 + g + 8 * (e >> 1), m = m0 + 8 * i + 2 * t + (e & 1);
                    if (n < p.n && m < p.m) qmm_store(p, split, b, m, n, acc[4 * i + e]);
                }
            }
        };
        /* out through shared memory (the ring and the W slots, free once the block has consumed
         * every stage): the tile's sums by X row, each row then stored as one run of BN outputs,
         * 16 bytes a lane, instead of out's 4-byte stores that write 32 bytes of four rows each.
         * Rows LD floats apart: the 4 rows of a fragment store (2 apart) fall 8 banks apart.
         * Measured on H200 (dev/qmatmul/NOTES_matmat.md, session 15): the stream-K grid's
         * finishers, storing all at once, took ~20 µs with out (its grid then ran 1.25× slower
         * than one tile a block) and ~3 µs this way; one-tile grids run the same either way. */
        constexpr int LD = C::BN + 4;
        float *ts = reinterpret_cast<float *>(sptr);
        auto rows_to_smem = [&]() {
            asm volatile("bar.sync 1, 256;\n" ::: "memory"); /* both warpgroups' wgmmas have read the ring */
            /* the K-split block: each warpgroup's sums of the same W rows in BM rows of its own */
            float *r0 = ts + (C::KSPLIT ? wg * BM * LD : wg * 64);
#pragma unroll
            for (int i = 0; i < NA / 4; i++)
#pragma unroll
                for (int e = 0; e < 4; e++) r0[(8 * i + 2 * t + (e & 1)) * LD + w * 16 + g + 8 * (e >> 1)] = acc[4 * i + e];
        };
        auto out_rows = [&](int n0, int m0, int b) {
            if constexpr (C::ROWS) {
                rows_to_smem();
                asm volatile("bar.sync 1, 256;\n" ::: "memory");
                for (int r = tid >> 5; r < BM && m0 + r < p.m; r += 8)
                    qmm_store4(p, split, b, m0 + r, n0 + 4 * lane, *reinterpret_cast<const float4 *>(ts + r * LD + 4 * lane));
            } else {
                out(n0, m0, b);
            }
        };
        /* the end of a stream-K segment (stages .. ie - 1 of tile tl, units u0 .. u1 - 1): its
         * sums to the block's slot, or the tile's stored (a finisher first adds the slots of the
         * blocks below it that hold the tile's other units) */
        auto sk_end = [&](int tl, int u0, int u1, int ie) {
            wg_wait<0>();
            wg_pin(acc);
            mbar_arrive(empty((ie - 1) % ST)); /* the producer may refill it during the epilogue */
            const int j = (int)blockIdx.x - sk.d;
            if (u1 < ku) { /* slot j, then its count (read by the tile's finisher) */
                float4 *slot = reinterpret_cast<float4 *>(skp) + (size_t)j * (NA / 4) * 256;
#pragma unroll
                for (int q = 0; q < NA / 4; q++)
                    __stcg(slot + 256 * q + tid, make_float4(acc[4 * q], acc[4 * q + 1], acc[4 * q + 2], acc[4 * q + 3]));
                asm volatile("bar.sync 1, 256;\n" ::: "memory");
                if (tid == 0) qmw_flag_up(skf + j);
            } else {
                if (u0 > 0) { /* the tile's finisher: blocks jl .. j - 1 hold its other units */
                    int jl = j - 1;
                    while (sk.beg(jl) > tl * ku) jl--;
                    if (tid == 0)
                        for (int jj = j - 1; jj >= jl; jj--) qmw_flag_down(skf + jj);
                    asm volatile("bar.sync 1, 256;\n" ::: "memory");
                    for (int jj = j - 1; jj >= jl; jj--) {
                        const float4 *slot = reinterpret_cast<const float4 *>(skp) + (size_t)jj * (NA / 4) * 256;
#pragma unroll
                        for (int q = 0; q < NA / 4; q++) {
                            const float4 h = __ldcg(slot + 256 * q + tid);
                            acc[4 * q] += h.x, acc[4 * q + 1] += h.y, acc[4 * q + 2] += h.z, acc[4 * q + 3] += h.w;
                        }
                    }
                }
                /* the ring is free here, in the segment the block takes last (the
                 * producer stages the next segment during an epilogue): a block of the
                 * shared part owns less than a tile (G > R: qmw_sk_grid), so the one
                 * segment it stores, which ends a tile, is the first of its range */
                out_rows(tile_n0(tl), tile_m0(tl), tile_b(tl));
            }
        };
        if constexpr (C::SS) {
            /* stages ib .. ie - 1; a stream-K segment's first wgmma overwrites the sums */
            auto run_ss = [&](int ib, int ie) {
                for (int i = ib; i < ie; i++) {
                    const int s = i % ST;
                    const uint32_t xs = sbase + s * C::SB, ws = xs + C::WOFF;
                    mbar_wait(full(s), (unsigned)(i / ST) & 1);
                    wg_fence();
#pragma unroll
                    for (int j = 0; j < 4; j++)
                        wgmma_op<BM, __nv_bfloat16>::ss(acc, qmw_desc(ws + wg * 64 * 128 + 32 * j), qmw_desc(xs + 32 * j),
                                                        !SK || ((i - ib) | j) != 0);
                    wg_commit();
                    wg_wait<1>();
                    wg_pin(acc);
                    if (i > ib) mbar_arrive(empty((i - 1) % ST));
                }
            };
            if constexpr (SK) {
                int i = 0;
                qmw_sk_each(sk, ku, [&](int tl, int u0, int u1) {
                    const int ie = i + (u1 - u0) * SPU;
                    run_ss(i, ie);
                    sk_end(tl, u0, u1, ie);
                    i = ie;
                });
            } else {
                run_ss(0, nst);
            }
        } else {
            const int rowb = ((C::KSPLIT ? 0 : wg * 64) + w * 16 + g) * F::WB;
            /* general rows: the low 4 bits of the address of this thread's W rows (W is 16-byte
             * aligned; rows g and g + 8 share them, rows being of even length), 0 where every
             * row is a 16-byte multiple */
            unsigned rl = 0;
            auto rows_at = [&](int n0, int wz) {
                if constexpr (GR)
                    rl = ((unsigned)wz * (unsigned)p.w_batch +
                          (unsigned)(n0 + (C::KSPLIT ? 0 : wg * 64) + w * 16 + g) * (unsigned)p.w_row) & 15;
            };
            uint32_t a0[4][4], a1[4][4];
            /* stages ib .. ie - 1, K from kb + i·KS at stage i (SK: one segment at a time) */
            int ib = 0, ie = nst, kb = k0;
            /* k64 chunk c of stage i into a (CB: the k64 chunks of the stage's first block before
             * the stage), then its four wgmmas; returns once the previous chunk's are done */
            auto unit = [&](int i, auto cbv, auto cv, uint32_t(&a)[4][4]) {
                constexpr int CB = decltype(cbv)::value, c = decltype(cv)::value;
                const int kx = kb + i * KS, bb = kx / F::QK * F::BB; /* the stage's data: bb bytes into each row */
                const uint32_t xs = sbase + (i % ST) * C::SB;
                const uint8_t *r0 = sptr + (wbox(i) - sbase) + rowb + ((rl + bb) & 15), *r1 = r0 + 8 * F::WB;
                uint32_t f0[4][2], f1[4][2];
                qmw_dec<T>::chunk(r0, CB, c, t, f0);
                qmw_dec<T>::chunk(r1, CB, c, t, f1);
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    a[j][0] = f0[j][0], a[j][1] = f1[j][0];
                    a[j][2] = f0[j][1], a[j][3] = f1[j][1];
                }
                /* k16 step j at 32j bytes into the chunk's 1024-aligned rows: the descriptor's
                 * address field (bytes / 16) plus 2j, without a carry */
                const uint64_t dx = qmw_desc(xs + c * BM * 128);
                wg_fence();
#pragma unroll
                for (int j = 0; j < 4; j++)
                    wgmma_op<BM, __nv_bfloat16>::rs_k(acc, a[j], dx + 2 * j, ((i - ib) | (C::KSPLIT ? 0 : c) | j) != 0);
                wg_commit();
                wg_wait<1>();
                wg_pin(acc);
            };
            /* stage i, P = (i - ib) & 1: a split or segment starts on a multiple of 256 elements
             * (qmm_mm_chunk, QMW_SKU) and ib is even, so a half-block stage (KS 128 of a 256 block)
             * is the block's first half when P = 0. The K-split block's warpgroup takes chunk CW,
             * alternating register sets by stage. */
            auto stage = [&](int i, auto par, auto cw) {
                constexpr int P = decltype(par)::value, CB = KS < F::QK ? P * CPS : 0;
                mbar_wait(full(i % ST), (unsigned)(i / ST) & 1);
                if constexpr (C::KSPLIT) {
                    if constexpr (P == 0) unit(i, qmw_c<CB>{}, cw, a0);
                    else unit(i, qmw_c<CB>{}, cw, a1);
                    if (i > ib) mbar_arrive(empty((i - 1) % ST));
                } else {
                    unit(i, qmw_c<CB>{}, qmw_c<0>{}, a0);
                    if (i > ib) mbar_arrive(empty((i - 1) % ST));
                    unit(i, qmw_c<CB>{}, qmw_c<1>{}, a1);
                    if constexpr (CPS == 4) {
                        unit(i, qmw_c<CB>{}, qmw_c<2>{}, a0);
                        unit(i, qmw_c<CB>{}, qmw_c<3>{}, a1);
                    }
                }
            };
            auto run = [&](auto cw) { /* no path reaches a register set whose wgmmas may still run */
                int i = ib;
                for (; i + 1 < ie; i += 2) {
                    stage(i, qmw_c<0>{}, cw);
                    stage(i + 1, qmw_c<1>{}, cw);
                }
                if (i < ie) stage(i, qmw_c<0>{}, cw);
            };
            if constexpr (SK) {
                int i = 0;
                qmw_sk_each(sk, ku, [&](int tl, int u0, int u1) {
                    ib = i, ie = i + (u1 - u0) * SPU, kb = u0 * QMW_SKU - ib * KS;
                    rows_at(tile_n0(tl), p.w_batch ? tile_b(tl) : 0);
                    run(qmw_c<0>{});
                    sk_end(tl, u0, u1, ie);
                    i = ie;
                });
            } else {
                rows_at(n0, p.w_batch ? b : 0);
                if constexpr (C::KSPLIT) {
                    if (wg) run(qmw_c<1>{});
                    else run(qmw_c<0>{});
                } else {
                    run(qmw_c<0>{});
                }
            }
        }
        if constexpr (!SK) {
            wg_wait<0>();
            wg_pin(acc);
            if constexpr (C::KSPLIT) {
                /* both warpgroups hold the same fragment layout over their halves of K: each
                 * puts its sums by X row in its own half of the stage memory, and each X row is
                 * stored as one run of 64 outputs, the two halves added (the same value in
                 * either order), 16 bytes a lane. H200: 4-byte stores of the fragments took
                 * 4.9 µs of a 1024×4096, M 256 call of 15.5 (dev/qmatmul/NOTES_matmat.md,
                 * session 20). */
                static_assert((size_t)2 * BM * LD * 4 <= (size_t)ST * C::SB, "both halves' rows fit the ring");
                rows_to_smem();
                asm volatile("bar.sync 1, 256;\n" ::: "memory");
                const int c = 4 * (lane & 15);
                for (int r = 2 * (tid >> 5) + (lane >> 4); r < BM && m0 + r < p.m; r += 16) {
                    const float4 u = *reinterpret_cast<const float4 *>(ts + r * LD + c),
                                 v = *reinterpret_cast<const float4 *>(ts + (BM + r) * LD + c);
                    qmm_store4(p, split, b, m0 + r, n0 + c, make_float4(u.x + v.x, u.y + v.y, u.z + v.z, u.w + v.w));
                }
            } else if (C::ROWS && clk > 1) {
                /* split s of the tile is cluster rank s: its rows to its shared memory, then
                 * rank q sums X rows q, q + clk, ... over the ranks in split order (the order
                 * of qmm_reduce) and stores them; the second sync keeps every block's shared
                 * memory until the others have read it. The exchange is bound by the SM-to-SM
                 * network when every cluster sums at once (H200: ~25 GB/s an SM; more rows in
                 * flight a warp was slower, dev/qmatmul/NOTES_matmat.md, session 20). */
                if constexpr (C::ROWS) {
                    namespace cg = cooperative_groups;
                    rows_to_smem();
                    cg::cluster_group cl = cg::this_cluster();
                    cl.sync();
                    const int rank = (int)cl.block_rank();
                    for (int r = rank + clk * (tid >> 5); r < BM && m0 + r < p.m; r += 8 * clk) {
                        float4 h[8]; /* every rank's row in flight before the sum */
#pragma unroll
                        for (int q = 0; q < 8; q++)
                            if (q < clk) h[q] = *reinterpret_cast<const float4 *>(cl.map_shared_rank(ts, q) + r * LD + 4 * lane);
                        float4 v = h[0];
#pragma unroll
                        for (int q = 1; q < 8; q++)
                            if (q < clk) v.x += h[q].x, v.y += h[q].y, v.z += h[q].z, v.w += h[q].w;
                        qmm_store4(p, 0, b, m0 + r, n0 + 4 * lane, v);
                    }
                    cl.sync();
                }
            } else {
                out_rows(n0, m0, b);
            }
        }
    }
#endif
}
