/* CPU quantized matmul, AVX-512 VNNI half: fused row dots with vpdpbusd
 * (unsigned 8-bit × signed 8-bit, four products summed into each 32-bit lane).
 * W levels go in unsigned: Q4_0, Q4_1 and Q4_K nibbles as they are (Q5_0, Q5_1 and Q5_K with
 * their fifth bit), Q8_0 plus 128, IQ4_NL's (IQ4_XS's) and MXFP4's tables plus 128, Q2_K's
 * 2-bit and Q3_K's 3-bit levels, Q6_K's 6-bit levels. X (already rounded to 8 bits per 32 by
 * qmm_quantize_x) is laid out once per op in the order the W bytes meet it, with what the
 * offset costs: for the 32-block formats an integer start
 * value per lane (-offset · Σ of the lane's x), so each lane's sum is the exact integer
 * Σ level·x (Q4_1's min in f32 per lane); for the K-quants the mins and offsets in f32 as the
 * AVX2 kernels do. The scales apply per lane in f32.
 * The multi-row kernels (dot_rows) decode each step of W once and take it against up to 8 X
 * rows, each row with its own accumulators and the single-row dot's operations in its order:
 * at M = 4 a 4096 x 4096 Q4_0 product took 1.1x the M = 1 time, where one pass per X row took
 * 1.7x it, and at M = 8 and 16 0.51-0.60x the one-pass-per-row time (dev/qmatmul/NOTES_cpu.md).
 * Compiled with target attributes; chosen at run time by qmm_have_vnni. */
#include <math.h>
#include <string.h>

#include "cpu/qmatmul_kernels.h"
#include "quant/blocks.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi,avx2,fma,f16c")))

/* W streams from memory, and these dots outrun it: each step asks for the bytes W_AHEAD past
 * the ones it reads (the next rows, which the caller's rows follow in memory). A prefetch
 * never faults, so the ones past the end of W are harmless. Spread over the steps, they keep
 * more lines in flight than the hardware prefetcher alone, and more evenly than a burst per
 * row (dev/qmatmul/NOTES_cpu.md). Always inlined: GCC 12's modref pass takes a call to it from
 * the always-inlined multi-row kernels as having no effect and drops it, prefetches and all. */
#define W_AHEAD 2048
VNNI static inline __attribute__((always_inline)) void prefetch_ahead(const void *p, int lines) {
    for (int l = 0; l < lines; l++) _mm_prefetch((const char *)p + W_AHEAD + 64 * l, _MM_HINT_T0);
}

/* X rows per pass of the multi-row kernels: as many as the accumulators (2 to 4 zmm a row) leave
 * room for in the 32 zmm with the decoded step. With 2 a row, 8 rows against 4 measured 0-8%
 * faster at M = 8 and 16 (Q8_0 most), with a few spills; with 3 or 4 (Q6_K, Q2_K, Q3_K and the
 * mins of Q4_1, Q5_1) 8 rows spill more, and they take 4. */
#define NIB_ROWS 8
#define MIN_ROWS 4
#define Q8_ROWS 8
#define K4_ROWS 8
#define K6_ROWS 4
#define K23_ROWS 4

bool qmm_have_vnni(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
           __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("fma");
}

/* ── X layouts, one per W layout (plain C: once per X row) ── */

/* Q4_0 / IQ4_NL: 4 blocks (128 elements) per step; a zmm of W holds the 4 blocks' 16 bytes,
 * whose low nibbles are elements 32i + 0..15 and high nibbles 32i + 16..31. */
typedef struct xg_nib {
    int8_t lo[64], hi[64];
    int32_t start[16]; /* -offset · Σ of the 8 x a lane meets */
    float xd[16];      /* the X step of the lane's block */
    float xs[16];      /* xd · Σ of the 8 x a lane meets (Q4_1's min term) */
} xg_nib;

/* Q8_0: 4 blocks per step as two zmm of 64 levels in element order. */
typedef struct xg_q8 {
    int8_t x[128];
    int32_t start[32];
    float xd[32];
} xg_q8;

/* Q4_K: a super-block; a zmm of W holds 64 bytes of qs, whose low nibbles are the groups
 * 2p and 2p + 2 and high nibbles 2p + 1 and 2p + 3 (p = 0 or 2). */
typedef struct xg_k4 {
    int8_t x[256]; /* groups in the order 0 2 1 3 4 6 5 7 */
    float xd[8];   /* per group of 32 */
    float xs[8];   /* xd · Σ xq per group of 32 */
} xg_k4;

/* Q6_K: a super-block in element order. */
typedef struct xg_k6 {
    int8_t x[256];
    float xd[16]; /* per group of 16 */
    float xs[16]; /* xd · Σ xq per group of 16 */
} xg_k6;

static size_t groups(int64_t k, int64_t per) { return (size_t)((k + per - 1) / per); }

static size_t xb_nib(int64_t k) { return groups(k, 128) * sizeof(xg_nib); }
static size_t xb_q8(int64_t k) { return groups(k, 128) * sizeof(xg_q8); }
static size_t xb_k4(int64_t k) { return groups(k, 256) * sizeof(xg_k4); }
static size_t xb_k6(int64_t k) { return groups(k, 256) * sizeof(xg_k6); }

/* Blocks past k (the last step's padding) have zero x, zero step and zero start. */
static void prep_nib(const int8_t *xq, const float *xd, const float *xs, int64_t k, int off, void *out) {
    xg_nib *g = out;
    memset(g, 0, xb_nib(k));
    for (int64_t b = 0; b < k / 32; b++) {
        xg_nib *o = g + b / 4;
        const int i = (int)(b % 4);
        memcpy(o->lo + 16 * i, xq + 32 * b, 16);
        memcpy(o->hi + 16 * i, xq + 32 * b + 16, 16);
        for (int l = 4 * i; l < 4 * i + 4; l++) {
            int s = 0;
            for (int t = 0; t < 4; t++) s += o->lo[4 * l + t] + o->hi[4 * l + t];
            o->start[l] = -off * s;
            o->xd[l] = xd[b];
            o->xs[l] = xd[b] * (float)s;
        }
    }
}
static void prep_q4_0(const int8_t *xq, const float *xd, const float *xs, int64_t k, void *out) {
    prep_nib(xq, xd, xs, k, 8, out);
}
static void prep_iq4_nl(const int8_t *xq, const float *xd, const float *xs, int64_t k, void *out) {
    prep_nib(xq, xd, xs, k, 128, out);
}
static void prep_q4_1(const int8_t *xq, const float *xd, const float *xs, int64_t k, void *out) {
    prep_nib(xq, xd, xs, k, 0, out);
}
static void prep_q5_0(const int8_t *xq, const float *xd, const float *xs, int64_t k, void *out) {
    prep_nib(xq, xd, xs, k, 16, out);
}

