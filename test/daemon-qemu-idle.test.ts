/**
 * tsvirtd --timeout with a real guest (TCG): the daemon does not exit while a guest of its qemu
 * driver runs, though no client is connected (libvirtd's session daemon holds a shutdown
 * inhibitor while domains run), and exits once the guest is destroyed. The guest's serial logs
 * are 0600, as everything else of the store.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, type TestGuest } from './qemu-harness.js';
import { guestPids, startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';

const skip = qemuSkipReason() || virshSkip();

describe('tsvirtd --timeout with a running guest', { skip, timeout: 120_000 }, () => {
  const reaper = new Reaper();
  let d: RunningDaemon | undefined;
  let guest: TestGuest;
  let dir: string;

  before(async () => {
    dir = reaper.tempDir('tsvdi-');
    guest = await buildTestGuest(join(dir, 'guest'));
  });
  after(async () => {
    if (d !== undefined) for (const pid of guestPids(d.stateDir)) reaper.track(pid);
    await d?.dispose();
    await reaper.cleanup();
  });

  test('alive 5 s after its last client left while the guest runs; exits after the guest is destroyed; serial logs 0600', async () => {
    d = await startDaemon({ dir, args: ['--timeout', '2'] });
    const uri = `qemu+unix:///session?socket=${d.rw}`;
    const uuid = randomUUID();
    const serial = join(dir, 'idle.serial');
    const xml = join(dir, 'idle.xml');
    // Port 0 writes to a file the domain names; port 1 (pty) to the driver's own serial log.
    writeFileSync(xml, guestXML({ name: 'idle', uuid, guest, mode: 'B', serial, extraDevices: "<serial type='pty'><target port='1'/></serial>" }));
    // A serial log left by an older tsvirt with QEMU's 0644 is tightened at the next start.
    const ownLog = join(d.stateDir, 'qemu', 'log', `${uuid}.serial1.log`);
    mkdirSync(dirname(ownLog), { recursive: true, mode: 0o700 });
    writeFileSync(ownLog, 'old\n', { mode: 0o644 });
    chmodSync(ownLog, 0o644);
    const created = virsh(uri, 'create', xml);
    for (const pid of guestPids(d.stateDir)) reaper.track(pid);
    assert.equal(created.code, 0, created.stderr);

    for (const file of [serial, ownLog]) {
      assert.equal((statSync(file).mode & 0o777).toString(8), '600', file);
    }

    await sleep(5000);
    assert.equal(d.proc.exitCode, null, `the daemon exited while its guest ran:\n${d.log().slice(-2000)}`);
    assert.equal(virsh(uri, 'domstate', 'idle').stdout.trim(), 'running');

    const destroyed = virsh(uri, 'destroy', 'idle');
    assert.equal(destroyed.code, 0, destroyed.stderr);
    const deadline = Date.now() + 15_000;
    while (d.proc.exitCode === null && Date.now() < deadline) await sleep(100);
    assert.equal(d.proc.exitCode, 0, `the daemon did not exit after the guest was destroyed:\n${d.log().slice(-2000)}`);
  });
});
