/* Thread pool: a job is a chunked range handed out through an atomic counter, so fast threads
 * take more chunks. Between jobs the workers spin for a while (a model's ops follow each other
 * within microseconds; waking a sleeping thread costs 10-90 µs on a VM), then sleep on a
 * condition variable. The caller waits for the workers the same way. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "core/backend.h"
#include "cpu/threadpool.h"

#define SPIN_NS 100000 /* how long an idle thread spins before it sleeps */

struct mlxn_threadpool {
    int n_threads; /* the caller included */
    pthread_t *threads;
    pthread_mutex_t mu, submit;
    pthread_cond_t work, done;
    atomic_ullong gen;     /* bumped for each job (and to stop), under mu */
    atomic_int checked_in; /* workers finished with the current job */
    int sleepers;          /* workers waiting on `work`, under mu */
    bool caller_sleeps;    /* the caller waits on `done`, under mu */
    atomic_bool stop;
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

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Spins up to SPIN_NS until done(tp, arg) holds; returns whether it did. */
static bool spin_until(mlxn_threadpool *tp, bool (*done)(mlxn_threadpool *, uint64_t), uint64_t arg) {
    const int64_t t0 = now_ns();
    for (int i = 1;; i++) {
        if (done(tp, arg)) return true;
        cpu_relax();
        if (i % 64 == 0 && now_ns() - t0 > SPIN_NS) return false;
    }
}

static bool new_job(mlxn_threadpool *tp, uint64_t seen) {
    return atomic_load_explicit(&tp->gen, memory_order_acquire) != seen;
}

static bool all_in(mlxn_threadpool *tp, uint64_t unused) {
    (void)unused;
    return atomic_load_explicit(&tp->checked_in, memory_order_acquire) == tp->n_threads - 1;
}

static void *worker_main(void *p) {
    worker_arg wa = *(worker_arg *)p;
    free(p);
    mlxn_threadpool *tp = wa.tp;
    uint64_t seen = 0;
    for (;;) {
        if (!spin_until(tp, new_job, seen)) {
            /* the job counter only moves under mu, so this check and the wait cannot miss it */
            pthread_mutex_lock(&tp->mu);
            tp->sleepers++;
            while (atomic_load_explicit(&tp->gen, memory_order_acquire) == seen) pthread_cond_wait(&tp->work, &tp->mu);
            tp->sleepers--;
            pthread_mutex_unlock(&tp->mu);
        }
        seen = atomic_load_explicit(&tp->gen, memory_order_acquire);
        if (atomic_load_explicit(&tp->stop, memory_order_acquire)) break;
        run_chunks(tp, wa.id);
        if (atomic_fetch_add_explicit(&tp->checked_in, 1, memory_order_acq_rel) + 1 == tp->n_threads - 1) {
            pthread_mutex_lock(&tp->mu);
            if (tp->caller_sleeps) pthread_cond_signal(&tp->done);
            pthread_mutex_unlock(&tp->mu);
        }
    }
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
    atomic_store_explicit(&tp->stop, true, memory_order_release);
    atomic_fetch_add_explicit(&tp->gen, 1, memory_order_release);
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
    atomic_store_explicit(&tp->next, 0, memory_order_relaxed);
    atomic_store_explicit(&tp->checked_in, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&tp->gen, 1, memory_order_release); /* publishes the job */
    if (tp->sleepers) pthread_cond_broadcast(&tp->work);
    pthread_mutex_unlock(&tp->mu);
    run_chunks(tp, 0);
    if (!spin_until(tp, all_in, 0)) {
        pthread_mutex_lock(&tp->mu);
        tp->caller_sleeps = true;
        while (!all_in(tp, 0)) pthread_cond_wait(&tp->done, &tp->mu);
        tp->caller_sleeps = false;
        pthread_mutex_unlock(&tp->mu);
    }
    pthread_mutex_unlock(&tp->submit);
}
