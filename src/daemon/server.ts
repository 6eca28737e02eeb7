/**
 * tsvirtd's server: the socket directory and its lock, the two unix sockets in it, the clients,
 * the idle timer and a clean stop. Embeddable and used by main.ts.
 *
 * The socket directory must belong to the daemon's user and be writable by nobody else (a
 * symbolic link is refused): whoever can write it could put their own listener or a symlink where
 * the sockets go. The sockets get their modes from the umask at bind, as libvirt's do, never from
 * a chmod by path. One tsvirtd per directory: see acquireDirLock.
 */
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { closeSync, constants as fsc, fchmodSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, unlinkSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { Client } from './client.js';
import { ConnectionFactory } from './connections.js';
import { Logger } from './log.js';
import { UriPolicy } from './uris.js';
import { TlsListener, type TlsListenOptions } from './tls-listener.js';
import { RO_SOCKET, RW_SOCKET } from '../core/paths.js';
import type { Connection } from '../index.js';

export { RO_SOCKET, RW_SOCKET, defaultSocketDir } from '../core/paths.js';

/** The lock file in the socket directory (see acquireDirLock). */
export const LOCK_FILE = 'tsvirtd.lock';

export interface DaemonOptions {
  socketDir: string;
  log?: Logger;
  /**
   * Exit (call onIdle) after this many seconds without clients and without running guests of
   * the served qemu URIs; 0 = never.
   */
  timeoutSeconds?: number;
  onIdle?: () => void;
  keepaliveIntervalMs?: number;
  keepaliveCount?: number;
  /** Advertise feature REMOTE_EVENT_CALLBACK (default true); see ClientOptions.eventCallbacks. */
  eventCallbacks?: boolean;
  /** Most clients at once; more are refused (libvirtd's max_clients, 5000). */
  maxClients?: number;
  /** The URIs served (default: defaultServedURIs() of the daemon's user); see uris.ts. */
  uris?: UriPolicy;
  /**
   * Most clients at once on the read-only socket (default: maxClients less a reserve, see
   * defaultMaxReadonlyClients), so that anyone who can reach the 0666 socket cannot take every
   * slot and lock the read-write socket's users out.
   */
  maxReadonlyClients?: number;
  /** Calls of one client queued or in flight (libvirtd's max_client_requests, 5). */
  maxClientRequests?: number;
  /** Event callbacks one client may register (see MAX_EVENT_CALLBACKS). */
  maxEventCallbacks?: number;
  /** Streams one client may hold open (see MAX_CLIENT_STREAMS). */
  maxClientStreams?: number;
  /**
   * libvirt's modular daemon names (`virtqemud`, …) whose sockets this daemon also binds in the
   * socket directory, NAME-sock read-write and NAME-sock-ro read-only: virt-ssh-helper and
   * libvirt's local clients go to such a socket instead of libvirt-sock when it exists.
   */
  modularNames?: string[];
  /** Listen for TLS too (libvirtd's --listen with listen_tls): see tls-listener.ts. */
  tls?: TlsListenOptions;
}

/** libvirtd's max_clients. */
export const MAX_CLIENTS = 5000;
/** Slots the read-write socket keeps for itself at most (see defaultMaxReadonlyClients). */
export const RW_RESERVED_CLIENTS = 20;

/** The read-only socket's share of `maxClients`: all but 20, or half when there are fewer than 40. */
export function defaultMaxReadonlyClients(maxClients: number): number {
  return maxClients - Math.min(RW_RESERVED_CLIENTS, Math.floor(maxClients / 2));
}

export class Daemon {
  private readonly log: Logger;
  private readonly servers: Server[] = [];
  private readonly clients = new Set<Client>();
  /** Clients accepted on the read-only socket, counted apart for their limit. */
  private readonlyClients = 0;
  private readonly maxClients: number;
  private readonly maxReadonlyClients: number;
  /** When a refusal was last logged, and how many went unlogged since (a flood logs once a second). */
  private refusalLogged = 0;
  private refusalsUnlogged = 0;
  private readonly factory: ConnectionFactory;
  private nextClientID = 1;
  private idleTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private lock: { release(): void } | undefined;
  private tlsListener: TlsListener | null = null;
  /** The sockets this process bound, by inode: stop() removes those and nothing else. */
  private readonly bound: { path: string; dev: number; ino: number }[] = [];
  readonly rwPath: string;
  readonly roPath: string;

  constructor(private readonly opts: DaemonOptions) {
    this.log = opts.log ?? new Logger('info');
    this.factory = new ConnectionFactory(opts.uris);
    this.rwPath = join(opts.socketDir, RW_SOCKET);
    this.roPath = join(opts.socketDir, RO_SOCKET);
    let maxClients = opts.maxClients ?? MAX_CLIENTS;
    // Out of descriptors, accept() fails for both sockets alike and the reserve is worth
    // nothing: the limits must fit in the open-file limit (Node raises its soft limit to the hard).
    const files = openFileLimit();
    if (files !== null && maxClients > files - FD_HEADROOM) {
      const fit = Math.max(1, files - FD_HEADROOM);
      this.log.warn(`max_clients ${maxClients} does not fit the open-file limit ${files}; serving at most ${fit} clients`);
      maxClients = fit;
    }
    this.maxClients = maxClients;
    this.maxReadonlyClients = Math.min(this.maxClients, opts.maxReadonlyClients ?? defaultMaxReadonlyClients(this.maxClients));
  }

  /** The TLS port bound (0 without --listen). */
  tlsPort(): number {
    return this.tlsListener?.port() ?? 0;
  }

  /** TLS connections still in the handshake. */
  tlsPending(): number {
    return this.tlsListener?.pendingCount() ?? 0;
  }

  /** Number of connected clients. */
  clientCount(): number {
    return this.clients.size;
  }

  /**
   * Opens a connection to `uri` on the daemon's shared drivers, as a client's would be (the web
   * console's). Errors: VIR_ERR_NO_CONNECT for an URI the daemon does not serve; connect()'s.
   */
  async openConnection(uri: string, readonly: boolean): Promise<Connection> {
    return (await this.factory.open(uri, readonly)).connection;
  }

  /** The drivers open for the clients, by canonical URI, each with its number of clients. */
  driverUsage(): Map<string, number> {
    return this.factory.pool.usage();
  }

  /**
   * Checks (or creates, 0755) the socket directory, takes its lock and listens on both sockets:
   * libvirt-sock 0600, libvirt-sock-ro 0666.
   *
   * Prerequisites: no file work of this process is in flight in libuv's thread pool while
   * start() runs (the umask is process-wide; see listenWithUmask), and not in a worker thread
   * (process.umask).
   * On success both sockets answer and the lock is held until stop().
   * On failure it throws an Error saying why (the directory is another user's, writable by group
   * or others, a symbolic link; another tsvirtd holds it; a socket path is not a socket or
   * answers); call stop() to drop what was bound and the lock. It never removes a socket another
   * process is listening on.
   */
  async start(): Promise<void> {
    const dir = this.opts.socketDir;
    const checked = prepareSocketDir(dir);
    this.lock = await acquireDirLock(dir);
    const modular = (this.opts.modularNames ?? []).flatMap((name) => [
      [join(dir, `${name}-sock`), false, 0o600],
      [join(dir, `${name}-sock-ro`), true, 0o666],
    ] as const);
    for (const [path, readonly, mode] of [
      [this.rwPath, false, 0o600],
      [this.roPath, true, 0o666],
      ...modular,
    ] as const) {
      await removeStaleSocket(path);
      const server = createServer((socket) => this.accept(socket, readonly));
      server.on('error', (err) => this.log.error(`listener ${path}: ${err.message}`));
      await listenWithUmask(server, path, 0o777 & ~mode);
      this.servers.push(server);
      // What now sits at the path must be the socket just bound, with its mode from the umask.
      const st = lstatSync(path);
      if (!st.isSocket() || st.uid !== checked.uid) throw new Error(`${path} was replaced while tsvirtd bound it`);
      this.bound.push({ path, dev: st.dev, ino: st.ino });
      if ((st.mode & 0o777) !== mode) throw new Error(`${path} has mode ${octal(st.mode)} after bind, not ${octal(mode)}`);
      this.log.info(`listening on ${path}${readonly ? ' (read-only)' : ''}`);
    }
    // The directory checked at first is still the one at that path (its parent may be writable by others).
    const now = lstatSync(dir);
    if (now.dev !== checked.dev || now.ino !== checked.ino) throw new Error(`socket directory ${dir} was replaced while tsvirtd started`);
    if (this.opts.tls !== undefined) {
      const listener = new TlsListener(this.opts.tls, {
        log: this.log,
        // Clients in the handshake count against max_clients too, so they cannot push it past.
        roomFor: (pending) => !this.stopping && this.clients.size + pending < this.maxClients,
        refused: (msg) => this.logRefusal(msg),
        accept: (socket) => this.accept(socket, false),
      });
      this.tlsListener = listener;
      await listener.start();
    }
    // As libvirtd's, the qemu drivers open now (if they have a store): the first open since boot
    // starts the autostart domains, and the daemon then holds the drivers of running guests.
    try {
      const running = await this.factory.runningGuests();
      if (running > 0) this.log.info(`${running} guest(s) running`);
    } catch (err) {
      this.log.warn(`cannot open the qemu drivers: ${(err as Error).message}`);
    }
    this.armIdleTimer();
  }

  private accept(socket: Socket, readonly: boolean): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    // Refused by closing at once, as libvirtd does, before anything is read or allocated.
    const full = this.clients.size >= this.maxClients;
    if (full || (readonly && this.readonlyClients >= this.maxReadonlyClients)) {
      socket.destroy();
      this.logRefusal(full ? `Too many active clients (${this.clients.size}), dropping connection` : `Too many active read-only clients (${this.readonlyClients}), dropping connection`);
      return;
    }
    if (this.idleTimer !== undefined) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    const client = new Client({
      id: this.nextClientID++,
      socket,
      readonlySocket: readonly,
      factory: this.factory,
      log: this.log,
      keepaliveIntervalMs: this.opts.keepaliveIntervalMs,
      keepaliveCount: this.opts.keepaliveCount,
      eventCallbacks: this.opts.eventCallbacks,
      maxClientRequests: this.opts.maxClientRequests,
      maxEventCallbacks: this.opts.maxEventCallbacks,
      maxStreams: this.opts.maxClientStreams,
      onClose: (c) => {
        if (this.clients.delete(c) && readonly) this.readonlyClients--;
        this.armIdleTimer();
      },
    });
    this.clients.add(client);
    if (readonly) this.readonlyClients++;
    this.log.debug(`client ${client.id} connected${readonly ? ' (read-only socket)' : ''}`);
  }

  private logRefusal(msg: string): void {
    const now = Date.now();
    if (now - this.refusalLogged < 1000) {
      this.refusalsUnlogged++;
      return;
    }
    const more = this.refusalsUnlogged > 0 ? ` (${this.refusalsUnlogged} more refused since the last report)` : '';
    this.refusalLogged = now;
    this.refusalsUnlogged = 0;
    this.log.warn(`${msg}${more}`);
  }

  private armIdleTimer(): void {
    const timeout = this.opts.timeoutSeconds ?? 0;
    if (timeout <= 0 || this.stopping || this.clients.size > 0 || this.idleTimer !== undefined) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      void this.idleCheck(timeout);
    }, timeout * 1000);
  }

  /**
   * The idle timer's end: exits unless a client came meanwhile or a guest of a served qemu URI
   * runs, in which case the timer starts again (as libvirtd's session daemon does not exit while
   * its domains run).
   */
  private async idleCheck(timeout: number): Promise<void> {
    if (this.clients.size > 0 || this.stopping) return;
    let running = 0;
    try {
      running = await this.factory.runningGuests();
    } catch (err) {
      // A store that cannot be opened holds no guest the daemon could manage.
      this.log.warn(`cannot tell whether guests run: ${(err as Error).message}`);
    }
    if (this.clients.size > 0 || this.stopping) return;
    if (running > 0) {
      this.log.debug(`no clients for ${timeout} s, but ${running} guest(s) running; staying`);
      this.armIdleTimer();
      return;
    }
    this.log.info(`no clients for ${timeout} s; exiting`);
    this.opts.onIdle?.();
  }

  /**
   * Stops listening, drops every client (closing its connection), removes the sockets this
   * process bound (only if they are still the ones it bound) and releases the directory's lock.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    // server.close() completes only once every connection is gone: drop the clients meanwhile.
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    if (this.tlsListener !== null) closed.push(this.tlsListener.close());
    await Promise.all([...this.clients].map((c) => c.shutdown('daemon stopping')));
    await this.factory.releaseGuestHolds();
    await Promise.all(closed);
    for (const { path, dev, ino } of this.bound) {
      try {
        const st = lstatSync(path);
        if (st.dev === dev && st.ino === ino) unlinkSync(path);
      } catch {
        // Already gone.
      }
    }
    // Released last: until the sockets are gone no other tsvirtd may start binding them.
    this.lock?.release();
    this.lock = undefined;
  }
}

/** Descriptors left for the daemon's own use (stores, log, lock, guests' monitors) beside its clients. */
const FD_HEADROOM = 256;

