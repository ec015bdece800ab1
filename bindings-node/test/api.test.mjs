// The package's own tests: the JS surface of the binding, against the real fixture server in
// real bubblewrap sandboxes. Errors are checked by `code`, never by message.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import util from 'node:util';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

import * as corralEsm from 'corral';
import { Corral, ErrorCode, ServerConfig, Tool, ToolResult, errorCodes, isRetryable } from 'corral';

import { fixtureServer, processesWithEnv, repoRoot, scratchHome } from './helpers.mjs';

const server = fixtureServer();
let home;
let corral;

before(async () => {
  home = scratchHome();
  corral = new Corral({ home });
  await corral.addServerFromDict('fx', { command: server, network: 'none' });
});

after(async () => {
  await corral.close();
  fs.rmSync(home, { recursive: true, force: true });
});

async function rejectsWith(promise, code) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof Error, 'rejects with an Error');
    assert.equal(e.code, code);
    return true;
  });
}

test('ESM and CommonJS load the same binding', () => {
  const require = createRequire(import.meta.url);
  const cjs = require('corral');
  assert.equal(cjs.Corral, corralEsm.Corral);
  assert.equal(typeof cjs.ServerConfig, 'function');
  const out = execFileSync(process.execPath, ['-e', "console.log(typeof require('corral').Corral)"], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  assert.equal(out.trim(), 'function');
});

test('every I/O method returns a Promise and the event loop keeps running', async () => {
  const call = corral.executeTool('fx', 'sleep', { ms: 300 });
  assert.ok(call instanceof Promise);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  const r = await call;
  clearInterval(timer);
  assert.equal(r.text, 'slept 300');
  assert.ok(ticks > 0, 'timers fired while the call was in flight');
  assert.ok(corral.discoverTools('fx') instanceof Promise);
  assert.ok(corral.close instanceof Function);
});

test('tools, results and schema exports', async () => {
  const tools = await corral.discoverTools('fx');
  const add = tools.find((t) => t.name === 'add');
  assert.ok(add instanceof Tool);
  assert.equal(add.inputSchema.type, 'object');
  const openai = add.toOpenAI();
  assert.equal(openai.type, 'function');
  assert.equal(openai.function.name, 'add');
  assert.equal(openai.function.parameters.properties.a.type, 'number');
  const anthropic = add.toAnthropic();
  assert.equal(anthropic.name, 'add');
  assert.equal(anthropic.input_schema.type, 'object');
  assert.equal(JSON.parse(JSON.stringify(add)).inputSchema.type, 'object');

  const r = await corral.executeTool('fx', 'add', { a: 2, b: 3 });
  assert.ok(r instanceof ToolResult);
  assert.equal(r.text, '5');
  assert.deepEqual(r.structuredContent, { sum: 5 });
  assert.equal(r.isError, false);
  assert.deepEqual(r.content, [{ type: 'text', text: '5' }]);
  assert.deepEqual(JSON.parse(JSON.stringify(r)), {
    content: [{ type: 'text', text: '5' }],
    structuredContent: { sum: 5 },
    isError: false,
  });

  const failed = await corral.executeTool('fx', 'fail', { message: 'boom' });
  assert.equal(failed.isError, true);
  assert.equal(failed.text, 'failed: boom');
});

test('concurrent calls share one warm session', async () => {
  const results = await Promise.all(
    Array.from({ length: 32 }, (_, i) => corral.executeTool('fx', 'echo', { text: `m${i}` })),
  );
  assert.deepEqual(
    results.map((r) => r.text),
    Array.from({ length: 32 }, (_, i) => `m${i}`),
  );
});

test('thousands of calls in flight each settle with their own outcome', async () => {
  // Finished calls reach the JS thread in batches (one wake-up for all that finished
  // meanwhile): results and rejections, interleaved, must each reach their own Promise.
  const n = 2000;
  const outcomes = await Promise.allSettled(
    Array.from({ length: n }, (_, i) =>
      i % 3 === 2
        ? corral.executeTool('no-such-server', 'echo', { text: `m${i}` })
        : corral.executeTool('fx', 'echo', { text: `m${i}` }),
    ),
  );
  outcomes.forEach((o, i) => {
    if (i % 3 === 2) {
      assert.equal(o.status, 'rejected');
      assert.equal(o.reason.code, 'SERVER_NOT_FOUND');
    } else {
      assert.equal(o.status, 'fulfilled');
      assert.equal(o.value.text, `m${i}`);
    }
  });
});

test('errors carry the stable kind in code', async () => {
  await rejectsWith(corral.executeTool('nope', 'echo', {}), 'SERVER_NOT_FOUND');
  await rejectsWith(corral.executeTool('fx', 'no_such_tool', {}), 'TOOL_NOT_FOUND');
  await rejectsWith(corral.executeTool('fx', 'echo', [1, 2]), 'INVALID_ARGUMENT');
  await rejectsWith(corral.executeTool('fx', 'echo', {}, { timeoutMs: -1 }), 'INVALID_ARGUMENT');
  await rejectsWith(
    corral.addServerFromDict('bad', { command: 'x', env: { '1BAD': 'v' } }),
    'CONFIG_INVALID',
  );
  await rejectsWith(corral.removeServer('nope'), 'SERVER_NOT_FOUND');
  await rejectsWith(corral.loadMcpServers('{not json'), 'CONFIG_INVALID');
  await rejectsWith(corral.sandbox({ bogus: 1 }), 'CONFIG_INVALID');
  assert.throws(
    () => new ServerConfig('x', { command: 'x', network: 'sometimes' }),
    (e) => e instanceof Error && e.code === 'CONFIG_INVALID',
  );
  assert.throws(
    () => new Corral({ provider: 'nope', home }),
    (e) => e instanceof Error && e.code === 'CONFIG_INVALID',
  );
  assert.throws(
    () => corral.server('nope'),
    (e) => e.code === 'SERVER_NOT_FOUND',
  );
  assert.equal(errorCodes().length, 17);
  assert.ok(errorCodes().includes('SERVER_CRASHED'));
  assert.equal(isRetryable('TIMEOUT'), true);
  assert.equal(isRetryable('CONFIG_INVALID'), false);
});

test('errors are the core error as data: code, field, retryable, message without the code', async () => {
  const e = await corral.addServerFromDict('bad', { command: 'x', env: { '1BAD': 'v' } }).catch((e) => e);
  assert.equal(e.code, 'CONFIG_INVALID');
  assert.equal(e.field, 'servers.bad.env.1BAD');
  assert.equal(e.retryable, false);
  assert.ok(!e.message.startsWith('CONFIG_INVALID'), 'no code prefix in the message');
  const thrown = (() => {
    try {
      new ServerConfig('x', { command: 'x', env: { '1BAD': 'v' } });
    } catch (e) {
      return e;
    }
  })();
  assert.equal(thrown.code, 'CONFIG_INVALID');
  assert.equal(thrown.field, 'servers.x.env.1BAD');
  const crash = await corral.executeTool('fx', 'crash', {}).catch((e) => e);
  assert.equal(crash.code, 'SERVER_CRASHED');
  assert.equal(crash.retryable, true);
  assert.equal(crash.field, undefined);
  // The TypeScript enum is the core's list (ErrorKind::ALL), in its order.
  assert.deepEqual(Object.values(ErrorCode), errorCodes());
});

test('quick takes a command line or a ServerConfig', async () => {
  assert.equal((await corral.quick(server, 'echo', { text: 'q1' })).text, 'q1');
  const cfg = new ServerConfig('q', { command: server, network: 'none' });
  assert.equal((await corral.quick(cfg, 'echo', { text: 'q2' })).text, 'q2');
});

test('setStartCallback receives the canonical StartEvents of a start', async () => {
  const c = new Corral({ home });
  const events = [];
  c.setStartCallback((e) => events.push(e));
  await c.addServerFromDict('st', { command: server, network: 'none', install_commands: ['true'] });
  await c.discoverTools('st');
  c.setStartCallback(undefined);
  await c.close();
  const types = events.map((e) => e.type);
  assert.deepEqual(types, ['installStarted', 'installFinished', 'serverStarting', 'serverReady']);
  assert.deepEqual(events[0], { type: 'installStarted', server: 'st', index: 1, total: 1, command: 'true' });
  assert.equal(events[1].status.code, 0);
  assert.equal(typeof events[3].protocolVersion, 'string');
});

test('a Corral garbage-collected without close() stops its servers and warns once', () => {
  const marker = `CORRAL_NODE_GC_${process.pid}_${Date.now()}`;
  const script = `
    const { Corral } = require('corral');
    (async () => {
      let c = new Corral({ home: ${JSON.stringify(home)} });
      await c.addServerFromDict('gc', { command: ${JSON.stringify(server)}, network: 'none',
                                        env: { ${JSON.stringify(marker.split('=')[0])}: '1' } });
      await c.discoverTools('gc');
      console.log('started');
      c = null;
      for (let i = 0; i < 20; i++) { global.gc(); await new Promise((r) => setImmediate(r)); }
      await new Promise((r) => setTimeout(r, 200));
      console.log('collected');
    })();
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /started\ncollected/);
  assert.equal(r.stderr.match(/garbage-collected without close\(\)/g)?.length, 1, r.stderr);
  assert.deepEqual(processesWithEnv(`${marker}=1`), []);
});

test('a crash rejects with SERVER_CRASHED and the next call restarts the server', async () => {
  const before = await corral.session('fx');
  await rejectsWith(corral.executeTool('fx', 'crash', {}), 'SERVER_CRASHED');
  assert.equal((await corral.executeTool('fx', 'echo', { text: 'back' })).text, 'back');
  const after = await corral.session('fx');
  assert.notEqual(after.sessionId, before.sessionId);
  await before.close();
  await after.close();
});

test('progress and log callbacks run on the JS thread', async () => {
  const seen = [];
  const r = await corral.executeTool('fx', 'sleep', { ms: 400 }, { onProgress: (p) => seen.push(p) });
  assert.equal(r.text, 'slept 400');
  assert.ok(seen.length >= 2);
  assert.equal(typeof seen[0].progress, 'number');

  const logs = [];
  const c = new Corral({ home });
  c.setLogCallback((m) => logs.push(m));
  await c.addServerFromDict('logger', { command: server });
  await c.executeTool('logger', 'log', { level: 'warning', message: 'hello log' });
  for (let i = 0; i < 100 && logs.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  await c.close();
  assert.ok(logs.length > 0, 'a log message arrived');
  assert.equal(logs[0].server, 'logger');
  assert.equal(logs[0].level, 'warning');
});

test('an AbortSignal cancels the call and its listener is removed', async () => {
  const early = new AbortController();
  early.abort();
  await rejectsWith(corral.executeTool('fx', 'echo', { text: 'x' }, { signal: early.signal }), 'CANCELLED');

  const controller = new AbortController();
  const call = corral.executeTool('fx', 'sleep', { ms: 20000 }, { signal: controller.signal });
  setTimeout(() => controller.abort(), 100);
  await rejectsWith(call, 'CANCELLED');
  assert.equal(getEventListeners(controller.signal, 'abort').length, 0);

  const reused = new AbortController();
  for (let i = 0; i < 20; i++) {
    await corral.executeTool('fx', 'echo', { text: 'x' }, { signal: reused.signal });
  }
  assert.equal(getEventListeners(reused.signal, 'abort').length, 0);
  // The session survived the cancellation.
  assert.equal((await corral.executeTool('fx', 'echo', { text: 'still' })).text, 'still');
});

test('sessions: resources, prompts, calls; closed handles reject with CLOSED', async () => {
  const s = await corral.session('fx');
  assert.equal(s.server, 'fx');
  assert.match(s.protocolVersion, /^\d{4}-\d{2}-\d{2}$/);
  assert.equal(typeof s.sandboxId, 'string');
  assert.ok((await s.listTools()).some((t) => t.name === 'echo'));
  assert.deepEqual(
    (await s.listResources()).map((r) => r.uri),
    ['fixture://hello'],
  );
  assert.equal((await s.readResource('fixture://hello'))[0].text, 'Hello from the fixture');
  assert.ok((await s.listPrompts()).some((p) => p.name === 'greet'));
  const p = await s.getPrompt('greet', { name: 'Ada' });
  assert.deepEqual(p.messages[0].content, { type: 'text', text: 'Hello, Ada!' });
  assert.equal((await s.callTool('echo', { text: 'via session' })).text, 'via session');
  await s[Symbol.asyncDispose]();
  await rejectsWith(s.callTool('echo', { text: 'x' }), 'CLOSED');
  await rejectsWith(s.listTools(), 'CLOSED');
  // The shared session is still there for others.
  assert.equal((await corral.executeTool('fx', 'echo', { text: 'shared' })).text, 'shared');
});

test('Corral.create builds a runner without blocking the event loop', async () => {
  const pending = Corral.create({ home });
  assert.ok(pending instanceof Promise);
  const c = await pending;
  assert.ok(c instanceof Corral);
  assert.equal(c.provider, 'local');
  await c.close();
  await rejectsWith(Corral.create({ home, provider: 'nope' }), 'CONFIG_INVALID');
});

test('toJSON is the canonical form (the same as Python to_dict and the CLI --json)', () => {
  const cfg = new ServerConfig('fx', {
    command: 'srv --x',
    install_commands: ['true'],
    timeout_minutes: 2,
    limits: { memory_mb: 64 },
    tags: ['prod'],
  });
  assert.deepEqual(cfg.tags, ['prod']);
  assert.deepEqual(cfg.toJSON(), {
    name: 'fx',
    command: ['srv', '--x'],
    installCommands: ['true'],
    timeoutMinutes: 2,
    callTimeoutSeconds: 60,
    network: 'all',
    limits: { memoryMb: 64 },
    tags: ['prod'],
  });
  assert.deepEqual(new ServerConfig('fx', cfg.toJSON()).toJSON(), cfg.toJSON());
});

test('server configs: classes, dicts, mcpServers documents', async () => {
  const c = new Corral({ home });
  const cfg = new ServerConfig('one', { command: [server], env: { A: 'b' }, deny_tools: ['crash'] });
  assert.equal(cfg.name, 'one');
  assert.equal(cfg.toJSON().env.A, 'b');
  await c.addServer(cfg);
  await c.addServer(ServerConfig.command('two', `'${server}' --tools 2`));
  const names = await c.loadMcpServers({
    mcpServers: { three: { command: server, args: [] }, off: { command: server, disabled: true } },
  });
  assert.deepEqual(names, ['three']);
  assert.deepEqual(
    c.listServers().map((s) => s.name),
    ['one', 'three', 'two'],
  );
  assert.equal((await c.executeTool('two', 'tool_001', { text: 't' })).text, 't');
  await rejectsWith(c.executeTool('one', 'crash', {}), 'TOOL_NOT_FOUND');
  const remote = ServerConfig.url('r', 'http://127.0.0.1:9/mcp', { Authorization: 'Bearer x' });
  assert.equal(remote.isRemote, true);
  await c.removeServer('three');
  assert.deepEqual(
    c.listServers().map((s) => s.name),
    ['one', 'two'],
  );
  await c[Symbol.asyncDispose]();
  assert.equal(c.closed, true);
  await rejectsWith(c.discoverTools('one'), 'CLOSED');
});

test('quick and sandboxes', async () => {
  assert.equal((await corral.quick(server, 'echo', { text: 'once' })).text, 'once');
  const sb = await corral.sandbox({ env: { GREETING: 'hi' }, network: 'none' });
  assert.equal(typeof sb.id, 'string');
  const out = await sb.exec('echo "$GREETING from $HOME"; echo err >&2; exit 4');
  assert.deepEqual(out, { exitCode: 4, stdout: 'hi from /home/corral\n', stderr: 'err\n' });
  const bytes = Buffer.from([0, 1, 2, 255, 254]);
  await sb.writeFile('/tmp/bin', bytes);
  assert.deepEqual(await sb.readFile('/tmp/bin'), bytes);
  await sb.writeFile('/home/corral/t.txt', 'text');
  assert.equal((await sb.readFile('/home/corral/t.txt')).toString(), 'text');
  await rejectsWith(sb.readFile('/nonexistent'), 'IO');
  // The sandbox's root is its own writable layer: /usr takes the write, the host's does not see it.
  await sb.writeFile('/usr/corral-node-test', 'x');
  assert.equal((await sb.readFile('/usr/corral-node-test')).toString(), 'x');
  assert.equal(fs.existsSync('/usr/corral-node-test'), false);
  // A file is no directory.
  await rejectsWith(sb.writeFile('/home/corral/t.txt/under-a-file', 'x'), 'IO');
  await sb.close();
  await sb.close();
});

test('a gateway serves the servers to the official TypeScript SDK client', async () => {
  const c = new Corral({ home });
  await c.addServerFromDict('gw', { command: server, network: 'none' });
  // snake_case keys are accepted as well as the canonical camelCase ones.
  const gw = await c.startGateway({ tool_budget: 500, discoveryDeadlineMs: 10_000 });
  assert.match(gw.url, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
  assert.equal(gw.getMcpUrl(), gw.url);
  assert.equal(gw.getMcpToken(), gw.token);
  assert.ok(gw.token.length >= 22, 'a random token of at least 128 bits');
  assert.equal(gw.localAddr, new URL(gw.url).host);
  for (const shown of [String(gw), util.inspect(gw), JSON.stringify(gw), `${gw}`]) {
    assert.ok(!shown.includes(gw.token), `the token is not shown: ${shown}`);
  }
  assert.equal(await gw.waitSettled(30_000), true);
  const [health, ...others] = gw.servers();
  assert.deepEqual(others, []);
  assert.equal(health.name, 'gw');
  assert.equal(health.state, 'ready');
  assert.equal(health.restarts, 0);
  assert.ok(health.toolCount > 0);

  const client = new Client({ name: 'corral-node-test', version: '0.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(gw.url), {
    requestInit: { headers: { Authorization: `Bearer ${gw.token}` } },
  });
  await client.connect(transport);
  const { tools } = await client.listTools();
  assert.ok(
    tools.some((t) => t.name === 'echo'),
    tools.map((t) => t.name),
  );
  const r = await client.callTool({ name: 'echo', arguments: { text: 'through the gateway' } });
  assert.deepEqual(r.content, [{ type: 'text', text: 'through the gateway' }]);
  await client.close();

  const post = (token) =>
    fetch(gw.url, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: '{}',
    });
  assert.equal((await post('not-the-token-at-all')).status, 401);
  // Closing the corral closes its gateways: nothing listens any more.
  await c.close();
  await assert.rejects(post(gw.token));
  await gw.close();
  await gw[Symbol.asyncDispose]();
});

test('a gateway whose object is garbage-collected keeps serving until its corral closes', () => {
  const script = `
    const { Corral } = require('corral');
    (async () => {
      const c = new Corral({ home: ${JSON.stringify(home)} });
      await c.addServerFromDict('gw', { command: ${JSON.stringify(server)}, network: 'none' });
      const { url } = await c.startGateway().then((g) => ({ url: g.url }));
      for (let i = 0; i < 20; i++) { global.gc(); await new Promise((r) => setImmediate(r)); }
      const get = () => fetch(url.replace('/mcp', '/health')).then((r) => r.status);
      console.log(await get());
      await c.close();
      console.log(await get().catch(() => 'refused'));
    })();
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '200\nrefused\n');
});

