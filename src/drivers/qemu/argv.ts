/**
 * The QEMU command line from a domain definition. Pure: no I/O (the binary lookup and the KVM
 * check are in process.ts). Anything of the definition this builder cannot express is refused
 * with VIR_ERR_CONFIG_UNSUPPORTED rather than dropped.
 *
 * Shape (as libvirt's, for QEMU 7.2): `-nodefaults -no-user-config -display none`, `-S` (the
 * manager connects to the monitor before the guest runs), `-no-shutdown` (a guest that powers
 * off stays until the manager has seen it, so a poweroff while nobody watched is still visible
 * on reattach), a QMP monitor on a unix socket, a pidfile, `-blockdev`/`-device` in JSON (no
 * comma escaping of paths), serial ports to files or, for a pty, to a unix socket the driver's
 * console connects to, logged to a file (console.ts).
 *
 * No value of the definition may add options of its own: inside QemuOpts (`key=value,…`) every
 * value is escaped (optValue doubles commas); what cannot be escaped is validated instead (the
 * machine type against QEMU's list, the VNC listen address as an IP address); plain arguments
 * (-kernel, -append, -pidfile, -loadvm) are single argv words, which QEMU takes whole.
 */
import { cpuArg, smpArg } from './cpu-args.js';
import { isIP } from 'node:net';
import { ErrorDomain } from '../../core/enums.generated.js';
import { configUnsupported, operationFailed, xmlError } from '../../core/errors.js';
import {
  unmodelledDevices,
  type DeviceAddress,
  type DomainCharSource,
  type DomainDef,
  type DomainDiskDef,
  type DomainGraphicsDef,
  type DomainInterfaceDef,
  type DomainVideoDef,
} from '../../conf/domain.js';
import type { XmlElement } from '../../conf/xml.js';

/** The accelerator of a domain type, as libvirt: `kvm` needs KVM, `qemu` is TCG. */
export type QemuAccel = 'kvm' | 'tcg';

/** Files the command line names; all derived by the caller from the UUID, never the name. */
export interface QemuArgvPaths {
  /** QMP unix socket. */
  monitorSocket: string;
  pidFile: string;
  /**
   * Where a serial port whose host side is not a file writes: a pty's log (unless the domain
   * names one with `<log>`), a vc's output. One file per port.
   */
  serialLog(port: number): string;
  /** The unix socket (in the runtime directory) a pty serial port listens on for the console. */
  serialSocket(port: number): string;
  /** The VNC server's unix socket when `<listen type='socket'>` names none (libvirt: vnc.sock in the runtime directory). */
  vncSocket?: string;
}

/** Options of {@link buildQemuArgv}. */
export interface QemuArgvOptions {
  paths: QemuArgvPaths;
  /** Resume from a migration stream given later with `migrate-incoming` (`-incoming defer`). */
  incomingDefer?: boolean;
  /** Start from this internal snapshot (`-loadvm`): its memory and disks, as a revert does. */
  loadSnapshot?: string;
  /** The machine types the emulator lists (host.ts probes them); without it only the syntax is checked. */
  machines?: { emulator: string; types: readonly string[] };
  /**
   * The tap device of each interface (by index) of `type='network'` or `type='bridge'`, made by
   * the caller on the interface's bridge (taps.ts). Without it those interfaces are refused.
   */
  taps?: readonly (string | undefined)[];
  /** The CPU models the emulator lists (`-cpu help`); without it a `<cpu><model>` is not checked. */
  cpuModels?: readonly string[];
}

/** What the builder produces: the arguments, and environment the process needs. */
export interface QemuCommand {
  argv: string[];
  /** Extra environment (TZ for `<clock offset='timezone'>`). */
  env: Record<string, string>;
}

const DOM = ErrorDomain.QEMU;

/** The accelerator for a domain type; other types are refused. */
export function accelFor(def: DomainDef): QemuAccel {
  if (def.type === 'kvm') return 'kvm';
  if (def.type === 'qemu') return 'tcg';
  throw configUnsupported(DOM, `Emulator 'qemu' does not support virt type '${def.type}'`);
}

/** The QEMU binary name for the guest architecture (x86 only here). */
export function emulatorNameFor(def: DomainDef): string {
  const arch = def.os.arch ?? 'x86_64';
  if (arch === 'x86_64') return 'qemu-system-x86_64';
  if (arch === 'i686') return 'qemu-system-i386';
  throw configUnsupported(DOM, `architecture '${arch}' is not supported by tsvirt's qemu driver`);
}

/** Escapes a value inside QemuOpts syntax (`key=value,key=value`): commas are doubled. */
export function optValue(value: string): string {
  return value.replace(/,/g, ',,');
}

/** Quotes a word for /bin/sh (used in `exec:` migration URIs). */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * What libvirt's QEMU driver checks when a definition is stored (the rest waits for start, as in
 * libvirt): the domain type, the architecture, the OS type and the machine type.
 *
 * Errors: VIR_ERR_CONFIG_UNSUPPORTED.
 */
export function checkQemuDefinition(def: DomainDef, machines?: QemuArgvOptions['machines']): void {
  accelFor(def);
  emulatorNameFor(def);
  if (def.os.type !== 'hvm') throw configUnsupported(DOM, `OS type '${def.os.type}' is not supported by the qemu driver`);
  checkMachineType(def, def.os.machine ?? 'pc', machines);
}

/**
 * Kept device elements this driver does not give QEMU but cannot run without either (they carry
 * data or reach the host): refused at start rather than dropped. Others (controllers, input,
 * sound, video, channels, rng, panic…) are kept in the definition and left to QEMU's defaults.
 */
