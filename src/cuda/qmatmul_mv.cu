/* CUDA mat-vec (M <= 16). Block formats on the tensor cores: a warp owns 16 rows of W and
 * streams chunks of them, with X's rows, through shared memory by cp.async; each block's
 * integer levels go straight into mma.sync m16n8k16 A fragments (bf16, exact), X into the B
 * fragments (an n-tile holds 8 rows of X), group scales apply in f32; the warps of a block
 * split K and add up in a fixed order. Float weights take an f32 FMA kernel. */
#include <string.h>

#include <algorithm>
#include <type_traits>

#include "cuda/hopper.cuh"
#include "cuda/qmatmul.cuh"

/* Lane geometry of the fragments: lane = 4g + t; A rows g and g + 8; B column (X row) g;
 * thread t holds k-slots 2t, 2t+1, 2t+8, 2t+9. We let those slots be the elements e, e+2,
 * e+1, e+3 of four consecutive ones, which is how the nibbles of a 32-bit word pair up
 * under a 0x000f000f mask: (byte 0, byte 2) and (byte 1, byte 3). */

static __device__ __forceinline__ uint32_t ld16(const uint8_t *p) { return *reinterpret_cast<const uint16_t *>(p); }
static __device__ __forceinline__ uint32_t ld32(const uint8_t *p) { return *reinterpret_cast<const uint32_t *>(p); }
static __device__ __forceinline__ uint32_t ld32a2(const uint8_t *p) { return ld16(p) | (ld16(p + 2) << 16); }
static __device__ __forceinline__ uint32_t ld32a1(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* The pairs (byte 0, byte 2) and (byte 1, byte 3) of w >> sh under mask. */
static __device__ __forceinline__ uint32_t p02(uint32_t w, int sh, uint32_t mask) { return (w >> sh) & mask; }
static __device__ __forceinline__ uint32_t p13(uint32_t w, int sh, uint32_t mask) { return (w >> (sh + 8)) & mask; }
#define M4 0x000f000fu
#define M2 0x00030003u
#define M1 0x00010001u
#define ONES 0x3f803f80u /* bf16x2 (1, 1) */

/* ── the per-warp context: X fragments (from the chunk's bf16 X rows in shared memory),
 * accumulators ── */

template <int NT> struct mv_ctx {
    static constexpr int NTv = NT;
    const uint8_t *xs; /* this chunk's X rows: [mr][xstride] bf16, element k0 first */
    int xstride, mr, k0;
    const uint32_t *tab; /* bf16 pairs of a 16-level table (IQ4, MXFP4) */
    int t, g;
    float acc[NT][4];

    /* X row 8·nt + g, elements k .. k+3, as (x0, x2), (x1, x3) */
    __device__ __forceinline__ void xf(int nt, int k, uint32_t &b0, uint32_t &b1) const {
        const int r = 8 * nt + g;
        if (r >= mr) {
            b0 = b1 = 0;
            return;
        }
        const uint2 v = *reinterpret_cast<const uint2 *>(xs + r * xstride + 2 * (k - k0));
        b0 = __byte_perm(v.x, v.y, 0x5410);
        b1 = __byte_perm(v.x, v.y, 0x7632);
    }

    /* One k16 step: A pairs of rows g and g+8 for the slots (e, e+2) and (e+1, e+3), X at
     * element k; into cc (and Σx into ss when SUM). */
    template <bool SUM>
    __device__ __forceinline__ void step(uint32_t ag02, uint32_t ah02, uint32_t ag13, uint32_t ah13, int k,
                                         float (&cc)[NT][4], float (&ss)[NT][4]) const {
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
            uint32_t b0, b1;
            xf(nt, k, b0, b1);
            qmm_mma(cc[nt], ag02, ah02, ag13, ah13, b0, b1);
            if (SUM) qmm_mma(ss[nt], ONES, ONES, ONES, ONES, b0, b1);
        }
    }
    /* Two A sets against the same X (Q8_0's high and low nibbles). */
    __device__ __forceinline__ void step2(const uint32_t (&a)[4], const uint32_t (&b)[4], int k, float (&cc)[NT][4]) const {
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
            uint32_t b0, b1;
            xf(nt, k, b0, b1);
            qmm_mma(cc[nt], a[0], a[1], a[2], a[3], b0, b1);
            qmm_mma(cc[nt], b[0], b[1], b[2], b[3], b0, b1);
        }
    }
    /* acc += s·cc + mn·ss for rows g (sg, mg) and g + 8 (sh, mh) */
    __device__ __forceinline__ void apply(const float (&cc)[NT][4], float sg, float sh) {
#pragma unroll
        for (int nt = 0; nt < NT; nt++) {
            acc[nt][0] = fmaf(sg, cc[nt][0], acc[nt][0]);
            acc[nt][1] = fmaf(sg, cc[nt][1], acc[nt][1]);
            acc[nt][2] = fmaf(sh, cc[nt][2], acc[nt][2]);
            acc[nt][3] = fmaf(sh, cc[nt][3], acc[nt][3]);
        }
    }
    __device__ __forceinline__ void apply_min(const float (&ss)[NT][4], float mg, float mh) { apply(ss, mg, mh); }
};

#define ZERO(a)                                      \
    _Pragma("unroll") for (int i_ = 0; i_ < NT; i_++) \
        a[i_][0] = a[i_][1] = a[i_][2] = a[i_][3] = 0.0f

/* ── per-format blocks: QK elements, BB bytes, CB blocks per chunk (a multiple of 4 bytes),
 * block(c, row g bytes, row g+8 bytes, k of element 0) ── */

template <mlxn_type T> struct mvf;

