/* Helpers for op tests: buffers from float data rounded to the device type, outputs
 * poisoned and read back as double, eager-vs-replay runs, and the comparison against the
 * float64 oracle. */
#ifndef MLXN_TEST_OPCHECK_H
#define MLXN_TEST_OPCHECK_H

#include <stdbool.h>
#include "harness.h"

/* Opens the backend named by argv ("cpu" or "cuda"). Returns 0 and sets *dev, or the exit
 * code (77 skipped when the backend has no device here). */
int t_open_backend(const char *name, mlxn_device **dev);

/* A buffer of a float type holding vals (n = product of ne) rounded to the type; vals is
 * overwritten with the rounded values so the oracle sees what the device sees. */
mlxn_buffer *t_buf_from(mlxn_device *dev, mlxn_type t, int ndim, const int64_t *ne, double *vals);
/* Reads a float-type buffer (or a byte range of one) into doubles. */
bool t_buf_read(const mlxn_buffer *b, double *out);
/* Fills every byte with 0xff: NaN in f32, f16 and bf16. */
void t_poison(mlxn_buffer *b);

/* Runs op(s, ctx) eagerly, then recorded into a graph and replayed, each time on a poisoned
 * `out` after prep(ctx) (NULL: none) has restored the inputs (in-place ops overwrite
 * them). Returns false (with a FAIL printed) if either run fails or the replay's bytes
 * differ from eager; `eager` gets the result as doubles. */
typedef mlxn_status (*t_op_fn)(mlxn_stream *s, void *ctx);
typedef void (*t_prep_fn)(void *ctx);
bool t_run_eager_and_replay(const char *name, mlxn_stream *s, t_prep_fn prep, t_op_fn op, void *ctx,
                            mlxn_buffer *out, double *eager);

/* Elementwise comparison: every |got - ref| <= bound[i] (NaN fails); prints the worst index.
 * Counts one check. */
bool t_check_bound(const char *name, const double *got, const double *ref, const double *bound, int64_t n);

#endif
