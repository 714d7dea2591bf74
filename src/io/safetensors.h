/* The safetensors handle's layout, shared by the reader and the MLX weight helpers. */
#ifndef MLXN_IO_SAFETENSORS_H
#define MLXN_IO_SAFETENSORS_H

#include "io/io.h"

typedef struct mlxn_st_tensor {
    mlxn_tensor_info info; /* info.offset: from the start of the file */
    uint64_t begin;        /* data_offsets[0]: from the start of the data section */
} mlxn_st_tensor;

struct mlxn_safetensors {
    mlxn_map map;
    mlxn_arena arena;
    uint64_t data_offset; /* 8 + header length */
    mlxn_st_tensor *t;    /* sorted by begin */
    size_t n_t;
    mlxn_name_ref *sorted;
    struct {
        const char *key, *value;
    } *meta;
    size_t n_meta;
};

#endif
