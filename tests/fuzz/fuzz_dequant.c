/* libFuzzer harness: reference dequantization of arbitrary bytes for every type with a
 * dequantizer. The first byte picks the type; the rest are whole blocks. Non-finite
 * outputs are allowed (random scales), out-of-bounds reads and undefined behaviour not. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlxn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static float out[4096 * 8];
    if (size < 1) return 0;
    mlxn_type t = (mlxn_type)(data[0] % MLXN_TYPE_COUNT);
    if (!mlxn_type_valid(t)) return 0;
    int64_t be = mlxn_type_block_elems(t);
    size_t bb = mlxn_type_block_bytes(t);
    size_t blocks = (size - 1) / bb;
    if ((int64_t)blocks * be > (int64_t)(sizeof out / sizeof out[0])) blocks = sizeof out / sizeof out[0] / (size_t)be;
    /* A heap copy of exactly the blocks, so ASan sees any read past them. */
    size_t n = blocks * bb;
    uint8_t *src = malloc(n ? n : 1);
    if (!src) return 0;
    if (n) memcpy(src, data + 1, n);
    mlxn_status st = mlxn_dequantize_row(t, src, out, (int64_t)blocks * be);
    if (st != MLXN_OK && st != MLXN_ERR_UNSUPPORTED) abort();
    free(src);
    return 0;
}
