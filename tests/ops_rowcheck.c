#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_rowcheck.h"

const mlxn_type rc_ftypes[3] = {MLXN_TYPE_F32, MLXN_TYPE_F16, MLXN_TYPE_BF16};

mlxn_buffer *rc_buf(mlxn_device *dev, mlxn_type t, int ndim, const int64_t *ne, double *vals, int off,
                    mlxn_buffer **owner) {
    *owner = NULL;
    if (!off) return t_buf_from(dev, t, ndim, ne, vals);
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= ne[d];
    int64_t big = n + off + 8;
    double *z = rc_alloc(big);
    *owner = t_buf_from(dev, t, 1, &big, z);
    free(z);
    mlxn_buffer *v = NULL;
    size_t es = t == MLXN_TYPE_F32 ? 4 : 2;
    if (!*owner || mlxn_buffer_view(*owner, es * (size_t)off, t, ndim, ne, &v) != MLXN_OK) {
        CHECK(0, "buffer_view: %s", mlxn_last_error());
        return NULL;
    }
    rc_write(v, vals);
    return v;
}

void rc_write(mlxn_buffer *b, double *vals) {
    int64_t ne[MLXN_MAX_DIMS];
    int nd = mlxn_buffer_ndim(b);
    for (int d = 0; d < nd; d++) ne[d] = mlxn_buffer_ne(b, d);
    mlxn_buffer *tmp = t_buf_from(mlxn_buffer_device(b), mlxn_buffer_type(b), nd, ne, vals);
    if (tmp && mlxn_buffer_copy(b, 0, tmp, 0, mlxn_buffer_bytes(tmp)) != MLXN_OK)
        CHECK(0, "buffer_copy: %s", mlxn_last_error());
    mlxn_buffer_free(tmp);
}

void rc_free(mlxn_buffer *b, mlxn_buffer *owner) {
    mlxn_buffer_free(b);
    mlxn_buffer_free(owner);
}

double *rc_alloc(int64_t n) { return calloc((size_t)n + 1, sizeof(double)); }

void rc_normal(t_rng *r, double *v, int64_t n, double mean, double sd) {
    for (int64_t i = 0; i < n; i++) v[i] = mean + sd * t_rng_normal(r);
}

double rc_tiny(mlxn_type t) { return t == MLXN_TYPE_F16 ? 0x1p-24 : t == MLXN_TYPE_BF16 ? 0x1p-133 : 0x1p-149; }

const char *rc_shape(char *out, size_t cap, int ndim, const int64_t *ne) {
    size_t k = 0;
    out[0] = 0;
    for (int d = 0; d < ndim && k < cap; d++) k += (size_t)snprintf(out + k, cap - k, d ? "x%lld" : "%lld", (long long)ne[d]);
    return out;
}

bool rc_bad(mlxn_status got, const char *expr, const char *file, int line, ...) {
    bool ok = t_check(got == MLXN_ERR_INVALID_ARG, file, line, "%s: got %s (%s), want invalid argument", expr,
                      mlxn_status_str(got), mlxn_last_error());
    va_list ap;
    va_start(ap, line);
    for (const char *needle; (needle = va_arg(ap, const char *));)
        ok &= t_check(strstr(mlxn_last_error(), needle) != NULL, file, line, "%s: message \"%s\" lacks \"%s\"", expr,
                      mlxn_last_error(), needle);
    va_end(ap);
    return ok;
}

void rc_track(rc_worst *w, const char *name, mlxn_type ty, const double *got, const double *ref, const double *bound,
              int64_t n) {
    if (ty != MLXN_TYPE_F32) return;
    for (int64_t i = 0; i < n; i++) {
        /* results near f32's subnormals are all output rounding: not what the ratio is for */
        double r = bound[i] > 0 && fabs(ref[i]) > 0x1p-100 ? fabs(got[i] - ref[i]) / bound[i] : 0;
        if (r > w->ratio) {
            w->ratio = r;
            snprintf(w->where, sizeof w->where, "%s", name);
        }
    }
}

void rc_report(const char *family, const rc_worst *w) {
    printf("%s: worst error / bound over f32 outputs = %.3g (%s)\n", family, w->ratio, w->where);
}
