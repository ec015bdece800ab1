"""A tiny stdio MCP server with no dependencies, committed into the local bare repository of the
`github/<owner>/<repo>` test: one tool, `info`, that reports what the install step built, the
server's env and its working directory."""

import json
import os
import sys


def reply(id_, result):
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": id_, "result": result}) + "\n")
    sys.stdout.flush()


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


TOOL = {
    "name": "info",
    "description": "What this server was built and started with.",
    "inputSchema": {"type": "object", "properties": {}},
}

for line in sys.stdin:
    msg = json.loads(line)
    method, id_ = msg.get("method"), msg.get("id")
    if id_ is None:
        continue
    if method == "initialize":
        reply(id_, {"protocolVersion": msg["params"]["protocolVersion"],
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "tiny", "version": "1"}})
    elif method == "tools/list":
        reply(id_, {"tools": [TOOL]})
    elif method == "tools/call":
        info = {"built": read("BUILT"), "version": read("VERSION"),
                "greeting": os.environ.get("GREETING"), "cwd": os.getcwd()}
        reply(id_, {"content": [{"type": "text", "text": json.dumps(info)}]})
    elif method == "ping":
        reply(id_, {})
    else:
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": id_,
                                     "error": {"code": -32601, "message": method}}) + "\n")
        sys.stdout.flush()
