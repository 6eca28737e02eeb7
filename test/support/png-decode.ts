/**
 * A small PNG decoder for the screenshot tests (png.ts checks a PNG's structure; this reads its
 * pixels): enough for what QEMU's screendump writes (8-bit RGB or RGBA, not interlaced), so that a
 * test can look at a screenshot's pixels. Checks the signature, each chunk's CRC and the IEND, and
 * undoes the five row filters.
 */
import { crc32, inflateSync } from 'node:zlib';

/** A decoded image: `channels` bytes per pixel, rows top to bottom. */
export interface DecodedPNG {
  width: number;
  height: number;
  channels: number;
  pixels: Buffer;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Decodes a PNG; throws on anything it cannot read. */
export function decodePNG(data: Buffer): DecodedPNG {
  if (!data.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG: bad signature');
  let pos = 8;
  let header: { width: number; height: number; depth: number; color: number; interlace: number } | undefined;
  const idat: Buffer[] = [];
  let ended = false;
  while (pos + 12 <= data.length && !ended) {
    const len = data.readUInt32BE(pos);
    const type = data.toString('latin1', pos + 4, pos + 8);
    const body = data.subarray(pos + 8, pos + 8 + len);
    const crc = data.readUInt32BE(pos + 8 + len);
    if ((crc32(data.subarray(pos + 4, pos + 8 + len)) >>> 0) !== crc) throw new Error(`PNG chunk ${type}: bad CRC`);
    if (type === 'IHDR') {
      header = { width: body.readUInt32BE(0), height: body.readUInt32BE(4), depth: body[8], color: body[9], interlace: body[12] };
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      ended = true;
    }
    pos += 12 + len;
  }
  if (header === undefined || !ended) throw new Error('PNG without IHDR or IEND');
  if (header.depth !== 8 || header.interlace !== 0 || (header.color !== 2 && header.color !== 6)) {
    throw new Error(`PNG form not handled: depth ${header.depth}, colour type ${header.color}, interlace ${header.interlace}`);
  }
  const channels = header.color === 2 ? 3 : 4;
  const stride = header.width * channels;
  const raw = inflateSync(Buffer.concat(idat));
  if (raw.length !== (stride + 1) * header.height) throw new Error(`PNG data is ${raw.length} bytes, expected ${(stride + 1) * header.height}`);
  const pixels = Buffer.alloc(stride * header.height);
  for (let y = 0; y < header.height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = pixels.subarray(y * stride, (y + 1) * stride);
    const prev = y === 0 ? Buffer.alloc(stride) : pixels.subarray((y - 1) * stride, y * stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[x - channels] : 0;
      const b = prev[x];
      const c = x >= channels ? prev[x - channels] : 0;
      let v: number;
      switch (filter) {
        case 0: v = line[x]; break;
        case 1: v = line[x] + a; break;
        case 2: v = line[x] + b; break;
        case 3: v = line[x] + ((a + b) >> 1); break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          v = line[x] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          break;
        }
        default:
          throw new Error(`PNG row ${y}: unknown filter ${filter}`);
      }
      out[x] = v & 0xff;
    }
  }
  return { width: header.width, height: header.height, channels, pixels };
}

/** How many different colours an image has (stops counting at `limit`). */
export function distinctColours(img: DecodedPNG, limit = 1000): number {
  const seen = new Set<number>();
  for (let i = 0; i < img.pixels.length && seen.size < limit; i += img.channels) {
    seen.add(img.pixels.readUIntBE(i, 3));
  }
  return seen.size;
}
