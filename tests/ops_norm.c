/* Norm cases: rms_norm (plain, Gemma's 1 + w, per head, over a column window of a wider
 * buffer, in place), rms_norm_residual (h = x, h = r in place), layer_norm (w and b each
 * optional), l2_norm; tiny, ragged and real rows (4096, 5376, 16384, and 40000, which is
 * too long to keep in registers on CUDA), every type pairing on small rows, views whose
 * pointers lose 16-byte alignment.
 *
 * Bounds, per element, from the f32 arithmetic (u = 2^-24, L the slice length, d = L/8 + 17
 * the longest chain of additions in any backend's sum: 16 lanes of L/16 on the CPU, 8 per
 * chunk then a tree on CUDA, or 8 per pass over a row too long to hold):
 *   RMS, L2:  |ref|·u·(d/2 + 8), the sum of squares relative error halved by the square
 *             root, plus the scale, weight and output multiplies;
 *   Layer:    |w'|/σ·(Δμ + |x − μ|·u·(d/2 + 8)) + u·(|ref| + |b|), Δμ = u·(d·mean|x| + |μ|)
 *             the mean's absolute error (inputs are offset, 3 + 2·N(0, 1), so it matters);
 * then + eps_y·|ref| for the final rounding and y's subnormal spacing. h = x + r is checked
 * against the once-rounded exact sum within (u + eps_h)·|x + r| (f32, then h's type); y
 * against the norm of the device's h, which is what the contract promises. The worst
 * error/bound ratio over f32 outputs is printed at the end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_cases.h"
#include "ops_rowcheck.h"
#include "ref/ref.h"

enum { K_RMS = 0, K_LAYER = 1, K_L2 = 2, K_RESID = 3 };

static rc_worst worst;

typedef struct norm_spec {
    int kind;
    int64_t rows, n;
    int64_t head_dim;          /* 0: whole rows */
    int64_t S, x_col;          /* x's row length when wider than y (0: y's shape) */
    mlxn_type tx, tw, tb, tr, ty;
    bool w, b;
    float w_offset, eps;
    int inplace;               /* 1: y = x (RESID: h = x); 2: RESID h = r */
    int off;                   /* > 0: every operand is a view that many elements in */
    double mean, sd;           /* x's distribution */
} norm_spec;

typedef struct norm_case {
    const norm_spec *sp;
    mlxn_buffer *x, *r, *w, *b, *h, *y;
    double *x0, *r0; /* inputs to restore before an in-place run */
    mlxn_norm_params p;
} norm_case;

static mlxn_status norm_op(mlxn_stream *s, void *ctx) {
    norm_case *c = ctx;
    switch (c->sp->kind) {
    case K_LAYER: return mlxn_layer_norm(s, c->x, c->w, c->b, c->y, &c->p);
    case K_L2: return mlxn_l2_norm(s, c->x, c->y, &c->p);
    case K_RESID: return mlxn_rms_norm_residual(s, c->x, c->r, c->w, c->h, c->y, &c->p);
    default: return mlxn_rms_norm(s, c->x, c->w, c->y, &c->p);
    }
}

static void norm_restore(void *ctx) {
    norm_case *c = ctx;
    if (c->sp->inplace == 1) rc_write(c->x, c->x0);
    if (c->sp->inplace == 2) rc_write(c->r, c->r0);
}

static bool ratio_check(const char *name, mlxn_type ty, const double *got, const double *ref, const double *bound,
                        int64_t n) {
    rc_track(&worst, name, ty, got, ref, bound, n);
    return t_check_bound(name, got, ref, bound, n);
}

