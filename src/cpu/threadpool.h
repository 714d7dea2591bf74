/* The CPU backend's thread pool: a parallel for over [0, n) in which the caller's thread
 * takes part. One parallel for at a time per pool (callers are serialized). */
#ifndef MLXN_CPU_THREADPOOL_H
#define MLXN_CPU_THREADPOOL_H

#include <stdint.h>
#include "mlxn.h"

typedef struct mlxn_threadpool mlxn_threadpool;
/* Runs on [begin, end); `worker` is 0 for the caller, 1..n_threads-1 for the others. */
typedef void (*mlxn_range_fn)(void *ctx, int64_t begin, int64_t end, int worker);

mlxn_status mlxn_threadpool_create(int n_threads, mlxn_threadpool **out);
void mlxn_threadpool_destroy(mlxn_threadpool *tp);
int mlxn_threadpool_size(const mlxn_threadpool *tp);
/* Splits [0, n) into chunks of at least `grain` items and runs fn over all of them;
 * returns when every chunk is done. */
void mlxn_parallel_for(mlxn_threadpool *tp, int64_t n, int64_t grain, mlxn_range_fn fn, void *ctx);

#endif