const REFUSED_DEVICES = ['hostdev', 'filesystem', 'smartcard', 'shmem', 'tpm', 'vsock', 'memory', 'iommu', 'redirdev', 'watchdog', 'crypto', 'lease', 'hub'];

/** The words for a kept device the driver cannot run, or undefined when it may be left out. */
function unrunnable(el: XmlElement, whole: boolean): string | undefined {
  const type = el.attrs.type;
  if (whole) {
    switch (el.name) {
      case 'disk':
        return `disk type '${type ?? 'file'}' is not supported by tsvirt's qemu driver`;
      case 'interface':
        return `interface type '${type ?? 'user'}' is not supported by tsvirt's qemu driver (use type='user')`;
      case 'graphics':
        return `graphics type '${type ?? ''}' with this listen configuration is not supported by tsvirt's qemu driver`;
      case 'serial':
      case 'console':
        return `${el.name} type '${type ?? 'pty'}' is not supported by tsvirt's qemu driver`;
      default:
        return `device '${el.name}' is not supported by tsvirt's qemu driver`;
    }
  }
  if (REFUSED_DEVICES.includes(el.name)) return `device '${el.name}'${type === undefined ? '' : ` of type '${type}'`} is not supported by tsvirt's qemu driver`;
  return undefined;
}

/**
 * The firmware: QEMU's own BIOS only. libvirt looks `firmware='efi'` up in the firmware
 * descriptors (/usr/share/qemu/firmware), which this driver does not read, and fails as libvirt
 * does on a host without them; an explicit `<loader>` (pflash, ROM) or `<nvram>` would be given to
 * QEMU by libvirt and is refused rather than silently left out.
 */
function checkFirmware(def: DomainDef): void {
  const rest = def.kept?.os;
  const firmware = rest?.attrs?.find(([name]) => name === 'firmware')?.[1];
  if (firmware !== undefined && firmware !== 'bios') throw operationFailed(DOM, `Unable to find any firmware to satisfy '${firmware}'`);
  for (const child of rest?.children ?? []) {
    if (child.el.name === 'loader' || child.el.name === 'nvram') throw configUnsupported(DOM, `<${child.el.name}> is not supported by tsvirt's qemu driver`);
  }
}

/** The kept `<controller type=…>` elements by index. */
function controllers(def: DomainDef, type: string): Map<number, XmlElement> {
  const out = new Map<number, XmlElement>();
  for (const k of unmodelledDevices(def)) {
    if (k.el.name === 'controller' && k.el.attrs.type === type) out.set(Number(k.el.attrs.index ?? '0'), k.el);
  }
  return out;
}

/** Whether the machine type is a Q35 one (built-in AHCI controller at 00:1f.2). */
function isQ35(def: DomainDef): boolean {
  const m = def.os.machine ?? 'pc';
  return m === 'q35' || m.startsWith('pc-q35');
}

/**
 * Builds QEMU's command line (without the binary) for a domain.
 *
 * Errors: VIR_ERR_CONFIG_UNSUPPORTED for a domain type, architecture, OS type, disk, interface,
 * character device or graphics this driver does not run.
 */
export function buildQemuArgv(def: DomainDef, options: QemuArgvOptions): QemuCommand {
  const accel = accelFor(def);
  emulatorNameFor(def);
  if (def.os.type !== 'hvm') throw configUnsupported(DOM, `OS type '${def.os.type}' is not supported by the qemu driver`);
  checkFirmware(def);
  const env: Record<string, string> = {};
  const a: string[] = [];
  const { paths } = options;

  // debug-threads=on as libvirt: vCPU threads are named 'CPU N/TCG' (or /KVM) in /proc.
  a.push('-name', `guest=${optValue(def.name)},debug-threads=on`);
  a.push('-uuid', def.uuid);
  a.push('-nodefaults', '-no-user-config', '-display', 'none');
  a.push('-S', '-no-shutdown');
  if (def.onReboot === 'destroy') a.push('-no-reboot');

  const machineType = def.os.machine ?? 'pc';
  checkMachineType(def, machineType, options.machines);
  a.push('-machine', `${machineType},acpi=${def.features?.acpi === true ? 'on' : 'off'}`);
  a.push('-accel', accel);

  // As libvirt's qemuDomainAlignMemorySizes at start: x86 guest memory rounded up to whole MiB.
  a.push('-m', `size=${Math.ceil(def.memory / 1024) * 1024}k`);
  const cpu = cpuArg(def, options.cpuModels);
  if (cpu !== undefined) a.push('-cpu', cpu);
  a.push('-smp', smpArg(def));

  a.push(...clockArgs(def, env));

  a.push('-chardev', `socket,id=charmonitor,path=${optValue(paths.monitorSocket)},server=on,wait=off`);
  a.push('-mon', 'chardev=charmonitor,id=monitor,mode=control');
  a.push('-pidfile', paths.pidFile);

  if (def.os.kernel !== undefined) {
    a.push('-kernel', def.os.kernel);
    if (def.os.initrd !== undefined) a.push('-initrd', def.os.initrd);
    if (def.os.cmdline !== undefined) a.push('-append', def.os.cmdline);
  } else if (def.os.initrd !== undefined || def.os.cmdline !== undefined) {
    throw configUnsupported(DOM, 'an initrd or a kernel command line needs a kernel');
  }
  const perDeviceBoot =
    def.devices.disks.some((d) => d.bootOrder !== undefined) || def.devices.interfaces.some((i) => i.bootOrder !== undefined);
  if (def.os.kernel === undefined && !perDeviceBoot && def.os.boot.length > 0) {
    const letters: Record<string, string> = { fd: 'a', cdrom: 'd', hd: 'c', network: 'n' };
    a.push('-boot', `order=${def.os.boot.map((b) => letters[b]).join('')}`);
  }

  for (const k of unmodelledDevices(def)) {
    const why = unrunnable(k.el, k.whole === true);
    if (why !== undefined) throw configUnsupported(DOM, why);
  }
  a.push(...diskControllerArgs(def));
  def.devices.disks.forEach((disk, i) => a.push(...diskArgs(def, disk, i)));
  def.devices.interfaces.forEach((net, i) => a.push(...interfaceArgs(net, i, options.taps?.[i])));

  for (const serial of def.devices.serials) {
    const id = `charserial${serial.targetPort}`;
    a.push('-chardev', chardevSpec(serial, id, paths, serial.targetPort));
    const targetType = serial.targetType ?? 'isa-serial';
    if (targetType !== 'isa-serial') throw configUnsupported(DOM, `serial target type '${targetType}' is not supported`);
    a.push('-device', JSON.stringify({ driver: 'isa-serial', chardev: id, id: `serial${serial.targetPort}`, index: serial.targetPort }));
  }
  def.devices.consoles.forEach((con, i) => {
    // On HVM the first console mirrors serial 0 (the parser adds it); others are not modelled.
    if ((con.targetType ?? 'serial') !== 'serial') {
      throw configUnsupported(DOM, `console target type '${con.targetType}' is not supported`);
    }
    // libvirt's parser refuses these; a second serial console would be nothing here.
    if (i > 0) throw configUnsupported(DOM, 'Only the first console can be a serial port');
  });

  for (const g of def.devices.graphics) {
    if (g.type !== 'vnc') throw configUnsupported(DOM, `graphics type '${g.type}' is not supported by tsvirt's qemu driver`);
  }
  if (def.devices.graphics.length > 1) {
    throw configUnsupported(DOM, 'only 1 graphics device of each type (sdl, vnc, spice, dbus) is supported');
  }
  const vnc = def.devices.graphics[0];
  if (vnc !== undefined) a.push('-vnc', vncSpec(vnc, paths.vncSocket));
  (def.devices.videos ?? []).forEach((video, i) => a.push(...videoArgs(video, i)));

  const balloon = def.devices.memballoon;
  if (balloon !== undefined && balloon.model !== 'none') {
    if (balloon.model !== 'virtio') throw configUnsupported(DOM, `memballoon model '${balloon.model}' is not supported`);
    a.push('-device', JSON.stringify({ driver: 'virtio-balloon-pci', id: 'balloon0', ...pciProps(balloon.address) }));
  }

  if (options.incomingDefer === true) a.push('-incoming', 'defer');
  if (options.loadSnapshot !== undefined) a.push('-loadvm', options.loadSnapshot);
  return { argv: a, env };
}

