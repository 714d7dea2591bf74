/* Quantized matmul front end: validates the contract in mlxn.h (shapes, types, the three
 * layouts of x, the prepared weight), then hands one mlxn_qmatmul_args to the backend. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "ops/check.h"

mlxn_qmatmul_params mlxn_qmatmul_defaults(void) {
    mlxn_qmatmul_params p = {0};
    return p;
}

/* The weight formats qmatmul takes (a fact of this op, not of the type). */
static bool weight_format(mlxn_type t) {
    switch (t) {
    case MLXN_TYPE_F32: case MLXN_TYPE_F16: case MLXN_TYPE_BF16:
    case MLXN_TYPE_Q4_0: case MLXN_TYPE_Q4_1: case MLXN_TYPE_Q5_0: case MLXN_TYPE_Q5_1: case MLXN_TYPE_Q8_0:
    case MLXN_TYPE_Q2_K: case MLXN_TYPE_Q3_K: case MLXN_TYPE_Q4_K: case MLXN_TYPE_Q5_K: case MLXN_TYPE_Q6_K:
    case MLXN_TYPE_IQ4_NL: case MLXN_TYPE_IQ4_XS: case MLXN_TYPE_MXFP4:
        return true;
    default:
        return false;
    }
}

/* "Q4_K", "F32": ggml's names in capitals, as model cards write them. */
static const char *tname(mlxn_type t, char *buf) {
    const char *n = mlxn_type_name(t);
    size_t i = 0;
    for (; n[i] && i < 15; i++) buf[i] = (char)toupper((unsigned char)n[i]);
    buf[i] = 0;
    return buf;
}

/* w: a weight format, [N][K] or [B][N][K]. */
static mlxn_status check_w(const char *op, const mlxn_stream *s, const mlxn_buffer *w) {
    char tn[16], sh[96];
    mlxn_status st = mlxn_check_on(op, "w", s, w);
    if (st) return st;
    if (!weight_format(w->type))
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "%s: w is %s, not one of the weight formats (F32, F16, BF16, Q4_0, Q4_1, "
                        "Q5_0, Q5_1, Q8_0, Q2_K..Q6_K, IQ4_NL, IQ4_XS, MXFP4)", op, tname(w->type, tn));
    if (w->ndim != 2 && w->ndim != 3)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: w has shape %s, want [N][K] or [B][N][K]", op,
                        mlxn_shape_str(w, sh, sizeof sh));
    return MLXN_OK;
}

static void fill_w(mlxn_qmatmul_args *a, const mlxn_buffer *w) {
    a->tw = w->type;
    a->w = mlxn_buf_ptr(w);
    a->n = w->ne[w->ndim - 2];
    a->k = w->ne[w->ndim - 1];
    a->w_row_bytes = mlxn_row_bytes(w->type, a->k);
    a->w_batch_bytes = w->ndim == 3 ? a->w_row_bytes * (size_t)a->n : 0;
}

static mlxn_status submit(mlxn_stream *s, const char *op, mlxn_qmatmul_args *a) {
    if (!s->dev->vt->qmatmul)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the %s backend", op, s->dev->vt->name);
    mlxn_status st = s->dev->vt->qmatmul(s->impl, a);
    if (st) return st;
    mlxn_stream_count_op(s);
    return MLXN_OK;
}

/* x: its type, and its layout (rows, strided rows, attention heads) against w and y:
 * fills the X strides of a. M and B come from y. */
static mlxn_status check_x(const mlxn_buffer *x, const mlxn_buffer *w, const mlxn_qmatmul_params *p, int64_t B,
                           int64_t M, mlxn_qmatmul_args *a) {
    char tn[16], sx[96];
    const int64_t K = a->k, blk = mlxn_type_block_elems(w->type);
    mlxn_shape_str(x, sx, sizeof sx);
    if (!mlxn_is_float(x->type))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: x is %s, want F32, F16 or BF16", tname(x->type, tn));
    if (p->x_row_stride < 0 || p->x_heads < 0)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: x_row_stride %lld and x_heads %lld must not be negative",
                        (long long)p->x_row_stride, (long long)p->x_heads);
    if (p->x_heads > 0 && p->x_row_stride > 0)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: x_heads and x_row_stride exclude each other");
    a->x_head_dim = K > 0 ? K : 1;
    a->x_head_stride = 0;
    if (p->x_heads > 0) {
        const int64_t H = p->x_heads;
        if (x->ndim != 3 || x->ne[0] != H || x->ne[1] != M)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: x has shape %s, want the attention layout [x_heads=%lld][M=%lld][D]",
                            sx, (long long)H, (long long)M);
        if (B != 1) return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: x_heads takes no batch (y has %lld)", (long long)B);
        const int64_t D = x->ne[2], kx = H * D;
        if (kx % blk)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: w is %s with k=%lld, k must be a multiple of %lld",
                            tname(w->type, tn), (long long)kx, (long long)blk);
        if (kx != K)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: x has k = x_heads·D = %lld, want w's k=%lld", (long long)kx,
                            (long long)K);
        if (D % 8)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: x's head dim D=%lld must be a multiple of 8", (long long)D);
        a->x_row_stride = D;
        a->x_batch_stride = 0;
        a->x_head_dim = D;
        a->x_head_stride = M * D;
        return MLXN_OK;
    }
    if (p->x_row_stride > 0) {
        const int64_t S = p->x_row_stride;
        if (S < K)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: x_row_stride %lld is less than k=%lld", (long long)S, (long long)K);
        /* (B·M - 1)·S + K elements, overflow-checked (B·M >= 1 here) */
        int64_t rows = B * M, need;
        if (__builtin_mul_overflow(rows - 1, S, &need) || __builtin_add_overflow(need, K, &need) ||
            need > mlxn_buffer_nelements(x))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: x has shape %s (%lld elements); %lld rows at x_row_stride %lld "
                            "need %lld", sx, (long long)mlxn_buffer_nelements(x), (long long)rows, (long long)S,
                            (long long)need);
        a->x_row_stride = S;
        a->x_batch_stride = M * S;
        return MLXN_OK;
    }
    const int64_t kx = x->ne[x->ndim - 1];
    bool shape_ok = (x->ndim == 2 && B == 1 && x->ne[0] == M) || (x->ndim == 3 && x->ne[0] == B && x->ne[1] == M);
    if (!shape_ok)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: x has shape %s, want [M=%lld][K]%s", sx, (long long)M,
                        B > 1 ? " with a leading batch of y's" : " (or [1][M][K])");
    if (kx % blk)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: w is %s with k=%lld, k must be a multiple of %lld",
                        tname(w->type, tn), (long long)kx, (long long)blk);
    if (kx != K)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: x has k=%lld, want w's k=%lld", (long long)kx, (long long)K);
    a->x_row_stride = K;
    a->x_batch_stride = M * K;
    return MLXN_OK;
}

