#!/bin/sh
# Sets up everything minnow needs on a fresh Debian 12 machine, then builds
# it three ways and runs every test. This is the README's test command and
# exactly what CI runs.
#
#   1. gcc, warnings as errors: unit, guest and slow (Linux) tests
#   2. gcc with AddressSanitizer + UBSan: unit and guest tests
#   3. clang, warnings as errors: build and unit tests
#   4. libFuzzer: every fuzz target for a short while (FUZZ_SECONDS, 20)
#   5. clang-format: the C sources match .clang-format
set -eu
cd "$(dirname "$0")/.."

./tools/install-deps.sh

jobs=$(nproc)
step() { printf '\n==== %s\n' "$*"; }

step "gcc build, -Werror"
cmake -S . -B build/ci-gcc -G Ninja -DMINNOW_WERROR=ON >/dev/null
ninja -C build/ci-gcc
step "gcc: all tests"
ctest --test-dir build/ci-gcc --output-on-failure -j "$jobs"

step "gcc + AddressSanitizer + UBSan"
cmake -S . -B build/ci-asan -G Ninja -DMINNOW_WERROR=ON \
	-DMINNOW_SANITIZE=ON >/dev/null
ninja -C build/ci-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --test-dir build/ci-asan --output-on-failure -j "$jobs" -LE slow

step "clang build, -Werror"
CC=clang cmake -S . -B build/ci-clang -G Ninja -DMINNOW_WERROR=ON >/dev/null
ninja -C build/ci-clang
ctest --test-dir build/ci-clang --output-on-failure -j "$jobs" -L unit

step "fuzz targets, ${FUZZ_SECONDS:-20} s each"
./tools/fuzz.sh "${FUZZ_SECONDS:-20}"

step "clang-format"
./tools/check-format.sh

step "all tests passed"
