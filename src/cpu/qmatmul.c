/* CPU quantized matmul: X is gathered (any layout) and, for block formats, rounded to 8-bit
 * levels per 32 once per op; then the threads split W's rows: each decodes a row once and
 * takes its dot product with every row of X. Where the CPU has AVX-512 VNNI, fused dots skip
 * the decoded row at every M (X laid out once more for them, 1.25-3 bytes per element and
 * row; each W step decoded once for up to 8 X rows; W prefetched as they go). Against one
 * pass per X row: 1.7-2.0x at M = 8 and 16; against the decode + AVX2 path: 2.2-2.9x at M = 32
 * and 128 for Q4_0, IQ4_NL, Q4_K and Q5_K, 2.1x for Q6_K, 1.5-2.0x for Q8_0, and at M = 256
 * and 512 Q4_0 2.5-2.8x, Q6_K 2.2-2.4x, Q8_0 1.5-1.7x (4096 x 4096, 2 threads;
 * dev/qmatmul/NOTES_cpu.md). Else AVX2 + FMA fused dots for M < 4. Scalar kernels on CPUs
 * without AVX2. The choice is made per process, so results are reproducible. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu/qmatmul_kernels.h"
#include "quant/half.h"
#include "quant/traits.h"

typedef struct qmm_kernels {
    bool avx2, vnni;
    float (*dot_q8)(const int8_t *, const float *, const float *, const int8_t *, const float *, const float *, int64_t);
    float (*dot_f32)(const float *, const float *, int64_t);
    void (*row_to_f32)(mlxn_type, const void *, int64_t, float *);
} qmm_kernels;

static const qmm_kernels *kernels(void) {
    static qmm_kernels scalar = {false, false, qmm_dot_q8_scalar, qmm_dot_f32_scalar, qmm_row_to_f32_scalar};
    static qmm_kernels avx2 = {true, false, qmm_dot_q8_avx2, qmm_dot_f32_avx2, qmm_row_to_f32_avx2};
    static qmm_kernels vnni = {true, true, qmm_dot_q8_avx2, qmm_dot_f32_avx2, qmm_row_to_f32_avx2};
    return !qmm_have_avx2() ? &scalar : qmm_have_vnni() ? &vnni : &avx2;
}

static qmm_decode_fn decoder(const qmm_kernels *kn, mlxn_type t) {
    qmm_decode_fn f = kn->avx2 ? qmm_avx2_decode(t) : NULL;
    return f ? f : qmm_scalar_format(t)->decode;
}

static bool is_float(mlxn_type t) { return t == MLXN_TYPE_F32 || t == MLXN_TYPE_F16 || t == MLXN_TYPE_BF16; }

static float load_f(mlxn_type t, const void *p, int64_t i) {
    if (t == MLXN_TYPE_F16) return mlxn_f16_to_f32(((const uint16_t *)p)[i]);
    if (t == MLXN_TYPE_BF16) return mlxn_bf16_to_f32(((const uint16_t *)p)[i]);
    return ((const float *)p)[i];
}

static void store_f(mlxn_type t, void *p, int64_t i, float v) {
    if (t == MLXN_TYPE_F16) ((uint16_t *)p)[i] = mlxn_f32_to_f16(v);
    else if (t == MLXN_TYPE_BF16) ((uint16_t *)p)[i] = mlxn_f32_to_bf16(v);
    else ((float *)p)[i] = v;
}

/* Row r (= b·M + m) of X as f32, in runs of one head each. */
static void gather_x(const mlxn_qmatmul_args *a, int64_t r, float *out) {
    const int64_t base = (r / a->m) * a->x_batch_stride + (r % a->m) * a->x_row_stride;
    for (int64_t k0 = 0; k0 < a->k; k0 += a->x_head_dim) {
        const int64_t off = base + (k0 / a->x_head_dim) * a->x_head_stride;
        for (int64_t i = 0; i < a->x_head_dim; i++) out[k0 + i] = load_f(a->tx, a->x, off + i);
    }
}

