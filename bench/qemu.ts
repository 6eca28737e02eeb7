/**
 * QEMU driver benchmark (issue 4, "Speed"): in one run, each operation on real TCG guests done by
 * tsvirt (public API, qemu:///session), by raw QEMU doing the same work directly (the physical
 * limit: bench/qemu-raw.ts) and by libvirt's qemu driver (a session libvirtd started as `nobody`
 * in a temporary directory, driven by python3-libvirt: bench/libvirt_qemu.py), with ratios and
 * the targets — tsvirt adds at most 10 ms (or 10 %) to raw QEMU on each operation, and
 * beats libvirt on every one — checked per row. Not a test. docs/bench-qemu.md says what each row
 * measures.
 *
 *   npx tsc -p . --outDir dist-qbench && node dist-qbench/bench/qemu.js [ROUNDS] [--no-libvirt]
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { connect, DomainEventID, DomainEventType, DomainUndefineFlags, type Connection, type Domain } from '../src/index.js';
import { RawQemu, SerialWatch, now, type BenchGuest, type Runner } from './qemu-raw.js';
import { killNow, onEmergency, runEmergency } from '../test/support/emergency.js';

const args = process.argv.slice(2);
const ROUNDS = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
const WITH_LIBVIRT = !args.includes('--no-libvirt');
const NOBODY = 65534;

// ---------------------------------------------------------------------------------------------
// The guest

/**
 * rdinit wrapper added to the test guest's initramfs (a second cpio archive appended: the kernel
 * unpacks both). Once the guest is ready (acpid's pidfile, written just before GUEST-READY) it
 * dirties guest.fill=MiB of guest RAM with non-zero data — a file in the RAM-backed root — and
 * prints GUEST-FILLED, so saves and snapshots carry a realistic amount of memory (set by
 * `guest.fill`). 1 MiB of /dev/urandom repeated: migration and vmstate skip only zero pages,
 * and /dev/urandom is slow under TCG. ash opens /dev/null for a background job before devtmpfs
 * is mounted, hence the mknod.
 */
const FILL_INIT = `#!/bin/busybox sh
/bin/busybox mknod /dev/null c 1 3
(
  while [ ! -s /run/acpid.pid ]; do /bin/busybox sleep 0.05; done
  fill=0
  for arg in $(/bin/busybox cat /proc/cmdline); do
    case $arg in guest.fill=*) fill=\${arg#*=} ;; esac
  done
  if [ "$fill" -gt 0 ]; then
    /bin/busybox mount -o remount,size=95% /
    /bin/busybox dd if=/dev/urandom of=/fill.1 bs=65536 count=16 2>/dev/null
    i=0
    while [ $i -lt "$fill" ]; do /bin/busybox cat /fill.1 >> /fill.bin; i=$((i + 1)); done
    /bin/busybox rm -f /fill.1
    echo "GUEST-FILLED $fill" > /dev/console
  fi
) &
exec /init
`;

interface GuestImage {
  kernel: string;
  initrd: string;
}

