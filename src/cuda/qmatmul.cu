/* CUDA quantized matmul: the entry point and its path choice, plus the small kernels —
 * the generic kernel (any format, layout and alignment; the fallback), the prepared-weight
 * conversion, X to dense bf16 rows for the tiled path, and the split-K sum. The fast paths
 * live in qmatmul_mv.cu (M <= 16) and qmatmul_mm.cu (larger M). */
#include <type_traits>

#include "cuda/qmatmul.cuh"

/* The generic kernel: a warp per row of W, lanes over 8-element chunks of K, eight rows of
 * X at a time; f32 throughout; a fixed shuffle tree, so results are reproducible. */
template <mlxn_type T, typename TX>
static __global__ void qmm_generic_kernel(qmm_kp p) {
    const int lane = threadIdx.x & 31, n = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, b = blockIdx.y;
    if (n >= p.n) return;
    const uint8_t *row = p.w + b * p.w_batch + n * p.w_row;
    const TX *x = static_cast<const TX *>(p.x);
    const bool whole = (p.k & 7) == 0; /* block formats always; float rows of any K otherwise */
    for (int m0 = 0; m0 < p.m; m0 += 8) {
        float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        if (whole) {
            for (int c = lane; c < p.k / 8; c += 32) {
                float v[8];
                qmm_row<T>::load8(row, c, v);
#pragma unroll
                for (int mm = 0; mm < 8; mm++) {
                    if (m0 + mm >= p.m) break;
                    const TX *xp = x + qmm_x_off(p, b, m0 + mm, 8 * c); /* 8 | head dim: one head */
                    float s = 0.0f;
#pragma unroll
                    for (int j = 0; j < 8; j++) s = fmaf(v[j], mlxn_to_f32(xp[j]), s);
                    acc[mm] += s;
                }
            }
        } else if (T == MLXN_TYPE_F32 || T == MLXN_TYPE_F16 || T == MLXN_TYPE_BF16) {
            for (int k = lane; k < p.k; k += 32) {
                const float v = qmm_row1<T>(row, k);
#pragma unroll
                for (int mm = 0; mm < 8; mm++)
                    if (m0 + mm < p.m) acc[mm] = fmaf(v, mlxn_to_f32(x[qmm_x_off(p, b, m0 + mm, k)]), acc[mm]);
            }
        }
#pragma unroll
        for (int mm = 0; mm < 8; mm++) {
            float v = acc[mm];
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
            if (lane == 0 && m0 + mm < p.m) qmm_store(p, 0, b, m0 + mm, n, v);
        }
    }
}

/* PREPARE: w rows to bf16, 8 elements per thread and step. */
template <mlxn_type T>
static __global__ void qmm_prepare_kernel(const uint8_t *w, long long w_row, long long rows, int k, __nv_bfloat16 *y) {
    const long long per = k / 8, total = rows * per;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
        const long long r = i / per;
        const int c = (int)(i % per);
        float v[8];
        qmm_row<T>::load8(w + r * w_row, c, v);
        __nv_bfloat16 *o = y + r * k + 8 * c;
        if (((uintptr_t)y & 15) == 0) { /* k is a multiple of 8: every piece 16-byte aligned */
            uint4 u;
            uint32_t *h = reinterpret_cast<uint32_t *>(&u);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const __nv_bfloat162 b = __floats2bfloat162_rn(v[2 * j], v[2 * j + 1]);
                h[j] = *reinterpret_cast<const uint32_t *>(&b);
            }
            *reinterpret_cast<uint4 *>(o) = u;
        } else {
#pragma unroll
            for (int j = 0; j < 8; j++) o[j] = __float2bfloat16_rn(v[j]);
        }
    }
}

template <mlxn_type T>
static __global__ void qmm_prepare1_kernel(const uint8_t *w, long long w_row, long long rows, int k, __nv_bfloat16 *y) {
    const long long total = rows * k;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x)
        y[i] = __float2bfloat16_rn(qmm_row1<T>(w + (i / k) * w_row, (int)(i % k)));
}

