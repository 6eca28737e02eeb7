/**
 * Connection: an open hypervisor connection, with python-libvirt's method names, async.
 */
import type { DomainLifecycleEvent, HypervisorDriver, JobOptions, NodeInfo, SecurityModel, TypedParameter } from '../core/driver.js';
import { Domain, absolutePath } from './domain.js';
import { exclusiveFlags } from '../rules/flags.js';
import { Network, networkCall } from './network.js';
import { Stream } from './stream.js';
import { StoragePool, StorageVol, storageDriver } from './storage.js';
import {
  ConnectListAllStoragePoolsFlags,
  DomainEventID,
  DomainSaveRestoreFlags,
  ErrorDomain,
  ErrorNumber,
  StreamFlags,
  type ConnectListAllDomainsFlags,
} from '../core/enums.generated.js';
import { VirError, noSupport } from '../core/errors.js';
import { parseUUID } from '../conf/values.js';

/** One domain's statistics, as {@link Connection.getAllDomainStats} returns them. */
export interface DomainStats {
  /** The domain (its handle as of the call). */
  domain: Domain;
  /** Its statistics, named as libvirt names them ('state.state', 'block.0.rd.bytes', …). */
  params: TypedParameter[];
}

/**
 * python-libvirt's lifecycle callback: (conn, dom, event, detail, opaque). `event` is a
 * {@link DomainEventType}, `detail` the matching detail code (e.g. {@link DomainEventStoppedDetailType}).
 * An exception it throws is ignored: it never fails the call that caused the event.
 */
export type DomainEventLifecycleCallback<T = unknown> = (
  conn: Connection,
  dom: Domain,
  event: number,
  detail: number,
  opaque: T,
) => void;

/**
 * python-libvirt's device callback (DEVICE_ADDED, DEVICE_REMOVED, DEVICE_REMOVAL_FAILED):
 * (conn, dom, devAlias, opaque).
 */
export type DomainEventDeviceCallback<T = unknown> = (conn: Connection, dom: Domain, devAlias: string, opaque: T) => void;

/**
 * python-libvirt's METADATA_CHANGE callback: (conn, dom, type, nsuri, opaque); `type` a
 * {@link DomainMetadataType}, `nsuri` the element's namespace (null for title and description).
 */
export type DomainEventMetadataChangeCallback<T = unknown> = (conn: Connection, dom: Domain, type: number, nsuri: string | null, opaque: T) => void;

/** The event IDs of {@link DomainEventDeviceCallback}. */
const DEVICE_EVENT_IDS: readonly number[] = [DomainEventID.DEVICE_ADDED, DomainEventID.DEVICE_REMOVED, DomainEventID.DEVICE_REMOVAL_FAILED];

/** One lifecycle event, as the async iterator yields it. */
export interface DomainEvent {
  /** A handle on the domain the event is about (its name, UUID and ID as of the event). */
  domain: Domain;
  /** A {@link DomainEventType}. */
  event: number;
  /** The detail code for `event` (DomainEventStartedDetailType, …). */
  detail: number;
}

/** Options of {@link Connection.events}. */
export interface DomainEventsOptions {
  /** Only events of this domain (matched by UUID). */
  domain?: Domain;
  /** Stops the iteration when aborted. */
  signal?: AbortSignal;
}

interface Registration {
  domainUUID: string | null;
  unsubscribe: () => void;
}

/**
 * An open connection (libvirt's virConnectPtr), with python-libvirt's method names, async.
 * Get one from {@link connect}; close it with {@link Connection.close}.
 *
 * Besides the codes each method lists, every method that reaches the driver raises
 * VIR_ERR_INVALID_CONN once the connection is closed, and passes on the driver's own errors
 * unchanged (through a daemon, the daemon's, code for code). On a read-only connection the calls
 * that would change something raise VIR_ERR_OPERATION_DENIED before they reach the driver.
 * Queries say "Effects: none": they change nothing, whether they succeed or fail.
 */
export class Connection {
  private drv: HypervisorDriver | null;
  private readonly readonly: boolean;
  private readonly registrations = new Map<number, Registration>();
  /** Streams bound to a driver's channel and not yet finished or aborted (aborted by close). */
  private readonly openStreams = new Set<Stream>();
  /** Open event iterators, ended when the connection closes. */
  private readonly iterators = new Set<() => void>();
  private nextCallbackID = 1;

  /** Gives a pooled driver back instead of closing it (connect() with a pool). */
  private readonly release: (() => Promise<void>) | undefined;

  /** @internal Use {@link connect}. */
  constructor(driver: HypervisorDriver, options: { readonly: boolean; release?: () => Promise<void> }) {
    this.drv = driver;
    this.readonly = options.readonly;
    this.release = options.release;
  }

  /** @internal The driver, or VIR_ERR_INVALID_CONN once closed. */
  driverFor(api: string): HypervisorDriver {
    if (this.drv === null) {
      throw VirError.report(ErrorDomain.NONE, ErrorNumber.INVALID_CONN, api);
    }
    return this.drv;
  }

  /**
   * @internal The driver for a mutating call, or VIR_ERR_OPERATION_DENIED when read-only, from
   * the error domain of the API's module as in libvirt (VIR_FROM_DOMAIN, or
   * VIR_FROM_DOMAIN_SNAPSHOT for snapshot calls).
   */
  writableDriver(api: string, domain: ErrorDomain = ErrorDomain.DOMAIN): HypervisorDriver {
    const drv = this.driverFor(api);
    if (this.readonly) {
      throw VirError.report(domain, ErrorNumber.OPERATION_DENIED, `read only access prevents ${api}`);
    }
    return drv;
  }

