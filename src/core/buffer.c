/* Buffers: typed, shaped views of reference-counted device memory; host transfers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "quant/traits.h"

mlxn_status mlxn_storage_new(mlxn_device *dev, size_t bytes, mlxn_storage **out) {
    mlxn_storage *st = calloc(1, sizeof *st);
    if (!st) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "buffer_alloc: out of host memory");
    st->dev = dev;
    st->bytes = bytes;
    st->owned = true;
    atomic_init(&st->refs, 0);
    if (bytes) {
        mlxn_status s = dev->vt->alloc(dev->impl, bytes, &st->ptr);
        if (s) {
            free(st);
            return s;
        }
    }
    *out = st;
    return MLXN_OK;
}

void mlxn_storage_release(mlxn_storage *st) {
    if (!st || atomic_fetch_sub(&st->refs, 1) != 1) return;
    if (st->owned && st->ptr) st->dev->vt->free(st->dev->impl, st->ptr);
    free(st);
}

mlxn_status mlxn_shape_bytes(const char *op, const char *arg, mlxn_type type, int ndim, const int64_t *ne,
                             size_t *bytes) {
    const mlxn_type_traits *tr = mlxn_traits(type);
    if (!tr) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s type %d is not a valid mlxn_type", op, arg, (int)type);
    if (ndim < 1 || ndim > MLXN_MAX_DIMS)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s ndim=%d, want 1..%d", op, arg, ndim, MLXN_MAX_DIMS);
    if (!ne) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s ne is NULL", op, arg);
    size_t rows = 1;
    for (int d = 0; d < ndim; d++) {
        if (ne[d] < 0)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s ne[%d]=%lld is negative", op, arg, d, (long long)ne[d]);
    }
    for (int d = 0; d < ndim - 1; d++) {
        if (!mlxn_mul_size(rows, (size_t)ne[d], &rows))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s shape overflows size_t", op, arg);
    }
    int64_t inner = ne[ndim - 1];
    if (inner % tr->block_elems)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s is %s with innermost ne=%lld, not a multiple of its block of %lld",
                        op, arg, tr->name, (long long)inner, (long long)tr->block_elems);
    size_t row;
    if (!mlxn_mul_size((size_t)(inner / tr->block_elems), tr->block_bytes, &row) || !mlxn_mul_size(rows, row, bytes))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s shape overflows size_t bytes", op, arg);
    return MLXN_OK;
}

mlxn_status mlxn_buffer_make(mlxn_storage *st, size_t offset, mlxn_type type, int ndim, const int64_t *ne,
                             size_t bytes, mlxn_buffer **out) {
    mlxn_buffer *b = calloc(1, sizeof *b);
    if (!b) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "buffer: out of host memory");
    atomic_fetch_add(&st->refs, 1);
    b->st = st;
    b->offset = offset;
    b->type = type;
    b->ndim = ndim;
    for (int d = 0; d < ndim; d++) b->ne[d] = ne[d];
    b->bytes = bytes;
    *out = b;
    return MLXN_OK;
}

mlxn_status mlxn_buffer_alloc(mlxn_device *dev, mlxn_type type, int ndim, const int64_t *ne, mlxn_buffer **out) {
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "buffer_alloc: out is NULL");
    *out = NULL;
    if (!dev) return mlxn_err(MLXN_ERR_INVALID_ARG, "buffer_alloc: dev is NULL");
    size_t bytes;
    mlxn_status st = mlxn_shape_bytes("buffer_alloc", "buffer", type, ndim, ne, &bytes);
    if (st) return st;
    mlxn_storage *s = NULL;
    if ((st = mlxn_storage_new(dev, bytes, &s))) return st;
    return mlxn_buffer_adopt(s, type, ndim, ne, bytes, out);
}

mlxn_status mlxn_buffer_adopt(mlxn_storage *s, mlxn_type type, int ndim, const int64_t *ne, size_t bytes,
                              mlxn_buffer **out) {
    mlxn_status st = mlxn_buffer_make(s, 0, type, ndim, ne, bytes, out);
    if (st) { /* release the fresh storage */
        atomic_fetch_add(&s->refs, 1);
        mlxn_storage_release(s);
    }
    return st;
}

