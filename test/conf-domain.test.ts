// Domain XML: parse and format against libvirt 9.0's behaviour (the expectations below were
// taken from `virsh -c test:///default` and python-libvirt on Debian's libvirt 9.0), every
// formatted document validated against libvirt's domain.rng.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirError } from '../src/core/errors.js';
import { ErrorDomain, ErrorNumber } from '../src/core/enums.generated.js';
import { formatDomainXML, parseDomainXML, type DomainDef } from '../src/conf/domain.js';
import { testDefaultDomainDef, TEST_DEFAULT_DOMAIN_XML } from '../src/drivers/test/presets.js';
import { MAX_NAME_BYTES, validateName } from '../src/conf/names.js';
import { parseMAC, parseUUID } from '../src/conf/values.js';
import { MAX_XML_BYTES, escapeXml, parseXMLDocument, DOMAIN_DOCUMENT } from '../src/conf/xml.js';
import { assertValidXML, stripTestNamespace } from './support/xmllint.js';
import { lostFrom } from './support/xml-tree.js';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, DomainXMLFlags } from '../src/index.js';

/** Parse, format, validate, re-parse: the model survives and the text is a fixed point. */
function roundTrip(xml: string): { def: DomainDef; out: string } {
  const def = parseDomainXML(xml);
  const out = formatDomainXML(def);
  assertValidXML(out, 'domain');
  const again = parseDomainXML(out);
  assert.deepEqual(again, def);
  assert.equal(formatDomainXML(again), out);
  return { def, out };
}

interface Expected {
  code: ErrorNumber;
  domain?: ErrorDomain;
  message?: string | RegExp;
}

function assertVirError(fn: () => unknown, expected: Expected): VirError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof VirError, `expected a VirError, got ${String(caught)}`);
  assert.equal(caught.code, expected.code, `code of: ${caught.message}`);
  if (expected.domain !== undefined) assert.equal(caught.domain, expected.domain, `domain of: ${caught.message}`);
  if (typeof expected.message === 'string') assert.equal(caught.message, expected.message);
  else if (expected.message !== undefined) assert.match(caught.message, expected.message);
  return caught;
}

const OS = '<os><type>hvm</type></os>';
const dom = (inner: string, name = 'g'): string =>
  `<domain type='test'><name>${name}</name><memory>1024</memory>${inner}</domain>`;

// `virsh -c test:///default dumpxml test`, libvirt 9.0.
const VIRSH_DUMPXML_TEST = `<domain type='test' id='1'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default'/>
      <target dev='testnet0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </memballoon>
  </devices>
</domain>
`;

// A QEMU guest as libvirt writes one, with elements tsvirt does not model (cpu, timers,
// controllers, inputs, video, audio, serial target model), memory in MiB.
const QEMU_GUEST = `<domain type='qemu'>
  <name>tiny-guest</name>
  <uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid>
  <title>Tiny test guest</title>
  <description>Boots a Debian kernel with a busybox initramfs &amp; powers off on ACPI.</description>
  <memory unit='MiB'>256</memory>
  <currentMemory unit='MiB'>192</currentMemory>
  <vcpu placement='static' current='1'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <kernel>/var/lib/tsvirt/guest/vmlinuz</kernel>
    <initrd>/var/lib/tsvirt/guest/initrd.img</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet</cmdline>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='forbid'>qemu64</model>
  </cpu>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/tiny.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/var/lib/libvirt/images/data.img'/>
      <target dev='vdb' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='/var/lib/libvirt/images/debian.iso'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
      <address type='drive' controller='0' bus='1' target='0' unit='0'/>
    </disk>
    <controller type='usb' index='0' model='piix3-uhci'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x2'/>
    </controller>
    <controller type='pci' index='0' model='pci-root'/>
    <interface type='user'>
      <mac address='52:54:00:6b:3c:58'/>
      <model type='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </interface>
    <interface type='network'>
      <mac address='52:54:00:0A:0B:0C'/>
      <source network='default'/>
      <model type='e1000'/>
    </interface>
    <serial type='pty'>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <input type='mouse' bus='ps2'/>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
    <audio id='1' type='none'/>
    <video>
      <model type='cirrus' vram='16384' heads='1' primary='yes'/>
    </video>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>
    </memballoon>
  </devices>
</domain>
`;

const QEMU_GUEST_FORMATTED = `<domain type='qemu'>
  <name>tiny-guest</name>
  <uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid>
  <title>Tiny test guest</title>
  <description>Boots a Debian kernel with a busybox initramfs &amp; powers off on ACPI.</description>
  <memory unit='KiB'>262144</memory>
  <currentMemory unit='KiB'>196608</currentMemory>
  <vcpu placement='static' current='1'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <kernel>/var/lib/tsvirt/guest/vmlinuz</kernel>
    <initrd>/var/lib/tsvirt/guest/initrd.img</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet</cmdline>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='forbid'>qemu64</model>
  </cpu>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/libvirt/images/tiny.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/var/lib/libvirt/images/data.img'/>
      <target dev='vdb' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='/var/lib/libvirt/images/debian.iso'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
      <address type='drive' controller='0' bus='1' target='0' unit='0'/>
    </disk>
    <controller type='usb' index='0' model='piix3-uhci'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x2'/>
    </controller>
    <controller type='pci' index='0' model='pci-root'/>
    <interface type='user'>
      <mac address='52:54:00:6b:3c:58'/>
      <model type='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </interface>
    <interface type='network'>
      <mac address='52:54:00:0a:0b:0c'/>
      <source network='default'/>
      <model type='e1000'/>
    </interface>
    <serial type='pty'>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <input type='mouse' bus='ps2'/>
    <graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
    <audio id='1' type='none'/>
    <video>
      <model type='cirrus' vram='16384' heads='1' primary='yes'/>
    </video>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>
    </memballoon>
  </devices>
</domain>
`;

// ---------------------------------------------------------------------------------------------
// Presets and layout

test('testDefaultDomainDef formats exactly as virsh dumpxml on test:///default', () => {
  const def = testDefaultDomainDef();
  assert.equal(formatDomainXML(def, { id: 1 }), VIRSH_DUMPXML_TEST);
  assertValidXML(formatDomainXML(def, { id: 1 }), 'domain');
  // The preset is what libvirt's own XML parses to.
  assert.deepEqual(parseDomainXML(VIRSH_DUMPXML_TEST), def);
  // A fresh object each time: callers may mutate theirs.
  assert.notEqual(testDefaultDomainDef(), def);
  // The test driver stores this text rather than formatting the preset at each start.
  assert.equal(formatDomainXML(def, { inactive: true }), TEST_DEFAULT_DOMAIN_XML);
});

test('id is written only for a live id > 0 and never for the inactive config', () => {
  const def = testDefaultDomainDef();
  assert.match(formatDomainXML(def, { id: 3 }), /^<domain type='test' id='3'>\n/);
  assert.match(formatDomainXML(def, { id: -1 }), /^<domain type='test'>\n/);
  assert.match(formatDomainXML(def, { id: 3, inactive: true }), /^<domain type='test'>\n/);
  assert.match(formatDomainXML(def), /^<domain type='test'>\n/);
});

test('a QEMU guest with kernel, disks, cdrom, interfaces, serial console and VNC', () => {
  const { def, out } = roundTrip(QEMU_GUEST);
  assert.equal(out, QEMU_GUEST_FORMATTED);
  assert.equal(def.type, 'qemu');
  assert.equal(def.memory, 256 * 1024);
  assert.equal(def.currentMemory, 192 * 1024);
  assert.deepEqual(def.vcpu, { count: 2, current: 1, placement: 'static' });
  assert.deepEqual(def.os, {
    type: 'hvm',
    arch: 'x86_64',
    machine: 'pc-i440fx-7.2',
    kernel: '/var/lib/tsvirt/guest/vmlinuz',
    initrd: '/var/lib/tsvirt/guest/initrd.img',
    cmdline: 'console=ttyS0 panic=-1 quiet',
    boot: ['hd'],
  });
  assert.deepEqual(def.features, { acpi: true, apic: true });
  const [qcow2, raw, cdrom] = def.devices.disks;
  assert.equal(qcow2?.driverType, 'qcow2');
  assert.equal(raw?.driverType, 'raw');
  assert.equal(cdrom?.device, 'cdrom');
  assert.equal(cdrom?.readonly, true);
  assert.equal(qcow2?.readonly, false);
  assert.deepEqual(
    def.devices.interfaces.map((n) => [n.type, n.mac, n.sourceNetwork, n.model]),
    [
      ['user', '52:54:00:6b:3c:58', undefined, 'virtio'],
      ['network', '52:54:00:0a:0b:0c', 'default', 'e1000'],
    ],
  );
  // The target's <model> is not modelled: kept, and written back in place.
  assert.deepEqual(def.devices.serials.map((s) => ({ type: s.type, targetType: s.targetType, targetPort: s.targetPort })), [{ type: 'pty', targetType: 'isa-serial', targetPort: 0 }]);
  assert.deepEqual(def.devices.consoles, [{ type: 'pty', targetType: 'serial', targetPort: 0 }]);
  assert.deepEqual(def.devices.graphics, [{ type: 'vnc', autoport: true, listen: '127.0.0.1' }]);
});

