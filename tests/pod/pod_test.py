#!/usr/bin/env python3
"""`minnow pod run` end to end on a busybox root: one case per run.

Exit 0 pass, 1 fail, 77 skip (no /dev/kvm, no busybox-static, no kernel).
"""
import argparse
import os
import select
import shutil
import socket
import subprocess
import sys
import time

BUSYBOX = "/bin/busybox"
APPLETS = ("sh", "echo", "cat", "dd", "hexdump", "wc", "false", "true",
           "ping")


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def fail(why, res=None):
    print("FAIL: " + why)
    if res is not None:
        print("status %d\n--- stdout\n%s--- stderr\n%s" %
              (res.returncode, res.stdout, res.stderr))
    sys.exit(1)


def make_rootfs(path):
    """A root with busybox-static and the applets the cases use."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(os.path.join(path, "bin"))
    os.makedirs(os.path.join(path, "etc"))
    shutil.copy(BUSYBOX, os.path.join(path, "bin", "busybox"))
    for a in APPLETS:
        os.symlink("busybox", os.path.join(path, "bin", a))


def pod_run(minnow, rootfs, cmd, timeout, root_flag="--rootfs",
            extra=()):
    argv = [minnow, "pod", "run", root_flag, rootfs, "--env",
            "PATH=/bin"] + list(extra) + ["--"] + cmd
    start = time.monotonic()
    res = subprocess.run(argv, capture_output=True, text=True,
                         timeout=timeout)
    print("ran %s in %.1f s, status %d" %
          (" ".join(cmd), time.monotonic() - start, res.returncode))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minnow", required=True)
    ap.add_argument("--case", required=True,
                    choices=("hello", "status", "hwrng", "ext4", "virtiofs",
                             "vsock", "net"))
    ap.add_argument("--vsock-echo", help="the static vsock echo server")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--timeout", type=int, default=200)
    args = ap.parse_args()

    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip("no usable /dev/kvm")
    if not os.path.exists(BUSYBOX):
        skip("no " + BUSYBOX + " (busybox-static)")
    guest = os.path.join(os.path.dirname(args.minnow), "guest-kernel")
    for f in ("vmlinux", "pod-initramfs.cpio"):
        if not os.path.exists(os.path.join(guest, f)):
            skip("no %s/%s (the pod/kernel test builds it)" % (guest, f))

    os.makedirs(args.workdir, exist_ok=True)
    rootfs = os.path.join(args.workdir, "rootfs")
    make_rootfs(rootfs)

    if args.case == "hello":
        res = pod_run(args.minnow, rootfs, ["echo", "hello"], args.timeout)
        if res.returncode != 0 or res.stdout != "hello\n":
            fail("echo hello: wanted 'hello' and status 0", res)
    elif args.case == "status":
        res = pod_run(args.minnow, rootfs,
                      ["sh", "-c", "echo out; echo err >&2; exit 7"],
                      args.timeout)
        if res.returncode != 7 or res.stdout != "out\n" or \
                "err\n" not in res.stderr:
            fail("wanted status 7, 'out' on stdout, 'err' on stderr", res)
    elif args.case == "hwrng":
        res = pod_run(args.minnow, rootfs,
                      ["sh", "-c", "dd if=/dev/hwrng bs=32 count=1 "
                       "2>/dev/null | hexdump -v -e '1/1 \"%02x\"'"],
                      args.timeout)
        out = res.stdout.strip()
        if res.returncode != 0 or len(out) != 64 or set(out) == {"0"}:
            fail("wanted 32 random bytes from /dev/hwrng", res)
    elif args.case == "ext4":
        # The root as an ext4 image on virtio-blk, read by Linux's own
        # virtio-blk and ext4 drivers; the marker exists only in the image.
        if not shutil.which("mkfs.ext4"):
            skip("no mkfs.ext4 (e2fsprogs)")
        with open(os.path.join(rootfs, "marker"), "w") as f:
            f.write("read through virtio-blk\n")
        image = os.path.join(args.workdir, "root.ext4")
        if os.path.exists(image):
            os.unlink(image)
        subprocess.run(["mkfs.ext4", "-q", "-d", rootfs, image, "16M"],
                       check=True)
        res = pod_run(args.minnow, image, ["cat", "/marker"], args.timeout,
                      root_flag="--rootfs-image")
        if res.returncode != 0 or res.stdout != "read through virtio-blk\n":
            fail("wanted the marker from the ext4 image", res)
    elif args.case == "virtiofs":
        # A host directory shared read-write through Linux's own virtiofs
        # driver: the container reads what the host wrote, and the host
        # sees what the container wrote.
        share = os.path.join(args.workdir, "share")
        shutil.rmtree(share, ignore_errors=True)
        os.makedirs(share)
        with open(os.path.join(share, "in"), "w") as f:
            f.write("from the host\n")
        res = pod_run(args.minnow, rootfs,
                      ["sh", "-c", "cat /data/in; echo from the guest "
                       "> /data/out"], args.timeout,
                      extra=("--volume", share + ":/data"))
        out = os.path.join(share, "out")
        if res.returncode != 0 or res.stdout != "from the host\n":
            fail("wanted the host's file read in the guest", res)
        if not os.path.exists(out) or open(out).read() != "from the guest\n":
            fail("the guest's file did not reach the host directory", res)
    elif args.case == "vsock":
        vsock_case(args, rootfs)
    elif args.case == "net":
        net_case(args, rootfs)
    print("PASS")


def net_case(args, rootfs):
    """The container pings the host through Linux's virtio-net driver and
    a tap in a network namespace of the test's own."""
    if os.geteuid() != 0 or not os.path.exists("/dev/net/tun"):
        skip("network namespaces and taps need root and /dev/net/tun")
    ns = "mpod-%d" % os.getpid()

    def ip(*cmd, check=True):
        return subprocess.run(["ip", "netns", "exec", ns, "ip"] + list(cmd),
                              check=check, capture_output=True, text=True)

    if subprocess.run(["ip", "netns", "add", ns]).returncode:
        skip("cannot create a network namespace")
    try:
        ip("tuntap", "add", "dev", "mpod0", "mode", "tap", "vnet_hdr")
        ip("addr", "add", "10.0.2.1/24", "dev", "mpod0")
        ip("link", "set", "mpod0", "up")
        ip("link", "set", "lo", "up")
        argv = ["ip", "netns", "exec", ns, args.minnow, "pod", "run",
                "--rootfs", rootfs, "--env", "PATH=/bin",
                "--net", "tap=mpod0", "--ip", "10.0.2.2/24,10.0.2.1", "--",
                "ping", "-c", "2", "-W", "10", "10.0.2.1"]
        start = time.monotonic()
        res = subprocess.run(argv, capture_output=True, text=True,
                             timeout=args.timeout)
        print("ran ping in %.1f s, status %d" %
              (time.monotonic() - start, res.returncode))
        if res.returncode != 0 or " 0% packet loss" not in res.stdout:
            fail("wanted the host answering the container's ping", res)
    finally:
        subprocess.run(["ip", "netns", "del", ns])


