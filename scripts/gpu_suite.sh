#!/usr/bin/env bash
# The GPU suite, for the device machine: every test program (CUDA cases run there), the
# demo, compute-sanitizer over the op tests (SANITIZE=1: all families in one run, minutes; or
# SANITIZE="family ...": a run per family; SANITIZE_TOOLS picks among memcheck and racecheck),
# and benchmarks (BENCH="args;args": one `mlxn bench <args>` each). The test programs run one
# after another while the sanitizer runs go beside them, so that the whole fits a device call
# of ten minutes; the benchmarks run last, alone on the GPU. Takes a build folder made
# elsewhere (built with CUDA, carried over); logs go to $OUT (or ./out). Prints a summary
# table last.
set -uo pipefail
B=${1:-build-gpu}
OUT=${OUT:-out}
LOGS="$OUT/logs"
mkdir -p "$LOGS/rc"
export LD_LIBRARY_PATH="$PWD/$B${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
run() { # name, command...: its log, and its summary line in rc/
  local name=$1; shift
  timeout "${STEP_TIMEOUT:-600}" "$@" >"$LOGS/$name.log" 2>&1
  local rc=$?
  printf '%-28s rc=%-3s %s\n' "$name" "$rc" \
    "$(grep -E 'passed|ERROR SUMMARY|RACECHECK SUMMARY' "$LOGS/$name.log" | tail -1)" >"$LOGS/rc/$name"
}
tests() {
  run info "$B/mlxn" info
  run demo "$B/mlxn" demo
  for t in "$B"/tests/test_*; do
    [ -x "$t" ] || continue
    n=$(basename "$t")
    if [ "$n" = test_ops ]; then
      run ops_cpu "$t" cpu
      run ops_cuda "$t" cuda
    else
      run "${n#test_}" "$t"
    fi
  done
}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv >"$LOGS/gpu.txt" 2>&1
tests &
if [ -n "${SANITIZE:-}" ] && command -v compute-sanitizer >/dev/null; then
  fams=("")
  [ "$SANITIZE" != 1 ] && read -ra fams <<<"$SANITIZE"
  for tool in ${SANITIZE_TOOLS:-memcheck racecheck}; do
    for f in "${fams[@]}"; do
      run "${tool}_ops${f:+_$f}" compute-sanitizer --tool "$tool" --error-exitcode 9 "$B/tests/test_ops" cuda ${f:+"$f"} &
    done
  done
  run memcheck_graph compute-sanitizer --tool memcheck --error-exitcode 9 "$B/tests/test_graph" &
fi
wait
if [ -n "${BENCH:-}" ]; then
  nb=0
  IFS=';' read -ra benches <<<"$BENCH"
  for b in "${benches[@]}"; do
    read -ra args <<<"$b"
    run "bench$((++nb))_${args[0]}" "$B/mlxn" bench "${args[@]}"
  done
fi
cat "$LOGS/gpu.txt"
cat "$LOGS"/rc/* | tee "$LOGS/summary.txt"
# One archive: the device tool brings back at most a few files.
tar czf "$OUT/gpu-logs.tgz" -C "$OUT" logs && rm -rf "$LOGS"
