/* CUDA attention: the mma.sync kernel (attention_mma.cuh) for D <= 256, decode and prefill;
 * on sm_90a the wgmma kernel (attention_wgmma.cuh) for prefill; a SIMT kernel for D = 512,
 * whose f32 accumulators fit no tensor-core tile. With several key slices the partials go to
 * the stream workspace and a combine kernel merges them (decode with at most 8 slices on
 * sm_90: one thread-block cluster merging through distributed shared memory instead). Slice
 * counts depend on L_cap, not L, so a recorded graph stays valid; decode slices cut the keys
 * that kv_len makes visible. On sm_90 decode and combine launch as programmatic dependents
 * (their launch overlaps the grid before). Path choice: launch_d. */
#include <math.h>
#include <string.h>

#include "cuda/attention_wgmma.cuh"

#define ATT_WARPS 4

/* Element e of a cache row (F16, BF16 or Q8_0). */
static __device__ __forceinline__ float cache_elem(mlxn_type t, const unsigned char *row, int e) {
    if (t == MLXN_TYPE_F16) return __half2float(reinterpret_cast<const __half *>(row)[e]);
    if (t == MLXN_TYPE_BF16) return __bfloat162float(reinterpret_cast<const __nv_bfloat16 *>(row)[e]);
    const unsigned char *blk = row + (e >> 5) * 34; /* Q8_0: fp16 scale, then 32 int8 */
    __half d = *reinterpret_cast<const __half *>(blk);
    return __half2float(d) * (float)(signed char)blk[2 + (e & 31)];
}

/* This lane's E elements of a cache row: elements [lane·E, lane·E + E), zero past D. Rows of
 * f16/bf16 with D % 32 == 0 come in one or two wide loads per lane; Q8_0 in 2-byte loads
 * (its 34-byte blocks keep only 2-byte alignment). */
template <int D, int E>
static __device__ __forceinline__ void load_lane(mlxn_type t, const unsigned char *row, int lane, float (&out)[E]) {
    if constexpr (D % 32 == 0) {
        if (t == MLXN_TYPE_Q8_0) {
            const int e0 = lane * E;
            const unsigned char *blk = row + (e0 >> 5) * 34;
            const float d = __half2float(*reinterpret_cast<const __half *>(blk));
            const unsigned short *qs = reinterpret_cast<const unsigned short *>(blk + 2 + (e0 & 31));
#pragma unroll
            for (int k = 0; k < E / 2; k++) {
                unsigned short w = qs[k];
                out[2 * k] = d * (float)(signed char)(w & 0xff);
                out[2 * k + 1] = d * (float)(signed char)(w >> 8);
            }
            return;
        }
        constexpr int BYTES = 2 * E; /* 4, 8, 12, 16 or 32 */
        unsigned int w[BYTES / 4];
        const unsigned char *src = row + lane * BYTES;
        if constexpr (BYTES % 16 == 0) {
#pragma unroll
            for (int k = 0; k < BYTES / 16; k++) {
                uint4 v = reinterpret_cast<const uint4 *>(src)[k];
                w[4 * k] = v.x, w[4 * k + 1] = v.y, w[4 * k + 2] = v.z, w[4 * k + 3] = v.w;
            }
        } else if constexpr (BYTES % 8 == 0) {
#pragma unroll
            for (int k = 0; k < BYTES / 8; k++) {
                uint2 v = reinterpret_cast<const uint2 *>(src)[k];
                w[2 * k] = v.x, w[2 * k + 1] = v.y;
            }
        } else {
#pragma unroll
            for (int k = 0; k < BYTES / 4; k++) w[k] = reinterpret_cast<const unsigned int *>(src)[k];
        }
#pragma unroll
        for (int k = 0; k < E / 2; k++) {
            if (t == MLXN_TYPE_F16) {
                float2 f = __half22float2(*reinterpret_cast<const __half2 *>(&w[k]));
                out[2 * k] = f.x, out[2 * k + 1] = f.y;
            } else {
                float2 f = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(&w[k]));
                out[2 * k] = f.x, out[2 * k + 1] = f.y;
            }
        }
    } else {
#pragma unroll
        for (int e = 0; e < E; e++) out[e] = lane * E + e < D ? cache_elem(t, row, lane * E + e) : 0.0f;
    }
}

