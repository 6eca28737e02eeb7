/**
 * A daemon's CPU time over a stretch of a benchmark, all its threads: `perf stat -e task-clock
 * -p PID` (nanosecond precision, software counter: it works on virtual machines without
 * hardware counters) where perf runs, else /proc/PID/stat's utime+stime (10 ms ticks). On a
 * machine shared with other jobs this moves far less than wall time, so the benchmarks print it
 * beside their rates.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLK_TCK = 100;

export const havePerf = spawnSync('perf', ['stat', '-x,', '-e', 'task-clock', '--', 'true'], { encoding: 'utf8' }).status === 0;

/** utime + stime of a process, milliseconds (10 ms ticks). */
export function tickMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) / CLK_TCK) * 1000;
}

/** Counts a process's CPU time from now until the returned function is called; it resolves to { perfMs (NaN without perf), tickMs }. */
export async function cpuClock(pid: number): Promise<() => Promise<{ perfMs: number; tickMs: number }>> {
  const ticks0 = tickMs(pid);
  if (!havePerf) return async () => ({ perfMs: Number.NaN, tickMs: tickMs(pid) - ticks0 });
  const p = spawn('perf', ['stat', '-x,', '-e', 'task-clock', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (b: Buffer) => (err += b.toString()));
  // perf attaches before it counts: give it a moment (outside any timing).
  await new Promise((r) => setTimeout(r, 300));
  return async () => {
    const ticks = tickMs(pid) - ticks0;
    const done = new Promise((r) => p.once('exit', r));
    p.kill('SIGINT');
    await done;
    const line = err.split('\n').find((l) => l.includes('task-clock'));
    return { perfMs: line === undefined ? Number.NaN : Number.parseFloat(line.split(',')[0]!), tickMs: ticks };
  };
}

/** The median of `xs`. */
export function median(xs: number[]): number {
  const t = [...xs].sort((a, b) => a - b);
  return t.length % 2 === 1 ? t[t.length >> 1]! : (t[t.length / 2 - 1]! + t[t.length / 2]!) / 2;
}