static void prep_q8_0(const int8_t *xq, const float *xd, const float *xs, int64_t k, void *out) {
    xg_q8 *g = out;
    memset(g, 0, xb_q8(k));
    for (int64_t b = 0; b < k / 32; b++) {
        xg_q8 *o = g + b / 4;
        const int i = (int)(b % 4);
        memcpy(o->x + 32 * i, xq + 32 * b, 32);
        for (int l = 8 * i; l < 8 * i + 8; l++) {
            int s = 0;
            for (int t = 0; t < 4; t++) s += o->x[4 * l + t];
            o->start[l] = -128 * s;
            o->xd[l] = xd[b];
        }
    }
}

static void prep_q4_K(const int8_t *xq, const float *xd, const float *xs, int64_t k, void *out) {
    static const int order[8] = {0, 2, 1, 3, 4, 6, 5, 7};
    xg_k4 *g = out;
    for (int64_t s = 0; s < k / 256; s++, xq += 256, xd += 8, xs += 16) {
        for (int i = 0; i < 8; i++) memcpy(g[s].x + 32 * i, xq + 32 * order[i], 32);
        for (int i = 0; i < 8; i++) {
            g[s].xd[i] = xd[i];
            g[s].xs[i] = xs[2 * i] + xs[2 * i + 1];
        }
    }
}

static void prep_q6_K(const int8_t *xq, const float *xd, const float *xs, int64_t k, void *out) {
    xg_k6 *g = out;
    for (int64_t s = 0; s < k / 256; s++, xq += 256, xd += 8, xs += 16) {
        memcpy(g[s].x, xq, 256);
        for (int i = 0; i < 16; i++) {
            g[s].xd[i] = xd[i / 2];
            g[s].xs[i] = xs[i];
        }
    }
}

/* ── W byte gathers (vpermt2b / vpermb indices; 64..127 name the second source) ── */

/* Q4_0 / IQ4_NL: A = bytes 0..63 of 4 blocks, B = bytes 8..71. */
static const uint8_t idx_nib_qs[64] __attribute__((aligned(64))) = {
    2, 3, 4, 5, 6, 7, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73,
    76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91,
    94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105, 106, 107, 108, 109,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127};
/* each block's f16 scale four times (one per lane), from A */
static const uint8_t idx_nib_d[64] __attribute__((aligned(64))) = {
    0, 1, 0, 1, 0, 1, 0, 1, 18, 19, 18, 19, 18, 19, 18, 19,
    36, 37, 36, 37, 36, 37, 36, 37, 54, 55, 54, 55, 54, 55, 54, 55,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
/* Q4_1 (20-byte blocks: d, m, 16 bytes of nibbles): A = bytes 0..63 of 4 blocks, B = 16..79. */
static const uint8_t idx_q41_qs[64] __attribute__((aligned(64))) = {
    4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
    24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39,
    44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127};
/* each block's f16 d four times, then its f16 m four times, from A */
static const uint8_t idx_q41_dm[64] __attribute__((aligned(64))) = {
    0, 1, 0, 1, 0, 1, 0, 1, 20, 21, 20, 21, 20, 21, 20, 21,
    40, 41, 40, 41, 40, 41, 40, 41, 60, 61, 60, 61, 60, 61, 60, 61,
    2, 3, 2, 3, 2, 3, 2, 3, 22, 23, 22, 23, 22, 23, 22, 23,
    42, 43, 42, 43, 42, 43, 42, 43, 62, 63, 62, 63, 62, 63, 62, 63};
/* Q5_0 (22-byte blocks: d, 4 bytes of qh, 16 of nibbles): A = bytes 0..63 of 4 blocks,
 * B = 24..87; blocks 2 and 3 from B. */
static const uint8_t idx_q50_qs[64] __attribute__((aligned(64))) = {
    6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
    28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43,
    90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100, 101, 102, 103, 104, 105,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127};
static const uint8_t idx_q50_d[64] __attribute__((aligned(64))) = {
    0, 1, 0, 1, 0, 1, 0, 1, 22, 23, 22, 23, 22, 23, 22, 23,
    44, 45, 44, 45, 44, 45, 44, 45, 106, 107, 106, 107, 106, 107, 106, 107,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
/* Q5_1 (24-byte blocks: d, m, 4 bytes of qh, 16 of nibbles): A = bytes 0..63, B = 32..95;
 * blocks 2 and 3 from B; each block's d four times, then its m four times. */
static const uint8_t idx_q51_qs[64] __attribute__((aligned(64))) = {
    8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
    32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47,
    88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100, 101, 102, 103,
    112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127};
static const uint8_t idx_q51_dm[64] __attribute__((aligned(64))) = {
    0, 1, 0, 1, 0, 1, 0, 1, 24, 25, 24, 25, 24, 25, 24, 25,
    48, 49, 48, 49, 48, 49, 48, 49, 104, 105, 104, 105, 104, 105, 104, 105,
    2, 3, 2, 3, 2, 3, 2, 3, 26, 27, 26, 27, 26, 27, 26, 27,
    50, 51, 50, 51, 50, 51, 50, 51, 106, 107, 106, 107, 106, 107, 106, 107};
/* MXFP4 (17-byte blocks: E8M0 exponent, 16 bytes of nibbles): A = bytes 0..63 of 4 blocks,
 * B = 4..67; the exponent byte of each lane's block in the lane's low byte, from A. */
static const uint8_t idx_mx_qs[64] __attribute__((aligned(64))) = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33,
    35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 124, 125, 126, 127};
static const uint8_t idx_mx_e[64] __attribute__((aligned(64))) = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    17, 0, 0, 0, 17, 0, 0, 0, 17, 0, 0, 0, 17, 0, 0, 0,
    34, 0, 0, 0, 34, 0, 0, 0, 34, 0, 0, 0, 34, 0, 0, 0,
    51, 0, 0, 0, 51, 0, 0, 0, 51, 0, 0, 0, 51, 0, 0, 0};
