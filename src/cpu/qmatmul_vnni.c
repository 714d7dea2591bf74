/* CPU quantized matmul, AVX-512 VNNI half: fused row dots for small M with vpdpbusd
 * (unsigned 8-bit × signed 8-bit, four products summed into each 32-bit lane).
 * W levels go in unsigned: Q4_0, Q4_1 and Q4_K nibbles as they are (Q5_0, Q5_1 and Q5_K with
 * their fifth bit), Q8_0 plus 128, IQ4_NL's (IQ4_XS's) and MXFP4's tables plus 128, Q2_K's
 * 2-bit and Q3_K's 3-bit levels, Q6_K's 6-bit levels. X (already rounded to 8 bits per 32 by
 * qmm_quantize_x) is laid out once per op in the order the W bytes meet it, with what the
 * offset costs: for the 32-block formats an integer start
 * value per lane (-offset · Σ of the lane's x), so each lane's sum is the exact integer
 * Σ level·x (Q4_1's min in f32 per lane); for the K-quants the mins and offsets in f32 as the
 * AVX2 kernels do. The scales apply per lane in f32.
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
 * row (dev/qmatmul/NOTES_cpu.md). */
#define W_AHEAD 2048
VNNI static inline void prefetch_ahead(const void *p, int lines) {
    for (int l = 0; l < lines; l++) _mm_prefetch((const char *)p + W_AHEAD + 64 * l, _MM_HINT_T0);
}

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

/* The 4 blocks' dots of a step, lanes starting at g->start, times the blocks' f16 scales d16
 * (one per lane) and X's steps, into acc. */
VNNI static inline __m512 start_accum(__m512i lo, __m512i hi, __m256i d16, const xg_nib *g, __m512 acc) {
    __m512i s = _mm512_dpbusd_epi32(ld(g->start), lo, ld(g->lo));
    s = _mm512_dpbusd_epi32(s, hi, ld(g->hi));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(_mm512_cvtph_ps(d16), _mm512_loadu_ps(g->xd)), acc);
}

/* As start_accum from 0, with each block's f16 d in dm's low half and m in its high half:
 * the min adds m·xd·Σx per lane into accm. */
VNNI static inline void min_accum(__m512i lo, __m512i hi, __m512i dm, const xg_nib *g, __m512 *acc, __m512 *accm) {
    __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, ld(g->lo));
    s = _mm512_dpbusd_epi32(s, hi, ld(g->hi));
    const __m512 d = _mm512_cvtph_ps(_mm512_castsi512_si256(dm)), m = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(dm, 1));
    *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(d, _mm512_loadu_ps(g->xd)), *acc);
    *accm = _mm512_fmadd_ps(m, _mm512_loadu_ps(g->xs), *accm);
}

/* ── Q4_0 / IQ4_NL ── */

/* One step of 4 blocks from A (bytes 0..63) and B (bytes 8..71). */
VNNI static inline __m512 nib_step(__m512i A, __m512i B, const xg_nib *g, bool lut, __m512i tab, __m512 acc) {
    const __m512i m4 = _mm512_set1_epi8(15);
    const __m512i qs = _mm512_permutex2var_epi8(A, ld(idx_nib_qs), B);
    __m512i lo = _mm512_and_si512(qs, m4), hi = _mm512_and_si512(_mm512_srli_epi16(qs, 4), m4);
    if (lut) lo = _mm512_shuffle_epi8(tab, lo), hi = _mm512_shuffle_epi8(tab, hi);
    return start_accum(lo, hi, _mm512_castsi512_si256(_mm512_permutexvar_epi8(ld(idx_nib_d), A)), g, acc);
}

