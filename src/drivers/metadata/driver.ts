/**
 * The metadata driver: domains and snapshot metadata kept in tsvirt's store, the rules of
 * src/rules applied to them, lifecycle events recorded and delivered. A hypervisor plugs in its
 * guest actions (GuestBackend). This class only composes the modules beside it:
 *
 * - records.ts: resolving handles, the record changes every call shares;
 * - jobs.ts: how a call that acts on a guest is sequenced — the same for every backend;
 * - events.ts: lifecycle events, recorded with the change and delivered once it commits;
 * - exits.ts: guests that stop on their own, and reconciliation at open;
 * - lookups.ts, lifecycle.ts, snapshots.ts: the calls themselves.
 *
 * Every change is made in store transactions that leave the old state or the new (docs/design.md).
 */
import type { NetworkDriver } from '../../core/network-driver.js';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import { configUnsupported, noSupport } from '../../core/errors.js';
import { DomainConsoleFlags, type DomainState } from '../../core/enums.generated.js';
import type { DomainDeviceEvent, DomainInfo, DomainRef, DomainScreenshot, DriverEventListener, HypervisorDriver, JobOptions, NodeInfo, SecurityModel } from '../../core/driver.js';
import type { Store } from '../../store/store.js';
import { DomainEvents } from './events.js';
import { GuestExits } from './exits.js';
import type { GuestBackend, GuestHost } from './guest.js';
import { Jobs } from './jobs.js';
import { DomainLifecycle } from './lifecycle.js';
import { DomainLookups, type DomainWithState } from './lookups.js';
import { DomainRecords, isActive } from './records.js';
import { checkActive } from '../../rules/lifecycle.js';
import { DomainSnapshots } from './snapshots.js';
import { DomainCheckpoints } from './checkpoints.js';
import { defsOf, oneDef, type Defs } from './defs.js';
import { applyMetadata, readMetadata } from './domain-metadata.js';
import { renameDomain, type RenameRules } from './rename.js';
import { DomainSaveFiles, type SaveFileRules } from './save-file.js';
import { DomainModificationImpact } from '../../core/enums.generated.js';

/** VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_AFFECT_CONFIG. */
const IMPACT = DomainModificationImpact.LIVE | DomainModificationImpact.CONFIG;
import { formatDomainXML } from '../../conf/domain.js';
import type { DomainRecord } from '../../store/store.js';
import { defNumbers } from './records.js';
import { PoolStorageDriver } from '../storage/driver.js';
import { diskSources } from '../storage/in-use.js';

/** Options of a metadata driver. */
export interface MetadataDriverOptions {
  uri: string;
  store: Store;
  backend: GuestBackend;
  /** Hypervisor version as libvirt encodes it (computed on first use when a function). */
  version: number | (() => number);
  /** The networks beside the domains (src/drivers/network), made on the same store. */
  network?: (store: Store) => NetworkDriver;
  /**
   * Storage pools beside the domains, in the same store: 'simulated' (the test driver's), 'dir'
   * (real directory pools); absent: none.
   */
  storage?: 'simulated' | 'dir';
}

/** The metadata driver (see the file comment). */
export class MetadataDriver implements HypervisorDriver {
  readonly uri: string;
  readonly type: string;
  protected readonly store: Store;
  protected readonly backend: GuestBackend;
  private version: number | (() => number);
  private closed = false;
  /** The driver's virtual networks, when it has them. */
  readonly network?: NetworkDriver;
  protected readonly records: DomainRecords;
  /** Sequences calls that change a domain (subclasses' metadata-only changes too). */
  protected readonly jobs: Jobs;
  private readonly events: DomainEvents;
  private readonly exits: GuestExits;
  private readonly lookups: DomainLookups;
  private readonly lifecycle: DomainLifecycle;
  private readonly snapshots: DomainSnapshots;
  /**
   * virDomainOpenConsole, present when the backend has consoles (else the API answers
   * VIR_ERR_NO_SUPPORT). Checks the flags (FORCE, SAFE: libvirt's qemu driver supports safe
   * consoles), that the domain runs (VIR_ERR_OPERATION_INVALID "domain is not running"), then
   * has the backend open the device of the running definition. Takes no job, as libvirt.
   */
  readonly domainOpenConsole?: (dom: DomainRef, devName: string | null, flags: number) => Promise<Duplex>;
  private readonly checkpoints: DomainCheckpoints;
  /** The connection's storage driver (pools and volumes), as libvirt keeps one beside the hypervisor's. */
  readonly storage?: PoolStorageDriver;

