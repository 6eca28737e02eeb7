/**
 * Device calls on the test driver (test:///default) through the public API and through tsvirtd:
 * attach, detach, update and detach by alias on the live and persistent definitions with
 * libvirt's modification impact, matching (a disk by target, an interface by MAC, another device
 * by its exact XML, any by alias), libvirt's errors, and nothing changed when a call fails.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainDeviceModifyFlags, DomainXMLFlags, ErrorNumber, connect, type Connection, type Domain } from '../src/index.js';
import { parseDeviceXML } from '../src/conf/device.js';
import { parseDomainXML } from '../src/conf/domain.js';
import { rejectsVir } from './support/fixtures.js';
import { startDaemon, type RunningDaemon } from './support/daemon-harness.js';

const { LIVE, CONFIG, FORCE } = DomainDeviceModifyFlags;
const INACTIVE = DomainXMLFlags.INACTIVE;

const disk = (target: string, extra = '') => `<disk type='file' device='disk'><source file='/var/lib/x-${target}.img'/><target dev='${target}' bus='virtio'/>${extra}</disk>`;
const nic = (mac: string) => `<interface type='network'><mac address='${mac}'/><source network='default'/><model type='virtio'/></interface>`;
const inactiveDomain = (name: string) =>
  `<domain type='test'><name>${name}</name><memory>1024</memory><os><type>hvm</type></os><devices>${disk('vda')}</devices></domain>`;

/** Both definitions, to prove a failed call changed nothing. */
async function snapshot(dom: Domain): Promise<[string, string]> {
  const live = (await dom.isActive()) ? await dom.XMLDesc() : '';
  return [live, await dom.XMLDesc(INACTIVE)];
}

