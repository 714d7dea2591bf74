/* The GGUF handle's layout, shared by the reader (gguf.c) and its getters (gguf_get.c). */
#ifndef MLXN_IO_GGUF_H
#define MLXN_IO_GGUF_H

#include "io/io.h"

#define MLXN_GGUF_DEFAULT_ALIGNMENT 32u

/* A string as stored: NUL-terminated copy in the arena, with its length. */
typedef struct mlxn_gguf_str {
    const char *s;
    size_t len;
} mlxn_gguf_str;

typedef struct mlxn_gguf_kv {
    mlxn_gguf_str key;
    mlxn_gguf_vtype type;
    mlxn_gguf_vtype elem_type; /* ARRAY only */
    uint64_t n;                /* ARRAY only: element count */
    union {
        uint64_t u;  /* unsigned integers, bool */
        int64_t i;   /* signed integers */
        double f;    /* FLOAT32, FLOAT64 */
    } v;
    mlxn_gguf_str str;         /* STRING */
    void *arr;                 /* ARRAY: elements in host layout, or mlxn_gguf_str[n] */
} mlxn_gguf_kv;

typedef struct mlxn_gguf_tensor {
    mlxn_tensor_info info;     /* info.offset: from the start of the file */
    size_t name_len;
    uint64_t rel_offset;       /* as in the file: from the start of the data section */
} mlxn_gguf_tensor;

struct mlxn_gguf {
    mlxn_map map;
    mlxn_arena arena;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;
    uint64_t n_kv, n_tensors;
    mlxn_gguf_kv *kv;
    mlxn_gguf_tensor *tensors;
    mlxn_name_ref *kv_sorted, *tensors_sorted;
};

#endif
