/* Layout family front end: copy_strided, transpose, permute, slice and concat, each
 * validated against the contract in mlxn.h and lowered to one or two strided walks
 * (mlxn_layout_args) for the backend. */
#include "core/core.h"
#include "ops/check.h"

static size_t elem_bytes(mlxn_type t) { return t == MLXN_TYPE_F32 ? 4 : 2; }

static mlxn_status check_buf(const char *op, const char *arg, const mlxn_stream *s, const mlxn_buffer *b, bool out) {
    mlxn_status st = mlxn_check_float(op, arg, s, b);
    if (st) return st;
    if (out && b->readonly) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s is read-only", op, arg);
    return MLXN_OK;
}

/* Contiguous strides (elements) of a shape, outermost first. */
static void contiguous(int ndim, const int64_t *ne, int64_t *st) {
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        st[d] = s;
        s *= ne[d];
    }
}

/* Every address of the walk lies in [0, n). The shape has no zero dim. */
static mlxn_status walk_in_bounds(const char *op, const char *arg, int64_t n, int ndim, const int64_t *ne, int64_t off,
                                  const int64_t *st) {
    int64_t lo = off, hi = off, span;
    bool ovf = false;
    for (int d = 0; d < ndim; d++) {
        ovf |= __builtin_mul_overflow(ne[d] - 1, st[d], &span);
        ovf |= span < 0 ? __builtin_add_overflow(lo, span, &lo) : __builtin_add_overflow(hi, span, &hi);
    }
    if (ovf || lo < 0 || hi >= n)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: the walk over %s reaches elements %lld..%lld, outside its %lld elements",
                        op, arg, ovf ? 0LL : (long long)lo, ovf ? 0LL : (long long)hi, (long long)n);
    return MLXN_OK;
}

/* No two elements of the walk share a y address: taken by increasing stride, each dim's
 * stride exceeds the span of the dims before it. Strides >= 0. */
static mlxn_status walk_distinct(const char *op, int ndim, const int64_t *ne, const int64_t *st) {
    int idx[MLXN_MAX_DIMS], n = 0;
    for (int d = 0; d < ndim; d++) {
        if (st[d] < 0)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y_stride[%d]=%lld is negative", op, d, (long long)st[d]);
        if (ne[d] > 1) idx[n++] = d;
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && st[idx[j]] < st[idx[j - 1]]; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    int64_t span = 0; /* largest offset reached by the dims taken so far */
    for (int i = 0; i < n; i++) {
        int d = idx[i];
        if (st[d] <= span)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y_stride[%d]=%lld makes two elements share a y address", op, d,
                            (long long)st[d]);
        span += (ne[d] - 1) * st[d]; /* bounded by walk_in_bounds */
    }
    return MLXN_OK;
}

/* Validates a walk (ndim <= 4, ne > 0 unless empty) and runs it. Returns through *ran
 * whether the backend was called. */
static mlxn_status walk(const char *op, mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, int ndim, const int64_t *ne,
                        int64_t xoff, const int64_t *xs, int64_t yoff, const int64_t *ys) {
    mlxn_status st;
    for (int d = 0; d < ndim; d++)
        if (ne[d] == 0) return MLXN_OK;
    if ((st = walk_in_bounds(op, "x", mlxn_buffer_nelements(x), ndim, ne, xoff, xs)) ||
        (st = walk_in_bounds(op, "y", mlxn_buffer_nelements(y), ndim, ne, yoff, ys)) ||
        (st = walk_distinct(op, ndim, ne, ys)))
        return st;
    if (!s->dev->vt->layout)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the %s backend", op, s->dev->vt->name);
    mlxn_layout_args a = {.tx = x->type, .ty = y->type};
    a.x = (const char *)mlxn_buf_ptr(x) + (size_t)xoff * elem_bytes(x->type);
    a.y = (char *)mlxn_buf_ptr(y) + (size_t)yoff * elem_bytes(y->type);
    for (int d = 0; d < 4; d++) {
        int src = d - (4 - ndim);
        a.ne[d] = src >= 0 ? ne[src] : 1;
        a.xs[d] = src >= 0 ? xs[src] : 0;
        a.ys[d] = src >= 0 ? ys[src] : 0;
    }
    return s->dev->vt->layout(s->impl, &a);
}

