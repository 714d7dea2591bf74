/* CUDA attention on the tensor cores (mma.sync m16n8k16, sm_80 and later): one kernel for
 * decode and prefill. A block owns BR rows of one KV head's query group, rows flattened as
 * (query, head in group) so GQA heads share each K/V tile, and walks tiles of BC keys that
 * cp.async stages into shared memory (Q8_0 tiles are dequantized to f16 there). Q·Kᵀ and
 * P·V take f16/bf16 operands, accumulate in f32; softmax is f32 with exp2. */
#pragma once

#include <stdint.h>

#include <cooperative_groups.h>
#include <type_traits>

#include "cuda/cuda_common.cuh"

#define ATT_LOG2E 1.4426950408889634f
#define ATT_LN2 0.6931471805599453f

struct att_params {
    mlxn_attention_args a;
    int n_split;
    long long chunk; /* keys per slice (a multiple of the tile's keys on the mma path) */
};

static __device__ __forceinline__ long long kv_count(const mlxn_attention_args &a) {
    if (!a.kv_len) return a.L_cap;
    long long l = *a.kv_len;
    return l < 0 ? 0 : l > a.L_cap ? a.L_cap : l;
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

/* The keys query i (at position L - M + i) sees within a split's keys [js, je]: from
 * att_key_lo to att_key_hi (none when hi < lo), by the window and the causal mask. T is int
 * where every position fits (decode: M <= 16, L_cap <= 2^30), else long long. */
template <typename T> static __device__ __forceinline__ int att_key_lo(const mlxn_attention_args &a, int L, T js, T i) {
    T lo = js, pos = (T)L - (T)a.M + i;
    if (a.window > 0 && pos - a.window + 1 > lo) lo = pos - a.window + 1;
    return (int)lo;
}
template <typename T> static __device__ __forceinline__ int att_key_hi(const mlxn_attention_args &a, int L, T je, T i) {
    T hi = (T)L - 1 < je ? (T)L - 1 : je, pos = (T)L - (T)a.M + i;
    if (a.causal && pos < hi) hi = pos;
    return (int)(hi < -1 ? -1 : hi);
}

/* The sink logit of head hq joins a row's merged (m, l) (natural-log units): l takes the
 * sink's weight, and the returned factor is what the row's acc takes (1 without sinks). */
static __device__ __forceinline__ float att_sink_fold(const mlxn_attention_args &a, long long hq, float m, float &l) {
    float scale_acc = 1.0f;
    if (a.sinks) {
        float sink = a.sinks[hq], m_new = fmaxf(sink, m);
        scale_acc = m == -INFINITY ? 0.0f : __expf(m - m_new);
        l = l * scale_acc + __expf(sink - m_new);
    }
    return scale_acc;
}

/* Element d of the output row of (head hq, query i): [M][Hq][D] (MHD) or [Hq][M][D]. */
static __device__ __forceinline__ long long att_out_off(const mlxn_attention_args &a, long long hq, long long i, int d) {
    return a.out_layout == MLXN_ATTN_OUT_MHD ? (i * a.n_q_heads + hq) * a.D + d : (hq * a.M + i) * a.D + d;
}

/* o for one (head, query) from its merged (m, l, acc) in natural-log units, with the sink. */
static __device__ __forceinline__ void finish(const mlxn_attention_args &a, long long hq, long long i, int d, float m,
                                              float l, float acc) {
    const float scale_acc = att_sink_fold(a, hq, m, l);
    float v = l > 0.0f ? acc * scale_acc / l : 0.0f;
    store_out(a.to, a.o, att_out_off(a, hq, i, d), v);
}

/* A partial row in the workspace: m, l, two unused floats, then acc[D]; D % 4 == 0, so with
 * the workspace's aligned base every row and its acc start 16-byte aligned (float4 loads). */
static __host__ __device__ __forceinline__ long long att_part_stride(long long D) { return D + 4; }

/* The partial row of (slice split, head hq, query i) at ws [split][Hq][M][att_part_stride(D)]. */
static __device__ __forceinline__ float *att_part_row(const mlxn_attention_args &a, float *ws, int split, long long hq,
                                                      long long i) {
    return ws + (((long long)split * a.n_q_heads + hq) * a.M + i) * att_part_stride(a.D);
}

/* One slice's result for (hq, i, d): o when there is one slice, else the partial
 * (m, l, acc) at ws [split][Hq][M][att_part_stride(D)] for the combine kernel. */
static __device__ __forceinline__ void emit(const att_params &p, float *ws, int split, long long hq, long long i, int d,
                                            float m, float l, float acc) {
    const mlxn_attention_args &a = p.a;
    if (p.n_split == 1) {
        finish(a, hq, i, d, m, l, acc);
        return;
    }
    float *part = att_part_row(a, ws, split, hq, i);
    part[4 + d] = acc;
    if (d == 0) part[0] = m, part[1] = l;
}

/* emit for the four columns d .. d + 3 (d a multiple of 4): one 16-byte store of a partial. */
static __device__ __forceinline__ void emit4(const att_params &p, float *ws, int split, long long hq, long long i, int d,
                                             float m, float l, float4 acc) {
    if (p.n_split == 1) {
        finish(p.a, hq, i, d, m, l, acc.x), finish(p.a, hq, i, d + 1, m, l, acc.y);
        finish(p.a, hq, i, d + 2, m, l, acc.z), finish(p.a, hq, i, d + 3, m, l, acc.w);
        return;
    }
    float *part = att_part_row(p.a, ws, split, hq, i);
    *reinterpret_cast<float4 *>(part + 4 + d) = acc;
    if (d == 0) part[0] = m, part[1] = l;
}

/* ---- PTX wrappers ---- */

static __device__ __forceinline__ uint32_t smem_u32(const void *p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

/* 16 bytes global -> shared, the last 16 - n bytes zero-filled (n = 0: nothing is read). */
static __device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, int n) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n) : "memory");
}
static __device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N> static __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