/* Q8_0: A = bytes 0..63, B = 64..127, C = 72..135 of 4 blocks. Levels of blocks 0, 1 from
 * (A, B); of blocks 2, 3 from (B, C); the scales eight times each from (A, B). */
static const uint8_t idx_q8_qs01[64] __attribute__((aligned(64))) = {
    2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
    18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33,
    36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67};
static const uint8_t idx_q8_qs23[64] __attribute__((aligned(64))) = {
    6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
    22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37,
    40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55,
    56, 57, 58, 59, 60, 61, 62, 63, 120, 121, 122, 123, 124, 125, 126, 127};
static const uint8_t idx_q8_d[64] __attribute__((aligned(64))) = {
    0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
    34, 35, 34, 35, 34, 35, 34, 35, 34, 35, 34, 35, 34, 35, 34, 35,
    68, 69, 68, 69, 68, 69, 68, 69, 68, 69, 68, 69, 68, 69, 68, 69,
    102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103, 102, 103};

VNNI static inline __mmask64 first_bytes(int64_t n) {
    return n <= 0 ? 0 : n >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << n) - 1;
}

VNNI static inline __m512i ld(const void *p) { return _mm512_loadu_si512(p); }

/* A 16-entry table of signed levels plus 128, in every 128-bit lane (for vpshufb). */
VNNI static inline __m512i lut128(const int8_t *levels) {
    uint8_t t[16];
    for (int i = 0; i < 16; i++) t[i] = (uint8_t)(levels[i] + 128);
    return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)t));
}

/* Several X rows at a time: a step's W bytes are loaded and decoded once, then run against
 * each row's X with that row's own accumulators, so each row sees the operations, in the order,
 * of a single-row dot (the single-row dots are these with one row). ROWS_EACH unrolls the row
 * loop, whose trip count is a constant in each caller, keeping the accumulators in zmm. */
#define ROWS_EACH(r, R) _Pragma("GCC unroll 8") for (int r = 0; r < (R); r++)
#define X_ROW(T, xp, st, r) ((const T *)((const unsigned char *)(xp) + (size_t)(r) * (st)))

/* The single-row dot and the multi-row one of a kernel F(w, xp, st, R, k, ..., out) for
 * 1..RM rows, each count its own unrolled copy. */
#define ROWS_CASE(n, RM, F, ...)                               \
    case n:                                                    \
        if ((n) <= (RM)) F(w, xp, st, n, k, __VA_ARGS__, out); \
        break;
#define DOT_FNS(name, RM, F, ...)                                                                                 \
    VNNI static float dot_##name(const void *w, const void *xp, int64_t k) {                                   \
        float o;                                                                                                 \
        F(w, xp, 0, 1, k, __VA_ARGS__, &o);                                                                      \
        return o;                                                                                                \
    }                                                                                                            \
    VNNI static void rows_##name(const void *w, const void *xp, size_t st, int rows, int64_t k, float *out) {  \
        switch (rows) {                                                                                          \
            ROWS_CASE(1, RM, F, __VA_ARGS__) ROWS_CASE(2, RM, F, __VA_ARGS__) ROWS_CASE(3, RM, F, __VA_ARGS__)   \
            ROWS_CASE(4, RM, F, __VA_ARGS__) ROWS_CASE(5, RM, F, __VA_ARGS__) ROWS_CASE(6, RM, F, __VA_ARGS__)   \
            ROWS_CASE(7, RM, F, __VA_ARGS__) ROWS_CASE(8, RM, F, __VA_ARGS__)                                    \
        }                                                                                                        \
    }

/* ── The 32-element block formats in Q4_0's X layout: Q4_0, IQ4_NL, MXFP4 and Q5_0 with an
 * offset in the lanes' start values (IQ4_NL's and MXFP4's tables plus 128; MXFP4's doubled
 * E2M1 values times 2^(e - 128) as the reference builds it, e < 2 subnormal); Q4_1 and Q5_1
 * (d·q + m: start 0, the min adds m·xd·Σx per lane). Q5_0 and Q5_1: bit t of a block's qh is
 * bit 4 of element t, so the 16 low bits of the 4 blocks' qh make a byte mask over the
 * low-nibble vector and the 16 high bits one over the high-nibble vector; 16 is added where set. ── */

enum { B_Q4_0, B_IQ4_NL, B_MXFP4, B_Q5_0, B_Q4_1, B_Q5_1 };
/* bytes per block, and where the second source B of a step starts (A = its bytes 0..63) */
static const int b32_bb[] = {18, 18, 17, 22, 20, 24}, b32_bo[] = {8, 8, 4, 24, 16, 32};

/* The masks of n (<= 4) blocks of bb bytes whose qh sits at byte off. */
static inline void q5_masks(const uint8_t *p, int bb, int off, int64_t n, __mmask64 *ml, __mmask64 *mh) {
    uint64_t l = 0, h = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t q;
        memcpy(&q, p + bb * i + off, 4);
        l |= (uint64_t)(q & 0xffffu) << (16 * i);
        h |= (uint64_t)(q >> 16) << (16 * i);
    }
    *ml = l, *mh = h;
}

/* A step of 4 blocks decoded: unsigned levels, the blocks' scales (and mins), one per lane. */
typedef struct nib_lv {
    __m512i lo, hi;
    __m512 d, m;
} nib_lv;

