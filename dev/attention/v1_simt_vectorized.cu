/* CUDA attention, flash-decoding: each block takes one query, GB query heads of one KV group
 * and one slice of the keys; its 4 warps walk the slice's keys in turn with an online softmax
 * per head, then merge in shared memory. With several slices the partial (max, sum, acc) go
 * to the stream workspace and a second kernel combines them; with one, the block writes o.
 * The slice count depends on shapes (L_cap, not L) so a recorded graph stays valid. */
#include <math.h>

#include "cuda/cuda_common.cuh"

#define ATT_WARPS 4

struct att_params {
    mlxn_attention_args a;
    int n_split;
    long long chunk; /* keys per slice */
};

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

static __device__ __forceinline__ float load_in(mlxn_type t, const void *base, long long idx) {
    if (t == MLXN_TYPE_F16) return __half2float(static_cast<const __half *>(base)[idx]);
    if (t == MLXN_TYPE_BF16) return __bfloat162float(static_cast<const __nv_bfloat16 *>(base)[idx]);
    return static_cast<const float *>(base)[idx];
}

static __device__ __forceinline__ void store_out(mlxn_type t, void *base, long long idx, float v) {
    if (t == MLXN_TYPE_F16) static_cast<__half *>(base)[idx] = __float2half_rn(v);
    else if (t == MLXN_TYPE_BF16) static_cast<__nv_bfloat16 *>(base)[idx] = __float2bfloat16_rn(v);
    else static_cast<float *>(base)[idx] = v;
}

static __device__ __forceinline__ long long kv_count(const mlxn_attention_args &a) {
    if (!a.kv_len) return a.L_cap;
    long long l = *a.kv_len;
    return l < 0 ? 0 : l > a.L_cap ? a.L_cap : l;
}

/* o for one (head, query) from its merged (m, l, acc), with the sink if any. */
static __device__ __forceinline__ void finish(const mlxn_attention_args &a, long long hq, long long i, int d, float m,
                                              float l, float acc) {
    float scale_acc = 1.0f;
    if (a.sinks) {
        float sink = a.sinks[hq], m_new = fmaxf(sink, m);
        scale_acc = m == -INFINITY ? 0.0f : __expf(m - m_new);
        l = l * scale_acc + __expf(sink - m_new);
    }
    float v = l > 0.0f ? acc * scale_acc / l : 0.0f;
    long long idx = a.out_layout == MLXN_ATTN_OUT_MHD ? (i * a.n_q_heads + hq) * a.D + d : (hq * a.M + i) * a.D + d;
    store_out(a.to, a.o, idx, v);
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
        const long long hq = hq0 + g;
        if (p.n_split == 1) {
            finish(a, hq, i, d, mm, ll, aa);
        } else { /* ws: [split][Hq][M][D + 2] */
            float *part = ws + (((long long)split * a.n_q_heads + hq) * a.M + i) * (D + 2);
            part[2 + d] = aa;
            if (d == 0) part[0] = mm, part[1] = ll;
        }
    }
}

template <int D>
static __global__ void attn_combine_kernel(att_params p, const float *ws) {
    const mlxn_attention_args &a = p.a;
    const long long i = blockIdx.x, hq = blockIdx.y;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float mm = -INFINITY;
        for (int s = 0; s < p.n_split; s++) mm = fmaxf(mm, ws[(((long long)s * a.n_q_heads + hq) * a.M + i) * (D + 2)]);
        float ll = 0.0f, aa = 0.0f;
        if (mm != -INFINITY)
            for (int s = 0; s < p.n_split; s++) {
                const float *part = ws + (((long long)s * a.n_q_heads + hq) * a.M + i) * (D + 2);
                float f = __expf(part[0] - mm);
                ll += part[1] * f;
                aa += part[2 + d] * f;
            }
        finish(a, hq, i, d, mm, ll, aa);
    }
}

template <int D>
static mlxn_status launch_d(cuda_stream *s, const mlxn_attention_args *a) {
    const long long G = a->n_q_heads / a->n_kv_heads;
    /* heads per block: as many of the group as the accumulators allow (GB · D/32 <= 32) */
    int gb = 1;
    while (gb * 2 <= 8 && G % (gb * 2) == 0 && gb * 2 * ((D + 31) / 32) <= 32) gb *= 2;
    att_params p;
    p.a = *a;
    const long long blocks = a->M * (a->n_q_heads / gb), target = 2LL * s->dev->prop.multiProcessorCount;
    long long n_split = blocks >= target ? 1 : (target + blocks - 1) / blocks;
    long long max_split = (a->L_cap + 127) / 128; /* at least 128 keys a slice */
    if (n_split > max_split) n_split = max_split;
    if (n_split < 1) n_split = 1;
    p.n_split = (int)n_split;
    p.chunk = (a->L_cap + n_split - 1) / n_split;
    if (p.chunk < 1) p.chunk = 1;
    float *ws = nullptr;
    if (n_split > 1) {
        void *w;
        mlxn_status st = mlxn_cuda_workspace(s, sizeof(float) * (size_t)(n_split * a->n_q_heads * a->M * (D + 2)), &w);
        if (st) return st;
        ws = static_cast<float *>(w);
    }
    if (a->M > 65535) return mlxn_err(MLXN_ERR_UNSUPPORTED, "attention: M=%lld > 65535 on CUDA", (long long)a->M);
    dim3 grid((unsigned)a->M, (unsigned)(a->n_q_heads / gb), (unsigned)n_split);
    constexpr int E = (D + 31) / 32; /* instances only where GB · E <= 32 */
    if (gb == 1) attn_split_kernel<D, 1><<<grid, ATT_WARPS * 32, 0, s->s>>>(p, ws);
    if constexpr (2 * E <= 32) if (gb == 2) attn_split_kernel<D, 2><<<grid, ATT_WARPS * 32, 0, s->s>>>(p, ws);
    if constexpr (4 * E <= 32) if (gb == 4) attn_split_kernel<D, 4><<<grid, ATT_WARPS * 32, 0, s->s>>>(p, ws);
    if constexpr (8 * E <= 32) if (gb == 8) attn_split_kernel<D, 8><<<grid, ATT_WARPS * 32, 0, s->s>>>(p, ws);
    MLXN_CUDA_CHECK_LAUNCH();
    if (n_split > 1) {
        attn_combine_kernel<D><<<dim3((unsigned)a->M, (unsigned)a->n_q_heads), D < 256 ? D : 256, 0, s->s>>>(p, ws);
        MLXN_CUDA_CHECK_LAUNCH();
    }
    return MLXN_OK;
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