/** The soft limit on open files (RLIMIT_NOFILE) from /proc; null when unknown or unlimited. */
function openFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`;
}

function euid(): number {
  return process.geteuid?.() ?? 0;
}

/**
 * Checks the socket directory, creating it (0755) if it is missing: it must be a directory, not a
 * symbolic link, owned by the daemon's user and writable by nobody else. Returns its identity,
 * for checking after bind that the path still names it.
 *
 * Missing parents are created like `mkdir -p` (0755 less the umask), as libvirt creates its run
 * directory's; their modes are left alone, and they are not checked, as libvirt does not either.
 * The directory itself is made 0755 (its mode set on the opened descriptor, whatever the umask),
 * so that other users reach the 0666 read-only socket, as with libvirt's /run/libvirt.
 */
function prepareSocketDir(dir: string): { dev: number; ino: number; uid: number } {
  let created = false;
  const before = lstatSync(dir, { throwIfNoEntry: false });
  if (before?.isSymbolicLink() === true) throw new Error(`socket directory ${dir} is a symbolic link: refusing it`);
  if (before === undefined) {
    mkdirSync(dirname(dir), { recursive: true, mode: 0o755 });
    try {
      mkdirSync(dir, { mode: 0o755 });
      created = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  let fd: number;
  try {
    fd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
  } catch (err) {
    // A symlink swapped in after the lstat: ELOOP, or ENOTDIR with O_DIRECTORY.
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new Error(`socket directory ${dir} is a symbolic link: refusing it`, { cause: err });
    if (code === 'ENOTDIR') throw new Error(`socket directory ${dir} is not a directory`, { cause: err });
    throw err;
  }
  try {
    const me = euid();
    let st: Stats = fstatSync(fd);
    if (created && st.uid === me) {
      fchmodSync(fd, 0o755);
      st = fstatSync(fd);
    }
    if (st.uid !== me) throw new Error(`socket directory ${dir} is owned by uid ${st.uid}, not by tsvirtd's uid ${me}: refusing it`);
    if ((st.mode & 0o022) !== 0) throw new Error(`socket directory ${dir} is writable by group or others (mode ${octal(st.mode)}): refusing it`);
    return { dev: st.dev, ino: st.ino, uid: me };
  } finally {
    closeSync(fd);
  }
}

