// corral from Node vs the official TypeScript SDK client (@modelcontextprotocol/sdk): one
// client, one server, one JSON line. `make bench` runs it through bench/run.py, which
// alternates every client of every language round by round. The procedure is the same as in
// bench/src/main.rs and bench/python/bench.py:
//
// * cold start: create the client, spawn the server, first successful `echo` result, close
//   (3 times, median);
// * over one warm session after 50 warm-up calls: sequential latency (p50, p99, mean) over
//   CORRAL_BENCH_CALLS calls, calls/s with 1, 8 and 32 in flight (CORRAL_BENCH_PARALLEL_CALLS
//   calls each), CPU time of this process per call (process.cpuUsage, all threads; 1 and 32 in
//   flight), RSS of this process (idle; peak under load) and of its descendants.
//
// Clients: `corral` (bubblewrap sandbox), `corral-unsandboxed` (the unsandboxed provider) and
// `ts-sdk` (Client over StdioClientTransport, no sandbox, as its users run it).
//
//     node bench.mjs --client corral|corral-unsandboxed|ts-sdk --server fixture|everything [--round N]
//
// Environment: CORRAL_TEST_SERVER, CORRAL_BENCH_HOME (the corral homes `local` and
// `unsandboxed`), CORRAL_BENCH_EVERYTHING (server-everything's dist/index.js for the SDK),
// CORRAL_BENCH_JSON (appended to), NAPI_RS_NATIVE_LIBRARY_PATH (the release addon).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const WARMUP = 50;
const COLD = 3;
const SEQUENTIAL = Number(process.env.CORRAL_BENCH_CALLS || 2000);
const PARALLEL = Number(process.env.CORRAL_BENCH_PARALLEL_CALLS || 5000);
const EVERYTHING_ENTRY = 'node_modules/@modelcontextprotocol/server-everything/dist/index.js';
const EVERYTHING_INSTALL =
  'npm install --no-audit --no-fund --loglevel=error @modelcontextprotocol/server-everything@2026.8.31';

const statusMib = (pid, field) => {
  try {
    const line = fs
      .readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(field));
    return line ? Number(line.split(/\s+/)[1]) / 1024 : 0;
  } catch {
    return 0;
  }
};

/** Summed VmRSS of every descendant of this process (the server and its sandbox). */
function descendantsMib() {
  const parent = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      parent.set(
        Number(name),
        Number(
          stat
            .slice(stat.lastIndexOf(')') + 1)
            .trim()
            .split(/\s+/)[1],
        ),
      );
    } catch {}
  }
  const descends = (pid) => {
    while (parent.has(pid)) {
      pid = parent.get(pid);
      if (pid === process.pid) return true;
      if (pid <= 1) return false;
    }
    return false;
  };
  let sum = 0;
  for (const pid of parent.keys()) if (descends(pid)) sum += statusMib(pid, 'VmRSS:');
  return sum;
}

const pct = (xs, p) => xs[Math.min(Math.max(Math.ceil(xs.length * p), 1), xs.length) - 1];
const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(call, out) {
  for (let i = 0; i < WARMUP; i++) await call();
  await new Promise((r) => setTimeout(r, 200));
  out.rss_idle_mib = statusMib('self', 'VmRSS:');
  out.tree_idle_mib = descendantsMib();
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM
  } catch {}
  const lat = new Float64Array(SEQUENTIAL);
  let cpu = cpuUs();
  const start = performance.now();
  for (let i = 0; i < SEQUENTIAL; i++) {
    const t = performance.now();
    await call();
    lat[i] = (performance.now() - t) * 1000;
  }
  const seqWall = (performance.now() - start) * 1000;
  out.cpu_us_1 = (cpuUs() - cpu) / SEQUENTIAL;
  for (const k of [8, 32]) {
    let next = 0;
    cpu = cpuUs();
    const t = performance.now();
    await Promise.all(
      Array.from({ length: k }, async () => {
        while (next++ < PARALLEL) await call();
      }),
    );
    out[`per_s_${k}`] = (PARALLEL * 1000) / (performance.now() - t);
    out[`cpu_us_${k}`] = (cpuUs() - cpu) / PARALLEL;
  }
  lat.sort();
  const mean = seqWall / SEQUENTIAL;
  Object.assign(out, {
    p50_us: pct(lat, 0.5),
    p99_us: pct(lat, 0.99),
    mean_us: mean,
    per_s_1: 1e6 / mean,
    rss_load_mib: statusMib('self', 'VmHWM:'),
    tree_load_mib: descendantsMib(),
  });
}

