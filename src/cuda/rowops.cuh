/* What the CUDA row ops (norm, softmax, rope, act) share: 8-element chunks moved through
 * 16-byte accesses where alignment allows, typed or with the type chosen at run time; team
 * reductions; and the geometry that gives each row (segment) a team of G threads keeping NV
 * chunks each in registers, so a row is read from memory once. */
#pragma once

#include <type_traits>

#include "cuda/cuda_common.cuh"

#define ROW_VEC 8 /* elements per chunk: 16 bytes of a 16-bit type, 32 of f32 */

/* v[0..8) = p[0..valid) widened, zeros past valid. vec: p is 16-byte aligned. */
template <typename T>
static __device__ __forceinline__ void row_ld8(const T *p, int valid, bool vec, float (&v)[ROW_VEC]) {
    if (vec && valid == ROW_VEC) {
        if constexpr (sizeof(T) == 4) {
            float4 a = reinterpret_cast<const float4 *>(p)[0], b = reinterpret_cast<const float4 *>(p)[1];
            v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
        } else {
            uint4 raw = *reinterpret_cast<const uint4 *>(p);
            const T *h = reinterpret_cast<const T *>(&raw);
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) v[k] = mlxn_to_f32(h[k]);
        }
    } else {
#pragma unroll
        for (int k = 0; k < ROW_VEC; k++) v[k] = k < valid ? mlxn_to_f32(p[k]) : 0.0f;
    }
}

/* p[0..valid) = v rounded to T. */
template <typename T>
static __device__ __forceinline__ void row_st8(T *p, int valid, bool vec, const float (&v)[ROW_VEC]) {
    if (vec && valid == ROW_VEC) {
        if constexpr (sizeof(T) == 4) {
            reinterpret_cast<float4 *>(p)[0] = make_float4(v[0], v[1], v[2], v[3]);
            reinterpret_cast<float4 *>(p)[1] = make_float4(v[4], v[5], v[6], v[7]);
        } else {
            uint4 raw;
            T *h = reinterpret_cast<T *>(&raw);
#pragma unroll
            for (int k = 0; k < ROW_VEC; k++) h[k] = mlxn_from_f32<T>(v[k]);
            *reinterpret_cast<uint4 *>(p) = raw;
        }
    } else {
#pragma unroll
        for (int k = 0; k < ROW_VEC; k++)
            if (k < valid) p[k] = mlxn_from_f32<T>(v[k]);
    }
}

/* A chunk's bits as loaded (16 bytes of a 16-bit type, 32 of f32): a thread issues the loads
 * of all its chunks before it widens any, so they are in flight together, at half the
 * registers of widened 16-bit values. p is 16-byte aligned and all 8 elements are in the row. */
template <typename T> struct row_raw {
    uint4 w[sizeof(T) / 2];
};

template <typename T> static __device__ __forceinline__ void row_ld_raw(const T *p, row_raw<T> &r) {
#pragma unroll
    for (int i = 0; i < (int)(sizeof(T) / 2); i++) r.w[i] = reinterpret_cast<const uint4 *>(p)[i];
}

template <typename T> static __device__ __forceinline__ void row_unpack(const row_raw<T> &r, float (&v)[ROW_VEC]) {
    if constexpr (sizeof(T) == 4) {
#pragma unroll
        for (int i = 0; i < 2; i++) {
            v[4 * i] = __uint_as_float(r.w[i].x), v[4 * i + 1] = __uint_as_float(r.w[i].y);
            v[4 * i + 2] = __uint_as_float(r.w[i].z), v[4 * i + 3] = __uint_as_float(r.w[i].w);
        }
    } else {
        const T *h = reinterpret_cast<const T *>(&r.w[0]);
#pragma unroll
        for (int k = 0; k < ROW_VEC; k++) v[k] = mlxn_to_f32(h[k]);
    }
}

/* The same for an operand whose type is a run-time value (weights, bias, residual, mask:
 * three more template parameters would multiply the instances by 27). off in elements. */
static __device__ __forceinline__ void row_ld8_any(mlxn_type t, const void *base, long long off, int valid, bool vec,
                                                   float (&v)[ROW_VEC]) {
    if (t == MLXN_TYPE_F16) row_ld8(static_cast<const __half *>(base) + off, valid, vec, v);
    else if (t == MLXN_TYPE_BF16) row_ld8(static_cast<const __nv_bfloat16 *>(base) + off, valid, vec, v);
    else row_ld8(static_cast<const float *>(base) + off, valid, vec, v);
}

