/* Activation front end: silu, gelu, softcap, and the gated swiglu, geglu, sigmoid_mul with
 * separate or fused gate-up inputs. Validates the contract in mlxn.h, then hands one
 * mlxn_act_args to the backend. */
#include <math.h>

#include "core/core.h"
#include "ops/check.h"

mlxn_act_params mlxn_act_defaults(void) {
    mlxn_act_params p = {.gelu = MLXN_GELU_TANH, .softcap = 30.0f};
    return p;
}

/* y may be `in` only as the very same buffer of y's shape and type. */
static mlxn_status check_alias(const char *op, const char *an, const mlxn_buffer *in, const mlxn_buffer *y) {
    int ov = mlxn_buffer_overlap(y, in);
    if (ov == 2 || (ov == 1 && (y->type != in->type || !mlxn_same_shape(y, in))))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y overlaps %s other than as the same buffer of its shape and type", op, an);
    return MLXN_OK;
}

/* a, b: the operands' names in messages (an "x"/"a", bn "g"/"b"). b NULL on a gated op:
 * a is the fused [..., 2n] gate-up buffer. */
static mlxn_status act(const char *op, mlxn_act_op kind, const char *an, const char *bn, mlxn_stream *s,
                       const mlxn_buffer *a, const mlxn_buffer *b, mlxn_buffer *y, const mlxn_act_params *p) {
    char sa[96], sy[96];
    mlxn_status st;
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: stream is NULL", op);
    const bool binary = mlxn_act_binary(kind), fused = binary && !b && kind != MLXN_ACT_SIGMOID_MUL;
    if ((st = mlxn_check_float(op, an, s, a)) || (st = mlxn_check_float(op, "y", s, y))) return st;
    if (binary && !fused && (st = mlxn_check_float(op, bn, s, b))) return st;
    if (y->readonly) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y is read-only", op);
    mlxn_act_params prm = p ? *p : mlxn_act_defaults();
    if (kind == MLXN_ACT_SOFTCAP && !(isfinite(prm.softcap) && prm.softcap > 0))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: softcap is %g, want a finite value > 0", op, (double)prm.softcap);
    if ((kind == MLXN_ACT_GELU_TANH || kind == MLXN_ACT_GEGLU_TANH) && prm.gelu != MLXN_GELU_TANH) {
        if (prm.gelu != MLXN_GELU_ERF)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: gelu is %d, want MLXN_GELU_TANH or MLXN_GELU_ERF", op, (int)prm.gelu);
        kind = kind == MLXN_ACT_GELU_TANH ? MLXN_ACT_GELU_ERF : MLXN_ACT_GEGLU_ERF;
    }
    const int64_t n = y->ne[y->ndim - 1], ny = mlxn_buffer_nelements(y);
    int64_t rows = 1, cols = ny, as = ny, bs = ny;
    if (fused) {
        /* a: [..., 2n], y: [..., n], the same outer dims */
        bool ok = a->ndim == y->ndim && a->ne[a->ndim - 1] == 2 * n;
        for (int d = 0; ok && d < y->ndim - 1; d++) ok = a->ne[d] == y->ne[d];
        if (!ok)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: fused %s has shape %s, want y's shape %s with the last dim doubled",
                            op, an, mlxn_shape_str(a, sa, sizeof sa), mlxn_shape_str(y, sy, sizeof sy));
        if (mlxn_buffer_overlap(y, a)) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y overlaps the fused %s", op, an);
        rows = n ? ny / n : 0;
        cols = n;
        as = bs = 2 * n;
    } else {
        if (!mlxn_same_shape(a, y))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: y has shape %s, want %s's shape %s", op, mlxn_shape_str(y, sy, sizeof sy),
                            an, mlxn_shape_str(a, sa, sizeof sa));
        if (binary && !mlxn_same_shape(b, y))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s has shape %s, want %s's shape %s", op, bn,
                            mlxn_shape_str(b, sy, sizeof sy), an, mlxn_shape_str(a, sa, sizeof sa));
        if ((st = check_alias(op, an, a, y)) || (binary && (st = check_alias(op, bn, b, y)))) return st;
    }
    if (ny == 0) return MLXN_OK;
    if (!s->dev->vt->act) return mlxn_err(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the %s backend", op, s->dev->vt->name);
    size_t ea = a->type == MLXN_TYPE_F32 ? 4 : 2;
    mlxn_act_args args = {
        .op = kind,
        .ta = a->type,
        .tb = !binary ? a->type : fused ? a->type : b->type,
        .ty = y->type,
        .a = mlxn_buf_ptr(a),
        .b = !binary ? NULL : fused ? (const char *)mlxn_buf_ptr(a) + ea * (size_t)n : mlxn_buf_ptr(b),
        .y = mlxn_buf_ptr(y),
        .rows = rows,
        .n = cols,
        .a_stride = as,
        .b_stride = bs,
        .cap = prm.softcap,
    };
    if ((st = s->dev->vt->act(s->impl, &args))) return st;
    mlxn_stream_count_op(s);
    return MLXN_OK;
}

mlxn_status mlxn_silu(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_act_params *p) {
    return act("silu", MLXN_ACT_SILU, "x", NULL, s, x, NULL, y, p);
}

mlxn_status mlxn_gelu(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_act_params *p) {
    return act("gelu", MLXN_ACT_GELU_TANH, "x", NULL, s, x, NULL, y, p);
}

mlxn_status mlxn_softcap(mlxn_stream *s, const mlxn_buffer *x, mlxn_buffer *y, const mlxn_act_params *p) {
    return act("softcap", MLXN_ACT_SOFTCAP, "x", NULL, s, x, NULL, y, p);
}

mlxn_status mlxn_swiglu(mlxn_stream *s, const mlxn_buffer *a, const mlxn_buffer *b, mlxn_buffer *y,
                        const mlxn_act_params *p) {
    return act("swiglu", MLXN_ACT_SWIGLU, "a", "b", s, a, b, y, p);
}

mlxn_status mlxn_geglu(mlxn_stream *s, const mlxn_buffer *a, const mlxn_buffer *b, mlxn_buffer *y,
                       const mlxn_act_params *p) {
    return act("geglu", MLXN_ACT_GEGLU_TANH, "a", "b", s, a, b, y, p);
}

mlxn_status mlxn_sigmoid_mul(mlxn_stream *s, const mlxn_buffer *x, const mlxn_buffer *g, mlxn_buffer *y,
                             const mlxn_act_params *p) {
    return act("sigmoid_mul", MLXN_ACT_SIGMOID_MUL, "x", "g", s, x, g, y, p);
}
