/**
 * libvirt's domain XML: the subset tsvirt models, parsed into {@link DomainDef} and formatted
 * back in the order and layout of libvirt 9.0's virDomainDefFormat, so that output compares
 * line by line with `virsh dumpxml` and validates against libvirt's domain.rng.
 *
 * Parsing applies the defaults libvirt's own parser (not a driver) applies, so that what
 * tsvirt stores is what libvirt would have stored: generated UUID and MAC addresses,
 * currentMemory = memory, boot from disk, disk bus from the target name, read-only CD-ROMs,
 * the serial console mirrored between `<serial>` and `<console>`.
 *
 * Nothing valid is lost: what tsvirt does not model is kept verbatim and written back in place.
 * Every parsed element records its unmodelled attributes and child elements (an {@link XmlRest},
 * in the `kept` record of the object it was parsed into, by element), each child with the
 * modelled sibling it followed; the formatter writes them back there (XmlWriter.element). An
 * element of a modelled kind in a form the model cannot represent (a disk on the network, a
 * serial port on TCP) is kept whole the same way. The drivers decide what they can run: the QEMU
 * driver refuses at start what it cannot (see {@link unmodelledDevices}).
 *
 * A branch that starts modelling an element must add its name to the known lists here (the
 * `*_CHILDREN` constants); until then the formatter gives the model's version precedence over a
 * kept copy of the same name, so nothing is written twice.
 */
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { validateName } from './names.js';
import { dumpMetadataElement, sanitizeMetadata } from './metadata.js';
import { generateMAC, generateUUID, isMulticastMAC, parseMAC, parseMemoryKiB, parseUUID } from './values.js';
import {
  DOMAIN_DOCUMENT,
  XmlWriter,
  joinRest,
  knownNames,
  restOf,
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
  type XmlAttrList,
  type XmlElement,
  type XmlKeptChild,
  type XmlRest,
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

const CLOCK_OFFSETS = ['utc', 'localtime', 'timezone', 'variable', 'absolute'] as const;
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

/** Video models libvirt 9.0 knows (virDomainVideoType); 'default' is resolved at parse. */
const VIDEO_MODELS_ALL = [
  'default',
  'vga',
  'cirrus',
  'vmvga',
  'xen',
  'vbox',
  'qxl',
  'parallels',
  'virtio',
  'gop',
  'none',
  'bochs',
  'ramfb',
] as const;
/** A video device model (`<video><model type=…>`), as stored: never 'default'. */
export type DomainVideoModel = Exclude<(typeof VIDEO_MODELS_ALL)[number], 'default'>;

const MEMBALLOON_MODELS = ['virtio', 'xen', 'none', 'virtio-transitional', 'virtio-non-transitional'] as const;
/** A memory balloon device model. */
export type DomainMemballoonModel = (typeof MEMBALLOON_MODELS)[number];

/** CPU architectures libvirt knows (virArch). */
export const ARCHES = [
  'i686', 'x86_64', 'aarch64', 'alpha', 'armv6l', 'armv7l', 'armv7b', 'cris', 'ia64', 'lm32',
  'loongarch64', 'm68k', 'microblaze', 'microblazeel', 'mips', 'mipsel', 'mips64', 'mips64el',
  'openrisc', 'parisc', 'parisc64', 'ppc', 'ppcle', 'ppc64', 'ppc64le', 'ppcemb', 'riscv32',
  'riscv64', 's390', 's390x', 'sh4', 'sh4eb', 'sparc', 'sparc64', 'unicore32', 'xtensa',
  'xtensaeb',
];

/** A device's `<address>` element, kept as written: its attributes in order. */
export type DeviceAddress = Record<string, string>;

/**
 * What an element (and its modelled sub-elements) held beyond the model, kept verbatim: by
 * element, `''` for the object's own element, else the sub-element's path (`driver`, `os/type`).
 * Written back in place by the formatter; drivers need not look at it.
 */
export type XmlKept = Record<string, XmlRest>;

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
  /** `<shareable/>`: several guests may write the image at once. */
  shareable?: boolean;
  /**
   * `<alias name=…>`: the device's name in the hypervisor (its QEMU id). User aliases (`ua-…`)
   * are part of the config; others are assigned at start and shown in the live XML only.
   */
  alias?: string;
  address?: DeviceAddress;
  /** Unmodelled parts, written back verbatim. */
  kept?: XmlKept;
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
  /** `<alias name=…>`, as {@link DomainDiskDef.alias}. */
  alias?: string;
  address?: DeviceAddress;
  /** Unmodelled parts, written back verbatim. */
  kept?: XmlKept;
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
  /** Unmodelled parts, written back verbatim. */
  kept?: XmlKept;
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
  /** VNC: `<listen type='socket'>`, a unix socket instead of TCP (no port then). */
  listenType?: 'socket';
  /** VNC on a unix socket: its path; when absent the driver picks one at start (live XML only). */
  socket?: string;
  /** VNC/SPICE: the password clients must give. A secret: formatted only with `secure`. */
  passwd?: string;
  /** VNC/SPICE: when the password expires, seconds since the epoch (UTC); only with a password. */
  passwdValidTo?: number;
  /** VNC/SPICE: what a password change does to connected clients; only with a password. */
  connected?: DomainGraphicsConnected;
  /** Unmodelled parts (attributes such as `keymap`, elements such as `<image>`), written back verbatim. */
  kept?: XmlKept;
}

/** `<video><model><acceleration>`: tristate switches (absent = hypervisor default). */
export interface DomainVideoAccel {
  accel3d?: 'yes' | 'no';
  accel2d?: 'yes' | 'no';
  /** Host DRM render node for 3D. */
  rendernode?: string;
}

/** `<video>`: a graphics card. Sizes are KiB, as libvirt writes them. */
export interface DomainVideoDef {
  model: DomainVideoModel;
  /** Video RAM; libvirt fills a per-model default and rounds up to a power of two. */
  vram?: number;
  /** QXL: primary bar RAM. */
  ram?: number;
  /** QXL: 64-bit vram bar. */
  vram64?: number;
  /** QXL: VGA framebuffer memory. */
  vgamem?: number;
  /** Screens (heads); 1 unless given. */
  heads?: number;
  /** The primary card (always the first one after parsing). */
  primary?: boolean;
  acceleration?: DomainVideoAccel;
  address?: DeviceAddress;
  /** Unmodelled parts (`<driver>`, `<acpi>`, …), written back verbatim. */
  kept?: XmlKept;
}

