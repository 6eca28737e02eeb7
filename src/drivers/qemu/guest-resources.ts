/**
 * The QEMU driver's resource calls on a domain, as libvirt 9.0's qemu driver answers them: vCPU
 * counts and live vCPU hotplug (`query-hotpluggable-cpus`, `device_add`/`device_del` of the CPU
 * model's device), vCPU threads' figures (`query-cpus-fast` plus /proc), memory and the virtio
 * balloon (`balloon`, `query-balloon`, the balloon's `guest-stats` QOM property), the scheduler
 * (libvirt needs cgroups for it), reset, control state, and the facts only a guest agent knows
 * (tsvirt runs no agent channel: libvirt's words for a guest without one).
 */
import { readFileSync } from 'node:fs';
import {
  DomainControlState,
  DomainMemoryModFlags,
  DomainMemoryStatTags as Tag,
  DomainVcpuFlags,
  ErrorDomain,
  ErrorNumber,
  VcpuState,
} from '../../core/enums.generated.js';
import { VirError, configUnsupported, operationInvalid } from '../../core/errors.js';
import type { DomainControlInfo, DomainInfo, DomainRef, DomainTime, MemoryStat, TypedParameter, VcpuInfo } from '../../core/driver.js';
import { parseDomainXML, unmodelledDevices, type DomainDef } from '../../conf/domain.js';
import { checkActive } from '../../rules/lifecycle.js';
import type { DomainRecord } from '../../store/store.js';
import type { Defs } from '../metadata/defs.js';
import { defsOf, oneDef } from '../metadata/defs.js';
import type { DomainRecords } from '../metadata/records.js';
import { STORED, isActive } from '../metadata/records.js';
import type { QmpClient } from './qmp.js';
import { parseRuntime, type QemuRuntime } from './process.js';
import { allowedCpus, nodeCpuMap } from './host-stats.js';

const DOM = ErrorDomain.QEMU;
const { LIVE, CONFIG, MAXIMUM, GUEST, HOTPLUGGABLE } = DomainVcpuFlags;
/** How long libvirt waits for a vCPU's DEVICE_DELETED after device_del (qemuDomainRemoveDeviceWaitTime). */
const UNPLUG_WAIT_MS = 5000;
/** The QOM path of the balloon device the argv builder adds (`id` balloon0). */
const BALLOON_PATH = '/machine/peripheral/balloon0';
/** /proc/PID/stat counts CPU time in USER_HZ ticks (1/100 s). */
const NS_PER_TICK = 10_000_000;

/** What the calls need of the QEMU driver (bound by QemuDriver). */
export interface QemuCallContext {
  readonly records: DomainRecords;
  /** `qemu:///session` or `qemu:///system`. */
  readonly uri: string;
  /** The running guest's record and monitor; "domain is not running" otherwise. */
  running(dom: DomainRef): Promise<{ rec: DomainRecord; qmp: QmpClient; runtime: QemuRuntime }>;
  /** MetadataDriver.editDefs: a definition change under the domain's job. */
  editDefs(dom: DomainRef, api: string, change: (rec: DomainRecord) => Defs, act?: (rec: DomainRecord, defs: Defs) => Promise<void>): Promise<void>;
  /** The guest's monitor when this driver holds it open already (never attaches). */
  heldMonitor(uuid: string): QmpClient | undefined;
  /** The job this process runs on the domain and since when (ms since the epoch), if any. */
  jobOf(uuid: string): { job: string; since: number } | undefined;
}

const vcpusOf = (def: DomainDef): number => def.vcpu.current ?? def.vcpu.count;
function setVcpus(def: DomainDef, n: number): void {
  def.vcpu.current = n === def.vcpu.count ? undefined : n;
}

function liveDef(rec: DomainRecord): DomainDef {
  return parseDomainXML(rec.liveXml ?? '', STORED);
}

/** Whether the definition has a guest agent channel (libvirt's `org.qemu.guest_agent.0`). */
function hasAgentChannel(def: DomainDef): boolean {
  return unmodelledDevices(def).some(
    (k) => k.el.name === 'channel' && k.el.children.some((c) => c.name === 'target' && c.attrs.name === 'org.qemu.guest_agent.0'),
  );
}

