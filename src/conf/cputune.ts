/**
 * `<cputune>`'s pinning: `<vcpupin vcpu='N' cpuset='…'/>` and `<emulatorpin cpuset='…'/>`, read
 * from and written into a definition. The element itself stays kept whole (its other children,
 * shares, periods, quotas and iothread pins, are written back untouched); only the pins change.
 * Pure: no I/O.
 */
import type { DomainDef } from './domain.js';
import type { XmlElement, XmlKeptChild } from './xml.js';
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { VirError } from '../core/errors.js';

/** The pins of a definition: host CPU lists by vCPU, and the emulator's. */
export interface CpuPins {
  vcpupin: Map<number, number[]>;
  emulatorpin?: number[];
}

/** libvirt's cpuset syntax ("0-3,^2,5"): the CPUs it names, ascending. */
export function parseCpuset(text: string): number[] {
  const on = new Set<number>();
  const bad = (): VirError => VirError.report(ErrorDomain.DOMAIN, ErrorNumber.INVALID_ARG, `Failed to parse bitmap '${text}'`);
  if (text.trim() === '') return [];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const neg = part.startsWith('^');
    const m = /^(\d+)(?:-(\d+))?$/.exec(neg ? part.slice(1) : part);
    if (m === null) throw bad();
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b > 65535) throw bad();
    for (let c = a; c <= b; c++) {
      if (neg) on.delete(c);
      else on.add(c);
    }
  }
  return [...on].sort((x, y) => x - y);
}

/** libvirt's virBitmapFormat: ascending ranges, "0-1,3"; '' for none. */
export function formatCpuset(cpus: readonly number[]): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === (sorted[j] as number) + 1) j++;
    out.push(j === i ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

function cputuneChild(def: DomainDef): XmlKeptChild | undefined {
  return def.kept?.['']?.children?.find((c) => c.el.name === 'cputune' && c.el.namespaceURI === undefined);
}

/** The pins `def`'s `<cputune>` holds. */
export function cpuPinsOf(def: DomainDef): CpuPins {
  const pins: CpuPins = { vcpupin: new Map() };
  const ct = cputuneChild(def)?.el;
  for (const c of ct?.children ?? []) {
    if (c.name === 'vcpupin' && c.attrs.vcpu !== undefined && c.attrs.cpuset !== undefined) {
      pins.vcpupin.set(Number(c.attrs.vcpu), parseCpuset(c.attrs.cpuset));
    } else if (c.name === 'emulatorpin' && c.attrs.cpuset !== undefined) {
      pins.emulatorpin = parseCpuset(c.attrs.cpuset);
    }
  }
  return pins;
}

function leaf(name: string, attrs: Record<string, string>): XmlElement {
  return { name, localName: name, namespaceURI: undefined, attrs, children: [], text: '' };
}

/**
 * Writes `pins` into `def`'s `<cputune>` in libvirt's order (other tuning first, then the vCPU
 * pins by vCPU, the emulator's, then the rest), creating the element after `<vcpu>` or dropping
 * it when nothing is left in it.
 */
export function setCpuPins(def: DomainDef, pins: CpuPins): void {
  const kept = (def.kept ??= {});
  const rest = kept[''] ?? {};
  const children = [...(rest.children ?? [])];
  const at = children.findIndex((c) => c.el.name === 'cputune' && c.el.namespaceURI === undefined);
  const old = at >= 0 ? (children[at] as XmlKeptChild).el : undefined;
  const others = (old?.children ?? []).filter((c) => c.name !== 'vcpupin' && c.name !== 'emulatorpin');
  const PIN_AFTER = new Set(['shares', 'period', 'quota', 'global_period', 'global_quota', 'emulator_period', 'emulator_quota', 'iothread_period', 'iothread_quota']);
  const before = others.filter((c) => PIN_AFTER.has(c.name));
  const after = others.filter((c) => !PIN_AFTER.has(c.name));
  const vcpupins = [...pins.vcpupin.entries()].sort((a, b) => a[0] - b[0]).map(([v, cpus]) => leaf('vcpupin', { vcpu: String(v), cpuset: formatCpuset(cpus) }));
  const emu = pins.emulatorpin === undefined ? [] : [leaf('emulatorpin', { cpuset: formatCpuset(pins.emulatorpin) })];
  const body = [...before, ...vcpupins, ...emu, ...after];
  const el: XmlElement = { name: 'cputune', localName: 'cputune', namespaceURI: undefined, attrs: old?.attrs ?? {}, children: body, text: '' };
  if (at >= 0) {
    if (body.length === 0) children.splice(at, 1);
    else children[at] = { ...(children[at] as XmlKeptChild), el };
  } else if (body.length > 0) {
    // After <vcpu>, and after unmodelled elements kept there already (<iothreads>).
    children.push({ after: 'vcpu', index: 0, el });
  }
  const next = { ...rest, children };
  if (children.length === 0) delete (next as { children?: unknown }).children;
  if (next.attrs === undefined && next.children === undefined) delete kept[''];
  else kept[''] = next;
}

/** The CPUs a cpumap (one entry per host CPU) names. */
export function cpusOf(cpumap: readonly boolean[]): number[] {
  const out: number[] = [];
  cpumap.forEach((on, c) => {
    if (on) out.push(c);
  });
  return out;
}

/**
 * A cpumap over `maxCpus` host CPUs for a pin: its CPUs, or, unpinned (undefined), every one of
 * the host's `hostCpus` (libvirt's virDomainDefGetVcpuPinInfoHelper).
 */
export function cpuMap(cpus: readonly number[] | undefined, maxCpus: number, hostCpus: number): boolean[] {
  if (cpus === undefined) return Array.from({ length: maxCpus }, (_, c) => c < hostCpus);
  const on = new Set(cpus);
  return Array.from({ length: maxCpus }, (_, c) => on.has(c));
}
