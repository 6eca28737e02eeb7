/**
 * Device edits of a domain definition, as libvirt's generic code makes them (virDomainDiskInsert,
 * virDomainNetFindIdx, the qemu driver's *DeviceConfig functions): attach, detach and update of
 * one device, matching for detach (a disk by its target, an interface by MAC, any device by
 * alias), with libvirt's errors. Pure functions of a definition: the drivers apply them to the
 * definitions the modification impact names, under the domain's job (MetadataDriver.editDefs).
 */
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import { formatDomainXML, parseDomainXML, type DomainDef, type DomainDiskDef, type DomainInterfaceDef } from '../../conf/domain.js';
import { elementText, keptAlias, parseDeviceXML, type DeviceDef } from '../../conf/device.js';
import type { XmlElement, XmlKeptChild } from '../../conf/xml.js';
import type { DomainRecord } from '../../store/store.js';
import { defsOf, type Defs } from './defs.js';

const D = ErrorDomain.DOMAIN;
const err = (code: ErrorNumber, detail: string): VirError => VirError.report(D, code, detail);

/**
 * The unmodelled kinds a persistent definition may gain or lose (those of qemuDomainAttachDeviceConfig
 * and qemuDomainDetachDeviceConfig); graphics, video and the like may not.
 */
const CONFIG_KINDS = new Set([
  'controller', 'input', 'hostdev', 'sound', 'filesystem', 'rng', 'redirdev', 'shmem', 'watchdog',
  'vsock', 'serial', 'parallel', 'channel', 'console', 'lease', 'memory', 'fs',
]);

/** virDiskNameToIndex, for ordering disks of one bus. */
function diskIndex(name: string): number {
  const m = /^(?:sd|hd|vd|xvd|ubd|fd)([a-z]+)\d*$/.exec(name);
  if (m === null) return -1;
  let idx = 0;
  for (const ch of m[1] ?? '') idx = idx * 26 + (ch.charCodeAt(0) - 96);
  return idx - 1;
}

/** Every alias `def` uses (modelled devices and kept ones). */
function aliases(def: DomainDef): Set<string> {
  const out = new Set<string>();
  for (const d of def.devices.disks) if (d.alias !== undefined) out.add(d.alias);
  for (const n of def.devices.interfaces) if (n.alias !== undefined) out.add(n.alias);
  for (const k of def.kept?.devices?.children ?? []) {
    const a = keptAlias(k.el);
    if (a !== undefined) out.add(a);
  }
  return out;
}

function deviceAlias(dev: DeviceDef): string | undefined {
  if (dev.kind === 'disk') return dev.disk.alias;
  if (dev.kind === 'interface') return dev.net.alias;
  return keptAlias(dev.el);
}

/** virDomainDefCompatibleDevice's alias check: a new device may not reuse an alias. */
function checkAlias(def: DomainDef, dev: DeviceDef): void {
  const alias = deviceAlias(dev);
  if (alias !== undefined && aliases(def).has(alias)) throw err(ErrorNumber.CONFIG_UNSUPPORTED, `non unique alias detected: ${alias}`);
}

/** virDomainDiskInsert: after the last disk of its bus that comes before it by target name. */
function insertDisk(def: DomainDef, disk: DomainDiskDef): void {
  const disks = def.devices.disks;
  let at = -1;
  for (let i = disks.length - 1; i >= 0; i--) {
    const d = disks[i] as DomainDiskDef;
    if (d.targetBus !== disk.targetBus) continue;
    if (diskIndex(d.targetDev) > diskIndex(disk.targetDev)) at = i;
    else if (at === -1) at = i + 1;
  }
  if (at === -1) disks.push(disk);
  else disks.splice(at, 0, disk);
}

function keptChildren(def: DomainDef): readonly XmlKeptChild[] {
  return def.kept?.devices?.children ?? [];
}

function setKeptChildren(def: DomainDef, children: readonly XmlKeptChild[]): void {
  const rest = def.kept?.devices;
  const next = { ...(rest?.attrs === undefined ? {} : { attrs: rest.attrs }), ...(children.length > 0 ? { children } : {}) };
  const kept = { ...(def.kept ?? {}) };
  if (next.attrs === undefined && next.children === undefined) delete kept.devices;
  else kept.devices = next;
  if (Object.keys(kept).length === 0) delete def.kept;
  else def.kept = kept;
}

