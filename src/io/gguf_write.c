/* GGUF v3 writer: metadata is serialized as it is set; tensors are referenced and
 * written, aligned, when the file is written. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/gguf.h"

typedef struct wtensor {
    char *name;
    mlxn_type type;
    int ndim;
    int64_t ne[MLXN_MAX_DIMS]; /* outermost first */
    const void *data;
    size_t bytes;
    uint64_t offset; /* in the data section */
} wtensor;

struct mlxn_gguf_writer {
    unsigned char *kv; /* serialized metadata */
    size_t kv_len, kv_cap;
    char **keys;
    size_t n_kv, keys_cap;
    wtensor *t;
    size_t n_t, t_cap;
    uint32_t alignment;
};

static const size_t scalar_bytes[MLXN_GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 16, bytes;
    while (n < need)
        if (!mlxn_mul_size(n, 2, &n)) return false;
    if (!mlxn_mul_size(n, elem, &bytes)) return false;
    void *q = realloc(*p, bytes);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

static mlxn_status put(mlxn_gguf_writer *w, const void *src, size_t n) {
    size_t need;
    if (!mlxn_add_size(w->kv_len, n, &need) || !grow((void **)&w->kv, &w->kv_cap, need, 1))
        return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "gguf_writer: metadata of %zu bytes", w->kv_len);
    if (n) memcpy(w->kv + w->kv_len, src, n);
    w->kv_len = need;
    return MLXN_OK;
}

static mlxn_status put_u32(mlxn_gguf_writer *w, uint32_t v) { return put(w, &v, 4); }
static mlxn_status put_u64(mlxn_gguf_writer *w, uint64_t v) { return put(w, &v, 8); }
static mlxn_status put_str(mlxn_gguf_writer *w, const char *s, size_t n) {
    mlxn_status st = put_u64(w, n);
    return st ? st : put(w, s, n);
}

mlxn_status mlxn_gguf_writer_create(mlxn_gguf_writer **out) {
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_writer_create: out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "gguf_writer_create: out of memory");
    (*out)->alignment = MLXN_GGUF_DEFAULT_ALIGNMENT;
    return MLXN_OK;
}

void mlxn_gguf_writer_free(mlxn_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->keys);
    free(w->t);
    free(w->kv);
    free(w);
}

/* Checks key, records it, writes its name and type. */
static mlxn_status begin_kv(mlxn_gguf_writer *w, const char *op, const char *key,
                            mlxn_gguf_vtype t) {
    if (!w || !key) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s is NULL", op, w ? "key" : "w");
    if (!key[0]) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: empty key", op);
    for (size_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], key))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: key '%s' is already set", op, key);
    if (!strcmp(key, "general.alignment") && t != MLXN_GGUF_UINT32)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: general.alignment must be a u32", op);
    char *k = strdup(key);
    if (!k || !grow((void **)&w->keys, &w->keys_cap, w->n_kv + 1, sizeof *w->keys)) {
        free(k);
        return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "%s: out of memory", op);
    }
    size_t mark = w->kv_len;
    mlxn_status st = put_str(w, key, strlen(key));
    if (!st) st = put_u32(w, (uint32_t)t);
    if (st) {
        w->kv_len = mark;
        free(k);
        return st;
    }
    w->keys[w->n_kv++] = k;
    return MLXN_OK;
}

/* Undoes begin_kv after a failure writing the value. */
static mlxn_status abort_kv(mlxn_gguf_writer *w, size_t mark, mlxn_status st) {
    w->kv_len = mark;
    free(w->keys[--w->n_kv]);
    return st;
}

static bool scalar_type(mlxn_gguf_vtype t) {
    return (unsigned)t < MLXN_GGUF_VTYPE_COUNT && t != MLXN_GGUF_STRING && t != MLXN_GGUF_ARRAY;
}

