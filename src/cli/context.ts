/**
 * The state of one tsvirt run (virsh's vshControl + virshControl): output with virsh's
 * quiet/extra distinction, virsh's error printing (`error: ...`, and the saved library error
 * printed after a failed command), the lazily opened connection, and option access for a
 * parsed command with virsh's messages.
 *
 * The public API is imported on first connection only, so `help` and syntax errors never
 * load it.
 */
import { appendFileSync, openSync, closeSync } from 'node:fs';
import type { Connection, Domain, VirError } from '../index.js';
import type { OptDef } from './defs.js';
import type { ParsedCommand, ParsedOpt } from './parser.js';

/** Thrown by a handler after it has printed its error: the command fails, nothing more is said. */
export class CmdFailed extends Error {
  constructor() {
    super('command failed');
  }
}

/** True for the API's VirError (checked by shape, so that this module need not load the API). */
export function isVirError(err: unknown): err is VirError {
  return (
    err instanceof Error &&
    err.name === 'VirError' &&
    typeof (err as { code?: unknown }).code === 'number' &&
    typeof (err as { domain?: unknown }).domain === 'number'
  );
}

/** Where a run writes. Tests hand in their own. */
export interface Streams {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/** virsh's log levels (vshErrorLevel). */
export const enum Level {
  DEBUG = 0,
  INFO = 1,
  NOTICE = 2,
  WARNING = 3,
  ERROR = 4,
}
const LEVEL_NAMES = ['DEBUG', 'INFO', 'INFO', 'WARNING', 'ERROR'];

/** Lookup methods for a domain argument (virsh's VIRSH_BYID | VIRSH_BYUUID | VIRSH_BYNAME). */
export const BY_ID = 1;
export const BY_UUID = 2;
export const BY_NAME = 4;
export const BY_ANY = BY_ID | BY_UUID | BY_NAME;

/** The state of one run. */
export class Ctl {
  /** -q: drop informational output (table headers, "Domain ... started", blank lines). */
  quiet = false;
  /** -t: print the time each command took. */
  timing = false;
  /** -d: the lowest level of debug message printed. */
  debug: number = Level.ERROR;
  /** -l: the log file, if any. */
  logFile: string | null = null;
  /** -r / connect --readonly. */
  readonly = false;
  /** -c / connect NAME: the URI to (re)connect to; undefined for the default URI. */
  connname: string | undefined = undefined;
  /** True while reading commands from standard input or a terminal. */
  imode = false;
  /** The program name used in messages and the prompt. */
  progname = 'tsvirt';

  /** The open connection, if any. */
  conn: Connection | null = null;
  /** The library error of the command running now (virsh's last_error). */
  lastError: { message: string } | null = null;
  /** Hint lines to print after the command's errors. */
  hints: string[] = [];

  private pending = '';

  constructor(readonly streams: Streams) {}

  // ---- output ----

  /** vshPrint: always printed. */
  print(s: string): void {
    this.pending += s;
    if (this.pending.length > 65536) this.flush();
  }
  /** vshPrintExtra: informational, suppressed by -q. */
  extra(s: string): void {
    if (!this.quiet) this.print(s);
  }
  /** Writes what is buffered for standard output. */
  flush(): void {
    if (this.pending !== '') {
      const s = this.pending;
      this.pending = '';
      this.streams.stdout(s);
    }
  }
  /** vshError: `error: MSG` on standard error (after flushing standard output). */
  error(message: string): void {
    this.log(Level.ERROR, message);
    this.flush();
    this.streams.stderr(`error: ${message}\n`);
  }
  /** Writes to standard error directly (progress lines). */
  stderr(s: string): void {
    this.flush();
    this.streams.stderr(s);
  }
  /** Queues a `hint:` line (tsvirt): printed after the failed command's errors. */
  hint(message: string): void {
    this.hints.push(message);
  }
  /** vshDebug: printed on standard output, as virsh does. */
  debugMsg(level: Level, message: string): void {
    if (level < this.debug) return;
    this.log(level, message);
    this.print(message);
    this.flush();
  }

  /** The debug lines virsh prints while it parses each option (level INFO). */
  debugParsed(commands: readonly ParsedCommand[]): void {
    if (Level.INFO < this.debug) return;
    for (const c of commands) {
      for (const o of c.opts) {
        this.debugMsg(Level.INFO, `${c.def.name}: ${o.def.name}(${o.def.type !== 'bool' ? 'optdata' : 'bool'}): ${o.value ?? '(none)'}\n`);
      }
    }
  }

