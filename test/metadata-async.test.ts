/**
 * The metadata driver with a backend that answers later, as a real hypervisor does: the domain's
 * job is held across the action (other callers wait, other processes are refused), exits noticed
 * on their own are recorded with R5 applied (also when they arrive during a call), reconciliation
 * at open processes guests that vanished, and a failed action changes nothing.
 *
 * The backend here is the simulator slowed down: it exercises the driver's sequencing, which is
 * the driver's own; real QEMU is exercised by the QEMU driver's tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Connection, DomainEventID, DomainEventType, DomainState, ErrorDomain, ErrorNumber, connect, type DomainRef } from '../src/index.js';
import { MetadataDriver } from '../src/drivers/metadata/driver.js';
import type { GuestBackend, GuestExit, PowerButtonResult } from '../src/drivers/metadata/guest.js';
import { metadataOnlySnapshots } from '../src/drivers/metadata/snapshots.js';
import { Store } from '../src/store/store.js';
import { testSessionStorePath } from '../src/drivers/test/driver.js';
import { domainXML, rejectsVir, snapshotXML, tempStateDir } from './support/fixtures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The simulator, answering after `delayMs`, with a hook to fail or to report exits. */
class SlowGuests implements GuestBackend {
  readonly functionPrefix = 'test';
  readonly errorDomain = ErrorDomain.TEST;
  readonly type = 'TEST';
  readonly snapshots = metadataOnlySnapshots(this);
  readonly supported = { defineXML: 0, createXML: 1, create: 1, shutdown: 0, destroy: 0, reboot: 0, undefine: 3, getXMLDesc: 2, managedSave: 0, snapshotCreateXML: 8, snapshotGetXMLDesc: 0, revertToSnapshot: 7, snapshotDelete: 5 };
  running = new Set<string>();
  failNext = false;
  log: string[] = [];
  private exitListener: ((uuid: string, how: GuestExit) => void) | undefined;
  constructor(private readonly delayMs = 30) {}
  checkDefinition(): void {}
  private async step(what: string, uuid: string): Promise<void> {
    this.log.push(`${what}:begin`);
    await sleep(this.delayMs);
    if (this.failNext) {
      this.failNext = false;
      throw new Error(`${what} failed`);
    }
    this.log.push(`${what}:end`);
    void uuid;
  }
  async start(rec: { uuid: string }): Promise<string> {
    await this.step('start', rec.uuid);
    this.running.add(rec.uuid);
    return JSON.stringify({ pid: 4242 });
  }
  async powerButton(): Promise<PowerButtonResult> {
    return 'requested';
  }
  async kill(rec: { uuid: string }): Promise<void> {
    await this.step('kill', rec.uuid);
    this.running.delete(rec.uuid);
  }
  async suspend(): Promise<void> {}
  async resume(): Promise<void> {}
  async reboot(): Promise<void> {}
  async saveMemory(rec: { uuid: string }): Promise<string> {
    await this.step('save', rec.uuid);
    this.running.delete(rec.uuid);
    return `/images/${rec.uuid}.save`;
  }
  async removeImage(image: string): Promise<void> {
    this.log.push(`remove ${image}`);
  }
  async isRunning(rec: { uuid: string }): Promise<boolean> {
    return this.running.has(rec.uuid);
  }
  onExit(listener: (uuid: string, how: GuestExit) => void): void {
    this.exitListener = listener;
  }
  /** The guest powers itself off. */
  exit(uuid: string, how: GuestExit): void {
    this.running.delete(uuid);
    this.exitListener?.(uuid, how);
  }
}

async function open(dir: string, backend: SlowGuests): Promise<Connection> {
  const store = new Store({ path: testSessionStorePath({ TSVIRT_STATE_DIR: dir }) });
  const driver = new MetadataDriver({ uri: 'slow:///session', store, backend, version: 1 });
  await driver.reconcile();
  return new Connection(driver, { readonly: false });
}

