/**
 * qemu:///session through the public API, with real QEMU guests under TCG: the rules that do not
 * need hypervisor snapshots (R1, R3, R5, R8, R11, R12; snapshots: qemu-snapshot.test.ts) and reconciliation at open (docs/design.md).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, connect as tcpConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  DomainEventID,
  DomainEventType,
  DomainEventSuspendedDetailType,
  DomainRunningReason,
  DomainSaveRestoreFlags,
  DomainShutoffReason,
  DomainSnapshotCreateFlags,
  DomainState,
  DomainUndefineFlags,
  ErrorDomain,
  ErrorNumber,
  connect,
  type Connection,
} from '../src/index.js';
import { Reaper, buildTestGuest, guestXML, pidAlive, qemuSkipReason, waitForText, type TestGuest } from './qemu-harness.js';
import { rejectsVir } from './support/fixtures.js';
import { DomainXMLFlags } from '../src/index.js';

/** A TCP port in VNC's range nobody listens on (display N = port 5900 + N). */
async function freeVncPort(): Promise<number> {
  for (let port = 5900 + 37; port < 6000; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port in 5937..5999');
}

/** Reads exactly `n` bytes from an RFB socket. */
function reader(sock: Socket): (n: number) => Promise<Buffer> {
  let buf = Buffer.alloc(0);
  let waiting: (() => void) | null = null;
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    waiting?.();
  });
  return async (n) => {
    const deadline = Date.now() + 20_000;
    while (buf.length < n) {
      if (Date.now() > deadline || sock.destroyed) throw new Error(`RFB: wanted ${n} bytes, have ${buf.length}`);
      await new Promise<void>((r) => {
        waiting = r;
        setTimeout(r, 200);
      });
    }
    const out = buf.subarray(0, n);
    buf = buf.subarray(n);
    return out;
  };
}

/** VNC authentication's answer: the challenge DES-encrypted with the password (bits of each key byte reversed). */
function vncAuthResponse(challenge: Buffer, password: string): Buffer {
  const key = Buffer.alloc(8);
  Buffer.from(password, 'latin1').copy(key, 0, 0, 8);
  for (let i = 0; i < 8; i++) {
    let r = 0;
    for (let bit = 0; bit < 8; bit++) r |= ((key[i] >> bit) & 1) << (7 - bit);
    key[i] = r;
  }
  // DES is in OpenSSL 3's legacy provider only: a child node with it enabled computes it.
  const script = `const c=require('crypto');const d=c.createCipheriv('des-ecb',Buffer.from('${key.toString('hex')}','hex'),null);d.setAutoPadding(false);process.stdout.write(Buffer.concat([d.update(Buffer.from('${challenge.toString('hex')}','hex')),d.final()]).toString('hex'))`;
  return Buffer.from(execFileSync(process.execPath, ['--openssl-legacy-provider', '-e', script], { encoding: 'utf8' }), 'hex');
}

/**
 * Speaks RFB 3.8 to a VNC server: the security types it offers, and with type 2 (VNC auth) the
 * SecurityResult (0 = OK) for `password` (a wrong one when null).
 */
async function rfbHandshake(port: number, password: string | null): Promise<{ types: number[]; result?: number }> {
  const sock = tcpConnect(port, '127.0.0.1');
  try {
    const read = reader(sock);
    const version = (await read(12)).toString('latin1');
    assert.match(version, /^RFB 003\.00\d\n$/);
    sock.write('RFB 003.008\n');
    const n = (await read(1))[0];
    const types = [...(await read(n))];
    if (!types.includes(2)) return { types };
    sock.write(Buffer.from([2]));
    const challenge = await read(16);
    sock.write(password === null ? Buffer.alloc(16) : vncAuthResponse(challenge, password));
    return { types, result: (await read(4)).readUInt32BE(0) };
  } finally {
    sock.destroy();
  }
}

/** Every regular file under `dir`. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

const skip = qemuSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A REDEFINE-able snapshot of a domain, as a management app would have captured it. */
function capturedSnapshot(name: string, parent?: string): string {
  const p = parent === undefined ? '' : `<parent><name>${parent}</name></parent>`;
  return `<domainsnapshot><name>${name}</name><state>shutoff</state>${p}<creationTime>1700000000</creationTime></domainsnapshot>`;
}

