/* Softmax cases: rows of 1 to 50000 (50000 is too long to keep in registers on CUDA),
 * attention shapes [H][Tq][Tk] with a causal [Tq][Tk] mask of −inf broadcast over heads, a
 * single-row mask, a full mask, scale 1/√128, Gemma 2's softcap before the mask, fully
 * removed rows (zeros), in place, every type on small rows, unaligned views.
 *
 * Bound, per element, from the f32 arithmetic (u = 2^-24): the value v_j = cap(x·scale) +
 * mask carries Δv_j <= u·(3|x_j·scale| + 4·cap + 2|v_j|) (scale, divide, tanh within 2 ulp,
 * multiply, add); exp(v_j − m) then carries e_j = Δv_j + Δv_max + u·|v_j − m| + 2u relative
 * (exp within 2 ulp); the sum at most max e + (n/8 + 17)·u (its longest chain of additions
 * on any backend); its reciprocal and the multiply by it round twice more; so
 * |y_j − ref_j| <= ref_j·(e_j + max e + (n/8 + 19)·u) + eps_y·ref_j +
 * y's subnormal spacing. A removed element (−inf) must be exactly 0. The worst
 * error/bound ratio over f32 outputs is printed at the end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_cases.h"
#include "ops_rowcheck.h"
#include "ref/ref.h"

static rc_worst worst;

enum { M_NONE = 0, M_CAUSAL = 1, M_ROW = 2, M_FULL = 3 };

typedef struct sm_spec {
    int64_t heads, tq, n; /* x [heads][tq][n] */
    int mask;             /* M_*: causal is [tq][n], row is [n], full is x's shape */
    mlxn_type tx, tm, ty;
    float scale, softcap;
    double sd;            /* x's spread */
    bool inplace, dead_row; /* dead_row: the mask removes all of row 0 */
    int off;
} sm_spec;

typedef struct sm_case {
    mlxn_buffer *x, *mask, *y;
    double *x0;
    bool inplace;
    mlxn_softmax_params p;
} sm_case;

static mlxn_status sm_op(mlxn_stream *s, void *ctx) {
    sm_case *c = ctx;
    return mlxn_softmax(s, c->x, c->mask, c->y, &c->p);
}

static void sm_restore(void *ctx) {
    sm_case *c = ctx;
    if (c->inplace) rc_write(c->x, c->x0);
}

static void sm_run(mlxn_device *dev, mlxn_stream *s, const sm_spec *sp, uint64_t seed) {
    static const char *mn[] = {"none", "causal", "row", "full"};
    const int64_t rows = sp->heads * sp->tq, n = sp->n, N = rows * n;
    const int64_t mrows = sp->mask == M_CAUSAL ? sp->tq : sp->mask == M_ROW ? 1 : sp->mask == M_FULL ? rows : 0;
    char name[200];
    snprintf(name, sizeof name, "softmax %lldx%lldx%lld mask=%s %s,%s->%s scale=%g cap=%g%s%s off=%d seed=%llu",
             (long long)sp->heads, (long long)sp->tq, (long long)n, mn[sp->mask], mlxn_type_name(sp->tx),
             sp->mask ? mlxn_type_name(sp->tm) : "-", mlxn_type_name(sp->ty), (double)sp->scale, (double)sp->softcap,
             sp->inplace ? " in-place" : "", sp->dead_row ? " dead-row" : "", sp->off, (unsigned long long)seed);
    t_rng rg = {seed};
    double *xv = rc_alloc(N), *mv = rc_alloc(mrows * n), *ref = rc_alloc(N), *v = rc_alloc(N);
    double *got = rc_alloc(N), *bound = rc_alloc(N);
    rc_normal(&rg, xv, N, 0.0, sp->sd);
    for (int64_t r = 0; r < mrows; r++)
        for (int64_t j = 0; j < n; j++) {
            double m = 0.5 * t_rng_normal(&rg);
            if (sp->mask == M_CAUSAL && j > n - sp->tq + r) m = -INFINITY; /* query r sits at key n − tq + r */
            if (sp->mask != M_CAUSAL && t_rng_u64(&rg) % 5 == 0 && j) m = -INFINITY;
            if (sp->dead_row && r == 0) m = -INFINITY;
            mv[r * n + j] = m;
        }
    sm_case c = {.x0 = xv, .inplace = sp->inplace};
    c.p.scale = sp->scale;
    c.p.softcap = sp->softcap;
    const int64_t xne[3] = {sp->heads, sp->tq, n}, mne[2] = {mrows, n};
    mlxn_buffer *ox, *om = NULL, *oy = NULL;
    c.x = rc_buf(dev, sp->tx, 3, xne, xv, sp->off, &ox);
    if (sp->mask == M_FULL) c.mask = rc_buf(dev, sp->tm, 3, xne, mv, sp->off, &om);
    else if (sp->mask) c.mask = rc_buf(dev, sp->tm, sp->mask == M_ROW ? 1 : 2, sp->mask == M_ROW ? mne + 1 : mne, mv, sp->off, &om);
    double *zero = rc_alloc(N);
    c.y = sp->inplace ? c.x : rc_buf(dev, sp->ty, 3, xne, zero, sp->off, &oy);
    free(zero);
    if (c.x && c.y && (!sp->mask || c.mask) && t_run_eager_and_replay(name, s, sm_restore, sm_op, &c, c.y, got)) {
        ref_softmax(xv, sp->mask ? mv : NULL, rows, n, mrows, sp->scale, sp->softcap, ref, v);
        const double u = RC_U, cap = sp->softcap;
        for (int64_t r = 0; r < rows; r++) {
            const double *vr = v + r * n;
            int64_t am = 0;
            for (int64_t j = 1; j < n; j++)
                if (vr[j] > vr[am]) am = j;
            const double m = vr[am];
            double dv_max = m == -INFINITY ? 0 : u * (3 * fabs(xv[r * n + am] * sp->scale) + 4 * cap + 2 * fabs(m));
            double e_max = 0;
            for (int64_t j = 0; j < n; j++) {
                if (vr[j] == -INFINITY) continue;
                double dv = u * (3 * fabs(xv[r * n + j] * sp->scale) + 4 * cap + 2 * fabs(vr[j]));
                double e = dv + dv_max + u * fabs(vr[j] - m) + 2 * u;
                bound[r * n + j] = e; /* for now: e_j */
                e_max = fmax(e_max, e);
            }
            for (int64_t j = 0; j < n; j++) {
                const int64_t i = r * n + j;
                if (vr[j] == -INFINITY) {
                    bound[i] = 0; /* removed: exactly zero */
                    continue;
                }
                double b0 = ref[i] * (bound[i] + e_max + ((double)n / 8 + 19) * u);
                bound[i] = b0 + ref_eps(sp->ty) * (ref[i] + b0) + rc_tiny(sp->ty);
            }
        }
        rc_track(&worst, name, sp->ty, got, ref, bound, N);
        t_check_bound(name, got, ref, bound, N);
    }
    if (c.y != c.x) rc_free(c.y, oy);
    rc_free(c.x, ox);
    rc_free(c.mask, om);
    free(xv), free(mv), free(ref), free(v), free(got), free(bound);
}

