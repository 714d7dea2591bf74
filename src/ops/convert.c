/* Convert front end: x and y of the same shape, any types whose reference rows exist
 * (x dequantizes, y quantizes). The whole tensor is converted row by row. */
#include "core/core.h"
#include "quant/traits.h"

mlxn_status mlxn_convert(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const void *params) {
    char sx[96], sy[96];
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "convert: stream is NULL");
    if (!x || !y) return mlxn_err(MLXN_ERR_INVALID_ARG, "convert: %s is NULL", x ? "y" : "x");
    if (x->st->dev != s->dev || y->st->dev != s->dev)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "convert: %s is on another device than the stream",
                        x->st->dev != s->dev ? "x" : "y");
    if (y->readonly) return mlxn_err(MLXN_ERR_INVALID_ARG, "convert: y is read-only");
    const mlxn_type_traits *tx = mlxn_traits(x->type), *ty = mlxn_traits(y->type);
    if (!tx->to_float)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "convert: x is %s, which has no dequantizer", tx->name);
    if (!ty->from_float)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "convert: y is %s, which has no quantizer", ty->name);
    bool same = x->ndim == y->ndim;
    for (int d = 0; same && d < x->ndim; d++) same = x->ne[d] == y->ne[d];
    if (!same)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "convert: y has shape %s, want x's shape %s", mlxn_shape_str(y, sy, sizeof sy),
                        mlxn_shape_str(x, sx, sizeof sx));
    if (mlxn_buffer_overlap(x, y)) return mlxn_err(MLXN_ERR_INVALID_ARG, "convert: y overlaps x");
    if (!s->dev->vt->convert)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "convert: not implemented on the %s backend", s->dev->vt->name);
    int64_t row = x->ne[x->ndim - 1];
    mlxn_convert_args a = {
        .tx = x->type,
        .ty = y->type,
        .x = mlxn_buf_ptr(x),
        .y = mlxn_buf_ptr(y),
        .rows = row ? mlxn_buffer_nelements(x) / row : 0,
        .row_elems = row,
        .x_row_bytes = mlxn_row_bytes(x->type, row),
        .y_row_bytes = mlxn_row_bytes(y->type, row),
    };
    if (a.rows == 0 || row == 0) return MLXN_OK;
    mlxn_status st = s->dev->vt->convert(s->impl, &a);
    if (st) return st;
    mlxn_stream_count_op(s);
    return MLXN_OK;
}
