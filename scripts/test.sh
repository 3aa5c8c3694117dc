#!/usr/bin/env bash
# Runs the whole test suite. This is the README's test command and what .ci/run calls.
# It installs what the tests need (today: cargo-nextest when missing) and nothing by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest (once)…"
  cargo install --locked cargo-nextest
fi

# snowsim's SQL API schema test reads Snowflake's published spec from ../shared when present.
exec cargo nextest run --locked --no-fail-fast "$@"
