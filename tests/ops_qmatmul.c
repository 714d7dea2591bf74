/* Quantized matmul cases: every weight format against the float64 oracle (reference
 * dequantization, then a double product) on tiny, ragged and real shapes; every x layout
 * (rows, strided rows, attention heads), batches with and without a shared w, every x and
 * y type, prepared weights, zero sizes, and the argument checks. */

/* Metric: NMSE = Σ(got - ref)² / Σ_m Σ_n Σ_k (x_mk · w_nk)², the error against the energy of
 * the terms (Σ ref² in expectation for random signs, but stable where a short dot product
 * happens to cancel: a lone 32-term output can be near zero). Bounds per backend:
 * - CPU, block formats: 5e-4. X is rounded to 8-bit levels per 32 (step amax/127): its
 *   error is ~2.5e-5 of X's variance on Gaussian data, and the product inherits it; the
 *   bound leaves room for outputs of few elements (a single dot of 32 terms varies ×10).
 * - CPU, float weights: 1e-9. f32 products and sums: ~K·2^-48 (K <= 14336: 4e-11).
 * - CUDA, M <= 4 with Q8_0, Q4_K, Q5_K, Q6_K, IQ4_NL and M <= 2 with Q4_0, Q4_1: 5e-4, as the
 *   CPU's block formats: X is rounded to 8-bit levels per 32 the same way. Measured on an
 *   H100: at most 3.2e-5 where N·K >= 2^20, 1.2e-4 at worst (Q5_K, N = 1, K = 256: one dot).
 *   The same at M <= 4 with Q5_0, Q5_1, Q2_K, Q3_K, IQ4_XS and MXFP4 (the streamed mat-vec).
 * - CUDA otherwise: 2e-5. X rounded to bf16, and on the tiled path (M > 16, prepared weights
 *   too) the dequantized weights as well: 2^-18/3 ≈ 1.3e-6 each; f32 accumulation is far below.
 * plus y's own rounding: at most ref_eps(y)·|ref| per element, so ref_eps(y)² · Σ ref² over
 * the same denominator (bf16 output: 1.5e-5 of it).
 * The paths the CUDA backend picks are functions of the shape: M <= 16 mat-vec, larger M
 * mat-mat; small N with long K splits K; rows not a multiple of 16 bytes and K not a multiple
 * of 256 take the streamed mat-vec's general instances at M <= 4 and, above, rows not a
 * multiple of 4 bytes (K = 96 in Q4_0: 54 bytes) the generic kernel. The ragged cross product
 * below reaches each of them; sm_90a's stream-K grid needs larger shapes (stream_k). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcheck.h"
#include "ops_cases.h"
#include "ref/ref.h"

static const mlxn_type wtypes[] = {
    MLXN_TYPE_F32,  MLXN_TYPE_F16,  MLXN_TYPE_BF16, MLXN_TYPE_Q4_0, MLXN_TYPE_Q4_1,   MLXN_TYPE_Q5_0,
    MLXN_TYPE_Q5_1, MLXN_TYPE_Q8_0, MLXN_TYPE_Q2_K, MLXN_TYPE_Q3_K, MLXN_TYPE_Q4_K,   MLXN_TYPE_Q5_K,
    MLXN_TYPE_Q6_K, MLXN_TYPE_IQ4_NL, MLXN_TYPE_IQ4_XS, MLXN_TYPE_MXFP4,
};
#define N_WTYPES (sizeof wtypes / sizeof wtypes[0])
static const mlxn_type ftypes[3] = {MLXN_TYPE_F32, MLXN_TYPE_F16, MLXN_TYPE_BF16};

enum { ROWS = 0, STRIDED = 1, HEADS = 2 };

typedef struct qspec {
    mlxn_type tw, tx, ty;
    int64_t B, M, N, K;
    int layout;     /* ROWS, STRIDED (stride K + 32), HEADS (x_heads = H) */
    int64_t heads;  /* HEADS: H, D = K / H */
    bool w_shared;  /* B > 1 with one 2-D w */
    bool prepared;  /* also pass a mlxn_qmatmul_prepare'd copy of w */
    uint64_t seed;
} qspec;

typedef struct qmm_case {
    mlxn_buffer *x, *w, *y, *wp;
    mlxn_qmatmul_params p;
} qmm_case;

static bool is_cuda, is_sm90;
static bool half_x; /* set while half_x_cases runs: cases built to reach sm_90's mat-vec on X as it is */
static double worst_ratio[4]; /* the largest nmse / bound seen (float w, block w, int8 x, half x), printed */
static char worst_case[4][300];
static double big_int8_nmse; /* the largest nmse of the int8-x cases with N·K >= 2^20 */

static mlxn_status run_op(mlxn_stream *s, void *ctx) {
    qmm_case *c = ctx;
    return mlxn_qmatmul(s, c->x, c->w, c->y, &c->p);
}

static bool float_w(mlxn_type t) { return t == MLXN_TYPE_F32 || t == MLXN_TYPE_F16 || t == MLXN_TYPE_BF16; }

/* The formats whose X CUDA rounds to int8 only in the streamed mat-vec (M <= 4). */
static const mlxn_type mv1_int8[] = {MLXN_TYPE_Q5_0, MLXN_TYPE_Q5_1, MLXN_TYPE_Q2_K, MLXN_TYPE_Q3_K, MLXN_TYPE_IQ4_XS, MLXN_TYPE_MXFP4};

/* CUDA rounds X to int8 per 32 for these formats at M <= 16: the streamed mat-vec (M <= 4),
 * the dp4a one (M <= 4, Q4_0 and Q4_1 M <= 2) and above it the int8 tensor-core one (sm_90a,
 * rows 16-byte multiples); for the formats of t4 only in the streamed mat-vec.
 * Where another kernel takes such a case (other GPUs, other rows) its bf16 X meets the int8
 * bound too. */
static bool cuda_int8_x(const qspec *q) {
    static const mlxn_type t8[] = {MLXN_TYPE_Q4_0, MLXN_TYPE_Q4_1, MLXN_TYPE_Q8_0, MLXN_TYPE_Q4_K,
                                   MLXN_TYPE_Q5_K, MLXN_TYPE_Q6_K, MLXN_TYPE_IQ4_NL};
    if (!is_cuda || q->M > 16) return false;
    for (size_t i = 0; i < sizeof t8 / sizeof t8[0]; i++)
        if (q->tw == t8[i]) return true;
    for (size_t i = 0; i < sizeof mv1_int8 / sizeof mv1_int8[0]; i++)
        if (q->tw == mv1_int8[i] && q->M <= 4) return true;
    return false;
}

/* The tensor-core mat-vec of sm_90a builds takes f16 and bf16 X as it is where its grid needs
 * no split: the levels are exact in X's type and the sums f32, so only y's rounding and f32
 * sums of up to K terms remain (the cases marked half_x, on an sm_90 device with the default
 * build's 90a code). */
static bool cuda_half_x(const qspec *q) { return is_sm90 && half_x && q->tx != MLXN_TYPE_F32; }

/* The bound for a case; ref_energy = Σ ref² / Σ terms² scales y's rounding. */
static double bound(const qspec *q, double ref_energy) {
    double e = ref_eps(q->ty), base = is_cuda ? (cuda_half_x(q) ? 1e-8 : cuda_int8_x(q) ? 5e-4 : 2e-5) : float_w(q->tw) ? 1e-9 : 5e-4;
    return base + e * e * ref_energy;
}

/* A weight of type t, [Bw][N][K] (2-D when Bw == 0), from Gaussian values through the
 * reference quantizer; wf gets its reference dequantization. */
