/* Y = X · Wᵀ through cuBLASLt for a dense bf16 W (a prepared copy, or one dequantized into the
 * workspace) and X as dense bf16 rows. cuBLASLt is opened at run time (dlopen): where it is
 * absent, or takes no algorithm for a call, the call is MLXN_ERR_UNSUPPORTED and the caller's
 * tiled kernel takes it. A call shape keeps its descriptors and the heuristic's first algorithm,
 * so the same call always runs the same algorithm: results repeat bit for bit, also replayed. */
#include <cublasLt.h>
#include <dlfcn.h>
#include <pthread.h>

#include <atomic>

#include "cuda/qmatmul.cuh"

#define QLT_STR2(x) #x
#define QLT_STR(x) QLT_STR2(x)

namespace {

struct lt_api {
    decltype(&cublasLtCreate) create;
    decltype(&cublasLtMatmulDescCreate) desc_create;
    decltype(&cublasLtMatmulDescDestroy) desc_destroy;
    decltype(&cublasLtMatmulDescSetAttribute) desc_set;
    decltype(&cublasLtMatrixLayoutCreate) layout_create;
    decltype(&cublasLtMatrixLayoutDestroy) layout_destroy;
    decltype(&cublasLtMatrixLayoutSetAttribute) layout_set;
    decltype(&cublasLtMatmulPreferenceCreate) pref_create;
    decltype(&cublasLtMatmulPreferenceDestroy) pref_destroy;
    decltype(&cublasLtMatmulPreferenceSetAttribute) pref_set;
    decltype(&cublasLtMatmulAlgoGetHeuristic) heuristic;
    decltype(&cublasLtMatmul) matmul;
};

/* One call shape. Y[b][M][N] (row-major) is cuBLASLt's column-major D = N × M' with
 * D = op(A)·B, A = Wp as K × N (ld K) transposed and B = X as K × M' (ld K); a batch that shares
 * W is folded into M' = batch·M, one that does not is a strided batch. */
struct lt_key {
    int dev, m, n, k, batch, strided;
    mlxn_type ty;
    unsigned al_w, al_x, al_y;
};

struct lt_entry {
    lt_key key;
    unsigned long long used; /* lt_clock at its last call: the least recent one makes room */
    bool ok; /* false: cuBLASLt has no algorithm for it (remembered, not asked again) */
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, ld;
    cublasLtMatmulAlgo_t algo;
};

/* Prefill calls vary M with the prompt: past LT_MAX_ENTRIES shapes the least recently used
 * entry is released and asked for again when it returns (the heuristic answers the same). */
constexpr int LT_MAX_DEV = 64, LT_MAX_ENTRIES = 512;

pthread_mutex_t lt_mu = PTHREAD_MUTEX_INITIALIZER;
std::atomic<int> lt_state; /* 0 not tried, 1 loaded, -1 absent */
lt_api lt;
cublasLtHandle_t lt_handle[LT_MAX_DEV];
bool lt_handle_failed[LT_MAX_DEV]; /* cublasLtCreate failed once: that device stays without */
lt_entry lt_cache[LT_MAX_ENTRIES];
int lt_n;
unsigned long long lt_clock;

bool lt_load() { /* under lt_mu */
    if (lt_state) return lt_state > 0;
    void *h = dlopen("libcublasLt.so." QLT_STR(CUBLAS_VER_MAJOR), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        lt_state = -1;
        return false;
    }
    struct {
        void **p;
        const char *name;
    } syms[] = {{(void **)&lt.create, "cublasLtCreate"},
                {(void **)&lt.desc_create, "cublasLtMatmulDescCreate"},
                {(void **)&lt.desc_destroy, "cublasLtMatmulDescDestroy"},
                {(void **)&lt.desc_set, "cublasLtMatmulDescSetAttribute"},
                {(void **)&lt.layout_create, "cublasLtMatrixLayoutCreate"},
                {(void **)&lt.layout_destroy, "cublasLtMatrixLayoutDestroy"},
                {(void **)&lt.layout_set, "cublasLtMatrixLayoutSetAttribute"},
                {(void **)&lt.pref_create, "cublasLtMatmulPreferenceCreate"},
                {(void **)&lt.pref_destroy, "cublasLtMatmulPreferenceDestroy"},
                {(void **)&lt.pref_set, "cublasLtMatmulPreferenceSetAttribute"},
                {(void **)&lt.heuristic, "cublasLtMatmulAlgoGetHeuristic"},
                {(void **)&lt.matmul, "cublasLtMatmul"}};
    for (auto &s : syms)
        if (!(*s.p = dlsym(h, s.name))) {
            dlclose(h);
            lt_state = -1;
            return false;
        }
    lt_state = 1;
    return true;
}

unsigned lt_align(uintptr_t v) {
    const uintptr_t low = v & (~v + 1);
    return !v || low >= 256 ? 256u : (unsigned)low;
}

bool lt_same(const lt_key &a, const lt_key &b) {
    return a.dev == b.dev && a.m == b.m && a.n == b.n && a.k == b.k && a.batch == b.batch && a.strided == b.strided &&
           a.ty == b.ty && a.al_w == b.al_w && a.al_x == b.al_x && a.al_y == b.al_y;
}

void lt_release(lt_entry *e) {
    if (e->desc) lt.desc_destroy(e->desc);
    if (e->la) lt.layout_destroy(e->la);
    if (e->lb) lt.layout_destroy(e->lb);
    if (e->ld) lt.layout_destroy(e->ld);
    *e = lt_entry{};
}

/* Descriptors, layouts and the algorithm for key c (in e->key): 0, LT_NONE where the heuristic
 * has no algorithm, or the cuBLASLt status of a step that failed (what was made stays in e
 * until it is released). */
constexpr int LT_NONE = -1;
int lt_setup(cublasLtHandle_t h, lt_entry *e) {
    const lt_key &c = e->key;
    const cudaDataType_t dt = c.ty == MLXN_TYPE_F32 ? CUDA_R_32F : CUDA_R_16BF;
    const long long mm = c.strided ? c.m : (long long)c.m * c.batch;
    const cublasOperation_t opt = CUBLAS_OP_T, opn = CUBLAS_OP_N;
    cublasStatus_t r;
    if ((r = lt.desc_create(&e->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F)) ||
        (r = lt.desc_set(e->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opt, sizeof opt)) ||
        (r = lt.desc_set(e->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opn, sizeof opn)) ||
        (r = lt.layout_create(&e->la, CUDA_R_16BF, (uint64_t)c.k, (uint64_t)c.n, c.k)) ||
        (r = lt.layout_create(&e->lb, CUDA_R_16BF, (uint64_t)c.k, (uint64_t)mm, c.k)) ||
        (r = lt.layout_create(&e->ld, dt, (uint64_t)c.n, (uint64_t)mm, c.n)))
        return (int)r;
    if (c.strided) {
        const int32_t nb = c.batch;
        const int64_t sa = (int64_t)c.n * c.k, sb = (int64_t)c.m * c.k, sd = (int64_t)c.m * c.n;
        if ((r = lt.layout_set(e->la, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &nb, sizeof nb)) ||
            (r = lt.layout_set(e->la, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &sa, sizeof sa)) ||
            (r = lt.layout_set(e->lb, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &nb, sizeof nb)) ||
            (r = lt.layout_set(e->lb, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &sb, sizeof sb)) ||
            (r = lt.layout_set(e->ld, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &nb, sizeof nb)) ||
            (r = lt.layout_set(e->ld, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &sd, sizeof sd)))
            return (int)r;
    }
    cublasLtMatmulPreference_t pref = NULL;
    const uint64_t wsb = QMM_LT_WS;
    const uint32_t aw = c.al_w, ax = c.al_x, ay = c.al_y;
    /* split-K partial sums are added in f32 (bf16 y: in the workspace, never in y's type) */
    const uint32_t red = c.ty == MLXN_TYPE_F32 ? (uint32_t)CUBLASLT_REDUCTION_SCHEME_MASK
                                               : (uint32_t)(CUBLASLT_REDUCTION_SCHEME_NONE |
                                                            CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE);
    if ((r = lt.pref_create(&pref)) || (r = lt.pref_set(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof wsb)) ||
        (r = lt.pref_set(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &red, sizeof red)) ||
        (r = lt.pref_set(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &aw, sizeof aw)) ||
        (r = lt.pref_set(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &ax, sizeof ax)) ||
        (r = lt.pref_set(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &ay, sizeof ay)) ||
        (r = lt.pref_set(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &ay, sizeof ay))) {
        if (pref) lt.pref_destroy(pref);
        return (int)r;
    }
    cublasLtMatmulHeuristicResult_t hr;
    int found = 0;
    r = lt.heuristic(h, e->desc, e->la, e->lb, e->ld, e->ld, pref, 1, &hr, &found);
    lt.pref_destroy(pref);
    if (r == CUBLAS_STATUS_NOT_SUPPORTED || (!r && found < 1)) return LT_NONE;
    if (r) return (int)r;
    e->algo = hr.algo;
    return 0;
}

} // namespace