static void bad_args(mlxn_device *dev, mlxn_stream *s) {
    double z[64] = {0};
    const int64_t ne48[2] = {4, 8}, ne38[2] = {3, 8}, ne27[2] = {2, 7}, ne28[2] = {2, 8}, ne8[1] = {8}, ne4[1] = {4};
    mlxn_buffer *x = t_buf_from(dev, MLXN_TYPE_F32, 2, ne48, z), *y = t_buf_from(dev, MLXN_TYPE_BF16, 2, ne48, z);
    mlxn_buffer *m38 = t_buf_from(dev, MLXN_TYPE_F16, 2, ne38, z), *m27 = t_buf_from(dev, MLXN_TYPE_F16, 2, ne27, z);
    mlxn_buffer *m28 = t_buf_from(dev, MLXN_TYPE_F16, 2, ne28, z), *y38 = t_buf_from(dev, MLXN_TYPE_F32, 2, ne38, z);
    mlxn_buffer *q = NULL, *yrow = NULL, *xb = NULL, *i32 = NULL;
    mlxn_buffer_alloc(dev, MLXN_TYPE_Q4_0, 1, (int64_t[]){32}, &q);
    mlxn_buffer_alloc(dev, MLXN_TYPE_I32, 2, ne48, &i32);
    mlxn_buffer_view(y, 0, MLXN_TYPE_BF16, 1, ne8, &yrow);
    mlxn_buffer_view(x, 16, MLXN_TYPE_F32, 1, ne4, &xb);
    mlxn_softmax_params p = mlxn_softmax_defaults();
    RC_BAD(mlxn_softmax(NULL, x, NULL, y, NULL), "softmax", "stream");
    RC_BAD(mlxn_softmax(s, NULL, NULL, y, NULL), "x is NULL");
    RC_BAD(mlxn_softmax(s, x, NULL, NULL, NULL), "y is NULL");
    RC_BAD(mlxn_softmax(s, q, NULL, y, NULL), "x is q4_0");
    RC_BAD(mlxn_softmax(s, x, i32, y, NULL), "mask is i32");
    RC_BAD(mlxn_softmax(s, x, NULL, y38, NULL), "y has shape [3, 8]", "[4, 8]");
    RC_BAD(mlxn_softmax(s, x, m38, y, NULL), "mask has shape [3, 8]", "divides x's 4");
    RC_BAD(mlxn_softmax(s, x, m27, y, NULL), "mask has shape [2, 7]", "rows of 8");
    CHECK_ST(mlxn_softmax(s, x, m28, y, NULL), MLXN_OK);
    RC_BAD(mlxn_softmax(s, x, yrow, y, NULL), "y overlaps mask");
    RC_BAD(mlxn_softmax(s, x, NULL, xb, NULL), "y has shape [4]"); /* shape first */
    p.scale = INFINITY;
    RC_BAD(mlxn_softmax(s, x, NULL, y, &p), "scale is inf");
    p.scale = 1, p.softcap = -2;
    RC_BAD(mlxn_softmax(s, x, NULL, y, &p), "softcap is -2");
    p.softcap = NAN;
    RC_BAD(mlxn_softmax(s, x, NULL, y, &p), "softcap is nan");
    mlxn_buffer *big = NULL, *lo = NULL, *hi = NULL;
    const int64_t ne58[2] = {5, 8};
    mlxn_buffer_alloc(dev, MLXN_TYPE_F32, 2, ne58, &big);
    mlxn_buffer_view(big, 0, MLXN_TYPE_F32, 2, ne48, &lo);
    mlxn_buffer_view(big, 32, MLXN_TYPE_F32, 2, ne48, &hi);
    RC_BAD(mlxn_softmax(s, lo, NULL, hi, NULL), "y overlaps x");
    mlxn_buffer *xf16 = NULL;
    mlxn_buffer_view(x, 0, MLXN_TYPE_F16, 2, (int64_t[]){4, 16}, &xf16);
    CHECK_ST(mlxn_softmax(s, xf16, NULL, xf16, NULL), MLXN_OK); /* in place */
    RC_BAD(mlxn_softmax(s, xf16, NULL, x, NULL), "y has shape [4, 8]"); /* same bytes, another shape */
    mlxn_buffer_free(xf16), mlxn_buffer_free(lo), mlxn_buffer_free(hi), mlxn_buffer_free(big);
    mlxn_buffer_free(q), mlxn_buffer_free(i32), mlxn_buffer_free(yrow), mlxn_buffer_free(xb);
    mlxn_buffer_free(x), mlxn_buffer_free(y), mlxn_buffer_free(m38), mlxn_buffer_free(m27), mlxn_buffer_free(m28);
    mlxn_buffer_free(y38);
}

