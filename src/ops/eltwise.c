/* Elementwise family front end: add, mul, scale, copy/cast. Validates the contract in
 * mlxn.h, then hands one mlxn_eltwise_args to the backend. */
#include <string.h>

#include "core/core.h"
#include "ops/check.h"

mlxn_eltwise_params mlxn_eltwise_defaults(void) {
    mlxn_eltwise_params p = {.scale = 1.0f, .bias = 0.0f};
    return p;
}

static mlxn_status eltwise(const char *op, mlxn_eltwise_op kind, mlxn_stream *s, const mlxn_buffer *a,
                           const mlxn_buffer *b, mlxn_buffer *y, const mlxn_eltwise_params *p) {
    char sa[96], sb[96];
    mlxn_status st;
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: stream is NULL", op);
    bool binary = kind != MLXN_ELTWISE_COPY;
    const char *an = binary ? "a" : "x";
    if ((st = mlxn_check_float(op, an, s, a))) return st;
    if (binary && (st = mlxn_check_float(op, "b", s, b))) return st;
    if ((st = mlxn_check_float(op, "y", s, y))) return st;
    if (y->readonly) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y is read-only", op);
    if (!mlxn_same_shape(a, y))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y has shape %s, want %s's shape %s", op,
                        mlxn_shape_str(y, sb, sizeof sb), an, mlxn_shape_str(a, sa, sizeof sa));
    int64_t n = mlxn_buffer_nelements(a), nb = n;
    if (binary) {
        int64_t row = a->ne[a->ndim - 1], b_inner = b->ne[b->ndim - 1];
        nb = mlxn_buffer_nelements(b);
        if (!mlxn_same_shape(a, b) && !(nb == row && b_inner == row))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: b has shape %s, want a's shape %s or a row of %lld", op,
                            mlxn_shape_str(b, sb, sizeof sb), mlxn_shape_str(a, sa, sizeof sa), (long long)row);
        int ov = mlxn_buffer_overlap(y, b);
        if (ov == 2 || (ov == 1 && (y->type != b->type || !mlxn_same_shape(a, b))))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y overlaps b other than as the same full-shape buffer", op);
    }
    if (mlxn_buffer_overlap(y, a) == 2 || (mlxn_buffer_overlap(y, a) == 1 && y->type != a->type))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y overlaps %s other than as the same buffer of the same type", op, an);
    mlxn_eltwise_params prm = p ? *p : mlxn_eltwise_defaults();
    mlxn_eltwise_args args = {
        .op = kind,
        .ta = a->type,
        .tb = binary ? b->type : a->type,
        .ty = y->type,
        .a = mlxn_buf_ptr(a),
        .b = binary ? mlxn_buf_ptr(b) : NULL,
        .y = mlxn_buf_ptr(y),
        .n = n,
        .nb = nb,
        .scale = prm.scale,
        .bias = prm.bias,
        .affine = !(prm.scale == 1.0f && prm.bias == 0.0f),
    };
    if (n == 0) return MLXN_OK;
    if ((st = s->dev->vt->eltwise(s->impl, &args))) return st;
    mlxn_stream_count_op(s);
    return MLXN_OK;
}

mlxn_status mlxn_add(mlxn_stream *s, const mlxn_buffer *a, const mlxn_buffer *b, mlxn_buffer *y,
                     const mlxn_eltwise_params *p) {
    return eltwise("add", MLXN_ELTWISE_ADD, s, a, b, y, p);
}

mlxn_status mlxn_mul(mlxn_stream *s, const mlxn_buffer *a, const mlxn_buffer *b, mlxn_buffer *y,
                     const mlxn_eltwise_params *p) {
    return eltwise("mul", MLXN_ELTWISE_MUL, s, a, b, y, p);
}

mlxn_status mlxn_scale(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_eltwise_params *p) {
    return eltwise("scale", MLXN_ELTWISE_COPY, s, x, NULL, y, p);
}

mlxn_status mlxn_copy(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_eltwise_params *p) {
    return eltwise("copy", MLXN_ELTWISE_COPY, s, x, NULL, y, p);
}
