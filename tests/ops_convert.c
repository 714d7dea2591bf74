/* Convert cases: f32/f16/bf16 -> every quantizable format -> f32, rows short and long (past
 * the CPU's 8192-element slice), many rows (thread split). The reference rows define the
 * result, so the check is bit-exact against mlxn_quantize_row / mlxn_dequantize_row run on
 * the host row by row; a second check bounds the round trip against the input (NMSE). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "opcheck.h"
#include "ops_cases.h"

typedef struct cv_case {
    mlxn_buffer *x, *q, *back;
} cv_case;

static mlxn_status run_quant(mlxn_stream *s, void *ctx) {
    cv_case *c = ctx;
    return mlxn_convert(s, c->x, c->q, NULL);
}

static void one(mlxn_device *dev, mlxn_stream *s, mlxn_type src_t, mlxn_type qt, int64_t rows, int64_t cols,
                uint64_t seed) {
    char name[96];
    snprintf(name, sizeof name, "convert %s->%s->f32 %lldx%lld", mlxn_type_name(src_t), mlxn_type_name(qt),
             (long long)rows, (long long)cols);
    const int64_t ne[2] = {rows, cols};
    int64_t n = rows * cols;
    t_rng r = {seed};
    double *v = malloc(sizeof(double) * (size_t)n);
    for (int64_t i = 0; i < n; i++) v[i] = t_rng_normal(&r) * (1.0 + (double)(i / cols % 5));
    cv_case c = {0};
    c.x = t_buf_from(dev, src_t, 2, ne, v); /* v now holds the rounded inputs */
    mlxn_buffer_alloc(dev, qt, 2, ne, &c.q);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, ne, &c.back);
    size_t qbytes = mlxn_buffer_bytes(c.q);
    unsigned char *want_q = malloc(qbytes + 1), *got_q = malloc(qbytes + 1);
    float *f = malloc(sizeof(float) * (size_t)n), *want_back = malloc(sizeof(float) * (size_t)n);
    float *got_back = malloc(sizeof(float) * (size_t)n);
    for (int64_t i = 0; i < n; i++) f[i] = (float)v[i];
    size_t rb = mlxn_row_bytes(qt, cols);
    for (int64_t i = 0; i < rows; i++) {
        mlxn_quantize_row(qt, f + i * cols, want_q + (size_t)i * rb, cols);
        mlxn_dequantize_row(qt, want_q + (size_t)i * rb, want_back + i * cols, cols);
    }
    mlxn_status st = mlxn_convert(s, c.x, c.q, NULL);
    if (st == MLXN_OK) st = mlxn_stream_sync(s);
    if (st == MLXN_OK) st = mlxn_convert(s, c.q, c.back, NULL);
    if (st == MLXN_OK) st = mlxn_stream_sync(s);
    if (CHECK(st == MLXN_OK, "%s: %s: %s", name, mlxn_status_str(st), mlxn_last_error())) {
        mlxn_buffer_read(c.q, 0, got_q, qbytes);
        mlxn_buffer_read(c.back, 0, got_back, sizeof(float) * (size_t)n);
        CHECK(!memcmp(got_q, want_q, qbytes), "%s: quantized bytes differ from mlxn_quantize_row", name);
        CHECK(!memcmp(got_back, want_back, sizeof(float) * (size_t)n), "%s: dequantized values differ", name);
        /* the round trip is a real quantization: NMSE under 0.1 for every format here
         * (q2_K's is ~0.09 on gaussian rows; the formats' own bounds are in test_quant) */
        double num = 0, den = 0;
        for (int64_t i = 0; i < n; i++) num += (got_back[i] - v[i]) * (got_back[i] - v[i]), den += v[i] * v[i];
        CHECK(num / den < 0.1, "%s: round-trip NMSE %.3g", name, num / den);
    }
    /* recorded and replayed: the same bytes */
    unsigned char *rep = malloc(qbytes + 1);
    mlxn_graph *g = NULL;
    unsigned char z = 0;
    mlxn_buffer_fill(c.q, &z, 1);
    if (mlxn_graph_begin(s) == MLXN_OK) {
        mlxn_status rs = run_quant(s, &c);
        mlxn_status es = mlxn_graph_end(s, &g);
        if (CHECK(rs == MLXN_OK && es == MLXN_OK, "%s: record: %s", name, mlxn_last_error())) {
            mlxn_graph_replay(s, g);
            mlxn_stream_sync(s);
            mlxn_buffer_read(c.q, 0, rep, qbytes);
            CHECK(!memcmp(rep, want_q, qbytes), "%s: replay differs from eager", name);
        }
        mlxn_graph_destroy(g);
    }
    free(rep);
    mlxn_buffer_free(c.x);
    mlxn_buffer_free(c.q);
    mlxn_buffer_free(c.back);
    free(v), free(want_q), free(got_q), free(f), free(want_back), free(got_back);
}