/** An element with no children, for a controller the definition does not list. */
const NO_ELEMENT: XmlElement = { name: '', localName: '', namespaceURI: undefined, attrs: {}, children: [], text: '' };

/** A machine type name: QEMU's are letters, digits, dots, dashes and underscores. */
const MACHINE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Refuses a machine type QEMU does not list, as libvirt does; whatever the list, a name that is
 * not a plain word never reaches `-machine`, where a comma would add options of its own.
 */
function checkMachineType(def: DomainDef, machine: string, known: QemuArgvOptions['machines']): void {
  if (MACHINE_NAME.test(machine) && (known === undefined || known.types.includes(machine))) return;
  const emulator = known?.emulator ?? def.devices.emulator ?? emulatorNameFor(def);
  throw configUnsupported(DOM, `Emulator '${emulator}' does not support machine type '${machine}'`);
}

/** The VNC password protocol (DES) uses 8 bytes; libvirt refuses longer passwords. */
const VNC_PASSWORD_MAX = 8;

/**
 * `-vnc`: the listen address must be an IP address (QEMU would read a comma in it as more
 * options); with a password only `password=on` goes on the command line, where every local
 * user can read it: the password itself is set over QMP before the guest runs (process.ts).
 */
function vncSpec(g: DomainGraphicsDef, defaultSocket: string | undefined): string {
  let spec: string;
  if (g.listenType === 'socket') {
    const path = g.socket ?? defaultSocket;
    if (path === undefined) throw configUnsupported(DOM, 'a VNC unix socket needs a path');
    spec = `unix:${optValue(path)}`;
    return g.passwd === undefined ? spec : `${spec},${vncPasswordOption(g)}`;
  }
  const listen = g.listen ?? '127.0.0.1';
  const family = isIP(listen);
  if (family === 0) {
    throw configUnsupported(DOM, `VNC listen address '${listen}' is not an IP address (tsvirt's qemu driver does not resolve host names)`);
  }
  const host = family === 6 ? `[${listen}]` : listen;
  if (g.autoport === true || (g.autoport !== false && (g.port === undefined || g.port < 0))) {
    // QEMU binds the first free port from 5900 on (libvirt's range ends at 65535): the bind
    // itself settles a race with any other process; the port is read back with query-vnc.
    spec = `${host}:0,to=${VNC_DISPLAY_MAX}`;
  } else {
    const port = g.port ?? 5900;
    if (port < 5900) throw configUnsupported(DOM, `VNC port ${port} is below 5900`);
    spec = `${host}:${port - 5900}`;
  }
  if (g.passwd === undefined) return spec;
  return `${spec},${vncPasswordOption(g)}`;
}

/** The last display number QEMU may pick for autoport: port 65535. */
const VNC_DISPLAY_MAX = 65535 - 5900;

