#!/usr/bin/env python3
"""minnow's confinement, checked from outside the process.

Scenarios:
  selftest  each thread kind makes a forbidden system call
            (--seccomp-selftest): with --seccomp true minnow dies with
            status 159 and the log line; with --seccomp log it goes on.
  status    a running VM: /proc/PID/status shows CapEff 0 and NoNewPrivs
            1, and every thread's Seccomp is 2 (run and API modes).
  jail      --jail: the process sits in new PID and mount namespaces,
            sees only its directory and its own processes, runs as the
            uid it was given, and still boots a guest program.

Exits 0 on pass, 1 on fail, 77 when something needed is missing.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77
SIGSYS_STATUS = 159
LINE = re.compile(r"minnow: error: seccomp: thread (\S+) made forbidden "
                  r"system call 103 \(syslog\)")


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def fail(reason, output=None):
    if output:
        print("---- minnow output ----")
        print(output.rstrip())
        print("-----------------------")
    print(f"FAIL: {reason}")
    sys.exit(1)


def run(cmd, timeout=60):
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=timeout)
    return p.returncode, (p.stdout + p.stderr).decode(errors="replace")


def proc_status(pid, tid=None):
    path = f"/proc/{pid}/status" if tid is None else \
        f"/proc/{pid}/task/{tid}/status"
    fields = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def thread_names(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            out[tid] = f.read().strip()
    return out


class Running:
    """A minnow that keeps running; output goes to a file."""

    def __init__(self, cmd, workdir):
        self.out_path = os.path.join(workdir, "out.txt")
        self.out = open(self.out_path, "w+b")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=self.out)

    def output(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_for(self, pattern, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if re.search(pattern, self.output()):
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.1)
        return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        return self.proc.returncode


def api_request(sock_path, method, path, body=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(sock_path)
    data = json.dumps(body).encode() if body is not None else b""
    s.sendall(f"{method} /api/v1/{path} HTTP/1.1\r\nHost: localhost\r\n"
              f"Content-Type: application/json\r\n"
              f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
    s.close()
    m = re.match(rb"HTTP/1\.[01] (\d+)", reply)
    return int(m.group(1)) if m else 0


def selftest_run_mode(args):
    base = [args.minnow, "run", "--kernel", args.hello, "--memory", "64",
            "--log-level", "warn"]
    for kind, thread in (("vcpu", "vcpu0"), ("loop", "loop")):
        rc, out = run(base + ["--seccomp", "true",
                              f"--seccomp-selftest={kind}"])
        m = LINE.search(out)
        if rc != SIGSYS_STATUS or not m or m.group(1) != thread:
            fail(f"{kind}: --seccomp true: want status {SIGSYS_STATUS} "
                 f"and the line for thread {thread}, got {rc}", out)
        rc, out = run(base + ["--seccomp", "log",
                              f"--seccomp-selftest={kind}"])
        if rc != 0 or LINE.search(out) or "survived" not in out:
            fail(f"{kind}: --seccomp log: want a normal run, got {rc}", out)
        rc, out = run(base + ["--seccomp", "false",
                              f"--seccomp-selftest={kind}"])
        if rc != 0:
            fail(f"{kind}: --seccomp false: want a normal run, got {rc}",
                 out)
        print(f"selftest {kind}: killed when enforced, survives in log "
              "mode")


def selftest_api_mode(args, workdir):
    sock = os.path.join(workdir, "api.sock")
    cmd = [args.minnow, "--api-socket", sock, "--seccomp", "true",
           "--seccomp-selftest=api"]
    rc, out = run(cmd, timeout=30)
    m = LINE.search(out)
    if rc != SIGSYS_STATUS or not m or m.group(1) != "api":
        fail(f"api: --seccomp true: want status {SIGSYS_STATUS} and the "
             f"line for thread api, got {rc}", out)
    cmd[4] = "log"
    vmm = Running(cmd, workdir)
    try:
        if not vmm.wait_for(r"survived", 20):
            fail("api: --seccomp log: no survival line", vmm.output())
        end = time.monotonic() + 10
        while not os.path.exists(sock) and time.monotonic() < end:
            time.sleep(0.05)
        if api_request(sock, "GET", "vmm.ping") != 200:
            fail("api: --seccomp log: vmm.ping does not answer",
                 vmm.output())
    finally:
        vmm.stop()
    print("selftest api: killed when enforced, serves in log mode")


def check_confined(pid, label, want_cap_eff_zero=True):
    status = proc_status(pid)
    if want_cap_eff_zero and int(status["CapEff"], 16) != 0:
        fail(f"{label}: CapEff is {status['CapEff']}, want 0")
    if int(status["CapPrm"], 16) & ~int(status["CapEff"], 16):
        fail(f"{label}: permitted capabilities beyond the effective ones")
    if status.get("NoNewPrivs") != "1":
        fail(f"{label}: NoNewPrivs is {status.get('NoNewPrivs')}, want 1")
    names = thread_names(pid)
    for tid, name in names.items():
        # io_uring's workers run in the kernel, never in user space.
        if name.startswith("iou-"):
            continue
        seccomp = proc_status(pid, tid).get("Seccomp")
        if seccomp != "2":
            fail(f"{label}: thread {tid} ({name}) has Seccomp {seccomp}, "
                 "want 2")
    print(f"{label}: CapEff {status['CapEff']}, NoNewPrivs 1, Seccomp 2 "
          f"in threads {sorted(names.values())}")


def status_run_mode(args, workdir):
    vmm = Running([args.minnow, "run", "--kernel", args.idle, "--memory",
                   "64", "--cpus", "2", "--log-level", "warn"], workdir)
    try:
        if not vmm.wait_for(r"idle: halting until stopped"):
            fail("run: the idle guest did not come up", vmm.output())
        check_confined(vmm.proc.pid, "run")
    finally:
        rc = vmm.stop()
    if rc != 128 + signal.SIGTERM:
        fail(f"run: SIGTERM should end minnow with 143, got {rc}",
             vmm.output())


def status_api_mode(args, workdir):
    sock = os.path.join(workdir, "api.sock")
    vmm = Running([args.minnow, "--api-socket", sock, "--seccomp", "true"],
                  workdir)
    try:
        end = time.monotonic() + 10
        while not os.path.exists(sock) and time.monotonic() < end:
            time.sleep(0.05)
        config = {"cpus": {"boot_vcpus": 1, "max_vcpus": 1},
                  "memory": {"size": 64 << 20},
                  "payload": {"kernel": args.idle},
                  "serial": {"mode": "Tty"}, "console": {"mode": "Off"}}
        if api_request(sock, "PUT", "vm.create", config) // 100 != 2:
            fail("api: vm.create refused", vmm.output())
        if api_request(sock, "PUT", "vm.boot") // 100 != 2:
            fail("api: vm.boot refused", vmm.output())
        if not vmm.wait_for(r"idle: halting until stopped"):
            fail("api: the idle guest did not come up", vmm.output())
        # As root the file server's four capabilities stay (security.md).
        check_confined(vmm.proc.pid, "api", os.geteuid() != 0)
    finally:
        vmm.stop()


def jail_child(parent):
    """The jailed minnow: the parent's only child."""
    end = time.monotonic() + 10
    while time.monotonic() < end:
        with open(f"/proc/{parent}/task/{parent}/children") as f:
            kids = f.read().split()
        if kids:
            return int(kids[0])
        time.sleep(0.05)
    return None


