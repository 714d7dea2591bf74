/* get_rows cases: every table type (f32, f16, bf16 and every block format), every y type,
 * tiny, ragged and real vocabularies (49152, 151936, 262144 rows; only the fetched rows are
 * written), repeated and boundary ids, a scale, out-of-range ids, graph replay after the ids
 * change, and the argument checks.
 *
 * Bound: the values are mlxn_dequantize_row's exactly on every backend, so without a scale y
 * must equal them rounded to y's type (bound 0). With a scale, one f32 product and the final
 * rounding: |got - ref| <= (2^-24 + eps_y)·|ref|·(1 + 2^-20) + tiny_y (y's subnormal spacing). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcheck.h"
#include "ops_cases.h"
#include "ref/ref.h"

static const mlxn_type ftypes[3] = {MLXN_TYPE_F32, MLXN_TYPE_F16, MLXN_TYPE_BF16};

static mlxn_buffer *i32_buf(mlxn_device *dev, int ndim, const int64_t *ne, const int32_t *v) {
    mlxn_buffer *b = NULL;
    if (!CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_I32, ndim, ne, &b), MLXN_OK)) return NULL;
    if (mlxn_buffer_bytes(b)) CHECK_ST(mlxn_buffer_write(b, 0, v, mlxn_buffer_bytes(b)), MLXN_OK);
    return b;
}

/* f16 bits of a random value of magnitude 2^-8 .. 2^-4, either sign. */
static uint16_t rand_f16_scale(t_rng *r) {
    uint64_t u = t_rng_u64(r);
    return (uint16_t)(((u & 1) << 15) | ((7 + (u >> 1) % 4) << 10) | ((u >> 8) & 0x3ff));
}

static void put16(unsigned char *p, uint16_t v) { memcpy(p, &v, 2); }

/* Random bytes for nb blocks of t, every scale field set so that no block decodes to inf or
 * NaN (the layouts are quant/blocks.h's). */
static void rand_blocks(t_rng *r, mlxn_type t, unsigned char *p, int64_t nb) {
    const size_t bs = mlxn_type_block_bytes(t);
    for (size_t i = 0; i < (size_t)nb * bs; i += 8) {
        uint64_t u = t_rng_u64(r);
        memcpy(p + i, &u, (size_t)nb * bs - i < 8 ? (size_t)nb * bs - i : 8);
    }
    for (int64_t b = 0; b < nb; b++, p += bs) {
        switch (t) {
        case MLXN_TYPE_Q4_1: case MLXN_TYPE_Q5_1: case MLXN_TYPE_Q8_1: case MLXN_TYPE_Q4_K: case MLXN_TYPE_Q5_K:
            put16(p, rand_f16_scale(r)), put16(p + 2, rand_f16_scale(r));
            break;
        case MLXN_TYPE_Q2_K: put16(p + 80, rand_f16_scale(r)), put16(p + 82, rand_f16_scale(r)); break;
        case MLXN_TYPE_Q3_K: put16(p + 108, rand_f16_scale(r)); break;
        case MLXN_TYPE_Q6_K: put16(p + 208, rand_f16_scale(r)); break;
        case MLXN_TYPE_TQ1_0: put16(p + 52, rand_f16_scale(r)); break;
        case MLXN_TYPE_TQ2_0: put16(p + 64, rand_f16_scale(r)); break;
        case MLXN_TYPE_Q8_K: {
            float d = ldexpf(1.0f + (float)(t_rng_u64(r) % 1000) / 1000.0f, -8 + (int)(t_rng_u64(r) % 4));
            memcpy(p, &d, 4);
            break;
        }
        case MLXN_TYPE_IQ1_M: { /* the f16 scale's nibbles are the top nibbles of the four u16 scales */
            uint16_t d = rand_f16_scale(r);
            for (int q = 0; q < 4; q++) p[32 + 16 + 2 * q + 1] = (uint8_t)((p[32 + 16 + 2 * q + 1] & 0x0f) | (((d >> (4 * q)) & 0xf) << 4));
            break;
        }
        case MLXN_TYPE_MXFP4: p[0] = (uint8_t)(110 + t_rng_u64(r) % 20); break;
        default: put16(p, rand_f16_scale(r)); /* d first: the other formats */
        }
    }
}

