/* mlxn bench qmatmul: every weight format on real model shapes and batch sizes M. Weights
 * rotate over copies that together exceed 4x the last-level cache (GPU L2, CPU LLC), so
 * every call reads its weight from memory. Each result is printed against a ceiling
 * measured in the same run: streaming-read bandwidth for mat-vec (M <= 16), cuBLASLt's
 * BF16 GEMM on the same shape for mat-mat. GPU times are graph replays of many calls. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mlxn.h"
#include "cli.h"
#include "cmd_bench.h"

typedef struct bshape {
    const char *model, *what;
    int64_t n, k;
} bshape;

static const bshape all_shapes[] = {
    {"llama3-8b", "q,o", 4096, 4096},          {"llama3-8b", "k,v", 1024, 4096},
    {"llama3-8b", "gate,up", 14336, 4096},     {"llama3-8b", "down", 4096, 14336},
    {"llama3-8b", "lm_head", 128256, 4096},    {"smollm2-135m", "q,o", 576, 576},
    {"smollm2-135m", "k,v", 192, 576},         {"smollm2-135m", "gate,up", 1536, 576},
    {"smollm2-135m", "down", 576, 1536},       {"smollm2-135m", "lm_head", 49152, 576},
    {"qwen3-30b-a3b", "expert gate,up", 768, 2048}, {"qwen3-30b-a3b", "expert down", 2048, 768},
};
static const mlxn_type all_formats[] = {
    MLXN_TYPE_Q4_0, MLXN_TYPE_Q4_1, MLXN_TYPE_Q5_0, MLXN_TYPE_Q5_1,  MLXN_TYPE_Q8_0,   MLXN_TYPE_Q2_K,
    MLXN_TYPE_Q3_K, MLXN_TYPE_Q4_K, MLXN_TYPE_Q5_K, MLXN_TYPE_Q6_K,  MLXN_TYPE_IQ4_NL, MLXN_TYPE_IQ4_XS,
    MLXN_TYPE_MXFP4, MLXN_TYPE_F32, MLXN_TYPE_F16,  MLXN_TYPE_BF16,
};
static const int64_t all_ms[] = {1, 2, 4, 8, 16, 32, 128, 512, 2048};

#define MAXL 64
typedef struct opts {
    mlxn_backend backend;
    mlxn_type fmt[MAXL];
    int n_fmt;
    bshape shape[MAXL];
    int n_shape;
    int64_t ms[MAXL];
    int n_ms;
    int threads, json, reps, prepared, no_lt;
    mlxn_type tx, ty;
} opts;

static int usage(FILE *f) {
    fprintf(f, "usage: mlxn bench qmatmul [--backend cpu|cuda] [--format q4_0,q8_0,...] [--shape NxK,...]\n"
               "                          [--m 1,8,...] [--x bf16|f32|f16] [--y f32|bf16|f16]\n"
               "                          [--threads N] [--reps N] [--json]\n"
               "                          [--prepared]   (also pass mlxn_qmatmul_prepare'd bf16 weights)\n"
               "                          [--no-cublaslt] (the library's own kernels only: cfg.cuda_cublaslt = 0)\n"
               "  defaults: every format, the shapes of Llama-3-8B, SmolLM2-135M and a Qwen3-30B-A3B\n"
               "  expert, M = 1 2 4 8 16 32 128 512 2048; --threads (CPU) defaults to every core.\n"
               "  The mat-mat ceiling, cuBLASLt's BF16 GEMM, writes bf16 y: --y bf16 compares like with like.\n");
    return f == stderr ? 2 : 0;
}

/* Splits a comma list; calls fn on each item; false on a bad item. */
static bool each_item(char *list, bool (*fn)(opts *, const char *), opts *o) {
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (!fn(o, t)) return false;
    return true;
}

