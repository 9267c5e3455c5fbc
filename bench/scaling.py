#!/usr/bin/env python3
"""Build cost against archive size (#20): full builds of Herald and Hugo on corpora of
SIZES articles of CHARS characters each, alternating, ROUNDS rounds per size. Writes the
"scaling" section of BENCHMARKS.md and bench/scaling.png (time and peak memory against
archive size). Run through `bench/run.sh scaling`.

Environment: SIZES ("1000 10000 20000 50000"), CHARS (3000: ~9 KB of text, the articles
of issue #20), ROUNDS (3), WORK (a temp folder).
"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import REPO, herald_full_build, hugo_full_build, summarise, write_section, write_config  # noqa: E402

SIZES = [int(n) for n in os.environ.get("SIZES", "1000 10000 20000 50000").split()]
CHARS = int(os.environ.get("CHARS", "3000"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))


def chart(rows, path):
    try:
        import matplotlib
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "matplotlib"], check=True)
        import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sizes = [r[0] for r in rows]
    fig, (time_ax, mem_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for label, t, m, style in (("Herald", 1, 2, "o-"), ("Hugo", 3, 4, "s--")):
        time_ax.plot(sizes, [r[t] for r in rows], style, label=label)
        mem_ax.plot(sizes, [r[m] for r in rows], style, label=label)
    time_ax.set(xlabel="articles", ylabel="full build, median s", title="Time")
    mem_ax.set(xlabel="articles", ylabel="peak RSS, MB", title="Memory")
    for ax in (time_ax, mem_ax):
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(f"Full builds, articles of {CHARS} characters, 2 cores")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    work = os.environ.get("WORK") or tempfile.mkdtemp(prefix="herald-scaling-")
    rows = []
    for size in SIZES:
        corpus = os.path.join(work, f"corpus-{size}")
        subprocess.run([sys.executable, os.path.join(REPO, "bench", "gen_corpus.py"), corpus, str(size),
                        str(CHARS)], check=True)
        site = os.path.join(work, f"site-{size}")
        os.makedirs(site)
        os.symlink(os.path.join(corpus, "seeds"), os.path.join(site, "seeds"))
        write_config(site)
        hugo_site = os.path.join(corpus, "hugo")
        herald_runs, hugo_runs = [], []
        for r in range(ROUNDS):
            for name in (("herald", "hugo") if r % 2 == 0 else ("hugo", "herald")):
                if name == "herald":
                    herald_runs.append(herald_full_build(site, work))
                else:
                    hugo_runs.append(hugo_full_build(hugo_site, work))
        h, g = summarise(herald_runs), summarise(hugo_runs)
        ratios = sorted(b[0] / a[0] for a, b in zip(herald_runs, hugo_runs))
        rows.append((size, h["median"], h["rss"], g["median"], g["rss"], ratios))
        print(rows[-1], flush=True)
    png = os.path.join(REPO, "bench", "scaling.png")
    chart(rows, png)
    lines = [
        f"Full builds from an empty output folder and state (earlier outputs moved aside), "
        f"articles of {CHARS} characters (`bench/gen_corpus.py N {CHARS}`), {ROUNDS} alternating "
        "rounds per size; peak memory is the largest of the rounds. Chart: `bench/scaling.png`.",
        "",
        "| articles | Herald s | Herald peak MB | Hugo s | Hugo peak MB | Hugo / Herald per round |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for size, ht, hm, gt, gm, ratios in rows:
        per_round = ", ".join(f"{x:.1f}x" for x in ratios)
        lines.append(f"| {size} | {ht:.2f} | {hm:.0f} | {gt:.2f} | {gm:.0f} | {per_round} |")
    lines += ["", "![Time and peak memory of full builds against archive size](bench/scaling.png)"]
    write_section("scaling", "Build cost as the archive grows (`bench/run.sh scaling`)", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
