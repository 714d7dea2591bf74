/* CUDA mat-vec for 4 < M <= 16 on the tensor cores (sm_90a; included by qmatmul_mv.cu
 * after qmatmul_mv_dp4a.cuh).
 *
 * X is rounded to int8 per 32 as for the dp4a kernel (q, d, s = d·Σq), by a pre-pass that
 * writes it block-major, [batch][K/32][MT][32] bytes and [batch][K/32][MT] (d, s), its bytes
 * permuted so that a lane's two B-fragment words sit side by side (one 8-byte load). Blocks
 * of BN = 16, 32 or 64 W rows: a producer warp stages KS elements of K per stage: W's raw
 * bytes by TMA (a BN-row box, rows past N read as zeros), X's blocks and scales of the stage
 * by two bulk copies, on full/empty mbarriers. Eight consumer warps, 8 / (BN / 16) per 16
 * rows, take the stage's units (32-blocks, or runs of a K-quant super-block) in turn, their
 * sums added at the end in warp order (eight warps where four left the SMs short of eligible
 * warps: ncu, Q4_0 4096×14336 M = 8, 0.47 eligible per scheduler, stalled on shared-memory
 * loads). A consumer takes each 32-block of its units: the levels of its rows g and g + 8 as
 * the A fragment of one mma.sync m16n8k32 (s8) per 8 X rows (Q6_K: two k16, one per integer
 * scale), and the s32 sums into f32 with the scales: y += d_w·(d_x·Σ w_q x_q) + c_w·s_x, the
 * dp4a kernel's formula. Narrower row tiles, then splits over K, fill the GPU where 64-row
 * tiles do not (qmi_plan): each split stores its partials, and the last of a tile's splits
 * to finish (a counter per tile, zeroed by the pre-pass) adds them in split order and stores
 * y, so results do not depend on which split finishes last.
 *
 * For Q4_0 and Q6_K (qmh_lv), where X is f16 or bf16 and the grid needs no split, there is no
 * pre-pass: the producer copies a stage of X's rows as they are by one TMA box (XK = QMI_XF16,
 * QMI_XBF16; qmh_xmap), and a 32-block's levels become halves of X's type, exactly (qmh_cvt),
 * for two mma.sync m16n8k16 with f32 sums. Their k order is a permutation of the block's: slot
 * 2t, 2t + 1 holds k = 4t, 4t + 1 and slot 2t + 8, 2t + 9 holds 4t + 2, 4t + 3 (the second
 * mma the same from 16), so that the int8 A fragments split into halves in place and a lane's
 * B fragment is X's k = 4t..4t+3, one 8-byte load. */

#define QMI_THREADS (32 * 9)       /* eight consumer warps, one producer */
#define QMI_X8 0                   /* X from the int8 pre-pass */
#define QMI_XF16 1                 /* X's f16 rows */
#define QMI_XBF16 2                /* X's bf16 rows */

/* KS elements of K per stage; a stage's W bytes start at a multiple of 16 (KS/QK·BB is) and
 * fit the WB-byte box. Its rows sit WB bytes apart whatever its height: WB / 4 words is an
 * odd multiple of 4 for every WB here, so a warp's 8 rows g start on distinct 4-bank groups
 * and the lanes' words (4 a row) hit 32 banks. */
template <mlxn_type T> struct qmi_fmt;
template <> struct qmi_fmt<MLXN_TYPE_Q4_0> { static constexpr bool MIN = true; static constexpr int QK = 32, BB = 18, KS = 512, WB = 304; };
template <> struct qmi_fmt<MLXN_TYPE_Q4_1> { static constexpr bool MIN = true; static constexpr int QK = 32, BB = 20, KS = 512, WB = 336; };
template <> struct qmi_fmt<MLXN_TYPE_Q8_0> { static constexpr bool MIN = false; static constexpr int QK = 32, BB = 34, KS = 256, WB = 272; };
template <> struct qmi_fmt<MLXN_TYPE_IQ4_NL> { static constexpr bool MIN = false; static constexpr int QK = 32, BB = 18, KS = 512, WB = 304; };
template <> struct qmi_fmt<MLXN_TYPE_Q4_K> { static constexpr bool MIN = true; static constexpr int QK = 256, BB = 144, KS = 512, WB = 304; };
template <> struct qmi_fmt<MLXN_TYPE_Q5_K> { static constexpr bool MIN = true; static constexpr int QK = 256, BB = 176, KS = 512, WB = 368; };
/* Q6_K: two super-blocks a stage start at 420·i bytes, so the box starts at that rounded down
 * to 16 and the stage's data `delta` (4-aligned) bytes into it */
template <> struct qmi_fmt<MLXN_TYPE_Q6_K> { static constexpr bool MIN = false; static constexpr int QK = 256, BB = 210, KS = 512, WB = 432; };

static __device__ __forceinline__ uint32_t qmi_u32(const uint8_t *p) { /* p 2-byte aligned */
    const uint16_t *h = reinterpret_cast<const uint16_t *>(p);
    return (uint32_t)h[0] | ((uint32_t)h[1] << 16);
}

/* Decoders. UNIT 32-blocks share a prep (K-quants: a super-block's scales, per row); blk gives
 * the A fragment of 32-block kb of the stage for rows r0 (g) and r1 (g + 8): a[0], a[2] = row
 * g's levels k = 4t..4t+3 and 16+4t..16+4t+3, a[1], a[3] row g + 8's; each row's d_w and
 * offset coefficient c_w; S16 formats also the integer scales of k < 16 and k >= 16. */
struct qmi_nopre {};
struct qmi_blk {
    uint32_t a[4];
    float d[2], c[2];
    int sa[2], sb[2];
};
template <mlxn_type T> struct qmi_dec;

