/**
 * Robustness: random and mutated packets — truncated, oversized lengths, bad program or version,
 * huge string and array counts — fed to the decoders and to a daemon client. Nothing but typed
 * errors may come out, nothing may hang, and a well-formed call still works afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XdrError, XdrWriter, decode } from '../src/rpc/xdr.js';
import { FrameReader, MessageStatus, MessageType, encodeFrame } from '../src/rpc/message.js';
import { REMOTE_PROGRAM, KEEPALIVE_PROGRAM, xError, uuidFromString } from '../src/rpc/protocol.js';
import { PROCEDURES, Proc } from '../src/rpc/procedures.js';
import { Client } from '../src/daemon/client.js';
import { ConnectionFactory } from '../src/daemon/connections.js';
import { FakeSocket, RecordingLogger } from './support/daemon-fake-socket.js';

/** A small deterministic PRNG (xorshift32), so that a failure can be replayed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  return {
    u32: next,
    int: (n: number) => next() % n,
    bytes: (n: number) => {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = next() & 0xff;
      return b;
    },
  };
}

const TEST_UUID = uuidFromString('6695eb01-f6a4-8304-79aa-97f2502e193f');
const testDom = { name: 'test', uuid: TEST_UUID, id: 1 };

/** Well-formed argument payloads to mutate. */
function samples(): [Proc, Buffer][] {
  const enc = (proc: Proc, v: unknown): [Proc, Buffer] => {
    const w = new XdrWriter();
    PROCEDURES.get(proc)!.args.enc(w, v);
    return [proc, Buffer.from(w.finish())];
  };
  const snap = { name: 's1', dom: testDom };
  return [
    enc(Proc.CONNECT_OPEN, { name: 'test:///default', flags: 0 }),
    enc(Proc.CONNECT_SUPPORTS_FEATURE, { feature: 10 }),
    enc(Proc.CONNECT_LIST_ALL_DOMAINS, { needResults: 1, flags: 3 }),
    enc(Proc.DOMAIN_LOOKUP_BY_NAME, { name: 'test' }),
    enc(Proc.DOMAIN_LOOKUP_BY_UUID, { uuid: TEST_UUID }),
    enc(Proc.DOMAIN_GET_STATE, { dom: testDom, flags: 0 }),
    enc(Proc.DOMAIN_GET_INFO, { dom: testDom }),
    enc(Proc.DOMAIN_DEFINE_XML, { xml: "<domain type='test'><name>fz</name><memory>1024</memory><os><type>hvm</type></os></domain>" }),
    enc(Proc.DOMAIN_SNAPSHOT_CREATE_XML, { dom: testDom, xml: '<domainsnapshot><name>s1</name></domainsnapshot>', flags: 0 }),
    enc(Proc.DOMAIN_LIST_ALL_SNAPSHOTS, { dom: testDom, needResults: 1, flags: 0 }),
    enc(Proc.DOMAIN_SNAPSHOT_GET_PARENT, { snap, flags: 0 }),
    enc(Proc.DOMAIN_SNAPSHOT_LIST_NAMES, { dom: testDom, maxnames: 10, flags: 0 }),
    enc(Proc.DOMAIN_UNDEFINE_FLAGS, { dom: testDom, flags: 2 }),
    enc(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, { eventID: 0, dom: null }),
    enc(Proc.CONNECT_LIST_DEFINED_DOMAINS, { maxnames: 5 }),
  ];
}

const HUGE = [0xffffffff, 0x7fffffff, 0x80000000, 0x00400001, 0x01000000, 0x10000];

/** A mutation of a sample (or plain noise): flips, truncations, huge counts, junk tails. */
function mutate(r: ReturnType<typeof rng>, base: Buffer): Buffer {
  const kind = r.int(7);
  const b = Buffer.from(base);
  switch (kind) {
    case 0:
      return r.bytes(r.int(96));
    case 1: {
      for (let i = r.int(4) + 1; i > 0 && b.length > 0; i--) b[r.int(b.length)] ^= 1 << r.int(8);
      return b;
    }
    case 2:
      return b.subarray(0, r.int(b.length + 1));
    case 3: {
      if (b.length >= 4) b.writeUInt32BE(HUGE[r.int(HUGE.length)]!, r.int(Math.floor(b.length / 4)) * 4);
      return b;
    }
    case 4:
      return Buffer.concat([b, r.bytes(r.int(16) + 1)]);
    case 5: {
      if (b.length >= 4) b.writeUInt32BE(r.u32(), r.int(b.length - 3));
      return b;
    }
    default:
      return b;
  }
}

