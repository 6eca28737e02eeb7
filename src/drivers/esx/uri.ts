/**
 * esx:// and vpx:// URIs as libvirt's esxUtil_ParseUri reads them:
 * `esx://[user@]host[:port]/[?no_verify=0|1&transport=http|https]` for a standalone ESX(i)
 * host, `vpx://[user@]vcenter[:port]/DATACENTER/COMPUTE_RESOURCE[/HOST][?…]` for a host
 * managed by a vCenter.
 */
import { ErrorDomain } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';

/** What an esx:// or vpx:// URI says. */
export interface EsxURI {
  scheme: 'esx' | 'vpx';
  /** The user name written in the URI, if any (`root@host`). */
  user: string | undefined;
  /** The host name or address, without brackets. */
  host: string;
  port: number;
  transport: 'https' | 'http';
  /** TLS certificate verification, on unless `no_verify=1`. */
  verify: boolean;
  /** vpx: the inventory path below the vCenter, split (datacenter, compute resource, host). */
  path: string[];
  /** The canonical URI, for `getURI()`. */
  canonical: string;
}

function invalidArg(message: string): VirError {
  return VirError.invalidArg(ErrorDomain.ESX, message);
}

function flag(params: URLSearchParams, name: string): boolean | undefined {
  const value = params.get(name);
  if (value === null) return undefined;
  if (value !== '0' && value !== '1') {
    throw invalidArg(`Query parameter '${name}' has unexpected value '${value}' (should be 0 or 1)`);
  }
  return value === '1';
}

/**
 * Parses an esx:// or vpx:// URI. Errors: VIR_ERR_INVALID_ARG with libvirt's wording for a bad
 * query parameter or a vpx:// URI without datacenter and compute resource.
 */
export function parseEsxURI(uri: URL): EsxURI {
  const scheme = uri.protocol === 'vpx:' ? 'vpx' : 'esx';
  const host = uri.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw invalidArg(`URI '${uri.href}' does not name a host`);
  const transportParam = uri.searchParams.get('transport');
  if (transportParam !== null && transportParam !== 'http' && transportParam !== 'https') {
    throw invalidArg(`Query parameter 'transport' has unexpected value '${transportParam}' (should be http|https)`);
  }
  const transport = transportParam === 'http' ? 'http' : 'https';
  const verify = !(flag(uri.searchParams, 'no_verify') ?? false);
  const port = uri.port !== '' ? Number(uri.port) : transport === 'https' ? 443 : 80;
  const path = uri.pathname
    .split('/')
    .filter((p) => p !== '')
    .map((p) => decodeURIComponent(p));
  if (scheme === 'vpx' && path.length < 2) {
    throw invalidArg('Path has to specify the datacenter and compute resource');
  }
  const user = uri.username !== '' ? decodeURIComponent(uri.username) : undefined;
  const canonical = `${scheme}://${user !== undefined ? `${uri.username}@` : ''}${uri.host}${uri.pathname || '/'}${uri.search}`;
  return { scheme, user, host, port, transport, verify, path: scheme === 'vpx' ? path : [], canonical };
}
