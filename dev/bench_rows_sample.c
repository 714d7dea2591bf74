/* Timing of get_rows, kv_append, layout copies and sampling on a CUDA device, each op recorded
 * into a graph and replayed, timed with CUDA events (median of many), against a same-run
 * device-to-device cudaMemcpy. Not built by default:
 *   cc -O2 dev/bench_rows_sample.c -Iinclude -Isrc -I/usr/local/cuda/include BUILD/libmlxn.a \
 *      -L/usr/local/cuda/lib64 -lcudart_static -ljansson -lstdc++ -lpthread -lm -ldl -lrt
 * Run: ./a.out (first CUDA device). */
#include <cuda_runtime.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

/* The CUDA backend's stream handle starts with these two fields (src/cuda/cuda_common.cuh). */
typedef struct {
    void *dev;
    cudaStream_t s;
} stream_view;

static cudaStream_t raw_stream(mlxn_stream *s) { return ((stream_view *)s->impl)->s; }

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

#define REPS 101

/* Median µs of `reps` replays of g, each between two events. */
static float time_graph(mlxn_stream *s, mlxn_graph *g, int reps) {
    cudaStream_t cs = raw_stream(s);
    cudaEvent_t ev[2 * REPS];
    float t[REPS];
    for (int i = 0; i < 2 * reps; i++) cudaEventCreate(&ev[i]);
    for (int i = 0; i < 5; i++) mlxn_graph_replay(s, g); /* warm */
    for (int i = 0; i < reps; i++) {
        cudaEventRecord(ev[2 * i], cs);
        mlxn_graph_replay(s, g);
        cudaEventRecord(ev[2 * i + 1], cs);
    }
    mlxn_stream_sync(s);
    for (int i = 0; i < reps; i++) cudaEventElapsedTime(&t[i], ev[2 * i], ev[2 * i + 1]);
    for (int i = 0; i < 2 * reps; i++) cudaEventDestroy(ev[i]);
    qsort(t, (size_t)reps, sizeof t[0], cmp_f);
    return t[reps / 2] * 1000.0f;
}

static float time_copy(mlxn_stream *s, void *dst, const void *src, size_t bytes) {
    cudaStream_t cs = raw_stream(s);
    cudaEvent_t ev[2 * REPS];
    float t[REPS];
    for (int i = 0; i < 2 * REPS; i++) cudaEventCreate(&ev[i]);
    for (int i = 0; i < 3; i++) cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cs);
    for (int i = 0; i < REPS; i++) {
        cudaEventRecord(ev[2 * i], cs);
        cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, cs);
        cudaEventRecord(ev[2 * i + 1], cs);
    }
    cudaStreamSynchronize(cs);
    for (int i = 0; i < REPS; i++) cudaEventElapsedTime(&t[i], ev[2 * i], ev[2 * i + 1]);
    for (int i = 0; i < 2 * REPS; i++) cudaEventDestroy(ev[i]);
    qsort(t, REPS, sizeof t[0], cmp_f);
    return t[REPS / 2] * 1000.0f;
}

static mlxn_buffer *alloc(mlxn_device *dev, mlxn_type t, int nd, const int64_t *ne) {
    mlxn_buffer *b = NULL;
    if (mlxn_buffer_alloc(dev, t, nd, ne, &b)) {
        fprintf(stderr, "alloc: %s\n", mlxn_last_error());
        exit(1);
    }
    return b;
}

/* Fills a buffer with random bytes from the host (in chunks), fixing nothing: for bandwidth. */
static void fill_random(mlxn_buffer *b, uint64_t seed) {
    size_t n = mlxn_buffer_bytes(b), chunk = 64 << 20;
    unsigned char *h = malloc(chunk);
    for (size_t i = 0; i < chunk; i += 8) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t v = (seed >> 11) & 0x3bff3bff3bff3bffull; /* keeps f16/bf16 values finite-ish */
        memcpy(h + i, &v, 8);
    }
    for (size_t o = 0; o < n; o += chunk) mlxn_buffer_write(b, o, h, n - o < chunk ? n - o : chunk);
    free(h);
}

static double copy_gbs; /* bytes read + written per second, the same-run ceiling */

