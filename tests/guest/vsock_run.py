#!/usr/bin/env python3
"""Host side of the virtio-vsock guest test (tests/guest/vsock_guest.c).

Boots the guest under minnow with --vsock, then through the unix socket:
1,000 CONNECTs the not-yet-listening guest refuses, CONNECT->OK latency,
64 MiB echoed through one stream (sha256 compared), 64 streams at once,
and the guest's own connection to PATH_5000 carrying 64 MiB each way.
Prints the figures; exits 0 on pass, 1 on fail, 77 when /dev/kvm or the
minnow binary is missing.
"""
import argparse
import hashlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
MIB = 1 << 20


def fail(msg, out=None):
    if out:
        print("---- guest output ----\n" + out.rstrip() + "\n----------------------")
    print(f"FAIL: {msg}")
    sys.exit(1)


def dial(path, port, timeout=20.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(f"CONNECT {port}\n".encode())
    return s


def read_line(s):
    buf = b""
    while not buf.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            return None
        buf += c
    return buf.decode()


def recv_exact(s, n):
    chunks, got = [], 0
    while got < n:
        c = s.recv(min(1 << 20, n - got))
        if not c:
            break
        chunks.append(c)
        got += len(c)
    return b"".join(chunks)


def pattern(total):
    """The guest's pattern: byte i is (31 i + (i >> 13)) mod 256."""
    base = bytes((31 * j) & 0xFF for j in range(8192))
    return b"".join(base.translate(bytes((k + b) & 0xFF for k in range(256)))
                    for b in range(total // 8192))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minnow", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--mib", type=int, default=64)
    p.add_argument("--timeout", type=float, default=300)
    args = p.parse_args()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIP: /dev/kvm is not usable")
        sys.exit(SKIP)
    if not os.access(args.minnow, os.X_OK):
        fail(f"{args.minnow} not found; build it first")
    total = args.mib * MIB

    tmp = tempfile.mkdtemp(prefix="minnow-vsock-")
    path = os.path.join(tmp, "v.sock")
    host_l = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    host_l.bind(path + "_5000")
    host_l.listen(1)
    host_l.settimeout(args.timeout)

    cmd = [args.minnow, "run", "--kernel", args.image, "--memory", "256",
           "--serial", "stdio", "--vsock", f"cid=3,socket={path}",
           "--cmdline", "vsock-refuse vsock-client"]
    vm = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    out = []
    listening = threading.Event()

    def reader():
        for line in vm.stdout:
            out.append(line)
            if "listening on port 1024" in line:
                listening.set()
    threading.Thread(target=reader, daemon=True).start()
    try:
        if not listening.wait(60):
            fail("the guest never listened", "".join(out))

        # The Kata runtime's redial loop while the agent is not up.
        t0 = time.monotonic()
        for i in range(1000):
            s = dial(path, 1024)
            if s.recv(64) != b"":
                fail(f"redial {i}: expected the socket closed")
            s.close()
        redial = time.monotonic() - t0
        print(f"refused CONNECTs: 1000 in {redial:.2f} s "
              f"({redial:.2f} ms each)")

        # CONNECT -> OK latency.
        lat = []
        for i in range(50):
            t = time.monotonic()
            s = dial(path, 1024)
            line = read_line(s)
            lat.append(time.monotonic() - t)
            if not line or not re.fullmatch(r"OK \d+\n", line):
                fail(f"CONNECT {i}: got {line!r}", "".join(out))
            s.close()
        lat.sort()
        print(f"CONNECT->OK: median {lat[len(lat) // 2] * 1e6:.0f} us, "
              f"max {lat[-1] * 1e6:.0f} us")

        # 64 MiB echoed through one stream.
        data = os.urandom(total)
        s = dial(path, 1024)
        read_line(s)
        t = time.monotonic()
        sender = threading.Thread(target=s.sendall, args=(data,))
        sender.start()
        back = recv_exact(s, total)
        sender.join()
        dt = time.monotonic() - t
        if hashlib.sha256(back).digest() != hashlib.sha256(data).digest():
            fail(f"echo: {len(back)} bytes back, hash differs")
        print(f"echo: {args.mib} MiB each way in {dt:.2f} s "
              f"({args.mib / dt:.1f} MiB/s each way)")
        s.close()

        # 64 streams at once.
        socks = [dial(path, 1024) for _ in range(64)]
        for s in socks:
            if not (read_line(s) or "").startswith("OK "):
                fail("one of 64 streams was refused")
        msgs = [os.urandom(65536) for _ in socks]
        for s, m in zip(socks, msgs):
            s.sendall(m)
        for s, m in zip(socks, msgs):
            if recv_exact(s, len(m)) != m:
                fail("64 streams: an echo differs")
            s.close()
        print("64 streams: 64 KiB echoed on each")

        # The guest connects to PATH_5000: 64 MiB each way.
        s = dial(path, 9)
        s.recv(16)
        s.close()
        conn, _ = host_l.accept()
        conn.settimeout(args.timeout)
        want = pattern(64 * MIB)
        t = time.monotonic()
        sender = threading.Thread(target=conn.sendall, args=(want,))
        sender.start()
        got = recv_exact(conn, len(want))
        sender.join()
        dt = time.monotonic() - t
        if hashlib.sha256(got).digest() != hashlib.sha256(want).digest():
            fail(f"client: {len(got)} bytes, hash differs", "".join(out))
        print(f"guest client: 64 MiB each way in {dt:.2f} s "
              f"({64 / dt:.1f} MiB/s each way)")
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1)
        conn.close()
        rc = vm.wait(args.timeout)
    finally:
        if vm.poll() is None:
            vm.kill()
            vm.wait()
        for f in (path, path + "_5000"):
            if os.path.exists(f):
                os.unlink(f)
        os.rmdir(tmp)
    text = "".join(out)
    if rc != 0 or "vsock: ok" not in text:
        fail(f"minnow exited {rc}", text)
    print(text.rstrip())
    print("PASS")


if __name__ == "__main__":
    main()