/* --x / --y: f32, f16 or bf16 (any case); false on anything else */
static bool float_type(const char *opt, const char *name, mlxn_type *out) {
    static const mlxn_type fl[] = {MLXN_TYPE_F32, MLXN_TYPE_F16, MLXN_TYPE_BF16};
    for (size_t i = 0; i < sizeof fl / sizeof fl[0]; i++)
        if (!strcasecmp(name, mlxn_type_name(fl[i]))) {
            *out = fl[i];
            return true;
        }
    fprintf(stderr, "mlxn bench qmatmul: %s is f32, f16 or bf16; got '%s'\n", opt, name);
    return false;
}

static bool add_fmt(opts *o, const char *name) {
    for (size_t i = 0; i < sizeof all_formats / sizeof all_formats[0]; i++)
        if (!strcasecmp(name, mlxn_type_name(all_formats[i])) && o->n_fmt < MAXL) {
            o->fmt[o->n_fmt++] = all_formats[i];
            return true;
        }
    fprintf(stderr, "mlxn bench qmatmul: unknown format '%s'\n", name);
    return false;
}

static bool add_shape(opts *o, const char *s) {
    long long n, k;
    if (sscanf(s, "%lldx%lld", &n, &k) != 2 || n < 1 || k < 1 || o->n_shape >= MAXL) {
        fprintf(stderr, "mlxn bench qmatmul: a shape is NxK, e.g. 4096x14336; got '%s'\n", s);
        return false;
    }
    bshape sh = {"custom", "", n, k};
    for (size_t i = 0; i < sizeof all_shapes / sizeof all_shapes[0]; i++)
        if (all_shapes[i].n == n && all_shapes[i].k == k) sh = all_shapes[i];
    o->shape[o->n_shape++] = sh;
    return true;
}

static bool add_m(opts *o, const char *s) {
    long long m = atoll(s);
    if (m < 1 || o->n_ms >= MAXL) {
        fprintf(stderr, "mlxn bench qmatmul: bad M '%s'\n", s);
        return false;
    }
    o->ms[o->n_ms++] = m;
    return true;
}

/* Median seconds per call of fn(i) over calls cycling i = 0, 1, ...: on CUDA graph
 * replays of `per` recorded calls; on the CPU plain calls. */
typedef struct timed {
    mlxn_stream *s;
    mlxn_buffer *x, *y, **w;
    int copies;
    mlxn_buffer **wp; /* prepared bf16 copies, or NULL */
} timed;

