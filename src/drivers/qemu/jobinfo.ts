/**
 * The QEMU driver's record of long jobs for virDomainGetJobInfo / GetJobStats: a managed save or
 * memory snapshot in progress (its progress comes from the metadata driver's JobProgress
 * callbacks) and the last one completed. In memory, per driver: a job belongs to the process
 * running it, as libvirt's belongs to its daemon.
 */
import type { JobInfo, JobProgress, JobStats, TypedParameter } from '../../core/driver.js';
import { DomainJobType } from '../../core/enums.generated.js';

/** virDomainJobOperation values of the jobs tracked here. */
export const JobOperation = { SAVE: 2, MIGRATION_OUT: 5, SNAPSHOT: 6 } as const;

interface Tracked {
  operation: number;
  started: number;
  progress: JobProgress & { remaining?: number };
  ended?: number;
  outcome?: 'completed' | 'failed' | 'cancelled';
  /** What aborts it (a managed save: migrate_cancel); absent when it cannot be aborted. */
  abort?: () => Promise<void>;
  /** Further figures of the job's kind (a migration's downtime, rates, page counts), by libvirt field name. */
  details?: TypedParameter[];
}

const ULLONG = 4;
const INT = 1;

/** Jobs by domain UUID (see the file comment). */
export class JobTracker {
  private readonly active = new Map<string, Tracked>();
  private readonly completed = new Map<string, Tracked>();

  /** Starts tracking; returns the progress callback and the function that ends the job. */
  begin(
    uuid: string,
    operation: number,
  ): {
    /** `remaining`, when the job knows it (a migration re-sends dirty pages): else total - processed. */
    onProgress: (p: JobProgress & { remaining?: number }) => void;
    /** Ends the job; `record`: keep it as the last completed one (it got under way). */
    end: (outcome: 'completed' | 'failed' | 'cancelled', record: boolean) => void;
    setAbort: (f: () => Promise<void>) => void;
    /** Replaces the job's further figures (see Tracked.details). */
    setDetails: (params: TypedParameter[]) => void;
  } {
    const job: Tracked = { operation, started: Date.now(), progress: { processed: 0, total: 0 } };
    this.active.set(uuid, job);
    return {
      onProgress: (p) => {
        job.progress = p;
      },
      setAbort: (f) => {
        job.abort = f;
      },
      setDetails: (params) => {
        job.details = params;
      },
      end: (outcome, record) => {
        if (this.active.get(uuid) === job) this.active.delete(uuid);
        job.ended = Date.now();
        job.outcome = outcome;
        if (record) this.completed.set(uuid, job);
      },
    };
  }

  /** The job running on the domain, if any. */
  current(uuid: string): { operation: number; abort?: () => Promise<void> } | undefined {
    return this.active.get(uuid);
  }

  /** virDomainGetJobInfo: the running job (UNBOUNDED, as libvirt reports saves) or NONE. */
  info(uuid: string): JobInfo {
    const job = this.active.get(uuid);
    const none: JobInfo = {
      type: DomainJobType.NONE,
      timeElapsed: 0,
      timeRemaining: 0,
      dataTotal: 0,
      dataProcessed: 0,
      dataRemaining: 0,
      memTotal: 0,
      memProcessed: 0,
      memRemaining: 0,
      fileTotal: 0,
      fileProcessed: 0,
      fileRemaining: 0,
    };
    if (job === undefined) return none;
    const { processed, total } = job.progress;
    const remaining = job.progress.remaining ?? Math.max(0, total - processed);
    return {
      ...none,
      type: DomainJobType.UNBOUNDED,
      timeElapsed: Date.now() - job.started,
      dataTotal: total,
      dataProcessed: processed,
      dataRemaining: remaining,
      memTotal: total,
      memProcessed: processed,
      memRemaining: remaining,
    };
  }

  /**
   * virDomainGetJobStats: the running job, or with `completed` the last finished one (forgotten
   * unless `keep`).
   */
  stats(uuid: string, completed: boolean, keep: boolean): JobStats {
    const job = completed ? this.completed.get(uuid) : this.active.get(uuid);
    if (job === undefined) return { type: DomainJobType.NONE, params: [] };
    if (completed && !keep) this.completed.delete(uuid);
    const type = !completed
      ? DomainJobType.UNBOUNDED
      : job.outcome === 'completed'
        ? DomainJobType.COMPLETED
        : job.outcome === 'cancelled'
          ? DomainJobType.CANCELLED
          : DomainJobType.FAILED;
    const { processed, total } = job.progress;
    const remaining = job.progress.remaining ?? Math.max(0, total - processed);
    const u = (field: string, value: number): TypedParameter => ({ field, type: ULLONG, value });
    return {
      type,
      params: [
        { field: 'operation', type: INT, value: job.operation },
        u('time_elapsed', (job.ended ?? Date.now()) - job.started),
        u('data_total', total),
        u('data_processed', processed),
        u('data_remaining', remaining),
        u('memory_total', total),
        u('memory_processed', processed),
        u('memory_remaining', remaining),
        ...(job.details ?? []),
      ],
    };
  }
}
