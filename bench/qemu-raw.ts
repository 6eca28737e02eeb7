/**
 * The QEMU benchmark's common parts and its "raw QEMU" side: the command line tsvirt builds
 * (buildQemuArgv, so the same devices and options), spawned directly by this process, and the
 * least QMP work each operation needs. That is the physical limit tsvirt's figures are set
 * beside (bench/qemu.ts).
 *
 * Raw QEMU knows when its QEMU exits from the child's 'exit' event (it is this process's child),
 * waits for the monitor by retrying connect() every millisecond, and moves migration streams
 * between a unix socket and the file with `cat` — faster here than the notes' `exec:cat`, whose
 * 64 KiB pipe cost ~20 % on a 512 MiB save and ~40 % on its restore.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseDomainXML, type DomainDef } from '../src/conf/domain.js';
import { buildQemuArgv, diskFormatNode, type QemuArgvPaths } from '../src/drivers/qemu/argv.js';
import { findEmulator } from '../src/drivers/qemu/process.js';
import { QmpClient, type QmpEvent } from '../src/drivers/qemu/qmp.js';

/** Milliseconds, monotonic. */
export function now(): number {
  return performance.now();
}

/** One test guest as the three sides run it (each side has its own copy: disk, serial log). */
export interface BenchGuest {
  name: string;
  uuid: string;
  memMiB: number;
  /** MiB of guest RAM the guest dirties once ready (guest.fill; 0: none). */
  fill: number;
  /** Directory of this guest's files (disk, serial log, save image of raw QEMU). */
  dir: string;
  disk: string;
  serial: string;
  xml: string;
}

/** One side of the comparison. Each timed call returns its own wall time in ms. */
export interface Runner {
  readonly label: string;
  /** Defines the guest (not timed). */
  define(g: BenchGuest): Promise<void>;
  /** Starts it: until the call returns (QEMU runs the guest, the start is recorded). */
  start(g: BenchGuest): Promise<number>;
  /** ACPI power button until the guest is recorded shut off (its QEMU gone). */
  shutdown(g: BenchGuest): Promise<number>;
  destroy(g: BenchGuest): Promise<number>;
  /** Memory to a file, QEMU gone. */
  managedSave(g: BenchGuest): Promise<number>;
  /** Start from the saved image until the guest runs again. */
  restore(g: BenchGuest): Promise<number>;
  /** Internal snapshot with memory of the running guest. */
  snapshot(g: BenchGuest, name: string): Promise<number>;
  /** Revert the running guest to that snapshot until it runs again. */
  revert(g: BenchGuest, name: string): Promise<number>;
  /** Stops (if running) and removes the guest (not timed). */
  remove(g: BenchGuest): Promise<void>;
  close(): Promise<void>;
}

/**
 * Watches a serial log from its current end (the guests append): resolves when `text` has been
 * written since the watch began. Polls every 2 ms, the same for every side.
 */
export class SerialWatch {
  private offset: number;
  private seen = '';
  constructor(private readonly file: string) {
    this.offset = sizeOf(file);
  }

  async waitFor(text: string, timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.readNew();
      if (this.seen.includes(text)) return;
      if (Date.now() > deadline) throw new Error(`no '${text}' in ${this.file} within ${timeoutMs} ms`);
      await sleep(2);
    }
  }

  private readNew(): void {
    let fd: number;
    try {
      fd = openSync(this.file, 'r');
    } catch {
      return;
    }
    try {
      const buf = Buffer.alloc(65536);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        this.seen = (this.seen + buf.toString('latin1', 0, n)).slice(-4096);
      }
    } finally {
      closeSync(fd);
    }
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

interface RawVm {
  child: ChildProcess;
  qmp: QmpClient;
  exited: Promise<void>;
}

/** Raw QEMU: tsvirt's command line, this process's child, a bare QMP client. */
export class RawQemu implements Runner {
  readonly label = 'raw QEMU';
  private readonly defs = new Map<string, DomainDef>();
  private readonly vms = new Map<string, RawVm>();
  private readonly emulator: string;
  private jobs = 0;

  constructor(private readonly runRoot: string) {
    this.emulator = findEmulator(parseDomainXML(minimalXML()));
  }

  async define(g: BenchGuest): Promise<void> {
    this.defs.set(g.uuid, parseDomainXML(g.xml));
  }

  async start(g: BenchGuest): Promise<number> {
    const t0 = now();
    const vm = await this.launch(g, {});
    await vm.qmp.execute('cont');
    return now() - t0;
  }

  async shutdown(g: BenchGuest): Promise<number> {
    const vm = this.vm(g);
    const t0 = now();
    const down = vm.qmp.waitForEvent((ev) => ev.event === 'SHUTDOWN', 60_000);
    await vm.qmp.execute('system_powerdown');
    await down;
    // The same command line as tsvirt's has -no-shutdown: QEMU waits for its manager to quit it.
    await vm.qmp.execute('quit').catch(() => undefined);
    await vm.exited;
    this.forget(g);
    return now() - t0;
  }

