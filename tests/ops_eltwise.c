/* Elementwise cases: add, mul, scale, copy/cast over every f32/f16/bf16 combination, on
 * tiny, ragged and real shapes, full and row-broadcast b, in place, and through views at
 * offsets that break 16-byte alignment.
 *
 * Bound, per element: |got - ref| <= eps_y·|ref| + 4·2^-24·(|scale·v| + |bias|) + tiny_y,
 * where v = f(a, b) exactly: the f32 arithmetic rounds at most twice before the final
 * rounding to y's type (eps_y: 2^-24 f32, 2^-11 f16, 2^-8 bf16), and tiny_y covers y's
 * subnormal spacing. Casts (copy, no affine) must be exact: ref_round(x, y type). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcheck.h"
#include "ops_cases.h"
#include "ref/ref.h"

static const mlxn_type ftypes[3] = {MLXN_TYPE_F32, MLXN_TYPE_F16, MLXN_TYPE_BF16};

typedef struct elt_case {
    int op; /* 0 copy/scale, 1 add, 2 mul */
    mlxn_buffer *a, *b, *y;
    const double *a_vals; /* to restore a before an in-place run */
    mlxn_eltwise_params p;
    bool use_p;
} elt_case;

static mlxn_status run_op(mlxn_stream *s, void *ctx) {
    elt_case *c = ctx;
    const mlxn_eltwise_params *p = c->use_p ? &c->p : NULL;
    switch (c->op) {
    case 1: return mlxn_add(s, c->a, c->b, c->y, p);
    case 2: return mlxn_mul(s, c->a, c->b, c->y, p);
    default: return c->use_p ? mlxn_scale(s, c->a, c->y, p) : mlxn_copy(s, c->a, c->y, NULL);
    }
}

static void restore_a(void *ctx) {
    elt_case *c = ctx;
    mlxn_device *dev = mlxn_buffer_device(c->a);
    int64_t ne[MLXN_MAX_DIMS];
    int nd = mlxn_buffer_ndim(c->a);
    for (int d = 0; d < nd; d++) ne[d] = mlxn_buffer_ne(c->a, d);
    int64_t n = mlxn_buffer_nelements(c->a);
    double *v = malloc(sizeof *v * (size_t)n + 1);
    memcpy(v, c->a_vals, sizeof *v * (size_t)n);
    mlxn_buffer *tmp = t_buf_from(dev, mlxn_buffer_type(c->a), nd, ne, v);
    mlxn_buffer_copy(c->a, 0, tmp, 0, mlxn_buffer_bytes(tmp));
    mlxn_buffer_free(tmp);
    free(v);
}

static void fill_vals(t_rng *r, double *v, int64_t n, double scale) {
    for (int64_t i = 0; i < n; i++) v[i] = scale * t_rng_normal(r);
}

/* One case: op over shape (ndim, ne) with types ta, tb, ty; b full or a broadcast row;
 * in place (y = a, needs ta == ty); `offset_elems` > 0 puts every operand in a view that
 * starts that many elements into a larger buffer. */