/** The disk with target `dev`, by index, or -1. */
export function diskByTarget(def: DomainDef, dev: string): number {
  return def.devices.disks.findIndex((d) => d.targetDev === dev);
}

/** A PCI `<address>` as libvirt prints it (virPCIDeviceAddressAsString): `0000:00:03.0`. */
function pciText(a: Record<string, string> | undefined): string | undefined {
  if (a?.type !== 'pci') return undefined;
  const n = (v: string | undefined): number => Number.parseInt(v ?? '0', v?.startsWith('0x') === true ? 16 : 10);
  const hex = (v: number, w: number): string => v.toString(16).padStart(w, '0');
  return `${hex(n(a.domain), 4)}:${hex(n(a.bus), 2)}:${hex(n(a.slot), 2)}.${n(a.function)}`;
}

/**
 * virDomainNetFindIdx: the interface `net` names — by MAC when the XML gave one, by PCI address
 * and alias when it has them; libvirt's errors when none or several match.
 */
export function findInterface(def: DomainDef, net: DomainInterfaceDef, macGiven: boolean): number {
  const addr = pciText(net.address);
  const matches: number[] = [];
  def.devices.interfaces.forEach((n, i) => {
    if (macGiven && n.mac !== net.mac) return;
    if (addr !== undefined && pciText(n.address) !== addr) return;
    if (net.alias !== undefined && n.alias !== net.alias) return;
    matches.push(i);
  });
  if (matches.length === 0) {
    // libvirt 9.0's words, with what glibc prints for its absent strings.
    throw err(
      ErrorNumber.DEVICE_MISSING,
      `no device found at address '${addr ?? '(<null>)'}' matching MAC address '${net.mac}' and alias '${net.alias ?? '(<null>)'}'`,
    );
  }
  if (matches.length > 1) {
    if (macGiven) throw err(ErrorNumber.OPERATION_FAILED, `multiple devices matching MAC address ${net.mac} found`);
    throw err(ErrorNumber.OPERATION_FAILED, 'multiple matching devices found');
  }
  return matches[0] as number;
}

/** The kept device element written exactly as `el` (ignoring a live alias and address it got), by index, or -1. */
export function findOther(def: DomainDef, el: XmlElement): number {
  const want = elementText(el);
  return keptChildren(def).findIndex((k) => elementText(k.el) === want || elementText(withoutLiveInfo(k.el)) === want);
}

function withoutLiveInfo(el: XmlElement): XmlElement {
  return { ...el, children: el.children.filter((c) => c.name !== 'alias' && c.name !== 'address') };
}

/** qemuDomainAttachDeviceConfig: adds `dev` to a definition. */
export function attachToDef(def: DomainDef, dev: DeviceDef): void {
  checkAlias(def, dev);
  switch (dev.kind) {
    case 'disk':
      if (diskByTarget(def, dev.disk.targetDev) >= 0) {
        throw err(ErrorNumber.OPERATION_INVALID, `target ${dev.disk.targetDev} already exists`);
      }
      insertDisk(def, structuredClone(dev.disk));
      return;
    case 'interface':
      def.devices.interfaces.push(structuredClone(dev.net));
      return;
    case 'other':
      if (!CONFIG_KINDS.has(dev.name)) {
        throw err(ErrorNumber.OPERATION_UNSUPPORTED, `persistent attach of device '${dev.name}' is not supported`);
      }
      // Kept whole at the end of <devices>; the next parse puts it in the model when it is of a modelled kind.
      setKeptChildren(def, [...keptChildren(def), { after: '#end', index: 0, el: dev.el, whole: true }]);
      return;
  }
}

