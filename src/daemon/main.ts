#!/usr/bin/env -S node --min-semi-space-size=16
/**
 * tsvirtd: serves tsvirt's drivers over libvirt's remote protocol, so that virsh and
 * python-libvirt work against it unchanged.
 *
 *   tsvirtd [--socket-dir DIR] [--daemon] [--pidfile FILE] [--timeout SECONDS]
 *           [--uri URI]... [--log-file FILE] [--verbose] [--no-event-callbacks] [--help]
 *           [--max-clients N] [--max-readonly-clients N] [--max-client-requests N]
 *           [--max-event-callbacks N] [--max-client-streams N]   (limits: docs/security.md)
 *           [--http ADDR:PORT] [--http-tokens FILE] [--http-ui DIR]   (web console: docs/web.md)
 *           [--migration-address ADDR] [--migration-host HOST]   (QEMU migration: docs/migration.md)
 *
 * Sockets: DIR/libvirt-sock (read-write, 0600) and DIR/libvirt-sock-ro (read-only, 0666). DIR
 * must be the daemon's user's and writable by no one else (created 0755 if missing); one tsvirtd
 * per DIR, held by a lock on DIR/tsvirtd.lock. The default DIR is libvirt's: /run/libvirt for root, else $XDG_RUNTIME_DIR/libvirt, else
 * ~/.cache/libvirt. Clients connect with e.g. `virsh -c 'test+unix:///default?socket=DIR/libvirt-sock'`.
 * Runs in the foreground unless --daemon; stops cleanly on SIGTERM/SIGINT (guests keep running);
 * with --timeout N exits after N seconds without clients and without running guests, like
 * libvirt's session daemon. It serves the URIs of uris.ts's defaultServedURIs (qemu:///system for
 * root, qemu:///session otherwise, and the test driver) unless --uri lists others.
 * The first line gives Node the flags of node-flags.ts (run `node <those flags> main.js` to get
 * the same daemon without the bin).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, constants as fsc, ftruncateSync, lstatSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Daemon, MAX_CLIENTS, defaultSocketDir } from './server.js';
import { Logger, openOwnedFile, parseLogLevel } from './log.js';
import { UriPolicy, defaultServedURIs } from './uris.js';
import { DAEMON_NODE_FLAGS } from './node-flags.js';

interface Options {
  socketDir: string;
  daemon: boolean;
  pidfile: string | null;
  timeout: number;
  logFile: string | null;
  verbose: boolean;
  eventCallbacks: boolean;
  /** --uri, in order; empty for the defaults. */
  uris: string[];
  maxClients?: number;
  maxReadonlyClients?: number;
  maxClientRequests?: number;
  maxEventCallbacks?: number;
  maxClientStreams?: number;
  /** --http: where the web console listens; null for none. */
  http: { host: string; port: number } | null;
  /** --http-tokens: the web console's token file (default DIR/web-tokens). */
  httpTokens: string | null;
  /** --http-ui: the built UI (default: the package's dist/web when built). */
  httpUI: string | null;
}

