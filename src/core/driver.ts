/**
 * The driver table: what a hypervisor driver supplies to the public API, like libvirt's
 * virHypervisorDriver. The API layer checks arguments and flag combinations, then calls exactly
 * one of these; a driver checks its own supported flags (R7) and does the work. The remote
 * driver is just another implementation of this interface.
 */
import type { Duplex } from 'node:stream';
import type { DomainEventType, DomainState } from './enums.generated.js';
import type { ConnectAuthCallback } from './auth.js';
import type { NetworkDriver } from './network-driver.js';
import type { StorageDriver } from './storage-driver.js';

/** virSecurityModel: what virNodeGetSecurityModel reports. */
export interface SecurityModel {
  /** The security driver's name ('none', 'selinux', 'apparmor'); empty without one. */
  model: string;
  /** Its domain of interpretation ('0' for 'none'); empty without a driver. */
  doi: string;
}

/** virSecurityLabel: what virDomainGetSecurityLabel reports. */
export interface SecurityLabel {
  /** The guest process's label; empty without a security driver. */
  label: string;
  /** Whether the label is enforced. */
  enforcing: boolean;
}

/** virNodeInfo: what virNodeGetInfo reports. Memory in KiB, frequency in MHz. */
export interface NodeInfo {
  /** The CPU architecture ('x86_64', 'i686'), at most 31 bytes on the wire. */
  model: string;
  /** Memory size in KiB. */
  memory: number;
  /** Number of active CPUs. */
  cpus: number;
  /** Expected CPU frequency in MHz (0 when unknown). */
  mhz: number;
  /** Number of NUMA cells (1 for uniform memory access). */
  nodes: number;
  /** CPU sockets per NUMA cell. */
  sockets: number;
  /** Cores per socket. */
  cores: number;
  /** Threads per core. */
  threads: number;
}

/** What a Domain handle carries: identity as of lookup, like libvirt's virDomainPtr. */
export interface DomainRef {
  /** The domain's name. */
  readonly name: string;
  /** The domain's UUID, canonical (lower-case, dashed); drivers resolve the domain by it. */
  readonly uuid: string;
  /** Runtime ID, or -1 when the domain was inactive at lookup. */
  readonly id: number;
}

/** libvirt's virDomainInfo. Memory in KiB, CPU time in nanoseconds. */
export interface DomainInfo {
  /** The domain's state. */
  state: DomainState;
  /** Maximum memory allowed, KiB. */
  maxMem: number;
  /** Memory in use (the balloon's current size), KiB. */
  memory: number;
  /** Number of virtual CPUs. */
  nrVirtCpu: number;
  /** CPU time used, nanoseconds (0 while inactive). */
  cpuTime: number;
}

/** A lifecycle event as a driver reports it (VIR_DOMAIN_EVENT_ID_LIFECYCLE). */
export interface DomainLifecycleEvent {
  /** The domain the event is about, as of the event. */
  domain: DomainRef;
  /** What happened (DEFINED, STARTED, STOPPED, …). */
  event: DomainEventType;
  /** The detail code; its meaning depends on `event` (libvirt's virDomainEvent*DetailType). */
  detail: number;
}

/** Listener for driver events. */
export type DriverEventListener = (event: DomainLifecycleEvent) => void;

/**
 * A device or metadata event as a driver reports it: VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED (15),
 * DEVICE_ADDED (19) and DEVICE_REMOVAL_FAILED (22) with the device's alias, METADATA_CHANGE (23)
 * with the metadata type and, for an element, its namespace URI.
 */
export type DomainDeviceEvent = DeviceChangeEvent | MetadataChangeEvent;

/** DEVICE_REMOVED (15), DEVICE_ADDED (19) or DEVICE_REMOVAL_FAILED (22). */
export interface DeviceChangeEvent {
  /** The VIR_DOMAIN_EVENT_ID_* of the event. */
  eventID: 15 | 19 | 22;
  /** The domain the event is about. */
  domain: DomainRef;
  /** The device's alias (its QEMU id). */
  devAlias: string;
}

/** METADATA_CHANGE (23). */
export interface MetadataChangeEvent {
  /** VIR_DOMAIN_EVENT_ID_METADATA_CHANGE. */
  eventID: 23;
  /** The domain the event is about. */
  domain: DomainRef;
  /** The DomainMetadataType changed. */
  type: number;
  /** The element's namespace URI (ELEMENT), else null. */
  nsuri: string | null;
}

/** Progress of a long job (managed save, memory snapshot), for callers that show it. */
export interface JobProgress {
  /** Bytes done. */
  processed: number;
  /** Bytes in all; 0 when unknown. */
  total: number;
}

/** Options a caller may attach to a long operation. */
export interface JobOptions {
  /** Called as the job advances; an instant driver calls it once, complete. */
  onProgress?: (progress: JobProgress) => void;
}

/** What a migration's Begin step answers: the domain's XML for the destination and a cookie. */
export interface MigrationBegin {
  /** The domain XML the destination is to start. */
  xml: string;
  /** Opaque bytes for the destination's Prepare. */
  cookieOut: Buffer;
}

/** What a migration's Prepare step answers: a cookie, and the URI the source is to send to (null: the one asked). */
export interface MigrationPrepare {
  /** Opaque bytes for the source's Perform. */
  cookieOut: Buffer;
  /** The URI the source's hypervisor sends to; null: the one the caller gave. */
  uriOut: string | null;
}

