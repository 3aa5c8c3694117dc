"""A real MCP client (the official `mcp` Python SDK) driving icebroker's /mcp endpoint.

Used by tests/api/mcp_client.rs; scripts/test.sh installs the SDK into target/mcp-venv.

    python tests/mcp/client.py URL --key KEY [--connection C] [--identifier I]
        [--mode auto|legacy] [--call NAME JSON_ARGS]...

Connects over Streamable HTTP (mode `auto` probes `server/discover` first and falls back to the
`initialize` handshake, as it would against any handshake-era server), lists the tools, makes
each call and prints one JSON document on stdout:

    {"protocol_version", "server_name", "tools": [{"name", "input_schema"}],
     "calls": [{"name", "is_error", "structured", "text"}]}
"""

import argparse
import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


async def run(args: argparse.Namespace) -> dict:
    headers = {"Authorization": f"Bearer {args.key}"}
    if args.connection:
        headers["X-Icebroker-Connection"] = args.connection
    if args.identifier:
        headers["X-Icebroker-Identifier"] = args.identifier
    timeout = httpx2.Timeout(30.0, read=120.0)
    async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http:
        transport = streamable_http_client(args.url, http_client=http)
        async with Client(transport, mode=args.mode, raise_exceptions=True) as client:
            listed = await client.list_tools()
            calls = []
            for name, raw in args.call:
                result = await client.call_tool(name, json.loads(raw))
                calls.append(
                    {
                        "name": name,
                        "is_error": bool(result.is_error),
                        "structured": result.structured_content,
                        "text": [c.text for c in result.content if getattr(c, "type", "") == "text"],
                    }
                )
            info = client.server_info
            return {
                "protocol_version": client.protocol_version,
                "server_name": info.name if info else None,
                "tools": [{"name": t.name, "input_schema": t.input_schema} for t in listed.tools],
                "calls": calls,
            }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--key", required=True)
    parser.add_argument("--connection")
    parser.add_argument("--identifier")
    parser.add_argument("--mode", default="auto", choices=["auto", "legacy"])
    parser.add_argument("--call", nargs=2, action="append", default=[], metavar=("NAME", "JSON"))
    args = parser.parse_args()
    report = asyncio.run(run(args))
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