static void elt_run(mlxn_device *dev, mlxn_stream *s, int op, int ndim, const int64_t *ne, mlxn_type ta,
                    mlxn_type tb, mlxn_type ty, bool row_b, bool inplace, int offset_elems, bool affine,
                    uint64_t seed) {
    static const char *opn[3] = {"copy", "add", "mul"};
    char name[160], shape[64] = "";
    for (int d = 0, k = 0; d < ndim; d++) k += snprintf(shape + k, sizeof shape - (size_t)k, d ? "x%lld" : "%lld", (long long)ne[d]);
    snprintf(name, sizeof name, "%s%s %s %s,%s->%s%s%s%s seed=%llu", opn[op], affine ? "+affine" : "", shape,
             mlxn_type_name(ta), op ? mlxn_type_name(tb) : "-", mlxn_type_name(ty), row_b ? " row-b" : "",
             inplace ? " in-place" : "", offset_elems ? " offset" : "", (unsigned long long)seed);
    t_rng r = {seed};
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= ne[d];
    int64_t row = ne[ndim - 1], nb = row_b ? row : n;
    int64_t bne[1] = {row};
    double *av = malloc(sizeof(double) * (size_t)(n + 1)), *bv = malloc(sizeof(double) * (size_t)(nb + 1));
    double *a0 = malloc(sizeof(double) * (size_t)(n + 1));
    double *v = malloc(sizeof(double) * (size_t)(n + 1)), *ref = malloc(sizeof(double) * (size_t)(n + 1));
    double *got = malloc(sizeof(double) * (size_t)(n + 1)), *bound = malloc(sizeof(double) * (size_t)(n + 1));
    fill_vals(&r, av, n, 3.0);
    fill_vals(&r, bv, nb, 2.0);
    elt_case c = {.op = op, .a_vals = a0, .use_p = affine};
    c.p = affine ? (mlxn_eltwise_params){.scale = t_rng_uniform(&r, -2.f, 2.f), .bias = t_rng_uniform(&r, -1.f, 1.f)}
                 : mlxn_eltwise_defaults();
    /* buffers: optionally views `offset_elems` in, so device pointers lose 16-byte alignment */
    mlxn_buffer *pa = NULL, *pb = NULL, *py = NULL;
    if (offset_elems) {
        int64_t big = n + offset_elems + 8, bigb = nb + offset_elems + 8;
        double *z = calloc((size_t)(big > bigb ? big : bigb), sizeof(double));
        pa = t_buf_from(dev, ta, 1, &big, z);
        pb = op ? t_buf_from(dev, tb, 1, &bigb, z) : NULL;
        py = t_buf_from(dev, ty, 1, &big, z);
        free(z);
        size_t ea = ta == MLXN_TYPE_F32 ? 4 : 2, eb = tb == MLXN_TYPE_F32 ? 4 : 2, ey = ty == MLXN_TYPE_F32 ? 4 : 2;
        mlxn_buffer_view(pa, ea * (size_t)offset_elems, ta, ndim, ne, &c.a);
        if (op) mlxn_buffer_view(pb, eb * (size_t)offset_elems, tb, row_b ? 1 : ndim, row_b ? bne : ne, &c.b);
        mlxn_buffer_view(py, ey * (size_t)offset_elems, ty, ndim, ne, &c.y);
        mlxn_buffer *tmp = t_buf_from(dev, ta, ndim, ne, av);
        mlxn_buffer_copy(c.a, 0, tmp, 0, mlxn_buffer_bytes(tmp));
        mlxn_buffer_free(tmp);
        if (op) {
            tmp = t_buf_from(dev, tb, row_b ? 1 : ndim, row_b ? bne : ne, bv);
            mlxn_buffer_copy(c.b, 0, tmp, 0, mlxn_buffer_bytes(tmp));
            mlxn_buffer_free(tmp);
        }
    } else {
        c.a = t_buf_from(dev, ta, ndim, ne, av);
        if (op) c.b = t_buf_from(dev, tb, row_b ? 1 : ndim, row_b ? bne : ne, bv);
        if (inplace) {
            c.y = c.a;
        } else {
            double *z = calloc((size_t)n + 1, sizeof(double));
            c.y = t_buf_from(dev, ty, ndim, ne, z);
            free(z);
        }
    }
    memcpy(a0, av, sizeof(double) * (size_t)n);
    if (c.a && c.y && (!op || c.b)) {
        ref_eltwise(op, av, bv, n, nb, c.p.scale, c.p.bias, v, ref);
        for (int64_t i = 0; i < n; i++) {
            bool exact_cast = op == 0 && !affine;
            double tiny = ty == MLXN_TYPE_F16 ? 0x1p-25 : 0x1p-150;
            bound[i] = exact_cast ? 0.0
                                  : ref_eps(ty) * fabs(ref[i]) + 4 * 0x1p-24 * (fabs(c.p.scale * v[i]) + fabs(c.p.bias)) + tiny;
            if (exact_cast) ref[i] = ref_round(ref[i], ty);
        }
        if (t_run_eager_and_replay(name, s, inplace ? restore_a : NULL, run_op, &c, c.y, got))
            t_check_bound(name, got, ref, bound, n);
    }
    if (c.y != c.a) mlxn_buffer_free(c.y);
    mlxn_buffer_free(c.a);
    mlxn_buffer_free(c.b);
    mlxn_buffer_free(pa);
    mlxn_buffer_free(pb);
    mlxn_buffer_free(py);
    free(av), free(bv), free(a0), free(v), free(ref), free(got), free(bound);
}

