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

  /** The daemon stopped reading (socket.pause()); feed() still delivers, for tests of that. */
  paused = false;
  /** Callbacks of writes held while stalled, called by {@link flush} (or with an error by destroy). */
  private held: { buf: Buffer; cb?: (err?: Error) => void }[] = [];

  write(buf: Buffer, cb?: (err?: Error) => void): boolean {
    if (this.stalled) {
      this.writableLength += buf.length;
      this.held.push({ buf, cb });
      return false;
    }
    for (const f of this.reader.push(Buffer.from(buf))) this.frames.push(f);
    // As a socket's: once the bytes are handed to the kernel, after this call.
    if (cb !== undefined) queueMicrotask(() => cb());
    return true;
  }
  /** The peer reads again: what was held is delivered and its callbacks called. */
  flush(): void {
    this.stalled = false;
    const held = this.held;
    this.held = [];
    this.writableLength = 0;
    for (const { buf, cb } of held) this.write(buf, cb);
  }
  pause(): this {
    this.paused = true;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      const held = this.held;
      this.held = [];
      queueMicrotask(() => {
        for (const { cb } of held) cb?.(new Error('socket destroyed'));
        this.emit('close');
      });
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
