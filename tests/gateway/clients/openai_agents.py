"""The OpenAI Agents SDK's MCPServerStreamableHttp through the gateway (no model involved).

usage: openai_agents.py URL TOKEN  — lists tools and calls one directly.
"""

import asyncio
import sys

from agents.mcp import MCPServerStreamableHttp


async def main(url: str, token: str) -> None:
    server = MCPServerStreamableHttp(
        params={"url": url, "headers": {"Authorization": f"Bearer {token}"}, "timeout": 10},
        name="corral",
        client_session_timeout_seconds=10,
    )
    async with server:
        tools = await server.list_tools()
        names = [t.name for t in tools]
        assert "beta__add" in names, names
        result = await server.call_tool("beta__add", {"a": 2, "b": 3})
        texts = [c.text for c in result.content if getattr(c, "type", "") == "text"]
        assert texts == ["5"], result
    print(f"openai-agents: {len(names)} tools listed, call ok")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