/** `password=on`, once the password is known to be one QEMU's VNC server can take. */
function vncPasswordOption(g: DomainGraphicsDef): string {
  const length = Buffer.byteLength(g.passwd ?? '', 'utf8');
  if (length > VNC_PASSWORD_MAX) {
    throw configUnsupported(DOM, `VNC password is ${length} characters long, only ${VNC_PASSWORD_MAX} permitted`);
  }
  // QEMU's VNC server implements only 'keep' for clients connected when the password changes.
  if (g.connected !== undefined && g.connected !== 'keep') {
    throw configUnsupported(DOM, `VNC graphics do not support connected='${g.connected}' (only 'keep')`);
  }
  return 'password=on';
}

/** Video models QEMU runs here, and their devices (primary, secondary). */
const VIDEO_DEVICES: Partial<Record<DomainVideoDef['model'], { primary: string; secondary?: string }>> = {
  vga: { primary: 'VGA' },
  cirrus: { primary: 'cirrus-vga' },
  vmvga: { primary: 'vmware-svga' },
  qxl: { primary: 'qxl-vga', secondary: 'qxl' },
  virtio: { primary: 'virtio-vga', secondary: 'virtio-gpu-pci' },
  bochs: { primary: 'bochs-display' },
  ramfb: { primary: 'ramfb' },
};

/** The video models this driver runs (besides 'none'), in libvirt's order: domain capabilities list them. */
export const QEMU_VIDEO_MODELS: readonly string[] = Object.keys(VIDEO_DEVICES);

/** The disk buses {@link diskArgs} gives QEMU, in libvirt's order: domain capabilities list them. */
export const QEMU_DISK_BUSES: readonly string[] = ['ide', 'scsi', 'virtio', 'sata'];

/**
 * `-device` of a video card, refused as libvirt 9.0's qemuValidateDomainDeviceDefVideo refuses
 * it (VIR_ERR_CONFIG_UNSUPPORTED): models QEMU lacks, secondary or multi-head cards of models
 * that have one VGA head only, 2D acceleration; 3D acceleration needs a GL display, which a
 * headless `-display none` has not. Video memory goes to QEMU as libvirt gives it (vgamem from
 * vram; cirrus takes QEMU's own size).
 */
function videoArgs(v: DomainVideoDef, index: number): string[] {
  if (v.model === 'none') return [];
  const devices = VIDEO_DEVICES[v.model];
  if (devices === undefined) throw configUnsupported(DOM, `domain configuration does not support video model '${v.model}'`);
  const heads = v.heads ?? 0;
  if (v.model !== 'qxl' && v.model !== 'virtio') {
    if (v.primary !== true) throw configUnsupported(DOM, `video type '${v.model}' is only valid as primary video device`);
    if (heads !== 1) throw configUnsupported(DOM, `video type '${v.model}' doesn't support multiple 'heads'`);
  }
  if (v.acceleration?.accel2d === 'yes') throw configUnsupported(DOM, 'qemu does not support the accel2d setting');
  if (v.acceleration?.accel3d === 'yes') {
    if (v.model !== 'virtio') throw configUnsupported(DOM, "3d acceleration is supported only with 'virtio' video device");
    throw configUnsupported(DOM, "3d acceleration is not supported by tsvirt's qemu driver (no GL display)");
  }
  const vram = v.vram ?? 0;
  if ((v.model === 'vga' || v.model === 'vmvga') && vram !== 0 && vram < 1024) {
    throw configUnsupported(DOM, "value for 'vram' must be at least 1 MiB (1024 KiB)");
  }
  if (v.model === 'qxl' && v.vgamem !== undefined) {
    if (v.vgamem < 1024) throw configUnsupported(DOM, "value for 'vgamem' must be at least 1 MiB (1024 KiB)");
    if ((v.vgamem & (v.vgamem - 1)) !== 0) throw configUnsupported(DOM, "value for 'vgamem' must be power of two");
  }
  if (v.model === 'ramfb' && v.address !== undefined) {
    throw configUnsupported(DOM, "'address' is not supported for 'ramfb' video devices");
  }
  const driver = v.primary === true || devices.secondary === undefined ? devices.primary : devices.secondary;
  const dev: Record<string, unknown> = { driver, id: `video${index}`, ...(v.model === 'ramfb' ? {} : pciProps(v.address)) };
  switch (v.model) {
    case 'vga':
    case 'vmvga':
      if (vram !== 0) dev.vgamem_mb = Math.floor(vram / 1024);
      break;
    case 'bochs':
      if (vram !== 0) dev.vgamem = vram * 1024;
      break;
    case 'qxl':
      // QEMU takes bytes, libvirt's XML KiB.
      if (v.ram !== undefined) dev.ram_size = v.ram * 1024;
      if (vram !== 0) dev.vram_size = vram * 1024;
      if (v.vram64 !== undefined) dev.vram64_size_mb = Math.floor(v.vram64 / 1024);
      if (v.vgamem !== undefined) dev.vgamem_mb = Math.floor(v.vgamem / 1024);
      if (heads > 0) dev.max_outputs = heads;
      break;
    case 'virtio':
      if (heads > 0) dev.max_outputs = heads;
      break;
    default:
      break;
  }
  return ['-device', JSON.stringify(dev)];
}

function clockArgs(def: DomainDef, env: Record<string, string>): string[] {
  const c = def.clock;
  switch (c.offset) {
    case 'utc':
      return ['-rtc', 'base=utc'];
    case 'localtime':
      return ['-rtc', 'base=localtime'];
    case 'timezone':
      if (c.timezone !== undefined) env.TZ = c.timezone;
      return ['-rtc', 'base=localtime'];
    case 'variable': {
      const basis = c.basis ?? 'utc';
      let ms = Date.now() + (c.adjustment ?? 0) * 1000;
      if (basis === 'localtime') ms -= new Date().getTimezoneOffset() * 60_000;
      const iso = new Date(ms).toISOString().slice(0, 19);
      return ['-rtc', `base=${iso}`];
    }
    case 'absolute':
      return ['-rtc', `base=${new Date((c.start ?? 0) * 1000).toISOString().slice(0, 19)}`];
  }
}

