/**
 * The QEMU driver's own calls: what the metadata driver does not cover because QEMU itself must
 * answer (statistics, hotplug, vCPU and balloon changes, tuning, guest facts). Each reads or
 * changes the domain's records as the metadata driver does and asks the running guest's QEMU
 * over QMP through {@link QemuGuests.monitor}. Calls are grouped by concern in the modules beside
 * this one; this class only binds them to the driver table.
 */
import type { DomainControlInfo, DomainInfo, DomainRef, DomainTime, MemoryStat, NodeStat, TypedParameter, VcpuInfo } from '../../core/driver.js';
import { DomainMemoryModFlags, DomainVcpuFlags, DomainXMLFlags, ErrorDomain } from '../../core/enums.generated.js';
import { configUnsupported } from '../../core/errors.js';
import { checkFlags } from '../../rules/flags.js';
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

  constructor(options: MetadataDriverOptions & { backend: QemuGuests }) {
    super(options);
    this.guests = options.backend;
    this.ctx = {
      records: this.records,
      uri: this.uri,
      running: (dom) => this.running(dom),
      editDefs: (dom, api, change, act) => this.editDefs(dom, api, change, act),
      heldMonitor: (uuid) => this.guests.heldMonitor(uuid),
      jobOf: (uuid) => this.jobs.current(uuid),
    };
  }

  /**
   * The running guest `dom` names, with its monitor. VIR_ERR_NO_DOMAIN when it is gone;
   * VIR_ERR_OPERATION_INVALID "domain is not running" when it is inactive.
   */
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
    return res.getHostname(this.ctx, dom, flags);
  }
  async domainGetTime(dom: DomainRef, flags: number): Promise<DomainTime> {
    return res.getTime(this.ctx, dom, flags);
  }

  /** virConnectGetDomainCapabilities: what this driver runs for the emulator, arch, machine and type (domcaps.ts). */
  async connectGetDomainCapabilities(emulatorbin: string | null, arch: string | null, machine: string | null, virttype: string | null, flags: number): Promise<string> {
    return formatDomainCapabilitiesXML(qemuDomainCapabilities(emulatorbin, arch, machine, virttype, flags, this.guests.env));
  }
}
