/**
 * libvirt streams through tsvirtd: DOMAIN_SCREENSHOT (211) and DOMAIN_OPEN_CONSOLE (201) with
 * Debian's real virsh and python3-libvirt, side by side with a real libvirtd's test driver, and
 * with a raw protocol client for what those tools do not show: packet types, statuses and
 * serials, finish and abort confirmations, the read-only refusal, a client that dies mid-stream,
 * the per-client stream limit, and a client that stops reading (the daemon stops reading the
 * driver's channel: bounded memory, observed as the channel left paused).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageStatus, MessageType, STREAM_CHUNK_MAX, encodeFrame, type Frame } from '../src/rpc/message.js';
import { REMOTE_PROGRAM, xError, type WireDomain, type WireError } from '../src/rpc/protocol.js';
import { Proc, lookupByNameArgs, openArgs, openConsoleArgs, retDom, screenshotArgs, screenshotRet } from '../src/rpc/procedures.js';
import { XdrWriter, decode } from '../src/rpc/xdr.js';
import { ErrorDomain, ErrorNumber, connect } from '../src/index.js';
import { Client } from '../src/daemon/client.js';
import { ConnectionFactory } from '../src/daemon/connections.js';
import { RawClient, errorOf, python, pythonLibvirtSkip, startDaemon, virsh, virshSkip, type Run, type RunningDaemon } from './support/daemon-harness.js';
import { startLibvirtd, type RunningLibvirtd } from './support/libvirtd-harness.js';
import { FakeSocket, RecordingLogger } from './support/daemon-fake-socket.js';
import { checkPNG } from './support/png.js';

/** virsh without -q: screenshot's "Screenshot saved to …" line is one -q leaves out. */
function virshLoud(uri: string, ...args: string[]): Run {
  const r = spawnSync('virsh', ['-c', uri, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, LC_ALL: 'C' } });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** A raw client with an open connection to test:///default (or the read-only socket's). */
async function opened(path: string, flags = 0): Promise<RawClient> {
  const c = await RawClient.connect(path);
  await c.call(Proc.AUTH_LIST);
  const r = await c.callWith(Proc.CONNECT_OPEN, openArgs, { name: 'test:///default', flags });
  assert.equal(r.header.status, MessageStatus.OK, 'CONNECT_OPEN answered OK');
  return c;
}

async function lookup(c: RawClient, name = 'test'): Promise<WireDomain> {
  const r = await c.callWith(Proc.DOMAIN_LOOKUP_BY_NAME, lookupByNameArgs, { name });
  assert.equal(r.header.status, MessageStatus.OK);
  return decode(retDom, r.payload).dom;
}

/** Waits until the client has received a STREAM packet for which `done` says enough. */
async function streamPackets(c: RawClient, serial: number, done: (frames: Frame[]) => boolean, ms = 10_000): Promise<Frame[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const frames = c.messages.filter((f) => f.header.type === MessageType.STREAM && f.header.serial === serial);
    if (done(frames)) return frames;
    if (Date.now() > deadline) throw new Error(`stream ${serial}: ${frames.length} packets, not done`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const endOfData = (frames: Frame[]): boolean => frames.some((f) => f.header.status === MessageStatus.CONTINUE && f.payload.length === 0);
const confirmed = (frames: Frame[]): boolean => frames.some((f) => f.header.status !== MessageStatus.CONTINUE);

/** The serial the RawClient's next call gets (its calls are numbered from 0). */
function nextSerial(c: RawClient): number {
  return (c as unknown as { serial: number }).serial;
}

function streamPacket(proc: number, serial: number, status: MessageStatus, payload?: Buffer): Buffer {
  return encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc, type: MessageType.STREAM, serial, status }, payload);
}

function wireError(message: string): Buffer {
  const e: WireError = { code: ErrorNumber.RPC, domain: ErrorDomain.RPC, message, level: 2, dom: null, str1: '%s', str2: message, str3: null, int1: -1, int2: -1, net: null };
  const w = new XdrWriter();
  xError.enc(w, e);
  return Buffer.from(w.finish());
}

