/* The readers' shared helpers: file mapping, the bump arena, the bounded cursor, name
 * quoting and sorting, and tensor views and uploads. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io.h"

mlxn_status mlxn_map_file(const char *what, const char *path, mlxn_map *m) {
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return mlxn_err(MLXN_ERR_IO, "%s: cannot open '%s': %s", what, path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return mlxn_err(MLXN_ERR_IO, "%s: cannot stat '%s': %s", what, path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return mlxn_err(MLXN_ERR_IO, "%s: '%s' is not a regular file", what, path);
    }
    if (sb.st_size == 0) {
        close(fd);
        return mlxn_err(MLXN_ERR_FORMAT, "%s: '%s' is empty (0 bytes)", what, path);
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return mlxn_err(MLXN_ERR_IO, "%s: '%s' is too large to map", what, path);
    }
    void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return mlxn_err(MLXN_ERR_IO, "%s: cannot map '%s' (%lld bytes): %s", what, path,
                        (long long)sb.st_size, strerror(e));
    m->data = p;
    m->size = (size_t)sb.st_size;
    m->owned = true;
    return MLXN_OK;
}

void mlxn_map_release(mlxn_map *m) {
    if (m->owned && m->data) munmap((void *)m->data, m->size);
    memset(m, 0, sizeof *m);
}

/* ── arena ── */

struct mlxn_arena_chunk {
    mlxn_arena_chunk *next;
    size_t pad; /* keeps the payload 16-byte aligned */
    unsigned char data[];
};

void *mlxn_arena_alloc(mlxn_arena *a, size_t bytes) {
    size_t need;
    if (!mlxn_align_up_size(bytes, 8, &need))
        goto oom;
    if (!a->head || a->cap - a->used < need) {
        size_t cap = need > 65536 ? need : 65536, total;
        if (!mlxn_add_size(cap, sizeof(mlxn_arena_chunk), &total)) goto oom;
        mlxn_arena_chunk *c = malloc(total);
        if (!c) goto oom;
        c->next = a->head;
        a->head = c;
        a->cap = cap;
        a->used = 0;
    }
    void *p = a->head->data + a->used;
    a->used += need;
    memset(p, 0, need);
    return p;
oom:
    mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "arena: cannot allocate %zu bytes", bytes);
    return NULL;
}

char *mlxn_arena_strdup(mlxn_arena *a, const void *s, size_t len) {
    size_t n;
    if (!mlxn_add_size(len, 1, &n)) {
        mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "arena: string of %zu bytes", len);
        return NULL;
    }
    char *d = mlxn_arena_alloc(a, n);
    if (d && len) memcpy(d, s, len);
    return d;
}

void mlxn_arena_free(mlxn_arena *a) {
    mlxn_arena_chunk *c = a->head;
    while (c) {
        mlxn_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    memset(a, 0, sizeof *a);
}

/* ── cursor ── */

mlxn_status mlxn_rd_bytes(mlxn_rd *r, void *dst, size_t n, const char *what) {
    if (mlxn_rd_left(r) < n)
        return mlxn_err(MLXN_ERR_FORMAT, "%s: needs %zu bytes at offset %zu, the file ends at %zu",
                        what, n, r->pos, r->size);
    if (n) memcpy(dst, r->p + r->pos, n);
    r->pos += n;
    return MLXN_OK;
}

mlxn_status mlxn_rd_u32(mlxn_rd *r, uint32_t *v, const char *what) {
    return mlxn_rd_bytes(r, v, 4, what);
}

mlxn_status mlxn_rd_u64(mlxn_rd *r, uint64_t *v, const char *what) {
    return mlxn_rd_bytes(r, v, 8, what);
}

const char *mlxn_quote(const char *s, size_t len, char *out, size_t cap) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (cap < 8) {
        if (cap) out[0] = 0;
        return out;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o + 8 >= cap || i >= 64) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = 0;
    return out;
}

/* ── names ── */

static int name_cmp(const void *pa, const void *pb) {
    const mlxn_name_ref *a = pa, *b = pb;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->s, b->s, n) : 0;
    if (c) return c;
    return (a->len > b->len) - (a->len < b->len);
}

size_t mlxn_names_sort(mlxn_name_ref *v, size_t n) {
    if (n < 2) return 0;
    qsort(v, n, sizeof *v, name_cmp);
    for (size_t i = 1; i < n; i++)
        if (!name_cmp(&v[i - 1], &v[i])) return i;
    return 0;
}

int64_t mlxn_names_find(const mlxn_name_ref *v, size_t n, const char *name) {
    if (!v || !name) return -1;
    mlxn_name_ref key = {.s = name, .len = strlen(name)};
    const mlxn_name_ref *hit = bsearch(&key, v, n, sizeof *v, name_cmp);
    return hit ? (int64_t)hit->idx : -1;
}

/* ── views and uploads ── */

mlxn_status mlxn_wrap_bytes(const char *op, mlxn_device *dev, mlxn_type type, int ndim,
                            const int64_t *ne, const void *src, size_t bytes, mlxn_buffer **out) {
    static const int64_t one[1] = {1};
    if (!dev || !out) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s is NULL", op, dev ? "out" : "dev");
    if (ndim == 0) {
        ndim = 1;
        ne = one;
    }
    return mlxn_buffer_wrap(dev, type, ndim, ne, src, bytes, out);
}

/* 64 MiB per write: a progress bar moves, and a device write stays one large copy. */
#define UPLOAD_CHUNK ((size_t)64 << 20)

mlxn_status mlxn_upload_bytes(const char *op, mlxn_device *dev, mlxn_type type, int ndim,
                              const int64_t *ne, const void *src, size_t bytes,
                              mlxn_progress_fn progress, void *user, mlxn_buffer **out) {
    static const int64_t one[1] = {1};
    if (!dev || !out) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s is NULL", op, dev ? "out" : "dev");
    *out = NULL;
    if (ndim == 0) {
        ndim = 1;
        ne = one;
    }
    mlxn_buffer *b = NULL;
    mlxn_status st = mlxn_buffer_alloc(dev, type, ndim, ne, &b);
    if (st) return st;
    if (mlxn_buffer_bytes(b) != bytes) {
        mlxn_buffer_free(b);
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: buffer of %zu bytes for a tensor of %zu", op,
                        mlxn_buffer_bytes(b), bytes);
    }
    size_t done = 0;
    while (done < bytes) {
        size_t n = bytes - done < UPLOAD_CHUNK ? bytes - done : UPLOAD_CHUNK;
        st = mlxn_buffer_write(b, done, (const char *)src + done, n);
        if (st) {
            mlxn_buffer_free(b);
            return st;
        }
        done += n;
        if (progress) progress(done, bytes, user);
    }
    if (progress && bytes == 0) progress(0, 0, user);
    *out = b;
    return MLXN_OK;
}
