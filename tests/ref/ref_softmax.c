#include <math.h>

#include "ref/ref.h"

/* x, y [rows][n]; mask NULL or [mask_rows][n], row r using mask row r % mask_rows.
 * v (NULL or [rows][n]) gets the values softmax is taken of. */
void ref_softmax(const double *x, const double *mask, int64_t rows, int64_t n, int64_t mask_rows, double scale,
                 double softcap, double *y, double *v) {
    for (int64_t r = 0; r < rows; r++) {
        const double *xr = x + r * n;
        double *yr = y + r * n, mx = -INFINITY, sum = 0;
        for (int64_t i = 0; i < n; i++) {
            double t = xr[i] * scale;
            if (softcap > 0) t = softcap * tanh(t / softcap);
            if (mask) t += mask[(r % mask_rows) * n + i];
            yr[i] = t;
            if (v) v[r * n + i] = t;
            mx = fmax(mx, t);
        }
        for (int64_t i = 0; i < n; i++) sum += mx == -INFINITY ? 0.0 : exp(yr[i] - mx);
        for (int64_t i = 0; i < n; i++) yr[i] = sum > 0 ? exp(yr[i] - mx) / sum : 0.0;
    }
}
