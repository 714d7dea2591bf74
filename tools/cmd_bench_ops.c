/* mlxn bench ops: the memory-bound transformer ops (norms, RoPE, softmax, activations,
 * get_rows, layout copies, KV-cache append) on rows x 4096, and sampling over a 262144-entry
 * vocabulary. Every memory-bound case moves at least 32 MB per call at the default size and
 * rotates over copies of its operands that together exceed 4x the last-level cache, so each
 * call reads from and writes to memory; its bandwidth (bytes read + written per second) is
 * printed against the device copy bandwidth measured in the same run (the larger of mlxn_copy
 * and the driver's buffer copy on the same bytes). GPU times are graph replays of many calls;
 * sampling is reported in microseconds per call. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlxn.h"
#include "cli.h"
#include "cmd_bench.h"

#define MAXC 16   /* rotated copies at most */
#define NBUF 6    /* operands of one case */
#define SAMPLE_V 262144
#define TABLE_ROWS 32768 /* get_rows: table rows (8192 ids of rows x 4096 are drawn from it) */

typedef struct rbuf {
    mlxn_buffer *all, *v[MAXC];
} rbuf;

typedef struct bctx {
    mlxn_device *dev;
    mlxn_stream *s;
    bool cuda;
    int reps, json, first;
    size_t rotate;
    double copy_bw; /* the ceiling, bytes/s */
    char filter[256];
} bctx;

/* One case: up to NBUF rotated operands (copies of each), the op, and its parameters. */
typedef struct ocase ocase;
struct ocase {
    rbuf b[NBUF];
    int copies;
    mlxn_buffer *fixed[2]; /* operands shared by every copy (weights, tables, masks, ...) */
    mlxn_status (*call)(const ocase *c, mlxn_stream *s, int i);
    mlxn_norm_params np;
    mlxn_rope_params rp;
    mlxn_softmax_params sp;
    mlxn_act_params ap;
    mlxn_permute_params pp;
    mlxn_slice_params slp;
    mlxn_sample_params smp;
    int variant;
};

static int usage(FILE *f) {
    fprintf(f, "usage: mlxn bench ops [--backend cpu|cuda] [--rows N] [--op NAME,...] [--threads N] [--reps N] [--json]\n"
               "  every memory-bound op on [rows][4096] (default rows 4096; KV append takes 4·rows rows of\n"
               "  8 heads x 128) against the same-run device copy bandwidth, and sampling over %d logits.\n"
               "  --op keeps the cases whose name contains one of the words (e.g. --op softmax,sample).\n",
            SAMPLE_V);
    return f == stderr ? 2 : 0;
}

static bool wanted(const bctx *c, const char *name) {
    if (!c->filter[0]) return true;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", c->filter);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (strstr(name, t)) return true;
    return false;
}

static uint64_t rng_next(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

/* n values of type t (F32/F16/BF16) uniform in [-1, 1), bits into h. */
static void rand_floats(mlxn_type t, void *h, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        const float f = (float)((double)rng_next(&seed) / 9007199254740992.0 * 2.0 - 1.0);
        uint32_t u;
        memcpy(&u, &f, 4);
        if (t == MLXN_TYPE_F32) {
            memcpy((char *)h + 4 * i, &f, 4);
        } else if (t == MLXN_TYPE_BF16) {
            const uint16_t v = (uint16_t)(u >> 16);
            memcpy((char *)h + 2 * i, &v, 2);
        } else { /* f16 with |v| < 1: sign, exponent 1..14, 10 random mantissa bits */
            const uint16_t v = (uint16_t)((u >> 16 & 0x8000u) | (uint16_t)((1 + rng_next(&seed) % 14) << 10) |
                                          (uint16_t)(rng_next(&seed) & 0x3ffu));
            memcpy((char *)h + 2 * i, &v, 2);
        }
    }
}

/* `copies` views of type t and shape ne in one allocation; fill: 0 leave zero, 1 random
 * values (float types), 2 I32 positions 0..n-1, 3 I32 random ids below `lim`. */
static mlxn_status rb_alloc(bctx *c, rbuf *r, int copies, mlxn_type t, int nd, const int64_t *ne, int fill, int64_t lim) {
    int64_t n = 1;
    for (int d = 0; d < nd; d++) n *= ne[d];
    const size_t bytes = mlxn_row_bytes(t, ne[nd - 1]) * (size_t)(n / ne[nd - 1]);
    const size_t stride = (bytes + 255) / 256 * 256;
    const int64_t all_ne[1] = {(int64_t)(stride * (size_t)copies)};
    mlxn_status st = mlxn_buffer_alloc(c->dev, MLXN_TYPE_U8, 1, all_ne, &r->all);
    for (int i = 0; !st && i < copies; i++) st = mlxn_buffer_view(r->all, stride * (size_t)i, t, nd, ne, &r->v[i]);
    if (st || !fill) return st;
    void *h = malloc(bytes ? bytes : 1);
    if (!h) return MLXN_ERR_OUT_OF_MEMORY;
    uint64_t seed = 0x9e3779b9u + (uint64_t)bytes;
    for (int i = 0; !st && i < copies; i++) {
        if (fill == 1) rand_floats(t, h, (size_t)n, seed + (uint64_t)i);
        else
            for (int64_t k = 0; k < n; k++) ((int32_t *)h)[k] = fill == 2 ? (int32_t)k : (int32_t)(rng_next(&seed) % (uint64_t)lim);
        st = mlxn_buffer_write(r->v[i], 0, h, bytes);
    }
    free(h);
    return st;
}

