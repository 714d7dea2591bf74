/* Reference rows of the IQ formats: dequantization of the grid formats (IQ2_XXS, IQ2_XS,
 * IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M; their quantizers need an importance matrix and are
 * not here), and IQ4_XS both ways with the IQ4 scale search IQ4_NL shares. Bit-exact with
 * ggml's dequantize_row_* and quantize_iq4_xs / quantize_iq4_nl without an importance matrix. */
#include <math.h>
#include <string.h>

#include "quant/blocks.h"
#include "quant/half.h"
#include "quant/iq_tables.h"
#include "quant/iq1_tables.h"
#include "quant/quant.h"

#define F16(x) mlxn_f32_to_f16(x)
#define F32(h) mlxn_f16_to_f32(h)
#define QK MLXN_QK_K

/* Element j of a grid point (byte j, little-endian). */
static inline float grid8(uint64_t g, int j) { return (float)(uint8_t)(g >> (8 * j)); }
static inline float grid4(uint32_t g, int j) { return (float)(uint8_t)(g >> (8 * j)); }
static inline float grid1s(uint64_t g, int j) { return (float)(int8_t)(uint8_t)(g >> (8 * j)); }

/* -1 or +1: bit j of a sign byte. */
static inline float sign_of(uint8_t signs, int j) {
    return signs & mlxn_kmask_iq2xs[j] ? -1.f : 1.f;
}

static inline uint32_t load_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint16_t load_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}

/* ── IQ2_XXS: per 32, u32 a = 4 grid indices, u32 b = 4 × 7 sign bits + 4-bit scale ── */

void mlxn_iq2_xxs_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_iq2_xxs *x = src;
    for (int64_t i = 0; i < n / QK; i++) {
        const float d = F32(x[i].d);
        for (int ib = 0; ib < QK / 32; ib++) {
            uint32_t a = (uint32_t)x[i].qs[4 * ib] | ((uint32_t)x[i].qs[4 * ib + 1] << 16);
            uint32_t b = (uint32_t)x[i].qs[4 * ib + 2] | ((uint32_t)x[i].qs[4 * ib + 3] << 16);
            const float db = d * (0.5f + (float)(b >> 28)) * 0.25f;
            for (int l = 0; l < 4; l++, dst += 8) {
                const uint64_t g = mlxn_iq2xxs_grid[(a >> (8 * l)) & 255];
                const uint8_t s = mlxn_ksigns_iq2xs[(b >> (7 * l)) & 127];
                for (int j = 0; j < 8; j++) dst[j] = db * grid8(g, j) * sign_of(s, j);
            }
        }
    }
}

/* ── IQ2_XS: per 8, u16 = 9-bit grid index | 7 sign bits << 9; 4-bit scale per 16 ── */

void mlxn_iq2_xs_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_iq2_xs *x = src;
    for (int64_t i = 0; i < n / QK; i++) {
        const float d = F32(x[i].d);
        for (int ib = 0; ib < QK / 32; ib++) {
            const float db[2] = {d * (0.5f + (float)(x[i].scales[ib] & 0xf)) * 0.25f,
                                 d * (0.5f + (float)(x[i].scales[ib] >> 4)) * 0.25f};
            for (int l = 0; l < 4; l++, dst += 8) {
                const uint16_t q = x[i].qs[4 * ib + l];
                const uint64_t g = mlxn_iq2xs_grid[q & 511];
                const uint8_t s = mlxn_ksigns_iq2xs[q >> 9];
                for (int j = 0; j < 8; j++) dst[j] = db[l / 2] * grid8(g, j) * sign_of(s, j);
            }
        }
    }
}

/* ── IQ2_S: per 8, 10-bit index (qs + 2 bits of qh), 8 sign bits in qs[32..63] ── */

void mlxn_iq2_s_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_iq2_s *x = src;
    for (int64_t i = 0; i < n / QK; i++) {
        const float d = F32(x[i].d);
        const uint8_t *qs = x[i].qs, *signs = x[i].qs + QK / 8;
        for (int ib = 0; ib < QK / 32; ib++, qs += 4, signs += 4) {
            const float db[2] = {d * (0.5f + (float)(x[i].scales[ib] & 0xf)) * 0.25f,
                                 d * (0.5f + (float)(x[i].scales[ib] >> 4)) * 0.25f};
            for (int l = 0; l < 4; l++, dst += 8) {
                const int idx = qs[l] | ((x[i].qh[ib] << (8 - 2 * l)) & 0x300);
                const uint64_t g = mlxn_iq2s_grid[idx];
                for (int j = 0; j < 8; j++) dst[j] = db[l / 2] * grid8(g, j) * sign_of(signs[l], j);
            }
        }
    }
}

/* ── IQ3_XXS: per 4, 8-bit index; per 32 a u32 of 4 × 7 sign bits + 4-bit scale ── */

