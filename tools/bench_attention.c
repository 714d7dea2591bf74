/* mlxn bench attention: decode (M = 1, f16 and q8_0 caches) over L = 512..32768 and causal
 * prefill (M = L) on real head layouts, timed as graph replays after a warm-up. Decode rotates
 * over enough KV caches that they exceed 4x the GPU's L2 (or the CPU's last-level cache) and
 * reports the KV bytes read per second against the same run's streaming-read bandwidth (mlxn
 * bench's ceiling; the copy bandwidth, read + write, where that is unavailable). Prefill
 * reports TFLOP/s counting only the unmasked half (4·D flops per visible q·k pair) against the
 * same run's dense BF16 GEMM (cuBLASLt, 8192 x 8192 x 8192) where cuBLASLt is present. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mlxn.h"
#include "cli.h"
#include "cmd_bench.h"

typedef struct shape {
    const char *model;
    int64_t hq, hkv, d;
    bool prefill_only;
} shape;

static const shape shapes[] = {
    {"llama3-8b", 32, 8, 128, false},
    {"qwen3-30b-a3b", 32, 4, 128, false},
    {"gemma3-4b", 8, 4, 256, false},
    {"gemma3-27b", 32, 16, 128, false},
    {"d256-32h", 32, 8, 256, true}, /* the 32-head D = 256 prefill target */
};

/* Seconds per run of the recorded graph g (median of `reps` timed batches). */
static double time_graph(mlxn_stream *s, mlxn_graph *g, int per_batch, int reps) {
    double best[64];
    if (reps > 64) reps = 64;
    for (int w = 0; w < 2; w++) mlxn_graph_replay(s, g);
    mlxn_stream_sync(s);
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now();
        for (int k = 0; k < per_batch; k++) mlxn_graph_replay(s, g);
        mlxn_stream_sync(s);
        best[r] = (bench_now() - t0) / per_batch;
    }
    for (int a = 0; a < reps; a++) /* median by insertion sort */
        for (int b = a + 1; b < reps; b++)
            if (best[b] < best[a]) {
                double t = best[a];
                best[a] = best[b];
                best[b] = t;
            }
    return best[reps / 2];
}

/* Copy bandwidth (read + write bytes per second) over a buffer of `bytes`. */
static double copy_bandwidth(mlxn_device *dev, mlxn_stream *s, size_t bytes) {
    const int64_t ne[1] = {(int64_t)(bytes / 4)};
    mlxn_buffer *a = NULL, *b = NULL;
    mlxn_graph *g = NULL;
    double bw = 0;
    if (mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, ne, &a) || mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 1, ne, &b)) goto done;
    mlxn_graph_begin(s);
    mlxn_copy(s, a, b, NULL);
    if (mlxn_graph_end(s, &g)) goto done;
    bw = 2.0 * (double)bytes / time_graph(s, g, 5, 7);
done:
    mlxn_graph_destroy(g);
    mlxn_buffer_free(a);
    mlxn_buffer_free(b);
    return bw;
}

