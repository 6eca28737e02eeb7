/**
 * The host figures the QEMU driver reports (virNodeGetCPUStats, virNodeGetMemoryStats,
 * virNodeGetCellsFreeMemory, virNodeGetFreeMemory, virNodeGetCPUMap, virConnectGetMaxVcpus),
 * read from /proc and /sys as libvirt's virhostcpu and virhostmem do, with their units: CPU
 * times in nanoseconds, memory in KiB (free memory in bytes), and their error words.
 */
import { closeSync, constants, openSync, readFileSync, readdirSync } from 'node:fs';
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import type { NodeStat } from '../../core/driver.js';
import { parseCpuList } from './host.js';

const SYS_NODE = '/sys/devices/system/node';
const SYS_CPU = '/sys/devices/system/cpu';
/** The kernel's USER_HZ: /proc/stat counts in 1/100 s on every Linux architecture libvirt runs on. */
const NS_PER_TICK = 10_000_000;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The `Name: N kB` lines of a meminfo file (per-node ones start with `Node N `), in KiB. */
function meminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(?:Node \d+ )?([A-Za-z0-9_()]+):\s+(\d+)/.exec(line);
    if (m !== null) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** The NUMA node ids under /sys, sorted; empty when the kernel has no NUMA information. */
function numaNodes(): number[] {
  try {
    return readdirSync(SYS_NODE)
      .map((n) => /^node(\d+)$/.exec(n)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

/**
 * virNodeGetCPUStats: one CPU's (`cpuNum` ≥ 0) or all CPUs' (-1) times from /proc/stat, as
 * libvirt's virHostCPUGetStatsLinux sums them: kernel = system + irq + softirq, user = user +
 * nice, idle, iowait; nanoseconds. VIR_ERR_INVALID_ARG "Invalid cpuNum in
 * virHostCPUGetStatsLinux" for a CPU the kernel does not list.
 */
export function nodeCpuStats(cpuNum: number): NodeStat[] {
  const wanted = cpuNum === -1 ? 'cpu' : `cpu${cpuNum}`;
  const line = (read('/proc/stat') ?? '').split('\n').find((l) => l.split(/\s+/)[0] === wanted);
  if (line === undefined || cpuNum < -1) {
    throw VirError.invalidArg(ErrorDomain.NONE, 'Invalid cpuNum in virHostCPUGetStatsLinux');
  }
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  return [
    { field: 'kernel', value: (system + irq + softirq) * NS_PER_TICK },
    { field: 'user', value: (user + nice) * NS_PER_TICK },
    { field: 'idle', value: idle * NS_PER_TICK },
    { field: 'iowait', value: iowait * NS_PER_TICK },
  ];
}

/**
 * virNodeGetMemoryStats: the whole host's (`cellNum` -1: total, free, buffers, cached from
 * /proc/meminfo) or one NUMA cell's (total, free from its meminfo), KiB. VIR_ERR_INVALID_ARG
 * "cellNum in virHostMemGetStats must be less than or equal to N" beyond the last cell.
 */
export function nodeMemoryStats(cellNum: number): NodeStat[] {
  if (cellNum === -1) {
    const m = meminfo(read('/proc/meminfo') ?? '');
    return [
      { field: 'total', value: m.get('MemTotal') ?? 0 },
      { field: 'free', value: m.get('MemFree') ?? 0 },
      { field: 'buffers', value: m.get('Buffers') ?? 0 },
      { field: 'cached', value: m.get('Cached') ?? 0 },
    ];
  }
  const nodes = numaNodes();
  const last = nodes.length > 0 ? nodes[nodes.length - 1]! : 0;
  if (cellNum < 0 || cellNum > last) {
    throw VirError.invalidArg(ErrorDomain.NONE, `cellNum in virHostMemGetStats must be less than or equal to ${last}`);
  }
  const m = meminfo(read(`${SYS_NODE}/node${cellNum}/meminfo`) ?? read('/proc/meminfo') ?? '');
  return [
    { field: 'total', value: m.get('MemTotal') ?? 0 },
    { field: 'free', value: m.get('MemFree') ?? 0 },
  ];
}

/** Free memory of each NUMA cell in bytes (one cell, the whole host, without NUMA information). */
function cellsFree(): number[] {
  const nodes = numaNodes();
  if (nodes.length === 0) return [(meminfo(read('/proc/meminfo') ?? '').get('MemFree') ?? 0) * 1024];
  const out: number[] = [];
  for (let id = 0; id <= nodes[nodes.length - 1]!; id++) {
    out.push((meminfo(read(`${SYS_NODE}/node${id}/meminfo`) ?? '').get('MemFree') ?? 0) * 1024);
  }
  return out;
}

/**
 * virNodeGetCellsFreeMemory: free bytes of `maxCells` cells from `startCell`. VIR_ERR_INTERNAL_ERROR
 * "start cell N out of range (0-LAST)" as libvirt's virHostMemGetCellsFree.
 */
export function nodeCellsFreeMemory(startCell: number, maxCells: number): number[] {
  const cells = cellsFree();
  if (startCell < 0 || startCell >= cells.length) {
    throw VirError.report(ErrorDomain.NONE, ErrorNumber.INTERNAL_ERROR, `start cell ${startCell} out of range (0-${cells.length - 1})`);
  }
  return cells.slice(startCell, startCell + maxCells);
}

/** virNodeGetFreeMemory: the free bytes of every cell added up. */
export function nodeFreeMemory(): number {
  return cellsFree().reduce((a, b) => a + b, 0);
}

/** virNodeGetCPUMap: one entry per present CPU (up to the highest id), true where online. */
export function nodeCpuMap(): boolean[] {
  const present = parseCpuList((read(`${SYS_CPU}/present`) ?? '0').trim());
  const online = new Set(parseCpuList((read(`${SYS_CPU}/online`) ?? '0').trim()));
  const n = present.length === 0 ? 1 : Math.max(...present) + 1;
  return Array.from({ length: n }, (_, i) => online.has(i));
}

/** The CPU ids this process may run on (its Cpus_allowed_list), for vCPU affinities. */
export function allowedCpus(pid: number | 'self', tid?: number): Set<number> {
  const path = tid === undefined ? `/proc/${pid}/status` : `/proc/${pid}/task/${tid}/status`;
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(read(path) ?? '')?.[1];
  return new Set(list === undefined ? [] : parseCpuList(list));
}

/** The most vCPUs KVM gives a guest on x86 Linux (KVM_MAX_VCPUS since Linux 5.15). */
const KVM_MAX_VCPUS = 1024;

/**
 * virConnectGetMaxVcpus as libvirt 9.0's QEMU driver answers: 16 for no type or `qemu` (any
 * case), for `kvm` what KVM allows, VIR_ERR_SYSTEM_ERROR "Unable to open /dev/kvm: …" when it
 * cannot be opened; VIR_ERR_INVALID_ARG "unknown type 'T'" otherwise. libvirt asks the kernel
 * with the KVM_CAP_MAX_VCPUS ioctl, which Node cannot issue: tsvirt answers the kernel's x86
 * limit.
 */
export function connectMaxVcpus(type: string | null, kvmDevice = '/dev/kvm'): number {
  if (type === null || type.toLowerCase() === 'qemu') return 16;
  if (type.toLowerCase() !== 'kvm') throw VirError.report(ErrorDomain.QEMU, ErrorNumber.INVALID_ARG, `unknown type '${type}'`);
  try {
    closeSync(openSync(kvmDevice, constants.O_RDWR));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EACCES' ? 'Permission denied' : code === 'ENOENT' ? 'No such file or directory' : String(code);
    throw VirError.report(ErrorDomain.NONE, ErrorNumber.SYSTEM_ERROR, `Unable to open ${kvmDevice}: ${why}`);
  }
  return KVM_MAX_VCPUS;
}
