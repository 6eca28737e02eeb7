/**
 * QEMU checkpoints through the public API on qemu:///session with a real TCG guest: a
 * checkpoint is a persistent dirty bitmap in the qcow2 disk (seen by `query-named-block-nodes`
 * through the guest's monitor, behind the SIZE flag, and, once QEMU has written it out at exit,
 * by `qemu-img info`); delete removes it; raw disks and inactive domains are refused with libvirt's words; the
 * undefine rule (R3 for checkpoints) holds on qemu as on test.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  DomainCheckpointXMLFlags,
  DomainUndefineFlags,
  ErrorDomain,
  ErrorNumber,
  connect,
  type Connection,
  type Domain,
} from '../src/index.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, waitForText, type TestGuest } from './qemu-harness.js';
import { rejectsVir } from './support/fixtures.js';

const skip = qemuSkipReason();
const BOOT_TIMEOUT = 120_000;

/** The persistent bitmaps `qemu-img info` finds in the image (force-share: QEMU may hold it). */
function imageBitmaps(file: string): string[] {
  const out = execFileSync('qemu-img', ['info', '-U', '--output=json', file], { encoding: 'utf8' });
  const info = JSON.parse(out) as { 'format-specific'?: { data?: { bitmaps?: { name: string }[] } } };
  return (info['format-specific']?.data?.bitmaps ?? []).map((b) => b.name).sort();
}

describe('qemu:///session checkpoints with a real guest', { skip, timeout: 400_000 }, () => {
  const reaper = new Reaper();
  let guest: TestGuest;
  let state: string;
  let previous: string | undefined;
  let conn: Connection;

  before(async () => {
    state = reaper.tempDir('tsvqc-');
    guest = await buildTestGuest(join(state, 'guest'));
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = state;
    conn = await connect('qemu:///session');
  });

  after(async () => {
    if (conn !== undefined) {
      for (const dom of await conn.listAllDomains(1).catch(() => [])) await dom.destroy().catch(() => undefined);
      await conn.close();
    }
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    await reaper.cleanup();
  });

  function image(name: string, format: 'qcow2' | 'raw'): string {
    const file = join(state, `${name}.${format}`);
    execFileSync('qemu-img', ['create', '-q', '-f', format, file, '16M']);
    return file;
  }
  const diskXML = (file: string, format: 'qcow2' | 'raw', target: string) =>
    `<disk type='file' device='disk'><driver name='qemu' type='${format}'/><source file='${file}'/><target dev='${target}' bus='virtio'/></disk>`;

  async function boot(name: string, disks: string): Promise<Domain> {
    const serial = join(state, `${name}.serial`);
    const dom = await conn.defineXML(guestXML({ name, uuid: randomUUID(), guest, mode: 'A', tick: 1, serial, extraDevices: disks }));
    await dom.create();
    await waitForText(serial, 'GUEST-ALIVE', BOOT_TIMEOUT);
    return dom;
  }

  test('checkpoint-create adds a persistent bitmap; delete removes it; the undefine rule holds', async () => {
    const disk = image('cp', 'qcow2');
    const dom = await boot('cp', diskXML(disk, 'qcow2', 'vda'));
    const c1 = await dom.checkpointCreateXML('<domaincheckpoint><name>c1</name></domaincheckpoint>');
    const c2 = await dom.checkpointCreateXML('<domaincheckpoint><name>c2</name></domaincheckpoint>');
    assert.equal((await c2.getParent()).getName(), 'c1');
    // QEMU's view while it runs (query-named-block-nodes, behind SIZE): the disk's format node
    // holds both bitmaps. QEMU writes persistent bitmaps into the image when it closes it.
    const sizeOf = async (c: typeof c1) =>
      (await c.getXMLDesc(DomainCheckpointXMLFlags.SIZE | DomainCheckpointXMLFlags.NO_DOMAIN)).match(/bitmap='c\d' size='(\d+)'/)?.[1];
    assert.notEqual(await sizeOf(c1), undefined, 'QEMU holds bitmap c1');
    assert.notEqual(await sizeOf(c2), undefined, 'QEMU holds bitmap c2');
    assert.deepEqual(imageBitmaps(disk), [], 'not in the image file yet: QEMU has it open');

    await c2.delete();
    assert.deepEqual((await dom.listAllCheckpoints()).map((c) => c.getName()), ['c1']);
    assert.notEqual(await sizeOf(c1), undefined, 'c1 is untouched');

    // Shut off: QEMU stored the bitmaps it had, c1 only; delete needs a running guest, as in libvirt.
    await dom.destroy();
    assert.deepEqual(imageBitmaps(disk), ['c1'], 'qemu-img info: c1 persisted, c2 was removed');
    await rejectsVir(c1.delete(), {
      code: ErrorNumber.OPERATION_UNSUPPORTED,
      domain: ErrorDomain.QEMU,
      message: 'Operation not supported: cannot delete checkpoint for inactive domain',
    });
    await rejectsVir(dom.checkpointCreateXML('<domaincheckpoint/>'), {
      code: ErrorNumber.OPERATION_UNSUPPORTED,
      message: 'Operation not supported: cannot create checkpoint for inactive domain',
    });
    await rejectsVir(dom.undefine(), {
      code: ErrorNumber.OPERATION_INVALID,
      domain: ErrorDomain.QEMU,
      message: 'Requested operation is not valid: cannot delete inactive domain with 1 checkpoints',
    });
    // METADATA_ONLY works shut off and leaves the bitmap; then undefine goes through.
    const uuid = dom.UUIDString();
    await dom.undefineFlags(DomainUndefineFlags.CHECKPOINTS_METADATA);
    await rejectsVir(conn.lookupByName('cp'), { code: ErrorNumber.NO_DOMAIN });
    assert.deepEqual(imageBitmaps(disk), ['c1'], 'undefine removes metadata only, as libvirt');
    const again = await conn.defineXML(guestXML({ name: 'cp', uuid, guest, mode: 'A', serial: join(state, 'cp2.serial') }));
    assert.deepEqual(await again.listAllCheckpoints(), [], 'R6: no checkpoint survives into the new domain');
    await again.undefine();
  });

  test('a raw disk is refused with libvirt words and nothing changes', async () => {
    const raw = image('rawcp', 'raw');
    const dom = await boot('rawcp', diskXML(raw, 'raw', 'vda'));
    try {
      await rejectsVir(dom.checkpointCreateXML('<domaincheckpoint><name>r1</name></domaincheckpoint>'), {
        code: ErrorNumber.CONFIG_UNSUPPORTED,
        message: 'unsupported configuration: checkpoint for disk vda unsupported for storage type raw',
      });
      assert.deepEqual(await dom.listAllCheckpoints(), []);
      // Leaving the raw disk out is allowed: a checkpoint with no bitmap.
      const c = await dom.checkpointCreateXML("<domaincheckpoint><name>r2</name><disks><disk name='vda' checkpoint='no'/></disks></domaincheckpoint>");
      assert.match(await c.getXMLDesc(), /<disk name='vda' checkpoint='no'\/>/);
      await c.delete();
    } finally {
      await dom.destroy().catch(() => undefined);
    }
    await dom.undefine();
  });
});
