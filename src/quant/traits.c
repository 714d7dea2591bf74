/* The type traits table (sizes from the GGML block layouts in blocks.h) and the public
 * getters over it. */
#include <string.h>

#include "core/core.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant/traits.h"

/* The last argument names the reference row functions (quant.h): ROW both ways, DEQ
 * dequantization only, NONE neither. */
#define ELEM(id, nm, bytes, gid, flt, fns)                                                  \
    [id] = {.name = nm, .block_elems = 1, .block_bytes = bytes, .ggml_id = gid, .is_float = flt, \
            fns}
#define BLOCK(id, nm, qk, t, fns)                                                      \
    [id] = {.name = nm, .block_elems = qk, .block_bytes = sizeof(mlxn_block_##t), \
            .ggml_id = (int32_t)id, fns}
#define ROW(t) .to_float = mlxn_##t##_to_float, .from_float = mlxn_##t##_from_float
#define DEQ(t) .to_float = mlxn_##t##_to_float
#define NONE .to_float = NULL

static const mlxn_type_traits table[MLXN_TYPE_COUNT] = {
    ELEM(MLXN_TYPE_F32, "f32", 4, 0, true, ROW(f32)),
    ELEM(MLXN_TYPE_F16, "f16", 2, 1, true, ROW(f16)),
    ELEM(MLXN_TYPE_BF16, "bf16", 2, 30, true, ROW(bf16)),
    ELEM(MLXN_TYPE_F64, "f64", 8, 28, true, ROW(f64)),
    ELEM(MLXN_TYPE_I8, "i8", 1, 24, false, NONE),
    ELEM(MLXN_TYPE_I16, "i16", 2, 25, false, NONE),
    ELEM(MLXN_TYPE_I32, "i32", 4, 26, false, NONE),
    ELEM(MLXN_TYPE_I64, "i64", 8, 27, false, NONE),
    ELEM(MLXN_TYPE_U8, "u8", 1, -1, false, NONE),
    ELEM(MLXN_TYPE_U16, "u16", 2, -1, false, NONE),
    ELEM(MLXN_TYPE_U32, "u32", 4, -1, false, NONE),
    BLOCK(MLXN_TYPE_Q4_0, "q4_0", MLXN_QK4_0, q4_0, ROW(q4_0)),
    BLOCK(MLXN_TYPE_Q4_1, "q4_1", MLXN_QK4_1, q4_1, ROW(q4_1)),
    BLOCK(MLXN_TYPE_Q5_0, "q5_0", MLXN_QK5_0, q5_0, ROW(q5_0)),
    BLOCK(MLXN_TYPE_Q5_1, "q5_1", MLXN_QK5_1, q5_1, ROW(q5_1)),
    BLOCK(MLXN_TYPE_Q8_0, "q8_0", MLXN_QK8_0, q8_0, ROW(q8_0)),
    BLOCK(MLXN_TYPE_Q8_1, "q8_1", MLXN_QK8_1, q8_1, ROW(q8_1)),
    BLOCK(MLXN_TYPE_Q2_K, "q2_K", MLXN_QK_K, q2_K, ROW(q2_K)),
    BLOCK(MLXN_TYPE_Q3_K, "q3_K", MLXN_QK_K, q3_K, ROW(q3_K)),
    BLOCK(MLXN_TYPE_Q4_K, "q4_K", MLXN_QK_K, q4_K, ROW(q4_K)),
    BLOCK(MLXN_TYPE_Q5_K, "q5_K", MLXN_QK_K, q5_K, ROW(q5_K)),
    BLOCK(MLXN_TYPE_Q6_K, "q6_K", MLXN_QK_K, q6_K, ROW(q6_K)),
    BLOCK(MLXN_TYPE_Q8_K, "q8_K", MLXN_QK_K, q8_K, ROW(q8_K)),
    BLOCK(MLXN_TYPE_IQ2_XXS, "iq2_xxs", MLXN_QK_K, iq2_xxs, DEQ(iq2_xxs)),
    BLOCK(MLXN_TYPE_IQ2_XS, "iq2_xs", MLXN_QK_K, iq2_xs, DEQ(iq2_xs)),
    BLOCK(MLXN_TYPE_IQ3_XXS, "iq3_xxs", MLXN_QK_K, iq3_xxs, DEQ(iq3_xxs)),
    BLOCK(MLXN_TYPE_IQ1_S, "iq1_s", MLXN_QK_K, iq1_s, DEQ(iq1_s)),
    BLOCK(MLXN_TYPE_IQ4_NL, "iq4_nl", MLXN_QK4_NL, iq4_nl, ROW(iq4_nl)),
    BLOCK(MLXN_TYPE_IQ3_S, "iq3_s", MLXN_QK_K, iq3_s, DEQ(iq3_s)),
    BLOCK(MLXN_TYPE_IQ2_S, "iq2_s", MLXN_QK_K, iq2_s, DEQ(iq2_s)),
    BLOCK(MLXN_TYPE_IQ4_XS, "iq4_xs", MLXN_QK_K, iq4_xs, ROW(iq4_xs)),
    BLOCK(MLXN_TYPE_IQ1_M, "iq1_m", MLXN_QK_K, iq1_m, DEQ(iq1_m)),
    BLOCK(MLXN_TYPE_TQ1_0, "tq1_0", MLXN_QK_K, tq1_0, ROW(tq1_0)),
    BLOCK(MLXN_TYPE_TQ2_0, "tq2_0", MLXN_QK_K, tq2_0, ROW(tq2_0)),
    BLOCK(MLXN_TYPE_MXFP4, "mxfp4", MLXN_QK_MXFP4, mxfp4, ROW(mxfp4)),
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
