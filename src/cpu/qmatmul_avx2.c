/* CPU quantized matmul, AVX2 + FMA + F16C half: SIMD row decoders for the block formats,
 * the 8-bit dot product (maddubs on |w| and sign-adjusted x, as llama.cpp), and the f32 dot
 * for float weights. Compiled with target attributes; chosen at run time by qmm_have_avx2. */
#include <string.h>

#include "cpu/qmatmul_kernels.h"
#include "quant/blocks.h"
#include "quant/half.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma,f16c")))
#define F32(h) mlxn_f16_to_f32(h)

bool qmm_have_avx2(void) {
    __builtin_cpu_init();
    /* F16C comes with every AVX2 CPU (Intel since Ivy Bridge, AMD since Piledriver); clang 14
     * has no "f16c" name for __builtin_cpu_supports. */
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* The 32 nibbles of 16 bytes in element order: low nibbles 0..15, high nibbles 16..31. */
AVX2 static inline __m256i nibbles32(const uint8_t *qs) {
    const __m128i v = _mm_loadu_si128((const __m128i *)qs), m = _mm_set1_epi8(15);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
}

/* 0xff in byte j where bit j of the 32-bit word is set. */
AVX2 static inline __m256i bits32(uint32_t bits) {
    const __m256i shuf = _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202,
                                            0x0303030303030303);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), shuf);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

AVX2 static inline void put32(float *s16, float *m16, int64_t b, float s, float m) {
    s16[2 * b] = s16[2 * b + 1] = s;
    if (m16) m16[2 * b] = m16[2 * b + 1] = m;
}

AVX2 static void dec_q4_0(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q4_0 *x = w;
    const __m256i off = _mm256_set1_epi8(8);
    for (int64_t b = 0; b < k / 32; b++) {
        _mm256_storeu_si256((__m256i *)(q + 32 * b), _mm256_sub_epi8(nibbles32(x[b].qs), off));
        put32(s16, NULL, b, F32(x[b].d), 0);
    }
}

AVX2 static void dec_q4_1(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q4_1 *x = w;
    for (int64_t b = 0; b < k / 32; b++) {
        _mm256_storeu_si256((__m256i *)(q + 32 * b), nibbles32(x[b].qs));
        put32(s16, m16, b, F32(x[b].d), F32(x[b].m));
    }
}

AVX2 static void dec_q5_0(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q5_0 *x = w;
    const __m256i b4 = _mm256_set1_epi8(16);
    for (int64_t b = 0; b < k / 32; b++) {
        uint32_t qh;
        memcpy(&qh, x[b].qh, 4);
        __m256i v = _mm256_or_si256(nibbles32(x[b].qs), _mm256_and_si256(bits32(qh), b4));
        _mm256_storeu_si256((__m256i *)(q + 32 * b), _mm256_sub_epi8(v, b4));
        put32(s16, NULL, b, F32(x[b].d), 0);
    }
}

AVX2 static void dec_q5_1(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q5_1 *x = w;
    const __m256i b4 = _mm256_set1_epi8(16);
    for (int64_t b = 0; b < k / 32; b++) {
        uint32_t qh;
        memcpy(&qh, x[b].qh, 4);
        __m256i v = _mm256_or_si256(nibbles32(x[b].qs), _mm256_and_si256(bits32(qh), b4));
        _mm256_storeu_si256((__m256i *)(q + 32 * b), v);
        put32(s16, m16, b, F32(x[b].d), F32(x[b].m));
    }
}

AVX2 static void dec_q8_0(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q8_0 *x = w;
    for (int64_t b = 0; b < k / 32; b++) {
        _mm256_storeu_si256((__m256i *)(q + 32 * b), _mm256_loadu_si256((const __m256i *)x[b].qs));
        put32(s16, NULL, b, F32(x[b].d), 0);
    }
}

AVX2 static inline __m256i lut16(const int8_t *table) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)table));
}

