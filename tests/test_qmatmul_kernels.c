/* The CPU qmatmul kernels against each other, for every block format: the AVX2 decoders give
 * the scalar decoders' levels and scales bit for bit, the AVX2, fused and VNNI dot products
 * agree with the scalar one to f32 rounding (over row lengths that end in a partial VNNI step,
 * each row alone in its allocation so that ASan sees an over-read), the VNNI dots of several X
 * rows at once give the one-row dot's bits, and the AVX-512 X quantizer gives the scalar bits.
 * The op tests run only the kernels this CPU picks; this covers the others it can run. Linked
 * with the static library (the kernels are internal). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/qmatmul_kernels.h"
#include "harness.h"

static const mlxn_type fmts[] = {MLXN_TYPE_Q4_0, MLXN_TYPE_Q4_1, MLXN_TYPE_Q5_0, MLXN_TYPE_Q5_1, MLXN_TYPE_Q8_0,
                                 MLXN_TYPE_IQ4_NL, MLXN_TYPE_MXFP4, MLXN_TYPE_Q2_K, MLXN_TYPE_Q3_K, MLXN_TYPE_Q4_K,
                                 MLXN_TYPE_Q5_K, MLXN_TYPE_Q6_K, MLXN_TYPE_IQ4_XS};

/* dot_rows against dot, bit for bit, for each count of rows: X rows of random values (row 0
 * is the caller's X), laid out at a stride of a whole number of 64-byte lines past x_bytes. */
static void check_rows(mlxn_type t, const qmm_vnni_fused *vf, const void *w, int64_t k, unsigned *s) {
    enum { R = QMM_VNNI_ROWS };
    const size_t st = (vf->x_bytes(k) + 63) / 64 * 64 + 64;
    unsigned char *xp = aligned_alloc(64, st * R);
    float *x = malloc(sizeof(float) * (size_t)k), *xd = malloc(sizeof(float) * (size_t)(k / 32)),
          *xs = malloc(sizeof(float) * (size_t)(k / 16));
    int8_t *xq = malloc((size_t)k);
    for (int r = 0; r < R; r++) {
        for (int64_t i = 0; i < k; i++) {
            *s = *s * 1664525u + 1013904223u;
            x[i] = ((float)(*s >> 8) / 16777216.0f - 0.5f) * (r % 2 ? 0.01f : 3.0f);
        }
        qmm_quantize_x(x, k, xq, xd, xs);
        vf->prep_x(xq, xd, xs, k, xp + st * r);
    }
    CHECK(vf->max_rows >= 1 && vf->max_rows <= R, "%s: VNNI max_rows %d in 1..%d", mlxn_type_name(t), vf->max_rows,
          R);
    for (int rows = 1; rows <= vf->max_rows; rows++) {
        float out[R], one[R];
        vf->dot_rows(w, xp, st, rows, k, out);
        for (int r = 0; r < rows; r++) one[r] = vf->dot(w, xp + st * r, k);
        CHECK(!memcmp(out, one, sizeof(float) * (size_t)rows), "%s K=%lld: VNNI dot of %d rows gives dot's bits",
              mlxn_type_name(t), (long long)k, rows);
    }
    free(xp), free(x), free(xd), free(xs), free(xq);
}