VNNI static inline float nib_dot(const void *w, const void *xp, int64_t k, bool lut) {
    const uint8_t *p = w;
    const xg_nib *g = xp;
    const int64_t nb = k / 32, full = nb / 4;
    const __m512i tab = lut ? lut128(mlxn_kvalues_iq4nl) : _mm512_setzero_si512();
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t s = 0;
    for (; s + 2 <= full; s += 2, p += 144) {
        prefetch_ahead(p, 3);
        a0 = nib_step(ld(p), ld(p + 8), g + s, lut, tab, a0);
        a1 = nib_step(ld(p + 72), ld(p + 80), g + s + 1, lut, tab, a1);
    }
    if (s < full) a0 = nib_step(ld(p), ld(p + 8), g + s, lut, tab, a0), p += 72, s++;
    if (nb % 4) {
        const int64_t n = 18 * (nb % 4);
        a1 = nib_step(_mm512_maskz_loadu_epi8(first_bytes(n), p), _mm512_maskz_loadu_epi8(first_bytes(n - 8), p + 8),
                      g + s, lut, tab, a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

VNNI static float dot_q4_0(const void *w, const void *xp, int64_t k) { return nib_dot(w, xp, k, false); }
VNNI static float dot_iq4_nl(const void *w, const void *xp, int64_t k) { return nib_dot(w, xp, k, true); }

/* IQ4_XS: a super-block (d, 2 + 4 bytes of 6-bit scales, 128 of nibbles) is 8 blocks of 32 whose
 * 16 qs bytes sit back to back: two IQ4_NL steps with no gather, block ib's scale
 * d·(ls_ib - 32) on its four lanes. */
VNNI static float dot_iq4_xs(const void *w, const void *xp, int64_t k) {
    const uint8_t *x = w;
    const xg_nib *g = xp;
    const __m512i m4 = _mm512_set1_epi8(15);
    const __m512i tab = lut128(mlxn_kvalues_iq4nl);
    const __m512i sel0 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3), four = _mm512_set1_epi32(4);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    for (int64_t b = 0; b < k / 256; b++, x += 136, g += 2) {
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
        __m512i sel = sel0;
        for (int h = 0; h < 2; h++, sel = _mm512_add_epi32(sel, four)) {
            const __m512i qs = ld(x + 8 + 64 * h);
            const __m512i lo = _mm512_shuffle_epi8(tab, _mm512_and_si512(qs, m4));
            const __m512i hi = _mm512_shuffle_epi8(tab, _mm512_and_si512(_mm512_srli_epi16(qs, 4), m4));
            __m512i s = _mm512_dpbusd_epi32(ld(g[h].start), lo, ld(g[h].lo));
            s = _mm512_dpbusd_epi32(s, hi, ld(g[h].hi));
            const __m512 sc = _mm512_mul_ps(_mm512_permutexvar_ps(sel, d8), _mm512_loadu_ps(g[h].xd));
            if (h) a1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), sc, a1);
            else a0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), sc, a0);
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

/* ── MXFP4: the doubled E2M1 values plus 128 by table (IQ4_NL's X layout), times 2^(e - 128)
 * as the reference builds it (e < 2 subnormal) ── */

VNNI static inline __m512 mx_step(__m512i A, __m512i B, const xg_nib *g, __m512i tab, __m512 acc) {
    const __m512i m4 = _mm512_set1_epi8(15);
    const __m512i qs = _mm512_permutex2var_epi8(A, ld(idx_mx_qs), B);
    const __m512i lo = _mm512_shuffle_epi8(tab, _mm512_and_si512(qs, m4));
    const __m512i hi = _mm512_shuffle_epi8(tab, _mm512_and_si512(_mm512_srli_epi16(qs, 4), m4));
    __m512i s = _mm512_dpbusd_epi32(ld(g->start), lo, ld(g->lo));
    s = _mm512_dpbusd_epi32(s, hi, ld(g->hi));
    const __m512i e = _mm512_and_si512(_mm512_permutexvar_epi8(ld(idx_mx_e), A), _mm512_set1_epi32(255));
    const __m512i normal = _mm512_slli_epi32(_mm512_sub_epi32(e, _mm512_set1_epi32(1)), 23);
    const __m512i sub = _mm512_sllv_epi32(_mm512_set1_epi32(0x00200000), e);
    const __mmask16 tiny = _mm512_cmplt_epu32_mask(e, _mm512_set1_epi32(2));
    const __m512 d = _mm512_castsi512_ps(_mm512_mask_blend_epi32(tiny, normal, sub));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(d, _mm512_loadu_ps(g->xd)), acc);
}

