#!/usr/bin/env python3
"""Relay benchmarks (#18): rate limits over one and two relays, and a send to a list of a
million. Run through `bench/run.sh relays`; writes its own section of BENCHMARKS.md.

Environment: RATE (messages per second each relay is limited to, 250), RATE_LIST (list
size for the rate-limit runs, 5000), ROUNDS (3), MILLION (1000000), WORK (a temp folder).

Both relays are Postfix's smtp-sink on loopback, so what is measured is Herald: the rate
limits it keeps, and its own cost (time, memory, state file) on a list of a million.
"""
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import HERALD, REPO, WEEK, herald, measure, summarise, write_section  # noqa: E402

RATE = float(os.environ.get("RATE", "250"))
RATE_LIST = int(os.environ.get("RATE_LIST", "5000"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
MILLION = int(os.environ.get("MILLION", "1000000"))
PORTS = (2525, 2526)


def start_sinks():
    sinks = [subprocess.Popen(["smtp-sink", "-u", "nobody", "-c", f"127.0.0.1:{port}", "1024"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for port in PORTS]
    time.sleep(0.5)
    return sinks


def config(site, relays):
    """The shipped config plus `relays`: a list of (name, port, pool, rate or None)."""
    with open(os.path.join(REPO, "config.toml"), encoding="utf-8") as f:
        text = f.read()
    if relays:
        text += "\n[smtp]\ntls = \"none\"\ntimeout_secs = 30\n"
    for name, port, pool, rate in relays:
        text += (f"\n[[smtp.relays]]\nname = \"{name}\"\nhost = \"127.0.0.1\"\nport = {port}\n"
                 f"pool_size = {pool}\n")
        if rate:
            text += f"rate_limit = {rate}\n"
    with open(os.path.join(site, "config.toml"), "w", encoding="utf-8") as f:
        f.write(text)


def site_with_list(work, name, count):
    """The shipped seeds, built, with `count` subscribers imported; returns the site, the
    import's (seconds, peak MB) and a pristine copy of its state."""
    site = os.path.join(work, name)
    shutil.copytree(os.path.join(REPO, "seeds"), os.path.join(site, "seeds"))
    config(site, [])
    cmd, env = herald(site, "build")
    measure(cmd, env=env)
    csv = os.path.join(site, "list.csv")
    with open(csv, "w") as f:
        for i in range(count):
            f.write(f"reader{i:07d}@example.com,Reader {i}\n")
    cmd, env = herald(site, "subscribers", "import", csv)
    imported = measure(cmd, env=env)
    pristine = os.path.join(site, "state.pristine")
    shutil.copytree(os.path.join(site, "state"), pristine)
    return site, imported, pristine


def send(site, pristine, relays, count):
    config(site, relays)
    return send_from(site, pristine, count)


def send_from(site, pristine, count):
    """`send` of the edition from a copy of the unsent state `pristine`, with the site's
    config; fails unless every one of the `count` subscribers is marked sent."""
    state = os.path.join(site, "state")
    shutil.rmtree(state, ignore_errors=True)
    shutil.copytree(pristine, state)
    cmd, env = herald(site, "send", "--week", WEEK)
    sample = measure(cmd, env=env)
    conn = sqlite3.connect(os.path.join(state, "herald.sqlite"))
    sent = conn.execute("SELECT COUNT(*) FROM send_journal WHERE status = 'sent'").fetchone()[0]
    conn.close()
    if sent != count:
        sys.exit(f"send to {count} from {site}: only {sent} sent")
    return sample


def state_mb(site):
    state = os.path.join(site, "state")
    return sum(os.path.getsize(os.path.join(state, f)) for f in os.listdir(state)) / 1e6


def main():
    if not os.path.exists(HERALD):
        sys.exit("build Herald first: cargo build --release")
    work = os.environ.get("WORK") or tempfile.mkdtemp(prefix="herald-relays-")
    sinks = start_sinks()
    lines = []
    try:
        one = [("a", PORTS[0], 4, RATE)]
        two = one + [("b", PORTS[1], 4, RATE)]
        site, _, pristine = site_with_list(work, "rate", RATE_LIST)
        samples = {"one": [], "two": []}
        for r in range(ROUNDS):
            order = (("one", one), ("two", two)) if r % 2 == 0 else (("two", two), ("one", one))
            for label, relays in order:
                samples[label].append(send(site, pristine, relays, RATE_LIST))
        s1, s2 = summarise(samples["one"]), summarise(samples["two"])
        ratios = sorted(a[0] / b[0] for a, b in zip(samples["one"], samples["two"]))
        lines += [
            f"Rate limits: {RATE_LIST} subscribers, each relay limited to `rate_limit = {RATE:g}` "
            f"with `pool_size = 4`, alternating rounds ({ROUNDS}).",
            "",
            "| relays | median s | min s | max s | messages/s (median) | peak MB |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
            f"| one | {s1['median']:.2f} | {s1['min']:.2f} | {s1['max']:.2f} | {RATE_LIST / s1['median']:.0f} | {s1['rss']:.0f} |",
            f"| two | {s2['median']:.2f} | {s2['min']:.2f} | {s2['max']:.2f} | {RATE_LIST / s2['median']:.0f} | {s2['rss']:.0f} |",
            "",
            f"Two relays deliver {ratios[len(ratios) // 2]:.2f}x as fast as one (per-round ratios "
            f"{', '.join(f'{x:.2f}' for x in ratios)}; the limit allows 2.00x).",
            "",
        ]
        shutil.rmtree(site)

        rows = []
        for count in (MILLION // 10, MILLION):
            site, imported, pristine = site_with_list(work, f"list-{count}", count)
            relays = [("a", PORTS[0], 4, None), ("b", PORTS[1], 4, None)]
            sent = send(site, pristine, relays, count)
            rows.append((count, imported, sent, state_mb(site)))
            shutil.rmtree(site)
        lines += [
            f"A list of a million: `subscribers import` of a CSV, then `send` over two relays "
            "(smtp-sink, `pool_size = 4` each, no rate limit), one run each; the state file is "
            "measured after the send (with its WAL).",
            "",
            "| subscribers | import s | import peak MB | send s | messages/s | send peak MB | state MB |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for count, (it, im), (st, sm), mb in rows:
            lines.append(f"| {count} | {it:.1f} | {im:.0f} | {st:.1f} | {count / st:.0f} | {sm:.0f} | {mb:.0f} |")
    finally:
        for sink in sinks:
            sink.send_signal(signal.SIGTERM)
            sink.wait()
    write_section("relays", "Relays and a list of a million (`bench/run.sh relays`)", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
