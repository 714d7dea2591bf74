/* CUDA mat-vec for M <= 4 on integer dot products.
 *
 * A group is 256 elements of K of one W row (eight blocks of 32, or one K-quant super-block):
 * NB bytes (a multiple of 16, or of 8, 4 or 2: IQ4_XS and MXFP4 136, Q2_K 84, Q3_K 110, Q6_K
 * 210). A lane owns one group at a time; the LPR lanes of a row set take
 * the row's groups g, g + LPR, ... (LPR: a power of two up to 32, mv1_pick_ll), and a warp
 * holds 32 / LPR row sets. W streams through a per-warp ring in shared memory
 * by cp.async (mv1_kernel says how); X's rows are rounded to int8 per 32 elements (q =
 * nearest(x · 127 / amax), d = amax / 127, s = d · Σq, as the other int8 paths) in the layout
 * the lanes read: by each block into its shared memory, or by a pre-pass into the workspace,
 * which each block copies (mv1_go gives the measured choice). A lane's levels meet every row
 * of X (MR of them: 1, 2 or 4, the rows past M unused): a weight is decoded once for all of
 * them. On sm_90 the pre-pass and the mat-vec are programmatic dependent launches that let
 * their dependents launch at once: a mat-vec's blocks take the SMs as the grid before it
 * leaves them and issue their first W copies before they wait for X (a call's fixed cost 3.5
 * -> 2.7 µs, H100). W is read before any wait: no kernel that lets dependents launch early
 * writes block-format weights (cuda_common.cuh). Levels meet X's in __dp4a; the block's
 * scales apply in f32: y += d_w · d_x · Σ w_q x_q + c_w · s_x. Lanes add up by a fixed shuffle
 * tree: results are reproducible.
 *
 * Taken for M up to mv1_max_m (every block format mlxn_qmatmul takes), batch 1, K up to
 * 32768, W and X's 8-element pieces 16-byte aligned. Rows of 16-byte multiples (K a multiple
 * of 256, and of 512 for IQ4_XS and MXFP4, 1024 for Q2_K, 2048 for Q3_K and Q6_K) take the
 * kernel's plain instances; other rows its general ones (mv1_kernel's GEN): K-quant rows at
 * the alignment their read path needs (mv1_row_align), and the 32-element block formats at any
 * K. Other layouts go to the kernels of qmatmul_mv.cu's choice. */
#include "cuda/qmatmul.cuh"

#define MV1_WARPS 8

