#include <math.h>

#include "ref/ref.h"

/* ½(1 + tanh u) = 1 / (1 + e^−2u) and ½(1 + erf z) = ½·erfc(−z), exactly; these forms keep
 * double's relative accuracy where the gate is nearly closed (1 + tanh u cancels). */
static double gelu_tanh(double x) { return x / (1 + exp(-2 * sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }
static double gelu_erf(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
static double silu(double x) { return x / (1 + exp(-x)); }

/* y[i] = f(a[i], b[i]) for i < n; op as in mlxn_act_op (0 silu, 1 gelu tanh, 2 gelu erf,
 * 3 softcap, 4 swiglu, 5 geglu tanh, 6 geglu erf, 7 a·sigmoid(b)); b unused by 0..3. */
void ref_act(int op, const double *a, const double *b, int64_t n, double cap, double *y) {
    for (int64_t i = 0; i < n; i++) {
        double x = a[i];
        switch (op) {
        case 0: y[i] = silu(x); break;
        case 1: y[i] = gelu_tanh(x); break;
        case 2: y[i] = gelu_erf(x); break;
        case 3: y[i] = cap * tanh(x / cap); break;
        case 4: y[i] = silu(x) * b[i]; break;
        case 5: y[i] = gelu_tanh(x) * b[i]; break;
        case 6: y[i] = gelu_erf(x) * b[i]; break;
        default: y[i] = x / (1 + exp(-b[i])); break;
        }
    }
}
