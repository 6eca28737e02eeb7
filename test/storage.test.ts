/**
 * Storage pools and volumes: libvirt's preset `default-pool` on the test driver (in memory and
 * durable), the pool lifecycle and its errors in libvirt's words, directory pools of the qemu
 * driver with real qemu-img (raw, qcow2, backing, clone, resize, wipe, upload and download), the
 * bad input the storage driver refuses without leaving anything half-made, the refusal to delete
 * a volume a running domain uses, and `undefine --remove-all-storage` after the seed's rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ConnectListAllStoragePoolsFlags as List,
  ErrorDomain,
  ErrorNumber,
  StoragePoolState,
  StorageVolResizeFlags,
  connect,
  type Connection,
} from '../src/index.js';
import { formatPoolXML, formatVolumeXML, parsePoolXML, parseVolumeXML } from '../src/conf/storage.js';
import { probeImage, qemuImgInfo } from '../src/drivers/storage/image.js';
import { withVolumesResolved } from '../src/drivers/qemu/volumes.js';
import { buildQemuArgv } from '../src/drivers/qemu/argv.js';
import { parseDomainXML } from '../src/conf/domain.js';
import Database from 'better-sqlite3';
import { Store } from '../src/store/store.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../src/store/schema.js';
import { domainXML, rejectsVir, tempStateDir, withConnection } from './support/fixtures.js';
import { cleanEnv, scratch, tsvirt } from './cli-harness.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Opens qemu:///session with a private state directory, and a scratch directory for pools. */
async function withQemu<T>(fn: (conn: Connection, dir: string) => Promise<T>): Promise<T> {
  const state = tempStateDir();
  const previous = process.env.TSVIRT_STATE_DIR;
  process.env.TSVIRT_STATE_DIR = join(state.dir, 'state');
  let conn: Connection | undefined;
  try {
    conn = await connect('qemu:///session');
    return await fn(conn, state.dir);
  } finally {
    await conn?.close();
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    state.cleanup();
  }
}

const dirPool = (name: string, path: string) => `<pool type='dir'><name>${name}</name><target><path>${path}</path></target></pool>`;
const vol = (name: string, capacity: string, extra = '') => `<volume><name>${name}</name><capacity unit='bytes'>${capacity}</capacity>${extra}</volume>`;

// ---- XML ----

test('pool and volume XML: parsed and written back in libvirt layout; sizes with units; names without /', () => {
  const def = parsePoolXML("<pool type='dir'><name>p</name><target><path>/a//b/</path><permissions><mode>0755</mode></permissions></target></pool>");
  assert.equal(def.targetPath, '/a/b');
  const xml = formatPoolXML(def, '11111111-2222-3333-4444-555555555555', { capacity: 3, allocation: 2, available: 1 });
  assert.match(xml, /<capacity unit='bytes'>3<\/capacity>/);
  assert.match(xml, /<mode>0755<\/mode>/);
  const v = parseVolumeXML("<volume><name>x</name><capacity unit='G'>5</capacity><target><format type='qcow2'/></target></volume>");
  assert.deepEqual([v.capacity, v.allocation, v.allocationGiven, v.format], [5 * GiB, 5 * GiB, false, 'qcow2']);
  assert.throws(() => parseVolumeXML('<volume><name>x</name></volume>'), /missing capacity element/);
  assert.throws(() => parseVolumeXML("<volume><name>a/b</name><capacity>1</capacity></volume>"), /cannot contain '\/'/);
  assert.throws(() => parsePoolXML("<pool type='dir'><name>p</name></pool>"), /missing storage pool target path/);
  assert.throws(() => parsePoolXML("<pool type='xyz'><name>p</name></pool>"), /Invalid value for attribute 'type' in element 'pool': 'xyz'/);
  const out = formatVolumeXML({ name: 'x', key: '/p/x', path: '/p/x', type: 'file', capacity: 1, allocation: 0, format: 'qcow2', backingPath: '/p/b', backingFormat: 'raw' });
  assert.match(out, /<backingStore>\n {4}<path>\/p\/b<\/path>\n {4}<format type='raw'\/>/);
});

