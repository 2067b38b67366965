#!/bin/sh
# virtio-net benchmark: the guest program tests/guest/net_bench.c under
# minnow and under QEMU microvm (virtio-net-device, vhost=off) on the same
# tap, against tools/bench-net-peer.c at 10.0.0.1, in a network namespace
# of its own. Prints medians of RUNS runs and minnow/QEMU ratios.
#
# Usage: tools/bench-net.sh [BUILD_DIR] (default build-nb); as root.
# Environment: RUNS (default 5), VMMS (default minnow,qemu), CMDLINE
# (guest words; "quick" for a short run), BASE (another minnow binary,
# compared as VMM "base": VMMS=minnow,base).
set -eu

build=${1:-build-nb}
runs=${RUNS:-5}
vmms=${VMMS:-minnow,qemu}
here=$(cd "$(dirname "$0")" && pwd)
minnow=$build/minnow
guest=$build/tests/guest/guest-net-bench
tap=mbench0

for f in "$minnow" "$guest"; do
	[ -x "$f" ] || { echo "bench-net: $f missing; build $build first" >&2; exit 1; }
done
case $vmms in *qemu*)
	command -v qemu-system-x86_64 >/dev/null ||
		{ echo "bench-net: qemu-system-x86_64 missing" >&2; exit 1; } ;;
esac
[ "$(id -u)" = 0 ] || { echo "bench-net: needs root (network namespace)" >&2; exit 1; }

work=$(mktemp -d /tmp/minnow-bench-net.XXXXXX)
ns=mbench-$$
trap 'ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"' EXIT INT TERM
cc -O2 -Wall -o "$work/peer" "$here/bench-net-peer.c"

# The tap, at 10.0.0.1 with a fixed MAC the guest knows; the guest's
# address is pinned so the host never asks for it, and IPv6 is off so
# the host sends nothing of its own.
ip netns add "$ns"
nsx() { ip netns exec "$ns" "$@"; }
nsx ip link set lo up
nsx ip tuntap add dev "$tap" mode tap vnet_hdr
nsx sysctl -qw "net.ipv6.conf.$tap.disable_ipv6=1"
nsx ip link set "$tap" address 02:00:00:00:00:01
nsx ip addr add 10.0.0.1/24 dev "$tap"
nsx ip link set "$tap" up
nsx ip neigh replace 10.0.0.2 lladdr 02:00:00:00:00:02 dev "$tap" nud permanent

echo "bench-net: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
PEER_LOG=${PEER_LOG:-$work/peer.log} nsx python3 "$here/bench-net.py" \
	--minnow "$(realpath "$minnow")" --image "$(realpath "$guest")" \
	--peer "$work/peer" --tap "$tap" --runs "$runs" --vmms "$vmms" \
	--cmdline "${CMDLINE:-}" ${BASE:+--base "$(realpath "$BASE")"}
echo "bench-net: load average after $(cut -d' ' -f1-3 /proc/loadavg)"
