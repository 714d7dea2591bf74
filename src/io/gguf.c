/* GGUF v2/v3 reader: parses and validates the whole header — metadata, tensor table,
 * alignment, extents — before the handle is returned. Every size read from the file is
 * bounded by the limits and by the bytes left, with overflow-checked arithmetic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/gguf.h"

/* Bytes of a scalar of each value type; 0 for STRING and ARRAY. */
static const size_t vtype_bytes[MLXN_GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

/* The fewest bytes one entry can take: key length + 1-byte key + type + 1-byte value;
 * name length + 1-byte name + ndim + one dim + type + offset. */
#define KV_MIN_BYTES 14u
#define TENSOR_MIN_BYTES 33u

typedef struct parser {
    mlxn_rd r;
    mlxn_gguf *g;
    const mlxn_gguf_limits *lim;
    char what[160]; /* "key 'general.name'", "tensor 'token_embd.weight'": for messages */
} parser;

void mlxn_gguf_limits_init(mlxn_gguf_limits *lim) {
    if (!lim) return;
    lim->max_string = (uint64_t)16 << 20;
    lim->max_array = (uint64_t)16 << 20;
    lim->max_kv = 65536;
    lim->max_tensors = (uint64_t)1 << 20;
    lim->max_name = 256;
    lim->max_alignment = 65536;
    lim->max_dims = MLXN_MAX_DIMS;
}

const char *mlxn_gguf_vtype_name(mlxn_gguf_vtype t) {
    static const char *names[MLXN_GGUF_VTYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"};
    return (unsigned)t < MLXN_GGUF_VTYPE_COUNT ? names[t] : "invalid";
}

static mlxn_status fail(parser *P, const char *detail) {
    return mlxn_err(MLXN_ERR_FORMAT, "gguf: %s: %s", P->what, detail);
}

static mlxn_status rd_u32(parser *P, uint32_t *v, const char *field) {
    char w[224];
    if (mlxn_rd_left(&P->r) >= 4) return mlxn_rd_u32(&P->r, v, "");
    snprintf(w, sizeof w, "gguf: %s: %s", P->what, field);
    return mlxn_rd_u32(&P->r, v, w);
}

static mlxn_status rd_u64(parser *P, uint64_t *v, const char *field) {
    char w[224];
    if (mlxn_rd_left(&P->r) >= 8) return mlxn_rd_u64(&P->r, v, "");
    snprintf(w, sizeof w, "gguf: %s: %s", P->what, field);
    return mlxn_rd_u64(&P->r, v, w);
}

/* A length-prefixed string of at most max bytes, copied NUL-terminated into the arena. */
static mlxn_status rd_str(parser *P, mlxn_gguf_str *out, uint64_t max, const char *field) {
    uint64_t len;
    mlxn_status st = rd_u64(P, &len, field);
    if (st) return st;
    if (len > max)
        return mlxn_err(MLXN_ERR_FORMAT, "gguf: %s: %s length %llu exceeds the limit of %llu bytes",
                        P->what, field, (unsigned long long)len, (unsigned long long)max);
    if (len > mlxn_rd_left(&P->r))
        return mlxn_err(MLXN_ERR_FORMAT,
                        "gguf: %s: %s length %llu runs past the end of the file (%zu bytes left)",
                        P->what, field, (unsigned long long)len, mlxn_rd_left(&P->r));
    char *s = mlxn_arena_strdup(&P->g->arena, P->r.p + P->r.pos, (size_t)len);
    if (!s) return MLXN_ERR_OUT_OF_MEMORY;
    P->r.pos += (size_t)len;
    out->s = s;
    out->len = (size_t)len;
    return MLXN_OK;
}

/* A name (key or tensor): non-empty, no NUL byte. */
static mlxn_status rd_name(parser *P, mlxn_gguf_str *out, const char *field) {
    mlxn_status st = rd_str(P, out, P->lim->max_name, field);
    if (st) return st;
    if (out->len == 0) return mlxn_err(MLXN_ERR_FORMAT, "gguf: %s: %s is empty", P->what, field);
    if (memchr(out->s, 0, out->len)) {
        char q[160];
        return mlxn_err(MLXN_ERR_FORMAT, "gguf: %s: %s \"%s\" contains a NUL byte", P->what, field,
                        mlxn_quote(out->s, out->len, q, sizeof q));
    }
    return MLXN_OK;
}

static mlxn_status rd_vtype(parser *P, mlxn_gguf_vtype *t, const char *field) {
    uint32_t v;
    mlxn_status st = rd_u32(P, &v, field);
    if (st) return st;
    if (v >= MLXN_GGUF_VTYPE_COUNT)
        return mlxn_err(MLXN_ERR_FORMAT, "gguf: %s: unknown %s %u (known: 0..12)", P->what, field, v);
    *t = (mlxn_gguf_vtype)v;
    return MLXN_OK;
}

/* Reads one scalar of type t (not STRING/ARRAY) into kv->v. */
static mlxn_status rd_scalar(parser *P, mlxn_gguf_vtype t, mlxn_gguf_kv *kv) {
    unsigned char b[8];
    char w[224];
    snprintf(w, sizeof w, "gguf: %s: %s value", P->what, mlxn_gguf_vtype_name(t));
    mlxn_status st = mlxn_rd_bytes(&P->r, b, vtype_bytes[t], w);
    if (st) return st;
    uint8_t u8;
    int8_t i8;
    uint16_t u16;
    int16_t i16;
    uint32_t u32;
    int32_t i32;
    float f32;
    switch (t) {
    case MLXN_GGUF_UINT8: memcpy(&u8, b, 1); kv->v.u = u8; break;
    case MLXN_GGUF_INT8: memcpy(&i8, b, 1); kv->v.i = i8; break;
    case MLXN_GGUF_UINT16: memcpy(&u16, b, 2); kv->v.u = u16; break;
    case MLXN_GGUF_INT16: memcpy(&i16, b, 2); kv->v.i = i16; break;
    case MLXN_GGUF_UINT32: memcpy(&u32, b, 4); kv->v.u = u32; break;
    case MLXN_GGUF_INT32: memcpy(&i32, b, 4); kv->v.i = i32; break;
    case MLXN_GGUF_FLOAT32: memcpy(&f32, b, 4); kv->v.f = f32; break;
    case MLXN_GGUF_UINT64: memcpy(&kv->v.u, b, 8); break;
    case MLXN_GGUF_INT64: memcpy(&kv->v.i, b, 8); break;
    case MLXN_GGUF_FLOAT64: memcpy(&kv->v.f, b, 8); break;
    case MLXN_GGUF_BOOL:
        if (b[0] > 1)
            return mlxn_err(MLXN_ERR_FORMAT, "gguf: %s: bool value is %u, want 0 or 1", P->what, b[0]);
        kv->v.u = b[0];
        break;
    default: return fail(P, "internal: not a scalar type");
    }
    return MLXN_OK;
}

static mlxn_status rd_array(parser *P, mlxn_gguf_kv *kv) {
    mlxn_status st = rd_vtype(P, &kv->elem_type, "array element type");
    if (st) return st;
    if (kv->elem_type == MLXN_GGUF_ARRAY) return fail(P, "nested arrays are not supported");
    st = rd_u64(P, &kv->n, "array length");
    if (st) return st;
    if (kv->n > P->lim->max_array)
        return mlxn_err(MLXN_ERR_FORMAT, "gguf: %s: array length %llu exceeds the limit of %llu",
                        P->what, (unsigned long long)kv->n, (unsigned long long)P->lim->max_array);
    size_t left = mlxn_rd_left(&P->r);
    /* Every element takes at least its scalar size, or 8 bytes (the length) for strings. */
    size_t each = kv->elem_type == MLXN_GGUF_STRING ? 8 : vtype_bytes[kv->elem_type], need;
    if (!mlxn_mul_size((size_t)kv->n, each, &need) || need > left)
        return mlxn_err(MLXN_ERR_FORMAT,
                        "gguf: %s: array of %llu %s needs at least %llu x %zu bytes, %zu are left",
                        P->what, (unsigned long long)kv->n, mlxn_gguf_vtype_name(kv->elem_type),
                        (unsigned long long)kv->n, each, left);
    if (kv->n == 0) return MLXN_OK;
    if (kv->elem_type != MLXN_GGUF_STRING) {
        void *a = mlxn_arena_alloc(&P->g->arena, need);
        if (!a) return MLXN_ERR_OUT_OF_MEMORY;
        memcpy(a, P->r.p + P->r.pos, need);
        P->r.pos += need;
        if (kv->elem_type == MLXN_GGUF_BOOL) {
            const uint8_t *bv = a;
            for (uint64_t i = 0; i < kv->n; i++)
                if (bv[i] > 1)
                    return mlxn_err(MLXN_ERR_FORMAT, "gguf: %s: bool element %llu is %u, want 0 or 1",
                                    P->what, (unsigned long long)i, bv[i]);
        }
        kv->arr = a;
        return MLXN_OK;
    }
    size_t tbl;
    if (!mlxn_mul_size((size_t)kv->n, sizeof(mlxn_gguf_str), &tbl)) return fail(P, "array too large");
    mlxn_gguf_str *strs = mlxn_arena_alloc(&P->g->arena, tbl);
    if (!strs) return MLXN_ERR_OUT_OF_MEMORY;
    for (uint64_t i = 0; i < kv->n; i++) {
        st = rd_str(P, &strs[i], P->lim->max_string, "array string");
        if (st) return st;
    }
    kv->arr = strs;
    return MLXN_OK;
}

static mlxn_status parse_kv(parser *P, uint64_t i) {
    mlxn_gguf_kv *kv = &P->g->kv[i];
    snprintf(P->what, sizeof P->what, "key #%llu", (unsigned long long)i);
    mlxn_status st = rd_name(P, &kv->key, "key");
    if (st) return st;
    char q[160];
    snprintf(P->what, sizeof P->what, "key '%s'", mlxn_quote(kv->key.s, kv->key.len, q, sizeof q));
    st = rd_vtype(P, &kv->type, "value type");
    if (st) return st;
    if (kv->type == MLXN_GGUF_STRING) return rd_str(P, &kv->str, P->lim->max_string, "string");
    if (kv->type == MLXN_GGUF_ARRAY) return rd_array(P, kv);
    return rd_scalar(P, kv->type, kv);
}

static mlxn_status check_alignment(parser *P) {
    mlxn_gguf *g = P->g;
    g->alignment = MLXN_GGUF_DEFAULT_ALIGNMENT;
    int64_t i = mlxn_names_find(g->kv_sorted, (size_t)g->n_kv, "general.alignment");
    if (i < 0) return MLXN_OK;
    const mlxn_gguf_kv *kv = &g->kv[i];
    if (kv->type != MLXN_GGUF_UINT32)
        return mlxn_err(MLXN_ERR_FORMAT, "gguf: key 'general.alignment' has type %s, want u32",
                        mlxn_gguf_vtype_name(kv->type));
    uint64_t a = kv->v.u;
    if (a == 0 || (a & (a - 1)) || a > P->lim->max_alignment)
        return mlxn_err(MLXN_ERR_FORMAT,
                        "gguf: key 'general.alignment' is %llu, want a power of two in [1, %u]",
                        (unsigned long long)a, P->lim->max_alignment);
    g->alignment = (uint32_t)a;
    return MLXN_OK;
}

static mlxn_status parse_tensor(parser *P, uint64_t i) {
    mlxn_gguf_tensor *t = &P->g->tensors[i];
    mlxn_gguf_str name;
    snprintf(P->what, sizeof P->what, "tensor #%llu", (unsigned long long)i);
    mlxn_status st = rd_name(P, &name, "tensor name");
    if (st) return st;
    t->info.name = name.s;
    t->name_len = name.len;
    char q[160];
    snprintf(P->what, sizeof P->what, "tensor '%s'", mlxn_quote(name.s, name.len, q, sizeof q));

    uint32_t ndim;
    if ((st = rd_u32(P, &ndim, "dim count"))) return st;
    if (ndim < 1 || ndim > (uint32_t)P->lim->max_dims)
        return mlxn_err(MLXN_ERR_FORMAT, "gguf: %s: %u dims, want 1..%d", P->what, ndim,
                        P->lim->max_dims);
    uint64_t ne[MLXN_MAX_DIMS] = {0}; /* GGUF order: ne[0] innermost */
    int64_t nonzero = 1;              /* product of the non-zero dims */
    for (uint32_t d = 0; d < ndim; d++) {
        if ((st = rd_u64(P, &ne[d], "dim"))) return st;
        if (ne[d] > (uint64_t)INT64_MAX)
            return mlxn_err(MLXN_ERR_FORMAT, "gguf: %s: dim %u is %llu, more than 2^63-1", P->what,
                            d, (unsigned long long)ne[d]);
    }
    for (uint32_t d = 0; d < ndim; d++) {
        if (ne[d] && __builtin_mul_overflow(nonzero, (int64_t)ne[d], &nonzero)) {
            char dims[128];
            int o = 0;
            for (uint32_t k = 0; k < ndim; k++)
                o += snprintf(dims + o, sizeof dims - (size_t)o, "%s%llu", k ? ", " : "",
                              (unsigned long long)ne[k]);
            return mlxn_err(MLXN_ERR_FORMAT,
                            "gguf: %s: element count of ne [%s] (GGUF order) overflows int64",
                            P->what, dims);
        }
    }
    uint32_t type_id;
    if ((st = rd_u32(P, &type_id, "type"))) return st;
    mlxn_type type;
    if (mlxn_type_from_ggml(type_id, &type) != MLXN_OK) {
        /* ggml's ids past the ones mlxn holds (NVFP4 = 40, Q1_0 = 41) are valid files that
         * mlxn cannot read; the gaps (removed formats) and anything larger are not. */
        if (type_id == 40 || type_id == 41)
            return mlxn_err(MLXN_ERR_UNSUPPORTED, "gguf: %s: tensor type id %u is not supported",
                            P->what, type_id);
        return mlxn_err(MLXN_ERR_FORMAT, "gguf: %s: unknown tensor type id %u", P->what, type_id);
    }
    int64_t blk = mlxn_type_block_elems(type);
    if ((int64_t)ne[0] % blk)
        return mlxn_err(MLXN_ERR_FORMAT,
                        "gguf: %s: row of %llu elements is not a multiple of %s's block of %lld",
                        P->what, (unsigned long long)ne[0], mlxn_type_name(type), (long long)blk);
    size_t bytes = 0;
    if (ne[0]) {
        size_t row = mlxn_row_bytes(type, (int64_t)ne[0]);
        uint64_t rows = (uint64_t)(nonzero / (int64_t)ne[0]);
        bool empty = false;
        for (uint32_t d = 1; d < ndim; d++) empty |= ne[d] == 0;
        if (row == 0 || (!empty && !mlxn_mul_size(row, (size_t)rows, &bytes)))
            return mlxn_err(MLXN_ERR_FORMAT,
                            "gguf: %s: %s tensor of %lld elements: byte size overflows", P->what,
                            mlxn_type_name(type), (long long)nonzero);
    }
    if ((st = rd_u64(P, &t->rel_offset, "offset"))) return st;
    if (t->rel_offset % P->g->alignment)
        return mlxn_err(MLXN_ERR_FORMAT, "gguf: %s: offset %llu is not a multiple of the alignment %u",
                        P->what, (unsigned long long)t->rel_offset, P->g->alignment);
    t->info.type = type;
    t->info.ndim = (int)ndim;
    for (uint32_t d = 0; d < ndim; d++) t->info.ne[d] = (int64_t)ne[ndim - 1 - d];
    t->info.bytes = bytes;
    return MLXN_OK;
}

static int cmp_offset(const void *pa, const void *pb) {
    const mlxn_gguf_tensor *a = *(const mlxn_gguf_tensor *const *)pa;
    const mlxn_gguf_tensor *b = *(const mlxn_gguf_tensor *const *)pb;
    return (a->rel_offset > b->rel_offset) - (a->rel_offset < b->rel_offset);
}

/* Every tensor inside the data section; no two (non-empty) overlapping. */
static mlxn_status check_extents(mlxn_gguf *g) {
    uint64_t data_size = g->data_offset <= g->map.size ? g->map.size - g->data_offset : 0;
    char q1[160], q2[160];
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const mlxn_gguf_tensor *t = &g->tensors[i];
        uint64_t end; /* empty tensors too: their offset must lie inside the section */
        if (__builtin_add_overflow(t->rel_offset, (uint64_t)t->info.bytes, &end) || end > data_size)
            return mlxn_err(MLXN_ERR_FORMAT,
                            "gguf: tensor '%s': %zu bytes at data offset %llu end past the data "
                            "section (%llu bytes from file offset %llu)",
                            mlxn_quote(t->info.name, t->name_len, q1, sizeof q1), t->info.bytes,
                            (unsigned long long)t->rel_offset, (unsigned long long)data_size,
                            (unsigned long long)g->data_offset);
    }
    if (g->n_tensors < 2) return MLXN_OK;
    size_t nb;
    if (!mlxn_mul_size((size_t)g->n_tensors, sizeof(mlxn_gguf_tensor *), &nb))
        return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "gguf: tensor table too large");
    const mlxn_gguf_tensor **by = malloc(nb);
    if (!by) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "gguf: cannot sort %llu tensors",
                             (unsigned long long)g->n_tensors);
    size_t n = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].info.bytes) by[n++] = &g->tensors[i];
    qsort(by, n, sizeof *by, cmp_offset);
    mlxn_status st = MLXN_OK;
    for (size_t i = 1; i < n; i++) {
        const mlxn_gguf_tensor *a = by[i - 1], *b = by[i];
        uint64_t a_end = a->rel_offset + a->info.bytes; /* checked above */
        if (a_end > b->rel_offset) {
            st = mlxn_err(MLXN_ERR_FORMAT,
                          "gguf: tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap",
                          mlxn_quote(a->info.name, a->name_len, q1, sizeof q1),
                          (unsigned long long)a->rel_offset, (unsigned long long)a_end,
                          mlxn_quote(b->info.name, b->name_len, q2, sizeof q2),
                          (unsigned long long)b->rel_offset,
                          (unsigned long long)(b->rel_offset + b->info.bytes));
            break;
        }
    }
    free(by);
    return st;
}

