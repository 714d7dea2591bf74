#include <math.h>

#include "ref/ref.h"

/* The frequency of pair i and the position stream it reads, from the formulas in mlxn.h. */
static double pair_freq(const mlxn_rope_params *p, int64_t n_rot, int64_t i) {
    const double base = p->freq_base, factor = p->factor, ctx = (double)p->n_ctx_orig;
    const double f0 = pow(base, -2.0 * (double)i / (double)n_rot);
    double g = 1.0;
    if (p->scaling == MLXN_ROPE_SCALING_LINEAR) {
        g = 1.0 / factor;
    } else if (p->scaling == MLXN_ROPE_SCALING_YARN) {
        double c_fast = (double)n_rot * log(ctx / (2 * M_PI * p->beta_fast)) / (2 * log(base));
        double c_slow = (double)n_rot * log(ctx / (2 * M_PI * p->beta_slow)) / (2 * log(base));
        double lo = fmax(0.0, floor(c_fast)), hi = fmin((double)n_rot - 1, ceil(c_slow));
        double ramp = 1.0 - fmin(1.0, fmax(0.0, ((double)i - lo) / fmax(0.001, hi - lo)));
        double m = p->ext_factor * ramp;
        g = (1 - m) / factor + m;
    } else if (p->scaling == MLXN_ROPE_SCALING_LLAMA3) {
        double wavelen = 2 * M_PI / f0;
        if (wavelen < ctx / p->high_freq_factor) g = 1.0;
        else if (wavelen > ctx / p->low_freq_factor) g = 1.0 / factor;
        else {
            double s = (ctx / wavelen - p->low_freq_factor) / (p->high_freq_factor - p->low_freq_factor);
            g = (1 - s) / factor + s;
        }
    }
    return f0 * g;
}

static int pair_stream(const mlxn_rope_params *p, int64_t i) {
    const int32_t *s = p->sections;
    if (s[0] + s[1] + s[2] + s[3] == 0) return 0;
    if (p->interleaved) return i % 3 == 1 && i < 3 * s[1] ? 1 : i % 3 == 2 && i < 3 * s[2] ? 2 : 0;
    return i < s[0] ? 0 : i < s[0] + s[1] ? 1 : i < s[0] + s[1] + s[2] ? 2 : 3;
}

/* x: T rows of x_stride elements, heads [H][D] from column x_col; y [T][H][D]; pos [S][T];
 * ff NULL or [n_rot/2]. theta (NULL or [T][n_rot/2]) gets each pair's angle. */
void ref_rope(const double *x, int64_t T, int64_t H, int64_t D, int64_t x_stride, int64_t x_col, const int32_t *pos,
              const double *ff, const mlxn_rope_params *p, double *y, double *theta) {
    const int64_t n_rot = p->n_rot ? p->n_rot : D, half = n_rot / 2;
    double mscale = p->attn_factor;
    if (p->scaling == MLXN_ROPE_SCALING_YARN && p->ext_factor != 0) mscale *= 1 + 0.1 * log(p->factor);
    for (int64_t t = 0; t < T; t++)
        for (int64_t h = 0; h < H; h++) {
            const double *xh = x + t * x_stride + x_col + h * D;
            double *yh = y + (t * H + h) * D;
            for (int64_t i = n_rot; i < D; i++) yh[i] = xh[i];
            for (int64_t i = 0; i < half; i++) {
                double th = (double)pos[pair_stream(p, i) * T + t] * pair_freq(p, n_rot, i) / (ff ? ff[i] : 1.0);
                int64_t i0 = p->mode == MLXN_ROPE_NEOX ? i : 2 * i, i1 = p->mode == MLXN_ROPE_NEOX ? i + half : 2 * i + 1;
                yh[i0] = mscale * (xh[i0] * cos(th) - xh[i1] * sin(th));
                yh[i1] = mscale * (xh[i0] * sin(th) + xh[i1] * cos(th));
                if (theta && h == 0) theta[t * half + i] = th;
            }
        }
}
