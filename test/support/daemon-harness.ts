/**
 * Test helpers for tsvirtd: start the real daemon (dist/src/daemon/main.js) on a temporary socket
 * directory, run real virsh and python-libvirt against it, and a raw protocol client for what
 * those tools never send.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameReader, MessageType, encodeFrame, type Frame } from '../../src/rpc/message.js';
import { REMOTE_PROGRAM, xError, type WireError } from '../../src/rpc/protocol.js';
import { decode, XdrWriter, type Codec } from '../../src/rpc/xdr.js';
import { DAEMON_NODE_FLAGS } from '../../src/daemon/node-flags.js';
import { killNow, onEmergency } from './emergency.js';
import { have, missing } from './host-tools.js';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/src/daemon/main.js, from dist/test/support. */
export const DAEMON_MAIN = join(here, '..', '..', 'src', 'daemon', 'main.js');

export function haveVirsh(): boolean {
  return have('virsh');
}
export function havePythonLibvirt(): boolean {
  return have('python3') && have("python3's libvirt module");
}
/** Why the virsh tests skip here, or false. */
export function virshSkip(): string | false {
  return missing('virsh');
}
/** Why the python-libvirt tests skip here, or false. */
export function pythonLibvirtSkip(): string | false {
  return missing('python3') || missing("python3's libvirt module");
}

export interface RunningDaemon {
  dir: string;
  socketDir: string;
  stateDir: string;
  rw: string;
  ro: string;
  proc: ChildProcess;
  log: () => string;
  /** `test+unix:///default?socket=…` and friends. */
  uri(path: '/default' | '/session', readonly?: boolean): string;
  /** SIGTERM, wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** Stops and removes the temporary directory. */
  dispose(): Promise<void>;
}

/**
 * What the tests' daemons serve unless told otherwise: what a non-root tsvirtd serves (the tests
 * run as root, whose daemon would serve qemu:///system instead, under /var/lib/tsvirt).
 */
export const SESSION_URIS = ['qemu:///session', 'test:///default', 'test:///session'];

/**
 * Starts tsvirtd; `verbose` (default true) logs every call — benchmarks turn it off. `uris` are
 * the URIs it serves (one --uri each; default {@link SESSION_URIS}); null leaves the daemon's own
 * defaults.
 */
