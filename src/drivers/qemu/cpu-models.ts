/**
 * virConnectGetCPUModelNames on QEMU: the CPU models the emulator of the architecture lists in
 * `qemu-system-ARCH -cpu help` (its "x86 NAME …" lines), asked once per binary and remembered.
 * libvirt itself answers from its own CPU map; listing what QEMU accepts tells a user what
 * `<cpu><model>` this host can actually run. Architectures without an emulator here: as the
 * CPU map (src/drivers/test/cpu-models.ts), so unknown names fail the same way.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ErrorDomain } from '../../core/enums.generated.js';
import { internalError } from '../../core/errors.js';
import { cpuModelNames } from '../test/cpu-models.js';

const run = promisify(execFile);
/** The emulator that lists each architecture's models. */
const BINARY: Readonly<Record<string, string>> = { i686: 'qemu-system-i386', x86_64: 'qemu-system-x86_64' };
const cache = new Map<string, Promise<string[]>>();

/** The model names in `-cpu help` output, in QEMU's order (aliases included, `host`/`max`/`base` too). */
export function parseCpuHelp(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^x86\s+(\S+)/.exec(line);
    if (m !== null && m[1] !== undefined) names.push(m[1]);
  }
  return names;
}

async function probe(binary: string): Promise<string[]> {
  try {
    const { stdout } = await run(binary, ['-cpu', 'help'], { timeout: 30_000, maxBuffer: 4 << 20 });
    return parseCpuHelp(stdout);
  } catch (e) {
    throw internalError(ErrorDomain.QEMU, `failed to list the CPU models of ${binary}: ${(e as Error).message}`);
  }
}

/** The models for `arch` (checked as libvirt checks it, VIR_FROM_QEMU for an unknown name). */
export async function qemuCpuModelNames(arch: string): Promise<string[]> {
  const known = cpuModelNames(arch, ErrorDomain.QEMU);
  const binary = BINARY[arch];
  if (binary === undefined) return known;
  let models = cache.get(binary);
  if (models === undefined) {
    models = probe(binary);
    cache.set(binary, models);
    models.catch(() => cache.delete(binary));
  }
  return [...(await models)];
}
