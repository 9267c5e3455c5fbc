#!/usr/bin/env python3
"""Send speed against message size (#21): Herald's send of an edition to N subscribers
over `pool_size = 8` against `smtp-source` with 8 sessions sending as many messages of
the same size to the same `smtp-sink`, alternating within each round. Three editions: a
small summary edition (the shipped article), the full-text edition of it, and a large
summary edition (the shipped article and 19 more in the same week). Then the full-text
edition signed with an Ed25519 and an RSA-2048 DKIM key. Writes the "sends" section of
BENCHMARKS.md. Run through `bench/run.sh sends`.

Environment: LISTS ("10000 100000"), ROUNDS (3 for lists up to 10,000, else
LARGE_ROUNDS, 1), WORK (a temp folder).
"""
import base64
import glob
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import REPO, WEEK, herald, measure, write_section  # noqa: E402
from relays import send_from, site_with_list, start_sinks  # noqa: E402

LISTS = [int(n) for n in os.environ.get("LISTS", "10000 100000").split()]
ROUNDS = int(os.environ.get("ROUNDS", "3"))
LARGE_ROUNDS = int(os.environ.get("LARGE_ROUNDS", "1"))
PORT = 2525
POOL = 8


def configure(site, content, dkim=None):
    with open(os.path.join(REPO, "config.toml"), encoding="utf-8") as f:
        text = f.read()
    text = text.replace("[newsletter]\n", f"[newsletter]\ncontent = \"{content}\"\n", 1)
    text += (f"\n[smtp]\nhost = \"127.0.0.1\"\nport = {PORT}\ntls = \"none\"\npool_size = {POOL}\n"
             "timeout_secs = 30\n")
    if dkim:
        text += f"\n[dkim]\nselector = \"bench\"\nkey_file = \"{dkim}\"\n"
    with open(os.path.join(site, "config.toml"), "w", encoding="utf-8") as f:
        f.write(text)


def add_week_articles(site, count):
    shipped = sorted(glob.glob(os.path.join(site, "seeds", "*.txt")))[0]
    text = open(shipped, encoding="utf-8").read()
    for i in range(count):
        day = 19 + i % 7
        seed = text.replace("date 2026-01-21", f"date 2026-01-{day}", 1)
        with open(os.path.join(site, "seeds", f"5{i:02d}_extra{i}.txt"), "w", encoding="utf-8") as f:
            f.write(seed)


def message_size(site):
    out = os.path.join(site, "preview-out")
    cmd, env = herald(site, "digest", "--week", WEEK, "--out", out)
    measure(cmd, env=env)
    return os.path.getsize(glob.glob(os.path.join(out, "*.eml"))[0])


def keys(work):
    ed = os.path.join(work, "ed25519.key")
    with open(ed, "w") as f:
        f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    rsa = os.path.join(work, "rsa.key")
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", rsa, "2048"], check=True,
                   stderr=subprocess.DEVNULL)
    for key in (ed, rsa):
        os.chmod(key, 0o600)
    return ed, rsa


def source(count, size):
    return measure(["smtp-source", "-s", str(POOL), "-m", str(count), "-l", str(size),
                    "-f", "newsletter@example.com", "-t", "reader@example.com", f"127.0.0.1:{PORT}"])


def main():
    work = os.environ.get("WORK") or tempfile.mkdtemp(prefix="herald-sends-")
    os.makedirs(work, exist_ok=True)
    ed, rsa = keys(work)
    cases = [("small summary", "summary", 0, None), ("full text", "full", 0, None),
             ("large summary", "summary", 19, None), ("full text, DKIM Ed25519", "full", 0, ed),
             ("full text, DKIM RSA-2048", "full", 0, rsa)]
    sinks = start_sinks()
    lines = [
        f"Each round: Herald's `send` to the list (`pool_size = {POOL}`, from an unsent state), then "
        f"`smtp-source -s {POOL}` with as many messages of the same size, to the same `smtp-sink`. "
        "Ratio: smtp-source's time / Herald's in the same round (1.00 = as fast as smtp-source).",
        "",
        "| edition | message bytes | subscribers | Herald s (median) | messages/s | peak MB | ratio per round |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    try:
        for count in LISTS:
            rounds = ROUNDS if count <= 10000 else LARGE_ROUNDS
            base, _, pristine = site_with_list(work, f"list-{count}", count)
            for name, content, extra, dkim in cases:
                if dkim and count > min(LISTS):
                    continue
                site = os.path.join(work, f"site-{count}-{len(name)}-{extra}-{bool(dkim)}")
                shutil.copytree(base, site, ignore=shutil.ignore_patterns("state", "state.pristine"))
                add_week_articles(site, extra)
                configure(site, content, dkim)
                cmd, env = herald(site, "build")
                measure(cmd, env=env)
                size = message_size(site)
                herald_runs, source_runs = [], []
                for r in range(rounds):
                    order = ("herald", "source") if r % 2 == 0 else ("source", "herald")
                    for who in order:
                        if who == "herald":
                            herald_runs.append(send_from(site, pristine, count))
                        else:
                            source_runs.append(source(count, size))
                times = sorted(t for t, _ in herald_runs)
                median = times[len(times) // 2]
                ratios = ", ".join(f"{s[0] / h[0]:.2f}" for h, s in zip(herald_runs, source_runs))
                peak = max(m for _, m in herald_runs)
                lines.append(f"| {name} | {size} | {count} | {median:.2f} | {count / median:.0f} | {peak:.0f} | {ratios} |")
                print(lines[-1], flush=True)
    finally:
        for sink in sinks:
            sink.terminate()
            sink.wait()
    write_section("sends", "Send speed against message size (`bench/run.sh sends`)", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
