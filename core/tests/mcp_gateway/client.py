"""The official Python MCP SDK (mcp 2.x) as the client of the `mcp={…}` gateway tests.

usage: client.py URL TOKEN CALLS_JSON — lists the tools (retrying until every name in
`expect_tools` is published, up to `wait_s`), then makes each call; prints one JSON object:
{"tools": [names], "calls": [{"text", "is_error", "structured"}]}.
CALLS_JSON: {"expect_tools": [...], "wait_s": N, "calls": [{"tool", "args"}]}.
"""

import asyncio
import json
import sys
import time

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def main(url: str, token: str, spec: dict) -> None:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    out: dict = {"calls": []}
    async with http, streamable_http_client(url, http_client=http) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            await session.initialize()
            deadline = time.monotonic() + float(spec.get("wait_s", 60))
            first = None
            while True:
                tools = await session.list_tools()
                names = [t.name for t in tools.tools]
                if first is None and names:
                    first = time.monotonic()
                if set(spec.get("expect_tools", [])) <= set(names) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            out["tools"] = names
            for call in spec.get("calls", []):
                r = await session.call_tool(call["tool"], call.get("args", {}))
                texts = [c.text for c in r.content if getattr(c, "type", "") == "text"]
                out["calls"].append(
                    {"text": "\n".join(texts), "is_error": bool(r.is_error),
                     "structured": r.structured_content}
                )
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
