/* Layout cases: copy_strided (contiguous casts, and a walk with negative x strides into a
 * y with gaps), transpose, permute of the leading dims, slice and concat on the last dim;
 * every type pair on small shapes, a type diagonal on real ones ([32][4096][128] attention
 * layouts); graph replay; the argument checks.
 *
 * Bound: every op moves values, converting through f32 to y's type: y must equal x rounded to
 * y's type exactly (bound 0); gaps a strided y leaves must keep their poison. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opcheck.h"
#include "ops_cases.h"
#include "ref/ref.h"

static const mlxn_type ftypes[3] = {MLXN_TYPE_F32, MLXN_TYPE_F16, MLXN_TYPE_BF16};

typedef enum { L_STRIDED, L_TRANSPOSE, L_PERMUTE, L_SLICE, L_CONCAT } lay_op;

typedef struct lay_case {
    lay_op op;
    mlxn_buffer *x, *b, *y;
    mlxn_copy_strided_params cs;
    const mlxn_copy_strided_params *csp;
    mlxn_permute_params perm;
    mlxn_slice_params slice;
} lay_case;

static mlxn_status lay_op_fn(mlxn_stream *s, void *ctx) {
    lay_case *c = ctx;
    switch (c->op) {
    case L_STRIDED: return mlxn_copy_strided(s, c->x, c->y, c->csp);
    case L_TRANSPOSE: return mlxn_transpose(s, c->x, c->y, NULL);
    case L_PERMUTE: return mlxn_permute(s, c->x, c->y, &c->perm);
    case L_SLICE: return mlxn_slice(s, c->x, c->y, &c->slice);
    default: return mlxn_concat(s, c->x, c->b, c->y, NULL);
    }
}

static int64_t prod(int nd, const int64_t *ne) {
    int64_t n = 1;
    for (int d = 0; d < nd; d++) n *= ne[d];
    return n;
}

static double *randv(t_rng *r, int64_t n) {
    double *v = malloc(sizeof(double) * (size_t)(n + 1));
    for (int64_t i = 0; i < n; i++) v[i] = 3.0 * t_rng_normal(r);
    return v;
}

static mlxn_buffer *zeros(mlxn_device *dev, mlxn_type t, int nd, const int64_t *ne) {
    mlxn_buffer *b = NULL;
    CHECK_ST(mlxn_buffer_alloc(dev, t, nd, ne, &b), MLXN_OK);
    return b;
}

/* Runs the case and compares y with ref (already rounded to y's type); where has[i] is 0
 * (when has is given) y must still hold its poison. */
static void lay_check(const char *name, mlxn_stream *s, lay_case *c, const double *ref, const unsigned char *has) {
    const int64_t n = mlxn_buffer_nelements(c->y);
    double *got = malloc(sizeof(double) * (size_t)(n + 1)), *bound = calloc((size_t)n + 1, sizeof(double));
    double *want = malloc(sizeof(double) * (size_t)(n + 1));
    if (t_run_eager_and_replay(name, s, NULL, lay_op_fn, c, c->y, got)) {
        int64_t gaps_bad = 0;
        for (int64_t i = 0; i < n; i++) {
            want[i] = ref[i];
            if (has && !has[i]) {
                gaps_bad += got[i] == got[i];
                want[i] = got[i] = 0; /* the gap itself was checked just above */
            }
        }
        t_check_bound(name, got, want, bound, n);
        CHECK(gaps_bad == 0, "%s: %lld elements outside the walk were written", name, (long long)gaps_bad);
    }
    free(got), free(bound), free(want);
}

static void round_all(double *v, int64_t n, mlxn_type t) {
    for (int64_t i = 0; i < n; i++) v[i] = ref_round(v[i], t);
}

