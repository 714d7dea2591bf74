/* Helpers shared by the row-op cases (norm, rope, softmax, act): buffers at element offsets
 * (device pointers that lose 16-byte alignment), bounds' building blocks, and bad-input
 * checks that look at the message. */
#ifndef MLXN_TEST_OPS_ROWCHECK_H
#define MLXN_TEST_OPS_ROWCHECK_H

#include <stdbool.h>
#include "opcheck.h"

#define RC_U 0x1p-24 /* f32 unit roundoff */

extern const mlxn_type rc_ftypes[3]; /* F32, F16, BF16 */

/* A buffer of type t and shape ne holding vals, rounded in place as t_buf_from does. With
 * off > 0 it is a view starting off elements into a larger buffer, which *owner receives
 * (free both with rc_free). */
mlxn_buffer *rc_buf(mlxn_device *dev, mlxn_type t, int ndim, const int64_t *ne, double *vals, int off,
                    mlxn_buffer **owner);
void rc_free(mlxn_buffer *b, mlxn_buffer *owner);
/* Overwrites b (same type and shape as when made) with vals, rounded. */
void rc_write(mlxn_buffer *b, double *vals);
/* n doubles (n may be 0), zeroed. */
double *rc_alloc(int64_t n);
void rc_normal(t_rng *r, double *v, int64_t n, double mean, double sd);
/* The absolute error a result of type t may carry near zero: its subnormal spacing. */
double rc_tiny(mlxn_type t);
/* "2x3x4" */
const char *rc_shape(char *out, size_t cap, int ndim, const int64_t *ne);

/* The worst |got − ref| / bound seen over f32 outputs of magnitude > 2^-100 (in f16/bf16,
 * and near f32's subnormals, the output's own rounding is most of the bound), reported once
 * per family. */
typedef struct rc_worst {
    double ratio;
    char where[160];
} rc_worst;
void rc_track(rc_worst *w, const char *name, mlxn_type ty, const double *got, const double *ref, const double *bound,
              int64_t n);
void rc_report(const char *family, const rc_worst *w);

/* call must return MLXN_ERR_INVALID_ARG with a message containing every needle given. */
#define RC_BAD(call, ...) rc_bad((call), #call, __FILE__, __LINE__, __VA_ARGS__, (const char *)0)
bool rc_bad(mlxn_status got, const char *expr, const char *file, int line, ...);

#endif
