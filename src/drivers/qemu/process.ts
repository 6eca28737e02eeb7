/**
 * QEMU processes: find the binary, check KVM, launch a guest detached in its own session (so it
 * outlives the process that started it) with stdout/stderr appended to a per-domain log file,
 * connect its QMP monitor, and find it again later from its pid and socket.
 *
 * Never `-daemonize`: a daemonized QEMU sends stderr to /dev/null after start-up, so its errors
 * (a failed incoming migration, say) would be lost; spawned directly, every message lands in the
 * log and the exit status is known while this process lives.
 *
 * Liveness is read from /proc/PID/stat: a zombie counts as gone (PID 1 may reap late), and the
 * process start time recorded at launch guards against a recycled pid.
 */
import { deleteRecordedTaps } from './taps.js';
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, fchmodSync, fstatSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError, configUnsupported, internalError } from '../../core/errors.js';
import type { DomainDef } from '../../conf/domain.js';
import { emulatorNameFor, type QemuAccel } from './argv.js';
import { QmpClient, type QmpConnectOptions } from './qmp.js';

const DOM = ErrorDomain.QEMU;

/**
 * What the metadata driver keeps for a running guest (the GuestBackend runtime record, as
 * JSON). Everything needed to find the guest again from another process.
 */
export interface QemuRuntime {
  /** ms since the epoch when the guest was started (the driver derives cpu time from it). */
  startedAt: number;
  pid: number;
  /** Start time of the process (/proc/PID/stat field 22): tells a recycled pid apart. */
  pidStart: string;
  /** QMP unix socket. */
  monitor: string;
  pidFile: string;
  /** Per-domain runtime directory (socket, pidfile); removed when the guest is gone. */
  runDir: string;
  /** stdout/stderr of QEMU. */
  log: string;
  emulator: string;
  accel: QemuAccel;
}

/** Parses and checks a runtime record; null when it is not one of ours. */
export function parseRuntime(json: string | null): QemuRuntime | null {
  if (json === null) return null;
  try {
    const rt = JSON.parse(json) as Partial<QemuRuntime>;
    if (typeof rt.pid !== 'number' || typeof rt.monitor !== 'string' || typeof rt.pidStart !== 'string') return null;
    return rt as QemuRuntime;
  } catch {
    return null;
  }
}

/** The longest unix socket path Linux accepts (sun_path is 108 bytes with its NUL). */
export const MAX_SOCKET_PATH = 107;

/**
 * Finds the QEMU binary: `<emulator>` when given (must be an executable file), else the
 * architecture's `qemu-system-*` on PATH.
 *
 * Errors: VIR_ERR_SYSTEM_ERROR, worded as libvirt ("Cannot find 'qemu-system-x86_64' in path:
 * No such file or directory", "Cannot check QEMU binary /x: No such file or directory").
 */
export function findEmulator(def: DomainDef, env: NodeJS.ProcessEnv = process.env): string {
  const given = def.devices.emulator;
  if (given !== undefined) {
    try {
      accessSync(given, constants.X_OK);
    } catch (err) {
      throw VirError.report(DOM, ErrorNumber.SYSTEM_ERROR, `Cannot check QEMU binary ${given}: ${describeErrno(err)}`);
    }
    return given;
  }
  const name = emulatorNameFor(def);
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw VirError.report(DOM, ErrorNumber.SYSTEM_ERROR, `Cannot find '${name}' in path: No such file or directory`);
}

/**
 * Checks that KVM can be used (`type='kvm'`): the device opens read-write.
 *
 * Errors: VIR_ERR_CONFIG_UNSUPPORTED "domain type 'kvm' needs KVM: cannot open /dev/kvm: …".
 */
export function checkKvm(device = '/dev/kvm'): void {
  try {
    closeSync(openSync(device, constants.O_RDWR));
  } catch (err) {
    throw configUnsupported(DOM, `domain type 'kvm' needs KVM: cannot open ${device}: ${describeErrno(err)} (use type='qemu' for TCG)`);
  }
}

