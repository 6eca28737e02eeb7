/**
 * tsvirtd's limits against clients that misbehave or merely hold on: a client that pipelines
 * calls without reading its replies, a frame announcing a huge length, read-only clients filling
 * every slot, a client registering event callbacks without end, and another process holding the
 * store's write lock. In each case the daemon stays small and keeps answering everyone else.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createConnection, type Socket } from 'node:net';
import { join } from 'node:path';
import { MessageStatus, MessageType, encodeFrame } from '../src/rpc/message.js';
import { KEEPALIVE_PROGRAM, REMOTE_PROGRAM } from '../src/rpc/protocol.js';
import { Proc, callbackIdCodec, eventRegisterArgs, lookupByNameArgs, openArgs, xml } from '../src/rpc/procedures.js';
import { ErrorNumber } from '../src/core/enums.generated.js';
import { XdrWriter } from '../src/rpc/xdr.js';
import { RawClient, errorOf, startDaemon, type RunningDaemon } from './support/daemon-harness.js';
import { killNow, onEmergency } from './support/emergency.js';
import { FakeSocket, RecordingLogger } from './support/daemon-fake-socket.js';
import { Client } from '../src/daemon/client.js';
import { ConnectionFactory } from '../src/daemon/connections.js';

const RPC_DOMAIN = 7;

async function opened(path: string, uri = 'test:///default'): Promise<RawClient> {
  const c = await RawClient.connect(path);
  await c.call(Proc.AUTH_LIST);
  const r = await c.callWith(Proc.CONNECT_OPEN, openArgs, { name: uri, flags: 0 });
  assert.equal(r.header.status, MessageStatus.OK, 'CONNECT_OPEN answered OK');
  return c;
}

/** The daemon's resident set, in bytes. */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** Milliseconds one call of `c` takes. */
async function timed(c: RawClient, proc: number = Proc.CONNECT_GET_VERSION): Promise<number> {
  const t0 = Date.now();
  const r = await c.call(proc);
  assert.equal(r.header.status, MessageStatus.OK);
  return Date.now() - t0;
}

/** Whether the daemon closes a fresh connection to `path` within `ms` (it was refused). */
function closedAtOnce(path: string, ms = 3000): Promise<{ closed: boolean; sock: Socket }> {
  return new Promise((resolve) => {
    const sock = createConnection(path);
    sock.on('error', () => {});
    const t = setTimeout(() => resolve({ closed: false, sock }), ms);
    sock.once('close', () => {
      clearTimeout(t);
      resolve({ closed: true, sock });
    });
    // A call: a refused socket never answers it, an accepted one does.
    sock.once('connect', () => sock.write(encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc: Proc.AUTH_LIST, type: MessageType.CALL, serial: 1, status: 0 })));
  });
}

const MB = 1024 * 1024;

