/**
 * The QEMU driver's statistics, tuning, job and migration-speed calls, as libvirt's qemu driver
 * answers them for guests it runs without cgroups (an unprivileged session): statistics from QMP
 * and /proc (./stats.ts), tuning kept in the persistent definition with CONFIG and refused live
 * with libvirt's words, jobs from ./jobinfo.ts. The driver class binds these with thin methods.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus as hostCpus } from 'node:os';
import { join } from 'node:path';
import type { BlockInfo, BlockStats, CpuStats, DomainRef, DomainStatsRecord, InterfaceStats, JobInfo, JobStats, TypedParameter } from '../../core/driver.js';
import { ConnectGetAllDomainStatsFlags as SF, DomainModificationImpact, DomainStatsTypes as ST, ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError, operationInvalid } from '../../core/errors.js';
import { checkActive } from '../../rules/lifecycle.js';
import { parseDomainXML, type DomainDef } from '../../conf/domain.js';
import type { DomainRecord } from '../../store/store.js';
import type { Defs } from '../metadata/defs.js';
import { defsOf, modificationImpact } from '../metadata/defs.js';
import { STORED, isActive, type DomainRecords } from '../metadata/records.js';
import {
  BLKIO_PARAMS,
  INTERFACE_PARAMS,
  MEMORY_PARAMS,
  NUMA_PARAMS,
  applyBlkioParams,
  applyInterfaceParams,
  applyMemoryParams,
  applyNumaParams,
  blkioParams,
  interfaceOf,
  interfaceParams,
  memoryParams,
  numaParams,
  validateParams,
} from '../metadata/tuning.js';
import type { QmpClient } from './qmp.js';
import type { QemuRuntime } from './process.js';
import { JobTracker } from './jobinfo.js';
import * as st from './stats.js';

const Q = ErrorDomain.QEMU;
const { LIVE, CONFIG } = DomainModificationImpact;
const STRING_OKAY = 4;
const ULLONG = 4;
/** libvirt's QEMU_DOMAIN_MIG_BANDWIDTH_MAX: the most MiB/s a 64-bit byte count holds. */
export const MIG_BANDWIDTH_MAX = 8796093022207;
/** VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY. */
const POSTCOPY = 1;

/** What the calls need of the QEMU driver. */
export interface QemuStatsHost {
  readonly uri: string;
  readonly records: DomainRecords;
  readonly jobs: JobTracker;
  /** Migration bandwidth (MiB/s) set per domain, by UUID. */
  readonly migSpeed: Map<string, number>;
  monitor(rec: DomainRecord): Promise<{ qmp: QmpClient; runtime: QemuRuntime }>;
  editDefs(dom: DomainRef, api: string, change: (rec: DomainRecord) => Defs): Promise<void>;
  listAll(flags: number): Promise<DomainRef[]>;
  stateOf(dom: DomainRef): Promise<[number, number]>;
}

async function running(host: QemuStatsHost, dom: DomainRef): Promise<{ rec: DomainRecord; def: DomainDef; qmp: QmpClient; runtime: QemuRuntime }> {
  const rec = host.records.resolve(dom);
  checkActive({ active: isActive(rec) });
  const { qmp, runtime } = await host.monitor(rec);
  return { rec, def: parseDomainXML(rec.liveXml ?? '', STORED), qmp, runtime };
}

export async function blockStats(host: QemuStatsHost, dom: DomainRef, path: string): Promise<BlockStats> {
  const g = await running(host, dom);
  return st.blockStats(g.qmp, g.def, path);
}
export async function blockStatsFlags(host: QemuStatsHost, dom: DomainRef, path: string, flags: number): Promise<TypedParameter[]> {
  host.records.check(flags, STRING_OKAY, 'DomainBlockStatsFlags');
  const g = await running(host, dom);
  return st.blockStatsFlags(g.qmp, g.def, path);
}

