/**
 * SSH benchmark: the cost of reaching a daemon over ssh, tsvirtd against libvirtd, through a real
 * sshd (test/support/ssh-host.ts: its own network and mount namespaces). Per target: the time to
 * open a connection (ssh login, remote script, handshake) and the DOMAIN_GET_STATE round trip
 * (p50/p99 in µs, after a warm-up), measured by the same python-libvirt script (the C remote
 * driver) and by tsvirt's remote driver. Targets: tsvirtd by libvirt's default path
 * (virt-ssh-helper), tsvirtd by nc, libvirtd by nc (`socket=` its socket; libvirtd runs as
 * nobody in a temporary directory, test:///default). Rounds alternate; the best of each is shown.
 * Not a test: it asserts nothing.
 *
 *   npx tsc -p . && node dist/bench/ssh.js     (BENCH_QUICK=1 for smaller counts)
 */
import { fileURLToPath } from 'node:url';
import { startLibvirtd } from '../test/support/libvirtd-harness.js';
import { pythonLibvirtSkip } from '../test/support/daemon-harness.js';
import { sshHostSkip, startSshHost, type SshHost } from '../test/support/ssh-host.js';

const QUICK = process.env.BENCH_QUICK === '1';
const N = QUICK ? 500 : 3000;
const WARM = QUICK ? 100 : 500;
const ROUNDS = QUICK ? 2 : 3;
const INDEX = fileURLToPath(new URL('../src/index.js', import.meta.url));

interface Figures {
  connectMs: number;
  p50: number;
  p99: number;
}

const PY = String.raw`
import json, libvirt, sys, time
uri, n, warm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t = time.perf_counter()
c = libvirt.open(uri)
connect = time.perf_counter() - t
d = c.lookupByName('test')
for i in range(warm):
    d.state()
lat = []
for i in range(n):
    t = time.perf_counter()
    d.state()
    lat.append(time.perf_counter() - t)
c.close()
lat.sort()
print(json.dumps({'connectMs': connect * 1e3, 'p50': lat[len(lat) // 2] * 1e6, 'p99': lat[int(len(lat) * 0.99)] * 1e6}))
`;

const NODE = `
import { connect } from ${JSON.stringify(INDEX)};
const [uri, n, warm] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])];
let t = process.hrtime.bigint();
const c = await connect(uri);
const connectMs = Number(process.hrtime.bigint() - t) / 1e6;
const d = await c.lookupByName('test');
for (let i = 0; i < warm; i++) await d.state();
const lat = [];
for (let i = 0; i < n; i++) { t = process.hrtime.bigint(); await d.state(); lat.push(Number(process.hrtime.bigint() - t) / 1e3); }
await c.close();
lat.sort((a, b) => a - b);
console.log(JSON.stringify({ connectMs, p50: lat[lat.length >> 1], p99: lat[Math.floor(lat.length * 0.99)] }));
`;

function measure(h: SshHost, client: 'python' | 'tsvirt', uri: string): Figures {
  const args = client === 'python' ? ['python3', '-c', PY, uri, String(N), String(WARM)] : [process.execPath, '--input-type=module', '-e', NODE, uri, String(N), String(WARM)];
  const r = h.client(args);
  if (r.code !== 0) throw new Error(`${client} ${uri}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Figures;
}

function best(a: Figures | undefined, b: Figures): Figures {
  return a === undefined || b.p50 < a.p50 ? b : a;
}

async function main(): Promise<void> {
  const skip = sshHostSkip() || pythonLibvirtSkip();
  if (skip !== false) {
    process.stdout.write(`ssh benchmark skipped: ${skip}\n`);
    return;
  }
  const h = await startSshHost();
  const lv = await startLibvirtd();
  try {
    if ('skip' in lv) {
      process.stdout.write(`ssh benchmark skipped: ${lv.skip}\n`);
      return;
    }
    const targets: [string, string][] = [
      ['tsvirtd, virt-ssh-helper', h.uri('test')],
      ['tsvirtd, nc', h.uri('test', '&proxy=netcat')],
      ['libvirtd, nc', h.uri('test', `&socket=${lv.socket}`)],
    ];
    const results = new Map<string, Figures>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const client of ['python', 'tsvirt'] as const) {
        for (const [name, uri] of targets) {
          const key = `${client.padEnd(6)} → ${name}`;
          results.set(key, best(results.get(key), measure(h, client, uri)));
        }
      }
    }
    process.stdout.write(`DOMAIN_GET_STATE over ssh (${N} calls after ${WARM}, best of ${ROUNDS} rounds), open = ssh login + remote script + handshake\n`);
    process.stdout.write(`${'client → daemon, path'.padEnd(36)} ${'open ms'.padStart(9)} ${'p50 µs'.padStart(9)} ${'p99 µs'.padStart(9)}\n`);
    for (const [k, f] of results) {
      process.stdout.write(`${k.padEnd(36)} ${f.connectMs.toFixed(1).padStart(9)} ${f.p50.toFixed(0).padStart(9)} ${f.p99.toFixed(0).padStart(9)}\n`);
    }
  } finally {
    if (!('skip' in lv)) await lv.dispose();
    await h.dispose();
  }
}

await main();
