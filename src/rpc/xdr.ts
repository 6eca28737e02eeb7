/**
 * XDR (RFC 4506) encoding and decoding, as libvirt's remote protocol uses it.
 *
 * The reader never trusts a length it reads: every count is checked against the declared
 * maximum and against the bytes that remain before anything is allocated, and every failure
 * is an {@link XdrError}, never a RangeError or a TypeError.
 */

/** Why a decode failed. Stable codes, for logs and tests. */
export type XdrErrorCode =
  | 'XDR_SHORT' // the buffer ends before the value does
  | 'XDR_TOO_LONG' // a string, opaque or array is longer than its declared maximum
  | 'XDR_BAD_BOOL' // a bool or optional-pointer flag other than 0 or 1
  | 'XDR_TRAILING' // bytes left over after the value
  | 'XDR_BAD_VALUE' // a value out of range for its type (encoding side, or an enum)
  | 'XDR_BAD_UTF8'; // a string whose bytes are not UTF-8

/** The one error the XDR layer throws. */
export class XdrError extends Error {
  override readonly name = 'XdrError';
  /**
   * The struct field being decoded when it failed (the outermost struct's, set by
   * protocol.ts's `struct`), so that a caller can word the error for what the field holds.
   */
  field: string | undefined;
  constructor(
    readonly code: XdrErrorCode,
    message: string,
    /** For XDR_BAD_UTF8: the string's bytes as received. */
    readonly bytes?: Buffer,
  ) {
    super(message);
  }
}

/**
 * Strings are decoded strictly: bytes that are not UTF-8 fail instead of becoming U+FFFD, which
 * would make distinct names (`caf\xe9`, `caf\xe8`) one and the same.
 */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes `bytes` as strict UTF-8.
 *
 * @throws XdrError XDR_BAD_UTF8 (carrying the bytes) when they are not UTF-8.
 */
export function decodeUtf8(bytes: Buffer): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new XdrError('XDR_BAD_UTF8', `XDR: string of ${bytes.length} bytes is not valid UTF-8`, Buffer.from(bytes));
  }
}

const pad4 = (n: number): number => (4 - (n & 3)) & 3;

/** Reads XDR values from a buffer, front to back. */
export class XdrReader {
  private pos: number;
  private readonly end: number;