describe('qemu:///session with real guests', { skip, timeout: 300_000 }, () => {
  const reaper = new Reaper();
  let guest: TestGuest;
  let state: string;
  let previous: string | undefined;
  let conn: Connection;

  before(async () => {
    state = reaper.tempDir('tsvqd-');
    guest = await buildTestGuest(join(state, 'guest'));
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = state;
    conn = await connect('qemu:///session');
  });

  after(async () => {
    // Whatever a test left running is destroyed through the API, then killed outright.
    if (conn !== undefined) {
      for (const dom of await conn.listAllDomains(1).catch(() => [])) await dom.destroy().catch(() => undefined);
      await conn.close();
    }
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    await reaper.cleanup();
  });

  const xml = (name: string, mode: 'A' | 'B' | 'C', extra: { uuid?: string; after?: number } = {}) =>
    guestXML({ name, uuid: extra.uuid ?? randomUUID(), guest, mode, after: extra.after, serial: join(state, `${name}.serial`) });

  test('R1 and R5: a transient guest cannot be undefined; destroyed, it takes its snapshot metadata along', async () => {
    const uuid = randomUUID();
    const dom = await conn.createXML(xml('q-tr', 'A', { uuid }));
    await waitForText(join(state, 'q-tr.serial'), 'GUEST-READY');
    await dom.snapshotCreateXML(capturedSnapshot('s1'), DomainSnapshotCreateFlags.REDEFINE);
    await rejectsVir(dom.undefine(), {
      code: ErrorNumber.OPERATION_INVALID,
      domain: ErrorDomain.QEMU,
      message: 'Requested operation is not valid: cannot undefine transient domain',
    });
    await dom.destroy();
    await rejectsVir(conn.lookupByName('q-tr'), { code: ErrorNumber.NO_DOMAIN });
    const again = await conn.defineXML(xml('q-tr', 'A', { uuid }));
    assert.equal(await again.snapshotNum(), 0);
    await again.undefine();
  });

  test('R5 and R12: a transient guest that powers itself off is noticed: STARTED, RESUMED, then SHUTDOWN/GUEST and STOPPED/SHUTDOWN, as libvirt qemu does', async () => {
    const seen: [string, number, number][] = [];
    const id = conn.domainEventRegisterAny(null, DomainEventID.LIFECYCLE, (_c, d, e, detail) => seen.push([d.name(), e, detail]));
    try {
      const dom = await conn.createXML(xml('q-self', 'C', { after: 1 }));
      await dom.snapshotCreateXML(capturedSnapshot('s1'), DomainSnapshotCreateFlags.REDEFINE);
      const deadline = Date.now() + 60_000;
      while (!seen.some(([n, e]) => n === 'q-self' && e === DomainEventType.STOPPED) && Date.now() < deadline) await sleep(100);
      assert.deepEqual(
        seen.filter(([n]) => n === 'q-self'),
        [
          ['q-self', DomainEventType.STARTED, 0],
          ['q-self', DomainEventType.RESUMED, 0],
          ['q-self', DomainEventType.SHUTDOWN, 1],
          ['q-self', DomainEventType.STOPPED, 0],
        ],
      );
      await rejectsVir(conn.lookupByName('q-self'), { code: ErrorNumber.NO_DOMAIN });
    } finally {
      conn.domainEventDeregisterAny(id);
    }
  });

  test('R8: shutdown asks; a guest that ignores the button keeps running; destroy returns when it is gone', async () => {
    const dom = await conn.defineXML(xml('q-stub', 'B'));
    await dom.create();
    await waitForText(join(state, 'q-stub.serial'), 'GUEST-READY');
    await dom.shutdown();
    await sleep(1500);
    assert.deepEqual(await dom.state(), [DomainState.RUNNING, DomainRunningReason.BOOTED]);
    await dom.destroy();
    assert.deepEqual(await dom.state(), [DomainState.SHUTOFF, DomainShutoffReason.DESTROYED]);
    const polite = await conn.defineXML(xml('q-polite', 'A'));
    await polite.create();
    await waitForText(join(state, 'q-polite.serial'), 'GUEST-READY');
    await polite.shutdown();
    const deadline = Date.now() + 30_000;
    while ((await polite.isActive()) && Date.now() < deadline) await sleep(100);
    assert.deepEqual(await polite.state(), [DomainState.SHUTOFF, DomainShutoffReason.SHUTDOWN]);
  });

  test('R11 and R3: managed save and restore on a real guest; undefine needs both flags', async () => {
    const dom = await conn.defineXML(xml('q-save', 'B'));
    await dom.create();
    await waitForText(join(state, 'q-save.serial'), 'GUEST-READY');
    const progress: number[] = [];
    await dom.managedSave(0, { onProgress: (p) => progress.push(p.processed) });
    assert.ok(progress.length > 0, 'progress was reported');
    assert.deepEqual(await dom.state(), [DomainState.SHUTOFF, DomainShutoffReason.SAVED]);
    assert.equal(await dom.hasManagedSaveImage(), true);
    await dom.create();
    assert.deepEqual(await dom.state(), [DomainState.RUNNING, DomainRunningReason.RESTORED]);
    assert.equal(await dom.hasManagedSaveImage(), false);
    await dom.managedSave();
    await dom.snapshotCreateXML(capturedSnapshot('a'), DomainSnapshotCreateFlags.REDEFINE);
    await rejectsVir(dom.undefine(), { code: ErrorNumber.OPERATION_INVALID, message: /cannot delete inactive domain with 1 snapshots/ });
    await rejectsVir(dom.undefineFlags(DomainUndefineFlags.SNAPSHOTS_METADATA), { message: /managed save image exists/, code: 55 });
    await dom.undefineFlags(DomainUndefineFlags.SNAPSHOTS_METADATA | DomainUndefineFlags.MANAGED_SAVE);
    await rejectsVir(conn.lookupByName('q-save'), { code: ErrorNumber.NO_DOMAIN });
  });

  test('R11: a guest saved paused comes back paused (SUSPENDED/RESTORED); VIR_DOMAIN_SAVE_RUNNING and PAUSED override, as on libvirt', async () => {
    const dom = await conn.defineXML(xml('q-save-paused', 'B'));
    const suspended: number[] = [];
    const id = conn.domainEventRegisterAny(dom, DomainEventID.LIFECYCLE, (_c, _d, event, detail) => {
      if (event === DomainEventType.SUSPENDED) suspended.push(detail);
    });
    try {
      await dom.create();
      await waitForText(join(state, 'q-save-paused.serial'), 'GUEST-READY');
      await dom.suspend();
      await dom.managedSave();
      await dom.create();
      assert.equal((await dom.state())[0], DomainState.PAUSED, 'saved paused, started paused');
      await dom.managedSave(DomainSaveRestoreFlags.RUNNING);
      await dom.create();
      assert.deepEqual(await dom.state(), [DomainState.RUNNING, DomainRunningReason.RESTORED], 'RUNNING: the start resumes it');
      await dom.managedSave(DomainSaveRestoreFlags.PAUSED);
      await dom.create();
      assert.equal((await dom.state())[0], DomainState.PAUSED, 'PAUSED: the start leaves it paused');
      await sleep(100);
      // suspend, restored paused, vCPUs stopped for the third save, restored paused.
      const { PAUSED, RESTORED } = DomainEventSuspendedDetailType;
      assert.deepEqual(suspended, [PAUSED, RESTORED, PAUSED, RESTORED]);
    } finally {
      conn.domainEventDeregisterAny(id);
      await dom.destroy().catch(() => undefined);
      await dom.undefineFlags(DomainUndefineFlags.MANAGED_SAVE).catch(() => undefined);
    }
  });

  test('autostart: the first open of qemu:///session since boot starts the autostart domains (one that fails is reported, the others start); later opens do not', async () => {
    const runRoot = join(state, 'qemu', 'run');
    const good = await conn.defineXML(xml('q-auto', 'B'));
    const bad = await conn.defineXML(xml('q-auto-bad', 'B').replace(guest.kernel, join(state, 'no-such-kernel')));
    await good.setAutostart(true);
    await bad.setAutostart(true);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      // This boot's autostart was claimed by the suite's first open.
      await (await connect('qemu:///session')).close();
      assert.equal(await good.isActive(), false, 'not started twice in one boot');
      // A new boot: the marker of this one is gone.
      for (const f of readdirSync(runRoot).filter((f) => f.startsWith('autostarted-'))) rmSync(join(runRoot, f));
      const again = await connect('qemu:///session');
      await again.close();
      assert.equal(await good.isActive(), true, 'autostarted');
      assert.equal(await bad.isActive(), false);
      await sleep(50); // warnings are emitted on the next tick
      assert.ok(warnings.some((w) => w.startsWith("Failed to autostart VM 'q-auto-bad'")), warnings.join('; '));
      await good.destroy();
      await (await connect('qemu:///session')).close();
      assert.equal(await good.isActive(), false, 'a destroyed autostart domain stays off');
    } finally {
      process.off('warning', onWarning);
      await good.destroy().catch(() => undefined);
      await good.undefine().catch(() => undefined);
      await bad.undefine().catch(() => undefined);
    }
  });

  test('a diskless domain keeps only REDEFINEd snapshot metadata; a revert to it puts back no disk', async () => {
    const dom = await conn.defineXML(xml('q-snap', 'A'));
    await rejectsVir(dom.snapshotCreateXML('<domainsnapshot><name>x</name></domainsnapshot>'), {
      code: ErrorNumber.CONFIG_UNSUPPORTED,
      message: 'unsupported configuration: nothing selected for snapshot',
    });
    const snap = await dom.snapshotCreateXML(capturedSnapshot('meta'), DomainSnapshotCreateFlags.REDEFINE);
    // A snapshot of a shut-off domain with no disks: nothing to put back, so the revert is
    // metadata only and the domain stays shut off.
    await snap.revert();
    assert.deepEqual(await dom.state(), [DomainState.SHUTOFF, DomainShutoffReason.FROM_SNAPSHOT]);
    assert.deepEqual(await dom.snapshotListNames(), ['meta']);
    await dom.undefineFlags(DomainUndefineFlags.SNAPSHOTS_METADATA);
  });

  test('VNC with passwd: the server asks for VNC authentication, refuses a wrong answer, accepts the password; it is in no command line or log', async () => {
    const port = await freeVncPort();
    const password = 'pw4vnc!';
    const graphics = (passwd: string) =>
      `<graphics type='vnc' port='${port}' autoport='no'${passwd}><listen type='address' address='127.0.0.1'/></graphics>`;
    const base = xml('q-vnc', 'B');
    const dom = await conn.defineXML(base.replace('</devices>', `${graphics(` passwd='${password}'`)}</devices>`));
    await dom.create();
    try {
      assert.doesNotMatch(await dom.XMLDesc(), /passwd=/);
      assert.match(await dom.XMLDesc(DomainXMLFlags.SECURE), new RegExp(`passwd='${password}'`));
      const refused = await rfbHandshake(port, null);
      assert.deepEqual(refused.types, [2], 'VNC authentication only, no "None" (1)');
      assert.notEqual(refused.result, 0, 'a wrong answer is refused');
      assert.equal((await rfbHandshake(port, password)).result, 0, 'the password set over QMP opens it');
      // Not on QEMU's command line (ps), not in any log or file under the state directory but the store.
      const { default: Database } = await import('better-sqlite3');
      const db = new Database(join(state, 'qemu', 'qemu.db'), { readonly: true });
      const row = db.prepare("SELECT runtime FROM domains WHERE name = 'q-vnc'").get() as { runtime: string };
      db.close();
      const pid = (JSON.parse(row.runtime) as { pid: number }).pid;
      assert.doesNotMatch(readFileSync(`/proc/${pid}/cmdline`, 'latin1'), new RegExp(password));
      for (const f of filesUnder(state).filter((f) => f.endsWith('.log'))) {
        assert.doesNotMatch(readFileSync(f, 'latin1'), new RegExp(password), f);
      }
    } finally {
      await dom.destroy().catch(() => undefined);
    }
    // Control: without passwd the same server offers "None" — the check above can fail.
    await dom.undefine();
    const open = await conn.defineXML(base.replace('</devices>', `${graphics('')}</devices>`));
    await open.create();
    try {
      assert.deepEqual((await rfbHandshake(port, null)).types, [1]);
    } finally {
      await open.destroy().catch(() => undefined);
      await open.undefine();
    }
  });

  test('reconcile: guests outlive the connection; one killed while nobody watched is processed at open (R5)', async () => {
    const kept = await conn.defineXML(xml('q-kept', 'B'));
    await kept.create();
    const doomed = await conn.createXML(xml('q-doomed', 'B'));
    await doomed.snapshotCreateXML(capturedSnapshot('s'), DomainSnapshotCreateFlags.REDEFINE);
    await waitForText(join(state, 'q-doomed.serial'), 'GUEST-READY');
    await conn.close();
    // The guests run on without any tsvirt process; kill one from outside.
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(state, 'qemu', 'qemu.db'), { readonly: true });
    const rows = db.prepare('SELECT name, runtime FROM domains WHERE runtime IS NOT NULL').all() as { name: string; runtime: string }[];
    db.close();
    const pids = new Map(rows.map((r) => [r.name, (JSON.parse(r.runtime) as { pid: number }).pid]));
    for (const pid of pids.values()) reaper.track(pid);
    const doomedPid = pids.get('q-doomed') as number;
    process.kill(doomedPid, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    while (pidAlive(doomedPid) && Date.now() < deadline) await sleep(20);
    conn = await connect('qemu:///session');
    await rejectsVir(conn.lookupByName('q-doomed'), { code: ErrorNumber.NO_DOMAIN });
    const back = await conn.lookupByName('q-kept');
    assert.equal(await back.isActive(), true);
    await back.suspend();
    assert.equal((await back.state())[0], DomainState.PAUSED);
    await back.destroy();
  });
});