static mlxn_buffer *make_w(mlxn_device *dev, mlxn_type t, int64_t Bw, int64_t N, int64_t K, t_rng *r, double *wf) {
    const int64_t rows = (Bw ? Bw : 1) * N;
    const size_t rb = mlxn_row_bytes(t, K);
    float *row = malloc(sizeof(float) * (size_t)(K + 1));
    unsigned char *bytes = malloc(rb * (size_t)rows + 1);
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t k = 0; k < K; k++) row[k] = t_rng_normal(r);
        CHECK_ST(mlxn_quantize_row(t, row, bytes + rb * (size_t)i, K), MLXN_OK);
        CHECK_ST(mlxn_dequantize_row(t, bytes + rb * (size_t)i, row, K), MLXN_OK);
        for (int64_t k = 0; k < K; k++) wf[i * K + k] = row[k];
    }
    int64_t ne[3] = {Bw, N, K};
    mlxn_buffer *w = NULL;
    if (CHECK_ST(mlxn_buffer_alloc(dev, t, Bw ? 3 : 2, Bw ? ne : ne + 1, &w), MLXN_OK) && rb > 0 && rows > 0)
        CHECK_ST(mlxn_buffer_write(w, 0, bytes, rb * (size_t)rows), MLXN_OK);
    free(row);
    free(bytes);
    return w;
}

static void case_name(const qspec *q, int64_t every_nth, char *name, size_t cap) {
    static const char *lay[3] = {"rows", "strided", "heads"};
    char every[32] = "";
    if (every_nth > 1) snprintf(every, sizeof every, " every %lld", (long long)every_nth);
    snprintf(name, cap, "qmatmul %s B=%lld M=%lld N=%lld K=%lld x=%s y=%s %s%s%s%s seed=%llu", mlxn_type_name(q->tw),
             (long long)q->B, (long long)q->M, (long long)q->N, (long long)q->K, mlxn_type_name(q->tx),
             mlxn_type_name(q->ty), lay[q->layout], q->w_shared ? " shared-w" : "", q->prepared ? " prepared" : "", every,
             (unsigned long long)q->seed);
}

/* every > 1: the oracle checks the outputs with (m + n) % every == 0 only (for shapes too
 * large to compute whole); every output is still checked for being written. */
static void run_case_every(mlxn_device *dev, mlxn_stream *s, const qspec *q, int64_t every) {
    char name[256];
    case_name(q, every, name, sizeof name);
    t_rng r = {q->seed};
    const int64_t B = q->B, M = q->M, N = q->N, K = q->K, Bw = q->w_shared || B == 1 ? 0 : B;
    const int64_t ny = B * M * N;
    double *wf = malloc(sizeof(double) * (size_t)((Bw ? Bw : 1) * N * K + 1));
    double *xv = malloc(sizeof(double) * (size_t)(B * M * K + 1)); /* logical rows [B][M][K] */
    double *ref = malloc(sizeof(double) * (size_t)(ny + 1)), *got = malloc(sizeof(double) * (size_t)(ny + 1));
    qmm_case c = {.p = mlxn_qmatmul_defaults()};
    c.w = make_w(dev, q->tw, Bw, N, K, &r, wf);
    for (int64_t i = 0; i < B * M * K; i++) xv[i] = t_rng_normal(&r);
    /* x in its layout; the device buffer's values are rounded to tx, and so are xv's */
    if (q->layout == ROWS) {
        int64_t ne[3] = {B, M, K};
        c.x = t_buf_from(dev, q->tx, B > 1 ? 3 : 2, B > 1 ? ne : ne + 1, xv);
    } else if (q->layout == STRIDED) {
        const int64_t S = K + 32, n = (B * M - 1) * S + K;
        double *raw = malloc(sizeof(double) * (size_t)(n + 1));
        for (int64_t i = 0; i < n; i++) raw[i] = 1e6; /* between rows: must not be read */
        for (int64_t rr = 0; rr < B * M; rr++)
            for (int64_t k = 0; k < K; k++) raw[rr * S + k] = xv[rr * K + k];
        c.x = t_buf_from(dev, q->tx, 1, &n, raw);
        for (int64_t rr = 0; rr < B * M; rr++)
            for (int64_t k = 0; k < K; k++) xv[rr * K + k] = raw[rr * S + k];
        c.p.x_row_stride = S;
        free(raw);
    } else {
        const int64_t H = q->heads, D = K / H, ne[3] = {H, M, D};
        double *raw = malloc(sizeof(double) * (size_t)(M * K + 1));
        for (int64_t m = 0; m < M; m++)
            for (int64_t k = 0; k < K; k++) raw[((k / D) * M + m) * D + k % D] = xv[m * K + k];
        c.x = t_buf_from(dev, q->tx, 3, ne, raw);
        for (int64_t m = 0; m < M; m++)
            for (int64_t k = 0; k < K; k++) xv[m * K + k] = raw[((k / D) * M + m) * D + k % D];
        c.p.x_heads = H;
        free(raw);
    }
    int64_t yne[3] = {B, M, N};
    if (!CHECK_ST(mlxn_buffer_alloc(dev, q->ty, B > 1 ? 3 : 2, B > 1 ? yne : yne + 1, &c.y), MLXN_OK)) goto done;
    if (q->prepared) {
        int64_t ne[3] = {Bw, N, K};
        if (CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_BF16, Bw ? 3 : 2, Bw ? ne : ne + 1, &c.wp), MLXN_OK) &&
            CHECK_ST(mlxn_qmatmul_prepare(s, c.w, c.wp), MLXN_OK) && CHECK_ST(mlxn_stream_sync(s), MLXN_OK)) {
            /* the prepared copy is the dequantization rounded to bf16, exactly */
            const int64_t n = (Bw ? Bw : 1) * N * K;
            double *pv = malloc(sizeof(double) * (size_t)(n + 1));
            int64_t bad = 0;
            t_buf_read(c.wp, pv);
            for (int64_t i = 0; i < n; i++) bad += pv[i] != ref_round(wf[i], MLXN_TYPE_BF16);
            CHECK(bad == 0, "%s: %lld prepared weights differ from bf16(dequant(w))", name, (long long)bad);
            free(pv);
        }
        c.p.w_prepared = c.wp;
    }
    if (every > 1) ref_qmatmul_every(xv, wf, B, M, N, K, Bw > 0, every, ref);
    else ref_qmatmul(xv, wf, B, M, N, K, Bw > 0, ref);
    if (c.x && c.w && t_run_eager_and_replay(name, s, NULL, run_op, &c, c.y, got)) {
        double num = 0, den = 0, rsq = 0;
        int64_t unwritten = 0;
        for (int64_t i = 0; i < B * M; i++) /* the energy of the terms: Σ_n Σ_k (x_k w_nk)² */
            for (int64_t n = 0; n < N; n++) {
                const double gv = got[i * N + n], rv = ref[i * N + n];
                if ((i % M + n) % every) {
                    unwritten += !isfinite(gv); /* the poison is NaN; x and w are finite */
                    continue;
                }
                num += (gv - rv) * (gv - rv), rsq += rv * rv;
                const double *wr = wf + ((Bw ? i / M : 0) * N + n) * K;
                for (int64_t k = 0; k < K; k++) den += (xv[i * K + k] * wr[k]) * (xv[i * K + k] * wr[k]);
            }
        CHECK(unwritten == 0, "%s: %lld outputs outside the oracle's sample not written", name, (long long)unwritten);
        const double nmse = den > 0 ? num / den : num, lim = bound(q, den > 0 ? rsq / den : 1.0);
        CHECK(nmse <= lim, "%s: nmse %.3g over its bound %.3g", name, nmse, lim);
        const int cat = cuda_half_x(q) ? 3 : cuda_int8_x(q) ? 2 : !float_w(q->tw);
        if (cat == 2 && q->N * q->K >= (1 << 20) && nmse > big_int8_nmse) big_int8_nmse = nmse;
        if (nmse / lim > worst_ratio[cat]) {
            worst_ratio[cat] = nmse / lim;
            snprintf(worst_case[cat], sizeof worst_case[cat], "%s (nmse %.3g)", name, nmse);
        }
    }
done:
    mlxn_buffer_free(c.x);
    mlxn_buffer_free(c.w);
    mlxn_buffer_free(c.y);
    mlxn_buffer_free(c.wp);
    free(wf), free(xv), free(ref), free(got);
}

static void run_case(mlxn_device *dev, mlxn_stream *s, const qspec *q) { run_case_every(dev, s, q, 1); }