static mlxn_status unary_checks(const char *op, mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y) {
    mlxn_status st;
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: stream is NULL", op);
    if ((st = check_buf(op, "x", s, x, false)) || (st = check_buf(op, "y", s, y, true))) return st;
    if (mlxn_buffer_overlap(x, y)) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y overlaps x", op);
    return MLXN_OK;
}

/* Counts the op once it ran (an empty y runs nothing). */
static mlxn_status done(mlxn_stream *s, const mlxn_buffer *y, mlxn_status st) {
    if (st == MLXN_OK && mlxn_buffer_nelements(y) > 0) mlxn_stream_count_op(s);
    return st;
}

mlxn_status mlxn_copy_strided(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_copy_strided_params *p) {
    mlxn_status st;
    if ((st = unary_checks("copy_strided", s, x, y))) return st;
    if (!p) {
        int64_t n = mlxn_buffer_nelements(y), one = 1;
        if (mlxn_buffer_nelements(x) != n)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "copy_strided: x has %lld elements, y %lld",
                            (long long)mlxn_buffer_nelements(x), (long long)n);
        return done(s, y, walk("copy_strided", s, x, y, 1, &n, 0, &one, 0, &one));
    }
    if (p->ndim < 1 || p->ndim > MLXN_MAX_DIMS)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "copy_strided: ndim=%d, want 1..%d", p->ndim, MLXN_MAX_DIMS);
    for (int d = 0; d < p->ndim; d++)
        if (p->ne[d] < 0)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "copy_strided: ne[%d]=%lld is negative", d, (long long)p->ne[d]);
    return done(s, y, walk("copy_strided", s, x, y, p->ndim, p->ne, p->x_offset, p->x_stride, p->y_offset, p->y_stride));
}

mlxn_status mlxn_transpose(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const void *params) {
    char s1[96], s2[96];
    mlxn_status st;
    if ((st = unary_checks("transpose", s, x, y))) return st;
    const int n = x->ndim;
    bool ok = n >= 2 && y->ndim == n && y->ne[n - 2] == x->ne[n - 1] && y->ne[n - 1] == x->ne[n - 2];
    for (int d = 0; ok && d < n - 2; d++) ok = y->ne[d] == x->ne[d];
    if (!ok)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "transpose: x %s and y %s: want x of 2..4 dims and y with its last two swapped",
                        mlxn_shape_str(x, s1, sizeof s1), mlxn_shape_str(y, s2, sizeof s2));
    int64_t xs[MLXN_MAX_DIMS], ys[MLXN_MAX_DIMS], wx[MLXN_MAX_DIMS];
    contiguous(n, x->ne, xs);
    contiguous(n, y->ne, ys);
    for (int d = 0; d < n; d++) wx[d] = xs[d];
    wx[n - 2] = xs[n - 1];
    wx[n - 1] = xs[n - 2];
    return done(s, y, walk("transpose", s, x, y, n, y->ne, 0, wx, 0, ys));
}

