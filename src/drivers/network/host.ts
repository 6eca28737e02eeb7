/**
 * Networks on the host, as libvirt's network driver builds them: a Linux bridge with the
 * network's address, dnsmasq (Debian's dnsmasq-base) for DHCP and DNS on it, and an nftables
 * table of its own for NAT and forwarding rules. Everything is made in the network namespace the
 * process runs in (tests run tsvirtd under `ip netns exec`). Each network's files are named from
 * its bridge, which the driver validated: dnsmasq's configuration and lease file under the state
 * directory, its pid file under the runtime directory.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorDomain, ErrorNumber, IPAddrType } from '../../core/enums.generated.js';
import { VirError, configUnsupported } from '../../core/errors.js';
import type { NetworkDHCPLease } from '../../core/network-driver.js';
import { generateMAC } from '../../conf/values.js';
import {
  ipPrefix,
  ipv4Subnet,
  ipv4ToNumber,
  numberToIpv4,
  subnetsOverlap,
  type NetworkDef,
  type NetworkIpDef,
} from '../../conf/network.js';
import type { NetworkBackend } from './driver.js';

const run = promisify(execFile);
const N = ErrorDomain.NETWORK;

/** What a running network's record holds: enough to stop it and to find its dnsmasq. */
interface HostRuntime {
  bridge: string;
  /** The nftables table (family ip), when the network has rules. */
  table?: string;
  /** dnsmasq's pid, when it runs one. */
  dnsmasqPid?: number;
}

/** Where the host backend keeps its files. */
export interface HostNetworkLocations {
  /** dnsmasq configurations and lease files. */
  stateDir: string;
  /** dnsmasq pid files. */
  runDir: string;
}

function sysError(detail: string): VirError {
  return VirError.report(ErrorDomain.NONE, ErrorNumber.SYSTEM_ERROR, detail);
}

/** Runs a command; its failure becomes VIR_ERR_INTERNAL_ERROR with the command's own message. */
async function cmd(file: string, args: readonly string[], what: string): Promise<string> {
  try {
    return (await run(file, args, { encoding: 'utf8', timeout: 30_000 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string; code?: string };
    if (e.code === 'EPERM' || /Operation not permitted/.test(e.stderr ?? '')) {
      throw sysError(`${what}: Operation not permitted`);
    }
    if (e.code === 'ENOENT') throw sysError(`Cannot find '${file}' in path: No such file or directory`);
    throw VirError.report(N, ErrorNumber.INTERNAL_ERROR, `${what}: ${(e.stderr ?? e.message).trim()}`);
  }
}

/** Runs an nft script from standard input. */
async function nft(script: string, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = execFile('nft', ['-f', '-'], { encoding: 'utf8', timeout: 30_000 }, (err, _out, stderr) => {
      if (err === null) resolve();
      else if ((err as { code?: unknown }).code === 'ENOENT') reject(sysError("Cannot find 'nft' in path: No such file or directory"));
      else reject(VirError.report(N, ErrorNumber.INTERNAL_ERROR, `${what}: ${stderr.trim() || err.message}`));
    });
    child.stdin?.end(script);
  });
}

const linkExists = (name: string): boolean => existsSync(join('/sys/class/net', name));

/** Whether `pid` is a dnsmasq whose command line names `conf`. */
function isOurDnsmasq(pid: number | undefined, conf: string): boolean {
  if (pid === undefined) return false;
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.some((a) => a.endsWith('dnsmasq')) && argv.includes(`--conf-file=${conf}`);
  } catch {
    return false;
  }
}

/** The host's IPv4 routes (this network namespace's): interface, destination, prefix. */
function hostRoutes(): { iface: string; dest: number; prefix: number }[] {
  let text: string;
  try {
    text = readFileSync('/proc/net/route', 'utf8');
  } catch {
    return [];
  }
  const le = (hex: string): number => {
    const n = parseInt(hex, 16);
    // /proc/net/route writes addresses in the host's (little-endian) byte order.
    return (((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24)) >>> 0;
  };
  return text
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const f = l.trim().split(/\s+/);
      const mask = le(f[7] ?? '0');
      let prefix = 0;
      while (prefix < 32 && (mask & (0x80000000 >>> prefix)) !== 0) prefix++;
      return { iface: f[0] ?? '', dest: le(f[1] ?? '0'), prefix };
    });
}

const ipv4s = (def: NetworkDef): NetworkIpDef[] => def.ips.filter((ip) => ipv4Subnet(ip) !== undefined);


/** The host backend: see the module comment. */
export class HostNetworks implements NetworkBackend {
  readonly functionPrefix = 'network';
  readonly errorDomain = ErrorDomain.NETWORK;
  readonly natPorts = true;
  readonly networkDriverRules = true;