/* n cases of a table, each with the next seed */
static void run_list(mlxn_device *dev, mlxn_stream *s, const qspec *list, int n, int64_t every, uint64_t *seed) {
    for (int i = 0; i < n; i++) {
        qspec q = list[i];
        q.seed = (*seed)++;
        run_case_every(dev, s, &q, every);
    }
}

/* The smallest K of a format, and a second, larger one (96 where the block is 32). */
static int64_t blk(mlxn_type t) { return mlxn_type_block_elems(t) == 1 ? 32 : mlxn_type_block_elems(t); }

static void ragged(mlxn_device *dev, mlxn_stream *s, uint64_t *seed) {
    static const int64_t Ms[] = {1, 2, 3, 7, 8, 9, 17, 33, 100}, Ns[] = {1, 7, 64, 100, 257};
    int idx = 0;
    for (size_t f = 0; f < N_WTYPES; f++) {
        const mlxn_type tw = wtypes[f];
        const int64_t b = blk(tw), Ks[3] = {b, b == 32 ? 96 : 512, b == 32 ? 2880 : 2048};
        for (size_t mi = 0; mi < sizeof Ms / sizeof Ms[0]; mi++)
            for (size_t ni = 0; ni < sizeof Ns / sizeof Ns[0]; ni++)
                for (int ki = 0; ki < 3; ki++, idx++) {
                    /* the full M × N cross product at the smallest K; a third of it at the
                     * middle K; at the largest, M in {1, 9, 33} with N in {7, 100} */
                    if (ki == 1 && idx % 3) continue;
                    if (ki == 2 && !((Ms[mi] == 1 || Ms[mi] == 9 || Ms[mi] == 33) && (Ns[ni] == 7 || Ns[ni] == 100)))
                        continue;
                    qspec q = {.tw = tw, .tx = ftypes[idx % 3], .ty = ftypes[(idx / 3) % 3], .B = 1, .M = Ms[mi],
                               .N = Ns[ni], .K = Ks[ki], .seed = (*seed)++};
                    run_case(dev, s, &q);
                }
    }
}

/* Layouts, batches, prepared weights: every format, a few shapes each. */
static void variants(mlxn_device *dev, mlxn_stream *s, uint64_t *seed) {
    for (size_t f = 0; f < N_WTYPES; f++) {
        const mlxn_type tw = wtypes[f];
        const int64_t K = blk(tw) == 32 ? 256 : 512;
        static const int64_t Ms[] = {1, 5, 16, 40};
        for (int i = 0; i < 4; i++) {
            const mlxn_type tx = ftypes[(f + i) % 3];
            qspec st = {tw, tx, MLXN_TYPE_F32, 1, Ms[i], 72, K, STRIDED, 0, false, false, (*seed)++};
            run_case(dev, s, &st);
            /* the attention layout: 4 heads of 64 (or 128), BF16 as the attention op writes it */
            qspec hd = {tw, i == 3 ? MLXN_TYPE_F32 : MLXN_TYPE_BF16, ftypes[i % 3], 1, Ms[i], 40, K, HEADS, 4,
                        false, false, (*seed)++};
            run_case(dev, s, &hd);
            qspec bt = {tw, tx, MLXN_TYPE_BF16, 3, Ms[i], 24, K, ROWS, 0, i % 2 == 1, false, (*seed)++};
            run_case(dev, s, &bt);
        }
        static const int64_t Mp[] = {1, 64};
        for (int i = 0; i < 2; i++) {
            qspec pr = {tw, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, Mp[i], 96, K, ROWS, 0, false, true, (*seed)++};
            run_case(dev, s, &pr);
        }
        /* prepared copies on CUDA's cuBLASLt path: batched and shared w (a strided batch, and one
         * product of B·M rows), X converted from f32 / f16, strided or in heads, y bf16 and f32
         * (y f16 stays on the tiled kernel) */
        qspec pb = {tw, ftypes[f % 3], MLXN_TYPE_BF16, 3, 40, 72, K, ROWS, 0, f % 2 == 1, true, (*seed)++};
        run_case(dev, s, &pb);
        qspec ph = {tw, ftypes[(f + 1) % 3], f % 2 ? MLXN_TYPE_F16 : MLXN_TYPE_F32, 1, 33, 40, K, f % 2 ? STRIDED : HEADS,
                    f % 2 ? 0 : 4, false, true, (*seed)++};
        run_case(dev, s, &ph);
    }
}

/* Q4_0 (M > 2) and Q6_K (M > 4) up to M = 16 with f16 or bf16 X where the tensor-core
 * mat-vec's row tiles fill the H100 without a split (132 tiles of 16 rows: N >= 2112; Q6_K
 * takes 32-row tiles from N >= 4224) and W's rows are 16-byte multiples: one and two 8-row MMA
 * tiles, the last row tile and the last stage of K partial, X strided, in heads of 128, 512
 * and 1024 (and of 80, which the pre-pass takes), and batched. */
static void half_x_cases(mlxn_device *dev, mlxn_stream *s, uint64_t *seed) {
    static const struct {
        mlxn_type tw, tx;
        int64_t b, m, n, k, heads;
        int layout;
        bool w_shared;
    } c[] = {
        {MLXN_TYPE_Q4_0, MLXN_TYPE_BF16, 1, 3, 2200, 2816, 0, ROWS, false},
        {MLXN_TYPE_Q4_0, MLXN_TYPE_F16, 1, 16, 2200, 2816, 0, ROWS, false},
        {MLXN_TYPE_Q4_0, MLXN_TYPE_BF16, 1, 9, 2200, 1024, 0, ROWS, false},
        {MLXN_TYPE_Q6_K, MLXN_TYPE_BF16, 1, 7, 4300, 2048, 0, ROWS, false},
        {MLXN_TYPE_Q6_K, MLXN_TYPE_F16, 1, 11, 4300, 6144, 0, ROWS, false},
        {MLXN_TYPE_Q4_0, MLXN_TYPE_BF16, 1, 6, 2200, 1024, 0, STRIDED, false},
        {MLXN_TYPE_Q4_0, MLXN_TYPE_BF16, 1, 8, 2200, 4096, 32, HEADS, false},
        {MLXN_TYPE_Q4_0, MLXN_TYPE_F16, 1, 4, 2200, 2048, 2, HEADS, false},
        {MLXN_TYPE_Q6_K, MLXN_TYPE_BF16, 1, 13, 4300, 2048, 4, HEADS, false},
        {MLXN_TYPE_Q6_K, MLXN_TYPE_BF16, 2, 5, 4300, 2048, 0, ROWS, false},
        {MLXN_TYPE_Q4_0, MLXN_TYPE_F16, 3, 7, 2200, 512, 0, ROWS, true},
        {MLXN_TYPE_Q6_K, MLXN_TYPE_F16, 1, 8, 2200, 4096, 0, ROWS, false},
        {MLXN_TYPE_Q6_K, MLXN_TYPE_BF16, 1, 16, 4096, 2048, 0, ROWS, false},
    };
    half_x = true;
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        qspec q = {c[i].tw, c[i].tx, ftypes[i / 2 % 3], c[i].b, c[i].m, c[i].n, c[i].k, c[i].layout, c[i].heads,
                   c[i].w_shared, false, (*seed)++};
        run_case(dev, s, &q);
    }
    half_x = false;
    /* heads of 80 are not whole 64-element lines: X from the pre-pass */
    qspec h80 = {MLXN_TYPE_Q4_0, MLXN_TYPE_F16, MLXN_TYPE_F32, 1, 5, 2200, 2560, HEADS, 32, false, false, (*seed)++};
    run_case(dev, s, &h80);
}

/* Model shapes: Llama-3-8B's 4096 × 4096 and 1024 × 4096, a Qwen3-30B-A3B expert
 * (768 × 2048), a slice of Llama's 14336 × 4096, at decode and prefill sizes. */
