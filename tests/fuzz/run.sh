#!/usr/bin/env bash
# Builds the libFuzzer harnesses against the library's C sources (clang; ASan, UBSan and
# the integer checks, nothing recoverable) and runs each in turn from its seed corpus.
#   tests/fuzz/run.sh [LIBFUZZER_FLAG...] [-- HARNESS...]
#   e.g. tests/fuzz/run.sh -runs=200000          (CI: every harness, 200k inputs each)
#        tests/fuzz/run.sh -max_total_time=600 -- gguf
# Builds in $MLXN_FUZZ_DIR (default build-fuzz); new inputs collect in its corpus/.
set -euo pipefail
cd "$(dirname "$0")/../.."
CC=${CC:-$(command -v clang-14 || command -v clang)}
out=${MLXN_FUZZ_DIR:-build-fuzz}
flags=()
harnesses=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; harnesses=("$@"); break; fi
  flags+=("$1"); shift
done
[ ${#harnesses[@]} -gt 0 ] || harnesses=(gguf safetensors dequant)
[ ${#flags[@]} -gt 0 ] || flags=(-runs=100000)

san="-fsanitize=address,undefined,integer -fno-sanitize-recover=all -fno-omit-frame-pointer"
cflags="-std=gnu11 -g -O1 -Iinclude -Isrc $(pkg-config --cflags jansson)"
mkdir -p "$out/obj" "$out/corpus"
objs=()
for src in src/core/*.c src/quant/*.c src/io/*.c src/ops/*.c src/cpu/*.c; do
  obj="$out/obj/$(echo "${src%.c}" | tr / _).o"
  if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ -n "$(find src include -name '*.h' -newer "$obj" | head -1)" ]; then
    # shellcheck disable=SC2086
    "$CC" $cflags $san -fsanitize=fuzzer-no-link -c "$src" -o "$obj"
  fi
  objs+=("$obj")
done
for h in "${harnesses[@]}"; do
  # shellcheck disable=SC2086
  "$CC" $cflags $san -fsanitize=fuzzer "tests/fuzz/fuzz_$h.c" "${objs[@]}" \
    $(pkg-config --libs jansson) -lpthread -lm -o "$out/fuzz_$h"
done

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
status=0
for h in "${harnesses[@]}"; do
  mkdir -p "$out/corpus/$h"
  dict=()
  [ -e "tests/fuzz/$h.dict" ] && dict=(-dict="tests/fuzz/$h.dict")
  echo "fuzz_$h: ${flags[*]}"
  if ! "$out/fuzz_$h" "${flags[@]}" "${dict[@]}" -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/" \
      "$out/corpus/$h" "tests/fuzz/seeds/$h" > "$out/fuzz_$h.log" 2>&1; then
    echo "fuzz_$h: FAILED (see $out/fuzz_$h.log)"
    tail -40 "$out/fuzz_$h.log"
    status=1
  fi
  grep -E "^Done [0-9]+ runs|stat::number_of_executed_units" "$out/fuzz_$h.log" | sed "s/^/fuzz_$h: /" || true
done
exit $status