VNNI static float dot_mxfp4(const void *w, const void *xp, int64_t k) {
    const uint8_t *p = w;
    const xg_nib *g = xp;
    const int64_t nb = k / 32, full = nb / 4;
    const __m512i tab = lut128(mlxn_kvalues_mxfp4);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t s = 0;
    for (; s + 2 <= full; s += 2, p += 136) {
        prefetch_ahead(p, 3);
        a0 = mx_step(ld(p), ld(p + 4), g + s, tab, a0);
        a1 = mx_step(ld(p + 68), ld(p + 72), g + s + 1, tab, a1);
    }
    if (s < full) a0 = mx_step(ld(p), ld(p + 4), g + s, tab, a0), p += 68, s++;
    if (nb % 4) {
        const int64_t n = 17 * (nb % 4);
        const __m512i A = _mm512_maskz_loadu_epi8(first_bytes(n), p);
        const __m512i B = _mm512_maskz_loadu_epi8(first_bytes(n - 4), p + 4);
        a1 = mx_step(A, B, g + s, tab, a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

/* ── Q4_1: d·q + m, levels 0..15 as Q4_0's (start 0); the min adds m·xd·Σx per lane ── */

/* One step of 4 blocks from A (bytes 0..63) and B (bytes 16..79). */
VNNI static inline void q41_step(__m512i A, __m512i B, const xg_nib *g, __m512 *acc, __m512 *accm) {
    const __m512i m4 = _mm512_set1_epi8(15);
    const __m512i qs = _mm512_permutex2var_epi8(A, ld(idx_q41_qs), B);
    const __m512i lo = _mm512_and_si512(qs, m4), hi = _mm512_and_si512(_mm512_srli_epi16(qs, 4), m4);
    min_accum(lo, hi, _mm512_permutexvar_epi8(ld(idx_q41_dm), A), g, acc, accm);
}

VNNI static float dot_q4_1(const void *w, const void *xp, int64_t k) {
    const uint8_t *p = w;
    const xg_nib *g = xp;
    const int64_t nb = k / 32, full = nb / 4;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), m0 = _mm512_setzero_ps(), m1 = _mm512_setzero_ps();
    int64_t s = 0;
    for (; s + 2 <= full; s += 2, p += 160) {
        prefetch_ahead(p, 3);
        q41_step(ld(p), ld(p + 16), g + s, &a0, &m0);
        q41_step(ld(p + 80), ld(p + 96), g + s + 1, &a1, &m1);
    }
    if (s < full) q41_step(ld(p), ld(p + 16), g + s, &a0, &m0), p += 80, s++;
    if (nb % 4) {
        const int64_t n = 20 * (nb % 4);
        const __m512i A = _mm512_maskz_loadu_epi8(first_bytes(n), p);
        const __m512i B = _mm512_maskz_loadu_epi8(first_bytes(n - 16), p + 16);
        q41_step(A, B, g + s, &a1, &m1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(m0, m1)));
}

/* ── Q5_0 and Q5_1: Q4_0's and Q4_1's steps with the fifth bit: bit t of a block's qh is bit 4
 * of element t, so the 16 low bits of the 4 blocks' qh make a byte mask over the low-nibble
 * vector and the 16 high bits one over the high-nibble vector; 16 is added where set ── */

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

VNNI static inline void q5_levels(__m512i qs, __mmask64 ml, __mmask64 mh, __m512i *lo, __m512i *hi) {
    const __m512i m4 = _mm512_set1_epi8(15), b4 = _mm512_set1_epi8(16);
    const __m512i l = _mm512_and_si512(qs, m4), h = _mm512_and_si512(_mm512_srli_epi16(qs, 4), m4);
    *lo = _mm512_mask_add_epi8(l, ml, l, b4);
    *hi = _mm512_mask_add_epi8(h, mh, h, b4);
}

/* Q5_0: levels 0..31, the -16 in the lanes' start values (as Q4_0's -8). A = bytes 0..63, B = 24..87. */
VNNI static inline __m512 q50_step(__m512i A, __m512i B, __mmask64 ml, __mmask64 mh, const xg_nib *g, __m512 acc) {
    __m512i lo, hi;
    q5_levels(_mm512_permutex2var_epi8(A, ld(idx_q50_qs), B), ml, mh, &lo, &hi);
    return start_accum(lo, hi, _mm512_castsi512_si256(_mm512_permutex2var_epi8(A, ld(idx_q50_d), B)), g, acc);
}

VNNI static float dot_q5_0(const void *w, const void *xp, int64_t k) {
    const uint8_t *p = w;
    const xg_nib *g = xp;
    const int64_t nb = k / 32, full = nb / 4;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    __mmask64 ml, mh;
    int64_t s = 0;
    for (; s + 2 <= full; s += 2, p += 176) {
        prefetch_ahead(p, 3);
        q5_masks(p, 22, 2, 4, &ml, &mh);
        a0 = q50_step(ld(p), ld(p + 24), ml, mh, g + s, a0);
        q5_masks(p + 88, 22, 2, 4, &ml, &mh);
        a1 = q50_step(ld(p + 88), ld(p + 112), ml, mh, g + s + 1, a1);
    }
    if (s < full) {
        q5_masks(p, 22, 2, 4, &ml, &mh);
        a0 = q50_step(ld(p), ld(p + 24), ml, mh, g + s, a0), p += 88, s++;
    }
    if (nb % 4) {
        const int64_t n = 22 * (nb % 4);
        q5_masks(p, 22, 2, nb % 4, &ml, &mh);
        a1 = q50_step(_mm512_maskz_loadu_epi8(first_bytes(n), p), _mm512_maskz_loadu_epi8(first_bytes(n - 24), p + 24),
                      ml, mh, g + s, a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

/* Q5_1: d·q + m, levels 0..31 (start 0); the min adds m·xd·Σx per lane. A = bytes 0..63,
 * B = 32..95. */
VNNI static inline void q51_step(__m512i A, __m512i B, __mmask64 ml, __mmask64 mh, const xg_nib *g, __m512 *acc,
                                 __m512 *accm) {
    __m512i lo, hi;
    q5_levels(_mm512_permutex2var_epi8(A, ld(idx_q51_qs), B), ml, mh, &lo, &hi);
    min_accum(lo, hi, _mm512_permutex2var_epi8(A, ld(idx_q51_dm), B), g, acc, accm);
}

VNNI static float dot_q5_1(const void *w, const void *xp, int64_t k) {
    const uint8_t *p = w;
    const xg_nib *g = xp;
    const int64_t nb = k / 32, full = nb / 4;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), m0 = _mm512_setzero_ps(), m1 = _mm512_setzero_ps();
    __mmask64 ml, mh;
    int64_t s = 0;
    for (; s + 2 <= full; s += 2, p += 192) {
        prefetch_ahead(p, 3);
        q5_masks(p, 24, 4, 4, &ml, &mh);
        q51_step(ld(p), ld(p + 32), ml, mh, g + s, &a0, &m0);
        q5_masks(p + 96, 24, 4, 4, &ml, &mh);
        q51_step(ld(p + 96), ld(p + 128), ml, mh, g + s + 1, &a1, &m1);
    }
    if (s < full) {
        q5_masks(p, 24, 4, 4, &ml, &mh);
        q51_step(ld(p), ld(p + 32), ml, mh, g + s, &a0, &m0), p += 96, s++;
    }
    if (nb % 4) {
        const int64_t n = 24 * (nb % 4);
        q5_masks(p, 24, 4, nb % 4, &ml, &mh);
        q51_step(_mm512_maskz_loadu_epi8(first_bytes(n), p), _mm512_maskz_loadu_epi8(first_bytes(n - 32), p + 32), ml, mh,
                 g + s, &a1, &m1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(m0, m1)));
}

/* ── Q8_0 ── */

/* One step of 4 blocks from A (bytes 0..63), B (64..127), C (72..135). */
VNNI static inline __m512 q8_step(__m512i A, __m512i B, __m512i C, const xg_q8 *g, __m512 acc) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __m512i q01 = _mm512_xor_si512(_mm512_permutex2var_epi8(A, ld(idx_q8_qs01), B), flip);
    const __m512i q23 = _mm512_xor_si512(_mm512_permutex2var_epi8(B, ld(idx_q8_qs23), C), flip);
    const __m512i s01 = _mm512_dpbusd_epi32(ld(g->start), q01, ld(g->x));
    const __m512i s23 = _mm512_dpbusd_epi32(ld(g->start + 16), q23, ld(g->x + 64));
    const __m512i dh = _mm512_permutex2var_epi8(A, ld(idx_q8_d), B);
    const __m512 d01 = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(dh)), _mm512_loadu_ps(g->xd));
    const __m512 d23 = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_extracti64x4_epi64(dh, 1)), _mm512_loadu_ps(g->xd + 16));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s01), d01, acc);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s23), d23, acc);
}

