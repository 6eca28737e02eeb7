/**
 * R5, R8 and R11: what happens when a domain quits, what start does with a managed save image,
 * and when managed save is allowed. Pure decisions; drivers apply them.
 */
import { DomainCreateFlags, DomainSaveRestoreFlags, DomainSnapshotRevertFlags, DomainState, ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { VirError, operationInvalid } from '../core/errors.js';

/** What must happen to a domain's records when its guest stops, however it stopped (R5). */
export interface StoppedPlan {
  /** A transient domain vanishes with its snapshot metadata and everything else (R5, R6). */
  removeDomain: boolean;
}

/** R5: a transient domain that quits takes its snapshot metadata with it. */
export function planStopped(subject: { persistent: boolean }): StoppedPlan {
  return { removeDomain: !subject.persistent };
}

/** What `create` does. */
export interface StartPlan {
  /** R11: resume from the managed save image (then remove it). */
  restore: boolean;
  /** FORCE_BOOT with an image: boot afresh and discard the image. */
  discardImage: boolean;
  paused: boolean;
}

/** R11: start resumes from a managed save image and removes it, unless FORCE_BOOT. */
export function planStart(
  subject: { active: boolean; hasManagedSave: boolean },
  flags: number,
  errorDomain: ErrorDomain,
): StartPlan {
  if (subject.active) throw operationInvalid(errorDomain, 'domain is already running');
  const forceBoot = (flags & DomainCreateFlags.START_FORCE_BOOT) !== 0;
  return {
    restore: subject.hasManagedSave && !forceBoot,
    discardImage: subject.hasManagedSave && forceBoot,
    paused: (flags & DomainCreateFlags.START_PAUSED) !== 0,
  };
}

/**
 * createXML over an inactive persistent domain that has a managed save image would either lose
 * the saved memory or leave an image beside a running guest: refused, so nothing is lost.
 */
export function checkCreateOverDefined(
  subject: { name: string; hasManagedSave: boolean },
  errorDomain: ErrorDomain,
): void {
  if (subject.hasManagedSave) {
    throw operationInvalid(
      errorDomain,
      `domain '${subject.name}' has a managed save image: start it to resume, or remove the image first`,
    );
  }
}

/** R11: managed save only of a running persistent domain. */
export function checkManagedSave(subject: { persistent: boolean; active: boolean }, errorDomain: ErrorDomain): void {
  // libvirt checks activity first, from the generic domain code (VIR_FROM_DOMAIN).
  checkActive(subject);
  if (!subject.persistent) throw operationInvalid(errorDomain, 'cannot do managed save for transient domain');
}

/**
 * R11: whether a start from a managed save image resumes the vCPUs — what libvirt's save header
 * keeps: VIR_DOMAIN_SAVE_RUNNING or PAUSED when given (the API refuses both), else whether the
 * guest ran when it was saved.
 */
export function runOnRestore(flags: number, state: DomainState): boolean {
  if ((flags & DomainSaveRestoreFlags.RUNNING) !== 0) return true;
  if ((flags & DomainSaveRestoreFlags.PAUSED) !== 0) return false;
  return state !== DomainState.PAUSED;
}

/** libvirt's virDomainObjCheckActive: "domain is not running", VIR_FROM_DOMAIN. */
export function checkActive(subject: { active: boolean }): void {
  if (!subject.active) throw operationInvalid(ErrorDomain.DOMAIN, 'domain is not running');
}

/** A snapshot that halts the domain cannot be taken of a transient one (it would vanish). */
export function checkSnapshotHalt(subject: { persistent: boolean; active: boolean }, errorDomain: ErrorDomain): void {
  if (!subject.persistent && subject.active) {
    throw operationInvalid(errorDomain, 'cannot halt after transient domain snapshot');
  }
}

/**
 * Reverting a domain that has a managed save image would either resume the saved memory on the
 * snapshot's configuration or drop it: refused unless FORCE, which removes the image.
 * Returns whether the image is to be removed.
 */
export function planRevertWithImage(subject: { hasManagedSave: boolean }, flags: number, errorDomain: ErrorDomain): boolean {
  if (!subject.hasManagedSave) return false;
  if ((flags & DomainSnapshotRevertFlags.FORCE) === 0) {
    throw VirError.report(
      errorDomain,
      ErrorNumber.SNAPSHOT_REVERT_RISKY,
      'domain has a managed save image that the revert would discard',
    );
  }
  return true;
}
