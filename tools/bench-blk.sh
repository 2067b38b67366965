#!/bin/sh
# virtio-blk benchmark: the guest program tests/guest/blk_bench.c under
# minnow (direct=on) and under QEMU microvm (aio=io_uring, cache=none) on
# the same raw image, and fio's io_uring engine on the host against that
# image as the ceiling. Prints medians of RUNS runs and the ratios.
# The two VMMs take turns going first; the load average is printed
# before and after, since the figures mean little on a busy host.
#
# Usage: tools/bench-blk.sh [BUILD_DIR] (default build-blk)
# Contenders: minnow; qemu (RAM on a shared memfd, as minnow's); qemu-anon
# (QEMU's default RAM, see run_qemu); host (fio); base (with BASE=).
# Environment: RUNS (default 3), IMG_DIR (default /var/tmp; not a tmpfs:
# O_DIRECT is needed), IMG_MIB (default 512), BASE (another minnow
# binary, e.g. an older build, run alongside as "base" for a before/after),
# RESULTS (a file to keep every run's lines in).
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

# Guest RAM as minnow has it (a shared memfd, which vhost-user devices
# need; Kata gives QEMU shared RAM too when it uses virtio-fs) unless
# $1 is "anon": QEMU's own default, private RAM it backs with transparent
# huge pages. A direct read into huge pages takes fewer, larger segments,
# so "anon" shows the memory's share of the difference, not the device's.
run_qemu() {
	mem="-object memory-backend-memfd,id=ram,size=256M,share=on"
	mem="$mem -machine memory-backend=ram"
	[ "${1:-}" != anon ] || mem=
	timeout 600 qemu-system-x86_64 -M microvm,acpi=off -enable-kvm \
		-cpu host,-arch-capabilities -nodefaults -no-user-config \
		-display none -no-reboot -serial stdio -m 256 $mem \
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

run_one() {
	case $1 in
	minnow) run_minnow ;;
	base) run_minnow "$base" ;;
	qemu) run_qemu ;;
	qemu-anon) run_qemu anon ;;
	host) run_fio ;;
	esac | sed "s/^/$1 /"
}

# Each run starts one place further along the list, so that no contender
# always follows the same one (the host's caches remember).
set -- minnow qemu ${base:+base} qemu-anon host
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$runs"); do
	for who in "$@"; do
		run_one "$who"
	done
	first=$1
	shift
	set -- "$@" "$first"
done > "$work/results"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -z "${RESULTS:-}" ] || cp "$work/results" "$RESULTS"

python3 - "$work/results" <<'PY'
import re, statistics, sys
res = {}
for line in open(sys.argv[1]):
    m = re.match(r"([\w-]+) bench: (\S+) .*iops=(\d+) kbps=(\d+)", line)
    if m:
        vmm, test, iops, kbps = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
        res.setdefault((vmm, test), []).append((iops, kbps))
tests = ["randread-4k-qd1", "randread-4k-qd32", "seqread-128k-qd8", "seqwrite-128k-qd8"]
def med(vmm, test, k):
    v = [x[k] for x in res.get((vmm, test), [])]
    return statistics.median(v) if v else float("nan")
who = [v for v in ("base", "minnow", "qemu", "qemu-anon", "host")
       if any(w == v for w, _ in res)]
cols = [v if v != "host" else "host fio" for v in who]
cols += ["minnow/qemu", "minnow/qemu-anon", "minnow/host"]
print("| test | " + " | ".join(cols) + " |")
print("|---|" + "---|" * len(cols))
for t in tests:
    k = 0 if t.startswith("rand") else 1
    unit = "IOPS" if k == 0 else "MB/s"
    f = (lambda x: "%.0f" % x) if k == 0 else (lambda x: "%.1f" % (x / 1024))
    v = {w: med(w, t, k) for w in who}
    m = v["minnow"]
    cells = [f(v[w]) for w in who]
    cells += ["%.2f" % (m / v.get(w, float("nan")))
              for w in ("qemu", "qemu-anon", "host")]
    print(f"| {t} ({unit}) | " + " | ".join(cells) + " |")
n = {v: len(res.get((v, tests[0]), [])) for v in who}
print(f"runs: {n}")
PY
