/**
 * What tsvirt reads of a VirtualBox machine: `list vms`, `showvminfo --machinereadable` and the
 * snapshot tree in its keys, and the snapshot times in the machine's settings file. Pure parsing;
 * VirtualBox 6.1 and 7.0 formats (see test/fixtures/vbox/README.md).
 */
import { DomainState } from '../../core/enums.generated.js';
import { parseUUID } from '../../conf/values.js';
import { MachineReadableError, parseMachineReadable, toMap, type MachineReadableEntry } from './machinereadable.js';
import { unexpectedOutput } from './vboxmanage.js';

/** One line of `VBoxManage list vms`: `"name" {uuid}`. */
export interface MachineListEntry {
  name: string;
  uuid: string;
}

/**
 * Parses `list vms` / `list runningvms`. Inaccessible machines (`"<inaccessible>"`) are left
 * out, as libvirt's vbox driver skips them.
 */
export function parseMachineList(text: string): MachineListEntry[] {
  const out: MachineListEntry[] = [];
  for (const raw of text.replace(/\r\n/g, '\n').split('\n')) {
    const line = raw.trimEnd();
    if (line === '') continue;
    // The name is printed raw between quotes and may itself hold quotes or braces: the UUID is
    // what ends the line.
    const m = /^"(.*)" \{([0-9a-fA-F-]{36})\}$/.exec(line);
    if (m === null) throw unexpectedOutput('list', `cannot parse line '${line.slice(0, 200)}'`);
    const name = m[1] as string;
    const uuid = parseUUID(m[2] as string);
    if (uuid === undefined) throw unexpectedOutput('list', `bad UUID in '${line.slice(0, 200)}'`);
    if (name === '<inaccessible>') continue;
    out.push({ name, uuid });
  }
  return out;
}

/** A storage attachment (`"SATA-0-0"="/path"`). */
export interface MachineDisk {
  controller: string;
  /** VirtualBox's controller type (`IntelAhci`, `PIIX4`, `I82078`, `LsiLogic`, …). */
  controllerType: string;
  port: number;
  device: number;
  /** Path of the medium, or null for an empty drive. */
  path: string | null;
  /** A DVD drive (VirtualBox prints `…-IsEjected-…` only for those). */
  dvd: boolean;
}

/** A network adapter (`nic1="nat"`, `macaddress1=…`). */
export interface MachineNic {
  slot: number;
  /** `nat`, `bridged`, `hostonly`, `intnet`, `natnetwork`, `Generic`, `null`, … */
  attachment: string;
  mac: string | null;
  adapterType: string | null;
  /** The bridge, host-only adapter, internal or NAT network, when the attachment names one. */
  network: string | null;
}

/** One snapshot of the tree VirtualBox prints (`SnapshotName-1-2=…`). */
export interface MachineSnapshot {
  name: string;
  uuid: string;
  description: string | null;
  /** Name of the parent, null for the root. */
  parent: string | null;
  /** Position in the tree, parents before children. */
  order: number;
}

/** A machine as `showvminfo --machinereadable` describes it. */
export interface MachineInfo {
  name: string;
  uuid: string;
  ostype: string;
  /** VirtualBox's short state name: `poweroff`, `running`, `paused`, `saved`, `aborted`, … */
  state: string;
  memoryMiB: number;
  cpus: number;
  description: string | null;
  cfgFile: string | null;
  autostart: boolean;
  acpi: boolean;
  ioapic: boolean;
  pae: boolean;
  rtcUseUTC: boolean;
  boot: string[];
  disks: MachineDisk[];
  nics: MachineNic[];
  snapshots: MachineSnapshot[];
  currentSnapshot: string | null;
}

/** VirtualBox states of a machine with a running VM process (MachineState_FirstOnline…LastOnline). */
const ONLINE_STATES = new Set([
  'running',
  'paused',
  'gurumeditation',
  'teleporting',
  'livesnapshotting',
  'starting',
  'stopping',
  'saving',
  'restoring',
  'teleportingpausedvm',
  'teleportingin',
  'deletingsnapshotlive',
  'deletingsnapshotlivepaused',
  'onlinesnapshotting',
]);

/** True when the machine has a VM process: libvirt's vbox driver calls it active and gives it an ID. */
export function isOnline(state: string): boolean {
  return ONLINE_STATES.has(state);
}

/** libvirt's vbox state mapping (vboxConvertState), on VBoxManage's short state names. */
export function domainStateOf(state: string): DomainState {
  switch (state) {
    case 'running':
      return DomainState.RUNNING;
    case 'gurumeditation':
      return DomainState.BLOCKED;
    case 'paused':
      return DomainState.PAUSED;
    case 'stopping':
      return DomainState.SHUTDOWN;
    case 'poweroff':
    case 'saved':
      return DomainState.SHUTOFF;
    case 'aborted':
      return DomainState.CRASHED;
    default:
      // libvirt 9.0 maps every other state (including 7.0's aborted-saved) to NOSTATE.
      return DomainState.NOSTATE;
  }
}

