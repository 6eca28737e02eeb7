/**
 * The QEMU driver's save files, rename, pinning, metadata, CPU models, fsinfo and interface
 * addresses with real TCG guests on qemu:///session: a guest saved to a file and restored goes
 * on (its serial shell answers), a paused one comes back paused, a rename outlives reopening
 * the store, pinning changes the threads' Cpus_allowed_list, and the bad inputs fail as libvirt.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import Database from 'better-sqlite3';
import { DomainConsoleFlags, DomainMetadataType, DomainState, ErrorDomain, ErrorNumber, connect, type Connection, type Domain } from '../src/index.js';
import type { HypervisorDriver } from '../src/core/driver.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, type TestGuest } from './qemu-harness.js';
import { rejectsVir } from './support/fixtures.js';

const skip = qemuSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The running guest's QEMU pid, from the driver's store. */
function pidOf(state: string, uuid: string): number {
  const db = new Database(join(state, 'qemu', 'qemu.db'), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT runtime FROM domains WHERE uuid = ?').get(uuid) as { runtime: string | null } | undefined;
    assert.ok(row?.runtime, 'the guest runs');
    return (JSON.parse(row.runtime) as { pid: number }).pid;
  } finally {
    db.close();
  }
}

/** Cpus_allowed_list of a thread. */
function allowed(pid: number, tid: number): string {
  const m = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8'));
  return m?.[1] ?? '';
}

/** Each thread of a process with its Cpus_allowed_list. */
function affinities(pid: number): Map<number, string> {
  return new Map(readdirSync(`/proc/${pid}/task`).map((t) => [Number(t), allowed(pid, Number(t))]));
}

/** Types a command whose output the typed line does not contain, and waits for it on the console. */
async function answers(io: Duplex, tag: string): Promise<void> {
  let text = '';
  const onData = (d: Buffer) => (text += d.toString('latin1'));
  io.on('data', onData);
  try {
    const n = Math.floor(Math.random() * 1000);
    const marker = `${tag}-${n + 1}-ok`;
    const deadline = Date.now() + 90_000;
    let typed = 0;
    while (!text.includes(marker)) {
      // The shell may still be starting: type again now and then.
      if (Date.now() >= typed + 5000) {
        io.write(`echo ${tag}-$((${n}+1))-ok\n`);
        typed = Date.now();
      }
      if (Date.now() > deadline) throw new Error(`no answer '${marker}' from the guest; it said:\n${text.slice(-1000)}`);
      await sleep(50);
    }
  } finally {
    io.off('data', onData);
  }
}