/**
 * Takes the socket directory's lock: one tsvirtd per directory. The lock is an fcntl write lock
 * on DIR/tsvirtd.lock, as libvirtd's on its pidfile (virPidFileAcquire): the kernel drops it
 * when the process dies however it dies, so there is never a stale lock to judge, no pid to
 * reuse and no window where two daemons both find the previous one dead. Node has no fcntl;
 * SQLite takes exactly that lock (its unix VFS), so the file is opened as an SQLite database and
 * held in a never-ending `BEGIN EXCLUSIVE` with `timeout: 0`: a second daemon gets SQLITE_BUSY
 * at once. The file is 0600 in a directory only we can write, so no other user can open it to
 * take a read lock that would block us. It is never removed: unlinking a lock file lets a
 * daemon that opened the old inode and one that creates a new file both "hold" the lock.
 *
 * With the lock held, a socket file in the directory is no live tsvirtd's, so a stale one left
 * by a crash is removed (removeStaleSocket still refuses one that answers: another kind of
 * daemon may listen there).
 */
async function acquireDirLock(dir: string): Promise<{ release(): void }> {
  const path = join(dir, LOCK_FILE);
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW | fsc.O_NONBLOCK, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new Error(`${path} is a symbolic link: refusing it`, { cause: err });
    throw err;
  }
  let st: Stats;
  try {
    st = fstatSync(fd);
    if (!st.isFile() || st.nlink !== 1) throw new Error(`${path} is not a regular file with one link: refusing it`);
    if ((st.mode & 0o077) !== 0) fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
  // Loaded here, not at import: only a starting daemon needs it.
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path, { timeout: 0 });
  try {
    // No journal file: the transaction never writes.
    db.pragma('journal_mode = MEMORY');
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') {
      const holder = lockHolder(st);
      throw new Error(`socket directory ${dir} is in use by another tsvirtd${holder !== null ? ` (pid ${holder})` : ''}`, { cause: err });
    }
    throw err;
  }
  return { release: () => db.close() };
}

