#!/bin/bash
# One device call for the products on cuBLASLt: the qmatmul op cases (eager and replayed) with
# the new library, memcheck over the grid cases (TESTS=1), and `mlxn bench qmatmul` (FLAGS, default
# --prepared --format q4_0; SHAPES, MS, YS) with the base and new libraries in the same run. Run from
# the repository root with build-qlt-run/ holding base/ and new/ libmlxn.so, mlxn and test_ops.
set -u
C=$PWD/build-qlt-run
R=${OUT:-/tmp/qlt-out}
mkdir -p "$R"
L=$C:/usr/local/cuda/lib64
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv,noheader
run() { local t0=$(date +%s); timeout "$1" "${@:2}"; echo "rc=$? $(($(date +%s) - t0)) s: ${*:2}" | cut -c1-150; }
if [ "${TESTS:-1}" = 1 ]; then
    LD_LIBRARY_PATH=$C/new:$L run 430 compute-sanitizer --tool memcheck --error-exitcode 9 "$C/test_ops" cuda qmatmul_grids \
        >"$R/memcheck.log" 2>&1 &
    LD_LIBRARY_PATH=$C/new:$L run 430 "$C/test_ops" cuda qmatmul >"$R/tests.log" 2>&1
    wait
    grep -E "FAIL" "$R/tests.log" | head -8
    grep -E "passed|worst|rc=" "$R/tests.log" | tail -8
    grep -E "ERROR SUMMARY|passed|rc=" "$R/memcheck.log" | tail -3
fi
SH=${SHAPES:-4096x4096,1024x4096,14336x4096,4096x14336,128256x4096,768x2048,576x576,49152x576}
for y in ${YS:-f32 bf16}; do
    for lib in base new; do
        LD_LIBRARY_PATH=$C/$lib:$L run 150 "$C/mlxn" bench qmatmul --backend cuda ${FLAGS:---prepared --format q4_0} \
            --shape "$SH" --m ${MS:-32,128,512,1024,2048} --y $y >"$R/bench_${lib}_$y.txt" 2>>"$R/errs.txt"
    done
done
for f in "$R"/bench_*.txt; do echo "== $f"; grep -vE "^\s*$" "$f" | cut -c1-100 | head -45; done
exit 0
