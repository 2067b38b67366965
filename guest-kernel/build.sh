#!/bin/sh
# Builds the pod guest's vmlinux out of tree from Debian's linux-source-6.1,
# with our config fragment and patches, and caches it under a key made of
# the source version, the fragment's hash and the patches' hashes.
#
#   guest-kernel/build.sh               build if needed, print the vmlinux path
#   guest-kernel/build.sh --print-path  print where the cached vmlinux would be
#   guest-kernel/build.sh --key         print the cache key only
#
# Environment: MINNOW_KERNEL_CACHE (default $XDG_CACHE_HOME/minnow/guest-kernel),
# MINNOW_KERNEL_JOBS (default 2), MINNOW_KERNEL_SOURCE (the source tarball).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
pkg=linux-source-6.1
tarball=${MINNOW_KERNEL_SOURCE:-/usr/src/$pkg.tar.xz}
jobs=${MINNOW_KERNEL_JOBS:-2}
cache=${MINNOW_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/minnow/guest-kernel}
fragment=$here/pod.config

die() {
	echo "guest-kernel: $*" >&2
	exit 1
}

[ -r "$tarball" ] ||
	die "$tarball not found; install $pkg (tools/install-deps.sh)"
version=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || echo unknown)

# The key: source version, fragment and each patch, in name order. The
# build tree is kept per source version and patches, so that a change to
# the fragment alone rebuilds only what it touches.
src_key=$({
	echo "$pkg $version"
	for p in "$here"/patches/*.patch; do
		[ -e "$p" ] && sha256sum <"$p"
	done
} | sha256sum | cut -c1-16)
key=$({
	echo "$src_key"
	sha256sum <"$fragment"
} | sha256sum | cut -c1-16)
out=$cache/$key/vmlinux

case "${1:-}" in
--key) echo "$key"; exit 0 ;;
--print-path) echo "$out"; exit 0 ;;
"") ;;
*) die "unknown argument $1" ;;
esac

mkdir -p "$cache"
# One builder per tree; a second waits and then finds the result.
exec 9>"$cache/.lock-$src_key"
flock 9
if [ -s "$out" ]; then
	echo "$out"
	exit 0
fi

work=$cache/tree-$src_key
src=$work/$pkg
if [ ! -e "$work/.unpacked" ]; then
	rm -rf "$work"
	mkdir -p "$work/build"
	echo "guest-kernel: unpacking $pkg $version" >&2
	tar -xf "$tarball" -C "$work"
	for p in "$here"/patches/*.patch; do
		[ -e "$p" ] || continue
		echo "guest-kernel: applying $(basename "$p")" >&2
		patch -s -p1 -d "$src" <"$p" ||
			die "$(basename "$p") does not apply"
	done
	touch "$work/.unpacked"
fi

kmake() {
	make -s -C "$src" O="$work/build" ARCH=x86_64 "$@"
}
kmake tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$work/build" \
	"$work/build/.config" "$fragment" >/dev/null
kmake olddefconfig >/dev/null

# Every option of the fragment must have survived the dependency solver.
lost=0
grep -E '^(CONFIG_|# CONFIG_.* is not set)' "$fragment" | while read -r line; do
	case "$line" in
	"# CONFIG_"*)
		opt=${line#\# }
		opt=${opt%% *}
		grep -q "^$opt=" "$work/build/.config" &&
			{ echo "guest-kernel: $opt should be unset" >&2; echo x; }
		;;
	*)
		grep -qx "$line" "$work/build/.config" ||
			{ echo "guest-kernel: $line did not survive" >&2; echo x; }
		;;
	esac
done >"$work/lost"
[ -s "$work/lost" ] && lost=1
[ "$lost" -eq 0 ] || die "configuration check failed"

echo "guest-kernel: building vmlinux with -j$jobs" >&2
kmake -j"$jobs" vmlinux

mkdir -p "$cache/$key"
cp "$work/build/vmlinux" "$out.tmp"
cp "$work/build/.config" "$cache/$key/config"
mv "$out.tmp" "$out"
echo "$out"