/* X (any layout, any float type) to dense bf16 rows [batch · m][k]. */
template <typename TX> static __global__ void qmm_x_to_bf16_kernel(qmm_kp p, __nv_bfloat16 *dst) {
    const long long total = (long long)p.batch * p.m * p.k;
    const TX *x = static_cast<const TX *>(p.x);
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
        const long long r = i / p.k;
        const int k = (int)(i % p.k);
        dst[i] = __float2bfloat16_rn(mlxn_to_f32(x[qmm_x_off(p, (int)(r / p.m), (int)(r % p.m), k)]));
    }
}

/* Split-K: y = Σ_s part[s] in split order (reproducible), in y's type. */
static __global__ void qmm_reduce_kernel(qmm_kp p, int splits) {
    const long long total = (long long)p.batch * p.m * p.n;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x) {
        float v = 0.0f;
        for (int s = 0; s < splits; s++) v += p.part[s * total + i];
        const long long mn = (long long)p.m * p.n;
        const int b = (int)(i / mn), m = (int)(i % mn / p.n), n = (int)(i % p.n);
        qmm_kp q = p;
        q.part = NULL;
        qmm_store(q, 0, b, m, n, v);
    }
}

/* ── type switches: one per family, values outside the list are UNSUPPORTED ── */

template <typename F> static mlxn_status qmm_dispatch_w(mlxn_type t, F &&f) {
    switch (t) {
#define QMM_W(T) \
    case T: return f(std::integral_constant<mlxn_type, T>{});
        QMM_W(MLXN_TYPE_F32) QMM_W(MLXN_TYPE_F16) QMM_W(MLXN_TYPE_BF16) QMM_W(MLXN_TYPE_Q4_0) QMM_W(MLXN_TYPE_Q4_1)
        QMM_W(MLXN_TYPE_Q5_0) QMM_W(MLXN_TYPE_Q5_1) QMM_W(MLXN_TYPE_Q8_0) QMM_W(MLXN_TYPE_Q2_K) QMM_W(MLXN_TYPE_Q3_K)
        QMM_W(MLXN_TYPE_Q4_K) QMM_W(MLXN_TYPE_Q5_K) QMM_W(MLXN_TYPE_Q6_K) QMM_W(MLXN_TYPE_IQ4_NL)
        QMM_W(MLXN_TYPE_IQ4_XS) QMM_W(MLXN_TYPE_MXFP4)
#undef QMM_W
    default: return mlxn_err(MLXN_ERR_UNSUPPORTED, "qmatmul: cuda has no kernel for w of %s", mlxn_type_name(t));
    }
}

static bool qmm_float_w(mlxn_type t) { return t == MLXN_TYPE_F32 || t == MLXN_TYPE_F16 || t == MLXN_TYPE_BF16; }

static unsigned qmm_grid(const cuda_device *d, long long work, int threads) { return mlxn_grid_for(d, work, threads); }

mlxn_status qmm_reduce(const qmm_launch &l, const qmm_kp &p, int splits) {
    qmm_reduce_kernel<<<qmm_grid(l.dev, (long long)p.batch * p.m * p.n, 256), 256, 0, l.s>>>(p, splits);
    MLXN_CUDA_CHECK_LAUNCH();
    return MLXN_OK;
}

static mlxn_status qmm_generic(const qmm_launch &l) {
    const int warps = 4;
    dim3 grid((unsigned)((l.p->n + warps - 1) / warps), (unsigned)l.batch);
    return qmm_dispatch_w(l.tw, [&](auto tw) {
        return mlxn_dispatch_float(l.tx, [&](auto tx) {
            qmm_generic_kernel<decltype(tw)::value, decltype(tx)><<<grid, 32 * warps, 0, l.s>>>(*l.p);
            MLXN_CUDA_CHECK_LAUNCH();
            return MLXN_OK;
        });
    });
}

/* X (any layout and type) into the workspace as dense bf16 rows [batch · m][k]; p and l
 * then describe the copy. `extra` bytes of workspace follow it, 256-aligned, for the
 * caller (split-K partials): *tail points at them. */