// ---- the test driver ----

for (const uri of ['test:///default', 'test:///session']) {
  test(`${uri}: libvirt's preset default-pool, volumes with the test driver's figures and errors`, async () => {
    await withConnection(uri, async (conn) => {
      const pools = await conn.listAllStoragePools();
      assert.deepEqual(pools.map((p) => p.name()), ['default-pool']);
      const pool = await conn.storagePoolLookupByName('default-pool');
      assert.equal(pool.UUIDString(), 'dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566');
      assert.deepEqual(await pool.info(), [StoragePoolState.RUNNING, 100 * GiB, 0, 100 * GiB]);
      assert.equal(await pool.isPersistent(), true);
      const v = await pool.createXML(vol('a.img', String(10 * MiB)));
      assert.deepEqual([v.name(), v.key(), await v.path()], ['a.img', '/default-pool/a.img', '/default-pool/a.img']);
      assert.deepEqual(await v.info(), [0, 10 * MiB, 10 * MiB]);
      assert.deepEqual(await pool.info(), [StoragePoolState.RUNNING, 100 * GiB, 10 * MiB, 100 * GiB - 10 * MiB]);
      await rejectsVir(pool.createXML(vol('a.img', '1')), { code: ErrorNumber.OPERATION_FAILED, domain: ErrorDomain.TEST, message: 'operation failed: storage vol already exists' });
      await rejectsVir(pool.createXML(vol('b.img', String(200 * GiB))), { code: ErrorNumber.INTERNAL_ERROR, message: "internal error: Not enough free space in pool for volume 'b.img'" });
      await rejectsVir(conn.storagePoolLookupByName('nope'), { code: ErrorNumber.NO_STORAGE_POOL, message: "Storage pool not found: no storage pool with matching name 'nope'" });
      await rejectsVir(pool.storageVolLookupByName('nope'), { code: ErrorNumber.NO_STORAGE_VOL, message: "Storage volume not found: no storage vol with matching name 'nope'" });
      assert.equal((await conn.storageVolLookupByPath('/default-pool/a.img')).name(), 'a.img');
      assert.equal((await conn.storageVolLookupByKey('/default-pool/a.img')).name(), 'a.img');
      await rejectsVir(pool.undefine(), { code: ErrorNumber.OPERATION_INVALID, message: "Requested operation is not valid: storage pool 'default-pool' is active" });
      const c = await pool.createXMLFrom(vol('c.img', String(MiB)), v);
      assert.deepEqual(await c.info(), [0, MiB, MiB], 'a clone has the sizes its XML asks for, as in libvirt');
      assert.deepEqual((await pool.listAllVolumes()).map((x) => x.name()), ['a.img', 'c.img']);
      await v.delete();
      await rejectsVir(v.info(), { code: ErrorNumber.NO_STORAGE_VOL });
      await pool.destroy();
      await rejectsVir(pool.listVolumes(), { code: ErrorNumber.OPERATION_INVALID, message: "Requested operation is not valid: storage pool 'default-pool' is not active" });
      assert.deepEqual(await conn.listDefinedStoragePools(), ['default-pool']);
      await pool.create();
      assert.deepEqual(await pool.listVolumes(), ['c.img']);
    });
  });
}

