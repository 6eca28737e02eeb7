/**
 * Running VBoxManage: finding the executable, a timeout on every call (the whole process group
 * is killed when it runs out), and VBoxManage's own error text turned into a VirError.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError, internalError, noDomain, noDomainSnapshot, operationFailed } from '../../core/errors.js';

const D = ErrorDomain.VBOX;

/** Default time a VBoxManage call may take; starting or snapshotting a VM gets {@link SLOW_TIMEOUT_MS}. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** startvm, snapshot take/restore/delete, poweroff: VirtualBox shows progress for minutes at times. */
export const SLOW_TIMEOUT_MS = 300_000;
/** Output beyond this is not VBoxManage's (a runaway program): the call fails. */
const MAX_OUTPUT = 16 * 1024 * 1024;

/** What one VBoxManage call printed. */
export interface VBoxManageResult {
  stdout: string;
  stderr: string;
  status: number;
}

/** Options of {@link VBoxManage}. */
export interface VBoxManageOptions {
  /** The executable; else TSVIRT_VBOXMANAGE, else `VBoxManage` on PATH. */
  path?: string;
  /** Per-call timeout for quick calls, ms (TSVIRT_VBOXMANAGE_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Per-call timeout for slow calls, ms (TSVIRT_VBOXMANAGE_SLOW_TIMEOUT_MS). */
  slowTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** libvirt's wording when its vbox driver cannot reach VirtualBox at all. */
export function cannotInitialize(why: string): VirError {
  return internalError(D, `unable to initialize VirtualBox driver API: ${why}`);
}

/** The VBoxManage executable to run, or libvirt's initialisation error. */
export function findVBoxManage(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.TSVIRT_VBOXMANAGE;
  if (explicit !== undefined && explicit !== '') {
    if (!isExecutable(explicit)) throw cannotInitialize(`TSVIRT_VBOXMANAGE '${explicit}' is not an executable file`);
    return explicit;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue;
    for (const name of ['VBoxManage', 'vboxmanage']) {
      const candidate = join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  throw cannotInitialize('VBoxManage not found (install VirtualBox, or set TSVIRT_VBOXMANAGE to its VBoxManage)');
}

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function positiveInt(text: string | undefined): number | undefined {
  if (text === undefined || !/^[0-9]+$/.test(text)) return undefined;
  const n = Number(text);
  return n > 0 ? n : undefined;
}

/**
 * The lines VBoxManage printed after `VBoxManage: error: ` (its CHECK_ERROR / RTMsgError
 * output), without the `Details:` and `Context:` lines that only name COM internals.
 */
export function errorText(stderr: string): string {
  const lines = stderr.replace(/\r\n/g, '\n').split('\n');
  const messages: string[] = [];
  for (const line of lines) {
    const m = /^(?:VBoxManage(?:\.exe)?|VBoxManageHelp): error: (.*)$/.exec(line);
    if (m === null) continue;
    const text = (m[1] as string).trim();
    if (/^(Details|Context): /.test(text) || text === '') continue;
    messages.push(text);
  }
  if (messages.length > 0) return messages.join('; ');
  const other = lines.map((l) => l.trim()).filter((l) => l !== '' && !/^[0-9%.]+$/.test(l));
  return other.slice(0, 3).join('; ');
}

/** The COM result name VBoxManage reported (`VBOX_E_OBJECT_NOT_FOUND`), if any. */
export function errorCode(stderr: string): string | undefined {
  return /Details: code ([A-Z_0-9]+) \(0x[0-9a-f]+\)/i.exec(stderr)?.[1];
}

/** A runner of VBoxManage for one connection. */
export class VBoxManage {
  readonly path: string;
  private readonly timeoutMs: number;
  private readonly slowTimeoutMs: number;
  private readonly env: NodeJS.ProcessEnv;
  private readonly children = new Set<number>();

  constructor(options: VBoxManageOptions = {}) {
    const env = options.env ?? process.env;
    this.path = options.path ?? findVBoxManage(env);
    this.timeoutMs = options.timeoutMs ?? positiveInt(env.TSVIRT_VBOXMANAGE_TIMEOUT_MS) ?? DEFAULT_TIMEOUT_MS;
    this.slowTimeoutMs =
      options.slowTimeoutMs ?? positiveInt(env.TSVIRT_VBOXMANAGE_SLOW_TIMEOUT_MS) ?? Math.max(SLOW_TIMEOUT_MS, this.timeoutMs);
    // VBoxManage's messages are parsed: keep them in English.
    this.env = { ...env, LC_ALL: 'C', LANG: 'C', LANGUAGE: 'C' };
  }

  /**
   * Runs VBoxManage with `args` and returns what it printed, whatever its exit status.
   * Errors: VIR_ERR_OPERATION_TIMEOUT when it does not finish in time (it is killed, with its
   * process group); VIR_ERR_INTERNAL_ERROR when it cannot be run or prints without end.
   */
  run(args: readonly string[], options: { slow?: boolean } = {}): Promise<VBoxManageResult> {
    const timeoutMs = options.slow === true ? this.slowTimeoutMs : this.timeoutMs;
    const what = `VBoxManage ${args[0] ?? ''}`.trim();
    return new Promise((resolve, reject) => {
      // Its own process group, so that a timeout also ends whatever it started.
      const child = spawn(this.path, args, { env: this.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const pid = child.pid;
      if (pid !== undefined) this.children.add(pid);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let size = 0;
      let failure: VirError | null = null;
      const kill = () => {
        if (pid === undefined) return;
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      };
      const onData = (into: Buffer[]) => (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_OUTPUT) {
          if (failure === null) failure = internalError(D, `${what} printed more than ${MAX_OUTPUT} bytes`);
          kill();
          return;
        }
        into.push(chunk);
      };
      child.stdout.on('data', onData(out));
      child.stderr.on('data', onData(err));
      const timer = setTimeout(() => {
        failure = VirError.report(D, ErrorNumber.OPERATION_TIMEOUT, `${what} did not finish within ${timeoutMs} ms`);
        kill();
      }, timeoutMs);
      child.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (pid !== undefined) this.children.delete(pid);
        reject(cannotInitialize(`cannot run ${this.path}: ${e.code ?? e.message}`));
      });
      child.on('close', (status, signal) => {
        clearTimeout(timer);
        if (pid !== undefined) this.children.delete(pid);
        if (failure !== null) return reject(failure);
        if (status === null) {
          return reject(internalError(D, `${what} was killed by signal ${signal ?? 'unknown'}`));
        }
        resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), status });
      });
    });
  }

  /**
   * Runs VBoxManage and returns its standard output; a non-zero exit becomes a VirError carrying
   * VBoxManage's message: VIR_ERR_NO_DOMAIN for an unknown machine, VIR_ERR_NO_DOMAIN_SNAPSHOT
   * for an unknown snapshot, else VIR_ERR_OPERATION_FAILED.
   */
  async check(args: readonly string[], options: { slow?: boolean } = {}): Promise<string> {
    const r = await this.run(args, options);
    if (r.status !== 0) throw failureOf(args, r);
    return r.stdout;
  }

  /** Kills the calls still running (on close). */
  killAll(): void {
    for (const pid of this.children) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    this.children.clear();
  }
}

/** The VirError for a failed VBoxManage call. */
export function failureOf(args: readonly string[], r: VBoxManageResult): VirError {
  const text = errorText(r.stderr) || errorText(r.stdout) || `exit status ${r.status}`;
  if (/Could not find a registered machine/i.test(text)) return noDomain(D, text);
  if (/Could not find a snapshot/i.test(text) || /does not have any snapshots/i.test(text)) {
    return noDomainSnapshot(D, text);
  }
  return operationFailed(D, `VBoxManage ${args[0] ?? ''} failed: ${text}`);
}

/** VIR_ERR_INTERNAL_ERROR for output VBoxManage would not print. */
export function unexpectedOutput(what: string, detail: string): VirError {
  return internalError(D, `unexpected output from VBoxManage ${what}: ${detail}`);
}
