/**
 * Opening the byte stream of a remote connection, by the URI's transport. Each transport lives in
 * a module of its own; this picks one.
 */
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import { RpcClient, type RpcClientOptions } from './client.js';
import type { RemoteTarget } from './uri.js';
import { openSsh } from './ssh.js';
import { openTls } from './tls.js';

/**
 * Connects to the daemon `target` names and returns the client over that stream (before the
 * handshake). Errors: the transport's own (VIR_ERR_SYSTEM_ERROR for a socket that does not
 * answer); VIR_ERR_INVALID_ARG for a transport tsvirt's remote driver does not speak, in
 * libvirt's words for an unknown one.
 */
export async function openTransport(target: RemoteTarget, timeoutMs: number, opts: RpcClientOptions): Promise<RpcClient> {
  switch (target.transport) {
    case 'unix':
      return RpcClient.connect(target.socket, timeoutMs, opts);
    case 'ssh':
      return openSsh(target, opts);
    case 'tls':
      return openTls(target, timeoutMs, opts);
    default:
      throw VirError.report(
        ErrorDomain.REMOTE,
        ErrorNumber.INVALID_ARG,
        'remote_open: transport in URL not recognised (should be tls|unix|ssh|ext|tcp|libssh2|libssh)',
      );
  }
}