mlxn_status mlxn_buffer_view(mlxn_buffer *parent, size_t offset, mlxn_type type, int ndim, const int64_t *ne,
                             mlxn_buffer **out) {
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "buffer_view: out is NULL");
    *out = NULL;
    if (!parent) return mlxn_err(MLXN_ERR_INVALID_ARG, "buffer_view: parent is NULL");
    size_t bytes, end;
    mlxn_status st = mlxn_shape_bytes("buffer_view", "view", type, ndim, ne, &bytes);
    if (st) return st;
    if (!mlxn_add_size(offset, bytes, &end) || end > parent->bytes)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "buffer_view: offset %zu + %zu bytes exceeds the parent's %zu bytes",
                        offset, bytes, parent->bytes);
    if ((st = mlxn_buffer_make(parent->st, parent->offset + offset, type, ndim, ne, bytes, out))) return st;
    (*out)->readonly = parent->readonly;
    return MLXN_OK;
}

mlxn_status mlxn_buffer_wrap(mlxn_device *dev, mlxn_type type, int ndim, const int64_t *ne, const void *data,
                             size_t bytes, mlxn_buffer **out) {
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "buffer_wrap: out is NULL");
    *out = NULL;
    if (!dev) return mlxn_err(MLXN_ERR_INVALID_ARG, "buffer_wrap: dev is NULL");
    if (dev->backend != MLXN_BACKEND_CPU)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "buffer_wrap: only CPU devices can wrap host memory, dev is %s",
                        mlxn_backend_name(dev->backend));
    size_t need;
    mlxn_status st = mlxn_shape_bytes("buffer_wrap", "buffer", type, ndim, ne, &need);
    if (st) return st;
    if (bytes < need)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "buffer_wrap: bytes=%zu, the shape needs %zu", bytes, need);
    if (!data && need) return mlxn_err(MLXN_ERR_INVALID_ARG, "buffer_wrap: data is NULL");
    mlxn_storage *s = calloc(1, sizeof *s);
    if (!s) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "buffer_wrap: out of host memory");
    s->dev = dev;
    s->ptr = (void *)data; /* never written: the buffer is read-only */
    s->bytes = need;
    s->owned = false;
    atomic_init(&s->refs, 0);
    if ((st = mlxn_buffer_adopt(s, type, ndim, ne, need, out))) return st;
    (*out)->readonly = true;
    return MLXN_OK;
}

void mlxn_buffer_free(mlxn_buffer *b) {
    if (!b || b->pooled) return;
    mlxn_storage_release(b->st);
    free(b);
}

/* ── transfers ── */

static mlxn_status range_check(const char *op, const mlxn_buffer *b, size_t offset, size_t bytes,
                               const void *host) {
    size_t end;
    if (!b) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: buffer is NULL", op);
    if (!mlxn_add_size(offset, bytes, &end) || end > b->bytes)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: range [%zu, %zu + %zu) exceeds the buffer's %zu bytes", op, offset,
                        offset, bytes, b->bytes);
    if (bytes && !host) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: host pointer is NULL", op);
    if (b->st->dev->backend == MLXN_BACKEND_CUDA && atomic_load(&b->st->dev->recording) > 0)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: a stream of this CUDA device is recording a graph", op);
    return MLXN_OK;
}

static mlxn_status writable(const char *op, const mlxn_buffer *b) {
    if (b->readonly) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: the buffer is read-only", op);
    return MLXN_OK;
}

mlxn_status mlxn_buffer_write(mlxn_buffer *b, size_t offset, const void *src, size_t bytes) {
    mlxn_status st = range_check("buffer_write", b, offset, bytes, src);
    if (st || (st = writable("buffer_write", b)) || !bytes) return st;
    mlxn_device *dev = b->st->dev;
    return dev->vt->write(dev->impl, (char *)mlxn_buf_ptr(b) + offset, src, bytes);
}

mlxn_status mlxn_buffer_read(const mlxn_buffer *b, size_t offset, void *dst, size_t bytes) {
    mlxn_status st = range_check("buffer_read", b, offset, bytes, dst);
    if (st || !bytes) return st;
    mlxn_device *dev = b->st->dev;
    return dev->vt->read(dev->impl, dst, (const char *)mlxn_buf_ptr(b) + offset, bytes);
}