template <class D> struct qmi_b32 { /* 32-element formats: no prep */
    static constexpr int UNIT = 1;
    static constexpr bool S16 = false;
    typedef qmi_nopre pre;
    static __device__ __forceinline__ void prep(const uint8_t *, const uint8_t *, int, pre &) {}
    static __device__ __forceinline__ void blk(const uint8_t *r0, const uint8_t *r1, int kb, int t, const pre &, qmi_blk &o) {
#pragma unroll
        for (int i = 0; i < 2; i++) D::row((i ? r1 : r0) + kb * D::BB, t, i, o);
    }
};
template <> struct qmi_dec<MLXN_TYPE_Q4_0> : qmi_b32<qmi_dec<MLXN_TYPE_Q4_0>> {
    static constexpr int BB = 18;
    static __device__ __forceinline__ void row(const uint8_t *b, int t, int i, qmi_blk &o) {
        const uint32_t w = qmi_u32(b + 2 + 4 * t);
        o.a[i] = w & 0x0f0f0f0fu, o.a[2 + i] = (w >> 4) & 0x0f0f0f0fu;
        o.d[i] = h2f(*reinterpret_cast<const uint16_t *>(b)), o.c[i] = -8.0f * o.d[i];
    }
};
template <> struct qmi_dec<MLXN_TYPE_Q4_1> : qmi_b32<qmi_dec<MLXN_TYPE_Q4_1>> {
    static constexpr int BB = 20;
    static __device__ __forceinline__ void row(const uint8_t *b, int t, int i, qmi_blk &o) {
        const uint32_t w = *reinterpret_cast<const uint32_t *>(b + 4 + 4 * t), dm = *reinterpret_cast<const uint32_t *>(b);
        o.a[i] = w & 0x0f0f0f0fu, o.a[2 + i] = (w >> 4) & 0x0f0f0f0fu;
        o.d[i] = h2f(dm & 0xffffu), o.c[i] = h2f(dm >> 16);
    }
};
template <> struct qmi_dec<MLXN_TYPE_Q8_0> : qmi_b32<qmi_dec<MLXN_TYPE_Q8_0>> {
    static constexpr int BB = 34;
    static __device__ __forceinline__ void row(const uint8_t *b, int t, int i, qmi_blk &o) {
        o.a[i] = qmi_u32(b + 2 + 4 * t), o.a[2 + i] = qmi_u32(b + 18 + 4 * t);
        o.d[i] = h2f(*reinterpret_cast<const uint16_t *>(b)), o.c[i] = 0.0f;
    }
};
template <> struct qmi_dec<MLXN_TYPE_IQ4_NL> : qmi_b32<qmi_dec<MLXN_TYPE_IQ4_NL>> {
    static constexpr int BB = 18;
    static __device__ __forceinline__ void row(const uint8_t *b, int t, int i, qmi_blk &o) {
        const uint32_t w = qmi_u32(b + 2 + 4 * t);
        mvq_iq4nl8(w, o.a[i], o.a[2 + i]);
        o.d[i] = h2f(*reinterpret_cast<const uint16_t *>(b)), o.c[i] = 0.0f;
    }
};

/* Q4_K and Q5_K: 32-block kb is group G = kb % 8 of super-block kb / 8, nibble G & 1 of
 * qs[32(G / 2) + l] (Q5_K: bit G of qh[l] is bit 4); d_w = d·sc, c_w = -dmin·m. The prep
 * unpacks a super-block's eight 6-bit scales and mins, a byte each (as the dp4a kernel). */
template <bool QH> struct qmi_dec_k45 {
    static constexpr int UNIT = 8, BB = QH ? 176 : 144, QS = QH ? 48 : 16;
    static constexpr bool S16 = false;
    struct pre {
        uint32_t sc[2][2], mn[2][2]; /* [row][groups 0..3, 4..7] */
        float d[2], dmin[2];
    };
    static __device__ __forceinline__ void prep(const uint8_t *r0, const uint8_t *r1, int kb, pre &P) {
#pragma unroll
        for (int i = 0; i < 2; i++) {
            const uint4 hd = *reinterpret_cast<const uint4 *>((i ? r1 : r0) + (kb >> 3) * BB);
            P.sc[i][0] = hd.y & 0x3f3f3f3fu, P.mn[i][0] = hd.z & 0x3f3f3f3fu;
            P.sc[i][1] = (hd.w & 0x0f0f0f0fu) | ((hd.y >> 2) & 0x30303030u);
            P.mn[i][1] = ((hd.w >> 4) & 0x0f0f0f0fu) | ((hd.z >> 2) & 0x30303030u);
            P.d[i] = h2f(hd.x & 0xffffu), P.dmin[i] = h2f(hd.x >> 16);
        }
    }
    static __device__ __forceinline__ void blk(const uint8_t *r0, const uint8_t *r1, int kb, int t, const pre &P, qmi_blk &o) {
        const int G = kb & 7, sh = 4 * (G & 1);
#pragma unroll
        for (int i = 0; i < 2; i++) {
            const uint8_t *b = (i ? r1 : r0) + (kb >> 3) * BB;
            const uint32_t *q = reinterpret_cast<const uint32_t *>(b + QS + 32 * (G >> 1));
            uint32_t lo = (q[t] >> sh) & 0x0f0f0f0fu, hi = (q[4 + t] >> sh) & 0x0f0f0f0fu;
            if (QH) {
                const uint32_t *h = reinterpret_cast<const uint32_t *>(b + 16);
                lo |= ((h[t] >> G) & 0x01010101u) << 4;
                hi |= ((h[4 + t] >> G) & 0x01010101u) << 4;
            }
            o.a[i] = lo, o.a[2 + i] = hi;
            o.d[i] = P.d[i] * (float)((P.sc[i][G >> 2] >> (8 * (G & 3))) & 0xffu);
            o.c[i] = -P.dmin[i] * (float)((P.mn[i][G >> 2] >> (8 * (G & 3))) & 0xffu);
        }
    }
};
template <> struct qmi_dec<MLXN_TYPE_Q4_K> : qmi_dec_k45<false> {};
template <> struct qmi_dec<MLXN_TYPE_Q5_K> : qmi_dec_k45<true> {};