static __device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}
static __device__ __forceinline__ void ldsm_x4_t(uint32_t (&r)[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

/* c += a·b, m16n8k16, f32 accumulators; T picks f16 or bf16 operands. */
template <typename T>
static __device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    if constexpr (std::is_same<T, __half>::value)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                     "{%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    else
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                     "{%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* Two floats as one register of T pairs, the first in the low half (round to nearest even). */
template <typename T> static __device__ __forceinline__ uint32_t pack2(float x, float y);
template <> __device__ __forceinline__ uint32_t pack2<__half>(float x, float y) {
    __half2 h = __floats2half2_rn(x, y);
    return *reinterpret_cast<uint32_t *>(&h);
}
template <> __device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float x, float y) {
    __nv_bfloat162 h = __floats2bfloat162_rn(x, y);
    return *reinterpret_cast<uint32_t *>(&h);
}

/* ---- the kernel ---- */

/* Compile-time shape of one instance: MT m-tiles of 16 rows per warp, WR warps along rows,
 * WK warps splitting each key tile (merged at the end), BC keys per tile, ST stages. */
template <int D_, int MT_, int WR_, int WK_, int BC_, int ST_, bool QREG_, int MINB_ = 1> struct mma_cfg {
    static constexpr int D = D_, MT = MT_, WR = WR_, WK = WK_, BC = BC_, ST = ST_;
    static constexpr int MINB = MINB_; /* the launch bound's blocks an SM */
    static constexpr bool QREG = QREG_; /* Q fragments held in registers, else re-read from smem */
    static constexpr int NT = 32 * WR * WK, BR = 16 * MT * WR;
    static constexpr int DP = D + 8;                         /* padded smem row (elements): conflict-free ldmatrix */
    static constexpr int RB = D / 32 * 34;                   /* a Q8_0 row's bytes */
    static constexpr int RAWB = ((BC * RB + 16) + 15) / 16 * 16; /* a Q8_0 tile's raw bytes */
    static_assert(D % 16 == 0 && BC % (16 * WK) == 0, "tile shape");
    /* smem: Q [BR][DP], K and V [ST][BC][DP] (f16/bf16 caches) or [1][BC][DP] plus raw
     * [ST][RAWB] each (Q8_0); the end-of-loop merge reuses it. */
    static constexpr size_t tiles(bool kq8, bool vq8) {
        return (size_t)(kq8 ? 1 : ST) * BC * DP * 2 + (size_t)(vq8 ? 1 : ST) * BC * DP * 2 +
               (size_t)((kq8 ? 1 : 0) + (vq8 ? 1 : 0)) * ST * RAWB;
    }
    static constexpr size_t merge_bytes() { return WK > 1 ? (size_t)WK * 16 * MT * WR * (D + 4) * 4 : 0; }
    static constexpr size_t smem(bool kq8, bool vq8) {
        size_t t = (size_t)BR * DP * 2 + tiles(kq8, vq8);
        return t > merge_bytes() ? t : merge_bytes();
    }
};

/* Issues the cp.async copies of keys [j0, j0 + BC) of one cache (rows of rb bytes from base)
 * into a stage: f16/bf16 rows straight into the padded tile, Q8_0 as the raw byte range
 * (16-byte chunks from the aligned address below the first row; nothing at or past lim, the
 * end of the cache, is read). Rows >= L are zeros (f16/bf16) or not read (Q8_0). */
template <class C>
static __device__ __forceinline__ void load_tile(const unsigned char *base, size_t rb, bool q8, int j0, int L,
                                                 const unsigned char *lim, unsigned char *tile, unsigned char *raw) {
    constexpr int CH = C::D / 8; /* 16-byte chunks per f16/bf16 row */
    if (!q8) {
        if constexpr (C::NT % CH == 0) {
            /* a thread's chunks sit RPI rows apart in one column: one address, then fixed steps;
             * the row test only in a tile that reaches L */
            constexpr int RPI = C::NT / CH;
            static_assert(C::BC % RPI == 0, "whole passes per tile");
            const int r0 = threadIdx.x / CH, cc = threadIdx.x % CH;
            const unsigned char *src = base + (size_t)(j0 + r0) * rb + cc * 16;
            const uint32_t dst = smem_u32(tile) + (uint32_t)((r0 * C::DP + cc * 8) * 2);
            const size_t step = (size_t)RPI * rb;
            if (j0 + C::BC <= L) {
#pragma unroll
                for (int k = 0; k < C::BC / RPI; k++) cp_async16(dst + k * RPI * C::DP * 2, src + k * step, 16);
            } else {
#pragma unroll
                for (int k = 0; k < C::BC / RPI; k++) {
                    const bool ok = j0 + r0 + k * RPI < L;
                    cp_async16(dst + k * RPI * C::DP * 2, ok ? src + k * step : base, ok ? 16 : 0);
                }
            }
        } else {
            for (int c = threadIdx.x; c < C::BC * CH; c += C::NT) {
                const int r = c / CH, cc = c % CH;
                const int j = j0 + r;
                const bool ok = j < L;
                cp_async16(smem_u32(tile + (size_t)r * C::DP * 2 + cc * 16), ok ? base + (size_t)j * rb + cc * 16 : base,
                           ok ? 16 : 0);
            }
        }
        return;
    }
    /* Q8_0: rows of C::RB bytes (the launcher checks rb). BC · RB is a multiple of 16, so the
     * tile starts at the offset of base mod 16 in its first chunk. */
    static_assert(C::BC * C::RB % 16 == 0, "Q8_0 tiles start at base's offset mod 16");
    const unsigned off = (unsigned)(reinterpret_cast<uintptr_t>(base) & 15);
    const unsigned char *a0 = base + (size_t)j0 * C::RB - off;
    constexpr int NF = C::BC * C::RB / 16, NCH = NF + 1; /* chunks of a tile at offset 0, at most */
    if (j0 + C::BC <= L && a0 + NCH * 16 <= lim) { /* a whole tile, its last chunk inside the buffer */
        const int n = NF + (off ? 1 : 0);
#pragma unroll
        for (int k = 0; k < (NCH + C::NT - 1) / C::NT; k++) {
            const int c = threadIdx.x + k * C::NT;
            if ((k + 1) * C::NT <= NF || c < n) cp_async16(smem_u32(raw) + c * 16, a0 + c * 16, 16);
        }
        return;
    }
    int nv = L - j0;
    nv = nv < 0 ? 0 : nv > C::BC ? C::BC : nv;
    const unsigned char *end = a0 + off + (size_t)nv * C::RB;
    const int n = nv ? (int)((end - a0 + 15) / 16) : 0;
    for (int c = threadIdx.x; c < n; c += C::NT) {
        const unsigned char *src = a0 + c * 16;
        if (src + 16 <= lim) {
            cp_async16(smem_u32(raw + c * 16), src, 16); /* may run past `end` into the next row: harmless */
        } else { /* the buffer's last chunk: 2-byte loads up to `end` (Q8_0 rows end 2-byte aligned) */
            for (int b = 0; b < (int)(end - src) / 2; b++)
                reinterpret_cast<unsigned short *>(raw + c * 16)[b] = reinterpret_cast<const unsigned short *>(src)[b];
        }
    }
}

/* Eight Q8_0 values (a 2-byte aligned run inside one block) as f16. Two int8 at a time: bytes
 * q ^ 0x80 under exponent byte 0x64 are the f16 values 1152 + q (exact), minus 1152 gives q,
 * times the block scale one f16 rounding: the same value as rounding the exact f32 product d·q
 * to f16, with no int->float conversions (quarter rate). */
static __device__ __forceinline__ uint4 q8_f16x8(unsigned short d, const unsigned short (&q)[4]) {
    const __half2 k1152 = __half2half2(__ushort_as_half((unsigned short)0x6480));
    const __half2 d2 = __half2half2(__ushort_as_half(d));
    uint32_t w[4];
#pragma unroll
    for (int x = 0; x < 4; x++) {
        const uint32_t u = __byte_perm(0x6464u, (uint32_t)q[x] ^ 0x8080u, 0x1504); /* the constant in one register */
        const __half2 h = __hmul2(__hsub2(*reinterpret_cast<const __half2 *>(&u), k1152), d2);
        w[x] = *reinterpret_cast<const uint32_t *>(&h);
    }
    return make_uint4(w[0], w[1], w[2], w[3]);
}

/* Q8_0 raw bytes of keys [j0, j0 + BC) (staged by load_tile) -> f16 tile; rows >= L zero.
 * A thread's chunks of 8 values go in groups of up to 8 whose shared-memory loads all issue
 * before the first is used (one load latency a group); where NT is a multiple of the chunks a
 * row holds, a thread's chunks sit in one column at fixed steps (immediate offsets), and only
 * a tile that reaches L tests rows. */
template <class C, bool CHECK>
static __device__ __forceinline__ void dequant_rows(const unsigned char *base, int j0, int L, const unsigned char *raw,
                                                    unsigned char *tile) {
    constexpr int CH = C::D / 8, NC = C::BC * CH, NI = (NC + C::NT - 1) / C::NT;
    constexpr int GS = NI <= 8 ? NI : NI % 8 == 0 ? 8 : NI % 6 == 0 ? 6 : NI % 4 == 0 ? 4 : 1;
    constexpr bool COL = C::NT % CH == 0; /* a thread keeps its column */
    constexpr int RPI = COL ? C::NT / CH : 1;
    const unsigned off = (unsigned)(reinterpret_cast<uintptr_t>(base) & 15); /* BC · RB is a multiple of 16 */
    const int nv = L - j0;                                                     /* rows that exist */
    const unsigned t = threadIdx.x;
    auto row_of = [&](int k) { return COL ? t / CH + (unsigned)(k * RPI) : (t + (unsigned)(k * C::NT)) / CH; };
    auto d8_of = [&](int k) { return COL ? (t % CH) * 8 : ((t + (unsigned)(k * C::NT)) % CH) * 8; };
#pragma unroll
    for (int g = 0; g < NI; g += GS) {
        unsigned short d[GS], q[GS][4];
#pragma unroll
        for (int k = 0; k < GS; k++) {
            const unsigned r = row_of(g + k), d8 = d8_of(g + k);
            if (NC % C::NT == 0 || t + (unsigned)((g + k) * C::NT) < (unsigned)NC) {
                /* block of 32: f16 scale, then 32 int8; 8 values within one block, 2-byte aligned */
                const unsigned char *blk = raw + off + r * C::RB + (d8 / 32) * 34;
                d[k] = *reinterpret_cast<const unsigned short *>(blk);
                const unsigned short *qs = reinterpret_cast<const unsigned short *>(blk + 2 + (d8 & 31));
#pragma unroll
                for (int x = 0; x < 4; x++) q[k][x] = qs[x];
            }
        }
#pragma unroll
        for (int k = 0; k < GS; k++) {
            const unsigned r = row_of(g + k), d8 = d8_of(g + k);
            if (NC % C::NT != 0 && t + (unsigned)((g + k) * C::NT) >= (unsigned)NC) continue;
            uint4 v = q8_f16x8(d[k], q[k]);
            if (CHECK && (int)r >= nv) v = make_uint4(0, 0, 0, 0);
            *reinterpret_cast<uint4 *>(tile + r * (unsigned)(C::DP * 2) + d8 * 2) = v;
        }
    }
}
template <class C>
static __device__ __forceinline__ void dequant_tile(const unsigned char *base, int j0, int L, const unsigned char *raw,
                                                    unsigned char *tile) {
    if (j0 + C::BC <= L) dequant_rows<C, false>(base, j0, L, raw, tile);
    else dequant_rows<C, true>(base, j0, L, raw, tile);
}

/* q converted to the operand type TQ, 8 elements at a time (the row start is 16-byte aligned
 * and D a multiple of 8, so every group is aligned to 8 elements). */
static __device__ __forceinline__ void q_raw(mlxn_type t, const void *q, long long idx, uint4 (&w)[2]) {
    if (t == MLXN_TYPE_F32) {
        const uint4 *s = reinterpret_cast<const uint4 *>(static_cast<const float *>(q) + idx);
        w[0] = s[0], w[1] = s[1];
    } else {
        w[0] = *reinterpret_cast<const uint4 *>(static_cast<const unsigned short *>(q) + idx);
    }
}
template <typename TQ> static __device__ __forceinline__ uint4 q_pack(mlxn_type t, const uint4 (&r)[2]) {
    float f[8];
    if (t == MLXN_TYPE_F32) {
        const uint32_t w[8] = {r[0].x, r[0].y, r[0].z, r[0].w, r[1].x, r[1].y, r[1].z, r[1].w};
#pragma unroll
        for (int k = 0; k < 8; k++) f[k] = __uint_as_float(w[k]);
    } else {
        const uint32_t w[4] = {r[0].x, r[0].y, r[0].z, r[0].w};
#pragma unroll
        for (int k = 0; k < 4; k++) {
            float2 g = t == MLXN_TYPE_F16 ? __half22float2(*reinterpret_cast<const __half2 *>(&w[k]))
                                          : __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162 *>(&w[k]));
            f[2 * k] = g.x, f[2 * k + 1] = g.y;
        }
    }
    return make_uint4(pack2<TQ>(f[0], f[1]), pack2<TQ>(f[2], f[3]), pack2<TQ>(f[4], f[5]), pack2<TQ>(f[6], f[7]));
}
template <typename TQ> static __device__ __forceinline__ uint4 q_chunk(mlxn_type t, const void *q, long long idx) {
    uint4 r[2];
    q_raw(t, q, idx, r);
    return q_pack<TQ>(t, r);
}

