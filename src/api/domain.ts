/**
 * Domain: a handle on one domain, with python-libvirt's method names, async. Each method has the
 * shape of libvirt's public entry points: check the handle and arguments (and read-only access),
 * check flag combinations the API itself forbids, dispatch to the driver.
 */
import type { Connection } from './connection.js';
import type { DomainInfo, DomainRef, JobOptions } from '../core/driver.js';
import {
  DomainSaveRestoreFlags,
  DomainXMLFlags,
  ErrorDomain,
  ErrorNumber,
  type DomainSnapshotListFlags,
  type DomainState,
  type DomainUndefineFlags,
} from '../core/enums.generated.js';
import { VirError } from '../core/errors.js';
import { exclusiveFlags } from '../rules/flags.js';
import { DomainSnapshot } from './snapshot.js';

/** [state, reason] as python-libvirt's `dom.state()` returns it. */
export type DomainStateReason = [state: DomainState, reason: number];

/**
 * A handle on a domain. Its name, UUID and ID are as of lookup (like virDomainPtr); every method
 * asks the driver for current state. A handle whose domain was removed fails with
 * VIR_ERR_NO_DOMAIN.
 */
export class Domain {
  /** @internal */
  readonly ref: DomainRef;

  /** @internal Use the Connection's lookups to get handles. */
  constructor(
    readonly connection: Connection,
    ref: DomainRef,
  ) {
    this.ref = ref;
  }

  /** The domain's name. */
  name(): string {
    return this.ref.name;
  }
  /** The domain's UUID in canonical form. */
  UUIDString(): string {
    return this.ref.uuid;
  }
  /** The runtime ID as of lookup, or -1 if the domain was inactive then. */
  ID(): number {
    return this.ref.id;
  }
  /** The Connection this handle belongs to (python-libvirt's `connect()`). */
  connect(): Connection {
    return this.connection;
  }

  private get drv() {
    return this.connection.driverFor('virDomain');
  }
  private writable(api: string) {
    return this.connection.writableDriver(api);
  }

  /**
   * Starts an inactive persistent domain. Prerequisites: inactive. Effects: running (or paused
   * with START_PAUSED); resumes from a managed save image and removes it (R11) unless
   * FORCE_BOOT, which discards it. Errors: VIR_ERR_OPERATION_INVALID when already running.
   */
  async create(): Promise<void> {
    await this.writable('virDomainCreate').domainCreate(this.ref, 0);
  }
  /** See {@link Domain.create}; flags are DomainCreateFlags (START_PAUSED, FORCE_BOOT). */
  async createWithFlags(flags: number, options?: JobOptions): Promise<void> {
    await this.writable('virDomainCreateWithFlags').domainCreate(this.ref, flags, options);
  }

  /**
   * Asks the guest to shut down (ACPI power button) and returns at once (R8); the guest may
   * ignore it. A transient domain that then stops loses its snapshot metadata (R5).
   * Errors: VIR_ERR_OPERATION_INVALID when not running.
   */
  async shutdown(): Promise<void> {
    await this.writable('virDomainShutdown').domainShutdown(this.ref, 0);
  }
  /** See {@link Domain.shutdown}; flags are DomainShutdownFlags. */
  async shutdownFlags(flags: number): Promise<void> {
    await this.writable('virDomainShutdownFlags').domainShutdown(this.ref, flags);
  }

  /**
   * Pulls the power cord; returns when the guest is gone (R8). A transient domain vanishes with
   * its snapshot metadata (R5). Errors: VIR_ERR_OPERATION_INVALID when not running.
   */
  async destroy(): Promise<void> {
    await this.writable('virDomainDestroy').domainDestroy(this.ref, 0);
  }
  /** See {@link Domain.destroy}; flags are DomainDestroyFlags. */
  async destroyFlags(flags: number): Promise<void> {
    await this.writable('virDomainDestroyFlags').domainDestroy(this.ref, flags);
  }

  /** Asks the guest to reboot. Errors: VIR_ERR_OPERATION_INVALID when not running. */
  async reboot(flags = 0): Promise<void> {
    await this.writable('virDomainReboot').domainReboot(this.ref, flags);
  }
  /** Pauses the guest's CPUs. */
  async suspend(): Promise<void> {
    await this.writable('virDomainSuspend').domainSuspend(this.ref);
  }
  /** Resumes a paused guest. */
  async resume(): Promise<void> {
    await this.writable('virDomainResume').domainResume(this.ref);
  }

  /**
   * Removes the domain's configuration. Same as `undefineFlags(0)`.
   */
  async undefine(): Promise<void> {
    await this.writable('virDomainUndefine').domainUndefine(this.ref, 0);
  }
  /**
   * Removes the domain's configuration (R1–R4).
   * Prerequisites: persistent (R1). Inactive with snapshot metadata needs SNAPSHOTS_METADATA (R3);
   * a managed save image needs MANAGED_SAVE (R2).
   * Effects: inactive — the domain and, with the flags, its image and all its snapshot metadata
   * go in one atomic step; active — it runs on as a transient domain and keeps its metadata until
   * it halts (R4). On failure nothing changes.
   * Errors: VIR_ERR_OPERATION_INVALID ("cannot undefine transient domain", "cannot delete
   * inactive domain with N snapshots", "Refusing to undefine while domain managed save image
   * exists"); VIR_ERR_INVALID_ARG for flags the driver does not support (R7).
   */
  async undefineFlags(flags: DomainUndefineFlags | number): Promise<void> {
    await this.writable('virDomainUndefineFlags').domainUndefine(this.ref, flags);
  }