VNNI static inline nib_lv b32_decode(int f, __m512i A, __m512i B, __mmask64 ml, __mmask64 mh, __m512i tab) {
    const __m512i m4 = _mm512_set1_epi8(15), b4 = _mm512_set1_epi8(16);
    const uint8_t *iq = f == B_Q4_1 ? idx_q41_qs : f == B_Q5_0 ? idx_q50_qs : f == B_Q5_1 ? idx_q51_qs
                      : f == B_MXFP4 ? idx_mx_qs : idx_nib_qs;
    const __m512i qs = _mm512_permutex2var_epi8(A, ld(iq), B);
    nib_lv v = {_mm512_and_si512(qs, m4), _mm512_and_si512(_mm512_srli_epi16(qs, 4), m4), _mm512_setzero_ps(),
                _mm512_setzero_ps()};
    if (f == B_Q5_0 || f == B_Q5_1)
        v.lo = _mm512_mask_add_epi8(v.lo, ml, v.lo, b4), v.hi = _mm512_mask_add_epi8(v.hi, mh, v.hi, b4);
    if (f == B_IQ4_NL || f == B_MXFP4) v.lo = _mm512_shuffle_epi8(tab, v.lo), v.hi = _mm512_shuffle_epi8(tab, v.hi);
    if (f == B_MXFP4) {
        const __m512i e = _mm512_and_si512(_mm512_permutexvar_epi8(ld(idx_mx_e), A), _mm512_set1_epi32(255));
        const __m512i normal = _mm512_slli_epi32(_mm512_sub_epi32(e, _mm512_set1_epi32(1)), 23);
        const __m512i sub = _mm512_sllv_epi32(_mm512_set1_epi32(0x00200000), e);
        const __mmask16 tiny = _mm512_cmplt_epu32_mask(e, _mm512_set1_epi32(2));
        v.d = _mm512_castsi512_ps(_mm512_mask_blend_epi32(tiny, normal, sub));
    } else if (f == B_Q4_1 || f == B_Q5_1) {
        const __m512i dm = f == B_Q4_1 ? _mm512_permutexvar_epi8(ld(idx_q41_dm), A)
                                       : _mm512_permutex2var_epi8(A, ld(idx_q51_dm), B);
        v.d = _mm512_cvtph_ps(_mm512_castsi512_si256(dm)), v.m = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(dm, 1));
    } else {
        const __m512i d16 = f == B_Q5_0 ? _mm512_permutex2var_epi8(A, ld(idx_q50_d), B)
                                        : _mm512_permutexvar_epi8(ld(idx_nib_d), A);
        v.d = _mm512_cvtph_ps(_mm512_castsi512_si256(d16));
    }
    return v;
}

/* The step's 4 block dots (lanes from g->start; from 0 with a min) times the scales and X's
 * steps into acc; the min term into accm. */
VNNI static inline void b32_acc(int f, nib_lv v, const xg_nib *g, __m512 *acc, __m512 *accm) {
    const bool mn = f == B_Q4_1 || f == B_Q5_1;
    __m512i s = _mm512_dpbusd_epi32(mn ? _mm512_setzero_si512() : ld(g->start), v.lo, ld(g->lo));
    s = _mm512_dpbusd_epi32(s, v.hi, ld(g->hi));
    *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(v.d, _mm512_loadu_ps(g->xd)), *acc);
    if (mn) *accm = _mm512_fmadd_ps(v.m, _mm512_loadu_ps(g->xs), *accm);
}

/* out[r] = the dot of the row with X row r (at xp + r·st), r < R. */
VNNI static inline __attribute__((always_inline)) void b32_rows(const void *w, const void *xp, size_t st, const int R,
                                                                int64_t k, int f, float *out) {
    const uint8_t *p = w;
    const int bb = b32_bb[f], bo = b32_bo[f], qh = f == B_Q5_0 ? 2 : 4;
    const bool q5 = f == B_Q5_0 || f == B_Q5_1, mn = f == B_Q4_1 || f == B_Q5_1;
    const int64_t nb = k / 32, full = nb / 4;
    const __m512i tab = f == B_IQ4_NL ? lut128(mlxn_kvalues_iq4nl)
                        : f == B_MXFP4 ? lut128(mlxn_kvalues_mxfp4) : _mm512_setzero_si512();
    __m512 a0[QMM_VNNI_ROWS], a1[QMM_VNNI_ROWS], m0[QMM_VNNI_ROWS], m1[QMM_VNNI_ROWS];
    ROWS_EACH(r, R) a0[r] = a1[r] = m0[r] = m1[r] = _mm512_setzero_ps();
    __mmask64 ml = 0, mh = 0, ml1 = 0, mh1 = 0;
    int64_t s = 0;
    for (; s + 2 <= full; s += 2, p += 8 * bb) {
        prefetch_ahead(p, 3);
        if (q5) q5_masks(p, bb, qh, 4, &ml, &mh), q5_masks(p + 4 * bb, bb, qh, 4, &ml1, &mh1);
        const nib_lv v0 = b32_decode(f, ld(p), ld(p + bo), ml, mh, tab);
        const nib_lv v1 = b32_decode(f, ld(p + 4 * bb), ld(p + 4 * bb + bo), ml1, mh1, tab);
        ROWS_EACH(r, R) {
            const xg_nib *g = X_ROW(xg_nib, xp, st, r) + s;
            b32_acc(f, v0, g, &a0[r], &m0[r]);
            b32_acc(f, v1, g + 1, &a1[r], &m1[r]);
        }
    }
    if (s < full) {
        if (q5) q5_masks(p, bb, qh, 4, &ml, &mh);
        const nib_lv v = b32_decode(f, ld(p), ld(p + bo), ml, mh, tab);
        ROWS_EACH(r, R) b32_acc(f, v, X_ROW(xg_nib, xp, st, r) + s, &a0[r], &m0[r]);
        p += 4 * bb, s++;
    }
    if (nb % 4) {
        const int64_t n = bb * (nb % 4);
        if (q5) q5_masks(p, bb, qh, nb % 4, &ml, &mh);
        const nib_lv v = b32_decode(f, _mm512_maskz_loadu_epi8(first_bytes(n), p),
                                    _mm512_maskz_loadu_epi8(first_bytes(n - bo), p + bo), ml, mh, tab);
        ROWS_EACH(r, R) b32_acc(f, v, X_ROW(xg_nib, xp, st, r) + s, &a1[r], &m1[r]);
    }
    ROWS_EACH(r, R) {
        const __m512 a = _mm512_add_ps(a0[r], a1[r]);
        out[r] = _mm512_reduce_add_ps(mn ? _mm512_add_ps(a, _mm512_add_ps(m0[r], m1[r])) : a);
    }
}

DOT_FNS(q4_0, NIB_ROWS, b32_rows, B_Q4_0)
DOT_FNS(iq4_nl, NIB_ROWS, b32_rows, B_IQ4_NL)
DOT_FNS(mxfp4, NIB_ROWS, b32_rows, B_MXFP4)
DOT_FNS(q5_0, NIB_ROWS, b32_rows, B_Q5_0)
DOT_FNS(q4_1, MIN_ROWS, b32_rows, B_Q4_1)
DOT_FNS(q5_1, MIN_ROWS, b32_rows, B_Q5_1)

