#!/usr/bin/env bash
# Runs the whole benchmark harness in one run and prints everything as Markdown on stdout
# (progress lines on stderr), for BENCHMARKS.md:
#   1. the SQL API proxy bench, all eight targets (direct / bare hyper proxy / actix-web floor /
#      icebroker, with a keypair JWT and with an OAuth token) at concurrency 1, 16, 64;
#   2. the harness bench: refresh storms, a 1 GiB result through an `icebroker serve` child
#      process (peak RSS growth), 1,000,000 vault accounts (insert, lookups, start-up, RSS), and
#      keypair JWT signatures.
# Everything runs on 127.0.0.1 in this one process tree. Release profile (thin LTO); compiling
# happens first so it is never measured.
#
# Usage: scripts/bench.sh [> bench.log]
# Environment: CARGO_TARGET_DIR as usual; the benches' own knobs (PROXY_BENCH_*, HARNESS_SECTIONS,
# STORM_*, BIG_*, VAULT_*; see benches/proxy.rs and benches/harness.rs) pass through.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo bench --locked --no-run --bench proxy --bench harness >&2

echo "# icebroker benchmark harness"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- tree: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr)"
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

echo "## SQL API proxy"
echo
PROXY_BENCH_TARGETS="${PROXY_BENCH_TARGETS:-all}" cargo bench --locked --bench proxy
echo

cargo bench --locked --bench harness

echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
