/**
 * Core benchmark (issue: core). Prints operations per second and latencies for the store and the
 * rules on test:///default (in memory) and test:///session (durable SQLite, WAL, synchronous FULL),
 * and, where python3-libvirt is installed, the same work on libvirt's test:///default in the same
 * run, with ratios. Not a test: it asserts nothing about time.
 *
 *   npm run bench            (all figures)
 *   BENCH_QUICK=1 npm run bench   (smaller counts)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { connect, DomainUndefineFlags, type Connection } from '../src/index.js';
import { Store } from '../src/store/store.js';
import { formatDomainXML, parseDomainXML } from '../src/conf/domain.js';
import { formatSnapshotXML } from '../src/conf/snapshot.js';
import { testSessionStorePath } from '../src/drivers/test/driver.js';
import { libvirtdDurableDefineUndefine } from './libvirtd-session.js';

const QUICK = process.env.BENCH_QUICK === '1';
const N_DEFINE = QUICK ? 300 : 2000;
const N_SNAP = QUICK ? 300 : 1000;

function domainXML(name: string, uuid = randomUUID()): string {
  return `<domain type='test'><name>${name}</name><uuid>${uuid}</uuid><memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`;
}

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))] ?? NaN;
}

type Figures = Record<string, string>;

async function withState<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-bench-'));
  const prev = process.env.TSVIRT_STATE_DIR;
  process.env.TSVIRT_STATE_DIR = dir;
  try {
    return await fn(dir);
  } finally {
    if (prev === undefined) delete process.env.TSVIRT_STATE_DIR;
    else process.env.TSVIRT_STATE_DIR = prev;
    rmSync(dir, { recursive: true, force: true });
  }
}

async function defineUndefine(conn: Connection, n: number): Promise<number> {
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const dom = await conn.defineXML(domainXML(`du${i}`));
    await dom.undefine();
  }
  return n / ((now() - t0) / 1000);
}

async function snapshotCreate(conn: Connection, n: number): Promise<number> {
  const dom = await conn.defineXML(domainXML('snapper'));
  const t0 = now();
  for (let i = 0; i < n; i++) await dom.snapshotCreateXML(`<domainsnapshot><name>s${i}</name></domainsnapshot>`);
  const rate = n / ((now() - t0) / 1000);
  await dom.undefineFlags(DomainUndefineFlags.SNAPSHOTS_METADATA);
  return rate;
}

/**
 * Fills a domain with `n` snapshots straight through the store, in one transaction (building
 * 10,000 through the API would measure the API again, not the undefine).
 */
function bulkSnapshots(store: Store, uuid: string, n: number, domainXMLText: string): void {
  const def = parseDomainXML(domainXMLText);
  store.mutate(() => {
    let parent: string | null = null;
    for (let i = 0; i < n; i++) {
      const name = `b${i}`;
      const xml = formatSnapshotXML({ name, state: 'shutoff', creationTime: 1_700_000_000 + i, parent: parent ?? undefined, memory: { snapshot: 'no' }, disks: [], domain: def });
      store.putSnapshot(uuid, { name, parent, seq: i + 1, state: 'shutoff', creationTime: 1_700_000_000 + i, memory: 'no', external: false, xml });
      // A bushy tree: every tenth snapshot starts a new branch from the root line.
      parent = i % 10 === 9 ? 'b0' : name;
    }
    const rec = store.domainByUUID(uuid);
    if (rec) store.updateDomain({ ...rec, currentSnapshot: `b${n - 1}` });
  });
}

/** The store behind a connection, for bulk set-up (benchmark only). */
function storeOf(conn: Connection): Store {
  const drv = conn.driverFor('bench') as unknown as { store: Store };
  return drv.store;
}

