// The Node runner of corral's shared conformance suite (tests/conformance/README.md): every
// scenario of tests/conformance/scenarios/*.json is one `node --test` test. It mirrors the Rust
// runner (tests/conformance/src): the same placeholders, runner-side fixtures (a canary file in
// $HOME, a canary variable, a 127.0.0.1 listener, the fixture over Streamable HTTP), ops and
// expectations. Scenarios are skipped by capability, never by language; with
// CORRAL_TEST_REQUIRE_ALL=1 a missing capability fails. expected-failures/node.txt lists the
// scenarios expected to fail: an unlisted failure fails, and so does a listed one that passes.
//
// Environment: CORRAL_TEST_SERVER (the fixture binary; default $CARGO_TARGET_DIR/debug/
// corral-test-server), CORRAL_TEST_PROVIDER (default local), CORRAL_TEST_REQUIRE_ALL,
// CORRAL_TEST_OFFLINE.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

import { Corral } from 'corral';

import { fixtureServer, processesWithEnv, repoRoot } from './helpers.mjs';

const CANARY_VAR = 'CORRAL_CANARY_SECRET';
const HTTP_TOKEN = 'conformance-token';
const suiteDir = path.join(repoRoot, 'tests', 'conformance');

function loadScenarios() {
  const dir = path.join(suiteDir, 'scenarios');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const s = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
      if (s.name !== path.basename(f, '.json')) {
        throw new Error(`${f}: name must equal the file name`);
      }
      return s;
    });
}

function loadExpectedFailures() {
  const file = path.join(suiteDir, 'expected-failures', 'node.txt');
  return new Set(
    fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .map((l) => l.split('#')[0].trim())
      .filter(Boolean),
  );
}

// ---- the runner's environment (env.rs) ----

const env = {
  provider: process.env.CORRAL_TEST_PROVIDER || 'local',
  present: [],
  server: fixtureServer(),
  canaryFile: null,
  listener: null,
  listenerPort: 0,
  http: null,
  httpUrl: null,
  workDir: null,
};

function cgroupsWritable() {
  const probe = (dir) => {
    const p = path.join(dir, `corral-probe-${process.pid}`);
    try {
      fs.mkdirSync(p);
      fs.rmdirSync(p);
      return true;
    } catch {
      return false;
    }
  };
  return probe('/sys/fs/cgroup/pids') || probe('/sys/fs/cgroup');
}

async function startHttpFixture(server) {
  const child = spawn(server, ['--http', '127.0.0.1:0', '--bearer', HTTP_TOKEN], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const lines = readline.createInterface({ input: child.stdout });
  const first = await new Promise((resolve, reject) => {
    lines.once('line', resolve);
    child.once('error', reject);
    child.once('exit', () => reject(new Error('the HTTP fixture exited')));
  });
  lines.close();
  const m = /^listening (\S+)$/.exec(first.trim());
  if (!m) {
    child.kill();
    throw new Error(`unexpected first line ${JSON.stringify(first)}`);
  }
  return { child, url: m[1] };
}

before(async () => {
  process.env[CANARY_VAR] = 'the-runner-secret-must-not-leak';
  const home = process.env.HOME || '/tmp';
  env.canaryFile = path.join(home, `.corral-canary-${process.pid}`);
  fs.writeFileSync(env.canaryFile, 'canary');
  env.listener = net.createServer((sock) => sock.destroy());
  await new Promise((resolve) => env.listener.listen(0, '127.0.0.1', resolve));
  env.listenerPort = env.listener.address().port;
  env.workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-work-'));
  env.present.push('fixture');
  // `sandbox`: stdio servers run in the provider's sandboxes (tests/conformance/README.md).
  if (env.provider === 'local' || env.provider === 'e2b') env.present.push('sandbox');
  if (env.provider === 'local') {
    env.present.push('local-sandbox');
    if (cgroupsWritable()) env.present.push('limits');
  }
  if (!process.env.CORRAL_TEST_OFFLINE) env.present.push('registry');
  try {
    const http = await startHttpFixture(env.server);
    env.http = http.child;
    env.httpUrl = http.url;
    env.present.push('http-fixture');
  } catch {
    // no http-fixture capability
  }
});

after(async () => {
  if (env.canaryFile) fs.rmSync(env.canaryFile, { force: true });
  if (env.http) env.http.kill();
  if (env.listener) await new Promise((resolve) => env.listener.close(resolve));
  if (env.workDir) fs.rmSync(env.workDir, { recursive: true, force: true });
});

function varsFor(tag) {
  const v = {
    CORRAL_TEST_SERVER: env.server,
    SCENARIO_TAG: tag,
    CANARY_FILE: env.canaryFile,
    CANARY_NAME: path.basename(env.canaryFile),
    HOST_HOME: path.dirname(env.canaryFile),
    CANARY_VAR,
    LISTENER_PORT: String(env.listenerPort),
    WORK_DIR: env.workDir,
    HTTP_FIXTURE_TOKEN: HTTP_TOKEN,
  };
  if (env.httpUrl) v.HTTP_FIXTURE_URL = env.httpUrl;
  return v;
}

/** Replaces `${VAR}` in every string; a string that is exactly `${VAR:int}` becomes a number. */
export function substitute(value, vars) {
  if (typeof value === 'string') {
    const m = /^\$\{([^}:]+):int\}$/.exec(value);
    if (m && vars[m[1]] !== undefined && /^-?\d+$/.test(vars[m[1]])) return Number(vars[m[1]]);
    return substituteStr(value, vars);
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [substituteStr(k, vars), substitute(v, vars)]),
    );
  }
  return value;
}

