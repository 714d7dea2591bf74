/* Oracle of the KV cache append. */
#include "ref/ref.h"

/* cache [h][l][d] updated in place from x [m][h·d] in row order (a later row overwrites an
 * earlier one in the same slot); a negative position, or one >= l without ring, is skipped.
 * written [h][l] (or NULL) is set to 1 where a row was stored. */
void ref_kv_append(const double *x, const int32_t *pos, int64_t m, int64_t h, int64_t l, int64_t d, int ring,
                   double *cache, unsigned char *written) {
    for (int64_t i = 0; i < m; i++) {
        if (pos[i] < 0 || (!ring && pos[i] >= l)) continue;
        int64_t slot = ring ? pos[i] % l : pos[i];
        for (int64_t hh = 0; hh < h; hh++) {
            for (int64_t e = 0; e < d; e++) cache[(hh * l + slot) * d + e] = x[(i * h + hh) * d + e];
            if (written) written[hh * l + slot] = 1;
        }
    }
}
