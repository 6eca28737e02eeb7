/**
 * libvirt's capabilities XML (`virsh capabilities`, virConnectGetCapabilities) and sysinfo XML
 * (virConnectGetSysinfo): the data a driver gathers about its host and guests, formatted in the
 * layout of libvirt 9.0's virCapabilitiesFormatXML and virSysinfoFormat, valid against
 * capability.rng. Also the fixed host of libvirt's test driver. Pure: no I/O — drivers probe the
 * host and pass what they found.
 */
import { XmlWriter } from './xml.js';

/** virNodeInfo: what virNodeGetInfo reports. Memory in KiB, frequency in MHz. */
export interface NodeInfo {
  /** The CPU architecture ('x86_64', 'i686'), at most 31 bytes on the wire. */
  model: string;
  memory: number;
  cpus: number;
  mhz: number;
  nodes: number;
  sockets: number;
  cores: number;
  threads: number;
}

/** One logical CPU of a NUMA cell. */
export interface CapsCPU {
  id: number;
  socketId: number;
  dieId: number;
  coreId: number;
  /** libvirt's cpuset syntax: '0', '0-1', '0,4'. */
  siblings: string;
}

/** One NUMA cell. Memory in KiB. */
export interface CapsCell {
  id: number;
  memory: number;
  /** Free pages of each size: [size in KiB, count]. */
  pages: ReadonlyArray<readonly [size: number, count: number]>;
  /** Distances to other cells: [cell id, value]. */
  distances?: ReadonlyArray<readonly [id: number, value: number]>;
  cpus: readonly CapsCPU[];
}

/** The host's CPU as capabilities describe it. */
export interface CapsHostCPU {
  arch: string;
  /** `<features>` flags of the host CPU element (libvirt's test driver: pae, nonpae). */
  flags?: ReadonlyArray<'pae' | 'nonpae' | 'vmx' | 'svm'>;
  /** 'AMD', 'Intel'. */
  vendor?: string;
  topology?: { sockets: number; dies: number; cores: number; threads: number };
  /** Page sizes in KiB. */
  pageSizes: readonly number[];
}

/** A security driver. */
export interface CapsSecModel {
  model: string;
  doi: string;
}

/** A guest feature with a default and whether it can be toggled (acpi, apic, disksnapshot). */
export interface CapsToggle {
  name: 'acpi' | 'apic' | 'disksnapshot' | 'hap';
  default: 'on' | 'off';
  toggle: boolean;
}

/** One kind of guest the driver runs. */
export interface CapsGuest {
  osType: 'hvm' | 'xen' | 'exe';
  arch: string;
  wordsize: 32 | 64;
  emulator?: string;
  /** `<domain type=…>` entries: the domain types this arch runs as. */
  domainTypes: readonly string[];
  /** Flag features (pae, nonpae, cpuselection, deviceboot). */
  flags?: ReadonlyArray<'pae' | 'nonpae' | 'cpuselection' | 'deviceboot'>;
  toggles?: readonly CapsToggle[];
}

/** A whole capabilities document. */
export interface Capabilities {
  host: {
    uuid?: string;
    cpu: CapsHostCPU;
    /** iommu support; omitted when unknown. */
    iommu?: boolean;
    /** Live migration with these URI transports; omitted when the driver migrates nothing. */
    migration?: { live: boolean; transports: readonly string[] };
    cells: readonly CapsCell[];
    secmodels: readonly CapsSecModel[];
  };
  guests: readonly CapsGuest[];
}

/** Formats capabilities as libvirt does, blank lines between host and guests included. */
export function formatCapabilitiesXML(caps: Capabilities): string {
  const sections = [formatHost(caps.host), ...caps.guests.map(formatGuest)];
  return `<capabilities>\n\n${sections.map((s) => `${s}\n`).join('')}</capabilities>\n`;
}

