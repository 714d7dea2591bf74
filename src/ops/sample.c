/* Sampling family front end: argmax, top_k and sample. Validates the contract in mlxn.h,
 * resolves the parameters into the f32 values both backends use (1/temperature, log(min_p)),
 * and hands one mlxn_sample_args to the backend. */
#include <math.h>

#include "core/core.h"
#include "ops/check.h"

mlxn_sample_params mlxn_sample_defaults(void) {
    mlxn_sample_params p = {.temperature = 1.0f,
                            .top_k = 0,
                            .top_p = 1.0f,
                            .min_p = 0.0f,
                            .repetition_penalty = 1.0f,
                            .presence_penalty = 0.0f,
                            .frequency_penalty = 0.0f,
                            .advance = true};
    return p;
}

/* The checks every mode shares: the stream, logits [rows][V] or [V], and the output (I32):
 * [rows] when per_row is 0, else [rows][per_row] (or [per_row] for one row). Fills rows and v. */
static mlxn_status common(const char *op, mlxn_stream *s, const mlxn_buffer *logits, const mlxn_buffer *out,
                          const char *out_name, int64_t per_row, int64_t *rows, int64_t *v) {
    char s1[96], s2[96];
    mlxn_status st;
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: stream is NULL", op);
    if ((st = mlxn_check_on(op, "logits", s, logits)) || (st = mlxn_check_on(op, out_name, s, out))) return st;
    if (!mlxn_is_float(logits->type))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: logits is %s, want f32, f16 or bf16", op, mlxn_type_name(logits->type));
    if (logits->ndim > 2)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: logits has shape %s, want [rows][V] or [V]", op,
                        mlxn_shape_str(logits, s1, sizeof s1));
    *v = logits->ne[logits->ndim - 1];
    *rows = logits->ndim == 2 ? logits->ne[0] : 1;
    if (*v < 1 || *v > INT32_MAX)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: logits has V=%lld, want 1..%d", op, (long long)*v, INT32_MAX);
    if (out->type != MLXN_TYPE_I32)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s is %s, want i32", op, out_name, mlxn_type_name(out->type));
    if (out->readonly) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s is read-only", op, out_name);
    bool shape_ok = per_row == 0 ? out->ndim == 1 && out->ne[0] == *rows
                                 : out->ndim == 2 && out->ne[0] == *rows && out->ne[1] == per_row;
    if (!shape_ok && per_row > 0 && *rows == 1) shape_ok = out->ndim == 1 && out->ne[0] == per_row;
    if (!shape_ok)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s has shape %s, want [%lld]%s for logits %s", op, out_name,
                        mlxn_shape_str(out, s1, sizeof s1), (long long)*rows, per_row > 0 ? "[k]" : "",
                        mlxn_shape_str(logits, s2, sizeof s2));
    if (mlxn_buffer_overlap(out, logits)) return mlxn_err(MLXN_ERR_INVALID_ARG, "%s: %s overlaps logits", op, out_name);
    if (!s->dev->vt->sample)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "%s: not implemented on the %s backend", op, s->dev->vt->name);
    return MLXN_OK;
}

static mlxn_status run(mlxn_stream *s, const mlxn_sample_args *a) {
    mlxn_status st = s->dev->vt->sample(s->impl, a);
    if (st == MLXN_OK) mlxn_stream_count_op(s);
    return st;
}

mlxn_status mlxn_argmax(mlxn_stream *s, const mlxn_buffer *logits, mlxn_buffer *idx, const void *params) {
    int64_t rows = 0, v = 0;
    mlxn_status st = common("argmax", s, logits, idx, "idx", 0, &rows, &v);
    if (st) return st;
    if (rows == 0) return MLXN_OK;
    mlxn_sample_args a = {.mode = MLXN_SAMPLE_ARGMAX, .tl = logits->type, .logits = mlxn_buf_ptr(logits),
                          .out = mlxn_buf_ptr(idx), .rows = rows, .v = v};
    return run(s, &a);
}

mlxn_status mlxn_top_k(mlxn_stream *s, const mlxn_buffer *logits, mlxn_buffer *values, mlxn_buffer *indices,
                       const void *params) {
    char s1[96], s2[96];
    int64_t rows = 0, v = 0;
    mlxn_status st;
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "top_k: stream is NULL");
    if ((st = mlxn_check_on("top_k", "indices", s, indices))) return st;
    const int64_t k = indices->ne[indices->ndim - 1];
    if (k < 1) return mlxn_err(MLXN_ERR_INVALID_ARG, "top_k: k=%lld (indices' last dim), want >= 1", (long long)k);
    if ((st = common("top_k", s, logits, indices, "indices", k, &rows, &v))) return st;
    if (k < 1 || k > v)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "top_k: k=%lld (indices' last dim), want 1..V=%lld", (long long)k,
                        (long long)v);
    if (k > MLXN_SAMPLE_MAX_K)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "top_k: k=%lld, at most %d", (long long)k, MLXN_SAMPLE_MAX_K);
    if (values) {
        if ((st = mlxn_check_on("top_k", "values", s, values))) return st;
        if (!mlxn_is_float(values->type))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "top_k: values is %s, want f32, f16 or bf16", mlxn_type_name(values->type));
        bool same = values->ndim == indices->ndim;
        for (int d = 0; same && d < values->ndim; d++) same = values->ne[d] == indices->ne[d];
        if (!same)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "top_k: values has shape %s, want indices' shape %s",
                            mlxn_shape_str(values, s1, sizeof s1), mlxn_shape_str(indices, s2, sizeof s2));
        if (values->readonly) return mlxn_err(MLXN_ERR_INVALID_ARG, "top_k: values is read-only");
        if (mlxn_buffer_overlap(values, logits) || mlxn_buffer_overlap(values, indices))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "top_k: values overlaps %s",
                            mlxn_buffer_overlap(values, logits) ? "logits" : "indices");
    }
    if (rows == 0) return MLXN_OK;
    mlxn_sample_args a = {.mode = MLXN_SAMPLE_TOP_K, .tl = logits->type, .tv = values ? values->type : MLXN_TYPE_F32,
                          .logits = mlxn_buf_ptr(logits), .out = mlxn_buf_ptr(indices),
                          .values = values ? mlxn_buf_ptr(values) : NULL, .rows = rows, .v = v, .k = (int32_t)k};
    return run(s, &a);
}

