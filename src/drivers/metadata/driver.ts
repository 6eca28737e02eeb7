/**
 * The metadata driver: domains and snapshot metadata kept in tsvirt's store, the rules of
 * src/rules applied to them, lifecycle events recorded and delivered. A hypervisor plugs in its
 * guest actions (GuestBackend). Every call that changes something is one store transaction:
 * read, decide by the rules, act, record, commit — so a crash never leaves half an undefine.
 */
import {
  DomainCreateFlags,
  DomainEventDefinedDetailType as Defined,
  DomainEventResumedDetailType as Resumed,
  DomainEventStartedDetailType as Started,
  DomainEventStoppedDetailType as Stopped,
  DomainEventSuspendedDetailType as Suspended,
  DomainEventType,
  DomainEventUndefinedDetailType as Undefined,
  DomainEventShutdownDetailType as ShutdownDetail,
  DomainPausedReason,
  DomainRunningReason,
  DomainShutoffReason,
  DomainSnapshotCreateFlags as SnapCreate,
  DomainSnapshotDeleteFlags as SnapDelete,
  DomainSnapshotRevertFlags as Revert,
  DomainSnapshotXMLFlags,
  DomainState,
  DomainXMLFlags,
  ErrorDomain,
  ErrorNumber,
} from '../../core/enums.generated.js';
import { VirError, configUnsupported, internalError, noDomain, noSupport, operationFailed, operationInvalid } from '../../core/errors.js';
import type {
  DomainInfo,
  DomainLifecycleEvent,
  DomainRef,
  DriverEventListener,
  HypervisorDriver,
  JobOptions,
  NodeInfo,
} from '../../core/driver.js';
import { formatDomainXML, parseDomainXML, type DomainDef } from '../../conf/domain.js';
import { formatSnapshotXML, parseSnapshotXML, type SnapshotDef, type SnapshotState } from '../../conf/snapshot.js';
import { checkFlags } from '../../rules/flags.js';
import { planUndefine } from '../../rules/undefine.js';
import { checkActive, checkCreateOverDefined, checkManagedSave, planRevertWithImage, checkSnapshotHalt, planStart, planStopped } from '../../rules/lifecycle.js';
import { LIST_DOMAINS_SUPPORTED, filterNeedsSnapshots, matchesListFilter } from '../../rules/listing.js';
import { SNAPSHOT_LIST_SUPPORTED, SnapshotTree, checkRedefineParent, type SnapshotDeletePlan } from '../../rules/snapshots.js';
import type { DomainRecord, DomainStatus, DomainSummary, EventRecord, SnapshotRecord, Store } from '../../store/store.js';
import type { GuestBackend, GuestExit, GuestHost, MaybePromise } from './guest.js';

const EVENT_POLL_MS = 200;
/** Definitions and snapshot XML read back from the store were written by tsvirt: parsed without the input checks. */
const STORED = { stored: true } as const;

/** A domain record that is being changed inside one transaction. */
type Rec = DomainRecord;

/** Options of a metadata driver. */
export interface MetadataDriverOptions {
  uri: string;
  store: Store;
  backend: GuestBackend;
  /** Hypervisor version as libvirt encodes it (computed on first use when a function). */
  version: number | (() => number);
}

/** Summary numbers of a definition the store keeps in columns (so listing never parses XML). */
function defNumbers(def: DomainDef): { maxMem: number; memory: number; vcpus: number } {
  return { maxMem: def.memory, memory: def.currentMemory ?? def.memory, vcpus: def.vcpu.count };
}

function refOf(rec: Rec): DomainRef {
  return { name: rec.name, uuid: rec.uuid, id: rec.id };
}

function isActive(rec: Pick<Rec, 'id'>): boolean {
  return rec.id > 0;
}

/** libvirt's snapshot state names for a domain state. */
function snapshotStateOf(state: DomainState): SnapshotState {
  switch (state) {
    case DomainState.RUNNING:
      return 'running';
    case DomainState.PAUSED:
      return 'paused';
    case DomainState.BLOCKED:
      return 'blocked';
    case DomainState.SHUTDOWN:
      return 'shutdown';
    case DomainState.CRASHED:
      return 'crashed';
    case DomainState.PMSUSPENDED:
      return 'pmsuspended';
    case DomainState.SHUTOFF:
      return 'shutoff';
    default:
      return 'nostate';
  }
}

/** Runtime facts the simulator keeps for info(): when the guest started. */
interface RuntimeRecord {
  startedAt: number;
}

/** The metadata driver (see the file comment). */
export class MetadataDriver implements HypervisorDriver {
  readonly uri: string;
  readonly type: string;
  protected readonly store: Store;
  protected readonly backend: GuestBackend;
  private version: number | (() => number);
  private readonly errDomain: ErrorDomain;
  private readonly listeners = new Set<DriverEventListener>();
  private pending: DomainLifecycleEvent[] = [];
  private pollTimer: NodeJS.Timeout | undefined;
  private lastSeenEvent = 0;
  private lastDataVersion = -1;
  private closed = false;
  /** Domains with a call of this driver acting on their guest right now. */
  private readonly busy = new Set<string>();
  /** Exits noticed during such a call, processed when it ends. */
  private readonly deferredExits = new Map<string, GuestExit | 'vanished'>();

  constructor(options: MetadataDriverOptions) {
    this.uri = options.uri;
    this.store = options.store;
    this.backend = options.backend;
    this.type = options.backend.type;
    this.version = options.version;
    this.errDomain = options.backend.errorDomain;
    options.backend.onExit?.((uuid, how) => this.guestExited(uuid, how));
  }