VNNI static float dot_q8_0(const void *w, const void *xp, int64_t k) {
    const uint8_t *p = w;
    const xg_q8 *g = xp;
    const int64_t nb = k / 32, full = nb / 4;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t s = 0;
    for (; s + 2 <= full; s += 2, p += 272) {
        prefetch_ahead(p, 5);
        a0 = q8_step(ld(p), ld(p + 64), ld(p + 72), g + s, a0);
        a1 = q8_step(ld(p + 136), ld(p + 200), ld(p + 208), g + s + 1, a1);
    }
    if (s < full) a0 = q8_step(ld(p), ld(p + 64), ld(p + 72), g + s, a0), p += 136, s++;
    if (nb % 4) {
        const int64_t n = 34 * (nb % 4);
        a1 = q8_step(_mm512_maskz_loadu_epi8(first_bytes(n), p), _mm512_maskz_loadu_epi8(first_bytes(n - 64), p + 64),
                     _mm512_maskz_loadu_epi8(first_bytes(n - 72), p + 72), g + s, a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
}

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
VNNI static inline float k45_dot(const void *w, const void *xp, int64_t k, bool qh) {
    const uint8_t *x = w;
    const xg_k4 *g = xp;
    const int64_t bb = qh ? 176 : 144;
    const __m512i m4 = _mm512_set1_epi8(15);
    /* lanes 0..7 and 8..15 take the scales of groups (0, 2), (1, 3), (4, 6), (5, 7) */
    const __m512i sel0 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2);
    const __m512i one = _mm512_set1_epi32(1), four = _mm512_set1_epi32(4);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    __m256 mins = _mm256_setzero_ps();
    for (int64_t b = 0; b < k / 256; b++, g++, x += bb) {
        prefetch_ahead(x, qh ? 4 : 3);
        uint64_t sc, mn;
        uint16_t dh, mh;
        memcpy(&dh, x, 2), memcpy(&mh, x + 2, 2);
        k4_scales(x + 4, &sc, &mn);
        const __m256 d = _mm256_set1_ps(_cvtsh_ss(dh)), dmin = _mm256_set1_ps(_cvtsh_ss(mh));
        const __m256 s8y = _mm256_mul_ps(_mm256_mul_ps(bytes8_f32(sc), d), _mm256_loadu_ps(g->xd));
        const __m512 s8 = _mm512_castps256_ps512(s8y);
        mins = _mm256_fmadd_ps(_mm256_mul_ps(bytes8_f32(mn), dmin), _mm256_loadu_ps(g->xs), mins);
        const uint8_t *qs = x + (qh ? 48 : 16);
        const __m512i q0 = ld(qs), q1 = ld(qs + 64), z = _mm512_setzero_si512();
        __m512i l0 = _mm512_and_si512(q0, m4), h0 = _mm512_and_si512(_mm512_srli_epi16(q0, 4), m4);
        __m512i l1 = _mm512_and_si512(q1, m4), h1 = _mm512_and_si512(_mm512_srli_epi16(q1, 4), m4);
        if (qh) {
            const __m512i H = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x + 16)));
            l0 = _mm512_or_si512(l0, bit_at(H, 0, 2, 4)), h0 = _mm512_or_si512(h0, bit_at(H, 1, 3, 4));
            l1 = _mm512_or_si512(l1, bit_at(H, 4, 6, 4)), h1 = _mm512_or_si512(h1, bit_at(H, 5, 7, 4));
        }
        const __m512i s0 = _mm512_dpbusd_epi32(z, l0, ld(g->x));
        const __m512i s1 = _mm512_dpbusd_epi32(z, h0, ld(g->x + 64));
        const __m512i s2 = _mm512_dpbusd_epi32(z, l1, ld(g->x + 128));
        const __m512i s3 = _mm512_dpbusd_epi32(z, h1, ld(g->x + 192));
        const __m512i sel1 = _mm512_add_epi32(sel0, one), sel2 = _mm512_add_epi32(sel0, four);
        const __m512i sel3 = _mm512_add_epi32(sel1, four);
        a0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_permutexvar_ps(sel0, s8), a0);
        a1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1), _mm512_permutexvar_ps(sel1, s8), a1);
        a0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s2), _mm512_permutexvar_ps(sel2, s8), a0);
        a1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s3), _mm512_permutexvar_ps(sel3, s8), a1);
    }
    const __m128 m = _mm_add_ps(_mm256_castps256_ps128(mins), _mm256_extractf128_ps(mins, 1));
    const __m128 m2 = _mm_add_ps(m, _mm_movehl_ps(m, m));
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) - _mm_cvtss_f32(_mm_add_ss(m2, _mm_movehdup_ps(m2)));
}

