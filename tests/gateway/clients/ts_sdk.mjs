// The official TypeScript SDK client through the gateway: Streamable HTTP + bearer header.
// usage: node ts_sdk.mjs URL TOKEN   (NODE_PATH points at the cached node_modules)
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, token] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { Authorization: `Bearer ${token}` } },
});
const client = new Client({ name: "gateway-test-ts", version: "0" });
await client.connect(transport);
const { tools } = await client.listTools();
const names = tools.map((t) => t.name);
if (!names.includes("alpha__echo") || !names.includes("beta__echo")) {
  throw new Error(`missing tools: ${names}`);
}
const r = await client.callTool({ name: "beta__echo", arguments: { text: "from typescript" } });
const text = r.content.filter((c) => c.type === "text").map((c) => c.text).join("\n");
if (text !== "from typescript" || r.isError) throw new Error(`bad result ${JSON.stringify(r)}`);
await transport.terminateSession().catch(() => {});
await client.close();
console.log(`typescript sdk: ${names.length} tools listed, call ok`);