export async function startDaemon(opts: { dir?: string; args?: string[]; verbose?: boolean; uris?: string[] | null; logFile?: string } = {}): Promise<RunningDaemon> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'tsvirtd-'));
  const socketDir = join(dir, 'sock');
  const stateDir = join(dir, 'state');
  let output = '';
  // With the flags its bin runs it with (src/daemon/node-flags.ts).
  const uris = (opts.uris === undefined ? SESSION_URIS : (opts.uris ?? [])).flatMap((u) => ['--uri', u]);
  const proc = spawn(process.execPath, [...DAEMON_NODE_FLAGS, DAEMON_MAIN, '--socket-dir', socketDir, ...(opts.verbose === false ? [] : ['--verbose']), ...uris, ...(opts.logFile === undefined ? [] : ['--log-file', opts.logFile]), ...(opts.args ?? [])], {
    env: { ...process.env, TSVIRT_STATE_DIR: stateDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const forget = onEmergency(() => {
    killNow(proc);
    if (opts.dir === undefined) rmSync(dir, { recursive: true, force: true });
  });
  const rw = join(socketDir, 'libvirt-sock');
  const ro = join(socketDir, 'libvirt-sock-ro');
  const end = Date.now() + 10_000;
  // With --log-file the daemon's own messages (its 'ready' among them) go to that file.
  const said = (): string => (opts.logFile !== undefined && existsSync(opts.logFile) ? readFileSync(opts.logFile, 'utf8') : output);
  while (!(existsSync(rw) && existsSync(ro) && said().includes('ready'))) {
    if (Date.now() > end || proc.exitCode !== null) throw new Error(`tsvirtd did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  let stopped: Promise<number | null> | null = null;
  const d: RunningDaemon = {
    dir,
    socketDir,
    stateDir,
    rw,
    ro,
    proc,
    log: () => output,
    uri: (path, readonly = false) => `test+unix://${path}?socket=${readonly ? ro : rw}`,
    stop: () => {
      if (stopped === null) {
        if (proc.exitCode === null) proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
        stopped = exited.finally(() => clearTimeout(timer));
      }
      return stopped;
    },
    dispose: async () => {
      await d.stop();
      if (opts.dir === undefined) rmSync(dir, { recursive: true, force: true });
      forget();
    },
  };
  return d;
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs real virsh with a connection URI. */
export function virsh(uri: string, ...args: string[]): Run {
  const argv = ['-q', '-c', uri, ...args];
  const env = { ...process.env, LC_ALL: 'C' };
  if (!args.some((a) => WATCHED_JOBS.has(a))) {
    const r = spawnSync('virsh', argv, { encoding: 'utf8', timeout: 30_000, env });
    return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }
  for (let attempt = 0; ; attempt++) {
    const r = spawnSync('sh', ['-c', LOST_WAKEUP_WATCHDOG, 'virsh', ...argv], { encoding: 'utf8', timeout: 35_000, env });
    const run = { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    if (run.code !== LOST_WAKEUP) return run.code === 124 ? { ...run, code: null } : run;
    // The job ended; only virsh's main thread missed it. Its worker prints the failure before it
    // quits, so no stderr means the job succeeded, and under -q virsh has nothing left to print.
    if (run.stderr === '') return { ...run, code: 0 };
    // A failed job changed nothing: running it again gives the error's second line (which the
    // main thread prints) the chance to appear.
    if (attempt === 2) return run;
  }
}

/**
 * virsh 9.0 runs save, managedsave, dump and migrate in a worker thread that ends the main
 * thread's GLib loop when the job is over; when the job is quicker than the main thread's way into
 * that loop, the wake-up is lost and virsh waits forever (one run in twelve against a local test
 * driver; more when the machine is busy). The watchdog tells that hang from a daemon that does not
 * answer: for two seconds only `virsh` and `vshEventLoop` are left, the worker thread gone (what comes
 * before the worker, connecting and looking the domain up, takes milliseconds).
 */
const WATCHED_JOBS = new Set(['save', 'managedsave', 'dump', 'migrate']);
const LOST_WAKEUP = 125;
const LOST_WAKEUP_WATCHDOG = `
"$0" "$@" & p=$!
n=0; idle=0
while kill -0 "$p" 2>/dev/null; do
  sleep 0.05; n=$((n+1))
  if [ "$n" -ge 600 ]; then { kill -KILL "$p"; wait "$p"; } 2>/dev/null; exit 124; fi
  if [ $((n % 10)) -eq 0 ]; then
    if [ "$(cat /proc/$p/task/*/comm 2>/dev/null | grep -cv -e '^virsh$' -e '^vshEventLoop$')" = 0 ]; then idle=$((idle+1)); else idle=0; fi
    if [ "$idle" -ge 4 ]; then { kill -KILL "$p"; wait "$p"; } 2>/dev/null; exit ${LOST_WAKEUP}; fi
  fi
done
wait "$p"
`;

/** Runs a python-libvirt script with the given argv. */
export function python(script: string, ...args: string[]): Run {
  const r = spawnSync('/usr/bin/python3', ['-c', script, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** A hand-rolled protocol client, for calls virsh would refuse on its own side. */
export class RawClient {
  private serial = 0;
  private readonly reader = new FrameReader();
  private readonly waiting = new Map<number, (f: Frame) => void>();
  readonly messages: Frame[] = [];
  private closedFlag = false;

  private constructor(private readonly sock: Socket) {
    sock.on('data', (chunk: Buffer) => {
      for (const f of this.reader.push(chunk)) {
        if (f.header.type === MessageType.REPLY) {
          const w = this.waiting.get(f.header.serial);
          this.waiting.delete(f.header.serial);
          w?.(f);
        } else this.messages.push(f);
      }
    });
    sock.on('close', () => (this.closedFlag = true));
    sock.on('error', () => {});
  }

  static connect(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  closed(): boolean {
    return this.closedFlag;
  }

  /** Sends one CALL and waits for its REPLY. */
  call(proc: number, payload: Buffer = Buffer.alloc(0), over: { prog?: number; vers?: number } = {}): Promise<Frame> {
    const serial = this.serial++;
    const reply = new Promise<Frame>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no reply to proc ${proc}`)), 10_000);
      this.waiting.set(serial, (f) => {
        clearTimeout(t);
        resolve(f);
      });
    });
    this.sock.write(encodeFrame({ prog: over.prog ?? REMOTE_PROGRAM, vers: over.vers ?? 1, proc, type: MessageType.CALL, serial, status: 0 }, payload));
    return reply;
  }

  /** Encodes `v` with `codec`, calls, and returns the frame. */
  callWith<T>(proc: number, codec: Codec<T>, v: T): Promise<Frame> {
    const w = new XdrWriter();
    codec.enc(w, v);
    return this.call(proc, Buffer.from(w.finish()));
  }

  send(buf: Buffer): void {
    this.sock.write(buf);
  }

  close(): void {
    this.sock.destroy();
  }
}

/** The error carried by an ERROR reply. */
export function errorOf(f: Frame): WireError {
  return decode(xError, f.payload);
}

/**
 * The pids of the QEMU guests the daemon's qemu:///session driver records as running (its store
 * under `stateDir`/qemu), for reapers and for checking that a guest is gone.
 */
export function guestPids(stateDir: string): number[] {
  const file = join(stateDir, 'qemu', 'qemu.db');
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT runtime FROM domains WHERE runtime IS NOT NULL').all() as { runtime: string }[];
    return rows.map((r) => (JSON.parse(r.runtime) as { pid: number }).pid);
  } finally {
    db.close();
  }
}