test('jobs: calls on one domain wait for each other; another process meets the lock error', async () => {
  const state = tempStateDir();
  const backend = new SlowGuests(60);
  const conn = await open(state.dir, backend);
  const prev = process.env.TSVIRT_STATE_DIR;
  process.env.TSVIRT_STATE_DIR = state.dir;
  const other = await connect('test:///session');
  try {
    const dom = await conn.defineXML(domainXML('slow'));
    const starting = dom.create();
    await sleep(20);
    // Another connection (its own store handle, like another process) is refused while the job runs.
    const seen = await other.lookupByName('slow');
    await rejectsVir(seen.destroy(), {
      code: ErrorNumber.OPERATION_TIMEOUT,
      message: 'Timed out during operation: cannot acquire state change lock (held by virDomainCreateWithFlags)',
    });
    // A second call through the same driver waits for the first, then runs.
    const destroying = dom.destroy();
    await starting;
    await destroying;
    assert.deepEqual(backend.log, ['start:begin', 'start:end', 'kill:begin', 'kill:end']);
    assert.equal((await dom.state())[0], DomainState.SHUTOFF);
    // The job is released: the other connection may act now.
    await seen.create();
  } finally {
    await other.close();
    await conn.close();
    if (prev === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = prev;
    state.cleanup();
  }
});

test('R5 with a real-style backend: a transient guest that powers itself off takes its snapshots along', async () => {
  const state = tempStateDir();
  const backend = new SlowGuests(5);
  const conn = await open(state.dir, backend);
  try {
    const seen: [string, number, number][] = [];
    conn.domainEventRegisterAny(null, DomainEventID.LIFECYCLE, (_c, d, e, detail) => seen.push([d.name(), e, detail]));
    const dom = await conn.createXML(domainXML('selfoff'));
    await dom.snapshotCreateXML(snapshotXML('a'));
    backend.exit(dom.UUIDString(), 'shutdown');
    await rejectsVir(conn.lookupByName('selfoff'), { code: ErrorNumber.NO_DOMAIN });
    assert.deepEqual(seen.slice(-2), [
      ['selfoff', DomainEventType.SHUTDOWN, 1 /* GUEST */],
      ['selfoff', DomainEventType.STOPPED, 0 /* SHUTDOWN */],
    ]);
    const again = await conn.createXML(domainXML('selfoff', { uuid: dom.UUIDString() }));
    assert.equal(await again.snapshotNum(), 0);
    // A persistent guest whose process dies is recorded as crashed, and stays defined.
    const keeper = await conn.defineXML(domainXML('keeper'));
    await keeper.create();
    backend.exit(keeper.UUIDString(), 'crashed');
    assert.deepEqual(await keeper.state(), [DomainState.SHUTOFF, 3 /* CRASHED */]);
  } finally {
    await conn.close();
    state.cleanup();
  }
});

test('an exit noticed during a call is processed after it; a failed action changes nothing', async () => {
  const state = tempStateDir();
  const backend = new SlowGuests(40);
  const conn = await open(state.dir, backend);
  try {
    const dom = await conn.defineXML(domainXML('racy'));
    await dom.create();
    const suspending = dom.suspend();
    backend.exit(dom.UUIDString(), 'shutdown');
    await suspending;
    assert.deepEqual(await dom.state(), [DomainState.SHUTOFF, 1 /* SHUTDOWN */]);

    backend.failNext = true;
    await assert.rejects(dom.create(), /start failed/);
    assert.deepEqual(await dom.state(), [DomainState.SHUTOFF, 1]);
    await dom.create(); // the job was released
    await dom.managedSave();
    assert.equal(await dom.hasManagedSaveImage(), true);
    await dom.create();
    assert.ok(backend.log.includes(`remove /images/${dom.UUIDString()}.save`), 'the image file is removed after the restore is recorded');
  } finally {
    await conn.close();
    state.cleanup();
  }
});

test('reconcile at open: a guest that vanished while nobody watched is processed as stopped (R5)', async () => {
  const state = tempStateDir();
  const first = new SlowGuests(1);
  let conn = await open(state.dir, first);
  let ref: DomainRef;
  try {
    const dom = await conn.createXML(domainXML('ghost'));
    await dom.snapshotCreateXML(snapshotXML('s'));
    ref = { name: dom.name(), uuid: dom.UUIDString(), id: dom.ID() };
    const keep = await conn.defineXML(domainXML('kept'));
    await keep.create();
  } finally {
    await conn.close();
  }
  // A new process whose backend finds no guest running.
  conn = await open(state.dir, new SlowGuests(1));
  try {
    await rejectsVir(conn.lookupByUUIDString(ref.uuid), { code: ErrorNumber.NO_DOMAIN });
    const kept = await conn.lookupByName('kept');
    assert.deepEqual(await kept.state(), [DomainState.SHUTOFF, 0 /* UNKNOWN */]);
  } finally {
    await conn.close();
    state.cleanup();
  }
});
