/**
 * vSphere's XML in both forms: real vCenter/ESXi writes `xsi:type` on every element of an
 * `ArrayOf…` value, govmomi's simulator does not, and the namespace prefix varies. The readers
 * of snapshot trees and device lists must give the same answer either way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVimXML, child, childText } from '../src/drivers/esx/xml.js';
import { parseSnapshotInfo } from '../src/drivers/esx/snapshots.js';
import { vmDomainDef } from '../src/drivers/esx/domain-xml.js';

const XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"';

function snapshotInfo(typed: boolean): string {
  const t = (type: string) => (typed ? ` xsi:type="${type}"` : '');
  return (
    `<val ${XSI} xsi:type="VirtualMachineSnapshotInfo">` +
    '<currentSnapshot type="VirtualMachineSnapshot">snapshot-2</currentSnapshot>' +
    `<rootSnapshotList${t('VirtualMachineSnapshotTree')}><snapshot type="VirtualMachineSnapshot">snapshot-1</snapshot>` +
    '<name>root &amp; co</name><description>d</description><id>1</id><createTime>2024-01-02T03:04:05.123456789Z</createTime><state>poweredOff</state>' +
    `<childSnapshotList${t('VirtualMachineSnapshotTree')}><snapshot type="VirtualMachineSnapshot">snapshot-2</snapshot>` +
    '<name>child</name><id>2</id><createTime>2024-01-02T03:05:00Z</createTime><state>poweredOn</state></childSnapshotList>' +
    '</rootSnapshotList></val>'
  );
}

test('snapshot trees read the same with and without xsi:type on array elements', () => {
  for (const typed of [true, false]) {
    const tree = parseSnapshotInfo(parseVimXML(snapshotInfo(typed)));
    assert.deepEqual(
      tree.list.map((s) => [s.name, s.parent, s.state, s.createTime]),
      [
        ['root & co', null, 'shutoff', 1704164645],
        ['child', 'root & co', 'running', 1704164700],
      ],
    );
    assert.equal(tree.current?.name, 'child');
  }
});

function hardware(typed: 'xsi' | 'other-prefix' | 'none'): string {
  const attr = (type: string) =>
    typed === 'xsi' ? ` xsi:type="${type}"` : typed === 'other-prefix' ? ` XMLSchema-instance:type="${type}"` : '';
  const ns = typed === 'other-prefix' ? 'xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance"' : XSI;
  return (
    `<val ${ns}><numCPU>2</numCPU><memoryMB>512</memoryMB>` +
    `<device${attr('VirtualLsiLogicController')}><key>1000</key><busNumber>0</busNumber><scsiCtlrUnitNumber>7</scsiCtlrUnitNumber></device>` +
    `<device${attr('VirtualDisk')}><key>2000</key><backing${attr('VirtualDiskFlatVer2BackingInfo')}><fileName>[ds1] vm/vm.vmdk</fileName></backing>` +
    '<controllerKey>1000</controllerKey><unitNumber>0</unitNumber><capacityInKB>1024</capacityInKB></device>' +
    `<device${attr('VirtualVmxnet3')}><key>4000</key><backing${attr('VirtualEthernetCardNetworkBackingInfo')}><deviceName>VM Network</deviceName></backing>` +
    '<addressType>assigned</addressType><macAddress>00:50:56:AA:BB:CC</macAddress></device></val>'
  );
}

test('devices are found with xsi:type under any prefix, and by their shape without it', () => {
  for (const typed of ['xsi', 'other-prefix', 'none'] as const) {
    const def = vmDomainDef({ name: 'vm', uuid: '564d0000-0000-0000-0000-000000000001', hardware: parseVimXML(hardware(typed)) });
    assert.equal(def.memory, 512 * 1024, typed);
    assert.equal(def.vcpu.count, 2);
    assert.deepEqual(
      def.devices.disks.map((d) => [d.device, d.sourceFile, d.targetDev, d.targetBus]),
      [['disk', '[ds1] vm/vm.vmdk', 'sda', 'scsi']],
      typed,
    );
    assert.deepEqual(def.devices.interfaces.map((i) => [i.mac, i.sourceBridge]), [['00:50:56:aa:bb:cc', 'VM Network']], typed);
    if (typed !== 'none') assert.equal(def.devices.interfaces[0]?.model, 'vmxnet3');
  }
});

test('text and attributes are decoded once; an unprefixed type attribute is a MoRef type, not xsi', () => {
  const node = parseVimXML('<r><obj type="VirtualMachine">vm-1</obj><t>a &amp;lt; b</t></r>');
  assert.equal(child(node, 'obj')?.attrs.type, 'VirtualMachine');
  assert.equal(child(node, 'obj')?.xsiType, undefined);
  assert.equal(childText(node, 't'), 'a &lt; b');
  assert.equal(parseVimXML('<<garbage'), undefined);
});
