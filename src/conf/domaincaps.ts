/**
 * libvirt's domain capabilities XML (`virsh domcapabilities`, virConnectGetDomainCapabilities):
 * what a driver can run for one emulator, architecture, machine type and virtualization type, in
 * the layout of libvirt 9.0's virDomainCapsFormat, valid against domaincaps.rng. Pure: the
 * driver says what it supports, this only writes it.
 */
import { XmlWriter } from './xml.js';

/** `<NAME supported='yes|no'>` with its `<enum name=…>` lists (an empty list is written empty). */
export interface DomainCapsEnums {
  supported: boolean;
  enums?: ReadonlyArray<readonly [name: string, values: readonly string[]]>;
}

/** One domain capabilities document. */
export interface DomainCapabilities {
  path: string;
  /** The domain type (`qemu`, `kvm`). */
  domain: string;
  machine?: string;
  arch: string;
  vcpuMax?: number;
  iothreads?: boolean;
  /** `<os>`: its firmware enum and its loader. */
  os: { supported: boolean; firmware: readonly string[]; loader: DomainCapsEnums };
  /** `<cpu>`: each mode by name, in libvirt's order (host-passthrough, maximum, host-model, custom). */
  cpuModes: ReadonlyArray<readonly [mode: string, supported: boolean]>;
  memoryBacking?: DomainCapsEnums;
  /** `<devices>`: each device kind in libvirt's order (disk, graphics, video, hostdev, rng, …). */
  devices: ReadonlyArray<readonly [name: string, caps: DomainCapsEnums]>;
  /** `<features>`: each feature's support (gic, vmcoreinfo, genid, backingStoreInput, backup, sev, sgx). */
  features: ReadonlyArray<readonly [name: string, supported: boolean]>;
}

function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}

function writeEnums(w: XmlWriter, name: string, caps: DomainCapsEnums, attrs: ReadonlyArray<readonly [string, string]> = []): void {
  const enums = caps.enums ?? [];
  if (!caps.supported || enums.length === 0) {
    w.empty(name, [...attrs, ['supported', yesNo(caps.supported)]]);
    return;
  }
  w.open(name, [...attrs, ['supported', 'yes']]);
  for (const [enumName, values] of enums) writeEnum(w, enumName, values);
  w.close(name);
}

function writeEnum(w: XmlWriter, name: string, values: readonly string[]): void {
  if (values.length === 0) {
    w.empty('enum', [['name', name]]);
    return;
  }
  w.open('enum', [['name', name]]);
  for (const v of values) w.text('value', v);
  w.close('enum');
}

/** The document, as libvirt 9.0 formats it. */
export function formatDomainCapabilitiesXML(caps: DomainCapabilities): string {
  const w = new XmlWriter(0);
  w.open('domainCapabilities');
  w.text('path', caps.path);
  w.text('domain', caps.domain);
  w.text('machine', caps.machine);
  w.text('arch', caps.arch);
  if (caps.vcpuMax !== undefined) w.empty('vcpu', [['max', caps.vcpuMax]]);
  if (caps.iothreads !== undefined) w.empty('iothreads', [['supported', yesNo(caps.iothreads)]]);
  if (!caps.os.supported) {
    w.empty('os', [['supported', 'no']]);
  } else {
    w.open('os', [['supported', 'yes']]);
    writeEnum(w, 'firmware', caps.os.firmware);
    writeEnums(w, 'loader', caps.os.loader);
    w.close('os');
  }
  w.open('cpu');
  for (const [mode, supported] of caps.cpuModes) w.empty('mode', [['name', mode], ['supported', yesNo(supported)]]);
  w.close('cpu');
  if (caps.memoryBacking !== undefined) writeEnums(w, 'memoryBacking', caps.memoryBacking);
  w.open('devices');
  for (const [name, dev] of caps.devices) writeEnums(w, name, dev);
  w.close('devices');
  w.open('features');
  for (const [name, supported] of caps.features) w.empty(name, [['supported', yesNo(supported)]]);
  w.close('features');
  w.close('domainCapabilities');
  return w.toString();
}
