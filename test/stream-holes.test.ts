/**
 * Sparse streams over the wire (STREAM_HOLE, message type 6) and the coalescing of stream output:
 * tsvirtd's client (src/daemon/client.ts) on one end of a real unix socket, tsvirt's remote
 * client (RpcClient with a RemoteStreamChannel) on the other, and the public Stream API on top.
 * The daemon's stream is bound to a driver channel made here (object mode: Buffers and
 * StreamHoles), as the storage driver's volume upload/download will bind theirs; the stream is
 * registered on both ends through their private hooks, since no procedure opens a sparse stream
 * yet.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { ErrorNumber, STREAM_RECV_HOLE, StreamHole, StreamRecvFlags, connect, type Connection, type Stream } from '../src/index.js';
import { Client } from '../src/daemon/client.js';
import { ConnectionFactory } from '../src/daemon/connections.js';
import { MessageStatus, MessageType, type MessageHeader } from '../src/rpc/message.js';
import { REMOTE_PROGRAM } from '../src/rpc/protocol.js';
import { Proc } from '../src/rpc/procedures.js';
import { RpcClient, type StreamSink } from '../src/drivers/remote/client.js';
import { RemoteStreamChannel } from '../src/drivers/remote/stream.js';
import { RecordingLogger } from './support/daemon-fake-socket.js';

const PROC = Proc.DOMAIN_OPEN_CONSOLE;

/** A driver's sparse channel: what the test pushes is read by the daemon; what the daemon writes is kept. */
function driverChannel(objectMode: boolean): { ch: Duplex; written: (Buffer | StreamHole)[] } {
  const written: (Buffer | StreamHole)[] = [];
  const ch = new Duplex({
    objectMode,
    read() {},
    write(chunk: Buffer | StreamHole, _e, cb) {
      written.push(chunk);
      cb();
    },
    final(cb) {
      cb();
    },
  });
  return { ch, written };
}

