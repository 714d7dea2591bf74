/* Reference rows of the K-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K): ggml's
 * quantize_row_*_ref without an importance matrix and dequantize_row_*, step for step. The
 * scale searches compare floats, so every sum is accumulated in ggml's order. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "quant/blocks.h"
#include "quant/half.h"
#include "quant/quant.h"

#define F16(x) mlxn_f32_to_f16(x)
#define F32(h) mlxn_f16_to_f32(h)
#define QK MLXN_QK_K

/* Below this a group counts as all zero (ggml's GROUP_MAX_EPS). */
#define GROUP_MAX_EPS 1e-15f

static inline int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Symmetric scale for n values on levels -nmax..nmax-1, weights x² (ggml's make_qx_quants,
 * rmse_type 1, no importance): a least-squares fit at iscale = -nmax / max, then 18 nearby
 * iscales, keeping the best. L[i] = level + nmax. Returns the scale. */
static float fit_symmetric(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = (float)-nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clamp_int(mlxn_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -((float)nmax + 0.1f * (float)is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = clamp_int(mlxn_nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sumlx += w * x[i] * (float)l;
            suml2 += w * (float)l * (float)l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++)
                L[i] = (int8_t)(nmax + clamp_int(mlxn_nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Q3_K's group fit (ggml's make_q3_quants with rmse): start at iscale = -nmax / max, then up
 * to 5 passes moving single elements to the level that improves the weighted fit. */
static float fit_q3(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    const float iscale = (float)-nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clamp_int(mlxn_nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * (float)L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * (float)L[i] * (float)L[i];
                int nl = clamp_int(mlxn_nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
                if (nl != L[i]) {
                    slx += w * x[i] * (float)nl;
                    sl2 += w * (float)nl * (float)nl;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)nl;
                        sumlx = slx;
                        suml2 = sl2;
                        changed++;
                    }
                }
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Scale and min for n values on levels 0..nmax, x ≈ scale · L + min with min <= 0 (ggml's
 * make_qkx2_quants): weighted error (|d| if use_mad, else d²) of the plain min/max fit, then
 * nstep + 1 least-squares fits at iscale = (rmin + rdelta · is + nmax) / (max - min).
 * Returns the scale; *neg_min = -min (>= 0). */
static float fit_affine(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                        float *neg_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                        bool use_mad) {
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *neg_min = -min;
        return 0.f;
    }
    float iscale = (float)nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        int l = mlxn_nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)clamp_int(l, 0, nmax);
        float diff = scale * (float)L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_error += weights[i] * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clamp_int(mlxn_nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * (float)l;
            sum_l2 += w * (float)l * (float)l;
            sum_xl += w * (float)l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * (float)Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                cur_error += weights[i] * diff;
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *neg_min = -min;
    return scale;
}

/* Q4_K / Q5_K scales: 6-bit scale j and min j of 8, packed into 12 bytes. */
static void get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

static void put_scale_min_k4(int j, uint8_t *q, uint8_t ls, uint8_t lm) {
    if (j < 4) {
        q[j] = ls;
        q[j + 4] = lm;
    } else {
        q[j + 4] = (uint8_t)((ls & 0xf) | ((lm & 0xf) << 4));
        q[j - 4] |= (uint8_t)((ls >> 4) << 6);
        q[j] |= (uint8_t)((lm >> 4) << 6);
    }
}

/* Q3_K's 6-bit scale j of 16 (biased by 32): low 4 bits in bytes 0..7, high 2 in 8..11. */
static int q3_scale(const uint8_t *s, int j) {
    int lo = j < 8 ? s[j] & 0xf : s[j - 8] >> 4;
    return (lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

/* Q2_K and Q3_K share this layout: 2-bit L[j + l + 32k] in bits 2k of qs[j/4 + l]. */
static void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int j = 0; j < QK; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                                      (L[j + l + 96] << 6));
}

/* ── Q2_K ── */

void mlxn_q2_K_from_float(const float *src, void *dst, int64_t n) {
    mlxn_block_q2_K *y = dst;
    const float q4scale = 15.f;
    uint8_t L[QK], Laux[16];
    float weights[16], mins[QK / 16], scales[QK / 16];
    for (int64_t i = 0; i < n / QK; i++, src += QK) {
        const float *x = src;
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < QK / 16; j++) {
            for (int l = 0; l < 16; l++) weights[l] = fabsf(x[16 * j + l]);
            scales[j] = fit_affine(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f,
                                   0.1f, 15, true);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        if (max_scale > 0) {
            float iscale = q4scale / max_scale;
            for (int j = 0; j < QK / 16; j++)
                y[i].scales[j] = (uint8_t)mlxn_nearest_int(iscale * scales[j]);
            y[i].d = F16(max_scale / q4scale);
        } else {
            memset(y[i].scales, 0, sizeof y[i].scales);
            y[i].d = F16(0.f);
        }
        if (max_min > 0) {
            float iscale = q4scale / max_min;
            for (int j = 0; j < QK / 16; j++)
                y[i].scales[j] |= (uint8_t)(mlxn_nearest_int(iscale * mins[j]) << 4);
            y[i].dmin = F16(max_min / q4scale);
        } else {
            y[i].dmin = F16(0.f);
        }
        /* requantize against the fp16-rounded scales; a zero-scale group keeps the fit's L */
        for (int j = 0; j < QK / 16; j++) {
            const float d = F32(y[i].d) * (float)(y[i].scales[j] & 0xf);
            if (!d) continue;
            const float dm = F32(y[i].dmin) * (float)(y[i].scales[j] >> 4);
            for (int ii = 0; ii < 16; ii++) {
                int l = mlxn_nearest_int((x[16 * j + ii] + dm) / d);
                L[16 * j + ii] = (uint8_t)clamp_int(l, 0, 3);
            }
        }
        pack_2bit(L, y[i].qs);
    }
}

void mlxn_q2_K_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_q2_K *x = src;
    for (int64_t i = 0; i < n / QK; i++) {
        const float d = F32(x[i].d), min = F32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        int is = 0;
        for (int half = 0; half < 2; half++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int k = 0; k < 2; k++) {
                    const uint8_t sc = x[i].scales[is++];
                    const float dl = d * (float)(sc & 0xf), ml = min * (float)(sc >> 4);
                    for (int l = 0; l < 16; l++)
                        *dst++ = dl * (float)((q[16 * k + l] >> shift) & 3) - ml;
                }
            }
        }
    }
}

/* ── Q3_K ── */

void mlxn_q3_K_from_float(const float *src, void *dst, int64_t n) {
    mlxn_block_q3_K *y = dst;
    int8_t L[QK];
    float scales[QK / 16];
    for (int64_t i = 0; i < n / QK; i++, src += QK) {
        const float *x = src;
        float max_scale = 0, amax = 0;
        for (int j = 0; j < QK / 16; j++) {
            scales[j] = fit_q3(16, 4, x + 16 * j, L + 16 * j);
            float scale = fabsf(scales[j]);
            if (scale > amax) {
                amax = scale;
                max_scale = scales[j];
            }
        }
        memset(y[i].scales, 0, 12);
        if (max_scale) {
            float iscale = -32.f / max_scale;
            for (int j = 0; j < QK / 16; j++) {
                int l = clamp_int((int8_t)mlxn_nearest_int(iscale * scales[j]), -32, 31) + 32;
                if (j < 8) y[i].scales[j] = (uint8_t)(l & 0xf);
                else y[i].scales[j - 8] |= (uint8_t)((l & 0xf) << 4);
                y[i].scales[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
            }
            y[i].d = F16(1 / iscale);
        } else {
            y[i].d = F16(0.f);
        }
        for (int j = 0; j < QK / 16; j++) {
            const float d = F32(y[i].d) * (float)q3_scale(y[i].scales, j);
            if (!d) continue;
            for (int ii = 0; ii < 16; ii++) {
                int l = mlxn_nearest_int(x[16 * j + ii] / d);
                L[16 * j + ii] = (int8_t)(clamp_int(l, -4, 3) + 4);
            }
        }
        /* bit 2 of L[j] goes to hmask[j % 32], bit j / 32 */
        memset(y[i].hmask, 0, sizeof y[i].hmask);
        uint8_t L2[QK];
        for (int j = 0; j < QK; j++) {
            if (L[j] > 3) {
                y[i].hmask[j % 32] |= (uint8_t)(1u << (j / 32));
                L[j] -= 4;
            }
            L2[j] = (uint8_t)L[j];
        }
        pack_2bit(L2, y[i].qs);
    }
}

void mlxn_q3_K_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_q3_K *x = src;
    for (int64_t i = 0; i < n / QK; i++) {
        const float d_all = F32(x[i].d);
        const uint8_t *q = x[i].qs, *hm = x[i].hmask;
        unsigned m = 1;
        int is = 0;
        for (int half = 0; half < 2; half++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
                for (int k = 0; k < 2; k++) {
                    const float dl = d_all * (float)q3_scale(x[i].scales, is++);
                    for (int l = 0; l < 16; l++) {
                        int v = ((q[16 * k + l] >> shift) & 3) - ((hm[16 * k + l] & m) ? 0 : 4);
                        *dst++ = dl * (float)v;
                    }
                }
            }
        }
    }
}