template <int D, int GB>
static __global__ void __launch_bounds__(ATT_WARPS * 32) attn_split_kernel(att_params p, float *ws) {
    constexpr int E = (D + 31) / 32; /* elements per lane */
    const mlxn_attention_args &a = p.a;
    const long long i = blockIdx.x, hq0 = (long long)blockIdx.y * GB;
    const int split = blockIdx.z, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const long long G = a.n_q_heads / a.n_kv_heads, h = hq0 / G;
    __shared__ float qs[GB][D];
    __shared__ float sm[ATT_WARPS][GB], sl[ATT_WARPS][GB];
    __shared__ float sacc[ATT_WARPS][GB][D];
    for (int t = threadIdx.x; t < GB * D; t += blockDim.x) {
        int g = t / D, d = t % D;
        qs[g][d] = load_in(a.tq, a.q, ((hq0 + g) * a.M + i) * D + d);
    }
    __syncthreads();

    const long long L = kv_count(a), pos = L - a.M + i;
    long long lo = 0, hi = L - 1;
    if (a.causal && pos < hi) hi = pos;
    if (a.window > 0 && pos - a.window + 1 > lo) lo = pos - a.window + 1;
    const long long js = (long long)split * p.chunk, je = js + p.chunk - 1;
    if (js > lo) lo = js;
    if (je < hi) hi = je;

    float m[GB], l[GB], acc[GB][E];
#pragma unroll
    for (int g = 0; g < GB; g++) {
        m[g] = -INFINITY, l[g] = 0.0f;
#pragma unroll
        for (int e = 0; e < E; e++) acc[g][e] = 0.0f;
    }
    const unsigned char *kbase = static_cast<const unsigned char *>(a.k) + (size_t)(h * a.L_cap) * a.k_row_bytes;
    const unsigned char *vbase = static_cast<const unsigned char *>(a.v) + (size_t)(h * a.L_cap) * a.v_row_bytes;
    /* KU keys per warp per step, all their rows loaded before any is used */
    constexpr int KU = E <= 8 ? 4 : 2;
    for (long long j0 = lo + warp; j0 <= hi; j0 += ATT_WARPS * KU) {
        float kf[KU][E], vf[KU][E];
#pragma unroll
        for (int u = 0; u < KU; u++) {
            const long long j = j0 + (long long)u * ATT_WARPS;
            if (j <= hi) {
                load_lane<D, E>(a.tk, kbase + (size_t)j * a.k_row_bytes, lane, kf[u]);
                load_lane<D, E>(a.tv, vbase + (size_t)j * a.v_row_bytes, lane, vf[u]);
            }
        }
#pragma unroll
        for (int u = 0; u < KU; u++) {
        const long long j = j0 + (long long)u * ATT_WARPS;
        if (j > hi) break;
        float s[GB];
        const float mask = a.mask ? load_in(a.tmask, a.mask, i * a.L_cap + j) : 0.0f;
#pragma unroll
        for (int g = 0; g < GB; g++) {
            float dot = 0.0f;
#pragma unroll
            for (int e = 0; e < E; e++) dot += lane * E + e < D ? qs[g][lane * E + e] * kf[u][e] : 0.0f;
#pragma unroll
            for (int off = 16; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
            dot *= a.scale;
            if (a.softcap > 0.0f) dot = a.softcap * tanhf(dot / a.softcap);
            s[g] = dot + mask;
        }
#pragma unroll
        for (int g = 0; g < GB; g++) {
            if (s[g] == -INFINITY) continue;
            float m_new = fmaxf(m[g], s[g]), alpha = __expf(m[g] - m_new), pe = __expf(s[g] - m_new);
#pragma unroll
            for (int e = 0; e < E; e++) acc[g][e] = acc[g][e] * alpha + pe * vf[u][e];
            l[g] = l[g] * alpha + pe;
            m[g] = m_new;
        }
        }
    }
    /* merge the warps */
#pragma unroll
    for (int g = 0; g < GB; g++) {
        if (lane == 0) sm[warp][g] = m[g], sl[warp][g] = l[g];
#pragma unroll
        for (int e = 0; e < E; e++)
            if (lane * E + e < D) sacc[warp][g][lane * E + e] = acc[g][e];
    }
    __syncthreads();
    for (int t = threadIdx.x; t < GB * D; t += blockDim.x) {
        int g = t / D, d = t % D;
        float mm = -INFINITY;
        for (int w = 0; w < ATT_WARPS; w++) mm = fmaxf(mm, sm[w][g]);
        float ll = 0.0f, aa = 0.0f;
        if (mm != -INFINITY)
            for (int w = 0; w < ATT_WARPS; w++) {
                float f = __expf(sm[w][g] - mm);
                ll += sl[w][g] * f;
                aa += sacc[w][g][d] * f;
            }
        emit(p, ws, split, hq0 + g, i, d, mm, ll, aa);
    }
}

/* o from the n_split partials at ws [split][Hq][M][att_part_stride(D)]; grid (Hq·M, column
 * chunks). A block's 128 threads are SL slice lanes × 128/SL float4 columns of acc (lane bits
 * 0-2 the column, bits 3-4 the slice lane; with SL 16 the warp picks 4 more slice lanes, with
 * SL 4 more columns). A thread merges slices sl, sl + SL, ... KR at a time, each round's loads
 * all in flight before any use (one L2 round trip up to KR·SL slices); the slice lanes then
 * merge by xor shuffles within the warp and, for SL 16, through smem in warp order. Every
 * thread's slices and every merge step are fixed: replays are bit-identical. The kernel lets
 * its dependents launch at once (they wait for its completion before reading anything). */
#define CMB_KR 4
template <int SL>
static __global__ void __launch_bounds__(128) attn_combine_kernel(att_params p, const float *ws) {
    static_assert(SL == 4 || SL == 16, "slice lanes");
    constexpr int COLS = 128 / SL; /* float4 columns per block */
    const mlxn_attention_args &a = p.a;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int sl = SL > 4 ? warp * 4 + (lane >> 3) : lane >> 3;
    const int col = (int)blockIdx.y * COLS + (SL > 4 ? 0 : warp * 8) + (lane & 7);
    const long long r = blockIdx.x, hq = r / a.M, i = r % a.M, rs = att_part_stride(a.D);
    const bool on = 4 * col < a.D;
    const size_t stride = (size_t)a.n_q_heads * a.M * rs; /* between slices */
    const float *b = ws + r * rs;
    mlxn_pdl_trigger();
    mlxn_pdl_wait(); /* the slice kernel's partials */
    float mm = -INFINITY, ll = 0.0f;
    float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    for (int s0 = sl; s0 < p.n_split; s0 += CMB_KR * SL) {
        float2 ml[CMB_KR];
        float4 x[CMB_KR];
#pragma unroll
        for (int k = 0; k < CMB_KR; k++) {
            const int s = s0 + k * SL;
            const float *pt = b + (size_t)s * stride;
            ml[k] = s < p.n_split ? __ldcg(reinterpret_cast<const float2 *>(pt)) : make_float2(-INFINITY, 0.0f);
            x[k] = s < p.n_split && on ? __ldcg(reinterpret_cast<const float4 *>(pt + 4) + col)
                                       : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        }
        float mn = mm;
#pragma unroll
        for (int k = 0; k < CMB_KR; k++) mn = fmaxf(mn, ml[k].x);
        if (mn == -INFINITY) continue;
        const float f = __expf(mm - mn);
        ll *= f, acc.x *= f, acc.y *= f, acc.z *= f, acc.w *= f;
#pragma unroll
        for (int k = 0; k < CMB_KR; k++) {
            const float fk = __expf(ml[k].x - mn);
            ll += ml[k].y * fk;
            acc.x += x[k].x * fk, acc.y += x[k].y * fk, acc.z += x[k].z * fk, acc.w += x[k].w * fk;
        }
        mm = mn;
    }
    /* (m, l, acc) of (mm, ll, acc) and another lane's, the same on both lanes of a pair */
    auto merge = [&](float m2, float l2, float4 a2) {
        const float mn = fmaxf(mm, m2);
        if (mn == -INFINITY) return;
        const float f1 = __expf(mm - mn), f2 = __expf(m2 - mn);
        ll = ll * f1 + l2 * f2;
        acc.x = acc.x * f1 + a2.x * f2, acc.y = acc.y * f1 + a2.y * f2;
        acc.z = acc.z * f1 + a2.z * f2, acc.w = acc.w * f1 + a2.w * f2;
        mm = mn;
    };
#pragma unroll
    for (int off = 8; off <= 16; off <<= 1) {
        const float m2 = __shfl_xor_sync(0xffffffffu, mm, off), l2 = __shfl_xor_sync(0xffffffffu, ll, off);
        float4 a2;
        a2.x = __shfl_xor_sync(0xffffffffu, acc.x, off), a2.y = __shfl_xor_sync(0xffffffffu, acc.y, off);
        a2.z = __shfl_xor_sync(0xffffffffu, acc.z, off), a2.w = __shfl_xor_sync(0xffffffffu, acc.w, off);
        merge(m2, l2, a2);
    }
    /* lane's element of its column: e = lane >> 3 */
    const int e = lane >> 3;
    if constexpr (SL == 4) {
        const float v = e == 0 ? acc.x : e == 1 ? acc.y : e == 2 ? acc.z : acc.w;
        if (on) finish(a, hq, i, 4 * col + e, mm, ll, v);
    } else {
        __shared__ float sm[4][8], sls[4][8];
        __shared__ float4 sa[4][8];
        if (e == 0) sm[warp][lane] = mm, sls[warp][lane] = ll, sa[warp][lane] = acc;
        __syncthreads();
        if (warp != 0) return;
        const int c = lane & 7;
        float m2 = -INFINITY;
#pragma unroll
        for (int w = 0; w < 4; w++) m2 = fmaxf(m2, sm[w][c]);
        float l2 = 0.0f, a2 = 0.0f;
        if (m2 != -INFINITY)
#pragma unroll
            for (int w = 0; w < 4; w++) {
                const float f = __expf(sm[w][c] - m2);
                const float4 x = sa[w][c];
                l2 += sls[w][c] * f;
                a2 += (e == 0 ? x.x : e == 1 ? x.y : e == 2 ? x.z : x.w) * f;
            }
        if (on) finish(a, hq, i, 4 * col + e, m2, l2, a2);
    }
}

/* Slices for a grid of `blocks` blocks of which `per_sm` fit one SM: enough to fill the GPU
 * once, each slice at least `min_keys` keys and a multiple of `align` keys. */
static void pick_split(const cuda_stream *s, att_params *p, long long blocks, int per_sm, long long min_keys, long long align) {
    const long long L_cap = p->a.L_cap, target = (long long)s->dev->prop.multiProcessorCount * per_sm;
    /* a grid within a quarter of full runs unsplit (a split's combine costs more than the gap) */
    long long n = 4 * blocks >= 3 * target ? 1 : (target + blocks - 1) / blocks;
    const long long max_n = (L_cap + min_keys - 1) / min_keys;
    if (n > max_n) n = max_n;
    if (n < 1) n = 1;
    long long chunk = (L_cap + n - 1) / n;
    chunk = (chunk + align - 1) / align * align;
    if (chunk < 1) chunk = 1;
    p->n_split = (int)((L_cap + chunk - 1) / chunk);
    if (p->n_split < 1) p->n_split = 1;
    p->chunk = p->n_split == 1 ? (L_cap > 0 ? L_cap : 1) : chunk;
}

static mlxn_status split_workspace(cuda_stream *s, const att_params &p, float **ws) {
    *ws = nullptr;
    if (p.n_split == 1) return MLXN_OK;
    void *w;
    mlxn_status st = mlxn_cuda_workspace(
        s, sizeof(float) * (size_t)p.n_split * (size_t)(p.a.n_q_heads * p.a.M * att_part_stride(p.a.D)), &w);
    *ws = static_cast<float *>(w);
    return st;
}


/* The combine kernel after a split kernel, launched as its programmatic dependent on sm_90 (its
 * blocks wait in mlxn_pdl_wait for the partials). */
static mlxn_status combine(cuda_stream *s, const att_params &p, const float *ws) {
    if (p.n_split == 1) return MLXN_OK;
    if (p.a.M * p.a.n_q_heads > 0x7fffffffLL) /* grid.x */
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "attention: M * n_q_heads = %lld > 2^31 - 1 on CUDA",
                        (long long)(p.a.M * p.a.n_q_heads));
    const unsigned rows = (unsigned)(p.a.M * p.a.n_q_heads);
    const bool pdl = mlxn_cuda_sm90(s->dev);
    if (p.n_split <= 2 * 4) /* 4 slice lanes: each thread at most 2 slices */
        return mlxn_cuda_launch(s->s, attn_combine_kernel<4>, dim3(rows, (unsigned)((p.a.D + 127) / 128)), dim3(128), 0, 1,
                                pdl, p, ws);
    return mlxn_cuda_launch(s->s, attn_combine_kernel<16>, dim3(rows, (unsigned)((p.a.D + 31) / 32)), dim3(128), 0, 1, pdl,
                            p, ws);
}

