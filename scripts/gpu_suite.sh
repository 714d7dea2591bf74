#!/usr/bin/env bash
# The GPU suite, for the device machine: every test program (CUDA cases run there), the
# demo, and (SANITIZE=1) compute-sanitizer over the op tests. Takes a build folder made elsewhere (built
# with CUDA, carried over); logs go to $OUT (or ./out). Prints a summary table last.
set -uo pipefail
B=${1:-build-gpu}
OUT=${OUT:-out}
LOGS="$OUT/logs"
mkdir -p "$LOGS"
export LD_LIBRARY_PATH="$PWD/$B${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
summary=()
run() { # name, command...
  local name=$1; shift
  "$@" >"$LOGS/$name.log" 2>&1
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
# SANITIZE=1: compute-sanitizer memcheck and racecheck over the op tests (minutes).
if [ -n "${SANITIZE:-}" ] && command -v compute-sanitizer >/dev/null; then
  run memcheck_ops compute-sanitizer --tool memcheck --error-exitcode 9 "$B/tests/test_ops" cuda
  run memcheck_graph compute-sanitizer --tool memcheck --error-exitcode 9 "$B/tests/test_graph"
  run racecheck_ops compute-sanitizer --tool racecheck --error-exitcode 9 "$B/tests/test_ops" cuda
fi
[ -n "${BENCH:-}" ] && run bench "$B/mlxn" bench ${BENCH}
cat "$LOGS/gpu.txt"
printf '%s\n' "${summary[@]}" | tee "$LOGS/summary.txt"
# One archive: the device tool brings back at most a few files.
tar czf "$OUT/gpu-logs.tgz" -C "$OUT" logs && rm -rf "$LOGS"
