/**
 * The fixed world of libvirt's test driver, as tsvirt's test driver presents it: its host
 * (node info, capabilities, sysinfo) and the preset domain `test` of test:///default.
 */
import type { NodeInfo } from '../../core/driver.js';
import type { Capabilities, CapsCPU, CapsGuest, Sysinfo } from '../../conf/capabilities.js';
import type { DomainDef } from '../../conf/domain.js';

/**
 * The host of libvirt's test driver (testBuildCapabilities with its default node): an i686
 * machine with 16 CPUs at 1400 MHz in 2 NUMA cells, 3 GiB in all.
 */
export const TEST_NODE_INFO: Readonly<NodeInfo> = {
  model: 'i686',
  memory: 3145728,
  cpus: 16,
  mhz: 1400,
  nodes: 2,
  sockets: 2,
  cores: 2,
  threads: 2,
};

/** The emulator libvirt's test driver names in its capabilities. */
export const TEST_EMULATOR = '/usr/bin/test-hv';

/**
 * The capabilities of tsvirt's test driver: libvirt's test driver's, with two differences
 * (docs/daemon.md): an x86_64 hvm guest besides libvirt's i686 ones, because tsvirt's test driver
 * runs x86_64 domains and clients look their arch up here; and no `<secmodel>`, because tsvirt
 * has no security driver (libvirt's test driver lists a 'testSecurity' model).
 */
export function testCapabilities(): Capabilities {
  const cpus = (cell: number): CapsCPU[] =>
    Array.from({ length: 8 }, (_, i) => ({ id: cell * 8 + i, socketId: cell, dieId: 0, coreId: i, siblings: String(cell * 8 + i) }));
  const paeGuest = (osType: 'hvm' | 'xen'): CapsGuest => ({
    osType,
    arch: 'i686',
    wordsize: 32,
    emulator: TEST_EMULATOR,
    domainTypes: ['test'],
    flags: ['pae', 'nonpae'],
  });
  return {
    host: {
      cpu: { arch: 'i686', flags: ['pae', 'nonpae'], pageSizes: [4, 8, 2048, 1048576] },
      iommu: false,
      cells: [
        { id: 0, memory: 2097152, pages: [[4, 524288], [2048, 0], [1048576, 0]], cpus: cpus(0) },
        { id: 1, memory: 4194304, pages: [[8, 524288], [2048, 0], [1048576, 0]], cpus: cpus(1) },
      ],
      secmodels: [],
    },
    guests: [
      paeGuest('hvm'),
      paeGuest('xen'),
      { osType: 'hvm', arch: 'x86_64', wordsize: 64, emulator: TEST_EMULATOR, domainTypes: ['test'] },
    ],
  };
}

/** libvirt's test driver's fixed sysinfo (a Lenovo BIOS). */
export const TEST_SYSINFO: Sysinfo = {
  bios: [
    ['vendor', 'LENOVO'],
    ['version', 'G4ETA1WW (2.61 )'],
    ['date', '05/07/2014'],
    ['release', '2.61'],
  ],
};

/**
 * `testDefaultDomainDef()` formatted as an inactive definition: the test driver stores it as is,
 * since formatting it at every start of test:///default costs more than the rest of the preset
 * (test/conf-domain.test.ts checks that the two agree).
 */
export const TEST_DEFAULT_DOMAIN_XML = `<domain type='test'>
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

/**
 * The domain libvirt's test:///default connection starts with: `test`, running, with the
 * UUID, memory, vCPUs, OS and devices `virsh -c test:///default dumpxml test` shows.
 * A fresh object on every call.
 */
export function testDefaultDomainDef(): DomainDef {
  return {
    type: 'test',
    name: 'test',
    uuid: '6695eb01-f6a4-8304-79aa-97f2502e193f',
    memory: 8388608,
    currentMemory: 2097152,
    vcpu: { count: 2, placement: 'static' },
    os: { type: 'hvm', arch: 'i686', boot: ['hd'] },
    clock: { offset: 'utc' },
    onPoweroff: 'destroy',
    onReboot: 'restart',
    onCrash: 'destroy',
    devices: {
      disks: [
        {
          type: 'file',
          device: 'disk',
          sourceFile: '/guest/diskimage1',
          targetDev: 'vda',
          targetBus: 'virtio',
          readonly: false,
          address: { type: 'pci', domain: '0x0000', bus: '0x01', slot: '0x00', function: '0x0' },
        },
      ],
      interfaces: [
        {
          type: 'network',
          mac: 'aa:bb:cc:dd:ee:ff',
          sourceNetwork: 'default',
          targetDev: 'testnet0',
          address: { type: 'pci', domain: '0x0000', bus: '0x00', slot: '0x01', function: '0x0' },
        },
      ],
      serials: [],
      consoles: [],
      graphics: [],
      memballoon: {
        model: 'virtio',
        address: { type: 'pci', domain: '0x0000', bus: '0x00', slot: '0x02', function: '0x0' },
      },
    },
  };
}
