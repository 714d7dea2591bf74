/* Activation cases: silu, gelu (tanh and erf), softcap, swiglu and geglu on separate and
 * fused gate-up inputs ([..., 2n], gate first), sigmoid_mul; flat and row shapes from 1 to
 * Llama 3 8B's FFN (14336), every type triple on small shapes, in place, unaligned views.
 *
 * Bounds, per element, relative to |ref| (u = 2^-24; libm and CUDA's expf, tanhf within 2
 * ulp, erfcf within 4): silu, sigmoid_mul, softcap 6u (e^−|z|, 1 + e, the divide, the
 * multiply); swiglu 7u (one more multiply); gelu-tanh u·(8·|2k(x + 0.044715x³)| + 8), its argument's
 * relative error (x³, the constants, the sum) amplified by the logistic's slope; gelu-erf
 * u·(2x² + 10), erfc's relative condition 2z² at z = x/√2; geglu one u more; plus
 * 2^-149·|x| (·|b|) where e^−|z| falls into f32's subnormals; then + eps_y·|ref| and y's
 * subnormal spacing. The worst error/bound ratio over f32 outputs (where y's rounding does
 * not hide the arithmetic) is printed at the end. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_cases.h"
#include "ops_rowcheck.h"
#include "ref/ref.h"

static rc_worst worst;

/* The ops, numbered as ref_act's op (mlxn_act_op). */
enum { A_SILU, A_GELU, A_GELU_ERF, A_SOFTCAP, A_SWIGLU, A_GEGLU, A_GEGLU_ERF, A_SIGMUL, A_COUNT };
static const char *const an[A_COUNT] = {"silu", "gelu", "gelu_erf", "softcap", "swiglu", "geglu", "geglu_erf", "sigmoid_mul"};

typedef struct act_spec {
    int op;
    int ndim;
    int64_t ne[4];     /* y's shape */
    bool fused;        /* gated op on a [..., 2n] gate-up buffer */
    mlxn_type ta, tb, ty;
    int inplace;       /* 1: y = a, 2: y = b */
    int off;
    float cap;
} act_spec;

typedef struct act_case {
    const act_spec *sp;
    mlxn_buffer *a, *b, *y;
    double *a0, *b0;
    mlxn_act_params p;
} act_case;

static bool gated(int op) { return op >= A_SWIGLU; }

static mlxn_status act_op(mlxn_stream *s, void *ctx) {
    act_case *c = ctx;
    switch (c->sp->op) {
    case A_SILU: return mlxn_silu(s, c->a, c->y, &c->p);
    case A_GELU:
    case A_GELU_ERF: return mlxn_gelu(s, c->a, c->y, &c->p);
    case A_SOFTCAP: return mlxn_softcap(s, c->a, c->y, &c->p);
    case A_SWIGLU: return mlxn_swiglu(s, c->a, c->b, c->y, &c->p);
    case A_GEGLU:
    case A_GEGLU_ERF: return mlxn_geglu(s, c->a, c->b, c->y, &c->p);
    default: return mlxn_sigmoid_mul(s, c->a, c->b, c->y, &c->p);
    }
}

static void act_restore(void *ctx) {
    act_case *c = ctx;
    if (c->sp->inplace == 1) rc_write(c->a, c->a0);
    if (c->sp->inplace == 2) rc_write(c->b, c->b0);
}

