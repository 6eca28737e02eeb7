/**
 * libvirt's domain XML: the subset tsvirt models, parsed into {@link DomainDef} and formatted
 * back in the order and layout of libvirt 9.0's virDomainDefFormat, so that output compares
 * line by line with `virsh dumpxml` and validates against libvirt's domain.rng.
 *
 * Parsing applies the defaults libvirt's own parser (not a driver) applies, so that what
 * tsvirt stores is what libvirt would have stored: generated UUID and MAC addresses,
 * currentMemory = memory, boot from disk, disk bus from the target name, read-only CD-ROMs,
 * the serial console mirrored between `<serial>` and `<console>`. Elements tsvirt does not
 * model are ignored, except inside `<graphics>`, where a lost option (a password, a socket)
 * would silently change who can reach the display: there they are refused. Values it models
 * but does not support (a disk on the network, say) are refused rather than silently dropped.
 */
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { validateName } from './names.js';
import { generateMAC, generateUUID, isMulticastMAC, parseMAC, parseMemoryKiB, parseUUID } from './values.js';
import {
  DOMAIN_DOCUMENT,
  XmlWriter,
  attr,
  childElement,
  childElements,
  childText,
  confError,
  invalidAttrValue,
  missingAttr,
  namespacedChildren,
  parseXMLDocument,
  xmlErrorFrom,
  type ParseOptions,
  type XmlElement,
} from './xml.js';

// ---------------------------------------------------------------------------------------------
// Types

/** Hypervisor types domain.rng accepts (`<domain type=…>`). */
export const DOMAIN_VIRT_TYPES = [
  'qemu',
  'kqemu',
  'kvm',
  'xen',
  'lxc',
  'uml',
  'openvz',
  'test',
  'vmware',
  'hyperv',
  'vbox',
  'phyp',
  'vz',
  'bhyve',
  'hvf',
] as const;
/** A hypervisor type (`<domain type=…>`). */
export type DomainVirtType = (typeof DOMAIN_VIRT_TYPES)[number];

const OS_TYPES = ['hvm', 'xen', 'linux', 'exe', 'xenpvh'] as const;
/** Guest OS type (`<os><type>`): full virtualization, Xen PV, container... */
export type DomainOSType = (typeof OS_TYPES)[number];

const BOOT_DEVICES = ['fd', 'cdrom', 'hd', 'network'] as const;
/** A boot device (`<boot dev=…>`), in libvirt's spelling. */
export type DomainBootDevice = (typeof BOOT_DEVICES)[number];

const LIFECYCLE_ACTIONS = ['destroy', 'restart', 'rename-restart', 'preserve'] as const;
/** What to do when the guest powers off or reboots. */
export type DomainLifecycleAction = (typeof LIFECYCLE_ACTIONS)[number];
const CRASH_ACTIONS = [...LIFECYCLE_ACTIONS, 'coredump-destroy', 'coredump-restart'] as const;
/** What to do when the guest crashes. */
export type DomainCrashAction = (typeof CRASH_ACTIONS)[number];

const CLOCK_OFFSETS = ['utc', 'localtime', 'timezone', 'variable'] as const;
/** How the guest's clock relates to the host's. */
export type DomainClockOffset = (typeof CLOCK_OFFSETS)[number];

const DISK_TYPES_ALL = ['file', 'block', 'dir', 'network', 'volume', 'nvme', 'vhostuser', 'vhostvdpa'] as const;
const DISK_TYPES = ['file', 'block'] as const;
/** Where a disk's data lives: a file, or a block device. */
export type DomainDiskType = (typeof DISK_TYPES)[number];

const DISK_DEVICES = ['disk', 'cdrom', 'floppy', 'lun'] as const;
/** How a disk appears to the guest. */
export type DomainDiskDevice = (typeof DISK_DEVICES)[number];

const DISK_BUSES = ['ide', 'fdc', 'scsi', 'virtio', 'xen', 'usb', 'uml', 'sata', 'sd'] as const;
/** The bus a disk is attached to. */
export type DomainDiskBus = (typeof DISK_BUSES)[number];

/** Image formats libvirt knows (virStorageFileFormat), as `<driver type=…>` values. */
export const DISK_FORMATS = [
  'raw',
  'dir',
  'bochs',
  'cloop',
  'dmg',
  'iso',
  'vpc',
  'vdi',
  'fat',
  'vhd',
  'ploop',
  'cow',
  'qcow',
  'qcow2',
  'qed',
  'vmdk',
] as const;
/** A disk image format. */
export type DiskFormat = (typeof DISK_FORMATS)[number];

const INTERFACE_TYPES_ALL = [
  'user',
  'ethernet',
  'vhostuser',
  'server',
  'client',
  'mcast',
  'network',
  'bridge',
  'internal',
  'direct',
  'hostdev',
  'udp',
  'vdpa',
  'null',
  'vds',
] as const;
const INTERFACE_TYPES = ['user', 'network', 'bridge'] as const;
/** How a network interface is connected on the host. */
export type DomainInterfaceType = (typeof INTERFACE_TYPES)[number];

const CHAR_TYPES_ALL = [
  'null',
  'vc',
  'pty',
  'dev',
  'file',
  'pipe',
  'stdio',
  'udp',
  'tcp',
  'unix',
  'spicevmc',
  'spiceport',
  'nmdm',
  'qemu-vdagent',
  'dbus',
] as const;
const CHAR_TYPES = ['null', 'vc', 'pty', 'dev', 'file', 'pipe', 'stdio', 'unix'] as const;
/** The host side of a serial port or console. */
export type DomainCharSourceType = (typeof CHAR_TYPES)[number];

const SERIAL_TARGET_TYPES = [
  'isa-serial',
  'usb-serial',
  'pci-serial',
  'spapr-vio-serial',
  'system-serial',
  'sclp-serial',
  'isa-debug',
] as const;
/** The guest side of a serial port. */
export type DomainSerialTargetType = (typeof SERIAL_TARGET_TYPES)[number];

const CONSOLE_TARGET_TYPES = ['serial', 'xen', 'uml', 'virtio', 'lxc', 'openvz', 'sclp', 'sclplm'] as const;
/** The guest side of a console. */
export type DomainConsoleTargetType = (typeof CONSOLE_TARGET_TYPES)[number];

/**
 * Graphics types domain.rng accepts. There is no 'none': a domain without a display simply
 * has no `<graphics>` element.
 */
