/**
 * The remote driver's TLS transport (`DRIVER+tls://HOST[:PORT]/PATH`), as libvirt's client does
 * it: TCP to HOST (port 16514 unless given), a TLS handshake with our client certificate, the
 * server's certificate checked against our CA and its name against HOST (both only warned about
 * with `no_verify=1`), then one byte 0x01 from the server before the protocol starts.
 *
 * Files: libvirt's PKI layout for the user (see core/pki.ts), or DIR/cacert.pem,
 * DIR/clientcert.pem, DIR/clientkey.pem with `pkipath=DIR`. The CA certificate must exist; the
 * client certificate and key are sent when both exist (a server that requires one refuses
 * without it, as with libvirt).
 */
import { existsSync, readFileSync } from 'node:fs';
import { connect as tlsConnect, checkServerIdentity, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import { TLS_PORT, libvirtPki } from '../../core/pki.js';
import { RpcClient, systemError, type RpcClientOptions } from './client.js';
import type { RemoteTarget } from './uri.js';

/** Why a server certificate fails, in libvirt's words ("Certificate failed validation: …"), or null. */
function serverCertProblem(sock: TLSSocket, host: string): string | null {
  const peer = sock.getPeerCertificate();
  if (peer === undefined || Object.keys(peer).length === 0) return 'Unable to verify TLS peer: No certificate was found.';
  if (!sock.authorized) {
    const code = String(sock.authorizationError ?? '');
    const known = ['UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT'];
    const reason = known.includes(code) ? "The certificate hasn't got a known issuer." : code === 'CERT_REVOKED' ? 'The certificate has been revoked.' : 'The certificate is not trusted.';
    return `Certificate failed validation: ${reason}`;
  }
  if (checkServerIdentity(host, peer) !== undefined) return `Certificate [session] owner does not match the hostname ${host}`;
  return null;
}

/** A VIR_ERR_SYSTEM_ERROR of libvirt's TLS code (no errno). */
function tlsError(message: string): VirError {
  return new VirError({ code: ErrorNumber.SYSTEM_ERROR, domain: ErrorDomain.RPC, message, str1: '%s', str2: message });
}

/**
 * libvirt's client checks its own certificate before it connects: in its validity period and
 * signed by the CA it trusts. Same order and words.
 */
function checkOwnCertificate(cert: Buffer, certFile: string, ca: Buffer, caFile: string): void {
  let own: X509Certificate;
  try {
    own = new X509Certificate(cert);
  } catch {
    throw tlsError(`Unable to import client certificate ${certFile}`);
  }
  const now = Date.now();
  if (Date.parse(own.validTo) < now) throw tlsError(`The client certificate ${certFile} has expired`);
  if (Date.parse(own.validFrom) > now) throw tlsError(`The client certificate ${certFile} is not yet active`);
  let caCert: X509Certificate;
  try {
    caCert = new X509Certificate(ca);
  } catch {
    throw tlsError(`Unable to import CA certificate list ${caFile}`);
  }
  if (Date.parse(caCert.validTo) < now) throw tlsError(`The CA certificate ${caFile} has expired`);
  if (!caCert.ca) throw tlsError(`The certificate ${caFile} basic constraints do not show a CA`);
  if (!own.checkIssued(caCert) || !own.verify(caCert.publicKey)) {
    throw tlsError(`Our own certificate ${certFile} failed validation against ${caFile}: The certificate hasn't got a known issuer.`);
  }
}

/** `no_verify`'s value: libvirt accepts 0 and 1 only. */
function noVerify(url: URL): boolean {
  const v = url.searchParams.get('no_verify');
  if (v === null) return false;
  if (v !== '0' && v !== '1') {
    throw VirError.report(ErrorDomain.REMOTE, ErrorNumber.INVALID_ARG, `Query parameter 'no_verify' has unexpected value '${v}' (should be 0 or 1)`);
  }
  return v === '1';
}

/**
 * Connects over TLS and returns the client (before libvirt's handshake calls). Errors, as
 * libvirt's: VIR_ERR_SYSTEM_ERROR "Cannot read CA certificate 'F': No such file or directory";
 * VIR_ERR_SYSTEM_ERROR "The client certificate F has expired" and "Our own certificate F failed
 * validation against CA: …" (our own certificate, checked before connecting);
 * VIR_ERR_SYSTEM_ERROR "unable to connect to server at 'HOST:PORT': Connection refused" (or the
 * errno's words, also on timeout); VIR_ERR_AUTH_FAILED "TLS handshake failed …" and
 * "Failed to verify peer's certificate" (server certificate not signed by our CA, expired, or
 * not for HOST, unless no_verify=1); VIR_ERR_SYSTEM_ERROR "Unable to read TLS confirmation" when
 * the server closes instead of confirming (it refused our certificate).
 */
export async function openTls(target: RemoteTarget, timeoutMs: number, opts: RpcClientOptions, log: (msg: string) => void = () => {}): Promise<RpcClient> {
  const url = target.url;
  const skipVerify = noVerify(url);
  // URL keeps IPv6 literals in brackets.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  const port = url.port === '' ? TLS_PORT : Number(url.port);
  const files = libvirtPki('client', { pkipath: url.searchParams.get('pkipath') });
  let ca: Buffer;
  try {
    ca = readFileSync(files.caFile);
  } catch (err) {
    throw systemError(`Cannot read CA certificate '${files.caFile}'`, (err as NodeJS.ErrnoException).code ?? 'ENOENT');
  }
  const withCert = existsSync(files.certFile) && existsSync(files.keyFile);
  let cert: Buffer | undefined;
  let key: Buffer | undefined;
  if (withCert) {
    try {
      cert = readFileSync(files.certFile);
    } catch (err) {
      throw systemError(`Cannot read client certificate '${files.certFile}'`, (err as NodeJS.ErrnoException).code ?? 'EACCES');
    }
    try {
      key = readFileSync(files.keyFile);
    } catch (err) {
      throw systemError(`Cannot read client key '${files.keyFile}'`, (err as NodeJS.ErrnoException).code ?? 'EACCES');
    }
  }
  if (cert !== undefined) checkOwnCertificate(cert, files.certFile, ca, files.caFile);
  const crl = existsSync(files.crlFile) ? readFileSync(files.crlFile) : undefined;
  const where = `unable to connect to server at '${host}:${port}'`;

  return new Promise<RpcClient>((resolve, reject) => {
    let settled = false;
    let connected = false;
    let handshaken = false;
    const sock = tlsConnect({
      host,
      port,
      ca,
      cert,
      key,
      crl,
      // SNI takes names only, never addresses.
      servername: isIP(host) === 0 ? host : undefined,
      // Checked below, after the handshake, to answer in libvirt's words and honour no_verify.
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    const fail = (e: VirError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      reject(e);
    };
    const timer = setTimeout(() => {
      if (!connected) fail(systemError(where, 'ETIMEDOUT'));
      else if (!handshaken) fail(VirError.report(ErrorDomain.RPC, ErrorNumber.AUTH_FAILED, 'TLS handshake failed Connection timed out'));
      else fail(systemError('Unable to read TLS confirmation', 'ETIMEDOUT'));
    }, timeoutMs);
    sock.once('connect', () => {
      connected = true;
      sock.setNoDelay(true);
    });
    sock.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected) fail(systemError(where, err.code ?? 'ECONNREFUSED'));
      else if (!handshaken) fail(VirError.report(ErrorDomain.RPC, ErrorNumber.AUTH_FAILED, `TLS handshake failed ${err.message}`));
      else fail(systemError('Unable to read TLS confirmation', err.code ?? 'EIO'));
    });
    sock.once('close', () => fail(systemError('Unable to read TLS confirmation', 'EIO')));
    sock.once('secureConnect', () => {
      handshaken = true;
      const problem = serverCertProblem(sock, host);
      if (problem !== null) {
        log(`Certificate check failed ${problem}`);
        if (!skipVerify) {
          fail(VirError.report(ErrorDomain.RPC, ErrorNumber.AUTH_FAILED, "Failed to verify peer's certificate"));
          return;
        }
      }
      // The server's confirmation: one byte 0x01 (read alone: what follows belongs to the protocol).
      const onByte = (chunk: Buffer): void => {
        sock.off('readable', onReadable);
        if (chunk[0] !== 1) {
          fail(systemError('Unable to read TLS confirmation', 'EIO'));
          return;
        }
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.removeAllListeners('error');
        sock.removeAllListeners('close');
        const client = RpcClient.over(sock, opts);
        // Back to flowing mode for the client's 'data' listener (a 'readable' one was attached).
        sock.resume();
        resolve(client);
      };
      const onReadable = (): void => {
        const b = sock.read(1) as Buffer | null;
        if (b !== null) onByte(b);
      };
      sock.on('readable', onReadable);
      onReadable();
    });
  });
}