/** What a migration's Finish step answers: the domain on the destination (null when cancelled) and a cookie. */
export interface MigrationFinish {
  /** The domain that arrived, or null when it was discarded. */
  dom: DomainRef | null;
  /** Opaque bytes for the source's Confirm. */
  cookieOut: Buffer;
}

/**
 * The hypervisor driver interface. Every method is async; errors are VirError.
 * Snapshots are addressed by (domain, name); domains by their ref (the driver resolves by UUID).
 *
 * The public API ({@link Connection}, {@link Domain}, {@link DomainSnapshot}) has already
 * checked the connection, read-only access, argument types and the flag combinations libvirt's
 * entry points refuse; each method here checks the flags its driver supports first (an unknown
 * bit fails with VIR_ERR_INVALID_ARG before anything changes), then does the work. The
 * contract of each method (effects, errors) is that of the public method named beside it.
 */
export interface HypervisorDriver {
  /** The URI this driver was opened with, canonical form. */
  readonly uri: string;
  /** libvirt's hypervisor type name: 'Test', 'QEMU', 'ESX', 'VBOX'. */
  readonly type: string;
  /**
   * Storage pools and volumes (libvirt's storage driver of the connection); absent for a driver
   * without them: the storage calls answer VIR_ERR_NO_SUPPORT.
   */
  readonly storage?: StorageDriver;

  /**
   * Releases what the driver holds (store, monitor or daemon connections); guests keep running.
   * Called once, by {@link Connection.close}.
   */
  close(): Promise<void>;
  /**
   * Resolves once every change made so far through this driver is durable. Only a driver whose
   * store groups commits (tsvirtd's shared test:///session) has anything to wait for; without
   * it every change is durable when its call returns.
   */
  durable?(): Promise<void>;
  /** virConnectGetHostname: {@link Connection.getHostname}. */
  getHostname(): Promise<string>;
  /** Hypervisor version as libvirt encodes it: major * 1,000,000 + minor * 1,000 + release. */
  getVersion(): Promise<number>;
  /** virConnectIsAlive: false once closed or when the hypervisor's connection was lost. */
  isAlive(): Promise<boolean>;

  /** virConnectListAllDomains: {@link Connection.listAllDomains}. */
  listAllDomains(flags: number): Promise<DomainRef[]>;
  /** virConnectNumOfDomains: {@link Connection.numOfDomains}. */
  numOfDomains(): Promise<number>;
  /** virConnectNumOfDefinedDomains: {@link Connection.numOfDefinedDomains}. */
  numOfDefinedDomains(): Promise<number>;
  /** virDomainLookupByName: VIR_ERR_NO_DOMAIN when absent. */
  lookupByName(name: string): Promise<DomainRef>;
  /** virDomainLookupByUUID, `uuid` canonical: VIR_ERR_NO_DOMAIN when absent. */
  lookupByUUID(uuid: string): Promise<DomainRef>;
  /** virDomainLookupByID: VIR_ERR_NO_DOMAIN when no active domain has the ID. */
  lookupByID(id: number): Promise<DomainRef>;
  /** virDomainDefineXMLFlags: {@link Connection.defineXMLFlags}. */
  defineXML(xml: string, flags: number): Promise<DomainRef>;
  /** virDomainCreateXML: {@link Connection.createXML}. */
  createXML(xml: string, flags: number): Promise<DomainRef>;

  /** virDomainCreateWithFlags: {@link Domain.createWithFlags}; returns the ref with its new ID. */
  domainCreate(dom: DomainRef, flags: number, options?: JobOptions): Promise<DomainRef>;
  /** virDomainShutdownFlags: {@link Domain.shutdownFlags}. */
  domainShutdown(dom: DomainRef, flags: number): Promise<void>;
  /** virDomainDestroyFlags: {@link Domain.destroyFlags}. */
  domainDestroy(dom: DomainRef, flags: number): Promise<void>;
  /** virDomainReboot: {@link Domain.reboot}. */
  domainReboot(dom: DomainRef, flags: number): Promise<void>;
  /** virDomainSuspend: {@link Domain.suspend}. */
  domainSuspend(dom: DomainRef): Promise<void>;
  /** virDomainResume: {@link Domain.resume}. */
  domainResume(dom: DomainRef): Promise<void>;
  /** virDomainUndefineFlags: {@link Domain.undefineFlags}. */
  domainUndefine(dom: DomainRef, flags: number): Promise<void>;
  /** virDomainIsActive: {@link Domain.isActive}. */
  domainIsActive(dom: DomainRef): Promise<boolean>;
  /** virDomainIsPersistent: {@link Domain.isPersistent}. */
  domainIsPersistent(dom: DomainRef): Promise<boolean>;
  /** virDomainGetState: {@link Domain.state}. */
  domainGetState(dom: DomainRef, flags: number): Promise<[state: DomainState, reason: number]>;
  /** virDomainGetInfo: {@link Domain.getInfo}. */
  domainGetInfo(dom: DomainRef): Promise<DomainInfo>;
  /** virDomainGetXMLDesc: {@link Domain.XMLDesc}. */
  domainGetXMLDesc(dom: DomainRef, flags: number): Promise<string>;
  /** virDomainGetAutostart: {@link Domain.autostart}. */
  domainGetAutostart(dom: DomainRef): Promise<boolean>;
  /** virDomainSetAutostart: {@link Domain.setAutostart}. */
  domainSetAutostart(dom: DomainRef, autostart: boolean): Promise<void>;
  /** virDomainGetID, current (not as of lookup): -1 while inactive. */
  domainGetID(dom: DomainRef): Promise<number>;