/* Q6_K: element 128h + 32u + l: low 4 bits in nibble u >> 1 of ql[64h + 32(u & 1) + l], high 2
 * in bits 2u of qh[32h + l], level q - 32; int8 scales[8h + 2u] for l < 16, the next for
 * l >= 16 (group G = kb % 8 = 4h + u). Super-blocks sit 2-byte aligned: words of two u16. */
template <> struct qmi_dec<MLXN_TYPE_Q6_K> {
    static constexpr int UNIT = 8, BB = 210;
    static constexpr bool S16 = true;
    typedef qmi_nopre pre;
    static __device__ __forceinline__ void prep(const uint8_t *, const uint8_t *, int, pre &) {}
    static __device__ __forceinline__ void blk(const uint8_t *r0, const uint8_t *r1, int kb, int t, const pre &, qmi_blk &o) {
        const int G = kb & 7, h = G >> 2, u = G & 3;
#pragma unroll
        for (int i = 0; i < 2; i++) {
            const uint8_t *b = (i ? r1 : r0) + (kb >> 3) * BB;
            const uint8_t *ql = b + 64 * h + 32 * (u & 1) + 4 * t, *qh = b + 128 + 32 * h + 4 * t;
            const uint32_t lo = ((qmi_u32(ql) >> (4 * (u >> 1))) & 0x0f0f0f0fu) | (((qmi_u32(qh) >> (2 * u)) & 0x03030303u) << 4);
            const uint32_t hi = ((qmi_u32(ql + 16) >> (4 * (u >> 1))) & 0x0f0f0f0fu) | (((qmi_u32(qh + 16) >> (2 * u)) & 0x03030303u) << 4);
            o.a[i] = (lo + 0x60606060u) ^ 0x80808080u, o.a[2 + i] = (hi + 0x60606060u) ^ 0x80808080u; /* q - 32 per byte */
            const uint32_t sc = *reinterpret_cast<const uint16_t *>(b + 192 + 8 * h + 2 * u);
            o.sa[i] = (int)(int8_t)(sc & 0xffu), o.sb[i] = (int)(int8_t)(sc >> 8);
            o.d[i] = h2f(*reinterpret_cast<const uint16_t *>(b + 208)), o.c[i] = 0.0f;
        }
    }
};

/* The formats that take X as it is (qmi_x_go): the A-fragment bytes of qmi_dec made levels
 * below 128 (fix) that less OFF are the weight's integer level. Q4_0's -8 moves into OFF;
 * Q6_K's q - 32 goes back to q ((b ^ 128) - 96 per byte). Same run, time against the int8
 * pre-pass at M 3..16 on 4096², 14336×4096, 4096×14336 (dev/qmatmul/NOTES.md, session 11):
 * H100 Q4_0 0.85-1.0, Q6_K 0.72-1.02 (only 14336×4096 gains: 4096² and 4096×14336 take a
 * split and the pre-pass); H200 Q4_0 0.88-1.02, Q6_K 0.67-1.0. The formats that need Σ x for their offset (Q4_1, Q4_K,
 * Q5_K: an MMA of ones) or whose bytes are signed (Q8_0, IQ4_NL: through f32 in bf16) took up
 * to 1.32× as long at M 8 (H200) and keep the pre-pass. */
template <mlxn_type T> struct qmh_lv;
template <> struct qmh_lv<MLXN_TYPE_Q4_0> {
    static constexpr int OFF = 8;
    static __device__ __forceinline__ uint32_t fix(uint32_t a) { return a; }
};
template <> struct qmh_lv<MLXN_TYPE_Q6_K> {
    static constexpr int OFF = 32;
    static __device__ __forceinline__ uint32_t fix(uint32_t a) { return (a ^ 0x80808080u) - 0x60606060u; }
};
static constexpr bool qmh_takes(mlxn_type t) { return t == MLXN_TYPE_Q4_0 || t == MLXN_TYPE_Q6_K; }

/* Bytes 0, 1 (lo) and 2, 3 (hi) of w, each below 128, less OFF as pairs of halves of X's type:
 * under the high byte 0x43 a byte u is bf16 128 + u, under 0x64 f16 1024 + u; the difference
 * is a small integer, exact. */
template <typename H2> static __device__ __forceinline__ uint32_t qmh_sub2(uint32_t v, H2 o) {
    const H2 r = __hsub2(*reinterpret_cast<const H2 *>(&v), o);
    return *reinterpret_cast<const uint32_t *>(&r);
}
template <int XK, int OFF> static __device__ __forceinline__ void qmh_cvt(uint32_t w, uint32_t &lo, uint32_t &hi) {
    if constexpr (XK == QMI_XF16) {
        const __half2 o = __float2half2_rn((float)(1024 + OFF));
        lo = qmh_sub2(__byte_perm(w, 0x64646464u, 0x4140), o);
        hi = qmh_sub2(__byte_perm(w, 0x64646464u, 0x4342), o);
    } else {
        const __nv_bfloat162 o = __float2bfloat162_rn((float)(128 + OFF));
        lo = qmh_sub2(__byte_perm(w, 0x43434343u, 0x4140), o);
        hi = qmh_sub2(__byte_perm(w, 0x43434343u, 0x4342), o);
    }
}

/* d += A·B on halves of X's type, m16n8k16, f32 sums. */
template <int XK>
static __device__ __forceinline__ void qmh_mma(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint2 b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    if constexpr (XK == QMI_XBF16)
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b.x), "r"(b.y));
    else
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                     : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b.x), "r"(b.y));
#endif
}

static __device__ __forceinline__ void qmi_mma(int (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

static __device__ __forceinline__ void qmi_mma16(int (&c)[4], uint32_t a0, uint32_t a1, uint32_t b0) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile("mma.sync.aligned.m16n8k16.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};\n"
                 : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
                 : "r"(a0), "r"(a1), "r"(b0));
#endif
}

static __device__ __forceinline__ void qmi_bulk(uint32_t dst, const void *src, unsigned bytes, uint32_t bar) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(dst),
                 "l"(src), "r"(bytes), "r"(bar)
                 : "memory");
}

