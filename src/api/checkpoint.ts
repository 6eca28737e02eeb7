/**
 * DomainCheckpoint: a handle on one checkpoint of a domain (libvirt's virDomainCheckpointPtr),
 * with python-libvirt's method names.
 */
import type { Domain } from './domain.js';
import type { HypervisorDriver } from '../core/driver.js';
import {
  DomainCheckpointCreateFlags as Create,
  DomainCheckpointDeleteFlags as Delete,
  DomainCheckpointXMLFlags,
  ErrorDomain,
  ErrorNumber,
  type DomainCheckpointListFlags,
} from '../core/enums.generated.js';
import { VirError, noSupport } from '../core/errors.js';
import { exclusiveFlags, requireFlag } from '../rules/flags.js';

type CheckpointMethod =
  | 'checkpointCreateXML'
  | 'listAllCheckpoints'
  | 'checkpointListAllChildren'
  | 'checkpointLookupByName'
  | 'checkpointGetParent'
  | 'checkpointGetXMLDesc'
  | 'checkpointDelete';

/**
 * @internal The driver's checkpoint method `method`, bound; VIR_ERR_NO_SUPPORT (from
 * VIR_FROM_DOMAIN_CHECKPOINT, as libvirt's API module) for a driver without checkpoints, and
 * VIR_ERR_OPERATION_DENIED for a mutating call on a read-only connection.
 */
export function checkpointCall<M extends CheckpointMethod>(
  domain: Domain,
  method: M,
  api: string,
  writable: boolean,
): NonNullable<HypervisorDriver[M]> {
  const conn = domain.connection;
  const drv = writable ? conn.writableDriver(api, ErrorDomain.DOMAIN_CHECKPOINT) : conn.driverFor(api);
  const fn = drv[method];
  if (fn === undefined) throw noSupport(ErrorDomain.DOMAIN_CHECKPOINT, api);
  return fn.bind(drv) as NonNullable<HypervisorDriver[M]>;
}

/**
 * A handle on a checkpoint (libvirt's virDomainCheckpointPtr): a point in time from which the
 * hypervisor tracks which disk blocks change (on qemu, a persistent dirty bitmap in each qcow2
 * disk), for incremental backups. Addressed by its domain and name, with python-libvirt's
 * method names, async. Get handles from the {@link Domain}'s checkpoint calls.
 *
 * Checkpoints exist on the test and qemu drivers; the others answer VIR_ERR_NO_SUPPORT.
 * Besides the codes each method lists, every method that reaches the driver can raise the
 * common errors of its {@link Domain} (VIR_ERR_INVALID_CONN once the connection is closed,
 * VIR_ERR_NO_DOMAIN when the domain was removed), VIR_ERR_NO_DOMAIN_CHECKPOINT "no domain
 * checkpoint with matching name" when the checkpoint was deleted since the lookup, and
 * VIR_ERR_INVALID_ARG for flags the driver does not support, before anything changes.
 * Queries say "Effects: none": they change nothing, whether they succeed or fail.
 */
export class DomainCheckpoint {
  /** @internal Use the Domain's checkpoint calls to get handles. */
  constructor(
    /** The domain the checkpoint belongs to. */
    readonly domain: Domain,
    private readonly checkpointName: string,
  ) {}

  /** The flag combinations libvirt's public API refuses for checkpointCreateXML. @internal */
  static checkCreateFlags(flags: number): number {
    requireFlag(
      flags,
      Create.REDEFINE_VALIDATE,
      'VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE',
      Create.REDEFINE,
      'VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE',
      ErrorDomain.DOMAIN_CHECKPOINT,
    );
    return flags;
  }

