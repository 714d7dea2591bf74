/* safetensors reader: an 8-byte little-endian header length, a JSON header (parsed by
 * jansson, which keeps 64-bit integers exact and rejects duplicate keys), then the data.
 * Every entry is checked against the data section before the handle is returned. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "io/safetensors.h"

/* The cap the safetensors format itself sets on the header. */
#define ST_MAX_HEADER 100000000ull

static const struct {
    const char *name;
    mlxn_type type; /* MLXN_TYPE_COUNT: a dtype mlxn does not hold */
} dtypes[] = {
    {"F32", MLXN_TYPE_F32}, {"F16", MLXN_TYPE_F16}, {"BF16", MLXN_TYPE_BF16},
    {"F64", MLXN_TYPE_F64}, {"I8", MLXN_TYPE_I8},   {"U8", MLXN_TYPE_U8},
    {"I16", MLXN_TYPE_I16}, {"U16", MLXN_TYPE_U16}, {"I32", MLXN_TYPE_I32},
    {"U32", MLXN_TYPE_U32}, {"I64", MLXN_TYPE_I64}, {"U64", MLXN_TYPE_COUNT},
    {"BOOL", MLXN_TYPE_COUNT}, {"F8_E4M3", MLXN_TYPE_COUNT}, {"F8_E5M2", MLXN_TYPE_COUNT},
    {"F8_E8M0", MLXN_TYPE_COUNT}, {"F6_E2M3", MLXN_TYPE_COUNT}, {"F6_E3M2", MLXN_TYPE_COUNT},
    {"F4", MLXN_TYPE_COUNT}, {"C64", MLXN_TYPE_COUNT},
};

static mlxn_status bad(const char *name, const char *fmt, const char *detail) {
    char q[160];
    return mlxn_err(MLXN_ERR_FORMAT, "safetensors: tensor '%s': %s%s",
                    mlxn_quote(name, strlen(name), q, sizeof q), fmt, detail ? detail : "");
}

static mlxn_status parse_dtype(const char *name, json_t *v, mlxn_type *out) {
    char q[160];
    if (!json_is_string(v)) return bad(name, "\"dtype\" is missing or not a string", NULL);
    const char *s = json_string_value(v);
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++) {
        if (strcmp(s, dtypes[i].name)) continue;
        if (dtypes[i].type == MLXN_TYPE_COUNT)
            return mlxn_err(MLXN_ERR_UNSUPPORTED, "safetensors: tensor '%s': dtype %s is not supported",
                            mlxn_quote(name, strlen(name), q, sizeof q), s);
        *out = dtypes[i].type;
        return MLXN_OK;
    }
    char qd[160];
    return mlxn_err(MLXN_ERR_FORMAT, "safetensors: tensor '%s': unknown dtype \"%s\"",
                    mlxn_quote(name, strlen(name), q, sizeof q),
                    mlxn_quote(s, json_string_length(v), qd, sizeof qd));
}