typedef struct gr_case {
    mlxn_buffer *table, *ids, *y;
    mlxn_get_rows_params p;
    bool use_p;
} gr_case;

static mlxn_status gr_op(mlxn_stream *s, void *ctx) {
    gr_case *c = ctx;
    return mlxn_get_rows(s, c->table, c->ids, c->y, c->use_p ? &c->p : NULL);
}

/* The expected y [n][k] for ids (out-of-range ids give zeros) from the host copy of the rows
 * that were written (rows[r] of row_bytes, or NULL where none). Rounded to ty unless scaled;
 * bound as the file's header says. */
static void expect(mlxn_type tt, mlxn_type ty, unsigned char **rows, int64_t n_rows, size_t row_bytes, int64_t k,
                   const int32_t *ids, int64_t n, const gr_case *c, double *ref, double *bound) {
    float *f = malloc(sizeof(float) * (size_t)k);
    double *deq = malloc(sizeof(double) * (size_t)k);
    const double scale = c->use_p ? c->p.scale : 1.0;
    const double tiny = ty == MLXN_TYPE_F16 ? 0x1p-25 : 0x1p-133;
    for (int64_t i = 0; i < n; i++) {
        int32_t zero_id = -1, one = 0;
        if (ids[i] >= 0 && ids[i] < n_rows) {
            CHECK_ST(mlxn_dequantize_row(tt, rows[ids[i]], f, k), MLXN_OK);
            for (int64_t j = 0; j < k; j++) deq[j] = f[j];
            ref_get_rows(deq, 1, k, &one, 1, scale, ref + i * k);
        } else {
            ref_get_rows(deq, 1, k, &zero_id, 1, scale, ref + i * k);
        }
        for (int64_t j = 0; j < k; j++) {
            double *v = ref + i * k + j;
            if (scale == 1.0) {
                *v = ref_round(*v, ty);
                bound[i * k + j] = 0;
            } else {
                bound[i * k + j] = (0x1p-24 + ref_eps(ty)) * fabs(*v) * (1 + 0x1p-20) + tiny;
            }
        }
    }
    (void)row_bytes;
    free(f);
    free(deq);
}

/* One case: a table of tt [n_rows][k] (rows written: all when n_rows <= 4096, else only those
 * fetched), n ids drawn with repeats and both ends, y of ty. quantize: rows are quantized
 * normal data (types with a quantizer), else random bytes. */