/**
 * virDomainInterfaceStats: a guest interface by target device or MAC. libvirt reads a host tap
 * device's counters; a user-mode (slirp) interface has none and QEMU keeps no counters for it,
 * so the call says so plainly rather than libvirt's "/proc/net/dev: Interface not found".
 */
export async function interfaceStats(host: QemuStatsHost, dom: DomainRef, device: string): Promise<InterfaceStats> {
  const g = await running(host, dom);
  const net = interfaceOf(g.def, device, ErrorDomain.DOMAIN);
  throw VirError.report(
    Q,
    ErrorNumber.OPERATION_UNSUPPORTED,
    `interface '${net.targetDev ?? net.mac}' of type '${net.type}' has no host device to read statistics from`,
  );
}

export async function blockInfo(host: QemuStatsHost, dom: DomainRef, path: string, flags: number): Promise<BlockInfo> {
  host.records.check(flags, 0, 'DomainGetBlockInfo');
  return st.blockInfo(host.records.currentDef(host.records.resolve(dom)), path);
}

// Tuning: no cgroups, so nothing applies to a running guest; CONFIG is kept in the definition.

const sessionMode = (host: QemuStatsHost) => host.uri.endsWith('/session') || host.uri.includes('/session?');

function liveRefusal(host: QemuStatsHost, what: 'memory' | 'blkio' | 'numa', get: boolean): VirError {
  if (!get && sessionMode(host)) {
    const name = { memory: 'Memory', blkio: 'Block I/O', numa: 'NUMA' }[what];
    return VirError.report(Q, ErrorNumber.OPERATION_UNSUPPORTED, `${name} tuning is not available in session mode`);
  }
  const detail = { memory: 'cgroup memory controller is not mounted', blkio: "blkio cgroup isn't mounted", numa: 'cgroup cpuset controller is not mounted' }[what];
  return operationInvalid(Q, detail);
}

/** The one definition a Get names (LIVE/CONFIG/current); live ones refused where cgroups would be read. */
function getDef(host: QemuStatsHost, dom: DomainRef, flags: number, name: string, refuseLive?: 'memory' | 'blkio'): DomainDef {
  host.records.check(flags, LIVE | CONFIG | STRING_OKAY, name);
  const rec = host.records.resolve(dom);
  const defs = defsOf(rec, flags & ~STRING_OKAY);
  if (defs.live !== null) {
    if (refuseLive !== undefined) throw liveRefusal(host, refuseLive, true);
    return defs.live;
  }
  if (defs.config === null) throw operationInvalid(ErrorDomain.DOMAIN, 'domain is not running');
  return defs.config;
}

async function setConfig(
  host: QemuStatsHost,
  dom: DomainRef,
  api: string,
  flags: number,
  refuseLive: (() => VirError) | null,
  edit: (def: DomainDef) => void,
): Promise<void> {
  await host.editDefs(dom, api, (rec) => {
    const which = modificationImpact(rec, flags);
    if (which.live && refuseLive !== null) throw refuseLive();
    const defs = defsOf(rec, flags);
    if (defs.live !== null) edit(defs.live);
    if (defs.config !== null) edit(defs.config);
    return defs;
  });
}

