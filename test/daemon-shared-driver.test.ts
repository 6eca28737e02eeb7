/**
 * One driver per URI for all of tsvirtd's clients, as libvirtd runs one per hypervisor.
 *
 * - The pool itself (connect() with a DriverPool, and tsvirtd's clients): connections of one URI
 *   share one driver, each keeps its own read-only flag and event registrations, the last close
 *   closes the driver, and test:///default is fresh once nobody holds it.
 * - 16 clients on qemu:///session with real TCG guests: listeners registered before the guests
 *   start (real virsh, real python3-libvirt, tsvirt's remote driver on both sockets) and actors
 *   suspending, resuming, shutting down, destroying and starting three guests at once, through
 *   their own long-lived connections and through one-shot virsh runs that connect while the
 *   guests run. Every call succeeds (no client is locked out of a guest's monitor) and every
 *   listener receives every lifecycle event of every guest, all in one order.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, DriverPool, VirError, DomainEventID, DomainState, ErrorNumber, type Connection, type Domain } from '../src/index.js';
import { Daemon } from '../src/daemon/server.js';
import { Logger } from '../src/daemon/log.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, readText, waitForText, type TestGuest } from './qemu-harness.js';
import { guestPids, pythonLibvirtSkip, startDaemon, virshSkip, type RunningDaemon } from './support/daemon-harness.js';

const DOMAIN_XML = (name: string) =>
  `<domain type='test'><name>${name}</name><uuid>${randomUUID()}</uuid><memory>8192</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`;

/** Events as "name event detail", in arrival order. */
function record(conn: Connection, into: string[]): number {
  return conn.domainEventRegisterAny(null, DomainEventID.LIFECYCLE, (_c, dom, event, detail) => {
    into.push(`${dom.name()} ${event} ${detail}`);
  });
}

async function rejectsCode(p: Promise<unknown>, code: number): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof VirError && err.code === code);
}