/* ── Q4_K and Q5_K: 8 groups of 32, affine fit per group, 6-bit scales and mins ── */

/* Shared front half: fits, packs scales into y_scales, sets *d / *dmin, and leaves the
 * levels (0..nmax) in L, requantized against the fp16 scales. */
static void q45_K_levels(const float *x, int nmax, float rmin, int nstep, uint8_t *y_scales,
                         uint16_t *yd, uint16_t *ydmin, uint8_t *L) {
    uint8_t Laux[32];
    float weights[32], mins[QK / 32], scales[QK / 32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK / 32; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = fit_affine(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin,
                               0.1f, nstep, false);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < QK / 32; j++) {
        /* ggml stores nearest_int in a uint8_t before the clamp to 63 */
        uint8_t ls = (uint8_t)mlxn_nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)mlxn_nearest_int(inv_min * mins[j]);
        put_scale_min_k4(j, y_scales, ls < 63 ? ls : 63, lm < 63 ? lm : 63);
    }
    *yd = F16(max_scale / 63.f);
    *ydmin = F16(max_min / 63.f);
    for (int j = 0; j < QK / 32; j++) {
        uint8_t sc, m;
        get_scale_min_k4(j, y_scales, &sc, &m);
        const float d = F32(*yd) * (float)sc;
        if (!d) continue;
        const float dm = F32(*ydmin) * (float)m;
        for (int ii = 0; ii < 32; ii++) {
            int l = mlxn_nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = (uint8_t)clamp_int(l, 0, nmax);
        }
    }
}