test('pool definitions: define, redefine, duplicates and source conflicts as libvirt; transient pools go when destroyed; filters', async () => {
  await withConnection('test:///default', async (conn) => {
    const p = await conn.storagePoolDefineXML(dirPool('x', '/x'));
    assert.equal(await p.isActive(), false);
    await rejectsVir(conn.storagePoolDefineXML(dirPool('x', '/y')), { code: ErrorNumber.OPERATION_FAILED, message: new RegExp(`pool 'x' already exists with uuid ${p.UUIDString()}`) });
    await rejectsVir(conn.storagePoolDefineXML(dirPool('y', '/x')), { code: ErrorNumber.OPERATION_FAILED, message: "operation failed: Storage source conflict with pool: 'x'" });
    await rejectsVir(conn.storagePoolDefineXML("<pool type='dir'><name>a/b</name><target><path>/ab</path></target></pool>"), { code: ErrorNumber.XML_ERROR });
    await p.setAutostart(true);
    assert.deepEqual((await conn.listAllStoragePools(List.AUTOSTART)).map((x) => x.name()), ['x']);
    assert.deepEqual((await conn.listAllStoragePools(List.INACTIVE)).map((x) => x.name()), ['x']);
    const t = await conn.storagePoolCreateXML(dirPool('t', '/t'));
    assert.deepEqual([await t.isActive(), await t.isPersistent()], [true, false]);
    assert.deepEqual((await conn.listAllStoragePools(List.TRANSIENT)).map((x) => x.name()), ['t']);
    await rejectsVir(t.setAutostart(true), { code: ErrorNumber.INVALID_ARG, domain: ErrorDomain.TEST, message: 'invalid argument: pool has no config file' });
    await t.destroy();
    await rejectsVir(conn.storagePoolLookupByName('t'), { code: ErrorNumber.NO_STORAGE_POOL });
    await p.undefine();
    assert.equal(await conn.numOfDefinedStoragePools(), 0);
  });
});

test('creating a pool that is defined and inactive (same name and UUID) starts it; it stays persistent', async () => {
  for (const uri of ['test:///default', 'qemu:///session']) {
    const run = async (conn: Connection, dir: string) => {
      const xml = `<pool type='dir'><name>d</name><uuid>11111111-1111-1111-1111-111111111111</uuid><target><path>${join(dir, 'd')}</path></target></pool>`;
      mkdirSync(join(dir, 'd'), { recursive: true });
      const p = await conn.storagePoolDefineXML(xml);
      const again = await conn.storagePoolCreateXML(xml);
      assert.equal(again.UUIDString(), p.UUIDString());
      assert.deepEqual([await p.isActive(), await p.isPersistent()], [true, true], uri);
      await rejectsVir(conn.storagePoolCreateXML(xml), { code: ErrorNumber.OPERATION_INVALID, message: "Requested operation is not valid: pool is already active as 'd'" });
      await p.destroy();
      assert.deepEqual([await p.isActive(), await p.isPersistent()], [false, true], uri);
      await p.undefine();
    };
    if (uri === 'qemu:///session') await withQemu(run);
    else {
      const t = tempStateDir();
      try {
        await withConnection(uri, (conn) => run(conn, t.dir));
      } finally {
        t.cleanup();
      }
    }
  }
});

