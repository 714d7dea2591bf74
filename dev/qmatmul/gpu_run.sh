#!/bin/bash
# One call on a lent GPU for the mat-vec work: the dp4a kernel's launch sweep (mvq_bench),
# the qmatmul op cases on CUDA, compute-sanitizer memcheck on them (SAN=1), and `mlxn bench
# qmatmul` on the issue's formats and shapes at M = 1 and 8. Run from the repository root
# with build-qmv-run/ packed by build_carry.sh; logs to $OUT, a summary to stdout.
set -u
[ -e /work/main ] || { mkdir -p /work && ln -s "$PWD" /work/main; }
C=$PWD/build-qmv-run
R=${OUT:-/tmp/qmv-out}
mkdir -p "$R"
export LD_LIBRARY_PATH=$C:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv,noheader
t0=$(date +%s)
if [ "${SWEEP:-1}" = 1 ]; then
    timeout 100 "$C/mvq_bench" >"$R/sweep.txt" 2>&1
    echo "sweep rc=$? $(($(date +%s) - t0)) s"
fi
t0=$(date +%s)
timeout 120 "$C/test_ops" cuda qmatmul >"$R/tests.log" 2>&1
echo "tests rc=$? $(($(date +%s) - t0)) s"
grep -E "^FAIL|FAIL" "$R/tests.log" | head -8
grep -E "qmatmul:|passed|checks" "$R/tests.log" | tail -6
if [ "${SAN:-0}" = 1 ]; then
    t0=$(date +%s)
    timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 "$C/test_ops" cuda qmatmul >"$R/memcheck.log" 2>&1
    echo "memcheck rc=$? $(($(date +%s) - t0)) s"
    grep -E "ERROR SUMMARY|passed" "$R/memcheck.log" | tail -3
fi
t0=$(date +%s)
timeout 130 "$C/mlxn" bench qmatmul --backend cuda --shape 4096x14336,14336x4096,4096x4096 \
    --format q4_0,q4_1,q4_K,q5_K,q6_K,q8_0,iq4_nl --m ${MS:-1,8} >"$R/bench.txt" 2>"$R/bench.err"
echo "bench rc=$? $(($(date +%s) - t0)) s"
grep -vE "^\s*$" "$R/bench.txt" | cut -c1-110
[ -f "$R/sweep.txt" ] && grep -vE "^\s*$" "$R/sweep.txt" | cut -c1-160
if [ "${PROF:-0}" = 1 ]; then
    # one launch of the dp4a mat-vec under Nsight Compute: speed of light, stalls, memory
    timeout 90 ncu --graph-profiling node --launch-skip 2 --launch-count 1 --kernel-name regex:mvq_kernel \
        --section SpeedOfLight --section Occupancy --section WarpStateStats --section LaunchStats \
        --section MemoryWorkloadAnalysis "$C/mlxn" bench qmatmul --backend cuda --format q4_0 --shape 14336x4096 \
        --m 1 --reps 3 >"$R/prof.txt" 2>&1
    grep -E "Duration|Memory Throughput|DRAM Throughput|Compute \(SM\) Throughput|Achieved Occupancy|Registers Per|Block Limit|Warp Cycles Per Issued|Stall|Theoretical Occ|Grid Size|L1/TEX Hit|L2 Hit|Mem Busy|Max Bandwidth|Issued Ipc|Executed Ipc" "$R/prof.txt" | head -30 | cut -c1-120
fi
exit 0
