/* mlxn inspect FILE [--json] [--full] [--upload]: the metadata and tensor table of a
 * GGUF or safetensors file, as text or JSON; arrays and long strings abbreviated unless
 * --full; --upload copies every tensor to the default device with a progress bar. A file
 * that does not open gives one line on stderr and exit code 1. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlxn.h"
#include "cli.h"

typedef struct out {
    bool json, full, upload;
} out;

#define ARRAY_HEAD 8   /* array elements shown unless --full */
#define STRING_HEAD 96 /* bytes of a string shown in text unless --full */

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    size_t len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
    if (!len || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return len;
}

/* A string as a JSON string literal, or in text as "..." with escapes, cut unless full. */
static void put_str(const out *o, const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t shown = !o->json && !o->full && len > STRING_HEAD ? STRING_HEAD : len;
    putchar('"');
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c == '\r') fputs("\\r", stdout);
        else if (c < 0x20 || c == 0x7f) printf("\\u%04x", c);
        else if (c < 0x80) putchar(c);
        else {
            size_t k = utf8_len(s + i, len - i);
            if (k) {
                fwrite(s + i, 1, k, stdout);
                i += k - 1;
            } else {
                fputs(o->json ? "\\ufffd" : "\\x", stdout);
                if (!o->json) printf("%02x", c);
            }
        }
    }
    putchar('"');
    if (shown < len) printf("... (%zu bytes)", len);
}

