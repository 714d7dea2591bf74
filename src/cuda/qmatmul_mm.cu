/* CUDA mat-mat (M > 16). Two kernels:
 * - sm_90a (qmatmul_mm_wgmma.cuh): wgmma with a TMA producer, for BF16 weights and every
 *   format but F32 (dequantized into the A fragments), where W is 16-byte aligned, its rows
 *   and batches 16-byte multiples (or, in formats whose blocks are not, of even length: the
 *   producer threads copy them) and K a multiple of 64. A prepared copy (mlxn_qmatmul_prepare: 2·N·K
 *   bytes, 3.6× a Q4_0 weight, 1.9× a Q8_0) runs as BF16 weights: 0.88-0.99 of cuBLASLt
 *   on H100 where dequantizing in the kernel reaches 0.63-0.87 (NOTES_matmat.md).
 * - everything else, and every format on other GPUs: a 128 (W rows) × 128 (X rows) tile per
 *   block of 8 warps, K in steps of 32. X (dense bf16 rows) arrives by cp.async, three steps
 *   in flight; W is dequantized by the block itself (the reference dequantization, rounded to
 *   bf16) into a bf16 tile from raw chunks of W that cp.async stages two deep. Fragments by
 *   ldmatrix, mma.sync m16n8k16 bf16 with f32 accumulators; a warp owns 64 × 32. */
#include <string.h>

#include "cuda/qmatmul_mm_wgmma.cuh"

#define LDS 40 /* bf16 per shared row: 32 + 8 of padding, so ldmatrix's 8 rows hit distinct banks */
#define XSTAGES 3

static __device__ __forceinline__ void ldsm4(uint32_t (&r)[4], const void *p) {
    const unsigned a = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

/* 16 bytes global -> shared, or zeros when !valid (rows past M). */
static __device__ __forceinline__ void cp16z(void *smem, const void *gmem, bool valid) {
    const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(valid ? 16 : 0));
}

/* The raw chunk of W staged per pipeline step group: CB blocks of QK elements (BB bytes),
 * a multiple of 4 bytes; float weights 32 elements. */
template <mlxn_type T> struct mm_chunk { static constexpr int QK = 32, BB = 0, CB = 1; };
template <> struct mm_chunk<MLXN_TYPE_F32> { static constexpr int QK = 32, BB = 128, CB = 1; };
template <> struct mm_chunk<MLXN_TYPE_F16> { static constexpr int QK = 32, BB = 64, CB = 2; };
template <> struct mm_chunk<MLXN_TYPE_BF16> { static constexpr int QK = 32, BB = 64, CB = 2; };
template <> struct mm_chunk<MLXN_TYPE_Q4_0> { static constexpr int QK = 32, BB = 18, CB = 8; };
template <> struct mm_chunk<MLXN_TYPE_Q4_1> { static constexpr int QK = 32, BB = 20, CB = 8; };
template <> struct mm_chunk<MLXN_TYPE_Q5_0> { static constexpr int QK = 32, BB = 22, CB = 8; };
template <> struct mm_chunk<MLXN_TYPE_Q5_1> { static constexpr int QK = 32, BB = 24, CB = 8; };
template <> struct mm_chunk<MLXN_TYPE_Q8_0> { static constexpr int QK = 32, BB = 34, CB = 4; };
template <> struct mm_chunk<MLXN_TYPE_IQ4_NL> { static constexpr int QK = 32, BB = 18, CB = 8; };
template <> struct mm_chunk<MLXN_TYPE_MXFP4> { static constexpr int QK = 32, BB = 17, CB = 4; };
template <> struct mm_chunk<MLXN_TYPE_Q2_K> { static constexpr int QK = 256, BB = 84, CB = 1; };
template <> struct mm_chunk<MLXN_TYPE_Q3_K> { static constexpr int QK = 256, BB = 110, CB = 2; };
template <> struct mm_chunk<MLXN_TYPE_Q4_K> { static constexpr int QK = 256, BB = 144, CB = 1; };
template <> struct mm_chunk<MLXN_TYPE_Q5_K> { static constexpr int QK = 256, BB = 176, CB = 1; };
template <> struct mm_chunk<MLXN_TYPE_Q6_K> { static constexpr int QK = 256, BB = 210, CB = 2; };
template <> struct mm_chunk<MLXN_TYPE_IQ4_XS> { static constexpr int QK = 256, BB = 136, CB = 1; };

