/**
 * libvirt's listAllDomains filter semantics (virDomainObjListFilter): flags come in pairs or
 * groups; a group with no bit set matches everything, otherwise a domain must match one set bit.
 */
import { ConnectListAllDomainsFlags as F, DomainState } from '../core/enums.generated.js';

/** What the filter needs to know about a domain. */
export interface ListSubject {
  active: boolean;
  persistent: boolean;
  state: DomainState;
  hasManagedSave: boolean;
  autostart: boolean;
  hasSnapshot: boolean;
  /** Whether the domain has checkpoint metadata; absent for a driver that keeps none. */
  hasCheckpoint?: boolean;
}

/** The bits of ConnectListAllDomainsFlags that tsvirt filters on. */
export const LIST_DOMAINS_SUPPORTED =
  F.ACTIVE | F.INACTIVE | F.PERSISTENT | F.TRANSIENT | F.RUNNING | F.PAUSED | F.SHUTOFF | F.OTHER |
  F.MANAGEDSAVE | F.NO_MANAGEDSAVE | F.AUTOSTART | F.NO_AUTOSTART | F.HAS_SNAPSHOT | F.NO_SNAPSHOT |
  F.HAS_CHECKPOINT | F.NO_CHECKPOINT;

/**
 * One yes/no pair of filter bits: neither or both set matches everything, else the set one decides.
 */
export function matchPair(flags: number, yes: number, no: number, value: boolean): boolean {
  const y = (flags & yes) !== 0;
  const n = (flags & no) !== 0;
  if (y === n) return true;
  return y ? value : !value;
}

/** True when the domain passes the filter. */
export function matchesListFilter(d: ListSubject, flags: number): boolean {
  if (!matchPair(flags, F.ACTIVE, F.INACTIVE, d.active)) return false;
  if (!matchPair(flags, F.PERSISTENT, F.TRANSIENT, d.persistent)) return false;
  const stateBits = F.RUNNING | F.PAUSED | F.SHUTOFF | F.OTHER;
  if ((flags & stateBits) !== 0) {
    const ok =
      ((flags & F.RUNNING) !== 0 && d.state === DomainState.RUNNING) ||
      ((flags & F.PAUSED) !== 0 && d.state === DomainState.PAUSED) ||
      ((flags & F.SHUTOFF) !== 0 && d.state === DomainState.SHUTOFF) ||
      ((flags & F.OTHER) !== 0 &&
        d.state !== DomainState.RUNNING && d.state !== DomainState.PAUSED && d.state !== DomainState.SHUTOFF);
    if (!ok) return false;
  }
  if (!matchPair(flags, F.MANAGEDSAVE, F.NO_MANAGEDSAVE, d.hasManagedSave)) return false;
  if (!matchPair(flags, F.AUTOSTART, F.NO_AUTOSTART, d.autostart)) return false;
  if (!matchPair(flags, F.HAS_SNAPSHOT, F.NO_SNAPSHOT, d.hasSnapshot)) return false;
  // A driver without checkpoints: HAS_CHECKPOINT matches nothing.
  if (!matchPair(flags, F.HAS_CHECKPOINT, F.NO_CHECKPOINT, d.hasCheckpoint === true)) return false;
  return true;
}

/** True when the filter needs to know which domains have snapshots (so callers can skip the query). */
export function filterNeedsSnapshots(flags: number): boolean {
  return (flags & (F.HAS_SNAPSHOT | F.NO_SNAPSHOT)) !== 0;
}

/** True when the filter needs to know which domains have checkpoints. */
export function filterNeedsCheckpoints(flags: number): boolean {
  return (flags & (F.HAS_CHECKPOINT | F.NO_CHECKPOINT)) !== 0;
}
