// corral from Node vs the official TypeScript SDK client (@modelcontextprotocol/sdk), same
// servers, same run: our fixture and @modelcontextprotocol/server-everything. For each pair it
// measures, over one warm session each, sequential per-call latency (p50 and mean over 2000
// `echo` calls after 50 warm-up calls) and throughput with 32 calls in flight (5000 calls), then
// prints the ratios (corral / SDK). The calls run in 5 interleaved rounds (corral, SDK, SDK,
// corral, ...) and each figure is the median over the rounds, so both clients see the same
// machine load. corral runs each server in its bubblewrap sandbox; the SDK client
// spawns the same server binary directly (no sandbox), as its users do.
//
// `make -C bindings-node bench` runs it on a release build. Environment: CORRAL_TEST_SERVER (the
// fixture binary), CORRAL_BENCH_SKIP_NPM=1 (skip server-everything), CORRAL_BENCH_CALLS /
// CORRAL_BENCH_PARALLEL_CALLS (override the counts), CORRAL_HOME (where server-everything is
// installed; default a scratch dir).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Corral } from 'corral';

const WARMUP = 50;
const SEQUENTIAL = Number(process.env.CORRAL_BENCH_CALLS || 2000);
const IN_FLIGHT = 32;
const PARALLEL_CALLS = Number(process.env.CORRAL_BENCH_PARALLEL_CALLS || 5000);
const EVERYTHING_VERSION = '2026.8.31';

const ROUNDS = 5;
const SDK_VERSION = JSON.parse(
  fs.readFileSync(
    path.join(import.meta.dirname, '../../node_modules/@modelcontextprotocol/sdk/package.json'),
    'utf8',
  ),
).version;

/** One round: `seq` sequential calls, then `par` calls with IN_FLIGHT in flight. */
async function round(call, seq, par) {
  const lat = new Float64Array(seq);
  const start = performance.now();
  for (let i = 0; i < seq; i++) {
    const t = performance.now();
    await call(i);
    lat[i] = performance.now() - t;
  }
  const seqTotal = performance.now() - start;
  let next = 0;
  const cpuStart = process.cpuUsage();
  const parStart = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < par) {
        const i = next++;
        await call(i);
      }
    }),
  );
  const parTotal = performance.now() - parStart;
  const cpu = process.cpuUsage(cpuStart);
  lat.sort();
  const mean = (seqTotal * 1000) / seq;
  return {
    p50: lat[Math.floor(seq / 2)] * 1000,
    mean,
    seq: 1e6 / mean,
    par: (par * 1000) / parTotal,
    cpu: (cpu.user + cpu.system) / par,
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Interleaved rounds of `a` and `b`; the median of each figure over the rounds. */
async function compare(a, b) {
  for (let i = 0; i < WARMUP; i++) {
    await a(i);
    await b(i);
  }
  const seq = Math.ceil(SEQUENTIAL / ROUNDS);
  const par = Math.ceil(PARALLEL_CALLS / ROUNDS);
  const ra = [];
  const rb = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      ra.push(await round(a, seq, par));
      rb.push(await round(b, seq, par));
    } else {
      rb.push(await round(b, seq, par));
      ra.push(await round(a, seq, par));
    }
  }
  const summary = (rs) =>
    Object.fromEntries(['p50', 'mean', 'seq', 'par', 'cpu'].map((k) => [k, median(rs.map((x) => x[k]))]));
  return [summary(ra), summary(rb)];
}

async function corralCall(corral, server, args) {
  await corral.discoverTools(server); // start it and cache the tool list
  return async () => {
    const r = await corral.executeTool(server, 'echo', args);
    if (r.isError) throw new Error(`call failed: ${r.text}`);
  };
}

async function sdkClient(command, argv, cwd) {
  const transport = new StdioClientTransport({ command, args: argv, cwd, stderr: 'ignore' });
  const client = new Client({ name: 'corral-bench', version: '0.1.0' });
  await client.connect(transport);
  return client;
}

function sdkCall(client, args) {
  return async () => {
    const r = await client.callTool({ name: 'echo', arguments: args });
    if (r.isError) throw new Error('call failed');
  };
}

