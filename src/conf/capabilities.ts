/**
 * libvirt's capabilities XML (`virsh capabilities`, virConnectGetCapabilities) and sysinfo XML
 * (virConnectGetSysinfo): the data a driver gathers about its host and guests, formatted in the
 * layout of libvirt 9.0's virCapabilitiesFormatXML and virSysinfoFormat, valid against
 * capability.rng. Pure: no I/O — drivers probe the
 * host and pass what they found.
 */
import { XmlWriter } from './xml.js';

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
