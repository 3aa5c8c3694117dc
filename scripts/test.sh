#!/usr/bin/env bash
# Runs the whole test suite. This is the README's test command and what .ci/run calls.
# It installs what the tests need (cargo-nextest; Chromium and playwright-core for the admin UI
# browser test) when missing, and nothing by hand.
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

# The admin UI browser test (tests/api/admin_browser.rs) drives Debian's Chromium through
# playwright-core from npm (never Playwright's own browser downloads). Both are installed once;
# when an install fails the test itself fails and says what is missing.
if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium for the admin browser test (once)…"
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends chromium >/dev/null) ||
      echo "WARNING: apt-get could not install chromium; the admin browser test will fail" >&2
  else
    echo "WARNING: not root, cannot apt-get install chromium; the admin browser test will fail" >&2
  fi
fi
if [ ! -f tests/browser/node_modules/playwright-core/package.json ]; then
  echo "installing playwright-core for the admin browser test (once)…"
  (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) ||
    echo "WARNING: npm could not install playwright-core; the admin browser test will fail" >&2
fi

# snowsim's SQL API schema test reads Snowflake's published spec from ../shared when present.
exec cargo nextest run --locked --no-fail-fast "$@"
