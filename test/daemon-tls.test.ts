/**
 * libvirt's TLS transport both ways. tsvirtd (--listen) and a real libvirtd (listen_tls) run in a
 * network namespace of their own; clients (Debian's virsh, python3-libvirt, tsvirt's remote
 * driver) run in a second namespace joined to it by a veth pair, where /etc/netns/NS/hosts names
 * the server "tlsserver". Certificates are made with openssl at test time. Faults: a client DN
 * not on the list, an expired client certificate, one of another CA, none at all, a server
 * certificate for another name, and TCP peers that never handshake — each compared with what
 * the same client gets from libvirtd where libvirtd can show it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DAEMON_MAIN } from './support/daemon-harness.js';
import { DAEMON_NODE_FLAGS } from '../src/daemon/node-flags.js';
import { missing, onPath } from './support/host-tools.js';
import { killNow, onEmergency } from './support/emergency.js';
import { libvirtdTlsCommand, makeTestPki, revokeClient2, type TestPki } from './support/tls-pki.js';
import { globMatch, gnutlsDN, libvirtPki } from '../src/core/pki.js';
import { parseConf, readTlsConfig } from '../src/daemon/tls-config.js';
import { connect } from '../src/index.js';
import { VirError } from '../src/core/errors.js';
import { ErrorNumber } from '../src/core/enums.generated.js';

const CLIENT_MAIN = join(dirname(fileURLToPath(import.meta.url)), 'support', 'tls-client-main.js');

describe('TLS helpers', () => {
  test("tsvirtd --listen without its CA file does not start, saying so in libvirt's words", () => {
    const dir = mkdtempSync(join(tmpdir(), 'tls-nostart-'));
    try {
      const r = spawnSync(process.execPath, [...DAEMON_NODE_FLAGS, DAEMON_MAIN, '--socket-dir', join(dir, 'sock'), '--uri', 'test:///default', '--listen', '--listen-addr', '127.0.0.1', '--tls-port', '1', '--ca-file', join(dir, 'none.pem')], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 1);
      assert.match(r.stderr, new RegExp(`cannot start: Cannot read CA certificate '${join(dir, 'none.pem')}': No such file or directory`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('with --crl-file a revoked client certificate is refused (loopback)', { skip: missing('openssl') }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tls-crl-'));
    let daemon: ChildProcess | null = null;
    let forget = (): void => {};
    try {
      const pki = makeTestPki(dir, 'localhost', '127.0.0.1');
      const crl = revokeClient2(pki);
      const port = 20000 + (process.pid % 20000);
      const argv = [...DAEMON_NODE_FLAGS, DAEMON_MAIN, '--socket-dir', join(dir, 'sock'), '--uri', 'test:///default', '--verbose', '--listen', '--listen-addr', '127.0.0.1', '--tls-port', String(port)];
      argv.push('--ca-file', pki.server.caFile, '--cert-file', pki.server.certFile, '--key-file', pki.server.keyFile, '--crl-file', crl);
      const p = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TSVIRT_STATE_DIR: join(dir, 'state') } });
      daemon = p;
      forget = onEmergency(() => killNow(p));
      let log = '';
      p.stderr.on('data', (b: Buffer) => (log += b.toString()));
      p.stdout.on('data', (b: Buffer) => (log += b.toString()));
      const deadline = Date.now() + 20_000;
      while (!log.includes('listening for TLS')) {
        if (Date.now() > deadline || p.exitCode !== null) throw new Error(`tsvirtd did not start: ${log}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const rawOp = (pkipath: string): unknown => {
        const r = spawnSync(process.execPath, [CLIENT_MAIN, `test+tls://127.0.0.1:${port}/default`, JSON.stringify([{ op: 'raw', pkipath }])], { encoding: 'utf8', timeout: 30_000 });
        return (JSON.parse(r.stdout) as ClientResult).out;
      };
      assert.deepEqual(rawOp(pki.clients.other), ['closed'], 'client2 is revoked');
      assert.deepEqual(rawOp(pki.clients.good), ['confirmed'], 'client1 is not');
      const end = Date.now() + 5000;
      while (!log.includes('has been revoked') && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      assert.match(log, /Certificate check failed Certificate failed validation: The certificate has been revoked\./);
    } finally {
      if (daemon !== null && daemon.exitCode === null) {
        const d = daemon;
        const exited = new Promise((r) => d.once('exit', r));
        d.kill('SIGTERM');
        await exited;
      }
      forget();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("glob patterns match as GLib's g_pattern_match_simple", () => {
    assert.ok(globMatch('C=GB,O=tsvirt test,CN=*', 'C=GB,O=tsvirt test,CN=client1'));
    assert.ok(globMatch('*CN=client?', 'C=GB,O=x,CN=client1'));
    assert.ok(!globMatch('*CN=client?', 'C=GB,O=x,CN=client12'));
    assert.ok(!globMatch('C=GB,CN=*', 'C=GB,O=x,CN=client1'));
    assert.ok(globMatch('*', ''));
    assert.ok(!globMatch('', 'x'));
    assert.ok(globMatch('a*b*c', 'aXXbYYc'));
    assert.ok(!globMatch('a*b*c', 'aXXbYY'));
  });

  test('the DN is printed in certificate order, as GnuTLS does for tls_allowed_dn_list', () => {
    assert.equal(gnutlsDN('C=GB\nO=Example\nCN=client1'), 'C=GB,O=Example,CN=client1');
  });

  test("libvirt's PKI layout: system for root, ~/.pki/libvirt otherwise, pkipath overrides", () => {
    assert.deepEqual(libvirtPki('server', { uid: 0 }), {
      caFile: '/etc/pki/CA/cacert.pem',
      crlFile: '/etc/pki/CA/cacrl.pem',
      certFile: '/etc/pki/libvirt/servercert.pem',
      keyFile: '/etc/pki/libvirt/private/serverkey.pem',
    });
    assert.equal(libvirtPki('client', { uid: 1000, home: '/home/u' }).keyFile, '/home/u/.pki/libvirt/clientkey.pem');
    assert.equal(libvirtPki('client', { uid: 0, pkipath: '/p' }).certFile, '/p/clientcert.pem');
  });

  test('a libvirtd.conf-style file gives the TLS keys (lists across lines, comments, string port)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tls-conf-'));
    try {
      const f = join(dir, 'libvirtd.conf');
      writeFileSync(
        f,
        '# libvirtd.conf\nlisten_tls = 1\nlisten_tcp = 0 # not used\ntls_port = "16600"\nlisten_addr = "10.0.0.1"\nca_file = "/x/ca.pem"\n' +
          'tls_allowed_dn_list = ["C=GB,O=A,CN=*",\n   "C=US,*" ]\nmax_anonymous_clients = 7\nunix_sock_group = "libvirt"\n',
      );
      const c = readTlsConfig(f);
      assert.equal(c.listenTls, true);
      assert.deepEqual(c.tls, { host: '10.0.0.1', port: 16600, files: { caFile: '/x/ca.pem' }, allowedDNs: ['C=GB,O=A,CN=*', 'C=US,*'], maxAnonymousClients: 7 });
      writeFileSync(f, 'listen_tls = 0\n');
      assert.equal(readTlsConfig(f).listenTls, false);
      assert.throws(() => parseConf('tls_port = \n', 'f'), /f:1: tls_port: expecting a value/);
      assert.throws(() => parseConf('a = "x"\nb = [ "y" \n', 'f'), /f:3/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a missing CA file fails as libvirt's client says it", async () => {
    const uri = 'test+tls://127.0.0.1/default?pkipath=/nonexistent-tsvirt-pki';
    await assert.rejects(connect(uri), (e: unknown) => {
      assert.ok(e instanceof VirError);
      assert.equal(e.code, ErrorNumber.SYSTEM_ERROR);
      assert.equal(e.message, "Cannot read CA certificate '/nonexistent-tsvirt-pki/cacert.pem': No such file or directory");
      return true;
    });
    if (onPath('virsh')) {
      const r = spawnSync('virsh', ['-c', uri, 'list'], { encoding: 'utf8' });
      assert.match(r.stderr, /error: Cannot read CA certificate '\/nonexistent-tsvirt-pki\/cacert.pem': No such file or directory/);
    }
  });
});

function netSkip(): string | false {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  if (spawnSync('setpriv', ['--version']).status !== 0) return 'setpriv (util-linux) is missing: libvirtd runs as nobody';
  return missing('ip', 'openssl', 'virsh', 'libvirtd', "python3's libvirt module");
}

interface Proc {
  proc: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

/** Starts `argv` in namespace `ns`; resolves once `ready` appears in its output (or the log file). */
async function startIn(ns: string, argv: string[], ready: RegExp, opts: { env?: NodeJS.ProcessEnv; logFile?: string } = {}): Promise<Proc> {
  const proc = spawn('ip', ['netns', 'exec', ns, ...argv], { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout!.on('data', (b: Buffer) => (output += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (output += b.toString()));
  const forget = onEmergency(() => killNow(proc));
  const log = (): string => {
    let file = '';
    try {
      if (opts.logFile !== undefined) file = readFileSync(opts.logFile, 'utf8');
    } catch {
      // not yet written
    }
    return output + file;
  };
  const stop = async (): Promise<void> => {
    forget();
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 30_000;
  while (!ready.test(log())) {
    if (Date.now() > deadline || proc.exitCode !== null) {
      await stop();
      throw new Error(`${argv[0]} did not start in ${ns}: ${log()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { proc, log, stop };
}

/** Waits (up to 5 s) until the output of `p` after offset `from` matches every pattern; returns that part. */
async function waitLog(p: Proc, from: number, ...patterns: RegExp[]): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const text = p.log().slice(from);
    if (patterns.every((re) => re.test(text)) || Date.now() > deadline) return text;
    await new Promise((r) => setTimeout(r, 50));
  }
}

function run(ns: string, cmd: string[], timeout = 60_000): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

interface ClientResult {
  ok: boolean;
  out?: unknown[];
  error?: { code: number; domain: number; message: string };
}

const DOMAIN_XML = "<domain type='test'><name>tlsdom</name><memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>";

const skip = netSkip();

describe('TLS between namespaces: tsvirtd and libvirtd, virsh, python3-libvirt and tsvirt', { skip, concurrency: false }, () => {
  const id = String(process.pid % 100000);
  const nsS = `tls${id}s`;
  const nsC = `tls${id}c`;
  const vethS = `tls${id}a`;
  const vethC = `tls${id}b`;
  const SERVER_IP = '10.231.77.1';
  const HOST = 'tlsserver';
  let dir = '';
  let pki: TestPki;
  const procs: Proc[] = [];
  let tsvirtd: Proc;
  let libvirtd: Proc;
  let wrongName: Proc;
  const tsvirtdPort = 16514;
  const wrongPort = 16515;
  const libvirtdPort = 16516;
  const ALLOWED_DN = 'C=GB,O=tsvirt test,CN=client1';

  const uri = (pkipath: string, port: number, extra = ''): string => `test+tls://${HOST}:${port}/default?pkipath=${pkipath}${extra}`;
  const virsh = (u: string, ...args: string[]) => run(nsC, ['virsh', '-c', u, ...args]);
  const tsvirt = (u: string, ops: unknown[]): ClientResult => {
    const r = run(nsC, [process.execPath, CLIENT_MAIN, u, JSON.stringify(ops)]);
    try {
      return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as ClientResult;
    } catch {
      throw new Error(`tsvirt client: ${r.stdout} ${r.stderr}`);
    }
  };

  const cleanup = (): void => {
    spawnSync('ip', ['netns', 'del', nsS]);
    spawnSync('ip', ['netns', 'del', nsC]);
    rmSync(`/etc/netns/${nsC}`, { recursive: true, force: true });
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  };
  const forgetCleanup = onEmergency(cleanup);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsvirt-tls-'));
    chmodSync(dir, 0o755);
    const sh = (...a: string[]): void => {
      const r = spawnSync(a[0]!, a.slice(1), { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${a.join(' ')}: ${r.stderr}`);
    };
    sh('ip', 'netns', 'add', nsS);
    sh('ip', 'netns', 'add', nsC);
    sh('ip', 'link', 'add', vethS, 'type', 'veth', 'peer', 'name', vethC);
    sh('ip', 'link', 'set', vethS, 'netns', nsS);
    sh('ip', 'link', 'set', vethC, 'netns', nsC);
    sh('ip', '-n', nsS, 'addr', 'add', `${SERVER_IP}/24`, 'dev', vethS);
    sh('ip', '-n', nsC, 'addr', 'add', '10.231.77.2/24', 'dev', vethC);
    for (const [ns, dev] of [
      [nsS, vethS],
      [nsC, vethC],
    ] as const) {
      sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
      sh('ip', '-n', ns, 'link', 'set', dev, 'up');
    }
    // `ip netns exec` bind-mounts this over /etc/hosts for the client's processes.
    mkdirSync(`/etc/netns/${nsC}`, { recursive: true });
    writeFileSync(`/etc/netns/${nsC}/hosts`, `127.0.0.1 localhost\n${SERVER_IP} ${HOST}\n`);
    pki = makeTestPki(dir, HOST, SERVER_IP);

    const daemon = (port: number, cert: string, extra: string[]): string[] => [
      process.execPath,
      ...DAEMON_NODE_FLAGS,
      DAEMON_MAIN,
      '--socket-dir',
      join(dir, `sock-${port}`),
      '--uri',
      'test:///default',
      '--verbose',
      '--listen',
      '--listen-addr',
      SERVER_IP,
      '--tls-port',
      String(port),
      '--ca-file',
      pki.server.caFile,
      '--cert-file',
      cert,
      '--key-file',
      pki.server.keyFile,
      ...extra,
    ];
    const env = { ...process.env, TSVIRT_STATE_DIR: join(dir, 'state') };
    tsvirtd = await startIn(
      nsS,
      daemon(tsvirtdPort, pki.server.certFile, ['--tls-allowed-dn', ALLOWED_DN, '--tls-handshake-timeout', '2', '--max-anonymous-clients', '3']),
      /listening for TLS/,
      { env },
    );
    procs.push(tsvirtd);
    // This one takes its settings from a libvirtd.conf-style file (--config) instead of options.
    const conf = join(dir, 'tsvirtd-wrong.conf');
    writeFileSync(
      conf,
      `# as in libvirtd.conf\nlisten_tls = 1\nlisten_addr = "${SERVER_IP}"\ntls_port = "${wrongPort}"\nca_file = "${pki.server.caFile}"\n` +
        `cert_file = "${pki.wrongNameCert}"\nkey_file = "${pki.server.keyFile}"\nunix_sock_group = "libvirt"\n`,
    );
    wrongName = await startIn(
      nsS,
      [process.execPath, ...DAEMON_NODE_FLAGS, DAEMON_MAIN, '--socket-dir', join(dir, 'sock-wrong'), '--uri', 'test:///default', '--verbose', '--listen', '--config', conf, '--max-clients', '1'],
      new RegExp(`listening for TLS on ${SERVER_IP.replace(/\./g, '\\.')}:${wrongPort}`),
      { env },
    );
    procs.push(wrongName);

    // libvirtd as nobody (as root it would write /run/libvirt), with the test driver only.
    const lv = libvirtdTlsCommand(dir, pki, { listenAddr: SERVER_IP, port: libvirtdPort, allowedDN: ALLOWED_DN });
    libvirtd = await startIn(nsS, lv.argv, /libvirt version/, { env: lv.env, logFile: lv.logFile });
    procs.push(libvirtd);
    // The TLS port answers once libvirtd has set up its services.
    const deadline = Date.now() + 20_000;
    while (run(nsC, ['virsh', '-c', uri(pki.clients.good, libvirtdPort), 'uri']).code !== 0) {
      if (Date.now() > deadline) throw new Error(`libvirtd does not answer on TLS: ${libvirtd.log()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  after(async () => {
    for (const p of procs) await p.stop().catch(() => undefined);
    cleanup();
    forgetCleanup();
  });

  test('virsh lists, defines and starts over test+tls:// to tsvirtd', async () => {
    const from = tsvirtd.log().length;
    const xml = join(dir, 'dom.xml');
    writeFileSync(xml, DOMAIN_XML);
    const r = virsh(uri(pki.clients.good, tsvirtdPort), `list --all; define ${xml}; start tlsdom; list --all --name`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /1\s+test\s+running/);
    assert.match(r.stdout, /Domain 'tlsdom' defined/);
    assert.match(r.stdout, /Domain 'tlsdom' started/);
    assert.match(r.stdout, /^tlsdom$/m);
    assert.match(await waitLog(tsvirtd, from, /DN 'C=GB/), /DN 'C=GB,O=tsvirt test,CN=client1'/);
  });

  test('python3-libvirt over TLS: the same calls, the same answers as from libvirtd', () => {
    const script = String.raw`
import libvirt, sys, json
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1])
d = c.defineXML(sys.argv[2])
d.create()
print(json.dumps({'type': c.getType(), 'names': sorted(x.name() for x in c.listAllDomains()), 'state': d.state(), 'active': d.isActive()}))
c.close()
`;
    const answers = [tsvirtdPort, libvirtdPort].map((port) => {
      const r = run(nsC, ['/usr/bin/python3', '-c', script, uri(pki.clients.good, port), DOMAIN_XML]);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as unknown;
    });
    assert.deepEqual(answers[0], { type: 'TEST', names: ['test', 'tlsdom'], state: [1, 1], active: 1 });
    assert.deepEqual(answers[0], answers[1]);
  });

  test("tsvirt's remote driver speaks TLS to tsvirtd and to a real libvirtd", () => {
    for (const port of [tsvirtdPort, libvirtdPort]) {
      const r = tsvirt(uri(pki.clients.good, port), [{ op: 'list' }, { op: 'define', xml: DOMAIN_XML }, { op: 'start', name: 'tlsdom' }, { op: 'list' }, { op: 'version' }]);
      assert.ok(r.ok, `port ${port}: ${JSON.stringify(r.error)}`);
      assert.deepEqual(r.out, [['test'], 'tlsdom', 'started', ['test', 'tlsdom'], 2]);
    }
  });

  test('FD_PASSING is answered over TLS as libvirtd answers it', () => {
    const ours = tsvirt(uri(pki.clients.good, tsvirtdPort), [{ op: 'fdPassing' }]);
    const theirs = tsvirt(uri(pki.clients.good, libvirtdPort), [{ op: 'fdPassing' }]);
    assert.ok(ours.ok && theirs.ok, JSON.stringify([ours, theirs]));
    assert.deepEqual(ours.out, theirs.out);
    // The client side knows descriptors never pass over TCP, as libvirt's does.
    const fd = tsvirt(uri(pki.clients.good, tsvirtdPort), [{ op: 'openGraphicsFD', name: 'test' }]);
    assert.equal(fd.ok, false);
    assert.equal(fd.error?.code, ErrorNumber.ARGUMENT_UNSUPPORTED);
    assert.match(fd.error?.message ?? '', /fd passing is not supported by this connection/);
  });

  const refusals: [string, () => string, RegExp][] = [
    ['a client whose DN is not on the list', () => pki.clients.other, /Client's Distinguished Name is not on the list of allowed clients \(tls_allowed_dn_list\)/],
    ['an expired client certificate', () => pki.clients.expired, /Certificate check failed Certificate failed validation: The certificate is not trusted\./],
    ['a client certificate of another CA', () => pki.clients.foreignCA, /Certificate check failed Certificate failed validation: The certificate hasn't got a known issuer\./],
    ['no client certificate', () => pki.clients.noCert, /Certificate check failed Unable to verify TLS peer: No certificate was found\./],
  ];
  for (const [what, path, logged] of refusals) {
    test(`the daemon refuses, as libvirtd does: ${what}`, async () => {
      const from = tsvirtd.log().length;
      // A bare TLS client sends the certificate whatever it is: both daemons close without confirming.
      assert.deepEqual(tsvirt(uri(path(), tsvirtdPort), [{ op: 'raw', pkipath: path() }]).out, ['closed']);
      assert.deepEqual(tsvirt(uri(path(), libvirtdPort), [{ op: 'raw', pkipath: path() }]).out, ['closed']);
      const log = await waitLog(tsvirtd, from, logged, /Failed to verify peer's certificate/);
      assert.match(log, logged);
      assert.match(log, /authentication failed: Failed to verify peer's certificate/);
      assert.doesNotMatch(log.slice(log.indexOf('Certificate check failed')), /client \d+ connected/, 'no client was set up for it');
      // The good certificate, for contrast, is confirmed by both.
      assert.deepEqual(tsvirt(uri(pki.clients.good, tsvirtdPort), [{ op: 'raw', pkipath: pki.clients.good }]).out, ['confirmed']);
      assert.deepEqual(tsvirt(uri(pki.clients.good, libvirtdPort), [{ op: 'raw', pkipath: pki.clients.good }]).out, ['confirmed']);
    });
  }

  test('refused clients: virsh and tsvirt say the same, against tsvirtd and libvirtd alike', () => {
    for (const path of [pki.clients.other, pki.clients.noCert, pki.clients.expired, pki.clients.foreignCA]) {
      const ours = virsh(uri(path, tsvirtdPort), 'list');
      const theirs = virsh(uri(path, libvirtdPort), 'list');
      assert.notEqual(ours.code, 0);
      assert.equal(ours.stderr, theirs.stderr, 'virsh says the same of both daemons');
      const message = /error: failed to connect to the hypervisor\nerror: (.*)\n/.exec(ours.stderr)?.[1];
      assert.ok(message !== undefined, ours.stderr);
      for (const port of [tsvirtdPort, libvirtdPort]) {
        const r = tsvirt(uri(path, port), [{ op: 'list' }]);
        assert.equal(r.ok, false);
        assert.equal(r.error?.code, ErrorNumber.SYSTEM_ERROR);
        assert.equal(r.error?.message, message, `tsvirt says what virsh says (${path}, port ${port})`);
      }
    }
    // Refused by the daemon (DN, no certificate) and by the client itself (expired, other CA).
    assert.match(virsh(uri(pki.clients.other, tsvirtdPort), 'list').stderr, /Unable to read TLS confirmation: Input\/output error/);
    assert.match(virsh(uri(pki.clients.expired, tsvirtdPort), 'list').stderr, /The client certificate .* has expired/);
  });

  test('a server certificate for another name is refused unless no_verify=1', () => {
    const ours = tsvirt(uri(pki.clients.good, wrongPort), [{ op: 'list' }]);
    assert.equal(ours.ok, false);
    assert.equal(ours.error?.code, ErrorNumber.AUTH_FAILED);
    assert.equal(ours.error?.message, "authentication failed: Failed to verify peer's certificate");
    const v = virsh(uri(pki.clients.good, wrongPort), 'list');
    assert.notEqual(v.code, 0);
    assert.match(v.stderr, /error: authentication failed: Failed to verify peer's certificate/);
    const skipped = tsvirt(uri(pki.clients.good, wrongPort, '&no_verify=1'), [{ op: 'list' }]);
    assert.ok(skipped.ok, JSON.stringify(skipped.error));
    assert.equal(virsh(uri(pki.clients.good, wrongPort, '&no_verify=1'), 'list').code, 0);
    // By address, the right certificate (it names the address too) passes.
    assert.ok(tsvirt(`test+tls://${SERVER_IP}:${tsvirtdPort}/default?pkipath=${pki.clients.good}`, [{ op: 'version' }]).ok);
  });

  test('--max-clients counts TLS clients: one held open, the next is refused until it leaves', async () => {
    const from = wrongName.log().length;
    const holdURI = uri(pki.clients.good, wrongPort, '&no_verify=1');
    // A python3-libvirt client holds the one slot for 3 s.
    const holder = spawn('ip', ['netns', 'exec', nsC, '/usr/bin/python3', '-c', 'import libvirt, sys, time\nc = libvirt.open(sys.argv[1])\nprint("open", flush=True)\ntime.sleep(3)\nc.close()', holdURI], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const forget = onEmergency(() => killNow(holder));
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.once('data', () => resolve());
        holder.once('exit', () => reject(new Error('the holding client exited early')));
      });
      const refused = virsh(holdURI, 'list');
      assert.notEqual(refused.code, 0, 'refused while the slot is taken');
      assert.match(await waitLog(wrongName, from, /Too many active clients/), /Too many active clients/);
      await new Promise((r) => holder.once('exit', r));
      assert.equal(virsh(holdURI, 'list').code, 0, refused.stderr);
    } finally {
      killNow(holder);
      forget();
    }
  });

  test('TCP peers that never handshake do not block others and are dropped after the timeout', async () => {
    // A peer in the client namespace opens `n` TCP connections and reports when each closes.
    const hostile = String.raw`
const net = require('node:net');
const [host, port, n, late] = process.argv.slice(1);
const t0 = Date.now();
const closed = [];
const open = (i) => { const s = net.connect(Number(port), host); s.on('error', () => {}); s.on('close', () => { closed.push([i, Date.now() - t0]); if (closed.length === Number(n) + (late === '1' ? 1 : 0)) { console.log(JSON.stringify(closed)); process.exit(0); } }); };
for (let i = 0; i < Number(n); i++) open(i);
if (late === '1') setTimeout(() => open(99), 500);
setTimeout(() => { console.log(JSON.stringify(closed)); process.exit(0); }, 15000);
`;
    const spawnHostile = (n: number, late: boolean): Promise<[number, number][]> =>
      new Promise((resolve, reject) => {
        const p = spawn('ip', ['netns', 'exec', nsC, process.execPath, '-e', hostile, HOST, String(tsvirtdPort), String(n), late ? '1' : '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
        const forget = onEmergency(() => killNow(p));
        let out = '';
        p.stdout.on('data', (b: Buffer) => (out += b.toString()));
        p.once('exit', () => {
          forget();
          try {
            resolve(JSON.parse(out.trim()) as [number, number][]);
          } catch (err) {
            reject(new Error(`hostile peer: ${out}`, { cause: err }));
          }
        });
      });
    // One silent peer: others are served meanwhile; it is dropped after the 2 s handshake timeout.
    const one = spawnHostile(1, false);
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const served = virsh(uri(pki.clients.good, tsvirtdPort), 'list');
    assert.equal(served.code, 0, served.stderr);
    assert.ok(Date.now() - t0 < 2000, 'served while the silent peer waits');
    const [[, ms]] = (await one) as [[number, number]];
    assert.ok(ms >= 1500 && ms < 8000, `dropped after the handshake timeout (${ms} ms)`);
    // As many silent peers as max_anonymous_clients (3): a fourth is closed at once, the first
    // three at the timeout; then clients are served again.
    const closes = await spawnHostile(3, true);
    const late = closes.find(([i]) => i === 99);
    assert.ok(late !== undefined && late[1] < 1500, `the fourth is refused at once: ${JSON.stringify(closes)}`);
    for (const [i, t] of closes.filter(([i]) => i !== 99)) assert.ok(t >= 1500 && t < 8000, `peer ${i} dropped at the timeout (${t} ms)`);
    const log = await waitLog(tsvirtd, 0, /Too many anonymous clients/, /no handshake within 2000 ms/);
    assert.match(log, /Too many anonymous clients/);
    assert.match(log, /no handshake within 2000 ms/);
    assert.equal(virsh(uri(pki.clients.good, tsvirtdPort), 'list').code, 0);
  });
});