static void rb_free(rbuf *r) {
    for (int i = 0; i < MAXC; i++) mlxn_buffer_free(r->v[i]);
    mlxn_buffer_free(r->all);
    memset(r, 0, sizeof *r);
}

static void case_free(ocase *k) {
    for (int i = 0; i < NBUF; i++) rb_free(&k->b[i]);
    mlxn_buffer_free(k->fixed[0]), mlxn_buffer_free(k->fixed[1]);
}

/* Copies whose working sets (bytes each) together exceed the rotation size. */
static int copies_for(const bctx *c, double bytes) {
    int n = (int)((double)c->rotate / (bytes > 1 ? bytes : 1)) + 1;
    return n < 2 ? 2 : n > MAXC ? MAXC : n;
}

static int cmp_d(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median seconds per call of k->call(i) with i cycling over the copies: on CUDA graph replays
 * of `per` recorded calls, on the CPU plain calls for at least 20 ms per sample. */
static double time_case(bctx *c, const ocase *k, mlxn_status *st) {
    double v[32];
    const int reps = c->reps > 32 ? 32 : c->reps;
    if (c->cuda) {
        const int per = k->copies * ((64 + k->copies - 1) / k->copies);
        mlxn_graph *g = NULL;
        if ((*st = k->call(k, c->s, 0)) || (*st = mlxn_stream_sync(c->s))) return -1; /* eager once: checks it runs */
        if ((*st = mlxn_graph_begin(c->s))) return -1;
        for (int i = 0; i < per && !*st; i++) *st = k->call(k, c->s, i % k->copies);
        const mlxn_status e = mlxn_graph_end(c->s, &g);
        if (*st || (*st = e)) {
            mlxn_graph_destroy(g);
            return -1;
        }
        for (int r = -2; r < reps; r++) {
            const double t0 = bench_now();
            if ((*st = mlxn_graph_replay(c->s, g)) || (*st = mlxn_stream_sync(c->s))) break;
            if (r >= 0) v[r] = (bench_now() - t0) / per;
        }
        mlxn_graph_destroy(g);
        if (*st) return -1;
    } else {
        int i = 0;
        if ((*st = k->call(k, c->s, i++ % k->copies)) || (*st = mlxn_stream_sync(c->s))) return -1;
        for (int r = 0; r < reps; r++) {
            int calls = 0;
            double t0 = bench_now(), el;
            do {
                if ((*st = k->call(k, c->s, i++ % k->copies))) return -1;
                calls++;
                if ((*st = mlxn_stream_sync(c->s))) return -1;
                el = bench_now() - t0;
            } while (el < 0.02 || calls < k->copies);
            v[r] = el / calls;
        }
    }
    qsort(v, (size_t)reps, sizeof v[0], cmp_d);
    return v[reps / 2];
}

static void report(bctx *c, const char *op, const char *type, const char *shape, double bytes, double sec) {
    const double gbs = bytes > 0 ? bytes / sec / 1e9 : 0, ratio = bytes > 0 && c->copy_bw > 0 ? bytes / sec / c->copy_bw : -1;
    if (c->json) {
        printf("%s  {\"op\": \"%s\", \"type\": \"%s\", \"shape\": \"%s\", \"bytes\": %.0f, \"us\": %.3f, \"gbs\": %.2f, "
               "\"ratio\": %.4f}",
               c->first ? "" : ",\n", op, type, shape, bytes, sec * 1e6, gbs, ratio);
        c->first = 0;
    } else if (bytes > 0) {
        printf("%-35s %-10s %-26s %10.2f %9.1f %7.1f%%\n", op, type, shape, sec * 1e6, gbs, 100 * ratio);
    } else {
        printf("%-35s %-10s %-26s %10.2f %9s %8s\n", op, type, shape, sec * 1e6, "-", "-");
    }
    fflush(stdout);
}

/* Times case k (built by the caller) and reports it; frees k. Returns 0, or 1 on a failure. */
static int run_case(bctx *c, ocase *k, const char *op, const char *type, const char *shape, double bytes) {
    mlxn_status st = MLXN_OK;
    const double sec = time_case(c, k, &st);
    case_free(k);
    if (sec <= 0) {
        fprintf(stderr, "mlxn bench ops: %s %s %s: %s: %s\n", op, type, shape, mlxn_status_str(st), mlxn_last_error());
        return 1;
    }
    report(c, op, type, shape, bytes, sec);
    return 0;
}

#define B(k, j, i) ((k)->b[j].v[i])

/* ── the ops ── */
static mlxn_status c_copy(const ocase *k, mlxn_stream *s, int i) { return mlxn_copy(s, B(k, 0, i), B(k, 1, i), NULL); }
static mlxn_status c_cast(const ocase *k, mlxn_stream *s, int i) { return mlxn_copy_strided(s, B(k, 0, i), B(k, 1, i), NULL); }
static mlxn_status c_rms(const ocase *k, mlxn_stream *s, int i) { return mlxn_rms_norm(s, B(k, 0, i), k->fixed[0], B(k, 1, i), &k->np); }
static mlxn_status c_rms_res(const ocase *k, mlxn_stream *s, int i) {
    return mlxn_rms_norm_residual(s, B(k, 0, i), B(k, 2, i), k->fixed[0], B(k, 3, i), B(k, 1, i), &k->np);
}
static mlxn_status c_layer(const ocase *k, mlxn_stream *s, int i) {
    return mlxn_layer_norm(s, B(k, 0, i), k->fixed[0], k->fixed[1], B(k, 1, i), &k->np);
}
static mlxn_status c_l2(const ocase *k, mlxn_stream *s, int i) { return mlxn_l2_norm(s, B(k, 0, i), B(k, 1, i), &k->np); }
static mlxn_status c_rope(const ocase *k, mlxn_stream *s, int i) { return mlxn_rope(s, B(k, 0, i), B(k, 2, i), NULL, B(k, 1, i), &k->rp); }
static mlxn_status c_softmax(const ocase *k, mlxn_stream *s, int i) { return mlxn_softmax(s, B(k, 0, i), k->fixed[0], B(k, 1, i), &k->sp); }
static mlxn_status c_act(const ocase *k, mlxn_stream *s, int i) {
    switch (k->variant) {
    case 0: return mlxn_silu(s, B(k, 0, i), B(k, 1, i), &k->ap);
    case 1: return mlxn_gelu(s, B(k, 0, i), B(k, 1, i), &k->ap);
    case 2: return mlxn_softcap(s, B(k, 0, i), B(k, 1, i), &k->ap);
    case 3: return mlxn_swiglu(s, B(k, 0, i), NULL, B(k, 1, i), &k->ap);
    case 4: return mlxn_swiglu(s, B(k, 0, i), B(k, 2, i), B(k, 1, i), &k->ap);
    case 5: return mlxn_geglu(s, B(k, 0, i), B(k, 2, i), B(k, 1, i), &k->ap);
    default: return mlxn_sigmoid_mul(s, B(k, 0, i), B(k, 2, i), B(k, 1, i), &k->ap);
    }
}
static mlxn_status c_get_rows(const ocase *k, mlxn_stream *s, int i) { return mlxn_get_rows(s, k->fixed[0], B(k, 2, i), B(k, 1, i), NULL); }
static mlxn_status c_layout(const ocase *k, mlxn_stream *s, int i) {
    switch (k->variant) {
    case 0: return mlxn_transpose(s, B(k, 0, i), B(k, 1, i), NULL);
    case 1: return mlxn_permute(s, B(k, 0, i), B(k, 1, i), &k->pp);
    case 2: return mlxn_slice(s, B(k, 0, i), B(k, 1, i), &k->slp);
    default: return mlxn_concat(s, B(k, 0, i), B(k, 2, i), B(k, 1, i), NULL);
    }
}
static mlxn_status c_kv(const ocase *k, mlxn_stream *s, int i) { return mlxn_kv_append(s, B(k, 0, i), B(k, 2, i), B(k, 1, i), NULL); }
static mlxn_status c_argmax(const ocase *k, mlxn_stream *s, int i) { return mlxn_argmax(s, B(k, 0, i), B(k, 1, i), NULL); }
static mlxn_status c_top_k(const ocase *k, mlxn_stream *s, int i) { return mlxn_top_k(s, B(k, 0, i), B(k, 2, i), B(k, 1, i), NULL); }
static mlxn_status c_sample(const ocase *k, mlxn_stream *s, int i) {
    return mlxn_sample(s, B(k, 0, i), k->variant ? k->fixed[1] : NULL, k->fixed[0], B(k, 1, i), &k->smp);
}

static const char *tn(mlxn_type t) { return mlxn_type_name(t); }

/* Allocates the listed rotated operands (nb of them: type, dims, fill); 0 or a status. */
typedef struct bspec {
    mlxn_type t;
    int nd;
    int64_t ne[4];
    int fill;
    int64_t lim;
} bspec;

static mlxn_status build(bctx *c, ocase *k, const bspec *sp, int nb, double bytes) {
    k->copies = copies_for(c, bytes);
    mlxn_status st = MLXN_OK;
    for (int j = 0; j < nb && !st; j++) st = rb_alloc(c, &k->b[j], k->copies, sp[j].t, sp[j].nd, sp[j].ne, sp[j].fill, sp[j].lim);
    if (st) fprintf(stderr, "mlxn bench ops: buffers: %s: %s\n", mlxn_status_str(st), mlxn_last_error());
    return st;
}

static double tbytes(mlxn_type t, double n) { return n * (double)mlxn_row_bytes(t, 256) / 256.0; }

static mlxn_status fixed_floats(bctx *c, mlxn_buffer **b, mlxn_type t, int nd, const int64_t *ne, int ones) {
    mlxn_status st = mlxn_buffer_alloc(c->dev, t, nd, ne, b);
    if (st) return st;
    const size_t bytes = mlxn_buffer_bytes(*b), n = (size_t)mlxn_buffer_nelements(*b);
    void *h = malloc(bytes ? bytes : 1);
    if (!h) return MLXN_ERR_OUT_OF_MEMORY;
    rand_floats(t, h, n, 4242);
    if (ones && t == MLXN_TYPE_F32)
        for (size_t i = 0; i < n; i++) ((float *)h)[i] = 1.0f + 0.5f * ((float *)h)[i];
    st = mlxn_buffer_write(*b, 0, h, bytes);
    free(h);
    return st;
}

/* Norms, RoPE, softmax, activations on [rows][4096] of type t. */
static int bench_rowops(bctx *c, int64_t R, mlxn_type t) {
    const int64_t n = 4096, wn[1] = {n};
    const double X = tbytes(t, (double)R * (double)n);
    char shp[64], shp2[64], shh[64];
    snprintf(shp, sizeof shp, "%lldx%lld", (long long)R, (long long)n);
    snprintf(shp2, sizeof shp2, "%lldx%lld -> %lldx%lld", (long long)R, (long long)(2 * n), (long long)R, (long long)n);
    snprintf(shh, sizeof shh, "%lldx32x128", (long long)R);
    int fails = 0;
    ocase k;
#define START(nm)                  \
    memset(&k, 0, sizeof k);       \
    if (wanted(c, nm))
    START("copy") {
        const bspec b[2] = {{t, 2, {R, n}, 1, 0}, {t, 2, {R, n}, 0, 0}};
        k.call = c_copy;
        if (!build(c, &k, b, 2, 2 * X)) fails += run_case(c, &k, "copy", tn(t), shp, 2 * X);
        else case_free(&k), fails++;
    }
    START("cast") {
        const mlxn_type to = t == MLXN_TYPE_F32 ? MLXN_TYPE_BF16 : MLXN_TYPE_F32;
        const bspec b[2] = {{t, 2, {R, n}, 1, 0}, {to, 2, {R, n}, 0, 0}};
        const double by = X + tbytes(to, (double)R * (double)n);
        char ty[32];
        snprintf(ty, sizeof ty, "%s->%s", tn(t), tn(to));
        k.call = c_cast;
        if (!build(c, &k, b, 2, by)) fails += run_case(c, &k, "cast (copy_strided)", ty, shp, by);
        else case_free(&k), fails++;
    }
    START("rms_norm") {
        const bspec b[2] = {{t, 2, {R, n}, 1, 0}, {t, 2, {R, n}, 0, 0}};
        k.call = c_rms, k.np = mlxn_norm_defaults();
        if (!build(c, &k, b, 2, 2 * X) && !fixed_floats(c, &k.fixed[0], MLXN_TYPE_F32, 1, wn, 1))
            fails += run_case(c, &k, "rms_norm", tn(t), shp, 2 * X);
        else case_free(&k), fails++;
    }
    START("rms_norm_residual") {
        const bspec b[4] = {{t, 2, {R, n}, 1, 0}, {t, 2, {R, n}, 0, 0}, {t, 2, {R, n}, 1, 0}, {t, 2, {R, n}, 0, 0}};
        k.call = c_rms_res, k.np = mlxn_norm_defaults();
        if (!build(c, &k, b, 4, 4 * X) && !fixed_floats(c, &k.fixed[0], MLXN_TYPE_F32, 1, wn, 1))
            fails += run_case(c, &k, "rms_norm_residual", tn(t), shp, 4 * X);
        else case_free(&k), fails++;
    }
    START("rms_norm qk (head_dim 128)") {
        const bspec b[2] = {{t, 2, {R, n}, 1, 0}, {t, 2, {R, n}, 0, 0}};
        const int64_t w1[1] = {128};
        k.call = c_rms, k.np = mlxn_norm_defaults(), k.np.head_dim = 128;
        if (!build(c, &k, b, 2, 2 * X) && !fixed_floats(c, &k.fixed[0], MLXN_TYPE_F32, 1, w1, 1))
            fails += run_case(c, &k, "rms_norm qk (head_dim 128)", tn(t), shp, 2 * X);
        else case_free(&k), fails++;
    }
    START("layer_norm") {
        const bspec b[2] = {{t, 2, {R, n}, 1, 0}, {t, 2, {R, n}, 0, 0}};
        k.call = c_layer, k.np = mlxn_norm_defaults();
        if (!build(c, &k, b, 2, 2 * X) && !fixed_floats(c, &k.fixed[0], MLXN_TYPE_F32, 1, wn, 1) &&
            !fixed_floats(c, &k.fixed[1], MLXN_TYPE_F32, 1, wn, 0))
            fails += run_case(c, &k, "layer_norm (w, b)", tn(t), shp, 2 * X);
        else case_free(&k), fails++;
    }
    START("l2_norm") {
        const bspec b[2] = {{t, 2, {R, n}, 1, 0}, {t, 2, {R, n}, 0, 0}};
        k.call = c_l2, k.np = mlxn_norm_defaults();
        if (!build(c, &k, b, 2, 2 * X)) fails += run_case(c, &k, "l2_norm", tn(t), shp, 2 * X);
        else case_free(&k), fails++;
    }
    for (int mode = 0; mode < 2; mode++) {
        const char *nm = mode ? "rope neox" : "rope normal";
        START(nm) {
            const bspec b[3] = {{t, 3, {R, 32, 128}, 1, 0}, {t, 3, {R, 32, 128}, 0, 0}, {MLXN_TYPE_I32, 1, {R}, 2, 0}};
            k.call = c_rope, k.rp = mlxn_rope_defaults(), k.rp.mode = mode ? MLXN_ROPE_NEOX : MLXN_ROPE_NORMAL;
            k.rp.freq_base = 500000.0f;
            if (!build(c, &k, b, 3, 2 * X)) fails += run_case(c, &k, nm, tn(t), shh, 2 * X + 4.0 * (double)R);
            else case_free(&k), fails++;
        }
    }
    START("softmax (scale, row mask)") {
        const bspec b[2] = {{t, 2, {R, n}, 1, 0}, {t, 2, {R, n}, 0, 0}};
        const int64_t mn[2] = {1, n};
        k.call = c_softmax, k.sp = mlxn_softmax_defaults(), k.sp.scale = 0.0883883f;
        if (!build(c, &k, b, 2, 2 * X) && !fixed_floats(c, &k.fixed[0], MLXN_TYPE_F16, 2, mn, 0))
            fails += run_case(c, &k, "softmax (scale, row mask)", tn(t), shp, 2 * X);
        else case_free(&k), fails++;
    }
    START("softmax (softcap 50)") {
        const bspec b[2] = {{t, 2, {R, n}, 1, 0}, {t, 2, {R, n}, 0, 0}};
        k.call = c_softmax, k.sp = mlxn_softmax_defaults(), k.sp.softcap = 50.0f;
        if (!build(c, &k, b, 2, 2 * X)) fails += run_case(c, &k, "softmax (softcap 50)", tn(t), shp, 2 * X);
        else case_free(&k), fails++;
    }
    static const char *acts[] = {"silu", "gelu tanh", "softcap", "swiglu (fused gate-up)", "swiglu (a, b)", "geglu (a, b)",
                                 "sigmoid_mul", "gelu erf"};
    for (int a = 0; a < 8; a++) {
        START(acts[a]) {
            const bool fused = a == 3, two = a >= 4 && a <= 6;
            const bspec b[3] = {{t, 2, {R, fused ? 2 * n : n}, 1, 0}, {t, 2, {R, n}, 0, 0}, {t, 2, {R, n}, 1, 0}};
            const double by = fused || two ? 3 * X : 2 * X;
            k.call = c_act, k.variant = a == 7 ? 1 : a, k.ap = mlxn_act_defaults();
            if (a == 7) k.ap.gelu = MLXN_GELU_ERF;
            if (!build(c, &k, b, two ? 3 : 2, by)) fails += run_case(c, &k, acts[a], tn(t), fused ? shp2 : shp, by);
            else case_free(&k), fails++;
        }
    }
#undef START
    return fails;
}

/* A [rows][k] table of type t: 64 rows quantized from random values by the reference
 * quantizer (or random float rows), tiled. */
static mlxn_status make_table(bctx *c, mlxn_type t, int64_t rows, int64_t k, mlxn_buffer **out) {
    const int64_t ne[2] = {rows, k};
    const size_t rb = mlxn_row_bytes(t, k);
    mlxn_status st = mlxn_buffer_alloc(c->dev, t, 2, ne, out);
    if (st) return st;
    const int64_t tmpl = 64;
    unsigned char *h = malloc(rb * (size_t)tmpl);
    float *row = malloc(sizeof(float) * (size_t)k);
    if (!h || !row) {
        free(h), free(row);
        return MLXN_ERR_OUT_OF_MEMORY;
    }
    for (int64_t r = 0; r < tmpl && !st; r++) {
        rand_floats(MLXN_TYPE_F32, row, (size_t)k, 99 + (uint64_t)r);
        if (t == MLXN_TYPE_F32 || t == MLXN_TYPE_F16 || t == MLXN_TYPE_BF16) rand_floats(t, h + rb * (size_t)r, (size_t)k, 99 + (uint64_t)r);
        else st = mlxn_quantize_row(t, row, h + rb * (size_t)r, k);
    }
    if (!st) st = mlxn_buffer_write(*out, 0, h, rb * (size_t)tmpl);
    for (int64_t done = tmpl; !st && done < rows; done *= 2) /* doubling copies */
        st = mlxn_buffer_copy(*out, rb * (size_t)done, *out, 0, rb * (size_t)(rows - done < done ? rows - done : done));
    free(h), free(row);
    return st;
}

/* get_rows, layout copies, KV-cache append. */
static int bench_rows_layout_kv(bctx *c, int64_t R) {
    const int64_t n = 4096;
    int fails = 0;
    ocase k;
    char shp[96], ty[48];
    static const mlxn_type gt[][2] = {{MLXN_TYPE_F32, MLXN_TYPE_F32},   {MLXN_TYPE_F16, MLXN_TYPE_F16},
                                      {MLXN_TYPE_BF16, MLXN_TYPE_BF16}, {MLXN_TYPE_Q8_0, MLXN_TYPE_BF16},
                                      {MLXN_TYPE_Q4_K, MLXN_TYPE_BF16}, {MLXN_TYPE_Q6_K, MLXN_TYPE_F16},
                                      {MLXN_TYPE_Q4_0, MLXN_TYPE_F32}};
    if (wanted(c, "get_rows"))
        for (size_t q = 0; q < sizeof gt / sizeof gt[0]; q++) {
            memset(&k, 0, sizeof k);
            const mlxn_type tt = gt[q][0], ty_ = gt[q][1];
            const int64_t ids = 2 * R; /* 8192 ids at the default size: >= 32 MB for every table type */
            const double by = (double)ids * ((double)mlxn_row_bytes(tt, n) + tbytes(ty_, (double)n) + 4.0);
            const bspec b[3] = {{0, 0, {0}, 0, 0}, {ty_, 2, {ids, n}, 0, 0}, {MLXN_TYPE_I32, 1, {ids}, 3, TABLE_ROWS}};
            k.call = c_get_rows;
            k.copies = copies_for(c, by);
            mlxn_status st = make_table(c, tt, TABLE_ROWS, n, &k.fixed[0]);
            for (int j = 1; j < 3 && !st; j++) st = rb_alloc(c, &k.b[j], k.copies, b[j].t, b[j].nd, b[j].ne, b[j].fill, b[j].lim);
            snprintf(ty, sizeof ty, "%s->%s", tn(tt), tn(ty_));
            snprintf(shp, sizeof shp, "%lld ids of %dx%lld", (long long)ids, TABLE_ROWS, (long long)n);
            if (!st) fails += run_case(c, &k, "get_rows", ty, shp, by);
            else {
                fprintf(stderr, "mlxn bench ops: get_rows %s: %s\n", ty, mlxn_last_error());
                case_free(&k), fails++;
            }
        }
    /* layout, bf16: transpose [32][R][128] -> [32][128][R]; permute [R][32][128] -> [32][R][128];
     * slice [R][2n] -> [R][n] at n/2; concat [R][n] | [R][n] -> [R][2n] */
    static const char *lay[] = {"transpose", "permute", "slice", "concat"};
    const mlxn_type t = MLXN_TYPE_BF16;
    const double X = tbytes(t, (double)R * (double)n);
    for (int v = 0; v < 4; v++) {
        memset(&k, 0, sizeof k);
        if (!wanted(c, lay[v])) continue;
        bspec b[3];
        int nb = 2;
        double by = 2 * X;
        if (v == 0) {
            b[0] = (bspec){t, 3, {32, R, 128}, 1, 0}, b[1] = (bspec){t, 3, {32, 128, R}, 0, 0};
            snprintf(shp, sizeof shp, "32x%lldx128 -> 32x128x%lld", (long long)R, (long long)R);
        } else if (v == 1) {
            b[0] = (bspec){t, 3, {R, 32, 128}, 1, 0}, b[1] = (bspec){t, 3, {32, R, 128}, 0, 0};
            snprintf(shp, sizeof shp, "%lldx32x128 -> 32x%lldx128", (long long)R, (long long)R);
            k.pp.perm[0] = 1, k.pp.perm[1] = 0, k.pp.perm[2] = 2;
        } else if (v == 2) {
            b[0] = (bspec){t, 2, {R, 2 * n}, 1, 0}, b[1] = (bspec){t, 2, {R, n}, 0, 0};
            snprintf(shp, sizeof shp, "%lldx%lld [%lld:+%lld]", (long long)R, (long long)(2 * n), (long long)(n / 2), (long long)n);
            k.slp.begin = n / 2;
        } else {
            b[0] = (bspec){t, 2, {R, n}, 1, 0}, b[1] = (bspec){t, 2, {R, 2 * n}, 0, 0}, b[2] = (bspec){t, 2, {R, n}, 1, 0};
            snprintf(shp, sizeof shp, "2 x %lldx%lld -> %lldx%lld", (long long)R, (long long)n, (long long)R, (long long)(2 * n));
            nb = 3, by = 4 * X;
        }
        k.call = c_layout, k.variant = v;
        if (!build(c, &k, b, nb, by)) fails += run_case(c, &k, lay[v], tn(t), shp, by);
        else case_free(&k), fails++;
    }
    /* KV append: a prefill of M = 4·rows tokens, 8 KV heads of 128, into a cache of M slots */
    static const mlxn_type kt[][2] = {{MLXN_TYPE_BF16, MLXN_TYPE_BF16}, {MLXN_TYPE_F16, MLXN_TYPE_F16},
                                      {MLXN_TYPE_BF16, MLXN_TYPE_Q8_0}, {MLXN_TYPE_F32, MLXN_TYPE_F16}};
    if (wanted(c, "kv_append"))
        for (size_t q = 0; q < sizeof kt / sizeof kt[0]; q++) {
            memset(&k, 0, sizeof k);
            const int64_t M = 4 * R, H = 8, D = 128;
            const mlxn_type tx = kt[q][0], tc = kt[q][1];
            const double by = tbytes(tx, (double)(M * H * D)) + (double)mlxn_row_bytes(tc, D) * (double)(H * M) + 4.0 * (double)M;
            const bspec b[3] = {{tx, 2, {M, H * D}, 1, 0}, {tc, 3, {H, M, D}, 0, 0}, {MLXN_TYPE_I32, 1, {M}, 2, 0}};
            k.call = c_kv;
            snprintf(ty, sizeof ty, "%s->%s", tn(tx), tn(tc));
            snprintf(shp, sizeof shp, "%lldx%lld -> %lldx%lldx%lld", (long long)M, (long long)(H * D), (long long)H,
                     (long long)M, (long long)D);
            if (!build(c, &k, b, 3, by)) fails += run_case(c, &k, "kv_append (prefill)", ty, shp, by);
            else case_free(&k), fails++;
        }
    return fails;
}

/* Sampling over one row of SAMPLE_V logits: about N(0, 2²) with every 9973rd token 12 higher. */
static int bench_sampling(bctx *c) {
    static const struct {
        const char *name;
        float temp, top_p, min_p, rep;
        int top_k, pen;
    } cfg[] = {
        {"sample greedy (T=0)", 0, 1, 0, 1, 0, 0},
        {"sample T=1", 1, 1, 0, 1, 0, 0},
        {"sample top_k=40", 1, 1, 0, 1, 40, 0},
        {"sample top_p=0.9", 1, 0.9f, 0, 1, 0, 0},
        {"sample min_p=0.05", 1, 1, 0.05f, 1, 0, 0},
        {"sample chain (T.7 k40 p.9 mp.05 rp)", 0.7f, 0.9f, 0.05f, 1.1f, 40, 1}, /* rep 1.1 over 64 recent */
    };
    const int64_t V = SAMPLE_V, W = 64;
    int fails = 0;
    float *lg = malloc(sizeof(float) * (size_t)V);
    uint16_t *h16 = malloc(2 * (size_t)V);
    if (!lg || !h16) return free(lg), free(h16), 1;
    uint64_t st = 42;
    for (int64_t i = 0; i < V; i++) {
        double g = -6.0; /* Irwin-Hall: twelve uniforms, about N(0, 1) */
        for (int j = 0; j < 12; j++) g += (double)rng_next(&st) / 9007199254740992.0;
        lg[i] = (float)(2.0 * g);
        if (i % 9973 == 0) lg[i] += 12.0f;
        uint32_t u;
        memcpy(&u, &lg[i], 4);
        h16[i] = (uint16_t)(u >> 16);
    }
    int32_t rec[64];
    for (int i = 0; i < 64; i++) rec[i] = (i * 7919) % (int)V;
    const int64_t seed[2] = {1234, 0};
    for (int tl = 0; tl < 2; tl++) {
        const mlxn_type t = tl ? MLXN_TYPE_BF16 : MLXN_TYPE_F32;
        const size_t lb = (size_t)V * (tl ? 2 : 4);
        char shp[32];
        snprintf(shp, sizeof shp, "%lld", (long long)V);
        for (int q = -2; q < (int)(sizeof cfg / sizeof cfg[0]); q++) {
            const char *nm = q == -2 ? "argmax" : q == -1 ? "top_k (k=40)" : cfg[q].name;
            if (!wanted(c, nm) && !wanted(c, "sample")) continue;
            ocase k;
            memset(&k, 0, sizeof k);
            const bspec b[3] = {{t, 1, {V}, 0, 0}, {MLXN_TYPE_I32, q == -1 ? 2 : 1, {1, q == -1 ? 40 : 1}, 0, 0},
                                {MLXN_TYPE_F32, 2, {1, 40}, 0, 0}};
            k.copies = 4; /* logits just written by the LM head: rotated over a few, L2-sized */
            mlxn_status s2 = MLXN_OK;
            for (int j = 0; j < (q == -1 ? 3 : 2) && !s2; j++) {
                bspec bj = b[j];
                if (j == 1 && q != -1) bj.nd = 1, bj.ne[0] = 1;
                s2 = rb_alloc(c, &k.b[j], k.copies, bj.t, bj.nd, bj.ne, 0, 0);
            }
            for (int i = 0; i < k.copies && !s2; i++) s2 = mlxn_buffer_write(k.b[0].v[i], 0, tl ? (void *)h16 : (void *)lg, lb);
            const int64_t two = 2;
            if (!s2) s2 = mlxn_buffer_alloc(c->dev, MLXN_TYPE_I64, 1, &two, &k.fixed[0]);
            if (!s2) s2 = mlxn_buffer_write(k.fixed[0], 0, seed, sizeof seed);
            if (!s2) s2 = mlxn_buffer_alloc(c->dev, MLXN_TYPE_I32, 1, &W, &k.fixed[1]);
            if (!s2) s2 = mlxn_buffer_write(k.fixed[1], 0, rec, sizeof rec);
            if (s2) {
                fprintf(stderr, "mlxn bench ops: %s: %s\n", nm, mlxn_last_error());
                case_free(&k), fails++;
                continue;
            }
            if (q == -2) k.call = c_argmax;
            else if (q == -1) k.call = c_top_k;
            else {
                k.call = c_sample, k.variant = cfg[q].pen, k.smp = mlxn_sample_defaults();
                k.smp.temperature = cfg[q].temp, k.smp.top_p = cfg[q].top_p, k.smp.min_p = cfg[q].min_p;
                k.smp.repetition_penalty = cfg[q].rep, k.smp.top_k = cfg[q].top_k;
            }
            fails += run_case(c, &k, nm, tn(t), shp, 0);
        }
    }
    free(lg), free(h16);
    return fails;
}

/* The same-run ceiling: copies of [rows][4096] f32 through mlxn_copy and the driver's buffer
 * copy, rotated like the ops; the larger bandwidth (read + write bytes). */
static double measure_copy(bctx *c, int64_t R, double *kernel_bw, double *driver_bw) {
    ocase k;
    memset(&k, 0, sizeof k);
    const int64_t n = 4096;
    const double X = 4.0 * (double)R * (double)n;
    const bspec b[2] = {{MLXN_TYPE_F32, 2, {R, n}, 1, 0}, {MLXN_TYPE_F32, 2, {R, n}, 0, 0}};
    *kernel_bw = *driver_bw = -1;
    if (build(c, &k, b, 2, 2 * X)) {
        case_free(&k);
        return -1;
    }
    k.call = c_copy;
    mlxn_status st;
    const double sec = time_case(c, &k, &st);
    if (sec > 0) *kernel_bw = 2 * X / sec;
    double v[32];
    int reps = c->reps > 32 ? 32 : c->reps;
    for (int r = -1; r < reps; r++) {
        const double t0 = bench_now();
        int calls = 0;
        for (; calls < 4 * k.copies; calls++)
            if (mlxn_buffer_copy(B(&k, 1, calls % k.copies), 0, B(&k, 0, calls % k.copies), 0, (size_t)X)) break;
        if (r >= 0) v[r] = (bench_now() - t0) / calls;
    }
    qsort(v, (size_t)reps, sizeof v[0], cmp_d);
    *driver_bw = 2 * X / v[reps / 2];
    case_free(&k);
    return *kernel_bw > *driver_bw ? *kernel_bw : *driver_bw;
}

int mlxn_bench_ops(int argc, char **argv) {
    bctx c = {.reps = 7, .first = 1};
    mlxn_backend backend = MLXN_BACKEND_AUTO;
    int64_t rows = 4096;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout);
        if (!strcmp(a, "--json")) {
            c.json = 1;
            continue;
        }
        if (!v) return usage(stderr);
        i++;
        if (!strcmp(a, "--backend")) {
            if (strcmp(v, "cpu") && strcmp(v, "cuda")) return usage(stderr);
            backend = !strcmp(v, "cpu") ? MLXN_BACKEND_CPU : MLXN_BACKEND_CUDA;
        } else if (!strcmp(a, "--rows")) {
            rows = atoll(v);
            if (rows < 1 || rows > (1 << 20)) return usage(stderr);
        } else if (!strcmp(a, "--op")) {
            snprintf(c.filter, sizeof c.filter, "%s", v);
        } else if (!strcmp(a, "--threads")) {
            threads = atoi(v);
        } else if (!strcmp(a, "--reps")) {
            c.reps = atoi(v) < 3 ? 3 : atoi(v);
        } else {
            return usage(stderr);
        }
    }
    mlxn_config cfg;
    mlxn_config_init(&cfg);
    cfg.cpu_threads = threads;
    mlxn_status st;
    if ((st = mlxn_device_open_ex(backend, 0, &cfg, &c.dev))) return mlxn_cli_fail("bench ops", "device_open", st);
    mlxn_device_props p;
    mlxn_device_info(c.dev, &p);
    c.cuda = p.backend == MLXN_BACKEND_CUDA;
    if ((st = mlxn_stream_create(c.dev, &c.s))) return mlxn_cli_fail("bench ops", "stream_create", st);
    c.rotate = 4 * (p.l2_bytes ? (size_t)p.l2_bytes : (size_t)64 << 20);

    double kbw, dbw;
    c.copy_bw = measure_copy(&c, rows, &kbw, &dbw);
    if (c.json) {
        printf("{\"device\": \"%s\", \"backend\": \"%s\", \"threads\": %d, \"rows\": %lld, \"rotate_bytes\": %zu, "
               "\"copy_gbs\": %.2f, \"copy_kernel_gbs\": %.2f, \"copy_driver_gbs\": %.2f, \"results\": [\n",
               p.name, mlxn_backend_name(p.backend), p.threads, (long long)rows, c.rotate, c.copy_bw / 1e9, kbw / 1e9,
               dbw / 1e9);
    } else {
        printf("mlxn bench ops on %s (%s, %s, %d %s); rows %lld; operands rotated over >= %.0f MB\n", p.name,
               mlxn_backend_name(p.backend), p.simd, c.cuda ? p.sm_count : p.threads, c.cuda ? "SMs" : "threads",
               (long long)rows, (double)c.rotate / 1e6);
        printf("ceiling: device copy %.1f GB/s, read + write (mlxn_copy %.1f, buffer copy %.1f; f32 %lldx4096, same run)\n",
               c.copy_bw / 1e9, kbw / 1e9, dbw / 1e9, (long long)rows);
        printf("%-35s %-10s %-26s %10s %9s %8s\n", "op", "type", "shape", "us", "GB/s", "of copy");
    }
    int fails = 0;
    fails += bench_rowops(&c, rows, MLXN_TYPE_BF16);
    fails += bench_rowops(&c, rows, MLXN_TYPE_F32);
    fails += bench_rows_layout_kv(&c, rows);
    fails += bench_sampling(&c);
    if (c.json) printf("\n]}\n");
    mlxn_stream_destroy(c.s);
    mlxn_device_close(c.dev);
    return fails ? 1 : 0;
}