template <mlxn_type T> struct mm_geom {
    typedef mm_chunk<T> C;
    static constexpr int KC = C::QK * C::CB;           /* elements per raw chunk */
    static constexpr int S = KC / QMM_MM_BK;           /* pipeline steps per raw chunk */
    static constexpr int RSTRIDE = (C::BB * C::CB + 15) / 16 * 16;
    static constexpr int RAW = QMM_MM_BN * RSTRIDE;    /* bytes of one raw stage */
    static constexpr int SMEM = 2 * RAW + (XSTAGES * QMM_MM_BM + 2 * QMM_MM_BN) * LDS * 2;
};

/* Steps s of K (32 each), one cp.async group per step (X(s), and W's raw chunk when step s
 * starts one). At the top of step s, X(s) has landed and W(s) is in the bf16 tile
 * wt[s & 1]; the block issues the copies of step s + 2, runs the mmas of step s and
 * dequantizes W(s + 1) into the other tile meanwhile. */
template <mlxn_type T> static __global__ void __launch_bounds__(256) qmm_mm_kernel(qmm_kp p, int splits, int G) {
    typedef mm_geom<T> GE;
    typedef mm_chunk<T> CH;
    extern __shared__ __align__(16) uint8_t smem[];
    uint8_t *raw = smem;                                                           /* [2][BN][RSTRIDE] */
    __nv_bfloat16 *xt = reinterpret_cast<__nv_bfloat16 *>(smem + 2 * GE::RAW);    /* [XSTAGES][BM][LDS] */
    __nv_bfloat16 *wt = xt + XSTAGES * QMM_MM_BM * LDS;                           /* [2][BN][LDS] */
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int wn = (warp & 1) * 64, wm = (warp >> 1) * 32; /* the warp's 64 W rows × 32 X rows */
    const int n0 = blockIdx.x * QMM_MM_BN, m0 = blockIdx.y * QMM_MM_BM;
    const int b = blockIdx.z / splits, split = blockIdx.z % splits;
    const int k0 = split * p.k_split, k1 = min(p.k, k0 + p.k_split), steps = (k1 - k0) / QMM_MM_BK;
    const int wrows = p.n - n0 < QMM_MM_BN ? p.n - n0 : QMM_MM_BN;
    const uint8_t *wb = p.w + b * p.w_batch + (long long)n0 * p.w_row;
    const __nv_bfloat16 *xb = static_cast<const __nv_bfloat16 *>(p.x) + (long long)b * p.x_batch;

    /* the copies of step s: X(s), and W's raw chunk when step s starts one */
    auto issue = [&](int s) {
        if (s < steps) {
            __nv_bfloat16 *dst = xt + (s % XSTAGES) * QMM_MM_BM * LDS;
#pragma unroll
            for (int j = 0; j < 2; j++) {
                const int i = threadIdx.x + 256 * j, r = i >> 2, c = (i & 3) * 8;
                const bool ok = m0 + r < p.m;
                cp16z(dst + r * LDS + c, xb + (long long)(ok ? m0 + r : 0) * p.x_row + k0 + s * QMM_MM_BK + c, ok);
            }
            if (s % GE::S == 0) {
                const int kc = k0 + s * QMM_MM_BK;                    /* first element of the chunk */
                const int nel = k1 - kc < GE::KC ? k1 - kc : GE::KC;  /* a multiple of QK */
                const int bytes = nel / CH::QK * CH::BB, per_row = bytes / G;
                uint8_t *rd = raw + ((s / GE::S) & 1) * GE::RAW;
                const uint8_t *src = wb + (long long)(kc / CH::QK) * CH::BB;
                for (int i = threadIdx.x; i < wrows * per_row; i += 256) {
                    const int r = i / per_row, o = (i - r * per_row) * G;
                    if (G == 16) qmm_cp_async<16>(rd + r * GE::RSTRIDE + o, src + r * p.w_row + o);
                    else if (G == 8) qmm_cp_async<8>(rd + r * GE::RSTRIDE + o, src + r * p.w_row + o);
                    else qmm_cp_async<4>(rd + r * GE::RSTRIDE + o, src + r * p.w_row + o);
                }
            }
        }
        qmm_cp_commit();
    };

    float acc[4][4][4];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.0f;

    /* W(s) into the bf16 tile wt[s & 1]: row r, elements 16h .. 16h+15 of the step */
    const int r = threadIdx.x >> 1, h = threadIdx.x & 1;
    auto decode = [&](int s) {
        const uint8_t *row = raw + ((s / GE::S) & 1) * GE::RAW + r * GE::RSTRIDE;
        const int c8 = ((s % GE::S) * QMM_MM_BK + 16 * h) / 8;
        uint4 *d = reinterpret_cast<uint4 *>(wt + (s & 1) * QMM_MM_BN * LDS + r * LDS + 16 * h);
        if constexpr (T == MLXN_TYPE_BF16) { /* prepared weights: already the tile's type */
            d[0] = reinterpret_cast<const uint4 *>(row)[c8]; /* 8 bf16 per 16 bytes */
            d[1] = reinterpret_cast<const uint4 *>(row)[c8 + 1];
            return;
        }
        float a[8], c[8];
        qmm_row<T>::load8(row, c8, a);
        qmm_row<T>::load8(row, c8 + 1, c);
        uint4 lo, hi;
        lo.x = qmm_bf2(a[0], a[1]), lo.y = qmm_bf2(a[2], a[3]), lo.z = qmm_bf2(a[4], a[5]), lo.w = qmm_bf2(a[6], a[7]);
        hi.x = qmm_bf2(c[0], c[1]), hi.y = qmm_bf2(c[2], c[3]), hi.z = qmm_bf2(c[4], c[5]), hi.w = qmm_bf2(c[6], c[7]);
        d[0] = lo;
        d[1] = hi;
    };
    issue(0);
    issue(1);
    qmm_cp_wait<1>();
    __syncthreads();
    if (steps > 0) decode(0);
    for (int s = 0; s < steps; s++) {
        qmm_cp_wait<1>(); /* X(s) */
        __syncthreads();  /* and everyone's copies and W(s) visible; step s - 1's reads done */
        issue(s + 2);
        const __nv_bfloat16 *xs = xt + (s % XSTAGES) * QMM_MM_BM * LDS, *ws = wt + (s & 1) * QMM_MM_BN * LDS;
#pragma unroll
        for (int kk = 0; kk < QMM_MM_BK; kk += 16) {
            uint32_t a[4][4], bx[2][4];
#pragma unroll
            for (int i = 0; i < 4; i++)
                ldsm4(a[i], ws + (wn + 16 * i + (lane & 7) + ((lane >> 3) & 1) * 8) * LDS + kk + (lane >> 4) * 8);
#pragma unroll
            for (int j = 0; j < 2; j++)
                ldsm4(bx[j], xs + (wm + 16 * j + (lane & 7) + (lane >> 4) * 8) * LDS + kk + ((lane >> 3) & 1) * 8);
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++)
                    qmm_mma(acc[i][j], a[i][0], a[i][1], a[i][2], a[i][3], bx[j >> 1][2 * (j & 1)], bx[j >> 1][2 * (j & 1) + 1]);
        }
        /* W(s + 1) while the tensor cores work; a new raw chunk (group s + 1) is waited for
         * and made visible first */
        if (s + 1 < steps) {
            if ((s + 1) % GE::S == 0) {
                qmm_cp_wait<1>();
                __syncthreads();
            }
            decode(s + 1);
        }
    }
    qmm_cp_wait<0>();
    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int n = n0 + wn + 16 * i + g + 8 * (e >> 1), m = m0 + wm + 8 * j + 2 * t + (e & 1);
                if (n < p.n && m < p.m) qmm_store(p, split, b, m, n, acc[i][j][e]);
            }
}

