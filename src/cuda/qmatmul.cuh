/* CUDA quantized matmul: what its files share. The kernel arguments, the X addressing of
 * the three layouts, mma.sync and bf16 helpers, and the launchers each file provides to
 * the entry point in qmatmul.cu. Include cuda/dequant.cuh before this (device tables). */
#pragma once

#include "cuda/dequant.cuh"

/* Everything a kernel needs, by value. X element (b, m, k) sits at
 * x + b·x_batch + m·x_row + (k / x_hd)·x_hs + k % x_hd (elements); x_hs == 0: plain rows. */
struct qmm_kp {
    const uint8_t *w;      /* [batch or 1][n] rows of w_row bytes */
    long long w_row, w_batch;
    const void *x;
    long long x_row, x_batch, x_hd, x_hs;
    void *y;               /* [batch][m][n], type ty */
    mlxn_type ty;
    int batch, m, n, k;
    float *part;           /* split-K partial sums [splits][batch][m][n] f32, or NULL */
    int k_split;           /* elements of K per split (a multiple of the tile's K step) */
};

static __device__ __forceinline__ long long qmm_x_off(const qmm_kp &p, int b, int m, int k) {
    const long long base = (long long)b * p.x_batch + (long long)m * p.x_row;
    if (!p.x_hs) return base + k;
    const unsigned hd = (unsigned)p.x_hd, ku = (unsigned)k;
    return base + (long long)(ku / hd) * p.x_hs + (ku % hd);
}

/* X as bf16 in 16-byte pieces of 8 elements, every piece inside one row and one head. */
static inline bool qmm_x_pieces16(const qmm_kp &p) {
    return ((uintptr_t)p.x & 15) == 0 && p.x_row % 8 == 0 && p.x_batch % 8 == 0 &&
           (!p.x_hs || (p.x_hd % 8 == 0 && p.x_hs % 8 == 0));
}

/* Stores one output value (f32 accumulation) in y's type, or into the split-K partials. */
static __device__ __forceinline__ void qmm_store(const qmm_kp &p, int split, int b, int m, int n, float v) {
    const long long i = ((long long)b * p.m + m) * p.n + n;
    if (p.part) {
        p.part[(long long)split * p.batch * p.m * p.n + i] = v;
        return;
    }
    if (p.ty == MLXN_TYPE_F32) static_cast<float *>(p.y)[i] = v;
    else if (p.ty == MLXN_TYPE_BF16) static_cast<__nv_bfloat16 *>(p.y)[i] = __float2bfloat16_rn(v);
    else static_cast<__half *>(p.y)[i] = __float2half_rn(v);
}

/* qmm_store of outputs n .. n + 3 of row m (those below N): one 16-byte store (8 for bf16 and
 * f16 y) where all four are in and aligned. */
static __device__ __forceinline__ void qmm_store4(const qmm_kp &p, int split, int b, int m, int n, float4 v) {
    const long long i = ((long long)b * p.m + m) * p.n + n;
    void *base = p.part ? static_cast<void *>(p.part) : p.y;
    if (n + 3 < p.n && p.n % 4 == 0 && (uintptr_t)base % 16 == 0) {
        if (p.part) *reinterpret_cast<float4 *>(p.part + (long long)split * p.batch * p.m * p.n + i) = v;
        else if (p.ty == MLXN_TYPE_F32) *reinterpret_cast<float4 *>(static_cast<float *>(p.y) + i) = v;
        else if (p.ty == MLXN_TYPE_BF16) {
            const __nv_bfloat162 a = __floats2bfloat162_rn(v.x, v.y), c = __floats2bfloat162_rn(v.z, v.w);
            *reinterpret_cast<uint2 *>(static_cast<__nv_bfloat16 *>(p.y) + i) =
                make_uint2(*reinterpret_cast<const uint32_t *>(&a), *reinterpret_cast<const uint32_t *>(&c));
        } else {
            const __half2 a = __floats2half2_rn(v.x, v.y), c = __floats2half2_rn(v.z, v.w);
            *reinterpret_cast<uint2 *>(static_cast<__half *>(p.y) + i) =
                make_uint2(*reinterpret_cast<const uint32_t *>(&a), *reinterpret_cast<const uint32_t *>(&c));
        }
        return;
    }
    const float e[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int j = 0; j < 4; j++)
        if (n + j < p.n) qmm_store(p, split, b, m, n + j, e[j]);
}

