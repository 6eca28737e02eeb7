/**
 * Live migration over loopback: tsvirt's QEMU driver (two QemuDriver instances in this process,
 * each its own "host", the five version-3 steps in a client's order) against raw QEMU (two
 * qemu-system processes with the same command line, QMP by hand: spawn the destination with
 * `-incoming defer`, `migrate-incoming`, `migrate` on the source, wait, `cont` the destination,
 * `quit` the source). TCG guests of 128 MiB (48 MiB of RAM dirtied) and 512 MiB (256 MiB).
 *
 * Figures, medians of RUNS (default 3) per side and size:
 *   total    — wall time from the first step (tsvirt: Begin; raw: spawning the destination) until
 *              the guest runs at the destination and the source QEMU is gone;
 *   downtime — QEMU's own `downtime` of the migration (vCPUs stopped), as query-migrate reports;
 *   qemu     — QEMU's `total-time` of the migration stream alone.
 * Migration bandwidth unlimited on both sides (libvirt's default max speed).
 *
 * Run: npm run build && node dist/bench/migration.js [RUNS]
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DomainRef, TypedParameter } from '../src/core/driver.js';
import { DomainMigrateFlags as M } from '../src/core/enums.generated.js';
import { parseDomainXML } from '../src/conf/domain.js';
import { buildQemuArgv } from '../src/drivers/qemu/argv.js';
import { QemuGuests } from '../src/drivers/qemu/backend.js';
import { findEmulator, launchQemu, type LaunchedQemu } from '../src/drivers/qemu/process.js';
import { QemuDriver } from '../src/drivers/qemu/qemu-driver.js';
import type { QmpClient } from '../src/drivers/qemu/qmp.js';
import { Store } from '../src/store/store.js';

const RUNS = Number(process.argv[2] ?? 3);
const STRING = 7;

/** rdinit wrapper (a second cpio appended to the test guest's): dirties guest.fill MiB once ready. */
const FILL_INIT = `#!/bin/busybox sh
/bin/busybox mknod /dev/null c 1 3
(
  while [ ! -s /run/acpid.pid ]; do /bin/busybox sleep 0.05; done
  fill=0
  for arg in $(/bin/busybox cat /proc/cmdline); do
    case $arg in guest.fill=*) fill=\${arg#*=} ;; esac
  done
  /bin/busybox mount -o remount,size=95% /
  /bin/busybox dd if=/dev/urandom of=/fill.1 bs=65536 count=16 2>/dev/null
  i=0
  while [ $i -lt "$fill" ]; do /bin/busybox cat /fill.1 >> /fill.bin; i=$((i + 1)); done
  echo "GUEST-FILLED $fill" > /dev/console
) &
exec /init
`;

function buildGuest(root: string): { kernel: string; initrd: string } {
  const out = join(root, 'guest');
  execFileSync('sh', [fileURLToPath(new URL('../../scripts/build-test-guest.sh', import.meta.url)), out], { stdio: ['ignore', 'ignore', 'inherit'] });
  const overlay = join(root, 'overlay');
  mkdirSync(overlay);
  writeFileSync(join(overlay, 'fill-init'), FILL_INIT, { mode: 0o755 });
  const cpio = execFileSync('sh', ['-c', 'echo fill-init | cpio -o -H newc --quiet | gzip -9'], { cwd: overlay });
  const initrd = join(out, 'initramfs-bench.cpio.gz');
  writeFileSync(initrd, Buffer.concat([readFileSync(join(out, 'initramfs.cpio.gz')), cpio]), { mode: 0o644 });
  rmSync(overlay, { recursive: true });
  chmodSync(out, 0o755);
  return { kernel: join(out, 'vmlinuz'), initrd };
}

function xmlOf(name: string, uuid: string, mem: number, fill: number, serial: string, image: { kernel: string; initrd: string }): string {
  return `<domain type='qemu'>
  <name>${name}</name><uuid>${uuid}</uuid>
  <memory unit='MiB'>${mem}</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>${image.kernel}</kernel><initrd>${image.initrd}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 guest.mode=A rdinit=/fill-init guest.fill=${fill}</cmdline></os>
  <features><acpi/></features><on_reboot>destroy</on_reboot>
  <devices>
    <serial type='file'><source path='${serial}'/><target port='0'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>`;
}

