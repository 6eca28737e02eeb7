/**
 * Live migration between two tsvirtd hosts, end to end: each tsvirtd (qemu:///session) runs in a
 * network namespace of its own, joined by a veth pair (10.231.N.1 and .2), with its own sockets
 * and state and one shared directory for the guest's kernel and disks. Clients reach each daemon
 * through its unix socket; QEMU migrates over TCP between the namespaces' addresses.
 *
 * Debian's virsh drives it managed (`virsh -c A migrate --live vm B`) and peer to peer
 * (`--p2p`: daemon A opens B itself); the guest's serial counter goes on across each move (no
 * reboot), the source no longer has it, both sides' lifecycle events reach event clients, and
 * the faults leave the guest running on the source with nothing on the destination.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, type Connection, type Domain, DomainEventType as E, DomainEventID, DomainState, ErrorNumber, VirError } from '../src/index.js';
import { DAEMON_MAIN, python, pythonLibvirtSkip, virsh, virshSkip } from './support/daemon-harness.js';
import { DAEMON_NODE_FLAGS } from '../src/daemon/node-flags.js';
import { makeTestPki, type TestPki } from './support/tls-pki.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, readText, waitForText, type TestGuest } from './qemu-harness.js';

/** tsvirt's bundled CLI, as built. */
const TSVIRT = join(dirname(DAEMON_MAIN), '..', 'cli', 'tsvirt.cjs');

const skip = process.getuid?.() !== 0 ? 'network namespaces need root' : (qemuSkipReason() || virshSkip());

