/**
 * Where libvirt keeps its TLS files (its PKI layout), shared by tsvirtd's TLS listener and the
 * remote driver's TLS transport, and the distinguished-name form libvirt's access list matches.
 *
 * Root: the CA in /etc/pki/CA (cacert.pem, cacrl.pem), the host's own certificate in
 * /etc/pki/libvirt (servercert.pem / clientcert.pem) and its key in /etc/pki/libvirt/private.
 * Anyone else: everything in ~/.pki/libvirt, keys beside the certificates. A `pkipath=DIR` URI
 * parameter (client side) puts all of them in DIR.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The files of one side of a TLS connection. */
export interface PkiFiles {
  caFile: string;
  /** The CA's revocation list; used only if the file exists (libvirt treats it as optional). */
  crlFile: string;
  certFile: string;
  keyFile: string;
}

/** libvirt's TLS port (libvirtd's tls_port). */
export const TLS_PORT = 16514;

/**
 * libvirt's default files for `role`: the system layout for root, ~/.pki/libvirt otherwise, or
 * all in `pkipath` when given.
 */
export function libvirtPki(role: 'server' | 'client', opts: { uid?: number; home?: string; pkipath?: string | null } = {}): PkiFiles {
  const uid = opts.uid ?? process.geteuid?.() ?? -1;
  if (opts.pkipath !== undefined && opts.pkipath !== null && opts.pkipath !== '') {
    const d = opts.pkipath;
    return { caFile: join(d, 'cacert.pem'), crlFile: join(d, 'cacrl.pem'), certFile: join(d, `${role}cert.pem`), keyFile: join(d, `${role}key.pem`) };
  }
  if (uid === 0) {
    return {
      caFile: '/etc/pki/CA/cacert.pem',
      crlFile: '/etc/pki/CA/cacrl.pem',
      certFile: `/etc/pki/libvirt/${role}cert.pem`,
      keyFile: `/etc/pki/libvirt/private/${role}key.pem`,
    };
  }
  const d = join(opts.home ?? homedir(), '.pki', 'libvirt');
  return { caFile: join(d, 'cacert.pem'), crlFile: join(d, 'cacrl.pem'), certFile: join(d, `${role}cert.pem`), keyFile: join(d, `${role}key.pem`) };
}

/**
 * A certificate subject as GnuTLS prints it for libvirt's tls_allowed_dn_list: the attributes in
 * the certificate's own order (`C=GB,O=Example,CN=client1`), which is the reverse of OpenSSL's
 * RFC 2253 print. `subject` is Node's X509Certificate.subject (one `KEY=VALUE` a line, in
 * certificate order).
 */
export function gnutlsDN(subject: string): string {
  // Node prints the values already escaped as RFC 2253 asks (`,` `+` `"` `\\` `<` `>` `;`), as GnuTLS does.
  return subject
    .split('\n')
    .filter((l) => l !== '')
    .join(',');
}

/**
 * GLib's g_pattern_match_simple, which libvirt uses for tls_allowed_dn_list: `*` matches any
 * run of characters, `?` any one character, everything else itself (no escapes, no classes).
 */
export function globMatch(pattern: string, s: string): boolean {
  // Iterative match with backtracking to the last star: linear in practice, no regex built
  // from untrusted text.
  let p = 0;
  let i = 0;
  let star = -1;
  let mark = 0;
  const pc = [...pattern];
  const sc = [...s];
  while (i < sc.length) {
    if (p < pc.length && (pc[p] === '?' || pc[p] === sc[i])) {
      p++;
      i++;
    } else if (p < pc.length && pc[p] === '*') {
      star = p++;
      mark = i;
    } else if (star >= 0) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pc.length && pc[p] === '*') p++;
  return p === pc.length;
}