describe('streams through tsvirtd over a unix socket', () => {
  let dir: string;
  let server: Server;
  let daemon: Client | undefined;
  let rpc: RpcClient;
  let local: Connection;
  let serial = 1000;
  const opts: { streamCoalesceMs?: number } = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsv-holes-'));
    const path = join(dir, 'sock');
    server = createServer((socket) => {
      daemon = new Client({
        id: 1,
        socket,
        readonlySocket: false,
        factory: new ConnectionFactory(),
        log: new RecordingLogger(),
        keepaliveIntervalMs: 0,
        get streamCoalesceMs() {
          return opts.streamCoalesceMs;
        },
        onClose: () => {},
      });
    });
    await new Promise<void>((r) => server.listen(path, r));
    rpc = await RpcClient.connect(path, 5000);
    await rpc.call(Proc.CONNECT_OPEN, { name: 'test:///default', flags: 0 });
    local = await connect('test:///default');
  });

  after(async () => {
    rpc?.close();
    await daemon?.shutdown('test over');
    await local?.close();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  /** One stream: the daemon's end bound to `driver`, the client's a Stream over a RemoteStreamChannel. */
  function open(driver: Duplex, sparse: boolean): Stream {
    const s = serial++;
    const chan = new RemoteStreamChannel(rpc, PROC, { sparse });
    (rpc as unknown as { streams: Map<number, StreamSink> }).streams.set(s, chan);
    chan.opened(s);
    const st = daemon!.conn().newStream(0);
    st.attach(driver);
    const h: MessageHeader = { prog: REMOTE_PROGRAM, vers: 1, proc: PROC, type: MessageType.CALL, serial: s, status: MessageStatus.OK };
    (daemon as unknown as { startStream(h: MessageHeader, st: Stream): void }).startStream(h, st);
    const cs = local.newStream(0);
    cs.attach(chan);
    return cs;
  }

  test('daemon to client: data, a hole, data arrive in order through sparseRecvAll; recv reads a hole as zeros', async () => {
    const { ch } = driverChannel(true);
    const cs = open(ch, true);
    ch.push(Buffer.from('abc'));
    ch.push(new StreamHole(1 << 20));
    ch.push(Buffer.from('xyz'));
    ch.push(new StreamHole(5));
    ch.push(Buffer.from('!'));
    ch.push(null);
    const got: [string, string | number][] = [];
    // recvFlags first: data, then STOP_AT_HOLE stops at the hole and leaves it.
    assert.equal(((await cs.recvFlags(100, StreamRecvFlags.STOP_AT_HOLE)) as Buffer).toString(), 'abc');
    assert.equal(await cs.recvFlags(100, StreamRecvFlags.STOP_AT_HOLE), STREAM_RECV_HOLE);
    assert.equal(await cs.recvHole(), 1 << 20);
    await cs.sparseRecvAll(
      (_s, data) => void got.push(['data', data.toString()]),
      (_s, length) => void got.push(['hole', length]),
    );
    assert.deepEqual(got, [
      ['data', 'xyz'],
      ['hole', 5],
      ['data', '!'],
    ]);
    await cs.finish();

    // Without STOP_AT_HOLE a hole reads as zeros, as from libvirt's client.
    const two = driverChannel(true);
    const cs2 = open(two.ch, true);
    two.ch.push(Buffer.from('a'));
    two.ch.push(new StreamHole(3));
    two.ch.push(null);
    const all: Buffer[] = [];
    for (let b = await cs2.recv(2); b.length > 0; b = await cs2.recv(2)) all.push(b);
    assert.deepEqual(Buffer.concat(all), Buffer.from([0x61, 0, 0, 0]));
    await cs2.finish();
  });

  test('client to daemon: sparseSendAll sends data and holes; the driver channel gets them in order; finish is confirmed', async () => {
    const { ch, written } = driverChannel(true);
    const cs = open(ch, true);
    // A source of 5 bytes, a 4096-byte hole, 3 bytes.
    const sections: [boolean, number, string][] = [
      [true, 5, 'hello'],
      [false, 4096, ''],
      [true, 3, 'bye'],
    ];
    let at = 0;
    const skipped: number[] = [];
    await cs.sparseSendAll(
      (_s, nbytes) => {
        const sec = sections[at++]!;
        assert.ok(nbytes >= sec[1]);
        return Buffer.from(sec[2]);
      },
      () => {
        const sec = sections[at];
        return sec === undefined ? [false, 0] : [sec[0], sec[1]];
      },
      (_s, length) => {
        skipped.push(length);
        at++;
      },
    );
    await cs.finish();
    assert.deepEqual(skipped, [4096]);
    assert.deepEqual(
      written.map((c) => (c instanceof StreamHole ? ['hole', c.length] : ['data', c.toString()])),
      [
        ['data', 'hello'],
        ['hole', 4096],
        ['data', 'bye'],
      ],
    );
    // sendHole alone, then recvHole on a byte stream: refused as libvirt's calls without a sparse driver.
    const plain = driverChannel(false);
    const cs2 = open(plain.ch, false);
    await assert.rejects(cs2.sendHole(10), (e: { code: number }) => e.code === ErrorNumber.NO_SUPPORT);
    await cs2.abort();
  });

  test('a hole on a stream that is not sparse fails it: "Unexpected stream hole", as libvirt\'s client', async () => {
    const { ch } = driverChannel(true);
    const cs = open(ch, false);
    ch.push(new StreamHole(10));
    await assert.rejects(cs.recv(10), (e: { code: number; message: string }) => e.code === ErrorNumber.RPC && /Unexpected stream hole/.test(e.message));
  });

  test('coalescing: an idle stream sends at once; a busy one gathers many small pushes into few packets, bytes intact', async () => {
    // A gathering time long enough that a gathered packet could not pass for an immediate one.
    opts.streamCoalesceMs = 10_000;
    try {
      const { ch } = driverChannel(false);
      const cs = open(ch, false);
      const before = daemon!.streamStats().sentPackets;
      ch.push(Buffer.from('a'));
      const echo = await cs.recv(10);
      assert.equal(echo.toString(), 'a', 'the first byte after idle went out without waiting');
      assert.equal(daemon!.streamStats().sentPackets, before + 1);
      await cs.abort();
    } finally {
      delete opts.streamCoalesceMs;
    }

    const { ch } = driverChannel(false);
    const cs = open(ch, false);
    const before = daemon!.streamStats().sentPackets;
    const pushes = 400;
    const expected: Buffer[] = [];
    const reading = (async () => {
      const got: Buffer[] = [];
      for (let b = await cs.recv(1 << 20); b.length > 0; b = await cs.recv(1 << 20)) got.push(b);
      return Buffer.concat(got);
    })();
    for (let i = 0; i < pushes; i++) {
      const piece = Buffer.from(`${i % 10}${i % 7}`);
      expected.push(piece);
      ch.push(piece);
      // One push per loop turn: as separate reads from QEMU's socket arrive.
      await new Promise((r) => setImmediate(r));
    }
    ch.push(null);
    assert.deepEqual(await reading, Buffer.concat(expected));
    const packets = daemon!.streamStats().sentPackets - before;
    assert.ok(packets < pushes / 4, `${pushes} pushes went out in ${packets} packets`);
    await cs.finish();
  });

  test('coalescing never holds back a fast source: a full channel buffer goes out without waiting for the gathering time', { timeout: 8000 }, async () => {
    // Ten seconds of gathering per packet would make this test time out if a full buffer waited.
    opts.streamCoalesceMs = 10_000;
    try {
      // A source that respects backpressure (Node's default buffer: 16 KiB before it pauses),
      // as a file or socket read is: it pushes again only once the daemon has read.
      let wanted: (() => void) | null = null;
      const ch = new Duplex({
        read() {
          wanted?.();
          wanted = null;
        },
        write(_c, _e, cb) {
          cb();
        },
      });
      const cs = open(ch, false);
      // Quarter-buffer pieces: the second starts a gathering, the buffer fills four pieces later.
      const piece = Buffer.alloc(ch.readableHighWaterMark / 4, 7);
      const reading = (async () => {
        let n = 0;
        for (let b = await cs.recv(1 << 20); b.length > 0; b = await cs.recv(1 << 20)) n += b.length;
        return n;
      })();
      for (let i = 0; i < 256; i++) {
        if (!ch.push(piece)) await new Promise<void>((r) => (wanted = r));
        await new Promise((r) => setImmediate(r));
      }
      ch.push(null);
      assert.equal(await reading, 256 * piece.length);
      await cs.finish();
    } finally {
      delete opts.streamCoalesceMs;
    }
  });
});
