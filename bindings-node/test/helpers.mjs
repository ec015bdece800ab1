// Shared by the Node tests: where the repository and the fixture server are, and a scratch home.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The fixture MCP server: $CORRAL_TEST_SERVER, else $CARGO_TARGET_DIR/debug/corral-test-server. */
export function fixtureServer() {
  if (process.env.CORRAL_TEST_SERVER) return process.env.CORRAL_TEST_SERVER;
  const target = process.env.CARGO_TARGET_DIR || path.join(repoRoot, 'target');
  return path.join(target, 'debug', 'corral-test-server');
}

/** A fresh corral home, removed by the returned cleanup. */
export function scratchHome(prefix = 'corral-node-test-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Pids of live (non-zombie) processes whose environment contains `needle` (`KEY=VALUE`). */
export function processesWithEnv(needle) {
  const pids = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (
        stat
          .slice(stat.lastIndexOf(')') + 1)
          .trimStart()
          .startsWith('Z')
      )
        continue;
      const environ = fs.readFileSync(`/proc/${name}/environ`, 'latin1');
      if (environ.split('\0').includes(needle)) pids.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}
