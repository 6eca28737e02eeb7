/**
 * Stream: libvirt's virStream, with python-libvirt's method names, async. A stream carries bytes
 * between the application and a driver: a guest's console ({@link Domain.openConsole}) or a
 * screenshot ({@link Domain.screenshot}). Get one from {@link Connection.newStream}, hand it to
 * one of those calls, then read and write it; end it with {@link Stream.finish} or
 * {@link Stream.abort}.
 */
import { Duplex } from 'node:stream';
import type { Connection } from './connection.js';
import { ErrorDomain, ErrorNumber, StreamEventType, StreamFlags } from '../core/enums.generated.js';
import { VirError, noSupport } from '../core/errors.js';
import { StreamHole, isSparseChannel } from '../core/stream-hole.js';

/** libvirt's virStreamRecvFlagsValues. */
export const StreamRecvFlags = {
  /** {@link Stream.recvFlags} stops at a hole and returns {@link STREAM_RECV_HOLE} instead of zeros. */
  STOP_AT_HOLE: 1,
} as const;
/** What {@link Stream.recvFlags} returns with STOP_AT_HOLE at a hole (libvirt's -3). */
export const STREAM_RECV_HOLE = -3;

/** How much {@link Stream.recvAll} and {@link Stream.sendAll} move at once (python-libvirt's streamBufSize). */
export const STREAM_BUF_SIZE = 262120;

/** python-libvirt's stream event callback: (stream, events, opaque); `events` is a mask of {@link StreamEventType}. */
export type StreamEventCallback<T = unknown> = (stream: Stream, events: number, opaque: T) => void;
/**
 * {@link Stream.sparseRecvAll}'s hole handler: called with the length of each hole received. A
 * negative number returned, or an exception thrown, stops the transfer and aborts the stream.
 */
export type StreamHoleSinkHandler<T = unknown> = (stream: Stream, length: number, opaque: T) => unknown;
/**
 * {@link Stream.sparseSendAll}'s section source (python-libvirt's holeHandler): where the data
 * to send is, as `[inData, sectionLength]` — data (true) or a hole (false) of that many bytes
 * from the current position; a length of 0 ends the transfer. A negative number returned, or
 * an exception thrown, aborts the stream.
 */
export type StreamSectionHandler<T = unknown> = (stream: Stream, opaque: T) => [boolean, number] | number | Promise<[boolean, number] | number>;
/**
 * {@link Stream.sparseSendAll}'s skip handler: moves the source past a hole of `length` bytes. A
 * negative number returned, or an exception thrown, aborts the stream.
 */
export type StreamSkipHandler<T = unknown> = (stream: Stream, length: number, opaque: T) => unknown;
/**
 * {@link Stream.recvAll}'s sink: called with each piece of data received. A negative number
 * returned, or an exception thrown (or a rejected promise), stops the transfer and aborts the stream.
 */
export type StreamSinkHandler<T = unknown> = (stream: Stream, data: Buffer, opaque: T) => unknown;
/**
 * {@link Stream.sendAll}'s source: returns (or resolves to) the next at most `nbytes` bytes to
 * send; an empty buffer, null or undefined ends the transfer. An exception aborts the stream.
 */
export type StreamSourceHandler<T = unknown> = (
  stream: Stream,
  nbytes: number,
  opaque: T,
) => Uint8Array | string | null | undefined | Promise<Uint8Array | string | null | undefined>;

type State = 'new' | 'open' | 'finished' | 'aborted';

interface EventRegistration {
  events: number;
  cb: StreamEventCallback<never>;
  opaque: unknown;
}

