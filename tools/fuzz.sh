#!/bin/sh
# Builds the libFuzzer targets (clang, ASan, UBSan) and runs each one for
# SECONDS (default 30), starting from its seed corpus in tests/fuzz/corpus.
# A crash stops the script and leaves the reproducer in build/fuzz/.
#
#   tools/fuzz.sh [SECONDS] [TARGET...]
#
# A long run (an hour a target): tools/fuzz.sh 3600
set -eu
cd "$(dirname "$0")/.."

seconds=${1:-30}
[ $# -gt 0 ] && shift
CC=clang cmake -S . -B build/fuzz -G Ninja -DMINNOW_FUZZ=ON >/dev/null
ninja -C build/fuzz

targets=$*
[ -n "$targets" ] || targets=$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')
for t in $targets; do
	seeds=tests/fuzz/corpus/$t
	work=build/fuzz/corpus/$t
	mkdir -p "$work"
	[ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null || true
	echo "fuzz: $t for ${seconds}s"
	(cd build/fuzz && "./tests/fuzz/$t" -max_total_time="$seconds" \
		-close_fd_mask=3 -print_final_stats=1 "corpus/$t" 2>&1 |
		grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec|ERROR|SUMMARY' || true)
	# libFuzzer leaves crash-* files behind when it finds something.
	if ls build/fuzz/crash-* build/fuzz/leak-* build/fuzz/timeout-* >/dev/null 2>&1; then
		echo "fuzz: $t found a problem; reproducer in build/fuzz/" >&2
		exit 1
	fi
done