  /** The checkpoint's name (virDomainCheckpointGetName). Never fails; asks no driver. */
  getName(): string {
    return this.checkpointName;
  }
  /** The domain the checkpoint belongs to (virDomainCheckpointGetDomain). Never fails. */
  getDomain(): Domain {
    return this.domain;
  }
  /** The Connection of its domain (virDomainCheckpointGetConnect). Never fails. */
  getConnect() {
    return this.domain.connection;
  }
  /**
   * The checkpoint's domaincheckpoint XML (virDomainCheckpointGetXMLDesc): name, description,
   * its current parent, creation time, the disks and their bitmaps, and the domain definition
   * it was made with. Feed it back to {@link Domain.checkpointCreateXML} with REDEFINE to
   * recreate the metadata. Flags: {@link DomainCheckpointXMLFlags} SECURE (the domain's
   * secrets), NO_DOMAIN (leave the domain out), SIZE (qemu: each bitmap's dirty bytes, for a
   * running domain; test: accepted, no sizes).
   *
   * Prerequisites: the checkpoint exists; SIZE on qemu needs a running domain; SECURE needs a
   * writable connection. Effects: none.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED for SECURE on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID for SIZE on an inactive qemu domain.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN_CHECKPOINT when the checkpoint no longer exists.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a driver without checkpoints.
   */
  async getXMLDesc(flags = 0): Promise<string> {
    if (this.domain.connection.isReadOnly() && (flags & DomainCheckpointXMLFlags.SECURE) !== 0) {
      throw VirError.report(ErrorDomain.DOMAIN_CHECKPOINT, ErrorNumber.OPERATION_DENIED, 'virDomainCheckpointGetXMLDesc with secure flag');
    }
    const call = checkpointCall(this.domain, 'checkpointGetXMLDesc', 'virDomainCheckpointGetXMLDesc', false);
    return call(this.domain.ref, this.checkpointName, flags);
  }
  /**
   * A handle on the parent checkpoint (virDomainCheckpointGetParent).
   *
   * Prerequisites: the checkpoint exists and is not a root; `flags` is 0. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN_CHECKPOINT "checkpoint 'NAME' does not have a
   * parent" for a root, or when the checkpoint no longer exists.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a driver without checkpoints.
   */
  async getParent(flags = 0): Promise<DomainCheckpoint> {
    const call = checkpointCall(this.domain, 'checkpointGetParent', 'virDomainCheckpointGetParent', false);
    return new DomainCheckpoint(this.domain, await call(this.domain.ref, this.checkpointName, flags));
  }
  /**
   * Handles on the checkpoint's children (virDomainCheckpointListAllChildren); all descendants
   * with {@link DomainCheckpointListFlags} DESCENDANTS, parents before children with
   * TOPOLOGICAL; LEAVES / NO_LEAVES filter.
   *
   * Prerequisites: the checkpoint exists. Effects: none.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a bit outside those flags.
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN_CHECKPOINT when the checkpoint no longer exists.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a driver without checkpoints.
   */
  async listAllChildren(flags: DomainCheckpointListFlags | number = 0): Promise<DomainCheckpoint[]> {
    const call = checkpointCall(this.domain, 'checkpointListAllChildren', 'virDomainCheckpointListAllChildren', false);
    const names = await call(this.domain.ref, this.checkpointName, flags);
    return names.map((n) => new DomainCheckpoint(this.domain, n));
  }
  /**
   * Deletes the checkpoint (virDomainCheckpointDelete). Flags: {@link DomainCheckpointDeleteFlags}
   * CHILDREN (its descendants too), CHILDREN_ONLY (only its descendants), METADATA_ONLY (keep the
   * bitmaps in the disk images). CHILDREN and CHILDREN_ONLY exclude each other.
   *
   * Prerequisites: a writable connection; the checkpoint exists; on qemu, unless METADATA_ONLY,
   * a running domain (libvirt removes bitmaps through the running QEMU only).
   *
   * Effects on success: the checkpoint (and with the flags its descendants) is gone: on qemu its
   * bitmaps are removed from the disks first (one QMP transaction), then its metadata in one
   * store transaction. Children of a deleted checkpoint move to its parent; when it was the
   * current checkpoint (the one a new checkpoint becomes the child of), its parent becomes
   * current.
   *
   * Effects on failure: the metadata is unchanged; on qemu the bitmaps are unchanged too (the
   * removal is one transaction).
   * @throws {@link VirError} VIR_ERR_INVALID_ARG when CHILDREN and CHILDREN_ONLY are both set, or
   * for flags the driver does not support.
   * @throws {@link VirError} VIR_ERR_OPERATION_DENIED on a read-only connection.
   * @throws {@link VirError} VIR_ERR_OPERATION_UNSUPPORTED "cannot delete checkpoint for inactive
   * domain" (qemu, without METADATA_ONLY).
   * @throws {@link VirError} VIR_ERR_NO_DOMAIN_CHECKPOINT when the checkpoint no longer exists.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT for a driver without checkpoints.
   */
  async delete(flags = 0): Promise<void> {
    exclusiveFlags(
      flags,
      Delete.CHILDREN,
      'VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN',
      Delete.CHILDREN_ONLY,
      'VIR_DOMAIN_CHECKPOINT_DELETE_CHILDREN_ONLY',
      ErrorDomain.DOMAIN_CHECKPOINT,
    );
    const call = checkpointCall(this.domain, 'checkpointDelete', 'virDomainCheckpointDelete', true);
    await call(this.domain.ref, this.checkpointName, flags);
  }
}
