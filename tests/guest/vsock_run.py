#!/usr/bin/env python3
"""Host side of the virtio-vsock guest test (tests/guest/vsock_guest.c).

Boots the guest under minnow with --vsock, then through the unix socket:
a client that never sends its CONNECT line (closed by minnow after 5 s),
1,000 CONNECTs the not-yet-listening guest refuses, CONNECT->OK latency,
64 MiB echoed through one stream (sha256 compared), 64 streams at once,
a guest port that grants no credit (minnow must stop reading), the guest's
own connection to PATH_5000 carrying 64 MiB each way, and the hostile
guest's stream to PATH_5001 with a zero buf_alloc. Prints the figures
(--json: one JSON line, for tools/bench-vsock.sh); exits 0 on pass, 1 on
fail, 77 when /dev/kvm is missing.
"""
import json
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


def push_until_stuck(s, stuck_s=1.0):
    """Writes without blocking until nothing goes in for stuck_s; returns
    how many bytes went in."""
    s.setblocking(False)
    chunk, total, last = b"\x5a" * 65536, 0, time.monotonic()
    while time.monotonic() - last < stuck_s:
        try:
            total += s.send(chunk)
            last = time.monotonic()
        except BlockingIOError:
            time.sleep(0.01)
    s.setblocking(True)
    return total


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minnow", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--mib", type=int, default=64)
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--no-hostile", action="store_true",
                   help="skip the hostile-guest phase")
    p.add_argument("--json", action="store_true",
                   help="print the figures as one JSON line")
    args = p.parse_args()
    fig = {}
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
    host_h = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    host_h.bind(path + "_5001")
    host_h.listen(1)
    host_h.settimeout(args.timeout)
    words = "vsock-refuse vsock-client" + ("" if args.no_hostile
                                            else " vsock-hostile")

    cmd = [args.minnow, "run", "--kernel", args.image, "--memory", "256",
           "--serial", "stdio", "--vsock", f"cid=3,socket={path}",
           "--cmdline", words] + os.environ.get("VSOCK_MINNOW_ARGS", "").split()
    vm = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    out = []
    listening = threading.Event()

    def reader():
        for line in vm.stdout:
            out.append(line)
            if os.environ.get("VSOCK_VERBOSE"):
                sys.stdout.write("guest| " + line)
            if "listening on port 1024" in line:
                listening.set()
    threading.Thread(target=reader, daemon=True).start()
    try:
        if not listening.wait(60):
            fail("the guest never listened", "".join(out))

        # A client that never sends its line: minnow closes it at 5 s.
        idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        idle.connect(path)
        idle_t0, idle_closed = time.monotonic(), []

        def idle_wait():
            idle.settimeout(30)
            try:
                idle.recv(1)
            except OSError:
                pass
            idle_closed.append(time.monotonic() - idle_t0)
        idle_thread = threading.Thread(target=idle_wait, daemon=True)
        idle_thread.start()

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
        fig["refused_ms"] = redial

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
        fig["connect_us_median"] = lat[len(lat) // 2] * 1e6
        fig["connect_us_p90"] = lat[len(lat) * 9 // 10] * 1e6
        print(f"CONNECT->OK: median {fig['connect_us_median']:.0f} us, "
              f"p90 {fig['connect_us_p90']:.0f} us, "
              f"max {lat[-1] * 1e6:.0f} us")

        # 64 MiB echoed through one stream.
        data = os.urandom(total)
        s = dial(path, 1024)
        read_line(s)
        s.settimeout(args.timeout)  # sendall's timeout covers all of it
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
        fig["echo_mib_s"] = args.mib / dt
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

        # Guest port 1025 grants no credit: minnow must stop reading.
        s = dial(path, 1025)
        if not (read_line(s) or "").startswith("OK "):
            fail("the stingy port refused")
        held = push_until_stuck(s)
        print(f"no credit from the guest: the host could write {held} "
              f"bytes, then minnow stopped reading")
        if held > 2 * MIB:
            fail(f"minnow buffered {held} bytes for a guest with no credit")
        s.close()

        idle_thread.join(15)
        if not idle_closed or not 4.5 <= idle_closed[0] <= 7.5:
            fail(f"silent client: closed after {idle_closed} s, "
                 f"expected about 5 s")
        print(f"silent client: closed after {idle_closed[0]:.1f} s")

        # The guest connects to PATH_5000: 64 MiB each way.
        s = dial(path, 9)
        s.recv(16)
        s.close()
        conn, _ = host_l.accept()
        conn.settimeout(args.timeout)
        want = pattern(64 * MIB)
        # One direction, then the other: the guest keeps reading while
        # its own sends wait for credit.
        t = time.monotonic()
        conn.sendall(want)
        h2g = time.monotonic() - t
        t = time.monotonic()
        got = recv_exact(conn, len(want))
        g2h = time.monotonic() - t
        if hashlib.sha256(got).digest() != hashlib.sha256(want).digest():
            fail(f"client: {len(got)} bytes, hash differs", "".join(out))
        fig["h2g_mib_s"], fig["g2h_mib_s"] = 64 / h2g, 64 / g2h
        print(f"guest client: 64 MiB host->guest in {h2g:.2f} s "
              f"({64 / h2g:.1f} MiB/s), 64 MiB guest->host in {g2h:.2f} s "
              f"({64 / g2h:.1f} MiB/s)")
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1)
        conn.close()

        if not args.no_hostile:
            # Zero buf_alloc from the guest: bounded buffering, then 4 MiB
            # once guest port 12 tells the guest to grant credit.
            conn, _ = host_h.accept()
            conn.settimeout(args.timeout)
            held = push_until_stuck(conn)
            if held > 2 * MIB:
                fail(f"minnow buffered {held} bytes past a zero buf_alloc")
            g = dial(path, 12)
            g.recv(16)
            g.close()
            conn.sendall(b"\x5a" * (4 * MIB - held))
            conn.shutdown(socket.SHUT_WR)
            conn.recv(1)
            conn.close()
            print(f"zero buf_alloc: {held} bytes buffered before the grant")
        rc = vm.wait(args.timeout)
    finally:
        if vm.poll() is None:
            vm.kill()
            vm.wait()
        for f in (path, path + "_5000", path + "_5001"):
            if os.path.exists(f):
                os.unlink(f)
        os.rmdir(tmp)
    text = "".join(out)
    if rc != 0 or "vsock: ok" not in text:
        fail(f"minnow exited {rc}", text)
    if not args.no_hostile and "after the reset" not in text:
        fail("the hostile phase did not finish", text)
    print(text.rstrip())
    if args.json:
        print(json.dumps(fig))
    print("PASS")


if __name__ == "__main__":
    main()
