/* CUDA sampling: argmax, top-k and the seeded draw, one thread-block cluster per row (up to
 * 16 blocks on sm_90, one block elsewhere). Each block keeps its slice of the row's processed
 * logits in shared memory (global scratch when it does not fit), so the row is read from
 * memory once. Selections are radix threshold searches over a 64-bit rank key, 8 bits per
 * pass, histograms merged across the cluster through distributed shared memory; once the
 * candidates are few, each warp keeps its own in an ordered list and later passes (and the
 * draw) walk only those. No sort. The arithmetic is ops/sample.h's, shared with the CPU. */
#include <cooperative_groups.h>

#include "cuda/dequant.cuh"

namespace cg = cooperative_groups;

#define SMP_THREADS 1024
#define SMP_WARPS (SMP_THREADS / 32)
#define SMP_VEC 4                      /* elements a lane loads from the logits at once */
#define SMP_SPAN (32 * SMP_VEC)        /* elements a warp takes per step */
#define SMP_SEG 128                    /* list entries per warp */
#define SMP_RESIDENT_BYTES (144 << 10) /* the largest slice kept in shared memory (with smp_priv's 48 KB) */
#define SMP_MAX_CLUSTER 16
#define SMP_COPIES 16                  /* private histogram copies, one per lane % 16 */
#define SMP_CSTRIDE 257                /* words per copy: copy q, digit d in bank (q + d) % 32 */
#define SMP_PRIV_MAX_PER 32768         /* mass halves below 2^20 over per/16 <= 2^11 elements: exact in 32 bits */
#define SMP_RANK_SORT_K 128            /* top_k up to this: placed by counts (k steps, no barrier), else bitonic */
#define SMP_SPEC_FLOOR 0x1p-16f        /* top_p alone: the exp pass lists e >= it (z within 11.09 of the max) */
#define SMP_V_NONE 0xffffffffu         /* value word: no element in the digit (value bits below a digit are < 2^24) */
#define SMP_V_MIXED 0xfffffffeu        /* value word: more than one value, or not noted */

struct smp_params {
    long long v, w, per; /* row length, recent ids per row, slice per block (a multiple of SMP_WARPS·SMP_SPAN) */
    int recent_per_row, k, greedy, penalize, vec, advance;
    mlxn_type tv;
    float inv_temp, rep, presence, freq, log_min_p, top_p;
};

struct smp_smem {
    /* per pass (double-buffered): mass and count per digit; the draw's count passes at shifts
     * 48 and 40 keep the count in hmass's low word and the value word (the value bits below the
     * digit, SMP_V_NONE or SMP_V_MIXED) in its high word, so one 64-bit load per rank reads both */
    unsigned long long hmass[2][256];
    unsigned int hcnt[2][256];
    unsigned long long red[SMP_WARPS]; /* block reductions and scans */
    unsigned long long wsum[8], csum[8]; /* digit scans: per warp of the 256 digit threads */
    unsigned long long pub[2];         /* what this block shows the cluster: [0] its max, [1] its kept mass */
    unsigned long long need;
    unsigned long long bound;          /* the draw's top_k without min_p: a bound below the k-th largest z's key */
    unsigned long long tied;           /* what this block shows the cluster: its elements tied at the count threshold */
    unsigned long long ptot[2];        /* ... top_p alone: its total mass and its listed mass */
    unsigned long long bc[6];          /* block broadcasts */
    unsigned int gather_n;             /* top_k: survivors gathered into rank 0 */
    int use_list;                      /* the warps' lists hold every candidate left (else: whole slices) */
    int spec;                          /* with use_list 0: the warps' lists hold every e >= SMP_SPEC_FLOOR */
    int overflow;
    unsigned short list_n[SMP_WARPS];
    unsigned short list[SMP_WARPS][SMP_SEG]; /* slice indices, ascending per warp */
    unsigned long long gather[MLXN_SAMPLE_MAX_K];
};

/* Whole-slice histogram passes: every lane adds its own element into copy lane % 16 with
 * native 32-bit shared atomics (the mass in two 20-bit halves), and the 256 digit threads fold
 * the copies afterwards. Warp aggregation instead (match.any, __reduce_add_sync over each
 * digit's lanes, one 64-bit atomicAdd per digit) serializes per distinct digit (6.7 per warp
 * step on the bench's top_p row, H100 profile) and the 64-bit shared atomicAdd is a
 * compare-and-swap loop (ATOMS.CAST.SPIN.64, 10.6 rounds per warp step): 52% of the samples of
 * that 51 us kernel. */
template <int W> struct __align__(16) smp_priv { /* W: 0 unused (argmax), 1 counts (top_k), 2 counts and mass (the draw) */
    unsigned cnt[W >= 1 ? SMP_COPIES * SMP_CSTRIDE : 1];
    unsigned lo[W >= 2 ? SMP_COPIES * SMP_CSTRIDE : 1], hi[W >= 2 ? SMP_COPIES * SMP_CSTRIDE : 1];
};

/* The private copies a kernel keeps: only cluster kernels use them, and those run on sm_90 and
 * later (a build's sm_80 code holds none: 72 KB is over its static shared memory limit). */
static constexpr int smp_priv_w(mlxn_sample_mode mode, bool cl) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
    return (void)mode, (void)cl, 0;
#else
    return !cl ? 0 : mode == MLXN_SAMPLE_DRAW ? 2 : mode == MLXN_SAMPLE_TOP_K ? 1 : 0;
#endif
}

/* Low bits of the f32 value that are zero in every logit of this type: bf16's 16, f16's 13. */
template <typename TL> struct smp_zero_bits { static constexpr int v = 0; };
template <> struct smp_zero_bits<__half> { static constexpr int v = 13; };
template <> struct smp_zero_bits<__nv_bfloat16> { static constexpr int v = 16; };

/* The cluster, or a single block standing in for one. */
template <bool CL> struct smp_cl {
    __device__ unsigned rank() const { return 0; }
    __device__ unsigned size() const { return 1; }
    __device__ void sync() const { __syncthreads(); }
    template <typename T> __device__ T *map(T *q, unsigned) const { return q; }
};
template <> struct smp_cl<true> {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    __device__ unsigned rank() const { return cg::this_cluster().block_rank(); }
    __device__ unsigned size() const { return cg::this_cluster().num_blocks(); }
    __device__ void sync() const { cg::this_cluster().sync(); }
    template <typename T> __device__ T *map(T *q, unsigned r) const { return cg::this_cluster().map_shared_rank(q, r); }
#else /* never launched below sm_90 */
    __device__ unsigned rank() const { __trap(); return 0; }
    __device__ unsigned size() const { __trap(); return 1; }
    __device__ void sync() const { __trap(); }
    template <typename T> __device__ T *map(T *q, unsigned) const { __trap(); return q; }
#endif
};

static __device__ __forceinline__ unsigned long long smp_warp_max(unsigned long long x) {
#pragma unroll
    for (int o = 16; o; o >>= 1) {
        const unsigned long long y = __shfl_xor_sync(0xffffffffu, x, o);
        x = y > x ? y : x;
    }
    return x;
}

