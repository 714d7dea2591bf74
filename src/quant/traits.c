/* The type traits table (sizes from the GGML block layouts) and the public getters over it. */
#include <string.h>

#include "core/core.h"
#include "quant/traits.h"

#define ELEM(id, nm, bytes, gid, flt) \
    [id] = {.name = nm, .block_elems = 1, .block_bytes = bytes, .ggml_id = gid, .is_float = flt}
#define BLOCK(id, nm, elems, bytes) \
    [id] = {.name = nm, .block_elems = elems, .block_bytes = bytes, .ggml_id = (int32_t)id}

static const mlxn_type_traits table[MLXN_TYPE_COUNT] = {
    ELEM(MLXN_TYPE_F32, "f32", 4, 0, true),
    ELEM(MLXN_TYPE_F16, "f16", 2, 1, true),
    ELEM(MLXN_TYPE_BF16, "bf16", 2, 30, true),
    ELEM(MLXN_TYPE_F64, "f64", 8, 28, true),
    ELEM(MLXN_TYPE_I8, "i8", 1, 24, false),
    ELEM(MLXN_TYPE_I16, "i16", 2, 25, false),
    ELEM(MLXN_TYPE_I32, "i32", 4, 26, false),
    ELEM(MLXN_TYPE_I64, "i64", 8, 27, false),
    ELEM(MLXN_TYPE_U8, "u8", 1, -1, false),
    ELEM(MLXN_TYPE_U16, "u16", 2, -1, false),
    ELEM(MLXN_TYPE_U32, "u32", 4, -1, false),
    BLOCK(MLXN_TYPE_Q4_0, "q4_0", 32, 18),
    BLOCK(MLXN_TYPE_Q4_1, "q4_1", 32, 20),
    BLOCK(MLXN_TYPE_Q5_0, "q5_0", 32, 22),
    BLOCK(MLXN_TYPE_Q5_1, "q5_1", 32, 24),
    BLOCK(MLXN_TYPE_Q8_0, "q8_0", 32, 34),
    BLOCK(MLXN_TYPE_Q8_1, "q8_1", 32, 36),
    BLOCK(MLXN_TYPE_Q2_K, "q2_K", 256, 84),
    BLOCK(MLXN_TYPE_Q3_K, "q3_K", 256, 110),
    BLOCK(MLXN_TYPE_Q4_K, "q4_K", 256, 144),
    BLOCK(MLXN_TYPE_Q5_K, "q5_K", 256, 176),
    BLOCK(MLXN_TYPE_Q6_K, "q6_K", 256, 210),
    BLOCK(MLXN_TYPE_Q8_K, "q8_K", 256, 292),
    BLOCK(MLXN_TYPE_IQ2_XXS, "iq2_xxs", 256, 66),
    BLOCK(MLXN_TYPE_IQ2_XS, "iq2_xs", 256, 74),
    BLOCK(MLXN_TYPE_IQ3_XXS, "iq3_xxs", 256, 98),
    BLOCK(MLXN_TYPE_IQ1_S, "iq1_s", 256, 50),
    BLOCK(MLXN_TYPE_IQ4_NL, "iq4_nl", 32, 18),
    BLOCK(MLXN_TYPE_IQ3_S, "iq3_s", 256, 110),
    BLOCK(MLXN_TYPE_IQ2_S, "iq2_s", 256, 82),
    BLOCK(MLXN_TYPE_IQ4_XS, "iq4_xs", 256, 136),
    BLOCK(MLXN_TYPE_IQ1_M, "iq1_m", 256, 56),
    BLOCK(MLXN_TYPE_TQ1_0, "tq1_0", 256, 54),
    BLOCK(MLXN_TYPE_TQ2_0, "tq2_0", 256, 66),
    BLOCK(MLXN_TYPE_MXFP4, "mxfp4", 32, 17),
};

const mlxn_type_traits *mlxn_traits(mlxn_type t) {
    if ((unsigned)t >= MLXN_TYPE_COUNT || !table[t].name) return NULL;
    return &table[t];
}

bool mlxn_type_valid(mlxn_type t) { return mlxn_traits(t) != NULL; }

const char *mlxn_type_name(mlxn_type t) {
    const mlxn_type_traits *tr = mlxn_traits(t);
    return tr ? tr->name : "invalid";
}

int64_t mlxn_type_block_elems(mlxn_type t) {
    const mlxn_type_traits *tr = mlxn_traits(t);
    return tr ? tr->block_elems : 0;
}

size_t mlxn_type_block_bytes(mlxn_type t) {
    const mlxn_type_traits *tr = mlxn_traits(t);
    return tr ? tr->block_bytes : 0;
}

bool mlxn_type_is_quantized(mlxn_type t) {
    const mlxn_type_traits *tr = mlxn_traits(t);
    return tr && tr->block_elems > 1;
}

mlxn_status mlxn_type_from_ggml(uint32_t id, mlxn_type *out) {
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "type_from_ggml: out is NULL");
    for (int t = 0; t < MLXN_TYPE_COUNT; t++) {
        if (table[t].name && table[t].ggml_id >= 0 && (uint32_t)table[t].ggml_id == id) {
            *out = (mlxn_type)t;
            return MLXN_OK;
        }
    }
    return mlxn_err(MLXN_ERR_UNSUPPORTED, "type_from_ggml: GGML type id %u is not supported", id);
}

mlxn_status mlxn_type_to_ggml(mlxn_type t, uint32_t *out) {
    const mlxn_type_traits *tr = mlxn_traits(t);
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "type_to_ggml: out is NULL");
    if (!tr) return mlxn_err(MLXN_ERR_INVALID_ARG, "type_to_ggml: type %d is not valid", (int)t);
    if (tr->ggml_id < 0)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "type_to_ggml: %s has no GGML type id", tr->name);
    *out = (uint32_t)tr->ggml_id;
    return MLXN_OK;
}

size_t mlxn_row_bytes(mlxn_type t, int64_t n) {
    const mlxn_type_traits *tr = mlxn_traits(t);
    size_t bytes;
    if (!tr || n < 0 || n % tr->block_elems) return 0;
    if (!mlxn_mul_size((size_t)(n / tr->block_elems), tr->block_bytes, &bytes)) return 0;
    return bytes;
}

static mlxn_status row_check(const char *op, const mlxn_type_traits *tr, mlxn_type t,
                             const void *src, const void *dst, int64_t n) {
    if (!tr) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: type %d is not valid", op, (int)t);
    if (n < 0 || n % tr->block_elems)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: n=%lld is not a multiple of %s's block of %lld",
                        op, (long long)n, tr->name, (long long)tr->block_elems);
    if (n > 0 && (!src || !dst))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s is NULL", op, src ? "dst" : "src");
    return MLXN_OK;
}

mlxn_status mlxn_quantize_row(mlxn_type t, const float *src, void *dst, int64_t n) {
    const mlxn_type_traits *tr = mlxn_traits(t);
    mlxn_status st = row_check("quantize_row", tr, t, src, dst, n);
    if (st) return st;
    if (!tr->from_float)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "quantize_row: no quantizer for %s", tr->name);
    if (n) tr->from_float(src, dst, n);
    return MLXN_OK;
}

mlxn_status mlxn_dequantize_row(mlxn_type t, const void *src, float *dst, int64_t n) {
    const mlxn_type_traits *tr = mlxn_traits(t);
    mlxn_status st = row_check("dequantize_row", tr, t, src, dst, n);
    if (st) return st;
    if (!tr->to_float)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "dequantize_row: no dequantizer for %s", tr->name);
    if (n) tr->to_float(src, dst, n);
    return MLXN_OK;
}
