/**
 * A PNG checker for the screenshot tests: signature, chunk CRCs, IHDR, the IDAT stream inflating
 * to exactly the bytes the header promises, IEND last.
 */
import { crc32, inflateSync } from 'node:zlib';

export interface PngInfo {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
}

/** Throws, saying what is wrong, unless `png` is a whole, valid, non-interlaced 8-bit PNG. */
export function checkPNG(png: Buffer): PngInfo {
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (png.length < 8 || !png.subarray(0, 8).equals(sig)) throw new Error('no PNG signature');
  let at = 8;
  let info: PngInfo | null = null;
  const idat: Buffer[] = [];
  let ended = false;
  while (at < png.length) {
    if (ended) throw new Error('bytes after IEND');
    const len = png.readUInt32BE(at);
    const type = png.subarray(at + 4, at + 8).toString('latin1');
    const data = png.subarray(at + 8, at + 8 + len);
    if (data.length !== len) throw new Error(`chunk ${type} cut short`);
    const crc = png.readUInt32BE(at + 8 + len);
    if ((crc32(png.subarray(at + 4, at + 8 + len)) >>> 0) !== crc) throw new Error(`bad CRC in chunk ${type}`);
    if (type === 'IHDR') info = { width: data.readUInt32BE(0), height: data.readUInt32BE(4), bitDepth: data[8]!, colourType: data[9]! };
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') ended = true;
    at += 12 + len;
  }
  if (info === null) throw new Error('no IHDR');
  if (!ended) throw new Error('no IEND');
  const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[info.colourType as 0 | 2 | 4 | 6] ?? 1;
  const raw = inflateSync(Buffer.concat(idat));
  const want = (info.width * channels * (info.bitDepth / 8) + 1) * info.height;
  if (raw.length !== want) throw new Error(`IDAT inflates to ${raw.length} bytes, IHDR wants ${want}`);
  return info;
}