/** qemuDomainDetachDeviceConfig: removes the device `dev` names; returns what was removed. */
export function detachFromDef(def: DomainDef, dev: DeviceDef): void {
  switch (dev.kind) {
    case 'disk': {
      const i = diskByTarget(def, dev.disk.targetDev);
      if (i < 0) throw err(ErrorNumber.DEVICE_MISSING, `no target device ${dev.disk.targetDev}`);
      def.devices.disks.splice(i, 1);
      return;
    }
    case 'interface':
      def.devices.interfaces.splice(findInterface(def, dev.net, dev.macGiven), 1);
      return;
    case 'other': {
      if (!CONFIG_KINDS.has(dev.name)) {
        throw err(ErrorNumber.OPERATION_UNSUPPORTED, `persistent detach of device '${dev.name}' is not supported`);
      }
      const i = findOther(def, dev.el);
      if (i < 0) throw err(ErrorNumber.DEVICE_MISSING, 'device not present in domain configuration');
      setKeptChildren(def, keptChildren(def).filter((_, j) => j !== i));
      return;
    }
  }
}

/** qemuDomainUpdateDeviceConfig: replaces the disk with the same target, or the interface with the same MAC. */
export function updateInDef(def: DomainDef, dev: DeviceDef): void {
  switch (dev.kind) {
    case 'disk': {
      const i = diskByTarget(def, dev.disk.targetDev);
      if (i < 0) throw err(ErrorNumber.INVALID_ARG, `target ${dev.disk.targetDev} doesn't exist.`);
      const old = def.devices.disks[i] as DomainDiskDef;
      const disk = structuredClone(dev.disk);
      disk.address ??= old.address;
      disk.alias ??= old.alias;
      def.devices.disks[i] = disk;
      return;
    }
    case 'interface': {
      const i = findInterface(def, dev.net, dev.macGiven);
      const old = def.devices.interfaces[i] as DomainInterfaceDef;
      const net = structuredClone(dev.net);
      if (!dev.macGiven) net.mac = old.mac;
      net.address ??= old.address;
      net.alias ??= old.alias;
      def.devices.interfaces[i] = net;
      return;
    }
    case 'other':
      throw err(ErrorNumber.OPERATION_UNSUPPORTED, `persistent update of device '${dev.name}' is not supported`);
  }
}

/** What an alias names in a definition. */
export type AliasMatch = { kind: 'disk' | 'interface' | 'other'; index: number };

/** virDomainDefFindDevice by alias; VIR_ERR_INTERNAL_ERROR "no device found with alias …" when none (as libvirt 9.0). */
export function findAlias(def: DomainDef, alias: string): AliasMatch {
  let index = def.devices.disks.findIndex((d) => d.alias === alias);
  if (index >= 0) return { kind: 'disk', index };
  index = def.devices.interfaces.findIndex((n) => n.alias === alias);
  if (index >= 0) return { kind: 'interface', index };
  index = keptChildren(def).findIndex((k) => keptAlias(k.el) === alias);
  if (index >= 0) return { kind: 'other', index };
  throw err(ErrorNumber.INTERNAL_ERROR, `no device found with alias ${alias}`);
}

/** Removes what {@link findAlias} found. */
export function removeAlias(def: DomainDef, m: AliasMatch): void {
  if (m.kind === 'disk') def.devices.disks.splice(m.index, 1);
  else if (m.kind === 'interface') def.devices.interfaces.splice(m.index, 1);
  else setKeptChildren(def, keptChildren(def).filter((_, j) => j !== m.index));
}

/**
 * The definition as a new parse would give it (implicit controllers for a new SATA/SCSI disk, a
 * kept device of a modelled kind moved into the model) — and refused as a whole when the change
 * made it invalid (two devices with one boot order), before anything is stored.
 */
export function normalized(def: DomainDef, live: boolean): DomainDef {
  const xml = formatDomainXML(def, { inactive: !live, secure: true });
  return parseDomainXML(xml);
}

/** A device call on a domain: which one, and its XML (or alias). */
export type DeviceCall = { op: 'attach' | 'detach' | 'update'; xml: string } | { op: 'alias'; alias: string };

/** What a device call plans: the new definitions, and for the live one what changes in the guest. */
export interface DevicePlan {
  defs: Defs;
  /** The device as written (parsed once, as libvirt does, for both definitions); absent for 'alias'. */
  dev?: DeviceDef;
  /** Live attach: the device as it stands in the new live definition. */
  added?: LiveDevice;
  /** Live detach: the device leaving the live definition (as it stands in the old one). */
  removed?: LiveDevice;
  /** Live update: the device before and after. */
  updated?: { before: LiveDevice; after: LiveDevice };
}