  /** virDomainManagedSave: {@link Domain.managedSave}. */
  managedSave(dom: DomainRef, flags: number, options?: JobOptions): Promise<void>;
  /** virDomainHasManagedSaveImage: {@link Domain.hasManagedSaveImage}. */
  hasManagedSaveImage(dom: DomainRef, flags: number): Promise<boolean>;
  /** virDomainManagedSaveRemove: {@link Domain.managedSaveRemove}. */
  managedSaveRemove(dom: DomainRef, flags: number): Promise<void>;

  /** virDomainSnapshotCreateXML: {@link Domain.snapshotCreateXML}; returns the snapshot's name. */
  snapshotCreateXML(dom: DomainRef, xml: string, flags: number, options?: JobOptions): Promise<string>;
  /** virDomainSnapshotNum: {@link Domain.snapshotNum}. */
  snapshotNum(dom: DomainRef, flags: number): Promise<number>;
  /** virDomainSnapshotListNames: {@link Domain.snapshotListNames}. */
  snapshotListNames(dom: DomainRef, flags: number): Promise<string[]>;
  /** virDomainListAllSnapshots: {@link Domain.listAllSnapshots}, as names. */
  listAllSnapshots(dom: DomainRef, flags: number): Promise<string[]>;
  /** virDomainSnapshotLookupByName: {@link Domain.snapshotLookupByName}; returns the name. */
  snapshotLookupByName(dom: DomainRef, name: string, flags: number): Promise<string>;
  /** virDomainSnapshotCurrent: {@link Domain.snapshotCurrent}; returns the name. */
  snapshotCurrent(dom: DomainRef, flags: number): Promise<string>;
  /** virDomainHasCurrentSnapshot: {@link Domain.hasCurrentSnapshot}. */
  hasCurrentSnapshot(dom: DomainRef, flags: number): Promise<boolean>;
  /** virDomainRevertToSnapshot: {@link DomainSnapshot.revert}. */
  revertToSnapshot(dom: DomainRef, snapshot: string, flags: number, options?: JobOptions): Promise<void>;
  /** virDomainSnapshotGetXMLDesc: {@link DomainSnapshot.getXMLDesc}. */
  snapshotGetXMLDesc(dom: DomainRef, snapshot: string, flags: number): Promise<string>;
  /** virDomainSnapshotGetParent: {@link DomainSnapshot.getParent}; returns the parent's name. */
  snapshotGetParent(dom: DomainRef, snapshot: string, flags: number): Promise<string>;
  /** virDomainSnapshotNumChildren: {@link DomainSnapshot.numChildren}. */
  snapshotNumChildren(dom: DomainRef, snapshot: string, flags: number): Promise<number>;
  /** virDomainSnapshotListAllChildren: {@link DomainSnapshot.listAllChildren}, as names. */
  snapshotListAllChildren(dom: DomainRef, snapshot: string, flags: number): Promise<string[]>;
  /** virDomainSnapshotIsCurrent: {@link DomainSnapshot.isCurrent}. */
  snapshotIsCurrent(dom: DomainRef, snapshot: string, flags: number): Promise<boolean>;
  /** virDomainSnapshotHasMetadata: {@link DomainSnapshot.hasMetadata}. */
  snapshotHasMetadata(dom: DomainRef, snapshot: string, flags: number): Promise<boolean>;
  /** virDomainSnapshotDelete: {@link DomainSnapshot.delete}. */
  snapshotDelete(dom: DomainRef, snapshot: string, flags: number): Promise<void>;

  /**
   * The driver's virtual networks (libvirt's network driver beside the hypervisor's); absent when
   * it has none (the API answers VIR_ERR_NO_SUPPORT).
   */
  readonly network?: NetworkDriver;

  /** Starts delivering lifecycle events to `listener`; returns the function that stops it. */
  subscribe(listener: DriverEventListener): () => void;
  /** Starts delivering device and metadata events to `listener`; returns the function that stops it. */
  subscribeDeviceEvents?(listener: (event: DomainDeviceEvent) => void): () => void;

  // Host calls a driver may lack: the API answers VIR_ERR_NO_SUPPORT for a missing one.

  /** virConnectGetCapabilities: the capabilities XML (src/conf/capabilities.ts). */
  connectGetCapabilities?(): Promise<string>;
  /** virConnectGetDomainCapabilities: the domain capabilities XML (src/conf/domaincaps.ts); null picks the default. */
  connectGetDomainCapabilities?(emulatorbin: string | null, arch: string | null, machine: string | null, virttype: string | null, flags: number): Promise<string>;
  /** virNodeGetInfo. */
  nodeGetInfo?(): Promise<NodeInfo>;
  /** virNodeGetSecurityModel: the host's security model and DOI (the capabilities' first `<secmodel>`). */
  nodeGetSecurityModel?(): Promise<SecurityModel>;
  /** virDomainGetSecurityLabel: the domain process's security label (remote only: local drivers have no security driver). */
  domainGetSecurityLabel?(dom: DomainRef): Promise<SecurityLabel>;
  /** virConnectGetSysinfo: the host's SMBIOS sysinfo XML. */
  connectGetSysinfo?(flags: number): Promise<string>;

