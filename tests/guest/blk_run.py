#!/usr/bin/env python3
"""Runs a virtio-blk guest program (blk_guest.c) over a fresh image, then
checks the image's bytes on the host.

The image is 16 MiB of 0x5a. Each mode has its own host-side checks; in
the safety mode the runner SIGKILLs the VMM as soon as the guest says its
writes are flushed. Exits 0 on pass, 1 on fail, 77 when something needed
is missing.
"""
import argparse
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
IMG_BYTES = 16 << 20
FILL = 0x5A
SERIAL = "minnow-blk-test"


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def fail(reason, output=None):
    if output:
        print("---- guest output ----")
        print(output.rstrip())
        print("----------------------")
    print(f"FAIL: {reason}")
    sys.exit(1)


def pattern(off, length, seed):
    """What blk_pattern_byte() writes at image offsets [off, off+length)."""
    return bytes((o * 7 + (o >> 9) * 13 + seed) & 0xFF
                 for o in range(off, off + length))


def vmm_command(args, img, mode):
    extra = "," + args.disk_opts if args.disk_opts else ""
    if args.vmm == "minnow":
        return [args.minnow, "run", "--kernel", args.image, "--memory", "128",
                "--serial", "stdio", "--cmdline", mode,
                "--disk", f"path={img},serial={SERIAL}{extra}"]
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        skip("qemu-system-x86_64 is not installed")
    ro = ",readonly=on" if "readonly=on" in extra else ""
    return [qemu, "-M", "microvm,acpi=off", "-enable-kvm",
            "-cpu", "host,-arch-capabilities", "-nodefaults",
            "-no-user-config", "-display", "none", "-no-reboot",
            "-serial", "stdio", "-m", "128",
            "-device", "isa-debug-exit,iobase=0x501,iosize=4",
            "-global", "virtio-mmio.force-legacy=false",
            "-drive", f"file={img},format=raw,if=none,id=d0,"
                      f"aio=io_uring,cache=none{ro}",
            "-device", f"virtio-blk-device,drive=d0,serial={SERIAL}",
            "-kernel", args.image, "-append", mode]


def exit_ok(vmm, rc):
    return rc == 0 if vmm == "minnow" else rc == 1  # (0 << 1) | 1


def run(args, cmd):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=args.timeout)
    except subprocess.TimeoutExpired as e:
        fail(f"no exit within {args.timeout} s",
             (e.stdout or b"").decode(errors="replace"))
    out = p.stdout.decode(errors="replace")
    if not exit_ok(args.vmm, p.returncode):
        fail(f"exit status {p.returncode}", out)
    if "blk: ok" not in out:
        fail("guest did not report success", out)
    return out


def run_until_flushed(args, cmd):
    """Starts the VMM, SIGKILLs it right after the guest's flush line."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    out = b""
    deadline = time.monotonic() + args.timeout
    while b"blk-safety: flushed" not in out:
        left = deadline - time.monotonic()
        if left <= 0 or p.poll() is not None:
            p.kill()
            p.wait()
            fail("guest never reported its flush", out.decode(errors="replace"))
        ready, _, _ = select.select([p.stdout], [], [], left)
        if ready:
            chunk = os.read(p.stdout.fileno(), 65536)
            out += chunk
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    return out.decode(errors="replace")


def expect(data, off, want, what, out):
    got = data[off:off + len(want)]
    if got != want:
        first = next(i for i in range(len(want)) if got[i] != want[i])
        fail(f"{what}: image differs at offset {off + first:#x}", out)


def check(mode, data, out):
    if len(data) != IMG_BYTES:
        fail(f"image is {len(data)} bytes, not {IMG_BYTES}", out)
    fill = lambda n: bytes([FILL]) * n
    if mode == "blk-basic":
        expect(data, 0, pattern(0, 65536, 1), "64 KiB write", out)
        expect(data, 65536, fill(65536), "after the 64 KiB write", out)
        expect(data, 128 << 10, pattern(128 << 10, 4096, 2), "4 KiB", out)
        expect(data, 256 << 10, bytes(16384), "write-zeroes", out)
        expect(data, 272 << 10, fill(4096), "after write-zeroes", out)
        expect(data, 1 << 20, pattern(1 << 20, 32 * 4096, 3), "in flight",
               out)
        expect(data, IMG_BYTES - 4096, fill(4096), "last sectors", out)
        if f"serial '{SERIAL}'" not in out:
            fail("GET_ID did not return the serial", out)
    elif mode == "blk-ro":
        expect(data, 0, fill(IMG_BYTES), "read-only image", out)
    elif mode == "blk-mq":
        nq = int(re.search(r"blk: (\d+) queues", out).group(1))
        for i in range(nq):
            off = (2 << 20) + 4096 * i
            expect(data, off, pattern(off, 4096, 10 + i), f"queue {i}", out)
    elif mode == "blk-safety":
        expect(data, 4 << 20, pattern(4 << 20, 1 << 20, 20),
               "flushed data after SIGKILL", out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vmm", choices=["minnow", "qemu"], default="minnow")
    p.add_argument("--minnow", default="minnow")
    p.add_argument("--image", required=True, help="guest program")
    p.add_argument("--mode", required=True)
    p.add_argument("--disk-opts", default="", help="more --disk fields")
    p.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()

    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip("/dev/kvm is not usable")
    if args.vmm == "minnow" and not os.access(args.minnow, os.X_OK):
        fail(f"minnow binary {args.minnow} not found; build it first")
    with tempfile.TemporaryDirectory(prefix="minnow-blk-") as tmp:
        img = os.path.join(tmp, "disk.img")
        with open(img, "wb") as f:
            f.write(bytes([FILL]) * IMG_BYTES)
        cmd = vmm_command(args, img, args.mode)
        if args.mode == "blk-safety":
            out = run_until_flushed(args, cmd)
        else:
            out = run(args, cmd)
        with open(img, "rb") as f:
            data = f.read()
        check(args.mode, data, out)
    print(f"PASS: {args.mode}")


if __name__ == "__main__":
    main()
