/* CPU get_rows: each work item is one chunk of one output row, dequantized with the
 * reference row function (traits to_float), scaled in f32 and rounded to y's type. */
#include <string.h>

#include "cpu/cpu.h"
#include "quant/half.h"
#include "quant/traits.h"

#define CHUNK 2048 /* elements per work item: a multiple of every block (32, 256) */

static void store_row(mlxn_type t, void *dst, int64_t i0, const float *in, int64_t n) {
    if (t == MLXN_TYPE_F32) {
        memcpy((float *)dst + i0, in, (size_t)n * sizeof(float));
    } else if (t == MLXN_TYPE_F16) {
        uint16_t *p = (uint16_t *)dst + i0;
        for (int64_t i = 0; i < n; i++) p[i] = mlxn_f32_to_f16(in[i]);
    } else {
        uint16_t *p = (uint16_t *)dst + i0;
        for (int64_t i = 0; i < n; i++) p[i] = mlxn_f32_to_bf16(in[i]);
    }
}

static void get_rows_range(void *ctx, int64_t begin, int64_t end, int worker) {
    const mlxn_get_rows_args *a = ctx;
    const mlxn_type_traits *tr = mlxn_traits(a->tt);
    const int64_t chunks = (a->k + CHUNK - 1) / CHUNK;
    const size_t ysz = a->ty == MLXN_TYPE_F32 ? 4 : 2;
    float v[CHUNK];
    for (int64_t item = begin; item < end; item++) {
        const int64_t i = item / chunks, c0 = item % chunks * CHUNK;
        const int64_t n = a->k - c0 < CHUNK ? a->k - c0 : CHUNK;
        char *yrow = (char *)a->y + (size_t)i * (size_t)a->k * ysz;
        const int32_t id = a->ids[i];
        if (id < 0 || id >= a->n_rows) { /* only in graph replay: the front end checked eager runs */
            memset(yrow + (size_t)c0 * ysz, 0, (size_t)n * ysz);
            continue;
        }
        const char *src = (const char *)a->table + (size_t)id * a->row_bytes + mlxn_row_bytes(a->tt, c0);
        tr->to_float(src, v, n);
        if (a->scaled)
            for (int64_t j = 0; j < n; j++) v[j] = v[j] * a->scale;
        store_row(a->ty, yrow, c0, v, n);
    }
}

static void get_rows_run(cpu_device *dev, const void *args) {
    const mlxn_get_rows_args *a = args;
    const int64_t chunks = (a->k + CHUNK - 1) / CHUNK;
    mlxn_parallel_for(dev->tp, a->n_ids * chunks, 8, get_rows_range, (void *)a);
}

mlxn_status mlxn_cpu_get_rows(void *stream, const mlxn_get_rows_args *a) {
    return mlxn_cpu_submit(stream, get_rows_run, a, sizeof *a);
}
