/* Thread pool: workers sleep on a condition variable between jobs; a job is a chunked
 * range handed out through an atomic counter, so fast threads take more chunks. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/backend.h"
#include "cpu/threadpool.h"

struct mlxn_threadpool {
    int n_threads; /* the caller included */
    pthread_t *threads;
    pthread_mutex_t mu, submit;
    pthread_cond_t work, done;
    uint64_t gen;   /* bumped for each job */
    int checked_in; /* workers finished with the current job */
    bool stop;
    /* the current job */
    mlxn_range_fn fn;
    void *ctx;
    int64_t n, chunk, n_chunks;
    atomic_llong next;
};

static void run_chunks(mlxn_threadpool *tp, int worker) {
    for (;;) {
        int64_t c = atomic_fetch_add(&tp->next, 1);
        if (c >= tp->n_chunks) return;
        int64_t b = c * tp->chunk, e = b + tp->chunk < tp->n ? b + tp->chunk : tp->n;
        tp->fn(tp->ctx, b, e, worker);
    }
}

typedef struct worker_arg {
    mlxn_threadpool *tp;
    int id;
} worker_arg;

static void *worker_main(void *p) {
    worker_arg wa = *(worker_arg *)p;
    free(p);
    mlxn_threadpool *tp = wa.tp;
    uint64_t seen = 0;
    pthread_mutex_lock(&tp->mu);
    for (;;) {
        while (!tp->stop && tp->gen == seen) pthread_cond_wait(&tp->work, &tp->mu);
        if (tp->stop) break;
        seen = tp->gen;
        pthread_mutex_unlock(&tp->mu);
        run_chunks(tp, wa.id);
        pthread_mutex_lock(&tp->mu);
        if (++tp->checked_in == tp->n_threads - 1) pthread_cond_signal(&tp->done);
    }
    pthread_mutex_unlock(&tp->mu);
    return NULL;
}

mlxn_status mlxn_threadpool_create(int n_threads, mlxn_threadpool **out) {
    *out = NULL;
    if (n_threads < 1) n_threads = 1;
    mlxn_threadpool *tp = calloc(1, sizeof *tp);
    if (!tp) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "device_open: out of host memory for the thread pool");
    tp->n_threads = n_threads;
    pthread_mutex_init(&tp->mu, NULL);
    pthread_mutex_init(&tp->submit, NULL);
    pthread_cond_init(&tp->work, NULL);
    pthread_cond_init(&tp->done, NULL);
    tp->threads = calloc((size_t)n_threads, sizeof *tp->threads);
    if (!tp->threads) {
        mlxn_threadpool_destroy(tp);
        return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "device_open: out of host memory for the thread pool");
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        int rc = wa ? 0 : -1;
        if (wa) {
            wa->tp = tp;
            wa->id = i;
            rc = pthread_create(&tp->threads[i], NULL, worker_main, wa);
            if (rc) free(wa);
        }
        if (rc) {
            tp->n_threads = i; /* join only those started */
            mlxn_threadpool_destroy(tp);
            return mlxn_err(MLXN_ERR_DEVICE, "device_open: could not start CPU worker thread %d of %d", i, n_threads);
        }
    }
    *out = tp;
    return MLXN_OK;
}

void mlxn_threadpool_destroy(mlxn_threadpool *tp) {
    if (!tp) return;
    pthread_mutex_lock(&tp->mu);
    tp->stop = true;
    pthread_cond_broadcast(&tp->work);
    pthread_mutex_unlock(&tp->mu);
    for (int i = 1; i < tp->n_threads && tp->threads; i++) pthread_join(tp->threads[i], NULL);
    free(tp->threads);
    pthread_mutex_destroy(&tp->mu);
    pthread_mutex_destroy(&tp->submit);
    pthread_cond_destroy(&tp->work);
    pthread_cond_destroy(&tp->done);
    free(tp);
}

int mlxn_threadpool_size(const mlxn_threadpool *tp) { return tp->n_threads; }

void mlxn_parallel_for(mlxn_threadpool *tp, int64_t n, int64_t grain, mlxn_range_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int64_t max_chunks = (int64_t)tp->n_threads * 4; /* some slack for uneven threads */
    int64_t chunk = (n + max_chunks - 1) / max_chunks;
    if (chunk < grain) chunk = grain;
    int64_t n_chunks = (n + chunk - 1) / chunk;
    if (tp->n_threads == 1 || n_chunks == 1) {
        fn(ctx, 0, n, 0);
        return;
    }
    pthread_mutex_lock(&tp->submit);
    pthread_mutex_lock(&tp->mu);
    tp->fn = fn;
    tp->ctx = ctx;
    tp->n = n;
    tp->chunk = chunk;
    tp->n_chunks = n_chunks;
    atomic_store(&tp->next, 0);
    tp->checked_in = 0;
    tp->gen++;
    pthread_cond_broadcast(&tp->work);
    pthread_mutex_unlock(&tp->mu);
    run_chunks(tp, 0);
    pthread_mutex_lock(&tp->mu);
    while (tp->checked_in < tp->n_threads - 1) pthread_cond_wait(&tp->done, &tp->mu);
    pthread_mutex_unlock(&tp->mu);
    pthread_mutex_unlock(&tp->submit);
}
