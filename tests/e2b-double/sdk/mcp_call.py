"""Calls one tool of a Streamable-HTTP MCP server and prints its text answer.

usage: mcp_call.py URL TOKEN TOOL ARGUMENTS_JSON
"""

import json
import sys

from mcp_http import McpHttp

url, token, tool, arguments = sys.argv[1:5]
client = McpHttp(url, token)
names = client.initialize()
assert tool in names, names
print(client.call(tool, json.loads(arguments)))
