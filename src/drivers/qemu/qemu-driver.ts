/**
 * The QEMU driver's own calls: what the metadata driver does not cover because QEMU itself must
 * answer (statistics, hotplug, vCPU and balloon changes, tuning, guest facts). Each reads or
 * changes the domain's records as the metadata driver does and asks the running guest's QEMU
 * over QMP through {@link QemuGuests.monitor}. Calls are grouped by concern in the modules beside
 * this one; this class only binds them to the driver table.
 */
import type {
  BlockInfo,
  BlockStats,
  CpuStats,
  DomainControlInfo,
  DomainFSInfo,
  DomainInfo,
  DomainInterface,
  DomainRef,
  DomainStatsRecord,
  DomainTime,
  InterfaceStats,
  JobInfo,
  JobOptions,
  JobStats,
  MemoryStat,
  MigrationBegin,
  MigrationFinish,
  MigrationPrepare,
  NodeStat,
  TypedParameter,
  VcpuInfo,
} from '../../core/driver.js';
import { DomainDeviceModifyFlags, DomainMemoryModFlags, DomainVcpuFlags, DomainXMLFlags, ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError, configUnsupported } from '../../core/errors.js';
import { checkFlags } from '../../rules/flags.js';
import { JobOperation, JobTracker } from './jobinfo.js';
import * as calls from './stats-calls.js';
import type { QmpClient } from './qmp.js';
import type { QemuRuntime } from './process.js';
import type { DomainRecord } from '../../store/store.js';
import { MetadataDriver, type MetadataDriverOptions } from '../metadata/driver.js';
import { checkActive } from '../../rules/lifecycle.js';
import { isActive } from '../metadata/records.js';
import type { QemuGuests } from './backend.js';
import { connectMaxVcpus, nodeCellsFreeMemory, nodeCpuMap, nodeCpuStats, nodeFreeMemory, nodeMemoryStats } from './host-stats.js';
import * as res from './guest-resources.js';
import { qemuDomainCapabilities } from './domcaps.js';
import { formatDomainCapabilitiesXML } from '../../conf/domaincaps.js';
import { defsOf, oneDef } from '../metadata/defs.js';
import { findAlias, planDeviceCall, removeAlias, type DeviceCall, type DevicePlan, type LiveDevice } from '../metadata/devices.js';
import { changeMedia, checkDiskHotplug, diskNode, onDeleted, plugDisk, plugInterface, releaseDisk, releaseInterface, requestUnplug, unplug } from './hotplug.js';

const { LIVE, CONFIG, FORCE } = DomainDeviceModifyFlags;
import { DomainOpenGraphicsFlags } from '../../core/enums.generated.js';
import { attachGraphicsClient, openGraphicsSocket } from './graphics-fd.js';
import { DomainInterfaceAddressesSource } from '../../core/enums.generated.js';
import { agentError, arpInterfaces, leaseHostname, leaseInterfaces } from './guest-net.js';
import { cpuMap, cpuPinsOf, cpusOf, setCpuPins } from '../../conf/cputune.js';
import type { DomainDef } from '../../conf/domain.js';
import { hostCpuCount, pinEmulatorThreads, pinVcpuThread } from './pinning.js';
import { qemuCpuModelNames } from './cpu-models.js';
import { QemuMigrations, type MigrationConfig } from './migration.js';
import { blockPeek, blockResize, memoryPeek, type PeekHost } from './peek.js';

// LIVE and CONFIG above are DomainModificationImpact's too (the same bits).

function invalidArg(detail: string): VirError {
  return VirError.report(ErrorDomain.QEMU, ErrorNumber.INVALID_ARG, detail);
}
function emptyPin(cpus: readonly number[]): void {
  if (cpus.length === 0) throw invalidArg('Empty cpu list for pinning');
}
function pin(def: DomainDef, change: (pins: ReturnType<typeof cpuPinsOf>) => void): void {
  const pins = cpuPinsOf(def);
  change(pins);
  setCpuPins(def, pins);
}

/** What a call on a running guest works with: its record, monitor and process. */
export interface RunningGuest {
  rec: DomainRecord;
  qmp: QmpClient;
  runtime: QemuRuntime;
}

