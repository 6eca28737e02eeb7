/**
 * A domain's tuning elements, read and written in its definition: `<memtune>`, `<blkiotune>`,
 * `<numatune>` and an interface's `<bandwidth>`. The domain model keeps these elements verbatim
 * (XmlKept); this module is the one place that interprets them, so the test and QEMU drivers
 * store the tuning parameters of libvirt's APIs where libvirt does, in the XML, and a definition
 * written by libvirt reads back the same. Pure: no I/O.
 */
import type { XmlElement } from './xml.js';
import type { DomainDef, DomainInterfaceDef, XmlKept } from './domain.js';
import { parseMemoryKiB } from './values.js';

/** VIR_DOMAIN_MEMORY_PARAM_UNLIMITED: a memory limit that is not set. */
export const MEMORY_UNLIMITED = 9007199254740991;

/** `<memtune>`, KiB; a limit not set is {@link MEMORY_UNLIMITED}. */
export interface MemTune {
  hardLimit: number;
  softLimit: number;
  swapHardLimit: number;
}

/** One `<blkiotune><device>`: a host block device and its limits (0: not set). */
export interface BlkioDevice {
  path: string;
  weight: number;
  readIopsSec: number;
  writeIopsSec: number;
  readBytesSec: number;
  writeBytesSec: number;
}

/** `<blkiotune>`: the weight (0: not set) and per-device limits. */
export interface BlkioTune {
  weight: number;
  devices: BlkioDevice[];
}

/** libvirt's numatune memory modes, by virDomainNumatuneMemMode value. */
export const NUMA_MODES = ['strict', 'preferred', 'interleave', 'restrictive'] as const;

/** `<numatune><memory>`: mode (a NUMA_MODES index) and nodeset ('' when not set). */
export interface NumaTune {
  mode: number;
  nodeset: string;
}

/** One direction of `<bandwidth>` (0: not set): KiB/s, bursts in KiB. */
export interface BandwidthRate {
  average: number;
  peak: number;
  burst: number;
  floor: number;
}

/** An interface's `<bandwidth>`; a direction absent when not set. */
export interface Bandwidth {
  inbound?: BandwidthRate;
  outbound?: BandwidthRate;
}

function element(name: string, attrs: Record<string, string>, children: XmlElement[] = [], text = ''): XmlElement {
  return { name, localName: name, namespaceURI: undefined, attrs, children, text };
}

/** The kept child element `name` of an object's own element, if any. */
function keptChild(kept: XmlKept | undefined, name: string): XmlElement | undefined {
  return kept?.['']?.children?.find((c) => c.el.name === name && c.el.namespaceURI === undefined)?.el;
}

/**
 * Puts `el` (or, undefined, nothing) in place of the kept child `name`, after the modelled
 * sibling `after` when it is new (libvirt's element order).
 */
function setKeptChild(owner: { kept?: XmlKept }, name: string, el: XmlElement | undefined, after: string): void {
  const kept: XmlKept = { ...(owner.kept ?? {}) };
  const rest = kept[''] ?? {};
  const children = [...(rest.children ?? [])];
  const at = children.findIndex((c) => c.el.name === name && c.el.namespaceURI === undefined);
  if (el === undefined) {
    if (at >= 0) children.splice(at, 1);
  } else if (at >= 0) {
    children[at] = { ...children[at]!, el };
  } else {
    // Among the kept siblings placed after the same element, in libvirt's order.
    const rank = (n: string) => ORDER.indexOf(n);
    let pos = children.findIndex((c) => c.after === after && rank(c.el.name) > rank(name));
    if (pos < 0) {
      pos = children.length;
      for (let i = children.length - 1; i >= 0; i--) {
        if (children[i]!.after === after) {
          pos = i + 1;
          break;
        }
      }
    }
    children.splice(pos, 0, { after, index: 0, el });
  }
  const next = { ...rest, children };
  if (children.length === 0) delete (next as { children?: unknown }).children;
  if (next.attrs === undefined && next.children === undefined) delete kept[''];
  else kept[''] = next;
  if (Object.keys(kept).length === 0) delete owner.kept;
  else owner.kept = kept;
}

/** libvirt's order of the tuning elements among the domain's children. */
const ORDER = ['blkiotune', 'memtune', 'memoryBacking', 'vcpu', 'iothreads', 'cputune', 'numatune'];