/* Σ a_i · b_i + c over the 4 bytes: a unsigned, b signed. */
static __device__ __forceinline__ int mv1_dp4a_us(uint32_t a, int b, int c) {
    int d;
    asm("dp4a.u32.s32 %0, %1, %2, %3;\n" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}

/* 4 bytes at byte offset o of the words u (a compile-time constant after unrolling), and
 * the f16 at o (o even). */
template <int N> static __device__ __forceinline__ uint32_t mv1_b32(const uint32_t (&u)[N], int o) {
    return o % 4 == 0 ? u[o / 4] : __funnelshift_r(u[o / 4], u[o / 4 + 1], 8 * (o % 4));
}
template <int N> static __device__ __forceinline__ float mv1_h16(const uint32_t (&u)[N], int o) {
    return h2f(o % 4 == 0 ? u[o / 4] & 0xffffu : u[o / 4] >> 16);
}

/* X block b of a group: elements 0..15 in a, 16..31 in c (in pair order where mv1_il), and its (d, s). */
struct mv1_x {
    int4 a, c;
    float d, s;
};

/* Σ over a block of the 16 low nibbles (elements 0..15, words at byte O + 4j) and the 16 high
 * ones (elements 16..31): the high ones are masked in place (16 × their level) and shifted
 * down once. */
template <int O, int N> static __device__ __forceinline__ int mv1_nib_dot(const uint32_t (&u)[N], const mv1_x &x) {
    const int xa[4] = {x.a.x, x.a.y, x.a.z, x.a.w}, xc[4] = {x.c.x, x.c.y, x.c.z, x.c.w};
    int hi = 0;
#pragma unroll
    for (int j = 0; j < 4; j++) hi = mv1_dp4a_us(mv1_b32(u, O + 4 * j) & 0xf0f0f0f0u, xc[j], hi);
    int s = hi >> 4;
#pragma unroll
    for (int j = 0; j < 4; j++) s = __dp4a((int)(mv1_b32(u, O + 4 * j) & 0x0f0f0f0fu), xa[j], s);
    return s;
}

template <mlxn_type T> struct mv1;

/* Formats whose blocks carry their own scales: nothing to unpack per group. */
struct mv1_nopre {
    struct pre {};
    template <int N> static __device__ __forceinline__ void prep(const uint32_t (&)[N], pre &) {}
};

/* Q4_0: 18-byte blocks (d, 16 bytes of nibbles); levels 0..15, the -8 in the offset. */
template <> struct mv1<MLXN_TYPE_Q4_0> : mv1_nopre {
    static constexpr int NB = 144;
    template <int B> static __device__ __forceinline__ void blk(const uint32_t (&u)[NB / 4], const pre &, const mv1_x &x, float &acc) {
        constexpr int O = 18 * B;
        const int dot = mv1_nib_dot<O + 2>(u, x);
        acc = fmaf(mv1_h16(u, O), fmaf(-8.0f, x.s, x.d * (float)dot), acc);
    }
};

/* Q4_1: 20-byte blocks (d, m, nibbles): d · q + m. */
template <> struct mv1<MLXN_TYPE_Q4_1> : mv1_nopre {
    static constexpr int NB = 160;
    template <int B> static __device__ __forceinline__ void blk(const uint32_t (&u)[NB / 4], const pre &, const mv1_x &x, float &acc) {
        constexpr int O = 20 * B;
        const int dot = mv1_nib_dot<O + 4>(u, x);
        acc = fmaf(mv1_h16(u, O), x.d * (float)dot, fmaf(mv1_h16(u, O + 2), x.s, acc));
    }
};

/* Σ over a block of the 32 table levels of 16 bytes of nibbles (words at byte O + 4j, any
 * alignment) against X's block in pair order (mv1_il): a word of nibbles meets two of X's words
 * as its levels come, without sorting them into element order. */
template <int O, int N>
static __device__ __forceinline__ int mv1_lut_dot(const uint32_t (&u)[N], const mv1_x &x, uint32_t t0, uint32_t t1, uint32_t t2,
                                                  uint32_t t3) {
    const int xv[8] = {x.a.x, x.a.y, x.a.z, x.a.w, x.c.x, x.c.y, x.c.z, x.c.w};
    int s = 0;
#pragma unroll
    for (int j = 0; j < 4; j++) {
        uint32_t p0, p1;
        mvq_lut8_pairs(mv1_b32(u, O + 4 * j), t0, t1, t2, t3, p0, p1);
        s = __dp4a((int)p0, xv[2 * j], s);
        s = __dp4a((int)p1, xv[2 * j + 1], s);
    }
    return s;
}

/* IQ4_NL: Q4_0's layout, nibbles looked up in the 16 int8 levels. */
template <> struct mv1<MLXN_TYPE_IQ4_NL> : mv1_nopre {
    static constexpr int NB = 144;
    template <int B> static __device__ __forceinline__ void blk(const uint32_t (&u)[NB / 4], const pre &, const mv1_x &x, float &acc) {
        constexpr int O = 18 * B;
        acc = fmaf(mv1_h16(u, O), x.d * (float)mv1_lut_dot<O + 2>(u, x, MVQ_IQ4NL_LUT), acc);
    }
};

/* Q8_0: 34-byte blocks (d, 32 signed bytes). */
template <> struct mv1<MLXN_TYPE_Q8_0> : mv1_nopre {
    static constexpr int NB = 272;
    template <int B> static __device__ __forceinline__ void blk(const uint32_t (&u)[NB / 4], const pre &, const mv1_x &x, float &acc) {
        constexpr int O = 34 * B;
        const int xv[8] = {x.a.x, x.a.y, x.a.z, x.a.w, x.c.x, x.c.y, x.c.z, x.c.w};
        int s = 0;
#pragma unroll
        for (int j = 0; j < 8; j++) s = __dp4a((int)mv1_b32(u, O + 2 + 4 * j), xv[j], s);
        acc = fmaf(mv1_h16(u, O), x.d * (float)s, acc);
    }
};

/* IQ4_XS: a 136-byte super-block (d, scales_h, scales_l[4], 8 × 16 bytes of IQ4_NL nibbles);
 * sub-block b's scale d · (ls - 32), ls = nibble b & 1 of scales_l[b / 2] | bits 2b of
 * scales_h << 4. NB is a multiple of 8, not 16: rows are 16-byte multiples at an even group
 * count, and then LPR >= 2. */
template <> struct mv1<MLXN_TYPE_IQ4_XS> {
    static constexpr int NB = 136;
    struct pre {
        uint32_t sh, sl;
        float d;
    };
    static __device__ __forceinline__ void prep(const uint32_t (&u)[NB / 4], pre &p) {
        p.d = h2f(u[0] & 0xffffu);
        p.sh = u[0] >> 16;
        p.sl = u[1];
    }
    template <int B> static __device__ __forceinline__ void blk(const uint32_t (&u)[NB / 4], const pre &p, const mv1_x &x, float &acc) {
        const int s = mv1_lut_dot<8 + 16 * B>(u, x, MVQ_IQ4NL_LUT);
        const int ls = (int)(((p.sl >> (4 * B)) & 0xfu) | (((p.sh >> (2 * B)) & 3u) << 4));
        acc = fmaf(p.d * (float)(ls - 32), x.d * (float)s, acc);
    }
};

/* MXFP4: 17-byte blocks (E8M0 exponent e, 16 bytes of nibbles as Q4_0): 2^(e - 128) times the
 * doubled E2M1 levels. Blocks sit at any byte offset of the 136-byte group. */
template <> struct mv1<MLXN_TYPE_MXFP4> : mv1_nopre {
    static constexpr int NB = 136;
    template <int B> static __device__ __forceinline__ void blk(const uint32_t (&u)[NB / 4], const pre &, const mv1_x &x, float &acc) {
        constexpr int O = 17 * B;
        const int s = mv1_lut_dot<O + 1>(u, x, MVQ_MXFP4_LUT);
        const uint32_t e = (u[O / 4] >> (8 * (O % 4))) & 0xffu;
        acc = fmaf(mlxn_e8m0_half(e), x.d * (float)s, acc);
    }
};

/* Bit 4 of the 4 levels of bytes 4i..4i+3: bits 4i.. of h spread to bit 4 of each byte. */
static __device__ __forceinline__ uint32_t mv1_hi4(uint32_t h, int i) { return (((h >> (4 * i)) & 0xfu) * 0x00204081u & 0x01010101u) << 4; }

/* Q5_0 and Q5_1: 22- / 24-byte blocks (d, [m,] qh, nibbles as Q4_0): level q = nibble | bit
 * of qh << 4; Q5_0: d · (q - 16), the -16 in the offset; Q5_1: d · q + m. */
template <bool M1> struct mv1_q5 : mv1_nopre {
    static constexpr int BB = M1 ? 24 : 22, NB = 8 * BB, QH = M1 ? 4 : 2;
    template <int B> static __device__ __forceinline__ void blk(const uint32_t (&u)[NB / 4], const pre &, const mv1_x &x, float &acc) {
        constexpr int O = BB * B;
        const int xa[4] = {x.a.x, x.a.y, x.a.z, x.a.w}, xc[4] = {x.c.x, x.c.y, x.c.z, x.c.w};
        const uint32_t h = mv1_b32(u, O + QH);
        int s = 0;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const uint32_t w = mv1_b32(u, O + QH + 4 + 4 * j);
            s = __dp4a((int)((w & 0x0f0f0f0fu) | mv1_hi4(h, j)), xa[j], s);
            s = __dp4a((int)(((w >> 4) & 0x0f0f0f0fu) | mv1_hi4(h, 4 + j)), xc[j], s);
        }
        if (M1) acc = fmaf(mv1_h16(u, O), x.d * (float)s, fmaf(mv1_h16(u, O + 2), x.s, acc));
        else acc = fmaf(mv1_h16(u, O), fmaf(-16.0f, x.s, x.d * (float)s), acc);
    }
};
template <> struct mv1<MLXN_TYPE_Q5_0> : mv1_q5<false> {};
template <> struct mv1<MLXN_TYPE_Q5_1> : mv1_q5<true> {};

/* Q2_K: an 84-byte super-block (scales[16], qs[64], d, dmin). Element 32B + l of sub-block B
 * sits in bits 2 (B % 4) of qs[32 (B / 4) + l]; its 16-element half h has scale byte
 * scales[2B + h]: d · (byte & 15) · q - dmin · (byte >> 4), so the min term needs X's sum per
 * 16: a dp4a of the min bytes against X. */
template <> struct mv1<MLXN_TYPE_Q2_K> {
    static constexpr int NB = 84;
    struct pre {
        float d, dmin;
    };
    static __device__ __forceinline__ void prep(const uint32_t (&u)[NB / 4], pre &p) {
        p.d = h2f(u[20] & 0xffffu);
        p.dmin = h2f(u[20] >> 16);
    }
    template <int B> static __device__ __forceinline__ void blk(const uint32_t (&u)[NB / 4], const pre &p, const mv1_x &x, float &acc) {
        constexpr int Q = 4 + 8 * (B / 4), SH = 2 * (B % 4);
        const int xv[8] = {x.a.x, x.a.y, x.a.z, x.a.w, x.c.x, x.c.y, x.c.z, x.c.w};
        const uint32_t sc = (u[B / 2] >> (16 * (B & 1))) & 0xffffu; /* scales[2B], scales[2B + 1] */
        const uint32_t ma = ((sc >> 4) & 0xfu) * 0x01010101u, mb = (sc >> 12) * 0x01010101u;
        int dot[2] = {0, 0}, mdot = 0;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            dot[j >> 2] = __dp4a((int)((u[Q + j] >> SH) & 0x03030303u), xv[j], dot[j >> 2]);
            mdot = __dp4a((int)(j < 4 ? ma : mb), xv[j], mdot);
        }
        const int sdot = (int)(sc & 0xfu) * dot[0] + (int)((sc >> 8) & 0xfu) * dot[1];
        acc = fmaf(x.d, fmaf(p.d, (float)sdot, -p.dmin * (float)mdot), acc);
    }
};

