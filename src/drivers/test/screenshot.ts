/**
 * The test driver's screenshot. libvirt's test driver answers virDomainScreenshot for any domain
 * with an image file it installs (image/png, 1120×832, 8-bit grayscale); tsvirt's draws an image
 * of the same kind here, so no file is shipped: a PNG (signature, IHDR, one zlib IDAT, IEND, each
 * chunk with its CRC-32) of a test pattern, built once and kept.
 */
import { crc32, deflateSync } from 'node:zlib';

/** The image's size, as libvirt's test screenshot. */
export const TEST_SCREENSHOT_WIDTH = 1120;
export const TEST_SCREENSHOT_HEIGHT = 832;
/** Its MIME type, as libvirt's test driver names it. */
export const TEST_SCREENSHOT_MIME = 'image/png';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** A grayscale PNG of `width`×`height` whose pixel (x, y) is `shade(x, y)` (0..255). */
export function grayscalePNG(width: number, height: number, shade: (x: number, y: number) => number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // colour type: grayscale
  ihdr[10] = 0; // compression: deflate
  ihdr[11] = 0; // filter method 0
  ihdr[12] = 0; // no interlace
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width + 1);
    raw[row] = 0; // filter type None
    for (let x = 0; x < width; x++) raw[row + 1 + x] = shade(x, y) & 0xff;
  }
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

let image: Buffer | undefined;

/**
 * The test screenshot: a light-gray screen with a dark frame and eight gray bars, what a test
 * pattern shows, so that a viewer sees it is an image and not noise. Built on first use.
 */
export function testScreenshot(): Buffer {
  image ??= grayscalePNG(TEST_SCREENSHOT_WIDTH, TEST_SCREENSHOT_HEIGHT, (x, y) => {
    if (x < 16 || y < 16 || x >= TEST_SCREENSHOT_WIDTH - 16 || y >= TEST_SCREENSHOT_HEIGHT - 16) return 0x20;
    if (y >= 300 && y < 532) return Math.floor((x - 16) / ((TEST_SCREENSHOT_WIDTH - 32) / 8)) * 32;
    return 0xd0;
  });
  return image;
}
