/**
 * QEMU's internal snapshots: which block nodes a snapshot covers (libvirt's checks, its words),
 * the `snapshot-save`/`-load`/`-delete` QMP jobs for a running guest, and `qemu-img snapshot`
 * for the images of a shut-off one.
 *
 * tsvirt keeps every snapshot *inside* the qcow2 images (internal), with the guest's memory in
 * the first writable disk when the guest runs. External overlays are not made: delete and revert
 * then never have to rewrite a backing chain, and the image files stay the ones the domain XML
 * names.
 *
 * Names and IDs: an image numbers its snapshots ("1", "2", …) besides their names, and QEMU 7.2
 * takes a name as an ID first when applying or loading one, so a snapshot named "2" could bring
 * back the image's snapshot with ID 2. tsvirt therefore resolves every name to the image's own
 * ID before acting (qemu-img info): offline revert applies that ID, a delete while the guest
 * runs names ID and name. The snapshot tsvirt recorded is the one meant: when an image holds a
 * name twice (one taken beside tsvirt, or left by an interrupted snapshot, which leaves the
 * image snapshot without metadata), it is the earliest taken at or after the recorded creation
 * time, else the operation is refused. A new snapshot whose name an image already holds is
 * refused, so tsvirt never makes such twins; `-loadvm` (revert with memory) cannot be given an
 * ID, so it is refused when QEMU would resolve the name to another snapshot; an offline delete
 * (qemu-img deletes the first of a name) is refused when that first one is not the recorded one.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import type { JobOptions } from '../../core/driver.js';
import { VirError, configUnsupported, operationFailed } from '../../core/errors.js';
import type { DomainDef, DomainDiskDef } from '../../conf/domain.js';
import type { SnapshotDef } from '../../conf/snapshot.js';
import { diskFormatNode } from './argv.js';
import type { QmpClient, QmpEvent } from './qmp.js';

const DOM = ErrorDomain.QEMU;

/**
 * The format block node of a domain's disk. A running guest's nodes are looked up by the disk's
 * alias, its device's id (formatNodesOf): a position in the definition names another disk once an
 * earlier one was hot-detached. Without a guest, the node a fresh start would give it.
 */
export type NodeOf = (disk: DomainDiskDef, index: number) => string;

const positional: NodeOf = (_disk, index) => diskFormatNode(index);

/**
 * The node lookup for a running guest: each disk's format node as QEMU's query-block reports it
 * behind the device whose id is the disk's alias.
 *
 * Errors: VIR_ERR_OPERATION_FAILED when a disk of the definition has no node in the guest.
 */
export async function formatNodesOf(qmp: QmpClient): Promise<NodeOf> {
  const blocks = await qmp.execute<{ qdev?: string; inserted?: { 'node-name'?: string } }[]>('query-block');
  const byAlias = new Map<string, string>();
  for (const b of blocks) {
    const node = b.inserted?.['node-name'];
    const m = /^(?:\/machine\/peripheral\/)?([^/]+)/.exec(b.qdev ?? '');
    if (node !== undefined && m !== null) byAlias.set(m[1], node);
  }
  return (disk, index) => {
    if (disk.alias === undefined) return positional(disk, index);
    const node = byAlias.get(disk.alias);
    if (node === undefined) throw operationFailed(DOM, `disk '${disk.targetDev}' (device '${disk.alias}') has no block node in the running guest`);
    return node;
  };
}

/** The disks an internal snapshot covers. */
export interface InternalSnapshotTargets {
  /** Format node names of the disks included (see {@link NodeOf}), in domain order. */
  nodes: string[];
  /** Their image files, for qemu-img while the domain is shut off. */
  files: string[];
}

