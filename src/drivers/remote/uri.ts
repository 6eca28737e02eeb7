/**
 * Remote URIs (`DRIVER+unix://[host]/PATH?socket=…`): the inner URI the daemon opens and the
 * socket to reach it, following libvirt's remote driver.
 */
import { join } from 'node:path';
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import { RO_SOCKET, RW_SOCKET, defaultSocketDir } from '../../core/paths.js';

/** Query parameters the remote driver consumes itself; every other one goes to the daemon. */
const CLIENT_PARAMS = new Set(['socket', 'name', 'mode', 'proxy', 'no_verify', 'no_tty', 'command', 'netcat', 'keyfile', 'pkipath', 'sshauth', 'known_hosts', 'auth', 'known_hosts_verify', 'tls_priority', 'no_sanity', 'authfile']);

/**
 * Where and what to open. `transport` is the URI's (`qemu+tls://` → 'tls'; none → 'unix');
 * each transport reads what it needs of `url` (host, port, user, its query parameters).
 */
export interface RemoteTarget {
  /** The URI sent in CONNECT_OPEN (`test:///default` for `test+unix:///default?socket=…`). */
  inner: string;
  /** 'unix', or the transport named after '+'. */
  transport: RemoteTransport;
  /** The unix socket path: `socket=` or the daemon's default (the local side for 'unix'; for 'ssh' the remote side's, when given). */
  socket: string;
  /** The parsed URI, for the transport's own parameters. */
  url: URL;
  /** A read-only open (the ssh transport asks the remote side for the read-only socket). */
  readonly: boolean;
}

/** libvirt's transports; tsvirt's remote driver opens those it has (see openRemoteDriver). */
export type RemoteTransport = 'unix' | 'tls' | 'tcp' | 'ssh' | 'ext' | 'libssh' | 'libssh2';

const TRANSPORTS: ReadonlySet<string> = new Set<RemoteTransport>(['unix', 'tls', 'tcp', 'ssh', 'ext', 'libssh', 'libssh2']);

/**
 * Splits a remote URI (`DRIVER+TRANSPORT://[user@][host][:port]/PATH?…`): the inner URI is the scheme without its transport, path and remaining
 * query kept, `socket` (and libvirt's other client-side parameters) removed; `name=` overrides it
 * as in libvirt. Without `socket=` the daemon's default socket is used (`libvirt-sock-ro` for a
 * read-only open). Errors: VIR_ERR_INVALID_ARG for a transport libvirt does not know, as
 * libvirt's remote driver words it.
 */
export function parseRemoteURI(url: URL, options: { readonly?: boolean; env?: NodeJS.ProcessEnv; uid?: number } = {}): RemoteTarget {
  const scheme = url.protocol.replace(/:$/, '');
  const plus = scheme.indexOf('+');
  const transport = plus < 0 ? 'unix' : scheme.slice(plus + 1);
  if (!TRANSPORTS.has(transport)) {
    throw VirError.report(
      ErrorDomain.REMOTE,
      ErrorNumber.INVALID_ARG,
      'remote_open: transport in URL not recognised (should be tls|unix|ssh|ext|tcp|libssh2|libssh)',
    );
  }
  const driver = plus < 0 ? scheme : scheme.slice(0, plus);
  const kept = new URLSearchParams();
  for (const [k, v] of url.searchParams) if (!CLIENT_PARAMS.has(k)) kept.append(k, v);
  const query = kept.toString();
  const named = url.searchParams.get('name');
  const inner = named !== null && named !== '' ? named : `${driver}://${url.pathname}${query === '' ? '' : `?${query}`}`;
  const given = url.searchParams.get('socket');
  const socket =
    given !== null && given !== '' ? given : join(defaultSocketDir(options.env, options.uid), options.readonly === true ? RO_SOCKET : RW_SOCKET);
  return { inner, transport: transport as RemoteTransport, socket, url, readonly: options.readonly === true };
}
