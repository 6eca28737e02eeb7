/**
 * CLI start-up benchmark (issue 3): wall time of one `tsvirt -c test:///default list --all`
 * process, side by side in one run with a bare `node -e 0` (Node's own start-up, the floor) and
 * with `virsh -c test:///default list --all`. Prints the median of each and tsvirt's distance
 * from the floor; the target is tsvirt within 10 ms of `node -e 0`. Not a test: it asserts
 * nothing about time.
 *
 *   node dist/bench/cli-startup.js            (50 runs each, after 5 warm-up runs)
 *   CLI_BENCH_RUNS=20 node dist/bench/cli-startup.js
 *
 * With hyperfine on PATH (Debian package `hyperfine`) it measures with `hyperfine -N`;
 * otherwise it times repeated spawnSync calls itself, interleaving the three commands so that
 * drift in machine load falls on all of them alike.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNS = Number(process.env.CLI_BENCH_RUNS ?? '50');
const WARMUP = 5;
const TSVIRT = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

interface Subject {
  label: string;
  argv: string[];
}

const subjects: Subject[] = [
  { label: 'node -e 0', argv: [process.execPath, '-e', '0'] },
  { label: 'tsvirt -c test:///default list --all', argv: [process.execPath, TSVIRT, '-c', 'test:///default', 'list', '--all'] },
];
const haveVirsh = spawnSync('virsh', ['--version']).error === undefined;
if (haveVirsh) subjects.push({ label: 'virsh -c test:///default list --all', argv: ['virsh', '-c', 'test:///default', 'list', '--all'] });

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function quote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`;
}

/** Medians in ms, measured by hyperfine. */
function withHyperfine(): number[] | null {
  if (spawnSync('hyperfine', ['--version']).error !== undefined) return null;
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-bench-'));
  try {
    const out = join(dir, 'hyperfine.json');
    const r = spawnSync(
      'hyperfine',
      ['-N', '--warmup', String(WARMUP), '--runs', String(RUNS), '--export-json', out, ...subjects.map((s) => s.argv.map(quote).join(' '))],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    if (r.status !== 0) return null;
    const results = (JSON.parse(readFileSync(out, 'utf8')) as { results: { median: number }[] }).results;
    return results.map((x) => x.median * 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Medians in ms, measured with spawnSync, the subjects interleaved. */
function withSpawnSync(): number[] {
  const times: number[][] = subjects.map(() => []);
  for (let i = 0; i < WARMUP + RUNS; i++) {
    subjects.forEach((s, j) => {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(s.argv[0], s.argv.slice(1), { stdio: 'ignore' });
      const t1 = process.hrtime.bigint();
      if (r.status !== 0) throw new Error(`${s.label} exited ${r.status}`);
      if (i >= WARMUP) times[j].push(Number(t1 - t0) / 1e6);
    });
  }
  return times.map(median);
}

const viaHyperfine = withHyperfine();
const medians = viaHyperfine ?? withSpawnSync();
const method = viaHyperfine !== null ? `hyperfine -N, ${WARMUP} warm-up + ${RUNS} runs each` : `spawnSync, ${WARMUP} warm-up + ${RUNS} runs each, interleaved`;

console.log(`CLI start-up, wall time per process (median; ${method})`);
const width = Math.max(...subjects.map((s) => s.label.length));
subjects.forEach((s, i) => console.log(`  ${s.label.padEnd(width)}  ${medians[i].toFixed(1).padStart(7)} ms`));
if (!haveVirsh) console.log('  (virsh not installed: apt-get install libvirt-clients to compare with it)');
const over = medians[1] - medians[0];
console.log(`tsvirt - node -e 0 = ${over.toFixed(1)} ms (target: within 10 ms)`);
