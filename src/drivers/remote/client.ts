/**
 * The client end of libvirt's remote protocol over a unix socket: calls matched to replies by
 * serial (several may be in flight), error replies rebuilt into VirError field for field,
 * keepalive answered (and sent when the daemon goes quiet), and event messages handed to a
 * listener. Errors when the socket cannot be reached or dies are worded as libvirt's remote
 * driver words them.
 */
import { closeSync } from 'node:fs';
import { createConnection } from 'node:net';
import type { Duplex } from 'node:stream';
import { constants as osConstants } from 'node:os';
import { ErrorDomain, ErrorLevel, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import { FrameReader, MessageStatus, MessageType, encodeFrame, type Frame, type MessageHeader } from '../../rpc/message.js';
import {
  KEEPALIVE_PROGRAM,
  KEEPALIVE_PROTOCOL_VERSION,
  KeepaliveProc,
  REMOTE_PROGRAM,
  REMOTE_PROTOCOL_VERSION,
  xError,
  xStreamHole,
  type WireError,
} from '../../rpc/protocol.js';
import { NUM_FDS_MAX, procedure, type ArgsOf, type RetOf, type TableProc } from '../../rpc/procedures.js';
import { XdrError, XdrWriter, decode } from '../../rpc/xdr.js';
import { fdPassing, fdPassingUnavailable, socketFd } from '../../core/fdpass.js';

/** Keepalive as libvirt's client defaults it: a ping after 5 s of silence, give up after 5. */
export const CLIENT_KEEPALIVE_INTERVAL_MS = 5000;
export const CLIENT_KEEPALIVE_COUNT = 5;

const STRERROR: Record<string, string> = {
  ENOENT: 'No such file or directory',
  ECONNREFUSED: 'Connection refused',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ENOTSOCK: 'Socket operation on non-socket',
  ENOTDIR: 'Not a directory',
  ETIMEDOUT: 'Connection timed out',
  ECONNRESET: 'Connection reset by peer',
  EPIPE: 'Broken pipe',
  EAGAIN: 'Resource temporarily unavailable',
  EIO: 'Input/output error',
  EHOSTUNREACH: 'No route to host',
  ENETUNREACH: 'Network is unreachable',
  ENAMETOOLONG: 'File name too long',
};

/** A VIR_ERR_SYSTEM_ERROR from VIR_FROM_RPC, as libvirt's virReportSystemError builds it. */
export function systemError(what: string, code: string): VirError {
  const errno = (osConstants.errno as Record<string, number>)[code] ?? -1;
  const message = `${what}: ${STRERROR[code] ?? code}`;
  return new VirError({ code: ErrorNumber.SYSTEM_ERROR, domain: ErrorDomain.RPC, message, str1: '%s', str2: message, int1: errno });
}

/** libvirt's client error once its socket is gone: "internal error: client socket is closed". */
export function socketClosedError(): VirError {
  return VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'client socket is closed');
}

/** A protocol error on the client side (VIR_ERR_RPC, VIR_FROM_RPC). */
function rpcError(message: string): VirError {
  return new VirError({ code: ErrorNumber.RPC, domain: ErrorDomain.RPC, message, str1: '%s', str2: message });
}

/** The VirError a daemon's error reply carries, rebuilt field for field. */
export function fromWireError(e: WireError): VirError {
  return new VirError({
    // As the peer sent them: a newer libvirtd may send codes this tsvirt does not list.
    code: e.code as ErrorNumber,
    domain: e.domain as ErrorDomain,
    message: e.message ?? '',
    level: e.level as ErrorLevel,
    str1: e.str1,
    str2: e.str2,
    str3: e.str3,
    int1: e.int1,
    int2: e.int2,
  });
}

/** A call in flight: its reply is decoded by the call's own (typed) closure. */
interface Pending {
  proc: number;
  /** Decodes an OK reply's payload with the procedure's ret codec and resolves the call (with the reply's descriptors). */
  accept: (payload: Buffer, fds: number[]) => void;
  reject: (e: VirError) => void;
}

export interface RpcClientOptions {
  keepaliveIntervalMs?: number;
  keepaliveCount?: number;
  /** Asynchronous MESSAGEs of the remote program (events). */
  onMessage?: (frame: Frame) => void;
  /** Called once when the socket goes away, whoever closed it. */
  onClose?: (reason: string) => void;
}

