/* CPU softmax: a thread takes whole rows. v = cap(x·scale) + mask is computed into a float
 * buffer of up to TILE elements; a longer row recomputes it in each of three passes (max,
 * sum, write). Sums use 16 fixed lanes (rowio_accumulate). */
#include <math.h>

#include "cpu/cpu.h"
#include "cpu/rowio.h"

#define TILE 4096

/* v[0..m) = softcap(x·scale) + mask for columns [c0, c0 + m) of row r */
static void row_values(const mlxn_softmax_args *a, int64_t r, int64_t c0, float *v, int64_t m) {
    float mk[TILE];
    rowio_load(a->tx, a->x, r * a->n + c0, v, m);
    for (int64_t i = 0; i < m; i++) v[i] = v[i] * a->scale;
    if (a->softcap > 0)
        for (int64_t i = 0; i < m; i++) v[i] = a->softcap * tanhf(v[i] / a->softcap);
    if (a->mask) {
        rowio_load(a->tm, a->mask, (r % a->mask_rows) * a->n + c0, mk, m);
        for (int64_t i = 0; i < m; i++) v[i] = v[i] + mk[i];
    }
}

static void softmax_row(const mlxn_softmax_args *a, int64_t r) {
    const int64_t n = a->n;
    const bool one_tile = n <= TILE;
    float v[TILE], lanes[ROWIO_LANES] = {0}, mx = -INFINITY;
    for (int64_t c0 = 0; c0 < n; c0 += TILE) {
        int64_t m = n - c0 < TILE ? n - c0 : TILE;
        row_values(a, r, c0, v, m);
        for (int64_t i = 0; i < m; i++) mx = v[i] > mx ? v[i] : mx;
    }
    if (mx == -INFINITY) { /* every element removed: zeros, not NaN */
        for (int64_t i = 0; i < TILE; i++) v[i] = 0.0f;
        for (int64_t c0 = 0; c0 < n; c0 += TILE) rowio_store(a->ty, a->y, r * n + c0, v, n - c0 < TILE ? n - c0 : TILE);
        return;
    }
    for (int64_t c0 = 0; c0 < n; c0 += TILE) {
        int64_t m = n - c0 < TILE ? n - c0 : TILE;
        if (!one_tile) row_values(a, r, c0, v, m);
        for (int64_t i = 0; i < m; i++) v[i] = expf(v[i] - mx);
        rowio_accumulate(lanes, v, m);
    }
    const float inv = 1.0f / rowio_total(lanes); /* the sum is >= 1: exp(0) is in it */
    for (int64_t c0 = 0; c0 < n; c0 += TILE) {
        int64_t m = n - c0 < TILE ? n - c0 : TILE;
        if (!one_tile) {
            row_values(a, r, c0, v, m);
            for (int64_t i = 0; i < m; i++) v[i] = expf(v[i] - mx);
        }
        for (int64_t i = 0; i < m; i++) v[i] = v[i] * inv;
        rowio_store(a->ty, a->y, r * n + c0, v, m);
    }
}

static void softmax_range(void *ctx, int64_t begin, int64_t end, int worker) {
    for (int64_t r = begin; r < end; r++) softmax_row(ctx, r);
}

static void softmax_run(cpu_device *dev, const void *args) {
    const mlxn_softmax_args *a = args;
    int64_t grain = 16384 / a->n;
    mlxn_parallel_for(dev->tp, a->rows, grain > 1 ? grain : 1, softmax_range, (void *)a);
}

mlxn_status mlxn_cpu_softmax(void *stream, const mlxn_softmax_args *a) {
    return mlxn_cpu_submit(stream, softmax_run, a, sizeof *a);
}