/** `<memballoon>` */
export interface DomainMemballoonDef {
  model: DomainMemballoonModel;
  address?: DeviceAddress;
  /** Unmodelled parts, written back verbatim. */
  kept?: XmlKept;
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
  /**
   * `<metadata>`: one element per namespace URI (src/conf/metadata.ts), in document order;
   * absent when there is none.
   */
  metadata?: XmlElement[];
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
    /** offset='absolute': the guest's clock at boot, seconds since the epoch. */
    start?: number;
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
    /** `<video>` cards, primary first; absent when there is none. */
    videos?: DomainVideoDef[];
    memballoon?: DomainMemballoonDef;
  };
  testNamespace?: DomainTestNamespace;
  /**
   * What the document held beyond the model (`<cpu>`, `<controller>`, `<os><loader>`, unknown
   * attributes…), by element path (`''` for `<domain>`, `devices`, `os/type`…), written back verbatim.
   */
  kept?: XmlKept;
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

// What the parser reads, element by element: everything else is kept verbatim (XmlRest).
const DOMAIN_ATTRS = ['type', 'id', 'xmlns:test'];
const DOMAIN_CHILDREN = [
  'name',
  'uuid',
  'title',
  'description',
  'metadata',
  'memory',
  'currentMemory',
  'vcpu',
  'os',
  'features',
  'clock',
  'on_poweroff',
  'on_reboot',
  'on_crash',
  'devices',
];
const TEST_ELEMENTS = ['runstate', 'transient', 'hasmanagedsave', 'ignorepowerbutton'];
const OS_CHILDREN = ['type', 'kernel', 'initrd', 'cmdline', 'boot'];
const FEATURE_CHILDREN = ['acpi', 'apic', 'pae'];
const DEVICE_CHILDREN = ['emulator', 'disk', 'interface', 'serial', 'console', 'graphics', 'video', 'memballoon'];
const DISK_CHILDREN = ['driver', 'source', 'target', 'readonly', 'shareable', 'boot', 'alias', 'address'];
const INTERFACE_CHILDREN = ['mac', 'source', 'target', 'model', 'boot', 'alias', 'address'];
const CHAR_CHILDREN = ['source', 'log', 'target'];
const NONE: readonly string[] = [];
const isDomainChild = knownNames(DOMAIN_CHILDREN);
const isTestElement = (c: XmlElement): boolean => c.namespaceURI === TEST_NAMESPACE_URI && TEST_ELEMENTS.includes(c.localName);
const noChildren = (): boolean => false;

/**
 * Records in `kept` under `key` what `el` holds beyond `attrs` and the children `children` names.
 * A leaf (no children expected) keeps its unknown attributes only.
 */
function keep(
  kept: XmlKept,
  key: string,
  el: XmlElement | undefined,
  attrs: readonly string[],
  children: readonly string[] | ((c: XmlElement) => boolean) = NONE,
  demoted?: ReadonlySet<XmlElement>,
): void {
  if (el === undefined) return;
  const isKnown = typeof children === 'function' ? children : children.length === 0 ? noChildren : knownNames(children);
  // The common case, nothing to keep, costs no allocation beyond the predicate.
  let extra = demoted !== undefined && demoted.size > 0;
  for (const a in el.attrs) {
    if (extra) break;
    if (!attrs.includes(a)) extra = true;
  }
  for (const c of el.children) {
    if (extra) break;
    if (!isKnown(c)) extra = true;
  }
  if (!extra) return;
  const rest = restOf(el, attrs, isKnown, demoted);
  if (rest !== undefined) kept[key] = joinRest(kept[key], rest) ?? rest;
}

/** `kept` when it holds anything, else undefined (so that absent stays absent). */
function keptOrNone(kept: XmlKept): XmlKept | undefined {
  for (const _ in kept) return kept;
  return undefined;
}

/**
 * The device elements a definition holds that tsvirt does not model (`<controller>`, `<input>`,
 * …), and those of modelled kinds kept whole because the model cannot represent them (`whole`:
 * a disk on the network, say), in document order. A driver refuses at start those it cannot run.
 */
export function unmodelledDevices(def: DomainDef): readonly XmlKeptChild[] {
  return def.kept?.devices?.children ?? [];
}

function addressOf(el: XmlElement): DeviceAddress | undefined {
  const a = childElement(el, 'address');
  return a === undefined ? undefined : { ...a.attrs };
}

/** The prefix of user-chosen device aliases (libvirt's USER_ALIAS_PREFIX). */
export const USER_ALIAS_PREFIX = 'ua-';

