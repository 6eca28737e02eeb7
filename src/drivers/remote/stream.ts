/**
 * A libvirt stream seen from the client side, as a Node Duplex: what the daemon sends on the
 * stream's serial is read from it, what is written to it goes out as STREAM/CONTINUE packets of
 * at most 262,120 bytes. Ending it is libvirt's finish (STREAM/OK, answered with STREAM/OK);
 * destroying it before then is libvirt's abort (STREAM/ERROR with an empty payload, as
 * libvirt's client sends it, also answered with STREAM/OK). The daemon's STREAM/ERROR is the
 * Duplex's error, code for code.
 *
 * A sparse channel (`{ sparse: true }`, for procedures whose stream was opened sparse, such as
 * volume upload and download with their SPARSE flags) is in object mode: Buffers and
 * StreamHoles (core/stream-hole.ts), holes going out and coming in as STREAM_HOLE packets. A
 * hole on a channel that is not sparse fails it (VIR_ERR_RPC "Unexpected stream hole").
 *
 * Data the daemon sends is kept until read, as libvirt's client keeps it: the daemon is not
 * stopped (that would stop every other call on the connection too), so a caller that opens a
 * console and never reads it should abort it.
 */
import { Duplex } from 'node:stream';
import { MessageStatus, STREAM_CHUNK_MAX } from '../../rpc/message.js';
import type { VirError } from '../../core/errors.js';
import type { RpcClient, StreamSink } from './client.js';
import { socketClosedError } from './client.js';
import { StreamHole } from '../../core/stream-hole.js';

/** How long an abort waits for the daemon's confirmation before the channel closes anyway. */
const ABORT_CONFIRM_MS = 10_000;

export class RemoteStreamChannel extends Duplex implements StreamSink {
  /** The serial of the call that opened the stream (set by the call). */
  private serial = -1;
  /** The daemon's error, or the socket's end: the stream is over. */
  private failure: VirError | null = null;
  /** A finish or an abort is waiting for its confirmation. */
  private confirmWaiter: ((err: VirError | null) => void) | null = null;
  /** Finished or aborted and confirmed (or failed): nothing more goes out. */
  private over = false;

  /** A hole from the daemon (sparse channels only): a StreamHole for the reader. */
  readonly onHole: ((length: number) => void) | undefined;

  /**
   * `sparse`: the channel carries holes both ways (object mode: Buffers and StreamHoles), for
   * the procedures whose stream was opened sparse.
   */
  constructor(
    private readonly rpc: RpcClient,
    readonly proc: number,
    options: { sparse?: boolean } = {},
  ) {
    super({ allowHalfOpen: true, objectMode: options.sparse === true });
    this.onHole = options.sparse === true ? (length) => void this.push(new StreamHole(length)) : undefined;
  }

  // StreamSink.

  opened(serial: number): void {
    this.serial = serial;
  }

  onData(payload: Buffer): void {
    this.push(payload);
  }
  onEnd(): void {
    this.push(null);
  }
  onError(err: VirError): void {
    this.over = true;
    this.failure = err;
    const waiter = this.confirmWaiter;
    this.confirmWaiter = null;
    if (waiter !== null) waiter(err);
    else this.destroy(err);
  }
  onConfirm(): void {
    this.over = true;
    const waiter = this.confirmWaiter;
    this.confirmWaiter = null;
    waiter?.(null);
  }

  // Duplex.

  override _read(): void {
    // Data is pushed as it arrives.
  }

  override _write(chunk: Buffer | StreamHole, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const sent = chunk instanceof StreamHole ? this.sendHole(chunk.length) : this.sendData(chunk);
    void sent.then(() => callback(), (err: Error) => callback(err));
  }

  private async sendHole(length: number): Promise<void> {
    if (this.failure !== null) throw this.failure;
    if (this.over) throw socketClosedError();
    await this.rpc.sendStreamHole(this.proc, this.serial, length);
  }

  private async sendData(chunk: Buffer): Promise<void> {
    for (let at = 0; at < chunk.length; at += STREAM_CHUNK_MAX) {
      if (this.failure !== null) throw this.failure;
      if (this.over) throw socketClosedError();
      await this.rpc.sendStream(this.proc, this.serial, MessageStatus.CONTINUE, chunk.subarray(at, at + STREAM_CHUNK_MAX));
    }
  }

  /** Finish: STREAM/OK, then the daemon's STREAM/OK (or its error). */
  override _final(callback: (error?: Error | null) => void): void {
    if (this.failure !== null) return callback(this.failure);
    if (this.over) return callback();
    void this.closeWith(MessageStatus.OK).then((err) => callback(err));
  }

  /** Abort (unless finished): STREAM/ERROR, then the daemon's STREAM/OK. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.over || this.failure !== null) {
      this.rpc.closeStream(this.serial);
      return callback(error);
    }
    const timer = setTimeout(() => this.onConfirm(), ABORT_CONFIRM_MS);
    void this.closeWith(MessageStatus.ERROR).then(() => {
      clearTimeout(timer);
      this.rpc.closeStream(this.serial);
      callback(error);
    });
  }

  private closeWith(status: MessageStatus): Promise<VirError | null> {
    return new Promise((resolve) => {
      this.confirmWaiter = resolve;
      this.rpc.sendStream(this.proc, this.serial, status).catch((err: VirError) => {
        this.over = true;
        if (this.confirmWaiter === resolve) {
          this.confirmWaiter = null;
          resolve(err);
        }
      });
    });
  }
}