export async function getMemoryParameters(host: QemuStatsHost, dom: DomainRef, flags: number): Promise<TypedParameter[]> {
  return memoryParams(getDef(host, dom, flags, 'DomainGetMemoryParameters', 'memory'));
}
export async function setMemoryParameters(host: QemuStatsHost, dom: DomainRef, params: TypedParameter[], flags: number): Promise<void> {
  host.records.check(flags, LIVE | CONFIG, 'DomainSetMemoryParameters');
  validateParams(params, MEMORY_PARAMS, Q);
  await setConfig(host, dom, 'virDomainSetMemoryParameters', flags, () => liveRefusal(host, 'memory', false), (def) => applyMemoryParams(def, params, Q));
}
export async function getBlkioParameters(host: QemuStatsHost, dom: DomainRef, flags: number): Promise<TypedParameter[]> {
  return blkioParams(getDef(host, dom, flags, 'DomainGetBlkioParameters', 'blkio'));
}
export async function setBlkioParameters(host: QemuStatsHost, dom: DomainRef, params: TypedParameter[], flags: number): Promise<void> {
  host.records.check(flags, LIVE | CONFIG, 'DomainSetBlkioParameters');
  validateParams(params, BLKIO_PARAMS, Q);
  await setConfig(host, dom, 'virDomainSetBlkioParameters', flags, () => liveRefusal(host, 'blkio', false), (def) => applyBlkioParams(def, params, Q, true));
}
export async function getNumaParameters(host: QemuStatsHost, dom: DomainRef, flags: number): Promise<TypedParameter[]> {
  return numaParams(getDef(host, dom, flags, 'DomainGetNumaParameters'));
}
export async function setNumaParameters(host: QemuStatsHost, dom: DomainRef, params: TypedParameter[], flags: number): Promise<void> {
  host.records.check(flags, LIVE | CONFIG, 'DomainSetNumaParameters');
  validateParams(params, NUMA_PARAMS, Q);
  await setConfig(host, dom, 'virDomainSetNumaParameters', flags, () => liveRefusal(host, 'numa', false), (def) => applyNumaParams(def, params, Q, false));
}
export async function getInterfaceParameters(host: QemuStatsHost, dom: DomainRef, device: string, flags: number): Promise<TypedParameter[]> {
  return interfaceParams(interfaceOf(getDef(host, dom, flags, 'DomainGetInterfaceParameters'), device, ErrorDomain.DOMAIN));
}
export async function setInterfaceParameters(host: QemuStatsHost, dom: DomainRef, device: string, params: TypedParameter[], flags: number): Promise<void> {
  host.records.check(flags, LIVE | CONFIG, 'DomainSetInterfaceParameters');
  validateParams(params, INTERFACE_PARAMS, Q);
  await host.editDefs(dom, 'virDomainSetInterfaceParameters', (rec) => {
    const defs = defsOf(rec, flags);
    if (defs.live !== null) {
      // libvirt sets bandwidth on the host device; a user-mode interface has none.
      const net = interfaceOf(defs.live, device, ErrorDomain.DOMAIN);
      throw VirError.report(Q, ErrorNumber.CONFIG_UNSUPPORTED, `bandwidth settings are not supported for ${net.type} interface type`);
    }
    if (defs.config !== null) applyInterfaceParams(interfaceOf(defs.config, device, ErrorDomain.DOMAIN), params);
    return defs;
  });
}

// CPU statistics from /proc (see ./stats.ts).

export async function cpuStats(host: QemuStatsHost, dom: DomainRef, startCpu: number, ncpus: number, flags: number): Promise<CpuStats> {
  host.records.check(flags, STRING_OKAY, 'DomainGetCPUStats');
  const g = await running(host, dom);
  const n = hostCpus().length;
  const pid = g.runtime.pid;
  if (startCpu === -1) {
    const c = st.processCpu(pid);
    return {
      cpus: n,
      stats: [
        [
          { field: 'cpu_time', type: ULLONG, value: c.cpuTime },
          { field: 'user_time', type: ULLONG, value: c.userTime },
          { field: 'system_time', type: ULLONG, value: c.systemTime },
        ],
      ],
    };
  }
  if (startCpu >= n) throw VirError.report(Q, ErrorNumber.INVALID_ARG, `start_cpu ${startCpu} larger than maximum of ${n - 1}`);
  const vcpus = (await st.vcpuThreads(g.qmp)).map((v) => v.threadId);
  const per = st.perCpu(pid, vcpus, n);
  const stats: TypedParameter[][] = [];
  for (let i = startCpu; i < Math.min(n, startCpu + ncpus); i++) {
    stats.push([
      { field: 'cpu_time', type: ULLONG, value: per[i]!.cpuTime },
      { field: 'vcpu_time', type: ULLONG, value: per[i]!.vcpuTime },
    ]);
  }
  return { cpus: n, stats };
}

