#!/usr/bin/env bash
# The GPU suite, for the device machine: every test program (CUDA cases run there), the
# demo, compute-sanitizer over the op tests (SANITIZE=1: all families, minutes; or
# SANITIZE="family ...": those; SANITIZE_TOOLS picks among memcheck and racecheck), and benchmarks (BENCH="args;args":
# one `mlxn bench <args>` each). Takes a build folder made elsewhere (built with CUDA, carried
# over); logs go to $OUT (or ./out). Prints a summary table last.
set -uo pipefail
B=${1:-build-gpu}
OUT=${OUT:-out}
LOGS="$OUT/logs"
mkdir -p "$LOGS"
export LD_LIBRARY_PATH="$PWD/$B${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
summary=()
run() { # name, command...
  local name=$1; shift
  timeout "${STEP_TIMEOUT:-600}" "$@" >"$LOGS/$name.log" 2>&1
  local rc=$?
  summary+=("$(printf '%-28s rc=%-3s %s' "$name" "$rc" "$(grep -E 'passed|ERROR SUMMARY' "$LOGS/$name.log" | tail -1)")")
}
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv >"$LOGS/gpu.txt" 2>&1
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
if [ -n "${SANITIZE:-}" ] && command -v compute-sanitizer >/dev/null; then
  fams=""
  [ "$SANITIZE" != 1 ] && fams=$SANITIZE
  for tool in ${SANITIZE_TOOLS:-memcheck racecheck}; do
    run "${tool}_ops" compute-sanitizer --tool "$tool" --error-exitcode 9 "$B/tests/test_ops" cuda $fams
  done
  run memcheck_graph compute-sanitizer --tool memcheck --error-exitcode 9 "$B/tests/test_graph"
fi
if [ -n "${BENCH:-}" ]; then
  nb=0
  IFS=';' read -ra benches <<<"$BENCH"
  for b in "${benches[@]}"; do
    read -ra args <<<"$b"
    run "bench$((++nb))_${args[0]}" "$B/mlxn" bench "${args[@]}"
  done
fi
cat "$LOGS/gpu.txt"
printf '%s\n' "${summary[@]}" | tee "$LOGS/summary.txt"
# One archive: the device tool brings back at most a few files.
tar czf "$OUT/gpu-logs.tgz" -C "$OUT" logs && rm -rf "$LOGS"
