#!/usr/bin/env python3
"""Boots one guest test program under minnow or QEMU microvm and checks it.

The program reports through the debug-exit port (0x501) and COM1. minnow
exits with the value written; QEMU's isa-debug-exit exits with
(value << 1) | 1, and a reset with -no-reboot ends QEMU with status 0,
which this runner reports as 3, minnow's status for a guest reset. Exits 0
on pass, 1 on fail, 77 when something the test needs is missing.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

SKIP = 77
RESET_STATUS = 3


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def fail(reason, output=None):
    if output is not None:
        print("---- guest output ----")
        print(output.rstrip())
        print("----------------------")
    print(f"FAIL: {reason}")
    sys.exit(1)


def minnow_command(args):
    if not os.access(args.minnow, os.X_OK):
        fail(f"minnow binary {args.minnow} not found; build it first")
    return [args.minnow, "run", "--kernel", args.image,
            "--cpus", str(args.cpus), "--memory", str(args.memory),
            "--serial", "stdio"] + (
                ["--cmdline", args.cmdline] if args.cmdline else [])


def qemu_command(args):
    qemu = shutil.which("qemu-system-x86_64")
    if not qemu:
        skip("qemu-system-x86_64 is not installed")
    return [qemu, "-M", "microvm", "-enable-kvm",
            "-cpu", "host,-arch-capabilities", "-nodefaults",
            "-no-user-config", "-display", "none", "-no-reboot",
            "-serial", "stdio",
            "-device", "isa-debug-exit,iobase=0x501,iosize=4",
            # microvm has no i8042 unless asked; minnow has one.
            "-device", "i8042",
            "-kernel", args.image, "-smp", str(args.cpus),
            "-m", str(args.memory)] + (
                ["-append", args.cmdline] if args.cmdline else []) + (
                args.qemu_arg)


def guest_status(vmm, rc):
    """Maps the VMM's exit status to the guest's, or None if it has none."""
    if vmm == "minnow":
        return rc
    if rc == 0:
        return RESET_STATUS
    if rc > 0 and rc & 1:
        return rc >> 1
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vmm", choices=["minnow", "qemu"], required=True)
    p.add_argument("--minnow", default="minnow", help="minnow binary")
    p.add_argument("--image", required=True)
    p.add_argument("--cpus", type=int, default=1)
    p.add_argument("--memory", type=int, default=128, help="MiB")
    p.add_argument("--cmdline", default="", help="guest command line")
    p.add_argument("--expect-exit", type=int, default=0)
    p.add_argument("--expect-output", default="",
                   help="regex (dot matches newlines) the output must contain")
    p.add_argument("--timeout", type=float, default=30)
    p.add_argument("--qemu-arg", action="append", default=[],
                   help="extra QEMU argument (repeatable; QEMU only)")
    args = p.parse_args()

    if not os.path.exists("/dev/kvm"):
        skip("/dev/kvm does not exist")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip("/dev/kvm is not accessible to this user")
    if not os.path.isfile(args.image):
        fail(f"guest image {args.image} not found")

    cmd = minnow_command(args) if args.vmm == "minnow" else qemu_command(args)
    print("running: " + " ".join(cmd))
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT,
                              timeout=args.timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        fail(f"no exit within {args.timeout:g} s", out)
    out = proc.stdout.decode(errors="replace")

    status = guest_status(args.vmm, proc.returncode)
    if status is None:
        fail(f"{args.vmm} exited with {proc.returncode}, "
             "which no guest exit maps to", out)
    if status != args.expect_exit:
        fail(f"guest exit status {status} ({args.vmm} status "
             f"{proc.returncode}), expected {args.expect_exit}", out)
    if args.expect_output and not re.search(args.expect_output, out, re.S):
        fail(f"output does not match /{args.expect_output}/", out)

    print(out.rstrip())
    print(f"PASS: exit status {status}, output matches "
          f"/{args.expect_output}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