template <int D>
static mlxn_status launch_simt(cuda_stream *s, const mlxn_attention_args *a) {
    const long long G = a->n_q_heads / a->n_kv_heads;
    /* heads per block: as many of the group as the accumulators allow (GB · D/32 <= 32) */
    int gb = 1;
    while (gb * 2 <= 8 && G % (gb * 2) == 0 && gb * 2 * ((D + 31) / 32) <= 32) gb *= 2;
    att_params p;
    p.a = *a;
    pick_split(s, &p, a->M * (a->n_q_heads / gb), 2, 128, 1);
    float *ws;
    mlxn_status st = split_workspace(s, p, &ws);
    if (st) return st;
    if (a->M > 65535) return mlxn_err(MLXN_ERR_UNSUPPORTED, "attention: M=%lld > 65535 on CUDA", (long long)a->M);
    dim3 grid((unsigned)a->M, (unsigned)(a->n_q_heads / gb), (unsigned)p.n_split);
    constexpr int E = (D + 31) / 32; /* instances only where GB · E <= 32 */
    if (gb == 1) attn_split_kernel<D, 1><<<grid, ATT_WARPS * 32, 0, s->s>>>(p, ws);
    if constexpr (2 * E <= 32) if (gb == 2) attn_split_kernel<D, 2><<<grid, ATT_WARPS * 32, 0, s->s>>>(p, ws);
    if constexpr (4 * E <= 32) if (gb == 4) attn_split_kernel<D, 4><<<grid, ATT_WARPS * 32, 0, s->s>>>(p, ws);
    if constexpr (8 * E <= 32) if (gb == 8) attn_split_kernel<D, 8><<<grid, ATT_WARPS * 32, 0, s->s>>>(p, ws);
    MLXN_CUDA_CHECK_LAUNCH();
    return combine(s, p, ws);
}