void mlxn_q4_K_from_float(const float *src, void *dst, int64_t n) {
    mlxn_block_q4_K *y = dst;
    uint8_t L[QK];
    for (int64_t i = 0; i < n / QK; i++, src += QK) {
        q45_K_levels(src, 15, -1.f, 20, y[i].scales, &y[i].d, &y[i].dmin, L);
        uint8_t *q = y[i].qs;
        for (int j = 0; j < QK; j += 64, q += 32)
            for (int l = 0; l < 32; l++) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

void mlxn_q4_K_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_q4_K *x = src;
    for (int64_t i = 0; i < n / QK; i++) {
        const float d = F32(x[i].d), min = F32(x[i].dmin);
        const uint8_t *q = x[i].qs;
        for (int is = 0; is < 8; is += 2, q += 32) {
            uint8_t sc, m;
            get_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = min * (float)m;
            get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = min * (float)m;
            for (int l = 0; l < 32; l++) *dst++ = d1 * (float)(q[l] & 0xf) - m1;
            for (int l = 0; l < 32; l++) *dst++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

void mlxn_q5_K_from_float(const float *src, void *dst, int64_t n) {
    mlxn_block_q5_K *y = dst;
    uint8_t L[QK];
    for (int64_t i = 0; i < n / QK; i++, src += QK) {
        q45_K_levels(src, 31, -0.5f, 15, y[i].scales, &y[i].d, &y[i].dmin, L);
        uint8_t *qh = y[i].qh, *ql = y[i].qs;
        memset(qh, 0, QK / 8);
        /* group pair p: low nibbles in ql[32p..], bit 4 in qh bits 2p (first) and 2p + 1 */
        for (int p = 0; p < 4; p++, ql += 32) {
            for (int j = 0; j < 32; j++) {
                int l1 = L[64 * p + j], l2 = L[64 * p + j + 32];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[j] |= (uint8_t)(1u << (2 * p));
                }
                if (l2 > 15) {
                    l2 -= 16;
                    qh[j] |= (uint8_t)(2u << (2 * p));
                }
                ql[j] = (uint8_t)(l1 | (l2 << 4));
            }
        }
    }
}

void mlxn_q5_K_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_q5_K *x = src;
    for (int64_t i = 0; i < n / QK; i++) {
        const float d = F32(x[i].d), min = F32(x[i].dmin);
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        unsigned u1 = 1, u2 = 2;
        for (int is = 0; is < 8; is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            get_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * (float)sc, m1 = min * (float)m;
            get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * (float)sc, m2 = min * (float)m;
            for (int l = 0; l < 32; l++)
                *dst++ = d1 * (float)((ql[l] & 0xf) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++)
                *dst++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

/* ── Q6_K ── */

void mlxn_q6_K_from_float(const float *src, void *dst, int64_t n) {
    mlxn_block_q6_K *y = dst;
    int8_t L[QK];
    float scales[QK / 16];
    for (int64_t i = 0; i < n / QK; i++, src += QK) {
        const float *x = src;
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < QK / 16; ib++) {
            const float scale = fit_symmetric(16, 32, x + 16 * ib, L + 16 * ib);
            scales[ib] = scale;
            if (fabsf(scale) > max_abs_scale) {
                max_abs_scale = fabsf(scale);
                max_scale = scale;
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float iscale = -128.f / max_scale;
        y[i].d = F16(1 / iscale);
        for (int ib = 0; ib < QK / 16; ib++) {
            int s = mlxn_nearest_int(iscale * scales[ib]);
            y[i].scales[ib] = (int8_t)(s < 127 ? s : 127);
        }
        for (int j = 0; j < QK / 16; j++) {
            const float d = F32(y[i].d) * (float)y[i].scales[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ii++) {
                int l = mlxn_nearest_int(x[16 * j + ii] / d);
                L[16 * j + ii] = (int8_t)(clamp_int(l, -32, 31) + 32);
            }
        }
        uint8_t *ql = y[i].ql, *qh = y[i].qh;
        for (int j = 0; j < QK; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                const int a = L[j + l], b = L[j + l + 32], c = L[j + l + 64], e = L[j + l + 96];
                ql[l] = (uint8_t)((a & 0xf) | ((c & 0xf) << 4));
                ql[l + 32] = (uint8_t)((b & 0xf) | ((e & 0xf) << 4));
                qh[l] = (uint8_t)((a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6));
            }
        }
    }
}

void mlxn_q6_K_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_q6_K *x = src;
    for (int64_t i = 0; i < n / QK; i++) {
        const float d = F32(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int h = 0; h < 2; h++, dst += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                dst[l] = d * (float)sc[is] * (float)q1;
                dst[l + 32] = d * (float)sc[is + 2] * (float)q2;
                dst[l + 64] = d * (float)sc[is + 4] * (float)q3;
                dst[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

/* ── Q8_K: d = max / -127 (fp32), q = nearest(x / d), bsums per 16 ── */

void mlxn_q8_K_from_float(const float *src, void *dst, int64_t n) {
    mlxn_block_q8_K *y = dst;
    for (int64_t i = 0; i < n / QK; i++, src += QK) {
        float max = 0, amax = 0;
        for (int j = 0; j < QK; j++) {
            float ax = fabsf(src[j]);
            if (ax > amax) {
                amax = ax;
                max = src[j];
            }
        }
        if (!amax) {
            /* ggml leaves bsums unwritten here; zero is their value */
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK; j++) {
            int v = mlxn_nearest_int(iscale * src[j]);
            y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int j = 0; j < QK / 16; j++) {
            int sum = 0;
            for (int ii = 0; ii < 16; ii++) sum += y[i].qs[16 * j + ii];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}

void mlxn_q8_K_to_float(const void *src, float *dst, int64_t n) {
    const mlxn_block_q8_K *x = src;
    for (int64_t i = 0; i < n / QK; i++)
        for (int j = 0; j < QK; j++) *dst++ = x[i].d * (float)x[i].qs[j];
}
