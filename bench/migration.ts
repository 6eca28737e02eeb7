/**
 * Live migration, tsvirt against raw QEMU (two qemu-system processes with the same command line,
 * QMP by hand: spawn the destination with `-incoming defer`, `migrate-incoming`, `migrate` on the
 * source, wait, `cont` the destination, `quit` the source). TCG guests of 128 MiB (48 MiB of RAM
 * dirtied) and 512 MiB (256 MiB). Two modes:
 *
 * - between two network namespaces (the default as root): one veth pair, 10.232.N.1 (A) and .2
 *   (B). tsvirt: a tsvirtd (qemu:///session, its own socket directory and state) inside each
 *   namespace, migrating on its namespace's address; this process drives them with tsvirt's
 *   library over their unix sockets: `dom.migrate3(connB, {destination_xml}, LIVE|PERSIST_DEST)`
 *   (the five steps across two remote connections). Raw: the source QEMU runs in A, the
 *   destination in B (`ip netns exec`), `migrate-incoming`/`migrate` on B's address. Namespaces,
 *   daemons and QEMU are removed at the end, also on failure, SIGINT or SIGTERM.
 * - over 127.0.0.1 in this process (not root, or BENCH_LOOPBACK=1): two QemuDriver instances,
 *   each its own "host", the five version-3 steps called in a client's order; raw QEMU on
 *   loopback.
 *
 * Figures, medians of RUNS (default 3) per side and size, and each run's value (the spread):
 *   total    — wall time from the first step (tsvirt: migrate3 or Begin; raw: spawning the
 *              destination) until the guest runs at the destination and the source QEMU is gone;
 *   downtime — QEMU's own `downtime` of the migration (vCPUs stopped), as query-migrate reports
 *              it (tsvirtd: the source's completed job statistics, `downtime`);
 *   stream   — the migration stream alone: raw, QEMU's `total-time`; tsvirtd, the source's
 *              completed job's `time_elapsed` (from its `migrate` command to QEMU's completion;
 *              the loopback mode reads QEMU's `total-time` from the driver);
 *   outside  — total − stream per run: what each side spends around QEMU's stream (tsvirt: the
 *              five steps over two daemons, the destination QEMU's start, the source's stop;
 *              raw: the destination's start, QMP, `quit`). Far less noisy than total, whose
 *              spread is the stream's.
 * Migration bandwidth unlimited on both sides (libvirt's default max speed).
 *
 * The netns mode leaves VIR_MIGRATE_UNDEFINE_SOURCE out: it would remove the source's record and
 * with it the completed job statistics the downtime is read from; the source's inactive
 * definition is undefined after the clock stops.
 *
 * Run: npm run build && node dist/bench/migration.js [RUNS]
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DomainRef, TypedParameter } from '../src/core/driver.js';
import { DomainGetJobStatsFlags, DomainMigrateFlags as M } from '../src/core/enums.generated.js';
import { DAEMON_NODE_FLAGS } from '../src/daemon/node-flags.js';
import { connect, type Connection } from '../src/index.js';
import { DAEMON_MAIN } from '../test/support/daemon-harness.js';
import { parseDomainXML } from '../src/conf/domain.js';
import { buildQemuArgv } from '../src/drivers/qemu/argv.js';
import { QemuGuests } from '../src/drivers/qemu/backend.js';
import { findEmulator, launchQemu, type LaunchedQemu } from '../src/drivers/qemu/process.js';
import { QemuDriver } from '../src/drivers/qemu/qemu-driver.js';
import type { QmpClient } from '../src/drivers/qemu/qmp.js';
import { Store } from '../src/store/store.js';

const RUNS = Number(process.argv[2] ?? 3);
const STRING = 7;

/** rdinit wrapper (a second cpio appended to the test guest's): dirties guest.fill MiB once ready. */
const FILL_INIT = `#!/bin/busybox sh
/bin/busybox mknod /dev/null c 1 3
(
  while [ ! -s /run/acpid.pid ]; do /bin/busybox sleep 0.05; done
  fill=0
  for arg in $(/bin/busybox cat /proc/cmdline); do
    case $arg in guest.fill=*) fill=\${arg#*=} ;; esac
  done
  /bin/busybox mount -o remount,size=95% /
  /bin/busybox dd if=/dev/urandom of=/fill.1 bs=65536 count=16 2>/dev/null
  i=0
  while [ $i -lt "$fill" ]; do /bin/busybox cat /fill.1 >> /fill.bin; i=$((i + 1)); done
  echo "GUEST-FILLED $fill" > /dev/console
) &
exec /init
`;

