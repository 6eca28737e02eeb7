/**
 * Migration on the wire: the version-3-with-parameters procedures' layouts (remote_protocol.x's
 * remote_domain_migrate_*3_params_*), and what a daemon whose driver does not migrate answers —
 * tsvirtd's test driver next to libvirtd's, feature by feature, procedure by procedure, and
 * Debian's virsh migrate against both.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Proc,
  featureArgs,
  migrateBegin3Args,
  migrateBegin3Ret,
  migrateConfirm3Args,
  migrateFinish3Args,
  migrateFinish3Ret,
  migratePerform3Args,
  migratePerform3Ret,
  migratePrepare3Args,
  migratePrepare3Ret,
  openArgs,
  supportedRet,
} from '../src/rpc/procedures.js';
import { REMOTE_DOMAIN_MIGRATE_PARAM_LIST_MAX, REMOTE_MIGRATE_COOKIE_MAX, type WireTypedParam } from '../src/rpc/protocol.js';
import { XdrError, decode, encode } from '../src/rpc/xdr.js';
import { MessageStatus } from '../src/rpc/message.js';
import { ErrorDomain, ErrorNumber } from '../src/core/enums.generated.js';
import { connect, migrateParams, VirError } from '../src/index.js';
import { RawClient, errorOf, startDaemon, virsh, virshSkip, type RunningDaemon } from './support/daemon-harness.js';
import { startLibvirtd, type RunningLibvirtd } from './support/libvirtd-harness.js';

const dom = { name: 'vm', uuid: Buffer.from('00112233445566778899aabbccddeeff', 'hex'), id: 3 };
const dname: WireTypedParam = { field: 'destination_name', type: 7, value: 'vm' };
const bw: WireTypedParam = { field: 'bandwidth', type: 4, value: 5 };

describe('migration procedures: wire layouts', () => {
  test('FINISH3_PARAMS args: params, opaque cookie, unsigned flags, int cancelled, in that order', () => {
    const bytes = encode(migrateFinish3Args, { params: [dname], cookieIn: Buffer.from('ab'), flags: 1, cancelled: 1 });
    const expected =
      '00000001' + // one typed parameter
      '00000010' + Buffer.from('destination_name').toString('hex') + // field (16 bytes, no padding)
      '00000007' + '00000002' + Buffer.from('vm').toString('hex') + '0000' + // STRING "vm", padded
      '00000002' + Buffer.from('ab').toString('hex') + '0000' + // cookie_in, padded
      '00000001' + // flags
      '00000001'; // cancelled
    assert.equal(bytes.toString('hex'), expected);
  });

  test('PERFORM3_PARAMS args carry dconnuri as an optional string before the params', () => {
    const none = encode(migratePerform3Args, { dom, dconnuri: null, params: [], cookieIn: Buffer.alloc(0), flags: 2 });
    // remote_nonnull_domain (4+2+2 pad, 16, 4) = 28 bytes, then dconnuri absent (0), params 0, cookie 0, flags 2.
    assert.equal(none.subarray(28).toString('hex'), '00000000' + '00000000' + '00000000' + '00000002');
    const some = encode(migratePerform3Args, { dom, dconnuri: 'qemu+tcp://b/system', params: [bw], cookieIn: Buffer.from([1, 2, 3]), flags: 3 });
    assert.deepEqual(decode(migratePerform3Args, some), { dom, dconnuri: 'qemu+tcp://b/system', params: [bw], cookieIn: Buffer.from([1, 2, 3]), flags: 3 });
  });

  test('every step round-trips: Begin, Prepare, Perform, Finish, Confirm and their replies', () => {
    const cookie = Buffer.from('cookie bytes');
    const cases: [string, { enc: unknown; dec: unknown }, unknown][] = [
      ['begin args', migrateBegin3Args, { dom, params: [dname, bw], flags: 1 }],
      ['begin ret', migrateBegin3Ret, { cookieOut: cookie, xml: '<domain/>' }],
      ['prepare args', migratePrepare3Args, { params: [dname], cookieIn: cookie, flags: 1 }],
      ['prepare ret (uri)', migratePrepare3Ret, { cookieOut: cookie, uriOut: 'tcp:10.0.0.2:49152' }],
      ['prepare ret (no uri)', migratePrepare3Ret, { cookieOut: Buffer.alloc(0), uriOut: null }],
      ['perform ret', migratePerform3Ret, { cookieOut: cookie }],
      ['finish ret', migrateFinish3Ret, { dom, cookieOut: cookie }],
      ['confirm args', migrateConfirm3Args, { dom, params: [], cookieIn: cookie, flags: 1, cancelled: 0 }],
    ];
    for (const [what, codec, value] of cases) {
      const c = codec as Parameters<typeof encode>[0];
      assert.deepEqual(decode(c, encode(c, value)), value, what);
    }
  });

  test("the limits are libvirt's: a cookie of 4 MiB, 64 parameters", () => {
    const big = Buffer.alloc(REMOTE_MIGRATE_COOKIE_MAX + 1);
    assert.throws(() => encode(migratePerform3Ret, { cookieOut: big }), XdrError);
    assert.doesNotThrow(() => encode(migratePerform3Ret, { cookieOut: big.subarray(1) }));
    const many = Array.from({ length: REMOTE_DOMAIN_MIGRATE_PARAM_LIST_MAX + 1 }, () => bw);
    assert.throws(() => encode(migratePrepare3Args, { params: many, cookieIn: Buffer.alloc(0), flags: 0 }), XdrError);
    // A peer that sends more is refused while decoding, before anything acts on it.
    const raw = encode(migratePrepare3Args, { params: many.slice(1), cookieIn: Buffer.alloc(0), flags: 0 });
    raw.writeUInt32BE(REMOTE_DOMAIN_MIGRATE_PARAM_LIST_MAX + 1, 0);
    assert.throws(() => decode(migratePrepare3Args, raw), XdrError);
  });

  test('migration parameters from a python-libvirt style dict: types from the VIR_MIGRATE_PARAM_* table', () => {
    assert.deepEqual(migrateParams({ migrate_uri: 'tcp:h:1', bandwidth: 8, migrate_disks: ['vda', 'vdb'] }), [
      { field: 'migrate_uri', type: 7, value: 'tcp:h:1' },
      { field: 'bandwidth', type: 4, value: 8 },
      { field: 'migrate_disks', type: 7, value: 'vda' },
      { field: 'migrate_disks', type: 7, value: 'vdb' },
    ]);
    assert.throws(
      () => migrateParams({ nonsense: 1 }),
      (e: unknown) => e instanceof VirError && e.code === ErrorNumber.INVALID_ARG && e.message === "parameter 'nonsense' not supported",
    );
    assert.throws(() => migrateParams({ bandwidth: 'fast' }), (e: unknown) => e instanceof VirError && e.code === ErrorNumber.INVALID_ARG);
  });
});

/** Opens test:///default on a raw client. */
async function openTest(socket: string): Promise<RawClient> {
  const c = await RawClient.connect(socket);
  await c.call(Proc.AUTH_LIST);
  const open = await c.callWith(Proc.CONNECT_OPEN, openArgs, { name: 'test:///default', flags: 0 });
  assert.equal(open.header.status, MessageStatus.OK);
  return c;
}

