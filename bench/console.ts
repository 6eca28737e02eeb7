/**
 * The serial console through tsvirtd beside a real libvirtd (its qemu driver): the same test
 * guest (TCG, a shell on a `<serial type='pty'>`) on each daemon, driven by the very same
 * python3-libvirt client code (`newStream(0)`, `openConsole(None, st, 0)`, blocking `send`/`recv`).
 *
 *   node dist/bench/console.js [ROUNDS] [BYTES]    (default 200 keystrokes, 200000 bytes)
 *
 * Keystroke to echo: one character typed into the guest shell, timed until its echo comes back
 * (then a backspace, untimed, keeps the line empty). The guest runs under TCG (no KVM), so its
 * own echo latency (UART interrupt, tty, busybox's line editing) is part of the figure on both
 * sides. Throughput: the guest prints BYTES of `yes` (`yes | head -c BYTES`), timed from the
 * command's Enter to its end marker; MB/s of console output delivered to the client (the tty
 * turns every \n into \r\n, so more bytes arrive than were printed; all of them count).
 * The two sides take turns (two turns each) so that load on a shared machine falls on both.
 * The libvirtd runs as `nobody` with every path in a temporary directory (bench/libvirtd-session.ts).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestGuest, guestXML, qemuSkipReason, type TestGuest } from '../test/qemu-harness.js';
import { guestPids, startDaemon, type RunningDaemon } from '../test/support/daemon-harness.js';
import { onEmergency } from '../test/support/emergency.js';
import { startLibvirtdSession, type LibvirtdSession } from './libvirtd-session.js';

const nums = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
const ROUNDS = nums[0] ?? 200;
const BYTES = nums[1] ?? 200_000;
const TURNS = 2;
const PYTHON = '/usr/bin/python3';
const NOBODY = 65534;

/**
 * The client, identical on both daemons. `create URI XMLFILE`, `destroy URI NAME`, or
 * `bench URI NAME ROUNDS BYTES` (prints one JSON line: echo round trips in ms, bytes and seconds).
 */
const CLIENT = String.raw`
import json, os, sys, threading, time
import libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
watchdog = threading.Timer(600, lambda: os._exit(3))
watchdog.daemon = True
watchdog.start()
cmd, uri = sys.argv[1], sys.argv[2]
c = libvirt.open(uri)
if cmd == 'create':
    c.createXML(open(sys.argv[3]).read(), 0)
    os._exit(0)
if cmd == 'destroy':
    try:
        c.lookupByName(sys.argv[3]).destroy()
    except libvirt.libvirtError:
        pass
    os._exit(0)
name, rounds, nbytes = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
dom = c.lookupByName(name)
st = c.newStream(0)
dom.openConsole(None, st, 0)
buf = b''
debug = os.environ.get('TSVB_DEBUG') is not None
def until(marker):
    global buf
    while marker not in buf:
        got = st.recv(65536)
        if not got:
            raise SystemExit('end of console data')
        if debug:
            sys.stderr.write(repr(got) + '\n')
        buf += got
    # What follows the marker stays for the next wait (a prompt may come in the same packet).
    buf = buf[buf.index(marker) + len(marker):]
# The shell may still be starting: say it again until it answers. R2Y appears only in the
# answer (the typed line holds R$((1+1))Y).
ready = threading.Event()
def nudge():
    while not ready.is_set():
        st.send(b'\x15echo R$((1+1))Y\r')
        ready.wait(2)
t = threading.Thread(target=nudge)
t.start()
until(b'R2Y')
ready.set()
t.join()
time.sleep(0.3)
# Warm up, then drain whatever the prompt printed.
st.send(b'\x15stty -ixon 2>/dev/null; echo W$((2+2))W\r')
until(b'W4W')
until(b'# ')
rtt = []
for i in range(rounds + 10):
    buf = b''  # the previous backspace's escapes
    t0 = time.perf_counter()
    st.send(b'a')
    until(b'a')
    dt = time.perf_counter() - t0
    if i >= 10:
        rtt.append(dt * 1000)
    st.send(b'\x7f')
    until(b'\x08')
    time.sleep(0.005)
# Let the backspace echo's tail (cursor escapes) arrive and be dropped.
time.sleep(0.2)
st.send(b'\x15\r')
until(b'# ')
line = b'yes | head -c %d; echo; echo E$((3+4))E\r' % nbytes
st.send(line)
until(b'E$((3+4))E')
t0 = time.perf_counter()
total = len(buf)
recvs = 0
tail = buf[-16:]
while b'E7E' not in tail:
    got = st.recv(65536)
    if not got:
        raise SystemExit('end of console data')
    if debug:
        sys.stderr.write('%d %r\n' % (len(got), got[-20:]))
    total += len(got)
    recvs += 1
    tail = (tail + got)[-16:]
secs = time.perf_counter() - t0
st.abort()
print(json.dumps({'rtt': rtt, 'bytes': total, 'secs': secs, 'recvs': recvs}), flush=True)
os._exit(0)
`;