/* Decode launch choices (the dev bench varies them; the library takes the defaults): slices
 * merged in a cluster up to cl_max, else by the combine kernel; programmatic dependent launch
 * (pdl) on sm_90. */
struct att_dec_opts {
    int cl_max = 8;
    bool pdl = true;
};

/* The tensor-core kernel: instance C with operand types TK (Q·Kᵀ) and TV (P·V). Decode shapes
 * (WK > 1) on sm_90 with 2..cl_max slices merge them inside a thread-block cluster; more
 * slices go through the workspace and the combine kernel (clusters of 8 or 16 larger slices,
 * and the last slice block of a KV head merging the others' partials, measured slower on
 * H100: dev/attention/NOTES.md). */
template <class C, typename TK, typename TV, int Q8>
static mlxn_status launch_mma_q(cuda_stream *s, const mlxn_attention_args *a, att_dec_opts o) {
    auto kern = attn_mma_kernel<C, TK, TV, false, Q8>;
    const bool kq8 = a->tk == MLXN_TYPE_Q8_0, vq8 = a->tv == MLXN_TYPE_Q8_0;
    if ((kq8 && a->k_row_bytes != (size_t)C::RB) || (vq8 && a->v_row_bytes != (size_t)C::RB))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "attention: Q8_0 rows of %zu / %zu bytes at D=%d, want %d", a->k_row_bytes,
                        a->v_row_bytes, C::D, C::RB);
    const size_t smem = C::smem(kq8, vq8);
    static std::atomic<unsigned long long> raised; /* the smem limit, raised per device to its largest use */
    const size_t most = C::smem(true, true) > C::smem(false, false) ? C::smem(true, true) : C::smem(false, false);
    if (mlxn_status st_ = mlxn_cuda_raise_smem(kern, most, s->dev, "attention", raised); st_ != MLXN_OK) return st_;
    int per_sm = 1;
    MLXN_CUDA_TRY(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kern, C::NT, smem));
    if (per_sm < 1) per_sm = 1;
    const long long G = a->n_q_heads / a->n_kv_heads, row_tiles = (a->M * G + C::BR - 1) / C::BR;
    att_params p;
    p.a = *a;
    /* decode slices down to one tile: more blocks put more SMs on the stream and work on their
     * tiles side by side (a block issues its first ST - 1 tiles at once, so two-tile slices
     * gain no overlap of loads over one-tile slices) */
    pick_split(s, &p, row_tiles * a->n_kv_heads, per_sm, C::WK > 1 ? C::BC : 2 * C::BC, C::BC);
    const dim3 grid((unsigned)row_tiles, (unsigned)a->n_kv_heads, (unsigned)p.n_split);
    const bool sm90 = mlxn_cuda_sm90(s->dev), pdl = o.pdl && sm90;
    if constexpr (C::WK > 1) {
        if (p.n_split >= 2 && p.n_split <= (o.cl_max < 8 ? o.cl_max : 8) && sm90) {
            auto kcl = attn_mma_kernel<C, TK, TV, true, Q8>;
            static std::atomic<unsigned long long> raised_cl;
            const size_t most_cl = smem_cl<C>(true, true) > smem_cl<C>(false, false) ? smem_cl<C>(true, true) : smem_cl<C>(false, false);
            if (mlxn_status st_ = mlxn_cuda_raise_smem(kcl, most_cl, s->dev, "attention", raised_cl); st_ != MLXN_OK) return st_;
            return mlxn_cuda_launch(s->s, kcl, grid, dim3(C::NT), smem_cl<C>(kq8, vq8), (unsigned)p.n_split, pdl, p,
                                    (float *)nullptr);
        }
    }
    float *ws;
    mlxn_status st = split_workspace(s, p, &ws);
    if (st) return st;
    if (mlxn_status st_ = mlxn_cuda_launch(s->s, kern, grid, dim3(C::NT), smem, 1, pdl && C::WK > 1, p, ws); st_ != MLXN_OK)
        return st_;
    return combine(s, p, ws);
}

