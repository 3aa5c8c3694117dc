#!/usr/bin/env bash
# Runs the whole test suite. This is the README's test command and what .ci/run calls.
# It installs what the tests need (today: cargo-nextest when missing) and nothing by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest (once)…"
  cargo install --locked cargo-nextest
fi

# tests/api/mcp_client.rs drives /mcp with a real MCP client: the official Python SDK, pinned,
# in a venv under target/ created only when missing (needs python3 >= 3.10 with venv + pip).
MCP_VENV=target/mcp-venv
MCP_SDK_VERSION=2.3.0
if ! "$MCP_VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mcp') != '$MCP_SDK_VERSION')" 2>/dev/null; then
  echo "installing the MCP Python SDK $MCP_SDK_VERSION into $MCP_VENV (once)…"
  python3 -m venv "$MCP_VENV"
  "$MCP_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "mcp==$MCP_SDK_VERSION"
fi
export MCP_CLIENT_PYTHON="$PWD/$MCP_VENV/bin/python"

# snowsim's SQL API schema test reads Snowflake's published spec from ../shared when present.
exec cargo nextest run --locked --no-fail-fast "$@"
