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

/** A handle on a snapshot, addressed by its domain and name. */
export class DomainSnapshot {
  /** @internal Use the Domain's snapshot lookups to get handles. */
  constructor(
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

  /** The snapshot's name. */
  getName(): string {
    return this.snapshotName;
  }
  /** The domain the snapshot belongs to. */
  getDomain(): Domain {
    return this.domain;
  }
  /** The Connection of its domain. */
  getConnect() {
    return this.domain.connection;
  }
  /** The snapshot's XML: capture it to recreate the metadata later with REDEFINE (R10). */
  async getXMLDesc(flags = 0): Promise<string> {
    if (this.domain.connection.isReadOnly() && (flags & DomainSnapshotXMLFlags.SECURE) !== 0) {
      throw VirError.report(ErrorDomain.DOMAIN_SNAPSHOT, ErrorNumber.OPERATION_DENIED, 'virDomainSnapshotGetXMLDesc with secure flag');
    }
    return this.drv.snapshotGetXMLDesc(this.domain.ref, this.snapshotName, flags);
  }
  /** The parent snapshot. Errors: VIR_ERR_NO_DOMAIN_SNAPSHOT for a root. */
  async getParent(flags = 0): Promise<DomainSnapshot> {
    return new DomainSnapshot(this.domain, await this.drv.snapshotGetParent(this.domain.ref, this.snapshotName, flags));
  }
  /** The number of children (all descendants with DESCENDANTS). */
  async numChildren(flags: DomainSnapshotListFlags | number = 0): Promise<number> {
    return this.drv.snapshotNumChildren(this.domain.ref, this.snapshotName, flags);
  }
  /** Handles on the children (all descendants with DESCENDANTS). */
  async listAllChildren(flags: DomainSnapshotListFlags | number = 0): Promise<DomainSnapshot[]> {
    const names = await this.drv.snapshotListAllChildren(this.domain.ref, this.snapshotName, flags);
    return names.map((n) => new DomainSnapshot(this.domain, n));
  }
  /** True when this is the domain's current snapshot. */
  async isCurrent(flags = 0): Promise<boolean> {
    return this.drv.snapshotIsCurrent(this.domain.ref, this.snapshotName, flags);
  }
  /** True when tsvirt holds metadata for this snapshot. */
  async hasMetadata(flags = 0): Promise<boolean> {
    return this.drv.snapshotHasMetadata(this.domain.ref, this.snapshotName, flags);
  }
  /**
   * Deletes the snapshot; with CHILDREN its descendants too, with CHILDREN_ONLY only them.
   * Children of a deleted snapshot move to its parent. Errors: VIR_ERR_INVALID_ARG when CHILDREN
   * and CHILDREN_ONLY are both set.
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
   * Reverts the domain to this snapshot (virDomainRevertToSnapshot); it becomes current.
   * Errors: VIR_ERR_INVALID_ARG when RUNNING and PAUSED are both set.
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
