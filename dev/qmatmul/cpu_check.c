/* The CPU qmatmul kernels against each other, for every block format: AVX2 decoders give the
 * scalar decoders' levels and scales bit for bit, and the AVX2 and fused dot products agree
 * with the scalar one to f32 rounding. The op tests exercise only the kernels this CPU
 * chooses; this covers the scalar fallback too.
 *   cc -O2 -Wno-unused-parameter -Isrc -Iinclude dev/qmatmul/cpu_check.c src/cpu/qmatmul_scalar.c \
 *      src/cpu/qmatmul_avx2.c -Lbuild-qmm-cpu -lmlxn -lm -o /tmp/cpu_check */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/qmatmul_kernels.h"

static const mlxn_type fmts[] = {MLXN_TYPE_Q4_0, MLXN_TYPE_Q4_1, MLXN_TYPE_Q5_0, MLXN_TYPE_Q5_1, MLXN_TYPE_Q8_0,
                                 MLXN_TYPE_IQ4_NL, MLXN_TYPE_MXFP4, MLXN_TYPE_Q2_K, MLXN_TYPE_Q3_K, MLXN_TYPE_Q4_K,
                                 MLXN_TYPE_Q5_K, MLXN_TYPE_Q6_K, MLXN_TYPE_IQ4_XS};

int main(void) {
    const int64_t K = 2048;
    int bad = 0;
    unsigned s = 1;
    float *row = malloc(sizeof(float) * K), *x = malloc(sizeof(float) * K);
    unsigned char *w = malloc(8 * K);
    int8_t *q1 = malloc(K), *q2 = malloc(K), *xq = malloc(K);
    float s1[K / 16], m1[K / 16], s2[K / 16], m2[K / 16], xd[K / 32], xs[K / 16];
    if (!qmm_have_avx2()) printf("no AVX2 here: only the scalar kernels run\n");
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        for (int trial = 0; trial < 20; trial++) {
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
                if (memcmp(q1, q2, K) || memcmp(s1, s2, sizeof s1) || (sf->has_min && memcmp(m1, m2, sizeof m1))) {
                    printf("FAIL %s: AVX2 decode differs from scalar\n", mlxn_type_name(fmts[f]));
                    bad++;
                }
                const float da = qmm_dot_q8_avx2(q2, s2, sf->has_min ? m2 : NULL, xq, xd, xs, K);
                if (!(fabsf(da - ds) <= 1e-4f * (1 + fabsf(ds)))) {
                    printf("FAIL %s: AVX2 dot %.7g vs scalar %.7g\n", mlxn_type_name(fmts[f]), da, ds);
                    bad++;
                }
            }
            qmm_fused_fn fu = qmm_avx2_fused(fmts[f]);
            if (fu) {
                const float df = fu(w, xq, xd, xs, K);
                if (!(fabsf(df - ds) <= 1e-4f * (1 + fabsf(ds)))) {
                    printf("FAIL %s: fused dot %.7g vs scalar %.7g\n", mlxn_type_name(fmts[f]), df, ds);
                    bad++;
                }
            }
        }
        printf("%-7s decode %s, fused %s\n", mlxn_type_name(fmts[f]), qmm_avx2_decode(fmts[f]) ? "avx2+scalar" : "scalar",
               qmm_avx2_fused(fmts[f]) ? "checked" : "-");
    }
    float a[1000], b[1000];
    for (int i = 0; i < 1000; i++) a[i] = (float)i / 999.0f - 0.3f, b[i] = (float)((i * 7) % 13) - 6.0f;
    const float fs = qmm_dot_f32_scalar(a, b, 1000), fa = qmm_dot_f32_avx2(a, b, 1000);
    if (!(fabsf(fs - fa) <= 1e-4f * (1 + fabsf(fs)))) printf("FAIL f32 dot %g vs %g\n", fa, fs), bad++;
    printf("%s\n", bad ? "FAILED" : "all kernels agree");
    return bad != 0;
}
