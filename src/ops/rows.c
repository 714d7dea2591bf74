/* Rows family front end: get_rows. Validates the contract in mlxn.h and hands one
 * mlxn_get_rows_args to the backend. */
#include "core/core.h"
#include "ops/check.h"
#include "quant/traits.h"

mlxn_get_rows_params mlxn_get_rows_defaults(void) {
    mlxn_get_rows_params p = {.scale = 1.0f};
    return p;
}

mlxn_status mlxn_get_rows(mlxn_stream *s, const mlxn_buffer *table, const mlxn_buffer *ids, mlxn_buffer *y,
                          const mlxn_get_rows_params *p) {
    char s1[96], s2[96];
    mlxn_status st;
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "get_rows: stream is NULL");
    if ((st = mlxn_check_on("get_rows", "table", s, table)) || (st = mlxn_check_on("get_rows", "ids", s, ids)) ||
        (st = mlxn_check_on("get_rows", "y", s, y)))
        return st;
    const mlxn_type_traits *tt = mlxn_traits(table->type);
    if (!mlxn_is_float(table->type) && !(tt->block_elems > 1 && tt->to_float))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "get_rows: table is %s, want f32, f16, bf16 or a block format",
                        mlxn_type_name(table->type));
    if (table->ndim != 2)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "get_rows: table has shape %s, want [n_rows][K]",
                        mlxn_shape_str(table, s1, sizeof s1));
    if (ids->type != MLXN_TYPE_I32)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "get_rows: ids is %s, want i32", mlxn_type_name(ids->type));
    if (ids->ndim > 3)
        return mlxn_err(MLXN_ERR_INVALID_ARG, "get_rows: ids has %d dims, want 1..3", ids->ndim);
    if (!mlxn_is_float(y->type))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "get_rows: y is %s, want f32, f16 or bf16", mlxn_type_name(y->type));
    if (y->readonly) return mlxn_err(MLXN_ERR_INVALID_ARG, "get_rows: y is read-only");
    const int64_t n_rows = table->ne[0], k = table->ne[1], n = mlxn_buffer_nelements(ids);
    bool shape_ok = y->ndim == ids->ndim + 1 && y->ne[y->ndim - 1] == k;
    for (int d = 0; shape_ok && d < ids->ndim; d++) shape_ok = y->ne[d] == ids->ne[d];
    if (!shape_ok && !(y->ndim == 2 && y->ne[0] == n && y->ne[1] == k))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "get_rows: y has shape %s, want ids' shape %s + [%lld] or [%lld][%lld]",
                        mlxn_shape_str(y, s1, sizeof s1), mlxn_shape_str(ids, s2, sizeof s2), (long long)k,
                        (long long)n, (long long)k);
    if (mlxn_buffer_overlap(y, table) || mlxn_buffer_overlap(y, ids))
        return mlxn_err(MLXN_ERR_INVALID_ARG, "get_rows: y overlaps %s", mlxn_buffer_overlap(y, table) ? "table" : "ids");
    mlxn_get_rows_params prm = p ? *p : mlxn_get_rows_defaults();
    if (n == 0 || k == 0) return MLXN_OK;
    if (!s->dev->vt->get_rows)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "get_rows: not implemented on the %s backend", s->dev->vt->name);
    const int32_t *id = mlxn_buf_ptr(ids);
    /* The ids are host memory only on the CPU, and settled only when the op runs now. */
    if (s->dev->backend == MLXN_BACKEND_CPU && !s->recording) {
        for (int64_t i = 0; i < n; i++)
            if (id[i] < 0 || id[i] >= n_rows)
                return mlxn_err(MLXN_ERR_INVALID_ARG, "get_rows: ids[%lld] = %d is outside the table's %lld rows",
                                (long long)i, id[i], (long long)n_rows);
    }
    mlxn_get_rows_args a = {
        .tt = table->type,
        .ty = y->type,
        .table = mlxn_buf_ptr(table),
        .ids = id,
        .y = mlxn_buf_ptr(y),
        .n_ids = n,
        .n_rows = n_rows,
        .k = k,
        .row_bytes = mlxn_row_bytes(table->type, k),
        .scale = prm.scale,
        .scaled = prm.scale != 1.0f,
    };
    if ((st = s->dev->vt->get_rows(s->impl, &a))) return st;
    mlxn_stream_count_op(s);
    return MLXN_OK;
}
