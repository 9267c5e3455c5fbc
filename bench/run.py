#!/usr/bin/env python3
"""Benchmark harness: times whole processes and writes BENCHMARKS.md.

Run through bench/run.sh, which installs Hugo and Postfix's smtp-sink/smtp-source and
builds Herald in release mode. Environment: ARTICLES (10000), SUBSCRIBERS ("10000
100000"), POOLS ("1 4 8"), BUILD_RUNS (5, for full builds, digests and Hugo), REBUILD_RUNS
(20, for the rebuilds with nothing or one article changed: a few hundredths of a second each,
where one slow run in five moves the median), RUNS (3, rounds of sends to lists of up to
10,000), SEND_RUNS_LARGE (3, rounds for larger lists), WORK (a temp folder).
"""
import datetime
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERALD = os.path.join(REPO, "target", "release", "herald")
ARTICLES = int(os.environ.get("ARTICLES", "10000"))
SUBSCRIBERS = [int(n) for n in os.environ.get("SUBSCRIBERS", "10000 100000").split()]
POOLS = [int(n) for n in os.environ.get("POOLS", "1 4 8").split()]
RUNS = int(os.environ.get("RUNS", "3"))
BUILD_RUNS = int(os.environ.get("BUILD_RUNS", "5"))
REBUILD_RUNS = int(os.environ.get("REBUILD_RUNS", "20"))
SEND_RUNS_LARGE = int(os.environ.get("SEND_RUNS_LARGE", "3"))
SINK_PORT = 2525
WEEK = "2026-W04"
NOW = "2026-01-26T01:00:00Z"


