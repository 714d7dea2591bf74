/* CPU norms: a thread takes whole segments (rows, or head slices of rows). A segment is
 * walked in tiles of TILE floats: a pass for the statistics (sum of squares; for LayerNorm
 * the mean, then the centered sum of squares) and one that writes y. Residual mode writes
 * h in the first pass and reads it back, so y is the norm of h as stored. */
#include <math.h>

#include "cpu/cpu.h"
#include "cpu/rowio.h"

#define TILE 512

/* lanes += v² or (v − mean)² */
static void add_squares(float lanes[ROWIO_LANES], const float *v, int64_t n, float mean) {
    float sq[TILE];
    for (int64_t i = 0; i < n; i++) {
        float d = v[i] - mean;
        sq[i] = d * d;
    }
    rowio_accumulate(lanes, sq, n);
}

static void norm_segment(const mlxn_norm_args *a, int64_t sidx) {
    const int64_t L = a->seg, per_row = a->n / L;
    const int64_t row = sidx / per_row, k = sidx - row * per_row;
    const int64_t xo = row * a->x_stride + k * L, yo = sidx * L; /* element offsets */
    /* where the normalized values come from: x, or h once pass 1 has written it */
    const void *src = a->r ? a->h : a->x;
    const int64_t so = a->r ? yo : xo;
    float v[TILE], u[TILE], lanes[ROWIO_LANES] = {0};

    for (int64_t i0 = 0; i0 < L; i0 += TILE) {
        int64_t m = L - i0 < TILE ? L - i0 : TILE;
        rowio_load(a->tx, a->x, xo + i0, v, m);
        if (a->r) {
            rowio_load(a->tr, a->r, yo + i0, u, m);
            for (int64_t i = 0; i < m; i++) v[i] = v[i] + u[i];
            rowio_store(a->tx, a->h, yo + i0, v, m);
            rowio_load(a->tx, a->h, yo + i0, v, m); /* h as stored */
        }
        if (a->kind == MLXN_NORM_LAYER) rowio_accumulate(lanes, v, m);
        else add_squares(lanes, v, m, 0.0f);
    }
    float mean = 0.0f, scale;
    if (a->kind == MLXN_NORM_LAYER) {
        mean = rowio_total(lanes) / (float)L;
        for (int q = 0; q < ROWIO_LANES; q++) lanes[q] = 0.0f;
        for (int64_t i0 = 0; i0 < L; i0 += TILE) {
            int64_t m = L - i0 < TILE ? L - i0 : TILE;
            rowio_load(a->tx, src, so + i0, v, m);
            add_squares(lanes, v, m, mean);
        }
    }
    float ss = rowio_total(lanes);
    if (a->kind == MLXN_NORM_L2) {
        float nrm = sqrtf(ss);
        scale = 1.0f / (nrm > a->eps ? nrm : a->eps);
    } else {
        scale = 1.0f / sqrtf(ss / (float)L + a->eps);
    }

    for (int64_t i0 = 0; i0 < L; i0 += TILE) {
        int64_t m = L - i0 < TILE ? L - i0 : TILE;
        rowio_load(a->tx, src, so + i0, v, m);
        for (int64_t i = 0; i < m; i++) v[i] = (v[i] - mean) * scale;
        if (a->w) {
            rowio_load(a->tw, a->w, i0, u, m);
            for (int64_t i = 0; i < m; i++) v[i] = v[i] * (u[i] + a->w_offset);
        }
        if (a->b) {
            rowio_load(a->tb, a->b, i0, u, m);
            for (int64_t i = 0; i < m; i++) v[i] = v[i] + u[i];
        }
        rowio_store(a->ty, a->y, yo + i0, v, m);
    }
}

static void norm_range(void *ctx, int64_t begin, int64_t end, int worker) {
    for (int64_t s = begin; s < end; s++) norm_segment(ctx, s);
}

static void norm_run(cpu_device *dev, const void *args) {
    const mlxn_norm_args *a = args;
    int64_t nseg = a->rows * (a->n / a->seg), grain = 16384 / a->seg;
    mlxn_parallel_for(dev->tp, nseg, grain > 1 ? grain : 1, norm_range, (void *)a);
}

mlxn_status mlxn_cpu_norm(void *stream, const mlxn_norm_args *a) {
    return mlxn_cpu_submit(stream, norm_run, a, sizeof *a);
}