/**
 * Creates each serial port's file before QEMU opens it, 0600, as libvirt pre-creates a file
 * chardev: QEMU would create it with 0666 less the umask (0644, readable by everyone, though
 * the guest's console may show secrets), and keeps the mode of a file that exists. `ours` are the
 * driver's own per-domain serial logs, in its 0700 log directory: one of those must be a regular
 * file of ours (no symbolic link, no FIFO), and an older one with a looser mode is made 0600. A
 * file the domain names is the user's: opened as QEMU would open it (following links), created
 * 0600 when missing, its mode otherwise left alone.
 *
 * Errors: VIR_ERR_SYSTEM_ERROR "Unable to pre-create chardev file 'PATH': …", as libvirt; the
 * guest is then not started.
 */
export function precreateSerialFiles(files: readonly { path: string; ours: boolean }[]): void {
  for (const { path, ours } of files) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NONBLOCK | (ours ? constants.O_NOFOLLOW : 0), 0o600);
    } catch (err) {
      throw VirError.report(DOM, ErrorNumber.SYSTEM_ERROR, `Unable to pre-create chardev file '${path}': ${describeErrno(err)}`);
    }
    try {
      if (!ours) continue;
      const st = fstatSync(fd);
      if (!st.isFile() || st.uid !== (process.geteuid?.() ?? 0)) {
        throw VirError.report(DOM, ErrorNumber.SYSTEM_ERROR, `Unable to pre-create chardev file '${path}': not a regular file of tsvirt's user`);
      }
      if ((st.mode & 0o077) !== 0) fchmodSync(fd, 0o600);
    } finally {
      closeSync(fd);
    }
  }
}

/** An errno as libvirt words it in messages (strerror), else the error's own message. */
export function describeErrno(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const texts: Record<string, string> = {
    ENOENT: 'No such file or directory',
    EACCES: 'Permission denied',
    EPERM: 'Operation not permitted',
    ENXIO: 'No such device or address',
    ENODEV: 'No such device',
  };
  return (e.code !== undefined ? texts[e.code] : undefined) ?? e.message;
}

/** /proc/PID/stat's state and start time; null when there is no such process. */
function procStat(pid: number): { state: string; start: string } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], start: fields[19] };
}

/** The start time of a live process (field 22 of /proc/PID/stat); null when gone or a zombie. */
export function processStartTime(pid: number): string | null {
  const st = procStat(pid);
  return st === null || st.state === 'Z' || st.state === 'X' ? null : st.start;
}

/** Whether the process runs (not a zombie) and, when `start` is given, is the same process. */
export function isProcessAlive(pid: number, start?: string): boolean {
  const now = processStartTime(pid);
  return now !== null && (start === undefined || now === start);
}

/**
 * Polls until the process is gone (or a zombie); false when it still runs after `timeoutMs`.
 * `exited`, when this process launched it, settles at its exit and ends the wait early.
 */
export async function waitForProcessExit(
  pid: number,
  start: string | undefined,
  timeoutMs: number,
  exited?: Promise<unknown>,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  // A QEMU that was told to quit is gone within a few ms: poll every ms or so (a /proc read is
  // cheap). Backing off to 50 ms made destroy and revert wait up to tens of ms for nothing.
  let delay = 1;
  for (;;) {
    if (!isProcessAlive(pid, start)) return true;
    if (Date.now() >= deadline) return false;
    await (exited === undefined ? sleep(delay) : Promise.race([exited, sleep(delay)]));
    delay = Math.min(delay * 2, 4);
  }
}

/** Sends a signal to the process group the guest leads (QEMU and any `exec:` helpers). */
export function signalGuest(pid: number, start: string | undefined, signal: NodeJS.Signals): void {
  if (!isProcessAlive(pid, start)) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // gone meanwhile
    }
  }
}

/** Options of {@link launchQemu}. */
export interface LaunchOptions {
  emulator: string;
  argv: string[];
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** QEMU's stdout and stderr are appended here. */
  logFile: string;
  monitor: string;
  pidFile: string;
  runDir: string;
  accel: QemuAccel;
  /** How long QEMU may take to open its monitor (default 30,000 ms). */
  timeoutMs?: number;
  qmp?: QmpConnectOptions;
}