static void put_float(const out *o, double v, bool f32) {
    if (isfinite(v)) printf(f32 ? "%.9g" : "%.17g", v);
    else printf(o->json ? "\"%s\"" : "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
}

/* Element i of a numeric array of type t. */
static void put_elem(const out *o, mlxn_gguf_vtype t, const void *data, uint64_t i) {
    const unsigned char *p = data;
    switch (t) {
    case MLXN_GGUF_UINT8: printf("%u", p[i]); break;
    case MLXN_GGUF_INT8: printf("%d", ((const int8_t *)data)[i]); break;
    case MLXN_GGUF_UINT16: printf("%u", ((const uint16_t *)data)[i]); break;
    case MLXN_GGUF_INT16: printf("%d", ((const int16_t *)data)[i]); break;
    case MLXN_GGUF_UINT32: printf("%" PRIu32, ((const uint32_t *)data)[i]); break;
    case MLXN_GGUF_INT32: printf("%" PRId32, ((const int32_t *)data)[i]); break;
    case MLXN_GGUF_UINT64: printf("%" PRIu64, ((const uint64_t *)data)[i]); break;
    case MLXN_GGUF_INT64: printf("%" PRId64, ((const int64_t *)data)[i]); break;
    case MLXN_GGUF_FLOAT32: put_float(o, ((const float *)data)[i], true); break;
    case MLXN_GGUF_FLOAT64: put_float(o, ((const double *)data)[i], false); break;
    case MLXN_GGUF_BOOL: fputs(p[i] ? "true" : "false", stdout); break;
    default: fputs("null", stdout); break;
    }
}

static void put_value(const out *o, const mlxn_gguf *g, const char *key, mlxn_gguf_vtype t) {
    uint64_t u;
    int64_t i;
    double f;
    bool b;
    const char *s;
    size_t len;
    switch (t) {
    case MLXN_GGUF_UINT8: case MLXN_GGUF_UINT16: case MLXN_GGUF_UINT32: case MLXN_GGUF_UINT64:
        mlxn_gguf_get_u64(g, key, &u);
        printf("%" PRIu64, u);
        return;
    case MLXN_GGUF_INT8: case MLXN_GGUF_INT16: case MLXN_GGUF_INT32: case MLXN_GGUF_INT64:
        mlxn_gguf_get_i64(g, key, &i);
        printf("%" PRId64, i);
        return;
    case MLXN_GGUF_FLOAT32: case MLXN_GGUF_FLOAT64:
        mlxn_gguf_get_f64(g, key, &f);
        put_float(o, f, t == MLXN_GGUF_FLOAT32);
        return;
    case MLXN_GGUF_BOOL:
        mlxn_gguf_get_bool(g, key, &b);
        fputs(b ? "true" : "false", stdout);
        return;
    case MLXN_GGUF_STRING:
        mlxn_gguf_get_str(g, key, &s, &len);
        put_str(o, s, len);
        return;
    default: break;
    }
    mlxn_gguf_vtype et;
    uint64_t n;
    const void *data;
    mlxn_gguf_get_arr(g, key, &et, &n, &data);
    uint64_t shown = o->full || n <= ARRAY_HEAD ? n : ARRAY_HEAD;
    if (o->json) printf("{\"elem_type\": \"%s\", \"length\": %" PRIu64 ", \"values\": [", mlxn_gguf_vtype_name(et), n);
    else printf("[");
    for (uint64_t k = 0; k < shown; k++) {
        if (k) fputs(", ", stdout);
        if (et == MLXN_GGUF_STRING) {
            mlxn_gguf_get_arr_str(g, key, k, &s, &len);
            put_str(o, s, len);
        } else {
            put_elem(o, et, data, k);
        }
    }
    if (o->json) printf("]%s}", shown < n ? ", \"truncated\": true" : "");
    else printf("%s]", shown < n ? ", ..." : "");
}

static void put_shape(const mlxn_tensor_info *ti) {
    putchar('[');
    for (int d = 0; d < ti->ndim; d++) printf("%s%" PRId64, d ? ", " : "", ti->ne[d]);
    putchar(']');
}

static void put_tensor_json(const out *o, const mlxn_tensor_info *ti, bool last) {
    printf("    {\"name\": ");
    put_str(o, ti->name, strlen(ti->name));
    printf(", \"type\": \"%s\", \"shape\": ", mlxn_type_name(ti->type));
    put_shape(ti);
    printf(", \"offset\": %" PRIu64 ", \"bytes\": %zu}%s\n", ti->offset, ti->bytes, last ? "" : ",");
}

static void put_tensor_text(const mlxn_tensor_info *ti, uint64_t i, int name_w) {
    char shape[128];
    int n = snprintf(shape, sizeof shape, "[");
    for (int d = 0; d < ti->ndim; d++) n += snprintf(shape + n, sizeof shape - (size_t)n, "%s%" PRId64, d ? ", " : "", ti->ne[d]);
    snprintf(shape + n, sizeof shape - (size_t)n, "]");
    printf("  %5" PRIu64 "  %-*s  %-8s  %-22s  %12" PRIu64 "  %12zu\n", i, name_w, ti->name,
           mlxn_type_name(ti->type), shape, ti->offset, ti->bytes);
}

static int name_width(uint64_t n, mlxn_status (*info)(const void *, uint64_t, mlxn_tensor_info *), const void *h) {
    int w = 4;
    for (uint64_t i = 0; i < n; i++) {
        mlxn_tensor_info ti;
        info(h, i, &ti);
        int l = (int)strlen(ti.name);
        if (l > w) w = l < 48 ? l : 48;
    }
    return w;
}

static mlxn_status gguf_info(const void *h, uint64_t i, mlxn_tensor_info *ti) { return mlxn_gguf_tensor_info(h, i, ti); }
static mlxn_status st_info(const void *h, uint64_t i, mlxn_tensor_info *ti) { return mlxn_safetensors_tensor_info(h, i, ti); }

static size_t total_bytes(uint64_t n, mlxn_status (*info)(const void *, uint64_t, mlxn_tensor_info *), const void *h) {
    size_t t = 0;
    for (uint64_t i = 0; i < n; i++) {
        mlxn_tensor_info ti;
        info(h, i, &ti);
        t += ti.bytes; /* the tensors lie in the file without overlap: no overflow */
    }
    return t;
}

static void tensors(const out *o, uint64_t n, mlxn_status (*info)(const void *, uint64_t, mlxn_tensor_info *),
                    const void *h) {
    if (o->json) {
        printf("  \"tensors\": [\n");
        for (uint64_t i = 0; i < n; i++) {
            mlxn_tensor_info ti;
            info(h, i, &ti);
            put_tensor_json(o, &ti, i + 1 == n);
        }
        printf("  ]\n}\n");
        return;
    }
    int w = name_width(n, info, h);
    printf("\ntensors: %" PRIu64 ", %.1f MiB (shapes outermost first)\n", n, (double)total_bytes(n, info, h) / 1048576.0);
    printf("  %5s  %-*s  %-8s  %-22s  %12s  %12s\n", "#", w, "name", "type", "shape", "offset", "bytes");
    for (uint64_t i = 0; i < n; i++) {
        mlxn_tensor_info ti;
        info(h, i, &ti);
        put_tensor_text(&ti, i, w);
    }
}

/* ── --upload: every tensor to the default device, one progress bar over all bytes ── */

typedef struct bar {
    uint64_t base, total; /* bytes of the tensors before this one; of all */
    int shown;            /* last percentage drawn */
} bar;

static void bar_draw(uint64_t done, uint64_t total, void *user) {
    bar *b = user;
    (void)total;
    uint64_t at = b->base + done;
    int pct = b->total ? (int)(at * 100 / b->total) : 100;
    if (pct == b->shown) return;
    b->shown = pct;
    char cells[41];
    for (int i = 0; i < 40; i++) cells[i] = i < pct * 40 / 100 ? '#' : '.';
    cells[40] = 0;
    fprintf(stderr, "\rupload [%s] %3d%% %.1f/%.1f MiB", cells, pct, (double)at / 1048576.0,
            (double)b->total / 1048576.0);
    fflush(stderr);
}

typedef mlxn_status (*upload_fn)(const void *h, uint64_t i, mlxn_device *dev, mlxn_progress_fn fn,
                                 void *user, mlxn_buffer **out);

static mlxn_status gguf_up(const void *h, uint64_t i, mlxn_device *d, mlxn_progress_fn f, void *u, mlxn_buffer **o) {
    return mlxn_gguf_tensor_upload(h, i, d, f, u, o);
}
static mlxn_status st_up(const void *h, uint64_t i, mlxn_device *d, mlxn_progress_fn f, void *u, mlxn_buffer **o) {
    return mlxn_safetensors_tensor_upload(h, i, d, f, u, o);
}

static int upload_all(const char *path, uint64_t n, mlxn_status (*info)(const void *, uint64_t, mlxn_tensor_info *),
                      upload_fn up, const void *h) {
    mlxn_device *dev = NULL;
    mlxn_device_props p;
    mlxn_status st = mlxn_device_open(MLXN_BACKEND_AUTO, 0, &dev);
    if (st) return mlxn_cli_fail("inspect", "device_open", st);
    if (mlxn_device_info(dev, &p) == MLXN_OK)
        fprintf(stderr, "upload to %s:%d (%s)\n", mlxn_backend_name(p.backend), p.ordinal, p.name);
    bar b = {.total = total_bytes(n, info, h), .shown = -1};
    for (uint64_t i = 0; i < n && !st; i++) {
        mlxn_tensor_info ti;
        mlxn_buffer *buf = NULL;
        info(h, i, &ti);
        st = up(h, i, dev, bar_draw, &b, &buf);
        mlxn_buffer_free(buf);
        b.base += ti.bytes;
    }
    fprintf(stderr, "\n");
    mlxn_device_close(dev);
    return st ? mlxn_cli_fail("inspect", path, st) : 0;
}

static int inspect_gguf(const out *o, const char *path) {
    mlxn_gguf *g = NULL;
    mlxn_status st = mlxn_gguf_open(path, &g);
    if (st) return mlxn_cli_fail("inspect", path, st);
    uint64_t nkv = mlxn_gguf_kv_count(g), nt = mlxn_gguf_tensor_count(g);
    if (o->json) {
        printf("{\n  \"file\": ");
        put_str(o, path, strlen(path));
        printf(",\n  \"format\": \"gguf\",\n  \"version\": %u,\n  \"alignment\": %u,\n  \"data_offset\": %" PRIu64
               ",\n  \"metadata\": [\n", mlxn_gguf_version(g), mlxn_gguf_alignment(g), mlxn_gguf_data_offset(g));
    } else {
        printf("%s: GGUF v%u, %" PRIu64 " metadata entries, %" PRIu64 " tensors, alignment %u, data at byte %" PRIu64 "\n",
               path, mlxn_gguf_version(g), nkv, nt, mlxn_gguf_alignment(g), mlxn_gguf_data_offset(g));
        printf("\nmetadata:\n");
    }
    int kw = 0;
    for (uint64_t i = 0; i < nkv; i++) {
        int l = (int)strlen(mlxn_gguf_kv_key(g, i));
        if (l > kw) kw = l < 48 ? l : 48;
    }
    for (uint64_t i = 0; i < nkv; i++) {
        const char *key = mlxn_gguf_kv_key(g, i);
        mlxn_gguf_vtype t = mlxn_gguf_kv_type(g, i);
        if (o->json) {
            printf("    {\"key\": ");
            put_str(o, key, strlen(key));
            printf(", \"type\": \"%s\", \"value\": ", mlxn_gguf_vtype_name(t));
            put_value(o, g, key, t);
            printf("}%s\n", i + 1 == nkv ? "" : ",");
        } else {
            char tn[32];
            if (t == MLXN_GGUF_ARRAY) {
                mlxn_gguf_vtype et;
                uint64_t n;
                const void *d;
                mlxn_gguf_get_arr(g, key, &et, &n, &d);
                snprintf(tn, sizeof tn, "%s[%" PRIu64 "]", mlxn_gguf_vtype_name(et), n);
            } else {
                snprintf(tn, sizeof tn, "%s", mlxn_gguf_vtype_name(t));
            }
            printf("  %-*s  %-12s  ", kw, key, tn);
            put_value(o, g, key, t);
            putchar('\n');
        }
    }
    if (o->json) printf("  ],\n");
    tensors(o, nt, gguf_info, g);
    int rc = o->upload ? upload_all(path, nt, gguf_info, gguf_up, g) : 0;
    mlxn_gguf_close(g);
    return rc;
}

static int inspect_safetensors(const out *o, const char *path) {
    mlxn_safetensors *st = NULL;
    mlxn_status s = mlxn_safetensors_open(path, &st);
    if (s) return mlxn_cli_fail("inspect", path, s);
    uint64_t nm = mlxn_safetensors_meta_count(st), nt = mlxn_safetensors_tensor_count(st);
    if (o->json) {
        printf("{\n  \"file\": ");
        put_str(o, path, strlen(path));
        printf(",\n  \"format\": \"safetensors\",\n  \"metadata\": {");
    } else {
        printf("%s: safetensors, %" PRIu64 " metadata entries, %" PRIu64 " tensors\n", path, nm, nt);
        if (nm) printf("\nmetadata:\n");
    }
    for (uint64_t i = 0; i < nm; i++) {
        const char *k = mlxn_safetensors_meta_key(st, i), *v = mlxn_safetensors_meta_value(st, i);
        if (o->json) {
            printf("%s\n    ", i ? "," : "");
            put_str(o, k, strlen(k));
            printf(": ");
        } else {
            printf("  %-24s  ", k);
        }
        put_str(o, v, strlen(v));
        if (!o->json) putchar('\n');
    }
    if (o->json) printf("%s},\n", nm ? "\n  " : "");
    tensors(o, nt, st_info, st);
    int rc = o->upload ? upload_all(path, nt, st_info, st_up, st) : 0;
    mlxn_safetensors_close(st);
    return rc;
}

static bool is_gguf(const char *path) {
    unsigned char m[4] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(m, 1, 4, f) : 0;
    if (f) fclose(f);
    size_t l = strlen(path);
    return (n == 4 && !memcmp(m, "GGUF", 4)) || (l >= 5 && !strcmp(path + l - 5, ".gguf"));
}

int mlxn_cmd_inspect(int argc, char **argv) {
    out o = {0};
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) o.json = true;
        else if (!strcmp(argv[i], "--full")) o.full = true;
        else if (!strcmp(argv[i], "--upload")) o.upload = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) path = NULL, i = argc;
        else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "mlxn inspect: unexpected argument '%s'\n", argv[i]);
            return 2;
        } else path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: mlxn inspect FILE [--json] [--full] [--upload]\n"
                        "  metadata and tensors of a GGUF or safetensors file; --full shows whole\n"
                        "  arrays; --upload copies every tensor to the default device (progress bar)\n");
        return 2;
    }
    return is_gguf(path) ? inspect_gguf(&o, path) : inspect_safetensors(&o, path);
}