test("gateway options are the core's: unknown or bad keys are CONFIG_INVALID naming the field", async () => {
  const c = new Corral({ home });
  await c.addServerFromDict('gw', { command: server, network: 'none' });
  const invalid = async (options, field) => {
    await assert.rejects(c.startGateway(options), (e) => {
      assert.equal(e.code, 'CONFIG_INVALID');
      assert.equal(e.field, field);
      return true;
    });
  };
  await invalid({ nope: 1 }, 'gateway.nope');
  await invalid({ toolBudget: 'many' }, 'gateway.toolBudget');
  await rejectsWith(c.startGateway({ token: 'short' }), 'CONFIG_INVALID');
  await rejectsWith(c.startGateway({ servers: ['missing'] }), 'SERVER_NOT_FOUND');
  const token = 'a-token-of-my-own-0123456789';
  const gw = await c.startGateway({ servers: ['gw'], token, eager: false });
  assert.equal(gw.token, token);
  assert.equal(gw.servers()[0].state, 'starting');
  await gw.close();
  await gw.close();
  await c.close();
  await rejectsWith(c.startGateway(), 'CLOSED');
});

test('a startGateway overlapping close() never resolves with a gateway that is left serving', async () => {
  const c = new Corral({ home });
  await c.addServerFromDict('gw', { command: server, network: 'none' });
  const starts = Array.from({ length: 6 }, () =>
    c.startGateway({ eager: false }).then(
      (value) => ({ value }),
      (reason) => ({ reason }),
    ),
  );
  await c.close();
  const health = (g) => fetch(g.url.replace('/mcp', '/health')).then((r) => r.status);
  for (const r of await Promise.all(starts)) {
    if (r.reason) assert.equal(r.reason.code, 'CLOSED');
    // One that won the race was closed with the corral: nothing listens any more.
    else await assert.rejects(health(r.value));
  }
  await rejectsWith(c.startGateway(), 'CLOSED');
});

