/**
 * Shared by the real-QEMU tests: whether QEMU is here, the test guest (built at test time by
 * scripts/build-test-guest.sh), its domain XML, serial-log polling, and a reaper that kills
 * every guest a test started, whatever happens.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DomainDef } from '../src/conf/domain.js';
import { missing, QEMU_TOOLS } from './support/host-tools.js';
import type { DomainRecord } from '../src/store/store.js';

/** The QEMU binary on PATH, or undefined. */
export function findQemu(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, 'qemu-system-x86_64'), constants.X_OK);
      return join(dir, 'qemu-system-x86_64');
    } catch {
      // next
    }
  }
  return undefined;
}

/** Why the QEMU tests cannot run here (for `skip`), or false when they can. */
export function qemuSkipReason(): string | false {
  return missing(...QEMU_TOOLS);
}

/** The built guest. */
export interface TestGuest {
  dir: string;
  kernel: string;
  initrd: string;
}

const BUILD_SCRIPT = fileURLToPath(new URL('../../scripts/build-test-guest.sh', import.meta.url));

/** Builds the test guest into `dir` (about 0.5 s). */
export async function buildTestGuest(dir: string): Promise<TestGuest> {
  await promisify(execFile)('sh', [BUILD_SCRIPT, dir]);
  return { dir, kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initramfs.cpio.gz') };
}

/** Options of {@link guestXML}. */
export interface GuestXMLOptions {
  name: string;
  uuid: string;
  guest: TestGuest;
  /** A: powers off on the power button; B: ignores it; C: powers itself off after `after` s. */
  mode: 'A' | 'B' | 'C';
  after?: number;
  /** Prints GUEST-ALIVE n every `tick` seconds. */
  tick?: number;
  memMiB?: number;
  /** The serial port's log file (a file port), or, with `pty`, its `<log>` unless that is null. */
  serial: string;
  /** Serial port 0 is a pty (the driver's console socket) rather than a file. */
  pty?: { log: boolean };
  /** An interactive shell on the serial port once ready (guest.shell=1). */
  shell?: boolean;
  /** Loads the virtio drivers (virtio_pci, virtio_blk, virtio_net) at boot (guest.virtio=1). */
  virtio?: boolean;
  type?: 'qemu' | 'kvm';
  extraDevices?: string;
  emulator?: string;
  /** Kernel messages on the VGA text console too (`console=tty0`, without `quiet`), for screenshots. */
  tty0?: boolean;
}

/** Domain XML of a test guest (TCG by default). */
export function guestXML(o: GuestXMLOptions): string {
  const args = o.tty0 === true ? ['console=tty0', 'console=ttyS0', 'panic=-1', `guest.mode=${o.mode}`] : ['console=ttyS0', 'quiet', 'panic=-1', `guest.mode=${o.mode}`];
  if (o.after !== undefined) args.push(`guest.after=${o.after}`);
  if (o.tick !== undefined) args.push(`guest.tick=${o.tick}`);
  if (o.shell === true) args.push('guest.shell=1');
  if (o.virtio === true) args.push('guest.virtio=1');
  const serial =
    o.pty === undefined
      ? `<serial type='file'><source path='${o.serial}'/><target port='0'/></serial>`
      : `<serial type='pty'>${o.pty.log ? `<log file='${o.serial}' append='on'/>` : ''}<target port='0'/></serial>`;
  return `<domain type='${o.type ?? 'qemu'}'>
  <name>${o.name}</name>
  <uuid>${o.uuid}</uuid>
  <memory unit='MiB'>${o.memMiB ?? 128}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>${o.guest.kernel}</kernel>
    <initrd>${o.guest.initrd}</initrd>
    <cmdline>${args.join(' ')}</cmdline>
  </os>
  <features><acpi/></features>
  <on_reboot>destroy</on_reboot>
  <devices>
    ${o.emulator !== undefined ? `<emulator>${o.emulator}</emulator>` : ''}
    ${serial}
    ${o.extraDevices ?? ''}
  </devices>
</domain>`;
}

/** A store record for a definition, as the metadata driver would hand it to the backend. */
export function recordFor(def: DomainDef, runtime: string | null = null): DomainRecord {
  return {
    uuid: def.uuid,
    name: def.name,
    persistent: false,
    configXml: null,
    liveXml: null,
    id: 1,
    state: runtime === null ? 5 : 1,
    reason: 0,
    autostart: false,
    maxMem: def.memory,
    memory: def.currentMemory,
    vcpus: def.vcpu.count,
    managedSave: null,
    currentSnapshot: null,
    runtime,
  };
}

/** Reads a file, '' when absent. */
export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Waits until the file contains `pattern`; returns its text. Fails with the file's tail. */
export async function waitForText(file: string, pattern: string | RegExp, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = readText(file);
    if (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)) return text;
    if (Date.now() > deadline) {
      throw new Error(`'${String(pattern)}' not seen in ${file} within ${timeoutMs} ms; it holds:\n${text.slice(-2000)}`);
    }
    await sleep(20);
  }
}

/** Whether a pid names a live (non-zombie) process. */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Kills, in after hooks, every process group registered, and removes temp dirs. */
export class Reaper {
  private readonly pids = new Set<number>();
  private readonly dirs: string[] = [];

  /** A fresh temp dir removed by {@link cleanup}. Short, for unix socket paths. */
  tempDir(prefix = 'tsvq-'): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }

  track(pid: number | undefined): void {
    if (pid !== undefined && pid > 0) this.pids.add(pid);
  }

  trackRuntime(runtime: string | null): void {
    if (runtime !== null) this.track((JSON.parse(runtime) as { pid: number }).pid);
  }

  async cleanup(): Promise<void> {
    for (const pid of this.pids) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    const deadline = Date.now() + 10_000;
    while ([...this.pids].some(pidAlive) && Date.now() < deadline) await sleep(20);
    this.pids.clear();
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}
