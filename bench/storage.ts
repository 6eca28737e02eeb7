/**
 * Storage benchmark, one run. Prints:
 *  1. volume create: tsvirt's qcow2 and raw volume creation in a directory pool (qemu:///session,
 *     in process) beside the same `qemu-img create` run directly — the overhead tsvirt adds;
 *  2. pool refresh and vol-list with 1,000 qcow2 volumes: python3-libvirt's `pool.refresh()` and
 *     Debian's `virsh vol-list` against tsvirtd and a session libvirtd (its real storage driver),
 *     the same directory of files on both sides.
 * Medians of several runs. Not a test: it asserts nothing.
 *
 *   npx tsc -p . && node dist/bench/storage.js     (BENCH_QUICK=1 for smaller counts)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../src/index.js';
import { startDaemon } from '../test/support/daemon-harness.js';
import { startLibvirtdSession } from './libvirtd-session.js';

const QUICK = process.env.BENCH_QUICK === '1';
const CREATES = QUICK ? 10 : 30;
const VOLUMES = QUICK ? 200 : 1000;
const RUNS = QUICK ? 3 : 7;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}
function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const root = mkdtempSync(join(tmpdir(), 'tsvirt-storage-bench-'));
try {
  // ---- 1. volume create ----
  process.env.TSVIRT_STATE_DIR = join(root, 'state');
  const conn = await connect('qemu:///session');
  try {
    const pool = await conn.storagePoolCreateXML(`<pool type='dir'><name>bench</name><target><path>${join(root, 'pool')}</path></target></pool>`, 1);
    mkdirSync(join(root, 'raw'));
    for (const [label, format, extra] of [
      ['qcow2 1 GiB', 'qcow2', ''],
      ['raw 1 GiB, sparse', 'raw', '<allocation>0</allocation>'],
    ] as const) {
      const ours: number[] = [];
      const direct: number[] = [];
      const diffs: number[] = [];
      // One of each first, not counted: the XML parser and qemu-img's pages load once.
      await pool.createXML(`<volume><name>warm-${format}</name><capacity unit='G'>1</capacity>${extra}<target><format type='${format}'/></target></volume>`);
      for (let i = 0; i < CREATES; i++) {
        let t0 = process.hrtime.bigint();
        await pool.createXML(`<volume><name>${format}-${i}</name><capacity unit='G'>1</capacity>${extra}<target><format type='${format}'/></target></volume>`);
        ours.push(ms(t0));
        t0 = process.hrtime.bigint();
        const opts = format === 'qcow2' ? ['-o', 'compat=1.1'] : [];
        execFileSync('qemu-img', ['create', '-q', '-f', format, ...opts, join(root, 'raw', `${format}-${i}`), String(1024 ** 3)]);
        direct.push(ms(t0));
        diffs.push((ours.at(-1) ?? 0) - (direct.at(-1) ?? 0));
      }
      const a = median(ours);
      const b = median(direct);
      console.log(
        `volume create, ${label}: tsvirt ${a.toFixed(1)} ms, qemu-img create ${b.toFixed(1)} ms, overhead ${median(diffs).toFixed(1)} ms (medians of ${CREATES} pairs)`,
      );
    }
    await pool.destroy();
  } finally {
    await conn.close();
  }

  // ---- 2. refresh and vol-list with many volumes ----
  const dir = join(root, 'many');
  mkdirSync(dir);
  for (let i = 0; i < VOLUMES; i++) execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, `v${String(i).padStart(4, '0')}.qcow2`), '1G']);
  const CLIENT = String.raw`
import libvirt, sys, time
libvirt.registerErrorHandler(lambda *a: None, None)
uri, path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = libvirt.open(uri)
p = c.storagePoolCreateXML("<pool type='dir'><name>many</name><target><path>%s</path></target></pool>" % path, 0)
ts = []
for i in range(runs):
    t = time.perf_counter(); p.refresh(0); ts.append(time.perf_counter() - t)
n = len(p.listAllVolumes(0))
ts.sort()
print(ts[len(ts)//2] * 1000, n)
`;
  const virshList = (uri: string, env?: NodeJS.ProcessEnv, pre: string[] = []): number => {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(pre.length > 0 ? 'setpriv' : 'virsh', [...pre, ...(pre.length > 0 ? ['virsh'] : []), '-q', '-c', uri, 'vol-list', 'many'], { encoding: 'utf8', env });
      times.push(ms(t0));
      if (r.status !== 0) throw new Error(`virsh vol-list failed: ${r.stderr}`);
    }
    return median(times);
  };

  const d = await startDaemon({ verbose: false, uris: ['qemu:///session'] });
  let ts: { refresh: number; n: number; list: number };
  try {
    const uri = `qemu+unix:///session?socket=${d.rw}`;
    const out = execFileSync('/usr/bin/python3', ['-c', CLIENT, uri, dir, String(RUNS)], { encoding: 'utf8' }).trim().split(' ');
    ts = { refresh: Number(out[0]), n: Number(out[1]), list: virshList(uri) };
  } finally {
    await d.dispose();
  }
  console.log(`pool refresh, ${ts.n} qcow2 volumes: tsvirtd ${ts.refresh.toFixed(1)} ms (median of ${RUNS})`);
  console.log(`virsh vol-list, ${ts.n} volumes: tsvirtd ${ts.list.toFixed(1)} ms (median of ${RUNS}, whole virsh run)`);

  const lv = await startLibvirtdSession();
  if ('skip' in lv) {
    console.log(`libvirtd: skipped (${lv.skip})`);
  } else {
    try {
      // libvirtd runs as nobody: the directory becomes theirs to read.
      const lvDir = join(lv.dir, 'many');
      mkdirSync(lvDir);
      for (const f of readdirSync(dir)) execFileSync('cp', ['--sparse=always', join(dir, f), join(lvDir, f)]);
      for (const p of [lvDir, ...readdirSync(lvDir).map((f) => join(lvDir, f))]) chownSync(p, 65534, 65534);
      const py = spawnSync('setpriv', [...lv.asNobody, '/usr/bin/python3', '-c', CLIENT, lv.uri, lvDir, String(RUNS)], { encoding: 'utf8', env: lv.env });
      if (py.status !== 0) throw new Error(`python against libvirtd failed: ${py.stderr}`);
      const [refresh, n] = py.stdout.trim().split(' ').map(Number);
      const list = virshList(lv.uri, lv.env, lv.asNobody);
      console.log(`pool refresh, ${n} qcow2 volumes: libvirtd ${refresh?.toFixed(1)} ms (median of ${RUNS})`);
      console.log(`virsh vol-list, ${n} volumes: libvirtd ${list.toFixed(1)} ms (median of ${RUNS}, whole virsh run)`);
    } finally {
      await lv.dispose();
    }
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
