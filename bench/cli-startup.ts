/**
 * CLI start-up benchmark (issue 3): wall time of one `tsvirt -c test:///default list --all`
 * process, side by side in one run with a bare `node -e 0` (Node's own start-up, the floor) and
 * with `virsh -c test:///default list --all`. Prints the median (and the fastest run) of each and
 * tsvirt's distance from the floor; the target is tsvirt within 10 ms of `node -e 0`. Not a test:
 * it asserts nothing about time.
 *
 *   node dist/bench/cli-startup.js            (50 runs each, after 5 warm-up runs)
 *   CLI_BENCH_RUNS=20 node dist/bench/cli-startup.js
 *   CLI_BENCH_UNBUNDLED=1 node dist/bench/cli-startup.js   (adds dist/src/cli/main.js, the
 *                                                           unbundled ES modules, for comparison)
 *   CLI_BENCH_BASELINE=/tmp/ab-old/dist node dist/bench/cli-startup.js
 *       (A/B: adds the bin of another build, e.g. of an earlier commit built in a git worktree,
 *        measured in the same rounds, and prints this build's median minus that one's; then
 *        CLI_BENCH_PAIRS (default 200) back-to-back pairs of the two, in alternating order,
 *        and the median and quartiles of the pairs' differences, which a shared machine's
 *        changing load disturbs far less than medians taken apart)
 *
 * tsvirt is run as installed: the bin dist/src/cli/tsvirt.cjs, which runs the bundle with its V8
 * code cache (scripts/build-bins.mjs). With hyperfine on PATH (Debian package `hyperfine`) it
 * measures with `hyperfine -N`, in rounds that rotate the order of the commands; otherwise it
 * times spawnSync calls itself, interleaving the commands. Either way drift in the load of a
 * shared machine falls on all of them alike; compare figures of one run only. When
 * NODE_EXTRA_CA_CERTS is set, everything is measured twice: as set, and without it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNS = Number(process.env.CLI_BENCH_RUNS ?? '50');
const WARMUP = 5;
const ROUNDS = Math.min(5, RUNS);
/** The bin as installed: the bundle's loader (see scripts/build-bins.mjs). */
const TSVIRT = fileURLToPath(new URL('../src/cli/tsvirt.cjs', import.meta.url));
const UNBUNDLED = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

interface Subject {
  label: string;
  argv: string[];
}

/** What was measured of one subject: wall times in ms, and mean CPU time (user + system) where known. */
interface Measured {
  times: number[];
  cpu: number[];
}

const subjects: Subject[] = [
  { label: 'node -e 0', argv: [process.execPath, '-e', '0'] },
  { label: 'tsvirt -c test:///default list --all', argv: [process.execPath, TSVIRT, '-c', 'test:///default', 'list', '--all'] },
];
const haveVirsh = spawnSync('virsh', ['--version']).error === undefined;
if (haveVirsh) subjects.push({ label: 'virsh -c test:///default list --all', argv: ['virsh', '-c', 'test:///default', 'list', '--all'] });
const BASELINE = process.env.CLI_BENCH_BASELINE;
if (BASELINE !== undefined && BASELINE !== '') {
  const baseBin = join(BASELINE, 'src', 'cli', 'tsvirt.cjs');
  subjects.push({ label: `tsvirt of ${BASELINE} (baseline)`, argv: [process.execPath, baseBin, '-c', 'test:///default', 'list', '--all'] });
}
if (process.env.CLI_BENCH_UNBUNDLED === '1') {
  subjects.push({ label: '(unbundled: node dist/src/cli/main.js ...)', argv: [process.execPath, UNBUNDLED, '-c', 'test:///default', 'list', '--all'] });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function quote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`;
}

/** Measured by hyperfine, in rounds; null when hyperfine is missing or fails. */
function withHyperfine(env: NodeJS.ProcessEnv): Measured[] | null {
  if (spawnSync('hyperfine', ['--version']).error !== undefined) return null;
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-bench-'));
  const measured: Measured[] = subjects.map(() => ({ times: [], cpu: [] }));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const runs = Math.ceil(RUNS / ROUNDS);
      // Each round starts with another command, so none always runs first or last.
      const order = subjects.map((_, i) => (i + round) % subjects.length);
      const out = join(dir, `hyperfine-${round}.json`);
      const r = spawnSync(
        'hyperfine',
        [
          '-N',
          '--warmup',
          String(round === 0 ? WARMUP : 2),
          '--runs',
          String(runs),
          '--export-json',
          out,
          ...order.map((i) => subjects[i].argv.map(quote).join(' ')),
        ],
        { stdio: ['ignore', 'ignore', 'inherit'], env },
      );
      if (r.status !== 0) return null;
      const results = (JSON.parse(readFileSync(out, 'utf8')) as { results: { times: number[]; user: number; system: number }[] }).results;
      results.forEach((res, k) => {
        const m = measured[order[k]];
        m.times.push(...res.times.map((t) => t * 1000));
        m.cpu.push((res.user + res.system) * 1000);
      });
    }
    return measured;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Measured with spawnSync, the subjects interleaved (wall time only). */
function withSpawnSync(env: NodeJS.ProcessEnv): Measured[] {
  const measured: Measured[] = subjects.map(() => ({ times: [], cpu: [] }));
  for (let i = 0; i < WARMUP + RUNS; i++) {
    subjects.forEach((s, j) => {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(s.argv[0], s.argv.slice(1), { stdio: 'ignore', env });
      const t1 = process.hrtime.bigint();
      if (r.status !== 0) throw new Error(`${s.label} exited ${r.status}`);
      if (i >= WARMUP) measured[j].times.push(Number(t1 - t0) / 1e6);
    });
  }
  return measured;
}

for (const s of subjects.slice(1)) {
  const r = spawnSync(s.argv[0], s.argv.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${s.label} failed (status ${r.status}): ${r.stderr}`);
}
/**
 * This build's bin against the baseline's, run back to back in pairs (which goes first
 * alternates): the differences of the pairs' wall times, in ms, sorted.
 */
