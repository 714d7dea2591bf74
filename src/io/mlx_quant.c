/* MLX affine quantization: the "quantization" entry of a model's config.json, grouping of
 * <module>.weight / .scales / .biases in a safetensors file, and reference dequantization
 * of one row (q · scale + bias per group, values packed lowest bits first). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "io/safetensors.h"
#include "quant/half.h"

typedef struct mlx_override {
    char *module;
    int bits, group_size; /* 0, 0: kept in float */
} mlx_override;

struct mlxn_mlx_config {
    int bits, group_size; /* defaults; 0, 0 when the model is not quantized */
    mlx_override *over;
    size_t n_over;
};

static bool valid_bits(json_int_t b) { return b == 2 || b == 3 || b == 4 || b == 5 || b == 6 || b == 8; }
static bool valid_group(json_int_t g) { return g == 32 || g == 64 || g == 128; }

/* bits and group_size of a {"bits": b, "group_size": g} object; missing fields keep *bits
 * and *group. */
static mlxn_status read_pair(json_t *o, const char *where, int *bits, int *group) {
    json_t *b = json_object_get(o, "bits"), *g = json_object_get(o, "group_size");
    if (b) {
        if (!json_is_integer(b) || !valid_bits(json_integer_value(b)))
            return mlxn_err(MLXN_ERR_FORMAT, "mlx_config: %s: bits must be 2, 3, 4, 5, 6 or 8", where);
        *bits = (int)json_integer_value(b);
    }
    if (g) {
        if (!json_is_integer(g) || !valid_group(json_integer_value(g)))
            return mlxn_err(MLXN_ERR_FORMAT, "mlx_config: %s: group_size must be 32, 64 or 128", where);
        *group = (int)json_integer_value(g);
    }
    return MLXN_OK;
}

static mlxn_status parse_quant(mlxn_mlx_config *c, json_t *q) {
    if (!json_is_object(q)) return mlxn_err(MLXN_ERR_FORMAT, "mlx_config: \"quantization\" is not an object");
    json_t *mode = json_object_get(q, "mode");
    if (mode && (!json_is_string(mode) || strcmp(json_string_value(mode), "affine")))
        return mlxn_err(MLXN_ERR_FORMAT, "mlx_config: quantization mode is not \"affine\"");
    if (!json_object_get(q, "bits") || !json_object_get(q, "group_size"))
        return mlxn_err(MLXN_ERR_FORMAT, "mlx_config: quantization needs \"bits\" and \"group_size\"");
    mlxn_status st = read_pair(q, "quantization", &c->bits, &c->group_size);
    if (st) return st;
    size_t n = json_object_size(q);
    c->over = calloc(n ? n : 1, sizeof *c->over);
    if (!c->over) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "mlx_config: out of memory");
    const char *k;
    json_t *v;
    json_object_foreach(q, k, v) {
        mlx_override o = {.bits = c->bits, .group_size = c->group_size};
        if (json_is_object(v)) {
            char where[200];
            snprintf(where, sizeof where, "module '%.150s'", k);
            if ((st = read_pair(v, where, &o.bits, &o.group_size))) return st;
        } else if (json_is_false(v)) {
            o.bits = o.group_size = 0;
        } else if (!json_is_true(v)) {
            continue; /* bits, group_size, mode and other settings */
        }
        if (!(o.module = strdup(k))) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "mlx_config: out of memory");
        c->over[c->n_over++] = o;
    }
    return MLXN_OK;
}

mlxn_status mlxn_mlx_config_parse(const char *json, size_t len, mlxn_mlx_config **out) {
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "mlx_config_parse: out is NULL");
    *out = NULL;
    if (!json && len) return mlxn_err(MLXN_ERR_INVALID_ARG, "mlx_config_parse: json is NULL");
    json_error_t jerr;
    json_t *root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return mlxn_err(MLXN_ERR_FORMAT, "mlx_config: JSON, line %d column %d: %s", jerr.line,
                        jerr.column, jerr.text);
    mlxn_status st = MLXN_OK;
    mlxn_mlx_config *c = calloc(1, sizeof *c);
    if (!c) st = mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "mlx_config: out of memory");
    else if (!json_is_object(root)) st = mlxn_err(MLXN_ERR_FORMAT, "mlx_config: not a JSON object");
    if (!st) {
        json_t *q = json_object_get(root, "quantization");
        if (!q) q = json_object_get(root, "quantization_config");
        if (q) st = parse_quant(c, q);
    }
    json_decref(root);
    if (st) {
        mlxn_mlx_config_free(c);
        return st;
    }
    *out = c;
    return MLXN_OK;
}