/* The merged rows a block shows its cluster: [BR][D + 4] floats of (m, l, two unused, acc[D])
 * after the WK merge buffer (the kernel's dynamic smem covers it: smem_cl). */
template <class C> static constexpr size_t cl_red_bytes() { return (size_t)C::BR * (C::D + 4) * 4; }
template <class C> static constexpr size_t smem_cl(bool kq8, bool vq8) {
    return C::smem(kq8, vq8) > C::merge_bytes() + cl_red_bytes<C>() ? C::smem(kq8, vq8) : C::merge_bytes() + cl_red_bytes<C>();
}

/* grid: (row tiles, n_kv_heads, n_split). TK: operand type of Q·Kᵀ (Q is rounded to it), TV of
 * P·V (P is rounded to it); a Q8_0 cache is dequantized to f16, by the Q8 instances only (0: no
 * Q8_0 code, which cost f16 decode 0.1-0.2 us at L 512 on H200; 1: either cache may be Q8_0;
 * 2: both are, V's tile then dequantized beside Q·Kᵀ). CL (sm_90, WK > 1): the
 * n_split slices of a row tile form one thread-block cluster along z and merge through
 * distributed shared memory, each block finishing a share of the outputs (no workspace, no
 * combine kernel). The launch bound's one block an SM lets ptxas pass 168 registers, where it
 * spilled in the D 128 decode instances; their smem holds them at two blocks an SM. */
