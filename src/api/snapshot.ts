/**
 * DomainSnapshot: a handle on one snapshot of a domain, with python-libvirt's method names.
 */
import type { Domain } from './domain.js';
import type { JobOptions } from '../core/driver.js';
import {
  DomainSnapshotCreateFlags as Create,
  DomainSnapshotDeleteFlags as Delete,
  DomainSnapshotRevertFlags as Revert,
  DomainSnapshotXMLFlags,
  ErrorDomain,
  ErrorNumber,
  type DomainSnapshotListFlags,
} from '../core/enums.generated.js';
import { VirError } from '../core/errors.js';
import { exclusiveFlags, requireFlag } from '../rules/flags.js';

/**
 * A handle on a snapshot (libvirt's virDomainSnapshotPtr), addressed by its domain and name, with
 * python-libvirt's method names, async. Get handles from the {@link Domain}'s snapshot calls.
 *
 * Besides the codes each method lists, every method that reaches the driver can raise the
 * common errors of its {@link Domain} (VIR_ERR_INVALID_CONN once the connection is closed,
 * VIR_ERR_NO_DOMAIN when the domain was removed, VIR_ERR_OPERATION_TIMEOUT on qemu when another
 * call holds the domain's job for more than 30 s), VIR_ERR_NO_DOMAIN_SNAPSHOT "no domain
 * snapshot with matching name" when the snapshot was deleted since the lookup, and
 * VIR_ERR_INVALID_ARG for flags the driver does not support, before anything changes.
 * Queries say "Effects: none": they change nothing, whether they succeed or fail.
 */
export class DomainSnapshot {
  /** @internal Use the Domain's snapshot lookups to get handles. */
  constructor(
    /** The domain the snapshot belongs to. */
    readonly domain: Domain,
    private readonly snapshotName: string,
  ) {}