static void real_shapes(mlxn_device *dev, mlxn_stream *s, uint64_t *seed) {
    static const mlxn_type fmts[] = {MLXN_TYPE_Q4_0, MLXN_TYPE_Q8_0, MLXN_TYPE_Q4_K, MLXN_TYPE_Q6_K, MLXN_TYPE_BF16};
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        qspec a = {fmts[f], MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 1, 4096, 4096, ROWS, 0, false, false, (*seed)++};
        run_case(dev, s, &a);
        qspec b = {fmts[f], MLXN_TYPE_F32, MLXN_TYPE_F32, 1, 8, 1024, 4096, ROWS, 0, false, false, (*seed)++};
        run_case(dev, s, &b);
        qspec c = {fmts[f], MLXN_TYPE_BF16, MLXN_TYPE_BF16, 1, 4, 768, 2048, ROWS, 0, false, false, (*seed)++};
        run_case(dev, s, &c);
        qspec d = {fmts[f], MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, is_cuda ? 512 : 64, 256, 14336, ROWS, 0, false, false,
                   (*seed)++};
        run_case(dev, s, &d);
    }
    /* SmolLM2-135M (K 576: Q4_1 rows of 360 bytes, Q8_0 of 612; Q6_K at K 768, 630 bytes):
     * rows that are not 16-byte multiples, where CUDA's dp4a mat-vec takes M <= 4 with each
     * block rounding X itself; plain, strided and in 9 heads of 64 */
    static const struct {
        mlxn_type tw, tx;
        int64_t m, n, k;
        int layout, heads;
    } sm[] = {
        {MLXN_TYPE_Q4_1, MLXN_TYPE_BF16, 1, 576, 576, ROWS, 0},   {MLXN_TYPE_Q4_1, MLXN_TYPE_F32, 2, 192, 576, STRIDED, 0},
        {MLXN_TYPE_Q4_1, MLXN_TYPE_BF16, 1, 1536, 576, HEADS, 9}, {MLXN_TYPE_Q8_0, MLXN_TYPE_F16, 1, 3000, 576, ROWS, 0},
        {MLXN_TYPE_Q8_0, MLXN_TYPE_BF16, 2, 1000, 576, ROWS, 0},  {MLXN_TYPE_Q6_K, MLXN_TYPE_F32, 1, 300, 768, ROWS, 0},
        {MLXN_TYPE_Q6_K, MLXN_TYPE_BF16, 2, 300, 1536, HEADS, 12}, {MLXN_TYPE_Q4_0, MLXN_TYPE_F16, 4, 700, 576, STRIDED, 0},
        {MLXN_TYPE_Q6_K, MLXN_TYPE_F32, 3, 130, 768, ROWS, 0},
    };
    for (size_t i = 0; i < sizeof sm / sizeof sm[0]; i++) {
        qspec q = {sm[i].tw, sm[i].tx, ftypes[i % 3], 1, sm[i].m, sm[i].n, sm[i].k, sm[i].layout, sm[i].heads, false, false,
                   (*seed)++};
        run_case(dev, s, &q);
    }
    /* Rows that are not 16-byte multiples, and K not a multiple of 256 (CUDA's streamed mat-vec
     * on general rows, M <= 4): Q6_K and Q3_K at K 5120 (Qwen2.5-14B, 4200 and 2200 bytes) and
     * 13824 (54 groups: two passes), gpt-oss's MXFP4 at K 2880 (1530 bytes, a last group of
     * 2 blocks), Gemma-3-270M's Q5_0 / Q8_0 at K 640, 32-block formats at K 8224 (33
     * groups, the last of one block), IQ4_XS at K 2816 and Q2_K at K 3328 (odd group counts) */
    static const struct {
        mlxn_type tw, tx;
        int64_t m, n, k;
        int layout, heads;
    } gr[] = {
        {MLXN_TYPE_Q6_K, MLXN_TYPE_BF16, 1, 300, 5120, ROWS, 0},   {MLXN_TYPE_Q6_K, MLXN_TYPE_F16, 2, 256, 13824, ROWS, 0},
        {MLXN_TYPE_Q3_K, MLXN_TYPE_F32, 3, 200, 5120, ROWS, 0},    {MLXN_TYPE_MXFP4, MLXN_TYPE_BF16, 1, 2880, 2880, ROWS, 0},
        {MLXN_TYPE_MXFP4, MLXN_TYPE_F16, 4, 500, 2880, STRIDED, 0}, {MLXN_TYPE_Q5_0, MLXN_TYPE_BF16, 1, 1000, 640, ROWS, 0},
        {MLXN_TYPE_Q8_0, MLXN_TYPE_F16, 2, 1000, 640, ROWS, 0},    {MLXN_TYPE_Q4_0, MLXN_TYPE_F32, 1, 257, 8224, ROWS, 0},
        {MLXN_TYPE_Q5_1, MLXN_TYPE_BF16, 2, 400, 8224, ROWS, 0},   {MLXN_TYPE_IQ4_NL, MLXN_TYPE_BF16, 3, 300, 2880, HEADS, 45},
        {MLXN_TYPE_IQ4_XS, MLXN_TYPE_BF16, 2, 300, 2816, ROWS, 0}, {MLXN_TYPE_Q2_K, MLXN_TYPE_F16, 4, 300, 3328, ROWS, 0},
        {MLXN_TYPE_Q4_1, MLXN_TYPE_BF16, 1, 333, 2880, ROWS, 0},
    };
    for (size_t i = 0; i < sizeof gr / sizeof gr[0]; i++) {
        qspec q = {gr[i].tw, gr[i].tx, ftypes[i % 3], 1, gr[i].m, gr[i].n, gr[i].k, gr[i].layout, gr[i].heads, false, false,
                   (*seed)++};
        run_case(dev, s, &q);
    }
    if (is_cuda) {
        /* M = 2..4 at 4096 × 4096: CUDA's streamed mat-vec on a full grid of one block an SM,
         * each block rounding X's rows itself where two blocks would fit (Q4_0, IQ4_NL, Q5_K,
         * Q4_K) and copying them from the pre-pass where one does (Q8_0 at M = 3); every row
         * count it holds, and the attention layout */
        static const mlxn_type t4[] = {MLXN_TYPE_Q4_0, MLXN_TYPE_Q8_0, MLXN_TYPE_IQ4_NL, MLXN_TYPE_Q5_K};
        for (int i = 0; i < 4; i++) {
            qspec r = {t4[i], ftypes[i % 3], ftypes[(i + 1) % 3], 1, 2 + i % 3, 4096, 4096, ROWS, 0, false, false, (*seed)++};
            run_case(dev, s, &r);
        }
        qspec hd = {MLXN_TYPE_Q4_K, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 3, 4096, 4096, HEADS, 32, false, false, (*seed)++};
        run_case(dev, s, &hd);
        /* Q6_K at M = 2: X rounded by each block (4096²) or by the pre-pass (K 14336) */
        qspec q6a = {MLXN_TYPE_Q6_K, MLXN_TYPE_F16, MLXN_TYPE_F32, 1, 2, 4096, 4096, ROWS, 0, false, false, (*seed)++};
        run_case(dev, s, &q6a);
        qspec q6b = {MLXN_TYPE_Q6_K, MLXN_TYPE_BF16, MLXN_TYPE_BF16, 1, 2, 300, 14336, ROWS, 0, false, false, (*seed)++};
        run_case(dev, s, &q6b);
        /* the streamed mat-vec's other formats at M = 2..4: X rounded by each block (4096²) or by
         * the pre-pass (K 14336), and the attention layout */
        for (int i = 0; i < 6; i++) {
            qspec r = {mv1_int8[i], ftypes[i % 3], ftypes[(i + 1) % 3], 1, 2 + i % 3, 4096, 4096, ROWS, 0, false, false, (*seed)++};
            run_case(dev, s, &r);
            qspec l = {mv1_int8[i], ftypes[(i + 1) % 3], MLXN_TYPE_F32, 1, 2 + (i + 1) % 3, 300, 14336, ROWS, 0, false, false, (*seed)++};
            run_case(dev, s, &l);
            qspec h = {mv1_int8[i], MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 1 + i % 4, 1000, 4096, HEADS, 32, false, false, (*seed)++};
            run_case(dev, s, &h);
        }
        /* shapes where the streamed mat-vec takes fewer lanes a row than cover it (mv1_pick_ll),
         * so more passes: Q6_K general rows at K 5120 (8 lanes, 3 passes), Q8_0 at K 640 (a lane
         * a row, 3 passes, the last of 2 blocks), Q4_0 at K 12288 (16 lanes, 3 passes) */
        static const qspec passes[] = {
            {MLXN_TYPE_Q6_K, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 1, 6400, 5120, ROWS, 0, false, false, 0},
            {MLXN_TYPE_Q8_0, MLXN_TYPE_F16, MLXN_TYPE_BF16, 1, 4, 40000, 640, ROWS, 0, false, false, 0},
            {MLXN_TYPE_Q4_0, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 1, 3300, 12288, ROWS, 0, false, false, 0},
        };
        run_list(dev, s, passes, 3, 1, seed);
        /* K 28672 (Llama-3-70B's down projection): four rows of X and Q8_0's ring outgrow shared
         * memory there, and another kernel takes the case */
        qspec lk = {MLXN_TYPE_Q8_0, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 4, 64, 28672, ROWS, 0, false, false, (*seed)++};
        run_case(dev, s, &lk);
        half_x_cases(dev, s, seed);
    }
    if (is_cuda) { /* tensor-core tiles on full-size prefill, and the split-K of a narrow N */
        qspec e = {MLXN_TYPE_Q4_K, MLXN_TYPE_BF16, MLXN_TYPE_BF16, 1, 512, 4096, 4096, ROWS, 0, false, false, (*seed)++};
        run_case(dev, s, &e);
        qspec g = {MLXN_TYPE_Q4_0, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 256, 128, 14336, ROWS, 0, false, true, (*seed)++};
        run_case(dev, s, &g);
        /* a prepared copy that the tiled kernel reads on CUDA (N <= 1024, M <= 128, K >= 4096) */
        qspec gp = {MLXN_TYPE_Q4_0, MLXN_TYPE_F16, MLXN_TYPE_F32, 1, 100, 1000, 4096, ROWS, 0, false, true, (*seed)++};
        run_case(dev, s, &gp);
        /* large enough (M·N >= 2^22) that the prepared bf16 weight is read */
        qspec h = {MLXN_TYPE_Q4_K, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 512, 8192, 256, ROWS, 0, false, true, (*seed)++};
        run_case(dev, s, &h);
        /* every format: 66 × 2 tiles of 128 × 256 (the H100's wgmma kernel takes its 256-wide
         * tiles, the second holding one row; K-quants with K = 512 stage half a block at a
         * time), and K = 2048 in 128-wide tiles (more stages than the ring holds) */
        for (size_t f = 0; f < N_WTYPES; f++) {
            const mlxn_type tw = wtypes[f];
            qspec wq = {tw, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 257, 8448, blk(tw) == 256 ? 512 : 256, ROWS, 0, false, false,
                        (*seed)++};
            run_case(dev, s, &wq);
            qspec lk = {tw, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 40, 200, 2048, ROWS, 0, false, false, (*seed)++};
            run_case(dev, s, &lk);
        }
    }
}