AVX2 static void dec_iq4_nl(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_iq4_nl *x = w;
    const __m256i lut = lut16(mlxn_kvalues_iq4nl);
    for (int64_t b = 0; b < k / 32; b++) {
        _mm256_storeu_si256((__m256i *)(q + 32 * b), _mm256_shuffle_epi8(lut, nibbles32(x[b].qs)));
        put32(s16, NULL, b, F32(x[b].d), 0);
    }
}

AVX2 static void dec_mxfp4(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_mxfp4 *x = w;
    const __m256i lut = lut16(mlxn_kvalues_mxfp4);
    for (int64_t b = 0; b < k / 32; b++) {
        _mm256_storeu_si256((__m256i *)(q + 32 * b), _mm256_shuffle_epi8(lut, nibbles32(x[b].qs)));
        const uint8_t e = x[b].e; /* 2^(e - 128), e < 2 subnormal */
        put32(s16, NULL, b, mlxn_bits_f32(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23), 0);
    }
}

AVX2 static inline void scale_min_k4(int j, const uint8_t *q, int *d, int *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

AVX2 static void k45_scales(const uint8_t *scales, float d, float dmin, float *s16, float *m16) {
    for (int g = 0; g < 8; g++) {
        int sc, m;
        scale_min_k4(g, scales, &sc, &m);
        s16[2 * g] = s16[2 * g + 1] = d * (float)sc;
        m16[2 * g] = m16[2 * g + 1] = -(dmin * (float)m);
    }
}

AVX2 static void dec_q4_K(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q4_K *x = w;
    const __m256i m4 = _mm256_set1_epi8(15);
    for (int64_t b = 0; b < k / 256; b++, q += 256, s16 += 16, m16 += 16) {
        for (int p = 0; p < 4; p++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * p));
            _mm256_storeu_si256((__m256i *)(q + 64 * p), _mm256_and_si256(v, m4));
            _mm256_storeu_si256((__m256i *)(q + 64 * p + 32), _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
        }
        k45_scales(x[b].scales, F32(x[b].d), F32(x[b].dmin), s16, m16);
    }
}

AVX2 static void dec_q5_K(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q5_K *x = w;
    const __m256i m4 = _mm256_set1_epi8(15), b4 = _mm256_set1_epi8(16);
    for (int64_t b = 0; b < k / 256; b++, q += 256, s16 += 16, m16 += 16) {
        const __m256i h = _mm256_loadu_si256((const __m256i *)x[b].qh);
        for (int p = 0; p < 4; p++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * p));
            const __m256i bl = _mm256_set1_epi8((char)(1 << (2 * p))), bh = _mm256_set1_epi8((char)(2 << (2 * p)));
            __m256i lo = _mm256_or_si256(_mm256_and_si256(v, m4),
                                         _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, bl), bl), b4));
            __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4),
                                         _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, bh), bh), b4));
            _mm256_storeu_si256((__m256i *)(q + 64 * p), lo);
            _mm256_storeu_si256((__m256i *)(q + 64 * p + 32), hi);
        }
        k45_scales(x[b].scales, F32(x[b].d), F32(x[b].dmin), s16, m16);
    }
}

