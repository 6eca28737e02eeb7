/**
 * Screenshot cost: tsvirt's QEMU driver (domainScreenshot: the domain's job, QMP screendump to a
 * PNG in the runtime directory, read, removed) beside raw QMP on the same guest (the same
 * screendump, read and removed, by a client holding the monitor itself). One test guest (TCG,
 * VGA card, kernel text on tty0); the two sides take turns holding its monitor: tsvirt's
 * connection is closed (the guest runs on) while the raw client works, then opened again.
 *
 *   node dist/bench/qemu-screenshot.js [ROUNDS]     (default 30 per side per turn, 3 turns)
 *
 * Prints the median and spread per side, the ratio and the difference (goal: ≤ raw + 10 ms).
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { connect, type Connection } from '../src/index.js';
import { QmpClient } from '../src/drivers/qemu/qmp.js';

const ROUNDS = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 30);
const TURNS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function fmt(ms: number): string {
  return `${ms.toFixed(2)} ms`;
}

async function waitFor(file: string, text: string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let got = '';
    try {
      got = readFileSync(file, 'utf8');
    } catch {
      // not yet
    }
    if (got.includes(text)) return;
    if (Date.now() > deadline) throw new Error(`'${text}' not seen in ${file}`);
    await sleep(50);
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsvb-shot-'));
  const guestDir = join(dir, 'guest');
  execFileSync('sh', [fileURLToPath(new URL('../../scripts/build-test-guest.sh', import.meta.url)), guestDir]);
  process.env.TSVIRT_STATE_DIR = dir;
  const uuid = randomUUID();
  const serial = join(dir, 'serial.log');
  const xml = `<domain type='qemu'><name>bench-shot</name><uuid>${uuid}</uuid><memory unit='MiB'>128</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>${guestDir}/vmlinuz</kernel><initrd>${guestDir}/initramfs.cpio.gz</initrd>
  <cmdline>console=tty0 console=ttyS0 panic=-1 guest.mode=B</cmdline></os><features><acpi/></features>
  <devices><serial type='file'><source path='${serial}'/><target port='0'/></serial><graphics type='vnc'/><video><model type='vga'/></video></devices></domain>`;

  let conn: Connection | undefined = await connect('qemu:///session');
  const tsvirt: number[] = [];
  const raw: number[] = [];
  let bytes = 0;
  try {
    const dom = await conn.createXML(xml);
    await waitFor(serial, 'GUEST-READY');
    const ref = { name: dom.name(), uuid, id: dom.ID() };
    const runDir = join(dir, 'qemu', 'run', uuid);
    for (let turn = 0; turn < TURNS; turn++) {
      conn ??= await connect('qemu:///session');
      const drv = conn.driverFor('virDomainScreenshot');
      await drv.domainScreenshot!(ref, 0, 0); // attach and warm up
      for (let i = 0; i < ROUNDS; i++) {
        const t0 = performance.now();
        const shot = await drv.domainScreenshot!(ref, 0, 0);
        tsvirt.push(performance.now() - t0);
        bytes = shot.data.length;
      }
      // The guest runs on; its monitor is free for the raw client.
      await conn.close();
      conn = undefined;
      const qmp = await QmpClient.connect(join(runDir, 'monitor.sock'), { timeoutMs: 10_000 });
      try {
        for (let i = 0; i <= ROUNDS; i++) {
          const file = join(runDir, `raw-${i}.png`);
          const t0 = performance.now();
          await qmp.execute('screendump', { filename: file, format: 'png' });
          const data = await readFile(file);
          await rm(file);
          if (i > 0) raw.push(performance.now() - t0); // the first one warms up
          bytes = data.length;
        }
      } finally {
        qmp.close();
      }
    }
    conn ??= await connect('qemu:///session');
    await (await conn.lookupByUUIDString(uuid)).destroy();
  } finally {
    await conn?.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const t = median(tsvirt);
  const r = median(raw);
  console.log(`screenshot of a 720x400 VGA text console (PNG, ${bytes} bytes), ${tsvirt.length} per side, median [min–max]:`);
  console.log(`  tsvirt domainScreenshot  ${fmt(t)}  [${fmt(Math.min(...tsvirt))}–${fmt(Math.max(...tsvirt))}]`);
  console.log(`  raw QMP screendump       ${fmt(r)}  [${fmt(Math.min(...raw))}–${fmt(Math.max(...raw))}]`);
  console.log(`  ratio ${(t / r).toFixed(2)}, difference ${fmt(t - r)} (goal: ≤ raw + 10 ms)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