static void report(const char *what, double bytes, float us) {
    double gbs = bytes / (us * 1e-6) / 1e9;
    printf("%-58s %9.2f us %8.1f GB/s %6.1f%% of copy\n", what, us, gbs, 100.0 * gbs / copy_gbs);
}

typedef mlxn_status (*op_fn)(mlxn_stream *s, void *ctx);

static float time_op(mlxn_stream *s, op_fn fn, void *ctx) {
    mlxn_graph *g = NULL;
    if (mlxn_graph_begin(s) || fn(s, ctx) || mlxn_graph_end(s, &g)) {
        fprintf(stderr, "record: %s\n", mlxn_last_error());
        exit(1);
    }
    float us = time_graph(s, g, REPS);
    mlxn_graph_destroy(g);
    return us;
}

typedef struct {
    mlxn_buffer *a, *b, *c, *d;
    mlxn_sample_params sp;
    int perm;
} ctx_t;

static mlxn_status op_get_rows(mlxn_stream *s, void *p) {
    ctx_t *c = p;
    return mlxn_get_rows(s, c->a, c->b, c->c, NULL);
}
static mlxn_status op_kv(mlxn_stream *s, void *p) {
    ctx_t *c = p;
    return mlxn_kv_append(s, c->a, c->b, c->c, NULL);
}
static mlxn_status op_permute(mlxn_stream *s, void *p) {
    ctx_t *c = p;
    mlxn_permute_params pp = {{1, 0, 2}};
    return c->perm ? mlxn_permute(s, c->a, c->c, &pp) : mlxn_transpose(s, c->a, c->c, NULL);
}
static mlxn_status op_sample(mlxn_stream *s, void *p) {
    ctx_t *c = p;
    return mlxn_sample(s, c->a, c->b, c->d, c->c, &c->sp);
}
static mlxn_status op_argmax(mlxn_stream *s, void *p) {
    ctx_t *c = p;
    return mlxn_argmax(s, c->a, c->c, NULL);
}
static mlxn_status op_topk(mlxn_stream *s, void *p) {
    ctx_t *c = p;
    return mlxn_top_k(s, c->a, c->d, c->c, NULL);
}