/** The QEMU driver: the metadata driver with real QEMU guests (QemuGuests) and QEMU's own calls. */
export class QemuDriver extends MetadataDriver {
  /** The backend, typed as QEMU's. */
  protected readonly guests: QemuGuests;

  /** What the resource calls (./guest-resources.ts) use of this driver. */
  private readonly ctx: res.QemuCallContext;

  /** Live migration's steps on this host (./migration.ts). */
  private readonly migrations: QemuMigrations;

  /** `migration`: libvirt's qemu.conf migration_address and migration_host (./migration.ts). */
  constructor(options: MetadataDriverOptions & { backend: QemuGuests; migration?: MigrationConfig }) {
    super(options);
    this.guests = options.backend;
    this.migrations = new QemuMigrations({
      records: this.records,
      jobs: this.jobs,
      guests: this.guests,
      tracker: this.jobTracker,
      migSpeed: this.migSpeed,
      config: options.migration ?? {},
    });
    this.guests.storage = this.storage;
    this.ctx = {
      records: this.records,
      uri: this.uri,
      running: (dom) => this.running(dom),
      editDefs: (dom, api, change, act) => this.editDefs(dom, api, change, act),
      heldMonitor: (uuid) => this.guests.heldMonitor(uuid),
      jobOf: (uuid) => this.jobs.current(uuid),
    };
  }

  /** Long jobs in progress and the last completed, for virDomainGetJobInfo (./jobinfo.ts). */
  private readonly jobTracker = new JobTracker();
  /** virDomainMigrateSetMaxSpeed's value per domain (MiB/s), kept while this driver runs. */
  private readonly migSpeed = new Map<string, number>();

  private get statsHost(): calls.QemuStatsHost {
    return {
      uri: this.uri,
      records: this.records,
      jobs: this.jobTracker,
      migSpeed: this.migSpeed,
      monitor: (rec) => this.guests.monitor(rec),
      editDefs: (dom, api, change) => this.editDefs(dom, api, change),
      listAll: (flags) => this.listAllDomains(flags),
      stateOf: (dom) => this.domainGetState(dom, 0),
    };
  }

  /**
   * The running guest `dom` names, with its monitor. VIR_ERR_NO_DOMAIN when it is gone;
   * VIR_ERR_OPERATION_INVALID "domain is not running" when it is inactive.
   */
  // Pinning (./pinning.ts): the pins in <cputune>, the threads' affinity on a running guest.

  /** virDomainPinVcpuFlags (null: virDomainPinVcpu, the live definition). */
  async domainPinVcpuFlags(dom: DomainRef, vcpu: number, cpumap: boolean[], flags: number | null): Promise<void> {
    const f = flags ?? LIVE;
    this.records.check(f, LIVE | CONFIG, 'DomainPinVcpuFlags');
    const cpus = cpusOf(cpumap);
    await this.editDefs(
      dom,
      'virDomainPinVcpuFlags',
      (rec) => {
        const defs = defsOf(rec, f);
        const persistent = defs.config;
        if (persistent !== null && vcpu >= (persistent.vcpu.current ?? persistent.vcpu.count)) {
          throw invalidArg(`vcpu ${vcpu} is out of range of persistent cpu count ${persistent.vcpu.current ?? persistent.vcpu.count}`);
        }
        emptyPin(cpus);
        const live = defs.live;
        if (live !== null && vcpu >= (live.vcpu.current ?? live.vcpu.count)) {
          throw invalidArg(`vcpu ${vcpu} is out of range of live cpu count ${live.vcpu.count}`);
        }
        for (const def of [live, persistent]) if (def !== null) pin(def, (p) => p.vcpupin.set(vcpu, cpus));
        return defs;
      },
      async (rec, defs) => {
        if (defs.live === null) return;
        const { qmp } = await this.guests.monitor(rec);
        await pinVcpuThread(qmp, vcpu, cpus);
      },
    );
  }
  /** virDomainPinEmulator. */
  async domainPinEmulator(dom: DomainRef, cpumap: boolean[], flags: number): Promise<void> {
    this.records.check(flags, LIVE | CONFIG, 'DomainPinEmulator');
    const cpus = cpusOf(cpumap);
    await this.editDefs(
      dom,
      'virDomainPinEmulator',
      (rec) => {
        const defs = defsOf(rec, flags);
        emptyPin(cpus);
        for (const def of [defs.live, defs.config]) {
          if (def !== null) {
            pin(def, (p) => {
              p.emulatorpin = cpus;
            });
          }
        }
        return defs;
      },
      async (rec, defs) => {
        if (defs.live === null) return;
        const { qmp, runtime } = await this.guests.monitor(rec);
        await pinEmulatorThreads(qmp, runtime.pid, cpus);
      },
    );
  }
  /** virDomainGetEmulatorPinInfo: the pin, or every host CPU. */
  async domainGetEmulatorPinInfo(dom: DomainRef, maxCpus: number, flags: number): Promise<boolean[]> {
    this.records.check(flags, LIVE | CONFIG, 'DomainGetEmulatorPinInfo');
    return cpuMap(cpuPinsOf(oneDef(this.records.resolve(dom), flags)).emulatorpin, maxCpus, hostCpuCount());
  }