const FEATURES = [1, 3, 4, 5, 6, 7, 11, 12, 13];

describe("a daemon whose driver does not migrate answers as libvirtd's test driver", { skip: virshSkip(), timeout: 120_000 }, () => {
  let tsvirtd: RunningDaemon;
  let libvirtd: RunningLibvirtd | { skip: string };
  let ts: RawClient;
  let lv: RawClient | null = null;

  before(async () => {
    tsvirtd = await startDaemon();
    ts = await openTest(tsvirtd.rw);
    libvirtd = await startLibvirtd();
    if (!('skip' in libvirtd)) lv = await openTest(libvirtd.socket);
  });
  after(async () => {
    ts?.close();
    lv?.close();
    await tsvirtd?.dispose();
    if (libvirtd !== undefined && !('skip' in libvirtd)) await libvirtd.dispose();
  });

  test('CONNECT_SUPPORTS_FEATURE: no migration feature (V1, V2, P2P, DIRECT, V3, CHANGE_PROTECTION, XML_MIGRATABLE, OFFLINE, PARAMS)', async (t) => {
    for (const feature of FEATURES) {
      const mine = decode(supportedRet, (await ts.callWith(Proc.CONNECT_SUPPORTS_FEATURE, featureArgs, { feature })).payload).supported;
      assert.equal(mine, 0, `feature ${feature}`);
      if (lv === null) continue;
      const theirs = decode(supportedRet, (await lv.callWith(Proc.CONNECT_SUPPORTS_FEATURE, featureArgs, { feature })).payload).supported;
      assert.equal(mine, theirs, `feature ${feature} as libvirtd`);
    }
    if (lv === null) t.diagnostic(`libvirtd not compared: ${(libvirtd as { skip: string }).skip}`);
  });

  test('each step, and PREPARE_TUNNEL3_PARAMS (304), is VIR_ERR_NO_SUPPORT naming its API, as libvirtd answers', async () => {
    const calls: [number, Buffer][] = [
      [Proc.DOMAIN_MIGRATE_BEGIN3_PARAMS, encode(migrateBegin3Args, { dom, params: [], flags: 1 })],
      [Proc.DOMAIN_MIGRATE_PREPARE3_PARAMS, encode(migratePrepare3Args, { params: [], cookieIn: Buffer.alloc(0), flags: 1 })],
      [304, encode(migratePrepare3Args, { params: [], cookieIn: Buffer.alloc(0), flags: 1 })],
      [Proc.DOMAIN_MIGRATE_PERFORM3_PARAMS, encode(migratePerform3Args, { dom, dconnuri: null, params: [], cookieIn: Buffer.alloc(0), flags: 1 })],
      [Proc.DOMAIN_MIGRATE_FINISH3_PARAMS, encode(migrateFinish3Args, { params: [dname], cookieIn: Buffer.alloc(0), flags: 1, cancelled: 0 })],
      [Proc.DOMAIN_MIGRATE_CONFIRM3_PARAMS, encode(migrateConfirm3Args, { dom, params: [], cookieIn: Buffer.alloc(0), flags: 1, cancelled: 0 })],
    ];
    const names: Record<number, string> = {
      302: 'virDomainMigrateBegin3Params',
      303: 'virDomainMigratePrepare3Params',
      304: 'virDomainMigratePrepareTunnel3Params',
      305: 'virDomainMigratePerform3Params',
      306: 'virDomainMigrateFinish3Params',
      307: 'virDomainMigrateConfirm3Params',
    };
    for (const [proc, payload] of calls) {
      const f = await ts.call(proc, payload);
      assert.equal(f.header.status, MessageStatus.ERROR, `proc ${proc}`);
      const e = errorOf(f);
      assert.equal(e.code, ErrorNumber.NO_SUPPORT, `proc ${proc}: ${e.message}`);
      assert.equal(e.message, `this function is not supported by the connection driver: ${names[proc]}`);
      if (lv === null) continue;
      const theirs = errorOf(await lv.call(proc, payload));
      assert.deepEqual([e.code, e.domain, e.message], [theirs.code, theirs.domain, theirs.message], `proc ${proc} as libvirtd`);
    }
  });

  test('virsh migrate: the same errors from both daemons (managed, --p2p, --direct)', () => {
    const cases: [string[], string][] = [
      [['migrate', 'test', 'DEST'], 'error: this function is not supported by the connection driver: virDomainMigrate3'],
      [['migrate', '--p2p', 'test', 'qemu+unix:///session?socket=/nonexistent'], 'error: argument unsupported: p2p migration is not supported by the source host'],
      [['migrate', '--live', 'test', 'qemu+unix:///session?socket=/nonexistent', '--direct'], 'error: argument unsupported: direct migration is not supported by the source host'],
    ];
    for (const [args, message] of cases) {
      const mine = virsh(tsvirtd.uri('/default'), ...args.map((a) => (a === 'DEST' ? tsvirtd.uri('/default') : a)));
      assert.equal(mine.code, 1, mine.stderr);
      assert.equal(mine.stderr.trim(), message);
      if (lv === null) continue;
      const lvd = libvirtd as RunningLibvirtd;
      const theirs = virsh(lvd.uri('/default'), ...args.map((a) => (a === 'DEST' ? lvd.uri('/default') : a)));
      assert.equal(theirs.stderr.trim(), mine.stderr.trim(), args.join(' '));
    }
  });

  test('the library says the same: migrate3 NO_SUPPORT, migrateToURI3 ARGUMENT_UNSUPPORTED, through the daemon and locally', async () => {
    for (const uri of [tsvirtd.uri('/default'), 'test:///default']) {
      const conn = await connect(uri);
      try {
        const d = await conn.lookupByName('test');
        await assert.rejects(d.migrate3(conn, { bandwidth: 1 }, 1), (e: unknown) => e instanceof VirError && e.code === ErrorNumber.NO_SUPPORT && e.domain === ErrorDomain.DOMAIN);
        await assert.rejects(
          d.migrateToURI3('qemu+unix:///session?socket=/x', null, 3),
          (e: unknown) => e instanceof VirError && e.code === ErrorNumber.ARGUMENT_UNSUPPORTED && e.message === 'argument unsupported: p2p migration is not supported by the source host',
        );
        await assert.rejects(d.migrate3(conn, null, 2), (e: unknown) => e instanceof VirError && e.code === ErrorNumber.INVALID_ARG && /use virDomainMigrateToURI3/.test(e.message));
        await assert.rejects(d.migrate3(conn, { nonsense: 'x' }, 1), (e: unknown) => e instanceof VirError && e.code === ErrorNumber.INVALID_ARG);
      } finally {
        await conn.close();
      }
    }
  });
});
