/**
 * libvirt's virtual network XML (`<network>`): parsed into {@link NetworkDef} and formatted back
 * in the layout of libvirt 9.0's virNetworkDefFormat. What the model does not interpret (DNS
 * entries, QoS, port groups, …) is kept and written back in place.
 */
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { generateUUID, isMulticastMAC, parseMAC, parseUUID } from './values.js';
import { validateName } from './names.js';
import {
  XmlWriter,
  attr,
  childElement,
  childElements,
  childText,
  confError,
  knownNames,
  parseXMLDocument,
  restOf,
  xmlErrorFrom,
  type XmlDocumentKind,
  type XmlElement,
  type XmlRest,
} from './xml.js';

/** Network XML, as libvirt's virNetworkDefParse names it in errors. */
export const NETWORK_DOCUMENT: XmlDocumentKind = {
  rootName: 'network',
  sourceName: '(network_definition)',
  errorDomain: ErrorDomain.NETWORK,
};

const N = ErrorDomain.NETWORK;

/** `<forward mode=…>` values libvirt knows. */
const FORWARD_MODES = ['nat', 'route', 'open', 'bridge', 'private', 'vepa', 'passthrough', 'hostdev'] as const;
/** How a network reaches the outside: libvirt's virNetworkForwardType (absent: isolated). */
export type NetworkForwardMode = (typeof FORWARD_MODES)[number];

/** One `<dhcp><range>`. */
export interface NetworkDhcpRange {
  start: string;
  end: string;
  rest?: XmlRest;
}

/** One `<dhcp><host>`: a fixed address for a MAC or a name. */
export interface NetworkDhcpHost {
  mac?: string;
  name?: string;
  ip?: string;
  rest?: XmlRest;
}

/** One `<ip>` of a network. */
export interface NetworkIpDef {
  /** `ipv4` (default) or `ipv6`. */
  family?: string;
  address: string;
  /** As written: `netmask` or `prefix` (one of them, or neither for a host default). */
  netmask?: string;
  prefix?: number;
  dhcpRanges: NetworkDhcpRange[];
  dhcpHosts: NetworkDhcpHost[];
  /** The `<dhcp>` element was present (it may be empty). */
  dhcp: boolean;
  rest?: XmlRest;
  dhcpRest?: XmlRest;
}

/** A virtual network definition (libvirt's virNetworkDef). */
export interface NetworkDef {
  name: string;
  uuid: string;
  /** Absent: an isolated network. */
  forward?: { mode: NetworkForwardMode; dev?: string; rest?: XmlRest };
  bridge?: { name?: string; stp: boolean; delay: number; rest?: XmlRest };
  /** `<mac address=…>` of the bridge. */
  mac?: string;
  /** `<domain name=…>`: the DNS domain dnsmasq serves. */
  domainName?: string;
  ips: NetworkIpDef[];
  rest?: XmlRest;
}

const TOP = ['name', 'uuid', 'forward', 'bridge', 'mac', 'domain', 'ip'];

/** A dotted IPv4 address as a 32-bit number, or undefined. */
export function ipv4ToNumber(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (m === null) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return (((parts[0] ?? 0) << 24) >>> 0) + ((parts[1] ?? 0) << 16) + ((parts[2] ?? 0) << 8) + (parts[3] ?? 0);
}

/** A 32-bit number as a dotted IPv4 address. */
export function numberToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.');
}

/** The prefix length of an `<ip>`: its `prefix`, its `netmask`'s, or the class default libvirt uses. */
export function ipPrefix(ip: NetworkIpDef): number {
  if (ip.prefix !== undefined) return ip.prefix;
  if (ip.netmask !== undefined) {
    const m = ipv4ToNumber(ip.netmask) ?? 0;
    let n = 0;
    while (n < 32 && (m & (0x80000000 >>> n)) !== 0) n++;
    return n;
  }
  if (ip.family === 'ipv6') return 64;
  const first = (ipv4ToNumber(ip.address) ?? 0) >>> 24;
  return first < 128 ? 8 : first < 192 ? 16 : 24;
}

/** The IPv4 subnet of an `<ip>` as [first address, prefix], or undefined for IPv6. */
export function ipv4Subnet(ip: NetworkIpDef): [base: number, prefix: number] | undefined {
  if (ip.family === 'ipv6') return undefined;
  const a = ipv4ToNumber(ip.address);
  if (a === undefined) return undefined;
  const prefix = ipPrefix(ip);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [(a & mask) >>> 0, prefix];
}

/** Whether two IPv4 subnets share an address. */
export function subnetsOverlap(a: [number, number], b: [number, number]): boolean {
  const p = Math.min(a[1], b[1]);
  const mask = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
  return ((a[0] & mask) >>> 0) === ((b[0] & mask) >>> 0);
}

