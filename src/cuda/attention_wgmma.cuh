/* CUDA attention prefill on Hopper's warpgroup tensor cores (wgmma, sm_90a). A block: one
 * producer thread that stages BC-key K and V tiles into 128-byte-swizzled shared memory with
 * TMA (cp.async.bulk.tensor; full/empty mbarriers per K and per V stage), two consumer
 * warpgroups of 64 rows each (query × group head, as in attention_mma.cuh), which up to D 128
 * take turns issuing their GEMMs. S = Q·Kᵀ reads Q and K from shared memory; P stays in
 * registers as the A operand of O += P·V, V read N-major; a warpgroup's softmax of one tile
 * runs while the tensor cores multiply the tile before. f16/bf16 K and V of one type; f32
 * accumulation and softmax. */
#pragma once

#include "cuda/attention_mma.cuh"
#include "cuda/hopper.cuh"

/* The K or V cache as a TMA map: [n_kv_heads][L_cap][D] of f16/bf16, boxes of 64 elements (128
 * bytes, the swizzle's width) × bc rows, 128-byte swizzle, out-of-range rows as zeros.
 * encode is the driver's cuTensorMapEncodeTiled. */
static inline CUresult wg_map(wg_encode_fn encode, CUtensorMap *m, const void *base, mlxn_type t, long long D, long long L_cap,
                              long long hkv, size_t row_bytes, int bc) {
    const cuuint64_t dims[3] = {(cuuint64_t)D, (cuuint64_t)L_cap, (cuuint64_t)hkv};
    const cuuint64_t strides[2] = {(cuuint64_t)row_bytes, (cuuint64_t)(row_bytes * (size_t)L_cap)};
    const cuuint32_t box[3] = {64, (cuuint32_t)bc, 1}, es[3] = {1, 1, 1};
    return encode(m, t == MLXN_TYPE_BF16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 3,
                  const_cast<void *>(base), dims, strides, box, es, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                  CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
}

/* Tiles: [64-element chunk of D][row][128 bytes], the 16-byte unit u of row r stored at u ^ (r & 7)
 * (the hardware's 128-byte swizzle, with every tile 1024-byte aligned). */
static __device__ __forceinline__ uint32_t swz_off(int rows, int r, int d8) {
    return (uint32_t)((d8 >> 6) * rows * 128 + r * 128 + ((((d8 >> 3) & 7) ^ (r & 7)) << 4));
}

/* A 64 × BC box of the [n_kv_heads][L_cap][D] cache at (d0, j0, h) -> smem, counted on bar;
 * rows past L_cap arrive as zeros. */
static __device__ __forceinline__ void tma_box(uint32_t dst, const CUtensorMap *map, int d0, int j0, int h, uint32_t bar) {
    tma_3d(dst, map, d0, j0, h, bar);
}
/* 2^x, flushing subnormal results to 0 (the softmax weights' only loss: below 2^-126). */
static __device__ __forceinline__ float ex2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

template <int D_, int BC_, int ST_> struct wg_cfg {
    static constexpr int D = D_, BC = BC_, ST = ST_;
    static constexpr int NT = 384, BR = 128; /* warpgroup 0, 1: consumers; 2: producer */
    static_assert(D % 64 == 0 && BC % 64 == 0 && BC <= 256 && D <= 256, "wgmma tile shape");
    /* Q [BR][D], then K and V [ST][BC][D], all swizzled, then 4·ST mbarriers; 1 KB to align */
    static constexpr size_t smem() { return 1024 + (size_t)BR * D * 2 + (size_t)ST * 2 * BC * D * 2 + 32 * ST; }
};

/* Two columns of an output row as T (one 4- or 8-byte store). */
template <typename T> static __device__ __forceinline__ void wg_put2(void *row, int d, float x, float y) {
    if constexpr (std::is_same<T, float>::value)
        *reinterpret_cast<float2 *>(static_cast<float *>(row) + d) = make_float2(x, y);
    else
        *reinterpret_cast<uint32_t *>(static_cast<T *>(row) + d) = pack2<T>(x, y);
}
template <typename T, int NO>
static __device__ __forceinline__ void wg_put_row(void *row, int d0, const float (&o)[NO], int hf, float f) {
#pragma unroll
    for (int c = 0; c < NO / 4; c++) wg_put2<T>(row, 8 * c + d0, o[4 * c + 2 * hf] * f, o[4 * c + 2 * hf + 1] * f);
}

/* A consumer thread's columns d0 + 8c, d0 + 8c + 1 of the accumulator row hf (query i, head hq;
 * m in log2 units, l summed over the quad): o / l with the sink as a.to where the block holds
 * all the row's keys (what finish() computes, with one reciprocal a row), else the partial
 * (m, l, acc) for the combine kernel (the layout emit() writes). */
template <int NO>
static __device__ __forceinline__ void wg_store_row(const att_params &p, float *ws, int split, long long i, long long hq, int d0,
                                                    float m, float l, const float (&o)[NO], int hf) {
    const mlxn_attention_args &a = p.a;
    const float mn = m == -INFINITY ? -INFINITY : m * ATT_LN2;
    if (p.n_split > 1) {
        float *part = att_part_row(a, ws, split, hq, i);
        wg_put_row<float>(part + 4, d0, o, hf, 1.0f);
        if (d0 == 0) part[0] = mn, part[1] = l;
        return;
    }
    const float scale_acc = att_sink_fold(a, hq, mn, l);
    const float f = l > 0.0f ? scale_acc / l : 0.0f;
    const long long off = att_out_off(a, hq, i, 0);
    if (a.to == MLXN_TYPE_BF16) wg_put_row<__nv_bfloat16>(static_cast<__nv_bfloat16 *>(a.o) + off, d0, o, hf, f);
    else if (a.to == MLXN_TYPE_F16) wg_put_row<__half>(static_cast<__half *>(a.o) + off, d0, o, hf, f);
    else wg_put_row<float>(static_cast<float *>(a.o) + off, d0, o, hf, f);
}

/* grid: (row tiles, n_kv_heads, n_split); T: the type of K, V and the operands; tmk/tmv: the
 * caches as TMA maps (see wg_map). A consumer warpgroup issues S(t + 1) = Q·K(t + 1)ᵀ before
 * O += P(t)·V(t), and computes the softmax of tile t + 1 while the tensor cores run both: K
 * and V stages have their own barriers, the producer loads in the order they are consumed
 * (K0, K1, V0, K2, V1, ...) and a K stage is free as soon as its S is computed. */
template <class C, typename T>
static __global__ void __launch_bounds__(C::NT, 1)
attn_wgmma_kernel(att_params p, float *ws, const __grid_constant__ CUtensorMap tmk, const __grid_constant__ CUtensorMap tmv) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr int D = C::D, BC = C::BC, ST = C::ST, BR = C::BR, NS = BC / 2, NO = D / 2;
    const mlxn_attention_args &a = p.a;
    extern __shared__ unsigned char smem_raw[];
    const uint32_t sbase = (smem_u32(smem_raw) + 1023) & ~1023u;
    unsigned char *sptr = smem_raw + (sbase - smem_u32(smem_raw));
    const uint32_t q_s = sbase, k_s = q_s + BR * D * 2, v_s = k_s + ST * BC * D * 2, bars = v_s + ST * BC * D * 2;
    /* full (the producer's expect_tx; complete when the TMA bytes of the stage landed) and
     * empty (the consumers' 256 threads arrive when done with it), for K and V stages */
    auto full_k = [&](int s) { return bars + 8 * s; };
    auto full_v = [&](int s) { return bars + 8 * (ST + s); };
    auto empty_k = [&](int s) { return bars + 8 * (2 * ST + s); };
    auto empty_v = [&](int s) { return bars + 8 * (3 * ST + s); };
    const int tid = threadIdx.x, lane = tid & 31, wg = tid >> 7, w = (tid >> 5) & 3;
    const long long G = a.n_q_heads / a.n_kv_heads, rows = a.M * G, h = blockIdx.y;
    const long long R0 = ((long long)gridDim.x - 1 - blockIdx.x) * BR; /* the causally longest rows first */
    const int split = blockIdx.z;
    if (tid == 0)
        for (int s = 0; s < ST; s++) mbar_init(full_k(s), 1), mbar_init(full_v(s), 1), mbar_init(empty_k(s), 256), mbar_init(empty_v(s), 256);
    const int L = (int)kv_count(a);

    const long long js = (long long)split * p.chunk, je = js + p.chunk - 1;
    auto lo_of = [&](long long i) { return att_key_lo<long long>(a, L, js, i); };
    auto hi_of = [&](long long i) { return att_key_hi<long long>(a, L, je, i); };
    const long long Rl = (R0 + BR < rows ? R0 + BR : rows) - 1;
    const int kb = lo_of(R0 / G), ke = hi_of(Rl / G), lo_max = lo_of(Rl / G), hi_min = hi_of(R0 / G);
    const int t0 = kb / BC, n_tiles = ke >= kb ? ke / BC - t0 + 1 : 0;
    __syncthreads(); /* barriers initialized */

    if (wg == 2) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n");
        if (tid == 256) {
            /* stage t % ST of K (or V) once the consumers released tile t - ST of it */
            auto load = [&](int t, bool v) {
                const int s = t % ST, j0 = (t0 + t) * BC;
                if (t >= ST) mbar_wait(v ? empty_v(s) : empty_k(s), (unsigned)((t / ST) - 1) & 1);
                const uint32_t bar = v ? full_v(s) : full_k(s), dst = (v ? v_s : k_s) + s * BC * D * 2;
                mbar_expect(bar, BC * D * 2);
#pragma unroll
                for (int c = 0; c < D / 64; c++) tma_box(dst + c * BC * 128, v ? &tmv : &tmk, c * 64, j0, (int)h, bar);
            };
            if (n_tiles > 0) load(0, false);
            for (int t = 0; t < n_tiles; t++) {
                if (t + 1 < n_tiles) load(t + 1, false);
                load(t, true);
            }
        }
    } else {
        asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n");
        int rlo[2], rhi[2], ri[2];
#pragma unroll
        for (int hf = 0; hf < 2; hf++) {
            const long long R = R0 + wg * 64 + w * 16 + (lane >> 2) + hf * 8, i = (R < rows ? R : Rl) / G;
            rlo[hf] = lo_of(i), rhi[hf] = hi_of(i), ri[hf] = (int)i;
        }
        /* this warpgroup's 64 Q rows -> smem as T (swizzled), for its wgmmas only */
        for (int c = tid & 127; c < 64 * (D / 8); c += 128) {
            const int r = wg * 64 + c / (D / 8), d8 = (c % (D / 8)) * 8;
            const long long R = R0 + r;
            uint4 v = make_uint4(0, 0, 0, 0);
            if (R < rows) v = q_chunk<T>(a.tq, a.q, ((h * G + R % G) * a.M + R / G) * D + d8);
            *reinterpret_cast<uint4 *>(sptr + swz_off(BR, r, d8)) = v;
        }
        asm volatile("fence.proxy.async.shared::cta;\nbar.sync %0, 128;\n" ::"r"(1 + wg) : "memory");

        float o[NO], m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f}, sc[NS];
        uint32_t pa[BC / 16][4];
