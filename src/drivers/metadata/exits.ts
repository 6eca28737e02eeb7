/**
 * Guests that stop without being asked by a call (R5, R12): noticed by the backend while they
 * run, or at open when reconciling (DESIGN §5), and recorded as stopped with R5 applied. An exit
 * noticed while a call of this driver acts on the guest waits for that call's end. Reconciling
 * also finishes the jobs of a manager that died mid-call (docs/qemu.md, "After a crash of the
 * manager").
 */
import {
  DomainEventResumedDetailType as Resumed,
  DomainEventShutdownDetailType as ShutdownDetail,
  DomainEventSuspendedDetailType as Suspended,
  DomainEventStoppedDetailType as Stopped,
  DomainEventType,
  DomainPausedReason,
  DomainRunningReason,
  DomainShutoffReason,
  DomainState,
} from '../../core/enums.generated.js';
import type { GuestExit } from './guest.js';
import { isActive, type DomainRecords } from './records.js';

/** How a guest ended: as the backend says, or 'vanished' when nobody knows. */
export type ExitKind = GuestExit | 'vanished';

/** Records guest exits (see the file comment). */
export class GuestExits {
  /** Exits noticed during a call on the guest, processed when it ends. */
  private readonly deferred = new Map<string, ExitKind>();
  private closed = false;

  /** `busy`: whether a call of this driver acts on the domain's guest now (Jobs.busy). */
  constructor(
    private readonly records: DomainRecords,
    private readonly busy: (uuid: string) => boolean,
  ) {
    records.backend.onExit?.((uuid, how) => this.exited(uuid, how));
  }

  /** A guest stopped on its own: recorded now, or after the call that holds its job. */
  exited(uuid: string, how: ExitKind): void {
    if (this.closed) return;
    if (this.busy(uuid)) {
      this.deferred.set(uuid, how);
      return;
    }
    const { store, events } = this.records;
    const record = (): void => events.mutate(() => {
      const rec = store.domainByUUID(uuid);
      if (rec === undefined || !isActive(rec)) return;
      // Another process holds the job: it is acting on the guest and records the outcome.
      if (store.activeJob(uuid) !== undefined) return;
      if (how === 'shutdown') {
        events.emit(rec, DomainEventType.SHUTDOWN, ShutdownDetail.GUEST);
        this.records.stopped(rec, DomainShutoffReason.SHUTDOWN, Stopped.SHUTDOWN);
      } else if (how === 'crashed') {
        this.records.stopped(rec, DomainShutoffReason.CRASHED, Stopped.CRASHED);
      } else {
        this.records.stopped(rec, DomainShutoffReason.UNKNOWN, Stopped.FAILED);
      }
      // Only run state: see Jobs' runStateCommit (a backend that reports exits reconciles).
    }, { unsynced: true });
    // At once, unless another process holds the store's write lock (tsvirtd's store waits for it
    // on a timer); if that lock never comes, the next open's reconcile records the exit.
    const wait = store.writable();
    if (wait === undefined) record();
    else wait.then(record).catch(() => {});
  }

  /**
   * Records a managed save whose image was complete when its manager died (see
   * GuestBackend.completedSave): shut off, reason SAVED, with the image, as its commit would.
   */
  private savedAfterJob(uuid: string, image: string): void {
    const { store, events } = this.records;
    events.mutate(() => {
      const rec = store.domainByUUID(uuid);
      if (rec === undefined || !isActive(rec) || store.activeJob(uuid) !== undefined) return;
      rec.managedSave = image;
      events.vcpusStoppedForSave(rec);
      this.records.stopped(rec, DomainShutoffReason.SAVED, Stopped.SAVED);
    });
  }

  /** Records, once the call on it ends, that the guest is gone (a failed revert killed it). */
  defer(uuid: string, how: ExitKind): void {
    this.deferred.set(uuid, how);
  }