function substituteStr(s, vars) {
  let out = s;
  for (const [k, v] of Object.entries(vars)) out = out.split(`\${${k}}`).join(v);
  return out;
}

// ---- expectations (expect.rs) ----

function clip(s) {
  return s.length > 300 ? `${s.slice(0, 300)}… (${s.length} bytes)` : s;
}

function checkError(expect, error) {
  if (typeof error?.code !== 'string') throw new Error(`unexpected non-corral error: ${error}`);
  if (expect.error === undefined) throw new Error(`unexpected error: ${error.message}`);
  if (expect.error !== error.code) {
    throw new Error(`expected error ${expect.error}, got ${error.message}`);
  }
}

function expectsError(expect) {
  if (expect.error !== undefined) {
    throw new Error(`expected error ${expect.error}, but the step succeeded`);
  }
}

function checkText(expect, text) {
  if (typeof expect.text === 'string' && text !== expect.text) {
    throw new Error(`text is ${JSON.stringify(clip(text))}, expected ${JSON.stringify(expect.text)}`);
  }
  if (typeof expect.text_contains === 'string' && !text.includes(expect.text_contains)) {
    throw new Error(
      `text ${JSON.stringify(clip(text))} does not contain ${JSON.stringify(expect.text_contains)}`,
    );
  }
  if (typeof expect.text_not_contains === 'string' && text.includes(expect.text_not_contains)) {
    throw new Error(
      `text ${JSON.stringify(clip(text))} contains ${JSON.stringify(expect.text_not_contains)}`,
    );
  }
  if (typeof expect.text_length === 'number') {
    const len = Buffer.byteLength(text, 'utf8');
    if (len !== expect.text_length) throw new Error(`text has ${len} bytes, expected ${expect.text_length}`);
  }
}

function checkToolResult(expect, outcome, progress) {
  if (!outcome.ok) return checkError(expect, outcome.error);
  expectsError(expect);
  const r = outcome.value;
  const text = r.text;
  checkText(expect, text);
  if (typeof expect.is_error === 'boolean' && r.isError !== expect.is_error) {
    throw new Error(`isError is ${r.isError}, expected ${expect.is_error} (text: ${clip(text)})`);
  }
  if (expect.is_error === undefined && r.isError && expect.allow_is_error === undefined) {
    throw new Error(`the tool reported an error: ${clip(text)}`);
  }
  if (expect.structured !== undefined) {
    assert.deepStrictEqual(r.structuredContent, expect.structured, 'structuredContent');
  }
  if (expect.structured_max && typeof expect.structured_max === 'object') {
    const got = r.structuredContent ?? {};
    for (const [k, limit] of Object.entries(expect.structured_max)) {
      if (typeof got[k] !== 'number') throw new Error(`no number at ${k}`);
      if (got[k] > limit) throw new Error(`${k} is ${got[k]}, more than ${limit}`);
    }
  }
  if (typeof expect.progress_min === 'number' && progress.length < expect.progress_min) {
    throw new Error(
      `saw ${progress.length} progress notifications, expected at least ${expect.progress_min}`,
    );
  }
}

