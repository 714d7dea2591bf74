/* Timeline of one qmatmul call's mat-mat kernel (sm_90a), from the library sk_trace.sh builds.
 * Stream-K grids: qmw_kernel's consumer thread 0 of each block stamps %globaltimer at its start
 * and at each segment's end (computed / fix-up waited / stored); printed per block, its start
 * and, per segment, tile[u0,u1) and the time it was computed (µs from the earliest start), how
 * long the finisher waited for the slots below it, and how long the store took; then the
 * finishers' waits. Other grids (one tile a block, split or clustered): the spread of each
 * stamp and of the spans between them over the blocks. Both print the time of a call back to
 * back first.
 * X and W are filled with ones (timing only). Usage: sk_trace bf16|q4_0|q6_K N K M [reps] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlxn.h"

int mlxn_dev_qmw_trace(void *stamps, void *info);
int mlxn_dev_qmw_otrace(void *stamps);

#define CK(x)                                                                                              \
    do {                                                                                                   \
        mlxn_status st_ = (x);                                                                             \
        if (st_ != MLXN_OK) {                                                                              \
            fprintf(stderr, "%s: %s (%s)\n", #x, mlxn_status_str(st_), mlxn_last_error());                 \
            return 1;                                                                                      \
        }                                                                                                  \
    } while (0)

static unsigned long long st[1024 * 32];
static unsigned inf[1024 * 16];
static unsigned long long ot[4096 * 8];

static int cmp_d(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* min / median / max of v[0 .. n) (sorted in place) */
static void spread(const char *name, double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    printf("  %-34s %7.2f %7.2f %7.2f\n", name, v[0], v[n / 2], v[n - 1]);
}

/* The timeline of a call whose blocks take one tile each (split or clustered): per stamp, its
 * spread over the blocks from the earliest consumer start, and the spans between stamps. */
static void one_tile_report(void) {
    static double v[4096];
    int nb = 0;
    unsigned long long t0 = ~0ull, tend = 0;
    for (int b = 0; b < 4096; b++)
        if (ot[b * 8] && ot[b * 8 + 4]) {
            nb++;
            if (ot[b * 8] < t0) t0 = ot[b * 8];
            if (ot[b * 8 + 5] && ot[b * 8 + 5] < t0) t0 = ot[b * 8 + 5];
            if (ot[b * 8 + 4] > tend) tend = ot[b * 8 + 4];
        }
    if (!nb) {
        printf("no stamps\n");
        return;
    }
    printf("one tile a block: %d blocks, first start to last store %.2f us (min / median / max over blocks, us)\n", nb,
           (tend - t0) / 1e3);
    static const char *at[] = {"consumer start", "first stage arrived", "main loop done", "cluster rows synced",
                               "stored", "producer start", "producer issued all"};
    for (int k = 0; k < 7; k++) {
        int n = 0;
        for (int b = 0; b < 4096; b++)
            if (ot[b * 8] && ot[b * 8 + 4] && ot[b * 8 + k]) v[n++] = (ot[b * 8 + k] - t0) / 1e3;
        if (n) spread(at[k], v, n);
    }
    static const int from[] = {0, 1, 2, 3, 2}, to[] = {1, 2, 3, 4, 4};
    static const char *span[] = {"span: start -> first stage", "span: first stage -> loop done", "span: loop done -> cluster sync",
                                 "span: cluster sync -> stored", "span: loop done -> stored"};
    for (int k = 0; k < 5; k++) {
        int n = 0;
        for (int b = 0; b < 4096; b++)
            if (ot[b * 8] && ot[b * 8 + 4] && ot[b * 8 + from[k]] && ot[b * 8 + to[k]])
                v[n++] = ((double)ot[b * 8 + to[k]] - (double)ot[b * 8 + from[k]]) / 1e3;
        if (n) spread(span[k], v, n);
    }
    int sms[1024] = {0}, used = 0, most = 0;
    for (int b = 0; b < 4096; b++)
        if (ot[b * 8] && ot[b * 8 + 4] && ot[b * 8 + 7] < 1024) {
            if (!sms[ot[b * 8 + 7]]++) used++;
            if (sms[ot[b * 8 + 7]] > most) most = sms[ot[b * 8 + 7]];
        }
    printf("  SMs used %d, most blocks on one SM %d\n", used, most);
}

