#!/usr/bin/env bash
# Installs the build into a staging prefix and builds examples/hello against it twice:
# through CMake's find_package(mlxn) and through pkg-config. Then runs both.
set -euo pipefail
build=${1:-build}
stage=$(realpath "$build")/stage
rm -rf "$stage"
cmake --install "$build" --prefix "$stage" >/dev/null
cmake -S examples -B "$build/hello-cmake" -G Ninja -DCMAKE_PREFIX_PATH="$stage" >/dev/null
cmake --build "$build/hello-cmake" >/dev/null
libdir=$(dirname "$(find "$stage" -name libmlxn.so | head -1)")
LD_LIBRARY_PATH="$libdir" "$build/hello-cmake/hello" >/dev/null
PKG_CONFIG_PATH="$libdir/pkgconfig" cc -std=c11 -Wall -Werror examples/hello.c -o "$build/hello-pc" \
  $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs mlxn)
LD_LIBRARY_PATH="$libdir" "$build/hello-pc" >/dev/null
echo "check_install: ok (find_package(mlxn) and pkg-config consumers built and ran)"