  constructor(private readonly where: HostNetworkLocations) {}

  private conf(bridge: string): string {
    return join(this.where.stateDir, `${bridge}.conf`);
  }
  private leaseFile(bridge: string): string {
    return join(this.where.stateDir, `${bridge}.leases`);
  }
  private pidFile(bridge: string): string {
    return join(this.where.runDir, `${bridge}.pid`);
  }

  prepare(def: NetworkDef, others: readonly NetworkDef[]): void {
    const mode = def.forward?.mode;
    if (mode !== undefined && !['nat', 'route', 'open', 'bridge'].includes(mode)) {
      throw configUnsupported(N, `forward mode '${mode}' is not supported by tsvirt's network driver`);
    }
    const used = new Set(others.map((o) => o.bridge?.name).filter((b): b is string => b !== undefined));
    if (mode === 'bridge') {
      if (def.bridge?.name === undefined) {
        throw configUnsupported(N, `network '${def.name}' has forward mode 'bridge' but no bridge name`);
      }
      return;
    }
    if (def.bridge?.name === undefined) {
      let n = 0;
      while (used.has(`virbr${n}`) || linkExists(`virbr${n}`)) n++;
      def.bridge = { stp: true, delay: 0, ...def.bridge, name: `virbr${n}` };
    } else if (used.has(def.bridge.name)) {
      throw VirError.report(N, ErrorNumber.INTERNAL_ERROR, `bridge name '${def.bridge.name}' already in use.`);
    }
    def.mac ??= generateMAC();
  }

  async start(def: NetworkDef): Promise<string> {
    const bridge = def.bridge?.name ?? '';
    if (def.forward?.mode === 'bridge') {
      if (!linkExists(bridge)) throw sysError(`Cannot get interface MTU on '${bridge}': No such device`);
      return JSON.stringify({ bridge } satisfies HostRuntime);
    }
    if (linkExists(bridge)) throw VirError.report(N, ErrorNumber.INTERNAL_ERROR, `bridge name '${bridge}' already in use.`);
    // As libvirt's networkCheckRouteCollision: a subnet some interface already routes is refused.
    for (const ip of ipv4s(def)) {
      const subnet = ipv4Subnet(ip);
      if (subnet === undefined) continue;
      for (const r of hostRoutes()) {
        if (r.dest === 0 && r.prefix === 0) continue;
        if (subnetsOverlap(subnet, [r.dest, r.prefix])) {
          throw VirError.report(N, ErrorNumber.INTERNAL_ERROR, `Network is already in use by interface ${r.iface}`);
        }
      }
    }
    const rt: HostRuntime = { bridge };
    try {
      await cmd('ip', ['link', 'add', 'name', bridge, 'type', 'bridge', 'forward_delay', String((def.bridge?.delay ?? 0) * 100)], `Unable to create bridge ${bridge}`);
      // A fixed address, so the bridge never takes that of a guest's tap (generated when the
      // definition has none, as libvirt's define would have).
      await cmd('ip', ['link', 'set', 'dev', bridge, 'address', def.mac ?? generateMAC()], `Unable to set bridge ${bridge} MAC address`);
      if (def.bridge?.stp !== false) await cmd('ip', ['link', 'set', 'dev', bridge, 'type', 'bridge', 'stp_state', '1'], `Unable to set STP on bridge ${bridge}`);
      for (const ip of def.ips) {
        await cmd('ip', ['addr', 'add', `${ip.address}/${ipPrefix(ip)}`, 'dev', bridge], `Unable to set IP address on ${bridge}`);
      }
      await cmd('ip', ['link', 'set', 'dev', bridge, 'up'], `Unable to set bridge ${bridge} up`);
      if (def.forward !== undefined && def.forward.mode !== 'open') {
        writeFileSync('/proc/sys/net/ipv4/ip_forward', '1\n');
      }
      if (def.forward?.mode !== 'open') {
        rt.table = `tsvirt_${bridge.replace(/[^A-Za-z0-9_]/g, '_')}`;
        await nft(this.rules(def, rt.table), `Unable to add firewall rules for network '${def.name}'`);
      }
      if (def.ips.length > 0) rt.dnsmasqPid = await this.startDnsmasq(def, bridge);
    } catch (err) {
      await this.stop(def, JSON.stringify(rt));
      throw err;
    }
    return JSON.stringify(rt);
  }