def vsock_case(args, rootfs):
    """A host client reaches a listener inside Linux through virtio-vsock
    and minnow's unix-socket bridge (CONNECT <port> / OK)."""
    shutil.copy(args.vsock_echo, os.path.join(rootfs, "bin", "vsock_echo"))
    sock_path = os.path.join(args.workdir, "v.sock")
    argv = [args.minnow, "pod", "run", "--rootfs", rootfs, "--env",
            "PATH=/bin", "--vsock", "cid=3,socket=" + sock_path, "--",
            "vsock_echo", "1024"]
    start = time.monotonic()
    vm = subprocess.Popen(argv, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    out = b""
    try:
        while b"listening on vsock port 1024" not in out:
            if time.monotonic() - start > args.timeout:
                fail("the guest never listened: " + out.decode())
            ready, _, _ = select.select([vm.stdout], [], [], 1.0)
            if ready:
                chunk = os.read(vm.stdout.fileno(), 4096)
                if not chunk:
                    fail("minnow ended before the guest listened: " +
                         out.decode() + vm.stderr.read().decode())
                out += chunk
        print("guest listening after %.1f s" % (time.monotonic() - start))

        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.settimeout(30)
        c.connect(sock_path)
        c.sendall(b"CONNECT 1024\n")
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = c.recv(1)
            if not chunk:
                fail("the bridge closed without OK")
            reply += chunk
        if not reply.startswith(b"OK "):
            fail("wanted OK from the bridge, got %r" % reply)
        message = b"ping through Linux's vsock driver\n"
        c.sendall(message)
        echoed = b""
        while len(echoed) < len(message):
            chunk = c.recv(4096)
            if not chunk:
                break
            echoed += chunk
        c.close()
        if echoed != message:
            fail("wanted the message echoed, got %r" % echoed)
        status = vm.wait(timeout=60)
    finally:
        if vm.poll() is None:
            vm.kill()
            vm.wait()
    out += vm.stdout.read()
    if status != 0 or b"connection closed" not in out:
        fail("wanted the guest to see the close and exit 0, status %d: %s"
             % (status, out.decode()))


if __name__ == "__main__":
    main()
