/**
 * tsvirtd's server: the two unix sockets in the socket directory, the clients, the idle timer
 * and a clean stop. Embeddable (tests start it in-process) and used by main.ts.
 */
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from './client.js';
import { ConnectionFactory } from './connections.js';
import { Logger } from './log.js';
import { RO_SOCKET, RW_SOCKET } from '../core/paths.js';

export { RO_SOCKET, RW_SOCKET, defaultSocketDir } from '../core/paths.js';

export interface DaemonOptions {
  socketDir: string;
  log?: Logger;
  /** Exit (call onIdle) after this many seconds without clients; 0 = never. */
  timeoutSeconds?: number;
  onIdle?: () => void;
  keepaliveIntervalMs?: number;
  keepaliveCount?: number;
  /** Advertise feature REMOTE_EVENT_CALLBACK (default true); see ClientOptions.eventCallbacks. */
  eventCallbacks?: boolean;
  /** Most clients at once; more are refused (libvirtd's max_clients, 5000). */
  maxClients?: number;
}

export class Daemon {
  private readonly log: Logger;
  private readonly servers: Server[] = [];
  private readonly clients = new Set<Client>();
  private readonly factory = new ConnectionFactory();
  private nextClientID = 1;
  private idleTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  readonly rwPath: string;
  readonly roPath: string;

  constructor(private readonly opts: DaemonOptions) {
    this.log = opts.log ?? new Logger('info');
    this.rwPath = join(opts.socketDir, RW_SOCKET);
    this.roPath = join(opts.socketDir, RO_SOCKET);
  }

  /** Number of connected clients. */
  clientCount(): number {
    return this.clients.size;
  }

  /** The drivers open for the clients, by canonical URI, each with its number of clients. */
  driverUsage(): Map<string, number> {
    return this.factory.pool.usage();
  }

  /** Creates the socket directory and listens on both sockets. */
  async start(): Promise<void> {
    mkdirSync(this.opts.socketDir, { recursive: true, mode: 0o700 });
    for (const [path, readonly, mode] of [
      [this.rwPath, false, 0o600],
      [this.roPath, true, 0o666],
    ] as const) {
      await removeStaleSocket(path);
      const server = createServer((socket) => this.accept(socket, readonly));
      server.on('error', (err) => this.log.error(`listener ${path}: ${err.message}`));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
      chmodSync(path, mode);
      this.servers.push(server);
      this.log.info(`listening on ${path}${readonly ? ' (read-only)' : ''}`);
    }
    this.armIdleTimer();
  }

  private accept(socket: Socket, readonly: boolean): void {
    if (this.stopping || this.clients.size >= (this.opts.maxClients ?? 5000)) {
      socket.destroy();
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
      onClose: (c) => {
        this.clients.delete(c);
        this.armIdleTimer();
      },
    });
    this.clients.add(client);
    this.log.debug(`client ${client.id} connected${readonly ? ' (read-only socket)' : ''}`);
  }

  private armIdleTimer(): void {
    const timeout = this.opts.timeoutSeconds ?? 0;
    if (timeout <= 0 || this.stopping || this.clients.size > 0 || this.idleTimer !== undefined) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.clients.size === 0 && !this.stopping) {
        this.log.info(`no clients for ${timeout} s; exiting`);
        this.opts.onIdle?.();
      }
    }, timeout * 1000);
  }

  /** Stops listening, drops every client (closing its connection), removes the sockets. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    // server.close() completes only once every connection is gone: drop the clients meanwhile.
    const closed = this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
    await Promise.all([...this.clients].map((c) => c.shutdown('daemon stopping')));
    await Promise.all(closed);
    for (const path of [this.rwPath, this.roPath]) {
      try {
        unlinkSync(path);
      } catch {
        // Already gone.
      }
    }
  }
}

/** Removes a socket file nobody listens on; refuses to steal one a live daemon holds. */
async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
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