const cells = (xs, widths) => `| ${xs.map((x, i) => String(x).padStart(widths[i])).join(' | ')} |`;
const WIDTHS = [40, 8, 8, 9, 11, 13];
const row = (label, f) =>
  cells(
    [
      label.padEnd(40),
      f.p50.toFixed(1),
      f.mean.toFixed(1),
      f.seq.toFixed(0),
      f.par.toFixed(0),
      f.cpu.toFixed(1),
    ],
    WIDTHS,
  );
const ratio = (a, b) =>
  cells(
    [
      'ratio corral / SDK'.padEnd(40),
      ...['p50', 'mean', 'seq', 'par', 'cpu'].map((k) => `${(a[k] / b[k]).toFixed(2)}×`),
    ],
    WIDTHS,
  );

// One JSON line per figure into CORRAL_BENCH_JSON (if set), for bench/summary.py.
const emit = (client, server, f) => {
  if (!process.env.CORRAL_BENCH_JSON) return;
  const line = { lang: 'node', client, server, p50_us: f.p50, mean_us: f.mean, seq_per_s: f.seq };
  Object.assign(line, { par_per_s: f.par, cpu_us: f.cpu });
  fs.appendFileSync(process.env.CORRAL_BENCH_JSON, `${JSON.stringify(line)}\n`);
};

async function main() {
  const fixture = process.env.CORRAL_TEST_SERVER;
  if (!fixture || !fs.existsSync(fixture)) {
    throw new Error(
      'set CORRAL_TEST_SERVER to the fixture binary (cargo build --release -p corral-test-server)',
    );
  }
  const scratch = process.env.CORRAL_HOME
    ? null
    : fs.mkdtempSync(path.join(os.tmpdir(), 'corral-node-bench-'));
  const home = process.env.CORRAL_HOME || scratch;
  const corral = new Corral({ home });
  console.log(
    `corral (Node) vs the official TypeScript SDK client — ${SEQUENTIAL} sequential calls, ` +
      `then ${PARALLEL_CALLS} with ${IN_FLIGHT} in flight, in ${ROUNDS} interleaved rounds (medians); ` +
      `Node ${process.version}, load average ${os.loadavg()[0].toFixed(1)}\n`,
  );
  console.log(
    cells(
      ['client → server'.padEnd(40), 'p50 µs', 'mean µs', 'seq /s', '32-flight/s', 'client CPU µs'],
      WIDTHS,
    ),
  );
  console.log(`|${WIDTHS.map((w) => '-'.repeat(w + 2)).join('|')}|`);

  const echoArgs = { text: 'x'.repeat(32) };
  await corral.addServerFromDict('fixture', { command: [fixture] });
  const fxClient = await sdkClient(fixture, [], os.tmpdir());
  const [a, b] = await compare(await corralCall(corral, 'fixture', echoArgs), sdkCall(fxClient, echoArgs));
  await fxClient.close();
  emit('corral', 'fixture', a);
  emit(`ts-sdk-${SDK_VERSION}`, 'fixture', b);
  console.log(row('corral (bwrap) → fixture', a));
  console.log(row('TS SDK (no sandbox) → fixture', b));
  console.log(ratio(a, b));

  if (!process.env.CORRAL_BENCH_SKIP_NPM) {
    const entry = 'node_modules/@modelcontextprotocol/server-everything/dist/index.js';
    await corral.addServerFromDict('everything', {
      command: `node ${entry} stdio`,
      install_commands: [
        `npm install --no-audit --no-fund --loglevel=error @modelcontextprotocol/server-everything@${EVERYTHING_VERSION}`,
      ],
    });
    const args = { message: 'x'.repeat(32) };
    const call = await corralCall(corral, 'everything', args); // installs it on first use
    // The SDK client runs the copy corral installed in the server's sandbox home.
    const serverHome = path.join(home, 'servers', 'everything', 'home');
    const client = await sdkClient(process.execPath, [entry, 'stdio'], serverHome);
    const [c, d] = await compare(call, sdkCall(client, args));
    await client.close();
    emit('corral', 'server-everything', c);
    emit(`ts-sdk-${SDK_VERSION}`, 'server-everything', d);
    console.log(row('corral (bwrap) → server-everything', c));
    console.log(row('TS SDK (no sandbox) → server-everything', d));
    console.log(ratio(c, d));
  }
  await corral.close();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  console.log(
    '\nratios: below 1× is better for p50, mean and client CPU; above 1× is better for calls/s.\n' +
      'client CPU: CPU time of this Node process (all its threads) per call while 32 are in flight.',
  );
}

await main();
