/**
 * Statistics calls through tsvirtd beside libvirtd, both on test:///default, with 100 running
 * domains (each with a disk and a balloon) besides the preset one, from the same python-libvirt
 * client: the round trip (median and p99, µs) of virDomainGetVcpus, virDomainMemoryStats,
 * virDomainBlockStats, and of virConnectGetAllDomainStats over all 101 domains (domstats), plus
 * the daemon's CPU time per call over all of a phase's calls, all its threads: `perf stat -e
 * task-clock -p PID` (nanoseconds) where perf runs, and /proc/PID/stat's utime+stime (ticks of
 * 10 ms) always. Each phase runs REPEATS times per daemon, the two daemons taking turns (the
 * first of each turn alternating), after one untimed warm-up pass of every phase on both (a
 * long-running daemon is measured warm, as it runs); the medians are printed, with the spread
 * (min–max) of the p50 and of the CPU per call, and the ratio tsvirtd / libvirtd. CPU per call
 * is the deciding figure on a loaded machine: wall time there moves with other jobs. Not a
 * test: it asserts nothing.
 *
 *   npm run build && node dist/bench/stats.js     (BENCH_QUICK=1 for fewer calls; BENCH_REPEATS=N)
 */
import { spawnSync } from 'node:child_process';
import { cpuClock, havePerf, median as med } from './cpu.js';
import { MessageStatus } from '../src/rpc/message.js';
import { Proc, openArgs } from '../src/rpc/procedures.js';
import { RawClient, havePythonLibvirt, startDaemon, type RunningDaemon } from '../test/support/daemon-harness.js';
import { startLibvirtd, type RunningLibvirtd } from '../test/support/libvirtd-harness.js';

const QUICK = process.env.BENCH_QUICK === '1';
const DOMAINS = 100;
/** Calls per phase: each per-domain call goes round the 100 domains this many times. */
const ROUNDS = QUICK ? 5 : 20;
const DOMSTATS_CALLS = QUICK ? 20 : 100;
/** Timed runs of each phase per daemon. */
const REPEATS = Number(process.env.BENCH_REPEATS ?? (QUICK ? 1 : 3));

const SETUP = String.raw`
import libvirt, sys, uuid
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
for i in range(int(sys.argv[2])):
    xml = """<domain type='test'><name>bs%d</name><uuid>%s</uuid><memory unit='KiB'>262144</memory><vcpu>2</vcpu>
<os><type arch='i686'>hvm</type></os><devices>
<disk type='file' device='disk'><source file='/img/bs%d.img'/><target dev='vda' bus='virtio'/></disk>
<memballoon model='virtio'/></devices></domain>""" % (i, uuid.uuid4(), i)
    d = c.defineXML(xml)
    d.create()
print(len(c.listAllDomains(1)))
`;

const PHASE = String.raw`
import libvirt, sys, time, json
libvirt.registerErrorHandler(lambda *a: None, None)
uri, phase, rounds, calls = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
c = libvirt.open(uri)
doms = [d for d in c.listAllDomains(1) if d.name().startswith('bs')]
ops = {
  'getVcpus': lambda d: d.vcpus(),
  'memoryStats': lambda d: d.memoryStats(),
  'blockStats': lambda d: d.blockStats('vda'),
}
times = []
if phase == 'domstats':
    for _ in range(3): c.getAllDomainStats(0, 0)
    for _ in range(calls):
        t = time.perf_counter(); r = c.getAllDomainStats(0, 0); times.append(time.perf_counter() - t)
    assert len(r) == len(doms) + 1, len(r)
else:
    f = ops[phase]
    for d in doms[:10]: f(d)
    for _ in range(rounds):
        for d in doms:
            t = time.perf_counter(); f(d); times.append(time.perf_counter() - t)
times.sort()
print(json.dumps({'n': len(times), 'p50': times[len(times)//2] * 1e6, 'p99': times[int(len(times)*0.99)] * 1e6}))
`;

interface Side {
  name: 'tsvirtd' | 'libvirtd';
  uri: string;
  pid: number;
}

