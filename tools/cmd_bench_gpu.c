/* mlxn bench's GPU ceilings, through the CUDA driver API and cuBLASLt opened with dlopen:
 * a streaming-read kernel (PTX below, generated from dev/qmatmul/readbw.cu by
 * `nvcc -ptx -arch=compute_80`) and a cuBLASLt BF16 GEMM. The few driver and cuBLASLt
 * declarations needed are written out here, so nothing from the toolkit is needed to build. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd_bench.h"

double bench_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Generated: do not edit (see the top of this file). */
static const char read_bw_ptx[] =
    ".version 9.0\n"
    ".target sm_80\n"
    ".address_size 64\n"
    ".visible .entry mlxn_read_bw(\n"
    "    .param .u64 mlxn_read_bw_param_0,\n"
    "    .param .u64 mlxn_read_bw_param_1,\n"
    "    .param .u64 mlxn_read_bw_param_2\n"
    ")\n"
    "{\n"
    "    .reg .pred     %p<5>;\n"
    "    .reg .b32     %r<56>;\n"
    "    .reg .b64     %rd<38>;\n"
    "    ld.param.u64     %rd15, [mlxn_read_bw_param_0];\n"
    "    ld.param.u64     %rd16, [mlxn_read_bw_param_1];\n"
    "    ld.param.u64     %rd17, [mlxn_read_bw_param_2];\n"
    "    mov.u32     %r1, %ctaid.x;\n"
    "    mov.u32     %r2, %ntid.x;\n"
    "    cvt.u64.u32     %rd1, %r2;\n"
    "    mul.wide.u32     %rd18, %r1, %r2;\n"
    "    mov.u32     %r3, %tid.x;\n"
    "    cvt.u64.u32     %rd19, %r3;\n"
    "    add.s64     %rd36, %rd18, %rd19;\n"
    "    mov.u32     %r11, %nctaid.x;\n"
    "    cvt.u64.u32     %rd3, %r11;\n"
    "    mul.wide.u32     %rd4, %r11, %r2;\n"
    "    mul.lo.s64     %rd5, %rd4, 3;\n"
    "    add.s64     %rd20, %rd36, %rd5;\n"
    "    setp.ge.u64     %p1, %rd20, %rd16;\n"
    "    mov.u32     %r55, 0;\n"
    "    @%p1 bra     $L__BB0_3;\n"
    "    shl.b64     %rd21, %rd36, 4;\n"
    "    add.s64     %rd35, %rd15, %rd21;\n"
    "    mul.lo.s64     %rd22, %rd3, %rd1;\n"
    "    shl.b64     %rd7, %rd22, 4;\n"
    "    mov.u32     %r55, 0;\n"
    "$L__BB0_2:\n"
    "    ld.global.nc.v4.u32 {%r13,%r14,%r15,%r16}, [%rd35];\n"
    "    add.s64     %rd24, %rd35, %rd7;\n"
    "    ld.global.nc.v4.u32 {%r17,%r18,%r19,%r20}, [%rd24];\n"
    "    add.s64     %rd25, %rd24, %rd7;\n"
    "    ld.global.nc.v4.u32 {%r21,%r22,%r23,%r24}, [%rd25];\n"
    "    add.s64     %rd26, %rd25, %rd7;\n"
    "    add.s64     %rd35, %rd26, %rd7;\n"
    "    ld.global.nc.v4.u32 {%r25,%r26,%r27,%r28}, [%rd26];\n"
    "    xor.b32      %r29, %r14, %r55;\n"
    "    xor.b32      %r30, %r29, %r13;\n"
    "    xor.b32      %r31, %r30, %r15;\n"
    "    xor.b32      %r32, %r31, %r16;\n"
    "    xor.b32      %r33, %r32, %r17;\n"
    "    xor.b32      %r34, %r33, %r18;\n"
    "    xor.b32      %r35, %r34, %r19;\n"
    "    xor.b32      %r36, %r35, %r20;\n"
    "    xor.b32      %r37, %r36, %r21;\n"
    "    xor.b32      %r38, %r37, %r22;\n"
    "    xor.b32      %r39, %r38, %r23;\n"
    "    xor.b32      %r40, %r39, %r24;\n"
    "    xor.b32      %r41, %r40, %r25;\n"
    "    xor.b32      %r42, %r41, %r26;\n"
    "    xor.b32      %r43, %r42, %r27;\n"
    "    xor.b32      %r55, %r43, %r28;\n"
    "    add.s64     %rd27, %rd36, %rd4;\n"
    "    add.s64     %rd36, %rd5, %rd27;\n"
    "    add.s64     %rd28, %rd36, %rd5;\n"
    "    setp.lt.u64     %p2, %rd28, %rd16;\n"
    "    @%p2 bra     $L__BB0_2;\n"
    "$L__BB0_3:\n"
    "    setp.ge.u64     %p3, %rd36, %rd16;\n"
    "    @%p3 bra     $L__BB0_5;\n"
    "$L__BB0_4:\n"
    "    shl.b64     %rd30, %rd36, 4;\n"
    "    add.s64     %rd29, %rd15, %rd30;\n"
    "    ld.global.nc.v4.u32 {%r44,%r45,%r46,%r47}, [%rd29];\n"
    "    xor.b32      %r48, %r45, %r55;\n"
    "    xor.b32      %r49, %r48, %r44;\n"
    "    xor.b32      %r50, %r49, %r46;\n"
    "    xor.b32      %r55, %r50, %r47;\n"
    "    add.s64     %rd36, %rd36, %rd4;\n"
    "    setp.lt.u64     %p4, %rd36, %rd16;\n"
    "    @%p4 bra     $L__BB0_4;\n"
    "$L__BB0_5:\n"
    "    mad.lo.s32     %r51, %r1, %r2, %r3;\n"
    "    cvta.to.global.u64     %rd31, %rd17;\n"
    "    mul.wide.u32     %rd32, %r51, 4;\n"
    "    add.s64     %rd33, %rd31, %rd32;\n"
    "    st.global.u32     [%rd33], %r55;\n"
    "    ret;\n"
    "}\n";