static __device__ __forceinline__ unsigned long long smp_warp_sum(unsigned long long x) {
#pragma unroll
    for (int o = 16; o; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

static __device__ __forceinline__ unsigned long long smp_warp_incl_scan(unsigned long long x) {
    const unsigned lane = threadIdx.x & 31;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        const unsigned long long y = __shfl_up_sync(0xffffffffu, x, o);
        if (lane >= (unsigned)o) x += y;
    }
    return x;
}

/* Block-wide max or sum of one value per thread; every thread gets the result. */
template <bool MAX> static __device__ unsigned long long smp_block_reduce(smp_smem &sm, unsigned long long x) {
    const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    x = MAX ? smp_warp_max(x) : smp_warp_sum(x);
    if (lane == 0) sm.red[warp] = x;
    __syncthreads();
    if (warp == 0) {
        unsigned long long y = lane < SMP_WARPS ? sm.red[lane] : 0;
        y = MAX ? smp_warp_max(y) : smp_warp_sum(y);
        if (lane == 0) sm.bc[3] = y;
    }
    __syncthreads();
    const unsigned long long r = sm.bc[3];
    __syncthreads(); /* bc[3] and red are free again */
    return r;
}

/* A lower bound on the k-th largest of the block's values, one per thread (0: none): the top
 * 32 bits of the k-th largest, 8 bits a pass (fewer where a digit holds exactly the rest), so
 * at least k values are >= it. 0 when fewer than k are nonzero. */
static __device__ unsigned long long smp_block_kth(smp_smem &sm, unsigned long long v, unsigned k) {
    const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    unsigned long long pm = 0, pp = 0;
    unsigned need = k;
    for (int shift = 56; shift >= 32; shift -= 8) {
        if (threadIdx.x < 256) sm.hcnt[0][threadIdx.x] = 0;
        __syncthreads();
        if (v && (v & pm) == pp) atomicAdd(&sm.hcnt[0][(unsigned)(v >> shift) & 255u], 1u);
        __syncthreads();
        unsigned cnt = 0, suf = 0;
        if (threadIdx.x < 256) {
            cnt = suf = sm.hcnt[0][threadIdx.x];
#pragma unroll
            for (int o = 1; o < 32; o <<= 1) {
                const unsigned y = __shfl_down_sync(0xffffffffu, suf, o);
                if (lane + o < 32) suf += y;
            }
            if (lane == 0) sm.csum[warp] = suf;
        }
        __syncthreads();
        if (threadIdx.x < 256) {
            unsigned above = suf - cnt;
            for (unsigned q = warp + 1; q < 8; q++) above += (unsigned)sm.csum[q];
            if (shift == 56 && threadIdx.x == 0 && above + cnt < k) sm.bc[0] = 256; /* fewer than k */
            if (above < need && need <= above + cnt) sm.bc[0] = threadIdx.x, sm.bc[1] = above, sm.bc[2] = cnt;
        }
        __syncthreads();
        const unsigned d = (unsigned)sm.bc[0], d_above = (unsigned)sm.bc[1], d_cnt = (unsigned)sm.bc[2];
        __syncthreads(); /* bc is free again */
        if (d == 256) return 0;
        need -= d_above;
        pm |= 255ull << shift;
        pp |= (unsigned long long)d << shift;
        if (d_cnt == need) break;
    }
    return pp;
}

/* The cluster's max of a and of b, one of each per block (published in pub[0] and pub[1]);
 * every thread gets a's, b's goes to sm.bound. */
template <bool CL>
static __device__ unsigned long long smp_cluster_max(smp_smem &sm, const smp_cl<CL> &cl, unsigned long long a,
                                                     unsigned long long b = 0) {
    if (threadIdx.x == 0) sm.pub[0] = a, sm.pub[1] = b;
    cl.sync();
    if (threadIdx.x < 32) {
        const bool in = threadIdx.x < cl.size();
        const unsigned long long x = smp_warp_max(in ? cl.map(&sm.pub[0], threadIdx.x)[0] : 0);
        const unsigned long long y = smp_warp_max(in ? cl.map(&sm.pub[1], threadIdx.x)[0] : 0);
        if (threadIdx.x == 0) sm.bc[2] = x, sm.bound = y;
    }
    __syncthreads();
    return sm.bc[2];
}

/* Calls f(j, valid) for the warp's elements in ascending slice index j: its chunk of the
 * slice, 32 consecutive elements per step, or its list. Warp-uniform: every lane makes each
 * call (f may use warp intrinsics); valid is false past the end. */
template <bool ROLLED = false, typename F>
static __device__ __forceinline__ void smp_each(const smp_smem &sm, bool use_list, long long ch, long long nb, F &&f) {
    const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (use_list) {
        const int n = sm.list_n[warp];
        for (int i = 0; i < n; i += 32) {
            const int q = i + (int)lane;
            f(q < n ? (long long)sm.list[warp][q] : 0ll, q < n);
        }
    } else if (ROLLED) {
#pragma unroll 1
        for (long long j = warp * ch + lane; j < (warp + 1) * ch; j += 32) f(j, j < nb);
    } else {
        for (long long j = warp * ch + lane; j < (warp + 1) * ch; j += 32) f(j, j < nb);
    }
}

/* Rebuilds the warps' lists from whole slices: the elements where keep(j) holds, in order.
 * A warp with more than SMP_SEG of them leaves the block on whole slices. */
template <typename F>
static __device__ void smp_build_list(smp_smem &sm, long long ch, long long nb, F &&keep) {
    const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (threadIdx.x == 0) sm.overflow = 0;
    __syncthreads();
    unsigned n = 0;
    smp_each(sm, false, ch, nb, [&](long long j, bool valid) {
        const bool k = valid && keep(j);
        const unsigned m = __ballot_sync(0xffffffffu, k);
        const unsigned at = n + __popc(m & ((1u << lane) - 1));
        if (k && at < SMP_SEG) sm.list[warp][at] = (unsigned short)j;
        n += __popc(m);
    });
    if (lane == 0) sm.list_n[warp] = (unsigned short)(n < SMP_SEG ? n : SMP_SEG);
    if (n > SMP_SEG) sm.overflow = 1; /* every such lane writes the same value */
    __syncthreads();
    if (threadIdx.x == 0) sm.use_list = !sm.overflow;
    __syncthreads();
}

template <typename TL> static __device__ __forceinline__ void smp_load4(const TL *q, long long n_valid, bool vec, float (&l)[4]) {
    if (vec && n_valid >= 4) {
        if constexpr (sizeof(TL) == 4) {
            const float4 a = __ldg(reinterpret_cast<const float4 *>(q));
            l[0] = a.x, l[1] = a.y, l[2] = a.z, l[3] = a.w;
        } else {
            const uint2 raw = __ldg(reinterpret_cast<const uint2 *>(q));
            const TL *h = reinterpret_cast<const TL *>(&raw);
#pragma unroll
            for (int u = 0; u < 4; u++) l[u] = mlxn_to_f32(h[u]);
        }
    } else {
#pragma unroll
        for (int u = 0; u < 4; u++) l[u] = u < n_valid ? mlxn_to_f32(q[u]) : 0.0f;
    }
}

/* The selection's view of a slice value: whether it is a candidate, its rank key, its mass.
 * E_KEYS: the slice holds exp values (e < 0: dropped), candidates inside (kmask, kprefix) and,
 * for mass selections, of mass > 0; else the slice holds z and every valid element is one. */
template <bool E_KEYS, bool BY_MASS>
static __device__ __forceinline__ bool smp_cand(float val, bool valid, long long gi, unsigned long long kmask,
                                                unsigned long long kprefix, unsigned long long &ck,
                                                unsigned long long &mass) {
    ck = mlxn_smp_ck(mlxn_smp_key(val), gi);
    mass = BY_MASS ? mlxn_smp_mass(val) : 1;
    if (!E_KEYS) return valid;
    return valid && val >= 0.0f && (ck & kmask) >= kprefix && (!BY_MASS || mass > 0);
}

/* The end of a count selection whose value bits are all decided (pm covers them, pp = the
 * threshold value V's key << 32) with need < the cluster's elements of value V: of those, the
 * need of the lowest index are kept, as the index passes would keep them (the smaller index
 * ranks higher), in one counting pass and one cluster sync instead of four passes. Slices are
 * in rank order and each warp walks its elements in ascending index, so a block keeps the
 * first need - (tied in lower ranks) of its tied elements. Returns this block's prefix under
 * the full mask: V + 1 (none of them), V (all) or the last kept one's key. known: the tied in
 * lower ranks (before) and in this block (mine) are given (the selection's last histogram
 * held them), so no cluster sync, and only the block where the count crosses walks. */
template <bool CL>
static __device__ unsigned long long smp_resolve_ties(smp_smem &sm, const smp_cl<CL> &cl, const float *zs, int nb,
                                                      unsigned b0, int ch, unsigned need, unsigned long long pp, bool known,
                                                      unsigned long long before, unsigned mine) {
    const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5, v = (unsigned)(pp >> 32);
    const bool use_list = sm.use_list;
    /* the warp's elements as smp_each walks them, not unrolled (the draw is at 64 registers) */
    const int n = use_list ? (int)sm.list_n[warp] : (int)(warp + 1) * ch, q0 = use_list ? 0 : (int)warp * ch;
    auto tied = [&](int q, int &j) { /* a dropped e (-1) has no key of an e >= 0 */
        j = use_list ? (int)sm.list[warp][q < n ? q : 0] : q;
        return q < n && (use_list || j < nb) && mlxn_smp_key(zs[j]) == v;
    };
    if (known && (need <= before || need - before >= mine)) return need > before ? pp : pp + (1ull << 32);
    unsigned wt = 0;
#pragma unroll 1
    for (int q = q0 + (int)lane; q - (int)lane < n; q += 32) {
        int j;
        wt += __popc(__ballot_sync(0xffffffffu, tied(q, j)));
    }
    if (lane == 0) sm.red[warp] = wt;
    __syncthreads();
    if (warp == 0) { /* exclusive scan of the warps' counts; the block's to the cluster */
        const unsigned long long x = lane < SMP_WARPS ? sm.red[lane] : 0, incl = smp_warp_incl_scan(x);
        if (lane < SMP_WARPS) sm.red[lane] = incl - x;
        if (lane == 31) sm.tied = incl;
    }
    if (known) __syncthreads();
    else cl.sync();
    if (warp == 0) { /* the tied in lower ranks */
        if (!known) {
            const unsigned C = cl.size(), rank = cl.rank();
            const unsigned long long t = lane < C ? cl.map(&sm.tied, lane)[0] : 0, incl = smp_warp_incl_scan(t);
            before = __shfl_sync(0xffffffffu, incl - t, rank);
        }
        if (lane == 0) sm.bc[0] = need > before ? need - before : 0, sm.bc[1] = pp;
    }
    __syncthreads();
    const unsigned keep = (unsigned)sm.bc[0], wlo = (unsigned)sm.red[warp]; /* need <= k */
    if (keep == 0 || keep >= (unsigned)sm.tied) { /* none or all of this block's */
        __syncthreads();
        return keep ? pp : pp + (1ull << 32); /* v < 2^32 - 1: no key above +inf's */
    }
    if (keep > wlo && keep <= wlo + wt) { /* this warp holds the last one kept */
        unsigned base = wlo;
#pragma unroll 1
        for (int q = q0 + (int)lane; q - (int)lane < n; q += 32) {
            int j;
            const bool t = tied(q, j);
            const unsigned m = __ballot_sync(0xffffffffu, t);
            if (t && base + __popc(m & ((2u << lane) - 1)) == keep) sm.bc[1] = mlxn_smp_ck(v, b0 + j);
            base += __popc(m);
        }
    }
    __syncthreads();
    const unsigned long long r = sm.bc[1];
    __syncthreads(); /* bc and red are free again */
    return r;
}

/* Radix threshold search over the cluster's row, 8 bits of the rank key per pass, most
 * significant first; the kept set is {(ck & mask) >= prefix}. By count: the `need` largest
 * (all, when there are no more). By mass: the fewest largest whose mass reaches
 * need(top_p, total). Same decisions as the CPU backend's select_top. Once at most
 * SMP_WARPS·SMP_SEG elements are at or above the prefix, they go into the warps' lists.
 * zero_bits (z itself the logit): its value key's low zero_bits are known from the sign, 0 or
 * all ones, so passes over them only are skipped. By count, ties at the threshold value
 * (bf16 logits repeat values) end in smp_resolve_ties instead of passes over the index bits.
 * The draw's count selection (e keys, no zero bits to skip) also notes at shifts 48 and 40,
 * in blocks on lists, whether each digit's elements share their value bits below it: when
 * the chosen digit holds one value, the ties are resolved at once from that pass's counts,
 * without passes over the remaining value bits and without a cluster sync (the bench's bf16
 * top_k=40 row, emulated on the CPU: 2 passes instead of 4 and a tie pass; f32 takes 3). */
template <bool CL, bool E_KEYS, bool BY_MASS, int W>
static __device__ void smp_select(smp_smem &sm, smp_priv<W> &pv, const smp_cl<CL> &cl, const float *zs, long long nb,
                                  long long b0, long long ch, unsigned long long need, float top_p,
                                  unsigned long long kmask, unsigned long long kprefix, bool can_list, bool priv_ok,
                                  int zero_bits, int &pass, unsigned long long &mask_out,
                                  unsigned long long &prefix_out) {
    const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5, rk = cl.rank();
    unsigned long long pm = 0, pp = 0;
    bool ties = false, known = false;
    for (int shift = 56; shift >= 0; shift -= 8) {
        if (!E_KEYS && shift >= 32 && shift - 32 + 8 <= zero_bits) { /* the sign is known: the first pass ran */
            pm |= 255ull << shift;
            if (!(pp >> 63)) pp |= 255ull << shift; /* a negative value's key is its bits inverted */
            continue;
        }
        if (!BY_MASS && shift == 24 && can_list) { /* ties at the threshold value; slice indices in 16 bits */
            ties = true;
            break;
        }
        const int buf = pass++ & 1; /* another block may still read the previous pass's buffer */
        /* private copies only in clusters: the single block's draw (a row of at most 8191, or
         * a GPU without clusters) is at its 64 registers already */
        const bool use_list = sm.use_list, priv = CL && !use_list && priv_ok;
        /* value words at shifts 48 and 40 only: after the first pass the lists hold one digit's
         * elements, so the words cost a few atomics (at shift 56 every listed element would
         * write). track is uniform in the cluster; rec is this block's (a block off lists notes
         * every digit mixed) */
        const bool track = E_KEYS && !BY_MASS && can_list && shift > 32 && shift < 56, rec = track && use_list;
        unsigned *const hw = reinterpret_cast<unsigned *>(&sm.hmass[buf][0]); /* track: [2d] count, [2d + 1] value word */
        const unsigned long long w0 = track ? (unsigned long long)(rec ? SMP_V_NONE : SMP_V_MIXED) << 32 : 0;
        if (priv) { /* cnt, and lo and hi after it for the mass */
            constexpr int z4 = BY_MASS ? (int)(sizeof(pv) / 16) : SMP_COPIES * SMP_CSTRIDE / 4;
            uint4 *z = reinterpret_cast<uint4 *>(&pv);
#pragma unroll
            for (int u = 0; u < (z4 + SMP_THREADS - 1) / SMP_THREADS; u++)
                if (threadIdx.x + u * SMP_THREADS < z4) z[threadIdx.x + u * SMP_THREADS] = make_uint4(0, 0, 0, 0);
        } else {
            for (int t = threadIdx.x; t < 256; t += SMP_THREADS) {
                sm.hcnt[buf][t] = 0;
                sm.hmass[buf][t] = w0;
            }
        }
        __syncthreads();
        if (priv) {
            const unsigned cp = (lane & (SMP_COPIES - 1)) * SMP_CSTRIDE;
            const int je = (int)((warp + 1) * ch), n = (int)nb; /* per <= SMP_PRIV_MAX_PER */
#pragma unroll(E_KEYS ? 1 : 4) /* the draw (E_KEYS) is at 64 registers: unrolled, it spills */
            for (int j = (int)(warp * ch) + (int)lane; j < je; j += 32) {
                unsigned long long ck, mass;
                if (smp_cand<E_KEYS, BY_MASS>(zs[j], j < n, b0 + j, kmask, kprefix, ck, mass) && (ck & pm) == pp) {
                    const unsigned at = cp + ((unsigned)(ck >> shift) & 255u);
                    atomicAdd(&pv.cnt[at], 1u);
                    if (BY_MASS) {
                        atomicAdd(&pv.lo[at], (unsigned)(mass & 0xfffffu));
                        atomicAdd(&pv.hi[at], (unsigned)(mass >> 20));
                    }
                }
            }
            __syncthreads();
            if (threadIdx.x < 256) { /* fold the copies */
                unsigned c = 0;
                unsigned long long lo = 0, hi = 0;
#pragma unroll 1
                for (int q = 0; q < SMP_COPIES; q++) {
                    c += pv.cnt[q * SMP_CSTRIDE + threadIdx.x];
                    if (BY_MASS) lo += pv.lo[q * SMP_CSTRIDE + threadIdx.x], hi += pv.hi[q * SMP_CSTRIDE + threadIdx.x];
                }
                sm.hcnt[buf][threadIdx.x] = c;
                sm.hmass[buf][threadIdx.x] = track ? w0 | c : (hi << 20) + lo;
            }
        } else { /* lists, or per too long for the mass halves: one atomic per digit per warp */
            /* rolled: unrolled, its hoisted offsets spill the draw (at 64 registers) with smp_resolve_ties */
            smp_each<true>(sm, use_list, ch, nb, [&](long long j, bool valid) {
                unsigned long long ck, mass;
                const bool cand = smp_cand<E_KEYS, BY_MASS>(zs[j], valid, b0 + j, kmask, kprefix, ck, mass) && (ck & pm) == pp;
                const unsigned digit = (unsigned)(ck >> shift) & 255u;
                const unsigned act = __ballot_sync(0xffffffffu, cand);
                if (cand) {
                    const unsigned peers = __match_any_sync(act, digit);
                    const bool leader = (unsigned)(__ffs(peers) - 1) == lane;
                    if (BY_MASS) { /* mass <= 2^40: two 20-bit halves sum exactly in 32 bits over 32 lanes */
                        const unsigned lo = __reduce_add_sync(peers, (unsigned)(mass & 0xfffffu));
                        const unsigned hi = __reduce_add_sync(peers, (unsigned)(mass >> 20));
                        if (leader) atomicAdd(&sm.hmass[buf][digit], ((unsigned long long)hi << 20) + lo);
                    }
                    if (leader) atomicAdd(track ? &hw[2 * digit] : &sm.hcnt[buf][digit], (unsigned)__popc(peers));
                    if (rec) { /* one word per digit per warp: its lanes' value bits agree, or the digit is mixed */
                        const unsigned low = (unsigned)(ck >> 32) & ((1u << (shift - 32)) - 1);
                        const unsigned lo = __reduce_min_sync(peers, low), hi = __reduce_max_sync(peers, low);
                        if (leader) {
                            const unsigned was = lo == hi ? atomicCAS(&hw[2 * digit + 1], SMP_V_NONE, lo) : SMP_V_MIXED;
                            if (was != SMP_V_NONE && was != lo) hw[2 * digit + 1] = SMP_V_MIXED; /* never left again */
                        }
                    }
                }
            });
        }
        cl.sync();
        /* every block merges the cluster's histograms and picks the same digit */
        unsigned long long wgt = 0, cnt = 0;
        unsigned cbefore = 0, cmine = 0, val = SMP_V_NONE;
        if (threadIdx.x < 256) { /* all ranks' loads issued before any is used */
            const unsigned C = cl.size();
            if (!track) {
                unsigned c_r[SMP_MAX_CLUSTER];
                unsigned long long w_r[SMP_MAX_CLUSTER];
#pragma unroll
                for (unsigned r = 0; r < SMP_MAX_CLUSTER; r++) {
                    c_r[r] = r < C ? cl.map(&sm.hcnt[buf][0], r)[threadIdx.x] : 0;
                    w_r[r] = BY_MASS && r < C ? cl.map(&sm.hmass[buf][0], r)[threadIdx.x] : 0;
                }
#pragma unroll
                for (unsigned r = 0; r < SMP_MAX_CLUSTER; r++) cnt += c_r[r], wgt += w_r[r];
            } else { /* count and value word in one load per rank */
                unsigned long long w_r[SMP_MAX_CLUSTER];
#pragma unroll
                for (unsigned r = 0; r < SMP_MAX_CLUSTER; r++)
                    w_r[r] = r < C ? cl.map(&sm.hmass[buf][0], r)[threadIdx.x] : (unsigned long long)SMP_V_NONE << 32;
#pragma unroll
                for (unsigned r = 0; r < SMP_MAX_CLUSTER; r++) {
                    const unsigned c = (unsigned)w_r[r], v = (unsigned)(w_r[r] >> 32);
                    cnt += c, cbefore += r < rk ? c : 0, cmine = r == rk ? c : cmine;
                    val = v == SMP_V_NONE || v == val ? val : val == SMP_V_NONE ? v : SMP_V_MIXED;
                }
            }
            if (!BY_MASS) wgt = cnt;
        }
        /* suffix sums over digits 255 .. 0 of weight and count: within each warp of 32
         * digits, then across the 8 warps */
        unsigned long long suf = wgt, csuf = cnt;
        if (threadIdx.x < 256) {
#pragma unroll
            for (int o = 1; o < 32; o <<= 1) {
                const unsigned long long y = __shfl_down_sync(0xffffffffu, suf, o), z = __shfl_down_sync(0xffffffffu, csuf, o);
                if (lane + o < 32) suf += y, csuf += z;
            }
            if (lane == 0) sm.wsum[warp] = suf, sm.csum[warp] = csuf;
        }
        __syncthreads();
        unsigned long long above = 0, cabove = 0;
        if (threadIdx.x < 256) {
            above = suf - wgt, cabove = csuf - cnt;
            for (unsigned q = warp + 1; q < 8; q++) above += sm.wsum[q], cabove += sm.csum[q];
        }
        if (shift == 56) { /* the first pass saw every candidate: their total */
            if (threadIdx.x == 0) sm.need = BY_MASS ? mlxn_smp_top_p_need(above + wgt, top_p) : above + wgt;
            __syncthreads();
            const unsigned long long total = sm.need;
            __syncthreads();
            if (BY_MASS) need = need ? need : total; /* given: the draw's exp pass summed the masses */
            else if (total <= need) break; /* no more candidates than the count: keep them all */
        }
        if (threadIdx.x < 256 && above < need && need <= above + wgt) {
            sm.bc[0] = threadIdx.x;
            sm.bc[1] = above;
            sm.bc[2] = cnt;
            sm.bc[3] = cabove + cnt;
            if (E_KEYS && !BY_MASS) { /* the digit holds one value; its counts below this rank and in it */
                sm.bc[4] = track && val < SMP_V_MIXED ? (1ull << 32) | val : 0;
                sm.bc[5] = (unsigned long long)cbefore << 32 | cmine;
            }
        }
        __syncthreads();
        const unsigned long long d = sm.bc[0], d_above = sm.bc[1], d_cnt = sm.bc[2], at_or_above = sm.bc[3];
        __syncthreads(); /* bc is free again */
        need -= d_above;
        pm |= 255ull << shift;
        pp |= d << shift;
        if (BY_MASS ? d_cnt == 1 : d_cnt == need) break;
        if (E_KEYS && !BY_MASS && sm.bc[4]) { /* the digit's d_cnt > need elements share one value: the ties at once */
            ties = known = true;
            break;
        }
        if (can_list && !sm.use_list && at_or_above <= (unsigned long long)SMP_WARPS * SMP_SEG) { /* few: list them */
            if (E_KEYS && sm.spec && mlxn_smp_unkey((unsigned)(pp >> 32)) >= SMP_SPEC_FLOOR) { /* listed already */
                if (threadIdx.x == 0) sm.use_list = 1;
                __syncthreads();
            } else {
                smp_build_list(sm, ch, nb, [&](long long j) {
                    unsigned long long ck, mass;
                    return smp_cand<E_KEYS, BY_MASS>(zs[j], true, b0 + j, kmask, kprefix, ck, mass) && (ck & pm) >= pp;
                });
            }
        }
    }
    if (ties) { /* known: bc[4] and bc[5] still hold the last pass's value bits and counts (no pass wrote them since) */
        const unsigned long long one = known ? sm.bc[4] : 0, split = known ? sm.bc[5] : 0;
        pp |= (one & 0xffffffffull) << 32;
        pp = smp_resolve_ties<CL>(sm, cl, zs, (int)nb, (unsigned)b0, (int)ch, (unsigned)need, pp, known, split >> 32,
                                  (unsigned)split);
        pm = ~0ull;
    }
    mask_out = pm;
    prefix_out = pp;
}

template <mlxn_sample_mode MODE, bool CL, typename TL>
static __global__ void __launch_bounds__(SMP_THREADS) smp_kernel(const TL *__restrict__ logits, const int32_t *__restrict__ recent,
                                                                 int64_t *__restrict__ rng, int32_t *__restrict__ out,
                                                                 void *__restrict__ values, float *__restrict__ gscratch,
                                                                 smp_params p) {
    extern __shared__ float4 smp_dyn[];
    __shared__ smp_smem sm;
    __shared__ smp_priv<smp_priv_w(MODE, CL)> pv;
    const smp_cl<CL> cl;
    const unsigned C = cl.size(), rank = cl.rank(), lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const long long row = blockIdx.x / C, b0 = (long long)rank * p.per, ch = p.per / SMP_WARPS;
    const long long nb = p.v - b0 < 0 ? 0 : p.v - b0 < p.per ? p.v - b0 : p.per;
    float *zs = gscratch ? gscratch + ((long long)blockIdx.x) * p.per : reinterpret_cast<float *>(smp_dyn);
    const TL *lrow = logits + row * p.v;
    if (threadIdx.x == 0) sm.gather_n = 0, sm.use_list = 0, sm.spec = 0, sm.bound = 0;

    /* load: z = l, times 1/temperature for a draw, four steps of loads in flight; the largest
     * rank key unless penalties change values afterwards */
    const bool temper = MODE == MLXN_SAMPLE_DRAW && !p.greedy;
    unsigned long long best = 0;
    for (long long it0 = 0; it0 < ch; it0 += 4 * SMP_SPAN) {
        float l[4][4];
#pragma unroll
        for (int q = 0; q < 4; q++) {
            const long long j0 = warp * ch + it0 + q * SMP_SPAN + lane * SMP_VEC;
            smp_load4(lrow + b0 + j0, it0 + q * SMP_SPAN < ch ? nb - j0 : 0, p.vec, l[q]);
        }
#pragma unroll
        for (int q = 0; q < 4; q++) {
            const long long j0 = warp * ch + it0 + q * SMP_SPAN + lane * SMP_VEC;
            if (it0 + q * SMP_SPAN >= ch) break;
#pragma unroll
            for (int u = 0; u < SMP_VEC; u++) {
                const float z = temper ? __fmul_rn(l[q][u], p.inv_temp) : l[q][u];
                l[q][u] = z;
                if (j0 + u < nb && !p.penalize) {
                    const unsigned long long ck = mlxn_smp_ck(mlxn_smp_key(z), b0 + j0 + u);
                    best = ck > best ? ck : best;
                }
            }
            if (MODE != MLXN_SAMPLE_ARGMAX) *reinterpret_cast<float4 *>(zs + j0) = make_float4(l[q][0], l[q][1], l[q][2], l[q][3]);
        }
    }
    if (MODE == MLXN_SAMPLE_DRAW && p.penalize) {
        __syncthreads();
        const int32_t *rec = recent + (p.recent_per_row ? row * p.w : 0);
        for (long long e = threadIdx.x; e < p.w; e += SMP_THREADS) {
            const long long t = rec[e];
            if (t < b0 || t >= b0 + nb) continue; /* also the empty slots (< 0) and ids >= V */
            bool first = true;
            int c = 0;
            for (long long q = 0; q < p.w; q++) {
                const bool same = rec[q] == t;
                first &= !(same && q < e);
                c += same;
            }
            if (!first) continue;
            const float lp = mlxn_smp_penalize(mlxn_to_f32(lrow[t]), c, p.rep, p.freq, p.presence);
            zs[t - b0] = temper ? __fmul_rn(lp, p.inv_temp) : lp;
        }
        __syncthreads();
        smp_each(sm, false, ch, nb, [&](long long j, bool valid) {
            const unsigned long long ck = mlxn_smp_ck(mlxn_smp_key(zs[j]), b0 + j);
            if (valid) best = ck > best ? ck : best;
        });
    }
    const bool can_list = p.per <= 65536; /* list entries are 16-bit slice indices */
    const bool priv_ok = p.per <= SMP_PRIV_MAX_PER;
    /* top_k: instead of the row's max, a bound below the k-th largest (the largest of the
     * blocks' bounds on their k-th largest thread maximum, each of those a thread's largest),
     * and the elements at or above it listed: the selection runs on the lists from its first
     * pass. A block where a warp has more than its list holds stays on whole slices; the
     * selection's set still holds the k largest, so it keeps the same ones. */
    if (MODE == MLXN_SAMPLE_TOP_K) {
        best = can_list ? smp_cluster_max(sm, cl, smp_block_kth(sm, best, (unsigned)p.k)) : 0;
    } else if (MODE == MLXN_SAMPLE_DRAW && p.k > 0 && !p.greedy && !(p.log_min_p > -INFINITY) && can_list) {
        const unsigned long long kb = smp_block_kth(sm, best, (unsigned)p.k); /* the same bound, on z */
        best = smp_cluster_max(sm, cl, smp_block_reduce<true>(sm, best), kb);
    } else {
        best = smp_cluster_max(sm, cl, smp_block_reduce<true>(sm, best));
    }
    const float m = mlxn_smp_unkey((unsigned)(best >> 32));
    int pass = 0;

    if (MODE == MLXN_SAMPLE_TOP_K) {
        __syncthreads();
        if (best) {
            const unsigned long long bound = best;
            smp_build_list(sm, ch, nb, [&](long long j) { return mlxn_smp_ck(mlxn_smp_key(zs[j]), b0 + j) >= bound; });
        }
        unsigned long long mask, prefix;
        smp_select<CL, false, false>(sm, pv, cl, zs, nb, b0, ch, (unsigned long long)p.k, 1.0f, 0, 0, can_list, priv_ok,
                                     smp_zero_bits<TL>::v, pass, mask, prefix);
        /* gather the k survivors' keys into rank 0, order them there */
        smp_each(sm, sm.use_list, ch, nb, [&](long long j, bool valid) {
            const unsigned long long ck = mlxn_smp_ck(mlxn_smp_key(zs[j]), b0 + j);
            if (valid && (ck & mask) >= prefix) {
                const unsigned slot = atomicAdd(cl.map(&sm.gather_n, 0), 1u);
                if (slot < MLXN_SAMPLE_MAX_K) cl.map(&sm.gather[0], 0)[slot] = ck;
            }
        });
        cl.sync();
        if (rank == 0) {
            auto emit = [&](int t, unsigned long long ck) { /* the t-th largest */
                const long long idx = mlxn_smp_ck_index(ck), o = row * p.k + t;
                out[o] = (int32_t)idx;
                if (values) {
                    const float val = mlxn_to_f32(lrow[idx]);
                    if (p.tv == MLXN_TYPE_F32) static_cast<float *>(values)[o] = val;
                    else if (p.tv == MLXN_TYPE_F16) static_cast<__half *>(values)[o] = __float2half_rn(val);
                    else static_cast<__nv_bfloat16 *>(values)[o] = __float2bfloat16_rn(val);
                }
            };
            if (p.k <= SMP_RANK_SORT_K) { /* each key's place is the count of keys above it: no barriers */
                if ((int)threadIdx.x < p.k) {
                    const unsigned long long a = sm.gather[threadIdx.x];
                    int r = 0;
#pragma unroll 4
                    for (int u = 0; u < p.k; u++) {
                        const unsigned long long b = sm.gather[u]; /* the same word in every lane: a broadcast */
                        r += b > a || (b == a && u < (int)threadIdx.x);
                    }
                    emit(r, a);
                }
            } else {
                int n2 = 1;
                while (n2 < p.k) n2 <<= 1;
                for (int t = threadIdx.x; t < n2; t += SMP_THREADS)
                    if (t >= p.k) sm.gather[t] = 0; /* below every real key */
                __syncthreads();
                for (int size = 2; size <= n2; size <<= 1) /* bitonic sort, descending */
                    for (int stride = size >> 1; stride > 0; stride >>= 1) {
                        for (int t = threadIdx.x; t < n2; t += SMP_THREADS) {
                            const int u = t ^ stride;
                            if (u > t) {
                                const unsigned long long a = sm.gather[t], b = sm.gather[u];
                                const bool desc = (t & size) == 0;
                                if (desc ? a < b : a > b) sm.gather[t] = b, sm.gather[u] = a;
                            }
                        }
                        __syncthreads();
                    }
                for (int t = threadIdx.x; t < p.k; t += SMP_THREADS) emit(t, sm.gather[t]);
            }
        }
    } else if (MODE == MLXN_SAMPLE_ARGMAX || p.greedy || !(__fsub_rn(m, m) == 0.0f)) {
        if (rank == 0 && threadIdx.x == 0) out[row] = (int32_t)mlxn_smp_ck_index(best); /* an infinite max: argmax */
    } else {
        /* step 3 into the slice: e = exp(z - m) for min-p survivors, -1 for the dropped. Listed
         * in order (as smp_build_list): the min-p survivors, or with top_k alone those with e at
         * or above the bound's e less 2^-16 of it, a set that holds the k largest e as the
         * bound's z held k (mlxn_smp_exp is monotone to within 1 ulp: every float in [-28, 0]).
         * Else for top_p, those at or above SMP_SPEC_FLOOR, kept aside (sm.spec): the top_p
         * selection takes them instead of a list build when its prefix is above the floor (the
         * bench row's top_p = 0.9 set is a few tokens at e > 2^-8; the build is a whole pass). */
        __syncthreads();
        const unsigned long long bound = sm.bound;
        const bool min_p = p.log_min_p > -INFINITY && can_list, spec = !min_p && !bound && p.top_p < 1.0f && can_list;
        const bool listing = min_p || bound != 0 || spec;
        const float e_keep =
            min_p ? 0.0f
                  : spec ? SMP_SPEC_FLOOR
                         : __fmul_rn(mlxn_smp_exp(__fsub_rn(mlxn_smp_unkey((unsigned)(bound >> 32)), m)), 0x1.fffep-1f);
        unsigned n_kept = 0;
        unsigned long long tmass = 0;
        smp_each(sm, false, ch, nb, [&](long long j, bool valid) {
            const float x = __fsub_rn(zs[j], m);
            const float e = valid && x >= p.log_min_p ? mlxn_smp_exp(x) : -1.0f;
            zs[j] = e;
            if (spec) tmass += mlxn_smp_mass(e);
            if (listing) {
                const unsigned msk = __ballot_sync(0xffffffffu, e >= e_keep);
                const unsigned at = n_kept + __popc(msk & ((1u << lane) - 1));
                if (e >= e_keep && at < SMP_SEG) sm.list[warp][at] = (unsigned short)j;
                n_kept += __popc(msk);
            }
        });
        if (listing) {
            if (threadIdx.x == 0) sm.overflow = 0;
            __syncthreads();
            if (lane == 0) sm.list_n[warp] = (unsigned short)(n_kept < SMP_SEG ? n_kept : SMP_SEG);
            if (n_kept > SMP_SEG) sm.overflow = 1;
            __syncthreads();
            if (threadIdx.x == 0) {
                if (spec) sm.spec = !sm.overflow;
                else sm.use_list = !sm.overflow;
            }
        }
        __syncthreads();
        /* top_p alone: when the listed elements (all e >= SMP_SPEC_FLOOR) hold the mass top_p
         * needs of the row's total, the kept set is among them: the selection starts on the
         * lists with that need instead of a whole-slice first pass (a block whose lists
         * overflowed lists nothing and takes its whole slice) */
        unsigned long long pneed = 0;
        if (spec && p.k == 0) {
            unsigned long long lmass = 0;
            if (sm.spec) smp_each(sm, true, ch, nb, [&](long long j, bool valid) { lmass += valid ? mlxn_smp_mass(zs[j]) : 0; });
            tmass = smp_block_reduce<false>(sm, tmass);
            lmass = smp_block_reduce<false>(sm, lmass);
            if (threadIdx.x == 0) sm.ptot[0] = tmass, sm.ptot[1] = lmass;
            cl.sync();
            if (warp == 0) {
                const bool in = lane < C;
                const unsigned long long t = smp_warp_sum(in ? cl.map(&sm.ptot[0], lane)[0] : 0);
                const unsigned long long l = smp_warp_sum(in ? cl.map(&sm.ptot[1], lane)[0] : 0);
                if (lane == 0) {
                    const unsigned long long nd = mlxn_smp_top_p_need(t, p.top_p);
                    sm.bc[0] = l >= nd ? nd : 0;
                    if (l >= nd && sm.spec) sm.use_list = 1;
                }
            }
            __syncthreads();
            pneed = sm.bc[0];
            __syncthreads(); /* bc is free again */
        }
        unsigned long long kmask = 0, kprefix = 0, pmask = 0, pprefix = 0;
        if (p.k > 0)
            smp_select<CL, true, false>(sm, pv, cl, zs, nb, b0, ch, (unsigned long long)p.k, 1.0f, 0, 0, can_list,
                                        priv_ok, 0, pass, kmask, kprefix);
        if (p.top_p < 1.0f)
            smp_select<CL, true, true>(sm, pv, cl, zs, nb, b0, ch, pneed, p.top_p, kmask, kprefix, can_list, priv_ok, 0, pass,
                                       pmask, pprefix);
        /* the draw: each warp's kept mass, scanned across warps and the cluster */
        const bool use_list = sm.use_list;
        auto kept_mass = [&](long long j, bool valid) -> unsigned long long {
            unsigned long long ck, mass;
            return smp_cand<true, true>(zs[j], valid, b0 + j, kmask, kprefix, ck, mass) && (ck & pmask) >= pprefix ? mass : 0;
        };
        unsigned long long wmass = 0;
        smp_each(sm, use_list, ch, nb, [&](long long j, bool valid) { wmass += kept_mass(j, valid); });
        wmass = smp_warp_sum(wmass);
        if (lane == 0) sm.red[warp] = wmass;
        __syncthreads();
        if (warp == 0) { /* exclusive scan of the warp masses; the block total to pub[1] */
            const unsigned long long x = lane < SMP_WARPS ? sm.red[lane] : 0, incl = smp_warp_incl_scan(x);
            if (lane < SMP_WARPS) sm.red[lane] = incl - x;
            if (lane == 31) sm.pub[1] = incl;
        }
        cl.sync();
        if (warp == 0) { /* this block's offset and the total, in rank order: lane r reads rank r */
            const unsigned long long t = lane < C ? cl.map(&sm.pub[1], lane)[0] : 0;
            const unsigned long long incl = smp_warp_incl_scan(t), total = __shfl_sync(0xffffffffu, incl, 31);
            const unsigned long long off = __shfl_sync(0xffffffffu, incl - t, rank);
            if (lane == 0) {
                const uint64_t u = mlxn_smp_philox((uint64_t)rng[0], (uint64_t)rng[1], (uint32_t)row);
                sm.bc[0] = off;
                sm.bc[1] = mlxn_smp_mulhi64(u, total);
            }
        }
        __syncthreads();
        const unsigned long long target = sm.bc[1], wlo = sm.bc[0] + sm.red[warp];
        /* the warp whose range holds the target walks its elements to it */
        if (target >= wlo && target < wlo + wmass) {
            unsigned long long base = wlo;
            smp_each(sm, use_list, ch, nb, [&](long long j, bool valid) {
                const unsigned long long ms = kept_mass(j, valid), incl = smp_warp_incl_scan(ms);
                if (target >= base + incl - ms && target < base + incl) out[row] = (int32_t)(b0 + j);
                base += __shfl_sync(0xffffffffu, incl, 31);
            });
        }
    }
    cl.sync(); /* no block leaves while another may still read its shared memory */
    if (MODE == MLXN_SAMPLE_DRAW && p.advance && rank == 0 && threadIdx.x == 0) rng[1] += 1; /* one row: read by all */
}

static __global__ void smp_advance(int64_t *rng) { rng[1] += 1; }

static bool aligned16(const void *q) { return ((uintptr_t)q & 15) == 0; }

/* Whether this kernel instance runs in clusters of c blocks with dyn bytes of shared memory
 * on this device; asked once per instance and size. */
template <typename K> static bool smp_cluster_fits(K kern, unsigned c, size_t dyn, cudaStream_t st) {
    return mlxn_cuda_clusters_fit(kern, dim3(c), SMP_THREADS, dyn, st) > 0;
}

/* Launches kern in clusters of c blocks (grid blocks in all). */
template <typename K, typename TL>
static mlxn_status smp_launch_cluster(cuda_stream *s, K kern, unsigned grid, unsigned c, size_t dyn, const TL *lg,
                                      const mlxn_sample_args *a, float *scratch, const smp_params &p) {
    MLXN_CUDA_TRY(cudaFuncSetAttribute(kern, cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(grid);
    cfg.blockDim = dim3(SMP_THREADS);
    cfg.dynamicSmemBytes = dyn;
    cfg.stream = s->s;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = c, attr[0].val.clusterDim.y = 1, attr[0].val.clusterDim.z = 1;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    MLXN_CUDA_TRY(cudaLaunchKernelEx(&cfg, kern, lg, a->recent, a->rng, a->out, a->values, scratch, p));
    return MLXN_OK;
}

/* Launches a row's cluster of c blocks, each with its slice of `slice` bytes in dyn bytes of
 * shared memory (0: the slices in global scratch from the stream's workspace). A slice that
 * the device does not fit beside the kernel's static shared memory (sm_80: 163 KB a block,
 * sm_86: 99 KB) goes to the scratch too. */
template <mlxn_sample_mode MODE, bool CL, typename TL>
static mlxn_status smp_launch(cuda_stream *s, const mlxn_sample_args *a, smp_params p, unsigned c, size_t dyn,
                              size_t slice) {
    auto kern = smp_kernel<MODE, CL, TL>;
    mlxn_status st = mlxn_cuda_set_smem(kern, dyn, s->dev, "sample");
    if (st == MLXN_ERR_UNSUPPORTED && dyn) {
        mlxn_clear_error();
        dyn = 0;
        st = mlxn_cuda_set_smem(kern, dyn, s->dev, "sample");
    }
    if (st != MLXN_OK) return st;
    float *scratch = nullptr;
    if (MODE != MLXN_SAMPLE_ARGMAX && !dyn) {
        void *ws = nullptr;
        if ((st = mlxn_cuda_workspace(s, slice * c * (size_t)a->rows, &ws)) != MLXN_OK) return st;
        scratch = static_cast<float *>(ws);
    }
    const TL *lg = static_cast<const TL *>(a->logits);
    if constexpr (!CL) {
        kern<<<(unsigned)a->rows, SMP_THREADS, dyn, s->s>>>(lg, a->recent, a->rng, a->out, a->values, scratch, p);
        MLXN_CUDA_CHECK_LAUNCH();
        return MLXN_OK;
    } else {
        return smp_launch_cluster(s, kern, (unsigned)a->rows * c, c, dyn, lg, a, scratch, p);
    }
}

/* The slice each block of a cluster of c takes: a whole number of warp steps. */
static long long smp_per(long long v, unsigned c) {
    const long long span = (long long)SMP_WARPS * SMP_SPAN;
    return ((v + c - 1) / c + span - 1) / span * span;
}

extern "C" mlxn_status mlxn_cuda_sample(void *stream, const mlxn_sample_args *a) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    MLXN_CUDA_TRY(cudaSetDevice(s->dev->ordinal));
    const size_t lsz = a->tl == MLXN_TYPE_F32 ? 4 : 2;
    smp_params p = {};
    p.v = a->v;
    p.w = a->w;
    p.recent_per_row = a->recent_per_row;
    p.k = a->k;
    p.greedy = a->greedy;
    p.penalize = a->penalize;
    p.vec = aligned16(a->logits) && (size_t)a->v * lsz % 16 == 0;
    p.advance = a->advance && a->rows == 1; /* more rows: every cluster reads the step; a kernel after adds 1 */
    p.tv = a->tv;
    p.inv_temp = a->inv_temp, p.rep = a->rep, p.presence = a->presence, p.freq = a->freq;
    p.log_min_p = a->log_min_p, p.top_p = a->top_p;
    /* the cluster: a power of two of blocks, about one per 4096 logits, up to 16 on GPUs with
     * clusters (8 where 16 do not fit) */
    const long long span = (long long)SMP_WARPS * SMP_SPAN;
    const long long want = (a->v + span - 1) / span;
    unsigned c = 1;
    while (s->dev->prop.major >= 9 && c < SMP_MAX_CLUSTER && 2 * (long long)c <= want) c *= 2;
    auto dyn_of = [&](unsigned cc) -> size_t {
        const size_t slice = (size_t)smp_per(a->v, cc) * sizeof(float);
        return a->mode == MLXN_SAMPLE_ARGMAX || slice > SMP_RESIDENT_BYTES ? 0 : slice;
    };
    if (c > 8) {
        static int fits16[64]; /* per device ordinal: 0 unknown, 1 yes, -1 no */
        int *f = s->dev->ordinal < 64 ? &fits16[s->dev->ordinal] : nullptr;
        if (!f || *f == 0) {
            auto kern = smp_kernel<MLXN_SAMPLE_DRAW, true, float>;
            const size_t dyn = (size_t)SMP_RESIDENT_BYTES;
            bool ok = cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)dyn) == cudaSuccess &&
                      cudaFuncSetAttribute(kern, cudaFuncAttributeNonPortableClusterSizeAllowed, 1) == cudaSuccess &&
                      smp_cluster_fits(kern, 16, dyn, s->s);
            (void)cudaGetLastError();
            if (f) *f = ok ? 1 : -1;
            if (!ok) c = 8;
        } else if (*f < 0) {
            c = 8;
        }
    }
    p.per = smp_per(a->v, c);
    const size_t slice = (size_t)p.per * sizeof(float), dyn = dyn_of(c);
    const mlxn_status st = mlxn_dispatch_float(a->tl, [&](auto tl) -> mlxn_status {
        using TL = decltype(tl);
        switch (a->mode) {
        case MLXN_SAMPLE_ARGMAX:
            return c > 1 ? smp_launch<MLXN_SAMPLE_ARGMAX, true, TL>(s, a, p, c, dyn, slice)
                         : smp_launch<MLXN_SAMPLE_ARGMAX, false, TL>(s, a, p, c, dyn, slice);
        case MLXN_SAMPLE_TOP_K:
            return c > 1 ? smp_launch<MLXN_SAMPLE_TOP_K, true, TL>(s, a, p, c, dyn, slice)
                         : smp_launch<MLXN_SAMPLE_TOP_K, false, TL>(s, a, p, c, dyn, slice);
        default:
            return c > 1 ? smp_launch<MLXN_SAMPLE_DRAW, true, TL>(s, a, p, c, dyn, slice)
                         : smp_launch<MLXN_SAMPLE_DRAW, false, TL>(s, a, p, c, dyn, slice);
        }
    });
    if (st != MLXN_OK) return st;
    if (a->mode == MLXN_SAMPLE_DRAW && a->advance && a->rows > 1) {
        smp_advance<<<1, 1, 0, s->s>>>(a->rng);
        MLXN_CUDA_CHECK_LAUNCH();
    }
    return MLXN_OK;
}
