/**
 * QEMU's side of checkpoints: a persistent dirty bitmap in each qcow2 disk a checkpoint covers,
 * added and removed through the guest's monitor in one QMP `transaction` each (libvirt 9.0's
 * qemu_checkpoint.c does the same: every bitmap of a checkpoint stays active, so deleting one
 * only removes it). Pure planning here; the backend supplies the monitor.
 */
import { DomainCheckpointCreateFlags as Create, DomainCheckpointDeleteFlags as Delete, DomainCheckpointXMLFlags as XMLFlags, ErrorDomain, ErrorNumber } from '../../core/enums.generated.js';
import { VirError, configUnsupported } from '../../core/errors.js';
import type { CheckpointDef, CheckpointDiskDef } from '../../conf/checkpoint.js';
import type { DomainDef } from '../../conf/domain.js';
import { diskFormatNode } from './argv.js';
import type { NodeOf } from './snapshot.js';

const DOM = ErrorDomain.QEMU;

/** The checkpoint flags of libvirt's qemu driver that tsvirt implements (not REDEFINE_VALIDATE). */
export const QEMU_CHECKPOINT_FLAGS = {
  create: Create.REDEFINE | Create.QUIESCE,
  getXMLDesc: XMLFlags.SECURE | XMLFlags.NO_DOMAIN | XMLFlags.SIZE,
  delete: Delete.CHILDREN | Delete.METADATA_ONLY | Delete.CHILDREN_ONLY,
};

/** One bitmap of a checkpoint on a disk: the block node that holds it and its name. */
export interface BitmapTarget {
  disk: string;
  node: string;
  bitmap: string;
}

/**
 * The bitmaps of a checkpoint's disks, on the nodes of the domain's disks with that target
 * (`nodeOf`: a running guest's, looked up by the disk's alias; see snapshot.ts).
 */
export function bitmapTargets(def: DomainDef, disks: readonly CheckpointDiskDef[], nodeOf: NodeOf = (_d, index) => diskFormatNode(index)): BitmapTarget[] {
  const out: BitmapTarget[] = [];
  for (const d of disks) {
    if (d.checkpoint !== 'bitmap' || d.bitmap === undefined) continue;
    const index = def.devices.disks.findIndex((disk) => disk.targetDev === d.name);
    const disk = def.devices.disks[index];
    if (disk === undefined) continue;
    out.push({ disk: d.name, node: nodeOf(disk, index), bitmap: d.bitmap });
  }
  return out;
}

/**
 * Refuses what libvirt's qemu driver refuses: a new checkpoint of an inactive domain, QUIESCE
 * without a guest agent (tsvirt's guests have none), a bitmap on a disk that is not qcow2.
 */
export function checkQemuCheckpoint(def: DomainDef, cp: CheckpointDef, opts: { active: boolean; redefine: boolean; flags: number }): void {
  if (opts.redefine) return;
  if (!opts.active) {
    throw VirError.report(DOM, ErrorNumber.OPERATION_UNSUPPORTED, 'cannot create checkpoint for inactive domain');
  }
  if ((opts.flags & Create.QUIESCE) !== 0) {
    throw VirError.report(DOM, ErrorNumber.ARGUMENT_UNSUPPORTED, 'QEMU guest agent is not configured');
  }
  for (const d of cp.disks) {
    if (d.checkpoint !== 'bitmap') continue;
    const disk = def.devices.disks.find((x) => x.targetDev === d.name);
    const format = disk?.driverType ?? 'raw';
    if (format !== 'qcow2') throw configUnsupported(DOM, `checkpoint for disk ${d.name} unsupported for storage type ${format}`);
  }
}

/** libvirt's refusal of a delete that must touch bitmaps while the domain is shut off. */
export function checkQemuCheckpointDelete(opts: { active: boolean }): void {
  if (!opts.active) {
    throw VirError.report(DOM, ErrorNumber.OPERATION_UNSUPPORTED, 'cannot delete checkpoint for inactive domain');
  }
}

/** A bitmap as query-named-block-nodes reports it. */
export interface NodeBitmap {
  name: string;
  /** Dirty bytes. */
  count: number;
}

/** query-named-block-nodes (flat): the bitmaps of each node, by node name. */
export function bitmapsByNode(reply: unknown): Map<string, NodeBitmap[]> {
  const out = new Map<string, NodeBitmap[]>();
  if (!Array.isArray(reply)) return out;
  for (const node of reply as unknown[]) {
    if (typeof node !== 'object' || node === null) continue;
    const n = node as { 'node-name'?: unknown; 'dirty-bitmaps'?: unknown };
    if (typeof n['node-name'] !== 'string') continue;
    const bitmaps: NodeBitmap[] = [];
    if (Array.isArray(n['dirty-bitmaps'])) {
      for (const b of n['dirty-bitmaps'] as unknown[]) {
        const bm = b as { name?: unknown; count?: unknown };
        if (typeof bm.name === 'string') bitmaps.push({ name: bm.name, count: typeof bm.count === 'number' ? bm.count : 0 });
      }
    }
    out.set(n['node-name'], bitmaps);
  }
  return out;
}

/** The QMP transaction actions that add the bitmaps. */
export function addActions(targets: readonly BitmapTarget[]): Record<string, unknown>[] {
  return targets.map((t) => ({ type: 'block-dirty-bitmap-add', data: { node: t.node, name: t.bitmap, persistent: true } }));
}

/** The QMP transaction actions that remove those of the bitmaps the nodes hold. */
export function removeActions(targets: readonly BitmapTarget[], present: Map<string, NodeBitmap[]>): Record<string, unknown>[] {
  const seen = new Set<string>();
  const out: Record<string, unknown>[] = [];
  for (const t of targets) {
    const key = `${t.node}\0${t.bitmap}`;
    if (seen.has(key) || !(present.get(t.node) ?? []).some((b) => b.name === t.bitmap)) continue;
    seen.add(key);
    out.push({ type: 'block-dirty-bitmap-remove', data: { node: t.node, name: t.bitmap } });
  }
  return out;
}