static void norm_run(mlxn_device *dev, mlxn_stream *s, const norm_spec *sp, uint64_t seed) {
    static const char *kn[] = {"rms_norm", "layer_norm", "l2_norm", "rms_norm_residual"};
    const int64_t rows = sp->rows, n = sp->n, S = sp->S ? sp->S : n, L = sp->head_dim ? sp->head_dim : n;
    const int64_t nseg = rows * (n / L);
    const bool resid = sp->kind == K_RESID;
    char name[200];
    char hd[32] = "";
    if (sp->head_dim) snprintf(hd, sizeof hd, " head_dim=%lld", (long long)sp->head_dim);
    snprintf(name, sizeof name, "%s %lldx%lld%s x%s %s w%s b%s r%s ->%s%s%s off=%d seed=%llu", kn[sp->kind],
             (long long)rows, (long long)n, hd, S != n ? "[wide]" : "", mlxn_type_name(sp->tx), sp->w ? mlxn_type_name(sp->tw) : "-",
             sp->b ? mlxn_type_name(sp->tb) : "-", resid ? mlxn_type_name(sp->tr) : "-", mlxn_type_name(sp->ty),
             sp->w_offset != 0 ? " (1+w)" : "", sp->inplace ? " in-place" : "", sp->off, (unsigned long long)seed);
    t_rng rg = {seed};
    double *xv = rc_alloc(rows * S), *rv = rc_alloc(rows * n), *wv = rc_alloc(L), *bv = rc_alloc(L);
    double *hv = rc_alloc(rows * n), *ref = rc_alloc(rows * n), *got = rc_alloc(rows * n), *bound = rc_alloc(rows * n);
    double *mean = rc_alloc(nseg), *scale = rc_alloc(nseg);
    rc_normal(&rg, xv, rows * S, sp->mean, sp->sd);
    rc_normal(&rg, rv, rows * n, 0.0, 1.0);
    rc_normal(&rg, wv, L, sp->w_offset != 0 ? 0.0 : 1.0, 0.3);
    rc_normal(&rg, bv, L, 0.0, 0.5);

    norm_case c = {.sp = sp, .x0 = xv, .r0 = rv};
    c.p = mlxn_norm_defaults();
    c.p.eps = sp->eps;
    c.p.w_offset = sp->w_offset;
    c.p.head_dim = sp->head_dim;
    c.p.x_col = sp->x_col;
    mlxn_buffer *ox, *or, *ow, *ob, *oh = NULL, *oy = NULL;
    const int64_t yne[2] = {rows, n}, xne[2] = {rows, S}, wne[1] = {L};
    const int nd = rows == 1 && S == n ? 1 : 2; /* a single row as a 1-D tensor */
    c.x = rc_buf(dev, sp->tx, nd, nd == 1 ? yne + 1 : xne, xv, sp->off, &ox);
    c.r = resid ? rc_buf(dev, sp->tr, nd, nd == 1 ? yne + 1 : yne, rv, sp->off, &or) : (or = NULL);
    c.w = sp->w ? rc_buf(dev, sp->tw, 1, wne, wv, sp->off, &ow) : (ow = NULL);
    c.b = sp->b ? rc_buf(dev, sp->tb, 1, wne, bv, sp->off, &ob) : (ob = NULL);
    double *zero = rc_alloc(rows * n);
    if (resid) {
        c.h = sp->inplace == 1 ? c.x : sp->inplace == 2 ? c.r : rc_buf(dev, sp->tx, nd, nd == 1 ? yne + 1 : yne, zero, sp->off, &oh);
        c.y = rc_buf(dev, sp->ty, nd, nd == 1 ? yne + 1 : yne, zero, sp->off, &oy);
    } else {
        c.y = sp->inplace ? c.x : rc_buf(dev, sp->ty, nd, nd == 1 ? yne + 1 : yne, zero, sp->off, &oy);
    }
    free(zero);
    if (!c.x || !c.y || (resid && (!c.r || !c.h))) goto done;

    const double u = RC_U, dep = (double)L / 8 + 17;
    if (resid) {
        /* h first: the once-rounded exact sum */
        for (int64_t i = 0; i < rows * n; i++) {
            ref[i] = ref_round(xv[i] + rv[i], sp->tx);
            bound[i] = (u + ref_eps(sp->tx)) * fabs(xv[i] + rv[i]) + rc_tiny(sp->tx);
        }
        char hname[220];
        snprintf(hname, sizeof hname, "%s [h]", name);
        if (!t_run_eager_and_replay(hname, s, norm_restore, norm_op, &c, c.h, got) ||
            !ratio_check(hname, sp->tx, got, ref, bound, rows * n))
            goto done;
    }
    if (!t_run_eager_and_replay(name, s, norm_restore, norm_op, &c, c.y, got)) goto done;
    if (resid) t_buf_read(c.h, hv); /* y is the norm of h as stored */
    int kind = resid ? K_RMS : sp->kind;
    ref_norm(kind, resid ? hv : xv, rows, n, resid ? n : S, resid ? 0 : sp->x_col, L, sp->w ? wv : NULL,
             sp->b ? bv : NULL, sp->w_offset, sp->eps, ref, mean, scale);
    double *absmean = rc_alloc(nseg); /* mean |x| of each slice, for LayerNorm's Δμ */
    for (int64_t i = 0; i < rows * n; i++) {
        const int64_t row = i / n, col = i % n;
        absmean[i / L] += fabs(resid ? hv[i] : xv[row * S + sp->x_col + col]) / (double)L;
    }
    for (int64_t i = 0; i < rows * n; i++) {
        const int64_t sg = i / L, k = i % L, row = i / n, col = i % n;
        const double xi = resid ? hv[i] : xv[row * S + sp->x_col + col];
        double b0 = fabs(ref[i]) * u * (dep / 2 + 8);
        if (kind == K_LAYER) {
            double dmu = u * (dep * absmean[sg] + fabs(mean[sg]));
            double wp = sp->w ? fabs(wv[k] + sp->w_offset) : 1.0;
            b0 = wp * scale[sg] * (dmu + fabs(xi - mean[sg]) * u * (dep / 2 + 8)) +
                 u * (fabs(ref[i]) + (sp->b ? fabs(bv[k]) : 0));
        }
        bound[i] = b0 + ref_eps(sp->ty) * (fabs(ref[i]) + b0) + rc_tiny(sp->ty);
    }
    free(absmean);
    ratio_check(name, sp->ty, got, ref, bound, rows * n);
done:
    if (c.y != c.x) rc_free(c.y, oy);
    if (resid && c.h != c.x && c.h != c.r) rc_free(c.h, oh);
    rc_free(c.x, ox);
    if (resid) rc_free(c.r, or);
    if (sp->w) rc_free(c.w, ow);
    if (sp->b) rc_free(c.b, ob);
    free(xv), free(rv), free(wv), free(bv), free(hv), free(ref), free(got), free(bound), free(mean), free(scale);
}

