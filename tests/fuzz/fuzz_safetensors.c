/* libFuzzer harness: the safetensors parser over arbitrary bytes, then the getters and
 * the MLX weight grouping over what it accepted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlxn.h"

static mlxn_mlx_config *cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!cfg) {
        static const char js[] = "{\"quantization\": {\"group_size\": 32, \"bits\": 4,"
                                 " \"b\": {\"bits\": 3, \"group_size\": 32}, \"c\": false}}";
        if (mlxn_mlx_config_parse(js, sizeof js - 1, &cfg) != MLXN_OK) abort();
    }
    mlxn_safetensors *st = NULL;
    if (mlxn_safetensors_open_memory(data, size, &st) != MLXN_OK) return 0;
    for (uint64_t i = 0; i < mlxn_safetensors_tensor_count(st); i++) {
        mlxn_tensor_info ti;
        if (mlxn_safetensors_tensor_info(st, i, &ti) != MLXN_OK) abort();
        if (mlxn_safetensors_find_tensor(st, ti.name) != (int64_t)i) abort();
        const unsigned char *p = mlxn_safetensors_tensor_data(st, i);
        if (ti.bytes) {
            volatile unsigned char sink = p[0] ^ p[ti.bytes - 1];
            (void)sink;
        }
        /* Try each "<module>.weight" as an MLX weight and dequantize a few rows. */
        size_t n = strlen(ti.name);
        if (n > 7 && n < 200 && !strcmp(ti.name + n - 7, ".weight")) {
            char module[200];
            memcpy(module, ti.name, n - 7);
            module[n - 7] = 0;
            mlxn_mlx_weight w;
            if (mlxn_mlx_weight_find(st, cfg, module, &w) == MLXN_OK && w.ne[w.ndim - 1] <= 4096) {
                float row[4096];
                for (int64_t r = 0; r < 3; r++) mlxn_mlx_dequantize_row(st, &w, r, row);
            }
        }
    }
    for (uint64_t i = 0; i < mlxn_safetensors_meta_count(st); i++)
        if (!mlxn_safetensors_meta_get(st, mlxn_safetensors_meta_key(st, i))) abort();
    mlxn_safetensors_close(st);
    return 0;
}
