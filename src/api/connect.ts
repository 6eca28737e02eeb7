/**
 * connect(uri): picks the driver registered for a URI's scheme and opens a Connection.
 */
import { Connection } from './connection.js';
import { ErrorDomain, ErrorNumber } from '../core/enums.generated.js';
import { VirError } from '../core/errors.js';
import type { ConnectAuthCallback } from '../core/auth.js';
import { DRIVERS } from '../drivers/registry.js';
import type { DriverPool } from './driver-pool.js';

export { DriverPool } from './driver-pool.js';
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
  /**
   * Share drivers through this pool: connections of the pool that open the same hypervisor
   * (same canonical URI) use one driver, closed when the last of them closes. Each connection
   * keeps its own read-only flag and event registrations. Not for `auth` connections nor the
   * remote driver, which always open their own. tsvirtd passes one pool for all its clients.
   */
  pool?: DriverPool;
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
 * Opens a connection to the hypervisor a URI names (libvirt's virConnectOpenAuth): picks the
 * driver registered for the URI's scheme (src/drivers/registry.ts) and opens it — or, with
 * {@link ConnectOptions.pool}, takes the driver the pool already holds for the same canonical
 * URI. The URI is resolved by {@link resolveURI}; `test:///default`, `test:///session`, `qemu:///session`,
 * `qemu:///system`, `esx://…`, `vpx://…`, `vbox:///session` and the daemon URIs
 * `test+unix:///…` and `qemu+unix:///…`, `test+tls://HOST/…` and `qemu+tls://HOST/…`, and
 * through the user's ssh `test+ssh://…` and `qemu+ssh://…` (docs/daemon.md) are served.
 *
 * Prerequisites: for `test:///session` and `qemu:`, a writable state directory; for
 * `esx:`/`vpx:`, a reachable endpoint and credentials (URI, auth file or `options.auth`); for
 * `vbox:`, VBoxManage; for `+unix` URIs, a daemon listening on the socket; for `+tls` URIs, a
 * daemon listening for TLS and libvirt's PKI files (the CA certificate, and a client certificate
 * and key the daemon accepts; `?pkipath=DIR` names their directory); for `+ssh` URIs, `ssh` on
 * PATH, a login the remote host accepts without a prompt (or a terminal to prompt on) and a
 * daemon on the remote host's socket.
 *
 * Effects on success: a driver is open: `test:///session` and `qemu:` open (or create) their
 * store under the state directory, and `qemu:` processes guests that stopped while nobody
 * watched as stopped; `esx:`/`vpx:` have logged in. Close it with {@link Connection.close}.
 *
 * Effects on failure: nothing is left open (a pooled driver whose open failed is not kept).
 * @throws {@link VirError} VIR_ERR_NO_CONNECT when the URI is malformed or no driver serves it
 * (unknown scheme, host or path).
 * @throws {@link VirError} the driver's error when opening fails: VIR_ERR_SYSTEM_ERROR when a
 * daemon's socket cannot be reached (over ssh: ssh's own words, e.g. a refused key), a PKI file
 * cannot be read, or the daemon refuses our certificate ("Unable to read TLS confirmation");
 * VIR_ERR_AUTH_FAILED when the daemon's certificate fails its check (unless `no_verify=1`);
 * VIR_ERR_AUTH_FAILED, VIR_ERR_AUTH_CANCELLED or
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
  const load = DRIVERS.get(parsed.protocol);
  if (load === undefined) throw noConnect(resolved);
  const opener = await load();
  const canonical = opener.canonical(parsed, resolved);
  if (canonical === null) throw noConnect(resolved);
  const readonly = options.readonly === true;
  // A connection with its own credential callback logs in on its own: a pooled driver would
  // serve it with another caller's login.
  if (options.pool === undefined || !opener.shareable || options.auth !== undefined) {
    const driver = await opener.open(parsed, resolved, { readonly, auth: options.auth, shared: false });
    return new Connection(driver, { readonly });
  }
  const lease = await options.pool.acquire(canonical, () => opener.open(parsed, resolved, { readonly, shared: true }));
  return new Connection(lease.driver, { readonly, release: lease.release });
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