static void run_transpose(mlxn_device *dev, mlxn_stream *s, int nd, const int64_t *ne, mlxn_type tx, mlxn_type ty,
                          uint64_t seed) {
    char name[128];
    snprintf(name, sizeof name, "transpose %dd [..%lld][%lld] %s->%s seed=%llu", nd, (long long)ne[nd - 2],
             (long long)ne[nd - 1], mlxn_type_name(tx), mlxn_type_name(ty), (unsigned long long)seed);
    t_rng r = {seed};
    const int64_t n = prod(nd, ne), rr = ne[nd - 2], cc = ne[nd - 1];
    int64_t yne[4];
    memcpy(yne, ne, sizeof(int64_t) * (size_t)nd);
    yne[nd - 2] = cc, yne[nd - 1] = rr;
    double *x = randv(&r, n), *ref = malloc(sizeof(double) * (size_t)(n + 1));
    lay_case c = {.op = L_TRANSPOSE};
    c.x = t_buf_from(dev, tx, nd, ne, x);
    c.y = zeros(dev, ty, nd, yne);
    ref_transpose(x, n / (rr * cc), rr, cc, ref);
    round_all(ref, n, ty);
    if (c.x && c.y) lay_check(name, s, &c, ref, NULL);
    mlxn_buffer_free(c.x), mlxn_buffer_free(c.y);
    free(x), free(ref);
}

static void run_permute(mlxn_device *dev, mlxn_stream *s, int nd, const int64_t *ne, const int *perm, mlxn_type tx,
                        mlxn_type ty, uint64_t seed) {
    char name[160];
    snprintf(name, sizeof name, "permute %dd [%lld..%lld] perm {%d,%d,%d} %s->%s seed=%llu", nd, (long long)ne[0],
             (long long)ne[nd - 1], perm[0], nd > 2 ? perm[1] : -1, nd > 3 ? perm[2] : -1, mlxn_type_name(tx),
             mlxn_type_name(ty), (unsigned long long)seed);
    t_rng r = {seed};
    const int64_t n = prod(nd, ne);
    int64_t yne[4], lead[3] = {1, 1, 1};
    int p3[3] = {0, 1, 2};
    const int off = 3 - (nd - 1); /* leading dims padded in front to three */
    for (int d = 0; d < nd - 1; d++) {
        yne[d] = ne[perm[d]];
        lead[off + d] = ne[d];
        p3[off + d] = off + perm[d];
    }
    yne[nd - 1] = ne[nd - 1];
    double *x = randv(&r, n), *ref = malloc(sizeof(double) * (size_t)(n + 1));
    lay_case c = {.op = L_PERMUTE};
    for (int d = 0; d < 3; d++) c.perm.perm[d] = d < nd - 1 ? perm[d] : 0;
    c.x = t_buf_from(dev, tx, nd, ne, x);
    c.y = zeros(dev, ty, nd, yne);
    ref_permute(x, lead, ne[nd - 1], p3, ref);
    round_all(ref, n, ty);
    if (c.x && c.y) lay_check(name, s, &c, ref, NULL);
    mlxn_buffer_free(c.x), mlxn_buffer_free(c.y);
    free(x), free(ref);
}

static void run_slice_concat(mlxn_device *dev, mlxn_stream *s, int64_t rows, int64_t ka, int64_t kb, mlxn_type ta,
                             mlxn_type tb, mlxn_type ty, uint64_t seed) {
    char name[160];
    t_rng r = {seed};
    double *a = randv(&r, rows * ka), *b = randv(&r, rows * kb), *ref = malloc(sizeof(double) * (size_t)(rows * (ka + kb) + 1));
    int64_t ane[2] = {rows, ka}, bne[2] = {rows, kb}, yne[2] = {rows, ka + kb};
    /* concat */
    lay_case c = {.op = L_CONCAT};
    c.x = t_buf_from(dev, ta, 2, ane, a);
    c.b = t_buf_from(dev, tb, 2, bne, b);
    c.y = zeros(dev, ty, 2, yne);
    ref_concat(a, ka, b, kb, rows, ref);
    round_all(ref, rows * (ka + kb), ty);
    snprintf(name, sizeof name, "concat [%lld][%lld|%lld] %s,%s->%s seed=%llu", (long long)rows, (long long)ka,
             (long long)kb, mlxn_type_name(ta), mlxn_type_name(tb), mlxn_type_name(ty), (unsigned long long)seed);
    if (c.x && c.b && c.y) lay_check(name, s, &c, ref, NULL);
    /* slice y back into b's columns */
    lay_case sl = {.op = L_SLICE, .slice = {.begin = ka}};
    sl.x = c.y;
    sl.y = zeros(dev, tb, 2, bne);
    double *yv = malloc(sizeof(double) * (size_t)(rows * (ka + kb) + 1));
    memcpy(yv, ref, sizeof(double) * (size_t)(rows * (ka + kb)));
    ref_slice(yv, rows, ka + kb, ka, kb, ref);
    round_all(ref, rows * kb, tb);
    snprintf(name, sizeof name, "slice [%lld][%lld] from %lld %s->%s seed=%llu", (long long)rows, (long long)(ka + kb),
             (long long)ka, mlxn_type_name(ty), mlxn_type_name(tb), (unsigned long long)seed);
    if (sl.x && sl.y) lay_check(name, s, &sl, ref, NULL);
    mlxn_buffer_free(c.x), mlxn_buffer_free(c.b), mlxn_buffer_free(c.y), mlxn_buffer_free(sl.y);
    free(a), free(b), free(ref), free(yv);
}