/* X to int8 blocks, block-major: one warp per 32 elements of a row (rows m >= M zeros); element
 * e goes to byte 8(e % 16 / 4) + 4(e / 16) + e % 4 of its 32, so that the words of k = 4t..4t+3
 * and 16+4t..16+4t+3 are bytes 8t..8t+7. */
template <typename TX, int MT>
static __global__ void qmi_quant_x_kernel(qmm_kp p, int8_t *xq, float2 *xd, unsigned *cnt, int ncnt) {
    mlxn_pdl_trigger(); /* the mat-vec may launch and start its weight loads */
    mlxn_pdl_wait();    /* X, and the workspace the grid before may still read */
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < ncnt; i += (long long)gridDim.x * blockDim.x)
        cnt[i] = 0;
    const long long wid = (blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31, nbk = p.k / 32;
    if (wid >= (long long)p.batch * nbk * MT) return;
    const int m = (int)(wid % MT), kb = (int)(wid / MT % nbk), b = (int)(wid / MT / nbk);
    float v[1] = {0.0f}, s;
    int q[1];
    if (m < p.m) v[0] = mlxn_to_f32(static_cast<const TX *>(p.x)[qmm_x_off(p, b, m, 32 * kb + lane)]);
    const float d = mvq_round<1, 32>(v, q, s);
    xq[wid * 32 + 8 * ((lane & 15) >> 2) + 4 * (lane >> 4) + (lane & 3)] = (int8_t)q[0];
    if (lane == 0) xd[wid] = make_float2(d, s);
}

/* BN W rows a block: BN / 16 row slabs, H consumer warps per slab taking units of UW 32-blocks
 * in turn (a K-quant super-block is split into 8 / UW runs when H warps share a stage of two).
 * X's rows as they are (XK) lead a stage, 1024-aligned: [KS / 64][MT][64] halves, each 128-byte
 * line swizzled by TMA (16-byte chunk c at c ^ (line % 8)), so that the 8 rows g of a B-fragment
 * load hit distinct banks. */
template <mlxn_type T, int MT, int BN, int XK> struct qmi_cfg {
    typedef qmi_fmt<T> F;
    static constexpr int KS = F::KS, NB = KS / 32, WBY = BN * F::WB, AL = XK ? 1024 : 128;
    static constexpr int XBY = XK ? MT * KS * 2 : NB * MT * 32, DBY = XK ? 0 : NB * MT * 8;
    static constexpr int WOFF = XK ? XBY : 0, XOFF = XK ? 0 : WBY; /* a stage's W and X */
    static constexpr int SB = (WBY + XBY + DBY + AL - 1) / AL * AL;
    static constexpr int SLABS = BN / 16, H = 8 / SLABS;
    static constexpr int UW = qmi_dec<T>::UNIT < NB / H ? qmi_dec<T>::UNIT : NB / H;
    /* stages: two blocks per SM, at most 8 (a 64-row box gets at most 6 in 110 KB) */
    static constexpr int ST = (110 * 1024) / SB < 8 ? (110 * 1024) / SB : 8;
    static constexpr size_t smem() { return AL + (size_t)ST * SB + 16 * ST; }
    static constexpr int DATA = KS / F::QK * F::BB; /* W bytes of a stage */
    static_assert(F::WB % 16 == 0 && F::WB <= 512 && F::WB >= DATA + (DATA % 16 ? 12 : 0) && DATA % 4 == 0,
                  "a stage's W bytes fit the box from any 4-aligned offset");
    static_assert(ST >= 2, "two stages");
    static_assert(BN == 16 || BN == 32 || BN == 64, "row tiles of 16, 32 or 64");
    static_assert(UW >= 1 && 8 % UW == 0, "a unit lies inside one K-quant super-block");
    static_assert((H - 1) * SLABS * MT / 8 * 4 * 32 * 4 <= SB, "the warps' sums fit stage 0");
};

/* grid: (N tiles of BN, splits, batch); tw: W's raw bytes as [batch][n][row bytes / 2] u16; tx:
 * X's map (qmh_xmap) where XK is not QMI_X8, else unused. */