static mlxn_status qmm_x_dense(cuda_stream *s, qmm_launch &l, qmm_kp &p, bool convert, size_t extra, void **tail) {
    const size_t xbytes = convert ? ((size_t)p.batch * p.m * p.k * 2 + 255) / 256 * 256 : 0;
    void *ws = NULL;
    *tail = NULL;
    if (xbytes + extra) {
        mlxn_status st = mlxn_cuda_workspace(s, xbytes + extra, &ws);
        if (st) return st;
        *tail = static_cast<char *>(ws) + xbytes;
    }
    if (!convert) return MLXN_OK;
    __nv_bfloat16 *xb = static_cast<__nv_bfloat16 *>(ws);
    mlxn_status st = mlxn_dispatch_float(l.tx, [&](auto tx) {
        qmm_x_to_bf16_kernel<decltype(tx)><<<qmm_grid(s->dev, (long long)p.batch * p.m * p.k, 256), 256, 0, l.s>>>(p, xb);
        MLXN_CUDA_CHECK_LAUNCH();
        return MLXN_OK;
    });
    if (st) return st;
    p.x = xb;
    p.x_row = p.k;
    p.x_batch = (long long)p.m * p.k;
    p.x_hd = p.k;
    p.x_hs = 0;
    l.tx = MLXN_TYPE_BF16;
    l.p = &p;
    return MLXN_OK;
}

/* Whether X already is dense, 16-byte aligned bf16 rows (else qmm_x_dense converts it). */
static bool qmm_x_dense_bf16(const qmm_launch &l, const qmm_kp &p) {
    return l.tx == MLXN_TYPE_BF16 && !p.x_hs && p.x_row == p.k && p.x_batch == (long long)p.m * p.k &&
           ((uintptr_t)p.x & 15) == 0;
}

/* The mat-mat path from here on, X as dense, 16-byte aligned bf16 rows (converted into the
 * stream's workspace when it is not), and split over K when the tiles do not fill the GPU. */
static mlxn_status qmm_matmat(cuda_stream *s, qmm_launch l, qmm_kp p) {
    const bool dense_bf16 = qmm_x_dense_bf16(l, p);
    const long long tiles = (long long)((p.n + QMM_MM_BN - 1) / QMM_MM_BN) * ((p.m + QMM_MM_BM - 1) / QMM_MM_BM) * p.batch;
    const int sms = s->dev->prop.multiProcessorCount;
    /* Split K when the tiles fill less than one wave (half a wave on the wgmma kernel, whose
     * 4096×4096 at M = 512 fills 128 of 132 SMs unsplit): toward two waves of 128 × 128 tiles,
     * each split at least 512 long (K is a multiple of 32, so every split is whole pipeline
     * steps); the wgmma kernel runs such a grid in thread-block clusters that sum the splits
     * where they fit (qmw_cluster), else as one round of tiles and qmm_reduce (qmw_pick). */
    int splits = 1;
    if (tiles * (qmm_mm_wgmma_ok(l) ? 2 : 1) < sms && p.k >= 1024) {
        splits = (int)((2 * sms + tiles - 1) / tiles);
        if (splits > p.k / 512) splits = p.k / 512;
        if (splits > 16) splits = 16;
    }
    const int kc = qmm_mm_chunk(l.tw); /* splits hold whole chunks and stages of W */
    p.k_split = ((p.k + splits - 1) / splits + kc - 1) / kc * kc;
    splits = (p.k + p.k_split - 1) / p.k_split;
    l.p = &p;
    /* unsplit grids that leave SMs idle in their last round may run stream-K (qmatmul_mm.cu) */
    const size_t skbytes = splits == 1 ? qmm_mm_sk_bytes(l) : 0;
    const size_t pbytes = splits > 1 ? (size_t)splits * p.batch * p.m * p.n * 4 : skbytes;
    void *part = NULL;
    mlxn_status st0 = qmm_x_dense(s, l, p, !dense_bf16, pbytes, &part);
    if (st0) return st0;
    if (splits > 1) p.part = static_cast<float *>(part);
    if (skbytes) l.sk_part = static_cast<float *>(part), l.sk_flags = s->flags;
    bool summed = false;
    mlxn_status st = qmm_mm_launch(l, splits, &summed);
    if (st == MLXN_ERR_UNSUPPORTED) { /* W rows not a multiple of 4 bytes */
        p.part = NULL;
        return qmm_generic(l);
    }
    if (st || splits == 1 || summed) return st;
    return qmm_reduce(l, p, splits);
}

