/**
 * Durability and concurrency (docs/design.md): a child mutating test:///session at random is SIGKILLed
 * at random moments, 200 times; after each kill the store reopens and the invariants hold. Two
 * processes mutating one store at once meet only libvirt's own errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { storeViolations, sessionViolations } from './support/invariants.js';
import { tempStateDir } from './support/fixtures.js';
import { testSessionStorePath } from '../src/drivers/test/driver.js';

const MUTATOR = fileURLToPath(new URL('./support/mutator.js', import.meta.url));
const KILLS = Number(process.env.TSVIRT_CRASH_KILLS ?? 200);

function startMutator(stateDir: string, args: string[] = []): { child: ChildProcess; ready: Promise<void>; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [MUTATOR, ...args], {
    env: { ...process.env, TSVIRT_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (out.includes('ready\n')) onReady();
  });
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { onReady(); resolve(code); }));
  return { child, ready, output: () => out, exited };
}

test(`crash safety: ${KILLS} SIGKILLs at random moments leave a store whose invariants hold`, { timeout: 600_000 }, async () => {
  const state = tempStateDir();
  const storePath = testSessionStorePath({ TSVIRT_STATE_DIR: state.dir });
  const children: ChildProcess[] = [];
  try {
    for (let kill = 0; kill < KILLS; kill++) {
      const m = startMutator(state.dir);
      children.push(m.child);
      await m.ready;
      assert.ok(!m.output().includes('UNEXPECTED'), m.output());
      // Let it run between 0 and 40 ms of mutations, then pull the plug.
      await new Promise((r) => setTimeout(r, Math.random() * 40));
      m.child.kill('SIGKILL');
      await m.exited;
      assert.ok(!m.output().includes('UNEXPECTED'), m.output());
      assert.deepEqual(storeViolations(storePath), [], `after kill ${kill}`);
      if (kill % 20 === 0) assert.deepEqual(await sessionViolations(state.dir), [], `API view after kill ${kill}`);
    }
    assert.deepEqual(await sessionViolations(state.dir), []);
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    state.cleanup();
  }
});

test('concurrency: two processes mutating one test:///session store meet only libvirt errors', { timeout: 300_000 }, async () => {
  const state = tempStateDir();
  const a = startMutator(state.dir, ['--ops', '1500']);
  const b = startMutator(state.dir, ['--ops', '1500']);
  try {
    const [codeA, codeB] = await Promise.all([a.exited, b.exited]);
    assert.equal(codeA, 0, a.output());
    assert.equal(codeB, 0, b.output());
    assert.match(a.output(), /done \d+/);
    assert.match(b.output(), /done \d+/);
    assert.deepEqual(storeViolations(join(state.dir, 'test', 'session.db')), []);
    assert.deepEqual(await sessionViolations(state.dir), []);
  } finally {
    for (const m of [a, b]) if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill('SIGKILL');
    state.cleanup();
  }
});