  constructor(options: MetadataDriverOptions) {
    this.uri = options.uri;
    this.store = options.store;
    this.backend = options.backend;
    this.type = options.backend.type;
    this.version = options.version;
    if (options.network !== undefined) this.network = options.network(this.store);
    if (options.storage !== undefined) {
      this.storage = new PoolStorageDriver({
        store: options.store,
        simulated: options.storage === 'simulated',
        inUse: (path, pool, volume) => this.domainUsing(path, pool, volume),
      });
    }
    this.events = new DomainEvents(this.store, options.backend.monitorEvents === true);
    this.records = new DomainRecords(this.store, this.backend, this.events);
    const jobs: Jobs = new Jobs(this.records, (uuid) => exits.idle(uuid));
    const exits = new GuestExits(this.records, (uuid) => jobs.busy(uuid));
    this.exits = exits;
    this.jobs = jobs;
    this.lookups = new DomainLookups(this.records);
    this.lifecycle = new DomainLifecycle(this.records, jobs);
    this.snapshots = new DomainSnapshots(this.records, jobs, exits);
    const backend = this.backend;
    const open = backend.openConsole?.bind(backend);
    if (open !== undefined) {
      this.domainOpenConsole = async (dom, devName, flags) => {
        this.records.check(flags, DomainConsoleFlags.FORCE | DomainConsoleFlags.SAFE, 'DomainOpenConsole');
        const rec = this.records.resolve(dom);
        checkActive({ active: isActive(rec) });
        return open(rec, this.records.currentDef(rec), devName, flags);
      };
    }
    this.checkpoints = new DomainCheckpoints(this.records, jobs);
  }

  /**
   * Changes a domain's live and/or persistent definition under its job: `change` (in the first
   * transaction) returns the definitions it edited (see ./defs.ts); `act` (optional) applies the
   * live change to the guest; then the edited definitions are written back and the record's
   * summary numbers follow the definition the domain runs with now. A throw from `change` or
   * `act` leaves the record as it was.
   */
  protected async editDefs(
    dom: DomainRef,
    api: string,
    change: (rec: DomainRecord) => Defs,
    act?: (rec: DomainRecord, defs: Defs) => Promise<void>,
  ): Promise<void> {
    await this.jobs.run(dom, api, {
      plan: (rec) => change(rec),
      act: async (rec, defs) => {
        if (act !== undefined) await act(rec, defs);
      },
      commit: (rec, defs) => {
        if (defs.live !== null) rec.liveXml = formatDomainXML(defs.live, { secure: true });
        if (defs.config !== null) rec.configXml = formatDomainXML(defs.config, { inactive: true, secure: true });
        const now = isActive(rec) ? defs.live : defs.config;
        if (now !== null) Object.assign(rec, defNumbers(now));
        this.records.write(rec);
      },
    });
  }

  /**
   * The name of a running domain whose live definition has a disk on the file `path` (or on
   * volume `volume` of pool `pool`), for the storage driver's refusal to delete a volume in use.
   */
  protected domainUsing(path: string, pool: string, volume: string): string | undefined {
    for (const rec of this.store.activeDomains()) {
      if (rec.liveXml === null) continue;
      for (const src of diskSources(rec.liveXml)) {
        if (src.path === path || (src.pool === pool && src.volume === volume)) return rec.name;
      }
    }
    return undefined;
  }

