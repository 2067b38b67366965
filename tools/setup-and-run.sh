#!/bin/sh
# Sets up everything minnow needs on a fresh Debian 12 machine, builds it
# and the pod guest (kernel and init), and runs its main job: a container
# in its own VM, `echo hello` from a busybox root file system.
#
#   tools/setup-and-run.sh [CMD [ARGS...]]     (default: echo hello)
set -eu
cd "$(dirname "$0")/.."

./tools/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build/release

# The guest kernel: built once (minutes), then taken from the cache.
echo "setup-and-run: guest kernel (cached after the first build)" >&2
sh tests/pod/kernel.sh guest-kernel/build.sh build/release/guest-kernel/vmlinux

# A root file system holding busybox and nothing else.
rootfs=build/release/pod-rootfs
mkdir -p "$rootfs/bin"
cp /bin/busybox "$rootfs/bin/busybox"
for applet in sh echo cat ls; do
	ln -sf busybox "$rootfs/bin/$applet"
done

[ $# -gt 0 ] || set -- echo hello
exec ./build/release/minnow pod run --rootfs "$rootfs" --env PATH=/bin -- "$@"