#pragma unroll
        for (int i = 0; i < NO; i++) o[i] = 0.0f;
        const float sl2 = a.scale * ATT_LOG2E;
        const uint32_t q_wg = q_s + wg * 64 * 128;

        /* P's registers, read by the P·V wgmmas until their wait: kept where they are */
        auto pin_pa = [&]() {
#pragma unroll
            for (int kc = 0; kc < BC / 16; kc++)
#pragma unroll
                for (int x = 0; x < 4; x++) asm volatile("" : "+r"(pa[kc][x])::"memory");
        };
        /* issues S = Q·K(t)ᵀ into sc */
        auto qk = [&](int t) {
            const int s = t % ST;
            const uint32_t kt = k_s + s * BC * D * 2;
            mbar_wait(full_k(s), (unsigned)(t / ST) & 1);
            wg_pin(sc);
            wg_fence();
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++)
                wgmma_op<BC, T>::ss(sc, wg_desc(q_wg + (kk >> 2) * BR * 128 + (kk & 3) * 32, 16, 1024),
                                    wg_desc(kt + (kk >> 2) * BC * 128 + (kk & 3) * 32, 16, 1024), kk > 0);
            wg_commit();
        };
        /* waits for V(t) and zeroes its rows past L (both warpgroups, outside their turns) */
        auto pv_prep = [&](int t) {
            const int s = t % ST, j0 = (t0 + t) * BC;
            const uint32_t vt = v_s + s * BC * D * 2;
            mbar_wait(full_v(s), (unsigned)(t / ST) & 1);
            if (j0 + BC > L) { /* rows in [L, L_cap) hold whatever the cache holds: zero V's */
                for (int c = tid; c < BC * (D / 8); c += 256) {
                    const int r = c / (D / 8), d8 = (c % (D / 8)) * 8;
                    if (j0 + r >= L) *reinterpret_cast<uint4 *>(sptr + (vt - sbase) + swz_off(BC, r, d8)) = make_uint4(0, 0, 0, 0);
                }
                asm volatile("fence.proxy.async.shared::cta;\nbar.sync 3, 256;\n" ::: "memory");
            }
        };
        /* issues O += P·V(t), 16 keys a step; P's accumulator layout is the A register layout */
        auto pv = [&](int t) {
            const uint32_t vt = v_s + (t % ST) * BC * D * 2;
            pin_pa();
            wg_pin(o);
            wg_fence();
#pragma unroll
            for (int kc = 0; kc < BC / 16; kc++) wgmma_op<D, T>::rs(o, pa[kc], wg_desc(vt + kc * 16 * 128, BC * 128, 1024), 1);
            wg_commit();
        };
        /* up to D 128 the warpgroups issue their GEMMs in turns (named barriers 4 and 5), each
         * computing its softmax during the other's, so the tensor cores alternate between them
         * (H100, three runs each: Llama L 4096 381-424 -> 427-468 TFLOP/s, Gemma-3-27B L 8192
         * 524-565 -> 575-595; at D 256, 32 heads, L 4096 524-535 -> 513-519: not there) */
        constexpr bool PP = D <= 128;
        auto turn = [&]() {
            if constexpr (PP) asm volatile("bar.sync %0, 256;\n" ::"r"(4 + wg) : "memory");
        };
        auto pass = [&]() {
            if constexpr (PP) asm volatile("bar.arrive %0, 256;\n" ::"r"(5 - wg) : "memory");
        };
        if (PP && wg == 1) asm volatile("bar.arrive 4, 256;\n" ::: "memory"); /* warpgroup 0 starts */
        /* the softmax of tile t's S (in sc, complete): P into sc, the running m and l, and the
         * factor alpha the accumulators take before P·V(t).
         * sc[4i + e]: row (lane >> 2) + 8·(e >> 1) of this warp's 16, key 8i + 2·(lane & 3) + (e & 1).
         * A tile inside every row's range, without softcap or mask, keeps the raw dots and
         * takes the scale (log2 units) inside the exponent's FFMA; others are scaled and
         * masked here (f = 1). */
        auto softmax = [&](int t, float (&alpha)[2]) {
            const int j0 = (t0 + t) * BC;
            const bool plain = a.scale > 0.0f && a.softcap <= 0.0f && !a.mask && j0 >= lo_max && j0 + BC - 1 <= hi_min;
            const float f = plain ? sl2 : 1.0f;
            if (!plain && a.softcap <= 0.0f && !a.mask) { /* the causal or window edge: keys outside -inf */
#pragma unroll
                for (int hf = 0; hf < 2; hf++) {
                    const int lo = rlo[hf] - j0, hi = rhi[hf] - j0;
#pragma unroll
                    for (int i = 0; i < NS / 4; i++)
#pragma unroll
                        for (int e = 0; e < 2; e++) {
                            const int jr = 8 * i + (lane & 3) * 2 + e;
                            sc[4 * i + 2 * hf + e] = jr < lo || jr > hi ? -INFINITY : sc[4 * i + 2 * hf + e] * sl2;
                        }
                }
            } else if (!plain) {
#pragma unroll
                for (int hf = 0; hf < 2; hf++) {
                    const int lo = rlo[hf] - j0, hi = rhi[hf] - j0;
                    const unsigned char *mrow = a.mask ? static_cast<const unsigned char *>(a.mask) +
                                                             (size_t)ri[hf] * a.L_cap * (a.tmask == MLXN_TYPE_F16 ? 2 : 4)
                                                       : nullptr;
#pragma unroll
                    for (int i = 0; i < NS / 4; i++) {
#pragma unroll
                        for (int e = 0; e < 2; e++) {
                            const int jr = 8 * i + (lane & 3) * 2 + e;
                            float x = sc[4 * i + 2 * hf + e];
                            if (jr < lo || jr > hi) {
                                x = -INFINITY;
                            } else {
                                x *= a.scale;
                                if (a.softcap > 0.0f) x = a.softcap * tanhf(x / a.softcap);
                                if (mrow) x += load_in(a.tmask, mrow, j0 + jr);
                                x *= ATT_LOG2E;
                            }
                            sc[4 * i + 2 * hf + e] = x;
                        }
                        asm volatile("" ::: "memory"); /* mask loads stay in their step: registers */
                    }
                }
            }
#pragma unroll
            for (int hf = 0; hf < 2; hf++) {
                float mx = -INFINITY;
#pragma unroll
                for (int i = 0; i < NS / 4; i++) mx = fmaxf(mx, fmaxf(sc[4 * i + 2 * hf], sc[4 * i + 2 * hf + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                const float m_new = fmaxf(m[hf], mx * f), ms = m_new == -INFINITY ? 0.0f : m_new;
                alpha[hf] = ex2(m[hf] - ms);
                m[hf] = m_new;
                float sum = 0.0f;
#pragma unroll
                for (int i = 0; i < NS / 4; i++) {
                    const float p0 = ex2(fmaf(sc[4 * i + 2 * hf], f, -ms)), p1 = ex2(fmaf(sc[4 * i + 2 * hf + 1], f, -ms));
                    sc[4 * i + 2 * hf] = p0, sc[4 * i + 2 * hf + 1] = p1;
                    sum += p0 + p1;
                }
                l[hf] = l[hf] * alpha[hf] + sum;
            }
        };
        auto to_pa = [&]() {
#pragma unroll
            for (int kc = 0; kc < BC / 16; kc++) {
                pa[kc][0] = pack2<T>(sc[8 * kc], sc[8 * kc + 1]), pa[kc][1] = pack2<T>(sc[8 * kc + 2], sc[8 * kc + 3]);
                pa[kc][2] = pack2<T>(sc[8 * kc + 4], sc[8 * kc + 5]), pa[kc][3] = pack2<T>(sc[8 * kc + 6], sc[8 * kc + 7]);
            }
        };

        if (n_tiles > 0) {
            float alpha[2];
            turn();
            qk(0);
            pass();
            wg_wait<0>();
            wg_pin(sc);
            mbar_arrive(empty_k(0));
            softmax(0, alpha); /* O is zero: alpha has nothing to scale */
            to_pa();
        }
        for (int t = 0; t + 1 < n_tiles; t++) {
            float alpha[2];
            pv_prep(t);
            turn();
            qk(t + 1);
            pv(t);
            pass();
            wg_wait<1>(); /* S(t + 1); P(t)·V(t) may still run */
            wg_pin(sc);
            mbar_arrive(empty_k((t + 1) % ST));
            softmax(t + 1, alpha);
            wg_wait<0>();
            wg_pin(o);
            pin_pa();
            mbar_arrive(empty_v(t % ST));
#pragma unroll
            for (int i = 0; i < NO / 4; i++)
#pragma unroll
                for (int hf = 0; hf < 2; hf++) o[4 * i + 2 * hf] *= alpha[hf], o[4 * i + 2 * hf + 1] *= alpha[hf];
            to_pa();
        }
        if (n_tiles > 0) {
            pv_prep(n_tiles - 1);
            turn();
            pv(n_tiles - 1);
            pass();
            wg_wait<0>();
            wg_pin(o);
        }

#pragma unroll
        for (int hf = 0; hf < 2; hf++) {
            l[hf] += __shfl_xor_sync(0xffffffffu, l[hf], 1);
            l[hf] += __shfl_xor_sync(0xffffffffu, l[hf], 2);
            const long long R = R0 + wg * 64 + w * 16 + (lane >> 2) + hf * 8;
            if (R < rows) wg_store_row(p, ws, split, R / G, h * G + R % G, 2 * (lane & 3), m[hf], l[hf], o, hf);
        }
    }
#endif
}
