/**
 * Snapshots on the metadata driver: the tree and its metadata in the store, the rules of
 * src/rules/snapshots.ts and src/rules/lifecycle.ts, the hypervisor's state through the
 * backend's GuestSnapshots — create, redefine, list, revert, delete.
 */
import { validateAgainstSchema } from '../../core/schema.js';
import {
  DomainEventStartedDetailType as Started,
  DomainEventStoppedDetailType as Stopped,
  DomainEventSuspendedDetailType as Suspended,
  DomainEventResumedDetailType as Resumed,
  DomainEventType,
  DomainPausedReason,
  DomainRunningReason,
  DomainShutoffReason,
  DomainSnapshotCreateFlags as SnapCreate,
  DomainSnapshotDeleteFlags as SnapDelete,
  DomainSnapshotRevertFlags as Revert,
  DomainSnapshotXMLFlags,
  DomainState,
  ErrorDomain,
  ErrorNumber,
} from '../../core/enums.generated.js';
import { VirError, internalError, operationFailed, operationInvalid } from '../../core/errors.js';
import type { DomainRef, JobOptions } from '../../core/driver.js';
import { formatDomainXML, type DomainDef } from '../../conf/domain.js';
import { formatSnapshotXML, parseSnapshotXML, type SnapshotDef, type SnapshotState } from '../../conf/snapshot.js';
import { checkSnapshotHalt, planRevertWithImage } from '../../rules/lifecycle.js';
import { SNAPSHOT_LIST_SUPPORTED, SnapshotTree, checkRedefineParent, type SnapshotDeletePlan } from '../../rules/snapshots.js';
import type { DomainRecord, SnapshotRecord } from '../../store/store.js';
import type { GuestExits } from './exits.js';
import type { GuestBackend, GuestSnapshots } from './guest.js';
import type { Jobs } from './jobs.js';
import { STORED, defNumbers, isActive, type DomainRecords } from './records.js';

/**
 * The snapshots of a hypervisor whose snapshot is its metadata (the simulator, as libvirt's
 * test driver): nothing to take or remove, and a revert restores definition and run state by
 * starting the guest afresh from the snapshot's definition.
 */
export function metadataOnlySnapshots(backend: Pick<GuestBackend, 'start'>): GuestSnapshots {
  return {
    check: () => undefined,
    create: async () => undefined,
    checkRevert: async () => undefined,
    revert: async (rec, def, _snap, opts) => (opts.run ? backend.start(rec, def, { paused: opts.paused, image: null }) : null),
    discard: async () => undefined,
  };
}

/** The snapshot calls (see the file comment); TSDoc of each is HypervisorDriver's. */
export class DomainSnapshots {
  constructor(
    private readonly records: DomainRecords,
    private readonly jobs: Jobs,
    private readonly exits: GuestExits,
  ) {}

  private get backend(): GuestBackend {
    return this.records.backend;
  }

  private tree(uuid: string): SnapshotTree {
    return new SnapshotTree(this.records.store.snapshotTree(uuid));
  }

  private requireSnapshot(rec: DomainRecord, name: string): SnapshotRecord {
    const snap = this.records.store.snapshot(rec.uuid, name);
    if (snap === undefined) {
      throw VirError.report(
        ErrorDomain.DOMAIN_SNAPSHOT,
        ErrorNumber.NO_DOMAIN_SNAPSHOT,
        `no domain snapshot with matching name '${name}'`,
      );
    }
    return snap;
  }

  snapshotCreateXML(dom: DomainRef, xml: string, flags: number, options?: JobOptions): Promise<string> | string {
    this.records.check(flags, this.backend.supported.snapshotCreateXML, 'DomainSnapshotCreateXML');
    // VALIDATE: the document is checked against domainsnapshot.rng before it is read.
    if ((flags & SnapCreate.VALIDATE) !== 0) {
      return validateAgainstSchema('domainsnapshot', xml).then(() => this.createSnapshot(dom, xml, flags, options));
    }
    return this.createSnapshot(dom, xml, flags, options);
  }