test('qemu dir pools: autostart of a transient pool, empty or partial <allocation>, qcow2 <compat> as libvirt', async () => {
  await withQemu(async (conn, dir) => {
    const path = join(dir, 'p');
    const pool = await conn.storagePoolCreateXML(dirPool('p', path), 1 /* WITH_BUILD */);
    await rejectsVir(pool.setAutostart(true), { code: ErrorNumber.INTERNAL_ERROR, domain: ErrorDomain.STORAGE, message: 'internal error: pool has no config file' });
    // An empty <allocation> is no allocation: a raw volume is then fully allocated.
    const r = await pool.createXML(vol('r.img', String(MiB), '<allocation></allocation>'));
    assert.deepEqual((await r.info()).slice(1), [MiB, MiB]);
    // A raw volume allocated in part: the allocation at its start, the file at full size.
    const part = await pool.createXML(vol('part.img', String(8 * MiB), `<allocation>${MiB}</allocation>`));
    const [, pcap, palloc] = await part.info();
    assert.equal(pcap, 8 * MiB);
    assert.ok(palloc >= MiB && palloc < 8 * MiB, String(palloc));
    assert.equal(statSync(join(path, 'part.img')).size, 8 * MiB);
    const v2 = await pool.createXML(vol('v2.qcow2', String(8 * MiB), "<allocation/><target><format type='qcow2'/><compat>0.10</compat></target>"));
    assert.equal((await probeImage(join(path, 'v2.qcow2')))?.compat, '0.10');
    assert.match(await v2.XMLDesc(), /<compat>0\.10<\/compat>/);
    const b = await pool.createXML(
      vol('b.qcow2', String(8 * MiB), `<target><format type='qcow2'/><compat>0.10</compat></target><backingStore><path>${join(path, 'r.img')}</path><format type='raw'/></backingStore>`),
    );
    const bi = await qemuImgInfo(join(path, 'b.qcow2'));
    assert.deepEqual([bi['backing-filename-format'], (await probeImage(join(path, 'b.qcow2')))?.compat], ['raw', '0.10']);
    assert.match(await b.XMLDesc(), /<compat>0\.10<\/compat>/);
    await rejectsVir(pool.createXML(vol('x.qcow2', String(MiB), "<target><format type='qcow2'/><compat>1.x</compat></target>")), {
      code: ErrorNumber.XML_ERROR,
      message: "XML error: forbidden characters in 'compat' attribute",
    });
    assert.equal(existsSync(join(path, 'x.qcow2')), false);
    await pool.destroy();
  });
});

test('test:///session: pools and volumes are durable across connections', async () => {
  const state = tempStateDir();
  const previous = process.env.TSVIRT_STATE_DIR;
  process.env.TSVIRT_STATE_DIR = state.dir;
  try {
    const a = await connect('test:///session');
    try {
      await (await a.storagePoolLookupByName('default-pool')).createXML(vol('keep.img', '4096'));
      await a.storagePoolDefineXML(dirPool('other', '/other'));
      await (await a.storagePoolLookupByName('default-pool')).destroy();
    } finally {
      await a.close();
    }
    const b = await connect('test:///session');
    try {
      const pool = await b.storagePoolLookupByName('default-pool');
      assert.equal(await pool.isActive(), false, 'the preset pool is not made again once the store has it');
      await pool.create();
      assert.deepEqual(await pool.listVolumes(), ['keep.img']);
      assert.deepEqual(await b.listDefinedStoragePools(), ['other']);
    } finally {
      await b.close();
    }
  } finally {
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    state.cleanup();
  }
});

test('a volume a running domain uses is not deleted (stricter than libvirt); once the domain stops it is', async () => {
  await withConnection('test:///default', async (conn) => {
    const pool = await conn.storagePoolLookupByName('default-pool');
    const v = await pool.createXML(vol('disk.img', String(MiB)));
    const w = await pool.createXML(vol('byvol.img', String(MiB)));
    const xml = domainXML('user').replace(
      '</os>',
      `</os>\n  <devices>\n    <disk type='file' device='disk'><source file='/default-pool/disk.img'/><target dev='vda' bus='virtio'/></disk>\n    <disk type='volume' device='disk'><source pool='default-pool' volume='byvol.img'/><target dev='vdb' bus='virtio'/></disk>\n  </devices>`,
    );
    const dom = await conn.defineXML(xml);
    await dom.create();
    await rejectsVir(v.delete(), { code: ErrorNumber.OPERATION_INVALID, domain: ErrorDomain.STORAGE, message: "Requested operation is not valid: storage volume '/default-pool/disk.img' is in use by running domain 'user'" });
    await rejectsVir(w.delete(), { code: ErrorNumber.OPERATION_INVALID, message: /in use by running domain 'user'/ });
    assert.deepEqual(await pool.listVolumes(), ['byvol.img', 'disk.img']);
    await dom.destroy();
    await v.delete();
    await w.delete();
    assert.deepEqual(await pool.listVolumes(), []);
  });
});

// ---- directory pools (qemu driver, real qemu-img) ----

