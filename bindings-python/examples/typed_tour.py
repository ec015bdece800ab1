"""A tour of the typed API: `make lint` type-checks it against the stubs (mypy --strict) and
`make test` runs it against the fixture server (`python typed_tour.py FIXTURE_SERVER`)."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from typing import TYPE_CHECKING, Any, TypeVar

import corral

if TYPE_CHECKING:
    from typing_extensions import assert_type
else:
    _T = TypeVar("_T")

    def assert_type(value: _T, _type: object) -> _T:
        return value


async def tour(server: str, home: str) -> None:
    async with corral.Corral("local", home=home) as c:
        assert_type(c, corral.Corral)
        await c.add_server(
            corral.ServerConfig("fx", command=server, network="none", call_timeout_seconds=30)
        )
        configs = c.list_servers()
        assert_type(configs, list[corral.ServerConfig])
        assert_type(c.get_server("fx").command, list[str] | None)

        tools = await c.discover_tools("fx")
        assert_type(tools, list[corral.Tool])
        schema: dict[str, Any] = tools[0].to_openai()
        assert schema["type"] == "function"

        progress: list[corral.Progress] = []
        result = await c.execute_tool(
            "fx", "sleep", {"ms": 250}, timeout=10, on_progress=progress.append
        )
        assert_type(result, corral.ToolResult)
        assert_type(result.text, str)
        assert_type(result.content, list[corral.Content])
        assert result.text == "slept 250"
        assert progress

        token = corral.CancelToken()
        pending = asyncio.create_task(c.execute_tool("fx", "sleep", {"ms": 10000}, cancel=token))
        await asyncio.sleep(0.1)
        token.cancel()
        try:
            await pending
        except corral.CancelledError as e:
            assert_type(e.kind, str)

        async with c.session("fx") as s:
            assert_type(s, corral.ServerSession)
            contents = await s.read_resource("fixture://hello")
            assert_type(contents, list[corral.ResourceContents])
            prompt = await s.get_prompt("greet", {"name": "Ada"})
            assert_type(prompt.messages[0].content, corral.Content)

        async with c.sandbox(env={"X": "1"}) as sb:
            out = await sb.exec(["sh", "-c", "echo $X"])
            assert_type(out, corral.ExecOutput)
            await sb.write_file("/tmp/note.txt", "typed")
            assert_type(await sb.read_file("/tmp/note.txt"), bytes)
            assert out.stdout == "1\n"

        try:
            await c.execute_tool("nope", "echo", {})
        except corral.ServerNotFoundError as e:
            assert e.kind == "SERVER_NOT_FOUND"


def main() -> None:
    server = sys.argv[1]
    with tempfile.TemporaryDirectory() as home:
        asyncio.run(tour(server, home))
        with corral.Corral(home=home) as c:
            c.add_server_from_dict_sync("fx", {"command": server})
            r = c.execute_tool_sync("fx", "echo", {"text": "sync"})
            assert_type(r, corral.ToolResult)
            assert r.text == "sync"
    print("tour ok")


if __name__ == "__main__":
    main()