static void gr_run(mlxn_device *dev, mlxn_stream *s, mlxn_type tt, mlxn_type ty, int64_t n_rows, int64_t k, int64_t n,
                   bool quantize, float scale, uint64_t seed) {
    char name[160];
    snprintf(name, sizeof name, "get_rows %s[%lld][%lld] x%lld -> %s%s%s seed=%llu", mlxn_type_name(tt), (long long)n_rows,
             (long long)k, (long long)n, mlxn_type_name(ty), quantize ? " quantized" : "", scale != 1.0f ? " scaled" : "",
             (unsigned long long)seed);
    t_rng r = {seed};
    const size_t rb = mlxn_row_bytes(tt, k);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)(t_rng_u64(&r) % (uint64_t)n_rows);
    if (n >= 2) ids[0] = 0, ids[n - 1] = (int32_t)(n_rows - 1);
    if (n >= 4) ids[2] = ids[1];
    unsigned char **rows = calloc((size_t)n_rows, sizeof *rows);
    gr_case c = {.use_p = scale != 1.0f, .p = {.scale = scale}};
    int64_t tne[2] = {n_rows, k}, yne[2] = {n, k};
    CHECK_ST(mlxn_buffer_alloc(dev, tt, 2, tne, &c.table), MLXN_OK);
    CHECK_ST(mlxn_buffer_alloc(dev, ty, 2, yne, &c.y), MLXN_OK);
    c.ids = i32_buf(dev, 1, &n, ids);
    float *f = malloc(sizeof(float) * (size_t)k);
    for (int64_t q = 0; q < (n_rows <= 4096 ? n_rows : n); q++) {
        const int64_t row = n_rows <= 4096 ? q : ids[q];
        if (rows[row]) continue;
        rows[row] = malloc(rb);
        if (quantize || !mlxn_type_is_quantized(tt)) {
            for (int64_t j = 0; j < k; j++) f[j] = 2.0f * t_rng_normal(&r);
            CHECK_ST(mlxn_quantize_row(tt, f, rows[row], k), MLXN_OK);
        } else {
            rand_blocks(&r, tt, rows[row], k / mlxn_type_block_elems(tt));
        }
        if (c.table) CHECK_ST(mlxn_buffer_write(c.table, (size_t)row * rb, rows[row], rb), MLXN_OK);
    }
    double *ref = malloc(sizeof(double) * (size_t)(n * k)), *bound = malloc(sizeof(double) * (size_t)(n * k));
    double *got = malloc(sizeof(double) * (size_t)(n * k));
    expect(tt, ty, rows, n_rows, rb, k, ids, n, &c, ref, bound);
    if (c.table && c.y && c.ids && t_run_eager_and_replay(name, s, NULL, gr_op, &c, c.y, got))
        t_check_bound(name, got, ref, bound, n * k);
    mlxn_buffer_free(c.table), mlxn_buffer_free(c.ids), mlxn_buffer_free(c.y);
    for (int64_t q = 0; q < n_rows; q++) free(rows[q]);
    free(rows), free(ids), free(f), free(ref), free(bound), free(got);
}

/* Ids outside the table: INVALID_ARG naming the id on the CPU when run eagerly (y untouched),
 * a row of zeros on the device; under graph replay (ids changed after recording) zeros on
 * every backend, and the replay follows the new ids. */
static void gr_bad_ids(mlxn_device *dev, mlxn_stream *s) {
    const int64_t n_rows = 9, k = 64, n = 5;
    const mlxn_type tt = MLXN_TYPE_Q8_0;
    t_rng r = {77};
    const size_t rb = mlxn_row_bytes(tt, k);
    unsigned char *raw = malloc(rb * (size_t)n_rows), *rows[9];
    rand_blocks(&r, tt, raw, n_rows * k / 32);
    for (int q = 0; q < 9; q++) rows[q] = raw + rb * (size_t)q;
    gr_case c = {.use_p = false};
    int64_t tne[2] = {n_rows, k}, yne[2] = {n, k};
    CHECK_ST(mlxn_buffer_alloc(dev, tt, 2, tne, &c.table), MLXN_OK);
    CHECK_ST(mlxn_buffer_write(c.table, 0, raw, rb * (size_t)n_rows), MLXN_OK);
    CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, yne, &c.y), MLXN_OK);
    int32_t good[5] = {3, 0, 8, 8, 1}, bad[5] = {2, 9, 4, -1, 2147483647};
    c.ids = i32_buf(dev, 1, &n, bad);
    double ref[5 * 64], bound[5 * 64], got[5 * 64];
    mlxn_device_props pr;
    mlxn_device_info(dev, &pr);
    t_poison(c.y);
    mlxn_status st = mlxn_get_rows(s, c.table, c.ids, c.y, NULL);
    mlxn_stream_sync(s);
    expect(tt, MLXN_TYPE_F32, rows, n_rows, rb, k, bad, n, &c, ref, bound);
    if (pr.backend == MLXN_BACKEND_CPU) {
        CHECK(st == MLXN_ERR_INVALID_ARG && strstr(mlxn_last_error(), "ids[1] = 9"),
              "get_rows: an id past the table gave %s (%s), want invalid argument naming ids[1] = 9", mlxn_status_str(st),
              mlxn_last_error());
        t_buf_read(c.y, got);
        bool untouched = true;
        for (int i = 0; i < 5 * 64; i++) untouched &= got[i] != got[i];
        CHECK(untouched, "get_rows: a refused call wrote y");
    } else {
        CHECK_ST(st, MLXN_OK);
        t_buf_read(c.y, got);
        t_check_bound("get_rows bad ids on the device: zero rows", got, ref, bound, n * k);
    }
    /* record with good ids, then replay after switching to bad ones and back */
    mlxn_graph *g = NULL;
    CHECK_ST(mlxn_buffer_write(c.ids, 0, good, sizeof good), MLXN_OK);
    CHECK_ST(mlxn_graph_begin(s), MLXN_OK);
    CHECK_ST(mlxn_get_rows(s, c.table, c.ids, c.y, NULL), MLXN_OK);
    CHECK_ST(mlxn_graph_end(s, &g), MLXN_OK);
    const int32_t *sets[2] = {bad, good};
    for (int q = 0; q < 2 && g; q++) {
        CHECK_ST(mlxn_buffer_write(c.ids, 0, sets[q], sizeof good), MLXN_OK);
        t_poison(c.y);
        CHECK_ST(mlxn_graph_replay(s, g), MLXN_OK);
        CHECK_ST(mlxn_stream_sync(s), MLXN_OK);
        expect(tt, MLXN_TYPE_F32, rows, n_rows, rb, k, sets[q], n, &c, ref, bound);
        t_buf_read(c.y, got);
        t_check_bound(q ? "get_rows replay after the ids changed back" : "get_rows replay with bad ids: zero rows", got,
                      ref, bound, n * k);
    }
    mlxn_graph_destroy(g);
    mlxn_buffer_free(c.table), mlxn_buffer_free(c.ids), mlxn_buffer_free(c.y);
    free(raw);
}