template <mlxn_type T, int MT, int BN, int XK>
static __global__ void __launch_bounds__(QMI_THREADS) qmi_kernel(qmm_kp p, const int8_t *xq, const float2 *xd, unsigned *cnt,
                                                                  const __grid_constant__ CUtensorMap tw,
                                                                  const __grid_constant__ CUtensorMap tx) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    typedef qmi_cfg<T, MT, BN, XK> C;
    typedef qmi_fmt<T> F;
    typedef qmi_dec<T> D;
    constexpr int ST = C::ST, NT = MT / 8, SLABS = C::SLABS, H = C::H, UW = C::UW;
    extern __shared__ unsigned char smem_raw[];
    const uint32_t sraw = (uint32_t)__cvta_generic_to_shared(smem_raw), sbase = (sraw + C::AL - 1) & ~(uint32_t)(C::AL - 1);
    const unsigned char *sptr = smem_raw + (sbase - sraw);
    const uint32_t bars = sbase + ST * C::SB;
    auto full = [&](int s) { return bars + 8 * s; };
    auto empty = [&](int s) { return bars + 8 * (ST + s); };
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int n0 = blockIdx.x * BN, split = blockIdx.y, b = blockIdx.z, bpr = p.k / 32;
    const int k0 = split * p.k_split, k1 = min(p.k, k0 + p.k_split), nst = (k1 - k0 + C::KS - 1) / C::KS;
    if (threadIdx.x == 0)
        for (int s = 0; s < ST; s++) mbar_init(full(s), 1), mbar_init(empty(s), 8);
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    __syncthreads();

    mlxn_pdl_trigger(); /* the next grid may launch: it waits for this one before it reads or writes */
    if (warp == 8) {
        if (lane == 0) {
            const int wz = p.w_batch ? b : 0;
            const int8_t *xqb = xq + (long long)b * bpr * MT * 32;
            const float2 *xdb = xd + (long long)b * bpr * MT;
            auto stage_blocks = [&](int i) { return min(C::NB, (k1 - k0 - i * C::KS) / 32); };
            auto copy_x = [&](int i) {
                const int s = i % ST, kx = k0 + i * C::KS, nb = stage_blocks(i);
                const uint32_t xs = sbase + s * C::SB + C::XOFF;
                if constexpr (XK != QMI_X8) { /* the box of qmh_xmap at head kx / hd, 64-chunk kx % hd / 64 */
                    const int hd = p.x_hs ? (int)p.x_hd : p.k;
                    tma_5d(xs, &tx, 0, 0, kx % hd / 64, kx / hd, b, full(s));
                } else {
                    qmi_bulk(xs, xqb + (long long)kx / 32 * MT * 32, nb * MT * 32, full(s));
                    qmi_bulk(xs + C::XBY, xdb + (long long)kx / 32 * MT, nb * MT * 8, full(s));
                }
            };
            auto copy_w = [&](int i) {
                const int s = i % ST, kx = k0 + i * C::KS;
                mbar_expect(full(s), C::WBY + (XK ? C::XBY : stage_blocks(i) * MT * 40));
                tma_3d(sbase + s * C::SB + C::WOFF, &tw, (kx / F::QK * F::BB & ~15) / 2, n0, wz, full(s));
            };
            /* W needs nothing of the pre-pass: its first stages go out before the wait for X */
            const int pre = min(nst, ST);
            for (int i = 0; i < pre; i++) copy_w(i);
            mlxn_pdl_wait();
            for (int i = 0; i < pre; i++) copy_x(i);
            for (int i = pre; i < nst; i++) {
                mbar_wait(empty(i % ST), (unsigned)((i / ST) - 1) & 1);
                copy_w(i);
                copy_x(i);
            }
        }
        return; /* the consumers' named barriers count their 256 threads only */
    }
    const int g = lane >> 2, t = lane & 3, rw = warp % SLABS, h = warp / SLABS;
    float acc[NT][4];
#pragma unroll
    for (int j = 0; j < NT; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
    for (int i = 0; i < nst; i++) {
        const int s = i % ST, nb = min(C::NB, (k1 - k0 - i * C::KS) / 32);
        const unsigned char *ws = sptr + s * C::SB + C::WOFF, *xs = sptr + s * C::SB + C::XOFF;
        const float4 *xds = reinterpret_cast<const float4 *>(xs + C::XBY);
        const int delta = (k0 + i * C::KS) / F::QK * F::BB & 15;
        const uint8_t *r0 = ws + (16 * rw + g) * F::WB + delta, *r1 = r0 + 8 * F::WB;
        mbar_wait(full(s), (unsigned)(i / ST) & 1);
        /* warps h = 0 .. H - 1 of a row slab take units of the stage in turn; 32-element formats
         * up to four blocks deep (H100, same run: M = 8 2-3% faster than not unrolled), a
         * K-quant unit is already UW */
#pragma unroll(UW == 1 ? (C::NB / H < 4 ? C::NB / H : 4) : 1)
        for (int u = h * UW; u < nb; u += H * UW) {
            typename D::pre P;
            D::prep(r0, r1, u, P);
#pragma unroll
            for (int G = 0; G < UW; G++) {
                const int kb = u + G;
                qmi_blk o;
                D::blk(r0, r1, kb, t, P, o);
                if constexpr (XK != QMI_X8) {
                    typedef qmh_lv<T> L;
                    uint32_t hv[8]; /* [word i][lo, hi] */
#pragma unroll
                    for (int w = 0; w < 4; w++) qmh_cvt<XK, L::OFF>(L::fix(o.a[w]), hv[2 * w], hv[2 * w + 1]);
#pragma unroll
                    for (int j = 0; j < NT; j++) {
                        /* k = 32kb + 4t (+ 16): line (kb / 2)·MT + m, chunk 4(kb % 2) + t / 2 (+ 2) */
                        const unsigned char *xr = xs + ((kb >> 1) * MT + 8 * j + g) * 128 + 8 * (t & 1);
                        const int ch = 4 * (kb & 1) + (t >> 1);
                        const uint2 b0 = *reinterpret_cast<const uint2 *>(xr + 16 * (ch ^ g)),
                                    b1 = *reinterpret_cast<const uint2 *>(xr + 16 * ((ch + 2) ^ g));
                        float c[4] = {0.0f, 0.0f, 0.0f, 0.0f}, c2[4] = {0.0f, 0.0f, 0.0f, 0.0f};
                        qmh_mma<XK>(c, hv[0], hv[2], hv[1], hv[3], b0);
                        qmh_mma<XK>(D::S16 ? c2 : c, hv[4], hv[6], hv[5], hv[7], b1);
                        if constexpr (D::S16)
#pragma unroll
                            for (int e = 0; e < 4; e++) c[e] = (float)o.sa[e >> 1] * c[e] + (float)o.sb[e >> 1] * c2[e];
#pragma unroll
                        for (int e = 0; e < 4; e++) acc[j][e] = fmaf(o.d[e >> 1], c[e], acc[j][e]);
                    }
                } else {
#pragma unroll
                    for (int j = 0; j < NT; j++) {
                        const uint2 bx = *reinterpret_cast<const uint2 *>(xs + (kb * MT + 8 * j + g) * 32 + 8 * t);
                        const float4 sx = xds[(kb * MT + 8 * j) / 2 + t]; /* (d, s) of X rows 8j + 2t, +1 */
                        int c[4] = {0, 0, 0, 0};
                        if constexpr (D::S16) {
                            int c2[4] = {0, 0, 0, 0};
                            qmi_mma16(c, o.a[0], o.a[1], bx.x);
                            qmi_mma16(c2, o.a[2], o.a[3], bx.y);
#pragma unroll
                            for (int e = 0; e < 4; e++) c[e] = o.sa[e >> 1] * c[e] + o.sb[e >> 1] * c2[e];
                        } else {
                            qmi_mma(c, o.a, bx.x, bx.y);
                        }
#pragma unroll
                        for (int e = 0; e < 4; e++) {
                            const float xdv = e & 1 ? sx.z : sx.x, xsv = e & 1 ? sx.w : sx.y;
                            acc[j][e] = fmaf(o.d[e >> 1], xdv * (float)c[e], acc[j][e]);
                            if (F::MIN) acc[j][e] = fmaf(o.c[e >> 1], xsv, acc[j][e]);
                        }
                    }
                }
            }
        }
        __syncwarp();
        if (lane == 0) mbar_arrive(empty(s));
    }
    /* the sums of warps h > 0 join warp 0's of their slab in stage 0, free once every consumer
     * is past its last stage (every copy has landed: each was waited for); [h - 1][slab][NT·4][32] */
    unsigned ln; /* the lane, read again rather than kept live across the loop */
    asm volatile("mov.u32 %0, %%laneid;\n" : "=r"(ln));
    float *part = reinterpret_cast<float *>(const_cast<unsigned char *>(sptr)) + rw * (NT * 4 * 32) + ln;
    constexpr int HS = SLABS * NT * 4 * 32; /* floats between two h */
    asm volatile("bar.sync 1, 256;\n" ::: "memory");
    if (h) {
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) part[(h - 1) * HS + (4 * j + e) * 32] = acc[j][e];
    }
    asm volatile("bar.sync 1, 256;\n" ::: "memory");
    if (!h) {
        /* acc[j][e]: W row 16·rw + g + 8(e >> 1), X row 8j + 2t + (e & 1) */
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float v = acc[j][e];
#pragma unroll
                for (int hh = 1; hh < H; hh++) v += part[(hh - 1) * HS + (4 * j + e) * 32];
                const int n = n0 + 16 * rw + (int)(ln >> 2) + 8 * (e >> 1), m = 8 * j + 2 * (int)(ln & 3) + (e & 1);
                if (n < p.n && m < p.m) qmm_store(p, split, b, m, n, v);
            }
    }
    if (!p.part) return;
    /* the tile's last split to arrive adds the partials, [split][batch][m][n], in split order */
    __shared__ int last;
    __threadfence();
    asm volatile("bar.sync 1, 256;\n" ::: "memory");
    if (threadIdx.x == 0) last = atomicAdd(cnt + (long long)b * gridDim.x + blockIdx.x, 1u) == gridDim.y - 1;
    asm volatile("bar.sync 1, 256;\n" ::: "memory");
    if (!last) return;
    __threadfence();
    const long long total = (long long)p.batch * p.m * p.n;
    qmm_kp q = p;
    q.part = NULL;
    for (int i = threadIdx.x; i < BN * p.m; i += 256) {
        const int n = n0 + i % BN, m = i / BN;
        if (n >= p.n) continue;
        const float *src = p.part + ((long long)b * p.m + m) * p.n + n;
        float v = 0.0f;
        for (int sp = 0; sp < (int)gridDim.y; sp++) v += __ldcg(src + sp * total);
        qmm_store(q, 0, b, m, n, v);
    }