describe('QEMU: save to a file, restore, rename, pinning, metadata (real guests)', { skip, timeout: 600_000 }, () => {
  const reaper = new Reaper();
  let guest: TestGuest;
  let state: string;
  let previous: string | undefined;
  let conn: Connection;
  let drv: HypervisorDriver;
  const open: Duplex[] = [];

  before(async () => {
    state = reaper.tempDir('tsvqm-');
    guest = await buildTestGuest(join(state, 'guest'));
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = state;
    conn = await connect('qemu:///session');
    drv = conn.driverFor('test');
  });

  after(async () => {
    for (const io of open) io.destroy();
    if (conn !== undefined) {
      for (const dom of await conn.listAllDomains(1).catch(() => [])) await dom.destroy().catch(() => undefined);
      await conn.close().catch(() => undefined);
    }
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    await reaper.cleanup();
  });

  const shellGuest = (name: string, uuid: string): string => guestXML({ name, uuid, guest, mode: 'B', shell: true, serial: '', pty: { log: false } });
  const consoleOf = async (dom: Domain): Promise<Duplex> => {
    const io = await drv.domainOpenConsole!(dom.ref, null, DomainConsoleFlags.FORCE);
    open.push(io);
    return io;
  };
  const started = async (dom: Domain): Promise<void> => {
    await dom.create();
    reaper.track(pidOf(state, dom.UUIDString()));
  };

  test('save to a file and restore: the guest goes on; bad input changes nothing', async () => {
    const uuid = randomUUID();
    const dom = await conn.defineXML(shellGuest('qm-save', uuid));
    await started(dom);
    await answers(await consoleOf(dom), 'before');
    const file = join(state, 'qm-save.img');

    // Bad input first: nothing changes, the guest runs on.
    await rejectsVir(dom.save(join(state, 'no', 'such', 'dir', 'x.img')), {
      code: ErrorNumber.SYSTEM_ERROR,
      domain: ErrorDomain.QEMU,
      message: `Failed to create file '${join(state, 'no', 'such', 'dir', 'x.img')}': No such file or directory`,
    });
    assert.deepEqual(await dom.state(), [DomainState.RUNNING, 1]);
    await rejectsVir(conn.restore(file), { code: ErrorNumber.SYSTEM_ERROR, domain: ErrorDomain.QEMU });
    const junk = join(state, 'junk.img');
    writeFileSync(junk, 'not a save image, just some bytes '.repeat(4));
    await rejectsVir(conn.restore(junk), { code: ErrorNumber.OPERATION_FAILED, domain: ErrorDomain.QEMU, message: 'operation failed: image magic is incorrect' });

    await dom.save(file);
    assert.deepEqual(await dom.state(), [DomainState.SHUTOFF, 5]); // SAVED
    assert.ok(existsSync(file) && !existsSync(`${file}.part`));
    assert.match(await conn.saveImageGetXMLDesc(file), /<name>qm-save<\/name>/);

    await conn.restore(file);
    assert.deepEqual(await dom.state(), [DomainState.RUNNING, 3]); // RESTORED
    reaper.track(pidOf(state, uuid));
    // Restoring while it runs is refused.
    await rejectsVir(conn.restore(file), {
      code: ErrorNumber.OPERATION_INVALID,
      domain: ErrorDomain.DOMAIN,
      message: "Requested operation is not valid: domain 'qm-save' is already active",
    });
    await answers(await consoleOf(dom), 'after');
    await dom.destroy();
  });

  test('a paused guest saved to a file comes back paused; RUNNING overrides it', async () => {
    const uuid = randomUUID();
    const dom = await conn.createXML(shellGuest('qm-paused', uuid));
    reaper.track(pidOf(state, uuid));
    await answers(await consoleOf(dom), 'booted');
    await dom.suspend();
    const file = join(state, 'qm-paused.img');
    await dom.save(file);
    // A transient domain is gone after its save, as in libvirt.
    await rejectsVir(conn.lookupByName('qm-paused'), { code: ErrorNumber.NO_DOMAIN });
    await conn.restore(file);
    const back = await conn.lookupByName('qm-paused');
    reaper.track(pidOf(state, uuid));
    assert.equal((await back.state())[0], DomainState.PAUSED);
    assert.equal(await back.isPersistent(), false);
    await back.destroy();
    await conn.restoreFlags(file, null, 2 /* VIR_DOMAIN_SAVE_RUNNING */);
    const again = await conn.lookupByName('qm-paused');
    reaper.track(pidOf(state, uuid));
    assert.equal((await again.state())[0], DomainState.RUNNING);
    await answers(await consoleOf(again), 'resumed');
    await again.destroy();
  });

  test('pinning sets the vCPU and emulator threads\' affinity and is kept in <cputune>', async (t) => {
    const cpus = readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(\S+)$/m)?.[1];
    if (cpus !== '0-1' && cpus !== '0-3' && cpus !== '0-7') return t.skip(`needs CPUs 0 and 1 (this process may use ${cpus})`);
    const uuid = randomUUID();
    const dom = await conn.defineXML(shellGuest('qm-pin', uuid));
    await started(dom);
    const pid = pidOf(state, uuid);
    assert.ok([...affinities(pid).values()].every((a) => a === cpus));
    await dom.pinVcpu(0, [false, true]);
    // Exactly one thread, the vCPU's, is now on CPU 1 only.
    const pinned = [...affinities(pid)].filter(([, a]) => a === '1').map(([t]) => t);
    assert.equal(pinned.length, 1, JSON.stringify([...affinities(pid)]));
    const tid = pinned[0] as number;
    assert.notEqual(tid, pid, 'the main thread is the emulator\'s');
    await dom.pinEmulator([true, false]);
    for (const [t, a] of affinities(pid)) assert.equal(a, t === tid ? '1' : '0', `thread ${t}`);
    assert.deepEqual((await dom.emulatorPinInfo(0, 2)), [true, false]);
    const live = await dom.XMLDesc(0);
    assert.match(live, /<cputune>\s*<vcpupin vcpu='0' cpuset='1'\/>\s*<emulatorpin cpuset='0'\/>\s*<\/cputune>/, live);
    // The persistent definition is untouched by live pins; CONFIG pins it.
    assert.doesNotMatch(await dom.XMLDesc(2), /vcpupin/);
    await dom.pinVcpuFlags(0, [true, true], 2);
    assert.match(await dom.XMLDesc(2), /<vcpupin vcpu='0' cpuset='0-1'\/>/);
    await rejectsVir(dom.pinVcpuFlags(0, [false, false], 1), { code: ErrorNumber.INVALID_ARG, message: 'invalid argument: Empty cpu list for pinning' });
    await rejectsVir(dom.pinVcpuFlags(3, [true], 1), { code: ErrorNumber.INVALID_ARG, domain: ErrorDomain.QEMU });
    await dom.destroy();
  });

  test('rename: refused with snapshots or while running; kept when the store is opened again', async () => {
    const uuid = randomUUID();
    const dom = await conn.defineXML(shellGuest('qm-old', uuid));
    await conn.defineXML(shellGuest('qm-taken', randomUUID()));
    await rejectsVir(dom.rename('qm-taken'), {
      code: ErrorNumber.OPERATION_INVALID,
      domain: ErrorDomain.DOMAIN,
      message: "Requested operation is not valid: domain with name 'qm-taken' already exists",
    });
    await dom.setMetadata(DomainMetadataType.ELEMENT, '<tag>kept</tag>', 'app', 'http://example.org/app/', 0);
    await dom.snapshotCreateXML(
      `<domainsnapshot><name>s1</name><state>shutoff</state><creationTime>1700000000</creationTime>${await dom.XMLDesc(2)}</domainsnapshot>`,
      1, // VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE: metadata only
    );
    assert.equal(await dom.snapshotNum(), 1);
    {
      await rejectsVir(dom.rename('qm-new'), { code: ErrorNumber.OPERATION_INVALID, message: 'Requested operation is not valid: cannot rename domain with snapshots' });
      for (const s of await dom.listAllSnapshots()) await s.delete();
    }
    await dom.rename('qm-new');
    assert.equal(dom.name(), 'qm-new');
    await conn.close();
    conn = await connect('qemu:///session');
    drv = conn.driverFor('test');
    const again = await conn.lookupByName('qm-new');
    assert.equal(again.UUIDString(), uuid);
    await rejectsVir(conn.lookupByName('qm-old'), { code: ErrorNumber.NO_DOMAIN });
    assert.equal(await again.metadata(DomainMetadataType.ELEMENT, 'http://example.org/app/'), '<tag>kept</tag>');
    assert.match(await again.XMLDesc(2), /<name>qm-new<\/name>/);
    await started(again);
    await rejectsVir(again.rename('qm-x'), { code: ErrorNumber.OPERATION_INVALID, message: 'Requested operation is not valid: cannot rename active domain' });
    await again.destroy();
  });

  test('CPU models from the emulator; fsinfo and the agent need a guest agent; leases need libvirt networks', async () => {
    const models = await conn.getCPUModelNames('x86_64');
    assert.ok(models.includes('qemu64') && models.includes('Haswell-v1'), models.join(' '));
    await rejectsVir(conn.getCPUModelNames('bogus'), { code: ErrorNumber.INVALID_ARG, domain: ErrorDomain.QEMU });
    const uuid = randomUUID();
    const dom = await conn.createXML(shellGuest('qm-net', uuid));
    reaper.track(pidOf(state, uuid));
    await rejectsVir(dom.fsInfo(), { code: ErrorNumber.ARGUMENT_UNSUPPORTED, message: 'argument unsupported: QEMU guest agent is not configured' });
    await rejectsVir(dom.interfaceAddresses(1), { code: ErrorNumber.ARGUMENT_UNSUPPORTED, message: 'argument unsupported: QEMU guest agent is not configured' });
    assert.deepEqual(await dom.interfaceAddresses(0), []);
    assert.deepEqual(await dom.interfaceAddresses(2), []);
    await rejectsVir(dom.interfaceAddresses(3), { code: ErrorNumber.ARGUMENT_UNSUPPORTED, message: 'argument unsupported: Unknown IP address data source 3' });
    await dom.destroy();
  });
});