typedef struct qmm_job {
    const mlxn_qmatmul_args *a;
    const qmm_kernels *kn;
    qmm_decode_fn decode;
    qmm_fused_fn fused; /* used for M < 4, where decoding a row once does not pay */
    const qmm_vnni_fused *vf; /* in place of fused and decode on VNNI CPUs */
    bool has_min;
    int64_t rows;        /* rows of X against each W (B·M with one shared W, else M) */
    int64_t wb;          /* W batches: 1 when shared */
    /* X: f32 rows (float weights) or quantized rows (block formats) */
    float *xf;
    int8_t *xq;
    float *xd, *xs;
    unsigned char *xp; /* X laid out for vf, xp_bytes per row */
    size_t xp_bytes;
    /* per worker: X's gather row, then (decode path) a decoded W row */
    unsigned char *work;
    size_t work_bytes;
    /* W units handed out `batch` at a time (w_batches) */
    atomic_llong next;
    int64_t units, batch;
} qmm_job;


/* Rows of W asked for ahead of their dot products (software prefetch into all levels). */
#define PREFETCH_ROWS 2

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

static void x_rows(void *ctx, int64_t r0, int64_t r1, int worker) {
    qmm_job *j = ctx;
    const int64_t K = j->a->k;
    for (int64_t r = r0; r < r1; r++) {
        if (j->xf) {
            gather_x(j->a, r, j->xf + r * K);
        } else {
            float *tmp = (float *)(j->work + (size_t)worker * j->work_bytes);
            gather_x(j->a, r, tmp);
            (j->kn->vnni ? qmm_quantize_x_vnni : qmm_quantize_x)(tmp, K, j->xq + r * K, j->xd + r * (K / 32),
                                                                 j->xs + r * (K / 16));
            if (j->vf)
                j->vf->prep_x(j->xq + r * K, j->xd + r * (K / 32), j->xs + r * (K / 16), K, j->xp + r * j->xp_bytes);
        }
    }
}

/* X bytes a chunk of rows may take to stay in L1 (48 KiB here) beside the W row: with Q4_0 at
 * K = 4096 (10 KiB of X a row), 4 rows a pass (in L1) took 0.85x the time of 8 (not) at M = 8
 * and 16; where 4 rows do not fit either (K = 16384) or 8 do (K = 1024), 8 took 0.8-0.9x the
 * time of 4. */
#define X_L1_BYTES 40960

/* The VNNI dots of several X rows at once: X rows in chunks outside, the units' W rows inside,
 * so that each W row is decoded once per chunk and a chunk's X stays in cache over the W rows
 * (which come from L2 after the first chunk). A chunk is max_rows rows, or half that where
 * only half fits in X_L1_BYTES. */
static void w_rows_vnni(qmm_job *j, int64_t u0, int64_t u1) {
    const mlxn_qmatmul_args *a = j->a;
    const int64_t N = a->n, xb = (int64_t)j->xp_bytes;
    int64_t rm = j->vf->max_rows;
    if (rm * xb > X_L1_BYTES && rm / 2 * xb <= X_L1_BYTES) rm /= 2;
    float out[QMM_VNNI_ROWS];
    for (int64_t c = 0; c < j->rows; c += rm) {
        const int nr = (int)(j->rows - c < rm ? j->rows - c : rm);
        for (int64_t u = u0; u < u1; u++) {
            const int64_t b = u / N, n = u % N, r = b * j->rows + c;
            const void *w = (const char *)a->w + (size_t)b * a->w_batch_bytes + (size_t)n * a->w_row_bytes;
            j->vf->dot_rows(w, j->xp + r * j->xp_bytes, j->xp_bytes, nr, a->k, out);
            for (int i = 0; i < nr; i++) store_f(a->ty, a->y, (r + i) * N + n, out[i]);
        }
    }
}

