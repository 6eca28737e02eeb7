/**
 * Device identity after hotplug, with real TCG guests on qemu:///session: the live definition
 * describes exactly the devices QEMU runs (aliases and PCI addresses), so that a QEMU started
 * again from it — a managed save's restore, a save file's restore — has the identical device set
 * (QEMU's query-pci and query-block match the source's, the guest still sees its disk); and the
 * block nodes a snapshot or checkpoint addresses are those of the disk meant, also after the
 * first of two disks was hot-detached.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { DomainDeviceModifyFlags, connect, type Connection, type Domain } from '../src/index.js';
import type { DomainRef, HypervisorDriver } from '../src/core/driver.js';
import type { QmpClient } from '../src/drivers/qemu/qmp.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, type TestGuest } from './qemu-harness.js';

const skip = qemuSkipReason();
/** The live XML without the domain id, which every start changes. */
const withoutId = (xml: string) => xml.replace(/^<domain type='(\w+)' id='\d+'/, "<domain type='$1'");
const ESC = String.fromCharCode(27);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const { LIVE } = DomainDeviceModifyFlags;

/** A console session on the guest's shell. */
class Shell {
  text = '';
  constructor(readonly io: Duplex) {
    io.on('data', (d: Buffer) => (this.text += d.toString('latin1')));
  }
  async waitFor(pattern: RegExp, timeoutMs = 90_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.text);
      if (m !== null) return m[0];
      if (Date.now() > deadline) throw new Error(`'${String(pattern)}' not seen within ${timeoutMs} ms; got:\n${this.text.slice(-1500)}`);
      await sleep(50);
    }
  }
  async ls(dir: string): Promise<string[]> {
    const n = Math.floor(Math.random() * 100000);
    this.io.write(`echo LS$((${n}+1))B $(ls ${dir}) LS$((${n}+1))E\n`);
    const m = await this.waitFor(new RegExp(`LS${n + 1}B ([^\\r\\n]*?) ?LS${n + 1}E`));
    return m.replace(/^LS\d+B ?/, '').replace(/ ?LS\d+E$/, '').split(/\s+/).filter((x) => x !== '');
  }
  async until(dir: string, ok: (names: string[]) => boolean, timeoutMs = 60_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const names = await this.ls(dir);
      if (ok(names)) return names;
      if (Date.now() > deadline) throw new Error(`ls ${dir} never matched; last: ${names.join(' ')}`);
      await sleep(500);
    }
  }
}

interface PciDevice {
  slot: number;
  function: number;
  qdev_id: string;
  class_info: { class: number };
  id: { device: number; vendor: number };
}
interface BlockInfo {
  qdev?: string;
  inserted?: { file: string; 'node-name'?: string };
}
interface NodeInfo {
  'node-name': string;
  drv: string;
  file: string;
  'dirty-bitmaps'?: { name: string }[];
}