  /** The domain's calls ended: an exit noticed meanwhile is processed now. */
  idle(uuid: string): void {
    const how = this.deferred.get(uuid);
    if (how === undefined) return;
    this.deferred.delete(uuid);
    this.exited(uuid, how);
  }

  /**
   * Reconciles at open (DESIGN §5): a guest recorded as running whose process is gone is
   * processed as stopped, with R5 applied (or, when a managed save had completed, as saved);
   * in one that runs, a job whose owner died is finished (GuestBackend.recoverJob) and the run
   * state the guest truly has is recorded; guests started but never recorded are stopped. Only a
   * backend that can tell (`isRunning`) loses guests; the simulator's live in the store.
   */
  async reconcile(): Promise<void> {
    const backend = this.records.backend;
    const isRunning = backend.isRunning?.bind(backend);
    if (isRunning === undefined) return;
    const { store } = this.records;
    for (const rec of store.activeDomains()) {
      if (!(await isRunning(rec))) {
        const how = backend.takeExitReason?.(rec.uuid) ?? 'vanished';
        // A save that completed (the guest quit) but was never recorded: finished here.
        const image = store.activeJob(rec.uuid) === undefined ? backend.completedSave?.(rec) : undefined;
        if (image !== undefined) this.savedAfterJob(rec.uuid, image);
        else this.exited(rec.uuid, how);
        continue;
      }
      // A job whose owner died (its row stays until taken over) may have left the guest stopped
      // mid-save or mid-snapshot: finished here, as libvirt's reconnect does. The record is the
      // state before that job: its second transaction never ran.
      if (backend.recoverJob === undefined || store.activeJob(rec.uuid) !== undefined) continue;
      const found = await backend.recoverJob(rec);
      if (found !== undefined) this.runStateFound(rec.uuid, found);
    }
    // Guests started by a manager that died before recording them (a boot, a restore, a revert):
    // stopped, as libvirt's reconnect kills a guest that had not finished starting. The records
    // stay as they were: a restore's managed save image is still there for the next start.
    for (const stray of backend.strayGuests?.() ?? []) {
      // One transaction: a start by a live process holds the job until its record says running.
      const orphan = this.records.events.mutate(() => {
        const rec = store.domainByUUID(stray.uuid);
        return (rec === undefined || !isActive(rec)) && store.activeJob(stray.uuid) === undefined;
      }, { unsynced: true });
      if (orphan) await stray.stop();
    }
  }

  /**
   * Records the run state found at open (GuestBackend.recoverJob), with the monitor's event, as
   * libvirt's reconnect reports it: vCPUs resumed after an interrupted save or snapshot are
   * running, reason SAVE_CANCELED (RESUMED); otherwise QEMU's state is taken as it is (paused,
   * reason USER, SUSPENDED; or running, reason UNPAUSED, RESUMED). The dead owner's job row
   * goes with it.
   */
  private runStateFound(uuid: string, found: 'resumed' | 'paused' | 'running'): void {
    const { store, events } = this.records;
    events.mutate(() => {
      const rec = store.domainByUUID(uuid);
      if (rec === undefined || !isActive(rec) || store.activeJob(uuid) !== undefined) return;
      if (found === 'paused') {
        rec.state = DomainState.PAUSED;
        rec.reason = DomainPausedReason.USER;
        this.records.write(rec);
        events.emit(rec, DomainEventType.SUSPENDED, Suspended.PAUSED);
        return;
      }
      rec.state = DomainState.RUNNING;
      rec.reason = found === 'resumed' ? DomainRunningReason.SAVE_CANCELED : DomainRunningReason.UNPAUSED;
      this.records.write(rec);
      if (found === 'resumed') events.vcpusRunning(rec, Resumed.UNPAUSED);
      else events.emit(rec, DomainEventType.RESUMED, Resumed.UNPAUSED);
    }, { unsynced: true });
  }

  close(): void {
    this.closed = true;
  }
}
