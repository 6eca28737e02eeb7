/**
 * TLS benchmark. Prints, in one run, with the same client (python3-libvirt, the C remote driver)
 * against tsvirtd and a real libvirtd (test:///default on both; libvirtd as nobody, TLS on
 * loopback, certificates made with openssl for this run):
 *  - the round trip of a small call (getVersion and lookupByName('test')), mean µs over N calls,
 *    over TLS and over the unix socket;
 *  - the handshake: connect + open + close, mean ms over M connections, over TLS and unix;
 *  - the ratios tsvirtd / libvirtd (below 1: tsvirtd is faster).
 * Sides alternate per round, best round each. Not a test: it asserts nothing. Needs root (the
 * libvirtd runs as nobody) and openssl.
 *
 *   npx tsc -p . && node dist/bench/tls.js     (BENCH_QUICK=1 for smaller counts)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDaemon } from '../test/support/daemon-harness.js';
import { killNow, onEmergency } from '../test/support/emergency.js';
import { libvirtdTlsCommand, makeTestPki } from '../test/support/tls-pki.js';

const QUICK = process.env.BENCH_QUICK === '1';
const N_CALLS = QUICK ? 500 : 3000;
const N_CONNECT = QUICK ? 20 : 100;
const ROUNDS = QUICK ? 2 : 3;
const HOST = '127.0.0.1';
const TSVIRTD_PORT = 26614;
const LIBVIRTD_PORT = 26616;

const CLIENT = String.raw`
import libvirt, sys, time, json
libvirt.registerErrorHandler(lambda *a: None, None)
uri, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = libvirt.open(uri)
for i in range(2000):
    c.getVersion()
    c.lookupByName('test')
t = time.perf_counter()
for i in range(n):
    c.getVersion()
version = (time.perf_counter() - t) / n
t = time.perf_counter()
for i in range(n):
    c.lookupByName('test')
lookup = (time.perf_counter() - t) / n
c.close()
t = time.perf_counter()
for i in range(m):
    libvirt.open(uri).close()
handshake = (time.perf_counter() - t) / m
print(json.dumps({'version': version, 'lookup': lookup, 'handshake': handshake}))
`;

interface Result {
  version: number;
  lookup: number;
  handshake: number;
}

function measure(script: string, uri: string): Result {
  const r = spawnSync('/usr/bin/python3', [script, uri, String(N_CALLS), String(N_CONNECT)], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`client on ${uri}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Result;
}

function best(a: Result | undefined, b: Result): Result {
  if (a === undefined) return b;
  return { version: Math.min(a.version, b.version), lookup: Math.min(a.lookup, b.lookup), handshake: Math.min(a.handshake, b.handshake) };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log('bench/tls: needs root (libvirtd runs as nobody); skipped');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-tls-bench-'));
  let lv: ChildProcess | null = null;
  let forget = (): void => {};
  const pki = makeTestPki(dir, 'localhost', HOST);
  const ts = await startDaemon({
    uris: ['test:///default'],
    dir: join(dir, 'tsvirtd'),
    verbose: false,
    args: ['--listen', '--listen-addr', HOST, '--tls-port', String(TSVIRTD_PORT), '--ca-file', pki.server.caFile, '--cert-file', pki.server.certFile, '--key-file', pki.server.keyFile],
  });
  try {
    const cmd = libvirtdTlsCommand(dir, pki, { listenAddr: HOST, port: LIBVIRTD_PORT });
    lv = spawn(cmd.argv[0]!, cmd.argv.slice(1), { env: cmd.env, stdio: 'ignore' });
    const proc = lv;
    forget = onEmergency(() => killNow(proc));
    const script = join(dir, 'client.py');
    writeFileSync(script, CLIENT);
    const tlsURI = (port: number): string => `test+tls://${HOST}:${port}/default?pkipath=${pki.clients.good}`;
    const deadline = Date.now() + 20_000;
    while (!existsSync(cmd.socket) || spawnSync('virsh', ['-c', tlsURI(LIBVIRTD_PORT), 'uri']).status !== 0) {
      if (Date.now() > deadline) throw new Error(`libvirtd did not start: ${existsSync(cmd.logFile) ? readFileSync(cmd.logFile, 'utf8') : ''}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const sides: [string, string][] = [
      ['tsvirtd tls', tlsURI(TSVIRTD_PORT)],
      ['libvirtd tls', tlsURI(LIBVIRTD_PORT)],
      ['tsvirtd unix', `test+unix:///default?socket=${ts.rw}`],
      ['libvirtd unix', `test+unix:///default?socket=${cmd.socket}`],
    ];
    const results = new Map<string, Result>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, uri] of sides) results.set(name, best(results.get(name), measure(script, uri)));
    }
    console.log(`python3-libvirt, test:///default, ${N_CALLS} calls and ${N_CONNECT} connections per round, best of ${ROUNDS} rounds`);
    console.log('side            getVersion µs  lookupByName µs  connect+open+close ms');
    for (const [name] of sides) {
      const r = results.get(name)!;
      console.log(`${name.padEnd(16)}${(r.version * 1e6).toFixed(1).padStart(13)}${(r.lookup * 1e6).toFixed(1).padStart(17)}${(r.handshake * 1e3).toFixed(2).padStart(23)}`);
    }
    const ratio = (a: string, b: string, k: keyof Result): string => (results.get(a)![k] / results.get(b)![k]).toFixed(2);
    for (const t of ['tls', 'unix']) {
      console.log(
        `ratio tsvirtd/libvirtd over ${t}: getVersion ${ratio(`tsvirtd ${t}`, `libvirtd ${t}`, 'version')}, lookupByName ${ratio(`tsvirtd ${t}`, `libvirtd ${t}`, 'lookup')}, handshake ${ratio(`tsvirtd ${t}`, `libvirtd ${t}`, 'handshake')}`,
      );
    }
    console.log(`TLS cost (tls/unix): tsvirtd getVersion ${ratio('tsvirtd tls', 'tsvirtd unix', 'version')}, handshake ${ratio('tsvirtd tls', 'tsvirtd unix', 'handshake')}; libvirtd getVersion ${ratio('libvirtd tls', 'libvirtd unix', 'version')}, handshake ${ratio('libvirtd tls', 'libvirtd unix', 'handshake')}`);
  } finally {
    await ts.stop();
    if (lv !== null && lv.exitCode === null) {
      const p = lv;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    forget();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