/* Sorted name index over n entries; FORMAT on a duplicate. */
static mlxn_status index_names(mlxn_gguf *g, mlxn_name_ref **out, uint64_t n, const char *what,
                               const char *(*name)(const mlxn_gguf *, uint64_t, size_t *)) {
    if (n == 0) return MLXN_OK;
    mlxn_name_ref *v = mlxn_arena_alloc(&g->arena, (size_t)n * sizeof *v); /* n bounded by the file */
    if (!v) return MLXN_ERR_OUT_OF_MEMORY;
    for (uint64_t i = 0; i < n; i++) {
        v[i].s = name(g, i, &v[i].len);
        v[i].idx = i;
    }
    size_t dup = mlxn_names_sort(v, (size_t)n);
    if (dup) {
        char q[160];
        return mlxn_err(MLXN_ERR_FORMAT, "gguf: duplicate %s '%s'", what,
                        mlxn_quote(v[dup].s, v[dup].len, q, sizeof q));
    }
    *out = v;
    return MLXN_OK;
}

static const char *kv_name(const mlxn_gguf *g, uint64_t i, size_t *len) {
    *len = g->kv[i].key.len;
    return g->kv[i].key.s;
}

static const char *tensor_name(const mlxn_gguf *g, uint64_t i, size_t *len) {
    *len = g->tensors[i].name_len;
    return g->tensors[i].info.name;
}

