"""E2B's own Python SDK (e2b==2.63.0, sync client): its MCP gateway flow against the double.

Sandbox.create(mcp=…) (template mcp-gateway, then `mcp-gateway --config` run as root with
GATEWAY_ACCESS_TOKEN) → get_mcp_url() / get_mcp_token() → MCP over Streamable HTTP through the
sandbox's port 50005, routed as E2B routes it (the routing headers on the one E2B_SANDBOX_URL,
and the SDK's own `50005-<id>.<domain>` host) → connect(id).get_mcp_token(), which reads
/etc/mcp-gateway/.token as root → kill. The caller sets E2B_API_URL, E2B_SANDBOX_URL,
E2B_API_KEY and CORRAL_TEST_SERVER (the MCP server the gateway runs). Prints one line per step
and `python-sdk-mcp: ok` at the end; any mismatch raises.
"""

import os
import urllib.parse

from e2b import Sandbox

from mcp_http import McpHttp

envd = os.environ["E2B_SANDBOX_URL"].rstrip("/")
sbx = Sandbox.create(mcp={"fx": {"command": os.environ["CORRAL_TEST_SERVER"]}}, timeout=120)
url, token = sbx.get_mcp_url(), sbx.get_mcp_token()
host = sbx.get_host(50005)
assert host.startswith(f"50005-{sbx.sandbox_id}."), host
assert url == f"https://{host}/mcp", url
assert token is not None, token
assert len(token) == 36, token
print("create(mcp) get_mcp_url get_mcp_token ok")

client = McpHttp(
    f"{envd}/mcp", token, {"E2b-Sandbox-Id": sbx.sandbox_id, "E2b-Sandbox-Port": "50005"}
)
names = client.initialize()
assert "echo" in names, names
print("mcp initialize tools/list ok", "echo" in names)

# The SDK's own host, as E2B's edge routes it (left-most label `50005-<id>`), without the
# routing headers.
del client.headers["E2b-Sandbox-Id"], client.headers["E2b-Sandbox-Port"]
text = client.call("echo", {"text": "via e2b"}, {"Host": urllib.parse.urlsplit(url).hostname or ""})
assert text == "via e2b", text
print("mcp tools/call ok", text)

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