/**
 * Checks a new snapshot against the domain as libvirt's qemuSnapshotPrepare does, for the
 * internal snapshots tsvirt takes, and returns the disks it covers.
 *
 * Errors (VIR_FROM_QEMU): VIR_ERR_CONFIG_UNSUPPORTED "nothing selected for snapshot" (no disk
 * and no memory), "internal and full system snapshots require all disks to be selected for
 * snapshot" (memory without a disk to hold it, or a writable disk left out), "internal snapshot
 * for disk vda unsupported for storage type raw"; VIR_ERR_OPERATION_UNSUPPORTED for external
 * targets, which tsvirt does not make.
 */
export function internalSnapshotTargets(domain: DomainDef, snap: SnapshotDef, nodeOf: NodeOf = positional): InternalSnapshotTargets {
  const memory = snap.memory?.snapshot ?? 'no';
  if (memory === 'external' || snap.disks.some((d) => d.snapshot === 'external' || d.snapshot === 'manual')) {
    throw VirError.report(
      DOM,
      ErrorNumber.OPERATION_UNSUPPORTED,
      "external snapshots are not supported by tsvirt's qemu driver: snapshots are internal to qcow2 images",
    );
  }
  const out: InternalSnapshotTargets = { nodes: [], files: [] };
  let excludedWritable = false;
  domain.devices.disks.forEach((disk, index) => {
    const chosen = snap.disks.find((d) => d.name === disk.targetDev || d.name === disk.sourceFile || d.name === disk.sourceDev);
    const location = chosen?.snapshot ?? (disk.readonly ? 'no' : 'internal');
    const empty = disk.sourceFile === undefined && disk.sourceDev === undefined;
    if (location === 'no') {
      if (!empty && !disk.readonly) excludedWritable = true;
      return;
    }
    const format = disk.driverType ?? 'raw';
    if (format !== 'qcow2') {
      throw configUnsupported(DOM, `internal snapshot for disk ${disk.targetDev} unsupported for storage type ${format}`);
    }
    out.nodes.push(nodeOf(disk, index));
    out.files.push(disk.sourceFile ?? disk.sourceDev ?? '');
  });
  if (out.nodes.length === 0 && memory === 'no') throw configUnsupported(DOM, 'nothing selected for snapshot');
  if ((memory === 'internal' && out.nodes.length === 0) || (out.nodes.length > 0 && excludedWritable)) {
    throw configUnsupported(DOM, 'internal and full system snapshots require all disks to be selected for snapshot');
  }
  return out;
}

/**
 * The writable qcow2 disks of a definition that a snapshot covers, for deleting, loading or
 * applying it: those its `<disks>` name as internal, or all of them when it names none (metadata
 * REDEFINEd without disks).
 */
export function snapshotCapableDisks(domain: DomainDef, snap?: SnapshotDef, nodeOf: NodeOf = positional): InternalSnapshotTargets {
  const out: InternalSnapshotTargets = { nodes: [], files: [] };
  domain.devices.disks.forEach((disk, index) => {
    const file = disk.sourceFile ?? disk.sourceDev;
    if (file === undefined || disk.readonly || disk.driverType !== 'qcow2') return;
    const named = snap?.disks.find((d) => d.name === disk.targetDev || d.name === file);
    if (snap !== undefined && snap.disks.length > 0 && (named?.snapshot ?? 'internal') !== 'internal') return;
    out.nodes.push(nodeOf(disk, index));
    out.files.push(file);
  });
  return out;
}

let jobCounter = 0;

/**
 * Runs one of QEMU's snapshot jobs (`snapshot-save`, `snapshot-load`, `snapshot-delete`) to its
 * end and dismisses it. QEMU accepts the command at once and reports the outcome only in the
 * job: its error text becomes the VirError's message.
 *
 * Errors: VIR_ERR_OPERATION_FAILED with QEMU's job error, or when the monitor closes meanwhile.
 */