/**
 * Parses libvirt network XML. A missing UUID is generated (as libvirt does).
 *
 * @throws VirError VIR_ERR_XML_DETAIL / VIR_ERR_XML_ERROR for XML that does not parse or has
 *   another root; VIR_ERR_NO_NAME without a name; VIR_ERR_XML_ERROR for a bad UUID, MAC, IP
 *   address, netmask, prefix or DHCP range, with libvirt's wording where it has one;
 *   VIR_ERR_CONFIG_UNSUPPORTED for an unknown forward mode.
 */
export function parseNetworkXML(xml: string, opts: { stored?: boolean } = {}): NetworkDef {
  const root = parseXMLDocument(xml, NETWORK_DOCUMENT, { stored: opts.stored });
  const name = childText(root, 'name');
  if (name === undefined) throw confError(N, ErrorNumber.NO_NAME);
  validateName('network', name);
  const uuidText = childText(root, 'uuid');
  let uuid: string;
  if (uuidText === undefined) uuid = generateUUID();
  else {
    const parsed = parseUUID(uuidText);
    if (parsed === undefined) throw xmlErrorFrom(N, 'malformed uuid element');
    uuid = parsed;
  }
  const def: NetworkDef = { name, uuid, ips: [] };
  const fwd = childElement(root, 'forward');
  if (fwd !== undefined) {
    const mode = attr(fwd, 'mode') ?? 'nat';
    if (!(FORWARD_MODES as readonly string[]).includes(mode)) {
      throw confError(N, ErrorNumber.CONFIG_UNSUPPORTED, `unknown forwarding type '${mode}'`);
    }
    def.forward = { mode: mode as NetworkForwardMode, dev: attr(fwd, 'dev'), rest: restOf(fwd, ['mode', 'dev'], () => false) };
  }
  const br = childElement(root, 'bridge');
  if (br !== undefined) {
    const delayText = attr(br, 'delay');
    const delay = delayText === undefined ? 0 : Number(delayText);
    if (!Number.isInteger(delay) || delay < 0) {
      throw xmlErrorFrom(N, `Invalid delay value in network '${name}'`);
    }
    def.bridge = { name: attr(br, 'name'), stp: attr(br, 'stp') !== 'off', delay, rest: restOf(br, ['name', 'stp', 'delay'], () => false) };
    if (def.bridge.name !== undefined && !/^[A-Za-z0-9_.:-]{1,15}$/.test(def.bridge.name)) {
      throw xmlErrorFrom(N, `invalid bridge name '${def.bridge.name}'`);
    }
  }
  const macEl = childElement(root, 'mac');
  if (macEl !== undefined) {
    const text = attr(macEl, 'address') ?? '';
    const mac = parseMAC(text);
    if (mac === undefined) throw xmlErrorFrom(N, `Invalid bridge mac address '${text}' in network '${name}'`);
    if (isMulticastMAC(mac)) throw xmlErrorFrom(N, `Invalid multicast bridge mac address '${text}' in network '${name}'`);
    def.mac = mac;
  }
  const dom = childElement(root, 'domain');
  if (dom !== undefined) def.domainName = attr(dom, 'name');
  for (const ipEl of childElements(root, 'ip')) def.ips.push(parseIp(ipEl, name));
  // `connections` is computed by the driver, never kept from the input.
  def.rest = restOf(root, ['connections'], knownNames(TOP));
  return def;
}

