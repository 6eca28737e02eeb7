/**
 * A throw-away PKI for the TLS tests, made with openssl at test time: a CA (CA:TRUE), a server
 * certificate for a host name, client certificates (one per DN wanted), an expired client
 * certificate, a client certificate of another CA, and a server certificate for another name.
 * Files are laid out as libvirt expects them under `pkipath` directories.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  /** CA, server cert for `host`, its key: the daemon's files. */
  server: { caFile: string; certFile: string; keyFile: string };
  /** The same key with a certificate for another name. */
  wrongNameCert: string;
  /** pkipath directories: cacert.pem, clientcert.pem, clientkey.pem. */
  clients: {
    good: string;
    /** CN=client2: for DN list tests. */
    other: string;
    expired: string;
    foreignCA: string;
    /** Only cacert.pem: no client certificate at all. */
    noCert: string;
  };
}

function ossl(cwd: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const CLIENT_EXT = 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n';

function makeCA(dir: string, name: string): void {
  ossl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}key.pem`, '-out', `${name}cert.pem`, '-days', '30', '-subj', `/C=GB/O=tsvirt test/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
}

function sign(dir: string, ca: string, name: string, subj: string, ext: string, serial: number): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  ossl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}key.pem`, '-out', `${name}.csr`, '-subj', subj);
  ossl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}cert.pem`, '-CAkey', `${ca}key.pem`, '-set_serial', String(serial), '-days', '30', '-extfile', `${name}.ext`, '-out', `${name}cert.pem`);
}

function pkipath(dir: string, sub: string, ca: string, client: string | null): string {
  const d = join(dir, sub);
  mkdirSync(d);
  copyFileSync(join(dir, `${ca}cert.pem`), join(d, 'cacert.pem'));
  if (client !== null) {
    copyFileSync(join(dir, `${client}cert.pem`), join(d, 'clientcert.pem'));
    copyFileSync(join(dir, `${client}key.pem`), join(d, 'clientkey.pem'));
  }
  return d;
}

/**
 * Makes the PKI in `dir` (which must exist) for a server known as `host` (and `ip`, and any of
 * `moreIPs`: one server certificate several daemons can share).
 */