  /** virNodeGetCellsFreeMemory: free memory of NUMA cells `startCell`.., at most `maxCells`, in bytes. */
  nodeGetCellsFreeMemory?(startCell: number, maxCells: number): Promise<number[]>;
  /** virNodeGetFreeMemory: the host's free memory in bytes. */
  nodeGetFreeMemory?(): Promise<number>;
  /** virNodeGetCPUStats: one CPU's (or, with -1, all CPUs') times in nanoseconds, by field name. */
  nodeGetCPUStats?(cpuNum: number, flags: number): Promise<NodeStat[]>;
  /** virNodeGetMemoryStats: one cell's (or, with -1, all) memory figures in KiB, by field name. */
  nodeGetMemoryStats?(cellNum: number, flags: number): Promise<NodeStat[]>;
  /** virNodeGetCPUMap: which host CPUs exist (index) and are online (true). */
  nodeGetCPUMap?(flags: number): Promise<boolean[]>;
  /** virConnectGetMaxVcpus: the most vCPUs a guest of `type` (null: the default) may have. */
  connectGetMaxVcpus?(type: string | null): Promise<number>;

  // Domain resources a driver may lack (VIR_ERR_NO_SUPPORT from the API without them).

  /** virDomainGetMaxVcpus: {@link Domain.maxVcpus}. */
  domainGetMaxVcpus?(dom: DomainRef): Promise<number>;
  /** virDomainGetVcpusFlags: {@link Domain.vcpusFlags}. */
  domainGetVcpusFlags?(dom: DomainRef, flags: number): Promise<number>;
  /** virDomainSetVcpus: {@link Domain.setVcpus}. */
  domainSetVcpus?(dom: DomainRef, nvcpus: number): Promise<void>;
  /** virDomainSetVcpusFlags: {@link Domain.setVcpusFlags}. */
  domainSetVcpusFlags?(dom: DomainRef, nvcpus: number, flags: number): Promise<void>;
  /** virDomainAttachDevice: {@link Domain.attachDevice}. */
  domainAttachDevice?(dom: DomainRef, xml: string): Promise<void>;
  /** virDomainAttachDeviceFlags: {@link Domain.attachDeviceFlags}. */
  domainAttachDeviceFlags?(dom: DomainRef, xml: string, flags: number): Promise<void>;
  /** virDomainDetachDevice: {@link Domain.detachDevice}. */
  domainDetachDevice?(dom: DomainRef, xml: string): Promise<void>;
  /** virDomainDetachDeviceFlags: {@link Domain.detachDeviceFlags}. */
  domainDetachDeviceFlags?(dom: DomainRef, xml: string, flags: number): Promise<void>;
  /** virDomainUpdateDeviceFlags: {@link Domain.updateDeviceFlags}. */
  domainUpdateDeviceFlags?(dom: DomainRef, xml: string, flags: number): Promise<void>;
  /** virDomainDetachDeviceAlias: {@link Domain.detachDeviceAlias}. */
  domainDetachDeviceAlias?(dom: DomainRef, alias: string, flags: number): Promise<void>;
  /** virDomainGetVcpus: {@link Domain.vcpus}; at most `maxinfo` vCPUs, each with its affinity over `maxCpus` host CPUs. */
  domainGetVcpus?(dom: DomainRef, maxinfo: number, maxCpus: number): Promise<VcpuInfo[]>;
  /** virDomainGetVcpuPinInfo: {@link Domain.vcpuPinInfo}; `ncpumaps` vCPUs at most, each over `maxCpus` host CPUs. */
  domainGetVcpuPinInfo?(dom: DomainRef, ncpumaps: number, maxCpus: number, flags: number): Promise<boolean[][]>;
  /** virDomainGetSchedulerType: the scheduler's name and how many parameters it has. */
  domainGetSchedulerType?(dom: DomainRef): Promise<[type: string, nparams: number]>;
  /** virDomainGetSchedulerParameters(Flags): `flags` null for the call without flags. */
  domainGetSchedulerParameters?(dom: DomainRef, nparams: number, flags: number | null): Promise<TypedParameter[]>;
  /** virDomainSetSchedulerParameters(Flags): `flags` null for the call without flags. */
  domainSetSchedulerParameters?(dom: DomainRef, params: TypedParameter[], flags: number | null): Promise<void>;
  /** virDomainSetMemory: {@link Domain.setMemory}. */
  domainSetMemory?(dom: DomainRef, memory: number): Promise<void>;
  /** virDomainSetMaxMemory: {@link Domain.setMaxMemory}. */
  domainSetMaxMemory?(dom: DomainRef, memory: number): Promise<void>;
  /** virDomainSetMemoryFlags: {@link Domain.setMemoryFlags}. */
  domainSetMemoryFlags?(dom: DomainRef, memory: number, flags: number): Promise<void>;
  /** virDomainMemoryStats: {@link Domain.memoryStats}, at most `nrStats` of them. */
  domainMemoryStats?(dom: DomainRef, nrStats: number, flags: number): Promise<MemoryStat[]>;
  /** virDomainIsUpdated: {@link Domain.isUpdated}. */
  domainIsUpdated?(dom: DomainRef): Promise<boolean>;
  /** virDomainGetControlInfo: {@link Domain.controlInfo}. */
  domainGetControlInfo?(dom: DomainRef, flags: number): Promise<DomainControlInfo>;
  /** virDomainReset: {@link Domain.reset}. */
  domainReset?(dom: DomainRef, flags: number): Promise<void>;
  /** virDomainGetHostname: {@link Domain.hostname}. */
  domainGetHostname?(dom: DomainRef, flags: number): Promise<string>;
  /** virDomainGetTime: {@link Domain.getTime}. */
  domainGetTime?(dom: DomainRef, flags: number): Promise<DomainTime>;
  // Statistics and tuning (a driver without one: the API answers VIR_ERR_NO_SUPPORT).

