/**
 * qemu:///session through tsvirtd with Debian's real virsh and python3-libvirt, unmodified: a real
 * test guest (TCG, 128 MiB) defined, started, asked to shut down, destroyed, managed-saved and
 * restored; the transient and snapshot-metadata rules (R1, R3, R5, R11) with libvirt's exact
 * messages; and `virsh event --all --loop` seeing the lifecycle events.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, readText, waitForText, type TestGuest } from './qemu-harness.js';
import { guestPids, python, pythonLibvirtSkip, startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';

const skip = qemuSkipReason() || virshSkip() || pythonLibvirtSkip();

/** A REDEFINE-able snapshot as a management application would have captured it. */
const CAPTURED = `<domainsnapshot><name>s1</name><state>shutoff</state><creationTime>1700000000</creationTime></domainsnapshot>`;

const TRANSIENT = String.raw`
import libvirt, sys, json
libvirt.registerErrorHandler(lambda *a: None, None)
uri, xml, snap = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
def err(f):
    try:
        f()
        return None
    except libvirt.libvirtError as e:
        return [e.get_error_code(), e.get_error_domain(), e.get_error_message()]
c = libvirt.open(uri)
out['type'] = c.getType()
t = c.createXML(xml, 0)
out['persistent'] = t.isPersistent()
out['state'] = t.state()
t.snapshotCreateXML(snap, libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE)
out['snapshots'] = t.snapshotListNames()
out['undefine'] = err(lambda: t.undefine())
out['create_new_snapshot'] = err(lambda: t.snapshotCreateXML('<domainsnapshot><name>x</name></domainsnapshot>', 0))
t.destroy()
out['gone'] = err(lambda: c.lookupByName(t.name()))
d = c.defineXML(xml)
out['redefined_snapshots'] = d.snapshotNum()
d.undefine()
c.close()
print(json.dumps(out))
`;

