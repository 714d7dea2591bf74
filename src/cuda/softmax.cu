/* CUDA softmax: one team of threads per row (row_geom_for), values v = cap(x·scale) + mask
 * held in registers, a max and a sum reduced across the team, y = exp(v − max) · (1 / sum). Rows
 * too long to hold are read three times (max, sum, write). */
#include "cuda/rowops.cuh"

struct softmax_kp {
    const void *x, *mask;
    void *y;
    mlxn_type tm;
    long long rows, n, mask_rows;
    int G, per_block;
    bool vec;
    float scale, softcap;
};

/* Chunk j of row r as v; elements past the row are −inf (they vanish from max and sum). */
template <typename TX>
static __device__ __forceinline__ void softmax_values(const softmax_kp &p, long long r, long long j, int valid,
                                                      float (&v)[ROW_VEC]) {
    row_ld8(static_cast<const TX *>(p.x) + r * p.n + ROW_VEC * j, valid, p.vec, v);
#pragma unroll
    for (int k = 0; k < ROW_VEC; k++) v[k] = v[k] * p.scale;
    if (p.softcap > 0.0f) {
#pragma unroll
        for (int k = 0; k < ROW_VEC; k++) v[k] = p.softcap * tanhf(v[k] / p.softcap);
    }
    if (p.mask) {
        float m[ROW_VEC];
        row_ld8_any(p.tm, p.mask, (r % p.mask_rows) * p.n + ROW_VEC * j, valid, p.vec, m);
#pragma unroll
        for (int k = 0; k < ROW_VEC; k++) v[k] = v[k] + m[k];
    }
#pragma unroll
    for (int k = 0; k < ROW_VEC; k++)
        if (k >= valid) v[k] = -INFINITY;
}

template <typename TX, typename TY, int NV>
static __global__ void softmax_kernel(const __grid_constant__ softmax_kp p) {
    const int team = threadIdx.x / p.G, lane = threadIdx.x - team * p.G;
    const long long r = (long long)blockIdx.x * p.per_block + team;
    const bool active = r < p.rows;
    const long long chunks = (p.n + ROW_VEC - 1) / ROW_VEC;
    auto valid_of = [&](long long j) -> int {
        long long v = p.n - ROW_VEC * j;
        return !active || j >= chunks ? 0 : v < ROW_VEC ? (int)v : ROW_VEC;
    };
    TY *y = static_cast<TY *>(p.y) + r * p.n;
    float mx = -INFINITY, sum = 0.0f;

    if constexpr (NV > 0) {
        float v[NV][ROW_VEC];
#pragma unroll
        for (int c = 0; c < NV; c++) {
            const long long j = lane + (long long)c * p.G;
            softmax_values<TX>(p, r, j, valid_of(j), v[c]);
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) mx = fmaxf(mx, v[c][k]);
        }
        mx = row_team_reduce(mx, p.G, row_max_op{});
        const float base = mx == -INFINITY ? 0.0f : mx; /* a fully removed row gives exp(−inf) = 0 */
#pragma unroll
        for (int c = 0; c < NV; c++)
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) {
                v[c][k] = expf(v[c][k] - base);
                sum += v[c][k];
            }
        sum = row_team_reduce(sum, p.G, row_sum_op{});
        const float inv = sum > 0.0f ? 1.0f / sum : 0.0f; /* one divide per row, not per element */
#pragma unroll
        for (int c = 0; c < NV; c++) {
            const long long j = lane + (long long)c * p.G;
            const int valid = valid_of(j);
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) v[c][k] = v[c][k] * inv;
            if (valid) row_st8(y + ROW_VEC * j, valid, p.vec, v[c]);
        }
    } else {
        float v[ROW_VEC];
        for (long long j = lane; j < chunks; j += p.G) {
            softmax_values<TX>(p, r, j, valid_of(j), v);
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) mx = fmaxf(mx, v[k]);
        }
        mx = row_team_reduce(mx, p.G, row_max_op{});
        const float base = mx == -INFINITY ? 0.0f : mx;
        for (long long j = lane; j < chunks; j += p.G) {
            softmax_values<TX>(p, r, j, valid_of(j), v);
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) sum += expf(v[k] - base);
        }
        sum = row_team_reduce(sum, p.G, row_sum_op{});
        const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
        for (long long j = lane; j < chunks; j += p.G) {
            const int valid = valid_of(j);
            softmax_values<TX>(p, r, j, valid, v);
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) v[k] = expf(v[k] - base) * inv;
            if (valid) row_st8(y + ROW_VEC * j, valid, p.vec, v);
        }
    }
}

extern "C" mlxn_status mlxn_cuda_softmax(void *stream, const mlxn_softmax_args *a) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    MLXN_CUDA_TRY(cudaSetDevice(s->dev->ordinal));
    const row_geom g = row_geom_for(a->n, a->rows);
    if (!g.blocks) return mlxn_err(MLXN_ERR_UNSUPPORTED, "softmax: %lld rows is past the CUDA grid", (long long)a->rows);
    softmax_kp p = {a->x, a->mask, a->y, a->tm, a->rows, a->n, a->mask_rows, g.G, g.per_block, false, a->scale, a->softcap};
    p.vec = row_aligned16(a->x) && row_aligned16(a->y) && row_aligned_count(a->n, row_esize(a->tx)) &&
            row_aligned_count(a->n, row_esize(a->ty)) &&
            (!a->mask || (row_aligned16(a->mask) && row_aligned_count(a->n, row_esize(a->tm))));
    return mlxn_dispatch_float(a->tx, [&](auto tx) {
        return mlxn_dispatch_float(a->ty, [&](auto ty) {
            return row_dispatch_nv(g.NV, [&](auto nv) {
                using TX = decltype(tx);
                using TY = decltype(ty);
                softmax_kernel<TX, TY, decltype(nv)::value><<<g.blocks, g.threads, 0, s->s>>>(p);
                MLXN_CUDA_CHECK_LAUNCH();
                return MLXN_OK;
            });
        });
    });
}