test('dir pool: define, build, start, info, refresh, autostart, destroy, delete, undefine; root not needed', async () => {
  await withQemu(async (conn, dir) => {
    const path = join(dir, 'p1');
    const pool = await conn.storagePoolDefineXML(dirPool('p1', path));
    await rejectsVir(pool.create(), { code: ErrorNumber.SYSTEM_ERROR, domain: ErrorDomain.STORAGE, message: `cannot open directory '${path}': No such file or directory` });
    assert.equal(await pool.isActive(), false);
    await pool.build();
    assert.equal(statSync(path).mode & 0o777, 0o711);
    await pool.create();
    const [state, capacity, allocation, available] = await pool.info();
    assert.equal(state, StoragePoolState.RUNNING);
    assert.ok(capacity > 0 && allocation > 0 && available > 0 && available <= capacity);
    writeFileSync(join(path, 'outside.img'), Buffer.alloc(4096));
    assert.deepEqual(await pool.listVolumes(), []);
    await pool.refresh();
    assert.deepEqual(await pool.listVolumes(), ['outside.img']);
    await pool.setAutostart(true);
    assert.equal(await pool.autostart(), true);
    await rejectsVir(pool.delete(), { code: ErrorNumber.OPERATION_INVALID });
    await pool.destroy();
    await rejectsVir(pool.delete(), { code: ErrorNumber.SYSTEM_ERROR, message: /Directory not empty/ });
    await pool.create();
    await (await pool.storageVolLookupByName('outside.img')).delete();
    await pool.destroy();
    await pool.delete();
    assert.equal(existsSync(path), false);
    await pool.undefine();
    await rejectsVir(conn.storagePoolLookupByName('p1'), { code: ErrorNumber.NO_STORAGE_POOL });
  });
});

