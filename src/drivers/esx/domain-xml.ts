/**
 * A VM's vSphere configuration as a libvirt domain definition (`type='vmware'`): name, UUID,
 * memory, vCPUs, disks, CD-ROMs, floppies and network interfaces, formatted by src/conf.
 *
 * libvirt's esx driver downloads the VM's .vmx file and converts it; tsvirt builds the same
 * elements from `config.hardware` instead, which needs no datastore access. Device kinds come
 * from `xsi:type` when the server writes it, and from the device's shape when it does not.
 */
import { formatDomainXML, type DomainDef, type DomainDiskBus, type DomainDiskDef, type DomainInterfaceDef } from '../../conf/domain.js';
import { child, childInt, childText, children, type VimNode } from './xml.js';

/** What the formatter needs of a VM. */
export interface VmConfig {
  name: string;
  uuid: string;
  annotation?: string;
  /** `config.hardware` */
  hardware: VimNode | undefined;
  guestId?: string;
}

type DeviceKind = 'disk' | 'cdrom' | 'floppy' | 'nic' | 'controller' | 'other';

const NIC_TYPES: Record<string, string> = {
  VirtualE1000: 'e1000',
  VirtualE1000e: 'e1000e',
  VirtualVmxnet: 'vmxnet',
  VirtualVmxnet2: 'vmxnet2',
  VirtualVmxnet3: 'vmxnet3',
  VirtualPCNet32: 'vlance',
  VirtualSriovEthernetCard: 'sriov',
};

function kindOf(dev: VimNode): DeviceKind {
  const t = dev.xsiType;
  if (t !== undefined) {
    if (t === 'VirtualDisk') return 'disk';
    if (t === 'VirtualCdrom') return 'cdrom';
    if (t === 'VirtualFloppy') return 'floppy';
    if (t in NIC_TYPES || t.endsWith('EthernetCard')) return 'nic';
    if (t.endsWith('Controller')) return 'controller';
    return 'other';
  }
  // No xsi:type: recognise the device by the fields only that kind has.
  if (child(dev, 'capacityInKB') !== undefined || child(dev, 'capacityInBytes') !== undefined) return 'disk';
  if (child(dev, 'macAddress') !== undefined || child(dev, 'addressType') !== undefined) return 'nic';
  if (child(dev, 'busNumber') !== undefined) return 'controller';
  return 'other';
}

function controllerBus(ctrl: VimNode | undefined): DomainDiskBus {
  const t = ctrl?.xsiType ?? '';
  if (t.includes('IDE')) return 'ide';
  if (t.includes('SATA') || t.includes('AHCI')) return 'sata';
  if (t.includes('NVME')) return 'scsi';
  if (t.includes('SIO')) return 'fdc';
  if (ctrl !== undefined && child(ctrl, 'scsiCtlrUnitNumber') !== undefined) return 'scsi';
  return 'scsi';
}

const BUS_PREFIX: Partial<Record<DomainDiskBus, string>> = { ide: 'hd', sata: 'sd', scsi: 'sd', fdc: 'fd' };

/** libvirt's device naming: sda…sdz, sdaa…; `index` counts from 0. */
function diskName(prefix: string, index: number): string {
  let name = '';
  let i = index;
  do {
    name = String.fromCharCode(97 + (i % 26)) + name;
    i = Math.floor(i / 26) - 1;
  } while (i >= 0);
  return prefix + name;
}

/** Builds the domain definition of a VM. */
export function vmDomainDef(vm: VmConfig): DomainDef {
  const hw = vm.hardware;
  const memoryKiB = (childInt(hw, 'memoryMB') ?? 0) * 1024;
  const vcpus = Math.max(1, childInt(hw, 'numCPU') ?? 1);
  const devices = children(hw, 'device');
  const byKey = new Map<number, VimNode>();
  for (const d of devices) {
    const key = childInt(d, 'key');
    if (key !== undefined) byKey.set(key, d);
  }
  const disks: DomainDiskDef[] = [];
  const interfaces: DomainInterfaceDef[] = [];
  const perBus = new Map<string, number>();
  for (const dev of devices) {
    const kind = kindOf(dev);
    if (kind === 'disk' || kind === 'cdrom' || kind === 'floppy') {
      const ctrlKey = childInt(dev, 'controllerKey');
      const ctrl = ctrlKey !== undefined ? byKey.get(ctrlKey) : undefined;
      const bus: DomainDiskBus = kind === 'floppy' ? 'fdc' : controllerBus(ctrl);
      const prefix = BUS_PREFIX[bus] ?? 'sd';
      // Names follow controller bus and unit, as libvirt's vmx converter numbers them.
      const busNumber = childInt(ctrl, 'busNumber') ?? 0;
      const unit = childInt(dev, 'unitNumber') ?? 0;
      const index =
        bus === 'scsi' ? busNumber * 15 + unit : bus === 'ide' ? busNumber * 2 + unit : bus === 'sata' ? busNumber * 30 + unit : unit;
      const taken = perBus.get(prefix + index) ?? 0;
      perBus.set(prefix + index, taken + 1);
      const fileName = childText(child(dev, 'backing'), 'fileName');
      const disk: DomainDiskDef = {
        type: 'file',
        device: kind === 'disk' ? 'disk' : kind,
        targetDev: diskName(prefix, index + taken),
        targetBus: bus,
        readonly: kind === 'cdrom',
        address: { type: 'drive', controller: String(busNumber), bus: '0', target: '0', unit: String(unit) },
      };
      if (fileName !== undefined && fileName !== '') disk.sourceFile = fileName;
      disks.push(disk);
    } else if (kind === 'nic') {
      const backing = child(dev, 'backing');
      const nic: DomainInterfaceDef = {
        type: 'bridge',
        mac: (childText(dev, 'macAddress') ?? '').toLowerCase(),
        sourceBridge: childText(backing, 'deviceName') ?? childText(child(dev, 'deviceInfo'), 'summary') ?? '',
      };
      const model = dev.xsiType !== undefined ? NIC_TYPES[dev.xsiType] : undefined;
      if (model !== undefined) nic.model = model;
      interfaces.push(nic);
    }
  }
  const def: DomainDef = {
    type: 'vmware',
    name: vm.name,
    uuid: vm.uuid,
    memory: memoryKiB,
    currentMemory: memoryKiB,
    vcpu: { count: vcpus, placement: 'static' },
    os: { type: 'hvm', arch: vm.guestId?.includes('64') === true ? 'x86_64' : 'i686', boot: [] },
    clock: { offset: 'utc' },
    onPoweroff: 'destroy',
    onReboot: 'restart',
    onCrash: 'destroy',
    devices: { disks, interfaces, serials: [], consoles: [], graphics: [] },
  };
  if (vm.annotation !== undefined && vm.annotation !== '') def.description = vm.annotation;
  return def;
}

/** The domain XML of a VM; `id` is written when the VM runs. */
export function vmDomainXML(vm: VmConfig, id: number, inactive: boolean): string {
  return formatDomainXML(vmDomainDef(vm), { id, inactive });
}
