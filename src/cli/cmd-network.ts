/**
 * Networking commands (virsh-network.c): net-autostart, net-create, net-define, net-destroy,
 * net-dhcp-leases, net-dumpxml, net-info, net-list, net-name, net-start, net-undefine, net-uuid.
 * Through the public API only, with virsh's messages and layouts.
 */
import type { Network } from '../index.js';
import { ConnectListAllNetworksFlags as L, NetworkCreateFlags, NetworkDefineFlags, NetworkXMLFlags } from '../core/enums.generated.js';
import { NETWORK_DOCUMENT } from '../conf/network.js';
import { CmdFailed, FAILED, isVirError, type Cmd, type Ctl, type Handler } from './context.js';
import { readXMLFile } from './files.js';
import { formatTable } from './text.js';

function printJSON(ctl: Ctl, value: unknown): void {
  ctl.print(JSON.stringify(value, null, 2) + '\n');
}

const BY_UUID = 1;
const BY_NAME = 2;

/**
 * virshCommandOptNetworkBy: the `network` argument as a UUID (36 characters), then as a name;
 * "failed to get network 'X'" and the library's error when neither matches.
 */
async function network(ctl: Ctl, cmd: Cmd, by = BY_UUID | BY_NAME, opt = 'network'): Promise<Network> {
  const arg = cmd.string(opt) ?? '';
  let net: Network | typeof FAILED = FAILED;
  if (by & BY_UUID && arg.length === 36) {
    net = await ctl.attempt(ctl.c.networkLookupByUUIDString(arg));
    if (net !== FAILED) ctl.resetError();
  }
  if (net === FAILED && by & BY_NAME) {
    ctl.resetError();
    net = await ctl.attempt(ctl.c.networkLookupByName(arg));
  }
  if (net === FAILED) {
    ctl.error(`failed to get network '${arg}'`);
    throw new CmdFailed();
  }
  return net;
}

const yesNo = (b: boolean): string => (b ? 'yes' : 'no');

const netAutostart: Handler = async (ctl, cmd) => {
  const net = await network(ctl, cmd);
  const disable = cmd.bool('disable');
  if ((await ctl.attempt(net.setAutostart(!disable))) === FAILED) {
    ctl.error(disable ? `failed to unmark network ${net.name()} as autostarted` : `failed to mark network ${net.name()} as autostarted`);
    return false;
  }
  ctl.extra(disable ? `Network ${net.name()} unmarked as autostarted\n` : `Network ${net.name()} marked as autostarted\n`);
  return true;
};

/** net-create and net-define: the XML file, then the call. */
function fromFile(create: boolean): Handler {
  return async (ctl, cmd) => {
    const file = cmd.string('file') ?? '';
    const flags = cmd.bool('validate') ? (create ? NetworkCreateFlags.VALIDATE : NetworkDefineFlags.VALIDATE) : 0;
    const xml = readXMLFile(ctl, file, NETWORK_DOCUMENT);
    const net =
      typeof xml !== 'string'
        ? await ctl.attempt(Promise.reject(xml))
        : await ctl.attempt(create ? ctl.c.networkCreateXMLFlags(xml, flags) : ctl.c.networkDefineXMLFlags(xml, flags));
    if (net === FAILED) {
      ctl.error(create ? `Failed to create network from ${file}` : `Failed to define network from ${file}`);
      return false;
    }
    ctl.extra(create ? `Network ${net.name()} created from ${file}\n` : `Network ${net.name()} defined from ${file}\n`);
    return true;
  };
}

/** net-start, net-destroy, net-undefine: one call, virsh's two messages. */
function simple(call: (n: Network) => Promise<void>, done: string, failed: string): Handler {
  return async (ctl, cmd) => {
    const net = await network(ctl, cmd);
    if ((await ctl.attempt(call(net))) === FAILED) {
      ctl.error(`${failed} ${net.name()}`);
      return false;
    }
    ctl.extra(`Network ${net.name()} ${done}\n`);
    return true;
  };
}

const netDumpxml: Handler = async (ctl, cmd) => {
  const net = await network(ctl, cmd);
  ctl.print(await net.XMLDesc(cmd.bool('inactive') ? NetworkXMLFlags.INACTIVE : 0));
  return true;
};

