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
  /** Open read-only: every mutating call fails with VIR_ERR_OPERATION_DENIED. */
  readonly?: boolean;
  /** Credentials for drivers that log in (esx://, vpx://), as libvirt's virConnectOpenAuth. */
  auth?: ConnectAuthCallback;
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
 * Opens a connection. Errors: VIR_ERR_NO_CONNECT when no driver serves the URI.
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

/** python-libvirt's `openReadOnly(uri)`. */
export async function openReadOnly(uri?: string | null): Promise<Connection> {
  return connect(uri, { readonly: true });
}