function buildGuest(root: string): GuestImage {
  const out = join(root, 'guest');
  const script = fileURLToPath(new URL('../../scripts/build-test-guest.sh', import.meta.url));
  execFileSync('sh', [script, out], { stdio: ['ignore', 'ignore', 'inherit'] });
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

/** The domain XML all three sides run (libvirt would add a USB controller and a balloon: none). */
function guestXML(g: Omit<BenchGuest, 'xml'>, image: GuestImage): string {
  return `<domain type='qemu'>
  <name>${g.name}</name>
  <uuid>${g.uuid}</uuid>
  <memory unit='MiB'>${g.memMiB}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${image.kernel}</kernel>
    <initrd>${image.initrd}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 guest.mode=A rdinit=/fill-init guest.fill=${g.fill}</cmdline>
  </os>
  <features><acpi/></features>
  <on_reboot>destroy</on_reboot>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${g.disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'><source path='${g.serial}'/><target port='0'/></serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>`;
}

function makeGuest(base: string, side: string, scenario: string, memMiB: number, fill: number, image: GuestImage, owner?: number): BenchGuest {
  const name = `qb-${side}-${scenario}`;
  const dir = join(base, name);
  mkdirSync(dir, { recursive: true });
  const disk = join(dir, 'disk.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
  if (owner !== undefined) {
    chownSync(dir, owner, owner);
    chownSync(disk, owner, owner);
  }
  const g = { name, uuid: randomUUID(), memMiB, fill, dir, disk, serial: join(dir, 'serial.log') };
  return { ...g, xml: guestXML(g, image) };
}

// ---------------------------------------------------------------------------------------------
// tsvirt

class TsvirtRunner implements Runner {
  readonly label = 'tsvirt';
  private readonly doms = new Map<string, Domain>();
  private constructor(
    private readonly conn: Connection,
    private readonly stateDir: string,
  ) {}

  static async open(stateDir: string): Promise<TsvirtRunner> {
    process.env.TSVIRT_STATE_DIR = stateDir;
    const r = new TsvirtRunner(await connect('qemu:///session'), stateDir);
    onEmergency(() => r.killAll());
    return r;
  }

  async define(g: BenchGuest): Promise<void> {
    this.doms.set(g.uuid, await this.conn.defineXML(g.xml));
  }

  async start(g: BenchGuest): Promise<number> {
    const t0 = now();
    await this.dom(g).create();
    return now() - t0;
  }

  async shutdown(g: BenchGuest): Promise<number> {
    const dom = this.dom(g);
    let stopped!: () => void;
    const done = new Promise<void>((resolve) => (stopped = resolve));
    const id = this.conn.domainEventRegisterAny(dom, DomainEventID.LIFECYCLE, (_c, _d, event) => {
      if (event === DomainEventType.STOPPED) stopped();
    });
    try {
      const t0 = now();
      await dom.shutdown();
      await done;
      return now() - t0;
    } finally {
      this.conn.domainEventDeregisterAny(id);
    }
  }

  async destroy(g: BenchGuest): Promise<number> {
    const t0 = now();
    await this.dom(g).destroy();
    return now() - t0;
  }

  async managedSave(g: BenchGuest): Promise<number> {
    const t0 = now();
    await this.dom(g).managedSave();
    return now() - t0;
  }

  async restore(g: BenchGuest): Promise<number> {
    return this.start(g);
  }

  async snapshot(g: BenchGuest, name: string): Promise<number> {
    const t0 = now();
    await this.dom(g).snapshotCreateXML(`<domainsnapshot><name>${name}</name></domainsnapshot>`);
    return now() - t0;
  }

  async revert(g: BenchGuest, name: string): Promise<number> {
    const snap = await this.dom(g).snapshotLookupByName(name);
    const t0 = now();
    await this.dom(g).revertToSnapshot(snap);
    return now() - t0;
  }

  async remove(g: BenchGuest): Promise<void> {
    const dom = this.doms.get(g.uuid);
    if (dom === undefined) return;
    if (await dom.isActive()) await dom.destroy();
    await dom.undefineFlags(DomainUndefineFlags.MANAGED_SAVE | DomainUndefineFlags.SNAPSHOTS_METADATA);
    this.doms.delete(g.uuid);
  }

  async close(): Promise<void> {
    for (const d of await this.conn.listAllDomains(1).catch(() => [])) await d.destroy().catch(() => undefined);
    await this.conn.close();
    this.killAll();
  }

  /** Kills any QEMU still recorded in tsvirt's runtime directories (pidfiles). */
  killAll(): void {
    killFromPidfiles(join(this.stateDir, 'qemu', 'run'), /qemu-system/);
  }

  private dom(g: BenchGuest): Domain {
    const d = this.doms.get(g.uuid);
    if (d === undefined) throw new Error(`tsvirt: ${g.name} is not defined`);
    return d;
  }
}

// ---------------------------------------------------------------------------------------------
// libvirt

/** Kills (SIGKILL) the processes named by *.pid files under `dir` whose command line matches. */
function killFromPidfiles(dir: string, cmdline: RegExp): void {
  const walk = (d: string): string[] => {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      return [];
    }
    return entries.flatMap((e) => {
      const p = join(d, e);
      try {
        return statSync(p).isDirectory() ? walk(p) : e.endsWith('.pid') ? [p] : [];
      } catch {
        return [];
      }
    });
  };
  for (const file of walk(dir)) {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmdline.test(cmd)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/**
 * libvirt's qemu driver: a session libvirtd as `nobody`, every path in a temporary directory (the
 * set-up of bench/libvirtd-session.ts, repeated here because that module exports only its own
 * measurement), and bench/libvirt_qemu.py as the client. Session mode needs none of the
 * qemu.conf changes libvirt's qemu:///system needs here: QEMU runs as the daemon's user, with no
 * cgroups, namespaces or security driver.
 */
class LibvirtRunner implements Runner {
  readonly label = 'libvirt';
  private readonly pending: ((line: string) => void)[] = [];
  private readonly names = new Map<string, string>();

  private constructor(
    readonly dir: string,
    private readonly daemon: ChildProcess,
    private readonly client: ChildProcess,
  ) {
    createInterface({ input: client.stdout! }).on('line', (line) => this.pending.shift()?.(line));
  }

  /** Starts libvirtd and the client; a string says why libvirt cannot run guests here. */
  static async open(root: string): Promise<LibvirtRunner | string> {
    if (!existsSync('/usr/sbin/libvirtd')) return 'libvirtd is not installed (Debian libvirt-daemon, libvirt-daemon-driver-qemu)';
    if (process.getuid?.() !== 0) return 'needs root to run libvirtd as nobody in a private directory';
    if (spawnSync('setpriv', ['--version']).status !== 0) return 'setpriv is missing';
    if (spawnSync('/usr/bin/python3', ['-c', 'import libvirt']).status !== 0) return 'python3-libvirt is missing';
    const dir = join(root, 'libvirt');
    for (const sub of ['home', 'run', 'config', 'cache', 'guests']) mkdirSync(join(dir, sub), { recursive: true });
    const script = join(dir, 'libvirt_qemu.py');
    copyFileSync(fileURLToPath(new URL('../../bench/libvirt_qemu.py', import.meta.url)), script);
    for (const p of [dir, ...['home', 'run', 'config', 'cache', 'guests'].map((s) => join(dir, s)), script]) chownSync(p, NOBODY, NOBODY);
    chmodSync(join(dir, 'run'), 0o700);
    const env = {
      PATH: '/usr/sbin:/usr/bin:/bin',
      HOME: join(dir, 'home'),
      XDG_RUNTIME_DIR: join(dir, 'run'),
      XDG_CONFIG_HOME: join(dir, 'config'),
      XDG_CACHE_HOME: join(dir, 'cache'),
    };
    const asNobody = ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups'];
    const daemon = spawn('setpriv', [...asNobody, '/usr/sbin/libvirtd'], {
      env,
      stdio: ['ignore', 'ignore', 'ignore'],
      detached: true,
    });
    const killDaemon = (): void => {
      killNow(daemon, true);
      // virtlogd and the guests' QEMUs detach from libvirtd's group: their pidfiles name them.
      killFromPidfiles(dir, /qemu-system|virtlogd|libvirtd/);
    };
    onEmergency(killDaemon);
    const socket = join(dir, 'run', 'libvirt', 'libvirt-sock');
    const deadline = Date.now() + 20_000;
    while (!existsSync(socket) && Date.now() < deadline && daemon.exitCode === null) await sleep(50);
    if (!existsSync(socket)) {
      killDaemon();
      return 'libvirtd did not create its socket';
    }
    const client = spawn('setpriv', [...asNobody, '/usr/bin/python3', script, socket], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    client.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    onEmergency(() => client.kill('SIGKILL'));
    const r = new LibvirtRunner(dir, daemon, client);
    const ready = await Promise.race([
      new Promise<string>((resolve) => r.pending.push(resolve)),
      new Promise<string>((resolve) => client.once('exit', () => resolve(''))),
      sleep(60_000).then(() => ''),
    ]);
    if (!ready.includes('ready')) {
      client.kill('SIGKILL');
      killDaemon();
      return `python3-libvirt could not use libvirtd's qemu driver: ${stderr.trim().split('\n').pop() ?? 'no answer'}`;
    }
    return r;
  }

  /** A guest directory libvirt's QEMU (running as nobody) can write. */
  get guestBase(): string {
    return join(this.dir, 'guests');
  }

  async define(g: BenchGuest): Promise<void> {
    this.names.set(g.uuid, g.name);
    await this.call({ op: 'define', xml: g.xml });
  }
  start(g: BenchGuest): Promise<number> {
    return this.call({ op: 'start', name: g.name });
  }
  shutdown(g: BenchGuest): Promise<number> {
    return this.call({ op: 'shutdown', name: g.name });
  }
  destroy(g: BenchGuest): Promise<number> {
    return this.call({ op: 'destroy', name: g.name });
  }
  managedSave(g: BenchGuest): Promise<number> {
    return this.call({ op: 'managedsave', name: g.name });
  }
  restore(g: BenchGuest): Promise<number> {
    return this.call({ op: 'restore', name: g.name });
  }
  snapshot(g: BenchGuest, name: string): Promise<number> {
    return this.call({ op: 'snapshot', name: g.name, snapshot: name });
  }
  revert(g: BenchGuest, name: string): Promise<number> {
    return this.call({ op: 'revert', name: g.name, snapshot: name });
  }
  async remove(g: BenchGuest): Promise<void> {
    await this.call({ op: 'remove', name: g.name });
    this.names.delete(g.uuid);
  }

  async close(): Promise<void> {
    for (const name of this.names.values()) await this.call({ op: 'remove', name }).catch(() => undefined);
    this.client.stdin!.end();
    await Promise.race([new Promise((r) => this.client.once('exit', r)), sleep(5000)]);
    this.client.kill('SIGKILL');
    const signal = (sig: NodeJS.Signals): void => {
      if (this.daemon.exitCode !== null || this.daemon.signalCode !== null) return;
      try {
        process.kill(-this.daemon.pid!, sig);
      } catch {
        // gone
      }
    };
    signal('SIGTERM');
    await Promise.race([new Promise((r) => this.daemon.once('exit', r)), sleep(5000)]);
    signal('SIGKILL');
    killFromPidfiles(this.dir, /qemu-system|virtlogd|libvirtd/);
  }

  private call(req: Record<string, unknown>): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.client.exitCode !== null) return reject(new Error('libvirt client exited'));
      this.pending.push((line) => {
        const a = JSON.parse(line) as { ms?: number; error?: string };
        if (a.error !== undefined) reject(new Error(`libvirt ${String(req.op)}: ${a.error}`));
        else resolve(a.ms ?? 0);
      });
      this.client.stdin!.write(`${JSON.stringify(req)}\n`);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Rows and scenarios

interface Row {
  key: string;
  label: string;
  /** What libvirt does differently in this row, if anything. */
  note?: string;
  /** A raw-only reference figure: no target. */
  reference?: boolean;
}

const ROWS: Row[] = [
  { key: 'start128', label: 'start → call returns (QMP ready, running), 128 MiB' },
  { key: 'ready128', label: 'start → GUEST-READY on serial, 128 MiB' },
  { key: 'shutdown128', label: 'shutdown (power button) → recorded shut off' },
  { key: 'destroy128', label: 'destroy, 128 MiB' },
  { key: 'save128', label: 'managed save, 128 MiB (48 MiB filled)' },
  { key: 'restore128', label: 'start from the managed save, 128 MiB' },
  { key: 'snapshot128', label: 'snapshot with memory, 128 MiB' },
  { key: 'revert128', label: 'revert to it (running), 128 MiB', note: 'all three restart QEMU' },
  { key: 'afterrevert128', label: '  ref: first snapshot-save job after the revert, 128 MiB', reference: true },
  { key: 'hmpsave128', label: '  ref: HMP savevm (the next snapshot), 128 MiB', reference: true },
  { key: 'inplace128', label: '  ref: snapshot-load job in place, 128 MiB', reference: true },
  { key: 'start512', label: 'start → call returns, 512 MiB' },
  { key: 'ready512', label: 'start → GUEST-READY on serial, 512 MiB' },
  { key: 'save512', label: 'managed save, 512 MiB (256 MiB filled)' },
  { key: 'restore512', label: 'start from the managed save, 512 MiB' },
  { key: 'snapshot512', label: 'snapshot with memory, 512 MiB' },
  { key: 'revert512', label: 'revert to it (running), 512 MiB', note: 'all three restart QEMU' },
  { key: 'afterrevert512', label: '  ref: first snapshot-save job after the revert, 512 MiB', reference: true },
  { key: 'hmpsave512', label: '  ref: HMP savevm (the next snapshot), 512 MiB', reference: true },
  { key: 'inplace512', label: '  ref: snapshot-load job in place, 512 MiB', reference: true },
  { key: 'destroy512', label: 'destroy, 512 MiB' },
];

/** libvirt 9.0's figures measured on this kind of machine another day (virsh, qemu:///system, 192 MiB). */
const NOTES_LIBVIRT: Record<string, number> = {
  start128: 275,
  destroy128: 1667,
  save128: 2171,
  restore128: 839,
  snapshot128: 209,
};

type Results = Map<string, Map<string, number[]>>;

function record(results: Results, key: string, side: string, ms: number): void {
  let bySide = results.get(key);
  if (bySide === undefined) results.set(key, (bySide = new Map()));
  const xs = bySide.get(side) ?? [];
  xs.push(ms);
  bySide.set(side, xs);
}

/** Boot, wait for the ready marker, power button (a freshly booted guest). */
async function scenarioShutdown(r: Runner, g: BenchGuest, add: (key: string, ms: number) => void): Promise<void> {
  await r.define(g);
  try {
    const serial = new SerialWatch(g.serial);
    const t0 = now();
    add('start128', await r.start(g));
    await serial.waitFor('GUEST-READY');
    add('ready128', now() - t0);
    add('shutdown128', await r.shutdown(g));
  } finally {
    await r.remove(g);
  }
}

/** Boot, fill memory, managed save, restore, snapshot, revert, destroy. */
async function scenarioMemory(r: Runner, g: BenchGuest, add: (key: string, ms: number) => void): Promise<void> {
  const m = g.memMiB;
  await r.define(g);
  try {
    const serial = new SerialWatch(g.serial);
    const t0 = now();
    add(`start${m}`, await r.start(g));
    await serial.waitFor('GUEST-READY');
    add(`ready${m}`, now() - t0);
    await serial.waitFor('GUEST-FILLED');
    add(`save${m}`, await r.managedSave(g));
    add(`restore${m}`, await r.restore(g));
    add(`snapshot${m}`, await r.snapshot(g, 's1'));
    add(`revert${m}`, await r.revert(g, 's1'));
    // After the revert, so that every side's revert follows its snapshot at once. The first
    // snapshot of a QEMU started with -loadvm takes 3-4x as long as the ones after it (whichever
    // the command), so HMP savevm is timed second, where it compares with the snapshot row.
    if (r instanceof RawQemu) {
      add(`afterrevert${m}`, await r.snapshot(g, 's2'));
      add(`hmpsave${m}`, await r.snapshotHmp(g, 's3'));
      add(`inplace${m}`, await r.revertInPlace(g, 's1'));
    }
    add(`destroy${m}`, await r.destroy(g));
  } finally {
    await r.remove(g);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function median(xs: number[] | undefined): number | undefined {
  if (xs === undefined || xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function fmt(ms: number | undefined): string {
  if (ms === undefined) return '–';
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padStart(n) : s.padEnd(n);
}

function spread(xs: number[] | undefined): number {
  return xs === undefined || xs.length < 2 ? 0 : Math.max(...xs) - Math.min(...xs);
}

function report(results: Results, libvirtLive: boolean): void {
  const out: string[] = [];
  const head = [
    'operation',
    'raw QEMU',
    'tsvirt',
    libvirtLive ? 'libvirt' : 'libvirt (notes)',
    'tsvirt−raw',
    'tsvirt/raw',
    'libvirt/tsvirt',
    'spread',
    '≤raw+10ms|10%',
    'beats libvirt',
  ];
  const widths = [52, 10, 10, 15, 11, 10, 14, 9, 14, 13];
  out.push(head.map((h, i) => pad(h, widths[i], i > 0)).join(' '));
  let misses = 0;
  let checked = 0;
  let unresolved = 0;
  for (const row of ROWS) {
    const bySide = results.get(row.key);
    const raw = median(bySide?.get('raw QEMU'));
    const ts = median(bySide?.get('tsvirt'));
    const lvLive = median(bySide?.get('libvirt'));
    const lv = libvirtLive ? lvLive : NOTES_LIBVIRT[row.key];
    if (raw === undefined && ts === undefined && lv === undefined) continue;
    const cells = [row.label, fmt(raw), row.reference ? '' : fmt(ts), row.reference ? '' : lv === undefined ? '–' : `${fmt(lv)}${libvirtLive ? '' : '*'}`];
    if (row.reference || raw === undefined || ts === undefined) {
      out.push(cells.map((c, i) => pad(c, widths[i], i > 0)).join(' '));
      continue;
    }
    const over = ts - raw;
    const okRaw = over <= 10 || ts <= raw * 1.1;
    const okLv = lv === undefined ? undefined : ts < lv;
    // The largest max−min of the sides compared: a difference below it is not resolved by this run.
    const noise = Math.max(spread(bySide?.get('raw QEMU')), spread(bySide?.get('tsvirt')));
    const noiseLv = Math.max(noise, libvirtLive ? spread(bySide?.get('libvirt')) : 0);
    const fuzzyRaw = Math.abs(over) < noise;
    const fuzzyLv = lv !== undefined && Math.abs(lv - ts) < noiseLv;
    checked++;
    if (!okRaw || okLv === false) misses++;
    if ((!okRaw && fuzzyRaw) || (okLv === false && fuzzyLv)) unresolved++;
    cells.push(
      `${over >= 0 ? '+' : ''}${over.toFixed(1)} ms`,
      `${(ts / raw).toFixed(2)}×`,
      lv === undefined ? '–' : `${(lv / ts).toFixed(2)}×`,
      `${noise.toFixed(0)} ms`,
      `${okRaw ? 'PASS' : 'MISS'}${fuzzyRaw ? ' ≈' : ''}`,
      okLv === undefined ? 'n/a' : `${okLv ? 'PASS' : 'MISS'}${fuzzyLv ? ' ≈' : ''}`,
    );
    out.push(cells.map((c, i) => pad(c, widths[i], i > 0)).join(' ') + (row.note !== undefined && lv !== undefined ? `  (${row.note})` : ''));
  }
  out.push('');
  out.push(`targets: ${checked - misses}/${checked} rows PASS both (tsvirt ≤ raw QEMU + 10 ms or + 10 %, and faster than libvirt)`);
  if (unresolved > 0) {
    out.push(`  ${unresolved} of the MISSes are marked ≈: the difference is smaller than the spread of the samples (run more rounds)`);
  }
  out.push('spread: the larger max−min of the raw QEMU and tsvirt samples of the row; ≈: |difference| < spread');
  if (!libvirtLive) out.push('* libvirt column: libvirt 9.0 measured on this kind of machine another day (virsh on qemu:///system, 192 MiB guest)');
  out.push('');
  out.push('samples (ms, in round order):');
  for (const row of ROWS) {
    const bySide = results.get(row.key);
    if (bySide === undefined) continue;
    const parts = [...bySide.entries()].map(([side, xs]) => `${side} ${xs.map((x) => x.toFixed(1)).join(', ')}`);
    out.push(`  ${row.key.padEnd(12)} ${parts.join(' | ')}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------

/** A scenario is a few boots and operations: far less than this even on a slow, busy machine. */
const SCENARIO_TIMEOUT_MS = 300_000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function main(): Promise<void> {
  const began = now();
  const root = mkdtempSync(join(tmpdir(), 'tsvqb-'));
  chmodSync(root, 0o755);
  onEmergency(() => rmSync(root, { recursive: true, force: true }));
  const runners: Runner[] = [];
  const results: Results = new Map();
  let libvirtLive = false;
  let failed = false;
  try {
    const image = buildGuest(root);
    const raw = new RawQemu(join(root, 'rawrun'));
    onEmergency(() => raw.killAll());
    runners.push(raw, await TsvirtRunner.open(join(root, 'ts')));
    if (WITH_LIBVIRT) {
      const lv = await LibvirtRunner.open(root);
      if (typeof lv === 'string') process.stdout.write(`(libvirt's qemu driver not measured live: ${lv}; its column shows figures measured on this kind of machine another day)\n`);
      else {
        runners.push(lv);
        libvirtLive = true;
      }
    } else {
      process.stdout.write("(--no-libvirt: libvirt's column shows figures measured on this kind of machine another day)\n");
    }
    process.stdout.write(
      `QEMU benchmark: TCG, ${runners.map((r) => r.label).join(' / ')}, median of ${ROUNDS} round(s); load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}\n`,
    );
    const scenarios: { id: string; mem: number; fill: number; run: typeof scenarioMemory }[] = [
      { id: 'boot', mem: 128, fill: 0, run: scenarioShutdown },
      { id: 'm128', mem: 128, fill: 48, run: scenarioMemory },
      { id: 'm512', mem: 512, fill: 256, run: scenarioMemory },
    ];
    for (let round = 0; round < ROUNDS; round++) {
      for (const sc of scenarios) {
        // Rotate the order of the sides each round: no side always runs first (or after another's load).
        const order = runners.map((_, i) => runners[(i + round) % runners.length]);
        for (const r of order) {
          const side = r.label.replace(/\W+/g, '');
          const base = r instanceof LibvirtRunner ? r.guestBase : join(root, 'guests');
          const g = makeGuest(base, side, `${sc.id}-${round}`, sc.mem, sc.fill, image, r instanceof LibvirtRunner ? NOBODY : undefined);
          const t = now();
          await withTimeout(
            sc.run(r, g, (key, ms) => record(results, key, r.label, ms)),
            SCENARIO_TIMEOUT_MS,
            `${sc.id} on ${r.label}`,
          );
          process.stderr.write(`  round ${round + 1}/${ROUNDS} ${sc.id} ${r.label}: ${((now() - t) / 1000).toFixed(1)} s\n`);
          rmSync(g.dir, { recursive: true, force: true });
        }
      }
    }
  } catch (err) {
    failed = true;
    process.stderr.write(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  } finally {
    for (const r of runners.reverse()) await r.close().catch((e: unknown) => process.stderr.write(`close ${r.label}: ${String(e)}\n`));
    runEmergency();
  }
  if (results.size > 0) report(results, libvirtLive);
  process.stdout.write(`(whole run ${((now() - began) / 1000).toFixed(0)} s)\n`);
  // Timers of an operation abandoned on failure must not keep the process alive.
  process.exit(failed ? 1 : 0);
}

void main();
