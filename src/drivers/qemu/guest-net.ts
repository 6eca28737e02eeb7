/**
 * What the QEMU driver tells of a guest's file systems and addresses without a guest agent
 * (tsvirt's QEMU guests have none): libvirt's agent errors, the DHCP leases of libvirt networks
 * (an interface not on a libvirt network has no lease, so no entry), and the host's ARP table
 * (/proc/net/arp) matched against the guest's MAC addresses.
 */
import { readFileSync } from 'node:fs';
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import type { DomainInterface } from '../../core/driver.js';
import type { NetworkDHCPLease, NetworkDriver } from '../../core/network-driver.js';
import type { DomainDef } from '../../conf/domain.js';
import { unmodelledDevices } from '../../conf/domain.js';

/** The guest agent channel's name in `<channel><target name=…>`. */
const AGENT_CHANNEL = 'org.qemu.guest_agent.0';

/** libvirt's qemuDomainAgentAvailable refusal for a guest without a connected agent. */
export function agentError(def: DomainDef): VirError {
  const configured = unmodelledDevices(def).some(
    (c) => c.el.name === 'channel' && c.el.children.some((t) => t.name === 'target' && t.attrs.name === AGENT_CHANNEL),
  );
  if (configured) return VirError.report(ErrorDomain.QEMU, ErrorNumber.AGENT_UNRESPONSIVE, 'QEMU guest agent is not connected');
  return VirError.report(ErrorDomain.QEMU, ErrorNumber.ARGUMENT_UNSUPPORTED, 'QEMU guest agent is not configured');
}

/** /proc/net/arp: MAC → IPv4 addresses (complete entries only). */
export function parseArpTable(text: string): Map<string, string[]> {
  const byMac = new Map<string, string[]>();
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const [ip, , flags, mac] = f;
    if (ip === undefined || mac === undefined || flags === undefined) continue;
    // ATF_COM (0x2): a resolved entry.
    if ((parseInt(flags, 16) & 0x2) === 0 || mac === '00:00:00:00:00:00') continue;
    const list = byMac.get(mac.toLowerCase()) ?? [];
    list.push(ip);
    byMac.set(mac.toLowerCase(), list);
  }
  return byMac;
}

/** The guest's interfaces the ARP table knows, each with its IPv4 addresses (prefix 0, as libvirt). */
export function arpInterfaces(def: DomainDef, table = readArp()): DomainInterface[] {
  const out: DomainInterface[] = [];
  def.devices.interfaces.forEach((n, i) => {
    const ips = table.get(n.mac.toLowerCase());
    if (ips === undefined) return;
    out.push({ name: n.targetDev ?? `net${i}`, hwaddr: n.mac, addrs: ips.map((addr) => ({ type: 0, addr, prefix: 0 })) });
  });
  return out;
}

function readArp(): Map<string, string[]> {
  try {
    return parseArpTable(readFileSync('/proc/net/arp', 'utf8'));
  } catch {
    return new Map();
  }
}

/**
 * The DHCP leases of the guest's interfaces on libvirt networks, asked of each interface's own
 * network for its MAC (as libvirt's virDomainNetDHCPInterfaces): one entry per interface that has
 * a lease, named after its tap. An interface's network that is gone raises VIR_ERR_NO_NETWORK,
 * as libvirt's lookup does; a domain with such interfaces on a driver without networks has none.
 */
export async function leaseInterfaces(def: DomainDef, networks: NetworkDriver | undefined): Promise<DomainInterface[]> {
  const out: DomainInterface[] = [];
  for (const [i, n] of def.devices.interfaces.entries()) {
    const leases = await interfaceLeases(n.type, n.sourceNetwork, n.mac, networks);
    if (leases.length === 0) continue;
    out.push({
      name: n.targetDev ?? `net${i}`,
      hwaddr: n.mac,
      addrs: leases.map((l) => ({ type: l.type, addr: l.ipaddr, prefix: l.prefix })),
    });
  }
  return out;
}

/** The first host name a DHCP lease of the guest's network interfaces carries (virDomainGetHostname LEASE). */
export async function leaseHostname(def: DomainDef, networks: NetworkDriver | undefined): Promise<string | undefined> {
  for (const n of def.devices.interfaces) {
    const named = (await interfaceLeases(n.type, n.sourceNetwork, n.mac, networks)).find((l) => l.hostname !== null);
    if (named?.hostname != null) return named.hostname;
  }
  return undefined;
}

async function interfaceLeases(type: string, network: string | undefined, mac: string, networks: NetworkDriver | undefined): Promise<NetworkDHCPLease[]> {
  if (type !== 'network' || network === undefined || networks === undefined) return [];
  const ref = await networks.networkLookupByName(network);
  return networks.networkGetDHCPLeases(ref, mac.toLowerCase(), 0);
}