export async function runSnapshotJob(
  qmp: QmpClient,
  command: 'snapshot-save' | 'snapshot-load' | 'snapshot-delete',
  args: { tag: string; devices: string[]; vmstate?: string },
  options?: JobOptions,
  timeoutMs = 600_000,
): Promise<void> {
  const id = `tsvirt-${command}-${process.pid}-${++jobCounter}`;
  // QEMU's snapshot jobs report progress as 0/1 then 1/1: enough for a caller's progress line.
  const onProgress = options?.onProgress;
  const offProgress =
    onProgress === undefined
      ? () => undefined
      : qmp.onEvent((ev) => {
          if (ev.event !== 'JOB_STATUS_CHANGE' || ev.data.id !== id) return;
          if (ev.data.status === 'running') onProgress({ processed: 0, total: 1 });
          if (ev.data.status === 'pending') onProgress({ processed: 1, total: 1 });
        });
  const concluded = qmp.waitForEvent(
    (ev: QmpEvent) => ev.event === 'JOB_STATUS_CHANGE' && ev.data.id === id && ev.data.status === 'concluded',
    timeoutMs,
  );
  concluded.catch(() => undefined);
  try {
    await qmp.execute(command, { 'job-id': id, ...args });
    await concluded;
  } finally {
    offProgress();
  }
  const jobs = await qmp.execute<{ id: string; status: string; error?: string }[]>('query-jobs');
  await qmp.execute('job-dismiss', { id }).catch(() => undefined);
  const job = jobs.find((j) => j.id === id);
  if (job?.error !== undefined) {
    throw operationFailed(DOM, `${command} of '${args.tag}' failed: ${job.error}`);
  }
}

/** qemu-img next to the emulator, else on PATH. */
export function findQemuImg(emulator: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const dirs = [...(emulator !== undefined && isAbsolute(emulator) ? [dirname(emulator)] : []), ...(env.PATH ?? '').split(delimiter)];
  for (const dir of dirs) {
    if (dir === '' || !isAbsolute(dir)) continue;
    const candidate = join(dir, 'qemu-img');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw VirError.report(DOM, ErrorNumber.SYSTEM_ERROR, "Cannot find 'qemu-img' in path: No such file or directory");
}

/** What `qemu-img snapshot` does: create (-c), apply (-a), delete (-d). */
export type QemuImgSnapshotOp = '-c' | '-a' | '-d';

/**
 * Runs `qemu-img snapshot OP NAME FILE` on an image of a shut-off domain. NAME is matched by
 * qemu-img 7.2 as follows: -a takes an ID first, then a name; -d takes the first snapshot of that
 * name only; -c adds one even when the name exists. Callers resolve names with
 * {@link resolveImageSnapshot} first.
 *
 * Errors: VIR_ERR_OPERATION_FAILED carrying qemu-img's own message.
 */
export function qemuImgSnapshot(qemuImg: string, op: QemuImgSnapshotOp, name: string, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(qemuImg, ['snapshot', op, name, file], { timeout: 120_000 }, (err, _stdout, stderr) => {
      if (err === null) return resolve();
      const what = { '-c': 'create', '-a': 'revert to', '-d': 'delete' }[op];
      const detail = String(stderr).trim() || err.message;
      reject(operationFailed(DOM, `failed to ${what} internal snapshot '${name}' of '${file}': ${detail}`));
    });
  });
}

/** One internal snapshot of an image, as `qemu-img info --output=json` lists it. */
export interface ImageSnapshot {
  /** The image's own unique ID ("1", "2", …): QEMU numbers snapshots as it makes them. */
  id: string;
  name: string;
  /** When QEMU took it, seconds since the epoch. */
  dateSec: number;
}

/**
 * The internal snapshots of an image, in the image's order. `forceShare` (-U) reads an image
 * QEMU holds; without it an image in use is an error, which is right for a shut-off domain.
 *
 * Errors: VIR_ERR_OPERATION_FAILED with qemu-img's message.
 */