const NAMES = 'names';
const TEXT = 'text';
const JSONV = 'json';

function checkValue(expect, outcome, kind) {
  if (!outcome.ok) return checkError(expect, outcome.error);
  expectsError(expect);
  const v = outcome.value;
  if (kind === TEXT) checkText(expect, typeof v === 'string' ? v : '');
  if (kind === NAMES) {
    const names = Array.isArray(v) ? v.filter((n) => typeof n === 'string') : [];
    for (const n of expect.names_include ?? []) {
      if (!names.includes(n)) throw new Error(`${JSON.stringify(n)} missing from ${JSON.stringify(names)}`);
    }
    for (const n of expect.names_exclude ?? []) {
      if (names.includes(n))
        throw new Error(`${JSON.stringify(n)} should not be in ${JSON.stringify(names)}`);
    }
    if (typeof expect.count === 'number' && names.length !== expect.count) {
      throw new Error(`${names.length} names, expected ${expect.count}: ${JSON.stringify(names)}`);
    }
    if (typeof expect.count_min === 'number' && names.length < expect.count_min) {
      throw new Error(`${names.length} names, expected at least ${expect.count_min}`);
    }
  }
  if (expect.json !== undefined) assert.deepStrictEqual(v, expect.json);
  if (expect.json_contains && typeof expect.json_contains === 'object') {
    for (const [k, w] of Object.entries(expect.json_contains)) {
      assert.deepStrictEqual(v?.[k], w, `${k}`);
    }
  }
  if (typeof expect.stdout_contains === 'string') {
    const out = typeof v?.stdout === 'string' ? v.stdout : '';
    if (!out.includes(expect.stdout_contains)) {
      throw new Error(
        `stdout ${JSON.stringify(out)} does not contain ${JSON.stringify(expect.stdout_contains)}`,
      );
    }
  }
  if (expect.exit_code !== undefined && v?.exit_code !== expect.exit_code) {
    throw new Error(`exit code ${v?.exit_code}, expected ${expect.exit_code} (${JSON.stringify(v)})`);
  }
}

