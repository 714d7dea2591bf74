#!/bin/sh
# Builds a library whose mat-mat kernel (qmw_kernel) stamps %globaltimer per block: its
# stream-K instances per segment, the others (one tile a block, split or clustered) at the
# producer's start and last load, the first stage's arrival, the main loop's end, the cluster
# sync and the store's end; and sk_trace (sk_trace.c) that prints the timeline of one call. The library's own sources stay as they are: copies of qmatmul_mm.cu and
# qmatmul_mm_wgmma.cuh are instrumented in a scratch folder (the edits look for exact lines of
# today's code and stop if one is missing), compiled with BUILD's nvcc command, and linked
# with BUILD's other objects.
#   dev/qmatmul/sk_trace.sh BUILD OUTDIR    (BUILD: a configured and built CUDA build folder)
#   LD_LIBRARY_PATH=OUTDIR OUTDIR/sk_trace bf16|q4_0|q6_K N K M
set -e
cd "$(dirname "$0")/../.."
B=${1:?build folder}
O=$(mkdir -p "${2:?output folder}" && cd "$2" && pwd)
S=$O/src
mkdir -p "$S/cuda"
python3 - "$S" <<'EOF'
import sys
S = sys.argv[1]
h = open('src/cuda/qmatmul_mm_wgmma.cuh').read()
def rep(old, new):
    global h
    if h.count(old) != 1:
        sys.exit('sk_trace.sh: the kernel changed; update the edit for: ' + old[:60])
    h = h.replace(old, new)
rep("#define QMW_SKU 256\n", """#define QMW_SKU 256
__device__ unsigned long long qmw_trace[1024 * 32];
__device__ unsigned qmw_tinfo[1024 * 16];
__device__ unsigned long long qmw_otrace[4096 * 8];
#define QMW_OSTAMP(k) do { if (!SK && tid == (k >= 5 ? 256 : 0)) { const unsigned b_ = blockIdx.x + gridDim.x * blockIdx.z; \
    if (b_ < 4096) { unsigned long long t_; asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t_)); qmw_otrace[b_ * 8 + (k)] = t_; \
    if (k == 0) { unsigned sm_; asm volatile("mov.u32 %0, %%smid;" : "=r"(sm_)); qmw_otrace[b_ * 8 + 7] = sm_; } } } } while (0)
#define QMW_STAMP(k) do { if (SK && tid == 0 && blockIdx.x < 1024) { unsigned long long t_; \\
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t_)); qmw_trace[blockIdx.x * 32 + (k)] = t_; } } while (0)
""")
rep("""        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\\n");
        const int lane""", """        asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\\n");
        QMW_STAMP(0);
        QMW_OSTAMP(0);
        int seg = 0;
        (void)seg;
        const int lane""")
rep("""        auto sk_end = [&](int tl, int u0, int u1, int ie) {
            wg_wait<0>();
            wg_pin(acc);""", """        auto sk_end = [&](int tl, int u0, int u1, int ie) {
            wg_wait<0>();
            wg_pin(acc);
            QMW_STAMP(1 + 3 * seg);
            QMW_STAMP(2 + 3 * seg);
            if (tid == 0 && blockIdx.x < 1024)
                qmw_tinfo[blockIdx.x * 16 + seg] = (unsigned)tl << 12 | (unsigned)u0 << 6 | (unsigned)u1;""")
rep("""                        for (int jj = j - 1; jj >= jl; jj--) qmw_flag_down(skf + jj);
                    asm volatile("bar.sync 1, 256;\\n" ::: "memory");""", """                        for (int jj = j - 1; jj >= jl; jj--) qmw_flag_down(skf + jj);
                    asm volatile("bar.sync 1, 256;\\n" ::: "memory");
                    QMW_STAMP(2 + 3 * seg);""")
rep("""                out_rows(tile_n0(tl), tile_m0(tl), tile_b(tl));
            }""", """                out_rows(tile_n0(tl), tile_m0(tl), tile_b(tl));
            }
            QMW_STAMP(3 + 3 * seg);
            seg++;""")
rep("""        if (tid == 256) {
            /* stage i""", """        QMW_OSTAMP(5);
        if (tid == 256) {
            /* stage i""")
rep("""                for (int i = 0; i < nst; i++) load(i, k0 + i * KS, xrow, n0, wz);""",
    """                for (int i = 0; i < nst; i++) load(i, k0 + i * KS, xrow, n0, wz);
                QMW_OSTAMP(6);""")
rep("""                mbar_wait(full(i % ST), (unsigned)(i / ST) & 1);
                if constexpr (C::KSPLIT) {""", """                mbar_wait(full(i % ST), (unsigned)(i / ST) & 1);
                if (i == ib) QMW_OSTAMP(1);
                if constexpr (C::KSPLIT) {""")
rep("""                    mbar_wait(full(s), (unsigned)(i / ST) & 1);
                    wg_fence();""", """                    mbar_wait(full(s), (unsigned)(i / ST) & 1);
                    if (i == ib) QMW_OSTAMP(1);
                    wg_fence();""")
rep("""        if constexpr (!SK) {
            wg_wait<0>();
            wg_pin(acc);""", """        if constexpr (!SK) {
            wg_wait<0>();
            wg_pin(acc);
            QMW_OSTAMP(2);""")
rep("""                    cl.sync();
                    const int rank""", """                    cl.sync();
                    QMW_OSTAMP(3);
                    const int rank""")
rep("""                out_rows(n0, m0, b);
            }
        }
    }
#endif""", """                out_rows(n0, m0, b);
            }
            QMW_OSTAMP(4);
        }
    }
#endif""")
open(S + '/cuda/qmatmul_mm_wgmma.cuh', 'w').write(h)
c = open('src/cuda/qmatmul_mm.cu').read() + """
extern "C" __attribute__((visibility("default"))) int mlxn_dev_qmw_otrace(void *stamps) {
    return (int)cudaMemcpyFromSymbol(stamps, qmw_otrace, sizeof qmw_otrace);
}
extern "C" __attribute__((visibility("default"))) int mlxn_dev_qmw_trace(void *stamps, void *info) {
    return (int)cudaMemcpyFromSymbol(stamps, qmw_trace, sizeof qmw_trace) |
           (int)cudaMemcpyFromSymbol(info, qmw_tinfo, sizeof qmw_tinfo);
}
"""
open(S + '/qmatmul_mm.cu', 'w').write(c)
EOF
cd "$B"
OBJ=CMakeFiles/mlxn_objects.dir/src/cuda/qmatmul_mm.cu.o
# the compile: BUILD's command for qmatmul_mm.cu on the copy, without its depfile
ninja -t commands libmlxn.so | grep -F "$OBJ" | head -1 |
    sed "s#-MD -MT [^ ]* -MF [^ ]*##; s#[^ ]*/src/cuda/qmatmul_mm.cu #$S/qmatmul_mm.cu #; s#-o $OBJ#-o $O/qmatmul_mm.o#" >"$O/compile.sh"
# the link: BUILD's libmlxn link with the copy's object
ninja -t commands libmlxn.so | grep -F -- "-o libmlxn.so" | head -1 |
    sed "s#-o libmlxn.so[^ ]*#-o $O/libmlxn.so.0.1#; s#$OBJ#$O/qmatmul_mm.o#" >"$O/link.sh"
sh "$O/compile.sh"
sh "$O/link.sh"
cd - >/dev/null
cc -O2 -std=c11 -Iinclude dev/qmatmul/sk_trace.c -o "$O/sk_trace" -L"$O" -l:libmlxn.so.0.1
echo "sk_trace.sh: $O/libmlxn.so.0.1 and $O/sk_trace"
