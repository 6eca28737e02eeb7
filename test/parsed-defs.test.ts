/**
 * The test driver's statistics calls read a running domain's live definition parsed once and
 * kept per domain (DomainRecords.liveDefOf). These tests change the definition between two
 * calls by each kind of path — a vCPU change, a device hot-unplug, a restart with another
 * definition, and a change made through another connection with its own store on the same
 * durable file — and check the very next call answers from the new definition.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { connect, type Connection } from '../src/index.js';
import { DomainModificationImpact, ErrorNumber } from '../src/core/enums.generated.js';
import { VirError } from '../src/core/errors.js';

const { LIVE } = DomainModificationImpact;

function domainXML(name: string, uuid: string, opts: { vcpus?: number; balloon?: boolean } = {}): string {
  return `<domain type='test'><name>${name}</name><uuid>${uuid}</uuid><memory unit='KiB'>262144</memory><vcpu>${opts.vcpus ?? 4}</vcpu>
<os><type arch='i686'>hvm</type></os><devices>
<disk type='file' device='disk'><source file='/img/${name}-a.img'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='disk'><source file='/img/${name}-b.img'/><target dev='vdb' bus='virtio'/></disk>
${opts.balloon === false ? "<memballoon model='none'/>" : "<memballoon model='virtio'/>"}</devices></domain>`;
}

const invalidPath = (err: unknown): boolean => err instanceof VirError && err.code === ErrorNumber.INVALID_ARG;

let conn: Connection;
before(async () => {
  conn = await connect('test:///default');
});
after(async () => {
  await conn?.close();
});

test('a live vCPU change is seen by the next vcpus() call', async () => {
  const dom = await conn.defineXML(domainXML('pd-vcpus', randomUUID()));
  try {
    await dom.create();
    // maxinfo above the count: the answer's length is the definition's, not the caller's cap.
    assert.equal((await dom.vcpus(64)).length, 4);
    assert.equal((await dom.vcpus(64)).length, 4); // the second read is the kept one
    await dom.setVcpusFlags(2, LIVE);
    assert.equal((await dom.vcpus(64)).length, 2);
    await dom.setVcpusFlags(3, LIVE);
    assert.equal((await dom.vcpus(64)).length, 3);
  } finally {
    await dom.destroy().catch(() => {});
    await dom.undefine().catch(() => {});
  }
});

test('a hot-unplugged disk is gone for the next blockStats() call; a restart reads the new definition', async () => {
  const uuid = randomUUID();
  const dom = await conn.defineXML(domainXML('pd-disk', uuid));
  try {
    await dom.create();
    await dom.blockStats('vdb');
    await dom.blockStats('vdb');
    await dom.detachDeviceFlags("<disk type='file' device='disk'><source file='/img/pd-disk-b.img'/><target dev='vdb' bus='virtio'/></disk>", LIVE);
    await assert.rejects(dom.blockStats('vdb'), invalidPath);
    await dom.blockStats('vda');
    // Stopped, redefined without a balloon and started again: memoryStats() follows.
    assert.ok(Object.keys(await dom.memoryStats()).length > 0);
    await dom.destroy();
    await conn.defineXML(domainXML('pd-disk', uuid, { balloon: false }));
    await dom.create();
    assert.deepEqual(await dom.memoryStats(), {});
    // vdb is back: the live definition is the new config's.
    await dom.blockStats('vdb');
  } finally {
    await dom.destroy().catch(() => {});
    await dom.undefine().catch(() => {});
  }
});

test("another connection's change to a durable store is seen by the next call", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-parsed-defs-'));
  const prev = process.env.TSVIRT_STATE_DIR;
  process.env.TSVIRT_STATE_DIR = dir;
  let a: Connection | undefined;
  let b: Connection | undefined;
  try {
    a = await connect('test:///session');
    b = await connect('test:///session');
    const domA = await a.defineXML(domainXML('pd-shared', randomUUID()));
    try {
      await domA.create();
      assert.equal((await domA.vcpus(64)).length, 4);
      const domB = await b.lookupByName('pd-shared');
      await domB.setVcpusFlags(1, LIVE);
      assert.equal((await domA.vcpus(64)).length, 1);
      await domB.detachDeviceFlags("<disk type='file' device='disk'><source file='/img/pd-shared-a.img'/><target dev='vda' bus='virtio'/></disk>", LIVE);
      await assert.rejects(domA.blockStats('vda'), invalidPath);
    } finally {
      await domA.destroy().catch(() => {});
      await domA.undefine().catch(() => {});
    }
  } finally {
    await a?.close();
    await b?.close();
    if (prev === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = prev;
    rmSync(dir, { recursive: true, force: true });
  }
});
