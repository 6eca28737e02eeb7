/**
 * Disk image files of a directory pool: qemu-img for what changes an image (create, backing,
 * convert, resize), and a header read for what a refresh needs (format, virtual size, backing
 * file) — the way libvirt probes volumes itself instead of running a program per file, so that
 * a pool of thousands of volumes refreshes in well under a second. `qemu-img info` reports the
 * same figures (the tests compare them).
 */
import { execFile } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync, constants as fsc } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';

/** What a probe finds in an image file. */
export interface ImageFacts {
  /** 'qcow2' or 'raw' (anything not qcow2 is read as raw, as libvirt's dir pool does). */
  format: 'qcow2' | 'raw';
  /** Virtual size in bytes. */
  capacity: number;
  /** Bytes allocated on the host (st_blocks * 512). */
  allocation: number;
  /** File size in bytes. */
  physical: number;
  /** qcow2's compat level: '0.10' (version 2) or '1.1' (version 3). */
  compat?: string;
  backingPath?: string;
  backingFormat?: string;
  mode: number;
  uid: number;
  gid: number;
}

const QCOW2_MAGIC = 0x514649fb;
/** The backing file format header extension of qcow2. */
const EXT_BACKING_FORMAT = 0xe2792aca;

/**
 * Reads an image's facts from its header and stat. Null when the path is not a regular file.
 * @throws Error on I/O errors other than a vanished file.
 */
export async function probeImage(path: string): Promise<ImageFacts | null> {
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (!st.isFile()) return null;
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    const facts = factsFrom(head, bytesRead, st, () => 0);
    if (facts.backingPath === undefined) return facts;
    // The backing name lies beyond the header: read it, then read the header again with it.
    const offset = Number(head.readBigUInt64BE(8));
    const b = Buffer.alloc(head.readUInt32BE(16));
    await fh.read(b, 0, b.length, offset);
    return factsFrom(head, bytesRead, st, (buf) => b.copy(buf));
  } finally {
    await fh.close();
  }
}

/**
 * {@link probeImage} with synchronous calls, for a refresh of many files: a few microseconds of
 * system calls per file, where a round trip through the thread pool per call would dominate.
 * Null when the path is not a regular file (or vanished).
 */
export function probeImageSync(path: string): ImageFacts | null {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENXIO' || code === 'EACCES') return null;
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return null;
    const head = Buffer.alloc(4096);
    const bytesRead = readSync(fd, head, 0, head.length, 0);
    return factsFrom(head, bytesRead, st, (buf, pos) => readSync(fd, buf, 0, buf.length, pos));
  } finally {
    closeSync(fd);
  }
}

/** What a header of `bytesRead` bytes and the file's stat say; `readAt` reads the backing name. */
function factsFrom(
  head: Buffer,
  bytesRead: number,
  st: { blocks: number; size: number; mode: number; uid: number; gid: number },
  readAt: (buf: Buffer, pos: number) => number,
): ImageFacts {
  const base = { allocation: st.blocks * 512, physical: st.size, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  if (bytesRead < 72 || head.readUInt32BE(0) !== QCOW2_MAGIC) return { format: 'raw', capacity: st.size, ...base };
  const version = head.readUInt32BE(4);
  const backingOffset = Number(head.readBigUInt64BE(8));
  const backingSize = head.readUInt32BE(16);
  const facts: ImageFacts = { format: 'qcow2', capacity: Number(head.readBigUInt64BE(24)), compat: version >= 3 ? '1.1' : '0.10', ...base };
  if (backingOffset !== 0 && backingSize > 0 && backingSize < 4096) {
    const b = Buffer.alloc(backingSize);
    readAt(b, backingOffset);
    facts.backingPath = b.toString('utf8');
    // Header extensions follow the header (72 bytes in version 2, header_length in 3).
    let at = version >= 3 && bytesRead >= 104 ? head.readUInt32BE(100) : 72;
    while (at + 8 <= bytesRead) {
      const type = head.readUInt32BE(at);
      const len = head.readUInt32BE(at + 4);
      if (type === 0) break;
      if (type === EXT_BACKING_FORMAT && at + 8 + len <= bytesRead) facts.backingFormat = head.toString('utf8', at + 8, at + 8 + len);
      at += 8 + ((len + 7) & ~7);
    }
  }
  return facts;
}

/** The qemu-img program ($TSVIRT_QEMU_IMG, else `qemu-img` on PATH). */
function qemuImg(): string {
  return process.env.TSVIRT_QEMU_IMG ?? 'qemu-img';
}

/**
 * Runs qemu-img with `args`; resolves with its standard output.
 * @throws VirError VIR_ERR_INTERNAL_ERROR with qemu-img's own message when it fails.
 */
export function runQemuImg(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(qemuImg(), args, { maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) return resolve(stdout);
      const detail = (stderr || err.message).trim().replace(/^qemu-img: /, '');
      reject(VirError.report(ErrorDomain.STORAGE, ErrorNumber.INTERNAL_ERROR, `qemu-img ${args[0] ?? ''} failed: ${detail}`));
    });
  });
}

/** What `qemu-img info --output=json` reports, the fields tsvirt reads. */
export interface QemuImgInfo {
  format: string;
  'virtual-size': number;
  'actual-size'?: number;
  'backing-filename'?: string;
  'backing-filename-format'?: string;
}

/** `qemu-img info --output=json PATH` (without walking the backing chain). */
export async function qemuImgInfo(path: string): Promise<QemuImgInfo> {
  return JSON.parse(await runQemuImg(['info', '--output=json', '-U', path])) as QemuImgInfo;
}

/** Options of {@link createImage}. */
export interface CreateImageOptions {
  format: 'qcow2' | 'raw';
  capacity: number;
  /** 'falloc' (raw: every byte allocated) or 'metadata' (qcow2); none: sparse. */
  preallocation?: 'falloc' | 'metadata';
  backingPath?: string;
  backingFormat?: string;
  /** qcow2's compat level; default '1.1' (libvirt's). */
  compat?: string;
}

/** `qemu-img create` of a new image at `path` (the caller made sure nothing is there). */
export async function createImage(path: string, o: CreateImageOptions): Promise<void> {
  const opts: string[] = [];
  if (o.format === 'qcow2') opts.push(`compat=${o.compat ?? '1.1'}`);
  if (o.preallocation !== undefined) opts.push(`preallocation=${o.preallocation}`);
  const args = ['create', '-q', '-f', o.format];
  if (opts.length > 0) args.push('-o', opts.join(','));
  if (o.backingPath !== undefined) args.push('-b', o.backingPath, '-F', o.backingFormat ?? 'raw');
  args.push(path, String(o.capacity));
  await runQemuImg(args);
}

/**
 * Allocates the first `bytes` of a sparse raw image by writing zeros there (libvirt allocates a
 * raw volume's `<allocation>` at its start, falling back to writing zeros where it cannot fallocate).
 */
export async function allocateHead(path: string, bytes: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const chunk = Buffer.alloc(Math.min(bytes, 1024 * 1024));
    for (let at = 0; at < bytes; at += chunk.length) {
      await fh.write(chunk, 0, Math.min(chunk.length, bytes - at), at);
    }
    await fh.datasync();
  } finally {
    await fh.close();
  }
}