static mlxn_status call(timed *t, int i) {
    mlxn_qmatmul_params p = mlxn_qmatmul_defaults();
    if (t->wp) p.w_prepared = t->wp[i % t->copies];
    return mlxn_qmatmul(t->s, t->x, t->w[i % t->copies], t->y, &p);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double time_calls(timed *t, bool cuda, int reps, mlxn_status *st) {
    double v[32];
    if (reps > 32) reps = 32;
    if (cuda) {
        const int per = t->copies < 16 ? 16 : t->copies;
        mlxn_graph *g = NULL;
        if ((*st = mlxn_graph_begin(t->s))) return -1;
        for (int i = 0; i < per && !*st; i++) *st = call(t, i);
        mlxn_status e = mlxn_graph_end(t->s, &g);
        if (*st || (*st = e)) {
            mlxn_graph_destroy(g);
            return -1;
        }
        for (int r = -2; r < reps; r++) {
            double t0 = bench_now();
            if ((*st = mlxn_graph_replay(t->s, g)) || (*st = mlxn_stream_sync(t->s))) break;
            if (r >= 0) v[r] = (bench_now() - t0) / per;
        }
        mlxn_graph_destroy(g);
        if (*st) return -1;
    } else {
        int i = 0;
        if ((*st = call(t, i++))) return -1;
        for (int r = 0; r < reps; r++) {
            int calls = 0;
            double t0 = bench_now(), el;
            do {
                if ((*st = call(t, i++))) return -1;
                calls++;
                el = bench_now() - t0;
            } while (el < 0.02 && calls < t->copies);
            v[r] = el / calls;
        }
    }
    qsort(v, (size_t)reps, sizeof v[0], cmp_d);
    return v[reps / 2];
}

/* Weight copies of type t [N][K] that together exceed `rotate` bytes (at most 256, one
 * allocation): 64 rows quantized from Gaussian values by the reference quantizer, tiled. */
static mlxn_status make_weights(mlxn_device *dev, mlxn_type t, int64_t N, int64_t K, size_t rotate, mlxn_buffer **all,
                                mlxn_buffer ***views, int *copies) {
    const size_t rb = mlxn_row_bytes(t, K), wb = rb * (size_t)N;
    int c = (int)(rotate / wb + 1);
    if (c > 256) c = 256;
    const int64_t tmpl = N < 64 ? N : 64, ne[2] = {N * c, K}, vne[2] = {N, K};
    mlxn_status st;
    if ((st = mlxn_buffer_alloc(dev, t, 2, ne, all))) return st;
    float *row = malloc(sizeof(float) * (size_t)K);
    const int64_t chunk_rows = N < 1024 ? N : 1024;
    unsigned char *tb = malloc(rb * (size_t)tmpl), *chunk = malloc(rb * (size_t)chunk_rows);
    *views = calloc((size_t)c, sizeof **views);
    if (!row || !tb || !chunk || !*views) {
        st = MLXN_ERR_OUT_OF_MEMORY;
        goto done;
    }
    uint64_t s = 0x12345678 + (uint64_t)t;
    for (int64_t r = 0; r < tmpl; r++) {
        for (int64_t k = 0; k < K; k++) { /* sum of uniforms: roughly Gaussian */
            double a = 0;
            for (int j = 0; j < 4; j++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                a += (double)(s >> 11) / 9007199254740992.0 - 0.5;
            }
            row[k] = (float)a;
        }
        if ((st = mlxn_quantize_row(t, row, tb + rb * (size_t)r, K))) goto done;
    }
    for (int64_t r0 = 0; r0 < N; r0 += chunk_rows) {
        const int64_t nr = N - r0 < chunk_rows ? N - r0 : chunk_rows;
        for (int64_t r = 0; r < nr; r++) memcpy(chunk + rb * (size_t)r, tb + rb * (size_t)((r0 + r) % tmpl), rb);
        if ((st = mlxn_buffer_write(*all, rb * (size_t)r0, chunk, rb * (size_t)nr))) goto done;
    }
    for (int i = 1; i < c; i++)
        if ((st = mlxn_buffer_copy(*all, wb * (size_t)i, *all, 0, wb))) goto done;
    for (int i = 0; i < c; i++)
        if ((st = mlxn_buffer_view(*all, wb * (size_t)i, t, 2, vne, &(*views)[i]))) goto done;
    *copies = c;
done:
    free(row), free(tb), free(chunk);
    return st;
}

static void free_weights(mlxn_buffer *all, mlxn_buffer **views, int copies) {
    for (int i = 0; views && i < copies; i++) mlxn_buffer_free(views[i]);
    free(views);
    mlxn_buffer_free(all);
}

/* Random x values in the bench's x type. */
static mlxn_status fill_x(mlxn_buffer *x) {
    const size_t bytes = mlxn_buffer_bytes(x);
    const mlxn_type t = mlxn_buffer_type(x);
    unsigned char *h = malloc(bytes + 4);
    if (!h) return MLXN_ERR_OUT_OF_MEMORY;
    uint32_t s = 777;
    for (size_t i = 0; i < bytes / (t == MLXN_TYPE_F32 ? 4 : 2); i++) {
        s = s * 1664525u + 1013904223u;
        float f = (float)(s >> 8) / 16777216.0f * 2.0f - 1.0f;
        uint32_t u;
        memcpy(&u, &f, 4);
        if (t == MLXN_TYPE_F32) memcpy(h + 4 * i, &f, 4);
        else {
            /* bf16 by truncation; f16 from the value's top bits is not needed: use 1 ± small */
            uint16_t v = t == MLXN_TYPE_BF16 ? (uint16_t)(u >> 16) : (uint16_t)(0x3c00 | (s >> 22));
            memcpy(h + 2 * i, &v, 2);
        }
    }
    mlxn_status st = mlxn_buffer_write(x, 0, h, bytes);
    free(h);
    return st;
}

typedef struct ceiling_cache {
    int64_t m, n, k;
    double flops;
} ceiling_cache;

int mlxn_bench_qmatmul(int argc, char **argv) {
    opts o = {.backend = MLXN_BACKEND_AUTO, .reps = 7, .tx = MLXN_TYPE_BF16, .ty = MLXN_TYPE_F32};
    const bool progress = isatty(STDERR_FILENO); /* the progress line, on a terminal only */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char buf[1024];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(stdout);
        if (!strcmp(a, "--json")) {
            o.json = 1;
            continue;
        }
        if (!strcmp(a, "--prepared")) {
            o.prepared = 1;
            continue;
        }
        if (!strcmp(a, "--no-cublaslt")) {
            o.no_lt = 1;
            continue;
        }
        if (!v) return usage(stderr);
        snprintf(buf, sizeof buf, "%s", v);
        i++;
        if (!strcmp(a, "--backend")) {
            o.backend = !strcmp(v, "cpu") ? MLXN_BACKEND_CPU : !strcmp(v, "cuda") ? MLXN_BACKEND_CUDA : MLXN_BACKEND_AUTO;
        } else if (!strcmp(a, "--format")) {
            if (!each_item(buf, add_fmt, &o)) return 2;
        } else if (!strcmp(a, "--shape")) {
            if (!each_item(buf, add_shape, &o)) return 2;
        } else if (!strcmp(a, "--m")) {
            if (!each_item(buf, add_m, &o)) return 2;
        } else if (!strcmp(a, "--threads")) {
            o.threads = atoi(v);
        } else if (!strcmp(a, "--reps")) {
            o.reps = atoi(v) < 3 ? 3 : atoi(v);
        } else if (!strcmp(a, "--x") || !strcmp(a, "--y")) {
            if (!float_type(a, v, a[2] == 'x' ? &o.tx : &o.ty)) return 2;
        } else {
            return usage(stderr);
        }
    }
    if (!o.n_fmt)
        for (size_t i = 0; i < sizeof all_formats / sizeof all_formats[0]; i++) o.fmt[o.n_fmt++] = all_formats[i];
    if (!o.n_shape)
        for (size_t i = 0; i < sizeof all_shapes / sizeof all_shapes[0]; i++) o.shape[o.n_shape++] = all_shapes[i];
    if (!o.n_ms)
        for (size_t i = 0; i < sizeof all_ms / sizeof all_ms[0]; i++) o.ms[o.n_ms++] = all_ms[i];

    mlxn_config cfg;
    mlxn_config_init(&cfg);
    cfg.cpu_threads = o.threads;
    cfg.cuda_cublaslt = !o.no_lt;
    mlxn_device *dev = NULL;
    mlxn_stream *s = NULL;
    mlxn_status st;
    if ((st = mlxn_device_open_ex(o.backend, 0, &cfg, &dev))) return mlxn_cli_fail("bench qmatmul", "device_open", st);
    mlxn_device_props p;
    mlxn_device_info(dev, &p);
    const bool cuda = p.backend == MLXN_BACKEND_CUDA;
    if ((st = mlxn_stream_create(dev, &s))) return mlxn_cli_fail("bench qmatmul", "stream_create", st);
    const size_t cache = p.l2_bytes ? (size_t)p.l2_bytes : (size_t)64 << 20, rotate = 4 * cache;

    /* ceilings of this run */
    char why[512] = "", lt_why[512] = "";
    double read_bw = -1;
    bench_gpu *gpu = NULL;
    if (cuda) {
        gpu = bench_gpu_open(p.ordinal, why, sizeof why);
        if (gpu) read_bw = bench_gpu_read_bw(gpu, rotate > ((size_t)1 << 30) ? rotate : (size_t)1 << 30, why, sizeof why);
    } else {
        read_bw = bench_cpu_read_bw(p.threads, rotate > ((size_t)1 << 30) ? rotate : (size_t)1 << 30);
    }
    if (!o.json) {
        printf("mlxn bench qmatmul on %s (%s, %s, %d %s), x %s, y %s%s; weights rotated over >= %.0f MB\n", p.name,
               mlxn_backend_name(p.backend), p.simd, cuda ? p.sm_count : p.threads, cuda ? "SMs" : "threads",
               mlxn_type_name(o.tx), mlxn_type_name(o.ty), o.prepared ? ", prepared bf16 weights passed" : "", rotate / 1e6);
        if (o.no_lt) printf("cuBLASLt off (cfg.cuda_cublaslt = 0): the library's own kernels\n");
        if (read_bw > 0) printf("ceiling: streaming read %.1f GB/s (same run)\n", read_bw / 1e9);
        else printf("ceiling: streaming read unavailable: %s\n", why);
        printf("%-7s %-12s %-14s %5s %10s %9s %9s %-9s %6s\n", "format", "model", "N x K", "M", "us", "GB/s",
               "TFLOP/s", "ceiling", "ratio");
    } else {
        printf("{\"device\": \"%s\", \"backend\": \"%s\", \"threads\": %d, \"x\": \"%s\", \"y\": \"%s\", \"read_bw_gbs\": %.2f, "
               "\"results\": [\n", p.name, mlxn_backend_name(p.backend), p.threads, mlxn_type_name(o.tx),
               mlxn_type_name(o.ty), read_bw > 0 ? read_bw / 1e9 : 0.0);
    }
    ceiling_cache cc[256];
    int n_cc = 0, done_n = 0, first = 1;
    const int total = o.n_shape * o.n_fmt * o.n_ms;
    int64_t max_m = 1;
    for (int i = 0; i < o.n_ms; i++) max_m = o.ms[i] > max_m ? o.ms[i] : max_m;
    for (int si = 0; si < o.n_shape; si++) {
        const bshape *sh = &o.shape[si];
        for (int fi = 0; fi < o.n_fmt; fi++) {
            const mlxn_type t = o.fmt[fi];
            if (sh->k % mlxn_type_block_elems(t)) {
                done_n += o.n_ms;
                continue; /* K-quants need K % 256 == 0 */
            }
            mlxn_buffer *wall = NULL, **wv = NULL;
            int copies = 0;
            if (progress) fprintf(stderr, "\r[%d/%d] %s %lldx%lld: preparing weights...          ", done_n, total, mlxn_type_name(t),
                    (long long)sh->n, (long long)sh->k);
            if ((st = make_weights(dev, t, sh->n, sh->k, rotate, &wall, &wv, &copies))) {
                fprintf(stderr, "\nmlxn bench qmatmul: %s %lldx%lld weights: %s: %s\n", mlxn_type_name(t),
                        (long long)sh->n, (long long)sh->k, mlxn_status_str(st), mlxn_last_error());
                free_weights(wall, wv, copies);
                done_n += o.n_ms;
                continue;
            }
            mlxn_buffer **wp = NULL;
            if (o.prepared) { /* one bf16 copy per rotated weight: 2·N·K bytes each */
                const int64_t pne[2] = {sh->n, sh->k};
                wp = calloc((size_t)copies, sizeof *wp);
                for (int c = 0; wp && c < copies; c++)
                    if ((st = mlxn_buffer_alloc(dev, MLXN_TYPE_BF16, 2, pne, &wp[c])) ||
                        (st = mlxn_qmatmul_prepare(s, wv[c], wp[c]))) {
                        fprintf(stderr, "\nmlxn bench qmatmul: prepare: %s\n", mlxn_last_error());
                        break;
                    }
                mlxn_stream_sync(s);
            }
            for (int mi = 0; mi < o.n_ms; mi++, done_n++) {
                const int64_t M = o.ms[mi], xne[2] = {M, sh->k}, yne[2] = {M, sh->n};
                if (progress) fprintf(stderr, "\r[%d/%d] %s %lldx%lld M=%lld          ", done_n + 1, total, mlxn_type_name(t),
                        (long long)sh->n, (long long)sh->k, (long long)M);
                timed tm = {s, NULL, NULL, wv, copies, wp};
                if ((st = mlxn_buffer_alloc(dev, o.tx, 2, xne, &tm.x)) || (st = fill_x(tm.x)) ||
                    (st = mlxn_buffer_alloc(dev, o.ty, 2, yne, &tm.y))) {
                    fprintf(stderr, "\nmlxn bench qmatmul: buffers: %s\n", mlxn_last_error());
                    mlxn_buffer_free(tm.x), mlxn_buffer_free(tm.y);
                    continue;
                }
                double sec = time_calls(&tm, cuda, o.reps, &st);
                mlxn_buffer_free(tm.x), mlxn_buffer_free(tm.y);
                if (sec <= 0) {
                    fprintf(stderr, "\nmlxn bench qmatmul: %s M=%lld: %s: %s\n", mlxn_type_name(t), (long long)M,
                            mlxn_status_str(st), mlxn_last_error());
                    continue;
                }
                const double wbytes = (double)mlxn_row_bytes(t, sh->k) * (double)sh->n;
                const double bytes = wbytes + (double)M * (double)mlxn_row_bytes(o.tx, sh->k) +
                                     (double)M * (double)mlxn_row_bytes(o.ty, sh->n);
                const double flops = 2.0 * (double)M * (double)sh->n * (double)sh->k;
                const bool mv = M <= 16;
                double ceil_v = -1;
                if (mv) {
                    ceil_v = read_bw;
                } else if (gpu) {
                    for (int c = 0; c < n_cc; c++)
                        if (cc[c].m == M && cc[c].n == sh->n && cc[c].k == sh->k) ceil_v = cc[c].flops;
                    if (ceil_v < 0) {
                        ceil_v = bench_gpu_cublaslt(gpu, M, sh->n, sh->k, rotate, lt_why, sizeof lt_why);
                        if (n_cc < 256) cc[n_cc++] = (ceiling_cache){M, sh->n, sh->k, ceil_v};
                    }
                }
                const double ratio = ceil_v > 0 ? (mv ? bytes / sec : flops / sec) / ceil_v : -1;
                char rs[32];
                if (ratio > 0) snprintf(rs, sizeof rs, "%.2f", ratio);
                else snprintf(rs, sizeof rs, "-");
                if (o.json) {
                    printf("%s  {\"format\": \"%s\", \"model\": \"%s\", \"what\": \"%s\", \"n\": %lld, \"k\": %lld, "
                           "\"m\": %lld, \"us\": %.3f, \"gbs\": %.2f, \"tflops\": %.4f, \"ceiling\": \"%s\", "
                           "\"ceiling_value\": %.4g, \"ratio\": %.4f}",
                           first ? "" : ",\n", mlxn_type_name(t), sh->model, sh->what, (long long)sh->n,
                           (long long)sh->k, (long long)M, sec * 1e6, bytes / sec / 1e9, flops / sec / 1e12,
                           mv ? "read" : ceil_v > 0 ? "cublaslt" : "none", ceil_v, ratio);
                    first = 0;
                } else {
                    char shp[32];
                    snprintf(shp, sizeof shp, "%lldx%lld", (long long)sh->n, (long long)sh->k);
                    if (progress) fprintf(stderr, "\r%60s\r", "");
                    printf("%-7s %-12s %-14s %5lld %10.2f %9.1f %9.3f %-9s %6s\n", mlxn_type_name(t), sh->model, shp,
                           (long long)M, sec * 1e6, bytes / sec / 1e9, flops / sec / 1e12,
                           mv ? "read" : ceil_v > 0 ? "cublasLt" : "none", rs);
                    fflush(stdout);
                }
            }
            for (int c = 0; wp && c < copies; c++) mlxn_buffer_free(wp[c]);
            free(wp);
            free_weights(wall, wv, copies);
        }
    }
    if (progress) fprintf(stderr, "\r%60s\r", "");
    if (o.json) printf("\n]}\n");
    else if (lt_why[0]) printf("cuBLASLt ceiling unavailable: %s\n", lt_why);
    else if (!cuda && max_m > 16) printf("mat-mat rows on the CPU have no same-run ceiling (cuBLASLt is GPU-only)\n");
    bench_gpu_close(gpu);
    mlxn_stream_destroy(s);
    mlxn_device_close(dev);
    return 0;
}