/** A QEMU just launched, with its monitor connected and negotiated. */
export interface LaunchedQemu {
  runtime: QemuRuntime;
  qmp: QmpClient;
  /** Resolves when the process exits (only known to the process that launched it). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** ms from spawn to a negotiated monitor. */
  monitorMs: number;
}

/**
 * Launches QEMU in its own session (setsid), stdout/stderr appended to the log file, and
 * connects its QMP monitor.
 *
 * Effects on failure: none left behind — the process is killed (its group), the socket and
 * pidfile removed; the log keeps QEMU's messages.
 *
 * Errors: VIR_ERR_SYSTEM_ERROR when the binary cannot be executed; VIR_ERR_INTERNAL_ERROR
 * "process exited while connecting to monitor: <QEMU's own message>" when QEMU fails at start;
 * VIR_ERR_OPERATION_TIMEOUT when the monitor does not come up in time.
 */
export async function launchQemu(options: LaunchOptions): Promise<LaunchedQemu> {
  if (Buffer.byteLength(options.monitor) > MAX_SOCKET_PATH) {
    throw internalError(DOM, `UNIX socket path '${options.monitor}' too long`);
  }
  const timeoutMs = options.timeoutMs ?? 30_000;
  rmSync(options.monitor, { force: true });
  rmSync(options.pidFile, { force: true });

  const logFd = openSync(options.logFile, 'a', 0o600);
  let logOffset: number;
  try {
    const envText = Object.entries(options.env ?? {})
      .map(([k, v]) => `${k}=${shellWord(v)} `)
      .join('');
    writeSync(logFd, `${new Date().toISOString()}: starting up\n${envText}${[options.emulator, ...options.argv].map(shellWord).join(' ')}\n`);
    logOffset = fstatSync(logFd).size;
  } catch (err) {
    closeSync(logFd);
    throw err;
  }
  const spawnedAt = performance.now();
  const child = spawn(options.emulator, options.argv, {
    detached: true,
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, ...options.env },
  });
  closeSync(logFd);

  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  let spawnError: Error | null = null;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
    child.once('error', (err) => {
      spawnError = err;
      if (child.pid === undefined) {
        exitInfo = { code: null, signal: null };
        resolve(exitInfo);
      }
    });
  });

  const pid = child.pid;
  const pidStart = pid === undefined ? null : (procStat(pid)?.start ?? null);
  const cleanup = async (): Promise<void> => {
    if (pid !== undefined && exitInfo === null) {
      signalGuest(pid, undefined, 'SIGKILL');
      await Promise.race([exited, sleep(5000)]);
    }
    rmSync(options.monitor, { force: true });
    rmSync(options.pidFile, { force: true });
  };

  const deadline = Date.now() + timeoutMs;
  let qmp: QmpClient | null = null;
  let lastError: unknown = null;
  while (qmp === null) {
    if (exitInfo !== null || spawnError !== null) break;
    if (Date.now() >= deadline) break;
    if (existsSync(options.monitor)) {
      try {
        qmp = await QmpClient.connect(options.monitor, { timeoutMs: Math.max(1000, deadline - Date.now()), ...options.qmp });
        break;
      } catch (err) {
        lastError = err;
      }
    }
    // QEMU creates the socket early and greets once its main loop runs: a short poll costs little.
    await Promise.race([exited, sleep(1)]);
  }

  if (qmp === null) {
    await cleanup();
    if (spawnError !== null) {
      throw VirError.report(DOM, ErrorNumber.SYSTEM_ERROR, `Cannot execute QEMU binary ${options.emulator}: ${describeErrno(spawnError)}`);
    }
    const tail = readLogFrom(options.logFile, logOffset);
    if (exitInfo !== null) {
      const info = exitInfo as { code: number | null; signal: NodeJS.Signals | null };
      const status = info.signal !== null ? `killed by ${info.signal}` : `exit status ${info.code}`;
      throw internalError(DOM, `process exited while connecting to monitor: ${tail !== '' ? tail : status}`);
    }
    const why = lastError instanceof Error ? lastError.message : 'no monitor socket';
    throw VirError.report(
      DOM,
      ErrorNumber.OPERATION_TIMEOUT,
      `QEMU did not open its monitor within ${timeoutMs} ms (${why})${tail !== '' ? `: ${tail}` : ''}`,
    );
  }
  const monitorMs = performance.now() - spawnedAt;
  child.unref();
  return {
    qmp,
    exited,
    monitorMs,
    runtime: {
      startedAt: Date.now(),
      pid: pid!,
      pidStart: pidStart ?? '',
      monitor: options.monitor,
      pidFile: options.pidFile,
      runDir: options.runDir,
      log: options.logFile,
      emulator: options.emulator,
      accel: options.accel,
    },
  };
}