template <mlxn_type T> static mlxn_status mm_go(const qmm_launch &l, int splits) {
    typedef mm_geom<T> GE;
    const qmm_kp &p = *l.p;
    const long long align = (long long)((uintptr_t)p.w | (uintptr_t)p.w_row | (uintptr_t)p.w_batch |
                                        (uintptr_t)(mm_chunk<T>::CB * mm_chunk<T>::BB));
    const int G = align % 16 == 0 ? 16 : align % 8 == 0 ? 8 : align % 4 == 0 ? 4 : 0;
    if (!G) return MLXN_ERR_UNSUPPORTED;
    dim3 grid((unsigned)((p.n + QMM_MM_BN - 1) / QMM_MM_BN), (unsigned)((p.m + QMM_MM_BM - 1) / QMM_MM_BM),
              (unsigned)(l.batch * splits));
    if (grid.y > 65535 || grid.z > 65535) return MLXN_ERR_UNSUPPORTED;
    if (mlxn_status st = mlxn_cuda_set_smem(qmm_mm_kernel<T>, GE::SMEM, l.dev, "qmatmul"); st != MLXN_OK) return st;
    qmm_mm_kernel<T><<<grid, 256, GE::SMEM, l.s>>>(p, splits, G);
    MLXN_CUDA_CHECK_LAUNCH();
    return MLXN_OK;
}

