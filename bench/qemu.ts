/**
 * QEMU driver benchmark: wall time of start (until the call returns, and until the guest's
 * GUEST-READY), destroy, managed save and restore, and the power button until the guest is
 * recorded stopped, through the public API on qemu:///session with the TCG test guest. Prints
 * libvirt's figures for the same operations from shared/notes/libvirt-behaviour.md (virsh against
 * libvirtd's qemu:///system, measured another day) for reference. Not a test.
 *
 *   npm run build && node dist/bench/qemu.js [rounds]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { connect, DomainEventID, DomainEventType, type Connection } from '../src/index.js';

const ROUNDS = Number(process.argv[2] ?? 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function occurrences(file: string, text: string): number {
  try {
    return readFileSync(file, 'utf8').split(text).length - 1;
  } catch {
    return 0;
  }
}

/** Waits until `text` appears in the serial log more often than `seen` times (logs append). */
async function waitFor(file: string, text: string, seen: number, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (occurrences(file, text) > seen) return;
    if (Date.now() > deadline) throw new Error(`no ${text} in ${file}`);
    await sleep(10);
  }
}

function guestXML(name: string, dir: string, mode: 'A' | 'B'): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${randomUUID()}</uuid>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${join(dir, 'vmlinuz')}</kernel>
    <initrd>${join(dir, 'initramfs.cpio.gz')}</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 guest.mode=${mode}</cmdline>
  </os>
  <features><acpi/></features>
  <on_reboot>destroy</on_reboot>
  <devices>
    <serial type='file'><source path='${join(dir, `${name}.serial`)}'/><target port='0'/></serial>
  </devices>
</domain>`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tsvqb-'));
  const script = fileURLToPath(new URL('../../scripts/build-test-guest.sh', import.meta.url));
  execFileSync('sh', [script, join(dir, 'guest')]);
  process.env.TSVIRT_STATE_DIR = join(dir, 'state');
  const guest = join(dir, 'guest');
  let conn: Connection | undefined;
  const t: Record<string, number[]> = {};
  const add = (k: string, v: number) => (t[k] ??= []).push(v);
  try {
    conn = await connect('qemu:///session');
    for (let r = 0; r < ROUNDS; r++) {
      const name = `qb${r}`;
      const dom = await conn.defineXML(guestXML(name, guest, 'A'));
      const serial = join(guest, `${name}.serial`);
      let t0 = now();
      await dom.create();
      add('start (call returns)', now() - t0);
      await waitFor(serial, 'GUEST-READY', 0);
      add('start → GUEST-READY', now() - t0);
      t0 = now();
      await dom.managedSave();
      add('managedSave', now() - t0);
      t0 = now();
      await dom.create();
      add('start restoring the image', now() - t0);
      t0 = now();
      await dom.destroy();
      add('destroy', now() - t0);
      const before = occurrences(serial, 'GUEST-READY');
      await dom.create();
      await waitFor(serial, 'GUEST-READY', before);
      let stopped: () => void = () => {};
      const done = new Promise<void>((resolve) => (stopped = resolve));
      const id = conn.domainEventRegisterAny(dom, DomainEventID.LIFECYCLE, (_c, _d, event) => {
        if (event === DomainEventType.STOPPED) stopped();
      });
      t0 = now();
      await dom.shutdown();
      await done;
      add('power button → recorded stopped', now() - t0);
      conn.domainEventDeregisterAny(id);
      await dom.undefine();
    }
  } finally {
    if (conn !== undefined) {
      for (const d of await conn.listAllDomains(1).catch(() => [])) await d.destroy().catch(() => undefined);
      await conn.close();
    }
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`tsvirt qemu:///session, TCG, 128 MiB test guest, median of ${ROUNDS}\n`);
  for (const [k, v] of Object.entries(t)) process.stdout.write(`  ${k.padEnd(34)} ${median(v).toFixed(0)} ms\n`);
  process.stdout.write(
    'libvirt 9.0 + virsh on qemu:///system (shared/notes/libvirt-behaviour.md, 192 MiB guest, another day):\n' +
      '  start 275 ms; destroy 1667 ms; managedsave 2171 ms; start restoring 839 ms\n',
  );
}

void main();