/**
 * libvirt's answer for a call that needs the guest agent: tsvirt never connects an agent, so a
 * guest without the channel gets "QEMU guest agent is not configured" (VIR_ERR_ARGUMENT_UNSUPPORTED)
 * and one with it "QEMU guest agent is not connected" (VIR_ERR_AGENT_UNRESPONSIVE).
 */
function noAgent(def: DomainDef): VirError {
  if (hasAgentChannel(def)) return VirError.report(DOM, ErrorNumber.AGENT_UNRESPONSIVE, 'QEMU guest agent is not connected');
  return VirError.report(DOM, ErrorNumber.ARGUMENT_UNSUPPORTED, 'QEMU guest agent is not configured');
}

// vCPUs.

/** virDomainGetVcpusFlags. */
export function getVcpusFlags(ctx: QemuCallContext, dom: DomainRef, flags: number): number {
  ctx.records.check(flags, LIVE | CONFIG | MAXIMUM | GUEST, 'DomainGetVcpusFlags');
  const rec = ctx.records.resolve(dom);
  if ((flags & GUEST) !== 0) {
    if (!isActive(rec)) throw VirError.invalidArg(DOM, 'vCPU count provided by the guest agent can only be requested for live domains');
    throw noAgent(liveDef(rec));
  }
  const def = oneDef(rec, flags);
  return (flags & MAXIMUM) !== 0 ? def.vcpu.count : vcpusOf(def);
}

/** One entry of `query-hotpluggable-cpus`. */
interface HotpluggableCpu {
  type: string;
  'vcpus-count': number;
  props: Record<string, number>;
  'qom-path'?: string;
}

