/**
 * Domain records as the metadata driver's modules share them: resolving a handle, the
 * definition a domain runs with, the record changes every call makes the same way (started,
 * stopped with R5), libvirt's name/UUID conflicts and flag checks.
 */
import {
  DomainEventStoppedDetailType as Stopped,
  DomainEventType,
  DomainPausedReason,
  DomainRunningReason,
  DomainShutoffReason,
  DomainState,
  ErrorDomain,
  ErrorNumber,
} from '../../core/enums.generated.js';
import { VirError, internalError, noDomain, operationFailed } from '../../core/errors.js';
import type { DomainRef } from '../../core/driver.js';
import { formatDomainXML, parseDomainXML, type DomainDef } from '../../conf/domain.js';
import { checkFlags } from '../../rules/flags.js';
import { checkActive, planStopped } from '../../rules/lifecycle.js';
import type { DomainRecord, DomainStatus, Store } from '../../store/store.js';
import type { DomainEvents } from './events.js';
import type { GuestBackend } from './guest.js';

/** Definitions and snapshot XML read back from the store were written by tsvirt: parsed without the input checks. */
export const STORED = { stored: true } as const;

/** Summary numbers of a definition the store keeps in columns (so listing never parses XML). */
export function defNumbers(def: DomainDef): { maxMem: number; memory: number; vcpus: number } {
  return { maxMem: def.memory, memory: def.currentMemory ?? def.memory, vcpus: def.vcpu.current ?? def.vcpu.count };
}

export function refOf(rec: DomainRecord): DomainRef {
  return { name: rec.name, uuid: rec.uuid, id: rec.id };
}

export function isActive(rec: Pick<DomainRecord, 'id'>): boolean {
  return rec.id > 0;
}

/** libvirt's error for a domain whose job another call holds. */
export function lockTimeout(domain: ErrorDomain, heldBy: string): VirError {
  return VirError.report(domain, ErrorNumber.OPERATION_TIMEOUT, `cannot acquire state change lock (held by ${heldBy})`);
}

/**
 * Parsed definitions kept at most (a few KB each): beyond, the oldest goes. Only entries of
 * domains another process undefined linger, so the bound matters for those alone.
 */
const PARSED_MAX = 4096;

