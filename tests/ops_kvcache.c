/* kv_append cases: F16, BF16 and Q8_0 caches [n_kv_heads][L][D] from f32/f16/bf16 rows, head
 * dims 64/128/256, 96 and 160 (and ragged ones for the float caches), decode (M = 1) and
 * prefill appends, ring wrap with more rows than slots (the later row wins), x as [M][H·D] or
 * [M][H][D], graph replay after the positions change, bad positions, and the argument checks.
 *
 * Bound: F16/BF16 caches must hold x rounded to the cache type (bound 0). A Q8_0 cache must
 * hold, byte for byte, mlxn_quantize_row(Q8_0) of the row; against the float64 oracle each
 * value is within d·(1/2 + 127·2^-11)·(1 + 2^-10) of x, d = amax/127 of its block (half a
 * step, plus the fp16 rounding of d over 127 steps). Slots no row lands in keep their poison. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcheck.h"
#include "ops_cases.h"
#include "ref/ref.h"

static const mlxn_type ftypes[3] = {MLXN_TYPE_F32, MLXN_TYPE_F16, MLXN_TYPE_BF16};

static mlxn_buffer *i32_buf(mlxn_device *dev, int64_t n, const int32_t *v) {
    mlxn_buffer *b = NULL;
    if (!CHECK_ST(mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 1, &n, &b), MLXN_OK)) return NULL;
    if (n) CHECK_ST(mlxn_buffer_write(b, 0, v, (size_t)n * 4), MLXN_OK);
    return b;
}

typedef struct kv_case {
    mlxn_buffer *x, *pos, *cache;
    mlxn_kv_append_params p;
} kv_case;

static mlxn_status kv_op(mlxn_stream *s, void *ctx) {
    kv_case *c = ctx;
    return mlxn_kv_append(s, c->x, c->pos, c->cache, &c->p);
}

/* Checks the cache's bytes against the rows the oracle stored (xr: x as the device holds it,
 * [m][h·d]); untouched slots must be all 0xff. */
static void kv_verify(const char *name, const kv_case *c, mlxn_type tc, const double *xr, const int32_t *pos, int64_t m,
                      int64_t h, int64_t l, int64_t d, bool ring) {
    const size_t rb = mlxn_row_bytes(tc, d), bytes = rb * (size_t)(h * l);
    unsigned char *raw = malloc(bytes + 1), *want = malloc(rb + 1), *written = calloc((size_t)(h * l), 1);
    double *ref = malloc(sizeof(double) * (size_t)(h * l * d) + 1), *bound = malloc(sizeof(double) * (size_t)d + 1);
    double *got = malloc(sizeof(double) * (size_t)d + 1);
    float *f = malloc(sizeof(float) * (size_t)d + 1);
    CHECK_ST(mlxn_buffer_read(c->cache, 0, raw, bytes), MLXN_OK);
    ref_kv_append(xr, pos, m, h, l, d, ring, ref, written);
    int64_t bad_rows = 0, bad_poison = 0, bad_oracle = 0;
    for (int64_t r = 0; r < h * l; r++) {
        const unsigned char *row = raw + (size_t)r * rb;
        if (!written[r]) {
            for (size_t b = 0; b < rb; b++) bad_poison += row[b] != 0xff;
            continue;
        }
        for (int64_t e = 0; e < d; e++) f[e] = (float)ref[r * d + e]; /* exact: x's values are f32 values */
        if (tc == MLXN_TYPE_Q8_0) {
            CHECK_ST(mlxn_quantize_row(tc, f, want, d), MLXN_OK);
            bad_rows += memcmp(row, want, rb) != 0;
            CHECK_ST(mlxn_dequantize_row(tc, row, f, d), MLXN_OK);
            for (int64_t b = 0; b < d; b += 32) {
                double amax = 0;
                for (int64_t e = b; e < b + 32; e++) amax = fmax(amax, fabs(ref[r * d + e]));
                for (int64_t e = b; e < b + 32; e++) {
                    got[e] = f[e];
                    bound[e] = amax / 127 * (0.5 + 127 * 0x1p-11) * (1 + 0x1p-10) + 0x1p-24 * 0x1p-14;
                }
            }
            for (int64_t e = 0; e < d; e++) bad_oracle += !(fabs(got[e] - ref[r * d + e]) <= bound[e]);
        } else {
            CHECK_ST(mlxn_quantize_row(tc, f, want, d), MLXN_OK); /* f16/bf16 rows: round to nearest even */
            bad_rows += memcmp(row, want, rb) != 0;
            CHECK_ST(mlxn_dequantize_row(tc, row, f, d), MLXN_OK);
            for (int64_t e = 0; e < d; e++) bad_oracle += f[e] != ref_round(ref[r * d + e], tc);
        }
    }
    CHECK(bad_rows == 0 && bad_poison == 0 && bad_oracle == 0,
          "%s: %lld stored rows differ from the reference bytes, %lld values from the oracle, %lld bytes of untouched "
          "slots were written",
          name, (long long)bad_rows, (long long)bad_oracle, (long long)bad_poison);
    free(raw), free(want), free(written), free(ref), free(bound), free(got), free(f);
}