static mlxn_status parse(parser *P) {
    mlxn_gguf *g = P->g;
    mlxn_status st;
    char magic[4];
    snprintf(P->what, sizeof P->what, "header");
    if (g->map.size < 4 || memcmp(g->map.data, "GGUF", 4)) {
        char q[160];
        size_t n = g->map.size < 4 ? g->map.size : 4;
        return mlxn_err(MLXN_ERR_FORMAT, "gguf: bad magic \"%s\", want \"GGUF\"",
                        mlxn_quote((const char *)g->map.data, n, q, sizeof q));
    }
    if ((st = mlxn_rd_bytes(&P->r, magic, 4, "gguf: magic"))) return st;
    if ((st = rd_u32(P, &g->version, "version"))) return st;
    if (g->version != 2 && g->version != 3) {
        uint32_t sw = __builtin_bswap32(g->version);
        if (sw == 2 || sw == 3)
            return mlxn_err(MLXN_ERR_FORMAT, "gguf: big-endian GGUF (version %u) is not supported", sw);
        return mlxn_err(MLXN_ERR_FORMAT, "gguf: version %u is not supported (want 2 or 3)",
                        g->version);
    }
    if ((st = rd_u64(P, &g->n_tensors, "tensor count"))) return st;
    if ((st = rd_u64(P, &g->n_kv, "metadata count"))) return st;
    size_t left = mlxn_rd_left(&P->r);
    if (g->n_kv > P->lim->max_kv)
        return mlxn_err(MLXN_ERR_FORMAT, "gguf: metadata count %llu exceeds the limit of %llu",
                        (unsigned long long)g->n_kv, (unsigned long long)P->lim->max_kv);
    if (g->n_kv > left / KV_MIN_BYTES)
        return mlxn_err(MLXN_ERR_FORMAT,
                        "gguf: metadata count %llu cannot fit in the %zu bytes left (%u each at least)",
                        (unsigned long long)g->n_kv, left, KV_MIN_BYTES);
    if (g->n_tensors > P->lim->max_tensors)
        return mlxn_err(MLXN_ERR_FORMAT, "gguf: tensor count %llu exceeds the limit of %llu",
                        (unsigned long long)g->n_tensors, (unsigned long long)P->lim->max_tensors);
    if (g->n_tensors > (left - g->n_kv * KV_MIN_BYTES) / TENSOR_MIN_BYTES)
        return mlxn_err(MLXN_ERR_FORMAT,
                        "gguf: tensor count %llu cannot fit in the %zu bytes left (%u each at least)",
                        (unsigned long long)g->n_tensors, left, TENSOR_MIN_BYTES);
    /* Both counts are now bounded by the file's size. */
    if (g->n_kv && !(g->kv = mlxn_arena_alloc(&g->arena, (size_t)g->n_kv * sizeof *g->kv)))
        return MLXN_ERR_OUT_OF_MEMORY;
    if (g->n_tensors &&
        !(g->tensors = mlxn_arena_alloc(&g->arena, (size_t)g->n_tensors * sizeof *g->tensors)))
        return MLXN_ERR_OUT_OF_MEMORY;

    for (uint64_t i = 0; i < g->n_kv; i++)
        if ((st = parse_kv(P, i))) return st;
    if ((st = index_names(g, &g->kv_sorted, g->n_kv, "key", kv_name))) return st;
    if ((st = check_alignment(P))) return st;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if ((st = parse_tensor(P, i))) return st;
    if ((st = index_names(g, &g->tensors_sorted, g->n_tensors, "tensor name", tensor_name)))
        return st;
    if (!mlxn_align_up(P->r.pos, g->alignment, &g->data_offset))
        return mlxn_err(MLXN_ERR_FORMAT, "gguf: data section offset overflows");
    if ((st = check_extents(g))) return st;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        g->tensors[i].info.offset = g->data_offset + g->tensors[i].rel_offset;
    return MLXN_OK;
}

