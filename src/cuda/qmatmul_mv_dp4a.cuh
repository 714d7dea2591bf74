/* CUDA mat-vec for M <= MVQ_MAX_M (4) on integer dot products (included by qmatmul_mv.cu).
 *
 * X is rounded to int8 per 32 elements by a pre-pass into the stream's workspace: q =
 * nearest(x · 127 / amax), d = amax / 127, and s = d · Σq per block (as the CPU backend
 * rounds it). The weight's levels then meet X's in __dp4a, and the scales apply in f32:
 * y += d_w · (d_x · Σ w_q x_q) + c_w · s_x, where c_w is the block's offset (Q4_0: -8 d_w,
 * Q4_1: m). Rows padded to MT (1, 2, 4) hold zeros, so the kernel needs no row checks.
 *
 * The kernel: blocks of 8 warps; a block takes tiles of rows in turn (the grid is what fits
 * on the GPU at once), a warp owns 4 rows of a tile and splits K with the block's other
 * warps on the same rows (wk of them, 1 to 8). It streams chunks of CHB blocks (32: 1024
 * elements) of its 4 rows through shared memory by cp.async, STAGES deep, its copies running
 * ahead across tiles. A lane owns two rows (rg, rg + 2 with rg = lane / 16) and two
 * consecutive blocks of the chunk (2·(lane % 16), +1), so its bytes are contiguous and its
 * decode uses constant offsets; it reads each X block once (through L1) for both rows. Lanes
 * add up by a fixed shuffle tree, warps in warp order: results are reproducible. On sm_90
 * the kernel starts while the pre-pass runs (programmatic dependent launch) and waits for it
 * before reading X (small X: each block rounds it itself, see mvq_go). */

#define MVQ_WARPS 8
/* The largest M this kernel takes (Q4_0 and Q4_1: 2), the tensor-core mat-vec the rest.
 * Measured on an H100 (dev/qmatmul/NOTES.md): its dp4a work grows with M (64 dp4a per 32
 * weights at M = 8: 0.15-0.35 of the read bandwidth there, below the tensor-core kernel's
 * 0.22-0.36); at M = 4 it reads 0.31-0.59 on the large shapes, where the tensor-core kernel
 * reads 0.38-0.41 for Q4_0 and Q4_1 (ahead of this one for those two only). */
#define MVQ_MAX_M 4
/* The most elements of X (MT·K, one batch) a block rounds itself instead of the pre-pass. */
#define MVQ_OWN_K 4096

/* 4 bytes at byte offset o of the words u (o even, known at compile time after unrolling),
 * and the u16 at o. */
template <int N> static __device__ __forceinline__ uint32_t mvq_w32(const uint32_t (&u)[N], int o) {
    return o % 4 == 0 ? u[o / 4] : __funnelshift_r(u[o / 4], u[o / 4 + 1], 16);
}
template <int N> static __device__ __forceinline__ uint32_t mvq_w16(const uint32_t (&u)[N], int o) {
    return o % 4 == 0 ? u[o / 4] & 0xffffu : u[o / 4] >> 16;
}

/* A block decoded for the dot: levels v[0..8) as 4 int8 each, in X's element order (v[j]
 * holds elements 4j .. 4j+3), its scale d and offset coefficient c. */
struct mvq_blk {
    int v[8];
    float d, c;
    int sa, sb; /* S16 formats: integer scales of elements 0..15 and 16..31 */
};

template <mlxn_type T> struct mvq;

/* Traits: BB bytes per block of SUPER·32 elements; MIN: an offset c·s; S16: two integer
 * scales per 32. The 32-element formats: a lane's two blocks are 2·BB
 * contiguous bytes at 2·BB·sub, read as words; dec<O> decodes the block at byte O of them. */
template <class F> struct mvq_b32 {
    static __device__ __forceinline__ void lane(const uint8_t *row, int sub, mvq_blk (&b)[2]) {
        constexpr int LW = 2 * F::BB / 4;
        uint32_t u[LW];
        const uint32_t *src = reinterpret_cast<const uint32_t *>(row + sub * 2 * F::BB);
#pragma unroll
        for (int w = 0; w < LW; w++) u[w] = src[w];
        F::template dec<0>(u, b[0]);
        F::template dec<F::BB>(u, b[1]);
    }
};

/* Q4_0: element j < 16 in the low nibble of qs[j], j + 16 in the high one; levels 0..15 go in
 * as they are and the -8 joins the offset: c = -8·d. */