/* Q3_K: a 110-byte super-block (hmask[32], qs[64], scales[12], d), 2 bytes off a word boundary
 * in every other lane (read as Q6_K's). Element 32B + l of sub-block B: low bits 2 (B % 4) of
 * qs[32 (B / 4) + l], bit B of hmask[l] set for q - 0, clear for q - 4: the level v - 4 for v
 * = low | bit << 2, a signed byte as (v + 124) ^ 128. Scale j (6 bits, biased by 32): low 4
 * bits in nibble j / 8 of byte j % 8, high 2 in bits 2 (j / 4) of byte 8 + j % 4. */
template <> struct mv1<MLXN_TYPE_Q3_K> {
    static constexpr int NB = 110;
    struct pre {
        float d;
    };
    static __device__ __forceinline__ void prep(const uint32_t (&u)[28], pre &p) { p.d = h2f(u[27] & 0xffffu); }
    template <int J> static __device__ __forceinline__ int scale(const uint32_t (&u)[28]) {
        const uint32_t lo = (u[24 + (J % 8) / 4] >> (8 * (J % 4) + 4 * (J / 8))) & 0xfu;
        const uint32_t hi = (u[26] >> (8 * (J % 4) + 2 * (J / 4))) & 3u;
        return (int)(lo | (hi << 4)) - 32;
    }
    template <int B> static __device__ __forceinline__ void blk(const uint32_t (&u)[28], const pre &p, const mv1_x &x, float &acc) {
        constexpr int Q = 8 + 8 * (B / 4), SH = 2 * (B % 4);
        const int xv[8] = {x.a.x, x.a.y, x.a.z, x.a.w, x.c.x, x.c.y, x.c.z, x.c.w};
        int dot[2] = {0, 0};
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const uint32_t v = ((u[Q + j] >> SH) & 0x03030303u) | (((u[j] >> B) & 0x01010101u) << 2);
            dot[j >> 2] = __dp4a((int)((v + 0x7c7c7c7cu) ^ 0x80808080u), xv[j], dot[j >> 2]);
        }
        acc = fmaf(p.d * x.d, (float)(scale<2 * B>(u) * dot[0] + scale<2 * B + 1>(u) * dot[1]), acc);
    }
};

/* Q4_K and Q5_K: a super-block of 8 sub-blocks of 32, 6-bit scales and mins (12 bytes after d
 * and dmin); sub-block b is nibble b & 1 of qs[32 (b / 2) + l] (Q5_K: bit b of qh[l] is bit
 * 4). pre: the scale and min bytes of sub-blocks 0..3 (lo) and 4..7 (hi), and d, dmin. */
template <bool QH> struct mv1_k45 {
    static constexpr int NB = QH ? 176 : 144, QS = QH ? 48 : 16;
    struct pre {
        uint32_t sc[2], mn[2];
        float d, dmin;
    };
    static __device__ __forceinline__ void prep(const uint32_t (&u)[NB / 4], pre &p) {
        const uint32_t s0 = u[1], s1 = u[2], s2 = u[3];
        p.sc[0] = s0 & 0x3f3f3f3fu;
        p.mn[0] = s1 & 0x3f3f3f3fu;
        p.sc[1] = (s2 & 0x0f0f0f0fu) | ((s0 >> 2) & 0x30303030u);
        p.mn[1] = ((s2 >> 4) & 0x0f0f0f0fu) | ((s1 >> 2) & 0x30303030u);
        p.d = h2f(u[0] & 0xffffu);
        p.dmin = h2f(u[0] >> 16);
    }
    template <int B> static __device__ __forceinline__ void blk(const uint32_t (&u)[NB / 4], const pre &p, const mv1_x &x, float &acc) {
        constexpr int Q = QS / 4 + 8 * (B / 2);
        const int xv[8] = {x.a.x, x.a.y, x.a.z, x.a.w, x.c.x, x.c.y, x.c.z, x.c.w};
        int s = 0;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            uint32_t v = B & 1 ? (u[Q + j] >> 4) & 0x0f0f0f0fu : u[Q + j] & 0x0f0f0f0fu;
            if (QH) v |= (B < 4 ? u[4 + j] << (4 - B) : u[4 + j] >> (B - 4)) & 0x10101010u;
            s = __dp4a((int)v, xv[j], s);
        }
        const float sc = (float)((p.sc[B / 4] >> (8 * (B % 4))) & 0xffu);
        const float mn = (float)((p.mn[B / 4] >> (8 * (B % 4))) & 0xffu);
        acc = fmaf(p.d * sc, x.d * (float)s, fmaf(-p.dmin * mn, x.s, acc));
    }
};
template <> struct mv1<MLXN_TYPE_Q4_K> : mv1_k45<false> {};
template <> struct mv1<MLXN_TYPE_Q5_K> : mv1_k45<true> {};

/* Q6_K: 210-byte super-blocks, so a lane's group sits 2 bytes off a word boundary in every
 * other lane (NB is not a multiple of 16: mv1_kernel copies and reads it by words). Sub-block
 * b = 4h + u: element l of it has its low 4 bits in nibble u >> 1 of ql[64h + 32(u & 1) + l],
 * its high 2 in bits 2u of qh[32h + l], level q - 32 (a signed byte: (q + 96) ^ 128), and the
 * int8 scale scales[2b] for l < 16, scales[2b + 1] for l >= 16; d at byte 208. */
template <> struct mv1<MLXN_TYPE_Q6_K> {
    static constexpr int NB = 210;
    struct pre {
        float d;
    };
    static __device__ __forceinline__ void prep(const uint32_t (&u)[53], pre &p) { p.d = h2f(u[52] & 0xffffu); }
    template <int B> static __device__ __forceinline__ void blk(const uint32_t (&u)[53], const pre &p, const mv1_x &x, float &acc) {
        constexpr int H = B / 4, U = B % 4, QL = 16 * H + 8 * (U & 1), QH = 32 + 8 * H;
        const int xv[8] = {x.a.x, x.a.y, x.a.z, x.a.w, x.c.x, x.c.y, x.c.z, x.c.w};
        int dot[2] = {0, 0};
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const uint32_t lo = (u[QL + j] >> (4 * (U >> 1))) & 0x0f0f0f0fu;
            const uint32_t hi = U < 2 ? (u[QH + j] << (4 - 2 * U)) & 0x30303030u : (u[QH + j] >> (2 * U - 4)) & 0x30303030u;
            dot[j >> 2] = __dp4a((int)(((lo | hi) + 0x60606060u) ^ 0x80808080u), xv[j], dot[j >> 2]);
        }
        const uint32_t sc = u[48 + B / 2] >> (16 * (B & 1)); /* scales[2B], scales[2B + 1] */
        const int sa = (int)(int8_t)(sc & 0xffu), sb = (int)(int8_t)((sc >> 8) & 0xffu);
        acc = fmaf(p.d * x.d, (float)(sa * dot[0] + sb * dot[1]), acc);
    }
};

/* Formats whose levels come from a table (mv1_lut_dot) read X's blocks in pair order: bytes
 * x0, x16, x1, x17, ..., x15, x31. */
static constexpr bool mv1_il(mlxn_type t) { return t == MLXN_TYPE_IQ4_NL || t == MLXN_TYPE_IQ4_XS || t == MLXN_TYPE_MXFP4; }

