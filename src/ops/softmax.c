/* Softmax front end: scale, optional softcap and broadcast additive mask, rows of n.
 * Validates the contract in mlxn.h, then hands one mlxn_softmax_args to the backend. */
#include <math.h>

#include "core/core.h"
#include "ops/check.h"

mlxn_softmax_params mlxn_softmax_defaults(void) {
    mlxn_softmax_params p = {.scale = 1.0f, .softcap = 0.0f};
    return p;
}

static const char *const OP = "softmax";

mlxn_status mlxn_softmax(mlxn_stream *s, const mlxn_buffer *x, const mlxn_buffer *mask, mlxn_buffer *y,
                         const mlxn_softmax_params *p) {
    char sa[96], sb[96];
    mlxn_status st;
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: stream is NULL", OP);
    if ((st = mlxn_check_float(OP, "x", s, x)) || (st = mlxn_check_float(OP, "y", s, y))) return st;
    if (mask && (st = mlxn_check_float(OP, "mask", s, mask))) return st;
    if (y->readonly) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y is read-only", OP);
    mlxn_softmax_params prm = p ? *p : mlxn_softmax_defaults();
    if (!isfinite(prm.scale))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: scale is %g, want a finite value", OP, (double)prm.scale);
    if (!(isfinite(prm.softcap) && prm.softcap >= 0))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: softcap is %g, want 0 (off) or a finite value > 0", OP,
                        (double)prm.softcap);
    if (!mlxn_same_shape(x, y))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y has shape %s, want x's shape %s", OP, mlxn_shape_str(y, sb, sizeof sb),
                        mlxn_shape_str(x, sa, sizeof sa));
    const int64_t n = x->ne[x->ndim - 1], nx = mlxn_buffer_nelements(x), rows = n ? nx / n : 0;
    int64_t mask_rows = 0;
    if (mask) {
        int64_t nm = mlxn_buffer_nelements(mask);
        mask_rows = n ? nm / n : 0;
        if (mask->ne[mask->ndim - 1] != n || (rows && (mask_rows == 0 || rows % mask_rows)))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: mask has shape %s, want rows of %lld whose count divides x's %lld",
                            OP, mlxn_shape_str(mask, sa, sizeof sa), (long long)n, (long long)rows);
        if (mlxn_buffer_overlap(y, mask)) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y overlaps mask", OP);
    }
    int ov = mlxn_buffer_overlap(y, x);
    if (ov == 2 || (ov == 1 && y->type != x->type))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y overlaps x other than as the same buffer of its type", OP);
    if (nx == 0) return MLXN_OK;
    if (!s->dev->vt->softmax)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the %s backend", OP, s->dev->vt->name);
    mlxn_softmax_args a = {
        .tx = x->type,
        .tm = mask ? mask->type : MLXN_TYPE_F32,
        .ty = y->type,
        .x = mlxn_buf_ptr(x),
        .mask = mask ? mlxn_buf_ptr(mask) : NULL,
        .y = mlxn_buf_ptr(y),
        .rows = rows,
        .n = n,
        .mask_rows = mask_rows,
        .scale = prm.scale,
        .softcap = prm.softcap,
    };
    if ((st = s->dev->vt->softmax(s->impl, &a))) return st;
    mlxn_stream_count_op(s);
    return MLXN_OK;
}