const netInfo: Handler = async (ctl, cmd) => {
  const net = await network(ctl, cmd);
  const active = await net.isActive();
  const persistent = await net.isPersistent();
  const autostart = await net.autostart();
  let bridge: string | undefined;
  try {
    bridge = await net.bridgeName();
  } catch (err) {
    if (!isVirError(err)) throw err;
  }
  if (cmd.bool('json')) {
    printJSON(ctl, { name: net.name(), uuid: net.UUIDString(), active, persistent, autostart, bridge: bridge ?? null });
    return true;
  }
  const row = (label: string, value: string): string => `${label.padEnd(15)} ${value}\n`;
  let out = row('Name:', net.name()) + row('UUID:', net.UUIDString()) + row('Active:', yesNo(active));
  out += row('Persistent:', yesNo(persistent)) + row('Autostart:', yesNo(autostart));
  if (bridge !== undefined) out += row('Bridge:', bridge);
  ctl.print(out);
  return true;
};

const netList: Handler = async (ctl, cmd) => {
  const names = cmd.bool('name');
  const uuids = cmd.bool('uuid');
  const table = cmd.bool('table');
  if ([names, uuids, table].filter(Boolean).length > 1) {
    ctl.error('Only one argument from --table, --name and --uuid may be specified.');
    return false;
  }
  let flags: number = L.ACTIVE;
  if (cmd.bool('inactive')) flags = L.INACTIVE;
  if (cmd.bool('all')) flags = L.ACTIVE | L.INACTIVE;
  if (cmd.bool('persistent')) flags |= L.PERSISTENT;
  if (cmd.bool('transient')) flags |= L.TRANSIENT;
  if (cmd.bool('autostart')) flags |= L.AUTOSTART;
  if (cmd.bool('no-autostart')) flags |= L.NO_AUTOSTART;
  const nets = await ctl.attempt(ctl.c.listAllNetworks(flags));
  if (nets === FAILED) {
    ctl.error('Failed to list networks');
    return false;
  }
  nets.sort((a, b) => (a.name() < b.name() ? -1 : a.name() > b.name() ? 1 : 0));
  const facts = await Promise.all(
    nets.map(async (n) => ({ name: n.name(), uuid: n.UUIDString(), active: await n.isActive(), autostart: await n.autostart(), persistent: await n.isPersistent() })),
  );
  if (cmd.bool('json')) {
    printJSON(ctl, facts);
    return true;
  }
  if (names || uuids) {
    ctl.print(facts.map((f) => `${names ? f.name : f.uuid}\n`).join(''));
    return true;
  }
  const rows = facts.map((f) => [f.name, f.active ? 'active' : 'inactive', yesNo(f.autostart), yesNo(f.persistent)]);
  ctl.print(formatTable(['Name', 'State', 'Autostart', 'Persistent'], rows, true));
  return true;
};

/** strftime "%Y-%m-%d %H:%M:%S" in local time, as net-dhcp-leases prints the expiry. */
function expiryTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

const netDhcpLeases: Handler = async (ctl, cmd) => {
  const net = await network(ctl, cmd);
  const mac = cmd.string('mac') ?? null;
  const leases = await ctl.attempt(net.DHCPLeases(mac, 0));
  if (leases === FAILED) {
    ctl.error(`Failed to get leases info for ${net.name()}`);
    return false;
  }
  // virsh sorts by MAC address.
  leases.sort((a, b) => ((a.mac ?? '') < (b.mac ?? '') ? -1 : (a.mac ?? '') > (b.mac ?? '') ? 1 : 0));
  if (cmd.bool('json')) {
    printJSON(ctl, leases);
    return true;
  }
  const rows = leases.map((l) => [
    expiryTime(l.expirytime),
    l.mac ?? '-',
    l.type === 0 ? 'ipv4' : 'ipv6',
    `${l.ipaddr}/${l.prefix}`,
    l.hostname ?? '-',
    l.clientid ?? '-',
  ]);
  ctl.print(formatTable(['Expiry Time', 'MAC address', 'Protocol', 'IP address', 'Hostname', 'Client ID or DUID'], rows, true) + '\n');
  return true;
};

const netName: Handler = async (ctl, cmd) => {
  const net = await network(ctl, cmd, BY_UUID, 'network');
  ctl.print(`${net.name()}\n`);
  return true;
};

const netUuid: Handler = async (ctl, cmd) => {
  const net = await network(ctl, cmd, BY_NAME);
  ctl.print(`${net.UUIDString()}\n`);
  return true;
};

export const handlers: Record<string, Handler> = {
  'net-autostart': netAutostart,
  'net-create': fromFile(true),
  'net-define': fromFile(false),
  'net-destroy': simple((n) => n.destroy(), 'destroyed', 'Failed to destroy network'),
  'net-dhcp-leases': netDhcpLeases,
  'net-dumpxml': netDumpxml,
  'net-info': netInfo,
  'net-list': netList,
  'net-name': netName,
  'net-start': simple((n) => n.create(), 'started', 'Failed to start network'),
  'net-undefine': simple((n) => n.undefine(), 'has been undefined', 'Failed to undefine network'),
  'net-uuid': netUuid,
};