const GRAPHICS_TYPES = ['sdl', 'vnc', 'rdp', 'desktop', 'spice', 'egl-headless', 'dbus'] as const;
/** A graphical console type. */
export type DomainGraphicsType = (typeof GRAPHICS_TYPES)[number];

const MEMBALLOON_MODELS = ['virtio', 'xen', 'none', 'virtio-transitional', 'virtio-non-transitional'] as const;
/** A memory balloon device model. */
export type DomainMemballoonModel = (typeof MEMBALLOON_MODELS)[number];

/** CPU architectures libvirt knows (virArch). */
const ARCHES = [
  'i686', 'x86_64', 'aarch64', 'alpha', 'armv6l', 'armv7l', 'armv7b', 'cris', 'ia64', 'lm32',
  'loongarch64', 'm68k', 'microblaze', 'microblazeel', 'mips', 'mipsel', 'mips64', 'mips64el',
  'openrisc', 'parisc', 'parisc64', 'ppc', 'ppcle', 'ppc64', 'ppc64le', 'ppcemb', 'riscv32',
  'riscv64', 's390', 's390x', 'sh4', 'sh4eb', 'sparc', 'sparc64', 'unicore32', 'xtensa',
  'xtensaeb',
];

/** A device's `<address>` element, kept as written: its attributes in order. */
export type DeviceAddress = Record<string, string>;

/** `<disk>` */
export interface DomainDiskDef {
  type: DomainDiskType;
  device: DomainDiskDevice;
  /** `<driver name=…>`: the backend, e.g. `qemu`. */
  driverName?: string;
  /** `<driver type=…>`: the image format. */
  driverType?: DiskFormat;
  /** `<source file=…>` of a `type='file'` disk. Absent for an empty CD-ROM or floppy. */
  sourceFile?: string;
  /** `<source dev=…>` of a `type='block'` disk. */
  sourceDev?: string;
  /** `<target dev=…>`: the device name the guest is told, e.g. `vda`. */
  targetDev: string;
  /** `<target bus=…>`; derived from the target name's prefix when not given. */
  targetBus: DomainDiskBus;
  /** `<readonly/>`; always true for a CD-ROM. */
  readonly: boolean;
  /** `<boot order=…>`: per-device boot order (excludes `<os><boot>`). */
  bootOrder?: number;
  address?: DeviceAddress;
}

/** `<interface>` */
export interface DomainInterfaceDef {
  type: DomainInterfaceType;
  /** `<mac address=…>`, canonical lowercase; generated (52:54:00:…) when not given. */
  mac: string;
  /** `<source network=…>` of a `type='network'` interface. */
  sourceNetwork?: string;
  /** `<source bridge=…>` of a `type='bridge'` interface. */
  sourceBridge?: string;
  /** `<target dev=…>`: the host-side device name. */
  targetDev?: string;
  /** `<model type=…>`, e.g. `virtio`, `e1000`. */
  model?: string;
  bootOrder?: number;
  address?: DeviceAddress;
}

/** The host side shared by `<serial>` and `<console>`. */
export interface DomainCharSource {
  type: DomainCharSourceType;
  /** `<source path=…>`: the file, device, pipe or socket; for a pty, the live /dev/pts path. */
  sourcePath?: string;
  /** `<source mode=…>` of a unix socket: listen (`bind`) or connect. */
  sourceMode?: 'bind' | 'connect';
  /** `<log file=… append=…>`: where the hypervisor also writes what the guest sends. */
  log?: { file: string; append?: 'on' | 'off' };
}

/** `<serial>` */
export interface DomainSerialDef extends DomainCharSource {
  targetType?: DomainSerialTargetType;
  /** `<target port=…>`; assigned (one past the highest so far) when not given. */
  targetPort: number;
}

/** `<console>` */
export interface DomainConsoleDef extends DomainCharSource {
  /** `<target type=…>`; `serial` by default on an HVM guest. */
  targetType?: DomainConsoleTargetType;
  targetPort: number;
}

/** `<graphics connected=…>`: what a password change does to connected clients. */
export const GRAPHICS_CONNECTED = ['keep', 'disconnect', 'fail'] as const;
/** A value of `connected`. */
export type DomainGraphicsConnected = (typeof GRAPHICS_CONNECTED)[number];

/** `<graphics>` */
export interface DomainGraphicsDef {
  type: DomainGraphicsType;
  /** VNC/SPICE: the TCP port when fixed. */
  port?: number;
  /** VNC/SPICE: whether the port is picked at start. */
  autoport?: boolean;
  /** VNC/SPICE: the address to listen on. */
  listen?: string;
  /** VNC/SPICE: the password clients must give. A secret: formatted only with `secure`. */
  passwd?: string;
  /** VNC/SPICE: when the password expires, seconds since the epoch (UTC); only with a password. */
  passwdValidTo?: number;
  /** VNC/SPICE: what a password change does to connected clients; only with a password. */
  connected?: DomainGraphicsConnected;
}

/** `<memballoon>` */
export interface DomainMemballoonDef {
  model: DomainMemballoonModel;
  address?: DeviceAddress;
}

/**
 * The libvirt test driver's XML namespace (`xmlns:test='http://libvirt.org/schemas/domain/test/1.0'`),
 * plus tsvirt's own `test:ignorepowerbutton`. A false flag means the same as an absent one
 * and is not written (libvirt's test driver treats a present element as true, whatever it
 * contains), so parsing never produces `false`.
 */
export interface DomainTestNamespace {
  /** `<test:runstate>`: the virDomainState the domain starts in (libvirt: running if absent). */
  runstate?: number;
  /** `<test:transient/>`: the domain has no persistent config. */
  transient?: boolean;
  /** `<test:hasmanagedsave>`: the domain has a managed save image (requires runstate 5, shutoff). */
  hasManagedSave?: boolean;
  /** `<test:ignorepowerbutton>` (tsvirt): the guest ignores shutdown requests (ACPI power button). */
  ignorePowerButton?: boolean;
}