function buildGuest(root: string): { kernel: string; initrd: string } {
  const out = join(root, 'guest');
  execFileSync('sh', [fileURLToPath(new URL('../../scripts/build-test-guest.sh', import.meta.url)), out], { stdio: ['ignore', 'ignore', 'inherit'] });
  const overlay = join(root, 'overlay');
  mkdirSync(overlay);
  writeFileSync(join(overlay, 'fill-init'), FILL_INIT, { mode: 0o755 });
  const cpio = execFileSync('sh', ['-c', 'echo fill-init | cpio -o -H newc --quiet | gzip -9'], { cwd: overlay });
  const initrd = join(out, 'initramfs-bench.cpio.gz');
  writeFileSync(initrd, Buffer.concat([readFileSync(join(out, 'initramfs.cpio.gz')), cpio]), { mode: 0o644 });
  rmSync(overlay, { recursive: true });
  chmodSync(out, 0o755);
  return { kernel: join(out, 'vmlinuz'), initrd };
}

function xmlOf(name: string, uuid: string, mem: number, fill: number, serial: string, image: { kernel: string; initrd: string }): string {
  return `<domain type='qemu'>
  <name>${name}</name><uuid>${uuid}</uuid>
  <memory unit='MiB'>${mem}</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>${image.kernel}</kernel><initrd>${image.initrd}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 guest.mode=A rdinit=/fill-init guest.fill=${fill}</cmdline></os>
  <features><acpi/></features><on_reboot>destroy</on_reboot>
  <devices>
    <serial type='file'><source path='${serial}'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>`;
}

