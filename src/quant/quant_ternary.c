/* Reference rows of the ternary formats TQ1_0 and TQ2_0 (x = d · t, t in {-1, 0, 1},
 * d = absmax): ggml's quantize_row_tq*_ref and dequantize_row_tq*. */
#include <math.h>

#include "quant/blocks.h"
#include "quant/half.h"
#include "quant/quant.h"

#define QK MLXN_QK_K

static float absmax(const float *x, int n) {
    float amax = 0.0f;
    for (int j = 0; j < n; j++) {
        float a = fabsf(x[j]);
        amax = amax > a ? amax : a;
    }
    return amax;
}

/* t + 1 in {0, 1, 2}; lroundf rounds halves away from zero, as ggml. */
static inline unsigned trit(float x, float id) { return (unsigned)(lroundf(x * id) + 1); }

/* k trits (first most significant) as a byte: the base-3 number scaled by 256/243 and
 * rounded up, so that the top trit can be read back as (byte · 3) >> 8. */
static uint8_t pack_trits(uint8_t q) { return (uint8_t)((q * 256u + 242) / 243); }

/* Trit n of a packed byte: multiply by 3^n mod 256 to bring it to the top, then (· 3) >> 8. */
static inline float unpack_trit(uint8_t b, int n, float d) {
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    uint8_t q = (uint8_t)(b * pow3[n]);
    return (float)((int)((q * 3u) >> 8) - 1) * d;
}

/* TQ1_0 layout of 256: qs[0..31] hold elements [32·t + m] (t = 0..4) of the first 160,
 * qs[32..47] elements [16·t + m] of the next 80, qh[0..3] elements [4·t + j] of the last 16
 * (4 trits, shifted up one place). */
void mlxn_tq1_0_from_float(const float *src, void *dst, int64_t n) {
    mlxn_block_tq1_0 *y = dst;
    for (int64_t i = 0; i < n / QK; i++) {
        const float *x = src + i * QK;
        const float d = absmax(x, QK);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = mlxn_f32_to_f16(d);
        for (int m = 0; m < 32; m++) {
            uint8_t q = 0; /* 8-bit arithmetic, as ggml: wraps only for non-ternary input */
            for (int t = 0; t < 5; t++) q = (uint8_t)(q * 3 + trit(x[m + 32 * t], id));
            y[i].qs[m] = pack_trits(q);
        }
        x += 160;
        for (int m = 0; m < 16; m++) {
            uint8_t q = 0;
            for (int t = 0; t < 5; t++) q = (uint8_t)(q * 3 + trit(x[m + 16 * t], id));
            y[i].qs[32 + m] = pack_trits(q);
        }
        x += 80;
        for (int j = 0; j < 4; j++) {
            uint8_t q = 0;
            for (int t = 0; t < 4; t++) q = (uint8_t)(q * 3 + trit(x[j + 4 * t], id));
            y[i].qh[j] = pack_trits((uint8_t)(q * 3));
        }
    }
}

void mlxn_tq1_0_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_tq1_0 *x = src;
    for (int64_t i = 0; i < n / QK; i++) {
        const float d = mlxn_f16_to_f32(x[i].d);
        for (int t = 0; t < 5; t++)
            for (int m = 0; m < 32; m++) *dst++ = unpack_trit(x[i].qs[m], t, d);
        for (int t = 0; t < 5; t++)
            for (int m = 0; m < 16; m++) *dst++ = unpack_trit(x[i].qs[32 + m], t, d);
        for (int t = 0; t < 4; t++)
            for (int j = 0; j < 4; j++) *dst++ = unpack_trit(x[i].qh[j], t, d);
    }
}

/* TQ2_0: byte 32·h + m holds elements 128·h + 32·k + m (k = 0..3) in bits 2k, as t + 1. */
void mlxn_tq2_0_from_float(const float *src, void *dst, int64_t n) {
    mlxn_block_tq2_0 *y = dst;
    for (int64_t i = 0; i < n / QK; i++) {
        const float *x = src + i * QK;
        const float d = absmax(x, QK);
        const float id = d ? 1.0f / d : 0.0f;
        y[i].d = mlxn_f32_to_f16(d);
        for (int h = 0; h < 2; h++, x += 128) {
            for (int m = 0; m < 32; m++) {
                unsigned q = 0;
                for (int k = 0; k < 4; k++) q |= (trit(x[m + 32 * k], id) & 3) << (2 * k);
                y[i].qs[32 * h + m] = (uint8_t)q;
            }
        }
    }
}

void mlxn_tq2_0_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_tq2_0 *x = src;
    for (int64_t i = 0; i < n / QK; i++) {
        const float d = mlxn_f16_to_f32(x[i].d);
        for (int h = 0; h < 2; h++)
            for (int k = 0; k < 4; k++)
                for (int m = 0; m < 32; m++)
                    *dst++ = (float)((int)((x[i].qs[32 * h + m] >> (2 * k)) & 3) - 1) * d;
    }
}