/** A domain definition: the part of libvirt's virDomainDef that tsvirt models. */
export interface DomainDef {
  type: DomainVirtType;
  name: string;
  /** Canonical lowercase 8-4-4-4-12. */
  uuid: string;
  /** One line (libvirt refuses newlines). */
  title?: string;
  description?: string;
  /** Maximum (boot) memory in KiB. */
  memory: number;
  /** Current (balloon) memory in KiB; at most `memory`. */
  currentMemory: number;
  vcpu: {
    /** `<vcpu>`: the maximum vCPU count. */
    count: number;
    /** `current=…`: vCPUs online at boot, only when fewer than `count`. */
    current?: number;
    placement: 'static' | 'auto';
  };
  os: {
    type: DomainOSType;
    arch?: string;
    machine?: string;
    kernel?: string;
    initrd?: string;
    cmdline?: string;
    /** `<boot dev=…>` in order; `['hd']` by default on HVM unless devices carry boot orders. */
    boot: DomainBootDevice[];
  };
  /** Only the features that are on; absent when none is. */
  features?: { acpi?: boolean; apic?: boolean; pae?: boolean };
  clock: {
    offset: DomainClockOffset;
    /** offset='timezone': the zone, e.g. `Europe/Paris`. */
    timezone?: string;
    /** offset='variable': seconds from `basis`. */
    adjustment?: number;
    basis?: 'utc' | 'localtime';
  };
  onPoweroff: DomainLifecycleAction;
  onReboot: DomainLifecycleAction;
  onCrash: DomainCrashAction;
  devices: {
    emulator?: string;
    disks: DomainDiskDef[];
    interfaces: DomainInterfaceDef[];
    serials: DomainSerialDef[];
    consoles: DomainConsoleDef[];
    graphics: DomainGraphicsDef[];
    memballoon?: DomainMemballoonDef;
  };
  testNamespace?: DomainTestNamespace;
}

/** Options of {@link formatDomainXML}. */
export interface FormatDomainOptions {
  /** The live domain id: written as `id='N'` on `<domain>` when > 0 (and not `inactive`). */
  id?: number;
  /** Format the persistent config: no id, no live-only values (pty paths, autoport ports). */
  inactive?: boolean;
  /**
   * Include secrets (graphics passwords), as VIR_DOMAIN_XML_SECURE: what is stored must set it,
   * what is shown sets it only when the caller asked for SECURE.
   */
  secure?: boolean;
}

/** The test driver's namespace URI. */
export const TEST_NAMESPACE_URI = 'http://libvirt.org/schemas/domain/test/1.0';

// ---------------------------------------------------------------------------------------------
// Parsing

const D = ErrorDomain.DOMAIN;

function oneOf<T extends string>(values: readonly T[], v: string): v is T {
  return (values as readonly string[]).includes(v);
}

/** An attribute limited to `values`, with virXMLPropEnum's error otherwise. */
function enumAttr<T extends string>(
  el: XmlElement,
  name: string,
  values: readonly T[],
  fallback: T,
): T;
function enumAttr<T extends string>(el: XmlElement, name: string, values: readonly T[]): T | undefined;
function enumAttr<T extends string>(
  el: XmlElement,
  name: string,
  values: readonly T[],
  fallback?: T,
): T | undefined {
  const v = attr(el, name);
  if (v === undefined) return fallback;
  if (!oneOf(values, v)) throw invalidAttrValue(el.name, name, v);
  return v;
}

/** virXMLPropUInt with VIR_XML_PROP_NONZERO: a positive integer attribute. */
function positiveAttr(el: XmlElement, name: string): number | undefined {
  const v = attr(el, name);
  if (v === undefined) return undefined;
  if (!/^\s*\+?[0-9]+$/.test(v) || Number(v) > 0xffffffff) {
    throw xmlErrorFrom(
      ErrorDomain.XML,
      `Invalid value for attribute '${name}' in element '${el.name}': '${v}'. Expected non-negative integer value`,
    );
  }
  const n = Number(v);
  if (n === 0) {
    throw xmlErrorFrom(ErrorDomain.XML, `Invalid value for attribute '${name}' in element '${el.name}': Zero is not permitted`);
  }
  return n;
}

function nonEmptyAttr(el: XmlElement | undefined, name: string): string | undefined {
  if (el === undefined) return undefined;
  const v = attr(el, name);
  return v === undefined || v === '' ? undefined : v;
}

function addressOf(el: XmlElement): DeviceAddress | undefined {
  const a = childElement(el, 'address');
  return a === undefined ? undefined : { ...a.attrs };
}

function bootOrderOf(el: XmlElement): number | undefined {
  const b = childElement(el, 'boot');
  return b === undefined ? undefined : positiveAttr(b, 'order');
}

/** Removes keys whose value is undefined, recursively, so that deepEqual sees absent keys. */
function prune<T>(value: T): T {
  if (Array.isArray(value)) {
    for (const v of value) prune(v);
  } else if (value !== null && typeof value === 'object') {
    const rec = value as Record<string, unknown>;
    for (const k of Object.keys(rec)) {
      if (rec[k] === undefined) delete rec[k];
      else prune(rec[k]);
    }
  }
  return value;
}

/**
 * Parses libvirt domain XML.
 *
 * @throws VirError with libvirt's codes and wording: VIR_ERR_XML_DETAIL for XML that is not
 *   well formed, VIR_ERR_XML_ERROR for a wrong root element, a missing `<os><type>` or
 *   `<memory>`, VIR_ERR_NO_NAME for a missing name, VIR_ERR_INTERNAL_ERROR for a malformed
 *   UUID (as libvirt 9.0), VIR_ERR_CONFIG_UNSUPPORTED for values libvirt does not know or
 *   tsvirt does not support, and the name errors of {@link validateName}.
 */
export function parseDomainXML(xml: string, options: ParseOptions = {}): DomainDef {
  const root = parseXMLDocument(xml, DOMAIN_DOCUMENT, options);
  return parseDomainElement(root);
}

/**
 * Parses a `<domain>` element already extracted from a document (the one embedded in
 * snapshot XML). @internal
 */