  // Guest file systems and addresses (./guest-net.ts).

  /** virDomainGetFSInfo: needs a guest agent, which tsvirt's guests lack (libvirt's error). */
  async domainGetFSInfo(dom: DomainRef, flags: number): Promise<DomainFSInfo[]> {
    this.records.check(flags, 0, 'DomainGetFSInfo');
    const rec = this.records.resolve(dom);
    checkActive({ active: isActive(rec) });
    throw agentError(this.records.currentDef(rec));
  }
  /** virDomainInterfaceAddresses: LEASE (libvirt networks only), AGENT (refused), ARP. */
  async domainInterfaceAddresses(dom: DomainRef, source: number, flags: number): Promise<DomainInterface[]> {
    this.records.check(flags, 0, 'DomainInterfaceAddresses');
    const rec = this.records.resolve(dom);
    checkActive({ active: isActive(rec) });
    const def = this.records.currentDef(rec);
    switch (source) {
      case DomainInterfaceAddressesSource.LEASE:
        return leaseInterfaces(def, this.network);
      case DomainInterfaceAddressesSource.AGENT:
        throw agentError(def);
      case DomainInterfaceAddressesSource.ARP:
        return arpInterfaces(def);
      default:
        throw VirError.report(ErrorDomain.QEMU, ErrorNumber.ARGUMENT_UNSUPPORTED, `Unknown IP address data source ${source}`);
    }
  }

  // Host.

  /** virConnectGetCPUModelNames (./cpu-models.ts). */
  async connectGetCPUModelNames(arch: string, flags: number): Promise<string[]> {
    this.records.check(flags, 0, 'ConnectGetCPUModelNames');
    return qemuCpuModelNames(arch);
  }

  protected async running(dom: DomainRef): Promise<RunningGuest> {
    const rec = this.records.resolve(dom);
    checkActive({ active: isActive(rec) });
    const { qmp, runtime } = await this.guests.monitor(rec);
    return { rec, qmp, runtime };
  }

  /**
   * virDomainGetXMLDesc. With UPDATE_CPU libvirt expands `<cpu mode='host-model'>` into the host
   * CPU model QEMU reported at probing; tsvirt probes no CPU models, so it answers what libvirt
   * answers without a host model: VIR_ERR_CONFIG_UNSUPPORTED "unknown host CPU model". Other CPU
   * modes need no update.
   */
  override async domainGetXMLDesc(dom: DomainRef, flags: number): Promise<string> {
    const xml = await super.domainGetXMLDesc(dom, flags);
    if ((flags & DomainXMLFlags.UPDATE_CPU) !== 0 && /^ {2}<cpu [^>]*\bmode='host-model'/m.test(xml)) {
      throw configUnsupported(ErrorDomain.QEMU, 'unknown host CPU model');
    }
    return xml;
  }

  // Host figures (./host-stats.ts).

  async connectGetMaxVcpus(type: string | null): Promise<number> {
    return connectMaxVcpus(type);
  }
  async nodeGetCellsFreeMemory(startCell: number, maxCells: number): Promise<number[]> {
    return nodeCellsFreeMemory(startCell, maxCells);
  }
  async nodeGetFreeMemory(): Promise<number> {
    return nodeFreeMemory();
  }
  async nodeGetCPUStats(cpuNum: number, flags: number): Promise<NodeStat[]> {
    checkFlags(flags, 0, 'virHostCPUGetStats', ErrorDomain.NONE);
    return nodeCpuStats(cpuNum);
  }
  async nodeGetMemoryStats(cellNum: number, flags: number): Promise<NodeStat[]> {
    checkFlags(flags, 0, 'virHostMemGetStats', ErrorDomain.NONE);
    return nodeMemoryStats(cellNum);
  }
  async nodeGetCPUMap(flags: number): Promise<boolean[]> {
    checkFlags(flags, 0, 'virHostCPUGetMap', ErrorDomain.NONE);
    return nodeCpuMap();
  }

