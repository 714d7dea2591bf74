/* Oracle of the rows family (get_rows): a plain loop over the definition in mlxn.h. */
#include "ref/ref.h"

/* table [n_rows][k] (dequantized), ids [n]; y [n][k]. An id outside the table gives zeros. */
void ref_get_rows(const double *table, int64_t n_rows, int64_t k, const int32_t *ids, int64_t n, double scale,
                  double *y) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++)
            y[i * k + j] = ids[i] >= 0 && ids[i] < n_rows ? table[ids[i] * k + j] * scale : 0.0;
}