/* W's `rows` rows of w_row bytes to dense bf16 rows of k (the PREPARE op and the dequantize route). */
static mlxn_status qmm_prepare_launch(cuda_stream *s, mlxn_type tw, const uint8_t *w, long long w_row, long long rows,
                                      int k, __nv_bfloat16 *y) {
    return qmm_dispatch_w(tw, [&](auto t) {
        constexpr mlxn_type T = decltype(t)::value;
        if (k % 8 == 0)
            qmm_prepare_kernel<T><<<qmm_grid(s->dev, rows * (k / 8), 256), 256, 0, s->s>>>(w, w_row, rows, k, y);
        else
            qmm_prepare1_kernel<T><<<qmm_grid(s->dev, rows * k, 256), 256, 0, s->s>>>(w, w_row, rows, k, y);
        MLXN_CUDA_CHECK_LAUNCH();
        return MLXN_OK;
    });
}

/* q's W as a's N × K bf16 rows at w, a batch's rows after the one before where a's W has batches. */
static void qmm_w_bf16(qmm_kp &q, const void *w, const mlxn_qmatmul_args *a) {
    q.w = static_cast<const uint8_t *>(w);
    q.w_row = a->k * 2;
    q.w_batch = a->w_batch_bytes ? (long long)a->n * a->k * 2 : 0;
}

/* The product on cuBLASLt for W as dense bf16 rows: q.w itself, or (dq) W's rows dequantized
 * into `wbytes` of the workspace after X's bf16 copy. MLXN_ERR_UNSUPPORTED, its error cleared,
 * where the workspace cannot grow or cuBLASLt takes no algorithm: the tiled kernel then takes
 * the call from the caller's own X (its partial sums may reuse this workspace). */
static mlxn_status qmm_via_lt(cuda_stream *s, const mlxn_qmatmul_args *a, qmm_launch l, qmm_kp q, bool dq) {
    const long long rows = (long long)(a->w_batch_bytes ? a->batch : 1) * a->n;
    const size_t wbytes = dq ? ((size_t)rows * a->k * 2 + 255) / 256 * 256 : 0;
    void *ws;
    mlxn_status st = qmm_x_dense(s, l, q, !qmm_x_dense_bf16(l, q), wbytes + QMM_LT_WS, &ws);
    if (st && st != MLXN_ERR_OUT_OF_MEMORY) return st;
    if (!st && dq) {
        __nv_bfloat16 *wb = static_cast<__nv_bfloat16 *>(ws);
        if ((st = qmm_prepare_launch(s, a->tw, q.w, q.w_row, rows, a->k, wb))) return st;
        qmm_w_bf16(q, wb, a);
    }
    if (!st && (st = qmm_lt(s, q, static_cast<char *>(ws) + wbytes)) != MLXN_ERR_UNSUPPORTED) return st;
    mlxn_clear_error();
    return MLXN_ERR_UNSUPPORTED;
}

static bool qmm_bf16_rows(const mlxn_qmatmul_args *a) {
    return a->tw == MLXN_TYPE_BF16 && a->w_row_bytes == (uint64_t)a->k * 2;
}

/* cuBLASLt may take the call: allowed on the device (cfg.cuda_cublaslt), y f32 or bf16, and the
 * library loaded. */
static bool qmm_lt_usable(const cuda_stream *s, const mlxn_qmatmul_args *a) {
    return s->dev->cublaslt && a->ty != MLXN_TYPE_F16 && qmm_lt_loaded();
}