test('the top-level startGateway owns a corral of its own: closing the gateway stops its servers', async () => {
  const tag = `top-level-gateway-${process.pid}`;
  const mcp = { fx: { command: server, network: 'none', env: { CORRAL_SCENARIO_TAG: tag } } };
  const gw = await corralEsm.startGateway({ mcp, discoveryDeadlineMs: 10_000 }, { home });
  assert.equal(await gw.waitSettled(30_000), true);
  assert.deepEqual(
    gw.servers().map((h) => [h.name, h.state]),
    [['fx', 'ready']],
  );
  const client = new Client({ name: 'corral-node-test', version: '0.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(gw.url), {
    requestInit: { headers: { Authorization: `Bearer ${gw.token}` } },
  });
  await client.connect(transport);
  const r = await client.callTool({ name: 'echo', arguments: { text: 'top level' } });
  assert.deepEqual(r.content, [{ type: 'text', text: 'top level' }]);
  await client.close();
  assert.ok(processesWithEnv(`CORRAL_SCENARIO_TAG=${tag}`).length > 0, 'the server runs');
  await gw.close();
  assert.deepEqual(processesWithEnv(`CORRAL_SCENARIO_TAG=${tag}`), [], 'its corral closed with it');
  await rejectsWith(corralEsm.startGateway({ nope: 1 }), 'CONFIG_INVALID');
});

