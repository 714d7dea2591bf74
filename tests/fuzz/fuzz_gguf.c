/* libFuzzer harness: the GGUF parser over arbitrary bytes, then every getter over what
 * it accepted. Small limits keep each input fast; the defaults are exercised too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mlxn.h"

static void walk(const mlxn_gguf *g) {
    for (uint64_t i = 0; i < mlxn_gguf_kv_count(g); i++) {
        const char *key = mlxn_gguf_kv_key(g, i);
        uint32_t u32;
        uint64_t u64, n;
        int64_t i64;
        double f;
        bool b;
        const char *s;
        size_t len;
        mlxn_gguf_vtype et;
        const void *data;
        if (mlxn_gguf_find_key(g, key) != (int64_t)i) abort();
        mlxn_gguf_get_u32(g, key, &u32);
        mlxn_gguf_get_u64(g, key, &u64);
        mlxn_gguf_get_i64(g, key, &i64);
        mlxn_gguf_get_f64(g, key, &f);
        mlxn_gguf_get_bool(g, key, &b);
        mlxn_gguf_get_str(g, key, &s, &len);
        if (mlxn_gguf_get_arr(g, key, &et, &n, &data) == MLXN_OK) {
            volatile unsigned char sink = 0;
            if (et == MLXN_GGUF_STRING) {
                for (uint64_t j = 0; j < n && j < 64; j++)
                    if (mlxn_gguf_get_arr_str(g, key, j, &s, &len) == MLXN_OK && len) sink ^= (unsigned char)s[len - 1];
            } else if (n) {
                sink ^= ((const unsigned char *)data)[0];
            }
            (void)sink;
        }
    }
    for (uint64_t i = 0; i < mlxn_gguf_tensor_count(g); i++) {
        mlxn_tensor_info ti;
        if (mlxn_gguf_tensor_info(g, i, &ti) != MLXN_OK) abort();
        if (mlxn_gguf_find_tensor(g, ti.name) != (int64_t)i) abort();
        const unsigned char *p = mlxn_gguf_tensor_data(g, i);
        if (ti.bytes) {
            volatile unsigned char sink = p[0] ^ p[ti.bytes - 1];
            (void)sink;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mlxn_gguf_limits lim;
    mlxn_gguf_limits_init(&lim);
    lim.max_string = 4096;
    lim.max_array = 4096;
    lim.max_kv = 256;
    lim.max_tensors = 256;
    mlxn_gguf *g = NULL;
    if (mlxn_gguf_open_memory(data, size, &lim, &g) == MLXN_OK) walk(g);
    mlxn_gguf_close(g);
    if (size < 4096 && mlxn_gguf_open_memory(data, size, NULL, &g) == MLXN_OK) {
        walk(g);
        mlxn_gguf_close(g);
    }
    return 0;
}