static mlxn_status check_limits(const mlxn_gguf_limits *lim) {
    if (!lim->max_string || !lim->max_array || !lim->max_kv || !lim->max_tensors ||
        !lim->max_name || !lim->max_alignment || (lim->max_alignment & (lim->max_alignment - 1)) ||
        lim->max_dims < 1 || lim->max_dims > MLXN_MAX_DIMS)
        return mlxn_err(MLXN_ERR_INVALID_ARG,
                        "gguf_open: limits must be non-zero, max_alignment a power of two, "
                        "max_dims in 1..%d",
                        MLXN_MAX_DIMS);
    return MLXN_OK;
}

static mlxn_status open_map(mlxn_map *m, const mlxn_gguf_limits *lim, mlxn_gguf **out) {
    mlxn_gguf_limits def;
    if (!lim) {
        mlxn_gguf_limits_init(&def);
        lim = &def;
    }
    mlxn_gguf *g = calloc(1, sizeof *g);
    if (!g) {
        mlxn_map_release(m);
        return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "gguf: cannot allocate the handle");
    }
    g->map = *m;
    g->alignment = MLXN_GGUF_DEFAULT_ALIGNMENT;
    parser P = {.r = {.p = m->data, .size = m->size}, .g = g, .lim = lim};
    mlxn_status st = parse(&P);
    if (st) {
        mlxn_gguf_close(g);
        return st;
    }
    *out = g;
    return MLXN_OK;
}

