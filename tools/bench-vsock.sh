#!/bin/sh
# virtio-vsock benchmark: boots tests/guest/vsock_guest.c under minnow
# through tests/guest/vsock_run.py RUNS times and prints the medians of
# stream throughput through the unix socket (host to guest, guest to host,
# and an echo through the guest) and of CONNECT->OK latency.
#
# Usage: tools/bench-vsock.sh [BUILD_DIR] [RUNS]   (defaults: build, 5)
# Needs /dev/kvm and a built tree (ninja -C BUILD_DIR minnow guest-vsock).
set -eu

build=${1:-build}
runs=${2:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
image=$build/tests/guest/guest-vsock

if [ ! -x "$build/minnow" ] || [ ! -f "$image" ]; then
	echo "bench-vsock: build first: ninja -C $build minnow guest-vsock" >&2
	exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
i=0
while [ "$i" -lt "$runs" ]; do
	python3 "$root/tests/guest/vsock_run.py" --minnow "$build/minnow" \
		--image "$image" --no-hostile --json | grep '^{' >>"$out"
	i=$((i + 1))
done
python3 - "$out" "$runs" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
print(f"virtio-vsock, medians of {sys.argv[2]} runs (64 MiB streams)")
print("| measure | median |")
print("|---|---|")
print(f"| host -> guest (unix socket to guest) | {med['h2g_mib_s']:.1f} MiB/s |")
print(f"| guest -> host (guest to unix socket) | {med['g2h_mib_s']:.1f} MiB/s |")
print(f"| echo through the guest, each way | {med['echo_mib_s']:.1f} MiB/s |")
print(f"| CONNECT -> OK, median of 50 | {med['connect_us_median']:.0f} us |")
print(f"| CONNECT -> OK, p90 of 50 | {med['connect_us_p90']:.0f} us |")
print(f"| refused CONNECT, per redial | {med['refused_ms']:.2f} ms |")
PY