VNNI static float dot_q4_K(const void *w, const void *xp, int64_t k) { return k45_dot(w, xp, k, false); }
VNNI static float dot_q5_K(const void *w, const void *xp, int64_t k) { return k45_dot(w, xp, k, true); }

/* ── Q6_K ── */

/* Per half h of 128 elements: elements 32j + l take a nibble of ql[64h + l + 32(j & 1)] (the
 * high one for j >= 2) and bits 2j, 2j + 1 of qh[32h + l]. A zmm of ql gives j = 0, 1 from its
 * low nibbles and j = 2, 3 from its high ones; qh, copied to both halves, is shifted per half. */
VNNI static float dot_q6_K(const void *w, const void *xp, int64_t k) {
    const mlxn_block_q6_K *x = w;
    const xg_k6 *g = xp;
    const __m512i m4 = _mm512_set1_epi8(15), m2 = _mm512_set1_epi8(0x30);
    const __m512i sh01 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i sh23 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    /* lane l of the r-th zmm of a super-block takes the scale of group 4r + l / 4 */
    const __m512i sel0 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3), four = _mm512_set1_epi32(4);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), off = _mm512_setzero_ps();
    for (int64_t b = 0; b < k / 256; b++, g++) {
        prefetch_ahead(x + b, 4);
        const __m512i sc = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)x[b].scales));
        const __m512 s16 = _mm512_mul_ps(_mm512_cvtepi32_ps(sc), _mm512_set1_ps(_cvtsh_ss(x[b].d)));
        off = _mm512_fmadd_ps(s16, _mm512_loadu_ps(g->xs), off);
        const __m512 sx = _mm512_mul_ps(s16, _mm512_loadu_ps(g->xd));
        __m512i sel = sel0;
        for (int h = 0; h < 2; h++) {
            const __m512i L = ld(x[b].ql + 64 * h);
            const __m512i H = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x[b].qh + 32 * h)));
            const __m512i q01 =
                _mm512_or_si512(_mm512_and_si512(L, m4), _mm512_and_si512(_mm512_sllv_epi16(H, sh01), m2));
            const __m512i q23 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L, 4), m4),
                                                _mm512_and_si512(_mm512_srlv_epi16(H, sh23), m2));
            const __m512i s01 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q01, ld(g->x + 128 * h));
            const __m512i s23 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), q23, ld(g->x + 128 * h + 64));
            a0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s01), _mm512_permutexvar_ps(sel, sx), a0);
            sel = _mm512_add_epi32(sel, four);
            a1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s23), _mm512_permutexvar_ps(sel, sx), a1);
            sel = _mm512_add_epi32(sel, four);
        }
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) - 32.0f * _mm512_reduce_add_ps(off);
}

