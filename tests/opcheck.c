#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "opcheck.h"
#include "ref/ref.h"

int t_open_backend(const char *name, mlxn_device **dev) {
    mlxn_backend b = !strcmp(name, "cuda") ? MLXN_BACKEND_CUDA : MLXN_BACKEND_CPU;
    if (b == MLXN_BACKEND_CUDA) {
        int n = 0;
        mlxn_device_count(b, &n);
        if (n == 0) {
            t_skip("cuda: no CUDA device here (%s)", mlxn_last_error());
            return 77;
        }
    }
    if (mlxn_device_open(b, 0, dev) != MLXN_OK) {
        CHECK(0, "device_open(%s): %s", name, mlxn_last_error());
        return 1;
    }
    return 0;
}

static size_t elem_bytes(mlxn_type t) { return t == MLXN_TYPE_F32 ? 4 : 2; }

mlxn_buffer *t_buf_from(mlxn_device *dev, mlxn_type t, int ndim, const int64_t *ne, double *vals) {
    mlxn_buffer *b = NULL;
    if (mlxn_buffer_alloc(dev, t, ndim, ne, &b) != MLXN_OK) {
        CHECK(0, "buffer_alloc: %s", mlxn_last_error());
        return NULL;
    }
    int64_t n = mlxn_buffer_nelements(b);
    unsigned char *raw = malloc((size_t)n * elem_bytes(t) + 1);
    for (int64_t i = 0; i < n; i++) {
        vals[i] = ref_round(vals[i], t);
        float f = (float)vals[i];
        if (t == MLXN_TYPE_F32) {
            memcpy(raw + 4 * i, &f, 4);
        } else {
            uint32_t u;
            memcpy(&u, &f, 4);
            uint16_t h;
            if (t == MLXN_TYPE_BF16) {
                h = (uint16_t)(u >> 16); /* exact: vals is already a bf16 value */
            } else {                     /* exact f16 encoding of an f16 value */
                int e;
                double m = frexp(fabs(vals[i]), &e);
                uint16_t sign = vals[i] < 0 || (vals[i] == 0 && signbit(vals[i])) ? 0x8000 : 0;
                if (vals[i] == 0) h = sign;
                else if (isinf(vals[i])) h = (uint16_t)(sign | 0x7c00);
                else if (isnan(vals[i])) h = 0x7e00;
                else if (e - 1 < -14) h = (uint16_t)(sign | (uint16_t)ldexp(fabs(vals[i]), 24));
                else h = (uint16_t)(sign | (uint16_t)((e - 1 + 15) << 10) | (uint16_t)(ldexp(m, 11) - 1024));
            }
            memcpy(raw + 2 * i, &h, 2);
        }
    }
    if (mlxn_buffer_write(b, 0, raw, (size_t)n * elem_bytes(t)) != MLXN_OK) CHECK(0, "buffer_write: %s", mlxn_last_error());
    free(raw);
    return b;
}

static double f16_value(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return h & 0x8000 ? -v : v;
}

bool t_buf_read(const mlxn_buffer *b, double *out) {
    mlxn_type t = mlxn_buffer_type(b);
    int64_t n = mlxn_buffer_nelements(b);
    size_t bytes = mlxn_buffer_bytes(b);
    unsigned char *raw = malloc(bytes + 1);
    bool ok = mlxn_buffer_read(b, 0, raw, bytes) == MLXN_OK;
    if (!ok) CHECK(0, "buffer_read: %s", mlxn_last_error());
    for (int64_t i = 0; ok && i < n; i++) {
        if (t == MLXN_TYPE_F32) {
            float f;
            memcpy(&f, raw + 4 * i, 4);
            out[i] = f;
        } else {
            uint16_t h;
            memcpy(&h, raw + 2 * i, 2);
            if (t == MLXN_TYPE_BF16) {
                uint32_t u = (uint32_t)h << 16;
                float f;
                memcpy(&f, &u, 4);
                out[i] = f;
            } else {
                out[i] = f16_value(h);
            }
        }
    }
    free(raw);
    return ok;
}

void t_poison(mlxn_buffer *b) {
    unsigned char ff = 0xff;
    if (mlxn_buffer_fill(b, &ff, 1) != MLXN_OK) CHECK(0, "buffer_fill: %s", mlxn_last_error());
}

bool t_run_eager_and_replay(const char *name, mlxn_stream *s, t_prep_fn prep, t_op_fn op, void *ctx,
                            mlxn_buffer *out, double *eager) {
    size_t bytes = mlxn_buffer_bytes(out);
    unsigned char *e = malloc(bytes + 1), *r = malloc(bytes + 1);
    mlxn_graph *g = NULL;
    bool ok = false;
    mlxn_status st;
    t_poison(out);
    if (prep) prep(ctx);
    if ((st = op(s, ctx)) || (st = mlxn_stream_sync(s)) || (st = mlxn_buffer_read(out, 0, e, bytes))) {
        CHECK(0, "%s: eager run: %s: %s", name, mlxn_status_str(st), mlxn_last_error());
        goto done;
    }
    t_poison(out);
    if (prep) prep(ctx);
    if ((st = mlxn_graph_begin(s)) || (st = op(s, ctx))) {
        mlxn_graph_end(s, &g);
        CHECK(0, "%s: recording: %s: %s", name, mlxn_status_str(st), mlxn_last_error());
        goto done;
    }
    if ((st = mlxn_graph_end(s, &g)) || (st = mlxn_graph_replay(s, g)) || (st = mlxn_stream_sync(s)) ||
        (st = mlxn_buffer_read(out, 0, r, bytes))) {
        CHECK(0, "%s: replay: %s: %s", name, mlxn_status_str(st), mlxn_last_error());
        goto done;
    }
    ok = memcmp(e, r, bytes) == 0;
    CHECK(ok, "%s: replayed result differs from eager", name);
    t_buf_read(out, eager); /* the eager bytes equal the replayed ones now in `out` */
done:
    mlxn_graph_destroy(g);
    free(e);
    free(r);
    return ok;
}

bool t_check_bound(const char *name, const double *got, const double *ref, const double *bound, int64_t n) {
    int64_t worst = -1, bad = 0;
    double worst_ratio = 0;
    for (int64_t i = 0; i < n; i++) {
        double err = fabs(got[i] - ref[i]);
        bool fail = !(err <= bound[i]) && !(got[i] == ref[i]); /* NaN fails; equal infinities pass */
        double ratio = bound[i] > 0 ? err / bound[i] : (err > 0 ? INFINITY : 0);
        if (fail) bad++;
        if (fail && (worst < 0 || ratio > worst_ratio || ratio != ratio)) worst = i, worst_ratio = ratio;
    }
    CHECK(bad == 0, "%s: %lld of %lld elements out of bound; worst [%lld] got %.9g want %.9g bound %.3g", name,
          (long long)bad, (long long)n, (long long)(worst < 0 ? 0 : worst), worst < 0 ? 0 : got[worst],
          worst < 0 ? 0 : ref[worst], worst < 0 ? 0 : bound[worst]);
    return bad == 0;
}