test('dir pool volumes: qcow2 and raw with qemu-img, figures as qemu-img info reports them, backing volume, clone, resize, wipe, lookups', async () => {
  await withQemu(async (conn, dir) => {
    const path = join(dir, 'p');
    const pool = await conn.storagePoolCreateXML(dirPool('p', path), 1 /* WITH_BUILD */);
    const q = await pool.createXML(vol('a.qcow2', String(64 * MiB), "<target><format type='qcow2'/></target>"));
    const info = await qemuImgInfo(join(path, 'a.qcow2'));
    assert.equal(info.format, 'qcow2');
    const [, capacity, allocation] = await q.info();
    assert.equal(capacity, info['virtual-size']);
    assert.equal(allocation, info['actual-size']);
    assert.match(await q.XMLDesc(), /<format type='qcow2'\/>[\s\S]*<compat>1.1<\/compat>/);
    assert.equal(statSync(join(path, 'a.qcow2')).mode & 0o777, 0o600);

    const r = await pool.createXML(vol('r.img', String(8 * MiB)));
    assert.deepEqual((await r.info()).slice(1), [8 * MiB, 8 * MiB], 'a raw volume without <allocation> is fully allocated, as libvirt makes it');
    const sparse = await pool.createXML(vol('s.img', String(8 * MiB), '<allocation>0</allocation>'));
    // Sparse: qemu-img allocates at most its first block.
    assert.ok((await sparse.info())[2] <= 4096);
    assert.equal((await sparse.info())[2], (await qemuImgInfo(join(path, 's.img')))['actual-size']);

    const o = await pool.createXML(
      vol('over.qcow2', String(64 * MiB), `<target><format type='qcow2'/></target><backingStore><path>${join(path, 'a.qcow2')}</path><format type='qcow2'/></backingStore>`),
    );
    const oi = await qemuImgInfo(join(path, 'over.qcow2'));
    assert.equal(oi['backing-filename'], join(path, 'a.qcow2'));
    assert.equal(oi['backing-filename-format'], 'qcow2');
    assert.match(await o.XMLDesc(), /<backingStore>\n {4}<path>[^<]*a\.qcow2<\/path>\n {4}<format type='qcow2'\/>/);

    const clone = await pool.createXMLFrom(vol('clone.qcow2', String(128 * MiB)), q);
    assert.equal((await qemuImgInfo(join(path, 'clone.qcow2')))['virtual-size'], 128 * MiB);

    await q.resize(96 * MiB);
    assert.equal((await qemuImgInfo(join(path, 'a.qcow2')))['virtual-size'], 96 * MiB);
    await rejectsVir(q.resize(MiB), { code: ErrorNumber.INVALID_ARG, message: /Can't shrink capacity below current capacity/ });
    await r.resize(4 * MiB, StorageVolResizeFlags.SHRINK);
    assert.equal((await r.info())[1], 4 * MiB);
    await r.resize(MiB, StorageVolResizeFlags.DELTA);
    assert.equal((await r.info())[1], 5 * MiB);

    execFileSync('qemu-io', ['-f', 'raw', '-c', 'write -P 0x55 0 64k', join(path, 'r.img')], { stdio: 'ignore' });
    await r.wipe();
    const after = await probeImage(join(path, 'r.img'));
    assert.equal(after?.capacity, 5 * MiB);
    assert.equal(execFileSync('od', ['-An', '-tx1', '-N', '16', join(path, 'r.img')]).toString().trim(), '00 '.repeat(16).trim());

    assert.equal((await conn.storageVolLookupByPath(join(path, 'clone.qcow2'))).name(), 'clone.qcow2');
    assert.equal((await conn.storageVolLookupByKey(join(path, 'clone.qcow2'))).name(), 'clone.qcow2');
    assert.equal((await clone.storagePoolLookupByVolume()).name(), 'p');
    assert.deepEqual(await pool.listVolumes(), ['a.qcow2', 'clone.qcow2', 'over.qcow2', 'r.img', 's.img']);
    await o.delete();
    assert.equal(existsSync(join(path, 'over.qcow2')), false);
    await pool.destroy();
  });
});

test('dir pool bad input: a missing path or a file, a volume larger than the free space, a duplicate name, a foreign file — clear errors, nothing half-made', async () => {
  await withQemu(async (conn, dir) => {
    const missing = await conn.storagePoolDefineXML(dirPool('missing', join(dir, 'none')));
    await rejectsVir(missing.create(), { code: ErrorNumber.SYSTEM_ERROR, message: /No such file or directory/ });
    writeFileSync(join(dir, 'file'), 'x');
    const file = await conn.storagePoolDefineXML(dirPool('file', join(dir, 'file')));
    await rejectsVir(file.create(), { code: ErrorNumber.SYSTEM_ERROR, message: `cannot open directory '${join(dir, 'file')}': Not a directory` });
    await rejectsVir(file.build(), { code: ErrorNumber.SYSTEM_ERROR, message: /File exists/ });
    assert.equal(await file.isActive(), false);
    await rejectsVir(conn.storagePoolCreateXML(dirPool('t', join(dir, 'none2'))), { code: ErrorNumber.SYSTEM_ERROR });
    await rejectsVir(conn.storagePoolLookupByName('t'), { code: ErrorNumber.NO_STORAGE_POOL });

    mkdirSync(join(dir, 'p'));
    const pool = await conn.storagePoolCreateXML(dirPool('p', join(dir, 'p')));
    const [, , , available] = await pool.info();
    await rejectsVir(pool.createXML(vol('huge.img', String(available + GiB))), {
      code: ErrorNumber.INTERNAL_ERROR,
      domain: ErrorDomain.STORAGE,
      message: "internal error: Not enough free space in pool for volume 'huge.img'",
    });
    await pool.createXML(vol('a.img', '4096'));
    await rejectsVir(pool.createXML(vol('a.img', '4096')), { code: ErrorNumber.STORAGE_VOL_EXIST, message: "storage volume 'a.img' exists already" });
    writeFileSync(join(dir, 'p', 'foreign'), 'x');
    await rejectsVir(pool.createXML(vol('foreign', '4096')), { code: ErrorNumber.STORAGE_VOL_EXIST });
    // qemu-img fails (a backing file that does not exist): the file it began is removed.
    await rejectsVir(pool.createXML(vol('b.qcow2', '4096', `<target><format type='qcow2'/></target><backingStore><path>${join(dir, 'nothing')}</path><format type='raw'/></backingStore>`)), {
      code: ErrorNumber.INTERNAL_ERROR,
    });
    await rejectsVir(pool.createXML(vol('v.vmdk', '4096', "<target><format type='vmdk'/></target>")), { code: ErrorNumber.CONFIG_UNSUPPORTED });
    assert.deepEqual(readdirSync(join(dir, 'p')).sort(), ['a.img', 'foreign']);
    await pool.destroy();
  });
});

test('dir pool: upload and download through libvirt streams (non-sparse), with offset and length', async () => {
  await withQemu(async (conn, dir) => {
    const pool = await conn.storagePoolCreateXML(dirPool('p', join(dir, 'p')), 1);
    const v = await pool.createXML(vol('r.img', String(2 * MiB)));
    const data = Buffer.alloc(MiB + 123);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    let sent = 0;
    const up = conn.newStream();
    await v.upload(up, 4096, 0);
    await up.sendAll((_s, n) => {
      const chunk = data.subarray(sent, sent + n);
      sent += chunk.length;
      return chunk;
    });
    await up.finish();
    const down = conn.newStream();
    await v.download(down, 4096, data.length);
    const got: Buffer[] = [];
    await down.recvAll((_s, d) => void got.push(d));
    await down.finish();
    assert.ok(Buffer.concat(got).equals(data));
    await pool.destroy();
  });
});
test('undefine --remove-all-storage: refused with snapshots until --snapshots-metadata (nothing removed); then the domain and its managed volumes go, unmanaged files stay', async () => {
  const sc = scratch();
  try {
    const env = cleanEnv(sc.dir);
    const cli = (cmds: string) => tsvirt(['-c', 'test:///session', cmds], { cwd: sc.dir, env });
    const xml = domainXML('withdisks').replace(
      '</os>',
      `</os>\n  <devices>\n    <disk type='file' device='disk'><source file='/default-pool/d1.img'/><target dev='vda' bus='virtio'/></disk>\n    <disk type='volume' device='disk'><source pool='default-pool' volume='d2.img'/><target dev='vdb' bus='virtio'/></disk>\n    <disk type='file' device='disk'><source file='/elsewhere/x.img'/><target dev='vdc' bus='virtio'/></disk>\n  </devices>`,
    );
    writeFileSync(join(sc.dir, 'dom.xml'), xml);
    let r = await cli(`vol-create-as default-pool d1.img 1M; vol-create-as default-pool d2.img 1M; define ${join(sc.dir, 'dom.xml')}; snapshot-create-as withdisks s1`);
    assert.equal(r.status, 0, r.stderr);
    r = await cli('undefine withdisks --remove-all-storage');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /cannot delete inactive domain with 1 snapshots/);
    r = await cli('vol-list default-pool');
    assert.match(r.stdout, /d1\.img[\s\S]*d2\.img/, 'the refused undefine removed no volume');
    r = await cli('undefine withdisks --remove-all-storage --snapshots-metadata');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Domain 'withdisks' has been undefined/);
    assert.match(r.stdout, /Volume 'vda'\(\/default-pool\/d1\.img\) removed\./);
    assert.match(r.stdout, /Volume 'vdb'\(d2\.img\) removed\./);
    assert.match(r.stderr, /Storage volume 'vdc'\(\/elsewhere\/x\.img\) is not managed by libvirt/);
    r = await cli('vol-list default-pool --json');
    assert.deepEqual(JSON.parse(r.stdout), []);
  } finally {
    sc.cleanup();
  }
});