#define QMM_MM_TYPES(X)                                                                                                   \
    X(MLXN_TYPE_F32) X(MLXN_TYPE_F16) X(MLXN_TYPE_BF16) X(MLXN_TYPE_Q4_0) X(MLXN_TYPE_Q4_1) X(MLXN_TYPE_Q5_0)              \
        X(MLXN_TYPE_Q5_1) X(MLXN_TYPE_Q8_0) X(MLXN_TYPE_Q2_K) X(MLXN_TYPE_Q3_K) X(MLXN_TYPE_Q4_K) X(MLXN_TYPE_Q5_K)       \
            X(MLXN_TYPE_Q6_K) X(MLXN_TYPE_IQ4_NL) X(MLXN_TYPE_IQ4_XS) X(MLXN_TYPE_MXFP4)

/* The K granularity of a split: whole raw chunks of the mma.sync kernel and whole stages of
 * the wgmma kernel (at most 256 elements; a split ending inside a stage would read the next
 * split's elements too). */
int qmm_mm_chunk(mlxn_type t) {
    switch (t) {
#define QMM_CK(T) \
    case T: return mm_geom<T>::KC > 256 ? mm_geom<T>::KC : 256;
        QMM_MM_TYPES(QMM_CK)
#undef QMM_CK
    default: return 0;
    }
}

/* ── the wgmma path ── */

#define QMW_TYPES(X)                                                                                                      \
    X(MLXN_TYPE_F16) X(MLXN_TYPE_BF16) X(MLXN_TYPE_Q4_0) X(MLXN_TYPE_Q4_1) X(MLXN_TYPE_Q5_0) X(MLXN_TYPE_Q5_1)               \
        X(MLXN_TYPE_Q8_0) X(MLXN_TYPE_Q2_K) X(MLXN_TYPE_Q3_K) X(MLXN_TYPE_Q4_K) X(MLXN_TYPE_Q5_K) X(MLXN_TYPE_Q6_K)       \
            X(MLXN_TYPE_IQ4_NL) X(MLXN_TYPE_IQ4_XS) X(MLXN_TYPE_MXFP4)

static bool qmw_format(mlxn_type t) {
    switch (t) {
#define QMW_OK(T) case T:
        QMW_TYPES(QMW_OK)
#undef QMW_OK
        return true;
    default: return false;
    }
}

/* For formats whose rows the kernel also stages when they are not 16-byte multiples
 * (qmw_gen_copy), what the row and batch strides must be a multiple of (qmw_cfg::GRA; even
 * rows also put rows g and g + 8 of a warp at the same offset mod 16); 0 for the others. */
static int qmw_general_rows(mlxn_type t) {
    switch (t) {
#define QMW_GEN(T) \
    case T: return qmw_cfg<T, 128>::GEN ? qmw_cfg<T, 128>::GRA : 0;
        QMW_TYPES(QMW_GEN)
#undef QMW_GEN
    default: return 0;
    }
}

bool qmm_mm_wgmma_ok(const qmm_launch &l) {
#ifdef MLXN_BUILD_CUDA_ARCHS
    const qmm_kp &p = *l.p;
    const int ra = qmw_general_rows(l.tw);
    return qmw_format(l.tw) && l.dev->prop.major == 9 && l.dev->prop.minor == 0 && strstr(MLXN_BUILD_CUDA_ARCHS, "90a") &&
           (uintptr_t)p.w % 16 == 0 &&
           ((p.w_row | p.w_batch) % 16 == 0 || (ra && (p.w_row | p.w_batch) % ra == 0)) &&
           p.k % 64 == 0 && wg_encoder();
#else
    (void)l;
    return false;
#endif
}

/* Stream-K (qmw_kernel's SK instances, 128 × 256 tiles only) for every format the kernel
 * takes, BF16 weights (prepared copies) included: one instance more each. 14336×4096 at M 512
 * runs 224 tiles on 132 SMs, 1.7 waves, the second 70% full. H200, µs one tile a block ->
 * stream-K, two rounds each: 14336×4096 at M 1024 Q4_K 223 -> 201, Q5_K 236 -> 214, Q6_K 238
 * -> 218, Q8_0 226 -> 210, the other decoded formats 0.90-0.94 of the time; at M 512 0.95-1.00
 * (Q6_K 0.70 -> 0.71-0.75 of cuBLASLt, F16 0.63 -> 0.67). BF16 weights, whose tiles take less
 * time than a decoded tile's against the same fix-up: at M 1024 (448 tiles) 184 -> 174.5 µs,
 * at M 512 (224 tiles) 91-92 -> 93-95 µs, so they take it from three rounds of tiles on.
 *
 * The stream-K grid's tiles of one a block (d) and blocks sharing the last round's (g; 0: one
 * tile a block). Taken where a grid of more tiles than SMs leaves at least a tenth of its SM
 * time idle in its last round (14336×4096 at M 512 and 1024 on 132 SMs: 15%; not at M 2048,
 * 3%, where stream-K measured 0.96-1.04 of one tile a block on H200), BF16 weights from three
 * rounds of tiles on, and K has at least 8 units (2048 elements; a cut tile's fix-up, one 128
 * KB slot written and read back through L2, does not shrink with K). The last round's R tiles
 * go to min(SMs, R·ku / 4) blocks: at least 4 units (1024 of K) a block. 14336×4096 at M
 * = 512 on 132 SMs: 224 tiles, d 132, the last 92 tiles on 132 blocks of 11-12 units (a tile
 * is 16), the last round 0.70 of a tile's time instead of 1. */
