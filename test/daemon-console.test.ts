/**
 * DOMAIN_OPEN_CONSOLE (201) through tsvirtd on qemu:///session with a real guest: the guest's
 * output arrives as STREAM data, an abort detaches the console while the guest runs on, a client
 * that floods the console faster than the guest takes it is no longer read (the daemon stays
 * small), tsvirt's remote driver opens the same console, and the guest's end is the stream's end
 * of data. The QEMU side of consoles is the QEMU driver's `domainOpenConsole`: without it these
 * tests skip, saying so.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MessageStatus, MessageType, encodeFrame, type Frame } from '../src/rpc/message.js';
import { REMOTE_PROGRAM, type WireDomain } from '../src/rpc/protocol.js';
import { Proc, getStateRet, lookupByNameArgs, openArgs, openConsoleArgs, retDom } from '../src/rpc/procedures.js';
import { decode } from '../src/rpc/xdr.js';
import { connect } from '../src/index.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, type TestGuest } from './qemu-harness.js';
import { RawClient, errorOf, guestPids, startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';

/** Why the console tests cannot run: no QEMU, no virsh, or a QEMU driver without consoles. */
async function consoleSkip(): Promise<string | false> {
  const missing = qemuSkipReason() || virshSkip();
  if (missing !== false) return missing;
  const dir = mkdtempSync(join(tmpdir(), 'tsv-console-probe-'));
  const saved = process.env.TSVIRT_STATE_DIR;
  process.env.TSVIRT_STATE_DIR = dir;
  try {
    const conn = await connect('qemu:///session');
    try {
      if (conn.driverFor('probe').domainOpenConsole === undefined) {
        return "the QEMU driver has no domainOpenConsole yet (the qemu-console work): tsvirtd answers 201 with NO_SUPPORT for qemu:///session";
      }
    } finally {
      await conn.close();
    }
  } finally {
    if (saved === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = saved;
    rmSync(dir, { recursive: true, force: true });
  }
  return false;
}

const skip = await consoleSkip();

function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

function streamPacket(serial: number, status: MessageStatus, payload?: Buffer): Buffer {
  return encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc: Proc.DOMAIN_OPEN_CONSOLE, type: MessageType.STREAM, serial, status }, payload);
}

function nextSerial(c: RawClient): number {
  return (c as unknown as { serial: number }).serial;
}

async function packets(c: RawClient, serial: number, done: (fs: Frame[]) => boolean, ms = 60_000): Promise<Frame[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const fs = c.messages.filter((f) => f.header.type === MessageType.STREAM && f.header.serial === serial);
    if (done(fs)) return fs;
    if (Date.now() > deadline) throw new Error(`stream ${serial}: not done after ${fs.length} packets: ${Buffer.concat(fs.map((f) => f.payload)).toString().slice(-300)}`);
    await sleep(20);
  }
}
const text = (fs: Frame[]): string => Buffer.concat(fs.map((f) => f.payload)).toString('latin1');

