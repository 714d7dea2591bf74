/* The type traits table: every fact about an mlxn_type, read from one place. */
#ifndef MLXN_QUANT_TRAITS_H
#define MLXN_QUANT_TRAITS_H

#include <stdbool.h>
#include <stdint.h>
#include "mlxn.h"

typedef void (*mlxn_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*mlxn_from_float_fn)(const float *src, void *dst, int64_t n);

typedef struct mlxn_type_traits {
    const char *name;         /* NULL: not a type */
    int64_t block_elems;
    size_t block_bytes;
    int32_t ggml_id;          /* -1: GGUF has no such type */
    bool is_float;            /* F32, F16, BF16, F64 */
    mlxn_to_float_fn to_float;     /* reference dequantization; NULL if none */
    mlxn_from_float_fn from_float; /* reference quantization; NULL if none */
} mlxn_type_traits;

/* The row for t, or NULL when t is not a valid type. */
const mlxn_type_traits *mlxn_traits(mlxn_type t);

#endif