/* The 8 elements v of X from k, rounded to int8 per 32 into xq (the workspace or a block's
 * shared memory; K + K / 4 bytes a row of X), laid out for the mat-vec's lanes: the levels of
 * group g (256 elements) at xq + 256 g, its 16-byte piece c at 16 (c ^ (g & 7)) so that lanes
 * reading consecutive groups hit distinct banks; the (d, s) of its block b at xd + 8 g + 2 ((b
 * / 2) ^ ((g / 2) & 3)) + b % 2. xd follows xq (K bytes): the mat-vec copies both from the
 * workspace as one run. A warp per group, a lane per 8 elements, four lanes a block; in pair
 * order (IL) lanes 0 and 2 of a block trade a word and interleave 4 + 4 elements, as do 1 and 3. */
template <bool IL> static __device__ __forceinline__ void mv1_round8(int kk, int k, const float (&v)[8], uint8_t *xq) {
    float2 *xd = reinterpret_cast<float2 *>(xq + kk);
    float s;
    int q[8];
    const float d = mvq_round<8, 4>(v, q, s);
    uint32_t w[2] = {0, 0};
#pragma unroll
    for (int j = 0; j < 8; j++) w[j / 4] |= (uint32_t)(q[j] & 0xff) << (8 * (j % 4));
    const int g = k >> 8, b = (k >> 5) & 7;
    int c = (k >> 4) & 15, h = (k >> 3) & 1; /* 16-byte piece of the group, its half */
    if (IL) { /* lane q of the block (elements 8q..8q+7) makes pair words 2p, 2p + 1, p = 2 (q & 1) + q / 2 */
        const bool first = (k & 16) == 0;
        const uint32_t t = __shfl_xor_sync(0xffffffffu, first ? w[1] : w[0], 2);
        const uint32_t lo = first ? w[0] : t, hi = first ? t : w[1];
        w[0] = __byte_perm(lo, hi, 0x5140), w[1] = __byte_perm(lo, hi, 0x7362);
        c = (c & 14) | h, h = (k >> 4) & 1;
    }
    *reinterpret_cast<uint2 *>(xq + 256 * g + 16 * (c ^ (g & 7)) + 8 * h) = make_uint2(w[0], w[1]);
    if ((k & 31) == 0) xd[8 * g + 2 * ((b >> 1) ^ ((g >> 1) & 3)) + (b & 1)] = make_float2(d, s);
}

/* K rounded up to whole groups: X's levels and scales past K are zeros. */
static __host__ __device__ __forceinline__ int mv1_kpad(int k) { return (k + 255) & ~255; }

/* X's 8 elements of row m from k: raw 16-byte pieces (one for 2-byte types, two for f32), and
 * widened to f32. */
template <typename TX> struct mv1_raw {
    uint4 r[sizeof(TX) / 2];
};
template <typename TX> static __device__ __forceinline__ void mv1_load8(const qmm_kp &p, int m, int k, mv1_raw<TX> &x) {
    const uint4 *src = reinterpret_cast<const uint4 *>(static_cast<const TX *>(p.x) + qmm_x_off(p, 0, m, k));
#pragma unroll
    for (int i = 0; i < (int)(sizeof(TX) / 2); i++) x.r[i] = __ldg(src + i);
}
template <typename TX> static __device__ __forceinline__ void mv1_widen8(const mv1_raw<TX> &x, float (&v)[8]) {
    const TX *h = reinterpret_cast<const TX *>(x.r);
#pragma unroll
    for (int j = 0; j < 8; j++) v[j] = mlxn_to_f32(h[j]);
}

template <typename TX, bool IL>
static __global__ void __launch_bounds__(32 * MV1_WARPS) mv1_quant_x_kernel(qmm_kp p, uint8_t *xq) {
    mlxn_pdl_trigger(); /* the mat-vec may launch and start its weight loads */
    mlxn_pdl_wait();    /* X, and the workspace the grid before may still read */
    const int k = 8 * (int)(blockIdx.x * blockDim.x + threadIdx.x), m = (int)blockIdx.y, kp = mv1_kpad(p.k);
    if ((k & ~255) >= kp) return; /* whole warps */
    float v[8] = {};
    if (k < p.k) {
        mv1_raw<TX> x;
        mv1_load8<TX>(p, m, k, x);
        mv1_widen8<TX>(x, v);
    }
    mv1_round8<IL>(kp, k, v, xq + (size_t)m * (kp + kp / 4));
}

/* The dot of one row's group g (levels u) with the MR rows of X (levels xq, scales xd; rows xs
 * bytes apart), into acc: its first nb blocks (8 but in a partial last group). */
template <mlxn_type T, int MR>
static __device__ __forceinline__ void mv1_group(const uint32_t (&u)[(mv1<T>::NB + 3) / 4], const uint8_t *xq, const float2 *xd, int xs,
                                                 int g, float (&acc)[MR], int nb = 8) {
    typedef mv1<T> F;
    typename F::pre pr;
    F::prep(u, pr);
    const int sw = g & 7, sw2 = (g >> 1) & 3;
#pragma unroll
    for (int b = 0; b < 8; b++) {
        if (b >= nb) break;
#pragma unroll
        for (int r = 0; r < MR; r++) {
            const uint8_t *xg = xq + r * xs + 256 * g;
            const float2 *dg = reinterpret_cast<const float2 *>(reinterpret_cast<const uint8_t *>(xd) + r * xs) + 8 * g;
            mv1_x x;
            x.a = *reinterpret_cast<const int4 *>(xg + 16 * ((2 * b) ^ sw));
            x.c = *reinterpret_cast<const int4 *>(xg + 16 * ((2 * b + 1) ^ sw));
            const float2 ds = dg[2 * ((b >> 1) ^ sw2) + (b & 1)];
            x.d = ds.x, x.s = ds.y;
            switch (b) { /* the block index as a template argument: constant offsets */
            case 0: F::template blk<0>(u, pr, x, acc[r]); break;
            case 1: F::template blk<1>(u, pr, x, acc[r]); break;
            case 2: F::template blk<2>(u, pr, x, acc[r]); break;
            case 3: F::template blk<3>(u, pr, x, acc[r]); break;
            case 4: F::template blk<4>(u, pr, x, acc[r]); break;
            case 5: F::template blk<5>(u, pr, x, acc[r]); break;
            case 6: F::template blk<6>(u, pr, x, acc[r]); break;
            default: F::template blk<7>(u, pr, x, acc[r]); break;
            }
        }
    }
}

/* X's MR rows rounded by the block into shared memory (xs, kp + kp / 4 bytes a row, kp = K
 * or K padded to whole groups), up to MV1_OWN_K: a thread's pieces of one k from every row are
 * loaded before any is rounded. */
#define MV1_OWN_K 4096
template <typename TX, int MR, bool IL>
static __device__ __forceinline__ void mv1_round_x(const qmm_kp &p, int kp, uint8_t *xs) {
    for (int k = 8 * (int)threadIdx.x; k < kp; k += 8 * 32 * MV1_WARPS) { /* whole warps: kp % 256 == 0 */
        mv1_raw<TX> x[MR];
#pragma unroll
        for (int m = 0; m < MR; m++)
            if ((MR == 1 || m < p.m) && k < p.k) mv1_load8<TX>(p, m, k, x[m]);
#pragma unroll
        for (int m = 0; m < MR; m++)
            if (MR == 1 || m < p.m) {
                float v[8] = {};
                if (k < p.k) mv1_widen8<TX>(x[m], v);
                mv1_round8<IL>(kp, k, v, xs + m * (kp + kp / 4));
            }
    }
}

