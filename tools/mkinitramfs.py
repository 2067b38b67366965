#!/usr/bin/env python3
"""Writes an uncompressed cpio (newc) initramfs without needing root.

Every entry is owned by root (uid and gid 0) whoever runs this; device
nodes are written as entries, not created on the host.

  mkinitramfs.py -o OUT [--init BIN] [--rootfs DIR] [--file SRC:DST]...
                 [--job-arg ARG]... [--job KEY=VALUE]...

--init places BIN at /init; --rootfs copies DIR to /rootfs; --file adds
one file; --job-arg and --job write /minnow/job, the guest init's job
(NUL-terminated key=value records; see guest-kernel/README.md).
"""
import argparse
import os
import stat
import sys

# Linux's initramfs format (Documentation/driver-api/early-userspace/
# buffer-format.rst): "070701", then 13 eight-digit hex fields.
MAGIC = b"070701"


class CpioWriter:
    def __init__(self, out):
        self.out = out
        self.ino = 1
        self.offset = 0
        self.seen = set()

    def _write(self, data):
        self.out.write(data)
        self.offset += len(data)

    def _pad(self):
        if self.offset % 4:
            self._write(b"\0" * (4 - self.offset % 4))

    def entry(self, name, mode, data=b"", rdev=(0, 0), mtime=0):
        name = name.lstrip("/")
        if name in self.seen:
            return
        self.seen.add(name)
        nlink = 2 if stat.S_ISDIR(mode) else 1
        fields = [self.ino, mode, 0, 0, nlink, mtime, len(data), 0, 0,
                  rdev[0], rdev[1], len(name) + 1, 0]
        self.ino += 1
        self._write(MAGIC + b"".join(b"%08x" % f for f in fields))
        self._write(name.encode() + b"\0")
        self._pad()
        self._write(data)
        self._pad()

    def parents(self, path):
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            self.entry("/".join(parts[:i]), stat.S_IFDIR | 0o755)

    def add_file(self, src, dst, mode=None):
        self.parents(dst)
        st = os.lstat(src)
        with open(src, "rb") as f:
            data = f.read()
        self.entry(dst, stat.S_IFREG | (mode or stat.S_IMODE(st.st_mode)),
                   data, mtime=int(st.st_mtime))

    def add_tree(self, src, dst):
        self.parents(dst + "/x")
        self.entry(dst, stat.S_IFDIR | 0o755)
        for root, dirs, files in os.walk(src):
            dirs.sort()
            rel = os.path.relpath(root, src)
            base = dst if rel == "." else dst + "/" + rel
            for name in sorted(dirs) + sorted(files):
                path = os.path.join(root, name)
                self.add_path(path, base + "/" + name)

    def add_path(self, path, name):
        st = os.lstat(path)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            self.entry(name, mode, mtime=int(st.st_mtime))
        elif stat.S_ISLNK(mode):
            self.entry(name, mode, os.readlink(path).encode(),
                       mtime=int(st.st_mtime))
        elif stat.S_ISREG(mode):
            with open(path, "rb") as f:
                self.entry(name, mode, f.read(), mtime=int(st.st_mtime))
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            self.entry(name, mode,
                       rdev=(os.major(st.st_rdev), os.minor(st.st_rdev)))
        # Sockets and FIFOs are left out: nothing in a root fs needs them.

    def finish(self):
        self.entry("TRAILER!!!", 0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--init")
    ap.add_argument("--rootfs")
    ap.add_argument("--file", action="append", default=[])
    ap.add_argument("--job-arg", action="append", default=[])
    ap.add_argument("--job", action="append", default=[])
    args = ap.parse_args()

    tmp = args.output + ".tmp"
    with open(tmp, "wb") as out:
        w = CpioWriter(out)
        for d in ("dev", "proc", "sys", "run", "mnt", "minnow", "rootfs"):
            w.entry(d, stat.S_IFDIR | 0o755)
        # The kernel opens /dev/console for init before devtmpfs exists.
        w.entry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
        if args.init:
            w.add_file(args.init, "init", 0o755)
        for spec in args.file:
            src, _, dst = spec.partition(":")
            if not dst:
                sys.exit("mkinitramfs: --file wants SRC:DST, got " + spec)
            w.add_file(src, dst)
        if args.job_arg or args.job:
            recs = [b"arg=" + a.encode() for a in args.job_arg]
            recs += [j.encode() for j in args.job]
            w.entry("minnow/job", stat.S_IFREG | 0o644,
                    b"".join(r + b"\0" for r in recs))
        if args.rootfs:
            if not os.path.isdir(args.rootfs):
                sys.exit("mkinitramfs: --rootfs: no directory " +
                         args.rootfs)
            w.add_tree(args.rootfs, "rootfs")
        w.finish()
    os.replace(tmp, args.output)


if __name__ == "__main__":
    main()
