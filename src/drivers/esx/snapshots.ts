/**
 * A VM's snapshot tree as vSphere keeps it (`snapshot`: VirtualMachineSnapshotInfo), flattened
 * for libvirt's questions. The tree is the hypervisor's: tsvirt keeps no metadata of its own, so
 * every snapshot reports "no metadata" (as libvirt's esx driver does).
 */
import { DomainSnapshotListFlags as L, ErrorDomain } from '../../core/enums.generated.js';
import { noDomainSnapshot } from '../../core/errors.js';
import { SnapshotTree, type SnapshotNode } from '../../rules/snapshots.js';
import { moRef, type MoRef } from './soap.js';
import { child, childInt, childText, children, type VimNode } from './xml.js';

/** One snapshot of the tree. */
export interface EsxSnapshot {
  name: string;
  ref: MoRef;
  parent: string | null;
  /** vSphere's per-VM snapshot id: creation order. */
  id: number;
  description: string;
  /** Seconds since the epoch. */
  createTime: number;
  /** The VM's power state when taken, in libvirt's snapshot state words. */
  state: 'running' | 'shutoff' | 'paused';
}

/** The whole tree of a VM. */
export interface EsxSnapshotTree {
  /** Depth first, parents before children, as vSphere lists them. */
  list: EsxSnapshot[];
  current: EsxSnapshot | undefined;
}

function snapshotState(power: string | undefined): EsxSnapshot['state'] {
  if (power === 'poweredOn') return 'running';
  if (power === 'suspended') return 'paused';
  return 'shutoff';
}

/**
 * Reads the `snapshot` property (absent when the VM has none). Items of rootSnapshotList and
 * childSnapshotList are found by name, with or without `xsi:type`.
 */
export function parseSnapshotInfo(info: VimNode | undefined): EsxSnapshotTree {
  const list: EsxSnapshot[] = [];
  const walk = (nodes: VimNode[], parent: string | null) => {
    for (const n of nodes) {
      const ref = moRef(child(n, 'snapshot'));
      const name = childText(n, 'name');
      if (ref === undefined || name === undefined) continue;
      const created = Date.parse(childText(n, 'createTime') ?? '');
      list.push({
        name,
        ref,
        parent,
        id: childInt(n, 'id') ?? list.length + 1,
        description: childText(n, 'description') ?? '',
        createTime: Number.isFinite(created) ? Math.floor(created / 1000) : 0,
        state: snapshotState(childText(n, 'state')),
      });
      walk(children(n, 'childSnapshotList'), name);
    }
  };
  walk(children(info, 'rootSnapshotList'), null);
  const currentRef = moRef(child(info, 'currentSnapshot'));
  const current = currentRef === undefined ? undefined : list.find((s) => s.ref.value === currentRef.value);
  return { list, current };
}

/** The snapshot with this name (the first, as libvirt's esxVI_GetSnapshotTreeByName), or libvirt's error. */
export function requireSnapshot(tree: EsxSnapshotTree, name: string): EsxSnapshot {
  const snap = tree.list.find((s) => s.name === name);
  if (snap === undefined) throw noDomainSnapshot(ErrorDomain.ESX, `Could not find snapshot with name '${name}'`);
  return snap;
}

function ruleTree(tree: EsxSnapshotTree): SnapshotTree {
  const seen = new Set<string>();
  const nodes: SnapshotNode[] = [];
  for (const s of tree.list) {
    // vSphere allows two snapshots with one name; libvirt addresses the first only.
    if (seen.has(s.name)) continue;
    seen.add(s.name);
    nodes.push({ name: s.name, parent: s.parent, seq: s.id, state: s.state, external: false });
  }
  return new SnapshotTree(nodes);
}

/**
 * libvirt's list filters over the hypervisor's tree. METADATA selects nothing and NO_METADATA
 * everything: tsvirt holds no metadata for these snapshots.
 */
function metadataFilter(flags: number): { none: boolean; flags: number } {
  const md = (flags & L.METADATA) !== 0;
  const noMd = (flags & L.NO_METADATA) !== 0;
  return { none: md && !noMd, flags: flags & ~(L.METADATA | L.NO_METADATA) };
}

/** listAllSnapshots / snapshotNum with libvirt's filters. */
export function filterSnapshots(tree: EsxSnapshotTree, flags: number): string[] {
  const f = metadataFilter(flags);
  if (f.none) return [];
  return ruleTree(tree)
    .list(f.flags)
    .map((n) => n.name);
}

/** listAllChildren / numChildren with libvirt's filters. */
export function filterChildren(tree: EsxSnapshotTree, name: string, flags: number): string[] {
  const t = ruleTree(tree);
  requireSnapshot(tree, name);
  const f = metadataFilter(flags);
  if (f.none) return [];
  return t.listChildren(name, f.flags).map((n) => n.name);
}
