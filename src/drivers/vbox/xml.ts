/**
 * libvirt's domain and snapshot XML for a VirtualBox machine, as libvirt's vbox driver builds
 * it (vboxDomainGetXMLDesc, vboxDomainSnapshotGetXMLDesc), through tsvirt's formatters in
 * src/conf. Pure.
 */
import { formatDomainXML, type DomainBootDevice, type DomainDef, type DomainDiskBus, type DomainDiskDef, type DomainInterfaceDef } from '../../conf/domain.js';
import { formatSnapshotXML, type SnapshotDef } from '../../conf/snapshot.js';
import { parseMAC } from '../../conf/values.js';
import type { MachineInfo, MachineSnapshot, SnapshotSettings } from './machine.js';

/** libvirt's naming of a disk target (vboxGenerateMediumName) and its bus. */
function diskTarget(bus: DomainDiskBus, port: number, device: number, sdCount: number): string {
  const index = bus === 'ide' ? port * 2 + device : bus === 'fdc' ? device : sdCount;
  const prefix = bus === 'ide' ? 'hd' : bus === 'fdc' ? 'fd' : 'sd';
  return prefix + diskName(index);
}

/** virIndexToDiskName: 0 → a, 25 → z, 26 → aa. */
function diskName(index: number): string {
  let name = '';
  for (let i = index; i >= 0; i = Math.floor(i / 26) - 1) name = String.fromCharCode(97 + (i % 26)) + name;
  return name;
}

function busOf(controllerType: string, controller: string): DomainDiskBus | undefined {
  switch (controllerType) {
    case 'PIIX3':
    case 'PIIX4':
    case 'ICH6':
      return 'ide';
    case 'IntelAhci':
      return 'sata';
    case 'LsiLogic':
    case 'BusLogic':
    case 'LsiLogicSas':
    case 'VirtioSCSI':
      return 'scsi';
    case 'I82078':
      return 'fdc';
    case 'USB':
      return 'usb';
    case 'NVMe':
      return undefined; // no libvirt bus for it in tsvirt's model
    default:
      return /^ide/i.test(controller) ? 'ide' : /^sata/i.test(controller) ? 'sata' : undefined;
  }
}

const BOOT: Record<string, DomainBootDevice> = { floppy: 'fd', dvd: 'cdrom', disk: 'hd', net: 'network' };

/** The machine as a libvirt domain definition (`<domain type='vbox'>`). */
export function machineDomainDef(m: MachineInfo): DomainDef {
  const disks: DomainDiskDef[] = [];
  let sdCount = 0;
  const sorted = [...m.disks].sort((a, b) => a.controller.localeCompare(b.controller) || a.port - b.port || a.device - b.device);
  for (const d of sorted) {
    const bus = busOf(d.controllerType, d.controller);
    if (bus === undefined) continue;
    const target = diskTarget(bus, d.port, d.device, sdCount);
    if (bus === 'sata' || bus === 'scsi') sdCount++;
    const device = bus === 'fdc' ? 'floppy' : d.dvd ? 'cdrom' : 'disk';
    const disk: DomainDiskDef = { type: 'file', device, targetDev: target, targetBus: bus, readonly: device === 'cdrom' };
    if (d.path !== null) disk.sourceFile = d.path;
    disks.push(disk);
  }
  const interfaces: DomainInterfaceDef[] = [];
  for (const n of m.nics) {
    const mac = n.mac !== null && /^[0-9a-fA-F]{12}$/.test(n.mac) ? parseMAC(n.mac.replace(/(..)(?!$)/g, '$1:')) : undefined;
    if (mac === undefined) continue;
    const nic: DomainInterfaceDef =
      n.attachment === 'bridged'
        ? { type: 'bridge', mac, ...(n.network !== null ? { sourceBridge: n.network } : {}) }
        : n.attachment === 'nat' || n.attachment === 'null' || n.network === null
          ? { type: 'user', mac }
          : { type: 'network', mac, sourceNetwork: n.network };
    if (n.adapterType !== null && n.adapterType !== 'unknown') nic.model = n.adapterType;
    interfaces.push(nic);
  }
  const boot = m.boot.map((b) => BOOT[b]).filter((b): b is DomainBootDevice => b !== undefined);
  const def: DomainDef = {
    type: 'vbox',
    name: m.name,
    uuid: m.uuid,
    memory: m.memoryMiB * 1024,
    currentMemory: m.memoryMiB * 1024,
    vcpu: { count: Math.max(1, m.cpus), placement: 'static' },
    os: { type: 'hvm', arch: /_64$/.test(m.ostype) ? 'x86_64' : 'i686', boot: boot.length > 0 ? boot : ['hd'] },
    clock: { offset: m.rtcUseUTC ? 'utc' : 'localtime' },
    onPoweroff: 'destroy',
    onReboot: 'restart',
    onCrash: 'destroy',
    devices: { disks, interfaces, serials: [], consoles: [], graphics: [] },
  };
  if (m.description !== null && m.description !== '') def.description = m.description;
  if (m.acpi || m.ioapic || m.pae) def.features = { acpi: m.acpi, apic: m.ioapic, pae: m.pae };
  return def;
}

/** The domain XML; `id` is the runtime ID (written when > 0). */
export function machineDomainXML(m: MachineInfo, id: number, inactive: boolean): string {
  return formatDomainXML(machineDomainDef(m), inactive ? { inactive: true } : { id });
}

/**
 * The snapshot XML: name, description, state (running for a snapshot of a running VM, as
 * libvirt's vbox driver reports online snapshots; else shutoff), parent, creation time when the
 * settings file gave it, and the domain's UUID.
 */
export function snapshotXML(m: MachineInfo, snap: MachineSnapshot, settings: SnapshotSettings | undefined): string {
  const def: SnapshotDef = {
    name: snap.name,
    state: settings?.online === true ? 'running' : 'shutoff',
    disks: [],
    domainUuid: m.uuid,
  };
  if (snap.description !== null && snap.description !== '') def.description = snap.description;
  if (snap.parent !== null) def.parent = snap.parent;
  if (settings?.timeStamp !== undefined) def.creationTime = settings.timeStamp;
  return formatSnapshotXML(def);
}