mlxn_status mlxn_gguf_writer_set(mlxn_gguf_writer *w, const char *key, mlxn_gguf_vtype t,
                                 const void *value) {
    if (!scalar_type(t))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_writer_set: key '%s': type %d is not a scalar",
                        key ? key : "(null)", (int)t);
    if (!value) return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_writer_set: value is NULL");
    uint8_t b = 0;
    if (t == MLXN_GGUF_BOOL) {
        bool v;
        memcpy(&v, value, sizeof v);
        b = v ? 1 : 0;
        value = &b;
    }
    if (w && key && !strcmp(key, "general.alignment") && t == MLXN_GGUF_UINT32) {
        uint32_t a;
        memcpy(&a, value, 4);
        if (a == 0 || (a & (a - 1)))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_writer_set: general.alignment %u is not a power of two", a);
    }
    size_t mark = w ? w->kv_len : 0;
    mlxn_status st = begin_kv(w, "gguf_writer_set", key, t);
    if (st) return st;
    if ((st = put(w, value, scalar_bytes[t]))) return abort_kv(w, mark, st);
    if (!strcmp(key, "general.alignment")) memcpy(&w->alignment, value, 4);
    return MLXN_OK;
}

mlxn_status mlxn_gguf_writer_set_str(mlxn_gguf_writer *w, const char *key, const char *s) {
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_writer_set_str: s is NULL");
    size_t mark = w ? w->kv_len : 0;
    mlxn_status st = begin_kv(w, "gguf_writer_set_str", key, MLXN_GGUF_STRING);
    if (st) return st;
    if ((st = put_str(w, s, strlen(s)))) return abort_kv(w, mark, st);
    return MLXN_OK;
}

mlxn_status mlxn_gguf_writer_set_arr(mlxn_gguf_writer *w, const char *key, mlxn_gguf_vtype elem,
                                     const void *data, uint64_t n) {
    size_t bytes;
    if (!scalar_type(elem))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_writer_set_arr: element type %d is not a scalar", (int)elem);
    if (n && !data) return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_writer_set_arr: data is NULL");
    if (n > SIZE_MAX || !mlxn_mul_size((size_t)n, scalar_bytes[elem], &bytes))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_writer_set_arr: %llu elements overflow",
                        (unsigned long long)n);
    if (elem == MLXN_GGUF_BOOL)
        for (uint64_t i = 0; i < n; i++)
            if (((const uint8_t *)data)[i] > 1)
                return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_writer_set_arr: bool %llu is not 0 or 1",
                                (unsigned long long)i);
    size_t mark = w ? w->kv_len : 0;
    mlxn_status st = begin_kv(w, "gguf_writer_set_arr", key, MLXN_GGUF_ARRAY);
    if (st) return st;
    if ((st = put_u32(w, (uint32_t)elem)) || (st = put_u64(w, n)) || (st = put(w, data, bytes)))
        return abort_kv(w, mark, st);
    return MLXN_OK;
}

mlxn_status mlxn_gguf_writer_set_arr_str(mlxn_gguf_writer *w, const char *key,
                                         const char *const *s, uint64_t n) {
    if (n && !s) return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_writer_set_arr_str: s is NULL");
    for (uint64_t i = 0; i < n; i++)
        if (!s[i])
            return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_writer_set_arr_str: string %llu is NULL",
                            (unsigned long long)i);
    size_t mark = w ? w->kv_len : 0;
    mlxn_status st = begin_kv(w, "gguf_writer_set_arr_str", key, MLXN_GGUF_ARRAY);
    if (st) return st;
    if ((st = put_u32(w, MLXN_GGUF_STRING)) || (st = put_u64(w, n))) return abort_kv(w, mark, st);
    for (uint64_t i = 0; i < n; i++)
        if ((st = put_str(w, s[i], strlen(s[i])))) return abort_kv(w, mark, st);
    return MLXN_OK;
}