int main(void) {
    const int64_t KMAX = 2048;
    unsigned s = 1;
    float *row = malloc(sizeof(float) * KMAX), *x = malloc(sizeof(float) * KMAX);
    unsigned char *w = malloc(8 * KMAX);
    int8_t *q1 = malloc(KMAX), *q2 = malloc(KMAX), *xq = malloc(KMAX);
    float s1[KMAX / 16], m1[KMAX / 16], s2[KMAX / 16], m2[KMAX / 16], xd[KMAX / 32], xs[KMAX / 16];
    const bool vnni = qmm_have_vnni();
    if (!qmm_have_avx2()) t_skip("no AVX2 here: the AVX2 kernels are not checked");
    if (!vnni) t_skip("no AVX-512 VNNI here: the VNNI kernels are not checked");
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        const int64_t blk = mlxn_type_block_elems(fmts[f]);
        for (int trial = 0; trial < 20; trial++) {
            /* 2048, then lengths with every count of blocks left over after whole steps of 128 */
            const int64_t K = trial == 0  ? KMAX
                              : blk == 32 ? 32 * (trial % 8) + 128 * (trial / 8) + 32
                                          : 256 * (1 + trial % 8);
            for (int64_t k = 0; k < K; k++) {
                s = s * 1664525u + 1013904223u;
                row[k] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 4.0f;
                s = s * 1664525u + 1013904223u;
                x[k] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 2.0f;
            }
            mlxn_quantize_row(fmts[f], row, w, K);
            qmm_quantize_x(x, K, xq, xd, xs);
            const qmm_format *sf = qmm_scalar_format(fmts[f]);
            memset(m1, 0, sizeof m1), memset(m2, 0, sizeof m2);
            sf->decode(w, K, q1, s1, m1);
            const float ds = qmm_dot_q8_scalar(q1, s1, sf->has_min ? m1 : NULL, xq, xd, xs, K);
            qmm_decode_fn ad = qmm_avx2_decode(fmts[f]);
            if (ad) {
                ad(w, K, q2, s2, m2);
                const size_t sb = sizeof(float) * (size_t)(K / 16);
                CHECK(!memcmp(q1, q2, K) && !memcmp(s1, s2, sb) && !(sf->has_min && memcmp(m1, m2, sb)),
                      "%s K=%lld: AVX2 decode gives the scalar decode", mlxn_type_name(fmts[f]), (long long)K);
                const float da = qmm_dot_q8_avx2(q2, s2, sf->has_min ? m2 : NULL, xq, xd, xs, K);
                CHECK(fabsf(da - ds) <= 1e-4f * (1 + fabsf(ds)), "%s K=%lld: AVX2 dot %.7g vs scalar %.7g",
                      mlxn_type_name(fmts[f]), (long long)K, da, ds);
            }
            qmm_fused_fn fu = qmm_avx2_fused(fmts[f]);
            if (fu) {
                const float df = fu(w, xq, xd, xs, K);
                CHECK(fabsf(df - ds) <= 1e-4f * (1 + fabsf(ds)), "%s K=%lld: fused dot %.7g vs scalar %.7g",
                      mlxn_type_name(fmts[f]), (long long)K, df, ds);
            }
            const qmm_vnni_fused *vf = qmm_vnni_fused_for(fmts[f]);
            if (vf && vnni) {
                /* the row alone in its allocation, so reads past its end show under ASan */
                const size_t rb = (size_t)mlxn_row_bytes(fmts[f], K);
                unsigned char *wr = malloc(rb);
                void *xp = aligned_alloc(64, (vf->x_bytes(K) + 63) / 64 * 64);
                memcpy(wr, w, rb);
                vf->prep_x(xq, xd, xs, K, xp);
                const float dv = vf->dot(wr, xp, K);
                CHECK(fabsf(dv - ds) <= 1e-4f * (1 + fabsf(ds)), "%s K=%lld: VNNI dot %.7g vs scalar %.7g",
                      mlxn_type_name(fmts[f]), (long long)K, dv, ds);
                if (vf->dot_rows) check_rows(fmts[f], vf, wr, K, &s);
                free(wr), free(xp);
            }
        }
        printf("%-7s decode %s, fused %s, vnni %s\n", mlxn_type_name(fmts[f]),
               qmm_avx2_decode(fmts[f]) ? "avx2+scalar" : "scalar", qmm_avx2_fused(fmts[f]) ? "checked" : "-",
               qmm_vnni_fused_for(fmts[f]) && vnni ? "checked" : "-");
    }
    /* X quantization: the AVX-512 version against the scalar one, bit for bit, on random
     * blocks, exact ties (amax 127: levels are x itself), zeros, NaN and infinities */
    if (vnni) {
        float xq1d[KMAX / 32], xq1s[KMAX / 16], xq2d[KMAX / 32], xq2s[KMAX / 16];
        int8_t *xa = malloc(KMAX), *xb = malloc(KMAX);
        for (int trial = 0; trial < 50; trial++) {
            for (int64_t k = 0; k < KMAX; k++) {
                s = s * 1664525u + 1013904223u;
                const int kind = (int)((k / 32 + trial) % 6);
                const float r = ((float)(s >> 8) / 16777216.0f - 0.5f) * (trial % 2 ? 1e-3f : 8.0f);
                /* kind 1: amax 127 makes the step 1, so the half-integers are ties */
                x[k] = kind == 1 ? (float)((int)(s >> 20) % 253 - 126) + 0.5f : kind == 3 ? 0.0f : r;
                if (kind == 1 && k % 32 == 0) x[k] = 127.0f;
                if (kind == 4 && k % 32 == 5) x[k] = NAN;
                if (kind == 5 && k % 32 == 7) x[k] = (trial & 2) ? INFINITY : -INFINITY;
            }
            qmm_quantize_x(x, KMAX, xa, xq1d, xq1s);
            qmm_quantize_x_vnni(x, KMAX, xb, xq2d, xq2s);
            CHECK(!memcmp(xa, xb, KMAX) && !memcmp(xq1d, xq2d, sizeof xq1d) && !memcmp(xq1s, xq2s, sizeof xq1s),
                  "X quantization trial %d: AVX-512 gives the scalar bits", trial);
        }
        free(xa), free(xb);
    }
    float a[1000], b[1000];
    for (int i = 0; i < 1000; i++) a[i] = (float)i / 999.0f - 0.3f, b[i] = (float)((i * 7) % 13) - 6.0f;
    const float fs = qmm_dot_f32_scalar(a, b, 1000), fa = qmm_dot_f32_avx2(a, b, 1000);
    if (qmm_have_avx2()) CHECK(fabsf(fs - fa) <= 1e-4f * (1 + fabsf(fs)), "f32 dot: AVX2 %g vs scalar %g", fa, fs);
    free(row), free(x), free(w), free(q1), free(q2), free(xq);
    return t_finish("qmatmul_kernels");
}