/* A Q8_0 cache goes through f16, so the Q8 instances have at least one f16 operand type. */
template <class C, typename TK, typename TV>
static mlxn_status launch_mma_t(cuda_stream *s, const mlxn_attention_args *a, att_dec_opts o = {}) {
    if constexpr (std::is_same<TK, __half>::value && std::is_same<TV, __half>::value)
        if (a->tk == MLXN_TYPE_Q8_0 && a->tv == MLXN_TYPE_Q8_0) return launch_mma_q<C, TK, TV, 2>(s, a, o);
    if constexpr (std::is_same<TK, __half>::value || std::is_same<TV, __half>::value)
        if (a->tk == MLXN_TYPE_Q8_0 || a->tv == MLXN_TYPE_Q8_0) return launch_mma_q<C, TK, TV, 1>(s, a, o);
    return launch_mma_q<C, TK, TV, 0>(s, a, o);
}

/* The wgmma kernel: instance C with K, V and operands of type T. */
template <class C, typename T>
static mlxn_status launch_wgmma_t(cuda_stream *s, const mlxn_attention_args *a) {
    auto kern = attn_wgmma_kernel<C, T>;
    const size_t smem = C::smem();
    static std::atomic<unsigned long long> raised;
    if (mlxn_status st_ = mlxn_cuda_raise_smem(kern, smem, s->dev, "attention", raised); st_ != MLXN_OK) return st_;
    int per_sm = 1;
    MLXN_CUDA_TRY(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kern, C::NT, smem));
    if (per_sm < 1) per_sm = 1;
    const long long G = a->n_q_heads / a->n_kv_heads, row_tiles = (a->M * G + C::BR - 1) / C::BR;
    CUtensorMap mk, mv;
    const wg_encode_fn enc = wg_encoder();
    CUresult r = wg_map(enc, &mk, a->k, a->tk, a->D, a->L_cap, a->n_kv_heads, a->k_row_bytes, C::BC);
    if (r == CUDA_SUCCESS) r = wg_map(enc, &mv, a->v, a->tv, a->D, a->L_cap, a->n_kv_heads, a->v_row_bytes, C::BC);
    if (r != CUDA_SUCCESS) return mlxn_err(MLXN_ERR_DEVICE, "attention: cuTensorMapEncodeTiled failed (%d)", (int)r);
    att_params p;
    p.a = *a;
    pick_split(s, &p, row_tiles * a->n_kv_heads, per_sm, 2 * C::BC, C::BC);
    float *ws;
    mlxn_status st = split_workspace(s, p, &ws);
    if (st) return st;
    kern<<<dim3((unsigned)row_tiles, (unsigned)a->n_kv_heads, (unsigned)p.n_split), C::NT, smem, s->s>>>(p, ws, mk, mv);
    MLXN_CUDA_CHECK_LAUNCH();
    return combine(s, p, ws);
}

