/* Bandwidth of the row ops (norm, residual norm, softmax, swiglu, rope) on rows × 4096,
 * against a copy of the same bytes in the same run: mlxn_copy (the eltwise copy kernel) and
 * mlxn_buffer_copy (the driver's device-to-device copy). Each op is recorded 20 times into
 * a graph and replayed; the best of 5 replays counts. Tensors are 64 MiB or more, so an op
 * moves at least 128 MiB (more than an H100's 50 MB L2).
 *   cc -O2 dev/bench_rowops.c -Iinclude -Lbuild -lmlxn -Wl,-rpath,build -o bench_rowops
 *   ./bench_rowops [rows=8192] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mlxn.h"

#define REPS 20
#define ROUNDS 5

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define TRY(x)                                                                             \
    do {                                                                                   \
        mlxn_status st_ = (x);                                                             \
        if (st_) {                                                                         \
            fprintf(stderr, "%s: %s: %s\n", #x, mlxn_status_str(st_), mlxn_last_error()); \
            exit(1);                                                                       \
        }                                                                                  \
    } while (0)

typedef mlxn_status (*op_fn)(mlxn_stream *s, void *ctx);

/* Seconds per op: REPS ops in a graph, best of ROUNDS replays. */
static double time_op(mlxn_stream *s, op_fn op, void *ctx) {
    mlxn_graph *g = NULL;
    TRY(op(s, ctx)); /* warm up, and check it runs */
    TRY(mlxn_stream_sync(s));
    TRY(mlxn_graph_begin(s));
    for (int i = 0; i < REPS; i++) TRY(op(s, ctx));
    TRY(mlxn_graph_end(s, &g));
    TRY(mlxn_graph_replay(s, g));
    TRY(mlxn_stream_sync(s));
    double best = 1e30;
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now();
        TRY(mlxn_graph_replay(s, g));
        TRY(mlxn_stream_sync(s));
        double t = (now() - t0) / REPS;
        best = t < best ? t : best;
    }
    mlxn_graph_destroy(g);
    return best;
}

typedef struct bench {
    mlxn_buffer *x, *r, *h, *y, *w, *mask, *pos, *gu;
    mlxn_norm_params np;
    mlxn_rope_params rp;
    mlxn_softmax_params sp;
} bench;

static mlxn_status op_copy(mlxn_stream *s, void *c) { return mlxn_copy(s, ((bench *)c)->x, ((bench *)c)->y, NULL); }
static mlxn_status op_rms(mlxn_stream *s, void *c) {
    bench *b = c;
    return mlxn_rms_norm(s, b->x, b->w, b->y, &b->np);
}
static mlxn_status op_resid(mlxn_stream *s, void *c) {
    bench *b = c;
    return mlxn_rms_norm_residual(s, b->x, b->r, b->w, b->h, b->y, &b->np);
}
static mlxn_status op_softmax(mlxn_stream *s, void *c) {
    bench *b = c;
    return mlxn_softmax(s, b->x, b->mask, b->y, &b->sp);
}
static mlxn_status op_swiglu(mlxn_stream *s, void *c) {
    bench *b = c;
    return mlxn_swiglu(s, b->gu, NULL, b->y, NULL);
}
static mlxn_status op_rope(mlxn_stream *s, void *c) {
    bench *b = c;
    return mlxn_rope(s, b->x, b->pos, NULL, b->y, &b->rp);
}

