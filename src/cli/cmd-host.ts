/**
 * Host and hypervisor commands (virsh-host.c): capabilities, domcapabilities, hostname, nodeinfo,
 * sysinfo, uri, version.
 */
import type { Handler } from './context.js';

/** libvirt's encoded version (major * 1,000,000 + minor * 1,000 + release) as "a.b.c". */
export function versionString(v: number): string {
  return `${Math.floor(v / 1_000_000)}.${Math.floor((v % 1_000_000) / 1000)}.${v % 1000}`;
}

const uri: Handler = async (ctl) => {
  ctl.print(`${ctl.c.getURI()}\n`);
  return true;
};

const hostname: Handler = async (ctl) => {
  const name = await ctl.attempt(ctl.c.getHostname());
  if (typeof name !== 'string') {
    ctl.error('failed to get hostname');
    return false;
  }
  ctl.print(`${name}\n`);
  return true;
};

const version: Handler = async (ctl, cmd) => {
  const conn = ctl.c;
  const type = conn.getType();
  const lib = conn.getLibVersion();
  const hv = await ctl.attempt(conn.getVersion());
  if (cmd.bool('json')) {
    if (typeof hv !== 'number') {
      ctl.error('failed to get the hypervisor version');
      return false;
    }
    const out: Record<string, unknown> = {
      library: versionString(lib),
      api: { type, version: versionString(lib) },
      hypervisor: hv === 0 ? null : { type, version: versionString(hv) },
    };
    if (cmd.bool('daemon')) out.daemon = versionString(lib);
    ctl.print(JSON.stringify(out, null, 2) + '\n');
    return true;
  }
  ctl.print(`Compiled against library: libvirt ${versionString(lib)}\n`);
  ctl.print(`Using library: libvirt ${versionString(lib)}\n`);
  ctl.print(`Using API: ${type} ${versionString(lib)}\n`);
  if (typeof hv !== 'number') {
    ctl.error('failed to get the hypervisor version');
    return false;
  }
  if (hv === 0) ctl.print(`Cannot extract running ${type} hypervisor version\n`);
  else ctl.print(`Running hypervisor: ${type} ${versionString(hv)}\n`);
  if (cmd.bool('daemon')) ctl.print(`Running against daemon: ${versionString(lib)}\n`);
  return true;
};

const capabilities: Handler = async (ctl) => {
  const caps = await ctl.attempt(ctl.c.getCapabilities());
  if (typeof caps !== 'string') {
    ctl.error('failed to get capabilities');
    return false;
  }
  ctl.print(`${caps}\n`);
  return true;
};

const nodeinfo: Handler = async (ctl) => {
  const info = await ctl.attempt(ctl.c.getNodeInfo());
  if (typeof info !== 'object') {
    ctl.error('failed to get node information');
    return false;
  }
  // virsh's layout: "%-20s %s\n" per line, memory in KiB.
  const rows: [string, string][] = [
    ['CPU model:', info.model],
    ['CPU(s):', String(info.cpus)],
    ['CPU frequency:', `${info.mhz} MHz`],
    ['CPU socket(s):', String(info.sockets)],
    ['Core(s) per socket:', String(info.cores)],
    ['Thread(s) per core:', String(info.threads)],
    ['NUMA cell(s):', String(info.nodes)],
    ['Memory size:', `${info.memory} KiB`],
  ];
  for (const [label, value] of rows) ctl.print(`${label.padEnd(20)} ${value}\n`);
  return true;
};

const domcapabilities: Handler = async (ctl, cmd) => {
  const xml = await ctl.attempt(
    ctl.c.getDomainCapabilities(cmd.string('emulatorbin') ?? null, cmd.string('arch') ?? null, cmd.string('machine') ?? null, cmd.string('virttype') ?? null, 0),
  );
  if (typeof xml !== 'string') {
    ctl.error('failed to get emulator capabilities');
    return false;
  }
  ctl.print(`${xml}\n`);
  return true;
};

const sysinfo: Handler = async (ctl) => {
  const xml = await ctl.attempt(ctl.c.getSysinfo(0));
  if (typeof xml !== 'string') {
    ctl.error('failed to get sysinfo');
    return false;
  }
  // virsh prints it as it comes (unlike capabilities, with no newline added).
  ctl.print(xml);
  return true;
};

export const handlers: Record<string, Handler> = { capabilities, domcapabilities, uri, hostname, nodeinfo, sysinfo, version };
