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
  /** Open read-only: every mutating call fails with VIR_ERR_OPERATION_DENIED. */
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
 * {@link DEFAULT_URI}.
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
 * Opens a connection: picks the driver registered for the URI's scheme (src/drivers/registry.ts),
 * loads it and opens it — or, with {@link ConnectOptions.pool}, takes the driver the pool already
 * holds for the same canonical URI.
 *
 * Errors: VIR_ERR_NO_CONNECT when no driver serves the URI; the driver's errors when it cannot
 * open. On failure nothing stays open (a pooled driver whose open failed is not kept).
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

/** python-libvirt's `openReadOnly(uri)`. */
export async function openReadOnly(uri?: string | null): Promise<Connection> {
  return connect(uri, { readonly: true });
}
