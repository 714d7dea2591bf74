/* CPU kv_append: one work item per (row, head); F16/BF16 round to nearest even, Q8_0 goes
 * through the reference quantizer (bit-exact with mlxn_quantize_row). */
#include <string.h>

#include "cpu/cpu.h"
#include "quant/half.h"
#include "quant/quant.h"

/* The slot of row i, or -1 when the row is skipped: a bad position, or a later row of the
 * call lands in the same slot. */
static int64_t row_slot(const mlxn_kv_append_args *a, int64_t i) {
    int64_t p = a->pos[i];
    if (p < 0 || (!a->ring && p >= a->l)) return -1;
    int64_t slot = a->ring ? p % a->l : p;
    for (int64_t j = i + 1; j < a->m; j++) {
        int64_t q = a->pos[j];
        if (q >= 0 && (a->ring ? q % a->l : q) == slot) return -1;
    }
    return slot;
}

static void kv_range(void *ctx, int64_t begin, int64_t end, int worker) {
    const mlxn_kv_append_args *a = ctx;
    const size_t xsz = a->tx == MLXN_TYPE_F32 ? 4 : 2;
    const size_t crow = mlxn_row_bytes(a->tc, a->d);
    float v[512]; /* one head row at a time, in pieces */
    for (int64_t item = begin; item < end; item++) {
        const int64_t i = item / a->h, h = item % a->h;
        const int64_t slot = row_slot(a, i);
        if (slot < 0) continue;
        const char *x = (const char *)a->x + ((size_t)i * (size_t)a->h + (size_t)h) * (size_t)a->d * xsz;
        char *c = (char *)a->cache + ((size_t)h * (size_t)a->l + (size_t)slot) * crow;
        for (int64_t e0 = 0; e0 < a->d; e0 += 512) {
            const int64_t n = a->d - e0 < 512 ? a->d - e0 : 512;
            for (int64_t e = 0; e < n; e++) {
                const size_t o = (size_t)(e0 + e);
                v[e] = a->tx == MLXN_TYPE_F32   ? ((const float *)x)[o]
                       : a->tx == MLXN_TYPE_F16 ? mlxn_f16_to_f32(((const uint16_t *)x)[o])
                                                : mlxn_bf16_to_f32(((const uint16_t *)x)[o]);
            }
            if (a->tc == MLXN_TYPE_Q8_0) {
                mlxn_q8_0_from_float(v, c + mlxn_row_bytes(MLXN_TYPE_Q8_0, e0), n);
            } else {
                uint16_t *dst = (uint16_t *)c + e0;
                for (int64_t e = 0; e < n; e++) dst[e] = a->tc == MLXN_TYPE_F16 ? mlxn_f32_to_f16(v[e]) : mlxn_f32_to_bf16(v[e]);
            }
        }
    }
}

static void kv_run(cpu_device *dev, const void *args) {
    const mlxn_kv_append_args *a = args;
    mlxn_parallel_for(dev->tp, a->m * a->h, 4, kv_range, (void *)a);
}

mlxn_status mlxn_cpu_kv_append(void *stream, const mlxn_kv_append_args *a) {
    return mlxn_cpu_submit(stream, kv_run, a, sizeof *a);
}