template <> struct mvf<MLXN_TYPE_Q4_0> {
    static constexpr int QK = 32, BB = 18, CB = 8, TAB = 0;
    template <class C> static __device__ __forceinline__ void block(C &c, const uint8_t *pg, const uint8_t *ph, int kb) {
        constexpr int NT = C::NTv;
        const int t = c.t;
        const uint32_t wg = ld32a2(pg + 2 + 4 * t), wh = ld32a2(ph + 2 + 4 * t);
        float cc[NT][4];
        ZERO(cc);
#pragma unroll
        for (int hi = 0; hi < 2; hi++)
            c.template step<false>(qmm_bsub(qmm_magic(p02(wg, 4 * hi, M4)), 136.f), qmm_bsub(qmm_magic(p02(wh, 4 * hi, M4)), 136.f),
                                   qmm_bsub(qmm_magic(p13(wg, 4 * hi, M4)), 136.f), qmm_bsub(qmm_magic(p13(wh, 4 * hi, M4)), 136.f),
                                   kb + 16 * hi + 4 * t, cc, cc);
        c.apply(cc, h2f(ld16(pg)), h2f(ld16(ph)));
    }
};

/* d·q + m: the levels go in as 128 + q, and the 128 joins the min: m - 128·d. */
template <int QS, bool HB> struct mvf_q41 {
    template <class C> static __device__ __forceinline__ void run(C &c, const uint8_t *pg, const uint8_t *ph, int kb) {
        constexpr int NT = C::NTv;
        const int t = c.t;
        const uint32_t wg = ld32(pg + QS + 4 * t), wh = ld32(ph + QS + 4 * t);
        const uint32_t qg = HB ? ld32(pg + 4) : 0, qh = HB ? ld32(ph + 4) : 0;
        float cc[NT][4], ss[NT][4];
        ZERO(cc);
        ZERO(ss);
#pragma unroll
        for (int hi = 0; hi < 2; hi++) {
            uint32_t g02 = p02(wg, 4 * hi, M4), g13 = p13(wg, 4 * hi, M4), h02 = p02(wh, 4 * hi, M4), h13 = p13(wh, 4 * hi, M4);
            if (HB) { /* bit j of qh is bit 4 of element j */
                const uint32_t a = qg >> (16 * hi + 4 * t), b = qh >> (16 * hi + 4 * t);
                g02 |= ((a & 1) << 4) | ((a & 4) << 18);
                g13 |= ((a & 2) << 3) | ((a & 8) << 17);
                h02 |= ((b & 1) << 4) | ((b & 4) << 18);
                h13 |= ((b & 2) << 3) | ((b & 8) << 17);
            }
            c.template step<true>(qmm_magic(g02), qmm_magic(h02), qmm_magic(g13), qmm_magic(h13), kb + 16 * hi + 4 * t, cc, ss);
        }
        const float dg = h2f(ld16(pg)), dh = h2f(ld16(ph));
        c.apply(cc, dg, dh);
        c.apply_min(ss, h2f(ld16(pg + 2)) - 128.f * dg, h2f(ld16(ph + 2)) - 128.f * dh);
    }
};
template <> struct mvf<MLXN_TYPE_Q4_1> {
    static constexpr int QK = 32, BB = 20, CB = 8, TAB = 0;
    template <class C> static __device__ __forceinline__ void block(C &c, const uint8_t *pg, const uint8_t *ph, int kb) {
        mvf_q41<4, false>::run(c, pg, ph, kb);
    }
};
template <> struct mvf<MLXN_TYPE_Q5_1> {
    static constexpr int QK = 32, BB = 24, CB = 8, TAB = 0;
    template <class C> static __device__ __forceinline__ void block(C &c, const uint8_t *pg, const uint8_t *ph, int kb) {
        mvf_q41<8, true>::run(c, pg, ph, kb);
    }
};

template <> struct mvf<MLXN_TYPE_Q5_0> {
    static constexpr int QK = 32, BB = 22, CB = 8, TAB = 0;
    template <class C> static __device__ __forceinline__ void block(C &c, const uint8_t *pg, const uint8_t *ph, int kb) {
        constexpr int NT = C::NTv;
        const int t = c.t;
        const uint32_t wg = ld32a2(pg + 6 + 4 * t), wh = ld32a2(ph + 6 + 4 * t);
        const uint32_t qg = ld32a2(pg + 2), qh = ld32a2(ph + 2);
        float cc[NT][4];
        ZERO(cc);
#pragma unroll
        for (int hi = 0; hi < 2; hi++) {
            const uint32_t a = qg >> (16 * hi + 4 * t), b = qh >> (16 * hi + 4 * t);
            const uint32_t g02 = p02(wg, 4 * hi, M4) | ((a & 1) << 4) | ((a & 4) << 18);
            const uint32_t g13 = p13(wg, 4 * hi, M4) | ((a & 2) << 3) | ((a & 8) << 17);
            const uint32_t h02 = p02(wh, 4 * hi, M4) | ((b & 1) << 4) | ((b & 4) << 18);
            const uint32_t h13 = p13(wh, 4 * hi, M4) | ((b & 2) << 3) | ((b & 8) << 17);
            c.template step<false>(qmm_bsub(qmm_magic(g02), 144.f), qmm_bsub(qmm_magic(h02), 144.f),
                                   qmm_bsub(qmm_magic(g13), 144.f), qmm_bsub(qmm_magic(h13), 144.f), kb + 16 * hi + 4 * t, cc, cc);
        }
        c.apply(cc, h2f(ld16(pg)), h2f(ld16(ph)));
    }
};

/* Q8_0: q = 16·hi + lo with hi the signed top nibble (-8..7) and lo 0..15; two exact mmas
 * against the same X. 16·(128 + (hi ^ 8)) - 2176 = 16·hi is one exact bf16 fma. */
