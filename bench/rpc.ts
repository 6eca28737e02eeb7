/**
 * tsvirtd benchmark (issue 6). Prints:
 *  - round trip of DOMAIN_GET_STATE (p50/p99, µs) over the unix socket, one client;
 *  - durable define+undefine per second on test:///session with 1 and 16 concurrent
 *    python-libvirt clients (when /usr/bin/python3 has python3-libvirt).
 * With LIBVIRTD_SOCKET=<path to a libvirtd's libvirt-sock> the same runs go to libvirtd too
 * (its test:///default for the round trip; python figures on test:///default there, since
 * libvirtd's test driver has no durable session). Not a test: it asserts nothing.
 *
 *   npx tsc -p . && node dist/bench/rpc.js     (BENCH_QUICK=1 for smaller counts)
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameReader, MessageType, encodeFrame } from '../src/rpc/message.js';
import { REMOTE_PROGRAM, uuidFromString } from '../src/rpc/protocol.js';
import { PROCEDURES, Proc, openArgs } from '../src/rpc/procedures.js';
import { XdrWriter } from '../src/rpc/xdr.js';

const QUICK = process.env.BENCH_QUICK === '1';
const N_RTT = QUICK ? 2000 : 20000;
const N_DEFINE = QUICK ? 50 : 300;
const here = dirname(fileURLToPath(import.meta.url));
const MAIN = join(here, '..', 'src', 'daemon', 'main.js');

async function roundTrip(socketPath: string, n: number): Promise<{ p50: number; p99: number; perSec: number }> {
  const sock: Socket = await new Promise((resolve, reject) => {
    const s = createConnection(socketPath);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
  const reader = new FrameReader();
  let pending: (() => void) | null = null;
  sock.on('data', (c: Buffer) => {
    for (const f of reader.push(c)) if (f.header.type === MessageType.REPLY) pending?.();
  });
  let serial = 0;
  const call = (proc: number, payload: Buffer = Buffer.alloc(0)) =>
    new Promise<void>((resolve) => {
      pending = resolve;
      sock.write(encodeFrame({ prog: REMOTE_PROGRAM, vers: 1, proc, type: MessageType.CALL, serial: serial++, status: 0 }, payload));
    });
  const enc = (proc: Proc, v: unknown) => {
    const w = new XdrWriter();
    PROCEDURES.get(proc)!.args.enc(w, v);
    return Buffer.from(w.finish());
  };
  await call(Proc.AUTH_LIST);
  await call(Proc.CONNECT_OPEN, enc(Proc.CONNECT_OPEN, { name: 'test:///default', flags: 0 } satisfies Parameters<typeof openArgs.enc>[1]));
  const args = enc(Proc.DOMAIN_GET_STATE, { dom: { name: 'test', uuid: uuidFromString('6695eb01-f6a4-8304-79aa-97f2502e193f'), id: 1 }, flags: 0 });
  for (let i = 0; i < 200; i++) await call(Proc.DOMAIN_GET_STATE, args);
  const times: number[] = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    await call(Proc.DOMAIN_GET_STATE, args);
    times.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  const total = Number(process.hrtime.bigint() - t0) / 1e9;
  await call(Proc.CONNECT_CLOSE);
  sock.destroy();
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(n * 0.5)]!, p99: times[Math.floor(n * 0.99)]!, perSec: n / total };
}

const PY = String.raw`
import libvirt, sys, uuid, time
libvirt.registerErrorHandler(lambda *a: None, None)
uri, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = libvirt.open(uri)
t = time.time()
for i in range(n):
    name = 'b%s_%d' % (tag, i)
    d = c.defineXML("<domain type='test'><name>%s</name><uuid>%s</uuid><memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>" % (name, uuid.uuid4()))
    d.undefine()
print(time.time() - t)
`;

async function pythonDefineUndefine(uri: string, clients: number, n: number): Promise<number> {
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: clients }, (_, k) =>
      new Promise<void>((resolve, reject) => {
        const p = spawn('/usr/bin/python3', ['-c', PY, uri, String(n), `${process.pid}_${k}`], { stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (b: Buffer) => (err += b.toString()));
        p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(err))));
      }),
    ),
  );
  return (clients * n) / ((Date.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirtd-bench-'));
  const socketDir = join(dir, 'sock');
  const daemon = spawn(process.execPath, [MAIN, '--socket-dir', socketDir], {
    env: { ...process.env, TSVIRT_STATE_DIR: join(dir, 'state'), TSVIRTD_LOG_LEVEL: 'warn' },
    stdio: 'inherit',
  });
  try {
    const rw = join(socketDir, 'libvirt-sock');
    const end = Date.now() + 10_000;
    while (!existsSync(join(socketDir, 'libvirt-sock-ro')) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const targets: [string, string, string][] = [['tsvirtd', rw, 'test:///session']];
    const lv = process.env.LIBVIRTD_SOCKET;
    if (lv !== undefined && lv !== '') targets.push(['libvirtd', lv, 'test:///default']);
    const havePy = spawnSync('/usr/bin/python3', ['-c', 'import libvirt'], { encoding: 'utf8' }).status === 0;
    for (const [label, path, pyPath] of targets) {
      const rt = await roundTrip(path, N_RTT);
      console.log(`${label}: DOMAIN_GET_STATE round trip p50 ${rt.p50.toFixed(1)} µs, p99 ${rt.p99.toFixed(1)} µs (${rt.perSec.toFixed(0)} calls/s, ${N_RTT} calls)`);
      if (!havePy) continue;
      const uri = `${pyPath.replace('test:', 'test+unix:')}?socket=${path}`;
      for (const clients of [1, 16]) {
        const rate = await pythonDefineUndefine(uri, clients, clients === 1 ? N_DEFINE : Math.ceil(N_DEFINE / 4));
        console.log(`${label}: python-libvirt define+undefine on ${pyPath}, ${clients} client(s): ${rate.toFixed(0)}/s`);
      }
    }
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
