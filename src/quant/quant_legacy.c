/* Reference rows of the 32-element block formats: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, IQ4_NL,
 * MXFP4. Same arithmetic, in the same float order, as ggml's quantize_row_*_ref and
 * dequantize_row_* (IQ4_NL: as ggml_quantize_chunk without an importance matrix). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "quant/blocks.h"
#include "quant/half.h"
#include "quant/quant.h"

#define F16(x) mlxn_f32_to_f16(x)
#define F32(h) mlxn_f16_to_f32(h)

static inline int min_int(int a, int b) { return a < b ? a : b; }

/* The element of largest magnitude, keeping its sign; the first one on ties. */
static float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, int n, float *mn, float *mx) {
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

static float absmax(const float *x, int n) {
    float amax = 0.0f;
    for (int j = 0; j < n; j++) {
        float a = fabsf(x[j]);
        amax = amax > a ? amax : a;
    }
    return amax;
}

/* ── Q4_0: d = max / -8, q = trunc(x / d + 8.5) clamped to 15 ── */

void mlxn_q4_0_from_float(const float *src, void *dst, int64_t n) {
    mlxn_block_q4_0 *y = dst;
    for (int64_t i = 0; i < n / MLXN_QK4_0; i++, src += MLXN_QK4_0) {
        const float d = signed_absmax(src, MLXN_QK4_0) / -8;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = F16(d);
        for (int j = 0; j < MLXN_QK4_0 / 2; j++) {
            /* ggml converts to int8_t before the clamp */
            int q0 = min_int(15, (int8_t)mlxn_trunc_int(src[j] * id + 8.5f));
            int q1 = min_int(15, (int8_t)mlxn_trunc_int(src[j + 16] * id + 8.5f));
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void mlxn_q4_0_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_q4_0 *x = src;
    for (int64_t i = 0; i < n / MLXN_QK4_0; i++, dst += MLXN_QK4_0) {
        const float d = F32(x[i].d);
        for (int j = 0; j < 16; j++) {
            dst[j] = (float)((x[i].qs[j] & 0x0f) - 8) * d;
            dst[j + 16] = (float)((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

/* ── Q4_1: d = (max - min) / 15, m = min, q = trunc((x - min) / d + 0.5) clamped to 15 ── */

void mlxn_q4_1_from_float(const float *src, void *dst, int64_t n) {
    mlxn_block_q4_1 *y = dst;
    for (int64_t i = 0; i < n / MLXN_QK4_1; i++, src += MLXN_QK4_1) {
        float mn, mx;
        min_max(src, MLXN_QK4_1, &mn, &mx);
        const float d = (mx - mn) / 15;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = F16(d);
        y[i].m = F16(mn);
        for (int j = 0; j < 16; j++) {
            int q0 = min_int(15, (int8_t)mlxn_trunc_int((src[j] - mn) * id + 0.5f));
            int q1 = min_int(15, (int8_t)mlxn_trunc_int((src[j + 16] - mn) * id + 0.5f));
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void mlxn_q4_1_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_q4_1 *x = src;
    for (int64_t i = 0; i < n / MLXN_QK4_1; i++, dst += MLXN_QK4_1) {
        const float d = F32(x[i].d), m = F32(x[i].m);
        for (int j = 0; j < 16; j++) {
            dst[j] = (float)(x[i].qs[j] & 0x0f) * d + m;
            dst[j + 16] = (float)(x[i].qs[j] >> 4) * d + m;
        }
    }
}

/* ── Q5_0: d = max / -16, q = trunc(x / d + 16.5) clamped to 31 ── */

void mlxn_q5_0_from_float(const float *src, void *dst, int64_t n) {
    mlxn_block_q5_0 *y = dst;
    for (int64_t i = 0; i < n / MLXN_QK5_0; i++, src += MLXN_QK5_0) {
        const float d = signed_absmax(src, MLXN_QK5_0) / -16;
        const float id = d ? 1.0f / d : 0.0f;
        uint32_t qh = 0;
        y[i].d = F16(d);
        for (int j = 0; j < 16; j++) {
            unsigned q0 = (uint8_t)min_int(31, (int8_t)mlxn_trunc_int(src[j] * id + 16.5f));
            unsigned q1 = (uint8_t)min_int(31, (int8_t)mlxn_trunc_int(src[j + 16] * id + 16.5f));
            y[i].qs[j] = (uint8_t)((q0 & 0x0f) | ((q1 & 0x0f) << 4));
            qh |= ((q0 >> 4) & 1u) << j;
            qh |= ((q1 >> 4) & 1u) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

void mlxn_q5_0_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_q5_0 *x = src;
    for (int64_t i = 0; i < n / MLXN_QK5_0; i++, dst += MLXN_QK5_0) {
        const float d = F32(x[i].d);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            int q0 = (int)((x[i].qs[j] & 0x0f) | (((qh >> j) & 1u) << 4));
            int q1 = (int)((x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4));
            dst[j] = (float)(q0 - 16) * d;
            dst[j + 16] = (float)(q1 - 16) * d;
        }
    }
}

/* ── Q5_1: d = (max - min) / 31, m = min, q = trunc((x - min) / d + 0.5) ── */

void mlxn_q5_1_from_float(const float *src, void *dst, int64_t n) {
    mlxn_block_q5_1 *y = dst;
    for (int64_t i = 0; i < n / MLXN_QK5_1; i++, src += MLXN_QK5_1) {
        float mn, mx;
        min_max(src, MLXN_QK5_1, &mn, &mx);
        const float d = (mx - mn) / 31;
        const float id = d ? 1.0f / d : 0.0f;
        uint32_t qh = 0;
        y[i].d = F16(d);
        y[i].m = F16(mn);
        for (int j = 0; j < 16; j++) {
            /* ggml takes (uint8_t) of the float without a clamp; (x - min) · id <= 31 here */
            unsigned q0 = (uint8_t)mlxn_trunc_int((src[j] - mn) * id + 0.5f);
            unsigned q1 = (uint8_t)mlxn_trunc_int((src[j + 16] - mn) * id + 0.5f);
            y[i].qs[j] = (uint8_t)((q0 & 0x0f) | ((q1 & 0x0f) << 4));
            qh |= ((q0 >> 4) & 1u) << j;
            qh |= ((q1 >> 4) & 1u) << (j + 16);
        }
        memcpy(y[i].qh, &qh, 4);
    }
}

void mlxn_q5_1_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_q5_1 *x = src;
    for (int64_t i = 0; i < n / MLXN_QK5_1; i++, dst += MLXN_QK5_1) {
        const float d = F32(x[i].d), m = F32(x[i].m);
        uint32_t qh;
        memcpy(&qh, x[i].qh, 4);
        for (int j = 0; j < 16; j++) {
            int q0 = (int)((x[i].qs[j] & 0x0f) | (((qh >> j) & 1u) << 4));
            int q1 = (int)((x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4));
            dst[j] = (float)q0 * d + m;
            dst[j + 16] = (float)q1 * d + m;
        }
    }
}

/* ── Q8_0: d = absmax / 127, q = roundf(x / d) (half away from zero) ── */

void mlxn_q8_0_from_float(const float *src, void *dst, int64_t n) {
    mlxn_block_q8_0 *y = dst;
    for (int64_t i = 0; i < n / MLXN_QK8_0; i++, src += MLXN_QK8_0) {
        const float d = absmax(src, MLXN_QK8_0) / 127;
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = F16(d);
        for (int j = 0; j < MLXN_QK8_0; j++)
            y[i].qs[j] = (int8_t)mlxn_trunc_int(roundf(src[j] * id));
    }
}

void mlxn_q8_0_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_q8_0 *x = src;
    for (int64_t i = 0; i < n / MLXN_QK8_0; i++, dst += MLXN_QK8_0) {
        const float d = F32(x[i].d);
        for (int j = 0; j < MLXN_QK8_0; j++) dst[j] = (float)x[i].qs[j] * d;
    }
}

/* ── Q8_1: Q8_0 plus s = fp16(Σq · d) ── */

void mlxn_q8_1_from_float(const float *src, void *dst, int64_t n) {
    mlxn_block_q8_1 *y = dst;
    for (int64_t i = 0; i < n / MLXN_QK8_1; i++, src += MLXN_QK8_1) {
        const float d = absmax(src, MLXN_QK8_1) / 127;
        const float id = d ? 1.0f / d : 0.0f;
        int sum = 0;
        y[i].d = F16(d);
        for (int j = 0; j < MLXN_QK8_1; j++) {
            y[i].qs[j] = (int8_t)mlxn_trunc_int(roundf(src[j] * id));
            sum += y[i].qs[j];
        }
        y[i].s = F16((float)sum * d);
    }
}

void mlxn_q8_1_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_q8_1 *x = src;
    for (int64_t i = 0; i < n / MLXN_QK8_1; i++, dst += MLXN_QK8_1) {
        const float d = F32(x[i].d);
        for (int j = 0; j < MLXN_QK8_1; j++) dst[j] = (float)x[i].qs[j] * d;
    }
}

/* ── IQ4_NL: x = d · kvalues_iq4nl[q]; the scale search lives with IQ4_XS's in quant_iq.c ── */

void mlxn_iq4_nl_from_float(const float *src, void *dst, int64_t n) {
    mlxn_block_iq4_nl *y = dst;
    /* ntry 7: what ggml_quantize_chunk (llama-quantize) runs; ggml's quantize_row_iq4_nl_ref
     * alone skips the search (ntry -1) and gives other bytes. */
    for (int64_t i = 0; i < n / MLXN_QK4_NL; i++, src += MLXN_QK4_NL)
        mlxn_iq4_quantize(MLXN_QK4_NL, src, &y[i].d, y[i].qs, NULL, NULL, 7);
}

void mlxn_iq4_nl_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_iq4_nl *x = src;
    for (int64_t i = 0; i < n / MLXN_QK4_NL; i++, dst += MLXN_QK4_NL) {
        const float d = F32(x[i].d);
        for (int j = 0; j < 16; j++) {
            dst[j] = d * (float)mlxn_kvalues_iq4nl[x[i].qs[j] & 0x0f];
            dst[j + 16] = d * (float)mlxn_kvalues_iq4nl[x[i].qs[j] >> 4];
        }
    }
}

/* ── MXFP4: shared exponent e = floor(log2(absmax)) - 2 + 127, nearest E2M1 value ── */

/* 2^(e - 128), i.e. half the E8M0 scale, as the doubled kvalues_mxfp4 want; e < 2 subnormal. */
static float e8m0_half(uint8_t e) {
    uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
    return mlxn_bits_f32(bits);
}

/* The first of the nearest levels (strict <: index 0 wins over -0 at index 8). */
static int mxfp4_best(float x, float d) {
    int best = 0;
    float best_err = fabsf((float)mlxn_kvalues_mxfp4[0] * d - x);
    for (int k = 1; k < 16; k++) {
        float err = fabsf((float)mlxn_kvalues_mxfp4[k] * d - x);
        if (err < best_err) {
            best = k;
            best_err = err;
        }
    }
    return best;
}

void mlxn_mxfp4_from_float(const float *src, void *dst, int64_t n) {
    mlxn_block_mxfp4 *y = dst;
    for (int64_t i = 0; i < n / MLXN_QK_MXFP4; i++, src += MLXN_QK_MXFP4) {
        float amax = 0.0f;
        for (int j = 0; j < MLXN_QK_MXFP4; j++)
            if (amax < fabsf(src[j])) amax = fabsf(src[j]);
        /* log2f, as ggml: for amax just under a power of two it may round up, and the
         * exponent must follow it */
        const uint8_t e = amax > 0.0f ? (uint8_t)mlxn_trunc_int(floorf(log2f(amax)) - 2 + 127) : 0;
        const float d = e8m0_half(e);
        y[i].e = e;
        for (int j = 0; j < 16; j++) {
            int q0 = mxfp4_best(src[j], d);
            int q1 = mxfp4_best(src[j + 16], d);
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void mlxn_mxfp4_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_mxfp4 *x = src;
    for (int64_t i = 0; i < n / MLXN_QK_MXFP4; i++, dst += MLXN_QK_MXFP4) {
        const float d = e8m0_half(x[i].e);
        for (int j = 0; j < 16; j++) {
            dst[j] = (float)mlxn_kvalues_mxfp4[x[i].qs[j] & 0x0f] * d;
            dst[j + 16] = (float)mlxn_kvalues_mxfp4[x[i].qs[j] >> 4] * d;
        }
    }
}
