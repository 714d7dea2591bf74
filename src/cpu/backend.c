/* The CPU backend: host memory, in-order streams that run ops before returning, and graphs
 * as recorded op lists. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu/cpu.h"

typedef struct cpu_task {
    cpu_op_fn fn;
    void *args;
} cpu_task;

typedef struct cpu_graph {
    cpu_task *tasks;
    size_t n, cap;
} cpu_graph;

typedef struct cpu_stream {
    cpu_device *dev;
    cpu_graph *rec; /* non-NULL while recording */
    mlxn_status rec_error; /* first failure while recording (out of memory) */
} cpu_stream;

static int online_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int cpu_count(char *why, size_t why_len) { return 1; }

static mlxn_status cpu_open(int ordinal, const mlxn_config *cfg, void **out) {
    cpu_device *d = calloc(1, sizeof *d);
    if (!d) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "device_open: out of host memory");
    int threads = cfg->cpu_threads > 0 ? cfg->cpu_threads : online_cores();
    mlxn_status st = mlxn_threadpool_create(threads, &d->tp);
    if (st) {
        free(d);
        return st;
    }
    *out = d;
    return MLXN_OK;
}

static void cpu_close(void *dev) {
    cpu_device *d = dev;
    mlxn_threadpool_destroy(d->tp);
    free(d);
}

static void cpu_model(char *out, size_t cap) {
    snprintf(out, cap, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *v = strchr(line, ':');
            if (v) {
                v += 1 + (v[1] == ' ');
                v[strcspn(v, "\n")] = 0;
                snprintf(out, cap, "%s", v);
            }
            break;
        }
    }
    fclose(f);
}

static const char *simd_level(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "avx512";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2+fma";
    if (__builtin_cpu_supports("avx")) return "avx";
    return "sse2";
#elif defined(__aarch64__)
    return "neon";
#else
    return "scalar";
#endif
}

static mlxn_status cpu_props(void *dev, mlxn_device_props *p) {
    cpu_device *d = dev;
    cpu_model(p->name, sizeof p->name);
    long pages = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psz > 0) p->total_memory = (uint64_t)pages * (uint64_t)psz;
    if (avail > 0 && psz > 0) p->free_memory = (uint64_t)avail * (uint64_t)psz;
#ifdef _SC_LEVEL3_CACHE_SIZE
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    p->l2_bytes = l3 > 0 ? (uint64_t)l3 : l2 > 0 ? (uint64_t)l2 : 0;
#endif
    p->threads = mlxn_threadpool_size(d->tp);
    snprintf(p->simd, sizeof p->simd, "%s", simd_level());
    return MLXN_OK;
}

/* 64-byte aligned (a cache line, any SIMD width) and zeroed. calloc, so that large blocks
 * come as fresh zero pages instead of being written twice; the original pointer is kept
 * just below the aligned one (calloc aligns to 16, so there are at least 16 bytes). */
static mlxn_status cpu_alloc(void *dev, size_t bytes, void **ptr) {
    size_t total;
    void *raw = mlxn_add_size(bytes, 64, &total) ? calloc(1, total) : NULL;
    if (!raw) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "buffer_alloc: %zu bytes of host memory could not be allocated", bytes);
    uintptr_t a = ((uintptr_t)raw + 64) & ~(uintptr_t)63;
    ((void **)a)[-1] = raw;
    *ptr = (void *)a;
    return MLXN_OK;
}

static void cpu_free(void *dev, void *ptr) {
    if (ptr) free(((void **)ptr)[-1]);
}

static mlxn_status cpu_memcpy(void *dev, void *dst, const void *src, size_t n) {
    memcpy(dst, src, n);
    return MLXN_OK;
}

static mlxn_status cpu_fill(void *dev, void *dst, size_t n, const void *pat, size_t pb) {
    if (pb == 1) {
        memset(dst, *(const unsigned char *)pat, n);
        return MLXN_OK;
    }
    char *d = dst;
    size_t done = pb;
    memcpy(d, pat, pb);
    while (done < n) { /* doubling copies */
        size_t k = done < n - done ? done : n - done;
        memcpy(d + done, d, k);
        done += k;
    }
    return MLXN_OK;
}