  private createSnapshot(dom: DomainRef, xml: string, flags: number, options?: JobOptions): Promise<string> | string {
    const r = this.records;
    const redefine = (flags & SnapCreate.REDEFINE) !== 0;
    const parsed = parseSnapshotXML(xml, { requireFullForRedefine: redefine });
    if (redefine) return r.events.mutateWhenWritable(() => this.redefineSnapshot(r.target(dom), parsed, flags));
    const hooks = this.backend.snapshots;
    const keepMetadata = (flags & SnapCreate.NO_METADATA) === 0;
    return this.jobs.run(dom, 'virDomainSnapshotCreateXML', {
      plan: (rec) => {
        // libvirt parses the XML of a snapshot of a shut-off domain as offline: no memory state.
        if (!isActive(rec)) parseSnapshotXML(xml, { offline: true });
        const plan = this.planSnapshot(rec, parsed, flags);
        if (plan.active && (flags & SnapCreate.LIVE) !== 0 && plan.def.memory?.snapshot !== 'external') {
          throw VirError.report(
            r.errDomain,
            ErrorNumber.OPERATION_UNSUPPORTED,
            'live snapshot creation is supported only during full system snapshots',
          );
        }
        hooks.check(plan.domainDef, plan.def, plan.active);
        return plan;
      },
      act: async (rec, plan) => {
        await hooks.create(rec, plan.domainDef, plan.def, plan.active, options);
        if (plan.halt) await this.backend.kill(rec);
      },
      commit: (rec, plan) => {
        if (keepMetadata) {
          r.store.putSnapshot(rec.uuid, { ...plan.record, seq: r.store.nextSnapshotSeq(rec.uuid) });
          rec.currentSnapshot = plan.record.name;
        }
        if (plan.halt && isActive(rec)) r.stopped(rec, DomainShutoffReason.FROM_SNAPSHOT, Stopped.FROM_SNAPSHOT);
        else if (keepMetadata) r.write(rec);
        return plan.record.name;
      },
    });
  }

  /** A new snapshot's record, by the rules; `halt` when the guest is to stop after it. */
  private planSnapshot(
    rec: DomainRecord,
    def: SnapshotDef,
    flags: number,
  ): { record: SnapshotRecord; def: SnapshotDef; domainDef: DomainDef; halt: boolean; active: boolean } {
    const r = this.records;
    const active = isActive(rec);
    const halt = (flags & SnapCreate.HALT) !== 0;
    if (halt) checkSnapshotHalt({ persistent: rec.persistent, active }, r.errDomain);
    const now = Math.floor(Date.now() / 1000);
    const name = def.name ?? String(now);
    if (r.store.snapshotNode(rec.uuid, name) !== undefined) throw operationFailed(ErrorDomain.DOMAIN, `domain moment ${name} already exists`);
    const domainDef = r.currentDef(rec);
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
    return { record, def: full, domainDef, halt: halt && active, active };
  }

  private redefineSnapshot(rec: DomainRecord, def: SnapshotDef, flags: number): string {
    const r = this.records;
    const name = def.name;
    if (name === undefined || def.creationTime === undefined) {
      throw internalError(ErrorDomain.DOMAIN_SNAPSHOT, 'missing creationTime from existing snapshot');
    }
    const parent = def.parent ?? null;
    checkRedefineParent(name, parent, (n) => r.store.snapshotNode(rec.uuid, n), r.errDomain);
    if (def.domain !== undefined && def.domain.uuid !== rec.uuid) {
      throw VirError.report(
        r.errDomain,
        ErrorNumber.INVALID_ARG,
        `definition for snapshot ${name} must use uuid ${rec.uuid}`,
      );
    }
    const existing = r.store.snapshotNode(rec.uuid, name);
    const record: SnapshotRecord = {
      name,
      parent,
      seq: existing?.seq ?? r.store.nextSnapshotSeq(rec.uuid),
      state: def.state,
      creationTime: def.creationTime,
      memory: def.memory?.snapshot ?? (def.state === 'shutoff' || def.state === 'disk-snapshot' ? 'no' : 'internal'),
      external: isExternal(def),
      xml: formatSnapshotXML({ ...def, active: undefined }, { secure: true }),
    };
    r.store.putSnapshot(rec.uuid, record);
    if ((flags & SnapCreate.CURRENT) !== 0) {
      rec.currentSnapshot = name;
      r.write(rec);
    }
    return name;
  }