  constructor(
    private readonly buf: Buffer,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  /** Bytes not read yet. */
  remaining(): number {
    return this.end - this.pos;
  }
  /** The read position. */
  offset(): number {
    return this.pos;
  }

  private need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      throw new XdrError('XDR_SHORT', `XDR: ${what} needs ${n} bytes, ${this.end - this.pos} left`);
    }
  }

  int(): number {
    this.need(4, 'int');
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  uint(): number {
    this.need(4, 'unsigned int');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  hyper(): bigint {
    this.need(8, 'hyper');
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  uhyper(): bigint {
    this.need(8, 'unsigned hyper');
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }
  /** An unsigned hyper as a number; beyond 2^53 it fails rather than lose precision. */
  uhyperNumber(): number {
    const v = this.uhyper();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new XdrError('XDR_BAD_VALUE', 'XDR: unsigned hyper beyond 2^53');
    return Number(v);
  }
  bool(): boolean {
    const v = this.uint();
    if (v > 1) throw new XdrError('XDR_BAD_BOOL', `XDR: bool must be 0 or 1, got ${v}`);
    return v === 1;
  }

  /** Fixed-length opaque data (with its padding). Returns a copy. */
  opaqueFixed(n: number): Buffer {
    const total = n + pad4(n);
    this.need(total, `opaque[${n}]`);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += total;
    return out;
  }

  private length(max: number, what: string, unit: number): number {
    const n = this.uint();
    if (n > max) throw new XdrError('XDR_TOO_LONG', `XDR: ${what} length ${n} exceeds maximum ${max}`);
    // Every element takes at least `unit` bytes: refuse counts the buffer cannot hold.
    if (n * unit > this.end - this.pos) {
      throw new XdrError('XDR_SHORT', `XDR: ${what} of ${n} needs more than the ${this.end - this.pos} bytes left`);
    }
    return n;
  }

  /** Variable-length opaque data of at most `max` bytes. Returns a copy. */
  opaqueVar(max: number): Buffer {
    const n = this.length(max, 'opaque', 1);
    return this.opaqueFixed(n);
  }
  /** A string of at most `max` bytes, decoded as strict UTF-8 (XDR_BAD_UTF8 otherwise). */
  string(max: number): string {
    const n = this.length(max, 'string', 1);
    const total = n + pad4(n);
    this.need(total, `string<${max}>`);
    const s = decodeUtf8(this.buf.subarray(this.pos, this.pos + n));
    this.pos += total;
    return s;
  }
  /** An optional value (`T *`): a bool, then the value when it is true. */
  optional<T>(read: (r: XdrReader) => T): T | null {
    return this.bool() ? read(this) : null;
  }
  /**
   * A variable-length array of at most `max` elements, each at least `minElementBytes` long on
   * the wire (so a huge count is refused before anything is allocated).
   */
  array<T>(max: number, read: (r: XdrReader) => T, minElementBytes = 4): T[] {
    const n = this.length(max, 'array', Math.max(1, minElementBytes));
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(read(this));
    return out;
  }
  /** Fails unless every byte was consumed (libvirt refuses trailing garbage too). */
  done(): void {
    if (this.pos !== this.end) {
      throw new XdrError('XDR_TRAILING', `XDR: ${this.end - this.pos} unexpected trailing bytes`);
    }
  }
}

/** Writes XDR values into a growing buffer. */
export class XdrWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Bytes written so far. */
  length(): number {
    return this.pos;
  }

  int(v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new XdrError('XDR_BAD_VALUE', `XDR: int out of range: ${v}`);
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }
  uint(v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new XdrError('XDR_BAD_VALUE', `XDR: unsigned int out of range: ${v}`);
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
    return this;
  }
  hyper(v: bigint | number): this {
    const b = BigInt(v);
    if (b < -(1n << 63n) || b >= 1n << 63n) throw new XdrError('XDR_BAD_VALUE', `XDR: hyper out of range: ${b}`);
    this.ensure(8);
    this.buf.writeBigInt64BE(b, this.pos);
    this.pos += 8;
    return this;
  }
  uhyper(v: bigint | number): this {
    const b = BigInt(v);
    if (b < 0n || b >= 1n << 64n) throw new XdrError('XDR_BAD_VALUE', `XDR: unsigned hyper out of range: ${b}`);
    this.ensure(8);
    this.buf.writeBigUInt64BE(b, this.pos);
    this.pos += 8;
    return this;
  }
  bool(v: boolean): this {
    return this.uint(v ? 1 : 0);
  }
  opaqueFixed(data: Uint8Array, n = data.length): this {
    if (data.length !== n) throw new XdrError('XDR_BAD_VALUE', `XDR: opaque[${n}] given ${data.length} bytes`);
    const p = pad4(n);
    this.ensure(n + p);
    this.buf.set(data, this.pos);
    this.buf.fill(0, this.pos + n, this.pos + n + p);
    this.pos += n + p;
    return this;
  }
  opaqueVar(data: Uint8Array, max: number): this {
    if (data.length > max) throw new XdrError('XDR_TOO_LONG', `XDR: opaque length ${data.length} exceeds maximum ${max}`);
    this.uint(data.length);
    return this.opaqueFixed(data);
  }
  string(s: string, max: number): this {
    const n = Buffer.byteLength(s, 'utf8');
    if (n > max) throw new XdrError('XDR_TOO_LONG', `XDR: string length ${n} exceeds maximum ${max}`);
    const p = pad4(n);
    this.ensure(4 + n + p);
    this.buf.writeUInt32BE(n, this.pos);
    this.buf.write(s, this.pos + 4, n, 'utf8');
    this.buf.fill(0, this.pos + 4 + n, this.pos + 4 + n + p);
    this.pos += 4 + n + p;
    return this;
  }
  optional<T>(v: T | null | undefined, write: (w: XdrWriter, v: T) => void): this {
    if (v === null || v === undefined) return this.uint(0);
    this.uint(1);
    write(this, v);
    return this;
  }
  array<T>(items: readonly T[], max: number, write: (w: XdrWriter, v: T) => void): this {
    if (items.length > max) throw new XdrError('XDR_TOO_LONG', `XDR: array length ${items.length} exceeds maximum ${max}`);
    this.uint(items.length);
    for (const it of items) write(this, it);
    return this;
  }
  /** Raw bytes, already XDR. */
  raw(data: Uint8Array): this {
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
    return this;
  }
  /** Patches an unsigned int already written at `at`. */
  patchUint(at: number, v: number): this {
    this.buf.writeUInt32BE(v, at);
    return this;
  }
  /** The bytes written (a view; copy it if the writer is reused). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** A type's encoder and decoder, as one value. */
export interface Codec<T> {
  enc(w: XdrWriter, v: T): void;
  dec(r: XdrReader): T;
}

/** Encodes one value with a codec into a fresh buffer. */
export function encode<T>(codec: Codec<T>, v: T): Buffer {
  const w = new XdrWriter();
  codec.enc(w, v);
  return w.finish();
}

/** Decodes exactly one value; trailing bytes fail. */
export function decode<T>(codec: Codec<T>, buf: Buffer, start = 0, end = buf.length): T {
  const r = new XdrReader(buf, start, end);
  const v = codec.dec(r);
  r.done();
  return v;
}