function num(map: Map<string, string>, key: string, what: string): number {
  const v = map.get(key);
  if (v === undefined || !/^[0-9]+$/.test(v)) {
    throw unexpectedOutput(what, v === undefined ? `no '${key}'` : `'${key}' is '${v.slice(0, 40)}', not a number`);
  }
  return Number(v);
}

/**
 * Parses `showvminfo <vm> --machinereadable`. Errors: VIR_ERR_INTERNAL_ERROR when the output
 * lacks what every VirtualBox prints (name, UUID, state, memory, CPUs).
 */
export function parseShowVMInfo(text: string): MachineInfo {
  const what = 'showvminfo';
  let entries;
  try {
    entries = parseMachineReadable(text);
  } catch (e) {
    throw unexpectedOutput(what, (e as MachineReadableError).message);
  }
  const map = toMap(entries);
  const name = map.get('name');
  const uuid = parseUUID(map.get('UUID') ?? '');
  const state = map.get('VMState');
  if (name === undefined || uuid === undefined || state === undefined) {
    throw unexpectedOutput(what, 'no name, UUID or VMState');
  }
  if (name === '<inaccessible>') throw unexpectedOutput(what, `machine {${uuid}} is inaccessible`);
  const info: MachineInfo = {
    name,
    uuid,
    ostype: map.get('ostype') ?? 'Other',
    state,
    memoryMiB: num(map, 'memory', what),
    cpus: num(map, 'cpus', what),
    description: map.get('description') ?? null,
    cfgFile: map.get('CfgFile') ?? null,
    autostart: map.get('autostart-enabled') === 'on',
    acpi: map.get('acpi') === 'on',
    ioapic: map.get('ioapic') === 'on',
    pae: map.get('pae') === 'on',
    rtcUseUTC: map.get('rtcuseutc') === 'on',
    boot: [],
    disks: parseDisks(entries, map),
    nics: parseNics(map),
    snapshots: parseSnapshotTree(entries.map((e) => [e.key, e.value])),
    currentSnapshot: map.get('CurrentSnapshotName') ?? null,
  };
  for (let i = 1; map.has(`boot${i}`); i++) {
    const dev = map.get(`boot${i}`) as string;
    if (dev !== 'none') info.boot.push(dev);
  }
  return info;
}

function parseDisks(entries: readonly MachineReadableEntry[], map: Map<string, string>): MachineDisk[] {
  const disks: MachineDisk[] = [];
  const controllers = new Map<string, string>();
  for (let c = 0; map.has(`storagecontrollername${c}`); c++) {
    controllers.set(map.get(`storagecontrollername${c}`) as string, map.get(`storagecontrollertype${c}`) ?? '');
  }
  let last: MachineDisk | null = null;
  for (const { key, value } of entries) {
    const m = /^(.*)-([0-9]+)-([0-9]+)$/.exec(key);
    const controller = m?.[1];
    if (m !== null && controller !== undefined && controllers.has(controller)) {
      last = null;
      if (value === 'none') continue;
      const disk: MachineDisk = {
        controller,
        controllerType: controllers.get(controller) as string,
        port: Number(m[2]),
        device: Number(m[3]),
        path: value === 'emptydrive' ? null : value,
        // An empty drive is a removable one; 7.0 marks DVDs with -IsEjected-P-D below.
        dvd: value === 'emptydrive' || /\.iso$/i.test(value),
      };
      disks.push(disk);
      last = disk;
      continue;
    }
    // VirtualBox before 7.0 printed a DVD's "CTL-IsEjected" without port and device, right
    // after its attachment; 7.0 adds them ("CTL-IsEjected-P-D").
    const ej = /^(.*)-(?:IsEjected|tempeject)(?:-([0-9]+)-([0-9]+))?$/.exec(key);
    if (ej !== null && controllers.has(ej[1] as string)) {
      const target =
        ej[2] === undefined
          ? last
          : disks.find((d) => d.controller === ej[1] && d.port === Number(ej[2]) && d.device === Number(ej[3]));
      if (target !== null && target !== undefined) target.dvd = true;
      continue;
    }
    if (!/-ImageUUID-|-nonrotational-|-discard-|-hot-pluggable-|-dvdpassthrough-/.test(key)) last = null;
  }
  return disks;
}

function parseNics(map: Map<string, string>): MachineNic[] {
  const nics: MachineNic[] = [];
  for (let i = 1; map.has(`nic${i}`); i++) {
    const attachment = map.get(`nic${i}`) as string;
    if (attachment === 'none') continue;
    const network =
      map.get(`bridgeadapter${i}`) ??
      map.get(`hostonlyadapter${i}`) ??
      map.get(`intnet${i}`) ??
      map.get(`nat-network${i}`) ??
      map.get(`hostonly-network${i}`) ??
      null;
    nics.push({ slot: i, attachment, mac: map.get(`macaddress${i}`) ?? null, adapterType: map.get(`nictype${i}`) ?? null, network });
  }
  return nics;
}