template <> struct mvq<MLXN_TYPE_Q4_0> : mvq_b32<mvq<MLXN_TYPE_Q4_0>> {
    static constexpr int BB = 18, SUPER = 1, STAGES = 2, CHB = 32;
    static constexpr bool MIN = true, S16 = false;
    template <int O, int N> static __device__ __forceinline__ void dec(const uint32_t (&u)[N], mvq_blk &b) {
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const uint32_t w = mvq_w32(u, O + 2 + 4 * j);
            b.v[j] = (int)(w & 0x0f0f0f0fu);
            b.v[4 + j] = (int)((w >> 4) & 0x0f0f0f0fu);
        }
        b.d = h2f(mvq_w16(u, O));
        b.c = -8.0f * b.d;
    }
};

/* Q4_1: d·q + m, levels 0..15; c = m. */
template <> struct mvq<MLXN_TYPE_Q4_1> : mvq_b32<mvq<MLXN_TYPE_Q4_1>> {
    static constexpr int BB = 20, SUPER = 1, STAGES = 2, CHB = 32;
    static constexpr bool MIN = true, S16 = false;
    template <int O, int N> static __device__ __forceinline__ void dec(const uint32_t (&u)[N], mvq_blk &b) {
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const uint32_t w = mvq_w32(u, O + 4 + 4 * j);
            b.v[j] = (int)(w & 0x0f0f0f0fu);
            b.v[4 + j] = (int)((w >> 4) & 0x0f0f0f0fu);
        }
        b.d = h2f(mvq_w16(u, O));
        b.c = h2f(mvq_w16(u, O + 2));
    }
};

/* Q8_0: signed bytes as they are. */
template <> struct mvq<MLXN_TYPE_Q8_0> : mvq_b32<mvq<MLXN_TYPE_Q8_0>> {
    static constexpr int BB = 34, SUPER = 1, STAGES = 2, CHB = 32;
    static constexpr bool MIN = false, S16 = false;
    template <int O, int N> static __device__ __forceinline__ void dec(const uint32_t (&u)[N], mvq_blk &b) {
#pragma unroll
        for (int j = 0; j < 8; j++) b.v[j] = (int)mvq_w32(u, O + 2 + 4 * j);
        b.d = h2f(mvq_w16(u, O));
        b.c = 0.0f;
    }
};

/* IQ4_NL: nibbles as Q4_0, each looked up in the levels (mvq_iq4nl8, qmatmul.cuh). */
template <> struct mvq<MLXN_TYPE_IQ4_NL> : mvq_b32<mvq<MLXN_TYPE_IQ4_NL>> {
    static constexpr int BB = 18, SUPER = 1, STAGES = 2, CHB = 32;
    static constexpr bool MIN = false, S16 = false;
    template <int O, int N> static __device__ __forceinline__ void dec(const uint32_t (&u)[N], mvq_blk &b) {
#pragma unroll
        for (int j = 0; j < 4; j++) {
            uint32_t lo, hi;
            mvq_iq4nl8(mvq_w32(u, O + 2 + 4 * j), lo, hi);
            b.v[j] = (int)lo, b.v[4 + j] = (int)hi;
        }
        b.d = h2f(mvq_w16(u, O));
        b.c = 0.0f;
    }
};

/* Q4_K and Q5_K: super-blocks of 256 as 8 groups of 32 with 6-bit scales and mins; group
 * 2p + hi is nibble hi of qs[32p + l] (Q5_K: bit 2p + hi of qh[l] is bit 4). A chunk row
 * holds 4 super-blocks; lane sub takes groups 2p, 2p + 1 (p = sub % 4) of super-block
 * sub / 4: one 32-byte run of qs for both. c = -dmin·m. */