interface Result {
  rtt: number[];
  /** virStreamRecv calls that returned data during the throughput run: one per STREAM packet at most. */
  recvs?: number;
  bytes: number;
  secs: number;
}

function run(argv: string[], env?: NodeJS.ProcessEnv, asNobody?: string[]): Promise<string> {
  const full = asNobody !== undefined ? ['setpriv', ...asNobody, ...argv] : argv;
  const dbg = process.env.TSVB_DEBUG !== undefined && env !== undefined ? { TSVB_DEBUG: '1' } : {};
  const p = spawn(full[0]!, full.slice(1), { env: env !== undefined ? { ...env, ...dbg } : process.env });
  let out = '';
  let err = '';
  p.stdout.on('data', (b: Buffer) => (out += b.toString()));
  p.stderr.on('data', (b: Buffer) => {
    err += b.toString();
    if (process.env.TSVB_DEBUG !== undefined) process.stderr.write(b);
  });
  return new Promise((resolve, reject) =>
    p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv.slice(1, 3).join(' ')}: ${err.trim().split('\n').slice(-3).join(' | ') || `exit ${code}`}`)))),
  );
}

/** The pids of QEMU processes whose command line names `path` (the guest's kernel, unique to this run). */
function qemuUsing(path: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes('qemu-system') && cmdline.includes(path)) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]!;
}

interface Side {
  label: string;
  uri: string;
  name: string;
  script: string;
  env?: NodeJS.ProcessEnv;
  asNobody?: string[];
  results: Result[];
}

async function main(): Promise<void> {
  const skip = qemuSkipReason();
  if (skip !== false) {
    console.log(`console bench skipped: ${skip}`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tsvb-con-'));
  chmodSync(dir, 0o755);
  let d: RunningDaemon | undefined;
  let lv: LibvirtdSession | { skip: string } | undefined;
  let guest: TestGuest | undefined;
  let lvGuest: TestGuest | undefined;
  const sides: Side[] = [];
  const forget = onEmergency(() => {
    for (const g of [guest, lvGuest]) if (g !== undefined) killAll(qemuUsing(g.kernel));
    if (d !== undefined) killAll(guestPids(d.stateDir));
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    guest = await buildTestGuest(join(dir, 'guest'));
    const script = join(dir, 'console.py');
    writeFileSync(script, CLIENT);
    d = await startDaemon({ dir: join(dir, 'tsvirtd'), verbose: false, uris: ['qemu:///session'] });
    const ts: Side = { label: 'tsvirtd', uri: `qemu+unix:///session?socket=${d.rw}`, name: 'bench-con-ts', script, results: [] };
    const xml = join(dir, 'ts.xml');
    writeFileSync(xml, guestXML({ name: ts.name, uuid: randomUUID(), guest, mode: 'B', shell: true, serial: '', pty: { log: false } }));
    await run([PYTHON, script, 'create', ts.uri, xml]);
    sides.push(ts);

    lv = await startLibvirtdSession();
    if ('skip' in lv) {
      console.log(`(libvirtd side skipped: ${lv.skip})`);
    } else {
      // Everything libvirtd's QEMU (running as nobody) opens lives under its own readable directory.
      const lvDir = join(lv.dir, 'console');
      mkdirSync(lvDir);
      lvGuest = await buildTestGuest(join(lvDir, 'guest'));
      const lvScript = join(lvDir, 'console.py');
      writeFileSync(lvScript, CLIENT);
      const lvXml = join(lvDir, 'lv.xml');
      const side: Side = { label: 'libvirtd', uri: lv.uri, name: 'bench-con-lv', script: lvScript, env: lv.env, asNobody: lv.asNobody, results: [] };
      writeFileSync(lvXml, guestXML({ name: side.name, uuid: randomUUID(), guest: lvGuest, mode: 'B', shell: true, serial: '', pty: { log: false } }));
      for (const f of [lvScript, lvXml]) chownSync(f, NOBODY, NOBODY);
      try {
        await run([PYTHON, lvScript, 'create', side.uri, lvXml], side.env, side.asNobody);
        sides.push(side);
      } catch (err) {
        console.log(`(libvirtd side skipped: ${(err as Error).message})`);
      }
    }
    for (let turn = 0; turn < TURNS; turn++) {
      for (const s of sides) {
        const out = await run([PYTHON, s.script, 'bench', s.uri, s.name, String(Math.ceil(ROUNDS / TURNS)), String(BYTES)], s.env, s.asNobody);
        s.results.push(JSON.parse(out.trim().split('\n').pop()!) as Result);
      }
    }
  } finally {
    for (const s of sides) await run([PYTHON, s.script, 'destroy', s.uri, s.name], s.env, s.asNobody).catch(() => undefined);
    for (const g of [guest, lvGuest]) if (g !== undefined) killAll(qemuUsing(g.kernel));
    if (d !== undefined) {
      killAll(guestPids(d.stateDir));
      await d.stop();
    }
    if (lv !== undefined && !('skip' in lv)) await lv.dispose();
    rmSync(dir, { recursive: true, force: true });
    forget();
  }
  report(sides);
}

