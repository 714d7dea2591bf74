/* mlxn bench: the benchmark dispatcher (mlxn bench <op> [args]) and the CPU's streaming-read
 * ceiling shared by the op benchmarks. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlxn.h"
#include "cli.h"
#include "cmd_bench.h"

typedef struct read_job {
    const uint64_t *p;
    size_t n; /* uint64 words */
    uint64_t sum;
} read_job;

/* Eight independent sums, so the loads are not one dependency chain; the compiler widens
 * them to the machine's vectors. */
static void *read_part(void *arg) {
    read_job *j = arg;
    uint64_t s[8] = {0};
    size_t i = 0;
    for (; i + 8 <= j->n; i += 8)
        for (int k = 0; k < 8; k++) s[k] += j->p[i + k];
    for (; i < j->n; i++) s[0] += j->p[i];
    for (int k = 1; k < 8; k++) s[0] += s[k];
    j->sum = s[0];
    return NULL;
}

double bench_cpu_read_bw(int threads, size_t bytes) {
    if (threads < 1) threads = 1;
    if (threads > 256) threads = 256;
    uint64_t *buf = aligned_alloc(64, bytes);
    if (!buf) return -1;
    for (size_t i = 0; i < bytes / 8; i++) buf[i] = i * 0x9e3779b97f4a7c15ull;
    pthread_t th[256];
    read_job jobs[256];
    double best[5];
    for (int rep = 0; rep < 5; rep++) {
        const size_t per = bytes / 8 / (size_t)threads;
        double t0 = bench_now();
        for (int t = 0; t < threads; t++) {
            jobs[t] = (read_job){buf + per * (size_t)t, per, 0};
            if (t) pthread_create(&th[t], NULL, read_part, &jobs[t]);
        }
        read_part(&jobs[0]);
        for (int t = 1; t < threads; t++) pthread_join(th[t], NULL);
        best[rep] = (double)(per * (size_t)threads * 8) / (bench_now() - t0);
    }
    free(buf);
    for (int a = 0; a < 5; a++) /* median */
        for (int b = a + 1; b < 5; b++)
            if (best[b] < best[a]) {
                double t = best[a];
                best[a] = best[b];
                best[b] = t;
            }
    return best[2];
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} benches[] = {
    {"qmatmul", mlxn_bench_qmatmul, "quantized matmul: every format on real model shapes, against read bandwidth and cuBLASLt"},
    {"attention", mlxn_bench_attention, "attention decode and prefill on real head layouts"},
    {"ops", mlxn_bench_ops, "norms, RoPE, softmax, activations, rows, layout, KV append vs device copy; sampling"},
};

int mlxn_cmd_bench(int argc, char **argv) {
    if (argc >= 2)
        for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
            if (!strcmp(argv[1], benches[i].name)) return benches[i].run(argc - 1, argv + 1);
    FILE *f = argc >= 2 && strcmp(argv[1], "-h") && strcmp(argv[1], "--help") ? stderr : stdout;
    if (f == stderr && argc >= 2) fprintf(stderr, "mlxn bench: unknown benchmark '%s'\n", argv[1]);
    fprintf(f, "usage: mlxn bench <op> [args]   (mlxn bench <op> --help for its args)\n\n");
    for (size_t i = 0; i < sizeof benches / sizeof benches[0]; i++)
        fprintf(f, "  %-10s %s\n", benches[i].name, benches[i].help);
    return f == stderr ? 2 : 0;
}
