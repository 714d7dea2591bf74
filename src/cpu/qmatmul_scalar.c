/* CPU quantized matmul, portable half: per-format row decoders to 8-bit levels with a
 * scale (and min) per 16, X quantization, and the scalar dot products. The decoders follow
 * the reference dequantizers in src/quant (same element order, same f32 scale products). */
#include <math.h>
#include <string.h>

#include "cpu/qmatmul_kernels.h"
#include "quant/blocks.h"
#include "quant/half.h"
#include "quant/quant.h"

#define F32(h) mlxn_f16_to_f32(h)

/* Each 32-element block: levels q[0..32), one scale (and min) for both of its 16s. */
static void put32(float *s16, float *m16, int64_t b, float s, float m) {
    s16[2 * b] = s16[2 * b + 1] = s;
    if (m16) m16[2 * b] = m16[2 * b + 1] = m;
}

static void dec_q4_0(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q4_0 *x = w;
    for (int64_t b = 0; b < k / 32; b++, q += 32) {
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)((x[b].qs[j] & 15) - 8);
            q[j + 16] = (int8_t)((x[b].qs[j] >> 4) - 8);
        }
        put32(s16, NULL, b, F32(x[b].d), 0);
    }
}

static void dec_q4_1(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q4_1 *x = w;
    for (int64_t b = 0; b < k / 32; b++, q += 32) {
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)(x[b].qs[j] & 15);
            q[j + 16] = (int8_t)(x[b].qs[j] >> 4);
        }
        put32(s16, m16, b, F32(x[b].d), F32(x[b].m));
    }
}

static void dec_q5_0(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q5_0 *x = w;
    for (int64_t b = 0; b < k / 32; b++, q += 32) {
        uint32_t qh;
        memcpy(&qh, x[b].qh, 4);
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)(((x[b].qs[j] & 15) | (((qh >> j) & 1) << 4)) - 16);
            q[j + 16] = (int8_t)(((x[b].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16);
        }
        put32(s16, NULL, b, F32(x[b].d), 0);
    }
}

static void dec_q5_1(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q5_1 *x = w;
    for (int64_t b = 0; b < k / 32; b++, q += 32) {
        uint32_t qh;
        memcpy(&qh, x[b].qh, 4);
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)((x[b].qs[j] & 15) | (((qh >> j) & 1) << 4));
            q[j + 16] = (int8_t)((x[b].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
        }
        put32(s16, m16, b, F32(x[b].d), F32(x[b].m));
    }
}

static void dec_q8_0(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q8_0 *x = w;
    for (int64_t b = 0; b < k / 32; b++, q += 32) {
        memcpy(q, x[b].qs, 32);
        put32(s16, NULL, b, F32(x[b].d), 0);
    }
}

static void dec_iq4_nl(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_iq4_nl *x = w;
    for (int64_t b = 0; b < k / 32; b++, q += 32) {
        for (int j = 0; j < 16; j++) {
            q[j] = mlxn_kvalues_iq4nl[x[b].qs[j] & 15];
            q[j + 16] = mlxn_kvalues_iq4nl[x[b].qs[j] >> 4];
        }
        put32(s16, NULL, b, F32(x[b].d), 0);
    }
}

/* 2^(e - 128): half the E8M0 scale, as the doubled MXFP4 levels want (e < 2 subnormal). */
static float e8m0_half(uint8_t e) {
    return mlxn_bits_f32(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23);
}

static void dec_mxfp4(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_mxfp4 *x = w;
    for (int64_t b = 0; b < k / 32; b++, q += 32) {
        for (int j = 0; j < 16; j++) {
            q[j] = mlxn_kvalues_mxfp4[x[b].qs[j] & 15];
            q[j + 16] = mlxn_kvalues_mxfp4[x[b].qs[j] >> 4];
        }
        put32(s16, NULL, b, e8m0_half(x[b].e), 0);
    }
}

/* Q2_K: element 128h + 32j + 16i + l is bits 2j.. of qs[32h + 16i + l]; group (e / 16) has
 * scale d·(sc & 15) and min -dmin·(sc >> 4). */
static void dec_q2_K(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q2_K *x = w;
    for (int64_t b = 0; b < k / 256; b++, q += 256, s16 += 16, m16 += 16) {
        const float d = F32(x[b].d), dmin = F32(x[b].dmin);
        for (int e = 0; e < 256; e++)
            q[e] = (int8_t)((x[b].qs[32 * (e / 128) + e % 32] >> (2 * ((e / 32) % 4))) & 3);
        for (int g = 0; g < 16; g++) {
            s16[g] = d * (float)(x[b].scales[g] & 15);
            m16[g] = -(dmin * (float)(x[b].scales[g] >> 4));
        }
    }
}

