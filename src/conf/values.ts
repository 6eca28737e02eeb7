/**
 * Value syntaxes shared by libvirt's XML formats and API arguments: UUIDs, MAC addresses and
 * scaled sizes, parsed with libvirt's leniency and normalized to one canonical form so that
 * comparisons and round trips are plain string/number equality.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { confError, xmlErrorFrom } from './xml.js';

/**
 * Parses a UUID as libvirt's virUUIDParse does: 32 hex digits, in pairs that may be separated
 * by '-' or ' ', with surrounding whitespace allowed. Returns the canonical lowercase
 * 8-4-4-4-12 form, or undefined if `text` is not a UUID.
 */
export function parseUUID(text: string): string | undefined {
  let s = text.replace(/^\s+/, '');
  let hex = '';
  while (hex.length < 32) {
    const c = s[0];
    if (c === undefined) return undefined;
    if (c === '-' || c === ' ') {
      s = s.slice(1);
      continue;
    }
    if (!/^[0-9a-fA-F]{2}/.test(s)) return undefined;
    hex += s.slice(0, 2);
    s = s.slice(2);
  }
  if (!/^\s*$/.test(s)) return undefined;
  hex = hex.toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A new random (version 4) UUID in canonical form. */
export function generateUUID(): string {
  return randomUUID();
}

/**
 * Parses a MAC address as libvirt's virMacAddrParse does: six groups of one or two hex
 * digits separated by ':'. Returns the canonical lowercase `aa:bb:cc:dd:ee:ff`, or undefined.
 */
export function parseMAC(text: string): string | undefined {
  const m = /^([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\s*$/.exec(
    text,
  );
  if (m === null) return undefined;
  return m
    .slice(1)
    .map((g) => g.toLowerCase().padStart(2, '0'))
    .join(':');
}

/** Whether a (canonical) MAC address is multicast: the low bit of its first octet. */
export function isMulticastMAC(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 1) === 1;
}

/**
 * A random MAC address under `prefix` (three octets), as libvirt's virDomainNetGenerateMAC.
 * 52:54:00 is the prefix libvirt's QEMU and test drivers use.
 */
export function generateMAC(prefix = '52:54:00'): string {
  const tail = [...randomBytes(3)].map((b) => b.toString(16).padStart(2, '0'));
  return `${prefix}:${tail.join(':')}`;
}

const LLONG_MAX = (1n << 63n) - 1n;

/**
 * The multiplier for a size unit, as libvirt's virScaleInteger reads units: case-insensitive
 * `b`/`byte`/`bytes`; `k`, `KiB` (1024) and `KB` (1000), and likewise M, G, T, P, E.
 * An empty or missing unit means `defaultScale`. Returns undefined for an unknown unit.
 */
export function unitScale(unit: string | undefined, defaultScale: bigint): bigint | undefined {
  if (unit === undefined || unit === '') return defaultScale;
  const u = unit.toLowerCase();
  if (u === 'b' || u === 'byte' || u === 'bytes') return 1n;
  let base: bigint;
  if (u.length === 1 || u.slice(1) === 'ib') base = 1024n;
  else if (u.slice(1) === 'b') base = 1000n;
  else return undefined;
  const power = 'kmgtpe'.indexOf(u[0] ?? '');
  if (power < 0) return undefined;
  return base ** BigInt(power + 1);
}

/**
 * Parses a memory size element's text and unit into KiB, as libvirt's virDomainParseMemory:
 * default unit KiB, bytes rounded up to whole KiB, at most 2^63-1 bytes.
 *
 * @param xpath how libvirt names the element in errors, e.g. `./memory[1]`.
 * @throws VirError VIR_ERR_XML_ERROR for a value that is not a non-negative integer,
 *   VIR_ERR_INVALID_ARG for an unknown unit, VIR_ERR_OVERFLOW for too large a size.
 */
export function parseMemoryKiB(text: string, unit: string | undefined, xpath: string): number {
  // virStrToLong_ullp: strtoull's leading whitespace and '+', nothing after the digits.
  const m = /^\s*\+?([0-9]+)$/.exec(text);
  const digits = m?.[1];
  if (digits === undefined || BigInt(digits) > (1n << 64n) - 1n) {
    throw xmlErrorFrom(ErrorDomain.XML, `Invalid value '${text}' for element or attribute '${xpath}'`);
  }
  const value = BigInt(digits);
  const scale = unitScale(unit, 1024n);
  if (scale === undefined) {
    throw confError(ErrorDomain.NONE, ErrorNumber.INVALID_ARG, `unknown suffix '${unit ?? ''}'`);
  }
  if (value > LLONG_MAX / scale) {
    throw confError(ErrorDomain.NONE, ErrorNumber.OVERFLOW, `value too large: ${value}${unit ?? ''}`);
  }
  const bytes = value * scale;
  // At most 2^53 KiB, which a double holds exactly.
  return Number((bytes + 1023n) / 1024n);
}
