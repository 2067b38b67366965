#!/usr/bin/env python3
"""Runs a virtio-net guest test inside a network namespace of its own.

Makes namespace mnet-PID with tap mtap0 (vnet_hdr) at 10.0.0.1/24, runs a
UDP peer on 10.0.0.1:7777 that echoes datagrams and answers "burst N"
with N datagrams "seq 0" .. "seq N-1", and boots the guest under minnow
with --net tap=mtap0 in that namespace. The host's own network is never
touched, and the namespace is removed whatever happens. Exits 0 on pass,
1 on fail, 77 when namespaces or tun are unavailable.
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import threading

SKIP = 77
TAP = "mtap0"
HOST_IP = "10.0.0.1"
PORT = 7777


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def sh(*cmd, check=True):
    return subprocess.run(cmd, check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def peer(sock):
    """Echoes datagrams; "burst N" gets N numbered datagrams back."""
    while True:
        try:
            data, addr = sock.recvfrom(65536)
        except OSError:
            return
        m = re.match(rb"burst (\d+)", data)
        if not m:
            sock.sendto(data, addr)
            continue
        for i in range(int(m.group(1))):
            sock.sendto(b"seq %d" % i, addr)


def inner(args):
    """In the namespace: bring the tap up, start the peer, run minnow."""
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "addr", "add", f"{HOST_IP}/24", "dev", TAP)
    sh("ip", "link", "set", TAP, "up")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((HOST_IP, PORT))
    threading.Thread(target=peer, args=(sock,), daemon=True).start()

    cmd = [args.minnow, "run", "--kernel", args.image, "--memory", "128",
           "--serial", "stdio", "--cmdline", args.cmdline,
           "--net", f"tap={TAP},mac=02:00:00:00:00:02"]
    print("running: " + " ".join(cmd))
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=args.timeout)
    except subprocess.TimeoutExpired as e:
        print((e.stdout or b"").decode(errors="replace"))
        print(f"FAIL: no exit within {args.timeout} s")
        return 1
    out = proc.stdout.decode(errors="replace")
    print(out.rstrip())
    if proc.returncode != 0:
        print(f"FAIL: minnow exited with {proc.returncode}")
        return 1
    if not re.search(args.expect_output, out, re.S):
        print(f"FAIL: output does not match /{args.expect_output}/")
        return 1
    print("PASS")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minnow", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--cmdline", default="")
    p.add_argument("--expect-output", default="net: ok")
    p.add_argument("--timeout", type=float, default=90)
    p.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.inner:
        return inner(args)

    if os.geteuid() != 0:
        skip("network namespaces need root")
    if not os.path.exists("/dev/net/tun"):
        skip("/dev/net/tun is missing")
    if not os.access(args.minnow, os.X_OK):
        print(f"FAIL: minnow binary {args.minnow} not found")
        return 1
    # A CTest timeout sends SIGTERM: still remove the namespace.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    ns = f"mnet-{os.getpid()}"
    if sh("ip", "netns", "add", ns, check=False).returncode:
        skip("cannot create a network namespace (ip netns add failed)")
    try:
        r = sh("ip", "netns", "exec", ns, "ip", "tuntap", "add", "dev", TAP,
               "mode", "tap", "vnet_hdr", check=False)
        if r.returncode:
            skip(f"cannot create a tap in the namespace: {r.stdout.strip()}")
        return subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable,
             os.path.abspath(__file__), "--inner", "--minnow", args.minnow,
             "--image", args.image, "--cmdline", args.cmdline,
             "--expect-output", args.expect_output,
             "--timeout", str(args.timeout)]).returncode
    finally:
        sh("ip", "netns", "del", ns, check=False)


if __name__ == "__main__":
    sys.exit(main())