/** Where the packets of one stream go (the remote driver's stream channel). */
export interface StreamSink {
  /** The procedure of the call that opened the stream (packets must name it). */
  proc: number;
  /** The serial of that call, before it goes out. */
  opened(serial: number): void;
  /** A STREAM/CONTINUE with data. */
  onData(payload: Buffer): void;
  /** An empty STREAM/CONTINUE: the end of the daemon's data. */
  onEnd(): void;
  /** A STREAM/ERROR (the daemon's error), or the socket's end. The stream is over. */
  onError(err: VirError): void;
  /** A STREAM/OK: the confirmation of a finish or an abort. */
  onConfirm(): void;
  /** A STREAM_HOLE: a hole of `length` bytes (sparse streams only; without it a hole fails the stream). */
  onHole?(length: number): void;
}

/** One socket to a daemon. */
export class RpcClient {
  private readonly reader = new FrameReader();
  private readonly pending = new Map<number, Pending>();
  /** Open streams, by the serial of the call that opened them. */
  private readonly streams = new Map<number, StreamSink>();
  private serial = 0;
  private closedWith: VirError | null = null;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private lastReceived = Date.now();
  private unanswered = 0;
  /** A REPLY_WITH_FDS read, waiting for the bytes that carry its descriptors. */
  private held: { frame: Frame; n: number } | null = null;
  /** Descriptors received (SCM_RIGHTS) and not yet given to a reply. */
  private readonly receivedFds: number[] = [];

  private constructor(
    private readonly sock: Duplex,
    private readonly opts: RpcClientOptions,
  ) {
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    // A transport that knows better (ssh's own stderr) fails its stream with a VirError.
    sock.on('error', (err: NodeJS.ErrnoException) => this.fail(err instanceof VirError ? err : systemError('Cannot recv data', err.code ?? 'ECONNRESET')));
    sock.on('close', () => this.fail(socketClosedError()));
  }