mlxn_status mlxn_buffer_fill(mlxn_buffer *b, const void *pattern, size_t pattern_bytes) {
    mlxn_status st = range_check("buffer_fill", b, 0, b ? b->bytes : 0, pattern);
    if (st || (st = writable("buffer_fill", b))) return st;
    if (!pattern) return mlxn_err(MLXN_ERR_INVALID_ARG, "buffer_fill: pattern is NULL");
    if (pattern_bytes == 0 || pattern_bytes > 16 || (pattern_bytes & (pattern_bytes - 1)))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "buffer_fill: pattern_bytes=%zu, want 1, 2, 4, 8 or 16", pattern_bytes);
    if (b->bytes % pattern_bytes)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "buffer_fill: %zu bytes is not a multiple of the %zu-byte pattern",
                        b->bytes, pattern_bytes);
    if (!b->bytes) return MLXN_OK;
    mlxn_device *dev = b->st->dev;
    return dev->vt->fill(dev->impl, mlxn_buf_ptr(b), b->bytes, pattern, pattern_bytes);
}

mlxn_status mlxn_buffer_copy(mlxn_buffer *dst, size_t dst_offset, const mlxn_buffer *src, size_t src_offset,
                             size_t bytes) {
    static const char op[] = "buffer_copy";
    mlxn_status st;
    if (!dst || !src) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s is NULL", op, dst ? "src" : "dst");
    if ((st = range_check(op, dst, dst_offset, bytes, dst)) || (st = range_check(op, src, src_offset, bytes, src)))
        return st;
    if ((st = writable(op, dst)) || !bytes) return st;
    char *d = (char *)mlxn_buf_ptr(dst) + dst_offset;
    const char *s = (const char *)mlxn_buf_ptr(src) + src_offset;
    if (dst->st->ptr == src->st->ptr && d < s + bytes && s < d + bytes)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: source and destination ranges overlap", op);
    mlxn_device *dd = dst->st->dev, *sd = src->st->dev;
    if (dd == sd) return dd->vt->copy(dd->impl, d, s, bytes);
    /* Across devices: through a host bounce buffer, in chunks. */
    size_t chunk = bytes < ((size_t)64 << 20) ? bytes : ((size_t)64 << 20);
    char *tmp = malloc(chunk);
    if (!tmp) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "%s: no host memory for a %zu-byte bounce buffer", op, chunk);
    for (size_t done = 0; done < bytes && !st; done += chunk) {
        size_t n = bytes - done < chunk ? bytes - done : chunk;
        st = sd->vt->read(sd->impl, tmp, s + done, n);
        if (!st) st = dd->vt->write(dd->impl, d + done, tmp, n);
    }
    free(tmp);
    return st;
}

/* ── getters ── */

mlxn_type mlxn_buffer_type(const mlxn_buffer *b) { return b ? b->type : MLXN_TYPE_COUNT; }
int mlxn_buffer_ndim(const mlxn_buffer *b) { return b ? b->ndim : 0; }
int64_t mlxn_buffer_ne(const mlxn_buffer *b, int dim) {
    return b && dim >= 0 && dim < b->ndim ? b->ne[dim] : 0;
}
int64_t mlxn_buffer_nelements(const mlxn_buffer *b) {
    if (!b) return 0;
    int64_t n = 1;
    for (int d = 0; d < b->ndim; d++) n *= b->ne[d]; /* bounded: the byte size did not overflow */
    return n;
}
size_t mlxn_buffer_bytes(const mlxn_buffer *b) { return b ? b->bytes : 0; }
mlxn_device *mlxn_buffer_device(const mlxn_buffer *b) { return b ? b->st->dev : NULL; }

const char *mlxn_shape_str(const mlxn_buffer *b, char *out, size_t cap) {
    size_t k = (size_t)snprintf(out, cap, "[");
    for (int d = 0; d < b->ndim && k < cap; d++)
        k += (size_t)snprintf(out + k, cap - k, "%s%lld", d ? ", " : "", (long long)b->ne[d]);
    if (k < cap) snprintf(out + k, cap - k, "]");
    return out;
}

int mlxn_buffer_overlap(const mlxn_buffer *a, const mlxn_buffer *b) {
    if (a->st != b->st || !a->bytes || !b->bytes) return 0;
    if (a->offset == b->offset && a->bytes == b->bytes) return 1;
    return a->offset < b->offset + b->bytes && b->offset < a->offset + a->bytes ? 2 : 0;
}
