"""A small MCP client over Streamable HTTP (stdlib only), for the SDK checks and the live test.

One JSON-RPC message a POST; answers come as JSON or as SSE events (the one with the request's
id is taken); the session id and protocol version are carried after `initialize`.
"""

import json
import urllib.request
from typing import Any


class McpHttp:
    def __init__(self, url: str, token: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            **(headers or {}),
        }
        self.next_id = 1

    def rpc(
        self,
        method: str,
        params: dict[str, Any],
        *,
        notify: bool = False,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Sends one message (`headers` added to this request only); the answer, if any."""
        body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        id_ = self.next_id
        if not notify:
            body["id"] = id_
            self.next_id += 1
        all_headers = {**self.headers, **(headers or {})}
        req = urllib.request.Request(
            self.url, json.dumps(body).encode(), all_headers, method="POST"
        )
        with urllib.request.urlopen(req, timeout=120) as resp:
            if sid := resp.headers.get("Mcp-Session-Id"):
                self.headers["Mcp-Session-Id"] = sid
            text = resp.read().decode()
            if notify:
                assert resp.status == 202, resp.status
                return None
            if resp.headers.get("Content-Type", "").startswith("text/event-stream"):
                for line in text.splitlines():
                    if line.startswith("data:") and line[5:].strip():
                        msg: dict[str, Any] = json.loads(line[5:])
                        if msg.get("id") == id_:
                            return msg
                raise AssertionError(f"no answer to {method} in {text!r}")
            answer: dict[str, Any] = json.loads(text)
            return answer

    def initialize(self) -> list[str]:
        """The handshake; the names of the tools."""
        init = self.rpc(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "corral-e2b-check", "version": "0"},
            },
        )
        assert init is not None
        assert "result" in init, init
        self.headers["MCP-Protocol-Version"] = init["result"]["protocolVersion"]
        self.rpc("notifications/initialized", {}, notify=True)
        tools = self.rpc("tools/list", {})
        assert tools is not None
        assert "result" in tools, tools
        return [t["name"] for t in tools["result"]["tools"]]

    def call(
        self, name: str, arguments: dict[str, Any], headers: dict[str, str] | None = None
    ) -> str:
        """A tool's text answer (its text contents joined by newlines)."""
        r = self.rpc("tools/call", {"name": name, "arguments": arguments}, headers=headers)
        assert r is not None
        assert "result" in r, r
        return "\n".join(c["text"] for c in r["result"]["content"] if c.get("type") == "text")
