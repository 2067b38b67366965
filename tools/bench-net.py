#!/usr/bin/env python3
"""virtio-net benchmark driver, run by tools/bench-net.sh inside its network
namespace: starts the host peer, boots guest-net-bench under minnow and QEMU
microvm in turn (RUNS times each), samples each VMM's CPU time around every
test and prints a table of medians with minnow/QEMU ratios."""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

TESTS = ["tx-1514", "tx-60", "rx-1514", "rx-60"]
CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """(all threads, threads other than vCPUs) CPU seconds of pid. The
    process total counts threads that have exited too (io_uring workers
    come and go); the vCPU threads live as long as the VM."""
    def times(path):
        with open(path) as f:
            st = f.read()
        fields = st[st.rindex(")") + 2:].split()
        comm = st[st.index("(") + 1:st.rindex(")")]
        return comm, (int(fields[11]) + int(fields[12])) / CLK

    try:
        total = times(f"/proc/{pid}/stat")[1]
        tids = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return None
    vcpu = 0.0
    for tid in tids:
        try:
            comm, s = times(f"/proc/{pid}/task/{tid}/stat")
        except FileNotFoundError:
            continue
        if comm.startswith("vcpu") or comm.startswith("CPU "):
            vcpu += s
    return total, total - vcpu


def run_once(cmd, timeout):
    """Boots one VMM; returns {test: dict} parsed from the guest's lines."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    res, begin, log = {}, {}, []
    deadline = time.monotonic() + timeout
    for line in proc.stdout:
        log.append(line)
        m = re.match(r"bench: begin (\S+)", line)
        if m:
            begin[m.group(1)] = cpu_seconds(proc.pid)
            continue
        m = re.match(r"bench: (\S+) dir=(\w+) (.*)", line)
        if m and m.group(1) in begin:
            end = cpu_seconds(proc.pid)
            kv = dict(re.findall(r"(\w+)=(\d+)", m.group(3)))
            r = {k: int(v) for k, v in kv.items()}
            r["cpu"] = end[0] - begin[m.group(1)][0]
            r["cpu_io"] = end[1] - begin[m.group(1)][1]
            if m.group(2) == "tx":
                # What reached the host's socket (tools/bench-net-peer.c)
                # over the guest's clock: the host peer's own clock says
                # more about when it was scheduled than about the VMM.
                r["pkts"], r["bytes"], r["us"] = (r["host_pkts"],
                                                  r["host_bytes"],
                                                  r["guest_us"])
            res[m.group(1)] = r
        if time.monotonic() > deadline:
            break
    try:
        proc.wait(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    # QEMU's isa-debug-exit makes status V exit (V << 1) | 1.
    rc = proc.returncode >> 1 if cmd[0].startswith("qemu") and \
        proc.returncode > 0 else proc.returncode
    if rc != 0 or len(res) != len(TESTS):
        sys.stderr.write("".join(log[-30:]))
        sys.stderr.write(f"bench-net: {cmd[0]} exited {proc.returncode}, "
                         f"{len(res)} of {len(TESTS)} results\n")
    return res


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--minnow", required=True)
    p.add_argument("--image", required=True)
    p.add_argument("--peer", required=True)
    p.add_argument("--tap", required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--cmdline", default="")
    p.add_argument("--vmms", default="minnow,qemu")
    p.add_argument("--base", help="another minnow binary, run as 'base'")
    a = p.parse_args()

    mac = "02:00:00:00:00:02"
    cmds = {
        "minnow": [a.minnow, "run", "--kernel", a.image, "--memory", "128",
                   "--serial", "stdio", "--cmdline", a.cmdline,
                   "--net", f"tap={a.tap},mac={mac}"],
        "qemu": ["qemu-system-x86_64", "-M", "microvm,acpi=off",
                 "-enable-kvm", "-cpu", "host,-arch-capabilities",
                 "-nodefaults", "-no-user-config", "-nographic",
                 "-serial", "stdio", "-name", "bench,debug-threads=on",
                 "-device", "isa-debug-exit,iobase=0x501,iosize=4",
                 "-global", "virtio-mmio.force-legacy=false",
                 "-netdev", f"tap,id=n0,ifname={a.tap},script=no,"
                 "downscript=no,vhost=off",
                 "-device", f"virtio-net-device,netdev=n0,mac={mac}",
                 "-kernel", a.image, "-append", a.cmdline, "-m", "128"],
    }
    if a.base:
        cmds["base"] = [a.base] + cmds["minnow"][1:]
    vmms = a.vmms.split(",")
    peer_log = open(os.environ.get("PEER_LOG", "/dev/null"), "w",
                    buffering=1)
    peer = subprocess.Popen([a.peer], stderr=peer_log)
    time.sleep(0.2)
    results = {v: [] for v in vmms}
    try:
        for i in range(a.runs):
            for v in vmms:
                r = run_once(cmds[v], 600)
                results[v].append(r)
                print(f"run {i + 1} {v}: " + ", ".join(
                    f"{t} {r[t]['bytes'] / r[t]['us']:.1f} MB/s "
                    f"{r[t]['pkts'] * 1e6 / r[t]['us']:.0f} pps"
                    for t in TESTS if t in r), flush=True)
    finally:
        peer.terminate()
        peer.wait()

    def med(v, t, f):
        xs = [f(r[t]) for r in results[v] if t in r and r[t]["us"] > 0]
        return statistics.median(xs) if xs else float("nan")

    mbps = lambda r: r["bytes"] / r["us"]
    pps = lambda r: r["pkts"] * 1e6 / r["us"]
    cpu_gb = lambda r: r["cpu"] / (r["bytes"] / 1e9)
    io_gb = lambda r: r["cpu_io"] / (r["bytes"] / 1e9)
    loss = lambda r: 100.0 * (1 - r["pkts"] / max(1, r.get("sent") or
                                                    r["pkts"]))
    rows = [("MB/s", mbps, "%.1f"), ("packets/s", pps, "%.0f"),
            ("CPU s/GB, all threads", cpu_gb, "%.2f"),
            ("CPU s/GB, non-vCPU threads", io_gb, "%.2f")]
    q = "qemu" if "qemu" in vmms else vmms[-1]
    print()
    print(f"| test | metric | {' | '.join(vmms)} | minnow/{q} |")
    print("|---|---|" + "---|" * len(vmms) + "---|")
    for t in TESTS:
        for name, f, fmt in rows:
            vals = [med(v, t, f) for v in vmms]
            ratio = med("minnow", t, f) / med(q, t, f) if q != "minnow" \
                else float("nan")
            print(f"| {t} | {name} | " +
                  " | ".join(fmt % x for x in vals) + f" | {ratio:.2f} |")
    for t in TESTS:
        if t.startswith("tx"):
            print(f"{t}: lost between guest and host socket (median %): " +
                  ", ".join(f"{v} {med(v, t, loss):.2f}" for v in vmms))
    # The host sender's own rate bounds what any VMM can receive.
    sent = {}
    for line in open(os.environ.get("PEER_LOG", "/dev/null")):
        m = re.search(r"sent (\d+) datagrams of (\d+) bytes in ([\d.]+) s",
                      line)
        if m:
            sent.setdefault(int(m.group(2)) + 42, []).append(
                int(m.group(1)) / float(m.group(3)))
    for frame, rates in sorted(sent.items(), reverse=True):
        print(f"rx-{frame}: the host peer sent at {statistics.median(rates):.0f}"
              " packets/s (median)")
    print("runs: " + ", ".join(
        f"{v} {sum(len(r) == len(TESTS) for r in results[v])}"
        for v in vmms))


if __name__ == "__main__":
    sys.exit(main())