template <bool QH> struct mvq_k45 {
    static constexpr int BB = QH ? 176 : 144, SUPER = 8, STAGES = 2, CHB = 32;
    static constexpr bool MIN = true, S16 = false;
    static __device__ __forceinline__ void lane(const uint8_t *row, int sub, mvq_blk (&b)[2]) {
        const int p = sub & 3;
        const uint8_t *base = row + (sub >> 2) * BB;
        const uint4 hd = *reinterpret_cast<const uint4 *>(base); /* d, dmin; scales 0..11 */
        const uint4 *qs = reinterpret_cast<const uint4 *>(base + (QH ? 48 : 16) + 32 * p);
        const uint4 q0 = qs[0], q1 = qs[1];
        const uint32_t w[8] = {q0.x, q0.y, q0.z, q0.w, q1.x, q1.y, q1.z, q1.w};
        /* the scale and min bytes of groups 0..3 (lo) and 4..7 (hi), one per byte */
        const uint32_t s0 = hd.y, s1 = hd.z, s2 = hd.w;
        const bool hi = p >= 2;
        const uint32_t sc = hi ? (s2 & 0x0f0f0f0fu) | ((s0 >> 2) & 0x30303030u) : s0 & 0x3f3f3f3fu;
        const uint32_t mn = hi ? ((s2 >> 4) & 0x0f0f0f0fu) | ((s1 >> 2) & 0x30303030u) : s1 & 0x3f3f3f3fu;
        const int sh = 16 * (p & 1);
        const float d = h2f(hd.x & 0xffffu), dmin = h2f(hd.x >> 16);
#pragma unroll
        for (int g = 0; g < 2; g++) {
            b[g].d = d * (float)((sc >> (sh + 8 * g)) & 0xffu);
            b[g].c = -dmin * (float)((mn >> (sh + 8 * g)) & 0xffu);
        }
        uint32_t h[8] = {};
        if (QH) {
            const uint4 *qh = reinterpret_cast<const uint4 *>(base + 16);
            const uint4 h0 = qh[0], h1 = qh[1];
            h[0] = h0.x, h[1] = h0.y, h[2] = h0.z, h[3] = h0.w, h[4] = h1.x, h[5] = h1.y, h[6] = h1.z, h[7] = h1.w;
        }
#pragma unroll
        for (int j = 0; j < 8; j++) {
            uint32_t lo = w[j] & 0x0f0f0f0fu, up = (w[j] >> 4) & 0x0f0f0f0fu;
            if (QH) {
                lo |= ((h[j] >> (2 * p)) & 0x01010101u) << 4;
                up |= ((h[j] >> (2 * p + 1)) & 0x01010101u) << 4;
            }
            b[0].v[j] = (int)lo;
            b[1].v[j] = (int)up;
        }
    }
};
template <> struct mvq<MLXN_TYPE_Q4_K> : mvq_k45<false> {};
template <> struct mvq<MLXN_TYPE_Q5_K> : mvq_k45<true> {};

/* Q6_K: element 128h + 32t + l has its low 4 bits in nibble t >> 1 of ql[64h + 32(t & 1) + l],
 * its high 2 in bits 2t of qh[32h + l], level q - 32, scale int8 scales[8h + 2t + l / 16].
 * Lane sub takes t = 2·(q & 1) + {0, 1} of h = q >> 1 (q = sub % 4) in super-block sub / 4,
 * which starts 2-byte aligned (210 bytes): words by a funnel shift. */
template <> struct mvq<MLXN_TYPE_Q6_K> {
    static constexpr int BB = 210, SUPER = 8, STAGES = 2, CHB = 32;
    static constexpr bool MIN = false, S16 = true;
    static __device__ __forceinline__ void lane(const uint8_t *row, int sub, mvq_blk (&b)[2]) {
        const int q = sub & 3, h = q >> 1, nib = q & 1;
        const uint8_t *base = row + (sub >> 2) * BB;
        const int sh = (int)((uintptr_t)base & 3) * 8;
        const uint32_t *a = reinterpret_cast<const uint32_t *>((uintptr_t)base & ~(uintptr_t)3);
        auto word = [&](int o) { return __funnelshift_r(a[o / 4], a[o / 4 + 1], sh); };
        const float d = h2f(word(208) & 0xffffu);
        const uint32_t sc = word(192 + 8 * h + 4 * nib);
#pragma unroll
        for (int g = 0; g < 2; g++) {
            const int t = 2 * nib + g;
#pragma unroll
            for (int j = 0; j < 8; j++) {
                const uint32_t lo = (word(64 * h + 32 * g + 4 * j) >> (4 * nib)) & 0x0f0f0f0fu;
                const uint32_t hi = ((word(128 + 32 * h + 4 * j) >> (2 * t)) & 0x03030303u) << 4;
                b[g].v[j] = (int)(((lo | hi) + 0x60606060u) ^ 0x80808080u); /* q - 32 per byte */
            }
            b[g].d = d;
            b[g].c = 0.0f;
            b[g].sa = (int)(int8_t)(sc >> (16 * g));
            b[g].sb = (int)(int8_t)(sc >> (16 * g + 8));
        }
    }
};