function report(sides: Side[]): void {
  const fig = sides.map((s) => {
    const rtt = s.results.flatMap((r) => r.rtt);
    const bytes = s.results.reduce((a, r) => a + r.bytes, 0);
    const secs = s.results.reduce((a, r) => a + r.secs, 0);
    const recvs = s.results.reduce((a, r) => a + (r.recvs ?? 0), 0) / s.results.length;
    return { label: s.label, median: pct(rtt, 50), p90: pct(rtt, 90), n: rtt.length, mbps: bytes / secs / 1e6, bytes: bytes / s.results.length, recvs };
  });
  console.log(`serial console of a TCG test guest (busybox shell on ttyS0), python3-libvirt client on both sides, ${TURNS} turns each:`);
  console.log('keystroke to echo (includes the guest\'s own echo under TCG):');
  for (const f of fig) console.log(`  ${f.label.padEnd(9)} median ${f.median.toFixed(2)} ms  p90 ${f.p90.toFixed(2)} ms  (${f.n} keystrokes)`);
  console.log(`throughput (yes | head -c ${BYTES}, ~${Math.round(fig[0]!.bytes)} bytes delivered per run):`);
  for (const f of fig) {
    console.log(`  ${f.label.padEnd(9)} ${f.mbps.toFixed(3)} MB/s, ${Math.round(f.recvs)} recv() calls per run (${(f.bytes / Math.max(1, f.recvs)).toFixed(1)} bytes each)`);
  }
  if (fig.length < 2) {
    console.log('no libvirtd figures: see the skip reason above');
    return;
  }
  const [t, l] = [fig[0]!, fig[1]!];
  console.log(`ratio tsvirtd/libvirtd: echo time median ${(t.median / l.median).toFixed(2)}, p90 ${(t.p90 / l.p90).toFixed(2)} (below 1 = tsvirtd quicker)`);
  console.log(`ratio tsvirtd/libvirtd: throughput ${(t.mbps / l.mbps).toFixed(2)} (above 1 = tsvirtd faster)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