static __device__ __forceinline__ uint32_t q8_hi(uint32_t v) {
    __nv_bfloat162 x = *reinterpret_cast<__nv_bfloat162 *>(&v);
    __nv_bfloat162 r = __hfma2(x, __float2bfloat162_rn(16.f), __float2bfloat162_rn(-2176.f));
    return *reinterpret_cast<uint32_t *>(&r);
}
template <> struct mvf<MLXN_TYPE_Q8_0> {
    static constexpr int QK = 32, BB = 34, CB = 8, TAB = 0;
    template <class C> static __device__ __forceinline__ void block(C &c, const uint8_t *pg, const uint8_t *ph, int kb) {
        constexpr int NT = C::NTv;
        const int t = c.t;
        float cc[NT][4];
        ZERO(cc);
#pragma unroll
        for (int half = 0; half < 2; half++) {
            const uint32_t wg = ld32a2(pg + 2 + 16 * half + 4 * t), wh = ld32a2(ph + 2 + 16 * half + 4 * t);
            const uint32_t xg = wg ^ 0x80808080u, xh = wh ^ 0x80808080u; /* top nibble ^ 8 */
            const uint32_t hi[4] = {q8_hi(qmm_magic(p02(xg, 4, M4))), q8_hi(qmm_magic(p02(xh, 4, M4))),
                                    q8_hi(qmm_magic(p13(xg, 4, M4))), q8_hi(qmm_magic(p13(xh, 4, M4)))};
            const uint32_t lo[4] = {qmm_bsub(qmm_magic(p02(wg, 0, M4)), 128.f), qmm_bsub(qmm_magic(p02(wh, 0, M4)), 128.f),
                                    qmm_bsub(qmm_magic(p13(wg, 0, M4)), 128.f), qmm_bsub(qmm_magic(p13(wh, 0, M4)), 128.f)};
            c.step2(hi, lo, kb + 16 * half + 4 * t, cc);
        }
        c.apply(cc, h2f(ld16(pg)), h2f(ld16(ph)));
    }
};

/* Table formats: pairs of levels looked up in a 256-entry bf16x2 table (index lo | hi << 4). */
static __device__ __forceinline__ void tab4(const uint32_t *tab, uint32_t w, uint32_t (&o)[4]) {
    o[0] = tab[(w & 0xf) | ((w >> 12) & 0xf0)];         /* low nibbles of bytes 0, 2 */
    o[1] = tab[((w >> 8) & 0xf) | ((w >> 20) & 0xf0)];  /* low nibbles of bytes 1, 3 */
    o[2] = tab[((w >> 4) & 0xf) | ((w >> 16) & 0xf0)];  /* high nibbles of bytes 0, 2 */
    o[3] = tab[((w >> 12) & 0xf) | ((w >> 24) & 0xf0)]; /* high nibbles of bytes 1, 3 */
}
/* 16 bytes of nibbles (32 elements, low nibbles first) at qs, scale sg / sh. */
template <class C, int NT>
static __device__ __forceinline__ void tab_block(C &c, uint32_t wg, uint32_t wh, int kb, float sg, float sh) {
    uint32_t g[4], h[4];
    tab4(c.tab, wg, g);
    tab4(c.tab, wh, h);
    float cc[NT][4];
    ZERO(cc);
    c.template step<false>(g[0], h[0], g[1], h[1], kb + 4 * c.t, cc, cc);
    c.template step<false>(g[2], h[2], g[3], h[3], kb + 16 + 4 * c.t, cc, cc);
    c.apply(cc, sg, sh);
}
template <> struct mvf<MLXN_TYPE_IQ4_NL> {
    static constexpr int QK = 32, BB = 18, CB = 8, TAB = 1;
    static __device__ __forceinline__ int level(int i) { return mlxn_kvalues_iq4nl[i]; }
    template <class C> static __device__ __forceinline__ void block(C &c, const uint8_t *pg, const uint8_t *ph, int kb) {
        constexpr int NT = C::NTv;
        tab_block<C, NT>(c, ld32a2(pg + 2 + 4 * c.t), ld32a2(ph + 2 + 4 * c.t), kb, h2f(ld16(pg)), h2f(ld16(ph)));
    }
};
template <> struct mvf<MLXN_TYPE_MXFP4> {
    static constexpr int QK = 32, BB = 17, CB = 16, TAB = 2;
    static __device__ __forceinline__ int level(int i) { return mlxn_kvalues_mxfp4[i]; }
    template <class C> static __device__ __forceinline__ void block(C &c, const uint8_t *pg, const uint8_t *ph, int kb) {
        constexpr int NT = C::NTv;
        tab_block<C, NT>(c, ld32a1(pg + 1 + 4 * c.t), ld32a1(ph + 1 + 4 * c.t), kb, mlxn_e8m0_half(pg[0]), mlxn_e8m0_half(ph[0]));
    }
};
template <> struct mvf<MLXN_TYPE_IQ4_XS> {
    static constexpr int QK = 256, BB = 136, CB = 2, TAB = 1;
    static __device__ __forceinline__ int level(int i) { return mlxn_kvalues_iq4nl[i]; }
    static __device__ __forceinline__ float scale(const uint8_t *b, int ib) {
        const int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 0xf) | (((ld16(b + 2) >> (2 * ib)) & 3) << 4);
        return h2f(ld16(b)) * (float)(ls - 32);
    }
    template <class C> static __device__ __forceinline__ void block(C &c, const uint8_t *pg, const uint8_t *ph, int kb) {
        constexpr int NT = C::NTv;
#pragma unroll 2
        for (int ib = 0; ib < 8; ib++)
            tab_block<C, NT>(c, ld32(pg + 8 + 16 * ib + 4 * c.t), ld32(ph + 8 + 16 * ib + 4 * c.t), kb + 32 * ib,
                             scale(pg, ib), scale(ph, ib));
    }
};

/* ── K-quants ── */

