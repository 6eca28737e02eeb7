/**
 * tsvirtd's TLS listener (libvirtd's `--listen` with listen_tls): a TCP port (16514) where
 * clients speak TLS with a client certificate, then, as over the unix sockets, libvirt's
 * protocol (read-write: libvirt's default auth_tls is none).
 *
 * As libvirtd: the handshake completes whatever the client presented, then the client's
 * certificate is checked (signed by our CA, in its validity period, not revoked when a CRL is
 * given, its DN on tls_allowed_dn_list when one is set). A client that passes gets one byte 0x01
 * (libvirt's clients wait for it: "Unable to read TLS confirmation"); one that does not is
 * logged in libvirtd's words and its connection closed before anything of it is read.
 *
 * A TCP peer that never finishes the handshake holds a slot only until the handshake timeout;
 * and at most max_anonymous_clients connections may be in the handshake at once (more are closed
 * at once), so that such peers cannot exhaust the daemon's descriptors or its max_clients.
 */
import { readFileSync, existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { TLS_PORT, globMatch, gnutlsDN, libvirtPki, type PkiFiles } from '../core/pki.js';
import type { Logger } from './log.js';

/** libvirtd's max_anonymous_clients: connections not yet through the handshake and the certificate check. */
export const MAX_ANONYMOUS_CLIENTS = 20;
/** How long a TCP peer has to finish the TLS handshake (libvirtd has no such bound; tsvirtd's). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface TlsListenOptions {
  /** listen_addr: the address to bind (default: every address). */
  host?: string;
  /** tls_port (default 16514). */
  port?: number;
  /** ca_file, cert_file, key_file, crl_file; unset ones take libvirt's defaults for the daemon's user. */
  files?: Partial<PkiFiles>;
  /** tls_allowed_dn_list: glob patterns over the client's DN; null or absent: every client the CA signed. */
  allowedDNs?: string[] | null;
  /** max_anonymous_clients (default 20). */
  maxAnonymousClients?: number;
  /** Handshake timeout in ms (default 10 s). */
  handshakeTimeoutMs?: number;
}

/** What the listener asks of the daemon. */
export interface TlsListenerHooks {
  log: Logger;
  /** Whether another client fits (max_clients): the connection is closed at once if not. */
  roomFor(pending: number): boolean;
  /** Logs a refused connection (rate-limited by the daemon). */
  refused(message: string): void;
  /** Hands over a checked client, confirmation byte already queued. */
  accept(socket: TLSSocket): void;
}

/** The files the listener uses: the options', else libvirt's defaults for this user. */
export function serverPkiFiles(files: Partial<PkiFiles> = {}): PkiFiles {
  const d = libvirtPki('server');
  return { caFile: files.caFile ?? d.caFile, crlFile: files.crlFile ?? d.crlFile, certFile: files.certFile ?? d.certFile, keyFile: files.keyFile ?? d.keyFile };
}

/** Reads one of the PKI files, failing in libvirt's words ("Cannot read CA certificate 'F': No such file or directory"). */
function readPki(what: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'No such file or directory' : e.code === 'EACCES' ? 'Permission denied' : e.message;
    throw new Error(`Cannot read ${what} '${path}': ${why}`, { cause: err });
  }
}

/**
 * Why a client's certificate is refused, in libvirt's words (what libvirtd logs with "Certificate
 * check failed"), or null when it passes. `authorizationError` is OpenSSL's verdict on the chain.
 */
export function clientCertProblem(socket: TLSSocket, allowedDNs: readonly string[] | null): string | null {
  const peer = socket.getPeerX509Certificate();
  if (peer === undefined) return 'Unable to verify TLS peer: No certificate was found.';
  if (!socket.authorized) return `Certificate failed validation: ${chainReason(String(socket.authorizationError ?? ''))}`;
  if (allowedDNs !== null && allowedDNs.length > 0) {
    const dn = gnutlsDN(peer.subject);
    if (!allowedDNs.some((p) => globMatch(p, dn))) {
      return "Client's Distinguished Name is not on the list of allowed clients (tls_allowed_dn_list).  Use 'virt-pki-query-dn clientcert.pem' to view the Distinguished Name field in the client certificate, or run this daemon with --verbose option.";
    }
  }
  return null;
}

/**
 * GnuTLS's verdict for an OpenSSL chain error, as libvirt words it: an unknown issuer, a
 * revocation, else "not trusted" (expired and not-yet-valid certificates included, as GnuTLS
 * flags those invalid too).
 */
export function chainReason(code: string): string {
  switch (code) {
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return "The certificate hasn't got a known issuer.";
    case 'CERT_REVOKED':
      return 'The certificate has been revoked.';
    default:
      return 'The certificate is not trusted.';
  }
}

export class TlsListener {
  private server: Server | null = null;
  /** Raw connections still in the handshake or its check, by "address|port", with their deadline timers. */
  private readonly pending = new Map<string, { raw: Socket; timer: NodeJS.Timeout }>();
  private readonly allowedDNs: string[] | null;
  private readonly maxAnonymous: number;
  private readonly handshakeMs: number;
  readonly files: PkiFiles;

  constructor(
    private readonly opts: TlsListenOptions,
    private readonly hooks: TlsListenerHooks,
  ) {
    this.files = serverPkiFiles(opts.files);
    this.allowedDNs = opts.allowedDNs ?? null;
    this.maxAnonymous = opts.maxAnonymousClients ?? MAX_ANONYMOUS_CLIENTS;
    this.handshakeMs = opts.handshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS;
  }