/* X's MR rows into shared memory after the wait: rounded by this block (tx: X's type) where xg
 * is NULL, else the workspace's copy. */
template <int MR, bool IL>
static __device__ __forceinline__ void mv1_copy_x(const qmm_kp &p, int kp, mlxn_type tx, const uint8_t *xg, uint8_t *xs) {
    mlxn_pdl_wait();
    if (!xg) {
        if (tx == MLXN_TYPE_F32) mv1_round_x<float, MR, IL>(p, kp, xs);
        else if (tx == MLXN_TYPE_F16) mv1_round_x<__half, MR, IL>(p, kp, xs);
        else mv1_round_x<__nv_bfloat16, MR, IL>(p, kp, xs);
    } else {
        const int n16 = (MR == 1 ? 1 : p.m) * (kp + kp / 4) / 16;
        for (int i = threadIdx.x; i < n16; i += 32 * MV1_WARPS)
            reinterpret_cast<uint4 *>(xs)[i] = __ldcg(reinterpret_cast<const uint4 *>(xg) + i);
    }
    __syncthreads();
}

/* W through a per-warp ring of MV1_ST stages in shared memory by cp.async. A stage holds a
 * pass: the LPR groups g0 .. g0 + LPR - 1 of each row set's row (32 · NB bytes a warp); each
 * cp.async instruction of a row set's lanes reads contiguous bytes (whole sectors), and a lane
 * then reads its group's NB bytes back (conflict-free where NB / 16 is odd: every format but
 * Q4_1, whose 10 pieces pair lanes up two-way). The grid is what fits on the GPU at once; a
 * warp takes tiles (32 / LPR rows) blockIdx.x + grid · (warp + 8 i), so that every block gets
 * the same count to within one, and its ring runs on across tiles. LPR is a template argument:
 * copy offsets are constants.
 *
 * General rows (GEN): rows that are not 16-byte multiples, and K not a multiple of 256 in the
 * formats of 32-element blocks (the row's last group then holds fewer than 8 blocks). A pass's
 * bytes are copied as the 16-byte pieces that cover them from the one at or below their start,
 * so that a byte's address in shared memory is its global address mod 16: the read paths
 * below hold for K-quant rows of the format's alignment (mv1_row_align). The 32-element block
 * formats read words at any byte offset instead. Pieces past a row's end hold the next row's
 * bytes, but for the last row, whose piece across the end is copied a byte at a time. A
 * partial last group's blocks past the row's end are skipped. */
#define MV1_ST 2

/* Passes a row of G groups takes at LPR = 2^ll lanes a row. */
static __host__ __device__ __forceinline__ int mv1_passes(int G, int ll) { return (G + (1 << ll) - 1) >> ll; }

/* Formats of 32-element blocks: K need not be a multiple of 256 on general rows. */
static constexpr bool mv1_b32fmt(mlxn_type t) {
    return t == MLXN_TYPE_Q4_0 || t == MLXN_TYPE_Q4_1 || t == MLXN_TYPE_Q5_0 || t == MLXN_TYPE_Q5_1 || t == MLXN_TYPE_Q8_0 ||
           t == MLXN_TYPE_IQ4_NL || t == MLXN_TYPE_MXFP4;
}
/* The alignment a K-quant's read path needs of its groups, so of general rows. */
template <mlxn_type T> static constexpr int mv1_row_align() {
    return mv1<T>::NB % 16 == 0 ? 16 : mv1<T>::NB % 8 == 0 ? 8 : mv1<T>::NB % 4 == 0 ? 4 : 2;
}
/* Bytes of a row set's part of a stage: its pass's LPR groups, or on general rows the pieces
 * from the one below their start (up to 15 bytes before) and the word a read at any byte
 * offset takes past the last group. */
template <mlxn_type T, int LL, bool GEN> static __host__ __device__ constexpr int mv1_rsb() {
    return GEN ? ((mv1<T>::NB << LL) + 15 + 4 + 15) / 16 * 16 : mv1<T>::NB << LL;
}