test('the runtime has one worker per core, like the other bindings', () => {
  const names = fs
    .readdirSync('/proc/self/task')
    .map((t) => fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim());
  const workers = names.filter((n) => n === 'corral-node').length;
  assert.ok(workers >= Math.min(2, os.availableParallelism()), `corral-node threads: ${workers}`);
});

test('templates: build once, start sandboxes and servers from one, list, remove, prune', async () => {
  const tplHome = scratchHome();
  const c = new Corral({ home: tplHome });
  try {
    const commands = ['mkdir -p /opt && echo tpl > /opt/tpl.txt'];
    const t = await c.buildTemplate('node-tools', commands);
    assert.equal(t.name, 'node-tools');
    assert.deepEqual(t.installCommands, commands);
    assert.equal(typeof t.id, 'string');
    assert.equal((await c.buildTemplate('node-tools', commands)).id, t.id, 'the same content is reused');
    const [listed] = await c.listTemplates();
    assert.equal(listed.name, 'node-tools');
    assert.ok(listed.sizeBytes > 0);

    const sb = await c.sandbox({ template: 'node-tools', limits: { disk_mb: 64 } });
    assert.equal((await sb.exec('cat /opt/tpl.txt')).stdout, 'tpl\n');
    await sb.close();
    await rejectsWith(c.sandbox({ template: 'not-built' }), 'SANDBOX_FAILED');
    await rejectsWith(c.buildTemplate('bad', ['exit 3']), 'INSTALL_FAILED');

    const config = {
      command: server,
      network: 'none',
      template: 'node-tools',
      files: { '/app/a.txt': 'from files' },
    };
    assert.deepEqual(
      [new ServerConfig('ft', config).toJSON().template, new ServerConfig('ft', config).toJSON().files],
      ['node-tools', { '/app/a.txt': 'from files' }],
    );
    await c.addServerFromDict('ft', config);
    assert.equal((await c.executeTool('ft', 'read_file', { path: '/opt/tpl.txt' })).text, 'tpl\n');
    assert.equal((await c.executeTool('ft', 'read_file', { path: '/app/a.txt' })).text, 'from files');

    await c.removeTemplate('node-tools');
    assert.deepEqual(await c.listTemplates(), []);
    const report = await c.prune();
    assert.ok(Array.isArray(report.removed));
    assert.equal(typeof report.freedBytes, 'number');
  } finally {
    await c.close();
    fs.rmSync(tplHome, { recursive: true, force: true });
  }
});

