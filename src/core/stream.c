/* Streams and graphs: the public objects around a backend's queue and its recordings. */
#include <stdlib.h>

#include "core/core.h"

mlxn_status mlxn_stream_create(mlxn_device *dev, mlxn_stream **out) {
    if (!out) return mlxn_err(MLXN_ERR_INVALID_ARG, "stream_create: out is NULL");
    *out = NULL;
    if (!dev) return mlxn_err(MLXN_ERR_INVALID_ARG, "stream_create: dev is NULL");
    mlxn_stream *s = calloc(1, sizeof *s);
    if (!s) return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "stream_create: out of host memory");
    s->dev = dev;
    mlxn_status st = dev->vt->stream_create(dev->impl, &s->impl);
    if (st) {
        free(s);
        return st;
    }
    *out = s;
    return MLXN_OK;
}

mlxn_status mlxn_stream_sync(mlxn_stream *s) {
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "stream_sync: stream is NULL");
    if (s->recording) return mlxn_err(MLXN_ERR_INVALID_ARG, "stream_sync: the stream is recording a graph");
    return s->dev->vt->stream_sync(s->impl);
}

void mlxn_stream_destroy(mlxn_stream *s) {
    if (!s) return;
    if (s->recording) {
        void *g = NULL;
        if (s->dev->vt->graph_end(s->impl, &g) == MLXN_OK) s->dev->vt->graph_destroy(g);
        atomic_fetch_sub(&s->dev->recording, 1);
    }
    s->dev->vt->stream_destroy(s->impl);
    free(s);
}

mlxn_device *mlxn_stream_device(const mlxn_stream *s) { return s ? s->dev : NULL; }

mlxn_status mlxn_graph_begin(mlxn_stream *s) {
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "graph_begin: stream is NULL");
    if (s->recording) return mlxn_err(MLXN_ERR_INVALID_ARG, "graph_begin: the stream is already recording");
    mlxn_status st = s->dev->vt->graph_begin(s->impl);
    if (st) return st;
    s->recording = true;
    s->recorded = 0;
    atomic_fetch_add(&s->dev->recording, 1);
    return MLXN_OK;
}

mlxn_status mlxn_graph_end(mlxn_stream *s, mlxn_graph **out) {
    if (out) *out = NULL;
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "graph_end: stream is NULL");
    if (!s->recording) return mlxn_err(MLXN_ERR_INVALID_ARG, "graph_end: the stream is not recording");
    s->recording = false;
    atomic_fetch_sub(&s->dev->recording, 1);
    void *impl = NULL;
    mlxn_status st = s->dev->vt->graph_end(s->impl, &impl); /* ends the recording even on failure */
    if (st) return st;
    if (!out) {
        s->dev->vt->graph_destroy(impl);
        return mlxn_err(MLXN_ERR_INVALID_ARG, "graph_end: out is NULL (the recording was dropped)");
    }
    mlxn_graph *g = calloc(1, sizeof *g);
    if (!g) {
        s->dev->vt->graph_destroy(impl);
        return mlxn_err(MLXN_ERR_OUT_OF_MEMORY, "graph_end: out of host memory");
    }
    g->dev = s->dev;
    g->impl = impl;
    g->n_ops = s->recorded;
    *out = g;
    return MLXN_OK;
}

mlxn_status mlxn_graph_replay(mlxn_stream *s, const mlxn_graph *g) {
    if (!s) return mlxn_err(MLXN_ERR_INVALID_ARG, "graph_replay: stream is NULL");
    if (!g) return mlxn_err(MLXN_ERR_INVALID_ARG, "graph_replay: graph is NULL");
    if (g->dev != s->dev) return mlxn_err(MLXN_ERR_INVALID_ARG, "graph_replay: the graph belongs to another device");
    if (s->recording) return mlxn_err(MLXN_ERR_INVALID_ARG, "graph_replay: the stream is recording a graph");
    return s->dev->vt->graph_replay(s->impl, g->impl);
}

size_t mlxn_graph_ops(const mlxn_graph *g) { return g ? g->n_ops : 0; }

void mlxn_graph_destroy(mlxn_graph *g) {
    if (!g) return;
    g->dev->vt->graph_destroy(g->impl);
    free(g);
}