  /** virDomainBlockStats: {@link Domain.blockStats}; `path` a disk's target or source. */
  domainBlockStats?(dom: DomainRef, path: string): Promise<BlockStats>;
  /** virDomainBlockStatsFlags: {@link Domain.blockStatsFlags}, as typed parameters. */
  domainBlockStatsFlags?(dom: DomainRef, path: string, flags: number): Promise<TypedParameter[]>;
  /** virDomainInterfaceStats: {@link Domain.interfaceStats}; `device` a target dev or MAC. */
  domainInterfaceStats?(dom: DomainRef, device: string): Promise<InterfaceStats>;
  /** virDomainGetBlockInfo: {@link Domain.blockInfo}. */
  domainGetBlockInfo?(dom: DomainRef, path: string, flags: number): Promise<BlockInfo>;
  /** virDomainBlockResize: {@link Domain.blockResize}; `size` in bytes (BYTES) or KiB. */
  domainBlockResize?(dom: DomainRef, disk: string, size: number, flags: number): Promise<void>;
  /** virDomainBlockPeek: {@link Domain.blockPeek}; exactly `size` bytes or an error. */
  domainBlockPeek?(dom: DomainRef, disk: string, offset: number, size: number, flags: number): Promise<Buffer>;
  /** virDomainMemoryPeek: {@link Domain.memoryPeek}; exactly `size` bytes or an error. */
  domainMemoryPeek?(dom: DomainRef, start: number, size: number, flags: number): Promise<Buffer>;
  /** virDomainGetMemoryParameters: every parameter the driver has (the caller trims). */
  domainGetMemoryParameters?(dom: DomainRef, flags: number): Promise<TypedParameter[]>;
  /** virDomainSetMemoryParameters. */
  domainSetMemoryParameters?(dom: DomainRef, params: TypedParameter[], flags: number): Promise<void>;
  /** virDomainGetBlkioParameters: every parameter the driver has. */
  domainGetBlkioParameters?(dom: DomainRef, flags: number): Promise<TypedParameter[]>;
  /** virDomainSetBlkioParameters. */
  domainSetBlkioParameters?(dom: DomainRef, params: TypedParameter[], flags: number): Promise<void>;
  /** virDomainGetNumaParameters: every parameter the driver has. */
  domainGetNumaParameters?(dom: DomainRef, flags: number): Promise<TypedParameter[]>;
  /** virDomainSetNumaParameters. */
  domainSetNumaParameters?(dom: DomainRef, params: TypedParameter[], flags: number): Promise<void>;
  /** virDomainGetInterfaceParameters: every parameter of `device` (target dev or MAC). */
  domainGetInterfaceParameters?(dom: DomainRef, device: string, flags: number): Promise<TypedParameter[]>;
  /** virDomainSetInterfaceParameters. */
  domainSetInterfaceParameters?(dom: DomainRef, device: string, params: TypedParameter[], flags: number): Promise<void>;
  /**
   * virDomainGetCPUStats: with `startCpu` -1 the domain's totals (one list); else the lists of
   * host CPUs `startCpu`.. (at most `ncpus`, fewer past the last). `cpus`: how many host CPUs
   * there are (what the call answers for ncpus 0).
   */
  domainGetCPUStats?(dom: DomainRef, startCpu: number, ncpus: number, flags: number): Promise<CpuStats>;
  /**
   * virConnectGetAllDomainStats (`doms` empty) and virDomainListGetStats (`doms` given: those
   * still there, filtered by the list flags): one record per domain, its statistics of the groups
   * `stats` names (0: every group the driver has).
   */
  connectGetAllDomainStats?(doms: DomainRef[], stats: number, flags: number): Promise<DomainStatsRecord[]>;
  /** virDomainGetJobInfo: {@link Domain.jobInfo}. */
  domainGetJobInfo?(dom: DomainRef): Promise<JobInfo>;
  /** virDomainGetJobStats: {@link Domain.jobStats}: the job type and its figures. */
  domainGetJobStats?(dom: DomainRef, flags: number): Promise<JobStats>;
  /** virDomainAbortJob: {@link Domain.abortJob}. */
  domainAbortJob?(dom: DomainRef): Promise<void>;
  /** virDomainMigrateGetMaxSpeed: MiB/s (flag VIR_DOMAIN_MIGRATE_MAX_SPEED_POSTCOPY, 1: the post-copy phase's). */
  domainMigrateGetMaxSpeed?(dom: DomainRef, flags: number): Promise<number>;
  /** virDomainMigrateSetMaxSpeed. */
  domainMigrateSetMaxSpeed?(dom: DomainRef, bandwidth: number, flags: number): Promise<void>;
  // Migration, libvirt's version 3 with typed parameters (virDomainMigrate*3Params). `params` are
  // VIR_MIGRATE_PARAM_* (migrate_uri, destination_name, destination_xml, bandwidth, ...); cookies
  // are opaque bytes one side hands the other through the client (or, peer to peer, through the
  // source daemon). Managed direct: source Begin -> destination Prepare -> source Perform ->
  // destination Finish -> source Confirm. Peer to peer (VIR_MIGRATE_PEER2PEER): the client calls
  // only Perform on the source, with `dconnuri`; the source runs the other steps itself.
  /**
   * virConnectSupportsFeature, for a driver that answers VIR_DRV_FEATURE_* itself (the remote
   * driver asks its daemon). Absent: the API infers the migration features from the five methods
   * below (V3, PARAMS, P2P, OFFLINE, CHANGE_PROTECTION when all five are there).
   */
  connectSupportsFeature?(feature: number): Promise<boolean>;
  /**
   * True for a driver that relays to a daemon (the remote driver): a peer-to-peer Perform is the
   * daemon's to run. Absent on local drivers, whose peer-to-peer migration the API runs.
   */
  readonly remote?: boolean;
  /** virDomainMigrateBegin3Params (source): checks the domain can go; the XML to send and a cookie. */
  domainMigrateBegin3Params?(dom: DomainRef, params: TypedParameter[], flags: number): Promise<MigrationBegin>;
  /** virDomainMigratePrepare3Params (destination): makes ready to receive; its cookie and the URI the source sends to. */
  domainMigratePrepare3Params?(params: TypedParameter[], cookieIn: Buffer, flags: number): Promise<MigrationPrepare>;
  /** virDomainMigratePerform3Params (source): sends the domain (or, with P2P, runs the whole migration to `dconnuri`). */
  domainMigratePerform3Params?(dom: DomainRef, dconnuri: string | null, params: TypedParameter[], cookieIn: Buffer, flags: number, options?: JobOptions): Promise<Buffer>;
  /** virDomainMigrateFinish3Params (destination): resumes the arrived domain, or (cancelled) discards it; null when nothing arrived. */
  domainMigrateFinish3Params?(params: TypedParameter[], cookieIn: Buffer, flags: number, cancelled: boolean): Promise<MigrationFinish>;
  /** virDomainMigrateConfirm3Params (source): ends the source's copy, or (cancelled) resumes it. */
  domainMigrateConfirm3Params?(dom: DomainRef, params: TypedParameter[], cookieIn: Buffer, flags: number, cancelled: boolean): Promise<void>;