/** A thrown value as the VirError a stream reports (VIR_FROM_STREAMS). */
function streamError(err: unknown): VirError {
  if (err instanceof VirError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  return VirError.report(ErrorDomain.STREAMS, ErrorNumber.RPC, `stream had I/O failure: ${detail}`);
}

/**
 * A data stream (libvirt's virStreamPtr), with python-libvirt's methods, async. A new stream is
 * unused; {@link Domain.openConsole} or {@link Domain.screenshot} binds it to what the driver
 * opened, once (a stream is used for one transfer). Then {@link Stream.recv} and
 * {@link Stream.send} move bytes, or {@link Stream.recvAll} / {@link Stream.sendAll}, the async
 * iterator or {@link Stream.toDuplex}; {@link Stream.finish} ends the transfer and confirms it,
 * {@link Stream.abort} cancels it. Either releases what the driver holds (a console is detached;
 * the guest runs on).
 *
 * Calls on an unused stream raise VIR_ERR_NO_SUPPORT naming the function (as libvirt's stream
 * without a driver), except {@link Stream.abort}, which does nothing; calls on a finished or
 * aborted stream raise VIR_ERR_OPERATION_INVALID "stream is closed". A stream whose transfer
 * failed raises that failure (the driver's VirError, or VIR_ERR_RPC "stream had I/O failure")
 * from its next call, and is then aborted.
 */
export class Stream {
  private channel: Duplex | null = null;
  private state: State = 'new';
  private failure: VirError | null = null;
  /** The channel's readable side has ended: every byte was read or is buffered. */
  private ended = false;
  /** The channel closed (its peer hung up, or it was destroyed). */
  private hungUp = false;
  private registration: EventRegistration | null = null;
  private dispatchScheduled = false;
  private readonly wake = (): void => this.scheduleEvents();

  /** @internal Use {@link Connection.newStream}. */
  constructor(
    /** The connection the stream belongs to. */
    readonly connection: Connection,
    /** The {@link StreamFlags} it was created with. */
    readonly flags: number,
  ) {}

  /**
   * @internal Refuses a stream that cannot take a new transfer: not this connection's
   * (VIR_ERR_INVALID_ARG "stream must match connection of domain 'NAME'"), or already used
   * (VIR_ERR_OPERATION_INVALID "stream is already in use").
   */
  checkUnused(conn: Connection, domainName: string): void {
    if (conn !== this.connection) {
      throw VirError.invalidArg(ErrorDomain.DOMAIN, `invalid argument: stream must match connection of domain '${domainName}'`);
    }
    if (this.state !== 'new') throw VirError.report(ErrorDomain.STREAMS, ErrorNumber.OPERATION_INVALID, 'stream is already in use');
  }

  /** @internal Binds the stream to the driver's channel (after {@link Stream.checkUnused}). */
  attach(channel: Duplex): void {
    this.channel = channel;
    this.state = 'open';
    this.connection.streamOpened(this);
    channel.on('error', (err: unknown) => {
      this.failure ??= streamError(err);
      this.scheduleEvents();
    });
    channel.on('end', () => {
      this.ended = true;
      this.scheduleEvents();
    });
    channel.on('close', () => {
      this.hungUp = true;
      this.scheduleEvents();
    });
  }

  /** The open channel, or the error a call on a stream in this state raises. */
  private open(api: string): Duplex {
    if (this.state === 'new' || this.channel === null) throw noSupport(ErrorDomain.STREAMS, api);
    if (this.state !== 'open') throw VirError.report(ErrorDomain.STREAMS, ErrorNumber.OPERATION_INVALID, 'stream is closed');
    if (this.failure !== null) {
      const failure = this.failure;
      this.release();
      throw failure;
    }
    return this.channel;
  }

  /** Aborts after a failure: the channel goes, the stream is closed. */
  private release(): void {
    this.state = 'aborted';
    this.connection.streamClosed(this);
    this.dropCallback();
    this.channel?.destroy();
  }

  /**
   * Sends bytes (virStreamSend): resolves with their number once the channel has taken them
   * (the driver's side of the stream has room again), so a sender never outruns its receiver.
   *
   * Prerequisites: the stream is bound and open, and carries data this way (a console does; a
   * screenshot does not).
   *
   * Effects on success: the bytes are on their way to the driver (a guest console's input).
   * Effects on failure: the stream is aborted.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG when `data` is not bytes or a string.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT on an unused stream; VIR_ERR_OPERATION_INVALID
   * "stream is closed" after finish or abort.
   * @throws {@link VirError} the transfer's failure: the driver's error (through a daemon, the
   * daemon's, code for code), or VIR_ERR_RPC "stream had I/O failure".
   */
  async send(data: Uint8Array | string): Promise<number> {
    const ch = this.open('virStreamSend');
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw VirError.invalidArg(ErrorDomain.STREAMS, 'invalid argument: data in virStreamSend must be bytes');
    }
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (buf.length === 0) return 0;
    if (!ch.writable) {
      this.release();
      throw VirError.report(ErrorDomain.STREAMS, ErrorNumber.RPC, 'stream had I/O failure: the stream does not accept data');
    }
    try {
      await new Promise<void>((resolve, reject) => {
        ch.write(buf, (err) => (err ? reject(err) : resolve()));
      });
    } catch (err) {
      const e = this.failure ?? streamError(err);
      this.release();
      throw e;
    }
    return buf.length;
  }

  /**
   * Receives at most `nbytes` bytes (virStreamRecv), waiting until some arrive; an empty buffer
   * means the end of the data (then call {@link Stream.finish}). A promise never blocks the
   * process, so {@link StreamFlags} NONBLOCK changes nothing here; it only makes
   * {@link Stream.recvAll} and {@link Stream.sendAll} refuse the stream, as libvirt's do.
   *
   * Prerequisites: the stream is bound and open; `nbytes` is a positive integer.
   *
   * Effects on success: the bytes are taken from the stream. Effects on failure: the stream is
   * aborted (except for a bad `nbytes`, which changes nothing).
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a bad `nbytes`.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT on an unused stream; VIR_ERR_OPERATION_INVALID
   * "stream is closed" after finish or abort.
   * @throws {@link VirError} the transfer's failure: the driver's VirError (through a daemon, the
   * daemon's, code for code), or VIR_ERR_RPC "stream had I/O failure".
   */
  async recv(nbytes: number): Promise<Buffer> {
    return (await this.receive(nbytes, false, 'virStreamRecv')) as Buffer;
  }

  /**
   * Receives at most `nbytes` bytes with flags (virStreamRecvFlags). Without flags it is
   * {@link Stream.recv}: a hole of a sparse stream reads as zeros. With
   * {@link StreamRecvFlags}.STOP_AT_HOLE, at a hole it resolves with {@link STREAM_RECV_HOLE}
   * (-3, as python-libvirt) instead: take the hole with {@link Stream.recvHole}.
   *
   * Prerequisites: as {@link Stream.recv}; `flags` is 0 or STOP_AT_HOLE.
   *
   * Effects on success: the bytes (or nothing, at a hole) are taken from the stream. Effects on
   * failure: as {@link Stream.recv}.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a bad `nbytes` or other flags.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT, VIR_ERR_OPERATION_INVALID and the transfer's
   * failure as {@link Stream.recv}.
   */
  async recvFlags(nbytes: number, flags: number = 0): Promise<Buffer | number> {
    checkStreamFlags(flags, StreamRecvFlags.STOP_AT_HOLE, 'virStreamRecvFlags');
    return this.receive(nbytes, (flags & StreamRecvFlags.STOP_AT_HOLE) !== 0, 'virStreamRecvFlags');
  }

  /**
   * Takes the hole the stream is at (virStreamRecvHole), after {@link Stream.recvFlags} returned
   * {@link STREAM_RECV_HOLE}: resolves with its length in bytes, or 0 when the stream is at data
   * or at its end. Waits while nothing has arrived.
   *
   * Prerequisites: the stream is bound, open and sparse (a volume download opened with its
   * SPARSE flag); `flags` is 0.
   *
   * Effects on success: the hole is taken from the stream. Effects on failure: as
   * {@link Stream.recv}.
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for any flag.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT on an unused stream or one that is not sparse;
   * VIR_ERR_OPERATION_INVALID "stream is closed" after finish or abort; the transfer's failure.
   */
  async recvHole(flags: number = 0): Promise<number> {
    const ch = this.open('virStreamRecvHole');
    checkStreamFlags(flags, 0, 'virStreamRecvHole');
    if (!isSparseChannel(ch)) throw noSupport(ErrorDomain.STREAMS, 'virStreamRecvHole');
    for (;;) {
      if (this.failure !== null) this.open('virStreamRecvHole');
      if (this.state !== 'open') return 0;
      const chunk: unknown = ch.read();
      if (chunk instanceof StreamHole) return chunk.length;
      if (chunk !== null) {
        ch.unshift(chunk);
        return 0;
      }
      if (this.ended || ch.readableEnded || ch.destroyed) {
        if (this.failure !== null) continue;
        return 0;
      }
      await this.readable(ch);
    }
  }

  /**
   * Sends a hole of `length` bytes (virStreamSendHole): the receiver skips that many bytes
   * (they read as zeros) without their crossing the wire. Resolves once the channel took it.
   *
   * Prerequisites: the stream is bound, open and sparse (a volume upload opened with its SPARSE
   * flag); `length` is a non-negative integer; `flags` is 0.
   *
   * Effects on success: the hole is on its way to the driver. Effects on failure: the stream is
   * aborted (except for bad arguments, which change nothing).
   * @throws {@link VirError} VIR_ERR_INVALID_ARG for a bad `length` or any flag.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT on an unused stream or one that is not sparse;
   * VIR_ERR_OPERATION_INVALID "stream is closed" after finish or abort; the transfer's failure.
   */
  async sendHole(length: number, flags: number = 0): Promise<void> {
    const ch = this.open('virStreamSendHole');
    checkStreamFlags(flags, 0, 'virStreamSendHole');
    if (!Number.isSafeInteger(length) || length < 0) {
      throw VirError.invalidArg(ErrorDomain.STREAMS, 'invalid argument: length in virStreamSendHole must be a non-negative integer');
    }
    if (!ch.writableObjectMode) throw noSupport(ErrorDomain.STREAMS, 'virStreamSendHole');
    try {
      await new Promise<void>((resolve, reject) => {
        ch.write(new StreamHole(length), (err) => (err ? reject(err) : resolve()));
      });
    } catch (err) {
      const e = this.failure ?? streamError(err);
      this.release();
      throw e;
    }
  }

  /** Waits until the channel may have something to read (or ended, failed, closed). */
  private readable(ch: Duplex): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        ch.off('readable', done);
        ch.off('end', done);
        ch.off('error', done);
        ch.off('close', done);
        resolve();
      };
      ch.on('readable', done);
      ch.on('end', done);
      ch.on('error', done);
      ch.on('close', done);
    });
  }

  /** recv and recvFlags: data, zeros for a hole, or STREAM_RECV_HOLE when stopping at holes. */
  private async receive(nbytes: number, stopAtHole: boolean, api: string): Promise<Buffer | number> {
    const ch = this.open(api);
    if (!Number.isInteger(nbytes) || nbytes <= 0) {
      throw VirError.invalidArg(ErrorDomain.STREAMS, `invalid argument: nbytes in ${api} must be a positive integer`);
    }
    for (;;) {
      if (this.failure !== null) this.open(api);
      if (this.state !== 'open') return Buffer.alloc(0);
      const chunk: unknown = ch.read();
      if (chunk instanceof StreamHole) {
        if (stopAtHole) {
          ch.unshift(chunk);
          return STREAM_RECV_HOLE;
        }
        // As libvirt's client: a hole read without STOP_AT_HOLE is that many zeros.
        const n = Math.min(nbytes, chunk.length);
        if (chunk.length > n) ch.unshift(new StreamHole(chunk.length - n));
        if (n === 0) continue;
        return Buffer.alloc(n);
      }
      if (chunk !== null) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
        if (buf.length <= nbytes) return buf;
        ch.unshift(buf.subarray(nbytes));
        return buf.subarray(0, nbytes);
      }
      if (this.ended || ch.readableEnded || ch.destroyed) {
        if (this.failure !== null) continue;
        return Buffer.alloc(0);
      }
      await this.readable(ch);
    }
  }

  /**
   * Receives everything until the end of the data, handing each piece to `handler`
   * (python-libvirt's `recvAll`, virStreamRecvAll). Does not finish the stream: call
   * {@link Stream.finish} after.
   *
   * Prerequisites: the stream is bound, open and blocking (not created with NONBLOCK).
   *
   * Effects on success: all the data went to `handler`. Effects on failure (the handler's or
   * the transfer's): the stream is aborted and the error passed on.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "data sinks cannot be used for
   * non-blocking streams".
   * @throws {@link VirError} as {@link Stream.recv}; or what the handler threw (a VirError
   * VIR_ERR_SYSTEM_ERROR "recv handler failed" when it returned a negative number).
   */
  async recvAll<T = undefined>(handler: StreamSinkHandler<T>, opaque?: T): Promise<void> {
    this.open('virStreamRecvAll');
    if ((this.flags & StreamFlags.NONBLOCK) !== 0) {
      throw VirError.report(ErrorDomain.STREAMS, ErrorNumber.OPERATION_INVALID, 'data sinks cannot be used for non-blocking streams');
    }
    for (;;) {
      const got = await this.recv(STREAM_BUF_SIZE);
      if (got.length === 0) return;
      try {
        const r = await handler(this, got, opaque as T);
        if (typeof r === 'number' && r < 0) throw VirError.report(ErrorDomain.STREAMS, ErrorNumber.SYSTEM_ERROR, 'recv handler failed');
      } catch (err) {
        await this.abort().catch(() => {});
        throw err;
      }
    }
  }

  /**
   * Sends everything `handler` supplies until it returns nothing (python-libvirt's `sendAll`,
   * virStreamSendAll). Does not finish the stream: call {@link Stream.finish} after.
   *
   * Prerequisites: the stream is bound, open, blocking, and carries data to the driver.
   *
   * Effects on success: all the data was sent. Effects on failure: the stream is aborted and
   * the error passed on.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "data sources cannot be used for
   * non-blocking streams".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT, VIR_ERR_OPERATION_INVALID and the transfer's
   * failure as {@link Stream.send}; or what the handler threw.
   */
  async sendAll<T = undefined>(handler: StreamSourceHandler<T>, opaque?: T): Promise<void> {
    this.open('virStreamSendAll');
    if ((this.flags & StreamFlags.NONBLOCK) !== 0) {
      throw VirError.report(ErrorDomain.STREAMS, ErrorNumber.OPERATION_INVALID, 'data sources cannot be used for non-blocking streams');
    }
    for (;;) {
      let got: Uint8Array | string | null | undefined;
      try {
        got = await handler(this, STREAM_BUF_SIZE, opaque as T);
      } catch (err) {
        await this.abort().catch(() => {});
        throw err;
      }
      if (got === null || got === undefined || got.length === 0) return;
      await this.send(got);
    }
  }

  /**
   * Receives everything until the end of the data, data to `handler` and holes to
   * `holeHandler` (python-libvirt's `sparseRecvAll`, virStreamSparseRecvAll): a volume download
   * opened sparse keeps its holes. Does not finish the stream: call {@link Stream.finish} after.
   *
   * Prerequisites: the stream is bound, open and blocking (not created with NONBLOCK); sparse
   * for holes to arrive (on another stream it is {@link Stream.recvAll}).
   *
   * Effects on success: all the data and holes went to the handlers, in order. Effects on
   * failure (a handler's or the transfer's): the stream is aborted and the error passed on.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "data sinks cannot be used for
   * non-blocking streams".
   * @throws {@link VirError} as {@link Stream.recv}; or what a handler threw (a VirError
   * VIR_ERR_SYSTEM_ERROR "recv handler failed" / "hole handler failed" when it returned a
   * negative number).
   */
  async sparseRecvAll<T = undefined>(handler: StreamSinkHandler<T>, holeHandler: StreamHoleSinkHandler<T>, opaque?: T): Promise<void> {
    this.open('virStreamSparseRecvAll');
    if ((this.flags & StreamFlags.NONBLOCK) !== 0) {
      throw VirError.report(ErrorDomain.STREAMS, ErrorNumber.OPERATION_INVALID, 'data sinks cannot be used for non-blocking streams');
    }
    const sparse = isSparseChannel(this.open('virStreamSparseRecvAll'));
    for (;;) {
      const got = await this.receive(STREAM_BUF_SIZE, sparse, 'virStreamSparseRecvAll');
      try {
        if (typeof got === 'number') {
          const length = await this.recvHole();
          const r = await holeHandler(this, length, opaque as T);
          if (typeof r === 'number' && r < 0) throw VirError.report(ErrorDomain.STREAMS, ErrorNumber.SYSTEM_ERROR, 'hole handler failed');
          continue;
        }
        if (got.length === 0) return;
        const r = await handler(this, got, opaque as T);
        if (typeof r === 'number' && r < 0) throw VirError.report(ErrorDomain.STREAMS, ErrorNumber.SYSTEM_ERROR, 'recv handler failed');
      } catch (err) {
        await this.abort().catch(() => {});
        throw err;
      }
    }
  }

  /**
   * Sends a sparse source (python-libvirt's `sparseSendAll`, virStreamSparseSendAll): asks
   * `holeHandler` where the source is (`[inData, sectionLength]`); data sections are read
   * through `handler` (at most {@link STREAM_BUF_SIZE} at a time) and sent, holes are skipped
   * in the source with `skipHandler` and sent as holes ({@link Stream.sendHole}); a section
   * length of 0 ends it. Does not finish the stream: call {@link Stream.finish} after.
   *
   * Prerequisites: the stream is bound, open, blocking and sparse (a volume upload opened with
   * its SPARSE flag).
   *
   * Effects on success: the whole source was sent, holes as holes. Effects on failure: the
   * stream is aborted and the error passed on.
   * @throws {@link VirError} VIR_ERR_OPERATION_INVALID "data sources cannot be used for
   * non-blocking streams".
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT, VIR_ERR_OPERATION_INVALID and the transfer's
   * failure as {@link Stream.send} and {@link Stream.sendHole}; or what a handler threw (a
   * VirError VIR_ERR_SYSTEM_ERROR when it returned a negative number).
   */
  async sparseSendAll<T = undefined>(
    handler: StreamSourceHandler<T>,
    holeHandler: StreamSectionHandler<T>,
    skipHandler: StreamSkipHandler<T>,
    opaque?: T,
  ): Promise<void> {
    this.open('virStreamSparseSendAll');
    if ((this.flags & StreamFlags.NONBLOCK) !== 0) {
      throw VirError.report(ErrorDomain.STREAMS, ErrorNumber.OPERATION_INVALID, 'data sources cannot be used for non-blocking streams');
    }
    const failed = (what: string): VirError => VirError.report(ErrorDomain.STREAMS, ErrorNumber.SYSTEM_ERROR, `${what} handler failed`);
    for (;;) {
      let inData: boolean;
      let length: number;
      let got: Uint8Array | string | null | undefined = null;
      try {
        const section = await holeHandler(this, opaque as T);
        if (typeof section === 'number') throw failed('hole');
        [inData, length] = section;
        if (!Number.isSafeInteger(length) || length < 0) throw failed('hole');
        if (length === 0) return;
        if (!inData) {
          const r = await skipHandler(this, length, opaque as T);
          if (typeof r === 'number' && r < 0) throw failed('skip');
        } else {
          got = await handler(this, Math.min(STREAM_BUF_SIZE, length), opaque as T);
          if (got === null || got === undefined || got.length === 0) throw failed('send');
        }
      } catch (err) {
        await this.abort().catch(() => {});
        throw err;
      }
      if (inData) await this.send(got!);
      else await this.sendHole(length);
    }
  }

  /**
   * Ends the transfer and waits for its confirmation (virStreamFinish): what was sent has been
   * taken by the driver (through a daemon: the daemon confirmed). Call it once
   * {@link Stream.recv} returned the end of the data, or once everything was sent. Then the
   * driver's side is released (a console is detached; the guest runs on).
   *
   * Prerequisites: the stream is bound and open; no event callback is needed any more (it is
   * removed).
   *
   * Effects on success: the stream is finished. Effects on failure: the stream is aborted.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT on an unused stream; VIR_ERR_OPERATION_INVALID
   * "stream is closed" after finish or abort.
   * @throws {@link VirError} the transfer's failure: the driver's VirError (through a daemon, the
   * daemon's, code for code), or VIR_ERR_RPC "stream had I/O failure".
   */
  async finish(): Promise<void> {
    const ch = this.open('virStreamFinish');
    this.dropCallback();
    try {
      await new Promise<void>((resolve, reject) => {
        if (ch.writableFinished) return resolve();
        const onFinish = (): void => {
          ch.off('error', onError);
          resolve();
        };
        const onError = (err: unknown): void => {
          ch.off('finish', onFinish);
          reject(err);
        };
        ch.once('finish', onFinish);
        ch.once('error', onError);
        if (!ch.writableEnded) ch.end();
      });
    } catch (err) {
      const e = this.failure ?? streamError(err);
      this.release();
      throw e;
    }
    if (this.failure !== null) this.open('virStreamFinish');
    this.state = 'finished';
    this.connection.streamClosed(this);
    ch.destroy();
  }

  /**
   * Cancels the transfer (virStreamAbort): nothing more is sent or received, and the driver's
   * side is released (a console is detached; the guest runs on). An unused, finished or
   * aborted stream is left as it is.
   *
   * Prerequisites: none.
   *
   * Effects: the stream is aborted; resolves once the driver's side is closed. Never fails.
   */
  async abort(): Promise<void> {
    const ch = this.channel;
    if (this.state !== 'open' || ch === null) return;
    this.state = 'aborted';
    this.connection.streamClosed(this);
    this.dropCallback();
    if (ch.closed) return;
    await new Promise<void>((resolve) => {
      ch.once('close', () => resolve());
      ch.destroy();
    });
  }

  /**
   * Registers the stream's event callback (virStreamEventAddCallback): `cb(stream, events,
   * opaque)` is called, from the event loop, while any of `events` ({@link StreamEventType}
   * mask) holds — READABLE: data or the end of data waits for {@link Stream.recv}; WRITABLE:
   * {@link Stream.send} would be taken at once; ERROR: the transfer failed; HANGUP: the driver's
   * side closed. As in libvirt the condition is level-triggered: update the mask
   * ({@link Stream.eventUpdateCallback}) when you cannot act on an event.
   *
   * Prerequisites: the stream is bound and open; it has no callback yet.
   *
   * Effects on success: the callback is registered until removed, or the stream is finished or
   * aborted. Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT on an unused stream; VIR_ERR_OPERATION_INVALID
   * "stream is closed" after finish or abort.
   * @throws {@link VirError} VIR_ERR_INTERNAL_ERROR "multiple stream callbacks not supported".
   */
  eventAddCallback<T = undefined>(events: StreamEventType | number, cb: StreamEventCallback<T>, opaque?: T): void {
    const ch = this.openForEvents('virStreamEventAddCallback');
    if (this.registration !== null) {
      throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'multiple stream callbacks not supported');
    }
    this.registration = { events, cb: cb as StreamEventCallback<never>, opaque };
    for (const ev of ['readable', 'drain', 'end', 'close', 'error'] as const) ch.on(ev, this.wake);
    this.scheduleEvents();
  }

  /**
   * Changes the events the callback watches (virStreamEventUpdateCallback).
   *
   * Prerequisites: a callback is registered.
   *
   * Effects on success: the callback is called for `events` from now on. Effects on failure:
   * nothing changes.
   * @throws {@link VirError} VIR_ERR_INTERNAL_ERROR "no stream callback registered".
   */
  eventUpdateCallback(events: StreamEventType | number): void {
    if (this.registration === null) {
      throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'no stream callback registered');
    }
    this.registration.events = events;
    this.scheduleEvents();
  }

  /**
   * Removes the event callback (virStreamEventRemoveCallback).
   *
   * Prerequisites: a callback is registered.
   *
   * Effects on success: the callback is called no more. Effects on failure: nothing changes.
   * @throws {@link VirError} VIR_ERR_INTERNAL_ERROR "no stream callback registered".
   */
  eventRemoveCallback(): void {
    if (this.registration === null) {
      throw VirError.report(ErrorDomain.RPC, ErrorNumber.INTERNAL_ERROR, 'no stream callback registered');
    }
    this.dropCallback();
  }

  /**
   * The received data as an async iterator of Buffers (tsvirt's addition, built on
   * {@link Stream.recv}): it ends at the end of the data (then call {@link Stream.finish});
   * leaving the loop early (break, throw) aborts the stream.
   *
   * Prerequisites: as {@link Stream.recv}. Effects: the data is taken from the stream.
   * @throws {@link VirError} from the loop, as {@link Stream.recv}: VIR_ERR_NO_SUPPORT on an
   * unused stream, VIR_ERR_OPERATION_INVALID "stream is closed", the transfer's failure.
   *
   * @example
   * for await (const chunk of stream) process.stdout.write(chunk);
   * await stream.finish();
   */
  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    let done = false;
    return {
      next: async (): Promise<IteratorResult<Buffer>> => {
        if (done) return { value: undefined, done: true };
        const got = await this.recv(STREAM_BUF_SIZE);
        if (got.length === 0) {
          done = true;
          return { value: undefined, done: true };
        }
        return { value: got, done: false };
      },
      return: async (): Promise<IteratorResult<Buffer>> => {
        if (!done) {
          done = true;
          await this.abort();
        }
        return { value: undefined, done: true };
      },
    };
  }

  /**
   * The stream as a Node Duplex (tsvirt's addition), for `pipe()` and `stream.pipeline()`: the
   * driver's own channel, so Node's backpressure reaches the driver (a reader that stops pauses
   * the console). It shares the stream's data with {@link Stream.recv}: use one or the other.
   * Ending its writable side and destroying it are {@link Stream.finish} and
   * {@link Stream.abort} without the confirmation; call those on the Stream when done.
   *
   * Prerequisites: the stream is bound and open.
   *
   * Effects: none.
   * @throws {@link VirError} VIR_ERR_NO_SUPPORT on an unused stream; VIR_ERR_OPERATION_INVALID
   * "stream is closed" after finish or abort.
   */
  toDuplex(): Duplex {
    return this.openForEvents('virStreamToDuplex');
  }

  /** The channel, for calls that only watch it (a failure is reported through them). */
  private openForEvents(api: string): Duplex {
    if (this.state === 'new' || this.channel === null) throw noSupport(ErrorDomain.STREAMS, api);
    if (this.state !== 'open') throw VirError.report(ErrorDomain.STREAMS, ErrorNumber.OPERATION_INVALID, 'stream is closed');
    return this.channel;
  }

  private dropCallback(): void {
    if (this.registration === null) return;
    this.registration = null;
    const ch = this.channel;
    if (ch !== null) for (const ev of ['readable', 'drain', 'end', 'close', 'error'] as const) ch.off(ev, this.wake);
  }

  /** What the registered callback should hear about now. */
  private pendingEvents(): number {
    const reg = this.registration;
    const ch = this.channel;
    if (reg === null || ch === null || this.state !== 'open') return 0;
    let events = 0;
    if ((reg.events & StreamEventType.READABLE) !== 0 && (ch.readableLength > 0 || this.ended)) events |= StreamEventType.READABLE;
    if ((reg.events & StreamEventType.WRITABLE) !== 0 && ch.writable && !ch.writableNeedDrain) events |= StreamEventType.WRITABLE;
    if ((reg.events & StreamEventType.ERROR) !== 0 && this.failure !== null) events |= StreamEventType.ERROR;
    if ((reg.events & StreamEventType.HANGUP) !== 0 && this.hungUp && this.failure === null) events |= StreamEventType.HANGUP;
    return events;
  }

  private scheduleEvents(): void {
    if (this.dispatchScheduled || this.registration === null) return;
    this.dispatchScheduled = true;
    setImmediate(() => {
      this.dispatchScheduled = false;
      const events = this.pendingEvents();
      const reg = this.registration;
      if (events === 0 || reg === null) return;
      try {
        reg.cb(this, events, reg.opaque as never);
      } catch {
        // As a libvirt event callback: what it throws does not break the stream.
      }
      // Level-triggered: while the condition holds, the callback is called again.
      if (this.pendingEvents() !== 0) this.scheduleEvents();
    });
  }
}

/** libvirt's virCheckFlags for the stream calls: other bits are VIR_ERR_INVALID_ARG. */
function checkStreamFlags(flags: number, supported: number, api: string): void {
  if (!Number.isInteger(flags) || flags < 0 || (flags & ~supported) !== 0) {
    throw VirError.invalidArg(ErrorDomain.STREAMS, `unsupported flags (0x${((flags & ~supported) >>> 0).toString(16)}) in function ${api}`);
  }
}