/* A non-negative JSON integer. */
static bool get_u64(json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

static mlxn_status parse_entry(const char *name, json_t *v, mlxn_st_tensor *t) {
    char detail[128];
    if (!json_is_object(v)) return bad(name, "entry is not an object", NULL);
    mlxn_status st = parse_dtype(name, json_object_get(v, "dtype"), &t->info.type);
    if (st) return st;
    json_t *shape = json_object_get(v, "shape");
    if (!json_is_array(shape)) return bad(name, "\"shape\" is missing or not an array", NULL);
    size_t nd = json_array_size(shape), n = 1;
    uint64_t ne[MLXN_MAX_DIMS] = {0};
    bool overflow = false;
    for (size_t d = 0; d < nd; d++) {
        uint64_t x;
        if (!get_u64(json_array_get(shape, d), &x)) {
            snprintf(detail, sizeof detail, "%zu is not a non-negative integer", d);
            return bad(name, "shape entry ", detail);
        }
        if (x > (uint64_t)INT64_MAX || x > SIZE_MAX) overflow = true;
        else if (!overflow && !mlxn_mul_size(n, (size_t)x, &n)) overflow = true;
        if (d < MLXN_MAX_DIMS) ne[d] = x;
    }
    if (nd > MLXN_MAX_DIMS) {
        char q[160];
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "safetensors: tensor '%s': %zu dims, mlxn holds at most %d",
                        mlxn_quote(name, strlen(name), q, sizeof q), nd, MLXN_MAX_DIMS);
    }
    size_t bytes = 0;
    if (overflow || n > (size_t)INT64_MAX ||
        !mlxn_mul_size(n, mlxn_type_block_bytes(t->info.type), &bytes))
        return bad(name, "element count or byte size of the shape overflows", NULL);
    json_t *offs = json_object_get(v, "data_offsets");
    uint64_t b, e;
    if (!json_is_array(offs) || json_array_size(offs) != 2 || !get_u64(json_array_get(offs, 0), &b) ||
        !get_u64(json_array_get(offs, 1), &e))
        return bad(name, "\"data_offsets\" is not two non-negative integers", NULL);
    if (b > e) {
        snprintf(detail, sizeof detail, "[%llu, %llu] begins after it ends", (unsigned long long)b,
                 (unsigned long long)e);
        return bad(name, "data_offsets ", detail);
    }
    if (e - b != bytes) {
        snprintf(detail, sizeof detail, "[%llu, %llu] hold %llu bytes, the %s shape needs %zu",
                 (unsigned long long)b, (unsigned long long)e, (unsigned long long)(e - b),
                 mlxn_type_name(t->info.type), bytes);
        return bad(name, "data_offsets ", detail);
    }
    t->info.ndim = (int)nd;
    for (size_t d = 0; d < nd; d++) t->info.ne[d] = (int64_t)ne[d];
    t->info.bytes = bytes;
    t->begin = b;
    return MLXN_OK;
}

static mlxn_status parse_metadata(mlxn_safetensors *st, json_t *meta) {
    if (!json_is_object(meta))
        return mlxn_err(MLXN_ERR_FORMAT, "safetensors: \"__metadata__\" is not an object");
    size_t n = json_object_size(meta), i = 0;
    if (!n) return MLXN_OK;
    st->meta = mlxn_arena_alloc(&st->arena, n * sizeof *st->meta); /* n bounded by the header */
    if (!st->meta) return MLXN_ERR_OUT_OF_MEMORY;
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v) {
        char q[160];
        if (!json_is_string(v))
            return mlxn_err(MLXN_ERR_FORMAT, "safetensors: metadata '%s' is not a string",
                            mlxn_quote(k, strlen(k), q, sizeof q));
        st->meta[i].key = mlxn_arena_strdup(&st->arena, k, strlen(k));
        st->meta[i].value = mlxn_arena_strdup(&st->arena, json_string_value(v), json_string_length(v));
        if (!st->meta[i].key || !st->meta[i].value) return MLXN_ERR_OUT_OF_MEMORY;
        i++;
    }
    st->n_meta = i;
    return MLXN_OK;
}

static int cmp_begin(const void *pa, const void *pb) {
    const mlxn_st_tensor *a = pa, *b = pb;
    if (a->begin != b->begin) return (a->begin > b->begin) - (a->begin < b->begin);
    return (a->info.bytes > b->info.bytes) - (a->info.bytes < b->info.bytes);
}

