/**
 * tsvirtd killed with SIGKILL under load and restarted on the same socket and state directories:
 * on test:///session nothing a client saw committed is lost and the store's invariants hold; on
 * qemu:///session a real guest started through the daemon runs on without it and is reattached.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Reaper, buildTestGuest, guestXML, pidAlive, qemuSkipReason, readText, waitForText, type TestGuest } from './qemu-harness.js';
import { guestPids, python, pythonLibvirtSkip, startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';
import { sessionViolations } from './support/invariants.js';

const skip = qemuSkipReason() || virshSkip() || pythonLibvirtSkip();

const CLIENTS = 8;

/**
 * One client: define, two snapshots (a test-driver create and a REDEFINE), and for every other
 * domain undefine with its snapshot metadata, forever. Each line is printed only once the call
 * has returned success, so the lines are what the client saw committed.
 */
const LOAD = String.raw`
import libvirt, sys
libvirt.registerErrorHandler(lambda *a: None, None)
uri, k = sys.argv[1], sys.argv[2]
c = libvirt.open(uri)
i = 0
while True:
    name = 'p%s_%d' % (k, i)
    d = c.defineXML("<domain type='test'><name>%s</name><memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>" % name)
    print('D', name, flush=True)
    d.snapshotCreateXML('<domainsnapshot><name>s1</name></domainsnapshot>', 0)
    print('S', name, 's1', flush=True)
    d.snapshotCreateXML('<domainsnapshot><name>r2</name><state>shutoff</state><parent><name>s1</name></parent><creationTime>1700000000</creationTime></domainsnapshot>', libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE)
    print('S', name, 'r2', flush=True)
    if i % 2 == 0:
        d.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
        print('U', name, flush=True)
    i += 1
`;

/** Every domain of test:///session with its snapshot names. */
const LIST = String.raw`
import libvirt, sys, json
c = libvirt.open(sys.argv[1])
print(json.dumps({d.name(): sorted(d.snapshotListNames()) for d in c.listAllDomains()}))
`;

interface Committed {
  live: Map<string, Set<string>>;
  gone: Set<string>;
  /**
   * Each client's last domain when its undefine may have been in flight at the kill (its 'S r2'
   * line printed, its index even): committed or not, either outcome is right.
   */
  mayBeGone: Set<string>;
}

function committedFrom(outputs: string[]): Committed {
  const live = new Map<string, Set<string>>();
  const gone = new Set<string>();
  const mayBeGone = new Set<string>();
  for (const out of outputs) {
    const lines = out.split('\n');
    // The last element is '' or a line cut short by the kill; the one before is the last seen whole.
    const [lastOp, lastName, lastSnap] = (lines[lines.length - 2] ?? '').split(' ');
    if (lastOp === 'S' && lastSnap === 'r2' && Number(lastName?.split('_')[1]) % 2 === 0) mayBeGone.add(lastName!);
    for (const line of lines) {
      // A line cut short by the kill (no newline yet) was not seen whole; it is dropped by split's last element.
      const [op, name, snap] = line.split(' ');
      if (name === undefined) continue;
      if (op === 'D') live.set(name, new Set());
      else if (op === 'S') live.get(name)?.add(snap!);
      else if (op === 'U') {
        live.delete(name);
        gone.add(name);
      }
    }
  }
  return { live, gone, mayBeGone };
}