  // vCPUs (./guest-resources.ts).

  async domainGetVcpusFlags(dom: DomainRef, flags: number): Promise<number> {
    return res.getVcpusFlags(this.ctx, dom, flags);
  }
  async domainGetMaxVcpus(dom: DomainRef): Promise<number> {
    return res.getVcpusFlags(this.ctx, dom, DomainVcpuFlags.LIVE | DomainVcpuFlags.MAXIMUM);
  }
  async domainSetVcpus(dom: DomainRef, nvcpus: number): Promise<void> {
    return res.setVcpusFlags(this.ctx, dom, nvcpus, DomainVcpuFlags.LIVE, 'virDomainSetVcpus');
  }
  async domainSetVcpusFlags(dom: DomainRef, nvcpus: number, flags: number): Promise<void> {
    return res.setVcpusFlags(this.ctx, dom, nvcpus, flags, 'virDomainSetVcpusFlags');
  }
  async domainGetVcpus(dom: DomainRef, maxinfo: number, maxCpus: number): Promise<VcpuInfo[]> {
    return res.getVcpus(this.ctx, dom, maxinfo, maxCpus);
  }
  async domainGetVcpuPinInfo(dom: DomainRef, ncpumaps: number, maxCpus: number, flags: number): Promise<boolean[][]> {
    return res.getVcpuPinInfo(this.ctx, dom, ncpumaps, maxCpus, flags);
  }

  // Memory.

  override async domainGetInfo(dom: DomainRef): Promise<DomainInfo> {
    return res.liveInfo(this.ctx, dom, await super.domainGetInfo(dom));
  }
  async domainSetMemory(dom: DomainRef, memory: number): Promise<void> {
    return res.setMemoryFlags(this.ctx, dom, memory, DomainMemoryModFlags.LIVE, 'virDomainSetMemory');
  }
  async domainSetMaxMemory(dom: DomainRef, memory: number): Promise<void> {
    return res.setMemoryFlags(this.ctx, dom, memory, DomainMemoryModFlags.MAXIMUM, 'virDomainSetMaxMemory');
  }
  async domainSetMemoryFlags(dom: DomainRef, memory: number, flags: number): Promise<void> {
    return res.setMemoryFlags(this.ctx, dom, memory, flags, 'virDomainSetMemoryFlags');
  }
  async domainMemoryStats(dom: DomainRef, nrStats: number, flags: number): Promise<MemoryStat[]> {
    return res.memoryStats(this.ctx, dom, nrStats, flags);
  }

  // Scheduler: libvirt's needs cgroups (see guest-resources.ts).

  async domainGetSchedulerType(dom: DomainRef): Promise<[string, number]> {
    throw res.schedulerUnavailable(this.ctx, dom);
  }
  async domainGetSchedulerParameters(dom: DomainRef, _nparams: number, flags: number | null): Promise<TypedParameter[]> {
    return res.schedulerParams(this.ctx, dom, flags, 'DomainGetSchedulerParametersFlags');
  }
  async domainSetSchedulerParameters(dom: DomainRef, params: TypedParameter[], flags: number | null): Promise<void> {
    return res.schedulerParams(this.ctx, dom, flags, 'DomainSetSchedulerParametersFlags', params);
  }

  // Guest facts.

  async domainIsUpdated(dom: DomainRef): Promise<boolean> {
    // libvirt's flag is never set by its qemu driver's calls: always false.
    this.records.resolveStatus(dom);
    return false;
  }
  async domainGetControlInfo(dom: DomainRef, flags: number): Promise<DomainControlInfo> {
    return res.controlInfo(this.ctx, dom, flags);
  }
  async domainReset(dom: DomainRef, flags: number): Promise<void> {
    return res.reset(this.ctx, dom, flags);
  }
  async domainGetHostname(dom: DomainRef, flags: number): Promise<string> {
    return res.getHostname(this.ctx, dom, flags, (def) => leaseHostname(def, this.network));
  }
  async domainGetTime(dom: DomainRef, flags: number): Promise<DomainTime> {
    return res.getTime(this.ctx, dom, flags);
  }

