/* The GGML block formats, byte for byte as GGUF stores them: one struct per format, defined
 * once for C11 and for CUDA (C++). fp16 fields are uint16_t bit patterns (half.h converts);
 * every multi-byte field is little-endian. Sizes are asserted against ggml's. Also the small
 * value tables of the non-linear formats; the IQ grids are in iq_tables.h and iq1_tables.h.
 */
#ifndef MLXN_QUANT_BLOCKS_H
#define MLXN_QUANT_BLOCKS_H

#include <stdint.h>

#ifdef __cplusplus
#define MLXN_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define MLXN_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* How constant tables are declared; a .cu defines it (e.g. `static const __device__`)
 * before including this header to get device copies. */
#ifndef MLXN_QUANT_TABLE
#define MLXN_QUANT_TABLE static const
#endif

/* Elements per block. */
#define MLXN_QK4_0 32
#define MLXN_QK4_1 32
#define MLXN_QK5_0 32
#define MLXN_QK5_1 32
#define MLXN_QK8_0 32
#define MLXN_QK8_1 32
#define MLXN_QK4_NL 32
#define MLXN_QK_MXFP4 32
#define MLXN_QK_K 256        /* K-quant, IQ and ternary super-blocks */
#define MLXN_K_SCALE_SIZE 12 /* packed 6-bit scales and mins of Q4_K / Q5_K */

/* ── 32-element blocks ── */

/* x = d · (q - 8); element j in the low nibble of qs[j], element j + 16 in the high one. */
typedef struct {
    uint16_t d;
    uint8_t qs[MLXN_QK4_0 / 2];
} mlxn_block_q4_0;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_q4_0) == 18, "q4_0 block size");

/* x = d · q + m; nibbles as Q4_0. */
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qs[MLXN_QK4_1 / 2];
} mlxn_block_q4_1;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_q4_1) == 20, "q4_1 block size");

/* x = d · (q - 16); low nibbles as Q4_0, bit 4 of element j is bit j of the u32 qh. */
typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[MLXN_QK5_0 / 2];
} mlxn_block_q5_0;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_q5_0) == 22, "q5_0 block size");

/* x = d · q + m; bits as Q5_0. */
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[MLXN_QK5_1 / 2];
} mlxn_block_q5_1;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_q5_1) == 24, "q5_1 block size");

/* x = d · q */
typedef struct {
    uint16_t d;
    int8_t qs[MLXN_QK8_0];
} mlxn_block_q8_0;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_q8_0) == 34, "q8_0 block size");

/* x = d · q; s = d · Σq (fp16), for dot products against Q4_1/Q5_1. */
typedef struct {
    uint16_t d;
    uint16_t s;
    int8_t qs[MLXN_QK8_1];
} mlxn_block_q8_1;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_q8_1) == 36, "q8_1 block size");

/* x = d · kvalues_iq4nl[q]; nibbles as Q4_0. */
typedef struct {
    uint16_t d;
    uint8_t qs[MLXN_QK4_NL / 2];
} mlxn_block_iq4_nl;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_iq4_nl) == 18, "iq4_nl block size");

/* x = 2^(e - 128) · kvalues_mxfp4[q] (E8M0 scale, E2M1 values doubled); nibbles as Q4_0. */
typedef struct {
    uint8_t e;
    uint8_t qs[MLXN_QK_MXFP4 / 2];
} mlxn_block_mxfp4;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_mxfp4) == 17, "mxfp4 block size");

/* ── 256-element K-quant super-blocks ── */

/* 16 groups of 16: x = d · (scales & 15) · q - dmin · (scales >> 4), q in 0..3. */
typedef struct {
    uint8_t scales[MLXN_QK_K / 16];
    uint8_t qs[MLXN_QK_K / 4];
    uint16_t d;
    uint16_t dmin;
} mlxn_block_q2_K;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_q2_K) == 84, "q2_K block size");

/* 16 groups of 16: x = d · (s - 32) · (q - 4), 6-bit s packed in scales, q's high bit in hmask. */
typedef struct {
    uint8_t hmask[MLXN_QK_K / 8];
    uint8_t qs[MLXN_QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
} mlxn_block_q3_K;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_q3_K) == 110, "q3_K block size");

/* 8 groups of 32: x = d · sc · q - dmin · m, 6-bit sc and m packed in scales, q in 0..15. */
typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[MLXN_K_SCALE_SIZE];
    uint8_t qs[MLXN_QK_K / 2];
} mlxn_block_q4_K;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_q4_K) == 144, "q4_K block size");

/* As Q4_K with a fifth bit per element in qh, q in 0..31. */
typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[MLXN_K_SCALE_SIZE];
    uint8_t qh[MLXN_QK_K / 8];
    uint8_t qs[MLXN_QK_K / 2];
} mlxn_block_q5_K;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_q5_K) == 176, "q5_K block size");

/* 16 groups of 16: x = d · scales · (q - 32), low 4 bits of q in ql, high 2 in qh. */
typedef struct {
    uint8_t ql[MLXN_QK_K / 2];
    uint8_t qh[MLXN_QK_K / 4];
    int8_t scales[MLXN_QK_K / 16];
    uint16_t d;
} mlxn_block_q6_K;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_q6_K) == 210, "q6_K block size");

