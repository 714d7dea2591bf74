/* CUDA RoPE: a block takes one token and a group of its heads. Its threads first compute
 * mscale·cos θ and mscale·sin θ of the token's pairs into shared memory, then rotate
 * 8-element chunks of the heads (NEOX: a chunk of the first half with its partner chunk
 * in the second) and copy the dims past n_rot. */
#include "cuda/rowops.cuh"

struct rope_geo {
    int heads_per_block;
    int units;          /* chunks of work per head */
    int units_rot;      /* NEOX: those that rotate a first-half chunk and its partner */
    bool vec, vec_half, vec_pass; /* 16-byte accesses at head starts, at +n_rot/2, at +n_rot */
};

template <typename TX, typename TY>
static __global__ void rope_kernel(const __grid_constant__ mlxn_rope_args a, const rope_geo g) {
    __shared__ float cs[MLXN_ROPE_MAX_PAIRS], sn[MLXN_ROPE_MAX_PAIRS];
    const long long t = blockIdx.x;
    const int half = (int)(a.n_rot / 2), D = (int)a.D;
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        float theta = (float)a.pos[(long long)a.stream[i] * a.T + t] * a.freq[i];
        if (a.ff) theta = theta / a.ff[i];
        float sv, cv;
        sincosf(theta, &sv, &cv);
        cs[i] = cv * a.mscale;
        sn[i] = sv * a.mscale;
    }
    __syncthreads();
    const long long h0 = (long long)blockIdx.y * g.heads_per_block;
    const int nh = (int)(a.H - h0 < g.heads_per_block ? a.H - h0 : g.heads_per_block);
    for (int item = threadIdx.x; item < nh * g.units; item += blockDim.x) {
        const int hh = item / g.units, u = item - hh * g.units;
        const TX *x = static_cast<const TX *>(a.x) + t * a.x_stride + (h0 + hh) * a.D;
        TY *y = static_cast<TY *>(a.y) + (t * a.H + h0 + hh) * a.D;
        float v[ROW_VEC], w[ROW_VEC];
        if (a.neox && u < g.units_rot) {
            const int e0 = ROW_VEC * u, valid = half - e0 < ROW_VEC ? half - e0 : ROW_VEC;
            row_ld8(x + e0, valid, g.vec, v);
            row_ld8(x + half + e0, valid, g.vec_half, w);
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) {
                const int i = e0 + k < half ? e0 + k : 0;
                const float x0 = v[k], x1 = w[k];
                v[k] = x0 * cs[i] - x1 * sn[i];
                w[k] = x0 * sn[i] + x1 * cs[i];
            }
            row_st8(y + e0, valid, g.vec, v);
            row_st8(y + half + e0, valid, g.vec_half, w);
        } else {
            const int e0 = a.neox ? (int)a.n_rot + ROW_VEC * (u - g.units_rot) : ROW_VEC * u;
            const int valid = D - e0 < ROW_VEC ? D - e0 : ROW_VEC;
            const bool vec = a.neox ? g.vec_pass : g.vec;
            row_ld8(x + e0, valid, vec, v);
            if (!a.neox) {
#pragma unroll
                for (int k = 0; k < ROW_VEC; k += 2) {
                    const int e = e0 + k, i = e < a.n_rot ? e / 2 : 0;
                    if (e < a.n_rot) {
                        const float x0 = v[k], x1 = v[k + 1];
                        v[k] = x0 * cs[i] - x1 * sn[i];
                        v[k + 1] = x0 * sn[i] + x1 * cs[i];
                    }
                }
            }
            row_st8(y + e0, valid, vec, v);
        }
    }
}

extern "C" mlxn_status mlxn_cuda_rope(void *stream, const mlxn_rope_args *a) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    MLXN_CUDA_TRY(cudaSetDevice(s->dev->ordinal));
    const long long half = a->n_rot / 2;
    rope_geo g;
    if (a->neox) {
        g.units_rot = (int)((half + ROW_VEC - 1) / ROW_VEC);
        g.units = g.units_rot + (int)((a->D - a->n_rot + ROW_VEC - 1) / ROW_VEC);
    } else {
        g.units_rot = 0;
        g.units = (int)((a->D + ROW_VEC - 1) / ROW_VEC);
    }
    const int threads = 256;
    long long hpb = 2 * threads / g.units;
    g.heads_per_block = (int)(hpb < 1 ? 1 : hpb > a->H ? a->H : hpb);
    const size_t ex = row_esize(a->tx), ey = row_esize(a->ty);
    g.vec = row_aligned16(a->x) && row_aligned16(a->y) && row_aligned_count(a->x_stride, ex) &&
            row_aligned_count(a->D, ex) && row_aligned_count(a->D, ey);
    g.vec_half = g.vec && row_aligned_count(half, ex) && row_aligned_count(half, ey);
    g.vec_pass = g.vec && row_aligned_count(a->n_rot, ex) && row_aligned_count(a->n_rot, ey);
    const dim3 grid((unsigned)a->T, (unsigned)((a->H + g.heads_per_block - 1) / g.heads_per_block));
    if (a->T > 0x7fffffffLL || grid.y > 65535u)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "rope: %lld tokens of %lld heads is past the CUDA grid", (long long)a->T,
                        (long long)a->H);
    return mlxn_dispatch_float(a->tx, [&](auto tx) {
        return mlxn_dispatch_float(a->ty, [&](auto ty) {
            using TX = decltype(tx);
            using TY = decltype(ty);
            rope_kernel<TX, TY><<<grid, threads, 0, s->s>>>(*a, g);
            MLXN_CUDA_CHECK_LAUNCH();
            return MLXN_OK;
        });
    });
}