static void act_run(mlxn_device *dev, mlxn_stream *s, const act_spec *sp, uint64_t seed) {
    const int nd = sp->ndim;
    const int64_t n = sp->ne[nd - 1];
    int64_t N = 1;
    for (int d = 0; d < nd; d++) N *= sp->ne[d];
    char name[200], shp[64];
    snprintf(name, sizeof name, "%s %s%s %s,%s->%s%s off=%d seed=%llu", an[sp->op], rc_shape(shp, sizeof shp, nd, sp->ne),
             sp->fused ? " fused" : "", mlxn_type_name(sp->ta), gated(sp->op) ? mlxn_type_name(sp->tb) : "-",
             mlxn_type_name(sp->ty), sp->inplace == 1 ? " y=a" : sp->inplace == 2 ? " y=b" : "", sp->off,
             (unsigned long long)seed);
    t_rng rg = {seed};
    double *av = rc_alloc(2 * N), *bv = rc_alloc(N), *ga = rc_alloc(N), *gb = rc_alloc(N);
    double *ref = rc_alloc(N), *got = rc_alloc(N), *bound = rc_alloc(N);
    rc_normal(&rg, av, sp->fused ? 2 * N : N, 0.0, sp->op == A_SOFTCAP ? 40.0 : 3.0);
    rc_normal(&rg, bv, N, 0.0, sp->op == A_SIGMUL ? 3.0 : 1.0);
    act_case c = {.sp = sp, .a0 = av, .b0 = bv};
    c.p = mlxn_act_defaults();
    c.p.gelu = sp->op == A_GELU_ERF || sp->op == A_GEGLU_ERF ? MLXN_GELU_ERF : MLXN_GELU_TANH;
    if (sp->op == A_SOFTCAP) c.p.softcap = sp->cap;
    int64_t ane[4];
    memcpy(ane, sp->ne, sizeof ane);
    if (sp->fused) ane[nd - 1] = 2 * n;
    mlxn_buffer *oa, *ob = NULL, *oy = NULL;
    c.a = rc_buf(dev, sp->ta, nd, ane, av, sp->off, &oa);
    c.b = gated(sp->op) && !sp->fused ? rc_buf(dev, sp->tb, nd, sp->ne, bv, sp->off, &ob) : NULL;
    double *zero = rc_alloc(N);
    c.y = sp->inplace == 1 ? c.a : sp->inplace == 2 ? c.b : rc_buf(dev, sp->ty, nd, sp->ne, zero, sp->off, &oy);
    free(zero);
    /* the oracle's operands: a row's gate and up halves when fused */
    for (int64_t i = 0; i < N; i++) {
        const int64_t r = i / n, j = i % n;
        ga[i] = sp->fused ? av[r * 2 * n + j] : av[i];
        gb[i] = sp->fused ? av[r * 2 * n + n + j] : bv[i];
    }
    if (c.a && c.y && (!gated(sp->op) || sp->fused || c.b) && t_run_eager_and_replay(name, s, act_restore, act_op, &c, c.y, got)) {
        ref_act(sp->op, ga, gb, N, sp->cap, ref);
        const double u = RC_U;
        for (int64_t i = 0; i < N; i++) {
            const double x = ga[i], k2 = 2 * sqrt(2 / M_PI) * (x + 0.044715 * x * x * x);
            double rel;
            switch (sp->op) {
            case A_SWIGLU: rel = 7 * u; break;
            case A_GELU: rel = u * (8 * fabs(k2) + 8); break;
            case A_GEGLU: rel = u * (8 * fabs(k2) + 9); break;
            case A_GELU_ERF: rel = u * (2 * x * x + 10); break;
            case A_GEGLU_ERF: rel = u * (2 * x * x + 11); break;
            default: rel = 6 * u;
            }
            /* e^−|z| in f32's subnormals (|z| > 87) keeps only 2^-149 of absolute precision */
            double b0 = fabs(ref[i]) * rel + 0x1p-149 * fabs(x) * (gated(sp->op) ? fabs(gb[i]) : 1.0);
            bound[i] = b0 + ref_eps(sp->ty) * (fabs(ref[i]) + b0) + rc_tiny(sp->ty);
        }
        rc_track(&worst, name, sp->ty, got, ref, bound, N);
        t_check_bound(name, got, ref, bound, N);
    }
    if (c.y != c.a && c.y != c.b) rc_free(c.y, oy);
    rc_free(c.a, oa);
    rc_free(c.b, ob);
    free(av), free(bv), free(ga), free(gb), free(ref), free(got), free(bound);
}

