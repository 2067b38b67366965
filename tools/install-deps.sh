#!/bin/sh
# Installs everything minnow needs to build, test and boot a pod VM, from
# Debian 12 packages only. Safe to run again.
set -eu

packages="
  build-essential cmake ninja-build pkg-config clang lld llvm clang-format
  liburing-dev libfdt-dev libcap-ng-dev libcmocka-dev libseccomp-dev
  libjson-c-dev libhttp-parser-dev device-tree-compiler
  qemu-system-x86 linux-image-amd64 xz-utils zstd busybox-static cpio e2fsprogs
  python3 iproute2 gnuplot-nox fio
  linux-source-6.1 flex bison bc libelf-dev libssl-dev
"

missing=""
for p in $packages; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: need root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