template <class C>
static mlxn_status launch_mma(cuda_stream *s, const mlxn_attention_args *a, att_dec_opts o = {}) {
    const bool kb = a->tk == MLXN_TYPE_BF16, vb = a->tv == MLXN_TYPE_BF16; /* Q8_0 goes through f16 */
    if (kb && vb) return launch_mma_t<C, __nv_bfloat16, __nv_bfloat16>(s, a, o);
    if (kb) return launch_mma_t<C, __nv_bfloat16, __half>(s, a, o);
    if (vb) return launch_mma_t<C, __half, __nv_bfloat16>(s, a, o);
    return launch_mma_t<C, __half, __half>(s, a, o);
}

/* Tile shapes. Decode (at most 16 rows of query × group head): one m-tile, 4 warps splitting
 * each 64-key tile, 3 stages in flight (2 above D 128 for smem). Prefill: 128 rows a block, 8
 * warps of 16 rows, 64-key tiles, 2 stages; Q fragments in registers up to D 128 (above that
 * the f32 accumulators need them). Measured on H100 against 32-row warps (which spill at D 128)
 * and 32-key tiles: see dev/attention/NOTES.md. */
template <int D> using cfg_dec = mma_cfg<D, 1, 1, 4, 64, D <= 128 ? 3 : 2, D <= 128>;
template <int D> using cfg_pre = mma_cfg<D, 1, 8, 1, 64, 2, D <= 128>;
/* Decode over long Q8_0 caches (both K and V, D <= 128) where L_cap · n_kv_heads >= 2^18: three
 * blocks an SM (168 registers, two raw stages: 74 KB of smem at D 128), more warps for the
 * dequantization's latency, and slices of about 10 tiles or more. H200, L 32768, us against two
 * blocks an SM: Gemma-3-27B (16 KV heads, 21 tiles a slice) 70.0 -> 63.0, Llama-3-8B (8, 11)
 * 37.9 -> 36.4; below the line Qwen3-30B-A3B (4 KV heads, 6 tiles) 22.1 -> 24.1, and at
 * L_cap 2048-8192 (2-6 tiles) up to 1.9 us slower (dev/attention/NOTES.md). */