export function listImageSnapshots(qemuImg: string, file: string, forceShare = false): Promise<ImageSnapshot[]> {
  const args = ['info', ...(forceShare ? ['-U'] : []), '--output=json', file];
  return new Promise((resolve, reject) => {
    execFile(qemuImg, args, { timeout: 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err !== null) {
        reject(operationFailed(DOM, `cannot list the internal snapshots of '${file}': ${String(stderr).trim() || err.message}`));
        return;
      }
      const info = JSON.parse(String(stdout)) as { snapshots?: { id: string; name: string; 'date-sec': number }[] };
      resolve((info.snapshots ?? []).map((sn) => ({ id: String(sn.id), name: sn.name, dateSec: sn['date-sec'] })));
    });
  });
}

/**
 * The image snapshot that is tsvirt's snapshot `name`, or undefined when the image has none of
 * that name. A name given twice (a snapshot taken beside tsvirt, or left by an old interrupted
 * one) is resolved by the recorded creation time: tsvirt takes the image snapshot right after
 * recording it, so it is the earliest of that name taken at or after `creationTime` (by date,
 * then ID). When that does not single one out, nothing is guessed.
 *
 * Errors: VIR_ERR_OPERATION_FAILED when the name is ambiguous.
 */
export function resolveImageSnapshot(
  list: readonly ImageSnapshot[],
  name: string,
  file: string,
  creationTime: number | undefined,
): ImageSnapshot | undefined {
  const same = list.filter((sn) => sn.name === name);
  if (same.length <= 1) return same[0];
  const after = creationTime === undefined ? [] : same.filter((sn) => sn.dateSec >= creationTime);
  after.sort((a, b) => a.dateSec - b.dateSec || Number(a.id) - Number(b.id));
  if (after[0] !== undefined) return after[0];
  throw operationFailed(
    DOM,
    `internal snapshot '${name}' is ambiguous in disk image '${file}': it holds ${same.length} snapshots of that name ` +
      `(IDs ${same.map((sn) => sn.id).join(', ')}) and none was taken when tsvirt recorded it; remove the stray ones with 'qemu-img snapshot'`,
  );
}

/**
 * Refuses a `-loadvm NAME` that QEMU would resolve to another snapshot: QEMU 7.2 checks the
 * name, then loads disks and memory by ID first, so a snapshot whose ID equals NAME wins; and
 * a name given twice loads the first. `-loadvm` takes no ID, so such a revert is refused.
 *
 * Errors: VIR_ERR_OPERATION_FAILED naming the snapshot QEMU would take.
 */
export function checkLoadvmTarget(list: readonly ImageSnapshot[], name: string, file: string): void {
  const byId = list.find((sn) => sn.id === name);
  if (byId !== undefined && byId.name !== name) {
    throw operationFailed(
      DOM,
      `cannot load internal snapshot '${name}' of '${file}': '${name}' is also the ID of internal snapshot '${byId.name}', which QEMU would load instead`,
    );
  }
  const same = list.filter((sn) => sn.name === name);
  if (same.length > 1) {
    throw operationFailed(
      DOM,
      `cannot load internal snapshot '${name}' of '${file}': the image holds ${same.length} snapshots of that name (IDs ${same.map((sn) => sn.id).join(', ')}); remove the stray ones with 'qemu-img snapshot'`,
    );
  }
}

/**
 * Refuses a new snapshot whose name an image already holds (an interrupted snapshot leaves one
 * in the image with no metadata; `qemu-img snapshot -c` would add a second of the same name).
 *
 * Errors: VIR_ERR_OPERATION_FAILED.
 */
export function checkNewSnapshotName(list: readonly ImageSnapshot[], name: string, file: string): void {
  const existing = list.find((sn) => sn.name === name);
  if (existing === undefined) return;
  throw operationFailed(
    DOM,
    `internal snapshot '${name}' already exists in disk image '${file}' (ID ${existing.id}, left by an interrupted snapshot or taken outside tsvirt): ` +
      `delete it with 'qemu-img snapshot -d' or choose another name`,
  );
}

/** Whether a qemu-img / QEMU error says the snapshot is not in the image (fine when deleting). */
export function isMissingSnapshotError(err: unknown): boolean {
  return err instanceof VirError && /(not found|does not exist|Can't find the snapshot)/i.test(err.message);
}