def measure(cmd, cwd=None, env=None, stdin=None):
    """Runs cmd; returns (seconds, max RSS in MB). Fails loudly on a non-zero exit."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=stdin)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{' '.join(map(str, cmd))} exited {code}:\n{err}")
    return elapsed, usage.ru_maxrss / 1024.0


def summarise(samples):
    times = [t for t, _ in samples]
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "rss": max(m for _, m in samples),
        "n": len(samples),
    }


def herald(site, *args, env_extra=None):
    env = dict(os.environ, HERALD_NOW=NOW, HERALD_SECRET="benchmark-secret-0123456789")
    env.pop("HERALD_LOG", None)
    if env_extra:
        env.update(env_extra)
    return [HERALD, "--config", os.path.join(site, "config.toml"), *args], env


def write_config(site, smtp_pool=None):
    with open(os.path.join(REPO, "config.toml"), encoding="utf-8") as f:
        text = f.read()
    if smtp_pool:
        text += (f"\n[smtp]\nhost = \"127.0.0.1\"\nport = {SINK_PORT}\ntls = \"none\"\n"
                 f"pool_size = {smtp_pool}\ntimeout_secs = 30\n")
    with open(os.path.join(site, "config.toml"), "w", encoding="utf-8") as f:
        f.write(text)


def move_aside(path, work):
    """Moves a previous run's output out of the way instead of deleting it.

    Deleting 10,000 files just before a timed build makes that build slow for a
    reason of its own: ext4 without a journal (this machine's root file system) skips
    inodes freed in the last minutes when it allocates new ones, scanning past every
    one of them. The trash is deleted after the last timing.
    """
    if os.path.exists(path):
        trash = os.path.join(work, "trash")
        os.makedirs(trash, exist_ok=True)
        os.rename(path, os.path.join(trash, f"{len(os.listdir(trash))}"))


def herald_full_build(site, work):
    """One timed full build of `site` from an empty output folder and state (the last
    ones moved aside, not deleted: see the README on deletions before timing)."""
    for d in ("public", "state"):
        move_aside(os.path.join(site, d), work)
    subprocess.run(["sync"])
    cmd, env = herald(site, "build")
    return measure(cmd, env=env)


def hugo_full_build(hugo_site, work):
    """One timed Hugo build of `hugo_site` into an empty output folder."""
    move_aside(os.path.join(hugo_site, "public"), work)
    subprocess.run(["sync"])
    return measure(["hugo", "--quiet", "-d", os.path.join(hugo_site, "public")], cwd=hugo_site)


def bench_builds(work, results, ratios):
    corpus = os.path.join(work, "corpus")
    subprocess.run([sys.executable, os.path.join(REPO, "bench", "gen_corpus.py"), corpus, str(ARTICLES)], check=True)
    site = os.path.join(work, "site")
    os.makedirs(site)
    shutil.copytree(os.path.join(corpus, "seeds"), os.path.join(site, "seeds"))
    write_config(site)

    # Herald's and Hugo's full builds alternate, for the same reason as the sends
    # (see bench_sends): each is compared with the other's build of the same round.
    hugo_site = os.path.join(corpus, "hugo")
    full, hugo = [], []
    for _ in range(BUILD_RUNS):
        full.append(herald_full_build(site, work))
        hugo.append(hugo_full_build(hugo_site, work))
    results["full build"] = summarise(full)
    ratios["hugo"] = paired_ratio(hugo, full)
    ratios["hugo rounds"] = [h / f for (h, _), (f, _) in zip(hugo, full)]

    nochange = []
    for _ in range(REBUILD_RUNS):
        cmd, env = herald(site, "build")
        nochange.append(measure(cmd, env=env))
    results["rebuild, nothing changed"] = summarise(nochange)

    first = sorted(os.listdir(os.path.join(site, "seeds")))[0]
    with open(os.path.join(site, "seeds", first), encoding="utf-8") as f:
        template = f.read()
    add_one = []
    for i in range(REBUILD_RUNS):
        # Each added article is the newest (as a new column is), published by the bench's
        # clock (NOW). The first five go to the week the digest and the sends use, as they
        # always did; the rest to the next week, so the sent edition stays the same.
        day = "2026-01-2%d" % (i + 1) if i < 5 else "2026-01-26"
        text = template.replace(template.split()[1], day, 1)
        with open(os.path.join(site, "seeds", f"99{i:03d}_added{i}.txt"), "w", encoding="utf-8") as f:
            f.write(text)
        cmd, env = herald(site, "build")
        add_one.append(measure(cmd, env=env))
    results["rebuild after adding one article"] = summarise(add_one)

    digest = []
    for _ in range(BUILD_RUNS):
        cmd, env = herald(site, "digest", "--week", WEEK, "--out", os.path.join(work, "preview"))
        digest.append(measure(cmd, env=env))
    results["digest for one week"] = summarise(digest)

    results["Hugo full build (same articles)"] = summarise(hugo)
    return site


def start_sink():
    proc = subprocess.Popen(["smtp-sink", "-u", "nobody", "-c", f"127.0.0.1:{SINK_PORT}", "1024"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc


def prepare_list(work, site, count):
    """A copy of the built site with `count` subscribers; returns it and its pristine state."""
    base = os.path.join(work, f"send-{count}")
    os.makedirs(base)
    shutil.copytree(os.path.join(site, "seeds"), os.path.join(base, "seeds"))
    write_config(base)
    shutil.copytree(os.path.join(site, "state"), os.path.join(base, "state"))
    csv = os.path.join(base, "list.csv")
    with open(csv, "w") as f:
        for i in range(count):
            f.write(f"reader{i:06d}@example.com,Reader {i}\n")
    cmd, env = herald(base, "subscribers", "import", csv)
    measure(cmd, env=env)
    pristine = os.path.join(base, "state.pristine")
    shutil.copytree(os.path.join(base, "state"), pristine)
    return base, pristine


def send_once(base, pristine, count, pool):
    """One `herald send` of the edition to every subscriber, from the same unsent state."""
    write_config(base, smtp_pool=pool)
    shutil.rmtree(os.path.join(base, "state"))
    shutil.copytree(pristine, os.path.join(base, "state"))
    cmd, env = herald(base, "send", "--week", WEEK)
    sample = measure(cmd, env=env)
    conn = sqlite3.connect(os.path.join(base, "state", "herald.sqlite"))
    sent = conn.execute("SELECT COUNT(*) FROM send_journal WHERE status = 'sent'").fetchone()[0]
    conn.close()
    if sent != count:
        sys.exit(f"send to {count} with pool {pool}: only {sent} sent")
    return sample


def bench_sends(work, site, results, rates, ratios):
    """Times Herald's sends and smtp-source's in rounds: every pool once, then smtp-source.

    This machine's speed drifts by a fifth between runs minutes apart, so each Herald run is
    compared with the smtp-source run of its own round, and the ratio reported is the median
    of those per-round ratios rather than a ratio of medians timed far apart.
    """
    sink = start_sink()
    size = message_size(work, site)
    try:
        for count in SUBSCRIBERS:
            base, pristine = prepare_list(work, site, count)
            rounds = RUNS if count <= 10000 else SEND_RUNS_LARGE
            sends = {pool: [] for pool in POOLS}
            source = []
            for _ in range(rounds):
                for pool in POOLS:
                    sends[pool].append(send_once(base, pristine, count, pool))
                source.append(measure(["smtp-source", "-s", str(max(POOLS)), "-m", str(count), "-l", str(size),
                                       "-f", "newsletter@example.com", "-t", "reader@example.com",
                                       f"127.0.0.1:{SINK_PORT}"]))
            for pool in POOLS:
                s = summarise(sends[pool])
                results[f"send to {count} subscribers, pool {pool}"] = s
                rates[(count, pool)] = count / s["median"]
                ratios[(count, pool)] = paired_ratio(source, sends[pool])
            s = summarise(source)
            results[f"smtp-source {count} messages of {size} bytes, {max(POOLS)} sessions"] = s
            rates[(count, "smtp-source")] = count / s["median"]
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait()


def paired_ratio(reference, measured):
    """Median over rounds of reference time / measured time (above 1: measured is faster)."""
    return statistics.median(r / m for (r, _), (m, _) in zip(reference, measured))


def message_size(work, site):
    preview = os.path.join(work, "preview", f"{WEEK}.eml")
    return os.path.getsize(preview) if os.path.exists(preview) else 12000


def write_report(results, rates, ratios):
    cores = os.cpu_count()
    today = datetime.date.today().isoformat()
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `bench/run.sh` on {today}, {cores} cores, {ARTICLES} synthetic articles "
        "(`bench/gen_corpus.py`, fixed random seed). Whole processes, wall-clock seconds; "
        "peak memory is the process's maximum resident set size. Full builds (Herald's and "
        "Hugo's) start from an empty output folder; earlier runs' outputs are moved aside, "
        "not deleted, until the timings are done (see `move_aside` in `bench/run.py`).",
        "",
        "| what | median s | min s | max s | runs | peak MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, s in results.items():
        lines.append(f"| {name} | {s['median']:.3f} | {s['min']:.3f} | {s['max']:.3f} | {s['n']} | {s['rss']:.0f} |")
    lines += ["", "## Ratios", "",
              "Herald's full builds alternate with Hugo's, and each round of sends (every pool once) is "
              "followed by an `smtp-source` run: a ratio is the median over rounds of the two times "
              "of the same round, so a machine that drifts between rounds moves both sides.", ""]
    full = results["full build"]["median"]
    rounds = ", ".join(f"{r:.2f}x" for r in ratios["hugo rounds"])
    lines.append(f"- Herald full build is {ratios['hugo']:.2f}x as fast as Hugo in the median round (rounds: {rounds}; issue #20's target: 6x in the median round, never under 4x).")
    lines.append(f"- Rebuild with nothing changed: {100 * results['rebuild, nothing changed']['median'] / full:.1f}% of a full build (issue #20's target: under 2%).")
    lines.append(f"- Rebuild after adding one article: {100 * results['rebuild after adding one article']['median'] / full:.1f}% of a full build (issue #20's target: under 3%).")
    for count in SUBSCRIBERS:
        limit = rates[(count, "smtp-source")]
        best = max(POOLS, key=lambda pool: ratios[(count, pool)])
        for pool in POOLS:
            lines.append(f"- Send to {count}, pool {pool}: {rates[(count, pool)]:.0f} messages/s, "
                         f"{100 * ratios[(count, pool)]:.0f}% of smtp-source's rate in the same rounds "
                         f"(smtp-source's median: {limit:.0f}/s)")
        lines.append(f"- Best pool for {count}: {best}, {100 * ratios[(count, best)]:.0f}% "
                     "(target: at least 75% of smtp-source).")
    mem = [results[k]["rss"] for k in results if k.startswith("send to")]
    if mem:
        lines.append(f"- Peak memory while sending: {min(mem):.0f}–{max(mem):.0f} MB across list sizes.")
    write_section("main", None, lines)
    print("\n".join(lines))


def write_section(name, title, lines):
    """Replaces section `name` of BENCHMARKS.md (between its markers), keeping the others:
    each part of the harness rewrites only what it measured. The main section (no title)
    goes first."""
    path = os.path.join(REPO, "BENCHMARKS.md")
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    body = "\n".join(([f"## {title}", ""] if title else []) + lines)
    block = f"{begin}\n{body}\n{end}\n"
    if begin in text and end in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end) + 1:]
    elif name == "main":
        # The first run of this layout: the whole old report is the main section.
        others = text[text.index("<!-- begin "):] if "<!-- begin " in text else ""
        text = block + ("\n" + others if others else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    work = os.environ.get("WORK") or tempfile.mkdtemp(prefix="herald-bench-")
    results, rates, ratios = {}, {}, {}
    site = bench_builds(work, results, ratios)
    shutil.rmtree(os.path.join(work, "trash"), ignore_errors=True)
    bench_sends(work, site, results, rates, ratios)
    write_report(results, rates, ratios)


if __name__ == "__main__":
    main()