async function bigSnapshotFigures(conn: Connection, n: number, figures: Figures, label: string): Promise<void> {
  const uuid = randomUUID();
  const xml = domainXML(`big${n}`, uuid);
  const dom = await conn.defineXML(xml);
  bulkSnapshots(storeOf(conn), uuid, n, xml);
  const lat: number[] = [];
  for (let i = 0; i < (QUICK ? 5 : 20); i++) {
    const t0 = now();
    const snaps = await dom.listAllSnapshots();
    lat.push(now() - t0);
    if (snaps.length !== n) throw new Error(`expected ${n} snapshots, got ${snaps.length}`);
  }
  figures[`${label} listAllSnapshots(${n}) ms p50/p95`] = `${median(lat).toFixed(2)} / ${pct(lat, 95).toFixed(2)}`;
  const t0 = now();
  await dom.undefineFlags(DomainUndefineFlags.SNAPSHOTS_METADATA);
  figures[`${label} undefineFlags(SNAPSHOTS_METADATA) with ${n} snapshots ms`] = (now() - t0).toFixed(2);
}

async function listDomainsFigure(conn: Connection, n: number, figures: Figures, label: string): Promise<void> {
  const store = storeOf(conn);
  const template = parseDomainXML(domainXML('tmpl'));
  store.mutate(() => {
    for (let i = 0; i < n; i++) {
      const uuid = randomUUID();
      const name = `ld${i}`;
      store.insertDomain({
        uuid, name, persistent: true, configXml: formatDomainXML({ ...template, name, uuid }, { inactive: true }), liveXml: null,
        id: -1, state: 5, reason: 0, autostart: false, maxMem: 65536, memory: 65536, vcpus: 1, managedSave: null,
        currentSnapshot: null, runtime: null,
      });
    }
  });
  const lat: number[] = [];
  for (let i = 0; i < (QUICK ? 5 : 20); i++) {
    const t0 = now();
    const doms = await conn.listAllDomains(0);
    lat.push(now() - t0);
    if (doms.length < n) throw new Error('listing lost domains');
  }
  figures[`${label} listAllDomains(${n}) ms p50/p95`] = `${median(lat).toFixed(2)} / ${pct(lat, 95).toFixed(2)}`;
}

async function openBigStore(figures: Figures): Promise<void> {
  await withState(async (dir) => {
    const path = testSessionStorePath({ TSVIRT_STATE_DIR: dir });
    const store = new Store({ path });
    const tmpl = parseDomainXML(domainXML('tmpl'));
    const domains = QUICK ? 2000 : 10_000;
    const perDomain = 10;
    const snapXML = formatSnapshotXML({ name: 'x', state: 'shutoff', creationTime: 1_700_000_000, memory: { snapshot: 'no' }, disks: [], domain: tmpl });
    store.mutate(() => {
      for (let i = 0; i < domains; i++) {
        const uuid = randomUUID();
        const name = `bs${i}`;
        store.insertDomain({
          uuid, name, persistent: true, configXml: formatDomainXML({ ...tmpl, name, uuid }, { inactive: true }), liveXml: null,
          id: -1, state: 5, reason: 0, autostart: false, maxMem: 65536, memory: 65536, vcpus: 1, managedSave: null,
          currentSnapshot: `s${perDomain - 1}`, runtime: null,
        });
        for (let j = 0; j < perDomain; j++) {
          store.putSnapshot(uuid, { name: `s${j}`, parent: j === 0 ? null : `s${j - 1}`, seq: j + 1, state: 'shutoff', creationTime: 1_700_000_000 + j, memory: 'no', external: false, xml: snapXML });
        }
      }
    });
    store.close();
    const lat: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = now();
      const conn = await connect('test:///session');
      const first = await conn.lookupByName('bs0');
      await first.snapshotNum();
      lat.push(now() - t0);
      await conn.close();
    }
    figures[`session open store with ${domains} domains / ${domains * perDomain} snapshots + first lookup ms (median of 5)`] = median(lat).toFixed(2);
  });
}