describe('tsvirtd: consoles of real QEMU guests', { skip, timeout: 240_000 }, () => {
  const reaper = new Reaper();
  let d: RunningDaemon | undefined;
  let guest: TestGuest;
  let dir: string;
  let uri: string;

  before(async () => {
    dir = reaper.tempDir('tsvcon-');
    guest = await buildTestGuest(join(dir, 'guest'));
    d = await startDaemon({ dir, args: ['--max-client-requests', '5'] });
    uri = `qemu+unix:///session?socket=${d.rw}`;
    const xml = guestXML({ name: 'con1', uuid: randomUUID(), guest, mode: 'B', tick: 1, serial: join(dir, 'con1.serial') }).replace(
      /<serial type='file'>[\s\S]*?<\/serial>/,
      `<serial type='pty'><log file='${join(dir, 'con1.log')}'/><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console>`,
    );
    const f = join(dir, 'con1.xml');
    writeFileSync(f, xml);
    let r = virsh(uri, 'define', f);
    assert.equal(r.code, 0, r.stderr);
    r = virsh(uri, 'start', 'con1');
    for (const pid of guestPids(d.stateDir)) reaper.track(pid);
    assert.equal(r.code, 0, r.stderr);
  });

  after(async () => {
    if (d !== undefined) {
      for (const pid of guestPids(d.stateDir)) reaper.track(pid);
      virsh(uri, 'destroy', 'con1');
    }
    await d?.stop();
    await reaper.cleanup();
  });

  async function openedRaw(): Promise<{ c: RawClient; dom: WireDomain }> {
    const c = await RawClient.connect(d!.rw);
    await c.call(Proc.AUTH_LIST);
    assert.equal((await c.callWith(Proc.CONNECT_OPEN, openArgs, { name: 'qemu:///session', flags: 0 })).header.status, MessageStatus.OK);
    const r = await c.callWith(Proc.DOMAIN_LOOKUP_BY_NAME, lookupByNameArgs, { name: 'con1' });
    return { c, dom: decode(retDom, r.payload).dom };
  }

  test("raw: the guest's output arrives on the call's serial; an abort is confirmed with an empty OK and the guest runs on", async () => {
    const { c, dom } = await openedRaw();
    try {
      const serial = nextSerial(c);
      const reply = await c.callWith(Proc.DOMAIN_OPEN_CONSOLE, openConsoleArgs, { dom, devName: null, flags: 0 });
      assert.equal(reply.header.status, MessageStatus.OK, reply.header.status === MessageStatus.ERROR ? errorOf(reply).message ?? '' : '');
      assert.equal(reply.payload.length, 0, 'an empty reply');
      const fs = await packets(c, serial, (f) => text(f).includes('GUEST-ALIVE'));
      assert.ok(fs.every((f) => f.header.status === MessageStatus.CONTINUE && f.header.proc === Proc.DOMAIN_OPEN_CONSOLE));
      c.send(streamPacket(serial, MessageStatus.ERROR));
      const done = await packets(c, serial, (f) => f.some((x) => x.header.status === MessageStatus.OK));
      assert.equal(done.find((x) => x.header.status === MessageStatus.OK)!.payload.length, 0);
      const st = await c.callWith(Proc.DOMAIN_GET_STATE, (await import('../src/rpc/procedures.js')).domFlags, { dom, flags: 0 });
      assert.equal(decode(getStateRet, st.payload).state, 1, 'still running');
    } finally {
      c.close();
    }
  });

  test('a client flooding the console faster than the guest reads it is no longer read: the daemon stays small', async () => {
    const { c, dom } = await openedRaw();
    const pid = d!.proc.pid!;
    try {
      const serial = nextSerial(c);
      const reply = await c.callWith(Proc.DOMAIN_OPEN_CONSOLE, openConsoleArgs, { dom, devName: null, flags: 0 });
      assert.equal(reply.header.status, MessageStatus.OK);
      const before = rss(pid);
      const chunk = streamPacket(serial, MessageStatus.CONTINUE, Buffer.alloc(262_120, 0x61));
      // 64 MiB offered; a guest's UART takes a few KiB a second.
      for (let i = 0; i < 256; i++) c.send(chunk);
      await sleep(3000);
      const grown = rss(pid) - before;
      assert.ok(grown < 48 * 1024 * 1024, `daemon RSS grew by ${grown} bytes`);
      const sock = (c as unknown as { sock: { writableLength: number } }).sock;
      assert.ok(sock.writableLength > 16 * 1024 * 1024, `the daemon stopped reading: ${sock.writableLength} bytes still unsent by the client`);
    } finally {
      c.close();
    }
    // Dropping that client freed its console: another session opens it without FORCE. The daemon
    // had stopped reading the flooding client, so it sees that client gone only when it next
    // writes to it (the guest's next GUEST-ALIVE, each second): until then the console is busy.
    const { c: c2, dom: dom2 } = await openedRaw();
    try {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const r = await c2.callWith(Proc.DOMAIN_OPEN_CONSOLE, openConsoleArgs, { dom: dom2, devName: null, flags: 0 });
        const busy = r.header.status === MessageStatus.ERROR && errorOf(r).message === 'operation failed: Active console session exists for this domain';
        if (busy && Date.now() < deadline) {
          await sleep(200);
          continue;
        }
        assert.equal(r.header.status, MessageStatus.OK, r.header.status === MessageStatus.ERROR ? errorOf(r).message ?? '' : '');
        break;
      }
    } finally {
      c2.close();
    }
  });

  test("tsvirt's remote driver: the console as a Stream; the guest's end is the end of data", async () => {
    const conn = await connect(uri);
    try {
      const dom = await conn.lookupByName('con1');
      const st = conn.newStream();
      await dom.openConsole(null, st);
      let seen = '';
      while (!seen.includes('GUEST-ALIVE')) {
        const got = await st.recv(4096);
        assert.ok(got.length > 0, 'data before the end');
        seen += got.toString('latin1');
      }
      await dom.destroy();
      for (;;) {
        const got = await st.recv(4096);
        if (got.length === 0) break;
      }
      await st.finish();
    } finally {
      await conn.close();
    }
  });
});