int main(int argc, char **argv) {
    const int64_t rows = argc > 1 ? atoll(argv[1]) : 8192, n = 4096;
    mlxn_device *dev;
    mlxn_stream *s;
    TRY(mlxn_device_open(MLXN_BACKEND_CUDA, 0, &dev));
    TRY(mlxn_stream_create(dev, &s));
    mlxn_device_props pr;
    TRY(mlxn_device_info(dev, &pr));
    printf("device: %s (sm_%d%d), rows %lld x %d\n", pr.name, pr.cc_major, pr.cc_minor, (long long)rows, (int)n);

    const mlxn_type types[2] = {MLXN_TYPE_BF16, MLXN_TYPE_F32};
    for (int ti = 0; ti < 2; ti++) {
        const mlxn_type t = types[ti];
        const double es = t == MLXN_TYPE_F32 ? 4 : 2, tensor = (double)rows * n * es;
        bench b = {0};
        const int64_t ne[2] = {rows, n}, ne2[2] = {rows, 2 * n}, nw[1] = {n}, nm[2] = {1, n}, nh[3] = {rows, 32, 128};
        TRY(mlxn_buffer_alloc(dev, t, 2, ne, &b.x));
        TRY(mlxn_buffer_alloc(dev, t, 2, ne, &b.r));
        TRY(mlxn_buffer_alloc(dev, t, 2, ne, &b.h));
        TRY(mlxn_buffer_alloc(dev, t, 2, ne, &b.y));
        TRY(mlxn_buffer_alloc(dev, t, 2, ne2, &b.gu));
        TRY(mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, nw, &b.w));
        TRY(mlxn_buffer_alloc(dev, MLXN_TYPE_F16, 2, nm, &b.mask));
        TRY(mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 1, &rows, &b.pos));
        float one = 1.0f;
        TRY(mlxn_buffer_fill(b.w, &one, 4));
        b.np = mlxn_norm_defaults();
        b.sp = mlxn_softmax_defaults();
        b.sp.scale = 0.0883883f;
        b.rp = mlxn_rope_defaults();
        b.rp.mode = MLXN_ROPE_NEOX;

        /* baselines: the copy kernel and the driver's copy of one tensor */
        double t_copy = time_op(s, op_copy, &b);
        double t0 = now();
        for (int i = 0; i < REPS; i++) TRY(mlxn_buffer_copy(b.y, 0, b.x, 0, (size_t)tensor));
        double t_memcpy = (now() - t0) / REPS;
        double bw_copy = 2 * tensor / t_copy, bw_memcpy = 2 * tensor / t_memcpy;
        double ceil_bw = bw_copy > bw_memcpy ? bw_copy : bw_memcpy;
        printf("\n%s: copy kernel %.0f GB/s, device memcpy %.0f GB/s (ceiling: the larger)\n", mlxn_type_name(t),
               bw_copy / 1e9, bw_memcpy / 1e9);
        struct {
            const char *name;
            op_fn fn;
            double bytes;
        } ops[] = {
            {"rms_norm", op_rms, 2 * tensor},
            {"rms_norm_residual", op_resid, 4 * tensor},
            {"softmax (row mask)", op_softmax, 2 * tensor},
            {"swiglu (fused gate-up)", op_swiglu, 3 * tensor},
            {"rope neox 32x128", op_rope, 2 * tensor},
        };
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
            if (ops[k].fn == op_rope) { /* view x and y as [rows][32][128] */
                mlxn_buffer *xv, *yv;
                TRY(mlxn_buffer_view(b.x, 0, t, 3, nh, &xv));
                TRY(mlxn_buffer_view(b.y, 0, t, 3, nh, &yv));
                mlxn_buffer *x0 = b.x, *y0 = b.y;
                b.x = xv, b.y = yv;
                double tt = time_op(s, ops[k].fn, &b);
                b.x = x0, b.y = y0;
                mlxn_buffer_free(xv), mlxn_buffer_free(yv);
                printf("  %-24s %8.1f us  %6.0f GB/s  %5.1f%% of copy\n", ops[k].name, tt * 1e6, ops[k].bytes / tt / 1e9,
                       100 * ops[k].bytes / tt / ceil_bw);
                continue;
            }
            double tt = time_op(s, ops[k].fn, &b);
            printf("  %-24s %8.1f us  %6.0f GB/s  %5.1f%% of copy\n", ops[k].name, tt * 1e6, ops[k].bytes / tt / 1e9,
                   100 * ops[k].bytes / tt / ceil_bw);
        }
        mlxn_buffer_free(b.x), mlxn_buffer_free(b.r), mlxn_buffer_free(b.h), mlxn_buffer_free(b.y);
        mlxn_buffer_free(b.gu), mlxn_buffer_free(b.w), mlxn_buffer_free(b.mask), mlxn_buffer_free(b.pos);
    }
    mlxn_stream_destroy(s);
    mlxn_device_close(dev);
    return 0;
}
