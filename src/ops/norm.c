/* Norm family front end: rms_norm (plain, fused residual, per head), layer_norm, l2_norm.
 * Validates the contract in mlxn.h, then hands one mlxn_norm_args to the backend. */
#include <math.h>

#include "core/core.h"
#include "ops/check.h"

mlxn_norm_params mlxn_norm_defaults(void) {
    mlxn_norm_params p = {.eps = 1e-6f, .w_offset = 0.0f, .head_dim = 0, .x_col = 0};
    return p;
}

static int64_t inner(const mlxn_buffer *b) { return b->ne[b->ndim - 1]; }

/* w or b: NULL, or one slice of `seg` elements that no output overlaps. */
static mlxn_status check_vec(const char *op, const char *arg, const mlxn_stream *s, const mlxn_buffer *v, int64_t seg,
                             const mlxn_buffer *y, const mlxn_buffer *h) {
    char sv[96];
    mlxn_status st;
    if (!v) return MLXN_OK;
    if ((st = mlxn_check_float(op, arg, s, v))) return st;
    if (mlxn_buffer_nelements(v) != seg || inner(v) != seg)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s has shape %s, want [%lld]", op, arg, mlxn_shape_str(v, sv, sizeof sv),
                        (long long)seg);
    if (mlxn_buffer_overlap(y, v) || (h && mlxn_buffer_overlap(h, v)))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: an output overlaps %s", op, arg);
    return MLXN_OK;
}