static mlxn_status cpu_stream_create(void *dev, void **out) {
    cpu_stream *s = calloc(1, sizeof *s);
    if (!s) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "stream_create: out of host memory");
    s->dev = dev;
    *out = s;
    return MLXN_OK;
}

static mlxn_status cpu_stream_sync(void *stream) { return MLXN_OK; }

static void graph_free(cpu_graph *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n; i++) free(g->tasks[i].args);
    free(g->tasks);
    free(g);
}

static void cpu_stream_destroy(void *stream) {
    cpu_stream *s = stream;
    graph_free(s->rec);
    free(s);
}

static mlxn_status cpu_graph_begin(void *stream) {
    cpu_stream *s = stream;
    s->rec = calloc(1, sizeof *s->rec);
    if (!s->rec) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "graph_begin: out of host memory");
    s->rec_error = MLXN_OK;
    return MLXN_OK;
}

static mlxn_status cpu_graph_end(void *stream, void **out) {
    cpu_stream *s = stream;
    cpu_graph *g = s->rec;
    s->rec = NULL;
    if (s->rec_error) {
        graph_free(g);
        return mlxn_err(s->rec_error, "graph_end: an op could not be recorded (out of host memory)");
    }
    *out = g;
    return MLXN_OK;
}

static mlxn_status cpu_graph_replay(void *stream, void *graph) {
    cpu_stream *s = stream;
    cpu_graph *g = graph;
    for (size_t i = 0; i < g->n; i++) g->tasks[i].fn(s->dev, g->tasks[i].args);
    return MLXN_OK;
}

static void cpu_graph_destroy(void *graph) { graph_free(graph); }

mlxn_status mlxn_cpu_submit(void *stream, cpu_op_fn fn, const void *args, size_t args_bytes) {
    cpu_stream *s = stream;
    if (!s->rec) {
        fn(s->dev, args);
        return MLXN_OK;
    }
    cpu_graph *g = s->rec;
    if (g->n == g->cap) {
        size_t nc = g->cap ? g->cap * 2 : 16;
        cpu_task *t = realloc(g->tasks, nc * sizeof *t);
        if (!t) return s->rec_error = mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "graph: out of host memory recording an op");
        g->tasks = t;
        g->cap = nc;
    }
    void *copy = malloc(args_bytes);
    if (!copy) return s->rec_error = mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "graph: out of host memory recording an op");
    memcpy(copy, args, args_bytes);
    g->tasks[g->n++] = (cpu_task){fn, copy};
    return MLXN_OK;
}

const mlxn_backend_vt mlxn_cpu_backend = {
    .name = "cpu",
    .count = cpu_count,
    .open = cpu_open,
    .close = cpu_close,
    .props = cpu_props,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .write = cpu_memcpy,
    .read = cpu_memcpy,
    .copy = cpu_memcpy,
    .fill = cpu_fill,
    .stream_create = cpu_stream_create,
    .stream_sync = cpu_stream_sync,
    .stream_destroy = cpu_stream_destroy,
    .graph_begin = cpu_graph_begin,
    .graph_end = cpu_graph_end,
    .graph_replay = cpu_graph_replay,
    .graph_destroy = cpu_graph_destroy,
    .eltwise = mlxn_cpu_eltwise,
    .norm = mlxn_cpu_norm,
    .rope = mlxn_cpu_rope,
    .softmax = mlxn_cpu_softmax,
    .act = mlxn_cpu_act,
    .qmatmul = mlxn_cpu_qmatmul,
    .convert = mlxn_cpu_convert,
    .attention = mlxn_cpu_attention,
    .get_rows = mlxn_cpu_get_rows,
    .layout = mlxn_cpu_layout,
    .kv_append = mlxn_cpu_kv_append,
    .sample = mlxn_cpu_sample,
};
