/**
 * virConnectGetDomainCapabilities for the QEMU driver: which emulator, machine type and domain
 * type the arguments select (with libvirt 9.0's checks and errors, as qemuConnectGetDomainCapabilities
 * and virQEMUCapsCacheLookupDefault answer them), and what tsvirt's QEMU driver runs for them.
 * The document describes this driver, not QEMU: what argv.ts refuses or leaves out is
 * `supported='no'` here, so that a client choosing devices from it gets a domain that starts.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError, configUnsupported } from '../../core/errors.js';
import type { DomainCapabilities } from '../../conf/domaincaps.js';
import { QEMU_DISK_BUSES, QEMU_VIDEO_MODELS } from './argv.js';
import { describeErrno } from './process.js';
import { kvmUsable, onPath } from './host.js';

const DOM = ErrorDomain.QEMU;

/** libvirt's architecture names (virArch), which it parses before looking for an emulator. */
const ARCHES = new Set([
  'alpha', 'armv6l', 'armv7l', 'armv7b', 'aarch64', 'cris', 'i686', 'ia64', 'lm32', 'loongarch64', 'm68k',
  'microblaze', 'microblazeel', 'mips', 'mipsel', 'mips64', 'mips64el', 'openrisc', 'parisc', 'parisc64',
  'ppc', 'ppcle', 'ppc64', 'ppc64le', 'ppcemb', 'riscv32', 'riscv64', 's390', 's390x', 'sh4', 'sh4eb',
  'sparc', 'sparc64', 'unicore32', 'x86_64', 'xtensa', 'xtensaeb',
]);

/** libvirt's domain types (virDomainVirtType). */
const VIRT_TYPES = new Set(['none', 'qemu', 'kqemu', 'kvm', 'xen', 'lxc', 'uml', 'openvz', 'test', 'vmware', 'hyperv', 'vbox', 'phyp', 'parallels', 'bhyve', 'vz', 'hvf']);

/** The emulators tsvirt runs, by the architecture they serve. */
const BINARIES: Record<string, string> = { i686: 'qemu-system-i386', x86_64: 'qemu-system-x86_64' };

/** What `query-machines` says of one machine type. */
interface QemuMachine {
  name: string;
  alias?: string;
  isDefault: boolean;
  cpuMax: number;
}

const machinesCache = new Map<string, { stamp: string; machines: QemuMachine[] }>();

/**
 * The machine types of an emulator from QMP `query-machines` (as libvirt probes them: a QEMU with
 * `-machine none` answering on stdio), cached per binary until it changes.
 *
 * Errors: VIR_ERR_INTERNAL_ERROR when QEMU does not answer.
 */
function queryMachines(emulator: string): QemuMachine[] {
  const st = statSync(emulator);
  const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
  const cached = machinesCache.get(emulator);
  if (cached?.stamp === stamp) return cached.machines;
  const input = ['qmp_capabilities', 'query-machines', 'quit'].map((c) => JSON.stringify({ execute: c })).join('\n') + '\n';
  let out: string;
  try {
    out = execFileSync(emulator, ['-machine', 'none', '-nodefaults', '-nographic', '-S', '-qmp', 'stdio'], {
      input,
      encoding: 'utf8',
      timeout: 30_000,
      stdio: ['pipe', 'pipe', 'ignore'],
    });
  } catch (err) {
    throw VirError.report(DOM, ErrorNumber.INTERNAL_ERROR, `Failed to probe capabilities for ${emulator}: ${describeErrno(err)}`);
  }
  let machines: QemuMachine[] | undefined;
  for (const line of out.split('\n')) {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      continue;
    }
    const ret = (msg as { return?: unknown }).return;
    if (!Array.isArray(ret)) continue;
    machines = ret.map((m: Record<string, unknown>) => ({
      name: String(m.name),
      alias: typeof m.alias === 'string' ? m.alias : undefined,
      isDefault: m['is-default'] === true,
      cpuMax: typeof m['cpu-max'] === 'number' ? m['cpu-max'] : 1,
    }));
  }
  if (machines === undefined) throw VirError.report(DOM, ErrorNumber.INTERNAL_ERROR, `Failed to probe capabilities for ${emulator}`);
  machinesCache.set(emulator, { stamp, machines });
  return machines;
}

/** The architecture a tsvirt emulator serves, from its name; undefined for any other binary. */
function binaryArch(emulator: string): string | undefined {
  const base = emulator.slice(emulator.lastIndexOf('/') + 1);
  return Object.keys(BINARIES).find((a) => BINARIES[a] === base);
}

/** Whether an emulator of architecture `binary` runs guests of `arch` (x86_64's also runs i686). */
function serves(binary: string, arch: string): boolean {
  return binary === arch || (binary === 'x86_64' && arch === 'i686');
}

/** The host's architecture by libvirt's name. */
function hostArch(): string {
  return process.arch === 'x64' ? 'x86_64' : process.arch === 'ia32' ? 'i686' : process.arch === 'arm64' ? 'aarch64' : process.arch;
}

