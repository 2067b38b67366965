#!/bin/sh
# virtio-blk benchmark: the guest program tests/guest/blk_bench.c under
# minnow (direct=on) and under QEMU microvm (aio=io_uring, cache=none) on
# the same raw image, and fio's io_uring engine on the host against that
# image as the ceiling. Prints medians of RUNS runs and the ratios.
# The two VMMs take turns going first; the load average is printed
# before and after, since the figures mean little on a busy host.
#
# Usage: tools/bench-blk.sh [BUILD_DIR] (default build-blk)
# Environment: RUNS (default 3), IMG_DIR (default /var/tmp; not a tmpfs:
# O_DIRECT is needed), IMG_MIB (default 512), BASE (another minnow
# binary, e.g. an older build, run alongside as "base" for a before/after).
set -eu

build=${1:-build-blk}
runs=${RUNS:-3}
img_dir=${IMG_DIR:-/var/tmp}
img_mib=${IMG_MIB:-512}
minnow=$build/minnow
guest=$build/tests/guest/guest-blk-bench

base=${BASE:-}
for f in "$minnow" "$guest" ${base:+"$base"}; do
	[ -x "$f" ] || { echo "bench-blk: $f missing; build $build first" >&2; exit 1; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "bench-blk: qemu-system-x86_64 missing" >&2; exit 1; }
command -v fio >/dev/null || { echo "bench-blk: fio missing (tools/install-deps.sh)" >&2; exit 1; }

work=$(mktemp -d "$img_dir/minnow-bench-blk.XXXXXX")
trap 'rm -rf "$work"' EXIT
img=$work/disk.img
# Real blocks, not holes: reading a hole costs the host nothing.
dd if=/dev/urandom of="$img" bs=1M count="$img_mib" status=none
# Nobody's run should pay for writing the image back.
sync "$img"

run_minnow() {
	timeout 600 "${1:-$minnow}" run --kernel "$guest" --memory 256 --serial stdio \
		--disk "path=$img,direct=on" 2>&1 | grep '^bench: '
}

run_qemu() {
	timeout 600 qemu-system-x86_64 -M microvm,acpi=off -enable-kvm \
		-cpu host,-arch-capabilities -nodefaults -no-user-config \
		-display none -no-reboot -serial stdio -m 256 \
		-device isa-debug-exit,iobase=0x501,iosize=4 \
		-global virtio-mmio.force-legacy=false \
		-drive "file=$img,format=raw,if=none,id=d0,aio=io_uring,cache=none" \
		-device virtio-blk-device,drive=d0 -kernel "$guest" 2>&1 |
		grep '^bench: '
}

# fio with the guest's parameters (tests/guest/blk_bench.c's table: the
# same span and bytes); prints lines in the guest's format.
run_fio() {
	span=$((img_mib < 256 ? img_mib : 256))
	for t in "randread-4k-qd1 randread 4k 1 10000" \
		 "randread-4k-qd32 randread 4k 32 100000" \
		 "seqread-128k-qd8 read 128k 8 4096" \
		 "seqwrite-128k-qd8 write 128k 8 4096"; do
		set -- $t
		bytes=$(($5 * ${3%k} * 1024))
		fio --name="$1" --filename="$img" --ioengine=io_uring --direct=1 \
			--rw="$2" --bs="$3" --iodepth="$4" --io_size="$bytes" \
			--size="${span}M" --randrepeat=0 --output-format=json |
			python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0]
d = j["read"] if j["read"]["io_bytes"] else j["write"]
print("bench: %s iops=%d kbps=%d" % (sys.argv[1], d["iops"], d["bw"]))' "$1"
	done
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$runs"); do
	if [ $((i % 2)) -eq 1 ]; then
		run_minnow | sed 's/^/minnow /'
		run_qemu | sed 's/^/qemu /'
	else
		run_qemu | sed 's/^/qemu /'
		run_minnow | sed 's/^/minnow /'
	fi
	if [ -n "$base" ]; then
		run_minnow "$base" | sed 's/^/base /'
	fi
	run_fio | sed 's/^/host /'
done > "$work/results"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$work/results" <<'PY'
import re, statistics, sys
res = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\w+) bench: (\S+) .*iops=(\d+) kbps=(\d+)", line)
    if m:
        vmm, test, iops, kbps = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
        res.setdefault((vmm, test), []).append((iops, kbps))
tests = ["randread-4k-qd1", "randread-4k-qd32", "seqread-128k-qd8", "seqwrite-128k-qd8"]
def med(vmm, test, k):
    v = [x[k] for x in res.get((vmm, test), [])]
    return statistics.median(v) if v else float("nan")
base = any(v == "base" for v, _ in res)
print("| test |%s minnow | qemu | host fio | minnow/qemu | minnow/host |"
      % (" base |" if base else ""))
print("|---|---|---|---|---|---|" + ("---|" if base else ""))
for t in tests:
    k = 0 if t.startswith("rand") else 1
    unit = "IOPS" if k == 0 else "MB/s"
    f = (lambda x: "%.0f" % x) if k == 0 else (lambda x: "%.1f" % (x / 1024))
    m, q, h = med("minnow", t, k), med("qemu", t, k), med("host", t, k)
    b = f" {f(med('base', t, k))} |" if base else ""
    print(f"| {t} ({unit}) |{b} {f(m)} | {f(q)} | {f(h)} | {m / q:.2f} | {m / h:.2f} |")
n = {v: len(res.get((v, tests[0]), [])) for v in ("base", "minnow", "qemu", "host")}
print(f"runs: {n}")
PY