/* config.json files are small; a larger one is not a config. */
#define MLX_CONFIG_MAX (64u << 20)

mlxn_status mlxn_mlx_config_open(const char *path, mlxn_mlx_config **out) {
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "mlx_config_open: out is NULL");
    *out = NULL;
    if (!path) return mlxn_err(MLXN_ERR_INVALID_ARG, "mlx_config_open: path is NULL");
    mlxn_map m;
    mlxn_status st = mlxn_map_file("mlx_config", path, &m);
    if (st) return st;
    if (m.size > MLX_CONFIG_MAX) st = mlxn_err(MLXN_ERR_FORMAT, "mlx_config: '%s' is %zu bytes", path, m.size);
    else st = mlxn_mlx_config_parse((const char *)m.data, m.size, out);
    mlxn_map_release(&m);
    return st;
}

void mlxn_mlx_config_free(mlxn_mlx_config *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n_over; i++) free(c->over[i].module);
    free(c->over);
    free(c);
}

void mlxn_mlx_config_quant(const mlxn_mlx_config *c, const char *module, int *bits, int *group_size) {
    int b = 0, g = 0;
    if (c) {
        b = c->bits;
        g = c->group_size;
        for (size_t i = 0; module && i < c->n_over; i++)
            if (!strcmp(c->over[i].module, module)) {
                b = c->over[i].bits;
                g = c->over[i].group_size;
                break;
            }
    }
    if (bits) *bits = b;
    if (group_size) *group_size = g;
}

/* ── weights ── */

static int64_t find(const mlxn_safetensors *st, const char *module, const char *suffix) {
    char name[512];
    if ((size_t)snprintf(name, sizeof name, "%s.%s", module, suffix) >= sizeof name) return -1;
    return mlxn_safetensors_find_tensor(st, name);
}

static bool is_float(mlxn_type t) {
    return t == MLXN_TYPE_F32 || t == MLXN_TYPE_F16 || t == MLXN_TYPE_BF16;
}

mlxn_status mlxn_mlx_weight_find(const mlxn_safetensors *st, const mlxn_mlx_config *c,
                                 const char *module, mlxn_mlx_weight *out) {
    const char *op = "mlx_weight_find";
    if (!st || !module || !out) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: NULL argument", op);
    memset(out, 0, sizeof *out);
    out->weight = find(st, module, "weight");
    out->scales = find(st, module, "scales");
    out->biases = find(st, module, "biases");
    if (out->weight < 0) return mlxn_err(MLXN_ERR_FORMAT, "%s: no tensor '%s.weight'", op, module);
    const mlxn_st_tensor *w = &st->t[out->weight];
    if (out->scales < 0) {
        /* A float weight: norms, or a module the quantizer skipped. */
        if (out->biases >= 0 && !is_float(w->info.type))
            return mlxn_err(MLXN_ERR_FORMAT, "%s: '%s.biases' without '%s.scales'", op, module, module);
        if (!is_float(w->info.type))
            return mlxn_err(MLXN_ERR_FORMAT, "%s: '%s.weight' is %s without scales", op, module,
                            mlxn_type_name(w->info.type));
        if (w->info.ndim < 1)
            return mlxn_err(MLXN_ERR_FORMAT, "%s: '%s.weight' is a scalar", op, module);
        out->scales = out->biases = -1;
        out->ndim = w->info.ndim;
        memcpy(out->ne, w->info.ne, sizeof out->ne);
        return MLXN_OK;
    }
    mlxn_mlx_config_quant(c, module, &out->bits, &out->group_size);
    if (!out->bits)
        return mlxn_err(MLXN_ERR_FORMAT, "%s: '%s.scales' exists but the config does not quantize '%s'",
                        op, module, module);
    if (out->biases < 0) return mlxn_err(MLXN_ERR_FORMAT, "%s: no tensor '%s.biases'", op, module);
    const mlxn_st_tensor *s = &st->t[out->scales], *b = &st->t[out->biases];
    int nd = w->info.ndim;
    if (w->info.type != MLXN_TYPE_U32 || nd < 2)
        return mlxn_err(MLXN_ERR_FORMAT, "%s: '%s.weight' is %s with %d dims, want u32 [..., N, K*%d/32]",
                        op, module, mlxn_type_name(w->info.type), nd, out->bits);
    if (!is_float(s->info.type) || b->info.type != s->info.type)
        return mlxn_err(MLXN_ERR_FORMAT, "%s: '%s' scales are %s and biases %s, want one of f32/f16/bf16",
                        op, module, mlxn_type_name(s->info.type), mlxn_type_name(b->info.type));
    int64_t words = w->info.ne[nd - 1];
    int64_t k = words * 32 / out->bits; /* words < 2^63 / 32 since the file holds them */
    if (words > INT64_MAX / 32 || (words * 32) % out->bits || k % out->group_size)
        return mlxn_err(MLXN_ERR_FORMAT, "%s: '%s.weight' rows of %lld words do not hold whole groups of %d at %d bits",
                        op, module, (long long)words, out->group_size, out->bits);
    bool same = s->info.ndim == nd && b->info.ndim == nd && s->info.ne[nd - 1] == k / out->group_size;
    for (int d = 0; same && d < nd; d++) {
        if (d < nd - 1) same = s->info.ne[d] == w->info.ne[d];
        same = same && b->info.ne[d] == s->info.ne[d];
    }
    if (!same)
        return mlxn_err(MLXN_ERR_FORMAT, "%s: '%s' scales/biases shapes do not match %lld groups of %d per row",
                        op, module, (long long)(k / out->group_size), out->group_size);
    out->ndim = nd;
    memcpy(out->ne, w->info.ne, sizeof out->ne);
    out->ne[nd - 1] = k;
    return MLXN_OK;
}

