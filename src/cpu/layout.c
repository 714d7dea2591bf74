/* CPU strided copy: the walk's outer three dims and chunks of the innermost one are the
 * work items; each element goes through f32 to y's type (exact between equal types). */
#include "cpu/cpu.h"
#include "quant/half.h"

#define CHUNK 4096 /* innermost elements per work item */

static inline float load_f(mlxn_type t, const void *p, int64_t i) {
    switch (t) {
    case MLXN_TYPE_F16: return mlxn_f16_to_f32(((const uint16_t *)p)[i]);
    case MLXN_TYPE_BF16: return mlxn_bf16_to_f32(((const uint16_t *)p)[i]);
    default: return ((const float *)p)[i];
    }
}

static inline void store_f(mlxn_type t, void *p, int64_t i, float v) {
    switch (t) {
    case MLXN_TYPE_F16: ((uint16_t *)p)[i] = mlxn_f32_to_f16(v); break;
    case MLXN_TYPE_BF16: ((uint16_t *)p)[i] = mlxn_f32_to_bf16(v); break;
    default: ((float *)p)[i] = v;
    }
}

static void layout_range(void *ctx, int64_t begin, int64_t end, int worker) {
    const mlxn_layout_args *a = ctx;
    const int64_t chunks = (a->ne[3] + CHUNK - 1) / CHUNK;
    const bool same16 = a->tx == a->ty && a->tx != MLXN_TYPE_F32;
    for (int64_t item = begin; item < end; item++) {
        int64_t r = item / chunks, c0 = item % chunks * CHUNK;
        const int64_t n = a->ne[3] - c0 < CHUNK ? a->ne[3] - c0 : CHUNK;
        const int64_t i2 = r % a->ne[2], i1 = r / a->ne[2] % a->ne[1], i0 = r / a->ne[2] / a->ne[1];
        const int64_t xo = i0 * a->xs[0] + i1 * a->xs[1] + i2 * a->xs[2] + c0 * a->xs[3];
        const int64_t yo = i0 * a->ys[0] + i1 * a->ys[1] + i2 * a->ys[2] + c0 * a->ys[3];
        if (same16) { /* bit copy: keeps NaN payloads as well */
            const uint16_t *x = (const uint16_t *)a->x + xo;
            uint16_t *y = (uint16_t *)a->y + yo;
            for (int64_t j = 0; j < n; j++) y[j * a->ys[3]] = x[j * a->xs[3]];
        } else {
            for (int64_t j = 0; j < n; j++)
                store_f(a->ty, a->y, yo + j * a->ys[3], load_f(a->tx, a->x, xo + j * a->xs[3]));
        }
    }
}

static void layout_run(cpu_device *dev, const void *args) {
    const mlxn_layout_args *a = args;
    const int64_t rows = a->ne[0] * a->ne[1] * a->ne[2], chunks = (a->ne[3] + CHUNK - 1) / CHUNK;
    const int64_t grain = 65536 / (a->ne[3] < CHUNK ? a->ne[3] : CHUNK);
    mlxn_parallel_for(dev->tp, rows * chunks, grain > 0 ? grain : 1, layout_range, (void *)a);
}

mlxn_status mlxn_cpu_layout(void *stream, const mlxn_layout_args *a) {
    return mlxn_cpu_submit(stream, layout_run, a, sizeof *a);
}