test('a minimal domain gets libvirt defaults and a generated UUID', () => {
  const { def, out } = roundTrip(dom(OS, 'minimal'));
  assert.match(def.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.notEqual(parseDomainXML(dom(OS, 'minimal')).uuid, def.uuid);
  assert.deepEqual(def, {
    type: 'test',
    name: 'minimal',
    uuid: def.uuid,
    memory: 1024,
    currentMemory: 1024,
    vcpu: { count: 1, placement: 'static' },
    os: { type: 'hvm', boot: ['hd'] },
    clock: { offset: 'utc' },
    onPoweroff: 'destroy',
    onReboot: 'restart',
    onCrash: 'destroy',
    devices: { disks: [], interfaces: [], serials: [], consoles: [], graphics: [] },
  });
  assert.equal(
    out,
    `<domain type='test'>
  <name>minimal</name>
  <uuid>${def.uuid}</uuid>
  <memory unit='KiB'>1024</memory>
  <currentMemory unit='KiB'>1024</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
  </devices>
</domain>
`,
  );
});

test('UUIDs: canonical lowercase; 32 hex digits without dashes accepted as libvirt does', () => {
  for (const text of [
    '6695EB01-F6A4-8304-79AA-97F2502E193F',
    '6695eb01f6a4830479aa97f2502e193f',
    ' 6695eb01-f6a4-8304-79aa-97f2502e193f ',
    '6695-eb01-f6a4-8304-79aa-97f2-502e-193f',
  ]) {
    const { def } = roundTrip(dom(`<uuid>${text}</uuid>${OS}`));
    assert.equal(def.uuid, '6695eb01-f6a4-8304-79aa-97f2502e193f', text);
  }
  assert.equal(parseUUID('6695eb01-f6a4-8304-79aa-97f2502e193'), undefined);
  assert.equal(parseUUID('6695eb01-f6a4-8304-79aa-97f2502e193fa'), undefined);
  assert.equal(parseUUID('g695eb01-f6a4-8304-79aa-97f2502e193f'), undefined);
});

test('memory units: b/bytes, KB, k/KiB, MB, M/MiB, GB, G/GiB, TB, T/TiB; bytes round up', () => {
  const kib = (mem: string): number => parseDomainXML(dom(OS).replace('<memory>1024</memory>', mem)).memory;
  assert.equal(kib("<memory unit='b'>1025</memory>"), 2);
  assert.equal(kib("<memory unit='bytes'>1048576</memory>"), 1024);
  assert.equal(kib("<memory unit='KB'>262144</memory>"), 256000);
  assert.equal(kib("<memory unit='k'>4096</memory>"), 4096);
  assert.equal(kib("<memory unit='KiB'>4096</memory>"), 4096);
  assert.equal(kib("<memory unit='kib'>4096</memory>"), 4096);
  assert.equal(kib("<memory unit='MB'>1</memory>"), 977);
  assert.equal(kib("<memory unit='M'>512</memory>"), 524288);
  assert.equal(kib("<memory unit='MiB'>512</memory>"), 524288);
  assert.equal(kib("<memory unit='GB'>1</memory>"), 976563);
  assert.equal(kib("<memory unit='G'>2</memory>"), 2097152);
  assert.equal(kib("<memory unit='GiB'>2</memory>"), 2097152);
  assert.equal(kib("<memory unit='TB'>1</memory>"), 976562500);
  assert.equal(kib("<memory unit='T'>1</memory>"), 1073741824);
  assert.equal(kib("<memory unit='TiB'>1</memory>"), 1073741824);
  assert.equal(kib("<memory unit='EiB'>1</memory>"), 2 ** 50);
  assert.equal(kib('<memory>2048</memory>'), 2048);
  assert.equal(kib("<memory unit=''>2048</memory>"), 2048);

  const { def, out } = roundTrip(
    dom(`<memory unit='GiB'>2</memory><currentMemory unit='MiB'>1536</currentMemory>${OS}`).replace(
      '<memory>1024</memory>',
      '',
    ),
  );
  assert.equal(def.memory, 2097152);
  assert.equal(def.currentMemory, 1572864);
  assert.match(out, /<memory unit='KiB'>2097152<\/memory>\n {2}<currentMemory unit='KiB'>1572864<\/currentMemory>/);
});

test('currentMemory defaults to memory and is capped by it', () => {
  assert.equal(parseDomainXML(dom(OS)).currentMemory, 1024);
  assert.equal(parseDomainXML(dom(`<currentMemory>4096</currentMemory>${OS}`)).currentMemory, 1024);
  assert.equal(parseDomainXML(dom(`<currentMemory>0</currentMemory>${OS}`)).currentMemory, 1024);
  assert.equal(parseDomainXML(dom(`<currentMemory>512</currentMemory>${OS}`)).currentMemory, 512);
});

test('vcpu: placement, current only when below the maximum', () => {
  assert.deepEqual(parseDomainXML(dom(`<vcpu current='2'>2</vcpu>${OS}`)).vcpu, { count: 2, placement: 'static' });
  const { def, out } = roundTrip(dom(`<vcpu placement='auto' current='2'>4</vcpu>${OS}`));
  assert.deepEqual(def.vcpu, { count: 4, current: 2, placement: 'auto' });
  assert.match(out, /<vcpu placement='auto' current='2'>4<\/vcpu>/);
});

test('disks: type block, lun, floppy; bus from the target name; boot order; cdrom read-only', () => {
  const { def } = roundTrip(
    dom(
      `${OS}<devices>` +
        "<disk type='block' device='lun'><source dev='/dev/sdz'/><target dev='sda'/><boot order='2'/></disk>" +
        "<disk type='file' device='floppy'><source file='/f.img'/><target dev='fda'/></disk>" +
        "<disk device='cdrom'><target dev='hdd'/></disk>" +
        "<disk><source file='/x.img'/><target dev='xvda'/><boot order='1'/></disk>" +
        '</devices>',
    ),
  );
  assert.deepEqual(
    def.devices.disks.map((d) => [d.type, d.device, d.sourceFile ?? d.sourceDev, d.targetBus, d.readonly, d.bootOrder]),
    [
      ['block', 'lun', '/dev/sdz', 'scsi', false, 2],
      ['file', 'floppy', '/f.img', 'fdc', false, undefined],
      ['file', 'cdrom', undefined, 'ide', true, undefined],
      ['file', 'disk', '/x.img', 'xen', false, 1],
    ],
  );
  // Per-device boot order replaces the <os><boot> default.
  assert.deepEqual(def.os.boot, []);
});

test('interfaces: user, network, bridge; MAC generated with the 52:54:00 prefix', () => {
  const { def, out } = roundTrip(
    dom(
      `${OS}<devices><interface type='user'/>` +
        "<interface type='network'><source network='default'/><target dev='tap3'/></interface>" +
        "<interface type='bridge'><mac address='52:54:00:A:b:0C'/><source bridge='br0'/><model type='virtio'/></interface>" +
        '</devices>',
    ),
  );
  const [user, net, br] = def.devices.interfaces;
  assert.match(user?.mac ?? '', /^52:54:00(:[0-9a-f]{2}){3}$/);
  assert.deepEqual(net && { ...net, mac: 'x' }, { type: 'network', mac: 'x', sourceNetwork: 'default', targetDev: 'tap3' });
  assert.deepEqual(br, { type: 'bridge', mac: '52:54:00:0a:0b:0c', sourceBridge: 'br0', model: 'virtio' });
  assert.match(out, /<interface type='bridge'>\n {6}<mac address='52:54:00:0a:0b:0c'\/>\n {6}<source bridge='br0'\/>/);
  assert.equal(parseMAC('a:b:c:d:e:f'), '0a:0b:0c:0d:0e:0f');
  assert.equal(parseMAC('aa:bb:cc:dd:ee'), undefined);
});

test('serial and console: ports assigned, the serial console mirrored as libvirt does', () => {
  // A lone <serial> gets its console; ports continue from the highest.
  let { def } = roundTrip(dom(`${OS}<devices><serial><target port='2'/></serial><serial type='pty'/></devices>`));
  assert.deepEqual(def.devices.serials.map((s) => s.targetPort), [2, 3]);
  assert.deepEqual(def.devices.consoles, [{ type: 'pty', targetType: 'serial', targetPort: 2 }]);

  // A lone serial <console> creates the serial port it shows.
  ({ def } = roundTrip(dom(`${OS}<devices><console type='file'><source path='/tmp/c.log'/></console></devices>`)));
  assert.deepEqual(def.devices.serials, [{ type: 'file', sourcePath: '/tmp/c.log', targetPort: 0 }]);
  assert.deepEqual(def.devices.consoles, [{ type: 'file', sourcePath: '/tmp/c.log', targetType: 'serial', targetPort: 0 }]);

  // A virtio console does not replace the serial console: one is put first.
  ({ def } = roundTrip(
    dom(`${OS}<devices><serial type='pty'/><console type='pty'><target type='virtio'/></console></devices>`),
  ));
  assert.deepEqual(
    def.devices.consoles.map((c) => c.targetType),
    ['serial', 'virtio'],
  );

  // The serial console takes its host side from the serial port.
  ({ def } = roundTrip(
    dom(
      `${OS}<devices><serial type='unix'><source mode='bind' path='/run/s.sock'/><target port='0'/></serial>` +
        "<console type='pty'><target type='serial' port='0'/></console></devices>",
    ),
  ));
  assert.deepEqual(def.devices.consoles[0], {
    type: 'unix',
    sourcePath: '/run/s.sock',
    sourceMode: 'bind',
    targetType: 'serial',
    targetPort: 0,
  });
});

test('a pty path is live state: formatted live, dropped from the inactive config', () => {
  const def = parseDomainXML(
    dom(`${OS}<devices><serial type='pty'><source path='/dev/pts/7'/><target port='0'/></serial></devices>`),
  );
  assert.match(formatDomainXML(def, { id: 2 }), /<source path='\/dev\/pts\/7'\/>/);
  assert.doesNotMatch(formatDomainXML(def, { inactive: true }), /pts/);
});

test('graphics: VNC and SPICE ports, autoport, listen address; no "none" type', () => {
  const { out } = roundTrip(
    dom(
      `${OS}<devices><graphics type='vnc' port='5901' autoport='no' listen='127.0.0.1'/>` +
        "<graphics type='spice' autoport='yes'/><graphics type='spice'/><graphics type='vnc' autoport='no'/>" +
        "<graphics type='sdl'/><graphics type='vnc'><listen type='address' address='0.0.0.0'/></graphics></devices>",
    ),
  );
  // As libvirt 9.0 writes them.
  assert.ok(
    out.includes(`    <graphics type='vnc' port='5901' autoport='no' listen='127.0.0.1'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
    <graphics type='spice' autoport='yes'>
      <listen type='address'/>
    </graphics>
    <graphics type='spice'>
      <listen type='none'/>
    </graphics>
    <graphics type='vnc' autoport='no'>
      <listen type='address'/>
    </graphics>
    <graphics type='sdl'/>
    <graphics type='vnc' port='-1' autoport='yes' listen='0.0.0.0'>
      <listen type='address' address='0.0.0.0'/>
    </graphics>
`),
    out,
  );
  assertVirError(() => parseDomainXML(dom(`${OS}<devices><graphics type='none'/></devices>`)), {
    code: ErrorNumber.XML_ERROR,
    domain: ErrorDomain.XML,
    message: "XML error: Invalid value for attribute 'type' in element 'graphics': 'none'.",
  });
});

/** The `<video>` elements of formatted XML, whitespace squeezed. */
function videosOf(out: string): string {
  return (out.match(/<video>[\s\S]*?<\/video>/g) ?? []).map((v) => v.replace(/\s+/g, ' ')).join(' ');
}

test('video: a display without a card gets the one libvirt 9.0 adds (cirrus, 16 MiB, one head, primary)', () => {
  // `virsh dumpxml` on qemu:///session and test:///default (libvirt 9.0) for a lone <graphics type='vnc'/>.
  const { def, out } = roundTrip(dom(`${OS}<devices><graphics type='vnc'/></devices>`));
  assert.deepEqual(def.devices.videos, [{ model: 'cirrus', vram: 16384, heads: 1, primary: true }]);
  assert.equal(videosOf(out), "<video> <model type='cirrus' vram='16384' heads='1' primary='yes'/> </video>");
  // Between <graphics> and <memballoon>, as virDomainDefFormat orders devices.
  const q = formatDomainXML(parseDomainXML(dom(`${OS}<devices><graphics type='vnc'/><memballoon model='virtio'/></devices>`)));
  assert.match(q, /<\/graphics>\n {4}<video>\n {6}<model [^\n]*\/>\n {4}<\/video>\n {4}<memballoon/);
  // No display, no card.
  assert.equal(parseDomainXML(dom(`${OS}<devices/>`)).devices.videos, undefined);
  // A 'none' card stays the only one; nothing is added beside it.
  assert.equal(videosOf(roundTrip(dom(`${OS}<devices><graphics type='vnc'/><video><model type='none'/></video></devices>`)).out), "<video> <model type='none'/> </video>");
});

test('video: per-model defaults, power-of-two sizes, the primary card first (as libvirt 9.0)', () => {
  const cases: [string, string][] = [
    ['<video/>', "<video> <model type='cirrus' vram='16384' heads='1' primary='yes'/> </video>"],
    ["<video><model type='vga'/></video>", "<video> <model type='vga' vram='16384' heads='1' primary='yes'/> </video>"],
    ["<video><model type='virtio'/></video>", "<video> <model type='virtio' heads='1' primary='yes'/> </video>"],
    ["<video><model type='bochs'/></video>", "<video> <model type='bochs' vram='16384' heads='1' primary='yes'/> </video>"],
    // The test driver has no QXL VGA memory default; qemu/kvm domains get the qemu driver's (below).
    ["<video><model type='qxl'/></video>", "<video> <model type='qxl' ram='65536' vram='65536' heads='1' primary='yes'/> </video>"],
    ["<video><model type='none' heads='2' vram='8192' primary='yes'/></video>", "<video> <model type='none'/> </video>"],
    ["<video><model type='vga' vram='1000'/></video>", "<video> <model type='vga' vram='1024' heads='1' primary='yes'/> </video>"],
    ["<video><model type='vga' vram='3000'/></video>", "<video> <model type='vga' vram='4096' heads='1' primary='yes'/> </video>"],
    ["<video><model type='vga' primary='maybe'/></video>", "<video> <model type='vga' vram='16384' heads='1' primary='yes'/> </video>"],
    [
      "<video><model type='vga'/></video><video><model type='virtio' primary='yes'/></video>",
      "<video> <model type='virtio' heads='1' primary='yes'/> </video> <video> <model type='vga' vram='16384' heads='1'/> </video>",
    ],
    [
      "<video><model type='vga'><acceleration accel3d='yes'/></model><address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></video>",
      "<video> <model type='vga' vram='16384' heads='1' primary='yes'> <acceleration accel3d='yes'/> </model> " +
        "<address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/> </video>",
    ],
    ["<video><model type='qxl' vgamem='8192' ram='1000'/></video>", "<video> <model type='qxl' ram='1024' vram='65536' vgamem='8192' heads='1' primary='yes'/> </video>"],
  ];
  for (const [input, expected] of cases) {
    assert.equal(videosOf(roundTrip(dom(`${OS}<devices>${input}</devices>`)).out), expected, input);
  }
  // heads='0' is not written (libvirt's output then reads back as one head, as libvirt's does).
  const headless = formatDomainXML(parseDomainXML(dom(`${OS}<devices><video><model type='vga' heads='0'/></video></devices>`)));
  assert.equal(videosOf(headless), "<video> <model type='vga' vram='16384' primary='yes'/> </video>");
  const qxl = parseDomainXML(`<domain type='qemu'><name>q</name><memory>131072</memory>${OS}<devices><video><model type='qxl'/></video></devices></domain>`);
  assert.deepEqual(qxl.devices.videos, [{ model: 'qxl', ram: 65536, vram: 65536, vgamem: 16384, heads: 1, primary: true }]);
});

test('video: what libvirt 9.0 refuses, in its words', () => {
  const refused: [string, ErrorNumber, string][] = [
    ["<video><model type='foo'/></video>", ErrorNumber.CONFIG_UNSUPPORTED, "unsupported configuration: unknown video model 'foo'"],
    ["<video><model type='vga' vram='abc'/></video>", ErrorNumber.XML_ERROR, "XML error: cannot parse video vram 'abc'"],
    ["<video><model type='vga' vram='-5'/></video>", ErrorNumber.XML_ERROR, "XML error: cannot parse video vram '-5'"],
    ["<video><model type='vga' heads='x'/></video>", ErrorNumber.INTERNAL_ERROR, "internal error: cannot parse video heads 'x'"],
    ["<video><model type='bochs' vram64='1000'/></video>", ErrorNumber.CONFIG_UNSUPPORTED, 'unsupported configuration: vram64 attribute only supported for video type qxl'],
    [
      "<video><model type='none'/></video><video><model type='vga'/></video>",
      ErrorNumber.CONFIG_UNSUPPORTED,
      "unsupported configuration: a 'none' video type must be the only video device defined for the domain",
    ],
    [
      "<video><model type='vga' primary='yes'/></video><video><model type='virtio' primary='yes'/></video>",
      ErrorNumber.CONFIG_UNSUPPORTED,
      'unsupported configuration: Only one primary video device is supported',
    ],
  ];
  for (const [input, code, message] of refused) {
    assertVirError(() => parseDomainXML(dom(`${OS}<devices>${input}</devices>`)), { code, message });
  }
});

test('clock offsets, lifecycle actions and features', () => {
  let { def, out } = roundTrip(
    dom(
      `${OS}<features><pae/><acpi/><hap/></features><clock offset='variable' adjustment='-10' basis='localtime'/>` +
        '<on_poweroff>preserve</on_poweroff><on_reboot>destroy</on_reboot><on_crash>coredump-restart</on_crash>',
    ),
  );
  assert.deepEqual(def.features, { acpi: true, pae: true });
  assert.deepEqual(def.clock, { offset: 'variable', adjustment: -10, basis: 'localtime' });
  assert.deepEqual([def.onPoweroff, def.onReboot, def.onCrash], ['preserve', 'destroy', 'coredump-restart']);
  // <hap/> is not modelled: kept where it stood, after the <acpi/> it followed.
  assert.match(out, / {2}<features>\n {4}<acpi\/>\n {4}<hap\/>\n {4}<pae\/>\n {2}<\/features>\n {2}<clock offset='variable' adjustment='-10' basis='localtime'\/>/);
  ({ def, out } = roundTrip(dom(`${OS}<clock offset='timezone' timezone='Europe/Paris'/>`)));
  assert.deepEqual(def.clock, { offset: 'timezone', timezone: 'Europe/Paris' });
  assert.match(out, /<clock offset='timezone' timezone='Europe\/Paris'\/>/);
  ({ def } = roundTrip(dom(`${OS}<features/>`)));
  assert.equal(def.features, undefined);
});

test('special characters are escaped as libvirt escapes them and round-trip', () => {
  const { def, out } = roundTrip(
    dom(
      `<title>t &lt;&amp;&gt; &apos;&quot;</title><description>multi\nline\ttab &#x1F600; &#13;</description>${OS}` +
        "<devices><disk><source file='/a b/&apos;q&apos;&amp;&lt;.img'/><target dev='vda'/></disk></devices>",
    ),
  );
  assert.equal(def.title, `t <&> '"`);
  assert.equal(def.description, 'multi\nline\ttab \u{1F600} \r');
  assert.equal(def.devices.disks[0]?.sourceFile, "/a b/'q'&<.img");
  assert.match(out, /<title>t &lt;&amp;&gt; &apos;&quot;<\/title>/);
  assert.match(out, /<source file='\/a b\/&apos;q&apos;&amp;&lt;.img'\/>/);
  assert.equal(escapeXml('a\nb\tc', true), 'a&#10;b&#9;c');
  assert.equal(escapeXml('a\u0001b'), 'ab');
});

test('unknown elements and attributes change nothing of the model and are kept', () => {
  const plain = parseDomainXML(dom(OS));
  const noisy = parseDomainXML(
    dom(
      `<genid/><metadata><app:x xmlns:app='urn:x'>1</app:x></metadata>${OS}<pm><suspend-to-disk enabled='no'/></pm>` +
        "<devices><rng model='virtio'><backend model='random'>/dev/urandom</backend></rng></devices><seclabel type='none'/>",
    ),
  );
  assert.ok(noisy.kept !== undefined);
  const model: Partial<DomainDef> = { ...noisy, uuid: '' };
  delete model.kept;
  // <metadata> is modelled (one element per namespace, src/conf/metadata.ts), beside the rest.
  assert.equal(model.metadata?.[0]?.namespaceURI, 'urn:x');
  delete model.metadata;
  assert.deepEqual(model, { ...plain, uuid: '' });
  const out = formatDomainXML(noisy);
  // libvirt writes metadata elements with libxml2's serializer: double quotes.
  for (const part of ['<genid/>', '<app:x xmlns:app="urn:x">1</app:x>', "<suspend-to-disk enabled='no'/>", "<backend model='random'>/dev/urandom</backend>", "<seclabel type='none'/>"]) {
    assert.ok(out.includes(part), `${part} kept:\n${out}`);
  }
});

// ---------------------------------------------------------------------------------------------
// The test driver's namespace

const TEST_NS = "xmlns:test='http://libvirt.org/schemas/domain/test/1.0'";

test('test namespace: runstate, hasmanagedsave, transient, ignorepowerbutton round-trip', () => {
  const xml = `<domain type='test' ${TEST_NS}><name>ns</name><memory>1024</memory>${OS}
    <test:runstate>5</test:runstate><test:hasmanagedsave/><test:ignorepowerbutton>yes</test:ignorepowerbutton></domain>`;
  const { def, out } = roundTrip(xml);
  assert.deepEqual(def.testNamespace, { runstate: 5, hasManagedSave: true, ignorePowerButton: true });
  assert.match(out, /^<domain type='test' xmlns:test='http:\/\/libvirt.org\/schemas\/domain\/test\/1.0'>\n/);
  assert.ok(
    out.endsWith(`  </devices>
  <test:runstate>5</test:runstate>
  <test:hasmanagedsave>yes</test:hasmanagedsave>
  <test:ignorepowerbutton>yes</test:ignorepowerbutton>
</domain>
`),
    out,
  );
  // With a live id the namespace declaration follows the id, as libvirt orders them.
  assert.match(formatDomainXML(def, { id: 4 }), /^<domain type='test' id='4' xmlns:test=/);
  const stripped = stripTestNamespace(out);
  assert.doesNotMatch(stripped, /test:/);

  const t = roundTrip(`<domain type='test' ${TEST_NS}><name>tr</name><memory>1</memory>${OS}<test:transient/></domain>`);
  assert.deepEqual(t.def.testNamespace, { transient: true });
  assert.match(t.out, /<test:transient\/>/);
});

test('test namespace: matched by URI whatever the prefix; absent or all-false means no declaration', () => {
  const def = parseDomainXML(
    `<domain type='test' xmlns:t='http://libvirt.org/schemas/domain/test/1.0'><name>p</name><memory>1</memory>${OS}` +
      '<t:ignorepowerbutton/><test:runstate>3</test:runstate></domain>',
  );
  // test:runstate has an undeclared prefix here: not the test namespace.
  assert.deepEqual(def.testNamespace, { ignorePowerButton: true });
  assert.equal(parseDomainXML(dom(OS)).testNamespace, undefined);
  const no = parseDomainXML(
    `<domain type='test' ${TEST_NS}><name>n</name><memory>1</memory>${OS}<test:ignorepowerbutton>no</test:ignorepowerbutton></domain>`,
  );
  assert.equal(no.testNamespace, undefined);
  assert.doesNotMatch(formatDomainXML({ ...no, testNamespace: { ignorePowerButton: false } }), /xmlns:test/);
});

test("test namespace: the test driver's consistency rules and errors", () => {
  const ns = (inner: string): string =>
    `<domain type='test' ${TEST_NS}><name>n</name><memory>1</memory>${OS}${inner}</domain>`;
  assertVirError(() => parseDomainXML(ns('<test:hasmanagedsave/>')), {
    code: ErrorNumber.XML_ERROR,
    domain: ErrorDomain.TEST,
    message: "XML error: domain with managedsave data can only have runstate 'shutoff'",
  });
  assertVirError(() => parseDomainXML(ns('<test:transient/><test:runstate>5</test:runstate>')), {
    code: ErrorNumber.XML_ERROR,
    message: "XML error: transient domain cannot have runstate 'shutoff'",
  });
  assertVirError(() => parseDomainXML(ns('<test:runstate>x</test:runstate>')), {
    code: ErrorNumber.XML_ERROR,
    message: 'XML error: invalid runstate',
  });
  assertVirError(() => parseDomainXML(ns('<test:runstate>9</test:runstate>')), {
    code: ErrorNumber.XML_ERROR,
    message: "XML error: runstate '9' out of range'",
  });
});

// ---------------------------------------------------------------------------------------------
// Bad input

test('not well-formed XML: VIR_ERR_XML_DETAIL with line, context and caret as libvirt', () => {
  const e = assertVirError(() => parseDomainXML("<domain type='test'>\n<name>ab</oops>\n</domain>"), {
    code: ErrorNumber.XML_DETAIL,
    domain: ErrorDomain.DOMAIN,
    message: '(domain_definition):2: Opening and ending tag mismatch: name line 2 and oops\n<name>ab</oops>\n---------------^',
  });
  assert.equal(e.codeName, 'VIR_ERR_XML_DETAIL');
  assert.equal(e.int1, 2);

  const cases: Array<[string, string]> = [
    ['', '(domain_definition):1: Document is empty\n(null)\n^'],
    ['   ', "(domain_definition):1: Start tag expected, '<' not found\n   \n---^"],
    ['junk', "(domain_definition):1: Start tag expected, '<' not found\njunk\n^"],
    ["<domain type='test'>\n  <name>ab</name>", '(domain_definition):2: Premature end of data in tag domain line 1\n  <name>ab</name>\n-----------------^'],
    ["<domain><a x='1' x='2'/></domain>", "(domain_definition):1: Attribute x redefined\n<domain><a x='1' x='2'/></domain>\n----------------------^"],
    ['<domain>&bogus;</domain>', "(domain_definition):1: Entity 'bogus' not defined\n<domain>&bogus;</domain>\n---------------^"],
    ['<domain></domain><x/>', '(domain_definition):1: Extra content at the end of the document\n<domain></domain><x/>\n-----------------^'],
    ['<domain></domain>junk', '(domain_definition):1: Extra content at the end of the document\n<domain></domain>junk\n-----------------^'],
    ["<domain a='<'/>", "(domain_definition):1: Unescaped '<' not allowed in attributes values\n<domain a='<'/>\n-----------^"],
    ['<domain><name>&#0;</name></domain>', '(domain_definition):1: xmlParseCharRef: invalid xmlChar value 0\n<domain><name>&#0;</name></domain>\n------------------^'],
    ['<domain>\n\t<a>\t</b></domain>', '(domain_definition):2: Opening and ending tag mismatch: a line 2 and b\n\t<a>\t</b></domain>\n\t---\t----^'],
    ['<domain><!-- x</domain>', '(domain_definition):1: Comment not terminated\n<domain><!-- x</domain>\n-----------------------^'],
  ];
  for (const [xml, message] of cases) {
    assertVirError(() => parseDomainXML(xml), { code: ErrorNumber.XML_DETAIL, domain: ErrorDomain.DOMAIN, message });
  }
  // CRLF input reports the same lines.
  assertVirError(() => parseDomainXML("<domain type='test'>\r\n<name>ab</oops>\r\n</domain>"), {
    code: ErrorNumber.XML_DETAIL,
    message: /^\(domain_definition\):2: Opening and ending tag mismatch/,
  });
  // A character XML cannot carry, even where the validator would not look.
  assertVirError(() => parseDomainXML('<domain>\u0001</domain>'), {
    code: ErrorNumber.XML_DETAIL,
    message: /^\(domain_definition\):1: PCDATA invalid Char value 1\n/,
  });
});

test('wrong root element', () => {
  assertVirError(() => parseDomainXML('<foo/>'), {
    code: ErrorNumber.XML_ERROR,
    domain: ErrorDomain.XML,
    message: "XML error: expecting root element of 'domain', not 'foo'",
  });
  assertVirError(() => parseDomainXML('<domainsnapshot/>'), {
    code: ErrorNumber.XML_ERROR,
    message: "XML error: expecting root element of 'domain', not 'domainsnapshot'",
  });
});

test('oversized XML is refused before parsing', () => {
  const filler = `<description>${'x'.repeat(MAX_XML_BYTES)}</description>`;
  assertVirError(() => parseDomainXML(dom(filler + OS)), {
    code: ErrorNumber.XML_ERROR,
    domain: ErrorDomain.DOMAIN,
    message: /^XML error: document is too large \(\d+ bytes, the limit is 4194304\)$/,
  });
  // At the limit the document is parsed (and here found not well formed): the size check
  // passed. A syntax error keeps the test fast; parsing 10 MiB of text takes seconds.
  const atLimit = `<domain>&bogus;${'x'.repeat(MAX_XML_BYTES - 15)}`;
  assert.equal(Buffer.byteLength(atLimit), MAX_XML_BYTES);
  assertVirError(() => parseDomainXML(atLimit), { code: ErrorNumber.XML_DETAIL, message: /Entity 'bogus' not defined/ });
  assertVirError(() => parseDomainXML(`${atLimit}x`), { code: ErrorNumber.XML_ERROR });
  // Bytes, not characters, are counted.
  assertVirError(() => parseXMLDocument(`<domain>${'é'.repeat(MAX_XML_BYTES / 2)}</domain>`, DOMAIN_DOCUMENT), {
    code: ErrorNumber.XML_ERROR,
  });
});

test('bad UUID: libvirt 9.0 reports an internal error', () => {
  assertVirError(() => parseDomainXML(dom(`<uuid>zzz</uuid>${OS}`)), {
    code: ErrorNumber.INTERNAL_ERROR,
    domain: ErrorDomain.DOMAIN,
    message: 'internal error: malformed uuid element',
  });
  assertVirError(() => parseDomainXML(dom(`<uuid>6695eb01-f6a4-8304-79aa-97f2502e193</uuid>${OS}`)), {
    code: ErrorNumber.INTERNAL_ERROR,
    message: 'internal error: malformed uuid element',
  });
});

test('bad memory: unit, value, overflow, missing', () => {
  assertVirError(() => parseDomainXML(dom(OS).replace('<memory>', "<memory unit='foo'>")), {
    code: ErrorNumber.INVALID_ARG,
    domain: ErrorDomain.NONE,
    message: "invalid argument: unknown suffix 'foo'",
  });
  assertVirError(() => parseDomainXML(dom(OS).replace('<memory>1024', '<memory>-5')), {
    code: ErrorNumber.XML_ERROR,
    domain: ErrorDomain.XML,
    message: "XML error: Invalid value '-5' for element or attribute './memory[1]'",
  });
  assertVirError(() => parseDomainXML(dom(OS).replace('<memory>1024', '<memory>0.25')), {
    code: ErrorNumber.XML_ERROR,
    message: "XML error: Invalid value '0.25' for element or attribute './memory[1]'",
  });
  assertVirError(() => parseDomainXML(dom(OS).replace('<memory>1024', "<memory unit='EiB'>16")), {
    code: ErrorNumber.OVERFLOW,
    message: 'numerical overflow: value too large: 16EiB',
  });
  assertVirError(() => parseDomainXML(dom(OS).replace('<memory>1024', "<memory unit='e'>8")), {
    code: ErrorNumber.OVERFLOW,
    message: 'numerical overflow: value too large: 8e',
  });
  assertVirError(() => parseDomainXML(`<domain type='test'><name>m</name>${OS}</domain>`), {
    code: ErrorNumber.XML_ERROR,
    domain: ErrorDomain.DOMAIN,
    message: 'XML error: Memory size must be specified via <memory> or in the <numa> configuration',
  });
});

test('names: missing, empty, with "/", with newline or NUL, too long', () => {
  assertVirError(() => parseDomainXML(`<domain type='test'><memory>1</memory>${OS}</domain>`), {
    code: ErrorNumber.NO_NAME,
    domain: ErrorDomain.DOMAIN,
    message: 'missing name information',
  });
  assertVirError(() => parseDomainXML(dom(OS, '')), { code: ErrorNumber.NO_NAME, message: 'missing name information' });
  assertVirError(() => parseDomainXML(dom(OS, 'a/b')), {
    code: ErrorNumber.XML_ERROR,
    domain: ErrorDomain.DOMAIN,
    message: "XML error: name a/b cannot contain '/'",
  });
  assertVirError(() => parseDomainXML(dom(OS, 'a\nb')), {
    code: ErrorNumber.XML_DETAIL,
    domain: ErrorDomain.XML,
    message: 'invalid char in name: \n',
  });
  // NUL cannot be written in XML at all...
  assertVirError(() => parseDomainXML(dom(OS, 'a&#0;b')), { code: ErrorNumber.XML_DETAIL });
  // ...but can reach the name check from an API argument.
  assertVirError(() => validateName('domain', 'a\u0000b'), {
    code: ErrorNumber.XML_DETAIL,
    message: 'invalid char in name: 0x00',
  });
  assertVirError(() => validateName('domain', 'tab\there'), { code: ErrorNumber.XML_DETAIL });
  assertVirError(() => validateName('snapshot', null), {
    code: ErrorNumber.NO_NAME,
    domain: ErrorDomain.DOMAIN_SNAPSHOT,
  });
  assertVirError(() => parseDomainXML(dom(OS, 'x'.repeat(MAX_NAME_BYTES + 1))), {
    code: ErrorNumber.XML_ERROR,
    message: 'XML error: name is too long (256 bytes, the limit is 255)',
  });
  // The limit is in UTF-8 bytes: 128 two-byte characters are too many.
  assertVirError(() => validateName('domain', 'é'.repeat(128)), { code: ErrorNumber.XML_ERROR });
  validateName('domain', 'x'.repeat(MAX_NAME_BYTES));
  validateName('domain', '..');
  validateName('snapshot', 'snap shot ☃');
  // Names are data: they come back exactly, spaces and all.
  assert.equal(roundTrip(dom(OS, ' spaced &amp; odd ')).def.name, ' spaced & odd ');
});

test('other missing or invalid settings, worded as libvirt', () => {
  const cases: Array<[string, Expected]> = [
    [dom(''), { code: ErrorNumber.XML_ERROR, message: 'XML error: an os <type> must be specified' }],
    [dom('<os><boot dev="hd"/></os>'), { code: ErrorNumber.XML_ERROR, message: 'XML error: an os <type> must be specified' }],
    [`<domain><name>x</name><memory>1</memory>${OS}</domain>`, { code: ErrorNumber.INTERNAL_ERROR, message: 'internal error: missing domain type attribute' }],
    [`<domain type='bogus'><name>x</name><memory>1</memory>${OS}</domain>`, { code: ErrorNumber.CONFIG_UNSUPPORTED, message: 'unsupported configuration: invalid domain type bogus' }],
    [dom('<os><type>bogus</type></os>'), { code: ErrorNumber.CONFIG_UNSUPPORTED, message: "unsupported configuration: unknown OS type 'bogus'" }],
    [dom("<os><type arch='bogus'>hvm</type></os>"), { code: ErrorNumber.CONFIG_UNSUPPORTED, message: 'unsupported configuration: Unknown architecture bogus' }],
    [dom("<os><type>hvm</type><boot dev='floppy'/></os>"), { code: ErrorNumber.XML_ERROR, domain: ErrorDomain.XML, message: "XML error: Invalid value for attribute 'dev' in element 'boot': 'floppy'." }],
    [dom(`<vcpu>x</vcpu>${OS}`), { code: ErrorNumber.XML_ERROR, message: 'XML error: maximum vcpus count must be an integer' }],
    [dom(`<vcpu current='3'>2</vcpu>${OS}`), { code: ErrorNumber.CONFIG_UNSUPPORTED, message: 'unsupported configuration: maximum vCPU count must not be less than current vCPU count' }],
    [dom(`<vcpu placement='bogus'>2</vcpu>${OS}`), { code: ErrorNumber.XML_ERROR, message: "XML error: Invalid value for attribute 'placement' in element 'vcpu': 'bogus'." }],
    [dom(`<title>a\nb</title>${OS}`), { code: ErrorNumber.XML_ERROR, message: "XML error: Domain title can't contain newlines" }],
    [dom(`${OS}<clock offset='bogus'/>`), { code: ErrorNumber.CONFIG_UNSUPPORTED, message: "unsupported configuration: unknown clock offset 'bogus'" }],
    [dom(`${OS}<on_poweroff>bogus</on_poweroff>`), { code: ErrorNumber.CONFIG_UNSUPPORTED, message: 'unsupported configuration: unknown on_poweroff action: bogus' }],
    [dom(`${OS}<on_reboot>coredump-destroy</on_reboot>`), { code: ErrorNumber.CONFIG_UNSUPPORTED, message: "unsupported configuration: Lifecycle event 'reboot' doesn't support 'coredump-destroy' action" }],
    [dom(`${OS}<devices><disk><source file='/a'/></disk></devices>`), { code: ErrorNumber.NO_TARGET, message: 'missing target information for device /a' }],
    [dom(`${OS}<devices><disk><source file='/a'/><target dev='qda'/></disk></devices>`), { code: ErrorNumber.XML_ERROR, message: "XML error: Unknown disk name 'qda' and no address specified" }],
    [dom(`${OS}<devices><disk><driver type='bogus'/><source file='/a'/><target dev='vda'/></disk></devices>`), { code: ErrorNumber.CONFIG_UNSUPPORTED, message: "unsupported configuration: unknown driver format value 'bogus'" }],
    [dom(`${OS}<devices><disk type='bogus'><target dev='vda'/></disk></devices>`), { code: ErrorNumber.XML_ERROR, message: "XML error: Invalid value for attribute 'type' in element 'disk': 'bogus'." }],
    [dom(`${OS}<devices><interface type='network'/></devices>`), { code: ErrorNumber.XML_ERROR, message: "XML error: interface type='network' requires a 'source' element" }],
    [dom(`${OS}<devices><interface type='bridge'><source/></interface></devices>`), { code: ErrorNumber.XML_ERROR, domain: ErrorDomain.XML, message: "XML error: Missing required attribute 'bridge' in element 'source'" }],
    [dom(`${OS}<devices><interface><mac address='zz'/></interface></devices>`), { code: ErrorNumber.XML_ERROR, message: "XML error: unable to parse mac address 'zz'" }],
    [dom(`${OS}<devices><interface><mac address='01:00:00:00:00:01'/></interface></devices>`), { code: ErrorNumber.XML_ERROR, message: "XML error: expected unicast mac address, found multicast '01:00:00:00:00:01'" }],
    [dom(`${OS}<devices><interface><model type='a b'/></interface></devices>`), { code: ErrorNumber.INVALID_ARG, message: 'invalid argument: Model name contains invalid characters' }],
    [dom(`${OS}<devices><serial type='bogus'/></devices>`), { code: ErrorNumber.CONFIG_UNSUPPORTED, message: 'unsupported configuration: unknown type presented to host for character device: bogus' }],
    [dom(`${OS}<devices><serial type='file'/></devices>`), { code: ErrorNumber.INTERNAL_ERROR, message: 'internal error: Missing source path attribute for char device' }],
    [dom(`${OS}<devices><console><target type='bogus'/></console></devices>`), { code: ErrorNumber.CONFIG_UNSUPPORTED, message: "unsupported configuration: unknown target type 'bogus' specified for character device" }],
    [dom(`${OS}<devices><graphics/></devices>`), { code: ErrorNumber.XML_ERROR, message: "XML error: Missing required attribute 'type' in element 'graphics'" }],
    [dom(`<os><type>hvm</type><boot dev='hd'/></os><devices><disk><source file='/a'/><target dev='vda'/><boot order='1'/></disk></devices>`), { code: ErrorNumber.CONFIG_UNSUPPORTED, message: 'unsupported configuration: per-device boot elements cannot be used together with os/boot elements' }],
    [dom(`${OS}<devices><disk><source file='/a'/><target dev='vda'/><boot order='0'/></disk></devices>`), { code: ErrorNumber.XML_ERROR, message: "XML error: Invalid value for attribute 'order' in element 'boot': Zero is not permitted" }],
  ];
  for (const [xml, expected] of cases) assertVirError(() => parseDomainXML(xml), expected);
});

test('a hand-built definition formats to schema-valid XML that parses back equal', () => {
  const def = testDefaultDomainDef();
  def.name = 'built';
  def.title = 'Built by hand';
  def.os = { type: 'hvm', arch: 'x86_64', machine: 'pc', kernel: '/k', initrd: '/i', cmdline: 'quiet', boot: ['cdrom', 'hd'] };
  def.devices.emulator = '/usr/bin/qemu-system-x86_64';
  def.devices.serials.push({ type: 'pty', targetPort: 0 });
  def.devices.consoles.push({ type: 'pty', targetType: 'serial', targetPort: 0 });
  def.devices.graphics.push({ type: 'spice', autoport: true });
  // The card libvirt's parser adds to a display: a definition without it would not read back equal.
  def.devices.videos = [{ model: 'cirrus', vram: 16384, heads: 1, primary: true }];
  def.testNamespace = { runstate: 5, hasManagedSave: true };
  const out = formatDomainXML(def, { inactive: true });
  assertValidXML(out, 'domain');
  assert.deepEqual(parseDomainXML(out), def);
});

test('graphics auth: passwd is kept and written only with secure; passwdValidTo and connected are kept', () => {
  const xml = dom(
    `${OS}<devices><graphics type='vnc' port='-1' autoport='yes' passwd='s3cr&amp;t' passwdValidTo='2030-01-02T03:04:05' connected='keep'>` +
      "<listen type='address' address='127.0.0.1'/></graphics></devices>",
  );
  const def = parseDomainXML(xml);
  const open = formatDomainXML(def);
  assert.doesNotMatch(open, /passwd=/, 'no password without the secure flag');
  assert.match(open, /passwdValidTo='2030-01-02T03:04:05' connected='keep'/);
  assertValidXML(open, 'domain');
  const secure = formatDomainXML(def, { secure: true });
  assertValidXML(secure, 'domain');
  assert.match(secure, /<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1' passwd='s3cr&amp;t' passwdValidTo='2030-01-02T03:04:05' connected='keep'>/);
  // What is stored (secure) parses back to the same definition.
  assert.deepEqual(parseDomainXML(secure), def);
  assertVirError(() => parseDomainXML(dom(`${OS}<devices><graphics type='vnc' passwd='x' passwdValidTo='tomorrow'/></devices>`)), {
    code: ErrorNumber.INTERNAL_ERROR,
    message: "internal error: cannot parse password validity time 'tomorrow', expect YYYY-MM-DDTHH:MM:SS",
  });
});

test("graphics: VNC on a unix socket (listen type='socket', or the socket attribute) as libvirt 9.0 writes it", () => {
  const written = "<graphics type='vnc' socket='/tmp/x.sock'>\n      <listen type='socket' socket='/tmp/x.sock'/>\n    </graphics>";
  for (const g of ["<graphics type='vnc'><listen type='socket' socket='/tmp/x.sock'/></graphics>", "<graphics type='vnc' socket='/tmp/x.sock'/>"]) {
    const { def, out } = roundTrip(dom(`${OS}<devices>${g}</devices>`));
    assert.deepEqual(def.devices.graphics, [{ type: 'vnc', listenType: 'socket', socket: '/tmp/x.sock' }]);
    assert.ok(out.includes(written), out);
  }
  // Without a path the driver picks one at start; libvirt writes the bare listen element.
  const { out } = roundTrip(dom(`${OS}<devices><graphics type='vnc'><listen type='socket'/></graphics></devices>`));
  assert.ok(out.includes("<graphics type='vnc'>\n      <listen type='socket'/>\n    </graphics>"), out);
});

test('graphics: attributes and children tsvirt does not model are kept verbatim, never dropped', () => {
  const kept = [
    "<graphics type='vnc' port='-1' autoport='yes' keymap='de'>",
    "<graphics type='vnc' port='-1' autoport='yes' websocket='5700'>",
    "<graphics type='vnc' port='-1' autoport='yes' sharePolicy='force-shared'>",
    "<graphics type='vnc' socket='/tmp/vnc.sock'><listen type='socket' socket='/tmp/vnc.sock'/></graphics>",
    "<graphics type='vnc' port='-1' autoport='yes' powerControl='yes'>",
    "<graphics type='vnc'><listen type='network' network='default'/></graphics>",
    "<graphics type='vnc' socket='/tmp/s'><listen type='socket' socket='/tmp/s'/></graphics>",
    "<graphics type='spice'><listen type='socket' socket='/tmp/s'/></graphics>",
    "<audio id='1'/>",
    "<graphics type='spice' tlsPort='5901'>",
    "<channel name='main' mode='secure'/>",
    "<graphics type='sdl' display=':0.0' xauth='/root/.Xauthority'/>",
    "<gl enable='yes'/>",
    "<graphics type='rdp' port='3389'/>",
  ];
  const inputs = [
    "<graphics type='vnc' keymap='de'/>",
    "<graphics type='vnc' websocket='5700'/>",
    "<graphics type='vnc' sharePolicy='force-shared'/>",
    "<graphics type='vnc' socket='/tmp/vnc.sock'/>",
    "<graphics type='vnc' powerControl='yes'/>",
    "<graphics type='vnc'><listen type='network' network='default'/></graphics>",
    "<graphics type='vnc'><listen type='socket' socket='/tmp/s'/></graphics>",
    "<graphics type='spice'><listen type='socket' socket='/tmp/s'/></graphics>",
    "<graphics type='vnc'><audio id='1'/></graphics>",
    "<graphics type='spice' tlsPort='5901'/>",
    "<graphics type='spice'><channel name='main' mode='secure'/></graphics>",
    "<graphics type='sdl' display=':0.0' xauth='/root/.Xauthority'/>",
    "<graphics type='sdl'><gl enable='yes'/></graphics>",
    "<graphics type='rdp' port='3389'/>",
  ];
  inputs.forEach((g, i) => {
    const { out } = roundTrip(dom(`${OS}<devices>${g}</devices>`));
    const want = kept[i] as string;
    assert.ok(out.replace(/\n\s*/g, '').includes(want.replace(/\n\s*/g, '')), `${want} in\n${out}`);
  });
  assertVirError(
    () => parseDomainXML(dom(`${OS}<devices><graphics type='vnc' listen='127.0.0.1'><listen type='address' address='127.0.0.2'/></graphics></devices>`)),
    {
      code: ErrorNumber.XML_ERROR,
      message: "XML error: graphics 'listen' attribute '127.0.0.1' must match 'address' attribute of first listen element (found '127.0.0.2')",
    },
  );
  // What tsvirt writes itself still parses: <listen type='none'/> of a SPICE without port, the
  // listen attribute mirrored by its <listen> child.
  roundTrip(dom(`${OS}<devices><graphics type='spice'><listen type='none'/></graphics><graphics type='vnc' listen='::1'><listen type='address' address='::1'/></graphics></devices>`));
});

// ---------------------------------------------------------------------------------------------
// Kept whole: what tsvirt does not model is written back verbatim, in place

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures');

test('unmodelled elements and attributes are kept in place, in order, everywhere', () => {
  const xml = `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>kept</name>
  <uuid>0f3d9a1e-6b2c-4a55-9e77-1c2d3e4f5a6c</uuid>
  <genid>43dc0cf8-809b-4adb-9bea-a9abb5f3d90e</genid>
  <memory unit='KiB' dumpCore='off'>131072</memory>
  <currentMemory unit='KiB'>131072</currentMemory>
  <memoryBacking>
    <nosharepages/>
  </memoryBacking>
  <vcpu placement='static' cpuset='0-1'>2</vcpu>
  <iothreads>1</iothreads>
  <os firmware='efi'>
    <type arch='x86_64' machine='q35'>hvm</type>
    <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>
    <nvram>/var/lib/tsvirt/nvram/kept_VARS.fd</nvram>
    <boot dev='hd'/>
    <bootmenu enable='yes'/>
  </os>
  <features>
    <acpi/>
    <apic eoi='on'/>
    <vmport state='off'/>
  </features>
  <cpu mode='host-model' check='partial'/>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/>
    <timer name='hpet' present='no'/>
  </clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <pm>
    <suspend-to-mem enabled='no'/>
  </pm>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk' snapshot='no'>
      <driver name='qemu' type='qcow2' cache='none' discard='unmap'/>
      <source file='/img/a.qcow2' startupPolicy='optional'>
        <seclabel model='dac' relabel='no'/>
      </source>
      <target dev='vda' bus='virtio' rotation_rate='1'/>
      <iotune>
        <total_bytes_sec>1000000</total_bytes_sec>
      </iotune>
      <serial>abc</serial>
    </disk>
    <disk type='network' device='disk'>
      <driver name='qemu' type='raw'/>
      <source protocol='nbd' name='export'>
        <host name='example.org' port='10809'/>
      </source>
      <target dev='vdb' bus='virtio'/>
    </disk>
    <controller type='usb' index='0' model='qemu-xhci' ports='15'/>
    <interface type='network' trustGuestRxFilters='yes'>
      <mac address='52:54:00:3a:5b:7d'/>
      <source network='default' portgroup='web'/>
      <model type='virtio'/>
      <driver name='vhost' queues='2'/>
      <link state='up'/>
    </interface>
    <serial type='pty'>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <channel type='unix'>
      <source mode='bind'/>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
    <input type='tablet' bus='usb'/>
    <graphics type='vnc' port='-1' autoport='yes' keymap='de'>
      <listen type='address'/>
      <audio id='1'/>
    </graphics>
    <audio id='1' type='none'/>
    <video>
      <model type='virtio' heads='1' primary='yes'/>
    </video>
    <memballoon model='virtio' autodeflate='on'>
      <stats period='10'/>
    </memballoon>
    <rng model='virtio'>
      <backend model='random'>/dev/urandom</backend>
    </rng>
  </devices>
  <seclabel type='none' model='none'/>
  <qemu:commandline>
    <qemu:arg value='-no-hpet'/>
  </qemu:commandline>
</domain>
`;
  const { def, out } = roundTrip(xml);
  // libvirt's own layout, kept element for element: the input is already canonical.
  assert.equal(out, xml);
  // The model itself is unchanged by what is kept beside it.
  assert.equal(def.memory, 131072);
  assert.equal(def.devices.disks.length, 1, 'the network disk is kept whole, not modelled');
  assert.equal(def.devices.disks[0]?.sourceFile, '/img/a.qcow2');
  assert.deepEqual(def.features, { acpi: true, apic: true });
  // A second round (what `virsh edit` does: dumpxml, change, define) keeps everything.
  const edited = out.replace("<memory unit='KiB' dumpCore='off'>131072</memory>", "<memory unit='KiB' dumpCore='off'>262144</memory>");
  const again = formatDomainXML(parseDomainXML(edited));
  assert.equal(again, edited.replace("<currentMemory unit='KiB'>131072</currentMemory>", "<currentMemory unit='KiB'>131072</currentMemory>"));
  assert.match(again, /<memory unit='KiB' dumpCore='off'>262144<\/memory>/);
});

test('kept children follow the modelled sibling they followed, in their order', () => {
  const { out } = roundTrip(
    dom(`${OS}<devices><controller type='usb' index='0'/><disk><source file='/a'/><target dev='vda'/></disk>` +
      `<input type='tablet' bus='usb'/><input type='keyboard' bus='usb'/><disk><source file='/b'/><target dev='vdb'/></disk>` +
      `<rng model='virtio'><backend model='random'>/dev/random</backend></rng></devices>`),
  );
  const order = [...(out.split('<devices>')[1] ?? '').matchAll(/^ {4}<(\w+)/gm)].map((m) => m[1]);
  assert.deepEqual(order, ['controller', 'disk', 'input', 'input', 'disk', 'rng']);
  assert.match(out, /<input type='tablet' bus='usb'\/>\n {4}<input type='keyboard' bus='usb'\/>/);
});

test('a kept element whose name the model writes itself is not written twice', () => {
  // As after a merge where another part of tsvirt starts modelling an element the parser still
  // keeps: the model's version wins.
  const def = parseDomainXML(dom(`${OS}<devices><disk><source file='/a'/><target dev='vda'/></disk><hub type='usb'/></devices>`));
  const hub = def.kept?.devices?.children?.[0];
  assert.ok(hub !== undefined);
  def.kept = { ...def.kept, devices: { children: [hub, { ...hub, el: { ...hub.el, name: 'disk', localName: 'disk' } }] } };
  const out = formatDomainXML(def);
  assert.equal(out.match(/<disk /g)?.length, 1, out);
  assert.match(out, /<hub type='usb'\/>/);
});

test('SATA and SCSI disks get their drive address and the implicit controller libvirt adds', () => {
  const { def, out } = roundTrip(
    dom(`${OS}<devices><disk><source file='/a'/><target dev='sda' bus='sata'/></disk><disk><source file='/b'/><target dev='sdb' bus='scsi'/></disk></devices>`).replace("type='test'", "type='qemu'"),
  );
  assert.deepEqual(def.devices.disks.map((d) => d.address), [
    { type: 'drive', controller: '0', bus: '0', target: '0', unit: '0' },
    { type: 'drive', controller: '0', bus: '0', target: '0', unit: '1' },
  ]);
  assert.match(out, /<\/disk>\n {4}<controller type='sata' index='0'\/>\n {4}<controller type='scsi' index='0' model='lsilogic'\/>\n/);
  // A controller already given is not added again.
  const given = parseDomainXML(dom(`${OS}<devices><disk><source file='/b'/><target dev='sdb' bus='scsi'/></disk><controller type='scsi' index='0' model='virtio-scsi'/></devices>`).replace("type='test'", "type='qemu'"));
  assert.equal(formatDomainXML(given).match(/<controller/g)?.length, 1);
});

test("virt-install's output keeps every element and attribute, through the API and a redefine", async () => {
  const xml = readFileSync(join(FIXTURES, 'virt-install', 'debian12-q35-efi.xml'), 'utf8');
  const out = formatDomainXML(parseDomainXML(xml), { inactive: true });
  assertValidXML(out, 'domain');
  // Canonical forms aside (memory units written, the console's serial port added), nothing is lost
  // but what libvirt drops too: the port of a SPICE display that picks its port at start.
  const dropped = ['/domain/devices/graphics@port=-1'];
  assert.deepEqual(lostFrom(xml, out), dropped);
  const conn = await connect('test:///default');
  try {
    const dom1 = await conn.defineXML(xml.replace('type="kvm"', 'type="test"'));
    const shown = await dom1.XMLDesc(DomainXMLFlags.INACTIVE);
    assert.deepEqual(lostFrom(xml.replace('type="kvm"', 'type="test"'), shown), dropped);
    // virsh edit: the shown XML, changed, defined again.
    const dom2 = await conn.defineXML(shown.replace('<vcpu placement=\'static\'>2</vcpu>', "<vcpu placement='static'>4</vcpu>"));
    const after = await dom2.XMLDesc(DomainXMLFlags.INACTIVE);
    assert.match(after, /<vcpu placement='static'>4<\/vcpu>/);
    assert.deepEqual(lostFrom(shown.replace("<vcpu placement='static'>2</vcpu>", ''), after), []);
  } finally {
    await conn.close();
  }
});