#endif
}

/* Where the kernel runs: an sm_90a build on an sm_90 device, W rows and batches 16-byte
 * multiples (TMA); the formats are qmi_launch's switch. */
static bool qmi_ok(const qmm_launch &l) {
#ifdef MLXN_BUILD_CUDA_ARCHS
    const qmm_kp &p = *l.p;
    return l.dev->prop.major == 9 && l.dev->prop.minor == 0 && strstr(MLXN_BUILD_CUDA_ARCHS, "90a") &&
           ((uintptr_t)p.w | (uintptr_t)p.w_row | (uintptr_t)p.w_batch) % 16 == 0 && p.k % 32 == 0 && wg_encoder();
#else
    (void)l;
    return false;
#endif
}

/* Row tile and splits over K: the widest tile down to bn_min whose tiles give every SM a
 * block, then splits until blocks fill two an SM (one wave), each at least two stages long.
 * A narrower tile re-reads X from L2 per block (40·MT bytes a 32-block against BN·BB/QK·32 of
 * W: Q4_0 at MT 8 0.28 of W's bytes at BN 64, 0.56 at 32, 1.1 at 16; twice that at MT 16); a
 * split adds the partials' store, a counter and the last split's sum. */
struct qmi_shape {
    int bn, splits, k_split;
};
static qmi_shape qmi_plan(const qmm_launch &l, int ks, int bn_min) {
    const int sms = l.dev->prop.multiProcessorCount, nks = (l.p->k + ks - 1) / ks;
    auto tiles = [&](int bn) { return (long long)(l.p->n + bn - 1) / bn * l.batch; };
    int bn = 64;
    while (bn > bn_min && tiles(bn) < sms) bn /= 2;
    const long long t = tiles(bn), slots = 2LL * sms;
    int splits = t >= sms ? 1 : (int)(slots / t);
    splits = std::min(std::min(splits, 16), std::max(1, nks / 2));
    const int k_split = (nks + splits - 1) / splits * ks;
    return qmi_shape{bn, (l.p->k + k_split - 1) / k_split, k_split};
}

/* X as a 5-D tensor of halves (64, M, hd / 64, K / hd, batch), plain rows one head of K: a box
 * (64, MT, KS' / 64, KS / KS', 1) with KS' = min(hd, KS) is a stage, rows past M and K zeros. */
