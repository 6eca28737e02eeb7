/**
 * libvirt's RPC framing (virnetprotocol.x): a 4-byte big-endian length that counts itself, a
 * 24-byte header, then the XDR payload. Plus a streaming reader that cuts a socket's byte stream
 * into frames without trusting the length words it reads.
 */
import { XdrError } from './xdr.js';

/** Largest whole message (length word included): 32 MiB. */
export const MESSAGE_MAX = 33554432;
/** Size of a message's first buffer in libvirt (only informative here). */
export const MESSAGE_INITIAL = 65536;
/** The length word. */
export const LEN_MAX = 4;
/** The header: prog, vers, proc, type, serial, status. */
export const HEADER_SIZE = 24;
/** Largest payload: MESSAGE_MAX minus length word and header. */
export const PAYLOAD_MAX = MESSAGE_MAX - LEN_MAX - HEADER_SIZE;
/** libvirt's limit on one string in a message. */
export const STRING_MAX = 4194304;
/** Legacy payload limit of older peers. */
export const LEGACY_PAYLOAD_MAX = 262120;
/**
 * The most data one STREAM packet carries, as libvirt's daemon and client cut it
 * (VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX), so that any peer accepts it.
 */
export const STREAM_CHUNK_MAX = LEGACY_PAYLOAD_MAX;

/** virNetMessageType. */
export enum MessageType {
  CALL = 0,
  REPLY = 1,
  MESSAGE = 2,
  STREAM = 3,
  CALL_WITH_FDS = 4,
  REPLY_WITH_FDS = 5,
  STREAM_HOLE = 6,
}

/** virNetMessageStatus. */
export enum MessageStatus {
  OK = 0,
  ERROR = 1,
  CONTINUE = 2,
}

/** The header of one message. `proc` is signed on the wire, the rest unsigned. */
export interface MessageHeader {
  prog: number;
  vers: number;
  proc: number;
  type: MessageType | number;
  serial: number;
  status: MessageStatus | number;
}

/** One message as read off the wire: its header and a view of its payload. */
export interface Frame {
  header: MessageHeader;
  payload: Buffer;
}

/** Builds a whole packet: length word, header, payload. */
export function encodeFrame(header: MessageHeader, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const total = LEN_MAX + HEADER_SIZE + payload.length;
  if (total > MESSAGE_MAX) throw new XdrError('XDR_TOO_LONG', `message of ${total} bytes exceeds ${MESSAGE_MAX}`);
  const out = Buffer.allocUnsafe(total);
  out.writeUInt32BE(total, 0);
  out.writeUInt32BE(header.prog >>> 0, 4);
  out.writeUInt32BE(header.vers >>> 0, 8);
  out.writeInt32BE(header.proc | 0, 12);
  out.writeUInt32BE(header.type >>> 0, 16);
  out.writeUInt32BE(header.serial >>> 0, 20);
  out.writeUInt32BE(header.status >>> 0, 24);
  out.set(payload, LEN_MAX + HEADER_SIZE);
  return out;
}

/** Reads the header of a packet body (after the length word). */
export function decodeHeader(buf: Buffer, at = 0): MessageHeader {
  if (buf.length - at < HEADER_SIZE) throw new XdrError('XDR_SHORT', 'message shorter than its header');
  return {
    prog: buf.readUInt32BE(at),
    vers: buf.readUInt32BE(at + 4),
    proc: buf.readInt32BE(at + 8),
    type: buf.readUInt32BE(at + 12),
    serial: buf.readUInt32BE(at + 16),
    status: buf.readUInt32BE(at + 20),
  };
}

/** Decodes one whole packet (length word included); the length must match the buffer. */
export function decodeFrame(packet: Buffer): Frame {
  if (packet.length < LEN_MAX + HEADER_SIZE) throw new XdrError('XDR_SHORT', 'packet shorter than length word and header');
  const len = packet.readUInt32BE(0);
  if (len !== packet.length) throw new XdrError('XDR_BAD_VALUE', `length word ${len} does not match packet of ${packet.length}`);
  if (len > MESSAGE_MAX) throw new XdrError('XDR_TOO_LONG', `length word ${len} exceeds ${MESSAGE_MAX}`);
  return { header: decodeHeader(packet, LEN_MAX), payload: packet.subarray(LEN_MAX + HEADER_SIZE) };
}

/**
 * Cuts a byte stream into frames. Feed it chunks with {@link FrameReader.push}; it returns the
 * frames completed so far. A length word below 28 or above {@link MESSAGE_MAX} is a protocol
 * error: `push` throws an XdrError and the reader stays failed (the caller closes the socket,
 * as libvirtd does). Memory held is bounded by one message.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failed: XdrError | null = null;
  /** Bytes to drop before the next length word (the one-byte carriers of passed descriptors). */
  private skipBytes = 0;

  constructor(private readonly maxMessage = MESSAGE_MAX) {}

  /** Bytes held, waiting for the rest of a frame. */
  pending(): number {
    return this.buffered;
  }

  push(chunk: Buffer): Frame[] {
    this.append(chunk);
    const frames: Frame[] = [];
    for (let f = this.next(); f !== null; f = this.next()) frames.push(f);
    return frames;
  }

  /**
   * Adds bytes without cutting them into frames: with {@link FrameReader.next}, for a reader that
   * takes frames only as fast as it serves them (tsvirtd's max_client_requests). Throws as push.
   */
  append(chunk: Buffer): void {
    if (this.failed !== null) throw this.failed;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
  }

  /**
   * Drops the next `n` bytes of the stream: after a message with descriptors (CALL_WITH_FDS,
   * REPLY_WITH_FDS) each descriptor is carried by one byte of its own, which is no frame's.
   */
  skip(n: number): void {
    this.skipBytes += n;
    this.settleSkip();
  }

  /** Drops what is held of the bytes to skip; true when none are left to wait for. */
  settleSkip(): boolean {
    if (this.skipBytes > 0 && this.buffered > 0) {
      const n = Math.min(this.skipBytes, this.buffered);
      this.take(n);
      this.skipBytes -= n;
    }
    return this.skipBytes === 0;
  }

  /**
   * The next whole frame from the bytes held, or null until more arrive. Throws as push, as soon
   * as the length word is read (before its body is waited for).
   */
  next(): Frame | null {
    if (this.failed !== null) throw this.failed;
    if (!this.settleSkip()) return null;
    if (this.buffered < LEN_MAX) return null;
    const len = this.peekLength();
    if (len < LEN_MAX + HEADER_SIZE || len > this.maxMessage) {
      this.failed = new XdrError(
        len > this.maxMessage ? 'XDR_TOO_LONG' : 'XDR_SHORT',
        `packet length ${len} outside ${LEN_MAX + HEADER_SIZE}..${this.maxMessage}`,
      );
      this.chunks = [];
      this.buffered = 0;
      throw this.failed;
    }
    if (this.buffered < len) return null;
    const packet = this.take(len);
    return { header: decodeHeader(packet, LEN_MAX), payload: packet.subarray(LEN_MAX + HEADER_SIZE) };
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    // The length word straddles chunks: read its 4 bytes without moving anything.
    const word = Buffer.alloc(4);
    let filled = 0;
    for (const c of this.chunks) {
      const k = Math.min(c.length, 4 - filled);
      c.copy(word, filled, 0, k);
      filled += k;
      if (filled === 4) break;
    }
    return word.readUInt32BE(0);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let filled = 0;
      while (filled < n) {
        const c = this.chunks[0]!;
        const k = Math.min(c.length, n - filled);
        c.copy(out, filled, 0, k);
        filled += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return out;
  }
}