/* The wgmma kernel's stream-K grid (sm_90a; every weight format): where a grid of 128 × 256
 * tiles, one a block, would leave at least a tenth of the SMs idle in its last round (K >=
 * 2048), that round's tiles are shared out over the SMs by units of 256 of K, and a tile's
 * pieces are summed by the block that holds its last unit. On 132 SMs: 300 × 10200 (80 × 2
 * tiles, the last N tile 88 rows, the second M tile 44), in each format, cuts its last 28 tiles
 * in two (K 2048) or three (K 3072: middle pieces, a finisher waiting for two blocks); 2 × 140 × 9400 (each
 * batch its own w, x f16 through the workspace first: 74 × 2 tiles) puts 4 units a block on
 * tiles of 10, so blocks end and start tiles inside them; 14336 × 4096 at M = 512 (224 tiles)
 * shares 92 tiles over 132 blocks of 11-12 units. BF16 weights (from three rounds of tiles): 2300
 * × 6000 at K 2560 (9 × 47 tiles in the bf16 order, groups of 8 M tiles and a last group of one;
 * 27 tiles of 10 units over 67 blocks) and a prepared copy at 1100 × 10200, K 2816 (5 × 80 tiles,
 * 4 of 11 units over 11 blocks of 4): blocks that end one tile and start the next. 114 and 144
 * SMs take it on most of the decoded cases too.
 * The oracle samples every 7th (29th) output: 128 ≡ 2 (mod 7) and 12 (mod 29), so each position
 * of a tile is checked in some tile and every tile in some positions; every output is checked
 * for being written. Eager and replayed runs must match bit for bit. */
static void stream_k(mlxn_device *dev, mlxn_stream *s, uint64_t *seed) {
    static const mlxn_type fmts[] = {MLXN_TYPE_Q8_0, MLXN_TYPE_Q6_K,  MLXN_TYPE_Q4_K,   MLXN_TYPE_Q5_K,  MLXN_TYPE_Q4_0,
                                     MLXN_TYPE_Q4_1, MLXN_TYPE_Q5_0,  MLXN_TYPE_Q5_1,   MLXN_TYPE_Q2_K,  MLXN_TYPE_Q3_K,
                                     MLXN_TYPE_IQ4_NL, MLXN_TYPE_IQ4_XS, MLXN_TYPE_MXFP4, MLXN_TYPE_F16};
    for (int i = 0; i < (int)(sizeof fmts / sizeof fmts[0]); i++) {
        qspec a = {fmts[i], MLXN_TYPE_BF16, ftypes[i % 3], 1, 300, 10200, i % 2 ? 3072 : 2048, ROWS, 0, false, false,
                   (*seed)++};
        run_case_every(dev, s, &a, 7);
    }
    qspec b = {MLXN_TYPE_Q4_K, MLXN_TYPE_F16, MLXN_TYPE_BF16, 2, 140, 9400, 2560, ROWS, 0, false, false, (*seed)++};
    run_case_every(dev, s, &b, 7);
    qspec c = {MLXN_TYPE_Q6_K, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 512, 14336, 4096, ROWS, 0, false, false, (*seed)++};
    run_case_every(dev, s, &c, 29);
    /* BF16 weights and a prepared copy (the ss form, tiles in groups of 8 M tiles, M fastest) */
    static const qspec ss[] = {
        {MLXN_TYPE_BF16, MLXN_TYPE_F16, MLXN_TYPE_F32, 1, 2300, 6000, 2560, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q4_0, MLXN_TYPE_BF16, MLXN_TYPE_BF16, 1, 1100, 10200, 2816, ROWS, 0, false, true, 0},
    };
    run_list(dev, s, ss, (int)(sizeof ss / sizeof ss[0]), 7, seed);
}

/* One round of 128 × 256 tiles where 128 × 128 would take two (sm_90a's qmw_pick; on 132
 * SMs): 960 × 4096 at K 4096 runs 32 × 4 wide tiles unsplit, the last M tile 192 rows; 200 ×
 * 4096 at K 4096, split, runs in clusters of 2 over 64 tiles of 128 rows (qmw_cluster on the
 * H200); decoded weights (Q4_0 x bf16, Q6_K x f16) and a prepared Q8_0 copy. Every 7th output
 * against the oracle. */
static void wide_tiles(mlxn_device *dev, mlxn_stream *s, uint64_t *seed) {
    static const qspec wt[] = {
        {MLXN_TYPE_Q4_0, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 960, 4096, 4096, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q6_K, MLXN_TYPE_F16, MLXN_TYPE_BF16, 1, 200, 4096, 4096, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q8_0, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 960, 4096, 4096, ROWS, 0, false, true, 0},
    };
    run_list(dev, s, wt, (int)(sizeof wt / sizeof wt[0]), 7, seed);
}