export function parseDomainElement(root: XmlElement): DomainDef {
  const type = attr(root, 'type');
  if (type === undefined) throw confError(D, ErrorNumber.INTERNAL_ERROR, 'missing domain type attribute');
  if (!oneOf(DOMAIN_VIRT_TYPES, type)) {
    throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `invalid domain type ${type}`);
  }

  const name = childText(root, 'name');
  validateName('domain', name);

  const uuidText = childText(root, 'uuid');
  let uuid: string;
  if (uuidText === undefined) {
    uuid = generateUUID();
  } else {
    const parsed = parseUUID(uuidText);
    if (parsed === undefined) throw confError(D, ErrorNumber.INTERNAL_ERROR, 'malformed uuid element');
    uuid = parsed;
  }

  const title = childText(root, 'title');
  if (title !== undefined && title.includes('\n')) {
    throw xmlErrorFrom(D, "Domain title can't contain newlines");
  }
  const description = childText(root, 'description');

  const memory = parseMemoryElement(root, 'memory');
  if (memory === 0) {
    throw xmlErrorFrom(D, 'Memory size must be specified via <memory> or in the <numa> configuration');
  }
  let currentMemory = parseMemoryElement(root, 'currentMemory');
  // virDomainDefPostParseMemory: no (or a zero, or too large a) balloon means all of it.
  if (currentMemory === 0 || currentMemory > memory) currentMemory = memory;

  const vcpu = parseVcpu(root);
  const devices = parseDevices(root);
  const os = parseOS(root, devices);
  const features = parseFeatures(root);
  const clock = parseClock(root);
  const onPoweroff = parseLifecycle(root, 'on_poweroff', LIFECYCLE_ACTIONS, 'destroy');
  const onReboot = parseLifecycle(root, 'on_reboot', LIFECYCLE_ACTIONS, 'restart');
  const onCrash = parseLifecycle(root, 'on_crash', CRASH_ACTIONS, 'destroy');
  if (os.type === 'hvm') addConsoleCompat(devices);
  const testNamespace = parseTestNamespace(root);

  return prune<DomainDef>({
    type,
    name,
    uuid,
    title,
    description,
    memory,
    currentMemory,
    vcpu,
    os,
    features,
    clock,
    onPoweroff,
    onReboot,
    onCrash,
    devices,
    testNamespace,
  });
}

function parseMemoryElement(root: XmlElement, name: string): number {
  const el = childElement(root, name);
  if (el === undefined || el.text === '') return 0;
  return parseMemoryKiB(el.text, attr(el, 'unit'), `./${name}[1]`);
}

function parseVcpu(root: XmlElement): DomainDef['vcpu'] {
  const el = childElement(root, 'vcpu');
  if (el === undefined) return { count: 1, placement: 'static' };
  let max = 1;
  if (el.text !== '') {
    if (!/^\s*\+?[0-9]+$/.test(el.text) || Number(el.text) > 0xffffffff) {
      throw xmlErrorFrom(D, 'maximum vcpus count must be an integer');
    }
    max = Number(el.text);
    // libvirt 9.0 lets 0 through to an unrelated NUMA error; say what is wrong instead.
    if (max === 0) throw xmlErrorFrom(D, 'maximum vcpus count must be an integer greater than 0');
  }
  const placement = enumAttr(el, 'placement', ['static', 'auto'] as const, 'static');
  // libvirt 9.0 takes current='0' as written; a guest with no vCPU online makes no sense.
  let current = positiveAttr(el, 'current');
  if (current !== undefined) {
    if (current > max) {
      throw confError(
        D,
        ErrorNumber.CONFIG_UNSUPPORTED,
        'maximum vCPU count must not be less than current vCPU count',
      );
    }
    // libvirt writes current only when it differs from the maximum.
    if (current === max) current = undefined;
  }
  return { count: max, current, placement };
}

function parseOS(root: XmlElement, devices: DomainDef['devices']): DomainDef['os'] {
  const os = childElement(root, 'os');
  const typeEl = os === undefined ? undefined : childElement(os, 'type');
  if (os === undefined || typeEl === undefined || typeEl.text === '') {
    throw xmlErrorFrom(D, 'an os <type> must be specified');
  }
  const type = typeEl.text;
  if (!oneOf(OS_TYPES, type)) throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `unknown OS type '${type}'`);
  const arch = nonEmptyAttr(typeEl, 'arch');
  if (arch !== undefined && !ARCHES.includes(arch)) {
    throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `Unknown architecture ${arch}`);
  }
  const boot: DomainBootDevice[] = [];
  // libvirt keeps at most one entry per boot device type (VIR_DOMAIN_BOOT_LAST).
  for (const b of childElements(os, 'boot').slice(0, BOOT_DEVICES.length)) {
    const dev = enumAttr(b, 'dev', BOOT_DEVICES);
    if (dev === undefined) throw missingAttr('boot', 'dev');
    boot.push(dev);
  }

  // virDomainDefBootOrderPostParse: per-device boot orders exclude <os><boot>, must be
  // unique, and without either an HVM guest boots from its disk.
  const orders = [...devices.disks, ...devices.interfaces]
    .map((d) => d.bootOrder)
    .filter((o): o is number => o !== undefined);
  const seen = new Set<number>();
  for (const o of orders) {
    if (seen.has(o)) {
      throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `boot order '${o}' used for more than one device`);
    }
    seen.add(o);
  }
  if (orders.length > 0 && boot.length > 0) {
    throw confError(
      D,
      ErrorNumber.CONFIG_UNSUPPORTED,
      'per-device boot elements cannot be used together with os/boot elements',
    );
  }
  if (type === 'hvm' && orders.length === 0 && boot.length === 0) boot.push('hd');

  return {
    type,
    arch,
    machine: nonEmptyAttr(typeEl, 'machine'),
    kernel: childText(os, 'kernel'),
    initrd: childText(os, 'initrd'),
    cmdline: childText(os, 'cmdline'),
    boot,
  };
}

function parseFeatures(root: XmlElement): DomainDef['features'] {
  const el = childElement(root, 'features');
  if (el === undefined) return undefined;
  const features: NonNullable<DomainDef['features']> = {};
  if (childElement(el, 'acpi') !== undefined) features.acpi = true;
  if (childElement(el, 'apic') !== undefined) features.apic = true;
  if (childElement(el, 'pae') !== undefined) features.pae = true;
  return Object.keys(features).length > 0 ? features : undefined;
}

function parseClock(root: XmlElement): DomainDef['clock'] {
  const el = childElement(root, 'clock');
  if (el === undefined) return { offset: 'utc' };
  const offset = attr(el, 'offset') ?? 'utc';
  if (!oneOf(CLOCK_OFFSETS, offset)) {
    throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `unknown clock offset '${offset}'`);
  }
  if (offset === 'timezone') {
    const timezone = attr(el, 'timezone');
    if (timezone === undefined) {
      throw confError(D, ErrorNumber.INTERNAL_ERROR, "missing 'timezone' attribute for clock with offset='timezone'");
    }
    return { offset, timezone };
  }
  if (offset === 'variable') {
    const adj = attr(el, 'adjustment') ?? '0';
    if (!/^\s*[-+]?[0-9]+$/.test(adj) || !Number.isSafeInteger(Number(adj))) {
      throw xmlErrorFrom(D, `Invalid value for attribute 'adjustment' in element 'clock': '${adj}'`);
    }
    const basis = attr(el, 'basis') ?? 'utc';
    if (basis !== 'utc' && basis !== 'localtime') {
      throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `unknown clock basis '${basis}'`);
    }
    return { offset, adjustment: Number(adj), basis };
  }
  return { offset };
}

