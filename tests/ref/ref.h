/* The float64 oracle: every op computed in double with scalar loops, from the same
 * (device-precision) inputs the backends get. Tests only. */
#ifndef MLXN_TEST_REF_H
#define MLXN_TEST_REF_H

#include <stdint.h>
#include "mlxn.h"

/* x rounded to nearest even in a float type (F32, F16, BF16): overflow to ±inf, subnormals
 * kept. Computed with frexp/ldexp/nearbyint, independent of the library's conversions. */
double ref_round(double x, mlxn_type t);
/* Unit roundoff of a float type: 2^-24 (f32), 2^-11 (f16), 2^-8 (bf16). */
double ref_eps(mlxn_type t);

/* Elementwise: y[i] = f(a[i], b[i mod nb]) · scale + bias, with f = copy (b NULL), add or mul
 * (op as in mlxn_eltwise_op: 0 copy, 1 add, 2 mul). v[i] = f(a, b) before the affine step. */
void ref_eltwise(int op, const double *a, const double *b, int64_t n, int64_t nb, double scale, double bias,
                 double *v, double *y);

/* Attention: q [hq][m][d], k/v [hkv][lcap][d] (rows 0..L-1 valid), mask [m][lcap] or NULL,
 * sinks [hq] or NULL; o [hq][m][d]. Query i sits at position L - m + i. */
void ref_attention(const double *q, const double *k, const double *v, const double *mask, const double *sinks,
                   double *o, int64_t hq, int64_t hkv, int64_t m, int64_t lcap, int64_t L, int64_t d, double scale,
                   double softcap, int causal, int64_t window);

#endif