/* Decoded weights with M > 16 dequantized to bf16 rows in the workspace (one pass, at about the
 * read bandwidth) and multiplied by cuBLASLt instead of the tiled kernel, where that measured
 * faster on the H200 (dev/qmatmul/NOTES_cublaslt.md; Q4_0, Q4_K, Q6_K, Q8_0, y f32):
 * M >= 512 with N·K <= 2^22 or K < 1024 (1024×4096, 768×2048, 576×576, 49152×576: 0.52-0.93×
 * the tiled kernel's time), M >= 1024 on rows that are not 16-byte multiples (Q6_K 3584×3584,
 * 3584×3648: 0.81-0.88×), and M >= 2048 (0.62-1.00×); the tiled kernel stays ahead on larger
 * shapes below those M (4096×4096 at M 1024: 1.07-1.16×). Only for y f32 or bf16, N a multiple
 * of 8 (every measured N was), W's batches contiguous and its bf16 copy at most 64 MiB (beside
 * cuBLASLt's 32 MiB of workspace; BF16 rows are read as they are). */
static bool qmm_dq_lt(const cuda_stream *s, const mlxn_qmatmul_args *a) {
    if (a->tw == MLXN_TYPE_F32 || a->k % 8 || a->n % 8) return false;
    if (a->w_batch_bytes && a->w_batch_bytes != a->n * a->w_row_bytes) return false;
    const double nk = (double)a->n * (double)a->k;
    if (!qmm_bf16_rows(a) && (a->w_batch_bytes ? (double)a->batch : 1.0) * nk * 2 > (double)(64 << 20)) return false;
    const bool pick = (a->m >= 512 && (nk <= (double)(1 << 22) || a->k < 1024)) ||
                      (a->m >= 1024 && a->w_row_bytes % 16) || a->m >= 2048;
    return pick && qmm_lt_usable(s, a);
}

/* Path choice, measured on an H100 (see dev/qmatmul/NOTES.md):
 * - M <= 4 (Q4_0, Q4_1, Q6_K: 2), batch 1, K a multiple of 256, rows 16-byte multiples:
 *   the streamed mat-vec on dp4a for every block format (qmatmul_mv1.cu), X rounded to int8
 *   per 32 by each block or a pre-pass.
 * - Other M <= 4 with Q8_0, IQ4_NL, Q4_K, Q5_K, Q6_K, M <= 2 with Q4_0, Q4_1: mat-vec on dp4a,
 *   X rounded to int8 per 32 by a pre-pass, or by each block where M·K <= 4096 (at M = 1
 *   on 4096×14336 and 14336×4096 it read 0.41-0.77 of the streaming bandwidth where the
 *   tensor-core mat-vec read 0.24-0.46; thresholds in qmatmul_mv_dp4a.cuh).
 * - Above those M up to 16, on sm_90a with W rows 16-byte multiples: the same formats on the
 *   tensor cores, X rounded as for dp4a, or for Q4_0 and Q6_K with f16/bf16 X on an unsplit
 *   grid taken as it is (qmatmul_mv_mma.cuh).
 * - Other M <= 16: mat-vec. Block formats on the tensor cores, a warp per 16 rows of W
 *   streaming them through shared memory; float weights in f32. Layouts the mat-vec kernels
 *   do not take (rows not a multiple of 4 bytes, unaligned x) go to the generic kernel.
 * - M > 16: tiled mat-mat on the tensor cores: on sm_90a the wgmma kernel for every format
 *   but F32 (K a multiple of 64, W 16-byte aligned, rows 16-byte multiples or, in a format whose
 *   blocks are not, of even length, which its producer threads copy piecewise), the mma.sync kernel
 *   otherwise; the prepared bf16 weight when given (see below); split over K when the tiles
 *   fill less than one wave (half a wave on wgmma), the splits summed in thread-block
 *   clusters on wgmma where they fit; on wgmma, stream-K where the last round of tiles leaves
 *   SMs idle (qmatmul_mm.cu); K not a multiple of 32 (float weights only)
 *   goes to the generic kernel. */