function isTyped(err: unknown): boolean {
  return err instanceof XdrError;
}

test('decoders: 100,000 random and mutated payloads give values or XdrError, nothing else', () => {
  const r = rng(0xdecade);
  const base = samples();
  const specs = [...PROCEDURES.values()];
  let ok = 0;
  let refused = 0;
  const started = Date.now();
  for (let i = 0; i < 100_000; i++) {
    const [proc, payload] = base[r.int(base.length)]!;
    const input = mutate(r, payload);
    // Decode as its own procedure's arguments, as some other procedure's, and as an error.
    const spec = r.int(2) === 0 ? PROCEDURES.get(proc)! : specs[r.int(specs.length)]!;
    for (const codec of [spec.args, spec.ret, xError]) {
      try {
        decode(codec as never, input);
        ok++;
      } catch (err) {
        if (!isTyped(err)) assert.fail(`iteration ${i}: ${spec.name}: non-typed ${(err as Error)?.stack}`);
        refused++;
      }
    }
  }
  assert.ok(ok > 1000 && refused > 1000, `ok ${ok} refused ${refused}`);
  assert.ok(Date.now() - started < 20_000, 'decoding must stay fast');
});

test('FrameReader: random streams yield frames or a typed error, with bounded memory', () => {
  const r = rng(0xf00d);
  for (let i = 0; i < 20_000; i++) {
    const reader = new FrameReader();
    try {
      for (let k = r.int(5) + 1; k > 0; k--) {
        const chunk =
          r.int(3) === 0
            ? encodeFrame({ prog: r.u32(), vers: r.u32(), proc: r.u32() | 0, type: r.int(8), serial: r.u32(), status: r.int(4) }, r.bytes(r.int(40)))
            : r.bytes(r.int(64));
        reader.push(chunk);
        assert.ok(reader.pending() < 1024);
      }
    } catch (err) {
      if (!isTyped(err)) assert.fail(`non-typed ${(err as Error)?.stack}`);
    }
  }
});

/** Waits until the client has answered `n` replies (or gives up). */
async function settle(sock: FakeSocket, replies: () => number, n: number): Promise<void> {
  const end = Date.now() + 20_000;
  while (replies() < n && Date.now() < end && !sock.destroyed) await new Promise((res) => setImmediate(res));
}

