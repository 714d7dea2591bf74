/* Shared by the file readers: a read-only private mapping of a file, a bump arena whose
 * total is bounded by the file's size, and a bounds-checked little-endian cursor.
 * Every helper reports failures through mlxn_err and never reads past its bounds. */
#ifndef MLXN_IO_H
#define MLXN_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the GGUF and safetensors readers assume a little-endian host"
#endif

/* A whole file mapped PROT_READ / MAP_PRIVATE, or caller memory (owned == false). */
typedef struct mlxn_map {
    const uint8_t *data;
    size_t size;
    bool owned;
} mlxn_map;

/* IO for open/stat/map failures (the message names `what` and the path), FORMAT for an
 * empty file. */
mlxn_status mlxn_map_file(const char *what, const char *path, mlxn_map *m);
void mlxn_map_release(mlxn_map *m);

/* Bump allocator: chunks of at least 64 KiB, everything freed at once. */
typedef struct mlxn_arena_chunk mlxn_arena_chunk;
typedef struct mlxn_arena {
    mlxn_arena_chunk *head;
    size_t used, cap; /* of head */
} mlxn_arena;

/* 8-byte aligned, zeroed; NULL (error set, OUT_OF_MEMORY) on failure. */
void *mlxn_arena_alloc(mlxn_arena *a, size_t bytes);
/* A NUL-terminated copy of s[0..len). */
char *mlxn_arena_strdup(mlxn_arena *a, const void *s, size_t len);
void mlxn_arena_free(mlxn_arena *a);

/* A cursor over [p, p + size). */
typedef struct mlxn_rd {
    const uint8_t *p;
    size_t size, pos;
} mlxn_rd;

static inline size_t mlxn_rd_left(const mlxn_rd *r) { return r->size - r->pos; }

/* Reads n bytes; FORMAT naming `what` when fewer are left. */
mlxn_status mlxn_rd_bytes(mlxn_rd *r, void *dst, size_t n, const char *what);
mlxn_status mlxn_rd_u32(mlxn_rd *r, uint32_t *v, const char *what);
mlxn_status mlxn_rd_u64(mlxn_rd *r, uint64_t *v, const char *what);

/* Returns the smallest multiple of align (a power of two) >= x; false on overflow. */
static inline bool mlxn_align_up(uint64_t x, uint64_t align, uint64_t *out) {
    uint64_t t;
    if (__builtin_add_overflow(x, align - 1, &t)) return false;
    *out = t & ~(align - 1);
    return true;
}

static inline bool mlxn_align_up_size(size_t x, size_t align, size_t *out) {
    size_t t;
    if (__builtin_add_overflow(x, align - 1, &t)) return false;
    *out = t & ~(align - 1);
    return true;
}

/* Writes s into out (cap bytes) with control and non-ASCII bytes escaped as \xNN and the
 * text cut to about 64 characters, so a file's names can go into error messages. */
const char *mlxn_quote(const char *s, size_t len, char *out, size_t cap);

/* Chunked host → buffer copy with progress, shared by the GGUF and safetensors uploads. */
mlxn_status mlxn_upload_bytes(const char *op, mlxn_device *dev, mlxn_type type, int ndim,
                              const int64_t *ne, const void *src, size_t bytes,
                              mlxn_progress_fn progress, void *user, mlxn_buffer **out);
/* A zero-copy read-only CPU view; ndim 0 (a scalar) becomes shape [1]. */
mlxn_status mlxn_wrap_bytes(const char *op, mlxn_device *dev, mlxn_type type, int ndim,
                            const int64_t *ne, const void *src, size_t bytes, mlxn_buffer **out);

/* A name and the index of what it names: sorted once, then looked up by binary search. */
typedef struct mlxn_name_ref {
    const char *s;
    size_t len;
    uint64_t idx;
} mlxn_name_ref;

/* Sorts by bytes (then length); returns the first index i with v[i] equal to v[i-1], or 0
 * when all names are distinct. */
size_t mlxn_names_sort(mlxn_name_ref *v, size_t n);
/* The idx of name in a sorted array, or -1. */
int64_t mlxn_names_find(const mlxn_name_ref *v, size_t n, const char *name);

#endif
