/**
 * Jobs: how the metadata driver sequences a call that acts on a guest, the same way for every
 * backend — the simulator, whose actions answer at once, as real QEMU.
 *
 * 1. The domain's job, in this process: calls of this driver on one domain queue behind each
 *    other, as libvirt's calls wait for the domain's job (up to 30 s).
 * 2. A first store transaction checks the call by the rules and takes the domain's job in the
 *    store, where other processes (and other drivers on the same store) see it: they are refused
 *    with libvirt's lock error at once while it is held.
 * 3. The guest action runs outside any transaction.
 * 4. A second transaction records the outcome on the record read in step 2 — nothing changes
 *    a domain's record while its job is held, since every other writer checks for the job or
 *    takes it — and releases the store's job; then files the records no longer name are
 *    removed (a crash before that leaves an unreferenced file, never a record without its file).
 *
 * A store only this driver can open (test:///default's in memory) has nobody to show a job to:
 * there the job in this process is the whole job, and the store keeps no row for it.
 *
 * A crash between 2 and 4 leaves the old records and a job whose owner is gone, which the next
 * caller takes over.
 */
import type { DomainRef } from '../../core/driver.js';
import { checkActive } from '../../rules/lifecycle.js';
import type { DomainRecord } from '../../store/store.js';
import { isActive, lockTimeout, type DomainRecords } from './records.js';

/** How long a call waits for another call's job on the same domain, as libvirt (30 s). */
const JOB_WAIT_MS = 30_000;

/** One guest-touching call, in the phases `Jobs.run` sequences (see the file comment). */
export interface GuestStep<P, R, T> {
  need?: { active?: true };
  /** Checks by the rules; in the first transaction; throws to refuse (nothing changes). */
  plan: (rec: DomainRecord) => P;
  /** The guest action, outside any transaction. */
  act: (rec: DomainRecord, plan: P) => Promise<R>;
  /** Records the outcome on the record `plan` saw; in the second transaction. */
  commit: (rec: DomainRecord, plan: P, result: R) => T;
  /** After the commit: removals of files the records no longer name. */
  after?: (plan: P, result: R) => Promise<void>;
  /**
   * True when, for this plan, the commit records only a guest process's run state (started with
   * its pid, paused, resumed, stopped): see `runStateCommit`.
   */
  runStateOnly?: (plan: P) => boolean;
}

/** createXML's phases: like GuestStep, for a domain that may have no record yet. */
export interface CreateStep {
  /** Checks by the rules; the record of this UUID, if any. */
  plan: () => DomainRecord | undefined;
  act: (existing: DomainRecord | undefined) => Promise<string | null>;
  /** Stops a guest that started but could not be recorded. */
  undo: (runtime: string | null) => Promise<void>;
  commit: (runtime: string | null) => DomainRef;
}

/** The job of one domain in this process, and the calls queued for it. */
interface HeldJob {
  job: string;
  /** When it got the job (ms since the epoch), for virDomainGetControlInfo. */
  since: number;
  waiters: { job: string; wake: () => void }[];
}

/** Runs guest-touching calls (see the file comment). */
export class Jobs {
  private readonly held = new Map<string, HeldJob>();
  /**
   * The options of a commit that records only run state. Its fsync is skipped when the backend
   * can tell whether a guest runs (`isRunning`): such a commit survives any crash of tsvirt (the
   * WAL is in the OS's cache) and is lost only with the OS, in a power failure or a kernel crash,
   * which stops the guest processes too; opening the store then reconciles the records with the
   * processes, so a guest whose pid is gone is processed as stopped (R5, R12), as it truly is.
   * The next durable commit syncs it along. The simulator's guests live in the store and nothing
   * reconciles them, so its run state stays durable at once. libvirt fsyncs its status XML at
   * each of these changes; this saves one fsync per start, stop, suspend and resume.
   */
  private readonly runStateCommit: { unsynced?: boolean };
  /** Whether others may open the store (a file), and so must see this driver's jobs in it. */
  private readonly shared: boolean;

  /** `onIdle` runs when a domain's last queued call ends (exits noticed meanwhile, ./exits.ts). */
  constructor(
    private readonly records: DomainRecords,
    private readonly onIdle: (uuid: string) => void,
  ) {
    this.runStateCommit = records.backend.isRunning !== undefined ? { unsynced: true } : {};
    this.shared = records.store.path !== ':memory:';
    records.heldHere = (uuid) => this.held.get(uuid)?.job;
  }

  /** The call of this driver that acts on the domain's guest now, and since when (ms since the epoch). */
  current(uuid: string): { job: string; since: number } | undefined {
    const held = this.held.get(uuid);
    return held === undefined ? undefined : { job: held.job, since: held.since };
  }