/* The 256 × 64 tile, K split between the consumer warpgroups and their sums stored by X row
 * (sm_90a's QMW_T256_N64 on 132 SMs): unsplit at 250 × 3999, K 512 (the last tiles 250 X rows
 * and 31 W rows: N % 4 != 0 stores by element); split 8 ways into partial sums at 200 × 1024 and
 * 250 × 1001, K 4096 (no cluster grid fits: 16 of 8 or 32 of 4 would be needed). Every 7th
 * output against the oracle. */
static void ksplit_tiles(mlxn_device *dev, mlxn_stream *s, uint64_t *seed) {
    static const qspec kt[] = {
        {MLXN_TYPE_Q4_0, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 250, 3999, 512, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q4_K, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 200, 1024, 4096, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q6_K, MLXN_TYPE_F16, MLXN_TYPE_BF16, 1, 250, 1001, 4096, ROWS, 0, false, false, 0},
    };
    run_list(dev, s, kt, (int)(sizeof kt / sizeof kt[0]), 7, seed);
}

/* Products that CUDA runs as W dequantized to bf16 in the workspace and multiplied by cuBLASLt
 * (where cuBLASLt loads; qmatmul.cu's qmm_dq_lt; N a multiple of 8): M >= 512 on N·K <= 2^22 or
 * K < 1024, M >= 1024 on rows that are not 16-byte multiples, M >= 2048. X f32 / f16 / strided /
 * in heads, y f32 and bf16, batched and shared W, BF16 weights read as they are; y f16 stays on
 * the tiled kernel. Every 7th output against the oracle. */
static void dequant_lt(mlxn_device *dev, mlxn_stream *s, uint64_t *seed) {
    static const qspec dl[] = {
        {MLXN_TYPE_Q4_0, MLXN_TYPE_F32, MLXN_TYPE_F32, 1, 600, 304, 2048, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q6_K, MLXN_TYPE_F16, MLXN_TYPE_BF16, 1, 520, 1000, 3584, ROWS, 0, false, false, 0},
        {MLXN_TYPE_IQ4_NL, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 700, 2000, 576, STRIDED, 0, false, false, 0},
        {MLXN_TYPE_Q8_0, MLXN_TYPE_BF16, MLXN_TYPE_F32, 2, 512, 256, 1024, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q4_K, MLXN_TYPE_F16, MLXN_TYPE_BF16, 2, 520, 304, 1024, ROWS, 0, true, false, 0},
        {MLXN_TYPE_Q5_0, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 1030, 200, 2880, HEADS, 20, false, false, 0},
        {MLXN_TYPE_BF16, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 512, 504, 1024, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q5_K, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 2048, 136, 4096, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q6_K, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 1024, 1304, 3584, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q4_0, MLXN_TYPE_BF16, MLXN_TYPE_F16, 1, 600, 300, 2048, ROWS, 0, false, false, 0},
    };
    run_list(dev, s, dl, (int)(sizeof dl / sizeof dl[0]), 7, seed);
}

/* With cfg.cuda_cublaslt = 0 the tiled kernels take every product: the prepared copy (ss form)
 * and the shapes that otherwise go to cuBLASLt, on a second handle of the same GPU. */
static void tiled_only(mlxn_device *dev, uint64_t *seed) {
    mlxn_device_props props;
    mlxn_config cfg;
    mlxn_config_init(&cfg);
    cfg.cuda_cublaslt = 0;
    mlxn_device *d2 = NULL;
    mlxn_stream *s2 = NULL;
    if (!CHECK_ST(mlxn_device_info(dev, &props), MLXN_OK) ||
        !CHECK_ST(mlxn_device_open_ex(MLXN_BACKEND_CUDA, props.ordinal, &cfg, &d2), MLXN_OK) ||
        !CHECK_ST(mlxn_stream_create(d2, &s2), MLXN_OK)) {
        mlxn_device_close(d2);
        return;
    }
    static const qspec tl[] = {
        {MLXN_TYPE_Q4_0, MLXN_TYPE_BF16, MLXN_TYPE_BF16, 1, 1100, 10200, 2816, ROWS, 0, false, true, 0},
        {MLXN_TYPE_Q8_0, MLXN_TYPE_F32, MLXN_TYPE_F32, 2, 300, 200, 1024, ROWS, 0, false, true, 0},
        {MLXN_TYPE_Q4_K, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 512, 8192, 256, ROWS, 0, false, true, 0},
        {MLXN_TYPE_Q4_0, MLXN_TYPE_F32, MLXN_TYPE_F32, 1, 600, 300, 2048, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q6_K, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 1024, 1300, 3584, ROWS, 0, false, false, 0},
        {MLXN_TYPE_BF16, MLXN_TYPE_F16, MLXN_TYPE_F32, 1, 2300, 6000, 2560, ROWS, 0, false, false, 0},
    };
    run_list(d2, s2, tl, (int)(sizeof tl / sizeof tl[0]), 7, seed);
    mlxn_stream_destroy(s2);
    mlxn_device_close(d2);
}

/* More distinct cuBLASLt call shapes than its cache keeps (512; prefill varies M): 600 values
 * of M on one prepared weight, then the first ones again, after they were released. */
static void lt_shapes(mlxn_device *dev, mlxn_stream *s, uint64_t *seed) {
    for (int i = 0; i < 640; i++) {
        qspec q = {MLXN_TYPE_Q8_0, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 17 + i % 600, 8, 64, ROWS, 0, false, true, (*seed)++};
        run_case(dev, s, &q);
    }
}

/* W rows that are not 16-byte multiples on the mat-mat (sm_90a: the wgmma kernel's producer
 * threads copy them in 16-byte pieces, each row at its own offset, the piece across a row's
 * end a byte at a time). As qmw_pick routes them on 132 SMs:
 * - the 256 × 64 K-split tile, where two threads copy a row: Q6_K at Qwen2-7B's K 3584
 *   (2940-byte rows) split 7 ways into partial sums (300 × 520) or, where 16 clusters of 7
 *   fit, in clusters (250 × 1001); unsplit, Q5_0 at K 576 (396 bytes; some stages need a row's
 *   7th piece), Q8_0 at K 576 (612 bytes, 11 pieces a box), Q4_0 at K 576 (324 bytes, the last
 *   stage 64 elements past K, decoded as zeros) and a batch of two Q4_0 weights whose stride
 *   (227124 bytes) is not a 16-byte multiple either;
 * - 256 × 128 tiles: Q3_K at K 5120 (2200 bytes, half-block stages) split 5 ways, and a batch
 *   of two Q8_0 weights at K 576 in one round of 264 tiles;
 * - stream-K: a batch of two Q6_K weights at K 3584 (148 tiles; segments change batch);
 * - 128 × 128: a batch of 3 over one Q4_1 weight at K 576 (360 bytes);
 * - 64-row tiles in clusters: a batch of two Q8_0 weights at K 2880 (3060 bytes, 309060 a
 *   weight), Q2_K, IQ4_XS, MXFP4 and Q5_0 (strided X) at K 3328, 2816, 2880 and 2880.
 * W's last row ends its buffer in every case. Every 7th output against the oracle on the large
 * ones. */
static void general_rows(mlxn_device *dev, mlxn_stream *s, uint64_t *seed) {
    static const qspec big[] = {
        {MLXN_TYPE_Q6_K, MLXN_TYPE_F16, MLXN_TYPE_BF16, 1, 300, 520, 3584, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q6_K, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 250, 1001, 3584, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q3_K, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 520, 1000, 5120, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q5_0, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 250, 3999, 576, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q8_0, MLXN_TYPE_F16, MLXN_TYPE_F32, 1, 250, 3999, 576, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q8_0, MLXN_TYPE_BF16, MLXN_TYPE_BF16, 2, 500, 8448, 576, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q6_K, MLXN_TYPE_BF16, MLXN_TYPE_F32, 2, 140, 9401, 3584, ROWS, 0, false, false, 0},
    };
    run_list(dev, s, big, (int)(sizeof big / sizeof big[0]), 7, seed);
    static const qspec small[] = {
        {MLXN_TYPE_Q4_0, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 300, 700, 576, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q4_0, MLXN_TYPE_F16, MLXN_TYPE_F32, 2, 300, 701, 576, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q4_1, MLXN_TYPE_F32, MLXN_TYPE_BF16, 3, 100, 200, 576, ROWS, 0, true, false, 0},
        {MLXN_TYPE_Q8_0, MLXN_TYPE_F16, MLXN_TYPE_F32, 2, 40, 101, 2880, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q2_K, MLXN_TYPE_F16, MLXN_TYPE_F16, 1, 129, 300, 3328, ROWS, 0, false, false, 0},
        {MLXN_TYPE_IQ4_XS, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 64, 257, 2816, ROWS, 0, false, false, 0},
        {MLXN_TYPE_MXFP4, MLXN_TYPE_BF16, MLXN_TYPE_BF16, 1, 100, 300, 2880, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q5_0, MLXN_TYPE_F32, MLXN_TYPE_F32, 1, 33, 257, 2880, STRIDED, 0, false, false, 0},
    };
    run_list(dev, s, small, (int)(sizeof small / sizeof small[0]), 1, seed);
}