/** The pid holding a POSIX write lock on the file `st` describes, from /proc/locks; null if unknown. */
function lockHolder(st: Stats): number | null {
  // /proc/locks names the file MAJOR:MINOR:INODE, the device numbers in hex.
  const major = ((st.dev >> 8) & 0xfff) | (Math.floor(st.dev / 2 ** 32) & ~0xfff);
  const minor = (st.dev & 0xff) | ((st.dev >>> 12) & 0xfff00);
  const id = `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}:${st.ino}`;
  try {
    for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      // "1: POSIX ADVISORY WRITE PID ID START END"; waiters have "->" after the number.
      if (f[1] === 'POSIX' && f[3] === 'WRITE' && f[5] === id) return Number(f[4]);
    }
  } catch {
    // No /proc: the message goes without the pid.
  }
  return null;
}

/**
 * Listens on the unix socket `path` with the process umask set to `umask` for the bind, so the
 * socket is created with mode 0777 & ~umask, as libvirt does (a chmod by path after bind would
 * follow a symlink swapped in meanwhile). Node's listen() on a path binds synchronously in the
 * call (only 'listening' and errors come later), and JavaScript runs nothing else meanwhile, so
 * the umask is restored before any other code of this process runs; start() checks the mode
 * after bind, so a Node that bound later would be refused, not served. The one thing that could
 * create a file while the umask is changed is file work already queued to libuv's thread pool:
 * tsvirtd starts the daemon before it opens any driver or store, and the logger's queued writes
 * go to a descriptor already open (a write creates no file), so there is none.
 */
function listenWithUmask(server: Server, path: string, umask: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const old = process.umask(umask);
    try {
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(old);
    }
  });
}

/**
 * Removes a stale socket (nobody listens on it) at `path`. Refuses anything that is not a socket
 * (a symlink, a file: tsvirtd removes only sockets) and a socket that answers.
 */
async function removeStaleSocket(path: string): Promise<void> {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket: refusing to replace it`);
  const live = await new Promise<boolean>((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw new Error(`${path} is in use by another daemon`);
  unlinkSync(path);
}
