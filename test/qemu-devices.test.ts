/**
 * Device hotplug on qemu:///session with a real TCG guest (the test image with virtio drivers and
 * a shell on ttyS0): a hot-plugged virtio disk appears in the guest's /sys/block and leaves it on
 * detach; a user-mode virtio interface appears in /sys/class/net and leaves on detach by alias;
 * the live XML shows the aliases; a CONFIG-only attach survives a restart; a CD-ROM's media
 * changes through update-device; bad input is refused with libvirt's errors and changes nothing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { DomainCreateFlags, DomainDeviceModifyFlags, DomainEventID, DomainXMLFlags, ErrorNumber, connect, type Connection, type Domain } from '../src/index.js';
import type { HypervisorDriver } from '../src/core/driver.js';
import { Reaper, buildTestGuest, guestXML, qemuSkipReason, type TestGuest } from './qemu-harness.js';
import { rejectsVir } from './support/fixtures.js';

const skip = qemuSkipReason();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const { LIVE, CONFIG } = DomainDeviceModifyFlags;

/** A console session on the guest's shell. */
class Shell {
  text = '';
  constructor(readonly io: Duplex) {
    io.on('data', (d: Buffer) => (this.text += d.toString('latin1')));
  }
  async waitFor(pattern: string | RegExp, timeoutMs = 90_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = typeof pattern === 'string' ? (this.text.includes(pattern) ? pattern : null) : pattern.exec(this.text);
      if (m !== null) return typeof m === 'string' ? m : m[0];
      if (Date.now() > deadline) throw new Error(`'${String(pattern)}' not seen within ${timeoutMs} ms; got:\n${this.text.slice(-1500)}`);
      await sleep(50);
    }
  }
  /** Runs `ls DIR` in the guest; the listing between markers the typed line does not contain. */
  async ls(dir: string): Promise<string[]> {
    const n = Math.floor(Math.random() * 100000);
    const start = this.text.length;
    this.io.write(`echo LS$((${n}+1))B $(ls ${dir}) LS$((${n}+1))E\n`);
    const m = await this.waitFor(new RegExp(`LS${n + 1}B ([^\\r\\n]*?) ?LS${n + 1}E`));
    void start;
    return m.replace(/^LS\d+B ?/, '').replace(/ ?LS\d+E$/, '').split(/\s+/).filter((x) => x !== '');
  }
  /** Polls `ls DIR` until `ok` holds. */
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

