/* The runtime objects behind the public handles, and helpers every src/ file shares.
 * C only (the CUDA side sees backend.h). */
#ifndef MLXN_CORE_H
#define MLXN_CORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mlxn.h"
#include "core/backend.h"

struct mlxn_device {
    const mlxn_backend_vt *vt;
    mlxn_backend backend; /* CPU or CUDA */
    int ordinal;
    mlxn_config cfg;
    void *impl;
    atomic_int recording; /* streams of this device now recording */
};

/* Memory shared by a buffer and its views; freed with its last reference. */
typedef struct mlxn_storage {
    atomic_long refs;
    mlxn_device *dev;
    void *ptr;    /* device (or host, for CPU) address; NULL when bytes == 0 */
    size_t bytes;
    bool owned;   /* false: caller memory (mlxn_buffer_wrap) */
} mlxn_storage;

struct mlxn_buffer {
    mlxn_storage *st;
    size_t offset; /* bytes from st->ptr */
    mlxn_type type;
    int ndim;
    int64_t ne[MLXN_MAX_DIMS];
    size_t bytes;
    bool readonly;
    bool pooled; /* belongs to a pool: mlxn_buffer_free is a no-op */
};

struct mlxn_stream {
    mlxn_device *dev;
    void *impl;
    bool recording;
    size_t recorded; /* ops recorded since mlxn_graph_begin */
};

struct mlxn_graph {
    mlxn_device *dev;
    void *impl;
    size_t n_ops;
};

/* The buffer's first byte (device address). */
static inline void *mlxn_buf_ptr(const mlxn_buffer *b) {
    return b->st->ptr ? (char *)b->st->ptr + b->offset : NULL;
}

/* New storage of `bytes` zeroed device bytes, no references yet. */
mlxn_status mlxn_storage_new(mlxn_device *dev, size_t bytes, mlxn_storage **out);
void mlxn_storage_release(mlxn_storage *st);

/* Validates a shape for `type` and computes its byte size. `op` and `arg` name the caller
 * in the message. */
mlxn_status mlxn_shape_bytes(const char *op, const char *arg, mlxn_type type, int ndim,
                             const int64_t *ne, size_t *bytes);
/* A buffer handle over st (takes a reference). */
mlxn_status mlxn_buffer_make(mlxn_storage *st, size_t offset, mlxn_type type, int ndim,
                             const int64_t *ne, size_t bytes, mlxn_buffer **out);

/* A buffer handle that takes over fresh storage (released on failure). */
mlxn_status mlxn_buffer_adopt(mlxn_storage *st, mlxn_type type, int ndim, const int64_t *ne, size_t bytes,
                              mlxn_buffer **out);

/* "[3, 4]" into out (at least 96 bytes). */
const char *mlxn_shape_str(const mlxn_buffer *b, char *out, size_t cap);

/* Whether two buffers' byte ranges share memory: 0 no, 1 the very same range, 2 partly. */
int mlxn_buffer_overlap(const mlxn_buffer *a, const mlxn_buffer *b);

/* For op front ends: marks one op recorded when the stream records. */
static inline void mlxn_stream_count_op(mlxn_stream *s) {
    if (s->recording) s->recorded++;
}

#endif