/* One case; positions: decode-like (consecutive from p0), or random; ring caches get
 * positions past L so rows wrap, and (m > l) several rows per slot. */
static void kv_run(mlxn_device *dev, mlxn_stream *s, mlxn_type tx, mlxn_type tc, int64_t h, int64_t l, int64_t d,
                   int64_t m, bool ring, bool x3d, int32_t p0, uint64_t seed) {
    char name[192];
    snprintf(name, sizeof name, "kv_append %s->%s cache [%lld][%lld][%lld] m=%lld%s%s p0=%d seed=%llu", mlxn_type_name(tx),
             mlxn_type_name(tc), (long long)h, (long long)l, (long long)d, (long long)m, ring ? " ring" : "",
             x3d ? " x[M][H][D]" : "", p0, (unsigned long long)seed);
    t_rng r = {seed};
    const int64_t n = m * h * d;
    double *x = malloc(sizeof(double) * (size_t)n + 1);
    for (int64_t i = 0; i < n; i++) x[i] = 2.0 * t_rng_normal(&r);
    int32_t *pos = malloc(sizeof(int32_t) * (size_t)m + 1);
    for (int64_t i = 0; i < m; i++) pos[i] = p0 + (int32_t)i;
    if (!ring && seed % 2) /* shuffled distinct positions */
        for (int64_t i = m - 1; i > 0; i--) {
            int64_t j = (int64_t)(t_rng_u64(&r) % (uint64_t)(i + 1));
            int32_t t = pos[i];
            pos[i] = pos[j], pos[j] = t;
        }
    kv_case c = {.p = {.ring = ring}};
    int64_t x2[2] = {m, h * d}, x3[3] = {m, h, d}, cne[3] = {h, l, d};
    c.x = x3d ? t_buf_from(dev, tx, 3, x3, x) : t_buf_from(dev, tx, 2, x2, x);
    c.pos = i32_buf(dev, m, pos);
    CHECK_ST(mlxn_buffer_alloc(dev, tc, 3, cne, &c.cache), MLXN_OK);
    mlxn_buffer *as16 = NULL; /* the cache's bytes as f16, for the harness's poison and compare */
    int64_t half = (int64_t)(mlxn_buffer_bytes(c.cache) / 2);
    if (c.cache) mlxn_buffer_view(c.cache, 0, MLXN_TYPE_F16, 1, &half, &as16);
    double *junk = malloc(sizeof(double) * (size_t)half + 1);
    if (c.x && c.pos && as16 && t_run_eager_and_replay(name, s, NULL, kv_op, &c, as16, junk))
        kv_verify(name, &c, tc, x, pos, m, h, l, d, ring);
    mlxn_buffer_free(as16), mlxn_buffer_free(c.x), mlxn_buffer_free(c.pos), mlxn_buffer_free(c.cache);
    free(x), free(pos), free(junk);
}

/* Replay follows the positions: record one decode append, then replay it for steps 0..4 with
 * pos rewritten each time (ring of 3 slots: step 3 and 4 wrap), checking every step; and a
 * bad position (skipped on the device and in replay, INVALID_ARG on the CPU eagerly). */
