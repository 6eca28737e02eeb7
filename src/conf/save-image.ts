/**
 * The header tsvirt writes at the start of a save file (virDomainSave): a magic, the domain XML
 * and whether a restore resumes the vCPUs; the hypervisor's memory stream follows it (nothing,
 * on the test driver). libvirt has its own layouts (its QEMU driver's "LibvirtQemudSave", its
 * test driver's "TestGuestMagic"); this one is tsvirt's. Pure: no I/O.
 *
 *   0  16  magic "TsvirtSaveImage\n"
 *  16   4  version (1), little endian
 *  20   4  XML length in bytes
 *  24   4  1 when a restore resumes the vCPUs, else 0
 *  28   4  reserved (0)
 *  32   …  the XML (UTF-8), then the memory stream
 */

/** The magic every tsvirt save file starts with. */
export const SAVE_IMAGE_MAGIC = 'TsvirtSaveImage\n';
/** The fixed part of the header. */
export const SAVE_HEADER_FIXED = 32;
const VERSION = 1;

/** What a save file's header holds. */
export interface SaveImageHeader {
  /** The domain XML to restore with. */
  xml: string;
  /** Whether a restore resumes the vCPUs (VIR_DOMAIN_SAVE_RUNNING; else paused). */
  running: boolean;
  /** Where the memory stream starts. */
  dataOffset: number;
}

/** The header bytes for `xml` and `running`. */
export function formatSaveHeader(xml: string, running: boolean): Buffer {
  const body = Buffer.from(xml, 'utf8');
  const head = Buffer.alloc(SAVE_HEADER_FIXED);
  head.write(SAVE_IMAGE_MAGIC, 0, 'latin1');
  head.writeUInt32LE(VERSION, 16);
  head.writeUInt32LE(body.length, 20);
  head.writeUInt32LE(running ? 1 : 0, 24);
  return Buffer.concat([head, body]);
}

/** Why a file is not a save image: the caller words the error as its driver does. */
export type SaveHeaderProblem = 'short' | 'magic' | 'version';

/** The XML length a header's fixed part announces, or the problem with it. */
export function saveHeaderXmlLength(fixed: Buffer): number | SaveHeaderProblem {
  if (fixed.length < SAVE_HEADER_FIXED) return 'short';
  if (fixed.toString('latin1', 0, 16) !== SAVE_IMAGE_MAGIC) return 'magic';
  if (fixed.readUInt32LE(16) !== VERSION) return 'version';
  return fixed.readUInt32LE(20);
}

/** Parses a whole header (fixed part and XML). */
export function parseSaveHeader(bytes: Buffer): SaveImageHeader | SaveHeaderProblem {
  const len = saveHeaderXmlLength(bytes.subarray(0, SAVE_HEADER_FIXED));
  if (typeof len !== 'number') return len;
  if (bytes.length < SAVE_HEADER_FIXED + len) return 'short';
  return {
    xml: bytes.toString('utf8', SAVE_HEADER_FIXED, SAVE_HEADER_FIXED + len),
    running: bytes.readUInt32LE(24) === 1,
    dataOffset: SAVE_HEADER_FIXED + len,
  };
}