export function makeTestPki(dir: string, host: string, ip: string, moreIPs: string[] = []): TestPki {
  makeCA(dir, 'ca');
  makeCA(dir, 'otherca');
  const serverExt = (name: string) => `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${name},${[ip, ...moreIPs].map((a) => `IP:${a}`).join(',')}\n`;
  sign(dir, 'ca', 'server', `/C=GB/O=tsvirt test/CN=${host}`, serverExt(host), 2);
  // Another name, same key: only the name check can tell them apart.
  writeFileSync(join(dir, 'wrong.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:not-this-host.example\n');
  ossl(dir, 'x509', '-req', '-in', 'server.csr', '-CA', 'cacert.pem', '-CAkey', 'cakey.pem', '-set_serial', '3', '-days', '30', '-extfile', 'wrong.ext', '-out', 'wrongcert.pem');
  sign(dir, 'ca', 'client1', '/C=GB/O=tsvirt test/CN=client1', CLIENT_EXT, 4);
  sign(dir, 'ca', 'client2', '/C=GB/O=tsvirt test/CN=client2', CLIENT_EXT, 5);
  sign(dir, 'otherca', 'foreign', '/C=GB/O=tsvirt test/CN=client1', CLIENT_EXT, 6);
  // An expired certificate needs explicit dates: `openssl ca` takes them.
  mkdirSync(join(dir, 'cadb'));
  writeFileSync(join(dir, 'cadb', 'index.txt'), '');
  writeFileSync(join(dir, 'cadb', 'serial'), '10\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    '[ca]\ndefault_ca=d\n[d]\ndatabase=cadb/index.txt\nserial=cadb/serial\nnew_certs_dir=cadb\ndefault_md=sha256\npolicy=p\n[p]\nC=optional\nO=optional\nCN=supplied\n',
  );
  writeFileSync(join(dir, 'client.ext'), CLIENT_EXT);
  ossl(dir, 'ca', '-batch', '-config', 'ca.cnf', '-cert', 'cacert.pem', '-keyfile', 'cakey.pem', '-in', 'client1.csr', '-startdate', '20200101000000Z', '-enddate', '20200201000000Z', '-extfile', 'client.ext', '-out', 'expiredcert.pem', '-notext');
  copyFileSync(join(dir, 'client1key.pem'), join(dir, 'expiredkey.pem'));
  return {
    dir,
    server: { caFile: join(dir, 'cacert.pem'), certFile: join(dir, 'servercert.pem'), keyFile: join(dir, 'serverkey.pem') },
    wrongNameCert: join(dir, 'wrongcert.pem'),
    clients: {
      good: pkipath(dir, 'pki-good', 'ca', 'client1'),
      other: pkipath(dir, 'pki-other', 'ca', 'client2'),
      expired: pkipath(dir, 'pki-expired', 'ca', 'expired'),
      foreignCA: pkipath(dir, 'pki-foreign', 'ca', 'foreign'),
      noCert: pkipath(dir, 'pki-nocert', 'ca', null),
    },
  };
}

/**
 * How to start a real libvirtd listening for TLS with `pki`'s server files: as `nobody` (as
 * root libvirtd would write /run/libvirt), the test driver only (an empty driver directory), its
 * config, sockets, logs and home under `dir`/libvirtd. Returns the command, its environment and
 * the log file; the PKI files are made readable for nobody.
 */
export function libvirtdTlsCommand(
  dir: string,
  pki: TestPki,
  opts: { listenAddr: string; port: number; allowedDN?: string },
): { argv: string[]; env: NodeJS.ProcessEnv; logFile: string; socket: string } {
  const NOBODY = 65534;
  const lv = join(dir, 'libvirtd');
  const subs = ['', 'drivers', 'sock', 'run', 'home'];
  for (const sub of subs) mkdirSync(join(lv, sub), { recursive: true });
  const conf = join(lv, 'libvirtd.conf');
  const logFile = join(lv, 'libvirtd.log');
  writeFileSync(
    conf,
    [
      'listen_tls = 1',
      'listen_tcp = 0',
      `listen_addr = "${opts.listenAddr}"`,
      `tls_port = "${opts.port}"`,
      `ca_file = "${pki.server.caFile}"`,
      `cert_file = "${pki.server.certFile}"`,
      `key_file = "${pki.server.keyFile}"`,
      ...(opts.allowedDN !== undefined ? [`tls_allowed_dn_list = ["${opts.allowedDN}"]`] : []),
      'auth_tls = "none"',
      `unix_sock_dir = "${join(lv, 'sock')}"`,
      'auth_unix_rw = "none"',
      'auth_unix_ro = "none"',
      `log_outputs = "3:file:${logFile}"`,
      '',
    ].join('\n'),
  );
  chmodSync(dir, 0o755);
  for (const f of [pki.server.keyFile, pki.server.certFile, pki.server.caFile]) chmodSync(f, 0o644);
  for (const sub of subs) chownSync(join(lv, sub), NOBODY, NOBODY);
  chownSync(conf, NOBODY, NOBODY);
  return {
    argv: ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '/usr/sbin/libvirtd', '-f', conf, '-p', join(lv, 'libvirtd.pid'), '--listen'],
    env: {
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: join(lv, 'home'),
      XDG_RUNTIME_DIR: join(lv, 'run'),
      XDG_CONFIG_HOME: join(lv, 'home', '.config'),
      XDG_CACHE_HOME: join(lv, 'home', '.cache'),
      LIBVIRT_DRIVER_DIR: join(lv, 'drivers'),
    },
    logFile,
    socket: join(lv, 'sock', 'libvirt-sock'),
  };
}

/** Revokes `pki`'s client2 certificate and writes the CA's revocation list; returns its path. */
export function revokeClient2(pki: TestPki): string {
  ossl(pki.dir, 'ca', '-batch', '-config', 'ca.cnf', '-cert', 'cacert.pem', '-keyfile', 'cakey.pem', '-revoke', 'client2cert.pem');
  ossl(pki.dir, 'ca', '-batch', '-config', 'ca.cnf', '-cert', 'cacert.pem', '-keyfile', 'cakey.pem', '-gencrl', '-crldays', '30', '-out', 'cacrl.pem');
  return join(pki.dir, 'cacrl.pem');
}