static __device__ __forceinline__ void k4_scale_min(const uint8_t *q, int j, int &sc, int &m) {
    if (j < 4) {
        sc = q[j] & 63;
        m = q[j + 4] & 63;
    } else {
        sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* Q4_K (QH = false) and Q5_K (QH = true): groups of 32 with d·sc and dmin·m; levels go in
 * as 128 + q and the 128 joins the min. */
template <bool QH> struct mvf_k45 {
    template <class C> static __device__ __forceinline__ void run(C &c, const uint8_t *pg, const uint8_t *ph, int kb) {
        constexpr int NT = C::NTv;
        constexpr int QS = QH ? 48 : 16;
        const int t = c.t;
        const float dg = h2f(ld16(pg)), dh = h2f(ld16(ph)), ng = h2f(ld16(pg + 2)), nh = h2f(ld16(ph + 2));
        uint32_t hg[2] = {0, 0}, hh[2] = {0, 0};
        if (QH) {
            hg[0] = ld32(pg + 16 + 4 * t), hg[1] = ld32(pg + 32 + 4 * t);
            hh[0] = ld32(ph + 16 + 4 * t), hh[1] = ld32(ph + 32 + 4 * t);
        }
#pragma unroll 1
        for (int p = 0; p < 4; p++) {
            const uint32_t wg[2] = {ld32(pg + QS + 32 * p + 4 * t), ld32(pg + QS + 32 * p + 16 + 4 * t)};
            const uint32_t wh[2] = {ld32(ph + QS + 32 * p + 4 * t), ld32(ph + QS + 32 * p + 16 + 4 * t)};
#pragma unroll
            for (int hi = 0; hi < 2; hi++) { /* group 2p + hi: low, then high nibbles */
                float cc[NT][4], ss[NT][4];
                ZERO(cc);
                ZERO(ss);
#pragma unroll
                for (int s = 0; s < 2; s++) {
                    uint32_t g02 = p02(wg[s], 4 * hi, M4), g13 = p13(wg[s], 4 * hi, M4);
                    uint32_t h02 = p02(wh[s], 4 * hi, M4), h13 = p13(wh[s], 4 * hi, M4);
                    if (QH) {
                        const int b = 2 * p + hi;
                        g02 |= p02(hg[s], b, M1) << 4, g13 |= p13(hg[s], b, M1) << 4;
                        h02 |= p02(hh[s], b, M1) << 4, h13 |= p13(hh[s], b, M1) << 4;
                    }
                    c.template step<true>(qmm_magic(g02), qmm_magic(h02), qmm_magic(g13), qmm_magic(h13),
                                          kb + 64 * p + 32 * hi + 16 * s + 4 * t, cc, ss);
                }
                int scg, mg, sch, mh;
                k4_scale_min(pg + 4, 2 * p + hi, scg, mg);
                k4_scale_min(ph + 4, 2 * p + hi, sch, mh);
                const float sg = dg * (float)scg, sh = dh * (float)sch;
                c.apply(cc, sg, sh);
                c.apply_min(ss, -(ng * (float)mg) - 128.f * sg, -(nh * (float)mh) - 128.f * sh);
            }
        }
    }
};
template <> struct mvf<MLXN_TYPE_Q4_K> {
    static constexpr int QK = 256, BB = 144, CB = 1, TAB = 0;
    template <class C> static __device__ __forceinline__ void block(C &c, const uint8_t *pg, const uint8_t *ph, int kb) {
        mvf_k45<false>::run(c, pg, ph, kb);
    }
};
template <> struct mvf<MLXN_TYPE_Q5_K> {
    static constexpr int QK = 256, BB = 176, CB = 1, TAB = 0;
    template <class C> static __device__ __forceinline__ void block(C &c, const uint8_t *pg, const uint8_t *ph, int kb) {
        mvf_k45<true>::run(c, pg, ph, kb);
    }
};

/* Q6_K: per half h and 16 s, words of ql (two) and qh; element 128h + 32j + 16s + l. */
template <> struct mvf<MLXN_TYPE_Q6_K> {
    static constexpr int QK = 256, BB = 210, CB = 2, TAB = 0;
    template <class C> static __device__ __forceinline__ void block(C &c, const uint8_t *pg, const uint8_t *ph, int kb) {
        constexpr int NT = C::NTv;
        const int t = c.t;
        const float dg = h2f(ld16(pg + 208)), dh = h2f(ld16(ph + 208));
#pragma unroll 1
        for (int hs = 0; hs < 4; hs++) {
            const int h = hs >> 1, s = hs & 1;
            const uint32_t ag[2] = {ld32a2(pg + 64 * h + 16 * s + 4 * t), ld32a2(pg + 64 * h + 32 + 16 * s + 4 * t)};
            const uint32_t ah[2] = {ld32a2(ph + 64 * h + 16 * s + 4 * t), ld32a2(ph + 64 * h + 32 + 16 * s + 4 * t)};
            const uint32_t qg = ld32a2(pg + 128 + 32 * h + 16 * s + 4 * t), qh = ld32a2(ph + 128 + 32 * h + 16 * s + 4 * t);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int ns = j >= 2 ? 4 : 0;
                const uint32_t g02 = p02(ag[j & 1], ns, M4) | (p02(qg, 2 * j, M2) << 4);
                const uint32_t g13 = p13(ag[j & 1], ns, M4) | (p13(qg, 2 * j, M2) << 4);
                const uint32_t h02 = p02(ah[j & 1], ns, M4) | (p02(qh, 2 * j, M2) << 4);
                const uint32_t h13 = p13(ah[j & 1], ns, M4) | (p13(qh, 2 * j, M2) << 4);
                float cc[NT][4];
                ZERO(cc);
                c.template step<false>(qmm_bsub(qmm_magic(g02), 160.f), qmm_bsub(qmm_magic(h02), 160.f),
                                       qmm_bsub(qmm_magic(g13), 160.f), qmm_bsub(qmm_magic(h13), 160.f),
                                       kb + 128 * h + 32 * j + 16 * s + 4 * t, cc, cc);
                const int gi = 8 * h + 2 * j + s;
                c.apply(cc, dg * (float)(int8_t)pg[192 + gi], dh * (float)(int8_t)ph[192 + gi]);
            }
        }
    }
};

/* Q2_K: element 128h + 32j + 16s + l is bits 2j of qs[32h + 16s + l]; group 8h + 2j + s has
 * d·(sc & 15) and min dmin·(sc >> 4). */
template <> struct mvf<MLXN_TYPE_Q2_K> {
    static constexpr int QK = 256, BB = 84, CB = 4, TAB = 0;
    template <class C> static __device__ __forceinline__ void block(C &c, const uint8_t *pg, const uint8_t *ph, int kb) {
        constexpr int NT = C::NTv;
        const int t = c.t;
        const float dg = h2f(ld16(pg + 80)), dh = h2f(ld16(ph + 80)), ng = h2f(ld16(pg + 82)), nh = h2f(ld16(ph + 82));
#pragma unroll 1
        for (int hs = 0; hs < 4; hs++) {
            const int h = hs >> 1, s = hs & 1;
            const uint32_t wg = ld32(pg + 16 + 32 * h + 16 * s + 4 * t), wh = ld32(ph + 16 + 32 * h + 16 * s + 4 * t);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                float cc[NT][4], ss[NT][4];
                ZERO(cc);
                ZERO(ss);
                c.template step<true>(qmm_magic(p02(wg, 2 * j, M2)), qmm_magic(p02(wh, 2 * j, M2)), qmm_magic(p13(wg, 2 * j, M2)),
                                      qmm_magic(p13(wh, 2 * j, M2)), kb + 128 * h + 32 * j + 16 * s + 4 * t, cc, ss);
                const int gi = 8 * h + 2 * j + s;
                const float sg = dg * (float)(pg[gi] & 15), sh = dh * (float)(ph[gi] & 15);
                c.apply(cc, sg, sh);
                c.apply_min(ss, -(ng * (float)(pg[gi] >> 4)) - 128.f * sg, -(nh * (float)(ph[gi] >> 4)) - 128.f * sh);
            }
        }
    }
};

