/**
 * The snapshot tree and libvirt's rules over it: list filters, what delete removes and reparents,
 * which snapshot becomes current, and what a REDEFINE may name as parent. Pure; the store holds
 * the records and applies the plans in one transaction.
 */
import { DomainSnapshotDeleteFlags, DomainSnapshotListFlags as L, ErrorDomain } from '../core/enums.generated.js';
import { VirError, noDomainSnapshot } from '../core/errors.js';
import { ErrorNumber } from '../core/enums.generated.js';
import { matchPair } from './listing.js';

/** What the tree needs of a snapshot. */
export interface SnapshotNode {
  name: string;
  parent: string | null;
  seq: number;
  /** The domain state it captured: 'running', 'paused', 'shutoff', 'disk-snapshot', … */
  state: string;
  external: boolean;
}

/** Every list flag a driver with snapshot metadata supports. */
export const SNAPSHOT_LIST_SUPPORTED =
  L.ROOTS | L.DESCENDANTS | L.LEAVES | L.NO_LEAVES | L.METADATA | L.NO_METADATA | L.INACTIVE | L.ACTIVE |
  L.DISK_ONLY | L.INTERNAL | L.EXTERNAL | L.TOPOLOGICAL;

/** A domain's snapshot tree, indexed for the questions libvirt's API asks. */
export class SnapshotTree {
  private readonly nodes = new Map<string, SnapshotNode>();
  private readonly children = new Map<string | null, SnapshotNode[]>();

  constructor(nodes: Iterable<SnapshotNode>) {
    for (const node of nodes) this.nodes.set(node.name, node);
    // Newest sibling first, as libvirt links children (so its topological order is ours).
    for (const node of [...this.nodes.values()].sort((a, b) => b.seq - a.seq)) {
      // A parent that is not in the tree (it should not happen) makes the node a root.
      const parent = node.parent !== null && this.nodes.has(node.parent) ? node.parent : null;
      let list = this.children.get(parent);
      if (list === undefined) this.children.set(parent, (list = []));
      list.push(node);
    }
  }

  get size(): number {
    return this.nodes.size;
  }

  has(name: string): boolean {
    return this.nodes.has(name);
  }

  get(name: string): SnapshotNode | undefined {
    return this.nodes.get(name);
  }

  childrenOf(name: string | null): SnapshotNode[] {
    return this.children.get(name) ?? [];
  }

  /** Every descendant of `name`, parents before children. */
  descendants(name: string): SnapshotNode[] {
    const out: SnapshotNode[] = [];
    const stack = [...this.childrenOf(name)].reverse();
    while (stack.length > 0) {
      const node = stack.pop() as SnapshotNode;
      out.push(node);
      const kids = this.childrenOf(node.name);
      for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i] as SnapshotNode);
    }
    return out;
  }

  /** All snapshots, parents before children, newest first among siblings. */
  topological(): SnapshotNode[] {
    const out: SnapshotNode[] = [];
    for (const root of this.childrenOf(null)) out.push(root, ...this.descendants(root.name));
    return out;
  }

  /** listAllSnapshots / snapshotListNames / snapshotNum: the snapshots passing libvirt's filters. */
  list(flags: number): SnapshotNode[] {
    const candidates =
      (flags & L.ROOTS) !== 0
        ? this.childrenOf(null)
        : (flags & L.TOPOLOGICAL) !== 0
          ? this.topological()
          : [...this.nodes.values()].sort((a, b) => a.seq - b.seq);
    return candidates.filter((n) => this.passes(n, flags));
  }

  /** listAllChildren / numChildren: direct children, or all descendants with DESCENDANTS. */
  listChildren(name: string, flags: number): SnapshotNode[] {
    const candidates = (flags & L.DESCENDANTS) !== 0 ? this.descendants(name) : this.childrenOf(name);
    return candidates.filter((n) => this.passes(n, flags));
  }

  private passes(node: SnapshotNode, flags: number): boolean {
    const leaf = this.childrenOf(node.name).length === 0;
    if (!matchPair(flags, L.LEAVES, L.NO_LEAVES, leaf)) return false;
    // Every snapshot this tree holds has metadata.
    if (!matchPair(flags, L.METADATA, L.NO_METADATA, true)) return false;
    const stateBits = L.INACTIVE | L.ACTIVE | L.DISK_ONLY;
    if ((flags & stateBits) !== 0) {
      const diskOnly = node.state === 'disk-snapshot';
      const inactive = node.state === 'shutoff';
      const ok =
        ((flags & L.INACTIVE) !== 0 && inactive) ||
        ((flags & L.DISK_ONLY) !== 0 && diskOnly) ||
        ((flags & L.ACTIVE) !== 0 && !inactive && !diskOnly);
      if (!ok) return false;
    }
    if (!matchPair(flags, L.INTERNAL, L.EXTERNAL, !node.external)) return false;
    return true;
  }

  /**
   * What `delete` removes, which children move to a new parent, and the current snapshot after,
   * as libvirt decides it (qemuSnapshotDelete).
   */
  planDelete(name: string, current: string | null, flags: number): SnapshotDeletePlan {
    const node = this.require(name);
    if ((flags & (DomainSnapshotDeleteFlags.CHILDREN | DomainSnapshotDeleteFlags.CHILDREN_ONLY)) !== 0) {
      const descendants = this.descendants(name).map((n) => n.name);
      const currentAmongDescendants = current !== null && descendants.includes(current);
      if ((flags & DomainSnapshotDeleteFlags.CHILDREN_ONLY) !== 0) {
        return { remove: descendants, reparent: [], current: currentAmongDescendants ? name : current };
      }
      let next = current;
      if (currentAmongDescendants) next = null;
      if (current === name) next = node.parent;
      return { remove: [name, ...descendants], reparent: [], current: next };
    }
    return {
      remove: [name],
      reparent: this.childrenOf(name).map((c) => ({ name: c.name, parent: node.parent })),
      current: current === name ? node.parent : current,
    };
  }

  /** The snapshot, or libvirt's "no domain snapshot with matching name" error. */
  require(name: string): SnapshotNode {
    const node = this.nodes.get(name);
    if (node === undefined) {
      throw noDomainSnapshot(ErrorDomain.DOMAIN_SNAPSHOT, `no domain snapshot with matching name '${name}'`);
    }
    return node;
  }
}

/** The effect of a snapshot delete. */
export interface SnapshotDeletePlan {
  remove: string[];
  reparent: { name: string; parent: string | null }[];
  current: string | null;
}

/**
 * REDEFINE: the named parent must exist and must not make a cycle (libvirt's
 * virDomainSnapshotCheckCycles). Walks up from the parent with point lookups, so redefining one
 * snapshot never loads the whole tree.
 */
export function checkRedefineParent(
  name: string,
  parent: string | null,
  lookup: (name: string) => { parent: string | null } | undefined,
  errorDomain: ErrorDomain,
): void {
  if (parent === null) return;
  if (parent === name) {
    throw VirError.report(errorDomain, ErrorNumber.INVALID_ARG, `cannot set snapshot ${name} as its own parent`);
  }
  let node = lookup(parent);
  if (node === undefined) {
    throw VirError.report(errorDomain, ErrorNumber.INVALID_ARG, `parent ${parent} for snapshot ${name} not found`);
  }
  while (node !== undefined && node.parent !== null) {
    if (node.parent === name) {
      throw VirError.report(errorDomain, ErrorNumber.INVALID_ARG, `parent ${parent} would create cycle to ${name}`);
    }
    node = lookup(node.parent);
  }
}
