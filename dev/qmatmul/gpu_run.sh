#!/bin/bash
# One call on a lent GPU: the qmatmul cases on CUDA, a SASS summary of the qmatmul kernels,
# and the benchmarks. Run from the repository root with qmm-carry/ built by build_carry.sh;
# logs go to $OUT (a tarball) and a short summary to stdout. Stage list: $1 (default all).
set -u
C=$PWD/qmm-carry
R=${OUT:-/tmp/qmm-out}
O=/tmp/qmm-logs
mkdir -p "$O" "$R"
export LD_LIBRARY_PATH=$C:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
STAGES=${1:-tests,sass,mv,mm,prof}
has() { case ",$STAGES," in *",$1,"*) return 0 ;; esac; return 1; }
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv >"$O/gpu.txt" 2>&1
head -2 "$O/gpu.txt"

if has tests; then
    t0=$(date +%s)
    timeout 150 "$C/qmm_tests" cuda >"$O/tests.log" 2>&1
    echo "tests rc=$? in $(($(date +%s) - t0)) s"
    grep -E "^FAIL" "$O/tests.log" | head -12
    grep -cE "^FAIL" "$O/tests.log" | sed 's/^/FAIL lines: /'
    grep -E "qmatmul:|passed" "$O/tests.log" | tail -4
fi

if has sass; then
    # per qmatmul kernel: tensor-core ops, shared/global/local memory instructions
    cuobjdump -sass "$C/libmlxn.so.0.1" 2>/dev/null | awk '
        /Function :/ { if (f != "") print f, h, lds, ldg, lgs, ldl, stl, n; f = $3; h = lds = ldg = lgs = ldl = stl = n = 0; next }
        f ~ /qmm/ { n++; if (/HMMA/) h++; if (/LDS/) lds++; if (/LDG\./ || / LDG /) ldg++; if (/LDGSTS/) lgs++; if (/LDL/) ldl++; if (/STL/) stl++ }
        END { if (f != "") print f, h, lds, ldg, lgs, ldl, stl, n }' | grep qmm >"$O/sass.txt"
    echo "sass (name HMMA LDS LDG LDGSTS LDL STL instrs): $(wc -l <"$O/sass.txt") qmm kernels;" \
        "with local memory: $(awk '$6 + $7 > 0' "$O/sass.txt" | wc -l)"
    grep -E "qmm_mv_kernelIL9mlxn_type2ELi1|qmm_mv_kernelIL9mlxn_type12ELi1|qmm_mm_kernelIL9mlxn_type12" "$O/sass.txt" | cut -c1-160
fi

B="$C/mlxn bench qmatmul --backend cuda"
if has mv; then
    $B --format q4_0,q4_1,q4_K,q5_K,q6_K,q8_0,iq4_nl --shape 4096x4096,14336x4096,4096x14336 --m 1,8 >"$O/bench_mv.txt" 2>"$O/bench_mv.err"
    $B --format q5_0,q5_1,q2_K,q3_K,iq4_xs,mxfp4,f16,bf16,f32 --shape 4096x14336 --m 1,8 >"$O/bench_mv2.txt" 2>>"$O/bench_mv.err"
    $B --format q4_K --shape 4096x4096,1024x4096,768x2048 --m 1,2,4,16,32,128 >"$O/bench_msweep.txt" 2>>"$O/bench_mv.err"
    grep -E "ceiling|^format" "$O/bench_mv.txt"
    grep -E "^[a-z]" "$O/bench_mv.txt" "$O/bench_mv2.txt" "$O/bench_msweep.txt" | grep -v "format" | sed 's/^.*txt://' | cut -c1-90
    tail -3 "$O/bench_mv.err"
fi
if has mm; then
    $B --format q4_0,q4_K,q8_0,q6_K,bf16 --shape 4096x4096,14336x4096 --m 512,2048 >"$O/bench_mm.txt" 2>"$O/bench_mm.err"
    $B --format q4_K,q8_0 --shape 4096x4096,14336x4096 --m 512,2048 --prepared >"$O/bench_mmp.txt" 2>>"$O/bench_mm.err"
    grep -E "^[a-z]" "$O/bench_mm.txt" "$O/bench_mmp.txt" | grep -v format | sed 's/^.*txt://' | cut -c1-90
    tail -3 "$O/bench_mm.err"
fi
if has prof; then
    # one launch each of the main kernels under Nsight Compute: speed of light, occupancy, stalls
    N="ncu --graph-profiling node --launch-skip 2 --launch-count 1 --section SpeedOfLight --section Occupancy --section WarpStateStats --section LaunchStats --section MemoryWorkloadAnalysis"
    timeout 60 $N --kernel-name regex:qmm_mv_kernel $B --format q4_0 --shape 4096x14336 --m 1 --reps 3 >"$O/prof_mv.txt" 2>&1
    timeout 60 $N --kernel-name regex:qmm_mv_kernel $B --format q4_K --shape 14336x4096 --m 8 --reps 3 >"$O/prof_mv8.txt" 2>&1
    timeout 60 $N --kernel-name regex:qmm_mm_kernel $B --format q4_K --shape 4096x4096 --m 512 --reps 3 >"$O/prof_mm.txt" 2>&1
    for f in prof_mv prof_mv8 prof_mm; do
        echo "== $f"
        grep -E "Duration|Memory Throughput|DRAM Throughput|Compute \(SM\) Throughput|Achieved Occupancy|Registers Per|Block Limit|Warp Cycles Per Issued|Stall|One or More" "$O/$f.txt" | head -14 | cut -c1-110
    done
fi
tar -C "$O" -czf "$R/logs.tgz" . 2>/dev/null
for f in bench_mv bench_mv2 bench_msweep bench_mm bench_mmp; do [ -f "$O/$f.txt" ] && cp "$O/$f.txt" "$R/"; done
if has tests; then echo "== tests (again, last)"; grep -E "^FAIL" "$O/tests.log" | head -5; grep -E "qmatmul:|passed" "$O/tests.log" | tail -3; fi
exit 0