typedef int CUresult; /* 0 = CUDA_SUCCESS */
typedef int CUdevice;
typedef void *CUcontext, *CUmodule, *CUfunction, *CUstream, *CUevent;
typedef unsigned long long CUdeviceptr;

struct bench_gpu {
    void *cuda, *lt;
    CUcontext ctx;
    CUdevice dev;
    int sms;
    CUresult (*cuInit)(unsigned);
    CUresult (*cuDeviceGet)(CUdevice *, int);
    CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice);
    CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
    CUresult (*cuDevicePrimaryCtxRelease)(CUdevice);
    CUresult (*cuCtxSetCurrent)(CUcontext);
    CUresult (*cuCtxSynchronize)(void);
    CUresult (*cuModuleLoadData)(CUmodule *, const void *);
    CUresult (*cuModuleUnload)(CUmodule);
    CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
    CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
    CUresult (*cuMemFree)(CUdeviceptr);
    CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
    CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                               CUstream, void **, void **);
    CUresult (*cuEventCreate)(CUevent *, unsigned);
    CUresult (*cuEventDestroy)(CUevent);
    CUresult (*cuEventRecord)(CUevent, CUstream);
    CUresult (*cuEventSynchronize)(CUevent);
    CUresult (*cuEventElapsedTime)(float *, CUevent, CUevent);
    CUresult (*cuGetErrorString)(CUresult, const char **);
};