static void kv_replay_and_bad(mlxn_device *dev, mlxn_stream *s, mlxn_type tc) {
    const int64_t h = 2, l = 3, d = 64;
    t_rng r = {91};
    double x[2 * 64];
    for (int i = 0; i < 2 * 64; i++) x[i] = t_rng_normal(&r);
    int64_t xne[2] = {1, h * d}, cne[3] = {h, l, d};
    kv_case c = {.p = {.ring = true}};
    int32_t p = 0;
    c.x = t_buf_from(dev, MLXN_TYPE_BF16, 2, xne, x);
    c.pos = i32_buf(dev, 1, &p);
    CHECK_ST(mlxn_buffer_alloc(dev, tc, 3, cne, &c.cache), MLXN_OK);
    const size_t bytes = mlxn_buffer_bytes(c.cache), rb = mlxn_row_bytes(tc, d);
    unsigned char *raw = malloc(bytes), *want = malloc(bytes), ff = 0xff;
    memset(want, 0xff, bytes);
    mlxn_buffer_fill(c.cache, &ff, 1);
    mlxn_graph *g = NULL;
    CHECK_ST(mlxn_graph_begin(s), MLXN_OK);
    CHECK_ST(mlxn_kv_append(s, c.x, c.pos, c.cache, &c.p), MLXN_OK);
    CHECK_ST(mlxn_graph_end(s, &g), MLXN_OK);
    float f[2 * 64];
    for (int i = 0; i < 2 * 64; i++) f[i] = (float)x[i];
    for (p = 0; p < 5 && g; p++) {
        CHECK_ST(mlxn_buffer_write(c.pos, 0, &p, 4), MLXN_OK);
        CHECK_ST(mlxn_graph_replay(s, g), MLXN_OK);
        CHECK_ST(mlxn_stream_sync(s), MLXN_OK);
        for (int hh = 0; hh < 2; hh++) mlxn_quantize_row(tc, f + 64 * hh, want + ((size_t)hh * 3 + (size_t)(p % 3)) * rb, d);
        CHECK_ST(mlxn_buffer_read(c.cache, 0, raw, bytes), MLXN_OK);
        CHECK(memcmp(raw, want, bytes) == 0, "kv_append %s: replay at position %d wrote other bytes", mlxn_type_name(tc), p);
    }
    /* bad positions: negative (also in a ring) and, without ring, >= L */
    mlxn_device_props pr;
    mlxn_device_info(dev, &pr);
    const int32_t bad[2] = {-1, 3};
    for (int q = 0; q < 2; q++) {
        c.p.ring = q == 0;
        CHECK_ST(mlxn_buffer_write(c.pos, 0, &bad[q], 4), MLXN_OK);
        mlxn_status st = mlxn_kv_append(s, c.x, c.pos, c.cache, &c.p);
        mlxn_stream_sync(s);
        CHECK_ST(mlxn_buffer_read(c.cache, 0, raw, bytes), MLXN_OK);
        if (pr.backend == MLXN_BACKEND_CPU)
            CHECK(st == MLXN_ERR_INVALID_ARG && strstr(mlxn_last_error(), "pos[0] ="),
                  "kv_append: position %d gave %s (%s), want invalid argument naming pos[0]", bad[q], mlxn_status_str(st),
                  mlxn_last_error());
        else
            CHECK_ST(st, MLXN_OK);
        CHECK(memcmp(raw, want, bytes) == 0, "kv_append %s: position %d (%s) changed the cache", mlxn_type_name(tc), bad[q],
              q ? "past L" : "negative");
    }
    if (g) { /* and through the recorded ring graph: skipped there too */
        CHECK_ST(mlxn_buffer_write(c.pos, 0, &bad[0], 4), MLXN_OK);
        CHECK_ST(mlxn_graph_replay(s, g), MLXN_OK);
        CHECK_ST(mlxn_stream_sync(s), MLXN_OK);
        CHECK_ST(mlxn_buffer_read(c.cache, 0, raw, bytes), MLXN_OK);
        CHECK(memcmp(raw, want, bytes) == 0, "kv_append %s: replay with a negative position changed the cache",
              mlxn_type_name(tc));
    }
    mlxn_graph_destroy(g);
    mlxn_buffer_free(c.x), mlxn_buffer_free(c.pos), mlxn_buffer_free(c.cache);
    free(raw), free(want);
}

static void bad(mlxn_status st, const char *arg, const char *what) {
    CHECK(st == MLXN_ERR_INVALID_ARG && strstr(mlxn_last_error(), "kv_append") && strstr(mlxn_last_error(), arg),
          "kv_append %s: got %s (%s), want invalid argument naming %s", what, mlxn_status_str(st), mlxn_last_error(), arg);
}

static void kv_bad_args(mlxn_device *dev, mlxn_stream *s) {
    int64_t cne[3] = {2, 8, 64}, c2[2] = {16, 64}, cq[3] = {2, 8, 48}, xne[2] = {3, 128}, xw[2] = {3, 96}, pne = 3, p4 = 4;
    mlxn_buffer *cache = NULL, *cf32 = NULL, *c2d = NULL, *cq48 = NULL, *x = NULL, *xi = NULL, *xbad = NULL, *pos = NULL,
                *pf = NULL, *p4b = NULL, *ov = NULL;
    mlxn_buffer_alloc(dev, MLXN_TYPE_F16, 3, cne, &cache);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 3, cne, &cf32);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F16, 2, c2, &c2d);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F16, 3, cq, &cq48);
    mlxn_buffer_alloc(dev, MLXN_TYPE_BF16, 2, xne, &x);
    mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 2, xne, &xi);
    mlxn_buffer_alloc(dev, MLXN_TYPE_BF16, 2, xw, &xbad);
    mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 1, &pne, &pos);
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, &pne, &pf);
    mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 1, &p4, &p4b);
    mlxn_buffer_view(cache, 0, MLXN_TYPE_I32, 1, &pne, &ov);
    bad(mlxn_kv_append(NULL, x, pos, cache, NULL), "stream", "NULL stream");
    bad(mlxn_kv_append(s, NULL, pos, cache, NULL), "x is NULL", "NULL x");
    bad(mlxn_kv_append(s, x, NULL, cache, NULL), "pos is NULL", "NULL pos");
    bad(mlxn_kv_append(s, x, pos, NULL, NULL), "cache is NULL", "NULL cache");
    bad(mlxn_kv_append(s, x, pos, cf32, NULL), "cache is f32", "f32 cache");
    bad(mlxn_kv_append(s, x, pos, c2d, NULL), "cache has shape [16, 64]", "2-D cache");
    bad(mlxn_kv_append(s, xi, pos, cache, NULL), "x is i32", "i32 x");
    bad(mlxn_kv_append(s, xbad, pos, cache, NULL), "x has shape [3, 96]", "x of other heads");
    bad(mlxn_kv_append(s, x, pf, cache, NULL), "pos is f32", "f32 pos");
    bad(mlxn_kv_append(s, x, p4b, cache, NULL), "pos has shape [4]", "pos of other rows");
    bad(mlxn_kv_append(s, x, ov, cache, NULL), "cache overlaps pos", "cache over pos");
    (void)cq48;
    mlxn_buffer *bufs[] = {cache, cf32, c2d, cq48, x, xi, xbad, pos, pf, p4b, ov};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) mlxn_buffer_free(bufs[i]);
}