/* copy_strided with NULL params (a contiguous cast), and a 3-D walk reading x backwards
 * along one dim into a y with gaps. */
static void run_strided(mlxn_device *dev, mlxn_stream *s, int64_t n, mlxn_type tx, mlxn_type ty, uint64_t seed) {
    char name[160];
    t_rng r = {seed};
    double *x = randv(&r, n), *ref = malloc(sizeof(double) * (size_t)(n + 1));
    lay_case c = {.op = L_STRIDED, .csp = NULL};
    c.x = t_buf_from(dev, tx, 1, &n, x);
    c.y = zeros(dev, ty, 1, &n);
    memcpy(ref, x, sizeof(double) * (size_t)n);
    round_all(ref, n, ty);
    snprintf(name, sizeof name, "copy_strided contiguous [%lld] %s->%s seed=%llu", (long long)n, mlxn_type_name(tx),
             mlxn_type_name(ty), (unsigned long long)seed);
    if (c.x && c.y) lay_check(name, s, &c, ref, NULL);
    mlxn_buffer_free(c.x), mlxn_buffer_free(c.y);
    free(x), free(ref);
    /* walk [A][B][C] over x [A][B][C] reversed along B, into y rows of pitch C + 3, with a gap
     * of one row between the A-blocks */
    const int64_t A = 3, B = 1 + (int64_t)(seed % 9), C = n < 64 ? n : 64;
    const int64_t ynum = A * (B + 1) * (C + 3), xnum = A * B * C;
    double *xv = randv(&r, xnum), *want = malloc(sizeof(double) * (size_t)(ynum + 1));
    unsigned char *has = calloc((size_t)ynum + 1, 1);
    lay_case w = {.op = L_STRIDED};
    w.cs = (mlxn_copy_strided_params){.ndim = 3, .ne = {A, B, C}, .x_offset = (B - 1) * C,
                                      .x_stride = {B * C, -C, 1}, .y_offset = 2, .y_stride = {(B + 1) * (C + 3), C + 3, 1}};
    w.csp = &w.cs;
    w.x = t_buf_from(dev, tx, 1, &xnum, xv);
    w.y = zeros(dev, ty, 1, &ynum);
    int64_t ne4[4] = {1, A, B, C}, xs4[4] = {0, B * C, -C, 1}, ys4[4] = {0, (B + 1) * (C + 3), C + 3, 1};
    double *ones = malloc(sizeof(double) * (size_t)(xnum + 1)), *mark = calloc((size_t)ynum + 1, sizeof(double));
    for (int64_t i = 0; i < xnum; i++) ones[i] = 1.0;
    ref_copy_strided(xv, (B - 1) * C, xs4, want, 2, ys4, ne4);
    ref_copy_strided(ones, (B - 1) * C, xs4, mark, 2, ys4, ne4);
    for (int64_t i = 0; i < ynum; i++) has[i] = mark[i] != 0;
    round_all(want, ynum, ty);
    snprintf(name, sizeof name, "copy_strided walk [%lld][%lld][%lld] x reversed, y with gaps %s->%s seed=%llu", (long long)A,
             (long long)B, (long long)C, mlxn_type_name(tx), mlxn_type_name(ty), (unsigned long long)seed);
    if (w.x && w.y) lay_check(name, s, &w, want, has);
    mlxn_buffer_free(w.x), mlxn_buffer_free(w.y);
    free(xv), free(want), free(has), free(ones), free(mark);
}

