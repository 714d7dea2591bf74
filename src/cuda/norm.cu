/* CUDA norms: one team of threads per segment (a row, or a head slice of one); each thread
 * keeps its chunks in registers, so x (and r) are read once and y (and h) written once.
 * Sums are f32 per thread, then warp shuffles and, for block-wide teams, shared memory.
 * 16-bit rows without a residual go through norm_pair_kernel: two segments a block. */
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

/* Sums R values over the block (blockDim.x a multiple of 32, at most NORM_PAIR_WARPS warps);
 * every thread gets the sums, added in the same order. red: this reduction's own slots, so
 * one barrier suffices (slots shared with an earlier reduction would need one before the
 * writes); each thread adds the warps' partials itself instead of a second shuffle tree. */
#define NORM_PAIR_WARPS 8
template <int R>
static __device__ __forceinline__ void norm_block_sum(float (&v)[R], float (&red)[NORM_PAIR_WARPS][R]) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
#pragma unroll
        for (int r = 0; r < R; r++) v[r] += __shfl_xor_sync(0xffffffffu, v[r], o);
    const int nw = blockDim.x >> 5;
    if (nw == 1) return;
    if ((threadIdx.x & 31) == 0)
#pragma unroll
        for (int r = 0; r < R; r++) red[threadIdx.x >> 5][r] = v[r];
    __syncthreads();
#pragma unroll
    for (int r = 0; r < R; r++) v[r] = red[0][r];
#pragma unroll
    for (int w = 1; w < NORM_PAIR_WARPS; w++)
        if (w < nw)
#pragma unroll
            for (int r = 0; r < R; r++) v[r] += red[w][r];
}

#define NORM_PAIR 2 /* segments a norm_pair_kernel block takes together */

/* a, b = the two 16-bit values of w (the lower-addressed one in a) widened */
template <typename T> static __device__ __forceinline__ void norm_widen2(uint32_t w, float &a, float &b) {
    if constexpr (std::is_same<T, __half>::value) {
        const float2 f = __half22float2(*reinterpret_cast<const __half2 *>(&w));
        a = f.x, b = f.y;
    } else {
        a = __uint_as_float(w << 16), b = __uint_as_float(w & 0xffff0000u);
    }
}

/* a, b rounded to the 16-bit T, a in the low half */
template <typename T> static __device__ __forceinline__ uint32_t norm_pack2(float a, float b) {
    const T h[2] = {mlxn_from_f32<T>(a), mlxn_from_f32<T>(b)};
    uint32_t w;
    memcpy(&w, h, 4);
    return w;
}

/* Elements off..off+3 of a weight or bias of run-time type t as floats, by one vector load
 * (off a multiple of 4, the operand 16-byte aligned) */
static __device__ __forceinline__ void norm_ld4_any(mlxn_type t, const void *base, long long off, float (&v)[4]) {
    if (t == MLXN_TYPE_F32) {
        const float4 a = *reinterpret_cast<const float4 *>(static_cast<const float *>(base) + off);
        v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
    } else {
        const uint2 a = *reinterpret_cast<const uint2 *>(static_cast<const uint16_t *>(base) + off);
        if (t == MLXN_TYPE_F16) norm_widen2<__half>(a.x, v[0], v[1]), norm_widen2<__half>(a.y, v[2], v[3]);
        else norm_widen2<__nv_bfloat16>(a.x, v[0], v[1]), norm_widen2<__nv_bfloat16>(a.y, v[2], v[3]);
    }
}

/* Hides r's value from the compiler, so that each pass widens the raw bits again instead of
 * keeping the first pass's floats (twice the registers) alive */
template <typename T> static __device__ __forceinline__ void norm_opaque(row_raw<T> &r) {
#pragma unroll
    for (int i = 0; i < (int)(sizeof(T) / 2); i++)
        asm volatile("" : "+r"(r.w[i].x), "+r"(r.w[i].y), "+r"(r.w[i].z), "+r"(r.w[i].w));
}

/* 16-bit x, 16-byte aligned, no residual, segments of 33..512 chunks: one block of G threads
 * takes NORM_PAIR segments together, each thread holding its NV chunks of every one as
 * loaded (raw bits, widened again in each pass). For bf16 rows of 4096 a block keeps 16 KB of
 * x in flight (norm_kernel: 8 KB; its f32 blocks: 16 KB), at 47 registers as norm_kernel's
 * (5 blocks of 256 per SM), and per pair of rows pays two barriers (norm_kernel: four per
 * row of LayerNorm) and one w and b load per chunk. */