  /** virConnectGetDomainCapabilities: what this driver runs for the emulator, arch, machine and type (domcaps.ts). */
  async connectGetDomainCapabilities(emulatorbin: string | null, arch: string | null, machine: string | null, virttype: string | null, flags: number): Promise<string> {
    return formatDomainCapabilitiesXML(qemuDomainCapabilities(emulatorbin, arch, machine, virttype, flags, this.guests.env));
  }

  // Devices (./hotplug.ts): config edits as the metadata driver makes them, live ones over QMP.

  async domainAttachDevice(dom: DomainRef, xml: string): Promise<void> {
    return this.deviceCall(dom, 'virDomainAttachDevice', LIVE, { op: 'attach', xml });
  }
  async domainAttachDeviceFlags(dom: DomainRef, xml: string, flags: number): Promise<void> {
    this.records.check(flags, LIVE | CONFIG, 'DomainAttachDeviceFlags');
    return this.deviceCall(dom, 'virDomainAttachDeviceFlags', flags, { op: 'attach', xml });
  }
  async domainDetachDevice(dom: DomainRef, xml: string): Promise<void> {
    return this.deviceCall(dom, 'virDomainDetachDevice', LIVE, { op: 'detach', xml });
  }
  async domainDetachDeviceFlags(dom: DomainRef, xml: string, flags: number): Promise<void> {
    this.records.check(flags, LIVE | CONFIG, 'DomainDetachDeviceFlags');
    return this.deviceCall(dom, 'virDomainDetachDeviceFlags', flags, { op: 'detach', xml });
  }
  async domainUpdateDeviceFlags(dom: DomainRef, xml: string, flags: number): Promise<void> {
    this.records.check(flags, LIVE | CONFIG | FORCE, 'DomainUpdateDeviceFlags');
    return this.deviceCall(dom, 'virDomainUpdateDeviceFlags', flags & ~FORCE, { op: 'update', xml });
  }
  async domainDetachDeviceAlias(dom: DomainRef, alias: string, flags: number): Promise<void> {
    this.records.check(flags, LIVE | CONFIG, 'DomainDetachDeviceAlias');
    return this.deviceCall(dom, 'virDomainDetachDeviceAlias', flags, { op: 'alias', alias });
  }

  private deviceCall(dom: DomainRef, api: string, flags: number, call: DeviceCall): Promise<void> {
    let plan: DevicePlan | undefined;
    return this.editDefs(
      dom,
      api,
      (rec) => {
        plan = planDeviceCall(rec, flags, call);
        if (plan.defs.live !== null) refuseLive(call.op, plan);
        return plan.defs;
      },
      async (rec, defs) => {
        if (plan === undefined || defs.live === null) return;
        const { qmp } = await this.guests.monitor(rec);
        const live = defs.live;
        if (plan.added?.kind === 'disk') {
          await plugDisk(qmp, live, plan.added.disk);
          this.emitDeviceChange(dom, 19, plan.added.disk.alias);
        } else if (plan.added?.kind === 'interface') {
          await plugInterface(qmp, live, plan.added.net);
          this.emitDeviceChange(dom, 19, plan.added.net.alias);
        }
        else if (plan.updated !== undefined && plan.updated.before.kind === 'disk' && plan.updated.after.kind === 'disk') {
          const alias = plan.updated.before.disk.alias;
          if (alias === undefined) throw VirError.report(ErrorDomain.QEMU, ErrorNumber.INTERNAL_ERROR, 'the disk has no alias in the running guest');
          await changeMedia(qmp, alias, plan.updated.after.disk);
        } else if (plan.removed !== undefined && plan.removed.kind !== 'other') {
          const removed = plan.removed;
          const alias = removed.kind === 'disk' ? removed.disk.alias : removed.net.alias;
          if (alias === undefined) throw VirError.report(ErrorDomain.QEMU, ErrorNumber.INTERNAL_ERROR, 'the device has no alias in the running guest');
          const node = removed.kind === 'disk' ? await diskNode(qmp, alias) : undefined;
          const release = (): Promise<void> => (removed.kind === 'disk' ? releaseDisk(qmp, node) : releaseInterface(qmp, alias));
          const finish = (): void => this.finishUnplug(dom, alias, release);
          if (call.op === 'alias') {
            // As libvirt: the alias call sends the request and returns; the device leaves the
            // live XML when the guest lets go.
            const off = onDeleted(qmp, alias, finish);
            try {
              await requestUnplug(qmp, alias);
            } catch (e) {
              off();
              throw e;
            }
            defs.live = null;
          } else if (await unplug(qmp, alias, finish)) {
            await release();
            this.emitDeviceChange(dom, 15, alias);
          } else {
            // Still in the guest after 5 s: the live XML keeps it until QEMU reports it gone.
            defs.live = null;
          }
        }
      },
    );
  }

