/**
 * The QEMU driver's statistics: block statistics from `query-blockstats`, block sizes from the
 * images themselves, CPU time from /proc (libvirt reads cgroups, which an unprivileged session
 * does not have: /proc gives the same figures without them), and the groups of
 * virConnectGetAllDomainStats. Pure functions of a running guest's monitor and process; the
 * driver (./qemu-driver.ts) resolves domains and binds them.
 */
import { openSync, readSync, closeSync, readFileSync, readdirSync, statSync } from 'node:fs';
import type { BlockInfo, BlockStats, TypedParameter } from '../../core/driver.js';
import { DomainStatsTypes as ST, ErrorDomain, ErrorNumber, VcpuState } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import type { DomainDef, DomainDiskDef } from '../../conf/domain.js';
import type { QmpClient } from './qmp.js';

const Q = ErrorDomain.QEMU;
const LLONG = 3;
const ULLONG = 4;
const UINT = 2;
const INT = 1;
const STRING = 7;
/** Clock ticks per second of /proc's utime and stime (sysconf(_SC_CLK_TCK) on Linux). */
const CLK_TCK = 100;

/** One entry of `query-blockstats`. */
interface QemuBlockStats {
  device?: string;
  'node-name'?: string;
  qdev?: string;
  stats: {
    rd_bytes: number;
    wr_bytes: number;
    rd_operations: number;
    wr_operations: number;
    flush_operations: number;
    rd_total_time_ns: number;
    wr_total_time_ns: number;
    flush_total_time_ns: number;
    wr_highest_offset?: number;
  };
}

/** virDomainDiskByName: a disk by its target, or by its source path. */
export function diskByName(def: DomainDef, name: string): { disk: DomainDiskDef; index: number } | undefined {
  let index = def.devices.disks.findIndex((d) => d.targetDev === name);
  if (index < 0) index = def.devices.disks.findIndex((d) => d.sourceFile === name || d.sourceDev === name);
  return index < 0 ? undefined : { disk: def.devices.disks[index]!, index };
}

/** The device id ./argv.ts gives a disk (the qdev path of query-blockstats ends with it). */
function diskDeviceId(disk: DomainDiskDef, index: number): string {
  return `${disk.targetBus}-disk${index}`;
}

/** The query-blockstats entry of each disk of `def`, by disk index. */
async function blockStatsByDisk(qmp: QmpClient, def: DomainDef): Promise<Map<number, QemuBlockStats['stats']>> {
  const all = await qmp.execute<QemuBlockStats[]>('query-blockstats');
  const out = new Map<number, QemuBlockStats['stats']>();
  def.devices.disks.forEach((disk, i) => {
    const id = diskDeviceId(disk, i);
    const e = all.find((s) => s.qdev === id || (s.qdev ?? '').split('/').includes(id) || s.device === id);
    if (e !== undefined) out.set(i, e.stats);
  });
  return out;
}

function unknownDisk(path: string): VirError {
  return VirError.report(Q, ErrorNumber.INVALID_ARG, `invalid path: ${path}`);
}

/** virDomainBlockStats: one disk's, or with '' the sum over every disk (as libvirt's qemu driver). */
export async function blockStats(qmp: QmpClient, def: DomainDef, path: string): Promise<BlockStats> {
  const all = await blockStatsByDisk(qmp, def);
  let picked: QemuBlockStats['stats'][];
  if (path === '') {
    picked = [...all.values()];
  } else {
    const found = diskByName(def, path);
    if (found === undefined) throw unknownDisk(path);
    const s = all.get(found.index);
    if (s === undefined) throw VirError.report(Q, ErrorNumber.INTERNAL_ERROR, `cannot find statistics for device '${found.disk.targetDev}'`);
    picked = [s];
  }
  const sum = (k: keyof QemuBlockStats['stats']) => picked.reduce((n, s) => n + (s[k] ?? 0), 0);
  // QEMU keeps no error count: -1, as libvirt reports it.
  return { rdReq: sum('rd_operations'), rdBytes: sum('rd_bytes'), wrReq: sum('wr_operations'), wrBytes: sum('wr_bytes'), errs: -1 };
}

/** virDomainBlockStatsFlags: the same figures with the times, as libvirt's qemu driver lists them. */
export async function blockStatsFlags(qmp: QmpClient, def: DomainDef, path: string): Promise<TypedParameter[]> {
  const all = await blockStatsByDisk(qmp, def);
  let picked: QemuBlockStats['stats'][];
  if (path === '') picked = [...all.values()];
  else {
    const found = diskByName(def, path);
    if (found === undefined) throw unknownDisk(path);
    const s = all.get(found.index);
    picked = s === undefined ? [] : [s];
  }
  const sum = (k: keyof QemuBlockStats['stats']) => picked.reduce((n, s) => n + (s[k] ?? 0), 0);
  const p = (field: string, k: keyof QemuBlockStats['stats']): TypedParameter => ({ field, type: LLONG, value: sum(k) });
  return [
    p('wr_bytes', 'wr_bytes'),
    p('wr_operations', 'wr_operations'),
    p('rd_bytes', 'rd_bytes'),
    p('rd_operations', 'rd_operations'),
    p('flush_operations', 'flush_operations'),
    p('wr_total_times', 'wr_total_time_ns'),
    p('rd_total_times', 'rd_total_time_ns'),
    p('flush_total_times', 'flush_total_time_ns'),
  ];
}

