#!/usr/bin/env python3
"""Boots Debian's stock kernel under minnow until it prints its banner.

The package ships a bzImage whose payload is xz-compressed; booting that
here means emulating the decompressor for minutes, so the test extracts
the ELF vmlinux once (into the build tree) and boots that through its PVH
entry. It stops the VM with SIGTERM as soon as "Linux version" appears:
past that point, on a host whose KVM is software (kvm_pvm), the rest of
the boot is emulated and slow.

Exit status: 0 pass, 1 fail, 77 skip (no /dev/kvm or no stock kernel).
"""
import argparse
import glob
import lzma
import os
import select
import signal
import subprocess
import sys
import time
import zlib

XZ_MAGIC = b"\xfd7zXZ\x00"
GZIP_MAGIC = b"\x1f\x8b\x08"


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def extract_vmlinux(bzimage, out):
    """Writes the ELF payload of bzimage to out, if not already there."""
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(bzimage):
        return
    data = open(bzimage, "rb").read()
    for magic, decompress in (
        (XZ_MAGIC, lambda d: lzma.LZMADecompressor().decompress(d)),
        (GZIP_MAGIC, lambda d: zlib.decompressobj(31).decompress(d)),
    ):
        start = data.find(magic)
        while start >= 0:
            try:
                elf = decompress(data[start:])
            except (lzma.LZMAError, zlib.error):
                elf = b""
            if elf.startswith(b"\x7fELF"):
                tmp = out + ".tmp"
                with open(tmp, "wb") as f:
                    f.write(elf)
                os.replace(tmp, out)
                return
            start = data.find(magic, start + 1)
    sys.exit(f"FAIL: no xz or gzip ELF payload found in {bzimage}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minnow", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--timeout", type=float, default=240)
    args = ap.parse_args()

    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip("/dev/kvm is missing or not accessible")
    kernels = sorted(glob.glob("/boot/vmlinuz-*"))
    if not kernels:
        skip("no stock kernel in /boot (install linux-image-amd64)")
    bzimage = kernels[-1]
    vmlinux = os.path.join(args.workdir, "stock-vmlinux")
    extract_vmlinux(bzimage, vmlinux)

    cmd = [args.minnow, "run", "--kernel", vmlinux, "--memory", "256",
           "--cmdline", "earlyprintk=serial console=ttyS0"]
    print("running:", " ".join(cmd), flush=True)
    start = time.monotonic()
    vm = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = b""
    seen = None
    while time.monotonic() - start < args.timeout:
        ready, _, _ = select.select([vm.stdout], [], [], 1.0)
        if ready:
            chunk = os.read(vm.stdout.fileno(), 65536)
            if not chunk:
                break
            output += chunk
            if b"Linux version" in output:
                seen = time.monotonic() - start
                break
    vm.send_signal(signal.SIGTERM)
    try:
        status = vm.wait(timeout=30)
    except subprocess.TimeoutExpired:
        vm.kill()
        vm.wait()
        print(output.decode(errors="replace")[-4000:])
        sys.exit("FAIL: minnow did not stop within 30 s of SIGTERM")
    output += vm.stdout.read()
    text = output.decode(errors="replace")
    if seen is None:
        print(text[-4000:])
        sys.exit(f"FAIL: no 'Linux version' banner within {args.timeout} s")
    banner = next(l for l in text.splitlines() if "Linux version" in l)
    print(banner.strip())
    print(f"banner after {seen:.1f} s")
    if status != 128 + signal.SIGTERM:
        print(text[-4000:])
        sys.exit(f"FAIL: minnow exited {status} after SIGTERM, expected 143")
    print("PASS")


if __name__ == "__main__":
    main()
