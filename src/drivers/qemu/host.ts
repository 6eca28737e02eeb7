/**
 * What a driver that runs guests on this machine reports about it: virNodeGetInfo, the host part
 * of the capabilities and SMBIOS sysinfo, read from /proc and /sys as libvirt's nodeinfo and
 * capabilities code does. The formatting is src/conf/capabilities.ts's; this module only reads.
 */
import { accessSync, closeSync, constants, openSync, readFileSync, readdirSync } from 'node:fs';
import { arch, cpus as osCpus, totalmem } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import type { CapsCPU, CapsCell, CapsGuest, Capabilities, Sysinfo } from '../../conf/capabilities.js';
import type { NodeInfo } from '../../core/driver.js';

const SYS_NODE = '/sys/devices/system/node';
const SYS_CPU = '/sys/devices/system/cpu';

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function readInt(path: string): number | undefined {
  const s = read(path);
  const n = s === undefined ? NaN : Number.parseInt(s, 10);
  return Number.isFinite(n) ? n : undefined;
}

/** Expands a kernel cpulist ('0-3,8') into ids. */
export function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (m === null) continue;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    for (let i = lo; i <= hi && i - lo < 65536; i++) out.push(i);
  }
  return out;
}

/** libvirt's name for the machine architecture ('x86_64', 'i686', 'aarch64'). */
export function hostArch(): string {
  switch (arch()) {
    case 'x64':
      return 'x86_64';
    case 'ia32':
      return 'i686';
    case 'arm64':
      return 'aarch64';
    default:
      return arch();
  }
}

interface CellProbe {
  id: number;
  memory: number;
  cpus: CapsCPU[];
  hugepages: [size: number, count: number][];
  distances: [id: number, value: number][];
}

function cpuOf(id: number): CapsCPU {
  const topo = join(SYS_CPU, `cpu${id}`, 'topology');
  return {
    id,
    socketId: readInt(join(topo, 'physical_package_id')) ?? 0,
    dieId: readInt(join(topo, 'die_id')) ?? 0,
    coreId: readInt(join(topo, 'core_id')) ?? id,
    siblings: read(join(topo, 'thread_siblings_list')) ?? String(id),
  };
}

/** The NUMA cells from /sys; one cell with every CPU and all memory when the kernel has none. */
function probeCells(): CellProbe[] {
  let nodes: number[] = [];
  try {
    nodes = readdirSync(SYS_NODE)
      .map((n) => /^node(\d+)$/.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    // No NUMA information: below.
  }
  const cells: CellProbe[] = [];
  for (const id of nodes) {
    const dir = join(SYS_NODE, `node${id}`);
    const memKiB = /MemTotal:\s+(\d+)\s*kB/.exec(read(join(dir, 'meminfo')) ?? '')?.[1];
    const hugepages: [number, number][] = [];
    try {
      for (const h of readdirSync(join(dir, 'hugepages'))) {
        const size = /^hugepages-(\d+)kB$/.exec(h)?.[1];
        if (size !== undefined) hugepages.push([Number(size), readInt(join(dir, 'hugepages', h, 'nr_hugepages')) ?? 0]);
      }
    } catch {
      // No huge pages.
    }
    hugepages.sort((a, b) => a[0] - b[0]);
    const distance = (read(join(dir, 'distance')) ?? '').split(/\s+/).filter((s) => s !== '').map(Number);
    cells.push({
      id,
      memory: memKiB !== undefined ? Number(memKiB) : 0,
      cpus: parseCpuList(read(join(dir, 'cpulist')) ?? '').map(cpuOf),
      hugepages,
      distances: distance.map((v, i) => [nodes[i] ?? i, v]),
    });
  }
  if (cells.length === 0) {
    const n = osCpus().length;
    cells.push({
      id: 0,
      memory: Math.floor(totalmem() / 1024),
      cpus: Array.from({ length: n }, (_, i) => cpuOf(i)),
      hugepages: [],
      distances: [],
    });
  }
  return cells;
}

/**
 * virNodeGetInfo for this machine, as libvirt's nodeinfo computes it: sockets per cell, cores
 * per socket and threads per core from each CPU's topology in /sys, memory from MemTotal.
 */
export function probeNodeInfo(): NodeInfo {
  const cells = probeCells();
  const all = cells.flatMap((c) => c.cpus);
  const cpuCount = all.length > 0 ? all.length : osCpus().length;
  const sockets = new Set(all.map((c) => c.socketId)).size || 1;
  const cores = new Set(all.map((c) => `${c.socketId}/${c.dieId}/${c.coreId}`)).size || cpuCount;
  const threads = Math.max(1, Math.round(cpuCount / cores));
  // libvirt reads "cpu MHz" (integer part) from /proc/cpuinfo; Node's own figure is 0 in some VMs.
  const mhz = /^cpu MHz\s*:\s*(\d+)/m.exec(read('/proc/cpuinfo') ?? '')?.[1];
  // With NUMA information libvirt adds up the cells' memory; /proc/meminfo may differ (containers).
  const cellMemory = cells.reduce((sum, c) => sum + c.memory, 0);
  return {
    model: hostArch(),
    memory: cellMemory > 0 ? cellMemory : Math.floor(totalmem() / 1024),
    cpus: cpuCount,
    mhz: mhz !== undefined ? Number(mhz) : Math.trunc(osCpus()[0]?.speed ?? 0),
    nodes: cells.length,
    sockets: Math.max(1, Math.round(sockets / cells.length)),
    cores: Math.max(1, Math.round(cores / sockets)),
    threads,
  };
}

/**
 * The host's UUID: its SMBIOS system UUID when the firmware gives one, else the systemd machine
 * ID written as a UUID (libvirt falls back to a random one per daemon start; a stable one is
 * more useful).
 */
export function hostUUID(): string | undefined {
  const smbios = read('/sys/class/dmi/id/product_uuid')?.toLowerCase();
  if (smbios !== undefined && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(smbios)) return smbios;
  const id = read('/etc/machine-id');
  if (id === undefined || !/^[0-9a-f]{32}$/.test(id)) return undefined;
  return `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20)}`;
}

function cpuVendor(): string | undefined {
  const id = /^vendor_id\s*:\s*(\S+)/m.exec(read('/proc/cpuinfo') ?? '')?.[1];
  if (id === 'AuthenticAMD') return 'AMD';
  if (id === 'GenuineIntel') return 'Intel';
  return id;
}

/** The executable `name` in env.PATH's absolute directories, or undefined. */
export function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // next
    }
  }
  return undefined;
}

