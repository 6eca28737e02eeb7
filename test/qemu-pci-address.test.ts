/**
 * PCI addresses of the QEMU driver (pure: no QEMU): every PCI device gets a slot of bus 0 in
 * libvirt's order, kept in the live XML and on the command line; given addresses are kept,
 * double use and the machine's own slots refused with libvirt's words; a hot-plugged device takes
 * the first free slot or the one its XML names.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorNumber, VirError } from '../src/index.js';
import { formatDomainXML, parseDomainXML, type DomainDef } from '../src/conf/domain.js';
import { assignPciAddresses, buildQemuArgv, freePciSlot, type QemuArgvPaths } from '../src/drivers/qemu/argv.js';

const PATHS: QemuArgvPaths = {
  monitorSocket: '/run/x/monitor.sock',
  pidFile: '/run/x/qemu.pid',
  serialLog: (port) => `/log/serial${port}.log`,
  serialSocket: (port) => `/run/x/serial${port}.sock`,
};

function def(body: string, machine = 'pc'): DomainDef {
  return parseDomainXML(`<domain type='qemu'>
  <name>g</name><uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid>
  <memory unit='MiB'>128</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='${machine}'>hvm</type></os>
  <devices>${body}</devices>
</domain>`);
}

/** The JSON -device arguments, by id. */
function devices(d: DomainDef): Map<string, Record<string, unknown>> {
  const a = buildQemuArgv(d, { paths: PATHS }).argv;
  const out = new Map<string, Record<string, unknown>>();
  a.forEach((v, i) => {
    if (v !== '-device') return;
    const dev = JSON.parse(a[i + 1]) as Record<string, unknown>;
    out.set(String(dev.id), dev);
  });
  return out;
}

const disk = (target: string, extra = '') => `<disk type='file' device='disk'><source file='/img/${target}.img'/><target dev='${target}' bus='virtio'/>${extra}</disk>`;
const nic = (mac: string, extra = '') => `<interface type='user'><mac address='${mac}'/><model type='virtio'/>${extra}</interface>`;
const slotOf = (a: Record<string, string> | undefined) => a?.slot;

describe('qemu PCI addresses', () => {
  test("libvirt's order: primary video in slot 2, then interfaces, controllers, disks, balloon; on the command line as addr", () => {
    const d = def(
      disk('vda') + nic('52:54:00:00:00:01') + nic('52:54:00:00:00:02') +
        "<disk type='file' device='disk'><source file='/img/sda.img'/><target dev='sda' bus='sata'/></disk>" +
        "<video><model type='vga'/></video><memballoon model='virtio'/>",
    );
    assignPciAddresses(d);
    assert.equal(slotOf(d.devices.videos?.[0]?.address), '0x02');
    assert.deepEqual(d.devices.interfaces.map((n) => slotOf(n.address)), ['0x03', '0x04']);
    assert.equal(slotOf(d.devices.disks[0]?.address), '0x06', 'after the SATA controller in 0x05');
    assert.equal(slotOf(d.devices.memballoon?.address), '0x07');
    const xml = formatDomainXML(d);
    assert.match(xml, /<controller type='sata' index='0'>\s*<address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'\/>/);
    const devs = devices(d);
    assert.equal(devs.get('sata0')?.addr, '0x5');
    assert.equal(devs.get('net1')?.addr, '0x4');
    assert.equal(devs.get('balloon0')?.addr, '0x7');
    // The definition read back (a restore) gives the same command line.
    const again = parseDomainXML(xml);
    assignPciAddresses(again);
    assert.deepEqual([...devices(again)], [...devs]);
  });

  test('Q35: video in slot 1; a given address is kept; another bus is replaced by a free slot of bus 0', () => {
    const d = def(
      nic('52:54:00:00:00:01', "<address type='pci' domain='0x0000' bus='0x00' slot='0x09' function='0x0'/>") +
        nic('52:54:00:00:00:02', "<address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>") +
        "<video><model type='vga'/></video>",
      'q35',
    );
    assignPciAddresses(d);
    assert.equal(slotOf(d.devices.videos?.[0]?.address), '0x01');
    assert.deepEqual(d.devices.interfaces.map((n) => `${n.address?.bus}:${n.address?.slot}`), ['0x00:0x09', '0x00:0x02']);
  });

  test("double use and the machine's own slot are refused with libvirt's words", () => {
    const at = (slot: string) => `<address type='pci' domain='0x0000' bus='0x00' slot='${slot}' function='0x0'/>`;
    for (const body of [nic('52:54:00:00:00:01', at('0x03')) + disk('vda', at('0x03')), nic('52:54:00:00:00:01', at('0x01'))]) {
      assert.throws(
        () => assignPciAddresses(def(body)),
        (e: unknown) => e instanceof VirError && e.code === ErrorNumber.XML_ERROR && /Attempted double use of PCI Address 0000:00:0[13]\.0/.test(e.message),
      );
    }
  });

  test('hotplug: the first free slot, or the free one the XML names; a used one is refused', () => {
    const live = def(disk('vda') + nic('52:54:00:00:00:01'));
    assignPciAddresses(live);
    assert.deepEqual(live.devices.disks.map((x) => slotOf(x.address)), ['0x03']);
    assert.equal(slotOf(freePciSlot(live, undefined)), '0x04');
    assert.equal(slotOf(freePciSlot(live, { type: 'pci', domain: '0x0000', bus: '0x00', slot: '0x10', function: '0x0' })), '0x10');
    assert.throws(
      () => freePciSlot(live, { type: 'pci', domain: '0x0000', bus: '0x00', slot: '0x03', function: '0x0' }),
      (e: unknown) => e instanceof VirError && e.code === ErrorNumber.XML_ERROR,
    );
  });
});