  /** virDomainSetMetadata: {@link Domain.setMetadata}. */
  domainSetMetadata?(dom: DomainRef, type: number, metadata: string | null, key: string | null, uri: string | null, flags: number): Promise<void>;
  /** virDomainGetMetadata: {@link Domain.metadata}. */
  domainGetMetadata?(dom: DomainRef, type: number, uri: string | null, flags: number): Promise<string>;
  /** virDomainRename: {@link Domain.rename}; returns the renamed domain's ref. */
  domainRename?(dom: DomainRef, newName: string, flags: number): Promise<DomainRef>;
  /**
   * virDomainPinVcpuFlags: {@link Domain.pinVcpuFlags}; `cpumap` one entry per host CPU. `flags`
   * null for virDomainPinVcpu (the call without flags: the live definition).
   */
  domainPinVcpuFlags?(dom: DomainRef, vcpu: number, cpumap: boolean[], flags: number | null): Promise<void>;
  /** virDomainPinEmulator: {@link Domain.pinEmulator}. */
  domainPinEmulator?(dom: DomainRef, cpumap: boolean[], flags: number): Promise<void>;
  /** virDomainGetEmulatorPinInfo: {@link Domain.emulatorPinInfo}, over `maxCpus` host CPUs. */
  domainGetEmulatorPinInfo?(dom: DomainRef, maxCpus: number, flags: number): Promise<boolean[]>;
  /** virDomainSaveFlags (`flags` null: virDomainSave): {@link Domain.saveFlags}; `to` absolute. */
  domainSave?(dom: DomainRef, to: string, dxml: string | null, flags: number | null, options?: JobOptions): Promise<void>;
  /** virDomainRestoreFlags (`flags` null: virDomainRestore): {@link Connection.restoreFlags}; `from` absolute. */
  domainRestore?(from: string, dxml: string | null, flags: number | null, options?: JobOptions): Promise<void>;
  /** virDomainSaveImageGetXMLDesc: {@link Connection.saveImageGetXMLDesc}. */
  domainSaveImageGetXMLDesc?(file: string, flags: number): Promise<string>;
  /** virDomainSaveImageDefineXML: {@link Connection.saveImageDefineXML}. */
  domainSaveImageDefineXML?(file: string, dxml: string, flags: number): Promise<void>;
  /** virDomainGetFSInfo: {@link Domain.fsInfo}. */
  domainGetFSInfo?(dom: DomainRef, flags: number): Promise<DomainFSInfo[]>;
  /** virDomainInterfaceAddresses: {@link Domain.interfaceAddresses}. */
  domainInterfaceAddresses?(dom: DomainRef, source: number, flags: number): Promise<DomainInterface[]>;
  /** virConnectGetCPUModelNames: {@link Connection.getCPUModelNames}. */
  connectGetCPUModelNames?(arch: string, flags: number): Promise<string[]>;
  // Checkpoints (libvirt's virDomainCheckpoint*), addressed by (domain, name) like snapshots. A
  // driver without them lacks these methods: the API answers VIR_ERR_NO_SUPPORT.