/** The format node name of the domain's disk at `index`: libvirt's `libvirt-N-format`. */
export function diskFormatNode(index: number): string {
  return `libvirt-${index + 1}-format`;
}

/** A drive address's controller and unit (libvirt assigns one to every SATA and SCSI disk). */
function driveAddress(disk: DomainDiskDef): { controller: number; bus: number; target: number; unit: number } {
  const a = disk.address;
  if (a === undefined || a.type !== 'drive') {
    throw configUnsupported(DOM, `disk '${disk.targetDev}': a ${disk.targetBus} disk needs a drive address`);
  }
  return { controller: Number(a.controller ?? '0'), bus: Number(a.bus ?? '0'), target: Number(a.target ?? '0'), unit: Number(a.unit ?? '0') };
}

/** QEMU devices of the SCSI controller models this driver runs. */
const SCSI_MODELS: Record<string, string> = {
  lsilogic: 'lsi53c895a',
  'virtio-scsi': 'virtio-scsi-pci',
};

/**
 * The SATA and SCSI controllers the disks use: an AHCI (`ich9-ahci`) per SATA controller, except
 * the one built into Q35 machines (index 0, QEMU's bus `ide`); a SCSI host adapter per SCSI
 * controller, of its model (libvirt's default, lsilogic, is QEMU's `lsi53c895a`).
 */
function diskControllerArgs(def: DomainDef): string[] {
  const out: string[] = [];
  const sata = new Set<number>();
  const scsi = new Set<number>();
  for (const d of def.devices.disks) {
    if (d.targetBus === 'sata') sata.add(driveAddress(d).controller);
    if (d.targetBus === 'scsi') scsi.add(driveAddress(d).controller);
  }
  const sataCtl = controllers(def, 'sata');
  for (const c of [...sata].sort((x, y) => x - y)) {
    if (c === 0 && isQ35(def)) continue;
    out.push('-device', JSON.stringify({ driver: 'ich9-ahci', id: `sata${c}`, ...pciProps(keptAddress(sataCtl.get(c) ?? NO_ELEMENT)()) }));
  }
  const scsiCtl = controllers(def, 'scsi');
  for (const c of [...scsi].sort((x, y) => x - y)) {
    const model = scsiCtl.get(c)?.attrs.model ?? 'lsilogic';
    const driver = SCSI_MODELS[model];
    if (driver === undefined) {
      throw configUnsupported(DOM, `SCSI controller model '${model}' is not supported by tsvirt's qemu driver (lsilogic or virtio-scsi)`);
    }
    out.push('-device', JSON.stringify({ driver, id: `scsi${c}`, ...pciProps(keptAddress(scsiCtl.get(c) ?? NO_ELEMENT)()) }));
  }
  return out;
}

/** The `bus`/unit properties of a SATA or SCSI disk's device. */
function busProps(def: DomainDef, disk: DomainDiskDef): Record<string, unknown> {
  const addr = driveAddress(disk);
  if (disk.targetBus === 'sata') {
    if (addr.unit > 5 || addr.bus !== 0) throw configUnsupported(DOM, `disk '${disk.targetDev}': SATA controllers have 6 ports (unit 0 to 5, bus 0)`);
    const ahci = addr.controller === 0 && isQ35(def) ? 'ide' : `sata${addr.controller}`;
    return { bus: `${ahci}.${addr.unit}` };
  }
  const model = controllers(def, 'scsi').get(addr.controller)?.attrs.model ?? 'lsilogic';
  if (model === 'virtio-scsi') return { bus: `scsi${addr.controller}.0`, channel: addr.bus, 'scsi-id': addr.target, lun: addr.unit };
  // An LSI adapter addresses its disks by SCSI id (libvirt puts the unit there), LUN 0.
  if (addr.unit > 6) throw configUnsupported(DOM, `disk '${disk.targetDev}': an lsilogic SCSI bus has 7 units (0 to 6)`);
  return { bus: `scsi${addr.controller}.0`, 'scsi-id': addr.unit, lun: 0 };
}

