#!/usr/bin/env bash
# Benchmarks (not part of the test suite): installs Hugo and Postfix's smtp-sink /
# smtp-source from Debian, builds Herald in release mode, runs bench/run.py (or, with
# `relays`, bench/relays.py), and writes its section of BENCHMARKS.md. Needs root for apt-get. Takes several minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v hugo >/dev/null || ! command -v smtp-sink >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq hugo postfix >/dev/null
fi
cargo build --release --quiet
# `bench/run.sh relays`: only the relay and million-subscriber runs (bench/relays.py);
# `bench/run.sh scaling`: full builds against archive size (bench/scaling.py; SIZES and
# CHARS set the corpus sizes and the article length); `bench/run.sh sends`: send speed
# against message size and with DKIM (bench/sends.py).
case "${1:-}" in
  relays) exec python3 bench/relays.py ;;
  scaling) exec python3 bench/scaling.py ;;
  sends) exec python3 bench/sends.py ;;
esac
exec python3 bench/run.py "$@"
