"""E2B's own Python SDK (e2b==2.63.0, sync client): its MCP gateway flow against the double.

Sandbox.create(mcp=…) (template mcp-gateway, then `mcp-gateway --config` run as root with
GATEWAY_ACCESS_TOKEN) → get_mcp_url() / get_mcp_token() → MCP over Streamable HTTP through the
sandbox's port 50005, routed as E2B routes it (the routing headers on the one E2B_SANDBOX_URL,
and the SDK's own `50005-<id>.<domain>` host) → connect(id).get_mcp_token(), which reads
/etc/mcp-gateway/.token as root → kill. The caller sets E2B_API_URL, E2B_SANDBOX_URL,
E2B_API_KEY and CORRAL_TEST_SERVER (the MCP server the gateway runs). Prints one line per step
and `python-sdk-mcp: ok` at the end; any mismatch raises.
"""

import json
import os
import urllib.parse
import urllib.request
from typing import Any

from e2b import Sandbox

envd = os.environ["E2B_SANDBOX_URL"].rstrip("/")
sbx = Sandbox.create(mcp={"fx": {"command": os.environ["CORRAL_TEST_SERVER"]}}, timeout=120)
url, token = sbx.get_mcp_url(), sbx.get_mcp_token()
host = sbx.get_host(50005)
assert host.startswith(f"50005-{sbx.sandbox_id}."), host
assert url == f"https://{host}/mcp", url
assert token is not None, token
assert len(token) == 36, token
print("create(mcp) get_mcp_url get_mcp_token ok")

session: dict[str, str] = {}


def rpc(
    method: str, params: dict[str, Any], routing: dict[str, str], id_: int | None = 1
) -> dict[str, Any] | None:
    """One JSON-RPC message to the gateway; the answer (JSON or one SSE event), if any."""
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if id_ is not None:
        body["id"] = id_
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        **session,
        **routing,
    }
    req = urllib.request.Request(f"{envd}/mcp", json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(req, timeout=60) as resp:
        if sid := resp.headers.get("Mcp-Session-Id"):
            session["Mcp-Session-Id"] = sid
        text = resp.read().decode()
        if id_ is None:
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


by_headers = {"E2b-Sandbox-Id": sbx.sandbox_id, "E2b-Sandbox-Port": "50005"}
init = rpc(
    "initialize",
    {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "e2b-sdk-check", "version": "0"},
    },
    by_headers,
)
assert init is not None
assert "result" in init, init
session["MCP-Protocol-Version"] = init["result"]["protocolVersion"]
rpc("notifications/initialized", {}, by_headers, id_=None)
tools = rpc("tools/list", {}, by_headers, id_=2)
assert tools is not None
names = [t["name"] for t in tools["result"]["tools"]]
assert "echo" in names, names
print("mcp initialize tools/list ok", "echo" in names)

# The SDK's own host, as E2B's edge routes it (left-most label `50005-<id>`).
by_host = {"Host": urllib.parse.urlsplit(url).hostname}
call = rpc("tools/call", {"name": "echo", "arguments": {"text": "via e2b"}}, by_host, id_=3)
assert call is not None
assert call["result"]["content"][0]["text"] == "via e2b", call
print("mcp tools/call ok", call["result"]["content"][0]["text"])

again = Sandbox.connect(sbx.sandbox_id)
assert again.get_mcp_token() == token
print("connect get_mcp_token ok")

assert sbx.kill() is True
print("kill ok")

failed = ""
try:
    Sandbox.create(mcp={"no-such-server-anywhere": {}})
except Exception as e:  # SandboxException
    failed = str(e)
assert failed.startswith("Failed to start MCP gateway: "), failed
assert "no-such-server-anywhere" in failed, failed
print("failed gateway raises ok")
print("python-sdk-mcp: ok")
