// E2B's own JS SDK (e2b@2.51.0) against the corral E2B double. JS is stricter than Python
// about stream endings (e2b-compat.md §2.3). The caller sets E2B_API_URL, E2B_SANDBOX_URL,
// E2B_API_KEY and NODE_PATH (where e2b is installed).
import { createRequire } from 'node:module'
import assert from 'node:assert/strict'

const require = createRequire(process.env.E2B_SDK_NODE_DIR + '/')
const { Sandbox } = require('e2b')

const tag = { suite: 'corral-sdk-check-js' }
const sbx = await Sandbox.create({ timeoutMs: 120_000, metadata: tag, envs: { G: 'global' } })
console.log('create', sbx.sandboxId.startsWith('i'))

const chunks = []
const r = await sbx.commands.run('echo hi; echo $G; echo err >&2', { onStdout: (d) => chunks.push(d) })
assert.equal(r.exitCode, 0)
assert.equal(r.stdout, 'hi\nglobal\n')
assert.equal(r.stderr, 'err\n')
assert.equal(chunks.join(''), 'hi\nglobal\n')
console.log('commands.run', r.exitCode, JSON.stringify(r.stdout))

const h = await sbx.commands.run('read line; echo got:$line', { background: true, stdin: true })
await sbx.commands.sendStdin(h.pid, 'abc\n')
const r2 = await h.wait()
assert.equal(r2.stdout, 'got:abc\n')
console.log('stdin', JSON.stringify(r2.stdout))

let bad
try {
  await sbx.commands.run('exit 3')
} catch (e) {
  bad = e.exitCode
}
assert.equal(bad, 3)
console.log('exit code', bad)

await sbx.files.write('/tmp/corral-sdk-js.txt', 'hello files')
assert.equal(await sbx.files.read('/tmp/corral-sdk-js.txt'), 'hello files')
console.log('files write/read ok')

const again = await Sandbox.connect(sbx.sandboxId)
const r3 = await again.commands.run('cat /tmp/corral-sdk-js.txt')
assert.equal(r3.stdout, 'hello files')
console.log('connect ok')

await sbx.setTimeout(60_000)
console.log('setTimeout ok')

const found = await Sandbox.list({ query: { metadata: tag } }).nextItems()
assert.deepEqual(found.map((s) => s.sandboxId), [sbx.sandboxId])
console.log('list ok', found.length)

assert.equal(await sbx.kill(), true)
assert.deepEqual(await Sandbox.list({ query: { metadata: tag } }).nextItems(), [])
console.log('kill ok')
console.log('js-sdk: ok')
