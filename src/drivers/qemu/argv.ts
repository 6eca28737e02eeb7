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
import { isIP } from 'node:net';
import { ErrorDomain } from '../../core/enums.generated.js';
import { configUnsupported } from '../../core/errors.js';
import type { DomainCharSource, DomainDef, DomainDiskDef, DomainGraphicsDef, DomainInterfaceDef } from '../../conf/domain.js';

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
 * Builds QEMU's command line (without the binary) for a domain.
 *
 * Errors: VIR_ERR_CONFIG_UNSUPPORTED for a domain type, architecture, OS type, disk, interface,
 * character device or graphics this driver does not run.
 */
export function buildQemuArgv(def: DomainDef, options: QemuArgvOptions): QemuCommand {
  const accel = accelFor(def);
  emulatorNameFor(def);
  if (def.os.type !== 'hvm') throw configUnsupported(DOM, `OS type '${def.os.type}' is not supported by the qemu driver`);
  const env: Record<string, string> = {};
  const a: string[] = [];
  const { paths } = options;

  a.push('-name', `guest=${optValue(def.name)}`);
  a.push('-uuid', def.uuid);
  a.push('-nodefaults', '-no-user-config', '-display', 'none');
  a.push('-S', '-no-shutdown');
  if (def.onReboot === 'destroy') a.push('-no-reboot');

  const machineType = def.os.machine ?? 'pc';
  checkMachineType(def, machineType, options.machines);
  a.push('-machine', `${machineType},acpi=${def.features?.acpi === true ? 'on' : 'off'}`);
  a.push('-accel', accel);

  if (def.memory % 1024 !== 0) throw configUnsupported(DOM, 'memory must be a whole number of MiB');
  a.push('-m', `size=${def.memory}k`);
  const cpus = def.vcpu.current ?? def.vcpu.count;
  a.push('-smp', cpus === def.vcpu.count ? String(cpus) : `${cpus},maxcpus=${def.vcpu.count}`);

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

  def.devices.disks.forEach((disk, i) => a.push(...diskArgs(disk, i)));
  def.devices.interfaces.forEach((net, i) => a.push(...interfaceArgs(net, i)));

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
  if (vnc !== undefined) a.push('-vnc', vncSpec(vnc));

  const balloon = def.devices.memballoon;
  if (balloon !== undefined && balloon.model !== 'none') {
    if (balloon.model !== 'virtio') throw configUnsupported(DOM, `memballoon model '${balloon.model}' is not supported`);
    a.push('-device', JSON.stringify({ driver: 'virtio-balloon-pci', id: 'balloon0' }));
  }

  if (options.incomingDefer === true) a.push('-incoming', 'defer');
  if (options.loadSnapshot !== undefined) a.push('-loadvm', options.loadSnapshot);
  return { argv: a, env };
}

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
function vncSpec(g: DomainGraphicsDef): string {
  const listen = g.listen ?? '127.0.0.1';
  const family = isIP(listen);
  if (family === 0) {
    throw configUnsupported(DOM, `VNC listen address '${listen}' is not an IP address (tsvirt's qemu driver does not resolve host names)`);
  }
  const host = family === 6 ? `[${listen}]` : listen;
  let spec: string;
  if (g.autoport !== false && (g.port === undefined || g.port < 0)) {
    spec = `${host}:0,to=99`;
  } else {
    const port = g.port ?? 5900;
    if (port < 5900) throw configUnsupported(DOM, `VNC port ${port} is below 5900`);
    spec = `${host}:${port - 5900}`;
  }
  if (g.passwd === undefined) return spec;
  // In bytes, as libvirt counts them (strlen) and QEMU keys DES with them.
  const length = Buffer.byteLength(g.passwd, 'utf8');
  if (length > VNC_PASSWORD_MAX) {
    throw configUnsupported(DOM, `VNC password is ${length} characters long, only ${VNC_PASSWORD_MAX} permitted`);
  }
  // QEMU's VNC server implements only 'keep' for clients connected when the password changes.
  if (g.connected !== undefined && g.connected !== 'keep') {
    throw configUnsupported(DOM, `VNC graphics do not support connected='${g.connected}' (only 'keep')`);
  }
  return `${spec},password=on`;
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
  }
}

/** The format node name of the domain's disk at `index`: libvirt's `libvirt-N-format`. */
export function diskFormatNode(index: number): string {
  return `libvirt-${index + 1}-format`;
}

/** Block node names and device ids: libvirt's `libvirt-N-format`/`-storage`, `ua-`less. */
function diskArgs(disk: DomainDiskDef, index: number): string[] {
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
  const dev: Record<string, unknown> = { id: `${disk.targetBus}-disk${index}` };
  switch (disk.targetBus) {
    case 'virtio':
      if (disk.device === 'cdrom') throw configUnsupported(DOM, `disk '${disk.targetDev}': a CD-ROM cannot be on the virtio bus`);
      dev.driver = 'virtio-blk-pci';
      break;
    case 'ide': {
      const unit = ideUnit(disk.targetDev);
      dev.driver = disk.device === 'cdrom' ? 'ide-cd' : 'ide-hd';
      dev.bus = `ide.${Math.floor(unit / 2)}`;
      dev.unit = unit % 2;
      break;
    }
    default:
      throw configUnsupported(DOM, `disk '${disk.targetDev}': bus '${disk.targetBus}' is not supported (virtio or ide)`);
  }
  if (hasMedia) dev.drive = format;
  if (disk.bootOrder !== undefined) dev.bootindex = disk.bootOrder;
  out.push('-device', JSON.stringify(dev));
  return out;
}

/** hda → 0, hdb → 1, hdc → 2 (ide.1 unit 0), hdd → 3. */
function ideUnit(target: string): number {
  const m = /^hd([a-d])$/.exec(target);
  if (m === null) throw configUnsupported(DOM, `IDE disk target '${target}' must be hda…hdd`);
  return m[1].charCodeAt(0) - 'a'.charCodeAt(0);
}

const NIC_MODELS: Record<string, string> = {
  virtio: 'virtio-net-pci',
  e1000: 'e1000',
  e1000e: 'e1000e',
  rtl8139: 'rtl8139',
};

function interfaceArgs(net: DomainInterfaceDef, index: number): string[] {
  if (net.type !== 'user') {
    throw configUnsupported(DOM, `interface type '${net.type}' is not supported by tsvirt's qemu driver (use type='user')`);
  }
  const model = net.model ?? 'rtl8139';
  const driver = NIC_MODELS[model];
  if (driver === undefined) throw configUnsupported(DOM, `interface model '${model}' is not supported`);
  const id = `hostnet${index}`;
  const dev: Record<string, unknown> = { driver, netdev: id, id: `net${index}`, mac: net.mac };
  if (net.bootOrder !== undefined) dev.bootindex = net.bootOrder;
  return ['-netdev', `user,id=${id}`, '-device', JSON.stringify(dev)];
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
