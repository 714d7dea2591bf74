/* Float32 views of F32/F16/BF16 arrays for the CPU row ops (norm, rope, softmax, act): load a
 * run of elements widened to float, store a run rounded to nearest even; and a summation in
 * 16 fixed lanes, so a long row's sum is accurate and the same on every run. */
#ifndef MLXN_CPU_ROWIO_H
#define MLXN_CPU_ROWIO_H

#include <stdint.h>
#include "mlxn.h"
#include "quant/half.h"

/* out[0..n) = src[i0 .. i0+n) as float */
static inline void rowio_load(mlxn_type t, const void *src, int64_t i0, float *out, int64_t n) {
    if (t == MLXN_TYPE_F16) {
        const uint16_t *p = (const uint16_t *)src + i0;
        for (int64_t i = 0; i < n; i++) out[i] = mlxn_f16_to_f32(p[i]);
    } else if (t == MLXN_TYPE_BF16) {
        const uint16_t *p = (const uint16_t *)src + i0;
        for (int64_t i = 0; i < n; i++) out[i] = mlxn_bf16_to_f32(p[i]);
    } else {
        const float *p = (const float *)src + i0;
        for (int64_t i = 0; i < n; i++) out[i] = p[i];
    }
}

/* dst[i0 .. i0+n) = in[0..n) rounded to t */
static inline void rowio_store(mlxn_type t, void *dst, int64_t i0, const float *in, int64_t n) {
    if (t == MLXN_TYPE_F16) {
        uint16_t *p = (uint16_t *)dst + i0;
        for (int64_t i = 0; i < n; i++) p[i] = mlxn_f32_to_f16(in[i]);
    } else if (t == MLXN_TYPE_BF16) {
        uint16_t *p = (uint16_t *)dst + i0;
        for (int64_t i = 0; i < n; i++) p[i] = mlxn_f32_to_bf16(in[i]);
    } else {
        float *p = (float *)dst + i0;
        for (int64_t i = 0; i < n; i++) p[i] = in[i];
    }
}

#define ROWIO_LANES 16

/* lanes[i mod 16] += v[i]: sixteen independent sums (they vectorize without reassociation). */
static inline void rowio_accumulate(float lanes[ROWIO_LANES], const float *v, int64_t n) {
    int64_t i = 0;
    for (; i + ROWIO_LANES <= n; i += ROWIO_LANES)
        for (int k = 0; k < ROWIO_LANES; k++) lanes[k] += v[i + k];
    for (int k = 0; i < n; i++, k++) lanes[k] += v[i];
}

/* The lanes' total, added pairwise. */
static inline float rowio_total(const float lanes[ROWIO_LANES]) {
    float t[ROWIO_LANES];
    for (int k = 0; k < ROWIO_LANES; k++) t[k] = lanes[k];
    for (int w = ROWIO_LANES / 2; w > 0; w /= 2)
        for (int k = 0; k < w; k++) t[k] += t[k + w];
    return t[0];
}

#endif
