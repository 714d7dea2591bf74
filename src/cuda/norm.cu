/* CUDA norms: one team of threads per segment (a row, or a head slice of one); each thread
 * keeps its chunks in registers, so x (and r) are read once and y (and h) written once.
 * Sums are f32 per thread, then warp shuffles and, for block-wide teams, shared memory. */
#include "cuda/rowops.cuh"

struct norm_kp {
    mlxn_norm_kind kind;
    mlxn_type tw, tb, tr;
    const void *x, *w, *b, *r;
    void *h, *y;
    long long nseg, per_row; /* segments in all, per row of y */
    long long L, x_stride;   /* segment length; elements between rows of x */
    int G, per_block;
    bool vec;                /* every segment and operand 16-byte aligned */
    float eps, w_offset;
};

/* v = x's chunk j widened, made the chunk as the norm sees it: x, or h = x + r (stored to h,
 * then read back as stored). */
template <typename TX>
static __device__ __forceinline__ void norm_residual(const norm_kp &p, long long yo, long long j, int valid,
                                                     float (&v)[ROW_VEC]) {
    if (p.r) {
        float u[ROW_VEC];
        row_ld8_any(p.tr, p.r, yo + ROW_VEC * j, valid, p.vec, u);
#pragma unroll
        for (int k = 0; k < ROW_VEC; k++) v[k] = v[k] + u[k];
        row_round8<TX>(v);
        row_st8(static_cast<TX *>(p.h) + yo + ROW_VEC * j, valid, p.vec, v);
    }
}

/* Chunk j of segment `seg`, as the norm sees it */
template <typename TX>
static __device__ __forceinline__ void norm_source(const norm_kp &p, const TX *x, long long yo, long long j, int valid,
                                                   float (&v)[ROW_VEC]) {
    row_ld8(x + ROW_VEC * j, valid, p.vec, v);
    norm_residual<TX>(p, yo, j, valid, v);
}

/* y chunk from the normalized source chunk v */
template <typename TY>
static __device__ __forceinline__ void norm_store(const norm_kp &p, long long yo, long long j, int valid, float mean,
                                                  float scale, const float (&v)[ROW_VEC]) {
    float o[ROW_VEC], u[ROW_VEC];
#pragma unroll
    for (int k = 0; k < ROW_VEC; k++) o[k] = (v[k] - mean) * scale;
    if (p.w) {
        row_ld8_any(p.tw, p.w, ROW_VEC * j, valid, p.vec, u);
#pragma unroll
        for (int k = 0; k < ROW_VEC; k++) o[k] = o[k] * (u[k] + p.w_offset);
    }
    if (p.b) {
        row_ld8_any(p.tb, p.b, ROW_VEC * j, valid, p.vec, u);
#pragma unroll
        for (int k = 0; k < ROW_VEC; k++) o[k] = o[k] + u[k];
    }
    row_st8(static_cast<TY *>(p.y) + yo + ROW_VEC * j, valid, p.vec, o);
}

static __device__ __forceinline__ float norm_scale(const norm_kp &p, float ss) {
    if (p.kind == MLXN_NORM_L2) return 1.0f / fmaxf(sqrtf(ss), p.eps);
    return 1.0f / sqrtf(ss / (float)p.L + p.eps);
}

/* NV > 0: the segment's chunks lane, lane + G, ... stay in registers. NV == 0: the segment is
 * too long for that; each pass reads it again (from L2 mostly). */