/** A device of a live definition. */
export type LiveDevice = { kind: 'disk'; disk: DomainDiskDef } | { kind: 'interface'; net: DomainInterfaceDef } | { kind: 'other'; name: string; el: XmlElement };

/**
 * Plans a device call on the definitions `flags` names (libvirt's *LiveAndConfig functions):
 * the modification impact first ("domain is not running" before any XML error), then the XML,
 * parsed once; each definition edited as libvirt's config functions do and re-parsed whole.
 */
export function planDeviceCall(rec: DomainRecord, flags: number, call: DeviceCall): DevicePlan {
  const defs = defsOf(rec, flags);
  const base = defs.live ?? defs.config;
  if (base === null) throw err(ErrorNumber.OPERATION_INVALID, 'domain is not running');
  const plan: DevicePlan = { defs };
  if (call.op === 'alias') {
    if (defs.config !== null) {
      removeAlias(defs.config, findAlias(defs.config, call.alias));
      defs.config = normalized(defs.config, false);
    }
    if (defs.live !== null) {
      const m = findAlias(defs.live, call.alias);
      plan.removed = liveDevice(defs.live, m);
      removeAlias(defs.live, m);
    }
    return plan;
  }
  const dev = parseDeviceXML(call.xml, base);
  plan.dev = dev;
  if (defs.config !== null) {
    const copy = structuredClone(dev);
    if (call.op === 'attach') attachToDef(defs.config, copy);
    else if (call.op === 'detach') detachFromDef(defs.config, copy);
    else updateInDef(defs.config, copy);
    defs.config = normalized(defs.config, false);
  }
  const live = defs.live;
  if (live === null) return plan;
  if (call.op === 'attach') {
    attachToDef(live, structuredClone(dev));
    defs.live = normalized(live, true);
    if (dev.kind === 'disk') plan.added = { kind: 'disk', disk: defs.live.devices.disks[diskByTarget(defs.live, dev.disk.targetDev)] as DomainDiskDef };
    else if (dev.kind === 'interface') plan.added = { kind: 'interface', net: defs.live.devices.interfaces.filter((n) => n.mac === dev.net.mac).pop() as DomainInterfaceDef };
    else plan.added = { kind: 'other', name: dev.name, el: dev.el };
  } else if (call.op === 'detach') {
    if (dev.kind === 'disk') {
      const i = diskByTarget(live, dev.disk.targetDev);
      if (i < 0) throw err(ErrorNumber.DEVICE_MISSING, `disk ${dev.disk.targetDev} not found`);
      plan.removed = { kind: 'disk', disk: live.devices.disks[i] as DomainDiskDef };
    } else if (dev.kind === 'interface') {
      plan.removed = { kind: 'interface', net: live.devices.interfaces[findInterface(live, dev.net, dev.macGiven)] as DomainInterfaceDef };
    } else {
      plan.removed = { kind: 'other', name: dev.name, el: dev.el };
    }
    detachFromDef(live, structuredClone(dev));
  } else {
    const before = dev.kind === 'disk' ? diskByTarget(live, dev.disk.targetDev) : -1;
    const beforeDisk = before >= 0 ? structuredClone(live.devices.disks[before] as DomainDiskDef) : undefined;
    updateInDef(live, structuredClone(dev));
    defs.live = normalized(live, true);
    if (dev.kind === 'disk' && beforeDisk !== undefined) {
      plan.updated = { before: { kind: 'disk', disk: beforeDisk }, after: { kind: 'disk', disk: defs.live.devices.disks[diskByTarget(defs.live, dev.disk.targetDev)] as DomainDiskDef } };
    }
  }
  return plan;
}

function liveDevice(def: DomainDef, m: AliasMatch): LiveDevice {
  if (m.kind === 'disk') return { kind: 'disk', disk: def.devices.disks[m.index] as DomainDiskDef };
  if (m.kind === 'interface') return { kind: 'interface', net: def.devices.interfaces[m.index] as DomainInterfaceDef };
  const el = (def.kept?.devices?.children ?? [])[m.index]?.el as XmlElement;
  return { kind: 'other', name: el.name, el };
}