mlxn_status mlxn_qmatmul(mlxn_stream *s, const mlxn_buffer *x, const mlxn_buffer *w, mlxn_buffer *y,
                         const mlxn_qmatmul_params *p) {
    char tn[16], sy[96], sw[96];
    mlxn_status st;
    const char *op = "qmatmul";
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: stream is NULL");
    if ((st = mlxn_check_on(op, "x", s, x)) || (st = check_w(op, s, w)) || (st = mlxn_check_on(op, "y", s, y))) return st;
    const mlxn_qmatmul_params prm = p ? *p : mlxn_qmatmul_defaults();
    mlxn_qmatmul_args a = {.op = MLXN_QMATMUL_PRODUCT};
    fill_w(&a, w);
    const int64_t Bw = w->ndim == 3 ? w->ne[0] : 1;
    /* y: [M][N] or [B][M][N], dense, a float type */
    mlxn_shape_str(y, sy, sizeof sy);
    mlxn_shape_str(w, sw, sizeof sw);
    if (!mlxn_is_float(y->type))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: y is %s, want F32, F16 or BF16", tname(y->type, tn));
    if (y->readonly) return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: y is read-only");
    if ((y->ndim != 2 && y->ndim != 3) || y->ne[y->ndim - 1] != a.n)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: y has shape %s, want [M][N=%lld] or [B][M][N] (w is %s)", sy,
                        (long long)a.n, sw);
    const int64_t B = y->ndim == 3 ? y->ne[0] : 1, M = y->ne[y->ndim - 2];
    if (w->ndim == 3 && Bw != B)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: y has shape %s, want a batch of %lld as w's %s", sy,
                        (long long)Bw, sw);
    if ((st = check_x(x, w, &prm, B, M, &a))) return st;
    if (mlxn_buffer_overlap(y, x)) return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: y overlaps x");
    if (mlxn_buffer_overlap(y, w)) return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: y overlaps w");
    if (prm.w_prepared) {
        const mlxn_buffer *wp = prm.w_prepared;
        char sp[96];
        if ((st = mlxn_check_on(op, "w_prepared", s, wp))) return st;
        bool same = wp->ndim == w->ndim;
        for (int d = 0; same && d < w->ndim; d++) same = wp->ne[d] == w->ne[d];
        if (wp->type != MLXN_TYPE_BF16 || !same)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: w_prepared is %s %s, want BF16 of w's shape %s",
                            tname(wp->type, tn), mlxn_shape_str(wp, sp, sizeof sp), sw);
        if (mlxn_buffer_overlap(y, wp)) return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul: y overlaps w_prepared");
        a.w_prepared = mlxn_buf_ptr(wp);
    }
    a.tx = x->type;
    a.ty = y->type;
    a.x = mlxn_buf_ptr(x);
    a.y = mlxn_buf_ptr(y);
    a.batch = B;
    a.m = M;
    if (B == 0 || M == 0 || a.n == 0) return MLXN_OK; /* nothing to write */
    return submit(s, op, &a);
}

mlxn_status mlxn_qmatmul_prepare(mlxn_stream *s, const mlxn_buffer *w, mlxn_buffer *wp) {
    char tn[16], sw[96], sp[96];
    mlxn_status st;
    const char *op = "qmatmul_prepare";
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul_prepare: stream is NULL");
    if ((st = check_w(op, s, w)) || (st = mlxn_check_on(op, "wp", s, wp))) return st;
    bool same = wp->ndim == w->ndim;
    for (int d = 0; same && d < w->ndim; d++) same = wp->ne[d] == w->ne[d];
    if (wp->type != MLXN_TYPE_BF16 || !same)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul_prepare: wp is %s %s, want BF16 of w's shape %s",
                        tname(wp->type, tn), mlxn_shape_str(wp, sp, sizeof sp), mlxn_shape_str(w, sw, sizeof sw));
    if (wp->readonly) return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul_prepare: wp is read-only");
    if (mlxn_buffer_overlap(wp, w)) return mlxn_err(MLXN_ERR_INVALID_ARG, "qmatmul_prepare: wp overlaps w");
    mlxn_qmatmul_args a = {.op = MLXN_QMATMUL_PREPARE};
    fill_w(&a, w);
    a.ty = MLXN_TYPE_BF16;
    a.tx = MLXN_TYPE_BF16;
    a.y = mlxn_buf_ptr(wp);
    a.batch = w->ndim == 3 ? w->ne[0] : 1;
    a.m = 1;
    a.x_head_dim = 1;
    if (a.batch == 0 || a.n == 0 || a.k == 0) return MLXN_OK;
    return submit(s, op, &a);
}