describe('tsvirtd killed with SIGKILL under load and restarted', { skip, timeout: 120_000 }, () => {
  const reaper = new Reaper();
  let d: RunningDaemon | undefined;
  let dir: string;
  let guest: TestGuest;
  let qemuUri: string;
  let guestPid: number;
  let committed: Committed;
  const clients: ChildProcess[] = [];

  before(async () => {
    dir = reaper.tempDir('tsvdr-');
    guest = await buildTestGuest(join(dir, 'guest'));
    d = await startDaemon({ dir });
    qemuUri = `qemu+unix:///session?socket=${d.rw}`;
  });

  after(async () => {
    for (const c of clients) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (d !== undefined) {
      for (const pid of guestPids(d.stateDir)) reaper.track(pid);
      if (d.proc.exitCode === null && d.proc.signalCode === null) virsh(qemuUri, 'destroy', 'qr-b');
      await d.stop();
    }
    await reaper.cleanup();
  });

  test('a guest started, 8 python-libvirt clients loading test:///session, then SIGKILL and a restart', async (t) => {
    const f = join(dir, 'qr-b.xml');
    writeFileSync(f, guestXML({ name: 'qr-b', uuid: randomUUID(), guest, mode: 'B', tick: 1, serial: join(dir, 'qr-b.serial') }));
    let r = virsh(qemuUri, 'define', f);
    assert.equal(r.code, 0, r.stderr);
    r = virsh(qemuUri, 'start', 'qr-b');
    const pids = guestPids(d!.stateDir);
    for (const pid of pids) reaper.track(pid);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(pids.length, 1);
    guestPid = pids[0]!;
    await waitForText(join(dir, 'qr-b.serial'), 'GUEST-READY');

    const outputs: string[] = Array.from({ length: CLIENTS }, () => '');
    const exits: Promise<void>[] = [];
    for (let k = 0; k < CLIENTS; k++) {
      const c = spawn('/usr/bin/python3', ['-c', LOAD, d!.uri('/session'), String(k)], { stdio: ['ignore', 'pipe', 'pipe'] });
      clients.push(c);
      c.stdout!.on('data', (b: Buffer) => (outputs[k] += b.toString()));
      c.stderr!.resume();
      exits.push(new Promise((resolve) => c.once('exit', () => resolve())));
    }
    // Kill once every client has committed a few domains.
    const deadline = Date.now() + 30_000;
    while (outputs.some((o) => (o.match(/^U /gm) ?? []).length < 10) && Date.now() < deadline) await sleep(20);
    assert.ok(Date.now() < deadline, `clients made no progress:\n${d!.log().slice(-2000)}`);
    d!.proc.kill('SIGKILL');
    await d!.stop();
    assert.equal(d!.proc.signalCode, 'SIGKILL');
    // Each client's connection drops: they all fail out of their loops.
    await Promise.all(exits);
    for (const c of clients) assert.notEqual(c.exitCode, 0);
    committed = committedFrom(outputs);
    t.diagnostic(`committed before the kill: ${committed.live.size} domains defined, ${committed.gone.size} undefined`);
    assert.ok(committed.live.size >= CLIENTS && committed.gone.size >= 10 * CLIENTS);

    assert.ok(pidAlive(guestPid), 'the guest runs on without the daemon');
    d = await startDaemon({ dir });
  });

  test('test:///session: everything a client saw committed is there, with its snapshots; invariants hold', async () => {
    const r = python(LIST, d!.uri('/session'));
    assert.equal(r.code, 0, r.stderr);
    const present = JSON.parse(r.stdout) as Record<string, string[]>;
    const lost: string[] = [];
    for (const [name, snaps] of committed.live) {
      const have = present[name];
      if (have === undefined) {
        if (!committed.mayBeGone.has(name)) lost.push(`${name}: gone`);
      } else for (const s of snaps) if (!have.includes(s)) lost.push(`${name}: snapshot ${s} gone`);
    }
    for (const name of committed.gone) if (present[name] !== undefined) lost.push(`${name}: undefined, yet back`);
    assert.deepEqual(lost, []);
    assert.deepEqual(await sessionViolations(d!.stateDir), []);
  });

  test('qemu:///session: the guest that ran through the kill is reattached; destroy stops it', async () => {
    let r = virsh(qemuUri, 'domstate', '--reason', 'qr-b');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'running (booted)');
    assert.deepEqual(guestPids(d!.stateDir), [guestPid]);
    // Still the same, live guest: it keeps printing its ticks.
    const ticks = (readText(join(dir, 'qr-b.serial')).match(/GUEST-ALIVE/g) ?? []).length;
    await waitForText(join(dir, 'qr-b.serial'), new RegExp(`(?:GUEST-ALIVE[^]*){${ticks + 1}}`), 10_000);
    r = virsh(qemuUri, 'destroy', 'qr-b');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(virsh(qemuUri, 'domstate', '--reason', 'qr-b').stdout.trim(), 'shut off (destroyed)');
    const deadline = Date.now() + 10_000;
    while (pidAlive(guestPid) && Date.now() < deadline) await sleep(20);
    assert.equal(pidAlive(guestPid), false, 'the QEMU process is gone');
    r = virsh(qemuUri, 'undefine', 'qr-b');
    assert.equal(r.code, 0, r.stderr);
  });
  test('qemu:///session autostart: the daemon started after a boot starts the autostart domain; a restart in the same boot does not', async () => {
    const f = join(dir, 'qr-a.xml');
    writeFileSync(f, guestXML({ name: 'qr-a', uuid: randomUUID(), guest, mode: 'B', serial: join(dir, 'qr-a.serial') }));
    try {
      for (const args of [['define', f], ['autostart', 'qr-a']]) {
        const r = virsh(qemuUri, ...args);
        assert.equal(r.code, 0, r.stderr);
      }
      await d!.stop();
      // A new boot: this boot's autostart marker is gone.
      const runRoot = join(d!.stateDir, 'qemu', 'run');
      for (const m of readdirSync(runRoot).filter((m) => m.startsWith('autostarted-'))) rmSync(join(runRoot, m));
      d = await startDaemon({ dir });
      for (const pid of guestPids(d.stateDir)) reaper.track(pid);
      assert.equal(virsh(qemuUri, 'domstate', '--reason', 'qr-a').stdout.trim(), 'running (booted)');
      let r = virsh(qemuUri, 'destroy', 'qr-a');
      assert.equal(r.code, 0, r.stderr);
      await d.stop();
      d = await startDaemon({ dir });
      r = virsh(qemuUri, 'domstate', '--reason', 'qr-a');
      assert.equal(r.stdout.trim(), 'shut off (destroyed)', 'not started again in the same boot');
    } finally {
      virsh(qemuUri, 'destroy', 'qr-a');
      virsh(qemuUri, 'undefine', 'qr-a');
    }
  });
});