function suite(label: string, open: () => Promise<Connection>, openReadonly: () => Promise<Connection>): void {
  describe(`device calls on ${label}`, () => {
    let conn: Connection;
    let dom: Domain;
    before(async () => {
      conn = await open();
      dom = await conn.lookupByName('test');
    });
    after(async () => {
      await conn?.close();
    });

    test('attach: LIVE and CONFIG each reach only their definition; CURRENT is LIVE on a running domain', async () => {
      await dom.attachDeviceFlags(disk('vdb'), LIVE);
      assert.match(await dom.XMLDesc(), /<target dev='vdb' bus='virtio'\/>/);
      assert.doesNotMatch(await dom.XMLDesc(INACTIVE), /vdb/);
      await dom.attachDeviceFlags(disk('vdc'), CONFIG);
      assert.doesNotMatch(await dom.XMLDesc(), /vdc/);
      assert.match(await dom.XMLDesc(INACTIVE), /<target dev='vdc' bus='virtio'\/>/);
      await dom.attachDeviceFlags(disk('vdd'), LIVE | CONFIG);
      await dom.attachDevice(disk('vde'));
      const live = await dom.XMLDesc();
      // Disks of one bus stay in target order (virDomainDiskInsert).
      assert.deepEqual([...live.matchAll(/<target dev='(vd.)'/g)].map((m) => m[1]), ['vda', 'vdb', 'vdd', 'vde']);
      assert.deepEqual([...(await dom.XMLDesc(INACTIVE)).matchAll(/<target dev='(vd.)'/g)].map((m) => m[1]), ['vda', 'vdc', 'vdd']);
    });

    test('detach: a disk by target or by source-less XML, CONFIG and LIVE apart', async () => {
      await dom.detachDeviceFlags("<disk type='file'><target dev='vdd'/></disk>", LIVE | CONFIG);
      await dom.detachDevice(disk('vde'));
      await dom.detachDeviceFlags(disk('vdb'), 0);
      await dom.detachDeviceFlags(disk('vdc'), CONFIG);
      assert.doesNotMatch(await dom.XMLDesc(), /vd[b-e]/);
      assert.doesNotMatch(await dom.XMLDesc(INACTIVE), /vd[b-e]/);
      const before = await snapshot(dom);
      await rejectsVir(dom.detachDeviceFlags(disk('vdz'), CONFIG), { code: ErrorNumber.DEVICE_MISSING, message: 'device not found: no target device vdz' });
      await rejectsVir(dom.detachDeviceFlags(disk('vdz'), LIVE), { code: ErrorNumber.DEVICE_MISSING, message: 'device not found: disk vdz not found' });
      assert.deepEqual(await snapshot(dom), before);
    });

    test('an interface is matched by MAC; two with one MAC are ambiguous', async () => {
      await dom.attachDeviceFlags(nic('52:54:00:00:00:01'), LIVE);
      await dom.attachDeviceFlags(nic('52:54:00:00:00:01'), LIVE);
      const before = await snapshot(dom);
      await rejectsVir(dom.detachDeviceFlags(nic('52:54:00:00:00:01'), LIVE), {
        code: ErrorNumber.OPERATION_FAILED,
        message: 'operation failed: multiple devices matching MAC address 52:54:00:00:00:01 found',
      });
      await rejectsVir(dom.detachDeviceFlags(nic('52:54:00:00:00:09'), LIVE), {
        code: ErrorNumber.DEVICE_MISSING,
        message: "device not found: no device found at address '(<null>)' matching MAC address '52:54:00:00:00:09' and alias '(<null>)'",
      });
      assert.deepEqual(await snapshot(dom), before);
      // An update of an interface matched by MAC changes it in place (its model here).
      await dom.attachDeviceFlags(nic('52:54:00:00:00:02'), LIVE);
      await dom.updateDeviceFlags(nic('52:54:00:00:00:02').replace("type='virtio'", "type='e1000'"), LIVE);
      assert.match(await dom.XMLDesc(), /52:54:00:00:00:02'\/>\s*<source network='default'\/>\s*<model type='e1000'\/>/);
      await dom.detachDeviceFlags(nic('52:54:00:00:00:02'), LIVE);
      const live = parseDomainXML(await dom.XMLDesc());
      assert.equal(live.devices.interfaces.filter((n) => n.mac === '52:54:00:00:00:01').length, 2);
    });

    test('user aliases: kept in the persistent config, unique, and detach by alias', async () => {
      await dom.attachDeviceFlags(disk('vdf', "<alias name='ua-data'/>"), LIVE | CONFIG);
      assert.match(await dom.XMLDesc(INACTIVE), /<alias name='ua-data'\/>/);
      await rejectsVir(dom.attachDeviceFlags(disk('vdg', "<alias name='ua-data'/>"), LIVE), {
        code: ErrorNumber.CONFIG_UNSUPPORTED,
        message: 'unsupported configuration: non unique alias detected: ua-data',
      });
      await dom.detachDeviceAlias('ua-data', LIVE | CONFIG);
      assert.doesNotMatch(await dom.XMLDesc(), /ua-data/);
      assert.doesNotMatch(await dom.XMLDesc(INACTIVE), /ua-data/);
      await rejectsVir(dom.detachDeviceAlias('ua-data', CONFIG), { code: ErrorNumber.INTERNAL_ERROR, message: 'internal error: no device found with alias ua-data' });
    });

    test('update: the disk with the same target changes; an unknown target is refused', async () => {
      await dom.updateDeviceFlags(disk('vda').replace('x-vda', 'y-vda'), CONFIG | FORCE);
      assert.match(await dom.XMLDesc(INACTIVE), /<source file='\/var\/lib\/y-vda.img'\/>/);
      // The address the old disk had is kept.
      assert.match(await dom.XMLDesc(INACTIVE), /y-vda.img'\/>\s*<target dev='vda' bus='virtio'\/>\s*<address type='pci'/);
      await rejectsVir(dom.updateDeviceFlags(disk('vdq'), CONFIG), { code: ErrorNumber.INVALID_ARG, message: "invalid argument: target vdq doesn't exist." });
      await rejectsVir(dom.updateDeviceFlags("<controller type='usb' index='0'/>", CONFIG), {
        code: ErrorNumber.OPERATION_UNSUPPORTED,
        message: "Operation not supported: persistent update of device 'controller' is not supported",
      });
    });

    test('a kind tsvirt does not model goes in and out of the config by its exact XML', async () => {
      const ctl = "<controller type='usb' index='3' model='qemu-xhci'/>";
      await dom.attachDeviceFlags(ctl, CONFIG);
      assert.match(await dom.XMLDesc(INACTIVE), /<controller type='usb' index='3' model='qemu-xhci'\/>/);
      await rejectsVir(dom.detachDeviceFlags("<controller type='usb' index='4' model='qemu-xhci'/>", CONFIG), {
        code: ErrorNumber.DEVICE_MISSING,
        message: 'device not found: device not present in domain configuration',
      });
      await dom.detachDeviceFlags(ctl, CONFIG);
      assert.doesNotMatch(await dom.XMLDesc(INACTIVE), /index='3'/);
      await rejectsVir(dom.attachDeviceFlags("<graphics type='vnc'/>", CONFIG), {
        code: ErrorNumber.OPERATION_UNSUPPORTED,
        message: "Operation not supported: persistent attach of device 'graphics' is not supported",
      });
    });

    test('bad input: malformed XML, an unknown element, a duplicate target, flags, a null argument; nothing changes', async () => {
      const before = await snapshot(dom);
      await rejectsVir(dom.attachDevice('<disk type='), { code: ErrorNumber.XML_DETAIL, message: /^\(device_definition\):1: / });
      await rejectsVir(dom.attachDevice('<frobnicator/>'), { code: ErrorNumber.CONFIG_UNSUPPORTED, message: "unsupported configuration: unknown device type 'frobnicator'" });
      await rejectsVir(dom.attachDevice("<disk type='file'><source file='/x'/></disk>"), { code: ErrorNumber.NO_TARGET });
      await rejectsVir(dom.attachDevice(disk('vda')), { code: ErrorNumber.OPERATION_INVALID, message: 'Requested operation is not valid: target vda already exists' });
      await rejectsVir(dom.attachDeviceFlags(disk('vdh'), 8), { code: ErrorNumber.INVALID_ARG, message: /unsupported flags \(0x8\) in function testDomainAttachDeviceFlags/ });
      await rejectsVir(dom.attachDeviceFlags(null as unknown as string, 0), { code: ErrorNumber.INVALID_ARG, message: 'xml in virDomainAttachDeviceFlags must not be NULL' });
      assert.deepEqual(await snapshot(dom), before);
    });

    test('LIVE on an inactive domain, CONFIG on a transient one', async () => {
      const off = await conn.defineXML(inactiveDomain('devices-off'));
      try {
        const before = await snapshot(off);
        await rejectsVir(off.attachDevice(disk('vdb')), { code: ErrorNumber.OPERATION_INVALID, message: 'Requested operation is not valid: domain is not running' });
        await rejectsVir(off.detachDeviceFlags(disk('vda'), LIVE), { code: ErrorNumber.OPERATION_INVALID, message: 'Requested operation is not valid: domain is not running' });
        assert.deepEqual(await snapshot(off), before);
        // CURRENT on an inactive domain is CONFIG.
        await off.attachDeviceFlags(disk('vdb'), 0);
        assert.match(await off.XMLDesc(INACTIVE), /vdb/);
      } finally {
        await off.undefine();
      }
      const tr = await conn.createXML(inactiveDomain('devices-tr'));
      try {
        await rejectsVir(tr.attachDeviceFlags(disk('vdb'), CONFIG), {
          code: ErrorNumber.OPERATION_INVALID,
          message: 'Requested operation is not valid: transient domains do not have any persistent config',
        });
      } finally {
        await tr.destroy();
      }
    });

    test('a read-only connection may not change devices', async () => {
      const ro = await openReadonly();
      try {
        const d = await ro.lookupByName('test');
        for (const call of [
          () => d.attachDevice(disk('vdk')),
          () => d.attachDeviceFlags(disk('vdk'), CONFIG),
          () => d.detachDevice(disk('vda')),
          () => d.detachDeviceFlags(disk('vda'), CONFIG),
          () => d.updateDeviceFlags(disk('vda'), CONFIG),
          () => d.detachDeviceAlias('ua-x', CONFIG),
        ]) {
          await rejectsVir(call(), { code: ErrorNumber.OPERATION_DENIED });
        }
      } finally {
        await ro.close();
      }
    });
  });
}

describe('device XML', () => {
  test('a disk and an interface parse into the model; other kinds stay as written', () => {
    const d = parseDeviceXML(disk('vdb', "<alias name='ua-x'/>"), { type: 'kvm', os: { type: 'hvm', boot: [] } });
    assert.equal(d.kind, 'disk');
    assert.equal(d.kind === 'disk' && d.disk.alias, 'ua-x');
    const n = parseDeviceXML("<interface type='user'/>", { type: 'kvm', os: { type: 'hvm', boot: [] } });
    assert.ok(n.kind === 'interface' && !n.macGiven && /^52:54:00:/.test(n.net.mac));
    const c = parseDeviceXML("<input type='tablet' bus='usb'/>", { type: 'kvm', os: { type: 'hvm', boot: [] } });
    assert.equal(c.kind, 'other');
  });
});

suite('test:///default (library)', () => connect('test:///default'), () => connect('test:///default', { readonly: true }));

describe('through tsvirtd', () => {
  let d: RunningDaemon;
  before(async () => {
    d = await startDaemon();
  });
  after(async () => {
    await d?.dispose();
  });
  test('attach, detach and the errors arrive code for code', async () => {
    const conn = await connect(d.uri('/default'));
    try {
      const dom = await conn.lookupByName('test');
      await dom.attachDeviceFlags(disk('vdb'), LIVE | CONFIG);
      assert.match(await dom.XMLDesc(INACTIVE), /vdb/);
      await dom.detachDeviceAlias('nothing', LIVE).then(
        () => assert.fail('no error'),
        (e: { code: number; message: string }) => assert.equal(e.message, 'internal error: no device found with alias nothing'),
      );
      await dom.detachDeviceFlags(disk('vdb'), LIVE | CONFIG);
      assert.doesNotMatch(await dom.XMLDesc(), /vdb/);
      const ro = await connect(d.uri('/default', true));
      try {
        await rejectsVir((await ro.lookupByName('test')).attachDevice(disk('vdc')), { code: ErrorNumber.OPERATION_DENIED });
      } finally {
        await ro.close();
      }
    } finally {
      await conn.close();
    }
  });
});
