/**
 * The graphical displays of a domain as virsh's `domdisplay` and `vncdisplay` compute them from the
 * live XML (libvirt 9.0 tools/virsh-domain.c): each value is read with its own XPath
 * `string(/domain/devices/graphics[@type='T']/…)`, that is from the first element in document
 * order that has it, so the port and the listen address may come from different `<graphics>`
 * elements of one type, as in virsh. Pure functions: the commands fetch the XML and the URI.
 */
import { isIPv6 } from 'node:net';
import { parseXML, type XMLElement } from './xml.js';

/** The display types domdisplay tries, in virsh's order. */
export const DISPLAY_SCHEMES = ['vnc', 'spice', 'rdp', 'dbus'] as const;

/** The `<graphics>` elements of a domain document, in document order. */
export function graphicsElements(xml: string): XMLElement[] {
  const root = parseXML(xml);
  const domain = root.children.find((c) => c.name === 'domain');
  const out: XMLElement[] = [];
  for (const devices of domain?.children.filter((c) => c.name === 'devices') ?? []) {
    for (const g of devices.children) if (g.name === 'graphics') out.push(g);
  }
  return out;
}

/**
 * virXPathString on `string(graphics[@type=T]/@attr)` (or `…/listen/@attr` with `child`): the
 * value of the first such attribute in document order; null when none or empty.
 */
function xpathString(graphics: readonly XMLElement[], type: string, attr: string, child?: string): string | null {
  for (const g of graphics) {
    if (g.attrs.type !== type) continue;
    const holders = child === undefined ? [g] : g.children.filter((c) => c.name === child);
    for (const h of holders) {
      const v = h.attrs[attr];
      if (v !== undefined) return v === '' ? null : v;
    }
  }
  return null;
}

/** virStrToLong_i in base 10 on the whole string (strtol: leading space and a sign allowed). */
function strToInt(s: string): number | null {
  if (!/^[ \t\n\v\f\r]*[+-]?[0-9]+$/.test(s)) return null;
  const n = Number(s.trim());
  return n >= -2147483648 && n <= 2147483647 ? n : null;
}

/** virXPathInt: the number, or -1 when there is no value, -2 when it is not an int. */
function xpathInt(graphics: readonly XMLElement[], type: string, attr: string): { rc: 0; value: number } | { rc: -1 | -2 } {
  const s = xpathString(graphics, type, attr);
  if (s === null) return { rc: -1 };
  const n = strToInt(s);
  return n === null ? { rc: -2 } : { rc: 0, value: n };
}

/** One part of inet_aton: decimal, octal (leading 0) or hexadecimal (0x). */
function atonPart(s: string): number | null {
  if (/^0[xX][0-9a-fA-F]*$/.test(s)) return s.length === 2 ? 0 : Number.parseInt(s.slice(2), 16);
  if (/^0[0-7]*$/.test(s)) return Number.parseInt(s, 8);
  if (/^[1-9][0-9]*$/.test(s)) return Number(s);
  return null;
}

/**
 * virSocketAddrParse (getaddrinfo with AI_NUMERICHOST) followed by virSocketAddrIsWildcard:
 * true for a numeric IPv4 address equal to 0 in any of inet_aton's forms ("0.0.0.0", "0") or the
 * unspecified IPv6 address ("::", "0:0::0", with or without a zone).
 */
export function isWildcardAddress(addr: string): boolean {
  if (addr.includes(':')) {
    const host = addr.split('%')[0];
    if (!isIPv6(host)) return false;
    // Unspecified: no non-zero hex digit, and an embedded IPv4 part (if any) of zeros.
    return !/[1-9a-fA-F]/.test(host.replace(/(\d+\.){3}\d+$/, (v4) => (v4.split('.').every((p) => Number(p) === 0) ? '0' : '1')));
  }
  const parts = addr.split('.');
  if (parts.length > 4) return false;
  const nums = parts.map(atonPart);
  if (nums.some((n) => n === null)) return false;
  const values = nums as number[];
  // inet_aton: every part but the last is one byte; the last fills the remaining bytes.
  const last = values[values.length - 1];
  if (values.slice(0, -1).some((n) => n > 255) || last >= 2 ** (8 * (5 - values.length))) return false;
  return values.every((n) => n === 0);
}

/** virURIParse(uri)->server: the host part of a URI, without IPv6 brackets; null when empty. */
export function uriServer(uri: string): string | null {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(uri);
  if (m === null) return null;
  let authority = m[1];
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  let host: string;
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    host = end < 0 ? authority.slice(1) : authority.slice(1, end);
  } else {
    const colon = authority.indexOf(':');
    host = colon < 0 ? authority : authority.slice(0, colon);
  }
  if (host === '') return null;
  try {
    return decodeURIComponent(host);
  } catch {
    return host;
  }
}