/* An f16 value from its 16 bits. */
static __device__ __forceinline__ float h2f(uint32_t h) { return __half2float(__ushort_as_half((unsigned short)h)); }

/* prmt.b32 as written: a selector nibble's bit 3 is its sign mode (__byte_perm drops it). */
static __device__ __forceinline__ uint32_t qmm_prmt(uint32_t a, uint32_t b, uint32_t s) {
    uint32_t d;
    asm("prmt.b32 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(s));
    return d;
}

/* The 8 nibbles of w (byte j: element j low, j + 16 high, as Q4_0) looked up in a table of 16
 * int8 levels held as four words for byte permutes (levels 0..3 in t0, 4..7 in t1, 8..11 in
 * t2, 12..15 in t3), in nibble order: p0 gets the levels of elements 0, 16, 1, 17 (bytes 0 and
 * 1), p1 those of 2, 18, 3, 19. A nibble's low 3 bits pick a byte of the lower (levels 0..7) and
 * the upper table (8..15), its bit 3 the table. The selectors carry 3 bits: bit 3 would be
 * prmt's sign mode. */
static __device__ __forceinline__ void mvq_lut8_pairs(uint32_t w, uint32_t t0, uint32_t t1, uint32_t t2, uint32_t t3,
                                                      uint32_t &p0, uint32_t &p1) {
    const uint32_t i3 = w & 0x77777777u, up = ((w >> 1) & 0x44444444u) | 0x32103210u; /* byte n or n + 4 */
    p0 = qmm_prmt(qmm_prmt(t0, t1, i3), qmm_prmt(t2, t3, i3), up);
    p1 = qmm_prmt(qmm_prmt(t0, t1, i3 >> 16), qmm_prmt(t2, t3, i3 >> 16), up >> 16);
}
/* The same levels split into element order: lo gets the low nibbles' (elements 0..3), hi the
 * high ones' (16..19). */
static __device__ __forceinline__ void mvq_lut8(uint32_t w, uint32_t t0, uint32_t t1, uint32_t t2, uint32_t t3, uint32_t &lo,
                                                uint32_t &hi) {
    uint32_t p0, p1;
    mvq_lut8_pairs(w, t0, t1, t2, t3, p0, p1);
    lo = __byte_perm(p0, p1, 0x6420);
    hi = __byte_perm(p0, p1, 0x7531);
}
/* mlxn_kvalues_iq4nl and mlxn_kvalues_mxfp4 (src/quant/blocks.h) as mvq_lut8's table words */
#define MVQ_IQ4NL_LUT 0xBFAD9881u, 0xF6EADDCFu, 0x26190D01u, 0x71594535u
#define MVQ_MXFP4_LUT 0x03020100u, 0x0C080604u, 0xFDFEFF00u, 0xF4F8FAFCu
/* IQ4_NL's levels of the 8 nibbles of w (mvq_lut8). */
static __device__ __forceinline__ void mvq_iq4nl8(uint32_t w, uint32_t &lo, uint32_t &hi) { mvq_lut8(w, MVQ_IQ4NL_LUT, lo, hi); }

/* X rounded to int8 per block of 32 held by L lanes, V values a lane (V·L = 32): q =
 * nearest(v · id), id = 127 / amax to two ulps (rcp.approx), clamped to ±127 (0 for inf and
 * NaN); d = amax / 127 to an ulp (NaN when the block holds one), s = d·Σq; returns d, the same
 * on every lane of the block. No division and no F2I: the rounding is one FMA a value. */
template <int V, int L> static __device__ __forceinline__ float mvq_round(const float (&v)[V], int (&q)[V], float &s) {
    static_assert(V * L == 32 && (L & (L - 1)) == 0, "a block of 32 over a power of two of lanes");
    uint32_t a = 0; /* |v| as bits: ordered as the floats, and a NaN above every number */
#pragma unroll
    for (int j = 0; j < V; j++) a = max(a, __float_as_uint(v[j]) & 0x7fffffffu);
    if (L == 32) {
        a = __reduce_max_sync(0xffffffffu, a);
    } else {
#pragma unroll
        for (int o = 1; o < L; o <<= 1) a = max(a, __shfl_xor_sync(0xffffffffu, a, o));
    }
    const float af = __uint_as_float(a);
    const bool nan = a > 0x7f800000u;
    const float d = nan ? __int_as_float(0x7fc00000) : af * (1.0f / 127.0f);
    float r;
    asm("rcp.approx.f32 %0, %1;" : "=f"(r) : "f"(af));
    const float id = d > 0.0f ? fminf(127.0f * r, 3.4028235e38f) : 0.0f; /* finite: 0 stays 0 */
    int sum = 0;
#pragma unroll
    for (int j = 0; j < V; j++) {
        const float t = __fmaf_rn(v[j], id, 12582912.0f); /* 1.5 · 2^23: nearest integer (even) in the low bits */
        const int k = isfinite(v[j]) ? __float_as_int(t) - 0x4b400000 : 0;
        q[j] = k > 127 ? 127 : k < -127 ? -127 : k;
        sum += q[j];
    }
    if (L == 32) {
        sum = __reduce_add_sync(0xffffffffu, sum);
    } else {
#pragma unroll
        for (int o = 1; o < L; o <<= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    }
    s = d * (float)sum;
    return d;
}

/* ── one row of W, 8 elements at a time, exactly as the reference dequantizes ── */

template <mlxn_type T> struct qmm_row {
    static __device__ __forceinline__ void load8(const uint8_t *row, int c, float (&v)[8]) {
        typedef typename mlxn_dq<T>::block B;
        constexpr int per = mlxn_dq<T>::qk / 8;
        mlxn_dq<T>::load8(reinterpret_cast<const B *>(row) + c / per, c % per, v);
    }
};
template <> struct qmm_row<MLXN_TYPE_F32> {
    static __device__ __forceinline__ void load8(const uint8_t *row, int c, float (&v)[8]) {
        const float *r = reinterpret_cast<const float *>(row) + 8 * c;
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = r[j];
    }
};
template <> struct qmm_row<MLXN_TYPE_F16> {
    static __device__ __forceinline__ void load8(const uint8_t *row, int c, float (&v)[8]) {
        const __half *r = reinterpret_cast<const __half *>(row) + 8 * c;
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = __half2float(r[j]);
    }
};
template <> struct qmm_row<MLXN_TYPE_BF16> {
    static __device__ __forceinline__ void load8(const uint8_t *row, int c, float (&v)[8]) {
        const __nv_bfloat16 *r = reinterpret_cast<const __nv_bfloat16 *>(row) + 8 * c;
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = __bfloat162float(r[j]);
    }
};

/* Element k of a float-type row (for K that is not a multiple of 8). */
template <mlxn_type T> static __device__ __forceinline__ float qmm_row1(const uint8_t *row, int k) {
    if (T == MLXN_TYPE_F32) return reinterpret_cast<const float *>(row)[k];
    if (T == MLXN_TYPE_F16) return __half2float(reinterpret_cast<const __half *>(row)[k]);
    return __bfloat162float(reinterpret_cast<const __nv_bfloat16 *>(row)[k]);
}

/* ── bf16x2 and mma.sync m16n8k16 (bf16 in, f32 accumulate) ── */

static __device__ __forceinline__ uint32_t qmm_bf2(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}

/* a - (c, c) on a bf16x2; exact for the small integers the decoders produce. */
static __device__ __forceinline__ uint32_t qmm_bsub(uint32_t a, float c) {
    __nv_bfloat162 x = *reinterpret_cast<__nv_bfloat162 *>(&a), y = __float2bfloat162_rn(c);
    __nv_bfloat162 r = __hsub2(x, y);
    return *reinterpret_cast<uint32_t *>(&r);
}

/* Two small unsigned integers v (< 128, in bits 0..6 and 16..22) as bf16x2 of 128 + v:
 * 0x4300 is 128.0, and the low 7 mantissa bits count in ones. */
static __device__ __forceinline__ uint32_t qmm_magic(uint32_t v) { return v | 0x43004300u; }

static __device__ __forceinline__ void qmm_mma(float (&c)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                               uint32_t b0, uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#endif
}

/* cp.async of 4, 8 or 16 bytes, global -> shared, cached at L2 only for 16 (streamed once). */
template <int N> static __device__ __forceinline__ void qmm_cp_async(void *smem, const void *gmem) {
    const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    if (N == 16) asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
    else asm volatile("cp.async.ca.shared.global [%0], [%1], %2;\n" ::"r"(s), "l"(gmem), "n"(N));
}
static __device__ __forceinline__ void qmm_cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> static __device__ __forceinline__ void qmm_cp_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

/* ── launchers each file provides (host side) ── */

struct qmm_launch {
    const qmm_kp *p;
    mlxn_type tw, tx;
    int batch;
    cudaStream_t s;
    const cuda_device *dev;
    /* for the mat-mat's stream-K grid (NULL: it takes none): qmm_mm_sk_bytes of workspace and
     * the stream's zeroed counts (cuda_stream::flags) */
    float *sk_part;
    unsigned *sk_flags;
};

/* Mat-vec on the tensor cores for block formats, M <= 16 (qmatmul_mv.cu). UNSUPPORTED
 * when the layout does not suit it (the caller then takes the generic kernel). */
mlxn_status qmm_mv_launch(const qmm_launch &l);
/* Mat-vec for M <= 4 (Q8_0, IQ4_NL, Q4_K, Q5_K), M <= 2 (Q4_0, Q4_1) and M = 1 (Q6_K) with X
 * rounded to int8 per 32, W streamed through shared memory (qmatmul_mv1.cu). UNSUPPORTED where
 * the layout does not suit it: batched W, K not a multiple of 256, W rows not 16-byte aligned. */
mlxn_status qmm_mv1_launch(cuda_stream *s, const qmm_launch &l);
/* Mat-vec for small M with X rounded to int8 per 32 (Q4_0, Q4_1, Q8_0, IQ4_NL, Q4_K, Q5_K,
 * Q6_K): on dp4a (thresholds in qmatmul_mv_dp4a.cuh), above that to M = 16 on the int8 tensor
 * cores (sm_90a, qmatmul_mv_mma.cuh); X goes through s's workspace. UNSUPPORTED otherwise. */
mlxn_status qmm_mvq_launch(cuda_stream *s, const qmm_launch &l);
/* y = the sum of p.part's splits, in split order (qmatmul.cu). */
mlxn_status qmm_reduce(const qmm_launch &l, const qmm_kp &p, int splits);
/* Mat-vec of float weights (F32, F16, BF16) in f32, M <= 16 (qmatmul_mv.cu). */
mlxn_status qmm_mvf_launch(const qmm_launch &l);
/* Tiled mat-mat: W dequantized to bf16 tiles in shared memory, X dense bf16 rows, and
 * splits over K when part != NULL (qmatmul_mm.cu): their partial sums to part for qmm_reduce,
 * or (*summed set) summed and stored by the kernel. */
mlxn_status qmm_mm_launch(const qmm_launch &l, int splits, bool *summed);
/* Workspace bytes qmm_mm_launch's stream-K grid needs for l unsplit (0 where it takes none). */
size_t qmm_mm_sk_bytes(const qmm_launch &l);
/* Elements of K per raw chunk of W on the tiled path: every split of K must be a multiple. */
int qmm_mm_chunk(mlxn_type t);
/* True where qmm_mm_launch takes the sm_90a wgmma kernel (qmatmul_mm_wgmma.cuh). */
bool qmm_mm_wgmma_ok(const qmm_launch &l);
/* Y = X · Wᵀ through cuBLASLt for a dense bf16 weight p.w ([batch or 1][n][k]: the prepared copy,
 * or one dequantized into the workspace) and X as dense bf16 rows, y f32 or bf16; ws is
 * QMM_LT_WS bytes of scratch (qmatmul_lt.cu).
 * UNSUPPORTED, with nothing enqueued, where cuBLASLt is absent or takes no algorithm. */
mlxn_status qmm_lt(cuda_stream *s, const qmm_kp &p, void *ws);
/* Whether cuBLASLt could be opened (tried once). */
bool qmm_lt_loaded(void);
#define QMM_LT_WS ((size_t)32 << 20) /* cuBLASLt's workspace: its guide's size for Hopper */
/* The tile sizes of qmm_mm_launch (the entry plans split-K and its workspace with them). */
#define QMM_MM_BN 128 /* rows of W per tile */
#define QMM_MM_BM 128 /* rows of X per tile */
#define QMM_MM_BK 32  /* K per pipeline step */