/* v rounded to T and widened back: what a store of v to T would hold. */
template <typename T> static __device__ __forceinline__ void row_round8(float (&v)[ROW_VEC]) {
#pragma unroll
    for (int k = 0; k < ROW_VEC; k++) v[k] = mlxn_to_f32(mlxn_from_f32<T>(v[k]));
}

/* 1/x through PTX's rcp.approx (MUFU.RCP, no refinement: about 1 ulp); subnormals flush to zero */
static __device__ __forceinline__ float row_rcp_approx(float x) {
    float y;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

/* 2^x through PTX's ex2.approx (MUFU.EX2: about 2 ulp), subnormal results kept (no .ftz) */
static __device__ __forceinline__ float row_exp2_approx(float x) {
    float y;
    asm("ex2.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

struct row_sum_op {
    static constexpr float identity = 0.0f;
    __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
};
struct row_max_op {
    static constexpr float identity = -INFINITY;
    __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

/* The reduction of v over a team of G threads (a power of two <= 32 inside a warp, or the
 * whole block when G = blockDim.x > 32, a multiple of 32); every thread gets the result.
 * Every thread of the block must call it. The order is fixed: results repeat exactly. */
template <typename Op> static __device__ __forceinline__ float row_team_reduce(float v, int G, Op op) {
    const int w = G < 32 ? G : 32;
    for (int o = w / 2; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    if (G <= 32) return v;
    __shared__ float red[32];
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    __syncthreads(); /* a previous reduction's readers are done with red */
    if (lane == 0) red[wid] = v;
    __syncthreads();
    v = lane < G / 32 ? red[lane] : Op::identity;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* How rows (segments) of L elements map to threads: a team of G threads per segment, each
 * holding NV chunks (NV = 0: too long to hold; the row is read again from memory/L2). */
struct row_geom {
    int G;         /* threads per segment: a power of two <= 32, or a multiple of 32 <= 1024 */
    int NV;        /* chunks per thread held in registers: 1, 2, 4, or 0 */
    int threads;   /* per block */
    int per_block; /* segments per block */
    unsigned blocks; /* 0 when the segments do not fit one grid */
};

static inline row_geom row_geom_for(long long L, long long nseg) {
    row_geom g;
    const long long chunks = (L + ROW_VEC - 1) / ROW_VEC;
    if (chunks <= 32) { /* short rows (head slices): several teams share a block */
        g.G = 1;
        while (g.G < chunks) g.G *= 2;
        g.NV = 1;
        g.threads = 256;
        g.per_block = 256 / g.G;
    } else {
        /* blocks of up to 256 threads while 4 chunks each cover the row (8192 elements), then
         * larger ones; smaller blocks of 4-chunk threads measured slower (mlxn bench ops) */
        g.NV = chunks <= 256 ? 1 : chunks <= 512 ? 2 : 4;
        long long t = (chunks + g.NV - 1) / g.NV;
        t = (t + 31) / 32 * 32;
        if (t > 1024) g.NV = 0, t = 1024;
        g.G = (int)t;
        g.threads = g.G;
        g.per_block = 1;
    }
    const long long blocks = (nseg + g.per_block - 1) / g.per_block;
    g.blocks = blocks > 0x7fffffffLL ? 0u : (unsigned)blocks; /* 0: past the grid's x limit */
    return g;
}

static inline bool row_aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }
/* An element offset (count) that keeps 16-byte alignment for elements of `bytes` each. */
static inline bool row_aligned_count(long long count, size_t bytes) { return (count * (long long)bytes) % 16 == 0; }
static inline size_t row_esize(mlxn_type t) { return t == MLXN_TYPE_F32 ? 4 : 2; }

/* Calls f(std::integral_constant<int, NV>{}) for the geometry's NV. */
template <typename F> static inline mlxn_status row_dispatch_nv(int nv, F &&f) {
    switch (nv) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 4: return f(std::integral_constant<int, 4>{});
    default: return f(std::integral_constant<int, 0>{});
    }
}