  async destroy(g: BenchGuest): Promise<number> {
    const t0 = now();
    await this.quit(g);
    return now() - t0;
  }

  async managedSave(g: BenchGuest): Promise<number> {
    const vm = this.vm(g);
    const image = this.imageOf(g);
    const sock = join(g.dir, 'save.sock');
    rmSync(image, { force: true });
    rmSync(sock, { force: true });
    const t0 = now();
    await vm.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
    await vm.qmp.execute('migrate-set-parameters', { 'max-bandwidth': 1_000_000_000_000 });
    const { written } = await catFromSocket(sock, image);
    await vm.qmp.execute('stop');
    const ended = vm.qmp.waitForEvent(
      (ev: QmpEvent) => ev.event === 'MIGRATION' && ['completed', 'failed', 'cancelled'].includes(String(ev.data.status)),
      120_000,
    );
    await vm.qmp.execute('migrate', { uri: `unix:${sock}` });
    const ev = await ended;
    if (ev.data.status !== 'completed') throw new Error(`raw migrate to file: ${String(ev.data.status)}`);
    await written;
    // The same durability as tsvirt's managed save: the image on disk before the guest goes.
    const fh = await open(image, 'r');
    await fh.datasync();
    await fh.close();
    await this.quit(g);
    rmSync(sock, { force: true });
    return now() - t0;
  }

  async restore(g: BenchGuest): Promise<number> {
    const image = this.imageOf(g);
    const sock = join(g.dir, 'restore.sock');
    rmSync(sock, { force: true });
    const t0 = now();
    const vm = await this.launch(g, { incomingDefer: true });
    await vm.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
    const ended = vm.qmp.waitForEvent(
      (ev: QmpEvent) => ev.event === 'MIGRATION' && ['completed', 'failed'].includes(String(ev.data.status)),
      120_000,
    );
    await vm.qmp.execute('migrate-incoming', { uri: `unix:${sock}` });
    await catToSocket(image, sock);
    const ev = await ended;
    if (ev.data.status !== 'completed') throw new Error(`raw incoming migration: ${String(ev.data.status)}`);
    await vm.qmp.execute('cont');
    rmSync(image, { force: true });
    rmSync(sock, { force: true });
    return now() - t0;
  }

  async snapshot(g: BenchGuest, name: string): Promise<number> {
    const node = diskFormatNode(0);
    const t0 = now();
    await this.job(this.vm(g).qmp, 'snapshot-save', { tag: name, vmstate: node, devices: [node] });
    return now() - t0;
  }

  /** What tsvirt does to revert a running guest: quit it, start a new QEMU with `-loadvm`. */
  async revert(g: BenchGuest, name: string): Promise<number> {
    const t0 = now();
    await this.quit(g);
    const vm = await this.launch(g, { loadSnapshot: name });
    await vm.qmp.execute('cont');
    return now() - t0;
  }

  /** For reference: the `snapshot-load` job in the running QEMU (an in-place revert; tsvirt and libvirt 9.0 both restart QEMU). */
  async revertInPlace(g: BenchGuest, name: string): Promise<number> {
    const node = diskFormatNode(0);
    const t0 = now();
    await this.job(this.vm(g).qmp, 'snapshot-load', { tag: name, vmstate: node, devices: [node] });
    return now() - t0;
  }

  /**
   * For reference: HMP `savevm` (synchronous, in the monitor), which libvirt 9.0's qemu driver
   * sends for a snapshot with memory (its library holds `savevm "%s"`), where tsvirt runs the
   * `snapshot-save` job: the same save through the older path, on tsvirt's command line.
   */
  async snapshotHmp(g: BenchGuest, name: string): Promise<number> {
    const t0 = now();
    const out = await this.vm(g).qmp.execute<string>('human-monitor-command', { 'command-line': `savevm ${name}` });
    const ms = now() - t0;
    // HMP reports failures as text, never as a QMP error.
    if (out.trim() !== '') throw new Error(`raw savevm: ${out.trim()}`);
    return ms;
  }

  async remove(g: BenchGuest): Promise<void> {
    if (this.vms.has(g.uuid)) await this.quit(g).catch(() => this.killNow(g.uuid));
    this.defs.delete(g.uuid);
  }

  async close(): Promise<void> {
    for (const uuid of [...this.vms.keys()]) this.killNow(uuid);
  }

  /** Kills every QEMU this side started (process groups), synchronously: for exits on failure. */
  killAll(): void {
    for (const uuid of [...this.vms.keys()]) this.killNow(uuid);
  }

  private vm(g: BenchGuest): RawVm {
    const vm = this.vms.get(g.uuid);
    if (vm === undefined) throw new Error(`raw QEMU: ${g.name} is not running`);
    return vm;
  }