struct qmw_sk_plan {
    int d, g;
};
static qmw_sk_plan qmw_sk_grid(const qmm_launch &l, int splits) {
    const qmm_kp &p = *l.p;
    const long long sms = l.dev->prop.multiProcessorCount, ku = p.k / QMW_SKU;
    if (splits != 1 || p.m <= 128 || p.k % QMW_SKU || ku < 8) return {0, 0};
    const long long tiles = (long long)((p.n + 127) / 128) * ((p.m + 255) / 256) * l.batch, r = tiles % sms;
    const long long slots = (tiles + sms - 1) / sms * sms; /* rounds × SMs */
    if (tiles <= sms || r == 0 || 10 * (slots - tiles) < slots) return {0, 0};
    if (l.tw == MLXN_TYPE_BF16 && tiles < 3 * sms) return {0, 0};
    const long long g = r * ku / 4 < sms ? r * ku / 4 : sms;
    /* g > r: a block of the shared part owns less than a tile, the kernel's epilogue needs it */
    if (g <= r || tiles > INT32_MAX || r * ku * g > INT32_MAX) return {0, 0};
    return {(int)(tiles - r), (int)g};
}

size_t qmm_mm_sk_bytes(const qmm_launch &l) {
    if (!qmm_mm_wgmma_ok(l)) return 0;
    return (size_t)qmw_sk_grid(l, 1).g * 256 * 128 * sizeof(float); /* a slot of f32 sums a block */
}

/* X: [batch·m][k] bf16 rows, boxes of 64 × BM, 128-byte swizzle. W (decoded formats): the
 * row's data bytes as u16 [batch][n][bytes / 2], boxes of WB bytes × BN rows; BF16: [batch][n][k]
 * like X; rows that are not 16-byte multiples are copied by the kernel's producer threads
 * instead. Elements past the data read as zeros (which decode to zero weights). SK: the
 * stream-K grid (qmw_sk_grid blocks; l.sk_part and l.sk_flags set). */