template <typename TX, typename TY, int NV>
static __global__ void norm_kernel(const __grid_constant__ norm_kp p) {
    const int team = threadIdx.x / p.G, lane = threadIdx.x - team * p.G;
    const long long seg = (long long)blockIdx.x * p.per_block + team;
    const bool active = seg < p.nseg;
    const long long row = seg / p.per_row, yo = seg * p.L;
    const TX *x = static_cast<const TX *>(p.x) + row * p.x_stride + (seg - row * p.per_row) * p.L;
    const long long chunks = (p.L + ROW_VEC - 1) / ROW_VEC;
    auto valid_of = [&](long long j) -> int {
        long long v = p.L - ROW_VEC * j;
        return !active || j >= chunks ? 0 : v < ROW_VEC ? (int)v : ROW_VEC;
    };
    /* the source read back for passes after the first: x, or h as stored */
    const TX *src = p.r ? static_cast<const TX *>(p.h) + yo : x;
    const bool layer = p.kind == MLXN_NORM_LAYER;
    float acc = 0.0f, mean = 0.0f;

    if constexpr (NV > 0) {
        /* 16-bit x in 1 or 2 chunks a thread: every chunk loaded before any is used, else each
         * chunk's load waits for the previous one's widening and residual (f32 rows, 4 chunks:
         * the extra registers cost more occupancy than the overlap gains) */
        const bool full =
            sizeof(TX) == 2 && NV <= 2 && p.vec && active && ROW_VEC * (lane + (long long)(NV - 1) * p.G + 1) <= p.L;
        row_raw<TX> raw[NV];
        if (full) {
#pragma unroll
            for (int c = 0; c < NV; c++) row_ld_raw(x + ROW_VEC * (lane + (long long)c * p.G), raw[c]);
        }
        float v[NV][ROW_VEC];
#pragma unroll
        for (int c = 0; c < NV; c++) {
            const long long j = lane + (long long)c * p.G;
            if (full) {
                row_unpack(raw[c], v[c]);
                norm_residual<TX>(p, yo, j, ROW_VEC, v[c]);
            } else {
                norm_source(p, x, yo, j, valid_of(j), v[c]);
            }
        }
#pragma unroll
        for (int c = 0; c < NV; c++)
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) acc += layer ? v[c][k] : v[c][k] * v[c][k];
        acc = row_team_reduce(acc, p.G, row_sum_op{});
        if (layer) {
            mean = acc / (float)p.L;
            acc = 0.0f;
#pragma unroll
            for (int c = 0; c < NV; c++) {
                const int valid = valid_of(lane + (long long)c * p.G);
#pragma unroll
                for (int k = 0; k < ROW_VEC; k++) {
                    float d = v[c][k] - mean;
                    acc += k < valid ? d * d : 0.0f;
                }
            }
            acc = row_team_reduce(acc, p.G, row_sum_op{});
        }
        const float scale = norm_scale(p, acc);
#pragma unroll
        for (int c = 0; c < NV; c++) {
            const long long j = lane + (long long)c * p.G;
            const int valid = valid_of(j);
            if (valid) norm_store<TY>(p, yo, j, valid, mean, scale, v[c]);
        }
    } else {
        float v[ROW_VEC];
        for (long long j = lane; j < chunks; j += p.G) {
            norm_source(p, x, yo, j, valid_of(j), v);
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) acc += layer ? v[k] : v[k] * v[k];
        }
        acc = row_team_reduce(acc, p.G, row_sum_op{});
        if (layer) {
            mean = acc / (float)p.L;
            acc = 0.0f;
            for (long long j = lane; j < chunks; j += p.G) {
                const int valid = valid_of(j);
                row_ld8(src + ROW_VEC * j, valid, p.vec, v);
#pragma unroll
                for (int k = 0; k < ROW_VEC; k++) {
                    float d = v[k] - mean;
                    acc += k < valid ? d * d : 0.0f;
                }
            }
            acc = row_team_reduce(acc, p.G, row_sum_op{});
        }
        const float scale = norm_scale(p, acc);
        for (long long j = lane; j < chunks; j += p.G) {
            const int valid = valid_of(j);
            row_ld8(src + ROW_VEC * j, valid, p.vec, v);
            if (valid) norm_store<TY>(p, yo, j, valid, mean, scale, v);
        }
    }
}

extern "C" mlxn_status mlxn_cuda_norm(void *stream, const mlxn_norm_args *a) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    MLXN_CUDA_TRY(cudaSetDevice(s->dev->ordinal));
    const long long nseg = (long long)a->rows * (a->n / a->seg);
    const row_geom g = row_geom_for(a->seg, nseg);
    if (!g.blocks) return mlxn_err(MLXN_ERR_UNSUPPORTED, "norm: %lld segments is past the CUDA grid", nseg);
    const size_t ex = row_esize(a->tx), ey = row_esize(a->ty);
    norm_kp p = {a->kind, a->tw, a->tb, a->tr, a->x, a->w, a->b, a->r, a->h, a->y, nseg, a->n / a->seg,
                 a->seg, a->x_stride, g.G, g.per_block, false, a->eps, a->w_offset};
    p.vec = row_aligned16(a->x) && row_aligned16(a->y) && row_aligned_count(a->x_stride, ex) &&
            row_aligned_count(a->seg, ex) && row_aligned_count(a->seg, ey) && (!a->w || row_aligned16(a->w)) &&
            (!a->b || row_aligned16(a->b)) &&
            (!a->r || (row_aligned16(a->r) && row_aligned16(a->h) && row_aligned_count(a->seg, row_esize(a->tr))));
    return mlxn_dispatch_float(a->tx, [&](auto tx) {
        return mlxn_dispatch_float(a->ty, [&](auto ty) {
            return row_dispatch_nv(g.NV, [&](auto nv) {
                using TX = decltype(tx);
                using TY = decltype(ty);
                norm_kernel<TX, TY, decltype(nv)::value><<<g.blocks, g.threads, 0, s->s>>>(p);
                MLXN_CUDA_CHECK_LAUNCH();
                return MLXN_OK;
            });
        });
    });
}
