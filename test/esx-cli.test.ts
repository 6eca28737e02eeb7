/**
 * The CLI works unchanged on esx:// (docs/design.md): `tsvirt -c esx://… list --all`, dominfo,
 * snapshot commands and undefine, run as separate processes against vcsim, with the
 * credentials in libvirt's auth file as virsh would read them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TSVIRT, run, type Output } from './cli-harness.js';
import { startVcsim, type RunningVcsim } from './support/vcsim-harness.js';

let sim: RunningVcsim | undefined;
let skip: string | false = false;
let dir = '';
let authFile = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tsvirt-esx-cli-'));
  const started = await startVcsim({ vms: 2 });
  if ('skip' in started) skip = started.skip;
  else {
    sim = started;
    authFile = sim.authFile('root', 'secret');
  }
});
after(async () => {
  await sim?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function tsvirt(...args: string[]): Promise<Output> {
  const env: NodeJS.ProcessEnv = { ...process.env, LIBVIRT_AUTH_FILE: authFile, LC_ALL: 'C', TZ: 'UTC', HOME: dir };
  delete env.TSVIRT_DEFAULT_URI;
  delete env.LIBVIRT_DEFAULT_URI;
  return run(process.execPath, [TSVIRT, '-c', sim!.uri(), ...args], { cwd: dir, env });
}

describe('tsvirt CLI on esx://', () => {
  test('list --all and dominfo', async (t) => {
    if (skip) return t.skip(skip);
    const list = await tsvirt('list', '--all');
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /^ Id\s+Name\s+State\n-+\n/);
    assert.match(list.stdout, /^ \d+\s+ha-host_VM0\s+running$/m);
    assert.match(list.stdout, /^ \d+\s+ha-host_VM1\s+running$/m);
    const info = await tsvirt('dominfo', 'ha-host_VM0');
    assert.equal(info.status, 0, info.stderr);
    assert.match(info.stdout, /^Name:\s+ha-host_VM0$/m);
    assert.match(info.stdout, /^OS Type:\s+hvm$/m);
    assert.match(info.stdout, /^State:\s+running$/m);
    assert.match(info.stdout, /^Max memory:\s+32768 KiB$/m);
    assert.match(info.stdout, /^Persistent:\s+yes$/m);
    assert.match(info.stdout, /^Managed save:\s+no$/m);
  });

  test('snapshot commands: create-as, list, list --tree, current, revert, delete', async (t) => {
    if (skip) return t.skip(skip);
    for (const name of ['one', 'two']) {
      const r = await tsvirt('snapshot-create-as', 'ha-host_VM0', name);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`Domain snapshot ${name} created`));
    }
    const list = await tsvirt('snapshot-list', 'ha-host_VM0', '--name');
    assert.equal(list.stdout.trim().split('\n').join(','), 'one,two');
    const tree = await tsvirt('snapshot-list', 'ha-host_VM0', '--tree');
    assert.match(tree.stdout, /^one\n {2}\|\n {2}\+- two\n/);
    const cur = await tsvirt('snapshot-current', 'ha-host_VM0', '--name');
    assert.equal(cur.stdout.trim(), 'two');
    const rev = await tsvirt('snapshot-revert', 'ha-host_VM0', 'one');
    assert.equal(rev.status, 0, rev.stderr);
    assert.equal((await tsvirt('snapshot-current', 'ha-host_VM0', '--name')).stdout.trim(), 'one');
    const del = await tsvirt('snapshot-delete', 'ha-host_VM0', 'one', '--children');
    assert.equal(del.status, 0, del.stderr);
    assert.match(del.stdout, /Domain snapshot one deleted/);
    assert.equal((await tsvirt('snapshot-list', 'ha-host_VM0', '--name')).stdout.trim(), '');
  });

  test('undefine of a running VM fails with libvirt\'s error; --managed-save and --snapshots-metadata on a stopped one unregister it', async (t) => {
    if (skip) return t.skip(skip);
    const running = await tsvirt('undefine', 'ha-host_VM1');
    assert.equal(running.status, 1);
    assert.match(running.stderr, /error: Requested operation is not valid: Domain is not suspended or powered off/);
    assert.equal((await tsvirt('destroy', 'ha-host_VM1')).status, 0);
    assert.equal((await tsvirt('snapshot-create-as', 'ha-host_VM1', 'kept')).status, 0);
    // As virsh: hasManagedSaveImage says no, so --managed-save is dropped and the undefine goes
    // through; the snapshots have no tsvirt metadata, so --snapshots-metadata changes nothing.
    const undef = await tsvirt('undefine', 'ha-host_VM1', '--managed-save', '--snapshots-metadata');
    assert.equal(undef.status, 0, undef.stderr);
    assert.match(undef.stdout, /Domain 'ha-host_VM1' has been undefined/);
    const list = await tsvirt('list', '--all', '--name');
    assert.doesNotMatch(list.stdout, /ha-host_VM1/);
  });
});