template <mlxn_type T, int BM, int BN, bool SK = false>
static mlxn_status qmw_go(const qmm_launch &l, int splits, int clk = 1) {
    typedef qmw_cfg<T, BM, BN> C;
    typedef qmw_fmt<T> F;
    const qmm_kp &p = *l.p;
    const wg_encode_fn enc = wg_encoder();
    CUtensorMap mx, mw;
    const cuuint32_t one[3] = {1, 1, 1};
    const cuuint64_t xd[2] = {(cuuint64_t)p.k, (cuuint64_t)p.batch * p.m}, xs[1] = {(cuuint64_t)p.k * 2};
    const cuuint32_t xb[2] = {64, (cuuint32_t)BM};
    CUresult r = enc(&mx, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, const_cast<void *>(p.x), xd, xs, xb, one,
                     CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                     CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    const int wbat = p.w_batch ? l.batch : 1;
    const bool gr = !C::SS && (p.w_row | p.w_batch) % 16 != 0; /* general rows: the GR instance, no W map */
    const cuuint64_t wbs = p.w_batch ? (cuuint64_t)p.w_batch : (cuuint64_t)p.w_row * p.n;
    if (r == CUDA_SUCCESS) {
        if (C::SS) {
            const cuuint64_t wd[3] = {(cuuint64_t)p.k, (cuuint64_t)p.n, (cuuint64_t)wbat}, ws[2] = {(cuuint64_t)p.w_row, wbs};
            const cuuint32_t wb[3] = {64, 128, 1};
            r = enc(&mw, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 3, const_cast<uint8_t *>(p.w), wd, ws, wb, one,
                    CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                    CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
        } else if (gr) {
            if (!C::GEN) return mlxn_err(MLXN_ERR_UNSUPPORTED, "qmatmul: %s rows of %lld bytes on the wgmma kernel",
                                         mlxn_type_name(T), p.w_row);
            mw = mx; /* the producer threads copy W (qmw_gen_copy) */
        } else {
            const cuuint64_t wd[3] = {(cuuint64_t)(p.k / F::QK * F::BB / 2), (cuuint64_t)p.n, (cuuint64_t)wbat},
                             ws[2] = {(cuuint64_t)p.w_row, wbs};
            const cuuint32_t wb[3] = {F::WB / 2, (cuuint32_t)C::BN, 1};
            r = enc(&mw, CU_TENSOR_MAP_DATA_TYPE_UINT16, 3, const_cast<uint8_t *>(p.w), wd, ws, wb, one,
                    CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_NONE, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                    CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
        }
    }
    if (r != CUDA_SUCCESS) return mlxn_err(MLXN_ERR_DEVICE, "qmatmul: cuTensorMapEncodeTiled failed (%d)", (int)r);
    const long long tiles = (long long)((p.n + C::BN - 1) / C::BN) * ((p.m + BM - 1) / BM);
    dim3 grid((unsigned)tiles, 1, (unsigned)(l.batch * splits));
    const qmw_sk_plan sk = SK ? qmw_sk_grid(l, splits) : qmw_sk_plan{0, 0};
    if (SK) grid = dim3((unsigned)(sk.d + sk.g));
    if (tiles > INT32_MAX || grid.z > 65535) return MLXN_ERR_UNSUPPORTED;
    if (clk > 1 && (SK || !C::ROWS)) return mlxn_err(MLXN_ERR_UNSUPPORTED, "qmatmul: no cluster sum for a %d-row tile", BM);
    auto go = [&](auto kern, std::atomic<unsigned long long> &raised) {
        if (mlxn_status st = mlxn_cuda_raise_smem(kern, C::smem(), l.dev, "qmatmul", raised); st != MLXN_OK) return st;
        if (clk > 1) /* the splits of a tile as one cluster along z (qmw_cluster) */
            return mlxn_cuda_launch(l.s, kern, grid, dim3(384), C::smem(), (unsigned)clk, false, p, splits, mx, mw,
                                    l.sk_part, l.sk_flags, sk.d, clk);
        kern<<<grid, 384, C::smem(), l.s>>>(p, splits, mx, mw, l.sk_part, l.sk_flags, sk.d, 1);
        MLXN_CUDA_CHECK_LAUNCH();
        return MLXN_OK;
    };
    static std::atomic<unsigned long long> raised, raised_gr;
    if constexpr (C::GEN)
        if (gr) return go(qmw_kernel<T, BM, BN, SK, true>, raised_gr);
    return go(qmw_kernel<T, BM, BN, SK, false>, raised);
}

/* Calls f(std::integral_constant<int, H>{}) for a tile height h of 256, 128 or 64. */
template <typename F> static auto qmw_height(int h, F &&f) {
    if (h == 256) return f(std::integral_constant<int, 256>{});
    if (h == 128) return f(std::integral_constant<int, 128>{});
    return f(std::integral_constant<int, 64>{});
}

/* Clusters of cs (at most 8) blocks of qmw_kernel<T, BM, 128> resident at once (0 where none
 * fit or the query fails), asked once per device and size. */
template <mlxn_type T, int BM> static int qmw_cluster_fit(const qmm_launch &l, int cs) {
    typedef qmw_cfg<T, BM, 128> C;
    static std::atomic<int> known[64][9]; /* fit + 1 by device and size, 0 unknown */
    const int d = l.dev->ordinal;
    const bool keep = d >= 0 && d < 64 && cs <= 8;
    if (keep)
        if (const int v = known[d][cs].load(std::memory_order_relaxed)) return v - 1;
    auto kern = qmw_kernel<T, BM, 128, false, false>;
    static std::atomic<unsigned long long> raised;
    if (mlxn_cuda_raise_smem(kern, C::smem(), l.dev, "qmatmul", raised) != MLXN_OK) return 0;
    const int fit = mlxn_cuda_clusters_fit(kern, dim3(1, 1, (unsigned)cs), 384, C::smem(), l.s);
    if (keep) known[d][cs].store(fit + 1, std::memory_order_relaxed);
    return fit;
}

/* A grid's tile (W rows × X rows): 128 × 64 up to M 64 and 128 × 128 up to M 128, where wider
 * tiles compute padding. H100, same runs, µs against the next wider tile: at M 32 4096×14336
 * Q4_0 91.4 -> 42.8 (128) -> 31.4 (64), Q6_K 81.3 -> 51.4 -> 39.6; 14336×4096 Q4_0 46.5 -> 28.6
 * (64), Q6_K 54.6 -> 31.5; 4096² Q4_0 33.1 -> 20.3 -> 16.0; at M 128 4096×14336 Q4_0 71.9 ->
 * 40.5; 14336×4096 at M 128 and every shape at M 256 within 1%. Above M 128, 128 × 256 (the
 * wider wgmma, half the W decode per flop) where they fill the GPU at least once, on a stream-K
 * grid where qmw_sk_grid takes it (the caller gave l.sk_part: qmm_mm_sk_bytes), and where
 * 128 × 128 would take a second round: one round of the wide tile is the faster (H200, µs, 128
 * tiles of 128 × 256 against 256 of 128 × 128 or of 64 × 256, at M 1024: 4096² BF16 46.5
 * against 52.2, Q4_0 50.7 against 59.8, Q6_K 59.5 against 66.0; 4096×14336 BF16 147.7 against
 * 157.1, Q6_K 187 against 210). Below that, decoded W in 64 × 256 (K split between the consumer
 * warpgroups: the decode per flop of 128 × 256 on twice the tiles) unless that takes more
 * waves than 128 × 128 (4096×4096 and 4096×14336 at M = 512: 128 tiles of either, 64 of
 * 128 × 256). */
enum qmw_tile { QMW_T64, QMW_T128, QMW_T256, QMW_T256_SK, QMW_T256_N64 };
template <mlxn_type T> static qmw_tile qmw_tile_of(const qmm_launch &l, int splits) {
    const qmm_kp &p = *l.p;
    const long long sms = l.dev->prop.multiProcessorCount, bs = (long long)l.batch * splits;
    if (p.m <= 64) return QMW_T64;
    if (p.m <= 128) return QMW_T128;
    const long long t256 = (long long)((p.n + 127) / 128) * ((p.m + 255) / 256) * bs,
                    t128 = (long long)((p.n + 127) / 128) * ((p.m + 127) / 128) * bs;
    if (t256 >= sms || t128 > sms) return l.sk_part && l.sk_flags && qmw_sk_grid(l, splits).g ? QMW_T256_SK : QMW_T256;
    if constexpr (T != MLXN_TYPE_BF16) {
        /* with 3 stages in flight: with 2 (F16) it reads slower than 128 × 128 (H100, Q6_K
         * 4096×14336 M 512 on a 2-stage ring: 0.46 against 0.65 of cuBLASLt) */
        if constexpr (qmw_cfg<T, 256, 64>::ST >= 3) {
            const long long t64 = (long long)((p.n + 63) / 64) * ((p.m + 255) / 256) * bs;
            if ((t64 + sms - 1) / sms <= (t128 + sms - 1) / sms) return QMW_T256_N64;
        }
    }
    return QMW_T128;
}

/* A split grid (tiles too few for the SMs) summed in clusters: the splits of a tile run as one
 * cluster along z and add their sums through distributed shared memory, with no partial sums
 * through memory and no qmm_reduce launch. Candidates: tiles of 256 (M > 128), 128 (M > 64)
 * and 64 X rows by 128 W rows, K cut toward 8, 4 or 2 splits of at least 512 (rounded to the
 * chunk: a cluster of 2 to 8), all of the grid's clusters resident at once
 * (cudaOccupancyMaxActiveClusters; H200: 15 of 8, 30 of 4, 66 of 2). H200, µs, measured for
 * each rule (dev/qmatmul/NOTES_matmat.md, sessions 19-20):
 * - Taken: the one with the most blocks, where it has at least 9/10 of the blocks a round of
 *   the split grid runs, on average over its rounds (a split grid of 144 blocks on 132 SMs
 *   runs 72 a round). Split grid -> clusters: Q4_0 1024×4096 M 512 18.0 -> 16.7, M 768 23.7 ->
 *   20.4 (prepared 24.2 -> 16.2), M 1024 26.5 -> 20.1; 768×2048 M 256 13.0 -> 7.3; 4096² M 128
 *   21.6 -> 17.0; 3584² M 128 20.7 -> 13.3; 4096×14336 M 256 78.4 -> 53.7.
 * - Among as many blocks, BF16 weights take the smaller cluster: the sum's exchange is bound by
 *   the SM-to-SM network (~25 GB/s an SM when all clusters sum at once) and a shorter tile
 *   costs BF16 no decode (768×2048 at M 1024, 128-row tiles in clusters of 2 against 256 and 4:
 *   11.1 against 13.2; 1024×4096 at M 128 7.8 against 9.0). Decoded weights take the taller
 *   tile (768×2048 at M 512, Q4_0 / Q6_K / Q8_0 / Q4_K, 128-row tiles in clusters of 4 against
 *   64 and 2: 9.4 / 11.3 / 10.4 / 10.9 against 10.3 / 11.7 / 11.1 / 11.6).
 * - 64-row tiles only up to 4096 of K a block. Left to the split grid by the limits:
 *   4096×14336 at M 128 (39.9 against 43.8 in 64-row tiles, K 7168 a block) and BF16 weights
 *   at 1024×4096, M 256 (10.9 against 13.3 on half the blocks). */
template <mlxn_type T> static bool qmw_cluster(const qmm_launch &l, int splits, qmw_tile tt, mlxn_status *st) {
    const qmm_kp &p = *l.p;
    const long long sms = l.dev->prop.multiProcessorCount, nt = (p.n + 127) / 128;
    const int bm = tt == QMW_T64 ? 64 : tt == QMW_T128 ? 128 : 256, bn = tt == QMW_T256_N64 ? 64 : 128;
    const long long bl = (long long)((p.n + bn - 1) / bn) * ((p.m + bm - 1) / bm) * l.batch * splits,
                    round = bl / ((bl + sms - 1) / sms); /* the split grid's blocks a round, on average */
    const int kc = qmm_mm_chunk(l.tw);
    struct cand {
        int bm, n, ks;
        long long t;
    } c[9];
    int nc = 0;
    for (int h = 256; h >= 64; h /= 2) {
        if (h > 64 && p.m <= h / 2) continue;
        if (!qmw_height(h, [](auto H) { return qmw_cfg<T, decltype(H)::value, 128>::ROWS; })) continue;
        const long long t = nt * ((p.m + h - 1) / h) * l.batch;
        for (int cs = 8; cs >= 2; cs /= 2) {
            const int ks = ((p.k + cs - 1) / cs + kc - 1) / kc * kc, n = (p.k + ks - 1) / ks;
            if (n < 2 || ks < 512 || (h == 64 && ks > 4096) || t * n > sms || 10 * t * n < 9 * round) continue;
            int i = nc++; /* by blocks, then (BF16) the smaller cluster, then the taller tile */
            for (; i > 0; i--) {
                const long long bp = c[i - 1].t * c[i - 1].n;
                if (bp > t * n || (bp == t * n && (T != MLXN_TYPE_BF16 || c[i - 1].n <= n))) break;
                c[i] = c[i - 1];
            }
            c[i] = {h, n, ks, t};
        }
    }
    for (int i = 0; i < nc; i++) {
        if (qmw_height(c[i].bm, [&](auto H) { return qmw_cluster_fit<T, decltype(H)::value>(l, c[i].n); }) < c[i].t) continue;
        qmm_kp q = p;
        q.part = NULL;
        q.k_split = c[i].ks;
        qmm_launch lq = l;
        lq.p = &q;
        *st = qmw_height(c[i].bm, [&](auto H) { return qmw_go<T, decltype(H)::value, 128>(lq, c[i].n, c[i].n); });
        return true;
    }
    return false;
}

/* A split grid summed in clusters where qmw_cluster takes it, else the tile of qmw_tile_of. */
template <mlxn_type T> static mlxn_status qmw_pick(const qmm_launch &l, int splits, bool *summed) {
    const qmw_tile tt = qmw_tile_of<T>(l, splits);
    mlxn_status st = MLXN_OK;
    if (splits > 1 && qmw_cluster<T>(l, splits, tt, &st)) {
        *summed = st == MLXN_OK;
        return st;
    }
    switch (tt) {
    case QMW_T64: return qmw_go<T, 64, 128>(l, splits);
    case QMW_T128: return qmw_go<T, 128, 128>(l, splits);
    case QMW_T256_SK: return qmw_go<T, 256, 128, true>(l, splits);
    case QMW_T256: return qmw_go<T, 256, 128>(l, splits);
    case QMW_T256_N64:
        if constexpr (T != MLXN_TYPE_BF16)
            if constexpr (qmw_cfg<T, 256, 64>::ST >= 3) return qmw_go<T, 256, 64>(l, splits);
        break;
    }
    return qmw_go<T, 128, 128>(l, splits);
}

mlxn_status qmm_mm_launch(const qmm_launch &l, int splits, bool *summed) {
    *summed = false;
    if (qmm_mm_wgmma_ok(l)) {
        switch (l.tw) {
#define QMW_GO(T) \
    case T: return qmw_pick<T>(l, splits, summed);
            QMW_TYPES(QMW_GO)
#undef QMW_GO
        default: break;
        }
    }
    switch (l.tw) {
#define QMM_MM(T) \
    case T: return mm_go<T>(l, splits);
        QMM_MM_TYPES(QMM_MM)
#undef QMM_MM
    default: return MLXN_ERR_UNSUPPORTED;
    }
}
