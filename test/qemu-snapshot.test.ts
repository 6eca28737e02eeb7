/**
 * QEMU's internal snapshots through the public API on qemu:///session, with real TCG guests:
 * memory snapshots of a running guest (snapshot-save / -load / -delete jobs) proven from the
 * guest's serial counter, disk snapshots of a shut-off domain (qemu-img) proven from the image's
 * bytes, delete with children, NO_METADATA, HALT, and libvirt's refusals, each changing nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  DomainPausedReason,
  DomainRunningReason,
  DomainShutoffReason,
  DomainSnapshotCreateFlags as Create,
  DomainSnapshotDeleteFlags as Delete,
  DomainSnapshotRevertFlags as Revert,
  DomainState,
  DomainUndefineFlags,
  ErrorDomain,
  ErrorNumber,
  connect,
  type Connection,
  type Domain,
} from '../src/index.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, readText, waitForText, type TestGuest } from './qemu-harness.js';
import { rejectsVir } from './support/fixtures.js';

const skip = qemuSkipReason();
const BOOT_TIMEOUT = 120_000;

/** The internal snapshots an image holds: name → vmstate size. */
function imageSnapshots(file: string): Map<string, number> {
  // -U: QEMU may hold the image (force-share for a read-only look).
  const out = execFileSync('qemu-img', ['info', '-U', '--output=json', file], { encoding: 'utf8' });
  const info = JSON.parse(out) as { snapshots?: { name: string; 'vm-state-size': number }[] };
  return new Map((info.snapshots ?? []).map((s) => [s.name, s['vm-state-size']]));
}

function qemuIo(file: string, command: string): void {
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', command, file], { stdio: 'pipe' });
}