AVX2 static void dec_q6_K(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q6_K *x = w;
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3 << 4), off = _mm256_set1_epi8(32);
    for (int64_t b = 0; b < k / 256; b++, q += 256, s16 += 16) {
        for (int h = 0; h < 2; h++) {
            const __m256i A = _mm256_loadu_si256((const __m256i *)(x[b].ql + 64 * h));
            const __m256i Bv = _mm256_loadu_si256((const __m256i *)(x[b].ql + 64 * h + 32));
            const __m256i H = _mm256_loadu_si256((const __m256i *)(x[b].qh + 32 * h));
            /* the two high bits of element 32j + l sit at bits 2j of H: move them to bits 4..5 */
            const __m256i h0 = _mm256_and_si256(_mm256_slli_epi16(H, 4), m2);
            const __m256i h1 = _mm256_and_si256(_mm256_slli_epi16(H, 2), m2);
            const __m256i h2 = _mm256_and_si256(H, m2);
            const __m256i h3 = _mm256_and_si256(_mm256_srli_epi16(H, 2), m2);
            int8_t *o = q + 128 * h;
            _mm256_storeu_si256((__m256i *)o, _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(A, m4), h0), off));
            _mm256_storeu_si256((__m256i *)(o + 32), _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(Bv, m4), h1), off));
            _mm256_storeu_si256((__m256i *)(o + 64),
                                _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(A, 4), m4), h2), off));
            _mm256_storeu_si256((__m256i *)(o + 96),
                                _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(Bv, 4), m4), h3), off));
        }
        const float d = F32(x[b].d);
        for (int g = 0; g < 16; g++) s16[g] = d * (float)x[b].scales[g];
    }
}

AVX2 static void dec_q2_K(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q2_K *x = w;
    const __m256i m3 = _mm256_set1_epi8(3);
    for (int64_t b = 0; b < k / 256; b++, q += 256, s16 += 16, m16 += 16) {
        for (int h = 0; h < 2; h++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * h));
            _mm256_storeu_si256((__m256i *)(q + 128 * h), _mm256_and_si256(v, m3));
            _mm256_storeu_si256((__m256i *)(q + 128 * h + 32), _mm256_and_si256(_mm256_srli_epi16(v, 2), m3));
            _mm256_storeu_si256((__m256i *)(q + 128 * h + 64), _mm256_and_si256(_mm256_srli_epi16(v, 4), m3));
            _mm256_storeu_si256((__m256i *)(q + 128 * h + 96), _mm256_and_si256(_mm256_srli_epi16(v, 6), m3));
        }
        const float d = F32(x[b].d), dmin = F32(x[b].dmin);
        for (int g = 0; g < 16; g++) {
            s16[g] = d * (float)(x[b].scales[g] & 15);
            m16[g] = -(dmin * (float)(x[b].scales[g] >> 4));
        }
    }
}

AVX2 static inline int q3_scale(const uint8_t *s, int j) {
    int lo = j < 8 ? s[j] & 0xf : s[j - 8] >> 4;
    return (lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

AVX2 static void dec_q3_K(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q3_K *x = w;
    const __m256i m3 = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
    for (int64_t b = 0; b < k / 256; b++, q += 256, s16 += 16) {
        const __m256i H = _mm256_loadu_si256((const __m256i *)x[b].hmask);
        for (int j = 0; j < 8; j++) { /* elements 32j .. 32j+31 */
            const __m256i v = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * (j / 4)));
            const __m256i lo = _mm256_and_si256(_mm256_srli_epi16(v, 2 * (j % 4)), m3);
            const __m256i bit = _mm256_set1_epi8((char)(1 << j));
            const __m256i clear = _mm256_cmpeq_epi8(_mm256_and_si256(H, bit), _mm256_setzero_si256());
            _mm256_storeu_si256((__m256i *)(q + 32 * j), _mm256_sub_epi8(lo, _mm256_and_si256(clear, four)));
        }
        const float d = F32(x[b].d);
        for (int g = 0; g < 16; g++) s16[g] = d * (float)q3_scale(x[b].scales, g);
    }
}

