/**
 * Live migration in the QEMU driver, at driver level: two QemuDriver instances in this process,
 * each with its own store and state directories (two "hosts"), migrate real TCG test guests over
 * 127.0.0.1 with libvirt's version-3 steps called in a client's order (Begin, Prepare, Perform,
 * Finish, Confirm). The guest's serial counter (guest.tick) shows it runs on across the move.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DomainLifecycleEvent, DomainRef, TypedParameter } from '../src/core/driver.js';
import {
  DomainEventDefinedDetailType as Defined,
  DomainEventResumedDetailType as Resumed,
  DomainEventStartedDetailType as Started,
  DomainEventStoppedDetailType as Stopped,
  DomainEventSuspendedDetailType as Suspended,
  DomainEventType as E,
  DomainEventUndefinedDetailType as Undefined,
  DomainJobType,
  DomainMigrateFlags as M,
  DomainRunningReason,
  DomainShutoffReason,
  DomainSnapshotCreateFlags,
  DomainState,
  ErrorDomain,
  ErrorNumber,
} from '../src/core/enums.generated.js';
import { QemuGuests } from '../src/drivers/qemu/backend.js';
import { QemuDriver } from '../src/drivers/qemu/qemu-driver.js';
import { Store } from '../src/store/store.js';
import { Reaper, buildTestGuest, guestXML, pidAlive, qemuSkipReason, readText, waitForText, type TestGuest } from './qemu-harness.js';
import { rejectsVir } from './support/fixtures.js';

const skip = qemuSkipReason();
const STRING = 7;

/** One "host": a QEMU driver on its own store and directories, and the events it emitted. */
interface Host {
  dir: string;
  driver: QemuDriver;
  events: DomainLifecycleEvent[];
}

async function openHost(dir: string): Promise<Host> {
  mkdirSync(dir, { recursive: true });
  const driver = new QemuDriver({
    uri: 'qemu:///session',
    store: new Store({ path: join(dir, 'qemu.db') }),
    backend: new QemuGuests({ root: join(dir, 'state'), runRoot: join(dir, 'run') }),
    version: 7002000,
    migration: { address: '127.0.0.1', host: '127.0.0.1' },
  });
  await driver.reconcile();
  const events: DomainLifecycleEvent[] = [];
  driver.subscribe((ev) => events.push(ev));
  return { dir, driver, events };
}

const str = (field: string, value: string): TypedParameter => ({ field, type: STRING, value });

/** The life-cycle events of `name` as [event, detail] pairs. */
function eventsOf(host: Host, name: string): [number, number][] {
  return host.events.filter((e) => e.domain.name === name).map((e) => [e.event, e.detail]);
}