/** Block node names and device ids: libvirt's `libvirt-N-format`/`-storage`, `ua-`less. */
function diskArgs(def: DomainDef, disk: DomainDiskDef, index: number): string[] {
  const out: string[] = [];
  const storage = `libvirt-${index + 1}-storage`;
  const format = diskFormatNode(index);
  const hasMedia = disk.sourceFile !== undefined || disk.sourceDev !== undefined;
  const fmt = disk.driverType ?? 'raw';
  if (fmt !== 'raw' && fmt !== 'qcow2') {
    throw configUnsupported(DOM, `disk '${disk.targetDev}': format '${fmt}' is not supported (raw or qcow2)`);
  }
  if (disk.device !== 'disk' && disk.device !== 'cdrom') {
    throw configUnsupported(DOM, `disk '${disk.targetDev}': device '${disk.device}' is not supported`);
  }
  if (hasMedia) {
    const source =
      disk.type === 'block'
        ? { driver: 'host_device', filename: disk.sourceDev }
        : { driver: 'file', filename: disk.sourceFile };
    out.push('-blockdev', JSON.stringify({ ...source, 'node-name': storage, 'auto-read-only': true, discard: 'unmap' }));
    out.push('-blockdev', JSON.stringify({ 'node-name': format, 'read-only': disk.readonly, driver: fmt, file: storage }));
  } else if (disk.device !== 'cdrom') {
    throw configUnsupported(DOM, `disk '${disk.targetDev}' has no source`);
  }
  const dev: Record<string, unknown> = { id: disk.alias ?? diskAlias(disk, index) };
  switch (disk.targetBus) {
    case 'virtio':
      if (disk.device === 'cdrom') throw configUnsupported(DOM, `disk '${disk.targetDev}': a CD-ROM cannot be on the virtio bus`);
      dev.driver = 'virtio-blk-pci';
      Object.assign(dev, pciProps(disk.address));
      break;
    case 'ide': {
      const unit = ideUnit(disk.targetDev);
      dev.driver = disk.device === 'cdrom' ? 'ide-cd' : 'ide-hd';
      dev.bus = `ide.${Math.floor(unit / 2)}`;
      dev.unit = unit % 2;
      break;
    }
    case 'sata':
      dev.driver = disk.device === 'cdrom' ? 'ide-cd' : 'ide-hd';
      Object.assign(dev, busProps(def, disk));
      break;
    case 'scsi':
      dev.driver = disk.device === 'cdrom' ? 'scsi-cd' : 'scsi-hd';
      Object.assign(dev, busProps(def, disk));
      break;
    default:
      throw configUnsupported(DOM, `disk '${disk.targetDev}': bus '${disk.targetBus}' is not supported (virtio, ide, sata or scsi)`);
  }
  if (hasMedia) dev.drive = format;
  if (disk.bootOrder !== undefined) dev.bootindex = disk.bootOrder;
  // <shareable/>: QEMU 7.2 refuses a second writer unless the device allows it.
  if (disk.shareable === true) dev['share-rw'] = true;
  out.push('-device', JSON.stringify(dev));
  return out;
}

/** hda → 0, hdb → 1, hdc → 2 (ide.1 unit 0), hdd → 3. */
function ideUnit(target: string): number {
  const m = /^hd([a-d])$/.exec(target);
  if (m === null) throw configUnsupported(DOM, `IDE disk target '${target}' must be hda…hdd`);
  return m[1].charCodeAt(0) - 'a'.charCodeAt(0);
}

/** The QEMU id a disk gets when it has no alias: `${bus}-disk${position}`. */
function diskAlias(disk: DomainDiskDef, index: number): string {
  return `${disk.targetBus}-disk${index}`;
}

/**
 * Gives every disk and interface its alias, the id of its QEMU device (the user's `ua-…` alias,
 * else `${bus}-diskN` and `netN` by position), as libvirt's live XML shows them: a hot-plugged
 * device gets a free one, and detach finds any device by it.
 */
export function assignAliases(def: DomainDef): void {
  def.devices.disks.forEach((d, i) => (d.alias ??= diskAlias(d, i)));
  def.devices.interfaces.forEach((n, i) => (n.alias ??= `net${i}`));
}

/** The slot numbers of a PCI bus. */
const PCI_SLOTS = 32;

/** One device that sits on the guest's PCI bus, and where its address is kept. */
interface PciDevice {
  what: string;
  get(): DeviceAddress | undefined;
  set(a: DeviceAddress): void;
  /** The slot it goes to when it has none and that slot is free (libvirt's primary video). */
  preferred?: number;
}

/** Slots the machine's own devices hold: the host bridge, and PIIX3 (pc) or ICH9's LPC/SATA (q35). */
function reservedSlots(def: DomainDef): Set<number> {
  return new Set(isQ35(def) ? [0, 0x1f] : [0, 1]);
}

/** `0000:00:03.0`, as libvirt names a PCI address in its messages. */
function pciName(a: { domain: number; bus: number; slot: number; fn: number }): string {
  const hex = (n: number, w: number) => n.toString(16).padStart(w, '0');
  return `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${a.fn.toString(16)}`;
}

/** The numbers of a `type='pci'` address (libvirt reads them as C integers: 0x… hex, else decimal). */
function pciNumbers(a: DeviceAddress): { domain: number; bus: number; slot: number; fn: number } {
  const num = (v: string | undefined): number => (v === undefined ? 0 : Number(v));
  return { domain: num(a.domain), bus: num(a.bus), slot: num(a.slot), fn: num(a.function) };
}

/** libvirt's formatting of a PCI address it assigned. */
function pciAddress(slot: number, fn = 0): DeviceAddress {
  return { type: 'pci', domain: '0x0000', bus: '0x00', slot: `0x${slot.toString(16).padStart(2, '0')}`, function: `0x${fn.toString(16)}` };
}

/** The `<address>` child of a kept element (a controller), and a way to set it. */
function keptAddress(el: XmlElement): PciDevice['get'] {
  return () => {
    const a = el.children.find((c) => c.name === 'address');
    return a === undefined ? undefined : { ...a.attrs };
  };
}
function setKeptAddress(el: XmlElement, a: DeviceAddress): void {
  const child: XmlElement = { name: 'address', localName: 'address', namespaceURI: undefined, attrs: { ...a }, children: [], text: '' };
  const children = el.children as XmlElement[];
  const at = children.findIndex((c) => c.name === 'address');
  if (at >= 0) children[at] = child;
  else children.push(child);
}

/**
 * The devices this builder puts on the PCI bus, in the order libvirt's QEMU driver assigns their
 * slots (qemuDomainAssignDevicePCISlots): the primary video card first, then interfaces, the disk
 * controllers, virtio disks, other video cards and the balloon.
 */