AVX2 static void dec_iq4_xs(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_iq4_xs *x = w;
    const __m256i lut = lut16(mlxn_kvalues_iq4nl);
    for (int64_t b = 0; b < k / 256; b++, q += 256, s16 += 16) {
        const float d = F32(x[b].d);
        for (int ib = 0; ib < 8; ib++) {
            _mm256_storeu_si256((__m256i *)(q + 32 * ib), _mm256_shuffle_epi8(lut, nibbles32(x[b].qs + 16 * ib)));
            const int ls = ((x[b].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((x[b].scales_h >> (2 * ib)) & 3) << 4);
            s16[2 * ib] = s16[2 * ib + 1] = d * (float)(ls - 32);
        }
    }
}

qmm_decode_fn qmm_avx2_decode(mlxn_type t) {
    switch (t) {
    case MLXN_TYPE_Q4_0: return dec_q4_0;
    case MLXN_TYPE_Q4_1: return dec_q4_1;
    case MLXN_TYPE_Q5_0: return dec_q5_0;
    case MLXN_TYPE_Q5_1: return dec_q5_1;
    case MLXN_TYPE_Q8_0: return dec_q8_0;
    case MLXN_TYPE_IQ4_NL: return dec_iq4_nl;
    case MLXN_TYPE_MXFP4: return dec_mxfp4;
    case MLXN_TYPE_Q2_K: return dec_q2_K;
    case MLXN_TYPE_Q3_K: return dec_q3_K;
    case MLXN_TYPE_Q4_K: return dec_q4_K;
    case MLXN_TYPE_Q5_K: return dec_q5_K;
    case MLXN_TYPE_Q6_K: return dec_q6_K;
    case MLXN_TYPE_IQ4_XS: return dec_iq4_xs;
    default: return NULL;
    }
}

/* Σ over one 32: per-16 integer sums of w·x as 8 int32 (lanes 0-3 the first 16). */
AVX2 static inline __m256 dot32(const int8_t *w, const int8_t *x) {
    const __m256i vw = _mm256_loadu_si256((const __m256i *)w), vx = _mm256_loadu_si256((const __m256i *)x);
    /* |w| · (x · sign(w)): maddubs wants unsigned × signed; pairs sum to at most 2·128·127 */
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(vw, vw), _mm256_sign_epi8(vx, vw));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

/* (s[0] × 4, s[1] × 4) */
AVX2 static inline __m256 pair(const float *s) {
    const __m128 two = _mm_castpd_ps(_mm_load_sd((const double *)s));
    return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(two), _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
}

AVX2 static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2 float qmm_dot_q8_avx2(const int8_t *wq, const float *s16, const float *m16, const int8_t *xq, const float *xd,
                           const float *xs, int64_t k) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    const int64_t nb = k / 32;
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        const __m256 f0 = _mm256_mul_ps(dot32(wq + 32 * b, xq + 32 * b), pair(s16 + 2 * b));
        const __m256 f1 = _mm256_mul_ps(dot32(wq + 32 * b + 32, xq + 32 * b + 32), pair(s16 + 2 * b + 2));
        a0 = _mm256_fmadd_ps(f0, _mm256_broadcast_ss(xd + b), a0);
        a1 = _mm256_fmadd_ps(f1, _mm256_broadcast_ss(xd + b + 1), a1);
    }
    if (b < nb) a0 = _mm256_fmadd_ps(_mm256_mul_ps(dot32(wq + 32 * b, xq + 32 * b), pair(s16 + 2 * b)),
                                     _mm256_broadcast_ss(xd + b), a0);
    if (m16) {
        int64_t g = 0;
        for (; g + 8 <= k / 16; g += 8) a1 = _mm256_fmadd_ps(_mm256_loadu_ps(m16 + g), _mm256_loadu_ps(xs + g), a1);
        float t = 0.0f;
        for (; g < k / 16; g++) t += m16[g] * xs[g];
        return hsum(_mm256_add_ps(a0, a1)) + t;
    }
    return hsum(_mm256_add_ps(a0, a1));
}

/* ── Fused row dots for small M: the row is never written out decoded. ── */

/* Σ_b d_w·xd[b]·Σ (levels · xq) for 32-blocks whose levels come from `levels` (an
 * expression of the block index b) as signed bytes; two blocks per step into two sums. */
