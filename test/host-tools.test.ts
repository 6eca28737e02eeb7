/**
 * The tests' host packages: the tool → Debian package table the skips use agrees with
 * scripts/host-deps.sh, and a test whose tool is missing skips naming the package instead of
 * failing (run here with PATH reduced to node alone, so xmllint is missing for certain).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hostTools } from './support/host-tools.js';

const HOST_DEPS = fileURLToPath(new URL('../../scripts/host-deps.sh', import.meta.url));
const CONF_SNAPSHOT = fileURLToPath(new URL('./conf-snapshot.test.js', import.meta.url));

function hostDeps(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('sh', [HOST_DEPS, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('every package the skips name is in scripts/host-deps.sh --list, and every listed package is named', () => {
  const r = hostDeps('--list');
  assert.equal(r.status, 0, r.stderr);
  const listed = r.stdout.trim().split('\n');
  const named = new Set(hostTools().map((t) => t.package));
  assert.deepEqual([...named].filter((p) => !listed.includes(p)), []);
  // make and g++ serve npm (better-sqlite3 from source in the npm pack test), not a tool a test runs.
  assert.deepEqual(listed.filter((p) => !named.has(p) && p !== 'make' && p !== 'g++'), []);
});

test('host-deps.sh with TSVIRT_TEST_SETUP=0 leaves packages alone and exits 0; --missing lists only known packages', () => {
  const r = spawnSync('sh', [HOST_DEPS], { encoding: 'utf8', env: { ...process.env, TSVIRT_TEST_SETUP: '0' } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '');
  const m = hostDeps('--missing');
  assert.equal(m.status, 0, m.stderr);
  const listed = hostDeps('--list').stdout.trim().split('\n');
  for (const p of m.stdout.split('\n').filter((l) => l !== '')) assert.ok(listed.includes(p), p);
});

test('without xmllint on PATH, the schema-checking tests skip and name libxml2-utils; the others still pass', () => {
  const bin = mkdtempSync(join(tmpdir(), 'tsvirt-path-'));
  try {
    symlinkSync(process.execPath, join(bin, 'node'));
    // Without NODE_TEST_CONTEXT, which would make the child report to this runner instead of printing TAP.
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', CONF_SNAPSHOT], {
      encoding: 'utf8',
      env: { ...env, PATH: bin, TSVIRT_TEST_SETUP: '0' },
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const skips = r.stdout.split('\n').filter((l) => /^\s*ok \d+ .*# SKIP/.test(l));
    assert.ok(skips.length >= 4, r.stdout);
    for (const l of skips) assert.match(l, /# SKIP xmllint is missing \(Debian package libxml2-utils\)$/);
    assert.match(r.stdout, /^# pass [1-9]/m);
    assert.match(r.stdout, /^# fail 0$/m);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});