function pairedDifferences(env: NodeJS.ProcessEnv, base: Subject): number[] {
  const pairs = Number(process.env.CLI_BENCH_PAIRS ?? '200');
  const time = (s: Subject) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(s.argv[0], s.argv.slice(1), { stdio: 'ignore', env });
    const t1 = process.hrtime.bigint();
    if (r.status !== 0) throw new Error(`${s.label} exited ${r.status}`);
    return Number(t1 - t0) / 1e6;
  };
  const diffs: number[] = [];
  for (let i = 0; i < pairs; i++) {
    if (i % 2 === 0) {
      const a = time(subjects[1]);
      diffs.push(a - time(base));
    } else {
      const b = time(base);
      diffs.push(time(subjects[1]) - b);
    }
  }
  return diffs.sort((x, y) => x - y);
}

/** Measures every subject under `env` and prints the table and tsvirt's distance from the floor. */
function report(title: string, env: NodeJS.ProcessEnv): void {
  const viaHyperfine = withHyperfine(env);
  const measured = viaHyperfine ?? withSpawnSync(env);
  const method =
    viaHyperfine !== null
      ? `hyperfine -N, ${WARMUP} warm-up + ${RUNS} runs each in ${ROUNDS} rounds`
      : `spawnSync, ${WARMUP} warm-up + ${RUNS} runs each, interleaved`;
  const fmt = (n: number) => n.toFixed(1).padStart(7);
  const meanCpu = (m: Measured) => m.cpu.reduce((a, b) => a + b, 0) / m.cpu.length;
  console.log(`CLI start-up${title}, wall time per process (${method})`);
  const width = Math.max(...subjects.map((s) => s.label.length));
  console.log(`  ${''.padEnd(width)}   median  fastest${viaHyperfine !== null ? '      cpu' : ''}`);
  subjects.forEach((s, i) => {
    const m = measured[i];
    const cpu = m.cpu.length > 0 ? fmt(meanCpu(m)) : '';
    console.log(`  ${s.label.padEnd(width)}  ${fmt(median(m.times))}  ${fmt(Math.min(...m.times))}  ${cpu}`);
  });
  console.log('  (ms; cpu: mean user + system time)');
  const over = median(measured[1].times) - median(measured[0].times);
  const overCpu = viaHyperfine !== null ? `, ${(meanCpu(measured[1]) - meanCpu(measured[0])).toFixed(1)} ms cpu` : '';
  console.log(`tsvirt - node -e 0 = ${over.toFixed(1)} ms median${overCpu} (target: within 10 ms)`);
  const base = subjects.findIndex((s) => s.label.endsWith('(baseline)'));
  if (base >= 0) {
    const ab = median(measured[1].times) - median(measured[base].times);
    const abCpu = viaHyperfine !== null ? `, ${(meanCpu(measured[1]) - meanCpu(measured[base])).toFixed(1)} ms cpu` : '';
    console.log(`tsvirt - baseline = ${ab >= 0 ? '+' : ''}${ab.toFixed(1)} ms median${abCpu}`);
    const d = pairedDifferences(env, subjects[base]);
    const q = (f: number) => d[Math.min(d.length - 1, Math.floor(f * d.length))].toFixed(1);
    console.log(`tsvirt - baseline, ${d.length} back-to-back pairs: median ${median(d).toFixed(1)} ms (quartiles ${q(0.25)} .. ${q(0.75)})`);
  }
}

if (!haveVirsh) console.log('(virsh not installed: apt-get install libvirt-clients to compare with it)');
if (process.env.NODE_EXTRA_CA_CERTS !== undefined) {
  // Node parses those certificates at every start (~80 ms here), and part of that work overlaps
  // with a command's own: the gap to `node -e 0` looks smaller with them. Both are printed.
  report(' (NODE_EXTRA_CA_CERTS set, as in this environment)', process.env);
  console.log();
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  report(' (NODE_EXTRA_CA_CERTS unset)', env);
} else {
  report('', process.env);
}