static float load_float(mlxn_type t, const uint8_t *p, int64_t i) {
    if (t == MLXN_TYPE_F32) {
        float f;
        memcpy(&f, p + i * 4, 4);
        return f;
    }
    uint16_t h;
    memcpy(&h, p + i * 2, 2);
    return t == MLXN_TYPE_F16 ? mlxn_f16_to_f32(h) : mlxn_bf16_to_f32(h);
}

mlxn_status mlxn_mlx_dequantize_row(const mlxn_safetensors *st, const mlxn_mlx_weight *w, int64_t r,
                                    float *dst) {
    const char *op = "mlx_dequantize_row";
    if (!st || !w || !dst) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: NULL argument", op);
    if (w->ndim < 1 || w->ndim > MLXN_MAX_DIMS || w->weight < 0 || (uint64_t)w->weight >= st->n_t)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: w is not from mlx_weight_find", op);
    const mlxn_st_tensor *wt = &st->t[w->weight];
    int64_t k = w->ne[w->ndim - 1], rows = 1;
    for (int d = 0; d < w->ndim - 1; d++) {
        if (wt->info.ndim != w->ndim || w->ne[d] != wt->info.ne[d])
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: w does not match the file", op);
        rows *= w->ne[d]; /* bounded: the file holds these rows */
    }
    if (r < 0 || r >= rows)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: row %lld of %lld", op, (long long)r, (long long)rows);
    const uint8_t *wp = mlxn_safetensors_tensor_data(st, (uint64_t)w->weight);
    if (!w->bits) {
        if (!is_float(wt->info.type) || wt->info.ne[w->ndim - 1] != k)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: w does not match the file", op);
        for (int64_t i = 0; i < k; i++) dst[i] = load_float(wt->info.type, wp, r * k + i);
        return MLXN_OK;
    }
    if (w->scales < 0 || w->biases < 0 || (uint64_t)w->scales >= st->n_t || (uint64_t)w->biases >= st->n_t)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: w is not from mlx_weight_find", op);
    const mlxn_st_tensor *s = &st->t[w->scales];
    const uint8_t *sp = mlxn_safetensors_tensor_data(st, (uint64_t)w->scales);
    const uint8_t *bp = mlxn_safetensors_tensor_data(st, (uint64_t)w->biases);
    int64_t groups = k / w->group_size;
    const uint8_t *row = wp + (size_t)(r * (k * w->bits / 32)) * 4;
    uint32_t mask = (1u << w->bits) - 1;
    for (int64_t i = 0; i < k; i++) {
        /* value i sits at bits [i*bits, i*bits + bits) of the row, little-endian */
        uint64_t bit = (uint64_t)i * (uint64_t)w->bits, win = 0;
        size_t byte = (size_t)(bit / 8), avail = (size_t)(k * w->bits / 8) - byte;
        memcpy(&win, row + byte, avail < 8 ? avail : 8);
        uint32_t q = (uint32_t)(win >> (bit % 8)) & mask;
        int64_t gi = r * groups + i / w->group_size;
        dst[i] = load_float(s->info.type, sp, gi) * (float)q + load_float(s->info.type, bp, gi);
    }
    return MLXN_OK;
}