mlxn_status mlxn_sample(mlxn_stream *s, const mlxn_buffer *logits, const mlxn_buffer *recent, mlxn_buffer *rng,
                        mlxn_buffer *token, const mlxn_sample_params *pp) {
    char s1[96];
    int64_t rows = 0, v = 0;
    mlxn_status st = common("sample", s, logits, token, "token", 0, &rows, &v);
    if (st) return st;
    if ((st = mlxn_check_on("sample", "rng", s, rng))) return st;
    if (rng->type != MLXN_TYPE_I64 || mlxn_buffer_nelements(rng) != 2)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "sample: rng is %s %s, want i64 [2] = {seed, step}", mlxn_type_name(rng->type),
                        mlxn_shape_str(rng, s1, sizeof s1));
    if (rng->readonly) return mlxn_err(MLXN_ERR_INVALID_ARG, "sample: rng is read-only");
    if (mlxn_buffer_overlap(rng, token) || mlxn_buffer_overlap(rng, logits))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "sample: rng overlaps %s", mlxn_buffer_overlap(rng, token) ? "token" : "logits");
    const mlxn_sample_params p = pp ? *pp : mlxn_sample_defaults();
    int64_t w = 0;
    bool per_row = false;
    if (recent) {
        if ((st = mlxn_check_on("sample", "recent", s, recent))) return st;
        w = recent->ne[recent->ndim - 1];
        per_row = recent->ndim == 2 && recent->ne[0] == rows && rows > 1;
        if (recent->type != MLXN_TYPE_I32 || !(recent->ndim == 1 || (recent->ndim == 2 && (recent->ne[0] == rows || recent->ne[0] == 1))))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "sample: recent is %s %s, want i32 [W] or [%lld][W]",
                            mlxn_type_name(recent->type), mlxn_shape_str(recent, s1, sizeof s1), (long long)rows);
        if (w > MLXN_SAMPLE_MAX_RECENT)
            return mlxn_err(MLXN_ERR_INVALID_ARG, "sample: recent has W=%lld ids per row, at most %d", (long long)w,
                            MLXN_SAMPLE_MAX_RECENT);
        if (mlxn_buffer_overlap(token, recent) || mlxn_buffer_overlap(rng, recent))
            return mlxn_err(MLXN_ERR_INVALID_ARG, "sample: recent overlaps %s",
                            mlxn_buffer_overlap(token, recent) ? "token" : "rng");
    }
    if (p.temperature != p.temperature)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "sample: temperature is NaN");
    if (p.top_k < 0) return mlxn_err(MLXN_ERR_INVALID_ARG, "sample: top_k=%d is negative", p.top_k);
    if (!(p.top_p > 0.0f && p.top_p <= 1.0f))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "sample: top_p=%g, want (0, 1]", p.top_p);
    if (!(p.min_p >= 0.0f && p.min_p <= 1.0f))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "sample: min_p=%g, want [0, 1]", p.min_p);
    if (!(p.repetition_penalty > 0.0f) || !isfinite(p.repetition_penalty))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "sample: repetition_penalty=%g, want > 0", p.repetition_penalty);
    if (!isfinite(p.presence_penalty) || !isfinite(p.frequency_penalty))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "sample: presence_penalty=%g and frequency_penalty=%g must be finite",
                        p.presence_penalty, p.frequency_penalty);
    if (rows == 0) return MLXN_OK;
    const int32_t *rc = recent && w > 0 ? mlxn_buf_ptr(recent) : NULL;
    /* The ids are host memory only on the CPU, and settled only when the op runs now. */
    if (rc && s->dev->backend == MLXN_BACKEND_CPU && !s->recording) {
        const int64_t n = mlxn_buffer_nelements(recent);
        for (int64_t i = 0; i < n; i++)
            if (rc[i] >= v)
                return mlxn_err(MLXN_ERR_INVALID_ARG, "sample: recent[%lld] = %d is not a token id (V = %lld)",
                                (long long)i, rc[i], (long long)v);
    }
    const bool penalize = rc && (p.repetition_penalty != 1.0f || p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f);
    mlxn_sample_args a = {
        .mode = MLXN_SAMPLE_DRAW,
        .tl = logits->type,
        .logits = mlxn_buf_ptr(logits),
        .recent = penalize ? rc : NULL,
        .rng = mlxn_buf_ptr(rng),
        .out = mlxn_buf_ptr(token),
        .rows = rows,
        .v = v,
        .w = penalize ? w : 0,
        .recent_per_row = per_row,
        .k = p.top_k > 0 && p.top_k < v ? p.top_k : 0,
        .greedy = !(p.temperature > 0.0f),
        .penalize = penalize,
        .inv_temp = p.temperature > 0.0f ? 1.0f / p.temperature : 1.0f,
        .rep = p.repetition_penalty,
        .presence = p.presence_penalty,
        .freq = p.frequency_penalty,
        .log_min_p = p.min_p > 0.0f ? logf(p.min_p) : -INFINITY,
        .top_p = p.top_p,
        .advance = p.advance,
    };
    return run(s, &a);
}