template <mlxn_type T> struct mvq_geom {
    static constexpr int STAGES = mvq<T>::STAGES, CHB = mvq<T>::CHB;
    /* shared memory of a block: ST stages of 4 rows of CHB blocks per warp, and the sums */
    template <int MT, int ST = STAGES, int C = CHB> static constexpr int smem() {
        return MVQ_WARPS * (ST * 4 * ((C / 32 * (32 / mvq<T>::SUPER * mvq<T>::BB) + 15) / 16 * 16) + 2 * 4 * MT * 4);
    }
    static constexpr int CB = CHB / mvq<T>::SUPER * mvq<T>::BB; /* bytes of a row in one chunk */
};

/* X to int8 blocks: one warp per 32 elements, lane = element; rows m >= M are zeros. */
template <typename TX, int MT>
static __global__ void mvq_quant_x_kernel(qmm_kp p, int8_t *xq, float2 *xd) {
    mlxn_pdl_trigger(); /* the mat-vec may start its weight copies */
    const long long wid = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31, nbk = p.k / 32;
    if (wid >= (long long)p.batch * MT * nbk) return;
    const int kb = (int)(wid % nbk), r = (int)(wid / nbk), m = r % MT, b = r / MT;
    float v[1] = {0.0f}, s;
    int q[1];
    if (m < p.m) v[0] = mlxn_to_f32(static_cast<const TX *>(p.x)[qmm_x_off(p, b, m, 32 * kb + lane)]);
    const float d = mvq_round<1, 32>(v, q, s);
    xq[(long long)r * p.k + 32 * kb + lane] = (int8_t)q[0];
    if (lane == 0) xd[(long long)r * nbk + kb] = make_float2(d, s);
}

/* X element k of row m (batch 0) as f32. */
static __device__ __forceinline__ float mvq_x_elem(const qmm_kp &p, mlxn_type tx, int m, int k) {
    const long long o = qmm_x_off(p, 0, m, k);
    if (tx == MLXN_TYPE_F32) return __ldg(static_cast<const float *>(p.x) + o);
    const unsigned short h = __ldg(static_cast<const unsigned short *>(p.x) + o);
    return tx == MLXN_TYPE_F16 ? __half2float(__ushort_as_half(h)) : __uint_as_float((uint32_t)h << 16);
}

/* X's MT rows (one batch) rounded by the block as the pre-pass rounds them: xs [MT][K] int8,
 * xds [MT][K / 32] (d, s); rows m >= M are zeros. Four lanes a block of 32, eight elements
 * a lane; a warp's rounds are uniform (its 8 blocks lie wholly inside or past MT·K). */
template <int MT>
static __device__ __forceinline__ void mvq_own_x(const qmm_kp &p, mlxn_type tx, int8_t *xs, float2 *xds) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, tot = MT * p.k;
    for (int base = 256 * warp; base < tot; base += 256 * MVQ_WARPS) {
        const int e0 = base + 8 * lane, m = e0 / p.k, k = e0 - m * p.k;
        float v[8];
#pragma unroll
        for (int j = 0; j < 8; j++) v[j] = e0 < tot && m < p.m ? mvq_x_elem(p, tx, m, k + j) : 0.0f;
        int q[8];
        float s;
        const float d = mvq_round<8, 4>(v, q, s);
        if (e0 < tot) {
            uint32_t w[2] = {0, 0};
#pragma unroll
            for (int j = 0; j < 8; j++) w[j / 4] |= (uint32_t)(q[j] & 0xff) << (8 * (j % 4));
            *reinterpret_cast<uint2 *>(xs + e0) = make_uint2(w[0], w[1]);
            if ((k & 31) == 0) xds[e0 / 32] = make_float2(d, s);
        }
    }
}

static __device__ __forceinline__ int mvq_dot(const int (&v)[8], const int4 &a, const int4 &b) {
    int s = __dp4a(v[0], a.x, 0);
    s = __dp4a(v[1], a.y, s);
    s = __dp4a(v[2], a.z, s);
    s = __dp4a(v[3], a.w, s);
    s = __dp4a(v[4], b.x, s);
    s = __dp4a(v[5], b.y, s);
    s = __dp4a(v[6], b.z, s);
    return __dp4a(v[7], b.w, s);
}

