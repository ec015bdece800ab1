// The README's JS and TS examples, run as tests so the docs cannot rot: every ```js block runs
// under Node (as CommonJS when it uses `require`), every ```ts block is compiled by tsc against
// the generated index.d.ts and then run. They use server-everything from npm (installed inside
// its sandbox), so they need the `registry` capability.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

import { repoRoot, scratchHome } from './helpers.mjs';

const bindingDir = path.join(repoRoot, 'bindings-node');
const workDir = path.join(bindingDir, '.tmp', 'readme');
const offline = Boolean(process.env.CORRAL_TEST_OFFLINE) && !process.env.CORRAL_TEST_REQUIRE_ALL;
let home;

function blocks() {
  const text = fs.readFileSync(path.join(bindingDir, 'README.md'), 'utf8');
  const out = [];
  const re = /```(js|ts)\n([\s\S]*?)```/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push({ lang: m[1], code: m[2] });
  return out;
}

before(() => {
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.mkdirSync(workDir, { recursive: true });
  home = scratchHome('corral-readme-');
});

after(() => {
  fs.rmSync(workDir, { recursive: true, force: true });
  fs.rmSync(home, { recursive: true, force: true });
});

function run(file) {
  const r = spawnSync(process.execPath, [file], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, CORRAL_HOME: home },
    timeout: 300_000, // a safety net against a hang, not a performance assertion
  });
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.status, 0, `${file} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const examples = blocks();

test('the README has JS and TS examples', () => {
  assert.ok(examples.some((b) => b.lang === 'js'));
  assert.ok(examples.some((b) => b.lang === 'ts'));
});

for (const [i, block] of examples.entries()) {
  test(`README example ${i + 1} (${block.lang})`, { skip: offline && 'CORRAL_TEST_OFFLINE' }, () => {
    let file;
    if (block.lang === 'js') {
      file = path.join(workDir, `example-${i + 1}.${block.code.includes('require(') ? 'cjs' : 'mjs'}`);
      fs.writeFileSync(file, block.code);
    } else {
      const source = path.join(workDir, `example-${i + 1}.mts`);
      fs.writeFileSync(source, block.code);
      const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
      execFileSync(
        process.execPath,
        [
          tsc,
          '--strict',
          '--target',
          'es2022',
          '--module',
          'nodenext',
          '--moduleResolution',
          'nodenext',
          '--lib',
          'es2022,esnext.disposable',
          '--types',
          'node',
          '--rootDir',
          workDir,
          '--outDir',
          path.join(workDir, 'out'),
          source,
        ],
        { cwd: repoRoot, stdio: 'inherit' },
      );
      file = path.join(workDir, 'out', `example-${i + 1}.mjs`);
    }
    const out = run(file);
    if (block.code.includes("'echo', { message: 'hello from a sandbox' }")) {
      assert.match(out, /Echo: hello from a sandbox/);
    }
    if (block.code.includes("'get-sum'")) assert.match(out, /42/);
    if (block.lang === 'ts') assert.match(out, /SERVER_NOT_FOUND/);
  });
}
