/**
 * src/rpc: XDR, framing and the wire types, checked against the bytes libvirtd sends
 * (captured from libvirt 9.0).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XdrError, XdrReader, XdrWriter, decode, encode } from '../src/rpc/xdr.js';
import { FrameReader, MESSAGE_MAX, MessageStatus, MessageType, decodeFrame, encodeFrame } from '../src/rpc/message.js';
import { REMOTE_PROGRAM, TypedParamType, xDomain, xError, xTypedParam, uuidToString, uuidFromString } from '../src/rpc/protocol.js';
import { PROCEDURES, Proc, listAllDomainsRet, lifecycleMsg, openArgs, readOnlyRefusal, snapshotCreateArgs } from '../src/rpc/procedures.js';
import { rpcError, toWireError } from '../src/daemon/errors.js';
import { operationInvalid, noDomainSnapshot } from '../src/core/errors.js';
import { ErrorDomain } from '../src/core/enums.generated.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('XDR: integers, hypers and bools round-trip in big-endian', () => {
  const w = new XdrWriter(4);
  w.int(-1).uint(0xffffffff).hyper(-2n).uhyper(2n ** 64n - 1n).bool(true).bool(false);
  const b = w.finish();
  assert.equal(b.toString('hex'), 'ffffffff' + 'ffffffff' + 'fffffffffffffffe' + 'ffffffffffffffff' + '00000001' + '00000000');
  const r = new XdrReader(b);
  assert.equal(r.int(), -1);
  assert.equal(r.uint(), 0xffffffff);
  assert.equal(r.hyper(), -2n);
  assert.equal(r.uhyper(), 2n ** 64n - 1n);
  assert.equal(r.bool(), true);
  assert.equal(r.bool(), false);
  r.done();
});

test('XDR: strings and opaque data are padded to 4 bytes with zeros', () => {
  const b = new XdrWriter().string('test:///default', 100).opaqueVar(Buffer.from([1, 2]), 8).finish();
  assert.equal(b.toString('hex'), '0000000f746573743a2f2f2f64656661756c7400' + '00000002' + '01020000');
  const r = new XdrReader(b);
  assert.equal(r.string(100), 'test:///default');
  assert.deepEqual([...r.opaqueVar(8)], [1, 2]);
  r.done();
});

test('XDR: optional values and arrays', () => {
  const w = new XdrWriter();
  w.optional('x', (ww, s) => ww.string(s, 10)).optional(null, () => assert.fail()).array([1, 2, 3], 3, (ww, n) => ww.int(n));
  const r = new XdrReader(w.finish());
  assert.equal(r.optional((rr) => rr.string(10)), 'x');
  assert.equal(r.optional((rr) => rr.string(10)), null);
  assert.deepEqual(r.array(3, (rr) => rr.int()), [1, 2, 3]);
  r.done();
});

test('XDR decode errors are typed: short input, over-long counts, bad bools, trailing bytes', () => {
  const cases: [Buffer, (r: XdrReader) => unknown, string][] = [
    [hex('000000'), (r) => r.int(), 'XDR_SHORT'],
    [hex('00000005 6162'), (r) => r.string(10), 'XDR_SHORT'],
    [hex('0000000b'), (r) => r.string(10), 'XDR_TOO_LONG'],
    [hex('ffffffff'), (r) => r.string(4194304), 'XDR_TOO_LONG'],
    // A count the buffer cannot hold is refused before anything is allocated.
    [hex('00100000'), (r) => r.array(2 ** 20, (rr) => rr.int()), 'XDR_SHORT'],
    [hex('00000002'), (r) => r.bool(), 'XDR_BAD_BOOL'],
    [hex('00000002'), (r) => r.optional((rr) => rr.int()), 'XDR_BAD_BOOL'],
  ];
  for (const [buf, read, code] of cases) {
    assert.throws(() => read(new XdrReader(buf)), (e: unknown) => e instanceof XdrError && e.code === code, code);
  }
  assert.throws(() => decode(xDomain, Buffer.concat([encode(xDomain, { name: 'a', uuid: Buffer.alloc(16), id: 1 }), hex('00')])), {
    code: 'XDR_TRAILING',
  });
});

test('XDR encode refuses values outside their type or limit', () => {
  assert.throws(() => new XdrWriter().int(2 ** 31), XdrError);
  assert.throws(() => new XdrWriter().uint(-1), XdrError);
  assert.throws(() => new XdrWriter().string('abc', 2), { code: 'XDR_TOO_LONG' });
  assert.throws(() => new XdrWriter().array([1, 2], 1, (w, n) => w.int(n)), { code: 'XDR_TOO_LONG' });
});

test('framing: the length word counts itself; header is prog, vers, proc, type, serial, status', () => {
  const pkt = encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc: 9999, type: MessageType.REPLY, serial: 2, status: MessageStatus.ERROR });
  assert.equal(pkt.toString('hex'), '0000001c' + '20008086 00000001 0000270f 00000001 00000002 00000001'.replace(/ /g, ''));
  const f = decodeFrame(pkt);
  assert.deepEqual(f.header, { prog: REMOTE_PROGRAM, vers: 1, proc: 9999, type: 1, serial: 2, status: 1 });
  assert.equal(f.payload.length, 0);
});

test('FrameReader: frames split at every byte boundary come out whole, in order', () => {
  const a = encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc: 66, type: 0, serial: 0, status: 0 });
  const b = encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc: 60, type: 0, serial: 1, status: 0 }, hex('0000000a'));
  const stream = Buffer.concat([a, b]);
  for (let cut1 = 0; cut1 <= stream.length; cut1++) {
    for (const cut2 of [cut1, Math.min(stream.length, cut1 + 3)]) {
      const r = new FrameReader();
      const frames = [...r.push(stream.subarray(0, cut1)), ...r.push(stream.subarray(cut1, cut2)), ...r.push(stream.subarray(cut2))];
      assert.deepEqual(
        frames.map((f) => [f.header.proc, f.header.serial, f.payload.toString('hex')]),
        [
          [66, 0, ''],
          [60, 1, '0000000a'],
        ],
      );
      assert.equal(r.pending(), 0);
    }
  }
});

test('FrameReader: a length word below 28 or above 32 MiB is a typed error, and sticks', () => {
  for (const len of [0, 4, 27, MESSAGE_MAX + 1, 0xffffffff]) {
    const r = new FrameReader();
    const word = Buffer.alloc(4);
    word.writeUInt32BE(len >>> 0);
    assert.throws(() => r.push(word), XdrError);
    assert.throws(() => r.push(Buffer.alloc(0)), XdrError);
  }
  // A 32 MiB length is allowed, and waits for its bytes without allocating them.
  const r = new FrameReader();
  const word = Buffer.alloc(4);
  word.writeUInt32BE(MESSAGE_MAX);
  assert.deepEqual(r.push(word), []);
});

test('FrameReader: append() and next() hand out one frame at a time, the rest kept as bytes', () => {
  const r = new FrameReader();
  const frames = [1, 2, 3].map((serial) => encodeFrame({ prog: 1, vers: 1, proc: 7, type: MessageType.CALL, serial, status: 0 }, Buffer.from([serial, 0, 0, 0])));
  const all = Buffer.concat(frames);
  r.append(all.subarray(0, 40));
  assert.equal(r.next()?.header.serial, 1);
  assert.equal(r.next(), null, 'the second is not whole yet');
  r.append(all.subarray(40));
  assert.equal(r.pending(), all.length - frames[0]!.length);
  assert.equal(r.next()?.header.serial, 2);
  assert.equal(r.pending(), frames[2]!.length, 'the third stays unparsed until asked for');
  assert.deepEqual(r.next()?.payload, Buffer.from([3, 0, 0, 0]));
  assert.equal(r.next(), null);
  // A bad length word fails next() at once, before its body, and sticks.
  const word = Buffer.alloc(4);
  word.writeUInt32BE(MESSAGE_MAX + 1);
  r.append(word);
  assert.throws(() => r.next(), XdrError);
  assert.throws(() => r.append(Buffer.alloc(1)), XdrError);
});

test('wire types decode the captured CONNECT_OPEN, LIST_ALL_DOMAINS and SNAPSHOT_CREATE_XML payloads', () => {
  assert.deepEqual(decode(openArgs, hex('000000010000000f746573743a2f2f2f64656661756c740000000000')), { name: 'test:///default', flags: 0 });
  const list = decode(listAllDomainsRet, hex('0000000100000004746573746695eb01f6a4830479aa97f2502e193f0000000100000001'));
  assert.equal(list.ret, 1);
  assert.equal(list.domains[0]!.name, 'test');
  assert.equal(uuidToString(list.domains[0]!.uuid), '6695eb01-f6a4-8304-79aa-97f2502e193f');
  assert.equal(list.domains[0]!.id, 1);
  const snap = decode(
    snapshotCreateArgs,
    hex(
      '0000000264330000f26b52b901f241c197f0688e3ee48e03ffffffff000000353c646f6d61696e736e617073686f743e0a20203c6e616d653e73313c2f6e616d653e0a3c2f646f6d61696e736e617073686f743e0a00000000000000',
    ),
  );
  assert.equal(snap.dom.name, 'd3');
  assert.equal(snap.dom.id, -1);
  assert.equal(snap.xml, '<domainsnapshot>\n  <name>s1</name>\n</domainsnapshot>\n');
  assert.equal(snap.flags, 0);
  assert.deepEqual(uuidFromString(uuidToString(snap.dom.uuid)), snap.dom.uuid);
});

test('lifecycle event message encodes as libvirtd sent it (callbackID, dom, event, detail)', () => {
  const b = encode(lifecycleMsg, {
    callbackID: 0,
    dom: { name: 'ev1', uuid: hex('9946e89773da4f4caef72f2a3c164798'), id: -1 },
    event: 0,
    detail: 0,
  });
  assert.equal(b.toString('hex'), '00000000' + '00000003657631009946e89773da4f4caef72f2a3c164798ffffffff' + '00000000' + '00000000');
});

test('error replies are byte-identical to libvirtd\'s: undefine refusal (§3.1)', () => {
  const e = toWireError(operationInvalid(ErrorDomain.TEST, 'cannot delete inactive domain with 2 snapshots'));
  const captured = hex(`
    000000370000000c0000000100000050526571756573746564206f7065726174
    696f6e206973206e6f742076616c69643a2063616e6e6f742064656c65746520
    696e61637469766520646f6d61696e2077697468203220736e617073686f7473
    00000002000000000000000100000024526571756573746564206f7065726174
    696f6e206973206e6f742076616c69643a202573000000010000002e63616e6e
    6f742064656c65746520696e61637469766520646f6d61696e20776974682032
    20736e617073686f7473000000000000ffffffffffffffff00000000`);
  assert.equal(encode(xError, e).toString('hex'), captured.toString('hex'));
  assert.deepEqual(decode(xError, captured), e);
});

test('error replies are byte-identical to libvirtd\'s: snapshot without parent, read-only, unknown procedure', () => {
  assert.equal(
    encode(xError, toWireError(noDomainSnapshot(ErrorDomain.TEST, "snapshot 's1' does not have a parent"))).toString('hex'),
    '000000480000000c000000010000003f446f6d61696e20736e617073686f74206e6f7420666f756e643a20736e617073686f74202773312720646f6573206e6f742068617665206120706172656e74000000000200000000000000010000001d446f6d61696e20736e617073686f74206e6f7420666f756e643a2025730000000000000100000024736e617073686f74202773312720646f6573206e6f742068617665206120706172656e7400000000ffffffffffffffff00000000',
  );
  assert.equal(
    encode(xError, toWireError(readOnlyRefusal(Proc.DOMAIN_UNDEFINE_FLAGS)!)).toString('hex'),
    '0000001d0000001400000001000000456f7065726174696f6e20666f7262696464656e3a2072656164206f6e6c79206163636573732070726576656e7473207669724' +
      '46f6d61696e556e646566696e65466c616773000000000000020000000000000001000000176f7065726174696f6e20666f7262696464656e3a20257300000000010000003072656164206f6e6c79206163636573732070726576656e747320766972446f6d61696e556e646566696e65466c61677300000000ffffffffffffffff00000000',
  );
  assert.equal(
    encode(xError, rpcError('unknown procedure: 9999')).toString('hex'),
    '00000027000000070000000100000017756e6b6e6f776e2070726f6365647572653a20393939390000000002000000000000000100000002257300000000000100000017756e6b6e6f776e2070726f6365647572653a20393939390000000000ffffffffffffffff00000000',
  );
});

test('procedure table: numbers are unique and match libvirt\'s names; mutating calls name their API', () => {
  for (const [num, spec] of PROCEDURES) {
    assert.equal(spec.proc, num);
    assert.equal(Proc[spec.name as keyof typeof Proc], num);
    assert.match(spec.api, /^vir[A-Z]/);
  }
  assert.equal(PROCEDURES.get(231)!.name, 'DOMAIN_UNDEFINE_FLAGS');
  assert.equal(PROCEDURES.get(273)!.name, 'CONNECT_LIST_ALL_DOMAINS');
  assert.equal(PROCEDURES.get(316)!.name, 'CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY');
  const mutating = [...PROCEDURES.values()].filter((s) => s.mutating).map((s) => s.proc);
  assert.ok(mutating.includes(Proc.DOMAIN_UNDEFINE_FLAGS) && mutating.includes(Proc.DOMAIN_SNAPSHOT_CREATE_XML));
  assert.ok(!mutating.includes(Proc.DOMAIN_GET_STATE));
});

test('remote_typed_param: every type round-trips, with the union discriminant between name and value', () => {
  const params = [
    { field: 'i', type: TypedParamType.INT, value: -5 },
    { field: 'ui', type: TypedParamType.UINT, value: 0xfffffffe },
    { field: 'l', type: TypedParamType.LLONG, value: -(2 ** 40) },
    { field: 'ul', type: TypedParamType.ULLONG, value: 2 ** 50 },
    { field: 'd', type: TypedParamType.DOUBLE, value: 1.5 },
    { field: 'b', type: TypedParamType.BOOLEAN, value: true },
    { field: 's', type: TypedParamType.STRING, value: 'fair' },
  ];
  for (const p of params) assert.deepEqual(decode(xTypedParam, encode(xTypedParam, p)), p, p.field);
  // 'weight', UINT 50 as libvirt lays it out: string, int type 2, uint.
  assert.equal(
    encode(xTypedParam, { field: 'weight', type: TypedParamType.UINT, value: 50 }).toString('hex'),
    '00000006' + Buffer.from('weight').toString('hex') + '0000' + '00000002' + '00000032',
  );
  const bad = Buffer.concat([encode(xTypedParam, { field: 'x', type: TypedParamType.INT, value: 1 }).subarray(0, 8), Buffer.from('00000009', 'hex')]);
  assert.throws(() => decode(xTypedParam, bad), XdrError);
});