def jail(args, workdir):
    if os.geteuid() != 0:
        skip("the jail needs root (namespaces, pivot_root)")
    root = os.path.join(workdir, "jail")
    os.mkdir(root)
    shutil.copy(args.idle, os.path.join(root, "idle"))
    shutil.copy(args.hello, os.path.join(root, "hello"))
    with open(os.path.join(root, "only-this"), "w") as f:
        f.write("jail\n")

    # The VM still boots a guest test program, and its status comes out.
    rc, out = run([args.minnow, "run", "--kernel", "/hello", "--memory",
                   "64", "--jail", f"{root},uid=65534,gid=65534"])
    if rc != 0 or "hello from minnow guest" not in out:
        fail(f"jail: hello should boot and exit 0, got {rc}", out)

    vmm = Running([args.minnow, "run", "--kernel", "/idle", "--memory", "64",
                   "--log-level", "warn", "--jail",
                   f"{root},uid=65534,gid=65534,nofile=64"], workdir)
    try:
        if not vmm.wait_for(r"idle: halting until stopped"):
            fail("jail: the idle guest did not come up", vmm.output())
        pid = jail_child(vmm.proc.pid)
        if not pid:
            fail("jail: no jailed child process", vmm.output())
        status = proc_status(pid)
        if status["NSpid"].split()[-1] != "1":
            fail(f"jail: want PID 1 in its namespace, NSpid "
                 f"{status['NSpid']}")
        if status["Uid"].split()[:3] != ["65534"] * 3:
            fail(f"jail: want uid 65534, Uid {status['Uid']}")
        for ns in ("mnt", "pid", "ipc", "uts"):
            if os.readlink(f"/proc/{pid}/ns/{ns}") == \
                    os.readlink(f"/proc/self/ns/{ns}"):
                fail(f"jail: still in the host's {ns} namespace")
        # Its root is the directory: the files put there and what the
        # jail mounts, nothing of the host's.
        seen = set(os.listdir(f"/proc/{pid}/root"))
        if not {"idle", "only-this", "dev", "proc"} <= seen or \
                os.path.exists(f"/proc/{pid}/root/etc") or \
                os.path.exists(f"/proc/{pid}/root/usr"):
            fail(f"jail: its / holds {sorted(seen)}")
        # Its /proc shows its own PID namespace only: process 1.
        procs = [e for e in os.listdir(f"/proc/{pid}/root/proc")
                 if e.isdigit()]
        if procs != ["1"]:
            fail(f"jail: its /proc shows processes {procs}, want ['1']")
        with open(f"/proc/{pid}/limits") as f:
            limits = f.read()
        if not re.search(r"Max open files\s+64\s+64", limits):
            fail("jail: nofile=64 not applied")
        check_confined(pid, "jail")
    finally:
        rc = vmm.stop()
    if rc != 128 + signal.SIGTERM:
        fail(f"jail: SIGTERM through the parent should end it with 143, "
             f"got {rc}", vmm.output())
    print("jail: PID 1 of its own namespaces, sees only its directory and "
          "itself, uid 65534, boots guests")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--minnow", required=True)
    p.add_argument("--hello", required=True)
    p.add_argument("--idle", required=True)
    p.add_argument("--scenario", required=True,
                   choices=("selftest", "status", "jail"))
    args = p.parse_args()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip("no usable /dev/kvm")
    args.minnow = os.path.abspath(args.minnow)
    with tempfile.TemporaryDirectory(prefix="minnow-sec-") as workdir:
        if args.scenario == "selftest":
            selftest_run_mode(args)
            selftest_api_mode(args, workdir)
        elif args.scenario == "status":
            status_run_mode(args, workdir)
            status_api_mode(args, workdir)
        else:
            jail(args, workdir)
    print("PASS")


if __name__ == "__main__":
    main()
