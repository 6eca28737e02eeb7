/**
 * A QMP (QEMU Machine Protocol) client over a unix socket: greeting, capabilities negotiation,
 * commands matched to their replies by id, asynchronous events, per-call timeouts, and a clean
 * VirError for every call pending when QEMU goes away.
 *
 * QEMU serves one client per monitor socket: a second connection is accepted by the kernel but
 * receives nothing until the first one closes, so a connect that gets no greeting means
 * "someone else holds the monitor" and fails with a timeout rather than hanging.
 */
import { createConnection, type Socket } from 'node:net';
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError, internalError, operationFailed } from '../../core/errors.js';
import { fdPassing, fdPassingUnavailable, socketFd, type FdPassing } from '../../core/fdpass.js';

/** An asynchronous QMP event, e.g. `SHUTDOWN {"guest":true,"reason":"guest-shutdown"}`. */
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

/** QEMU's version from the greeting. */
export interface QmpVersion {
  major: number;
  minor: number;
  micro: number;
  package: string;
}

/** Options of {@link QmpClient.connect}. */
export interface QmpConnectOptions {
  /** How long to wait for the greeting and the negotiation, in ms (default 10,000). */
  timeoutMs?: number;
  /** Default timeout of each command, in ms (default 60,000). */
  commandTimeoutMs?: number;
}

/** A QMP error reply, as a VirError: libvirt's "unable to execute QEMU command" wording. */
export class QmpCommandError extends VirError {
  /** QMP's error class, e.g. `GenericError`, `CommandNotFound`. */
  readonly qmpClass: string;
  /** QMP's description, without libvirt's prefix. */
  readonly qmpDesc: string;
  constructor(command: string, qmpClass: string, desc: string) {
    const e = internalError(ErrorDomain.QEMU, `unable to execute QEMU command '${command}': ${desc}`);
    super({ code: e.code, domain: e.domain, message: e.message, str1: e.message, str2: desc });
    this.qmpClass = qmpClass;
    this.qmpDesc = desc;
  }
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** libvirt's wording for a monitor that went away. */
const EOF_REASON = 'End of file from qemu monitor';
const DEFAULT_CONNECT_TIMEOUT = 10_000;
const DEFAULT_COMMAND_TIMEOUT = 60_000;

/**
 * One QMP connection. Create it with {@link QmpClient.connect}; it is negotiated and ready for
 * commands when the promise resolves.
 */
export class QmpClient {
  /** QEMU's version, from the greeting. */
  readonly version: QmpVersion;
  private readonly socket: Socket;
  private readonly pending = new Map<number, Pending>();
  private readonly eventListeners = new Set<(ev: QmpEvent) => void>();
  private readonly closeListeners = new Set<(reason: string) => void>();
  private nextId = 1;
  /** The last command sent with a file descriptor (they go one at a time). */
  private fdTurn: Promise<void> = Promise.resolve();
  private buffer = '';
  private closedReason: string | null = null;
  private readonly commandTimeoutMs: number;
  /** Resolves when the connection is closed, whoever closed it. */
  readonly closed: Promise<string>;
  private resolveClosed!: (reason: string) => void;

  private constructor(socket: Socket, version: QmpVersion, rest: string, commandTimeoutMs: number) {
    this.socket = socket;
    this.version = version;
    this.commandTimeoutMs = commandTimeoutMs;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      // A QEMU that dies resets the connection rather than closing it cleanly: same thing.
      this.finish(err.code === 'ECONNRESET' || err.code === 'EPIPE' ? EOF_REASON : `monitor socket error: ${err.message}`),
    );
    socket.on('close', () => this.finish(EOF_REASON));
    if (rest !== '') this.onData(rest);
  }

