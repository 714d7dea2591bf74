/* Dev copy of the sm_90a wgmma attention kernel with ablations (ABL bits: 1 no K/V loads,
 * 2 no softmax, 4 no P·V, 8 no Q·Kᵀ; the results are then meaningless, only the time counts)
 * and TMA loads (TMA: cp.async.bulk.tensor with 128-byte-swizzled boxes of 64 x BC, one
 * producer thread, V rows >= L zeroed by the consumers). */
#pragma once
#include <cuda.h>
#include <cudaTypedefs.h>

#include "cuda/attention_wgmma.cuh"

/* grid: (row tiles, n_kv_heads, n_split); T: the type of K, V and the operands. */
template <class C, typename T, int ABL, bool TMA>
static __global__ void __launch_bounds__(C::NT, 1)
attn_wgmma_dev(att_params p, float *ws, const __grid_constant__ CUtensorMap tmk, const __grid_constant__ CUtensorMap tmv) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr int D = C::D, BC = C::BC, ST = C::ST, BR = C::BR, NS = BC / 2, NO = D / 2;
    const mlxn_attention_args &a = p.a;
    extern __shared__ unsigned char smem_raw[];
    const uint32_t sbase = (smem_u32(smem_raw) + 1023) & ~1023u;
    unsigned char *sptr = smem_raw + (sbase - smem_u32(smem_raw));
    const uint32_t q_s = sbase, k_s = q_s + BR * D * 2, v_s = k_s + ST * BC * D * 2, bars = v_s + ST * BC * D * 2;
    /* full[s] (the producer's 128 threads arrive when their copies of stage s landed) and
     * empty[s] (the consumers' 256 threads arrive when done with it) */
    auto full = [&](int s) { return bars + 8 * s; };
    auto empty = [&](int s) { return bars + 8 * (ST + s); };
    const int tid = threadIdx.x, lane = tid & 31, wg = tid >> 7, w = (tid >> 5) & 3;
    const long long G = a.n_q_heads / a.n_kv_heads, rows = a.M * G, h = blockIdx.y;
    const long long R0 = ((long long)gridDim.x - 1 - blockIdx.x) * BR; /* the causally longest rows first */
    const int split = blockIdx.z;
    if (tid == 0)
        for (int s = 0; s < ST; s++) mbar_init(full(s), TMA ? 1 : 128), mbar_init(empty(s), 256);
    const int L = (int)kv_count(a);

    const long long js = (long long)split * p.chunk, je = js + p.chunk - 1;
    auto lo_of = [&](long long i) {
        long long lo = js, pos = L - a.M + i;
        if (a.window > 0 && pos - a.window + 1 > lo) lo = pos - a.window + 1;
        return (int)lo;
    };
    auto hi_of = [&](long long i) {
        long long hi = L - 1 < je ? L - 1 : je, pos = L - a.M + i;
        if (a.causal && pos < hi) hi = pos;
        return (int)(hi < -1 ? -1 : hi);
    };
    const long long Rl = (R0 + BR < rows ? R0 + BR : rows) - 1;
    const int kb = lo_of(R0 / G), ke = hi_of(Rl / G), lo_max = lo_of(Rl / G), hi_min = hi_of(R0 / G);
    const int t0 = kb / BC, n_tiles = ke >= kb ? ke / BC - t0 + 1 : 0;
    __syncthreads(); /* barriers initialized */

    if (wg == 2) {
        /* producer: stage t into s = t % ST once the consumers released its previous tile */
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
        const int pt = tid - 256;
        const unsigned char *kbase = static_cast<const unsigned char *>(a.k) + (size_t)(h * a.L_cap) * a.k_row_bytes;
        const unsigned char *vbase = static_cast<const unsigned char *>(a.v) + (size_t)(h * a.L_cap) * a.v_row_bytes;
        if constexpr (TMA) {
            if (pt == 0)
                for (int t = 0; t < n_tiles; t++) {
                    const int s = t % ST, j0 = (t0 + t) * BC;
                    if (t >= ST) mbar_wait(empty(s), (unsigned)((t / ST) - 1) & 1);
                    if (ABL & 1) {
                        mbar_arrive(full(s));
                        continue;
                    }
                    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(full(s)), "r"(2 * BC * D * 2)
                                 : "memory");
#pragma unroll
                    for (int c = 0; c < D / 64; c++) {
                        asm volatile("cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], [%5];\n"
                                     ::"r"(k_s + s * BC * D * 2 + c * BC * 128), "l"(&tmk), "r"(c * 64), "r"(j0), "r"((int)h), "r"(full(s))
                                     : "memory");
                        asm volatile("cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], [%5];\n"
                                     ::"r"(v_s + s * BC * D * 2 + c * BC * 128), "l"(&tmv), "r"(c * 64), "r"(j0), "r"((int)h), "r"(full(s))
                                     : "memory");
                    }
                }
        } else {
        for (int t = 0; t < n_tiles; t++) {
            const int s = t % ST, j0 = (t0 + t) * BC;
            if (t >= ST) mbar_wait(empty(s), (unsigned)((t / ST) - 1) & 1);
            for (int c = pt; c < ((ABL & 1) ? 0 : BC * (D / 8)); c += 128) {
                const int r = c / (D / 8), d8 = (c % (D / 8)) * 8, j = j0 + r;
                const bool ok = j < L;
                const uint32_t off = swz_off(BC, r, d8);
                cp_async16(k_s + s * BC * D * 2 + off, ok ? kbase + (size_t)j * a.k_row_bytes + d8 * 2 : kbase, ok ? 16 : 0);
                cp_async16(v_s + s * BC * D * 2 + off, ok ? vbase + (size_t)j * a.v_row_bytes + d8 * 2 : vbase, ok ? 16 : 0);
            }
            cp_async_commit();
            if (t >= ST - 1) { /* tile t - ST + 1 has landed: hand it to the async proxy, then over */
                cp_async_wait<ST - 1>();
                asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
                mbar_arrive(full((t - ST + 1) % ST));
            }
        }
        cp_async_wait<0>();
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        for (int t = n_tiles - ST + 1 > 0 ? n_tiles - ST + 1 : 0; t < n_tiles; t++) mbar_arrive(full(t % ST));
        }
    } else {
        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
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

        float o[NO], m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
#pragma unroll
        for (int i = 0; i < NO; i++) o[i] = 0.0f;
        const float sl2 = a.scale * ATT_LOG2E;
        const uint32_t q_wg = q_s + wg * 64 * 128;

        for (int t = 0; t < n_tiles; t++) {
            const int s = t % ST, j0 = (t0 + t) * BC;
            const uint32_t kt = k_s + s * BC * D * 2, vt = v_s + s * BC * D * 2;
            mbar_wait(full(s), (unsigned)(t / ST) & 1);
            if (TMA && j0 + BC > L) { /* rows in [L, L_cap) hold whatever the cache holds: zero V's */
                for (int c = (tid & 255); c < BC * (D / 8); c += 256) {
                    const int r = c / (D / 8), d8 = (c % (D / 8)) * 8;
                    if (j0 + r >= L) *reinterpret_cast<uint4 *>(sptr + (vt - sbase) + swz_off(BC, r, d8)) = make_uint4(0, 0, 0, 0);
                }
                asm volatile("fence.proxy.async.shared::cta;\nbar.sync 3, 256;\n" ::: "memory");
            }

            float sc[NS];
            if (ABL & 8) {
#pragma unroll
                for (int i = 0; i < NS; i++) sc[i] = 0.01f * i;
            }
            wg_fence();
#pragma unroll
            for (int kk = 0; kk < ((ABL & 8) ? 0 : D / 16); kk++)
                wgmma_op<BC, T>::ss(sc, wg_desc(q_wg + (kk >> 2) * BR * 128 + (kk & 3) * 32, 16, 1024),
                                    wg_desc(kt + (kk >> 2) * BC * 128 + (kk & 3) * 32, 16, 1024), kk > 0);
            wg_commit();
            wg_wait<0>();
            wg_pin(sc);

            /* sc[4i + e]: row (lane >> 2) + 8·(e >> 1) of this warp's 16, key 8i + 2·(lane & 3) + (e & 1) */
            if (ABL & 2) {
            } else if (a.softcap <= 0.0f && !a.mask && j0 >= lo_max && j0 + BC - 1 <= hi_min) {
#pragma unroll
                for (int i = 0; i < NS; i++) sc[i] *= sl2;
            } else {
#pragma unroll
                for (int hf = 0; hf < 2; hf++) {
                    const int lo = rlo[hf] - j0, hi = rhi[hf] - j0;
                    const unsigned char *mrow = a.mask ? static_cast<const unsigned char *>(a.mask) +
                                                             (size_t)ri[hf] * a.L_cap * (a.tmask == MLXN_TYPE_F16 ? 2 : 4)
                                                       : nullptr;
#pragma unroll
                    for (int i = 0; i < NS / 4; i++)
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
                }
            }
#pragma unroll
            for (int hf = 0; hf < ((ABL & 2) ? 0 : 2); hf++) {
                float mx = -INFINITY;
#pragma unroll
                for (int i = 0; i < NS / 4; i++) mx = fmaxf(mx, fmaxf(sc[4 * i + 2 * hf], sc[4 * i + 2 * hf + 1]));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
                mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
                const float m_new = fmaxf(m[hf], mx), ms = m_new == -INFINITY ? 0.0f : m_new, alpha = exp2f(m[hf] - ms);
                m[hf] = m_new;
                float sum = 0.0f;
#pragma unroll
                for (int i = 0; i < NS / 4; i++) {
                    const float p0 = exp2f(sc[4 * i + 2 * hf] - ms), p1 = exp2f(sc[4 * i + 2 * hf + 1] - ms);
                    sc[4 * i + 2 * hf] = p0, sc[4 * i + 2 * hf + 1] = p1;
                    sum += p0 + p1;
                }
                l[hf] = l[hf] * alpha + sum;
#pragma unroll
                for (int i = 0; i < NO / 4; i++) o[4 * i + 2 * hf] *= alpha, o[4 * i + 2 * hf + 1] *= alpha;
            }

            /* O += P·V, 16 keys a step; P's accumulator layout is the A register layout. Every A
             * register is written before the fence, so the wgmmas issue back to back. */
            uint32_t pa[BC / 16][4];
#pragma unroll
            for (int kc = 0; kc < BC / 16; kc++) {
                pa[kc][0] = pack2<T>(sc[8 * kc], sc[8 * kc + 1]), pa[kc][1] = pack2<T>(sc[8 * kc + 2], sc[8 * kc + 3]);
                pa[kc][2] = pack2<T>(sc[8 * kc + 4], sc[8 * kc + 5]), pa[kc][3] = pack2<T>(sc[8 * kc + 6], sc[8 * kc + 7]);
            }
#pragma unroll
            for (int kc = 0; kc < BC / 16; kc++)
#pragma unroll
                for (int x = 0; x < 4; x++) asm volatile("" : "+r"(pa[kc][x])::"memory");
            wg_pin(o);
            wg_fence();
#pragma unroll
            for (int kc = 0; kc < ((ABL & 4) ? 0 : BC / 16); kc++)
                wgmma_op<D, T>::rs(o, pa[kc], wg_desc(vt + kc * 16 * 128, BC * 128, 1024), 1);
            wg_commit();
            wg_wait<0>();
            wg_pin(o);
            mbar_arrive(empty(s));
        }

#pragma unroll
        for (int hf = 0; hf < 2; hf++) {
            l[hf] += __shfl_xor_sync(0xffffffffu, l[hf], 1);
            l[hf] += __shfl_xor_sync(0xffffffffu, l[hf], 2);
            const long long R = R0 + wg * 64 + w * 16 + (lane >> 2) + hf * 8;
            if (R >= rows) continue;
            const long long i = R / G, hq = h * G + R % G;
            const float mn = m[hf] == -INFINITY ? -INFINITY : m[hf] * ATT_LN2;
#pragma unroll
            for (int c = 0; c < NO / 4; c++)
#pragma unroll
                for (int e = 0; e < 2; e++)
                    emit(p, ws, split, hq, i, 8 * c + (lane & 3) * 2 + e, mn, l[hf], o[4 * c + 2 * hf + e]);
        }
    }
#endif
}