  /** vshOutputLogFile: `[YYYY.MM.DD HH:MM:SS PROG PID] LEVEL message`. */
  log(level: Level, message: string): void {
    if (this.logFile === null) return;
    const d = new Date();
    const p = (n: number) => String(n).padStart(2, '0');
    const now = `${d.getFullYear()}.${p(d.getMonth() + 1)}.${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    const line = `[${now} ${this.progname} ${process.pid}] ${LEVEL_NAMES[level] ?? 'DEBUG'} ${message.replace(/\n+$/, '')}\n`;
    try {
      appendFileSync(this.logFile, line);
    } catch {
      const file = this.logFile;
      this.logFile = null;
      this.error(`${file}: failed to write log file`);
    }
  }
  /** vshOpenLogFile: the file must be writable. */
  openLog(file: string): boolean {
    try {
      closeSync(openSync(file, 'a', 0o644));
      this.logFile = file;
      return true;
    } catch {
      this.error('failed to open the log file. check the log file path');
      return false;
    }
  }

  // ---- library errors ----

  /** Keeps a library error to print when the command ends (virsh's error handler). */
  save(err: unknown): void {
    if (isVirError(err)) {
      this.lastError = err;
      return;
    }
    throw err;
  }
  /** vshResetLibvirtError. */
  resetError(): void {
    this.lastError = null;
  }
  /** vshReportError: prints the saved library error, if any, and forgets it. */
  reportError(): void {
    if (this.lastError !== null) {
      const message = this.lastError.message;
      this.lastError = null;
      this.error(message);
    }
  }
  /** Prints the queued hints. */
  reportHints(): void {
    for (const h of this.hints) {
      this.log(Level.INFO, `hint: ${h}`);
      this.stderr(`hint: ${h}\n`);
    }
    this.hints = [];
  }

  /**
   * Runs an API call; a VirError is saved (to be printed when the command ends) and returned as
   * `FAILED`. Any other exception propagates.
   */
  async attempt<T>(promise: Promise<T> | (() => Promise<T>)): Promise<T | typeof FAILED> {
    try {
      return await (typeof promise === 'function' ? promise() : promise);
    } catch (err) {
      this.save(err);
      return FAILED;
    }
  }

  // ---- the connection ----

  /**
   * virshReconnect: closes the current connection and opens `name` (or the run's URI).
   * On failure prints virsh's message, keeps the library error and leaves no connection.
   */
  async reconnect(name: string | null, readonly: boolean): Promise<boolean> {
    // connect() alone: the index's namespace (every enum) is not needed for it.
    const api = await import('../api/connect.js');
    if (!readonly && name === null) readonly = this.readonly;
    if (this.conn !== null) {
      const old = this.conn;
      this.conn = null;
      try {
        await old.close();
      } catch {
        this.error('Failed to disconnect from the hypervisor');
      }
    }
    try {
      this.conn = await api.connect(name ?? this.connname, { readonly });
    } catch (err) {
      this.save(err);
      this.error('failed to connect to the hypervisor');
      return false;
    }
    if (name !== null) this.connname = name;
    this.readonly = readonly;
    return true;
  }

  /** virshConnectionHandler: the connection a command runs on, connecting on first use. */
  async connection(): Promise<Connection | null> {
    if (this.conn === null && !(await this.reconnect(null, false))) return null;
    return this.conn;
  }

  /** The connection of a command that has one (the runner connected before calling it). */
  get c(): Connection {
    if (this.conn === null) throw new Error('no connection');
    return this.conn;
  }

  /** Closes the connection at the end of the run. */
  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = null;
    if (conn !== null) {
      try {
        await conn.close();
      } catch {
        this.error('Failed to disconnect from the hypervisor');
      }
    }
  }

  // ---- domain arguments ----

  /**
   * virshLookupDomainInternal: an ID (a non-negative integer), then a UUID (36 characters),
   * then a name; prints `failed to get domain 'X'` when none matches.
   */
  async lookupDomain(name: string, by: number = BY_ANY): Promise<Domain> {
    const dom = await this.findDomain(name, by);
    if (dom === null) {
      this.error(`failed to get domain '${name}'`);
      throw new CmdFailed();
    }
    return dom;
  }

  /** Like {@link Ctl.lookupDomain}, but null (and nothing printed) when there is no such domain. */
  async findDomain(name: string, by: number = BY_ANY): Promise<Domain | null> {
    const conn = this.c;
    let dom: Domain | null = null;
    if (by & BY_ID && /^\s*[+-]?\d+$/.test(name)) {
      const id = Number(name.trim());
      if (id >= 0 && id <= 2147483647) {
        this.debugMsg(Level.DEBUG, `${this.cmdName}: <domain> looks like ID\n`);
        dom = await this.quietly(() => conn.lookupByID(id));
      }
    }
    if (dom === null && by & BY_UUID && name.length === 36) {
      this.debugMsg(Level.DEBUG, `${this.cmdName}: <domain> trying as domain UUID\n`);
      dom = await this.quietly(() => conn.lookupByUUIDString(name));
    }
    if (dom === null && by & BY_NAME) {
      this.debugMsg(Level.DEBUG, `${this.cmdName}: <domain> trying as domain NAME\n`);
      dom = await this.quietly(() => conn.lookupByName(name));
    }
    this.resetError();
    return dom;
  }

  /** The name of the command running now, for debug messages. */
  cmdName = '';

  private async quietly<T>(fn: () => Promise<T>): Promise<T | null> {
    try {
      return await fn();
    } catch (err) {
      if (isVirError(err)) return null;
      throw err;
    }
  }
}

/** The value {@link Ctl.attempt} returns for a failed call. */
export const FAILED: unique symbol = Symbol('failed');

/** Option access for one parsed command, with virsh's messages (vshCommandOpt*). */
export class Cmd {
  constructor(
    readonly ctl: Ctl,
    readonly parsed: ParsedCommand,
  ) {}

  get name(): string {
    return this.parsed.def.name;
  }

  private find(name: string): ParsedOpt | undefined {
    return this.parsed.opts.find((o) => o.def.name === name);
  }
  private def(name: string): OptDef | undefined {
    return this.parsed.def.opts.find((o) => o.name === name);
  }

  /** vshCommandOptBool: the option is present (boolean or not). */
  bool(name: string): boolean {
    return this.find(name) !== undefined;
  }

  /**
   * vshCommandOptStringReq: the value, undefined when absent; an empty value (unless the option
   * allows it) is an error: "Failed to get option 'NAME': Option argument is empty".
   */
  string(name: string): string | undefined {
    const o = this.find(name);
    if (o === undefined) return undefined;
    const value = o.value ?? '';
    if (value === '' && this.def(name)?.emptyOk !== true) {
      this.ctl.error(`Failed to get option '${name}': Option argument is empty`);
      throw new CmdFailed();
    }
    return value;
  }

  /** vshCommandOptStringQuiet: like {@link Cmd.string}, but an empty value fails silently. */
  stringQuiet(name: string): string | undefined {
    const o = this.find(name);
    if (o === undefined) return undefined;
    const value = o.value ?? '';
    if (value === '' && this.def(name)?.emptyOk !== true) throw new CmdFailed();
    return value;
  }

  /** The domain argument (vshCommandOptStringReq on "domain"). */
  domainArg(): string {
    const v = this.string('domain');
    if (v === undefined) {
      this.ctl.error("Failed to get option 'domain': Mandatory option not present");
      throw new CmdFailed();
    }
    return v;
  }

  /** vshCommandOptUInt: a non-negative 32-bit number. */
  uint(name: string): number | undefined {
    const o = this.find(name);
    if (o === undefined) return undefined;
    const raw = o.value ?? '';
    const m = /^\s*\+?(\d+)$/.exec(raw);
    const n = m === null ? NaN : Number(m[1]);
    if (!Number.isSafeInteger(n) || n > 0xffffffff) {
      this.ctl.error(`Numeric value '${raw}' for <${name}> option is malformed or out of range`);
      throw new CmdFailed();
    }
    return n;
  }

  /** vshCommandOptInt: a signed 32-bit number. */
  int(name: string): number | undefined {
    const o = this.find(name);
    if (o === undefined) return undefined;
    const raw = o.value ?? '';
    const m = /^\s*([+-]?\d+)$/.exec(raw);
    const n = m === null ? NaN : Number(m[1]);
    if (!Number.isSafeInteger(n) || n > 0x7fffffff || n < -0x80000000) {
      this.ctl.error(`Numeric value '${raw}' for <${name}> option is malformed or out of range`);
      throw new CmdFailed();
    }
    return n;
  }

  /** Every value of an argv option, in order (vshCommandOptArgv). */
  argv(name: string): string[] {
    return this.parsed.opts.filter((o) => o.def.name === name && o.value !== null).map((o) => o.value as string);
  }

  /** VSH_EXCLUSIVE_OPTIONS. */
  exclusive(a: string, b: string): void {
    if (this.bool(a) && this.bool(b)) {
      this.ctl.error(`Options --${a} and --${b} are mutually exclusive`);
      throw new CmdFailed();
    }
  }

  /** VSH_REQUIRE_OPTION: `a` needs `b`. */
  requires(a: string, b: string): void {
    if (this.bool(a) && !this.bool(b)) {
      this.ctl.error(`Option --${b} is required by option --${a}`);
      throw new CmdFailed();
    }
  }

  /** virshCommandOptDomain: looks up the `domain` argument. */
  async domain(by: number = BY_ANY): Promise<{ dom: Domain; name: string }> {
    const name = this.domainArg();
    this.ctl.debugMsg(Level.INFO, `${this.name}: found option <domain>: ${name}\n`);
    const dom = await this.ctl.lookupDomain(name, by);
    return { dom, name };
  }
}

/** A command handler: true on success (virsh's handler return value). */
export type Handler = (ctl: Ctl, cmd: Cmd) => Promise<boolean>;