const echoArgs = (server) => (server === 'fixture' ? { text: 'x'.repeat(32) } : { message: 'x'.repeat(32) });
const home = (provider) =>
  path.join(process.env.CORRAL_BENCH_HOME || path.join(os.homedir(), '.local/share/corral/bench'), provider);

async function corralClient(provider, server, out) {
  const { Corral } = await import('corral');
  const args = echoArgs(server);
  const open = async () => {
    const c = new Corral({ provider, home: home(provider) });
    if (server === 'fixture')
      await c.addServerFromDict('fixture', { command: [process.env.CORRAL_TEST_SERVER] });
    else
      await c.addServerFromDict('everything', {
        command: `node ${EVERYTHING_ENTRY} stdio`,
        install_commands: [EVERYTHING_INSTALL],
      });
    return c;
  };
  const call = (c) => async () => {
    const r = await c.executeTool(server, 'echo', args);
    if (r.isError) throw new Error(`call failed: ${r.text}`);
  };
  const cold = [];
  for (let i = 0; i < COLD; i++) {
    const t = performance.now();
    const c = await open();
    await call(c)();
    cold.push(performance.now() - t);
    await c.close();
  }
  out.cold_ms = median(cold);
  const c = await open();
  await measure(call(c), out);
  await c.close();
}

async function sdkClient(server, out) {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
  const args = echoArgs(server);
  const entry = process.env.CORRAL_BENCH_EVERYTHING;
  const params =
    server === 'fixture'
      ? { command: process.env.CORRAL_TEST_SERVER, args: [], cwd: os.tmpdir() }
      : { command: process.execPath, args: [entry, 'stdio'], cwd: path.dirname(entry) };
  const open = async () => {
    const client = new Client({ name: 'corral-bench', version: '0.1.0' });
    await client.connect(new StdioClientTransport({ ...params, stderr: 'ignore' }));
    return client;
  };
  const call = (client) => async () => {
    const r = await client.callTool({ name: 'echo', arguments: args });
    if (r.isError) throw new Error('call failed');
  };
  const cold = [];
  for (let i = 0; i < COLD; i++) {
    const t = performance.now();
    const client = await open();
    await call(client)();
    cold.push(performance.now() - t);
    await client.close();
  }
  out.cold_ms = median(cold);
  const client = await open();
  await measure(call(client), out);
  await client.close();
}

const { values: opts } = parseArgs({
  options: {
    client: { type: 'string' },
    server: { type: 'string' },
    round: { type: 'string', default: '0' },
  },
});
if (
  !['corral', 'corral-unsandboxed', 'ts-sdk'].includes(opts.client) ||
  !['fixture', 'everything'].includes(opts.server)
) {
  throw new Error(
    'usage: node bench.mjs --client corral|corral-unsandboxed|ts-sdk --server fixture|everything',
  );
}
const sdkVersion = JSON.parse(
  fs.readFileSync(
    path.join(import.meta.dirname, '../../node_modules/@modelcontextprotocol/sdk/package.json'),
    'utf8',
  ),
).version;
const out = {
  lang: 'node',
  client: opts.client === 'ts-sdk' ? `ts-sdk-${sdkVersion}` : opts.client,
  server: opts.server,
  sandbox: opts.client === 'corral' ? 'bwrap' : 'none',
  round: Number(opts.round),
  load: os.loadavg()[0],
};
if (opts.client === 'ts-sdk') await sdkClient(opts.server, out);
else await corralClient(opts.client === 'corral' ? 'local' : 'unsandboxed', opts.server, out);
const line = JSON.stringify(out);
console.log(line);
if (process.env.CORRAL_BENCH_JSON) fs.appendFileSync(process.env.CORRAL_BENCH_JSON, `${line}\n`);
