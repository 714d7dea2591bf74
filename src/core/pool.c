/* Pools: per-step scratch in power-of-two size classes. Each class keeps its blocks in an
 * array; a step takes them in order and mlxn_pool_reset rewinds every class to its start. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define POOL_MIN_SHIFT 8 /* 256-byte smallest class: keeps every block 256-byte aligned */
#define POOL_CLASSES 56  /* up to 2^63 bytes */

typedef struct pool_class {
    mlxn_storage **blocks;
    size_t n, cap, used;
} pool_class;

struct mlxn_pool {
    mlxn_device *dev;
    pool_class cls[POOL_CLASSES];
    mlxn_buffer **handles; /* handed out this step */
    size_t n_handles, cap_handles;
    size_t bytes;
};

static bool grow(void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t nc = *cap ? *cap * 2 : 16;
    while (nc < need) nc *= 2;
    void *p = realloc(*arr, nc * elem);
    if (!p) return false;
    *arr = p;
    *cap = nc;
    return true;
}

mlxn_status mlxn_pool_create(mlxn_device *dev, mlxn_pool **out) {
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "pool_create: out is NULL");
    *out = NULL;
    if (!dev) return mlxn_err(MLXN_ERR_INVALID_ARG, "pool_create: dev is NULL");
    mlxn_pool *p = calloc(1, sizeof *p);
    if (!p) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "pool_create: out of host memory");
    p->dev = dev;
    *out = p;
    return MLXN_OK;
}

static void drop_handles(mlxn_pool *p) {
    for (size_t i = 0; i < p->n_handles; i++) {
        p->handles[i]->pooled = false;
        mlxn_buffer_free(p->handles[i]);
    }
    p->n_handles = 0;
}

void mlxn_pool_reset(mlxn_pool *p) {
    if (!p) return;
    drop_handles(p);
    for (int c = 0; c < POOL_CLASSES; c++) p->cls[c].used = 0;
}

void mlxn_pool_destroy(mlxn_pool *p) {
    if (!p) return;
    drop_handles(p);
    for (int c = 0; c < POOL_CLASSES; c++) {
        for (size_t i = 0; i < p->cls[c].n; i++) mlxn_storage_release(p->cls[c].blocks[i]);
        free(p->cls[c].blocks);
    }
    free(p->handles);
    free(p);
}

size_t mlxn_pool_bytes(const mlxn_pool *p) { return p ? p->bytes : 0; }

mlxn_status mlxn_pool_alloc(mlxn_pool *p, mlxn_type type, int ndim, const int64_t *ne, mlxn_buffer **out) {
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "pool_alloc: out is NULL");
    *out = NULL;
    if (!p) return mlxn_err(MLXN_ERR_INVALID_ARG, "pool_alloc: pool is NULL");
    size_t bytes;
    mlxn_status st = mlxn_shape_bytes("pool_alloc", "buffer", type, ndim, ne, &bytes);
    if (st) return st;
    int c = 0;
    while (c < POOL_CLASSES - 1 && ((size_t)1 << (c + POOL_MIN_SHIFT)) < bytes) c++;
    size_t class_bytes = (size_t)1 << (c + POOL_MIN_SHIFT);
    if (class_bytes < bytes)
        return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "pool_alloc: %zu bytes is beyond the largest size class", bytes);
    if (!grow((void **)&p->handles, &p->cap_handles, p->n_handles + 1, sizeof *p->handles))
        return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "pool_alloc: out of host memory");
    pool_class *k = &p->cls[c];
    if (k->used == k->n) {
        if (!grow((void **)&k->blocks, &k->cap, k->n + 1, sizeof *k->blocks))
            return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "pool_alloc: out of host memory");
        mlxn_storage *s = NULL;
        if ((st = mlxn_storage_new(p->dev, class_bytes, &s))) return st;
        atomic_fetch_add(&s->refs, 1); /* the pool's reference */
        k->blocks[k->n++] = s;
        p->bytes += class_bytes;
    }
    mlxn_buffer *b;
    if ((st = mlxn_buffer_make(k->blocks[k->used], 0, type, ndim, ne, bytes, &b))) return st;
    k->used++;
    b->pooled = true;
    p->handles[p->n_handles++] = b;
    *out = b;
    return MLXN_OK;
}