template <mlxn_type T, int LL, int MR, bool GEN>
static __global__ void __launch_bounds__(32 * MV1_WARPS, MR > 2 ? 1 : 2) mv1_kernel(qmm_kp p, mlxn_type tx, const uint8_t *xw) {
    typedef mv1<T> F;
    constexpr bool ANY = GEN && mv1_b32fmt(T); /* groups at any byte offset, a partial last group */
    constexpr int NW = (F::NB + 3) / 4, LPR = 1 << LL, RS = 32 >> LL; /* words a group, lanes a row, row sets */
    constexpr int RSB = mv1_rsb<T, LL, GEN>(), SB = RS * RSB;             /* row set's bytes, stage bytes */
    constexpr int NP = GEN ? (RSB / 16 + LPR - 1) / LPR : (F::NB + 15) / 16; /* 16-byte pieces a lane copies a stage */
    extern __shared__ __align__(16) uint8_t smem[];
    mlxn_pdl_trigger(); /* the next grid may launch: it waits for this one before it reads or writes */
    const int kp = GEN ? mv1_kpad(p.k) : p.k;
    const uint8_t *xq = smem;
    const float2 *xd = reinterpret_cast<const float2 *>(smem + kp);
    const int xs = kp + kp / 4; /* bytes of one row of X */
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, sub = lane & (LPR - 1), rsi = lane >> LL;
    const int G = kp >> 8, passes = mv1_passes(G, LL);
    /* bytes of a row: whole groups, and on general rows the 32-element blocks of a last one */
    const int rowb = ANY ? (p.k >> 8) * F::NB + ((p.k & 255) >> 5) * (F::NB / 8) : G * F::NB;
    const int rbase = MR * xs + warp * (MV1_ST * SB) + rsi * RSB; /* this row set's part of stage 0 */
    uint8_t *ring = smem + rbase;
    const long long ntiles = (p.n + RS - 1) / RS, step = (long long)gridDim.x * MV1_WARPS;
    /* the copy cursor runs MV1_ST - 1 jobs (tile, pass) ahead of the compute cursor */
    long long itile = blockIdx.x + (long long)gridDim.x * warp;
    int ipass = 0, istage = 0;
    auto issue = [&]() {
        if (itile < ntiles) {
            const long long n = itile * RS + rsi, nn = n < p.n ? n : p.n - 1;
            uint8_t *dst = ring + istage * SB;
            if constexpr (GEN) {
                const uint8_t *row = p.w + nn * p.w_row, *st = row + ipass * (LPR * F::NB);
                const uint8_t *src = reinterpret_cast<const uint8_t *>((uintptr_t)st & ~(uintptr_t)15);
                const int a = (int)(st - src), end = (int)(row + rowb - src), lim = min(a + LPR * F::NB, end);
                const bool last = nn == p.n - 1;
                int tail = end; /* the last row's piece across its end: the buffer may end with the row */
#pragma unroll
                for (int c = 0; c < NP; c++) {
                    const int o = 16 * (sub + LPR * c);
                    if (o < lim) {
                        if (!last || o + 16 <= end) qmm_cp_async<16>(dst + o, src + o);
                        else tail = o;
                    }
                }
#pragma unroll 1
                for (; tail < end; tail++) dst[tail] = src[tail];
            } else {
                const int o = ipass * (LPR * F::NB) + 16 * sub;
                const uint8_t *src = p.w + nn * p.w_row + o;
                dst += 16 * sub;
#pragma unroll
                for (int c = 0; c < NP; c++)
                    if (o + 16 * LPR * c < rowb && (F::NB % 16 == 0 || 16 * sub + 16 * LPR * c < LPR * F::NB))
                        qmm_cp_async<16>(dst + 16 * LPR * c, src + 16 * LPR * c);
            }
            if (++ipass == passes) ipass = 0, itile += step;
        }
        qmm_cp_commit();
        istage = istage + 1 == MV1_ST ? 0 : istage + 1;
    };
    long long tile = itile;
#pragma unroll
    for (int j = 0; j < MV1_ST - 1; j++) issue();
    mv1_copy_x<MR, mv1_il(T)>(p, kp, tx, xw, smem);
    float acc[MR];
#pragma unroll
    for (int r = 0; r < MR; r++) acc[r] = 0.0f;
    int pass = 0, stage = 0;
    while (tile < ntiles) {
        issue();
        qmm_cp_wait<MV1_ST - 1>();
        __syncwarp();
        const int g = (pass << LL) + sub;
        if (g < G) {
            uint32_t u[NW];
            const uint8_t *src = ring + stage * SB + sub * F::NB;
            /* its offset in shared memory for the word reads at 2-byte offsets (an offset, not
             * an address: they stay shared-memory loads) */
            int off = rbase + stage * SB + sub * F::NB;
            if constexpr (GEN) { /* the pass's start mod 16 */
                const long long n = tile * RS + rsi, nn = n < p.n ? n : p.n - 1;
                const int a = (int)(((unsigned)nn * (unsigned)p.w_row + (unsigned)(pass * (LPR * F::NB))) & 15u);
                src += a, off += a;
            }
            if constexpr (ANY) { /* words from the boundary below, shifted by 0-24 bits */
                const uint32_t *w = reinterpret_cast<const uint32_t *>(smem + (off & ~3));
                const unsigned sh = 8 * ((unsigned)off & 3u);
                uint32_t prev = w[0];
#pragma unroll
                for (int i = 0; i < NW; i++) {
                    const uint32_t next = w[i + 1];
                    u[i] = __funnelshift_r(prev, next, sh);
                    prev = next;
                }
            } else if constexpr (F::NB % 16 == 0) {
#pragma unroll
                for (int c = 0; c < NW / 4; c++) {
                    const uint4 v = *reinterpret_cast<const uint4 *>(src + 16 * c);
                    u[4 * c] = v.x, u[4 * c + 1] = v.y, u[4 * c + 2] = v.z, u[4 * c + 3] = v.w;
                }
            } else if constexpr (F::NB % 8 == 0) {
#pragma unroll
                for (int c = 0; c < NW / 2; c++) {
                    const uint2 v = *reinterpret_cast<const uint2 *>(src + 8 * c);
                    u[2 * c] = v.x, u[2 * c + 1] = v.y;
                }
            } else if constexpr (F::NB % 4 == 0) {
#pragma unroll
                for (int c = 0; c < NW; c++) u[c] = reinterpret_cast<const uint32_t *>(src)[c];
            } else { /* 2-byte aligned: words from the boundary below, shifted by 0 or 16 bits */
                static_assert(F::NB % 4 == 2, "the last word holds two bytes of the group");
                const uint32_t *w = reinterpret_cast<const uint32_t *>(smem + (off & ~3));
                const unsigned sh = 8 * ((unsigned)off & 3u);
                uint32_t prev = w[0];
#pragma unroll
                for (int i = 0; i < NW - 1; i++) {
                    const uint32_t next = w[i + 1];
                    u[i] = __funnelshift_r(prev, next, sh);
                    prev = next;
                }
                /* the last word without the one after it: past the stage's last group lies
                 * the next stage, whose copies may be in flight (racecheck) */
                u[NW - 1] = prev >> sh;
            }
            if constexpr (ANY) mv1_group<T, MR>(u, xq, xd, xs, g, acc, min(8, (p.k >> 5) - 8 * g)); /* blocks in the row */
            else mv1_group<T, MR>(u, xq, xd, xs, g, acc);
        }
        __syncwarp(); /* the stage is read before a later issue overwrites it */
        stage = stage + 1 == MV1_ST ? 0 : stage + 1;
        if (++pass == passes) { /* the tile's last pass: its row sets' sums */
            const long long n = tile * RS + rsi;
#pragma unroll
            for (int r = 0; r < MR; r++) {
                float v = acc[r];
#pragma unroll
                for (int o = LPR >> 1; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
                if (sub == 0 && n < p.n && (MR == 1 || r < p.m)) qmm_store(p, 0, 0, r, (int)n, v);
                acc[r] = 0.0f;
            }
            pass = 0, tile += step;
        }
    }
    qmm_cp_wait<0>();
}

/* X rounded into s's workspace by the pre-pass (kp + kp / 4 bytes a row), into *xw. */
template <bool IL> static mlxn_status mv1_prepass(cuda_stream *s, const qmm_launch &l, const uint8_t **xw) {
    const qmm_kp &p = *l.p;
    const int kp = mv1_kpad(p.k);
    void *ws;
    if (mlxn_status e = mlxn_cuda_workspace(s, (size_t)p.m * (kp + kp / 4), &ws); e != MLXN_OK) return e;
    *xw = static_cast<const uint8_t *>(ws);
    return mlxn_dispatch_float(l.tx, [&](auto tx) {
        const dim3 grid((unsigned)(kp / 256 + MV1_WARPS - 1) / MV1_WARPS, (unsigned)p.m);
        return mlxn_cuda_launch(l.s, mv1_quant_x_kernel<decltype(tx), IL>, grid, dim3(32 * MV1_WARPS), 0, 1, mlxn_cuda_sm90(l.dev), p,
                                static_cast<uint8_t *>(ws));
    });
}

/* Formats the int8 tensor-core mat-vec (qmatmul_mv_mma.cuh) takes at M = 3 and 4, where it is
 * ahead of four rows of X here on two blocks an SM (mv1_go). */
static constexpr bool mv1_qmi(mlxn_type t) {
    return t == MLXN_TYPE_Q8_0 || t == MLXN_TYPE_Q4_K || t == MLXN_TYPE_Q5_K || t == MLXN_TYPE_Q6_K;
}

template <mlxn_type T, int LL, int MR, bool GEN> static mlxn_status mv1_go(cuda_stream *s, const qmm_launch &l) {
    const qmm_kp &p = *l.p;
    const int kp = mv1_kpad(p.k);
    const long long tiles = (p.n + (32 >> LL) - 1) / (32 >> LL);
    const int smem = MR * (kp + kp / 4) + MV1_WARPS * MV1_ST * (32 >> LL) * mv1_rsb<T, LL, GEN>();
    auto k = mv1_kernel<T, LL, MR, GEN>;
    if (mlxn_status st = mlxn_cuda_set_smem(k, (size_t)smem, l.dev, "qmatmul"); st != MLXN_OK) return st; /* X's rows at long K */
    int bps = 0;
    MLXN_CUDA_TRY(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&bps, k, 32 * MV1_WARPS, smem));
    if (bps < 1) return MLXN_ERR_UNSUPPORTED;
    /* One block an SM where at full occupancy a warp would get fewer than two jobs (tile
     * passes). H100, same run, µs: 4096² Q4_0 5.39 -> 5.10, Q6_K 8.29 -> 7.11, IQ4_NL 7.33 ->
     * 6.48; where warps get more jobs one block an SM loses (14336×4096 1-3%, 4096×14336 16-63%). */
    const long long jobs = tiles * mv1_passes(kp >> 8, LL);
    const int fit = bps; /* blocks an SM that registers and shared memory allow */
    if (bps > 1 && jobs < 2LL * bps * l.dev->prop.multiProcessorCount * MV1_WARPS) bps = 1;
    /* Four rows of X on two blocks an SM (14336×4096, H100, same run): Q4_K took 1.12× the int8
     * tensor-core kernel's time (IQ4_NL 0.81); the caller takes that kernel. The formats it does
     * not take stay: their next kernel, the bf16 mat-vec, took twice the time here (H200, M = 4:
     * IQ4_XS 33.1 against 17.0 µs, Q5_0 43.2 against 19.4). */
    if (MR > 2 && bps > 1 && mv1_qmi(T)) return MLXN_ERR_UNSUPPORTED;
    const long long cap = (long long)bps * l.dev->prop.multiProcessorCount, need = (tiles + MV1_WARPS - 1) / MV1_WARPS;
    /* Up to MV1_OWN_K each block rounds X itself after its wait; more than one row only on a full
     * grid of one block an SM, and four only where two would fit. H100, same run, µs: M = 1
     * 4096² Q4_0 6.19 -> 5.44 (the pre-pass's grid boundary costs more than a block's rounding),
     * but 4096×14336 13.67 -> 16.40; own against pre-pass at M = 2: 4096² Q4_0 6.27 / 7.72,
     * IQ4_NL 7.5 / 9.96, Q8_0 8.5 / 9.2, but 14336×4096 Q4_0 14.6 / 14.2, 1024×4096 (64 blocks)
     * Q4_0 4.8 / 4.6, IQ4_NL 6.0 / 4.45; at M = 4 on 4096²: Q4_K 9.5 / 11.2, IQ4_NL 9.7 / 11.3,
     * but where one block fits, Q5_K 10.1 / 8.8, Q8_0 11.0 / 10.1 (and 14336×4096 26.1 / 24.4). */
    const uint8_t *xw = nullptr;
    if (kp > MV1_OWN_K || (MR > 1 && (bps > 1 || need < cap || (MR > 2 && fit == 1))))
        if (mlxn_status st = mv1_prepass<mv1_il(T)>(s, l, &xw); st != MLXN_OK) return st;
    /* A grid of one block an SM where two would fit asks for more than half an SM's shared
     * memory: no block of the next call (a dependent launch) then lands on an SM this call
     * still holds, so a grid of fewer blocks than SMs leaves the idle SMs to the next call's
     * weight loads. H200, same run, µs: 1024×4096 M = 1 Q4_0 3.03 -> 2.66, IQ4_NL 3.95 -> 3.10,
     * Q6_K 3.75 -> 3.31; M = 4 IQ4_NL 5.87 -> 4.46, Q4_K 6.23 -> 4.59; 768×2048 M = 2 Q4_0 3.68
     * -> 3.14; full grids (4096², 14336×4096, 4096×14336) within 1%. */
    size_t sm = (size_t)smem;
    if (bps == 1 && fit > 1) {
        sm = mlxn_cuda_smem_alone(l.dev, sm);
        if (mlxn_status st = mlxn_cuda_set_smem(k, sm, l.dev, "qmatmul"); st != MLXN_OK) return st;
    }
    return mlxn_cuda_launch(l.s, k, dim3((unsigned)(need < cap ? need : cap)), dim3(32 * MV1_WARPS), sm, 1,
                            mlxn_cuda_sm90(l.dev), p, l.tx, xw);
}