/* Q3_K: as Q2_K's low bits, plus bit (4h + j) of hmask[16s + l]; a clear bit means -4. */
static __device__ __forceinline__ int q3_scale(const uint8_t *s, int j) {
    const int lo = j < 8 ? s[j] & 0xf : s[j - 8] >> 4;
    return (lo | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}
template <> struct mvf<MLXN_TYPE_Q3_K> {
    static constexpr int QK = 256, BB = 110, CB = 4, TAB = 0;
    template <class C> static __device__ __forceinline__ void block(C &c, const uint8_t *pg, const uint8_t *ph, int kb) {
        constexpr int NT = C::NTv;
        const int t = c.t;
        const float dg = h2f(ld16(pg + 108)), dh = h2f(ld16(ph + 108));
#pragma unroll 1
        for (int hs = 0; hs < 4; hs++) {
            const int h = hs >> 1, s = hs & 1;
            const uint32_t wg = ld32a2(pg + 32 + 32 * h + 16 * s + 4 * t), wh = ld32a2(ph + 32 + 32 * h + 16 * s + 4 * t);
            const uint32_t mg = ld32a2(pg + 16 * s + 4 * t), mh = ld32a2(ph + 16 * s + 4 * t);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int hb = 4 * h + j;
                const uint32_t g02 = p02(wg, 2 * j, M2) | (p02(mg, hb, M1) << 2), g13 = p13(wg, 2 * j, M2) | (p13(mg, hb, M1) << 2);
                const uint32_t h02 = p02(wh, 2 * j, M2) | (p02(mh, hb, M1) << 2), h13 = p13(wh, 2 * j, M2) | (p13(mh, hb, M1) << 2);
                float cc[NT][4];
                ZERO(cc);
                c.template step<false>(qmm_bsub(qmm_magic(g02), 132.f), qmm_bsub(qmm_magic(h02), 132.f),
                                       qmm_bsub(qmm_magic(g13), 132.f), qmm_bsub(qmm_magic(h13), 132.f),
                                       kb + 128 * h + 32 * j + 16 * s + 4 * t, cc, cc);
                const int gi = 8 * h + 2 * j + s;
                c.apply(cc, dg * (float)q3_scale(pg + 96, gi), dh * (float)q3_scale(ph + 96, gi));
            }
        }
    }
};

/* ── the kernel ── */

/* Shared-memory row stride of a chunk of W: 16-byte multiple, and an odd number of 16-byte
 * units so that the 8 rows one load touches fall in distinct banks. X rows of a chunk: KC
 * bf16 plus 32 bytes, so the 8 rows of a fragment load start 8 banks apart. */
template <mlxn_type T> struct mv_geom {
    static constexpr int KC = mvf<T>::CB * mvf<T>::QK; /* elements per chunk */
    static constexpr int CHUNK = mvf<T>::CB * mvf<T>::BB;
    static constexpr int R16 = (CHUNK + 15) / 16;
    static constexpr int STRIDE = 16 * (R16 % 2 ? R16 : R16 + 1);
    static constexpr int XSTRIDE = 2 * KC + 32;
    static constexpr int TAB_BYTES = mvf<T>::TAB ? 1024 : 0;
    /* bytes of one stage with mr rows of X */
    static constexpr int stage_bytes(int mr) { return 16 * STRIDE + mr * XSTRIDE; }
};

/* A block of nw warps owns rows n0 .. n0+15 of W; warp w takes chunks w, w + nw, ... of K,
 * each chunk's W rows and X rows (dense bf16, mr of them) staged by cp.async, STAGES deep.
 * Launched as the programmatic dependent of the grid before (mv_go says where), its first
 * W copies go out before the wait, X's and the output after it; it lets the next grid launch
 * at its start (early) or once its W is read. */
