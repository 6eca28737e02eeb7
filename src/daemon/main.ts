#!/usr/bin/env -S node --min-semi-space-size=16
/**
 * tsvirtd: serves tsvirt's drivers over libvirt's remote protocol, so that virsh and
 * python-libvirt work against it unchanged.
 *
 *   tsvirtd [--socket-dir DIR] [--daemon] [--pidfile FILE] [--timeout SECONDS]
 *           [--log-file FILE] [--verbose] [--no-event-callbacks] [--help]
 *
 * Sockets: DIR/libvirt-sock (read-write, 0600) and DIR/libvirt-sock-ro (read-only, 0666).
 * The default DIR is libvirt's: /run/libvirt for root, else $XDG_RUNTIME_DIR/libvirt, else
 * ~/.cache/libvirt. Clients connect with e.g. `virsh -c 'test+unix:///default?socket=DIR/libvirt-sock'`.
 * Runs in the foreground unless --daemon; stops cleanly on SIGTERM/SIGINT (guests keep running);
 * with --timeout N exits after N seconds without clients, like libvirt's session daemon.
 * The first line gives Node the flags of node-flags.ts (run `node <those flags> main.js` to get
 * the same daemon without the bin).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, unlinkSync, writeFileSync, openSync } from 'node:fs';
import { Daemon, defaultSocketDir } from './server.js';
import { Logger, parseLogLevel } from './log.js';
import { DAEMON_NODE_FLAGS } from './node-flags.js';

interface Options {
  socketDir: string;
  daemon: boolean;
  pidfile: string | null;
  timeout: number;
  logFile: string | null;
  verbose: boolean;
  eventCallbacks: boolean;
}

const USAGE = `Usage: tsvirtd [options]
  --socket-dir DIR   directory of libvirt-sock and libvirt-sock-ro (default ${defaultSocketDir()})
  --daemon, -d       run in the background
  --pidfile FILE, -p write the daemon's PID to FILE
  --timeout N, -t    exit after N seconds without clients
  --log-file FILE    log there instead of stderr
  --verbose, -v      debug logging
  --no-event-callbacks
                     answer feature REMOTE_EVENT_CALLBACK (14) as unsupported, as a libvirtd
                     older than 1.2.1 does: clients then use the legacy event procedures
                     (105-107); for testing older clients' path
  --help, -h         this text
`;

function parseArgs(argv: string[]): Options {
  const o: Options = { socketDir: defaultSocketDir(), daemon: false, pidfile: null, timeout: 0, logFile: null, verbose: false, eventCallbacks: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--socket-dir':
        o.socketDir = value();
        break;
      case '--daemon':
      case '-d':
        o.daemon = true;
        break;
      case '--pidfile':
      case '-p':
        o.pidfile = value();
        break;
      case '--timeout':
      case '-t': {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 0) throw new Error('--timeout needs a whole number of seconds');
        o.timeout = n;
        break;
      }
      case '--log-file':
        o.logFile = value();
        break;
      case '--verbose':
      case '-v':
        o.verbose = true;
        break;
      case '--no-event-callbacks':
        o.eventCallbacks = false;
        break;
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a}`);
    }
  }
  return o;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return check();
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`tsvirtd: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }

  if (opts.daemon) {
    // Re-run ourselves detached, without --daemon, and wait until it listens.
    const args = process.argv.slice(2).filter((a) => a !== '--daemon' && a !== '-d');
    const out = opts.logFile !== null ? openSync(opts.logFile, 'a') : 'ignore';
    const flags = [...process.execArgv, ...DAEMON_NODE_FLAGS.filter((f) => !process.execArgv.includes(f))];
    const child = spawn(process.execPath, [...flags, process.argv[1]!, ...args], {
      detached: true,
      stdio: ['ignore', out, out],
      env: { ...process.env, TSVIRTD_DAEMONIZED: '1' },
    });
    child.unref();
    const sock = `${opts.socketDir}/libvirt-sock`;
    const ready = await waitFor(() => existsSync(sock) && (opts.pidfile === null || existsSync(opts.pidfile)), 10_000);
    if (!ready) {
      process.stderr.write('tsvirtd: the daemon did not start\n');
      return 1;
    }
    return 0;
  }

  const level = opts.verbose ? 'debug' : (parseLogLevel(process.env.TSVIRTD_LOG_LEVEL) ?? 'info');
  const log = new Logger(level, opts.logFile);

  if (opts.pidfile !== null && existsSync(opts.pidfile)) {
    const pid = Number(readFileSync(opts.pidfile, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
      log.error(`another tsvirtd (pid ${pid}) holds ${opts.pidfile}`);
      return 1;
    }
  }

  let finished: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finished = resolve));
  const daemon = new Daemon({ socketDir: opts.socketDir, log, timeoutSeconds: opts.timeout, onIdle: () => void stop(0), eventCallbacks: opts.eventCallbacks });
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info('stopping');
    await daemon.stop().catch((err: unknown) => log.error(`stop: ${(err as Error).message}`));
    if (opts.pidfile !== null) {
      try {
        if (readFileSync(opts.pidfile, 'utf8').trim() === String(process.pid)) unlinkSync(opts.pidfile);
      } catch {
        // Gone already.
      }
    }
    finished(code);
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  process.on('SIGHUP', () => log.info('SIGHUP: nothing to reload'));
  process.on('SIGPIPE', () => {});

  try {
    await daemon.start();
  } catch (err) {
    log.error(`cannot start: ${(err as Error).message}`);
    await daemon.stop().catch(() => {});
    return 1;
  }
  if (opts.pidfile !== null) writeFileSync(opts.pidfile, `${process.pid}\n`);
  log.info(`tsvirtd ${process.pid} ready`);
  return done;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Handles left by drivers (timers, databases) must not keep a stopped daemon alive.
    setTimeout(() => process.exit(code), 50).unref();
  },
  (err: unknown) => {
    process.stderr.write(`tsvirtd: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  },
);