  // Listing and lookups: reads, no job.

  snapshotNum(dom: DomainRef, flags: number): number {
    const r = this.records;
    r.check(flags, SNAPSHOT_LIST_SUPPORTED, 'DomainSnapshotNum');
    const rec = r.resolve(dom);
    if (flags === 0) return r.store.snapshotCount(rec.uuid);
    return this.tree(rec.uuid).list(flags).length;
  }
  snapshotListNames(dom: DomainRef, flags: number): string[] {
    this.records.check(flags, SNAPSHOT_LIST_SUPPORTED, 'DomainSnapshotListNames');
    return this.listSnapshotNames(dom, flags);
  }
  listAllSnapshots(dom: DomainRef, flags: number): string[] {
    this.records.check(flags, SNAPSHOT_LIST_SUPPORTED, 'DomainListAllSnapshots');
    return this.listSnapshotNames(dom, flags);
  }
  private listSnapshotNames(dom: DomainRef, flags: number): string[] {
    const r = this.records;
    return r.store.read(() => {
      const uuid = r.resolve(dom).uuid;
      // No filter: the names straight from the index, no tree needed.
      if (flags === 0) return r.store.snapshotNames(uuid);
      return this.tree(uuid).list(flags).map((n) => n.name);
    });
  }
  snapshotLookupByName(dom: DomainRef, name: string, flags: number): string {
    this.records.check(flags, 0, 'DomainSnapshotLookupByName');
    return this.requireSnapshot(this.records.resolve(dom), name).name;
  }
  snapshotCurrent(dom: DomainRef, flags: number): string {
    this.records.check(flags, 0, 'DomainSnapshotCurrent');
    const rec = this.records.resolve(dom);
    if (rec.currentSnapshot === null) {
      throw VirError.report(ErrorDomain.DOMAIN_SNAPSHOT, ErrorNumber.NO_DOMAIN_SNAPSHOT, 'the domain does not have a current snapshot');
    }
    return rec.currentSnapshot;
  }
  hasCurrentSnapshot(dom: DomainRef, flags: number): boolean {
    this.records.check(flags, 0, 'DomainHasCurrentSnapshot');
    return this.records.resolve(dom).currentSnapshot !== null;
  }
  snapshotGetXMLDesc(dom: DomainRef, snapshot: string, flags: number): string {
    this.records.check(flags, this.backend.supported.snapshotGetXMLDesc, 'DomainSnapshotGetXMLDesc');
    const rec = this.records.resolve(dom);
    const snap = this.requireSnapshot(rec, snapshot);
    // The stored XML is canonical; the parent may have changed since (reparenting on delete).
    const def = parseSnapshotXML(snap.xml, STORED);
    def.parent = snap.parent ?? undefined;
    return formatSnapshotXML(def, { secure: (flags & DomainSnapshotXMLFlags.SECURE) !== 0 });
  }
  snapshotGetParent(dom: DomainRef, snapshot: string, flags: number): string {
    this.records.check(flags, 0, 'DomainSnapshotGetParent');
    const snap = this.requireSnapshot(this.records.resolve(dom), snapshot);
    if (snap.parent === null) {
      throw VirError.report(
        ErrorDomain.DOMAIN_SNAPSHOT,
        ErrorNumber.NO_DOMAIN_SNAPSHOT,
        `snapshot '${snapshot}' does not have a parent`,
      );
    }
    return snap.parent;
  }
  snapshotNumChildren(dom: DomainRef, snapshot: string, flags: number): number {
    this.records.check(flags, SNAPSHOT_LIST_SUPPORTED, 'DomainSnapshotNumChildren');
    return this.snapshotChildren(dom, snapshot, flags).length;
  }
  snapshotListAllChildren(dom: DomainRef, snapshot: string, flags: number): string[] {
    this.records.check(flags, SNAPSHOT_LIST_SUPPORTED, 'DomainSnapshotListAllChildren');
    return this.snapshotChildren(dom, snapshot, flags);
  }
  private snapshotChildren(dom: DomainRef, snapshot: string, flags: number): string[] {
    const r = this.records;
    return r.store.read(() => {
      const rec = r.resolve(dom);
      const tree = this.tree(rec.uuid);
      tree.require(snapshot);
      return tree.listChildren(snapshot, flags).map((n) => n.name);
    });
  }
  snapshotIsCurrent(dom: DomainRef, snapshot: string, flags: number): boolean {
    this.records.check(flags, 0, 'DomainSnapshotIsCurrent');
    const rec = this.records.resolve(dom);
    this.requireSnapshot(rec, snapshot);
    return rec.currentSnapshot === snapshot;
  }
  snapshotHasMetadata(dom: DomainRef, snapshot: string, flags: number): boolean {
    this.records.check(flags, 0, 'DomainSnapshotHasMetadata');
    this.requireSnapshot(this.records.resolve(dom), snapshot);
    return true;
  }