mlxn_status mlxn_gguf_open_ex(const char *path, const mlxn_gguf_limits *lim, mlxn_gguf **out) {
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_open: out is NULL");
    *out = NULL;
    if (!path) return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_open: path is NULL");
    if (lim && check_limits(lim)) return MLXN_ERR_INVALID_ARG;
    mlxn_map m;
    mlxn_status st = mlxn_map_file("gguf", path, &m);
    if (st) return st;
    return open_map(&m, lim, out);
}

mlxn_status mlxn_gguf_open(const char *path, mlxn_gguf **out) {
    return mlxn_gguf_open_ex(path, NULL, out);
}

mlxn_status mlxn_gguf_open_memory(const void *data, size_t size, const mlxn_gguf_limits *lim,
                                  mlxn_gguf **out) {
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_open_memory: out is NULL");
    *out = NULL;
    if (!data && size) return mlxn_err(MLXN_ERR_INVALID_ARG, "gguf_open_memory: data is NULL");
    if (lim && check_limits(lim)) return MLXN_ERR_INVALID_ARG;
    mlxn_map m = {.data = data, .size = size, .owned = false};
    return open_map(&m, lim, out);
}

void mlxn_gguf_close(mlxn_gguf *g) {
    if (!g) return;
    mlxn_map_release(&g->map);
    mlxn_arena_free(&g->arena);
    free(g);
}
