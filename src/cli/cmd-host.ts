/**
 * Host and hypervisor commands (virsh-host.c): uri, hostname, version.
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

export const handlers: Record<string, Handler> = { uri, hostname, version };