async function runFor(uri: 'test:///default' | 'test:///session', figures: Figures): Promise<void> {
  const label = uri === 'test:///default' ? 'default' : 'session';
  await withState(async () => {
    const conn = await connect(uri);
    try {
      figures[`${label} define+undefine ops/s`] = (await defineUndefine(conn, N_DEFINE)).toFixed(0);
      figures[`${label} snapshotCreateXML ops/s`] = (await snapshotCreate(conn, N_SNAP)).toFixed(0);
      await bigSnapshotFigures(conn, 1000, figures, label);
      await bigSnapshotFigures(conn, 10_000, figures, label);
      await listDomainsFigure(conn, 10_000, figures, label);
    } finally {
      await conn.close();
    }
  });
}

function libvirtFigures(): Figures | null {
  if (!existsSync('/usr/bin/python3')) return null;
  const script = fileURLToPath(new URL('../../bench/libvirt_core.py', import.meta.url));
  const r = spawnSync('/usr/bin/python3', [script, String(N_DEFINE), String(N_SNAP)], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) {
    process.stdout.write(`(libvirt comparison skipped: ${r.stderr.trim().split('\n').pop() ?? 'python3-libvirt missing'})\n`);
    return null;
  }
  return JSON.parse(r.stdout) as Figures;
}

async function main(): Promise<void> {
  const figures: Figures = {};
  await runFor('test:///default', figures);
  await runFor('test:///session', figures);
  await openBigStore(figures);
  const width = Math.max(...Object.keys(figures).map((k) => k.length));
  process.stdout.write('tsvirt core benchmark\n');
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`  ${k.padEnd(width)}  ${v}\n`);
  const lv = libvirtFigures();
  if (lv !== null) {
    process.stdout.write('libvirt 9.0 (python3-libvirt, test:///default, in-process) — same work, same run\n');
    for (const [k, v] of Object.entries(lv)) process.stdout.write(`  ${k.padEnd(width)}  ${v}\n`);
    const ratio = (ours: string | undefined, theirs: string | undefined, higherIsBetter: boolean) => {
      const a = Number.parseFloat(ours ?? '');
      const b = Number.parseFloat(theirs ?? '');
      if (!Number.isFinite(a) || !Number.isFinite(b) || a === 0 || b === 0) return 'n/a';
      return `${(higherIsBetter ? a / b : b / a).toFixed(2)}x`;
    };
    process.stdout.write('ratios (tsvirt / libvirt, >1 means tsvirt is faster)\n');
    process.stdout.write(`  define+undefine, default vs libvirt test      ${ratio(figures['default define+undefine ops/s'], lv['define+undefine ops/s'], true)}\n`);
    process.stdout.write(`  define+undefine, session (durable) vs libvirt test (in memory)  ${ratio(figures['session define+undefine ops/s'], lv['define+undefine ops/s'], true)}\n`);
    process.stdout.write(`  snapshotCreateXML, default vs libvirt test    ${ratio(figures['default snapshotCreateXML ops/s'], lv['snapshotCreateXML ops/s'], true)}\n`);
    process.stdout.write(`  undefine with 1000 snapshots, default         ${ratio(figures['default undefineFlags(SNAPSHOTS_METADATA) with 1000 snapshots ms'], lv['undefineFlags(SNAPSHOTS_METADATA) with 1000 snapshots ms'], false)}\n`);
    process.stdout.write(`  listAllSnapshots(1000), default               ${ratio(figures['default listAllSnapshots(1000) ms p50/p95'], lv['listAllSnapshots(1000) ms p50'], false)}\n`);
  }
  const durable = await libvirtdDurableDefineUndefine(QUICK ? 200 : 1000);
  if (durable !== null) {
    const ours = Number.parseFloat(figures['session define+undefine ops/s'] ?? '');
    process.stdout.write(
      "libvirtd 9.0's durable driver (qemu:///session, python3-libvirt over its socket), same run\n" +
        `  define+undefine ops/s  ${durable}\n` +
        `  ratio tsvirt test:///session / libvirtd durable: ${(ours / durable).toFixed(2)}x (target >= 2)\n`,
    );
  }
  process.stdout.write(
    "libvirtd's durable qemu:///system driver, as measured with libvirt 9.0 on this kind of machine another day:\n" +
      '  define+undefine 856 ops/s; undefine with 1,000 snapshots 93 ms\n',
  );
}

void main();