/** Freezes a parsed definition all the way down: it is shared by every reader of that XML. */
function deepFreeze<T>(v: T): Readonly<T> {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

/** The records of one metadata driver's store, seen the same way by all its modules. */
export class DomainRecords {
  readonly errDomain: ErrorDomain;
  /** Live definitions by domain UUID, with the XML each was parsed from (see liveDefOf). */
  private readonly parsedLive = new Map<string, { xml: string; def: Readonly<DomainDef> }>();

  constructor(
    readonly store: Store,
    readonly backend: GuestBackend,
    readonly events: DomainEvents,
  ) {
    this.errDomain = backend.errorDomain;
  }

  /** libvirt's name of the function that checks a call's flags. */
  private fn(name: string): string {
    return this.backend.functionNames?.[name] ?? `${this.backend.functionPrefix}${name}`;
  }

  /** R7: refuses flags outside `supported` with libvirt's message for `name`. */
  check(flags: number, supported: number, name: string): void {
    checkFlags(flags, supported, this.fn(name), this.errDomain);
  }

  /** The current record of a handle's domain, or libvirt's stale-handle error. */
  resolve(dom: DomainRef): DomainRecord {
    return this.store.domainByUUID(dom.uuid) ?? this.noSuchDomain(dom);
  }

  /** As resolve(), for calls that need only the run state and identity (no XML read). */
  resolveStatus(dom: DomainRef): DomainStatus {
    return this.store.domainStatusByUUID(dom.uuid) ?? this.noSuchDomain(dom);
  }

  private noSuchDomain(dom: DomainRef): never {
    throw noDomain(this.errDomain, `no domain with matching uuid '${dom.uuid}' (${dom.name})`);
  }

  /**
   * The record a metadata-only mutation works on: current (not a stale handle), not under a
   * job, and running when the call needs a running guest.
   */
  target(dom: DomainRef, need: { active?: true } = {}): DomainRecord {
    const rec = this.resolve(dom);
    this.checkNoJob(rec);
    if (need.active) checkActive({ active: isActive(rec) });
    return rec;
  }

  /** Refuses, with libvirt's lock error, while a call of this driver or of another holds the domain's job. */
  checkNoJob(rec: DomainRecord): void {
    const job = this.heldHere(rec.uuid) ?? this.store.activeJob(rec.uuid);
    if (job !== undefined) throw lockTimeout(this.errDomain, job);
  }

  /** The job a call of this driver holds on a domain (set by Jobs). */
  heldHere: (uuid: string) => string | undefined = () => undefined;

  /** The definition the domain runs with now (live when active, else config). */
  currentDef(rec: DomainRecord): DomainDef {
    const xml = isActive(rec) ? rec.liveXml : rec.configXml;
    if (xml === null) throw internalError(this.errDomain, `domain '${rec.name}' has no definition`);
    return parseDomainXML(xml, STORED);
  }

  /**
   * The live definition of a running domain (libvirt's "domain is not running" otherwise), for
   * calls that only read it: parsed once per version of its XML and shared, frozen, by every
   * reader (callers that edit a definition take fresh copies through defsOf). The entry is
   * checked against the record's own XML on each use, so a definition changed by any path —
   * this driver, another process sharing the store, a rolled-back transaction — is parsed
   * again at the next read: no write path has to remember the cache.
   */
  liveDefOf(rec: DomainRecord): Readonly<DomainDef> {
    checkActive({ active: isActive(rec) });
    const xml = rec.liveXml;
    if (xml === null) throw internalError(this.errDomain, `domain '${rec.name}' has no live definition`);
    const hit = this.parsedLive.get(rec.uuid);
    if (hit !== undefined && hit.xml === xml) return hit.def;
    const def = deepFreeze(parseDomainXML(xml, STORED));
    if (hit === undefined && this.parsedLive.size >= PARSED_MAX) this.parsedLive.delete(this.parsedLive.keys().next().value as string);
    this.parsedLive.set(rec.uuid, { xml, def });
    return def;
  }

  write(rec: DomainRecord): void {
    this.store.updateDomain(rec);
  }

  /** Deletes a domain's record (with its snapshots and checkpoints, as the store does). */
  remove(uuid: string): void {
    this.store.deleteDomain(uuid);
    this.parsedLive.delete(uuid);
  }

  /** A guest stopped, however it stopped: R5 applied, state recorded, STOPPED emitted. */
  stopped(rec: DomainRecord, reason: DomainShutoffReason, detail: Stopped): void {
    const plan = planStopped(rec);
    const ref = { ...rec };
    if (plan.removeDomain) {
      // R5/R6: a transient domain goes with all its metadata, in this same transaction.
      this.remove(rec.uuid);
    } else {
      rec.id = -1;
      rec.state = DomainState.SHUTOFF;
      rec.reason = reason;
      rec.liveXml = null;
      rec.runtime = null;
      // The live definition may have been resized (setvcpus, setmem): the config's figures again.
      if (rec.configXml !== null) Object.assign(rec, defNumbers(parseDomainXML(rec.configXml, STORED)));
      this.write(rec);
    }
    this.events.emit(ref, DomainEventType.STOPPED, detail);
  }

  /** Marks a record running with a fresh ID. */
  markStarted(rec: DomainRecord, def: DomainDef, paused: boolean, reason: DomainRunningReason, backendRuntime: string | null): void {
    rec.id = this.store.allocateID();
    rec.liveXml = formatDomainXML(def, { secure: true });
    rec.state = paused ? DomainState.PAUSED : DomainState.RUNNING;
    rec.reason = paused ? DomainPausedReason.USER : reason;
    // The backend's own record (pid, monitor socket, …) with the start time added.
    const guest = backendRuntime === null ? {} : (JSON.parse(backendRuntime) as Record<string, unknown>);
    rec.runtime = JSON.stringify({ ...guest, startedAt: Date.now() });
  }

  /** Parses a caller's definition and has the backend refuse what it cannot run. */
  parseDef(xml: string): DomainDef {
    const def = parseDomainXML(xml);
    this.backend.checkDefinition(def);
    return def;
  }

  /** libvirt's name/UUID conflict checks (virDomainObjListAdd); the record of this UUID, if any. */
  conflictsFor(def: DomainDef): DomainRecord | undefined {
    const byUUID = this.store.domainByUUID(def.uuid);
    if (byUUID !== undefined && byUUID.name !== def.name) {
      throw operationFailed(ErrorDomain.DOMAIN, `domain '${byUUID.name}' is already defined with uuid ${def.uuid}`);
    }
    const byName = this.store.domainByName(def.name);
    if (byName !== undefined && byName.uuid !== def.uuid) {
      throw operationFailed(ErrorDomain.DOMAIN, `domain '${def.name}' already exists with uuid ${byName.uuid}`);
    }
    return byUUID;
  }

  /** A new, inactive record: persistent with its config, or transient (about to start). */
  newRecord(def: DomainDef, configXml: string | null): DomainRecord {
    return {
      uuid: def.uuid,
      name: def.name,
      persistent: configXml !== null,
      configXml,
      liveXml: null,
      id: -1,
      state: DomainState.SHUTOFF,
      reason: DomainShutoffReason.UNKNOWN,
      autostart: false,
      ...defNumbers(def),
      managedSave: null,
      currentSnapshot: null,
      runtime: null,
    };
  }
}