  /** True when the domain is running or paused. */
  async isActive(): Promise<boolean> {
    return this.drv.domainIsActive(this.ref);
  }
  /** True when the domain has a persistent configuration. */
  async isPersistent(): Promise<boolean> {
    return this.drv.domainIsPersistent(this.ref);
  }
  /** [state, reason], with libvirt's numbers. */
  async state(flags = 0): Promise<DomainStateReason> {
    return this.drv.domainGetState(this.ref, flags);
  }
  /** python-libvirt's `info()`: [state, maxMem KiB, memory KiB, nrVirtCpu, cpuTime ns]. */
  async info(): Promise<[number, number, number, number, number]> {
    const i = await this.drv.domainGetInfo(this.ref);
    return [i.state, i.maxMem, i.memory, i.nrVirtCpu, i.cpuTime];
  }
  /** virDomainGetInfo as a record. */
  async getInfo(): Promise<DomainInfo> {
    return this.drv.domainGetInfo(this.ref);
  }
  /** The domain XML (live unless INACTIVE). */
  async XMLDesc(flags = 0): Promise<string> {
    // libvirt refuses secrets to a read-only connection before asking the driver.
    if (this.connection.isReadOnly() && (flags & DomainXMLFlags.SECURE) !== 0) {
      throw VirError.report(ErrorDomain.DOMAIN, ErrorNumber.OPERATION_DENIED, 'virDomainGetXMLDesc with secure flag');
    }
    return this.drv.domainGetXMLDesc(this.ref, flags);
  }
  /** Whether the domain starts with the host. */
  async autostart(): Promise<boolean> {
    return this.drv.domainGetAutostart(this.ref);
  }
  /** Sets autostart (persistent domains only). */
  async setAutostart(autostart: boolean): Promise<void> {
    await this.writable('virDomainSetAutostart').domainSetAutostart(this.ref, autostart);
  }

  /**
   * Saves the guest's memory to a managed image and stops it; the next start resumes from it.
   * Prerequisites: running and persistent (R11). Errors: VIR_ERR_OPERATION_INVALID ("domain is
   * not running", "cannot do managed save for transient domain").
   */
  async managedSave(flags = 0, options?: JobOptions): Promise<void> {
    exclusiveFlags(
      flags,
      DomainSaveRestoreFlags.RUNNING,
      'VIR_DOMAIN_SAVE_RUNNING',
      DomainSaveRestoreFlags.PAUSED,
      'VIR_DOMAIN_SAVE_PAUSED',
      ErrorDomain.DOMAIN,
    );
    await this.writable('virDomainManagedSave').managedSave(this.ref, flags, options);
  }
  /** True when a managed save image exists. */
  async hasManagedSaveImage(flags = 0): Promise<boolean> {
    return this.drv.hasManagedSaveImage(this.ref, flags);
  }
  /** Removes the managed save image, if any. */
  async managedSaveRemove(flags = 0): Promise<void> {
    await this.writable('virDomainManagedSaveRemove').managedSaveRemove(this.ref, flags);
  }

  /**
   * Creates a snapshot from domainsnapshot XML, or with REDEFINE recreates captured metadata
   * (R10). Errors: VIR_ERR_INVALID_ARG for CURRENT without REDEFINE, REDEFINE with NO_METADATA,
   * HALT with LIVE; VIR_ERR_OPERATION_FAILED for a duplicate name.
   */
  async snapshotCreateXML(xml: string, flags = 0, options?: JobOptions): Promise<DomainSnapshot> {
    const name = await this.connection
      .writableDriver('virDomainSnapshotCreateXML', ErrorDomain.DOMAIN_SNAPSHOT)
      .snapshotCreateXML(this.ref, xml, DomainSnapshot.checkCreateFlags(flags), options);
    return new DomainSnapshot(this, name);
  }
  /** The number of snapshots passing the filter flags. */
  async snapshotNum(flags: DomainSnapshotListFlags | number = 0): Promise<number> {
    return this.drv.snapshotNum(this.ref, flags);
  }
  /** The names of snapshots passing the filter flags. */
  async snapshotListNames(flags: DomainSnapshotListFlags | number = 0): Promise<string[]> {
    return this.drv.snapshotListNames(this.ref, flags);
  }
  /** Handles on the snapshots passing the filter flags. */
  async listAllSnapshots(flags: DomainSnapshotListFlags | number = 0): Promise<DomainSnapshot[]> {
    const names = await this.drv.listAllSnapshots(this.ref, flags);
    return names.map((n) => new DomainSnapshot(this, n));
  }
  /** The snapshot with this name. Errors: VIR_ERR_NO_DOMAIN_SNAPSHOT. */
  async snapshotLookupByName(name: string, flags = 0): Promise<DomainSnapshot> {
    return new DomainSnapshot(this, await this.drv.snapshotLookupByName(this.ref, name, flags));
  }
  /** The current snapshot. Errors: VIR_ERR_NO_DOMAIN_SNAPSHOT when there is none. */
  async snapshotCurrent(flags = 0): Promise<DomainSnapshot> {
    return new DomainSnapshot(this, await this.drv.snapshotCurrent(this.ref, flags));
  }
  /** True when the domain has a current snapshot. */
  async hasCurrentSnapshot(flags = 0): Promise<boolean> {
    return this.drv.hasCurrentSnapshot(this.ref, flags);
  }
  /** Reverts to a snapshot (python-libvirt's `dom.revertToSnapshot(snap, flags)`). */
  async revertToSnapshot(snapshot: DomainSnapshot, flags = 0, options?: JobOptions): Promise<void> {
    await snapshot.revert(flags, options);
  }
}