template <mlxn_type T, int NT, int STAGES>
static __global__ void __launch_bounds__(512, 2) qmm_mv_kernel(qmm_kp p, int G, int mr, int early) {
    typedef mvf<T> F;
    typedef mv_geom<T> GE;
    extern __shared__ __align__(16) uint8_t smem[];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nw = blockDim.x >> 5;
    const int n0 = blockIdx.x * 16, b = blockIdx.y;
    const int sb = GE::stage_bytes(mr), warp_bytes = STAGES * sb;
    uint32_t *tab = reinterpret_cast<uint32_t *>(smem);
    uint8_t *st0 = smem + GE::TAB_BYTES + warp * warp_bytes;
    if constexpr (F::TAB != 0) {
        for (int i = threadIdx.x; i < 256; i += blockDim.x) tab[i] = qmm_bf2((float)F::level(i & 15), (float)F::level(i >> 4));
        __syncthreads();
    }
    mv_ctx<NT> c;
    c.xstride = GE::XSTRIDE;
    c.mr = mr;
    c.tab = tab;
    c.t = lane & 3;
    c.g = lane >> 2;
#pragma unroll
    for (int nt = 0; nt < NT; nt++) c.acc[nt][0] = c.acc[nt][1] = c.acc[nt][2] = c.acc[nt][3] = 0.0f;
    const uint8_t *wb = p.w + b * p.w_batch + (long long)n0 * p.w_row;
    const __nv_bfloat16 *xb = static_cast<const __nv_bfloat16 *>(p.x) + (long long)b * p.x_batch;
    const int rows = p.n - n0 < 16 ? p.n - n0 : 16;
    const int bpr = p.k / F::QK, nchunk = (bpr + F::CB - 1) / F::CB;
    auto issue_w = [&](int ch, int st) {
        const int blk0 = ch * F::CB, nb = bpr - blk0 < F::CB ? bpr - blk0 : F::CB;
        const int per_row = nb * F::BB / G;
        uint8_t *dst = st0 + st * sb;
        const uint8_t *src = wb + (long long)blk0 * F::BB;
        for (int i = lane; i < rows * per_row; i += 32) {
            const int r = i / per_row, o = (i - r * per_row) * G;
            if (G == 16) qmm_cp_async<16>(dst + r * GE::STRIDE + o, src + r * p.w_row + o);
            else if (G == 8) qmm_cp_async<8>(dst + r * GE::STRIDE + o, src + r * p.w_row + o);
            else qmm_cp_async<4>(dst + r * GE::STRIDE + o, src + r * p.w_row + o);
        }
    };
    auto issue_x = [&](int ch, int st) {
        /* X rows 0 .. mr-1, elements blk0·QK .. in pieces of 8 (within one head: 8 | D) */
        const int blk0 = ch * F::CB, nb = bpr - blk0 < F::CB ? bpr - blk0 : F::CB;
        const int pieces = nb * F::QK / 8, kb = blk0 * F::QK;
        uint8_t *xd = st0 + st * sb + 16 * GE::STRIDE;
        for (int i = lane; i < mr * pieces; i += 32) {
            const int r = i / pieces, j = i - r * pieces, k = kb + 8 * j;
            long long o = (long long)r * p.x_row;
            if (p.x_hs) o += (long long)((unsigned)k / (unsigned)p.x_hd) * p.x_hs + (unsigned)k % (unsigned)p.x_hd;
            else o += k;
            qmm_cp_async<16>(xd + r * GE::XSTRIDE + 16 * j, xb + o);
        }
    };
    if (early) mlxn_pdl_trigger();
    /* the first stages' W before the wait (it joins stage 0's group), their X after it */
#pragma unroll
    for (int s = 0; s < STAGES - 1; s++)
        if (warp + s * nw < nchunk) issue_w(warp + s * nw, s);
    mlxn_pdl_wait(); /* X, and y, may belong to the grid before */
#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        const int ch = warp + s * nw;
        if (ch < nchunk) issue_x(ch, s);
        qmm_cp_commit();
    }
    const int g = lane >> 2;
    for (int i = 0;; i++) {
        const int ch = warp + i * nw;
        if (ch >= nchunk) break;
        qmm_cp_wait<STAGES - 2>();
        __syncwarp();
        const uint8_t *stg = st0 + (i % STAGES) * sb;
        const uint8_t *sg = stg + g * GE::STRIDE;
        const int blk0 = ch * F::CB, nb = bpr - blk0 < F::CB ? bpr - blk0 : F::CB;
        c.xs = stg + 16 * GE::STRIDE;
        c.k0 = blk0 * F::QK;
        for (int bi = 0; bi < nb; bi++)
            F::block(c, sg + bi * F::BB, sg + 8 * GE::STRIDE + bi * F::BB, (blk0 + bi) * F::QK);
        __syncwarp();
        const int nx = ch + (STAGES - 1) * nw;
        if (nx < nchunk) issue_w(nx, (i + STAGES - 1) % STAGES), issue_x(nx, (i + STAGES - 1) % STAGES);
        qmm_cp_commit();
    }
    if (!early) mlxn_pdl_trigger(); /* W is read: the next grid may launch (it waits for this one before it reads or writes) */
    qmm_cp_wait<0>();
    __syncwarp();
    /* the warps' partial sums, added in warp order */
    float *red = reinterpret_cast<float *>(st0);
#pragma unroll
    for (int nt = 0; nt < NT; nt++)
#pragma unroll
        for (int j = 0; j < 4; j++) red[(nt * 4 + j) * 32 + lane] = c.acc[nt][j];
    __syncthreads();
    if (warp) return;
    for (int w = 1; w < nw; w++) {
        const float *o = reinterpret_cast<const float *>(smem + GE::TAB_BYTES + w * warp_bytes);
#pragma unroll
        for (int nt = 0; nt < NT; nt++)
#pragma unroll
            for (int j = 0; j < 4; j++) c.acc[nt][j] += o[(nt * 4 + j) * 32 + lane];
    }
#pragma unroll
    for (int nt = 0; nt < NT; nt++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int n = n0 + g + 8 * (j >> 1), m = 8 * nt + 2 * c.t + (j & 1);
            if (n < p.n && m < p.m) qmm_store(p, 0, b, m, n, c.acc[nt][j]);
        }
}