function parseLifecycle<T extends string>(root: XmlElement, name: string, values: readonly T[], fallback: T): T {
  const v = childText(root, name);
  if (v === undefined) return fallback;
  if (!oneOf(values, v)) {
    if (oneOf(CRASH_ACTIONS, v)) {
      const event = name.replace(/^on_/, '');
      throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `Lifecycle event '${event}' doesn't support '${v}' action`);
    }
    throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `unknown ${name} action: ${v}`);
  }
  return v;
}

function parseDevices(root: XmlElement): DomainDef['devices'] {
  const el = childElement(root, 'devices');
  const devices: DomainDef['devices'] = {
    disks: [],
    interfaces: [],
    serials: [],
    consoles: [],
    graphics: [],
  };
  if (el === undefined) return devices;
  devices.emulator = childText(el, 'emulator');
  for (const d of childElements(el, 'disk')) devices.disks.push(parseDisk(d));
  for (const n of childElements(el, 'interface')) devices.interfaces.push(parseInterface(n));
  for (const s of childElements(el, 'serial')) {
    const maxPort = Math.max(-1, ...devices.serials.map((x) => x.targetPort));
    devices.serials.push(parseSerial(s, maxPort + 1));
  }
  for (const c of childElements(el, 'console')) {
    devices.consoles.push(parseConsole(c, devices.consoles));
  }
  for (const g of childElements(el, 'graphics')) devices.graphics.push(parseGraphics(g));
  const balloon = childElement(el, 'memballoon');
  if (balloon !== undefined) {
    const model = enumAttr(balloon, 'model', MEMBALLOON_MODELS);
    if (model === undefined) throw missingAttr('memballoon', 'model');
    devices.memballoon = { model, address: addressOf(balloon) };
  }
  return devices;
}

/** Bus implied by a disk target name, as libvirt guesses it when `bus` is absent. */
function busFromTarget(dev: string): DomainDiskBus | undefined {
  if (dev.startsWith('hd')) return 'ide';
  if (dev.startsWith('sd')) return 'scsi';
  if (dev.startsWith('vd')) return 'virtio';
  if (dev.startsWith('xvd')) return 'xen';
  if (dev.startsWith('ubd')) return 'uml';
  if (dev.startsWith('fd')) return 'fdc';
  return undefined;
}

function parseDisk(el: XmlElement): DomainDiskDef {
  const type = enumAttr(el, 'type', DISK_TYPES_ALL, 'file');
  if (!oneOf(DISK_TYPES, type)) {
    throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `disk type '${type}' is not supported`);
  }
  const device = enumAttr(el, 'device', DISK_DEVICES, 'disk');
  const driver = childElement(el, 'driver');
  const driverType = nonEmptyAttr(driver, 'type');
  if (driverType !== undefined && !oneOf(DISK_FORMATS, driverType)) {
    throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `unknown driver format value '${driverType}'`);
  }
  const source = childElement(el, 'source');
  const sourceFile = type === 'file' ? nonEmptyAttr(source, 'file') : undefined;
  const sourceDev = type === 'block' ? nonEmptyAttr(source, 'dev') : undefined;
  const target = childElement(el, 'target');
  const targetDev = nonEmptyAttr(target, 'dev');
  if (target === undefined || targetDev === undefined) {
    throw confError(D, ErrorNumber.NO_TARGET, sourceFile ?? sourceDev);
  }
  let targetBus = enumAttr(target, 'bus', DISK_BUSES);
  if (targetBus === undefined) {
    targetBus = busFromTarget(targetDev);
    if (targetBus === undefined) {
      throw xmlErrorFrom(D, `Unknown disk name '${targetDev}' and no address specified`);
    }
  }
  return {
    type,
    device,
    driverName: nonEmptyAttr(driver, 'name'),
    driverType,
    sourceFile,
    sourceDev,
    targetDev,
    targetBus,
    // A CD-ROM is read-only whatever the XML says (libvirt's disk parser forces it).
    readonly: device === 'cdrom' || childElement(el, 'readonly') !== undefined,
    bootOrder: bootOrderOf(el),
    address: addressOf(el),
  };
}

const NET_MODEL_CHARS = /^[A-Za-z0-9_-]*$/;

function parseInterface(el: XmlElement): DomainInterfaceDef {
  const type = enumAttr(el, 'type', INTERFACE_TYPES_ALL, 'user');
  if (!oneOf(INTERFACE_TYPES, type)) {
    throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `interface type '${type}' is not supported`);
  }
  const macText = nonEmptyAttr(childElement(el, 'mac'), 'address');
  let mac: string;
  if (macText === undefined) {
    mac = generateMAC();
  } else {
    const parsed = parseMAC(macText);
    if (parsed === undefined) throw xmlErrorFrom(D, `unable to parse mac address '${macText}'`);
    if (isMulticastMAC(parsed)) {
      throw xmlErrorFrom(D, `expected unicast mac address, found multicast '${macText}'`);
    }
    mac = parsed;
  }
  const source = childElement(el, 'source');
  let sourceNetwork: string | undefined;
  let sourceBridge: string | undefined;
  if (type === 'network' || type === 'bridge') {
    if (source === undefined) {
      throw xmlErrorFrom(D, `interface type='${type}' requires a 'source' element`);
    }
    const value = nonEmptyAttr(source, type);
    if (value === undefined) throw missingAttr('source', type);
    if (type === 'network') sourceNetwork = value;
    else sourceBridge = value;
  }
  const model = nonEmptyAttr(childElement(el, 'model'), 'type');
  if (model !== undefined && !NET_MODEL_CHARS.test(model)) {
    throw confError(D, ErrorNumber.INVALID_ARG, 'Model name contains invalid characters');
  }
  return {
    type,
    mac,
    sourceNetwork,
    sourceBridge,
    targetDev: nonEmptyAttr(childElement(el, 'target'), 'dev'),
    model,
    bootOrder: bootOrderOf(el),
    address: addressOf(el),
  };
}