/* IQ4_XS: a super-block (d, 2 + 4 bytes of 6-bit scales, 128 of nibbles) is 8 blocks of 32 whose
 * 16 qs bytes sit back to back: two IQ4_NL steps with no gather, block ib's scale
 * d·(ls_ib - 32) on its four lanes. */
VNNI static inline __attribute__((always_inline)) void xs_rows(const void *w, const void *xp, size_t st, const int R,
                                                               int64_t k, int unused, float *out) {
    (void)unused;
    const uint8_t *x = w;
    const __m512i m4 = _mm512_set1_epi8(15);
    const __m512i tab = lut128(mlxn_kvalues_iq4nl);
    const __m512i sel0 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3), four = _mm512_set1_epi32(4);
    __m512 a0[QMM_VNNI_ROWS], a1[QMM_VNNI_ROWS], unused_m;
    ROWS_EACH(r, R) a0[r] = a1[r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < k / 256; b++, x += 136) {
        prefetch_ahead(x, 3);
        uint16_t dh, sh;
        memcpy(&dh, x, 2), memcpy(&sh, x + 2, 2);
        const float d = _cvtsh_ss(dh);
        float dl[8];
        for (int ib = 0; ib < 8; ib++) {
            const int ls = ((x[4 + ib / 2] >> (4 * (ib % 2))) & 15) | (((sh >> (2 * ib)) & 3) << 4);
            dl[ib] = d * (float)(ls - 32);
        }
        const __m512 d8 = _mm512_castps256_ps512(_mm256_loadu_ps(dl));
        nib_lv v[2];
        for (int h = 0; h < 2; h++) {
            const __m512i qs = ld(x + 8 + 64 * h);
            v[h] = (nib_lv){_mm512_shuffle_epi8(tab, _mm512_and_si512(qs, m4)),
                            _mm512_shuffle_epi8(tab, _mm512_and_si512(_mm512_srli_epi16(qs, 4), m4)),
                            _mm512_permutexvar_ps(h ? _mm512_add_epi32(sel0, four) : sel0, d8), _mm512_setzero_ps()};
        }
        ROWS_EACH(r, R) {
            const xg_nib *g = X_ROW(xg_nib, xp, st, r) + 2 * b;
            b32_acc(B_IQ4_NL, v[0], g, &a0[r], &unused_m);
            b32_acc(B_IQ4_NL, v[1], g + 1, &a1[r], &unused_m);
        }
    }
    ROWS_EACH(r, R) out[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0[r], a1[r]));
}

DOT_FNS(iq4_xs, NIB_ROWS, xs_rows, 0)

/* ── Q8_0 ── */

/* A step of 4 blocks decoded: the levels plus 128 of blocks 0, 1 and 2, 3, and their scales. */
typedef struct q8_lv {
    __m512i q01, q23;
    __m512 d01, d23;
} q8_lv;

/* One step of 4 blocks from A (bytes 0..63), B (64..127), C (72..135). */
VNNI static inline q8_lv q8_decode(__m512i A, __m512i B, __m512i C) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __m512i dh = _mm512_permutex2var_epi8(A, ld(idx_q8_d), B);
    return (q8_lv){_mm512_xor_si512(_mm512_permutex2var_epi8(A, ld(idx_q8_qs01), B), flip),
                   _mm512_xor_si512(_mm512_permutex2var_epi8(B, ld(idx_q8_qs23), C), flip),
                   _mm512_cvtph_ps(_mm512_castsi512_si256(dh)), _mm512_cvtph_ps(_mm512_extracti64x4_epi64(dh, 1))};
}

VNNI static inline __m512 q8_acc(q8_lv v, const xg_q8 *g, __m512 acc) {
    const __m512i s01 = _mm512_dpbusd_epi32(ld(g->start), v.q01, ld(g->x));
    const __m512i s23 = _mm512_dpbusd_epi32(ld(g->start + 16), v.q23, ld(g->x + 64));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s01), _mm512_mul_ps(v.d01, _mm512_loadu_ps(g->xd)), acc);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s23), _mm512_mul_ps(v.d23, _mm512_loadu_ps(g->xd + 16)), acc);
}

VNNI static inline __attribute__((always_inline)) void q8_rows(const void *w, const void *xp, size_t st, const int R,
                                                               int64_t k, int unused, float *out) {
    (void)unused;
    const uint8_t *p = w;
    const int64_t nb = k / 32, full = nb / 4;
    __m512 a0[QMM_VNNI_ROWS], a1[QMM_VNNI_ROWS];
    ROWS_EACH(r, R) a0[r] = a1[r] = _mm512_setzero_ps();
    int64_t s = 0;
    for (; s + 2 <= full; s += 2, p += 272) {
        prefetch_ahead(p, 5);
        const q8_lv v0 = q8_decode(ld(p), ld(p + 64), ld(p + 72));
        const q8_lv v1 = q8_decode(ld(p + 136), ld(p + 200), ld(p + 208));
        ROWS_EACH(r, R) {
            const xg_q8 *g = X_ROW(xg_q8, xp, st, r) + s;
            a0[r] = q8_acc(v0, g, a0[r]);
            a1[r] = q8_acc(v1, g + 1, a1[r]);
        }
    }
    if (s < full) {
        const q8_lv v = q8_decode(ld(p), ld(p + 64), ld(p + 72));
        ROWS_EACH(r, R) a0[r] = q8_acc(v, X_ROW(xg_q8, xp, st, r) + s, a0[r]);
        p += 136, s++;
    }
    if (nb % 4) {
        const int64_t n = 34 * (nb % 4);
        const q8_lv v = q8_decode(_mm512_maskz_loadu_epi8(first_bytes(n), p),
                                  _mm512_maskz_loadu_epi8(first_bytes(n - 64), p + 64),
                                  _mm512_maskz_loadu_epi8(first_bytes(n - 72), p + 72));
        ROWS_EACH(r, R) a1[r] = q8_acc(v, X_ROW(xg_q8, xp, st, r) + s, a1[r]);
    }
    ROWS_EACH(r, R) out[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0[r], a1[r]));
}

DOT_FNS(q8_0, Q8_ROWS, q8_rows, 0)

/* ── Q4_K ── */

/* The 6-bit scales (or mins) of the 8 groups as 8 bytes: groups 0..3 are the low 6 bits of
 * bytes 0..3 (mins 4..7); groups 4..7 take 4 bits from bytes 8..11 (their high nibbles for the
 * mins) and the top 2 bits of bytes 0..3 (4..7 for the mins). */
