/**
 * tsvirtd's logger: one line per record on stderr (or a file), in libvirt's log layout
 * (`TIME: PID: LEVEL : message`). No logging library is a dependency of tsvirt, so this small
 * one stands in; the level comes from --verbose or TSVIRTD_LOG_LEVEL (debug, info, warn, error).
 *
 * Clients choose what gets logged (every unknown procedure on the read-only socket is a line),
 * so a client must not be able to stall the daemon or fill the disk through the log:
 * - lines are written asynchronously, in order, from a bounded queue (past LOG_QUEUE_BYTES they
 *   are dropped and counted), so a slow disk or a full stderr pipe never blocks the event loop;
 * - info, warn and error lines are rate-limited per kind (the message with its numbers masked,
 *   so `client 7: unknown procedure 9999` is one kind for every client and number): at most
 *   LOG_LINES_PER_SECOND a second each and LOG_TOTAL_PER_SECOND in all, then one line per kind
 *   saying how many were suppressed. Debug lines, which the operator asks for, are not limited.
 */
import { closeSync, constants as fsc, fstatSync, openSync, write, writeSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 1, info: 2, warn: 3, error: 4 };

/** Lines of one kind written per second; the rest are counted and reported. */
export const LOG_LINES_PER_SECOND = 20;
/** Kinds tracked per second; further kinds share one budget. */
const MAX_KINDS = 100;
/** Lines of all kinds written per second (a client can vary a message's text, so its kind). */
export const LOG_TOTAL_PER_SECOND = 200;
/** Bytes waiting to be written before further lines are dropped. */
export const LOG_QUEUE_BYTES = 4 * 1024 * 1024;

interface KindCount {
  level: LogLevel;
  sample: string;
  written: number;
  suppressed: number;
}

export class Logger {
  private readonly fd: number;
  private readonly ownsFd: boolean;
  /** Lines waiting to be written, and their size. */
  private queue: string[] = [];
  private queued = 0;
  /** A drain is scheduled or running. */
  private writing = false;
  /** A write is in libuv's thread pool: until it returns, nothing else may be written. */
  private inFlight = false;
  private dropped = 0;
  private closed = false;
  private flushed: (() => void)[] = [];
  /** The rate limiter's second, and what each kind used of it. */
  private second = 0;
  private kinds = new Map<string, KindCount>();
  private writtenThisSecond = 0;
  private reportTimer: NodeJS.Timeout | undefined;

  /**
   * Logs to stderr, or appends to `file` (created 0600; opened once, with openOwnedFile).
   * Throws an Error saying why a file is refused.
   */
  constructor(
    private level: LogLevel = 'info',
    file: string | null = null,
  ) {
    this.ownsFd = file !== null;
    this.fd = file === null ? 2 : openOwnedFile(file, 'log file', fsc.O_APPEND, 0o600);
  }

  setLevel(level: LogLevel): void {
    this.level = level;
  }
  enabled(level: LogLevel): boolean {
    return ORDER[level] >= ORDER[this.level];
  }
  private write(level: LogLevel, msg: string): void {
    if (!this.enabled(level) || this.closed) return;
    if (level !== 'debug' && !this.admit(level, msg)) return;
    this.enqueue(level, msg);
  }

  /** Counts the line against its kind's budget for this second; false when it is over. */
  private admit(level: LogLevel, msg: string): boolean {
    const now = Math.floor(Date.now() / 1000);
    if (now !== this.second) {
      this.reportSuppressed();
      this.second = now;
    }
    let key = `${level} ${msg.replace(/\d+/g, '#')}`;
    if (!this.kinds.has(key) && this.kinds.size >= MAX_KINDS) key = `${level} (other messages)`;
    let k = this.kinds.get(key);
    if (k === undefined) {
      k = { level, sample: key.slice(level.length + 1), written: 0, suppressed: 0 };
      this.kinds.set(key, k);
    }
    if (k.written < LOG_LINES_PER_SECOND && this.writtenThisSecond < LOG_TOTAL_PER_SECOND) {
      k.written++;
      this.writtenThisSecond++;
      return true;
    }
    k.suppressed++;
    // The count is reported when the second is over, even if no other line comes.
    this.reportTimer ??= setTimeout(() => {
      this.reportTimer = undefined;
      this.reportSuppressed();
    }, 1000 - (Date.now() % 1000) + 1).unref();
    return false;
  }