static mlxn_status parse_header(mlxn_safetensors *st, json_t *root, uint64_t data_size) {
    if (!json_is_object(root))
        return mlxn_err(MLXN_ERR_FORMAT, "safetensors: the header is not a JSON object");
    size_t n = json_object_size(root);
    if (n && !(st->t = mlxn_arena_alloc(&st->arena, n * sizeof *st->t)))
        return MLXN_ERR_OUT_OF_MEMORY;
    const char *k;
    json_t *v;
    mlxn_status s;
    json_object_foreach(root, k, v) {
        if (!strcmp(k, "__metadata__")) {
            if ((s = parse_metadata(st, v))) return s;
            continue;
        }
        if (!k[0]) return mlxn_err(MLXN_ERR_FORMAT, "safetensors: a tensor has an empty name");
        mlxn_st_tensor *t = &st->t[st->n_t];
        if ((s = parse_entry(k, v, t))) return s;
        uint64_t end = t->begin + t->info.bytes; /* begin <= end checked in parse_entry */
        if (end > data_size) {
            char detail[128];
            snprintf(detail, sizeof detail, "[%llu, %llu] end past the data section (%llu bytes)",
                     (unsigned long long)t->begin, (unsigned long long)end,
                     (unsigned long long)data_size);
            return bad(k, "data_offsets ", detail);
        }
        if (!(t->info.name = mlxn_arena_strdup(&st->arena, k, strlen(k)))) return MLXN_ERR_OUT_OF_MEMORY;
        t->info.offset = st->data_offset + t->begin;
        st->n_t++;
    }
    if (st->n_t > 1) qsort(st->t, st->n_t, sizeof *st->t, cmp_begin);
    for (size_t i = 1; i < st->n_t; i++) {
        const mlxn_st_tensor *a = &st->t[i - 1], *b = &st->t[i];
        if (a->info.bytes && b->info.bytes && a->begin + a->info.bytes > b->begin) {
            char q1[160], q2[160];
            return mlxn_err(MLXN_ERR_FORMAT, "safetensors: tensors '%s' and '%s' overlap at byte %llu",
                            mlxn_quote(a->info.name, strlen(a->info.name), q1, sizeof q1),
                            mlxn_quote(b->info.name, strlen(b->info.name), q2, sizeof q2),
                            (unsigned long long)b->begin);
        }
    }
    if (st->n_t) {
        st->sorted = mlxn_arena_alloc(&st->arena, st->n_t * sizeof *st->sorted);
        if (!st->sorted) return MLXN_ERR_OUT_OF_MEMORY;
        for (size_t i = 0; i < st->n_t; i++)
            st->sorted[i] = (mlxn_name_ref){st->t[i].info.name, strlen(st->t[i].info.name), i};
        mlxn_names_sort(st->sorted, st->n_t); /* jansson rejected duplicate keys */
    }
    return MLXN_OK;
}

static mlxn_status parse(mlxn_safetensors *st) {
    uint64_t hlen;
    if (st->map.size < 8)
        return mlxn_err(MLXN_ERR_FORMAT, "safetensors: file of %zu bytes, the header length alone takes 8",
                        st->map.size);
    memcpy(&hlen, st->map.data, 8);
    if (hlen > ST_MAX_HEADER)
        return mlxn_err(MLXN_ERR_FORMAT, "safetensors: header length %llu exceeds the limit of %llu bytes",
                        (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen > st->map.size - 8)
        return mlxn_err(MLXN_ERR_FORMAT, "safetensors: header length %llu runs past the end of the file (%zu bytes)",
                        (unsigned long long)hlen, st->map.size);
    if (hlen < 2)
        return mlxn_err(MLXN_ERR_FORMAT, "safetensors: header length %llu is too short for a JSON object",
                        (unsigned long long)hlen);
    st->data_offset = 8 + hlen;
    json_error_t jerr;
    json_t *root = json_loadb((const char *)st->map.data + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return mlxn_err(MLXN_ERR_FORMAT, "safetensors: header JSON, byte %d: %s", jerr.position, jerr.text);
    mlxn_status s = parse_header(st, root, st->map.size - st->data_offset);
    json_decref(root);
    return s;
}

static mlxn_status open_map(mlxn_map *m, mlxn_safetensors **out) {
    mlxn_safetensors *st = calloc(1, sizeof *st);
    if (!st) {
        mlxn_map_release(m);
        return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "safetensors: cannot allocate the handle");
    }
    st->map = *m;
    mlxn_status s = parse(st);
    if (s) {
        mlxn_safetensors_close(st);
        return s;
    }
    *out = st;
    return MLXN_OK;
}

mlxn_status mlxn_safetensors_open(const char *path, mlxn_safetensors **out) {
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "safetensors_open: out is NULL");
    *out = NULL;
    if (!path) return mlxn_err(MLXN_ERR_INVALID_ARG, "safetensors_open: path is NULL");
    mlxn_map m;
    mlxn_status s = mlxn_map_file("safetensors", path, &m);
    return s ? s : open_map(&m, out);
}

