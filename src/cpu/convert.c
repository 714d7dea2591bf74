/* CPU convert: rows split over the thread pool; each row goes through an f32 scratch row
 * (x's reference dequantizer, then y's reference quantizer). */
#include <stdlib.h>

#include "cpu/cpu.h"
#include "quant/traits.h"

#define SCRATCH_ELEMS 8192 /* rows longer than this are converted in slices of whole blocks */

static void convert_range(void *ctx, int64_t begin, int64_t end, int worker) {
    const mlxn_convert_args *a = ctx;
    const mlxn_type_traits *tx = mlxn_traits(a->tx), *ty = mlxn_traits(a->ty);
    /* a slice length that is a multiple of both blocks (each a power of two up to 256) */
    int64_t blk = tx->block_elems > ty->block_elems ? tx->block_elems : ty->block_elems;
    int64_t slice = a->row_elems < SCRATCH_ELEMS ? a->row_elems : SCRATCH_ELEMS / blk * blk;
    float buf[SCRATCH_ELEMS];
    for (int64_t r = begin; r < end; r++) {
        const char *xr = (const char *)a->x + (size_t)r * a->x_row_bytes;
        char *yr = (char *)a->y + (size_t)r * a->y_row_bytes;
        for (int64_t j = 0; j < a->row_elems; j += slice) {
            int64_t n = a->row_elems - j < slice ? a->row_elems - j : slice;
            tx->to_float(xr + (size_t)(j / tx->block_elems) * tx->block_bytes, buf, n);
            ty->from_float(buf, yr + (size_t)(j / ty->block_elems) * ty->block_bytes, n);
        }
    }
}

static void convert_run(cpu_device *dev, const void *args) {
    const mlxn_convert_args *a = args;
    int64_t grain = a->row_elems >= 4096 ? 1 : 4096 / a->row_elems;
    mlxn_parallel_for(dev->tp, a->rows, grain, convert_range, (void *)a);
}

mlxn_status mlxn_cpu_convert(void *stream, const mlxn_convert_args *a) {
    return mlxn_cpu_submit(stream, convert_run, a, sizeof *a);
}