  /**
   * The network's nftables table. NAT: masquerade what leaves the subnet (not multicast or
   * broadcast), let replies back in, let the subnet out. Routed: forwarding both ways.
   * Isolated: nothing forwarded to or from the bridge. DHCP and DNS on the bridge are allowed.
   */
  private rules(def: NetworkDef, table: string): string {
    const bridge = def.bridge?.name ?? '';
    const nets = ipv4s(def).map((ip) => {
      const [base, prefix] = ipv4Subnet(ip) ?? [0, 0];
      return `${numberToIpv4(base)}/${prefix}`;
    });
    const lines = [`table ip ${table} {`];
    const mode = def.forward?.mode;
    if (mode === 'nat' && nets.length > 0) {
      lines.push('  chain postrouting {', '    type nat hook postrouting priority srcnat; policy accept;');
      for (const n of nets) {
        lines.push(`    ip saddr ${n} ip daddr 224.0.0.0/24 return`);
        lines.push(`    ip saddr ${n} ip daddr 255.255.255.255 return`);
        lines.push(`    ip saddr ${n} ip daddr != ${n} masquerade`);
      }
      lines.push('  }');
    }
    lines.push('  chain forward {', '    type filter hook forward priority filter; policy accept;');
    lines.push(`    iifname "${bridge}" oifname "${bridge}" accept`);
    if (mode === 'nat') {
      for (const n of nets) {
        lines.push(`    oifname "${bridge}" ip daddr ${n} ct state related,established accept`);
        lines.push(`    iifname "${bridge}" ip saddr ${n} accept`);
      }
    } else if (mode === 'route') {
      for (const n of nets) {
        lines.push(`    oifname "${bridge}" ip daddr ${n} accept`);
        lines.push(`    iifname "${bridge}" ip saddr ${n} accept`);
      }
    }
    lines.push(`    oifname "${bridge}" reject`, `    iifname "${bridge}" reject`, '  }', '}');
    return `${lines.join('\n')}\n`;
  }

  /** dnsmasq's configuration, as libvirt's networkDnsmasqConfContents writes the parts it models. */
  private dnsmasqConf(def: NetworkDef, bridge: string): string {
    const lines = [
      '# Written by tsvirt: changes are overwritten when the network starts.',
      'strict-order',
      `pid-file=${this.pidFile(bridge)}`,
      'except-interface=lo',
      'bind-dynamic',
      `interface=${bridge}`,
      'user=root',
      'no-hosts',
    ];
    if (def.domainName !== undefined) lines.push(`domain=${def.domainName}`, `local=/${def.domainName}/`, 'expand-hosts');
    let leaseMax = 0;
    for (const ip of def.ips) {
      if (!ip.dhcp) continue;
      const v4 = ipv4Subnet(ip) !== undefined;
      for (const r of ip.dhcpRanges) {
        lines.push(v4 ? `dhcp-range=${r.start},${r.end},${numberToIpv4(ipPrefix(ip) === 0 ? 0 : (0xffffffff << (32 - ipPrefix(ip))) >>> 0)}` : `dhcp-range=${r.start},${r.end},${ipPrefix(ip)}`);
        const s = ipv4ToNumber(r.start);
        const e = ipv4ToNumber(r.end);
        if (s !== undefined && e !== undefined) leaseMax += e - s + 1;
      }
      for (const h of ip.dhcpHosts) {
        const parts = [h.mac, h.ip, h.name].filter((x): x is string => x !== undefined);
        if (parts.length > 0) lines.push(`dhcp-host=${parts.join(',')}`);
      }
      if (ip.dhcpRanges.length === 0 && ip.dhcpHosts.length > 0 && v4) {
        const [base] = ipv4Subnet(ip) ?? [0];
        lines.push(`dhcp-range=${numberToIpv4(base)},static`);
      }
    }
    if (leaseMax > 0) lines.push('dhcp-no-override', 'dhcp-authoritative', `dhcp-lease-max=${leaseMax}`);
    lines.push(`dhcp-leasefile=${this.leaseFile(bridge)}`);
    return `${lines.join('\n')}\n`;
  }

