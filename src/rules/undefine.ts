/**
 * R1–R4: what `undefine` may do, decided once for every driver that keeps metadata.
 * The order of checks follows libvirt's qemu driver (the real hypervisor): flags, transient,
 * snapshots of an inactive domain, checkpoints of an inactive domain, then the managed save image.
 */
import { DomainUndefineFlags, type ErrorDomain } from '../core/enums.generated.js';
import { operationInvalid } from '../core/errors.js';

/** What the rule needs to know about the domain. */
export interface UndefineSubject {
  persistent: boolean;
  active: boolean;
  hasManagedSave: boolean;
  snapshotCount: number;
  /** Checkpoints recorded for the domain (0 for a driver that keeps none). */
  checkpointCount?: number;
}

/** What undefine does, once allowed. The store applies it in one transaction. */
export interface UndefinePlan {
  /** R2: remove the managed save image too. */
  removeManagedSave: boolean;
  /** R3: remove every snapshot's metadata with the domain (inactive domains only). */
  removeSnapshotMetadata: boolean;
  /** R3 for checkpoints: remove every checkpoint's metadata with the domain (inactive only). */
  removeCheckpointMetadata: boolean;
  /** Inactive: the domain goes. Active (R4): only its config goes; it runs on as transient. */
  removeDomain: boolean;
}

/** Why an undefine would be refused, and the flag that lifts it (R1–R3). */
export interface UndefineObstacle {
  /** Which rule: the domain is transient, has snapshots, checkpoints or a managed save image. */
  kind: 'transient' | 'snapshots' | 'checkpoints' | 'managed-save';
  /** libvirt's error message for it. */
  message: string;
  /** The VIR_DOMAIN_UNDEFINE_* flag that allows the undefine anyway; null when none does (R1). */
  flag: number | null;
  /** What passing that flag does, in a user's words. */
  consequence: string;
}

/**
 * Every reason an undefine of `subject` would be refused, in the order libvirt checks them, with
 * the flag that lifts each: what a caller can show before anything is removed. An empty list
 * means a plain undefine succeeds. {@link planUndefine} refuses with the first one whose flag is
 * not given.
 */
export function undefineObstacles(subject: UndefineSubject): UndefineObstacle[] {
  const F = DomainUndefineFlags;
  const out: UndefineObstacle[] = [];
  // R1
  if (!subject.persistent) {
    out.push({ kind: 'transient', message: 'cannot undefine transient domain', flag: null, consequence: 'a transient domain has no definition to remove; it goes when it stops' });
    return out;
  }
  // R3
  if (!subject.active && subject.snapshotCount > 0) {
    out.push({
      kind: 'snapshots',
      message: `cannot delete inactive domain with ${subject.snapshotCount} snapshots`,
      flag: F.SNAPSHOTS_METADATA,
      consequence: `the metadata of ${subject.snapshotCount} snapshots is deleted (their data stays in the disk images; export the metadata first to redefine them later)`,
    });
  }
  // R3 for checkpoints, after the snapshots as in libvirt's qemuDomainUndefineFlags.
  const checkpoints = subject.checkpointCount ?? 0;
  if (!subject.active && checkpoints > 0) {
    out.push({
      kind: 'checkpoints',
      message: `cannot delete inactive domain with ${checkpoints} checkpoints`,
      flag: F.CHECKPOINTS_METADATA,
      consequence: `the metadata of ${checkpoints} checkpoints is deleted`,
    });
  }
  // R2
  if (subject.hasManagedSave) {
    out.push({
      kind: 'managed-save',
      message: 'Refusing to undefine while domain managed save image exists',
      flag: F.MANAGED_SAVE,
      consequence: 'the managed save image is deleted: the saved memory state is lost',
    });
  }
  return out;
}

/**
 * Decides an undefine, or throws libvirt's error. Flags outside the driver's supported set must
 * have been rejected before (R7).
 */
export function planUndefine(subject: UndefineSubject, flags: number, errorDomain: ErrorDomain): UndefinePlan {
  for (const o of undefineObstacles(subject)) {
    if (o.flag === null || (flags & o.flag) === 0) throw operationInvalid(errorDomain, o.message);
  }
  return {
    removeManagedSave: subject.hasManagedSave,
    // R4: an active domain keeps its metadata until it halts, whatever the flag.
    removeSnapshotMetadata: !subject.active,
    removeCheckpointMetadata: !subject.active,
    removeDomain: !subject.active,
  };
}