function parseIp(el: XmlElement, net: string): NetworkIpDef {
  const family = attr(el, 'family');
  const address = attr(el, 'address');
  if (address === undefined) throw xmlErrorFrom(N, `Missing required address attribute in network '${net}'`);
  const v6 = family === 'ipv6' || address.includes(':');
  if (!v6 && ipv4ToNumber(address) === undefined) throw xmlErrorFrom(N, `Invalid address '${address}' in network '${net}'`);
  const ip: NetworkIpDef = { address, dhcp: false, dhcpRanges: [], dhcpHosts: [] };
  if (family !== undefined) ip.family = family;
  const netmask = attr(el, 'netmask');
  const prefixText = attr(el, 'prefix');
  if (netmask !== undefined && prefixText !== undefined) {
    throw xmlErrorFrom(N, `Network '${net}' IP address cannot have both a prefix and a netmask`);
  }
  if (netmask !== undefined) {
    const m = ipv4ToNumber(netmask);
    if (m === undefined || (~m >>> 0) & ((~m >>> 0) + 1)) throw xmlErrorFrom(N, `Invalid netmask '${netmask}' in network '${net}'`);
    ip.netmask = netmask;
  }
  if (prefixText !== undefined) {
    const p = Number(prefixText);
    if (!Number.isInteger(p) || p < 0 || p > (v6 ? 128 : 32)) throw xmlErrorFrom(N, `Invalid prefix '${prefixText}' in network '${net}'`);
    ip.prefix = p;
  }
  const dhcp = childElement(el, 'dhcp');
  if (dhcp !== undefined) {
    ip.dhcp = true;
    const subnet = ipv4Subnet(ip);
    for (const r of childElements(dhcp, 'range')) {
      const start = attr(r, 'start');
      const end = attr(r, 'end');
      if (start === undefined) throw xmlErrorFrom(N, `Missing 'start' attribute in dhcp range for network '${net}'`);
      if (end === undefined) throw xmlErrorFrom(N, `Missing 'end' attribute in dhcp range for network '${net}'`);
      if (!v6 && subnet !== undefined) {
        const s = ipv4ToNumber(start);
        const e = ipv4ToNumber(end);
        if (s === undefined || e === undefined) throw xmlErrorFrom(N, `Invalid dhcp range '${start}' to '${end}' in network '${net}'`);
        const inNet = (n: number) => subnetsOverlap([n, 32], subnet);
        if (!inNet(s) || !inNet(e)) {
          throw confError(N, ErrorNumber.CONFIG_UNSUPPORTED, `range ${start} - ${end} is not entirely within network ${ip.address}/${subnet[1]}`);
        }
        if (e < s) throw confError(N, ErrorNumber.CONFIG_UNSUPPORTED, `range ${start} - ${end} is reversed `);
      }
      ip.dhcpRanges.push({ start, end, rest: restOf(r, ['start', 'end'], () => false) });
    }
    for (const h of childElements(dhcp, 'host')) {
      const macText = attr(h, 'mac');
      let mac: string | undefined;
      if (macText !== undefined) {
        mac = parseMAC(macText);
        if (mac === undefined) throw xmlErrorFrom(N, `Cannot parse MAC address '${macText}' in network '${net}'`);
      }
      const host: NetworkDhcpHost = { mac, name: attr(h, 'name'), ip: attr(h, 'ip'), rest: restOf(h, ['mac', 'name', 'ip'], () => false) };
      if (host.ip !== undefined && !v6 && ipv4ToNumber(host.ip) === undefined) {
        throw xmlErrorFrom(N, `Invalid IP address in static host definition for network '${net}'`);
      }
      ip.dhcpHosts.push(host);
    }
    ip.dhcpRest = restOf(dhcp, [], knownNames(['range', 'host']));
  }
  ip.rest = restOf(el, ['family', 'address', 'netmask', 'prefix'], knownNames(['dhcp']));
  return ip;
}

/** What a formatted network shows beyond its definition while it runs. */
export interface NetworkLiveState {
  /** Guest interfaces plugged in (libvirt's `connections` attribute, only when > 0). */
  connections: number;
  /** Show NAT's source port range (libvirt's network driver does; its test driver does not). */
  natPorts?: boolean;
}

/**
 * Formats a network as libvirt 9.0's virNetworkDefFormat. `live` adds what a running network
 * shows (connections, NAT's port range), as virsh net-dumpxml of an active network.
 */
export function formatNetworkXML(def: NetworkDef, live?: NetworkLiveState): string {
  const w = new XmlWriter();
  const rootAttrs: [string, string | number | undefined][] = [];
  if (live !== undefined && live.connections > 0) rootAttrs.push(['connections', live.connections]);
  w.element(
    'network',
    rootAttrs,
    (w) => {
      w.text('name', def.name);
      w.text('uuid', def.uuid);
      if (def.forward !== undefined) {
        const f = def.forward;
        w.element('forward', [['dev', f.dev], ['mode', f.mode]], (w) => {
          if (live?.natPorts === true && f.mode === 'nat') {
            w.element('nat', undefined, (w) => void w.empty('port', [['start', 1024], ['end', 65535]]));
          }
        }, f.rest);
      }
      const routed = def.forward === undefined || ['nat', 'route', 'open'].includes(def.forward.mode);
      if (routed) {
        const b = def.bridge;
        w.element('bridge', [['name', b?.name], ['stp', (b?.stp ?? true) ? 'on' : 'off'], ['delay', b?.delay ?? 0]], () => {}, b?.rest);
      } else if (def.bridge?.name !== undefined) {
        w.element('bridge', [['name', def.bridge.name]], () => {}, def.bridge.rest);
      }
      if (def.mac !== undefined) w.empty('mac', [['address', def.mac]]);
      if (def.domainName !== undefined) w.empty('domain', [['name', def.domainName]]);
      for (const ip of def.ips) writeIp(w, ip);
    },
    def.rest,
  );
  return w.toString();
}

function writeIp(w: XmlWriter, ip: NetworkIpDef): void {
  w.element(
    'ip',
    [['family', ip.family], ['address', ip.address], ['netmask', ip.netmask], ['prefix', ip.prefix]],
    (w) => {
      if (!ip.dhcp) return;
      w.element(
        'dhcp',
        undefined,
        (w) => {
          for (const r of ip.dhcpRanges) w.element('range', [['start', r.start], ['end', r.end]], () => {}, r.rest);
          for (const h of ip.dhcpHosts) w.element('host', [['mac', h.mac], ['name', h.name], ['ip', h.ip]], () => {}, h.rest);
        },
        ip.dhcpRest,
      );
    },
    ip.rest,
  );
}