/**
 * virConnectGetDomainCapabilities on the QEMU driver. Each argument may be null: the emulator
 * then is the architecture's `qemu-system-*` on PATH, the architecture the host's (or the
 * emulator's), the machine the emulator's default, the domain type `kvm` when KVM is usable
 * here and `qemu` otherwise.
 *
 * Errors, as libvirt 9.0: VIR_ERR_INVALID_ARG for unsupported flags, an unknown domain type or
 * architecture, an emulator that does not serve the architecture, a machine type the emulator
 * lacks, or an accelerator this host lacks; VIR_ERR_CONFIG_UNSUPPORTED when no emulator serves
 * the architecture; VIR_ERR_SYSTEM_ERROR when the emulator is missing or not executable.
 */
export function qemuDomainCapabilities(
  emulatorbin: string | null,
  archName: string | null,
  machineName: string | null,
  virttype: string | null,
  flags: number,
  env: NodeJS.ProcessEnv,
): DomainCapabilities {
  if (flags !== 0) {
    throw VirError.invalidArg(DOM, `unsupported flags (0x${flags.toString(16)}) in function qemuConnectGetDomainCapabilities`);
  }
  const invalid = (detail: string) => VirError.report(DOM, ErrorNumber.INVALID_ARG, detail);
  if (virttype !== null && !VIRT_TYPES.has(virttype)) throw invalid(`unknown virttype: ${virttype}`);
  if (archName !== null && !ARCHES.has(archName)) throw invalid(`unknown architecture: ${archName}`);

  let emulator: string;
  let arch: string;
  if (emulatorbin !== null) {
    try {
      statSync(emulatorbin);
    } catch (err) {
      throw VirError.report(DOM, ErrorNumber.SYSTEM_ERROR, `Cannot check QEMU binary ${emulatorbin}: ${describeErrno(err)}`);
    }
    try {
      accessSync(emulatorbin, constants.X_OK);
    } catch (err) {
      throw VirError.report(DOM, ErrorNumber.SYSTEM_ERROR, `QEMU binary ${emulatorbin} is not executable: ${describeErrno(err)}`);
    }
    emulator = emulatorbin;
    arch = archName ?? hostArch();
    const served = binaryArch(emulator);
    if (served === undefined || !serves(served, arch)) throw invalid(`Emulator '${emulator}' does not support arch '${arch}'`);
  } else {
    arch = archName ?? hostArch();
    const binary = BINARIES[arch];
    const found = binary === undefined ? undefined : onPath(binary, env);
    if (found === undefined) throw configUnsupported(DOM, `unable to find any emulator to serve '${arch}' architecture`);
    emulator = found;
  }

  const kvm = kvmUsable() && serves(hostArch(), arch);
  const domain = virttype ?? (kvm ? 'kvm' : 'qemu');
  if (domain === 'kvm' && !kvm) throw invalid(`the accel 'kvm' is not supported by '${emulator}' on this host`);
  // libvirt maps every other type to TCG, and TCG is what it then finds missing.
  if (domain !== 'kvm' && domain !== 'qemu') throw invalid(`the accel 'tcg' is not supported by '${emulator}' on this host`);

  const machines = queryMachines(emulator);
  let machine: QemuMachine | undefined;
  if (machineName === null) {
    machine = machines.find((m) => m.isDefault) ?? machines[0];
  } else {
    machine = machines.find((m) => m.name === machineName) ?? machines.find((m) => m.alias === machineName);
    if (machine === undefined) throw invalid(`the machine '${machineName}' is not supported by emulator '${emulator}'`);
  }

  return {
    path: emulator,
    domain,
    machine: machine?.name,
    arch,
    vcpuMax: machine?.cpuMax,
    iothreads: false,
    // Direct kernel boot or QEMU's own BIOS: no <loader>, no firmware auto-selection.
    os: { supported: true, firmware: [], loader: { supported: false } },
    // -cpu from <cpu> (./cpu-args.ts): 'max' always, 'host' under KVM only; no host model is
    // probed, and custom models are checked at start against `-cpu help` but not listed here.
    cpuModes: [
      ['host-passthrough', domain === 'kvm'],
      ['maximum', true],
      ['host-model', false],
      ['custom', false],
    ],
    memoryBacking: { supported: false },
    devices: [
      [
        'disk',
        {
          supported: true,
          enums: [
            ['diskDevice', ['disk', 'cdrom']],
            ['bus', [...QEMU_DISK_BUSES]],
            ['model', []],
          ],
        },
      ],
      ['graphics', { supported: true, enums: [['type', ['vnc']]] }],
      ['video', { supported: true, enums: [['modelType', [...QEMU_VIDEO_MODELS, 'none']]] }],
      ['hostdev', { supported: false }],
      ['rng', { supported: false }],
      ['filesystem', { supported: false }],
      ['tpm', { supported: false }],
      ['redirdev', { supported: false }],
      ['channel', { supported: false }],
    ],
    features: [
      ['gic', false],
      ['vmcoreinfo', false],
      ['genid', false],
      ['backingStoreInput', false],
      ['backup', false],
      ['sev', false],
      ['sgx', false],
    ],
  };
}