/* Σ over 16 elements times sa, plus over the next 16 times sb. */
static __device__ __forceinline__ int mvq_dot16(const mvq_blk &k, const int4 &a, const int4 &b) {
    int s = __dp4a(k.v[0], a.x, 0), t = __dp4a(k.v[4], b.x, 0);
    s = __dp4a(k.v[1], a.y, s), t = __dp4a(k.v[5], b.y, t);
    s = __dp4a(k.v[2], a.z, s), t = __dp4a(k.v[6], b.z, t);
    s = __dp4a(k.v[3], a.w, s), t = __dp4a(k.v[7], b.w, t);
    return k.sa * s + k.sb * t;
}

/* G: the copy granule: 16, 8 or 4 (cp.async; rows and chunks aligned to it), 2 (plain 2-byte
 * copies), or 0 (OWN only): a job's rows (K within one chunk) as one range of 16-byte copies,
 * the rows w_row bytes apart in the stage from the range's offset in its first 16 bytes. */
template <mlxn_type T, int MT, int ST, int CHB, bool OWN>
static __global__ void __launch_bounds__(32 * MVQ_WARPS, MT >= 4 ? 2 : 3)
    mvq_kernel(qmm_kp p, const int8_t *xq, const float2 *xd, int wk, int G, mlxn_type tx) {
    typedef mvq<T> F;
    /* a chunk: CHB blocks of 32 per row (32 or 64), handled as CHB / 32 halves */
    constexpr int HB = 32 / F::SUPER * F::BB, CB = CHB / 32 * HB, RS = (CB + 15) / 16 * 16, SB = 4 * RS;
    extern __shared__ __align__(16) uint8_t smem[];
    mlxn_pdl_trigger(); /* the next grid may launch: it waits for this one before it reads or writes */
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int wkk = warp % wk, rpb = 4 * (MVQ_WARPS / wk), rg = lane >> 4, sub = lane & 15;
    const bool range = OWN && G == 0;           /* rows as one copy range (X rounded here: small K) */
    const int rsm = range ? (int)p.w_row : RS; /* a row's stride in a stage */
    const int bpr = p.k / 32, nchunk = (bpr + CHB - 1) / CHB;
    /* tiles of rpb rows (all batches), blockIdx.x + i·gridDim.x for this block; in each, this
     * warp's chunks wkk, wkk + wk, ...: cnt of them; job j is chunk j % cnt of tile j / cnt */
    const int tpb = (p.n + rpb - 1) / rpb, ntiles = tpb * p.batch;
    const int cnt = wkk < nchunk ? (nchunk - 1 - wkk) / wk + 1 : 0;
    const int mytiles = (int)blockIdx.x < ntiles ? (ntiles - 1 - (int)blockIdx.x) / (int)gridDim.x + 1 : 0;
    const int total = cnt * mytiles;
    uint8_t *st0 = smem + warp * ST * SB;
    float *red = reinterpret_cast<float *>(smem + MVQ_WARPS * ST * SB);
    auto tile_rows = [&](int ti, int &b, int &n0) {
        const int t = (int)blockIdx.x + ti * (int)gridDim.x;
        b = t / tpb;
        n0 = (t - b * tpb) * rpb + (warp / wk) * 4;
        return p.n - n0 < 4 ? p.n - n0 : 4;
    };
    auto issue = [&](int j) {
        const int ti = j / cnt, ch = wkk + (j - ti * cnt) * wk;
        int b, n0;
        const int rows = tile_rows(ti, b, n0);
        if (rows <= 0) return;
        const int blk0 = ch * CHB, nb = bpr - blk0 < CHB ? bpr - blk0 : CHB, nbytes = nb / F::SUPER * F::BB;
        uint8_t *dst = st0 + (j % ST) * SB;
        const uint8_t *src = p.w + b * p.w_batch + (long long)n0 * p.w_row + (long long)(blk0 / F::SUPER) * F::BB;
        if (range) { /* the rows as one range from its 16-byte line; the last piece, short of 16
                         * bytes, by 2-byte loads: nothing past the last row is read */
            const uint8_t *al = reinterpret_cast<const uint8_t *>((uintptr_t)src & ~(uintptr_t)15);
            const uint8_t *end = src + (long long)(rows - 1) * p.w_row + nbytes;
            const int nch = (int)((end - al + 15) >> 4);
            for (int o = lane; o < nch; o += 32) {
                const long long left = end - (al + 16 * o);
                if (left >= 16) {
                    qmm_cp_async<16>(dst + 16 * o, al + 16 * o);
                } else {
                    for (int e = 0; e < (int)left; e += 2)
                        *reinterpret_cast<uint16_t *>(dst + 16 * o + e) = *reinterpret_cast<const uint16_t *>(al + 16 * o + e);
                }
            }
        } else if (G >= 8) { /* a row at a time: no division per copy */
            const int per = G == 16 ? nbytes >> 4 : nbytes >> 3;
#pragma unroll
            for (int r = 0; r < 4; r++) {
                if (r >= rows) break;
                uint8_t *dr = dst + r * RS;
                const uint8_t *sr = src + r * p.w_row;
                if (G == 16)
                    for (int o = lane; o < per; o += 32) qmm_cp_async<16>(dr + 16 * o, sr + 16 * o);
                else
                    for (int o = lane; o < per; o += 32) qmm_cp_async<8>(dr + 8 * o, sr + 8 * o);
            }
        } else if (G == 4) { /* rows of 4-byte multiples (K 576 of Q4_0: 324 bytes) */
            const int per = nbytes >> 2;
#pragma unroll
            for (int r = 0; r < 4; r++) {
                if (r >= rows) break;
                uint8_t *dr = dst + r * RS;
                const uint8_t *sr = src + r * p.w_row;
                for (int o = lane; o < per; o += 32) qmm_cp_async<4>(dr + 4 * o, sr + 4 * o);
            }
        } else {
            const int per = nbytes / 2;
            for (int i = lane; i < rows * per; i += 32) {
                const int r = i / per, o = (i - r * per) * 2;
                *reinterpret_cast<uint16_t *>(dst + r * RS + o) = *reinterpret_cast<const uint16_t *>(src + r * p.w_row + o);
            }
        }
    };
#pragma unroll
    for (int s = 0; s < ST - 1; s++) {
        if (s < total) issue(s);
        qmm_cp_commit();
    }
    mlxn_pdl_wait(); /* X, or the pre-pass's X */
    /* OWN: X rounded by the block (one batch) after the sums */
    int8_t *xs = reinterpret_cast<int8_t *>(smem + MVQ_WARPS * (ST * SB + 2 * 4 * MT * 4));
    float2 *xds = reinterpret_cast<float2 *>(xs + (MT * p.k + 15) / 16 * 16);
    if constexpr (OWN) {
        mvq_own_x<MT>(p, tx, xs, xds);
        __syncthreads();
    }
    for (int ti = 0; ti < mytiles; ti++) {
        int b, n0;
        const int rows = tile_rows(ti, b, n0);
        const int8_t *xqb = xq + (long long)b * MT * p.k;
        const float2 *xdb = xd + (long long)b * MT * bpr;
        float acc[2][MT];
#pragma unroll
        for (int i = 0; i < 2; i++)
#pragma unroll
            for (int m = 0; m < MT; m++) acc[i][m] = 0.0f;
        for (int c = 0; c < cnt; c++) {
            const int j = ti * cnt + c, ch = wkk + c * wk;
            /* X of lane block (h, lb), row m; zeros past K */
            auto xload = [&](int h, int m, int lb, int4 &a, int4 &a2, float2 &sx) {
                const int kb = ch * CHB + 32 * h + 2 * sub + lb;
                if (kb < bpr) {
                    if constexpr (OWN) {
                        const int4 *xp = reinterpret_cast<const int4 *>(xs + m * p.k + 32 * kb);
                        a = xp[0], a2 = xp[1], sx = xds[m * bpr + kb];
                    } else {
                        const int4 *xp = reinterpret_cast<const int4 *>(xqb + (long long)m * p.k + 32 * kb);
                        a = __ldg(xp), a2 = __ldg(xp + 1), sx = __ldg(xdb + (long long)m * bpr + kb);
                    }
                } else {
                    a = a2 = make_int4(0, 0, 0, 0), sx = make_float2(0.0f, 0.0f);
                }
            };
            /* M = 1: this chunk's X is loaded before the wait for W, off the critical path
             * (from global memory; X in shared memory is read where it is used) */
            constexpr bool PF = !OWN && MT * (CHB / 32) <= 1;
            int4 pa[PF ? CHB / 32 : 1][PF ? MT : 1][2], pb[PF ? CHB / 32 : 1][PF ? MT : 1][2];
            float2 ps[PF ? CHB / 32 : 1][PF ? MT : 1][2];
            if (PF && rows > 0)
#pragma unroll
                for (int h = 0; h < (PF ? CHB / 32 : 1); h++)
#pragma unroll
                    for (int m = 0; m < (PF ? MT : 1); m++)
#pragma unroll
                        for (int lb = 0; lb < 2; lb++) xload(h, m, lb, pa[h][m][lb], pb[h][m][lb], ps[h][m][lb]);
            __syncwarp(); /* the stage job j + ST - 1 reuses was read in the step before */
            if (j + ST - 1 < total) issue(j + ST - 1);
            qmm_cp_commit();
            qmm_cp_wait<ST - 1>();
            __syncwarp();
            if (rows <= 0) continue;
            const int off = range ? (int)((uintptr_t)(p.w + b * p.w_batch + (long long)n0 * p.w_row) & 15) : 0;
#pragma unroll
            for (int h = 0; h < CHB / 32; h++) {
                const uint8_t *stg = st0 + (j % ST) * SB + off + rg * rsm + h * HB;
                const int kb0 = ch * CHB + 32 * h + 2 * sub;
                const bool ok0 = kb0 < bpr, ok1 = kb0 + 1 < bpr;
                mvq_blk blk[2][2];
#pragma unroll
                for (int i = 0; i < 2; i++) F::lane(stg + i * 2 * rsm, sub, blk[i]);
#pragma unroll
                for (int m = 0; m < MT; m++) {
#pragma unroll
                    for (int lb = 0; lb < 2; lb++) {
                        if (!(lb ? ok1 : ok0)) continue;
                        int4 xa, xb;
                        float2 sx;
                        if constexpr (PF) xa = pa[h][m][lb], xb = pb[h][m][lb], sx = ps[h][m][lb];
                        else xload(h, m, lb, xa, xb, sx);
#pragma unroll
                        for (int i = 0; i < 2; i++) {
                            const int dot = F::S16 ? mvq_dot16(blk[i][lb], xa, xb) : mvq_dot(blk[i][lb].v, xa, xb);
                            acc[i][m] = fmaf(blk[i][lb].d, sx.x * (float)dot, acc[i][m]);
                            if (F::MIN) acc[i][m] = fmaf(blk[i][lb].c, sx.y, acc[i][m]);
                        }
                    }
                }
            }
        }
        /* the 16 lanes of a row pair, then the block's warps on the same rows, in order; red is
         * double-buffered by tile, so one barrier per tile keeps writers off unread sums */
        float *rd = red + (ti & 1) * MVQ_WARPS * 4 * MT;
#pragma unroll
        for (int i = 0; i < 2; i++)
#pragma unroll
            for (int m = 0; m < MT; m++) {
                float v = acc[i][m];
#pragma unroll
                for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
                if (sub == 0) rd[(warp * 4 + rg + 2 * i) * MT + m] = v;
            }
        __syncthreads();
        if (!wkk && lane < 4 * MT) {
            const int r = lane / MT, m = lane % MT;
            float v = 0.0f;
            for (int k = 0; k < wk; k++) v += rd[((warp + k) * 4 + r) * MT + m];
            if (r < rows && m < p.m) qmm_store(p, 0, b, m, n0 + r, v);
        }
    }
    qmm_cp_wait<0>();
}