  /** Writes the configuration and starts dnsmasq (it forks into the background); returns its pid. */
  private async startDnsmasq(def: NetworkDef, bridge: string): Promise<number> {
    mkdirSync(this.where.stateDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.where.runDir, { recursive: true, mode: 0o700 });
    const conf = this.conf(bridge);
    writeFileSync(conf, this.dnsmasqConf(def, bridge), { mode: 0o600 });
    rmSync(this.pidFile(bridge), { force: true });
    // The lease file is kept across restarts: a dnsmasq that died comes back with its leases.
    await cmd('dnsmasq', [`--conf-file=${conf}`], `Unable to start dnsmasq for network '${def.name}'`);
    const pid = Number(readFileSync(this.pidFile(bridge), 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) {
      throw VirError.report(N, ErrorNumber.INTERNAL_ERROR, `dnsmasq for network '${def.name}' wrote no pid`);
    }
    return pid;
  }

  async stop(def: NetworkDef, runtime: string | null): Promise<void> {
    const rt = parseRuntime(runtime);
    const bridge = rt?.bridge ?? def.bridge?.name;
    if (bridge === undefined || def.forward?.mode === 'bridge') return;
    const conf = this.conf(bridge);
    if (isOurDnsmasq(rt?.dnsmasqPid, conf)) {
      try {
        process.kill(rt?.dnsmasqPid ?? 0, 'SIGTERM');
      } catch {
        // gone already
      }
    }
    rmSync(this.pidFile(bridge), { force: true });
    if (rt?.table !== undefined) await nft(`delete table ip ${rt.table}\n`, 'nft').catch(() => undefined);
    if (linkExists(bridge)) await cmd('ip', ['link', 'del', 'dev', bridge], `Unable to delete bridge ${bridge}`);
  }

  async refresh(def: NetworkDef, runtime: string | null): Promise<string | null> {
    const rt = parseRuntime(runtime);
    if (rt === null) return null;
    if (def.forward?.mode === 'bridge') return linkExists(rt.bridge) ? runtime : null;
    if (!linkExists(rt.bridge)) {
      await this.stop(def, runtime);
      return null;
    }
    if (rt.dnsmasqPid !== undefined && !isOurDnsmasq(rt.dnsmasqPid, this.conf(rt.bridge))) {
      // dnsmasq died: restarted on the same lease file, as libvirtd does when it finds it gone.
      return JSON.stringify({ ...rt, dnsmasqPid: await this.startDnsmasq(def, rt.bridge) } satisfies HostRuntime);
    }
    return runtime;
  }

  async leases(def: NetworkDef, runtime: string | null): Promise<NetworkDHCPLease[]> {
    const bridge = parseRuntime(runtime)?.bridge ?? def.bridge?.name;
    if (bridge === undefined) return [];
    let text: string;
    try {
      text = readFileSync(this.leaseFile(bridge), 'utf8');
    } catch {
      return [];
    }
    const v4 = ipv4s(def)[0];
    const prefix = v4 === undefined ? 24 : ipPrefix(v4);
    const now = Math.floor(Date.now() / 1000);
    const out: NetworkDHCPLease[] = [];
    // dnsmasq's lease file: "EXPIRY MAC IP HOSTNAME CLIENTID", `*` for an absent field.
    for (const line of text.split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 5 || f[0] === 'duid') continue;
      const expiry = Number(f[0]);
      if (expiry !== 0 && expiry < now) continue;
      const opt = (s: string | undefined): string | null => (s === undefined || s === '*' ? null : s);
      out.push({
        iface: bridge,
        expirytime: expiry,
        type: IPAddrType.IPV4,
        mac: opt(f[1])?.toLowerCase() ?? null,
        iaid: null,
        ipaddr: f[2] ?? '',
        prefix,
        hostname: opt(f[3]),
        clientid: opt(f[4]),
      });
    }
    return out;
  }

  forget(def: NetworkDef): void {
    const bridge = def.bridge?.name;
    if (bridge === undefined) return;
    rmSync(this.leaseFile(bridge), { force: true });
    rmSync(this.conf(bridge), { force: true });
  }
}

function parseRuntime(json: string | null): HostRuntime | null {
  if (json === null) return null;
  try {
    const rt = JSON.parse(json) as Partial<HostRuntime>;
    return typeof rt.bridge === 'string' ? (rt as HostRuntime) : null;
  } catch {
    return null;
  }
}

/**
 * Refuses networks to a process without CAP_NET_ADMIN, as libvirt's session daemon fails to
 * create a bridge: VIR_ERR_SYSTEM_ERROR "Unable to create bridge NAME: Operation not permitted".
 */
export function unprivilegedNetworks(inner: NetworkBackend): NetworkBackend {
  return {
    functionPrefix: inner.functionPrefix,
    errorDomain: inner.errorDomain,
    natPorts: inner.natPorts,
    networkDriverRules: inner.networkDriverRules,
    prepare: (def, others) => inner.prepare(def, others),
    start: async (def) => {
      throw sysError(`Unable to create bridge ${def.bridge?.name ?? def.name}: Operation not permitted`);
    },
    stop: (def, rt) => inner.stop(def, rt),
    refresh: (def, rt) => inner.refresh(def, rt),
    leases: (def, rt) => inner.leases?.(def, rt) ?? Promise.resolve([]),
    forget: (def) => inner.forget?.(def),
  };
}