/** `<alias name=…>` of a device. */
function aliasOf(el: XmlElement): string | undefined {
  return nonEmptyAttr(childElement(el, 'alias'), 'name');
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
      // Kept trees are parser output, with nothing undefined in them.
      else if (k !== 'kept') prune(rec[k]);
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

  let memory = parseMemoryElement(root, 'memory');
  if (memory === 0 && numaCells(root).length === 0) {
    throw xmlErrorFrom(D, 'Memory size must be specified via <memory> or in the <numa> configuration');
  }
  memory = totalMemory(root, memory);
  let currentMemory = parseMemoryElement(root, 'currentMemory');
  // virDomainDefPostParseMemory: no (or a zero, or too large a) balloon means all of it.
  if (currentMemory === 0 || currentMemory > memory) currentMemory = memory;

  const kept: XmlKept = {};
  keep(kept, '', root, DOMAIN_ATTRS, (c) => isDomainChild(c) || isTestElement(c));
  keep(kept, 'memory', childElement(root, 'memory'), ['unit']);
  keep(kept, 'currentMemory', childElement(root, 'currentMemory'), ['unit']);
  const vcpu = parseVcpu(root);
  keep(kept, 'vcpu', childElement(root, 'vcpu'), ['placement', 'current']);
  const devices = parseDevices(root, kept);
  const os = parseOS(root, devices, kept);
  const features = parseFeatures(root, kept);
  const clock = parseClock(root);
  keep(kept, 'clock', childElement(root, 'clock'), ['offset', 'timezone', 'adjustment', 'basis', 'start']);
  const onPoweroff = parseLifecycle(root, 'on_poweroff', LIFECYCLE_ACTIONS, 'destroy');
  const onReboot = parseLifecycle(root, 'on_reboot', LIFECYCLE_ACTIONS, 'restart');
  const onCrash = parseLifecycle(root, 'on_crash', CRASH_ACTIONS, 'destroy');
  if (os.type === 'hvm') addConsoleCompat(devices);
  const devicesEl = childElement(root, 'devices');
  videoPostParse(devices, devicesEl === undefined ? [] : childElements(devicesEl, 'video').map(parseVideo), type, os);
  addImplicitDiskControllers(type, devices, kept);
  const testNamespace = parseTestNamespace(root);

  const def = prune<DomainDef>({
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
  // After prune: kept trees are parser output, with nothing undefined to remove.
  const metadata = sanitizeMetadata(childElement(root, 'metadata'));
  if (metadata.length > 0) def.metadata = metadata;
  const k = keptOrNone(kept);
  if (k !== undefined) def.kept = k;
  return def;
}

function numaCells(root: XmlElement): XmlElement[] {
  const cpu = childElement(root, 'cpu');
  const numa = cpu === undefined ? undefined : childElement(cpu, 'numa');
  return numa === undefined ? [] : childElements(numa, 'cell');
}

/**
 * virDomainDefPostParseMemory: with NUMA cells the boot memory is their sum; `<memory>` is
 * written as the total, boot memory plus the memory devices (DIMMs) plugged in.
 */
function totalMemory(root: XmlElement, memory: number): number {
  const cells = numaCells(root);
  const devices = childElement(root, 'devices');
  let plugged = 0;
  for (const m of devices === undefined ? [] : childElements(devices, 'memory')) {
    const target = childElement(m, 'target');
    const size = target === undefined ? undefined : childElement(target, 'size');
    if (size !== undefined && size.text !== '') plugged += parseMemoryKiB(size.text, attr(size, 'unit'), './size[1]');
  }
  if (cells.length === 0) return memory;
  let initial = 0;
  for (const c of cells) {
    const m = attr(c, 'memory');
    if (m !== undefined) initial += parseMemoryKiB(m, attr(c, 'unit'), './@memory');
  }
  return initial + plugged;
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

function parseOS(root: XmlElement, devices: DomainDef['devices'], kept: XmlKept): DomainDef['os'] {
  const os = childElement(root, 'os');
  const typeEl = os === undefined ? undefined : childElement(os, 'type');
  if (os === undefined || typeEl === undefined || typeEl.text === '') {
    throw xmlErrorFrom(D, 'an os <type> must be specified');
  }
  keep(kept, 'os', os, NONE, OS_CHILDREN);
  keep(kept, 'os/type', typeEl, ['arch', 'machine']);
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

function parseFeatures(root: XmlElement, kept: XmlKept): DomainDef['features'] {
  const el = childElement(root, 'features');
  if (el === undefined) return undefined;
  keep(kept, 'features', el, NONE, FEATURE_CHILDREN);
  for (const name of FEATURE_CHILDREN) keep(kept, `features/${name}`, childElement(el, name), NONE);
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
  if (offset === 'absolute') {
    const start = attr(el, 'start');
    if (start === undefined || !/^\s*\+?[0-9]+$/.test(start) || !Number.isSafeInteger(Number(start))) {
      throw xmlErrorFrom(ErrorDomain.XML, `Invalid value for attribute 'start' in element 'clock': '${start ?? ''}'`);
    }
    return { offset, start: Number(start) };
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

function parseDevices(root: XmlElement, kept: XmlKept): DomainDef['devices'] {
  const el = childElement(root, 'devices');
  const devices: DomainDef['devices'] = {
    disks: [],
    interfaces: [],
    serials: [],
    consoles: [],
    graphics: [],
  };
  if (el === undefined) return devices;
  // Devices of modelled kinds in a form the model cannot represent: kept whole.
  const whole = new Set<XmlElement>();
  devices.emulator = childText(el, 'emulator');
  for (const d of childElements(el, 'disk')) {
    const disk = parseDisk(d);
    if (disk === undefined) whole.add(d);
    else devices.disks.push(disk);
  }
  for (const n of childElements(el, 'interface')) {
    const net = parseInterface(n);
    if (net === undefined) whole.add(n);
    else devices.interfaces.push(net);
  }
  const serialEls = childElements(el, 'serial');
  const consoleEls = childElements(el, 'console');
  // The serial console mirrors serial 0 (addConsoleCompat): when either side is a kind the model
  // cannot represent, both are kept whole, as they were written.
  if ([...serialEls, ...consoleEls].some((c) => !oneOf(CHAR_TYPES, attr(c, 'type') ?? 'pty') && oneOf(CHAR_TYPES_ALL, attr(c, 'type') ?? 'pty'))) {
    for (const c of [...serialEls, ...consoleEls]) whole.add(c);
  } else {
    for (const s of serialEls) {
      const maxPort = Math.max(-1, ...devices.serials.map((x) => x.targetPort));
      devices.serials.push(parseSerial(s, maxPort + 1));
    }
    for (const c of consoleEls) {
      devices.consoles.push(parseConsole(c, devices.consoles));
    }
  }
  for (const g of childElements(el, 'graphics')) {
    const graphics = parseGraphics(g);
    if (graphics === undefined) whole.add(g);
    else devices.graphics.push(graphics);
  }
  const balloon = childElement(el, 'memballoon');
  if (balloon !== undefined) {
    const model = enumAttr(balloon, 'model', MEMBALLOON_MODELS);
    if (model === undefined) throw missingAttr('memballoon', 'model');
    devices.memballoon = { model, address: addressOf(balloon) };
    const k: XmlKept = {};
    keep(k, '', balloon, ['model'], ['address']);
    const bk = keptOrNone(k);
    if (bk !== undefined) devices.memballoon.kept = bk;
  }
  keep(kept, 'devices', el, NONE, DEVICE_CHILDREN, whole);
  return devices;
}

/** virDiskNameToIndex: sda → 0, sdz → 25, sdaa → 26; undefined for a name without a letter suffix. */
function diskNameIndex(name: string): number | undefined {
  const m = /^(?:sd|hd|vd|xvd|ubd|fd)([a-z]+)\d*$/.exec(name);
  if (m === null) return undefined;
  let idx = 0;
  for (const ch of m[1] ?? '') idx = idx * 26 + (ch.charCodeAt(0) - 96);
  return idx - 1;
}

/** A synthesized element, as the parser would have produced it. */
function element(name: string, attrs: Record<string, string>, children: XmlElement[] = []): XmlElement {
  const own = Object.assign(Object.create(null) as Record<string, string>, attrs);
  return { name, localName: name, namespaceURI: undefined, attrs: own, children, text: '' };
}

/**
 * What libvirt's post-parse adds for SATA and SCSI disks: a drive address (controller, bus,
 * target, unit from the target name: six ports per SATA controller, seven units per SCSI bus, as
 * virDomainDiskDefAssignAddress), and the controllers they name when the definition has none
 * (virDomainDefAddImplicitControllers); the QEMU driver's default SCSI model is libvirt 9.0's,
 * lsilogic.
 */
function addImplicitDiskControllers(type: DomainVirtType, devices: DomainDef['devices'], kept: XmlKept): void {
  const wanted = new Map<string, Set<number>>();
  for (const d of devices.disks) {
    if (d.targetBus !== 'sata' && d.targetBus !== 'scsi') continue;
    if (d.address === undefined) {
      const idx = diskNameIndex(d.targetDev);
      if (idx === undefined) continue;
      const per = d.targetBus === 'sata' ? 6 : 7;
      d.address = { type: 'drive', controller: String(Math.floor(idx / per)), bus: '0', target: '0', unit: String(idx % per) };
    }
    if (d.address.type !== 'drive') continue;
    const set = wanted.get(d.targetBus) ?? new Set<number>();
    set.add(Number(d.address.controller ?? '0'));
    wanted.set(d.targetBus, set);
  }
  if (wanted.size === 0) return;
  const rest = kept.devices;
  const have = new Set(
    (rest?.children ?? [])
      .filter((c) => c.el.name === 'controller')
      .map((c) => `${attr(c.el, 'type') ?? ''}/${attr(c.el, 'index') ?? '0'}`),
  );
  const added: XmlKeptChild[] = [];
  for (const [bus, indexes] of wanted) {
    for (const index of [...indexes].sort((a, b) => a - b)) {
      if (have.has(`${bus}/${index}`)) continue;
      const attrs: Record<string, string> = { type: bus, index: String(index) };
      if (bus === 'scsi' && (type === 'qemu' || type === 'kvm')) attrs.model = 'lsilogic';
      // libvirt lists controllers after the disks.
      added.push({ after: 'disk', index: devices.disks.length - 1, el: element('controller', attrs) });
    }
  }
  if (added.length > 0) kept.devices = joinRest(rest, { children: added }) ?? { children: added };
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

/** A `<disk>`, or undefined for a kind the model does not represent (kept whole). */
function parseDisk(el: XmlElement): DomainDiskDef | undefined {
  const type = enumAttr(el, 'type', DISK_TYPES_ALL, 'file');
  if (!oneOf(DISK_TYPES, type)) return undefined;
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
  const disk: DomainDiskDef = {
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
    alias: aliasOf(el),
    address: addressOf(el),
  };
  if (childElement(el, 'shareable') !== undefined) disk.shareable = true;
  const kept: XmlKept = {};
  keep(kept, '', el, ['type', 'device'], DISK_CHILDREN);
  keep(kept, 'driver', driver, ['name', 'type']);
  keep(kept, 'source', source, [type === 'file' ? 'file' : 'dev'], NONE);
  keep(kept, 'target', target, ['dev', 'bus']);
  keep(kept, 'boot', childElement(el, 'boot'), ['order']);
  const k = keptOrNone(kept);
  if (k !== undefined) disk.kept = k;
  return disk;
}

const NET_MODEL_CHARS = /^[A-Za-z0-9_-]*$/;

/** An `<interface>`, or undefined for a kind the model does not represent (kept whole). */
function parseInterface(el: XmlElement): DomainInterfaceDef | undefined {
  const type = enumAttr(el, 'type', INTERFACE_TYPES_ALL, 'user');
  if (!oneOf(INTERFACE_TYPES, type)) return undefined;
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
  const net: DomainInterfaceDef = {
    type,
    mac,
    sourceNetwork,
    sourceBridge,
    targetDev: nonEmptyAttr(childElement(el, 'target'), 'dev'),
    model,
    bootOrder: bootOrderOf(el),
    alias: aliasOf(el),
    address: addressOf(el),
  };
  const kept: XmlKept = {};
  const modelledSource = type === 'network' || type === 'bridge';
  keep(kept, '', el, ['type'], modelledSource ? INTERFACE_CHILDREN : INTERFACE_CHILDREN.filter((n) => n !== 'source'));
  keep(kept, 'mac', childElement(el, 'mac'), ['address']);
  if (modelledSource) keep(kept, 'source', source, [type], NONE);
  keep(kept, 'target', childElement(el, 'target'), ['dev']);
  keep(kept, 'model', childElement(el, 'model'), ['type']);
  keep(kept, 'boot', childElement(el, 'boot'), ['order']);
  const k = keptOrNone(kept);
  if (k !== undefined) net.kept = k;
  return net;
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
  const withPath = type === 'file' || type === 'dev' || type === 'pipe' || type === 'unix' || type === 'pty';
  if (withPath) {
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
  const kept: XmlKept = {};
  keep(kept, '', el, ['type'], withPath ? CHAR_CHILDREN : ['log', 'target']);
  if (withPath) keep(kept, 'source', source, type === 'unix' ? ['path', 'mode'] : ['path'], NONE);
  keep(kept, 'target', childElement(el, 'target'), ['type', 'port'], NONE);
  const k = keptOrNone(kept);
  if (k !== undefined) result.kept = k;
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
    if (console.kept !== undefined) devices.consoles[0].kept = console.kept;
  }
}

function charSourceOf(c: DomainCharSource): DomainCharSource {
  const out: DomainCharSource = { type: c.type };
  if (c.sourcePath !== undefined) out.sourcePath = c.sourcePath;
  if (c.sourceMode !== undefined) out.sourceMode = c.sourceMode;
  if (c.log !== undefined) out.log = { ...c.log };
  return out;
}

/** The `<graphics>` attributes tsvirt models, by type; others are kept verbatim. */
const GRAPHICS_AUTH_ATTRS = ['passwd', 'passwdValidTo', 'connected'];
const GRAPHICS_ATTRS: Record<string, readonly string[]> = {
  vnc: ['type', 'port', 'autoport', 'listen', 'socket', ...GRAPHICS_AUTH_ATTRS],
  spice: ['type', 'port', 'autoport', 'listen', ...GRAPHICS_AUTH_ATTRS],
};

/**
 * Whether the model represents this display's listen configuration: at most one `<listen>`, of
 * type address (or none, as a SPICE display without port is written), with nothing else in it.
 * Otherwise the whole `<graphics>` is kept verbatim (a lost listen option would silently change
 * who can reach the display).
 */
function listenModelled(el: XmlElement, type: DomainGraphicsType): boolean {
  // Only VNC's unix socket display is modelled (it has neither port nor listen address).
  if (attr(el, 'socket') !== undefined && type !== 'vnc') return false;
  const listens = childElements(el, 'listen');
  if (listens.length === 0) return true;
  if (listens.length > 1 || GRAPHICS_ATTRS[type] === undefined) return false;
  const l = listens[0] as XmlElement;
  const listenType = attr(l, 'type') ?? 'address';
  // type='none' is what a SPICE display without port is written with (writeGraphics); VNC may listen on a unix socket.
  if (listenType !== 'address' && listenType !== 'none' && !(listenType === 'socket' && type === 'vnc')) return false;
  const listenAttrs = listenType === 'none' ? ['type'] : listenType === 'socket' ? ['type', 'socket'] : ['type', 'address'];
  for (const name in l.attrs) if (!listenAttrs.includes(name)) return false;
  return l.children.length === 0;
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

/** A `<graphics>`, or undefined when the model cannot represent its listen setup (kept whole). */
function parseGraphics(el: XmlElement): DomainGraphicsDef | undefined {
  const type = enumAttr(el, 'type', GRAPHICS_TYPES);
  if (type === undefined) throw missingAttr('graphics', 'type');
  if (!listenModelled(el, type)) return undefined;
  const kept: XmlKept = {};
  keep(kept, '', el, GRAPHICS_ATTRS[type] ?? ['type'], GRAPHICS_ATTRS[type] === undefined ? NONE : ['listen']);
  const k = keptOrNone(kept);
  if (type !== 'vnc' && type !== 'spice') return k === undefined ? { type } : { type, kept: k };
  const socketListen = childElements(el, 'listen').find((l) => attr(l, 'type') === 'socket');
  const socketAttr = nonEmptyAttr(el, 'socket');
  if (socketListen !== undefined || socketAttr !== undefined) {
    // libvirt: a unix socket display has no TCP port, address or autoport.
    const socket = nonEmptyAttr(socketListen, 'socket') ?? socketAttr;
    if (socketAttr !== undefined && socket !== socketAttr) {
      throw xmlErrorFrom(D, `graphics 'socket' attribute '${socketAttr}' must match 'socket' attribute of first listen element (found '${socket}')`);
    }
    const sock: DomainGraphicsDef = { type, listenType: 'socket', socket, ...graphicsAuthOf(el) };
    if (k !== undefined) sock.kept = k;
    return sock;
  }

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
    // With autoport the port is live state (the one the guest got), which only live XML shows.
    port: port === undefined || port <= 0 ? undefined : port,
    autoport,
    listen: childAddress ?? attrAddress,
  };
  const result: DomainGraphicsDef = { ...out, ...graphicsAuthOf(el) };
  if (k !== undefined) result.kept = k;
  return result;
}

/** passwd, passwdValidTo, connected; libvirt ignores the last two without a password. */
function graphicsAuthOf(el: XmlElement): Pick<DomainGraphicsDef, 'passwd' | 'passwdValidTo' | 'connected'> {
  const passwd = attr(el, 'passwd');
  if (passwd === undefined) return {};
  const validTo = attr(el, 'passwdValidTo');
  return {
    passwd,
    passwdValidTo: validTo === undefined ? undefined : parsePasswdValidTo(validTo),
    connected: enumAttr(el, 'connected', GRAPHICS_CONNECTED),
  };
}

/** A video size attribute (KiB): an unsigned integer, else libvirt's XML error naming it. */
function videoSizeAttr(model: XmlElement, name: string, what: string): number | undefined {
  const v = attr(model, name);
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v) || Number(v) > 0xffffffff) throw xmlErrorFrom(D, `cannot parse video ${what} '${v}'`);
  return Number(v);
}

/** A `<video>` as written, before its model is resolved. */
type ParsedVideo = Omit<DomainVideoDef, 'model'> & { model: DomainVideoModel | 'default' };

/** `<video>`; the model's defaults are filled in by videoPostParse, which knows the domain. */
function parseVideo(el: XmlElement): ParsedVideo {
  const out = parseVideoModel(el);
  const kept: XmlKept = {};
  keep(kept, '', el, NONE, ['model', 'address']);
  const modelEl = childElement(el, 'model');
  keep(kept, 'model', modelEl, ['type', 'ram', 'vram', 'vram64', 'vgamem', 'heads', 'primary'], ['acceleration']);
  keep(kept, 'acceleration', modelEl === undefined ? undefined : childElement(modelEl, 'acceleration'), ['accel3d', 'accel2d', 'rendernode'], NONE);
  const k = keptOrNone(kept);
  if (k !== undefined) out.kept = k;
  return out;
}

/** The modelled part of a `<video>`. */
function parseVideoModel(el: XmlElement): ParsedVideo {
  const modelEl = childElement(el, 'model');
  const out: ParsedVideo = { model: 'default', heads: 1, address: addressOf(el) };
  if (modelEl === undefined) return out;
  const type = attr(modelEl, 'type');
  if (type !== undefined) {
    if (!oneOf(VIDEO_MODELS_ALL, type)) throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `unknown video model '${type}'`);
    out.model = type;
  }
  // libvirt keeps nothing else of a 'none' card.
  if (out.model === 'none') {
    delete out.heads;
    return out;
  }
  out.ram = videoSizeAttr(modelEl, 'ram', 'ram');
  out.vram = videoSizeAttr(modelEl, 'vram', 'vram');
  out.vram64 = videoSizeAttr(modelEl, 'vram64', 'vram64');
  out.vgamem = videoSizeAttr(modelEl, 'vgamem', 'vgamem');
  for (const k of ['ram', 'vram64', 'vgamem'] as const) {
    if (out[k] !== undefined && out[k] !== 0 && out.model !== 'qxl') {
      throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, `${k} attribute only supported for video type qxl`);
    }
  }
  const heads = attr(modelEl, 'heads');
  if (heads !== undefined) {
    if (!/^[0-9]+$/.test(heads) || Number(heads) > 0xffffffff) {
      throw confError(D, ErrorNumber.INTERNAL_ERROR, `cannot parse video heads '${heads}'`);
    }
    out.heads = Number(heads);
  } else {
    out.heads = 1;
  }
  // Anything but 'yes' leaves the card secondary (libvirt compares the string).
  if (attr(modelEl, 'primary') === 'yes') out.primary = true;
  const accelEl = childElement(modelEl, 'acceleration');
  if (accelEl !== undefined) {
    const acceleration: DomainVideoAccel = {
      accel3d: enumAttr(accelEl, 'accel3d', ['yes', 'no'] as const),
      accel2d: enumAttr(accelEl, 'accel2d', ['yes', 'no'] as const),
      rendernode: nonEmptyAttr(accelEl, 'rendernode'),
    };
    if (acceleration.accel3d !== undefined || acceleration.accel2d !== undefined || acceleration.rendernode !== undefined) {
      out.acceleration = acceleration;
    }
  }
  return out;
}

/**
 * virDomainVideoDefaultType for the x86 guests tsvirt runs: what a card without a model, or
 * the card libvirt adds for a display, is.
 */
function defaultVideoModel(type: DomainVirtType, os: DomainDef['os']): DomainVideoModel {
  if (type === 'vbox') return 'vbox';
  if (type === 'vmware') return 'vmvga';
  if (os.type === 'xen' || os.type === 'linux') return 'xen';
  if (os.arch?.startsWith('ppc64') === true) return 'vga';
  return 'cirrus';
}

/** virDomainVideoDefaultRAM (KiB). */
function defaultVideoRAM(type: DomainVirtType, model: DomainVideoModel): number | undefined {
  switch (model) {
    case 'vga':
    case 'cirrus':
    case 'vmvga':
    case 'bochs':
      return type === 'vbox' ? 8 * 1024 : 16 * 1024;
    case 'xen':
      return 4 * 1024;
    case 'vbox':
      return type === 'vbox' ? 8 * 1024 : undefined;
    case 'qxl':
      return 64 * 1024;
    default:
      return undefined;
  }
}

/** The smallest power of two ≥ n (libvirt's VIR_ROUND_UP_POWER_OF_TWO). */
function roundUpPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * libvirt's video post-parse: a display without a card gets one (virDomainDefAddImplicitVideo);
 * 'default' models and unset sizes take their defaults, sizes round up to a power of two; the
 * primary card (the first when none says so) moves to the front. QEMU domains (qemu, kvm) also
 * get the qemu driver's QXL VGA memory.
 */
function videoPostParse(devices: DomainDef['devices'], parsed: ParsedVideo[], type: DomainVirtType, os: DomainDef['os']): void {
  if (parsed.length === 0 && devices.graphics.length > 0) parsed.push({ model: 'default', heads: 1 });
  if (parsed.length === 0) return;
  if (parsed.some((v) => v.model === 'none') && parsed.length > 1) {
    throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, "a 'none' video type must be the only video device defined for the domain");
  }
  let primary = -1;
  parsed.forEach((v, i) => {
    if (v.primary !== true) return;
    if (primary >= 0) throw confError(D, ErrorNumber.CONFIG_UNSUPPORTED, 'Only one primary video device is supported');
    primary = i;
  });
  const videos: DomainVideoDef[] = parsed.map((v) => {
    const model = v.model === 'default' ? defaultVideoModel(type, os) : v.model;
    const out: DomainVideoDef = { ...v, model };
    if (model === 'none') return out;
    if (out.vram === undefined || out.vram === 0) out.vram = defaultVideoRAM(type, model);
    if (out.vram !== undefined) out.vram = roundUpPowerOfTwo(out.vram);
    if (model === 'qxl') {
      if (out.ram === undefined || out.ram === 0) out.ram = 64 * 1024;
      if ((type === 'qemu' || type === 'kvm') && (out.vgamem === undefined || out.vgamem === 0)) out.vgamem = 16 * 1024;
    }
    for (const k of ['ram', 'vram64', 'vgamem'] as const) {
      const n = out[k];
      if (n === 0) delete out[k];
      else if (n !== undefined && k === 'ram') out.ram = roundUpPowerOfTwo(n);
    }
    if (out.heads === 0) delete out.heads;
    return out;
  });
  if (videos[0].model !== 'none') {
    if (primary < 0) primary = 0;
    const [card] = videos.splice(primary, 1);
    card.primary = true;
    videos.unshift(card);
  }
  devices.videos = videos;
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

/** A rest's attributes, to append to a modelled element's own. */
function restAttrs(rest: XmlRest | undefined): XmlAttrList {
  return rest?.attrs ?? [];
}

/** A leaf element with text: the model's attributes, then the kept ones. */
function textKept(w: XmlWriter, name: string, text: string | number | undefined, attrs: XmlAttrList, rest: XmlRest | undefined): void {
  if (rest?.children !== undefined) {
    // Text and kept children: written as libvirt would, children after the text is not possible;
    // keep the children (the text is what the model holds elsewhere).
    w.element(name, attrs, () => undefined, rest);
    return;
  }
  w.text(name, text, rest?.attrs === undefined ? attrs : [...attrs, ...rest.attrs]);
}

/**
 * Writes a domain into `w` at its current depth, under root element `rootName` (`domain`,
 * or `inactiveDomain` inside snapshot XML). @internal
 */
export function writeDomainDef(w: XmlWriter, def: DomainDef, opts: FormatDomainOptions, rootName: string): void {
  const live = !opts.inactive;
  const ns = def.testNamespace;
  const kept = def.kept ?? {};
  const hasNs =
    ns !== undefined &&
    (ns.runstate !== undefined || ns.transient === true || ns.hasManagedSave === true || ns.ignorePowerButton === true);
  // A kept test:* element (test:domainsnapshot) needs the declaration too.
  const keptNs = kept['']?.children?.some((c) => c.el.namespaceURI === TEST_NAMESPACE_URI) === true;
  w.element(
    rootName,
    [
      ['type', def.type],
      ['id', live && opts.id !== undefined && opts.id > 0 ? opts.id : undefined],
      ['xmlns:test', hasNs || keptNs ? TEST_NAMESPACE_URI : undefined],
    ],
    (w) => writeDomainBody(w, def, opts, kept, live, hasNs),
    kept[''],
  );
}

function writeDomainBody(w: XmlWriter, def: DomainDef, opts: FormatDomainOptions, kept: XmlKept, live: boolean, hasNs: boolean): void {
  const ns = def.testNamespace;
  w.text('name', def.name);
  w.text('uuid', def.uuid);
  w.text('title', def.title);
  w.text('description', def.description);
  if (def.metadata !== undefined && def.metadata.length > 0) {
    const elements = def.metadata;
    w.element('metadata', undefined, (inner) => {
      for (const el of elements) inner.preformatted(el.name, dumpMetadataElement(el));
    });
  }
  textKept(w, 'memory', def.memory, [['unit', 'KiB']], kept.memory);
  textKept(w, 'currentMemory', def.currentMemory, [['unit', 'KiB']], kept.currentMemory);
  textKept(
    w,
    'vcpu',
    def.vcpu.count,
    [
      ['placement', def.vcpu.placement],
      ['current', def.vcpu.current !== undefined && def.vcpu.current !== def.vcpu.count ? def.vcpu.current : undefined],
    ],
    kept.vcpu,
  );

  w.element(
    'os',
    restAttrs(kept.os),
    (w) => {
      textKept(
        w,
        'type',
        def.os.type,
        [
          ['arch', def.os.arch],
          ['machine', def.os.machine],
        ],
        kept['os/type'],
      );
      w.text('kernel', def.os.kernel);
      w.text('initrd', def.os.initrd);
      w.text('cmdline', def.os.cmdline);
      for (const dev of def.os.boot) w.empty('boot', [['dev', dev]]);
    },
    kept.os === undefined ? undefined : { children: kept.os.children },
  );

  const f = def.features;
  if ((f !== undefined && (f.acpi || f.apic || f.pae)) || kept.features !== undefined) {
    w.element(
      'features',
      restAttrs(kept.features),
      (w) => {
        if (f?.acpi) w.element('acpi', restAttrs(kept['features/acpi']), () => undefined, childrenOnly(kept['features/acpi']));
        if (f?.apic) w.element('apic', restAttrs(kept['features/apic']), () => undefined, childrenOnly(kept['features/apic']));
        if (f?.pae) w.element('pae', restAttrs(kept['features/pae']), () => undefined, childrenOnly(kept['features/pae']));
      },
      childrenOnly(kept.features),
    );
  }

  const c = def.clock;
  w.element(
    'clock',
    [
      ['offset', c.offset],
      ['timezone', c.offset === 'timezone' ? c.timezone : undefined],
      ['adjustment', c.offset === 'variable' ? (c.adjustment ?? 0) : undefined],
      ['basis', c.offset === 'variable' ? (c.basis ?? 'utc') : undefined],
      ['start', c.offset === 'absolute' ? (c.start ?? 0) : undefined],
    ],
    () => undefined,
    kept.clock,
  );
  w.text('on_poweroff', def.onPoweroff);
  w.text('on_reboot', def.onReboot);
  w.text('on_crash', def.onCrash);

  w.element(
    'devices',
    restAttrs(kept.devices),
    (w) => {
      w.text('emulator', def.devices.emulator);
      for (const d of def.devices.disks) writeDisk(w, d, live);
      for (const n of def.devices.interfaces) writeInterface(w, n, live);
      for (const s of def.devices.serials) writeChar(w, 'serial', s, s.targetType, live);
      for (const con of def.devices.consoles) writeChar(w, 'console', con, con.targetType, live);
      for (const g of def.devices.graphics) writeGraphics(w, g, live, opts.secure === true);
      for (const v of def.devices.videos ?? []) writeVideo(w, v);
      const b = def.devices.memballoon;
      if (b !== undefined) {
        w.element('memballoon', [['model', b.model], ...restAttrs(b.kept?.[''])], (inner) => writeAddress(inner, b.address), childrenOnly(b.kept?.['']));
      }
    },
    childrenOnly(kept.devices),
    false, // libvirt writes an empty <devices> open and closed
  );

  if (hasNs && ns !== undefined) {
    w.text('test:runstate', ns.runstate);
    if (ns.transient) w.empty('test:transient');
    if (ns.hasManagedSave) w.text('test:hasmanagedsave', 'yes');
    if (ns.ignorePowerButton) w.text('test:ignorepowerbutton', 'yes');
  }
}

/** A rest without its attributes (written separately, after the model's). */
function childrenOnly(rest: XmlRest | undefined): XmlRest | undefined {
  return rest?.children === undefined ? undefined : { children: rest.children };
}

function writeAddress(w: XmlWriter, address: DeviceAddress | undefined): void {
  if (address !== undefined) w.empty('address', Object.entries(address));
}

/** `<name attrs/>` with the kept attributes and children of `kept[key]`. */
function emptyKept(w: XmlWriter, name: string, attrs: XmlAttrList, kept: XmlKept | undefined, key: string): void {
  const rest = kept?.[key];
  if (rest === undefined) w.empty(name, attrs);
  else w.element(name, [...attrs, ...restAttrs(rest)], () => undefined, childrenOnly(rest));
}

/**
 * `<alias>`: in the live XML always, in the persistent config only a user alias (libvirt drops
 * the others when it parses a config).
 */
function writeAlias(w: XmlWriter, alias: string | undefined, live: boolean): void {
  if (alias !== undefined && (live || alias.startsWith(USER_ALIAS_PREFIX))) w.empty('alias', [['name', alias]]);
}

function writeDisk(w: XmlWriter, d: DomainDiskDef, live: boolean): void {
  const kept = d.kept;
  w.element(
    'disk',
    [['type', d.type], ['device', d.device], ...restAttrs(kept?.[''])],
    (w) => {
      if (d.driverName !== undefined || d.driverType !== undefined || kept?.driver !== undefined) {
        emptyKept(
          w,
          'driver',
          [
            ['name', d.driverName],
            ['type', d.driverType],
          ],
          kept,
          'driver',
        );
      }
      const sourceAttr: XmlAttrList =
        d.type === 'file' && d.sourceFile !== undefined
          ? [['file', d.sourceFile]]
          : d.type === 'block' && d.sourceDev !== undefined
            ? [['dev', d.sourceDev]]
            : [];
      if (sourceAttr.length > 0 || kept?.source !== undefined) emptyKept(w, 'source', sourceAttr, kept, 'source');
      emptyKept(
        w,
        'target',
        [
          ['dev', d.targetDev],
          ['bus', d.targetBus],
        ],
        kept,
        'target',
      );
      if (d.readonly) w.empty('readonly');
      if (d.shareable === true) w.empty('shareable');
      if (d.bootOrder !== undefined) emptyKept(w, 'boot', [['order', d.bootOrder]], kept, 'boot');
      writeAlias(w, d.alias, live);
      writeAddress(w, d.address);
    },
    childrenOnly(kept?.['']),
  );
}

function writeInterface(w: XmlWriter, n: DomainInterfaceDef, live: boolean): void {
  const kept = n.kept;
  w.element(
    'interface',
    [['type', n.type], ...restAttrs(kept?.[''])],
    (w) => {
      emptyKept(w, 'mac', [['address', n.mac]], kept, 'mac');
      if (n.type === 'network' && n.sourceNetwork !== undefined) emptyKept(w, 'source', [['network', n.sourceNetwork]], kept, 'source');
      if (n.type === 'bridge' && n.sourceBridge !== undefined) emptyKept(w, 'source', [['bridge', n.sourceBridge]], kept, 'source');
      if (n.targetDev !== undefined) emptyKept(w, 'target', [['dev', n.targetDev]], kept, 'target');
      if (n.model !== undefined) emptyKept(w, 'model', [['type', n.model]], kept, 'model');
      if (n.bootOrder !== undefined) emptyKept(w, 'boot', [['order', n.bootOrder]], kept, 'boot');
      writeAlias(w, n.alias, live);
      writeAddress(w, n.address);
    },
    childrenOnly(kept?.['']),
  );
}

function writeChar(
  w: XmlWriter,
  name: 'serial' | 'console',
  c: DomainCharSource & { targetPort: number },
  targetType: string | undefined,
  live: boolean,
): void {
  const kept = c.kept;
  w.element(
    name,
    [['type', c.type], ...restAttrs(kept?.[''])],
    (w) => {
      // A pty's path is assigned at start: part of the live state only.
      const path = c.type === 'pty' && !live ? undefined : c.sourcePath;
      if (path !== undefined) {
        emptyKept(
          w,
          'source',
          [
            ['mode', c.type === 'unix' ? (c.sourceMode ?? 'connect') : undefined],
            ['path', path],
          ],
          kept,
          'source',
        );
      }
      if (c.log !== undefined) {
        w.empty('log', [
          ['file', c.log.file],
          ['append', c.log.append],
        ]);
      }
      emptyKept(
        w,
        'target',
        [
          ['type', targetType],
          ['port', c.targetPort],
        ],
        kept,
        'target',
      );
    },
    childrenOnly(kept?.['']),
  );
}

function writeGraphics(w: XmlWriter, g: DomainGraphicsDef, live: boolean, secure: boolean): void {
  const rest = g.kept?.[''];
  if (g.type !== 'vnc' && g.type !== 'spice') {
    w.element('graphics', [['type', g.type], ...restAttrs(rest)], () => undefined, childrenOnly(rest));
    return;
  }
  if (g.listenType === 'socket') {
    w.element(
      'graphics',
      [['type', g.type], ['socket', g.socket], ...graphicsAuthAttrs(g, secure), ...restAttrs(rest)],
      (w) =>
        w.empty('listen', [
          ['type', 'socket'],
          ['socket', g.socket],
        ]),
      childrenOnly(rest),
    );
    return;
  }
  const autoport = g.autoport === true;
  let port: number | undefined;
  if (g.port !== undefined && (!autoport || live)) port = g.port;
  else if (autoport && g.type === 'vnc') port = -1;
  w.element(
    'graphics',
    [
      ['type', g.type],
      ['port', port],
      ['autoport', g.type === 'vnc' ? (autoport ? 'yes' : 'no') : autoport ? 'yes' : undefined],
      ['listen', g.listen],
      ...graphicsAuthAttrs(g, secure),
      ...restAttrs(rest),
    ],
    (w) => {
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
    },
    childrenOnly(rest),
  );
}

function writeVideo(w: XmlWriter, v: DomainVideoDef): void {
  const kept = v.kept;
  const modelAttrs: [string, string | number | undefined][] = [
    ['type', v.model],
    ['ram', v.ram],
    ['vram', v.vram],
    ['vram64', v.vram64],
    ['vgamem', v.vgamem],
    ['heads', v.heads],
    ['primary', v.primary === true ? 'yes' : undefined],
  ];
  w.element(
    'video',
    restAttrs(kept?.['']),
    (w) => {
      const a = v.acceleration;
      if (a === undefined && kept?.acceleration === undefined) {
        emptyKept(w, 'model', modelAttrs, kept, 'model');
      } else {
        const rest = kept?.model;
        w.element(
          'model',
          [...modelAttrs, ...restAttrs(rest)],
          (w) =>
            emptyKept(
              w,
              'acceleration',
              [
                ['accel3d', a?.accel3d],
                ['accel2d', a?.accel2d],
                ['rendernode', a?.rendernode],
              ],
              kept,
              'acceleration',
            ),
          childrenOnly(rest),
        );
      }
      writeAddress(w, v.address);
    },
    childrenOnly(kept?.['']),
  );
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
