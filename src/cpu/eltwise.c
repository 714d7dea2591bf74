/* CPU elementwise: each thread takes a range, works through it in tiles of TILE elements:
 * operands converted to f32, combined, rounded to y's type. The f32 loops vectorize. */
#include "cpu/cpu.h"
#include "quant/half.h"

#define TILE 512

static void load_f32(mlxn_type t, const void *src, int64_t i0, float *out, int64_t n) {
    switch (t) {
    case MLXN_TYPE_F16: {
        const uint16_t *p = (const uint16_t *)src + i0;
        for (int64_t i = 0; i < n; i++) out[i] = mlxn_f16_to_f32(p[i]);
        break;
    }
    case MLXN_TYPE_BF16: {
        const uint16_t *p = (const uint16_t *)src + i0;
        for (int64_t i = 0; i < n; i++) out[i] = mlxn_bf16_to_f32(p[i]);
        break;
    }
    default: {
        const float *p = (const float *)src + i0;
        for (int64_t i = 0; i < n; i++) out[i] = p[i];
    }
    }
}

static void store_f32(mlxn_type t, void *dst, int64_t i0, const float *in, int64_t n) {
    switch (t) {
    case MLXN_TYPE_F16: {
        uint16_t *p = (uint16_t *)dst + i0;
        for (int64_t i = 0; i < n; i++) p[i] = mlxn_f32_to_f16(in[i]);
        break;
    }
    case MLXN_TYPE_BF16: {
        uint16_t *p = (uint16_t *)dst + i0;
        for (int64_t i = 0; i < n; i++) p[i] = mlxn_f32_to_bf16(in[i]);
        break;
    }
    default: {
        float *p = (float *)dst + i0;
        for (int64_t i = 0; i < n; i++) p[i] = in[i];
    }
    }
}

/* b's elements for y[i0 .. i0+n): contiguous, or wrapping around b's row. */
static void load_b(const mlxn_eltwise_args *a, int64_t i0, float *out, int64_t n) {
    if (a->nb == a->n) {
        load_f32(a->tb, a->b, i0, out, n);
        return;
    }
    int64_t j = i0 % a->nb, k = 0;
    while (k < n) {
        int64_t run = a->nb - j < n - k ? a->nb - j : n - k;
        load_f32(a->tb, a->b, j, out + k, run);
        k += run;
        j = 0;
    }
}

static void eltwise_range(void *ctx, int64_t begin, int64_t end, int worker) {
    const mlxn_eltwise_args *a = ctx;
    float va[TILE], vb[TILE];
    for (int64_t i0 = begin; i0 < end; i0 += TILE) {
        int64_t n = end - i0 < TILE ? end - i0 : TILE;
        load_f32(a->ta, a->a, i0, va, n);
        if (a->op == MLXN_ELTWISE_ADD) {
            load_b(a, i0, vb, n);
            for (int64_t i = 0; i < n; i++) va[i] = va[i] + vb[i];
        } else if (a->op == MLXN_ELTWISE_MUL) {
            load_b(a, i0, vb, n);
            for (int64_t i = 0; i < n; i++) va[i] = va[i] * vb[i];
        }
        if (a->affine) {
            const float s = a->scale, c = a->bias;
            for (int64_t i = 0; i < n; i++) va[i] = va[i] * s + c; /* no FMA: -ffp-contract=off */
        }
        store_f32(a->ty, a->y, i0, va, n);
    }
}

static void eltwise_run(cpu_device *dev, const void *args) {
    const mlxn_eltwise_args *a = args;
    mlxn_parallel_for(dev->tp, a->n, 16384, eltwise_range, (void *)a);
}

mlxn_status mlxn_cpu_eltwise(void *stream, const mlxn_eltwise_args *a) {
    return mlxn_cpu_submit(stream, eltwise_run, a, sizeof *a);
}
