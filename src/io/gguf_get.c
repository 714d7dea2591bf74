/* GGUF getters over a validated handle: metadata by index and by key with checked
 * conversions, the tensor table, zero-copy views and device uploads. */
#include <string.h>

#include "io/gguf.h"

uint32_t mlxn_gguf_version(const mlxn_gguf *g) { return g ? g->version : 0; }
uint32_t mlxn_gguf_alignment(const mlxn_gguf *g) { return g ? g->alignment : 0; }
uint64_t mlxn_gguf_data_offset(const mlxn_gguf *g) { return g ? g->data_offset : 0; }
uint64_t mlxn_gguf_kv_count(const mlxn_gguf *g) { return g ? g->n_kv : 0; }
uint64_t mlxn_gguf_tensor_count(const mlxn_gguf *g) { return g ? g->n_tensors : 0; }

const char *mlxn_gguf_kv_key(const mlxn_gguf *g, uint64_t i) {
    return g && i < g->n_kv ? g->kv[i].key.s : NULL;
}

mlxn_gguf_vtype mlxn_gguf_kv_type(const mlxn_gguf *g, uint64_t i) {
    return g && i < g->n_kv ? g->kv[i].type : MLXN_GGUF_VTYPE_COUNT;
}

int64_t mlxn_gguf_find_key(const mlxn_gguf *g, const char *key) {
    return g ? mlxn_names_find(g->kv_sorted, (size_t)g->n_kv, key) : -1;
}

int64_t mlxn_gguf_find_tensor(const mlxn_gguf *g, const char *name) {
    return g ? mlxn_names_find(g->tensors_sorted, (size_t)g->n_tensors, name) : -1;
}

/* The entry for key, or NULL with an error set. */
static const mlxn_gguf_kv *lookup(const mlxn_gguf *g, const char *key, const char *op,
                                  const void *out) {
    if (!g || !key || !out) {
        mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s is NULL", op, !g ? "g" : !key ? "key" : "out");
        return NULL;
    }
    int64_t i = mlxn_gguf_find_key(g, key);
    if (i < 0) {
        mlxn_err(MLXN_ERR_FORMAT, "%s: no key '%s'", op, key);
        return NULL;
    }
    return &g->kv[i];
}

static mlxn_status wrong_type(const char *op, const mlxn_gguf_kv *kv, const char *want) {
    return mlxn_err(MLXN_ERR_FORMAT, "%s: key '%s' has type %s, want %s", op, kv->key.s,
                    mlxn_gguf_vtype_name(kv->type), want);
}

static bool is_unsigned(mlxn_gguf_vtype t) {
    return t == MLXN_GGUF_UINT8 || t == MLXN_GGUF_UINT16 || t == MLXN_GGUF_UINT32 ||
           t == MLXN_GGUF_UINT64;
}

static bool is_signed(mlxn_gguf_vtype t) {
    return t == MLXN_GGUF_INT8 || t == MLXN_GGUF_INT16 || t == MLXN_GGUF_INT32 ||
           t == MLXN_GGUF_INT64;
}

/* Integer value as (negative?, magnitude-ish): unsigned in u, or signed in i. */
static mlxn_status get_int(const mlxn_gguf *g, const char *key, const char *op, const void *out,
                           bool *neg, uint64_t *u, int64_t *i) {
    const mlxn_gguf_kv *kv = lookup(g, key, op, out);
    if (!kv) return (g && key && out) ? MLXN_ERR_FORMAT : MLXN_ERR_INVALID_ARG;
    if (is_unsigned(kv->type)) {
        *neg = false;
        *u = kv->v.u;
        *i = kv->v.u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)kv->v.u;
        return MLXN_OK;
    }
    if (is_signed(kv->type)) {
        *neg = kv->v.i < 0;
        *i = kv->v.i;
        *u = kv->v.i < 0 ? 0 : (uint64_t)kv->v.i;
        return MLXN_OK;
    }
    return wrong_type(op, kv, "an integer");
}

