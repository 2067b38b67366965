#!/bin/sh
# Sets up everything minnow needs on a fresh Debian 12 machine, builds it,
# and runs its main job: boot a VM and run a command in it.
set -eu
cd "$(dirname "$0")/.."

./tools/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build/release

# Until the pod guest lands, the job is one of our own guest programs.
exec ./build/release/minnow run --kernel build/release/tests/guest/guest-hello \
	--memory 64 --cmdline "hello from the README"