/* Split grids summed in thread-block clusters (sm_90a's qmw_cluster, as it picks on the
 * H200's 132 SMs, where 15 clusters of 8, 30 of 4 and 66 of 2 fit): 300 × 768 at K 2048 in
 * 64-row tiles and clusters of 4, the last tile 44 rows; 1000 × 700 at K 2048 in 256-row tiles
 * and clusters of 4, N and M past their last whole tiles; a batch of 2 at 500 × 1024, K 4096,
 * in 128-row tiles and clusters of 2; 100 × 1024 at K 4096 in 128-row tiles and clusters of 8,
 * and the same shape on a prepared Q4_0 copy (f32 X) in 64-row tiles and clusters of 4 (BF16
 * weights take the smaller cluster among equal grids);
 * 40 × 100 at K 1280, 2304 and 3328 in clusters of 3, 5 and 7 (K rounded to whole chunks), the
 * last with a batch of 2. And split grids the clusters leave (16 clusters of 8 would be needed):
 * 129 × 1024 and 65 × 1024 at K 8192, 16 splits over 256- and 128-row tiles summed by
 * qmm_reduce. Every 7th output against the oracle. */
static void cluster_splits(mlxn_device *dev, mlxn_stream *s, uint64_t *seed) {
    static const qspec cs[] = {
        {MLXN_TYPE_Q6_K, MLXN_TYPE_F16, MLXN_TYPE_BF16, 1, 300, 768, 2048, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q4_0, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 1000, 700, 2048, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q4_K, MLXN_TYPE_BF16, MLXN_TYPE_F32, 2, 500, 1024, 4096, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q4_0, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 100, 1024, 4096, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q4_0, MLXN_TYPE_F32, MLXN_TYPE_F32, 1, 100, 1024, 4096, ROWS, 0, false, true, 0},
        {MLXN_TYPE_Q4_0, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 40, 100, 1280, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q8_0, MLXN_TYPE_BF16, MLXN_TYPE_BF16, 1, 40, 100, 2304, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q4_K, MLXN_TYPE_F16, MLXN_TYPE_F32, 2, 40, 100, 3328, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q4_0, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 129, 1024, 8192, ROWS, 0, false, false, 0},
        {MLXN_TYPE_Q6_K, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 65, 1024, 8192, ROWS, 0, false, false, 0},
    };
    run_list(dev, s, cs, (int)(sizeof cs / sizeof cs[0]), 7, seed);
}

/* M = 1 where every row of W is whole 256-element groups (CUDA streams W through shared
 * memory and reads X rounded by a pre-pass there): rows that leave lanes idle (K = 2560: 10
 * groups), rows longer than a warp's groups (K = 14336), N not a multiple of the rows a warp
 * holds, every x type, and the attention layout (heads of 80). */
static void single_row(mlxn_device *dev, mlxn_stream *s, uint64_t *seed) {
    for (size_t f = 0; f < N_WTYPES; f++) {
        const mlxn_type tw = wtypes[f];
        for (int i = 0; i < 3; i++) {
            qspec a = {tw, ftypes[i], ftypes[(i + 1) % 3], 1, 1, 257, 2560, ROWS, 0, false, false, (*seed)++};
            run_case(dev, s, &a);
        }
        qspec b = {tw, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 1, 7, 14336, ROWS, 0, false, false, (*seed)++};
        run_case(dev, s, &b);
        qspec c = {tw, MLXN_TYPE_BF16, MLXN_TYPE_F32, 1, 1, 100, 2560, HEADS, 32, false, false, (*seed)++};
        run_case(dev, s, &c);
        /* K = 2048 and 6144: Q6_K's rows are 16-byte multiples (CUDA: the streamed mat-vec with
         * 8 and 32 lanes a row, four row sets a warp and a pass of 24 groups) */
        qspec d = {tw, MLXN_TYPE_F16, MLXN_TYPE_F32, 1, 1, 257, 2048, ROWS, 0, false, false, (*seed)++};
        run_case(dev, s, &d);
        qspec e = {tw, MLXN_TYPE_F32, MLXN_TYPE_BF16, 1, 1, 33, 6144, ROWS, 0, false, false, (*seed)++};
        run_case(dev, s, &e);
    }
}

static void zero_sizes(mlxn_device *dev, mlxn_stream *s) {
    /* K = 0: y is all zeros; M = 0 or N = 0: nothing to do, no error */
    int64_t wne[2] = {5, 0}, xne[2] = {3, 0}, yne[2] = {3, 5};
    mlxn_buffer *w = NULL, *x = NULL, *y = NULL;
    mlxn_buffer_alloc(dev, MLXN_TYPE_Q4_0, 2, wne, &w);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, xne, &x);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, yne, &y);
    qmm_case c = {.x = x, .w = w, .y = y, .p = mlxn_qmatmul_defaults()};
    double got[15];
    if (w && x && y && t_run_eager_and_replay("qmatmul K=0", s, NULL, run_op, &c, y, got)) {
        int nz = 0;
        for (int i = 0; i < 15; i++) nz += got[i] != 0.0;
        CHECK(nz == 0, "qmatmul K=0: %d of 15 outputs not zero", nz);
    }
    mlxn_buffer_free(w), mlxn_buffer_free(x), mlxn_buffer_free(y);
    int64_t w2[2] = {0, 64}, x2[2] = {4, 64}, y2[2] = {4, 0}, x3[2] = {0, 64}, y3[2] = {0, 8}, w3[2] = {8, 64};
    mlxn_buffer_alloc(dev, MLXN_TYPE_Q8_0, 2, w2, &w);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, x2, &x);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, y2, &y);
    CHECK_ST(mlxn_qmatmul(s, x, w, y, NULL), MLXN_OK); /* N = 0 */
    mlxn_buffer_free(w), mlxn_buffer_free(x), mlxn_buffer_free(y);
    mlxn_buffer_alloc(dev, MLXN_TYPE_Q8_0, 2, w3, &w);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, x3, &x);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, y3, &y);
    CHECK_ST(mlxn_qmatmul(s, x, w, y, NULL), MLXN_OK); /* M = 0 */
    CHECK_ST(mlxn_stream_sync(s), MLXN_OK);
    mlxn_buffer_free(w), mlxn_buffer_free(x), mlxn_buffer_free(y);
}

/* Each rejected argument, and that the message names it. */
static void expect_err(mlxn_status got, mlxn_status want, const char *needle, const char *what) {
    CHECK(got == want, "%s: got %s, want %s (%s)", what, mlxn_status_str(got), mlxn_status_str(want), mlxn_last_error());
    CHECK(strstr(mlxn_last_error(), needle) != NULL, "%s: message '%s' lacks '%s'", what, mlxn_last_error(), needle);
}