  // Metadata: title, description, <metadata> elements (./domain-metadata.ts).

  /** virDomainSetMetadata: {@link Domain.setMetadata}; LIVE, CONFIG, CURRENT as libvirt. */
  async domainSetMetadata(dom: DomainRef, type: number, metadata: string | null, key: string | null, uri: string | null, flags: number): Promise<void> {
    this.records.check(flags, IMPACT, 'DomainSetMetadata');
    await this.editDefs(dom, 'virDomainSetMetadata', (rec) => {
      const defs = defsOf(rec, flags);
      for (const def of [defs.live, defs.config]) if (def !== null) applyMetadata(def, type, metadata, key, uri);
      return defs;
    });
    // As libvirt: one METADATA_CHANGE per call; the namespace only for an element.
    const rec = this.records.resolve(dom);
    this.emitDeviceEvent({ eventID: 23, domain: { name: rec.name, uuid: rec.uuid, id: rec.id }, type, nsuri: type === 2 ? uri : null });
  }
  /** virDomainGetMetadata: {@link Domain.metadata}. */
  async domainGetMetadata(dom: DomainRef, type: number, uri: string | null, flags: number): Promise<string> {
    this.records.check(flags, IMPACT, 'DomainGetMetadata');
    return readMetadata(oneDef(this.records.resolve(dom), flags), type, uri);
  }

  // Rename (./rename.ts).

  /** What this driver refuses to rename beyond libvirt's common checks (QEMU's list by default). */
  protected readonly renameRules: RenameRules = { strict: true };
  /** virDomainRename: {@link Domain.rename}. */
  async domainRename(dom: DomainRef, newName: string, flags: number): Promise<DomainRef> {
    this.records.check(flags, 0, 'DomainRename');
    return renameDomain(this.records, this.jobs, dom, newName, this.renameRules);
  }

  // Save to a file, restore (./save-file.ts).

  /** How this driver answers the save-file calls (QEMU's by default). */
  protected readonly saveFileRules: SaveFileRules = { qemu: true };
  private saveFilesImpl: DomainSaveFiles | undefined;
  private get saveFiles(): DomainSaveFiles {
    return (this.saveFilesImpl ??= new DomainSaveFiles(this.records, this.jobs, this.saveFileRules));
  }
  /** virDomainSaveFlags (`flags` null: virDomainSave): {@link Domain.saveFlags}. */
  async domainSave(dom: DomainRef, to: string, dxml: string | null, flags: number | null, options?: JobOptions): Promise<void> {
    return this.saveFiles.save(dom, to, dxml, flags, options);
  }
  /** virDomainRestoreFlags (`flags` null: virDomainRestore): {@link Connection.restoreFlags}. */
  async domainRestore(from: string, dxml: string | null, flags: number | null, options?: JobOptions): Promise<void> {
    return this.saveFiles.restore(from, dxml, flags, options);
  }
  /** virDomainSaveImageGetXMLDesc: {@link Connection.saveImageGetXMLDesc}. */
  async domainSaveImageGetXMLDesc(file: string, flags: number): Promise<string> {
    return this.saveFiles.getXMLDesc(file, flags);
  }
  /** virDomainSaveImageDefineXML: {@link Connection.saveImageDefineXML}. */
  async domainSaveImageDefineXML(file: string, dxml: string, flags: number): Promise<void> {
    this.saveFiles.defineXML(file, dxml, flags);
  }