mlxn_status mlxn_permute(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_permute_params *p) {
    char s1[96], s2[96];
    mlxn_status st;
    if ((st = unary_checks("permute", s, x, y))) return st;
    const int n = x->ndim;
    if (n < 2) return mlxn_err(MLXN_ERR_INVALID_ARG, "permute: x has %d dims, want 2..4", n);
    const mlxn_permute_params def = {{0, 1, 2}};
    const int *perm = (p ? p : &def)->perm;
    int seen = 0;
    for (int d = 0; d < n - 1; d++) {
        if (perm[d] < 0 || perm[d] >= n - 1 || (seen >> perm[d] & 1))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "permute: perm[%d]=%d: perm must be a permutation of 0..%d", d, perm[d],
                            n - 2);
        seen |= 1 << perm[d];
    }
    bool ok = y->ndim == n && y->ne[n - 1] == x->ne[n - 1];
    for (int d = 0; ok && d < n - 1; d++) ok = y->ne[d] == x->ne[perm[d]];
    if (!ok)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "permute: y has shape %s, want x's %s permuted", mlxn_shape_str(y, s1, sizeof s1),
                        mlxn_shape_str(x, s2, sizeof s2));
    int64_t xs[MLXN_MAX_DIMS], ys[MLXN_MAX_DIMS], wx[MLXN_MAX_DIMS];
    contiguous(n, x->ne, xs);
    contiguous(n, y->ne, ys);
    for (int d = 0; d < n - 1; d++) wx[d] = xs[perm[d]];
    wx[n - 1] = 1;
    return done(s, y, walk("permute", s, x, y, n, y->ne, 0, wx, 0, ys));
}

mlxn_status mlxn_slice(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_slice_params *p) {
    char s1[96], s2[96];
    mlxn_status st;
    if ((st = unary_checks("slice", s, x, y))) return st;
    const int n = x->ndim;
    const int64_t begin = p ? p->begin : 0;
    bool ok = y->ndim == n;
    for (int d = 0; ok && d < n - 1; d++) ok = y->ne[d] == x->ne[d];
    if (!ok)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "slice: y has shape %s, want x's %s in all but the last dim",
                        mlxn_shape_str(y, s1, sizeof s1), mlxn_shape_str(x, s2, sizeof s2));
    if (begin < 0 || begin > x->ne[n - 1] - y->ne[n - 1])
        return mlxn_err(MLXN_ERR_INVALID_ARG, "slice: begin=%lld with %lld elements leaves x's last dim of %lld",
                        (long long)begin, (long long)y->ne[n - 1], (long long)x->ne[n - 1]);
    int64_t xs[MLXN_MAX_DIMS], ys[MLXN_MAX_DIMS];
    contiguous(n, x->ne, xs);
    contiguous(n, y->ne, ys);
    return done(s, y, walk("slice", s, x, y, n, y->ne, begin, xs, 0, ys));
}

mlxn_status mlxn_concat(mlxn_stream *s, const mlxn_buffer *a, const mlxn_buffer *b, mlxn_buffer *y, const void *params) {
    char s1[96], s2[96], s3[96];
    mlxn_status st;
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "concat: stream is NULL");
    if ((st = check_buf("concat", "a", s, a, false)) || (st = check_buf("concat", "b", s, b, false)) ||
        (st = check_buf("concat", "y", s, y, true)))
        return st;
    if (mlxn_buffer_overlap(y, a) || mlxn_buffer_overlap(y, b))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "concat: y overlaps %s", mlxn_buffer_overlap(y, a) ? "a" : "b");
    const int n = y->ndim;
    bool ok = a->ndim == n && b->ndim == n && a->ne[n - 1] + b->ne[n - 1] == y->ne[n - 1];
    for (int d = 0; ok && d < n - 1; d++) ok = a->ne[d] == y->ne[d] && b->ne[d] == y->ne[d];
    if (!ok)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "concat: a %s and b %s do not make y %s along the last dim",
                        mlxn_shape_str(a, s1, sizeof s1), mlxn_shape_str(b, s2, sizeof s2), mlxn_shape_str(y, s3, sizeof s3));
    int64_t as[MLXN_MAX_DIMS], bs[MLXN_MAX_DIMS], ys[MLXN_MAX_DIMS];
    contiguous(n, a->ne, as);
    contiguous(n, b->ne, bs);
    contiguous(n, y->ne, ys);
    if ((st = walk("concat", s, a, y, n, a->ne, 0, as, 0, ys))) return st;
    return done(s, y, walk("concat", s, b, y, n, b->ne, 0, bs, a->ne[n - 1], ys));
}