void mlxn_iq3_xxs_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_iq3_xxs *x = src;
    for (int64_t i = 0; i < n / QK; i++) {
        const float d = F32(x[i].d);
        const uint8_t *qs = x[i].qs, *sas = x[i].qs + QK / 4;
        for (int ib = 0; ib < QK / 32; ib++, qs += 8) {
            const uint32_t aux = load_u32(sas + 4 * ib);
            const float db = d * (0.5f + (float)(aux >> 28)) * 0.5f;
            for (int l = 0; l < 4; l++, dst += 8) {
                const uint8_t s = mlxn_ksigns_iq2xs[(aux >> (7 * l)) & 127];
                const uint32_t g1 = mlxn_iq3xxs_grid[qs[2 * l]];
                const uint32_t g2 = mlxn_iq3xxs_grid[qs[2 * l + 1]];
                for (int j = 0; j < 4; j++) {
                    dst[j] = db * grid4(g1, j) * sign_of(s, j);
                    dst[j + 4] = db * grid4(g2, j) * sign_of(s, j + 4);
                }
            }
        }
    }
}

/* ── IQ3_S: per 4, 9-bit index (qs + 1 bit of qh); 8 sign bits per 8; 4-bit odd scales ── */

void mlxn_iq3_s_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_iq3_s *x = src;
    for (int64_t i = 0; i < n / QK; i++) {
        const float d = F32(x[i].d);
        const uint8_t *qs = x[i].qs, *qh = x[i].qh, *signs = x[i].signs;
        for (int ib = 0; ib < QK / 32; ib++, qs += 8, signs += 4) {
            const uint8_t sc = x[i].scales[ib / 2];
            const float db = d * (float)(1 + 2 * (ib % 2 ? sc >> 4 : sc & 0xf));
            const int h = qh[ib];
            for (int l = 0; l < 4; l++, dst += 8) {
                const uint32_t g1 = mlxn_iq3s_grid[qs[2 * l] | ((h << (8 - 2 * l)) & 256)];
                const uint32_t g2 = mlxn_iq3s_grid[qs[2 * l + 1] | ((h << (7 - 2 * l)) & 256)];
                for (int j = 0; j < 4; j++) {
                    dst[j] = db * grid4(g1, j) * sign_of(signs[l], j);
                    dst[j + 4] = db * grid4(g2, j) * sign_of(signs[l], j + 4);
                }
            }
        }
    }
}

/* ── IQ1_S: x = d · (2s + 1) · (grid ± 0.125) ── */

void mlxn_iq1_s_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_iq1_s *x = src;
    for (int64_t i = 0; i < n / QK; i++) {
        const float d = F32(x[i].d);
        const uint8_t *qs = x[i].qs;
        for (int ib = 0; ib < QK / 32; ib++, qs += 4) {
            const unsigned qh = x[i].qh[ib];
            const float dl = d * (float)(2 * ((qh >> 12) & 7) + 1);
            const float delta = qh & 0x8000 ? -MLXN_IQ1S_DELTA : MLXN_IQ1S_DELTA;
            for (int l = 0; l < 4; l++, dst += 8) {
                const uint64_t g = mlxn_iq1s_grid[qs[l] | (((qh >> (3 * l)) & 7) << 8)];
                for (int j = 0; j < 8; j++) dst[j] = dl * (grid1s(g, j) + delta);
            }
        }
    }
}

/* ── IQ1_M: 3-bit scales per 16, fp16 super-scale in the top nibbles of scales ── */

void mlxn_iq1_m_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_iq1_m *x = src;
    for (int64_t i = 0; i < n / QK; i++) {
        uint16_t sc[4];
        for (int k = 0; k < 4; k++) sc[k] = load_u16(x[i].scales + 2 * k);
        const uint16_t dbits = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) |
                                          ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
        const float d = F32(dbits);
        const uint8_t *qs = x[i].qs, *qh = x[i].qh;
        for (int ib = 0; ib < QK / 32; ib++, qs += 4, qh += 2) {
            const int shift = 6 * (ib % 2);
            const float dl[2] = {d * (float)(2 * ((sc[ib / 2] >> shift) & 7) + 1),
                                 d * (float)(2 * ((sc[ib / 2] >> (shift + 3)) & 7) + 1)};
            for (int l = 0; l < 4; l++, dst += 8) {
                const int h = qh[l / 2] >> (4 * (l % 2)); /* index bits 8..10 and delta sign */
                const uint64_t g = mlxn_iq1s_grid[qs[l] | ((h & 7) << 8)];
                const float delta = h & 0x08 ? -MLXN_IQ1S_DELTA : MLXN_IQ1S_DELTA;
                for (int j = 0; j < 8; j++) dst[j] = dl[l / 2] * (grid1s(g, j) + delta);
            }
        }
    }
}

/* ── IQ4: non-linear 4-bit levels, shared by IQ4_NL (32) and IQ4_XS (256 = 8 × 32) ── */