template <int D> using cfg_dec_q8l = mma_cfg<D, 1, 1, 4, 64, 2, true, 3>;

/* wgmma prefill: 2 consumer warpgroups (128 rows) and a producer; 128-key tiles up to D 128,
 * 64 above (registers); 2 stages (3 measured no faster at D 128; D 64 takes 3). */
template <int D> using cfg_wg = wg_cfg<D, D <= 128 ? 128 : 64, D == 64 ? 3 : 2>;

/* The wgmma kernel runs where the library holds sm_90a code, the device is compute 9.0 and the
 * driver encodes TMA maps. */
static bool has_wgmma(const cuda_stream *s) {
#ifdef MLXN_BUILD_CUDA_ARCHS
    return s->dev->prop.major == 9 && s->dev->prop.minor == 0 && strstr(MLXN_BUILD_CUDA_ARCHS, "90a") != nullptr &&
           wg_encoder() != nullptr;
#else
    return false;
#endif
}

/* Path by shape: D 512 -> SIMT; at most 16 rows (query × group head) -> the mma.sync decode
 * shape; more rows -> wgmma where available for D 64/128/256 with K and V both f16 or both
 * bf16, else the mma.sync prefill shape. */
template <int D>
static mlxn_status launch_d(cuda_stream *s, const mlxn_attention_args *a) {
    if constexpr (D == 512) {
        return launch_simt<D>(s, a);
    } else {
        if (a->n_kv_heads > 65535) /* grid.y */
            return mlxn_err(MLXN_ERR_UNSUPPORTED, "attention: n_kv_heads=%lld > 65535 on CUDA", (long long)a->n_kv_heads);
        if (a->L_cap > ((long long)1 << 30)) /* keys are int in the tensor-core kernels */
            return mlxn_err(MLXN_ERR_UNSUPPORTED, "attention: L_cap=%lld > 2^30 on CUDA", (long long)a->L_cap);
        const long long rows = a->M * (a->n_q_heads / a->n_kv_heads);
        if constexpr (D <= 128)
            if (rows <= 16 && a->tk == MLXN_TYPE_Q8_0 && a->tv == MLXN_TYPE_Q8_0 && a->L_cap * a->n_kv_heads >= (1 << 18))
                return launch_mma_q<cfg_dec_q8l<D>, __half, __half, 2>(s, a, {});
        if (rows <= 16) return launch_mma<cfg_dec<D>>(s, a);
        if constexpr (D == 64 || D == 128 || D == 256) {
            if (has_wgmma(s) && a->tk == a->tv && a->tk == MLXN_TYPE_F16) return launch_wgmma_t<cfg_wg<D>, __half>(s, a);
            if (has_wgmma(s) && a->tk == a->tv && a->tk == MLXN_TYPE_BF16)
                return launch_wgmma_t<cfg_wg<D>, __nv_bfloat16>(s, a);
        }
        return launch_mma<cfg_pre<D>>(s, a);
    }
}

extern "C" mlxn_status mlxn_cuda_attention(void *stream, const mlxn_attention_args *a) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    MLXN_CUDA_TRY(cudaSetDevice(s->dev->ordinal));
    switch (a->D) {
    case 64: return launch_d<64>(s, a);
    case 80: return launch_d<80>(s, a);
    case 96: return launch_d<96>(s, a);
    case 128: return launch_d<128>(s, a);
    case 192: return launch_d<192>(s, a);
    case 256: return launch_d<256>(s, a);
    case 512: return launch_d<512>(s, a);
    default: return mlxn_err(MLXN_ERR_UNSUPPORTED, "attention: D=%lld on CUDA", (long long)a->D);
    }
}