/** A qcow2 image's virtual size (its header's `size`, big-endian at byte 24), or undefined. */
function qcow2Size(file: string): number | undefined {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(32);
    if (readSync(fd, b, 0, 32, 0) < 32 || b.readUInt32BE(0) !== 0x514649fb) return undefined;
    return Number(b.readBigUInt64BE(24));
  } finally {
    closeSync(fd);
  }
}

/**
 * virDomainGetBlockInfo from the image on the host (what libvirt reads for a local file, whether
 * the guest runs or not): capacity is the guest-visible size (qcow2 header, else the file size),
 * allocation the blocks the file occupies, physical its size. A block device: its size for all.
 */
export function blockInfo(def: DomainDef, path: string): BlockInfo {
  const found = diskByName(def, path);
  if (found === undefined) throw VirError.report(Q, ErrorNumber.INVALID_ARG, `invalid path ${path} not assigned to domain`);
  const { disk } = found;
  const source = disk.sourceFile ?? disk.sourceDev;
  if (source === undefined) throw VirError.report(Q, ErrorNumber.INVALID_ARG, `disk '${path}' does not currently have a source assigned`);
  let st;
  try {
    st = statSync(source);
  } catch (err) {
    throw VirError.report(Q, ErrorNumber.SYSTEM_ERROR, `cannot stat file '${source}': ${(err as Error).message}`);
  }
  if (st.isBlockDevice()) {
    const fd = openSync(source, 'r');
    closeSync(fd);
    return { capacity: st.size, allocation: st.size, physical: st.size };
  }
  const capacity = disk.driverType === 'qcow2' ? (qcow2Size(source) ?? st.size) : st.size;
  return { capacity, allocation: st.blocks * 512, physical: st.size };
}

// CPU time from /proc.

interface TaskTimes {
  /** ns on the CPU (schedstat), or utime+stime in ns when schedstat is missing. */
  runNs: number;
  /** The host CPU it last ran on (stat field 39). */
  cpu: number;
  utime: number;
  stime: number;
}

/** /proc/PID/task/TID: a thread's times, or undefined when it is gone. */
function taskTimes(pid: number, tid: number | 'self'): TaskTimes | undefined {
  const base = tid === 'self' ? `/proc/${pid}` : `/proc/${pid}/task/${tid}`;
  let stat: string;
  try {
    stat = readFileSync(`${base}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces) start at field 3.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  const cpu = Number(f[36]);
  let runNs = ((utime + stime) * 1e9) / CLK_TCK;
  try {
    runNs = Number(readFileSync(`${base}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    // No schedstat (kernel without it): the tick counts.
  }
  return { runNs, cpu, utime, stime };
}

function threadIds(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number).filter((n) => Number.isInteger(n));
  } catch {
    return [];
  }
}

/** The process's CPU time: cpu_time (all threads, ns), user_time and system_time (ns). */
export function processCpu(pid: number): { cpuTime: number; userTime: number; systemTime: number } {
  const self = taskTimes(pid, 'self');
  if (self === undefined) throw VirError.report(Q, ErrorNumber.OPERATION_INVALID, 'domain is not running');
  let cpuTime = 0;
  for (const tid of threadIds(pid)) cpuTime += taskTimes(pid, tid)?.runNs ?? 0;
  // /proc/PID/stat's utime and stime count every thread of the process.
  return { cpuTime, userTime: (self.utime * 1e9) / CLK_TCK, systemTime: (self.stime * 1e9) / CLK_TCK };
}

/** The vCPU threads of the guest, by vCPU index (query-cpus-fast). */
export async function vcpuThreads(qmp: QmpClient): Promise<{ index: number; threadId: number }[]> {
  const cpus = await qmp.execute<{ 'cpu-index': number; 'thread-id': number }[]>('query-cpus-fast');
  return cpus.map((c) => ({ index: c['cpu-index'], threadId: c['thread-id'] }));
}

/** One vCPU thread's time and where it last ran. */
export function vcpuTimes(pid: number, tid: number): { time: number; cpu: number } | undefined {
  const t = taskTimes(pid, tid);
  return t === undefined ? undefined : { time: t.runNs, cpu: t.cpu };
}

/**
 * Per host CPU: the time of the guest's threads that last ran there (cpu_time) and of its vCPU
 * threads among them (vcpu_time). libvirt reads cpuacct's per-CPU usage; /proc has no per-CPU
 * split of a thread's time, so each thread's time counts on the CPU it last ran on.
 */