/** A whole screenshot over a raw client: the reply, the data packets, the end, the finish. */
async function rawScreenshot(c: RawClient, dom: WireDomain): Promise<{ reply: Frame; serial: number; data: Frame[]; image: Buffer; confirm: Frame }> {
  const serial = nextSerial(c);
  const reply = await c.callWith(Proc.DOMAIN_SCREENSHOT, screenshotArgs, { dom, screen: 0, flags: 0 });
  const data = await streamPackets(c, serial, endOfData);
  c.send(streamPacket(Proc.DOMAIN_SCREENSHOT, serial, MessageStatus.OK));
  const all = await streamPackets(c, serial, confirmed);
  const confirm = all.find((f) => f.header.status !== MessageStatus.CONTINUE)!;
  const image = Buffer.concat(data.filter((f) => f.payload.length > 0).map((f) => f.payload));
  return { reply, serial, data, image, confirm };
}

describe('tsvirtd streams, against test:///default', () => {
  let d: RunningDaemon;
  let lv: RunningLibvirtd | undefined;
  let lvSkip: string | false = false;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsv-streams-'));
    d = await startDaemon({ args: ['--max-client-streams', '3'] });
    const started = await startLibvirtd();
    if ('skip' in started) lvSkip = started.skip;
    else lv = started;
  });
  after(async () => {
    await d?.dispose();
    await lv?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  test('virsh screenshot: a valid PNG and the same line as libvirtd', { skip: virshSkip() }, (t) => {
    const file = join(dir, 'tsvirtd.png');
    const r = virshLoud(d.uri('/default'), 'screenshot', 'test', file);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `Screenshot saved to ${file}, with type of image/png`);
    const info = checkPNG(readFileSync(file));
    assert.deepEqual([info.width, info.height, info.bitDepth, info.colourType], [1120, 832, 8, 0], 'the kind of image libvirt ships');
    if (lv === undefined) return t.skip(`no libvirtd to compare with: ${String(lvSkip)}`);
    const other = join(dir, 'libvirtd.png');
    const l = virshLoud(lv.uri('/default'), 'screenshot', 'test', other);
    assert.equal(l.code, 0, l.stderr);
    assert.equal(r.stdout.replace(file, 'FILE'), l.stdout.replace(other, 'FILE'), 'the same output as libvirtd');
    checkPNG(readFileSync(other));
  });

  test('virsh on the read-only socket: screenshot refused as libvirt refuses it', { skip: virshSkip() }, () => {
    const r = virsh(d.uri('/default', true), 'screenshot', 'test', join(dir, 'ro.png'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /operation forbidden: read only access prevents virDomainScreenshot/);
  });

  test('python-libvirt: conn.newStream(), dom.screenshot(), recvAll, finish', { skip: pythonLibvirtSkip() }, () => {
    const script = `
import sys, libvirt
conn = libvirt.open(sys.argv[1])
dom = conn.lookupByName('test')
st = conn.newStream()
mime = dom.screenshot(st, 0)
chunks = []
st.recvAll(lambda s, data, opaque: chunks.append(data), None)
st.finish()
sys.stdout.buffer.write((mime + '\\n').encode())
sys.stdout.buffer.write(b''.join(chunks).hex().encode())
try:
    dom.openConsole(None, conn.newStream(), 0)
except libvirt.libvirtError as e:
    sys.stdout.write('\\nconsole: %d %s' % (e.get_error_code(), e.get_error_message()))
conn.close()
`;
    const r = python(script, d.uri('/default'));
    assert.equal(r.code, 0, r.stderr);
    const [mime, hex, consoleLine] = r.stdout.split('\n');
    assert.equal(mime, 'image/png');
    checkPNG(Buffer.from(hex!, 'hex'));
    assert.equal(consoleLine, `console: ${ErrorNumber.NO_SUPPORT} this function is not supported by the connection driver: virDomainOpenConsole`);
  });

  test('raw: REPLY OK with the MIME type, data on the call serial in packets of at most 262,120 bytes, an empty CONTINUE, a finish confirmed with an empty OK', async () => {
    const c = await opened(d.rw);
    try {
      const dom = await lookup(c);
      const s = await rawScreenshot(c, dom);
      assert.equal(s.reply.header.type, MessageType.REPLY);
      assert.equal(s.reply.header.status, MessageStatus.OK);
      assert.equal(decode(screenshotRet, s.reply.payload).mime, 'image/png');
      for (const f of s.data) {
        assert.equal(f.header.proc, Proc.DOMAIN_SCREENSHOT);
        assert.equal(f.header.status, MessageStatus.CONTINUE);
        assert.ok(f.payload.length <= STREAM_CHUNK_MAX);
      }
      assert.equal(s.data.at(-1)!.payload.length, 0, 'the end of data is an empty CONTINUE');
      checkPNG(s.image);
      assert.equal(s.confirm.header.status, MessageStatus.OK);
      assert.equal(s.confirm.payload.length, 0);
      const again = await c.call(Proc.CONNECT_GET_TYPE);
      assert.equal(again.header.status, MessageStatus.OK, 'the connection goes on');
    } finally {
      c.close();
    }
  });

  test('raw: libvirtd sends the same sequence (its own image)', async (t) => {
    if (lv === undefined) return t.skip(`no libvirtd: ${String(lvSkip)}`);
    const c = await opened(lv.socket);
    try {
      const s = await rawScreenshot(c, await lookup(c));
      assert.equal(decode(screenshotRet, s.reply.payload).mime, 'image/png');
      assert.deepEqual(
        s.data.map((f) => [f.header.type, f.header.status, f.payload.length === 0]).at(-1),
        [MessageType.STREAM, MessageStatus.CONTINUE, true],
      );
      assert.ok(s.data.every((f) => f.payload.length <= STREAM_CHUNK_MAX));
      assert.deepEqual([s.confirm.header.type, s.confirm.header.status, s.confirm.payload.length], [MessageType.STREAM, MessageStatus.OK, 0]);
      checkPNG(s.image);
    } finally {
      c.close();
    }
  });

  test('raw: an abort, with an empty payload (as libvirt 9.0 sends it) or a remote_error, is answered with an empty OK', async () => {
    const c = await opened(d.rw);
    try {
      const dom = await lookup(c);
      for (const payload of [undefined, wireError('aborted by the test')]) {
        const serial = nextSerial(c);
        const reply = await c.callWith(Proc.DOMAIN_SCREENSHOT, screenshotArgs, { dom, screen: 0, flags: 0 });
        assert.equal(reply.header.status, MessageStatus.OK);
        c.send(streamPacket(Proc.DOMAIN_SCREENSHOT, serial, MessageStatus.ERROR, payload));
        const frames = await streamPackets(c, serial, confirmed);
        const confirm = frames.find((f) => f.header.status !== MessageStatus.CONTINUE)!;
        assert.deepEqual([confirm.header.type, confirm.header.status, confirm.payload.length], [MessageType.STREAM, MessageStatus.OK, 0]);
      }
      // Three streams were opened and closed: the limit (3) counts open ones only.
      const r = await c.call(Proc.CONNECT_GET_TYPE);
      assert.equal(r.header.status, MessageStatus.OK);
    } finally {
      c.close();
    }
  });

  test('raw: data sent into a screenshot stream fails it with STREAM/ERROR; later packets on it are dropped', async () => {
    const c = await opened(d.rw);
    try {
      const dom = await lookup(c);
      const serial = nextSerial(c);
      await c.callWith(Proc.DOMAIN_SCREENSHOT, screenshotArgs, { dom, screen: 0, flags: 0 });
      c.send(streamPacket(Proc.DOMAIN_SCREENSHOT, serial, MessageStatus.CONTINUE, Buffer.from('not for an image')));
      const frames = await streamPackets(c, serial, (fs) => fs.some((f) => f.header.status === MessageStatus.ERROR));
      const e = errorOf(frames.find((f) => f.header.status === MessageStatus.ERROR)!);
      assert.deepEqual([e.code, e.domain, e.message], [ErrorNumber.RPC, ErrorDomain.STREAMS, 'stream had unexpected termination'], 'as libvirtd answers');
      c.send(streamPacket(Proc.DOMAIN_SCREENSHOT, serial, MessageStatus.OK));
      const r = await c.call(Proc.CONNECT_GET_TYPE);
      assert.equal(r.header.status, MessageStatus.OK);
      const after = c.messages.filter((f) => f.header.serial === serial && f.header.status === MessageStatus.OK);
      assert.equal(after.length, 0, 'no confirmation for a stream that is gone');
    } finally {
      c.close();
    }
  });

  test('raw: streams on the read-only socket are refused as libvirtd refuses them', async () => {
    const c = await opened(d.ro);
    try {
      const dom = await lookup(c);
      const shot = await c.callWith(Proc.DOMAIN_SCREENSHOT, screenshotArgs, { dom, screen: 0, flags: 0 });
      assert.equal(shot.header.status, MessageStatus.ERROR);
      const e = errorOf(shot);
      assert.deepEqual([e.code, e.domain, e.message], [ErrorNumber.OPERATION_DENIED, ErrorDomain.DOMAIN, 'operation forbidden: read only access prevents virDomainScreenshot']);
      const con = await c.callWith(Proc.DOMAIN_OPEN_CONSOLE, openConsoleArgs, { dom, devName: null, flags: 0 });
      assert.equal(errorOf(con).message, 'operation forbidden: read only access prevents virDomainOpenConsole');
    } finally {
      c.close();
    }
  });

  test('raw: DOMAIN_OPEN_CONSOLE on the test driver is NO_SUPPORT, byte for byte as libvirtd', async () => {
    const c = await opened(d.rw);
    try {
      const r = await c.callWith(Proc.DOMAIN_OPEN_CONSOLE, openConsoleArgs, { dom: await lookup(c), devName: null, flags: 0 });
      assert.equal(r.header.status, MessageStatus.ERROR);
      assert.equal(errorOf(r).code, ErrorNumber.NO_SUPPORT);
      if (lv !== undefined) {
        const l = await opened(lv.socket);
        try {
          const lr = await l.callWith(Proc.DOMAIN_OPEN_CONSOLE, openConsoleArgs, { dom: await lookup(l), devName: null, flags: 0 });
          assert.deepEqual(errorOf(r), errorOf(lr));
        } finally {
          l.close();
        }
      }
    } finally {
      c.close();
    }
  });

  test('raw: a client killed mid-stream; the daemon frees its streams and serves the next client', async () => {
    const c = await opened(d.rw);
    const dom = await lookup(c);
    for (let i = 0; i < 3; i++) await c.callWith(Proc.DOMAIN_SCREENSHOT, screenshotArgs, { dom, screen: 0, flags: 0 });
    // At the limit of 3 open streams, a fourth is refused.
    const refused = await c.callWith(Proc.DOMAIN_SCREENSHOT, screenshotArgs, { dom, screen: 0, flags: 0 });
    assert.equal(refused.header.status, MessageStatus.ERROR);
    assert.match(errorOf(refused).message ?? '', /too many streams opened by this client \(limit 3\)/);
    c.close();
    const next = await opened(d.rw);
    try {
      const s = await rawScreenshot(next, await lookup(next));
      checkPNG(s.image);
    } finally {
      next.close();
    }
  });

  test("tsvirt's remote driver: screenshot through tsvirtd and through libvirtd", async () => {
    const uris = [d.uri('/default'), ...(lv !== undefined ? [lv.uri('/default')] : [])];
    for (const uri of uris) {
      const conn = await connect(uri);
      try {
        const dom = await conn.lookupByName('test');
        const st = conn.newStream();
        assert.equal(await dom.screenshot(st, 0), 'image/png', uri);
        const chunks: Buffer[] = [];
        for await (const chunk of st) chunks.push(chunk);
        await st.finish();
        checkPNG(Buffer.concat(chunks));
        await assert.rejects(dom.openConsole(null, conn.newStream()), (e: { code: number }) => e.code === ErrorNumber.NO_SUPPORT);
        // Read-only: refused before anything goes out, as libvirt's client library refuses it.
        const ro = await connect(uri, { readonly: true });
        try {
          await assert.rejects((await ro.lookupByName('test')).screenshot(ro.newStream(), 0), (e: { code: number }) => e.code === ErrorNumber.OPERATION_DENIED);
        } finally {
          await ro.close();
        }
      } finally {
        await conn.close();
      }
    }
  });
});