  /** When the guest released `alias` after the call returned: its backend goes and it leaves the live XML. */
  private finishUnplug(dom: DomainRef, alias: string, release: () => Promise<void>): void {
    // QEMU's DEVICE_DELETED: libvirt's DEVICE_REMOVED.
    this.emitDeviceChange(dom, 15, alias);
    void release()
      .then(() =>
        this.editDefs(dom, 'virDomainDetachDevice', (rec) => {
          const defs = defsOf(rec, LIVE);
          if (defs.live !== null) {
            try {
              removeAlias(defs.live, findAlias(defs.live, alias));
            } catch {
              defs.live = null;
            }
          }
          return { live: defs.live, config: null };
        }),
      )
      .catch(() => undefined);
  }

  // Jobs: a managed save or memory snapshot is tracked while it runs (virDomainGetJobInfo), and a
  // managed save can be aborted (migrate_cancel).

  override async managedSave(dom: DomainRef, flags: number, options?: JobOptions): Promise<void> {
    const rec = this.records.resolve(dom);
    const job = this.jobTracker.begin(rec.uuid, JobOperation.SAVE);
    let done = false;
    let started = false;
    job.setAbort(async () => {
      const { qmp } = await this.guests.monitor(rec);
      await calls.cancelMigration(qmp, () => done);
    });
    try {
      await super.managedSave(dom, flags, {
        onProgress: (p) => {
          started = true;
          job.onProgress(p);
          options?.onProgress?.(p);
        },
      });
      job.end('completed', true);
    } catch (err) {
      const cancelled = err instanceof VirError && err.code === ErrorNumber.OPERATION_ABORTED;
      job.end(cancelled ? 'cancelled' : 'failed', started || cancelled);
      throw err;
    } finally {
      done = true;
    }
  }

  override async snapshotCreateXML(dom: DomainRef, xml: string, flags: number, options?: JobOptions): Promise<string> {
    const rec = this.records.resolve(dom);
    const job = this.jobTracker.begin(rec.uuid, JobOperation.SNAPSHOT);
    let started = false;
    try {
      const name = await super.snapshotCreateXML(dom, xml, flags, {
        onProgress: (p) => {
          started = true;
          job.onProgress(p);
          options?.onProgress?.(p);
        },
      });
      job.end('completed', started);
      return name;
    } catch (err) {
      job.end('failed', started);
      throw err;
    }
  }

  // Statistics, tuning, jobs and migration speed (./stats-calls.ts).

  async domainBlockStats(dom: DomainRef, path: string): Promise<BlockStats> {
    return calls.blockStats(this.statsHost, dom, path);
  }
  async domainBlockStatsFlags(dom: DomainRef, path: string, flags: number): Promise<TypedParameter[]> {
    return calls.blockStatsFlags(this.statsHost, dom, path, flags);
  }
  async domainInterfaceStats(dom: DomainRef, device: string): Promise<InterfaceStats> {
    return calls.interfaceStats(this.statsHost, dom, device);
  }
  async domainGetBlockInfo(dom: DomainRef, path: string, flags: number): Promise<BlockInfo> {
    return calls.blockInfo(this.statsHost, dom, path, flags);
  }

  // Raw access (./peek.ts).