static inline void k4_scales(const uint8_t *q, uint64_t *sc, uint64_t *mn) {
    uint32_t a, b, c;
    memcpy(&a, q, 4), memcpy(&b, q + 4, 4), memcpy(&c, q + 8, 4);
    const uint32_t s_hi = (c & 0x0f0f0f0fu) | ((a >> 2) & 0x30303030u);
    const uint32_t m_hi = ((c >> 4) & 0x0f0f0f0fu) | ((b >> 2) & 0x30303030u);
    *sc = (uint64_t)(a & 0x3f3f3f3fu) | (uint64_t)s_hi << 32;
    *mn = (uint64_t)(b & 0x3f3f3f3fu) | (uint64_t)m_hi << 32;
}

VNNI static inline __m256 bytes8_f32(uint64_t v) {
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)v)));
}

/* Bit `to` of each byte: bit g0 of H's byte in the low 256 bits, bit g1 in the high ones. */
VNNI static inline __m512i bit_at(__m512i H, short g0, short g1, int to) {
    const __m512i sh = _mm512_inserti64x4(_mm512_set1_epi16(g0), _mm256_set1_epi16(g1), 1);
    return _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(H, sh), _mm512_set1_epi8(1)), to);
}

/* Q4_K and Q5_K (bb 144 or 176 bytes: d, dmin, 12 scale bytes, Q5_K's 32 bytes of qh, 128 of
 * qs). Q5_K: bit g of qh[l] is bit 4 of group g's element l; qh, copied to both halves of a
 * zmm, is shifted per half to the two groups the half's nibbles belong to. */
VNNI static inline __attribute__((always_inline)) void k45_rows(const void *w, const void *xp, size_t st, const int R,
                                                                int64_t k, bool qh, float *out) {
    const uint8_t *x = w;
    const int64_t bb = qh ? 176 : 144;
    const __m512i m4 = _mm512_set1_epi8(15);
    /* lanes 0..7 and 8..15 take the scales of groups (0, 2), (1, 3), (4, 6), (5, 7) */
    const __m512i sel0 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2);
    const __m512i one = _mm512_set1_epi32(1), four = _mm512_set1_epi32(4);
    const __m512i sel1 = _mm512_add_epi32(sel0, one), sel2 = _mm512_add_epi32(sel0, four);
    const __m512i sel3 = _mm512_add_epi32(sel1, four);
    __m512 a0[QMM_VNNI_ROWS], a1[QMM_VNNI_ROWS];
    __m256 mins[QMM_VNNI_ROWS];
    ROWS_EACH(r, R) a0[r] = a1[r] = _mm512_setzero_ps(), mins[r] = _mm256_setzero_ps();
    for (int64_t b = 0; b < k / 256; b++, x += bb) {
        prefetch_ahead(x, qh ? 4 : 3);
        uint64_t sc, mn;
        uint16_t dh, mh;
        memcpy(&dh, x, 2), memcpy(&mh, x + 2, 2);
        k4_scales(x + 4, &sc, &mn);
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(dh)), dmin = _mm256_set1_ps(_cvtsh_ss(mh));
        const __m256 sd = _mm256_mul_ps(bytes8_f32(sc), d), md = _mm256_mul_ps(bytes8_f32(mn), dmin);
        const uint8_t *qs = x + (qh ? 48 : 16);
        const __m512i q0 = ld(qs), q1 = ld(qs + 64), z = _mm512_setzero_si512();
        __m512i l0 = _mm512_and_si512(q0, m4), h0 = _mm512_and_si512(_mm512_srli_epi16(q0, 4), m4);
        __m512i l1 = _mm512_and_si512(q1, m4), h1 = _mm512_and_si512(_mm512_srli_epi16(q1, 4), m4);
        if (qh) {
            const __m512i H = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x + 16)));
            l0 = _mm512_or_si512(l0, bit_at(H, 0, 2, 4)), h0 = _mm512_or_si512(h0, bit_at(H, 1, 3, 4));
            l1 = _mm512_or_si512(l1, bit_at(H, 4, 6, 4)), h1 = _mm512_or_si512(h1, bit_at(H, 5, 7, 4));
        }
        ROWS_EACH(r, R) {
            const xg_k4 *g = X_ROW(xg_k4, xp, st, r) + b;
            const __m512 s8 = _mm512_castps256_ps512(_mm256_mul_ps(sd, _mm256_loadu_ps(g->xd)));
            mins[r] = _mm256_fmadd_ps(md, _mm256_loadu_ps(g->xs), mins[r]);
            const __m512i s0 = _mm512_dpbusd_epi32(z, l0, ld(g->x));
            const __m512i s1 = _mm512_dpbusd_epi32(z, h0, ld(g->x + 64));
            const __m512i s2 = _mm512_dpbusd_epi32(z, l1, ld(g->x + 128));
            const __m512i s3 = _mm512_dpbusd_epi32(z, h1, ld(g->x + 192));
            a0[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_permutexvar_ps(sel0, s8), a0[r]);
            a1[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1), _mm512_permutexvar_ps(sel1, s8), a1[r]);
            a0[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s2), _mm512_permutexvar_ps(sel2, s8), a0[r]);
            a1[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s3), _mm512_permutexvar_ps(sel3, s8), a1[r]);
        }
    }
    ROWS_EACH(r, R) {
        const __m128 m = _mm_add_ps(_mm256_castps256_ps128(mins[r]), _mm256_extractf128_ps(mins[r], 1));
        const __m128 m2 = _mm_add_ps(m, _mm_movehl_ps(m, m));
        out[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0[r], a1[r])) - _mm_cvtss_f32(_mm_add_ss(m2, _mm_movehdup_ps(m2)));
    }
}

DOT_FNS(q4_K, K4_ROWS, k45_rows, false)
DOT_FNS(q5_K, K4_ROWS, k45_rows, true)

/* ── Q6_K ── */

/* Per half h of 128 elements: elements 32j + l take a nibble of ql[64h + l + 32(j & 1)] (the
 * high one for j >= 2) and bits 2j, 2j + 1 of qh[32h + l]. A zmm of ql gives j = 0, 1 from its
 * low nibbles and j = 2, 3 from its high ones; qh, copied to both halves, is shifted per half. */