/** One host: a namespace with its address and a tsvirtd inside. */
interface Host {
  ns: string;
  addr: string;
  dir: string;
  uri: string;
  proc: ChildProcess | null;
  output: string;
  start(): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

/** `tls`: the daemon also listens for TLS on `addr` with these files (qemu+tls://ADDR/session). */
function makeHost(root: string, ns: string, addr: string, tls?: TestPki['server']): Host {
  const dir = join(root, ns);
  mkdirSync(dir, { recursive: true });
  const sock = join(dir, 'sock', 'libvirt-sock');
  const h: Host = {
    ns,
    addr,
    dir,
    uri: `qemu+unix:///session?socket=${sock}`,
    proc: null,
    output: '',
    async start() {
      rmSync(sock, { force: true });
      const args = [...DAEMON_NODE_FLAGS, DAEMON_MAIN, '--socket-dir', join(dir, 'sock'), '--verbose', '--uri', 'qemu:///session'];
      args.push('--migration-address', addr, '--migration-host', addr);
      if (tls !== undefined) args.push('--listen', '--listen-addr', addr, '--ca-file', tls.caFile, '--cert-file', tls.certFile, '--key-file', tls.keyFile);
      const p = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], {
        env: { ...process.env, TSVIRT_STATE_DIR: join(dir, 'state') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      h.proc = p;
      p.stdout?.on('data', (b: Buffer) => (h.output += b.toString()));
      p.stderr?.on('data', (b: Buffer) => (h.output += b.toString()));
      const deadline = Date.now() + 30_000;
      while (!existsSync(sock) || !h.output.includes('ready')) {
        if (Date.now() > deadline || p.exitCode !== null) throw new Error(`tsvirtd did not start in ${ns}: ${h.output}`);
        await sleep(50);
      }
    },
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      const p = h.proc;
      if (p === null || p.exitCode !== null) return;
      const gone = new Promise((r) => p.once('exit', r));
      p.kill(signal);
      const t = setTimeout(() => p.kill('SIGKILL'), 8000);
      await gone;
      clearTimeout(t);
    },
  };
  return h;
}

/** The processes still running in a namespace. */
function nsPids(ns: string): number[] {
  const out = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
  return out
    .split('\n')
    .filter((l) => l !== '')
    .map(Number);
}

/** The last GUEST-ALIVE count in a serial log, 0 when none. */
function lastTick(file: string): number {
  const all = [...readText(file).matchAll(/GUEST-ALIVE (\d+)/g)];
  return all.length === 0 ? 0 : Number(all[all.length - 1][1]);
}

/** Waits until the domain's migration job has sent data; fails at once if the migration ended. */
async function migrationStarted(dom: Domain, outcome: Promise<unknown>): Promise<void> {
  let ended: unknown = undefined;
  void outcome.then((e) => (ended = e ?? 'success'));
  await until(async () => {
    if (ended !== undefined) assert.fail(`the migration ended before it was watched: ${String(ended)}`);
    try {
      return (await dom.jobInfo()).dataProcessed > 0;
    } catch {
      return false;
    }
  }, 'the migration to start');
}

async function until(pred: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('live migration between two tsvirtd in their own network namespaces', { skip, timeout: 900_000 }, () => {
  const reaper = new Reaper();
  const tag = `${process.pid % 10000}`;
  const net = 10 + (process.pid % 200);
  let root: string;
  let shared: string;
  let guest: TestGuest;
  let a: Host;
  let b: Host;
  let connA: Connection;
  let connB: Connection;
  let pki: TestPki;
  const eventsA: [string, number, number][] = [];
  const eventsB: [string, number, number][] = [];
  const name = `migvm${tag}`;
  const uuid = randomUUID();

  /** The guest's XML with its serial log on host `h` (a path, not ABI: it may differ per host). */
  const xmlOn = (h: Host): string => guestXML({ name, uuid, guest, mode: 'B', tick: 1, serial: join(h.dir, `${name}.serial`), memMiB: 128 });
  const serialOn = (h: Host): string => join(h.dir, `${name}.serial`);
  /** The XML file for virsh --xml, for a move to `h`. */
  const xmlFileFor = (h: Host): string => {
    const f = join(shared, `to-${h.ns}.xml`);
    writeFileSync(f, xmlOn(h));
    return f;
  };
  const state = async (c: Connection): Promise<number | null> => {
    try {
      return (await (await c.lookupByName(name)).state())[0];
    } catch {
      return null;
    }
  };

  before(async () => {
    root = reaper.tempDir('tsvmigw-');
    shared = join(root, 'shared');
    mkdirSync(shared);
    guest = await buildTestGuest(join(shared, 'guest'));
    const pkiDir = join(root, 'pki');
    mkdirSync(pkiDir);
    pki = makeTestPki(pkiDir, 'mighost', `10.231.${net}.1`, [`10.231.${net}.2`]);
    a = makeHost(root, `migA${tag}`, `10.231.${net}.1`, pki.server);
    b = makeHost(root, `migB${tag}`, `10.231.${net}.2`, pki.server);
    ip('netns', 'add', a.ns);
    ip('netns', 'add', b.ns);
    // The veth pair is made inside A and its other end moved to B: nothing on the host's own network.
    ip('-n', a.ns, 'link', 'add', `migva${tag}`, 'type', 'veth', 'peer', 'name', `migvb${tag}`, 'netns', b.ns);
    for (const [h, dev] of [
      [a, `migva${tag}`],
      [b, `migvb${tag}`],
    ] as const) {
      ip('-n', h.ns, 'link', 'set', 'lo', 'up');
      ip('-n', h.ns, 'addr', 'add', `${h.addr}/24`, 'dev', dev);
      ip('-n', h.ns, 'link', 'set', dev, 'up');
    }
    await a.start();
    await b.start();
    connA = await connect(a.uri);
    connB = await connect(b.uri);
    connA.domainEventRegisterAny(null, DomainEventID.LIFECYCLE, (_c, d, ev, detail) => void eventsA.push([d.name(), ev, detail]));
    connB.domainEventRegisterAny(null, DomainEventID.LIFECYCLE, (_c, d, ev, detail) => void eventsB.push([d.name(), ev, detail]));
    const dom = await connA.defineXML(xmlOn(a));
    await dom.create();
    await waitForText(serialOn(a), /GUEST-ALIVE 2\b/, 60_000);
  });

  after(async () => {
    await connA?.close().catch(() => undefined);
    await connB?.close().catch(() => undefined);
    for (const h of [a, b]) {
      if (h === undefined) continue;
      await h.kill().catch(() => undefined);
      for (const pid of nsPids(h.ns)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      spawnSync('ip', ['netns', 'del', h.ns]);
    }
    await reaper.cleanup();
  });

  test('virsh migrate --live (managed, the client drives): the guest ticks on at B, A no longer has it, events on both', async () => {
    const before = lastTick(serialOn(a));
    const r = virsh(a.uri, 'migrate', '--live', '--verbose', '--persistent', '--undefinesource', name, b.uri, '--xml', xmlFileFor(b));
    assert.equal(r.code, 0, `${r.stderr}\n${a.output.slice(-2000)}\n${b.output.slice(-2000)}`);
    assert.match(r.stderr, /Migration: \[100 %\]/);
    await waitForText(serialOn(b), /GUEST-ALIVE \d+/, 30_000);
    const first = Number(/GUEST-ALIVE (\d+)/.exec(readText(serialOn(b)))?.[1]);
    assert.ok(first >= before, `counter went on (${before} at A, ${first} first at B): no reboot`);
    assert.equal(await state(connB), DomainState.RUNNING);
    assert.equal(await state(connA), null, 'undefined on the source');
    assert.equal(virsh(a.uri, 'list', '--all', '--name').stdout.trim(), '');
    assert.equal(virsh(b.uri, 'list', '--persistent', '--name').stdout.trim(), name);
    await until(() => eventsA.some(([n, ev]) => n === name && ev === E.STOPPED) && eventsB.some(([n, ev]) => n === name && ev === E.RESUMED), 'events on both sides');
    assert.ok(eventsA.some(([n, ev, d]) => n === name && ev === E.STOPPED && d === 3), 'A: STOPPED/MIGRATED');
    assert.ok(eventsA.some(([n, ev]) => n === name && ev === E.UNDEFINED), 'A: UNDEFINED');
    assert.ok(eventsB.some(([n, ev, d]) => n === name && ev === E.STARTED && d === 1), 'B: STARTED/MIGRATED');
  });

  test('virsh migrate --live --p2p (B connects to A itself): the guest comes back and ticks on', async () => {
    const before = lastTick(serialOn(b));
    rmSync(serialOn(a), { force: true });
    const r = virsh(b.uri, 'migrate', '--live', '--p2p', '--persistent', '--undefinesource', name, a.uri, '--xml', xmlFileFor(a));
    assert.equal(r.code, 0, `${r.stderr}\n${b.output.slice(-2000)}`);
    await waitForText(serialOn(a), /GUEST-ALIVE \d+/, 30_000);
    const first = Number(/GUEST-ALIVE (\d+)/.exec(readText(serialOn(a)))?.[1]);
    assert.ok(first >= before, `counter went on (${before} at B, ${first} first at A)`);
    assert.equal(await state(connA), DomainState.RUNNING);
    assert.equal(await state(connB), null);
  });

  test('a destination refusing up front (the name is in use there): the guest runs on at the source, unchanged', async () => {
    const other = await connB.defineXML(guestXML({ name, uuid: randomUUID(), guest, mode: 'B', serial: join(b.dir, 'other.serial') }));
    try {
      const r = virsh(a.uri, 'migrate', '--live', name, b.uri, '--xml', xmlFileFor(b));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /error: /);
      assert.equal(await state(connA), DomainState.RUNNING);
      const t = lastTick(serialOn(a));
      await until(() => lastTick(serialOn(a)) > t, 'the source guest to tick on');
      // Only the other domain of that name is on B, still inactive.
      assert.equal(await state(connB), DomainState.SHUTOFF);
    } finally {
      await other.undefine().catch(() => undefined);
    }
  });

  test('a slow migration (1 MiB/s): domjobinfo shows it, domjobabort ends it, the guest runs on at the source', async () => {
    const mig = spawn('virsh', ['-q', '-c', a.uri, 'migrate', '--live', '--verbose', '--bandwidth', '1', name, b.uri, '--xml', xmlFileFor(b)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    mig.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => mig.once('exit', (c) => r(c)));
    try {
      let info = '';
      await until(() => {
        info = virsh(a.uri, 'domjobinfo', name).stdout;
        return /Data processed:/.test(info);
      }, 'the migration job');
      assert.match(info, /Job type:\s+Unbounded/);
      assert.match(info, /Operation:\s+Outgoing migration/);
      // virsh polls job info on its own connection while Perform runs there: progress shows.
      await until(() => /Migration: \[\s*\d+ %\]/.test(err), 'virsh --verbose progress during the migration');
      assert.doesNotMatch(err, /\[100 %\]/);
      const abort = virsh(a.uri, 'domjobabort', name);
      assert.equal(abort.code, 0, abort.stderr);
      const code = await exited;
      assert.equal(code, 1);
      assert.match(err, /error: operation aborted/);
    } finally {
      if (mig.exitCode === null) mig.kill('SIGKILL');
    }
    assert.equal(await state(connA), DomainState.RUNNING);
    await until(async () => (await state(connB)) === null, 'nothing left on the destination');
    const t = lastTick(serialOn(a));
    await until(() => lastTick(serialOn(a)) > t, 'the source guest to tick on');
  });

  test('tsvirt migrate: Ctrl-C (SIGINT) aborts the job, the guest runs on at the source', async () => {
    const mig = spawn(process.execPath, [TSVIRT, '-c', a.uri, 'migrate', '--live', '--bandwidth', '1', name, b.uri, '--xml', xmlFileFor(b)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    mig.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => mig.once('exit', (c) => r(c)));
    try {
      await until(() => /Data processed:/.test(virsh(a.uri, 'domjobinfo', name).stdout), 'the migration job');
      mig.kill('SIGINT');
      assert.equal(await exited, 1);
      assert.match(err, /error: operation aborted/);
    } finally {
      if (mig.exitCode === null) mig.kill('SIGKILL');
    }
    assert.equal(await state(connA), DomainState.RUNNING);
    await until(async () => (await state(connB)) === null, 'nothing left on the destination');
  });

  test('the destination daemon killed mid-migration (with its incoming QEMU): the guest runs on at the source, nothing stays at the destination', async () => {
    const dom = await connA.lookupByName(name);
    const running = dom.migrateToURI3(b.uri, { bandwidth: 1, destination_xml: xmlOn(b) }, 1 | 2);
    const outcome = running.then(
      () => null,
      (e: unknown) => e,
    );
    await migrationStarted(dom, outcome);
    // The daemon and what it ran (the incoming QEMU) go, as when host B dies.
    await b.kill('SIGKILL');
    for (const pid of nsPids(b.ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    const e = await outcome;
    assert.ok(e instanceof VirError, `the migration failed (${String(e)})`);
    await until(async () => (await state(connA)) === DomainState.RUNNING, 'the source guest resumed', 60_000);
    const t = lastTick(serialOn(a));
    await until(() => lastTick(serialOn(a)) > t, 'the source guest to tick on');
    await b.start();
    await connB.close().catch(() => undefined);
    connB = await connect(b.uri);
    await until(async () => (await state(connB)) === null, 'the destination reconciled to nothing', 30_000);
    assert.equal(virsh(b.uri, 'list', '--all', '--name').stdout.trim(), '');
  });

  test('the network cut mid-migration: aborting ends it, the guest runs on at the source', async () => {
    const dom = await connA.lookupByName(name);
    const running = dom.migrate3(connB, { bandwidth: 1, destination_xml: xmlOn(b) }, 1).then(
      () => null,
      (e: unknown) => e,
    );
    await migrationStarted(dom, running);
    ip('-n', a.ns, 'link', 'set', `migva${tag}`, 'down');
    try {
      await sleep(1000);
      await dom.abortJob();
      const e = await running;
      assert.ok(e instanceof VirError && e.code === ErrorNumber.OPERATION_ABORTED, `aborted (${String(e)})`);
    } finally {
      ip('-n', a.ns, 'link', 'set', `migva${tag}`, 'up');
    }
    assert.equal(await state(connA), DomainState.RUNNING);
    await until(async () => (await state(connB)) === null, 'nothing left on the destination');
  });

  test("tsvirt's CLI: migrate --live --verbose (managed) to B, then --p2p back to A", async () => {
    const cli = (uri: string, ...args: string[]) => spawnSync(process.execPath, [TSVIRT, '-c', uri, ...args], { encoding: 'utf8', timeout: 120_000 });
    rmSync(serialOn(b), { force: true });
    const there = cli(a.uri, 'migrate', '--live', '--verbose', '--persistent', '--undefinesource', name, b.uri, '--xml', xmlFileFor(b));
    assert.equal(there.status, 0, there.stderr);
    assert.match(there.stderr, /Migration: \[100 %\]/);
    await waitForText(serialOn(b), /GUEST-ALIVE \d+/, 30_000);
    assert.equal(await state(connB), DomainState.RUNNING);
    assert.equal(await state(connA), null);
    rmSync(serialOn(a), { force: true });
    const back = cli(b.uri, 'migrate', '--live', '--p2p', '--persistent', '--undefinesource', name, a.uri, '--xml', xmlFileFor(a));
    assert.equal(back.status, 0, back.stderr);
    await waitForText(serialOn(a), /GUEST-ALIVE \d+/, 30_000);
    assert.equal(await state(connA), DomainState.RUNNING);
    assert.equal(await state(connB), null);
  });

  test('python3-libvirt: dom.migrate3 to B, then dom.migrateToURI3 (peer to peer) back to A', { skip: pythonLibvirtSkip() }, async () => {
    const there = `
import sys, libvirt
a = libvirt.open(sys.argv[1]); b = libvirt.open(sys.argv[2])
d2 = a.lookupByName(sys.argv[3]).migrate3(b, {libvirt.VIR_MIGRATE_PARAM_DEST_XML: open(sys.argv[4]).read()}, libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
print(d2.name(), d2.isActive())
`;
    rmSync(serialOn(b), { force: true });
    const r1 = python(there, a.uri, b.uri, name, xmlFileFor(b));
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r1.stdout.trim(), `${name} 1`);
    await waitForText(serialOn(b), /GUEST-ALIVE \d+/, 30_000);
    const back = `
import sys, libvirt
b = libvirt.open(sys.argv[2])
b.lookupByName(sys.argv[3]).migrateToURI3(sys.argv[1], {libvirt.VIR_MIGRATE_PARAM_DEST_XML: open(sys.argv[4]).read()}, libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
print(libvirt.open(sys.argv[1]).lookupByName(sys.argv[3]).isActive())
`;
    rmSync(serialOn(a), { force: true });
    const r2 = python(back, a.uri, b.uri, name, xmlFileFor(a));
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(r2.stdout.trim(), '1');
    await waitForText(serialOn(a), /GUEST-ALIVE \d+/, 30_000);
    assert.equal(await state(connA), DomainState.RUNNING);
  });

  test('a transient migration (no --persistent) to B and --p2p back: each side is free for the next migration', async () => {
    rmSync(serialOn(b), { force: true });
    const there = virsh(a.uri, 'migrate', '--live', name, b.uri, '--xml', xmlFileFor(b));
    assert.equal(there.code, 0, `${there.stderr}\n${a.output.slice(-2000)}\n${b.output.slice(-2000)}`);
    await waitForText(serialOn(b), /GUEST-ALIVE \d+/, 30_000);
    assert.equal(virsh(b.uri, 'list', '--transient', '--name').stdout.trim(), name, 'transient at B');
    assert.equal(await state(connA), DomainState.SHUTOFF, 'A keeps its inactive definition');
    rmSync(serialOn(a), { force: true });
    const back = virsh(b.uri, 'migrate', '--live', '--p2p', name, a.uri, '--xml', xmlFileFor(a));
    assert.equal(back.code, 0, `${back.stderr}\n${a.output.slice(-2000)}\n${b.output.slice(-2000)}`);
    await waitForText(serialOn(a), /GUEST-ALIVE \d+/, 30_000);
    assert.equal(await state(connA), DomainState.RUNNING);
    assert.equal(await state(connB), null, 'the transient domain left B');
  });

  test('virsh migrate --offline --persistent: only the definition moves, and back', async () => {
    const off = `${name}off`;
    const xml = guestXML({ name: off, uuid: randomUUID(), guest, mode: 'B', serial: join(shared, `${off}.serial`) });
    await connA.defineXML(xml);
    try {
      const r = virsh(a.uri, 'migrate', '--offline', '--persistent', '--undefinesource', off, b.uri);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(virsh(b.uri, 'domstate', off).stdout.trim(), 'shut off');
      assert.notEqual(virsh(a.uri, 'domstate', off).code, 0, 'undefined at A');
      const back = virsh(b.uri, 'migrate', '--offline', '--persistent', '--undefinesource', off, a.uri);
      assert.equal(back.code, 0, back.stderr);
      assert.equal(virsh(a.uri, 'domstate', off).stdout.trim(), 'shut off');
    } finally {
      for (const c of [connA, connB]) await (await c.lookupByName(off).catch(() => null))?.undefine().catch(() => undefined);
    }
  });

  test('over TLS (qemu+tls://ADDR/session, client certificates): virsh migrate --live managed to B, then --p2p back to A', async () => {
    const tlsURI = (h: Host): string => `qemu+tls://${h.addr}/session?pkipath=${pki.clients.good}`;
    // virsh runs inside a host's namespace: the addresses are reachable only there.
    const virshIn = (h: Host, ...args: string[]) => spawnSync('ip', ['netns', 'exec', h.ns, 'virsh', '-c', tlsURI(h), ...args], { encoding: 'utf8', timeout: 180_000 });
    assert.equal(virshIn(a, 'domstate', name).stdout.trim(), 'running', 'A is reached over TLS');
    rmSync(serialOn(b), { force: true });
    const there = virshIn(a, 'migrate', '--live', '--persistent', '--undefinesource', name, tlsURI(b), '--xml', xmlFileFor(b));
    assert.equal(there.status, 0, `${there.stderr}\n${a.output.slice(-2000)}\n${b.output.slice(-2000)}`);
    await waitForText(serialOn(b), /GUEST-ALIVE \d+/, 30_000);
    assert.equal(await state(connB), DomainState.RUNNING);
    assert.equal(await state(connA), null);
    rmSync(serialOn(a), { force: true });
    // Peer to peer: daemon B opens A over TLS itself, with the client files the URI names.
    const back = virshIn(b, 'migrate', '--live', '--p2p', '--persistent', '--undefinesource', name, tlsURI(a), '--xml', xmlFileFor(a));
    assert.equal(back.status, 0, `${back.stderr}\n${b.output.slice(-2000)}`);
    await waitForText(serialOn(a), /GUEST-ALIVE \d+/, 30_000);
    assert.equal(await state(connA), DomainState.RUNNING);
    assert.equal(await state(connB), null);
  });
});