#define FUSED32(name, btype, levels, dw)                                                              \
    AVX2 static inline __m256 name##_one(const btype *x, const int8_t *xq, const float *xd, int64_t b, __m256 acc) { \
        const __m256i q = levels;                                                                     \
        const __m256i vx = _mm256_loadu_si256((const __m256i *)(xq + 32 * b));                       \
        const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(q, q), _mm256_sign_epi8(vx, q));      \
        return _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1))),        \
                               _mm256_set1_ps((dw) * xd[b]), acc);                                    \
    }                                                                                                 \
    AVX2 static float name(const void *w, const int8_t *xq, const float *xd, const float *xs, int64_t k) { \
        const btype *x = w;                                                                           \
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                                   \
        const int64_t nb = k / 32;                                                                    \
        int64_t b = 0;                                                                                \
        for (; b + 2 <= nb; b += 2) {                                                                 \
            a0 = name##_one(x, xq, xd, b, a0);                                                        \
            a1 = name##_one(x, xq, xd, b + 1, a1);                                                    \
        }                                                                                             \
        if (b < nb) a0 = name##_one(x, xq, xd, b, a0);                                               \
        return hsum(_mm256_add_ps(a0, a1));                                                           \
    }

#define H2F(h) _cvtsh_ss(h)
FUSED32(fdot_q4_0, mlxn_block_q4_0, _mm256_sub_epi8(nibbles32(x[b].qs), _mm256_set1_epi8(8)), H2F(x[b].d))
FUSED32(fdot_q8_0, mlxn_block_q8_0, _mm256_loadu_si256((const __m256i *)x[b].qs), H2F(x[b].d))
FUSED32(fdot_iq4_nl, mlxn_block_iq4_nl, _mm256_shuffle_epi8(lut16(mlxn_kvalues_iq4nl), nibbles32(x[b].qs)), H2F(x[b].d))

/* Q4_K: levels 0..15 are unsigned, so maddubs takes them as they are; the mins meet the
 * X 16-sums. */
AVX2 static float fdot_q4_K(const void *w, const int8_t *xq, const float *xd, const float *xs, int64_t k) {
    const mlxn_block_q4_K *x = w;
    const __m256i m4 = _mm256_set1_epi8(15), ones = _mm256_set1_epi16(1);
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    float mins = 0.0f;
    for (int64_t b = 0; b < k / 256; b++, xq += 256, xd += 8, xs += 16) {
        const float d = H2F(x[b].d), dmin = H2F(x[b].dmin);
        float sc[8];
        for (int g = 0; g < 8; g++) {
            int s, m;
            scale_min_k4(g, x[b].scales, &s, &m);
            sc[g] = d * (float)s * xd[g];
            mins += dmin * (float)m * (xs[2 * g] + xs[2 * g + 1]);
        }
        for (int p = 0; p < 4; p++) {
            const __m256i v = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * p));
            const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(xq + 64 * p))), ones);
            const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(xq + 64 * p + 32))), ones);
            a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(pl), _mm256_set1_ps(sc[2 * p]), a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ph), _mm256_set1_ps(sc[2 * p + 1]), a1);
        }
    }
    return hsum(_mm256_add_ps(a0, a1)) - mins;
}