static int run_case(mlxn_device *dev, mlxn_stream *s, const shape *sh, int64_t m, int64_t L, mlxn_type kt, size_t rotate,
                    double ceil_bw, double ceil_fl, bool json) {
    const int64_t qne[3] = {sh->hq, m, sh->d}, kne[3] = {sh->hkv, L, sh->d}, one[1] = {1};
    size_t kv_bytes = 2 * (size_t)sh->hkv * (size_t)L * mlxn_row_bytes(kt, sh->d);
    int sets = (int)(rotate / kv_bytes) + 1;
    if (m > 1) sets = 1; /* prefill is bound by arithmetic, not by reading the cache */
    if (sets > 64) sets = 64;
    mlxn_buffer *q = NULL, *o = NULL, *len = NULL, *k[64] = {0}, *v[64] = {0};
    const int64_t one_ne[2] = {m, sh->hq * sh->d};
    mlxn_graph *g = NULL;
    int rc = 1;
    if (mlxn_buffer_alloc(dev, MLXN_TYPE_BF16, 3, qne, &q) || mlxn_buffer_alloc(dev, MLXN_TYPE_BF16, 2, one_ne, &o) ||
        mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 1, one, &len))
        goto done;
    int32_t l32 = (int32_t)L;
    mlxn_buffer_write(len, 0, &l32, 4);
    /* never zeros: f16 1.0 and -0.5 (bf16 0x3c00/0xb800: ~0.0078, ~-0.0001); q8_0 blocks of
     * bytes 0x21: scale 0x2121 (~0.0105), quants 33 */
    const uint16_t pat[2] = {0x3c00, 0xb800};
    const uint8_t q8pat[2] = {0x21, 0x21};
    mlxn_buffer_fill(q, pat, 4);
    for (int i = 0; i < sets; i++) {
        if (mlxn_buffer_alloc(dev, kt, 3, kne, &k[i]) || mlxn_buffer_alloc(dev, kt, 3, kne, &v[i])) goto done;
        mlxn_buffer_fill(k[i], kt == MLXN_TYPE_Q8_0 ? (const void *)q8pat : (const void *)pat, kt == MLXN_TYPE_Q8_0 ? 2 : 4);
        mlxn_buffer_fill(v[i], kt == MLXN_TYPE_Q8_0 ? (const void *)q8pat : (const void *)pat, kt == MLXN_TYPE_Q8_0 ? 2 : 4);
    }
    mlxn_attention_params p = mlxn_attention_defaults();
    p.kv_len = len;
    if (mlxn_graph_begin(s)) goto done;
    for (int i = 0; i < sets; i++) {
        mlxn_status st = mlxn_attention(s, q, k[i], v[i], o, &p);
        if (st) {
            mlxn_graph_end(s, &g);
            fprintf(stderr, "bench attention: %s: %s\n", mlxn_status_str(st), mlxn_last_error());
            goto done;
        }
    }
    if (mlxn_graph_end(s, &g)) goto done;
    double t = time_graph(s, g, m > 1 ? 1 : 10, m > 1 ? 5 : 9) / sets;
    double pairs = m == 1 ? (double)L : (double)L * (double)(L + 1) / 2.0; /* visible (q, k) pairs per head */
    double flops = 4.0 * (double)sh->d * pairs * (double)sh->hq;
    double gbs = (double)kv_bytes / t / 1e9;
    if (json)
        printf("{\"op\":\"attention\",\"model\":\"%s\",\"hq\":%lld,\"hkv\":%lld,\"d\":%lld,\"m\":%lld,\"L\":%lld,\"kv\":\"%s\","
               "\"us\":%.2f,\"kv_GBps\":%.1f,\"TFLOPs\":%.2f,\"ceiling_GBps\":%.1f,\"ceiling_TFLOPs\":%.1f}\n",
               sh->model, (long long)sh->hq, (long long)sh->hkv, (long long)sh->d, (long long)m, (long long)L,
               mlxn_type_name(kt), t * 1e6, gbs, flops / t / 1e12, ceil_bw / 1e9, ceil_fl > 0 ? ceil_fl / 1e12 : -1.0);
    else if (m == 1)
        printf("%-14s decode  L=%6lld kv=%-5s %9.2f us  %7.1f GB/s  %.2f of ceiling\n", sh->model, (long long)L,
               mlxn_type_name(kt), t * 1e6, gbs, gbs * 1e9 / ceil_bw);
    else if (ceil_fl > 0)
        printf("%-14s prefill L=%6lld kv=%-5s %9.2f us  %7.2f TFLOP/s (causal half)  %.2f of ceiling\n", sh->model,
               (long long)L, mlxn_type_name(kt), t * 1e6, flops / t / 1e12, flops / t / ceil_fl);
    else
        printf("%-14s prefill L=%6lld kv=%-5s %9.2f us  %7.2f TFLOP/s (causal half)\n", sh->model, (long long)L,
               mlxn_type_name(kt), t * 1e6, flops / t / 1e12);
    fflush(stdout);
    rc = 0;
done:
    mlxn_graph_destroy(g);
    mlxn_buffer_free(q);
    mlxn_buffer_free(o);
    mlxn_buffer_free(len);
    for (int i = 0; i < sets; i++) mlxn_buffer_free(k[i]), mlxn_buffer_free(v[i]);
    return rc;
}

