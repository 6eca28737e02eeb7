/**
 * Progress of long jobs as virsh shows it with --verbose (virshPrintJobProgress):
 * `\rLABEL: [ NN %]` on standard error, 100 only when the job is done.
 */
import type { JobProgress } from '../index.js';
import type { Ctl } from './context.js';

/** The onProgress callback for the API (absent unless verbose) and the final `[100 %]`. */
export function jobProgress(ctl: Ctl, label: string, verbose: boolean): { onProgress?: (p: JobProgress) => void; done(): void } {
  if (!verbose) return { done: () => undefined };
  let last = -1;
  return {
    onProgress: (p) => {
      if (p.total <= 0) return;
      const remaining = Math.max(0, p.total - p.processed);
      const pct = remaining === 0 ? 99 : Math.min(99, Math.trunc(100 - (remaining * 100) / p.total));
      if (pct === last) return;
      last = pct;
      ctl.stderr(`\r${label}: [${String(pct).padStart(3)} %]`);
    },
    done: () => ctl.stderr(`\r${label}: [100 %]`),
  };
}