static void bad_args(mlxn_device *dev, mlxn_stream *s) {
    double z[64] = {0};
    const int64_t ne48[2] = {4, 8}, ne58[2] = {5, 8}, ne8[1] = {8}, ne5[1] = {5}, ne412[2] = {4, 12}, ne38[2] = {3, 8};
    mlxn_buffer *x = t_buf_from(dev, MLXN_TYPE_F32, 2, ne48, z), *y = t_buf_from(dev, MLXN_TYPE_F16, 2, ne48, z);
    mlxn_buffer *w = t_buf_from(dev, MLXN_TYPE_F32, 1, ne8, z), *w5 = t_buf_from(dev, MLXN_TYPE_F32, 1, ne5, z);
    mlxn_buffer *wide = t_buf_from(dev, MLXN_TYPE_BF16, 2, ne412, z), *y38 = t_buf_from(dev, MLXN_TYPE_F32, 2, ne38, z);
    mlxn_buffer *h16 = t_buf_from(dev, MLXN_TYPE_F16, 2, ne48, z), *big = t_buf_from(dev, MLXN_TYPE_F16, 2, ne58, z);
    mlxn_buffer *q = NULL, *ro = NULL, *lo = NULL, *hi = NULL, *yrow = NULL;
    int64_t neq[1] = {32};
    mlxn_buffer_alloc(dev, MLXN_TYPE_Q8_0, 1, neq, &q);
    mlxn_buffer_view(big, 0, MLXN_TYPE_F16, 2, ne48, &lo); /* lo and hi overlap partly */
    mlxn_buffer_view(big, 16, MLXN_TYPE_F16, 2, ne48, &hi);
    mlxn_buffer_view(y, 0, MLXN_TYPE_F16, 1, ne8, &yrow);
    float f[32] = {0};
    if (mlxn_buffer_wrap(dev, MLXN_TYPE_F32, 2, ne48, f, sizeof f, &ro) != MLXN_OK) ro = NULL; /* CPU only */
    mlxn_norm_params p = mlxn_norm_defaults();

    RC_BAD(mlxn_rms_norm(NULL, x, w, y, NULL), "rms_norm", "stream");
    RC_BAD(mlxn_rms_norm(s, NULL, w, y, NULL), "rms_norm", "x is NULL");
    RC_BAD(mlxn_rms_norm(s, x, w, NULL, NULL), "rms_norm", "y is NULL");
    RC_BAD(mlxn_rms_norm(s, q, w, y, NULL), "x is q8_0");
    RC_BAD(mlxn_rms_norm(s, x, q, y, NULL), "w is q8_0");
    if (ro) RC_BAD(mlxn_rms_norm(s, x, w, ro, NULL), "y is read-only");
    RC_BAD(mlxn_rms_norm(s, x, w5, y, NULL), "w has shape [5]", "want [8]");
    RC_BAD(mlxn_rms_norm(s, x, w, y38, NULL), "x has shape [4, 8]", "[3, 8]");
    p.eps = -1.0f;
    RC_BAD(mlxn_rms_norm(s, x, w, y, &p), "eps is -1");
    p.eps = NAN;
    RC_BAD(mlxn_rms_norm(s, x, w, y, &p), "eps is nan");
    p = mlxn_norm_defaults();
    p.w_offset = INFINITY;
    RC_BAD(mlxn_rms_norm(s, x, w, y, &p), "w_offset is inf");
    p = mlxn_norm_defaults();
    p.head_dim = 3;
    RC_BAD(mlxn_rms_norm(s, x, NULL, y, &p), "head_dim 3 does not divide", "8");
    p.head_dim = -2;
    RC_BAD(mlxn_rms_norm(s, x, NULL, y, &p), "head_dim is -2");
    p.head_dim = 4;
    RC_BAD(mlxn_rms_norm(s, x, w, y, &p), "w has shape [8]", "want [4]");
    p = mlxn_norm_defaults();
    p.x_col = 5;
    RC_BAD(mlxn_rms_norm(s, wide, w, y, &p), "x has shape [4, 12]", "x_col + n = 5 + 8");
    p.x_col = -1;
    RC_BAD(mlxn_rms_norm(s, wide, w, y, &p), "x_col is -1");
    p.x_col = INT64_MAX; /* no overflow in the check */
    RC_BAD(mlxn_rms_norm(s, wide, w, y, &p), "x has shape [4, 12]");
    p.x_col = 4;
    CHECK_ST(mlxn_rms_norm(s, wide, w, y, &p), MLXN_OK); /* the last column window that fits */
    RC_BAD(mlxn_rms_norm(s, x, w, x, &p), "x has shape [4, 8]"); /* x_col on x of y's shape */
    RC_BAD(mlxn_rms_norm(s, lo, w, hi, NULL), "y overlaps x");
    RC_BAD(mlxn_layer_norm(s, x, w, w5, y, NULL), "layer_norm", "b has shape [5]");
    RC_BAD(mlxn_layer_norm(s, x, w, yrow, y, NULL), "an output overlaps b");
    CHECK_ST(mlxn_l2_norm(s, x, x, NULL), MLXN_OK); /* in place */
    RC_BAD(mlxn_rms_norm_residual(s, x, NULL, w, h16, y, NULL), "rms_norm_residual", "r is NULL");
    RC_BAD(mlxn_rms_norm_residual(s, x, y, w, NULL, y, NULL), "h is NULL");
    RC_BAD(mlxn_rms_norm_residual(s, x, y, w, h16, y38, NULL), "x has shape [4, 8]", "[3, 8]");
    RC_BAD(mlxn_rms_norm_residual(s, x, y, w, h16, y, NULL), "h is f16", "x's type f32");
    RC_BAD(mlxn_rms_norm_residual(s, h16, y, w, h16, y, NULL), "y overlaps x, r or h");
    RC_BAD(mlxn_rms_norm_residual(s, lo, y, w, hi, x, NULL), "h overlaps x or r");
    RC_BAD(mlxn_rms_norm_residual(s, h16, wide, w, h16, y, NULL), "r has shape [4, 12]");
    RC_BAD(mlxn_rms_norm_residual(s, h16, x, w, h16, wide, NULL), "x has shape [4, 8]");
    p = mlxn_norm_defaults();
    p.x_col = 1;
    RC_BAD(mlxn_rms_norm_residual(s, h16, x, w, h16, y, &p), "x_col 1");
    mlxn_buffer_free(lo), mlxn_buffer_free(hi), mlxn_buffer_free(yrow), mlxn_buffer_free(big);
    mlxn_buffer_free(ro);
    mlxn_buffer_free(q);
    mlxn_buffer_free(x), mlxn_buffer_free(y), mlxn_buffer_free(w), mlxn_buffer_free(w5);
    mlxn_buffer_free(wide), mlxn_buffer_free(y38), mlxn_buffer_free(h16);
}

