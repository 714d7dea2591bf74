#!/usr/bin/env bash
# The release library must not reference abort, exit or __assert_fail (nothing a caller or
# a file does may end the process), and must export only mlxn_ symbols.
set -euo pipefail
build=${1:-build}
fail=0
for lib in "$build"/libmlxn.so "$build"/libmlxn.a; do
  bad=$(nm -u "$lib" 2>/dev/null | awk '{print $NF}' | sed 's/@.*//' | grep -xE 'abort|exit|_exit|_Exit|quick_exit|__assert_fail|__assert_perror_fail' | sort -u || true)
  if [ -n "$bad" ]; then
    echo "check_symbols: $lib references: $bad"
    fail=1
  fi
done
extra=$(nm -D --defined-only "$build"/libmlxn.so | awk '{print $NF}' | grep -vE '^(mlxn_|_init$|_fini$)' || true)
if [ -n "$extra" ]; then
  echo "check_symbols: libmlxn.so exports non-mlxn symbols:"; echo "$extra" | head -20
  fail=1
fi
[ $fail -eq 0 ] && echo "check_symbols: ok ($(nm -D --defined-only "$build"/libmlxn.so | grep -c ' mlxn_') exported mlxn_ symbols, no abort/exit/assert)"
exit $fail