/** Waits until `pred` holds (events are delivered after their commit). */
async function until(pred: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** The last GUEST-ALIVE count in a serial log, 0 when none. */
function lastTick(file: string): number {
  const all = [...readText(file).matchAll(/GUEST-ALIVE (\d+)/g)];
  return all.length === 0 ? 0 : Number(all[all.length - 1][1]);
}

/**
 * A client's managed direct migration (libvirt's virDomainMigrateVersion3Full): Begin, Prepare,
 * Perform, Finish (cancelled if Perform failed), Confirm (cancelled if Finish brought nothing).
 * `perform` runs alongside the Perform step (faults); Perform's error is rethrown at the end.
 */
async function migrate(
  src: Host,
  dst: Host,
  dom: DomainRef,
  flags: number,
  opts: { params?: TypedParameter[]; destXml?: string; perform?: () => Promise<void> } = {},
): Promise<DomainRef | null> {
  const params = opts.params ?? [];
  const begin = await src.driver.domainMigrateBegin3Params(dom, opts.destXml === undefined ? params : [...params, str('destination_xml', opts.destXml)], flags);
  const prep = await dst.driver.domainMigratePrepare3Params([...params, str('destination_xml', begin.xml)], begin.cookieOut, flags);
  let cookie: Buffer = Buffer.alloc(0);
  let failure: unknown;
  if ((flags & M.OFFLINE) === 0) {
    const performParams = prep.uriOut === null ? params : [...params, str('migrate_uri', prep.uriOut)];
    const running = src.driver.domainMigratePerform3Params(dom, null, performParams, prep.cookieOut, flags);
    const side = opts.perform?.();
    try {
      cookie = await running;
    } catch (err) {
      failure = err;
    }
    await side;
  }
  const fin = await dst.driver.domainMigrateFinish3Params([str('destination_name', dom.name)], cookie, flags, failure !== undefined);
  await src.driver.domainMigrateConfirm3Params(dom, [], fin.cookieOut, flags, fin.dom === null);
  if (failure !== undefined) throw failure;
  return fin.dom;
}

describe('QEMU driver live migration between two hosts on loopback', { skip, timeout: 600_000 }, () => {
  const reaper = new Reaper();
  let guest: TestGuest;
  let root: string;
  let src: Host;
  let dst: Host;

  before(async () => {
    root = reaper.tempDir('tsvmig-');
    guest = await buildTestGuest(join(root, 'guest'));
    src = await openHost(join(root, 'a'));
    dst = await openHost(join(root, 'b'));
  });

  after(async () => {
    for (const h of [src, dst]) {
      if (h === undefined) continue;
      for (const dom of await h.driver.listAllDomains(1).catch(() => [])) {
        const rt = h.driver.qemu.runtimeOf(dom.uuid);
        reaper.track(rt?.pid);
        await h.driver.domainDestroy(dom, 0).catch(() => undefined);
      }
      await h.driver.close().catch(() => undefined);
    }
    await reaper.cleanup();
  });

  /** A running guest on `host` (persistent unless `transient`), its serial log, and its counter ticking. */
  async function startGuest(host: Host, name: string, o: { transient?: boolean; memMiB?: number; extraDevices?: string } = {}): Promise<{ dom: DomainRef; serial: string; xml: (serial: string) => string }> {
    const uuid = randomUUID();
    const xml = (serial: string): string => guestXML({ name, uuid, guest, mode: 'B', tick: 1, serial, memMiB: o.memMiB ?? 128, extraDevices: o.extraDevices });
    const serial = join(host.dir, `${name}.serial`);
    let dom: DomainRef;
    if (o.transient === true) dom = await host.driver.createXML(xml(serial), 0);
    else dom = await host.driver.domainCreate(await host.driver.defineXML(xml(serial), 0), 0);
    reaper.track(host.driver.qemu.runtimeOf(uuid)?.pid);
    await waitForText(serial, /GUEST-ALIVE 1\b/);
    return { dom, serial, xml };
  }

  test('a running guest moves: its counter goes on from the destination, the source stops (STOPPED/MIGRATED), PERSIST_DEST defines it there, snapshot metadata moves with it', async () => {
    const name = 'mig-live';
    const g = await startGuest(src, name);
    const snap = `<domainsnapshot><name>s1</name><state>shutoff</state><creationTime>1700000000</creationTime></domainsnapshot>`;
    await src.driver.snapshotCreateXML(g.dom, snap, DomainSnapshotCreateFlags.REDEFINE | DomainSnapshotCreateFlags.CURRENT);
    const dstSerial = join(dst.dir, `${name}.serial`);
    const progress: number[] = [];
    const before = lastTick(g.serial);
    const moved = await migrate(src, dst, g.dom, M.LIVE | M.PERSIST_DEST, {
      // The destination writes the serial log into its own directory: a path, not ABI.
      destXml: g.xml(dstSerial),
      perform: async () => {
        const info = await src.driver.domainGetJobInfo(g.dom);
        progress.push(info.type);
      },
    });
    assert.ok(moved !== null);
    reaper.track(dst.driver.qemu.runtimeOf(moved.uuid)?.pid);
    // Destination: running, persistent, the same snapshot tree with its current snapshot.
    assert.deepEqual(await dst.driver.domainGetState(moved, 0), [DomainState.RUNNING, DomainRunningReason.MIGRATED]);
    assert.equal(await dst.driver.domainIsPersistent(moved), true);
    assert.deepEqual(await dst.driver.listAllSnapshots(moved, 0), ['s1']);
    assert.equal(await dst.driver.snapshotIsCurrent(moved, 's1', 0), true);
    // The guest was not booted again: its counter continues past where the source left it.
    await waitForText(dstSerial, /GUEST-ALIVE \d+/, 30_000);
    assert.doesNotMatch(readText(dstSerial), /GUEST-READY/);
    const first = Number(/GUEST-ALIVE (\d+)/.exec(readText(dstSerial))?.[1]);
    assert.ok(first > before, `destination counter ${first} after source's ${before}`);
    await until(() => lastTick(dstSerial) > first, 'the counter to go on at the destination', 20_000);
    // Source: shut off (migrated), still defined, its metadata gone with the domain.
    assert.deepEqual(await src.driver.domainGetState(g.dom, 0), [DomainState.SHUTOFF, DomainShutoffReason.MIGRATED]);
    assert.equal(await src.driver.snapshotNum(g.dom, 0), 0);
    const stats = await src.driver.domainGetJobStats(g.dom, 1);
    assert.equal(stats.type, DomainJobType.COMPLETED);
    assert.ok(stats.params.some((p) => p.field === 'downtime'), JSON.stringify(stats.params));
    assert.equal(stats.params.find((p) => p.field === 'operation')?.value, 5);
    // Events on both hosts, as libvirt's.
    await until(() => eventsOf(src, name).some(([e]) => e === E.STOPPED), 'STOPPED on the source');
    assert.deepEqual(eventsOf(src, name).slice(-2), [
      [E.SUSPENDED, Suspended.MIGRATED],
      [E.STOPPED, Stopped.MIGRATED],
    ]);
    await until(() => eventsOf(dst, name).length >= 3, 'events on the destination');
    assert.deepEqual(eventsOf(dst, name), [
      [E.STARTED, Started.MIGRATED],
      [E.RESUMED, Resumed.MIGRATED],
      [E.DEFINED, Defined.ADDED],
    ]);
    await dst.driver.domainDestroy(moved, 0);
    await dst.driver.domainUndefine(moved, 2);
    await src.driver.domainUndefine(g.dom, 0);
  });

  test('the destination QEMU killed mid-migration (1 MiB/s): Perform fails, the guest runs on at the source, nothing is left at the destination', async () => {
    const name = 'mig-kill';
    const g = await startGuest(src, name, { transient: true });
    const uuid = g.dom.uuid;
    await rejectsVir(
      migrate(src, dst, g.dom, M.LIVE, {
        params: [{ field: 'bandwidth', type: 4, value: 1 }],
        destXml: g.xml(join(dst.dir, `${name}.serial`)),
        perform: async () => {
          for (;;) {
            const info = await src.driver.domainGetJobInfo(g.dom);
            if (info.type === DomainJobType.UNBOUNDED && info.dataProcessed > 0) break;
            await sleep(20);
          }
          const pid = dst.driver.qemu.runtimeOf(uuid)?.pid;
          assert.ok(pid !== undefined);
          process.kill(pid, 'SIGKILL');
        },
      }),
      { code: ErrorNumber.OPERATION_FAILED, domain: ErrorDomain.QEMU, message: /job 'migration out' failed/ },
    );
    assert.deepEqual(await src.driver.domainGetState(g.dom, 0), [DomainState.RUNNING, DomainRunningReason.BOOTED]);
    const t = lastTick(g.serial);
    await until(() => lastTick(g.serial) > t, 'the source guest to tick on', 20_000);
    await rejectsVir(dst.driver.lookupByUUID(uuid), { code: ErrorNumber.NO_DOMAIN });
    assert.deepEqual(readdirSync(join(dst.dir, 'run')).filter((e) => e === uuid), []);
    // Nothing held at the destination either: the next attempt goes through.
    const moved = await migrate(src, dst, g.dom, M.LIVE, { destXml: g.xml(join(dst.dir, `${name}.serial`)) });
    assert.ok(moved !== null);
    reaper.track(dst.driver.qemu.runtimeOf(uuid)?.pid);
    await rejectsVir(src.driver.lookupByUUID(uuid), { code: ErrorNumber.NO_DOMAIN });
    await dst.driver.domainDestroy(moved, 0);
  });

  test('virDomainAbortJob cancels the migration ("job \'migration out\' canceled by client"); then a raised max speed lets the next one through, with PAUSED and UNDEFINE_SOURCE', async () => {
    const name = 'mig-abort';
    const g = await startGuest(src, name);
    const destXml = g.xml(join(dst.dir, `${name}.serial`));
    await src.driver.domainMigrateSetMaxSpeed(g.dom, 1, 0);
    await rejectsVir(
      migrate(src, dst, g.dom, M.LIVE | M.PERSIST_DEST, {
        destXml,
        perform: async () => {
          for (;;) {
            const info = await src.driver.domainGetJobInfo(g.dom);
            if (info.type === DomainJobType.UNBOUNDED && info.dataProcessed > 0) break;
            await sleep(20);
          }
          await src.driver.domainAbortJob(g.dom);
        },
      }),
      { code: ErrorNumber.OPERATION_ABORTED, message: "operation aborted: job 'migration out' canceled by client" },
    );
    assert.deepEqual((await src.driver.domainGetState(g.dom, 0))[0], DomainState.RUNNING);
    await rejectsVir(dst.driver.lookupByName(name), { code: ErrorNumber.NO_DOMAIN });
    // Again at 1 MiB/s, raised while it runs: it completes.
    const moved = await migrate(src, dst, g.dom, M.LIVE | M.PERSIST_DEST | M.PAUSED | M.UNDEFINE_SOURCE, {
      destXml,
      perform: async () => {
        for (;;) {
          const info = await src.driver.domainGetJobInfo(g.dom);
          if (info.type === DomainJobType.UNBOUNDED && info.dataProcessed > 0) break;
          await sleep(20);
        }
        await src.driver.domainMigrateSetMaxSpeed(g.dom, 100_000, 0);
      },
    });
    assert.ok(moved !== null);
    reaper.track(dst.driver.qemu.runtimeOf(moved.uuid)?.pid);
    assert.equal((await dst.driver.domainGetState(moved, 0))[0], DomainState.PAUSED);
    await rejectsVir(src.driver.lookupByName(name), { code: ErrorNumber.NO_DOMAIN });
    await until(() => eventsOf(src, name).some(([e]) => e === E.UNDEFINED), 'UNDEFINED on the source');
    assert.deepEqual(eventsOf(src, name).slice(-1), [[E.UNDEFINED, Undefined.REMOVED]]);
    await dst.driver.domainResume(moved);
    const dstSerial = join(dst.dir, `${name}.serial`);
    await waitForText(dstSerial, /GUEST-ALIVE \d+/, 30_000);
    await dst.driver.domainDestroy(moved, 0);
    await dst.driver.domainUndefine(moved, 0);
  });

  test('Prepare refuses up front: a disk missing at the destination, a domain already active there; nothing is started', async () => {
    const disk = join(root, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
    const name = 'mig-disk';
    const uuid = randomUUID();
    const withDisk = (file: string): string =>
      guestXML({
        name,
        uuid,
        guest,
        mode: 'B',
        serial: join(dst.dir, `${name}.serial`),
        extraDevices: `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${file}'/><target dev='vda' bus='virtio'/></disk>`,
      });
    await rejectsVir(dst.driver.domainMigratePrepare3Params([str('destination_xml', withDisk(join(root, 'nowhere.qcow2')))], Buffer.alloc(0), M.LIVE), {
      code: ErrorNumber.SYSTEM_ERROR,
      message: new RegExp(`Cannot access storage file '${join(root, 'nowhere.qcow2')}' \\(as uid:\\d+, gid:\\d+\\): No such file or directory`),
    });
    await rejectsVir(dst.driver.lookupByUUID(uuid), { code: ErrorNumber.NO_DOMAIN });
    const running = await startGuest(dst, 'mig-here');
    const xmlHere = running.xml(join(dst.dir, 'other.serial'));
    await rejectsVir(dst.driver.domainMigratePrepare3Params([str('destination_xml', xmlHere)], Buffer.alloc(0), M.LIVE), {
      code: ErrorNumber.OPERATION_INVALID,
      message: "Requested operation is not valid: domain 'mig-here' is already active",
    });
    await dst.driver.domainDestroy(running.dom, 0);
    await dst.driver.domainUndefine(running.dom, 0);
  });

  test('Begin refuses: destination_xml with another device set (libvirt\'s ABI words), flags tsvirt cannot honour, offline without PERSIST_DEST, UNDEFINE_SOURCE that would lose snapshot metadata', async () => {
    const name = 'mig-abi';
    const g = await startGuest(src, name, { transient: false });
    const twoSerials = g.xml(join(dst.dir, `${name}.serial`)).replace('</devices>', `<serial type='file'><source path='${join(dst.dir, 'x.serial')}'/><target port='1'/></serial></devices>`);
    await rejectsVir(src.driver.domainMigrateBegin3Params(g.dom, [str('destination_xml', twoSerials)], M.LIVE), {
      code: ErrorNumber.CONFIG_UNSUPPORTED,
      message: 'unsupported configuration: Target domain serial port count 2 does not match source 1',
    });
    const bigger = g.xml(join(dst.dir, `${name}.serial`)).replace("<memory unit='MiB'>128</memory>", "<memory unit='MiB'>256</memory>");
    await rejectsVir(src.driver.domainMigrateBegin3Params(g.dom, [str('destination_xml', bigger)], M.LIVE), {
      code: ErrorNumber.CONFIG_UNSUPPORTED,
      message: 'unsupported configuration: Target domain max memory 262144 does not match source 131072',
    });
    await rejectsVir(src.driver.domainMigrateBegin3Params(g.dom, [], M.LIVE | M.TUNNELLED), { code: ErrorNumber.ARGUMENT_UNSUPPORTED });
    await rejectsVir(src.driver.domainMigrateBegin3Params(g.dom, [], M.LIVE | M.NON_SHARED_DISK), { code: ErrorNumber.ARGUMENT_UNSUPPORTED });
    await rejectsVir(src.driver.domainMigrateBegin3Params(g.dom, [], 1 << 30), {
      code: ErrorNumber.INVALID_ARG,
      message: 'unsupported flags (0x40000000) in function qemuDomainMigrateBegin3Params',
    });
    await rejectsVir(src.driver.domainMigrateBegin3Params(g.dom, [], M.OFFLINE), {
      code: ErrorNumber.OPERATION_INVALID,
      message: 'Requested operation is not valid: offline migration must be specified with the persistent flag set',
    });
    const snap = `<domainsnapshot><name>s1</name><state>shutoff</state><creationTime>1700000000</creationTime></domainsnapshot>`;
    await src.driver.snapshotCreateXML(g.dom, snap, DomainSnapshotCreateFlags.REDEFINE);
    await rejectsVir(src.driver.domainMigrateBegin3Params(g.dom, [], M.LIVE | M.UNDEFINE_SOURCE), {
      code: ErrorNumber.OPERATION_INVALID,
      message: /cannot migrate domain with 1 snapshots and 0 checkpoints with VIR_MIGRATE_UNDEFINE_SOURCE but without VIR_MIGRATE_PERSIST_DEST/,
    });
    const external = `<domainsnapshot><name>s2</name><state>running</state><memory snapshot='external' file='${join(src.dir, 's2.mem')}'/><creationTime>1700000001</creationTime></domainsnapshot>`;
    await src.driver.snapshotCreateXML(g.dom, external, DomainSnapshotCreateFlags.REDEFINE);
    await rejectsVir(src.driver.domainMigrateBegin3Params(g.dom, [], M.LIVE | M.PERSIST_DEST), {
      code: ErrorNumber.OPERATION_INVALID,
      message: /cannot migrate domain with 1 snapshot whose memory state is an external file on this host/,
    });
    // Nothing changed: the guest runs on, unmigrated.
    assert.deepEqual((await src.driver.domainGetState(g.dom, 0))[0], DomainState.RUNNING);
    await src.driver.domainDestroy(g.dom, 0);
    await src.driver.domainUndefine(g.dom, 2);
  });

  test('offline migration with PERSIST_DEST and UNDEFINE_SOURCE: only the definition and its snapshot metadata move; no QEMU runs anywhere', async () => {
    const name = 'mig-offline';
    const uuid = randomUUID();
    const dom = await src.driver.defineXML(guestXML({ name, uuid, guest, mode: 'B', serial: join(src.dir, `${name}.serial`) }), 0);
    const snap = `<domainsnapshot><name>s1</name><state>shutoff</state><creationTime>1700000000</creationTime></domainsnapshot>`;
    await src.driver.snapshotCreateXML(dom, snap, DomainSnapshotCreateFlags.REDEFINE | DomainSnapshotCreateFlags.CURRENT);
    const moved = await migrate(src, dst, dom, M.OFFLINE | M.PERSIST_DEST | M.UNDEFINE_SOURCE);
    assert.ok(moved !== null);
    assert.equal(await dst.driver.domainIsActive(moved), false);
    assert.equal(await dst.driver.domainIsPersistent(moved), true);
    assert.deepEqual(await dst.driver.listAllSnapshots(moved, 0), ['s1']);
    assert.equal(await dst.driver.snapshotIsCurrent(moved, 's1', 0), true);
    await rejectsVir(src.driver.lookupByUUID(uuid), { code: ErrorNumber.NO_DOMAIN });
    await until(() => eventsOf(dst, name).length > 0 && eventsOf(src, name).length > 0, 'events');
    assert.deepEqual(eventsOf(dst, name), [[E.DEFINED, Defined.ADDED]]);
    assert.deepEqual(eventsOf(src, name).slice(-1), [[E.UNDEFINED, Undefined.REMOVED]]);
    await dst.driver.domainUndefine(moved, 2);
  });

  test('a destination daemon that dies between Prepare and Finish: its next open kills the incoming QEMU and forgets the domain', async () => {
    const name = 'mig-crash';
    const g = await startGuest(src, name, { transient: true });
    const begin = await src.driver.domainMigrateBegin3Params(g.dom, [str('destination_xml', g.xml(join(dst.dir, `${name}.serial`)))], M.LIVE);
    const prep = await dst.driver.domainMigratePrepare3Params([str('destination_xml', begin.xml)], begin.cookieOut, M.LIVE);
    assert.match(prep.uriOut ?? '', /^tcp:127\.0\.0\.1:(491[5-9]\d|492[01]\d)$/);
    const pid = dst.driver.qemu.runtimeOf(g.dom.uuid)?.pid;
    assert.ok(pid !== undefined && pidAlive(pid));
    reaper.track(pid);
    // The daemon stops (its guests keep running); a new one opens the same state.
    await dst.driver.close();
    dst = await openHost(dst.dir);
    await rejectsVir(dst.driver.lookupByUUID(g.dom.uuid), { code: ErrorNumber.NO_DOMAIN });
    await until(() => !pidAlive(pid), 'the incoming QEMU to be gone');
    // The source was never touched: Confirm cancelled leaves it running.
    await src.driver.domainMigrateConfirm3Params(g.dom, [], Buffer.alloc(0), M.LIVE, true);
    assert.deepEqual((await src.driver.domainGetState(g.dom, 0))[0], DomainState.RUNNING);
    await src.driver.domainDestroy(g.dom, 0);
  });
});