/* Q6_K: levels as 0..63 (unsigned for maddubs); the -32 offset meets the X 16-sums. */
AVX2 static float fdot_q6_K(const void *w, const int8_t *xq, const float *xd, const float *xs, int64_t k) {
    const mlxn_block_q6_K *x = w;
    const __m256i m4 = _mm256_set1_epi8(15), m2 = _mm256_set1_epi8(3 << 4), ones = _mm256_set1_epi16(1);
    const __m256i sel = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    __m256 a0 = _mm256_setzero_ps();
    float off = 0.0f;
    for (int64_t b = 0; b < k / 256; b++, xq += 256, xd += 8, xs += 16) {
        const float d = H2F(x[b].d);
        float sc[16];
        for (int g = 0; g < 16; g++) {
            sc[g] = d * (float)x[b].scales[g] * xd[g / 2];
            off += 32.0f * d * (float)x[b].scales[g] * xs[g];
        }
        for (int h = 0; h < 2; h++) {
            const __m256i A = _mm256_loadu_si256((const __m256i *)(x[b].ql + 64 * h));
            const __m256i Bv = _mm256_loadu_si256((const __m256i *)(x[b].ql + 64 * h + 32));
            const __m256i H = _mm256_loadu_si256((const __m256i *)(x[b].qh + 32 * h));
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(A, m4), _mm256_and_si256(_mm256_slli_epi16(H, 4), m2));
            q[1] = _mm256_or_si256(_mm256_and_si256(Bv, m4), _mm256_and_si256(_mm256_slli_epi16(H, 2), m2));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(A, 4), m4), _mm256_and_si256(H, m2));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(Bv, 4), m4),
                                   _mm256_and_si256(_mm256_srli_epi16(H, 2), m2));
            for (int j = 0; j < 4; j++) {
                const int g = 8 * h + 2 * j; /* the 16-groups of elements 128h + 32j .. +31 */
                const __m256i vx = _mm256_loadu_si256((const __m256i *)(xq + 128 * h + 32 * j));
                const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(q[j], vx), ones);
                const __m256 s2 = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_castpd_ps(_mm_load_sd((const double *)(sc + g)))), sel);
                a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), s2, a0);
            }
        }
    }
    return hsum(a0) - off;
}

qmm_fused_fn qmm_avx2_fused(mlxn_type t) {
    switch (t) {
    case MLXN_TYPE_Q4_0: return fdot_q4_0;
    case MLXN_TYPE_Q8_0: return fdot_q8_0;
    case MLXN_TYPE_IQ4_NL: return fdot_iq4_nl;
    case MLXN_TYPE_Q4_K: return fdot_q4_K;
    case MLXN_TYPE_Q6_K: return fdot_q6_K;
    default: return NULL;
    }
}

AVX2 float qmm_dot_f32_avx2(const float *w, const float *x, int64_t k) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= k; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), _mm256_loadu_ps(x + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 16), _mm256_loadu_ps(x + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 24), _mm256_loadu_ps(x + i + 24), a3);
    }
    for (; i + 8 <= k; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a0);
    float t = 0.0f;
    for (; i < k; i++) t += w[i] * x[i];
    return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3))) + t;
}

AVX2 void qmm_row_to_f32_avx2(mlxn_type t, const void *w, int64_t k, float *out) {
    const uint16_t *h = w;
    int64_t i = 0;
    if (t == MLXN_TYPE_F16) {
        for (; i + 8 <= k; i += 8) _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
        for (; i < k; i++) out[i] = mlxn_f16_to_f32(h[i]);
    } else if (t == MLXN_TYPE_BF16) {
        for (; i + 8 <= k; i += 8) {
            __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(h + i)));
            _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(v, 16)));
        }
        for (; i < k; i++) out[i] = mlxn_bf16_to_f32(h[i]);
    } else {
        memcpy(out, w, sizeof(float) * (size_t)k);
    }
}

#else /* no x86 SIMD: the scalar kernels serve */

bool qmm_have_avx2(void) { return false; }
qmm_decode_fn qmm_avx2_decode(mlxn_type t) { return NULL; }
qmm_fused_fn qmm_avx2_fused(mlxn_type t) { return NULL; }
float qmm_dot_q8_avx2(const int8_t *wq, const float *s16, const float *m16, const int8_t *xq, const float *xd,
                      const float *xs, int64_t k) {
    return qmm_dot_q8_scalar(wq, s16, m16, xq, xd, xs, k);
}
float qmm_dot_f32_avx2(const float *w, const float *x, int64_t k) { return qmm_dot_f32_scalar(w, x, k); }
void qmm_row_to_f32_avx2(mlxn_type t, const void *w, int64_t k, float *out) { qmm_row_to_f32_scalar(t, w, k, out); }

#endif