  private get peekHost(): PeekHost {
    return { records: this.records, running: (dom) => this.running(dom) };
  }
  async domainBlockResize(dom: DomainRef, disk: string, size: number, flags: number): Promise<void> {
    return blockResize(this.peekHost, dom, disk, size, flags);
  }
  async domainBlockPeek(dom: DomainRef, disk: string, offset: number, size: number, flags: number): Promise<Buffer> {
    return blockPeek(this.peekHost, dom, disk, offset, size, flags);
  }
  async domainMemoryPeek(dom: DomainRef, start: number, size: number, flags: number): Promise<Buffer> {
    return memoryPeek(this.peekHost, dom, start, size, flags);
  }
  async domainGetMemoryParameters(dom: DomainRef, flags: number): Promise<TypedParameter[]> {
    return calls.getMemoryParameters(this.statsHost, dom, flags);
  }
  async domainSetMemoryParameters(dom: DomainRef, params: TypedParameter[], flags: number): Promise<void> {
    return calls.setMemoryParameters(this.statsHost, dom, params, flags);
  }
  async domainGetBlkioParameters(dom: DomainRef, flags: number): Promise<TypedParameter[]> {
    return calls.getBlkioParameters(this.statsHost, dom, flags);
  }
  async domainSetBlkioParameters(dom: DomainRef, params: TypedParameter[], flags: number): Promise<void> {
    return calls.setBlkioParameters(this.statsHost, dom, params, flags);
  }
  async domainGetNumaParameters(dom: DomainRef, flags: number): Promise<TypedParameter[]> {
    return calls.getNumaParameters(this.statsHost, dom, flags);
  }
  async domainSetNumaParameters(dom: DomainRef, params: TypedParameter[], flags: number): Promise<void> {
    return calls.setNumaParameters(this.statsHost, dom, params, flags);
  }
  async domainGetInterfaceParameters(dom: DomainRef, device: string, flags: number): Promise<TypedParameter[]> {
    return calls.getInterfaceParameters(this.statsHost, dom, device, flags);
  }
  async domainSetInterfaceParameters(dom: DomainRef, device: string, params: TypedParameter[], flags: number): Promise<void> {
    return calls.setInterfaceParameters(this.statsHost, dom, device, params, flags);
  }
  async domainGetCPUStats(dom: DomainRef, startCpu: number, ncpus: number, flags: number): Promise<CpuStats> {
    return calls.cpuStats(this.statsHost, dom, startCpu, ncpus, flags);
  }
  async connectGetAllDomainStats(doms: DomainRef[], stats: number, flags: number): Promise<DomainStatsRecord[]> {
    return calls.allDomainStats(this.statsHost, doms, stats, flags);
  }
  async domainGetJobInfo(dom: DomainRef): Promise<JobInfo> {
    return calls.jobInfo(this.statsHost, dom);
  }
  async domainGetJobStats(dom: DomainRef, flags: number): Promise<JobStats> {
    return calls.jobStats(this.statsHost, dom, flags);
  }
  async domainAbortJob(dom: DomainRef): Promise<void> {
    return calls.abortJob(this.statsHost, dom);
  }
  async domainMigrateGetMaxSpeed(dom: DomainRef, flags: number): Promise<number> {
    return calls.migrateGetMaxSpeed(this.statsHost, dom, flags);
  }
  async domainMigrateSetMaxSpeed(dom: DomainRef, bandwidth: number, flags: number): Promise<void> {
    return calls.migrateSetMaxSpeed(this.statsHost, dom, bandwidth, flags);
  }

  // Migration, libvirt's version 3 with parameters (./migration.ts).