template <class C, typename TK, typename TV, bool CL = false, int Q8 = 0>
static __global__ void __launch_bounds__(C::NT, C::MINB) attn_mma_kernel(att_params p, float *ws) {
    constexpr int D = C::D, MT = C::MT, WR = C::WR, WK = C::WK, BC = C::BC, ST = C::ST, DP = C::DP;
    constexpr int NKW = BC / WK, NTL = NKW / 8, KS = D / 16, DT = D / 8;
    const mlxn_attention_args &a = p.a;
    extern __shared__ __align__(128) unsigned char smem[];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wr = warp % WR, wk = warp / WR;
    const bool kq8 = Q8 == 2 || (Q8 == 1 && a.tk == MLXN_TYPE_Q8_0);
    const bool vq8 = Q8 == 2 || (Q8 == 1 && a.tv == MLXN_TYPE_Q8_0);
    const long long G = a.n_q_heads / a.n_kv_heads, rows = a.M * G, h = blockIdx.y;
    const long long R0 = ((long long)gridDim.x - 1 - blockIdx.x) * C::BR; /* the causally longest rows first */
    const int split = blockIdx.z;
    /* the queries of the block's first and last rows and of this thread's fragment rows: the
     * 64-bit divisions run before the wait, off the kv_len -> first tile path */
    const long long Rl = (R0 + C::BR < rows ? R0 + C::BR : rows) - 1; /* last valid row of the block */
    const long long i_first = R0 / G, i_last = Rl / G;
    long long iq[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int hf = 0; hf < 2; hf++) {
            const long long R = R0 + wr * 16 * MT + mt * 16 + (lane >> 2) + hf * 8;
            iq[mt][hf] = (R < rows ? R : Rl) / G;
        }
    mlxn_pdl_wait(); /* q, the cache and kv_len may come from the grid before */
    /* decode (WK > 1: one row tile, R0 = 0, at most 16 rows): Q's loads go out with kv_len's,
     * and are packed into smem once the first tiles are issued */
    constexpr int QN = C::BR * (D / 8), QC = (QN + C::NT - 1) / C::NT;
    uint4 qraw[WK > 1 ? QC : 1][2];
    if constexpr (WK > 1) {
#pragma unroll
        for (int k = 0; k < QC; k++) {
            const int c = tid + k * C::NT, r = c / (D / 8), d8 = (c % (D / 8)) * 8;
            qraw[k][0] = qraw[k][1] = make_uint4(0, 0, 0, 0);
            if (c < QN && r < rows) {
                const int gi = (int)G;
                q_raw(a.tq, a.q, ((h * G + r % gi) * a.M + r / gi) * D + d8, qraw[k]);
            }
        }
    }
    const int L = (int)kv_count(a);
    /* decode with at most 8 rows (query x group head): every m-tile's rows 8-15 are padding, so
     * their scores are not masked or exponentiated, and P there is 0 (outputs never emitted) */
    const bool hi_rows = WK == 1 || rows > 8;

    unsigned char *qs = smem;
    unsigned char *ks = qs + (size_t)C::BR * DP * 2;
    unsigned char *vs = ks + (size_t)(kq8 ? 1 : ST) * BC * DP * 2;
    unsigned char *kraw = vs + (size_t)(vq8 ? 1 : ST) * BC * DP * 2;
    unsigned char *vraw = kraw + (kq8 ? (size_t)ST * C::RAWB : 0);

    /* visible keys: row R (query i = R / G, position L - M + i) sees [lo, hi]; keys are int
     * (L_cap < 2^31, checked by the launcher). Decode shapes (WK > 1, one row tile) cut the
     * keys the rows see under this L into n_split slices of whole tiles, so a cache filled
     * far below L_cap, or a window, still spreads over every block; prefill slices L_cap. */
    using IT = typename std::conditional<(WK > 1), int, long long>::type; /* key positions */
    IT js = (IT)split * (IT)p.chunk, je = js + (IT)p.chunk - 1;
    if constexpr (WK > 1) {
        const int r_lo = att_key_lo<IT>(a, L, 0, 0) / BC * BC, r_hi = att_key_hi<IT>(a, L, (IT)a.L_cap - 1, (IT)a.M - 1);
        const int per = (r_hi - r_lo + p.n_split) / p.n_split; /* ceil((r_hi - r_lo + 1) / n_split) */
        const int ch = (per + BC - 1) / BC * BC;
        js = r_lo + split * (ch > 0 ? ch : BC), je = js + (ch > 0 ? ch : BC) - 1;
    }
    auto lo_of = [&](long long i) { return att_key_lo<IT>(a, L, js, (IT)i); };
    auto hi_of = [&](long long i) { return att_key_hi<IT>(a, L, je, (IT)i); };
    const int kb = lo_of(i_first), ke = hi_of(i_last);         /* union over the block's rows */
    const int lo_max = lo_of(i_last), hi_min = hi_of(i_first); /* intersection */
    int rlo[MT][2], rhi[MT][2], ri[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int hf = 0; hf < 2; hf++) {
            const long long i = iq[mt][hf];
            rlo[mt][hf] = lo_of(i), rhi[mt][hf] = hi_of(i), ri[mt][hf] = (int)i;
        }

    const unsigned char *kbase = static_cast<const unsigned char *>(a.k) + (size_t)(h * a.L_cap) * a.k_row_bytes;
    const unsigned char *vbase = static_cast<const unsigned char *>(a.v) + (size_t)(h * a.L_cap) * a.v_row_bytes;
    const unsigned char *klim = static_cast<const unsigned char *>(a.k) + (size_t)(a.n_kv_heads * a.L_cap) * a.k_row_bytes;
    const unsigned char *vlim = static_cast<const unsigned char *>(a.v) + (size_t)(a.n_kv_heads * a.L_cap) * a.v_row_bytes;
    const int t0 = kb / BC, n_tiles = ke >= kb ? ke / BC - t0 + 1 : 0;
    auto issue = [&](int t) {
        if (t < n_tiles) {
            const int s = t % ST;
            const int j0 = (t0 + t) * BC;
            load_tile<C>(kbase, a.k_row_bytes, kq8, j0, L, klim, ks + (kq8 ? 0 : (size_t)s * BC * DP * 2), kraw + (size_t)s * C::RAWB);
            load_tile<C>(vbase, a.v_row_bytes, vq8, j0, L, vlim, vs + (vq8 ? 0 : (size_t)s * BC * DP * 2), vraw + (size_t)s * C::RAWB);
        }
        cp_async_commit();
    };
#pragma unroll
    for (int s = 0; s < ST - 1; s++) issue(s);
    /* Q rows -> smem as TK, while the first tiles are in flight (rows past `rows` zero) */
    if constexpr (WK > 1) {
#pragma unroll
        for (int k = 0; k < QC; k++) {
            const int c = tid + k * C::NT, r = c / (D / 8), d8 = (c % (D / 8)) * 8;
            if (c < QN) *reinterpret_cast<uint4 *>(qs + (size_t)r * DP * 2 + d8 * 2) = q_pack<TK>(a.tq, qraw[k]);
        }
    } else {
        for (int c = tid; c < QN; c += C::NT) {
            const int r = c / (D / 8), d8 = (c % (D / 8)) * 8;
            const long long R = R0 + r;
            uint4 v = make_uint4(0, 0, 0, 0);
            if (R < rows) {
                const long long i = R / G, hq = h * G + R % G;
                v = q_chunk<TK>(a.tq, a.q, (hq * a.M + i) * D + d8);
            }
            *reinterpret_cast<uint4 *>(qs + (size_t)r * DP * 2 + d8 * 2) = v;
        }
    }

    __syncthreads(); /* Q tile written */

    uint32_t qa[C::QREG ? MT : 1][C::QREG ? KS : 1][4];
    const uint32_t qs_lane = smem_u32(qs) + (uint32_t)(((wr * 16 * MT + (lane & 15)) * DP + (lane >> 4) * 8) * 2);
    if constexpr (C::QREG) {
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int kk = 0; kk < KS; kk++) ldsm_x4(qa[mt][kk], qs_lane + (uint32_t)((mt * 16 * DP + kk * 16) * 2));
    }

    float o[MT][DT][4], m[MT][2], l[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
#pragma unroll
        for (int dt = 0; dt < DT; dt++) o[mt][dt][0] = o[mt][dt][1] = o[mt][dt][2] = o[mt][dt][3] = 0.0f;
        m[mt][0] = m[mt][1] = -INFINITY;
        l[mt][0] = l[mt][1] = 0.0f;
    }
    const float sl2 = a.scale * ATT_LOG2E;

    for (int t = 0; t < n_tiles; t++) {
        cp_async_wait<ST - 2>();
        __syncthreads(); /* tile t is in smem for every thread; stage (t - 1) % ST is free */
        issue(t + ST - 1);
        const int s = t % ST;
        const int j0 = (t0 + t) * BC;
        if constexpr (Q8 == 2) {
            dequant_tile<C>(kbase, j0, L, kraw + (size_t)s * C::RAWB, ks);
            __syncthreads();
        } else if (kq8 || vq8) {
            if (kq8) dequant_tile<C>(kbase, j0, L, kraw + (size_t)s * C::RAWB, ks);
            if (vq8) dequant_tile<C>(vbase, j0, L, vraw + (size_t)s * C::RAWB, vs);
            __syncthreads();
        }
        const uint32_t kt = smem_u32(ks + (kq8 ? 0 : (size_t)s * BC * DP * 2));
        const uint32_t vt = smem_u32(vs + (vq8 ? 0 : (size_t)s * BC * DP * 2));

        /* S = Q·Kᵀ over this warp's NKW keys */
        float sc[MT][NTL][4];
        auto qk = [&]() {
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int nt = 0; nt < NTL; nt++) sc[mt][nt][0] = sc[mt][nt][1] = sc[mt][nt][2] = sc[mt][nt][3] = 0.0f;
            const uint32_t k_lane =
                kt + (uint32_t)(((wk * NKW + (lane & 7) + (lane >> 4) * 8) * DP + ((lane >> 3) & 1) * 8) * 2);
#pragma unroll
            for (int kk = 0; kk < KS; kk++) {
                uint32_t qf[MT][4];
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    if constexpr (C::QREG) {
#pragma unroll
                        for (int x = 0; x < 4; x++) qf[mt][x] = qa[C::QREG ? mt : 0][C::QREG ? kk : 0][x];
                    } else {
                        ldsm_x4(qf[mt], qs_lane + (uint32_t)((mt * 16 * DP + kk * 16) * 2));
                    }
                }
#pragma unroll
                for (int np = 0; np < NTL / 2; np++) {
                    uint32_t b[4];
                    ldsm_x4(b, k_lane + (uint32_t)((np * 16 * DP + kk * 16) * 2));
#pragma unroll
                    for (int mt = 0; mt < MT; mt++) {
                        mma16816<TK>(sc[mt][2 * np], qf[mt], b[0], b[1]);
                        mma16816<TK>(sc[mt][2 * np + 1], qf[mt], b[2], b[3]);
                    }
                }
            }
        };
        /* both caches Q8_0: V's tile dequantized in the same block of code as Q·Kᵀ, so that ptxas
         * fills the MMA chain's latency with it */
        if constexpr (Q8 == 2) {
            if (j0 + BC <= L) {
                qk();
                dequant_rows<C, false>(vbase, j0, L, vraw + (size_t)s * C::RAWB, vs);
            } else {
                qk();
                dequant_rows<C, true>(vbase, j0, L, vraw + (size_t)s * C::RAWB, vs);
            }
        } else {
            qk();
        }

        /* scores in log2 units; masked entries -inf. A tile inside every row's range with no
         * softcap or mask takes the plain scale. */
        const int jw = j0 + wk * NKW;
        if (a.softcap <= 0.0f && !a.mask && j0 >= lo_max && j0 + BC - 1 <= hi_min) {
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int nt = 0; nt < NTL; nt++)
#pragma unroll
                    for (int e = 0; e < 4; e++) sc[mt][nt][e] *= sl2;
        } else {
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int hf = 0; hf < (hi_rows ? 2 : 1); hf++) {
                    const int lo = rlo[mt][hf] - jw, hi = rhi[mt][hf] - jw; /* relative to this warp's keys */
                    const unsigned char *mrow = a.mask ? static_cast<const unsigned char *>(a.mask) +
                                                             (size_t)ri[mt][hf] * a.L_cap * (a.tmask == MLXN_TYPE_F16 ? 2 : 4)
                                                       : nullptr;
#pragma unroll
                    for (int nt = 0; nt < NTL; nt++)
#pragma unroll
                        for (int e = 0; e < 2; e++) {
                            const int jr = nt * 8 + (lane & 3) * 2 + e;
                            float x = sc[mt][nt][2 * hf + e];
                            if (jr < lo || jr > hi) {
                                x = -INFINITY;
                            } else {
                                x *= a.scale;
                                if (a.softcap > 0.0f) x = a.softcap * tanhf(x / a.softcap);
                                if (mrow) x += load_in(a.tmask, mrow, jw + jr);
                                x *= ATT_LOG2E;
                            }
                            sc[mt][nt][2 * hf + e] = x;
                        }
                }
        }

        /* online softmax, two rows per thread per m-tile; a quad holds a row. O's rescale is
         * skipped where no row of the warp raised its max (alpha 1: the same values). */
        float alpha[MT][2];
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                if (hf == 1 && !hi_rows) {
                    alpha[mt][1] = 1.0f;
#pragma unroll
                    for (int nt = 0; nt < NTL; nt++) sc[mt][nt][2] = sc[mt][nt][3] = 0.0f;
                    continue;
                }
                float mx = -INFINITY;