mlxn_status mlxn_gguf_get_u64(const mlxn_gguf *g, const char *key, uint64_t *out) {
    bool neg = false;
    uint64_t u = 0;
    int64_t i = 0;
    mlxn_status st = get_int(g, key, "gguf_get_u64", out, &neg, &u, &i);
    if (st) return st;
    if (neg) return mlxn_err(MLXN_ERR_FORMAT, "gguf_get_u64: key '%s' is %lld", key, (long long)i);
    *out = u;
    return MLXN_OK;
}

mlxn_status mlxn_gguf_get_u32(const mlxn_gguf *g, const char *key, uint32_t *out) {
    bool neg = false;
    uint64_t u = 0;
    int64_t i = 0;
    mlxn_status st = get_int(g, key, "gguf_get_u32", out, &neg, &u, &i);
    if (st) return st;
    if (neg) return mlxn_err(MLXN_ERR_FORMAT, "gguf_get_u32: key '%s' is %lld, not a u32", key, (long long)i);
    if (u > UINT32_MAX)
        return mlxn_err(MLXN_ERR_FORMAT, "gguf_get_u32: key '%s' is %llu, not a u32", key, (unsigned long long)u);
    *out = (uint32_t)u;
    return MLXN_OK;
}

mlxn_status mlxn_gguf_get_i64(const mlxn_gguf *g, const char *key, int64_t *out) {
    bool neg = false;
    uint64_t u = 0;
    int64_t i = 0;
    mlxn_status st = get_int(g, key, "gguf_get_i64", out, &neg, &u, &i);
    if (st) return st;
    if (!neg && u > (uint64_t)INT64_MAX)
        return mlxn_err(MLXN_ERR_FORMAT, "gguf_get_i64: key '%s' is %llu, more than 2^63-1", key,
                        (unsigned long long)u);
    *out = i;
    return MLXN_OK;
}

mlxn_status mlxn_gguf_get_f64(const mlxn_gguf *g, const char *key, double *out) {
    const mlxn_gguf_kv *kv = lookup(g, key, "gguf_get_f64", out);
    if (!kv) return (g && key && out) ? MLXN_ERR_FORMAT : MLXN_ERR_INVALID_ARG;
    if (kv->type != MLXN_GGUF_FLOAT32 && kv->type != MLXN_GGUF_FLOAT64)
        return wrong_type("gguf_get_f64", kv, "f32 or f64");
    *out = kv->v.f;
    return MLXN_OK;
}

mlxn_status mlxn_gguf_get_bool(const mlxn_gguf *g, const char *key, bool *out) {
    const mlxn_gguf_kv *kv = lookup(g, key, "gguf_get_bool", out);
    if (!kv) return (g && key && out) ? MLXN_ERR_FORMAT : MLXN_ERR_INVALID_ARG;
    if (kv->type != MLXN_GGUF_BOOL) return wrong_type("gguf_get_bool", kv, "bool");
    *out = kv->v.u != 0;
    return MLXN_OK;
}

mlxn_status mlxn_gguf_get_str(const mlxn_gguf *g, const char *key, const char **s, size_t *len) {
    const mlxn_gguf_kv *kv = lookup(g, key, "gguf_get_str", s);
    if (!kv) return (g && key && s) ? MLXN_ERR_FORMAT : MLXN_ERR_INVALID_ARG;
    if (kv->type != MLXN_GGUF_STRING) return wrong_type("gguf_get_str", kv, "str");
    *s = kv->str.s;
    if (len) *len = kv->str.len;
    return MLXN_OK;
}