static bool qmh_x_ok(const qmm_launch &l, int ks) {
    const qmm_kp &p = *l.p;
    const long long hd = p.x_hs ? p.x_hd : p.k;
    return (l.tx == MLXN_TYPE_F16 || l.tx == MLXN_TYPE_BF16) && qmm_x_pieces16(p) && p.x_row > 0 && hd % 64 == 0 &&
           (!p.x_hs || ks % hd == 0 || hd % ks == 0);
}
static mlxn_status qmh_xmap(const qmm_launch &l, int mt, int ks, CUtensorMap *map) {
    const qmm_kp &p = *l.p;
    const long long hd = p.x_hs ? p.x_hd : p.k, ksh = hd < ks ? hd : ks;
    const cuuint64_t dim[5] = {64, (cuuint64_t)p.m, (cuuint64_t)(hd / 64), (cuuint64_t)(p.k / hd), (cuuint64_t)l.batch};
    const long long big = 2LL * p.x_row * p.m; /* the stride of a dimension of one */
    const cuuint64_t str[4] = {(cuuint64_t)(2 * p.x_row), 128, (cuuint64_t)(p.x_hs ? 2 * p.x_hs : big),
                               (cuuint64_t)(l.batch > 1 ? 2 * p.x_batch : big)};
    const cuuint32_t box[5] = {64, (cuuint32_t)mt, (cuuint32_t)(ksh / 64), (cuuint32_t)(ks / ksh), 1}, one[5] = {1, 1, 1, 1, 1};
    const CUresult r = wg_encoder()(map, CU_TENSOR_MAP_DATA_TYPE_UINT16, 5, const_cast<void *>(p.x), dim, str, box, one,
                                    CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
                                    CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS) return mlxn_err(MLXN_ERR_DEVICE, "qmatmul: cuTensorMapEncodeTiled (x) failed (%d)", (int)r);
    return MLXN_OK;
}

template <mlxn_type T, int MT, int BN, int XK> static mlxn_status qmi_go(cuda_stream *s, const qmm_launch &l, const qmi_shape &sh) {
    typedef qmi_cfg<T, MT, BN, XK> C;
    typedef qmi_fmt<T> F;
    qmm_kp p = *l.p;
    const int bpr = p.k / 32, splits = sh.splits;
    p.k_split = sh.k_split;
    int8_t *xq = NULL;
    float2 *xd = NULL;
    unsigned *cnt = NULL;
    mlxn_status st;
    if constexpr (XK == QMI_X8) {
        const long long tiles = (long long)(p.n + BN - 1) / BN * l.batch;
        const size_t qb = ((size_t)l.batch * bpr * MT * 32 + 255) / 256 * 256, db = ((size_t)l.batch * bpr * MT * 8 + 255) / 256 * 256;
        const size_t pb = splits > 1 ? ((size_t)splits * l.batch * p.m * p.n * 4 + 255) / 256 * 256 : 0;
        const int ncnt = splits > 1 ? (int)tiles : 0;
        void *ws = NULL;
        if ((st = mlxn_cuda_workspace(s, qb + db + pb + 4 * (size_t)ncnt, &ws))) return st;
        xq = static_cast<int8_t *>(ws);
        xd = reinterpret_cast<float2 *>(static_cast<char *>(ws) + qb);
        p.part = splits > 1 ? reinterpret_cast<float *>(static_cast<char *>(ws) + qb + db) : NULL;
        cnt = reinterpret_cast<unsigned *>(static_cast<char *>(ws) + qb + db + pb);
        const long long warps = (long long)l.batch * bpr * MT;
        st = mlxn_dispatch_float(l.tx, [&](auto tx) {
            return mlxn_cuda_launch(l.s, qmi_quant_x_kernel<decltype(tx), MT>, dim3((unsigned)((warps + 7) / 8)), dim3(256), 0, 1,
                                    mlxn_cuda_sm90(l.dev), p, xq, xd, cnt, ncnt);
        });
        if (st) return st;
    } else if (splits != 1) {
        return MLXN_ERR_UNSUPPORTED; /* no pre-pass to zero the split counters */
    }
    CUtensorMap mw, mx = {};
    if constexpr (XK != QMI_X8)
        if ((st = qmh_xmap(l, MT, C::KS, &mx))) return st;
    const cuuint32_t one[3] = {1, 1, 1};
    const cuuint64_t wd[3] = {(cuuint64_t)(p.k / F::QK * F::BB / 2), (cuuint64_t)p.n, (cuuint64_t)(p.w_batch ? l.batch : 1)},
                     wst[2] = {(cuuint64_t)p.w_row, p.w_batch ? (cuuint64_t)p.w_batch : (cuuint64_t)p.w_row * p.n};
    const cuuint32_t wb[3] = {F::WB / 2, BN, 1};
    const CUresult r = wg_encoder()(&mw, CU_TENSOR_MAP_DATA_TYPE_UINT16, 3, const_cast<uint8_t *>(p.w), wd, wst, wb, one,
                                    CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE,
                                    CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS) return mlxn_err(MLXN_ERR_DEVICE, "qmatmul: cuTensorMapEncodeTiled failed (%d)", (int)r);
    auto k = qmi_kernel<T, MT, BN, XK>;
    static std::atomic<unsigned long long> raised;
    /* A grid of at most a block an SM asks for more than half an SM's shared memory, so that
     * the next call's blocks (a dependent launch) land on the SMs this call leaves idle rather
     * than beside its blocks (qmatmul_mv1.cu does the same). H200, same run, µs: 1024×4096 M = 8
     * Q4_K 7.56 -> 6.18, Q6_K 7.42 -> 6.00, M = 16 Q5_K 10.3 -> 7.8; 768×2048 M = 8 IQ4_NL 5.69 ->
     * 4.90, M = 16 Q4_K 9.64 -> 7.72; larger grids are not touched. */
    if ((st = mlxn_cuda_raise_smem(k, mlxn_cuda_smem_alone(l.dev, C::smem()), l.dev, "qmatmul", raised))) return st;
    const dim3 grid((unsigned)((p.n + BN - 1) / BN), (unsigned)splits, (unsigned)l.batch);
    size_t smem = C::smem();
    if ((long long)grid.x * grid.y * grid.z <= l.dev->prop.multiProcessorCount) smem = mlxn_cuda_smem_alone(l.dev, smem);
    return mlxn_cuda_launch(l.s, k, grid, dim3(QMI_THREADS), smem, 1, true, p, (const int8_t *)xq, (const float2 *)xd, cnt, mw,
                            XK ? mx : mw);
}