bool qmm_lt_loaded(void) {
    if (const int known = lt_state.load(std::memory_order_acquire)) return known > 0;
    pthread_mutex_lock(&lt_mu);
    const bool ok = lt_load();
    pthread_mutex_unlock(&lt_mu);
    return ok;
}

mlxn_status qmm_lt(cuda_stream *s, const qmm_kp &p, void *ws) {
    if (p.ty != MLXN_TYPE_F32 && p.ty != MLXN_TYPE_BF16)
        return mlxn_err(MLXN_ERR_UNSUPPORTED, "qmatmul: cuBLASLt takes y as f32 or bf16, not %s", mlxn_type_name(p.ty));
    const int dev = s->dev->ordinal;
    const bool strided = p.batch > 1 && p.w_batch != 0;
    const size_t es = p.ty == MLXN_TYPE_F32 ? 4 : 2;
    lt_key key = {dev, p.m, p.n, p.k, p.batch, strided, p.ty, lt_align((uintptr_t)p.w), lt_align((uintptr_t)p.x),
                  lt_align((uintptr_t)p.y)};
    if (strided) { /* every batch's matrix starts at the alignment cuBLASLt is promised */
        key.al_w = lt_align((uintptr_t)p.w | (uintptr_t)p.n * p.k * 2);
        key.al_x = lt_align((uintptr_t)p.x | (uintptr_t)p.m * p.k * 2);
        key.al_y = lt_align((uintptr_t)p.y | (uintptr_t)p.m * p.n * es);
    }
    pthread_mutex_lock(&lt_mu);
    mlxn_status st = MLXN_OK;
    lt_entry *e = NULL;
    if (dev < 0 || dev >= LT_MAX_DEV) {
        st = mlxn_err(MLXN_ERR_UNSUPPORTED, "qmatmul: cuBLASLt is used on devices 0-%d, not %d", LT_MAX_DEV - 1, dev);
        goto out;
    }
    if (!lt_load()) {
        st = mlxn_err(MLXN_ERR_UNSUPPORTED, "qmatmul: cuBLASLt (libcublasLt.so.%d) is not available", CUBLAS_VER_MAJOR);
        goto out;
    }
    if (!lt_handle[dev] && !lt_handle_failed[dev]) {
        if (const cublasStatus_t r = lt.create(&lt_handle[dev])) {
            lt_handle[dev] = NULL;
            lt_handle_failed[dev] = true;
            mlxn_log(MLXN_LOG_WARN, "qmatmul: cublasLtCreate failed on device %d (status %d): its own kernels only", dev,
                     (int)r);
        }
    }
    if (!lt_handle[dev]) {
        st = mlxn_err(MLXN_ERR_UNSUPPORTED, "qmatmul: no cuBLASLt handle on device %d", dev);
        goto out;
    }
    for (int i = 0; i < lt_n && !e; i++)
        if (lt_same(lt_cache[i].key, key)) e = &lt_cache[i];
    if (!e) {
        if (lt_n < LT_MAX_ENTRIES) {
            e = &lt_cache[lt_n++];
        } else {
            e = &lt_cache[0];
            for (int i = 1; i < lt_n; i++)
                if (lt_cache[i].used < e->used) e = &lt_cache[i];
        }
        lt_release(e);
        e->key = key;
        const int r = lt_setup(lt_handle[dev], e);
        if (r > 0) { /* a failed step is not remembered: the next call asks again */
            lt_release(e);
            e->key.dev = -1;
            st = mlxn_err(MLXN_ERR_UNSUPPORTED, "qmatmul: cuBLASLt setup failed (status %d) at M %d N %d K %d batch %d", r,
                          p.m, p.n, p.k, p.batch);
            goto out;
        }
        e->ok = r == 0;
    }
    e->used = ++lt_clock;
    if (!e->ok) {
        st = mlxn_err(MLXN_ERR_UNSUPPORTED, "qmatmul: cuBLASLt has no algorithm for M %d N %d K %d batch %d y %s", p.m,
                      p.n, p.k, p.batch, mlxn_type_name(p.ty));
        goto out;
    }
    {
        const float one = 1.0f, zero = 0.0f;
        const cublasStatus_t r = lt.matmul(lt_handle[dev], e->desc, &one, p.w, e->la, p.x, e->lb, &zero, p.y, e->ld,
                                           p.y, e->ld, &e->algo, ws, QMM_LT_WS, s->s);
        if (r) /* not supported: nothing was enqueued, the caller's kernel takes it */
            st = mlxn_err(r == CUBLAS_STATUS_NOT_SUPPORTED ? MLXN_ERR_UNSUPPORTED : MLXN_ERR_DEVICE,
                          "qmatmul: cublasLtMatmul failed (status %d) at M %d N %d K %d batch %d", (int)r, p.m, p.n,
                          p.k, p.batch);
    }
out:
    pthread_mutex_unlock(&lt_mu);
    return st;
}