template <typename TX, typename TY, int NV>
static __global__ void __launch_bounds__(32 * NORM_PAIR_WARPS) norm_pair_kernel(const __grid_constant__ norm_kp p) {
    constexpr int R = NORM_PAIR;
    __shared__ float red_a[NORM_PAIR_WARPS][R], red_b[NORM_PAIR_WARPS][R];
    const int lane = threadIdx.x, G = blockDim.x;
    const int chunks = (int)(p.L / ROW_VEC); /* 16-byte aligned segments: whole chunks, <= 512 */
    const long long s0 = (long long)blockIdx.x * R;
    const TX *x[R];
    TY *y[R];
    bool store[R];
#pragma unroll
    for (int r = 0; r < R; r++) {
        const long long seg = s0 + r < p.nseg ? s0 + r : p.nseg - 1, row = seg / p.per_row;
        x[r] = static_cast<const TX *>(p.x) + row * p.x_stride + (seg - row * p.per_row) * p.L;
        y[r] = static_cast<TY *>(p.y) + seg * p.L;
        store[r] = s0 + r < p.nseg; /* a lone last segment is computed twice, stored once */
    }
    row_raw<TX> raw[R][NV];
#pragma unroll
    for (int c = 0; c < NV; c++) {
        const int j = lane + c * G;
#pragma unroll
        for (int r = 0; r < R; r++) {
            if (j < chunks) row_ld_raw(x[r] + ROW_VEC * j, raw[r][c]);
            else raw[r][c] = row_raw<TX>{};
        }
    }
    const bool layer = p.kind == MLXN_NORM_LAYER;
    float acc[R], mean[R], scale[R];
#pragma unroll
    for (int r = 0; r < R; r++) {
        acc[r] = 0.0f, mean[r] = 0.0f;
#pragma unroll
        for (int c = 0; c < NV; c++) {
            float v[ROW_VEC];
            row_unpack(raw[r][c], v);
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) acc[r] += layer ? v[k] : v[k] * v[k];
        }
    }
    norm_block_sum<R>(acc, red_a);
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int c = 0; c < NV; c++) norm_opaque(raw[r][c]);
    if (layer) {
#pragma unroll
        for (int r = 0; r < R; r++) {
            mean[r] = acc[r] / (float)p.L;
            acc[r] = 0.0f;
#pragma unroll
            for (int c = 0; c < NV; c++) {
                if (lane + c * G >= chunks) continue;
                float v[ROW_VEC];
                row_unpack(raw[r][c], v);
#pragma unroll
                for (int k = 0; k < ROW_VEC; k++) {
                    const float d = v[k] - mean[r];
                    acc[r] += d * d;
                }
            }
        }
        norm_block_sum<R>(acc, red_b);
#pragma unroll
        for (int r = 0; r < R; r++)
#pragma unroll
            for (int c = 0; c < NV; c++) norm_opaque(raw[r][c]);
    }
#pragma unroll
    for (int r = 0; r < R; r++) scale[r] = norm_scale(p, acc[r]);
    /* y a half chunk (4 elements) at a time, so that only 4 elements of w and of b are held */
#pragma unroll
    for (int c = 0; c < NV; c++) {
        const int j = lane + c * G;
        if (j >= chunks) continue;
        uint32_t out[R][4];
#pragma unroll
        for (int hf = 0; hf < 2; hf++) {
            float u[4], bb[4];
            if (p.w) norm_ld4_any(p.tw, p.w, ROW_VEC * j + 4 * hf, u);
            if (p.b) norm_ld4_any(p.tb, p.b, ROW_VEC * j + 4 * hf, bb);
#pragma unroll
            for (int r = 0; r < R; r++) {
                float v[4];
                norm_widen2<TX>(hf ? raw[r][c].w[0].z : raw[r][c].w[0].x, v[0], v[1]);
                norm_widen2<TX>(hf ? raw[r][c].w[0].w : raw[r][c].w[0].y, v[2], v[3]);
#pragma unroll
                for (int k = 0; k < 4; k++) v[k] = (v[k] - mean[r]) * scale[r];
                if (p.w)
#pragma unroll
                    for (int k = 0; k < 4; k++) v[k] = v[k] * (u[k] + p.w_offset);
                if (p.b)
#pragma unroll
                    for (int k = 0; k < 4; k++) v[k] = v[k] + bb[k];
                if constexpr (sizeof(TY) == 4) {
                    if (store[r])
                        reinterpret_cast<float4 *>(y[r] + ROW_VEC * j)[hf] = make_float4(v[0], v[1], v[2], v[3]);
                } else {
                    out[r][2 * hf] = norm_pack2<TY>(v[0], v[1]);
                    out[r][2 * hf + 1] = norm_pack2<TY>(v[2], v[3]);
                }
            }
        }
        if constexpr (sizeof(TY) == 2) {
#pragma unroll
            for (int r = 0; r < R; r++)
                if (store[r])
                    *reinterpret_cast<uint4 *>(y[r] + ROW_VEC * j) =
                        make_uint4(out[r][0], out[r][1], out[r][2], out[r][3]);
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
    /* 16-bit rows without a residual, two a block (H100, mlxn bench ops, bf16 4096x4096, % of
     * copy, norm_kernel -> this): LayerNorm 73 -> 89.5 (its two block reductions a row cost
     * most on norm_kernel), RMSNorm 89 -> 94, L2 97.5 -> 97 */
    const bool pair = ex == 2 && !a->r && p.vec && g.per_block == 1 &&
                      (g.NV == 1 || g.NV == 2) && g.threads <= 32 * NORM_PAIR_WARPS;
    if (pair) {
        const long long blocks = (nseg + NORM_PAIR - 1) / NORM_PAIR;
        return mlxn_dispatch_float(a->tx, [&](auto tx) {
            return mlxn_dispatch_float(a->ty, [&](auto ty) {
                return row_dispatch_nv(g.NV, [&](auto nv) {
                    using TX = decltype(tx);
                    using TY = decltype(ty);
                    constexpr int NV = decltype(nv)::value;
                    if constexpr (sizeof(TX) == 2 && (NV == 1 || NV == 2)) {
                        norm_pair_kernel<TX, TY, NV><<<(unsigned)blocks, g.threads, 0, s->s>>>(p);
                        MLXN_CUDA_CHECK_LAUNCH();
                    }
                    return MLXN_OK;
                });
            });
        });
    }
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
