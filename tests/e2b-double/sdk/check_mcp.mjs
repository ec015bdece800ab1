// E2B's own JS SDK (e2b@2.51.0): its MCP gateway flow against the double, as check_mcp.py does
// it from Python: Sandbox.create({mcp}) → getMcpUrl() / getMcpToken() → MCP over Streamable HTTP
// through the sandbox's port 50005 (the routing headers on the one E2B_SANDBOX_URL) →
// connect(id).getMcpToken() → kill; then a config the gateway rejects, which the SDK raises as
// "Failed to start MCP gateway". The caller sets E2B_API_URL, E2B_SANDBOX_URL, E2B_API_KEY,
// E2B_SDK_NODE_DIR and CORRAL_TEST_SERVER.
import { createRequire } from 'node:module'
import assert from 'node:assert/strict'

const require = createRequire(process.env.E2B_SDK_NODE_DIR + '/')
const { Sandbox } = require('e2b')

const envd = process.env.E2B_SANDBOX_URL.replace(/\/$/, '')
const sbx = await Sandbox.create({ mcp: { fx: { command: process.env.CORRAL_TEST_SERVER } }, timeoutMs: 120_000 })
const url = sbx.getMcpUrl()
const token = await sbx.getMcpToken()
assert.equal(url, `https://50005-${sbx.sandboxId}.${sbx.sandboxDomain ?? 'e2b.app'}/mcp`)
assert.equal(token.length, 36)
console.log('create(mcp) get_mcp_url get_mcp_token ok')

const headers = {
  Authorization: `Bearer ${token}`,
  'Content-Type': 'application/json',
  Accept: 'application/json, text/event-stream',
  'E2b-Sandbox-Id': sbx.sandboxId,
  'E2b-Sandbox-Port': '50005',
}
async function rpc (method, params, id) {
  const body = { jsonrpc: '2.0', method, params, ...(id === undefined ? {} : { id }) }
  const resp = await fetch(`${envd}/mcp`, { method: 'POST', headers, body: JSON.stringify(body) })
  const sid = resp.headers.get('mcp-session-id')
  if (sid) headers['Mcp-Session-Id'] = sid
  const text = await resp.text()
  if (id === undefined) { assert.equal(resp.status, 202); return null }
  assert.equal(resp.status, 200, text)
  if ((resp.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    for (const line of text.split('\n')) {
      if (line.startsWith('data:') && line.slice(5).trim()) {
        const msg = JSON.parse(line.slice(5))
        if (msg.id === id) return msg
      }
    }
    throw new Error(`no answer to ${method} in ${text}`)
  }
  return JSON.parse(text)
}
const init = await rpc('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'e2b-sdk-check', version: '0' } }, 1)
headers['MCP-Protocol-Version'] = init.result.protocolVersion
await rpc('notifications/initialized', {})
const tools = (await rpc('tools/list', {}, 2)).result.tools.map((t) => t.name)
assert.ok(tools.includes('echo'), tools.join(','))
console.log('mcp initialize tools/list ok', tools.includes('echo'))
const call = await rpc('tools/call', { name: 'echo', arguments: { text: 'via e2b' } }, 3)
assert.equal(call.result.content[0].text, 'via e2b')
console.log('mcp tools/call ok', call.result.content[0].text)

const again = await Sandbox.connect(sbx.sandboxId)
assert.equal(await again.getMcpToken(), token)
console.log('connect get_mcp_token ok')
assert.equal(await sbx.kill(), true)
console.log('kill ok')

let failed = ''
try {
  await Sandbox.create({ mcp: { 'no-such-server-anywhere': {} } })
} catch (e) {
  failed = String(e.message)
}
assert.match(failed, /Failed to start MCP gateway: .*no-such-server-anywhere/s)
console.log('failed gateway raises ok')
console.log('js-sdk-mcp: ok')