static void bad(mlxn_status st, const char *op, const char *arg, const char *what) {
    CHECK(st == MLXN_ERR_INVALID_ARG && strstr(mlxn_last_error(), op) && strstr(mlxn_last_error(), arg),
          "%s %s: got %s (%s), want invalid argument naming %s", op, what, mlxn_status_str(st), mlxn_last_error(), arg);
}

static void lay_bad_args(mlxn_device *dev, mlxn_stream *s) {
    int64_t a34[2] = {3, 4}, a43[2] = {4, 3}, a35[2] = {3, 5}, a33[2] = {3, 3}, a234[3] = {2, 3, 4}, a324[3] = {3, 2, 4};
    int64_t a12 = 12, a27[2] = {2, 7};
    mlxn_buffer *x = zeros(dev, MLXN_TYPE_F32, 2, a34), *y43 = zeros(dev, MLXN_TYPE_F16, 2, a43);
    mlxn_buffer *y35 = zeros(dev, MLXN_TYPE_F32, 2, a35), *y33 = zeros(dev, MLXN_TYPE_F32, 2, a33);
    mlxn_buffer *x3 = zeros(dev, MLXN_TYPE_BF16, 3, a234), *y3 = zeros(dev, MLXN_TYPE_BF16, 3, a324);
    mlxn_buffer *xi = zeros(dev, MLXN_TYPE_I32, 2, a34), *y12 = zeros(dev, MLXN_TYPE_F32, 1, &a12);
    mlxn_buffer *y27 = zeros(dev, MLXN_TYPE_F32, 2, a27), *xv = NULL;
    mlxn_buffer_view(y12, 0, MLXN_TYPE_F32, 2, a34, &xv);
    bad(mlxn_transpose(NULL, x, y43, NULL), "transpose", "stream", "NULL stream");
    bad(mlxn_transpose(s, NULL, y43, NULL), "transpose", "x is NULL", "NULL x");
    bad(mlxn_transpose(s, x, y35, NULL), "transpose", "y [3, 5]", "wrong y shape");
    bad(mlxn_transpose(s, xi, y43, NULL), "transpose", "x is i32", "i32 x");
    bad(mlxn_transpose(s, xv, y12, NULL), "transpose", "y overlaps x", "overlap");
    mlxn_permute_params pp = {{0, 0, 1}};
    bad(mlxn_permute(s, x3, y3, &pp), "permute", "perm[1]=0", "repeated perm");
    pp = (mlxn_permute_params){{1, 2, 0}};
    bad(mlxn_permute(s, x3, y3, &pp), "permute", "perm[1]=2", "perm out of range");
    pp = (mlxn_permute_params){{0, 1, 0}};
    bad(mlxn_permute(s, x3, y3, &pp), "permute", "y has shape [3, 2, 4]", "y not permuted");
    mlxn_slice_params sp = {.begin = 2};
    bad(mlxn_slice(s, x, y33, &sp), "slice", "begin=2", "slice past the end");
    sp.begin = -1;
    bad(mlxn_slice(s, x, y33, &sp), "slice", "begin=-1", "negative begin");
    bad(mlxn_slice(s, x, y27, &sp), "slice", "y has shape [2, 7]", "slice rows differ");
    bad(mlxn_concat(s, x, y33, y35, NULL), "concat", "do not make y", "concat widths");
    bad(mlxn_concat(s, x, NULL, y35, NULL), "concat", "b is NULL", "NULL b");
    mlxn_copy_strided_params cs = {.ndim = 2, .ne = {3, 4}, .x_stride = {4, 1}, .y_stride = {4, 1}, .y_offset = 1};
    bad(mlxn_copy_strided(s, x, y12, &cs), "copy_strided", "over y reaches elements 1..12", "walk past y");
    cs.y_offset = 0, cs.x_offset = -1;
    bad(mlxn_copy_strided(s, x, y12, &cs), "copy_strided", "over x reaches elements -1..10", "walk before x");
    cs.x_offset = 0, cs.y_stride[0] = 2;
    bad(mlxn_copy_strided(s, x, y12, &cs), "copy_strided", "y_stride[0]=2 makes two elements", "y addresses shared");
    cs.y_stride[0] = 0, cs.ne[0] = 1, cs.y_stride[1] = -1, cs.y_offset = 3;
    bad(mlxn_copy_strided(s, x, y12, &cs), "copy_strided", "y_stride[1]=-1 is negative", "negative y stride");
    cs.ndim = 5;
    bad(mlxn_copy_strided(s, x, y12, &cs), "copy_strided", "ndim=5", "ndim 5");
    bad(mlxn_copy_strided(s, x, y35, NULL), "copy_strided", "x has 12 elements, y 15", "NULL walk, sizes differ");
    mlxn_buffer *bufs[] = {x, y43, y35, y33, x3, y3, xi, y12, y27, xv};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) mlxn_buffer_free(bufs[i]);
}