  /**
   * Connects to a unix socket. Errors: VIR_ERR_SYSTEM_ERROR "Failed to connect socket to
   * 'PATH': …" (int1 the errno), as libvirt; also when nothing answers within `timeoutMs`.
   */
  static connect(path: string, timeoutMs: number, opts: RpcClientOptions = {}): Promise<RpcClient> {
    return new Promise((resolve, reject) => {
      const sock = createConnection(path);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(systemError(`Failed to connect socket to '${path}'`, 'ETIMEDOUT'));
      }, timeoutMs);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.removeAllListeners('error');
        resolve(new RpcClient(sock, opts));
      });
      sock.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        sock.destroy();
        reject(systemError(`Failed to connect socket to '${path}'`, err.code ?? 'ECONNREFUSED'));
      });
    });
  }

  /**
   * Speaks the protocol over an open stream (a TLS socket, an ssh child's pipes). Descriptor
   * passing needs a unix socket: over anything else it answers VIR_ERR_NO_SUPPORT.
   */
  static over(stream: Duplex, opts: RpcClientOptions = {}): RpcClient {
    return new RpcClient(stream, opts);
  }

  /**
   * Whether descriptors can pass on this stream (libvirt's virNetClientHasPassFD): a unix socket
   * does; TLS over TCP does not.
   */
  passesFds(): boolean {
    return socketFd(this.sock) >= 0;
  }

  /** True until the socket is gone. */
  isOpen(): boolean {
    return this.closedWith === null;
  }

  /**
   * Sends one CALL of the remote program and resolves with its decoded reply; an ERROR reply
   * rejects with the daemon's VirError. Arguments and reply are typed by the procedure table.
   * `timeoutMs` bounds the wait (handshake calls).
   */
  call<P extends TableProc>(proc: P, args: ArgsOf<P>, timeoutMs = 0, stream?: StreamSink): Promise<RetOf<P>> {
    return this.callFull(proc, args, timeoutMs, stream, null).then((r) => r.ret);
  }

  /**
   * A call that sends descriptors (CALL_WITH_FDS) and/or whose reply carries some
   * (REPLY_WITH_FDS), as libvirt's client does it on a unix socket: the count before the
   * payload, one byte per descriptor sent with it by sendmsg after the message; on the way back
   * the socket is read with recvmsg (the fdpass addon) until the reply is in, since libuv's
   * read() would make the kernel drop the descriptors. The received descriptors are the
   * caller's. VIR_ERR_NO_SUPPORT without the addon.
   */
  async callWithFds<P extends TableProc>(proc: P, args: ArgsOf<P>, fdsOut: number[]): Promise<{ ret: RetOf<P>; fds: number[] }> {
    const addon = fdPassing();
    if (addon === null) throw fdPassingUnavailable(ErrorDomain.RPC, procedure(proc).api);
    if (this.closedWith !== null) throw socketClosedError();
    const sockFd = socketFd(this.sock);
    const handle = (this.sock as unknown as { _handle?: { readStop?: () => number; readStart?: () => number } })._handle;
    if (sockFd < 0 || typeof handle?.readStop !== 'function' || typeof handle.readStart !== 'function') {
      throw fdPassingUnavailable(ErrorDomain.RPC, procedure(proc).api);
    }
    // Nothing of ours may sit between the call and its carrier bytes.
    for (let i = 0; this.sock.writableLength > 0; i++) {
      if (i > 5000 || this.closedWith !== null) throw this.closedWith ?? socketClosedError();
      await new Promise((r) => setTimeout(r, 1));
    }
    handle.readStop();
    let settled = false;
    const result = this.callFull(proc, args, 0, undefined, { fds: fdsOut, sockFd });
    result.then(
      () => (settled = true),
      () => (settled = true),
    );
    try {
      let idle = 0;
      while (!settled && this.closedWith === null) {
        let got;
        try {
          got = addon.recvFds(sockFd, 65536);
        } catch {
          break; // libuv sees the error when it reads again
        }
        if (got === null) {
          idle = Math.min(idle + 1, 10);
          await new Promise((r) => setTimeout(r, idle < 5 ? 0 : 1));
          continue;
        }
        idle = 0;
        this.receivedFds.push(...got.fds);
        if (got.data.length === 0) break; // EOF: libuv reads it and closes
        this.onData(got.data);
        await Promise.resolve();
      }
    } finally {
      if (this.closedWith === null && !this.sock.destroyed) handle.readStart();
    }
    return result;
  }

  private callFull<P extends TableProc>(
    proc: P,
    args: ArgsOf<P>,
    timeoutMs: number,
    stream: StreamSink | undefined,
    withFds: { fds: number[]; sockFd: number } | null,
  ): Promise<{ ret: RetOf<P>; fds: number[] }> {
    const spec = procedure(proc);
    if (this.closedWith !== null) return Promise.reject(socketClosedError());
    let payload: Buffer;
    try {
      const w = new XdrWriter();
      spec.args.enc(w, args);
      payload = w.finish();
    } catch (err) {
      const detail = err instanceof XdrError ? err.message : String(err);
      return Promise.reject(rpcError(`Unable to encode message payload: ${detail}`));
    }
    const serial = this.serial;
    this.serial = (this.serial + 1) >>> 0;
    // Registered before the call goes out: the daemon's data may follow its reply at once.
    if (stream !== undefined) {
      this.streams.set(serial, stream);
      stream.opened(serial);
    }
    return new Promise<{ ret: RetOf<P>; fds: number[] }>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        this.pending.delete(serial);
      };
      this.pending.set(serial, {
        proc,
        accept: (reply, fds) => {
          done();
          try {
            resolve({ ret: decode(spec.ret, reply), fds });
          } catch (err) {
            closeFds(fds);
            throw err;
          }
        },
        reject: (e) => {
          done();
          // A call refused opens no stream.
          if (stream !== undefined && this.streams.get(serial) === stream) this.streams.delete(serial);
          reject(e);
        },
      });
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          const e = systemError('Cannot recv data', 'ETIMEDOUT');
          this.pending.get(serial)?.reject(e);
          // A daemon that does not answer the handshake is no use: drop it.
          this.fail(e);
        }, timeoutMs);
      }
      const header = { prog: REMOTE_PROGRAM, vers: REMOTE_PROTOCOL_VERSION, proc, type: MessageType.CALL, serial, status: MessageStatus.OK };
      if (withFds === null || withFds.fds.length === 0) {
        this.write(header, payload);
        return;
      }
      try {
        this.writeWithFds({ ...header, type: MessageType.CALL_WITH_FDS }, payload, withFds.fds, withFds.sockFd);
      } catch (err) {
        this.pending.get(serial)?.reject(systemError('Failed to send file descriptor', (err as NodeJS.ErrnoException).code ?? 'EIO'));
      }
    });
  }

  /**
   * Sends one STREAM packet of the stream opened by call `serial` (data: CONTINUE, at most
   * STREAM_CHUNK_MAX bytes; a finish: OK; an abort: ERROR, empty as libvirt's client sends it).
   * Resolves once the socket has room again, so that a sender keeps pace with the daemon.
   */
  sendStream(proc: number, serial: number, status: MessageStatus, payload?: Buffer, type: MessageType = MessageType.STREAM): Promise<void> {
    if (this.closedWith !== null || this.sock.destroyed) return Promise.reject(this.closedWith ?? socketClosedError());
    const ok = this.sock.write(encodeFrame({ prog: REMOTE_PROGRAM, vers: REMOTE_PROTOCOL_VERSION, proc, type, serial, status }, payload));
    if (ok) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        this.sock.off('close', onClose);
        resolve();
      };
      const onClose = (): void => {
        this.sock.off('drain', onDrain);
        reject(this.closedWith ?? socketClosedError());
      };
      this.sock.once('drain', onDrain);
      this.sock.once('close', onClose);
    });
  }

  /** Sends a hole of `length` bytes on a sparse stream (STREAM_HOLE, CONTINUE), as {@link RpcClient.sendStream}. */
  sendStreamHole(proc: number, serial: number, length: number): Promise<void> {
    const w = new XdrWriter(16);
    xStreamHole.enc(w, { length, flags: 0 });
    return this.sendStream(proc, serial, MessageStatus.CONTINUE, w.finish(), MessageType.STREAM_HOLE);
  }

  /** Forgets a stream: its later packets are dropped. */
  closeStream(serial: number): void {
    this.streams.delete(serial);
  }

  /** Starts keepalive: ping after `interval` of silence, close after `count` unanswered pings. */
  startKeepalive(): void {
    const interval = this.opts.keepaliveIntervalMs ?? CLIENT_KEEPALIVE_INTERVAL_MS;
    const count = this.opts.keepaliveCount ?? CLIENT_KEEPALIVE_COUNT;
    if (interval <= 0 || this.keepaliveTimer !== undefined || this.closedWith !== null) return;
    this.keepaliveTimer = setInterval(() => {
      if (Date.now() - this.lastReceived < interval) return;
      if (this.unanswered >= count) {
        this.fail(VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'connection closed due to keepalive timeout'));
        return;
      }
      this.unanswered++;
      this.write(keepaliveHeader(KeepaliveProc.PING));
    }, interval);
    this.keepaliveTimer.unref();
  }

  /** Closes the socket; calls in flight fail with "client socket is closed". */
  close(): void {
    this.fail(socketClosedError());
  }

  /**
   * Sends a message with descriptors synchronously through the addon (the socket's queue is
   * empty, see callWithFds): the message with its count, then one carrier byte per descriptor.
   */
  private writeWithFds(h: MessageHeader, payload: Buffer, fds: number[], sockFd: number): void {
    const addon = fdPassing();
    if (addon === null) throw fdPassingUnavailable(ErrorDomain.RPC, 'sendmsg');
    const body = Buffer.allocUnsafe(4 + payload.length);
    body.writeUInt32BE(fds.length, 0);
    payload.copy(body, 4);
    const send = (data: Buffer, attach: number[]): void => {
      for (let at = 0, tries = 0; at < data.length; ) {
        try {
          at += addon.sendFds(sockFd, data.subarray(at), at === 0 ? attach : []);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || ++tries > 100000) throw err;
        }
      }
    };
    send(encodeFrame(h, body), []);
    for (const fd of fds) send(Buffer.from([0]), [fd]);
  }

  private write(h: MessageHeader, payload?: Buffer): void {
    if (this.closedWith !== null || this.sock.destroyed) return;
    this.sock.write(encodeFrame(h, payload));
  }

  private onData(chunk: Buffer): void {
    this.lastReceived = Date.now();
    this.unanswered = 0;
    try {
      this.reader.append(chunk);
      for (;;) {
        if (this.held !== null) {
          // The bytes that carry the reply's descriptors are not the next frame's.
          if (!this.reader.settleSkip()) break;
          const { frame, n } = this.held;
          this.held = null;
          this.onFrame(frame, this.receivedFds.splice(0, n));
          continue;
        }
        const f = this.reader.next();
        if (f === null) break;
        if (f.header.type === MessageType.REPLY_WITH_FDS) {
          const n = f.payload.length >= 4 ? f.payload.readUInt32BE(0) : -1;
          if (n < 0 || n > NUM_FDS_MAX) throw new Error(`bad number of FDs ${n}`);
          this.reader.skip(n);
          this.held = { frame: { header: f.header, payload: f.payload.subarray(4) }, n };
          continue;
        }
        this.onFrame(f, []);
        if (this.closedWith !== null) return;
      }
    } catch (err) {
      this.fail(rpcError(`packet received from server too large or too small: ${(err as Error).message}`));
    }
  }

  private onFrame(f: Frame, fds: number[]): void {
    const h = f.header;
    if (h.type !== MessageType.REPLY_WITH_FDS) closeFds(fds);
    if (h.prog === KEEPALIVE_PROGRAM) {
      if (h.proc === KeepaliveProc.PING) this.write(keepaliveHeader(KeepaliveProc.PONG));
      return;
    }
    if (h.prog !== REMOTE_PROGRAM) return;
    if (h.type === MessageType.MESSAGE) {
      this.opts.onMessage?.(f);
      return;
    }
    if (h.type === MessageType.STREAM || h.type === MessageType.STREAM_HOLE) {
      this.onStreamPacket(f);
      return;
    }
    if (h.type !== MessageType.REPLY && h.type !== MessageType.REPLY_WITH_FDS) return;
    const p = this.pending.get(h.serial);
    if (p === undefined || p.proc !== h.proc) {
      closeFds(fds);
      return;
    }
    try {
      if (h.status === MessageStatus.OK) p.accept(f.payload, fds);
      else {
        closeFds(fds);
        p.reject(fromWireError(decode(xError, f.payload)));
      }
    } catch (err) {
      p.reject(rpcError(`Unable to decode message payload: ${(err as Error).message}`));
    }
  }

  private onStreamPacket(f: Frame): void {
    const h = f.header;
    const st = this.streams.get(h.serial);
    if (st === undefined || st.proc !== h.proc) return;
    if (h.type === MessageType.STREAM_HOLE) {
      let length = -1;
      try {
        length = decode(xStreamHole, f.payload).length;
      } catch {
        // refused below
      }
      if (st.onHole !== undefined && Number.isSafeInteger(length) && length >= 0) {
        st.onHole(length);
        return;
      }
      // Not asked for: the stream is not sparse (libvirt's client refuses it too).
      this.streams.delete(h.serial);
      st.onError(rpcError('Unexpected stream hole'));
      return;
    }
    if (h.status === MessageStatus.CONTINUE) {
      if (f.payload.length === 0) st.onEnd();
      else st.onData(f.payload);
    } else if (h.status === MessageStatus.OK) {
      this.streams.delete(h.serial);
      st.onConfirm();
    } else {
      this.streams.delete(h.serial);
      let err: VirError;
      try {
        err = fromWireError(decode(xError, f.payload));
      } catch (e) {
        err = rpcError(`Unable to decode message payload: ${(e as Error).message}`);
      }
      st.onError(err);
    }
  }

  private fail(err: VirError): void {
    if (this.closedWith !== null) return;
    this.closedWith = err;
    if (this.keepaliveTimer !== undefined) clearInterval(this.keepaliveTimer);
    closeFds(this.receivedFds);
    this.sock.destroy();
    for (const p of [...this.pending.values()]) p.reject(err);
    this.pending.clear();
    const streams = [...this.streams.values()];
    this.streams.clear();
    for (const st of streams) st.onError(err);
    this.opts.onClose?.(err.message);
  }
}

/** Closes descriptors nobody will take. */
function closeFds(fds: number[]): void {
  for (const fd of fds.splice(0)) {
    try {
      closeSync(fd);
    } catch {
      // Already closed.
    }
  }
}

function keepaliveHeader(proc: KeepaliveProc): MessageHeader {
  return { prog: KEEPALIVE_PROGRAM, vers: KEEPALIVE_PROTOCOL_VERSION, proc, type: MessageType.MESSAGE, serial: 0, status: MessageStatus.OK };
}