mlxn_status mlxn_gguf_get_arr(const mlxn_gguf *g, const char *key, mlxn_gguf_vtype *elem_type,
                              uint64_t *n, const void **data) {
    const void *any = elem_type && n && data ? (const void *)n : NULL;
    const mlxn_gguf_kv *kv = lookup(g, key, "gguf_get_arr", any);
    if (!kv) return (g && key && any) ? MLXN_ERR_FORMAT : MLXN_ERR_INVALID_ARG;
    if (kv->type != MLXN_GGUF_ARRAY) return wrong_type("gguf_get_arr", kv, "arr");
    *elem_type = kv->elem_type;
    *n = kv->n;
    *data = kv->elem_type == MLXN_GGUF_STRING ? NULL : kv->arr;
    return MLXN_OK;
}

mlxn_status mlxn_gguf_get_arr_str(const mlxn_gguf *g, const char *key, uint64_t i, const char **s,
                                  size_t *len) {
    const mlxn_gguf_kv *kv = lookup(g, key, "gguf_get_arr_str", s);
    if (!kv) return (g && key && s) ? MLXN_ERR_FORMAT : MLXN_ERR_INVALID_ARG;
    if (kv->type != MLXN_GGUF_ARRAY || kv->elem_type != MLXN_GGUF_STRING)
        return mlxn_err(MLXN_ERR_FORMAT, "gguf_get_arr_str: key '%s' is not an array of strings", key);
    if (i >= kv->n)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_get_arr_str: index %llu of key '%s' with %llu strings",
                        (unsigned long long)i, key, (unsigned long long)kv->n);
    const mlxn_gguf_str *a = kv->arr;
    *s = a[i].s;
    if (len) *len = a[i].len;
    return MLXN_OK;
}

/* ── tensors ── */

static const mlxn_gguf_tensor *tensor_at(const mlxn_gguf *g, uint64_t i, const char *op) {
    if (!g) {
        mlxn_err(MLXN_ERR_INVALID_ARG, "%s: g is NULL", op);
        return NULL;
    }
    if (i >= g->n_tensors) {
        mlxn_err(MLXN_ERR_INVALID_ARG, "%s: tensor index %llu, the file has %llu", op,
                 (unsigned long long)i, (unsigned long long)g->n_tensors);
        return NULL;
    }
    return &g->tensors[i];
}

mlxn_status mlxn_gguf_tensor_info(const mlxn_gguf *g, uint64_t i, mlxn_tensor_info *out) {
    const mlxn_gguf_tensor *t = tensor_at(g, i, "gguf_tensor_info");
    if (!t) return MLXN_ERR_INVALID_ARG;
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_tensor_info: out is NULL");
    *out = t->info;
    return MLXN_OK;
}

const void *mlxn_gguf_tensor_data(const mlxn_gguf *g, uint64_t i) {
    if (!g || i >= g->n_tensors || !g->tensors[i].info.bytes) return NULL;
    return g->map.data + g->tensors[i].info.offset;
}

mlxn_status mlxn_gguf_tensor_view(const mlxn_gguf *g, uint64_t i, mlxn_device *dev,
                                  mlxn_buffer **out) {
    const mlxn_gguf_tensor *t = tensor_at(g, i, "gguf_tensor_view");
    if (!t) return MLXN_ERR_INVALID_ARG;
    return mlxn_wrap_bytes("gguf_tensor_view", dev, t->info.type, t->info.ndim, t->info.ne,
                           mlxn_gguf_tensor_data(g, i), t->info.bytes, out);
}

mlxn_status mlxn_gguf_tensor_upload(const mlxn_gguf *g, uint64_t i, mlxn_device *dev,
                                    mlxn_progress_fn progress, void *user, mlxn_buffer **out) {
    const mlxn_gguf_tensor *t = tensor_at(g, i, "gguf_tensor_upload");
    if (!t) return MLXN_ERR_INVALID_ARG;
    return mlxn_upload_bytes("gguf_tensor_upload", dev, t->info.type, t->info.ndim, t->info.ne,
                             mlxn_gguf_tensor_data(g, i), t->info.bytes, progress, user, out);
}