void t_ops_layout(mlxn_device *dev, mlxn_stream *s) {
    uint64_t seed = 7000;
    static const int64_t t2[][2] = {{1, 1}, {1, 7}, {7, 33}, {33, 7}, {111, 257}, {64, 64}, {8, 4096}};
    for (size_t k = 0; k < sizeof t2 / sizeof t2[0]; k++)
        for (int tx = 0; tx < 3; tx++)
            for (int ty = 0; ty < 3; ty++) run_transpose(dev, s, 2, t2[k], ftypes[tx], ftypes[ty], seed++);
    static const int64_t t3[] = {8, 128, 64}, t4[] = {2, 3, 17, 33}, big[] = {32, 4096, 128};
    for (int t = 0; t < 3; t++) {
        run_transpose(dev, s, 3, t3, ftypes[t], ftypes[(t + 1) % 3], seed++);
        run_transpose(dev, s, 4, t4, ftypes[t], ftypes[t], seed++);
    }
    run_transpose(dev, s, 3, big, MLXN_TYPE_F16, MLXN_TYPE_F16, seed++);
    run_transpose(dev, s, 3, big, MLXN_TYPE_F32, MLXN_TYPE_BF16, seed++);
    /* permutes of the leading dims: [S][H][D] <-> [H][S][D] and every order of three */
    static const int64_t p2[] = {7, 33}, p3[] = {33, 7, 64}, p3b[] = {4096, 32, 128}, p4[] = {3, 17, 5, 96};
    static const int perms3[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    static const int id1[3] = {0, 0, 0}, sw[3] = {1, 0, 0};
    for (int t = 0; t < 3; t++) {
        run_permute(dev, s, 2, p2, id1, ftypes[t], ftypes[(t + 2) % 3], seed++);
        for (int tt = 0; tt < 3; tt++) run_permute(dev, s, 3, p3, sw, ftypes[t], ftypes[tt], seed++);
    }
    for (int q = 0; q < 6; q++) run_permute(dev, s, 4, p4, perms3[q], ftypes[q % 3], ftypes[(q / 2) % 3], seed++);
    run_permute(dev, s, 3, p3b, sw, MLXN_TYPE_BF16, MLXN_TYPE_BF16, seed++);
    run_permute(dev, s, 3, p3b, sw, MLXN_TYPE_F32, MLXN_TYPE_F16, seed++);
    /* slice and concat on ragged widths, and a real split of a fused [M][q|k|v] row */
    static const int64_t sc[][3] = {{1, 1, 1}, {1, 7, 33}, {7, 33, 1}, {33, 111, 257}, {5, 64, 64}, {4096, 4096, 1024}};
    for (size_t k = 0; k < sizeof sc / sizeof sc[0]; k++)
        for (int t = 0; t < 3; t++)
            run_slice_concat(dev, s, sc[k][0], sc[k][1], sc[k][2], ftypes[t], ftypes[(t + (int)k) % 3],
                             ftypes[(t + 1) % 3], seed++);
    static const int64_t ns[] = {1, 7, 33, 111, 257, 16384, 100000}; /* long: split into rows on CUDA */
    for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
        for (int tx = 0; tx < 3; tx++)
            for (int ty = 0; ty < 3; ty++) run_strided(dev, s, ns[k], ftypes[tx], ftypes[ty], seed++);
    lay_bad_args(dev, s);
}