async function outcome(promise) {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

// ---- ops (lib.rs) ----

function field(step, key) {
  if (typeof step[key] !== 'string') throw new Error(`missing string field \`${key}\``);
  return step[key];
}

async function execute(corral, step) {
  const progress = [];
  const options = { onProgress: (p) => progress.push(p) };
  if (typeof step.timeout_ms === 'number') options.timeoutMs = step.timeout_ms;
  if (typeof step.max_total_ms === 'number') options.maxTotalMs = step.max_total_ms;
  let timer;
  if (typeof step.cancel_after_ms === 'number') {
    const controller = new AbortController();
    timer = setTimeout(() => controller.abort(), step.cancel_after_ms);
    options.signal = controller.signal;
  }
  const args = step.args === undefined ? {} : step.args;
  const result = await outcome(corral.executeTool(step.server ?? '', step.tool ?? '', args, options));
  clearTimeout(timer);
  return { result, progress };
}

async function withSession(corral, step, f) {
  return outcome(
    (async () => {
      const s = await corral.session(field(step, 'server'));
      try {
        return await f(s);
      } finally {
        await s.close();
      }
    })(),
  );
}

async function runStep(state, step) {
  const expect = step.expect ?? {};
  const corral = state.corral;
  switch (step.op) {
    case 'execute_tool': {
      const { result, progress } = await execute(corral, step);
      return checkToolResult(expect, result, progress);
    }
    case 'concurrent': {
      const count = step.count ?? 1;
      if (!step.step) throw new Error('missing `step`');
      const calls = [];
      for (let i = 0; i < count; i++) {
        const inner = substitute(step.step, { i: String(i) });
        calls.push(
          (async () => {
            const { result, progress } = await execute(corral, inner);
            try {
              checkToolResult(inner.expect ?? {}, result, progress);
            } catch (e) {
              throw new Error(`call ${i}: ${e.message}`);
            }
          })(),
        );
      }
      await Promise.all(calls);
      return;
    }
    case 'discover_tools': {
      const r = await outcome(
        corral.discoverTools(field(step, 'server')).then((ts) => ts.map((t) => t.name)),
      );
      return checkValue(expect, r, NAMES);
    }
    case 'tool_schema': {
      const tools = await corral.discoverTools(field(step, 'server'));
      const name = field(step, 'tool');
      const tool = tools.find((t) => t.name === name);
      if (!tool) throw new Error(`no tool ${name}`);
      const exported = {
        openai: tool.toOpenAI(),
        anthropic: tool.toAnthropic(),
        input_schema: tool.inputSchema,
        output_schema: tool.outputSchema ?? null,
      };
      return checkValue(expect, { ok: true, value: exported }, JSONV);
    }
    case 'add_server': {
      const r = await outcome(
        corral.addServerFromDict(field(step, 'name'), step.config ?? null).then(() => null),
      );
      return checkValue(expect, r, JSONV);
    }
    case 'remove_server': {
      const r = await outcome(corral.removeServer(field(step, 'server')).then(() => null));
      return checkValue(expect, r, JSONV);
    }
    case 'list_servers':
      return checkValue(expect, { ok: true, value: corral.listServers().map((s) => s.name) }, NAMES);
    case 'load_mcp_servers': {
      const r = await outcome(corral.loadMcpServers(step.document ?? null));
      return checkValue(expect, r, NAMES);
    }
    case 'restart_server': {
      const config = corral.server(field(step, 'server'));
      await corral.addServer(config);
      return;
    }
    case 'session_info': {
      const r = await withSession(corral, step, async (s) => ({
        session_id: s.sessionId,
        sandbox_id: s.sandboxId ?? null,
        protocol_version: s.protocolVersion,
      }));
      if (r.ok && typeof step.save_as === 'string') state.saved.set(step.save_as, r.value.session_id);
      if (r.ok && typeof expect.session_differs_from === 'string') {
        const before = state.saved.get(expect.session_differs_from);
        if (before === undefined) throw new Error(`nothing saved as ${expect.session_differs_from}`);
        if (r.value.session_id === before) throw new Error(`session id is still ${before}`);
      }
      if (r.ok && typeof expect.session_same_as === 'string') {
        const before = state.saved.get(expect.session_same_as);
        if (before === undefined) throw new Error(`nothing saved as ${expect.session_same_as}`);
        if (r.value.session_id !== before) throw new Error(`session id changed from ${before}`);
      }
      return checkValue(expect, r, JSONV);
    }
    case 'list_resources': {
      const r = await withSession(corral, step, async (s) => (await s.listResources()).map((x) => x.uri));
      return checkValue(expect, r, NAMES);
    }
    case 'read_resource': {
      const r = await withSession(corral, step, async (s) =>
        (await s.readResource(field(step, 'uri')))
          .filter((c) => typeof c.text === 'string')
          .map((c) => c.text)
          .join('\n'),
      );
      return checkValue(expect, r, TEXT);
    }
    case 'list_prompts': {
      const r = await withSession(corral, step, async (s) => (await s.listPrompts()).map((p) => p.name));
      return checkValue(expect, r, NAMES);
    }
    case 'get_prompt': {
      const r = await withSession(corral, step, async (s) => {
        const p = await s.getPrompt(field(step, 'name'), step.args ?? undefined);
        return p.messages
          .map((m) => (m.content.type === 'text' ? m.content.text : (m.content.resource?.text ?? null)))
          .filter((t) => typeof t === 'string')
          .join('\n');
      });
      return checkValue(expect, r, TEXT);
    }
    case 'quick': {
      const r = await outcome(corral.quick(field(step, 'command'), field(step, 'tool'), step.args ?? {}));
      return checkToolResult(expect, r, []);
    }
    case 'sandbox_open': {
      const id = field(step, 'id');
      const cfg = step.config ?? {};
      const config = { name: 'scenario' };
      if (cfg.env) config.env = cfg.env;
      if (cfg.network === 'none') config.network = 'none';
      if (cfg.mounts) config.mounts = cfg.mounts;
      const r = await outcome(corral.sandbox(config));
      if (r.ok) {
        state.sandboxes.set(id, r.value);
        return checkValue(expect, { ok: true, value: null }, JSONV);
      }
      return checkValue(expect, r, JSONV);
    }
    case 'sandbox_exec': {
      const sb = sandboxOf(state, step);
      const r = await outcome(
        sb.exec(field(step, 'script')).then((o) => ({
          exit_code: o.exitCode ?? null,
          stdout: o.stdout,
          stderr: o.stderr,
        })),
      );
      return checkValue(expect, r, JSONV);
    }
    case 'sandbox_write': {
      const sb = sandboxOf(state, step);
      const r = await outcome(sb.writeFile(field(step, 'path'), field(step, 'data')).then(() => null));
      return checkValue(expect, r, JSONV);
    }
    case 'sandbox_read': {
      const sb = sandboxOf(state, step);
      const r = await outcome(sb.readFile(field(step, 'path')).then((d) => d.toString('utf8')));
      return checkValue(expect, r, TEXT);
    }
    case 'sandbox_close':
      await sandboxOf(state, step).close();
      return;
    case 'sleep':
      await sleep(step.ms ?? 0);
      return;
    case 'close':
      await corral.close();
      await corral.close(); // idempotent
      return;
    case 'expect_no_processes': {
      const needle = `CORRAL_SCENARIO_TAG=${state.tag}`;
      for (let i = 0; i < 100; i++) {
        if (processesWithEnv(needle).length === 0) return;
        await sleep(50);
      }
      throw new Error(`processes of the scenario survived: ${JSON.stringify(processesWithEnv(needle))}`);
    }
    default:
      throw new Error(`unknown op \`${step.op}\``);
  }
}

function sandboxOf(state, step) {
  const id = field(step, 'id');
  const sb = state.sandboxes.get(id);
  if (!sb) throw new Error(`no sandbox \`${id}\` opened`);
  return sb;
}

async function runScenario(scenario) {
  const tag = `${scenario.name}-${process.pid}`;
  const vars = varsFor(tag);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-conformance-'));
  const corral = new Corral({ provider: env.provider, home });
  const state = { corral, tag, vars, sandboxes: new Map(), saved: new Map() };
  try {
    for (const [name, server] of Object.entries(scenario.servers ?? {})) {
      try {
        await corral.addServerFromDict(name, substitute(server, vars));
      } catch (e) {
        throw new Error(`server ${name}: ${e.message}`);
      }
    }
    for (const [i, raw] of scenario.steps.entries()) {
      const step = substitute(raw, vars);
      try {
        await runStep(state, step);
      } catch (e) {
        throw new Error(`step ${i + 1} (${step.op}): ${e.message}`);
      }
    }
  } finally {
    await corral.close();
    try {
      fs.rmSync(home, { recursive: true, force: true });
    } catch {
      // best effort, like the Rust runner's tempdir
    }
  }
}

const requireAll = Boolean(process.env.CORRAL_TEST_REQUIRE_ALL);
const expected = loadExpectedFailures();

for (const scenario of loadScenarios()) {
  test(scenario.name, async (t) => {
    const missing = (scenario.requires ?? []).filter((r) => !env.present.includes(r));
    if (missing.length > 0) {
      if (requireAll) throw new Error(`missing capabilities: ${JSON.stringify(missing)}`);
      t.skip(`needs ${JSON.stringify(missing)}`);
      return;
    }
    let failure = null;
    try {
      await runScenario(scenario);
    } catch (e) {
      failure = e;
    }
    if (expected.has(scenario.name)) {
      if (failure === null) {
        throw new Error('listed in expected-failures/node.txt but passes: remove it from the list');
      }
      t.todo(`expected failure: ${failure.message}`);
      return;
    }
    if (failure !== null) throw failure;
  });
}
