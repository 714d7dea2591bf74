/* CPU RoPE: a thread takes a range of (token, head) items; cos and sin of a token's pairs
 * are computed once per token it meets, then each head's rotated dims are rotated in a
 * float buffer and the rest copied through. */
#include <math.h>

#include "cpu/cpu.h"
#include "cpu/rowio.h"

#define TILE 512

/* cs, sn: mscale·cos θ_i, mscale·sin θ_i of token t, θ_i = pos · freq[i] / ff[i] */
static void token_angles(const mlxn_rope_args *a, int64_t t, float *cs, float *sn) {
    for (int64_t i = 0; i < a->n_rot / 2; i++) {
        float theta = (float)a->pos[(int64_t)a->stream[i] * a->T + t] * a->freq[i];
        if (a->ff) theta = theta / a->ff[i];
        cs[i] = cosf(theta) * a->mscale;
        sn[i] = sinf(theta) * a->mscale;
    }
}

static void rope_range(void *ctx, int64_t begin, int64_t end, int worker) {
    const mlxn_rope_args *a = ctx;
    const int64_t half = a->n_rot / 2;
    float cs[MLXN_ROPE_MAX_PAIRS], sn[MLXN_ROPE_MAX_PAIRS], v[MLXN_ROPE_MAX_ROT], o[MLXN_ROPE_MAX_ROT], tile[TILE];
    int64_t cur = -1;
    for (int64_t item = begin; item < end; item++) {
        const int64_t t = item / a->H, h = item - t * a->H;
        const int64_t xo = t * a->x_stride + h * a->D, yo = item * a->D;
        if (t != cur) token_angles(a, t, cs, sn), cur = t;
        rowio_load(a->tx, a->x, xo, v, a->n_rot);
        for (int64_t i = 0; i < half; i++) {
            const int64_t i0 = a->neox ? i : 2 * i, i1 = a->neox ? i + half : 2 * i + 1;
            const float x0 = v[i0], x1 = v[i1];
            o[i0] = x0 * cs[i] - x1 * sn[i];
            o[i1] = x0 * sn[i] + x1 * cs[i];
        }
        rowio_store(a->ty, a->y, yo, o, a->n_rot);
        for (int64_t i0 = a->n_rot; i0 < a->D; i0 += TILE) {
            int64_t m = a->D - i0 < TILE ? a->D - i0 : TILE;
            rowio_load(a->tx, a->x, xo + i0, tile, m);
            rowio_store(a->ty, a->y, yo + i0, tile, m);
        }
    }
}

static void rope_run(cpu_device *dev, const void *args) {
    const mlxn_rope_args *a = args;
    int64_t grain = 16384 / a->D;
    mlxn_parallel_for(dev->tp, a->T * a->H, grain > 1 ? grain : 1, rope_range, (void *)a);
}

mlxn_status mlxn_cpu_rope(void *stream, const mlxn_rope_args *a) {
    return mlxn_cpu_submit(stream, rope_run, a, sizeof *a);
}
