// The package's `bin` entry (`corral`, bindings-node/cli.js) runs the Rust CLI through the
// N-API addon: `tools list` and `tools execute` against the fixture server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixtureServer } from './helpers.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const bin = join(root, pkg.bin.corral);

test('the corral bin lists and executes tools', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-'));
  const env = { ...process.env, CORRAL_CONFIG: join(dir, 'servers.json'), CORRAL_HOME: join(dir, 'home') };
  const run = (...args) =>
    spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8', timeout: 180_000 });
  try {
    const added = run('server', 'add', 'fx', '--command', fixtureServer());
    assert.equal(added.status, 0, added.stderr);
    const listed = run('tools', 'list', 'fx', '--json');
    assert.equal(listed.status, 0, listed.stderr);
    assert.ok(JSON.parse(listed.stdout).some((t) => t.name === 'echo'));
    const called = run('tools', 'execute', 'fx', 'echo', '--param', 'text=from npm');
    assert.equal(called.status, 0, called.stderr);
    assert.equal(called.stdout, 'from npm\n');
    const missing = run('tools', 'execute', 'nope', 'echo');
    assert.equal(missing.status, 12); // SERVER_NOT_FOUND
    assert.match(missing.stderr, /^error\[SERVER_NOT_FOUND\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
