#!/bin/bash
# One device call for the attention work: the attention cases (eager and
# replayed), the kernel-variant bench, mlxn bench attention, then compute-sanitizer, each under
# a timeout; logs to $OUT, a summary last. usage: dev/attention/gpu_run.sh [steps...]
# steps: test family bench mlxn ncu memcheck racecheck ops sass (default: test bench mlxn memcheck)
[ -e /work/main ] || { mkdir -p /work && ln -s "$PWD" /work/main; }
cd /work/main || exit 1
export LD_LIBRARY_PATH=/work/main/build-attn-run
B=build-attn-run
O=${OUT:-/tmp/attn-out}
mkdir -p "$O"
steps=${*:-test bench mlxn memcheck}
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv,noheader > "$O/gpu.txt" 2>&1
for st in $steps; do
  t0=$(date +%s)
  case $st in
    test) timeout 50 $B/dev/att_test cuda > "$O/test.txt" 2>&1 ;;
    bench) timeout 80 $B/dev/att_bench ${BENCH_ARGS:-} > "$O/bench.txt" 2>&1 ;;
    mlxn) timeout 70 $B/mlxn bench attention > "$O/mlxn_bench.txt" 2>&1 ;;
    ncu) timeout 240 ncu --clock-control none --kernel-name regex:attn_mma --launch-skip 2 --launch-count 6 --section SourceCounters --section SpeedOfLight --section WarpStateStats \
           --section MemoryWorkloadAnalysis --section Occupancy --section InstructionStats --section SchedulerStats --section LaunchStats $B/dev/att_bench --profile > "$O/ncu.txt" 2>&1 ;;
    memcheck) timeout 80 compute-sanitizer --tool memcheck --error-exitcode 9 $B/dev/att_test cuda > "$O/memcheck.txt" 2>&1 ;;
    racecheck) timeout 100 compute-sanitizer --tool racecheck --error-exitcode 9 $B/dev/att_test cuda > "$O/racecheck.txt" 2>&1 ;;
    ops) timeout 150 $B/tests/test_ops cuda > "$O/ops.txt" 2>&1 ;;
    family) timeout 60 $B/tests/test_ops cuda attention > "$O/family.txt" 2>&1 ;;
    sass) timeout 25 cuobjdump -sass $B/dev/att_bench > "$O/sass_all.txt" 2>/dev/null
          awk '/Function :/{name=$3} /HGMMA|HMMA|LDSM|LDL|STL|MUFU/{for(i=1;i<=NF;i++) if($i ~ /^(HGMMA|HMMA|LDSM|LDL|STL|MUFU)/){split($i,x,"."); c[name" "x[1]]++}} END{for(k in c) print c[k], k}' "$O/sass_all.txt" | grep -i attn | sort -k2 > "$O/sass.txt"
          rm -f "$O/sass_all.txt" ;;
  esac
  echo "step $st rc=$? $(( $(date +%s) - t0 ))s" >> "$O/steps.txt"
done
echo "== gpu"; cat "$O/gpu.txt"; echo "== steps"; cat "$O/steps.txt"
[ -f "$O/test.txt" ] && { echo "== test"; grep -E "FAIL|worst|passed|failed" "$O/test.txt" | head -30; }
[ -f "$O/memcheck.txt" ] && { echo "== memcheck"; grep -E "ERROR SUMMARY|Invalid|passed|failed" "$O/memcheck.txt" | head -8; }
[ -f "$O/racecheck.txt" ] && { echo "== racecheck"; grep -E "RACECHECK SUMMARY|ERROR SUMMARY|hazard|passed|failed" "$O/racecheck.txt" | head -8; }
[ -f "$O/family.txt" ] && { echo "== test_ops cuda attention"; grep -E "FAIL|passed|failed" "$O/family.txt" | tail -5; }
[ -f "$O/ops.txt" ] && { echo "== ops"; grep -E "FAIL|ok$|passed|failed" "$O/ops.txt" | tail -20; }
[ -f "$O/sass.txt" ] && { echo "== sass (spills, HGMMA)"; grep -E "wgmma|ILi128ELi1ELi1ELi4E" "$O/sass.txt" | grep -E "6__halfS|__halfE" | head -24; }
[ -f "$O/ncu.txt" ] && { echo "== ncu"; grep -E "attn_|Duration|DRAM Throughput|Achieved Occupancy|Warp Cycles Per Issued|Stall" "$O/ncu.txt" | head -60; }
[ -f "$O/mlxn_bench.txt" ] && { echo "== mlxn bench"; cat "$O/mlxn_bench.txt" | tail -40; }
[ -f "$O/bench.txt" ] && { echo "== bench"; cat "$O/bench.txt"; }