/** Whether the image holds `pattern` in its first 64 KiB. */
function holdsPattern(file: string, pattern: number): boolean {
  try {
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', `read -P ${pattern} 0 64k`, file], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

function highestTick(serial: string): number {
  const ticks = [...readText(serial).matchAll(/GUEST-ALIVE (\d+)/g)].map((m) => Number(m[1]));
  return ticks.length === 0 ? 0 : Math.max(...ticks);
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

describe('qemu:///session internal snapshots with real guests', { skip, timeout: 400_000 }, () => {
  const reaper = new Reaper();
  let guest: TestGuest;
  let state: string;
  let previous: string | undefined;
  let conn: Connection;

  before(async () => {
    state = reaper.tempDir('tsvqs-');
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

  function qcow2(name: string): string {
    const file = join(state, `${name}.qcow2`);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '16M']);
    return file;
  }

  function define(name: string, disks: string, tick?: number): Promise<Domain> {
    return conn.defineXML(
      guestXML({ name, uuid: randomUUID(), guest, mode: 'A', tick, serial: join(state, `${name}.serial`), extraDevices: disks }),
    );
  }

  const diskXML = (file: string, format: 'qcow2' | 'raw' = 'qcow2', target = 'vda') =>
    `<disk type='file' device='disk'><driver name='qemu' type='${format}'/><source file='${file}'/><target dev='${target}' bus='virtio'/></disk>`;

  test('memory snapshot of a running guest: revert brings back its earlier state; delete with children; HALT', async (t) => {
    const disk = qcow2('mem');
    const serial = join(state, 'mem.serial');
    const dom = await define('mem', diskXML(disk), 1);
    await dom.create();
    await waitForText(serial, 'GUEST-ALIVE 2', BOOT_TIMEOUT);

    const t0 = performance.now();
    const progress: { processed: number; total: number }[] = [];
    const s1 = await dom.snapshotCreateXML('<domainsnapshot><name>s1</name></domainsnapshot>', 0, { onProgress: (p) => progress.push(p) });
    t.diagnostic(`snapshot with memory (128 MiB guest): ${(performance.now() - t0).toFixed(0)} ms`);
    const atSnapshot = highestTick(serial);
    assert.ok((imageSnapshots(disk).get('s1') ?? 0) > 0, 'the image holds s1 with its memory');
    assert.deepEqual(progress.at(-1), { processed: 1, total: 1 }, 'the job reported its progress');
    const xml = await s1.getXMLDesc();
    assert.match(xml, /<state>running<\/state>/);
    assert.match(xml, /<memory snapshot='internal'\/>/);
    assert.match(xml, /<disk name='vda' snapshot='internal'\/>/);
    assert.deepEqual(await dom.state(), [DomainState.RUNNING, DomainRunningReason.BOOTED], 'the guest runs on');

    // The guest goes on counting, then is put back to where it was.
    await waitForText(serial, `GUEST-ALIVE ${atSnapshot + 3}`, 60_000);
    const t1 = performance.now();
    await s1.revert();
    t.diagnostic(`revert to a memory snapshot: ${(performance.now() - t1).toFixed(0)} ms`);
    assert.deepEqual(await dom.state(), [DomainState.RUNNING, DomainRunningReason.FROM_SNAPSHOT]);
    const repeated = `GUEST-ALIVE ${atSnapshot + 2}`;
    await waitForText(serial, new RegExp(`${repeated}[^]*${repeated}`), 60_000);
    assert.equal(count(readText(serial), 'GUEST-READY'), 1, 'no second boot: the guest resumed from the snapshot');
    assert.equal(await s1.isCurrent(), true);

    // A child, then delete with children while running: QEMU's snapshot-delete job.
    await dom.snapshotCreateXML('<domainsnapshot><name>s2</name></domainsnapshot>');
    assert.deepEqual([...imageSnapshots(disk).keys()].sort(), ['s1', 's2']);
    assert.equal(await (await dom.snapshotLookupByName('s2')).getParent().then((p) => p.getName()), 's1');
    await s1.delete(Delete.CHILDREN);
    assert.deepEqual([...imageSnapshots(disk).keys()], [], 'both left the image');
    assert.equal(await dom.snapshotNum(), 0);

    // HALT: the snapshot is taken, then the guest stops; a revert resumes it from the snapshot.
    const s3 = await dom.snapshotCreateXML('<domainsnapshot><name>s3</name></domainsnapshot>', Create.HALT);
    assert.deepEqual(await dom.state(), [DomainState.SHUTOFF, DomainShutoffReason.FROM_SNAPSHOT]);
    const ticksAtHalt = highestTick(serial);
    await s3.revert();
    assert.deepEqual(await dom.state(), [DomainState.RUNNING, DomainRunningReason.FROM_SNAPSHOT]);
    await waitForText(serial, `GUEST-ALIVE ${ticksAtHalt + 1}`, 60_000);
    assert.equal(count(readText(serial), 'GUEST-READY'), 1, 'still the first boot');

    // PAUSED: back to the snapshot, vCPUs stopped.
    await s3.revert(Revert.PAUSED);
    assert.deepEqual(await dom.state(), [DomainState.PAUSED, DomainPausedReason.FROM_SNAPSHOT]);
    await dom.destroy();

    // R3: the metadata goes with the domain; the image keeps its snapshot (as libvirt's qemu).
    await rejectsVir(dom.undefine(), { code: ErrorNumber.OPERATION_INVALID, message: /cannot delete inactive domain with 1 snapshots/ });
    await dom.undefineFlags(DomainUndefineFlags.SNAPSHOTS_METADATA);
    assert.deepEqual([...imageSnapshots(disk).keys()], ['s3']);
  });

  test('disk snapshots of a shut-off domain (qemu-img): revert restores the bytes; NO_METADATA; delete', async () => {
    const disk = qcow2('off');
    const dom = await define('off', diskXML(disk));
    qemuIo(disk, 'write -P 0xaa 0 64k');
    const off1 = await dom.snapshotCreateXML('<domainsnapshot><name>off1</name></domainsnapshot>');
    assert.deepEqual([...imageSnapshots(disk).entries()], [['off1', 0]], 'a disk-only snapshot, no memory');
    const xml = await off1.getXMLDesc();
    assert.match(xml, /<state>shutoff<\/state>/);
    assert.match(xml, /<memory snapshot='no'\/>/);

    qemuIo(disk, 'write -P 0xbb 0 64k');
    assert.ok(holdsPattern(disk, 0xbb));
    await off1.revert();
    assert.ok(holdsPattern(disk, 0xaa), 'the disk is back to the snapshot');
    assert.deepEqual(await dom.state(), [DomainState.SHUTOFF, DomainShutoffReason.FROM_SNAPSHOT]);

    // NO_METADATA: in the image, not in tsvirt's tree; the current snapshot is unchanged.
    await dom.snapshotCreateXML('<domainsnapshot><name>hidden</name></domainsnapshot>', Create.NO_METADATA);
    assert.ok(imageSnapshots(disk).has('hidden'));
    assert.deepEqual(await dom.snapshotListNames(), ['off1']);
    assert.equal((await dom.snapshotCurrent()).getName(), 'off1');

    // METADATA_ONLY keeps the image's snapshot; a plain delete removes it.
    const off2 = await dom.snapshotCreateXML('<domainsnapshot><name>off2</name></domainsnapshot>');
    await off2.delete(Delete.METADATA_ONLY);
    assert.ok(imageSnapshots(disk).has('off2'));
    await off1.delete();
    assert.ok(!imageSnapshots(disk).has('off1'));
    assert.equal(await dom.snapshotNum(), 0);
    await dom.undefine();
  });

  test("libvirt's refusals for what a configuration cannot snapshot change nothing", async () => {
    const raw = join(state, 'raw.img');
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', raw, '16M']);
    const rawDom = await define('rawdisk', diskXML(raw, 'raw'));
    await rejectsVir(rawDom.snapshotCreateXML('<domainsnapshot><name>x</name></domainsnapshot>'), {
      code: ErrorNumber.CONFIG_UNSUPPORTED,
      domain: ErrorDomain.QEMU,
      message: 'unsupported configuration: internal snapshot for disk vda unsupported for storage type raw',
    });
    // A read-only raw disk needs no snapshot, a writable qcow2 beside it is snapshotted.
    const bare = await define('diskless', '');
    await rejectsVir(bare.snapshotCreateXML('<domainsnapshot/>'), {
      code: ErrorNumber.CONFIG_UNSUPPORTED,
      message: 'unsupported configuration: nothing selected for snapshot',
    });
    await rejectsVir(bare.snapshotCreateXML('<domainsnapshot/>', Create.DISK_ONLY), {
      code: ErrorNumber.INVALID_ARG,
      message: /unsupported flags \(0x10\) in function qemuSnapshotCreateXML/,
    });
    const disk = qcow2('flags');
    const dom = await define('flags', diskXML(disk));
    await rejectsVir(dom.snapshotCreateXML("<domainsnapshot><memory snapshot='internal'/></domainsnapshot>"), {
      code: ErrorNumber.XML_ERROR,
      message: /memory state cannot be saved with offline or disk-only snapshot/,
    });
    await rejectsVir(dom.snapshotCreateXML("<domainsnapshot><disks><disk name='vda' snapshot='no'/></disks></domainsnapshot>"), {
      code: ErrorNumber.CONFIG_UNSUPPORTED,
      message: 'unsupported configuration: nothing selected for snapshot',
    });
    for (const d of [rawDom, bare, dom]) assert.equal(await d.snapshotNum(), 0);
    assert.deepEqual([...imageSnapshots(disk).keys()], []);
    for (const d of [rawDom, bare, dom]) await d.undefine();
  });
  test("offline revert applies the recorded snapshot, not one whose numeric ID equals its name; delete removes that one", async () => {
    const disk = qcow2('decoy');
    const dom = await define('decoy', diskXML(disk));
    qemuIo(disk, 'write -P 0x11 0 64k');
    // tsvirt's snapshot "2" gets the image's ID 1 …
    const two = await dom.snapshotCreateXML('<domainsnapshot><name>2</name></domainsnapshot>');
    qemuIo(disk, 'write -P 0x22 0 64k');
    // … and a snapshot made beside tsvirt gets ID 2: `qemu-img snapshot -a 2` would pick it.
    execFileSync('qemu-img', ['snapshot', '-c', 'decoy', disk]);
    qemuIo(disk, 'write -P 0x33 0 64k');
    await two.revert();
    assert.ok(holdsPattern(disk, 0x11), 'the disk holds what snapshot "2" recorded');
    assert.ok(!holdsPattern(disk, 0x22), 'not the decoy with ID 2');
    await two.delete();
    assert.deepEqual([...imageSnapshots(disk).keys()], ['decoy'], 'the decoy is left alone');
    await dom.undefine();
  });

  test('a create whose name the image already holds (left by an interrupted snapshot) is refused, nothing changes', async () => {
    const disk = qcow2('residue');
    const dom = await define('residue', diskXML(disk));
    execFileSync('qemu-img', ['snapshot', '-c', 'again', disk]);
    await rejectsVir(dom.snapshotCreateXML('<domainsnapshot><name>again</name></domainsnapshot>'), {
      code: ErrorNumber.OPERATION_FAILED,
      domain: ErrorDomain.QEMU,
      message: /internal snapshot 'again' already exists in disk image '.*residue\.qcow2'/,
    });
    const tags = execFileSync('qemu-img', ['info', '-U', '--output=json', disk], { encoding: 'utf8' });
    assert.equal((JSON.parse(tags) as { snapshots: unknown[] }).snapshots.length, 1, 'no duplicate tag');
    assert.equal(await dom.snapshotNum(), 0);
    await dom.undefine();
  });

  test('a memory revert whose name QEMU would resolve to another snapshot (numeric ID) is refused, the guest is not started from it', async () => {
    const disk = qcow2('loadvm');
    const dom = await define('loadvm', diskXML(disk), 1);
    execFileSync('qemu-img', ['snapshot', '-c', 'decoy', disk]); // ID 1
    await dom.create();
    await waitForText(join(state, 'loadvm.serial'), 'GUEST-ALIVE 1', BOOT_TIMEOUT);
    const one = await dom.snapshotCreateXML('<domainsnapshot><name>1</name></domainsnapshot>'); // ID 2
    // A running guest's snapshot is refused the same way when the image holds the name.
    await rejectsVir(dom.snapshotCreateXML('<domainsnapshot><name>decoy</name></domainsnapshot>'), {
      code: ErrorNumber.OPERATION_FAILED,
      message: /internal snapshot 'decoy' already exists in disk image '.*loadvm\.qcow2' \(ID 1/,
    });
    await rejectsVir(one.revert(), { code: ErrorNumber.OPERATION_FAILED, message: /'1' is also the ID of internal snapshot 'decoy'/ });
    await dom.destroy().catch(() => undefined);
    await dom.undefineFlags(DomainUndefineFlags.SNAPSHOTS_METADATA);
  });
  test('a name the image holds twice: revert applies the one taken when tsvirt recorded it; delete will not guess', async () => {
    const disk = qcow2('twice');
    const dom = await define('twice', diskXML(disk));
    // Left in the image by an interrupted snapshot of the same name, before tsvirt's own.
    qemuIo(disk, 'write -P 0x44 0 64k');
    execFileSync('qemu-img', ['snapshot', '-c', 'r', disk]);
    await new Promise((r) => setTimeout(r, 1100));
    // tsvirt's own 'r': its metadata (creation time) recorded, then the image snapshot taken.
    const now = Math.floor(Date.now() / 1000);
    const r = await dom.snapshotCreateXML(
      `<domainsnapshot><name>r</name><state>shutoff</state><creationTime>${now}</creationTime></domainsnapshot>`,
      Create.REDEFINE,
    );
    qemuIo(disk, 'write -P 0x55 0 64k');
    execFileSync('qemu-img', ['snapshot', '-c', 'r', disk]);
    qemuIo(disk, 'write -P 0x66 0 64k');
    await r.revert();
    assert.ok(holdsPattern(disk, 0x55), "tsvirt's 'r', not the older one of the same name");
    // qemu-img deletes the first of a name: that is the stray one here, so tsvirt refuses.
    await rejectsVir(r.delete(), { code: ErrorNumber.OPERATION_FAILED, message: /an earlier snapshot of the same name is in the way/ });
    execFileSync('qemu-img', ['snapshot', '-d', 'r', disk]);
    await r.delete();
    assert.deepEqual([...imageSnapshots(disk).keys()], []);
    await dom.undefine();
  });
});