static void bad_args(mlxn_device *dev, mlxn_stream *s) {
    double z[64] = {0};
    const int64_t ne48[2] = {4, 8}, ne416[2] = {4, 16}, ne415[2] = {4, 15}, ne38[2] = {3, 8}, ne316[2] = {3, 16};
    mlxn_buffer *a = t_buf_from(dev, MLXN_TYPE_F32, 2, ne48, z), *b = t_buf_from(dev, MLXN_TYPE_BF16, 2, ne48, z);
    mlxn_buffer *y = t_buf_from(dev, MLXN_TYPE_F16, 2, ne48, z), *ab = t_buf_from(dev, MLXN_TYPE_F16, 2, ne416, z);
    mlxn_buffer *a15 = t_buf_from(dev, MLXN_TYPE_F16, 2, ne415, z), *y38 = t_buf_from(dev, MLXN_TYPE_F16, 2, ne38, z);
    mlxn_buffer *a316 = t_buf_from(dev, MLXN_TYPE_F16, 2, ne316, z), *q = NULL, *yh = NULL, *ah = NULL;
    mlxn_buffer_alloc(dev, MLXN_TYPE_Q8_0, 2, (int64_t[]){4, 32}, &q);
    mlxn_buffer_view(ab, 0, MLXN_TYPE_F16, 2, ne48, &yh); /* the fused buffer's first half, as y */
    mlxn_buffer_view(a, 0, MLXN_TYPE_F16, 2, ne48, &ah);  /* a's bytes as another type */
    mlxn_act_params p = mlxn_act_defaults();
    RC_BAD(mlxn_silu(NULL, a, y, NULL), "silu", "stream");
    RC_BAD(mlxn_silu(s, NULL, y, NULL), "silu", "x is NULL");
    RC_BAD(mlxn_gelu(s, a, NULL, NULL), "gelu", "y is NULL");
    RC_BAD(mlxn_gelu(s, q, y, NULL), "x is q8_0");
    RC_BAD(mlxn_silu(s, a, y38, NULL), "y has shape [3, 8]", "[4, 8]");
    RC_BAD(mlxn_silu(s, a, ah, NULL), "y overlaps x");
    CHECK_ST(mlxn_silu(s, a, a, NULL), MLXN_OK); /* in place */
    p.gelu = (mlxn_gelu_approx)7;
    RC_BAD(mlxn_gelu(s, a, y, &p), "gelu is 7");
    RC_BAD(mlxn_geglu(s, a, b, y, &p), "geglu", "gelu is 7");
    p = mlxn_act_defaults();
    p.softcap = 0;
    RC_BAD(mlxn_softcap(s, a, y, &p), "softcap is 0");
    p.softcap = INFINITY;
    RC_BAD(mlxn_softcap(s, a, y, &p), "softcap is inf");
    RC_BAD(mlxn_swiglu(s, a, q, y, NULL), "swiglu", "b is q8_0");
    RC_BAD(mlxn_swiglu(s, a, y38, y, NULL), "b has shape [3, 8]");
    RC_BAD(mlxn_swiglu(s, a15, NULL, y, NULL), "fused a has shape [4, 15]", "doubled");
    RC_BAD(mlxn_swiglu(s, a316, NULL, y, NULL), "fused a has shape [3, 16]");
    RC_BAD(mlxn_swiglu(s, ab, NULL, yh, NULL), "y overlaps the fused a");
    CHECK_ST(mlxn_swiglu(s, ab, NULL, y, NULL), MLXN_OK);
    CHECK_ST(mlxn_geglu(s, a, b, b, NULL), MLXN_OK); /* y = b in place */
    RC_BAD(mlxn_sigmoid_mul(s, a, NULL, y, NULL), "sigmoid_mul", "g is NULL");
    RC_BAD(mlxn_sigmoid_mul(s, a, b, ah, NULL), "y overlaps x");
    mlxn_buffer_free(q), mlxn_buffer_free(yh), mlxn_buffer_free(ah);
    mlxn_buffer_free(a), mlxn_buffer_free(b), mlxn_buffer_free(y), mlxn_buffer_free(ab), mlxn_buffer_free(a15);
    mlxn_buffer_free(y38), mlxn_buffer_free(a316);
}

void t_ops_act(mlxn_device *dev, mlxn_stream *s) {
    bad_args(dev, s);
    const mlxn_type *ft = rc_ftypes;
    uint64_t seed = 13000;
    static const struct {
        int ndim;
        int64_t ne[4];
    } shapes[] = {{1, {1}}, {1, {7}}, {1, {33}}, {2, {3, 111}}, {3, {2, 3, 257}}, {2, {8, 4096}}, {2, {4, 14336}}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const bool big = shapes[k].ne[shapes[k].ndim - 1] >= 4096;
        for (int op = 0; op < A_COUNT; op++)
            for (int ta = 0; ta < 3; ta++)
                for (int tb = 0; tb < (gated(op) ? 3 : 1); tb++)
                    for (int ty = 0; ty < 3; ty++) {
                        /* the full type cube on small shapes; on big ones a diagonal */
                        if (big && !(ta == ty && (!gated(op) || tb == ta))) continue;
                        if (!big && op != A_SWIGLU && op != A_SILU && (ta + tb + ty) % 2) continue;
                        act_spec sp = {.op = op, .ndim = shapes[k].ndim, .ta = ft[ta], .tb = ft[tb], .ty = ft[ty],
                                       .cap = 30.0f};
                        memcpy(sp.ne, shapes[k].ne, sizeof sp.ne);
                        act_run(dev, s, &sp, seed++);
                        if (op == A_SWIGLU || op == A_GEGLU || op == A_GEGLU_ERF) {
                            sp.fused = true, sp.tb = sp.ta;
                            act_run(dev, s, &sp, seed++);
                        }
                    }
        for (int t = 0; t < 3; t++) {
            act_spec sp = {.op = A_SWIGLU, .ndim = shapes[k].ndim, .ta = ft[t], .tb = ft[t], .ty = ft[t], .cap = 30.0f};
            memcpy(sp.ne, shapes[k].ne, sizeof sp.ne);
            sp.inplace = 1;
            act_run(dev, s, &sp, seed++);
            sp.op = A_SIGMUL, sp.inplace = 2;
            act_run(dev, s, &sp, seed++);
            sp.op = A_GELU, sp.inplace = 1;
            act_run(dev, s, &sp, seed++);
            sp.op = A_SOFTCAP, sp.inplace = 0, sp.off = 1 + t, sp.cap = 15.0f, sp.ty = ft[(t + 1) % 3];
            act_run(dev, s, &sp, seed++);
            sp.op = A_GEGLU, sp.fused = true, sp.off = 3 - t;
            act_run(dev, s, &sp, seed++);
            sp.op = A_SIGMUL, sp.fused = false, sp.tb = ft[(t + 2) % 3];
            act_run(dev, s, &sp, seed++);
        }
    }
    rc_report("act", &worst);
}