template <mlxn_type T, int NT, int STAGES> static mlxn_status mv_go(const qmm_launch &l, int nw, int G, int mr, bool early) {
    typedef mv_geom<T> GE;
    const int smem = GE::TAB_BYTES + nw * STAGES * GE::stage_bytes(mr);
    auto k = qmm_mv_kernel<T, NT, STAGES>;
    if (mlxn_status st = mlxn_cuda_set_smem(k, (size_t)smem, l.dev, "qmatmul"); st != MLXN_OK) return st;
    dim3 grid((unsigned)((l.p->n + 15) / 16), (unsigned)l.batch);
    /* A programmatic dependent (sm_90) where the grid is at most a block an SM, triggering
     * after its loop, or where it has many 4-warp tiles (early), triggering at its start. H100,
     * same run against plain launches, µs at M 1 / 4 / 8: 576×576 Q5_0 8.1 / 8.3 / 8.2 -> 6.1 /
     * 6.3 / 6.1; 1024×4096 Q5_0 10.0 / 10.3 / 16.0 -> 9.0 / 9.3 / 15.3, Q3_K 9.4 -> 8.8, every
     * format 0.89-0.98. Early on 14336×4096: IQ4_XS 29.0 / 34.5 / 49.1 -> 25.3 / 31.9 / 46.4,
     * MXFP4 38.3 -> 34.6 (M 1), every format and M 0.88-0.99 but Q5_0 at M 1 (39.0 -> 40.1);
     * 128256×4096 0.98-1.00; 49152×576 Q4_0 M 4 23.9 -> 22.0. The 256 blocks of 16 warps of
     * 4096×4096 took up to 1.14× as long as a dependent with either trigger (Q3_K M 1 13.8 ->
     * 15.8): they launch plainly (dev/qmatmul/NOTES.md, sessions 12-13). */
    const bool pdl = mlxn_cuda_sm90(l.dev) && (early || (long long)grid.x * grid.y <= l.dev->prop.multiProcessorCount);
    return mlxn_cuda_launch(l.s, k, grid, dim3(32 * nw), (size_t)smem, 1, pdl, *l.p, G, mr, (int)early);
}

/* X must be dense-enough bf16 here: 16-byte pieces of 8 elements (the entry converts other
 * layouts first). */
template <mlxn_type T> static mlxn_status mv_fmt(const qmm_launch &l) {
    typedef mvf<T> F;
    typedef mv_geom<T> GE;
    const qmm_kp &p = *l.p;
    /* copies: the widest of 16, 8, 4 bytes that every row start and chunk admits */
    const long long align = (long long)((uintptr_t)p.w | (uintptr_t)p.w_row | (uintptr_t)p.w_batch |
                                        (uintptr_t)(F::CB * F::BB));
    const int G = align % 16 == 0 ? 16 : align % 8 == 0 ? 8 : align % 4 == 0 ? 4 : 0;
    if (!G || l.tx != MLXN_TYPE_BF16 || !qmm_x_pieces16(p)) return MLXN_ERR_UNSUPPORTED;
    const int mr = p.m < 16 ? p.m : 16;
    /* Two chunks in flight per warp and many warps per SM (the decode is instruction-bound;
     * more resident warps hide its latency better than deeper pipelines: measured on an
     * H100, dev/qmatmul/NOTES.md): 4 warps per block where there are many 16-row tiles
     * (14336 rows: 8 blocks per SM), else 16 warps per block splitting K (4096 rows). */
    const long long tiles = (long long)((p.n + 15) / 16) * l.batch;
    const int sms = l.dev->prop.multiProcessorCount;
    const int nchunk = (p.k / F::QK + F::CB - 1) / F::CB;
    const bool many = tiles >= 4LL * sms;
    int nw = many ? 4 : 16;
    while (nw > 1 && (nw > nchunk || GE::TAB_BYTES + nw * 2 * GE::stage_bytes(mr) > 100 * 1024)) nw /= 2;
    if (GE::TAB_BYTES + nw * 2 * GE::stage_bytes(mr) > 200 * 1024) return MLXN_ERR_UNSUPPORTED;
    return p.m > 8 ? mv_go<T, 2, 2>(l, nw, G, mr, many) : mv_go<T, 1, 2>(l, nw, G, mr, many);
}


mlxn_status qmm_mv_launch(const qmm_launch &l) {
    {
        switch (l.tw) {
        case MLXN_TYPE_Q4_0: return mv_fmt<MLXN_TYPE_Q4_0>(l);
        case MLXN_TYPE_Q4_1: return mv_fmt<MLXN_TYPE_Q4_1>(l);
        case MLXN_TYPE_Q5_0: return mv_fmt<MLXN_TYPE_Q5_0>(l);
        case MLXN_TYPE_Q5_1: return mv_fmt<MLXN_TYPE_Q5_1>(l);
        case MLXN_TYPE_Q8_0: return mv_fmt<MLXN_TYPE_Q8_0>(l);
        case MLXN_TYPE_IQ4_NL: return mv_fmt<MLXN_TYPE_IQ4_NL>(l);
        case MLXN_TYPE_MXFP4: return mv_fmt<MLXN_TYPE_MXFP4>(l);
        case MLXN_TYPE_Q2_K: return mv_fmt<MLXN_TYPE_Q2_K>(l);
        case MLXN_TYPE_Q3_K: return mv_fmt<MLXN_TYPE_Q3_K>(l);
        case MLXN_TYPE_Q4_K: return mv_fmt<MLXN_TYPE_Q4_K>(l);
        case MLXN_TYPE_Q5_K: return mv_fmt<MLXN_TYPE_Q5_K>(l);
        case MLXN_TYPE_Q6_K: return mv_fmt<MLXN_TYPE_Q6_K>(l);
        case MLXN_TYPE_IQ4_XS: return mv_fmt<MLXN_TYPE_IQ4_XS>(l);
        default: return MLXN_ERR_UNSUPPORTED;
        }
    }
}

#include "cuda/qmatmul_mv_dp4a.cuh"
#include "cuda/qmatmul_mv_mma.cuh"