/** True when KVM can be used: /dev/kvm opens read-write (what type='kvm' needs). */
export function kvmUsable(device = '/dev/kvm'): boolean {
  try {
    closeSync(openSync(device, constants.O_RDWR));
    return true;
  } catch {
    return false;
  }
}

/**
 * The capabilities of the QEMU driver on this machine: the host from /proc and /sys, and one hvm
 * guest per QEMU binary on PATH (qemu-system-i386, qemu-system-x86_64) with domain type `qemu`,
 * plus `kvm` for the host's own architecture when /dev/kvm opens.
 */
export function probeQemuCapabilities(env: NodeJS.ProcessEnv = process.env): Capabilities {
  const cells = probeCells();
  const node = probeNodeInfo();
  const host = hostArch();
  const kvm = kvmUsable();
  const pageSizes = [4, ...new Set(cells.flatMap((c) => c.hugepages.map(([s]) => s)))].sort((a, b) => a - b);
  const guests: CapsGuest[] = [];
  for (const [guestArch, binary, wordsize] of [
    ['i686', 'qemu-system-i386', 32],
    ['x86_64', 'qemu-system-x86_64', 64],
  ] as const) {
    const emulator = onPath(binary, env);
    if (emulator === undefined) continue;
    // KVM runs guests of the host's own word size and narrower on x86.
    const kvmHere = kvm && (guestArch === host || (host === 'x86_64' && guestArch === 'i686'));
    guests.push({
      osType: 'hvm',
      arch: guestArch,
      wordsize,
      emulator,
      domainTypes: kvmHere ? ['qemu', 'kvm'] : ['qemu'],
      flags: guestArch === 'i686' ? ['pae', 'nonpae', 'cpuselection', 'deviceboot'] : ['cpuselection', 'deviceboot'],
      toggles: [
        { name: 'acpi', default: 'on', toggle: true },
        { name: 'apic', default: 'on', toggle: false },
        { name: 'disksnapshot', default: 'on', toggle: false },
      ],
    });
  }
  const capsCells: CapsCell[] = cells.map((c) => ({
    id: c.id,
    memory: c.memory,
    pages: [[4, Math.floor(c.memory / 4)] as const, ...c.hugepages],
    distances: c.distances,
    cpus: c.cpus,
  }));
  return {
    host: {
      uuid: hostUUID(),
      cpu: {
        arch: host,
        vendor: cpuVendor(),
        topology: { sockets: node.sockets, dies: 1, cores: node.cores, threads: node.threads },
        pageSizes,
      },
      iommu: false,
      cells: capsCells,
      // libvirt's qemu driver without a security driver reports model "none", DOI "0".
      secmodels: [{ model: 'none', doi: '0' }],
    },
    guests,
  };
}

/** SMBIOS sysinfo from /sys/class/dmi/id, or undefined when the firmware gives none. */
export function probeSysinfo(): Sysinfo | undefined {
  const dmi = '/sys/class/dmi/id';
  const pick = (pairs: [string, string][]): [string, string][] =>
    pairs.flatMap(([name, file]) => {
      const v = read(join(dmi, file));
      return v === undefined || v === '' ? [] : [[name, v] as [string, string]];
    });
  const bios = pick([
    ['vendor', 'bios_vendor'],
    ['version', 'bios_version'],
    ['date', 'bios_date'],
    ['release', 'bios_release'],
  ]);
  const system = pick([
    ['manufacturer', 'sys_vendor'],
    ['product', 'product_name'],
    ['version', 'product_version'],
    ['serial', 'product_serial'],
    ['uuid', 'product_uuid'],
    ['sku', 'product_sku'],
    ['family', 'product_family'],
  ]);
  if (bios.length === 0 && system.length === 0) return undefined;
  return { bios, system };
}
