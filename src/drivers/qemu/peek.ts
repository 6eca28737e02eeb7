/**
 * The QEMU driver's raw access calls, as libvirt's qemu driver answers them: virDomainBlockResize
 * (QMP `block_resize` on the disk's format node of a running guest), virDomainBlockPeek (the
 * host reads a raw disk's file itself; the guest may be inactive) and virDomainMemoryPeek (QEMU
 * saves the range with `memsave`/`pmemsave` into a private temporary file, which is read back).
 */
import { mkdtempSync, openSync, readSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DomainRef } from '../../core/driver.js';
import { DomainBlockResizeFlags, DomainMemoryFlags, ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError } from '../../core/errors.js';
import type { DomainRecord } from '../../store/store.js';
import type { QmpClient } from './qmp.js';
import type { QemuRuntime } from './process.js';
import { diskByName } from './stats.js';
import type { DomainDef, DomainDiskDef } from '../../conf/domain.js';

const Q = ErrorDomain.QEMU;

/** What these calls use of the QEMU driver. */
export interface PeekHost {
  records: {
    check(flags: number, supported: number, name: string): void;
    resolve(dom: DomainRef): DomainRecord;
    currentDef(rec: DomainRecord): DomainDef;
  };
  running(dom: DomainRef): Promise<{ rec: DomainRecord; qmp: QmpClient; runtime: QemuRuntime }>;
}

/** The largest size in KiB whose bytes fit an unsigned 64-bit integer (ULLONG_MAX / 1024). */
const MAX_KIB = 18014398509481983n;

/** The format node QEMU has for a disk's image (`libvirt-N-format`), found by its file. */
async function formatNode(qmp: QmpClient, disk: DomainDiskDef): Promise<string> {
  const source = disk.sourceFile ?? disk.sourceDev;
  const nodes = await qmp.execute<{ 'node-name'?: string; file?: string }[]>('query-named-block-nodes', { flat: true });
  const mine = nodes.filter((n) => n.file === source && /^libvirt-\d+-/.test(n['node-name'] ?? ''));
  const node = mine.find((n) => n['node-name']!.endsWith('-format')) ?? mine[0];
  if (node === undefined) {
    throw VirError.report(Q, ErrorNumber.INTERNAL_ERROR, `failed to find block node of disk '${disk.targetDev}'`);
  }
  return node['node-name']!;
}

/** virDomainBlockResize: KiB unless BYTES; qcow2 rounded up to 512 bytes; running guests only. */
export async function blockResize(host: PeekHost, dom: DomainRef, path: string, size: number, flags: number): Promise<void> {
  host.records.check(flags, DomainBlockResizeFlags.BYTES, 'DomainBlockResize');
  let bytes = size;
  if ((flags & DomainBlockResizeFlags.BYTES) === 0) {
    if (BigInt(Math.trunc(size)) > MAX_KIB) throw VirError.report(Q, ErrorNumber.OVERFLOW, `size must be less than ${MAX_KIB}`);
    bytes = size * 1024;
  }
  const { rec, qmp } = await host.running(dom);
  const found = diskByName(host.records.currentDef(rec), path);
  if (found === undefined) throw VirError.report(Q, ErrorNumber.INVALID_ARG, `disk '${path}' was not found in the domain config`);
  const { disk } = found;
  if (disk.driverType === 'qcow2' || disk.driverType === 'qed') bytes = Math.ceil(bytes / 512) * 512;
  if ((disk.sourceFile ?? disk.sourceDev) === undefined || disk.readonly) {
    throw VirError.report(Q, ErrorNumber.OPERATION_UNSUPPORTED, `can't resize empty or readonly disk '${disk.targetDev}'`);
  }
  await qmp.execute('block_resize', { 'node-name': await formatNode(qmp, disk), size: bytes });
}

/** virDomainBlockPeek: raw disks only, read from the host file; exactly `size` bytes or an error. */
export function blockPeek(host: PeekHost, dom: DomainRef, path: string, offset: number, size: number, flags: number): Buffer {
  host.records.check(flags, 0, 'DomainBlockPeek');
  const found = diskByName(host.records.currentDef(host.records.resolve(dom)), path);
  if (found === undefined) throw VirError.report(Q, ErrorNumber.INVALID_ARG, `disk '${path}' not found in domain`);
  const { disk } = found;
  // libvirt's qemu driver gives a disk without a format 'raw' when the definition is parsed.
  const format = disk.driverType ?? 'raw';
  if (format !== 'raw') {
    throw VirError.report(Q, ErrorNumber.OPERATION_UNSUPPORTED, `peeking is only supported for disk with 'raw' format not '${format}'`);
  }
  const source = disk.sourceFile ?? disk.sourceDev;
  if (source === undefined) throw VirError.report(Q, ErrorNumber.INVALID_ARG, `disk '${path}' does not currently have a source assigned`);
  const buf = Buffer.alloc(size);
  let fd: number;
  try {
    fd = openSync(source, 'r');
  } catch (err) {
    throw VirError.report(Q, ErrorNumber.SYSTEM_ERROR, `cannot open file '${source}': ${(err as Error).message}`);
  }
  let got = 0;
  try {
    while (got < size) {
      const n = readSync(fd, buf, got, size - got, offset + got);
      if (n === 0) break;
      got += n;
    }
  } catch (err) {
    throw VirError.report(Q, ErrorNumber.SYSTEM_ERROR, `cannot read file '${source}': ${(err as Error).message}`);
  } finally {
    closeSync(fd);
  }
  if (got < size) throw VirError.report(Q, ErrorNumber.INVALID_ARG, `'${path}' starting from ${offset} has only ${got} bytes available`);
  return buf;
}

/** virDomainMemoryPeek: QEMU writes the range to a private file (memsave: vCPU 0's virtual addresses). */
export async function memoryPeek(host: PeekHost, dom: DomainRef, start: number, size: number, flags: number): Promise<Buffer> {
  host.records.check(flags, DomainMemoryFlags.VIRTUAL | DomainMemoryFlags.PHYSICAL, 'DomainMemoryPeek');
  if (flags !== DomainMemoryFlags.VIRTUAL && flags !== DomainMemoryFlags.PHYSICAL) {
    throw VirError.report(Q, ErrorNumber.INVALID_ARG, 'flags parameter must be VIR_MEMORY_VIRTUAL or VIR_MEMORY_PHYSICAL');
  }
  const { qmp } = await host.running(dom);
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-mem-'));
  const file = join(dir, 'qemu.mem');
  try {
    await qmp.execute(flags === DomainMemoryFlags.VIRTUAL ? 'memsave' : 'pmemsave', { val: start, size, filename: file });
    const buf = Buffer.alloc(size);
    const fd = openSync(file, 'r');
    try {
      let got = 0;
      while (got < size) {
        const n = readSync(fd, buf, got, size - got, got);
        if (n === 0) break;
        got += n;
      }
    } finally {
      closeSync(fd);
    }
    return buf;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
