/* Argument checks the op front ends share; each error names the op and the argument. */
#ifndef MLXN_OPS_CHECK_H
#define MLXN_OPS_CHECK_H

#include "core/core.h"

static inline bool mlxn_is_float(mlxn_type t) { return t == MLXN_TYPE_F32 || t == MLXN_TYPE_F16 || t == MLXN_TYPE_BF16; }

static inline bool mlxn_same_shape(const mlxn_buffer *a, const mlxn_buffer *b) {
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->ne[d] != b->ne[d]) return false;
    return true;
}

/* b is given and lives on the stream's device. */
static inline mlxn_status mlxn_check_on(const char *op, const char *arg, const mlxn_stream *s, const mlxn_buffer *b) {
    if (!b) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s is NULL", op, arg);
    if (b->st->dev != s->dev) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s is on another device than the stream", op, arg);
    return MLXN_OK;
}

/* As mlxn_check_on, and b is F32, F16 or BF16. */
static inline mlxn_status mlxn_check_float(const char *op, const char *arg, const mlxn_stream *s, const mlxn_buffer *b) {
    mlxn_status st = mlxn_check_on(op, arg, s, b);
    if (st) return st;
    if (!mlxn_is_float(b->type))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s is %s, want f32, f16 or bf16", op, arg, mlxn_type_name(b->type));
    return MLXN_OK;
}

#endif
