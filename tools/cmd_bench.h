/* mlxn bench: what its subcommands share. The GPU ceilings are measured through the CUDA
 * driver and cuBLASLt, both opened with dlopen at run time, so the mlxn binary starts on a
 * machine without them (the ceilings are then reported as unavailable). */
#ifndef MLXN_TOOLS_CMD_BENCH_H
#define MLXN_TOOLS_CMD_BENCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_gpu bench_gpu;

/* The CUDA driver on GPU `ordinal` (the primary context, which mlxn's runtime shares).
 * NULL with the reason in why when libcuda cannot be loaded or fails. */
bench_gpu *bench_gpu_open(int ordinal, char *why, size_t why_len);
void bench_gpu_close(bench_gpu *g);
/* Streaming-read bandwidth in bytes/s over a buffer of `bytes` (16-byte loads, the median
 * of several passes); a negative value on failure, with why. */
double bench_gpu_read_bw(bench_gpu *g, size_t bytes, char *why, size_t why_len);
/* cuBLASLt BF16 GEMM Y[M][N] = X[M][K] · W[N][K]ᵀ (f32 accumulation, BF16 out) in flop/s,
 * rotating over copies of W that together exceed rotate_bytes; negative when cuBLASLt is
 * absent or fails, with why. */
double bench_gpu_cublaslt(bench_gpu *g, int64_t m, int64_t n, int64_t k, size_t rotate_bytes, char *why,
                          size_t why_len);

/* The CPU's streaming-read bandwidth in bytes/s with `threads` threads over `bytes`. */
double bench_cpu_read_bw(int threads, size_t bytes);

double bench_now(void);

#endif