void t_ops_kvcache(mlxn_device *dev, mlxn_stream *s) {
    uint64_t seed = 9000;
    static const mlxn_type ctypes[3] = {MLXN_TYPE_F16, MLXN_TYPE_BF16, MLXN_TYPE_Q8_0};
    static const int64_t ds[] = {64, 128, 256, 32};
    for (int ct = 0; ct < 3; ct++)
        for (int xt = 0; xt < 3; xt++)
            for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++) {
                const int64_t d = ds[di];
                kv_run(dev, s, ftypes[xt], ctypes[ct], 1, 1, d, 1, false, false, 0, seed++);               /* tiny */
                kv_run(dev, s, ftypes[xt], ctypes[ct], 8, 33, d, 1, false, di % 2, 17, seed++);            /* decode */
                kv_run(dev, s, ftypes[xt], ctypes[ct], 2, 111, d, 7, false, false, 100, seed++);           /* ragged */
                kv_run(dev, s, ftypes[xt], ctypes[ct], 4, 257, d, 111, false, true, 3, seed++);            /* prefill */
                kv_run(dev, s, ftypes[xt], ctypes[ct], 2, 7, d, 5, true, false, 33, seed++);               /* ring */
                kv_run(dev, s, ftypes[xt], ctypes[ct], 3, 7, d, 33, true, false, 1000, seed++);            /* ring, m > l */
                kv_run(dev, s, ftypes[xt], ctypes[ct], 2, 5, d, 100, true, false, 7, seed++); /* many rows per slot */
            }
    for (int ct = 0; ct < 2; ct++) /* ragged head dims for the float caches */
        for (int64_t d = 1; d <= 257; d = d * 4 + 3) kv_run(dev, s, ftypes[ct + 1], ctypes[ct], 3, 9, d, 4, d % 2, false, 2, seed++);
    /* head dims that are multiples of 32 but not powers of two (the CUDA row kernel divides by D) */
    for (int ct = 0; ct < 3; ct++) {
        kv_run(dev, s, MLXN_TYPE_BF16, ctypes[ct], 3, 257, 96, 111, false, true, 3, seed++);
        kv_run(dev, s, MLXN_TYPE_F32, ctypes[ct], 2, 33, 160, 5, true, false, 40, seed++);
    }
    /* real: Llama-3-8B (8 KV heads, D 128) decode at 4095 and a 512-token prefill; Gemma-3
     * local layers (D 256, 1024-slot ring) */
    kv_run(dev, s, MLXN_TYPE_BF16, MLXN_TYPE_F16, 8, 4096, 128, 1, false, false, 4095, seed++);
    kv_run(dev, s, MLXN_TYPE_F32, MLXN_TYPE_Q8_0, 8, 4096, 128, 512, false, true, 1024, seed++);
    kv_run(dev, s, MLXN_TYPE_BF16, MLXN_TYPE_BF16, 4, 1024, 256, 333, true, false, 5000, seed++);
    kv_run(dev, s, MLXN_TYPE_F16, MLXN_TYPE_Q8_0, 4, 1024, 256, 1, true, false, 70000, seed++);
    /* Q8_0 rows of 2048 elements (a warp quantizes a row in several rounds of 128 chunks) */
    kv_run(dev, s, MLXN_TYPE_BF16, MLXN_TYPE_Q8_0, 16, 257, 128, 111, false, true, 3, seed++);
    for (int ct = 0; ct < 3; ct++) kv_replay_and_bad(dev, s, ctypes[ct]);
    kv_bad_args(dev, s);
}