/** What {@link oneDisplay} found: the URI, or an error virsh prints (and then tries the next type). */
export type DisplayResult = { uri: string } | { error: string } | null;

/** virshGetDBusDisplay. */
function dbusDisplay(graphics: readonly XMLElement[]): DisplayResult {
  const addr = xpathString(graphics, 'dbus', 'address');
  if (addr === null) return null;
  if (addr.startsWith('unix:path=')) return { uri: `dbus+unix://${addr.slice('unix:path='.length)}` };
  return { error: `'${addr}' D-Bus address is not handled` };
}

/**
 * virshGetOneDisplay: the connection URI of the display of type `scheme`, null when it has no
 * port, TLS port nor socket. `connURI` is the connection's URI, whose host replaces a wildcard
 * listen address. A password is in the XML only when it was fetched with VIR_DOMAIN_XML_SECURE.
 */
export function oneDisplay(graphics: readonly XMLElement[], scheme: string, connURI: () => string): DisplayResult {
  if (scheme === 'dbus') return dbusDisplay(graphics);
  const portR = xpathInt(graphics, scheme, 'port');
  let port = portR.rc === 0 ? portR.value : 0;
  const tlsR = xpathInt(graphics, scheme, 'tlsPort');
  const tlsPort = tlsR.rc === 0 ? tlsR.value : 0;
  let listen = xpathString(graphics, scheme, 'listen');
  const listenType = xpathString(graphics, scheme, 'type', 'listen');
  const sockpath = listenType === 'socket' ? xpathString(graphics, scheme, 'socket', 'listen') : null;

  if (port === 0 && tlsPort === 0 && sockpath === null) return null;

  if (listen === null) {
    listen = xpathString(graphics, scheme, 'address', 'listen');
  } else if (isWildcardAddress(listen)) {
    // INADDR_ANY would not help the user: the connection's host (or localhost) is printed.
    listen = uriServer(connURI());
  }
  const passwd = xpathString(graphics, scheme, 'passwd');

  let out = sockpath !== null ? `${scheme}+unix://` : `${scheme}://`;
  if (scheme === 'vnc' && passwd !== null) out += `:${passwd}@`;
  if (listen === null && sockpath === null) out += 'localhost';
  else if (sockpath === null && listen !== null && listen.includes(':')) out += `[${listen}]`;
  else if (sockpath !== null) out += sockpath;
  else out += listen;
  if (port !== 0) {
    // VNC clients take the display number, port - 5900.
    if (scheme === 'vnc') port -= 5900;
    out += `:${port}`;
  }
  let params = '';
  if (tlsPort !== 0) params += `tls-port=${tlsPort}&`;
  if (scheme === 'spice' && passwd !== null) params += `password=${passwd}&`;
  // virsh adds '?' and trims one character: the last '&', or the '?' itself.
  out += params === '' ? '' : `?${params.slice(0, -1)}`;
  return { uri: out };
}

/** What `vncdisplay` prints, or virsh's error when the VNC port cannot be read. */
export function vncDisplay(graphics: readonly XMLElement[]): { text: string; listen: string | null; port: number } | { error: string } {
  const portR = xpathInt(graphics, 'vnc', 'port');
  if (portR.rc !== 0) return { error: 'Failed to get VNC port. Is this domain using VNC?' };
  const port = portR.value;
  const listen = xpathString(graphics, 'vnc', 'listen') ?? xpathString(graphics, 'vnc', 'address', 'listen');
  const display = port - 5900;
  const text = listen === null || listen === '0.0.0.0' ? `:${display}\n` : `${listen}:${display}\n`;
  return { text, listen, port };
}

/** What `domdisplay` prints: standard output, the error lines in order, and the displays found. */
export interface DomDisplayOutput {
  stdout: string;
  errors: string[];
  found: { type: string; uri: string }[];
}

/**
 * cmdDomDisplay after its checks: the first display (every display with `all`, each on its own
 * line; only `type` with `type`), or virsh's "No graphical display …" error.
 */
export function domDisplay(graphics: readonly XMLElement[], opts: { type?: string; all: boolean }, connURI: () => string): DomDisplayOutput {
  const out: DomDisplayOutput = { stdout: '', errors: [], found: [] };
  for (const scheme of DISPLAY_SCHEMES) {
    if (!opts.all && opts.type !== undefined && opts.type !== scheme) continue;
    const r = oneDisplay(graphics, scheme, connURI);
    if (r === null) continue;
    if ('error' in r) {
      out.errors.push(r.error);
      continue;
    }
    out.found.push({ type: scheme, uri: r.uri });
    // Without --all virsh prints the URI with no newline (the blank line after the command ends it).
    out.stdout += r.uri;
    if (!opts.all) break;
    out.stdout += '\n';
  }
  if (out.found.length === 0) {
    out.errors.push(opts.type !== undefined ? `No graphical display with type '${opts.type}' found` : 'No graphical display found');
  }
  return out;
}
