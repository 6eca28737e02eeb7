/**
 * Last-resort cleanup for what tests and benchmarks start — daemons, their child processes,
 * temporary directories — when the process dies before their owner disposes of them: an
 * uncaught error, an EPIPE on a closed pipe (`node dist/bench/remote.js | head`), SIGINT, SIGTERM
 * or SIGHUP. An owner registers a cleanup when it starts something and drops it once it has
 * disposed of it. Cleanups run synchronously (from the 'exit' event), newest first.
 */
import { constants } from 'node:os';

const cleanups = new Set<() => void>();
let installed = false;

/** Runs every registered cleanup once, newest first; one that throws does not stop the others. */
export function runEmergency(): void {
  const fns = [...cleanups].reverse();
  cleanups.clear();
  for (const fn of fns) {
    try {
      fn();
    } catch {
      // The others still run.
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runEmergency);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      runEmergency();
      process.exit(128 + constants.signals[sig]);
    });
  }
}

/** Registers `fn` (synchronous) to run if the process ends first; returns what drops it. */
export function onEmergency(fn: () => void): () => void {
  install();
  cleanups.add(fn);
  return () => void cleanups.delete(fn);
}

/** SIGKILLs `proc` (or, with `group`, its process group) unless it has exited. */
export function killNow(proc: { pid?: number; exitCode: number | null; signalCode: NodeJS.Signals | null }, group = false): void {
  if (proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
  try {
    process.kill(group ? -proc.pid : proc.pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}