describe('tsvirtd: qemu:///session with real guests through virsh and python3-libvirt', { skip, timeout: 150_000 }, () => {
  const reaper = new Reaper();
  let d: RunningDaemon | undefined;
  let guest: TestGuest;
  let dir: string;
  let uri: string;
  let events: ChildProcess | undefined;
  let eventsFile: string;

  const xml = (name: string, mode: 'A' | 'B' | 'C', uuid = randomUUID()) =>
    guestXML({ name, uuid, guest, mode, serial: join(dir, `${name}.serial`) });
  const writeXML = (name: string, text: string): string => {
    const f = join(dir, `${name}.xml`);
    writeFileSync(f, text);
    return f;
  };
  /** virsh against the daemon, and every guest it may have started handed to the reaper. */
  const v = (...args: string[]) => {
    const r = virsh(uri, ...args);
    if (d !== undefined) for (const pid of guestPids(d.stateDir)) reaper.track(pid);
    return r;
  };

  before(async () => {
    dir = reaper.tempDir('tsvdq-');
    guest = await buildTestGuest(join(dir, 'guest'));
    d = await startDaemon({ dir });
    uri = `qemu+unix:///session?socket=${d.rw}`;
    eventsFile = join(dir, 'events.txt');
    const fd = openSync(eventsFile, 'w');
    events = spawn('virsh', ['-c', uri, 'event', '--all', '--loop', '--timeout', '120'], { stdio: ['ignore', fd, fd], env: { ...process.env, LC_ALL: 'C' } });
    closeSync(fd);
    // virsh registers the lifecycle callback first, then one per other event type.
    const deadline = Date.now() + 10_000;
    while (!d.log().includes('CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY') && Date.now() < deadline) await sleep(20);
    assert.ok(d.log().includes('CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY'), `virsh event did not register:\n${readText(eventsFile)}\n${d.log().slice(-2000)}`);
    await sleep(300);
  });

  after(async () => {
    if (d !== undefined) {
      for (const pid of guestPids(d.stateDir)) reaper.track(pid);
      for (const name of ['qd-b', 'qd-save', 'qd-t']) virsh(uri, 'destroy', name);
    }
    if (events !== undefined && events.exitCode === null) events.kill('SIGTERM');
    await d?.stop();
    await reaper.cleanup();
  });

  test('a persistent guest: define, start, shutdown ignored by a mode-B guest, destroy', async () => {
    assert.equal(v('uri').stdout.trim(), uri);
    const f = writeXML('qd-b', xml('qd-b', 'B'));
    let r = v('define', f);
    assert.equal(r.code, 0, r.stderr);
    r = v('start', 'qd-b');
    assert.equal(r.code, 0, r.stderr);
    await waitForText(join(dir, 'qd-b.serial'), 'GUEST-READY');
    assert.equal(v('domstate', '--reason', 'qd-b').stdout.trim(), 'running (booted)');
    r = v('shutdown', 'qd-b');
    assert.equal(r.code, 0, r.stderr);
    await sleep(1500);
    assert.equal(v('domstate', 'qd-b').stdout.trim(), 'running', 'the guest ignores the power button');
    const pids = guestPids(d!.stateDir);
    assert.equal(pids.length, 1);
    r = v('destroy', 'qd-b');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(v('domstate', '--reason', 'qd-b').stdout.trim(), 'shut off (destroyed)');
    assert.deepEqual(guestPids(d!.stateDir), []);
  });

  test('R3: a REDEFINEd snapshot blocks undefine of the inactive domain; --snapshots-metadata allows it', () => {
    const snap = join(dir, 's1.xml');
    writeFileSync(snap, CAPTURED);
    let r = v('snapshot-create', 'qd-b', '--redefine', snap);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(v('snapshot-list', '--name', 'qd-b').stdout.trim(), 's1');
    r = v('undefine', 'qd-b');
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "error: Failed to undefine domain 'qd-b'\nerror: Requested operation is not valid: cannot delete inactive domain with 1 snapshots\n");
    r = v('undefine', 'qd-b', '--snapshots-metadata');
    assert.equal(r.code, 0, r.stderr);
    r = v('dominfo', 'qd-b');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: failed to get domain 'qd-b'\n/);
  });

  test('R11: managedsave of a running guest, then start restores it', async () => {
    let r = v('define', writeXML('qd-save', xml('qd-save', 'B')));
    assert.equal(r.code, 0, r.stderr);
    r = v('start', 'qd-save');
    assert.equal(r.code, 0, r.stderr);
    await waitForText(join(dir, 'qd-save.serial'), 'GUEST-READY');
    r = v('managedsave', 'qd-save');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(v('domstate', '--reason', 'qd-save').stdout.trim(), 'shut off (saved)');
    assert.deepEqual(guestPids(d!.stateDir), [], 'the saved guest no longer runs');
    r = v('undefine', 'qd-save');
    assert.equal(r.code, 1);
    // virsh itself checks for the image (virDomainHasManagedSaveImage) before asking the daemon.
    assert.equal(r.stderr, 'error: Refusing to undefine while domain managed save image exists\n');
    r = v('start', 'qd-save');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(v('domstate', '--reason', 'qd-save').stdout.trim(), 'running (restored)');
    r = v('destroy', 'qd-save');
    assert.equal(r.code, 0, r.stderr);
    r = v('undefine', 'qd-save');
    assert.equal(r.code, 0, r.stderr);
  });

  test('R1 and R5 through python3-libvirt: a transient guest cannot be undefined; destroyed, it goes with its snapshot metadata', () => {
    const uuid = randomUUID();
    const r = python(TRANSIENT, uri, xml('qd-t', 'A', uuid), CAPTURED);
    for (const pid of guestPids(d!.stateDir)) reaper.track(pid);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(out.type, 'QEMU');
    assert.equal(out.persistent, 0);
    assert.deepEqual(out.state, [1, 1]);
    assert.deepEqual(out.snapshots, ['s1']);
    assert.deepEqual(out.undefine, [55, 10, 'Requested operation is not valid: cannot undefine transient domain']);
    // A running guest without disks: libvirt's words for a memory snapshot with nowhere to keep it.
    assert.deepEqual(out.create_new_snapshot, [67, 10, 'unsupported configuration: internal and full system snapshots require all disks to be selected for snapshot']);
    assert.deepEqual((out.gone as unknown[]).slice(0, 2), [42, 10]);
    assert.equal(out.redefined_snapshots, 0, 'the snapshot metadata went with the transient domain');
    assert.deepEqual(guestPids(d!.stateDir), []);
  });

  test('virsh event --all --loop saw every lifecycle event, in order', async () => {
    const expected = [
      "event 'lifecycle' for domain 'qd-b': Defined Added",
      "event 'lifecycle' for domain 'qd-b': Started Booted",
      "event 'lifecycle' for domain 'qd-b': Resumed Unpaused",
      "event 'lifecycle' for domain 'qd-b': Shutdown Finished after host request",
      "event 'lifecycle' for domain 'qd-b': Stopped Destroyed",
      "event 'lifecycle' for domain 'qd-b': Undefined Removed",
      "event 'lifecycle' for domain 'qd-save': Defined Added",
      "event 'lifecycle' for domain 'qd-save': Started Booted",
      "event 'lifecycle' for domain 'qd-save': Resumed Unpaused",
      "event 'lifecycle' for domain 'qd-save': Suspended Paused",
      "event 'lifecycle' for domain 'qd-save': Stopped Saved",
      "event 'lifecycle' for domain 'qd-save': Started Restored",
      "event 'lifecycle' for domain 'qd-save': Resumed Unpaused",
      "event 'lifecycle' for domain 'qd-save': Shutdown Finished after host request",
      "event 'lifecycle' for domain 'qd-save': Stopped Destroyed",
      "event 'lifecycle' for domain 'qd-save': Undefined Removed",
      "event 'lifecycle' for domain 'qd-t': Started Booted",
      "event 'lifecycle' for domain 'qd-t': Resumed Unpaused",
      "event 'lifecycle' for domain 'qd-t': Shutdown Finished after host request",
      "event 'lifecycle' for domain 'qd-t': Stopped Destroyed",
      "event 'lifecycle' for domain 'qd-t': Defined Added",
      "event 'lifecycle' for domain 'qd-t': Undefined Removed",
    ];
    const deadline = Date.now() + 5000;
    const lines = () => readText(eventsFile).split('\n').filter((l) => l.startsWith('event '));
    while (lines().length < expected.length && Date.now() < deadline) await sleep(50);
    assert.deepEqual(lines(), expected, readText(eventsFile));
    assert.equal(events!.exitCode, null, 'virsh event is still looping');
  });
});