int mlxn_bench_attention(int argc, char **argv) {
    bool json = false, quick = false, dec = true, pre = true;
    mlxn_backend b = MLXN_BACKEND_AUTO;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = true;
        else if (!strcmp(argv[i], "--quick")) quick = true;
        else if (!strcmp(argv[i], "--decode")) pre = false;
        else if (!strcmp(argv[i], "--prefill")) dec = false;
        else if (!strcmp(argv[i], "--backend") && i + 1 < argc) {
            i++;
            b = !strcmp(argv[i], "cpu") ? MLXN_BACKEND_CPU : !strcmp(argv[i], "cuda") ? MLXN_BACKEND_CUDA : MLXN_BACKEND_AUTO;
        } else {
            fprintf(stderr, "usage: mlxn bench attention [--backend cpu|cuda] [--quick] [--decode | --prefill] [--json]\n");
            return 2;
        }
    }
    mlxn_device *dev = NULL;
    mlxn_stream *s = NULL;
    mlxn_status st = mlxn_device_open(b, 0, &dev);
    if (!st) st = mlxn_stream_create(dev, &s);
    if (st) return mlxn_cli_fail("bench attention", "device", st);
    mlxn_device_props props;
    mlxn_device_info(dev, &props);
    size_t rotate = 4 * (size_t)(props.l2_bytes ? props.l2_bytes : (64u << 20));
    bool cpu = props.backend == MLXN_BACKEND_CPU;
    /* the ceiling: streaming-read bandwidth, as mlxn bench qmatmul measures it */
    const size_t ceil_bytes = rotate > ((size_t)1 << 30) ? rotate : (size_t)1 << 30;
    char why[512] = "", lt_why[512] = "";
    double ceil_bw = -1, ceil_fl = -1;
    const char *ceil_name = "streaming read";
    if (cpu) {
        ceil_bw = bench_cpu_read_bw(props.threads, ceil_bytes);
    } else {
        bench_gpu *gpu = bench_gpu_open(props.ordinal, why, sizeof why);
        if (gpu) ceil_bw = bench_gpu_read_bw(gpu, ceil_bytes, why, sizeof why);
        if (gpu) ceil_fl = bench_gpu_cublaslt(gpu, 8192, 8192, 8192, rotate, lt_why, sizeof lt_why);
        bench_gpu_close(gpu);
    }
    if (!(ceil_bw > 0)) {
        ceil_bw = copy_bandwidth(dev, s, rotate);
        ceil_name = "copy (read + write; streaming read unavailable)";
    }
    if (!json) {
        printf("attention on %s: ceiling %s %.1f GB/s (same run, %.0f MiB)%s%s\n", props.name, ceil_name, ceil_bw / 1e9,
               ceil_bytes / 1048576.0, why[0] ? ": " : "", why);
        if (ceil_fl > 0) printf("prefill ceiling: cuBLASLt BF16 GEMM 8192^3 %.1f TFLOP/s (same run)\n", ceil_fl / 1e12);
        else if (!cpu) printf("prefill ceiling unavailable%s%s\n", lt_why[0] ? ": " : "", lt_why);
    }
    static const int64_t dec_l[] = {512, 2048, 8192, 32768}, pre_l[] = {512, 1024, 2048, 4096, 8192};
    int rc = 0;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        if ((quick || cpu) && si > 0) break;
        for (size_t li = 0; li < 4 && dec && !shapes[si].prefill_only; li++) {
            if (cpu && dec_l[li] > 8192) break;
            rc |= run_case(dev, s, &shapes[si], 1, dec_l[li], MLXN_TYPE_F16, rotate, ceil_bw, ceil_fl, json);
            if (!quick) rc |= run_case(dev, s, &shapes[si], 1, dec_l[li], MLXN_TYPE_Q8_0, rotate, ceil_bw, ceil_fl, json);
        }
        for (size_t li = 0; li < 5 && pre && !cpu; li++)
            if (!quick || pre_l[li] <= 2048)
                rc |= run_case(dev, s, &shapes[si], pre_l[li], pre_l[li], MLXN_TYPE_F16, 0, ceil_bw, ceil_fl, json);
    }
    mlxn_stream_destroy(s);
    mlxn_device_close(dev);
    return rc;
}
