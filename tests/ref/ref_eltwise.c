#include <math.h>

#include "ref/ref.h"

double ref_round(double x, mlxn_type t) {
    int mant; /* significand bits, the implicit one included */
    int emin; /* exponent of the smallest normal */
    double max;
    switch (t) {
    case MLXN_TYPE_F16: mant = 11, emin = -14, max = 65504.0; break;
    case MLXN_TYPE_BF16: mant = 8, emin = -126, max = 0x1.fep127; break;
    default: mant = 24, emin = -126, max = 0x1.fffffep127; break;
    }
    if (x != x || isinf(x) || x == 0) return x;
    int e;
    frexp(x, &e); /* x = f · 2^e, 0.5 <= |f| < 1 */
    int q = (e - 1 < emin ? emin : e - 1) - (mant - 1); /* exponent of the last kept bit */
    double r = ldexp(nearbyint(ldexp(x, -q)), q);      /* round half to even */
    if (fabs(r) > max) return x > 0 ? INFINITY : -INFINITY;
    return r;
}

double ref_eps(mlxn_type t) {
    return t == MLXN_TYPE_F16 ? 0x1p-11 : t == MLXN_TYPE_BF16 ? 0x1p-8 : 0x1p-24;
}

void ref_eltwise(int op, const double *a, const double *b, int64_t n, int64_t nb, double scale, double bias,
                 double *v, double *y) {
    for (int64_t i = 0; i < n; i++) {
        double bv = op ? b[i % nb] : 0.0;
        v[i] = op == 1 ? a[i] + bv : op == 2 ? a[i] * bv : a[i];
        y[i] = v[i] * scale + bias;
    }
}
