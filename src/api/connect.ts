/**
 * connect(uri): picks the driver for a URI (DESIGN §3) and opens a Connection.
 */
import { Connection } from './connection.js';
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { VirError } from '../core/errors.js';
import type { HypervisorDriver } from '../core/driver.js';
import type { ConnectAuthCallback } from '../core/auth.js';

export { ConnectCredentialType, type ConnectAuthCallback, type ConnectCredential } from '../core/auth.js';

/** The URI used when none is given and no environment variable names one. */
export const DEFAULT_URI = 'test:///session';

/** Options of {@link connect}. */
export interface ConnectOptions {
  /**
   * Open read-only (libvirt's VIR_CONNECT_RO): queries work, every call that would change
   * something fails with VIR_ERR_OPERATION_DENIED before it reaches the driver.
   */
  readonly?: boolean;
  /** Credentials for drivers that log in (esx://, vpx://), as libvirt's virConnectOpenAuth. */
  auth?: ConnectAuthCallback;
}

/**
 * The URI a caller means: the argument, else TSVIRT_DEFAULT_URI, else LIBVIRT_DEFAULT_URI, else
 * {@link DEFAULT_URI}. An empty string counts as absent.
 *
 * Prerequisites: none. Effects: none (pure; reads `env`, which defaults to `process.env`).
 * Never throws.
 */
export function resolveURI(uri?: string | null, env: NodeJS.ProcessEnv = process.env): string {
  for (const candidate of [uri, env.TSVIRT_DEFAULT_URI, env.LIBVIRT_DEFAULT_URI]) {
    if (candidate !== undefined && candidate !== null && candidate !== '') return candidate;
  }
  return DEFAULT_URI;
}

function noConnect(uri: string): VirError {
  return VirError.report(ErrorDomain.NONE, ErrorNumber.NO_CONNECT, uri);
}

/**
 * Opens a connection to the hypervisor a URI names (libvirt's virConnectOpenAuth). The URI is
 * resolved by {@link resolveURI}; `test:///default`, `test:///session`, `qemu:///session`,
 * `qemu:///system`, `esx://…`, `vpx://…`, `vbox:///session` and the daemon URIs
 * `test+unix:///…` and `qemu+unix:///…` are served.
 *
 * Prerequisites: for `test:///session` and `qemu:`, a writable state directory; for
 * `esx:`/`vpx:`, a reachable endpoint and credentials (URI, auth file or `options.auth`); for
 * `vbox:`, VBoxManage; for `+unix` URIs, a daemon listening on the socket.
 *
 * Effects on success: a driver is open: `test:///session` and `qemu:` open (or create) their
 * store under the state directory, and `qemu:` processes guests that stopped while nobody
 * watched as stopped; `esx:`/`vpx:` have logged in. Close it with {@link Connection.close}.
 *
 * Effects on failure: nothing is left open.
 * @throws {@link VirError} VIR_ERR_NO_CONNECT when the URI is malformed or no driver serves it
 * (unknown scheme, host or path).
 * @throws {@link VirError} the driver's error when opening fails: VIR_ERR_SYSTEM_ERROR when a
 * daemon's socket cannot be reached; VIR_ERR_AUTH_FAILED, VIR_ERR_AUTH_CANCELLED or
 * VIR_ERR_AUTH_UNAVAILABLE when a login is refused or lacks credentials; VIR_ERR_INTERNAL_ERROR
 * when a driver cannot initialize (e.g. VBoxManage missing).
 *
 * @example
 * const conn = await connect('test:///default');
 * const dom = await conn.lookupByName('test');
 */
export async function connect(uri?: string | null, options: ConnectOptions = {}): Promise<Connection> {
  const resolved = resolveURI(uri);
  let parsed: URL;
  try {
    parsed = new URL(resolved);
  } catch {
    throw noConnect(resolved);
  }
  let driver: HypervisorDriver;
  switch (parsed.protocol) {
    case 'test:': {
      if (parsed.host !== '' || (parsed.pathname !== '/default' && parsed.pathname !== '/session')) {
        throw noConnect(resolved);
      }
      // Loaded on demand so that a program pays only for the drivers it uses.
      const { openTestDriver } = await import('../drivers/test/driver.js');
      driver = openTestDriver(parsed.pathname, `test://${parsed.pathname}`);
      break;
    }
    case 'test+unix:':
    case 'qemu+unix:': {
      // Through a daemon (tsvirtd or libvirtd) on a unix socket; loaded on demand too.
      const { openRemoteDriver } = await import('../drivers/remote/driver.js');
      driver = await openRemoteDriver(resolved, { readonly: options.readonly === true });
      break;
    }
    case 'qemu:': {
      if (parsed.host !== '' || (parsed.pathname !== '/session' && parsed.pathname !== '/system')) {
        throw noConnect(resolved);
      }
      const { openQemuDriver } = await import('../drivers/qemu/driver.js');
      driver = await openQemuDriver(parsed.pathname, `qemu://${parsed.pathname}`);
      break;
    }
    case 'esx:':
    case 'vpx:': {
      // A vSphere endpoint over SOAP; the driver logs in before connect() returns.
      const { openEsxDriver } = await import('../drivers/esx/driver.js');
      driver = await openEsxDriver(parsed, { auth: options.auth });
      break;
    }
    case 'vbox:': {
      if (parsed.host !== '' || parsed.pathname !== '/session') throw noConnect(resolved);
      const { openVBoxDriver } = await import('../drivers/vbox/driver.js');
      driver = await openVBoxDriver();
      break;
    }
    default:
      throw noConnect(resolved);
  }
  return new Connection(driver, { readonly: options.readonly === true });
}

/**
 * Opens a read-only connection: `connect(uri, { readonly: true })` (python-libvirt's
 * `openReadOnly(uri)`, libvirt's virConnectOpenReadOnly).
 *
 * Prerequisites, effects and errors: as {@link connect}. On the connection it returns, every
 * call that would change something raises VIR_ERR_OPERATION_DENIED.
 */
export async function openReadOnly(uri?: string | null): Promise<Connection> {
  return connect(uri, { readonly: true });
}