function kib(el: XmlElement | undefined, xpath: string): number {
  if (el === undefined) return MEMORY_UNLIMITED;
  return Math.min(MEMORY_UNLIMITED, parseMemoryKiB(el.text, el.attrs.unit, xpath));
}
function num(text: string | undefined): number {
  const n = Number(text ?? '');
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

/** The domain's `<memtune>` limits. */
export function memTuneOf(def: DomainDef): MemTune {
  const el = keptChild(def.kept, 'memtune');
  const part = (n: string) => el?.children.find((c) => c.name === n);
  return {
    hardLimit: kib(part('hard_limit'), './memtune/hard_limit[1]'),
    softLimit: kib(part('soft_limit'), './memtune/soft_limit[1]'),
    swapHardLimit: kib(part('swap_hard_limit'), './memtune/swap_hard_limit[1]'),
  };
}

/** Writes `<memtune>` (keeping what it held beyond the three limits, e.g. min_guarantee). */
export function setMemTune(def: DomainDef, t: MemTune): void {
  const old = keptChild(def.kept, 'memtune');
  const limit = (n: string, v: number) => (v >= MEMORY_UNLIMITED ? [] : [element(n, { unit: 'KiB' }, [], String(v))]);
  const others = (old?.children ?? []).filter((c) => !['hard_limit', 'soft_limit', 'swap_hard_limit'].includes(c.name));
  const minGuarantee = others.filter((c) => c.name === 'min_guarantee');
  const rest = others.filter((c) => c.name !== 'min_guarantee');
  const children = [
    ...limit('hard_limit', t.hardLimit),
    ...limit('soft_limit', t.softLimit),
    ...minGuarantee,
    ...limit('swap_hard_limit', t.swapHardLimit),
    ...rest,
  ];
  setKeptChild(def, 'memtune', children.length === 0 ? undefined : element('memtune', {}, children), 'currentMemory');
}

const BLKIO_FIELDS: [keyof Omit<BlkioDevice, 'path'>, string][] = [
  ['weight', 'weight'],
  ['readIopsSec', 'read_iops_sec'],
  ['writeIopsSec', 'write_iops_sec'],
  ['readBytesSec', 'read_bytes_sec'],
  ['writeBytesSec', 'write_bytes_sec'],
];

/** The domain's `<blkiotune>`. */
export function blkioTuneOf(def: DomainDef): BlkioTune {
  const el = keptChild(def.kept, 'blkiotune');
  const weight = num(el?.children.find((c) => c.name === 'weight')?.text.trim());
  const devices = (el?.children ?? [])
    .filter((c) => c.name === 'device')
    .map((d) => {
      const dev: BlkioDevice = { path: '', weight: 0, readIopsSec: 0, writeIopsSec: 0, readBytesSec: 0, writeBytesSec: 0 };
      dev.path = d.children.find((c) => c.name === 'path')?.text.trim() ?? '';
      for (const [key, name] of BLKIO_FIELDS) dev[key] = num(d.children.find((c) => c.name === name)?.text.trim());
      return dev;
    });
  return { weight, devices };
}

/** Writes `<blkiotune>` (absent when nothing is set). */
export function setBlkioTune(def: DomainDef, t: BlkioTune): void {
  const children: XmlElement[] = [];
  if (t.weight > 0) children.push(element('weight', {}, [], String(t.weight)));
  for (const d of t.devices) {
    const parts = [element('path', {}, [], d.path)];
    for (const [key, name] of BLKIO_FIELDS) if (d[key] > 0) parts.push(element(name, {}, [], String(d[key])));
    if (parts.length > 1) children.push(element('device', {}, parts));
  }
  setKeptChild(def, 'blkiotune', children.length === 0 ? undefined : element('blkiotune', {}, children), 'currentMemory');
}

/** The domain's `<numatune><memory>`: strict and no nodeset when absent. */
export function numaTuneOf(def: DomainDef): NumaTune {
  const mem = keptChild(def.kept, 'numatune')?.children.find((c) => c.name === 'memory');
  const mode = NUMA_MODES.indexOf((mem?.attrs.mode ?? 'strict') as (typeof NUMA_MODES)[number]);
  return { mode: mode < 0 ? 0 : mode, nodeset: mem?.attrs.nodeset ?? '' };
}

/** Writes `<numatune><memory>` (keeping `<memnode>` elements it held). */
export function setNumaTune(def: DomainDef, t: NumaTune): void {
  const old = keptChild(def.kept, 'numatune');
  const attrs: Record<string, string> = { mode: NUMA_MODES[t.mode] ?? 'strict' };
  if (t.nodeset !== '') attrs.nodeset = t.nodeset;
  const children = [element('memory', attrs), ...(old?.children ?? []).filter((c) => c.name !== 'memory')];
  setKeptChild(def, 'numatune', element('numatune', {}, children), 'vcpu');
}

function rateOf(el: XmlElement | undefined): BandwidthRate | undefined {
  if (el === undefined) return undefined;
  return { average: num(el.attrs.average), peak: num(el.attrs.peak), burst: num(el.attrs.burst), floor: num(el.attrs.floor) };
}
function rateElement(name: string, r: BandwidthRate): XmlElement {
  const attrs: Record<string, string> = {};
  for (const k of ['average', 'peak', 'floor', 'burst'] as const) if (r[k] > 0) attrs[k] = String(r[k]);
  return element(name, attrs);
}

/** An interface's `<bandwidth>`. */
export function bandwidthOf(net: DomainInterfaceDef): Bandwidth {
  const el = keptChild(net.kept, 'bandwidth');
  const out: Bandwidth = {};
  const inbound = rateOf(el?.children.find((c) => c.name === 'inbound'));
  const outbound = rateOf(el?.children.find((c) => c.name === 'outbound'));
  if (inbound !== undefined) out.inbound = inbound;
  if (outbound !== undefined) out.outbound = outbound;
  return out;
}

/** Writes an interface's `<bandwidth>` (absent when neither direction is set). */
export function setBandwidth(net: DomainInterfaceDef, b: Bandwidth): void {
  const children: XmlElement[] = [];
  if (b.inbound !== undefined) children.push(rateElement('inbound', b.inbound));
  if (b.outbound !== undefined) children.push(rateElement('outbound', b.outbound));
  setKeptChild(net, 'bandwidth', children.length === 0 ? undefined : element('bandwidth', {}, children), 'source');
}

/**
 * The interface a device name stands for, as libvirt's virDomainNetFind: a MAC address (when it
 * parses as one) matches the interface with that MAC, anything else its target device.
 */
export function findInterface(def: DomainDef, device: string): DomainInterfaceDef | undefined {
  const mac = /^([0-9a-f]{1,2}:){5}[0-9a-f]{1,2}$/i.test(device) ? device.toLowerCase().split(':').map((b) => b.padStart(2, '0')).join(':') : undefined;
  return def.devices.interfaces.find((n) => (mac !== undefined ? n.mac === mac : n.targetDev === device));
}