  private reportSuppressed(): void {
    if (this.reportTimer !== undefined) {
      clearTimeout(this.reportTimer);
      this.reportTimer = undefined;
    }
    for (const k of this.kinds.values()) {
      if (k.suppressed > 0) this.enqueue(k.level, `suppressed ${k.suppressed} messages like: ${k.sample}`);
    }
    this.kinds = new Map();
    this.writtenThisSecond = 0;
  }

  private enqueue(level: LogLevel, msg: string): void {
    const line = `${new Date().toISOString()}: ${process.pid}: ${level} : ${msg}\n`;
    if (this.queued + line.length > LOG_QUEUE_BYTES) {
      this.dropped++;
      return;
    }
    if (this.dropped > 0) {
      const note = `${new Date().toISOString()}: ${process.pid}: warn : log writer behind: dropped ${this.dropped} lines\n`;
      this.dropped = 0;
      this.queue.push(note);
      this.queued += note.length;
    }
    this.queue.push(line);
    this.queued += line.length;
    if (!this.writing) {
      this.writing = true;
      setImmediate(() => this.drain());
    }
  }

  /** Writes the queue out, one write at a time, in order. Never throws. */
  private drain(): void {
    if (this.queue.length === 0 || (this.closed && !this.inFlight)) {
      this.writing = false;
      for (const f of this.flushed.splice(0)) f();
      return;
    }
    const buf = Buffer.from(this.queue.join(''));
    this.queue = [];
    this.queued = 0;
    this.writeOut(buf);
  }

  private writeOut(buf: Buffer): void {
    this.inFlight = true;
    write(this.fd, buf, 0, buf.length, null, (err, n) => {
      this.inFlight = false;
      if (err !== null) {
        // stderr may be a non-blocking pipe: try again shortly. Anything else: the lines are
        // lost, as logging must never take the daemon down.
        if (err.code === 'EAGAIN') {
          this.inFlight = true;
          setTimeout(() => {
            this.inFlight = false;
            this.writeOut(buf);
          }, 10);
        } else this.drain();
        return;
      }
      if (n < buf.length) this.writeOut(buf.subarray(n));
      else this.drain();
    });
  }

  /**
   * Writes what is queued (and the count of what was suppressed) and closes the log file. Later
   * lines are discarded. Resolves once everything is written; when no write is in flight, that
   * is done before it returns (synchronously), so a caller about to exit may skip the wait.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.reportSuppressed();
    this.closed = true;
    const finish = (): void => {
      const rest = this.queue.join('');
      this.queue = [];
      this.queued = 0;
      try {
        if (rest !== '') writeSync(this.fd, rest);
      } catch {
        // Logging must never take the daemon down.
      }
      if (this.ownsFd) closeSync(this.fd);
    };
    if (!this.inFlight) {
      finish();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) =>
      this.flushed.push(() => {
        finish();
        resolve();
      }),
    );
  }

  debug(msg: string): void {
    this.write('debug', msg);
  }
  info(msg: string): void {
    this.write('info', msg);
  }
  warn(msg: string): void {
    this.write('warn', msg);
  }
  error(msg: string): void {
    this.write('error', msg);
  }
}

export function parseLogLevel(s: string | undefined): LogLevel | null {
  return s === 'debug' || s === 'info' || s === 'warn' || s === 'error' ? s : null;
}

/**
 * Opens `path` write-only for the daemon's own use (its log file, its pidfile), creating it with
 * `mode`, without following a symbolic link (O_NOFOLLOW: a symlink, even a dangling one, is
 * refused) nor blocking on a FIFO (O_NONBLOCK). It must then be a regular file of the daemon's
 * user with a single link, so that neither a symlink nor a hard link planted by another user
 * (say in /tmp) makes tsvirtd write to a file of theirs or of root's. `flags` adds e.g. O_APPEND.
 * Returns the descriptor; throws an Error naming `what` and the reason.
 */
export function openOwnedFile(path: string, what: string, flags: number, mode: number): number {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_NOFOLLOW | fsc.O_NONBLOCK | flags, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new Error(`${what} ${path} is a symbolic link: refusing it`, { cause: err });
    throw new Error(`${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    const me = process.geteuid?.() ?? 0;
    if (!st.isFile()) throw new Error(`${what} ${path} is not a regular file: refusing it`);
    if (st.uid !== me) throw new Error(`${what} ${path} is owned by uid ${st.uid}, not by tsvirtd's uid ${me}: refusing it`);
    if (st.nlink !== 1) throw new Error(`${what} ${path} has ${st.nlink} hard links: refusing it`);
    return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