async function waitText(file: string, text: string, ms = 300_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    let t = '';
    try {
      t = readFileSync(file, 'utf8');
    } catch {
      // not yet
    }
    if (t.includes(text)) return;
    if (Date.now() > deadline) throw new Error(`${text} not seen in ${file}`);
    await sleep(20);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Figures {
  total: number;
  downtime: number;
  stream: number;
  /** total − stream: the work around QEMU's stream (orchestration, spawning, quitting). */
  outside: number;
}

async function tsvirtRun(root: string, mem: number, fill: number, image: { kernel: string; initrd: string }): Promise<Figures> {
  const open = async (dir: string): Promise<QemuDriver> => {
    mkdirSync(dir, { recursive: true });
    const d = new QemuDriver({
      uri: 'qemu:///session',
      store: new Store({ path: join(dir, 'qemu.db') }),
      backend: new QemuGuests({ root: join(dir, 'state'), runRoot: join(dir, 'run') }),
      version: 7002000,
      migration: { address: '127.0.0.1', host: '127.0.0.1' },
    });
    await d.reconcile();
    return d;
  };
  const src = await open(join(root, 'a'));
  const dst = await open(join(root, 'b'));
  const name = `bm-${mem}`;
  const uuid = randomUUID();
  const srcSerial = join(root, 'a.serial');
  const dstSerial = join(root, 'b.serial');
  let moved: DomainRef | null = null;
  const dom = await src.createXML(xmlOf(name, uuid, mem, fill, srcSerial, image), 0);
  try {
    await waitText(srcSerial, 'GUEST-FILLED');
    const str = (field: string, value: string): TypedParameter => ({ field, type: STRING, value });
    const flags = M.LIVE;
    const t0 = performance.now();
    const begin = await src.domainMigrateBegin3Params(dom, [str('destination_xml', xmlOf(name, uuid, mem, fill, dstSerial, image))], flags);
    const prep = await dst.domainMigratePrepare3Params([str('destination_xml', begin.xml)], begin.cookieOut, flags);
    const cookie = await src.domainMigratePerform3Params(dom, null, [str('migrate_uri', prep.uriOut ?? '')], prep.cookieOut, flags);
    const fin = await dst.domainMigrateFinish3Params([str('destination_name', name)], cookie, flags, false);
    await src.domainMigrateConfirm3Params(dom, [], fin.cookieOut, flags, false);
    const total = performance.now() - t0;
    moved = fin.dom;
    const f = src.lastMigrationFigures(uuid);
    const stream = f?.totalMs ?? NaN;
    return { total, downtime: f?.downtimeMs ?? NaN, stream, outside: total - stream };
  } finally {
    if (moved !== null) await dst.domainDestroy(moved, 0).catch(() => undefined);
    await src.domainDestroy(dom, 0).catch(() => undefined);
    await src.close();
    await dst.close();
  }
}

/** The two namespaces and their addresses (netns mode). */
interface Net {
  a: { ns: string; addr: string };
  b: { ns: string; addr: string };
}

async function rawRun(root: string, mem: number, fill: number, image: { kernel: string; initrd: string }, net?: Net): Promise<Figures> {
  const uuid = randomUUID();
  const launch = async (side: 'a' | 'b', incoming: boolean): Promise<LaunchedQemu> => {
    const dir = join(root, `raw-${side}`);
    mkdirSync(dir, { recursive: true });
    const def = parseDomainXML(xmlOf(`raw-${mem}`, uuid, mem, fill, join(root, `raw-${side}.serial`), image));
    const paths = {
      monitorSocket: join(dir, 'qmp.sock'),
      pidFile: join(dir, 'qemu.pid'),
      serialLog: (p: number) => join(dir, `serial${p}.log`),
      serialSocket: (p: number) => join(dir, `serial${p}.sock`),
    };
    const cmd = buildQemuArgv(def, { paths, incomingDefer: incoming });
    // In netns mode QEMU runs under `ip netns exec NS` (which execs it: same pid, same group).
    const ns = net?.[side].ns;
    const [emulator, argv] = ns === undefined ? [findEmulator(def), cmd.argv] : ['/usr/sbin/ip', ['netns', 'exec', ns, findEmulator(def), ...cmd.argv]];
    return launchQemu({ emulator, argv, env: cmd.env, logFile: join(dir, 'qemu.log'), monitor: paths.monitorSocket, pidFile: paths.pidFile, runDir: dir, accel: 'tcg' });
  };
  const quit = async (q: LaunchedQemu): Promise<void> => {
    await q.qmp.execute('quit').catch(() => undefined);
    await q.exited;
    q.qmp.close();
  };
  const src = await launch('a', false);
  let dst: LaunchedQemu | undefined;
  try {
    await src.qmp.execute('cont');
    await waitText(join(root, 'raw-a.serial'), 'GUEST-FILLED');
    const t0 = performance.now();
    dst = await launch('b', true);
    const port = 49215;
    const host = net?.b.addr ?? '127.0.0.1';
    const events = async (qmp: QmpClient): Promise<void> => {
      await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
    };
    await events(dst.qmp);
    await dst.qmp.execute('migrate-incoming', { uri: `tcp:${host}:${port}` });
    await events(src.qmp);
    await src.qmp.execute('migrate-set-parameters', { 'max-bandwidth': 8796093022207 * 1024 * 1024 });
    const done = src.qmp.waitForEvent((ev) => ev.event === 'MIGRATION' && ['completed', 'failed'].includes(String(ev.data.status)), 300_000);
    await src.qmp.execute('migrate', { uri: `tcp:${host}:${port}` });
    await done;
    let q = await src.qmp.execute<{ status: string; downtime?: number; 'total-time'?: number }>('query-migrate');
    if (q.status !== 'completed') throw new Error(`raw migration ${q.status}`);
    // QEMU says `completed` a moment before its migration thread stores the times (0 until then).
    for (let i = 0; i < 20 && !((q['total-time'] ?? 0) > 0); i++) {
      await sleep(5);
      q = await src.qmp.execute('query-migrate');
    }
    for (;;) {
      const st = await dst.qmp.execute<{ status: string }>('query-status');
      if (st.status !== 'inmigrate') break;
      await sleep(5);
    }
    await dst.qmp.execute('cont');
    await quit(src);
    const total = performance.now() - t0;
    const stream = q['total-time'] ?? NaN;
    return { total, downtime: q.downtime ?? NaN, stream, outside: total - stream };
  } finally {
    await quit(src).catch(() => undefined);
    if (dst !== undefined) await quit(dst).catch(() => undefined);
  }
}

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

/** A tsvirtd inside a namespace (netns mode). */
interface Daemon {
  ns: string;
  addr: string;
  dir: string;
  uri: string;
  proc: ChildProcess | null;
  output: string;
}

/** Starts tsvirtd (qemu:///session) in `ns`, its own sockets and state, migrating on `addr`. */
async function startDaemon(root: string, ns: string, addr: string): Promise<Daemon> {
  const dir = join(root, ns);
  mkdirSync(dir, { recursive: true });
  const sock = join(dir, 'sock', 'libvirt-sock');
  const d: Daemon = { ns, addr, dir, uri: `qemu+unix:///session?socket=${sock}`, proc: null, output: '' };
  const args = [...DAEMON_NODE_FLAGS, DAEMON_MAIN, '--socket-dir', join(dir, 'sock'), '--uri', 'qemu:///session', '--migration-address', addr, '--migration-host', addr];
  const p = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { env: { ...process.env, TSVIRT_STATE_DIR: join(dir, 'state') }, stdio: ['ignore', 'pipe', 'pipe'] });
  d.proc = p;
  p.stdout?.on('data', (b: Buffer) => (d.output += b.toString()));
  p.stderr?.on('data', (b: Buffer) => (d.output += b.toString()));
  const deadline = Date.now() + 60_000;
  while (!existsSync(sock)) {
    if (Date.now() > deadline || p.exitCode !== null) throw new Error(`tsvirtd did not start in ${ns}: ${d.output}`);
    await sleep(50);
  }
  return d;
}