extern "C" mlxn_status mlxn_cuda_qmatmul(void *stream, const mlxn_qmatmul_args *a) {
    cuda_stream *s = static_cast<cuda_stream *>(stream);
    MLXN_CUDA_TRY(cudaSetDevice(s->dev->ordinal));
    qmm_kp p = {};
    p.w = static_cast<const uint8_t *>(a->w);
    p.w_row = (long long)a->w_row_bytes;
    p.w_batch = (long long)a->w_batch_bytes;
    p.x = a->x;
    p.x_row = a->x_row_stride;
    p.x_batch = a->x_batch_stride;
    p.x_hd = a->x_head_dim;
    p.x_hs = a->x_head_stride;
    p.y = a->y;
    p.ty = a->ty;
    p.batch = (int)a->batch;
    p.m = (int)a->m;
    p.n = (int)a->n;
    p.k = (int)a->k;
    if (a->batch > 65535 || a->m > INT32_MAX || a->n > INT32_MAX || a->k > INT32_MAX)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "qmatmul: cuda takes at most 65535 batches and 2^31 - 1 rows or columns");
    if (a->op == MLXN_QMATMUL_PREPARE)
        return qmm_prepare_launch(s, a->tw, p.w, p.w_row, (long long)a->batch * a->n, p.k,
                                  static_cast<__nv_bfloat16 *>(a->y));
    if (a->k == 0) {
        const size_t es = a->ty == MLXN_TYPE_F32 ? 4 : 2;
        MLXN_CUDA_TRY(cudaMemsetAsync(a->y, 0, (size_t)(a->batch * a->m * a->n) * es, s->s));
        return MLXN_OK;
    }
    qmm_launch l = {&p, a->tw, a->tx, (int)a->batch, s->s, s->dev};
    mlxn_status st;
    if (a->m <= 16) {
        if (qmm_float_w(a->tw)) {
            st = qmm_mvf_launch(l);
        } else if ((st = qmm_mvq_launch(s, l)) != MLXN_ERR_UNSUPPORTED) {
            return st;
        } else {
            /* the tensor-core mat-vec reads X as bf16 in 16-byte pieces */
            void *unused;
            if ((st = qmm_x_dense(s, l, p, a->tx != MLXN_TYPE_BF16 || !qmm_x_pieces16(p), 0, &unused))) return st;
            st = qmm_mv_launch(l);
        }
        if (st != MLXN_ERR_UNSUPPORTED) return st;
        mlxn_clear_error();
        return qmm_generic(l);
    }
    if (a->k % QMM_MM_BK) return qmm_generic(l);
    /* decoded W through cuBLASLt (the rule: qmm_dq_lt); BF16 rows as they are */
    if (!a->w_prepared && qmm_dq_lt(s, a) && (st = qmm_via_lt(s, a, l, p, !qmm_bf16_rows(a))) != MLXN_ERR_UNSUPPORTED)
        return st;
    /* The prepared bf16 copy: through cuBLASLt where it loads and takes y's type (X converted to
     * dense bf16 rows first where it is not), but for N <= 1024, M <= 128 and K >= 4096, where
     * the tiled kernel's split-K clusters are ahead (1024×4096 at M 32: 6.7 against 8.3 us; at
     * every other bench shape and M from 32 to 2048 cuBLASLt took 0.5-1.0× our time; H200,
     * dev/qmatmul/NOTES_cublaslt.md). Else on the wgmma kernel always (no decode: measured ahead
     * of dequantizing at M >= 512, H100); on the mma.sync kernel at par with dequantizing,
     * ahead from M·N >= 2^22 (14336×4096 at M = 512, 4096×4096 at M = 2048), behind below. */
    if (a->w_prepared) {
        qmm_kp q = p;
        qmm_w_bf16(q, a->w_prepared, a);
        const qmm_launch lq = {&q, MLXN_TYPE_BF16, l.tx, l.batch, l.s, l.dev};
        if (!(a->n <= 1024 && a->m <= 128 && a->k >= 4096) && qmm_lt_usable(s, a) &&
            (st = qmm_via_lt(s, a, lq, q, false)) != MLXN_ERR_UNSUPPORTED)
            return st;
        if (qmm_mm_wgmma_ok(lq) || a->m * a->n >= (1 << 22)) {
            p = q;
            l.tw = MLXN_TYPE_BF16;
        }
    }
    return qmm_matmat(s, l, p);
}
