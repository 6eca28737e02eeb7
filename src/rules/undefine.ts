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

/**
 * Decides an undefine, or throws libvirt's error. Flags outside the driver's supported set must
 * have been rejected before (R7).
 */
export function planUndefine(subject: UndefineSubject, flags: number, errorDomain: ErrorDomain): UndefinePlan {
  // R1
  if (!subject.persistent) throw operationInvalid(errorDomain, 'cannot undefine transient domain');
  // R3
  if (!subject.active && subject.snapshotCount > 0 && (flags & DomainUndefineFlags.SNAPSHOTS_METADATA) === 0) {
    throw operationInvalid(errorDomain, `cannot delete inactive domain with ${subject.snapshotCount} snapshots`);
  }
  // R3 for checkpoints, after the snapshots as in libvirt's qemuDomainUndefineFlags.
  const checkpoints = subject.checkpointCount ?? 0;
  if (!subject.active && checkpoints > 0 && (flags & DomainUndefineFlags.CHECKPOINTS_METADATA) === 0) {
    throw operationInvalid(errorDomain, `cannot delete inactive domain with ${checkpoints} checkpoints`);
  }
  // R2
  if (subject.hasManagedSave && (flags & DomainUndefineFlags.MANAGED_SAVE) === 0) {
    throw operationInvalid(errorDomain, 'Refusing to undefine while domain managed save image exists');
  }
  return {
    removeManagedSave: subject.hasManagedSave,
    // R4: an active domain keeps its metadata until it halts, whatever the flag.
    removeSnapshotMetadata: !subject.active,
    removeCheckpointMetadata: !subject.active,
    removeDomain: !subject.active,
  };
}
