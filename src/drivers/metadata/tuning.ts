/**
 * Tuning parameters as libvirt's APIs carry them (typed parameters) and as the definition keeps
 * them (src/conf/tuning.ts): memory limits, block I/O weights, NUMA memory, interface bandwidth.
 * Written once for every driver that keeps definitions (test, qemu); each driver adds its own
 * refusals (the QEMU driver's cgroup checks for a running guest).
 */
import type { ErrorDomain } from '../../core/enums.generated.js';
import { ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import type { TypedParameter } from '../../core/driver.js';
import type { DomainDef, DomainInterfaceDef } from '../../conf/domain.js';
import {
  NUMA_MODES,
  bandwidthOf,
  blkioTuneOf,
  findInterface,
  memTuneOf,
  numaTuneOf,
  setBandwidth,
  setBlkioTune,
  setMemTune,
  setNumaTune,
  type BandwidthRate,
  type BlkioDevice,
} from '../../conf/tuning.js';

const INT = 1;
const UINT = 2;
const ULLONG = 4;
const STRING = 7;
const TYPE_NAMES: Record<number, string> = { 1: 'int', 2: 'uint', 3: 'llong', 4: 'ullong', 5: 'double', 6: 'boolean', 7: 'string' };

/**
 * virTypedParamsValidate: every parameter is one of `allowed` (name → type), each at most once.
 * VIR_ERR_ARGUMENT_UNSUPPORTED "parameter 'X' not supported"; VIR_ERR_INVALID_ARG for a wrong
 * type or a repeated name.
 */
export function validateParams(params: readonly TypedParameter[], allowed: Readonly<Record<string, number>>, errDomain: ErrorDomain): void {
  const seen = new Set<string>();
  for (const p of params) {
    const type = allowed[p.field];
    if (type === undefined) throw VirError.report(errDomain, ErrorNumber.ARGUMENT_UNSUPPORTED, `parameter '${p.field}' not supported`);
    if (p.type !== type) {
      throw VirError.report(errDomain, ErrorNumber.INVALID_ARG, `invalid type '${TYPE_NAMES[p.type] ?? p.type}' for parameter '${p.field}', expected '${TYPE_NAMES[type]}'`);
    }
    if (seen.has(p.field)) throw VirError.report(errDomain, ErrorNumber.INVALID_ARG, `parameter '${p.field}' occurs multiple times`);
    seen.add(p.field);
  }
}

/** libvirt's "'X' is not a known interface" (VIR_FROM_DOMAIN), or the interface. */
export function interfaceOf(def: DomainDef, device: string, errDomain: ErrorDomain): DomainInterfaceDef {
  const net = findInterface(def, device);
  if (net === undefined) throw VirError.report(errDomain, ErrorNumber.INVALID_ARG, `'${device}' is not a known interface`);
  return net;
}

// Memory.

export const MEMORY_PARAMS = { hard_limit: ULLONG, soft_limit: ULLONG, swap_hard_limit: ULLONG } as const;

/** hard_limit, soft_limit, swap_hard_limit (KiB), as libvirt orders them. */
export function memoryParams(def: DomainDef): TypedParameter[] {
  const t = memTuneOf(def);
  return [
    { field: 'hard_limit', type: ULLONG, value: t.hardLimit },
    { field: 'soft_limit', type: ULLONG, value: t.softLimit },
    { field: 'swap_hard_limit', type: ULLONG, value: t.swapHardLimit },
  ];
}

/**
 * Applies memory parameters to `def` (validated already). VIR_ERR_INVALID_ARG "memory
 * hard_limit tunable value must be lower than or equal to swap_hard_limit".
 */
export function applyMemoryParams(def: DomainDef, params: readonly TypedParameter[], errDomain: ErrorDomain): void {
  const t = memTuneOf(def);
  const get = (f: string) => params.find((p) => p.field === f)?.value as number | undefined;
  const hard = get('hard_limit');
  const soft = get('soft_limit');
  const swap = get('swap_hard_limit');
  if (hard !== undefined || swap !== undefined) {
    if ((hard ?? t.hardLimit) > (swap ?? t.swapHardLimit)) {
      throw VirError.report(errDomain, ErrorNumber.INVALID_ARG, 'memory hard_limit tunable value must be lower than or equal to swap_hard_limit');
    }
  }
  if (hard !== undefined) t.hardLimit = hard;
  if (soft !== undefined) t.softLimit = soft;
  if (swap !== undefined) t.swapHardLimit = swap;
  setMemTune(def, t);
}

// Block I/O.

const BLKIO_LISTS: [param: string, key: keyof Omit<BlkioDevice, 'path'>][] = [
  ['device_weight', 'weight'],
  ['device_read_iops_sec', 'readIopsSec'],
  ['device_write_iops_sec', 'writeIopsSec'],
  ['device_read_bytes_sec', 'readBytesSec'],
  ['device_write_bytes_sec', 'writeBytesSec'],
];
export const BLKIO_PARAMS: Readonly<Record<string, number>> = { weight: UINT, ...Object.fromEntries(BLKIO_LISTS.map(([n]) => [n, STRING])) };

/** weight, then the per-device lists as "path,value,path,value" strings. */
export function blkioParams(def: DomainDef): TypedParameter[] {
  const t = blkioTuneOf(def);
  const list = (key: keyof Omit<BlkioDevice, 'path'>) =>
    t.devices
      .filter((d) => d[key] > 0)
      .map((d) => `${d.path},${d[key]}`)
      .join(',');
  return [{ field: 'weight', type: UINT, value: t.weight }, ...BLKIO_LISTS.map(([field, key]) => ({ field, type: STRING, value: list(key) }))];
}

/**
 * Applies block I/O parameters (validated already). `weightRange`: the QEMU driver's limits
 * (100 to 1000, else VIR_ERR_INVALID_ARG "out of blkio weight range."); libvirt's test driver
 * takes any weight. A device list "path,value,…" replaces that figure on the devices it names.
 */
export function applyBlkioParams(def: DomainDef, params: readonly TypedParameter[], errDomain: ErrorDomain, weightRange: boolean): void {
  const t = blkioTuneOf(def);
  for (const p of params) {
    if (p.field === 'weight') {
      const w = Number(p.value);
      if (weightRange && (w > 1000 || w < 100)) throw VirError.report(errDomain, ErrorNumber.INVALID_ARG, 'out of blkio weight range.');
      t.weight = w;
      continue;
    }
    const key = BLKIO_LISTS.find(([n]) => n === p.field)?.[1];
    if (key === undefined) continue;
    const text = String(p.value);
    const parts = text === '' ? [] : text.split(',');
    if (parts.length % 2 !== 0) throw VirError.report(errDomain, ErrorNumber.INVALID_ARG, `unable to parse blkio device '${text}'`);
    for (let i = 0; i < parts.length; i += 2) {
      const path = parts[i]!;
      const value = parts[i + 1]!;
      if (!/^\d+$/.test(value)) {
        throw VirError.report(errDomain, ErrorNumber.INVALID_ARG, `invalid value '${value}' for parameter '${p.field}' of device '${path}'`);
      }
      let dev = t.devices.find((d) => d.path === path);
      if (dev === undefined) {
        dev = { path, weight: 0, readIopsSec: 0, writeIopsSec: 0, readBytesSec: 0, writeBytesSec: 0 };
        t.devices.push(dev);
      }
      dev[key] = Number(value);
    }
  }
  setBlkioTune(def, t);
}

// NUMA.

export const NUMA_PARAMS = { numa_mode: INT, numa_nodeset: STRING } as const;

/** numa_mode (int) and numa_nodeset (string). */
export function numaParams(def: DomainDef): TypedParameter[] {
  const t = numaTuneOf(def);
  return [
    { field: 'numa_mode', type: INT, value: t.mode },
    { field: 'numa_nodeset', type: STRING, value: t.nodeset },
  ];
}

/** "0-2,5": a node set libvirt's virBitmapParse reads; false for anything else. */
function validNodeset(s: string): boolean {
  return /^\^?\d+(-\d+)?(,\^?\d+(-\d+)?)*$/.test(s.replace(/\s/g, ''));
}

/**
 * Applies NUMA parameters (validated already), as libvirt's test driver: VIR_ERR_INVALID_ARG
 * "unsupported numatune mode: 'N'"; VIR_ERR_OPERATION_INVALID "Invalid nodeset of 'numatune': X"
 * for an empty set, and "can't change numatune mode for running domain" when `live`.
 */
export function applyNumaParams(def: DomainDef, params: readonly TypedParameter[], errDomain: ErrorDomain, live: boolean): void {
  const t = numaTuneOf(def);
  let mode = -1;
  let nodeset: string | undefined;
  for (const p of params) {
    if (p.field === 'numa_mode') {
      mode = Number(p.value);
      if (mode < 0 || mode >= NUMA_MODES.length) throw VirError.report(errDomain, ErrorNumber.INVALID_ARG, `unsupported numatune mode: '${mode}'`);
    } else if (p.field === 'numa_nodeset') {
      const s = String(p.value);
      if (!validNodeset(s)) throw VirError.report(errDomain, ErrorNumber.INVALID_ARG, `Failed to parse bitmap '${s}'`);
      nodeset = s;
    }
  }
  if (live && mode !== -1 && mode !== t.mode) {
    throw VirError.report(errDomain, ErrorNumber.OPERATION_INVALID, "can't change numatune mode for running domain");
  }
  if (mode !== -1) t.mode = mode;
  if (nodeset !== undefined) t.nodeset = nodeset;
  setNumaTune(def, t);
}

// Interface bandwidth.

const RATE_KEYS = ['average', 'peak', 'burst', 'floor'] as const;
export const INTERFACE_PARAMS: Readonly<Record<string, number>> = {
  'inbound.average': UINT,
  'inbound.peak': UINT,
  'inbound.burst': UINT,
  'inbound.floor': UINT,
  'outbound.average': UINT,
  'outbound.peak': UINT,
  'outbound.burst': UINT,
};

/** The seven bandwidth figures of `net`, 0 where not set, in libvirt's order. */
export function interfaceParams(net: DomainInterfaceDef): TypedParameter[] {
  const b = bandwidthOf(net);
  const zero: BandwidthRate = { average: 0, peak: 0, burst: 0, floor: 0 };
  const inb = b.inbound ?? zero;
  const out = b.outbound ?? zero;
  return [
    ...RATE_KEYS.map((k) => ({ field: `inbound.${k}`, type: UINT, value: inb[k] })),
    ...RATE_KEYS.filter((k) => k !== 'floor').map((k) => ({ field: `outbound.${k}`, type: UINT, value: out[k] })),
  ];
}

/**
 * Applies bandwidth parameters (validated already), as libvirt: a direction given with an
 * average (or inbound floor) replaces the old one; given with neither, it is cleared.
 */
export function applyInterfaceParams(net: DomainInterfaceDef, params: readonly TypedParameter[]): void {
  const b = bandwidthOf(net);
  const fresh = (): BandwidthRate => ({ average: 0, peak: 0, burst: 0, floor: 0 });
  const inb = fresh();
  const out = fresh();
  let inGiven = false;
  let outGiven = false;
  for (const p of params) {
    const [dir, key] = p.field.split('.') as ['inbound' | 'outbound', (typeof RATE_KEYS)[number]];
    const v = Number(p.value);
    if (dir === 'inbound') {
      inb[key] = v;
      if (key === 'average' || key === 'floor') inGiven = true;
    } else {
      out[key] = v;
      if (key === 'average') outGiven = true;
    }
  }
  const inSet = inb.average > 0 || inb.floor > 0;
  const outSet = out.average > 0;
  if (inSet) b.inbound = inb;
  else if (inGiven) delete b.inbound;
  if (outSet) b.outbound = out;
  else if (outGiven) delete b.outbound;
  setBandwidth(net, b);
}