  // Connection.

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.exits.close();
    this.events.close();
    await this.network?.close();
    await this.backend.close?.();
    this.store.close();
  }
  /** Resolves once every change made so far is durable (tsvirtd's group commit: Store.durable). */
  durable(): Promise<void> {
    return this.store.durable();
  }
  async getHostname(): Promise<string> {
    return hostname();
  }
  async getVersion(): Promise<number> {
    if (typeof this.version === 'function') this.version = this.version();
    return this.version;
  }
  async isAlive(): Promise<boolean> {
    return !this.closed;
  }

  /**
   * Reconciles at open (docs/design.md): a guest recorded as running whose process is gone is
   * processed as stopped, with R5 applied.
   */
  reconcile(): Promise<void> {
    return this.exits.reconcile();
  }

  // Lookups and reads.

  async listAllDomains(flags: number): Promise<DomainRef[]> {
    return this.lookups.listAllDomains(flags);
  }
  /** listAllDomains with each domain's state and reason from the same read (all-domain statistics). */
  protected listAllStates(flags: number): DomainWithState[] {
    return this.lookups.listAllStates(flags);
  }
  async numOfDomains(): Promise<number> {
    return this.store.countActive();
  }
  async numOfDefinedDomains(): Promise<number> {
    return this.store.countInactive();
  }
  async lookupByName(name: string): Promise<DomainRef> {
    return this.lookups.lookupByName(name);
  }
  async lookupByUUID(uuid: string): Promise<DomainRef> {
    return this.lookups.lookupByUUID(uuid);
  }
  async lookupByID(id: number): Promise<DomainRef> {
    return this.lookups.lookupByID(id);
  }
  async domainIsActive(dom: DomainRef): Promise<boolean> {
    return isActive(this.records.resolveStatus(dom));
  }
  async domainIsPersistent(dom: DomainRef): Promise<boolean> {
    return this.records.resolveStatus(dom).persistent;
  }
  async domainGetID(dom: DomainRef): Promise<number> {
    return this.records.resolveStatus(dom).id;
  }
  async domainGetState(dom: DomainRef, flags: number): Promise<[DomainState, number]> {
    return this.lookups.domainGetState(dom, flags);
  }
  async domainGetInfo(dom: DomainRef): Promise<DomainInfo> {
    return this.lookups.domainGetInfo(dom);
  }
  async domainGetXMLDesc(dom: DomainRef, flags: number): Promise<string> {
    return this.lookups.domainGetXMLDesc(dom, flags);
  }
  async domainGetAutostart(dom: DomainRef): Promise<boolean> {
    return this.records.resolve(dom).autostart;
  }
  async hasManagedSaveImage(dom: DomainRef, flags: number): Promise<boolean> {
    return this.lookups.hasManagedSaveImage(dom, flags);
  }

  // Lifecycle.

  async defineXML(xml: string, flags: number): Promise<DomainRef> {
    return this.lifecycle.defineXML(xml, flags);
  }
  async createXML(xml: string, flags: number): Promise<DomainRef> {
    return this.lifecycle.createXML(xml, flags);
  }
  async domainCreate(dom: DomainRef, flags: number): Promise<DomainRef> {
    return this.lifecycle.domainCreate(dom, flags);
  }
  async domainShutdown(dom: DomainRef, flags: number): Promise<void> {
    return this.lifecycle.domainShutdown(dom, flags);
  }
  async domainDestroy(dom: DomainRef, flags: number): Promise<void> {
    return this.lifecycle.domainDestroy(dom, flags);
  }
  async domainReboot(dom: DomainRef, flags: number): Promise<void> {
    return this.lifecycle.domainReboot(dom, flags);
  }
  async domainSuspend(dom: DomainRef): Promise<void> {
    return this.lifecycle.domainSuspend(dom);
  }
  async domainResume(dom: DomainRef): Promise<void> {
    return this.lifecycle.domainResume(dom);
  }
  async domainUndefine(dom: DomainRef, flags: number): Promise<void> {
    return this.lifecycle.domainUndefine(dom, flags);
  }
  async domainSetAutostart(dom: DomainRef, autostart: boolean): Promise<void> {
    return this.lifecycle.domainSetAutostart(dom, autostart);
  }
  async managedSave(dom: DomainRef, flags: number, options?: JobOptions): Promise<void> {
    return this.lifecycle.managedSave(dom, flags, options);
  }
  async managedSaveRemove(dom: DomainRef, flags: number): Promise<void> {
    return this.lifecycle.managedSaveRemove(dom, flags);
  }

  // Snapshots.

  async snapshotCreateXML(dom: DomainRef, xml: string, flags: number, options?: JobOptions): Promise<string> {
    return this.snapshots.snapshotCreateXML(dom, xml, flags, options);
  }
  async snapshotNum(dom: DomainRef, flags: number): Promise<number> {
    return this.snapshots.snapshotNum(dom, flags);
  }
  async snapshotListNames(dom: DomainRef, flags: number): Promise<string[]> {
    return this.snapshots.snapshotListNames(dom, flags);
  }
  async listAllSnapshots(dom: DomainRef, flags: number): Promise<string[]> {
    return this.snapshots.listAllSnapshots(dom, flags);
  }
  async snapshotLookupByName(dom: DomainRef, name: string, flags: number): Promise<string> {
    return this.snapshots.snapshotLookupByName(dom, name, flags);
  }
  async snapshotCurrent(dom: DomainRef, flags: number): Promise<string> {
    return this.snapshots.snapshotCurrent(dom, flags);
  }
  async hasCurrentSnapshot(dom: DomainRef, flags: number): Promise<boolean> {
    return this.snapshots.hasCurrentSnapshot(dom, flags);
  }
  async snapshotGetXMLDesc(dom: DomainRef, snapshot: string, flags: number): Promise<string> {
    return this.snapshots.snapshotGetXMLDesc(dom, snapshot, flags);
  }
  async snapshotGetParent(dom: DomainRef, snapshot: string, flags: number): Promise<string> {
    return this.snapshots.snapshotGetParent(dom, snapshot, flags);
  }
  async snapshotNumChildren(dom: DomainRef, snapshot: string, flags: number): Promise<number> {
    return this.snapshots.snapshotNumChildren(dom, snapshot, flags);
  }
  async snapshotListAllChildren(dom: DomainRef, snapshot: string, flags: number): Promise<string[]> {
    return this.snapshots.snapshotListAllChildren(dom, snapshot, flags);
  }
  async snapshotIsCurrent(dom: DomainRef, snapshot: string, flags: number): Promise<boolean> {
    return this.snapshots.snapshotIsCurrent(dom, snapshot, flags);
  }
  async snapshotHasMetadata(dom: DomainRef, snapshot: string, flags: number): Promise<boolean> {
    return this.snapshots.snapshotHasMetadata(dom, snapshot, flags);
  }
  async snapshotDelete(dom: DomainRef, snapshot: string, flags: number): Promise<void> {
    return this.snapshots.snapshotDelete(dom, snapshot, flags);
  }
  async revertToSnapshot(dom: DomainRef, snapshot: string, flags: number): Promise<void> {
    return this.snapshots.revertToSnapshot(dom, snapshot, flags);
  }

  // Streams: what the API carries on a libvirt stream.

  /**
   * virDomainScreenshot: the backend's image of the guest's screen, under the domain's job as
   * libvirt's query job. VIR_ERR_INVALID_ARG for flags (none is defined); VIR_ERR_NO_SUPPORT
   * when the backend has no screens; VIR_ERR_OPERATION_INVALID "domain is not running".
   */
  async domainScreenshot(dom: DomainRef, screen: number, flags: number): Promise<DomainScreenshot> {
    return this.lifecycle.domainScreenshot(dom, screen, flags);
  }

  // Checkpoints (the backend's GuestCheckpoints; VIR_ERR_NO_SUPPORT without them).

  async checkpointCreateXML(dom: DomainRef, xml: string, flags: number): Promise<string> {
    return this.checkpoints.checkpointCreateXML(dom, xml, flags);
  }
  async listAllCheckpoints(dom: DomainRef, flags: number): Promise<string[]> {
    return this.checkpoints.listAllCheckpoints(dom, flags);
  }
  async checkpointListAllChildren(dom: DomainRef, checkpoint: string, flags: number): Promise<string[]> {
    return this.checkpoints.checkpointListAllChildren(dom, checkpoint, flags);
  }
  async checkpointLookupByName(dom: DomainRef, name: string, flags: number): Promise<string> {
    return this.checkpoints.checkpointLookupByName(dom, name, flags);
  }
  async checkpointGetParent(dom: DomainRef, checkpoint: string, flags: number): Promise<string> {
    return this.checkpoints.checkpointGetParent(dom, checkpoint, flags);
  }
  async checkpointGetXMLDesc(dom: DomainRef, checkpoint: string, flags: number): Promise<string> {
    return this.checkpoints.checkpointGetXMLDesc(dom, checkpoint, flags);
  }
  async checkpointDelete(dom: DomainRef, checkpoint: string, flags: number): Promise<void> {
    return this.checkpoints.checkpointDelete(dom, checkpoint, flags);
  }

  // Events.

  subscribeDeviceEvents(listener: (event: DomainDeviceEvent) => void): () => void {
    this.deviceListeners.add(listener);
    return () => this.deviceListeners.delete(listener);
  }
  private readonly deviceListeners = new Set<(event: DomainDeviceEvent) => void>();
  /**
   * Delivers a device or metadata event once the change is done (on the next turn, after the
   * call's job has ended), to this process's listeners: as libvirt's, these events are not logged.
   */
  protected emitDeviceEvent(event: DomainDeviceEvent): void {
    setImmediate(() => {
      for (const l of [...this.deviceListeners]) {
        try {
          l(event);
        } catch {
          // A listener's failure is its own.
        }
      }
    });
  }
  /** DEVICE_ADDED / DEVICE_REMOVED for a device of a live definition, named by its alias. */
  protected emitDeviceChange(dom: DomainRef, eventID: 15 | 19, alias: string | undefined): void {
    if (alias === undefined) return;
    const rec = this.records.resolve(dom);
    this.emitDeviceEvent({ eventID, domain: { name: rec.name, uuid: rec.uuid, id: rec.id }, devAlias: alias });
  }

  subscribe(listener: DriverEventListener): () => void {
    return this.events.subscribe(listener);
  }

  // Host: described by the backend, formatted here (loaded on demand: most calls never ask).

  private async hostOf(functionName: string): Promise<GuestHost> {
    if (this.backend.host === undefined) throw noSupport(this.records.errDomain, functionName);
    return this.backend.host();
  }
  /** virConnectGetCapabilities. */
  async connectGetCapabilities(): Promise<string> {
    const host = await this.hostOf('virConnectGetCapabilities');
    const { formatCapabilitiesXML } = await import('../../conf/capabilities.js');
    return formatCapabilitiesXML(host.capabilities());
  }
  /** virNodeGetInfo. */
  async nodeGetInfo(): Promise<NodeInfo> {
    return (await this.hostOf('virNodeGetInfo')).nodeInfo();
  }
  /**
   * virNodeGetSecurityModel: the capabilities' first `<secmodel>` (qemu: model 'none', DOI '0', as
   * libvirt's qemu driver without a security driver), empty strings when they list none.
   */
  async nodeGetSecurityModel(): Promise<SecurityModel> {
    const first = (await this.hostOf('virNodeGetSecurityModel')).capabilities().host.secmodels[0];
    return { model: first?.model ?? '', doi: first?.doi ?? '' };
  }
  /**
   * virConnectGetSysinfo: VIR_ERR_CONFIG_UNSUPPORTED "Host SMBIOS information is not available"
   * when the host has none, as libvirt's qemu driver.
   */
  async connectGetSysinfo(flags: number): Promise<string> {
    this.records.check(flags, 0, 'ConnectGetSysinfo');
    const info = (await this.hostOf('virConnectGetSysinfo')).sysinfo();
    if (info === undefined) throw configUnsupported(this.records.errDomain, 'Host SMBIOS information is not available');
    const { formatSysinfoXML } = await import('../../conf/capabilities.js');
    return formatSysinfoXML(info);
  }
}