void t_ops_convert(mlxn_device *dev, mlxn_stream *s) {
    mlxn_device_props p;
    mlxn_device_info(dev, &p);
    const int64_t ne[2] = {2, 256};
    mlxn_buffer *x = NULL, *q = NULL;
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, ne, &x);
    mlxn_buffer_alloc(dev, MLXN_TYPE_Q4_K, 2, ne, &q);
    if (p.backend != MLXN_BACKEND_CPU) {
        CHECK_ST(mlxn_convert(s, x, q, NULL), MLXN_ERR_UNSUPPORTED);
        mlxn_buffer_free(x);
        mlxn_buffer_free(q);
        return;
    }
    /* argument checks */
    mlxn_buffer *iq = NULL, *small = NULL;
    const int64_t ne2[2] = {1, 256};
    mlxn_buffer_alloc(dev, MLXN_TYPE_IQ2_XXS, 2, ne, &iq);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, ne2, &small);
    CHECK_ST(mlxn_convert(s, x, iq, NULL), MLXN_ERR_UNSUPPORTED); /* no iq2_xxs quantizer */
    CHECK_ST(mlxn_convert(s, iq, x, NULL), MLXN_OK);             /* but it dequantizes */
    CHECK_ST(mlxn_convert(s, x, small, NULL), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_convert(s, x, x, NULL), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_convert(NULL, x, q, NULL), MLXN_ERR_INVALID_ARG);
    CHECK_ST(mlxn_convert(s, NULL, q, NULL), MLXN_ERR_INVALID_ARG);
    mlxn_buffer_free(iq);
    mlxn_buffer_free(small);
    mlxn_buffer_free(x);
    mlxn_buffer_free(q);

    static const mlxn_type quantizable[] = {
        MLXN_TYPE_Q4_0, MLXN_TYPE_Q4_1, MLXN_TYPE_Q5_0, MLXN_TYPE_Q5_1, MLXN_TYPE_Q8_0, MLXN_TYPE_Q2_K,
        MLXN_TYPE_Q3_K, MLXN_TYPE_Q4_K, MLXN_TYPE_Q5_K, MLXN_TYPE_Q6_K, MLXN_TYPE_IQ4_NL, MLXN_TYPE_IQ4_XS,
        MLXN_TYPE_MXFP4, MLXN_TYPE_F16, MLXN_TYPE_BF16,
    };
    uint64_t seed = 77;
    for (size_t i = 0; i < sizeof quantizable / sizeof quantizable[0]; i++) {
        mlxn_type t = quantizable[i];
        one(dev, s, MLXN_TYPE_F32, t, 3, 256, seed++);
        one(dev, s, MLXN_TYPE_F32, t, 37, 768, seed++);     /* rows split across threads */
        one(dev, s, MLXN_TYPE_F16, t, 2, 16384, seed++);    /* longer than one 8192 slice */
    }
    one(dev, s, MLXN_TYPE_BF16, MLXN_TYPE_Q8_0, 5, 4096, seed++);
}
