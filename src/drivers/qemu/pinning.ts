/**
 * vCPU and emulator pinning of a running QEMU guest: the affinity of its threads, set with
 * util-linux's `taskset` (sched_setaffinity), as libvirt sets it when it has no cgroups. The
 * vCPU threads are those QEMU names in `query-cpus-fast`; the emulator's are every other thread
 * of the process. The pins themselves live in the definition's `<cputune>` (src/conf/cputune.ts).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { cpus as hostCpuList } from 'node:os';
import { promisify } from 'node:util';
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import { cpuPinsOf, formatCpuset } from '../../conf/cputune.js';
import type { DomainDef } from '../../conf/domain.js';
import type { QmpClient } from './qmp.js';

const run = promisify(execFile);

/** The host's CPUs (libvirt's virHostCPUGetCount). */
export function hostCpuCount(): number {
  return Math.max(1, hostCpuList().length);
}

/** The vCPU threads of a running guest: thread id by vCPU index. */
export async function vcpuThreads(qmp: QmpClient): Promise<Map<number, number>> {
  const list = await qmp.execute<{ 'cpu-index': number; 'thread-id': number }[]>('query-cpus-fast');
  return new Map(list.map((c) => [c['cpu-index'], c['thread-id']]));
}

/** Sets one thread's affinity: VIR_ERR_SYSTEM_ERROR "cannot set CPU affinity on process N: …" as libvirt. */
export async function setAffinity(tid: number, cpus: readonly number[]): Promise<void> {
  try {
    await run('taskset', ['-pc', formatCpuset(cpus), String(tid)], { timeout: 10_000 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    const why = /Invalid argument/i.test(err.stderr ?? '') ? 'Invalid argument' : (err.stderr ?? err.message).trim();
    throw VirError.report(ErrorDomain.QEMU, ErrorNumber.SYSTEM_ERROR, `cannot set CPU affinity on process ${tid}: ${why}`);
  }
}

/** Pins vCPU `vcpu`'s thread. */
export async function pinVcpuThread(qmp: QmpClient, vcpu: number, cpus: readonly number[]): Promise<void> {
  const tid = (await vcpuThreads(qmp)).get(vcpu);
  if (tid === undefined) throw VirError.report(ErrorDomain.QEMU, ErrorNumber.INVALID_ARG, `vcpu ${vcpu} is out of range of live cpu count`);
  await setAffinity(tid, cpus);
}

/** Pins the emulator: every thread of QEMU's process that is not a vCPU's. */
export async function pinEmulatorThreads(qmp: QmpClient, pid: number, cpus: readonly number[]): Promise<void> {
  const vcpus = new Set((await vcpuThreads(qmp)).values());
  let tids: number[];
  try {
    tids = readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    tids = [pid];
  }
  for (const tid of tids) {
    if (vcpus.has(tid)) continue;
    try {
      await setAffinity(tid, cpus);
    } catch (e) {
      // A worker thread that ended meanwhile needs no affinity.
      if (existsSync(`/proc/${pid}/task/${tid}`)) throw e;
    }
  }
}

/**
 * At start, before the guest runs: each vCPU thread pinned as `<vcpupin>` says, and the
 * emulator's threads as `<emulatorpin>` says (vCPUs without a pin keep every host CPU).
 */
export async function applyStartPins(qmp: QmpClient, pid: number, def: DomainDef): Promise<void> {
  const pins = cpuPinsOf(def);
  if (pins.emulatorpin !== undefined && pins.emulatorpin.length > 0) await pinEmulatorThreads(qmp, pid, pins.emulatorpin);
  if (pins.vcpupin.size === 0) return;
  const threads = await vcpuThreads(qmp);
  for (const [vcpu, cpus] of pins.vcpupin) {
    const tid = threads.get(vcpu);
    if (tid !== undefined && cpus.length > 0) await setAffinity(tid, cpus);
  }
}