/* Expects INVALID_ARG with a message naming the op and `arg`. */
static void bad(mlxn_status st, const char *arg, const char *what) {
    CHECK(st == MLXN_ERR_INVALID_ARG && strstr(mlxn_last_error(), "get_rows") && strstr(mlxn_last_error(), arg),
          "get_rows %s: got %s (%s), want invalid argument naming %s", what, mlxn_status_str(st), mlxn_last_error(), arg);
}

static void gr_bad_args(mlxn_device *dev, mlxn_stream *s) {
    int64_t tne[2] = {4, 32}, ine[1] = {3}, yne[2] = {3, 32}, y3[2] = {3, 33}, t3[3] = {2, 2, 32}, i4[4] = {1, 1, 1, 3};
    mlxn_buffer *t = NULL, *ids = NULL, *y = NULL, *ti = NULL, *tb = NULL, *idf = NULL, *yq = NULL, *yw = NULL, *id4 = NULL;
    mlxn_buffer *ov = NULL;
    mlxn_buffer_alloc(dev, MLXN_TYPE_Q8_0, 2, tne, &t);
    int32_t v[3] = {0, 1, 2};
    ids = i32_buf(dev, 1, ine, v);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, yne, &y);
    mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 2, tne, &ti);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F16, 3, t3, &tb);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, ine, &idf);
    mlxn_buffer_alloc(dev, MLXN_TYPE_Q8_0, 2, yne, &yq);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, y3, &yw);
    mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 4, i4, &id4);
    mlxn_buffer_view(y, 0, MLXN_TYPE_I32, 1, ine, &ov);
    bad(mlxn_get_rows(NULL, t, ids, y, NULL), "stream", "NULL stream");
    bad(mlxn_get_rows(s, NULL, ids, y, NULL), "table", "NULL table");
    bad(mlxn_get_rows(s, t, NULL, y, NULL), "ids", "NULL ids");
    bad(mlxn_get_rows(s, t, ids, NULL, NULL), "y", "NULL y");
    bad(mlxn_get_rows(s, ti, ids, y, NULL), "table is i32", "i32 table");
    bad(mlxn_get_rows(s, tb, ids, y, NULL), "table has shape", "3-D table");
    bad(mlxn_get_rows(s, t, idf, y, NULL), "ids is f32", "f32 ids");
    bad(mlxn_get_rows(s, t, id4, y, NULL), "ids has 4 dims", "4-D ids");
    bad(mlxn_get_rows(s, t, ids, yq, NULL), "y is q8_0", "q8_0 y");
    bad(mlxn_get_rows(s, t, ids, yw, NULL), "y has shape [3, 33]", "wrong y shape");
    bad(mlxn_get_rows(s, t, ov, y, NULL), "y overlaps ids", "y over ids");
    mlxn_buffer *bufs[] = {t, ids, y, ti, tb, idf, yq, yw, id4, ov};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) mlxn_buffer_free(bufs[i]);
}