VNNI static inline __attribute__((always_inline)) void k6_rows(const void *w, const void *xp, size_t st, const int R,
                                                               int64_t k, int unused, float *out) {
    (void)unused;
    const mlxn_block_q6_K *x = w;
    const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(0x30);
    const __m512i sh01 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i sh23 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    /* lane l of the r-th zmm of a super-block takes the scale of group 4r + l / 4 */
    const __m512i sel0 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3), four = _mm512_set1_epi32(4);
    const __m512i sel[4] = {sel0, _mm512_add_epi32(sel0, four), _mm512_add_epi32(sel0, _mm512_set1_epi32(8)),
                            _mm512_add_epi32(sel0, _mm512_set1_epi32(12))};
    __m512 a0[QMM_VNNI_ROWS], a1[QMM_VNNI_ROWS], off[QMM_VNNI_ROWS];
    ROWS_EACH(r, R) a0[r] = a1[r] = off[r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < k / 256; b++) {
        prefetch_ahead(x + b, 4);
        const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)x[b].scales));
        const __m512 s16 = _mm512_mul_ps(_mm512_cvtepi32_ps(sc), _mm512_set1_ps(_cvtsh_ss(x[b].d)));
        __m512i q[4];
        for (int h = 0; h < 2; h++) {
            const __m512i L = ld(x[b].ql + 64 * h);
            const __m512i H = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x[b].qh + 32 * h)));
            q[2 * h] = _mm512_or_si512(_mm512_and_si512(L, m4), _mm512_and_si512(_mm512_sllv_epi16(H, sh01), m2));
            q[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L, 4), m4),
                                           _mm512_and_si512(_mm512_srlv_epi16(H, sh23), m2));
        }
        ROWS_EACH(r, R) {
            const xg_k6 *g = X_ROW(xg_k6, xp, st, r) + b;
            off[r] = _mm512_fmadd_ps(s16, _mm512_loadu_ps(g->xs), off[r]);
            const __m512 sx = _mm512_mul_ps(s16, _mm512_loadu_ps(g->xd));
            for (int h = 0; h < 2; h++) {
                const __m512i s01 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[2 * h], ld(g->x + 128 * h));
                const __m512i s23 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q[2 * h + 1], ld(g->x + 128 * h + 64));
                a0[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s01), _mm512_permutexvar_ps(sel[2 * h], sx), a0[r]);
                a1[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s23), _mm512_permutexvar_ps(sel[2 * h + 1], sx), a1[r]);
            }
        }
    }
    ROWS_EACH(r, R) out[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0[r], a1[r])) - 32.0f * _mm512_reduce_add_ps(off[r]);
}

DOT_FNS(q6_K, K6_ROWS, k6_rows, 0)

/* ── Q2_K and Q3_K: 2-bit fields of qs (Q3_K: bit 2 from hmask), 16 groups of 16 with their
 * own scales; X as Q6_K's. Per 128 elements a 32-byte run of qs, copied to both halves of a
 * zmm, gives fields s0 (low half) and s1 (high half) for 64 elements in order. ── */

VNNI static inline __m512i two_bits(__m512i V, short s0, short s1) {
    const __m512i sh = _mm512_inserti64x4(_mm512_set1_epi16(s0), _mm256_set1_epi16(s1), 1);
    return _mm512_and_si512(_mm512_srlv_epi16(V, sh), _mm512_set1_epi8(3));
}

VNNI static inline __m512i run32(const uint8_t *p) { return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p)); }

/* Σ over a super-block of the four zmm of levels u[q] (elements 64q..64q+63) with X, each
 * lane times the scale of its group (sx: per group of 16), into a0 and a1. */
VNNI static inline void k23_acc(const __m512i *u, const xg_k6 *g, __m512 sx, __m512 *a0, __m512 *a1) {
    __m512i sel = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const __m512i four = _mm512_set1_epi32(4);
    for (int q = 0; q < 4; q++, sel = _mm512_add_epi32(sel, four)) {
        const __m512i sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u[q], ld(g->x + 64 * q));
        __m512 *a = q % 2 ? a1 : a0;
        *a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_permutexvar_ps(sel, sx), *a);
    }
}

/* Q3_K's 16 6-bit scales minus 32, times d: scale j has its low 4 bits in the low nibble of
 * byte j (j < 8) or the high one of byte j - 8, its high 2 bits at bits 2 (j / 4) of byte
 * 8 + j % 4. */
VNNI static inline __m512 q3_scales(const uint8_t *sb, float d) {
    uint64_t a;
    uint32_t c;
    memcpy(&a, sb, 8), memcpy(&c, sb + 8, 4);
    const __m128i m15 = _mm_set1_epi8(15);
    const __m128i lo = _mm_and_si128(_mm_srlv_epi64(_mm_set1_epi64x((long long)a), _mm_setr_epi32(0, 0, 4, 0)), m15);
    const __m128i hi = _mm_and_si128(_mm_srlv_epi32(_mm_set1_epi32((int)c), _mm_setr_epi32(0, 2, 4, 6)), _mm_set1_epi8(3));
    const __m128i sc = _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi8(32));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(sc)), _mm512_set1_ps(d));
}

/* Q2_K (q3 false): d · (sc & 15) · q - dmin · (sc >> 4), q in 0..3.
 * Q3_K (q3 true): d · (s - 32) · (q - 4), q = the 2 bits of qs plus 4 where hmask's bit is
 * set; the -4 comes off as 4 · Σ scale · xs. */