/* Index of the level nearest x in the ascending kvalues_iq4nl; at an exact midpoint the upper
 * one (ggml's best_index_int8; the midpoint test is exact in float for these levels). */
static int iq4_best_index(float x) {
    const int8_t *v = mlxn_kvalues_iq4nl;
    if (x <= v[0]) return 0;
    if (x >= v[15]) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (x < v[mid]) hi = mid;
        else lo = mid;
    }
    return x - v[hi - 1] < v[hi] - x ? hi - 1 : hi;
}

/* Weighted (x²) least-squares scale of one block of 32 with a search over 2·ntry + 1 scales
 * around -max / -127; L receives the levels of the first fit. */
static float iq4_block_scale(const float *xb, uint8_t *L, int ntry) {
    const int8_t *values = mlxn_kvalues_iq4nl;
    float weight[32];
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++) {
        weight[j] = xb[j] * xb[j];
        float ax = fabsf(xb[j]);
        if (ax > amax) {
            amax = ax;
            max = xb[j];
        }
    }
    if (amax < 1e-15f) { /* ggml's GROUP_MAX_EPS: all zero */
        memset(L, 0, 32);
        return 0;
    }
    float d = ntry > 0 ? -max / (float)values[0] : max / (float)values[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < 32; j++) {
        int l = iq4_best_index(id * xb[j]);
        L[j] = (uint8_t)l;
        float q = values[l], w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; itry++) {
        id = (float)(itry + values[0]) / max;
        sumqx = sumq2 = 0;
        for (int j = 0; j < 32; j++) {
            float q = values[iq4_best_index(id * xb[j])], w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

void mlxn_iq4_quantize(int n_elems, const float *x, uint16_t *d_out, uint8_t *qs,
                       uint16_t *scales_h, uint8_t *scales_l, int ntry) {
    uint8_t L[QK];
    float scales[QK / 32];
    const int nb = n_elems / 32;
    float max_scale = 0, amax_scale = 0;
    for (int ib = 0; ib < nb; ib++) {
        scales[ib] = iq4_block_scale(x + 32 * ib, L + 32 * ib, ntry);
        if (fabsf(scales[ib]) > amax_scale) {
            amax_scale = fabsf(scales[ib]);
            max_scale = scales[ib];
        }
    }
    if (nb > 1) {
        /* 6-bit block scales l - 32 of a super-scale d; levels redone against d · l (the
         * fp32 d, as ggml) */
        const float d = -max_scale / 32;
        const float id = d ? 1 / d : 0.f;
        *d_out = F16(d);
        *scales_h = 0;
        for (int ib = 0; ib < nb; ib++) {
            int l = mlxn_nearest_int(id * scales[ib]);
            l = l < -32 ? -32 : l > 31 ? 31 : l;
            const float dl = d * (float)l;
            const float idl = dl ? 1 / dl : 0.f;
            for (int j = 0; j < 32; j++)
                L[32 * ib + j] = (uint8_t)iq4_best_index(idl * x[32 * ib + j]);
            l += 32;
            if (ib % 2 == 0) scales_l[ib / 2] = (uint8_t)(l & 0xf);
            else scales_l[ib / 2] |= (uint8_t)((l & 0xf) << 4);
            *scales_h |= (uint16_t)((l >> 4) << (2 * ib));
        }
    } else {
        *d_out = F16(scales[0]);
        if (ntry > 0) {
            const float id = scales[0] ? 1 / scales[0] : 0;
            for (int j = 0; j < 32; j++) L[j] = (uint8_t)iq4_best_index(id * x[j]);
        }
    }
    for (int ib = 0; ib < nb; ib++)
        for (int j = 0; j < 16; j++)
            qs[16 * ib + j] = (uint8_t)(L[32 * ib + j] | (L[32 * ib + 16 + j] << 4));
}

void mlxn_iq4_xs_from_float(const float *src, void *dst, int64_t n) {
    mlxn_block_iq4_xs *y = dst;
    for (int64_t i = 0; i < n / QK; i++, src += QK)
        mlxn_iq4_quantize(QK, src, &y[i].d, y[i].qs, &y[i].scales_h, y[i].scales_l, 7);
}

void mlxn_iq4_xs_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_iq4_xs *x = src;
    for (int64_t i = 0; i < n / QK; i++) {
        const float d = F32(x[i].d);
        const uint8_t *qs = x[i].qs;
        for (int ib = 0; ib < QK / 32; ib++, dst += 32, qs += 16) {
            const int ls = ((x[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) |
                           (((x[i].scales_h >> (2 * ib)) & 3) << 4);
            const float dl = d * (float)(ls - 32);
            for (int j = 0; j < 16; j++) {
                dst[j] = dl * (float)mlxn_kvalues_iq4nl[qs[j] & 0xf];
                dst[j + 16] = dl * (float)mlxn_kvalues_iq4nl[qs[j] >> 4];
            }
        }
    }
}