// All-domain statistics.

const SUPPORTED = ST.STATE | ST.CPU_TOTAL | ST.BALLOON | ST.VCPU | ST.INTERFACE | ST.BLOCK;
const LIST_FILTERS = SF.ACTIVE | SF.INACTIVE | SF.PERSISTENT | SF.TRANSIENT | SF.RUNNING | SF.PAUSED | SF.SHUTOFF | SF.OTHER;

export async function allDomainStats(host: QemuStatsHost, doms: DomainRef[], stats: number, flags: number): Promise<DomainStatsRecord[]> {
  host.records.check(flags, LIST_FILTERS | SF.NOWAIT | SF.BACKING | SF.ENFORCE_STATS, 'ConnectGetAllDomainStats');
  if (stats === 0) stats = SUPPORTED;
  else if ((flags & SF.ENFORCE_STATS) !== 0 && (stats & ~SUPPORTED) !== 0) {
    const bits = (stats & ~SUPPORTED) >>> 0;
    throw VirError.report(Q, ErrorNumber.ARGUMENT_UNSUPPORTED, `Stats types bits 0x${bits.toString(16)} are not supported by this daemon`);
  }
  const listed = await host.listAll(flags & LIST_FILTERS);
  let chosen = listed;
  if (doms.length > 0) {
    const order = new Map(doms.map((d, i) => [d.uuid, i]));
    chosen = listed.filter((d) => order.has(d.uuid)).sort((a, b) => order.get(a.uuid)! - order.get(b.uuid)!);
  }
  const out: DomainStatsRecord[] = [];
  for (const d of chosen) {
    const params: TypedParameter[] = [];
    let rec: DomainRecord;
    try {
      rec = host.records.resolve(d);
    } catch {
      continue; // gone meanwhile: left out, as libvirt skips it
    }
    if ((stats & ST.STATE) !== 0) {
      const [state, reason] = await host.stateOf(d);
      params.push({ field: 'state.state', type: 1, value: state }, { field: 'state.reason', type: 1, value: reason });
    }
    const rest = stats & ~ST.STATE;
    if (rest !== 0) {
      if (isActive(rec) && rec.liveXml !== null) {
        try {
          const { qmp, runtime } = await host.monitor(rec);
          const def = parseDomainXML(rec.liveXml, STORED);
          params.push(...(await st.runningGroups({ def, qmp, pid: runtime.pid, balloonKiB: def.currentMemory }, rest)));
        } catch {
          // A guest that stopped meanwhile: its state is what the record shows.
        }
      } else {
        params.push(...st.inactiveGroups(host.records.currentDef(rec), rest));
      }
    }
    out.push({ dom: d, params });
  }
  return out;
}

// Jobs.

export function jobInfo(host: QemuStatsHost, dom: DomainRef): JobInfo {
  const rec = host.records.resolve(dom);
  return host.jobs.info(rec.uuid);
}
export function jobStats(host: QemuStatsHost, dom: DomainRef, flags: number): JobStats {
  host.records.check(flags, 1 | 2, 'DomainGetJobStats');
  const rec = host.records.resolve(dom);
  return host.jobs.stats(rec.uuid, (flags & 1) !== 0, (flags & 2) !== 0);
}
/**
 * virDomainAbortJob: a managed save in progress is cancelled (migrate_cancel); its call then fails
 * with VIR_ERR_OPERATION_ABORTED and the guest runs on. An internal snapshot cannot be aborted.
 */
