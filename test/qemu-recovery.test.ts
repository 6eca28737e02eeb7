/**
 * After a crash of the manager (DESIGN §5): a process killed in the middle of a managed save of a
 * real guest leaves QEMU stopped for the save, its migration maybe still running and a partial
 * image; the next open finishes the job as libvirt's reconnect does — the migration cancelled,
 * the vCPUs resumed (the guest ran before the job), the partial image removed — so the domain
 * reports its true state and the next managed save succeeds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DomainRunningReason,
  DomainShutoffReason,
  DomainState,
  DomainUndefineFlags,
  connect,
  type Connection,
} from '../src/index.js';
import { Store } from '../src/store/store.js';
import { guestPids, startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';
import { QemuGuests } from '../src/drivers/qemu/backend.js';
import { Reaper, buildTestGuest, guestXML, pidAlive, qemuSkipReason, readText, waitForText, type TestGuest } from './qemu-harness.js';

const JOB_HOLDER = fileURLToPath(new URL('./support/job-holder.js', import.meta.url));
const SAVER = fileURLToPath(new URL('./support/qemu-saver.js', import.meta.url));
const KILLS = Number(process.env.TSVIRT_RECOVERY_KILLS ?? 4);
const skip = qemuSkipReason();

/** How many "GUEST-ALIVE n" lines the guest printed so far (one a second while its vCPUs run). */
function aliveTicks(serial: string): number {
  return (readText(serial).match(/GUEST-ALIVE \d+/g) ?? []).length;
}