async function stopDaemon(d: Daemon): Promise<void> {
  const p = d.proc;
  // Killed by a signal, it has a signalCode and no exitCode; its 'exit' has been emitted already.
  if (p === null || p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 8000);
  await gone;
  clearTimeout(t);
}

/** Kills whatever still runs in the namespace (QEMU, a daemon) and deletes it with its veth end. */
function removeNs(ns: string): void {
  const pids = (spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '').split('\n').filter((l) => l !== '');
  for (const pid of pids) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone
    }
  }
  spawnSync('ip', ['netns', 'del', ns]);
}

/**
 * One migration through the two daemons: the guest defined and started at A, filled, then
 * `migrate3` to B with the library over the unix sockets; the figures from A's completed job.
 */
async function daemonRun(a: Daemon, b: Daemon, connA: Connection, connB: Connection, mem: number, fill: number, image: { kernel: string; initrd: string }, run: number): Promise<Figures> {
  const name = `migb-${mem}-${run}`;
  const uuid = randomUUID();
  const srcSerial = join(a.dir, `${name}.serial`);
  const dom = await connA.defineXML(xmlOf(name, uuid, mem, fill, srcSerial, image));
  let moved = false;
  try {
    await dom.create();
    await waitText(srcSerial, 'GUEST-FILLED');
    const t0 = performance.now();
    const there = await dom.migrate3(connB, { destination_xml: xmlOf(name, uuid, mem, fill, join(b.dir, `${name}.serial`), image) }, M.LIVE | M.PERSIST_DEST);
    const total = performance.now() - t0;
    moved = true;
    const st = await dom.jobStats(DomainGetJobStatsFlags.COMPLETED);
    const num = (field: string): number => {
      const v = st.params.find((p) => p.field === field)?.value;
      return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : NaN;
    };
    await there.destroy();
    await there.undefine();
    const stream = num('time_elapsed');
    return { total, downtime: num('downtime'), stream, outside: total - stream };
  } finally {
    if (!moved) await dom.destroy().catch(() => undefined);
    await dom.undefine().catch(() => undefined);
    if (moved) {
      const there = await connB.lookupByName(name).catch(() => undefined);
      await there?.destroy().catch(() => undefined);
      await there?.undefine().catch(() => undefined);
    }
  }
}

type Image = { kernel: string; initrd: string };
/** One run of each side for a guest size; `dir` is the run's own directory. */
type Runner = (dir: string, mem: number, fill: number, image: Image, run: number) => Promise<{ ts: Figures; raw: Figures }>;