/**
 * Connects to the monitor of a guest started earlier (by this or another process). Null when
 * the process is gone.
 *
 * Errors: VIR_ERR_OPERATION_TIMEOUT when the monitor gives no greeting (another client holds
 * it); VIR_ERR_OPERATION_FAILED when it cannot be connected.
 */
export async function attachQemu(rt: QemuRuntime, options: QmpConnectOptions = {}): Promise<QmpClient | null> {
  if (!isProcessAlive(rt.pid, rt.pidStart)) return null;
  return QmpClient.connect(rt.monitor, { timeoutMs: 5000, ...options });
}

/** Removes what a guest leaves in its runtime directory (the log is kept). */
export function removeRuntimeFiles(rt: Pick<QemuRuntime, 'monitor' | 'pidFile' | 'runDir'>): void {
  rmSync(rt.monitor, { force: true });
  rmSync(rt.pidFile, { force: true });
  deleteRecordedTaps(rt.runDir);
  rmSync(rt.runDir, { recursive: true, force: true });
}

/** The last lines QEMU wrote to its log since `offset` (its own error messages), trimmed. */
export function readLogFrom(file: string, offset: number, maxChars = 2000): string {
  try {
    const text = readFileSync(file, 'utf8').slice(offset).trim();
    return text.length > maxChars ? text.slice(text.length - maxChars) : text;
  } catch {
    return '';
  }
}

/** The log's current size, to read what QEMU writes from now on. */
export function logSize(file: string): number {
  try {
    const fd = openSync(file, 'r');
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  } catch {
    return 0;
  }
}

function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:=,@+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

const machineTypesCache = new Map<string, { stamp: string; types: readonly string[]; aliases: ReadonlyMap<string, string> }>();

/**
 * The machine type an alias stands for (`pc` → `pc-i440fx-7.2`), as libvirt stores it at define;
 * the name itself when it is no alias or the emulator cannot be asked.
 */
export function qemuMachineCanonical(emulator: string, machine: string): string {
  if (qemuMachineTypes(emulator) === undefined) return machine;
  return machineTypesCache.get(emulator)?.aliases.get(machine) ?? machine;
}

/**
 * The machine types an emulator supports, from `EMULATOR -machine help` (aliases such as `pc`
 * included), cached per binary until the binary changes; undefined when it cannot be run (the
 * start then reports why). libvirt asks QMP `query-machines` for the same list.
 */
export function qemuMachineTypes(emulator: string): readonly string[] | undefined {
  let stamp: string;
  try {
    const st = statSync(emulator);
    stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
  const cached = machineTypesCache.get(emulator);
  if (cached?.stamp === stamp) return cached.types;
  let out: string;
  try {
    out = execFileSync(emulator, ['-machine', 'help'], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
  // "Supported machines are:" then one "NAME  description" line per type.
  const lines = out.split('\n').slice(1);
  const types = lines.map((line) => /^(\S+)\s/.exec(line)?.[1]).filter((name): name is string => name !== undefined);
  if (types.length === 0) return undefined;
  const aliases = new Map<string, string>();
  for (const line of lines) {
    const m = /^(\S+)\s.*\(alias of (\S+)\)\s*$/.exec(line);
    if (m !== null) aliases.set(m[1] as string, m[2] as string);
  }
  machineTypesCache.set(emulator, { stamp, types, aliases });
  return types;
}
