/* fp16 and bf16 <-> fp32 on the host, bit-exact with ggml's reference conversions:
 * round to nearest even, subnormals kept, NaN stays NaN. Header-only, C. */
#ifndef MLXN_QUANT_HALF_H
#define MLXN_QUANT_HALF_H

#include <stdint.h>
#include <string.h>

static inline uint32_t mlxn_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float mlxn_bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline float mlxn_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) return mlxn_bits_f32(sign | 0x7f800000u | (man << 13)); /* inf, NaN */
    if (exp == 0) {
        /* zero or subnormal: man · 2^-24, exact in fp32 */
        float v = (float)man * 5.9604644775390625e-08f;
        return sign ? -v : v;
    }
    return mlxn_bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

static inline uint16_t mlxn_f32_to_f16(float f) {
    uint32_t x = mlxn_f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x3ff)); /* NaN */
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520: inf */
    if (ax < 0x38800000u) {
        /* below the smallest normal half (2^-14): subnormal, rounded to nearest even
         * by adding 0.5 (2^-1) so the FPU's own rounding of the sum does it. */
        float v = mlxn_bits_f32(ax) + 0.5f;
        return (uint16_t)(sign | (uint16_t)(mlxn_f32_bits(v) - 0x3f000000u));
    }
    uint32_t odd = (ax >> 13) & 1;
    ax += 0xc8000fffu + odd; /* rebias exponent (-112 << 23) and round to nearest even */
    return (uint16_t)(sign | (ax >> 13));
}

static inline float mlxn_bf16_to_f32(uint16_t h) { return mlxn_bits_f32((uint32_t)h << 16); }

static inline uint16_t mlxn_f32_to_bf16(float f) {
    uint32_t u = mlxn_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 64); /* quiet NaN */
    return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

#endif