  // Connection.

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    this.listeners.clear();
    await this.backend.close?.();
    this.store.close();
  }
  /** Resolves once every change made so far is durable (tsvirtd's group commit: Store.durable). */
  durable(): Promise<void> {
    return this.store.durable();
  }
  async getHostname(): Promise<string> {
    // Loaded here: a command that does not ask spares node:os at start-up.
    return (await import('node:os')).hostname();
  }
  async getVersion(): Promise<number> {
    if (typeof this.version === 'function') this.version = this.version();
    return this.version;
  }
  async isAlive(): Promise<boolean> {
    return !this.closed;
  }

  private fn(name: string): string {
    return this.backend.functionNames?.[name] ?? `${this.backend.functionPrefix}${name}`;
  }

  private check(flags: number, supported: number, name: string): void {
    checkFlags(flags, supported, this.fn(name), this.errDomain);
  }

  // Lookups.

  async listAllDomains(flags: number): Promise<DomainRef[]> {
    this.check(flags, LIST_DOMAINS_SUPPORTED, 'ConnectListAllDomains');
    return this.store.read(() => {
      const all = this.store.domainSummaries();
      const toRef = (d: DomainSummary): DomainRef => ({ name: d.name, uuid: d.uuid, id: d.id });
      if (flags === 0) return all.map(toRef);
      const withSnapshots = filterNeedsSnapshots(flags) ? this.store.domainsWithSnapshots() : new Set<string>();
      return all
        .filter((d) =>
          matchesListFilter(
            { ...d, active: d.id > 0, hasSnapshot: withSnapshots.has(d.uuid) },
            flags,
          ),
        )
        .map(toRef);
    });
  }
  async numOfDomains(): Promise<number> {
    return this.store.countActive();
  }
  async numOfDefinedDomains(): Promise<number> {
    return this.store.countInactive();
  }
  async lookupByName(name: string): Promise<DomainRef> {
    const rec = this.store.domainByName(name);
    if (rec === undefined) throw noDomain(this.errDomain, `no domain with matching name '${name}'`);
    return refOf(rec);
  }
  async lookupByUUID(uuid: string): Promise<DomainRef> {
    const rec = this.store.domainByUUID(uuid.toLowerCase());
    if (rec === undefined) throw noDomain(this.errDomain, `no domain with matching uuid '${uuid}'`);
    return refOf(rec);
  }
  async lookupByID(id: number): Promise<DomainRef> {
    const rec = Number.isInteger(id) && id > 0 ? this.store.domainByID(id) : undefined;
    if (rec === undefined) throw noDomain(this.errDomain, `no domain with matching id ${id}`);
    return refOf(rec);
  }

  /** The current record of a handle's domain, or libvirt's stale-handle error. */
  private resolve(dom: DomainRef): Rec {
    return this.store.domainByUUID(dom.uuid) ?? this.noSuchDomain(dom);
  }

  /** As resolve(), for calls that need only the run state and identity (no XML read). */
  private resolveStatus(dom: DomainRef): DomainStatus {
    return this.store.domainStatusByUUID(dom.uuid) ?? this.noSuchDomain(dom);
  }

  private noSuchDomain(dom: DomainRef): never {
    throw noDomain(this.errDomain, `no domain with matching uuid '${dom.uuid}' (${dom.name})`);
  }

  /** The definition the domain runs with now (live when active, else config). */
  private currentXML(rec: Rec): string {
    const xml = isActive(rec) ? rec.liveXml : rec.configXml;
    if (xml === null) throw internalError(this.errDomain, `domain '${rec.name}' has no definition`);
    return xml;
  }

  private currentDef(rec: Rec): DomainDef {
    return parseDomainXML(this.currentXML(rec), STORED);
  }

  // Mutations: one transaction each.

  /**
   * Runs a mutation on one domain: inside one store transaction, refuses while another process
   * holds a long job on it, then delivers the events the mutation queued once it committed.
   * When another process holds the store's write lock and the store must not block (tsvirtd),
   * it waits for it on a timer (Store.writable); else it runs at once, before it returns.
   */
  private mutate<T>(fn: () => T, options: { unsynced?: boolean } = {}): Promise<T> {
    const wait = this.store.writable();
    if (wait !== undefined) return wait.then(() => this.mutateNow(fn, options));
    try {
      return Promise.resolve(this.mutateNow(fn, options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private mutateNow<T>(fn: () => T, options: { unsynced?: boolean }): T {
    this.pending = [];
    let result: T;
    try {
      result = options.unsynced === true ? this.store.mutateUnsynced(fn) : this.store.mutate(fn);
    } catch (err) {
      this.pending = [];
      throw err;
    }
    const events = this.pending;
    this.pending = [];
    // At once, unless the store groups commits (tsvirtd): then once the change is durable.
    if (events.length > 0) this.store.afterCommit(() => events.forEach((ev) => this.deliver(ev)));
    return result;
  }

  /**
   * The record a mutation works on: current (not a stale handle), not under another process's
   * job, and running when the call needs a running guest.
   */
  private target(dom: DomainRef, need: { active?: true } = {}): Rec {
    const rec = this.resolve(dom);
    this.checkNoJob(rec);
    if (need.active) checkActive({ active: isActive(rec) });
    return rec;
  }

  private checkNoJob(rec: Rec): void {
    const job = this.store.activeJob(rec.uuid);
    if (job !== undefined) throw lockTimeout(this.errDomain, job);
  }

  /**
   * Runs a call that acts on a guest. With an instant backend (the simulator) the checks, the
   * action and the record are one transaction. With a real one: a first transaction checks by the
   * rules and takes the domain's job, the action runs outside any transaction, and a second one
   * records the outcome and releases the job; `after` runs once the outcome is committed (file
   * removals: a crash before them leaves an unreferenced file, never a record without its file).
   */
  private async run<P, R, T>(dom: DomainRef, job: string, step: GuestStep<P, R, T>): Promise<T> {
    if (this.backend.instant) {
      const out = await this.mutate(() => {
        const rec = this.target(dom, step.need);
        const plan = step.plan(rec);
        const result = step.act(rec, plan);
        if (result instanceof Promise) throw internalError(this.errDomain, 'an instant backend answered later');
        return { value: step.commit(rec, plan, result), plan, result };
      });
      if (step.after) await step.after(out.plan, out.result);
      return out.value;
    }
    const { rec, plan, token } = await this.takeJob(dom, job, step);
    let result: R;
    let value: T;
    try {
      result = await step.act(rec, plan);
      value = await this.mutate(
        () => {
          this.store.releaseJob(rec.uuid, token);
          const fresh = this.resolve(dom);
          return step.commit(fresh, plan, result);
        },
        step.runStateOnly?.(plan) === true ? RUN_STATE : {},
      );
    } catch (err) {
      await this.mutate(() => this.store.releaseJob(rec.uuid, token));
      throw err;
    } finally {
      this.busy.delete(rec.uuid);
      this.processDeferredExit(rec.uuid);
    }
    if (step.after) await step.after(plan, result);
    return value;
  }

  /**
   * Takes a domain's job for a real backend's call, waiting (as libvirt does, up to 30 s) while
   * another call on the same domain holds it.
   */
  private async takeJob<P>(
    dom: DomainRef,
    job: string,
    step: { need?: { active?: true }; plan: (rec: Rec) => P },
  ): Promise<{ rec: Rec; plan: P; token: string }> {
    const deadline = Date.now() + JOB_WAIT_MS;
    for (;;) {
      try {
        // Only the job is written here: its loss in a power failure is harmless (no fsync).
        return await this.mutate(
          () => {
            const rec = this.target(dom, step.need);
            const plan = step.plan(rec);
            const got = this.store.tryAcquireJob(rec.uuid, job);
            if (!('token' in got)) throw lockTimeout(this.errDomain, got.heldBy);
            this.busy.add(rec.uuid);
            return { rec, plan, token: got.token };
          },
          { unsynced: true },
        );
      } catch (err) {
        const busy = err instanceof VirError && err.code === ErrorNumber.OPERATION_TIMEOUT;
        if (!busy || Date.now() >= deadline) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }

  /** A guest stopped on its own (R5, R12): recorded now, or after the call that holds its job. */
  private guestExited(uuid: string, how: GuestExit | 'vanished'): void {
    if (this.closed) return;
    if (this.busy.has(uuid)) {
      this.deferredExits.set(uuid, how);
      return;
    }
    const record = (): void => this.mutateNow(() => {
      const rec = this.store.domainByUUID(uuid);
      if (rec === undefined || !isActive(rec)) return;
      // Another process holds the job: it is acting on the guest and records the outcome.
      if (this.store.activeJob(uuid) !== undefined) return;
      if (how === 'shutdown') {
        this.emit(rec, DomainEventType.SHUTDOWN, ShutdownDetail.GUEST);
        this.stopped(rec, DomainShutoffReason.SHUTDOWN, Stopped.SHUTDOWN);
      } else if (how === 'crashed') {
        this.stopped(rec, DomainShutoffReason.CRASHED, Stopped.CRASHED);
      } else {
        this.stopped(rec, DomainShutoffReason.UNKNOWN, Stopped.FAILED);
      }
    }, RUN_STATE);
    // Recorded at once unless another process holds the store's write lock (see mutate()); if
    // that lock never comes, the next open's reconcile records the exit (R5, R12).
    const wait = this.store.writable();
    if (wait === undefined) record();
    else wait.then(record).catch(() => {});
  }

  private processDeferredExit(uuid: string): void {
    const how = this.deferredExits.get(uuid);
    if (how === undefined) return;
    this.deferredExits.delete(uuid);
    this.guestExited(uuid, how);
  }

  /**
   * Reconciles at open (DESIGN §5): a guest recorded as running whose process is gone is
   * processed as stopped, with R5 applied. Only real backends can lose guests.
   */
  async reconcile(): Promise<void> {
    const isRunning = this.backend.isRunning?.bind(this.backend);
    if (this.backend.instant || isRunning === undefined) return;
    for (const rec of this.store.activeDomains()) {
      if (!(await isRunning(rec))) this.guestExited(rec.uuid, this.backend.takeExitReason?.(rec.uuid) ?? 'vanished');
    }
  }

  private emit(rec: Rec, event: DomainEventType, detail: number): void {
    const ev: DomainLifecycleEvent = { domain: refOf(rec), event, detail };
    this.store.appendEvent({ uuid: rec.uuid, name: rec.name, id: rec.id, event, detail });
    this.pending.push(ev);
  }

  private write(rec: Rec): void {
    this.store.updateDomain(rec);
  }

  /** A guest stopped, however it stopped: R5 applied, state recorded, STOPPED emitted. */
  private stopped(rec: Rec, reason: DomainShutoffReason, detail: Stopped): void {
    const plan = planStopped(rec);
    const ref = { ...rec };
    if (plan.removeDomain) {
      // R5/R6: a transient domain goes with all its metadata, in this same transaction.
      this.store.deleteDomain(rec.uuid);
    } else {
      rec.id = -1;
      rec.state = DomainState.SHUTOFF;
      rec.reason = reason;
      rec.liveXml = null;
      rec.runtime = null;
      this.write(rec);
    }
    this.emit(ref, DomainEventType.STOPPED, detail);
  }

  /** Marks a record running with a fresh ID. */
  private markStarted(
    rec: Rec,
    def: DomainDef,
    paused: boolean,
    reason: DomainRunningReason,
    backendRuntime: string | null,
  ): void {
    rec.id = this.store.allocateID();
    rec.liveXml = formatDomainXML(def, { secure: true });
    rec.state = paused ? DomainState.PAUSED : DomainState.RUNNING;
    rec.reason = paused ? DomainPausedReason.USER : reason;
    // The backend's own record (pid, monitor socket, …) with the start time added.
    const guest = backendRuntime === null ? {} : (JSON.parse(backendRuntime) as Record<string, unknown>);
    rec.runtime = JSON.stringify({ ...guest, startedAt: Date.now() });
  }

  private parseDef(xml: string): DomainDef {
    const def = parseDomainXML(xml);
    this.backend.checkDefinition(def);
    return def;
  }

  /** libvirt's name/UUID conflict checks (virDomainObjListAdd). */
  private conflictsFor(def: DomainDef): Rec | undefined {
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

  async defineXML(xml: string, flags: number): Promise<DomainRef> {
    this.check(flags, this.backend.supported.defineXML, 'DomainDefineXMLFlags');
    const def = this.parseDef(xml);
    const configXml = formatDomainXML(def, { inactive: true, secure: true });
    return this.mutate(() => {
      const existing = this.conflictsFor(def);
      if (existing === undefined) {
        const rec = this.newRecord(def, configXml);
        this.store.insertDomain(rec);
        this.emit(rec, DomainEventType.DEFINED, Defined.ADDED);
        return refOf(rec);
      }
      this.checkNoJob(existing);
      existing.configXml = configXml;
      existing.persistent = true;
      if (!isActive(existing)) Object.assign(existing, defNumbers(def));
      this.write(existing);
      this.emit(existing, DomainEventType.DEFINED, Defined.UPDATED);
      return refOf(existing);
    });
  }

  async createXML(xml: string, flags: number): Promise<DomainRef> {
    this.check(flags, this.backend.supported.createXML, 'DomainCreateXML');
    const def = this.parseDef(xml);
    const paused = (flags & DomainCreateFlags.START_PAUSED) !== 0;
    const ref: DomainRef = { name: def.name, uuid: def.uuid, id: -1 };
    // The domain may not exist yet: the job is taken on its UUID all the same.
    return this.runCreate(ref, {
      plan: () => {
        const existing = this.conflictsFor(def);
        if (existing !== undefined) {
          if (isActive(existing)) throw operationInvalid(ErrorDomain.DOMAIN, `domain '${def.name}' is already active`);
          this.checkNoJob(existing);
          checkCreateOverDefined({ name: existing.name, hasManagedSave: existing.managedSave !== null }, this.errDomain);
        }
        return existing;
      },
      act: (existing) => this.backend.start(existing ?? this.newRecord(def, null), def, { paused, image: null }),
      undo: (runtime) => this.backend.kill({ ...this.newRecord(def, null), runtime }),
      commit: (runtime) => {
        const existing = this.conflictsFor(def);
        const rec = existing ?? this.newRecord(def, null);
        Object.assign(rec, defNumbers(def));
        this.markStarted(rec, def, paused, DomainRunningReason.BOOTED, runtime);
        if (existing === undefined) this.store.insertDomain(rec);
        else this.write(rec);
        this.emit(rec, DomainEventType.STARTED, Started.BOOTED);
        if (paused) this.emit(rec, DomainEventType.SUSPENDED, Suspended.PAUSED);
        else if (this.backend.monitorEvents === true) this.emit(rec, DomainEventType.RESUMED, Resumed.UNPAUSED);
        return refOf(rec);
      },
    });
  }

  /** createXML's runner: like `run`, for a domain that may not have a record yet. */
  private async runCreate(
    ref: DomainRef,
    step: {
      plan: () => Rec | undefined;
      act: (existing: Rec | undefined) => MaybePromise<string | null>;
      /** Stops a guest that started but could not be recorded. */
      undo: (runtime: string | null) => MaybePromise<void>;
      commit: (runtime: string | null) => DomainRef;
    },
  ): Promise<DomainRef> {
    if (this.backend.instant) {
      return this.mutate(() => {
        const runtime = step.act(step.plan());
        if (runtime instanceof Promise) throw internalError(this.errDomain, 'an instant backend answered later');
        return step.commit(runtime);
      });
    }
    // Only the job, then only run state (a transient domain or a live definition): see RUN_STATE.
    const { token, existing } = await this.mutate(() => {
      const existing = step.plan();
      const got = this.store.tryAcquireJob(ref.uuid, 'virDomainCreateXML');
      if (!('token' in got)) throw lockTimeout(this.errDomain, got.heldBy);
      this.busy.add(ref.uuid);
      return { token: got.token, existing };
    }, RUN_STATE);
    try {
      const runtime = await step.act(existing);
      try {
        return await this.mutate(() => {
          this.store.releaseJob(ref.uuid, token);
          return step.commit(runtime);
        }, RUN_STATE);
      } catch (err) {
        // The guest runs but cannot be recorded (a conflict appeared meanwhile): stop it.
        await step.undo(runtime);
        throw err;
      }
    } finally {
      await this.mutate(() => this.store.releaseJob(ref.uuid, token));
      this.busy.delete(ref.uuid);
      this.processDeferredExit(ref.uuid);
    }
  }

  /** A new, inactive record: persistent with its config, or transient (about to start). */
  private newRecord(def: DomainDef, configXml: string | null): Rec {
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

  async domainCreate(dom: DomainRef, flags: number): Promise<DomainRef> {
    this.check(flags, this.backend.supported.create, 'DomainCreateWithFlags');
    return this.run(dom, 'virDomainCreateWithFlags', {
      plan: (rec) => ({
        ...planStart({ active: isActive(rec), hasManagedSave: rec.managedSave !== null }, flags, this.errDomain),
        def: this.currentDef(rec),
        image: rec.managedSave,
      }),
      act: (rec, plan) => this.backend.start(rec, plan.def, { paused: plan.paused, image: plan.restore ? plan.image : null }),
      commit: (rec, plan, runtime) => {
        // R11: the image is consumed by the restore, or discarded by FORCE_BOOT (file removed after).
        rec.managedSave = null;
        const reason = plan.restore ? DomainRunningReason.RESTORED : DomainRunningReason.BOOTED;
        this.markStarted(rec, plan.def, plan.paused, reason, runtime);
        this.write(rec);
        this.emit(rec, DomainEventType.STARTED, plan.restore ? Started.RESTORED : Started.BOOTED);
        if (plan.paused) this.emit(rec, DomainEventType.SUSPENDED, Suspended.PAUSED);
        else if (this.backend.monitorEvents === true) this.emit(rec, DomainEventType.RESUMED, Resumed.UNPAUSED);
        return refOf(rec);
      },
      after: async (plan) => {
        if (plan.image !== null) await this.backend.removeImage(plan.image);
      },
      // Not when a managed-save image is consumed or discarded: the record must not name a
      // file removed after it.
      runStateOnly: (plan) => plan.image === null,
    });
  }

  async domainShutdown(dom: DomainRef, flags: number): Promise<void> {
    this.check(flags, this.backend.supported.shutdown, 'DomainShutdownFlags');
    await this.run(dom, 'virDomainShutdownFlags', {
      need: { active: true },
      plan: () => undefined,
      // R8: only asks; the guest decides.
      act: (rec) => this.backend.powerButton(rec, () => this.currentDef(rec)),
      commit: (rec, _plan, answer) => {
        if (answer === 'stopped') this.stopped(rec, DomainShutoffReason.SHUTDOWN, Stopped.SHUTDOWN);
      },
      runStateOnly: () => true,
    });
  }

  async domainDestroy(dom: DomainRef, flags: number): Promise<void> {
    this.check(flags, this.backend.supported.destroy, 'DomainDestroyFlags');
    await this.run(dom, 'virDomainDestroyFlags', {
      need: { active: true },
      plan: () => undefined,
      act: (rec) => this.backend.kill(rec),
      commit: (rec) => {
        if (!isActive(rec)) return;
        if (this.backend.monitorEvents === true) this.emit(rec, DomainEventType.SHUTDOWN, ShutdownDetail.HOST);
        this.stopped(rec, DomainShutoffReason.DESTROYED, Stopped.DESTROYED);
      },
      runStateOnly: () => true,
    });
  }

  async domainReboot(dom: DomainRef, flags: number): Promise<void> {
    this.check(flags, this.backend.supported.reboot, 'DomainReboot');
    await this.run(dom, 'virDomainReboot', {
      need: { active: true },
      plan: (rec) => this.currentDef(rec),
      act: (rec, def) => this.backend.reboot(rec, def),
      commit: () => undefined,
    });
  }

  async domainSuspend(dom: DomainRef): Promise<void> {
    await this.run(dom, 'virDomainSuspend', {
      need: { active: true },
      plan: (rec) => rec.state === DomainState.PAUSED,
      act: (rec, already) => (already ? undefined : this.backend.suspend(rec)),
      commit: (rec, already) => {
        if (already || !isActive(rec)) return;
        rec.state = DomainState.PAUSED;
        rec.reason = DomainPausedReason.USER;
        this.write(rec);
        this.emit(rec, DomainEventType.SUSPENDED, Suspended.PAUSED);
      },
      runStateOnly: () => true,
    });
  }

  async domainResume(dom: DomainRef): Promise<void> {
    await this.run(dom, 'virDomainResume', {
      need: { active: true },
      // As libvirt's qemu driver: resuming a guest that runs is a no-op.
      plan: (rec) => rec.state !== DomainState.PAUSED,
      act: (rec, running) => (running ? undefined : this.backend.resume(rec)),
      commit: (rec, running) => {
        if (running || !isActive(rec)) return;
        rec.state = DomainState.RUNNING;
        rec.reason = DomainRunningReason.UNPAUSED;
        this.write(rec);
        this.emit(rec, DomainEventType.RESUMED, Resumed.UNPAUSED);
      },
      runStateOnly: () => true,
    });
  }

  async domainUndefine(dom: DomainRef, flags: number): Promise<void> {
    this.check(flags, this.backend.supported.undefine, 'DomainUndefineFlags');
    await this.run(dom, 'virDomainUndefineFlags', {
      plan: (rec) => ({
        ...planUndefine(
          {
            persistent: rec.persistent,
            active: isActive(rec),
            hasManagedSave: rec.managedSave !== null,
            snapshotCount: isActive(rec) ? 0 : this.store.snapshotCount(rec.uuid),
          },
          flags,
          this.errDomain,
        ),
        image: rec.managedSave,
      }),
      act: () => undefined,
      commit: (rec, plan) => {
        if (plan.removeDomain) {
          // R3: the domain and all its snapshot metadata go in this one transaction.
          this.store.deleteDomain(rec.uuid);
        } else {
          // R4: the running guest becomes transient and keeps its metadata until it halts.
          rec.persistent = false;
          rec.configXml = null;
          rec.autostart = false;
          rec.managedSave = null;
          this.write(rec);
        }
        this.emit(rec, DomainEventType.UNDEFINED, Undefined.REMOVED);
      },
      after: async (plan) => {
        if (plan.removeManagedSave && plan.image !== null) await this.backend.removeImage(plan.image);
      },
    });
  }

  async domainIsActive(dom: DomainRef): Promise<boolean> {
    return isActive(this.resolveStatus(dom));
  }
  async domainIsPersistent(dom: DomainRef): Promise<boolean> {
    return this.resolveStatus(dom).persistent;
  }
  async domainGetID(dom: DomainRef): Promise<number> {
    return this.resolveStatus(dom).id;
  }
  async domainGetState(dom: DomainRef, flags: number): Promise<[DomainState, number]> {
    this.check(flags, 0, 'DomainGetState');
    const rec = this.resolveStatus(dom);
    return [rec.state, rec.reason];
  }
  async domainGetInfo(dom: DomainRef): Promise<DomainInfo> {
    const rec = this.resolve(dom);
    let cpuTime = 0;
    if (isActive(rec) && rec.runtime !== null) {
      const runtime = JSON.parse(rec.runtime) as RuntimeRecord;
      cpuTime = Math.max(0, Date.now() - runtime.startedAt) * 1_000_000;
    }
    return { state: rec.state, maxMem: rec.maxMem, memory: rec.memory, nrVirtCpu: rec.vcpus, cpuTime };
  }
  async domainGetXMLDesc(dom: DomainRef, flags: number): Promise<string> {
    this.check(flags, this.backend.supported.getXMLDesc, 'DomainGetXMLDesc');
    const rec = this.resolve(dom);
    const inactive = (flags & DomainXMLFlags.INACTIVE) !== 0;
    const secure = (flags & DomainXMLFlags.SECURE) !== 0;
    if (isActive(rec) && !inactive) {
      return formatDomainXML(parseDomainXML(rec.liveXml ?? '', STORED), { id: rec.id, secure });
    }
    // libvirt gives the live definition of a transient domain even with INACTIVE.
    const xml = rec.configXml ?? rec.liveXml;
    if (xml === null) throw internalError(this.errDomain, `domain '${rec.name}' has no definition`);
    return formatDomainXML(parseDomainXML(xml, STORED), { inactive: true, secure });
  }
  async domainGetAutostart(dom: DomainRef): Promise<boolean> {
    return this.resolve(dom).autostart;
  }
  async domainSetAutostart(dom: DomainRef, autostart: boolean): Promise<void> {
    await this.mutate(() => {
      const rec = this.resolve(dom);
      if (!rec.persistent) throw operationInvalid(this.errDomain, 'cannot set autostart for transient domain');
      rec.autostart = autostart;
      this.write(rec);
    });
  }

  // Managed save (R11).

  async managedSave(dom: DomainRef, flags: number, options?: JobOptions): Promise<void> {
    this.check(flags, this.backend.supported.managedSave, 'DomainManagedSave');
    await this.run(dom, 'virDomainManagedSave', {
      plan: (rec) => checkManagedSave({ persistent: rec.persistent, active: isActive(rec) }, this.errDomain),
      act: (rec) => this.backend.saveMemory(rec, options),
      commit: (rec, _plan, image) => {
        rec.managedSave = image;
        // The vCPUs were stopped for the save (unless the guest was paused already).
        if (this.backend.monitorEvents === true && rec.state !== DomainState.PAUSED) {
          this.emit(rec, DomainEventType.SUSPENDED, Suspended.PAUSED);
        }
        this.stopped(rec, DomainShutoffReason.SAVED, Stopped.SAVED);
      },
    });
    // An instant backend saves at once: one report, complete.
    if (this.backend.instant) options?.onProgress?.({ processed: 1, total: 1 });
  }
  async hasManagedSaveImage(dom: DomainRef, flags: number): Promise<boolean> {
    this.check(flags, 0, 'DomainHasManagedSaveImage');
    return this.resolve(dom).managedSave !== null;
  }
  async managedSaveRemove(dom: DomainRef, flags: number): Promise<void> {
    this.check(flags, 0, 'DomainManagedSaveRemove');
    await this.run(dom, 'virDomainManagedSaveRemove', {
      plan: (rec) => rec.managedSave,
      act: () => undefined,
      commit: (rec) => {
        if (rec.managedSave === null) return;
        // libvirt keeps the shut-off reason 'saved' after the image is removed.
        rec.managedSave = null;
        this.write(rec);
      },
      after: async (image) => {
        if (image !== null) await this.backend.removeImage(image);
      },
    });
  }

  // Snapshots.

  private tree(uuid: string): SnapshotTree {
    return new SnapshotTree(this.store.snapshotTree(uuid));
  }

  private requireSnapshot(rec: Rec, name: string): SnapshotRecord {
    const snap = this.store.snapshot(rec.uuid, name);
    if (snap === undefined) {
      throw VirError.report(
        ErrorDomain.DOMAIN_SNAPSHOT,
        ErrorNumber.NO_DOMAIN_SNAPSHOT,
        `no domain snapshot with matching name '${name}'`,
      );
    }
    return snap;
  }

  async snapshotCreateXML(dom: DomainRef, xml: string, flags: number, options?: JobOptions): Promise<string> {
    this.check(flags, this.backend.supported.snapshotCreateXML, 'DomainSnapshotCreateXML');
    const redefine = (flags & SnapCreate.REDEFINE) !== 0;
    const parsed = parseSnapshotXML(xml, { requireFullForRedefine: redefine });
    if (redefine) return this.mutate(() => this.redefineSnapshot(this.target(dom), parsed, flags));
    const hooks = this.backend.snapshots;
    if (!this.backend.metadataSnapshots && hooks === undefined) return this.mutate(() => this.refuseSnapshot(this.target(dom)));
    const keepMetadata = (flags & SnapCreate.NO_METADATA) === 0;
    return this.run(dom, 'virDomainSnapshotCreateXML', {
      plan: (rec) => {
        // libvirt parses the XML of a snapshot of a shut-off domain as offline: no memory state.
        if (!isActive(rec)) parseSnapshotXML(xml, { offline: true });
        const plan = this.planSnapshot(rec, parsed, flags);
        if (plan.active && (flags & SnapCreate.LIVE) !== 0 && plan.def.memory?.snapshot !== 'external') {
          throw VirError.report(
            this.errDomain,
            ErrorNumber.OPERATION_UNSUPPORTED,
            'live snapshot creation is supported only during full system snapshots',
          );
        }
        hooks?.check(plan.def.domain ?? this.currentDef(rec), plan.def, plan.active);
        return plan;
      },
      act: (rec, plan) => {
        if (hooks === undefined) return plan.halt ? this.backend.kill(rec) : undefined;
        return (async () => {
          await hooks.create(rec, plan.def.domain ?? this.currentDef(rec), plan.def, plan.active, options);
          if (plan.halt) await this.backend.kill(rec);
        })();
      },
      commit: (rec, plan) => {
        if (keepMetadata) {
          this.store.putSnapshot(rec.uuid, { ...plan.record, seq: this.store.nextSnapshotSeq(rec.uuid) });
          rec.currentSnapshot = plan.record.name;
        }
        if (plan.halt && isActive(rec)) this.stopped(rec, DomainShutoffReason.FROM_SNAPSHOT, Stopped.FROM_SNAPSHOT);
        else if (keepMetadata) this.write(rec);
        return plan.record.name;
      },
    });
  }

  /**
   * A backend without snapshot support of its own can keep only REDEFINEd metadata: a new
   * snapshot would promise a state it cannot restore. libvirt's words for a diskless domain.
   */
  private refuseSnapshot(rec: Rec): never {
    if (this.currentDef(rec).devices.disks.length === 0) {
      throw configUnsupported(this.errDomain, 'nothing selected for snapshot');
    }
    throw VirError.report(
      this.errDomain,
      ErrorNumber.OPERATION_UNSUPPORTED,
      `snapshots of disks are not implemented by tsvirt's ${this.backend.functionPrefix} driver yet`,
    );
  }

  /** A new snapshot's record, by the rules; `halt` when the guest is to stop after it. */
  private planSnapshot(
    rec: Rec,
    def: SnapshotDef,
    flags: number,
  ): { record: SnapshotRecord; def: SnapshotDef; halt: boolean; active: boolean } {
    const active = isActive(rec);
    const halt = (flags & SnapCreate.HALT) !== 0;
    if (halt) checkSnapshotHalt({ persistent: rec.persistent, active }, this.errDomain);
    const now = Math.floor(Date.now() / 1000);
    const name = def.name ?? String(now);
    if (this.store.snapshotNode(rec.uuid, name) !== undefined) throw operationFailed(ErrorDomain.DOMAIN, `domain moment ${name} already exists`);
    const domainDef = this.currentDef(rec);
    const full: SnapshotDef = {
      ...def,
      disks: alignSnapshotDisks(def.disks, domainDef),
      name,
      state: snapshotStateOf(rec.state),
      creationTime: now,
      parent: rec.currentSnapshot ?? undefined,
      memory: def.memory ?? { snapshot: active ? 'internal' : 'no' },
      domain: domainDef,
    };
    const record: SnapshotRecord = {
      name,
      parent: rec.currentSnapshot,
      seq: 0,
      state: full.state,
      creationTime: now,
      memory: full.memory?.snapshot ?? 'no',
      external: isExternal(full),
      xml: formatSnapshotXML(full, { secure: true }),
    };
    return { record, def: full, halt: halt && active, active };
  }

  private redefineSnapshot(rec: Rec, def: SnapshotDef, flags: number): string {
    const name = def.name;
    if (name === undefined || def.creationTime === undefined) {
      throw internalError(ErrorDomain.DOMAIN_SNAPSHOT, 'missing creationTime from existing snapshot');
    }
    const parent = def.parent ?? null;
    checkRedefineParent(name, parent, (n) => this.store.snapshotNode(rec.uuid, n), this.errDomain);
    if (def.domain !== undefined && def.domain.uuid !== rec.uuid) {
      throw VirError.report(
        this.errDomain,
        ErrorNumber.INVALID_ARG,
        `definition for snapshot ${name} must use uuid ${rec.uuid}`,
      );
    }
    const existing = this.store.snapshotNode(rec.uuid, name);
    const record: SnapshotRecord = {
      name,
      parent,
      seq: existing?.seq ?? this.store.nextSnapshotSeq(rec.uuid),
      state: def.state,
      creationTime: def.creationTime,
      memory: def.memory?.snapshot ?? (def.state === 'shutoff' || def.state === 'disk-snapshot' ? 'no' : 'internal'),
      external: isExternal(def),
      xml: formatSnapshotXML({ ...def, active: undefined }, { secure: true }),
    };
    this.store.putSnapshot(rec.uuid, record);
    if ((flags & SnapCreate.CURRENT) !== 0) {
      rec.currentSnapshot = name;
      this.write(rec);
    }
    return name;
  }

  async snapshotNum(dom: DomainRef, flags: number): Promise<number> {
    this.check(flags, SNAPSHOT_LIST_SUPPORTED, 'DomainSnapshotNum');
    const rec = this.resolve(dom);
    if (flags === 0) return this.store.snapshotCount(rec.uuid);
    return this.tree(rec.uuid).list(flags).length;
  }
  async snapshotListNames(dom: DomainRef, flags: number): Promise<string[]> {
    this.check(flags, SNAPSHOT_LIST_SUPPORTED, 'DomainSnapshotListNames');
    return this.listSnapshotNames(dom, flags);
  }
  async listAllSnapshots(dom: DomainRef, flags: number): Promise<string[]> {
    this.check(flags, SNAPSHOT_LIST_SUPPORTED, 'DomainListAllSnapshots');
    return this.listSnapshotNames(dom, flags);
  }
  private listSnapshotNames(dom: DomainRef, flags: number): string[] {
    return this.store.read(() => {
      const uuid = this.resolve(dom).uuid;
      // No filter: the names straight from the index, no tree needed.
      if (flags === 0) return this.store.snapshotNames(uuid);
      return this.tree(uuid).list(flags).map((n) => n.name);
    });
  }
  async snapshotLookupByName(dom: DomainRef, name: string, flags: number): Promise<string> {
    this.check(flags, 0, 'DomainSnapshotLookupByName');
    return this.requireSnapshot(this.resolve(dom), name).name;
  }
  async snapshotCurrent(dom: DomainRef, flags: number): Promise<string> {
    this.check(flags, 0, 'DomainSnapshotCurrent');
    const rec = this.resolve(dom);
    if (rec.currentSnapshot === null) {
      throw VirError.report(ErrorDomain.DOMAIN_SNAPSHOT, ErrorNumber.NO_DOMAIN_SNAPSHOT, 'the domain does not have a current snapshot');
    }
    return rec.currentSnapshot;
  }
  async hasCurrentSnapshot(dom: DomainRef, flags: number): Promise<boolean> {
    this.check(flags, 0, 'DomainHasCurrentSnapshot');
    return this.resolve(dom).currentSnapshot !== null;
  }
  async snapshotGetXMLDesc(dom: DomainRef, snapshot: string, flags: number): Promise<string> {
    this.check(flags, this.backend.supported.snapshotGetXMLDesc, 'DomainSnapshotGetXMLDesc');
    const rec = this.resolve(dom);
    const snap = this.requireSnapshot(rec, snapshot);
    // The stored XML is canonical; the parent may have changed since (reparenting on delete).
    const def = parseSnapshotXML(snap.xml, STORED);
    def.parent = snap.parent ?? undefined;
    return formatSnapshotXML(def, { secure: (flags & DomainSnapshotXMLFlags.SECURE) !== 0 });
  }
  async snapshotGetParent(dom: DomainRef, snapshot: string, flags: number): Promise<string> {
    this.check(flags, 0, 'DomainSnapshotGetParent');
    const snap = this.requireSnapshot(this.resolve(dom), snapshot);
    if (snap.parent === null) {
      throw VirError.report(
        ErrorDomain.DOMAIN_SNAPSHOT,
        ErrorNumber.NO_DOMAIN_SNAPSHOT,
        `snapshot '${snapshot}' does not have a parent`,
      );
    }
    return snap.parent;
  }
  async snapshotNumChildren(dom: DomainRef, snapshot: string, flags: number): Promise<number> {
    this.check(flags, SNAPSHOT_LIST_SUPPORTED, 'DomainSnapshotNumChildren');
    return (await this.snapshotChildren(dom, snapshot, flags)).length;
  }
  async snapshotListAllChildren(dom: DomainRef, snapshot: string, flags: number): Promise<string[]> {
    this.check(flags, SNAPSHOT_LIST_SUPPORTED, 'DomainSnapshotListAllChildren');
    return this.snapshotChildren(dom, snapshot, flags);
  }
  private async snapshotChildren(dom: DomainRef, snapshot: string, flags: number): Promise<string[]> {
    return this.store.read(() => {
      const rec = this.resolve(dom);
      const tree = this.tree(rec.uuid);
      tree.require(snapshot);
      return tree.listChildren(snapshot, flags).map((n) => n.name);
    });
  }
  async snapshotIsCurrent(dom: DomainRef, snapshot: string, flags: number): Promise<boolean> {
    this.check(flags, 0, 'DomainSnapshotIsCurrent');
    const rec = this.resolve(dom);
    this.requireSnapshot(rec, snapshot);
    return rec.currentSnapshot === snapshot;
  }
  async snapshotHasMetadata(dom: DomainRef, snapshot: string, flags: number): Promise<boolean> {
    this.check(flags, 0, 'DomainSnapshotHasMetadata');
    this.requireSnapshot(this.resolve(dom), snapshot);
    return true;
  }

  async snapshotDelete(dom: DomainRef, snapshot: string, flags: number): Promise<void> {
    this.check(flags, this.backend.supported.snapshotDelete, 'DomainSnapshotDelete');
    const hooks = this.backend.snapshots;
    if (hooks === undefined || (flags & SnapDelete.METADATA_ONLY) !== 0) {
      await this.mutate(() => {
        const rec = this.target(dom);
        this.applyDelete(rec, this.tree(rec.uuid).planDelete(snapshot, rec.currentSnapshot, flags));
      });
      return;
    }
    // The hypervisor's state goes first, under the domain's job; the metadata after, so that a
    // failure (or a crash) never leaves metadata that points at nothing.
    await this.run(dom, 'virDomainSnapshotDelete', {
      plan: (rec) => {
        const plan = this.tree(rec.uuid).planDelete(snapshot, rec.currentSnapshot, flags);
        const snaps = plan.remove.map((name) => parseSnapshotXML(this.requireSnapshot(rec, name).xml, STORED));
        return { plan, snaps, def: this.currentDef(rec), running: isActive(rec) };
      },
      act: (rec, p) => hooks.discard(rec, p.def, p.snaps, p.running),
      commit: (rec, p) => this.applyDelete(rec, p.plan),
    });
  }

  private applyDelete(rec: Rec, plan: SnapshotDeletePlan): void {
    for (const name of plan.remove) this.store.deleteSnapshot(rec.uuid, name);
    for (const r of plan.reparent) this.store.setSnapshotParent(rec.uuid, r.name, r.parent);
    if (plan.current !== rec.currentSnapshot) {
      rec.currentSnapshot = plan.current;
      this.write(rec);
    }
  }

  async revertToSnapshot(dom: DomainRef, snapshot: string, flags: number): Promise<void> {
    this.check(flags, this.backend.supported.revertToSnapshot, 'DomainRevertToSnapshot');
    const hooks = this.backend.snapshots;
    await this.run(dom, 'virDomainRevertToSnapshot', {
      plan: (rec) => {
        const snap = this.requireSnapshot(rec, snapshot);
        if (!this.backend.metadataSnapshots && hooks === undefined) {
          throw VirError.report(
            this.errDomain,
            ErrorNumber.OPERATION_UNSUPPORTED,
            `revert is not implemented by tsvirt's ${this.backend.functionPrefix} driver yet`,
          );
        }
        const target = revertTarget(snap.state, flags);
        if (!rec.persistent && target === 'shutoff') {
          throw operationInvalid(this.errDomain, 'transient domain needs to request run or pause to revert to inactive snapshot');
        }
        const snapDef = parseSnapshotXML(snap.xml, STORED);
        snapDef.name = snapshot;
        if (hooks !== undefined && isExternal(snapDef)) {
          throw VirError.report(this.errDomain, ErrorNumber.OPERATION_UNSUPPORTED, 'revert to external snapshot not supported yet');
        }
        const dropImage = planRevertWithImage({ hasManagedSave: rec.managedSave !== null }, flags, this.errDomain);
        const domainDef = snapDef.domain ?? this.currentDef(rec);
        // A snapshot with memory starts the guest from it; one of a shut-off domain puts the
        // disks back, and the guest (when asked to run) boots afresh from them.
        const withMemory = snapDef.memory?.snapshot === 'internal' && (snap.state === 'running' || snap.state === 'paused');
        return { target, domainDef, snapDef, withMemory, image: dropImage ? rec.managedSave : null, wasActive: isActive(rec) };
      },
      act: (rec, plan) => {
        const paused = plan.target === 'paused';
        if (hooks !== undefined) {
          return (async () => {
            if (plan.wasActive) await this.backend.kill(rec);
            try {
              if (plan.withMemory) return await this.backend.start(rec, plan.domainDef, { paused, image: null, snapshot });
              await hooks.revertDisks(plan.domainDef, plan.snapDef);
              return plan.target === 'shutoff' ? null : await this.backend.start(rec, plan.domainDef, { paused, image: null });
            } catch (err) {
              // The old guest is gone: once the job is released it is recorded stopped (as libvirt
              // leaves a domain whose revert failed), with R5 for a transient one.
              if (plan.wasActive) this.deferredExits.set(rec.uuid, 'vanished');
              throw err;
            }
          })();
        }
        // The snapshot is its metadata: stop the guest, then (unless the snapshot is of a
        // shut-off domain) start it afresh.
        const start = () => (plan.target === 'shutoff' ? null : this.backend.start(rec, plan.domainDef, { paused, image: null }));
        if (!plan.wasActive) return start();
        const killed = this.backend.kill(rec);
        return killed instanceof Promise ? killed.then(start) : start();
      },
      commit: (rec, plan, runtime) => {
        if (plan.image !== null) rec.managedSave = null;
        if (rec.persistent) {
          rec.configXml = formatDomainXML(plan.domainDef, { inactive: true, secure: true });
          Object.assign(rec, defNumbers(plan.domainDef));
        }
        if (plan.wasActive) {
          if (rec.persistent) {
            this.stopped(rec, DomainShutoffReason.FROM_SNAPSHOT, Stopped.FROM_SNAPSHOT);
          } else {
            // A transient domain is restarted at once: it stops without vanishing (no R5).
            this.emit(rec, DomainEventType.STOPPED, Stopped.FROM_SNAPSHOT);
            rec.id = -1;
          }
        } else if (plan.target === 'shutoff') {
          rec.reason = DomainShutoffReason.FROM_SNAPSHOT;
        }
        if (plan.target !== 'shutoff') {
          this.markStarted(rec, plan.domainDef, false, DomainRunningReason.FROM_SNAPSHOT, runtime as string | null);
          this.emit(rec, DomainEventType.STARTED, Started.FROM_SNAPSHOT);
          if (plan.target === 'paused') {
            rec.state = DomainState.PAUSED;
            rec.reason = DomainPausedReason.FROM_SNAPSHOT;
            this.emit(rec, DomainEventType.SUSPENDED, Suspended.FROM_SNAPSHOT);
          } else if (this.backend.monitorEvents === true) {
            this.emit(rec, DomainEventType.RESUMED, Resumed.FROM_SNAPSHOT);
          }
        }
        if (rec.persistent && this.backend.monitorEvents === true) this.emit(rec, DomainEventType.DEFINED, Defined.FROM_SNAPSHOT);
        rec.currentSnapshot = snapshot;
        this.write(rec);
      },
      after: async (plan) => {
        if (plan.image !== null) await this.backend.removeImage(plan.image);
      },
      // Not when a managed-save image is consumed or discarded: the record must not name a
      // file removed after it.
      runStateOnly: (plan) => plan.image === null,
    });
  }

  // Events.

  subscribe(listener: DriverEventListener): () => void {
    this.listeners.add(listener);
    if (this.pollTimer === undefined && this.store.path !== ':memory:') {
      // Other processes on the same store record their events in its log: poll it cheaply
      // (data_version changes only when another connection commits).
      this.lastSeenEvent = this.store.lastEventSeq();
      this.lastDataVersion = this.store.dataVersion();
      this.pollTimer = setInterval(() => this.pollForeignEvents(), EVENT_POLL_MS);
      this.pollTimer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.pollTimer !== undefined) {
        clearInterval(this.pollTimer);
        this.pollTimer = undefined;
      }
    };
  }

  private pollForeignEvents(): void {
    if (this.closed) return;
    const version = this.store.dataVersion();
    if (version === this.lastDataVersion) return;
    this.lastDataVersion = version;
    let events: EventRecord[];
    try {
      events = this.store.eventsAfter(this.lastSeenEvent);
    } catch {
      return;
    }
    for (const ev of events) {
      this.lastSeenEvent = ev.seq;
      if (ev.origin === this.store.origin) continue;
      this.deliver({ domain: { name: ev.name, uuid: ev.uuid, id: ev.id }, event: ev.event, detail: ev.detail });
    }
  }

  private deliver(ev: DomainLifecycleEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(ev);
      } catch {
        // A listener's failure must not break the call that emitted the event.
      }
    }
  }

  // Host: described by the backend, formatted here (loaded on demand: most calls never ask).

  private async hostOf(functionName: string): Promise<GuestHost> {
    if (this.backend.host === undefined) throw noSupport(this.errDomain, functionName);
    return this.backend.host();
  }
  /** virConnectGetCapabilities. */
  async connectGetCapabilities(): Promise<string> {
    const host = await this.hostOf('virConnectGetCapabilities');
    const { formatCapabilitiesXML } = await import('../../conf/capabilities.js');
    return formatCapabilitiesXML(host.capabilities());
  }
  /** virNodeGetInfo. */
  async nodeGetInfo(): Promise<NodeInfo> {
    return (await this.hostOf('virNodeGetInfo')).nodeInfo();
  }
  /**
   * virConnectGetSysinfo: VIR_ERR_CONFIG_UNSUPPORTED "Host SMBIOS information is not available"
   * when the host has none, as libvirt's qemu driver.
   */
  async connectGetSysinfo(flags: number): Promise<string> {
    this.check(flags, 0, 'ConnectGetSysinfo');
    const info = (await this.hostOf('virConnectGetSysinfo')).sysinfo();
    if (info === undefined) throw configUnsupported(this.errDomain, 'Host SMBIOS information is not available');
    const { formatSysinfoXML } = await import('../../conf/capabilities.js');
    return formatSysinfoXML(info);
  }
}

/**
 * Every disk of the domain, in its order, as a snapshot covers it (libvirt's
 * virDomainSnapshotAlignDisks): as the XML names it (by target or source), else internal, except
 * read-only disks, which need no snapshot.
 */
function alignSnapshotDisks(given: SnapshotDef['disks'], def: DomainDef): SnapshotDef['disks'] {
  return def.devices.disks.map((d) => {
    const named = given.find((g) => g.name === d.targetDev || (g.name !== '' && (g.name === d.sourceFile || g.name === d.sourceDev)));
    if (named !== undefined) return { ...named, name: d.targetDev, snapshot: named.snapshot ?? (d.readonly ? 'no' : 'internal') };
    return { name: d.targetDev, snapshot: d.readonly ? 'no' : 'internal' };
  });
}

function isExternal(def: SnapshotDef): boolean {
  return def.memory?.snapshot === 'external' || def.disks.some((d) => d.snapshot === 'external');
}

/** One guest-touching call, in the phases `run` sequences (see there). */
interface GuestStep<P, R, T> {
  need?: { active?: true };
  /** Checks by the rules; in a transaction; throws to refuse. */
  plan: (rec: DomainRecord) => P;
  /** The guest action. */
  act: (rec: DomainRecord, plan: P) => MaybePromise<R>;
  /** Records the outcome; in a transaction. */
  commit: (rec: DomainRecord, plan: P, result: R) => T;
  /** After the commit: removals of files the records no longer name. */
  after?: (plan: P, result: R) => Promise<void>;
  /**
   * True when, for this plan, the commit records only a guest process's run state (started with
   * its pid, paused, resumed, stopped): it is then committed without the fsync (see RUN_STATE).
   */
  runStateOnly?: (plan: P) => boolean;
}

/**
 * Why run-state commits of a real backend skip the fsync: a commit without it survives any crash
 * of tsvirt (the WAL is in the OS's cache) and is lost only with the OS, in a power failure or a
 * kernel crash, and that stops the guest processes too. Whatever such a commit said (this pid
 * runs, it is paused, it stopped), the store then either still has it or holds the state before
 * it, and opening the store reconciles both with the processes: a recorded guest whose pid is
 * gone is processed as stopped (R5, R12), as it truly is. The next durable commit syncs these
 * along. Anything else — definitions, snapshots, managed-save images — stays durable at once.
 * libvirt fsyncs its status XML at each of these changes; this saves one fsync per start, stop,
 * suspend and resume.
 */
const RUN_STATE = { unsynced: true } as const;

/** How long a call waits for another call's job on the same domain, as libvirt (30 s). */
const JOB_WAIT_MS = 30_000;

/** libvirt's error for a domain whose job another call holds. */
function lockTimeout(domain: ErrorDomain, heldBy: string): VirError {
  return VirError.report(domain, ErrorNumber.OPERATION_TIMEOUT, `cannot acquire state change lock (held by ${heldBy})`);
}

/** The state a revert leaves the domain in: the snapshot's, unless RUNNING or PAUSED says. */
function revertTarget(snapshotState: string, flags: number): 'running' | 'paused' | 'shutoff' {
  if ((flags & Revert.RUNNING) !== 0) return 'running';
  if ((flags & Revert.PAUSED) !== 0) return 'paused';
  if (snapshotState === 'running' || snapshotState === 'paused') return snapshotState;
  return 'shutoff';
}