async function waitText(file: string, text: string, ms = 300_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    let t = '';
    try {
      t = readFileSync(file, 'utf8');
    } catch {
      // not yet
    }
    if (t.includes(text)) return;
    if (Date.now() > deadline) throw new Error(`${text} not seen in ${file}`);
    await sleep(20);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

interface Figures {
  total: number;
  downtime: number;
  qemu: number;
}

async function tsvirtRun(root: string, mem: number, fill: number, image: { kernel: string; initrd: string }): Promise<Figures> {
  const open = async (dir: string): Promise<QemuDriver> => {
    mkdirSync(dir, { recursive: true });
    const d = new QemuDriver({
      uri: 'qemu:///session',
      store: new Store({ path: join(dir, 'qemu.db') }),
      backend: new QemuGuests({ root: join(dir, 'state'), runRoot: join(dir, 'run') }),
      version: 7002000,
      migration: { address: '127.0.0.1', host: '127.0.0.1' },
    });
    await d.reconcile();
    return d;
  };
  const src = await open(join(root, 'a'));
  const dst = await open(join(root, 'b'));
  const name = `bm-${mem}`;
  const uuid = randomUUID();
  const srcSerial = join(root, 'a.serial');
  const dstSerial = join(root, 'b.serial');
  let moved: DomainRef | null = null;
  const dom = await src.createXML(xmlOf(name, uuid, mem, fill, srcSerial, image), 0);
  try {
    await waitText(srcSerial, 'GUEST-FILLED');
    const str = (field: string, value: string): TypedParameter => ({ field, type: STRING, value });
    const flags = M.LIVE;
    const t0 = performance.now();
    const begin = await src.domainMigrateBegin3Params(dom, [str('destination_xml', xmlOf(name, uuid, mem, fill, dstSerial, image))], flags);
    const prep = await dst.domainMigratePrepare3Params([str('destination_xml', begin.xml)], begin.cookieOut, flags);
    const cookie = await src.domainMigratePerform3Params(dom, null, [str('migrate_uri', prep.uriOut ?? '')], prep.cookieOut, flags);
    const fin = await dst.domainMigrateFinish3Params([str('destination_name', name)], cookie, flags, false);
    await src.domainMigrateConfirm3Params(dom, [], fin.cookieOut, flags, false);
    const total = performance.now() - t0;
    moved = fin.dom;
    const f = src.lastMigrationFigures(uuid);
    return { total, downtime: f?.downtimeMs ?? NaN, qemu: f?.totalMs ?? NaN };
  } finally {
    if (moved !== null) await dst.domainDestroy(moved, 0).catch(() => undefined);
    await src.domainDestroy(dom, 0).catch(() => undefined);
    await src.close();
    await dst.close();
  }
}

async function rawRun(root: string, mem: number, fill: number, image: { kernel: string; initrd: string }): Promise<Figures> {
  const uuid = randomUUID();
  const launch = async (side: string, incoming: boolean): Promise<LaunchedQemu> => {
    const dir = join(root, `raw-${side}`);
    mkdirSync(dir, { recursive: true });
    const def = parseDomainXML(xmlOf(`raw-${mem}`, uuid, mem, fill, join(root, `raw-${side}.serial`), image));
    const paths = {
      monitorSocket: join(dir, 'qmp.sock'),
      pidFile: join(dir, 'qemu.pid'),
      serialLog: (p: number) => join(dir, `serial${p}.log`),
      serialSocket: (p: number) => join(dir, `serial${p}.sock`),
    };
    const cmd = buildQemuArgv(def, { paths, incomingDefer: incoming });
    return launchQemu({ emulator: findEmulator(def), argv: cmd.argv, env: cmd.env, logFile: join(dir, 'qemu.log'), monitor: paths.monitorSocket, pidFile: paths.pidFile, runDir: dir, accel: 'tcg' });
  };
  const quit = async (q: LaunchedQemu): Promise<void> => {
    await q.qmp.execute('quit').catch(() => undefined);
    await q.exited;
    q.qmp.close();
  };
  const src = await launch('a', false);
  let dst: LaunchedQemu | undefined;
  try {
    await src.qmp.execute('cont');
    await waitText(join(root, 'raw-a.serial'), 'GUEST-FILLED');
    const t0 = performance.now();
    dst = await launch('b', true);
    const port = 49215;
    const events = async (qmp: QmpClient): Promise<void> => {
      await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'events', state: true }] });
    };
    await events(dst.qmp);
    await dst.qmp.execute('migrate-incoming', { uri: `tcp:127.0.0.1:${port}` });
    await events(src.qmp);
    await src.qmp.execute('migrate-set-parameters', { 'max-bandwidth': 8796093022207 * 1024 * 1024 });
    const done = src.qmp.waitForEvent((ev) => ev.event === 'MIGRATION' && ['completed', 'failed'].includes(String(ev.data.status)), 300_000);
    await src.qmp.execute('migrate', { uri: `tcp:127.0.0.1:${port}` });
    await done;
    const q = await src.qmp.execute<{ status: string; downtime?: number; 'total-time'?: number }>('query-migrate');
    if (q.status !== 'completed') throw new Error(`raw migration ${q.status}`);
    for (;;) {
      const st = await dst.qmp.execute<{ status: string }>('query-status');
      if (st.status !== 'inmigrate') break;
      await sleep(5);
    }
    await dst.qmp.execute('cont');
    await quit(src);
    const total = performance.now() - t0;
    return { total, downtime: q.downtime ?? NaN, qemu: q['total-time'] ?? NaN };
  } finally {
    await quit(src).catch(() => undefined);
    if (dst !== undefined) await quit(dst).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'tsvbm-'));
  try {
    const image = buildGuest(root);
    const rows: string[] = [];
    for (const [mem, fill] of [
      [128, 48],
      [512, 256],
    ] as const) {
      const t: Figures[] = [];
      const r: Figures[] = [];
      for (let i = 0; i < RUNS; i++) {
        const dir = join(root, `run-${mem}-${i}`);
        mkdirSync(dir);
        r.push(await rawRun(join(dir, 'raw'), mem, fill, image));
        t.push(await tsvirtRun(join(dir, 'ts'), mem, fill, image));
      }
      const m = (xs: Figures[], k: keyof Figures): number => median(xs.map((x) => x[k]));
      for (const k of ['total', 'downtime', 'qemu'] as const) {
        const a = m(t, k);
        const b = m(r, k);
        rows.push(`${`${mem} MiB (${fill} filled)`.padEnd(22)} ${k.padEnd(9)} ${a.toFixed(1).padStart(9)} ${b.toFixed(1).padStart(9)} ${(a / b).toFixed(2).padStart(7)}`);
      }
    }
    process.stdout.write(`live migration over 127.0.0.1, TCG, median of ${RUNS} (ms)\n`);
    process.stdout.write(`${'guest'.padEnd(22)} ${'figure'.padEnd(9)} ${'tsvirt'.padStart(9)} ${'raw'.padStart(9)} ${'ratio'.padStart(7)}\n`);
    process.stdout.write(rows.join('\n') + '\n');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

void main();