/**
 * The snapshot tree from `SnapshotName…`/`SnapshotUUID…` keys, whose suffix is the path from the
 * root: `SnapshotName`, `SnapshotName-1`, `SnapshotName-1-2` (VBoxManageInfo.cpp, showSnapshots).
 * Used for both showvminfo and `snapshot list --machinereadable`.
 */
export function parseSnapshotTree(pairs: readonly (readonly [string, string])[]): MachineSnapshot[] {
  const byPath = new Map<string, MachineSnapshot>();
  const out: MachineSnapshot[] = [];
  for (const [key, value] of pairs) {
    let m = /^SnapshotName((?:-[0-9]+)*)$/.exec(key);
    if (m !== null) {
      const path = m[1] as string;
      const parentPath = path.replace(/-[0-9]+$/, '');
      const parent = path === '' ? null : byPath.get(parentPath);
      if (parent === undefined) throw unexpectedOutput('showvminfo', `snapshot ${key} has no parent in the output`);
      const snap: MachineSnapshot = { name: value, uuid: '', description: null, parent: parent?.name ?? null, order: out.length };
      byPath.set(path, snap);
      out.push(snap);
      continue;
    }
    m = /^Snapshot(UUID|Description)((?:-[0-9]+)*)$/.exec(key);
    if (m !== null) {
      const snap = byPath.get(m[2] as string);
      if (snap === undefined) continue;
      if (m[1] === 'UUID') snap.uuid = parseUUID(value) ?? value;
      else snap.description = value;
    }
  }
  return out;
}

/** Parses `snapshot <vm> list --machinereadable` (exit status 1 with a message when there are none). */
export function parseSnapshotList(text: string): { snapshots: MachineSnapshot[]; current: string | null } {
  let entries;
  try {
    entries = parseMachineReadable(text);
  } catch (e) {
    throw unexpectedOutput('snapshot list', (e as MachineReadableError).message);
  }
  const current = entries.find((e) => e.key === 'CurrentSnapshotName')?.value ?? null;
  return { snapshots: parseSnapshotTree(entries.map((e) => [e.key, e.value])), current };
}

/** What the settings file (`.vbox`) adds about a snapshot: when it was taken, whether it saved the VM's memory. */
export interface SnapshotSettings {
  /** Seconds since the epoch, or undefined. */
  timeStamp?: number;
  /** Taken of a running VM: it has a saved state (`stateFile=`). */
  online: boolean;
}

function unescapeXmlAttr(v: string): string {
  return v.replace(/&(quot|apos|lt|gt|amp|#x([0-9a-fA-F]+)|#([0-9]+));/g, (_all, name: string, hex?: string, dec?: string) => {
    if (hex !== undefined) return String.fromCodePoint(parseInt(hex, 16));
    if (dec !== undefined) return String.fromCodePoint(Number(dec));
    return ({ quot: '"', apos: "'", lt: '<', gt: '>', amp: '&' } as Record<string, string>)[name] ?? '';
  });
}

/**
 * The `<Snapshot uuid=… timeStamp=… stateFile=…>` elements of a VirtualBox settings file, by
 * snapshot UUID (VirtualBox-settings.xsd). Only the start tags are read; unknown content is
 * ignored.
 */
export function parseSettingsSnapshots(xml: string): Map<string, SnapshotSettings> {
  const out = new Map<string, SnapshotSettings>();
  for (const tag of xml.matchAll(/<Snapshot\s([^>]*)>/g)) {
    const attrs = new Map<string, string>();
    for (const a of (tag[1] as string).matchAll(/([A-Za-z_:][\w.:-]*)\s*=\s*"([^"]*)"/g)) {
      attrs.set(a[1] as string, unescapeXmlAttr(a[2] as string));
    }
    const uuid = parseUUID((attrs.get('uuid') ?? '').replace(/^\{|\}$/g, ''));
    if (uuid === undefined) continue;
    const t = Date.parse(attrs.get('timeStamp') ?? '');
    const entry: SnapshotSettings = { online: (attrs.get('stateFile') ?? '') !== '' };
    if (Number.isFinite(t)) entry.timeStamp = Math.floor(t / 1000);
    out.set(uuid, entry);
  }
  return out;
}

/** `VBoxManage --version` (`7.0.14r161095`) as libvirt encodes versions. */
export function parseVersion(text: string): number {
  const m = /^([0-9]+)\.([0-9]+)\.([0-9]+)/.exec(text.trim());
  if (m === null) throw unexpectedOutput('--version', `'${text.trim().slice(0, 80)}'`);
  return Number(m[1]) * 1_000_000 + Number(m[2]) * 1_000 + Number(m[3]);
}