function parseCharSource(el: XmlElement): DomainCharSource {
  const type = attr(el, 'type') ?? 'pty';
  if (!oneOf(CHAR_TYPES_ALL, type)) {
    throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `unknown type presented to host for character device: ${type}`);
  }
  if (!oneOf(CHAR_TYPES, type)) {
    throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `character device type '${type}' is not supported`);
  }
  const source = childElement(el, 'source');
  const sourcePath = nonEmptyAttr(source, 'path');
  if ((type === 'file' || type === 'dev' || type === 'pipe' || type === 'unix') && sourcePath === undefined) {
    throw confError(D, ErrorNumber.INTERNAL_ERROR, 'Missing source path attribute for char device');
  }
  const result: DomainCharSource = { type };
  if (type === 'file' || type === 'dev' || type === 'pipe' || type === 'unix' || type === 'pty') {
    result.sourcePath = sourcePath;
  }
  if (type === 'unix') {
    result.sourceMode = source === undefined ? 'connect' : enumAttr(source, 'mode', ['bind', 'connect'] as const, 'connect');
  }
  // As libvirt: a <log> without a file names no log.
  const log = childElement(el, 'log');
  const logFile = log === undefined ? undefined : attr(log, 'file');
  if (log !== undefined && logFile !== undefined) {
    result.log = { file: logFile };
    const append = enumAttr(log, 'append', ['on', 'off'] as const);
    if (append !== undefined) result.log.append = append;
  }
  return result;
}

function parseTargetPort(target: XmlElement | undefined): number | undefined {
  const port = target === undefined ? undefined : attr(target, 'port');
  if (port === undefined) return undefined;
  if (!/^\s*[-+]?[0-9]+$/.test(port) || Number(port) < 0 || Number(port) > 0x7fffffff) {
    throw xmlErrorFrom(D, `Invalid port number: ${port}`);
  }
  return Number(port);
}

function charTargetType<T extends string>(target: XmlElement | undefined, values: readonly T[]): T | undefined {
  const v = target === undefined ? undefined : attr(target, 'type');
  if (v === undefined || v === '') return undefined;
  if (!oneOf(values, v)) {
    throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `unknown target type '${v}' specified for character device`);
  }
  return v;
}

function parseSerial(el: XmlElement, nextPort: number): DomainSerialDef {
  const target = childElement(el, 'target');
  return {
    ...parseCharSource(el),
    targetType: charTargetType(target, SERIAL_TARGET_TYPES),
    targetPort: parseTargetPort(target) ?? nextPort,
  };
}

function parseConsole(el: XmlElement, earlier: readonly DomainConsoleDef[]): DomainConsoleDef {
  const target = childElement(el, 'target');
  const targetType = charTargetType(target, CONSOLE_TARGET_TYPES);
  const same = earlier.filter((c) => c.targetType === targetType).map((c) => c.targetPort);
  return {
    ...parseCharSource(el),
    targetType,
    targetPort: parseTargetPort(target) ?? (same.length === 0 ? 0 : Math.max(...same) + 1),
  };
}

/**
 * libvirt's virDomainDefAddConsoleCompat for HVM guests: the first console, when it is a
 * serial console, is another view of the first serial port. A lone serial console creates
 * the serial port; serial ports without one get one; and the first console takes the first
 * serial port's host side, so the two always agree.
 */
function addConsoleCompat(devices: DomainDef['devices']): void {
  const first = devices.consoles[0];
  if (first !== undefined && (first.targetType === undefined || first.targetType === 'serial')) {
    first.targetType = 'serial';
    if (devices.serials.length === 0) {
      devices.serials.push({ ...charSourceOf(first), targetPort: first.targetPort });
    }
  }
  const serial = devices.serials[0];
  if (serial === undefined) return;
  const console = devices.consoles[0];
  if (console === undefined || console.targetType !== 'serial') {
    devices.consoles.unshift({ ...charSourceOf(serial), targetType: 'serial', targetPort: serial.targetPort });
  } else {
    devices.consoles[0] = { ...charSourceOf(serial), targetType: 'serial', targetPort: serial.targetPort };
  }
}

function charSourceOf(c: DomainCharSource): DomainCharSource {
  const out: DomainCharSource = { type: c.type };
  if (c.sourcePath !== undefined) out.sourcePath = c.sourcePath;
  if (c.sourceMode !== undefined) out.sourceMode = c.sourceMode;
  if (c.log !== undefined) out.log = { ...c.log };
  return out;
}

/** The `<graphics>` attributes tsvirt models, by type; anything else is refused. */
const GRAPHICS_AUTH_ATTRS = ['passwd', 'passwdValidTo', 'connected'];
const GRAPHICS_ATTRS: Record<string, readonly string[]> = {
  vnc: ['type', 'port', 'autoport', 'listen', ...GRAPHICS_AUTH_ATTRS],
  spice: ['type', 'port', 'autoport', 'listen', ...GRAPHICS_AUTH_ATTRS],
};

/**
 * Refuses what a `<graphics>` holds beyond the modelled subset, so that a definition never
 * loses part of its display configuration silently (VIR_ERR_CONFIG_UNSUPPORTED).
 */
function checkGraphicsModelled(el: XmlElement, type: DomainGraphicsType): void {
  const known = GRAPHICS_ATTRS[type] ?? ['type'];
  for (const name of Object.keys(el.attrs)) {
    if (!known.includes(name)) {
      throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `graphics attribute '${name}' of type '${type}' is not supported by tsvirt`);
    }
  }
  for (const child of el.children) {
    if (child.name !== 'listen' || known.length === 1) {
      throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `graphics element '${child.name}' of type '${type}' is not supported by tsvirt`);
    }
  }
  const listens = childElements(el, 'listen');
  if (listens.length > 1) throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, 'more than one graphics listen element is not supported by tsvirt');
  const l = listens[0];
  if (l === undefined) return;
  const listenType = attr(l, 'type') ?? 'address';
  // type='none' is what a SPICE display without port is written with (writeGraphics).
  if (listenType !== 'address' && listenType !== 'none') {
    throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `graphics listen type '${listenType}' is not supported by tsvirt`);
  }
  const listenAttrs = listenType === 'none' ? ['type'] : ['type', 'address'];
  for (const name of Object.keys(l.attrs)) {
    if (!listenAttrs.includes(name)) {
      throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `graphics listen attribute '${name}' is not supported by tsvirt`);
    }
  }
  if (l.children.length > 0) {
    throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `graphics listen element '${l.children[0].name}' is not supported by tsvirt`);
  }
}