  /** True while a call of this driver acts on the domain's guest. */
  busy(uuid: string): boolean {
    return this.held.has(uuid);
  }

  /** Runs a call that acts on a guest of an existing domain (see the file comment). */
  async run<P, R, T>(dom: DomainRef, job: string, step: GuestStep<P, R, T>): Promise<T> {
    const { events } = this.records;
    const queued = this.lock(dom.uuid, job);
    if (queued !== undefined) await queued;
    let token: string | null = null;
    let plan: P;
    let result: R;
    let value: T;
    try {
      // Only the job is written here: its loss in a power failure is harmless (no fsync).
      let rec: DomainRecord;
      ({ rec, plan, token } = await events.mutateWhenWritable(
        () => {
          const rec = this.records.resolve(dom);
          const token = this.takeStoreJob(rec.uuid, job);
          if (step.need?.active) checkActive({ active: isActive(rec) });
          return { rec, plan: step.plan(rec), token };
        },
        { unsynced: true },
      ));
      result = await step.act(rec, plan);
      const held = token;
      value = await events.mutateWhenWritable(
        () => {
          this.releaseStoreJob(dom.uuid, held);
          return step.commit(rec, plan, result);
        },
        step.runStateOnly?.(plan) === true ? this.runStateCommit : {},
      );
    } catch (err) {
      await this.releaseStoreJobWhenWritable(dom.uuid, token);
      throw err;
    } finally {
      this.unlock(dom.uuid);
    }
    if (step.after) await step.after(plan, result);
    return value;
  }

  /** createXML's runner: like `run`, for a domain that may not have a record yet. */
  async runCreate(ref: DomainRef, step: CreateStep): Promise<DomainRef> {
    const { events } = this.records;
    const job = 'virDomainCreateXML';
    const queued = this.lock(ref.uuid, job);
    if (queued !== undefined) await queued;
    let token: string | null = null;
    try {
      // Only the job, then only run state (a transient domain or a live definition).
      let existing: DomainRecord | undefined;
      ({ token, existing } = await events.mutateWhenWritable(() => {
        const existing = step.plan();
        return { token: this.takeStoreJob(ref.uuid, job), existing };
      }, { unsynced: true }));
      const runtime = await step.act(existing);
      const held = token;
      try {
        const done = await events.mutateWhenWritable(() => {
          this.releaseStoreJob(ref.uuid, held);
          return step.commit(runtime);
        }, this.runStateCommit);
        token = null; // released with the commit
        return done;
      } catch (err) {
        // The guest runs but cannot be recorded (a conflict appeared meanwhile): stop it.
        await step.undo(runtime);
        throw err;
      }
    } finally {
      await this.releaseStoreJobWhenWritable(ref.uuid, token);
      this.unlock(ref.uuid);
    }
  }

  /**
   * Takes the domain's job in the store (inside a mutation), or refuses: another holds it. Null
   * for a store nobody else opens (see the file comment).
   */
  private takeStoreJob(uuid: string, job: string): string | null {
    if (!this.shared) return null;
    const got = this.records.store.tryAcquireJob(uuid, job);
    if (!('token' in got)) throw lockTimeout(this.records.errDomain, got.heldBy);
    return got.token;
  }

  private releaseStoreJob(uuid: string, token: string | null): void {
    if (token !== null) this.records.store.releaseJob(uuid, token);
  }

  /** {@link releaseStoreJob} outside a mutation: waits for the store's write lock if need be. */
  private async releaseStoreJobWhenWritable(uuid: string, token: string | null): Promise<void> {
    if (token === null) return;
    await this.records.store.writable();
    this.releaseStoreJob(uuid, token);
  }

  /**
   * Takes the domain's job in this process: at once when it is free (undefined), else a promise
   * that resolves when the earlier calls are done (up to 30 s).
   */
  private lock(uuid: string, job: string): Promise<void> | undefined {
    const held = this.held.get(uuid);
    if (held === undefined) {
      this.held.set(uuid, { job, since: Date.now(), waiters: [] });
      return undefined;
    }
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        job,
        wake: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        held.waiters.splice(held.waiters.indexOf(waiter), 1);
        const current = this.held.get(uuid);
        reject(lockTimeout(this.records.errDomain, current?.job ?? held.job));
      }, JOB_WAIT_MS);
      held.waiters.push(waiter);
    });
  }

  /**
   * Ends a call's job in this process. Exits noticed meanwhile are processed first, with no job
   * held, then the next queued call (if any) gets the job.
   */
  private unlock(uuid: string): void {
    const held = this.held.get(uuid);
    if (held === undefined) return;
    this.held.delete(uuid);
    this.onIdle(uuid);
    const next = held.waiters.shift();
    if (next === undefined) return;
    this.held.set(uuid, { job: next.job, since: Date.now(), waiters: held.waiters });
    next.wake();
  }
}