  async snapshotDelete(dom: DomainRef, snapshot: string, flags: number): Promise<void> {
    const r = this.records;
    r.check(flags, this.backend.supported.snapshotDelete, 'DomainSnapshotDelete');
    const metadataOnly = (flags & SnapDelete.METADATA_ONLY) !== 0;
    // The hypervisor's state goes first, under the domain's job; the metadata after, so that a
    // failure (or a crash) never leaves metadata that points at nothing.
    await this.jobs.run(dom, 'virDomainSnapshotDelete', {
      plan: (rec) => {
        const plan = this.tree(rec.uuid).planDelete(snapshot, rec.currentSnapshot, flags);
        const snaps = plan.remove.map((name) => ({ name, creationTime: this.requireSnapshot(rec, name).creationTime }));
        return { plan, snaps, running: isActive(rec) };
      },
      act: async (rec, p) => {
        if (!metadataOnly) await this.backend.snapshots.discard(rec, () => r.currentDef(rec), p.snaps, p.running);
      },
      commit: (rec, p) => this.applyDelete(rec, p.plan),
    });
  }

  private applyDelete(rec: DomainRecord, plan: SnapshotDeletePlan): void {
    const r = this.records;
    for (const name of plan.remove) r.store.deleteSnapshot(rec.uuid, name);
    for (const p of plan.reparent) r.store.setSnapshotParent(rec.uuid, p.name, p.parent);
    if (plan.current !== rec.currentSnapshot) {
      rec.currentSnapshot = plan.current;
      r.write(rec);
    }
  }

