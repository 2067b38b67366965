#!/usr/bin/env python3
"""Runs the virtio-fs guest program (fs_guest.c) over a fresh shared
directory, then checks that directory, and its untouched neighbour, on
the host.

--transport builtin serves the directory with minnow's in-process server
(--fs tag=,dir=); vhost-user starts `minnow virtiofsd` and connects to it
(--fs tag=,socket=). Exits 0 on pass, 1 on fail, 77 when something needed
is missing.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

SKIP = 77
TAG = "minnowfs"
GREETING = b"hello from the guest through virtio-fs\n"


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


def start_backend(args, shared, sock):
    d = subprocess.Popen([args.minnow, "virtiofsd", "--socket-path", sock,
                          "--shared-dir", shared], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    for _ in range(100):
        if os.path.exists(sock):
            return d
        if d.poll() is not None:
            break
        time.sleep(0.05)
    out = d.stdout.read().decode(errors="replace") if d.poll() else ""
    d.kill()
    fail("minnow virtiofsd did not create its socket", out)


def check(shared, outside, out):
    def content(rel):
        try:
            with open(os.path.join(shared, rel), "rb") as f:
                return f.read()
        except OSError as e:
            fail(f"{rel}: {e}", out)

    if content("dir/moved.txt") != GREETING:
        fail("dir/moved.txt does not hold what the guest wrote", out)
    if content("keep.txt") != b"keep\n":
        fail("keep.txt does not hold what the guest wrote", out)
    for gone in ("hello.txt", "doomed", "escaped"):
        if os.path.lexists(os.path.join(shared, gone)):
            fail(f"{gone} should not exist", out)
    link = os.path.join(shared, "etc-link")
    if not os.path.islink(link) or os.readlink(link) != "/etc":
        fail("etc-link is not the symlink the guest made", out)
    if os.listdir(outside) != ["marker"]:
        fail(f"the directory next to the share changed: "
             f"{os.listdir(outside)}", out)
    if os.path.lexists(os.path.join(os.path.dirname(shared), "escaped")):
        fail("a file escaped the share", out)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minnow", default="minnow")
    p.add_argument("--image", required=True, help="guest program")
    p.add_argument("--transport", choices=["builtin", "vhost-user"],
                   default="builtin")
    p.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()

    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip("/dev/kvm is not usable")
    if not os.access(args.minnow, os.X_OK):
        fail(f"minnow binary {args.minnow} not found; build it first")
    top = tempfile.mkdtemp(prefix="minnow-fs-")
    shared = os.path.join(top, "shared")
    outside = os.path.join(top, "outside")
    os.mkdir(shared)
    os.mkdir(outside)
    with open(os.path.join(outside, "marker"), "w") as f:
        f.write("untouched\n")

    backend = None
    if args.transport == "builtin":
        spec = f"tag={TAG},dir={shared}"
    else:
        sock = os.path.join(top, "vfsd.sock")
        backend = start_backend(args, shared, sock)
        spec = f"tag={TAG},socket={sock}"
    cmd = [args.minnow, "run", "--kernel", args.image, "--memory", "128",
           "--serial", "stdio", "--fs", spec]
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=args.timeout)
    except subprocess.TimeoutExpired as e:
        fail(f"no exit within {args.timeout} s",
             (e.stdout or b"").decode(errors="replace"))
    finally:
        if backend:
            backend.kill()
            backend.wait()
    out = r.stdout.decode(errors="replace")
    if r.returncode != 0 or "fs: ok" not in out:
        fail(f"exit status {r.returncode}", out)
    if f"tag '{TAG}'" not in out:
        fail("the guest did not read the tag", out)
    check(shared, outside, out)
    subprocess.run(["rm", "-rf", top])
    print(out.rstrip())
    print("PASS")


if __name__ == "__main__":
    main()