describe('QEMU device hotplug with a real guest', { skip, timeout: 600_000 }, () => {
  const reaper = new Reaper();
  let guest: TestGuest;
  let state: string;
  let previous: string | undefined;
  let conn: Connection;
  let drv: HypervisorDriver;
  let dom: Domain;
  let shell: Shell;
  let img: string;
  let img2: string;
  let iso: string;
  const open: Duplex[] = [];

  const openShell = async (): Promise<Shell> => {
    const io = await drv.domainOpenConsole!(await drv.lookupByName(dom.name()), null, 0);
    open.push(io);
    const s = new Shell(io);
    io.write('\n');
    await s.waitFor(/# $|GUEST-SHELL/m);
    return s;
  };

  before(async () => {
    state = reaper.tempDir('tsvqd-');
    guest = await buildTestGuest(join(state, 'guest'));
    img = join(state, 'hot.img');
    img2 = join(state, 'cold.img');
    iso = join(state, 'media.iso');
    for (const f of [img, img2, iso]) writeFileSync(f, Buffer.alloc(4 * 1024 * 1024));
    previous = process.env.TSVIRT_STATE_DIR;
    process.env.TSVIRT_STATE_DIR = state;
    conn = await connect('qemu:///session');
    drv = conn.driverFor('test');
    const xml = guestXML({
      name: 'hotplug',
      uuid: randomUUID(),
      guest,
      mode: 'A',
      serial: join(state, 'serial.log'),
      pty: { log: true },
      shell: true,
      virtio: true,
      extraDevices: "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>",
    });
    dom = await conn.defineXML(xml);
    await dom.create();
    shell = await openShell();
  });

  after(async () => {
    for (const io of open) io.destroy();
    if (conn !== undefined) {
      for (const d of await conn.listAllDomains(1).catch(() => [])) await d.destroy().catch(() => undefined);
      await conn.close();
    }
    if (previous === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = previous;
    await reaper.cleanup();
  });

  const diskXML = (file: string, target: string, extra = '') =>
    `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${file}'/><target dev='${target}' bus='virtio'/>${extra}</disk>`;

  test('boot-time devices carry their aliases in the live XML only', async () => {
    const live = await dom.XMLDesc();
    assert.match(live, /<target dev='hdc' bus='ide'\/>\s*<readonly\/>\s*<alias name='ide-disk0'\/>/);
    assert.doesNotMatch(await dom.XMLDesc(DomainXMLFlags.INACTIVE), /<alias/);
  });

  test('a hot-plugged virtio disk appears in /sys/block; detaching it makes it disappear; DEVICE_ADDED/DEVICE_REMOVED follow', async () => {
    const events: string[] = [];
    const ids = [
      conn.domainEventRegisterAny(dom, DomainEventID.DEVICE_ADDED, (_c, _d, alias) => events.push(`added ${alias}`)),
      conn.domainEventRegisterAny(dom, DomainEventID.DEVICE_REMOVED, (_c, _d, alias) => events.push(`removed ${alias}`)),
    ];
    const before = await shell.ls('/sys/block');
    assert.ok(!before.includes('vda'), before.join(' '));
    await dom.attachDevice(diskXML(img, 'vdb'));
    const live = await dom.XMLDesc();
    assert.match(live, new RegExp(`<source file='${img}'/>\\s*<target dev='vdb' bus='virtio'/>\\s*<alias name='virtio-disk1'/>`));
    assert.doesNotMatch(await dom.XMLDesc(DomainXMLFlags.INACTIVE), /vdb/, 'a live attach leaves the config alone');
    await shell.until('/sys/block', (names) => names.includes('vda'));

    await dom.detachDeviceFlags(diskXML(img, 'vdb'), LIVE);
    assert.doesNotMatch(await dom.XMLDesc(), /vdb/);
    await shell.until('/sys/block', (names) => !names.includes('vda'));
    // Plugging the same image again works: its block nodes were released.
    await dom.attachDeviceFlags(diskXML(img, 'vdb', "<alias name='ua-hot'/>"), LIVE);
    assert.match(await dom.XMLDesc(), /<alias name='ua-hot'\/>/);
    await shell.until('/sys/block', (names) => names.includes('vda'));
    await dom.detachDeviceAlias('ua-hot', LIVE);
    await shell.until('/sys/block', (names) => !names.includes('vda'));
    for (let i = 0; i < 100 && /ua-hot/.test(await dom.XMLDesc()); i++) await sleep(100);
    assert.doesNotMatch(await dom.XMLDesc(), /ua-hot/, 'the alias detach completes when the guest lets go');
    // DEVICE_REMOVED comes when QEMU reports DEVICE_DELETED (for the alias detach, after the call).
    for (let i = 0; i < 50 && events.length < 4; i++) await sleep(100);
    for (const id of ids) conn.domainEventDeregisterAny(id);
    assert.deepEqual(events, ['added virtio-disk1', 'removed virtio-disk1', 'added ua-hot', 'removed ua-hot']);
  });

  // virsh 9.0's attach-interface has no 'user' type: the NIC comes as <interface> XML (attach-device).
  test('a hot-plugged user-mode virtio NIC shows up in /sys/class/net and goes on detach', async () => {
    const nic = "<interface type='user'><mac address='52:54:00:aa:bb:01'/><model type='virtio'/></interface>";
    const before = await shell.ls('/sys/class/net');
    await dom.attachDeviceFlags(nic, LIVE);
    assert.match(await dom.XMLDesc(), /<mac address='52:54:00:aa:bb:01'\/>\s*<model type='virtio'\/>\s*<alias name='net0'\/>/);
    const withNic = await shell.until('/sys/class/net', (names) => names.length === before.length + 1);
    assert.ok(withNic.some((n) => n.startsWith('eth')), withNic.join(' '));
    await rejectsVir(dom.detachDeviceFlags("<interface type='user'><mac address='52:54:00:aa:bb:99'/></interface>", LIVE), {
      code: ErrorNumber.DEVICE_MISSING,
      message: "device not found: no device found at address '(<null>)' matching MAC address '52:54:00:aa:bb:99' and alias '(<null>)'",
    });
    await dom.detachDevice(nic);
    assert.doesNotMatch(await dom.XMLDesc(), /52:54:00:aa:bb:01/);
    await shell.until('/sys/class/net', (names) => names.length === before.length);
  });

  test('update-device changes the CD-ROM media live', async () => {
    await dom.updateDeviceFlags(`<disk type='file' device='cdrom'><source file='${iso}'/><target dev='hdc' bus='ide'/><readonly/></disk>`, LIVE);
    assert.match(await dom.XMLDesc(), new RegExp(`<source file='${iso}'/>\\s*<target dev='hdc'`));
    await dom.updateDeviceFlags("<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>", LIVE);
    assert.doesNotMatch(await dom.XMLDesc(), new RegExp(iso));
  });

  test('bad input is refused with libvirt errors and changes nothing', async () => {
    const live = await dom.XMLDesc();
    const config = await dom.XMLDesc(DomainXMLFlags.INACTIVE);
    await rejectsVir(dom.attachDevice('<disk type='), { code: ErrorNumber.XML_DETAIL });
    await rejectsVir(dom.attachDevice('<bogus/>'), { code: ErrorNumber.CONFIG_UNSUPPORTED, message: "unsupported configuration: unknown device type 'bogus'" });
    await rejectsVir(dom.attachDevice(diskXML(img, 'hdc').replace("bus='virtio'", "bus='ide'")), {
      code: ErrorNumber.OPERATION_INVALID,
      message: 'Requested operation is not valid: target hdc already exists',
    });
    await rejectsVir(dom.detachDevice(diskXML(img, 'vdz')), { code: ErrorNumber.DEVICE_MISSING, message: 'device not found: disk vdz not found' });
    await rejectsVir(dom.attachDevice("<controller type='usb' index='0'/>"), {
      code: ErrorNumber.OPERATION_UNSUPPORTED,
      message: "Operation not supported: live attach of device 'controller' is not supported",
    });
    await rejectsVir(dom.attachDevice(diskXML(img, 'hdb').replace("bus='virtio'", "bus='ide'")), {
      code: ErrorNumber.OPERATION_UNSUPPORTED,
      message: "Operation not supported: disk bus 'ide' cannot be hotplugged.",
    });
    // QEMU refuses an image that is not there: its words, and nothing left behind (the same target plugs later).
    await rejectsVir(dom.attachDevice(diskXML('/nonexistent/none.img', 'vdq')), { code: ErrorNumber.INTERNAL_ERROR, message: /blockdev-add.*none\.img/ });
    await rejectsVir(dom.detachDeviceAlias('ua-nothing', LIVE), { code: ErrorNumber.INTERNAL_ERROR, message: 'internal error: no device found with alias ua-nothing' });
    assert.equal(await dom.XMLDesc(), live);
    assert.equal(await dom.XMLDesc(DomainXMLFlags.INACTIVE), config);
  });

  test('a guest that does not release the device: detach returns after 5 s, the device stays in the live XML', async () => {
    // A guest whose vCPUs never ran cannot answer the PCI unplug request.
    const paused = guestXML({ name: 'paused', uuid: randomUUID(), guest, mode: 'B', serial: join(state, 'paused.log'), virtio: true });
    const other = await conn.createXML(paused, DomainCreateFlags.START_PAUSED);
    try {
      await other.attachDeviceFlags(diskXML(img2, 'vdb'), LIVE);
      const started = Date.now();
      await other.detachDeviceFlags(diskXML(img2, 'vdb'), LIVE);
      const waited = Date.now() - started;
      assert.ok(waited >= 4900, `the detach waited ${waited} ms`);
      assert.match(await other.XMLDesc(), /<target dev='vdb' bus='virtio'\/>\s*<alias name='virtio-disk1'\/>/);
      // The request is still pending in QEMU: a second one is refused there, the definition unchanged.
      await rejectsVir(other.detachDeviceAlias('virtio-disk1', LIVE), { code: ErrorNumber.INTERNAL_ERROR });
      assert.match(await other.XMLDesc(), /virtio-disk1/);
    } finally {
      await other.destroy();
    }
  });

  test('a CONFIG-only attach survives a restart; LIVE on the inactive domain is refused', async () => {
    await dom.attachDeviceFlags(diskXML(img2, 'vdc'), CONFIG);
    assert.doesNotMatch(await dom.XMLDesc(), /vdc/);
    assert.match(await dom.XMLDesc(DomainXMLFlags.INACTIVE), /<target dev='vdc' bus='virtio'\/>/);
    for (const io of open.splice(0)) io.destroy();
    await dom.destroy();
    await rejectsVir(dom.attachDeviceFlags(diskXML(img, 'vdb'), LIVE), { code: ErrorNumber.OPERATION_INVALID, message: 'Requested operation is not valid: domain is not running' });
    await rejectsVir(dom.attachDevice(diskXML(img, 'vdb')), { code: ErrorNumber.OPERATION_INVALID });
    await dom.create();
    assert.match(await dom.XMLDesc(), /<target dev='vdc' bus='virtio'\/>\s*<alias name='virtio-disk\d+'\/>/);
    shell = await openShell();
    await shell.until('/sys/block', (names) => names.includes('vda'));
    // And a CONFIG detach leaves the running guest alone.
    await dom.detachDeviceFlags(diskXML(img2, 'vdc'), CONFIG);
    assert.doesNotMatch(await dom.XMLDesc(DomainXMLFlags.INACTIVE), /vdc/);
    assert.match(await dom.XMLDesc(), /vdc/);
  });
});