/* The 6-bit signed scale j of Q3_K. */
static int q3_scale(const uint8_t *s, int j) {
    int lo = j < 8 ? s[j] & 0xf : s[j - 8] >> 4;
    return (lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

/* Q3_K: low bits as Q2_K; the high bit of element e is bit (e / 32) of hmask[e % 32], and
 * a clear bit subtracts 4. */
static void dec_q3_K(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q3_K *x = w;
    for (int64_t b = 0; b < k / 256; b++, q += 256, s16 += 16) {
        const float d = F32(x[b].d);
        for (int e = 0; e < 256; e++) {
            int lo = (x[b].qs[32 * (e / 128) + e % 32] >> (2 * ((e / 32) % 4))) & 3;
            q[e] = (int8_t)(lo - ((x[b].hmask[e % 32] >> (e / 32)) & 1 ? 0 : 4));
        }
        for (int g = 0; g < 16; g++) s16[g] = d * (float)q3_scale(x[b].scales, g);
    }
}

static void scale_min_k4(int j, const uint8_t *q, int *d, int *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* Q4_K / Q5_K: groups of 32 with scale d·sc and min -dmin·m. */
static void k45_scales(const uint8_t *scales, float d, float dmin, float *s16, float *m16) {
    for (int g = 0; g < 8; g++) {
        int sc, m;
        scale_min_k4(g, scales, &sc, &m);
        s16[2 * g] = s16[2 * g + 1] = d * (float)sc;
        m16[2 * g] = m16[2 * g + 1] = -(dmin * (float)m);
    }
}

static void dec_q4_K(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q4_K *x = w;
    for (int64_t b = 0; b < k / 256; b++, q += 256, s16 += 16, m16 += 16) {
        for (int p = 0; p < 4; p++)
            for (int l = 0; l < 32; l++) {
                q[64 * p + l] = (int8_t)(x[b].qs[32 * p + l] & 15);
                q[64 * p + 32 + l] = (int8_t)(x[b].qs[32 * p + l] >> 4);
            }
        k45_scales(x[b].scales, F32(x[b].d), F32(x[b].dmin), s16, m16);
    }
}

static void dec_q5_K(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q5_K *x = w;
    for (int64_t b = 0; b < k / 256; b++, q += 256, s16 += 16, m16 += 16) {
        for (int p = 0; p < 4; p++)
            for (int l = 0; l < 32; l++) {
                const uint8_t h = x[b].qh[l];
                q[64 * p + l] = (int8_t)((x[b].qs[32 * p + l] & 15) | (((h >> (2 * p)) & 1) << 4));
                q[64 * p + 32 + l] = (int8_t)((x[b].qs[32 * p + l] >> 4) | (((h >> (2 * p + 1)) & 1) << 4));
            }
        k45_scales(x[b].scales, F32(x[b].d), F32(x[b].dmin), s16, m16);
    }
}

/* Q6_K: per half h of 128, element 32j + l (j 0..3) takes the low/high nibble of
 * ql[64h + l + 32(j & 1)] (high for j >= 2) and bits 2j.. of qh[32h + l]; minus 32. */
static void dec_q6_K(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_q6_K *x = w;
    for (int64_t b = 0; b < k / 256; b++, q += 256, s16 += 16) {
        const float d = F32(x[b].d);
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 4; j++)
                for (int l = 0; l < 32; l++) {
                    const uint8_t lo = x[b].ql[64 * h + l + 32 * (j & 1)];
                    const int v = ((j < 2 ? lo & 15 : lo >> 4) | (((x[b].qh[32 * h + l] >> (2 * j)) & 3) << 4)) - 32;
                    q[128 * h + 32 * j + l] = (int8_t)v;
                }
        for (int g = 0; g < 16; g++) s16[g] = d * (float)x[b].scales[g];
    }
}

static void dec_iq4_xs(const void *w, int64_t k, int8_t *q, float *s16, float *m16) {
    const mlxn_block_iq4_xs *x = w;
    for (int64_t b = 0; b < k / 256; b++, q += 256, s16 += 16) {
        const float d = F32(x[b].d);
        for (int ib = 0; ib < 8; ib++) {
            const int ls = ((x[b].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((x[b].scales_h >> (2 * ib)) & 3) << 4);
            const uint8_t *qs = x[b].qs + 16 * ib;
            for (int j = 0; j < 16; j++) {
                q[32 * ib + j] = mlxn_kvalues_iq4nl[qs[j] & 15];
                q[32 * ib + j + 16] = mlxn_kvalues_iq4nl[qs[j] >> 4];
            }
            s16[2 * ib] = s16[2 * ib + 1] = d * (float)(ls - 32);
        }
    }
}

static const qmm_format formats[MLXN_TYPE_COUNT] = {
    [MLXN_TYPE_Q4_0] = {dec_q4_0, false},   [MLXN_TYPE_Q4_1] = {dec_q4_1, true},
    [MLXN_TYPE_Q5_0] = {dec_q5_0, false},   [MLXN_TYPE_Q5_1] = {dec_q5_1, true},
    [MLXN_TYPE_Q8_0] = {dec_q8_0, false},   [MLXN_TYPE_IQ4_NL] = {dec_iq4_nl, false},
    [MLXN_TYPE_MXFP4] = {dec_mxfp4, false}, [MLXN_TYPE_Q2_K] = {dec_q2_K, true},
    [MLXN_TYPE_Q3_K] = {dec_q3_K, false},   [MLXN_TYPE_Q4_K] = {dec_q4_K, true},
    [MLXN_TYPE_Q5_K] = {dec_q5_K, true},    [MLXN_TYPE_Q6_K] = {dec_q6_K, false},
    [MLXN_TYPE_IQ4_XS] = {dec_iq4_xs, false},
};

const qmm_format *qmm_scalar_format(mlxn_type t) {
    return (unsigned)t < MLXN_TYPE_COUNT && formats[t].decode ? &formats[t] : NULL;
}

void qmm_quantize_x(const float *x, int64_t k, int8_t *xq, float *xd, float *xs) {
    for (int64_t b = 0; b < k / 32; b++, x += 32, xq += 32) {
        float amax = 0.0f;
        bool nan = false;
        for (int j = 0; j < 32; j++) {
            const float a = fabsf(x[j]);
            nan |= a != a;
            amax = a > amax ? a : amax;
        }
        const float d = nan ? NAN : amax / 127.0f, id = d > 0.0f ? 127.0f / amax : 0.0f;
        int s0 = 0, s1 = 0;
        for (int j = 0; j < 32; j++) {
            int v = mlxn_nearest_int(isfinite(x[j]) ? x[j] * id : 0.0f);
            v = v > 127 ? 127 : v < -127 ? -127 : v;
            xq[j] = (int8_t)v;
            if (j < 16) s0 += v;
            else s1 += v;
        }
        xd[b] = d;
        xs[2 * b] = d * (float)s0;
        xs[2 * b + 1] = d * (float)s1;
    }
}

float qmm_dot_q8_scalar(const int8_t *wq, const float *s16, const float *m16, const int8_t *xq, const float *xd,
                        const float *xs, int64_t k) {
    float acc = 0.0f;
    for (int64_t b = 0; b < k / 32; b++) {
        int32_t i0 = 0, i1 = 0;
        for (int j = 0; j < 16; j++) i0 += wq[32 * b + j] * xq[32 * b + j];
        for (int j = 16; j < 32; j++) i1 += wq[32 * b + j] * xq[32 * b + j];
        acc += xd[b] * (s16[2 * b] * (float)i0 + s16[2 * b + 1] * (float)i1);
    }
    if (m16)
        for (int64_t g = 0; g < k / 16; g++) acc += m16[g] * xs[g];
    return acc;
}

float qmm_dot_f32_scalar(const float *w, const float *x, int64_t k) {
    float acc[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= k; i += 4)
        for (int j = 0; j < 4; j++) acc[j] += w[i + j] * x[i + j];
    for (; i < k; i++) acc[0] += w[i] * x[i];
    return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

void qmm_row_to_f32_scalar(mlxn_type t, const void *w, int64_t k, float *out) {
    const uint16_t *h = w;
    switch (t) {
    case MLXN_TYPE_F16:
        for (int64_t i = 0; i < k; i++) out[i] = mlxn_f16_to_f32(h[i]);
        break;
    case MLXN_TYPE_BF16:
        for (int64_t i = 0; i < k; i++) out[i] = mlxn_bf16_to_f32(h[i]);
        break;
    default:
        memcpy(out, w, sizeof(float) * (size_t)k);
    }
}
