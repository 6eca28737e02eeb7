/**
 * The driver table: what a hypervisor driver supplies to the public API, like libvirt's
 * virHypervisorDriver. The API layer checks arguments and flag combinations, then calls exactly
 * one of these; a driver checks its own supported flags (R7) and does the work. The remote
 * driver is just another implementation of this interface.
 */
import type { DomainEventType, DomainState } from './enums.generated.js';
import type { ConnectAuthCallback } from './auth.js';

/** virNodeInfo: what virNodeGetInfo reports. Memory in KiB, frequency in MHz. */
export interface NodeInfo {
  /** The CPU architecture ('x86_64', 'i686'), at most 31 bytes on the wire. */
  model: string;
  memory: number;
  cpus: number;
  mhz: number;
  nodes: number;
  sockets: number;
  cores: number;
  threads: number;
}

/** What a Domain handle carries: identity as of lookup, like libvirt's virDomainPtr. */
export interface DomainRef {
  readonly name: string;
  readonly uuid: string;
  /** Runtime ID, or -1 when the domain was inactive at lookup. */
  readonly id: number;
}

/** libvirt's virDomainInfo. Memory in KiB, CPU time in nanoseconds. */
export interface DomainInfo {
  state: DomainState;
  maxMem: number;
  memory: number;
  nrVirtCpu: number;
  cpuTime: number;
}

/** A lifecycle event as a driver reports it (VIR_DOMAIN_EVENT_ID_LIFECYCLE). */
export interface DomainLifecycleEvent {
  domain: DomainRef;
  event: DomainEventType;
  /** The detail code; its meaning depends on `event` (libvirt's virDomainEvent*DetailType). */
  detail: number;
}

/** Listener for driver events. */
export type DriverEventListener = (event: DomainLifecycleEvent) => void;

/** Progress of a long job (managed save, memory snapshot), for callers that show it. */
export interface JobProgress {
  /** Bytes done and in all; `total` 0 when unknown. */
  processed: number;
  total: number;
}

/** Options a caller may attach to a long operation. */
export interface JobOptions {
  onProgress?: (progress: JobProgress) => void;
}

/**
 * The hypervisor driver interface. Every method is async; errors are VirError.
 * Snapshots are addressed by (domain, name); domains by their ref (the driver resolves by UUID).
 */
export interface HypervisorDriver {
  /** The URI this driver was opened with, canonical form. */
  readonly uri: string;
  /** libvirt's hypervisor type name: 'Test', 'QEMU', 'ESX', 'VBOX'. */
  readonly type: string;

  close(): Promise<void>;
  /**
   * Resolves once every change made so far through this driver is durable. Only a driver whose
   * store groups commits (tsvirtd's shared test:///session) has anything to wait for; without
   * it every change is durable when its call returns.
   */
  durable?(): Promise<void>;
  getHostname(): Promise<string>;
  /** Hypervisor version as libvirt encodes it: major * 1,000,000 + minor * 1,000 + release. */
  getVersion(): Promise<number>;
  isAlive(): Promise<boolean>;

  listAllDomains(flags: number): Promise<DomainRef[]>;
  numOfDomains(): Promise<number>;
  numOfDefinedDomains(): Promise<number>;
  lookupByName(name: string): Promise<DomainRef>;
  lookupByUUID(uuid: string): Promise<DomainRef>;
  lookupByID(id: number): Promise<DomainRef>;
  defineXML(xml: string, flags: number): Promise<DomainRef>;
  createXML(xml: string, flags: number): Promise<DomainRef>;

  domainCreate(dom: DomainRef, flags: number, options?: JobOptions): Promise<DomainRef>;
  domainShutdown(dom: DomainRef, flags: number): Promise<void>;
  domainDestroy(dom: DomainRef, flags: number): Promise<void>;
  domainReboot(dom: DomainRef, flags: number): Promise<void>;
  domainSuspend(dom: DomainRef): Promise<void>;
  domainResume(dom: DomainRef): Promise<void>;
  domainUndefine(dom: DomainRef, flags: number): Promise<void>;
  domainIsActive(dom: DomainRef): Promise<boolean>;
  domainIsPersistent(dom: DomainRef): Promise<boolean>;
  domainGetState(dom: DomainRef, flags: number): Promise<[state: DomainState, reason: number]>;
  domainGetInfo(dom: DomainRef): Promise<DomainInfo>;
  domainGetXMLDesc(dom: DomainRef, flags: number): Promise<string>;
  domainGetAutostart(dom: DomainRef): Promise<boolean>;
  domainSetAutostart(dom: DomainRef, autostart: boolean): Promise<void>;
  domainGetID(dom: DomainRef): Promise<number>;

  managedSave(dom: DomainRef, flags: number, options?: JobOptions): Promise<void>;
  hasManagedSaveImage(dom: DomainRef, flags: number): Promise<boolean>;
  managedSaveRemove(dom: DomainRef, flags: number): Promise<void>;

  snapshotCreateXML(dom: DomainRef, xml: string, flags: number, options?: JobOptions): Promise<string>;
  snapshotNum(dom: DomainRef, flags: number): Promise<number>;
  snapshotListNames(dom: DomainRef, flags: number): Promise<string[]>;
  listAllSnapshots(dom: DomainRef, flags: number): Promise<string[]>;
  snapshotLookupByName(dom: DomainRef, name: string, flags: number): Promise<string>;
  snapshotCurrent(dom: DomainRef, flags: number): Promise<string>;
  hasCurrentSnapshot(dom: DomainRef, flags: number): Promise<boolean>;
  revertToSnapshot(dom: DomainRef, snapshot: string, flags: number, options?: JobOptions): Promise<void>;
  snapshotGetXMLDesc(dom: DomainRef, snapshot: string, flags: number): Promise<string>;
  snapshotGetParent(dom: DomainRef, snapshot: string, flags: number): Promise<string>;
  snapshotNumChildren(dom: DomainRef, snapshot: string, flags: number): Promise<number>;
  snapshotListAllChildren(dom: DomainRef, snapshot: string, flags: number): Promise<string[]>;
  snapshotIsCurrent(dom: DomainRef, snapshot: string, flags: number): Promise<boolean>;
  snapshotHasMetadata(dom: DomainRef, snapshot: string, flags: number): Promise<boolean>;
  snapshotDelete(dom: DomainRef, snapshot: string, flags: number): Promise<void>;

  /** Starts delivering lifecycle events to `listener`; returns the function that stops it. */
  subscribe(listener: DriverEventListener): () => void;

  // Host calls a driver may lack: the API answers VIR_ERR_NO_SUPPORT for a missing one.

  /** virConnectGetCapabilities: the capabilities XML (src/conf/capabilities.ts). */
  connectGetCapabilities?(): Promise<string>;
  /** virNodeGetInfo. */
  nodeGetInfo?(): Promise<NodeInfo>;
  /** virConnectGetSysinfo: the host's SMBIOS sysinfo XML. */
  connectGetSysinfo?(flags: number): Promise<string>;
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