/* Units: W batch b, row n; unit u = b·N + n. */
static void w_rows(void *ctx, int64_t u0, int64_t u1, int worker) {
    qmm_job *j = ctx;
    if (j->vf) {
        w_rows_vnni(j, u0, u1);
        return;
    }
    const mlxn_qmatmul_args *a = j->a;
    const int64_t K = a->k, N = a->n;
    unsigned char *wk = j->work + (size_t)worker * j->work_bytes;
    float *wf = (float *)wk;                                     /* float weights: the row as f32 */
    int8_t *q = (int8_t *)(wk + align64(sizeof(float) * (size_t)K)); /* block formats */
    float *s16 = (float *)(q + align64((size_t)K)), *m16 = s16 + K / 16;
    for (int64_t u = u0; u < u1; u++) {
        const int64_t b = u / N, n = u % N;
        const void *w = (const char *)a->w + (size_t)b * a->w_batch_bytes + (size_t)n * a->w_row_bytes;
        /* Rows stream from memory: ask for the row after next now. A row's dot product keeps
         * few loads in flight, and the hardware prefetcher alone leaves the thread waiting
         * on W (dev/qmatmul/NOTES_cpu.md). */
        if (u + PREFETCH_ROWS < u1) {
            const int64_t u2 = u + PREFETCH_ROWS;
            const char *w2 = (const char *)a->w + (size_t)(u2 / N) * a->w_batch_bytes + (size_t)(u2 % N) * a->w_row_bytes;
            for (size_t o = 0; o < a->w_row_bytes; o += 64) __builtin_prefetch(w2 + o, 0, 3);
        }
        const int64_t r0 = b * j->rows;
        if (j->xf) {
            const float *row = wf;
            if (a->tw == MLXN_TYPE_F32) row = w;
            else j->kn->row_to_f32(a->tw, w, K, wf);
            for (int64_t r = r0; r < r0 + j->rows; r++)
                store_f(a->ty, a->y, r * N + n, j->kn->dot_f32(row, j->xf + r * K, K));
        } else if (j->fused) {
            for (int64_t r = r0; r < r0 + j->rows; r++)
                store_f(a->ty, a->y, r * N + n,
                        j->fused(w, j->xq + r * K, j->xd + r * (K / 32), j->xs + r * (K / 16), K));
        } else {
            j->decode(w, K, q, s16, m16);
            for (int64_t r = r0; r < r0 + j->rows; r++)
                store_f(a->ty, a->y, r * N + n,
                        j->kn->dot_q8(q, s16, j->has_min ? m16 : NULL, j->xq + r * K, j->xd + r * (K / 32),
                                      j->xs + r * (K / 16), K));
        }
    }
}

/* Each thread takes W units `batch` at a time from a shared counter until none are left. A
 * worker that wakes late takes fewer of them, and the threads finish within one batch of
 * each other, where fixed chunks of an eighth of the rows left the caller waiting on the
 * last chunk of a late worker (dev/qmatmul/NOTES_cpu.md). Each y element depends only on
 * its row, so which thread takes it does not change the result. */
static void w_batches(void *ctx, int64_t c0, int64_t c1, int worker) {
    qmm_job *j = ctx;
    for (;;) {
        const int64_t u0 = atomic_fetch_add_explicit(&j->next, j->batch, memory_order_relaxed);
        if (u0 >= j->units) return;
        w_rows(ctx, u0, u0 + j->batch < j->units ? u0 + j->batch : j->units, worker);
    }
}

/* PREPARE: W rows to bf16, a block at a time (at most 256 elements: no allocation). */
static void prep_rows(void *ctx, int64_t u0, int64_t u1, int worker) {
    const mlxn_qmatmul_args *a = ctx;
    const mlxn_type_traits *tr = mlxn_traits(a->tw);
    float blk[256];
    for (int64_t u = u0; u < u1; u++) {
        const char *w = (const char *)a->w + (size_t)u * a->w_row_bytes;
        uint16_t *y = (uint16_t *)a->y + u * a->k;
        for (int64_t k0 = 0; k0 < a->k; k0 += tr->block_elems) {
            tr->to_float(w + (size_t)(k0 / tr->block_elems) * tr->block_bytes, blk, tr->block_elems);
            for (int64_t i = 0; i < tr->block_elems; i++) y[k0 + i] = mlxn_f32_to_bf16(blk[i]);
        }
    }
}