const USAGE = `Usage: tsvirtd [options]
  --socket-dir DIR   directory of libvirt-sock and libvirt-sock-ro (default ${defaultSocketDir()})
  --daemon, -d       run in the background
  --pidfile FILE, -p write the daemon's PID to FILE (not a symbolic link)
  --timeout N, -t    exit after N seconds without clients and without running guests
  --uri URI          serve URI; repeat for each. Replaces the defaults (${defaultServedURIs().join(', ')}).
                     URI is SCHEME:///PATH (that host and path, any query) or SCHEME: (every URI of
                     the scheme, e.g. esx: or vbox:); never a remote URI (+unix, +tcp, …)
  --log-file FILE    log there instead of stderr (created 0600; not a symbolic link)
  --verbose, -v      debug logging
  --no-event-callbacks
                     answer feature REMOTE_EVENT_CALLBACK (14) as unsupported, as a libvirtd
                     older than 1.2.1 does: clients then use the legacy event procedures
                     (105-107); for testing older clients' path
  --max-clients N    most clients at once (libvirtd's max_clients; default 5000)
  --max-readonly-clients N
                     most clients at once on libvirt-sock-ro (default: max-clients less 20,
                     or half of it below 40), so the read-write socket always has room
  --max-client-requests N
                     calls of one client queued or in flight before its socket is no longer
                     read (libvirtd's max_client_requests; default 5)
  --max-event-callbacks N
                     event callbacks one client may register (default 1024)
  --max-client-streams N
                     streams (consoles, screenshots) one client may hold open (default 32)
  --http ADDR:PORT   serve the web console there (ADDR defaults to 127.0.0.1: give
                     0.0.0.0 or an address to reach it from elsewhere); prints its URL with
                     an admin token at start
  --http-tokens FILE the web console's tokens, one per line: "admin|readonly TOKEN [LABEL]"
                     (default DIR/web-tokens, created 0600); delete a line to revoke it
  --http-ui DIR      the built web UI to serve (default: the package's own)
  --migration-address ADDR
                     where incoming migrations listen (qemu.conf migration_address;
                     default every address)
  --migration-host HOST
                     the host name or address sources are told to send to
                     (qemu.conf migration_host; default this host's name)
  --help, -h         this text
`;

function parseArgs(argv: string[]): Options {
  const o: Options = { socketDir: defaultSocketDir(), daemon: false, pidfile: null, timeout: 0, logFile: null, verbose: false, eventCallbacks: true, uris: [], http: null, httpTokens: null, httpUI: null };
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
      case '--uri':
        o.uris.push(value());
        break;
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
      case '--max-clients':
        o.maxClients = positive(flag, value());
        break;
      case '--max-readonly-clients':
        o.maxReadonlyClients = positive(flag, value(), 0);
        break;
      case '--max-client-requests':
        o.maxClientRequests = positive(flag, value());
        break;
      case '--max-event-callbacks':
        o.maxEventCallbacks = positive(flag, value(), 0);
        break;
      case '--max-client-streams':
        o.maxClientStreams = positive(flag, value(), 0);
        break;
      case '--http':
        o.http = parseListen(value());
        break;
      case '--http-tokens':
        o.httpTokens = value();
        break;
      case '--http-ui':
        o.httpUI = value();
        break;
      // The QEMU driver reads these when it opens (docs/migration.md).
      case '--migration-address':
        process.env.TSVIRT_MIGRATION_ADDRESS = value();
        break;
      case '--migration-host':
        process.env.TSVIRT_MIGRATION_HOST = value();
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
  if (o.maxReadonlyClients !== undefined && o.maxReadonlyClients > (o.maxClients ?? MAX_CLIENTS)) {
    throw new Error('--max-readonly-clients cannot exceed --max-clients');
  }
  return o;
}

/** `--http`'s ADDR:PORT, `[V6]:PORT` or PORT (loopback). */
function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]:|([^:]*):)?(\d+)$/.exec(v);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || !Number.isInteger(port) || port > 65535) throw new Error(`--http ${v}: expected ADDR:PORT`);
  return { host: m[1] ?? (m[2] === undefined || m[2] === '' ? '127.0.0.1' : m[2]), port };
}

/** A whole number of at least `min` for `flag`. */
function positive(flag: string, v: string, min = 1): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min) throw new Error(`${flag} needs a whole number of at least ${min}`);
  return n;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether `pid` is a running tsvirtd, not a process that got a dead daemon's pid: its command
 * line names the bin or main.js. Without /proc, a live pid counts.
 */