/* X's rows as they are (qmh_x_ok holds: f16 or bf16), an unsplit grid. */
template <mlxn_type T, int MT, int BN> static mlxn_status qmh_go(cuda_stream *s, const qmm_launch &l, const qmi_shape &sh) {
    return l.tx == MLXN_TYPE_BF16 ? qmi_go<T, MT, BN, QMI_XBF16>(s, l, sh) : qmi_go<T, MT, BN, QMI_XF16>(s, l, sh);
}

/* X's rows as they are where qmh_x_ok holds and no split is needed; else rounded to int8 by
 * the pre-pass. */
template <mlxn_type T, int MT, int BN> static mlxn_status qmi_x_go(cuda_stream *s, const qmm_launch &l, const qmi_shape &sh) {
    if constexpr (qmh_takes(T))
        if (sh.splits == 1 && qmh_x_ok(l, qmi_fmt<T>::KS)) return qmh_go<T, MT, BN>(s, l, sh);
    return qmi_go<T, MT, BN, QMI_X8>(s, l, sh);
}

/* The narrowest row tile of a format. H100, same run, µs at M = 8 / 16, 64-row tiles with
 * splits -> this: 16 for Q4_0, Q4_1 and IQ4_NL (Q4_0 4096² 10.9 -> 8.7 / 13.6 -> 9.9, 4096×14336
 * 20.5 -> 17.8 / 25.9 -> 22.4, 1024×4096 8.4 -> 6.4 / 11.3 -> 7.1; IQ4_NL 4096×14336 at M 8 25.1
 * -> 26.6, its one loss); 32 for Q8_0 and Q6_K (16 costs them more X re-read than it saves:
 * Q8_0 4096×14336 M 8 28.7 -> 37.0 at 16, 27.6 at 32; Q6_K 4096×14336 M 16 38.1 -> 32.1, M 8
 * 24.7 -> 25.9); 64 for Q4_K and Q5_K, whose super-block scales narrower tiles unpack once
 * per run of 4 or 2 blocks (Q4_K 4096×14336 M 8 20.7 -> 26.8 at 32, 38.4 at 16). */
template <mlxn_type T> static constexpr int qmi_bn_min() {
    return T == MLXN_TYPE_Q4_K || T == MLXN_TYPE_Q5_K ? 64 : T == MLXN_TYPE_Q8_0 || T == MLXN_TYPE_Q6_K ? 32 : 16;
}

template <mlxn_type T, int MT> static mlxn_status qmi_mt_go(cuda_stream *s, const qmm_launch &l) {
    constexpr int bn_min = qmi_bn_min<T>();
    const qmi_shape sh = qmi_plan(l, qmi_fmt<T>::KS, bn_min);
    /* X as it is in 16-row tiles where those need no split and the pre-pass path would split.
     * Same run, µs, Q6_K: H100 4096² M 2-8 13.4 -> 11.3, M 16 16.1 -> 11.0, 4096×14336 M 16
     * 32.3 -> 29.7; H200 4096² M 2-8 12.3 -> 10.5, but 4096×14336 M 2-8 24.5 -> 25.9 (not
     * profiled: twice the blocks read all of X), hence K <= 4096 at MT 8 */
    if constexpr (qmh_takes(T) && bn_min > 16)
        if (sh.splits > 1 && (MT == 16 || l.p->k <= 4096) && qmh_x_ok(l, qmi_fmt<T>::KS)) {
            const qmi_shape s16 = qmi_plan(l, qmi_fmt<T>::KS, 16);
            if (s16.splits == 1) return qmh_go<T, MT, 16>(s, l, s16);
        }
    if constexpr (bn_min <= 16)
        if (sh.bn == 16) return qmi_x_go<T, MT, 16>(s, l, sh);
    if constexpr (bn_min <= 32)
        if (sh.bn == 32) return qmi_x_go<T, MT, 32>(s, l, sh);
    return qmi_x_go<T, MT, 64>(s, l, sh);
}

template <mlxn_type T> static mlxn_status qmi_fmt_go(cuda_stream *s, const qmm_launch &l) {
    return l.p->m <= 8 ? qmi_mt_go<T, 8>(s, l) : qmi_mt_go<T, 16>(s, l);
}

/* M <= 16 above the dp4a kernel's range, where qmi_ok holds; UNSUPPORTED otherwise. */
static mlxn_status qmi_launch(cuda_stream *s, const qmm_launch &l) {
    if (l.p->m > 16 || !qmi_ok(l)) return MLXN_ERR_UNSUPPORTED;
    switch (l.tw) {
    case MLXN_TYPE_Q4_0: return qmi_fmt_go<MLXN_TYPE_Q4_0>(s, l);
    case MLXN_TYPE_Q4_1: return qmi_fmt_go<MLXN_TYPE_Q4_1>(s, l);
    case MLXN_TYPE_Q8_0: return qmi_fmt_go<MLXN_TYPE_Q8_0>(s, l);
    case MLXN_TYPE_IQ4_NL: return qmi_fmt_go<MLXN_TYPE_IQ4_NL>(s, l);
    case MLXN_TYPE_Q4_K: return qmi_fmt_go<MLXN_TYPE_Q4_K>(s, l);
    case MLXN_TYPE_Q5_K: return qmi_fmt_go<MLXN_TYPE_Q5_K>(s, l);
    case MLXN_TYPE_Q6_K: return qmi_fmt_go<MLXN_TYPE_Q6_K>(s, l);
    default: return MLXN_ERR_UNSUPPORTED;
    }
}