/* Activations for K-quant dot products: x = d · q with an fp32 d; bsums = Σq per 16. */
typedef struct {
    float d;
    int8_t qs[MLXN_QK_K];
    int16_t bsums[MLXN_QK_K / 16];
} mlxn_block_q8_K;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_q8_K) == 292, "q8_K block size");

/* ── 256-element IQ super-blocks (grids in iq_tables.h, iq1_tables.h) ── */

/* Per 32: two u32 = 4 grid indices (8 bits) + 4 × 7 sign bits + a 4-bit scale. */
typedef struct {
    uint16_t d;
    uint16_t qs[MLXN_QK_K / 8];
} mlxn_block_iq2_xxs;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_iq2_xxs) == 66, "iq2_xxs block size");

/* Per 8: u16 = 9-bit grid index + 7 sign bits; a 4-bit scale per 16. */
typedef struct {
    uint16_t d;
    uint16_t qs[MLXN_QK_K / 8];
    uint8_t scales[MLXN_QK_K / 32];
} mlxn_block_iq2_xs;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_iq2_xs) == 74, "iq2_xs block size");

/* Per 8: 10-bit grid index (qs + 2 bits of qh) and 8 explicit sign bits (qs[32..63]). */
typedef struct {
    uint16_t d;
    uint8_t qs[MLXN_QK_K / 4];
    uint8_t qh[MLXN_QK_K / 32];
    uint8_t scales[MLXN_QK_K / 32];
} mlxn_block_iq2_s;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_iq2_s) == 82, "iq2_s block size");

/* Per 4: 8-bit grid index (qs[0..63]); per 32: a u32 of 4 × 7 sign bits + 4-bit scale. */
typedef struct {
    uint16_t d;
    uint8_t qs[3 * MLXN_QK_K / 8];
} mlxn_block_iq3_xxs;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_iq3_xxs) == 98, "iq3_xxs block size");

/* Per 4: 9-bit grid index (qs + 1 bit of qh); 8 explicit sign bits per 8; 4-bit scale per 32. */
typedef struct {
    uint16_t d;
    uint8_t qs[MLXN_QK_K / 4];
    uint8_t qh[MLXN_QK_K / 32];
    uint8_t signs[MLXN_QK_K / 8];
    uint8_t scales[MLXN_QK_K / 64];
} mlxn_block_iq3_s;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_iq3_s) == 110, "iq3_s block size");

/* Per 8: 11-bit index into iq1s_grid; per 32 a u16 qh = 4 × 3 index bits, 3-bit scale,
 * delta sign (bit 15). */
typedef struct {
    uint16_t d;
    uint8_t qs[MLXN_QK_K / 8];
    uint16_t qh[MLXN_QK_K / 32];
} mlxn_block_iq1_s;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_iq1_s) == 50, "iq1_s block size");

/* Per 8: 11-bit grid index + delta sign; 3-bit scales per 16; the fp16 super-scale is spread
 * over the top nibbles of the four little-endian u16 of `scales`. Alignment 1: read the u16
 * with byte loads. */
typedef struct {
    uint8_t qs[MLXN_QK_K / 8];
    uint8_t qh[MLXN_QK_K / 16];
    uint8_t scales[MLXN_QK_K / 32];
} mlxn_block_iq1_m;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_iq1_m) == 56, "iq1_m block size");

/* 8 groups of 32: x = d · (ls - 32) · kvalues_iq4nl[q], 6-bit ls = 4 bits in scales_l +
 * 2 bits in scales_h; nibbles per 32 as Q4_0. */
typedef struct {
    uint16_t d;
    uint16_t scales_h;
    uint8_t scales_l[MLXN_QK_K / 64];
    uint8_t qs[MLXN_QK_K / 2];
} mlxn_block_iq4_xs;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_iq4_xs) == 136, "iq4_xs block size");

/* ── 256-element ternary super-blocks: x = d · t, t in {-1, 0, 1} ── */

/* qs: 5 trits per byte (base 3, scaled to a byte by ·256/243, rounded up); qh: 4 per byte. */
typedef struct {
    uint8_t qs[(MLXN_QK_K - 4 * MLXN_QK_K / 64) / 5];
    uint8_t qh[MLXN_QK_K / 64];
    uint16_t d;
} mlxn_block_tq1_0;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_tq1_0) == 54, "tq1_0 block size");

/* 2 bits per element, t + 1. */
typedef struct {
    uint8_t qs[MLXN_QK_K / 4];
    uint16_t d;
} mlxn_block_tq2_0;
MLXN_STATIC_ASSERT(sizeof(mlxn_block_tq2_0) == 66, "tq2_0 block size");

/* ── value tables ── */

/* IQ4_NL / IQ4_XS: the 16 non-linear 4-bit levels (ascending). */
MLXN_QUANT_TABLE int8_t mlxn_kvalues_iq4nl[16] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
};

/* MXFP4: the E2M1 values 0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives, doubled. */
MLXN_QUANT_TABLE int8_t mlxn_kvalues_mxfp4[16] = {
    0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12,
};

/* IQ1_S / IQ1_M: the shift added to every grid value before scaling. */
#define MLXN_IQ1S_DELTA 0.125f

#endif
