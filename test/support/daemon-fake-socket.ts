/**
 * An in-memory stand-in for a client's socket, so that a tsvirtd Client can be driven without
 * the kernel: bytes pushed in arrive as 'data', bytes written are cut into frames.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { FrameReader, type Frame } from '../../src/rpc/message.js';
import { Logger } from '../../src/daemon/log.js';

export class FakeSocket extends EventEmitter {
  destroyed = false;
  readonly frames: Frame[] = [];
  private readonly reader = new FrameReader();
  /** Bytes written but not read by the peer; grows only while {@link stalled}. */
  writableLength = 0;
  /** A peer that stopped reading: writes pile up in writableLength. */
  stalled = false;

  write(buf: Buffer): boolean {
    if (this.stalled) {
      this.writableLength += buf.length;
      return false;
    }
    for (const f of this.reader.push(Buffer.from(buf))) this.frames.push(f);
    return true;
  }
  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      queueMicrotask(() => this.emit('close'));
    }
    return this;
  }
  /** Delivers bytes as if the peer had sent them. */
  feed(buf: Buffer): void {
    if (!this.destroyed) this.emit('data', buf);
  }
  asSocket(): Socket {
    return this as unknown as Socket;
  }
}

/** A logger that records warnings and errors instead of printing them. */
export class RecordingLogger extends Logger {
  readonly problems: string[] = [];
  constructor() {
    super('error');
  }
  override warn(msg: string): void {
    this.problems.push(`warn: ${msg}`);
  }
  override error(msg: string): void {
    this.problems.push(`error: ${msg}`);
  }
}