function formatHost(host: Capabilities['host']): string {
  const w = new XmlWriter(1);
  w.open('host');
  if (host.uuid !== undefined) w.text('uuid', host.uuid);
  w.open('cpu');
  w.text('arch', host.cpu.arch);
  const flags = host.cpu.flags ?? [];
  if (flags.length > 0) {
    w.open('features');
    for (const f of flags) w.empty(f);
    w.close('features');
  }
  if (host.cpu.vendor !== undefined) w.text('vendor', host.cpu.vendor);
  const t = host.cpu.topology;
  if (t !== undefined) w.empty('topology', [['sockets', t.sockets], ['dies', t.dies], ['cores', t.cores], ['threads', t.threads]]);
  for (const size of host.cpu.pageSizes) w.empty('pages', [['unit', 'KiB'], ['size', size]]);
  w.close('cpu');
  // tsvirt drives no host power management (virsh's suspend of the host): an empty element.
  w.empty('power_management');
  if (host.iommu !== undefined) w.empty('iommu', [['support', host.iommu ? 'yes' : 'no']]);
  if (host.migration !== undefined) {
    const m = host.migration;
    w.element('migration_features', undefined, (mw) => {
      if (m.live) mw.empty('live');
      if (m.transports.length > 0) {
        mw.open('uri_transports');
        for (const tr of m.transports) mw.text('uri_transport', tr);
        mw.close('uri_transports');
      }
    });
  }
  if (host.cells.length > 0) {
    w.open('topology');
    w.open('cells', [['num', host.cells.length]]);
    for (const cell of host.cells) {
      w.open('cell', [['id', cell.id]]);
      w.text('memory', cell.memory, [['unit', 'KiB']]);
      for (const [size, count] of cell.pages) w.text('pages', count, [['unit', 'KiB'], ['size', size]]);
      if (cell.distances !== undefined && cell.distances.length > 0) {
        w.open('distances');
        for (const [id, value] of cell.distances) w.empty('sibling', [['id', id], ['value', value]]);
        w.close('distances');
      }
      w.open('cpus', [['num', cell.cpus.length]]);
      for (const c of cell.cpus) {
        w.empty('cpu', [['id', c.id], ['socket_id', c.socketId], ['die_id', c.dieId], ['core_id', c.coreId], ['siblings', c.siblings]]);
      }
      w.close('cpus');
      w.close('cell');
    }
    w.close('cells');
    w.close('topology');
  }
  for (const s of host.secmodels) {
    w.open('secmodel');
    w.text('model', s.model);
    w.text('doi', s.doi);
    w.close('secmodel');
  }
  w.close('host');
  return w.toString();
}

function formatGuest(g: CapsGuest): string {
  const w = new XmlWriter(1);
  w.open('guest');
  w.text('os_type', g.osType);
  w.open('arch', [['name', g.arch]]);
  w.text('wordsize', g.wordsize);
  if (g.emulator !== undefined) w.text('emulator', g.emulator);
  for (const type of g.domainTypes) w.empty('domain', [['type', type]]);
  w.close('arch');
  const flags = g.flags ?? [];
  const toggles = g.toggles ?? [];
  if (flags.length + toggles.length > 0) {
    w.open('features');
    // libvirt's order: pae, nonpae, then the toggles, then cpuselection and deviceboot, …
    for (const f of flags.filter((x) => x === 'pae' || x === 'nonpae')) w.empty(f);
    for (const tg of toggles.filter((x) => x.name !== 'disksnapshot')) w.empty(tg.name, [['default', tg.default], ['toggle', tg.toggle ? 'yes' : 'no']]);
    for (const f of flags.filter((x) => x === 'cpuselection' || x === 'deviceboot')) w.empty(f);
    for (const tg of toggles.filter((x) => x.name === 'disksnapshot')) w.empty(tg.name, [['default', tg.default], ['toggle', tg.toggle ? 'yes' : 'no']]);
    w.close('features');
  }
  w.close('guest');
  return w.toString();
}

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

/** One `<entry name=…>value</entry>` group of sysinfo (bios, system, …). */
export type SysinfoSection = ReadonlyArray<readonly [name: string, value: string]>;

/** SMBIOS sysinfo: the sections libvirt's virSysinfoFormat writes, in its order. */
export interface Sysinfo {
  bios?: SysinfoSection;
  system?: SysinfoSection;
  baseBoard?: SysinfoSection;
  chassis?: SysinfoSection;
}

/** Formats `<sysinfo type='smbios'>` as libvirt does. */
export function formatSysinfoXML(info: Sysinfo): string {
  const w = new XmlWriter();
  w.element('sysinfo', [['type', 'smbios']], (sw) => {
    const section = (name: string, entries: SysinfoSection | undefined) => {
      if (entries === undefined || entries.length === 0) return;
      sw.open(name);
      for (const [n, v] of entries) sw.text('entry', v, [['name', n]]);
      sw.close(name);
    };
    section('bios', info.bios);
    section('system', info.system);
    section('baseBoard', info.baseBoard);
    section('chassis', info.chassis);
  });
  return w.toString();
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