/** The netns mode's setup (namespaces, veth, two daemons, two connections), a runner, and its teardown. */
async function netnsMode(root: string): Promise<{ label: string; runner: Runner; teardown: () => Promise<void> }> {
  const tag = `${process.pid % 10000}`;
  const n = 10 + (process.pid % 200);
  const net: Net = { a: { ns: `migbA${tag}`, addr: `10.232.${n}.1` }, b: { ns: `migbB${tag}`, addr: `10.232.${n}.2` } };
  const daemons: Daemon[] = [];
  const conns: Connection[] = [];
  const made: string[] = [];
  const teardown = async (): Promise<void> => {
    // A connection to a daemon that died may never answer its close: bounded.
    for (const c of conns) await Promise.race([c.close().catch(() => undefined), sleep(2000)]);
    for (const d of daemons) await stopDaemon(d).catch(() => undefined);
    for (const ns of made) removeNs(ns);
  };
  try {
    for (const side of [net.a, net.b]) {
      ip('netns', 'add', side.ns);
      made.push(side.ns);
    }
    // The veth pair is made inside A and its other end moved to B: nothing on the host's own network.
    ip('-n', net.a.ns, 'link', 'add', `migbva${tag}`, 'type', 'veth', 'peer', 'name', `migbvb${tag}`, 'netns', net.b.ns);
    for (const [side, dev] of [
      [net.a, `migbva${tag}`],
      [net.b, `migbvb${tag}`],
    ] as const) {
      ip('-n', side.ns, 'link', 'set', 'lo', 'up');
      ip('-n', side.ns, 'addr', 'add', `${side.addr}/24`, 'dev', dev);
      ip('-n', side.ns, 'link', 'set', dev, 'up');
    }
    const a = await startDaemon(root, net.a.ns, net.a.addr);
    daemons.push(a);
    const b = await startDaemon(root, net.b.ns, net.b.addr);
    daemons.push(b);
    const connA = await connect(a.uri);
    conns.push(connA);
    const connB = await connect(b.uri);
    conns.push(connB);
    const runner: Runner = async (dir, mem, fill, image, run) => {
      const raw = await rawRun(join(dir, 'raw'), mem, fill, image, net);
      const ts = await daemonRun(a, b, connA, connB, mem, fill, image, run);
      return { ts, raw };
    };
    return { label: `live migration between two network namespaces (veth, ${net.a.addr} -> ${net.b.addr}), tsvirt = two tsvirtd + library migrate3`, runner, teardown };
  } catch (err) {
    await teardown();
    throw err;
  }
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'tsvbm-'));
  chmodSync(root, 0o755);
  // QEMU children are unreferenced: awaiting their exit alone would let the process end.
  const keepAlive = setInterval(() => undefined, 1000);
  let teardown = async (): Promise<void> => undefined;
  try {
    const image = buildGuest(root);
    let label = 'live migration over 127.0.0.1, tsvirt = two QemuDriver in this process';
    let runner: Runner = async (dir, mem, fill, img) => {
      const raw = await rawRun(join(dir, 'raw'), mem, fill, img);
      const ts = await tsvirtRun(join(dir, 'ts'), mem, fill, img);
      return { ts, raw };
    };
    if (process.getuid?.() === 0 && process.env.BENCH_LOOPBACK !== '1') {
      const m = await netnsMode(root);
      ({ label, runner, teardown } = m);
      // Interrupted: the namespaces and what runs in them go too.
      for (const sig of ['SIGINT', 'SIGTERM'] as const) {
        process.once(sig, () => {
          void m.teardown().finally(() => {
            rmSync(root, { recursive: true, force: true });
            process.exit(130);
          });
        });
      }
    }
    const rows: string[] = [];
    for (const [mem, fill] of [
      [128, 48],
      [512, 256],
    ] as const) {
      const t: Figures[] = [];
      const r: Figures[] = [];
      for (let i = 0; i < RUNS; i++) {
        const dir = join(root, `run-${mem}-${i}`);
        mkdirSync(dir);
        const got = await runner(dir, mem, fill, image, i);
        r.push(got.raw);
        t.push(got.ts);
      }
      const m = (xs: Figures[], k: keyof Figures): number => median(xs.map((x) => x[k]));
      const each = (xs: Figures[], k: keyof Figures): string => xs.map((x) => x[k].toFixed(0)).join('/');
      for (const k of ['total', 'downtime', 'stream', 'outside'] as const) {
        const a = m(t, k);
        const b = m(r, k);
        rows.push(`${`${mem} MiB (${fill} filled)`.padEnd(22)} ${k.padEnd(9)} ${a.toFixed(1).padStart(9)} ${b.toFixed(1).padStart(9)} ${(a / b).toFixed(2).padStart(7)}   ${each(t, k)} | ${each(r, k)}`);
      }
    }
    process.stdout.write(`${label}, TCG, median of ${RUNS} (ms)\n`);
    process.stdout.write(`${'guest'.padEnd(22)} ${'figure'.padEnd(9)} ${'tsvirt'.padStart(9)} ${'raw'.padStart(9)} ${'ratio'.padStart(7)}   each run: tsvirt | raw\n`);
    process.stdout.write(rows.join('\n') + '\n');
  } finally {
    await teardown();
    clearInterval(keepAlive);
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
