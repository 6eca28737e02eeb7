/**
 * Domain lifecycle on the metadata driver: define, create, start, shutdown, destroy, reboot,
 * suspend, resume, undefine, autostart and managed save (R11) — each decided by the rules of
 * src/rules, acted through the backend and recorded by the job sequence of ./jobs.ts.
 */
import {
  DomainCreateFlags,
  DomainDefineFlags,
  DomainEventDefinedDetailType as Defined,
  DomainEventResumedDetailType as Resumed,
  DomainEventStartedDetailType as Started,
  DomainEventStoppedDetailType as Stopped,
  DomainEventSuspendedDetailType as Suspended,
  DomainEventType,
  DomainEventUndefinedDetailType as Undefined,
  DomainPausedReason,
  DomainRunningReason,
  DomainShutoffReason,
  DomainState,
  ErrorDomain,
} from '../../core/enums.generated.js';
import { noSupport, operationInvalid } from '../../core/errors.js';
import type { DomainRef, DomainScreenshot, JobOptions } from '../../core/driver.js';
import { formatDomainXML, parseDomainXML } from '../../conf/domain.js';
import { DOMAIN_DOCUMENT, parseXMLDocument } from '../../conf/xml.js';
import { validateAgainstSchema } from '../../core/schema.js';
import { planUndefine } from '../../rules/undefine.js';
import { checkCreateOverDefined, checkManagedSave, planStart, runOnRestore } from '../../rules/lifecycle.js';
import type { Jobs } from './jobs.js';
import { STORED, defNumbers, isActive, refOf, type DomainRecords } from './records.js';

/**
 * VIR_DOMAIN_DEFINE_VALIDATE / VIR_DOMAIN_START_VALIDATE: as libvirt, the document is parsed
 * (syntax, root element) before it is checked against domain.rng, and the definition is read
 * only from a document that validates.
 */
async function validateDomainXML(xml: string): Promise<void> {
  parseXMLDocument(xml, DOMAIN_DOCUMENT);
  await validateAgainstSchema('domain', xml);
}

/** The lifecycle calls (see the file comment); TSDoc of each is HypervisorDriver's. */
export class DomainLifecycle {
  constructor(
    private readonly records: DomainRecords,
    private readonly jobs: Jobs,
  ) {}

  private get backend() {
    return this.records.backend;
  }
  private get events() {
    return this.records.events;
  }

  async defineXML(xml: string, flags: number): Promise<DomainRef> {
    const r = this.records;
    r.check(flags, this.backend.supported.defineXML, 'DomainDefineXMLFlags');
    if ((flags & DomainDefineFlags.VALIDATE) !== 0) await validateDomainXML(xml);
    const def = r.parseDef(xml);
    const configXml = formatDomainXML(def, { inactive: true, secure: true });
    return this.events.mutateWhenWritable(() => {
      const existing = r.conflictsFor(def);
      if (existing === undefined) {
        const rec = r.newRecord(def, configXml);
        r.store.insertDomain(rec);
        this.events.emit(rec, DomainEventType.DEFINED, Defined.ADDED);
        return refOf(rec);
      }
      r.checkNoJob(existing);
      existing.configXml = configXml;
      existing.persistent = true;
      if (!isActive(existing)) Object.assign(existing, defNumbers(def));
      r.write(existing);
      this.events.emit(existing, DomainEventType.DEFINED, Defined.UPDATED);
      return refOf(existing);
    });
  }

  async createXML(xml: string, flags: number): Promise<DomainRef> {
    const r = this.records;
    r.check(flags, this.backend.supported.createXML, 'DomainCreateXML');
    if ((flags & DomainCreateFlags.START_VALIDATE) !== 0) await validateDomainXML(xml);
    const def = r.parseDef(xml);
    const paused = (flags & DomainCreateFlags.START_PAUSED) !== 0;
    const ref: DomainRef = { name: def.name, uuid: def.uuid, id: -1 };
    // The domain may not exist yet: the job is taken on its UUID all the same.
    return this.jobs.runCreate(ref, {
      plan: () => {
        const existing = r.conflictsFor(def);
        if (existing !== undefined) {
          if (isActive(existing)) throw operationInvalid(ErrorDomain.DOMAIN, `domain '${def.name}' is already active`);
          // The job on this UUID is ours (taken above); another domain's is not.
          if (existing.uuid !== ref.uuid) r.checkNoJob(existing);
          checkCreateOverDefined({ name: existing.name, hasManagedSave: existing.managedSave !== null }, r.errDomain);
        }
        return existing;
      },
      act: (existing) => this.backend.start(existing ?? r.newRecord(def, null), def, { paused, image: null }),
      undo: (runtime) => this.backend.kill({ ...r.newRecord(def, null), runtime }),
      commit: (runtime) => {
        const existing = r.conflictsFor(def);
        const rec = existing ?? r.newRecord(def, null);
        Object.assign(rec, defNumbers(def));
        r.markStarted(rec, def, paused, DomainRunningReason.BOOTED, runtime);
        if (existing === undefined) r.store.insertDomain(rec);
        else r.write(rec);
        this.events.emit(rec, DomainEventType.STARTED, Started.BOOTED);
        if (paused) this.events.emit(rec, DomainEventType.SUSPENDED, Suspended.PAUSED);
        else this.events.vcpusRunning(rec, Resumed.UNPAUSED);
        return refOf(rec);
      },
    });
  }