void t_ops_norm(mlxn_device *dev, mlxn_stream *s) {
    bad_args(dev, s);
    const mlxn_type *ft = rc_ftypes;
    static const int64_t shapes[][2] = {{1, 1},    {1, 7},    {3, 33},   {5, 111},   {2, 257},
                                        {4, 1000}, {8, 4096}, {2, 5376}, {1, 16384}, {2, 40000}};
    uint64_t seed = 9000;
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int64_t rows = shapes[k][0], n = shapes[k][1];
        const bool big = n >= 4096;
        norm_spec b = {.kind = K_RMS, .rows = rows, .n = n, .w = true, .eps = 1e-6f, .sd = 1.0};
        /* RMSNorm over the type square (x, y), the weight's type varying with them */
        for (int tx = 0; tx < 3; tx++)
            for (int ty = 0; ty < 3; ty++) {
                if (big && tx != ty && !(tx == 0 && ty == 2)) continue;
                norm_spec sp = b;
                sp.tx = ft[tx], sp.ty = ft[ty], sp.tw = ft[(tx + ty) % 3];
                norm_run(dev, s, &sp, seed++);
            }
        for (int t = 0; t < 3; t++) {
            norm_spec sp = b;
            sp.tx = sp.ty = sp.tw = sp.tb = sp.tr = ft[t];
            sp.w = false; /* no weight */
            norm_run(dev, s, &sp, seed++);
            sp.w = true, sp.w_offset = 1.0f, sp.tw = ft[(t + 2) % 3]; /* Gemma: (1 + w) */
            norm_run(dev, s, &sp, seed++);
            sp.w_offset = 0, sp.inplace = 1, sp.eps = 1e-5f; /* y = x */
            norm_run(dev, s, &sp, seed++);
            sp.inplace = 0, sp.off = 1 + t; /* unaligned views */
            norm_run(dev, s, &sp, seed++);
            /* LayerNorm on offset data: w and b, w only, neither */
            norm_spec ln = sp;
            ln.kind = K_LAYER, ln.off = t == 1 ? 3 : 0, ln.mean = 3.0, ln.sd = 2.0, ln.b = true, ln.tb = ft[(t + 1) % 3];
            ln.ty = ft[(t + 1) % 3];
            norm_run(dev, s, &ln, seed++);
            ln.b = false, ln.ty = ft[t];
            norm_run(dev, s, &ln, seed++);
            ln.w = false, ln.b = true;
            norm_run(dev, s, &ln, seed++);
            norm_spec l2 = b;
            l2.kind = K_L2, l2.w = false, l2.tx = ft[t], l2.ty = ft[(t + 1) % 3], l2.eps = 1e-12f;
            norm_run(dev, s, &l2, seed++);
            /* residual: r of each type, h = x + r in x's type; in place on x, on r */
            norm_spec rs = b;
            rs.kind = K_RESID, rs.tx = ft[t], rs.tr = ft[(t + 1) % 3], rs.ty = ft[(t + 2) % 3], rs.tw = MLXN_TYPE_F32;
            norm_run(dev, s, &rs, seed++);
            rs.tr = ft[t], rs.inplace = 1, rs.ty = ft[t];
            norm_run(dev, s, &rs, seed++);
            rs.inplace = 2, rs.w_offset = 1.0f, rs.tw = MLXN_TYPE_BF16;
            norm_run(dev, s, &rs, seed++);
            rs.inplace = 0, rs.off = 2, rs.w = false;
            norm_run(dev, s, &rs, seed++);
        }
    }
    /* zeros: RMS and L2 give zeros, not NaN */
    for (int kind = K_RMS; kind <= K_L2; kind += 2) {
        norm_spec z = {.kind = kind, .rows = 3, .n = 64, .tx = MLXN_TYPE_BF16, .ty = MLXN_TYPE_F32, .eps = 1e-6f};
        norm_run(dev, s, &z, seed++);
    }
    /* QK-norm: heads of Qwen3 (128), Gemma 3 (256, 1 + w), Llama 3.2 (64), a ragged one */
    static const int64_t heads[][3] = {{5, 32, 128}, {3, 8, 128}, {3, 16, 256}, {4, 32, 64}, {7, 3, 10}, {64, 8, 128}};
    for (size_t k = 0; k < sizeof heads / sizeof heads[0]; k++)
        for (int t = 0; t < 3; t++) {
            norm_spec sp = {.kind = K_RMS, .rows = heads[k][0], .n = heads[k][1] * heads[k][2], .head_dim = heads[k][2],
                            .w = true, .eps = 1e-6f, .sd = 2.0};
            sp.tx = ft[t], sp.ty = ft[(t + k) % 3], sp.tw = ft[(t + 1) % 3];
            sp.w_offset = heads[k][2] == 256 ? 1.0f : 0.0f;
            norm_run(dev, s, &sp, seed++);
        }
    /* a window of a wider buffer: K and Q of a fused QKV [T][(16 + 8 + 8)·128], per head;
     * ragged windows of plain rows */
    for (int t = 0; t < 3; t++) {
        norm_spec sp = {.kind = K_RMS, .rows = 5, .n = 8 * 128, .head_dim = 128, .S = 32 * 128, .x_col = 16 * 128,
                        .w = true, .eps = 1e-6f, .sd = 1.0};
        sp.tx = ft[t], sp.ty = ft[(t + 1) % 3], sp.tw = MLXN_TYPE_F32;
        norm_run(dev, s, &sp, seed++);
        sp.n = 16 * 128, sp.x_col = 0;
        norm_run(dev, s, &sp, seed++);
        norm_spec wr = {.kind = K_RMS, .rows = 3, .n = 111, .S = 200, .x_col = 37, .w = true, .eps = 1e-6f, .sd = 1.0};
        wr.tx = ft[t], wr.ty = ft[t], wr.tw = ft[(t + 2) % 3];
        norm_run(dev, s, &wr, seed++);
        wr.kind = K_LAYER, wr.b = true, wr.tb = ft[t], wr.mean = 3, wr.sd = 2, wr.n = 4096, wr.S = 4096 + 64, wr.x_col = 64;
        norm_run(dev, s, &wr, seed++);
        wr.kind = K_L2, wr.w = wr.b = false, wr.n = 64, wr.S = 3 * 64, wr.x_col = 128, wr.rows = 33;
        norm_run(dev, s, &wr, seed++);
    }
    rc_report("norm", &worst);
}