#pragma unroll
                for (int nt = 0; nt < NTL; nt++) mx = fmaxf(mx, fmaxf(sc[mt][nt][2 * hf], sc[mt][nt][2 * hf + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                const float m_new = fmaxf(m[mt][hf], mx), ms = m_new == -INFINITY ? 0.0f : m_new;
                alpha[mt][hf] = exp2f(m[mt][hf] - ms);
                m[mt][hf] = m_new;
                float sum = 0.0f;
#pragma unroll
                for (int nt = 0; nt < NTL; nt++) {
                    const float p0 = exp2f(sc[mt][nt][2 * hf] - ms), p1 = exp2f(sc[mt][nt][2 * hf + 1] - ms);
                    sc[mt][nt][2 * hf] = p0, sc[mt][nt][2 * hf + 1] = p1;
                    sum += p0 + p1;
                }
                l[mt][hf] = l[mt][hf] * alpha[mt][hf] + sum;
            }
        bool rescale = false;
#pragma unroll
        for (int mt = 0; mt < MT; mt++) rescale |= alpha[mt][0] != 1.0f || alpha[mt][1] != 1.0f;
        if (__any_sync(0xffffffffu, rescale))
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int dt = 0; dt < DT; dt++) {
                    o[mt][dt][0] *= alpha[mt][0], o[mt][dt][1] *= alpha[mt][0];
                    o[mt][dt][2] *= alpha[mt][1], o[mt][dt][3] *= alpha[mt][1];
                }

        if constexpr (Q8 == 2) __syncthreads(); /* V's tile written */
        /* O += P·V: P from the S registers (rounded to TV), V through transposed ldmatrix */
        const uint32_t v_lane = vt + (uint32_t)(((wk * NKW + (lane & 7) + ((lane >> 3) & 1) * 8) * DP + (lane >> 4) * 8) * 2);
#pragma unroll
        for (int kc = 0; kc < NKW / 16; kc++) {
            uint32_t pa[MT][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                pa[mt][0] = pack2<TV>(sc[mt][2 * kc][0], sc[mt][2 * kc][1]);
                pa[mt][1] = pack2<TV>(sc[mt][2 * kc][2], sc[mt][2 * kc][3]);
                pa[mt][2] = pack2<TV>(sc[mt][2 * kc + 1][0], sc[mt][2 * kc + 1][1]);
                pa[mt][3] = pack2<TV>(sc[mt][2 * kc + 1][2], sc[mt][2 * kc + 1][3]);
            }
#pragma unroll
            for (int dp = 0; dp < D / 16; dp++) {
                uint32_t b[4];
                ldsm_x4_t(b, v_lane + (uint32_t)((kc * 16 * DP + dp * 16) * 2));
#pragma unroll
                for (int mt = 0; mt < MT; mt++) {
                    mma16816<TV>(o[mt][2 * dp], pa[mt], b[0], b[1]);
                    mma16816<TV>(o[mt][2 * dp + 1], pa[mt], b[2], b[3]);
                }
            }
        }
    }

    /* row sums over the quad */
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int hf = 0; hf < 2; hf++) {
            l[mt][hf] += __shfl_xor_sync(0xffffffffu, l[mt][hf], 1);
            l[mt][hf] += __shfl_xor_sync(0xffffffffu, l[mt][hf], 2);
        }

    if constexpr (WK == 1) {
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                const long long R = R0 + wr * 16 * MT + mt * 16 + (lane >> 2) + hf * 8;
                if (R >= rows) continue;
                const long long i = R / G, hq = h * G + R % G;
                const float mn = m[mt][hf] == -INFINITY ? -INFINITY : m[mt][hf] * ATT_LN2;
#pragma unroll
                for (int dt = 0; dt < DT; dt++)
#pragma unroll
                    for (int e = 0; e < 2; e++)
                        emit(p, ws, split, hq, i, dt * 8 + (lane & 3) * 2 + e, mn, l[mt][hf], o[mt][dt][2 * hf + e]);
            }
    } else {
        static_assert(!CL || WK > 1, "the cluster merge follows the warp merge");
        /* merge the WK warps of each row group through smem: [WK][rows][RS] rows of (m, l, two
         * unused, acc[D]), acc 16-byte aligned; only the nr rows that hold queries */
        constexpr int RB = 16 * MT * WR, RS = D + 4;
        /* decode shapes: one row tile (R0 = 0) of at most 16 rows, so int indices */
        const int Gi = (int)G, nr = (int)(rows - R0 < RB ? rows - R0 : RB);
        mlxn_pdl_trigger(); /* the cache is read: the next grid may start launching */
        cp_async_wait<0>();
        __syncthreads();
        float *mb = reinterpret_cast<float *>(smem);
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                if (wr * 16 * MT + mt * 16 + hf * 8 >= nr) continue; /* the warp's 8 rows are all empty */
                const int r = wr * 16 * MT + mt * 16 + (lane >> 2) + hf * 8;
                if (r >= nr) continue;
                float *row = mb + ((size_t)wk * RB + r) * RS;
                if ((lane & 3) == 0) *reinterpret_cast<float2 *>(row) = make_float2(m[mt][hf], l[mt][hf]);
#pragma unroll
                for (int dt = 0; dt < DT; dt++)
                    *reinterpret_cast<float2 *>(row + 4 + dt * 8 + (lane & 3) * 2) =
                        make_float2(o[mt][dt][2 * hf], o[mt][dt][2 * hf + 1]);
            }
        __syncthreads();
        /* a thread per (row, 4 columns) */
        for (int c = tid; c < nr * (D / 4); c += C::NT) {
            const int r = c / (D / 4), d = (c % (D / 4)) * 4;
            const int R = (int)R0 + r;
            float2 ml[WK];
#pragma unroll
            for (int w = 0; w < WK; w++) ml[w] = *reinterpret_cast<const float2 *>(mb + ((size_t)w * RB + r) * RS);
            float mm = -INFINITY;
#pragma unroll
            for (int w = 0; w < WK; w++) mm = fmaxf(mm, ml[w].x);
            float ll = 0.0f;
            float4 aa = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            if (mm != -INFINITY)
#pragma unroll
                for (int w = 0; w < WK; w++) {
                    const float f = exp2f(ml[w].x - mm);
                    const float4 x = *reinterpret_cast<const float4 *>(mb + ((size_t)w * RB + r) * RS + 4 + d);
                    ll += ml[w].y * f;
                    aa.x += x.x * f, aa.y += x.y * f, aa.z += x.z * f, aa.w += x.w * f;
                }
            const float mn = mm == -INFINITY ? -INFINITY : mm * ATT_LN2;
            if constexpr (CL) {
                float *red = reinterpret_cast<float *>(smem + C::merge_bytes()) + (size_t)r * RS;
                *reinterpret_cast<float4 *>(red + 4 + d) = aa;
                if (d == 0) red[0] = mn, red[1] = ll;
            } else {
                emit4(p, ws, split, h * G + R % Gi, R / Gi, d, mn, ll, aa);
            }
        }
        if constexpr (CL) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
            namespace cg = cooperative_groups;
            cg::cluster_group cl = cg::this_cluster();
            const int ns = (int)cl.num_blocks(), rank = (int)cl.block_rank();
            float *red = reinterpret_cast<float *>(smem + C::merge_bytes());
            cl.sync(); /* every slice's rows are in its smem */
            for (int c = rank * C::NT + tid; c < nr * D; c += ns * C::NT) {
                const int r = c / D, d = c % D;
                float pm[8], pl[8], pv[8]; /* at most 8 slices (the launcher's limit) */
#pragma unroll
                for (int k = 0; k < 8; k++) {
                    if (k < ns) {
                        const float *row = cl.map_shared_rank(red, k) + (size_t)r * (D + 4);
                        pm[k] = row[0], pl[k] = row[1], pv[k] = row[4 + d];
                    }
                }
                float mm = -INFINITY;
#pragma unroll
                for (int k = 0; k < 8; k++)
                    if (k < ns) mm = fmaxf(mm, pm[k]);
                float ll = 0.0f, aa = 0.0f;
                if (mm != -INFINITY)
#pragma unroll
                    for (int k = 0; k < 8; k++)
                        if (k < ns) {
                            const float f = __expf(pm[k] - mm);
                            ll += pl[k] * f, aa += pv[k] * f;
                        }
                const long long R = R0 + r;
                finish(a, h * G + R % G, R / G, d, mm, ll, aa);
            }
            cl.sync(); /* no block leaves while another reads its smem */
#endif
        }
    }
}