describe('recovery of jobs interrupted by a crash of the manager (qemu:///session, real guests)', { skip, timeout: 900_000 }, () => {
  const reaper = new Reaper();
  let guest: TestGuest;
  let state: string;
  let previous: string | undefined;
  let conn: Connection | undefined;

  before(async () => {
    state = reaper.tempDir('tsvqr-');
    guest = await buildTestGuest(join(state, 'guest'));
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = state;
  });

  after(async () => {
    const c = conn ?? (await connect('qemu:///session').catch(() => undefined));
    if (c !== undefined) {
      for (const dom of await c.listAllDomains(0).catch(() => [])) {
        await dom.destroy().catch(() => undefined);
        await dom.undefineFlags(DomainUndefineFlags.MANAGED_SAVE).catch(() => undefined);
      }
      await c.close();
    }
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    await reaper.cleanup();
  });

  /** The pid of the domain's QEMU, from the store (for the reaper). */
  async function trackGuest(name: string): Promise<void> {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(state, 'qemu', 'qemu.db'), { readonly: true });
    const row = db.prepare('SELECT runtime FROM domains WHERE name = ?').get(name) as { runtime: string | null } | undefined;
    db.close();
    if (row?.runtime) reaper.trackRuntime(row.runtime);
  }

  test(`managed save: ${KILLS} kills of the saving process mid-save; each reopen resumes the guest, removes the partial image, and a new managed save succeeds`, async () => {
    const name = 'q-msave-crash';
    const serial = join(state, `${name}.serial`);
    const saveDir = join(state, 'qemu', 'save');
    mkdirSync(saveDir, { recursive: true, mode: 0o700 });
    conn = await connect('qemu:///session');
    const dom = await conn.defineXML(guestXML({ name, uuid: randomUUID(), guest, mode: 'B', tick: 1, memMiB: 256, serial }));
    await dom.create();
    await trackGuest(name);
    await waitForText(serial, 'GUEST-READY');
    for (let kill = 0; kill < KILLS; kill++) {
      // The child must get the guest's monitor: QEMU serves one client at a time.
      await conn.close();
      conn = undefined;
      const child = spawn(process.execPath, [SAVER, name], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      try {
        // The image file appears when QEMU connects its migration stream: the vCPUs are stopped
        // and the migration is under way. Kill the manager then.
        const deadline = Date.now() + 60_000;
        while (readdirSync(saveDir).length === 0) {
          if (Date.now() > deadline || child.exitCode !== null) assert.fail(`no save image appeared (kill ${kill}): ${out}`);
          await sleep(2);
        }
        child.kill('SIGKILL');
        await exited;
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      assert.doesNotMatch(out, /done/, `the kill came after the save had completed (kill ${kill})`);

      conn = await connect('qemu:///session');
      const back = await conn.lookupByName(name);
      assert.deepEqual(await back.state(), [DomainState.RUNNING, DomainRunningReason.SAVE_CANCELED], `state after kill ${kill}`);
      assert.equal(await back.hasManagedSaveImage(), false, `no managed save image after kill ${kill}`);
      assert.deepEqual(readdirSync(saveDir), [], `no partial image left after kill ${kill}`);
      // The vCPUs truly run: the guest's clock ticks on.
      const ticks = aliveTicks(serial);
      const tickDeadline = Date.now() + 20_000;
      while (aliveTicks(serial) <= ticks) {
        assert.ok(Date.now() < tickDeadline, `the guest's vCPUs do not run after kill ${kill}`);
        await sleep(100);
      }
      await back.suspend();
      assert.deepEqual(await back.state(), [DomainState.PAUSED, 1]);
      await back.resume();
      assert.equal((await back.state())[0], DomainState.RUNNING);
      // A new managed save succeeds and restores.
      await back.managedSave();
      assert.deepEqual(await back.state(), [DomainState.SHUTOFF, DomainShutoffReason.SAVED]);
      assert.equal(await back.hasManagedSaveImage(), true);
      assert.ok(statSync(join(saveDir, `${back.UUIDString()}.save`)).size > 0);
      await back.create();
      await trackGuest(name);
      assert.deepEqual(await back.state(), [DomainState.RUNNING, DomainRunningReason.RESTORED]);
      assert.equal(await back.hasManagedSaveImage(), false);
    }
  });

  test('managed save: the manager died after the guest was saved and quit but before the store recorded it; the next open records the complete image (shut off, saved) and start restores it', async () => {
    const name = 'q-msave-late';
    const serial = join(state, `${name}.serial`);
    conn = await connect('qemu:///session');
    const dom = await conn.defineXML(guestXML({ name, uuid: randomUUID(), guest, mode: 'B', tick: 1, serial }));
    await dom.create();
    await trackGuest(name);
    await waitForText(serial, 'GUEST-READY');
    await conn.close();
    conn = undefined;
    // The save job's first phase: a process takes the domain's job in the store, then dies.
    const storePath = join(state, 'qemu', 'qemu.db');
    const holder = spawn(process.execPath, [JOB_HOLDER, storePath, dom.UUIDString()], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
      // Its guest action ran to the end (image complete and renamed, QEMU quit)...
      const store = new Store({ path: storePath });
      const rec = store.domainByName(name);
      store.close();
      assert.ok(rec !== undefined);
      const backend = new QemuGuests({ root: join(state, 'qemu') });
      try {
        await backend.saveMemory(rec, undefined, true);
      } finally {
        backend.close();
      }
    } finally {
      holder.kill('SIGKILL');
    }
    await new Promise<void>((resolve) => (holder.exitCode !== null || holder.signalCode !== null ? resolve() : holder.once('exit', () => resolve())));
    // ...and its second transaction never ran.
    conn = await connect('qemu:///session');
    const back = await conn.lookupByName(name);
    assert.deepEqual(await back.state(), [DomainState.SHUTOFF, DomainShutoffReason.SAVED]);
    assert.equal(await back.hasManagedSaveImage(), true);
    const before = readText(serial).length;
    const ticks = aliveTicks(serial);
    await back.create();
    await trackGuest(name);
    assert.deepEqual(await back.state(), [DomainState.RUNNING, DomainRunningReason.RESTORED]);
    assert.equal(await back.hasManagedSaveImage(), false);
    // Restored, not booted: no new GUEST-READY, and the guest's counter goes on from the save.
    const deadline = Date.now() + 30_000;
    let fresh = '';
    while (!/GUEST-ALIVE \d+/.test(fresh)) {
      assert.ok(Date.now() < deadline, 'the restored guest does not run');
      await sleep(100);
      fresh = readText(serial).slice(before);
    }
    assert.doesNotMatch(fresh, /GUEST-READY/);
    assert.ok(Number(/GUEST-ALIVE (\d+)/.exec(fresh)?.[1]) > ticks, fresh);
    await back.destroy();
  });

  test('restore: 2 kills of the process starting a guest from its managed save image; each reopen stops the half-started QEMU and keeps the image recorded; the next start restores it', async () => {
    const name = 'q-restore-crash';
    const serial = join(state, `${name}.serial`);
    const uuid = randomUUID();
    conn = await connect('qemu:///session');
    const dom = await conn.defineXML(guestXML({ name, uuid, guest, mode: 'B', tick: 1, serial }));
    await dom.create();
    await trackGuest(name);
    await waitForText(serial, 'GUEST-READY');
    await dom.managedSave();
    const pidFile = join(state, 'qemu', 'run', uuid, 'qemu.pid');
    for (let kill = 0; kill < 2; kill++) {
      await conn.close();
      conn = undefined;
      const child = spawn(process.execPath, [SAVER, name, 'create'], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      let pid = 0;
      try {
        // QEMU has written its pidfile: it is loading (or about to load) the image.
        const deadline = Date.now() + 60_000;
        while (pid === 0) {
          if (Date.now() > deadline || child.exitCode !== null) assert.fail(`no QEMU started (kill ${kill}): ${out}`);
          pid = Number(readText(pidFile).trim());
          await sleep(2);
        }
        reaper.track(pid);
        child.kill('SIGKILL');
        await exited;
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      assert.doesNotMatch(out, /done/, `the kill came after the restore had been recorded (kill ${kill})`);
      assert.ok(pidAlive(pid), 'the half-started QEMU outlived its manager');

      conn = await connect('qemu:///session');
      const back = await conn.lookupByName(name);
      assert.equal(pidAlive(pid), false, `the half-started QEMU was stopped at open (kill ${kill})`);
      assert.deepEqual(await back.state(), [DomainState.SHUTOFF, DomainShutoffReason.SAVED]);
      assert.equal(await back.hasManagedSaveImage(), true, 'the image is still there and recorded');
    }
    const back = await (conn as Connection).lookupByName(name);
    const before = readText(serial).length;
    const ticks = aliveTicks(serial);
    await back.create();
    await trackGuest(name);
    assert.deepEqual(await back.state(), [DomainState.RUNNING, DomainRunningReason.RESTORED]);
    assert.equal(await back.hasManagedSaveImage(), false);
    const deadline = Date.now() + 30_000;
    let fresh = '';
    while (!/GUEST-ALIVE \d+/.test(fresh)) {
      assert.ok(Date.now() < deadline, 'the restored guest does not run');
      await sleep(100);
      fresh = readText(serial).slice(before);
    }
    assert.ok(Number(/GUEST-ALIVE (\d+)/.exec(fresh)?.[1]) > ticks, fresh);
    await back.destroy();
  });
});

describe('recovery of jobs interrupted by a crash of the manager: paused guests and snapshots', { skip, timeout: 600_000 }, () => {
  const reaper = new Reaper();
  let guest: TestGuest;
  let state: string;
  let previous: string | undefined;
  let conn: Connection | undefined;

  before(async () => {
    state = reaper.tempDir('tsvqp-');
    guest = await buildTestGuest(join(state, 'guest'));
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = state;
  });

  after(async () => {
    const c = conn ?? (await connect('qemu:///session').catch(() => undefined));
    if (c !== undefined) {
      for (const dom of await c.listAllDomains(0).catch(() => [])) {
        await dom.destroy().catch(() => undefined);
        await dom.undefineFlags(DomainUndefineFlags.MANAGED_SAVE | DomainUndefineFlags.SNAPSHOTS_METADATA).catch(() => undefined);
      }
      await c.close();
    }
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    await reaper.cleanup();
  });

  /** Runs the child's call on `name` and SIGKILLs it once `ready()` says the job is under way. */
  async function killMidCall(name: string, op: string, ready: () => boolean): Promise<string> {
    await conn?.close();
    conn = undefined;
    const child = spawn(process.execPath, [SAVER, name, op], { env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      const deadline = Date.now() + 60_000;
      while (!ready()) {
        if (Date.now() > deadline || child.exitCode !== null) assert.fail(`the call did not get under way: ${out}`);
        await sleep(2);
      }
      child.kill('SIGKILL');
      await exited;
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    conn = await connect('qemu:///session');
    return out;
  }

  async function trackAll(): Promise<void> {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(state, 'qemu', 'qemu.db'), { readonly: true });
    const rows = db.prepare('SELECT runtime FROM domains WHERE runtime IS NOT NULL').all() as { runtime: string }[];
    db.close();
    for (const row of rows) reaper.trackRuntime(row.runtime);
  }

  test('managed save of a guest the user had paused, killed mid-save: the next open leaves it paused (user), removes the partial image; resume and a new managed save work', async () => {
    const name = 'q-msave-paused';
    const serial = join(state, `${name}.serial`);
    const saveDir = join(state, 'qemu', 'save');
    mkdirSync(saveDir, { recursive: true, mode: 0o700 });
    conn = await connect('qemu:///session');
    const dom = await conn.defineXML(guestXML({ name, uuid: randomUUID(), guest, mode: 'B', tick: 1, memMiB: 256, serial }));
    await dom.create();
    await trackAll();
    await waitForText(serial, 'GUEST-READY');
    await dom.suspend();
    const out = await killMidCall(name, 'managedSave', () => readdirSync(saveDir).length > 0);
    assert.doesNotMatch(out, /done/, 'the kill came after the save had completed');
    const back = await conn!.lookupByName(name);
    assert.deepEqual(await back.state(), [DomainState.PAUSED, 1], 'paused by the user, as before the job');
    assert.equal(await back.hasManagedSaveImage(), false);
    assert.deepEqual(readdirSync(saveDir), []);
    const ticks = aliveTicks(serial);
    await sleep(2500);
    assert.equal(aliveTicks(serial), ticks, 'the vCPUs stay paused');
    await back.resume();
    assert.equal((await back.state())[0], DomainState.RUNNING);
    const deadline = Date.now() + 20_000;
    while (aliveTicks(serial) <= ticks) {
      assert.ok(Date.now() < deadline, 'the vCPUs do not run after resume');
      await sleep(100);
    }
    await back.managedSave();
    assert.deepEqual(await back.state(), [DomainState.SHUTOFF, DomainShutoffReason.SAVED]);
  });

  test('suspend whose manager died after stopping the vCPUs but before recording it: the next open records the truth, paused (user), and resume works', async () => {
    const name = 'q-suspend-cut';
    const serial = join(state, `${name}.serial`);
    conn = await connect('qemu:///session');
    const dom = await conn.defineXML(guestXML({ name, uuid: randomUUID(), guest, mode: 'B', tick: 1, serial }));
    await dom.create();
    await trackAll();
    await waitForText(serial, 'GUEST-READY');
    await conn.close();
    conn = undefined;
    // The suspend job's first phase in a process that then dies; its guest action ran.
    const storePath = join(state, 'qemu', 'qemu.db');
    const holder = spawn(process.execPath, [JOB_HOLDER, storePath, dom.UUIDString()], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
      const store = new Store({ path: storePath });
      const rec = store.domainByName(name);
      store.close();
      assert.ok(rec !== undefined);
      const backend = new QemuGuests({ root: join(state, 'qemu') });
      try {
        await backend.suspend(rec);
      } finally {
        backend.close();
      }
    } finally {
      holder.kill('SIGKILL');
    }
    await new Promise<void>((resolve) => (holder.exitCode !== null || holder.signalCode !== null ? resolve() : holder.once('exit', () => resolve())));
    conn = await connect('qemu:///session');
    const back = await conn.lookupByName(name);
    assert.deepEqual(await back.state(), [DomainState.PAUSED, 1], "QEMU's run state, not the store's stale one");
    const ticks = aliveTicks(serial);
    await back.resume();
    assert.deepEqual(await back.state(), [DomainState.RUNNING, DomainRunningReason.UNPAUSED]);
    const deadline = Date.now() + 20_000;
    while (aliveTicks(serial) <= ticks) {
      assert.ok(Date.now() < deadline, 'the vCPUs do not run after resume');
      await sleep(100);
    }
    await back.destroy();
  });

  test('snapshot with memory, killed mid-job: the next open finds the guest running with its vCPUs running; a new snapshot succeeds', async () => {
    const name = 'q-snap-crash';
    const serial = join(state, `${name}.serial`);
    const disk = join(state, `${name}.qcow2`);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
    const diskXML = `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>`;
    conn = await connect('qemu:///session');
    const dom = await conn.defineXML(guestXML({ name, uuid: randomUUID(), guest, mode: 'B', tick: 1, memMiB: 256, serial, extraDevices: diskXML }));
    await dom.create();
    await trackAll();
    await waitForText(serial, 'GUEST-READY');
    const size0 = statSync(disk).size;
    // The job writes the guest's memory into the image: kill once it grows.
    const out = await killMidCall(name, 'snapshot', () => statSync(disk).size > size0);
    const back = await conn!.lookupByName(name);
    assert.equal((await back.state())[0], DomainState.RUNNING, out);
    const ticks = aliveTicks(serial);
    const deadline = Date.now() + 20_000;
    while (aliveTicks(serial) <= ticks) {
      assert.ok(Date.now() < deadline, "the guest's vCPUs do not run after the interrupted snapshot");
      await sleep(100);
    }
    await back.snapshotCreateXML('<domainsnapshot><name>after</name></domainsnapshot>');
    assert.ok((await back.snapshotListNames()).includes('after'));
    await back.suspend();
    await back.resume();
    assert.equal((await back.state())[0], DomainState.RUNNING);
  });
});

describe('tsvirtd killed during a managed save driven by a remote client (virsh), and restarted', { skip: skip || virshSkip(), timeout: 600_000 }, () => {
  const reaper = new Reaper();
  let dir: string;
  let guest: TestGuest;
  let d: RunningDaemon | undefined;
  const uri = () => `qemu+unix:///session?socket=${d?.rw ?? ''}`;

  before(async () => {
    dir = reaper.tempDir('tsvdm-');
    guest = await buildTestGuest(join(dir, 'guest'));
    d = await startDaemon({ dir });
  });

  after(async () => {
    if (d !== undefined) {
      for (const pid of guestPids(d.stateDir)) reaper.track(pid);
      virsh(uri(), 'destroy', 'qd-msave');
      await d.stop();
    }
    await reaper.cleanup();
  });

  test('3 kills of tsvirtd mid-save: after each restart the guest runs (save canceled), no image is left, and a new managed save succeeds', async () => {
    const name = 'qd-msave';
    const serial = join(dir, `${name}.serial`);
    const f = join(dir, `${name}.xml`);
    writeFileSync(f, guestXML({ name, uuid: randomUUID(), guest, mode: 'B', tick: 1, memMiB: 256, serial }));
    let r = virsh(uri(), 'define', f);
    assert.equal(r.code, 0, r.stderr);
    r = virsh(uri(), 'start', name);
    assert.equal(r.code, 0, r.stderr);
    for (const pid of guestPids((d as RunningDaemon).stateDir)) reaper.track(pid);
    await waitForText(serial, 'GUEST-READY');
    const saveDir = join((d as RunningDaemon).stateDir, 'qemu', 'save');
    mkdirSync(saveDir, { recursive: true, mode: 0o700 });
    for (let kill = 0; kill < 3; kill++) {
      const client = spawn('virsh', ['-c', uri(), 'managedsave', name], { stdio: 'ignore' });
      const clientExit = new Promise<void>((resolve) => client.once('exit', () => resolve()));
      try {
        const deadline = Date.now() + 60_000;
        while (readdirSync(saveDir).length === 0) {
          if (Date.now() > deadline || client.exitCode !== null) assert.fail(`no save image appeared (kill ${kill})`);
          await sleep(2);
        }
        (d as RunningDaemon).proc.kill('SIGKILL');
        await (d as RunningDaemon).stop();
        await clientExit;
      } finally {
        if (client.exitCode === null && client.signalCode === null) client.kill('SIGKILL');
      }
      d = await startDaemon({ dir });
      assert.equal(virsh(uri(), 'domstate', '--reason', name).stdout.trim(), 'running (save canceled)', `after kill ${kill}`);
      assert.equal(virsh(uri(), 'dominfo', name).stdout.match(/Managed save:\s+(\S+)/)?.[1], 'no');
      assert.deepEqual(readdirSync(saveDir), [], `no partial image left after kill ${kill}`);
      const ticks = aliveTicks(serial);
      const tickDeadline = Date.now() + 20_000;
      while (aliveTicks(serial) <= ticks) {
        assert.ok(Date.now() < tickDeadline, `the guest's vCPUs do not run after kill ${kill}`);
        await sleep(100);
      }
      r = virsh(uri(), 'managedsave', name);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(virsh(uri(), 'domstate', '--reason', name).stdout.trim(), 'shut off (saved)');
      r = virsh(uri(), 'start', name);
      assert.equal(r.code, 0, r.stderr);
      for (const pid of guestPids((d as RunningDaemon).stateDir)) reaper.track(pid);
      assert.equal(virsh(uri(), 'domstate', '--reason', name).stdout.trim(), 'running (restored)');
    }
  });
});
