#!/usr/bin/env python3
"""Why a build right after `rm -rf public` is slower (#20): file creation on this
machine's ext4 right after a large deletion, by four routes, and Herald's build.

1. waits QUIET seconds with nothing deleted (the kernel's window is 60 s, 360 s for
   inodes whose table block is not yet written back), then creates N files by each
   route: Herald's (O_TMPFILE, then linkat), a named temporary file renamed into
   place, plain open(O_CREAT), all in one folder, and one new folder per file
   (Hugo's layout, `posts/<name>/index.html`);
2. for each route, deletes N files from a folder beside it and at once creates N
   more by that route; twice, the second time in the reverse order (each deletion
   also weighs on the routes timed after it);
3. the same with Herald's full build: after QUIET seconds, and right after
   `rm -rf public state`.

Anything else that deletes files meanwhile (a build, a test run) spoils the figures.

Prints seconds for each, and whether the file system has a journal (ext4 skips
recently deleted inodes only without one). Run: python3 bench/deletion.py [WORK]
Environment: N (20000), QUIET (400), CORPUS (a seeds folder for step 3; skipped if unset).
"""
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
import time

N = int(os.environ.get("N", "20000"))
QUIET = int(os.environ.get("QUIET", "400"))
O_TMPFILE = getattr(os, "O_TMPFILE", 0o20200000)
AT_FDCWD = -100
AT_SYMLINK_FOLLOW = 0x400
libc = ctypes.CDLL(None, use_errno=True)
PAYLOAD = ("文章內容 " * 400).encode()


def create_tmpfile_link(folder, n):
    os.makedirs(folder)
    for i in range(n):
        fd = os.open(folder, O_TMPFILE | os.O_WRONLY, 0o644)
        os.write(fd, PAYLOAD)
        source = f"/proc/self/fd/{fd}".encode()
        target = os.path.join(folder, f"{i:06}.html").encode()
        if libc.linkat(AT_FDCWD, source, AT_FDCWD, target, AT_SYMLINK_FOLLOW) != 0:
            raise OSError(ctypes.get_errno(), "linkat")
        os.close(fd)


def create_plain(folder, n):
    os.makedirs(folder)
    for i in range(n):
        with open(os.path.join(folder, f"{i:06}.html"), "wb") as f:
            f.write(PAYLOAD)


def create_temp_rename(folder, n):
    os.makedirs(folder)
    for i in range(n):
        temp = os.path.join(folder, f".herald-{i:06}.tmp")
        with open(temp, "xb") as f:
            f.write(PAYLOAD)
        os.rename(temp, os.path.join(folder, f"{i:06}.html"))


def create_folder_each(folder, n):
    os.makedirs(folder)
    for i in range(n):
        page = os.path.join(folder, f"{i:06}")
        os.mkdir(page)
        with open(os.path.join(page, "index.html"), "wb") as f:
            f.write(PAYLOAD)


ROUTES = (
    ("O_TMPFILE + linkat", create_tmpfile_link),
    ("temp file + rename", create_temp_rename),
    ("open(O_CREAT)", create_plain),
    ("a folder per file", create_folder_each),
)


def timed(work, *args):
    os.sync()
    started = time.perf_counter()
    work(*args)
    return time.perf_counter() - started


def journal_state(path):
    device = os.stat(path).st_dev
    with open("/proc/self/mountinfo") as mounts:
        for line in mounts:
            fields = line.split()
            major, minor = (int(x) for x in fields[2].split(":"))
            if os.makedev(major, minor) == device:
                source = fields[fields.index("-") + 2]
                name = os.path.basename(source)
                try:
                    with open(f"/proc/fs/ext4/{name}/options") as options:
                        text = options.read()
                except OSError:
                    return f"{source}: not ext4 or options unreadable"
                journaled = "data=" in text
                return f"{source}: ext4, {'journal' if journaled else 'no journal (data= absent)'}"
    return "unknown"


def file_system_rounds(work):
    print(f"file system: {journal_state(work)}; N = {N} files of {len(PAYLOAD)} bytes")
    time.sleep(QUIET)
    fresh = {label: timed(create, os.path.join(work, "fresh", str(i)), N)
             for i, (label, create) in enumerate(ROUTES)}
    after = {label: [] for label, _ in ROUTES}
    for round_, order in enumerate((ROUTES, ROUTES[::-1])):
        for i, (label, create) in enumerate(order):
            victim = os.path.join(work, "after", f"victim-{round_}-{i}")
            create_plain(victim, N)
            os.sync()
            shutil.rmtree(victim)
            after[label].append(timed(create, os.path.join(work, "after", f"{round_}-{i}"), N))
    for label, _ in ROUTES:
        times = ", ".join(f"{t:.2f}" for t in after[label])
        worst = max(after[label]) / fresh[label]
        print(f"{label:20} after {QUIET} s without deletions: {fresh[label]:6.2f} s | "
              f"right after deleting {N} beside it: {times} s (up to {worst:.1f}x)")


def herald_rounds(work, corpus):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    herald = os.path.join(repo, "target", "release", "herald")
    site = os.path.join(work, "site")
    os.makedirs(site)
    os.symlink(os.path.abspath(corpus), os.path.join(site, "seeds"))
    shutil.copy(os.path.join(repo, "config.toml"), os.path.join(site, "config.toml"))
    env = dict(os.environ, HERALD_NOW="2026-01-26T01:00:00Z", HERALD_SECRET="benchmark-secret-0123456789")

    def build():
        started = time.perf_counter()
        subprocess.run([herald, "--config", os.path.join(site, "config.toml"), "build"], env=env,
                       stdout=subprocess.DEVNULL, check=True)
        return time.perf_counter() - started

    time.sleep(QUIET)
    fresh = build()
    for output in ("public", "state"):
        shutil.rmtree(os.path.join(site, output))
    after = build()
    print(f"{'herald build':20} after {QUIET} s without deletions: {fresh:6.2f} s | "
          f"right after rm -rf public state: {after:6.2f} s ({after / fresh:.1f}x)")


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="herald-deletion-", dir=os.getcwd())
    os.makedirs(work, exist_ok=True)
    try:
        file_system_rounds(work)
        if os.environ.get("CORPUS"):
            herald_rounds(work, os.environ["CORPUS"])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