  /**
   * True when the connection was opened read-only ({@link ConnectOptions.readonly}). Never
   * fails, also after close.
   */
  isReadOnly(): boolean {
    return this.readonly;
  }
  /**
   * The canonical URI of the connection (virConnectGetURI).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   */
  getURI(): string {
    return this.driverFor('virConnectGetURI').uri;
  }
  /**
   * The hypervisor type name (virConnectGetType): 'TEST', 'QEMU', 'ESX', 'VBOX'; through a
   * daemon, the daemon driver's.
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   */
  getType(): string {
    return this.driverFor('virConnectGetType').type;
  }
  /**
   * The host's name (virConnectGetHostname).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   */
  async getHostname(): Promise<string> {
    return this.driverFor('virConnectGetHostname').getHostname();
  }
  /**
   * The hypervisor's version (virConnectGetVersion), libvirt-encoded: major * 1,000,000 +
   * minor * 1,000 + release. The test driver reports 2; qemu asks `qemu-system-x86_64
   * --version` on first use.
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_INTERNAL_ERROR (qemu) when the QEMU binary cannot be run or
   * its version not read.
   */
  async getVersion(): Promise<number> {
    return this.driverFor('virConnectGetVersion').getVersion();
  }
  /**
   * The library's version (virConnectGetLibVersion), libvirt-encoded: tsvirt reports the libvirt
   * release it follows, 9.0.0. Never fails; asks no driver.
   */
  getLibVersion(): number {
    return 9_000_000;
  }
  /**
   * The capabilities XML (virConnectGetCapabilities; libvirt's format, valid against
   * capability.rng): the host (CPU, NUMA topology) and the guests the driver runs (os type,
   * arch, emulator, domain types).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver cannot describe its host.
   */
  async getCapabilities(): Promise<string> {
    const drv = this.driverFor('virConnectGetCapabilities');
    if (drv.connectGetCapabilities === undefined) throw noSupport(ErrorDomain.NONE, 'virConnectGetCapabilities');
    return drv.connectGetCapabilities();
  }
  /**
   * The domain capabilities XML (virConnectGetDomainCapabilities; libvirt's format, valid against
   * domaincaps.rng): for one emulator, architecture, machine type and domain type, what the
   * driver runs — the maximum vCPUs, the OS loader, CPU modes, device kinds and their enums,
   * features. Each of the four may be null: the driver picks its default (the architecture's
   * emulator, the host's architecture, the emulator's default machine, kvm when usable).
   *
   * Prerequisites: the connection is open and not read-only (libvirt refuses the call there); `flags` is 0.
   * Effects: none (the driver may run the emulator to ask it its machine types).
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag, an unknown domain type or architecture, an
   *   emulator that does not serve the architecture, a machine type it lacks, an accelerator the host lacks.
   * @throws {@link VirError} VIR_ERR_CONFIG_UNSUPPORTED when no emulator serves the architecture.
   * @throws {@link VirError} VIR_ERR_SYSTEM_ERROR when the emulator is missing or not executable.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it (libvirt's test driver does).
   */
  async getDomainCapabilities(
    emulatorbin: string | null = null,
    arch: string | null = null,
    machine: string | null = null,
    virttype: string | null = null,
    flags = 0,
  ): Promise<string> {
    const drv = this.writableDriver('virConnectGetDomainCapabilities');
    if (drv.connectGetDomainCapabilities === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virConnectGetDomainCapabilities');
    return drv.connectGetDomainCapabilities(emulatorbin, arch, machine, virttype, flags);
  }
  /**
   * The host's security model and its domain of interpretation (virNodeGetSecurityModel; python's
   * `getSecurityModel()` gives the same two as a list): the driver's capabilities' first
   * `<secmodel>`; empty strings for a driver without a security driver (libvirt's ESX and
   * VirtualBox drivers answer so too).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   */
  async getSecurityModel(): Promise<SecurityModel> {
    const drv = this.driverFor('virNodeGetSecurityModel');
    if (drv.nodeGetSecurityModel === undefined) return { model: '', doi: '' };
    return drv.nodeGetSecurityModel();
  }
  /**
   * The host's node information (virNodeGetInfo) as a record, memory in KiB.
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async getNodeInfo(): Promise<NodeInfo> {
    const drv = this.driverFor('virNodeGetInfo');
    if (drv.nodeGetInfo === undefined) throw noSupport(ErrorDomain.NONE, 'virNodeGetInfo');
    return drv.nodeGetInfo();
  }
  /**
   * python-libvirt's `getInfo()`: virNodeGetInfo as a list, `[model, memory in MiB, cpus, mhz,
   * nodes, sockets, cores, threads]`.
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async getInfo(): Promise<[model: string, memoryMiB: number, cpus: number, mhz: number, nodes: number, sockets: number, cores: number, threads: number]> {
    const i = await this.getNodeInfo();
    return [i.model, Math.floor(i.memory / 1024), i.cpus, i.mhz, i.nodes, i.sockets, i.cores, i.threads];
  }
  /**
   * The most vCPUs a guest may have (virConnectGetMaxVcpus); `type` names a guest type ('kvm',
   * 'qemu'; null: the driver's default). The test driver answers 32 for any type.
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async getMaxVcpus(type: string | null = null): Promise<number> {
    const drv = this.driverFor('virConnectGetMaxVcpus');
    if (drv.connectGetMaxVcpus === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virConnectGetMaxVcpus');
    return drv.connectGetMaxVcpus(type);
  }
  /**
   * Restores a domain from a file {@link Domain.saveFlags} wrote (virDomainRestore): same as
   * {@link Connection.restoreFlags} with no XML and flags 0.
   *
   * Prerequisites, effects and errors: as {@link Connection.restoreFlags}.
   */
  async restore(from: string, options?: JobOptions): Promise<void> {
    const drv = this.writableDriver('virDomainRestore');
    if (drv.domainRestore === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virDomainRestore');
    await drv.domainRestore(absolutePath(from), null, null, options);
  }
  /**
   * Restores a domain from a save file (virDomainRestoreFlags): the domain of the file's XML
   * (`dxml` replaces it: qemu only, same name and UUID) runs again from the saved memory. A
   * domain defined under that name and UUID takes it as its live definition; otherwise the
   * domain comes back transient. Flags (qemu): {@link DomainSaveRestoreFlags} BYPASS_CACHE,
   * RUNNING, PAUSED (override what the file says); the test driver takes none and always runs.
   * The file stays.
   *
   * Prerequisites: a writable connection; `from` is a save file of this driver; no domain of
   * that name or UUID runs.
   *
   * Effects on success: the guest runs (or is paused), state RUNNING/RESTORED, event
   * STARTED/RESTORED. Effects on failure: nothing runs; nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_SYSTEM_ERROR when the file cannot be read.
   * @throws {@link VirError} VIR_ERR_INTERNAL_ERROR "mismatched header magic" (test) or
   * VIR_ERR_OPERATION_FAILED "image magic is incorrect" (qemu) for a file that is not a save image.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "domain 'X' is already active".
   * @throws {@link VirError} VIR_ERR_OPERATION_FAILED when another domain holds the name or UUID.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for RUNNING with PAUSED or flags the driver
   * does not support; VIR_ERR_ARGUMENT_UNSUPPORTED for `dxml` on the test driver.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async restoreFlags(from: string, dxml: string | null = null, flags = 0, options?: JobOptions): Promise<void> {
    const drv = this.writableDriver('virDomainRestoreFlags');
    exclusiveFlags(flags, DomainSaveRestoreFlags.RUNNING, 'VIR_DOMAIN_SAVE_RUNNING', DomainSaveRestoreFlags.PAUSED, 'VIR_DOMAIN_SAVE_PAUSED', ErrorDomain.DOMAIN);
    if (drv.domainRestore === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virDomainRestoreFlags');
    await drv.domainRestore(absolutePath(from), dxml, flags, options);
  }
  /**
   * The domain XML a save file holds (virDomainSaveImageGetXMLDesc). Flags:
   * VIR_DOMAIN_SAVE_IMAGE_XML_SECURE (1: passwords included).
   *
   * Prerequisites: a writable connection (libvirt 9.0 refuses a read-only one: the file is read
   * with the daemon's rights); `file` is a save file of this driver. Effects: none.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_SYSTEM_ERROR when the file cannot be read;
   * VIR_ERR_INTERNAL_ERROR / VIR_ERR_OPERATION_FAILED for a file that is not a save image.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for flags the driver does not support.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async saveImageGetXMLDesc(file: string, flags = 0): Promise<string> {
    const drv = this.writableDriver('virDomainSaveImageGetXMLDesc');
    if (drv.domainSaveImageGetXMLDesc === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virDomainSaveImageGetXMLDesc');
    return drv.domainSaveImageGetXMLDesc(absolutePath(file), flags);
  }
  /**
   * Replaces the domain XML a save file holds (virDomainSaveImageDefineXML); a later restore
   * uses it. qemu takes only XML of the same domain (name, UUID); flags RUNNING or PAUSED also
   * change how a restore leaves the vCPUs.
   *
   * Prerequisites: a writable connection; `file` is a save file of this driver.
   *
   * Effects on success: the file's header is replaced (a copy renamed into place). Effects on
   * failure: the file is unchanged.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_SYSTEM_ERROR when the file cannot be read or written;
   * VIR_ERR_INTERNAL_ERROR / VIR_ERR_OPERATION_FAILED for a file that is not a save image.
   * @throws {@link VirError} VIR_ERR_XML_ERROR / VIR_ERR_XML_DETAIL for XML that does not parse;
   * VIR_ERR_CONFIG_UNSUPPORTED (qemu) for XML of another domain.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for RUNNING with PAUSED or flags the driver
   * does not support.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async saveImageDefineXML(file: string, dxml: string, flags = 0): Promise<void> {
    const drv = this.writableDriver('virDomainSaveImageDefineXML');
    exclusiveFlags(flags, DomainSaveRestoreFlags.RUNNING, 'VIR_DOMAIN_SAVE_RUNNING', DomainSaveRestoreFlags.PAUSED, 'VIR_DOMAIN_SAVE_PAUSED', ErrorDomain.DOMAIN);
    if (drv.domainSaveImageDefineXML === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virDomainSaveImageDefineXML');
    await drv.domainSaveImageDefineXML(absolutePath(file), dxml, flags);
  }
  /**
   * The CPU model names known for architecture `arch` (virConnectGetCPUModelNames), e.g.
   * 'x86_64'. The test driver answers libvirt's CPU map; qemu the models its emulator lists
   * (`qemu-system-x86_64 -cpu help`); an architecture with a CPU driver but no models answers [].
   *
   * Prerequisites: the connection is open; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG "cannot find architecture X", or any flag.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for an architecture no CPU driver serves, or
   * when the driver lacks the call.
   */
  async getCPUModelNames(arch: string, flags = 0): Promise<string[]> {
    const drv = this.driverFor('virConnectGetCPUModelNames');
    if (drv.connectGetCPUModelNames === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virConnectGetCPUModelNames');
    return drv.connectGetCPUModelNames(arch, flags);
  }
  /**
   * Free memory of NUMA cells (virNodeGetCellsFreeMemory), in bytes, from cell `startCell`, at
   * most `maxCells` of them.
   *
   * Prerequisites: the connection is open; `startCell` ≥ 0 and below the number of cells;
   * `maxCells` > 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a negative `startCell`, `maxCells` ≤ 0, or
   * "Range exceeds available cells".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async getCellsFreeMemory(startCell: number, maxCells: number): Promise<number[]> {
    const drv = this.driverFor('virNodeGetCellsFreeMemory');
    if (maxCells <= 0) throw VirError.invalidArg(ErrorDomain.DOMAIN, 'maxCells in virNodeGetCellsFreeMemory must be greater than zero');
    if (startCell < 0) throw VirError.invalidArg(ErrorDomain.DOMAIN, 'startCell in virNodeGetCellsFreeMemory must be zero or greater');
    if (drv.nodeGetCellsFreeMemory === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virNodeGetCellsFreeMemory');
    return drv.nodeGetCellsFreeMemory(startCell, maxCells);
  }
  /**
   * The host's free memory in bytes (virNodeGetFreeMemory).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async getFreeMemory(): Promise<number> {
    const drv = this.driverFor('virNodeGetFreeMemory');
    if (drv.nodeGetFreeMemory === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virNodeGetFreeMemory');
    return drv.nodeGetFreeMemory();
  }
  /**
   * Statistics of every domain passing the list flags (virConnectGetAllDomainStats), one record
   * per domain: the groups `stats` names ({@link DomainStatsTypes} STATE, CPU_TOTAL, BALLOON,
   * VCPU, INTERFACE, BLOCK; 0: every group the driver has) as typed parameters named as
   * libvirt's ('state.state', 'cpu.time', 'block.0.rd.bytes', …). Flags:
   * {@link ConnectGetAllDomainStatsFlags} (ACTIVE, INACTIVE, PERSISTENT, TRANSIENT, RUNNING,
   * PAUSED, SHUTOFF, OTHER filters; NOWAIT, BACKING, ENFORCE_STATS). libvirt's test driver has
   * only the state group.
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_ARGUMENT_UNSUPPORTED with ENFORCE_STATS for a group the
   * driver lacks ("Stats types bits 0x… are not supported by this daemon").
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for unknown flags.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async getAllDomainStats(stats = 0, flags = 0): Promise<DomainStats[]> {
    const drv = this.driverFor('virConnectGetAllDomainStats');
    if (drv.connectGetAllDomainStats === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virConnectGetAllDomainStats');
    const records = await drv.connectGetAllDomainStats([], stats, flags);
    return records.map((r) => ({ domain: new Domain(this, r.dom), params: r.params }));
  }
  /**
   * Statistics of the given domains (virDomainListGetStats): as
   * {@link Connection.getAllDomainStats}, for these domains only (those gone since their lookup,
   * and those the list flags filter out, are left out).
   *
   * Prerequisites: `doms` is not empty and its domains belong to this connection. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for an empty list or a domain of another
   * connection; the errors of {@link Connection.getAllDomainStats}.
   */
  async domainListGetStats(doms: Domain[], stats = 0, flags = 0): Promise<DomainStats[]> {
    const drv = this.driverFor('virDomainListGetStats');
    if (!Array.isArray(doms) || doms.length === 0) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, 'doms array in virDomainListGetStats must contain at least one domain');
    }
    if (doms.some((d) => d.connection !== this)) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, 'domains in virDomainListGetStats must be from the same connection');
    }
    if (drv.connectGetAllDomainStats === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virDomainListGetStats');
    const records = await drv.connectGetAllDomainStats(
      doms.map((d) => d.ref),
      stats,
      flags,
    );
    return records.map((r) => ({ domain: new Domain(this, r.dom), params: r.params }));
  }
  /**
   * Host CPU times in nanoseconds by field ('user', 'kernel', 'idle', 'iowait'), of CPU `cpuNum`
   * or, with -1 (VIR_NODE_CPU_STATS_ALL_CPUS), of all (virNodeGetCPUStats); python-libvirt's
   * `getCPUStats` returns the same dictionary.
   *
   * Prerequisites: the connection is open; `cpuNum` ≥ -1; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for another negative `cpuNum`, or any flag.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async getCPUStats(cpuNum: number, flags = 0): Promise<Record<string, number>> {
    const drv = this.driverFor('virNodeGetCPUStats');
    if (cpuNum < -1) throw VirError.invalidArg(ErrorDomain.DOMAIN, 'cpuNum in virNodeGetCPUStats only accepts -1 as a negative value');
    if (drv.nodeGetCPUStats === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virNodeGetCPUStats');
    return Object.fromEntries((await drv.nodeGetCPUStats(cpuNum, flags)).map((s) => [s.field, s.value]));
  }
  /**
   * Host memory figures in KiB by field ('total', 'free', 'buffers', 'cached'), of NUMA cell
   * `cellNum` or, with -1, of the host (virNodeGetMemoryStats). libvirt's test driver lacks it.
   *
   * Prerequisites: the connection is open; `cellNum` ≥ -1; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for another negative `cellNum`, or any flag.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it (the test driver).
   */
  async getMemoryStats(cellNum: number, flags = 0): Promise<Record<string, number>> {
    const drv = this.driverFor('virNodeGetMemoryStats');
    if (cellNum < -1) throw VirError.invalidArg(ErrorDomain.DOMAIN, 'cellNum in virNodeGetMemoryStats only accepts -1 as a negative value');
    if (drv.nodeGetMemoryStats === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virNodeGetMemoryStats');
    return Object.fromEntries((await drv.nodeGetMemoryStats(cellNum, flags)).map((s) => [s.field, s.value]));
  }
  /**
   * The host's CPUs (virNodeGetCPUMap), as python-libvirt's `getCPUMap()`: [number of CPUs,
   * which are online, how many are online].
   *
   * Prerequisites: the connection is open; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   */
  async getCPUMap(flags = 0): Promise<[cpus: number, online: boolean[], onlineCount: number]> {
    const drv = this.driverFor('virNodeGetCPUMap');
    if (drv.nodeGetCPUMap === undefined) throw noSupport(ErrorDomain.DOMAIN, 'virNodeGetCPUMap');
    const map = await drv.nodeGetCPUMap(flags);
    return [map.length, map, map.filter((b) => b).length];
  }
  /**
   * The host's SMBIOS information as libvirt's `<sysinfo>` XML (virConnectGetSysinfo).
   *
   * Prerequisites: the connection is open; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag (unknown flags are refused).
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver lacks it.
   * @throws {@link VirError} VIR_ERR_CONFIG_UNSUPPORTED when the host firmware gives none.
   */
  async getSysinfo(flags = 0): Promise<string> {
    const drv = this.driverFor('virConnectGetSysinfo');
    if (drv.connectGetSysinfo === undefined) throw noSupport(ErrorDomain.NONE, 'virConnectGetSysinfo');
    return drv.connectGetSysinfo(flags);
  }
  /**
   * True while the connection is open and its driver answers (virConnectIsAlive): false once
   * closed, or when a daemon's connection was lost. Effects: none. Never fails.
   */
  async isAlive(): Promise<boolean> {
    return this.drv !== null && (await this.drv.isAlive());
  }
  /**
   * Closes the connection (virConnectClose).
   *
   * Prerequisites: none; closing a closed connection does nothing.
   *
   * Effects on success: its event callbacks are deregistered, its event iterators end, its
   * streams still open are aborted (consoles detached; guests run on), the driver is closed (store, monitor or daemon connections released; guests keep running) —
   * or, for a driver shared through a driver pool (connect()'s `pool`), released, and closed
   * with the last connection using it;
   * every later call on it, its domains and snapshots raises VIR_ERR_INVALID_CONN.
   *
   * Effects on failure: the connection is closed all the same; the driver's error is passed on.
   * @throws {@link VirError} the driver's error when releasing what it holds fails.
   */
  async close(): Promise<void> {
    const drv = this.drv;
    if (drv === null) return;
    for (const reg of this.registrations.values()) reg.unsubscribe();
    this.registrations.clear();
    this.drv = null;
    for (const finish of [...this.iterators]) finish();
    const streams = [...this.openStreams];
    this.openStreams.clear();
    await Promise.all(streams.map((st) => st.abort()));
    await (this.release !== undefined ? this.release() : drv.close());
  }

  /** @internal A stream of this connection was bound to a driver's channel (close aborts it). */
  streamOpened(stream: Stream): void {
    this.openStreams.add(stream);
  }
  /** @internal A stream of this connection was finished or aborted. */
  streamClosed(stream: Stream): void {
    this.openStreams.delete(stream);
  }

  /**
   * A new, unused stream (virStreamNew) for {@link Domain.openConsole} or
   * {@link Domain.screenshot}. Flags: {@link StreamFlags} NONBLOCK (see {@link Stream.recv}).
   *
   * Prerequisites: the connection is open. Effects: none until the stream is used.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a bit outside StreamFlags.
   */
  newStream(flags: StreamFlags | number = 0): Stream {
    this.driverFor('virStreamNew');
    if (!Number.isInteger(flags) || (flags & ~StreamFlags.NONBLOCK) !== 0) {
      throw VirError.invalidArg(ErrorDomain.STREAMS, `unsupported flags (0x${(flags >>> 0).toString(16)}) in function virStreamNew`);
    }
    return new Stream(this, flags);
  }

  /**
   * Handles on the domains passing libvirt's filter flags (virConnectListAllDomains). The flags
   * of {@link ConnectListAllDomainsFlags} come in groups (ACTIVE/INACTIVE, PERSISTENT/TRANSIENT,
   * the states, MANAGEDSAVE/NO_MANAGEDSAVE, AUTOSTART/NO_AUTOSTART, HAS_SNAPSHOT/NO_SNAPSHOT,
   * HAS_CHECKPOINT/NO_CHECKPOINT): a group with no bit set matches every domain, otherwise a
   * domain must match one of its set bits; 0 lists all.
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a bit outside ConnectListAllDomainsFlags
   * (every call checks its flags before anything else).
   */
  async listAllDomains(flags: ConnectListAllDomainsFlags | number = 0): Promise<Domain[]> {
    const refs = await this.driverFor('virConnectListAllDomains').listAllDomains(flags);
    return refs.map((r) => new Domain(this, r));
  }
  /**
   * The number of active (running or paused) domains (virConnectNumOfDomains).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   */
  async numOfDomains(): Promise<number> {
    return this.driverFor('virConnectNumOfDomains').numOfDomains();
  }
  /**
   * The number of inactive (defined, shut off) domains (virConnectNumOfDefinedDomains).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   */
  async numOfDefinedDomains(): Promise<number> {
    return this.driverFor('virConnectNumOfDefinedDomains').numOfDefinedDomains();
  }
  /**
   * IDs of the active domains in ascending order (python-libvirt's listDomainsID,
   * virConnectListDomains).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   */
  async listDomainsID(): Promise<number[]> {
    const refs = await this.driverFor('virConnectListDomains').listAllDomains(1);
    return refs.map((r) => r.id).sort((a, b) => a - b);
  }
  /**
   * Names of the inactive domains (python-libvirt's listDefinedDomains,
   * virConnectListDefinedDomains).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   */
  async listDefinedDomains(): Promise<string[]> {
    const refs = await this.driverFor('virConnectListDefinedDomains').listAllDomains(2);
    return refs.map((r) => r.name);
  }
  /**
   * A handle on the domain with this name (virDomainLookupByName).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN when no domain has this name.
   */
  async lookupByName(name: string): Promise<Domain> {
    return new Domain(this, await this.driverFor('virDomainLookupByName').lookupByName(name));
  }
  /**
   * A handle on the domain with this UUID (virDomainLookupByUUIDString); hex digits in any case,
   * dashes optional, as libvirt parses it.
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG when `uuid` is not a valid UUID.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN when no domain has this UUID.
   */
  async lookupByUUIDString(uuid: string): Promise<Domain> {
    const drv = this.driverFor('virDomainLookupByUUIDString');
    const canonical = typeof uuid === 'string' ? parseUUID(uuid) : undefined;
    if (canonical === undefined) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, 'uuidstr in virDomainLookupByUUIDString must be a valid UUID');
    }
    return new Domain(this, await drv.lookupByUUID(canonical));
  }
  /**
   * A handle on the active domain with this runtime ID (virDomainLookupByID).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN when no active domain has this ID (inactive
   * domains have none).
   */
  async lookupByID(id: number): Promise<Domain> {
    return new Domain(this, await this.driverFor('virDomainLookupByID').lookupByID(id));
  }
  /**
   * Defines (or redefines) a persistent domain from domain XML (virDomainDefineXML): same as
   * {@link Connection.defineXMLFlags} with flags 0.
   */
  async defineXML(xml: string): Promise<Domain> {
    return this.defineXMLFlags(xml, 0);
  }
  /**
   * Defines (or redefines) a persistent domain from domain XML (virDomainDefineXMLFlags).
   * Flags: {@link DomainDefineFlags} VALIDATE (test, qemu).
   *
   * Prerequisites: a writable connection; no other domain has the XML's name or UUID (the same
   * name with the same UUID redefines that domain); the driver can run the definition (type
   * `test` on test://; on qemu://, type `qemu` or `kvm` with devices tsvirt's qemu driver
   * supports). ESX and VirtualBox do not define domains.
   *
   * Effects on success: a new domain is stored persistent and inactive (event DEFINED/ADDED); an
   * existing one gets the new configuration and becomes persistent if it was transient (event
   * DEFINED/UPDATED); a running one keeps its live definition until it next starts.
   *
   * Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG when `xml` is not a string, or for flags the
   * driver does not support (checked before anything changes).
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_XML_ERROR or VIR_ERR_XML_DETAIL for XML that does not parse
   * or an invalid name; VIR_ERR_CONFIG_UNSUPPORTED for a definition the driver cannot run
   * (qemu: virt type, devices).
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a domain type other than `test` on test://,
   * and on ESX and VirtualBox.
   * @throws {@link VirError} VIR_ERR_OPERATION_FAILED when the name or the UUID belongs to
   * another domain.
   * @throws {@link VirError} VIR_ERR_OPERATION_TIMEOUT (qemu) when a job (start, save, snapshot…)
   * is running on the domain being redefined.
   */
  async defineXMLFlags(xml: string, flags: number): Promise<Domain> {
    checkString(xml, 'xml', 'virDomainDefineXMLFlags');
    return new Domain(this, await this.writableDriver('virDomainDefineXMLFlags').defineXML(xml, flags));
  }
  /**
   * Creates and starts a transient domain from domain XML (virDomainCreateXML). Flags:
   * {@link DomainCreateFlags} START_PAUSED, START_VALIDATE (test, qemu).
   *
   * Prerequisites: a writable connection; no domain has the XML's name with another UUID, or
   * its UUID with another name; the domain with both, if any, is inactive and has no managed
   * save image (it is then started with this definition and stays persistent). ESX and
   * VirtualBox have no transient domains.
   *
   * Effects on success: the guest runs (paused with START_PAUSED); events STARTED/BOOTED, then
   * SUSPENDED/PAUSED when paused (qemu: RESUMED/UNPAUSED when not). When a transient domain
   * later stops, it vanishes with its snapshot metadata.
   *
   * Effects on failure: nothing changes; a qemu guest that started but could not be recorded is
   * stopped again.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG when `xml` is not a string, or for flags the
   * driver does not support (checked before anything changes).
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_XML_ERROR or VIR_ERR_XML_DETAIL for XML that does not parse;
   * VIR_ERR_CONFIG_UNSUPPORTED for a definition the driver cannot run (qemu: virt type, devices).
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a domain type other than `test` on test://,
   * and on ESX and VirtualBox.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID when the domain is already active, or is
   * defined with a managed save image (start it to resume, or remove the image).
   * @throws {@link VirError} VIR_ERR_OPERATION_FAILED when the name or the UUID belongs to
   * another domain.
   * @throws {@link VirError} the hypervisor's error (qemu) when the guest cannot be started.
   */
  async createXML(xml: string, flags = 0): Promise<Domain> {
    checkString(xml, 'xml', 'virDomainCreateXML');
    return new Domain(this, await this.writableDriver('virDomainCreateXML').createXML(xml, flags));
  }

  // Virtual networks (libvirt-network.c): on drivers with a network driver (test, qemu, remote).

  /**
   * Handles on the networks (virConnectListAllNetworks), filtered by {@link ConnectListAllNetworksFlags}
   * in groups (ACTIVE/INACTIVE, PERSISTENT/TRANSIENT, AUTOSTART/NO_AUTOSTART): a group with no
   * bit set matches every network; 0 lists all.
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for unknown flags.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver has no networks (esx, vbox).
   */
  async listAllNetworks(flags = 0): Promise<Network[]> {
    const refs = await networkCall(this, 'virConnectListAllNetworks', false).listAllNetworks(flags);
    return refs.map((r) => new Network(this, r));
  }
  /**
   * Names of the active networks (virConnectListNetworks).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver has no networks.
   */
  async listNetworks(): Promise<string[]> {
    return (await networkCall(this, 'virConnectListNetworks', false).listAllNetworks(2)).map((r) => r.name);
  }
  /**
   * Names of the inactive networks (virConnectListDefinedNetworks).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver has no networks.
   */
  async listDefinedNetworks(): Promise<string[]> {
    return (await networkCall(this, 'virConnectListDefinedNetworks', false).listAllNetworks(1)).map((r) => r.name);
  }
  /**
   * The number of active networks (virConnectNumOfNetworks).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver has no networks.
   */
  async numOfNetworks(): Promise<number> {
    return networkCall(this, 'virConnectNumOfNetworks', false).numOfNetworks();
  }
  /**
   * The number of inactive networks (virConnectNumOfDefinedNetworks).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver has no networks.
   */
  async numOfDefinedNetworks(): Promise<number> {
    return networkCall(this, 'virConnectNumOfDefinedNetworks', false).numOfDefinedNetworks();
  }
  /**
   * A handle on the network with this name (virNetworkLookupByName).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_NETWORK "no network with matching name 'X'".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT when the driver has no networks.
   */
  async networkLookupByName(name: string): Promise<Network> {
    checkString(name, 'name', 'virNetworkLookupByName', ErrorDomain.NETWORK);
    return new Network(this, await networkCall(this, 'virNetworkLookupByName', false).networkLookupByName(name));
  }
  /**
   * A handle on the network with this UUID (virNetworkLookupByUUIDString).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG when `uuid` is not a UUID.
   * @throws {@link VirError} VIR_ERR_NO_NETWORK "no network with matching uuid 'X'".
   */
  async networkLookupByUUIDString(uuid: string): Promise<Network> {
    const drv = networkCall(this, 'virNetworkLookupByUUIDString', false);
    const canonical = typeof uuid === 'string' ? parseUUID(uuid) : undefined;
    if (canonical === undefined) {
      throw VirError.invalidArg(ErrorDomain.NETWORK, 'uuidstr in virNetworkLookupByUUIDString must be a valid UUID');
    }
    return new Network(this, await drv.networkLookupByUUID(canonical));
  }
  /**
   * Defines (or redefines) a persistent network from network XML (virNetworkDefineXML): same as
   * {@link Connection.networkDefineXMLFlags} with flags 0.
   */
  async networkDefineXML(xml: string): Promise<Network> {
    return this.networkDefineXMLFlags(xml, 0);
  }
  /**
   * Defines (or redefines) a persistent network (virNetworkDefineXMLFlags). Flags:
   * {@link NetworkDefineFlags} VALIDATE. On qemu, a definition without a bridge name gets the
   * first free `virbrN`, and one without a MAC a generated `52:54:00:…`, as libvirt does.
   *
   * Prerequisites: a writable connection; no other network has the XML's name or UUID, nor (qemu)
   * its bridge name.
   *
   * Effects on success: the definition is stored; a running network keeps its live definition
   * until restarted. Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_XML_ERROR / VIR_ERR_XML_DETAIL / VIR_ERR_NO_NAME for XML that
   * does not parse or lacks a name; VIR_ERR_CONFIG_UNSUPPORTED for a forward mode or DHCP range
   * the driver refuses.
   * @throws {@link VirError} VIR_ERR_OPERATION_FAILED when the name or the UUID belongs to another
   * network.
   * @throws {@link VirError} VIR_ERR_INTERNAL_ERROR "bridge name 'X' already in use." (qemu).
   */
  async networkDefineXMLFlags(xml: string, flags: number): Promise<Network> {
    checkString(xml, 'xml', 'virNetworkDefineXMLFlags', ErrorDomain.NETWORK);
    return new Network(this, await networkCall(this, 'virNetworkDefineXMLFlags', true).networkDefineXML(xml, flags));
  }
  /**
   * Creates and starts a transient network (virNetworkCreateXML): same as
   * {@link Connection.networkCreateXMLFlags} with flags 0.
   */
  async networkCreateXML(xml: string): Promise<Network> {
    return this.networkCreateXMLFlags(xml, 0);
  }
  /**
   * Creates and starts a transient network (virNetworkCreateXMLFlags); it vanishes when
   * destroyed. Flags: {@link NetworkCreateFlags} VALIDATE.
   *
   * Prerequisites: a writable connection; no network has the XML's name or UUID; those of
   * {@link Network.create}.
   *
   * Effects on success: the network runs. Effects on failure: nothing is recorded and nothing of
   * it is left on the host.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_FAILED when the name or UUID is taken;
   * VIR_ERR_OPERATION_INVALID when that network is running.
   * @throws {@link VirError} the XML errors of {@link Connection.networkDefineXMLFlags} and the
   * start errors of {@link Network.create}.
   */
  async networkCreateXMLFlags(xml: string, flags: number): Promise<Network> {
    checkString(xml, 'xml', 'virNetworkCreateXMLFlags', ErrorDomain.NETWORK);
    return new Network(this, await networkCall(this, 'virNetworkCreateXMLFlags', true).networkCreateXML(xml, flags));
  }

  /**
   * Registers an event callback (virConnectDomainEventRegisterAny), for one domain or for all
   * (`dom` null): LIFECYCLE with a {@link DomainEventLifecycleCallback}; DEVICE_ADDED,
   * DEVICE_REMOVED and DEVICE_REMOVAL_FAILED with a {@link DomainEventDeviceCallback};
   * METADATA_CHANGE with a {@link DomainEventMetadataChangeCallback}. Returns the callback ID
   * for {@link Connection.domainEventDeregisterAny}. Allowed on read-only connections.
   *
   * Prerequisites: the connection is open; `eventID` is one of those {@link DomainEventID}s.
   *
   * Effects on success: `cb` is called for every such event until the callback is deregistered
   * or the connection closes: lifecycle events (DEFINED, UNDEFINED, STARTED, SUSPENDED, RESUMED,
   * STOPPED, SHUTDOWN with libvirt's detail codes) once the change is committed, including
   * changes other processes make to a durable store; device events when a running guest gains
   * or loses a device (QEMU: when the guest has let go of it); METADATA_CHANGE after each
   * setMetadata. A driver without device events never calls a device or metadata callback.
   *
   * Effects on failure: nothing is registered.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any other event ID.
   */
  domainEventRegisterAny<T>(dom: Domain | null, eventID: typeof DomainEventID.LIFECYCLE, cb: DomainEventLifecycleCallback<T>, opaque?: T): number;
  domainEventRegisterAny<T>(
    dom: Domain | null,
    eventID: typeof DomainEventID.DEVICE_ADDED | typeof DomainEventID.DEVICE_REMOVED | typeof DomainEventID.DEVICE_REMOVAL_FAILED,
    cb: DomainEventDeviceCallback<T>,
    opaque?: T,
  ): number;
  domainEventRegisterAny<T>(dom: Domain | null, eventID: typeof DomainEventID.METADATA_CHANGE, cb: DomainEventMetadataChangeCallback<T>, opaque?: T): number;
  domainEventRegisterAny<T>(
    dom: Domain | null,
    eventID: DomainEventID,
    cb: DomainEventLifecycleCallback<T> | DomainEventDeviceCallback<T> | DomainEventMetadataChangeCallback<T>,
    opaque?: T,
  ): number;
  domainEventRegisterAny<T>(
    dom: Domain | null,
    eventID: DomainEventID,
    cb: DomainEventLifecycleCallback<T> | DomainEventDeviceCallback<T> | DomainEventMetadataChangeCallback<T>,
    opaque?: T,
  ): number {
    const drv = this.driverFor('virConnectDomainEventRegisterAny');
    const domainUUID = dom?.UUIDString() ?? null;
    let unsubscribe: () => void;
    if (eventID === DomainEventID.LIFECYCLE) {
      const lifecycle = cb as DomainEventLifecycleCallback<T>;
      unsubscribe = drv.subscribe((ev) => {
        if (domainUUID !== null && ev.domain.uuid !== domainUUID) return;
        lifecycle(this, new Domain(this, ev.domain), ev.event, ev.detail, opaque as T);
      });
    } else if (DEVICE_EVENT_IDS.includes(eventID) || eventID === DomainEventID.METADATA_CHANGE) {
      unsubscribe =
        drv.subscribeDeviceEvents?.((ev) => {
          if (ev.eventID !== eventID || (domainUUID !== null && ev.domain.uuid !== domainUUID)) return;
          const d = new Domain(this, ev.domain);
          if (ev.eventID === 23) (cb as DomainEventMetadataChangeCallback<T>)(this, d, ev.type, ev.nsuri, opaque as T);
          else (cb as DomainEventDeviceCallback<T>)(this, d, ev.devAlias, opaque as T);
        }) ?? (() => undefined);
    } else {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, `unsupported event ID ${eventID}`);
    }
    const id = this.nextCallbackID++;
    this.registrations.set(id, { domainUUID, unsubscribe });
    return id;
  }

  /**
   * Removes a callback registered with {@link Connection.domainEventRegisterAny}
   * (virConnectDomainEventDeregisterAny).
   *
   * Prerequisites: `callbackID` is registered on this connection.
   *
   * Effects on success: the callback is called no more. Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG when no callback has this ID (also after close,
   * which removed them all).
   */
  domainEventDeregisterAny(callbackID: number): void {
    const reg = this.registrations.get(callbackID);
    if (reg === undefined) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, `could not find event callback ${callbackID} for deletion`);
    }
    reg.unsubscribe();
    this.registrations.delete(callbackID);
  }

  /**
   * Lifecycle events as an async iterator (tsvirt's addition; built on
   * {@link Connection.domainEventRegisterAny}); events arriving between reads are queued.
   *
   * Prerequisites: the connection is open.
   *
   * Effects on success: a lifecycle registration that lasts until the loop breaks, the signal
   * aborts or the connection closes; then the iteration ends and the registration is removed.
   *
   * Effects on failure: nothing is registered.
   * @throws {@link VirError} VIR_ERR_INVALID_CONN when the connection is closed (at the call,
   * not at the first read).
   *
   * @example
   * for await (const ev of conn.events({ signal })) console.log(ev.domain.name(), ev.event, ev.detail);
   */
  events(options: DomainEventsOptions = {}): AsyncIterableIterator<DomainEvent> {
    const queue: DomainEvent[] = [];
    let wake: (() => void) | null = null;
    let done = false;
    const callbackID = this.domainEventRegisterAny(options.domain ?? null, DomainEventID.LIFECYCLE, (_c, dom, event, detail) => {
      queue.push({ domain: dom, event, detail });
      wake?.();
    });
    const finish = () => {
      if (done) return;
      done = true;
      this.iterators.delete(finish);
      if (this.registrations.has(callbackID)) this.domainEventDeregisterAny(callbackID);
      wake?.();
    };
    this.iterators.add(finish);
    options.signal?.addEventListener('abort', finish, { once: true });
    const iterator: AsyncIterableIterator<DomainEvent> = {
      next: async (): Promise<IteratorResult<DomainEvent>> => {
        for (;;) {
          const ev = queue.shift();
          if (ev !== undefined) return { value: ev, done: false };
          if (done || this.drv === null) return { value: undefined, done: true };
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
      },
      return: async (): Promise<IteratorResult<DomainEvent>> => {
        finish();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  // Storage pools and volumes (libvirt's storage driver of the connection).

  /**
   * Handles on the storage pools (virConnectListAllStoragePools), in name order; filtered by
   * {@link ConnectListAllStoragePoolsFlags} (ACTIVE/INACTIVE, PERSISTENT/TRANSIENT,
   * AUTOSTART/NO_AUTOSTART, pool types).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a driver without storage (ESX, VirtualBox).
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for an unknown flag.
   */
  async listAllStoragePools(flags = 0): Promise<StoragePool[]> {
    const refs = await storageDriver(this, 'virConnectListAllStoragePools', false).listAllStoragePools(flags);
    return refs.map((r) => new StoragePool(this, r));
  }
  /**
   * The names of the active pools (virConnectListStoragePools).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a driver without storage.
   */
  async listStoragePools(): Promise<string[]> {
    return (await this.listAllStoragePools(ConnectListAllStoragePoolsFlags.ACTIVE)).map((p) => p.name());
  }
  /**
   * The names of the inactive pools (virConnectListDefinedStoragePools).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a driver without storage.
   */
  async listDefinedStoragePools(): Promise<string[]> {
    return (await this.listAllStoragePools(ConnectListAllStoragePoolsFlags.INACTIVE)).map((p) => p.name());
  }
  /**
   * The number of active pools (virConnectNumOfStoragePools).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a driver without storage.
   */
  async numOfStoragePools(): Promise<number> {
    return storageDriver(this, 'virConnectNumOfStoragePools', false).numOfStoragePools();
  }
  /**
   * The number of inactive pools (virConnectNumOfDefinedStoragePools).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a driver without storage.
   */
  async numOfDefinedStoragePools(): Promise<number> {
    return storageDriver(this, 'virConnectNumOfDefinedStoragePools', false).numOfDefinedStoragePools();
  }
  /**
   * A handle on the pool named `name` (virStoragePoolLookupByName).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_STORAGE_POOL "no storage pool with matching name 'NAME'".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a driver without storage.
   */
  async storagePoolLookupByName(name: string): Promise<StoragePool> {
    checkString(name, 'name', 'virStoragePoolLookupByName');
    return new StoragePool(this, await storageDriver(this, 'virStoragePoolLookupByName', false).storagePoolLookupByName(name));
  }
  /**
   * A handle on the pool with UUID `uuid` (virStoragePoolLookupByUUIDString), in any of the
   * forms libvirt reads.
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a string that is not a UUID.
   * @throws {@link VirError} VIR_ERR_NO_STORAGE_POOL when no pool has it.
   */
  async storagePoolLookupByUUIDString(uuid: string): Promise<StoragePool> {
    const canonical = typeof uuid === 'string' ? parseUUID(uuid) : undefined;
    if (canonical === undefined) throw VirError.invalidArg(ErrorDomain.STORAGE, `invalid argument: uuidstr in virStoragePoolLookupByUUIDString must be a valid UUID`);
    return new StoragePool(this, await storageDriver(this, 'virStoragePoolLookupByUUID', false).storagePoolLookupByUUID(canonical));
  }
  /**
   * A handle on the pool whose target path is `path` (virStoragePoolLookupByTargetPath).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_STORAGE_POOL when no pool has it.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a driver without it (the test driver, as libvirt's).
   */
  async storagePoolLookupByTargetPath(path: string): Promise<StoragePool> {
    const drv = storageDriver(this, 'virStoragePoolLookupByTargetPath', false);
    if (drv.storagePoolLookupByTargetPath === undefined) throw noSupport(ErrorDomain.STORAGE, 'virStoragePoolLookupByTargetPath');
    return new StoragePool(this, await drv.storagePoolLookupByTargetPath(path));
  }
  /**
   * Defines a persistent pool from pool XML (virStoragePoolDefineXML), inactive; redefining an
   * existing pool (same name and UUID) replaces its definition.
   *
   * Prerequisites: a writable connection; the name, UUID and target path are not another pool's.
   * Effects on success: the pool is stored. Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_XML_ERROR for XML without name or target path.
   * @throws {@link VirError} VIR_ERR_OPERATION_FAILED "pool 'NAME' already exists with uuid U", or
   * "Storage source conflict with pool: 'NAME'" for a path another pool has.
   */
  async storagePoolDefineXML(xml: string, flags = 0): Promise<StoragePool> {
    checkString(xml, 'xml', 'virStoragePoolDefineXML');
    return new StoragePool(this, await storageDriver(this, 'virStoragePoolDefineXML', true).storagePoolDefineXML(xml, flags));
  }
  /**
   * Creates and starts a transient pool (virStoragePoolCreateXML); it goes when destroyed.
   *
   * Prerequisites: as {@link Connection.storagePoolDefineXML}, and a directory pool's path is a
   * directory. Effects on success: the pool runs. Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_SYSTEM_ERROR when the directory cannot be read.
   * @throws {@link VirError} VIR_ERR_OPERATION_FAILED for a name or path in use.
   */
  async storagePoolCreateXML(xml: string, flags = 0): Promise<StoragePool> {
    checkString(xml, 'xml', 'virStoragePoolCreateXML');
    return new StoragePool(this, await storageDriver(this, 'virStoragePoolCreateXML', true).storagePoolCreateXML(xml, flags));
  }
  /**
   * A handle on the volume whose path is `path` (virStorageVolLookupByPath), in any active pool.
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_STORAGE_VOL "no storage vol with matching path 'PATH'".
   */
  async storageVolLookupByPath(path: string): Promise<StorageVol> {
    checkString(path, 'path', 'virStorageVolLookupByPath');
    return new StorageVol(this, await storageDriver(this, 'virStorageVolLookupByPath', false).storageVolLookupByPath(path));
  }
  /**
   * A handle on the volume whose key is `key` (virStorageVolLookupByKey).
   *
   * Prerequisites: the connection is open. Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_STORAGE_VOL "no storage vol with matching key 'KEY'".
   */
  async storageVolLookupByKey(key: string): Promise<StorageVol> {
    checkString(key, 'key', 'virStorageVolLookupByKey');
    return new StorageVol(this, await storageDriver(this, 'virStorageVolLookupByKey', false).storageVolLookupByKey(key));
  }
}

function checkString(value: unknown, name: string, api: string, domain: ErrorDomain = ErrorDomain.DOMAIN): void {
  if (typeof value !== 'string') {
    throw VirError.invalidArg(domain, `${name} in ${api} must not be NULL`);
  }
}

/** @internal The event of a driver, re-exported for drivers. */
export type { DomainLifecycleEvent };
