/**
 * virDomainMigrateSetMaxSpeed's value of a running domain survives a tsvirtd restart (libvirt
 * keeps it with the running domain's status, so a restarted libvirtd still reports it), and goes
 * with the guest: a domain started afresh by the new daemon has libvirt's default again.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason } from './qemu-harness.js';
import { guestPids, startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';

const skip = qemuSkipReason() || virshSkip();
/** libvirt's default on 64-bit hosts: QEMU_DOMAIN_MIG_BANDWIDTH_MAX (MiB/s). */
const DEFAULT_SPEED = '8796093022207';

describe('migrate max speed across a tsvirtd restart', { skip, timeout: 300_000 }, () => {
  const reaper = new Reaper();
  let d: RunningDaemon | undefined;
  let dir: string;
  let uri: string;

  before(() => {
    dir = reaper.tempDir('tsvms-');
  });

  after(async () => {
    if (d !== undefined) {
      for (const pid of guestPids(d.stateDir)) reaper.track(pid);
      if (d.proc.exitCode === null && d.proc.signalCode === null) virsh(uri, 'destroy', 'hardening-speed');
      await d.stop();
    }
    await reaper.cleanup();
  });

  test('set on a running guest, read back by the restarted daemon; a fresh start has the default', async () => {
    const guest = await buildTestGuest(join(dir, 'guest'));
    d = await startDaemon({ dir });
    uri = `qemu+unix:///session?socket=${d.rw}`;
    const f = join(dir, 'speed.xml');
    writeFileSync(f, guestXML({ name: 'hardening-speed', uuid: randomUUID(), guest, mode: 'B', serial: join(dir, 'speed.serial') }));
    let r = virsh(uri, 'define', f);
    assert.equal(r.code, 0, r.stderr);
    r = virsh(uri, 'start', 'hardening-speed');
    for (const pid of guestPids(d.stateDir)) reaper.track(pid);
    assert.equal(r.code, 0, r.stderr);
    r = virsh(uri, 'migrate-setspeed', 'hardening-speed', '42');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(virsh(uri, 'migrate-getspeed', 'hardening-speed').stdout.trim(), '42');

    d.proc.kill('SIGKILL');
    await d.stop();
    d = await startDaemon({ dir });
    uri = `qemu+unix:///session?socket=${d.rw}`;
    r = virsh(uri, 'domstate', 'hardening-speed');
    assert.equal(r.stdout.trim(), 'running', r.stderr);
    r = virsh(uri, 'migrate-getspeed', 'hardening-speed');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '42', 'the restarted daemon reports the speed the running guest was given');

    // The value belongs to that run of the guest: gone with it once a new daemon starts it again.
    assert.equal(virsh(uri, 'destroy', 'hardening-speed').code, 0);
    await d.stop();
    d = await startDaemon({ dir });
    uri = `qemu+unix:///session?socket=${d.rw}`;
    r = virsh(uri, 'start', 'hardening-speed');
    for (const pid of guestPids(d.stateDir)) reaper.track(pid);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(virsh(uri, 'migrate-getspeed', 'hardening-speed').stdout.trim(), DEFAULT_SPEED);
    assert.equal(virsh(uri, 'destroy', 'hardening-speed').code, 0);
  });
});