export async function abortJob(host: QemuStatsHost, dom: DomainRef): Promise<void> {
  const rec = host.records.resolve(dom);
  checkActive({ active: isActive(rec) });
  const job = host.jobs.current(rec.uuid);
  if (job === undefined) throw operationInvalid(Q, 'no job is active on the domain');
  if (job.abort === undefined) throw operationInvalid(Q, 'cannot abort internal snapshot');
  await job.abort();
}

/** Cancels the migration a save runs; waits for it to have started (up to 10 s). */
export async function cancelMigration(qmp: QmpClient, ended: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ended() && Date.now() < deadline) {
    const q = await qmp.execute<{ status?: string }>('query-migrate');
    if (q.status === 'setup' || q.status === 'active') {
      await qmp.execute('migrate_cancel');
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Migration speed.

export async function migrateGetMaxSpeed(host: QemuStatsHost, dom: DomainRef, flags: number): Promise<number> {
  host.records.check(flags, POSTCOPY, 'DomainMigrateGetMaxSpeed');
  const rec = host.records.resolve(dom);
  if ((flags & POSTCOPY) !== 0) {
    checkActive({ active: isActive(rec) });
    const { qmp } = await host.monitor(rec);
    const p = await qmp.execute<{ 'max-postcopy-bandwidth'?: number }>('query-migrate-parameters');
    return Math.floor((p['max-postcopy-bandwidth'] ?? 0) / (1024 * 1024));
  }
  return host.migSpeed.get(rec.uuid) ?? keptSpeed(rec) ?? MIG_BANDWIDTH_MAX;
}

/** The file in a running guest's runtime directory that keeps its migration speed (MiB/s). */
const SPEED_FILE = 'migrate-max-speed';

/** The runtime directory of a running guest's record, if any. */
function runDirOf(rec: DomainRecord): string | undefined {
  if (!isActive(rec) || rec.runtime === null) return undefined;
  try {
    const rt = JSON.parse(rec.runtime) as Partial<QemuRuntime>;
    return typeof rt.runDir === 'string' ? rt.runDir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The speed a running guest was given by a manager that has since restarted: libvirt keeps it
 * with the running domain's status, so a restarted libvirtd still reports it; tsvirt keeps it in
 * the guest's runtime directory, which goes with the guest.
 */
function keptSpeed(rec: DomainRecord): number | undefined {
  const dir = runDirOf(rec);
  if (dir === undefined) return undefined;
  try {
    const n = Number(readFileSync(join(dir, SPEED_FILE), 'utf8'));
    return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export async function migrateSetMaxSpeed(host: QemuStatsHost, dom: DomainRef, bandwidth: number, flags: number): Promise<void> {
  host.records.check(flags, POSTCOPY, 'DomainMigrateSetMaxSpeed');
  if (bandwidth > MIG_BANDWIDTH_MAX) {
    const message = `numerical overflow: bandwidth must be less than ${MIG_BANDWIDTH_MAX + 1}`;
    throw new VirError({ code: ErrorNumber.OVERFLOW, domain: Q, message, str1: message });
  }
  const rec = host.records.resolve(dom);
  const postcopy = (flags & POSTCOPY) !== 0;
  if (isActive(rec)) {
    const { qmp } = await host.monitor(rec);
    await qmp.execute('migrate-set-parameters', { [postcopy ? 'max-postcopy-bandwidth' : 'max-bandwidth']: bandwidth * 1024 * 1024 });
  } else if (postcopy) {
    throw operationInvalid(ErrorDomain.DOMAIN, 'domain is not running');
  }
  if (!postcopy) {
    host.migSpeed.set(rec.uuid, bandwidth);
    const dir = runDirOf(rec);
    // Written whole then renamed: a reader never sees half a number.
    if (dir !== undefined) {
      writeFileSync(join(dir, `${SPEED_FILE}.part`), String(bandwidth), { mode: 0o600 });
      renameSync(join(dir, `${SPEED_FILE}.part`), join(dir, SPEED_FILE));
    }
  }
}
