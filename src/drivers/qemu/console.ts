/**
 * The QEMU driver's serial console (virDomainOpenConsole): a pty serial port is a unix socket
 * QEMU listens on in the guest's runtime directory (argv.ts), with its output also logged to a
 * file. Opening the console connects to that socket and hands the caller a Node Duplex.
 *
 * As libvirt's virchrdev.c, one session per device at a time: a second open is refused unless it
 * forces, which ends the old session's channel first. Sessions are kept per socket path for the
 * whole process, so two connections of one program (or tsvirtd's clients) see each other's.
 * Another process's session is seen by a lock file beside the socket naming its pid (QEMU serves
 * one client at a time: a second one would wait, mute); as libvirt's lock files, it is refused
 * even with FORCE, since only its own process can end it.
 */
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError, internalError, operationFailed } from '../../core/errors.js';
import type { DomainCharSourceType, DomainDef } from '../../conf/domain.js';
import { isProcessAlive, processStartTime } from './process.js';

const DOM = ErrorDomain.QEMU;

/** A character device of a running guest, as the console finds it. */
export interface ConsoleDevice {
  /** libvirt's alias: `serialN` for serial ports, `consoleN` for consoles. */
  alias: string;
  type: DomainCharSourceType;
  /** The serial port (target port) whose chardev carries it. */
  port: number;
}

/**
 * The device `devName` names, as libvirt's qemuDomainOpenConsole looks it up: by alias among
 * the consoles, then the serial ports; null means the first console, else the first serial port.
 * On an HVM guest the first console is the first serial port seen from another side (the
 * parser mirrors them), so `console0` and `serial0` are one device with one session.
 *
 * Errors: VIR_ERR_INTERNAL_ERROR "cannot find character device NAME" (`<null>` for null), and
 * "character device NAME is not using a PTY" for a port whose host side is not a pty (a file,
 * a socket of the user's, …): only a pty is a console here, as in libvirt.
 */
export function findConsoleDevice(def: DomainDef, devName: string | null): ConsoleDevice {
  const consoles = def.devices.consoles.map((c, i): ConsoleDevice => ({
    alias: `console${i}`,
    type: c.type,
    // A serial console is a view of the serial port of its target port.
    port: c.targetPort,
  }));
  const serials = def.devices.serials.map((s, i): ConsoleDevice => ({ alias: `serial${i}`, type: s.type, port: s.targetPort }));
  let found: ConsoleDevice | undefined;
  if (devName !== null) {
    found = consoles.find((c) => c.alias === devName) ?? serials.find((s) => s.alias === devName);
  } else {
    found = consoles[0] ?? serials[0];
  }
  if (found === undefined) throw internalError(DOM, `cannot find character device ${devName ?? '<null>'}`);
  if (found.type !== 'pty') throw internalError(DOM, `character device ${devName ?? found.alias} is not using a PTY`);
  return found;
}

/** The open console sessions of this process, by socket path. */
const sessions = new Map<string, ConsoleChannel>();

/**
 * A console session: bytes written go to the guest's serial port, bytes the guest sends are
 * read. It ends (readable 'end', then 'close') when the guest's side closes (the domain
 * stopped) or another session forces it out; destroying it detaches, and the guest runs on.
 */
export class ConsoleChannel extends Duplex {
  private socket: Socket | null = null;
  private finished = false;

  constructor(readonly path: string) {
    // Up to a whole STREAM packet may gather before QEMU's socket is paused (tsvirtd coalesces
    // a busy console's output into large packets).
    super({ allowHalfOpen: false, readableHighWaterMark: 256 * 1024 });
  }

  /** Connects to the socket; resolves once connected. */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const sock = createConnection({ path: this.path });
      this.socket = sock;
      const failed = (err: Error): void => {
        this.release();
        reject(VirError.report(DOM, ErrorNumber.SYSTEM_ERROR, `Unable to connect to console socket '${this.path}': ${err.message}`));
      };
      sock.once('error', failed);
      sock.once('connect', () => {
        sock.off('error', failed);
        // The guest's side went away (QEMU quit): for the reader, the end of data.
        sock.on('error', () => this.endSession());
        sock.on('data', (d: Buffer) => {
          if (!this.push(d)) sock.pause();
        });
        sock.on('end', () => this.endSession());
        sock.on('close', () => this.endSession());
        resolve();
      });
    });
  }

  /** Ends the session from this side (a forced takeover): the reader sees the end of data. */
  endSession(): void {
    if (this.finished) return;
    this.finished = true;
    this.release();
    this.socket?.destroy();
    this.push(null);
  }

  override _read(): void {
    this.socket?.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.finished) {
      callback();
      return;
    }
    if (this.socket === null) {
      callback(new Error('console not connected'));
      return;
    }
    // A write cut short by the end of the session is no error of the writer's.
    this.socket.write(chunk, (err) => callback(this.finished ? null : err));
  }

  override _final(callback: (err?: Error | null) => void): void {
    // The caller has nothing more to type: the session is over.
    this.endSession();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.finished = true;
    this.release();
    this.socket?.destroy();
    callback(err);
  }

  private release(): void {
    if (sessions.get(this.path) !== this) return;
    sessions.delete(this.path);
    rmSync(lockPath(this.path), { force: true });
  }
}

/**
 * Opens a console session on the socket at `path` (see the file comment).
 *
 * Errors: VIR_ERR_OPERATION_FAILED "Active console session exists for this domain" when one is
 * open and `force` is false; VIR_ERR_SYSTEM_ERROR when the socket cannot be connected.
 */
export async function openConsoleSession(path: string, force: boolean): Promise<ConsoleChannel> {
  const old = sessions.get(path);
  if (old !== undefined) {
    if (!force) throw operationFailed(DOM, 'Active console session exists for this domain');
    old.endSession();
  }
  takeLock(path);
  const channel = new ConsoleChannel(path);
  // Taken before the connect, so that a second open meanwhile is refused.
  sessions.set(path, channel);
  await channel.connect();
  return channel;
}

function lockPath(socket: string): string {
  return socket.replace(/\.sock$/, '') + '.lock';
}

/**
 * Writes this process's lock file for the console at `socket` (pid and start time, so that a
 * recycled pid is not taken for the holder).
 *
 * Errors: VIR_ERR_OPERATION_FAILED "Requested device 'SOCKET' is locked by lock file 'LOCK' held
 * by process PID" while another live process holds it.
 */
function takeLock(socket: string): void {
  const lock = lockPath(socket);
  let holder: [string, string] | undefined;
  try {
    const [pid, start] = readFileSync(lock, 'utf8').trim().split(' ');
    holder = [pid, start];
  } catch {
    // none
  }
  if (holder !== undefined && Number(holder[0]) !== process.pid && isProcessAlive(Number(holder[0]), holder[1])) {
    throw operationFailed(DOM, `Requested device '${socket}' is locked by lock file '${lock}' held by process ${holder[0]}`);
  }
  try {
    writeFileSync(lock, `${process.pid} ${processStartTime(process.pid) ?? ''}\n`, { mode: 0o600 });
  } catch (err) {
    throw VirError.report(DOM, ErrorNumber.SYSTEM_ERROR, `Couldn't create lock file for device '${socket}' in path '${lock}': ${(err as Error).message}`);
  }
}

/** Makes a console socket QEMU created readable by its owner only (QEMU follows the umask). */
export function restrictSocket(path: string): void {
  try {
    chmodSync(path, 0o600);
  } catch {
    // The runtime directory is 0700 either way.
  }
}