int main(void) {
    mlxn_device *dev = NULL;
    mlxn_stream *s = NULL;
    if (mlxn_device_open(MLXN_BACKEND_CUDA, 0, &dev) || mlxn_stream_create(dev, &s)) {
        fprintf(stderr, "no CUDA device: %s\n", mlxn_last_error());
        return 77;
    }
    mlxn_device_props pr;
    mlxn_device_info(dev, &pr);
    printf("device: %s (sm_%d%d, %d SMs)\n", pr.name, pr.cc_major, pr.cc_minor, pr.sm_count);

    /* the ceiling: a 256 MiB device-to-device copy */
    int64_t big = 256ll << 20;
    mlxn_buffer *src = alloc(dev, MLXN_TYPE_U8, 1, &big), *dst = alloc(dev, MLXN_TYPE_U8, 1, &big);
    float cus = time_copy(s, mlxn_buf_ptr(dst), mlxn_buf_ptr(src), (size_t)big);
    copy_gbs = 2.0 * (double)big / (cus * 1e-6) / 1e9;
    printf("%-58s %9.2f us %8.1f GB/s (read + write)\n", "cudaMemcpy D2D 256 MiB", cus, copy_gbs);
    mlxn_buffer_free(src), mlxn_buffer_free(dst);

    /* get_rows: 8192 random ids of a [262144][4096] table (Gemma-3 vocabulary) */
    {
        const int64_t V = 262144, K = 4096, n = 8192;
        int32_t *ids = malloc(sizeof(int32_t) * n);
        for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)((i * 2654435761u) % (uint64_t)V);
        mlxn_type tts[4] = {MLXN_TYPE_F16, MLXN_TYPE_BF16, MLXN_TYPE_Q8_0, MLXN_TYPE_Q4_K};
        mlxn_type tys[4] = {MLXN_TYPE_F16, MLXN_TYPE_F32, MLXN_TYPE_BF16, MLXN_TYPE_F16};
        for (int q = 0; q < 4; q++) {
            int64_t tne[2] = {V, K}, yne[2] = {n, K};
            ctx_t c = {0};
            c.a = alloc(dev, tts[q], 2, tne);
            fill_random(c.a, 7);
            c.b = alloc(dev, MLXN_TYPE_I32, 1, &n);
            mlxn_buffer_write(c.b, 0, ids, sizeof(int32_t) * n);
            c.c = alloc(dev, tys[q], 2, yne);
            float us = time_op(s, op_get_rows, &c);
            double bytes = (double)mlxn_row_bytes(tts[q], K) * n + (double)mlxn_buffer_bytes(c.c) + 4.0 * n;
            char what[96];
            snprintf(what, sizeof what, "get_rows %s[%lld][%lld] x%lld -> %s", mlxn_type_name(tts[q]), (long long)V,
                     (long long)K, (long long)n, mlxn_type_name(tys[q]));
            report(what, bytes, us);
            mlxn_buffer_free(c.a), mlxn_buffer_free(c.b), mlxn_buffer_free(c.c);
        }
        free(ids);
    }
    /* kv_append: a 16384-token prefill into an 8-head, D 128 cache of 16384 slots */
    {
        const int64_t M = 16384, H = 8, D = 128;
        int32_t *pos = malloc(sizeof(int32_t) * M);
        for (int64_t i = 0; i < M; i++) pos[i] = (int32_t)i;
        mlxn_type txs[3] = {MLXN_TYPE_BF16, MLXN_TYPE_F16, MLXN_TYPE_BF16}, tcs[3] = {MLXN_TYPE_BF16, MLXN_TYPE_F16, MLXN_TYPE_Q8_0};
        for (int q = 0; q < 3; q++) {
            int64_t xne[2] = {M, H * D}, cne[3] = {H, M, D};
            ctx_t c = {0};
            c.a = alloc(dev, txs[q], 2, xne);
            fill_random(c.a, 9);
            c.b = alloc(dev, MLXN_TYPE_I32, 1, &M);
            mlxn_buffer_write(c.b, 0, pos, sizeof(int32_t) * M);
            c.c = alloc(dev, tcs[q], 3, cne);
            float us = time_op(s, op_kv, &c);
            char what[96];
            snprintf(what, sizeof what, "kv_append %s [%lld][%lld] -> %s cache [%lld][%lld][%lld]", mlxn_type_name(txs[q]),
                     (long long)M, (long long)(H * D), mlxn_type_name(tcs[q]), (long long)H, (long long)M, (long long)D);
            report(what, (double)mlxn_buffer_bytes(c.a) + (double)mlxn_buffer_bytes(c.c), us);
            mlxn_buffer_free(c.a), mlxn_buffer_free(c.b), mlxn_buffer_free(c.c);
        }
        free(pos);
    }
    /* layout: [4096][32][128] -> [32][4096][128] permute; [32][4096][128] transposed */
    for (int q = 0; q < 2; q++) {
        int64_t xne[3] = {4096, 32, 128}, yne[3] = {32, 4096, 128}, tne[3] = {32, 128, 4096};
        ctx_t c = {.perm = q == 0};
        c.a = alloc(dev, MLXN_TYPE_BF16, 3, q == 0 ? xne : yne);
        fill_random(c.a, 3);
        c.c = alloc(dev, MLXN_TYPE_BF16, 3, q == 0 ? yne : tne);
        float us = time_op(s, op_permute, &c);
        report(q == 0 ? "permute bf16 [4096][32][128] -> [32][4096][128]" : "transpose bf16 [32][4096][128] -> [32][128][4096]",
               2.0 * (double)mlxn_buffer_bytes(c.a), us);
        mlxn_buffer_free(c.a), mlxn_buffer_free(c.c);
    }
    /* sampling over one row of 262144 logits */
    {
        const int64_t V = 262144, one = 1, two = 2, w = 64, k = 50;
        float *lg = malloc(sizeof(float) * V);
        uint64_t st = 42;
        for (int64_t i = 0; i < V; i++) { /* a peaked distribution: N(0, 2) with a few tokens far above */
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            double u1 = ((st >> 11) + 0.5) / 9007199254740992.0;
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            double u2 = (st >> 11) / 9007199254740992.0;
            lg[i] = (float)(2.0 * sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
            if (i % 9973 == 0) lg[i] += 12.0f;
        }
        int32_t rec[64];
        for (int i = 0; i < 64; i++) rec[i] = (i * 7919) % (int)V;
        int64_t seed[2] = {1234, 0}, kne[2] = {1, k};
        for (int t = 0; t < 2; t++) {
            mlxn_type tl = t ? MLXN_TYPE_BF16 : MLXN_TYPE_F32;
            ctx_t c = {0};
            c.a = alloc(dev, tl, 1, &V);
            if (tl == MLXN_TYPE_F32) {
                mlxn_buffer_write(c.a, 0, lg, sizeof(float) * V);
            } else {
                uint16_t *h = malloc(2 * V);
                for (int64_t i = 0; i < V; i++) {
                    uint32_t u;
                    memcpy(&u, &lg[i], 4);
                    h[i] = (uint16_t)(u >> 16);
                }
                mlxn_buffer_write(c.a, 0, h, 2 * V);
                free(h);
            }
            c.b = alloc(dev, MLXN_TYPE_I32, 1, &w);
            mlxn_buffer_write(c.b, 0, rec, sizeof rec);
            c.c = alloc(dev, MLXN_TYPE_I32, 1, &one);
            c.d = alloc(dev, MLXN_TYPE_I64, 1, &two);
            mlxn_buffer_write(c.d, 0, seed, sizeof seed);
            char what[128];
            snprintf(what, sizeof what, "argmax %s [%lld]", mlxn_type_name(tl), (long long)V);
            report(what, (double)mlxn_buffer_bytes(c.a), time_op(s, op_argmax, &c));
            mlxn_buffer *idx = alloc(dev, MLXN_TYPE_I32, 2, kne), *val = alloc(dev, MLXN_TYPE_F32, 2, kne), *tok = c.c, *rng = c.d;
            c.c = idx, c.d = val;
            snprintf(what, sizeof what, "top_k %s [%lld] k=%lld", mlxn_type_name(tl), (long long)V, (long long)k);
            report(what, (double)mlxn_buffer_bytes(c.a), time_op(s, op_topk, &c));
            c.c = tok, c.d = rng;
            mlxn_buffer_free(idx), mlxn_buffer_free(val);
            struct {
                const char *name;
                float temp, top_p, min_p, rep;
                int top_k;
                int pen;
            } cfg[] = {
                {"T=1", 1, 1, 0, 1, 0, 0},
                {"T=0.8 top_k=50 top_p=0.95", 0.8f, 0.95f, 0, 1, 50, 0},
                {"T=1 top_p=0.9", 1, 0.9f, 0, 1, 0, 0},
                {"T=1 min_p=0.05", 1, 1, 0.05f, 1, 0, 0},
                {"T=0.7 top_k=40 top_p=0.9 min_p=0.05 rep=1.1 w=64", 0.7f, 0.9f, 0.05f, 1.1f, 40, 1},
                {"greedy rep=1.1 w=64", 0, 1, 0, 1.1f, 0, 1},
            };
            for (size_t q = 0; q < sizeof cfg / sizeof cfg[0]; q++) {
                c.sp = mlxn_sample_defaults();
                c.sp.temperature = cfg[q].temp, c.sp.top_p = cfg[q].top_p, c.sp.min_p = cfg[q].min_p;
                c.sp.repetition_penalty = cfg[q].rep, c.sp.top_k = cfg[q].top_k;
                mlxn_buffer *keep = c.b;
                if (!cfg[q].pen) c.b = NULL;
                snprintf(what, sizeof what, "sample %s [%lld] %s", mlxn_type_name(tl), (long long)V, cfg[q].name);
                report(what, (double)mlxn_buffer_bytes(c.a), time_op(s, op_sample, &c));
                c.b = keep;
            }
            mlxn_buffer_free(c.a), mlxn_buffer_free(c.b), mlxn_buffer_free(c.c), mlxn_buffer_free(c.d);
        }
        free(lg);
    }
    mlxn_stream_destroy(s);
    mlxn_device_close(dev);
    return 0;
}