test('dispatcher: 25,000 mutated calls are each answered (reply or error), the client survives, and a valid call works after', async () => {
  const log = new RecordingLogger();
  const factory = new ConnectionFactory();
  const sock = new FakeSocket();
  const client = new Client({ id: 1, socket: sock.asSocket(), readonlySocket: false, factory, log, keepaliveIntervalMs: 0, onClose: () => {} });
  const r = rng(0xbadc0de);
  const base = samples();
  let serial = 0;
  const call = (proc: number, payload: Buffer, over: Partial<{ prog: number; vers: number; type: number; status: number }> = {}) =>
    encodeFrame(
      { prog: over.prog ?? REMOTE_PROGRAM, vers: over.vers ?? 1, proc, type: over.type ?? MessageType.CALL, serial: serial++, status: over.status ?? 0 },
      payload,
    );
  try {
    sock.feed(call(Proc.AUTH_LIST, Buffer.alloc(0)));
    sock.feed(call(Proc.CONNECT_OPEN, base[0]![1]));
    let expected = 2;
    // Replies and PONGs; lifecycle event MESSAGEs (a mutated call may register for them) aside.
    const answers = () => sock.frames.filter((f) => !(f.header.prog === REMOTE_PROGRAM && f.header.type === MessageType.MESSAGE)).length;
    const started = Date.now();
    const total = 25_000;
    const batch: Buffer[] = [];
    for (let i = 0; i < total; i++) {
      const [proc, payload] = base[r.int(base.length)]!;
      let p: number = proc;
      const over: Partial<{ prog: number; vers: number; type: number; status: number }> = {};
      switch (r.int(12)) {
        case 0:
          over.prog = r.int(2) === 0 ? r.u32() : KEEPALIVE_PROGRAM;
          break;
        case 1:
          over.vers = r.u32();
          break;
        case 2:
          p = r.u32() | 0;
          break;
        case 3:
          over.type = r.int(8);
          break;
        default:
          break;
      }
      // Closing or re-opening the connection would only exercise "not open" from then on.
      if (p === Proc.CONNECT_CLOSE) p = Proc.CONNECT_GET_TYPE;
      if (p === Proc.CONNECT_OPEN) p = Proc.CONNECT_GET_URI;
      const type = over.type ?? MessageType.CALL;
      const prog = over.prog ?? REMOTE_PROGRAM;
      // A CALL_WITH_FDS carries its descriptor count before the payload and one carrier byte per
      // descriptor after the frame, outside it: a random count would desynchronise any libvirt
      // peer. The fuzz sends it with a count of 0: a call like any other.
      const body = type === MessageType.CALL_WITH_FDS ? Buffer.concat([Buffer.alloc(4), mutate(r, payload)]) : mutate(r, payload);
      batch.push(call(p, body, over));
      if ((type === MessageType.CALL || type === MessageType.CALL_WITH_FDS) && prog !== KEEPALIVE_PROGRAM) expected++;
      else if (prog === KEEPALIVE_PROGRAM && type === MessageType.MESSAGE && p === 1) expected++; // PING → PONG
      if (batch.length === 500 || i === total - 1) {
        // Several packets per chunk, cut at odd places, as a socket delivers them.
        const stream = Buffer.concat(batch.splice(0));
        const cut = r.int(stream.length);
        sock.feed(stream.subarray(0, cut));
        sock.feed(stream.subarray(cut));
        await settle(sock, answers, expected);
      }
    }
    assert.equal(sock.destroyed, false, 'well-framed packets never close the client');
    assert.equal(answers(), expected, 'every call is answered exactly once');
    const bad = log.problems.filter((m) => !m.includes('VirError'));
    assert.deepEqual(bad, [], 'handlers raised only VirErrors');
    // Still serving.
    const before = answers();
    sock.feed(call(Proc.CONNECT_GET_TYPE, Buffer.alloc(0)));
    await settle(sock, answers, before + 1);
    const last = sock.frames.filter((f) => f.header.type === MessageType.REPLY).at(-1)!;
    assert.equal(last.header.status, MessageStatus.OK);
    assert.equal(last.payload.subarray(4, 8).toString(), 'TEST');
    assert.ok(Date.now() - started < 45_000, `took ${Date.now() - started} ms`);
  } finally {
    await client.shutdown('test over');
  }
});

test('dispatcher: an impossible length word closes that client only', async () => {
  const log = new RecordingLogger();
  const factory = new ConnectionFactory();
  const a = new FakeSocket();
  const b = new FakeSocket();
  const ca = new Client({ id: 1, socket: a.asSocket(), readonlySocket: false, factory, log, keepaliveIntervalMs: 0, onClose: () => {} });
  const cb = new Client({ id: 2, socket: b.asSocket(), readonlySocket: false, factory, log, keepaliveIntervalMs: 0, onClose: () => {} });
  try {
    for (const len of [0, 27, 0x7fffffff, 0xffffffff]) {
      const s = new FakeSocket();
      const c = new Client({ id: 3, socket: s.asSocket(), readonlySocket: false, factory, log, keepaliveIntervalMs: 0, onClose: () => {} });
      const w = Buffer.alloc(8);
      w.writeUInt32BE(len >>> 0);
      s.feed(w);
      assert.equal(s.destroyed, true, `length ${len} closes the client`);
      await c.shutdown('done');
    }
    a.feed(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    assert.equal(a.destroyed, true);
    b.feed(encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc: Proc.AUTH_LIST, type: 0, serial: 0, status: 0 }));
    await settle(b, () => b.frames.length, 1);
    assert.equal(b.frames.length, 1);
    assert.equal(b.frames[0]!.payload.toString('hex'), '0000000100000000');
  } finally {
    await ca.shutdown('x');
    await cb.shutdown('x');
  }
});
