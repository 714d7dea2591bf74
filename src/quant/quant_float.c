/* Float element rows: F32 (copy), F16 and BF16 (round to nearest even, as ggml's
 * ggml_fp32_to_fp16_row / ggml_fp32_to_bf16_row_ref), F64 (exact widening, rounding narrowing). */
#include <string.h>

#include "quant/half.h"
#include "quant/quant.h"

void mlxn_f32_to_float(const void *src, float *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void mlxn_f32_from_float(const float *src, void *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

/* The 16-bit rows are read and written with memcpy: the public API promises no alignment. */
void mlxn_f16_to_float(const void *src, float *dst, int64_t n) {
    const unsigned char *s = src;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        dst[i] = mlxn_f16_to_f32(h);
    }
}

void mlxn_f16_from_float(const float *src, void *dst, int64_t n) {
    unsigned char *d = dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = mlxn_f32_to_f16(src[i]);
        memcpy(d + 2 * i, &h, 2);
    }
}

void mlxn_bf16_to_float(const void *src, float *dst, int64_t n) {
    const unsigned char *s = src;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, s + 2 * i, 2);
        dst[i] = mlxn_bf16_to_f32(h);
    }
}

void mlxn_bf16_from_float(const float *src, void *dst, int64_t n) {
    unsigned char *d = dst;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = mlxn_f32_to_bf16(src[i]);
        memcpy(d + 2 * i, &h, 2);
    }
}

void mlxn_f64_to_float(const void *src, float *dst, int64_t n) {
    const unsigned char *s = src;
    for (int64_t i = 0; i < n; i++) {
        double v;
        memcpy(&v, s + 8 * i, 8);
        dst[i] = (float)v;
    }
}

void mlxn_f64_from_float(const float *src, void *dst, int64_t n) {
    unsigned char *d = dst;
    for (int64_t i = 0; i < n; i++) {
        double v = src[i];
        memcpy(d + 8 * i, &v, 8);
    }
}