template <mlxn_type T, int MT> static mlxn_status mvq_go(cuda_stream *s, const qmm_launch &l) {
    typedef mvq_geom<T> GE;
    const qmm_kp &p = *l.p;
    const int bpr = p.k / 32, nchunk = (bpr + GE::CHB - 1) / GE::CHB;
    /* X rounded by every block (no pre-pass kernel, no grid boundary) where it is small: one
     * batch, MT·K <= MVQ_OWN_K; else by the pre-pass into the workspace as int8 blocks,
     * [batch][MT][K] bytes, then [batch][MT][K/32] (d, s). H100, same run, µs, with the
     * early trigger and the 16-byte ranges below: 576×576 M 1 / 2 / 4 Q4_1 4.09 / 4.89 / -,
     * -> 3.11 / 3.20 / -, Q8_0 4.12 / 4.99 / 6.07 -> 2.88 / 3.03 / 4.49; 49152×576 Q8_0
     * 17.4 / 20.3 / 28.5 -> 13.6 / 14.0 / 23.8 (dev/qmatmul/NOTES.md, session 12) */
    const bool own = l.batch == 1 && MT * p.k <= MVQ_OWN_K;
    int8_t *xq = NULL;
    float2 *xd = NULL;
    if (!own) {
        const size_t qbytes = ((size_t)l.batch * MT * p.k + 255) / 256 * 256;
        void *ws = NULL;
        mlxn_status st = mlxn_cuda_workspace(s, qbytes + (size_t)l.batch * MT * bpr * sizeof(float2), &ws);
        if (st) return st;
        xq = static_cast<int8_t *>(ws);
        xd = reinterpret_cast<float2 *>(static_cast<char *>(ws) + qbytes);
        const long long warps = (long long)l.batch * MT * bpr;
        st = mlxn_dispatch_float(l.tx, [&](auto tx) {
            mvq_quant_x_kernel<decltype(tx), MT><<<(unsigned)((warps + 7) / 8), 256, 0, l.s>>>(p, xq, xd);
            MLXN_CUDA_CHECK_LAUNCH();
            return MLXN_OK;
        });
        if (st) return st;
    }
    const uintptr_t al = (uintptr_t)p.w | (uintptr_t)p.w_row | (uintptr_t)p.w_batch | (uintptr_t)GE::CB |
                         (uintptr_t)(bpr / mvq<T>::SUPER * mvq<T>::BB);
    int G = al % 16 == 0 ? 16 : al % 8 == 0 ? 8 : al % 4 == 0 ? 4 : 2;
    /* K within one chunk, X rounded in the block and rows not 16-byte multiples (SmolLM2's K
     * 576, Q6_K at K 768): a job's rows as one range of 16-byte copies (G = 0), where the decode takes the rows'
     * alignment (4 bytes; Q6_K 2) and a lane's reads past the last row stay in the stage. At
     * M 3-4 only in place of 2-byte copies: H100, same run, µs at M = 4 on 49152×576 Q4_0 22.6
     * -> 23.7, Q4_1 21.3 -> 23.4 (M 1-2: 14.5 -> 10.7, 16.7 -> 12.8); Q6_K 2048×768 12.1 -> 6.6 */
    constexpr int RS = (GE::CB + 15) / 16 * 16;
    if (own && nchunk == 1 && (MT <= 2 ? G < 16 : G == 2) && (T == MLXN_TYPE_Q6_K || (mvq<T>::SUPER == 1 && G >= 4)) &&
        3 * p.w_row + RS + 32 <= 4 * RS)
        G = 0;
    /* A block's warps split K in wk parts (each warp at least one chunk of 1024 per tile):
     * as many as the chunks allow, for small tiles of 4·8/wk rows that balance over the
     * blocks; the grid holds what fits on the GPU at once, each block looping over tiles
     * with its copies running ahead across them (measured on an H100: dev/qmatmul/NOTES.md) */
    int wk = 1;
    while (wk < MVQ_WARPS && 2 * wk <= nchunk) wk *= 2;
    const long long rpb = 4LL * (MVQ_WARPS / wk), ntiles = (p.n + rpb - 1) / rpb * l.batch;
    if (ntiles > INT32_MAX / 2) return MLXN_ERR_UNSUPPORTED;
    const int smem = GE::template smem<MT>() + (own ? (MT * p.k + 15) / 16 * 16 + MT * bpr * (int)sizeof(float2) : 0);
    auto k = own ? mvq_kernel<T, MT, GE::STAGES, GE::CHB, true> : mvq_kernel<T, MT, GE::STAGES, GE::CHB, false>;
    if (mlxn_status e = mlxn_cuda_set_smem(k, (size_t)smem, l.dev, "qmatmul"); e != MLXN_OK) return e;
    int bps = 0;
    MLXN_CUDA_TRY(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&bps, k, 32 * MVQ_WARPS, smem));
    const long long cap = (long long)(bps > 0 ? bps : 1) * l.dev->prop.multiProcessorCount;
    const long long per = (ntiles + cap - 1) / cap;
    const dim3 grid((unsigned)((ntiles + per - 1) / per));
    return mlxn_cuda_launch(l.s, k, grid, dim3(32 * MVQ_WARPS), (size_t)smem, 1, mlxn_cuda_sm90(l.dev), p,
                            (const int8_t *)xq, (const float2 *)xd, wk, G, l.tx);
}

template <mlxn_type T> static mlxn_status mvq_fmt(cuda_stream *s, const qmm_launch &l) {
    const int m = l.p->m;
    if (m <= 1) return mvq_go<T, 1>(s, l);
    if (m <= 2) return mvq_go<T, 2>(s, l);
    return mvq_go<T, 4>(s, l);
}