/** libvirt's `passwdValidTo` (YYYY-MM-DDTHH:MM:SS, UTC) as seconds since the epoch. */
function parsePasswdValidTo(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(text);
  const ms = m === null ? NaN : Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  if (Number.isNaN(ms)) {
    throw confError(D, ErrorNumber.INTERNAL_ERROR, `cannot parse password validity time '${text}', expect YYYY-MM-DDTHH:MM:SS`);
  }
  return ms / 1000;
}

function parseGraphics(el: XmlElement): DomainGraphicsDef {
  const type = enumAttr(el, 'type', GRAPHICS_TYPES);
  if (type === undefined) throw missingAttr('graphics', 'type');
  checkGraphicsModelled(el, type);
  if (type !== 'vnc' && type !== 'spice') return { type };

  const portText = attr(el, 'port');
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\s*-?[0-9]+$/.test(portText) || Number(portText) < -1 || Number(portText) > 65535) {
      throw confError(D, ErrorNumber.INTERNAL_ERROR, `cannot parse ${type} port ${portText}`);
    }
    port = Number(portText);
  }
  const autoportAttr = enumAttr(el, 'autoport', ['yes', 'no'] as const);
  // VNC picks a port unless told one; SPICE only when asked (libvirt's parser defaults).
  const autoport =
    autoportAttr !== undefined ? autoportAttr === 'yes' : port === -1 || (type === 'vnc' && port === undefined);
  const listenEl = childElements(el, 'listen').find((l) => (attr(l, 'type') ?? 'address') === 'address');
  const childAddress = nonEmptyAttr(listenEl, 'address');
  const attrAddress = nonEmptyAttr(el, 'listen');
  if (attrAddress !== undefined && childAddress !== undefined && attrAddress !== childAddress) {
    throw xmlErrorFrom(
      D,
      `graphics 'listen' attribute '${attrAddress}' must match 'address' attribute of first listen element (found '${childAddress}')`,
    );
  }
  const out: DomainGraphicsDef = {
    type,
    port: autoport || port === undefined || port <= 0 ? undefined : port,
    autoport,
    listen: childAddress ?? attrAddress,
  };
  // libvirt ignores the validity and the connected policy of a display without a password.
  const passwd = attr(el, 'passwd');
  if (passwd !== undefined) {
    out.passwd = passwd;
    const validTo = attr(el, 'passwdValidTo');
    if (validTo !== undefined) out.passwdValidTo = parsePasswdValidTo(validTo);
    out.connected = enumAttr(el, 'connected', GRAPHICS_CONNECTED);
  }
  return out;
}

function parseTestNamespace(root: XmlElement): DomainTestNamespace | undefined {
  // The test driver reports these, from its own error domain.
  const T = ErrorDomain.TEST;
  const ns: DomainTestNamespace = {};
  let any = false;
  for (const el of namespacedChildren(root, TEST_NAMESPACE_URI)) {
    switch (el.localName) {
      case 'runstate': {
        const text = el.text.trim();
        if (!/^[0-9]+$/.test(text)) throw xmlErrorFrom(T, 'invalid runstate');
        const n = Number(text);
        // The stray quote is libvirt's.
        if (n >= 8) throw xmlErrorFrom(T, `runstate '${n}' out of range'`);
        ns.runstate = n;
        any = true;
        break;
      }
      case 'transient':
      case 'hasmanagedsave':
      case 'ignorepowerbutton': {
        const text = el.text.trim();
        if (text !== '' && text !== 'yes' && text !== 'no') throw xmlErrorFrom(T, `invalid ${el.localName}`);
        if (text === 'no') break;
        if (el.localName === 'transient') ns.transient = true;
        else if (el.localName === 'hasmanagedsave') ns.hasManagedSave = true;
        else ns.ignorePowerButton = true;
        any = true;
        break;
      }
      default:
        // test:domainsnapshot and anything newer: not modelled.
        break;
    }
  }
  if (!any) return undefined;
  // The test driver's own consistency rules (an absent runstate means running).
  const runstate = ns.runstate ?? 1;
  if (ns.transient && runstate === 5) {
    throw xmlErrorFrom(T, "transient domain cannot have runstate 'shutoff'");
  }
  if (ns.hasManagedSave && runstate !== 5) {
    throw xmlErrorFrom(T, "domain with managedsave data can only have runstate 'shutoff'");
  }
  return ns;
}

// ---------------------------------------------------------------------------------------------
// Formatting

/**
 * Formats a domain as libvirt 9.0's virDomainDefFormat does, for the fields tsvirt models.
 * The result ends with a newline, like `virsh dumpxml`'s.
 */
export function formatDomainXML(def: DomainDef, opts: FormatDomainOptions = {}): string {
  const w = new XmlWriter();
  writeDomainDef(w, def, opts, 'domain');
  return w.toString();
}

/**
 * Writes a domain into `w` at its current depth, under root element `rootName` (`domain`,
 * or `inactiveDomain` inside snapshot XML). @internal
 */
