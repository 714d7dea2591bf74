/* CUDA softmax: one team of threads per row (row_geom_for), values v = cap(x·scale) + mask
 * held in registers, a max and a sum reduced across the team, y = exp(v − max) · (1 / sum). Rows
 * too long to hold are read three times (max, sum, write). exp and the softcap's tanh go through
 * the hardware's approximate 2^x and 1/x: a 16-bit softmax is bound by instructions more than
 * bytes, and tests/ops_softmax.c's bound (absolute in v: 4·cap·u for the tanh, |v|·u terms
 * for the exponent's rounding) covers their error. With the loads issued first (below), bf16
 * rows of 4096 on an H100 went from 68% to 84% of copy (row mask) and 57% to 81% (softcap). */
#include "cuda/rowops.cuh"

struct softmax_kp {
    const void *x, *mask;
    void *y;
    mlxn_type tm;
    long long rows, n, mask_rows;
    int G, per_block;
    bool vec;
    float scale, softcap, rcap; /* rcap = 1 / softcap */
};

/* tanh t = 1 − 2/(e^2|t| + 1) with t's sign: absolute error a few u (relative error grows
 * as |t| -> 0, which the softmax does not see: its bound is absolute in v) */
static __device__ __forceinline__ float softmax_tanh(float t) {
    const float e = row_exp2_approx(fabsf(t) * 2.88539008f); /* 2·log2 e */
    return copysignf(fmaf(-2.0f, row_rcp_approx(e + 1.0f), 1.0f), t);
}

/* e^(v − base) as 2^(v·log2 e − base·log2 e), bl = base·log2 e: one FMA and MUFU.EX2 */
static __device__ __forceinline__ float softmax_exp(float v, float bl) {
    return row_exp2_approx(fmaf(v, 1.44269504f, -bl));
}

/* v = cap(x·scale) + mask for chunk j of a row, v holding its x widened; mo: the mask row's
 * offset. Elements past the row are −inf (they vanish from max and sum). */
static __device__ __forceinline__ void softmax_transform(const softmax_kp &p, long long mo, long long j, int valid,
                                                         float (&v)[ROW_VEC]) {
#pragma unroll
    for (int k = 0; k < ROW_VEC; k++) v[k] = v[k] * p.scale;
    if (p.softcap > 0.0f) {
#pragma unroll
        for (int k = 0; k < ROW_VEC; k++) { /* v / softcap correctly rounded (Markstein), no divide */
            const float q = v[k] * p.rcap;
            v[k] = p.softcap * softmax_tanh(fmaf(fmaf(-q, p.softcap, v[k]), p.rcap, q));
        }
    }
    if (p.mask) {
        float m[ROW_VEC];
        row_ld8_any(p.tm, p.mask, mo + ROW_VEC * j, valid, p.vec, m);
#pragma unroll
        for (int k = 0; k < ROW_VEC; k++) v[k] = v[k] + m[k];
    }
#pragma unroll
    for (int k = 0; k < ROW_VEC; k++)
        if (k >= valid) v[k] = -INFINITY;
}

/* Chunk j of row r as v */
template <typename TX>
static __device__ __forceinline__ void softmax_values(const softmax_kp &p, long long r, long long mo, long long j,
                                                      int valid, float (&v)[ROW_VEC]) {
    row_ld8(static_cast<const TX *>(p.x) + r * p.n + ROW_VEC * j, valid, p.vec, v);
    softmax_transform(p, mo, j, valid, v);
}

/* The offset of row r's mask row (32-bit division where it fits) */
static __device__ __forceinline__ long long softmax_mask_offset(const softmax_kp &p, long long r, bool active) {
    if (!p.mask || !active) return 0;
    if ((r | p.mask_rows) <= 0x7fffffffLL) return (long long)((unsigned)r % (unsigned)p.mask_rows) * p.n;
    return r % p.mask_rows * p.n;
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
        /* 1 or 2 chunks a thread: all loaded before any is used, else each chunk's load waits
         * for the previous chunk's arithmetic (softcap, mask); with 4 the registers cost more */
        const bool full = NV <= 2 && p.vec && active && ROW_VEC * (lane + (long long)(NV - 1) * p.G + 1) <= p.n;
        const TX *xr = static_cast<const TX *>(p.x) + r * p.n;
        row_raw<TX> raw[NV];
        if (full) {
#pragma unroll
            for (int c = 0; c < NV; c++) row_ld_raw(xr + ROW_VEC * (lane + (long long)c * p.G), raw[c]);
        }
        const long long mo = softmax_mask_offset(p, r, active);
        float v[NV][ROW_VEC];
#pragma unroll
        for (int c = 0; c < NV; c++) {
            const long long j = lane + (long long)c * p.G;
            if (full) {
                row_unpack(raw[c], v[c]);
                softmax_transform(p, mo, j, ROW_VEC, v[c]);
            } else {
                softmax_values<TX>(p, r, mo, j, valid_of(j), v[c]);
            }
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) mx = fmaxf(mx, v[c][k]);
        }
        mx = row_team_reduce(mx, p.G, row_max_op{});
        const float base = mx == -INFINITY ? 0.0f : mx; /* a fully removed row gives exp(−inf) = 0 */
        const float bl = base * 1.44269504f;
#pragma unroll
        for (int c = 0; c < NV; c++)
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) {
                v[c][k] = softmax_exp(v[c][k], bl);
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
        const long long mo = softmax_mask_offset(p, r, active);
        float v[ROW_VEC];
        for (long long j = lane; j < chunks; j += p.G) {
            softmax_values<TX>(p, r, mo, j, valid_of(j), v);
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) mx = fmaxf(mx, v[k]);
        }
        mx = row_team_reduce(mx, p.G, row_max_op{});
        const float base = mx == -INFINITY ? 0.0f : mx, bl = base * 1.44269504f;
        for (long long j = lane; j < chunks; j += p.G) {
            softmax_values<TX>(p, r, mo, j, valid_of(j), v);
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) sum += softmax_exp(v[k], bl);
        }
        sum = row_team_reduce(sum, p.G, row_sum_op{});
        const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
        for (long long j = lane; j < chunks; j += p.G) {
            const int valid = valid_of(j);
            softmax_values<TX>(p, r, mo, j, valid, v);
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) v[k] = softmax_exp(v[k], bl) * inv;
            if (valid) row_st8(y + ROW_VEC * j, valid, p.vec, v);
        }
    }
}

extern "C" mlxn_status mlxn_cuda_softmax(void *stream, const mlxn_softmax_args *a) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    MLXN_CUDA_TRY(cudaSetDevice(s->dev->ordinal));
    const row_geom g = row_geom_for(a->n, a->rows);
    if (!g.blocks) return mlxn_err(MLXN_ERR_UNSUPPORTED, "softmax: %lld rows is past the CUDA grid", (long long)a->rows);
    softmax_kp p = {a->x, a->mask, a->y, a->tm, a->rows, a->n, a->mask_rows, g.G, g.per_block, false, a->scale, a->softcap,
                    a->softcap > 0.0f ? 1.0f / a->softcap : 0.0f};
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