VNNI static inline __attribute__((always_inline)) void k23_rows(const void *w, const void *xp, size_t st, const int R,
                                                                int64_t k, bool q3, float *out) {
    const mlxn_block_q2_K *x2 = w;
    const mlxn_block_q3_K *x3 = w;
    __m512 a0[QMM_VNNI_ROWS], a1[QMM_VNNI_ROWS], off[QMM_VNNI_ROWS];
    ROWS_EACH(r, R) a0[r] = a1[r] = off[r] = _mm512_setzero_ps();
    for (int64_t b = 0; b < k / 256; b++) {
        __m512 s16, md = _mm512_setzero_ps();
        __m512i u[4];
        if (q3) {
            prefetch_ahead(x3 + b, 2);
            s16 = q3_scales(x3[b].scales, _cvtsh_ss(x3[b].d));
            const __m512i H = run32(x3[b].hmask), v0 = run32(x3[b].qs), v1 = run32(x3[b].qs + 32);
            u[0] = _mm512_or_si512(two_bits(v0, 0, 2), bit_at(H, 0, 1, 2));
            u[1] = _mm512_or_si512(two_bits(v0, 4, 6), bit_at(H, 2, 3, 2));
            u[2] = _mm512_or_si512(two_bits(v1, 0, 2), bit_at(H, 4, 5, 2));
            u[3] = _mm512_or_si512(two_bits(v1, 4, 6), bit_at(H, 6, 7, 2));
        } else {
            prefetch_ahead(x2 + b, 2);
            const __m512i sc = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)x2[b].scales));
            s16 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(sc, _mm512_set1_epi32(15))),
                                _mm512_set1_ps(_cvtsh_ss(x2[b].d)));
            md = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(sc, 4)), _mm512_set1_ps(_cvtsh_ss(x2[b].dmin)));
            const __m512i v0 = run32(x2[b].qs), v1 = run32(x2[b].qs + 32);
            u[0] = two_bits(v0, 0, 2), u[1] = two_bits(v0, 4, 6), u[2] = two_bits(v1, 0, 2), u[3] = two_bits(v1, 4, 6);
        }
        ROWS_EACH(r, R) {
            const xg_k6 *g = X_ROW(xg_k6, xp, st, r) + b;
            off[r] = _mm512_fmadd_ps(q3 ? s16 : md, _mm512_loadu_ps(g->xs), off[r]);
            k23_acc(u, g, _mm512_mul_ps(s16, _mm512_loadu_ps(g->xd)), &a0[r], &a1[r]);
        }
    }
    ROWS_EACH(r, R) {
        const float o = _mm512_reduce_add_ps(off[r]);
        out[r] = _mm512_reduce_add_ps(_mm512_add_ps(a0[r], a1[r])) - (q3 ? 4.0f * o : o);
    }
}

DOT_FNS(q2_K, K23_ROWS, k23_rows, false)
DOT_FNS(q3_K, K23_ROWS, k23_rows, true)

/* qmm_quantize_x, 32 at a time: the same bits (cvtps rounds to nearest even as
 * mlxn_nearest_int does; |x · id| <= 127 before the clamp). */
VNNI void qmm_quantize_x_vnni(const float *x, int64_t k, int8_t *xq, float *xd, float *xs) {
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    for (int64_t b = 0; b < k / 32; b++, x += 32, xq += 32) {
        const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        const __m512 a0 = _mm512_abs_ps(v0), a1 = _mm512_abs_ps(v1);
        const bool nan = (_mm512_cmp_ps_mask(a0, a0, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(a1, a1, _CMP_UNORD_Q)) != 0;
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(a0, a1));
        const float d = nan ? NAN : amax / 127.0f, id = d > 0.0f ? 127.0f / amax : 0.0f;
        /* non-finite x count as 0 (id is 0 for an infinite amax, so only NaN·0 needs this) */
        const __m512 vid = _mm512_set1_ps(id), inf = _mm512_set1_ps(INFINITY);
        const __m512 p0 = _mm512_maskz_mul_ps(_mm512_cmp_ps_mask(a0, inf, _CMP_LT_OQ), v0, vid);
        const __m512 p1 = _mm512_maskz_mul_ps(_mm512_cmp_ps_mask(a1, inf, _CMP_LT_OQ), v1, vid);
        const __m512i q0 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(p0), lo), hi);
        const __m512i q1 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(p1), lo), hi);
        _mm_storeu_si128((__m128i *)xq, _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(xq + 16), _mm512_cvtepi32_epi8(q1));
        xd[b] = d;
        xs[2 * b] = d * (float)_mm512_reduce_add_epi32(q0);
        xs[2 * b + 1] = d * (float)_mm512_reduce_add_epi32(q1);
    }
}

static const qmm_vnni_fused vnni[MLXN_TYPE_COUNT] = {
    [MLXN_TYPE_Q4_0] = {xb_nib, prep_q4_0, dot_q4_0, rows_q4_0, NIB_ROWS},
    [MLXN_TYPE_IQ4_NL] = {xb_nib, prep_iq4_nl, dot_iq4_nl, rows_iq4_nl, NIB_ROWS},
    [MLXN_TYPE_Q8_0] = {xb_q8, prep_q8_0, dot_q8_0, rows_q8_0, Q8_ROWS},
    [MLXN_TYPE_Q4_K] = {xb_k4, prep_q4_K, dot_q4_K, rows_q4_K, K4_ROWS},
    [MLXN_TYPE_Q5_K] = {xb_k4, prep_q4_K, dot_q5_K, rows_q5_K, K4_ROWS},
    [MLXN_TYPE_Q6_K] = {xb_k6, prep_q6_K, dot_q6_K, rows_q6_K, K6_ROWS},
    [MLXN_TYPE_MXFP4] = {xb_nib, prep_iq4_nl, dot_mxfp4, rows_mxfp4, NIB_ROWS},
    [MLXN_TYPE_Q5_0] = {xb_nib, prep_q5_0, dot_q5_0, rows_q5_0, NIB_ROWS},
    [MLXN_TYPE_Q4_1] = {xb_nib, prep_q4_1, dot_q4_1, rows_q4_1, MIN_ROWS},
    [MLXN_TYPE_Q5_1] = {xb_nib, prep_q4_1, dot_q5_1, rows_q5_1, MIN_ROWS},
    [MLXN_TYPE_IQ4_XS] = {xb_nib, prep_iq4_nl, dot_iq4_xs, rows_iq4_xs, NIB_ROWS},
    [MLXN_TYPE_Q2_K] = {xb_k6, prep_q6_K, dot_q2_K, rows_q2_K, K23_ROWS},
    [MLXN_TYPE_Q3_K] = {xb_k6, prep_q6_K, dot_q3_K, rows_q3_K, K23_ROWS},
};

const qmm_vnni_fused *qmm_vnni_fused_for(mlxn_type t) {
    return (unsigned)t < MLXN_TYPE_COUNT && vnni[t].dot ? &vnni[t] : NULL;
}

#else /* no x86 SIMD */

bool qmm_have_vnni(void) { return false; }
void qmm_quantize_x_vnni(const float *x, int64_t k, int8_t *xq, float *xd, float *xs) {
    qmm_quantize_x(x, k, xq, xd, xs);
}
const qmm_vnni_fused *qmm_vnni_fused_for(mlxn_type t) { return NULL; }

#endif