// ---- lifecycle: the process exits on its own (child processes) ----

test('a worker thread ended while its calls are pending leaves the process working', () => {
  // Its calls finish after its environment is gone: their results must be dropped, not
  // delivered to a freed threadsafe function; the main thread's calls still settle.
  const source = `
    import { Worker } from 'node:worker_threads';
    import { Corral } from 'corral';
    // The worker inherits --input-type=module: its code is a module too.
    const code = \`
      import { parentPort } from 'node:worker_threads';
      import { Corral } from 'corral';
      const c = new Corral({ home: process.env.HOME_DIR });
      await c.addServerFromDict('fx', { command: process.env.FIXTURE });
      await c.executeTool('fx', 'echo', { text: 'warm' });
      for (let i = 0; i < 8; i++) c.executeTool('fx', 'sleep', { ms: 300 }).catch(() => {});
      parentPort.postMessage('pending');
    \`;
    const worker = new Worker(code, { eval: true });
    await new Promise((resolve) => worker.once('message', resolve));
    await worker.terminate();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const c = new Corral({ home: process.env.HOME_DIR });
    await c.addServerFromDict('fx', { command: process.env.FIXTURE });
    const results = await Promise.all([1, 2, 3].map((i) => c.executeTool('fx', 'echo', { text: 'after' + i })));
    console.log(results.map((r) => r.text).join(' '));
    await c.close();
  `;
  const r = runScript(source, `node-worker-${process.pid}`);
  assert.equal(r.error, undefined, `the script ran to its end: ${r.error}`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'after1 after2 after3');
});