test("qemu: a <disk type='volume'> runs on its volume's file (with the volume's format); the definition keeps the volume; a stopped pool is refused", async () => {
  await withQemu(async (conn, dir) => {
    const pool = await conn.storagePoolDefineXML(dirPool('vp', join(dir, 'vp')));
    await pool.create(1 /* WITH_BUILD */);
    await pool.createXML(vol('disk.qcow2', String(64 * MiB), "<target><format type='qcow2'/></target>"));
    const xml = `<domain type='qemu'><name>v</name><uuid>8a9b1c2d-1111-2222-3333-444455556666</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><disk type='volume' device='disk'><source pool='vp' volume='disk.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
    const def = parseDomainXML(xml);
    const storage = conn.driverFor('test').storage;
    const resolved = await withVolumesResolved(def, storage);
    const argv = buildQemuArgv(resolved, {
      paths: { monitorSocket: '/run/m.sock', pidFile: '/run/q.pid', serialLog: () => '/run/s.log', serialSocket: () => '/run/s.sock', vncSocket: '/run/v.sock' },
    }).argv;
    const blockdevs = argv.filter((a) => a.includes('"node-name":"libvirt-1-')).join('\n');
    assert.match(blockdevs, new RegExp(`"driver":"file","filename":"${join(dir, 'vp', 'disk.qcow2')}"`));
    assert.match(blockdevs, /"node-name":"libvirt-1-format"[^\n]*"driver":"qcow2"|"driver":"qcow2"[^\n]*"node-name":"libvirt-1-format"/);
    assert.equal(await withVolumesResolved(parseDomainXML(xml.replace("type='volume'", "type='file'").replace("<source pool='vp' volume='disk.qcow2'/>", "<source file='/x.img'/>")), storage).then((d) => d.devices.disks[0]?.sourceFile), '/x.img');
    const dom = await conn.defineXML(xml);
    assert.match(await dom.XMLDesc(), /<disk type='volume' device='disk'>\s*<source pool='vp' volume='disk.qcow2'\/>/);
    await pool.destroy();
    await rejectsVir(withVolumesResolved(def, storage), {
      code: ErrorNumber.OPERATION_INVALID,
      message: "Requested operation is not valid: storage pool 'vp' containing volume 'disk.qcow2' is not active",
    });
  });
});

test('store: a version-2 store file is upgraded in place through the networks (3) and storage (4) migrations, its domains kept', () => {
  const state = tempStateDir();
  try {
    const path = join(state.dir, 'v2.db');
    const db = new Database(path);
    db.exec(MIGRATIONS[0] ?? '');
    db.exec(MIGRATIONS[1] ?? '');
    db.pragma('user_version = 2');
    db.prepare("INSERT INTO domains (uuid, name, persistent, config_xml, state, reason, max_mem, memory, vcpus) VALUES ('6f1c5a52-0000-4000-8000-000000000001', 'old', 1, '<domain/>', 5, 0, 1, 1, 1)").run();
    db.close();
    const store = new Store({ path });
    try {
      assert.equal(SCHEMA_VERSION, 4);
      assert.equal(store.domainByName('old')?.name, 'old');
      store.mutate(() => store.putPool({ uuid: 'dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566', name: 'p', persistent: true, active: true, autostart: false, xml: '<pool/>' }));
      store.mutate(() => store.putVolume({ poolUUID: 'dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566', name: 'v', path: '/p/v', data: '{}' }));
      store.mutate(() => store.putPool({ uuid: 'dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566', name: 'p', persistent: true, active: false, autostart: true, xml: '<pool/>' }));
      assert.equal(store.poolVolumeCount('dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566'), 1, "a pool's state change keeps its volumes");
      store.mutate(() => store.deletePool('dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566'));
      assert.equal(store.volumeByPath('/p/v'), undefined, 'volumes go with their pool');
    } finally {
      store.close();
    }
  } finally {
    state.cleanup();
  }
});
