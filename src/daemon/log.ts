/**
 * tsvirtd's logger: one line per record on stderr (or a file), in libvirt's log layout
 * (`TIME: PID: LEVEL : message`). No logging library is a dependency of tsvirt, so this small
 * one stands in; the level comes from --verbose or TSVIRTD_LOG_LEVEL (debug, info, warn, error).
 */
import { appendFileSync } from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 1, info: 2, warn: 3, error: 4 };

export class Logger {
  constructor(
    private level: LogLevel = 'info',
    private readonly file: string | null = null,
  ) {}

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
      if (this.file !== null) appendFileSync(this.file, line);
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