describe('a driver pool shares one driver per URI', () => {
  test('connect() with a pool: one driver for two connections, closed by the last; test:///default fresh after', async () => {
    const pool = new DriverPool();
    const [a, b] = await Promise.all([connect('test:///default', { pool }), connect('test:///default', { pool, readonly: true })]);
    try {
      assert.equal(a.driverFor('t'), b.driverFor('t'), 'one driver for both');
      assert.deepEqual([...pool.usage()], [['test:///default', 2]]);
      // A query string names the same hypervisor.
      const c = await connect('test:///default?x=1', { pool });
      assert.equal(c.driverFor('t'), a.driverFor('t'));
      await c.close();

      const seenByB: string[] = [];
      const seenByA: string[] = [];
      const idA = record(a, seenByA);
      record(b, seenByB);
      await a.defineXML(DOMAIN_XML('pooled'));
      assert.deepEqual((await b.listDefinedDomains()).sort(), ['pooled']);
      assert.deepEqual(seenByB, ['pooled 0 0'], 'the other connection hears the event');
      // Read-only is the connection's, not the driver's.
      await rejectsCode(b.defineXML(DOMAIN_XML('denied')), ErrorNumber.OPERATION_DENIED);
      a.domainEventDeregisterAny(idA);

      const driver = a.driverFor('t');
      await a.close();
      assert.deepEqual([...pool.usage()], [['test:///default', 1]]);
      assert.equal(await driver.isAlive(), true, 'still open for the other connection');
      await rejectsCode(a.listAllDomains(), ErrorNumber.INVALID_CONN);
      assert.deepEqual((await b.listDefinedDomains()).sort(), ['pooled']);

      await b.close();
      assert.equal(pool.usage().size, 0);
      assert.equal(await driver.isAlive(), false, 'the last close closed the driver');
    } finally {
      await a.close();
      await b.close();
    }
    const fresh = await connect('test:///default', { pool });
    try {
      assert.deepEqual(await fresh.listDefinedDomains(), [], 'a new driver once nobody held the old one');
      assert.deepEqual((await fresh.listAllDomains()).map((d) => d.name()), ['test']);
    } finally {
      await fresh.close();
    }
    assert.equal(pool.usage().size, 0);
  });

  test('a closed connection hears no more events; the others still do', async () => {
    const pool = new DriverPool();
    const a = await connect('test:///default', { pool });
    const b = await connect('test:///default', { pool });
    try {
      const seenByA: string[] = [];
      const seenByB: string[] = [];
      record(a, seenByA);
      record(b, seenByB);
      const it = a.events();
      await a.close();
      assert.deepEqual(await it.next(), { value: undefined, done: true }, 'its iterator ended');
      await (await b.lookupByName('test')).suspend();
      assert.deepEqual(seenByA, []);
      assert.deepEqual(seenByB, ['test 3 0']);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('without a pool every connect() opens its own driver, as before', async () => {
    const a = await connect('test:///default');
    const b = await connect('test:///default');
    try {
      assert.notEqual(a.driverFor('t'), b.driverFor('t'));
      await a.defineXML(DOMAIN_XML('mine'));
      assert.deepEqual(await b.listDefinedDomains(), []);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('URIs no driver serves fail as without a pool, and leave nothing in it', async () => {
    const pool = new DriverPool();
    for (const uri of ['test:///nope', 'test://host/default', 'qemu:///nope', 'vbox:///system', 'nosuch:///x', 'not a uri']) {
      await assert.rejects(connect(uri, { pool }), (err: unknown) => {
        assert.ok(err instanceof VirError);
        assert.equal(err.code, ErrorNumber.NO_CONNECT);
        assert.equal(err.message, `no connection driver available for ${uri}`);
        return true;
      });
    }
    assert.equal(pool.usage().size, 0);
  });

  test('a driver that fails to open fails every connection waiting for it, and is not kept', async () => {
    const pool = new DriverPool();
    const saved = process.env.TSVIRT_VBOXMANAGE;
    process.env.TSVIRT_VBOXMANAGE = '/nonexistent/VBoxManage';
    try {
      const results = await Promise.allSettled([connect('vbox:///session', { pool }), connect('vbox:///session', { pool })]);
      for (const r of results) {
        assert.equal(r.status, 'rejected');
        const err = (r as PromiseRejectedResult).reason as unknown;
        assert.ok(err instanceof VirError && err.code === ErrorNumber.INTERNAL_ERROR, String(err));
        assert.match(err.message, /unable to initialize VirtualBox driver API/);
      }
      assert.equal(pool.usage().size, 0);
    } finally {
      if (saved === undefined) delete process.env.TSVIRT_VBOXMANAGE;
      else process.env.TSVIRT_VBOXMANAGE = saved;
    }
  });

  test('test:///session through tsvirtd: every client on one driver, released client by client', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvsd-'));
    const savedState = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = join(dir, 'state');
    const daemon = new Daemon({ socketDir: join(dir, 'sock'), log: new Logger('error') });
    const conns: Connection[] = [];
    try {
      await daemon.start();
      const uri = (ro: boolean) => `test+unix:///session?socket=${ro ? daemon.roPath : daemon.rwPath}`;
      for (let i = 0; i < 4; i++) conns.push(await connect(uri(i % 2 === 1)));
      conns.push(await connect(`test+unix:///default?socket=${daemon.rwPath}`));
      assert.deepEqual(
        [...daemon.driverUsage()].sort(),
        [
          ['test:///default', 1],
          ['test:///session', 4],
        ],
      );
      const heard: string[][] = conns.slice(0, 4).map(() => []);
      conns.slice(0, 4).forEach((c, i) => record(c, heard[i]!));
      // A call after the registration waits for it (remote driver), so no event is missed.
      await Promise.all(conns.map((c) => c.numOfDomains()));
      const dom = await conns[0]!.defineXML(DOMAIN_XML('shared'));
      await rejectsCode(conns[1]!.defineXML(DOMAIN_XML('ro')), ErrorNumber.OPERATION_DENIED);
      await (await conns[2]!.lookupByName('shared')).create();
      assert.deepEqual(await (await conns[3]!.lookupByName('shared')).state(), [DomainState.RUNNING, 1]);
      await dom.destroy();
      await (await conns[2]!.lookupByName('shared')).undefine();
      const deadline = Date.now() + 5000;
      while (heard.some((h) => h.length < 4) && Date.now() < deadline) await sleep(10);
      for (const h of heard) assert.deepEqual(h, ['shared 0 0', 'shared 2 0', 'shared 5 1', 'shared 1 0']);

      await conns.shift()!.close();
      await conns.shift()!.close();
      await waitFor(() => daemon.driverUsage().get('test:///session') === 2, 'two session clients left');
      await Promise.all(conns.splice(0).map((c) => c.close()));
      await waitFor(() => daemon.driverUsage().size === 0, 'every driver closed with its last client');
    } finally {
      await Promise.all(conns.map((c) => c.close()));
      await daemon.stop();
      if (savedState === undefined) delete process.env.TSVIRT_STATE_DIR;
      else process.env.TSVIRT_STATE_DIR = savedState;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function waitFor(cond: () => boolean, what: string | (() => string), timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out: ${typeof what === 'string' ? what : what()}`);
    await sleep(10);
  }
}

// --- 16 clients, real guests ------------------------------------------------------------------

const skip = qemuSkipReason() || virshSkip() || pythonLibvirtSkip();

/** Prints every lifecycle event as "name event detail", after READY once registered. */
const PY_LISTENER = String.raw`
import libvirt, sys
libvirt.virEventRegisterDefaultImpl()
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.openReadOnly(sys.argv[1])
def cb(conn, dom, event, detail, opaque):
    print('%s %d %d' % (dom.name(), event, detail), flush=True)
c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, cb, None)
print('READY', flush=True)
while True:
    libvirt.virEventRunDefaultImpl()
`;

/** virsh's words for the events and details a run raises (tools/virsh-domain-event.c). */
const VIRSH_EVENTS: Record<string, [number, string[]]> = {
  Defined: [0, ['Added', 'Updated', 'Renamed', 'Snapshot']],
  Undefined: [1, ['Removed', 'Renamed']],
  Started: [2, ['Booted', 'Migrated', 'Restored', 'Snapshot', 'Event wakeup']],
  Suspended: [3, ['Paused', 'Migrated', 'I/O Error', 'Watchdog', 'Restored', 'Snapshot', 'API error']],
  Resumed: [4, ['Unpaused', 'Migrated', 'Snapshot']],
  Stopped: [5, ['Shutdown', 'Destroyed', 'Crashed', 'Migrated', 'Saved', 'Failed', 'Snapshot']],
  Shutdown: [6, ['Finished', 'Finished after guest request', 'Finished after host request']],
};

/** virsh event's line → "name event detail". */
function fromVirsh(line: string): string {
  const m = /^event 'lifecycle' for domain '([^']+)': (\S+) (.+)$/.exec(line);
  const entry = m === null ? undefined : VIRSH_EVENTS[m[2]!];
  const detail = entry === undefined ? -1 : entry[1].indexOf(m![3]!);
  return detail < 0 ? `? ${line}` : `${m![1]} ${entry![0]} ${detail}`;
}

/** Per guest, in order: define, start, suspend, resume, shutdown (the guest obeys), start, destroy, undefine. */
const PER_GUEST = [
  '0 0', // Defined Added
  '2 0', // Started Booted
  '4 0', // Resumed Unpaused
  '3 0', // Suspended Paused
  '4 0', // Resumed Unpaused
  '6 1', // Shutdown Finished after guest request
  '5 0', // Stopped Shutdown
  '2 0', // Started Booted
  '4 0', // Resumed Unpaused
  '6 2', // Shutdown Finished after host request
  '5 1', // Stopped Destroyed
  '1 0', // Undefined Removed
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A one-shot virsh run, asynchronous so that several run at once: a new client each time. */
function virshAsync(uri: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn('virsh', ['-q', '-c', uri, ...args], { env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('tsvirtd: 16 clients on qemu:///session share one driver', { skip, timeout: 600_000 }, () => {
  const GUESTS = ['sd-1', 'sd-2', 'sd-3'];
  const reaper = new Reaper();
  let d: RunningDaemon | undefined;
  let guest: TestGuest;
  let dir: string;
  let rw: string;
  let ro: string;
  const children: ChildProcess[] = [];
  const conns: Connection[] = [];
  /** Events per tsvirt listener. */
  const heard: string[][] = [];
  let virshEvents: string;
  let pyOut = '';
  let pyListener: ChildProcess | undefined;

  const trackGuests = () => {
    if (d !== undefined) for (const pid of guestPids(d.stateDir)) reaper.track(pid);
  };

  before(async () => {
    dir = reaper.tempDir('tsvsd-');
    guest = await buildTestGuest(join(dir, 'guest'));
    d = await startDaemon({ dir });
    rw = `qemu+unix:///session?socket=${d.rw}`;
    ro = `qemu+unix:///session?socket=${d.ro}`;

    // Listener 1: real virsh, on the read-only socket. It registers lifecycle first.
    virshEvents = join(dir, 'virsh-events.txt');
    const fd = openSync(virshEvents, 'w');
    children.push(spawn('virsh', ['-c', ro, 'event', '--all', '--loop', '--timeout', '600'], { stdio: ['ignore', fd, fd], env: { ...process.env, LC_ALL: 'C' } }));
    closeSync(fd);
    await waitFor(() => d!.log().includes('CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY'), () => `virsh event registers:\n${readText(virshEvents)}\n${d!.log().slice(-3000)}`, 30_000);
    // Listener 2: real python3-libvirt.
    pyListener = spawn('/usr/bin/python3', ['-c', PY_LISTENER, rw], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(pyListener);
    pyListener.stdout!.on('data', (b: Buffer) => (pyOut += b.toString()));
    pyListener.stderr!.on('data', (b: Buffer) => (pyOut += b.toString()));
    await waitFor(() => pyOut.includes('READY'), () => `python listener registers: ${pyOut}\n${d!.log().slice(-3000)}`, 30_000);
    // Listeners 3-8: tsvirt's remote driver, three on each socket.
    for (let i = 0; i < 6; i++) {
      const c = await connect(i % 2 === 0 ? rw : ro);
      conns.push(c);
      heard.push([]);
      record(c, heard[i]!);
    }
    // Actors 9-16: tsvirt's remote driver, read-write.
    for (let i = 0; i < 8; i++) conns.push(await connect(rw));
    // A call after subscribe() waits for its registration: every listener is registered now.
    await Promise.all(conns.map((c) => c.numOfDomains()));
  });

  after(async () => {
    trackGuests();
    if (d !== undefined && d.proc.exitCode === null) {
      const c = await connect(rw).catch(() => null);
      for (const name of GUESTS) {
        const dom = await c?.lookupByName(name).catch(() => null);
        await dom?.destroy().catch(() => {});
      }
      await c?.close();
    }
    await Promise.all(conns.map((c) => c.close().catch(() => {})));
    for (const ch of children) if (ch.exitCode === null) ch.kill('SIGTERM');
    await d?.stop();
    await reaper.cleanup();
  });

  test('actors drive three guests at once; every call succeeds; every listener hears every event in one order', async () => {
    const listeners = conns.slice(0, 6);
    const actors = conns.slice(6);
    assert.equal(listeners.length + actors.length + 2, 16);
    let turn = 0;
    /** The next actor, round robin: every guest is acted on by several clients. */
    const actor = () => actors[turn++ % actors.length]!;
    const lookup = (name: string): Promise<Domain> => actor().lookupByName(name);
    const viaVirsh = async (...args: string[]) => {
      const r = await virshAsync(rw, ...args);
      trackGuests();
      assert.equal(r.code, 0, `virsh ${args.join(' ')}: ${r.stderr}`);
    };
    const serial = (name: string) => join(dir, `${name}.serial`);
    const state = async (name: string) => (await (await lookup(name)).state())[0];

    // Readers keep asking while the guests change: no client waits on another's monitor.
    let reading = true;
    const readerErrors: unknown[] = [];
    const readers = listeners.map(async (c) => {
      while (reading) {
        try {
          for (const dom of await c.listAllDomains()) await dom.info();
        } catch (err) {
          // A domain undefined between the listing and info() is not an error of sharing.
          if (!(err instanceof VirError && err.code === ErrorNumber.NO_DOMAIN)) readerErrors.push(err);
        }
        await sleep(200);
      }
    });

    const scenario = async (name: string) => {
      await (await actor().defineXML(guestXML({ name, uuid: randomUUID(), guest, mode: 'A', serial: serial(name) }))).UUIDString();
      await viaVirsh('start', name);
      await viaVirsh('suspend', name);
      assert.equal(await state(name), DomainState.PAUSED);
      await (await lookup(name)).resume();
      await waitForText(serial(name), 'GUEST-READY', 240_000);
      await (await lookup(name)).shutdown();
      const deadline = Date.now() + 120_000;
      while ((await state(name)) !== DomainState.SHUTOFF) {
        assert.ok(Date.now() < deadline, `${name} did not power off on the power button`);
        await sleep(200);
      }
      await (await lookup(name)).create();
      trackGuests();
      await viaVirsh('destroy', name);
      assert.equal(await state(name), DomainState.SHUTOFF);
      await (await lookup(name)).undefine();
    };
    const ro0 = conns[1]!;
    try {
      await Promise.all(GUESTS.map(scenario));
    } finally {
      reading = false;
      await Promise.all(readers);
      trackGuests();
    }
    assert.deepEqual(readerErrors, []);
    // The read-only socket stays read-only, whoever shares its driver.
    await rejectsCode(ro0.defineXML(DOMAIN_XML('x')), ErrorNumber.OPERATION_DENIED);

    const total = GUESTS.length * PER_GUEST.length;
    const virshLines = () => readText(virshEvents).split('\n').filter((l) => l.startsWith('event ')).map(fromVirsh);
    const pyLines = () => pyOut.split('\n').filter((l) => /^\S+ \d+ \d+$/.test(l));
    await waitFor(
      () => heard.every((h) => h.length >= total) && virshLines().length >= total && pyLines().length >= total,
      `every listener hears ${total} events`,
      20_000,
    ).catch(() => {});
    const reference = heard[0]!;
    for (const name of GUESTS) {
      assert.deepEqual(
        reference.filter((e) => e.startsWith(`${name} `)),
        PER_GUEST.map((e) => `${name} ${e}`),
        `the events of ${name}`,
      );
    }
    assert.equal(reference.length, total);
    heard.forEach((h, i) => assert.deepEqual(h, reference, `tsvirt listener ${i} (${i % 2 === 0 ? 'rw' : 'ro'} socket)`));
    assert.deepEqual(pyLines(), reference, `python3-libvirt listener:\n${pyOut}`);
    assert.deepEqual(virshLines(), reference, `virsh event:\n${readText(virshEvents)}`);
    assert.equal(children[0]!.exitCode, null, 'virsh event is still looping');

    const log = d!.log();
    assert.doesNotMatch(log, /QMP greeting|EAGAIN|holding the monitor/);
    assert.deepEqual(guestPids(d!.stateDir), []);
  });
});
