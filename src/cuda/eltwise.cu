/* CUDA elementwise: y[i] = f(a[i], b[i mod nb]) · scale + bias. Each thread takes 8
 * consecutive elements per step: 16-byte loads and stores where the pointers allow, and
 * the same f32 arithmetic as the CPU backend (no FMA contraction), so results match it. */
#include "cuda/cuda_common.cuh"

#define ELT_VEC 8

/* 8 elements through 16-byte accesses (two for f32). p must be 16-byte aligned. */
static __device__ __forceinline__ void load8(const float *p, float (&v)[ELT_VEC]) {
    float4 x = reinterpret_cast<const float4 *>(p)[0], y = reinterpret_cast<const float4 *>(p)[1];
    v[0] = x.x, v[1] = x.y, v[2] = x.z, v[3] = x.w, v[4] = y.x, v[5] = y.y, v[6] = y.z, v[7] = y.w;
}
template <typename T> static __device__ __forceinline__ void load8(const T *p, float (&v)[ELT_VEC]) {
    uint4 raw = *reinterpret_cast<const uint4 *>(p);
    const T *h = reinterpret_cast<const T *>(&raw);
#pragma unroll
    for (int k = 0; k < ELT_VEC; k++) v[k] = mlxn_to_f32(h[k]);
}
static __device__ __forceinline__ void store8(float *p, const float (&v)[ELT_VEC]) {
    reinterpret_cast<float4 *>(p)[0] = make_float4(v[0], v[1], v[2], v[3]);
    reinterpret_cast<float4 *>(p)[1] = make_float4(v[4], v[5], v[6], v[7]);
}
template <typename T> static __device__ __forceinline__ void store8(T *p, const float (&v)[ELT_VEC]) {
    uint4 raw;
    T *h = reinterpret_cast<T *>(&raw);
#pragma unroll
    for (int k = 0; k < ELT_VEC; k++) h[k] = mlxn_from_f32<T>(v[k]);
    *reinterpret_cast<uint4 *>(p) = raw;
}

struct elt_params {
    mlxn_eltwise_op op;
    long long n, nb;
    float scale, bias;
    int affine;
    int vec_ok; /* every pointer 16-byte aligned and nb a multiple of 8: vector accesses */
};

static __device__ __forceinline__ float elt_apply(const elt_params &p, float a, float b) {
    float v = p.op == MLXN_ELTWISE_ADD ? __fadd_rn(a, b) : p.op == MLXN_ELTWISE_MUL ? __fmul_rn(a, b) : a;
    return p.affine ? __fadd_rn(__fmul_rn(v, p.scale), p.bias) : v;
}

template <typename TA, typename TB, typename TY>
static __global__ void eltwise_kernel(const TA *__restrict__ a, const TB *__restrict__ b, TY *y, elt_params p) {
    const long long stride = (long long)gridDim.x * blockDim.x * ELT_VEC;
    for (long long i0 = ((long long)blockIdx.x * blockDim.x + threadIdx.x) * ELT_VEC; i0 < p.n; i0 += stride) {
        const long long j0 = p.nb == p.n ? i0 : i0 % p.nb;
        if (p.vec_ok && i0 + ELT_VEC <= p.n) {
            float va[ELT_VEC], vb[ELT_VEC];
            load8(a + i0, va);
            if (p.op != MLXN_ELTWISE_COPY) load8(b + j0, vb);
#pragma unroll
            for (int k = 0; k < ELT_VEC; k++) va[k] = elt_apply(p, va[k], p.op != MLXN_ELTWISE_COPY ? vb[k] : 0.0f);
            store8(y + i0, va);
        } else {
            for (long long i = i0, j = j0; i < i0 + ELT_VEC && i < p.n; i++, j = j + 1 == p.nb ? 0 : j + 1) {
                float vb = p.op != MLXN_ELTWISE_COPY ? mlxn_to_f32(b[j]) : 0.0f;
                y[i] = mlxn_from_f32<TY>(elt_apply(p, mlxn_to_f32(a[i]), vb));
            }
        }
    }
}

static bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

extern "C" mlxn_status mlxn_cuda_eltwise(void *stream, const mlxn_eltwise_args *a) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    MLXN_CUDA_TRY(cudaSetDevice(s->dev->ordinal));
    elt_params p = {a->op, (long long)a->n, (long long)a->nb, a->scale, a->bias, a->affine, 0};
    p.vec_ok = aligned16(a->a) && aligned16(a->y) && (!a->b || aligned16(a->b)) && a->nb % ELT_VEC == 0;
    const unsigned threads = 256;
    const unsigned grid = mlxn_grid_for(s->dev, (p.n + ELT_VEC - 1) / ELT_VEC, threads);
    /* COPY has no b: instantiate it with TB = TA rather than a separate set. */
    mlxn_type tb = a->op == MLXN_ELTWISE_COPY ? a->ta : a->tb;
    return mlxn_dispatch_float(a->ta, [&](auto ta) {
        return mlxn_dispatch_float(tb, [&](auto tbv) {
            return mlxn_dispatch_float(a->ty, [&](auto ty) {
                using TA = decltype(ta);
                using TB = decltype(tbv);
                using TY = decltype(ty);
                eltwise_kernel<TA, TB, TY><<<grid, threads, 0, s->s>>>(
                    static_cast<const TA *>(a->a), static_cast<const TB *>(a->b), static_cast<TY *>(a->y), p);
                MLXN_CUDA_CHECK_LAUNCH();
                return MLXN_OK;
            });
        });
    });
}