/* M <= 4: the streamed mat-vec (qmatmul_mv1.cu) where its layout and the format's M limit
 * (mv1_max_m) hold. Else the tensor-core kernel (qmatmul_mv_mma.cuh: X rounded to int8, or as
 * it is for Q4_0 and Q6_K) where it runs (qmi_ok) for 2 < M <= 16, and Q6_K at every M; the
 * dp4a kernel for the rest up to its MVQ_MAX_M. Measured on an H100
 * (dev/qmatmul/NOTES.md, 4096×14336, 14336×4096 and 4096×4096): at M = 1 the streamed kernel
 * reads 0.75-0.90 of the bandwidth on the large shapes where dp4a reads 0.61-0.77 (Q6_K
 * 0.74-0.81, where the tensor-core kernel reads 0.61-0.63 and dp4a 0.43); at M = 2 it takes
 * 0.62-0.80 of the dp4a kernel's time and 0.70-1.0 of the tensor-core kernel's; at M = 4 the
 * tensor-core kernel is ahead of dp4a for every format, by up to 1.9× (Q6_K). */
mlxn_status qmm_mvq_launch(cuda_stream *s, const qmm_launch &l) {
    if (l.p->m <= 4) {
        const mlxn_status st = qmm_mv1_launch(s, l);
        if (st != MLXN_ERR_UNSUPPORTED) return st;
    }
    if (l.p->m > 2 || l.tw == MLXN_TYPE_Q6_K) {
        const mlxn_status st = qmi_launch(s, l);
        if (st != MLXN_ERR_UNSUPPORTED) return st;
    }
    const int max_m = l.tw == MLXN_TYPE_Q4_0 || l.tw == MLXN_TYPE_Q4_1 ? 2 : MVQ_MAX_M;
    if (l.p->m > max_m || l.p->k % 32 || ((uintptr_t)l.p->w | (uintptr_t)l.p->w_row | (uintptr_t)l.p->w_batch) % 2)
        return MLXN_ERR_UNSUPPORTED;
    switch (l.tw) {
    case MLXN_TYPE_Q4_0: return mvq_fmt<MLXN_TYPE_Q4_0>(s, l);
    case MLXN_TYPE_Q4_1: return mvq_fmt<MLXN_TYPE_Q4_1>(s, l);
    case MLXN_TYPE_Q8_0: return mvq_fmt<MLXN_TYPE_Q8_0>(s, l);
    case MLXN_TYPE_IQ4_NL: return mvq_fmt<MLXN_TYPE_IQ4_NL>(s, l);
    case MLXN_TYPE_Q4_K: return mvq_fmt<MLXN_TYPE_Q4_K>(s, l);
    case MLXN_TYPE_Q5_K: return mvq_fmt<MLXN_TYPE_Q5_K>(s, l);
    case MLXN_TYPE_Q6_K: return mvq_fmt<MLXN_TYPE_Q6_K>(s, l);
    default: return MLXN_ERR_UNSUPPORTED;
    }
}

/* ── float weights: f32 FMAs. A warp per 4 rows of W, lanes over 8-element pieces of K,
 * every row of X (M <= 16) against each piece; warp sums by a fixed shuffle tree. ── */

template <typename TW, typename TX> static __global__ void __launch_bounds__(128) qmm_mvf_kernel(qmm_kp p) {
    constexpr int R = 4, MT = 16;
    const int lane = threadIdx.x & 31, n0 = (blockIdx.x * 4 + (threadIdx.x >> 5)) * R, b = blockIdx.y;
    if (n0 >= p.n) return;
    const TW *w = reinterpret_cast<const TW *>(p.w + b * p.w_batch);
    const TX *x = static_cast<const TX *>(p.x);
    const long long wr = p.w_row / (long long)sizeof(TW);
    float acc[R][MT];
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int m = 0; m < MT; m++) acc[r][m] = 0.0f;
    for (int k = 8 * lane; k < p.k; k += 256) {
        float wv[R][8];
#pragma unroll
        for (int r = 0; r < R; r++) {
            if (n0 + r < p.n) mlxn_ld8(w + (long long)(n0 + r) * wr + k, 8, true, wv[r]);
            else
#pragma unroll
                for (int j = 0; j < 8; j++) wv[r][j] = 0.0f;
        }
#pragma unroll
        for (int m = 0; m < MT; m++) {
            if (m >= p.m) break;
            float xv[8];
            mlxn_ld8(x + qmm_x_off(p, b, m, k), 8, true, xv);
#pragma unroll
            for (int r = 0; r < R; r++)
#pragma unroll
                for (int j = 0; j < 8; j++) acc[r][m] = fmaf(wv[r][j], xv[j], acc[r][m]);
        }
    }
#pragma unroll
    for (int m = 0; m < MT; m++) {
        if (m >= p.m) break;
#pragma unroll
        for (int r = 0; r < R; r++) {
            float v = acc[r][m];
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
            if (lane == 0 && n0 + r < p.n) qmm_store(p, 0, b, m, n0 + r, v);
        }
    }
}

mlxn_status qmm_mvf_launch(const qmm_launch &l) {
    const qmm_kp &p = *l.p;
    const long long wes = l.tw == MLXN_TYPE_F32 ? 4 : 2, xes = l.tx == MLXN_TYPE_F32 ? 4 : 2;
    /* 8 elements per load of W and X */
    if (p.k % 8 || ((uintptr_t)p.w | (uintptr_t)p.w_row | (uintptr_t)p.w_batch) % (8 * wes) ||
        (uintptr_t)p.x % (8 * xes) || p.x_row % 8 || p.x_batch % 8 || (p.x_hs && (p.x_hd % 8 || p.x_hs % 8)))
        return MLXN_ERR_UNSUPPORTED;
    dim3 grid((unsigned)((p.n + 15) / 16), (unsigned)l.batch);
    return mlxn_dispatch_float(l.tw, [&](auto tw) {
        return mlxn_dispatch_float(l.tx, [&](auto tx) {
            qmm_mvf_kernel<decltype(tw), decltype(tx)><<<grid, 128, 0, l.s>>>(p);
            MLXN_CUDA_CHECK_LAUNCH();
            return MLXN_OK;
        });
    });
}