  async revertToSnapshot(dom: DomainRef, snapshot: string, flags: number): Promise<void> {
    const r = this.records;
    const events = r.events;
    r.check(flags, this.backend.supported.revertToSnapshot, 'DomainRevertToSnapshot');
    const hooks = this.backend.snapshots;
    await this.jobs.run(dom, 'virDomainRevertToSnapshot', {
      plan: (rec) => {
        const snap = this.requireSnapshot(rec, snapshot);
        const target = revertTarget(snap.state, flags);
        if (!rec.persistent && target === 'shutoff') {
          throw operationInvalid(r.errDomain, 'transient domain needs to request run or pause to revert to inactive snapshot');
        }
        const snapDef = parseSnapshotXML(snap.xml, STORED);
        snapDef.name = snapshot;
        const dropImage = planRevertWithImage({ hasManagedSave: rec.managedSave !== null }, flags, r.errDomain);
        const domainDef = snapDef.domain ?? r.currentDef(rec);
        // A snapshot with memory starts the guest from it; one of a shut-off domain puts the
        // disks back, and the guest (when asked to run) boots afresh from them.
        const withMemory = snapDef.memory?.snapshot === 'internal' && (snap.state === 'running' || snap.state === 'paused');
        // Formatted now: the start fills live-only values (a VNC port) into domainDef.
        const configXml = formatDomainXML(domainDef, { inactive: true, secure: true });
        return { target, domainDef, configXml, snapDef, withMemory, image: dropImage ? rec.managedSave : null, wasActive: isActive(rec) };
      },
      act: async (rec, plan) => {
        await hooks.checkRevert(plan.domainDef, plan.snapDef, { withMemory: plan.withMemory, running: plan.wasActive });
        if (plan.wasActive) await this.backend.kill(rec);
        try {
          return await hooks.revert(rec, plan.domainDef, plan.snapDef, {
            run: plan.target !== 'shutoff',
            paused: plan.target === 'paused',
            withMemory: plan.withMemory,
          });
        } catch (err) {
          // The old guest is gone: once the job is released it is recorded stopped (as libvirt
          // leaves a domain whose revert failed), with R5 for a transient one.
          if (plan.wasActive) this.exits.defer(rec.uuid, 'vanished');
          throw err;
        }
      },
      commit: (rec, plan, runtime) => {
        if (plan.image !== null) rec.managedSave = null;
        if (rec.persistent) {
          rec.configXml = plan.configXml;
          Object.assign(rec, defNumbers(plan.domainDef));
        }
        if (plan.wasActive) {
          if (rec.persistent) {
            r.stopped(rec, DomainShutoffReason.FROM_SNAPSHOT, Stopped.FROM_SNAPSHOT);
          } else {
            // A transient domain is restarted at once: it stops without vanishing (no R5).
            events.emit(rec, DomainEventType.STOPPED, Stopped.FROM_SNAPSHOT);
            rec.id = -1;
          }
        } else if (plan.target === 'shutoff') {
          rec.reason = DomainShutoffReason.FROM_SNAPSHOT;
        }
        if (plan.target !== 'shutoff') {
          r.markStarted(rec, plan.domainDef, false, DomainRunningReason.FROM_SNAPSHOT, runtime);
          events.emit(rec, DomainEventType.STARTED, Started.FROM_SNAPSHOT);
          if (plan.target === 'paused') {
            rec.state = DomainState.PAUSED;
            rec.reason = DomainPausedReason.FROM_SNAPSHOT;
            events.emit(rec, DomainEventType.SUSPENDED, Suspended.FROM_SNAPSHOT);
          } else {
            events.vcpusRunning(rec, Resumed.FROM_SNAPSHOT);
          }
        }
        if (rec.persistent) events.definedFromSnapshot(rec);
        rec.currentSnapshot = snapshot;
        r.write(rec);
      },
      after: async (plan) => {
        if (plan.image !== null) await this.backend.removeImage(plan.image);
      },
      // Not when a managed-save image is consumed or discarded: the record must not name a
      // file removed after it.
      runStateOnly: (plan) => plan.image === null,
    });
  }
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

/** True when the snapshot keeps memory or a disk in a file of its own. */
export function isExternal(def: SnapshotDef): boolean {
  return def.memory?.snapshot === 'external' || def.disks.some((d) => d.snapshot === 'external');
}

/** The state a revert leaves the domain in: the snapshot's, unless RUNNING or PAUSED says. */
function revertTarget(snapshotState: string, flags: number): 'running' | 'paused' | 'shutoff' {
  if ((flags & Revert.RUNNING) !== 0) return 'running';
  if ((flags & Revert.PAUSED) !== 0) return 'paused';
  if (snapshotState === 'running' || snapshotState === 'paused') return snapshotState;
  return 'shutoff';
}