mlxn_status mlxn_safetensors_open_memory(const void *data, size_t size, mlxn_safetensors **out) {
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "safetensors_open_memory: out is NULL");
    *out = NULL;
    if (!data && size) return mlxn_err(MLXN_ERR_INVALID_ARG, "safetensors_open_memory: data is NULL");
    mlxn_map m = {.data = data, .size = size, .owned = false};
    return open_map(&m, out);
}

void mlxn_safetensors_close(mlxn_safetensors *st) {
    if (!st) return;
    mlxn_map_release(&st->map);
    mlxn_arena_free(&st->arena);
    free(st);
}

/* ── getters ── */

uint64_t mlxn_safetensors_tensor_count(const mlxn_safetensors *st) { return st ? st->n_t : 0; }

static const mlxn_st_tensor *at(const mlxn_safetensors *st, uint64_t i, const char *op) {
    if (!st) {
        mlxn_err(MLXN_ERR_INVALID_ARG, "%s: st is NULL", op);
        return NULL;
    }
    if (i >= st->n_t) {
        mlxn_err(MLXN_ERR_INVALID_ARG, "%s: tensor index %llu, the file has %zu", op,
                 (unsigned long long)i, st->n_t);
        return NULL;
    }
    return &st->t[i];
}

mlxn_status mlxn_safetensors_tensor_info(const mlxn_safetensors *st, uint64_t i, mlxn_tensor_info *out) {
    const mlxn_st_tensor *t = at(st, i, "safetensors_tensor_info");
    if (!t) return MLXN_ERR_INVALID_ARG;
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "safetensors_tensor_info: out is NULL");
    *out = t->info;
    return MLXN_OK;
}

int64_t mlxn_safetensors_find_tensor(const mlxn_safetensors *st, const char *name) {
    return st ? mlxn_names_find(st->sorted, st->n_t, name) : -1;
}

const void *mlxn_safetensors_tensor_data(const mlxn_safetensors *st, uint64_t i) {
    if (!st || i >= st->n_t || !st->t[i].info.bytes) return NULL;
    return st->map.data + st->t[i].info.offset;
}

mlxn_status mlxn_safetensors_tensor_view(const mlxn_safetensors *st, uint64_t i, mlxn_device *dev,
                                         mlxn_buffer **out) {
    const mlxn_st_tensor *t = at(st, i, "safetensors_tensor_view");
    if (!t) return MLXN_ERR_INVALID_ARG;
    return mlxn_wrap_bytes("safetensors_tensor_view", dev, t->info.type, t->info.ndim, t->info.ne,
                           mlxn_safetensors_tensor_data(st, i), t->info.bytes, out);
}

mlxn_status mlxn_safetensors_tensor_upload(const mlxn_safetensors *st, uint64_t i, mlxn_device *dev,
                                           mlxn_progress_fn progress, void *user, mlxn_buffer **out) {
    const mlxn_st_tensor *t = at(st, i, "safetensors_tensor_upload");
    if (!t) return MLXN_ERR_INVALID_ARG;
    return mlxn_upload_bytes("safetensors_tensor_upload", dev, t->info.type, t->info.ndim,
                             t->info.ne, mlxn_safetensors_tensor_data(st, i), t->info.bytes,
                             progress, user, out);
}

uint64_t mlxn_safetensors_meta_count(const mlxn_safetensors *st) { return st ? st->n_meta : 0; }

const char *mlxn_safetensors_meta_key(const mlxn_safetensors *st, uint64_t i) {
    return st && i < st->n_meta ? st->meta[i].key : NULL;
}

const char *mlxn_safetensors_meta_value(const mlxn_safetensors *st, uint64_t i) {
    return st && i < st->n_meta ? st->meta[i].value : NULL;
}

const char *mlxn_safetensors_meta_get(const mlxn_safetensors *st, const char *key) {
    if (!st || !key) return NULL;
    for (size_t i = 0; i < st->n_meta; i++)
        if (!strcmp(st->meta[i].key, key)) return st->meta[i].value;
    return NULL;
}