describe('a tsvirtd client whose peer stops reading a stream', () => {
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 30; i++) await new Promise((r) => setImmediate(r));
  };
  const until = async (what: string, cond: () => boolean): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    await settle();
  };
  const frame = (proc: number, serial: number, payload: Buffer): Buffer =>
    encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc, type: MessageType.CALL, serial, status: 0 }, payload);
  const enc = <T>(codec: { enc: (w: XdrWriter, v: T) => void }, v: T): Buffer => {
    const w = new XdrWriter();
    codec.enc(w, v);
    return Buffer.from(w.finish());
  };

  test('the channel is left unread at the bound, the rest follows once the peer reads, and a dropped client destroys the channel', async () => {
    const sock = new FakeSocket();
    const bound = 1024;
    const client = new Client({ id: 1, socket: sock.asSocket(), readonlySocket: false, factory: new ConnectionFactory(), log: new RecordingLogger(), streamOutputBound: bound, onClose: () => {} });
    try {
      sock.feed(frame(Proc.AUTH_LIST, 0, Buffer.alloc(0)));
      sock.feed(frame(Proc.CONNECT_OPEN, 1, enc(openArgs, { name: 'test:///default', flags: 0 })));
      sock.feed(frame(Proc.DOMAIN_LOOKUP_BY_NAME, 2, enc(lookupByNameArgs, { name: 'test' })));
      await until('the lookup', () => sock.frames.some((f) => f.header.serial === 2));
      const dom = decode(retDom, sock.frames.find((f) => f.header.serial === 2)!.payload).dom;
      sock.stalled = true;
      sock.feed(frame(Proc.DOMAIN_SCREENSHOT, 3, enc(screenshotArgs, { dom, screen: 0, flags: 0 })));
      await until('the stream', () => client.streamStats().pauses > 0);
      const stats = client.streamStats();
      assert.equal(stats.open, 1);
      assert.ok(stats.pauses > 0, 'the channel was left unread');
      const image = (await import('../src/drivers/test/screenshot.js')).testScreenshot();
      assert.ok(stats.sentBytes < image.length, `only part of the image went out (${stats.sentBytes} of ${image.length})`);
      // The bound, plus the headers (28 bytes) of the packets under it.
      assert.ok(sock.writableLength <= bound + 2 * 28, `the daemon holds at most the bound unsent (${sock.writableLength})`);
      sock.flush();
      await until('the end of data', () => sock.frames.some((f) => f.header.type === MessageType.STREAM && f.header.serial === 3 && f.payload.length === 0));
      const data = sock.frames.filter((f) => f.header.type === MessageType.STREAM && f.header.serial === 3);
      assert.equal(data.at(-1)!.payload.length, 0, 'the end of data came once the peer read');
      assert.ok(Buffer.concat(data.map((f) => f.payload)).equals(image));
      // Another stream, never finished: the client goes, its channel with it.
      sock.stalled = true;
      sock.feed(frame(Proc.DOMAIN_SCREENSHOT, 4, enc(screenshotArgs, { dom, screen: 0, flags: 0 })));
      await until('the second stream', () => client.streamStats().open === 2);
      assert.equal(client.streamStats().open, 2);
    } finally {
      await client.shutdown('test over');
    }
    assert.equal(client.streamStats().open, 0, 'every stream freed');
  });
});