  /** The flag combinations libvirt's public API refuses for snapshotCreateXML. @internal */
  static checkCreateFlags(flags: number): number {
    const d = ErrorDomain.DOMAIN_SNAPSHOT;
    requireFlag(flags, Create.CURRENT, 'VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT', Create.REDEFINE, 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE', d);
    exclusiveFlags(flags, Create.REDEFINE, 'VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE', Create.NO_METADATA, 'VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA', d);
    exclusiveFlags(flags, Create.HALT, 'VIR_DOMAIN_SNAPSHOT_CREATE_HALT', Create.LIVE, 'VIR_DOMAIN_SNAPSHOT_CREATE_LIVE', d);
    return flags;
  }

  private get drv() {
    return this.domain.connection.driverFor('virDomainSnapshot');
  }

  /** The snapshot's name (virDomainSnapshotGetName). Never fails; asks no driver. */
  getName(): string {
    return this.snapshotName;
  }
  /** The domain the snapshot belongs to (virDomainSnapshotGetDomain). Never fails. */
  getDomain(): Domain {
    return this.domain;
  }
  /** The Connection of its domain (virDomainSnapshotGetConnect). Never fails. */
  getConnect() {
    return this.domain.connection;
  }
  /**
   * The snapshot's domainsnapshot XML (virDomainSnapshotGetXMLDesc): name, state, creation
   * time, its current parent, memory and disks, and the domain definition it captured. Capture
   * every snapshot's XML to recreate the metadata later with
   * {@link Domain.snapshotCreateXML} and REDEFINE. Flags: {@link DomainSnapshotXMLFlags}
   * SECURE (test, qemu, VirtualBox); ESX accepts 0 only.
   *
   * Prerequisites: the snapshot exists. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for flags the driver does not support.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN_SNAPSHOT when the snapshot no longer exists.
   */
  async getXMLDesc(flags = 0): Promise<string> {
    if (this.domain.connection.isReadOnly() && (flags & DomainSnapshotXMLFlags.SECURE) !== 0) {
      throw VirError.report(ErrorDomain.DOMAIN_SNAPSHOT, ErrorNumber.OPERATION_DENIED, 'virDomainSnapshotGetXMLDesc with secure flag');
    }
    return this.drv.snapshotGetXMLDesc(this.domain.ref, this.snapshotName, flags);
  }
  /**
   * A handle on the parent snapshot (virDomainSnapshotGetParent).
   *
   * Prerequisites: the snapshot exists and is not a root; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN_SNAPSHOT "snapshot 'NAME' does not have a parent"
   * for a root, or when the snapshot no longer exists.
   */
  async getParent(flags = 0): Promise<DomainSnapshot> {
    return new DomainSnapshot(this.domain, await this.drv.snapshotGetParent(this.domain.ref, this.snapshotName, flags));
  }
  /**
   * The number of the snapshot's children passing the filter flags
   * (virDomainSnapshotNumChildren); all descendants with {@link DomainSnapshotListFlags}
   * DESCENDANTS. Other flags filter as in {@link Domain.listAllSnapshots}.
   *
   * Prerequisites: the snapshot exists. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a bit outside DomainSnapshotListFlags.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN_SNAPSHOT when the snapshot no longer exists.
   */
  async numChildren(flags: DomainSnapshotListFlags | number = 0): Promise<number> {
    return this.drv.snapshotNumChildren(this.domain.ref, this.snapshotName, flags);
  }
  /**
   * Handles on the snapshot's children passing the filter flags
   * (virDomainSnapshotListAllChildren); all descendants, parents first, with
   * {@link DomainSnapshotListFlags} DESCENDANTS. Other flags filter as in
   * {@link Domain.listAllSnapshots}.
   *
   * Prerequisites: the snapshot exists. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a bit outside DomainSnapshotListFlags.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN_SNAPSHOT when the snapshot no longer exists.
   */
  async listAllChildren(flags: DomainSnapshotListFlags | number = 0): Promise<DomainSnapshot[]> {
    const names = await this.drv.snapshotListAllChildren(this.domain.ref, this.snapshotName, flags);
    return names.map((n) => new DomainSnapshot(this.domain, n));
  }
  /**
   * True when this is the domain's current snapshot (virDomainSnapshotIsCurrent).
   *
   * Prerequisites: the snapshot exists; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN_SNAPSHOT when the snapshot no longer exists.
   */
  async isCurrent(flags = 0): Promise<boolean> {
    return this.drv.snapshotIsCurrent(this.domain.ref, this.snapshotName, flags);
  }
  /**
   * True when tsvirt holds metadata for this snapshot (virDomainSnapshotHasMetadata): always on
   * test and qemu, whose snapshots all have it.
   *
   * Prerequisites: the snapshot exists; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN_SNAPSHOT when the snapshot no longer exists.
   */
  async hasMetadata(flags = 0): Promise<boolean> {
    return this.drv.snapshotHasMetadata(this.domain.ref, this.snapshotName, flags);
  }
  /**
   * Deletes the snapshot (virDomainSnapshotDelete). Flags: {@link DomainSnapshotDeleteFlags}
   * CHILDREN (its descendants too), CHILDREN_ONLY (only its descendants), METADATA_ONLY (qemu:
   * keep the snapshot in the disk images) for test and qemu; ESX accepts CHILDREN and
   * METADATA_ONLY, VirtualBox CHILDREN and CHILDREN_ONLY. CHILDREN and CHILDREN_ONLY exclude
   * each other.
   *
   * Prerequisites: a writable connection; the snapshot exists.
   *
   * Effects on success: the snapshot (and with the flags its descendants) is gone: on qemu from
   * the disk images first, then its metadata in one step. Children of a deleted snapshot move to
   * its parent. When this snapshot was current, its parent becomes current; when the current one
   * was among the descendants, CHILDREN leaves the domain without a current snapshot and
   * CHILDREN_ONLY makes this one current. The domain's own state does not change; no lifecycle
   * event.
   *
   * Effects on failure: the metadata is unchanged; on qemu, images whose internal snapshot was
   * already removed stay so, and a retry completes the delete.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG when CHILDREN and CHILDREN_ONLY are both set, or
   * for flags the driver does not support.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN_SNAPSHOT when the snapshot no longer exists.
   * @throws {@link VirError} the hypervisor's error (qemu: qemu-img or the monitor) when a disk
   * image cannot be changed.
   */
  async delete(flags = 0): Promise<void> {
    exclusiveFlags(
      flags,
      Delete.CHILDREN,
      'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN',
      Delete.CHILDREN_ONLY,
      'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY',
      ErrorDomain.DOMAIN_SNAPSHOT,
    );
    await this.domain.connection
      .writableDriver('virDomainSnapshotDelete', ErrorDomain.DOMAIN_SNAPSHOT)
      .snapshotDelete(this.domain.ref, this.snapshotName, flags);
  }
  /**
   * Reverts the domain to this snapshot (virDomainRevertToSnapshot). Flags:
   * {@link DomainSnapshotRevertFlags} RUNNING, PAUSED (the state to end in, whatever the
   * snapshot's) and FORCE (test, qemu); VirtualBox accepts RUNNING and PAUSED, ESX 0 only.
   * RUNNING and PAUSED exclude each other.
   *
   * Prerequisites: a writable connection; the snapshot exists. A transient domain reverting to
   * a snapshot of a shut-off domain needs RUNNING or PAUSED (stopped, it would vanish). A domain
   * with a managed save image needs FORCE, which discards the image. On qemu the snapshot is an
   * internal one.
   *
   * Effects on success: the domain takes the snapshot's definition (a persistent domain's
   * configuration is replaced) and its state: a running guest is stopped (event
   * STOPPED/FROM_SNAPSHOT), and unless the snapshot is of a shut-off domain (and neither RUNNING
   * nor PAUSED is given) it starts again from the snapshot (event STARTED/FROM_SNAPSHOT, then
   * SUSPENDED/FROM_SNAPSHOT when paused; qemu restores memory when the snapshot has it and also
   * emits RESUMED/FROM_SNAPSHOT and DEFINED/FROM_SNAPSHOT). The snapshot becomes current.
   *
   * Effects on failure: nothing changes, except on qemu once the revert has begun to act: a guest
   * it stopped is recorded shut off (a transient one vanishes with its snapshot metadata), as
   * libvirt leaves it, and disk images may be partly reverted.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG when RUNNING and PAUSED are both set, or for flags
   * the driver does not support.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN_SNAPSHOT when the snapshot no longer exists.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "transient domain needs to request run or
   * pause to revert to inactive snapshot".
   * @throws {@link VirError} VIR_ERR_SNAPSHOT_REVERT_RISKY when the domain has a managed save image
   * and FORCE is not given.
   * @throws {@link VirError} VIR_ERR_OPERATION_UNSUPPORTED for an external snapshot (qemu).
   * @throws {@link VirError} the hypervisor's error (qemu) when the guest cannot be started.
   */
  async revert(flags = 0, options?: JobOptions): Promise<void> {
    exclusiveFlags(
      flags,
      Revert.RUNNING,
      'VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING',
      Revert.PAUSED,
      'VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED',
      ErrorDomain.DOMAIN_SNAPSHOT,
    );
    await this.domain.connection
      .writableDriver('virDomainRevertToSnapshot', ErrorDomain.DOMAIN_SNAPSHOT)
      .revertToSnapshot(this.domain.ref, this.snapshotName, flags, options);
  }
}
