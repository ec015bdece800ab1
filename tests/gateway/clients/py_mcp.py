"""The official Python MCP SDK (mcp 2.x) through the gateway: Streamable HTTP + bearer header.

usage: py_mcp.py URL TOKEN  — lists tools, calls `alpha__echo`, reads the health resource.
"""

import asyncio
import json
import sys

from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def main(url: str, token: str) -> None:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with http, streamable_http_client(url, http_client=http) as streams:
        read, write = streams[0], streams[1]
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            names = [t.name for t in tools.tools]
            assert "alpha__echo" in names and "beta__echo" in names, names
            result = await session.call_tool("alpha__echo", {"text": "from python"})
            texts = [c.text for c in result.content if getattr(c, "type", "") == "text"]
            assert texts == ["from python"], result
            assert not result.is_error
            health = await session.read_resource("corral://gateway/servers")
            body = json.loads(health.contents[0].text)
            assert {s["name"] for s in body["servers"]} == {"alpha", "beta"}, body
    print(f"python mcp sdk: {len(names)} tools listed, call ok, health ok")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