/* x, r and h are NULL where the op has none (r, h: residual only; b: layer only). */
static mlxn_status norm(const char *op, mlxn_norm_kind kind, mlxn_stream *s, const mlxn_buffer *x, const mlxn_buffer *r,
                        const mlxn_buffer *w, const mlxn_buffer *b, mlxn_buffer *h, mlxn_buffer *y, bool residual,
                        const mlxn_norm_params *p) {
    char sx[96], sy[96];
    mlxn_status st;
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: stream is NULL", op);
    if ((st = mlxn_check_float(op, "x", s, x)) || (st = mlxn_check_float(op, "y", s, y))) return st;
    if (residual && ((st = mlxn_check_float(op, "r", s, r)) || (st = mlxn_check_float(op, "h", s, h)))) return st;
    if (y->readonly) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y is read-only", op);
    if (residual && h->readonly) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: h is read-only", op);
    mlxn_norm_params prm = p ? *p : mlxn_norm_defaults();
    if (!(isfinite(prm.eps) && prm.eps >= 0))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: eps is %g, want a finite value >= 0", op, (double)prm.eps);
    if (!isfinite(prm.w_offset))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: w_offset is %g, want a finite value", op, (double)prm.w_offset);
    if (prm.head_dim < 0)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: head_dim is %lld, want >= 0", op, (long long)prm.head_dim);
    if (prm.x_col < 0) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: x_col is %lld, want >= 0", op, (long long)prm.x_col);

    const int64_t n = inner(y), ny = mlxn_buffer_nelements(y);
    const int64_t rows = n ? ny / n : 0;
    const int64_t seg = prm.head_dim ? prm.head_dim : n;
    if (n && n % seg)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: head_dim %lld does not divide y's rows of %lld", op,
                        (long long)prm.head_dim, (long long)n);
    /* x: y's shape, or rows of a wider buffer read from column x_col */
    int64_t stride = n;
    if (residual && !(mlxn_same_shape(x, y) && prm.x_col == 0))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: x has shape %s with x_col %lld, want y's shape %s and x_col 0", op,
                        mlxn_shape_str(x, sx, sizeof sx), (long long)prm.x_col, mlxn_shape_str(y, sy, sizeof sy));
    if (!(mlxn_same_shape(x, y) && prm.x_col == 0)) {
        stride = inner(x);
        int64_t total;
        if (stride < n || prm.x_col > stride - n || __builtin_mul_overflow(rows, stride, &total) ||
            mlxn_buffer_nelements(x) != total)
            return mlxn_err(MLXN_ERR_INVALID_ARG,
                            "%s: x has shape %s, want y's shape %s or %lld rows of at least x_col + n = %lld + %lld", op,
                            mlxn_shape_str(x, sx, sizeof sx), mlxn_shape_str(y, sy, sizeof sy), (long long)rows,
                            (long long)prm.x_col, (long long)n);
    }
    if (residual) {
        if (!mlxn_same_shape(r, y))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: r has shape %s, want y's shape %s", op,
                            mlxn_shape_str(r, sx, sizeof sx), mlxn_shape_str(y, sy, sizeof sy));
        if (!mlxn_same_shape(h, y))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: h has shape %s, want y's shape %s", op,
                            mlxn_shape_str(h, sx, sizeof sx), mlxn_shape_str(y, sy, sizeof sy));
        if (h->type != x->type)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: h is %s, want x's type %s", op, mlxn_type_name(h->type),
                            mlxn_type_name(x->type));
        int ox = mlxn_buffer_overlap(h, x), orr = mlxn_buffer_overlap(h, r);
        if (ox == 2 || orr == 2 || (orr == 1 && r->type != h->type))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: h overlaps x or r other than as the same buffer of its type", op);
        if (mlxn_buffer_overlap(y, x) || mlxn_buffer_overlap(y, r) || mlxn_buffer_overlap(y, h))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y overlaps x, r or h", op);
    } else {
        int ov = mlxn_buffer_overlap(y, x);
        if (ov == 2 || (ov == 1 && (y->type != x->type || stride != n)))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y overlaps x other than as the same buffer of its type", op);
    }
    if ((st = check_vec(op, "w", s, w, seg, y, h)) || (st = check_vec(op, "b", s, b, seg, y, h))) return st;
    if (ny == 0) return MLXN_OK;
    if (!s->dev->vt->norm)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the %s backend", op, s->dev->vt->name);

    size_t ex = x->type == MLXN_TYPE_F32 ? 4 : 2;
    mlxn_norm_args a = {
        .kind = kind,
        .tx = x->type,
        .tw = w ? w->type : MLXN_TYPE_F32,
        .tb = b ? b->type : MLXN_TYPE_F32,
        .tr = residual ? r->type : MLXN_TYPE_F32,
        .ty = y->type,
        .x = (const char *)mlxn_buf_ptr(x) + ex * (size_t)prm.x_col,
        .w = w ? mlxn_buf_ptr(w) : NULL,
        .b = b ? mlxn_buf_ptr(b) : NULL,
        .r = residual ? mlxn_buf_ptr(r) : NULL,
        .h = residual ? mlxn_buf_ptr(h) : NULL,
        .y = mlxn_buf_ptr(y),
        .rows = rows,
        .n = n,
        .seg = seg,
        .x_stride = stride,
        .eps = prm.eps,
        .w_offset = w ? prm.w_offset : 0.0f,
    };
    if ((st = s->dev->vt->norm(s->impl, &a))) return st;
    mlxn_stream_count_op(s);
    return MLXN_OK;
}

mlxn_status mlxn_rms_norm(mlxn_stream *s, const mlxn_buffer *x, const mlxn_buffer *w, mlxn_buffer *y,
                          const mlxn_norm_params *p) {
    return norm("rms_norm", MLXN_NORM_RMS, s, x, NULL, w, NULL, NULL, y, false, p);
}

mlxn_status mlxn_rms_norm_residual(mlxn_stream *s, const mlxn_buffer *x, const mlxn_buffer *r, const mlxn_buffer *w,
                                   mlxn_buffer *h, mlxn_buffer *y, const mlxn_norm_params *p) {
    return norm("rms_norm_residual", MLXN_NORM_RMS, s, x, r, w, NULL, h, y, true, p);
}

mlxn_status mlxn_layer_norm(mlxn_stream *s, const mlxn_buffer *x, const mlxn_buffer *w, const mlxn_buffer *b,
                            mlxn_buffer *y, const mlxn_norm_params *p) {
    return norm("layer_norm", MLXN_NORM_LAYER, s, x, NULL, w, b, NULL, y, false, p);
}

mlxn_status mlxn_l2_norm(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_norm_params *p) {
    return norm("l2_norm", MLXN_NORM_L2, s, x, NULL, NULL, NULL, NULL, y, false, p);
}