static void fill_nan(const mlxn_qmatmul_args *a) {
    for (int64_t i = 0; i < a->batch * a->m * a->n; i++) store_f(a->ty, a->y, i, NAN);
}

static void qmatmul_run(cpu_device *dev, const void *args) {
    const mlxn_qmatmul_args *a = args;
    if (a->op == MLXN_QMATMUL_PREPARE) {
        mlxn_parallel_for(dev->tp, a->batch * a->n, 64, prep_rows, (void *)a);
        return;
    }
    if (a->k == 0) {
        for (int64_t i = 0; i < a->batch * a->m * a->n; i++) store_f(a->ty, a->y, i, 0.0f);
        return;
    }
    const int64_t K = a->k;
    const int threads = mlxn_threadpool_size(dev->tp);
    qmm_job j = {.a = a, .kn = kernels()};
    j.wb = a->w_batch_bytes ? a->batch : 1;
    j.rows = a->w_batch_bytes ? a->m : a->batch * a->m;
    const int64_t R = a->batch * a->m;
    const bool fw = is_float(a->tw);
    j.vf = !fw && j.kn->vnni ? qmm_vnni_fused_for(a->tw) : NULL;
    j.xp_bytes = j.vf ? align64(j.vf->x_bytes(K)) : 0;
    const size_t xqbytes = align64((size_t)(R * K)) + align64(sizeof(float) * (size_t)(R * (K / 32 + K / 16)));
    size_t xbytes = fw ? align64(sizeof(float) * (size_t)(R * K)) : xqbytes + j.xp_bytes * (size_t)R;
    j.work_bytes = align64(sizeof(float) * (size_t)K); /* the VNNI dots read X's layout, not a decoded row */
    if (!j.vf) j.work_bytes += align64((size_t)K) + align64(sizeof(float) * (size_t)(K / 8));
    unsigned char *mem = aligned_alloc(64, xbytes + j.work_bytes * (size_t)threads);
    if (!mem) {
        /* a replayed graph has no way to report this: the NaNs and the log line do */
        mlxn_log(MLXN_LOG_ERROR, "qmatmul: out of host memory for %zu bytes of scratch; y is NaN",
                 xbytes + j.work_bytes * (size_t)threads);
        fill_nan(a);
        return;
    }
    j.work = mem + xbytes;
    if (fw) {
        j.xf = (float *)mem;
    } else {
        const qmm_format *f = qmm_scalar_format(a->tw);
        j.decode = decoder(j.kn, a->tw);
        j.fused = j.kn->avx2 && j.rows < 4 && !j.vf ? qmm_avx2_fused(a->tw) : NULL;
        j.has_min = f->has_min;
        j.xq = (int8_t *)mem;
        j.xd = (float *)(mem + align64((size_t)(R * K)));
        j.xs = j.xd + R * (K / 32);
        j.xp = mem + xqbytes;
    }
    mlxn_parallel_for(dev->tp, R, 1 + 16384 / K, x_rows, &j);
    /* ~64k weights per batch at least, so small products stay on one thread; else about 32
     * batches per thread */
    const int64_t grain = 1 + 65536 / (K * (j.rows < 16 ? j.rows : 16));
    j.units = j.wb * a->n;
    j.batch = j.units / (32 * threads) > grain ? j.units / (32 * threads) : grain;
    atomic_init(&j.next, 0);
    if (threads == 1 || j.units <= grain) w_rows(&j, 0, j.units, 0);
    else mlxn_parallel_for(dev->tp, threads, 1, w_batches, &j);
    free(mem);
}

mlxn_status mlxn_cpu_qmatmul(void *stream, const mlxn_qmatmul_args *a) {
    if (a->op == MLXN_QMATMUL_PRODUCT && a->k > 0 && !is_float(a->tw) && !qmm_scalar_format(a->tw))
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "qmatmul: cpu has no kernel for w of %s", mlxn_type_name(a->tw));
    return mlxn_cpu_submit(stream, qmatmul_run, a, sizeof *a);
}