  /** virDomainMigrateBegin3Params (source): the XML to send and a cookie. */
  async domainMigrateBegin3Params(dom: DomainRef, params: TypedParameter[], flags: number): Promise<MigrationBegin> {
    return this.migrations.begin(dom, params, flags);
  }
  /** virDomainMigratePrepare3Params (destination): an incoming QEMU, paused, and the URI to send to. */
  async domainMigratePrepare3Params(params: TypedParameter[], cookieIn: Buffer, flags: number): Promise<MigrationPrepare> {
    return this.migrations.prepare(params, cookieIn, flags);
  }
  /**
   * virDomainMigratePerform3Params (source): sends the guest to `migrate_uri`. `dconnuri` (peer to
   * peer) is the API layer's: the driver only sends.
   */
  async domainMigratePerform3Params(dom: DomainRef, _dconnuri: string | null, params: TypedParameter[], cookieIn: Buffer, flags: number, options?: JobOptions): Promise<Buffer> {
    return this.migrations.perform(dom, params, cookieIn, flags, options);
  }
  /** virDomainMigrateFinish3Params (destination): the arrived guest runs, or (cancelled) is discarded. */
  async domainMigrateFinish3Params(params: TypedParameter[], cookieIn: Buffer, flags: number, cancelled: boolean): Promise<MigrationFinish> {
    return this.migrations.finish(params, cookieIn, flags, cancelled);
  }
  /** virDomainMigrateConfirm3Params (source): the source's guest stops, or (cancelled) runs on. */
  async domainMigrateConfirm3Params(dom: DomainRef, params: TypedParameter[], cookieIn: Buffer, flags: number, cancelled: boolean): Promise<void> {
    return this.migrations.confirm(dom, params, cookieIn, flags, cancelled);
  }
  /** The figures of the domain's last completed outgoing migration in this process (benchmarks). */
  lastMigrationFigures(uuid: string): { totalMs: number; downtimeMs: number; transferred: number } | undefined {
    return this.migrations.lastFigures.get(uuid);
  }

  /** The QEMU backend (its guests' processes and timings), for tests and benchmarks. */
  get qemu(): QemuGuests {
    return this.guests;
  }

  /** Closes; migrations in progress release their jobs first (./migration.ts). */
  override async close(): Promise<void> {
    await this.migrations.close();
    await super.close();
  }

  /** Reconciles at open; then an incoming migration whose daemon died is discarded (./migration.ts). */
  override async reconcile(): Promise<void> {
    await super.reconcile();
    await this.migrations.reconcile();
  }

  /** virDomainOpenGraphicsFD (./graphics-fd.ts). */
  async domainOpenGraphicsFD(dom: DomainRef, idx: number, flags: number): Promise<number> {
    this.records.check(flags, DomainOpenGraphicsFlags.SKIPAUTH, 'DomainOpenGraphicsFD');
    const { rec, qmp } = await this.running(dom);
    return openGraphicsSocket(qmp, this.records.currentDef(rec), idx, flags);
  }

  /** virDomainOpenGraphics (./graphics-fd.ts). */
  async domainOpenGraphics(dom: DomainRef, idx: number, fd: number, flags: number): Promise<void> {
    this.records.check(flags, DomainOpenGraphicsFlags.SKIPAUTH, 'DomainOpenGraphics');
    const { rec, qmp } = await this.running(dom);
    await attachGraphicsClient(qmp, this.records.currentDef(rec), idx, fd, flags);
  }
}

/** libvirt's refusals of live changes QEMU cannot make. */
function refuseLive(op: DeviceCall['op'], plan: DevicePlan): void {
  const other = (d: LiveDevice | undefined): d is Extract<LiveDevice, { kind: 'other' }> => d?.kind === 'other';
  const unsupported = (what: string, name: string): VirError =>
    VirError.report(ErrorDomain.DOMAIN, ErrorNumber.OPERATION_UNSUPPORTED, `live ${what} of device '${name}' is not supported`);
  if (other(plan.added)) throw unsupported('attach', plan.added.name);
  if (other(plan.removed)) throw unsupported('detach', plan.removed.name);
  if (plan.added?.kind === 'disk') checkDiskHotplug(plan.added.disk);
  if (plan.removed?.kind === 'disk' && (plan.removed.disk.device === 'cdrom' || plan.removed.disk.device === 'floppy')) {
    throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.OPERATION_UNSUPPORTED, `disk device type '${plan.removed.disk.device}' cannot be detached`);
  }
  if (op === 'update') {
    const dev = plan.dev;
    if (dev?.kind !== 'disk') throw unsupported('update', dev?.kind === 'interface' ? 'net' : (dev?.name ?? 'device'));
    const u = plan.updated;
    if (u === undefined || u.before.kind !== 'disk' || u.after.kind !== 'disk') return;
    const b = u.before.disk;
    const a = u.after.disk;
    if (b.device !== 'cdrom' && b.device !== 'floppy' && (a.sourceFile !== b.sourceFile || a.sourceDev !== b.sourceDev)) {
      throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.OPERATION_UNSUPPORTED, "cannot modify field 'source' of the disk");
    }
  }
}
