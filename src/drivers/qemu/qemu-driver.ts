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
  DomainRef,
  DomainStatsRecord,
  InterfaceStats,
  JobInfo,
  JobOptions,
  JobStats,
  TypedParameter,
} from '../../core/driver.js';
import { ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import { JobOperation, JobTracker } from './jobinfo.js';
import * as calls from './stats-calls.js';
import type { QmpClient } from './qmp.js';
import type { QemuRuntime } from './process.js';
import type { DomainRecord } from '../../store/store.js';
import { MetadataDriver, type MetadataDriverOptions } from '../metadata/driver.js';
import { checkActive } from '../../rules/lifecycle.js';
import { isActive } from '../metadata/records.js';
import type { QemuGuests } from './backend.js';

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

  constructor(options: MetadataDriverOptions & { backend: QemuGuests }) {
    super(options);
    this.guests = options.backend;
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
  protected async running(dom: DomainRef): Promise<RunningGuest> {
    const rec = this.records.resolve(dom);
    checkActive({ active: isActive(rec) });
    const { qmp, runtime } = await this.guests.monitor(rec);
    return { rec, qmp, runtime };
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
}
