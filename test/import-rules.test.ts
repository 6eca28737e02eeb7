/**
 * The import rules between src/'s layers (.dependency-cruiser.cjs, run by `npm run lint:deps`):
 * the real tree passes; a small tree with one wrong-way import per rule fails on each of them;
 * the imports the rules allow (import() of a driver from the API, the driver registry, Node
 * built-ins in core) pass.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

/** Runs depcruise with the repository's rules on `cwd`'s src/. */
function depcruise(cwd: string): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEPCRUISE, '--config', CONFIG, '--progress', 'none', 'src'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, out }));
  });
}

/** A throw-away tree of TypeScript files (path below the tree -> content). */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-import-rules-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, dirname(path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe('import rules', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('the source tree keeps them', async () => {
    const r = await depcruise(ROOT);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /no dependency violations found \((\d{2,}) modules/);
  });

  test('each wrong-way import fails the check, naming its rule', async () => {
    const dir = tree({
      'src/core/errors.ts': "import { Connection } from '../api/connection.js';\nexport const e = Connection;\n",
      'src/api/connection.ts': "import { openTestDriver } from '../drivers/test/driver.js';\nexport const Connection = openTestDriver;\n",
      'src/drivers/test/driver.ts': "import { main } from '../../cli/main.js';\nexport const openTestDriver = main;\n",
      'src/cli/main.ts': 'export const main = 1;\n',
      'src/conf/domain.ts': "import { x } from '../store/store.js';\nexport const y = x;\n",
      'src/store/store.ts': "import { f } from '../../test/support/fixtures.js';\nexport const x = f;\n",
      'src/rpc/xdr.ts': "import { y } from '../conf/domain.js';\nexport const z = y;\n",
      'test/support/fixtures.ts': 'export const f = 1;\n',
      'src/web/server.ts': "import { Daemon } from '../daemon/server.js';\nexport const w = Daemon;\n",
      'src/daemon/server.ts': 'export const Daemon = 1;\n',
    });
    dirs.push(dir);
    const r = await depcruise(dir);
    assert.notEqual(r.status, 0, r.out);
    for (const [rule, from, to] of [
      ['core-is-the-ground', 'src/core/errors.ts', 'src/api/connection.ts'],
      ['api-names-no-driver', 'src/api/connection.ts', 'src/drivers/test/driver.ts'],
      ['drivers-not-up', 'src/drivers/test/driver.ts', 'src/cli/main.ts'],
      ['conf-rules-store-on-core-only', 'src/conf/domain.ts', 'src/store/store.ts'],
      ['src-not-tests', 'src/store/store.ts', 'test/support/fixtures.ts'],
      ['rpc-on-core-only', 'src/rpc/xdr.ts', 'src/conf/domain.ts'],
      ['web-on-the-api', 'src/web/server.ts', 'src/daemon/server.ts'],
    ]) {
      assert.match(r.out, new RegExp(`error ${rule}: ${from} → ${to}`), `${rule} not reported:\n${r.out}`);
    }
  });

  test('what the rules allow passes', async () => {
    const dir = tree({
      'src/core/paths.ts': "import { homedir } from 'node:os';\nexport const home = homedir;\n",
      'src/conf/values.ts': "import { home } from '../core/paths.js';\nexport const v = home;\n",
      'src/api/connect.ts': [
        "import { drivers } from '../drivers/registry.js';",
        "export const open = async () => (await import('../drivers/test/driver.js')).d ?? drivers;",
        '',
      ].join('\n'),
      'src/drivers/registry.ts': "export const drivers = [() => import('./test/driver.js')];\n",
      'src/drivers/test/driver.ts': "import { v } from '../../conf/values.js';\nexport const d = v;\n",
    });
    dirs.push(dir);
    const r = await depcruise(dir);
    assert.equal(r.status, 0, r.out);
  });
});