/* LPR = 2^lpr_log lanes a row. Rows of 16-byte multiples (qmm_mv1_launch) make a pass's run
 * (LPR groups) one too: other LPR are not instantiated but on general rows. */
template <mlxn_type T, int LL, int MR, bool GEN> static mlxn_status mv1_go_ll(cuda_stream *s, const qmm_launch &l) {
    if constexpr (GEN || (mv1<T>::NB << LL) % 16 == 0) return mv1_go<T, LL, MR, GEN>(s, l);
    return MLXN_ERR_UNSUPPORTED;
}
template <mlxn_type T, int MR, bool GEN> static mlxn_status mv1_lpr(cuda_stream *s, const qmm_launch &l, int lpr_log) {
    switch (lpr_log) {
    case 0: return mv1_go_ll<T, 0, MR, GEN>(s, l);
    case 1: return mv1_go_ll<T, 1, MR, GEN>(s, l);
    case 2: return mv1_go_ll<T, 2, MR, GEN>(s, l);
    case 3: return mv1_go_ll<T, 3, MR, GEN>(s, l);
    case 4: return mv1_go_ll<T, 4, MR, GEN>(s, l);
    default: return mv1_go_ll<T, 5, MR, GEN>(s, l);
    }
}
/* The largest M a format takes here. Q6_K against the int8 and half-X tensor-core kernels,
 * H100, same run: at M = 2 (MR 2, 128 registers) 4096² 11.3 -> 8.8 µs, 4096×14336 25.9 -> 22.2,
 * 1024×4096 7.7 -> 5.0, 768×2048 6.7 -> 4.4, 14336×4096 20.5 -> 20.7; at M = 3-4 (MR 4,
 * 152-161 registers, no spills) 4096² 0.85, 4096×14336 0.91-0.92, 1024×4096 0.71-0.72, 768×2048
 * 0.65-0.69, general rows 0.39-0.74 (5120², 13824×5120, 5120×13824, 2048×768), 128256×4096 1.0,
 * 14336×4096 1.03. The other formats at M = 3 and 4 (MR 4) against the int8 tensor-core kernel,
 * H100, same run, time ratio over 4096², 14336×4096, 4096×14336, 1024×4096 and 768×2048:
 * IQ4_NL 0.81-0.93, Q8_0 0.75-0.91 (14336×4096 1.03-1.07), Q5_K 0.64-0.96 (14336×4096
 * 1.03-1.07), Q4_K 0.86-1.0 (on two blocks an SM: see mv1_go); Q4_0 0.93-1.12 and Q4_1 0.96-1.26 stay there from M = 3. Q5_0, Q5_1, Q2_K, Q3_K,
 * IQ4_XS and MXFP4 against the bf16 tensor-core mat-vec (qmatmul_mv.cu), same shapes, M = 1 / 2 /
 * 3-4: 0.29-0.65 / 0.32-0.93 / 0.29-0.96 (1.0 where MR 4 declines), but on 768×2048 (24
 * blocks, a pre-pass at M > 1) IQ4_XS at M 2-4, Q5_0 at M 3-4 and Q5_1 at M 4 take 1.03-1.25×. */