function pciDevices(def: DomainDef): PciDevice[] {
  const out: PciDevice[] = [];
  const videos = (def.devices.videos ?? []).filter((v) => v.model !== 'none' && v.model !== 'ramfb' && VIDEO_DEVICES[v.model] !== undefined);
  const video = (v: DomainVideoDef, preferred?: number): PciDevice => ({
    what: `video '${v.model}'`,
    get: () => v.address,
    set: (a) => (v.address = a),
    preferred,
  });
  const primary = videos.find((v) => v.primary === true) ?? videos[0];
  if (primary !== undefined) out.push(video(primary, isQ35(def) ? 1 : 2));
  for (const n of def.devices.interfaces) out.push({ what: `interface '${n.mac}'`, get: () => n.address, set: (a) => (n.address = a) });
  const used = { sata: new Set<number>(), scsi: new Set<number>() };
  for (const d of def.devices.disks) {
    if (d.targetBus === 'sata' || d.targetBus === 'scsi') used[d.targetBus].add(driveAddress(d).controller);
  }
  for (const type of ['sata', 'scsi'] as const) {
    const kept = controllers(def, type);
    for (const c of [...used[type]].sort((x, y) => x - y)) {
      if (type === 'sata' && c === 0 && isQ35(def)) continue;
      const el = kept.get(c);
      if (el === undefined) continue;
      out.push({ what: `controller '${type}' ${c}`, get: keptAddress(el), set: (a) => setKeptAddress(el, a) });
    }
  }
  for (const d of def.devices.disks) {
    if (d.targetBus === 'virtio') out.push({ what: `disk '${d.targetDev}'`, get: () => d.address, set: (a) => (d.address = a) });
  }
  for (const v of videos) if (v !== primary) out.push(video(v));
  const balloon = def.devices.memballoon;
  if (balloon !== undefined && balloon.model === 'virtio') out.push({ what: 'memballoon', get: () => balloon.address, set: (a) => (balloon.address = a) });
  return out;
}

/**
 * Gives every PCI device of the definition its address on the guest's PCI bus (bus 0: this
 * driver adds no bridges), kept in the definition and put on QEMU's command line, so that a QEMU
 * started again from the live definition (a restore, a revert with memory) has each device in
 * the same slot, which its saved state requires. Addresses written in the definition are kept;
 * one on another bus or PCI domain (which would need controllers this driver does not start) is
 * replaced by a free slot of bus 0, as QEMU runs it. The others take free slots in libvirt's
 * order. Called at start (the live definition); a hot-plugged device takes a free slot
 * ({@link freePciSlot}).
 *
 * Errors: VIR_ERR_XML_ERROR for a slot used twice or held by the machine, VIR_ERR_CONFIG_UNSUPPORTED
 * for a slot or function out of range.
 */
export function assignPciAddresses(def: DomainDef): void {
  const reserved = reservedSlots(def);
  const taken = new Set(reserved);
  const seen = new Set<string>();
  const pending: PciDevice[] = [];
  for (const dev of pciDevices(def)) {
    const a = dev.get();
    if (a !== undefined && a.type !== 'pci') throw configUnsupported(DOM, `${dev.what}: address type '${a.type ?? ''}' is not supported (pci)`);
    const n = a === undefined ? undefined : pciNumbers(a);
    if (n === undefined || n.domain !== 0 || n.bus !== 0) {
      pending.push(dev);
      continue;
    }
    checkPciNumbers(n);
    const key = `${n.slot}.${n.fn}`;
    if (reserved.has(n.slot) || seen.has(key)) throw xmlError(`Attempted double use of PCI Address ${pciName(n)}`);
    seen.add(key);
    taken.add(n.slot);
  }
  for (const dev of pending) {
    const slot = dev.preferred !== undefined && !taken.has(dev.preferred) ? dev.preferred : firstFree(taken);
    if (slot === undefined) throw configUnsupported(DOM, `no free PCI slot for ${dev.what}`);
    taken.add(slot);
    dev.set(pciAddress(slot));
  }
}

function checkPciNumbers(n: { slot: number; fn: number }): void {
  if (!Number.isInteger(n.slot) || n.slot < 0 || n.slot >= PCI_SLOTS) throw configUnsupported(DOM, `Invalid PCI address slot='0x${n.slot.toString(16)}', must be <= 0x1F`);
  if (!Number.isInteger(n.fn) || n.fn < 0 || n.fn > 7) throw configUnsupported(DOM, `Invalid PCI address function=0x${n.fn.toString(16)}, must be <= 7`);
}

function firstFree(taken: Set<number>): number | undefined {
  for (let s = 1; s < PCI_SLOTS; s++) if (!taken.has(s)) return s;
  return undefined;
}

/**
 * The address a device hot-plugged into the running guest of `live` takes: `wanted` when the
 * attach XML names a free slot of bus 0, else the first free slot (libvirt's hotplug assigns one
 * the same way).
 *
 * Errors: VIR_ERR_XML_ERROR when `wanted` is in use; VIR_ERR_CONFIG_UNSUPPORTED for another
 * bus, or when no slot is free.
 */
export function freePciSlot(live: DomainDef, wanted: DeviceAddress | undefined): DeviceAddress {
  const taken = reservedSlots(live);
  for (const dev of pciDevices(live)) {
    const a = dev.get();
    if (a === undefined || a.type !== 'pci' || a === wanted) continue;
    taken.add(pciNumbers(a).slot);
  }
  if (wanted !== undefined) {
    if (wanted.type !== 'pci') throw configUnsupported(DOM, `address type '${wanted.type ?? ''}' is not supported for hotplug (pci)`);
    const n = pciNumbers(wanted);
    if (n.domain !== 0 || n.bus !== 0) throw configUnsupported(DOM, `PCI address ${pciName(n)}: only bus 0 is available (tsvirt's qemu driver adds no PCI bridges)`);
    checkPciNumbers(n);
    if (taken.has(n.slot)) throw xmlError(`Attempted double use of PCI Address ${pciName(n)}`);
    return pciAddress(n.slot, n.fn);
  }
  const slot = firstFree(taken);
  if (slot === undefined) throw configUnsupported(DOM, 'no free PCI slot for the device');
  return pciAddress(slot);
}