static void bad_input(mlxn_device *dev, mlxn_stream *s) {
    mlxn_buffer *w = NULL, *x = NULL, *y = NULL, *xk = NULL, *y3 = NULL, *wi = NULL, *xi = NULL, *wp = NULL;
    mlxn_buffer *xh = NULL, *ysm = NULL, *xs = NULL;
    int64_t wne[2] = {8, 256}, xne[2] = {2, 256}, yne[2] = {2, 8}, xkne[2] = {2, 100}, y3ne[3] = {2, 2, 8};
    int64_t hne[3] = {4, 2, 64}, h2ne[3] = {2, 2, 100}, sne[1] = {300};
    mlxn_buffer_alloc(dev, MLXN_TYPE_Q4_K, 2, wne, &w);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, xne, &x);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, yne, &y);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, xkne, &xk);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 3, y3ne, &y3);
    mlxn_buffer_alloc(dev, MLXN_TYPE_IQ2_XXS, 2, wne, &wi);
    mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 2, xne, &xi);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F16, 2, wne, &wp);
    mlxn_buffer_alloc(dev, MLXN_TYPE_BF16, 3, hne, &xh);
    mlxn_buffer_alloc(dev, MLXN_TYPE_BF16, 3, h2ne, &ysm);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, sne, &xs);
    mlxn_qmatmul_params p = mlxn_qmatmul_defaults();
    expect_err(mlxn_qmatmul(NULL, x, w, y, NULL), MLXN_ERR_INVALID_ARG, "stream", "NULL stream");
    expect_err(mlxn_qmatmul(s, NULL, w, y, NULL), MLXN_ERR_INVALID_ARG, "x is NULL", "NULL x");
    expect_err(mlxn_qmatmul(s, x, NULL, y, NULL), MLXN_ERR_INVALID_ARG, "w is NULL", "NULL w");
    expect_err(mlxn_qmatmul(s, x, w, NULL, NULL), MLXN_ERR_INVALID_ARG, "y is NULL", "NULL y");
    expect_err(mlxn_qmatmul(s, xk, w, y, NULL), MLXN_ERR_INVALID_ARG,
               "w is Q4_K with k=100, k must be a multiple of 256", "K not a multiple of the block");
    expect_err(mlxn_qmatmul(s, x, wi, y, NULL), MLXN_ERR_UNSUPPORTED, "w is IQ2_XXS", "unsupported format");
    expect_err(mlxn_qmatmul(s, xi, w, y, NULL), MLXN_ERR_INVALID_ARG, "x is I32", "integer x");
    expect_err(mlxn_qmatmul(s, x, w, xi, NULL), MLXN_ERR_INVALID_ARG, "y is I32", "integer y");
    expect_err(mlxn_qmatmul(s, x, w, y3, NULL), MLXN_ERR_INVALID_ARG, "x has shape [2, 256]", "batch of y, not x");
    expect_err(mlxn_qmatmul(s, x, w, x, NULL), MLXN_ERR_INVALID_ARG, "y has shape [2, 256]", "y's N");
    p.x_row_stride = 300;
    expect_err(mlxn_qmatmul(s, x, w, y, &p), MLXN_ERR_INVALID_ARG, "x_row_stride 300 need 556", "undersized strided x");
    expect_err(mlxn_qmatmul(s, xs, w, y, &p), MLXN_ERR_INVALID_ARG, "need 556", "undersized strided x (1-D)");
    p.x_row_stride = 200;
    expect_err(mlxn_qmatmul(s, x, w, y, &p), MLXN_ERR_INVALID_ARG, "x_row_stride 200 is less than k=256", "short stride");
    p.x_row_stride = -1;
    expect_err(mlxn_qmatmul(s, x, w, y, &p), MLXN_ERR_INVALID_ARG, "negative", "negative stride");
    p = mlxn_qmatmul_defaults();
    p.x_heads = 4;
    CHECK_ST(mlxn_qmatmul(s, xh, w, y, &p), MLXN_OK);
    expect_err(mlxn_qmatmul(s, x, w, y, &p), MLXN_ERR_INVALID_ARG, "attention layout", "heads layout shape");
    p.x_heads = 2;
    expect_err(mlxn_qmatmul(s, ysm, w, y, &p), MLXN_ERR_INVALID_ARG, "k=200, k must be a multiple of 256", "heads K");
    p.x_row_stride = 256;
    expect_err(mlxn_qmatmul(s, xh, w, y, &p), MLXN_ERR_INVALID_ARG, "exclude", "heads and stride");
    p = mlxn_qmatmul_defaults();
    p.w_prepared = wp;
    expect_err(mlxn_qmatmul(s, x, w, y, &p), MLXN_ERR_INVALID_ARG, "w_prepared is F16", "prepared type");
    expect_err(mlxn_qmatmul_prepare(s, w, wp), MLXN_ERR_INVALID_ARG, "wp is F16", "prepare into F16");
    expect_err(mlxn_qmatmul_prepare(s, wi, wp), MLXN_ERR_UNSUPPORTED, "IQ2_XXS", "prepare unsupported");
    CHECK_ST(mlxn_stream_sync(s), MLXN_OK);
    mlxn_buffer *views[2] = {NULL, NULL};
    int64_t vne[2] = {2, 8};
    /* y overlapping x */
    if (mlxn_buffer_view(x, 0, MLXN_TYPE_F32, 2, vne, &views[0]) == MLXN_OK)
        expect_err(mlxn_qmatmul(s, x, w, views[0], NULL), MLXN_ERR_INVALID_ARG, "y overlaps x", "y over x");
    mlxn_buffer_free(views[0]);
    mlxn_buffer *bufs[] = {w, x, y, xk, y3, wi, xi, wp, xh, ysm, xs};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) mlxn_buffer_free(bufs[i]);
}

static void report_worst(void) {
    static const char *cats[4] = {"float weights", "block weights", "block weights, int8 x", "block weights, half x"};
    for (int cat = 0; cat < (is_cuda ? 3 + is_sm90 : 2); cat++)
        printf("qmatmul: worst nmse/bound, %s: %.3g: %s\n", cats[cat], worst_ratio[cat], worst_case[cat]);
    if (big_int8_nmse > 0) printf("qmatmul: int8 x, largest nmse with N·K >= 2^20: %.3g\n", big_int8_nmse);
}

static void note_device(mlxn_device *dev) {
    mlxn_device_props props;
    is_cuda = mlxn_device_info(dev, &props) == MLXN_OK && props.backend == MLXN_BACKEND_CUDA;
    is_sm90 = is_cuda && props.cc_major == 9 && props.cc_minor == 0;
}

void t_ops_qmatmul(mlxn_device *dev, mlxn_stream *s) {
    note_device(dev);
    uint64_t seed = 4000;
    bad_input(dev, s);
    zero_sizes(dev, s);
    ragged(dev, s, &seed);
    variants(dev, s, &seed);
    real_shapes(dev, s, &seed);
    single_row(dev, s, &seed);
    if (is_cuda) {
        stream_k(dev, s, &seed), wide_tiles(dev, s, &seed);
        ksplit_tiles(dev, s, &seed), cluster_splits(dev, s, &seed);
        general_rows(dev, s, &seed), dequant_lt(dev, s, &seed);
        lt_shapes(dev, s, &seed), tiled_only(dev, &seed);
    }
    report_worst();
}

/* The general rows alone (a part: run only when named). */
void t_ops_qmatmul_rows(mlxn_device *dev, mlxn_stream *s) {
    note_device(dev);
    if (!is_cuda) {
        t_skip("qmatmul_rows: the general rows are CUDA's wgmma kernel's");
        return;
    }
    uint64_t seed = 5000;
    general_rows(dev, s, &seed);
    report_worst();
}

/* The cases of the wgmma kernel's grid shapes alone, stream-K, one round of wide tiles, K-split
 * tiles, split grids summed in clusters and general rows (a part: run only when named), for
 * the sanitizers. */
void t_ops_qmatmul_grids(mlxn_device *dev, mlxn_stream *s) {
    note_device(dev);
    if (!is_cuda) {
        t_skip("qmatmul_grids: the grid shapes are CUDA's");
        return;
    }
    uint64_t seed = 4000;
    stream_k(dev, s, &seed);
    wide_tiles(dev, s, &seed);
    ksplit_tiles(dev, s, &seed);
    cluster_splits(dev, s, &seed);
    general_rows(dev, s, &seed);
    dequant_lt(dev, s, &seed);
    tiled_only(dev, &seed);
    report_worst();
}