function py(script: string, ...args: string[]): string {
  const r = spawnSync('/usr/bin/python3', ['-c', script, ...args], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout.trim();
}

async function hold(socket: string): Promise<RawClient> {
  const h = await RawClient.connect(socket);
  await h.call(Proc.AUTH_LIST);
  const open = await h.callWith(Proc.CONNECT_OPEN, openArgs, { name: 'test:///default', flags: 0 });
  if (open.header.status !== MessageStatus.OK) throw new Error('CONNECT_OPEN failed');
  return h;
}

async function main(): Promise<void> {
  if (!havePythonLibvirt()) {
    console.log('skipped: /usr/bin/python3 has no python3-libvirt');
    return;
  }
  let d: RunningDaemon | undefined;
  let lv: RunningLibvirtd | undefined;
  const holders: RawClient[] = [];
  try {
    d = await startDaemon({ verbose: false });
    const started = await startLibvirtd();
    if ('skip' in started) {
      console.log(`libvirtd not available (${started.skip}): tsvirtd figures only`);
    } else lv = started;
    const sides: Side[] = [{ name: 'tsvirtd', uri: d.uri('/default'), pid: d.proc.pid! }];
    if (lv !== undefined) sides.push({ name: 'libvirtd', uri: lv.uri('/default'), pid: lv.proc.pid! });
    // test:///default keeps its shared state while a connection to it is open.
    holders.push(await hold(d.rw));
    if (lv !== undefined) holders.push(await hold(lv.socket));
    for (const s of sides) py(SETUP, s.uri, String(DOMAINS));

    const phases = ['getVcpus', 'memoryStats', 'blockStats', 'domstats'] as const;
    interface Run { p50: number; p99: number; cpuUs: number; perfUs: number; n: number }
    const runs: Record<string, Record<string, Run[]>> = {};
    // Untimed: both daemons warm (V8 compiles tsvirtd's hot paths in its first calls).
    for (const phase of phases) for (const s of sides) py(PHASE, s.uri, phase, String(Math.max(1, ROUNDS >> 2)), String(Math.max(1, DOMSTATS_CALLS >> 2)));
    for (let rep = 0; rep < REPEATS; rep++) {
      for (const phase of phases) {
        runs[phase] ??= {};
        for (const s of rep % 2 === 0 ? sides : [...sides].reverse()) {
          const clock = await cpuClock(s.pid);
          const r = JSON.parse(py(PHASE, s.uri, phase, String(ROUNDS), String(DOMSTATS_CALLS))) as { n: number; p50: number; p99: number };
          const cpu = await clock();
          (runs[phase]![s.name] ??= []).push({ ...r, cpuUs: (cpu.tickMs / r.n) * 1e3, perfUs: (cpu.perfMs / r.n) * 1e3 });
        }
      }
    }
    const f = (v: number) => (Number.isNaN(v) ? '-' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
    const spread = (xs: number[]) => `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;
    const cpuOf = (r: Run) => (Number.isNaN(r.perfUs) ? r.cpuUs : r.perfUs);
    console.log(`statistics round trips, python-libvirt client, test:///default, ${DOMAINS} running domains + 'test' (µs per call)`);
    console.log(`median of ${REPEATS} alternating run(s) per daemon; [min–max]; CPU/call from ${havePerf ? 'perf task-clock (ticks: utime+stime, 10 ms)' : 'utime+stime (10 ms ticks; no perf)'}`);
    console.log('call         daemon     n     p50 [min–max]          p99     CPU/call [min–max]      ticks CPU/call');
    for (const phase of phases) {
      for (const s of sides) {
        const rs = runs[phase]![s.name]!;
        const p50s = rs.map((r) => r.p50);
        const cpus = rs.map(cpuOf);
        console.log(
          `${phase.padEnd(12)} ${s.name.padEnd(9)} ${String(rs[0]!.n).padStart(5)} ${f(med(p50s)).padStart(7)} ${`[${spread(p50s)}]`.padEnd(14)} ` +
            `${f(med(rs.map((r) => r.p99))).padStart(8)} ${f(med(cpus)).padStart(8)} ${`[${spread(cpus)}]`.padEnd(14)} ${f(med(rs.map((r) => r.cpuUs))).padStart(8)}`,
        );
      }
      const t = runs[phase]!.tsvirtd!;
      const l = runs[phase]!.libvirtd;
      if (l !== undefined) {
        const r = (a: number, b: number) => (a / Math.max(b, 1e-9)).toFixed(2);
        console.log(
          `${''.padEnd(12)} ratio tsvirtd/libvirtd (medians): p50 ${r(med(t.map((x) => x.p50)), med(l.map((x) => x.p50)))}, ` +
            `p99 ${r(med(t.map((x) => x.p99)), med(l.map((x) => x.p99)))}, CPU/call ${r(med(t.map(cpuOf)), med(l.map(cpuOf)))}`,
        );
      }
    }
  } finally {
    for (const h of holders) h.close();
    await d?.dispose();
    await lv?.dispose();
  }
}

await main();