describe('tsvirtd limits', () => {
  let d: RunningDaemon;
  before(async () => {
    d = await startDaemon({ verbose: false, args: ['--max-clients', '8', '--max-readonly-clients', '4', '--max-event-callbacks', '3'] });
  });
  after(async () => {
    await d?.dispose();
  });

  test('a client pipelining calls it never reads the replies of: the daemon stays small, others are answered at once, dropping it is cheap', async (t) => {
    const pid = d.proc.pid!;
    const other = await opened(d.rw);
    const bad = createConnection(d.rw);
    bad.on('error', () => {});
    const connected = new Promise<void>((resolve, reject) => {
      bad.once('connect', resolve);
      bad.once('error', reject);
    });
    try {
      await timed(other);
      const base = rss(pid);
      await connected;
      // Never reads: what the daemon sends stays in the kernel's buffers, then in the daemon's.
      bad.pause();
      const header = (proc: number, serial: number): Buffer =>
        encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc, type: MessageType.CALL, serial, status: 0 });
      const ow = new XdrWriter();
      openArgs.enc(ow, { name: 'test:///default', flags: 0 });
      const open = encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc: Proc.CONNECT_OPEN, type: MessageType.CALL, serial: 0, status: 0 }, ow.finish());
      bad.write(open);
      // 1 MiB of 28-byte CONNECT_GET_VERSION calls, written up to 20 MiB while the daemon takes them.
      const one = header(Proc.CONNECT_GET_VERSION, 1);
      const chunk = Buffer.concat(Array.from({ length: Math.floor(MB / one.length) }, () => one));
      let peak = base;
      let worst = 0;
      const sampler = setInterval(() => {
        try {
          peak = Math.max(peak, rss(pid));
        } catch {
          // The daemon went away: the assertions below say so.
        }
      }, 50);
      let sent = 0;
      const end = Date.now() + 20_000;
      try {
        while (sent < 20 * MB && Date.now() < end) {
          const more = bad.write(chunk);
          sent += chunk.length;
          await new Promise((r) => setImmediate(r));
          if (!more) {
            // Stalled: the daemon stopped reading. Wait a little for it, measuring another client.
            const drained = new Promise<boolean>((resolve) => {
              const t = setTimeout(() => resolve(false), 2000);
              bad.once('drain', () => {
                clearTimeout(t);
                resolve(true);
              });
            });
            worst = Math.max(worst, await timed(other));
            if (!(await drained)) break;
          }
        }
        for (let i = 0; i < 5; i++) worst = Math.max(worst, await timed(other));
        await new Promise((r) => setTimeout(r, 300));
        peak = Math.max(peak, rss(pid));
      } finally {
        clearInterval(sampler);
      }
      const grown = (peak - base) / MB;
      t.diagnostic(`RSS ${(base / MB).toFixed(0)} MB, peak +${grown.toFixed(1)} MB; ${(sent / MB).toFixed(1)} MB of calls offered; slowest other call ${worst} ms`);
      assert.ok(grown < 100, `daemon RSS grew by ${grown.toFixed(0)} MB (${(sent / MB).toFixed(1)} MB of calls offered)`);
      assert.ok(worst < 3000, `another client waited ${worst} ms for an answer`);
      // Dropping it: nothing for the others to wait on.
      bad.destroy();
      const t0 = Date.now();
      await timed(other);
      await timed(other);
      assert.ok(Date.now() - t0 < 2000, `after the drop another client waited ${Date.now() - t0} ms`);
    } finally {
      bad.destroy();
      other.close();
    }
  });

  test('a frame announcing more than 32 MiB drops the client before anything is read into memory', async () => {
    const pid = d.proc.pid!;
    const base = rss(pid);
    for (const len of [0x02000001, 0x7fffffff, 0xffffffff]) {
      const c = await RawClient.connect(d.rw);
      const word = Buffer.alloc(28);
      word.writeUInt32BE(len, 0);
      word.writeUInt32BE(REMOTE_PROGRAM, 4);
      word.writeUInt32BE(1, 8);
      c.send(word);
      // Then a few MiB of the announced body: none of it may be kept.
      for (let i = 0; i < 4 && !c.closed(); i++) c.send(Buffer.alloc(MB));
      const t0 = Date.now();
      while (!c.closed() && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
      assert.ok(c.closed(), `length ${len}: the daemon kept the client`);
      c.close();
    }
    assert.ok(rss(pid) - base < 20 * MB, `daemon RSS grew by ${((rss(pid) - base) / MB).toFixed(0)} MB`);
    const c = await opened(d.rw);
    await timed(c);
    c.close();
  });

  test('read-only clients cannot take the slots kept for the read-write socket', async () => {
    const held: RawClient[] = [];
    const extra: Socket[] = [];
    try {
      for (let i = 0; i < 4; i++) held.push(await opened(d.ro));
      const fifth = await closedAtOnce(d.ro);
      extra.push(fifth.sock);
      assert.ok(fifth.closed, 'the 5th read-only connection (limit 4) was refused at once');
      // The read-write socket still gets in, up to the total of 8.
      for (let i = 0; i < 4; i++) {
        const rw = await opened(d.rw);
        held.push(rw);
        await timed(rw);
      }
      const ninth = await closedAtOnce(d.rw);
      extra.push(ninth.sock);
      assert.ok(ninth.closed, 'the 9th connection (limit 8) was refused at once');
      // The held ones were not disturbed.
      for (const c of held) assert.equal(c.closed(), false);
      await timed(held[0]!);
      // A slot freed is a slot for the next one.
      held.shift()!.close();
      await new Promise((r) => setTimeout(r, 200));
      const again = await opened(d.ro);
      held.push(again);
      await timed(again);
    } finally {
      for (const c of held) c.close();
      for (const s of extra) s.destroy();
      // The daemon frees the slots as it notices the closes.
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  test('event callbacks beyond a client\'s limit are refused with VIR_ERR_OPERATION_FAILED, and a freed one can be registered again', async () => {
    const c = await opened(d.rw);
    try {
      const ids: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await c.callWith(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, eventRegisterArgs, { eventID: 0, dom: null });
        assert.equal(r.header.status, MessageStatus.OK);
        ids.push(r.payload.readInt32BE(0));
      }
      const refused = await c.callWith(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, eventRegisterArgs, { eventID: 0, dom: null });
      assert.equal(refused.header.status, MessageStatus.ERROR);
      const e = errorOf(refused);
      assert.deepEqual([e.code, e.domain], [ErrorNumber.OPERATION_FAILED, RPC_DOMAIN]);
      assert.equal(e.message, 'operation failed: too many event callbacks registered by this client (limit 3)');
      // The client is still served, and deregistering frees a place.
      const dr = await c.callWith(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, callbackIdCodec, { callbackID: ids[0]! });
      assert.equal(dr.header.status, MessageStatus.OK);
      const r = await c.callWith(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, eventRegisterArgs, { eventID: 0, dom: null });
      assert.equal(r.header.status, MessageStatus.OK);
    } finally {
      c.close();
    }
  });
});

describe('tsvirtd and another process holding the store\'s write lock', () => {
  let d: RunningDaemon;
  let holder: ChildProcess | undefined;
  before(async () => {
    d = await startDaemon({ verbose: false });
  });
  after(async () => {
    if (holder !== undefined && holder.exitCode === null) holder.kill('SIGKILL');
    await d?.dispose();
  });

  /** A node process that takes the store's write lock (BEGIN IMMEDIATE) and holds it until told. */
  async function holdLock(file: string): Promise<{ release: () => Promise<void> }> {
    const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
    const script = `
      const Database = require(process.argv[1]);
      const db = new Database(process.argv[2], { timeout: 5000 });
      db.exec('BEGIN IMMEDIATE');
      process.stdout.write('locked\\n');
      process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.exit(0); });
    `;
    const child = spawn(process.execPath, ['-e', script, sqlite, file], { stdio: ['pipe', 'pipe', 'inherit'] });
    holder = child;
    const forget = onEmergency(() => killNow(child));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (b: Buffer) => {
        if (b.toString().includes('locked')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`lock holder exited (${code})`)));
    });
    return {
      release: async () => {
        if (child.exitCode !== null) return;
        const gone = new Promise((r) => child.once('exit', r));
        child.stdin!.write('go\n');
        await gone;
        forget();
      },
    };
  }

  test('a write waits on a timer while others are answered; it completes once the lock is released', async () => {
    const a = await opened(d.rw, 'test:///session');
    const b = await opened(d.rw, 'test:///session');
    const lock = await holdLock(join(d.stateDir, 'test', 'session.db'));
    try {
      const defXML = "<domain type='test'><name>waiter</name><memory>1024</memory><os><type>hvm</type></os></domain>";
      const t0 = Date.now();
      const pending = a.callWith(Proc.DOMAIN_DEFINE_XML, xml, { xml: defXML });
      let settled = false;
      void pending.then(() => (settled = true), () => (settled = true));
      await new Promise((r) => setTimeout(r, 300));
      // Another client's reads (its own connection, the same store) are answered meanwhile.
      const tRead = Date.now();
      const list = await b.call(Proc.CONNECT_LIST_ALL_DOMAINS, Buffer.from('0000000100000000', 'hex'));
      assert.equal(list.header.status, MessageStatus.OK);
      const missing = await b.callWith(Proc.DOMAIN_LOOKUP_BY_NAME, lookupByNameArgs, { name: 'waiter' });
      assert.equal(missing.header.status, MessageStatus.ERROR, 'nothing of the waiting define is visible');
      await timed(b);
      const readMs = Date.now() - tRead;
      assert.ok(readMs < 2000, `reads took ${readMs} ms while another process held the write lock`);
      assert.equal(settled, false, 'the define waits for the lock');
      await lock.release();
      const r = await pending;
      assert.equal(r.header.status, MessageStatus.OK, r.header.status === MessageStatus.ERROR ? (errorOf(r).message ?? '') : '');
      assert.ok(Date.now() - t0 < 10_000);
      const found = await b.callWith(Proc.DOMAIN_LOOKUP_BY_NAME, lookupByNameArgs, { name: 'waiter' });
      assert.equal(found.header.status, MessageStatus.OK);
    } finally {
      await lock.release();
      a.close();
      b.close();
    }
  });
});