#define SYM(lib, field, name)                                        \
    do {                                                             \
        *(void **)&g->field = dlsym(lib, name);                      \
        if (!g->field) {                                             \
            snprintf(why, why_len, "%s lacks %s", #lib, name);       \
            goto fail;                                               \
        }                                                            \
    } while (0)

static const char *cu_err(bench_gpu *g, CUresult r) {
    const char *s = NULL;
    if (g->cuGetErrorString) g->cuGetErrorString(r, &s);
    return s ? s : "unknown CUDA error";
}

bench_gpu *bench_gpu_open(int ordinal, char *why, size_t why_len) {
    bench_gpu *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    void *cuda = g->cuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!cuda) {
        snprintf(why, why_len, "no CUDA driver: %s", dlerror());
        goto fail;
    }
    SYM(cuda, cuInit, "cuInit");
    SYM(cuda, cuDeviceGet, "cuDeviceGet");
    SYM(cuda, cuDeviceGetAttribute, "cuDeviceGetAttribute");
    SYM(cuda, cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
    SYM(cuda, cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2");
    SYM(cuda, cuCtxSetCurrent, "cuCtxSetCurrent");
    SYM(cuda, cuCtxSynchronize, "cuCtxSynchronize");
    SYM(cuda, cuModuleLoadData, "cuModuleLoadData");
    SYM(cuda, cuModuleUnload, "cuModuleUnload");
    SYM(cuda, cuModuleGetFunction, "cuModuleGetFunction");
    SYM(cuda, cuMemAlloc, "cuMemAlloc_v2");
    SYM(cuda, cuMemFree, "cuMemFree_v2");
    SYM(cuda, cuMemcpyHtoD, "cuMemcpyHtoD_v2");
    SYM(cuda, cuLaunchKernel, "cuLaunchKernel");
    SYM(cuda, cuEventCreate, "cuEventCreate");
    SYM(cuda, cuEventDestroy, "cuEventDestroy_v2");
    SYM(cuda, cuEventRecord, "cuEventRecord");
    SYM(cuda, cuEventSynchronize, "cuEventSynchronize");
    SYM(cuda, cuEventElapsedTime, "cuEventElapsedTime_v2");
    SYM(cuda, cuGetErrorString, "cuGetErrorString");
    CUresult r;
    if ((r = g->cuInit(0)) || (r = g->cuDeviceGet(&g->dev, ordinal)) ||
        (r = g->cuDevicePrimaryCtxRetain(&g->ctx, g->dev)) || (r = g->cuCtxSetCurrent(g->ctx)) ||
        (r = g->cuDeviceGetAttribute(&g->sms, 16 /* CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT */, g->dev))) {
        snprintf(why, why_len, "CUDA driver: %s", cu_err(g, r));
        goto fail;
    }
    return g;
fail:
    if (g->ctx) g->cuDevicePrimaryCtxRelease(g->dev);
    if (g->cuda) dlclose(g->cuda);
    free(g);
    return NULL;
}

void bench_gpu_close(bench_gpu *g) {
    if (!g) return;
    g->cuDevicePrimaryCtxRelease(g->dev);
    if (g->lt) dlclose(g->lt);
    dlclose(g->cuda);
    free(g);
}

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

double bench_gpu_read_bw(bench_gpu *g, size_t bytes, char *why, size_t why_len) {
    CUmodule mod = NULL;
    CUfunction f;
    CUdeviceptr buf = 0, out = 0;
    CUevent e0 = NULL, e1 = NULL;
    double result = -1;
    const unsigned threads = 512, blocks = (unsigned)g->sms * 4;
    unsigned long long n16 = bytes / 16;
    CUresult r;
    g->cuCtxSetCurrent(g->ctx);
    if ((r = g->cuModuleLoadData(&mod, read_bw_ptx)) || (r = g->cuModuleGetFunction(&f, mod, "mlxn_read_bw")) ||
        (r = g->cuMemAlloc(&buf, bytes)) || (r = g->cuMemAlloc(&out, sizeof(unsigned) * threads * blocks)) ||
        (r = g->cuEventCreate(&e0, 0)) || (r = g->cuEventCreate(&e1, 0))) {
        snprintf(why, why_len, "read kernel setup: %s", cu_err(g, r));
        goto done;
    }
    { /* non-zero data */
        size_t chunk = (size_t)1 << 24;
        unsigned char *h = malloc(chunk);
        if (!h) goto done;
        for (size_t i = 0; i < chunk; i++) h[i] = (unsigned char)(i * 2654435761u >> 13);
        for (size_t o = 0; o < bytes && !r; o += chunk) r = g->cuMemcpyHtoD(buf + o, h, bytes - o < chunk ? bytes - o : chunk);
        free(h);
        if (r) {
            snprintf(why, why_len, "read kernel data: %s", cu_err(g, r));
            goto done;
        }
    }
    void *params[3] = {&buf, &n16, &out};
    float ms[9];
    for (int it = -2; it < 9; it++) {
        if ((r = g->cuEventRecord(e0, NULL)) || (r = g->cuLaunchKernel(f, blocks, 1, 1, threads, 1, 1, 0, NULL, params, NULL)) ||
            (r = g->cuEventRecord(e1, NULL)) || (r = g->cuEventSynchronize(e1))) {
            snprintf(why, why_len, "read kernel: %s", cu_err(g, r));
            goto done;
        }
        if (it >= 0) g->cuEventElapsedTime(&ms[it], e0, e1);
    }
    qsort(ms, 9, sizeof ms[0], cmp_f);
    result = (double)(n16 * 16) / (ms[4] * 1e-3);
done:
    if (e0) g->cuEventDestroy(e0);
    if (e1) g->cuEventDestroy(e1);
    if (buf) g->cuMemFree(buf);
    if (out) g->cuMemFree(out);
    if (mod) g->cuModuleUnload(mod);
    return result;
}

/* ── cuBLASLt: the handful of declarations used (values from cublasLt.h / library_types.h) ── */
typedef int cublasStatus_t;
typedef void *cublasLtHandle_t, *cublasLtMatmulDesc_t, *cublasLtMatrixLayout_t, *cublasLtMatmulPreference_t;
typedef struct {
    uint64_t data[8];
} cublasLtMatmulAlgo_t;
typedef struct {
    cublasLtMatmulAlgo_t algo;
    size_t workspaceSize;
    cublasStatus_t state;
    float wavesCount;
    int reserved[4];
} cublasLtMatmulHeuristicResult_t;
enum { LT_R_32F = 0, LT_R_16BF = 14, LT_COMPUTE_32F = 68, LT_DESC_TRANSA = 3, LT_DESC_TRANSB = 4, LT_OP_N = 0,
       LT_OP_T = 1, LT_PREF_MAX_WORKSPACE = 1 };

typedef struct lt_fns {
    cublasStatus_t (*create)(cublasLtHandle_t *);
    cublasStatus_t (*destroy)(cublasLtHandle_t);
    cublasStatus_t (*desc_create)(cublasLtMatmulDesc_t *, int, int);
    cublasStatus_t (*desc_destroy)(cublasLtMatmulDesc_t);
    cublasStatus_t (*desc_set)(cublasLtMatmulDesc_t, int, const void *, size_t);
    cublasStatus_t (*layout_create)(cublasLtMatrixLayout_t *, int, uint64_t, uint64_t, int64_t);
    cublasStatus_t (*layout_destroy)(cublasLtMatrixLayout_t);
    cublasStatus_t (*pref_create)(cublasLtMatmulPreference_t *);
    cublasStatus_t (*pref_destroy)(cublasLtMatmulPreference_t);
    cublasStatus_t (*pref_set)(cublasLtMatmulPreference_t, int, const void *, size_t);
    cublasStatus_t (*heuristic)(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                cublasLtMatrixLayout_t, cublasLtMatrixLayout_t, cublasLtMatmulPreference_t, int,
                                cublasLtMatmulHeuristicResult_t *, int *);
    cublasStatus_t (*matmul)(cublasLtHandle_t, cublasLtMatmulDesc_t, const void *, const void *, cublasLtMatrixLayout_t,
                             const void *, cublasLtMatrixLayout_t, const void *, const void *, cublasLtMatrixLayout_t,
                             void *, cublasLtMatrixLayout_t, const cublasLtMatmulAlgo_t *, void *, size_t, CUstream);
} lt_fns;

static bool lt_load(bench_gpu *g, lt_fns *lt, char *why, size_t why_len) {
    if (!g->lt) g->lt = dlopen("libcublasLt.so.13", RTLD_NOW | RTLD_LOCAL);
    if (!g->lt) {
        snprintf(why, why_len, "cuBLASLt absent (libcublasLt.so.13: %s)", dlerror());
        return false;
    }
    struct {
        void **p;
        const char *name;
    } syms[] = {{(void **)&lt->create, "cublasLtCreate"},
                {(void **)&lt->destroy, "cublasLtDestroy"},
                {(void **)&lt->desc_create, "cublasLtMatmulDescCreate"},
                {(void **)&lt->desc_destroy, "cublasLtMatmulDescDestroy"},
                {(void **)&lt->desc_set, "cublasLtMatmulDescSetAttribute"},
                {(void **)&lt->layout_create, "cublasLtMatrixLayoutCreate"},
                {(void **)&lt->layout_destroy, "cublasLtMatrixLayoutDestroy"},
                {(void **)&lt->pref_create, "cublasLtMatmulPreferenceCreate"},
                {(void **)&lt->pref_destroy, "cublasLtMatmulPreferenceDestroy"},
                {(void **)&lt->pref_set, "cublasLtMatmulPreferenceSetAttribute"},
                {(void **)&lt->heuristic, "cublasLtMatmulAlgoGetHeuristic"},
                {(void **)&lt->matmul, "cublasLtMatmul"}};
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
        if (!(*syms[i].p = dlsym(g->lt, syms[i].name))) {
            snprintf(why, why_len, "cuBLASLt lacks %s", syms[i].name);
            return false;
        }
    return true;
}

double bench_gpu_cublaslt(bench_gpu *g, int64_t m, int64_t n, int64_t k, size_t rotate_bytes, char *why,
                          size_t why_len) {
    lt_fns lt;
    if (!lt_load(g, &lt, why, why_len)) return -1;
    g->cuCtxSetCurrent(g->ctx);
    const size_t wb = (size_t)n * (size_t)k * 2, xb = (size_t)m * (size_t)k * 2, yb = (size_t)m * (size_t)n * 2;
    const size_t ws_bytes = (size_t)32 << 20;
    int copies = (int)(rotate_bytes / wb + 1);
    if (copies > 64) copies = 64;
    CUdeviceptr w = 0, x = 0, y = 0, ws = 0;
    CUevent e0 = NULL, e1 = NULL;
    cublasLtHandle_t h = NULL;
    cublasLtMatmulDesc_t desc = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, lc = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    double result = -1;
    CUresult r;
    cublasStatus_t s = 0;
    if ((r = g->cuMemAlloc(&w, wb * (size_t)copies)) || (r = g->cuMemAlloc(&x, xb)) || (r = g->cuMemAlloc(&y, yb)) ||
        (r = g->cuMemAlloc(&ws, ws_bytes)) || (r = g->cuEventCreate(&e0, 0)) || (r = g->cuEventCreate(&e1, 0))) {
        snprintf(why, why_len, "cuBLASLt buffers: %s", cu_err(g, r));
        goto done;
    }
    { /* bf16 values in [-1, 1): random, never zero */
        size_t chunk = (size_t)1 << 24;
        uint16_t *hbuf = malloc(chunk);
        if (!hbuf) goto done;
        uint32_t st = 12345;
        for (size_t i = 0; i < chunk / 2; i++) {
            st = st * 1664525u + 1013904223u;
            float f = ((float)(st >> 8) / 16777216.0f) * 2.0f - 1.0f;
            uint32_t u;
            memcpy(&u, &f, 4);
            hbuf[i] = (uint16_t)((u >> 16) | 1);
        }
        for (size_t o = 0; o < wb * (size_t)copies && !r; o += chunk)
            r = g->cuMemcpyHtoD(w + o, hbuf, wb * (size_t)copies - o < chunk ? wb * (size_t)copies - o : chunk);
        for (size_t o = 0; o < xb && !r; o += chunk) r = g->cuMemcpyHtoD(x + o, hbuf, xb - o < chunk ? xb - o : chunk);
        free(hbuf);
        if (r) goto done;
    }
    const int32_t opt = LT_OP_T, opn = LT_OP_N;
    const uint64_t wsz = ws_bytes;
    /* column-major: D (N × M, ld N) = op(A)·B with A = W as K × N (ld K) transposed, B = X as
     * K × M (ld K): D[n][m] = Σ_k W[n][k]·X[m][k], which is Y[M][N] row-major */
    if ((s = lt.create(&h)) || (s = lt.desc_create(&desc, LT_COMPUTE_32F, LT_R_32F)) ||
        (s = lt.desc_set(desc, LT_DESC_TRANSA, &opt, sizeof opt)) || (s = lt.desc_set(desc, LT_DESC_TRANSB, &opn, sizeof opn)) ||
        (s = lt.layout_create(&la, LT_R_16BF, (uint64_t)k, (uint64_t)n, k)) ||
        (s = lt.layout_create(&lb, LT_R_16BF, (uint64_t)k, (uint64_t)m, k)) ||
        (s = lt.layout_create(&lc, LT_R_16BF, (uint64_t)n, (uint64_t)m, n)) || (s = lt.pref_create(&pref)) ||
        (s = lt.pref_set(pref, LT_PREF_MAX_WORKSPACE, &wsz, sizeof wsz))) {
        snprintf(why, why_len, "cuBLASLt setup: status %d", s);
        goto done;
    }
    cublasLtMatmulHeuristicResult_t heur;
    int found = 0;
    if ((s = lt.heuristic(h, desc, la, lb, lc, lc, pref, 1, &heur, &found)) || found < 1) {
        snprintf(why, why_len, "cuBLASLt has no algorithm for %lldx%lldx%lld (status %d)", (long long)m, (long long)n,
                 (long long)k, s);
        goto done;
    }
    const float alpha = 1.0f, beta = 0.0f;
    const int per = copies < 8 ? 8 : copies;
    float ms[7];
    for (int it = -1; it < 7; it++) {
        g->cuEventRecord(e0, NULL);
        for (int j = 0; j < per && !s; j++)
            s = lt.matmul(h, desc, &alpha, (const void *)(uintptr_t)(w + wb * (size_t)(j % copies)), la,
                          (const void *)(uintptr_t)x, lb, &beta, (const void *)(uintptr_t)y, lc, (void *)(uintptr_t)y, lc,
                          &heur.algo, (void *)(uintptr_t)ws, ws_bytes, NULL);
        g->cuEventRecord(e1, NULL);
        if (s || (r = g->cuEventSynchronize(e1))) {
            snprintf(why, why_len, "cuBLASLt matmul: status %d / %s", s, cu_err(g, r));
            goto done;
        }
        if (it >= 0) {
            g->cuEventElapsedTime(&ms[it], e0, e1);
            ms[it] /= (float)per;
        }
    }
    qsort(ms, 7, sizeof ms[0], cmp_f);
    result = 2.0 * (double)m * (double)n * (double)k / (ms[3] * 1e-3);
done:
    if (pref) lt.pref_destroy(pref);
    if (la) lt.layout_destroy(la);
    if (lb) lt.layout_destroy(lb);
    if (lc) lt.layout_destroy(lc);
    if (desc) lt.desc_destroy(desc);
    if (h) lt.destroy(h);
    if (e0) g->cuEventDestroy(e0);
    if (e1) g->cuEventDestroy(e1);
    if (w) g->cuMemFree(w);
    if (x) g->cuMemFree(x);
    if (y) g->cuMemFree(y);
    if (ws) g->cuMemFree(ws);
    return result;
}