export function writeDomainDef(w: XmlWriter, def: DomainDef, opts: FormatDomainOptions, rootName: string): void {
  const live = !opts.inactive;
  const ns = def.testNamespace;
  const hasNs =
    ns !== undefined &&
    (ns.runstate !== undefined || ns.transient === true || ns.hasManagedSave === true || ns.ignorePowerButton === true);
  w.open(rootName, [
    ['type', def.type],
    ['id', live && opts.id !== undefined && opts.id > 0 ? opts.id : undefined],
    ['xmlns:test', hasNs ? TEST_NAMESPACE_URI : undefined],
  ]);
  w.text('name', def.name);
  w.text('uuid', def.uuid);
  w.text('title', def.title);
  w.text('description', def.description);
  w.text('memory', def.memory, [['unit', 'KiB']]);
  w.text('currentMemory', def.currentMemory, [['unit', 'KiB']]);
  w.text('vcpu', def.vcpu.count, [
    ['placement', def.vcpu.placement],
    ['current', def.vcpu.current !== undefined && def.vcpu.current !== def.vcpu.count ? def.vcpu.current : undefined],
  ]);

  w.open('os');
  w.text('type', def.os.type, [
    ['arch', def.os.arch],
    ['machine', def.os.machine],
  ]);
  w.text('kernel', def.os.kernel);
  w.text('initrd', def.os.initrd);
  w.text('cmdline', def.os.cmdline);
  for (const dev of def.os.boot) w.empty('boot', [['dev', dev]]);
  w.close('os');

  const f = def.features;
  if (f !== undefined && (f.acpi || f.apic || f.pae)) {
    w.open('features');
    if (f.acpi) w.empty('acpi');
    if (f.apic) w.empty('apic');
    if (f.pae) w.empty('pae');
    w.close('features');
  }

  const c = def.clock;
  w.empty('clock', [
    ['offset', c.offset],
    ['timezone', c.offset === 'timezone' ? c.timezone : undefined],
    ['adjustment', c.offset === 'variable' ? (c.adjustment ?? 0) : undefined],
    ['basis', c.offset === 'variable' ? (c.basis ?? 'utc') : undefined],
  ]);
  w.text('on_poweroff', def.onPoweroff);
  w.text('on_reboot', def.onReboot);
  w.text('on_crash', def.onCrash);

  w.open('devices');
  w.text('emulator', def.devices.emulator);
  for (const d of def.devices.disks) writeDisk(w, d);
  for (const n of def.devices.interfaces) writeInterface(w, n);
  for (const s of def.devices.serials) writeChar(w, 'serial', s, s.targetType, live);
  for (const con of def.devices.consoles) writeChar(w, 'console', con, con.targetType, live);
  for (const g of def.devices.graphics) writeGraphics(w, g, live, opts.secure === true);
  const b = def.devices.memballoon;
  if (b !== undefined) {
    w.element('memballoon', [['model', b.model]], (inner) => writeAddress(inner, b.address));
  }
  w.close('devices');

  if (hasNs && ns !== undefined) {
    w.text('test:runstate', ns.runstate);
    if (ns.transient) w.empty('test:transient');
    if (ns.hasManagedSave) w.text('test:hasmanagedsave', 'yes');
    if (ns.ignorePowerButton) w.text('test:ignorepowerbutton', 'yes');
  }
  w.close(rootName);
}

function writeAddress(w: XmlWriter, address: DeviceAddress | undefined): void {
  if (address !== undefined) w.empty('address', Object.entries(address));
}

function writeDisk(w: XmlWriter, d: DomainDiskDef): void {
  w.open('disk', [
    ['type', d.type],
    ['device', d.device],
  ]);
  if (d.driverName !== undefined || d.driverType !== undefined) {
    w.empty('driver', [
      ['name', d.driverName],
      ['type', d.driverType],
    ]);
  }
  if (d.type === 'file' && d.sourceFile !== undefined) w.empty('source', [['file', d.sourceFile]]);
  if (d.type === 'block' && d.sourceDev !== undefined) w.empty('source', [['dev', d.sourceDev]]);
  w.empty('target', [
    ['dev', d.targetDev],
    ['bus', d.targetBus],
  ]);
  if (d.readonly) w.empty('readonly');
  if (d.bootOrder !== undefined) w.empty('boot', [['order', d.bootOrder]]);
  writeAddress(w, d.address);
  w.close('disk');
}

function writeInterface(w: XmlWriter, n: DomainInterfaceDef): void {
  w.open('interface', [['type', n.type]]);
  w.empty('mac', [['address', n.mac]]);
  if (n.type === 'network' && n.sourceNetwork !== undefined) w.empty('source', [['network', n.sourceNetwork]]);
  if (n.type === 'bridge' && n.sourceBridge !== undefined) w.empty('source', [['bridge', n.sourceBridge]]);
  if (n.targetDev !== undefined) w.empty('target', [['dev', n.targetDev]]);
  if (n.model !== undefined) w.empty('model', [['type', n.model]]);
  if (n.bootOrder !== undefined) w.empty('boot', [['order', n.bootOrder]]);
  writeAddress(w, n.address);
  w.close('interface');
}

function writeChar(
  w: XmlWriter,
  name: 'serial' | 'console',
  c: DomainCharSource & { targetPort: number },
  targetType: string | undefined,
  live: boolean,
): void {
  w.open(name, [['type', c.type]]);
  // A pty's path is assigned at start: part of the live state only.
  const path = c.type === 'pty' && !live ? undefined : c.sourcePath;
  if (path !== undefined) {
    w.empty('source', [
      ['mode', c.type === 'unix' ? (c.sourceMode ?? 'connect') : undefined],
      ['path', path],
    ]);
  }
  if (c.log !== undefined) {
    w.empty('log', [
      ['file', c.log.file],
      ['append', c.log.append],
    ]);
  }
  w.empty('target', [
    ['type', targetType],
    ['port', c.targetPort],
  ]);
  w.close(name);
}

function writeGraphics(w: XmlWriter, g: DomainGraphicsDef, live: boolean, secure: boolean): void {
  if (g.type !== 'vnc' && g.type !== 'spice') {
    w.empty('graphics', [['type', g.type]]);
    return;
  }
  const autoport = g.autoport === true;
  let port: number | undefined;
  if (g.port !== undefined && (!autoport || live)) port = g.port;
  else if (autoport && g.type === 'vnc') port = -1;
  w.open('graphics', [
    ['type', g.type],
    ['port', port],
    ['autoport', g.type === 'vnc' ? (autoport ? 'yes' : 'no') : autoport ? 'yes' : undefined],
    ['listen', g.listen],
    ...graphicsAuthAttrs(g, secure),
  ]);
  if (g.listen !== undefined) {
    w.empty('listen', [
      ['type', 'address'],
      ['address', g.listen],
    ]);
  } else if (g.type === 'spice' && !autoport && g.port === undefined) {
    // libvirt: a SPICE display with neither port nor autoport listens nowhere.
    w.empty('listen', [['type', 'none']]);
  } else {
    w.empty('listen', [['type', 'address']]);
  }
  w.close('graphics');
}

/** libvirt's order: passwd (only when secure), passwdValidTo, connected; none without a password. */
function graphicsAuthAttrs(g: DomainGraphicsDef, secure: boolean): [string, string | undefined][] {
  if (g.passwd === undefined) return [];
  const validTo = g.passwdValidTo === undefined ? undefined : new Date(g.passwdValidTo * 1000).toISOString().slice(0, 19);
  return [
    ['passwd', secure ? g.passwd : undefined],
    ['passwdValidTo', validTo],
    ['connected', g.connected],
  ];
}