describe('a tsvirtd client, driven through an in-memory socket', () => {
  const call = (proc: number, serial: number): Buffer => encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc, type: MessageType.CALL, serial, status: 0 });
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };

  test('stops reading at max_client_requests unflushed replies, and reads again once they leave', async () => {
    const sock = new FakeSocket();
    const client = new Client({ id: 1, socket: sock.asSocket(), readonlySocket: false, factory: new ConnectionFactory(), log: new RecordingLogger(), maxClientRequests: 3, onClose: () => {} });
    try {
      sock.stalled = true;
      // Ten calls in one chunk: all answered in order, the socket paused meanwhile.
      sock.feed(Buffer.concat(Array.from({ length: 10 }, (_, i) => call(Proc.AUTH_LIST, i))));
      await settle();
      assert.equal(sock.paused, true, 'paused with the replies unflushed');
      sock.flush();
      await settle();
      assert.equal(sock.paused, false, 'read again once the replies left');
      assert.deepEqual(sock.frames.map((f) => f.header.serial), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      // Two calls stay under the limit: the socket is never paused.
      sock.stalled = true;
      sock.feed(Buffer.concat([call(Proc.AUTH_LIST, 10), call(Proc.AUTH_LIST, 11)]));
      await settle();
      assert.equal(sock.paused, false);
    } finally {
      await client.shutdown('test over');
    }
  });

  test('a client that leaves too many messages unread is dropped, whatever their size', async () => {
    const sock = new FakeSocket();
    const log = new RecordingLogger();
    const client = new Client({ id: 1, socket: sock.asSocket(), readonlySocket: false, factory: new ConnectionFactory(), log, maxPendingMessages: 50, onClose: () => {} });
    try {
      sock.stalled = true;
      const ping = encodeFrame({ prog: KEEPALIVE_PROGRAM, vers: 1, proc: 1, type: MessageType.MESSAGE, serial: 0, status: 0 });
      for (let i = 0; i < 100 && !sock.destroyed; i++) sock.feed(ping);
      await settle();
      assert.equal(sock.destroyed, true, 'dropped');
      assert.ok(sock.writableLength <= 50 * ping.length, `stopped writing at the limit (${sock.writableLength} bytes)`);
      assert.match(log.problems.join('\n'), /more than 50 messages unread; closing/);
    } finally {
      await client.shutdown('test over');
    }
  });
});