mlxn_status mlxn_gguf_writer_add_tensor(mlxn_gguf_writer *w, const char *name, mlxn_type t,
                                        int ndim, const int64_t *ne, const void *data,
                                        size_t bytes) {
    const char *op = "gguf_writer_add_tensor";
    uint32_t id;
    size_t want;
    if (!w || !name || !ne) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: NULL argument", op);
    if (!name[0]) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: empty tensor name", op);
    if (mlxn_type_to_ggml(t, &id)) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: '%s': type %s has no GGUF id", op, name, mlxn_type_name(t));
    mlxn_status st = mlxn_shape_bytes(op, name, t, ndim, ne, &want);
    if (st) return st;
    if (want != bytes)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: '%s': %zu bytes given, the shape needs %zu", op,
                        name, bytes, want);
    if (bytes && !data) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: '%s': data is NULL", op, name);
    for (size_t i = 0; i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: tensor '%s' is already added", op, name);
    char *nm = strdup(name);
    if (!nm || !grow((void **)&w->t, &w->t_cap, w->n_t + 1, sizeof *w->t)) {
        free(nm);
        return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "%s: out of memory", op);
    }
    wtensor *wt = &w->t[w->n_t++];
    memset(wt, 0, sizeof *wt);
    wt->name = nm;
    wt->type = t;
    wt->ndim = ndim;
    memcpy(wt->ne, ne, (size_t)ndim * sizeof *ne);
    wt->data = data;
    wt->bytes = bytes;
    return MLXN_OK;
}

static bool write_all(FILE *f, const void *p, size_t n) { return n == 0 || fwrite(p, 1, n, f) == n; }

static bool write_pad(FILE *f, uint64_t from, uint32_t align) {
    static const unsigned char zeros[256];
    uint64_t to;
    if (!mlxn_align_up(from, align, &to)) return false;
    for (uint64_t n = to - from; n;) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        if (!write_all(f, zeros, k)) return false;
        n -= k;
    }
    return true;
}

mlxn_status mlxn_gguf_writer_write(const mlxn_gguf_writer *w, const char *path) {
    if (!w || !path) return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_writer_write: %s is NULL", w ? "path" : "w");
    /* Offsets: each tensor starts aligned within the data section. */
    uint64_t off = 0;
    wtensor *t = w->t;
    for (size_t i = 0; i < w->n_t; i++) {
        if (!mlxn_align_up(off, w->alignment, &t[i].offset) ||
            __builtin_add_overflow(t[i].offset, (uint64_t)t[i].bytes, &off))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_writer_write: data section overflows");
    }
    FILE *f = fopen(path, "wb");
    if (!f) return mlxn_err(MLXN_ERR_IO, "gguf_writer_write: cannot create '%s': %s", path, strerror(errno));
    bool ok = true;
    uint32_t version = 3;
    uint64_t nt = w->n_t, nkv = w->n_kv, pos = 0;
    ok = ok && write_all(f, "GGUF", 4) && write_all(f, &version, 4) && write_all(f, &nt, 8) &&
         write_all(f, &nkv, 8) && write_all(f, w->kv, w->kv_len);
    pos = 24 + (uint64_t)w->kv_len;
    for (size_t i = 0; ok && i < w->n_t; i++) {
        uint64_t len = strlen(t[i].name);
        uint32_t nd = (uint32_t)t[i].ndim, id = 0;
        mlxn_type_to_ggml(t[i].type, &id);
        ok = write_all(f, &len, 8) && write_all(f, t[i].name, (size_t)len) && write_all(f, &nd, 4);
        for (int d = t[i].ndim - 1; ok && d >= 0; d--) {
            uint64_t v = (uint64_t)t[i].ne[d];
            ok = write_all(f, &v, 8);
        }
        ok = ok && write_all(f, &id, 4) && write_all(f, &t[i].offset, 8);
        pos += 8 + len + 4 + 8 * nd + 4 + 8;
    }
    ok = ok && write_pad(f, pos, w->alignment);
    uint64_t dpos = 0;
    for (size_t i = 0; ok && i < w->n_t; i++) {
        ok = write_pad(f, dpos, w->alignment) && write_all(f, t[i].data, t[i].bytes);
        dpos = t[i].offset + t[i].bytes;
    }
    int e = ok ? 0 : errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        remove(path);
        return mlxn_err(MLXN_ERR_IO, "gguf_writer_write: writing '%s' failed: %s", path, strerror(e));
    }
    return MLXN_OK;
}