/** The `addr` (and `multifunction`) properties of a PCI device at `a`, none without an address. */
export function pciProps(a: DeviceAddress | undefined): Record<string, unknown> {
  if (a === undefined || a.type !== 'pci') return {};
  const n = pciNumbers(a);
  if (n.domain !== 0 || n.bus !== 0) return {};
  const props: Record<string, unknown> = { addr: n.fn === 0 ? `0x${n.slot.toString(16)}` : `0x${n.slot.toString(16)}.0x${n.fn.toString(16)}` };
  if (a.multifunction === 'on') props.multifunction = true;
  return props;
}

/** The netdev id of the interface whose device is `alias` (`net0` → `hostnet0`, as libvirt). */
export function netdevId(alias: string): string {
  return `host${alias}`;
}

/** QEMU's NIC device of each interface model tsvirt runs. */
export const NIC_MODELS: Record<string, string> = {
  virtio: 'virtio-net-pci',
  e1000: 'e1000',
  e1000e: 'e1000e',
  rtl8139: 'rtl8139',
};

function interfaceArgs(net: DomainInterfaceDef, index: number, tap: string | undefined): string[] {
  const model = net.model ?? 'rtl8139';
  const driver = NIC_MODELS[model];
  if (driver === undefined) throw configUnsupported(DOM, `interface model '${model}' is not supported`);
  const alias = net.alias ?? `net${index}`;
  const id = netdevId(alias);
  const dev: Record<string, unknown> = { driver, netdev: id, id: alias, mac: net.mac, ...pciProps(net.address) };
  if (net.bootOrder !== undefined) dev.bootindex = net.bootOrder;
  let netdev: string;
  if (net.type === 'user') {
    netdev = `user,id=${id}${portForwards(net).map((f) => `,hostfwd=${f}`).join('')}`;
  } else {
    if (tap === undefined) throw configUnsupported(DOM, `interface type '${net.type}' needs a tap device`);
    netdev = `tap,id=${id},ifname=${optValue(tap)},script=no,downscript=no`;
  }
  return ['-netdev', netdev, '-device', JSON.stringify(dev)];
}

/**
 * The `<portForward>` elements of a user-mode interface as QEMU `hostfwd` rules
 * (`tcp:ADDR:HOSTPORT-:GUESTPORT`): each `<range start end to exclude>` forwards host ports
 * start..end to guest ports to.. (the same numbers without `to`); excluded ranges are skipped.
 *
 * Errors: VIR_ERR_CONFIG_UNSUPPORTED for a protocol other than tcp or udp, or a bad port.
 */
export function portForwards(net: DomainInterfaceDef): string[] {
  const out: string[] = [];
  for (const k of net.kept?.['']?.children ?? []) {
    const el = k.el;
    if (el.name !== 'portForward') continue;
    const proto = el.attrs.proto ?? 'tcp';
    if (proto !== 'tcp' && proto !== 'udp') throw configUnsupported(DOM, `portForward protocol '${proto}' is not supported`);
    const address = el.attrs.address ?? '';
    const port = (text: string | undefined, what: string): number => {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 1 || n > 65535) throw configUnsupported(DOM, `invalid portForward ${what} '${text ?? ''}'`);
      return n;
    };
    for (const r of el.children) {
      if (r.name !== 'range' || r.attrs.exclude === 'yes') continue;
      const start = port(r.attrs.start, 'start');
      const end = r.attrs.end === undefined ? start : port(r.attrs.end, 'end');
      const to = r.attrs.to === undefined ? start : port(r.attrs.to, 'to');
      for (let p = start; p <= end; p++) out.push(`${proto}:${address}:${p}-:${to + (p - start)}`);
    }
  }
  return out;
}

/**
 * `-chardev` of a serial port. A pty becomes a listening unix socket (`wait=off`: the guest
 * never waits for a client) that the driver's console connects to; QEMU's `logfile=` keeps what
 * the guest sends while nobody is attached — into the domain's `<log>` when it names one, else
 * the per-domain serial log, appended. A `<log>` on another type is passed on as libvirt does.
 */
function chardevSpec(src: DomainCharSource, id: string, paths: QemuArgvPaths, port: number): string {
  const log = (fallback: string | undefined): string => {
    if (src.log !== undefined) {
      return `,logfile=${optValue(src.log.file)}${src.log.append === undefined ? '' : `,logappend=${src.log.append}`}`;
    }
    return fallback === undefined ? '' : `,logfile=${optValue(fallback)},logappend=on`;
  };
  switch (src.type) {
    case 'file':
      if (src.sourcePath === undefined) throw configUnsupported(DOM, 'a file serial port needs a source path');
      return `file,id=${id},path=${optValue(src.sourcePath)},append=on${log(undefined)}`;
    case 'null':
      return `null,id=${id}${log(undefined)}`;
    case 'unix':
      if (src.sourcePath === undefined) throw configUnsupported(DOM, 'a unix serial port needs a source path');
      return `socket,id=${id},path=${optValue(src.sourcePath)}${src.sourceMode === 'connect' ? '' : ',server=on,wait=off'}${log(undefined)}`;
    case 'pty':
      return `socket,id=${id},path=${optValue(paths.serialSocket(port))},server=on,wait=off${log(paths.serialLog(port))}`;
    case 'vc':
      // No display to show a text console on: the port writes to the per-domain serial log.
      return `file,id=${id},path=${optValue(paths.serialLog(port))},append=on${log(undefined)}`;
    default:
      throw configUnsupported(DOM, `serial type '${src.type}' is not supported by tsvirt's qemu driver`);
  }
}