const PROP_ORDER = ['node-id', 'drawer-id', 'book-id', 'socket-id', 'die-id', 'cluster-id', 'core-id', 'thread-id'];
function topoOrder(a: HotpluggableCpu, b: HotpluggableCpu): number {
  for (const p of PROP_ORDER) {
    const d = (a.props[p] ?? 0) - (b.props[p] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Brings the running guest from `from` to `to` online vCPUs as libvirt does: new vCPUs are
 * `device_add`ed in topology order with id `vcpuN` (N their index); unplugging takes the highest
 * vCPUs this driver plugged (those created by `-smp` at start are not hotpluggable) and waits for
 * QEMU's DEVICE_DELETED, which needs the guest to release the CPU. Returns the count reached;
 * throws with that count attached when a step fails.
 */
async function hotplugVcpus(qmp: QmpClient, def: DomainDef, from: number, to: number): Promise<void> {
  const all = (await qmp.execute<HotpluggableCpu[]>('query-hotpluggable-cpus')).sort(topoOrder);
  if (to > from) {
    const free = all.map((c, index) => ({ c, index })).filter((e) => e.c['qom-path'] === undefined);
    for (const { c, index } of free.slice(0, to - from)) {
      await qmp.execute('device_add', { driver: c.type, id: `vcpu${index}`, ...c.props });
    }
    return;
  }
  const ours = all
    .map((c, index) => ({ c, index }))
    .filter((e) => e.c['qom-path']?.startsWith('/machine/peripheral/vcpu') === true)
    .reverse();
  if (ours.length < from - to) {
    throw configUnsupported(DOM, 'failed to find appropriate hotpluggable vcpus to reach the desired target vcpu count');
  }
  if (def.type === 'qemu') {
    // Measured on QEMU 7.2: the guest releases the CPU, then QEMU dies of a segfault (libvirt's
    // unplug ends the same way there). Refused rather than losing the guest.
    throw VirError.report(DOM, ErrorNumber.OPERATION_UNSUPPORTED, 'vCPU hot-unplug is not supported for TCG guests (domain type qemu): QEMU crashes');
  }
  for (const { c } of ours.slice(0, from - to)) {
    const id = c['qom-path']!.slice('/machine/peripheral/'.length);
    const deleted = qmp.waitForEvent((ev) => ev.event === 'DEVICE_DELETED' && (ev.data.device === id || ev.data.path === c['qom-path']), UNPLUG_WAIT_MS);
    deleted.catch(() => undefined);
    await qmp.execute('device_del', { id });
    try {
      await deleted;
    } catch (err) {
      if (err instanceof VirError && err.code === ErrorNumber.OPERATION_TIMEOUT) {
        throw VirError.report(DOM, ErrorNumber.OPERATION_TIMEOUT, 'vcpu unplug request timed out. Unplug result must be manually inspected in the domain');
      }
      throw err;
    }
  }
}

/** How many vCPUs QEMU has now (query-cpus-fast), to record what a failed hotplug left. */
async function vcpusNow(qmp: QmpClient): Promise<number | undefined> {
  try {
    return (await qmp.execute<unknown[]>('query-cpus-fast')).length;
  } catch {
    return undefined;
  }
}

/** virDomainSetVcpusFlags (and virDomainSetVcpus: LIVE). */
export async function setVcpusFlags(ctx: QemuCallContext, dom: DomainRef, nvcpus: number, flags: number, api: string): Promise<void> {
  ctx.records.check(flags, LIVE | CONFIG | MAXIMUM | GUEST | HOTPLUGGABLE, 'DomainSetVcpusFlags');
  const maximum = (flags & MAXIMUM) !== 0;
  let failure: unknown = null;
  await ctx.editDefs(
    dom,
    api,
    (rec) => {
      if ((flags & GUEST) !== 0) {
        checkActive({ active: isActive(rec) });
        throw noAgent(liveDef(rec));
      }
      const defs = defsOf(rec, flags);
      if (maximum) {
        if (defs.live !== null) throw VirError.report(DOM, ErrorNumber.INVALID_ARG, "maximum vcpu count of a live domain can't be modified");
        if (defs.config !== null) {
          const current = Math.min(vcpusOf(defs.config), nvcpus);
          defs.config.vcpu.count = nvcpus;
          setVcpus(defs.config, current);
        }
        return defs;
      }
      if (defs.live !== null && nvcpus > defs.live.vcpu.count) {
        throw VirError.report(DOM, ErrorNumber.INVALID_ARG, `requested vcpus is greater than max allowable vcpus for the live domain: ${nvcpus} > ${defs.live.vcpu.count}`);
      }
      if (defs.config !== null && nvcpus > defs.config.vcpu.count) {
        throw VirError.report(
          DOM,
          ErrorNumber.INVALID_ARG,
          `requested vcpus is greater than max allowable vcpus for the persistent domain: ${nvcpus} > ${defs.config.vcpu.count}`,
        );
      }
      if (defs.config !== null) setVcpus(defs.config, nvcpus);
      return defs;
    },
    async (_rec, defs) => {
      if (defs.live === null || maximum) return;
      const { qmp } = await ctx.running(dom);
      const from = vcpusOf(defs.live);
      try {
        if (from !== nvcpus) await hotplugVcpus(qmp, defs.live, from, nvcpus);
        setVcpus(defs.live, nvcpus);
      } catch (err) {
        // As libvirt: what was plugged or unplugged before the failure stays recorded.
        const now = await vcpusNow(qmp);
        if (now === undefined || now === from) throw err;
        setVcpus(defs.live, now);
        failure = err;
      }
    },
  );
  if (failure !== null) throw failure;
}

/** A vCPU thread's figures from /proc/PID/task/TID/stat: CPU time (ns) and the CPU it last ran on. */
function threadStat(pid: number, tid: number): { cpuTime: number; cpu: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces and parentheses): state is field 3.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  const cpu = Number(f[36]);
  return { cpuTime: (utime + stime) * NS_PER_TICK, cpu: Number.isFinite(cpu) ? cpu : -1 };
}

/** virDomainGetVcpus: one entry per online vCPU, from its QEMU thread. */
export async function getVcpus(ctx: QemuCallContext, dom: DomainRef, maxinfo: number, maxCpus: number): Promise<VcpuInfo[]> {
  const rec = ctx.records.resolve(dom);
  if (!isActive(rec)) throw operationInvalid(DOM, 'cannot retrieve vcpu information for inactive domain');
  const { qmp, runtime } = await ctx.running(dom);
  const cpus = (await qmp.execute<{ 'cpu-index': number; 'thread-id': number }[]>('query-cpus-fast')).sort((a, b) => a['cpu-index'] - b['cpu-index']);
  return cpus.slice(0, maxinfo).map((c, i) => {
    const st = threadStat(runtime.pid, c['thread-id']);
    if (st === undefined) {
      throw VirError.report(ErrorDomain.NONE, ErrorNumber.SYSTEM_ERROR, `cannot get CPU affinity of process ${c['thread-id']}: No such process`);
    }
    const allowed = allowedCpus(runtime.pid, c['thread-id']);
    return {
      number: i,
      state: VcpuState.RUNNING,
      cpuTime: st.cpuTime,
      cpu: st.cpu,
      affinity: Array.from({ length: maxCpus }, (_, h) => allowed.has(h)),
    };
  });
}

/** virDomainGetVcpuPinInfo: tsvirt pins no vCPU, so each may run on every online host CPU. */
export function getVcpuPinInfo(ctx: QemuCallContext, dom: DomainRef, ncpumaps: number, maxCpus: number, flags: number): boolean[][] {
  ctx.records.check(flags, LIVE | CONFIG, 'DomainGetVcpuPinInfo');
  const def = oneDef(ctx.records.resolve(dom), flags);
  const online = nodeCpuMap();
  return Array.from({ length: Math.min(ncpumaps, def.vcpu.count) }, () => Array.from({ length: maxCpus }, (_, c) => online[c] === true));
}

// Memory.

function hasBalloon(def: DomainDef): boolean {
  const b = def.devices.memballoon;
  return b !== undefined && b.model !== 'none';
}

/** virDomainSetMemoryFlags (virDomainSetMemory: LIVE; virDomainSetMaxMemory: MAXIMUM), KiB. */
export async function setMemoryFlags(ctx: QemuCallContext, dom: DomainRef, memory: number, flags: number, api: string): Promise<void> {
  const M = DomainMemoryModFlags;
  if (api === 'virDomainSetMemoryFlags') ctx.records.check(flags, M.LIVE | M.CONFIG | M.MAXIMUM, 'DomainSetMemoryFlags');
  await ctx.editDefs(
    dom,
    api,
    (rec) => {
      const defs = defsOf(rec, flags);
      if ((flags & M.MAXIMUM) !== 0) {
        if (defs.live !== null) throw operationInvalid(DOM, 'cannot resize the maximum memory on an active domain');
        if (defs.config !== null) {
          defs.config.memory = memory;
          defs.config.currentMemory = Math.min(defs.config.currentMemory, memory);
        }
        return defs;
      }
      for (const def of [defs.live, defs.config]) {
        if (def !== null && memory > def.memory) throw VirError.report(DOM, ErrorNumber.INVALID_ARG, 'cannot set memory higher than max memory');
      }
      if (defs.live !== null && !hasBalloon(defs.live)) {
        throw operationInvalid(DOM, 'Unable to change memory of active domain without the balloon device and guest OS balloon driver');
      }
      if (defs.config !== null) defs.config.currentMemory = memory;
      return defs;
    },
    async (_rec, defs) => {
      if (defs.live === null || (flags & M.MAXIMUM) !== 0) return;
      const { qmp } = await ctx.running(dom);
      await qmp.execute('balloon', { value: memory * 1024 });
      defs.live.currentMemory = memory;
    },
  );
}

/** The balloon's size now (KiB), or undefined when QEMU cannot tell. */
export async function balloonActual(qmp: QmpClient): Promise<number | undefined> {
  try {
    return Math.floor((await qmp.execute<{ actual: number }>('query-balloon', undefined, { timeoutMs: 2000 })).actual / 1024);
  } catch {
    return undefined;
  }
}

/**
 * virDomainGetInfo of a running guest as libvirt's qemu driver gives it: the CPU time of the
 * QEMU process (utime + stime of /proc/PID/stat, as qemuGetProcessInfo reads it) and, with a
 * balloon, the memory the balloon leaves the guest (`query-balloon`). Only a monitor this driver
 * holds already is asked (QEMU serves one monitor client: attaching here could wait on another
 * process's); otherwise the memory is the last one set.
 */
export async function liveInfo(ctx: QemuCallContext, dom: DomainRef, info: DomainInfo): Promise<DomainInfo> {
  const rec = ctx.records.resolve(dom);
  const rt = isActive(rec) ? parseRuntime(rec.runtime) : null;
  if (rt === null) return info;
  const out = { ...info };
  const st = processStat(rt.pid);
  if (st !== undefined && st.start === rt.pidStart) out.cpuTime = st.cpuTime;
  const qmp = ctx.heldMonitor(rec.uuid);
  if (qmp !== undefined && rec.liveXml !== null && hasBalloon(liveDef(rec))) {
    const actual = await balloonActual(qmp);
    if (actual !== undefined) out.memory = actual;
  }
  return out;
}

/** A process's CPU time (ns), resident pages and start time (its identity) from /proc/PID/stat. */
function processStat(pid: number): { cpuTime: number; rssPages: number; start: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { cpuTime: (Number(f[11]) + Number(f[12])) * NS_PER_TICK, rssPages: Number(f[21]), start: f[19] ?? '' };
  } catch {
    return undefined;
  }
}

/** The balloon's `guest-stats` names, in libvirt's tag order. */
const GUEST_STATS: [tag: number, name: string, bytes: boolean][] = [
  [Tag.SWAP_IN, 'stat-swap-in', true],
  [Tag.SWAP_OUT, 'stat-swap-out', true],
  [Tag.MAJOR_FAULT, 'stat-major-faults', false],
  [Tag.MINOR_FAULT, 'stat-minor-faults', false],
  [Tag.UNUSED, 'stat-free-memory', true],
  [Tag.AVAILABLE, 'stat-total-memory', true],
  [Tag.USABLE, 'stat-available-memory', true],
  [Tag.DISK_CACHES, 'stat-disk-caches', true],
  [Tag.HUGETLB_PGALLOC, 'stat-htlb-pgalloc', false],
  [Tag.HUGETLB_PGFAIL, 'stat-htlb-pgfail', false],
];

/** The QEMU process's resident memory (KiB) from /proc/PID/stat, as libvirt reads it. */
function rssOf(pid: number): number | undefined {
  const st = processStat(pid);
  return st === undefined || !Number.isFinite(st.rssPages) ? undefined : st.rssPages * 4;
}

/**
 * virDomainMemoryStats: the balloon's size, the guest's own figures from the balloon's
 * `guest-stats` (present once `<stats period>` made QEMU poll the guest driver; values it has not
 * got are -1 and left out, as libvirt does), then the QEMU process's RSS.
 */
export async function memoryStats(ctx: QemuCallContext, dom: DomainRef, nrStats: number, flags: number): Promise<MemoryStat[]> {
  ctx.records.check(flags, 0, 'DomainMemoryStats');
  const { rec, qmp, runtime } = await ctx.running(dom);
  const stats: MemoryStat[] = [];
  if (hasBalloon(liveDef(rec))) {
    const actual = await balloonActual(qmp);
    if (actual !== undefined) stats.push({ tag: Tag.ACTUAL_BALLOON, val: actual });
    try {
      const gs = await qmp.execute<{ stats: Record<string, number>; 'last-update': number }>('qom-get', { path: BALLOON_PATH, property: 'guest-stats' });
      for (const [tag, name, bytes] of GUEST_STATS) {
        const v = gs.stats[name];
        if (v === undefined || v < 0) continue;
        stats.push({ tag, val: bytes ? Math.floor(v / 1024) : v });
        if (tag === Tag.USABLE) stats.push({ tag: Tag.LAST_UPDATE, val: gs['last-update'] });
      }
      if (!stats.some((s) => s.tag === Tag.LAST_UPDATE)) stats.push({ tag: Tag.LAST_UPDATE, val: gs['last-update'] });
    } catch {
      // A balloon without the property (never with virtio-balloon-pci): no guest figures.
    }
  }
  const rss = rssOf(runtime.pid);
  if (rss !== undefined) stats.push({ tag: Tag.RSS, val: rss });
  return stats.slice(0, nrStats);
}

/**
 * At start, what libvirt's qemuProcessSetupBalloon does: the balloon's target when
 * `<currentMemory>` is below `<memory>`, and the guest-stats polling period of `<stats period>`.
 */
export async function setupBalloon(qmp: QmpClient, def: DomainDef): Promise<void> {
  const balloon = def.devices.memballoon;
  if (balloon === undefined || balloon.model === 'none') return;
  const period = balloon.kept?.['']?.children?.find((c) => c.el.name === 'stats')?.el.attrs.period;
  if (period !== undefined && Number(period) > 0) {
    await qmp.execute('qom-set', { path: BALLOON_PATH, property: 'guest-stats-polling-interval', value: Number(period) });
  }
  if (def.currentMemory < def.memory) await qmp.execute('balloon', { value: def.currentMemory * 1024 });
}

// Scheduler: libvirt's qemu driver keeps CPU tuning in cgroups.

/**
 * libvirt's answer for every scheduler call: qemu:///session has no cgroups ("CPU tuning is not
 * available in session mode"); tsvirt's qemu:///system does not place guests in cgroups either,
 * which libvirt reports as a host without the CPU controller.
 */
export function schedulerUnavailable(ctx: QemuCallContext, dom: DomainRef): VirError {
  ctx.records.resolveStatus(dom);
  if (ctx.uri.endsWith('/session')) return VirError.report(DOM, ErrorNumber.OPERATION_UNSUPPORTED, 'CPU tuning is not available in session mode');
  return operationInvalid(DOM, 'cgroup CPU controller is not mounted');
}

/** virDomainGetSchedulerParameters(Flags) and virDomainSetSchedulerParameters(Flags). */
export function schedulerParams(ctx: QemuCallContext, dom: DomainRef, flags: number | null, name: string, _params?: TypedParameter[]): never {
  ctx.records.check(flags ?? 0, LIVE | CONFIG, name);
  throw schedulerUnavailable(ctx, dom);
}

// Guest facts.

/** Jobs libvirt runs as asynchronous jobs (virDomainGetControlInfo's JOB state); others occupy the monitor. */
const ASYNC_JOBS = /Save|Snapshot|Migrate|CoreDump|Checkpoint|Restore/;

/** virDomainGetControlInfo: OK, or the job this driver runs on the guest and for how long. */
export function controlInfo(ctx: QemuCallContext, dom: DomainRef, flags: number): DomainControlInfo {
  ctx.records.check(flags, 0, 'DomainGetControlInfo');
  const st = ctx.records.resolveStatus(dom);
  checkActive({ active: isActive(st) });
  const job = ctx.jobOf(dom.uuid);
  if (job === undefined) return { state: DomainControlState.OK, details: 0, stateTime: 0 };
  return {
    state: ASYNC_JOBS.test(job.job) ? DomainControlState.JOB : DomainControlState.OCCUPIED,
    details: 0,
    stateTime: Math.max(0, Date.now() - job.since),
  };
}

/** virDomainReset: QEMU's `system_reset` (the guest reboots at once, without shutting down). */
export async function reset(ctx: QemuCallContext, dom: DomainRef, flags: number): Promise<void> {
  ctx.records.check(flags, 0, 'DomainReset');
  const { qmp } = await ctx.running(dom);
  await qmp.execute('system_reset');
}

/** libvirt's virDomainGetHostnameFlags (libvirt-domain.h). */
const H = { LEASE: 1, AGENT: 2 } as const;

/** virDomainGetHostname: from the agent (default) or DHCP leases of libvirt networks. */
export async function getHostname(
  ctx: QemuCallContext,
  dom: DomainRef,
  flags: number,
  leaseHostname: (def: DomainDef) => Promise<string | undefined>,
): Promise<string> {
  ctx.records.check(flags, H.LEASE | H.AGENT, 'DomainGetHostname');
  if ((flags & H.LEASE) !== 0 && (flags & H.AGENT) !== 0) {
    throw VirError.invalidArg(DOM, "Flags 'VIR_DOMAIN_GET_HOSTNAME_LEASE' and 'VIR_DOMAIN_GET_HOSTNAME_AGENT' are mutually exclusive");
  }
  const { rec } = await ctx.running(dom);
  if ((flags & H.LEASE) !== 0) {
    // The first host name a lease of the guest's libvirt networks carries.
    const name = await leaseHostname(liveDef(rec));
    if (name !== undefined) return name;
    throw VirError.report(DOM, ErrorNumber.NO_HOSTNAME, `no hostname found for domain ${rec.name}`);
  }
  throw noAgent(liveDef(rec));
}

/** virDomainGetTime: the guest agent's clock. */
export async function getTime(ctx: QemuCallContext, dom: DomainRef, flags: number): Promise<DomainTime> {
  ctx.records.check(flags, 0, 'DomainGetTime');
  const { rec } = await ctx.running(dom);
  throw noAgent(liveDef(rec));
}