/* ── Q2_K and Q3_K: 2-bit fields of qs (Q3_K: bit 2 from hmask), 16 groups of 16 with their
 * own scales; X as Q6_K's. Per 128 elements a 32-byte run of qs, copied to both halves of a
 * zmm, gives fields s0 (low half) and s1 (high half) for 64 elements in order. ── */

VNNI static inline __m512i two_bits(__m512i V, short s0, short s1) {
    const __m512i sh = _mm512_inserti64x4(_mm512_set1_epi16(s0), _mm256_set1_epi16(s1), 1);
    return _mm512_and_si512(_mm512_srlv_epi16(V, sh), _mm512_set1_epi8(3));
}

VNNI static inline __m512i run32(const uint8_t *p) { return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p)); }

/* Σ over a super-block of the four zmm of levels u[r] (elements 64r..64r+63) with X, each
 * lane times the scale of its group (sx: per group of 16), into a0 and a1. */
VNNI static inline void k23_acc(const __m512i *u, const xg_k6 *g, __m512 sx, __m512 *a0, __m512 *a1) {
    __m512i sel = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const __m512i four = _mm512_set1_epi32(4);
    for (int r = 0; r < 4; r++, sel = _mm512_add_epi32(sel, four)) {
        const __m512i sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u[r], ld(g->x + 64 * r));
        __m512 *a = r % 2 ? a1 : a0;
        *a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_permutexvar_ps(sel, sx), *a);
    }
}