function runScript(source, tag) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', source], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, FIXTURE: server, TAG: tag, HOME_DIR: home },
    // A safety net against a hang, not a performance assertion.
    timeout: 120_000,
  });
  return r;
}

const script = (closeIt) => `
  import { Corral } from 'corral';
  const c = new Corral({ home: process.env.HOME_DIR });
  await c.addServerFromDict('fx', { command: process.env.FIXTURE, env: { CORRAL_SCENARIO_TAG: process.env.TAG } });
  const r = await c.executeTool('fx', 'echo', { text: 'bye' });
  // A running gateway keeps neither the process alive nor its servers after exit.
  const gw = await c.startGateway();
  await gw.waitSettled(30000);
  const sb = await c.sandbox({ env: { CORRAL_SCENARIO_TAG: process.env.TAG } });
  await sb.exec('setsid sleep 600 >/dev/null 2>&1 < /dev/null &');
  c.setLogCallback(() => {});
  console.log(r.text);
  ${closeIt ? 'await c.close();' : '// forgets close()'}
`;

for (const closeIt of [true, false]) {
  test(`a script exits on its own ${closeIt ? 'after close()' : 'when it forgets close()'}`, async () => {
    const tag = `node-exit-${closeIt}-${process.pid}`;
    const r = runScript(script(closeIt), tag);
    assert.equal(r.error, undefined, `the script ran to its end: ${r.error}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'bye');
    // No process of the script's sandboxes survives it (a detached grandchild included).
    const needle = `CORRAL_SCENARIO_TAG=${tag}`;
    for (let i = 0; i < 100 && processesWithEnv(needle).length > 0; i++) {
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.deepEqual(processesWithEnv(needle), []);
  });
}