  /**
   * Connects to a QMP unix socket, reads the greeting and negotiates capabilities.
   *
   * Errors: VIR_ERR_OPERATION_FAILED when the socket cannot be connected or closes before the
   * greeting; VIR_ERR_OPERATION_TIMEOUT when no greeting comes (another client holds the
   * monitor, or QEMU hangs).
   */
  static async connect(path: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT;
    const commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT;
    const { socket, version, rest } = await new Promise<{ socket: Socket; version: QmpVersion; rest: string }>(
      (resolve, reject) => {
        const socket = createConnection({ path });
        let buf = '';
        let done = false;
        const fail = (err: Error): void => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          socket.destroy();
          reject(err);
        };
        const timer = setTimeout(
          () =>
            fail(
              VirError.report(
                ErrorDomain.QEMU,
                ErrorNumber.OPERATION_TIMEOUT,
                `no QMP greeting on ${path} within ${timeoutMs} ms (is another client holding the monitor?)`,
              ),
            ),
          timeoutMs,
        );
        socket.setEncoding('utf8');
        const onData = (chunk: string): void => {
          buf += chunk;
          const nl = buf.indexOf('\n');
          if (nl < 0) return;
          const line = buf.slice(0, nl).trim();
          let msg: { QMP?: { version?: { qemu?: Omit<QmpVersion, 'package'>; package?: string } } };
          try {
            msg = JSON.parse(line) as typeof msg;
          } catch {
            fail(operationFailed(ErrorDomain.QEMU, `malformed QMP greeting: ${line.slice(0, 200)}`));
            return;
          }
          if (msg.QMP?.version?.qemu === undefined) {
            fail(operationFailed(ErrorDomain.QEMU, `unexpected QMP greeting: ${line.slice(0, 200)}`));
            return;
          }
          done = true;
          clearTimeout(timer);
          socket.off('data', onData);
          socket.off('error', onError);
          socket.off('close', onClose);
          const v = msg.QMP.version;
          resolve({ socket, version: { ...v.qemu!, package: v.package ?? '' }, rest: buf.slice(nl + 1) });
        };
        const onError = (err: NodeJS.ErrnoException): void =>
          fail(operationFailed(ErrorDomain.QEMU, `failed to connect to monitor socket ${path}: ${err.message}`));
        const onClose = (): void => fail(operationFailed(ErrorDomain.QEMU, `monitor socket ${path} closed before the QMP greeting`));
        socket.on('data', onData);
        socket.on('error', onError);
        socket.on('close', onClose);
      },
    );
    socket.pause();
    const client = new QmpClient(socket, version, rest, commandTimeoutMs);
    socket.resume();
    try {
      await client.execute('qmp_capabilities', undefined, { timeoutMs });
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  /** Whether the connection is closed (by {@link close}, or because QEMU went away). */
  get isClosed(): boolean {
    return this.closedReason !== null;
  }

  /**
   * Runs one QMP command and resolves with its `return` value.
   *
   * Errors: {@link QmpCommandError} (VIR_ERR_INTERNAL_ERROR) for a QMP error reply;
   * VIR_ERR_OPERATION_TIMEOUT when no reply comes in time (the connection stays usable);
   * VIR_ERR_OPERATION_FAILED when the monitor is closed or closes before the reply.
   */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, options: { timeoutMs?: number; sendVia?: (line: Buffer) => void } = {}): Promise<T> {
    if (this.closedReason !== null) {
      return Promise.reject(this.closedError(command));
    }
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          VirError.report(
            ErrorDomain.QEMU,
            ErrorNumber.OPERATION_TIMEOUT,
            `QEMU did not answer '${command}' within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      const msg: Record<string, unknown> = { execute: command, id };
      if (args !== undefined) msg.arguments = args;
      const line = `${JSON.stringify(msg)}\n`;
      if (options.sendVia === undefined) {
        this.socket.write(line);
        return;
      }
      try {
        options.sendVia(Buffer.from(line, 'utf8'));
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(err instanceof VirError ? err : operationFailed(ErrorDomain.QEMU, `cannot send '${command}' with a file descriptor: ${(err as Error).message}`));
      }
    });
  }

  /**
   * Runs one QMP command with a file descriptor attached (SCM_RIGHTS), as `getfd` and
   * `add-fd` take one: the command's bytes leave in one sendmsg with the descriptor, through
   * tsvirt's fdpass addon, once everything written before has left (libuv owns the socket, so
   * the descriptor must not overtake or split another command). The descriptor stays ours to
   * close. Errors as {@link QmpClient.execute}; VIR_ERR_NO_SUPPORT without the addon;
   * VIR_ERR_OPERATION_FAILED when the descriptor cannot be sent.
   */
  async executeWithFd<T = unknown>(command: string, args: Record<string, unknown> | undefined, fd: number, options: { timeoutMs?: number } = {}): Promise<T> {
    const addon = fdPassing();
    if (addon === null) throw fdPassingUnavailable(ErrorDomain.QEMU, command);
    if (this.closedReason !== null) throw this.closedError(command);
    const sockFd = socketFd(this.socket);
    if (sockFd < 0) throw operationFailed(ErrorDomain.QEMU, `cannot pass a file descriptor to '${command}': the monitor socket has no descriptor`);
    // Only one command with a descriptor at a time, each after what was queued before it.
    const turn = this.fdTurn.then(async () => {
      for (let i = 0; this.socket.writableLength > 0; i++) {
        if (this.closedReason !== null) throw this.closedError(command);
        if (i > 5000) throw operationFailed(ErrorDomain.QEMU, `monitor socket did not drain before '${command}'`);
        await new Promise((r) => setTimeout(r, 1));
      }
      return this.execute<T>(command, args, { ...options, sendVia: (line) => sendLineWithFd(addon, sockFd, this.socket, line, fd) });
    });
    this.fdTurn = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  /** Adds an event listener; returns a function that removes it. */
  onEvent(listener: (ev: QmpEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Adds a listener called once when the connection closes (with the reason). */
  onClose(listener: (reason: string) => void): () => void {
    if (this.closedReason !== null) {
      const reason = this.closedReason;
      queueMicrotask(() => listener(reason));
      return () => {};
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /**
   * Waits for the first event accepted by `match`, up to `timeoutMs`; rejects when the
   * connection closes first or the time runs out.
   */
  waitForEvent(match: (ev: QmpEvent) => boolean, timeoutMs: number): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        offClose();
        reject(VirError.report(ErrorDomain.QEMU, ErrorNumber.OPERATION_TIMEOUT, `no awaited QMP event within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onEvent((ev) => {
        if (!match(ev)) return;
        clearTimeout(timer);
        off();
        offClose();
        resolve(ev);
      });
      const offClose = this.onClose((reason) => {
        clearTimeout(timer);
        off();
        reject(operationFailed(ErrorDomain.QEMU, `monitor closed while waiting for an event: ${reason}`));
      });
    });
  }

  /** Closes the connection (QEMU keeps running). Pending calls fail. */
  close(): void {
    this.finish('monitor connection closed by the client');
    this.socket.destroy();
  }

  private closedError(command: string): VirError {
    return operationFailed(ErrorDomain.QEMU, `domain is no longer running (${this.closedReason ?? 'closed'}; command '${command}')`);
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line !== '') this.onLine(line);
    }
  }

  private onLine(line: string): void {
    let msg: {
      id?: number;
      return?: unknown;
      error?: { class?: string; desc?: string };
      event?: string;
      data?: Record<string, unknown>;
      timestamp?: { seconds: number; microseconds: number };
    };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return; // QEMU only writes JSON; ignore a torn line rather than fail every caller.
    }
    if (msg.event !== undefined) {
      const ev: QmpEvent = {
        event: msg.event,
        data: msg.data ?? {},
        timestamp: msg.timestamp ?? { seconds: 0, microseconds: 0 },
      };
      for (const l of [...this.eventListeners]) {
        try {
          l(ev);
        } catch {
          // A listener's failure is its own; the monitor goes on.
        }
      }
      return;
    }
    if (typeof msg.id !== 'number') return;
    const p = this.pending.get(msg.id);
    if (p === undefined) return; // timed out already
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.error !== undefined) {
      p.reject(new QmpCommandError(p.command, msg.error.class ?? 'GenericError', msg.error.desc ?? 'unknown error'));
    } else {
      p.resolve(msg.return);
    }
  }

  private finish(reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(this.closedError(p.command));
    }
    this.pending.clear();
    for (const l of [...this.closeListeners]) {
      try {
        l(reason);
      } catch {
        // ignore
      }
    }
    this.closeListeners.clear();
    this.resolveClosed(reason);
  }
}

/**
 * Sends a command line with `fd` attached: the first sendmsg carries the descriptor (QEMU takes
 * it with the bytes it arrives with), whatever a full socket left goes through the net.Socket
 * after it, in order since nothing else was queued.
 */
function sendLineWithFd(addon: FdPassing, sockFd: number, socket: Socket, line: Buffer, fd: number): void {
  let sent: number;
  for (let tries = 0; ; tries++) {
    try {
      sent = addon.sendFds(sockFd, line, [fd]);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || tries > 100) throw err;
    }
  }
  if (sent < line.length) socket.write(line.subarray(sent));
}