  /** virDomainCheckpointCreateXML: {@link Domain.checkpointCreateXML}; returns the checkpoint's name. */
  checkpointCreateXML?(dom: DomainRef, xml: string, flags: number): Promise<string>;
  /** virDomainListAllCheckpoints: {@link Domain.listAllCheckpoints}, as names. */
  listAllCheckpoints?(dom: DomainRef, flags: number): Promise<string[]>;
  /** virDomainCheckpointListAllChildren: {@link DomainCheckpoint.listAllChildren}, as names. */
  checkpointListAllChildren?(dom: DomainRef, checkpoint: string, flags: number): Promise<string[]>;
  /** virDomainCheckpointLookupByName: {@link Domain.checkpointLookupByName}; returns the name. */
  checkpointLookupByName?(dom: DomainRef, name: string, flags: number): Promise<string>;
  /** virDomainCheckpointGetParent: {@link DomainCheckpoint.getParent}; returns the parent's name. */
  checkpointGetParent?(dom: DomainRef, checkpoint: string, flags: number): Promise<string>;
  /** virDomainCheckpointGetXMLDesc: {@link DomainCheckpoint.getXMLDesc}. */
  checkpointGetXMLDesc?(dom: DomainRef, checkpoint: string, flags: number): Promise<string>;
  /** virDomainCheckpointDelete: {@link DomainCheckpoint.delete}. */
  checkpointDelete?(dom: DomainRef, checkpoint: string, flags: number): Promise<void>;

  // Streams: what a driver hands the API for a libvirt stream to carry (src/api/stream.ts).

  /**
   * virDomainOpenConsole: {@link Domain.openConsole}. A duplex byte channel to the guest's
   * console or serial device `devName` (null: the first console). The driver keeps at most one
   * session per device: VIR_DOMAIN_CONSOLE_FORCE ends the old one (its channel ends), otherwise
   * VIR_ERR_OPERATION_FAILED "Active console session exists for this domain". The channel ends
   * when the guest side closes (domain stopped); destroying it detaches and the guest runs on.
   */
  domainOpenConsole?(dom: DomainRef, devName: string | null, flags: number): Promise<Duplex>;
  /** virDomainScreenshot: {@link Domain.screenshot}. The screen's image and its MIME type. */
  domainScreenshot?(dom: DomainRef, screen: number, flags: number): Promise<DomainScreenshot>;

  // File descriptors (a driver that offers these supports libvirt's VIR_DRV_FEATURE_FD_PASSING).

  /**
   * virDomainOpenGraphicsFD: {@link Domain.openGraphicsFD}. A socket connected to graphics
   * device `idx` of the running guest; the caller owns the returned descriptor.
   */
  domainOpenGraphicsFD?(dom: DomainRef, idx: number, flags: number): Promise<number>;
  /**
   * virDomainOpenGraphics: {@link Domain.openGraphics}. Makes the connected socket `fd` a client
   * of graphics device `idx`; `fd` stays the caller's (the hypervisor keeps its own copy).
   */
  domainOpenGraphics?(dom: DomainRef, idx: number, fd: number, flags: number): Promise<void>;
}

/** One mounted file system of a guest (virDomainFSInfo). */
export interface DomainFSInfo {
  /** Where it is mounted in the guest ('/'). */
  mountpoint: string;
  /** The guest's device name ('vda1'). */
  name: string;
  /** Its type ('ext4'). */
  fstype: string;
  /** The domain's disks (target names) it lives on. */
  devAliases: string[];
}

/** One address of a guest interface (virDomainIPAddress). */
export interface DomainIPAddress {
  /** VIR_IP_ADDR_TYPE_IPV4 (0) or IPV6 (1). */
  type: number;
  /** The address ('192.168.122.3'). */
  addr: string;
  /** Its prefix length (24; 0 when unknown, as the ARP table). */
  prefix: number;
}

/** One guest interface with its addresses (virDomainInterface). */
export interface DomainInterface {
  /** The interface's name (host-side device, or the guest's name with the agent). */
  name: string;
  /** Its MAC address, when known. */
  hwaddr: string | null;
  /** Its addresses (none known: empty). */
  addrs: DomainIPAddress[];
}

/** An image of a guest's screen, as virDomainScreenshot delivers it. */
export interface DomainScreenshot {
  /** The image's MIME type (QEMU: 'image/x-portable-pixmap' or 'image/png'). */
  mimeType: string;
  /** The image. */
  data: Buffer;
}

/**
 * One of libvirt's typed parameters (virTypedParameter): a named value of one of six types.
 * `type` is VIR_TYPED_PARAM_*: INT 1, UINT 2, LLONG 3, ULLONG 4, DOUBLE 5, BOOLEAN 6, STRING 7.
 */
export interface TypedParameter {
  /** The parameter's name ('weight', 'cpu_shares', …). */
  field: string;
  /** Its VIR_TYPED_PARAM_* type. */
  type: number;
  /** Its value: a number for the numeric types, a boolean for BOOLEAN, a string for STRING. */
  value: number | boolean | string;
}

/** One figure of virNodeGetCPUStats / virNodeGetMemoryStats: its field name and value. */
export interface NodeStat {
  /** libvirt's field name ('user', 'kernel', 'idle', 'iowait'; 'total', 'free', …). */
  field: string;
  /** Nanoseconds (CPU) or KiB (memory). */
  value: number;
}

