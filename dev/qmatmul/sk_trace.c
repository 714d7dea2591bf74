/* Timeline of one stream-K qmatmul call (sm_90a), from the library sk_trace.sh builds: qmw_kernel's
 * consumer thread 0 of each block stamps %globaltimer at its start and at each segment's end
 * (computed / fix-up waited / stored). Prints per block its start and, per segment, tile[u0,u1)
 * and the time it was computed (µs from the earliest start), how long the finisher waited
 * for the slots below it, and how long the store took; then the finishers' waits.
 * X and W are filled with ones (timing only). Usage: sk_trace bf16|q4_0|q6_K N K M [reps] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlxn.h"

int mlxn_dev_qmw_trace(void *stamps, void *info);

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
    if (mlxn_dev_qmw_trace(st, inf)) return fprintf(stderr, "trace copy failed\n"), 1;
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