  domainCreate(dom: DomainRef, flags: number): Promise<DomainRef> {
    const r = this.records;
    r.check(flags, this.backend.supported.create, 'DomainCreateWithFlags');
    return this.jobs.run(dom, 'virDomainCreateWithFlags', {
      plan: (rec) => {
        const start = planStart({ active: isActive(rec), hasManagedSave: rec.managedSave !== null }, flags, r.errDomain);
        // A guest saved paused (or with VIR_DOMAIN_SAVE_PAUSED) comes back paused, as on libvirt.
        const savedPaused = start.restore && rec.managedSave !== null && this.backend.imageStartsPaused?.(rec.managedSave) === true;
        // A restore runs the definition the image was saved with (hot-plugged devices included).
        const savedXml = start.restore && rec.managedSave !== null ? this.backend.imageXml?.(rec.managedSave) : undefined;
        const def = savedXml === undefined ? r.currentDef(rec) : parseDomainXML(savedXml, STORED);
        return { ...start, paused: start.paused || savedPaused, savedPaused, def, image: rec.managedSave };
      },
      act: (rec, plan) => this.backend.start(rec, plan.def, { paused: plan.paused, image: plan.restore ? plan.image : null }),
      commit: (rec, plan, runtime) => {
        // R11: the image is consumed by the restore, or discarded by FORCE_BOOT (file removed after).
        rec.managedSave = null;
        const reason = plan.restore ? DomainRunningReason.RESTORED : DomainRunningReason.BOOTED;
        r.markStarted(rec, plan.def, plan.paused, reason, runtime);
        r.write(rec);
        this.events.emit(rec, DomainEventType.STARTED, plan.restore ? Started.RESTORED : Started.BOOTED);
        // libvirt: SUSPENDED/PAUSED when the caller asked for a paused start, RESTORED when the image did.
        if (plan.paused) this.events.emit(rec, DomainEventType.SUSPENDED, (flags & DomainCreateFlags.START_PAUSED) !== 0 ? Suspended.PAUSED : Suspended.RESTORED);
        else this.events.vcpusRunning(rec, Resumed.UNPAUSED);
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
    const r = this.records;
    r.check(flags, this.backend.supported.shutdown, 'DomainShutdownFlags');
    await this.jobs.run(dom, 'virDomainShutdownFlags', {
      need: { active: true },
      plan: () => undefined,
      // R8: only asks; the guest decides.
      act: (rec) => this.backend.powerButton(rec, () => r.currentDef(rec)),
      commit: (rec, _plan, answer) => {
        if (answer === 'stopped') r.stopped(rec, DomainShutoffReason.SHUTDOWN, Stopped.SHUTDOWN);
      },
      runStateOnly: () => true,
    });
  }

  async domainDestroy(dom: DomainRef, flags: number): Promise<void> {
    const r = this.records;
    r.check(flags, this.backend.supported.destroy, 'DomainDestroyFlags');
    await this.jobs.run(dom, 'virDomainDestroyFlags', {
      need: { active: true },
      plan: () => undefined,
      act: (rec) => this.backend.kill(rec),
      commit: (rec) => {
        if (!isActive(rec)) return;
        this.events.hostShutdown(rec);
        r.stopped(rec, DomainShutoffReason.DESTROYED, Stopped.DESTROYED);
      },
      runStateOnly: () => true,
    });
  }

  async domainReboot(dom: DomainRef, flags: number): Promise<void> {
    const r = this.records;
    r.check(flags, this.backend.supported.reboot, 'DomainReboot');
    await this.jobs.run(dom, 'virDomainReboot', {
      need: { active: true },
      plan: (rec) => r.currentDef(rec),
      act: (rec, def) => this.backend.reboot(rec, def),
      commit: () => undefined,
    });
  }

  async domainSuspend(dom: DomainRef): Promise<void> {
    await this.jobs.run(dom, 'virDomainSuspend', {
      need: { active: true },
      plan: (rec) => rec.state === DomainState.PAUSED,
      act: async (rec, already) => {
        if (!already) await this.backend.suspend(rec);
      },
      commit: (rec, already) => {
        if (already || !isActive(rec)) return;
        rec.state = DomainState.PAUSED;
        rec.reason = DomainPausedReason.USER;
        this.records.write(rec);
        this.events.emit(rec, DomainEventType.SUSPENDED, Suspended.PAUSED);
      },
      runStateOnly: () => true,
    });
  }

  async domainResume(dom: DomainRef): Promise<void> {
    await this.jobs.run(dom, 'virDomainResume', {
      need: { active: true },
      // As libvirt's qemu driver: resuming a guest that runs is a no-op.
      plan: (rec) => rec.state !== DomainState.PAUSED,
      act: async (rec, running) => {
        if (!running) await this.backend.resume(rec);
      },
      commit: (rec, running) => {
        if (running || !isActive(rec)) return;
        rec.state = DomainState.RUNNING;
        rec.reason = DomainRunningReason.UNPAUSED;
        this.records.write(rec);
        this.events.emit(rec, DomainEventType.RESUMED, Resumed.UNPAUSED);
      },
      runStateOnly: () => true,
    });
  }

  async domainUndefine(dom: DomainRef, flags: number): Promise<void> {
    const r = this.records;
    r.check(flags, this.backend.supported.undefine, 'DomainUndefineFlags');
    await this.jobs.run(dom, 'virDomainUndefineFlags', {
      plan: (rec) => ({
        ...planUndefine(
          {
            persistent: rec.persistent,
            active: isActive(rec),
            hasManagedSave: rec.managedSave !== null,
            snapshotCount: isActive(rec) ? 0 : r.store.snapshotCount(rec.uuid),
            checkpointCount: isActive(rec) ? 0 : r.store.checkpointCount(rec.uuid),
          },
          flags,
          r.errDomain,
        ),
        image: rec.managedSave,
      }),
      // Nothing to do to a guest: the records say it all.
      act: async () => undefined,
      commit: (rec, plan) => {
        if (plan.removeDomain) {
          // R3: the domain and all its snapshot and checkpoint metadata go in this one transaction.
          r.remove(rec.uuid);
        } else {
          // R4: the running guest becomes transient and keeps its metadata until it halts.
          rec.persistent = false;
          rec.configXml = null;
          rec.autostart = false;
          rec.managedSave = null;
          r.write(rec);
        }
        this.events.emit(rec, DomainEventType.UNDEFINED, Undefined.REMOVED);
      },
      after: async (plan) => {
        if (plan.removeManagedSave && plan.image !== null) await this.backend.removeImage(plan.image);
      },
    });
  }

  async domainSetAutostart(dom: DomainRef, autostart: boolean): Promise<void> {
    const r = this.records;
    // Under the domain's job, as libvirt's: a guest call's outcome is recorded on the record it
    // read, which nothing else may change meanwhile.
    await this.jobs.run(dom, 'virDomainSetAutostart', {
      plan: (rec) => {
        if (!rec.persistent) throw operationInvalid(r.errDomain, 'cannot set autostart for transient domain');
      },
      act: async () => undefined,
      commit: (rec) => {
        rec.autostart = autostart;
        r.write(rec);
      },
    });
  }

  // Managed save (R11).

  async managedSave(dom: DomainRef, flags: number, options?: JobOptions): Promise<void> {
    const r = this.records;
    r.check(flags, this.backend.supported.managedSave, 'DomainManagedSave');
    await this.jobs.run(dom, 'virDomainManagedSave', {
      plan: (rec) => checkManagedSave({ persistent: rec.persistent, active: isActive(rec) }, r.errDomain),
      act: (rec) => this.backend.saveMemory(rec, options, runOnRestore(flags, rec.state)),
      commit: (rec, _plan, image) => {
        rec.managedSave = image;
        // The vCPUs were stopped for the save (unless the guest was paused already).
        this.events.vcpusStoppedForSave(rec);
        r.stopped(rec, DomainShutoffReason.SAVED, Stopped.SAVED);
      },
    });
  }

  async managedSaveRemove(dom: DomainRef, flags: number): Promise<void> {
    const r = this.records;
    r.check(flags, 0, 'DomainManagedSaveRemove');
    await this.jobs.run(dom, 'virDomainManagedSaveRemove', {
      plan: (rec) => rec.managedSave,
      act: async () => undefined,
      commit: (rec) => {
        if (rec.managedSave === null) return;
        // libvirt keeps the shut-off reason 'saved' after the image is removed.
        rec.managedSave = null;
        r.write(rec);
      },
      after: async (image) => {
        if (image !== null) await this.backend.removeImage(image);
      },
    });
  }

  domainScreenshot(dom: DomainRef, screen: number, flags: number): Promise<DomainScreenshot> {
    const r = this.records;
    r.check(flags, 0, 'DomainScreenshot');
    const take = this.backend.screenshot?.bind(this.backend);
    if (take === undefined) throw noSupport(r.errDomain, 'virDomainScreenshot');
    return this.jobs.run(dom, 'virDomainScreenshot', {
      need: { active: true },
      plan: (rec) => r.currentDef(rec),
      act: (rec, def) => take(rec, def, screen),
      commit: (_rec, _def, shot) => shot,
      // Nothing is recorded: only the job's row is released.
      runStateOnly: () => true,
    });
  }
}