/** One figure of virDomainMemoryStats. */
export interface MemoryStat {
  /** A {@link DomainMemoryStatTags} value. */
  tag: number;
  /** KiB for sizes, a count for faults, seconds for LAST_UPDATE. */
  val: number;
}

/** virVcpuInfo with its CPU affinity, as virDomainGetVcpus reports one vCPU. */
export interface VcpuInfo {
  /** The vCPU's number. */
  number: number;
  /** A {@link VcpuState} value. */
  state: number;
  /** CPU time used, nanoseconds. */
  cpuTime: number;
  /** The host CPU it runs on (-1 when offline). */
  cpu: number;
  /** Host CPUs it may run on, one entry per host CPU. */
  affinity: boolean[];
}

/** virDomainControlInfo. */
export interface DomainControlInfo {
  /** A {@link DomainControlState} value. */
  state: number;
  /** Details of an ERROR state (virDomainControlErrorReason), else 0. */
  details: number;
  /** Milliseconds in that state (0 for OK). */
  stateTime: number;
}

/** What virDomainGetTime reports: the guest's clock. */
export interface DomainTime {
  /** Seconds since the epoch. */
  seconds: number;
  /** Nanoseconds beyond them. */
  nseconds: number;
}

/** What connect() passes to a driver's {@link DriverOpener.open}. */
export interface DriverOpenOptions {
  /** The connection is read-only (a remote driver asks its daemon for a read-only one). */
  readonly: boolean;
  /** Credentials for drivers that log in, as libvirt's virConnectOpenAuth. */
  auth?: ConnectAuthCallback;
  /**
   * The driver will serve several connections at once (tsvirtd's clients): it may group the
   * commits of concurrent calls, provided {@link HypervisorDriver.durable} waits for them.
   */
  shared: boolean;
}

/**
 * How connect() opens one URI scheme's driver; each driver module exports one, and the driver
 * registry (src/drivers/registry.ts) names the module for each scheme.
 */
export interface DriverOpener {
  /**
   * The canonical URI of the hypervisor `uri` names: connections opening the same canonical URI
   * may share one driver. Null when this driver does not serve `uri` (connect() then fails with
   * VIR_ERR_NO_CONNECT).
   */
  canonical(uri: URL, resolved: string): string | null;
  /**
   * Whether connections may share one open driver. False for a driver that is itself a client
   * of something stateful per connection (the remote driver's daemon connection).
   */
  readonly shareable: boolean;
  /** Opens the driver for `uri` (`resolved` as the caller spelled it). Errors: VirError. */
  open(uri: URL, resolved: string, options: DriverOpenOptions): Promise<HypervisorDriver>;
}

/** virDomainBlockStatsStruct: -1 where the hypervisor does not know the figure. */
export interface BlockStats {
  /** Read requests. */
  rdReq: number;
  /** Bytes read. */
  rdBytes: number;
  /** Write requests. */
  wrReq: number;
  /** Bytes written. */
  wrBytes: number;
  /** I/O errors (-1: unknown, as QEMU). */
  errs: number;
}

/** virDomainInterfaceStatsStruct: -1 where the hypervisor does not know the figure. */
export interface InterfaceStats {
  /** Bytes received. */
  rxBytes: number;
  /** Packets received. */
  rxPackets: number;
  /** Receive errors. */
  rxErrs: number;
  /** Received packets dropped. */
  rxDrop: number;
  /** Bytes sent. */
  txBytes: number;
  /** Packets sent. */
  txPackets: number;
  /** Send errors. */
  txErrs: number;
  /** Packets dropped on sending. */
  txDrop: number;
}

/** virDomainBlockInfo, bytes. */
export interface BlockInfo {
  /** Logical size the guest sees. */
  capacity: number;
  /** Host storage in use by the image. */
  allocation: number;
  /** Host storage the image occupies (file size, or device size). */
  physical: number;
}

/** virDomainGetCPUStats's answer (see HypervisorDriver.domainGetCPUStats). */
export interface CpuStats {
  /** Host CPUs there are. */
  cpus: number;
  /** The totals (one list) or one list per host CPU asked for, each in the same field order. */
  stats: TypedParameter[][];
}

/** One record of virConnectGetAllDomainStats. */
export interface DomainStatsRecord {
  /** The domain. */
  dom: DomainRef;
  /** Its figures, as typed parameters. */
  params: TypedParameter[];
}

/** virDomainJobInfo: times in ms, sizes in bytes. */
export interface JobInfo {
  /** A {@link DomainJobType} value. */
  type: number;
  /** Time since the job started, ms. */
  timeElapsed: number;
  /** Time left, ms (0: unknown). */
  timeRemaining: number;
  /** Bytes to process in all. */
  dataTotal: number;
  /** Bytes processed. */
  dataProcessed: number;
  /** Bytes left. */
  dataRemaining: number;
  /** Guest memory to process, bytes. */
  memTotal: number;
  /** Guest memory processed, bytes. */
  memProcessed: number;
  /** Guest memory left, bytes. */
  memRemaining: number;
  /** File (disk) bytes to process. */
  fileTotal: number;
  /** File bytes processed. */
  fileProcessed: number;
  /** File bytes left. */
  fileRemaining: number;
}

/** virDomainGetJobStats's answer: the job type and its typed parameters ('time_elapsed', …). */
export interface JobStats {
  /** A {@link DomainJobType} value. */
  type: number;
  /** The job's figures ('operation', 'time_elapsed', 'memory_processed', …). */
  params: TypedParameter[];
}