/* Q2_K: d · (sc & 15) · q - dmin · (sc >> 4), q in 0..3. */
VNNI static float dot_q2_K(const void *w, const void *xp, int64_t k) {
    const mlxn_block_q2_K *x = w;
    const xg_k6 *g = xp;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), mins = _mm512_setzero_ps();
    for (int64_t b = 0; b < k / 256; b++, g++) {
        prefetch_ahead(x + b, 2);
        const __m512i sc = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)x[b].scales));
        const __m512 s16 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_and_si512(sc, _mm512_set1_epi32(15))),
                                         _mm512_set1_ps(_cvtsh_ss(x[b].d)));
        mins = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(sc, 4)), _mm512_set1_ps(_cvtsh_ss(x[b].dmin))),
                               _mm512_loadu_ps(g->xs), mins);
        const __m512i v0 = run32(x[b].qs), v1 = run32(x[b].qs + 32);
        const __m512i u[4] = {two_bits(v0, 0, 2), two_bits(v0, 4, 6), two_bits(v1, 0, 2), two_bits(v1, 4, 6)};
        k23_acc(u, g, _mm512_mul_ps(s16, _mm512_loadu_ps(g->xd)), &a0, &a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) - _mm512_reduce_add_ps(mins);
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

/* Q3_K: d · (s - 32) · (q - 4), q = the 2 bits of qs plus 4 where hmask's bit is set; the -4
 * comes off as 4 · Σ scale · xs. */
VNNI static float dot_q3_K(const void *w, const void *xp, int64_t k) {
    const mlxn_block_q3_K *x = w;
    const xg_k6 *g = xp;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), off = _mm512_setzero_ps();
    for (int64_t b = 0; b < k / 256; b++, g++) {
        prefetch_ahead(x + b, 2);
        const __m512 s16 = q3_scales(x[b].scales, _cvtsh_ss(x[b].d));
        off = _mm512_fmadd_ps(s16, _mm512_loadu_ps(g->xs), off);
        const __m512i H = run32(x[b].hmask), v0 = run32(x[b].qs), v1 = run32(x[b].qs + 32);
        const __m512i u[4] = {
            _mm512_or_si512(two_bits(v0, 0, 2), bit_at(H, 0, 1, 2)), _mm512_or_si512(two_bits(v0, 4, 6), bit_at(H, 2, 3, 2)),
            _mm512_or_si512(two_bits(v1, 0, 2), bit_at(H, 4, 5, 2)), _mm512_or_si512(two_bits(v1, 4, 6), bit_at(H, 6, 7, 2))};
        k23_acc(u, g, _mm512_mul_ps(s16, _mm512_loadu_ps(g->xd)), &a0, &a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) - 4.0f * _mm512_reduce_add_ps(off);
}

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
    [MLXN_TYPE_Q4_0] = {xb_nib, prep_q4_0, dot_q4_0},     [MLXN_TYPE_IQ4_NL] = {xb_nib, prep_iq4_nl, dot_iq4_nl},
    [MLXN_TYPE_Q4_1] = {xb_nib, prep_q4_1, dot_q4_1},     [MLXN_TYPE_IQ4_XS] = {xb_nib, prep_iq4_nl, dot_iq4_xs},
    [MLXN_TYPE_Q5_0] = {xb_nib, prep_q5_0, dot_q5_0},     [MLXN_TYPE_Q5_1] = {xb_nib, prep_q4_1, dot_q5_1},
    [MLXN_TYPE_MXFP4] = {xb_nib, prep_iq4_nl, dot_mxfp4},
    [MLXN_TYPE_Q8_0] = {xb_q8, prep_q8_0, dot_q8_0},      [MLXN_TYPE_Q4_K] = {xb_k4, prep_q4_K, dot_q4_K},
    [MLXN_TYPE_Q5_K] = {xb_k4, prep_q4_K, dot_q5_K},      [MLXN_TYPE_Q6_K] = {xb_k6, prep_q6_K, dot_q6_K},
    [MLXN_TYPE_Q2_K] = {xb_k6, prep_q6_K, dot_q2_K},      [MLXN_TYPE_Q3_K] = {xb_k6, prep_q6_K, dot_q3_K},
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
