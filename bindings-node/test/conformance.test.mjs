// The Node runner of corral's shared conformance suite (tests/conformance/README.md). The checker
// (`corral-conformance node`, a child process) owns the suite's meaning: it sets up the
// environment, expands placeholders, sends each step's op as a JSON line, checks the answers and
// applies the expected-failures baseline. This file only performs each op through corral's Node
// API and answers with the observation (the canonical JSON of `toJSON()`). One test per scenario.

import { test, after } from 'node:test';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import v8 from 'node:v8';
import vm from 'node:vm';

import { Corral, ServerConfig } from 'corral';

import { repoRoot } from './helpers.mjs';

const target = process.env.CARGO_TARGET_DIR || path.join(repoRoot, 'target');
const checkerPath = process.env.CORRAL_CONFORMANCE || path.join(target, 'debug', 'corral-conformance');
const checker = spawn(checkerPath, ['node'], { stdio: ['pipe', 'pipe', 'inherit'] });
const lines = readline.createInterface({ input: checker.stdout })[Symbol.asyncIterator]();

async function receive() {
  const { value, done } = await lines.next();
  if (done) throw new Error('the checker exited (its stderr says why)');
  return JSON.parse(value);
}

// `drop` forces a collection: gc() without --expose-gc.
v8.setFlagsFromString('--expose-gc');
const gc = globalThis.gc ?? vm.runInNewContext('gc');

const send = (message) => checker.stdin.write(`${JSON.stringify(message)}\n`);

const errorOf = (e) =>
  typeof e?.code === 'string'
    ? { kind: e.code, message: e.message, field: e.field ?? null }
    : { kind: `NOT_A_CORRAL_ERROR (${e?.name})`, message: String(e?.message ?? e) };

class Runner {
  sandboxes = new Map();
  sessions = new Map();
  startEvents = [];
  gateway = null;

  async execute(r) {
    const progress = [];
    const options = { onProgress: (p) => progress.push(p) };
    if (r.timeout_ms !== undefined) options.timeoutMs = r.timeout_ms;
    if (r.max_total_ms !== undefined) options.maxTotalMs = r.max_total_ms;
    let timer;
    if (r.cancel_after_ms !== undefined) {
      const controller = new AbortController();
      timer = setTimeout(() => controller.abort(), r.cancel_after_ms);
      options.signal = controller.signal;
    }
    try {
      return { result: await this.c.executeTool(r.server, r.tool, r.args ?? {}, options), progress };
    } finally {
      clearTimeout(timer);
    }
  }

  // Every reference goes, without close(): the collected objects stop their servers.
  async drop() {
    this.sandboxes.clear();
    this.sessions.clear();
    this.gateway = null;
    this.c = null;
    for (let i = 0; i < 5; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return null;
  }

  async onSession(r, f) {
    const s = await this.c.session(r.server);
    try {
      return await f(s);
    } finally {
      await s.close();
    }
  }

  async perform(r) {
    if (r.op === 'drop') return this.drop();
    if (r.op === 'close' && !this.c) return null; // after `drop`
    const c = this.c;
    const sandbox = () => this.sandboxes.get(r.id);
    switch (r.op) {
      case 'setenv':
        process.env[r.name] = r.value;
        return null;
      case 'open':
        this.c = new Corral({ provider: r.provider, home: r.home });
        this.startEvents = [];
        this.c.setStartCallback((event) => this.startEvents.push(event));
        return null;
      case 'close':
        // The corral closes its gateways itself.
        this.gateway = null;
        return c.close();
      case 'start_gateway': {
        const g = await c.startGateway(r.options ?? undefined);
        await this.gateway?.close();
        this.gateway = g;
        return { url: g.url, token: g.token };
      }
      case 'gateway_close':
        await this.gateway?.close();
        this.gateway = null;
        return null;
      case 'add_server':
        return c.addServerFromDict(r.name, r.config ?? null);
      case 'remove_server':
        return c.removeServer(r.server);
      case 'restart_server':
        return c.addServer(c.server(r.server));
      case 'list_servers':
        return c.listServers().map((s) => s.name);
      case 'load_mcp_servers':
        return c.loadMcpServers(r.document ?? null, {
          mountArgs: r.mount_args ?? false,
          expandEnv: r.expand_env ?? false,
        });
      case 'discover_tools':
        return c.discoverTools(r.server);
      case 'tool_schema': {
        const t = (await c.discoverTools(r.server)).find((t) => t.name === r.tool);
        return { ...t.toJSON(), openai: t.toOpenAI(), anthropic: t.toAnthropic() };
      }
      case 'execute_tool':
        return this.execute(r);
      case 'concurrent':
        return Promise.all(
          r.calls.map((call) =>
            this.execute(call).then(
              (ok) => ({ ok }),
              (e) => ({ error: errorOf(e) }),
            ),
          ),
        );
      case 'quick':
        return c.quick(r.config ? new ServerConfig('quick', r.config) : r.command, r.tool, r.args ?? {});
      case 'session_open':
        this.sessions.set(r.id, await c.session(r.server));
        return null;
      case 'session_execute':
        return this.sessions.get(r.id).callTool(r.tool, r.args ?? {});
      case 'session_close':
        return this.sessions.get(r.id)?.close() ?? null;
      case 'start_events':
        // The callback runs on the JS thread: let the queued events in first.
        await new Promise((resolve) => setImmediate(resolve));
        return this.startEvents;
      case 'session_info':
        return this.onSession(r, (s) => ({
          sessionId: s.sessionId,
          sandboxId: s.sandboxId ?? null,
          protocolVersion: s.protocolVersion,
        }));
      case 'list_resources':
        return this.onSession(r, (s) => s.listResources());
      case 'read_resource':
        return this.onSession(r, (s) => s.readResource(r.uri));
      case 'list_prompts':
        return this.onSession(r, (s) => s.listPrompts());
      case 'get_prompt':
        return this.onSession(r, (s) => s.getPrompt(r.name, r.args ?? undefined));
      case 'sandbox_open':
        this.sandboxes.set(r.id, await c.sandbox({ name: 'scenario', ...r.config }));
        return null;
      case 'sandbox_exec':
        return sandbox().exec(r.script);
      case 'sandbox_write':
        return sandbox().writeFile(r.path, r.data);
      case 'sandbox_read':
        return (await sandbox().readFile(r.path)).toString('utf8');
      case 'sandbox_close':
        return sandbox().close();
      case 'build_template':
        return c.buildTemplate(r.name, r.install_commands ?? [], r.base ?? undefined);
      case 'list_templates':
        return c.listTemplates();
      case 'remove_template':
        return c.removeTemplate(r.name);
    }
    throw new Error(`unknown op ${r.op}`);
  }
}

const { scenarios } = await receive();
after(() => checker.stdin.end());

for (const name of scenarios) {
  test(name, async (t) => {
    send({ run: name });
    const runner = new Runner();
    let message;
    while (!('done' in (message = await receive()))) {
      try {
        send({ seq: message.seq, ok: await runner.perform(message) });
      } catch (e) {
        send({ seq: message.seq, error: errorOf(e) });
      }
    }
    if (message.outcome === 'skipped') t.skip(message.message);
    else if (message.outcome === 'expected_failure') t.todo(message.message);
    else if (message.outcome !== 'passed') throw new Error(message.message);
  });
}
