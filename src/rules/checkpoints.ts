/**
 * The checkpoint tree and libvirt's rules over it: list filters, what delete removes and
 * reparents, which checkpoint becomes current, what a REDEFINE may name as parent. A checkpoint
 * tree has the shape of a snapshot tree (libvirt keeps both as "domain moments"), so the snapshot
 * tree of ./snapshots.ts answers, with the checkpoint flags translated. Pure.
 */
import {
  DomainCheckpointDeleteFlags as D,
  DomainCheckpointListFlags as CL,
  DomainSnapshotDeleteFlags as SD,
  DomainSnapshotListFlags as SL,
  ErrorDomain,
  ErrorNumber,
} from '../core/enums.generated.js';
import { VirError } from '../core/errors.js';
import { SnapshotTree, type SnapshotDeletePlan } from './snapshots.js';

/** What the tree needs of a checkpoint. */
export interface CheckpointNode {
  name: string;
  parent: string | null;
  seq: number;
}

/** Every list flag a driver with checkpoint metadata supports (as libvirt's test and qemu drivers). */
export const CHECKPOINT_LIST_SUPPORTED = CL.ROOTS | CL.TOPOLOGICAL | CL.LEAVES | CL.NO_LEAVES;
/** Every children-list flag (DESCENDANTS shares ROOTS's bit). */
export const CHECKPOINT_CHILDREN_SUPPORTED = CL.DESCENDANTS | CL.TOPOLOGICAL | CL.LEAVES | CL.NO_LEAVES;

function snapshotListFlags(flags: number): number {
  let out = 0;
  if ((flags & CL.ROOTS) !== 0) out |= SL.ROOTS;
  if ((flags & CL.TOPOLOGICAL) !== 0) out |= SL.TOPOLOGICAL;
  if ((flags & CL.LEAVES) !== 0) out |= SL.LEAVES;
  if ((flags & CL.NO_LEAVES) !== 0) out |= SL.NO_LEAVES;
  return out;
}

/** No checkpoint of that name: libvirt's VIR_ERR_NO_DOMAIN_CHECKPOINT. */
export function noCheckpoint(errorDomain: ErrorDomain, name: string): VirError {
  return VirError.report(errorDomain, ErrorNumber.NO_DOMAIN_CHECKPOINT, `no domain checkpoint with matching name '${name}'`);
}

/** A domain's checkpoint tree, indexed for the questions libvirt's API asks. */
export class CheckpointTree {
  private readonly tree: SnapshotTree;

  constructor(
    nodes: Iterable<CheckpointNode>,
    private readonly errorDomain: ErrorDomain,
  ) {
    this.tree = new SnapshotTree([...nodes].map((n) => ({ ...n, state: '', external: false })));
  }

  get size(): number {
    return this.tree.size;
  }

  /** The checkpoint, or libvirt's "no domain checkpoint with matching name" error. */
  require(name: string): CheckpointNode {
    const node = this.tree.get(name);
    if (node === undefined) throw noCheckpoint(this.errorDomain, name);
    return node;
  }

  /** listAllCheckpoints: the checkpoints passing libvirt's filters (creation order unless TOPOLOGICAL). */
  list(flags: number): string[] {
    return this.tree.list(snapshotListFlags(flags)).map((n) => n.name);
  }

  /** listAllChildren: direct children, or all descendants with DESCENDANTS. */
  listChildren(name: string, flags: number): string[] {
    this.require(name);
    let f = snapshotListFlags(flags & ~CL.DESCENDANTS);
    if ((flags & CL.DESCENDANTS) !== 0) f |= SL.DESCENDANTS;
    return this.tree.listChildren(name, f).map((n) => n.name);
  }

  /** Number of direct children and of all descendants (virsh checkpoint-info). */
  counts(name: string): { children: number; descendants: number } {
    return { children: this.tree.childrenOf(name).length, descendants: this.tree.descendants(name).length };
  }

  /**
   * What `delete` removes, which children move to the deleted one's parent, and the current
   * checkpoint after. As for snapshots, except one case: when CHILDREN removes the current
   * checkpoint from among the descendants, libvirt makes the deleted one's parent current
   * (a snapshot tree is left without a current snapshot).
   */
  planDelete(name: string, current: string | null, flags: number): SnapshotDeletePlan {
    const node = this.require(name);
    let f = 0;
    if ((flags & D.CHILDREN) !== 0) f |= SD.CHILDREN;
    if ((flags & D.CHILDREN_ONLY) !== 0) f |= SD.CHILDREN_ONLY;
    const plan = this.tree.planDelete(name, current, f);
    if ((flags & D.CHILDREN) !== 0 && current !== null && plan.remove.includes(current)) plan.current = node.parent;
    return plan;
  }
}

/**
 * REDEFINE: the named parent must exist and must not make a cycle. libvirt reports these from
 * its domain-moment code (VIR_FROM_DOMAIN), in its words for "moments".
 */
export function checkCheckpointRedefineParent(
  name: string,
  parent: string | null,
  lookup: (name: string) => { parent: string | null } | undefined,
): void {
  if (parent === null) return;
  const report = (msg: string) => VirError.report(ErrorDomain.DOMAIN, ErrorNumber.INVALID_ARG, msg);
  if (parent === name) throw report(`cannot set moment ${name} as its own parent`);
  let node = lookup(parent);
  if (node === undefined) throw report(`parent ${parent} for moment ${name} not found`);
  const seen = new Set<string>();
  while (node !== undefined && node.parent !== null && !seen.has(node.parent)) {
    if (node.parent === name) throw report(`parent ${parent} would create cycle to ${name}`);
    seen.add(node.parent);
    node = lookup(node.parent);
  }
}
