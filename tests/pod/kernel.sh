#!/bin/sh
# Builds (or finds in the cache) the pod guest kernel and links it to $2.
# Exits 77 (skip) when the kernel source package is not installed.
set -eu
build=$1
dest=$2
if [ ! -r "${MINNOW_KERNEL_SOURCE:-/usr/src/linux-source-6.1.tar.xz}" ]; then
	echo "pod/kernel: linux-source-6.1 not installed (tools/install-deps.sh)"
	exit 77
fi
vmlinux=$("$build")
mkdir -p "$(dirname "$dest")"
ln -sf "$vmlinux" "$dest"
echo "pod/kernel: $dest -> $vmlinux"