static constexpr int mv1_max_m(mlxn_type t) {
    return t == MLXN_TYPE_Q4_0 || t == MLXN_TYPE_Q4_1 ? 2 : 4;
}
/* LPR = 2^ll lanes a row, among the instantiated: the most lanes busy with a group (G groups
 * in passes of LPR), times the share of the GPU's warps the grid's tiles can hold where they are
 * fewer. Ties go to the ll nearest the smallest LPR that covers a row (one pass, ll0); at least
 * 4 lanes a row where ll0 has them. H100, same run, time against ll0's at M = 1, 2, 4: Q3_K
 * 13824×5120 / 152064×5120 (8 / 4 lanes) 0.71-0.92 / 0.56-0.84, Q6_K 152064×5120 (M <= 2)
 * 0.90-0.96, 4096×12288 (16 lanes; Q4_0, Q4_K, Q6_K, Q8_0) 0.84-1.01, 8192×28672 (16)
 * 0.91-1.01, 4096×14336 at M = 4 (8 lanes on one block an SM; IQ4_NL, Q4_K, Q5_K) 0.84-0.90;
 * a lane a row (262144×640; Q4_0, Q5_0, Q8_0 at M = 4) 1.20-1.24. */
template <mlxn_type T, bool GEN> static int mv1_pick_ll(const qmm_launch &l, int mr) {
    const qmm_kp &p = *l.p;
    const int G = mv1_kpad(p.k) >> 8;
    int ll0 = 0;
    while (ll0 < 5 && (1 << ll0) < G) ll0++;
    const double warps = (double)l.dev->prop.multiProcessorCount * MV1_WARPS * (mr > 2 ? 1 : 2);
    int best = ll0;
    double bs = -1.0;
    for (int ll = ll0 < 2 ? ll0 : 2; ll <= 5; ll++) {
        if (!GEN && (mv1<T>::NB << ll) % 16) continue;
        const double busy = (double)G / (double)(mv1_passes(G, ll) << ll), tiles = (double)((p.n + (32 >> ll) - 1) >> (5 - ll));
        const double sc = busy * (tiles < warps ? tiles / warps : 1.0);
        const int d = ll > ll0 ? ll - ll0 : ll0 - ll, db = best > ll0 ? best - ll0 : ll0 - best;
        if (sc > bs * 1.0001 || (sc >= bs * 0.9999 && d < db)) bs = sc, best = ll;
    }
    return best;
}
template <mlxn_type T, bool GEN> static mlxn_status mv1_mr(cuda_stream *s, const qmm_launch &l) {
    const int lpr_log = mv1_pick_ll<T, GEN>(l, l.p->m > 2 ? 4 : l.p->m);
    if constexpr (mv1_max_m(T) >= 4)
        if (l.p->m > 2) return mv1_lpr<T, 4, GEN>(s, l, lpr_log);
    if constexpr (mv1_max_m(T) >= 2)
        if (l.p->m == 2) return mv1_lpr<T, 2, GEN>(s, l, lpr_log);
    return mv1_lpr<T, 1, GEN>(s, l, lpr_log);
}
/* General rows (mv1_kernel): K not a multiple of 256 in the 32-element block formats, and K-quant
 * rows aligned as their read paths need. Q4_K's and Q5_K's rows are 16-byte multiples. */
template <mlxn_type T> static mlxn_status mv1_fmt(cuda_stream *s, const qmm_launch &l) {
    const qmm_kp &p = *l.p;
    if (p.k % 256 == 0 && p.w_row % 16 == 0) return mv1_mr<T, false>(s, l);
    /* Rows of fewer than four groups (K < 1024) in the formats the dp4a mat-vec takes, against
     * it (H100, same run, time ratio over 192-49152 × 576 and 1024-262144 × 640): M = 1 0.80-0.95,
     * but Q4_1 and Q8_0 at N >= 49152 1.07-1.16 (Q4_0 0.88); M = 2 1.05-1.27 (49152 × 576 Q4_0 /
     * Q4_1 0.86 / 0.96); M = 4 (Q8_0) 0.76-0.96. From K 2880 on the ratio is 0.57-0.89. */
    if constexpr (T == MLXN_TYPE_Q4_0 || T == MLXN_TYPE_Q4_1 || T == MLXN_TYPE_Q8_0 || T == MLXN_TYPE_IQ4_NL)
        if (p.k < 1024 && (p.m == 2 || (p.m == 1 && p.n >= 32768 && T != MLXN_TYPE_Q4_0))) return MLXN_ERR_UNSUPPORTED;
    if constexpr (mv1_b32fmt(T)) return mv1_mr<T, true>(s, l);
    if constexpr (T != MLXN_TYPE_Q4_K && T != MLXN_TYPE_Q5_K)
        if (p.k % 256 == 0 && p.w_row % mv1_row_align<T>() == 0) return mv1_mr<T, true>(s, l);
    return MLXN_ERR_UNSUPPORTED;
}

mlxn_status qmm_mv1_launch(cuda_stream *s, const qmm_launch &l) {
    const qmm_kp &p = *l.p;
    if (p.m > mv1_max_m(l.tw) || l.batch != 1 || p.batch != 1 || p.k <= 0 || mv1_kpad(p.k) > 32768 || (uintptr_t)p.w % 16)
        return MLXN_ERR_UNSUPPORTED;
    mlxn_status (*run)(cuda_stream *, const qmm_launch &);
    switch (l.tw) {
    case MLXN_TYPE_Q4_0: run = mv1_fmt<MLXN_TYPE_Q4_0>; break;
    case MLXN_TYPE_Q4_1: run = mv1_fmt<MLXN_TYPE_Q4_1>; break;
    case MLXN_TYPE_Q8_0: run = mv1_fmt<MLXN_TYPE_Q8_0>; break;
    case MLXN_TYPE_IQ4_NL: run = mv1_fmt<MLXN_TYPE_IQ4_NL>; break;
    case MLXN_TYPE_Q4_K: run = mv1_fmt<MLXN_TYPE_Q4_K>; break;
    case MLXN_TYPE_Q5_K: run = mv1_fmt<MLXN_TYPE_Q5_K>; break;
    case MLXN_TYPE_Q6_K: run = mv1_fmt<MLXN_TYPE_Q6_K>; break;
    case MLXN_TYPE_Q5_0: run = mv1_fmt<MLXN_TYPE_Q5_0>; break;
    case MLXN_TYPE_Q5_1: run = mv1_fmt<MLXN_TYPE_Q5_1>; break;
    case MLXN_TYPE_IQ4_XS: run = mv1_fmt<MLXN_TYPE_IQ4_XS>; break;
    case MLXN_TYPE_MXFP4: run = mv1_fmt<MLXN_TYPE_MXFP4>; break;
    case MLXN_TYPE_Q2_K: run = mv1_fmt<MLXN_TYPE_Q2_K>; break;
    case MLXN_TYPE_Q3_K: run = mv1_fmt<MLXN_TYPE_Q3_K>; break;
    default: return MLXN_ERR_UNSUPPORTED;
    }
    /* X in 16-byte pieces of 8 elements, each inside one row and head */
    const long long xes = l.tx == MLXN_TYPE_F32 ? 4 : 2;
    if ((uintptr_t)p.x % 16 || (p.m > 1 && (p.x_row * xes) % 16) || (p.x_hs && (p.x_hd % 8 || (p.x_hs * xes) % 16)))
        return MLXN_ERR_UNSUPPORTED;
    return run(s, l);
}
