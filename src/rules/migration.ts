/**
 * Migration: which of libvirt's migration flags a driver that keeps metadata honours, what an
 * offline migration needs, and what becomes of a domain's snapshot and checkpoint metadata when
 * it moves to another host. Pure decisions; the QEMU driver applies them.
 *
 * Metadata (R10's snapshot tree, and checkpoints): libvirt refuses to migrate a domain with
 * snapshots ("cannot migrate domain with N snapshots") because its metadata would stay behind.
 * tsvirt carries it instead, in the migration cookie: the destination gets the same tree, the
 * same current snapshot and the same checkpoints, without REDEFINE. That is sound only when
 * what the metadata describes travels with the disks, which migration requires to be shared:
 * internal snapshots (disk and memory state inside the qcow2 images) and checkpoint bitmaps
 * (persistent bitmaps in the images) do. A snapshot whose memory state is an external file is
 * bound to the path it names on this host; such snapshots are refused by count, before anything
 * starts, so that no metadata is ever stranded on one host or lost with UNDEFINE_SOURCE.
 */
import { DomainMigrateFlags as M, ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { VirError, operationInvalid } from '../core/errors.js';
import { checkFlags } from './flags.js';

/** Every bit libvirt 9.0's qemu driver accepts (QEMU_MIGRATION_FLAGS). */
export const MIGRATION_FLAGS =
  M.LIVE |
  M.PEER2PEER |
  M.TUNNELLED |
  M.PERSIST_DEST |
  M.UNDEFINE_SOURCE |
  M.PAUSED |
  M.NON_SHARED_DISK |
  M.NON_SHARED_INC |
  M.CHANGE_PROTECTION |
  M.UNSAFE |
  M.OFFLINE |
  M.COMPRESSED |
  M.ABORT_ON_ERROR |
  M.AUTO_CONVERGE |
  M.RDMA_PIN_ALL |
  M.POSTCOPY |
  M.TLS |
  M.PARALLEL |
  M.NON_SHARED_SYNCHRONOUS_WRITES |
  M.POSTCOPY_RESUME |
  M.ZEROCOPY;

/** Flags tsvirt accepts but cannot honour, each with why (VIR_ERR_ARGUMENT_UNSUPPORTED). */
const UNHONOURED: readonly [number, string][] = [
  [M.TUNNELLED, 'tunnelled migration is not supported'],
  [M.NON_SHARED_DISK | M.NON_SHARED_INC | M.NON_SHARED_SYNCHRONOUS_WRITES, 'migration of non-shared storage (disk copy) is not supported: the disks must be shared'],
  [M.POSTCOPY | M.POSTCOPY_RESUME, 'post-copy migration is not supported'],
  [M.COMPRESSED, 'compressed migration is not supported'],
  [M.RDMA_PIN_ALL, 'RDMA migration is not supported'],
  [M.TLS, 'migration with TLS is not supported'],
  [M.PARALLEL | M.ZEROCOPY, 'parallel migration is not supported'],
];

/**
 * Checks a migration step's flags: unknown bits (R7, VIR_ERR_INVALID_ARG naming `fn`), then the
 * offline rules in libvirt's words (VIR_ERR_OPERATION_INVALID), then what tsvirt cannot honour
 * (VIR_ERR_ARGUMENT_UNSUPPORTED).
 */
export function checkMigrationFlags(flags: number, fn: string, domain: ErrorDomain): void {
  checkFlags(flags, MIGRATION_FLAGS, fn, domain);
  if ((flags & M.OFFLINE) !== 0) {
    if ((flags & (M.NON_SHARED_DISK | M.NON_SHARED_INC)) !== 0) throw operationInvalid(domain, 'offline migration cannot handle non-shared storage');
    if ((flags & M.PERSIST_DEST) === 0) throw operationInvalid(domain, 'offline migration must be specified with the persistent flag set');
    if ((flags & M.TUNNELLED) !== 0) throw operationInvalid(domain, 'tunnelled offline migration does not make sense');
  }
  for (const [bits, why] of UNHONOURED) {
    if ((flags & bits) !== 0) throw VirError.report(domain, ErrorNumber.ARGUMENT_UNSUPPORTED, why);
  }
}

/**
 * Whether the domain can leave in this state: a live migration needs it running
 * (VIR_ERR_OPERATION_INVALID "domain is not running"); an offline one moves only the persistent
 * definition, so it needs one (a running guest stays where it is, as with libvirt).
 */
export function checkMigrationSource(subject: { active: boolean; persistent: boolean }, flags: number, domain: ErrorDomain): void {
  if ((flags & M.OFFLINE) === 0) {
    if (!subject.active) throw operationInvalid(domain, 'domain is not running');
    return;
  }
  if (!subject.persistent) throw operationInvalid(domain, 'cannot migrate a transient domain offline');
}

/**
 * The metadata decision (see the file comment): refuses, by count, snapshots bound to this host
 * (VIR_ERR_OPERATION_INVALID); everything else moves with the domain.
 */
export function checkMigrationMetadata(subject: { hostBoundSnapshots: number }, domain: ErrorDomain): void {
  const n = subject.hostBoundSnapshots;
  if (n > 0) {
    throw operationInvalid(
      domain,
      `cannot migrate domain with ${n} snapshot${n === 1 ? '' : 's'} whose memory state is an external file on this host: the destination could not revert to ${n === 1 ? 'it' : 'them'} (delete ${n === 1 ? 'it' : 'them'} first)`,
    );
  }
}

/** What becomes of the metadata (see the file comment). */
export interface MigrationMetadataPlan {
  /**
   * True: it moves (the destination has it, the source's copy goes at Confirm). False: the source
   * keeps its own and the destination's transient domain gets a copy that ends with it (R5).
   */
  move: boolean;
}

/**
 * Decides the metadata's fate: refuses host-bound snapshots (checkMigrationMetadata), and
 * UNDEFINE_SOURCE without PERSIST_DEST while there is metadata — the source's definition would
 * go and the destination's transient domain would take the metadata with it when it stops, so
 * it would be lost (VIR_ERR_OPERATION_INVALID, with the counts). It moves when the destination
 * keeps a definition (PERSIST_DEST) or the source has none to keep it; else it is copied.
 */
export function planMigrationMetadata(
  subject: { snapshots: number; checkpoints: number; hostBoundSnapshots: number; sourcePersistent: boolean },
  flags: number,
  domain: ErrorDomain,
): MigrationMetadataPlan {
  checkMigrationMetadata(subject, domain);
  const persistDest = (flags & M.PERSIST_DEST) !== 0;
  if ((flags & M.UNDEFINE_SOURCE) !== 0 && !persistDest && subject.sourcePersistent && subject.snapshots + subject.checkpoints > 0) {
    throw operationInvalid(
      domain,
      `cannot migrate domain with ${subject.snapshots} snapshots and ${subject.checkpoints} checkpoints with VIR_MIGRATE_UNDEFINE_SOURCE but without VIR_MIGRATE_PERSIST_DEST: their metadata would be lost when the transient domain on the destination stops`,
    );
  }
  return { move: persistDest || !subject.sourcePersistent };
}