void t_ops_rows(mlxn_device *dev, mlxn_stream *s) {
    uint64_t seed = 5000;
    /* float tables on ragged row lengths */
    static const int64_t ks[] = {1, 7, 33, 111, 257, 4096};
    static const int64_t ns[] = {1, 7, 33, 111, 257};
    for (int tt = 0; tt < 3; tt++)
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++)
            for (int ty = 0; ty < 3; ty++) {
                int64_t n = ns[(ki + (size_t)ty) % 5];
                gr_run(dev, s, ftypes[tt], ftypes[ty], 33, ks[ki], n, true, ty == 1 ? 0.375f : 1.0f, seed++);
            }
    /* every block format: random bytes and, where a quantizer exists, quantized data */
    for (int t = 0; t < MLXN_TYPE_COUNT; t++) {
        if (!mlxn_type_valid((mlxn_type)t) || !mlxn_type_is_quantized((mlxn_type)t)) continue;
        const int64_t qk = mlxn_type_block_elems((mlxn_type)t);
        gr_run(dev, s, (mlxn_type)t, MLXN_TYPE_F32, 1, qk, 1, false, 1.0f, seed++);
        gr_run(dev, s, (mlxn_type)t, ftypes[t % 3], 7, qk * 3, 33, false, 1.0f, seed++);
        gr_run(dev, s, (mlxn_type)t, ftypes[(t + 1) % 3], 33, qk * (qk == 32 ? 9 : 2), 7, false, -1.5f, seed++);
        gr_run(dev, s, (mlxn_type)t, MLXN_TYPE_BF16, 111, 4096, 3, false, 1.0f, seed++);
        float probe[256] = {0};
        unsigned char blk[512];
        if (mlxn_quantize_row((mlxn_type)t, probe, blk, qk) == MLXN_OK)
            gr_run(dev, s, (mlxn_type)t, MLXN_TYPE_F16, 257, 2 * 256, 111, true, 1.0f, seed++);
    }
    /* real vocabularies: a few ids out of a full-size table */
    gr_run(dev, s, MLXN_TYPE_F16, MLXN_TYPE_F32, 49152, 4096, 7, true, 1.0f, seed++);
    gr_run(dev, s, MLXN_TYPE_Q8_0, MLXN_TYPE_BF16, 49152, 2048, 5, true, 1.0f, seed++);
    gr_run(dev, s, MLXN_TYPE_BF16, MLXN_TYPE_BF16, 151936, 4096, 7, true, 1.0f, seed++);
    gr_run(dev, s, MLXN_TYPE_Q4_K, MLXN_TYPE_F32, 151936, 4096, 6, true, 1.0f, seed++);
    gr_run(dev, s, MLXN_TYPE_Q6_K, MLXN_TYPE_F16, 151936, 5120, 4, false, 1.0f, seed++);
    gr_run(dev, s, MLXN_TYPE_Q4_K, MLXN_TYPE_BF16, 262144, 2560, 7, false, 1.0f, seed++);
    gr_run(dev, s, MLXN_TYPE_Q8_0, MLXN_TYPE_F32, 262144, 1152, 33, true, 33.9411f, seed++); /* Gemma's sqrt(1152) */
    gr_run(dev, s, MLXN_TYPE_IQ4_XS, MLXN_TYPE_F16, 262144, 2560, 5, false, 1.0f, seed++);
    gr_bad_ids(dev, s);
    gr_bad_args(dev, s);
}