function isTsvirtd(pid: number): boolean {
  if (!pidAlive(pid)) return false;
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some((a) => basename(a) === 'tsvirtd' || a.endsWith('daemon/main.js'));
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** The pid a pidfile holds, read without following a symlink; null if there is none or no number. */
function readPidfile(path: string): number | null {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new Error(`pidfile ${path} is a symbolic link: refusing it`, { cause: err });
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    const pid = Number(readFileSync(fd, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } finally {
    closeSync(fd);
  }
}

/** Refuses a pidfile that is a symlink or names another running tsvirtd. */
function checkPidfile(path: string): void {
  try {
    if (lstatSync(path).isSymbolicLink()) throw new Error(`pidfile ${path} is a symbolic link: refusing it`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const pid = readPidfile(path);
  if (pid !== null && pid !== process.pid && isTsvirtd(pid)) throw new Error(`another tsvirtd (pid ${pid}) holds ${path}`);
}

/** Writes our pid to the pidfile, through openOwnedFile (no symlink, our own regular file). */
function writePidfile(path: string): void {
  const fd = openOwnedFile(path, 'pidfile', 0, 0o644);
  try {
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
}

/**
 * The pipe a `--daemon` parent waits on (fd 3 of the detached child, named by TSVIRTD_READY_FD):
 * the child writes `ready`, or why it could not start, then closes it. Taken out of the
 * environment at once, so that no process the daemon starts inherits it.
 */
const READY_FD = 3;
let readyFd: number | null = process.env.TSVIRTD_READY_FD === String(READY_FD) ? READY_FD : null;
delete process.env.TSVIRTD_READY_FD;

function tellParent(message: string): void {
  if (readyFd === null) return;
  const fd = readyFd;
  readyFd = null;
  try {
    writeSync(fd, `${message}\n`);
    closeSync(fd);
  } catch {
    // The parent is gone.
  }
}

/**
 * Starts the web console (loaded only when asked for). Its URL, with a new admin token when the
 * token file had none, goes to standard output, never to the log: tokens are not logged.
 */
async function startWebConsole(opts: Options, uris: UriPolicy, daemon: Daemon, log: Logger): Promise<{ close(): Promise<void> }> {
  const { WebConsole } = await import('../web/server.js');
  const { WebTokens } = await import('../web/tokens.js');
  const { tokens, created } = WebTokens.open(opts.httpTokens ?? join(opts.socketDir, 'web-tokens'));
  const served = uris.exact();
  if (served.length === 0) throw new Error('--http needs at least one exact --uri (not a whole scheme)');
  let uiRoot = opts.httpUI;
  if (uiRoot === null) {
    const built = fileURLToPath(new URL('../../web/', import.meta.url));
    uiRoot = existsSync(join(built, 'index.html')) ? built.replace(/\/$/, '') : null;
  }
  const web = await WebConsole.start({
    host: opts.http!.host,
    port: opts.http!.port,
    tokens,
    uris: served,
    open: (uri, readonly) => daemon.openConnection(uri, readonly),
    uiRoot,
    log: (level, message) => log[level](message),
  });
  log.info(`web console on ${web.url()} (tokens in ${tokens.path})`);
  process.stdout.write(`tsvirtd web console: ${web.url(created ?? undefined)}${created === null ? ` (a token from ${tokens.path})` : ''}\n`);
  return web;
}

/** --daemon: re-runs tsvirtd detached, without --daemon, and waits until it is ready or has failed. */
async function daemonize(opts: Options): Promise<number> {
  const args = process.argv.slice(2).filter((a) => a !== '--daemon' && a !== '-d');
  let out: number | 'ignore' = 'ignore';
  if (opts.logFile !== null) {
    try {
      out = openOwnedFile(opts.logFile, 'log file', fsc.O_APPEND, 0o600);
    } catch (err) {
      process.stderr.write(`tsvirtd: ${(err as Error).message}\n`);
      return 1;
    }
  }
  const flags = [...process.execArgv, ...DAEMON_NODE_FLAGS.filter((f) => !process.execArgv.includes(f))];
  const child = spawn(process.execPath, [...flags, process.argv[1]!, ...args], {
    detached: true,
    stdio: ['ignore', out, out, 'pipe'],
    env: { ...process.env, TSVIRTD_DAEMONIZED: '1', TSVIRTD_READY_FD: String(READY_FD) },
  });
  child.unref();
  if (typeof out === 'number') closeSync(out);
  const pipe = child.stdio[READY_FD] as NodeJS.ReadableStream & { destroy(): void };
  let said = '';
  pipe.on('data', (b: Buffer) => (said += b.toString()));
  const ended = await Promise.race([
    new Promise<boolean>((resolve) => pipe.once('end', () => resolve(true))),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30_000).unref()),
  ]);
  pipe.destroy();
  if (ended && said.trim() === 'ready') return 0;
  const why = said.trim() !== '' ? said.trim() : ended ? 'it exited' : 'no answer in 30 s';
  process.stderr.write(`tsvirtd: the daemon did not start: ${why}\n`);
  return 1;
}

async function main(): Promise<number> {
  let opts: Options;
  let uris: UriPolicy;
  try {
    opts = parseArgs(process.argv.slice(2));
    uris = new UriPolicy(opts.uris.length > 0 ? opts.uris : defaultServedURIs());
  } catch (err) {
    process.stderr.write(`tsvirtd: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }

  if (opts.daemon) return daemonize(opts);

  const level = opts.verbose ? 'debug' : (parseLogLevel(process.env.TSVIRTD_LOG_LEVEL) ?? 'info');
  let log: Logger;
  try {
    log = new Logger(level, opts.logFile);
  } catch (err) {
    process.stderr.write(`tsvirtd: ${(err as Error).message}\n`);
    tellParent((err as Error).message);
    return 1;
  }

  if (opts.pidfile !== null) {
    try {
      checkPidfile(opts.pidfile);
    } catch (err) {
      log.error(`cannot start: ${(err as Error).message}`);
      tellParent((err as Error).message);
      await log.close();
      return 1;
    }
  }

  let finished: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finished = resolve));
  const daemon = new Daemon({
    socketDir: opts.socketDir,
    log,
    timeoutSeconds: opts.timeout,
    onIdle: () => void stop(0),
    eventCallbacks: opts.eventCallbacks,
    maxClients: opts.maxClients,
    maxReadonlyClients: opts.maxReadonlyClients,
    maxClientRequests: opts.maxClientRequests,
    maxEventCallbacks: opts.maxEventCallbacks,
    maxClientStreams: opts.maxClientStreams,
    uris,
  });
  let stopping = false;
  let wrotePidfile = false;
  let web: { close(): Promise<void> } | null = null;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info('stopping');
    await web?.close().catch((err: unknown) => log.error(`web console: ${(err as Error).message}`));
    await daemon.stop().catch((err: unknown) => log.error(`stop: ${(err as Error).message}`));
    if (opts.pidfile !== null && wrotePidfile) {
      try {
        if (readPidfile(opts.pidfile) === process.pid) unlinkSync(opts.pidfile);
      } catch {
        // Gone already, or no longer ours.
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
    if (opts.pidfile !== null) {
      writePidfile(opts.pidfile);
      wrotePidfile = true;
    }
  } catch (err) {
    log.error(`cannot start: ${(err as Error).message}`);
    tellParent((err as Error).message);
    await daemon.stop().catch(() => {});
    await log.close();
    return 1;
  }
  if (opts.http !== null) {
    try {
      web = await startWebConsole(opts, uris, daemon, log);
    } catch (err) {
      log.error(`cannot start the web console: ${(err as Error).message}`);
      tellParent((err as Error).message);
      await daemon.stop().catch(() => {});
      await log.close();
      return 1;
    }
  }
  log.info(`serving ${uris.describe()}`);
  log.info(`tsvirtd ${process.pid} ready`);
  tellParent('ready');
  const code = await done;
  // The log is written asynchronously: what is queued goes out before the process exits.
  await log.close();
  return code;
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
