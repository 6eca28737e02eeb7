/**
 * tsvirtd's logger: one line per record on stderr (or a file), in libvirt's log layout
 * (`TIME: PID: LEVEL : message`). No logging library is a dependency of tsvirt, so this small
 * one stands in; the level comes from --verbose or TSVIRTD_LOG_LEVEL (debug, info, warn, error).
 */
import { closeSync, constants as fsc, fstatSync, openSync, writeSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 1, info: 2, warn: 3, error: 4 };

export class Logger {
  private readonly fd: number | null;

  /**
   * Logs to stderr, or appends to `file` (created 0600; opened once, with openOwnedFile).
   * Throws an Error saying why a file is refused.
   */
  constructor(
    private level: LogLevel = 'info',
    file: string | null = null,
  ) {
    this.fd = file === null ? null : openOwnedFile(file, 'log file', fsc.O_APPEND, 0o600);
  }

  setLevel(level: LogLevel): void {
    this.level = level;
  }
  enabled(level: LogLevel): boolean {
    return ORDER[level] >= ORDER[this.level];
  }
  private write(level: LogLevel, msg: string): void {
    if (!this.enabled(level)) return;
    const line = `${new Date().toISOString()}: ${process.pid}: ${level} : ${msg}\n`;
    try {
      if (this.fd !== null) writeSync(this.fd, line);
      else process.stderr.write(line);
    } catch {
      // Logging must never take the daemon down.
    }
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