void t_ops_softmax(mlxn_device *dev, mlxn_stream *s) {
    bad_args(dev, s);
    const mlxn_type *ft = rc_ftypes;
    uint64_t seed = 11000;
    /* rows × n, every type pairing on the small ones */
    static const int64_t shapes[][2] = {{1, 1}, {1, 7}, {4, 33}, {3, 111}, {2, 257}, {5, 1000}, {3, 4096}, {2, 50000}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const bool big = shapes[k][1] >= 4096;
        for (int tx = 0; tx < 3; tx++)
            for (int ty = 0; ty < 3; ty++) {
                if (big && tx != ty) continue;
                sm_spec sp = {.heads = 1, .tq = shapes[k][0], .n = shapes[k][1], .tx = ft[tx], .ty = ft[ty],
                              .tm = ft[(tx + ty) % 3], .scale = 1.0f, .sd = 3.0};
                sp.mask = (tx + ty) % 4 == 1 ? M_ROW : (tx + ty) % 4 == 2 ? M_FULL : M_NONE;
                sm_run(dev, s, &sp, seed++);
            }
        for (int t = 0; t < 3; t++) {
            sm_spec sp = {.heads = 1, .tq = shapes[k][0], .n = shapes[k][1], .tx = ft[t], .ty = ft[t], .tm = ft[t],
                          .scale = 0.5f, .sd = 3.0, .inplace = true, .mask = M_ROW};
            sm_run(dev, s, &sp, seed++); /* in place */
            sp.inplace = false, sp.off = 1 + t, sp.ty = ft[(t + 1) % 3], sp.mask = M_FULL;
            sm_run(dev, s, &sp, seed++); /* unaligned */
            sp.off = 0, sp.softcap = 30.0f, sp.sd = 40.0, sp.scale = 1.0f, sp.mask = M_NONE;
            sm_run(dev, s, &sp, seed++); /* softcap alone */
        }
    }
    /* attention scores [H][Tq][Tk]: causal mask broadcast over heads, 1/√D, Gemma 2's cap */
    static const int64_t att[][3] = {{32, 1, 4096}, {8, 16, 1000}, {16, 7, 33}, {4, 3, 257}, {2, 1, 1}};
    for (size_t k = 0; k < sizeof att / sizeof att[0]; k++)
        for (int t = 0; t < 3; t++) {
            sm_spec sp = {.heads = att[k][0], .tq = att[k][1], .n = att[k][2], .mask = M_CAUSAL, .tx = ft[t],
                          .tm = ft[(t + k) % 3], .ty = ft[(t + 1) % 3], .scale = 0.08838834764831845f, .sd = 8.0};
            sm_run(dev, s, &sp, seed++);
            sp.softcap = 50.0f, sp.scale = 1.0f, sp.sd = 60.0;
            sm_run(dev, s, &sp, seed++);
            sp.dead_row = true, sp.softcap = 0, sp.mask = t == 2 ? M_ROW : M_CAUSAL;
            sm_run(dev, s, &sp, seed++); /* rows with nothing left: zeros */
        }
    rc_report("softmax", &worst);
}