export function perCpu(pid: number, vcpuTids: readonly number[], hostCpus: number): { cpuTime: number; vcpuTime: number }[] {
  const out = Array.from({ length: hostCpus }, () => ({ cpuTime: 0, vcpuTime: 0 }));
  const vcpus = new Set(vcpuTids);
  for (const tid of threadIds(pid)) {
    const t = taskTimes(pid, tid);
    if (t === undefined || !(t.cpu >= 0 && t.cpu < hostCpus)) continue;
    out[t.cpu]!.cpuTime += t.runNs;
    if (vcpus.has(tid)) out[t.cpu]!.vcpuTime += t.runNs;
  }
  return out;
}

// virConnectGetAllDomainStats groups.

/** What the groups of a running guest are made from. */
export interface RunningStatsSource {
  def: DomainDef;
  qmp: QmpClient;
  pid: number;
  /** Current balloon size (KiB). */
  balloonKiB: number;
}

/** The groups `stats` asks for of a running guest, named as libvirt's qemu driver names them. */
export async function runningGroups(src: RunningStatsSource, stats: number): Promise<TypedParameter[]> {
  const out: TypedParameter[] = [];
  const add = (field: string, type: number, value: number | string) => out.push({ field, type, value });
  const { def, qmp, pid } = src;
  if ((stats & ST.CPU_TOTAL) !== 0) {
    const c = processCpu(pid);
    add('cpu.time', ULLONG, c.cpuTime);
    add('cpu.user', ULLONG, c.userTime);
    add('cpu.system', ULLONG, c.systemTime);
  }
  if ((stats & ST.BALLOON) !== 0) {
    add('balloon.current', ULLONG, src.balloonKiB);
    add('balloon.maximum', ULLONG, def.memory);
  }
  if ((stats & ST.VCPU) !== 0) {
    add('vcpu.current', UINT, def.vcpu.current ?? def.vcpu.count);
    add('vcpu.maximum', UINT, def.vcpu.count);
    for (const v of await vcpuThreads(qmp)) {
      const t = vcpuTimes(pid, v.threadId);
      add(`vcpu.${v.index}.state`, INT, VcpuState.RUNNING);
      add(`vcpu.${v.index}.time`, ULLONG, t?.time ?? 0);
    }
  }
  if ((stats & ST.INTERFACE) !== 0) {
    // As libvirt: every interface counts; one without a host device (user networking) has no
    // figures to read.
    add('net.count', UINT, def.devices.interfaces.length);
  }
  if ((stats & ST.BLOCK) !== 0) {
    const all = await blockStatsByDisk(qmp, def);
    add('block.count', UINT, def.devices.disks.length);
    def.devices.disks.forEach((disk, i) => {
      add(`block.${i}.name`, STRING, disk.targetDev);
      const source = disk.sourceFile ?? disk.sourceDev;
      if (source !== undefined) add(`block.${i}.path`, STRING, source);
      const s = all.get(i);
      if (s !== undefined) {
        add(`block.${i}.rd.reqs`, ULLONG, s.rd_operations);
        add(`block.${i}.rd.bytes`, ULLONG, s.rd_bytes);
        add(`block.${i}.rd.times`, ULLONG, s.rd_total_time_ns);
        add(`block.${i}.wr.reqs`, ULLONG, s.wr_operations);
        add(`block.${i}.wr.bytes`, ULLONG, s.wr_bytes);
        add(`block.${i}.wr.times`, ULLONG, s.wr_total_time_ns);
        add(`block.${i}.fl.reqs`, ULLONG, s.flush_operations);
        add(`block.${i}.fl.times`, ULLONG, s.flush_total_time_ns);
      }
      if (source !== undefined) {
        try {
          const info = blockInfo(def, disk.targetDev);
          add(`block.${i}.allocation`, ULLONG, info.allocation);
          add(`block.${i}.capacity`, ULLONG, info.capacity);
          add(`block.${i}.physical`, ULLONG, info.physical);
        } catch {
          // An image that went away: its sizes are left out, as libvirt leaves them.
        }
      }
    });
  }
  return out;
}

/** The groups of an inactive domain: its disks' names and paths (libvirt reports those too). */
export function inactiveGroups(def: DomainDef, stats: number): TypedParameter[] {
  const out: TypedParameter[] = [];
  if ((stats & ST.BALLOON) !== 0) {
    out.push({ field: 'balloon.current', type: ULLONG, value: def.currentMemory }, { field: 'balloon.maximum', type: ULLONG, value: def.memory });
  }
  if ((stats & ST.VCPU) !== 0) {
    out.push({ field: 'vcpu.current', type: UINT, value: def.vcpu.current ?? def.vcpu.count }, { field: 'vcpu.maximum', type: UINT, value: def.vcpu.count });
  }
  if ((stats & ST.INTERFACE) !== 0) out.push({ field: 'net.count', type: UINT, value: def.devices.interfaces.length });
  if ((stats & ST.BLOCK) !== 0) {
    out.push({ field: 'block.count', type: UINT, value: def.devices.disks.length });
    def.devices.disks.forEach((disk, i) => {
      out.push({ field: `block.${i}.name`, type: STRING, value: disk.targetDev });
      const source = disk.sourceFile ?? disk.sourceDev;
      if (source !== undefined) out.push({ field: `block.${i}.path`, type: STRING, value: source });
    });
  }
  return out;
}