  /** Connections in the handshake now. */
  pendingCount(): number {
    return this.pending.size;
  }

  /** The port bound (after start). */
  port(): number {
    const a = this.server?.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  /**
   * Loads the files and listens. Throws, in libvirt's words, when a file cannot be read or the
   * CA certificate is no CA; and when the port cannot be bound.
   */
  async start(): Promise<void> {
    const f = this.files;
    const ca = readPki('CA certificate', f.caFile);
    const cert = readPki('server certificate', f.certFile);
    const key = readPki('server key', f.keyFile);
    const crl = existsSync(f.crlFile) ? readPki('CA revocation list', f.crlFile) : undefined;
    // libvirt refuses to start with a CA certificate that is not one: clients would fail later, less clearly.
    let caCert: X509Certificate;
    try {
      caCert = new X509Certificate(ca);
    } catch (err) {
      throw new Error(`Unable to import CA certificate list ${f.caFile}`, { cause: err });
    }
    if (!caCert.ca) throw new Error(`The certificate ${f.caFile} basic constraints do not show a CA`);
    if (Date.parse(caCert.validTo) < Date.now()) throw new Error(`The CA certificate ${f.caFile} has expired`);
    let own: X509Certificate;
    try {
      own = new X509Certificate(cert);
    } catch (err) {
      throw new Error(`Unable to import server certificate ${f.certFile}`, { cause: err });
    }
    if (Date.parse(own.validTo) < Date.now()) throw new Error(`The server certificate ${f.certFile} has expired`);
    const server = createServer({ ca, cert, key, crl, requestCert: true, rejectUnauthorized: false, handshakeTimeout: this.handshakeMs });
    // Node's own timeout leaves the TCP socket open when 'tlsClientError' has a listener: our
    // timer (onConnection) closes it; this only logs.
    server.on('tlsClientError', (err, socket) => {
      this.hooks.log.debug(`TLS client ${socket.remoteAddress ?? '?'}: ${err.message}`);
      socket.destroy();
    });
    server.on('connection', (raw: Socket) => this.onConnection(raw));
    server.on('secureConnection', (s: TLSSocket) => this.onSecure(s));
    server.on('error', (err) => this.hooks.log.error(`TLS listener: ${err.message}`));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.opts.host, port: this.opts.port ?? TLS_PORT }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const a = server.address();
    const where = typeof a === 'object' && a !== null ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : String(a);
    this.hooks.log.info(`listening for TLS on ${where}${this.allowedDNs !== null ? ` (${this.allowedDNs.length} allowed DN pattern(s))` : ''}`);
  }

  private onConnection(raw: Socket): void {
    // Refused before the handshake, by closing, as libvirtd refuses over its limits.
    if (this.pending.size >= this.maxAnonymous) {
      raw.destroy();
      this.hooks.refused(`Too many anonymous clients (${this.pending.size}) in the TLS handshake, dropping connection`);
      return;
    }
    if (!this.hooks.roomFor(this.pending.size)) {
      raw.destroy();
      this.hooks.refused('Too many active clients, dropping TLS connection');
      return;
    }
    // Calls are small request/reply exchanges: no Nagle delay on replies.
    raw.setNoDelay(true);
    const key = `${raw.remoteAddress ?? ''}|${raw.remotePort ?? ''}`;
    const timer = setTimeout(() => {
      this.hooks.log.warn(`TLS client ${raw.remoteAddress ?? '?'}: no handshake within ${this.handshakeMs} ms, dropping connection`);
      raw.destroy();
    }, this.handshakeMs);
    timer.unref();
    this.pending.set(key, { raw, timer });
    raw.once('close', () => this.settle(key, raw));
  }

  private settle(key: string, raw: Socket): void {
    const p = this.pending.get(key);
    if (p === undefined || p.raw !== raw) return;
    clearTimeout(p.timer);
    this.pending.delete(key);
  }

  private onSecure(s: TLSSocket): void {
    const key = `${s.remoteAddress ?? ''}|${s.remotePort ?? ''}`;
    const p = this.pending.get(key);
    if (p !== undefined) this.settle(key, p.raw);
    const problem = clientCertProblem(s, this.allowedDNs);
    if (problem !== null) {
      const peer = s.getPeerX509Certificate();
      if (peer !== undefined && problem.startsWith("Client's Distinguished Name")) this.hooks.log.debug(`Failed ACL check for client DN '${gnutlsDN(peer.subject)}'`);
      this.hooks.log.warn(`Certificate check failed ${problem}`);
      this.hooks.log.error(`authentication failed: Failed to verify peer's certificate (client ${s.remoteAddress ?? '?'})`);
      s.destroy();
      return;
    }
    // Over max_clients now (others got in during the handshake): closed before the confirmation.
    if (!this.hooks.roomFor(0)) {
      s.destroy();
      this.hooks.refused('Too many active clients, dropping TLS connection');
      return;
    }
    const peer = s.getPeerX509Certificate();
    this.hooks.log.debug(`TLS client ${s.remoteAddress ?? '?'}:${s.remotePort ?? ''} DN '${peer !== undefined ? gnutlsDN(peer.subject) : ''}'`);
    // The confirmation libvirt's clients read right after the handshake.
    s.write(Buffer.from([1]));
    this.hooks.accept(s);
  }

  /** Stops listening and drops the connections still in the handshake. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const { raw, timer } of this.pending.values()) {
      clearTimeout(timer);
      raw.destroy();
    }
    this.pending.clear();
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