/* Special values through casts: overflow to inf, subnormals, ties, signed zero, inf. */
static void cast_specials(mlxn_device *dev, mlxn_stream *s) {
    double vals[] = {0.0, -0.0, 1.0, -1.0, 65504.0, 65519.99, 65520.0, 1e6, -1e6, 0x1p-24, 0x1p-25, 0x1.8p-24,
                     0x1p-14, 0x1.ffcp-15, 1.00048828125, 1.0009765625 + 0x1p-12, 0x1.01p0, 3.0e38, INFINITY, -INFINITY,
                     0x1.008p0, 0x1.018p0, 1e-40, -7.5};
    const int64_t n = (int64_t)(sizeof vals / sizeof vals[0]);
    for (int tx = 0; tx < 3; tx++) {
        if (ftypes[tx] != MLXN_TYPE_F32) continue; /* sources of every value must hold them */
        for (int ty = 0; ty < 3; ty++) {
            double in[sizeof vals / sizeof vals[0]], ref[sizeof vals / sizeof vals[0]], got[sizeof vals / sizeof vals[0]];
            double zero[sizeof vals / sizeof vals[0]] = {0}, bound[sizeof vals / sizeof vals[0]] = {0};
            memcpy(in, vals, sizeof in);
            elt_case c = {.op = 0};
            c.a = t_buf_from(dev, ftypes[tx], 1, &n, in);
            c.y = t_buf_from(dev, ftypes[ty], 1, &n, zero);
            for (int64_t i = 0; i < n; i++) ref[i] = ref_round(in[i], ftypes[ty]);
            char name[64];
            snprintf(name, sizeof name, "cast specials %s->%s", mlxn_type_name(ftypes[tx]), mlxn_type_name(ftypes[ty]));
            if (t_run_eager_and_replay(name, s, NULL, run_op, &c, c.y, got)) {
                bool signs = true;
                for (int64_t i = 0; i < n; i++) signs &= signbit(got[i]) == signbit(ref[i]);
                t_check_bound(name, got, ref, bound, n);
                CHECK(signs, "%s: a zero lost its sign", name);
            }
            mlxn_buffer_free(c.a);
            mlxn_buffer_free(c.y);
        }
    }
}

void t_ops_eltwise(mlxn_device *dev, mlxn_stream *s) {
    static const int64_t shapes[][4] = {
        {1, 1, 1, 1}, {1, 1, 1, 7}, {1, 1, 1, 33}, {1, 1, 3, 5}, {1, 1, 17, 33}, {1, 2, 3, 100}, {2, 2, 3, 9},
        {1, 1, 7, 257}, {1, 1, 1, 14336}, {1, 1, 32, 4096},
    };
    static const int ndims[] = {1, 1, 1, 2, 2, 3, 4, 2, 1, 2};
    uint64_t seed = 1000;
    for (size_t k = 0; k < sizeof ndims / sizeof ndims[0]; k++) {
        const int64_t *ne = shapes[k] + 4 - ndims[k];
        bool big = ne[ndims[k] - 1] >= 4096;
        for (int op = 0; op < 3; op++)
            for (int ta = 0; ta < 3; ta++)
                for (int tb = 0; tb < (op ? 3 : 1); tb++)
                    for (int ty = 0; ty < 3; ty++) {
                        /* the full type cube on small shapes; on big ones, a type diagonal */
                        if (big && !(ta == ty && (tb == ta || tb == (ta + 1) % 3))) continue;
                        elt_run(dev, s, op, ndims[k], ne, ftypes[ta], ftypes[tb], ftypes[ty], false, false, 0,
                                false, seed++);
                        if (op) elt_run(dev, s, op, ndims[k], ne, ftypes[ta], ftypes[tb], ftypes[ty], true, false,
                                        0, false, seed++);
                    }
        for (int t = 0; t < 3; t++) {
            elt_run(dev, s, 0, ndims[k], ne, ftypes[t], ftypes[t], ftypes[t], false, false, 0, true, seed++);
            elt_run(dev, s, 1, ndims[k], ne, ftypes[t], ftypes[(t + 1) % 3], ftypes[t], true, true, 0, true, seed++);
            elt_run(dev, s, 2, ndims[k], ne, ftypes[t], ftypes[t], ftypes[t], false, true, 0, false, seed++);
            elt_run(dev, s, 1, ndims[k], ne, ftypes[t], ftypes[t], ftypes[(t + 2) % 3], ndims[k] > 1, false, 1 + t,
                    t == 1, seed++);
            elt_run(dev, s, 0, ndims[k], ne, ftypes[t], ftypes[t], ftypes[(t + 1) % 3], false, false, 3, false, seed++);
        }
    }
    cast_specials(dev, s);
}