/* Seconds a call, back to back: a recorded graph of 20 calls, replayed 10 times (median of 5) */
static double call_time(mlxn_stream *s, mlxn_buffer *x, mlxn_buffer *w, mlxn_buffer *y) {
    mlxn_graph *g = NULL;
    if (mlxn_graph_begin(s)) return 0;
    for (int r = 0; r < 20; r++) mlxn_qmatmul(s, x, w, y, NULL);
    if (mlxn_graph_end(s, &g)) return 0;
    double t[5];
    for (int r = 0; r < 5; r++) {
        struct timespec a, b;
        mlxn_graph_replay(s, g);
        mlxn_stream_sync(s);
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (int k = 0; k < 10; k++) mlxn_graph_replay(s, g);
        mlxn_stream_sync(s);
        clock_gettime(CLOCK_MONOTONIC, &b);
        t[r] = ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9) / 200;
    }
    qsort(t, 5, sizeof *t, cmp_d);
    mlxn_graph_destroy(g);
    return t[2];
}

int main(int argc, char **argv) {
    if (argc < 5) return fprintf(stderr, "usage: sk_trace bf16|q4_0|q6_K N K M [reps]\n"), 2;
    mlxn_type tw = !strcmp(argv[1], "q4_0") ? MLXN_TYPE_Q4_0 : !strcmp(argv[1], "q6_K") ? MLXN_TYPE_Q6_K : MLXN_TYPE_BF16;
    const int64_t N = atoll(argv[2]), K = atoll(argv[3]), M = atoll(argv[4]);
    const int reps = argc > 5 ? atoi(argv[5]) : 5;
    mlxn_device *dev;
    mlxn_stream *s;
    CK(mlxn_device_open(MLXN_BACKEND_CUDA, 0, &dev));
    CK(mlxn_stream_create(dev, &s));
    mlxn_buffer *x, *w, *y;
    const int64_t xe[2] = {M, K}, we[2] = {N, K}, ye[2] = {M, N};
    CK(mlxn_buffer_alloc(dev, MLXN_TYPE_BF16, 2, xe, &x));
    CK(mlxn_buffer_alloc(dev, tw, 2, we, &w));
    CK(mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, ye, &y));
    const unsigned short one = 0x3c00; /* bf16 1.0 / an f16 scale of 1.0 */
    CK(mlxn_buffer_fill(x, &one, 2));
    CK(mlxn_buffer_fill(w, &one, 2));
    for (int r = 0; r < reps; r++) CK(mlxn_qmatmul(s, x, w, y, NULL));
    CK(mlxn_stream_sync(s));
    if (mlxn_dev_qmw_trace(st, inf) || mlxn_dev_qmw_otrace(ot)) return fprintf(stderr, "trace copy failed\n"), 1;
    printf("%s N %lld K %lld M %lld: %.2f us a call (graph of 20 back to back, cache warm)\n", argv[1], (long long)N,
           (long long)K, (long long)M, call_time(s, x, w, y) * 1e6);
    if (!st[0]) {
        one_tile_report();
        return 0;
    }
    unsigned long long t0 = ~0ull, tend = 0;
    int nb = 0;
    for (int b = 0; b < 1024 && st[b * 32]; b++, nb++) {
        if (st[b * 32] < t0) t0 = st[b * 32];
    }
    for (int b = 0; b < nb; b++)
        for (int k = 0; k < 32; k++)
            if (st[b * 32 + k] > tend) tend = st[b * 32 + k];
    printf("%s N %lld K %lld M %lld: %d blocks, first start to last stamp %.2f us\n", argv[1], (long long)N, (long long)K,
           (long long)M, nb, (tend - t0) / 1e3);
    /* per block line */
    double sum_wait = 0, max_wait = 0;
    int nfin = 0;
    for (int b = 0; b < nb; b++) {
        printf("b%3d %6.2f |", b, (st[b * 32] - t0) / 1e3);
        for (int g = 0; g < 10 && st[b * 32 + 1 + 3 * g]; g++) {
            const unsigned i = inf[b * 16 + g];
            const double c = (st[b * 32 + 1 + 3 * g] - t0) / 1e3, wv = (st[b * 32 + 2 + 3 * g] - t0) / 1e3,
                         e = (st[b * 32 + 3 + 3 * g] - t0) / 1e3;
            printf(" t%u[%u,%u) %.2f/%.2f/%.2f", i >> 12, (i >> 6) & 63, i & 63, c, wv - c, e - wv);
            if (((i >> 6) & 63) > 0 && (i & 63) > 0 && wv > c) {
                sum_wait += wv - c, nfin++;
                if (wv - c > max_wait) max_wait = wv - c;
            }
        }
        printf("\n");
    }
    printf("finisher waits: %d, mean %.2f us, max %.2f us\n", nfin, nfin ? sum_wait / nfin : 0, max_wait);
    return 0;
}
