/**
 * The CLI works unchanged on `vbox:///session` (against the stand-in VBoxManage): list --all,
 * dominfo, the snapshot commands, undefine --snapshots-metadata and --managed-save.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { StandinWorld, TSVIRT_CLI } from './support/vboxmanage-harness.js';

function tsvirt(world: StandinWorld, args: string[]): Promise<{ stdout: string; stderr: string; status: number | null }> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, ...world.env(), LC_ALL: 'C', TZ: 'UTC', TSVIRT_STATE_DIR: world.dir };
    const child = spawn(process.execPath, [TSVIRT_CLI, '-c', 'vbox:///session', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, status });
    });
  });
}

async function withWorld(fn: (world: StandinWorld) => Promise<void>): Promise<void> {
  const world = new StandinWorld();
  try {
    await fn(world);
  } finally {
    world.cleanup();
  }
}

describe('tsvirt -c vbox:///session', () => {
  test('list --all and dominfo', () =>
    withWorld(async (world) => {
      const list = await tsvirt(world, ['list', '--all']);
      assert.equal(list.status, 0, list.stderr);
      assert.match(list.stdout, /^ Id\s+Name\s+State\n-+\n 1\s+web\s+running\n -\s+bare\s+shut off\n -\s+db\s+shut off\n/);
      const info = await tsvirt(world, ['dominfo', 'web']);
      assert.equal(info.status, 0, info.stderr);
      assert.match(info.stdout, /^Id:\s+1\nName:\s+web\nUUID:\s+5f1a3c2e-8d4b-4e6f-9a1b-2c3d4e5f6a7b\nOS Type:\s+hvm\nState:\s+running\nCPU\(s\):\s+2\n/);
      assert.match(info.stdout, /Persistent:\s+yes\n/);
      assert.match(info.stdout, /Managed save:\s+no\n/);
    }));

  test('snapshot commands', () =>
    withWorld(async (world) => {
      const list = await tsvirt(world, ['snapshot-list', 'db']);
      assert.equal(list.status, 0, list.stderr);
      assert.match(list.stdout, /base\s+2024-01-10 08:00:00 \+0000\s+shutoff\n/);
      assert.match(list.stdout, /tuned\s+2024-01-11 08:00:00 \+0000\s+running\n/);
      const tree = await tsvirt(world, ['snapshot-list', 'db', '--tree']);
      assert.equal(tree.stdout, 'base\n  |\n  +- tuned\n    \n\n');
      const current = await tsvirt(world, ['snapshot-current', 'db', '--name']);
      assert.equal(current.stdout, 'tuned\n');
      const create = await tsvirt(world, ['snapshot-create-as', 'web', 'cli1', '--description', 'from the CLI', '--live']);
      assert.equal(create.status, 0, create.stderr);
      assert.match(create.stdout, /Domain snapshot cli1 created/);
      assert.equal(world.vm('web')?.snapshots?.[0]?.name, 'cli1');
      const revert = await tsvirt(world, ['snapshot-revert', 'db', 'base']);
      assert.equal(revert.status, 0, revert.stderr);
      const del = await tsvirt(world, ['snapshot-delete', 'db', 'base', '--children']);
      assert.equal(del.status, 0, del.stderr);
      assert.equal(world.vm('db')?.snapshots?.length, 0);
    }));

  test('undefine --snapshots-metadata unregisters a machine with snapshots', () =>
    withWorld(async (world) => {
      const r = await tsvirt(world, ['undefine', 'db', '--snapshots-metadata']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /Domain 'db' has been undefined/);
      assert.equal(world.vm('db'), undefined);
    }));

  test('undefine --managed-save: as with virsh, the flag is dropped (no image) and the machine goes', () =>
    withWorld(async (world) => {
      const r = await tsvirt(world, ['undefine', 'bare', '--managed-save']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(world.vm('bare'), undefined);
    }));

  test('undefine of a running machine: libvirt’s error', () =>
    withWorld(async (world) => {
      const r = await tsvirt(world, ['undefine', 'web']);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /error: Failed to undefine domain 'web'\nerror: Requested operation is not valid: Domain is not suspended or powered off/);
      assert.equal(world.vm('web')?.state, 'running');
    }));
});