  private imageOf(g: BenchGuest): string {
    return join(g.dir, 'raw.save');
  }

  private paths(g: BenchGuest): QemuArgvPaths {
    const dir = join(this.runRoot, g.uuid.slice(0, 8));
    return { monitorSocket: join(dir, 'qmp.sock'), pidFile: join(dir, 'qemu.pid'), serialLog: (p) => join(g.dir, `serial${p}.log`),
      serialSocket: (p) => join(dir, `serial${p}.sock`),
    };
  }

  private async launch(g: BenchGuest, opts: { incomingDefer?: boolean; loadSnapshot?: string }): Promise<RawVm> {
    const def = this.defs.get(g.uuid);
    if (def === undefined) throw new Error(`raw QEMU: ${g.name} is not defined`);
    const paths = this.paths(g);
    const cmd = buildQemuArgv(def, { paths, ...opts });
    const dir = join(paths.monitorSocket, '..');
    mkdirSync(dir, { recursive: true });
    rmSync(paths.monitorSocket, { force: true });
    const log = join(g.dir, 'raw-qemu.log');
    const fd = openSync(log, 'a');
    const child = spawn(this.emulator, cmd.argv, { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...cmd.env } });
    closeSync(fd);
    let dead = false;
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        dead = true;
        resolve();
      });
      child.once('error', () => {
        dead = true;
        resolve();
      });
    });
    let qmp: QmpClient | null = null;
    while (qmp === null) {
      if (dead) throw new Error(`raw QEMU exited at start: ${readFileSync(log, 'utf8').slice(-500)}`);
      try {
        qmp = await QmpClient.connect(paths.monitorSocket, { timeoutMs: 30_000 });
      } catch {
        await sleep(1);
      }
    }
    const vm = { child, qmp, exited };
    this.vms.set(g.uuid, vm);
    return vm;
  }

  private async quit(g: BenchGuest): Promise<void> {
    const vm = this.vm(g);
    await vm.qmp.execute('quit').catch(() => undefined);
    await vm.exited;
    this.forget(g);
  }

  private forget(g: BenchGuest): void {
    const vm = this.vms.get(g.uuid);
    vm?.qmp.close();
    this.vms.delete(g.uuid);
    const paths = this.paths(g);
    rmSync(join(paths.monitorSocket, '..'), { recursive: true, force: true });
  }

  private killNow(uuid: string): void {
    const vm = this.vms.get(uuid);
    if (vm === undefined) return;
    vm.qmp.close();
    if (vm.child.pid !== undefined && vm.child.exitCode === null && vm.child.signalCode === null) {
      try {
        process.kill(-vm.child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    this.vms.delete(uuid);
  }

  private async job(qmp: QmpClient, command: string, args: Record<string, unknown>): Promise<void> {
    const id = `raw${++this.jobs}`;
    const concluded = qmp.waitForEvent((ev) => ev.event === 'JOB_STATUS_CHANGE' && ev.data.id === id && ev.data.status === 'concluded', 300_000);
    await qmp.execute(command, { 'job-id': id, ...args });
    await concluded;
    const jobs = await qmp.execute<{ id: string; error?: string }[]>('query-jobs');
    await qmp.execute('job-dismiss', { id });
    const err = jobs.find((j) => j.id === id)?.error;
    if (err !== undefined) throw new Error(`raw ${command}: ${err}`);
  }
}

/**
 * Listens on `sock` for QEMU's migration stream and has `cat` copy it into `file` (the kernel
 * moves the bytes). Resolves once listening; `written` resolves when cat has exited 0. Measured
 * here, this beats `exec:cat > FILE` (a 64 KiB pipe) and a Node stream.
 */
async function catFromSocket(sock: string, file: string): Promise<{ written: Promise<void> }> {
  const server = createServer({ pauseOnConnect: true });
  const written = new Promise<void>((resolve, reject) => {
    server.once('connection', (c) => {
      server.close();
      const fd = openSync(file, 'w', 0o600);
      const cat = spawn('cat', [], { stdio: [c, fd, 'inherit'] });
      closeSync(fd);
      c.destroy();
      cat.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`cat > ${file}: status ${code}`))));
    });
  });
  written.catch(() => undefined);
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  return { written };
}

/** Connects to QEMU's incoming-migration socket and has `cat` send `file` into it. */
async function catToSocket(file: string, sock: string): Promise<void> {
  const c = createConnection({ path: sock });
  c.pause();
  await new Promise<void>((resolve, reject) => {
    c.once('connect', resolve);
    c.once('error', reject);
  });
  const fd = openSync(file, 'r');
  spawn('cat', [], { stdio: [fd, c, 'inherit'] });
  closeSync(fd);
  c.destroy();
}

function minimalXML(): string {
  return "<domain type='qemu'><name>x</name><memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os></domain>";
}