describe('device identity after hotplug (real guests)', { skip, timeout: 900_000 }, () => {
  const reaper = new Reaper();
  let guest: TestGuest;
  let state: string;
  let previous: string | undefined;
  let conn: Connection;
  let drv: HypervisorDriver;
  const open: Duplex[] = [];

  /** The running guest's monitor, as the driver holds it. */
  const qmpOf = async (dom: Domain): Promise<QmpClient> => {
    const inner = drv as unknown as { running(d: DomainRef): Promise<{ qmp: QmpClient }> };
    return (await inner.running(await drv.lookupByName(dom.name()))).qmp;
  };
  /** The guest's PCI devices and disks as QEMU reports them, in a comparable form. */
  const devicesOf = async (dom: Domain): Promise<{ pci: string[]; block: string[] }> => {
    const qmp = await qmpOf(dom);
    const buses = await qmp.execute<{ devices: PciDevice[] }[]>('query-pci');
    const pci = buses
      .flatMap((b) => b.devices)
      .map((d) => `${d.slot}.${d.function} ${d.qdev_id} ${d.id.vendor.toString(16)}:${d.id.device.toString(16)}`)
      .sort();
    const blocks = await qmp.execute<BlockInfo[]>('query-block');
    const block = blocks
      .filter((b) => b.inserted !== undefined)
      .map((b) => `${(b.qdev ?? '').replace(/^\/machine\/peripheral\//, '').replace(/\/virtio-backend$/, '')} ${b.inserted?.file ?? ''}`)
      .sort();
    return { pci, block };
  };
  const openShell = async (dom: Domain): Promise<Shell> => {
    const io = await drv.domainOpenConsole!(await drv.lookupByName(dom.name()), null, 0);
    open.push(io);
    const s = new Shell(io);
    io.write('\n');
    // The prompt may be followed by the shell's cursor-position query (ESC [6n).
    await s.waitFor(new RegExp(`# (?:${ESC}\\[6n)?$|GUEST-SHELL`, 'm'));
    return s;
  };
  const closeShells = () => {
    for (const io of open.splice(0)) io.destroy();
  };
  const diskXML = (file: string, target: string, type = 'raw') =>
    `<disk type='file' device='disk'><driver name='qemu' type='${type}'/><source file='${file}'/><target dev='${target}' bus='virtio'/></disk>`;
  const qcow2 = (name: string): string => {
    const f = join(state, name);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', f, '16M']);
    return f;
  };

  before(async () => {
    state = reaper.tempDir('tsvhi-');
    guest = await buildTestGuest(join(state, 'guest'));
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = state;
    conn = await connect('qemu:///session');
    drv = conn.driverFor('test');
  });

  after(async () => {
    closeShells();
    if (conn !== undefined) {
      for (const d of await conn.listAllDomains(1).catch(() => [])) await d.destroy().catch(() => undefined);
      await conn.close();
    }
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    await reaper.cleanup();
  });

  test('a hot-plugged disk and NIC survive managed save and a save file: same PCI slots, same disks, seen by the guest', async () => {
    const boot = join(state, 'boot.img');
    const hot = join(state, 'hot.img');
    const hot2 = join(state, 'hot2.img');
    for (const f of [boot, hot, hot2]) writeFileSync(f, Buffer.alloc(4 * 1024 * 1024));
    const dom = await conn.defineXML(
      guestXML({
        name: 'identity-save',
        uuid: randomUUID(),
        guest,
        mode: 'A',
        serial: join(state, 'save.log'),
        pty: { log: true },
        shell: true,
        virtio: true,
        extraDevices: diskXML(boot, 'vda') + "<interface type='user'><mac address='52:54:00:de:00:01'/><model type='virtio'/></interface>",
      }),
    );
    await dom.create();
    let shell = await openShell(dom);
    await shell.until('/sys/block', (n) => n.includes('vda'));

    await dom.attachDeviceFlags(diskXML(hot, 'vdb'), LIVE);
    await dom.attachDeviceFlags("<interface type='user'><mac address='52:54:00:de:00:02'/><model type='virtio'/></interface>", LIVE);
    await shell.until('/sys/block', (n) => n.includes('vdb'));
    const live = await dom.XMLDesc();
    // Every PCI device of the live definition has its address there.
    for (const alias of ['virtio-disk0', 'virtio-disk1', 'net0', 'net1']) {
      assert.match(live, new RegExp(`<alias name='${alias}'/>\\s*<address type='pci' domain='0x0000' bus='0x00' slot='0x[0-9a-f]{2}' function='0x0'/>`), live);
    }
    const source = await devicesOf(dom);
    assert.ok(source.block.some((b) => b.includes(hot)), source.block.join('\n'));

    closeShells();
    await dom.managedSave();
    assert.equal(await dom.hasManagedSaveImage(), true);
    await dom.create();
    assert.deepEqual(await devicesOf(dom), source, 'the restored QEMU runs the same devices at the same addresses');
    assert.equal(withoutId(await dom.XMLDesc()), withoutId(live), 'the live definition is the one saved');
    shell = await openShell(dom);
    await shell.until('/sys/block', (n) => n.includes('vda') && n.includes('vdb'));
    // The restored guest's devices are still found by their identity.
    await dom.detachDeviceFlags("<interface type='user'><mac address='52:54:00:de:00:02'/><model type='virtio'/></interface>", LIVE);
    for (let i = 0; i < 100 && /52:54:00:de:00:02/.test(await dom.XMLDesc()); i++) await sleep(100);
    assert.doesNotMatch(await dom.XMLDesc(), /52:54:00:de:00:02/);

    // Attach, then virDomainSave to a file and restore from it.
    await dom.attachDeviceFlags(diskXML(hot2, 'vdc'), LIVE);
    await shell.until('/sys/block', (n) => n.includes('vdc'));
    const before = await devicesOf(dom);
    const liveBefore = await dom.XMLDesc();
    closeShells();
    const file = join(state, 'identity.save');
    await dom.save(file);
    await conn.restore(file);
    assert.deepEqual(await devicesOf(dom), before);
    assert.equal(withoutId(await dom.XMLDesc()), withoutId(liveBefore));
    shell = await openShell(dom);
    await shell.until('/sys/block', (n) => n.includes('vda') && n.includes('vdb') && n.includes('vdc'));
    closeShells();
    await dom.destroy();
  });

  test('after hot-detaching the first of two disks, a snapshot and a checkpoint address the remaining disk', async () => {
    const a = qcow2('a.qcow2');
    const b = qcow2('b.qcow2');
    const dom = await conn.defineXML(
      guestXML({
        name: 'identity-nodes',
        uuid: randomUUID(),
        guest,
        mode: 'A',
        serial: join(state, 'nodes.log'),
        pty: { log: true },
        shell: true,
        virtio: true,
        extraDevices: diskXML(a, 'vda', 'qcow2') + diskXML(b, 'vdb', 'qcow2'),
      }),
    );
    await dom.create();
    const shell = await openShell(dom);
    await shell.until('/sys/block', (n) => n.includes('vda') && n.includes('vdb'));
    await dom.detachDeviceFlags(diskXML(a, 'vda', 'qcow2'), LIVE);
    for (let i = 0; i < 100 && /a\.qcow2/.test(await dom.XMLDesc()); i++) await sleep(100);
    assert.doesNotMatch(await dom.XMLDesc(), /a\.qcow2/, 'the guest let go of the first disk');

    await dom.checkpointCreateXML("<domaincheckpoint><name>cp1</name><disks><disk name='vdb' checkpoint='bitmap'/></disks></domaincheckpoint>");
    const nodes = await (await qmpOf(dom)).execute<NodeInfo[]>('query-named-block-nodes', { flat: true });
    const withBitmap = nodes.filter((n) => (n['dirty-bitmaps'] ?? []).some((bm) => bm.name === 'cp1'));
    assert.deepEqual(
      withBitmap.map((n) => n.file),
      [b],
      'the bitmap is on the format node of vdb',
    );

    await dom.snapshotCreateXML("<domainsnapshot><name>after-detach</name></domainsnapshot>");
    const names = (file: string) =>
      (JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', file], { encoding: 'utf8' })) as { snapshots?: { name: string }[] }).snapshots?.map(
        (s) => s.name,
      ) ?? [];
    assert.deepEqual(names(b), ['after-detach']);
    assert.deepEqual(names(a), [], 'the detached disk is not part of the snapshot');
    closeShells();
    await dom.destroy();
  });
});
