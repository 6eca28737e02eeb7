/**
 * Every XML the API hands out (domain XML live and inactive, snapshot XML of created, halted,
 * redefined snapshots) validates against libvirt's RelaxNG schemas, on both test URIs.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DomainSnapshotCreateFlags, DomainSnapshotXMLFlags, DomainXMLFlags, ErrorDomain, ErrorNumber, connect } from '../src/index.js';
import { assertValidXML } from './support/xmllint.js';
import { TEST_URIS, domainXML, rejectsVir, withConnection } from './support/fixtures.js';

const RICH = `<domain type='test'>
  <name>rich</name>
  <title>A rich domain</title>
  <description>disks, interfaces, consoles</description>
  <memory unit='MiB'>256</memory>
  <currentMemory unit='MiB'>128</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>/boot/vmlinuz</kernel>
    <initrd>/boot/initrd.img</initrd>
    <cmdline>console=ttyS0</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='/var/lib/tsvirt/rich.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='/var/lib/tsvirt/seed.iso'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
    <interface type='user'><model type='virtio'/></interface>
    <interface type='network'><source network='default'/></interface>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
  </devices>
</domain>`;

for (const uri of TEST_URIS) {
  describe(`XML from the API on ${uri}`, () => {
    test('domain XML, live and inactive, validates against domain.rng', () =>
      withConnection(uri, async (conn) => {
        const dom = await conn.defineXML(RICH);
        assertValidXML(await dom.XMLDesc(), 'domain');
        await dom.create();
        const live = await dom.XMLDesc();
        assert.match(live, /^<domain type='test' id='\d+'>/);
        assertValidXML(live, 'domain');
        assertValidXML(await dom.XMLDesc(DomainXMLFlags.INACTIVE), 'domain');
        const plain = await conn.defineXML(domainXML('plain', { ignorePowerButton: true }));
        assertValidXML(await plain.XMLDesc(), 'domain');
      }));

    test('snapshot XML of every kind validates against domainsnapshot.rng, and the disks are listed', () =>
      withConnection(uri, async (conn) => {
        const dom = await conn.defineXML(RICH);
        const off = await dom.snapshotCreateXML('<domainsnapshot><name>off</name><description>cold</description></domainsnapshot>');
        await dom.create();
        const on = await dom.snapshotCreateXML('<domainsnapshot/>');
        const halted = await dom.snapshotCreateXML('<domainsnapshot><name>halt</name></domainsnapshot>', DomainSnapshotCreateFlags.HALT);
        for (const s of [off, on, halted]) {
          const xml = await s.getXMLDesc();
          assertValidXML(xml, 'domainsnapshot');
          assert.match(xml, /<disk name='vda' snapshot='internal'\/>/);
          assert.match(xml, /<disk name='hdc' snapshot='no'\/>/);
        }
        assert.match(await on.getXMLDesc(), /<state>running<\/state>/);
        assert.match(await off.getXMLDesc(), /<state>shutoff<\/state>/);
        const captured = await halted.getXMLDesc();
        await halted.delete();
        const again = await dom.snapshotCreateXML(captured, DomainSnapshotCreateFlags.REDEFINE);
        assert.equal(await again.getXMLDesc(), captured);
        assertValidXML(await again.getXMLDesc(), 'domainsnapshot');
      }));
  });
}

test('the preset domain of test:///default validates', async () => {
  const conn = await connect('test:///default');
  try {
    assertValidXML(await (await conn.lookupByName('test')).XMLDesc(), 'domain');
  } finally {
    await conn.close();
  }
});

test('a VNC password is stored, shown only with SECURE (domain and snapshot XML), refused to a read-only connection', () =>
  withConnection('test:///session', async (conn) => {
    const xml = RICH.replace('<name>rich</name>', '<name>vnc</name>').replace(
      '</devices>',
      "<graphics type='vnc' port='-1' autoport='yes' passwd='pw123456'><listen type='address' address='127.0.0.1'/></graphics></devices>",
    );
    const dom = await conn.defineXML(xml);
    assert.doesNotMatch(await dom.XMLDesc(), /passwd=/);
    assert.doesNotMatch(await dom.XMLDesc(DomainXMLFlags.INACTIVE), /passwd=/);
    assert.match(await dom.XMLDesc(DomainXMLFlags.SECURE | DomainXMLFlags.INACTIVE), / passwd='pw123456'/);
    await dom.create();
    const live = await dom.XMLDesc(DomainXMLFlags.SECURE);
    assert.match(live, / passwd='pw123456'/);
    assertValidXML(live, 'domain');
    const snap = await dom.snapshotCreateXML('<domainsnapshot><name>s</name></domainsnapshot>');
    assert.doesNotMatch(await snap.getXMLDesc(), /passwd=/);
    const secureSnap = await snap.getXMLDesc(DomainSnapshotXMLFlags.SECURE);
    assert.match(secureSnap, / passwd='pw123456'/);
    assertValidXML(secureSnap, 'domainsnapshot');

    const ro = await connect('test:///session', { readonly: true });
    try {
      const roDom = await ro.lookupByName('vnc');
      assert.doesNotMatch(await roDom.XMLDesc(), /passwd=/);
      await rejectsVir(roDom.XMLDesc(DomainXMLFlags.SECURE), {
        code: ErrorNumber.OPERATION_DENIED,
        domain: ErrorDomain.DOMAIN,
        message: 'operation forbidden: virDomainGetXMLDesc with secure flag',
      });
      const roSnap = await roDom.snapshotLookupByName('s');
      await rejectsVir(roSnap.getXMLDesc(DomainSnapshotXMLFlags.SECURE), {
        code: ErrorNumber.OPERATION_DENIED,
        domain: ErrorDomain.DOMAIN_SNAPSHOT,
        message: 'operation forbidden: virDomainSnapshotGetXMLDesc with secure flag',
      });
    } finally {
      await ro.close();
    }
  }));
